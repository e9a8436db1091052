"""Empirical Fisher, m-/e-projections, geodesic paths and pictures.

Independent routes: samples come from numpy's own samplers (not from
symgeo), expected values of misspecified empirical Fisher matrices from the
moments of the sampling law (and, separately, mpmath quadrature), KL values
of the Pythagorean identity from the quadrature oracle (tests/oracle.py,
which integrates declared densities and uses none of the projection code),
e-projection optimality from the Gaussian variational conditions, and the
flat alpha = +-1 geodesics from shooting on the alpha-connection ODE.
"""

import sys

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import oracle
import symgeo
from symgeo.cli import main
from symgeo.errors import SymgeoError

N = 200_000


@pytest.fixture(scope="module")
def fams():
    return {n: symgeo.get_family(n) for n in ("normal", "gamma", "laplace", "logistic",
                                             "lognormal", "cauchy", "normal_curved")}


def _num(M):
    return np.array(sp.N(M), dtype=float)


def _se(s):
    """Monte Carlo standard error of each entry of mean(s s^T)."""
    prod = s[:, :, None] * s[:, None, :]
    return prod.std(axis=0) / np.sqrt(len(s))


# ----------------------------------------------------------------------
# empirical Fisher
@pytest.mark.parametrize("name, point, draw", [
    ("normal", (0.7, 1.3), lambda rng: rng.normal(0.7, 1.3, N)),
    ("gamma", (2.5, 1.7), lambda rng: rng.gamma(2.5, 1 / 1.7, N)),  # numpy: scale = 1/rate
])
def test_empirical_fisher_converges_to_fisher(fams, name, point, draw):
    fam = fams[name]
    x = draw(np.random.default_rng(20240501))
    F = fam.empirical_fisher(x, point)
    G = _num(fam.fisher().xreplace(dict(zip(fam.coordinates, map(sp.Rational, map(str, point))))))
    assert F.shape == (2, 2) and np.allclose(F, F.T)
    assert np.linalg.norm(F - G) / np.linalg.norm(G) < 0.02
    for i in range(2):  # every non-zero entry within 2 %
        for j in range(2):
            if G[i, j] != 0:
                assert abs(F[i, j] / G[i, j] - 1) < 0.02, (name, i, j, F, G)
    D = fam.empirical_fisher(x, point, diagonal=True)
    assert np.allclose(D, np.diag(np.diag(F)), rtol=1e-13, atol=0)
    # dict points by name give the same matrix
    assert np.allclose(fam.empirical_fisher(x, dict(zip(("mu", "sigma") if name == "normal"
                                                        else ("alpha", "beta"), point))), F)


def test_empirical_fisher_misspecified_laplace(fams):
    """Normal fitted to Laplace(m, b) samples at the moment-matched xi = (m, sqrt(2) b).

    s_mu = (x - mu)/sigma^2, s_sigma = ((x - mu)^2 - sigma^2)/sigma^3, so
    E_q[s s^T] = [[1/sigma^2, m3/sigma^5], [m3/sigma^5, (m4/sigma^4 - 1)/sigma^2]]
    while the Fisher matrix is diag(1/sigma^2, 2/sigma^2); Laplace: m3 = 0,
    m4 = 24 b^4 = 6 sigma^4, so the (sigma, sigma) entry is 5/sigma^2 instead of
    2/sigma^2: a departure of (m4/sigma^4 - 3)/sigma^2 = 3/sigma^2 (excess kurtosis 3).
    """
    normal, laplace = fams["normal"], fams["laplace"]
    m, b = 0.3, 1.2
    proj = normal.m_projection(laplace, params={"mu": m, "b": b})
    mu, sigma = proj.as_floats()
    assert abs(mu - m) < 1e-25 and abs(sigma - np.sqrt(2) * b) < 1e-14
    expected = np.array([[1 / sigma**2, 0], [0, 5 / sigma**2]])
    fisher = np.array([[1 / sigma**2, 0], [0, 2 / sigma**2]])
    # the analytic E_q[s s^T] once more, by quadrature under the Laplace density
    with mp.workdps(20):
        q = [mp.quad(lambda t, k=k: (t - m)**k * mp.exp(-abs(t - m) / b) / (2 * b),
                     [-mp.inf, m, mp.inf]) for k in (2, 3, 4)]
    assert abs(float(q[0]) - sigma**2) < 1e-12 and abs(float(q[1])) < 1e-12
    assert abs((float(q[2]) / sigma**4 - 1) / sigma**2 - expected[1, 1]) < 1e-12
    rng = np.random.default_rng(7)
    samples = rng.laplace(m, b, N)
    F = normal.empirical_fisher(samples, proj.point)
    s = normal.numeric("score")(samples, mu, sigma)
    se = _se(s)
    assert np.all(np.abs(F - expected) < 5 * se + 1e-12), (F, expected, se)
    departure = F - fisher
    assert departure[1, 1] > 0.8 * 3 / sigma**2 and departure[1, 1] > 20 * se[1, 1]
    assert abs(departure[0, 0]) < 5 * se[0, 0]
    # at the m-projection the score has mean zero under the data (moment matching)
    assert np.all(np.abs(s.mean(axis=0)) < 5 * s.std(axis=0) / np.sqrt(N))


