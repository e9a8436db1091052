"""The compiled numeric geodesic core: generated numpy code, a batched integrator, shooting.

Conventions (as in :mod:`symgeo.geometry.geodesic`): coordinates xi in the
catalog's order, Christoffel symbols of the second kind Gamma^k_ij of the
alpha-connection (:func:`symgeo.geometry.connection.christoffel`), geodesics
affinely parameterised on t in [0, 1], state (xi, u = xi').  Arrays put the
pair axis first: points (N, d), matrices (N, d, d).

**Generated code.**  Once per (family, alpha) the symbolic equations

    a^k(xi, u)   = - Gamma^k_ij(xi) u^i u^j                  (geodesic acceleration)
    (A_x)^k_m    = d a^k / d xi^m,   (A_u)^k_m = d a^k / d u^m = -2 Gamma^k_mj u^j

are differentiated symbolically, reduced by one common-subexpression
elimination over all entries, printed by sympy's SciPy printer (polygamma of
order n >= 1 as the Hurwitz zeta ufunc, (-1)^(n+1) n! zeta(n + 1, z)) and
each entry assigned into a preallocated (N, ...) array, so constant entries
broadcast (the pitfall of lambdify on a matrix).  The source is kept on the
:class:`Core` (``core.source``); no sympy runs per call.

**Integrator.**  Dormand-Prince 8(5,3) (the DOP853 tableau of scipy), run
on all pairs at once with one adaptive step size per pair (error control on
(xi, u) only, rtol per pair).  With ``variational=True`` the state also
carries Phi = d(xi, u)(t) / d u(0), integrated with the same steps:

    Phi_x' = Phi_u,   Phi_u' = A_x Phi_x + A_u Phi_u,   Phi_x(0) = 0, Phi_u(0) = I.

A step whose stages are not finite or whose end point is outside the domain
is rejected and retried shorter; a pair whose step collapses (the geodesic
leaves the domain) or that needs more than ``max_steps`` steps is reported
as failed, never integrated forever.

**Boundary values.**  (1) Chebyshev collocation (:func:`collocate`): the
curve at M + 1 Lobatto nodes, damped Newton with the exact Jacobian on the
interior nodes, all pairs at once, from the chord; it converges to the
discrete geodesic whatever chart the chord was drawn in, and its initial
velocity xi'(0) is usually exact to rounding.  (2) One integration at
``RTOL`` certifies it: the endpoint miss is measured, never assumed.
(3) Pairs it leaves above ``tol`` go to shooting (:func:`newton`): Newton
on F(v) = xi(1; p, v) - q with the exact Jacobian Phi_x(1), vectorised, each
pair with its own backtracking (a trial that leaves the domain or does not
decrease the residual is halved); inexact Newton: while the residual is
large the integration runs at a loose tolerance (rtol ~ 1e-3 residual^2),
a full step from a residual below ``FINAL_GUESS`` runs without the
variational equations; convergence is declared only on a residual measured
at ``RTOL``.  Where collocation failed, the first guess is the Taylor
expansion of the logarithm map (chart-independent to second order)

    log_p(q)^k = D^k + 1/2 Gamma^k_ij(p) D^i D^j + O(|D|^3),   D = q - p,

(kept only while the correction is smaller than D in the Fisher norm).
(4) Pairs on which Newton fails are retried by continuation in the end point
(targets p + s (q - p), s = 1/n, 2/n, ..., 1, each solve warm-started from
the previous one, n = 4, 16).  Residual: max_k |xi^k(1) - q^k| /
max(1, |q^k|).  A pair that fails everything is reported converged=False
with its best residual; the whole solve is bounded by ``time_limit``.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from math import factorial

import numpy as np
import scipy
import scipy.special
import sympy as sp
from scipy.integrate._ivp import dop853_coefficients as _dop
from scipy.special import zeta as _zeta
from sympy.printing.numpy import SciPyPrinter

from ..engine import budget
from ..errors import CommandBudgetSpent

RTOL = 1e-12
"""Relative tolerance of the integration that certifies a converged result."""
TOL = 1e-12
"""Residual (relative endpoint miss) at which shooting stops."""
ACCEPT = 1e-10
"""A residual Newton cannot push below ``tol`` is accepted (converged, residual reported)
when it is at most this: the rounding level of the generated right-hand side."""
FINAL_GUESS = 1e-7
"""Residual below which the next full Newton step is expected to converge (integrated
without the variational equations; redone with them if it misses)."""
NEWTON_FROM = 1e-3
"""Residual of an unresolved collocated curve up to which shooting starts from it at once."""
COLLOCATION_NODES = 20
"""Chebyshev nodes (M + 1, end points included) of the collocation that makes the first guess."""
COLLOCATION_LADDER = ((COLLOCATION_NODES, 1, False), (40, 1, False), (40, 1, True),
                      (40, 8, True), (80, 16, True), (80, 8, False))
"""(nodes, continuation pieces, warped coordinates) tried in turn on the pairs the previous
rung did not resolve (warped rungs only where some coordinate is positive or in (0, 1))."""
RESOLVED = 1e-13
"""A collocated curve is resolved when its last Chebyshev coefficients are below this
(relative to the largest); else the next node count is tried."""
MAX_STEPS = 4000
"""Integration steps (accepted or rejected) allowed to one pair in one integration."""


# ----------------------------------------------------------------------
# code generation
class _CorePrinter(SciPyPrinter):
    """SciPy printer with polygamma as ufuncs (scipy.special.polygamma is a slow wrapper)."""

    def __init__(self):
        super().__init__({"fully_qualified_modules": False, "strict": True})

    def _print_polygamma(self, expr):
        n, z = expr.args
        if n == 0:
            return f"psi({self._print(z)})"
        if n.is_Integer and n > 0:
            k = int(n)
            coef = (-1) ** (k + 1) * sp.factorial(k)
            return f"({coef}.0*zeta({k + 1}, {self._print(z)}))"
        return super()._print_polygamma(expr)

    def _print_Pi(self, expr):
        return "pi"

    def _print_Function(self, expr):
        if expr.func == _IVE:
            return f"ive({self._print(expr.args[0])}, {self._print(expr.args[1])})"
        return super()._print_Function(expr)


_IVE = sp.Function("ive")


def scaled_bessel(expr):
    """I_nu(z) = e^z ive(nu, z) with the exponentials combined, so that ratios of Bessel
    functions (von Mises) do not overflow past z ~ 700 (and their squares past ~350)."""
    if not expr.has(sp.besseli):
        return expr
    e = expr.replace(lambda a: isinstance(a, sp.besseli),
                     lambda a: sp.exp(a.args[1]) * _IVE(*a.args))
    return sp.powsimp(sp.together(e), combine="exp")


_NAMESPACE_MODULES = ("numpy", "scipy.special")


_SHIFT = 10
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
        43867 / 798, -174611 / 330)
_SMALL = 48  # below this many points the zeta ufunc (no array set-up) is faster
_SERIES = tuple(tuple(b * factorial(2 * k + n - 1) / factorial(2 * k)
                      for k, b in enumerate(_B2K, start=1))[::-1] for n in range(1, 5))
"""B_2k (2k+n-1)!/(2k)! of the asymptotic series of psi^(n), n = 1..4, k = 10 down to 1."""
_LEAD = tuple((float(factorial(n)), float(factorial(n - 1)), factorial(n) / 2, (-1.0) ** (n + 1))
              for n in range(1, 5))
"""n!, (n-1)!, n!/2 and the sign (-1)^(n+1) of psi^(n), n = 1..4."""


def polygammas(z, nmax):
    """[psi^(1)(z), ..., psi^(nmax)(z)] for real z > 0 (1 <= nmax <= 4), sharing one
    recurrence and one asymptotic series between the orders:

        psi^(n)(z) = psi^(n)(z + S) + (-1)^(n+1) n! sum_{j<S} (z + j)^-(n+1),   S = 10,
        psi^(n)(y) ~ (-1)^(n+1) [(n-1)!/y^n + n!/(2 y^(n+1))
                                 + sum_{k=1}^{10} B_2k (2k+n-1)!/(2k)! y^-(2k+n)]

    (first omitted term below 1e-16 relative at y >= 10).  Small inputs go through
    scipy's Hurwitz zeta, (-1)^(n+1) n! zeta(n + 1, z); a single point through
    :func:`polygammas_float`.
    """
    z = np.asarray(z, dtype=float)
    if z.size == 1:  # one point: the very values of the one-point functions (acc1, jac1),
        # whose check against this array code would otherwise see the two codes' rounding
        # amplified where polygammas cancel (beta at shapes ~400: 1.2e-11 of the entries)
        return [np.full(z.shape, v) for v in polygammas_float(float(z.reshape(-1)[0]), nmax)]
    if z.size < _SMALL:
        return [(-1) ** (n + 1) * factorial(n) * _zeta(n + 1.0, z) for n in range(1, nmax + 1)]
    inv = 1.0 / (z[..., None] + np.arange(_SHIFT))
    y = z + _SHIFT
    iy = 1.0 / y
    iy2 = iy * iy
    p = inv * inv
    out = []
    for n in range(1, nmax + 1):
        series = np.zeros_like(y)
        for c in _SERIES[n - 1]:
            series = (series + c) * iy2
        lead = (factorial(n - 1) + factorial(n) / 2 * iy + series) * iy ** n
        val = np.sum(p, axis=-1) * factorial(n) + lead
        out.append(val if n % 2 else -val)
        if n < nmax:
            p = p * inv
    return out


def _horner(c, y2):
    """sum_k c_k y2^k (k = 1..10), c highest order first."""
    c9, c8, c7, c6, c5, c4, c3, c2, c1, c0 = c
    return (((((((((c9 * y2 + c8) * y2 + c7) * y2 + c6) * y2 + c5) * y2 + c4) * y2
               + c3) * y2 + c2) * y2 + c1) * y2 + c0) * y2


def polygammas_float(z, nmax):
    """:func:`polygammas` of one Python float, on Python floats: [psi^(1)(z), ...,
    psi^(nmax)(z)] by the same recurrence (up to z + j >= 10) and asymptotic series (ten
    Bernoulli terms, Horner in 1/y^2).  A scipy call costs about 1.2 us per order on one
    point, more than this arithmetic (1.3 us for psi' and psi'' together); the
    one-point geodesic right-hand sides call it at every stage.  z <= 0, inf or NaN go
    to scipy's Hurwitz zeta, as in the array version."""
    if not 0.0 < z < math.inf:
        return [(-1) ** (n + 1) * factorial(n) * float(_zeta(n + 1.0, z))
                for n in range(1, nmax + 1)]
    if nmax <= 2:  # the geodesic acceleration's orders, without the higher sums
        s1 = s2 = 0.0
        while z < _SHIFT:
            i = 1.0 / z
            i2 = i * i
            s1 += i2
            s2 += i2 * i
            z += 1.0
        y = 1.0 / z
        y2 = y * y
        p1 = s1 + (1.0 + 0.5 * y + _horner(_SERIES[0], y2)) * y
        return [p1, -2.0 * s2 - (1.0 + y + _horner(_SERIES[1], y2)) * y2][:nmax]
    s1 = s2 = s3 = s4 = 0.0
    while z < _SHIFT:
        i = 1.0 / z
        i2 = i * i
        i3 = i2 * i
        s1 += i2
        s2 += i3
        s3 += i2 * i2
        s4 += i3 * i2
        z += 1.0
    y = 1.0 / z
    y2 = y * y
    out = []
    yn = y
    for s, c, (fn, fn1, half, sign) in zip((s1, s2, s3, s4)[:nmax], _SERIES, _LEAD):
        out.append(sign * (fn * s + (fn1 + half * y + _horner(c, y2)) * yn))
        yn *= y
    return out


def _namespace():
    ns = {"np": np, "numpy": np, "scipy": scipy, "pi": np.pi,
          "psi": scipy.special.psi, "zeta": scipy.special.zeta, "_polygammas": polygammas}
    for name in dir(np):
        if not name.startswith("_"):
            ns.setdefault(name, getattr(np, name))
    for name in dir(scipy.special):
        if not name.startswith("_"):
            ns.setdefault(name, getattr(scipy.special, name))
    return ns


def _shared_polygammas(flat, printer):
    """Polygammas of one argument share a recurrence and a series: one
    ``_polygammas(z, nmax)`` call per argument (orders 1 to 4).  Returns the source lines
    of those calls and the expressions with the polygammas replaced by their names."""
    pgs = {}
    for e in flat:
        for a in e.atoms(sp.polygamma):
            n, z = a.args
            if n.is_Integer and 1 <= int(n) <= 4:
                pgs.setdefault(z, set()).add(int(n))
    sub, lines = {}, []
    for k, (z, orders) in enumerate(sorted(pgs.items(), key=lambda kv: sp.default_sort_key(kv[0]))):
        names = [sp.Symbol(f"_pg{k}_{n}", real=True) for n in range(1, max(orders) + 1)]
        lines.append(f"    {', '.join(map(str, names))}, = _polygammas({printer.doprint(z)}, "
                     f"{max(orders)})")
        sub.update({sp.polygamma(n, z): names[n - 1] for n in orders})
    return lines, [e.xreplace(sub) for e in flat]


def emit_function(name, arg_symbols, outputs):
    """Source of ``def name(x, u, ...)`` computing arrays from sympy expressions.

    ``arg_symbols``: list of (argument name, tuple of sympy symbols), the
    symbols read as columns ``arg[..., i]``; ``outputs``: list of (shape,
    flat list of expressions).  One CSE over all expressions; each output is a
    preallocated ``(..., *shape)`` array filled entry by entry.
    """
    printer = _CorePrinter()
    rename, lines = {}, [f"def {name}({', '.join(a for a, _ in arg_symbols)}):"]
    for arg, syms in arg_symbols:
        for i, s in enumerate(syms):
            new = sp.Symbol(f"_{arg}{i}", real=True)
            rename[s] = new
            lines.append(f"    _{arg}{i} = {arg}[..., {i}]")
    first = arg_symbols[0][0]
    lines.append(f"    _shape = {first}.shape[:-1]")
    flat = [sp.sympify(e, strict=True).xreplace(rename) for _, es in outputs for e in es]
    pg_lines, flat = _shared_polygammas(flat, printer)
    lines += pg_lines
    repl, reduced = sp.cse(flat, symbols=sp.numbered_symbols("_c"), order="none")
    for s, e in repl:
        lines.append(f"    {s} = {printer.doprint(e)}")
    k = 0
    names = []
    for j, (shape, es) in enumerate(outputs):
        out = f"_out{j}"
        names.append(out)
        lines.append(f"    {out} = np.empty(_shape + {tuple(shape)!r})")
        for idx in np.ndindex(*shape):
            lines.append(f"    {out}[(...,) + {idx!r}] = {printer.doprint(reduced[k])}")
            k += 1
    lines.append(f"    return {', '.join(names)}" + ("," if len(names) == 1 else ""))
    return "\n".join(lines) + "\n"


def _scalar_namespace():
    """Names of the one-point functions: ``math`` on Python floats; the special
    functions math lacks from scipy.special, returned as Python floats."""
    ns = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}
    for name in ("zeta", "psi", "ive", "gammaln", "polygamma"):
        fn = getattr(scipy.special, name)
        ns[name] = lambda *a, _fn=fn: float(_fn(*a))
    ns.update(pi=math.pi, euler_gamma=float(sp.EulerGamma.evalf(20)), abs=abs,
              _polygammas=polygammas_float)
    return ns


