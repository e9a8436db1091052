"""The expectation engine: E_xi[f(x)] under a declared family.

Strategies are tried in order and the route is recorded on the result:

0. ``Gaussian`` (several variables on R^d): the log-density is quadratic in x,
   so x ~ N(P^-1 b, P^-1) and a polynomial f has its moments by Isserlis'
   theorem (:mod:`symgeo.engine.multivariate`); mvnormal of any d, curved
   Gaussians and Gaussian regression models.
1. ``exponential family``: f is a polynomial in the sufficient statistics;
   moments follow from the log-partition (no integral; see
   :mod:`symgeo.expfamily`).
1b. ``curved exponential family`` (several variables): moments of the ambient
   full family at phi = eta(theta), its normaliser computed block by block
   (:mod:`symgeo.engine.ambient`); Poisson, Bernoulli and other regressions.
2. ``finite sum``: a finite discrete support is summed exactly.
3. ``standardised``: x = a + b phi(w) makes the density of w free of the
   coordinates (location-scale, exponential map); by linearity f becomes a
   sum of terms c_i(xi) m_i(w) whose integrals follow from the rules of
   :mod:`symgeo.rules` (Mellin/Gamma, Beta, Bessel).  A term no rule fits is
   integrated by sympy under the CPU budget.
4. ``summation`` / ``integration``: plain sympy on the whole expectation,
   under the CPU budget.  A result still containing ``Sum`` or ``Integral``
   counts as not found.

When every route fails the error names the numeric route that still works.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import mpmath as mp
import sympy as sp

from ..declare.support import Box, IntegerBox, IntegerRange, finite_points
from ..errors import BudgetExceeded, DerivationError
from ..printing import latex
from . import budget as _budget
from . import rules
from .ambient import AmbientFamily, block_supports_ok
from .expfamily import MomentEngine, canonical_form
from .multivariate import (
    gaussian_expectation,
    gaussian_form,
    independent_blocks,
)
from .numeric import expect_numeric
from .standardize import (
    alternative_standardisations,
    cancel_logs,
    density_factor,
    find_standardisation,
)


@dataclass(frozen=True)
class Expectation:
    """E[f] with its provenance: ``route`` (short name) and ``detail`` (the identity used)."""

    value: sp.Expr
    route: str
    detail: str

    def _repr_latex_(self):
        return f"$\\displaystyle {latex(self.value)}$"


def expand_terms(expr):
    """Expand products and positive integer powers of sums, never denominators."""
    def pos_pow(e):
        return e.is_Pow and e.base.is_Add and e.exp.is_Integer and e.exp > 1
    prev = None
    expr = sp.sympify(expr, strict=True)
    while prev != expr:
        prev = expr
        expr = expr.replace(pos_pow, lambda e: sp.expand_multinomial(e))
        expr = sp.expand_mul(expr)
    return expr


def rational_terms(expr, var):
    """Additive terms of ``expr`` over a factored common denominator in ``var``.

    The numerator is expanded, the denominator factored once, so each term is
    c(xi) * m(var) with powers of the same irreducible factor merged
    (z^4 + 2 z^2 + 1 becomes (z^2 + 1)^2) and constants pulled out of them.
    """
    num, den = sp.fraction(sp.together(expr))
    den = sp.factor(den)
    if den.has(var):
        dc, dv = den.as_independent(var, as_Add=False)
        den = dc * sp.Mul(*[sp.factor_terms(f) for f in sp.Mul.make_args(dv)])
    return [t / den for t in sp.Add.make_args(expand_terms(num))]


def separate_powers(expr, w):
    """Rewrite ``expr`` so that every factor involving ``w`` (a positive symbol) stands alone.

    Products under a power or a log are split using the sign assumptions of
    the symbols ((lam w / lam_q)^k_q = lam^k_q w^k_q lam_q^-k_q, all positive)
    and exp(c log w + b) becomes w^c exp(b), so that the standard-integral
    rules see monomials w^a log^k w times a single kernel.
    """
    expr = sp.expand_log(sp.expand_power_base(sp.sympify(expr, strict=True), deep=True), deep=True)
    logw = sp.log(w)

    def split_exp(e):
        out = sp.S.One
        for t in sp.Add.make_args(sp.expand(e.args[0])):
            c, r = t.as_independent(w, as_Add=False)
            out *= w ** c if r == logw else sp.exp(t)
        return out
    return expr.replace(lambda e: isinstance(e, sp.exp) and e.args[0].has(logw), split_exp)


def _closed(value):
    return value is not None and not value.has(sp.Integral, sp.Sum, sp.nan, sp.zoo)


def _generic_values(expr, exclude=()):
    vals = {}
    for i, s in enumerate(sorted(expr.free_symbols - set(exclude), key=lambda s: s.name)):
        base = sp.Rational(13, 10) + sp.Rational(i, 7)
        vals[s] = base if (s.is_positive or s.is_integer) else base - sp.Rational(17, 10)
        if s.is_integer:
            vals[s] = sp.Integer(3 + i)
    return vals


PLAIN_INTEGRATION = True
"""Try sympy's integrate/summation when no rule applies.  ``symgeo build`` and
``symgeo verify`` turn it off (:func:`rules_only`): whether sympy finishes within a
budget is timing, and a build must not depend on timing (its plan does that once, see
symgeo.build); verify checks what the rules derive, which is what a build emits."""


@contextmanager
def rules_only():
    """Within: no plain sympy integration or summation (see :data:`PLAIN_INTEGRATION`)."""
    global PLAIN_INTEGRATION
    saved, PLAIN_INTEGRATION = PLAIN_INTEGRATION, False
    try:
        yield
    finally:
        PLAIN_INTEGRATION = saved


def _agrees_numerically(integrand, var, lo, hi, value, dps=20):
    vals = _generic_values(integrand + value, exclude=(var,))
    try:
        with mp.workdps(dps + 5):
            g = sp.lambdify(var, integrand.xreplace(vals), "mpmath")
            bounds = [mp.mpf(sp.N(b, dps)) if b.is_finite else (mp.inf if b > 0 else -mp.inf)
                      for b in (sp.sympify(lo, strict=True), sp.sympify(hi, strict=True))]
            num = mp.quad(g, [bounds[0], 0, bounds[1]] if bounds[0] < 0 < bounds[1] else bounds)
            sym = mp.mpf(sp.N(value.xreplace(vals), dps + 5))
            return abs(num - sym) <= mp.mpf(10) ** (-dps // 2) * max(1, abs(sym))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return False


class ExpectationEngine:
    """Expectations under one family; caches the preparation of every route."""

    def __init__(self, family, budget=None):
        self.family = family
        self.budget = budget
        self._prepared = {}
        self._term_cache = {}

    # -- preparation (each computed once) ---------------------------------
    def _once(self, key, fn):
        if key not in self._prepared:
            self._prepared[key] = fn()
        return self._prepared[key]

    @property
    def reduced_log_density(self):
        fam = self.family
        return self._once("reduced", lambda: fam.support.reduce(fam.log_density, fam.variables))

    @property
    def free_variables(self):
        fam = self.family
        return fam.support.free_variables(fam.variables)

    def canonical(self):
        fam = self.family
        return self._once("canonical", lambda: canonical_form(
            self.reduced_log_density, self.free_variables, fam.coordinates))

    def moments(self):
        def make():
            form = self.canonical()
            if form.kind != "full":
                return None
            return MomentEngine(form, self.family.coordinates, self.free_variables)
        return self._once("moments", make)

    def standardisation(self):
        def make():
            fam = self.family
            sup = fam.support
            if not (isinstance(sup, Box) and sup.univariate):
                return None
            return find_standardisation(fam.log_density, fam.variables[0], sup.lower[0],
                                        sup.upper[0], sup.periodic, fam.coordinates)
        return self._once("standard", make)

    def standardisations(self):
        """The location-scale standardisation, then those after a monotone map of x."""
        def make():
            first = self.standardisation()
            if first is None:
                return []
            fam = self.family
            sup = fam.support
            return [first] + alternative_standardisations(
                fam.log_density, fam.variables[0], sup.lower[0], sup.upper[0], sup.periodic,
                fam.coordinates)
        return self._once("standards", make)

    def gaussian(self):
        """(m, C, P) when the family is Gaussian in several real variables, else None:
        x ~ N(m, C) with precision P = C^-1 (all functions of the coordinates)."""
        def make():
            fam = self.family
            sup = fam.support
            xs = self.free_variables
            if len(xs) < 2 or not isinstance(sup, Box) or sup.periodic or \
                    any(b != -sp.oo for b in sup.lower) or any(b != sp.oo for b in sup.upper):
                return None
            gf = gaussian_form(self.reduced_log_density, xs)
            if gf is None:
                return None
            C = gf.covariance()
            return gf.mean(C), C, gf.P
        return self._once("gaussian", make)

    def blocks(self):
        """[(variables, g_B)] of independent observations (log p = c + sum g_B on a
        product support), or None when the density is one block."""
        def make():
            fam = self.family
            if not isinstance(fam.support, (Box, IntegerBox)) or len(fam.variables) < 2:
                return None
            _, blocks = independent_blocks(fam.log_density, fam.variables)
            if len(blocks) < 2 or sum(len(v) for v, _ in blocks) < len(fam.variables):
                return None
            return blocks
        return self._once("blocks", make)

    def ambient(self):
        def make():
            fam = self.family
            form = self.canonical()
            if form.kind != "curved" or len(self.free_variables) < 2 or \
                    not block_supports_ok(fam.support):
                return None
            amb = AmbientFamily(form, self.free_variables, fam.support, fam.coordinates,
                                self._budget(), fam.generic_point())
            return amb if amb.engine is not None else None
        return self._once("ambient", make)

    # -- routes -----------------------------------------------------------
    def _route_gaussian(self, f):
        g = self.gaussian()
        if g is None:
            return None
        m, C, _ = g
        total = gaussian_expectation(sp.sympify(f, strict=True), self.free_variables, m, C)
        if total is None:
            return None
        return Expectation(total, "Gaussian",
                           "the log-density is quadratic in x: x ~ N(P^-1 b, P^-1) with "
                           "P = -Hessian_x log p, b = grad_x log p at x = 0; E[f] = "
                           "sum_k L^k f(m)/k!, L = (1/2) sum C_ij d^2/dx_i dx_j")

    def gaussian_exponential(self, f):
        """E[c e^h] by :meth:`_route_gaussian_exponential` alone (an :class:`Expectation`, or
        None when log p or log p + h is not quadratic in x, or the tilted precision is not
        positive definite by the symbols' assumptions)."""
        return self._route_gaussian_exponential(sp.sympify(f, strict=True))

    def _route_gaussian_exponential(self, f):
        """E[c e^h] with log p and log p + h both quadratic in x on R^d (any d >= 1):
        the ratio of two Gaussian integrals, exp(log Z(log p + h) - log Z(log p)), as
        for the affinity of two members of a Gaussian-kernel family.  Taken only when
        the combined precision is positive definite for every value of the symbols
        (its leading principal minors positive by their assumptions), where the
        integral converges."""
        fam = self.family
        sup, xs = fam.support, self.free_variables
        if not isinstance(sup, Box) or sup.periodic or \
                any(b != -sp.oo for b in sup.lower) or any(b != sp.oo for b in sup.upper):
            return None
        coeff, rest = sp.powsimp(fam.support.reduce(f, fam.variables)).as_independent(
            *xs, as_Add=False)
        if not isinstance(rest, sp.exp):
            return None
        base = gaussian_form(self.reduced_log_density, xs)
        tilted = gaussian_form(self.reduced_log_density + rest.args[0], xs)
        if base is None or tilted is None or not all(
                sp.factor(tilted.P[:k, :k].det()).is_positive
                for k in range(1, len(xs) + 1)):
            return None
        log_ratio = tilted.log_mass() - base.log_mass()
        return Expectation(coeff * sp.exp(log_ratio), "Gaussian",
                           "log p and log p + h are quadratic in x: E[e^h] = Z(log p + h) / "
                           "Z(log p), Z(-x^T P x / 2 + b^T x + c) = e^c (2 pi)^(d/2) "
                           "det(P)^(-1/2) e^(b^T P^-1 b / 2)")

    def _route_curved(self, f):
        amb = self.ambient()
        if amb is None:
            return None
        val = amb.expect(self.family.support.reduce(f, self.family.variables))
        if val is None:
            return None
        return Expectation(val, "curved exponential family",
                           f"f is a polynomial in the {len(amb.phi)} statistics T; moments of "
                           "the ambient full family (normaliser psi(phi) block by block) at "
                           "phi = eta(theta)")

    def _route_expfamily(self, f):
        eng = self.moments()
        if eng is None:
            return None
        f = self.family.support.reduce(f, self.family.variables)
        val = eng.expect(f)
        if val is None:
            return None
        form = self.canonical()
        stats = ", ".join(map(str, form.statistics))
        return Expectation(val, "exponential family",
                           f"f is a polynomial in T = ({stats}); moments from the log-partition: "
                           "J^T eta = grad A, E[T_i g] = d/dtheta_i E[g] + eta_i E[g]")

    def _route_finite(self, f):
        fam = self.family
        pts = finite_points(fam.support, fam.variables)
        if pts is None:
            return None
        total = sp.S.Zero
        for pt in pts:
            sub = dict(zip(fam.variables, pt))
            total += f.subs(sub) * sp.exp(fam.log_density.subs(sub))
        return Expectation(total, "finite sum", f"exact sum over the {len(pts)} points of the support")

    def _route_standardised(self, f):
        first = self.standardisation()
        if first is None:
            return None
        # rules first, on the location-scale form and then after a monotone map of x
        # (logit, log, exp(-x); computed only when needed); sympy's integrate last
        res = self._standardised(f, first, plain=False)
        if res is None:
            for st in self.standardisations()[1:]:
                if (res := self._standardised(f, st, plain=False)) is not None:
                    return res
        if res is None and PLAIN_INTEGRATION:
            res = self._standardised(f, first, plain=True)
        return res

    def _standardised(self, f, st, plain):
        w = st.new
        p0 = density_factor(st.log_p0, w)
        total = sp.S.Zero
        used = set()
        g = cancel_logs(f.subs(st.variable, st.x_of_w))
        if w.is_positive:
            g = separate_powers(g, w)
        if st.domain == "circle":
            g = sp.expand_trig(g)  # cos(a - t) = cos a cos t + sin a sin t
        for term in rational_terms(g, w):
            c, m = term.as_independent(w, as_Add=False)
            val, rule = self._standard_integral(m * p0, w, st.domain, plain)
            if val is None:
                return None
            used.add(rule)
            total += c * val
        rules_used = "; ".join(rules.RULE_NAMES.get(r, r) for r in sorted(used))
        return Expectation(total, "standardised",
                           f"substitution {st.variable} = {st.x_of_w} with density of {w} "
                           f"exp({st.log_p0}); {rules_used}")

    def _standard_integral(self, integrand, w, domain, plain=True):
        """(value, rule) of one standard integral: the rules, then (``plain``) sympy.

        Both are cached per term, so the pass with sympy reuses what the rules-only
        pass found and never repeats a rule's own timed integrals (shifted |z + c|).
        """
        key = (integrand, domain)
        if key not in self._term_cache:
            self._term_cache[key] = self._by_rules(integrand, w, domain)
        val, rule = self._term_cache[key]
        if val is not None or not (plain and PLAIN_INTEGRATION):
            return val, rule
        key = (integrand, domain, "sympy")
        if key not in self._term_cache:
            self._term_cache[key] = self._by_sympy(integrand, w, domain)
        return self._term_cache[key]

    def _by_rules(self, integrand, w, domain):
        val, rule = None, domain
        if domain == "half":
            val = rules.half_line(integrand, w)
        elif domain == "unit":
            val = rules.unit_interval(integrand, w)
        elif domain == "circle":
            val = rules.circle(integrand, w)
        elif domain == "real" and (val := rules.poisson_kernel(integrand, w)) is not None:
            rule = "poisson"
        elif domain == "real" and (val := rules.shifted_abs(integrand, w, self._tail)) is not None:
            rule = "abs"
        elif domain == "real" and (val := rules.piecewise_exponential(integrand, w)) is not None:
            rule = "piecewise"
        elif domain == "real":
            v = sp.Symbol("v", positive=True)
            val = sp.S.Zero
            for part in rules.fold_real_line(integrand, w, v):
                c, m = part.as_independent(v, as_Add=False)
                r = rules.half_line(m, v) if m != 0 else sp.S.Zero
                if r is None:
                    val = None
                    break
                val += c * r
        return val, rule

    def _by_sympy(self, integrand, w, domain):
        lo, hi = {"half": (0, sp.oo), "unit": (0, 1), "circle": (-sp.pi, sp.pi),
                  "real": (-sp.oo, sp.oo)}[domain]
        try:
            val = _budget.run_with_budget(_budget.integrate_job, integrand, w, lo, hi,
                                          seconds=self._budget(), what="integrate")
        except BudgetExceeded:
            return None, domain
        # sympy's definite integrals are occasionally wrong; a term it returns is
        # accepted only if quadrature agrees at a generic point
        if not _closed(val) or not self._checked(_agrees_numerically, integrand, w, lo, hi, val):
            return None, domain
        return val, "sympy integrate (term), checked by mpmath quadrature"

    def _tail(self, integrand, var, lo, hi):
        """A definite integral by sympy within the budget, or None (used by rules)."""
        try:
            val = _budget.run_with_budget(_budget.integrate_job, integrand, var, lo, hi,
                                  seconds=self._budget(), what="integrate", shared=False)
        except BudgetExceeded:
            return None
        return val if _closed(val) else None

    def _budget(self):
        # read at call time: SYMGEO_BUDGET and tests may change the default
        return self.budget if self.budget is not None else _budget.DEFAULT_BUDGET

    def _route_plain(self, f):
        if not PLAIN_INTEGRATION:
            return None
        fam = self.family
        sup = fam.support
        dens = sp.exp(fam.log_density)
        try:
            if sup.discrete and len(fam.variables) == 1 and hasattr(sup, "lower"):
                val = _budget.run_with_budget(_budget.sum_job, f * dens, fam.variables[0], sup.lower, sup.upper,
                                      seconds=self._budget(), what="summation")
                route = "summation"
            elif isinstance(sup, Box) and sup.univariate:
                val = _budget.run_with_budget(_budget.integrate_job, f * dens, fam.variables[0], sup.lower[0],
                                      sup.upper[0], seconds=self._budget(), what="integrate")
                route = "integration"
            else:
                return None
        except BudgetExceeded:
            return None
        if not _closed(val) or not self._checked(self._agrees_at_generic_point, f, val):
            return None
        return Expectation(val, route, f"sympy {route} within the {self._budget():g} s budget, "
                           "checked by mpmath quadrature at a generic point")

    def _checked(self, check, *args):
        """A quadrature check of sympy's answer, under the budget: tanh-sinh on a
        double-exponential integrand (exp(-c e^w)) can run for minutes."""
        try:
            return _budget.run_with_budget(check, *args, seconds=self._budget(),
                                           what="checking sympy's answer by quadrature")
        except BudgetExceeded:
            return False

    def _agrees_at_generic_point(self, f, val):
        """sympy's answer against mpmath quadrature of the density at a generic point.

        An answer that does not evaluate (a meijerg sympy cannot evaluate gives nan)
        is rejected; one with symbolic hyper-parameters is kept unchecked.
        """
        fam = self.family
        pt = fam.generic_point()
        v = sp.sympify(val, strict=True).xreplace(pt)
        if v.free_symbols:
            return True
        try:
            with mp.workdps(30):
                sym = sp.N(v, 25)
                if not sym.is_real or not sym.is_finite:
                    return False
                num = expect_numeric(fam, f, pt, dps=20)
                return abs(num - mp.mpf(sym)) <= mp.mpf(10) ** -12 * max(1, abs(num))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, NotImplementedError):
            return False

    SERIES_RATIO_POINTS = (1000, 2000, 4000)
    """Where the ratio test of :meth:`_route_series` looks at the terms."""

    def _route_series(self, f):
        """sum_{x=lo}^{hi} f(x) p(x) as an exact ``Sum`` over an integer range that has
        no finite point list (hi infinite or symbolic).

        An infinite series is returned only if it converges by the ratio test at a
        generic point: |t(x + 1) / t(x)| < 1 at x = 1000, 2000, 4000 (in log space,
        with mpmath), and not increasing, so the tail is geometric.
        """
        fam = self.family
        sup = fam.support
        if not (isinstance(sup, IntegerRange) and len(fam.variables) == 1):
            return None
        x = fam.variables[0]
        hi = sp.sympify(sup.upper, strict=True)
        term = f * sp.exp(fam.log_density)
        value = sp.Sum(term, (x, sup.lower, hi))
        if hi != sp.oo:
            return Expectation(value, "exact series", f"finite sum over {sup.lower} <= {x} <= {hi}")
        pt = fam.generic_point()
        log_t = sp.log(sp.Abs(f.xreplace(pt))) + fam.log_density.xreplace(pt)
        try:
            fn = sp.lambdify(x, log_t, "mpmath")
            with mp.workdps(30):
                ratios = [mp.exp(fn(mp.mpf(k + 1)) - fn(mp.mpf(k)))
                          for k in self.SERIES_RATIO_POINTS]
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError):
            return None
        if not all(mp.isfinite(r) and r < 1 - mp.mpf(10) ** -9 for r in ratios) or \
                ratios[2] > ratios[0] * (1 + mp.mpf(10) ** -9):
            return None
        return Expectation(value, "exact series",
                           f"no closed form: the exact series over {sup.lower} <= {x} < oo, "
                           f"convergent by the ratio test at a generic point (term ratios "
                           f"{', '.join(mp.nstr(r, 3) for r in ratios)} at x = "
                           f"{', '.join(map(str, self.SERIES_RATIO_POINTS))})")

    ROUTES = ("_route_gaussian", "_route_expfamily", "_route_curved", "_route_finite",
              "_route_gaussian_exponential", "_route_standardised", "_route_plain")

    def expect(self, f, what=None, series=False):
        """E_xi[f(x)] as an :class:`Expectation`; raises DerivationError if no route closes.

        ``series``: over an infinite (or symbolic) integer range, an expectation no
        route closes is returned as the exact ``Sum`` when it converges
        (:meth:`_route_series`); callers that differentiate or simplify the result
        leave it False.
        """
        f = sp.sympify(f, strict=True)
        if not f.has(*self.family.variables):
            return Expectation(f, "constant", "f does not depend on x")
        # the timed sympy calls of all routes share one budget: an expectation that no
        # rule closes is refused within the budget, however many terms it has
        with _budget.total_budget(self._budget()):
            for name in self.ROUTES:
                res = getattr(self, name)(f)
                if res is not None:
                    return res
        if series and (res := self._route_series(f)) is not None:
            return res
        label = what or f"E[{f}]"
        raise DerivationError(
            f"family {self.family.name!r}: {label} did not close symbolically "
            f"(routes tried: Gaussian, exponential family, curved exponential family, finite "
            f"sum, Gaussian exponential moments, standardised rules"
            + (f", sympy integrate/summation within {self._budget():g} s" if PLAIN_INTEGRATION
               else "") + "). The numeric route still works: "
            f"family.expectation_numeric(f, point) evaluates it by mpmath quadrature.")
