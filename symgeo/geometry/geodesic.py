"""Geodesics, exponential and logarithm maps, Fisher-Rao distance.

Equations (Gamma^k_ij from :func:`symgeo.connection.christoffel`, second kind,
Array [k][i][j]):

    xi''^k = - Gamma^k_ij xi'^i xi'^j            (second order), or
    xi'^k = u^k,  u'^k = - Gamma^k_ij u^i u^j      (first order, state (xi, u)).

``exp_map(p, v, t)`` integrates the first-order system numerically (scipy
``solve_ivp``, DOP853, rtol 1e-12, dense output) with the right-hand side of
the compiled core (:mod:`symgeo.geometry.geodesic_numeric`: numpy code printed
once per family and alpha from the symbolic Christoffel symbols, no sympy per
call); ``alpha != 0`` gives alpha-geodesics.

``log_map(p, q)`` solves the boundary-value problem xi(0) = p, xi(1) = q with
that core: Chebyshev collocation (from the e-geodesic of an exponential
family, else the chord), certified by one integration that measures the
endpoint miss, then shooting (Newton on the exact Jacobian from the
variational equations, continuation in the end point) where needed; angles
(circle domains) are unwrapped to the copy of q nearest p.  Work is bounded
(steps per integration and a wall-clock ``time_limit``).  The Fisher-Rao
distance of the geodesic found is sqrt(v^T g(p) v) (constant speed on
[0, 1]).  Results carry ``converged`` and ``residual``; a failed solve
returns ``converged=False`` and a message, never a silent number.

Batches: ``fisher_rao_distance_batch``, ``log_map_batch`` and
``exp_map_batch`` take (N, d) arrays of points (the Family methods route
arrays there) and return a :class:`GeodesicBatch`; ``parallel_transport``
(:mod:`symgeo.geometry.transport`) transports vectors along geodesics.

``geodesic_path(p, q, alpha, n)`` samples the whole curve: for alpha = +-1
on a full exponential family the straight line in the affine coordinates
theta resp. eta (exact, no ODE), otherwise shooting and dense output.

``exp_map_mp`` (``Family.exp_map(..., dps=30)``) is an independent
high-precision route: mpmath's Taylor ODE solver on the exact Christoffel
symbols.  Shooting finds
*a* geodesic: on negatively curved (Hadamard) manifolds it is the unique,
minimising one; elsewhere it is a local minimiser.

Closed forms, derived from the structure of the metric (never a per-family
table) and used automatically by ``fisher_rao_distance``:

* dimension 1: d = |F(q) - F(p)| with F' = sqrt(g) (sympy antiderivative
  under the CPU budget, checked numerically; else mpmath quadrature);
* probability simplex: g = n (diag(1/p_i) + 1/p_k 1 1^T), p_k = 1 - sum p_i,
  n constant.  p -> 2 sqrt(n) (sqrt p_1, ..., sqrt p_k) is an isometry onto
  a sphere of radius 2 sqrt(n), so d = 2 sqrt(n) arccos(sum_i sqrt(p_i q_i));
* location-scale: g = (1/s^2) [[a, c], [c, b]] with a, b, c constants and s
  a positive coordinate (m the other one).  With D = b - c^2/a,
  X = sqrt(a/D) (m + c s / a), Y = s the metric is D (dX^2 + dY^2)/Y^2, a
  hyperbolic half-plane of curvature -1/D, so
  d = sqrt(D) arccosh(1 + ((X_p - X_q)^2 + (Y_p - Y_q)^2) / (2 Y_p Y_q)).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from math import factorial

import mpmath as mp
import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp
from scipy.special import digamma, zeta

from ..declare.parse import user_value
from ..engine import budget
from ..errors import BudgetExceeded, DerivationError, SymgeoError
from . import geodesic_numeric as _gn
from . import transport as _transport
from .connection import _alpha, amari_chentsov, christoffel, refuse_nonsmooth


# ----------------------------------------------------------------------
# symbolic equations
@dataclass
class GeodesicEquations:
    """The geodesic system of one connection.

    ``second_order``: list of Eq(xi_k''(t), -Gamma^k_ij xi_i'(t) xi_j'(t));
    ``state`` (xi_1..xi_d, u_1..u_d) and ``rhs``: the first-order system
    d state / dt = rhs, in the family's coordinates and velocity symbols u_k.
    """

    alpha: sp.Expr
    t: sp.Symbol
    functions: tuple
    second_order: list
    state: tuple
    rhs: tuple

    def __str__(self):
        return "\n".join(sp.sstr(e) for e in self.second_order)


def geodesic_equations(fam, alpha=0):
    """Symbolic geodesic equations of the alpha-connection (see the module docstring)."""
    a = _alpha(alpha)

    def compute():
        C = christoffel(fam, a)
        d = fam.dimension
        xi = fam.coordinates
        t = sp.Symbol("t", real=True)
        u = tuple(sp.Symbol(f"u_{c.name}", real=True) for c in xi)
        acc = [-sp.Add(*[C[k, i, j] * u[i] * u[j] for i in range(d) for j in range(d)])
               for k in range(d)]
        funcs = tuple(sp.Function(c.name)(t) for c in xi)
        sub = dict(zip(xi, funcs))
        sub.update({u[i]: funcs[i].diff(t) for i in range(d)})
        second = [sp.Eq(funcs[k].diff(t, 2), acc[k].xreplace(sub)) for k in range(d)]
        return GeodesicEquations(a, t, funcs, second, tuple(xi) + u, tuple(u) + tuple(acc))
    return fam._cached(("geometry", "geodesic_equations", a), compute)


# ----------------------------------------------------------------------
# numerics
def _polygamma(n, x):
    # scipy.special.polygamma is a Python wrapper (~10 us a call); the ufuncs
    # behind it are what an ODE right-hand side evaluated thousands of times needs
    n = int(n)
    return digamma(x) if n == 0 else (-1) ** (n + 1) * factorial(n) * zeta(n + 1, x)


def _lambdify(args, expr):
    return sp.lambdify(args, expr, modules=[{"polygamma": _polygamma}, "numpy", "scipy"],
                       cse=True)


class _Numeric:
    """Numeric metric, Christoffel symbols and their derivatives (built once per alpha).

    The symbolic Christoffel symbols of a polygamma metric (beta, dirichlet)
    are large and their derivatives larger still; the ODE right-hand side is
    instead assembled in numpy from small lambdified pieces, g, d_m g_ij,
    d_m d_n g_ij and (alpha != 0) T_ijk, d_m T_ijk:

        Gamma_{ij,l} = 1/2 (d_i g_jl + d_j g_il - d_l g_ij) - alpha/2 T_ijl
        Gamma^k_ij = g^{kl} Gamma_{ij,l},   d_m g^{-1} = -g^{-1} (d_m g) g^{-1}.
    """

    def __init__(self, fam, alpha):
        self.fam = fam
        self.alpha = float(alpha)
        d = self.d = fam.dimension
        xi = fam.coordinates
        g = fam.fisher()
        dg = [[[sp.diff(g[i, j], xi[m]) for j in range(d)] for i in range(d)] for m in range(d)]
        ddg = [[[[sp.diff(dg[m][i][j], xi[n]) for j in range(d)] for i in range(d)]
                for n in range(d)] for m in range(d)]
        pieces = [g.tolist(), dg, ddg]
        if self.alpha != 0:
            T = amari_chentsov(fam)
            pieces.append(T.tolist())
            pieces.append([[[[sp.diff(T[i, j, k], xi[m]) for k in range(d)] for j in range(d)]
                            for i in range(d)] for m in range(d)])
        self._pieces = _lambdify(xi, pieces)
        self._g = _lambdify(xi, g.tolist())
        # domain: coordinate intervals and constraints as "h(xi) > 0"
        hs = []
        for c in xi:
            dom = fam.domains[c]
            if dom.name == "circle":
                continue  # an angle wraps around: crossing +-pi is not leaving the domain
            lo, hi = sp.sympify(dom.lower, strict=True), sp.sympify(dom.upper, strict=True)
            if lo.is_finite:
                hs.append(c - lo)
            if hi.is_finite:
                hs.append(hi - c)
        for con in fam.constraints:
            if isinstance(con, (sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan,
                                sp.GreaterThan)):
                hs.append(con.gts - con.lts)
        self._h = [_lambdify(xi, h) for h in hs]

    def _eval(self, x):
        d = self.d
        with np.errstate(all="ignore"):
            out = self._pieces(*x)
            g, dg, ddg = (np.asarray(out[k], dtype=float).reshape((d,) * (2 + k))
                          for k in range(3))
            gi = np.linalg.inv(g)
            G1 = 0.5 * (np.einsum("ijl->ijl", dg) + np.einsum("jil->ijl", dg)
                        - np.einsum("lij->ijl", dg))
            dG1 = 0.5 * (np.einsum("mijl->mijl", ddg) + np.einsum("mjil->mijl", ddg)
                         - np.einsum("mlij->mijl", ddg))
            if self.alpha != 0:
                T = np.asarray(out[3], dtype=float).reshape((d,) * 3)
                dT = np.asarray(out[4], dtype=float).reshape((d,) * 4)
                G1 = G1 - self.alpha / 2 * T
                dG1 = dG1 - self.alpha / 2 * dT
        return g, gi, dg, G1, dG1

    def C(self, x):
        _, gi, _, G1, _ = self._eval(x)
        return np.einsum("kl,ijl->kij", gi, G1)

    def C_dC(self, x):
        _, gi, dg, G1, dG1 = self._eval(x)
        dgi = -np.einsum("ab,mbc,cd->mad", gi, dg, gi)
        C = np.einsum("kl,ijl->kij", gi, G1)
        dC = np.einsum("mkl,ijl->mkij", dgi, G1) + np.einsum("kl,mijl->mkij", gi, dG1)
        return C, dC

    def g(self, x):
        return np.asarray(self._g(*x), dtype=float)

    def inside(self, x):
        return all(float(h(*x)) > 0 for h in self._h) and np.all(np.isfinite(x))

    def events(self, d, offset=0):
        evs = []
        for h in self._h:
            def ev(t, y, h=h):
                return float(h(*y[:d]))
            ev.terminal = True
            ev.direction = -1
            evs.append(ev)
        return evs


def require_numeric(fam, what):
    """Refuse numeric work while a fixed hyper-parameter is still a symbol."""
    free = sorted(v.name for v in fam.fixed.values() if isinstance(v, sp.Symbol))
    if free:
        raise SymgeoError(f"family {fam.name!r}: {what} needs numeric values of the fixed "
                          f"parameter(s) {', '.join(free)} (e.g. get_family({fam.name!r}, "
                          f"{free[0]}=10) or --fixed {free[0]}=10); symbolic results such as "
                          "distance_formula() do not")


def _numeric(fam, alpha):
    require_numeric(fam, "a numeric geodesic")
    alpha = _alpha(alpha)
    if not alpha.is_number:
        raise SymgeoError(f"family {fam.name!r}: numeric geodesics need a numeric alpha, "
                          f"got {alpha}")
    if alpha != 0:
        refuse_nonsmooth(fam, f"the alpha-geodesic (alpha = {alpha})")
    return fam._cached(("geometry", "numeric", alpha), lambda: _Numeric(fam, alpha))


def _as_vector(fam, point, what="point"):
    d = fam.dimension
    if isinstance(point, dict):
        by_name = {(k if isinstance(k, str) else k.name): v for k, v in point.items()}
        try:
            vals = [by_name[c.name] for c in fam.coordinates]
        except KeyError as exc:
            raise SymgeoError(f"family {fam.name!r}: {what} has no value for coordinate "
                              f"{exc.args[0]}") from None
    else:
        vals = list(np.atleast_1d(point))
    if len(vals) != d:
        raise SymgeoError(f"family {fam.name!r}: {what} needs {d} coordinates "
                          f"({', '.join(c.name for c in fam.coordinates)}), got {len(vals)}")
    if all(isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, bool)
           and math.isfinite(v) for v in vals):
        return np.array(vals, dtype=float)  # numbers already: no sympy round trip per call
    vals = [user_value(v, where=f"family {fam.name!r}: {what}") for v in vals]
    return np.array([float(sp.N(v)) for v in vals], dtype=float)


RTOL = 1e-12


@dataclass
class ExpMapResult:
    """exp_p(t v): ``point`` and ``velocity`` at time t, the dense ``solution``
    (callable on [0, t], returns (xi, u)), ``ok`` and a ``message``."""

    point: np.ndarray
    velocity: np.ndarray
    solution: object
    ok: bool
    message: str


def exp_map(fam, p, v, t=1.0, alpha=0, rtol=RTOL):
    """Integrate the geodesic from p with initial velocity v up to time t."""
    core = _core(fam, alpha)
    d = fam.dimension
    x0, v0 = _as_vector(fam, p), _as_vector(fam, v, "velocity")
    if not core.inside(x0[None])[0]:
        raise SymgeoError(f"family {fam.name!r}: the point {list(x0)} is outside the domain")

    calls = [0]

    def rhs(_, y):
        # a geodesic that touches the boundary tangentially (a great circle of the
        # simplex sphere meets p_i = 0 quadratically) never fires the event: the step
        # size collapses instead.  Bounded work turns that into a reported failure.
        calls[0] += 1
        if calls[0] > MAX_RHS_CALLS:
            raise _StepsCollapsed(y[:d])
        x, u = y[None, :d], y[None, d:]
        return np.concatenate([u[0], core.acc(x, u)[0][0]])
    try:
        sol = solve_ivp(rhs, (0.0, float(t)), np.concatenate([x0, v0]), method="DOP853",
                        rtol=rtol, atol=rtol * 1e-2, dense_output=True, events=core.events())
    except _StepsCollapsed as exc:
        x = np.asarray(exc.args[0], dtype=float)
        return ExpMapResult(x, np.full(d, np.nan), None, False,
                            "the geodesic leaves the domain before t (the step size "
                            f"collapsed near its boundary at {[round(float(c), 12) for c in x]})")
    y = sol.y[:, -1]
    ok = sol.status == 0 and bool(np.all(np.isfinite(y)))
    msg = "ok" if ok else ("the geodesic leaves the domain before t"
                           if sol.status == 1 else sol.message)
    return ExpMapResult(y[:d], y[d:], sol.sol, ok, msg)


MAX_RHS_CALLS = 20000
"""Right-hand-side evaluations allowed to one exp_map integration (about 1600 steps)."""


class _StepsCollapsed(Exception):
    pass


def exp_map_mp(fam, p, v, t=1, alpha=0, dps=30):
    """exp_p(t v) at ``dps`` digits: mpmath's Taylor-series ODE solver (mp.odefun) on
    the exact symbolic Christoffel symbols.  Slower than :func:`exp_map`; an
    independent high-precision route.  Returns (point, velocity) as lists of mpf."""
    a = _alpha(alpha)
    require_numeric(fam, "a numeric geodesic")
    d = fam.dimension
    C = christoffel(fam, a)
    Cf = sp.lambdify(fam.coordinates, [[[C[k, i, j] for j in range(d)] for i in range(d)]
                                       for k in range(d)], "mpmath")
    with mp.workdps(dps + 10):
        x0 = [mp.mpf(sp.N(sp.nsimplify(x) if not isinstance(x, sp.Basic) else x, dps + 15))
              for x in _exact(fam, p)]
        v0 = [mp.mpf(sp.N(sp.nsimplify(x) if not isinstance(x, sp.Basic) else x, dps + 15))
              for x in _exact(fam, v)]

        def F(_, y):
            x, u = y[:d], y[d:]
            c = Cf(*x)
            return list(u) + [-mp.fsum(c[k][i][j] * u[i] * u[j] for i in range(d)
                                       for j in range(d)) for k in range(d)]
        sol = mp.odefun(F, 0, x0 + v0)
        y = sol(mp.mpf(sp.N(t, dps + 15)))
        return [+e for e in y[:d]], [+e for e in y[d:]]


@dataclass
class GeodesicResult:
    """A boundary-value answer: ``distance`` (float, Fisher-Rao length of the
    geodesic found), ``converged``, ``method`` ("closed form" or "shooting"),
    ``detail`` (formula or solver report), ``velocity`` (the initial velocity,
    i.e. log_p(q), when solved numerically), ``residual`` |xi(1) - q| and
    ``iterations``."""

    distance: float | None
    converged: bool
    method: str
    detail: str
    velocity: np.ndarray | None = None
    residual: float | None = None
    iterations: int = 0
    formula: sp.Expr | None = None
    notes: list = field(default_factory=list)


def _core(fam, alpha):
    """The compiled numeric core of the alpha-connection (built once per family and alpha)."""
    require_numeric(fam, "a numeric geodesic")
    a = _alpha(alpha)
    if not a.is_number:
        raise SymgeoError(f"family {fam.name!r}: numeric geodesics need a numeric alpha, "
                          f"got {a}")
    if a != 0:
        refuse_nonsmooth(fam, f"the alpha-geodesic (alpha = {a})")
    return fam._cached(("geometry", "core", a),
                       lambda: _gn.build_core(fam, a, christoffel(fam, a)))


def _check_inside(fam, core, X, what):
    ok = core.inside(X)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        where = f" (row {i})" if len(X) > 1 else ""
        raise SymgeoError(f"family {fam.name!r}: the {what} point {list(X[i])}{where} is "
                          "outside the domain")


def _solver_detail(sol, i, time_limit):
    if sol.converged[i]:
        if sol.iterations[i] == 0:
            how = ("Chebyshev collocation, certified by one DOP853 integration (rtol "
                   f"{_gn.RTOL:g})")
        else:
            cont = ("" if sol.continuation[i] == 1 else
                    f", continuation in the end point in {sol.continuation[i]} steps")
            how = (f"collocation guess, shooting (Newton with variational equations, "
                   f"DOP853 rtol {_gn.RTOL:g}{cont})")
        return (f"{how}: |xi(1) - q| = {sol.residual[i]:.1e} after {sol.iterations[i]} "
                "Newton steps")
    return (f"shooting did not converge (residual {sol.residual[i]:.1e} after "
            f"{sol.iterations[i]} Newton steps, continuation in the end point, time limit "
            f"{time_limit:g} s): no geodesic from p to q was found inside the domain")


def log_map(fam, p, q, alpha=0, tol=1e-12, time_limit=60.0):
    """Initial velocity v with exp_p(v) = q by shooting on the compiled core
    (:func:`symgeo.geometry.geodesic_numeric.solve`): a GeodesicResult.

    Angles (circle domains) are unwrapped so that the target is the copy of q
    nearest to p.  Gives up after ``time_limit`` seconds with converged=False.
    """
    core = _core(fam, alpha)
    x0 = _as_vector(fam, p)[None, :]
    xq = _as_vector(fam, q, "target point")[None, :]
    _check_inside(fam, core, x0, "start")
    _check_inside(fam, core, xq, "target")
    sol = _gn.solve(core, x0, xq, tol=tol, time_limit=time_limit)
    notes = ([f"continuation in the end point in {sol.continuation[0]} steps"]
             if sol.converged[0] and sol.continuation[0] > 1 else [])
    return GeodesicResult(None, bool(sol.converged[0]), "shooting",
                          _solver_detail(sol, 0, time_limit), sol.velocity[0],
                          float(sol.residual[0]), int(sol.iterations[0]), notes=notes)


@dataclass
class GeodesicBatch:
    """Answers for N pairs (arrays, pair axis first): ``distance`` (N,) (NaN where not
    converged), ``converged`` (N,) bool, ``residual`` (N,) relative endpoint miss
    (0 for closed forms), ``velocity`` (N, d) log_p(q) (None for closed forms),
    ``iterations`` (N,), ``method`` and ``detail``.  ``np.asarray(batch)`` is the
    distances; a batch never raises for a pair that fails, it reports it."""

    distance: np.ndarray
    converged: np.ndarray
    residual: np.ndarray
    method: str
    detail: str
    velocity: np.ndarray | None = None
    iterations: np.ndarray | None = None

    def __len__(self):
        return len(self.distance)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.distance, dtype=dtype)


def as_points(fam, P, what="points"):
    """An (N, d) float array of points (rows in coordinate order)."""
    X = np.asarray(P, dtype=float)
    d = fam.dimension
    if X.ndim == 1 and d == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != d:
        raise SymgeoError(f"family {fam.name!r}: {what} must be an array of shape (N, {d}) "
                          f"({', '.join(c.name for c in fam.coordinates)}), got shape "
                          f"{X.shape}")
    return X


def is_batch(fam, p):
    """True for an (N, d) array of points (a batch), False for one point."""
    if isinstance(p, dict):
        return False
    return np.ndim(p) == 2 or (fam.dimension == 1 and np.ndim(p) == 1 and len(p) != 1)


def log_map_batch(fam, P, Q, alpha=0, tol=1e-12, time_limit=600.0):
    """log_p(q) for N pairs at once (vectorised shooting): a :class:`GeodesicBatch` with
    ``velocity`` and the Fisher length of each geodesic in ``distance``."""
    core = _core(fam, alpha)
    X0, XQ = as_points(fam, P), as_points(fam, Q, "target points")
    if X0.shape != XQ.shape:
        raise SymgeoError(f"family {fam.name!r}: {len(X0)} start points but {len(XQ)} "
                          "targets")
    _check_inside(fam, core, X0, "start")
    _check_inside(fam, core, XQ, "target")
    sol = _gn.solve(core, X0, XQ, tol=tol, time_limit=time_limit)
    dist = np.where(sol.converged, _gn.speeds(_core(fam, 0), X0, sol.velocity), np.nan)
    bad = int((~sol.converged).sum())
    n0 = int((sol.converged & (sol.iterations == 0)).sum())
    detail = (f"batched Chebyshev collocation certified by one DOP853 integration (rtol "
              f"{_gn.RTOL:g}) for {n0} pairs, then shooting (Newton with variational "
              f"equations) for the rest: {len(X0) - bad}/{len(X0)} converged, max residual "
              f"{np.max(sol.residual, initial=0):.1e}")
    return GeodesicBatch(dist, sol.converged, sol.residual, "shooting", detail,
                         sol.velocity, sol.iterations)


def exp_map_batch(fam, P, V, t=1.0, alpha=0, rtol=RTOL):
    """exp_p(t v) for N pairs at once: (points (N, d), velocities (N, d), ok (N,)); rows
    whose geodesic leaves the domain are NaN with ok False."""
    core = _core(fam, alpha)
    X0, V0 = as_points(fam, P), as_points(fam, V, "velocities")
    _check_inside(fam, core, X0, "start")
    flow = _gn.integrate(core, X0, V0, t1=float(t), rtol=rtol)
    d = fam.dimension
    return flow.y[:, :d], flow.y[:, d:2 * d], flow.ok


def fisher_rao_distance_batch(fam, P, Q, method="auto", time_limit=600.0):
    """Fisher-Rao distances of N pairs (rows of P and Q): a :class:`GeodesicBatch`.
    Closed forms (vectorised numpy) when the metric has one, else batched shooting."""
    if method not in ("auto", "closed", "numeric"):
        raise SymgeoError("method must be 'auto', 'closed' or 'numeric'")
    require_numeric(fam, "a numeric Fisher-Rao distance")
    X0, XQ = as_points(fam, P), as_points(fam, Q, "target points")
    if method in ("auto", "closed"):
        form = distance_formula(fam)
        if form is not None and not form.numeric_1d:
            f = fam._cached(("geometry", "closed_numpy"), lambda: sp.lambdify(
                form.p_syms + form.q_syms, form.expr,
                modules=[{"polygamma": _polygamma}, "numpy", "scipy"], cse=True))
            with np.errstate(all="ignore"):
                dist = np.broadcast_to(np.asarray(f(*X0.T, *XQ.T), dtype=float),
                                       (len(X0),)).copy()
            ok = np.isfinite(dist)
            return GeodesicBatch(dist, ok, np.where(ok, 0.0, np.nan), "closed form",
                                 form.detail)
        if form is not None and form.numeric_1d:
            res = [_evaluate_closed(fam, form, list(a), list(b)) for a, b in zip(X0, XQ)]
            dist = np.array([r.distance for r in res])
            return GeodesicBatch(dist, np.ones(len(dist), bool), np.zeros(len(dist)),
                                 "closed form", form.detail)
        if method == "closed":
            raise DerivationError(f"family {fam.name!r}: no closed-form Fisher-Rao distance; "
                                  "use method='numeric'")
    return log_map_batch(fam, X0, XQ, time_limit=time_limit)


# ----------------------------------------------------------------------
# closed forms from the metric structure
@dataclass
class ClosedForm:
    """d(p, q) = ``expr`` in symbols ``p_syms`` / ``q_syms`` (coordinate order)."""

    kind: str
    expr: sp.Expr
    p_syms: tuple
    q_syms: tuple
    detail: str
    numeric_1d: bool = False


def _point_symbols(fam, suffix):
    return tuple(sp.Symbol(f"{c.name}_{suffix}", **c.assumptions0) for c in fam.coordinates)


def _is_const(e, coords):
    return not (sp.cancel(e).free_symbols & set(coords))


def _simplex_form(fam, g, P, Q):
    xi = fam.coordinates
    d = fam.dimension
    if not all(sp.sympify(fam.domains[c].lower, strict=True) == 0 and sp.sympify(fam.domains[c].upper, strict=True) == 1
               for c in xi):
        return None
    last = 1 - sp.Add(*xi)
    n = sp.cancel(g[0, 0] / (1 / xi[0] + 1 / last))
    if not _is_const(n, xi):
        return None
    for i, j in itertools.combinations_with_replacement(range(d), 2):
        model = n * ((1 / xi[i] if i == j else 0) + 1 / last)
        if sp.cancel(g[i, j] - model) != 0:
            return None
    cos = sp.Add(*[sp.sqrt(P[i] * Q[i]) for i in range(d)]) + \
        sp.sqrt((1 - sp.Add(*P)) * (1 - sp.Add(*Q)))
    expr = 2 * sp.sqrt(n) * sp.acos(cos)
    return ClosedForm("sphere", expr, P, Q,
                      f"metric n (diag(1/p_i) + 1/p_k 1 1^T) with n = {n} on the simplex: "
                      f"p -> 2 sqrt(n) sqrt(p) is an isometry onto a sphere of radius "
                      f"2 sqrt({n}); d = 2 sqrt(n) arccos(sum_i sqrt(p_i q_i))")


def _location_scale_form(fam, g, P, Q):
    xi = fam.coordinates
    if fam.dimension != 2:
        return None
    for si in (1, 0):
        s, m = xi[si], xi[1 - si]
        if not fam.domains[s].positive:
            continue
        a, c, b = (sp.cancel(g[1 - si, 1 - si] * s ** 2), sp.cancel(g[0, 1] * s ** 2),
                   sp.cancel(g[si, si] * s ** 2))
        if not all(_is_const(e, xi) for e in (a, b, c)):
            continue
        D = sp.factor(b - c ** 2 / a)

        def X(pt):
            return sp.sqrt(a / D) * (pt[1 - si] + c * pt[si] / a)
        Yp, Yq = P[si], Q[si]
        expr = sp.sqrt(D) * sp.acosh(1 + ((X(P) - X(Q)) ** 2 + (Yp - Yq) ** 2) / (2 * Yp * Yq))
        return ClosedForm("hyperbolic", expr, P, Q,
                          f"metric (1/{s}^2)[[a, c], [c, b]] with a = {a}, c = {c}, b = {b} "
                          f"(location {m}, scale {s}): the shear X = sqrt(a/D)({m} + c {s}/a), "
                          f"Y = {s}, D = b - c^2/a = {D}, gives D (dX^2 + dY^2)/Y^2, a "
                          f"hyperbolic half-plane of curvature -1/D; "
                          f"d = sqrt(D) arccosh(1 + |(X, Y)_p - (X, Y)_q|^2 / (2 Y_p Y_q))")
    return None


def _antiderivative_job(integrand, var):
    return sp.integrate(integrand, var)


def _one_dim_form(fam, g, P, Q):
    xi = fam.coordinates[0]
    root = sp.sqrt(sp.factor(g[0, 0]))
    try:
        F = budget.run_with_budget(_antiderivative_job, root, xi, seconds=10,
                            what=f"antiderivative of sqrt(g) for {fam.name!r}")
    except BudgetExceeded:
        F = None
    if F is not None and not F.has(sp.Integral, sp.Piecewise):
        # sympy's antiderivatives are occasionally wrong: check F' = sqrt(g) at
        # generic points (symbolic hyper-parameters get generic values too)
        check = sp.diff(F, xi) - root
        others = {s_: sp.Rational(7 + i, 3) for i, s_ in
                  enumerate(sorted(check.free_symbols - {xi}, key=lambda e: e.name))}
        rng = random.Random(7)
        try:
            with mp.workdps(30):
                ok = True
                for _ in range(3):
                    at = {xi: fam.random_point(rng)[xi], **others}
                    err = abs(sp.N(check.xreplace(at), 30))
                    ok = ok and err < 1e-20 * max(1, abs(sp.N(root.xreplace(at), 30)))
        except (TypeError, ValueError, ZeroDivisionError):
            ok = False
        if ok:
            expr = sp.Abs(F.xreplace({xi: Q[0]}) - F.xreplace({xi: P[0]}))
            return ClosedForm("1-d", expr, P, Q,
                              f"dimension 1: d = |F(q) - F(p)| with F = {F} "
                              f"(F' = sqrt(g) = {root})")
    f_num = sp.lambdify(xi, root, "mpmath")
    return ClosedForm("1-d", sp.Integral(root, (xi, P[0], Q[0])), P, Q,
                      "dimension 1: d = |integral of sqrt(g) from p to q| "
                      "(no antiderivative within budget; mpmath quadrature)",
                      numeric_1d=f_num)


def distance_formula(fam):
    """The closed-form Fisher-Rao distance derived from the metric structure, or None."""
    def compute():
        # only g is needed, so non-smooth log-densities (laplace) are fine here
        g = fam.fisher()
        P, Q = _point_symbols(fam, "p"), _point_symbols(fam, "q")
        for rule in (_simplex_form, _location_scale_form):
            form = rule(fam, g, P, Q)
            if form is not None:
                return form
        if fam.dimension == 1:
            return _one_dim_form(fam, g, P, Q)
        return None
    return fam._cached(("geometry", "distance_formula"), compute)


def fisher_rao_distance(fam, p, q, method="auto"):
    """Fisher-Rao distance between two points as a :class:`GeodesicResult`.

    ``method``: "auto" (closed form when the metric has one of the structures
    in the module docstring, else shooting), "closed" or "numeric".
    """
    if method not in ("auto", "closed", "numeric"):
        raise SymgeoError("method must be 'auto', 'closed' or 'numeric'")
    require_numeric(fam, "a numeric Fisher-Rao distance")
    x0, xq = _as_vector(fam, p), _as_vector(fam, q, "target point")
    if method in ("auto", "closed"):
        form = distance_formula(fam)
        if form is not None:
            return _evaluate_closed(fam, form, p, q)
        if method == "closed":
            raise DerivationError(f"family {fam.name!r}: no closed-form Fisher-Rao distance "
                                  "(the metric is not 1-dimensional, spherical (simplex) or "
                                  "hyperbolic (location-scale)); use method='numeric'")
    res = log_map(fam, x0, xq)
    if res.converged:
        res.distance = float(_gn.speeds(_core(fam, 0), x0[None], res.velocity[None])[0])
    return res


def _exact(fam, point):
    if isinstance(point, dict):
        by_name = {(k if isinstance(k, str) else k.name): v for k, v in point.items()}
        vals = [by_name[c.name] for c in fam.coordinates]
    else:
        vals = list(np.atleast_1d(point))
    return [sp.nsimplify(v) if not isinstance(v, sp.Basic) else v for v in vals]


def _evaluate_closed(fam, form, p, q):
    pv, qv = _exact(fam, p), _exact(fam, q)
    if form.numeric_1d:
        with mp.workdps(30):
            val = abs(mp.quad(form.numeric_1d, [mp.mpf(sp.N(pv[0], 35)), mp.mpf(sp.N(qv[0], 35))]))
        return GeodesicResult(float(val), True, "closed form", form.detail, formula=form.expr)
    sub = dict(zip(form.p_syms, pv))
    sub.update(zip(form.q_syms, qv))
    val = sp.N(form.expr.xreplace(sub), 30)
    if not val.is_real:
        raise DerivationError(f"family {fam.name!r}: the closed-form distance is not real at "
                              f"these points ({val}); are both points inside the domain?")
    return GeodesicResult(float(val), True, "closed form", form.detail, formula=form.expr)


# ----------------------------------------------------------------------
# whole curves
@dataclass
class GeodesicPath:
    """Samples of the alpha-geodesic from p (t = 0) to q (t = 1), affinely parameterised:
    ``t`` (n,), ``points`` (n, d) in coordinate order, ``method`` how it was obtained."""

    alpha: sp.Expr
    t: np.ndarray
    points: np.ndarray
    method: str


def _flat_coordinates(fam, alpha):
    """(forward map xi -> affine coordinates, explicit inverse or None, its symbols, name)
    for alpha = +-1 on a full exponential family, else None."""
    if alpha not in (1, -1):
        return None
    try:
        st = fam.exponential_family()
    except (DerivationError, AttributeError):
        return None
    if st.kind != "full":
        return None
    if alpha == 1:
        return st.natural, st.coordinates_of_theta, st.theta, "theta"
    return st.mean, st.coordinates_of_eta, st.eta, "eta"


def geodesic_path(fam, p, q, alpha=0, n=101):
    """The alpha-geodesic from p to q sampled at n equally spaced affine parameters.

    alpha = 1 (e) and alpha = -1 (m) on a full exponential family: the
    connection is flat with affine coordinates theta (alpha = 1) resp.
    eta = grad A (alpha = -1), so the geodesic is the straight line
    theta(t) = (1 - t) theta_p + t theta_q (resp. in eta), mapped back to the
    coordinates by the structure's explicit inverse xi(theta) / xi(eta), or by
    Newton's method (mpmath.findroot, continued from the previous sample) when
    the inverse is not explicit.  Any other case: shooting (:func:`log_map`)
    and the dense output of :func:`exp_map`.
    """
    a = _alpha(alpha)
    require_numeric(fam, "a geodesic path")
    x0, x1 = _as_vector(fam, p), _as_vector(fam, q, "target point")
    ts = np.linspace(0.0, 1.0, int(n))
    flat = _flat_coordinates(fam, a)
    if flat is not None:
        fwd, inverse_map, syms, name = flat
        xi = fam.coordinates
        F = sp.lambdify(xi, list(fwd), modules=[{"polygamma": _polygamma}, "numpy", "scipy"])
        ya, yb = np.asarray(F(*x0), dtype=float), np.asarray(F(*x1), dtype=float)
        ys = (1 - ts)[:, None] * ya + ts[:, None] * yb
        if inverse_map is not None:
            inv = sp.lambdify(syms, [inverse_map[c] for c in xi], "numpy")
            with np.errstate(all="ignore"):
                pts = np.stack([np.broadcast_to(np.asarray(v, dtype=float), ts.shape)
                                for v in inv(*ys.T)], axis=-1)
            how = f"explicit xi({name})"
        else:
            Fm = sp.lambdify(xi, list(fwd), "mpmath")
            Jm = sp.lambdify(xi, [[sp.diff(e, c) for c in xi] for e in fwd], "mpmath")
            pts, cur = [], [mp.mpf(v) for v in x0]
            with mp.workdps(25):
                for y in ys:
                    try:
                        if fam.dimension == 1:
                            cur = [mp.findroot(lambda z: Fm(z)[0] - y[0], cur[0],
                                               df=lambda z: Jm(z)[0][0], solver="newton")]
                        else:
                            cur = list(mp.findroot(
                                lambda *z: [u - v for u, v in zip(Fm(*z), y)], cur,
                                J=lambda *z: Jm(*z)))
                    except (ValueError, ZeroDivisionError) as exc:
                        raise SymgeoError(f"family {fam.name!r}: could not invert {name}(xi) "
                                          f"along the alpha = {a} geodesic ({exc})") from None
                    pts.append([float(mp.re(v)) for v in cur])
            pts = np.array(pts)
            how = f"Newton inverse of {name}(xi)"
        pts[0], pts[-1] = x0, x1
        conn = "e" if a == 1 else "m"
        return GeodesicPath(a, ts, pts, f"straight line in the {conn}-affine coordinates "
                                        f"{name} ({how})")
    res = log_map(fam, x0, x1, a)
    if not res.converged:
        raise SymgeoError(f"family {fam.name!r}: no alpha = {a} geodesic from p to q was "
                          f"found ({res.detail})")
    em = exp_map(fam, x0, res.velocity, 1.0, a)
    pts = np.array([em.solution(t)[:fam.dimension] for t in ts])
    return GeodesicPath(a, ts, pts, "shooting (log_map) and the dense exp_map solution")


# ----------------------------------------------------------------------
# parallel transport
def parallel_transport(fam, p, w, v=None, q=None, t=1.0, alpha=0):
    """Transport the vector(s) w from p along the alpha-geodesic with initial velocity v
    up to time t, or (``q`` instead of ``v``) along the geodesic from p to q (log map
    first, t = 1).  One point: p (d,), w (d,) or (k, d); a batch: p (N, d), w (N, d) or
    (N, k, d).  Returns a :class:`symgeo.geometry.transport.Transport` (numeric, see
    that module for the equations; alpha = 0 preserves the Fisher inner product)."""
    if (v is None) == (q is None):
        raise SymgeoError("parallel_transport needs exactly one of v (initial velocity) "
                          "or q (end point)")
    core = _core(fam, alpha)
    batch = is_batch(fam, p)
    X0 = as_points(fam, p if batch else _as_vector(fam, p)[None])
    _check_inside(fam, core, X0, "start")
    W = np.asarray(w, dtype=float)
    if not batch:
        W = W[None]
    if W.shape[-1] != fam.dimension or W.shape[0] != len(X0):
        raise SymgeoError(f"family {fam.name!r}: vectors to transport must have shape "
                          f"({'N, ' if batch else ''}[k, ]{fam.dimension}), got "
                          f"{np.asarray(w).shape}")
    if q is not None:
        XQ = as_points(fam, q if batch else _as_vector(fam, q, "target point")[None])
        _check_inside(fam, core, XQ, "target")
        sol = _gn.solve(core, X0, XQ)
        if not sol.converged.all():
            bad = int((~sol.converged).sum())
            raise SymgeoError(f"family {fam.name!r}: no geodesic found for {bad} of "
                              f"{len(X0)} pairs (max residual {sol.residual.max():.1e}); "
                              "transport along an initial velocity v instead")
        V, t = sol.velocity, 1.0
    else:
        V = as_points(fam, v if batch else np.asarray(v, dtype=float)[None], "velocities")
    res = _transport.parallel_transport(core, X0, V, W, t1=float(t))
    if not batch:
        res = _transport.Transport(res.vectors[0], res.point[0], res.velocity[0],
                                   bool(res.ok[0]))
    return res
