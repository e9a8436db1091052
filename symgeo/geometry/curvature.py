"""Curvature of the Fisher metric and of the alpha-connections.

Sign convention (Gamma^i_jk from :func:`symgeo.connection.christoffel`,
stored as ``C[i, j, k]``):

    R^i_{jkl} = d_k Gamma^i_{lj} - d_l Gamma^i_{kj}
                + Gamma^i_{km} Gamma^m_{lj} - Gamma^i_{lm} Gamma^m_{kj}

(Array ``[i][j][k][l]``), so that R(d_k, d_l) d_j = R^i_{jkl} d_i and a
round sphere has positive curvature.  Lowered form R_{ijkl} = g_im R^m_{jkl}.
Ricci Ric_jl = R^i_{jil}; scalar curvature R = g^{jl} Ric_jl.  In dimension 2
the Gaussian curvature is K = R_{0101} / det g and R = 2K (normal in
(mu, sigma): K = -1/2, R = -1).

Alpha-connections: the same formulas with Gamma^(alpha).  Exponential
families are +-1-flat (R^(+-1) = 0 in any coordinates).  For alpha != 0 the
lowered tensor is antisymmetric only in (k, l), Ric need not be symmetric.

Antisymmetry in (k, l) is used (only k < l is computed); every stage is
simplified once.  1-D families have no curvature: zero without work.
"""

from __future__ import annotations

import itertools

import sympy as sp

from ..engine.simplify import tidy
from ..errors import DerivationError
from .connection import Array, _alpha, christoffel


def _zeros(*shape):
    return sp.MutableDenseNDimArray.zeros(*shape)


def riemann(fam, alpha=0):
    """R^i_{jkl} of the alpha-connection (convention in the module docstring)."""
    a = _alpha(alpha)

    def compute():
        d = fam.dimension
        out = _zeros(d, d, d, d)
        if d == 1:
            return Array(out)
        C = christoffel(fam, a)
        xi = fam.coordinates
        dC = {}

        def dc(m, i, j, k):  # d_m Gamma^i_jk, each derivative computed once
            key = (m, i) + tuple(sorted((j, k)))
            if key not in dC:
                dC[key] = sp.diff(C[i, j, k], xi[m])
            return dC[key]
        for i, j in itertools.product(range(d), repeat=2):
            for k, l in itertools.combinations(range(d), 2):
                v = dc(k, i, l, j) - dc(l, i, k, j) + sp.Add(*[
                    C[i, k, m] * C[m, l, j] - C[i, l, m] * C[m, k, j] for m in range(d)])
                v = tidy(v)
                out[i, j, k, l] = v
                out[i, j, l, k] = -v
        return Array(out)
    return fam._cached(("geometry", "riemann", a), compute)


def riemann_lowered(fam, alpha=0):
    """R_{ijkl} = g_im R^m_{jkl}."""
    a = _alpha(alpha)

    def compute():
        d = fam.dimension
        out = _zeros(d, d, d, d)
        if d == 1:
            return Array(out)
        R = riemann(fam, a)
        g = fam.fisher()
        for i, j in itertools.product(range(d), repeat=2):
            for k, l in itertools.combinations(range(d), 2):
                v = tidy(sp.Add(*[g[i, m] * R[m, j, k, l] for m in range(d)]))
                out[i, j, k, l] = v
                out[i, j, l, k] = -v
        return Array(out)
    return fam._cached(("geometry", "riemann_lowered", a), compute)


