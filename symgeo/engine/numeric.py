"""Numeric expectations by mpmath quadrature/summation of the declared density.

This is the numeric route offered when a symbolic derivation does not close,
and the independent check of every symbolic result: it integrates
f(x) p(x | xi) at a numeric point xi, at any precision, without using any
of the engine's identities.
"""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass

import mpmath as mp
import numpy as np
import sympy as sp
from scipy import integrate
from sympy.printing.pycode import MpmathPrinter

from ..declare.support import (
    Box,
    Compositions,
    IntegerBox,
    IntegerRange,
    Simplex,
    finite_points,
    sample_points,
)
from ..errors import SymgeoError
from .multivariate import (
    dirichlet_log_mass,
    gaussian_form,
    independent_blocks,
    is_positive_definite,
    shapes_valid,
    sub_support,
)

MAX_QUADRATURE_DIMENSION = 3
"""Beyond this many free variables no quadrature is attempted (it would not finish)."""


def _breakpoints(lo, hi, point_values):
    # exact values: a kink at mu = 0.123 placed at float(0.123) costs 15 digits
    pts = sorted({mp.mpf(v) for v in point_values if lo < v < hi})
    return [lo] + pts + [hi]


def kinks(exprs, x):
    """Real x where Abs/sign/Heaviside with an argument linear in x switch (exact)."""
    out = []
    for e in exprs:
        for node in sp.preorder_traversal(e):
            if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside)) and node.args[0].has(x):
                arg = sp.expand(node.args[0])
                if arg.is_polynomial(x) and sp.degree(arg, x) == 1:
                    a, b = sp.Poly(arg, x).all_coeffs()
                    out.append(-b / a)
    return out


def mp_bound(b):
    b = sp.sympify(b, strict=True)
    if b == sp.oo:
        return mp.inf
    if b == -sp.oo:
        return -mp.inf
    return mp.mpf(sp.N(b, mp.mp.dps + 10))


def _slow_tail(lp_num, lo):
    """Whether log p(x) falls more slowly than -3 log x between x = 1e10 and 1e20.

    Such tails (algebraic, or logarithmic like log-Cauchy's 1/(x log^2 x)) need the
    map x = lo + e^u; an exponential tail (whose e^-x at x = e^u would cost mpmath
    astronomically many bits) is integrated in x.
    """
    try:
        a, b = mp.mpf(10) ** 10, mp.mpf(10) ** 20
        slope = (mp.re(lp_num(lo + b)) - mp.re(lp_num(lo + a))) / (mp.log(b) - mp.log(a))
        return bool(slope > -3)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return False


class _MpmathPrinter(MpmathPrinter):
    """mpmath code that calls ``binomial`` directly: the default rewrites it through
    gamma, and sympy then evaluates gamma(n + 1) of a large concrete n exactly."""

    def _print_binomial(self, expr):
        return (f"{self._module_format('mpmath.binomial')}({self._print(expr.args[0])}, "
                f"{self._print(expr.args[1])})")


def lambdify_mp(expr, variables):
    printer = _MpmathPrinter({"fully_qualified_modules": False, "inline": True,
                              "allow_unknown_functions": True, "user_functions": {}})
    return sp.lambdify(variables, expr, modules="mpmath", printer=printer)