def emit_scalar_function(name, args, outputs):
    """Source of ``def name(*args)`` returning the tuple of ``outputs`` (sympy
    expressions in the symbols ``args``) as Python floats: the right-hand side of one
    geodesic, where numpy's per-call overhead on arrays of one row (about 1 us per
    operation) costs more than the arithmetic."""
    printer = _CorePrinter()
    names = [sp.Symbol(f"_a{i}", real=True) for i in range(len(args))]
    rename = dict(zip(args, names))
    flat = [sp.sympify(e, strict=True).xreplace(rename) for e in outputs]
    lines = [f"def {name}({', '.join(map(str, names))}):"]
    pg_lines, flat = _shared_polygammas(flat, printer)
    lines += pg_lines
    repl, reduced = sp.cse(flat, symbols=sp.numbered_symbols("_c"), order="none")
    lines += [f"    {lhs} = {printer.doprint(rhs)}" for lhs, rhs in repl]
    lines.append(f"    return ({', '.join(printer.doprint(e) for e in reduced)},)")
    return "\n".join(lines) + "\n"


@dataclass
class Core:
    """Compiled geodesic functions of one connection (arrays: pair axis first).

    ``acc(x, u)`` -> (a,) with a (N, d); ``jac(x, u)`` -> (a, A_x, A_u);
    ``metric(x)`` -> (g,) with g (N, d, d); ``inside(x)`` -> (N,) bool;
    ``periods``: (d,) period of each angle coordinate, 0 elsewhere;
    ``source``: the generated Python source; ``theta(x)`` / ``xi_of_theta(th)``: the
    natural parameters of a full exponential family and their explicit inverse (None
    otherwise), for the e-geodesic first guess; ``acc1``, ``jac1``, ``domain1``: the same
    as ``acc``, ``jac`` and the domain functions at one point on Python floats (source in
    ``one_point_source``; see :meth:`one_point`); ``warp``: (d,) :class:`Warp` kind of
    each coordinate.
    """

    d: int
    alpha: object
    acc: object
    jac: object
    metric: object
    _h: object
    periods: np.ndarray
    source: str
    theta: object = None
    xi_of_theta: object = None
    acc1: object = None
    one_point_source: str = ""
    warp: np.ndarray = None
    domain1: object = None
    jac1: object = None
    _checked: dict = field(default_factory=dict)

    def one_point(self, name, x, u):
        """The one-point function ``acc1`` or ``jac1`` (floats in, a tuple of floats out:
        a, or a then A_x and A_u row-major), or None.  Checked once against its array twin
        (``acc`` / ``jac``) at the first state it is asked for: a name math lacks, or any
        disagreement beyond rounding, turns it off for good.  Rounding is judged against
        the largest entry of the same output (a, A_x or A_u) too: an entry that cancels
        (a sum of terms far larger than itself) differs between the two codes by a
        rounding of those terms."""
        fn = getattr(self, name)
        if fn is None:
            return None
        if name not in self._checked:
            try:
                blocks = getattr(self, name[:-1])(x[None], u[None])
                ref = np.concatenate([e.reshape(-1) for e in blocks])
                # each output (a, A_x, A_u) judged against its own largest entry
                scale = np.concatenate([np.full(e.size, np.max(np.abs(e), initial=0.0))
                                        for e in blocks])
                got = np.array(fn(*x.tolist(), *u.tolist()), dtype=float)
                good = bool(np.all(np.isfinite(ref))) and got.shape == ref.shape and \
                    bool(np.all(np.abs(got - ref) <= 1e-12 * np.abs(ref) + 1e-11 * scale))
            except (ArithmeticError, ValueError, TypeError, NameError):
                good = False
            self._checked[name] = good
        return fn if self._checked[name] else None

    def inside_one(self, x):
        """:meth:`inside` of one point given as a list of floats (no arrays)."""
        if not all(math.isfinite(c) for c in x):
            return False
        if self._h is None:
            return True
        if self.domain1 is None:
            return bool(self.inside(np.array([x]))[0])
        try:
            return all(h > 0 for h in self.domain1(*x))
        except (ArithmeticError, ValueError):
            return False

    def inside(self, x):
        x = np.asarray(x, dtype=float)
        ok = np.all(np.isfinite(x), axis=-1)
        if self._h is not None:
            with np.errstate(all="ignore"):
                (h,) = self._h(x)
            ok &= np.all(h > 0, axis=-1)
        return ok

    def events(self):
        """solve_ivp terminal events h_k(xi) = 0 (leaving the domain), state (xi, u, ...)."""
        if self._h is None:
            return []
        d = self.d
        n = self._h(np.ones((1, d)))[0].shape[-1]
        evs = []
        for k in range(n):
            def ev(t, y, k=k):
                return float(self._h(np.asarray(y[:d], dtype=float)[None])[0][0, k])
            ev.terminal = True
            ev.direction = -1
            evs.append(ev)
        return evs