def ricci(fam, alpha=0):
    """Ric_jl = R^i_{jil} as a d x d Matrix."""
    a = _alpha(alpha)

    def compute():
        d = fam.dimension
        if d == 1:
            return sp.zeros(1, 1)
        # contracted directly from the Christoffel symbols: d^2 tidied entries instead of
        # the d^3 (d - 1) / 2 of the whole Riemann tensor (dirichlet: 6 s -> 1 s)
        C = christoffel(fam, a)
        xi = fam.coordinates
        trace = [sp.Add(*[C[i, i, j] for i in range(d)]) for j in range(d)]
        out = sp.zeros(d, d)
        for j, l in itertools.product(range(d), repeat=2):
            if a == 0 and l < j:  # the Levi-Civita Ricci tensor is symmetric
                out[j, l] = out[l, j]
                continue
            v = sp.Add(*[sp.diff(C[i, l, j], xi[i]) for i in range(d)]) - sp.diff(trace[j], xi[l])
            v += sp.Add(*[C[i, i, m] * C[m, l, j] - C[i, l, m] * C[m, i, j]
                          for i in range(d) for m in range(d)])
            out[j, l] = tidy(v)
        return out
    return fam._cached(("geometry", "ricci", a), compute)


def scalar_curvature(fam, alpha=0):
    """R = g^{jl} Ric_jl (R = 2K in dimension 2)."""
    a = _alpha(alpha)

    def compute():
        d = fam.dimension
        if d == 1:
            return sp.S.Zero
        Ric = ricci(fam, a)
        ginv = fam.cramer_rao()
        return tidy(sp.Add(*[ginv[j, l] * Ric[j, l] for j in range(d) for l in range(d)]))
    return fam._cached(("geometry", "scalar", a), compute)


def gaussian_curvature(fam):
    """K = R_{0101} / det g of the Fisher metric (dimension 2 only)."""
    if fam.dimension != 2:
        raise DerivationError(f"family {fam.name!r}: the Gaussian curvature is defined for "
                              f"2-dimensional families; this one has dimension {fam.dimension} "
                              f"(use scalar_curvature() or riemann())")

    def compute():
        R = riemann_lowered(fam, 0)
        g = fam.fisher()
        return tidy(R[0, 1, 0, 1] / (g[0, 0] * g[1, 1] - g[0, 1] ** 2))
    return fam._cached(("geometry", "gaussian"), compute)


def sectional_curvature(fam, u, v, alpha=0):
    """K(u, v) = R_ijkl u^i v^j u^k v^l / (g(u, u) g(v, v) - g(u, v)^2), the sectional
    curvature of the plane spanned by u and v (R_ijkl = g_im R^m_jkl, the convention of
    this module, so K(u, v) = <R(u, v) v, u> / |u ^ v|^2 and a round sphere has K > 0).

    ``u``, ``v``: sequences of d sympy expressions (numbers or symbols) in coordinate
    order; the result is a sympy expression in the coordinates.  In dimension 2 it is
    the Gaussian curvature for every plane (normal in (mu, sigma): -1/2).  ``alpha``
    != 0 uses the alpha-curvature with the same formula (not symmetric in general).
    """
    a = _alpha(alpha)
    d = fam.dimension
    u = [sp.sympify(e, strict=True) for e in u]  # text went through the facade's parser
    v = [sp.sympify(e, strict=True) for e in v]
    if len(u) != d or len(v) != d:
        raise DerivationError(f"family {fam.name!r}: the plane needs two vectors of "
                              f"{d} components, got {len(u)} and {len(v)}")
    g = fam.fisher()
    guv = sp.Add(*[g[i, j] * u[i] * v[j] for i in range(d) for j in range(d)])
    guu = sp.Add(*[g[i, j] * u[i] * u[j] for i in range(d) for j in range(d)])
    gvv = sp.Add(*[g[i, j] * v[i] * v[j] for i in range(d) for j in range(d)])
    den = guu * gvv - guv ** 2
    if d == 1 or den == 0:
        raise DerivationError(f"family {fam.name!r}: u and v do not span a plane")
    R = riemann_lowered(fam, a)
    # R_ijkl is antisymmetric in (k, l): sum over k < l of R_ijkl (u^k v^l - u^l v^k)
    num = sp.Add(*[R[i, j, k, l] * u[i] * v[j] * (u[k] * v[l] - u[l] * v[k])
                   for i in range(d) for j in range(d)
                   for k, l in itertools.combinations(range(d), 2)])
    return tidy(num / den)
