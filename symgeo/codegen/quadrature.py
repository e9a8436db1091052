"""Vectorised numeric routes for expectations that have no closed form.

KL divergence, entropy, cross-entropy and the α-divergence are expectations
under p.  When the engine does not close one, the generated module computes
it by a quadrature rule chosen from the family's structure, never per family:

* **continuous, univariate**: x is written as x = a + b φ(w) by the
  standardising substitution the engine finds (location a and scale b built
  from p's coordinates; of its candidates, the one whose density keeps the fewest
  coordinates, as Weibull's x = lam w^(1/k), standard exponential), then w is
  carried onto the real line u (w = u,
  e^u or 1/(1 + e^-u) for a real, half-line or unit standard domain; a
  support with no standard form is mapped from its own bounds).  The
  log-density of u, log p(x(u)) + log |dx/du|, is derived and simplified
  symbolically, so tails are evaluated without cancellation.  The integral
  over u uses double-exponential quadrature: sinh-sinh on the real line, or,
  when log p has kinks (|x - mu|), exp-sinh on the outer half-lines and
  tanh-sinh between the sorted kinks, all on t in [-5, 5] (algebraic tails and
  endpoint singularities lose less than their mass beyond 1e50 or within 1e-50;
  a tanh-sinh piece between two kinks inside the support stops at |t| = 3.75).
  A half-line whose density falls off like e^-c v^k (a term -c v^k of log p in
  v, :func:`_exponential_tail`) uses v = exp(t - e^-t + e^t/20) instead of
  exp-sinh: its steps 1/8 and 1/16 agree where exp-sinh's need 1/32.
  The α-affinity ∫ p^λ q^(1-λ) is split where its mass lies: on the real line at
  both densities' centres (two bumps when the tails are heavy, a narrow q anywhere),
  so that each bump is at the end of a piece, where the rule clusters its nodes; on
  the half-line at q's centre (the exp-sinh tail from there resolves a narrow q's
  double-exponential fall, which a tanh-sinh piece up to p's centre did not).  A
  row whose q has its centre within 2 of p's and its scale within a factor 2 of
  p's (p's units, in the node variable: u, or log v on the half-line) takes one
  piece instead, a third of the work, where the map standardises the whole
  density (location-scale families; numpy backend; the functional backends
  always split).
  Each row halves its own step, from 1/8 to at most 1/64, until two steps agree
  to 1e-9 relative to the result (on random generic pairs the error is then at
  most 7e-13 against step 1/128); at step 1/64 its last two sums must agree to
  1e-7, else it is NaN, never an unconverged number.  The parameter-only parts of the integrand are
  computed once per row (:func:`symgeo.codegen.compact.hoist`).  A periodic support (circle) uses the
  trapezoid rule, which is spectrally accurate for smooth periodic integrands.
* **discrete, integers lo..hi** (hi finite or infinite): the sum itself,
  extended in doubling blocks until the remaining tail is below 1e-17 of the
  sum by a ratio bound (terms decreasing with ratio r < 1 bound the tail by
  t_last r / (1 - r); log-concave masses satisfy it past their mode).
* **a finite set of values**: the exact finite sum.

Every route evaluates ``sum_k omega_k exp(E1(u_k)) E2(u_k)``: ``E1`` is the log
of the weight density (log p, or λ log p + (1-λ) log q for the affinity) and
``E2`` the function averaged.  Accuracy is measured against mpmath at 30
digits in the tests (goal: 1e-12 relative).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from ..declare.support import Box, FiniteValues, IntegerRange
from ..engine.numeric import kinks as _kinks
from ..divergence.closed_forms import REMAINDER_NODES, remainder_rule
from ..engine.standardize import clean_logs, log_powers
from ..errors import SymgeoError

QUADRATURE_QUANTITIES = ("kl", "entropy", "cross_entropy", "alpha_divergence")
"""The quantities with a numeric route when no closed form is derived."""


@dataclass(frozen=True)
class Integral:
    """``post(S)`` with ``S = sum_k omega_k exp(log_weight(u_k)) factor(u_k)``.

    ``rule``: "real" / "half" (double-exponential quadrature in ``var`` on the
    real line / the half-line var > 0, split at ``kinks``), "circle" (trapezoid on ``[lower, upper)``),
    "series" (integers ``lower..upper``) or "points" (the finite ``values``).
    ``post`` is an expression in :data:`SUM`.
    """

    rule: str
    var: sp.Symbol
    log_weight: sp.Expr
    factor: sp.Expr
    post: sp.Expr
    kinks: tuple = ()
    lower: sp.Expr = sp.S.Zero
    upper: sp.Expr = sp.S.Zero
    values: tuple = ()
    description: str = ""
    offset: float = 0.0
    """The value of S that ``post`` maps to zero (1 for the affinity): the rules converge
    relative to |S - offset|, the size of the result."""
    near: "Integral | None" = None
    """For a divergence: the same rule on the remainder integral of its Hessian in q
    (:func:`_near_integrands`), the value where the divergence is small (None: no such
    branch)."""
    tail: str = "algebraic"
    """"exponential" where p's log-density in the half-line node variable has a term
    -c v^k (c, k > 0): its tail falls off like e^-v^k and the rule maps the half-line
    through the exponential map, else exp-sinh (see the helpers' _HALF_EXP_V)."""
    unsplit: tuple = ()
    """(distance, width): where q's centre lies within :data:`UNSPLIT_DISTANCE` of p's
    (in the node variable: u on the real line, log v on the half-line, where p's unit is
    1) and q's unit is within a factor :data:`UNSPLIT_WIDTH` of p's, the integral needs no
    split at the two centres: one piece (empty: always split)."""


SUM = sp.Symbol("_S", real=True)


def _simplify_logs(e):
    """log p(x(u)) in a form that evaluates without cancellation in the tails."""
    return _log_gamma(clean_logs(e).replace(sp.polar_lift, lambda a: a))  # powdenest's marker


def _log_gamma(e):
    """log of Gamma-function ratios (binomial(x + r - 1, x), x!) as sums of log Gamma,
    which stay finite where Gamma(x) itself overflows (x > 171)."""
    e = e.replace(lambda n: isinstance(n, (sp.binomial, sp.factorial, sp.RisingFactorial,
                                           sp.FallingFactorial)),
                  lambda n: n.rewrite(sp.gamma))
    e = sp.expand_log(e, force=False)
    return e.replace(lambda n: isinstance(n, sp.log) and isinstance(n.args[0], sp.gamma),
                     lambda n: sp.loggamma(n.args[0].args[0]))


def _standardisation(family):
    """The standardisation the quadrature runs in: of those the engine finds (location
    and scale, then after a monotone map of x) on the real line, the half-line or the
    unit interval, the one whose density leaves the fewest coordinates (the first of
    them on a tie), or None.  A density free of p's coordinates in the node variable
    lets close rows share one piece of shared nodes (Weibull: x = lam w^(1/k), where
    w is standard exponential, not x = lam z, which leaves the shape k)."""
    found = [st for st in family._engine.standardisations()
             if st.domain in ("real", "half", "unit")]
    return min(found, key=lambda st: len(st.remaining)) if found else None


def _standard_domain(family):
    """(rule, v, x(v), log |dx/dv|, description): the variable v the quadrature runs in.

    ``rule`` is "real" (v on the real line) or "half" (v > 0).  The half-line is
    kept as it is (exp-sinh nodes follow an exponential or algebraic decay in v);
    the unit interval goes onto the real line through the logit.
    """
    sup = family.support
    u = sp.Symbol("u", real=True)
    v = sp.Symbol("v", positive=True)
    st = _standardisation(family)
    if st is not None and st.domain in ("real", "half", "unit"):
        if st.domain == "half":
            rule, var, x_of = "half", v, st.x_of_w.xreplace({st.new: v})
            text = f"{st.variable} = {st.x_of_w}"
        else:
            w_of_u = u if st.domain == "real" else 1 / (1 + sp.exp(-u))
            rule, var, x_of = "real", u, st.x_of_w.xreplace({st.new: w_of_u})
            text = f"{st.variable} = {st.x_of_w}" + \
                ("" if st.domain == "real" else f", {st.new} = 1/(1 + e^-u)")
    else:
        lo, hi = (sp.sympify(b, strict=True) for b in (sup.lower[0], sup.upper[0]))
        if lo == -sp.oo and hi == sp.oo:
            rule, var, x_of = "real", u, u
        elif hi == sp.oo:
            rule, var, x_of = "half", v, lo + v
        elif lo == -sp.oo:
            rule, var, x_of = "half", v, hi - v
        else:
            rule, var, x_of = "real", u, lo + (hi - lo) / (1 + sp.exp(-u))
        text = f"{family.variables[0]} = {x_of}"
    log_jac = _simplify_logs(sp.log(sp.Abs(sp.diff(x_of, var))))
    return rule, var, x_of, log_jac, text


def _non_smooth(expr, var):
    return any(isinstance(n, (sp.Abs, sp.sign, sp.Heaviside, sp.Piecewise, sp.Max, sp.Min))
               and n.has(var) for n in sp.preorder_traversal(expr))


def _integrands(name, ell_p, ell_q, lead):
    """(E1 without the Jacobian, E2, post, what) of quantity ``name`` from log p, log q."""
    if name == "kl":
        return ell_p, ell_p - ell_q, SUM, "KL(p || q) = E_p[log p - log q]"
    if name == "entropy":
        return ell_p, -ell_p, SUM, "H(p) = -E_p[log p]"
    if name == "cross_entropy":
        return ell_p, -ell_q, SUM, "H(p, q) = -E_p[log q]"
    if name == "alpha_divergence":
        alpha = lead[0]
        lam = (1 - alpha) / 2
        return (lam * ell_p + (1 - lam) * ell_q, sp.S.One,
                4 / (1 - alpha ** 2) * (1 - SUM),
                "D_alpha(p || q) = 4/(1 - alpha^2) (1 - int p^((1-alpha)/2) q^((1+alpha)/2))")
    raise ValueError(f"no numeric route for {name!r}")


def _near_integrands(family, name, ps, qs, lead):
    """(E1, E2, what) of a divergence D(p || q) near q = p, with post(S) = S.

    D(p || p) = 0 with a zero gradient in q, so D = int_0^1 (1 - t) g(t) dt with
    g(t) = delta^T H(p, p + t delta) delta, delta = q - p, H the Hessian of D in q
    (Gauss-Legendre, as :func:`symgeo.divergence.closed_forms.kl_near_diagonal_remainder`),
    and H is an expectation under p (differentiation under the integral):

    * KL = E_p[log p - log q]:  H = E_p[-d2 log q];
    * D_alpha = 4/(1 - alpha^2)(1 - E_p[(q/p)^b]), b = (1 + alpha)/2:
      H = -2/(1 - alpha) E_p[(q/p)^b (d2 log q + b (d log q)(d log q)^T)].

    The nodes t_k fold into one expectation: E2 = sum_k c_k (the bracket at q_k =
    p + t_k delta) with c_k = w_k (1 - t_k).  Each term is O(|delta|^2), so nothing of
    size O(|delta|) cancels, as the sum of log p - log q (or of the affinity's
    (q/p)^b - 1) does near p."""
    ell = family.log_density
    coords = family.coordinates
    to_p = dict(zip(coords, ps))
    delta = [qi - pi for pi, qi in zip(ps, qs)]
    grad = [sp.diff(ell, c) for c in coords]
    quad = sp.Add(*[di * dj * sp.diff(g, c) for di, g in zip(delta, grad)
                    for dj, c in zip(delta, coords)])
    slope = sp.Add(*[di * g for di, g in zip(delta, grad)])
    ell_p = ell.xreplace(to_p)
    terms = []
    for tk, ck in remainder_rule():
        at = {c: pi + tk * di for c, pi, di in zip(coords, ps, delta)}
        if name == "kl":
            terms.append(-ck * quad.xreplace(at))
        else:
            b = (1 + lead[0]) / 2
            ratio = sp.exp(b * (ell.xreplace(at) - ell_p))
            terms.append(-2 / (1 - lead[0]) * ck * ratio *
                         (quad.xreplace(at) + b * slope.xreplace(at) ** 2))
    what = ("near q = p: int_0^1 (1 - t) delta^T H(p, p + t delta) delta dt, delta = q - p, "
            f"H = the Hessian of the divergence in q as an expectation under p "
            f"(Gauss-Legendre, {REMAINDER_NODES} nodes)")
    return ell_p, sp.Add(*terms), what


def integral(family, name, points, lead):
    """The :class:`Integral` of quantity ``name`` (one of :data:`QUADRATURE_QUANTITIES`).

    ``points`` are the coordinate tuples of p (and q) as in
    :func:`symgeo.codegen.numpy.derive`; ``lead`` the leading symbols (α).
    Raises :class:`SymgeoError` when the support has no vectorised route.
    """
    ell = family.log_density
    ps = points[0]
    qs = points[1] if len(points) > 1 else ps
    to_p = dict(zip(family.coordinates, ps))
    to_q = dict(zip(family.coordinates, qs))
    ell_p, ell_q = ell.xreplace(to_p), ell.xreplace(to_q)
    e1, e2, post, what = _integrands(name, ell_p, ell_q, lead)
    e1, e2 = _log_gamma(e1), _log_gamma(e2)
    sup = family.support
    fam = f"family {family.name!r}"
    if len(family.variables) != 1:
        raise SymgeoError(f"{fam}: no vectorised numeric route for {name} over a "
                          f"{len(family.variables)}-variate support; family.kl_numeric, "
                          "entropy_numeric and alpha_divergence_numeric (mpmath) work at any point")
    x = family.variables[0]
    if isinstance(sup, IntegerRange):
        return Integral("series", x, e1, e2, post, lower=sp.sympify(sup.lower, strict=True).xreplace(to_p),
                        upper=sp.sympify(sup.upper, strict=True).xreplace(to_p),
                        description=f"{what}, summed over the integers from "
                        f"{sup.lower} to {sup.upper} in doubling blocks until a ratio "
                        "bound puts the tail below 1e-17 of the sum")
    if isinstance(sup, FiniteValues):
        return Integral("points", x, e1, e2, post, values=tuple(sup.values),
                        description=f"{what}, summed over the {len(sup.values)} support points")
    if not isinstance(sup, Box):  # pragma: no cover - the univariate supports are above
        raise SymgeoError(f"{fam}: no vectorised numeric route for {name} on this support")
    if sup.periodic:
        u = sp.Symbol("u", real=True)
        lo = sp.sympify(sup.lower[0], strict=True)
        return Integral("circle", u, e1.xreplace({x: u}), e2.xreplace({x: u}), post,
                        lower=lo, upper=sp.sympify(sup.upper[0], strict=True),
                        description=f"{what}, trapezoid rule over one period "
                        f"({TRAPEZOID_NODES} nodes; spectrally accurate for smooth periodic "
                        "integrands)")
    near = None
    if name in NEAR_ROUTED and len(points) > 1:
        ne1, ne2, nwhat = _near_integrands(family, name, ps, qs, lead)
        # a kink of log p in the coordinates (Laplace's |x - mu|) puts a DiracDelta into
        # the Hessian: a point mass the rule cannot integrate, so no branch there
        if not ne2.has(sp.DiracDelta):
            try:
                near = _continuous(family, name, _log_gamma(ne1), _log_gamma(ne2), SUM, nwhat,
                                   to_p, to_q, points, fam, split=False, clean_factor=False)
            except SymgeoError:
                near = None
    return _continuous(family, name, e1, e2, post, what, to_p, to_q, points, fam, near=near)


SPLIT_AT_Q = ("alpha_divergence", "kl", "cross_entropy")
"""Routed quantities whose integrand depends on q: split at q's centre (one piece on close
rows; see :func:`_continuous`)."""

NEAR_ROUTED = ("kl", "alpha_divergence")
"""Routed divergences that get a near-diagonal branch (continuous supports)."""


def _continuous(family, name, e1, e2, post, what, to_p, to_q, points, fam, split=True,
                near=None, clean_factor=True):
    """The double-exponential :class:`Integral` of E1, E2 over a continuous support.

    ``clean_factor=False``: E2 is mapped to the node variable as it is (a remainder
    integrand: three Hessians, whose log-expansion took minutes; the printer's
    softplus still guards its logs of 1 + e^a)."""
    x = family.variables[0]
    # the map is built from p's coordinates: its nodes follow p's location and scale
    rule, u, x_of_u, log_jac, text = _standard_domain(family)
    x_of_u = x_of_u.xreplace(to_p)
    log_jac = log_jac.xreplace(to_p)
    e1 = _simplify_logs(e1.xreplace({x: x_of_u})) + log_jac
    e2 = _simplify_logs(e2.xreplace({x: x_of_u})) if clean_factor else e2.xreplace({x: x_of_u})
    node_density = functools.cache(lambda: _node_log_density(family, x_of_u, log_jac, to_p))
    kinks = []
    if _non_smooth(e1, u) or _non_smooth(e2, u):
        kinks = _kinks([e1, e2], u)
        rest = [e.replace(lambda n: isinstance(n, (sp.Abs, sp.sign, sp.Heaviside))
                          and n.args[0].has(u) and sp.expand(n.args[0]).is_polynomial(u)
                          and sp.degree(sp.expand(n.args[0]), u) == 1, lambda n: sp.S.One)
                for e in (e1, e2)]
        if any(_non_smooth(e, u) for e in rest):
            raise SymgeoError(f"{fam}: no vectorised numeric route for {name}: log p has a "
                              "kink that is not linear in the integration variable; "
                              "family.kl_numeric / entropy_numeric / alpha_divergence_numeric "
                              "(mpmath) work at any point")
        kinks = list(dict.fromkeys(sp.simplify(k) for k in kinks))
    unsplit = ()
    if split and name in SPLIT_AT_Q and len(points) > 1:
        # KL and cross-entropy: log q has its narrow feature at q's centre (a peak of
        # width q's scale), which the nodes about p's centre miss (a Student t KL with q
        # 10 scales away and 10 times narrower was NaN, a logistic one 1.1e-9 off).
        # p^l q^(1-l) has its mass about p's centre, about q's, or between (two bumps of
        # heavy-tailed densities): on the real line break points at both centres put the
        # clustered nodes of the pieces on each bump, whatever the two scales.  On the
        # half-line q's centre alone: there a narrow q falls off double-exponentially
        # (a Gumbel or Weibull tail in v), which the exp-sinh tail from q's centre
        # resolves and a tanh-sinh piece from q's centre to p's did not (NaN at step 1/64)
        centre_q = _node_at(family, u, x_of_u, to_q, "centre")
        unit_q = _node_at(family, u, x_of_u, to_q, "unit")
        if centre_q is not None:
            smooth = not kinks
            kinks = list(dict.fromkeys(kinks + [centre_q] + ([sp.S.Zero] if rule == "real"
                                                              else [])))
            # the one-piece test compares q's centre and unit with p's in the node
            # variable: a fair test only where they are all of a density's shape there,
            # i.e. where p's density in the node variable is free of p's coordinates
            # (location-scale families; not Weibull's shape k, which the map leaves out)
            if smooth and unit_q is not None and _standard_shape(node_density(), to_p):
                unsplit = ((centre_q, unit_q - centre_q) if rule == "real" else
                           (sp.log(centre_q), sp.log(unit_q / centre_q)))
                unsplit = tuple(sp.simplify(sp.expand_log(e, force=True)) for e in unsplit)
    split_text = f", split at {u} = {', '.join(map(sp.sstr, kinks))}" if kinks else ""
    if unsplit:
        split_text += (f" (one piece where |{sp.sstr(unsplit[0])}| <= {UNSPLIT_DISTANCE} and "
                       f"{sp.sstr(unsplit[1])} is within a factor {UNSPLIT_WIDTH} of 1)")
    tail = "exponential" if rule == "half" and _exponential_tail(node_density(), u) \
        else "algebraic"
    how = {"real": "sinh-sinh on the real line", "half": "exp-sinh on the half-line"}[rule] \
        if tail == "algebraic" else \
        "on the half-line through v = exp(t - e^-t + e^t/20), for its exponential tail"
    return Integral(rule, u, e1, e2, post, kinks=tuple(kinks), tail=tail,
                    offset=1.0 if name == "alpha_divergence" and post != SUM else 0.0,
                    near=near, unsplit=unsplit,
                    description=f"{what}, by double-exponential quadrature ({how}{split_text}; "
                    f"tanh-sinh between kinks; the step halves from 1/8 until two steps "
                    f"agree to 1e-9 relative, at most to 1/64, where they must agree "
                    f"to 1e-7, else NaN; error <= 1e-12 at generic points) after {text}")


UNSPLIT_DISTANCE = 2
"""Largest distance of q's centre from p's (in units of p's scale) of a one-piece integral."""
UNSPLIT_WIDTH = 2
"""Largest ratio of q's scale to p's, or p's to q's, of a one-piece integral."""


def _node_log_density(family, x_of_var, log_jac, to_p):
    """p's log-density in the node variable, Jacobian included, logs simplified and the
    whole expanded (terms c * g(node))."""
    x = family.variables[0]
    lp = family.log_density.xreplace(to_p).xreplace({x: x_of_var}) + log_jac
    return sp.expand(_simplify_logs(lp))


def _exponential_tail(lp, var):
    """True when ``lp``, p's log-density in the node variable ``var`` (v > 0), has a term
    -c v^k, c > 0 and k > 0 (proved from the coordinates' assumptions): the density then
    falls off at least like e^-c v^k, and so does an integrand weighted by p, or by
    p^l q^(1-l) with q of the same family (its own term -c' v^k')."""
    for term in sp.Add.make_args(lp):
        c, g = term.as_independent(var, as_Add=False)
        base, k = log_powers(g).as_base_exp()  # exp(k log v) is v^k
        if base == var and k.is_positive and c.is_negative:
            return True
    return False


def _standard_shape(lp, to_p):
    """True when ``lp``, p's log-density in the node variable (expanded, not simplified: a
    coordinate left over only makes the test say no), is free of p's coordinates: the map
    standardises the whole density, not only its location and scale."""
    return not (lp.free_symbols & set(to_p.values()))


def _node_at(family, var, x_of_var, to_q, where):
    """The node variable at q's own standard centre (w = 0 on the real line, 1 on the
    half-line: ``where="centre"``) or unit point (w = 1, e: ``"unit"``), when the map
    inverts in closed form; else None."""
    st = _standardisation(family)
    if st is None or st.domain not in ("real", "half"):
        return None
    w = {("real", "centre"): sp.S.Zero, ("real", "unit"): sp.S.One,
         ("half", "centre"): sp.S.One, ("half", "unit"): sp.E}[st.domain, where]
    x_q = st.x_of_w.xreplace({st.new: w}).xreplace(to_q)
    try:
        sols = sp.solve(sp.Eq(x_of_var, x_q), var)
    except (NotImplementedError, TypeError, ValueError):
        return None
    sols = [s for s in sols if s.is_real is not False]
    return sp.simplify(sols[0]) if len(sols) == 1 else None


TRAPEZOID_NODES = 256
"""Nodes of the periodic trapezoid rule (the helper module's _CIRCLE_NODES)."""
