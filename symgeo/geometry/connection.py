"""Amari-Chentsov tensor and Amari alpha-connections.

Conventions (coordinates xi in catalog order, ell = log p(x | xi),
d_i = d / d xi_i):

* metric            g_ij = E[d_i ell d_j ell]                       (Fisher)
* Amari-Chentsov    T_ijk = E[d_i ell d_j ell d_k ell]              (fully symmetric)
* alpha-connection, first kind, last index lowered:

      Gamma^(alpha)_{ij,k} = E[(d_i d_j ell + (1 - alpha)/2 d_i ell d_j ell) d_k ell]

  alpha = 1 is the exponential (e-) connection, alpha = -1 the mixture
  (m-) connection and alpha = 0 the Levi-Civita connection of g.
* Differentiating g_ij = E[d_i ell d_j ell] under the integral gives
  d_k g_ij = Gamma^(1)_{ki,j} + Gamma^(1)_{kj,i} + T_ijk, hence

      Gamma^(0)_{ij,k} = 1/2 (d_i g_jk + d_j g_ik - d_k g_ij)      (Levi-Civita)
      Gamma^(alpha)_{ij,k} = Gamma^(0)_{ij,k} - (alpha / 2) T_ijk

  so every alpha-connection costs one set of metric derivatives and one
  tensor T: no new integral per alpha.
* second kind: Gamma^k_ij = g^{kl} Gamma_{ij,l}, returned as an Array
  indexed ``[k][i][j]`` (upper index first).

Arrays are sympy ``ImmutableDenseNDimArray``; ``A[i, j, k]`` indexing.
Symmetries are used: Gamma_{ij,k} is symmetric in (i, j) and T is fully
symmetric, so only i <= j (<= k) is computed.  Each stage is simplified
once (``symgeo.simplify.tidy``), never per step.
"""

from __future__ import annotations

import itertools

import sympy as sp

from ..declare.parse import user_value
from ..engine.simplify import tidy
from ..errors import DerivationError

Array = sp.ImmutableDenseNDimArray


def _alpha(alpha):
    a = user_value(alpha, {"alpha": sp.Symbol("alpha", real=True)}, where="alpha")
    if not (a.is_number or a.is_Symbol):
        raise DerivationError(f"alpha must be a number or a sympy symbol, got {alpha!r}")
    return sp.nsimplify(a) if a.is_Float else a


def _fill_symmetric3(d, values):
    """A (d, d, d) Array from a dict {(i <= j <= k): value}, fully symmetric."""
    out = [[[None] * d for _ in range(d)] for _ in range(d)]
    for key, v in values.items():
        for i, j, k in set(itertools.permutations(key)):
            out[i][j][k] = v
    return Array(out)


def refuse_nonsmooth(fam, quantity):
    kinks = fam.nonsmooth()
    if kinks:
        raise DerivationError(
            f"family {fam.name!r}: {quantity} is not defined by the regular theory: "
            f"log p is not differentiable in the coordinates at "
            f"{', '.join(map(str, kinks))}, so d_i d_j log p carries a point mass at the kink "
            f"and E[d_i d_j ell d_k ell] (hence the alpha-connection for alpha != 0) is "
            f"ambiguous; only the Levi-Civita connection (alpha = 0) of the Fisher metric exists")


# ----------------------------------------------------------------------
# Amari-Chentsov tensor
def _T_cumulants(fam, eng):
    """T for a full exponential family, from the log-partition (no integrals).

    With ell = theta(xi).T(x) - A and J_ai = d theta_a / d xi_i the score is
    s_i = J_ai (T_a - eta_a), so T_ijk = J_ai J_bj J_ck kappa_abc, where
    kappa_abc = d^3 A / d theta_a d theta_b d theta_c = D_a D_b eta_c is the
    third cumulant of T (D_a = d/d theta_a written in xi, as in
    :class:`symgeo.expfamily.MomentEngine`).
    """
    d = fam.dimension
    J = eng.form.jacobian
    cov = {}
    for b, c in itertools.combinations_with_replacement(range(d), 2):
        cov[(b, c)] = sp.cancel(eng.D(b, eng.eta[c]))
    kappa = {}
    for a, b, c in itertools.combinations_with_replacement(range(d), 3):
        kappa[(a, b, c)] = sp.cancel(eng.D(a, cov[(b, c)]))

    def K(a, b, c):
        return kappa[tuple(sorted((a, b, c)))]
    vals = {}
    for i, j, k in itertools.combinations_with_replacement(range(d), 3):
        vals[(i, j, k)] = sp.Add(*[J[a, i] * J[b, j] * J[c, k] * K(a, b, c)
                                   for a in range(d) for b in range(d) for c in range(d)
                                   if J[a, i] != 0 and J[b, j] != 0 and J[c, k] != 0])
    return vals, "third cumulant of the sufficient statistic from the log-partition"