def test_empirical_fisher_misspecified_skewed(fams):
    """Normal fitted to Exp(1) samples: xi = (1, 1), central moments m3 = 2, m4 = 9, so
    E_q[s s^T] = [[1, 2], [2, 8]] against the Fisher matrix diag(1, 2)."""
    normal = fams["normal"]
    samples = np.random.default_rng(11).exponential(1.0, N)
    F = normal.empirical_fisher(samples, (1, 1))
    se = _se(normal.numeric("score")(samples, 1.0, 1.0))
    expected = np.array([[1.0, 2.0], [2.0, 8.0]])
    assert np.all(np.abs(F - expected) < 5 * se), (F, se)
    rows, cols = [0, 1, 1], [1, 0, 1]  # the entries that depart: 2, 2 and 8 - 2
    assert np.all(np.abs(F - np.diag([1.0, 2.0]))[rows, cols] > 20 * se[rows, cols])


def test_empirical_fisher_errors(fams):
    gamma = fams["gamma"]
    with pytest.raises(SymgeoError, match="gamma.*not finite.*support"):
        gamma.empirical_fisher(np.array([1.0, -2.0, 3.0]), (2, 1))
    with pytest.raises(SymgeoError, match="gamma.*shape"):
        gamma.empirical_fisher(np.ones((4, 2)), (2, 1))
    with pytest.raises(SymgeoError, match="gamma.*outside the domain"):
        gamma.empirical_fisher(np.ones(4), (-2, 1))
    mv = symgeo.get_family("mvnormal2")
    x = np.random.default_rng(3).multivariate_normal([0, 0], [[1, 0.3], [0.3, 2]], 50)
    F = mv.empirical_fisher(x, (0, 0, 1, 0.3, 2))
    assert F.shape == (5, 5) and np.all(np.linalg.eigvalsh(F) > -1e-12)


# ----------------------------------------------------------------------
# m-projection
def test_m_projection_laplace_onto_normal_closed_form(fams):
    """KL(Laplace(m, b) || N(m, 2 b^2)) = -(1 + log 2b) + log(sqrt 2 b) + log(2 pi)/2 + 1/2."""
    normal, laplace = fams["normal"], fams["laplace"]
    proj = normal.m_projection(laplace, params={"mu": "0.3", "b": 1})
    with mp.workdps(40):
        b = mp.mpf(1)
        exact = (-(1 + mp.log(2 * b)) + mp.log(mp.sqrt(2) * b) + mp.log(2 * mp.pi) / 2
                 + mp.mpf(1) / 2)
        assert abs(proj.kl - exact) < mp.mpf(10) ** -25
        assert abs(proj.point[normal.symbol("sigma")] - mp.sqrt(2)) < mp.mpf(10) ** -25
        # matched moments E[x], E[x^2] = m, m^2 + 2 b^2
        assert abs(proj.moments[0] - mp.mpf("0.3")) < mp.mpf(10) ** -25
        assert abs(proj.moments[1] - (mp.mpf("0.09") + 2)) < mp.mpf(10) ** -25
    assert proj.kind == "m" and "explicit" in proj.route and "normal" in repr(proj)


def _kl_oracle(pfam, ppoint, log_r, dps=32):
    """KL(p || r) by the quadrature oracle: E_p[log p - log r]."""
    return oracle.expect(pfam, [pfam.log_density - log_r], ppoint, dps=dps)[0]


