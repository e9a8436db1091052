"""Entropies through the Beta-integral rule with log factors, against quadrature and
the literature (never inside symgeo/)."""

from pathlib import Path

import mpmath as mp
import oracle
import pytest
import sympy as sp

import symgeo

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "heldout"


def test_student_t_entropy_general_nu():
    """H = (nu+1)/2 [psi((nu+1)/2) - psi(nu/2)] + log(sqrt(nu) B(nu/2, 1/2)) + log sigma
    (e.g. Lazo and Rathie 1978), with nu symbolic."""
    fam = symgeo.get_family("student_t", nu="nu")
    H = fam.entropy()
    nu = next(s for s in H.free_symbols if s.name == "nu")
    sigma = fam.symbol("sigma")
    lit = (nu + 1) / 2 * (sp.digamma((nu + 1) / 2) - sp.digamma(nu / 2)) + \
        sp.log(sp.sqrt(nu) * sp.beta(nu / 2, sp.S.Half)) + sp.log(sigma)
    for v, s in ((sp.Rational(7, 3), sp.Rational(3, 2)), (sp.Rational(1, 2), 2), (11, 1)):
        assert abs(sp.N((H - lit).subs({nu: v, sigma: s}), 40)) < 1e-35
    assert not H.has(sp.exp)  # 1/Gamma constants, not exp(-log Gamma)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["log_logistic", "burr", "lomax", "frechet", "kumaraswamy"])
def test_heldout_entropy_matches_quadrature(name):
    fam = symgeo.load_family(HELDOUT / f"{name}.toml")
    H = fam.entropy()
    pt = fam.generic_point()
    ref, = oracle.expect(fam, [-fam.log_density], pt, dps=30)
    with mp.workdps(30):
        got = mp.mpf(sp.N(H.xreplace(pt), 30))
        assert abs(got - ref) < mp.mpf(10) ** -25 * max(1, abs(ref)), (name, got, ref)


@pytest.mark.parametrize("name, point", [
    ("poisson", ["37/10"]),
    # p = 7/10: sympy's evalf of the Sum takes 0.4 s there, 10 s at p = 3/10 (terms ~ (1-p)^k)
    ("negative_binomial", ["7/10"]),
])
def test_entropy_of_infinite_discrete_families_is_an_exact_series(name, point):
    """E[log x!] has no closed form: the entropy is returned as an exact Sum, evaluated
    here by mpmath's nsum, against summation of the declared mass function."""
    fam = symgeo.get_family(name)
    res = fam.entropy_result()
    assert res.value.has(sp.Sum) and "exact series" in res.detail
    value = fam.entropy(point)
    got = sp.N(value, 30)
    ref = fam.entropy_numeric(point, dps=30)
    assert abs(got - sp.Float(mp.nstr(ref, 30), 30)) < 1e-25


def test_poisson_entropy_series_matches_the_literature():
    """H = lam (1 - log lam) + e^{-lam} sum_k lam^k log k! / k! (e.g. Evans, Boersma,
    Blachman and Jagers 1988)."""
    fam = symgeo.get_family("poisson")
    lam = fam.coordinates[0]
    k = sp.Symbol("k", integer=True, nonnegative=True)
    lit = lam * (1 - sp.log(lam)) + sp.exp(-lam) * sp.Sum(
        lam ** k * sp.log(sp.factorial(k)) / sp.factorial(k), (k, 0, sp.oo))
    for v in (sp.Rational(1, 7), sp.Rational(53, 10)):
        assert abs(sp.N((fam.entropy_result().value - lit).subs(lam, v), 30)) < 1e-25


def test_divergent_series_is_refused():
    """E[x!] under a geometric law diverges: no Sum is returned for it."""
    fam = symgeo.get_family("geometric")
    x = fam.variables[0]
    with pytest.raises(symgeo.errors.DerivationError):
        fam._engine.expect(sp.factorial(x) * 2 ** x, series=True)


def test_inverse_gaussian_log_moment_and_entropy_close_through_bessel_order_derivative():
    """E[log x] under the generalised-inverse-Gaussian kernel needs dK_nu/dnu at nu = -1/2,
    sqrt(pi/(2z)) E_1(2z) e^z (DLMF 10.38.7); checked against quadrature of the density."""
    fam = symgeo.get_family("inverse_gaussian")
    x = fam.variables[0]
    e_log = fam.expectation(sp.log(x)).value
    H = fam.entropy_result().value
    assert H.has(sp.expint) and not H.has(sp.Integral)
    for pt in (["7/5", "23/10"], ["1/3", "9/2"]):
        sub = dict(zip(fam.coordinates, map(sp.Rational, pt)))
        ref = fam.expectation_numeric(sp.log(x), sub, dps=30)
        assert abs(sp.N(e_log.xreplace(sub), 30) - sp.Float(mp.nstr(ref, 30), 30)) < 1e-25
        ref = fam.entropy_numeric(pt, dps=30)
        assert abs(sp.N(H.xreplace(sub), 30) - sp.Float(mp.nstr(ref, 30), 30)) < 1e-25


