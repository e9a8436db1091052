"""The ambient full exponential family of a curved one: moments without integrals in theta.

A curved exponential family (regression models, a Gaussian whose mean is a
nonlinear function of theta) has more sufficient statistics k than
coordinates d:

    ell(x | theta) = sum_i eta_i(theta) T_i(x) + log h(x) - A(theta).

It sits inside the full family with free natural parameters phi in R^k,

    ell(x | phi) = phi . T(x) + log h(x) - psi(phi),   psi(phi) = log int h e^{phi . T},

whose moments follow from psi alone (E[T_i g] = d/dphi_i E[g] + d psi/dphi_i E[g],
:class:`~symgeo.engine.expfamily.MomentEngine`), and the curved family's
moments are those at phi = eta(theta).  psi is computed block by block: the
statistics of independent groups of variables (one observation each, in a
regression) have separate normalisers, psi = sum_B psi_B(phi_B), and blocks
of the same shape share one derivation.  Each psi_B comes from

* the Gaussian integral, when log h + phi . T is quadratic on R^d;
* the exact sum over a small finite support;
* a power series in z = e^phi (discrete, T = x), summed by sympy, or sympy's
  integral (continuous, one variable), each under the CPU budget.

A psi that sympy returns is accepted only if psi(eta(theta0)) equals the
declared A(theta0) at a generic point (the declared density is normalised,
so the two must agree).
"""

from __future__ import annotations

import mpmath as mp
import sympy as sp

from ..declare.support import Box, FiniteValues, IntegerBox, IntegerRange, finite_points
from ..errors import BudgetExceeded
from . import budget as _budget
from .expfamily import CanonicalForm, MomentEngine
from .multivariate import gaussian_form, independent_blocks, sub_support

MAX_FINITE_BLOCK = 64
"""A finite block with more points is summed as a series, not term by term."""


def _first_closed_branch(value):
    if isinstance(value, sp.Piecewise):
        for expr, _ in value.args:
            if not expr.has(sp.Sum, sp.Integral):
                return expr
        return None
    return value


def block_log_normaliser(log_kernel, xs, support, budget):
    """psi_B = log int (or sum) of exp(log_kernel) over the block's support, or None."""
    if isinstance(support, Box) and not support.periodic and \
            all(b == -sp.oo for b in support.lower) and all(b == sp.oo for b in support.upper):
        gf = gaussian_form(log_kernel, xs)
        if gf is not None:
            return gf.log_mass()
    if len(xs) != 1:
        return None
    x = xs[0]
    pts = finite_points(support, xs)
    if pts is not None and len(pts) <= MAX_FINITE_BLOCK:
        return sp.log(sp.Add(*[sp.exp(log_kernel.xreplace({x: p[0]})) for p in pts]))
    try:
        if isinstance(support, (IntegerRange, FiniteValues)) and hasattr(support, "lower"):
            # exp(phi x) = z^x: the power series sympy recognises (exp, binomial series)
            z = sp.Dummy("z", positive=True)
            kernel = sp.expand(log_kernel)
            lin = [t for t in sp.Add.make_args(kernel)
                   if t.as_independent(x, as_Add=False)[1] == x]
            phi = sp.Add(*[t.as_independent(x, as_Add=False)[0] for t in lin])
            rest = kernel - sp.Add(*lin)
            summand = sp.exp(rest) * z ** x
            val = _budget.run_with_budget(_budget.sum_job, summand, x, support.lower, support.upper,
                                          seconds=budget, what="summing the normaliser")
            val = _first_closed_branch(val)
            return None if val is None else sp.log(val.xreplace({z: sp.exp(phi)}))
        if isinstance(support, Box):
            val = _budget.run_with_budget(_budget.integrate_job, sp.exp(log_kernel), x,
                                          support.lower[0], support.upper[0],
                                          seconds=budget, what="integrating the normaliser")
            val = _first_closed_branch(val)
            return None if val is None or val.has(sp.Integral) else sp.log(val)
    except BudgetExceeded:
        return None
    return None


def _canonical(vs, phis):
    """Placeholders for a block's variables and natural parameters, in order: blocks
    of the same shape (one per observation) then read alike and share one derivation.
    (User names never start with an underscore, so these cannot clash.)"""
    ren = {v: sp.Symbol(f"_u{i}", **v.assumptions0) for i, v in enumerate(vs)}
    ren.update({p: sp.Symbol(f"_f{i}", real=True) for i, p in enumerate(phis)})
    return ren


class AmbientFamily:
    """Moments of a curved exponential family through its ambient full family."""

    def __init__(self, form: CanonicalForm, xvars, support, coords, budget, generic_point):
        self.form = form
        self.xvars = tuple(xvars)
        k = len(form.statistics)
        self.phi = tuple(sp.Symbol(f"phi{i}", real=True) for i in range(k))
        self.at_theta = dict(zip(self.phi, form.natural))
        self.engine = None  # stays None when psi does not close or disagrees with A
        psi = self._log_normaliser(support, budget)
        if psi is None or not self._consistent(psi, coords, generic_point):
            return
        ambient = CanonicalForm("full", form.statistics, self.phi, psi, form.log_base,
                                jacobian=sp.eye(k))
        self.engine = MomentEngine(ambient, self.phi, self.xvars)

    def _log_normaliser(self, support, budget):
        kernel = self.form.log_base + sp.Add(*[p * t for p, t in zip(self.phi,
                                                                       self.form.statistics)])
        _, blocks = independent_blocks(kernel, self.xvars)
        if sum(len(v) for v, _ in blocks) < len(self.xvars):
            return None  # a variable the density does not involve
        shapes = {}
        psi = sp.S.Zero
        for vs, g in blocks:
            phis = sorted(g.free_symbols & set(self.phi), key=self.phi.index)
            ren = _canonical(vs, phis)
            sub = sub_support(support, self.xvars, vs)
            canon = g.xreplace(ren)
            key = (canon, sub)
            if key not in shapes:
                shapes[key] = block_log_normaliser(canon, tuple(ren[v] for v in vs), sub, budget)
            if shapes[key] is None:
                return None
            psi += shapes[key].xreplace({ren[p]: p for p in phis})
        return psi

    def _consistent(self, psi, coords, point):
        """psi(eta(theta0)) == A(theta0) at the generic point (20 digits)."""
        try:
            with mp.workdps(30):
                lhs = sp.N(psi.xreplace(self.at_theta).xreplace(point), 25)
                rhs = sp.N(self.form.log_partition.xreplace(point), 25)
                if lhs.free_symbols or rhs.free_symbols:
                    return False
                return abs(complex(lhs - rhs)) <= 1e-15 * max(1.0, abs(complex(rhs)))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return False

    def expect(self, f):
        """E[f] for f a polynomial in T at phi = eta(theta), or None."""
        if self.engine is None:
            return None
        val = self.engine.expect(f)
        if val is None:
            return None
        return val.xreplace(self.at_theta)


def block_supports_ok(support):
    """Supports the ambient route splits into blocks (products) or takes whole."""
    return isinstance(support, (Box, IntegerBox, IntegerRange, FiniteValues))