@pytest.mark.slow
@pytest.mark.parametrize("family, target, tpoint, other", [
    ("gamma", "lognormal", {"mu": sp.Rational(1, 5), "sigma": sp.Rational(1, 2)},
     {"alpha": sp.Rational(7, 3), "beta": sp.Rational(5, 4)}),
    ("normal", "logistic", {"mu": sp.Rational(1, 2), "s": sp.Rational(3, 4)},
     {"mu": sp.Rational(-1, 3), "sigma": sp.Rational(9, 5)}),
])
def test_pythagorean_identity(fams, family, target, tpoint, other):
    """KL(p || r) = KL(p || q) + KL(q || r) for q the m-projection of p and any member r."""
    fam, tfam = fams[family], fams[target]
    proj = fam.m_projection(tfam, params={k: v for k, v in tpoint.items()}, dps=35)
    ppt = {tfam.symbol(k): v for k, v in tpoint.items()}
    rpt = {fam.symbol(k): v for k, v in other.items()}
    qpt = {c: sp.Float(v, 45) for c, v in proj.point.items()}
    log_r = fam.log_density.xreplace(rpt)
    log_q = fam.log_density.xreplace(qpt)
    with mp.workdps(40):
        kl_pr = _kl_oracle(tfam, ppt, log_r)
        kl_pq = _kl_oracle(tfam, ppt, log_q)
        kl_qr = oracle.expect(fam, [log_q - log_r], qpt, dps=32)[0]
        # the projection's own KL(p || q) and matched moments agree with the oracle
        assert abs(proj.kl - kl_pq) < mp.mpf(10) ** -22
        moments = oracle.expect(tfam, list(proj.statistics), ppt, dps=32)
        assert all(abs(a - b) < mp.mpf(10) ** -22 for a, b in zip(proj.moments, moments))
        gap = kl_pr - (kl_pq + kl_qr)
        assert abs(gap) < mp.mpf(10) ** -20, (family, gap)
        assert kl_pq > mp.mpf(10) ** -3 and kl_qr > mp.mpf(10) ** -3  # not a trivial identity
        # moving q away from the projection increases KL(p || .), as it must
        shifted = {c: v * (1 + mp.mpf(1) / 100) for c, v in proj.point.items()}
        log_s = fam.log_density.xreplace({c: sp.Float(v, 45) for c, v in shifted.items()})
        assert _kl_oracle(tfam, ppt, log_s) > kl_pq


def test_m_projection_numeric_inverse_recovers_member(fams):
    """gamma has no explicit xi(eta) (inverse digamma): findroot recovers a member exactly."""
    gamma = fams["gamma"]
    x = gamma.variables[0]
    a, b = sp.Rational(13, 4), sp.Rational(2, 3)
    target = a * sp.log(b) - sp.loggamma(a) + (a - 1) * sp.log(x) - b * x
    proj = gamma.m_projection(target)
    assert "findroot" in proj.route and proj.iterations > 0
    with mp.workdps(40):  # the results carry dps + 10 digits; compare at that precision
        assert abs(proj.point[gamma.symbol("alpha")] - mp.mpf(a.p) / a.q) < mp.mpf(10) ** -25
        assert abs(proj.point[gamma.symbol("beta")] - mp.mpf(b.p) / b.q) < mp.mpf(10) ** -25
        assert abs(proj.kl) < mp.mpf(10) ** -25 and proj.residual < mp.mpf(10) ** -25


