"""A declared family: the log-density, its variables, support, coordinates and domains.

A family is a log-density ell(x | xi) with respect to Lebesgue measure
(continuous supports) or counting measure (discrete supports), the random
variable(s) x with their support, the coordinates xi (in a fixed order, each
with a domain) and fixed hyper-parameters.

Symbols are rebuilt with assumptions from their domains (a coordinate on
(0, oo) is ``positive``, a count is a non-negative ``integer``), so always
substitute using ``family.coordinates`` / ``family.symbol(name)``, not
fresh ``Symbol("mu")`` objects.  Checks that need no integral run here; the
normalisation check (a quadrature) is the engine's
(:func:`symgeo.engine.numeric.check_normalised`).
"""

from __future__ import annotations

import keyword
import random

import sympy as sp

from ..errors import DeclarationError
from .parse import normal_name
from .support import (
    Box,
    FiniteValues,
    IntegerBox,
    IntegerRange,
    Simplex,
    Support,
    as_domain,
    domain_from_assumptions,
)


MAX_FIXED_INTEGER = 100_000
"""Largest concrete value of an integer hyper-parameter (a count or a size)."""


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


class Declaration:
    """A declared parametric family: symbols with assumptions, support, domains, checks.

    The :class:`symgeo.family.Family` facade adds the derived quantities and their cache;
    the engine and the quantities read a declaration's attributes (``log_density``,
    ``variables``, ``support``, ``coordinates``, ``domains``, ``fixed``).

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
                 fixed_domains=None, fixed_defaults=None, meanings=None):
        self.name = str(name)
        self.title = title
        self.description = description
        self.references = tuple(references)
        self.meanings = dict(meanings or {})  # coordinate name -> words, for documents
        self.source = source
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
            nm = self._name(sym, "coordinate")
            new = sp.Symbol(nm, real=True, positive=True) if dom.positive else \
                sp.Symbol(nm, real=True)
            rename[sym] = new
            coords.append(new)
            self.domains[new] = dom
        self.coordinates = tuple(coords)
        lower = getattr(support, "lower", None)
        variables_ = []
        for v in user_vars:
            vname = self._name(v, "variable")
            if support.discrete:
                nonneg = True
                if isinstance(support, IntegerRange):
                    nonneg = sp.sympify(support.lower, strict=True).is_nonnegative
                elif isinstance(support, IntegerBox):
                    nonneg = all(sp.sympify(b, strict=True).is_nonnegative for b in support.lower)
                elif isinstance(support, FiniteValues):
                    nonneg = all(sp.sympify(a, strict=True).is_nonnegative for a in support.values)
                new = sp.Symbol(vname, integer=True, nonnegative=True) if nonneg else \
                    sp.Symbol(vname, integer=True)
            elif isinstance(support, Simplex):
                new = sp.Symbol(vname, positive=True)
            elif isinstance(support, Box) and all(sp.sympify(b, strict=True).is_nonnegative for b in lower):
                new = sp.Symbol(vname, positive=True)
            else:
                new = sp.Symbol(vname, real=True)
            rename[v] = new
            variables_.append(new)
        self.variables = tuple(variables_)
        self.fixed_symbols = {}
        self.fixed = {}
        self.fixed_domains = dict(fixed_domains or {})
        self.fixed_defaults = dict(fixed_defaults or {})
        taken = {s.name for s in self.coordinates + self.variables} | \
            {self._name(k, "fixed parameter") for k in fixed}
        for key, value in fixed.items():
            kname = self._name(key, "fixed parameter")
            dom = self.fixed_domains.get(kname, self.fixed_domains.get(str(key), "positive"))
            sym = sp.Symbol(kname, integer=True, positive=True) if dom == "positive_integer" \
                else sp.Symbol(kname, positive=True)
            self.fixed_symbols[kname] = sym
            if isinstance(key, sp.Symbol):
                rename[key] = sym
            val = value
            if isinstance(val, (str, sp.Symbol)):
                # a symbolic hyper-parameter: its own name or a fresh one, never another's
                vname = self._name(val, f"value of fixed parameter {kname}")
                if vname != kname and vname in taken:
                    self._fail(f"fixed parameter {kname} cannot take the value {vname}: that is "
                               "the name of another symbol of the family (two different symbols "
                               "would print alike); choose another name")
                val = sp.Symbol(vname, integer=True, positive=True) \
                    if dom == "positive_integer" else sp.Symbol(vname, positive=True)
            else:
                val = sp.nsimplify(val)
                self._check_fixed_value(kname, val, dom)
            self.fixed[sym] = val
        # also rename fixed symbols that appear by name in the expression
        sym_by_name = {normal_name(s.name): s for s in sp.sympify(log_density, strict=True).free_symbols}
        for kname, sym in self.fixed_symbols.items():
            if kname in sym_by_name:
                rename.setdefault(sym_by_name[kname], sym)
        self.declared_log_density = sp.sympify(log_density, strict=True).xreplace(rename)
        # a constraint the domains imply (s11 > 0 for a positive s11) is dropped
        self.constraints = tuple(c for c in (sp.sympify(c, strict=True).xreplace(rename) for c in constraints)
                                 if c != sp.true)
        fixed_sub = self.fixed
        self.support = support.subs(rename).subs(fixed_sub)
        self._declared_support = support.subs(rename)
        self.log_density = self.declared_log_density.xreplace(fixed_sub)
        self._check_declaration()

    # ------------------------------------------------------------------
    # validation
    def _fail(self, msg):
        raise DeclarationError(f"family {self.name!r}: {msg}")

    def _name(self, sym, what):
        """The NFKC-normalised name of a declared symbol (as Python reads identifiers).

        Two spellings that normalise alike ("ｏｕｔ" and "out") are one name, so
        generated code can never confuse them; a name that is not an identifier
        is refused here.
        """
        raw = sym.name if isinstance(sym, sp.Symbol) else sym
        if not isinstance(raw, str):
            self._fail(f"{what} name must be a string, got {type(raw).__name__} {raw!r}")
        nm = normal_name(raw)
        if not nm.isidentifier() or nm.startswith("_") or keyword.iskeyword(nm):
            self._fail(f"{what} name {raw!r} is not a valid name (letters, digits and "
                       "underscores, not starting with a digit or '_', not a Python keyword)")
        return nm

    def _check_fixed_value(self, kname, val, dom):
        if dom == "positive_integer" and not (val.is_Integer and val > 0):
            self._fail(f"fixed parameter {kname} must be a positive integer, got {val}")
        if dom == "positive_integer" and val > MAX_FIXED_INTEGER:
            # sympy evaluates n! exactly for a concrete n, and supports are enumerated
            self._fail(f"fixed parameter {kname} = {val} is larger than {MAX_FIXED_INTEGER}: "
                       f"keep it symbolic (fixed {kname}={kname}) and substitute the number "
                       "into the results")
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

    def _numeric_copy(self, values):
        clone = object.__new__(type(self))
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
        for attempt in range(1000):
            # constraints that cut a thin corner (p1 + ... + p9 < 1, a positive definite
            # 4 x 4 covariance) are met by shrinking real coordinates towards 0 and
            # bounded ones towards their lower end, a little more every 50 attempts
            scale = 0.7 ** (attempt // 50)
            pt = {}
            for c in self.coordinates:
                dom = self.domains[c]
                lo, hi = sp.sympify(dom.lower, strict=True), sp.sympify(dom.upper, strict=True)
                if lo == -sp.oo and hi == sp.oo:
                    v = rng.uniform(-2, 2) * scale
                elif hi == sp.oo:
                    v = float(lo) + rng.uniform(0.4, 3.0)
                elif lo == -sp.oo:
                    v = float(hi) - rng.uniform(0.4, 3.0)
                else:
                    v = float(lo) + (float(hi) - float(lo)) * rng.uniform(0.05, 0.95) * scale
                pt[c] = sp.Rational(round(v * 10 ** fraction_digits), 10 ** fraction_digits)
            if self._roughly_in_domain(pt) and self.in_domain(pt):
                return pt
        raise DeclarationError(f"family {self.name!r}: could not find a point satisfying the "
                               "coordinate domains and constraints")

    def _roughly_in_domain(self, point):
        """The constraints in floating point: a quick filter before the exact test."""
        if not self.constraints:
            return True
        if "_float_constraints" not in self.__dict__:
            self._float_constraints = sp.lambdify(self.coordinates, list(self.constraints),
                                                  modules="math")
        try:
            return all(self._float_constraints(*[float(point[c]) for c in self.coordinates]))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return True  # let the exact test decide

    def generic_point(self):
        """A fixed generic point used by declaration checks (deterministic)."""
        if "_generic_point" not in self.__dict__:
            self._generic_point = self.random_point(random.Random(12345))
        return dict(self._generic_point)

    def symbol(self, name):
        """The family's own Symbol called ``name`` (coordinate, variable or fixed)."""
        for s in self.coordinates + self.variables + tuple(self.fixed_symbols.values()):
            if s.name == name:
                return s
        raise KeyError(f"family {self.name!r} has no symbol {name!r}")

    @property
    def dimension(self):
        return len(self.coordinates)

    def __repr__(self):
        coords = ", ".join(c.name for c in self.coordinates)
        fixed = ", ".join(f"{k.name}={v}" for k, v in self.fixed.items())
        return f"Family({self.name!r}, coordinates=({coords}){', fixed: ' + fixed if fixed else ''})"