def expect_numeric(family, f, point, dps=30, density=None, breaks=()):
    """E_xi[f(x)] at ``point`` (dict coordinate -> number), by mpmath at ``dps`` digits.

    ``f`` may be a scalar expression or a Matrix (evaluated entrywise).  A continuous
    support is split at the point's coordinate values (a location), at the kinks of f
    and log p, and at ``breaks``: the coordinate values of a second density inside f
    (a divergence's q), whose narrow bump far from p's would otherwise fall between the
    nodes (a hyperbolic-secant α-affinity with q 20 times narrower, 6 away: 3.6e-4 off).
    """
    if isinstance(f, sp.MatrixBase):
        return sp.Matrix(f.shape[0], f.shape[1],
                         lambda i, j: expect_numeric(family, f[i, j], point, dps,
                                                     breaks=breaks))
    xs = family.variables
    if isinstance(family.support, (Box, IntegerBox)) and len(xs) > 1:
        by_blocks = _expect_by_blocks(family, f, point, dps)
        if by_blocks is not None:
            return by_blocks
    if not family.support.discrete:
        _check_dimension(len(family.support.free_variables(xs)))
    if dps <= 15 and len(family.support.free_variables(xs)) > 1 and \
            not family.support.discrete:
        return _expect_scipy(family, f, point)
    subs = {c: sp.nsimplify(v) if not isinstance(v, sp.Basic) else v for c, v in point.items()}
    # xreplace, not subs: subs re-evaluates powers of the substituted rationals, which
    # for a Weibull affinity built a 20942-digit rational (and sympy then refused to print it)
    log_p = family.log_density.xreplace(subs)
    fx = sp.sympify(f, strict=True).xreplace(subs)
    sup = family.support.subs(subs)
    with mp.workdps(dps + 10):
        f_num = lambdify_mp(fx, xs)
        lp_num = lambdify_mp(log_p, xs)
        cutoff = -40 * (dps + 10)

        def g(*args):
            # log p first: exp(-exp(huge)) (Gumbel tails) would ask mpmath for
            # astronomically many bits, and such points contribute nothing
            lp = lp_num(*args)
            if lp == -mp.inf or mp.re(lp) < cutoff:
                return mp.mpf(0)
            return f_num(*args) * mp.exp(lp)
        pts = finite_points(sup, xs)
        if pts is not None:
            return mp.fsum(g(*[mp.mpf(int(c)) if c.is_Integer else mp.mpf(sp.N(c, dps + 10))
                               for c in p]) for p in pts)
        if isinstance(sup, IntegerRange):
            lo = int(sup.lower)
            hi = mp.inf if sp.sympify(sup.upper, strict=True) == sp.oo else int(sup.upper)
            return mp.nsum(lambda k: g(k), [lo, hi])
        values = [sp.N(v, dps + 10) for v in list(subs.values()) + list(breaks)]
        if isinstance(sup, Box) and sup.univariate:
            values += [sp.N(k, dps + 10) for k in kinks([fx, log_p], xs[0])]
            lo, hi = mp_bound(sup.lower[0]), mp_bound(sup.upper[0])
            if lo != -mp.inf and hi == mp.inf and _slow_tail(lp_num, lo):
                # x = lo + e^u: an algebraic or logarithmic tail in x (log-Cauchy decays
                # like 1/(x log^2 x)) becomes one in u that tanh-sinh resolves
                cuts = [mp.log(v - lo) for v in _breakpoints(lo, hi, values)[1:-1]]

                def gu(u):
                    x = lo + mp.exp(u)
                    lw = lp_num(x) + u  # log of the density in u, Jacobian included
                    if lw == -mp.inf or mp.re(lw) < cutoff:
                        return mp.mpf(0)
                    return f_num(x) * mp.exp(lw)
                return mp.quad(gu, [-mp.inf] + (cuts or [mp.mpf(0)]) + [mp.inf])
            return mp.quad(g, _breakpoints(lo, hi, values))
        if isinstance(sup, Box):
            bounds = [_breakpoints(mp_bound(a), mp_bound(b), values)
                      for a, b in zip(sup.lower, sup.upper)]
            return mp.quad(g, *bounds)
        if isinstance(sup, Simplex):
            _check_dimension(len(xs) - 1)
            return mp.quad(lambda *u: _stick_breaking(g, u), *([[0, 1]] * (len(xs) - 1)))
    raise NotImplementedError(f"no numeric route for support {type(sup).__name__}")


