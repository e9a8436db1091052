"""Divergences between members of one family: KL, entropy, cross-entropy, α-divergences.

Conventions (p, q are two points of the same family, coordinates in catalog order):

* ``KL(p || q) = E_p[log p(x) - log q(x)]``.
* Entropy ``H(p) = -E_p[log p(x)]`` (differential entropy for densities,
  Shannon entropy in nats for mass functions).
* Cross-entropy ``H(p, q) = -E_p[log q(x)] = H(p) + KL(p || q)``.
* Amari's α-divergence
  ``D_α(p || q) = 4 / (1 - α²) (1 - ∫ p^{(1-α)/2} q^{(1+α)/2})``;
  α → -1 gives KL(p || q), α → +1 gives KL(q || p), α = 0 gives
  ``4 (1 - BC) = 4 H²`` with the Bhattacharyya coefficient
  ``BC = ∫ sqrt(p q)``, the Hellinger distance ``H = sqrt(1 - BC)`` and the
  Bhattacharyya distance ``-log BC``.

Routes.  For an exponential family ``p = h exp(θ·T - A)`` (full or curved)
the KL divergence is the Bregman divergence of the log-partition,
``KL(p || q) = A(θ_q) - A(θ_p) - (θ_q - θ_p)·η_p`` with ``η_p = E_p[T]``: no
integral beyond the mean parameters.  For a full exponential family whose
coordinates can be solved from θ, the α-affinity is closed form,
``∫ p^λ q^{1-λ} = exp(A(λθ_p + (1-λ)θ_q) - λA(θ_p) - (1-λ)A(θ_q))``,
valid while the mixed θ stays in the natural parameter space (always for
|α| ≤ 1).  Everything else is an expectation ``E_p[f]`` handed to the
expectation engine, whose route is recorded; where no route closes the
error names the numeric (mpmath) route.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy
import sympy as sp

from ..declare.parse import user_value
from ..engine import budget
from ..engine.simplify import tidy
from ..errors import BudgetExceeded, SymgeoError
from ..printing import latex
from .expfamily import log_partition_theta


@dataclass(frozen=True)
class Divergence:
    """A closed form with its provenance, in the family's coordinates (p) and ``*_q`` copies (q)."""

    value: sp.Expr
    route: str
    detail: str

    def _repr_latex_(self):
        return f"$\\displaystyle {latex(self.value)}$"


def second_point(family, suffix="q"):
    """Copies of the coordinates named ``<name>_<suffix>`` with the same assumptions."""
    return tuple(sp.Symbol(f"{c.name}_{suffix}", **c.assumptions0) for c in family.coordinates)


TIDY_BUDGET = 10.0
"""CPU seconds for making a divergence readable; past it the expression is returned as is."""


SIMPLIFY_MAX_TERMS = 30
"""Divergences with more additive terms (expanded) are not given to ``simplify``."""

EXPAND_MAX_OPS = 150
"""Longer divergences are not tried with every logarithm expanded and regrouped."""


def tidy_divergence(expr):
    """:func:`_tidy_divergence` under TIDY_BUDGET (factoring a binomial-10 affinity can
    take minutes and gigabytes; an untidy exact result is better than none)."""
    try:
        return budget.run_with_budget(_tidy_divergence, expr, seconds=TIDY_BUDGET,
                               what="simplifying a divergence", safety_net=True)
    except BudgetExceeded:
        return sp.sympify(expr, strict=True)