def test_projection_errors(fams):
    normal = fams["normal"]
    with pytest.raises(SymgeoError, match=r"m-projection onto family 'cauchy'.*not an exponential"):
        fams["cauchy"].m_projection("-log(pi) - log(1 + x**2)")
    with pytest.raises(SymgeoError, match=r"m-projection onto family 'normal_curved'.*curved"):
        fams["normal_curved"].m_projection("-x**2/2 - log(2*pi)/2")
    with pytest.raises(SymgeoError, match=r"m-projection onto family 'normal'.*not normalised"
                                          r".*total mass is 2\.50662"):
        normal.m_projection("-x**2/2")
    # a Laplace density seen on the gamma family's support (0, oo) has mass 1/2
    with pytest.raises(SymgeoError, match=r"m-projection onto family 'gamma'.*not normalised"):
        fams["gamma"].m_projection("-log(2) - Abs(x)")
    with pytest.raises(SymgeoError, match=r"e-projection onto family 'normal'.*not normalised"):
        normal.e_projection("-x**2")
    with pytest.raises(SymgeoError, match="unknown name 'm'.*given in params"):
        normal.m_projection("-(x - m)**2/2 - log(2*pi)/2")
    m = sp.Symbol("m")
    with pytest.raises(SymgeoError, match="symbol.*m have no value"):
        normal.m_projection(-(normal.variables[0] - m)**2 / 2 - sp.log(2 * sp.pi) / 2)
    with pytest.raises(SymgeoError, match="coordinates of family 'laplace'.*missing b"):
        normal.m_projection(fams["laplace"], params={"mu": 0})
    with pytest.raises(SymgeoError, match="params nu are not coordinates of family 'student_t'"
                                          r".*get_family\('student_t', nu=...\)"):
        normal.m_projection(symgeo.get_family("student_t"), params={"mu": 0, "sigma": 1, "nu": 5})
    with pytest.raises(SymgeoError, match="params c do not occur"):
        normal.m_projection("-x**2/2 - log(2*pi)/2", params={"c": 1})
    # no mean parameters: E[x] diverges under a Cauchy target (tanh-sinh alone would
    # return a finite number)
    cauchy = "-log(pi) - log(1 + x**2)"
    with pytest.raises(SymgeoError,
                       match="m-projection onto family 'normal'.*E\\[x\\] does not exist"):
        normal.m_projection(cauchy)
    with pytest.raises(symgeo.FormulaError):
        normal.m_projection("__import__('os')")
    # a formula with its own parameters
    p = normal.m_projection("-(x - m)**2/(2*s**2) - log(s) - log(2*pi)/2",
                            params={"m": 1.5, "s": 0.25})
    assert abs(p.as_floats()[0] - 1.5) < 1e-20 and abs(p.as_floats()[1] - 0.25) < 1e-20


# ----------------------------------------------------------------------
# e-projection
@pytest.mark.slow
def test_e_projection_gaussian_variational_conditions(fams):
    """For Gaussian q = N(mu, sigma^2), d/dxi KL(q || p) = 0 is E_q[(log p)'] = 0 and
    E_q[(log p)''] = -1/sigma^2 (Opper & Archambeau 2009), checked by the oracle."""
    normal, logistic = fams["normal"], fams["logistic"]
    m, s = sp.Rational(1, 2), sp.Rational(1)
    e = normal.e_projection(logistic, params={"mu": m, "s": s})
    mu, sigma = e.coordinates
    x = normal.variables[0]
    logp = logistic.log_density.xreplace({logistic.symbol("mu"): m, logistic.symbol("s"): s})
    logp = logp.xreplace({logistic.variables[0]: x})
    qpt = {c: sp.Float(v, 30) for c, v in e.point.items()}
    d1, d2, kl = oracle.expect(normal, [sp.diff(logp, x), sp.diff(logp, x, 2),
                                        normal.log_density - logp], qpt, dps=25)
    assert abs(d1) < 1e-8 and abs(d2 + 1 / sigma**2) < 1e-8, (d1, d2, sigma)
    assert abs(mu - mp.mpf(m)) < 1e-8  # the symmetric target keeps its centre
    assert abs(kl - e.kl) < 1e-15
    # the minimiser is not the m-projection (sigma_m = pi s / sqrt 3), and beats it
    m_proj = normal.m_projection(logistic, params={"mu": m, "s": s}, dps=20)
    assert abs(m_proj.coordinates[1] - mp.pi / mp.sqrt(3)) < 1e-15
    assert sigma < m_proj.coordinates[1] - 0.05
    kl_m = oracle.expect(normal, [normal.log_density - logp],
                         {c: sp.Float(v, 30) for c, v in m_proj.point.items()}, dps=20)[0]
    assert e.kl < kl_m
    assert e.kind == "e" and e.divergence == "KL(q || target)"


# ----------------------------------------------------------------------
# geodesic paths
@pytest.mark.slow
@pytest.mark.parametrize("name, p, q", [("normal", (-1, 1), (1, 3 / 2)),
                                        ("gamma", (1.5, 1), (3, 2))])
@pytest.mark.parametrize("alpha", [1, -1])
def test_flat_geodesic_solves_alpha_geodesic_equation(fams, name, p, q, alpha):
    """The straight line in theta / eta, mapped back, is the alpha = +-1 geodesic: compare
    with shooting on xi'' = -Gamma^(alpha) xi' xi' (Christoffel symbols from expectations)."""
    fam = fams[name]
    path = fam.geodesic_path(p, q, alpha, n=11)
    assert "straight line" in path.method
    shot = fam.log_map(p, q, alpha=alpha)
    assert shot.converged
    em = fam.exp_map(p, shot.velocity, 1.0, alpha=alpha)
    ode = np.array([em.solution(t)[:2] for t in path.t])
    assert np.max(np.abs(ode - path.points)) < 1e-8, (name, alpha, ode - path.points)


