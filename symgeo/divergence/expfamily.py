"""The exponential-family structure of a family, as a user sees it.

From the canonical form that the engine reads off the log-density
(:mod:`symgeo.engine.expfamily`), derive θ(ξ), T(x), A, h(x), the mean
parameters η = ∇_θ A, the Legendre dual A*(η) = θ·η − A(θ) (explicit or
parametric), the Fisher matrix in θ and η, and the Bregman form of KL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import mpmath as mp
import sympy as sp

from ..engine import budget as _budget
from ..engine.linalg import inverse
from ..engine.simplify import tidy, tidy_matrix
from ..errors import BudgetExceeded, DerivationError
from ..printing import latex


@dataclass
class ExponentialFamilyStructure:
    """p(x | ξ) = h(x) exp(θ(ξ)·T(x) - A), with everything derived from the declaration.

    Conventions: ``natural`` θ_i(ξ) and ``statistics`` T_i(x) in the same
    (sorted) order; ``log_partition`` A as a function of the coordinates ξ and,
    when ξ(θ) is explicit, ``log_partition_theta`` A(θ) in the symbols
    ``theta``; ``mean`` η_i(ξ) = E[T_i] = ∂A/∂θ_i; the dual potential (Legendre
    transform) A*(η) = θ·η - A(θ) in the symbols ``eta`` when ξ(η) is explicit,
    otherwise ``dual_parametric`` A*(η(ξ)) = θ(ξ)·η(ξ) - A(ξ), stated as implicit;
    ``fisher_theta`` = ∇²_θ A and ``fisher_eta`` = (∇²_θ A)^{-1} = ∇²_η A*, both
    as functions of ξ.  Then KL(p || q) = B_A(θ_q, θ_p) = B_{A*}(η_p, η_q) with
    B_F(a, b) = F(a) - F(b) - ∇F(b)·(a - b).
    """

    family: str
    kind: str
    reason: str
    coordinates: tuple
    natural: tuple
    statistics: tuple
    log_partition: sp.Expr
    log_base: sp.Expr
    mean: tuple
    mean_route: str
    theta: tuple = ()
    eta: tuple = ()
    coordinates_of_theta: dict | None = None
    coordinates_of_eta: dict | None = None
    log_partition_theta: sp.Expr | None = None
    dual: sp.Expr | None = None
    dual_parametric: sp.Expr | None = None
    dual_note: str = ""
    fisher_theta: sp.Matrix | None = None
    fisher_eta: sp.Matrix | None = None

    @property
    def is_curved(self):
        return self.kind == "curved"

    def bregman_theta(self, theta_a, theta_b):
        """B_A(θa, θb) = A(θa) - A(θb) - ∇A(θb)·(θa - θb); needs A(θ) explicit."""
        if self.log_partition_theta is None:
            raise DerivationError(f"family {self.family!r}: A(theta) is not explicit "
                                  "(the coordinates could not be solved from theta)")
        return _bregman(self.log_partition_theta, self.theta, theta_a, theta_b)

    def bregman_eta(self, eta_a, eta_b):
        """B_{A*}(ηa, ηb); needs the dual potential A*(η) explicit."""
        if self.dual is None:
            raise DerivationError(f"family {self.family!r}: the dual potential A*(eta) is "
                                  f"only implicit ({self.dual_note})")
        return _bregman(self.dual, self.eta, eta_a, eta_b)

    # -- natural gradient = mirror descent (numeric, mpmath) ---------------
    def _numeric_potential(self):
        if self.log_partition_theta is None:
            raise DerivationError(f"family {self.family!r}: A(theta) is not explicit, so the "
                                  "mirror map grad A cannot be evaluated in theta")
        if not hasattr(self, "_num"):
            A = self.log_partition_theta
            grad = [sp.diff(A, t) for t in self.theta]
            hess = [[sp.diff(g, t) for t in self.theta] for g in grad]
            self._num = (sp.lambdify(self.theta, grad, "mpmath"),
                         sp.lambdify(self.theta, hess, "mpmath"))
        return self._num

    def natural_gradient_step(self, grad, theta, lr):
        """θ - lr I(θ)^{-1} ∇L(θ) with I = ∇²A; ``grad`` maps θ (list) to ∇_θ L (list)."""
        _, hess = self._numeric_potential()
        th = mp.matrix([mp.mpf(t) for t in theta])
        g = mp.matrix(grad(list(th)))
        return list(th - lr * mp.lu_solve(mp.matrix(hess(*th)), g))

    def mirror_descent_step(self, grad, theta, lr):
        """Mirror descent with mirror map A: η' = ∇A(θ) - lr ∇L(θ), θ' = (∇A)^{-1}(η').

        The linear step is taken in the dual (mean) coordinates; θ' is found by
        Newton's method on ∇A(θ') = η' (Jacobian ∇²A), started at the
        natural-gradient step, which agrees with it to first order in lr.
        """
        gradA, hess = self._numeric_potential()
        th = [mp.mpf(t) for t in theta]
        target = mp.matrix(gradA(*th)) - lr * mp.matrix(grad(th))
        x = mp.matrix(self.natural_gradient_step(grad, theta, lr))
        for _ in range(100):
            step = mp.lu_solve(mp.matrix(hess(*x)), mp.matrix(gradA(*x)) - target)
            x -= step
            if mp.norm(step) <= mp.eps * 16 * (1 + mp.norm(x)):
                break
        else:
            raise DerivationError(f"family {self.family!r}: mirror step did not converge")
        return list(x)

    def natural_at(self, point):
        """θ at a coordinate point (dict coordinate -> value)."""
        return tuple(sp.sympify(t, strict=True).xreplace(point) for t in self.natural)

    def mean_at(self, point):
        """η at a coordinate point (dict coordinate -> value)."""
        return tuple(sp.sympify(e, strict=True).xreplace(point) for e in self.mean)

    def _repr_latex_(self):
        rows = [r"\theta = " + latex(sp.Matrix(self.natural)),
                r"T(x) = " + latex(sp.Matrix(self.statistics)),
                r"A = " + latex(self.log_partition),
                r"\eta = " + latex(sp.Matrix(self.mean))]
        return "$\\displaystyle " + r",\quad ".join(rows) + "$"


def _bregman(F, args, a, b):
    sub_a = dict(zip(args, a))
    sub_b = dict(zip(args, b))
    grad = [sp.diff(F, s).xreplace(sub_b) for s in args]
    return F.xreplace(sub_a) - F.xreplace(sub_b) - sum(
        g * (sp.sympify(x, strict=True) - sp.sympify(y, strict=True)) for g, x, y in zip(grad, a, b))


def _solve_for(coords, unknown_syms, exprs, budget, what, points=()):
    """Solve unknown_syms = exprs(ξ) for ξ: dict coordinate -> expression, or None.

    Of several branches (sigma = ±sqrt(-1/(2 theta_2))) the one kept is the
    branch that maps exprs(ξ0) back to ξ0 at each of the generic ``points``.
    """
    eqs = [sp.Eq(s, e) for s, e in zip(unknown_syms, exprs)]
    try:
        sols = _budget.run_with_budget(_solve_job, eqs, coords, seconds=budget, what=what)
    except BudgetExceeded:
        return None

    def inverts(sol):
        for pt in points:
            image = {s: e.xreplace(pt) for s, e in zip(unknown_syms, exprs)}
            for c, e in zip(coords, sol):
                try:
                    v = complex(sp.N(e.xreplace(image), 30))
                except (TypeError, ValueError):
                    return False
                if abs(v - complex(sp.N(pt[c], 30))) > 1e-20 * (1 + abs(v)):
                    return False
        return True
    sols = [s for s in sols if inverts(s)]
    if len(sols) != 1:
        return None
    return dict(zip(coords, sols[0]))


def _solve_job(eqs, coords):
    try:
        sols = sp.solve(eqs, list(coords), dict=True)
    except NotImplementedError:
        return []
    return [[s[c] for c in coords] for s in sols if all(c in s for c in coords)]


SOLVE_BUDGET = 5.0


def _generic_points(family):
    return [family.random_point(random.Random(seed)) for seed in (1, 2)]


def log_partition_theta(family):
    """(ξ(θ), A(θ)) for a full exponential family, or (None, None) when θ(ξ) has no
    explicit inverse within SOLVE_BUDGET.  θ_i are the symbols ``theta_i``.

    Cached on the family: the α-divergence needs only this, not the whole
    structure (whose η-inversion may take the whole budget and fail).
    """
    def compute():
        form = family._engine.canonical()
        if not form.is_exponential or form.kind != "full":
            return None, None
        theta = tuple(sp.Symbol(f"theta_{i + 1}", real=True)
                      for i in range(len(form.statistics)))
        xi_theta = _solve_for(family.coordinates, theta, form.natural, SOLVE_BUDGET,
                              "solve theta(xi) for xi", _generic_points(family))
        if xi_theta is None:
            return None, None
        return xi_theta, tidy(form.log_partition.xreplace(xi_theta))
    return family._cached("log_partition_theta", compute)


def structure(family):
    """The :class:`ExponentialFamilyStructure` of ``family`` (DerivationError if there is none)."""
    eng = family._engine
    form = eng.canonical()
    if not form.is_exponential:
        raise DerivationError(f"family {family.name!r} is not an exponential family: {form.reason}")
    coords = family.coordinates
    k = len(form.statistics)
    moments = eng.moments()
    if moments is not None:
        mean = tuple(tidy(e) for e in moments.eta)
        mean_route = "eta = J^{-T} grad_xi A (chain rule on the log-partition, no integral)"
    else:
        mean = tuple(tidy(family.expectation(t).value) for t in form.statistics)
        mean_route = "eta_i = E[T_i] by the expectation engine"
    theta = tuple(sp.Symbol(f"theta_{i + 1}", real=True) for i in range(k))
    eta = tuple(sp.Symbol(f"eta_{i + 1}", real=True) for i in range(k))
    out = ExponentialFamilyStructure(
        family.name, form.kind, form.reason, coords, tuple(form.natural), tuple(form.statistics),
        tidy(form.log_partition), form.log_base, mean, mean_route, theta, eta)
    if form.kind != "full":
        out.dual_note = ("a curved family is a submanifold of a larger exponential family: "
                         "theta and eta are not coordinates of it, so A(theta) and A*(eta) are "
                         "those of the ambient family and are not derived here")
        return out
    J = form.jacobian
    Jinv = inverse(J)
    I = family.fisher()
    out.fisher_theta = tidy_matrix(Jinv.T * I * Jinv, symmetric=True)
    out.fisher_eta = tidy_matrix(inverse(out.fisher_theta), symmetric=True)
    pts = _generic_points(family)
    xi_theta, a_theta = log_partition_theta(family)
    if xi_theta is not None:
        out.coordinates_of_theta = xi_theta
        out.log_partition_theta = a_theta
    xi_eta = _solve_for(coords, eta, mean, SOLVE_BUDGET, "solve eta(xi) for xi", pts)
    parametric = tidy(sum(t * e for t, e in zip(form.natural, mean)) - form.log_partition)
    out.dual_parametric = parametric
    if xi_eta is not None:
        out.coordinates_of_eta = xi_eta
        out.dual = tidy(parametric.xreplace(xi_eta))
        out.dual_note = "explicit: the coordinates are solved from eta"
    else:
        out.dual_note = ("implicit: eta(xi) has no explicit inverse within the time budget "
                         "(e.g. it needs the inverse digamma function); A*(eta(xi)) = "
                         "theta(xi).eta(xi) - A(xi) is given parametrically in the coordinates")
    return out
