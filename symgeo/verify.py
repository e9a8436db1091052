"""High-precision self-checks of a family's derived results (``symgeo verify``).

Two kinds of check, both at generic random points of the coordinate domain:

Taylor expansion of the KL divergence
    For a unit direction v and ε = 10⁻¹ … 10⁻⁸ (mpmath, ``digits`` digits)::

        KL(p_ξ ‖ p_{ξ+εv}) = ½ ε² vᵀ I(ξ) v + ε³ c(ξ, v) + O(ε⁴),
        c(ξ, v) = Σ_ijk (¼ ∂_k g_ij − ¹⁄₁₂ T_ijk) v^i v^j v^k,

    with g = I the Fisher metric and T_ijk = E[∂_iℓ ∂_jℓ ∂_kℓ] the
    Amari–Chentsov tensor.  (Expand ℓ(ξ+δ) to third order: KL = ½ g δδ −
    ⅙ E[∂_ijk ℓ] δδδ, and differentiating g_ij = E[∂_iℓ ∂_jℓ] under the
    integral gives −E[∂_ijk ℓ]δδδ = (3/2) ∂g δδδ − ½ T δδδ.)  The check fits
    the log–log slope (over ε ≤ 1e-4, see FIT_EPSILON) of the residual
    KL − ½ε²vᵀIv (3 ± 0.05) and, after the
    cubic term is subtracted too, of what is left (4 ± 0.05).  The KL comes
    from the family's closed form when it has one, else from quadrature.  The
    cubic identity needs ℓ three times differentiable in ξ: for a family with
    a kink (|x − μ|) it is reported as not applicable.

Closed forms against quadrature
    ``fisher`` (E[s sᵀ]), ``kl``, ``entropy`` and ``alpha_divergence`` (α = 1/3)
    against mpmath quadrature or summation of the declared density, relative
    agreement to ``quad_digits − 5`` digits; over a continuous support of several
    variables, scipy's nested quadrature in double precision, to 1e-10
    (:data:`MULTIVARIATE_DIGITS`).

:func:`verify` returns a :class:`Report`; ``report.ok`` is False when a check
failed (a check that could not run, e.g. no closed form, is "skipped").
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import mpmath as mp
import sympy as sp

from .engine.expectation import rules_only
from .errors import DerivationError, SymgeoError

EPSILONS = tuple(sp.Rational(1, 10 ** k) for k in range(1, 9))
"""ε = 10⁻¹ … 10⁻⁸ (exact, so ξ + εv is exact)."""

SLOPE_TOLERANCE = 0.05
ALPHA = sp.Rational(1, 3)


@dataclass
class Check:
    """One row of the report: ``ok`` is True, False or None (skipped, with the reason)."""

    name: str
    measured: str
    expected: str
    ok: bool | None
    detail: str = ""

    @property
    def status(self):
        return {True: "ok", False: "FAIL", None: "skipped"}[self.ok]


@dataclass
class Report:
    family: str
    checks: list = field(default_factory=list)

    @property
    def passed(self):
        """How many checks ran and passed (a check that could not run is neither)."""
        return sum(c.ok is True for c in self.checks)

    @property
    def ok(self):
        """No check failed and at least one passed: a verify that checked nothing fails."""
        return self.passed > 0 and all(c.ok is not False for c in self.checks)

    def table(self):
        rows = [("check", "measured", "expected", "status")] + \
            [(c.name, c.measured, c.expected, c.status) for c in self.checks]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        line = lambda r: "  ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip()  # noqa: E731
        out = [f"verify {self.family}", line(rows[0]), line(["-" * w for w in widths])]
        out += [line(r) for r in rows[1:]]
        notes = [f"  {c.name}: {c.detail}" for c in self.checks if c.detail]
        if not self.passed:
            notes.append("  no check ran, so nothing was verified (give --directions 1 or "
                         "more, or allow the quadrature checks)")
        return "\n".join(out + (["notes:"] + notes if notes else []))


# ----------------------------------------------------------------------
# helpers

def _require_numeric_fixed(family):
    symbolic = [k for k, s in family.fixed_symbols.items()
                if isinstance(family.fixed[s], sp.Symbol)]
    if symbolic:
        raise SymgeoError(f"family {family.name!r}: verify needs numeric hyper-parameters; "
                          f"give values for {', '.join(symbolic)} (e.g. get_family(name, "
                          f"{symbolic[0]}=7))")


def _mp(expr, dps):
    with mp.workdps(dps):
        return mp.mpf(sp.N(expr, dps)) if sp.sympify(expr, strict=True).is_real is not False \
            else mp.mpc(sp.N(expr, dps))


def _unit_direction(family, rng):
    v = [sp.Rational(rng.randint(-1000, 1000), 1000) for _ in family.coordinates]
    if all(c == 0 for c in v):
        v[0] = sp.Integer(1)
    return v


FIT_EPSILON = sp.Rational(1, 10 ** 4)
"""Slopes are fitted over ε ≤ 1e-4: a residual c ε³ + d ε⁴ has slope 3 only where
|d| ε ≪ |c|, and c can be small (inverse Gaussian: c = -5.7e-5, d = 7.3e-3 along
a direction; fitted over ε = 1e-1 … 1e-8 the slope came out 3.053)."""


def _fit_slope(eps, values):
    """Least-squares slope of log|values| against log eps, over eps ≤ FIT_EPSILON (all
    of them when fewer than three are that small)."""
    pairs = [(e, r) for e, r in zip(eps, values) if e <= FIT_EPSILON]
    if len(pairs) < 3:
        pairs = list(zip(eps, values))
    xs = [mp.log(e) for e, _ in pairs]
    ys = [mp.log(abs(r)) for _, r in pairs]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def _relative(a, b):
    """|a - b| relative to |b|, absolute below |b| = 1."""
    return abs(a - b) / max(abs(b), 1)


def _mp_str(x, n=6):
    return mp.nstr(x, n)


def cubic_coefficient_tensor(family):
    """c_ijk = ¼ ∂_k g_ij − ¹⁄₁₂ T_ijk (not symmetrised; contract with v v v)."""
    def compute():
        g = family.fisher()
        T = family.amari_chentsov()
        xi = family.coordinates
        d = len(xi)
        return [[[sp.diff(g[i, j], xi[k]) / 4 - T[i, j, k] / 12 for k in range(d)]
                 for j in range(d)] for i in range(d)]
    # cached: every direction and point of a report contracts the same tensor
    return family._cached("kl_cubic_coefficient", compute)


# ----------------------------------------------------------------------
# Taylor expansion

def _kl_function(family, dps):
    """(callable (p, q) -> mpf, route): closed form when derived, else quadrature."""
    try:
        general = family.kl_result().value
    except DerivationError:
        def by_quadrature(p, q):
            return family.kl_numeric(p, q, dps=dps)
        return by_quadrature, "quadrature"
    qs = family._q_symbols()

    def closed(p, q):
        sub = dict(zip(family.coordinates, p))
        sub.update(zip(qs, q))
        return _mp(general.xreplace(sub), dps)
    return closed, "closed form"


def taylor_check(family, point, direction, digits=50):
    """Residual slopes of the KL expansion along ``direction`` at ``point``.

    Returns a dict: ``eps``, ``kl``, ``quadratic``, ``residual`` (KL − ½ε²vᵀIv),
    ``slope``, ``cubic`` (c(ξ, v) or None), ``residual4`` and ``slope4``,
    ``route`` of the KL values, ``exact`` (the residual vanished to working
    precision at every ε, e.g. a quadratic KL).
    """
    dps = digits + 20
    p = [point[c] for c in family.coordinates]
    v = direction
    eps = [e for e in EPSILONS
           if family.in_domain({c: a + e * b for c, a, b in zip(family.coordinates, p, v)})]
    if len(eps) < 5:
        raise SymgeoError(f"family {family.name!r}: the point {tuple(p)} is too close to the "
                          "domain's edge for ε = 1e-1 … 1e-8 along this direction")
    kl, route = _kl_function(family, dps)
    g = family.fisher().xreplace(point)
    quad_form = sum(g[i, j] * v[i] * v[j] for i in range(len(v)) for j in range(len(v)))
    with mp.workdps(dps):
        gv = _mp(quad_form, dps)
        out = {"eps": eps, "kl": [], "quadratic": [], "residual": [], "route": route}
        for e in eps:
            q = [a + e * b for a, b in zip(p, v)]
            val = kl(p, q)
            qq = gv * _mp(e, dps) ** 2 / 2
            out["kl"].append(val)
            out["quadratic"].append(qq)
            out["residual"].append(val - qq)
        noise = mp.mpf(10) ** (-digits + 5)
        out["exact"] = all(abs(r) <= noise * abs(k) for r, k in zip(out["residual"], out["kl"]))
        out["slope"] = None if out["exact"] else _fit_slope(eps, out["residual"])
        out["cubic"] = out["residual4"] = out["slope4"] = None
        if not family.nonsmooth():
            c = cubic_coefficient_tensor(family)
            d = len(v)
            cv = sum(c[i][j][k].xreplace(point) * v[i] * v[j] * v[k]
                     for i in range(d) for j in range(d) for k in range(d))
            cv = _mp(cv, dps)
            out["cubic"] = cv
            out["residual4"] = [r - cv * _mp(e, dps) ** 3 for r, e in zip(out["residual"], eps)]
            if not all(abs(r) <= noise * abs(k) for r, k in zip(out["residual4"], out["kl"])):
                out["slope4"] = _fit_slope(eps, out["residual4"])
    return out


# ----------------------------------------------------------------------
# the report

MULTIVARIATE_DIGITS = 15
"""Digits of the quadrature checks over a continuous support of several free variables:
mpmath's nested tanh-sinh takes minutes per entry there (a 5 x 5 Fisher matrix of
mvnormal2 did not finish in 400 s at 35 digits), so these run in double precision
(scipy's nested adaptive quadrature, relative agreement to 1e-10)."""


def _quadrature_digits(family, quad_digits):
    sup = family.support
    several = len(sup.free_variables(family.variables)) > 1 and not sup.discrete
    return min(quad_digits, MULTIVARIATE_DIGITS) if several else quad_digits


def _quadrature_checks(family, p, q, quad_digits, label):
    quad_digits = _quadrature_digits(family, quad_digits)
    tol = mp.mpf(10) ** (-(quad_digits - 5))
    dps = quad_digits if quad_digits <= MULTIVARIATE_DIGITS else quad_digits + 5
    pv = [p[c] for c in family.coordinates]
    qv = [q[c] for c in family.coordinates]
    checks = []

    def compare(name, closed, numeric):
        try:
            value = closed()
        except DerivationError as exc:
            checks.append(Check(f"{name} {label}".rstrip(), "no closed form", "-", None,
                                " ".join(str(exc).split())[:160]))
            return
        with mp.workdps(dps):
            # the closed side at full precision, even when the quadrature is in double
            a = value if isinstance(value, (mp.mpf, mp.mpc)) else _mp(value, quad_digits + 5)
            b = numeric()
            err = _relative(a, b)
        checks.append(Check(f"{name} {label}".rstrip(), f"rel. err {_mp_str(err, 3)}",
                            f"< 1e-{quad_digits - 5}", bool(err < tol)))

    def fisher_error():
        s = family.score()
        d = family.dimension
        worst = mp.mpf(0)
        g = family.fisher().xreplace(p)
        for i in range(d):
            for j in range(i, d):
                ref = family.expectation_numeric(s[i] * s[j], p, dps=dps)
                worst = max(worst, _relative(_mp(g[i, j], dps), ref))
        return worst

    with mp.workdps(dps):
        err = fisher_error()
    checks.append(Check(f"fisher {label}".rstrip(), f"rel. err {_mp_str(err, 3)}",
                        f"< 1e-{quad_digits - 5}", bool(err < tol)))
    compare("kl", lambda: family.kl(pv, qv), lambda: family.kl_numeric(pv, qv, dps=dps))
    compare("entropy", lambda: family.entropy(pv), lambda: family.entropy_numeric(pv, dps=dps))
    compare(f"alpha_divergence(α={ALPHA})", lambda: family.alpha_divergence(ALPHA, pv, qv),
            lambda: family.alpha_divergence_numeric(ALPHA, pv, qv, dps=dps))
    return checks


def verify(family, digits=50, quad_digits=30, seed=0, directions=2, points=1,
           quadrature=True):
    """Run the checks of this module on ``family``; returns a :class:`Report`.

    The closed forms checked are those the engine's rules derive, as in a build
    (:func:`symgeo.engine.expectation.rules_only`: no plain sympy integration, whose
    attempts cost up to its budget each, 80 s for the logistic family).
    """
    with rules_only():
        return _verify(family, digits, quad_digits, seed, directions, points, quadrature)


def _verify(family, digits, quad_digits, seed, directions, points, quadrature):
    if digits < 30 or quad_digits < 20:
        raise SymgeoError("verify: use --digits 30 or more (ε³ at ε = 1e-8 needs them) and "
                          "--quad-digits 20 or more")
    _require_numeric_fixed(family)
    rng = random.Random(seed)
    report = Report(family.name)
    for n in range(points):
        xi = family.random_point(rng)
        label = f"@{n + 1}" if points > 1 else ""
        for m in range(directions):
            v = _unit_direction(family, rng)
            tag = f"{label} v{m + 1}"
            try:
                t = taylor_check(family, xi, v, digits)
            except SymgeoError as exc:
                report.checks.append(Check(f"taylor{tag}", "not run", "-", None,
                                           " ".join(str(exc).split())[:200]))
                continue
            ratio = t["kl"][-1] / t["quadratic"][-1]
            report.checks.append(Check(
                f"KL/(½ε²vᵀIv){tag}", f"{mp.nstr(ratio - 1, 3)} at ε={t['eps'][-1]}",
                "→ 0", bool(abs(ratio - 1) < mp.mpf(10) ** -6), f"KL by {t['route']}"))
            if t["exact"]:
                report.checks.append(Check(f"residual slope{tag}", "residual 0",
                                           "3 ± 0.05", True, "KL is exactly quadratic here"))
                continue
            s3 = t["slope"]
            report.checks.append(Check(f"residual slope{tag}", _mp_str(s3, 5), "3 ± 0.05",
                                       bool(abs(s3 - 3) <= SLOPE_TOLERANCE)))
            if t["cubic"] is None:
                report.checks.append(Check(f"cubic-term slope{tag}", "n/a", "4 ± 0.05", None,
                                           "ℓ is not three times differentiable in the "
                                           "coordinates (kink); the cubic identity needs it"))
            elif t["slope4"] is None:
                report.checks.append(Check(f"cubic-term slope{tag}", "residual 0", "4 ± 0.05",
                                           True, "exact to working precision"))
            else:
                s4 = t["slope4"]
                report.checks.append(Check(f"cubic-term slope{tag}", _mp_str(s4, 5),
                                           "4 ± 0.05", bool(abs(s4 - 4) <= SLOPE_TOLERANCE)))
        if quadrature:
            q = family.random_point(rng)
            report.checks += _quadrature_checks(family, xi, q, quad_digits, label)
    return report