@pytest.mark.parametrize("nu", [sp.Rational(1, 2), sp.Rational(-3, 2), sp.Rational(7, 2)])
def test_besselk_order_derivative_against_mpmath(nu):
    from symgeo.engine.rules import besselk_order_derivative
    z = sp.Rational(13, 7)
    got = sp.N(besselk_order_derivative(nu, z), 30)
    with mp.workdps(40):
        ref = mp.diff(lambda n: mp.besselk(n, mp.mpf(13) / 7), mp.mpf(nu.p) / nu.q)
    assert abs(got - sp.Float(mp.nstr(ref, 35), 35)) < 1e-25


@pytest.mark.parametrize("p, q", [(["3/10", "7/5"], ["-1/2", "4/5"]),
                                  (["-1/2", "4/5"], ["3/10", "7/5"]),
                                  (["1/4", "2"], ["1/4", "1/3"])])
def test_laplace_alpha_divergence_piecewise_exponential(p, q):
    """The affinity of two Laplace laws splits at both locations into exponentials of
    linear functions; either order of the kinks, against quadrature split at the kinks."""
    fam = symgeo.get_family("laplace")
    res = fam.log_affinity(sp.Rational(7, 20))
    assert res.value.has(sp.Piecewise) and not res.value.has(sp.Integral)
    got = sp.N(fam.alpha_divergence(sp.Rational(3, 10), p, q), 30)
    ref = fam.alpha_divergence_numeric(sp.Rational(3, 10), p, q, dps=30)
    assert abs(got - sp.Float(mp.nstr(ref, 30), 30)) < 1e-25


MEAN_EQUALS_VARIANCE = """
name = "normal_mean_variance"
variables = ["x"]
support = { kind = "real" }
log_density = "-(x - t)**2/(2*t) - log(2*pi*t)/2"

[[coordinates]]
name = "t"
domain = "positive"
"""


@pytest.mark.parametrize("source", ["normal_curved", MEAN_EQUALS_VARIANCE])
def test_curved_gaussian_affinity_closes_by_the_gaussian_exponential_rule(source):
    """N(t, t^2) and N(t, t) are curved: the affinity int p^l q^(1-l) is a ratio of
    Gaussian integrals (no plain integration: rules only), checked against mpmath
    quadrature of the declared density."""
    from symgeo.declare.loader import declaration_from_text
    from symgeo.engine.expectation import rules_only
    from symgeo.family import Family
    fam = symgeo.get_family(source) if source == "normal_curved" else \
        Family(**declaration_from_text(source, "<test>"))
    a, p, q = sp.Rational(1, 3), [sp.Rational(13, 10)], [sp.Rational(17, 7)]
    with rules_only():
        value = fam.alpha_divergence(a, p, q)
    ref = fam.alpha_divergence_numeric(a, p, q, dps=30)
    with mp.workdps(30):
        assert abs(mp.mpf(sp.N(value, 35)) - ref) < mp.mpf(10) ** -25 * abs(ref)


@pytest.mark.parametrize("source", ["normal_curved", MEAN_EQUALS_VARIANCE])
def test_curved_gaussian_affinity_in_a_symbolic_alpha(source):
    """The same with alpha a symbol (as the build derives it): the combined precision
    l P_p + (1 - l) P_q is positive only for the alpha that make it so, which the
    Gaussian rule proves through l = 1/(1 + e), e > 0.  Checked at alpha in (-1, 1) and at
    alpha = 3/2 (l < 0, where the integral still converges here), in float arithmetic,
    against mpmath quadrature of the declared density."""
    from symgeo.declare.loader import declaration_from_text
    from symgeo.engine.expectation import rules_only
    from symgeo.family import Family
    fam = symgeo.get_family(source) if source == "normal_curved" else \
        Family(**declaration_from_text(source, "<test>"))
    alpha = sp.Symbol("alpha", real=True)
    with rules_only():
        form = fam.alpha_divergence(alpha)
    x, (t,) = fam.variables[0], fam.coordinates
    tq = sp.Symbol(f"{t}_q", positive=True)
    ell = sp.lambdify((x, t), fam.log_density, "mpmath")
    real = sp.lambdify((alpha, t, tq), form, "math")
    with mp.workdps(30):
        for a, tp, tqv in ((-0.6, 1.3, 17 / 7), (0.3, 0.7, 0.9), (1.5, 1.2, 1.3)):
            a, tp, tqv = mp.mpf(a), mp.mpf(tp), mp.mpf(tqv)
            lam = (1 - a) / 2
            rho = mp.quad(lambda z: mp.exp(lam * ell(z, tp) + (1 - lam) * ell(z, tqv)),
                          [-mp.inf, tp, tqv, mp.inf])
            ref = 4 / (1 - a ** 2) * (1 - rho)
            # in real float arithmetic, as generated code evaluates it: a log of a
            # negative factor (each factor of the precision alone, for l < 0) would fail
            got = real(float(a), float(tp), float(tqv))
            assert abs(got - ref) < 1e-12 * abs(ref), (a, tp, tqv)