def _compiled(source, label, ns):
    """``ns`` after running ``source`` in it.  The source is printed from sympy
    expressions by this module's printers (never user text): safe to execute."""
    exec(compile(source, label, "exec"), ns)  # noqa: S102
    return ns


def build_core(fam, alpha, christoffel_symbols):
    """Generate and compile the :class:`Core` of ``fam`` for the connection whose
    second-kind symbols are ``christoffel_symbols`` (Array [k][i][j])."""
    d = fam.dimension
    xi = tuple(fam.coordinates)
    u = tuple(sp.Symbol(f"_v{i}", real=True) for i in range(d))
    C = christoffel_symbols
    acc = [-sp.Add(*[C[k, i, j] * u[i] * u[j] for i in range(d) for j in range(d)])
           for k in range(d)]
    Ax = [sp.diff(acc[k], xi[m]) for k in range(d) for m in range(d)]
    Au = [-2 * sp.Add(*[C[k, m, j] * u[j] for j in range(d)]) for k in range(d)
          for m in range(d)]
    g = fam.fisher()
    acc, Ax, Au, g = ([scaled_bessel(e) for e in es] for es in (acc, Ax, Au, list(g)))
    hs = _domain_functions(fam)
    src = [emit_function("acc", [("x", xi), ("u", u)], [((d,), acc)]),
           emit_function("jac", [("x", xi), ("u", u)], [((d,), acc), ((d, d), Ax),
                                                       ((d, d), Au)]),
           emit_function("metric", [("x", xi)], [((d, d), list(g))])]
    if hs:
        src.append(emit_function("domain", [("x", xi)], [((len(hs),), hs)]))
    flat = _natural_parameters(fam)
    if flat is not None:
        theta, syms, inverse = flat
        src.append(emit_function("theta", [("x", xi)], [((d,), list(theta))]))
        src.append(emit_function("xi_of_theta", [("th", syms)],
                                 [((d,), [inverse[c] for c in xi])]))
    source = "\n\n".join(src)
    ns = _compiled(source, f"<symgeo geodesic core {fam.name} alpha={alpha}>", _namespace())
    periods = np.zeros(d)
    for i, c in enumerate(xi):
        dom = fam.domains[c]
        if dom.name == "circle":
            periods[i] = float(sp.sympify(dom.upper, strict=True)
                               - sp.sympify(dom.lower, strict=True))
    one = emit_scalar_function("acc1", xi + u, acc) + "\n\n" + \
        emit_scalar_function("jac1", xi + u, acc + Ax + Au)
    if hs:
        one += "\n\n" + emit_scalar_function("domain1", xi, hs)
    ns1 = _compiled(one, f"<symgeo geodesic core {fam.name} alpha={alpha}, one point>",
                    _scalar_namespace())
    warp = np.zeros(d, dtype=int)  # Warp kinds: log for (0, oo), logit for (0, 1)
    for i, c in enumerate(xi):
        lo, hi = (sp.sympify(b, strict=True) for b in (fam.domains[c].lower, fam.domains[c].upper))
        warp[i] = 1 if (lo == 0 and hi == sp.oo) else 2 if (lo == 0 and hi == 1) else 0
    return Core(d, alpha, ns["acc"], ns["jac"], ns["metric"], ns.get("domain"), periods,
                source, ns.get("theta"), ns.get("xi_of_theta"), acc1=ns1["acc1"],
                one_point_source=one, warp=warp, domain1=ns1.get("domain1"), jac1=ns1["jac1"])


NATURAL_BUDGET = 20.0  # seconds for the structure behind the e-geodesic guess


def _natural_parameters(fam):
    """(theta(xi), theta symbols, xi(theta)) of a full exponential family with an explicit
    inverse, else None.  The e-geodesic, straight in theta, is the same curve in every
    chart: a chart-independent first guess."""
    try:  # a first guess only: never worth more than a few seconds of symbolic work
        with budget.command_budget(NATURAL_BUDGET, what="the e-geodesic first guess"):
            st = fam.exponential_family()
    except CommandBudgetSpent:
        left = budget.wall_remaining()
        if left is not None and left <= 0:
            raise  # the enclosing command's own budget: it reports
        return None
    except Exception:  # noqa: BLE001 - not an exponential family (any reason): no guess
        return None
    if getattr(st, "kind", None) != "full" or st.coordinates_of_theta is None:
        return None
    return st.natural, tuple(st.theta), st.coordinates_of_theta


def _domain_functions(fam):
    """h(xi) > 0 for every finite coordinate bound and inequality constraint (angles wrap)."""
    hs = []
    for c in fam.coordinates:
        dom = fam.domains[c]
        if dom.name == "circle":
            continue
        lo, hi = sp.sympify(dom.lower, strict=True), sp.sympify(dom.upper, strict=True)
        if lo.is_finite:
            hs.append(c - lo)
        if hi.is_finite:
            hs.append(hi - c)
    for con in fam.constraints:
        if isinstance(con, (sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan,
                            sp.GreaterThan)):
            hs.append(con.gts - con.lts)
    return hs


# ----------------------------------------------------------------------
# batched Dormand-Prince 8(5,3)
_A = _dop.A[:_dop.N_STAGES, :_dop.N_STAGES]
_B = _dop.B
_C = _dop.C[:_dop.N_STAGES]
_E3, _E5 = _dop.E3, _dop.E5
_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0


def _rhs(core, d, variational, transport=0):
    def f(y):
        x, u = y[:, :d], y[:, d:2 * d]
        if transport:
            # w' = -Gamma(u, w) by polarisation of a(x, u) = -Gamma(u, u):
            # -Gamma(u, w) = (a(x, u + s w) - a(x, u - s w)) / (4 s), s = |u| / |w|
            n = len(y)
            W = y[:, 2 * d:].reshape(n, transport, d)
            s = (np.linalg.norm(u, axis=1)[:, None] /
                 np.maximum(np.linalg.norm(W, axis=2), 1e-300))[:, :, None]
            s = np.where(s > 0, s, 1.0)
            xx = np.repeat(x, transport, axis=0)
            uu = np.repeat(u, transport, axis=0)
            sw = (s * W).reshape(-1, d)
            (ap,), (am,) = core.acc(xx, uu + sw), core.acc(xx, uu - sw)
            dW = ((ap - am).reshape(n, transport, d) / (4 * s)).reshape(n, -1)
            (a,) = core.acc(x, u)
            return np.concatenate([u, a, dW], axis=1)
        if not variational:
            (a,) = core.acc(x, u)
            return np.concatenate([u, a], axis=1)
        a, Ax, Au = core.jac(x, u)
        n = len(y)
        Px = y[:, 2 * d:2 * d + d * d].reshape(n, d, d)
        Pu = y[:, 2 * d + d * d:].reshape(n, d, d)
        dPu = Ax @ Px + Au @ Pu
        return np.concatenate([u, a, Pu.reshape(n, -1), dPu.reshape(n, -1)], axis=1)
    return f