def _T_gaussian(fam, m, C, P):
    """T for x ~ N(m(xi), C(xi)), precision P = C^-1 (no integrals).

    With y = x - m ~ N(0, C) the score is s_a = u_a.y + (y^T A_a y - tr(A_a C))/2,
    u_a = P d_a m and A_a = P d_a C P.  Odd moments of y vanish, E[y y^T A y] terms
    give u_a^T C A_c C u_b = d_a m^T P d_c C P d_b m, and the third cumulant of
    quadratic forms gives tr(A_a C A_b C A_c C) = tr(P d_a C P d_b C P d_c C):

        T_abc = sum over the 3 choices of c: d_a m^T P d_c C P d_b m
                + tr(P d_a C P d_b C P d_c C).
    """
    d = fam.dimension
    xi = fam.coordinates
    dm = [sp.Matrix([sp.diff(mi, c) for mi in m]) for c in xi]
    B = [P * C.diff(c) for c in xi]          # P d_a C
    Pdm = [P * v for v in dm]                # P d_a m
    vals = {}
    for a, b, c in itertools.combinations_with_replacement(range(d), 3):
        lin = sum(((dm[x].T * B[z] * Pdm[y])[0, 0]
                   for x, y, z in ((a, b, c), (a, c, b), (b, c, a))), sp.S.Zero)
        vals[(a, b, c)] = lin + (B[a] * B[b] * B[c]).trace()
    return vals, ("Gaussian identity: T_abc = sum d_a m^T P d_c C P d_b m "
                  "+ tr(P d_a C P d_b C P d_c C)")


def _T_blocks(fam):
    """T for independent observations: the third cumulant of a sum of independent
    terms is the sum of theirs.  With ell = c(xi) + sum_B g_B(x_B) and u_B = grad g_B,
    s = sum_B (u_B - E u_B), so T_abc = sum_B E[(u_Ba - m_Ba)(u_Bb - m_Bb)(u_Bc - m_Bc)]:
    n expectations of one observation instead of one of a product of n-term sums.
    None unless the density has at least two blocks."""
    eng = fam._engine
    blocks = eng.blocks()
    if blocks is None:
        return None
    d = fam.dimension
    xi = fam.coordinates
    vals = {key: sp.S.Zero for key in itertools.combinations_with_replacement(range(d), 3)}
    routes = set()
    for _, g in blocks:
        u = [sp.diff(g, c) for c in xi]
        m = []
        for a in range(d):
            res = eng.expect(u[a], what=f"E[d_{a} log p of one observation]")
            m.append(res.value)
            routes.add(res.route)
        cu = [u[a] - m[a] for a in range(d)]
        for i, j, k in vals:
            if cu[i] == 0 or cu[j] == 0 or cu[k] == 0:
                continue
            res = eng.expect(sp.expand(cu[i] * cu[j] * cu[k]),
                             what=f"T[{i},{j},{k}] of one observation")
            vals[(i, j, k)] += res.value
            routes.add(res.route)
    return vals, ("sum over independent observations of their third cumulants ("
                  + ", ".join(sorted(routes)) + ")")


def _T_expectation(fam):
    by_blocks = _T_blocks(fam)
    if by_blocks is not None:
        return by_blocks
    d = fam.dimension
    s = fam.score()
    vals = {}
    routes = set()
    for i, j, k in itertools.combinations_with_replacement(range(d), 3):
        res = fam._engine.expect(s[i] * s[j] * s[k],
                                 what=f"T[{i},{j},{k}] = E[s_{i} s_{j} s_{k}]")
        vals[(i, j, k)] = res.value
        routes.add(res.route)
    return vals, "E[s_i s_j s_k] by the expectation engine (" + ", ".join(sorted(routes)) + ")"


def _T_pullback(fam):
    parent, mapping, J = fam._parent
    Tp = parent.amari_chentsov().applyfunc(lambda e: e.xreplace(mapping))
    d, dp = fam.dimension, parent.dimension
    vals = {}
    for a, b, c in itertools.combinations_with_replacement(range(d), 3):
        vals[(a, b, c)] = sp.Add(*[Tp[i, j, k] * J[i, a] * J[j, b] * J[k, c]
                                   for i in range(dp) for j in range(dp) for k in range(dp)
                                   if Tp[i, j, k] != 0])
    return vals, f"tensor pullback T'_abc = T_ijk J^i_a J^j_b J^k_c of {parent.name!r}"