def _expect_by_blocks(family, f, point, dps):
    """E[f] as a sum over terms of products of one-block expectations, when the
    density has independent blocks (None when it is one block)."""
    subs = {c: sp.nsimplify(v) if not isinstance(v, sp.Basic) else v for c, v in point.items()}
    xs = family.variables
    log_p = family.log_density.xreplace(subs)
    sup = family.support.subs(subs)
    _, blocks = independent_blocks(log_p, xs)
    if len(blocks) < 2 or sum(len(v) for v, _ in blocks) < len(xs):
        return None
    marginals = [Density(vs, g, sub_support(sup, xs, vs)) for vs, g in blocks]
    masses = {}
    memo = {}

    def block_expect(k, t):
        if (k, t) not in memo:
            if k not in masses:
                masses[k] = total_mass(marginals[k], dps)
            memo[k, t] = expect_numeric(marginals[k], t, {}, dps) / masses[k]
        return memo[k, t]
    total = mp.mpf(0)
    with mp.workdps(dps + 10):
        for term in sp.Add.make_args(sp.expand(sp.sympify(f, strict=True).xreplace(subs))):
            value = mp.mpf(1)
            rest = term
            for k, (vs, _) in enumerate(blocks):
                rest, part = rest.as_independent(*vs, as_Add=False)
                if part != 1:
                    value *= block_expect(k, part)
            value *= mp.mpf(sp.N(rest, dps + 10)) if rest.is_number else mp.nan
            total += value
    return total


def _check_dimension(k):
    if k > MAX_QUADRATURE_DIMENSION:
        raise NotImplementedError(f"numeric quadrature in {k} dimensions would not finish "
                                  f"(at most {MAX_QUADRATURE_DIMENSION})")


def _stick_breaking(g, u, one=mp.mpf):
    """g on the simplex at x_i = u_i prod_{j<i} (1 - u_j), times the Jacobian."""
    xs, left, jac = [], one(1), one(1)
    for ui in u:
        xs.append(left * ui)
        jac *= left
        left *= 1 - ui
    return g(*xs, left) * jac


def _expect_scipy(family, f, point):
    """Double-precision nested quadrature for multivariate continuous supports.

    mpmath's multidimensional tanh-sinh is far too slow for a declaration
    check; at 15 digits scipy's adaptive nested quadrature is exact enough.
    """
    xs = family.variables
    subs = {c: sp.nsimplify(v) for c, v in point.items()}
    # numeric sub-expressions (digamma(37/10), ...) evaluated once, not at every node
    log_p, fx = (sp.N(sp.sympify(e, strict=True).xreplace(subs), 20)
                 for e in (family.log_density, f))
    log_p_num = sp.lambdify(xs, log_p, modules=["numpy", "scipy"])
    f_num = sp.lambdify(xs, fx, modules=["numpy", "scipy"])

    def g(*args):
        lp = float(log_p_num(*args))
        # where p underflows its share is nil: f alone (a likelihood ratio) may overflow
        return 0.0 if lp < -700 else float(f_num(*args)) * math.exp(lp)
    sup = family.support.subs(subs)
    opts = {"epsabs": 1e-13, "epsrel": 1e-12, "limit": 200}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # its accuracy warnings are not for the user: the callers compare the value
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        if isinstance(sup, Box):
            bounds = [(float(a), float(b)) for a, b in zip(sup.lower, sup.upper)]
            val, _ = integrate.nquad(lambda *a: g(*a), bounds, opts=opts)
            return mp.mpf(val)
        if isinstance(sup, Simplex):
            _check_dimension(len(xs) - 1)
            val, _ = integrate.nquad(lambda *u: _stick_breaking(g, u[::-1], float),
                                     [(0, 1)] * (len(xs) - 1), opts=opts)
            return mp.mpf(val)
    raise NotImplementedError(f"no numeric route for support {type(sup).__name__}")


NORMALISATION_TOL = 1e-8


@dataclass(frozen=True)
class Density:
    """A log-density in ``variables`` on ``support`` (a block of a family, or a whole one)."""

    variables: tuple
    log_density: sp.Expr
    support: object