@dataclass
class Flow:
    """End of a batch of integrations: ``y`` (N, n) state at t = 1 (NaN where failed),
    ``ok`` (N,) bool, ``steps`` (N,) steps taken, ``evals`` right-hand sides computed."""

    y: np.ndarray
    ok: np.ndarray
    steps: np.ndarray
    evals: int


def integrate(core, x0, v0, t1=1.0, variational=False, rtol=RTOL, max_steps=MAX_STEPS,
              deadline=None, transport=None):
    """Integrate the geodesics from x0 (N, d) with velocities v0 (N, d) to t = t1 (one
    adaptive step size per pair; ``rtol`` a number or an (N,) array).  ``transport``
    (N, k, d): vectors parallel-transported along (w^k' = -Gamma^k_ij u^i w^j, state
    columns 2d: and under error control).  Returns a Flow."""
    x0 = np.atleast_2d(np.asarray(x0, dtype=float))
    v0 = np.atleast_2d(np.asarray(v0, dtype=float))
    N, d = x0.shape
    parts = [x0, v0]
    k = 0
    if variational:
        parts += [np.zeros((N, d * d)), np.tile(np.eye(d).ravel(), (N, 1))]
    elif transport is not None:
        W = np.asarray(transport, dtype=float).reshape(N, -1, d)
        k = W.shape[1]
        parts.append(W.reshape(N, -1))
    y = np.concatenate(parts, axis=1)
    one = core.one_point("jac1" if variational else "acc1", x0[0], v0[0]) \
        if N == 1 and not k else None
    if one is not None:
        f = _one_variational(one, d) if variational else _one_rhs(one, d)
        return _integrate_one(core, f, y[0].tolist(), 2 * d,
                              float(np.asarray(t1).reshape(-1)[0]),
                              float(np.asarray(rtol).reshape(-1)[0]), max_steps, deadline)
    f = _rhs(core, d, variational, k)
    rtol = np.broadcast_to(np.asarray(rtol, dtype=float), (N,)).copy()
    atol = rtol * 1e-2
    t1 = np.broadcast_to(np.asarray(t1, dtype=float), (N,)).copy()
    t = np.zeros(N)
    steps = np.zeros(N, dtype=int)
    ok = np.ones(N, dtype=bool)
    done = t1 == 0
    ne = 2 * d + k * d
    evals = 0
    with np.errstate(all="ignore"):
        fy = f(y)
        evals += 1
        ok &= np.all(np.isfinite(fy), axis=1)
        done |= ~ok
        # initial step (Hairer, Norsett & Wanner II.4), per pair
        sc = atol[:, None] + np.abs(y[:, :ne]) * rtol[:, None]
        d0 = np.sqrt(np.mean((y[:, :ne] / sc) ** 2, axis=1))
        d1 = np.sqrt(np.mean((fy[:, :ne] / sc) ** 2, axis=1))
        h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / np.maximum(d1, 1e-300))
        h0 = np.minimum(h0, np.abs(t1))
        f1 = f(y + h0[:, None] * fy)
        evals += 1
        d2 = np.sqrt(np.mean(((f1[:, :ne] - fy[:, :ne]) / sc) ** 2, axis=1)) / h0
        dm = np.maximum(d1, d2)
        h1 = np.where(dm <= 1e-15, np.maximum(1e-6, h0 * 1e-3),
                      (0.01 / np.maximum(dm, 1e-300)) ** (1 / 8))
        h = np.minimum(100 * h0, h1)
        h = np.where(np.isfinite(h) & (h > 0), h, 1e-3)
        while True:
            act = np.flatnonzero(~done)
            if act.size == 0:
                break
            if deadline is not None and time.monotonic() > deadline:
                ok[act] = False
                break
            ya, ha = y[act], np.minimum(h[act], t1[act] - t[act])
            Ka = np.empty((_dop.N_STAGES + 1, act.size, y.shape[1]))
            Ka[0] = fy[act]
            na, nc = act.size, y.shape[1]
            flat = Ka.reshape(_dop.N_STAGES + 1, na * nc)  # stage combinations as matmuls
            for s in range(1, _dop.N_STAGES):
                dy = (_A[s, :s] @ flat[:s]).reshape(na, nc) * ha[:, None]
                Ka[s] = f(ya + dy)
            ynew = ya + ha[:, None] * (_B @ flat[:-1]).reshape(na, nc)
            fnew = f(ynew)
            Ka[-1] = fnew
            evals += _dop.N_STAGES
            scale = atol[act, None] + np.maximum(np.abs(ya[:, :ne]),
                                                 np.abs(ynew[:, :ne])) * rtol[act, None]
            err5 = (_E5 @ flat).reshape(na, nc)[:, :ne] / scale
            err3 = (_E3 @ flat).reshape(na, nc)[:, :ne] / scale
            e5 = np.sum(err5 ** 2, axis=1)
            e3 = np.sum(err3 ** 2, axis=1)
            denom = e5 + 0.01 * e3
            err = np.where(denom > 0, ha * e5 / np.sqrt(np.maximum(denom, 1e-300) * ne), 0.0)
            good = np.isfinite(err) & np.all(np.isfinite(fnew), axis=1) & \
                np.all(np.isfinite(ynew), axis=1)
            good &= core.inside(ynew[:, :d])
            accept = good & (err < 1)
            fac = np.where(err == 0, _MAX_FACTOR,
                           np.clip(_SAFETY * np.power(np.where(err > 0, err, 1), -1 / 8),
                                   _MIN_FACTOR, _MAX_FACTOR))
            fac = np.where(accept, fac, np.where(good, np.minimum(fac, 1.0), 0.25))
            acc_idx = act[accept]
            y[acc_idx] = ynew[accept]
            fy[acc_idx] = fnew[accept]
            t[acc_idx] += ha[accept]
            h[act] = ha * fac
            steps[act] += 1
            finished = np.abs(t1[act] - t[act]) <= 1e-14 * np.abs(t1[act])
            collapsed = (h[act] < 1e-12 * np.abs(t1[act])) | (steps[act] >= max_steps)
            ok[act[collapsed & ~finished]] = False
            done[act[finished | collapsed]] = True
    y[~ok] = np.nan
    return Flow(y, ok, steps, evals)


def _one_rhs(acc1, d):
    """(xi, u)' = (u, a(xi, u)) on Python floats; a floating-point exception (log of a
    negative number outside the domain, overflow) gives NaN, as numpy would, and the
    step is rejected."""
    nan = [math.nan] * d

    def f(y):
        try:
            a = list(acc1(*y))
        except (ArithmeticError, ValueError):
            a = nan
        return y[d:] + a
    return f


def _one_variational(jac1, d):
    """The state (xi, u, Phi_x, Phi_u) of :func:`integrate` with ``variational=True`` on
    Python floats: Phi_x' = Phi_u, Phi_u' = A_x Phi_x + A_u Phi_u (row-major d x d)."""
    dd = d * d
    nan = [math.nan] * (d + 2 * dd)
    R = range(d)

    def f(y):
        try:
            r = list(jac1(*y[:2 * d]))
        except (ArithmeticError, ValueError):
            r = nan
        Ax, Au = r[d:d + dd], r[d + dd:]
        Px, Pu = y[2 * d:2 * d + dd], y[2 * d + dd:]
        dPu = [sum(Ax[i * d + m] * Px[m * d + j] + Au[i * d + m] * Pu[m * d + j] for m in R)
               for i in R for j in R]
        return y[d:2 * d] + r[:d] + Pu + dPu
    return f


def _combination(terms):
    """Python source of sum(c * v) over (c, v) with c != 0 (coefficients as exact reprs)."""
    return " + ".join(f"{float(c)!r}*{v}" for c, v in terms if c != 0) or "0.0"