def amari_chentsov(fam):
    """T_ijk = E[d_i ell d_j ell d_k ell] as a fully symmetric (d, d, d) Array.

    Full exponential families use the third cumulant of T (no integral), families
    Gaussian in x the Gaussian identity (:func:`_T_gaussian`);
    reparameterised families pull back their parent's tensor; other families
    use the expectation engine on s_i s_j s_k (i <= j <= k only).
    """
    def compute():
        gaussian = fam._engine.gaussian() if fam._parent is None else None
        if fam._parent is not None:
            vals, how = _T_pullback(fam)
        elif gaussian is not None:
            vals, how = _T_gaussian(fam, *gaussian)
        else:
            eng = fam._engine.moments()
            vals, how = _T_cumulants(fam, eng) if eng is not None else _T_expectation(fam)
        fam._cache[("geometry", "T_route")] = how
        return _fill_symmetric3(fam.dimension, {k: tidy(v) for k, v in vals.items()})
    return fam._cached(("geometry", "T"), compute)


# ----------------------------------------------------------------------
# connections
def levi_civita(fam):
    """Gamma^(0)_{ij,k} = 1/2 (d_i g_jk + d_j g_ik - d_k g_ij), Array [i][j][k]."""
    def compute():
        g = fam.fisher()
        xi = fam.coordinates
        d = fam.dimension
        dg = [g.diff(c) for c in xi]  # dg[k][i, j] = d_k g_ij, each derivative once
        out = [[[None] * d for _ in range(d)] for _ in range(d)]
        for i, j in itertools.combinations_with_replacement(range(d), 2):
            for k in range(d):
                v = tidy((dg[i][j, k] + dg[j][i, k] - dg[k][i, j]) / 2)
                out[i][j][k] = out[j][i][k] = v
        return Array(out)
    return fam._cached(("geometry", "levi_civita"), compute)


def connection(fam, alpha=0):
    """Gamma^(alpha)_{ij,k} = Gamma^(0)_{ij,k} - alpha/2 T_ijk (first kind), Array [i][j][k]."""
    a = _alpha(alpha)
    if a == 0:
        return levi_civita(fam)
    refuse_nonsmooth(fam, f"the alpha-connection (alpha = {a})")

    def compute():
        G0 = levi_civita(fam)
        T = amari_chentsov(fam)
        d = fam.dimension
        out = [[[None] * d for _ in range(d)] for _ in range(d)]
        for i, j in itertools.combinations_with_replacement(range(d), 2):
            for k in range(d):
                v = G0[i, j, k] - a * T[i, j, k] / 2
                # a symbolic alpha stays linear in alpha, readable as is
                v = tidy(v) if a.is_number else v
                out[i][j][k] = out[j][i][k] = v
        return Array(out)
    return fam._cached(("geometry", "connection", a), compute)


def christoffel(fam, alpha=0):
    """Gamma^k_ij = g^{kl} Gamma^(alpha)_{ij,l} (second kind), Array indexed [k][i][j]."""
    a = _alpha(alpha)

    def compute():
        G = connection(fam, a)
        ginv = fam.cramer_rao()
        d = fam.dimension
        out = [[[None] * d for _ in range(d)] for _ in range(d)]
        for k in range(d):
            for i, j in itertools.combinations_with_replacement(range(d), 2):
                v = sp.Add(*[ginv[k, l] * G[i, j, l] for l in range(d)])
                v = tidy(v) if a.is_number else sp.collect(sp.expand(v), a)
                out[k][i][j] = out[k][j][i] = v
        return Array(out)
    return fam._cached(("geometry", "christoffel", a), compute)


def pullback_connection(parent, child, alpha=0):
    """Transform the parent's Gamma^(alpha) (first kind) to the child's coordinates.

    With xi = xi(zeta), J^i_a = d xi^i / d zeta^a:

        Gamma'_{ab,c} = Gamma_{ij,k}(xi(zeta)) J^i_a J^j_b J^k_c
                        + g_ij(xi(zeta)) (d_a d_b xi^i) J^j_c

    (a connection is not a tensor: the second term).  Used to check
    :func:`connection` on reparameterised families, which instead derives
    Gamma'^(0) from the pulled-back metric and pulls back T as a tensor.
    """
    par, mapping, J = child._parent
    if par is not parent:
        raise DerivationError(f"family {child.name!r} is not a reparameterisation of "
                              f"{parent.name!r}")
    G = connection(parent, alpha).applyfunc(lambda e: e.xreplace(mapping))
    g = parent.fisher().xreplace(mapping)
    xi = [mapping[c] for c in parent.coordinates]
    zeta = child.coordinates
    d, dp = child.dimension, parent.dimension
    out = [[[None] * d for _ in range(d)] for _ in range(d)]
    for a_, b in itertools.combinations_with_replacement(range(d), 2):
        hess = [sp.diff(xi[i], zeta[a_], zeta[b]) for i in range(dp)]
        for c in range(d):
            v = sp.Add(*[G[i, j, k] * J[i, a_] * J[j, b] * J[k, c]
                         for i in range(dp) for j in range(dp) for k in range(dp)])
            v += sp.Add(*[g[i, j] * hess[i] * J[j, c] for i in range(dp) for j in range(dp)])
            out[a_][b][c] = out[b][a_][c] = tidy(v)
    return Array(out)