def _tidy_divergence(expr, deep=True):
    """Readable form of a divergence: logarithms split and regrouped, the rest over one denominator.

    Candidates: :func:`tidy`, and a form where every log is expanded (the
    coordinates are positive where they sit inside logs), the logarithmic part
    regrouped by ``logcombine`` and the algebraic part put over a common
    denominator and factored.  The shorter (by operation count) wins.
    """
    expr = sp.sympify(expr, strict=True)
    long = sp.count_ops(expr) > EXPAND_MAX_OPS
    # simplify on a divergence with many terms (a multinomial entropy's finite sum of
    # 72) can take a minute
    many = len(sp.Add.make_args(sp.expand(expr))) > SIMPLIFY_MAX_TERMS
    cands = [tidy(expr, deep=deep and not many)]
    if long:
        return cands[0]  # expanding a long rational (mvnormal's affinity) costs seconds
    try:
        e = sp.expand(sp.expand_log(expr, deep=True))
        logs, rest = [], []
        for t in sp.Add.make_args(e):
            (logs if t.has(sp.log) else rest).append(t)
        r = sp.Add(*rest)
        r = min([r, sp.factor(sp.cancel(sp.together(r)))], key=sp.count_ops)
        lg = sp.logcombine(sp.Add(*logs))
        cands.append(lg + r)
        # logs kept apart, each with a factored coefficient (c log 10 stays c log 10)
        atoms = sorted(sp.Add(*logs).atoms(sp.log), key=sp.default_sort_key)
        collected = sp.collect(sp.Add(*logs), atoms, evaluate=False)
        cands.append(sp.Add(*(sp.factor(c) * k for k, c in collected.items())) + r)
        cands.append(grouped_form(e))
    except (sp.PolynomialError, NotImplementedError, TypeError):  # pragma: no cover
        pass
    return min(cands, key=lambda c: (_cost(c), sp.default_sort_key(c)))


def _special(factor):
    return isinstance(factor, sp.Function) or (factor.is_Pow and isinstance(factor.base, sp.Function))


def grouped_form(expr):
    """Terms grouped by special function, as a reader writes a divergence.

    Every product of function values (psi(a), log Gamma(a), log b, ...) gets one
    factored coefficient; two logarithms with opposite symbolic coefficients
    become one difference, c (log a - log b); the algebraic rest is put over one
    denominator and factored when that is no longer.  Gamma's KL becomes
    (a_p - a_q) psi(a_p) - log Gamma(a_p) + log Gamma(a_q) + a_q (log b_p - log b_q)
    + a_p (b_q - b_p)/b_p.  Exact: only expansion, collection and factoring.
    """
    e = sp.expand(sp.sympify(expr, strict=True))
    coef, rest = {}, []
    for t in sp.Add.make_args(e):
        factors = sp.Mul.make_args(t)
        special = [f for f in factors if _special(f)]
        if not special:
            rest.append(t)
            continue
        key = sp.Mul(*special)
        coef[key] = coef.get(key, 0) + sp.Mul(*[f for f in factors if not _special(f)])
    coef = {k: sp.factor(c) for k, c in coef.items() if c != 0}
    logs = sorted((k for k in coef if isinstance(k, sp.log)), key=sp.default_sort_key)
    out, used = [], set()
    for a in logs:
        if a in used or coef[a].is_number:
            continue
        for b in logs:
            if b != a and b not in used and sp.expand(coef[a] + coef[b]) == 0:
                out.append(coef[a] * (a - b))
                used |= {a, b}
                break
    out += [c * k for k, c in sorted(coef.items(), key=lambda kc: sp.default_sort_key(kc[0]))
            if k not in used]
    r = sp.Add(*rest)
    one = sp.factor(sp.cancel(sp.together(r)))
    if sp.count_ops(one) <= sp.count_ops(r) + 1:  # a (b_q - b_p)/b_p over -a + a b_q/b_p
        r = one
    return sp.Add(*out) + r


QUICK_TIDY_MAX_OPS = 60
"""A(mixed theta) longer than this is left as derived (cancelling a multinomial's or a
bivariate normal's costs seconds of a build's budget)."""


def _mixed_powers(expr):
    """Whether ``expr`` has p^lam q^(1-lam) powers: a symbolic power of a symbolic base,
    or an exponential of logarithms (cancel and factor expand them at length)."""
    return any((node.is_Pow and not node.exp.is_number and not node.base.is_number) or
               (isinstance(node, sp.exp) and node.args[0].has(sp.log))
               for node in sp.preorder_traversal(expr))