def total_mass(density, dps=15):
    """int e^ell over the support of a numeric ``density`` (no coordinates left).

    Exact structure first: a Gaussian kernel on R^d, a Dirichlet kernel on the
    simplex, a product of independent blocks (each block's mass on its own);
    quadrature or summation only for what is left, in at most
    ``MAX_QUADRATURE_DIMENSION`` dimensions.
    """
    xs, log_p, sup = density.variables, density.log_density, density.support
    if isinstance(sup, Simplex):
        lm = dirichlet_log_mass(log_p, xs)
        if lm is not None and shapes_valid(log_p, xs):
            return mp.exp(mp.mpf(sp.N(lm, dps + 5)))
    if isinstance(sup, (Box, IntegerBox)) and len(xs) > 1:
        if isinstance(sup, Box) and not sup.periodic and \
                all(b == -sp.oo for b in sup.lower) and all(b == sp.oo for b in sup.upper):
            gf = gaussian_form(log_p, xs)
            if gf is not None:
                if not is_positive_definite(gf.P):
                    return mp.inf
                return mp.exp(mp.mpf(sp.N(gf.log_mass(), dps + 5)))
        const, blocks = independent_blocks(log_p, xs)
        if len(blocks) > 1 or sum(len(v) for v, _ in blocks) < len(xs):
            if sum(len(v) for v, _ in blocks) < len(xs):
                return mp.inf  # a variable the density does not involve, on an infinite range
            mass = mp.exp(mp.mpf(sp.N(const, dps + 5)))
            for vs, g in blocks:
                mass *= total_mass(Density(vs, g, sub_support(sup, xs, vs)), dps)
            return mass
    if isinstance(sup, Compositions) and finite_points(sup, xs) is None:
        mass = _compositions_mass(log_p, xs, sup.total, dps)
        if mass is not None:
            return mass
    return expect_numeric(density, sp.S.One, {}, dps=dps)


MAX_CONVOLUTION_WORK = 5_000_000
"""Largest K n^2 of the convolution that sums a separable density over compositions."""


def _compositions_mass(log_p, xs, total, dps):
    """Sum of e^log_p over x_1 + ... + x_K = n when log_p = c + sum_i h_i(x_i), or None.

    The sum of a product over compositions is the n-th coefficient of the
    product of the generating functions sum_k e^{h_i(k)} t^k: K - 1
    convolutions of length n + 1, instead of the C(n + K - 1, K - 1) points.
    """
    n = sp.sympify(total, strict=True)
    if not n.is_Integer or len(xs) * (int(n) + 1) ** 2 > MAX_CONVOLUTION_WORK:
        return None
    const, blocks = independent_blocks(log_p, xs)
    if any(len(vs) != 1 for vs, _ in blocks):
        return None
    n = int(n)
    terms = {vs[0]: g for vs, g in blocks}
    with mp.workdps(dps + 10):
        acc = None
        for x in xs:
            h = terms.get(x)
            if h is None:
                seq = [mp.mpf(1)] * (n + 1)
            else:
                fn = lambdify_mp(h, [x])
                seq = [mp.exp(fn(k)) for k in range(n + 1)]
            acc = seq if acc is None else [mp.fsum(acc[j] * seq[k - j] for j in range(k + 1))
                                           for k in range(n + 1)]
        return mp.exp(mp.mpf(sp.N(const, dps + 10))) * acc[n]


NORMALISATION_POINTS = 3
"""Generic points at which a declaration's normalisation is checked."""


def _numeric_hyper(family):
    """The family with symbolic hyper-parameters set to their defaults (else 7), for checks."""
    numeric_fixed = {val: family.fixed_defaults.get(kname, 7)
                     for kname, sym in family.fixed_symbols.items()
                     if isinstance(val := family.fixed[sym], sp.Symbol)}
    return family if not numeric_fixed else family._numeric_copy(numeric_fixed)


def check_points(family, count):
    """``count`` deterministic generic points: the family's generic point, then seeded ones."""
    return [family.generic_point()] + [family.random_point(random.Random(1000 + k))
                                       for k in range(1, count)]


def check_normalised(family):
    """Refuse a declaration whose density does not integrate (sum) to 1 at generic points.

    The mass is checked at :data:`NORMALISATION_POINTS` points, so a density that
    is normalised only at one point (a term that vanishes there) is refused, and
    the message names the point.  Symbolic hyper-parameters take their declared
    defaults (else 7) for the check.
    """
    dps = 15
    fam = _numeric_hyper(family)
    for point in check_points(family, NORMALISATION_POINTS):
        try:
            subs = {c: sp.nsimplify(v) for c, v in point.items()}
            mass = total_mass(Density(fam.variables, fam.log_density.xreplace(subs),
                                      fam.support.subs(subs)), dps)
        except SymgeoError:
            raise
        except Exception as exc:  # mpmath/lambdify failures are a declaration problem
            family._fail("could not integrate the density numerically to check "
                         f"normalisation ({exc})")
        if not mp.isfinite(mass) or abs(mass - 1) > NORMALISATION_TOL:
            at = ", ".join(f"{k.name}={v}" for k, v in point.items())
            family._fail(f"the density is not normalised: its total mass at ({at}) is "
                         f"{mp.nstr(mass, 12)} instead of 1 (log-density with respect to "
                         f"{'counting' if family.support.discrete else 'Lebesgue'} measure)")


