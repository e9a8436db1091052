"""Exponential-family form detected from a declared log-density: the moment route.

A log-density is in canonical form when it splits as

    log p(x | xi) = sum_i theta_i(xi) T_i(x) - A(xi) + log h(x)

with every additive term a product of a factor in xi alone and a factor in
x alone.  The split is read off the expanded log-density; no hint is needed.
``k`` sufficient statistics and ``d`` coordinates give three cases:

* ``full``: k = d and the Jacobian J_ij = d theta_i / d xi_j is invertible.
  Then the mean parameters solve J^T eta = grad_xi A (E[score] = 0) and every
  moment of T follows from the recursion

      E[T_i g(x)] = D_i E[g] + eta_i E[g],   D_i = sum_j (J^{-1})_{ji} d/dxi_j,

  (D_i is d/dtheta_i written in the coordinates xi), so the expectation of
  any polynomial in T needs no integral at all.
* ``curved``: k > d (e.g. N(theta, theta^2)); moments need another route.
* ``none``: some term mixes x and xi inseparably (cauchy, weibull, ...).

The structure a user sees (θ, T, A, h, η, A*) is derived from this form in
:mod:`symgeo.divergence.expfamily`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import sympy as sp

from .linalg import exact_det, inverse


@dataclass
class CanonicalForm:
    kind: str                      # "full", "curved" or "none"
    statistics: tuple = ()         # T_i(x)
    natural: tuple = ()            # theta_i(xi)
    log_partition: sp.Expr = sp.S.Zero   # A(xi)
    log_base: sp.Expr = sp.S.Zero        # log h(x)
    reason: str = ""
    jacobian: sp.Matrix | None = None    # J_ij = d theta_i / d xi_j
    _extra: dict = field(default_factory=dict)

    @property
    def is_exponential(self):
        return self.kind in ("full", "curved")


def _split_term(term, xvars, coords):
    c, g = term.as_independent(*xvars, as_Add=False)
    return c, g


def canonical_form(log_density, xvars, coords):
    """Split ``log_density`` (already reduced to free variables) into canonical form."""
    # expand_trig splits cos(x - mu) into cos(x)cos(mu) + sin(x)sin(mu): the
    # von Mises shape, an exponential family in (cos x, sin x)
    expr = sp.expand(sp.expand_trig(sp.expand_log(sp.expand_power_base(log_density))))
    coord_set = set(coords)
    theta = {}
    order = []
    log_h = sp.S.Zero
    A = sp.S.Zero
    for term in sp.Add.make_args(expr):
        c, g = _split_term(term, xvars, coords)
        if g == 1:
            A -= c
            continue
        if g.free_symbols & coord_set:
            return CanonicalForm("none", reason=f"the term {term} does not separate into "
                                                 "a function of the parameters times a statistic")
        if not (c.free_symbols & coord_set):
            log_h += term
            continue
        # constant parts of the coefficient belong to the base measure
        const = sp.Add(*[t for t in sp.Add.make_args(sp.expand(c))
                         if not (t.free_symbols & coord_set)])
        if const != 0:
            log_h += const * g
            c = sp.expand(c - const)
        if g not in theta:
            theta[g] = sp.S.Zero
            order.append(g)
        theta[g] += c
    if not order:
        return CanonicalForm("none", reason="the log-density has no term coupling x and the parameters")
    order = sorted(order, key=sp.default_sort_key)
    T = tuple(order)
    nat = tuple(sp.factor(theta[g]) for g in order)
    J = sp.Matrix([[sp.diff(t, c) for c in coords] for t in nat])
    k, d = len(T), len(coords)
    form = CanonicalForm("curved", T, nat, A, log_h, jacobian=J)
    if k > d:
        form.reason = f"{k} sufficient statistics for {d} coordinates: a curved exponential family"
        return form
    if k < d:
        form.kind = "none"
        form.reason = (f"only {k} sufficient statistics for {d} coordinates: "
                       "the coordinates are not identifiable")
        return form
    if _rank_deficient(J, coords):
        form.reason = "the natural parameters are not a local diffeomorphism (det J = 0)"
        form.kind = "none"
        return form
    form.kind = "full"
    form.reason = f"full exponential family with {k} sufficient statistics"
    return form


def _rank_deficient(J, coords):
    """True if det J vanishes identically.

    det J is evaluated at a generic rational point (every free symbol, the
    hyper-parameters included, set to a different rational) in 40-digit
    arithmetic, relative to Hadamard's bound prod_i |J_i.|: a value above
    1e-30 of the bound proves det J is not the zero function, a smaller one
    (an analytic function vanishing at a generic point) that it is.  No
    symbolic determinant unless that point and a second are poles: in a
    reparameterised chart its cancellation can run for minutes.  Complex
    values are allowed (a generic point may lie outside the domain; det J is
    analytic there too).
    """
    symbols = sorted(J.free_symbols, key=sp.default_sort_key)
    ordered = list(coords) + [s for s in symbols if s not in coords]
    for shift in (0, 11):  # the second point only if the first is a pole
        point = {c: sp.Rational(7 + 3 * i + shift, 5 + 2 * i) for i, c in enumerate(ordered)}
        with mpmath.workdps(40):
            try:
                M = mpmath.matrix([[_mp_value(J[i, j].xreplace(point)) for j in range(J.cols)]
                                   for i in range(J.rows)])
            except (TypeError, ValueError, ZeroDivisionError):
                continue  # a pole at this point: try the other one
            bound = mpmath.fprod(mpmath.norm(M[i, :], 2) for i in range(M.rows))
            if bound == 0:
                return True  # a zero row
            return not abs(mpmath.det(M)) > mpmath.mpf("1e-30") * bound
    # poles at both points (rare): the exact determinant decides
    return sp.simplify(exact_det(J)) == 0


def _mp_value(expr):
    """An mpmath number (40 digits) for a closed numeric sympy expression."""
    value = sp.N(expr, 40)
    if not value.is_number or value.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ValueError("not a finite number")
    return mpmath.mpc(value)


class MomentEngine:
    """Moments of polynomials in T for a full exponential family (no integrals)."""

    def __init__(self, form: CanonicalForm, coords, xvars):
        self.form = form
        self.coords = tuple(coords)
        self.xvars = tuple(xvars)
        J = form.jacobian
        self.J_inv = inverse(J)
        gradA = sp.Matrix([sp.diff(form.log_partition, c) for c in coords])
        self.eta = tuple(sp.cancel(e) for e in (self.J_inv.T * gradA))
        self._memo = {(): sp.S.One}
        self._stat_vectors = [self._powers(t) for t in form.statistics]

    def D(self, i, f):
        """d f / d theta_i expressed in the coordinates."""
        return sp.Add(*[self.J_inv[j, i] * sp.diff(f, c) for j, c in enumerate(self.coords)])

    def moment(self, idx):
        """E[prod_{i in idx} T_i] for a sorted tuple of statistic indices."""
        idx = tuple(sorted(idx))
        if idx in self._memo:
            return self._memo[idx]
        i, rest = idx[0], idx[1:]
        m = self.moment(rest)
        val = sp.cancel(self.D(i, m) + self.eta[i] * m)
        self._memo[idx] = val
        return val

    def _powers(self, g):
        out = {}
        for f in sp.Mul.make_args(g):
            b, e = f.as_base_exp()
            if not e.is_Integer:
                b, e = f, sp.S.One
            out[b] = out.get(b, 0) + int(e)
        return out

    def _decompose(self, vec):
        """Write a monomial (base -> exponent) as a product of statistics, or None."""
        if not vec:
            return ()
        for i, tv in enumerate(self._stat_vectors):
            ok = all(b in vec and (vec[b] * e > 0) and abs(e) <= abs(vec[b]) for b, e in tv.items())
            if not ok:
                continue
            rest = {b: vec[b] - tv.get(b, 0) for b in vec}
            rest = {b: e for b, e in rest.items() if e != 0}
            tail = self._decompose(rest)
            if tail is not None:
                return (i,) + tail
        return None

    def expect(self, f):
        """E[f] for f a polynomial in the statistics, or None if f is not one."""
        f = sp.expand(sp.expand_log(sp.expand_power_base(f)))
        total = sp.S.Zero
        for term in sp.Add.make_args(f):
            c, g = term.as_independent(*self.xvars, as_Add=False)
            if g == 1:
                total += c
                continue
            idx = self._decompose(self._powers(g))
            if idx is None:
                return None
            total += c * self.moment(idx)
        return total