def _tidy_quick(expr):
    """The shorter of ``expr`` and its shallow divergence tidy form (no ``simplify``:
    on exponentials of mixed log-parameters, p1^lam p1q^(1-lam) in a multinomial
    affinity, it runs for minutes and rarely shortens them)."""
    try:
        t = budget.run_with_budget(_tidy_divergence, expr, False, seconds=1.0,
                                   what="simplifying a divergence", safety_net=True)
    except BudgetExceeded:
        return expr
    return min([expr, t], key=_cost)


def _grouped_quick(expr):
    """``expr`` or its :func:`grouped_form`, the cheaper by :func:`_cost`; a long
    expression is left as it is (expanding a bivariate normal's affinity takes a
    minute), and the grouping gets half a second of CPU time."""
    if sp.count_ops(expr) > EXPAND_MAX_OPS:
        return expr
    try:
        g = budget.run_with_budget(grouped_form, expr, seconds=0.5,
                                   what="grouping a divergence", safety_net=True)
    except BudgetExceeded:
        return expr
    return min([expr, g], key=lambda c: (_cost(c), sp.default_sort_key(c)))


def _cost(e):
    """Operation count, with log(a**b) for symbolic b counted as harder to read than b*log(a).

    (It is also costlier: log(10**(p*(1-p)**8)) at a rational p makes sympy
    evaluate a rational power of an integer exactly.)
    """
    hidden = sum(1 for g in e.atoms(sp.log) for a in sp.preorder_traversal(g.args[0])
                 if a.is_Pow and not a.exp.is_number)
    return sp.count_ops(e) + 1000 * hidden  # never worth it: log(r^(a b)) at rationals hangs


def _point(family, values, what):
    """``values`` (sequence in coordinate order, or None for the family's own symbols) as a dict."""
    if values is None:
        return None
    if isinstance(values, dict):
        try:
            values = [values[c] if c in values else values[c.name] for c in family.coordinates]
        except KeyError as exc:
            raise SymgeoError(f"family {family.name!r}: {what} lacks coordinate {exc.args[0]}")
    values = list(values)
    if len(values) != family.dimension:
        names = ", ".join(c.name for c in family.coordinates)
        raise SymgeoError(f"family {family.name!r}: {what} needs {family.dimension} coordinates "
                          f"({names}) in that order, got {len(values)}")
    # a Python float is taken as the decimal it prints as (2.1 -> 21/10), so results stay exact
    vals = [user_value(v, where=f"family {family.name!r}: {what}") for v in values]
    pt = dict(zip(family.coordinates, vals))
    if all(v.is_number for v in vals) and not family.in_domain(pt):
        raise SymgeoError(f"family {family.name!r}: {what} = {tuple(vals)} lies outside the "
                          "coordinate domain")
    return pt


def _split_log_numbers(expr):
    """log(r) for a rational r -> sum of e_p log p over its primes, so like terms collect."""
    def split(e):
        r = e.args[0]
        if not (r.is_Rational and r > 0) or max(abs(r.p), r.q) > 10**12:
            return e
        parts = {**sp.factorint(r.p), **{k: -v for k, v in sp.factorint(r.q).items()}}
        return sp.Add(*(v * sp.log(k) for k, v in parts.items() if k != 1))
    return sp.expand(expr.replace(lambda e: isinstance(e, sp.log), split))


def substitute(family, expr, p=None, q=None, q_symbols=None):
    """Put the points ``p`` (family coordinates) and ``q`` (``*_q`` symbols) into ``expr``."""
    sub = {}
    pp = _point(family, p, "p")
    qq = _point(family, q, "q")
    if pp:
        sub.update(pp)
    if qq:
        sub.update({s: qq[c] for s, c in zip(q_symbols, family.coordinates)})
    if not sub:
        return expr
    out = sp.sympify(expr, strict=True).xreplace(sub)
    if all(isinstance(v, sp.Symbol) for v in sub.values()):
        return out  # a renaming (e.g. to p's and q's own names) keeps a tidy form tidy
    if all(v.is_number for v in sub.values()):
        if out.free_symbols:  # e.g. a symbolic alpha: tidying numbers into it is costly
            return out
        # numbers only: expand, no simplify (logcombine of large rational powers can
        # take minutes, e.g. mvnormal2)
        return _split_log_numbers(sp.expand(sp.expand_log(out, force=True)))
    return tidy_divergence(out)