@functools.lru_cache(maxsize=None)
def _dop853_step(n):
    """One Dormand-Prince 8(5,3) step of an n-component state on Python floats, as
    straight-line code printed from scipy's tableau (its zero coefficients left out):
    ``step(f, y, k0, h) -> (y_new, f(y_new), err5, err3)`` with k0 = f(y) and the
    error estimates E5 @ K, E3 @ K of :func:`integrate` (without the factor h).  The
    stage loop on numpy arrays of one row spent more in call overhead than in
    arithmetic (a single gamma distance: 8-13% faster, median of the best of 5)."""
    S = _dop.N_STAGES
    R = range(n)
    lines = ["def step(f, y, k0, h):", f"    {', '.join(f'y{i}' for i in R)}, = y",
             f"    {', '.join(f'k0_{i}' for i in R)}, = k0"]
    for s in range(1, S + 1):
        coef = _B if s == S else _A[s, :s]
        args = ", ".join(
            f"y{i} + h*({_combination((c, f'k{j}_{i}') for j, c in enumerate(coef))})"
            for i in R)
        if s == S:
            lines.append(f"    y_new = [{args}]")
            args = "y_new"
        else:
            args = f"[{args}]"
        lines.append(f"    {', '.join(f'k{s}_{i}' for i in R)}, = f({args})")
    for name, E in (("e5", _E5), ("e3", _E3)):
        lines.append(f"    {name} = [" + ", ".join(
            _combination((c, f"k{j}_{i}") for j, c in enumerate(E)) for i in R) + "]")
    lines.append(f"    return y_new, [{', '.join(f'k{S}_{i}' for i in R)}], e5, e3")
    return _compiled("\n".join(lines) + "\n", f"<dop853 step, {n} components>", {})["step"]


def _integrate_one(core, f, y0, ne, t1, rtol, max_steps, deadline):
    """:func:`integrate` of one geodesic: the same Dormand-Prince 8(5,3) steps and
    step-size control (error on the first ``ne`` components), with the bookkeeping and
    the right-hand side ``f`` (list -> list) on Python floats (the batched loop's two
    dozen numpy calls per step on arrays of one row cost more than its arithmetic)."""
    d = core.d
    n = len(y0)

    def finite(v):
        return all(math.isfinite(c) for c in v)

    atol = rtol * 1e-2
    y = [float(c) for c in y0]
    t, steps, evals, ok = 0.0, 0, 2, True
    with np.errstate(all="ignore"):
        fy = f(y)
        if not finite(fy):
            return Flow(np.full((1, n), np.nan), np.array([False]), np.array([0]), 1)
        if t1 == 0:
            return Flow(np.array([y]), np.array([True]), np.array([0]), 1)
        # initial step (Hairer, Norsett & Wanner II.4), as in integrate
        sc = [atol + abs(c) * rtol for c in y[:ne]]
        d0 = math.sqrt(sum((c / w) ** 2 for c, w in zip(y, sc)) / ne)
        d1 = math.sqrt(sum((c / w) ** 2 for c, w in zip(fy, sc)) / ne)
        h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / max(d1, 1e-300)
        h0 = min(h0, abs(t1))
        f1 = f([a + h0 * b for a, b in zip(y, fy)])
        d2 = math.sqrt(sum(((a - b) / w) ** 2 for a, b, w in zip(f1, fy, sc)) / ne) / h0
        dm = max(d1, d2)
        h1 = max(1e-6, h0 * 1e-3) if dm <= 1e-15 else (0.01 / max(dm, 1e-300)) ** (1 / 8)
        h = min(100 * h0, h1)
        h = h if math.isfinite(h) and h > 0 else 1e-3
        step = _dop853_step(n)
        while True:
            if deadline is not None and time.monotonic() > deadline:
                ok = False
                break
            ha = min(h, t1 - t)
            ynew, fnew, e5v, e3v = step(f, y, fy, ha)
            evals += _dop.N_STAGES
            e5 = e3 = 0.0
            for i in range(ne):
                w = atol + max(abs(y[i]), abs(ynew[i])) * rtol
                e5 += (e5v[i] / w) ** 2
                e3 += (e3v[i] / w) ** 2
            denom = e5 + 0.01 * e3
            err = ha * e5 / math.sqrt(max(denom, 1e-300) * ne) if denom > 0 else 0.0
            good = math.isfinite(err) and finite(fnew) and finite(ynew) and \
                core.inside_one(ynew[:d])
            if err == 0:
                fac = _MAX_FACTOR
            else:
                fac = min(max(_SAFETY * (err if err > 0 else 1.0) ** (-1 / 8), _MIN_FACTOR),
                          _MAX_FACTOR)
            if good and err < 1:
                y, fy, t = ynew, fnew, t + ha
            else:
                fac = min(fac, 1.0) if good else 0.25
            h = ha * fac
            steps += 1
            finished = abs(t1 - t) <= 1e-14 * abs(t1)
            collapsed = h < 1e-12 * abs(t1) or steps >= max_steps
            if collapsed and not finished:
                ok = False
            if finished or collapsed:
                break
    out = np.array([y]) if ok else np.full((1, n), np.nan)
    return Flow(out, np.array([ok]), np.array([steps]), evals)


# ----------------------------------------------------------------------
# shooting
@dataclass
class BatchSolution:
    """log maps of N pairs: ``velocity`` (N, d), ``residual`` (N,) relative endpoint miss,
    ``converged`` (N,) bool, ``iterations`` (N,) Newton steps, ``continuation`` (N,)
    number of continuation pieces used (1 = plain Newton), ``target`` (N, d) the end
    points actually aimed at (angles unwrapped)."""

    velocity: np.ndarray
    residual: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    continuation: np.ndarray
    target: np.ndarray


def unwrap(core, x0, xq):
    """The copy of each angle coordinate of xq nearest x0."""
    xq = np.array(xq, dtype=float)
    for i, per in enumerate(core.periods):
        if per:
            xq[:, i] = x0[:, i] + (xq[:, i] - x0[:, i] + per / 2) % per - per / 2
    return xq


def initial_guess(core, x0, xq):
    """log_p(q) ~ D + 1/2 Gamma(p)(D, D), D = q - p (chart-independent to second order);
    D alone where the correction is not smaller than D in the Fisher norm."""
    D = xq - x0
    with np.errstate(all="ignore"):
        (a,) = core.acc(x0, D)  # -Gamma(p)(D, D)
        (g,) = core.metric(x0)
        corr = -0.5 * a
        nD = np.einsum("ni,nij,nj->n", D, g, D)
        nc = np.einsum("ni,nij,nj->n", corr, g, corr)
    use = np.isfinite(nc) & (nc < 0.25 * nD)
    v = np.where(use[:, None], D + corr, D)
    return v


@functools.lru_cache(maxsize=16)
def _cheb(M):
    """Chebyshev-Lobatto nodes on [0, 1] (t_0 = 0, t_M = 1) and the first-derivative
    matrix in t (Trefethen, Spectral Methods in MATLAB, cheb.m, mapped by t = (1 - x)/2);
    then D^2 and the map from values at the nodes to Chebyshev coefficients (read-only,
    shared by every call with M + 1 nodes)."""
    x = np.cos(np.pi * np.arange(M + 1) / M)
    c = np.ones(M + 1)
    c[0] = c[-1] = 2
    c *= (-1.0) ** np.arange(M + 1)
    X = x[:, None] - x[None, :]
    D = np.outer(c, 1 / c) / (X + np.eye(M + 1))
    D -= np.diag(D.sum(axis=1))
    t, D = (1 - x) / 2, -2 * D
    T = np.linalg.inv(np.polynomial.chebyshev.chebvander(1 - 2 * t, M))
    D2 = D @ D
    for a in (t, D, D2, T):
        a.flags.writeable = False
    return t, D, D2, T


class Warp:
    """Coordinates in which a geodesic spanning decades is smooth: z = log xi for a
    coordinate of domain (0, oo), z = logit xi for (0, 1), z = xi otherwise (kinds 1, 2,
    0).  With xi = phi(z) the geodesic equation xi'' = a(xi, xi') reads

        z'' = a(phi(z), phi'(z) z') / phi'(z) - psi(z) z'^2,   psi = phi'' / phi',

    and its derivatives, from A_x = da/dxi and A_u = da/dxi' (chain rule),

        d rhs_k / d z_m  = (A_x,km phi'_m + A_u,km psi_m phi'_m z'_m) / phi'_k
                           - delta_km (a_k psi_k / phi'_k + psi'_k z'_k^2),
        d rhs_k / d z'_m = A_u,km phi'_m / phi'_k - 2 delta_km psi_k z'_k.

    A chart change that is linear in these coordinates (gamma's (shape, rate) ->
    (shape, mean = shape / rate) in logs) leaves the polynomial collocation unchanged."""

    def __init__(self, kinds):
        self.log, self.logit = kinds == 1, kinds == 2

    def x(self, z):
        with np.errstate(all="ignore"):
            return np.where(self.log, np.exp(z), np.where(self.logit, 1 / (1 + np.exp(-z)), z))

    def z(self, x):
        with np.errstate(all="ignore"):
            return np.where(self.log, np.log(x), np.where(self.logit, np.log(x / (1 - x)), x))

    def parts(self, z):
        """phi', psi, psi' at z."""
        x = self.x(z)
        d1 = np.where(self.log, x, np.where(self.logit, x * (1 - x), 1.0))
        psi = np.where(self.log, 1.0, np.where(self.logit, 1 - 2 * x, 0.0))
        dpsi = np.where(self.logit, -2 * x * (1 - x), 0.0)
        return x, d1, psi, dpsi

    def rhs(self, core, z, w, want_jac):
        """(rhs, d rhs / dz, d rhs / dz') at rows z, w = z' (n, d)."""
        x, d1, psi, dpsi = self.parts(z)
        u = d1 * w
        if not want_jac:
            (a,) = core.acc(x, u)
            return a / d1 - psi * w * w, None, None
        a, Ax, Au = core.jac(x, u)
        inv = (1 / d1)[:, :, None]
        Az = (Ax * d1[:, None, :] + Au * (psi * d1 * w)[:, None, :]) * inv
        Aw = Au * d1[:, None, :] * inv
        k = np.arange(z.shape[1])
        Az[:, k, k] -= a * psi / d1 + dpsi * w * w
        Aw[:, k, k] -= 2 * psi * w
        return a / d1 - psi * w * w, Az, Aw


