"""Independent numeric oracle: expectations under a family's *declared* density.

Nothing here uses the symbolic engine: the integrand is the declared
log-density (and derivatives taken by sympy.diff), integrated by mpmath at
high precision with rules chosen by the support:

* finite supports: exact enumeration; infinite integer ranges: mpmath.nsum;
* one real variable: mpmath.quad (tanh-sinh) split at the coordinate values;
* R^k: tensor Gauss-Hermite centred on the mode with the curvature of the
  log-density there (exact for a Gaussian times a polynomial);
* the 2-simplex: a tanh-sinh product rule on the unit square
  (x1 = u, x2 = (1 - u) v), which tolerates the endpoint singularities.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import sympy as sp

from symgeo.declare.support import Box, Compositions, FiniteValues, IntegerRange, Simplex


def _num(e, dps):
    return mp.mpf(sp.N(e, dps + 10)) if e.is_real is not False else mp.mpc(sp.N(e, dps + 10))


def _points(support, nvars):
    if isinstance(support, FiniteValues):
        return [(v,) for v in support.values]
    if isinstance(support, IntegerRange) and sp.sympify(support.upper).is_finite:
        return [(sp.Integer(k),) for k in range(int(support.lower), int(support.upper) + 1)]
    if isinstance(support, Compositions):
        n = int(support.total)
        return [h + (n - sum(h),) for h in itertools.product(range(n + 1), repeat=nvars - 1)
                if sum(h) <= n]
    return None


def _gauss_hermite(n):
    J = mp.matrix(n, n)
    for k in range(1, n):
        J[k, k - 1] = J[k - 1, k] = mp.sqrt(mp.mpf(k) / 2)
    E, Q = mp.eigsy(J)
    return [(E[i], mp.sqrt(mp.pi) * Q[0, i] ** 2) for i in range(n)]


def _tanh_sinh_unit(h, kmax):
    """Nodes u in (0, 1), with 1 - u computed separately, and weights."""
    out = []
    for k in range(-kmax, kmax + 1):
        t = k * h
        s = mp.pi / 2 * mp.sinh(t)
        u = 1 / (1 + mp.exp(-2 * s))
        one_minus_u = 1 / (1 + mp.exp(2 * s))
        w = h * mp.pi / 2 * mp.cosh(t) / mp.cosh(s) ** 2 / 2
        out.append((u, one_minus_u, w))
    return out


def expect(family, exprs, point, dps=35, cuts=()):
    """[E[f] for f in exprs] at ``point`` (dict coordinate -> Rational).

    ``cuts``: extra points where an integrand has a kink (e.g. |x - mu_q|).
    """
    xs = family.variables
    sub = dict(point)
    logp = family.log_density.xreplace(sub)
    fs = [sp.sympify(f).xreplace(sub) for f in exprs]
    sup = family.support
    with mp.workdps(dps + 15):
        pts = _points(sup, len(xs))
        if pts is not None:
            tot = [mp.mpf(0)] * len(fs)
            for p in pts:
                s = dict(zip(xs, p))
                w = _num(sp.exp(logp.xreplace(s)), dps)
                for i, f in enumerate(fs):
                    tot[i] += _num(f.xreplace(s), dps) * w
            return tot
        # constants (polygamma, Bessel values at the point) are evaluated once
        lp = sp.lambdify(xs, sp.N(logp, dps + 15), "mpmath")
        fl = [sp.lambdify(xs, sp.N(f, dps + 15), "mpmath") for f in fs]
        if isinstance(sup, IntegerRange):
            mass = _memo(lambda k: mp.exp(lp(k)))
            return [mp.nsum(lambda k, g=g: g(k) * mass(k), [int(sup.lower), mp.inf])
                    for g in fl]
        if isinstance(sup, Box) and len(xs) == 1:
            lo = mp.mpf(sp.N(sup.lower[0], dps + 15)) if sup.lower[0].is_finite else -mp.inf
            hi = mp.mpf(sp.N(sup.upper[0], dps + 15)) if sup.upper[0].is_finite else mp.inf
            cuts = sorted({mp.mpf(sp.N(v, dps + 15)) for v in list(point.values()) + list(cuts)
                           if lo < mp.mpf(sp.N(v, dps + 15)) < hi})
            cutoff = -40 * (dps + 15)
            if lo > -mp.inf and not sup.periodic:
                return _mapped(fl, lp, lo, hi, cuts, dps)
            density = _memo(lambda x: None if mp.re(lp(x)) < cutoff else mp.exp(lp(x)))

            def integrand(g):
                def h(x):
                    w = density(x)
                    return 0 if w is None else g(x) * w
                return h
            return [mp.quad(integrand(g), [lo] + cuts + [hi]) for g in fl]
        if isinstance(sup, Box):
            return _gauss_hermite_nd(xs, logp, fl, lp, dps)
        if isinstance(sup, Simplex) and len(xs) == 3:
            # one call per node for the density and every integrand, with their common
            # subexpressions (log x_i, ...) evaluated once
            both = sp.lambdify(xs, [sp.N(logp, dps + 15)] + [sp.N(f, dps + 15) for f in fs],
                               "mpmath", cse=True)
            return _simplex(both, len(fs), dps)
    raise NotImplementedError(type(sup).__name__)


def _memo(fn):
    """``fn`` remembered per node: the quadratures of several integrands under one
    density visit the same nodes, so the density is evaluated once per node."""
    cache = {}

    def get(x):
        if x not in cache:
            cache[x] = fn(x)
        return cache[x]
    return get


def _mapped(fl, lp, lo, hi, cuts, dps):
    """[E[g] for g in fl] over (lo, hi) after a substitution x(u) on a finite u-range.

    (lo, oo): x = lo + e^u; (lo, hi): x = lo + (hi - lo) / (1 + e^-u).
    Algebraic tails (inverse gamma, weibull with a small shape) and
    densities singular at an end point (beta with a shape below 1) decay
    only like e^{-c|u|} after the substitution; tanh-sinh on a finite range
    cut into short pieces resolves them to full precision.  The range ends
    where the u-density falls below 10^-(dps + 25), which the
    polynomial-in-u factors of a score cannot undo.
    """
    floor = -(dps + 25) * mp.log(10)
    if hi == mp.inf:
        def x_of(u):
            return lo + mp.exp(u), u
        inner = sorted(mp.log(c - lo) for c in cuts)
    else:
        width = hi - lo

        def x_of(u):
            # both 1 - sigma and sigma kept to full relative precision
            e = mp.exp(-abs(u))
            small = e / (1 + e)
            x = lo + width * small if u < 0 else hi - width * small
            return x, mp.log(width) - abs(u) - 2 * mp.log1p(e)
        inner = sorted(mp.log((c - lo) / (hi - c)) for c in cuts)
    inner = inner or [mp.mpf(0)]

    base = mp.mp.dps

    def logw(u):
        # near a finite end x carries |u| / ln 10 leading digits of hi or lo
        with mp.workdps(base + int(abs(u) / 2.3) + 5):
            x, logjac = x_of(u)
            return mp.re(lp(x)) + logjac

    def reach(start, sign):
        step = mp.mpf(1)
        while step < 1e5:
            u = start + sign * step
            if logw(u) < floor and logw(u + sign) < floor:
                return u
            step *= 1.5
        raise RuntimeError("oracle: density does not decay at the end of the support")

    a, b = reach(inner[0], -1), reach(inner[-1], 1)
    nodes = sorted(set([a] + inner + [b]))
    pieces = []
    for left, right in zip(nodes, nodes[1:]):
        n = max(1, int(mp.ceil((right - left) / 4)))
        pieces += [left + (right - left) * i / n for i in range(n)]
    pieces.append(b)

    def node(u):
        lw = logw(u)
        if lw < 2 * floor:
            return None
        with mp.workdps(base + int(abs(u) / 2.3) + 5):
            return x_of(u)[0], mp.exp(lw)
    node = _memo(node)

    def integrand(g):
        def h(u):
            xw = node(u)
            if xw is None:
                return 0
            with mp.workdps(base + int(abs(u) / 2.3) + 5):
                return g(xw[0]) * xw[1]
        return h
    return [mp.quad(integrand(g), pieces) for g in fl]


def _gauss_hermite_nd(xs, logp, fl, lp, dps, n=12):
    k = len(xs)
    grad = [sp.diff(logp, x) for x in xs]
    H = sp.hessian(logp, xs)
    g_num = sp.lambdify(xs, grad, "mpmath")
    H_num = sp.lambdify(xs, H, "mpmath")
    m = mp.matrix([0] * k)
    for _ in range(60):  # Newton for the mode
        step = mp.lu_solve(mp.matrix(H_num(*m)), mp.matrix(g_num(*m)))
        m = m - step
        if mp.norm(step) < mp.mpf(10) ** (-dps - 5):
            break
    C = -mp.inverse(mp.matrix(H_num(*m)))
    L = mp.cholesky(C)
    nodes = _gauss_hermite(n)
    scale = mp.sqrt(2) ** k * mp.det(L)
    tot = [mp.mpf(0)] * len(fl)
    for combo in itertools.product(nodes, repeat=k):
        y = mp.matrix([c[0] for c in combo])
        w = mp.fprod(c[1] for c in combo)
        x = m + mp.sqrt(2) * (L * y)
        dens = mp.exp(lp(*x) + sum(c[0] ** 2 for c in combo))
        for i, f in enumerate(fl):
            tot[i] += w * f(*x) * dens * scale
    return tot


def _simplex(both, nf, dps):
    # t up to 4.6 reaches u ~ 1e-70: needed when a concentration is below 1
    # (the density is then singular at the boundary and the tail is not small)
    h = mp.mpf(1) / 24
    rule = _tanh_sinh_unit(h, 110)
    tot = [mp.mpf(0)] * nf
    for u, omu, wu in rule:
        for v, omv, wv in rule:
            x1, x2, x3 = u, omu * v, omu * omv
            lp, *vals = both(x1, x2, x3)
            w = wu * wv * mp.exp(lp) * omu
            for i, f in enumerate(vals):
                tot[i] += w * f
    return tot


def dirichlet_sectional(a, u, v):
    """K(u, v) of the Dirichlet Fisher metric g_ij = psi1(a_i) delta_ij - psi1(a_0) from the
    metric's derivatives in mpmath (R(u, v)v, u with R^l_ijk = d_i G^l_jk - d_j G^l_ik +
    G^l_im G^m_jk - G^l_jm G^m_ik): independent of symgeo's symbolic pipeline."""
    d = len(a)
    a0 = sum(a)

    def dg(order, i, j, *ms):  # d^order g_ij / d a_m1 ... (order = len(ms))
        own = mp.psi(order + 1, a[i]) if i == j and all(m == i for m in ms) else 0
        return own - mp.psi(order + 1, a0)

    g = mp.matrix([[dg(0, i, j) for j in range(d)] for i in range(d)])
    gi = g ** -1
    R = range(d)
    first = [[[(dg(1, j, k, i) + dg(1, i, k, j) - dg(1, i, j, k)) / 2 for k in R] for j in R]
             for i in R]  # Gamma_ij,k
    second = [[[sum(gi[l, k] * first[i][j][k] for k in R) for j in R] for i in R] for l in R]
    # d_m Gamma^l_ij = d_m(g^lk) Gamma_ij,k + g^lk d_m Gamma_ij,k, d_m g^-1 = -g^-1 (d_m g) g^-1
    def d_second(m, l, i, j):
        dgm = mp.matrix([[dg(1, p, q, m) for q in R] for p in R])
        dgi = -gi * dgm * gi
        dfirst = [(dg(2, j, k, i, m) + dg(2, i, k, j, m) - dg(2, i, j, k, m)) / 2 for k in R]
        return sum(dgi[l, k] * first[i][j][k] + gi[l, k] * dfirst[k] for k in R)

    num = 0
    for i, j, k, l, p in itertools.product(R, R, R, R, R):
        coef = u[i] * v[j] * v[k] * u[p] * g[l, p]
        if coef == 0:
            continue
        Rl = (d_second(i, l, j, k) - d_second(j, l, i, k)
              + sum(second[l][i][m] * second[m][j][k] - second[l][j][m] * second[m][i][k]
                    for m in R))
        num += coef * Rl
    def ip(x, y):
        return sum(g[i, j] * x[i] * y[j] for i in R for j in R)
    return num / (ip(u, u) * ip(v, v) - ip(u, v) ** 2)
