"""Structure of a log-density in several variables: independent blocks, Gaussian and
Dirichlet kernels.

Identities, not answers: no family appears here.

* **Independent blocks.**  If the additive terms of ell(x) that involve x fall
  into groups with disjoint variables, ell = c + sum_B g_B(x_B), and the
  support is a product, the variables of different blocks are independent:

      E[prod_B f_B(x_B)] = prod_B E_B[f_B],   mass = e^c prod_B int e^{g_B}.

  Regression models (one observation per variable) are products of one-variable
  blocks.

* **Gaussian kernel.**  On R^d, ell = -1/2 x^T P x + b^T x + c with P positive
  definite integrates to

      int e^ell dx = e^c (2 pi)^(d/2) det(P)^(-1/2) exp(b^T P^-1 b / 2),

  and x ~ N(m, C) with C = P^-1, m = C b.  Every polynomial moment follows
  (:func:`gaussian_expectation`, the heat-operator identity).

* **Dirichlet kernel.**  On the simplex x_1 + ... + x_K = 1 (Lebesgue measure in
  x_1..x_{K-1}), ell = c + sum_i c_i log x_i integrates to

      e^c prod_i Gamma(c_i + 1) / Gamma(sum_i (c_i + 1)),   c_i > -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..declare.support import Box, IntegerBox, IntegerRange
from .linalg import exact_cancel, exact_det, fraction_free_inverse


def independent_blocks(expr, xs):
    """``(c, [(block_vars, g_B)])``: ``expr = c + sum g_B`` with disjoint variable sets.

    Blocks are the connected components of "appear in one additive term".
    Variables that appear in no term form no block.  Blocks are ordered by
    the first variable of each in ``xs``.
    """
    expr = sp.expand(sp.sympify(expr, strict=True), deep=False, mul=True, multinomial=True,
                     power_exp=False, power_base=False, log=False)
    position = {x: i for i, x in enumerate(xs)}
    parent = list(range(len(xs)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    const = sp.S.Zero
    terms = []
    for t in sp.Add.make_args(expr):
        vs = sorted(position[v] for v in t.free_symbols if v in position)
        if not vs:
            const += t
            continue
        terms.append((vs, t))
        for v in vs[1:]:
            parent[find(v)] = find(vs[0])
    groups = {}
    for vs, t in terms:
        root = find(vs[0])
        groups.setdefault(root, [set(), sp.S.Zero])
        groups[root][0].update(vs)
        groups[root][1] += t
    blocks = sorted(((tuple(xs[i] for i in sorted(v)), g) for v, g in groups.values()),
                    key=lambda b: position[b[0][0]])
    return const, blocks


@dataclass(frozen=True)
class GaussianForm:
    """ell = -1/2 x^T P x + b^T x + c on R^d (P symmetric)."""

    variables: tuple
    P: sp.Matrix
    b: sp.Matrix
    c: sp.Expr

    def covariance(self):
        """C = P^-1, exact (fraction-free: P often has a big common denominator)."""
        return fraction_free_inverse(self.P)

    def mean(self, C=None):
        C = self.covariance() if C is None else C
        return (C * self.b).applyfunc(exact_cancel)

    def log_mass(self):
        """log int e^ell dx = c + d/2 log 2 pi - 1/2 log det P + 1/2 b^T P^-1 b."""
        d = len(self.variables)
        C = self.covariance()
        quad = sp.cancel((self.b.T * C * self.b)[0, 0])
        return self.c + sp.Rational(d, 2) * sp.log(2 * sp.pi) - sp.log(sp.factor(exact_det(self.P))) / 2 + quad / 2


def gaussian_form(expr, xs):
    """The :class:`GaussianForm` of ``expr`` (a polynomial of degree <= 2 in ``xs``), or None.

    Coefficients may depend on anything but ``xs``; positive definiteness is
    the caller's to check (numerically, where P is numeric).
    """
    xs = tuple(xs)
    try:
        poly = sp.Poly(sp.expand(expr), *xs)
    except sp.PolynomialError:
        return None
    if poly.total_degree() > 2 or any(c.has(*xs) for c in poly.coeffs()):
        return None
    d = len(xs)
    P = sp.zeros(d, d)
    b = sp.zeros(d, 1)
    c = sp.S.Zero
    for monom, coeff in poly.terms():
        nz = [i for i, e in enumerate(monom) if e]
        deg = sum(monom)
        if deg == 0:
            c += coeff
        elif deg == 1:
            b[nz[0]] += coeff
        elif len(nz) == 1:
            P[nz[0], nz[0]] += -2 * coeff
        else:
            i, j = nz
            P[i, j] += -coeff
            P[j, i] += -coeff
    if all(P[i, i] == 0 for i in range(d)):
        return None
    return GaussianForm(xs, P, b, c)


def is_positive_definite(P):
    """Numeric P: exact Sylvester test (leading principal minors)."""
    try:
        return all(sp.nsimplify(P[:k, :k]).det() > 0 for k in range(1, P.shape[0] + 1))
    except TypeError:
        return False


MAX_GAUSSIAN_DEGREE = 12


def gaussian_expectation(f, xs, m, C):
    """E[f(x)] for x ~ N(m, C) and f a polynomial in ``xs``, or None.

    The heat-operator identity, exact for polynomials (the series stops at
    half the degree):

        E[f(x)] = sum_k (1/k!) L^k f |_{x = m},   L = 1/2 sum_ij C_ij d^2/dx_i dx_j.

    No expansion of f is needed, so coefficients that are large rational
    functions of the coordinates (a d x d inverse covariance) stay as they are.
    """
    if not f.is_polynomial(*xs):
        return None
    at_m = dict(zip(xs, m))
    total = f.xreplace(at_m)
    term = f
    for k in range(1, MAX_GAUSSIAN_DEGREE // 2 + 2):
        nxt = sp.S.Zero
        for i, xi in enumerate(xs):
            di = sp.diff(term, xi)
            if di == 0:
                continue
            for j, xj in enumerate(xs[i:], start=i):
                if C[i, j] == 0:
                    continue
                dij = sp.diff(di, xj)
                if dij != 0:
                    nxt += (C[i, j] if i == j else 2 * C[i, j]) * dij / 2
        if nxt == 0:
            return total
        term = nxt / k
        total += term.xreplace(at_m)
    return None


def dirichlet_log_mass(expr, xs):
    """log of int_simplex e^expr for expr = c + sum_i c_i log x_i (all K variables), or None."""
    expr = sp.expand(sp.expand_log(sp.sympify(expr, strict=True), force=False))
    logs = {sp.log(x): x for x in xs}
    coeffs = {x: sp.S.Zero for x in xs}
    const = sp.S.Zero
    for t in sp.Add.make_args(expr):
        c, g = t.as_independent(*xs, as_Add=False)
        if g == 1:
            const += t
        elif g in logs:
            coeffs[logs[g]] += c
        else:
            return None
    shapes = [coeffs[x] + 1 for x in xs]
    return const + sum(sp.loggamma(a) for a in shapes) - sp.loggamma(sp.Add(*shapes))


def shapes_valid(expr, xs):
    """True if the Dirichlet exponents c_i + 1 of ``expr`` are all positive (numeric)."""
    expr = sp.expand(sp.expand_log(sp.sympify(expr, strict=True), force=False))
    for x in xs:
        c = expr.coeff(sp.log(x))
        if not (c + 1).is_positive:
            return False
    return True


def sub_support(support, xs, vs):
    """The support of the variables ``vs`` (a block) inside a product ``support`` of ``xs``."""
    if not isinstance(support, (Box, IntegerBox)):
        return support
    pos = [list(xs).index(v) for v in vs]
    lo = tuple(support.lower[i] for i in pos)
    hi = tuple(support.upper[i] for i in pos)
    if isinstance(support, Box):
        return Box(lo, hi, support.periodic)
    return IntegerRange(lo[0], hi[0]) if len(vs) == 1 else IntegerBox(lo, hi)
