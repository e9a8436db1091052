"""The ``Family``: a declared log-density, validated, with a cache of derived results.

A family is a log-density ell(x | xi) with respect to Lebesgue measure
(continuous supports) or counting measure (discrete supports), the random
variable(s) x with their support, the coordinates xi (in a fixed order, each
with a domain) and fixed hyper-parameters.  Everything else is derived
lazily, once, and cached on the object.

Symbols are rebuilt with assumptions from their domains (a coordinate on
(0, oo) is ``positive``, a count is a non-negative ``integer``), so always
substitute using ``family.coordinates`` / ``family.symbol(name)``, not
fresh ``Symbol("mu")`` objects.
"""

from __future__ import annotations

import random
from functools import cached_property

import mpmath as mp
import sympy as sp

from . import fisher as _fisher
from .errors import DeclarationError, DerivationError, SymgeoError
from ._methods_divergence import DivergenceMethods
from ._methods_geometry import GeometryMethods
from .expectation import ExpectationEngine
from .support import (Box, Compositions, Domain, FiniteValues, IntegerRange, Simplex, Support,
                      as_domain, domain_from_assumptions)

NORMALISATION_TOL = 1e-8


def _as_support(spec, nvars):
    if isinstance(spec, Support):
        return spec
    if spec is sp.S.Reals or spec == "real":
        return Box((-sp.oo,) * nvars, (sp.oo,) * nvars)
    if isinstance(spec, sp.Interval):
        return Box((spec.start,), (spec.end,))
    if isinstance(spec, sp.FiniteSet):
        return FiniteValues(tuple(spec.args))
    if spec is sp.S.Naturals0:
        return IntegerRange(0, sp.oo)
    if isinstance(spec, sp.Range):
        return IntegerRange(spec.inf, spec.sup)
    raise DeclarationError(f"cannot read a support from {spec!r}")


