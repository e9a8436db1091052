"""symgeo.verify: the Taylor expansion of KL and closed forms against quadrature.

The checks are run on correct families (they pass) and on families whose Fisher
matrix or Amari-Chentsov tensor has been deliberately corrupted (they fail), so
the verification itself is shown to be able to fail.
"""

import mpmath as mp
import pytest
import sympy as sp

import symgeo
from symgeo.cli import main
from symgeo.verify import cubic_coefficient_tensor, taylor_check, verify

SMOOTH = ["normal", "gamma", "beta", "poisson", "von_mises", "weibull"]


def _by_name(report, prefix):
    return [c for c in report.checks if c.name.startswith(prefix)]


@pytest.mark.parametrize("name", SMOOTH)
def test_verify_passes_on_catalog_families(families, name):
    report = verify(families[name], digits=50, directions=1, quadrature=False)
    assert report.ok, report.table()
    slopes = _by_name(report, "residual slope")
    cubic = _by_name(report, "cubic-term slope")
    assert slopes and cubic
    assert all(c.ok for c in slopes + cubic), report.table()


def test_slopes_are_three_and_four(families):
    fam = families["gamma"]
    pt = {fam.coordinates[0]: sp.Rational(37, 10), fam.coordinates[1]: sp.Rational(6, 5)}
    t = taylor_check(fam, pt, [sp.Rational(3, 5), sp.Rational(-4, 5)], digits=50)
    assert abs(t["slope"] - 3) < 0.01
    assert abs(t["slope4"] - 4) < 0.01
    # the ratio to the quadratic term tends to 1 like eps
    with mp.workdps(40):
        ratios = [abs(k / q - 1) for k, q in zip(t["kl"], t["quadratic"])]
    assert ratios[-1] < mp.mpf(10) ** -7 and ratios[-1] < ratios[0] * mp.mpf(10) ** -6


def test_cubic_coefficient_normal_sigma(families):
    # KL(N(0, s) || N(0, s + e)) = log(1 + e/s) + s^2/(2 (s+e)^2) - 1/2
    #   = e^2/s^2 - (5/3) e^3/s^3 + O(e^4)   (expanded by hand)
    fam = families["normal"]
    mu, sigma = fam.coordinates
    c = cubic_coefficient_tensor(fam)
    assert sp.simplify(c[1][1][1] + sp.Rational(5, 3) / sigma ** 3) == 0
    e = sp.Symbol("e")
    kl = sp.log(1 + e / sigma) + sigma ** 2 / (2 * (sigma + e) ** 2) - sp.Rational(1, 2)
    assert sp.simplify(sp.series(kl, e, 0, 4).coeff(e, 3) - c[1][1][1]) == 0


@pytest.mark.slow
def test_kinked_family_skips_the_cubic_identity(families):
    report = verify(families["laplace"], digits=40, directions=1)
    assert report.ok, report.table()
    cubic = _by_name(report, "cubic-term")
    assert cubic and all(c.ok is None for c in cubic)
    assert all(c.ok for c in _by_name(report, "residual slope"))
    assert [c.ok for c in _by_name(report, "fisher")] == [True]
    assert [c.ok for c in _by_name(report, "kl")] == [True]


def _fresh(name):
    """A private copy (get_family shares one instance per name: never corrupt that one)."""
    from symgeo.declare.catalog import catalog_files as _catalog_files
    return symgeo.load_family(_catalog_files()[name])


def test_wrong_fisher_is_caught():
    fam = _fresh("gamma")
    right = fam.fisher()
    fam.fisher = lambda form=None: right * sp.Rational(11, 10)
    report = verify(fam, digits=40, directions=1)
    assert not report.ok
    failed = {c.name.split()[0] for c in report.checks if c.ok is False}
    assert {"residual", "fisher"} <= failed, report.table()