# ----------------------------------------------------------------------
# exponential-family primitives used here

def _canonical(family):
    form = family._engine.canonical()
    return form if form.is_exponential else None


def mean_parameters(family):
    """η_i = E[T_i] in the coordinates, with the route (moment recursion or engine)."""
    form = _canonical(family)
    eng = family._engine.moments()
    if eng is not None:
        return tuple(sp.cancel(e) for e in eng.eta), "gradient of the log-partition (J^T eta = grad A)"
    return tuple(family.expectation(t).value for t in form.statistics), "expectation engine"


def kl_closed_form(family):
    """KL(p || q) with p the family's coordinates and q their ``*_q`` copies, as a Divergence."""
    q = second_point(family)
    qsub = dict(zip(family.coordinates, q))
    form = _canonical(family)
    if form is not None:
        eta, how = mean_parameters(family)
        A = form.log_partition
        expr = A.xreplace(qsub) - A - sum((th.xreplace(qsub) - th) * e
                                          for th, e in zip(form.natural, eta))
        detail = ("Bregman divergence of the log-partition: KL(p||q) = A(theta_q) - A(theta_p)"
                  f" - (theta_q - theta_p).eta_p, with eta = E[T] from the {how}")
        return Divergence(tidy_divergence(expr), "Bregman", detail)
    f = family.log_density - family.log_density.xreplace(qsub)
    res = family._engine.expect(f, what="KL(p || q) = E_p[log p - log q]", series=True)
    return Divergence(tidy_divergence(res.value), res.route, res.detail)


def entropy_closed_form(family):
    """H(p) = -E_p[log p] in the family's coordinates, as a Divergence."""
    form = _canonical(family)
    if form is not None:
        eta, how = mean_parameters(family)
        base = family._engine.expect(form.log_base, what="E[log h(x)]", series=True) \
            if form.log_base != 0 \
            else None
        expr = form.log_partition - sum(th * e for th, e in zip(form.natural, eta))
        detail = f"H = A(theta) - theta.eta - E[log h], eta from the {how}"
        if base is not None:
            expr -= base.value
            detail += f"; E[log h] by the {base.route} route ({base.detail})"
        return Divergence(tidy_divergence(expr), "exponential family", detail)
    res = family._engine.expect(-family.log_density, what="the entropy -E[log p]", series=True)
    return Divergence(tidy_divergence(res.value), res.route, res.detail)


def log_affinity_closed_form(family, lam):
    """log ∫ p^λ q^{1-λ} (p: coordinates, q: ``*_q`` copies) as a Divergence, or None."""
    q = second_point(family)
    qsub = dict(zip(family.coordinates, q))
    form = _canonical(family)
    if form is not None and form.kind == "full":
        xi_theta, a_theta = log_partition_theta(family)
        if a_theta is not None:
            theta = [sp.Symbol(f"theta_{i + 1}", real=True) for i in range(len(form.natural))]
            mix = {t: lam * n + (1 - lam) * n.xreplace(qsub) for t, n in zip(theta, form.natural)}
            A = form.log_partition
            expr = a_theta.xreplace(mix) - lam * A - (1 - lam) * A.xreplace(qsub)
            if lam.is_number:
                expr = tidy_divergence(expr)
            else:
                # A(theta_p), A(theta_q) are tidy already; the whole over one denominator
                # costs seconds for a longer form (mvnormal, multinomial)
                mixed = a_theta.xreplace(mix)
                if sp.count_ops(mixed) <= QUICK_TIDY_MAX_OPS and not _mixed_powers(mixed):
                    mixed = _tidy_quick(mixed)
                expr = mixed - lam * A - (1 - lam) * A.xreplace(qsub)
                expr = _grouped_quick(expr)
            return Divergence(expr, "log-partition",
                              "log int p^l q^(1-l) = A(l theta_p + (1-l) theta_q) - l A(theta_p)"
                              " - (1-l) A(theta_q), valid while the mixed theta is a natural "
                              "parameter (always for 0 <= l <= 1)")
    ratio = family.log_density.xreplace(qsub) - family.log_density
    if not lam.is_number and (res := _gaussian_kernels(family, ratio, lam)) is not None:
        return res
    res = family._engine.expect(sp.exp((1 - lam) * ratio),
                                what="the affinity E_p[(q/p)^(1-l)]")
    return Divergence(tidy_divergence(sp.log(res.value)), res.route, res.detail)