def collocate(core, x0, xq, M=COLLOCATION_NODES, max_iter=30, tol=1e-9, pieces=1,
              deadline=None, warp=False):
    """A first guess for shooting by Chebyshev collocation of the boundary-value problem
    xi'' = a(xi, xi'), xi(0) = p, xi(1) = q at M + 1 Lobatto nodes: damped Newton on
    the interior nodes with the exact Jacobian (from A_x, A_u), all pairs at once,
    starting from the e-geodesic (straight in the natural parameters theta: the same
    curve in every chart) when the family is a full exponential family, else from the
    chord.  ``pieces`` > 1: continuation in the end point (targets
    p + s (q - p), s = 1/pieces, ..., 1, each curve warm-started from the previous
    one).  Stops at ``deadline`` (time.monotonic()).  Returns a :class:`Collocation`:
    v = xi'(0), Newton converged, resolved (the last three Chebyshev coefficients below
    RESOLVED), and the curve, whose linearisation gives the shooting Jacobian
    (:func:`endpoint_jacobian`).  ``warp``:
    the curve is collocated in the coordinates of :class:`Warp` (log / logit), where
    geodesics between far points of a positive coordinate are smooth."""
    N, d = x0.shape
    t, D, D2, T = _cheb(M)
    Di, D2i = D[1:-1, 1:-1], D2[1:-1, 1:-1]
    m = M - 1
    first = x0 + (xq - x0) / pieces
    X = x0[:, None, :] + t[None, :, None] * (first - x0)[:, None, :]   # (N, M+1, d)
    straight = np.ones(N, dtype=bool)  # rows still on the chord
    if pieces == 1 and core.theta is not None:  # the e-geodesic where it is defined
        with np.errstate(all="ignore"):
            (tp,), (tq,) = core.theta(x0), core.theta(xq)
            th = tp[:, None, :] + t[None, :, None] * (tq - tp)[:, None, :]
            (E,) = core.xi_of_theta(th.reshape(-1, d))
        E = E.reshape(N, M + 1, d)
        good = core.inside(E.reshape(-1, d)).reshape(N, M + 1).all(axis=1)
        X[good] = E[good]
        X[:, 0], X[:, -1] = x0, xq
        straight &= ~good
    wp = Warp(core.warp) if warp else None
    if wp is not None:  # from here on X holds the warped coordinates z of the curve
        x0_xi, xq_xi = x0, xq
        X, x0, xq = wp.z(X), wp.z(x0), wp.z(xq)
        # the chord drawn in z instead (geometric in a positive coordinate)
        first = x0 + (xq - x0) / pieces
        X[straight] = (x0[:, None, :] + t[None, :, None] * (first - x0)[:, None, :])[straight]

    def inside(Xt):
        return core.inside(wp.x(Xt) if wp is not None else Xt)

    scale = np.maximum(1.0, np.maximum(np.abs(x0), np.abs(xq)))[:, None, :]

    Dn, D2n = D[1:-1], D2[1:-1]  # rows of the interior nodes

    def residual(X, want_jac):
        XX = D2n @ X
        xs, us = X[:, 1:-1].reshape(-1, d), (Dn @ X).reshape(-1, d)
        with np.errstate(all="ignore"):
            if wp is not None:
                a, Ax, Au = wp.rhs(core, xs, us, want_jac)
            elif want_jac:
                a, Ax, Au = core.jac(xs, us)
            else:
                (a,) = core.acc(xs, us)
                Ax = Au = None
        R = XX - a.reshape(-1, m, d)
        if not want_jac:
            return R, None
        Ax, Au = Ax.reshape(-1, m, d, d), Au.reshape(-1, m, d, d)
        with np.errstate(all="ignore"):  # a trial curve far out: inf rows, rejected below
            J = _linearised(Di, D2i, Ax, Au)
        return R, J.reshape(-1, m * d, m * d)

    def norm(R):
        r = np.max(np.abs(R).reshape(len(R), -1), axis=1)
        return np.where(np.isfinite(r), r, np.inf)

    def run(X, scale):
        N = len(X)
        active = np.ones(N, dtype=bool)
        ok = np.zeros(N, dtype=bool)
        last_step = np.full(N, np.inf)
        undamped = np.zeros(N, dtype=bool)  # the last step was a full Newton step
        R, J = residual(X, True)
        r = norm(R)
        for _ in range(max_iter):
            idx = np.flatnonzero(active & np.isfinite(r))
            if idx.size == 0 or (deadline is not None and time.monotonic() > deadline):
                break
            try:
                dX = np.linalg.solve(J[idx], R[idx].reshape(len(idx), -1, 1))[..., 0]
            except np.linalg.LinAlgError:
                break
            dX = dX.reshape(-1, m, d)
            lam = np.ones(idx.size)
            pending = np.ones(idx.size, dtype=bool)
            full = np.max(np.abs(dX) / scale[idx], axis=(1, 2))
            fin = np.flatnonzero(_final_step(full, last_step[idx], undamped[idx], tol))
            if fin.size:
                Xt = X[idx[fin]].copy()
                Xt[:, 1:-1] -= dX[fin]
                in_dom = inside(Xt.reshape(-1, d)).reshape(-1, M + 1).all(axis=1)
                gi = idx[fin[in_dom]]
                X[gi] = Xt[in_dom]
                ok[gi] = True
                pending[fin[in_dom]] = False
            for _ in range(8):  # backtracking, per pair
                pi = np.flatnonzero(pending)
                if pi.size == 0:
                    break
                Xt = X[idx[pi]].copy()
                Xt[:, 1:-1] -= lam[pi, None, None] * dX[pi]
                in_dom = inside(Xt.reshape(-1, d)).reshape(-1, M + 1).all(axis=1)
                Rt, Jt = residual(Xt, True)
                rt = np.where(in_dom, norm(Rt), np.inf)
                good = rt < r[idx[pi]] * (1 - 1e-4 * lam[pi]) + 1e-300
                gi = idx[pi[good]]
                step = np.max(np.abs(lam[pi[good], None, None] * dX[pi[good]]) /
                              scale[gi], axis=(1, 2))
                X[gi], R[gi], J[gi], r[gi] = Xt[good], Rt[good], Jt[good], rt[good]
                ok[gi[step < tol]] = True
                last_step[gi] = step
                undamped[gi] = lam[pi[good]] == 1
                pending[pi[good]] = False
                lam[pi[~good]] /= 4
            # no decrease: rounding level reached (ok) or a dead end
            stuck = idx[pending]
            ok[stuck[last_step[stuck] < 1e3 * tol]] = True
            active[stuck] = False
            active &= ~ok
        return X, ok

    def run_one(X, scale):
        """:func:`run` of one curve (X of shape (1, M + 1, d)), the same damped Newton on
        Python scalars: the batch's index bookkeeping cost a single distance more than
        its arithmetic."""
        R, J = residual(X, True)
        r = float(norm(R)[0])
        last, undamped = np.inf, False
        for _ in range(max_iter):
            if not math.isfinite(r) or (deadline is not None and time.monotonic() > deadline):
                break
            try:
                dX = np.linalg.solve(J[0], R.reshape(-1)).reshape(m, d)
            except np.linalg.LinAlgError:
                break
            full = float(np.max(np.abs(dX) / scale[0]))
            lam = 1.0
            if _final_step(full, last, undamped, tol):
                Xt = X.copy()
                Xt[0, 1:-1] -= dX
                if inside(Xt[0]).all():
                    return Xt, True
            for _ in range(8):  # backtracking
                Xt = X.copy()
                Xt[0, 1:-1] -= lam * dX
                if inside(Xt[0]).all():
                    Rt, Jt = residual(Xt, True)
                    rt = float(norm(Rt)[0])
                    if rt < r * (1 - 1e-4 * lam) + 1e-300:
                        X, R, J, r = Xt, Rt, Jt, rt
                        last, undamped = lam * full, lam == 1
                        break
                lam /= 4
            else:  # no decrease: rounding level reached (ok) or a dead end
                return X, last < 1e3 * tol
            if last < tol:
                return X, True
        return X, False

    if pieces == 1 and N == 1:
        X, ok = run_one(X, scale)
        ok = np.array([ok])
    elif pieces == 1:
        X, ok = run(X, scale)
    else:  # continuation in the end point, each curve warm-started from the previous one
        ok = np.ones(N, dtype=bool)
        for k in range(1, pieces + 1):
            live = np.flatnonzero(ok)
            if live.size == 0:
                break
            if wp is not None:  # the straight continuation path is drawn in xi
                target = wp.z(x0_xi[live] + k / pieces * (xq_xi[live] - x0_xi[live]))
            else:
                target = x0[live] + k / pieces * (xq[live] - x0[live])
            Xl = X[live]
            Xl += t[None, :, None] * (target - Xl[:, -1])[:, None, :]
            Xl[:, -1] = target
            Xl, okl = run(Xl, scale[live])
            X[live] = Xl
            ok[live[~okl]] = False
    U0 = np.einsum("l,nld->nd", D[0], X)
    if wp is not None:  # xi'(0) = phi'(z(0)) z'(0)
        U0 = wp.parts(X[:, 0])[1] * U0
    ok &= np.all(np.isfinite(U0), axis=1)
    # resolved: the last Chebyshev coefficients of the curve are at rounding level
    coef = np.abs(np.einsum("kl,nld->nkd", T, X))
    tail = np.max(coef[:, -3:], axis=(1, 2)) / np.max(coef[:, 1:], axis=(1, 2))
    resolved = ok & (tail <= RESOLVED)
    return Collocation(U0, ok, resolved, X, wp)


