"""Natural gradient, Fisher (natural-gradient) flow and the KL trust-region step.

For a loss L(xi) (a sympy expression in the family's coordinates):

* natural gradient      ngrad L = g^{-1} grad L          (d x 1 Matrix, g = Fisher)
* Fisher flow           d xi / dt = - g^{-1} grad L       (steepest descent in the
  Fisher metric; invariant under reparameterisation: the flows in two
  coordinate systems describe the same curve of distributions)
* trust-region step     Delta = - sqrt(2 delta / (grad L^T g^{-1} grad L)) g^{-1} grad L,
  the steepest-descent step of the local quadratic KL model
  KL(p_xi || p_{xi + Delta}) ~ 1/2 Delta^T g Delta = delta.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

from ..declare.parse import parse_formula
from ..engine.simplify import tidy
from ..errors import SymgeoError
from .geodesic import require_numeric


def _loss(fam, loss):
    if isinstance(loss, str):
        # strings go through the safe parser, with the family's own symbols
        # (sympify would read "beta" or "gamma" as special functions)
        loss = parse_formula(loss, {c.name: c for c in fam.coordinates},
                             where=f"family {fam.name!r}: loss")
    L = sp.sympify(loss, strict=True)
    by_name = {c.name: c for c in fam.coordinates}
    # a loss written with plain Symbol("mu") is rebound to the family's own symbols
    L = L.xreplace({s: by_name[s.name] for s in L.free_symbols
                    if s.name in by_name and s not in fam.coordinates})
    stray = L.free_symbols - set(fam.coordinates)
    if stray:
        raise SymgeoError(f"family {fam.name!r}: the loss may depend only on the coordinates "
                          f"({', '.join(c.name for c in fam.coordinates)}); it also has "
                          f"{', '.join(sorted(s.name for s in stray))}")
    return L


def gradient(fam, loss):
    L = _loss(fam, loss)
    return sp.Matrix([sp.diff(L, c) for c in fam.coordinates])


def natural_gradient(fam, loss):
    """g^{-1} grad L as a d x 1 Matrix (simplified once)."""
    grad = gradient(fam, loss)
    return (fam.cramer_rao() * grad).applyfunc(tidy)


def as_point(fam, xi):
    if isinstance(xi, dict):
        by = {(k if isinstance(k, str) else k.name): v for k, v in xi.items()}
        return [by[c.name] for c in fam.coordinates]
    vals = list(np.atleast_1d(xi))
    if len(vals) != fam.dimension:
        raise SymgeoError(f"family {fam.name!r}: a point needs {fam.dimension} coordinates")
    return vals


def fisher_flow(fam, loss, xi0, t, rtol=1e-11):
    """Integrate d xi/dt = -g^{-1} grad L from xi0 up to time t (scipy DOP853).

    Returns (xi(t) as a numpy array, the scipy solution with dense output).
    """
    require_numeric(fam, "the Fisher flow")
    ng = natural_gradient(fam, loss)
    f = sp.lambdify(fam.coordinates, list(ng), modules=["numpy", "scipy"])
    x0 = np.array([float(sp.N(v)) for v in as_point(fam, xi0)])
    sol = solve_ivp(lambda _, x: -np.asarray(f(*x), dtype=float), (0.0, float(t)), x0,
                    method="DOP853", rtol=rtol, atol=rtol * 1e-2, dense_output=True)
    if sol.status != 0:
        raise SymgeoError(f"family {fam.name!r}: the Fisher flow failed ({sol.message})")
    return sol.y[:, -1], sol


def trust_region_step(fam, loss, xi, delta):
    """(new point, step) of the natural-gradient step with local KL budget ``delta``.

    Exact rational/symbolic arithmetic up to the square root; the point is a
    dict coordinate -> value.
    """
    pt = dict(zip(fam.coordinates, [sp.nsimplify(v) for v in as_point(fam, xi)]))
    grad = gradient(fam, loss).xreplace(pt)
    ng = fam.cramer_rao().xreplace(pt) * grad
    quad = (grad.T * ng)[0, 0]
    if quad == 0:
        return pt, sp.zeros(fam.dimension, 1)
    step = -sp.sqrt(2 * sp.nsimplify(delta) / quad) * ng
    new = {c: pt[c] + step[i] for i, c in enumerate(fam.coordinates)}
    if not fam.in_domain({c: sp.N(v, 30) for c, v in new.items()}):
        raise SymgeoError(f"family {fam.name!r}: the trust-region step of size delta = {delta} "
                          "leaves the domain; use a smaller delta")
    return new, step


# ----------------------------------------------------------------------
# empirical Fisher
def empirical_fisher(fam, samples, xi, diagonal=False):
    """Empirical Fisher matrix at ``xi`` from samples x_1..x_N (numpy, vectorised):

        F_emp(xi) = (1/N) sum_n s(x_n; xi) s(x_n; xi)^T,   s_i = d log p(x | xi) / d xi_i,

    a (d, d) float array in the family's coordinate order.  ``diagonal=True``
    keeps only the diagonal (1/N) sum_n s_i(x_n; xi)^2 (the diagonal
    approximation used by Adam-like and K-FAC-like optimisers), returned as a
    (d, d) diagonal array.

    When the x_n are drawn from p(. | xi) itself, F_emp -> g(xi) = E_xi[s s^T]
    (the Fisher matrix) as N -> oo, with O(N^-1/2) error.  Under a
    misspecified model (x_n ~ q not in the family) it converges instead to
    E_q[s s^T], which is *not* the Fisher information at any point; e.g. for
    a normal fitted by moment matching (mu = E_q x, sigma^2 = Var_q x) to q:

        E_q[s s^T] - g = [[0, m3/sigma^5], [m3/sigma^5, (m4/sigma^4 - 3)/sigma^2]]

    with m_k the k-th central moment of q (coordinates (mu, sigma)).

    ``samples``: shape (N,) for one random variable, (N, k) for k variables
    (last axis in the family's variable order).  ``xi``: a dict coordinate
    (symbol or name) -> value, or a sequence in coordinate order.  The score
    is the family's compiled numpy function ``family.numeric("score")``.
    """
    require_numeric(fam, "the empirical Fisher matrix")
    x = np.asarray(samples, dtype=float)
    k = len(fam.variables)
    if k == 1:
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise SymgeoError(f"family {fam.name!r}: empirical Fisher needs samples of shape "
                              f"(N,) for the variable {fam.variables[0].name}, got {x.shape}")
    elif x.ndim != 2 or x.shape[1] != k:
        raise SymgeoError(f"family {fam.name!r}: empirical Fisher needs samples of shape (N, {k}) "
                          f"(variables {', '.join(v.name for v in fam.variables)}), got {x.shape}")
    n = x.shape[0]
    if n == 0:
        raise SymgeoError(f"family {fam.name!r}: empirical Fisher needs at least one sample")
    vals = [float(sp.N(v)) for v in as_point(fam, xi)]
    pt = dict(zip(fam.coordinates, [sp.nsimplify(v) for v in vals]))
    if not fam.in_domain(pt):
        raise SymgeoError(f"family {fam.name!r}: empirical Fisher at {vals}: the point is "
                          "outside the domain of the coordinates")
    s = np.asarray(fam.numeric("score")(x, *vals), dtype=float).reshape(n, fam.dimension)
    bad = ~np.all(np.isfinite(s), axis=1)
    if bad.any():
        first = x[np.argmax(bad)]
        raise SymgeoError(f"family {fam.name!r}: the score is not finite at {int(bad.sum())} of "
                          f"{n} samples (first: {first}); are the samples inside the support "
                          f"({fam.support.describe(fam.variables)})?")
    if diagonal:
        return np.diag(np.einsum("ni,ni->i", s, s) / n)
    return s.T @ s / n