class Family(DivergenceMethods, GeometryMethods):
    """A parametric family of distributions.

    Parameters
    ----------
    name : str
    log_density : sympy expression in ``variables``, ``coordinates`` and ``fixed``
    variables : Symbol or sequence of Symbols (the random variable x)
    support : Support, sympy set (Reals, Interval, Range, FiniteSet, Naturals0) or "real"
    coordinates : sequence of Symbols or (Symbol, domain) pairs, or a dict Symbol -> domain;
        a domain is "real", "positive", "unit", "circle", a pair (lower, upper) or an Interval
    fixed : dict Symbol/name -> value (a number, or a Symbol for a symbolic hyper-parameter)
    constraints : extra inequalities on the coordinates (e.g. p1 + p2 < 1)
    """

    def __init__(self, name, log_density, variables, support, coordinates, fixed=None, *,
                 constraints=(), title="", description="", references=(), source=None,
                 fixed_domains=None, fixed_defaults=None, meanings=None, validate=True,
                 _parent=None):
        self.name = str(name)
        self.title = title
        self.description = description
        self.references = tuple(references)
        self.meanings = dict(meanings or {})  # coordinate name -> words, for documents
        self.source = source
        self._cache = {}
        self._parent = _parent
        user_vars = (variables,) if isinstance(variables, sp.Symbol) else tuple(variables)
        support = _as_support(support, len(user_vars))
        if isinstance(coordinates, dict):
            coordinates = list(coordinates.items())
        coord_specs = []
        for c in coordinates:
            if isinstance(c, sp.Symbol):
                coord_specs.append((c, domain_from_assumptions(c)))
            else:
                sym, dom = c
                coord_specs.append((sym, as_domain(dom)))
        fixed = dict(fixed or {})
        # Rebuild symbols with assumptions from domains, keyed by name.
        rename = {}
        self.domains = {}
        coords = []
        for sym, dom in coord_specs:
            new = sp.Symbol(sym.name, real=True, positive=True) if dom.positive else \
                sp.Symbol(sym.name, real=True)
            rename[sym] = new
            coords.append(new)
            self.domains[new] = dom
        self.coordinates = tuple(coords)
        lower = getattr(support, "lower", None)
        variables_ = []
        for v in user_vars:
            if support.discrete:
                nonneg = True
                if isinstance(support, IntegerRange):
                    nonneg = sp.sympify(support.lower).is_nonnegative
                elif isinstance(support, FiniteValues):
                    nonneg = all(sp.sympify(a).is_nonnegative for a in support.values)
                new = sp.Symbol(v.name, integer=True, nonnegative=True) if nonneg else \
                    sp.Symbol(v.name, integer=True)
            elif isinstance(support, Simplex):
                new = sp.Symbol(v.name, positive=True)
            elif isinstance(support, Box) and len(user_vars) == 1 and \
                    sp.sympify(lower[0]).is_nonnegative:
                new = sp.Symbol(v.name, positive=True)
            else:
                new = sp.Symbol(v.name, real=True)
            rename[v] = new
            variables_.append(new)
        self.variables = tuple(variables_)
        self.fixed_symbols = {}
        self.fixed = {}
        self.fixed_domains = dict(fixed_domains or {})
        self.fixed_defaults = dict(fixed_defaults or {})
        for key, value in fixed.items():
            kname = key.name if isinstance(key, sp.Symbol) else str(key)
            dom = self.fixed_domains.get(kname, "positive")
            sym = sp.Symbol(kname, integer=True, positive=True) if dom == "positive_integer" \
                else sp.Symbol(kname, positive=True)
            self.fixed_symbols[kname] = sym
            if isinstance(key, sp.Symbol):
                rename[key] = sym
            val = value
            if isinstance(val, str):
                val = sp.Symbol(val, integer=True, positive=True) if dom == "positive_integer" \
                    else sp.Symbol(val, positive=True)
            elif isinstance(val, sp.Symbol):
                val = sp.Symbol(val.name, integer=True, positive=True) if dom == "positive_integer" \
                    else sp.Symbol(val.name, positive=True)
            else:
                val = sp.nsimplify(val)
                self._check_fixed_value(kname, val, dom)
            self.fixed[sym] = val
        # also rename fixed symbols that appear by name in the expression
        sym_by_name = {s.name: s for s in sp.sympify(log_density).free_symbols}
        for kname, sym in self.fixed_symbols.items():
            if kname in sym_by_name:
                rename.setdefault(sym_by_name[kname], sym)
        self.declared_log_density = sp.sympify(log_density).xreplace(rename)
        self.constraints = tuple(sp.sympify(c).xreplace(rename) for c in constraints)
        fixed_sub = self.fixed
        self.support = support.subs(rename).subs(fixed_sub)
        self._declared_support = support.subs(rename)
        self.log_density = self.declared_log_density.xreplace(fixed_sub)
        self._check_declaration()
        if validate:
            self._check_normalised()
        self._engine = ExpectationEngine(self)

    # ------------------------------------------------------------------
    # validation
    def _fail(self, msg):
        raise DeclarationError(f"family {self.name!r}: {msg}")

    def _check_fixed_value(self, kname, val, dom):
        if dom == "positive_integer" and not (val.is_Integer and val > 0):
            self._fail(f"fixed parameter {kname} must be a positive integer, got {val}")
        if dom == "positive" and not (val.is_number and val > 0):
            self._fail(f"fixed parameter {kname} must be positive, got {val}")

    def _check_declaration(self):
        names = [s.name for s in self.variables + self.coordinates] + list(self.fixed_symbols)
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            self._fail(f"name(s) {', '.join(sorted(dup))} declared twice")
        declared = set(self.variables) | set(self.coordinates) | set(self.fixed) | \
            {v for v in self.fixed.values() if isinstance(v, sp.Symbol)}
        undeclared = self.declared_log_density.free_symbols - declared - set(self.fixed_symbols.values())
        if undeclared:
            self._fail("undeclared symbol(s) " + ", ".join(sorted(s.name for s in undeclared)) +
                       " in the log-density: declare each as a variable, coordinate or fixed parameter")
        dep = self._declared_support.free_symbols() & set(self.coordinates)
        if dep:
            self._fail("the support depends on the coordinate(s) " +
                       ", ".join(sorted(s.name for s in dep)) +
                       ": the regular Fisher theory does not apply (the log-likelihood is not "
                       "differentiable where the support moves, so neither E[s s^T] nor "
                       "-E[Hessian] is the Fisher information); reparameterise with a fixed support")
        for c in self.coordinates:
            if not self.log_density.has(c):
                self._fail(f"coordinate {c.name} does not enter the density: it is not identifiable "
                           "(remove it or make it a fixed parameter)")
        if self.log_density.has(sp.nan, sp.zoo):
            self._fail("the log-density is undefined (nan/zoo) after substituting fixed parameters")

    def _check_normalised(self):
        point = self.generic_point()
        dps = 15
        try:
            numeric_fixed = {val: self.fixed_defaults.get(kname, 7)
                             for kname, sym in self.fixed_symbols.items()
                             if isinstance(val := self.fixed[sym], sp.Symbol)}
            fam = self if not numeric_fixed else self._numeric_copy(numeric_fixed)
            mass = fam.expectation_numeric(sp.S.One, point, dps=dps)
        except SymgeoError:
            raise
        except Exception as exc:  # mpmath/lambdify failures are a declaration problem
            self._fail(f"could not integrate the density numerically to check normalisation ({exc})")
        if not mp.isfinite(mass) or abs(mass - 1) > NORMALISATION_TOL:
            at = ", ".join(f"{k.name}={v}" for k, v in point.items())
            self._fail(f"the density is not normalised: its total mass at ({at}) is "
                       f"{mp.nstr(mass, 12)} instead of 1 (log-density with respect to "
                       f"{'counting' if self.support.discrete else 'Lebesgue'} measure)")

    def _numeric_copy(self, values):
        clone = object.__new__(Family)
        clone.__dict__.update(self.__dict__)
        subs = {s: sp.nsimplify(v) for s, v in values.items()}
        clone.log_density = self.log_density.xreplace(subs)
        clone.support = self.support.subs(subs)
        return clone

    # ------------------------------------------------------------------
    # points
    def in_domain(self, point):
        for c in self.coordinates:
            if not self.domains[c].contains(point[c]):
                return False
        return all(bool(con.subs(point)) for con in self.constraints)

    def random_point(self, rng=None, *, fraction_digits=3):
        """A random generic point (dict coordinate -> Rational) inside the domain."""
        rng = rng if rng is not None else random.Random(0)
        for _ in range(1000):
            pt = {}
            for c in self.coordinates:
                dom = self.domains[c]
                lo, hi = sp.sympify(dom.lower), sp.sympify(dom.upper)
                if lo == -sp.oo and hi == sp.oo:
                    v = rng.uniform(-2, 2)
                elif hi == sp.oo:
                    v = float(lo) + rng.uniform(0.4, 3.0)
                else:
                    v = float(lo) + (float(hi) - float(lo)) * rng.uniform(0.05, 0.95)
                pt[c] = sp.Rational(round(v * 10 ** fraction_digits), 10 ** fraction_digits)
            if self.in_domain(pt):
                return pt
        raise DeclarationError(f"family {self.name!r}: could not find a point satisfying the "
                               "coordinate domains and constraints")

    def generic_point(self):
        """A fixed generic point used by declaration checks (deterministic)."""
        return self.random_point(random.Random(12345))

    def symbol(self, name):
        """The family's own Symbol called ``name`` (coordinate, variable or fixed)."""
        for s in self.coordinates + self.variables + tuple(self.fixed_symbols.values()):
            if s.name == name:
                return s
        raise KeyError(f"family {self.name!r} has no symbol {name!r}")

    # ------------------------------------------------------------------
    # caching
    def _cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @property
    def dimension(self):
        return len(self.coordinates)

    # ------------------------------------------------------------------
    # expectations
    def expectation(self, f):
        """E_xi[f(x)] as an Expectation (value, route, detail)."""
        return self._engine.expect(sp.sympify(f))

    def expectation_numeric(self, f, point, dps=30):
        """E_xi[f(x)] at a numeric point by mpmath quadrature/summation (the numeric route)."""
        from .numquad import expect_numeric
        pt = {self.symbol(k) if isinstance(k, str) else k: v for k, v in point.items()}
        return expect_numeric(self, f, pt, dps=dps)

    # ------------------------------------------------------------------
    # score and Fisher
    def score(self):
        """Column vector s_i = d log p / d xi_i (d x 1), coordinates in catalog order."""
        return self._cached("score", lambda: _fisher.score_vector(self.log_density, self.coordinates))

    def hessian(self):
        """Pointwise Hessian d_i d_j log p (d x d), null-set point masses dropped."""
        return self._cached("hessian", lambda: _fisher.hessian_matrix(self.log_density,
                                                                      self.coordinates))

    def nonsmooth(self):
        """Sub-expressions where log p is not differentiable in a coordinate."""
        return self._cached("nonsmooth", lambda: _fisher.nonsmooth_points(self.log_density,
                                                                          self.coordinates))

    def _fisher_form(self, form):
        def compute():
            if self._parent is not None:
                return self._pullback_fisher()
            if form == "score":
                M, routes = _fisher.fisher_score_form(self._engine, self.score())
            else:
                M, routes = _fisher.fisher_hessian_form(self._engine, self.hessian())
            return _fisher.FisherResult(M, form, routes)
        return self._cached(("fisher", form), compute)

    def fisher_result(self):
        """The Fisher matrix with its provenance (form used, route per entry, notes)."""
        def compute():
            kinks = self.nonsmooth()
            if not kinks:
                res = self._fisher_form("hessian")
                if self._parent is None:
                    res.notes.append("log p is twice differentiable in the coordinates, so "
                                     "I = -E[Hessian], which equals E[s s^T] and is cheaper")
                return res
            res = self._fisher_form("score")
            note = (f"log p is not differentiable in the coordinates at {', '.join(map(str, kinks))}: "
                    "the Fisher information is E[s s^T]; the classical Hessian form -E[Hessian] "
                    "misses the point mass of the second derivative at the kink")
            try:
                h = self._fisher_form("hessian").matrix
                if not _fisher.entries_agree(h, res.matrix):
                    note += f" (it gives {h.tolist()}, which is wrong)"
            except DerivationError:
                pass
            res.notes.append(note)
            return res
        return self._cached("fisher_result", compute)

    def fisher(self, form=None):
        """Fisher information matrix g_ij = E[d_i ell d_j ell] (d x d, symmetric).

        ``form`` = "score" forces E[s s^T], "hessian" forces -E[grad^2 ell];
        by default the Hessian form is used when ell is smooth in xi, else E[s s^T].
        """
        if form is None:
            return self.fisher_result().matrix
        if form not in ("score", "hessian"):
            raise ValueError("form must be 'score' or 'hessian'")
        return self._fisher_form(form).matrix

    def fisher_forms(self):
        """Both classical forms and whether they agree: dict(score=..., hessian=..., agree=...)."""
        s = self.fisher("score")
        h = self.fisher("hessian")
        return {"score": s, "hessian": h, "agree": _fisher.entries_agree(s, h)}

    def cramer_rao(self):
        """Inverse Fisher matrix I^{-1} (Cramer-Rao lower bound for unbiased estimators)."""
        return self._cached("cramer_rao", lambda: _fisher.cramer_rao_bound(self.fisher()))

    def jeffreys_prior(self):
        """Unnormalised Jeffreys prior sqrt(det I)."""
        return self._cached("jeffreys", lambda: _fisher.jeffreys_density(self.fisher()))

    # ------------------------------------------------------------------
    # reparameterisation
    def reparameterize(self, new_coordinates, mapping, name=None):
        """A new Family in coordinates ``new_coordinates``.

        ``mapping`` gives every old coordinate as an expression in the new ones
        (dict old Symbol or name -> expr).  The new Fisher matrix is the
        pullback J^T I(xi(zeta)) J with J_ij = d xi_i / d zeta_j.
        """
        from .reparam import reparameterize
        return reparameterize(self, new_coordinates, mapping, name)

    def _pullback_fisher(self):
        parent, mapping, J = self._parent
        I = parent.fisher().xreplace(mapping)
        M = J.T * I * J
        from .simplify import tidy_matrix
        return _fisher.FisherResult(tidy_matrix(M, symmetric=True), "pullback", {},
                                    [f"pullback J^T I J of the Fisher matrix of {parent.name!r}"])

    # ------------------------------------------------------------------
    # numeric code
    def numeric(self, quantity):
        """A vectorised numpy function for ``quantity`` (see symgeo.emit.numpy)."""
        from .emit.numpy import compile_quantity
        return self._cached(("numeric", quantity), lambda: compile_quantity(self, quantity))

    # ------------------------------------------------------------------
    def __repr__(self):
        coords = ", ".join(c.name for c in self.coordinates)
        fixed = ", ".join(f"{k.name}={v}" for k, v in self.fixed.items())
        return f"Family({self.name!r}, coordinates=({coords}){', fixed: ' + fixed if fixed else ''})"

    def _repr_latex_(self):
        from .emit.latex import family_latex
        return family_latex(self)