# ----------------------------------------------------------------------
# pictures
def _is_png(path, min_bytes=10_000):
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > min_bytes


def test_cli_plot_geodesics_and_taylor(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "geo.png"
    assert main(["plot", "geodesics", "normal", "--from=-1,1", "--to", "1,1", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert _is_png(out) and "alpha = 1: straight line" in text and "alpha = 0" in text
    out2 = tmp_path / "taylor.png"
    assert main(["plot", "taylor", "normal", "--at", "2,1.5", "-o", str(out2)]) == 0
    assert _is_png(out2)
    out3 = tmp_path / "taylor_dir.png"
    assert main(["plot", "taylor", "gamma", "--at", "2,1", "--direction", "1,-1/2",
                 "-o", str(out3)]) == 0
    assert _is_png(out3)
    assert main(["plot", "geodesics", "gamma", "--from", "2", "-o", str(tmp_path / "x.png")]) == 2
    assert "--from needs 2" in capsys.readouterr().err


@pytest.mark.slow
def test_plot_data(fams, tmp_path):
    pytest.importorskip("matplotlib")
    normal = fams["normal"]
    fig = normal.plot_taylor(at=(2, 1.5), path=tmp_path / "t.svg")
    assert (tmp_path / "t.svg").stat().st_size > 5_000
    (v_mu, deltas, kl_mu, quad_mu), (v_s, _, kl_s, quad_s) = fig.symgeo_data
    # exact KL along mu is exactly quadratic for the normal; along sigma only to 2nd order
    assert np.allclose(kl_mu, quad_mu, rtol=1e-12, atol=1e-15)
    i = np.argmin(np.abs(deltas - 0.01))
    assert abs(kl_s[i] / quad_s[i] - 1) < 0.05 and abs(kl_s[-1] / quad_s[-1] - 1) > 0.2
    # the plotted KL against the quadrature oracle
    x0 = {normal.symbol("mu"): 2, normal.symbol("sigma"): sp.Rational(3, 2)}
    for k in (0, 40, 200):
        q = {normal.symbol("mu"): 2,
             normal.symbol("sigma"): sp.Rational(3, 2) + sp.Float(deltas[k], 30)}
        ref = oracle.expect(normal, [normal.log_density - normal.log_density.xreplace(
            {c: q[c] for c in normal.coordinates})], x0, dps=20)[0]
        assert abs(float(ref) - kl_s[k]) < 1e-12
    g = fams["gamma"].plot_geodesics((1, 1), (3, 2))
    assert set(g.symgeo_paths) == {-1, 0, 1}
    with pytest.raises(SymgeoError, match="2-dimensional"):
        symgeo.get_family("poisson").plot_geodesics((1,), (2,))


def test_missing_matplotlib_message(monkeypatch, tmp_path, capsys):
    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(SymgeoError, match=r"pip install 'symgeo\[plot\]'"):
        symgeo.get_family("normal").plot_taylor()
    assert main(["plot", "taylor", "normal", "-o", str(tmp_path / "t.png")]) == 2
    assert "pip install 'symgeo[plot]'" in capsys.readouterr().err


def test_taylor_quadrature_route(monkeypatch):
    """Without a closed-form KL the picture integrates; both routes agree."""
    pytest.importorskip("matplotlib")
    fam = symgeo.get_family("normal")
    real = fam.numeric

    def numeric(quantity):
        if quantity == "kl":
            raise symgeo.DerivationError("no closed form (test)")
        return real(quantity)
    monkeypatch.setattr(fam, "numeric", numeric)
    fig = fam.plot_taylor(at=(2, 1.5), direction=(1, 1), deltas=np.linspace(-0.3, 0.3, 7))
    v, d, kl, quad = fig.symgeo_data[0]
    assert np.allclose(kl, real("kl")(2, 1.5, 2 + d, 1.5 + d), rtol=1e-12, atol=1e-15)
    assert np.allclose(quad, 0.5 * d**2 * (1 / 1.5**2 + 2 / 1.5**2), rtol=1e-14)