def test_wrong_amari_chentsov_is_caught():
    fam = _fresh("gamma")
    fam.amari_chentsov = lambda: sp.MutableDenseNDimArray.zeros(2, 2, 2)
    report = verify(fam, digits=40, directions=1, quadrature=False)
    bad = _by_name(report, "cubic-term slope")
    assert bad and not bad[0].ok and abs(float(bad[0].measured) - 3) < 0.1, report.table()


def test_worked_example_of_note_000(families):
    """Normal, mu0 = 2, sigma0 = 1.5: exact KL vs (1/2) I delta^2 for delta = 0.1."""
    fam = families["normal_var"]
    mu, v = fam.coordinates
    p = [2, sp.Rational(9, 4)]
    I = fam.fisher().subs({mu: p[0], v: p[1]})
    d = sp.Rational(1, 10)
    kl_mu = fam.kl(p, [p[0] + d, p[1]])
    kl_v = fam.kl(p, [p[0], p[1] + d])
    assert kl_mu == sp.Rational(1, 450) == I[0, 0] * d ** 2 / 2  # exactly quadratic in mu
    assert abs(sp.N(kl_v, 30) - sp.Rational(465960, 10 ** 9)) < 1e-9
    assert I[1, 1] * d ** 2 / 2 == sp.Rational(8, 81) / 200          # 0.000493827
    # both against quadrature of the density
    for q in ([p[0] + d, p[1]], [p[0], p[1] + d]):
        num = fam.kl_numeric(p, q, dps=35)
        with mp.workdps(35):
            assert abs(mp.mpf(sp.N(fam.kl(p, q), 40)) - num) < mp.mpf(10) ** -30


def test_verify_cli(capsys):
    assert main(["verify", "poisson", "--digits", "40", "--directions", "1"]) == 0
    out = capsys.readouterr().out
    assert "residual slope" in out and "all checks passed" in out
    with pytest.raises(SystemExit):
        main(["verify", "poisson", "--digits", "10"])


@pytest.mark.slow
def test_kl_and_entropy_cli(capsys, monkeypatch):
    # the logistic KL has no closed form: refused after the (short) budget of sympy calls
    monkeypatch.setattr("symgeo.engine.budget.DEFAULT_BUDGET", 2.0)
    assert main(["kl", "normal", "--at", "2,1.5", "--to", "2.1,1.5"]) == 0
    assert "1/450" in capsys.readouterr().out
    assert main(["kl", "logistic", "--at", "0,1", "--to", "1,2"]) == 2
    assert "--numeric" in capsys.readouterr().err
    assert main(["kl", "logistic", "--at", "0,1", "--to", "1,2", "--numeric"]) == 0
    out = capsys.readouterr().out
    num = symgeo.get_family("logistic").kl_numeric([0, 1], [1, 2], dps=30)
    assert mp.nstr(num, 15)[:12] in out
    assert main(["entropy", "gamma", "--format", "json"]) == 0
    assert "polygamma" in capsys.readouterr().out
    assert main(["expfam", "cauchy"]) == 2
    assert "not an exponential family" in capsys.readouterr().err
    assert main(["kl", "normal", "--at", "__import__('os'),1", "--to", "1,1"]) == 2


def test_verify_all_runs_families_side_by_side_in_catalog_order(capsys, monkeypatch):
    """--all forks --jobs workers; the reports still come in catalog order, a family
    that fails is named, and the exit status says so."""
    from symgeo.cli import divergence
    monkeypatch.setattr(divergence, "family_names", lambda: ["poisson", "bernoulli",
                                                             "exponential"])
    assert main(["verify", "--all", "--jobs", "2", "--digits", "40", "--directions", "1",
                 "--no-quadrature"]) == 0
    out = capsys.readouterr().out
    heads = [line for line in out.splitlines() if line.startswith("verify ")]
    assert heads == ["verify poisson", "verify bernoulli", "verify exponential"]
    assert "all checks passed (3 families)" in out