def _gaussian_kernels(family, ratio, lam):
    """log int p^l q^(1-l) for a symbolic l when log p and log q are quadratic in x on R^d
    (a Gaussian kernel whose parameters need not be natural ones: N(theta, theta^2)), or None.

    The tilted precision l P_p + (1 - l) P_q is positive definite for 0 < l < 1, which the
    engine's Gaussian route proves when l = 1/(1 + e) with e > 0; e = (1 - l)/l after.
    Outside (0, 1) the form holds while that precision stays positive definite."""
    e = sp.Dummy("e", positive=True)
    res = family._engine.gaussian_exponential(sp.exp(e / (1 + e) * ratio))
    if res is None:
        return None
    # every factor is positive for e > 0 (the engine proved the precision positive
    # definite), so the log expands; the logs of factors in e are then combined into one,
    # whose argument (a power of the combined precision's determinant over 1/l^d) stays
    # positive wherever that precision is positive definite, also for l < 0 where each
    # factor alone would not
    back = {e: (1 - lam) / lam}
    rest, logs = [], {}
    for t in sp.Add.make_args(sp.expand_log(sp.log(res.value), force=True)):
        c, f = t.as_independent(e, as_Add=False)
        if isinstance(f, sp.log) and c.is_Rational:
            logs[f.args[0]] = c
        else:
            rest.append(sp.factor(sp.cancel(t.xreplace(back))))
    if logs:
        unit = abs(sp.gcd_list(list(logs.values())))  # every coefficient an integer multiple
        arg = sp.Mul(*[a ** int(c / unit) for a, c in logs.items()])
        rest.append(unit * sp.log(sp.factor(sp.cancel(arg.xreplace(back)))))
    value = sp.Add(*rest)
    return Divergence(tidy_divergence(value), res.route,
                      res.detail + "; with l P_p + (1 - l) P_q positive definite (0 < l < 1, "
                      "-1 < alpha < 1, and beyond while it stays so)")


NEAR_ORDER = 5
"""Order of the Taylor polynomial of KL(p || p + delta) used near the diagonal."""


def kl_near_diagonal(kl, p, q, order=NEAR_ORDER):
    """(c_2, T): the Taylor polynomial T = sum_{n=2}^{order} c_n of KL(p || q) in
    delta = q - p, and its leading term c_2 = 1/2 delta^T I(p) delta.

    c_n = (1/n!) d^n/dt^n KL(p || p + t delta) at t = 0, written back in p and q.
    In floating point a closed form of KL is a difference of O(1) terms that loses
    all digits as q -> p; T has no cancellation, and its truncation error relative
    to KL is O(c_2^((order - 1)/2)).
    """
    t = sp.Dummy("t")
    deltas = [sp.Dummy(f"d{i}") for i in range(len(p))]
    along = sp.sympify(kl, strict=True).xreplace({qi: pi + t * di for pi, qi, di in zip(p, q, deltas)})
    back = {di: qi - pi for pi, qi, di in zip(p, q, deltas)}
    terms = []
    g = along
    for n in range(1, order + 1):
        g = sp.diff(g, t)
        if n >= 2:
            c = sp.expand(g.xreplace({t: 0}) / sp.factorial(n))
            terms.append(c.xreplace(back))
    return terms[0], sp.Add(*terms)


REMAINDER_NODES = 3
"""Gauss-Legendre nodes of the remainder integral in :func:`kl_near_diagonal_remainder`."""