def _linearised(Dr, D2r, Ax, Au):
    """The collocated operator of dx'' - A_x dx - A_u dx' (N, r, d, c, d): rows the r
    nodes where A_x, A_u (N, r, d, d) are evaluated (component k), columns the c unknown
    nodes (component m); ``Dr``, ``D2r`` (r, c) the rows and columns of the
    differentiation matrices, node i of the rows being node i of the columns."""
    d = Ax.shape[-1]
    A = D2r[None, :, None, :, None] * np.eye(d)[None, None, :, None, :] \
        - Au[:, :, :, None, :] * Dr[None, :, None, :, None]
    idx = np.arange(Ax.shape[1])
    A[:, idx, :, idx, :] -= Ax.transpose(1, 0, 2, 3)
    return A


def _final_step(full, last, undamped, tol):
    """Whether a Newton step of size ``full`` ends the iteration without a trial residual
    that would only confirm it: it is below tol, or quadratic convergence (s_k ~ C
    s_{k-1}^2, C measured on the full step of size ``last`` before) leaves less than
    1e-6 tol after it.  Arrays or scalars."""
    with np.errstate(all="ignore"):
        after = np.asarray(full) ** 3 / np.where(undamped, last, np.inf) ** 2
    return (full < tol) | ((full < 1e-3) & (after < 1e-6 * tol))


@dataclass
class Collocation:
    """Result of :func:`collocate` for N pairs: ``velocity`` xi'(0) (N, d), ``ok`` (N,)
    Newton converged, ``resolved`` (N,) curve resolved to rounding, ``curve`` (N, M + 1, d)
    the values at the Lobatto nodes (in the :class:`Warp` coordinates z when ``warp`` is
    set)."""

    velocity: np.ndarray
    ok: np.ndarray
    resolved: np.ndarray
    curve: np.ndarray
    warp: object = None

    def endpoint_jacobian(self, core, rows):
        """:func:`endpoint_jacobian` along the collocated curves of ``rows``."""
        return endpoint_jacobian(core, self.curve[rows], self.warp)


def endpoint_jacobian(core, X, warp=None):
    """Phi_x(1) = d xi(1) / d xi'(0) of the geodesics through the curves X (N, M + 1, d)
    at the Lobatto nodes of :func:`_cheb`, (N, d, d) with [n, k, j] = d xi^k(1) / d u^j(0),
    from the variational equation solved by the same spectral collocation as an initial
    value problem:

        dx'' = A_x dx + A_u dx'  at the interior nodes,   dx(0) = 0,   dx'(0) = e_j,

    with A_x, A_u the Jacobians of the acceleration along the curve.  In the warped
    coordinates xi = phi(z) of :class:`Warp`: the same equation in z, then
    d xi(1) / d u(0) = diag(phi'(z(1))) dz(1) / dz'(0) diag(1 / phi'(z(0))).
    Spectrally accurate where the curve is resolved: a Newton step from a velocity
    that misses by e (relative) lands within e times its relative error."""
    N, M1, d = X.shape
    M = M1 - 1
    _, D, D2, _ = _cheb(M)
    xs, us = X[:, 1:-1].reshape(-1, d), (D[1:-1] @ X).reshape(-1, d)
    with np.errstate(all="ignore"):
        if warp is not None:
            _, Ax, Au = warp.rhs(core, xs, us, True)
        else:
            _, Ax, Au = core.jac(xs, us)
        Ax, Au = Ax.reshape(N, M - 1, d, d), Au.reshape(N, M - 1, d, d)
        eye = np.eye(d)
        # the equation at the interior nodes, the unknowns at nodes 1..M (dx(0) = 0)
        ode = _linearised(D[1:M, 1:], D2[1:M, 1:], Ax, Au).reshape(N, (M - 1) * d, M * d)
        start = (D[0, 1:][None, :, None] * eye[:, None, :]).reshape(d, M * d)
        S = np.concatenate([ode, np.broadcast_to(start, (N, d, M * d))], axis=1)
        rhs = np.zeros((N, M * d, d))
        rhs[:, (M - 1) * d:, :] = eye
        bad = ~np.all(np.isfinite(S.reshape(N, -1)), axis=1)
        S[bad] = np.eye(M * d)
        try:
            sol = np.linalg.solve(S, rhs)
        except np.linalg.LinAlgError:
            return np.full((N, d, d), np.nan)
        Phi = sol[:, (M - 1) * d:, :]
        if warp is not None:
            Phi = warp.parts(X[:, -1])[1][:, :, None] * Phi / warp.parts(X[:, 0])[1][:, None, :]
    Phi[bad] = np.nan
    return Phi


def _residual(x1, q):
    return np.max(np.abs(x1 - q) / np.maximum(1.0, np.abs(q)), axis=1)


