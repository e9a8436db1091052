"""Score, Fisher information (both classical forms), Cramer-Rao, Jeffreys.

Conventions: coordinates xi in catalog order; ell = log p(x | xi);
score s_i = d ell / d xi_i (a d x 1 column); Fisher g_ij = E[s_i s_j]
(the definition).  Under the usual regularity (ell twice differentiable in
xi for almost every x, derivative and integral exchangeable) also
g_ij = -E[d_i d_j ell], which is cheaper: it is linear in the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..engine.expectation import Expectation
from ..engine.linalg import inverse
from ..engine.simplify import fine_exponents, tidy, tidy_matrix
from ..printing import fisher_result_latex

_NONSMOOTH = (sp.Abs, sp.sign, sp.Heaviside, sp.Piecewise, sp.Max, sp.Min, sp.floor,
              sp.ceiling, sp.DiracDelta)


def score_vector(log_density, coords):
    """s = grad_xi ell as a d x 1 Matrix."""
    return sp.Matrix([sp.diff(log_density, c) for c in coords])


def hessian_matrix(log_density, coords):
    """d_i d_j ell in the classical (pointwise, almost-everywhere) sense.

    Point masses that sympy produces when differentiating |x - mu| or
    sign(x - mu) (DiracDelta terms) are dropped: they live on a null set,
    which is exactly why -E[Hessian] can differ from E[s s^T].
    """
    d = len(coords)
    H = sp.zeros(d, d)
    for i in range(d):
        for j in range(i, d):
            h = sp.diff(log_density, coords[i], coords[j])
            h = h.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
            H[i, j] = H[j, i] = h
    return H


def nonsmooth_points(log_density, coords):
    """Sub-expressions that make ell non-differentiable in a coordinate (|x - mu|, ...)."""
    found = []
    for node in sp.preorder_traversal(log_density):
        if isinstance(node, _NONSMOOTH) and node.free_symbols & set(coords):
            found.append(node)
    return found


@dataclass
class FisherResult:
    """The Fisher matrix with its provenance.

    ``form`` is "score" (E[s s^T]) or "hessian" (-E[grad^2 ell]); ``routes``
    maps each entry (i, j), i <= j, to the expectation route that gave it;
    ``notes`` explains choices (e.g. why the Hessian form was not used).
    """

    matrix: sp.Matrix
    form: str
    routes: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def route_summary(self):
        names = sorted({r.route for r in self.routes.values()})
        return ", ".join(names) if names else "constant"

    def _repr_latex_(self):
        return fisher_result_latex(self)


def expected_matrix(engine, M, symmetric=True, label="entry"):
    """Entrywise expectation of a matrix of functions of x; returns (matrix, routes)."""
    d1, d2 = M.shape
    out = sp.zeros(d1, d2)
    routes = {}
    for i in range(d1):
        for j in range(d2):
            if symmetric and j < i:
                out[i, j] = out[j, i]
                continue
            res = engine.expect(M[i, j], what=f"{label} ({i}, {j})")
            out[i, j] = res.value
            routes[(i, j)] = res
    return out, routes


def fisher_score_form(engine, score):
    """E[s s^T], simplified once at the end."""
    M, routes = expected_matrix(engine, score * score.T, label="E[s s^T] entry")
    return tidy_matrix(M, symmetric=True), routes


def fisher_gaussian_form(m, C, P, coords):
    """The Gaussian Fisher identity for x ~ N(m(xi), C(xi)) with precision P = C^-1:

        I_ab = d_a m^T P d_b m + 1/2 tr(P d_a C P d_b C).

    It holds for every family whose log-density is quadratic in x on R^d
    (multivariate normal of any dimension, Gaussian regression and curved
    Gaussian models): no expectation is taken.  Returns (matrix, routes).
    """
    d = len(coords)
    Jm = [sp.Matrix([sp.diff(mi, c) for mi in m]) for c in coords]
    PdC = [P * C.diff(c) for c in coords]
    out = sp.zeros(d, d)
    routes = {}
    detail = "x ~ N(m, C): I_ab = d_a m^T C^-1 d_b m + tr(C^-1 d_a C C^-1 d_b C)/2"
    for a in range(d):
        for b in range(a, d):
            val = (Jm[a].T * P * Jm[b])[0, 0] + (PdC[a] * PdC[b]).trace() / 2
            out[a, b] = out[b, a] = val
            routes[(a, b)] = Expectation(val, "Gaussian Fisher identity", detail)
    return tidy_matrix(out, symmetric=True), routes


def fisher_hessian_form(engine, hessian):
    """-E[grad^2 ell] (classical Hessian), simplified once at the end."""
    M, routes = expected_matrix(engine, -hessian, label="-E[Hessian] entry")
    return tidy_matrix(M, symmetric=True), routes


def cramer_rao_bound(fisher):
    """I^{-1}: the covariance lower bound of unbiased estimators of xi."""
    if fisher.shape[0] == 1:
        inv = sp.Matrix([[1 / fisher[0, 0]]])
    elif any(fine_exponents(e) for e in fisher):
        # sums over observations with e^{b x_i}: polynomial arithmetic would take
        # e^{b/1000} as its generator; the adjugate needs none
        inv = fisher.adjugate(method="berkowitz") / fisher.det(method="berkowitz")
    else:
        inv = inverse(fisher)
    return tidy_matrix(inv, symmetric=True)


def jeffreys_density(fisher):
    """sqrt(det I), the unnormalised Jeffreys prior."""
    det = tidy(fisher.det(method="berkowitz"))
    return tidy(sp.sqrt(det))


def entries_agree(A, B):
    """Symbolic equality of two matrices, entry by entry."""
    return all(sp.simplify(a - b) == 0 for a, b in zip(A, B))