def kl_near_diagonal_remainder(kl, p, q, nodes=REMAINDER_NODES):
    """(R, R): KL(p || q) near q = p as the integral form of its Taylor remainder,
    delta = q - p, twice: the value, and the switch test (see below).  The same holds
    for any divergence D(p || q) with D(p || p) = 0 and a zero gradient in q there
    (the code generator uses it for the alpha-divergence too).

    KL(p || p) = 0 and its gradient in q vanishes there, so with
    g(t) = delta^T H(p, p + t delta) delta, H(p, q) = the Hessian of KL(p || q) in q
    (index order of ``q``),

        KL(p || q) = int_0^1 (1 - t) g(t) dt ~ sum_k w_k (1 - t_k) g(t_k)

    by Gauss-Legendre on [0, 1].  Every term is of the size of KL itself, so nothing
    cancels as q -> p; the rule is exact while (1 - t) g(t) is a polynomial of degree
    2 nodes - 1, and g's k-th Taylor coefficient is O(|delta|^(2 + k)), so the error
    relative to KL is O(|delta|^(2 nodes - 1)).  Its size grows like d^2 (the
    Hessian), where the Taylor polynomial of :func:`kl_near_diagonal` grows like d^order.

    The formula needs KL to be C^1 with g integrable, not C^2 (a KL of a family with
    a Fisher matrix is O(|delta|^2), so its one-sided slope at q = p is 0): a kink
    |a(p, q)| with a affine in q and a = 0 at q = p (Laplace's |mu_p - mu_q|) is
    crossed at t = 0 only, where the rule has no node, so its DiracDelta(a) terms
    are dropped.  Any other kink raises ValueError (its zeros may lie inside the
    segment).  The switch test is the integral itself (= 1/2 delta^T I delta
    (1 + O(|delta|)) near p, also at a kink, where H(p, p) is not the Fisher matrix);
    far from p it is no KL (H need not be positive there), so a caller also tests
    that the closed form is small.
    """
    kl = sp.sympify(kl, strict=True)
    deltas = [sp.Dummy(f"d{i}") for i in range(len(p))]
    g = sp.Add(*[di * dj * sp.diff(kl, qi, qj) for qi, di in zip(q, deltas)
                 for qj, dj in zip(q, deltas)])
    at_p = dict(zip(q, p))

    def kink_at_p(d):
        a = sp.expand(d.args[0])
        affine = a.is_polynomial(*q) and sp.Poly(a, *q).total_degree() <= 1
        if not affine or sp.simplify(a.xreplace(at_p)) != 0:
            raise ValueError(f"a kink of KL that may lie inside the segment from p to q: {d}")
        return sp.S.Zero
    g = g.replace(lambda e: isinstance(e, sp.DiracDelta), kink_at_p)
    # sign(a)^2 = 1 off the kink, and on it (delta = 0 along a) the term is 0 anyway;
    # left as sign(a)^2, the branch's own derivatives at q = p would miss the term
    g = g.replace(lambda e: e.is_Pow and isinstance(e.base, sp.sign) and e.exp.is_even,
                  lambda e: sp.S.One)
    back = {di: qi - pi for pi, qi, di in zip(p, q, deltas)}
    total = sp.Add(*[c * g.xreplace({qi: pi + t * di for pi, qi, di in zip(p, q, deltas)})
                     for t, c in remainder_rule(nodes)])
    total = total.xreplace(back)
    return total, total


def remainder_rule(nodes=REMAINDER_NODES):
    """[(t_k, c_k)]: int_0^1 (1 - t) g(t) dt ~ sum_k c_k g(t_k), Gauss-Legendre on [0, 1]
    (t_k = (x_k + 1)/2, c_k = w_k (1 - t_k)/2 for the nodes x_k and weights w_k on
    [-1, 1]), as 17-digit sympy Floats."""
    xs, ws = numpy.polynomial.legendre.leggauss(nodes)
    return [(sp.Float((float(x) + 1) / 2, 17), sp.Float(float(w) / 2 * (1 - (float(x) + 1) / 2), 17))
            for x, w in zip(xs, ws)]


def alpha_from_affinity(alpha, log_rho):
    """Amari's D_α = 4/(1-α²)(1 - ρ) from log ρ."""
    return 4 / (1 - alpha ** 2) * (1 - sp.exp(log_rho))