def polish(core, x0, q, v, x1, tol=TOL, deadline=None, jacobian=None):
    """One Newton step for pairs within ``FINAL_GUESS`` of their targets: ``x1`` the
    end points of ``v`` integrated at ``RTOL``, the Jacobian Phi_x(1) given (``jacobian``
    (N, d, d), from the collocated curve: :func:`endpoint_jacobian`) or, on rows where it
    is not finite, from a loose integration (rtol 1e-6: its relative error multiplies a
    miss of ~1e-12), the new velocity certified by one integration at ``RTOL``.

    Collocated velocities of gamma land 1e-12 to 3e-12 from their targets, about the
    integrator's own error at ``RTOL``; full Newton spent two tight variational
    integrations on a correction of 1e-13 relative.  Returns (v, residual, converged),
    keeping the better of the old and the new velocity of every pair."""
    d = x0.shape[1]
    res = _residual(x1, q)
    J = np.full((len(v), d, d), np.nan) if jacobian is None else np.array(jacobian, dtype=float)
    ok = np.all(np.isfinite(J.reshape(len(J), -1)), axis=1)
    if not ok.all():
        fl = integrate(core, x0[~ok], v[~ok], variational=True, rtol=1e-6, deadline=deadline)
        J[~ok] = fl.y[:, 2 * d:2 * d + d * d].reshape(-1, d, d)
        ok[~ok] = fl.ok & np.all(np.isfinite(J[~ok].reshape(-1, d * d)), axis=1)
    if not ok.any():
        return v, res, res <= tol
    trial = v.copy()
    with np.errstate(all="ignore"):
        try:
            step = np.linalg.solve(J[ok], (x1 - q)[ok][:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            return v, res, res <= tol
    trial[ok] = v[ok] - np.where(np.isfinite(step), step, 0.0)
    fl = integrate(core, x0[ok], trial[ok], rtol=RTOL, deadline=deadline)
    rn = np.full(len(v), np.inf)
    rn[ok] = np.where(fl.ok, _residual(fl.y[:, :d], q[ok]), np.inf)
    take = rn < res
    v = np.where(take[:, None], trial, v)
    res = np.where(take, rn, res)
    return v, res, res <= tol


def newton(core, x0, q, v, tol=TOL, max_iter=40, deadline=None, loose=True):
    """Damped Newton (shooting) on xi(1; x0, v) = q for all pairs.  Returns
    (v, residual, converged, iterations); residuals measured at ``RTOL``."""
    N, d = x0.shape
    v = np.array(v, dtype=float)
    res = np.full(N, np.inf)
    res_rtol = np.full(N, 1.0)          # rtol of the integration that measured res
    J = np.full((N, d, d), np.nan)
    F = np.full((N, d), np.nan)
    have = np.zeros(N, dtype=bool)      # (res, J, F) belong to the current v
    lam = np.ones(N)
    step = np.zeros((N, d))
    conv = np.zeros(N, dtype=bool)
    failed = np.zeros(N, dtype=bool)
    iters = np.zeros(N, dtype=int)
    shrink = np.zeros(N, dtype=int)
    needJ = np.zeros(N, dtype=bool)
    for _ in range(4 * max_iter):
        active = ~conv & ~failed
        if not active.any():
            break
        if deadline is not None and time.monotonic() > deadline:
            break
        idx = np.flatnonzero(active)
        first = ~have[idx]
        # trial velocities: the current v (not yet evaluated) or a damped Newton step
        trial = np.where(first[:, None], v[idx], v[idx] - lam[idx, None] * step[idx])
        # loose integrations while the residual is large (inexact Newton)
        r_prev = np.where(np.isfinite(res[idx]), res[idx], 1.0)
        rt = np.clip(1e-3 * r_prev ** 2, RTOL, 1e-6) if loose else np.full(idx.size, RTOL)
        # a full step from a residual below FINAL_GUESS lands below tol (quadratic
        # convergence): integrate it without the variational equations (half the work)
        last = ~first & (res[idx] < FINAL_GUESS) & (lam[idx] == 1) & ~needJ[idx]
        x1 = np.full((idx.size, d), np.nan)
        Jn = np.full((idx.size, d, d), np.nan)
        fok = np.zeros(idx.size, dtype=bool)
        for grp, var in ((~last, True), (last, False)):
            if grp.any():
                fl = integrate(core, x0[idx[grp]], trial[grp], variational=var, rtol=rt[grp],
                               deadline=deadline)
                x1[grp], fok[grp] = fl.y[:, :d], fl.ok
                if var:
                    Jn[grp] = fl.y[:, 2 * d:2 * d + d * d].reshape(-1, d, d)
        rn = np.where(fok, _residual(x1, q[idx]), np.inf)
        # a final step that missed tol: redo it with the Jacobian
        redo = last & ~((rn <= tol) & (rt <= RTOL * 1.0001))
        needJ[idx[redo]] = True
        needJ[idx[~last]] = False
        rn = np.where(redo, np.nan, rn)
        flow_ok = fok & ~redo
        # first evaluations: accept whatever is finite; a guess that leaves the domain
        # is shortened (up to 12 halvings)
        f_ok = first & flow_ok
        f_bad = first & ~flow_ok
        better = ~first & flow_ok & ((rn < res[idx]) | (rn <= tol) |
                                     ((rt < res_rtol[idx]) & (rn < 2 * res[idx])))
        take = f_ok | better
        ti = idx[take]
        v[ti], res[ti], res_rtol[ti] = trial[take], rn[take], rt[take]
        J[ti], F[ti] = Jn[take], (x1 - q[idx])[take]
        have[ti] = True
        lam[ti] = 1.0
        iters[idx[better]] += 1
        bi = idx[f_bad]
        v[bi] /= 2
        shrink[bi] += 1
        failed[bi[shrink[bi] > 12]] = True
        worse = idx[~first & ~take & ~redo]
        # no progress below ACCEPT: the rounding level of the right-hand side is reached
        # (large coordinates, cancelling polygammas); the measured miss is reported
        floor = worse[(res[worse] <= max(ACCEPT, tol)) & (res_rtol[worse] <= RTOL * 1.0001)]
        conv[floor] = True
        worse = worse[~conv[worse]]
        lam[worse] /= 2
        failed[worse[lam[worse] < 1e-4]] = True
        # convergence, certified at the final tolerance
        certified = have & (res_rtol <= RTOL * 1.0001)
        conv |= certified & (res <= tol)
        conv |= certified & (iters >= max_iter) & (res <= max(ACCEPT, tol))
        failed |= ~conv & (iters >= max_iter)
        # new Newton steps where the state changed
        new = ti[~conv[ti]]
        if new.size:
            try:
                step[new] = np.linalg.solve(J[new], F[new][:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                for i in new:
                    try:
                        step[i] = np.linalg.solve(J[i], F[i])
                    except np.linalg.LinAlgError:
                        failed[i] = True
            bad = ~np.all(np.isfinite(step[new]), axis=1)
            failed[new[bad]] = True
    return v, res, conv, iters


def solve(core, x0, xq, tol=TOL, time_limit=60.0, pieces=(4, 16)):
    """log maps of all pairs (x0[n], xq[n]) by shooting, with continuation in the end
    point for the pairs plain Newton does not solve.  Returns a :class:`BatchSolution`."""
    deadline = time.monotonic() + time_limit
    x0 = np.atleast_2d(np.asarray(x0, dtype=float))
    xq = unwrap(core, x0, np.atleast_2d(np.asarray(xq, dtype=float)))
    N, d = x0.shape
    v = np.full((N, d), np.nan)  # collocated velocities; the Taylor guess where none
    okc = np.zeros(N, dtype=bool)
    resolved = np.zeros(N, dtype=bool)
    res = np.full(N, np.inf)
    conv = np.zeros(N, dtype=bool)
    tried = np.zeros(N, dtype=bool)
    iters = np.zeros(N, dtype=int)
    for M, n, warp in COLLOCATION_LADDER:  # more nodes, warped coordinates, continuation
        todo = np.flatnonzero(~resolved & ~conv)
        if todo.size == 0 or time.monotonic() > deadline:
            break
        if warp and not core.warp.any():
            continue
        col = collocate(core, x0[todo], xq[todo], M=M, pieces=n, deadline=deadline, warp=warp)
        vc, ok, res_ok = col.velocity, col.ok, col.resolved
        new = todo[ok]
        v[new] = vc[ok]
        okc[new] = True
        resolved[todo[res_ok]] = True
        # the collocated velocity is often exact to rounding: one integration certifies it
        # at once (bounded by MAX_STEPS, not by the deadline: hard pairs of the batch
        # must not starve the easy ones)
        if new.size:
            fl = integrate(core, x0[new], v[new], rtol=RTOL)
            r = np.where(fl.ok, _residual(fl.y[:, :d], xq[new]), np.inf)
            res[new] = r
            conv[new[r <= tol]] = True
            # a collocated guess just short of tol: one Newton step, its Jacobian from the
            # linearised collocation
            near = new[~conv[new] & (res[new] <= FINAL_GUESS)]
            if near.size:
                at = np.isin(new, near)
                jac = col.endpoint_jacobian(core, np.searchsorted(todo, near))
                v[near], res[near], conv[near] = polish(core, x0[near], xq[near], v[near],
                                                        fl.y[at, :d], tol, deadline, jac)
            # else (or if that missed) Newton now, before harder rungs, where the curve is
            # resolved or lands near q; a far miss of an unresolved curve goes on to the
            # next rung (Newton from 1e6 off spent the whole time limit)
            nc = new[~conv[new] & (resolved[new] | (res[new] <= NEWTON_FROM))]
            if nc.size:
                v[nc], res[nc], conv[nc], iters[nc] = newton(
                    core, x0[nc], xq[nc], v[nc], tol, deadline=deadline, loose=True)
                tried[nc] = True
    guess = np.flatnonzero(~okc)
    if guess.size:
        v[guess] = initial_guess(core, x0[guess], xq[guess])
    rest = np.flatnonzero(~conv & ~tried)
    if rest.size:
        v[rest], res[rest], conv[rest], iters[rest] = newton(
            core, x0[rest], xq[rest], v[rest], tol, deadline=deadline,
            loose=True)
    cont = np.ones(N, dtype=int)
    for n in pieces:
        todo = np.flatnonzero(~conv)
        if todo.size == 0 or time.monotonic() > deadline:
            break
        p0, pq = x0[todo], xq[todo]
        vv = (pq - p0) / n
        alive = np.ones(todo.size, dtype=bool)
        it_sum = np.zeros(todo.size, dtype=int)
        r = np.full(todo.size, np.inf)
        for k in range(1, n + 1):
            s = k / n
            a = np.flatnonzero(alive)
            if a.size == 0:
                break
            target = p0[a] + s * (pq[a] - p0[a])
            last = k == n
            va, ra, ca, ia = newton(core, p0[a], target, vv[a], tol if last else 1e-8,
                                    deadline=deadline, loose=True)
            it_sum[a] += ia
            alive[a[~ca]] = False
            r[a] = ra
            # predictor for the next target: scale the velocity with the chord
            vv[a] = va * (min(1.0, s + 1.0 / n) / s)
            if last:
                vv[a] = va
        good = alive
        gi = todo[good]
        v[gi], res[gi], conv[gi] = vv[good], r[good], True
        iters[todo] += it_sum
        cont[gi] = n
        res[todo[~good]] = np.minimum(res[todo[~good]], r[~good])
    return BatchSolution(v, res, conv, iters, cont, xq)


def speeds(core, x, v):
    """sqrt(v^T g(x) v) for every row (the length of a geodesic on [0, 1])."""
    (g,) = core.metric(np.atleast_2d(x))
    return np.sqrt(np.einsum("ni,nij,nj->n", v, g, v))