IDENTIFIABILITY_SAMPLES = 6
"""Points of the variable per coordinate at which the score is evaluated."""

SINGULAR_TOLERANCE = mp.mpf(10) ** -12
"""Relative singular value (at 30 digits) below which the score's columns are dependent
(the Gram matrix's eigenvalues, its squares, carry a rounding noise of about 1e-30)."""


def null_direction(family, point=None, rng=None):
    """A direction v (tuple of numbers, largest entry 1) with v . s(x) = 0 for all x, or None.

    The Fisher matrix E[s s^T] at a point is singular exactly when such a v
    exists (v^T I v = E[(v . s)^2]).  The score s_i = d log p / d xi_i is
    evaluated at the point ``point`` (default: the generic point) and at
    random values x of the support, and the rank of the resulting matrix is
    read from its singular values at 30 digits; an analytic score that
    vanishes along v at that many random x vanishes identically.
    """
    fam = _numeric_hyper(family)
    point = point or family.generic_point()
    rng = rng or random.Random(4242)
    d = family.dimension
    if d < 2:
        return None
    score = [sp.diff(fam.log_density, c).xreplace(point) for c in family.coordinates]
    fn = lambdify_mp(score, list(fam.variables))
    sup = fam.support.subs(point)
    rows = []
    with mp.workdps(30):
        for xs in sample_points(sup, len(fam.variables), rng, IDENTIFIABILITY_SAMPLES * d + 4):
            try:
                row = [mp.mpf(v) for v in fn(*[mp.mpf(sp.Rational(x)) for x in xs])]
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                continue  # a point where the score is not a real number (a null set)
            if all(mp.isfinite(v) for v in row):
                rows.append(row)
        if len(rows) < 2 * d:
            return None  # too few usable points to decide: no claim
        norms = [mp.sqrt(mp.fsum(r[j] ** 2 for r in rows)) for j in range(d)]
        if any(n == 0 for n in norms):
            j = next(j for j in range(d) if norms[j] == 0)
            return tuple(1 if k == j else 0 for k in range(d))
        scaled = [[r[j] / norms[j] for j in range(d)] for r in rows]
        # double precision decides the clear cases; a small singular value is
        # confirmed on the d x d Gram matrix at 30 digits
        S = np.linalg.svd(np.array(scaled, dtype=float), compute_uv=False)
        if S[-1] > 1e-8 * S[0]:
            return None
        G = mp.matrix([[mp.fsum(r[i] * r[j] for r in scaled) for j in range(d)]
                       for i in range(d)])
        E, Q = mp.eigsy(G)
        k = min(range(d), key=lambda i: E[i])
        if E[k] > SINGULAR_TOLERANCE ** 2 * max(E):
            return None
        v = [Q[j, k] / norms[j] for j in range(d)]
        big = max(v, key=abs)
        return tuple(sp.nsimplify(float(x / big), rational=True, tolerance=1e-9) for x in v)


def check_identifiable(family):
    """Refuse a declaration whose Fisher matrix is singular at a generic point.

    Names the direction along which the coordinates are not identified.
    """
    try:
        v = null_direction(family)
    except SymgeoError:
        raise
    except Exception:  # noqa: BLE001 - a score mpmath cannot evaluate: no claim either way
        return
    if v is None:
        return
    combo = sp.sstr(sp.Add(*[c * sp.Symbol(f"d{s.name}") for c, s in zip(v, family.coordinates)]))
    at = ", ".join(f"{k.name}={val}" for k, val in family.generic_point().items())
    family._fail(f"the Fisher matrix is singular at ({at}): moving the coordinates along "
                 f"({combo}) does not change the density to first order, so they are not "
                 "identified in that direction; fix or remove one of the coordinates "
                 "involved, or reparameterise")
