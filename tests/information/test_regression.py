"""Regression and curved multivariate models declared with [data], against independent oracles.

The oracles are the closed forms of the literature computed in mpmath from the
data alone (never from symgeo's expressions):
* Gaussian noise, y_i ~ N(f(x_i; theta), sigma_i^2): I = J^T Sigma^-1 J with
  J_ia = d f(x_i; theta)/d theta_a by mp.diff (InformationGeometry.jl's
  FisherMetric test: transpose(EmbeddingMatrix) * inv(cov) * EmbeddingMatrix);
* Poisson log link: I = sum_i mu_i x_i x_i^T, mu_i = exp(x_i^T b);
* logistic link: I = sum_i p_i (1 - p_i) x_i x_i^T.
"""

from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import symgeo

HERE = Path(__file__).resolve().parent.parent / "data" / "regression"
DPS = 30


@pytest.fixture(autouse=True)
def _precision():
    with mp.workdps(DPS + 10):
        yield


@pytest.fixture(scope="module")
def models():
    return {p.stem: symgeo.load_family(p) for p in sorted(HERE.glob("*.toml"))}


def _theta(fam, values):
    return {c: sp.Rational(v) for c, v in zip(fam.coordinates, values)}


def _matrix_close(F, M, pt, digits=25):
    d = M.rows
    for i in range(d):
        for j in range(d):
            v = mp.mpf(sp.N(F[i, j].xreplace(pt), DPS + 10))
            assert abs(v - M[i, j]) <= mp.mpf(10) ** -digits * max(1, abs(M[i, j])), (i, j)


def _gauss_oracle(mean, xs, sigmas, theta):
    """J^T diag(1/sigma^2) J with J by mp.diff of the mean function."""
    d = len(theta)
    M = mp.zeros(d, d)
    for x, s in zip(xs, sigmas):
        grad = []
        for a in range(d):
            def g(t, a=a):
                th = list(theta)
                th[a] = t
                return mean(x, th)
            grad.append(mp.diff(g, theta[a]))
        for a in range(d):
            for b in range(d):
                M[a, b] += grad[a] * grad[b] / mp.mpf(s) ** 2
    return M


def test_informationgeometry_linear_model(models):
    fam = models["ig_linear"]
    theta = ["0.37", "-1.21"]
    M = _gauss_oracle(lambda x, th: th[0] * mp.mpf(x) + th[1], ["0", "0.5", "1", "1.5"],
                      ["1.2", "2", "0.6", "1"], [mp.mpf(t) for t in theta])
    _matrix_close(fam.fisher(), M, _theta(fam, theta))
    assert fam.fisher_result().route_summary == "Gaussian Fisher identity"


def test_informationgeometry_nonlinear_model(models):
    fam = models["ig_nonlinear"]
    theta = ["0.83", "-0.4"]
    M = _gauss_oracle(lambda x, th: th[0] ** 3 * mp.mpf(x) + mp.exp(th[0] + th[1]),
                      ["1", "2", "3"], ["0.5", "0.45", "0.6"], [mp.mpf(t) for t in theta])
    _matrix_close(fam.fisher(), M, _theta(fam, theta))


def test_exponential_decay(models):
    fam = models["exp_decay"]
    theta = ["2.3", "0.61"]
    M = _gauss_oracle(lambda t, th: th[0] * mp.exp(-th[1] * mp.mpf(t)),
                      ["0.5", "1", "2", "3.5", "5"], ["0.1", "0.2", "0.15", "0.3", "0.25"],
                      [mp.mpf(t) for t in theta])
    _matrix_close(fam.fisher(), M, _theta(fam, theta))


def test_curved_bivariate_gaussian(models):
    """m = (p q, p + q^2), Sigma = [[1, 0.3], [0.3, 0.5]]: I = J^T Sigma^-1 J."""
    fam = models["curved_gaussian"]
    p, q = mp.mpf("0.7"), mp.mpf("-1.3")
    J = mp.matrix([[q, p], [1, 2 * q]])
    S = mp.matrix([[1, mp.mpf("0.3")], [mp.mpf("0.3"), mp.mpf("0.5")]])
    M = J.T * S ** -1 * J
    _matrix_close(fam.fisher(), M, _theta(fam, ["0.7", "-1.3"]))
    # E[y_1] = p q closes (it did not before: "did not close symbolically")
    y1 = fam.variables[0]
    assert sp.simplify(fam.expectation(y1).value - sp.Mul(*fam.coordinates)) == 0


@pytest.mark.slow  # 5 s
def test_poisson_regression(models):
    fam = models["poisson_regression"]
    X = [["1", "0.2", "-1.0"], ["1", "-0.5", "0.3"], ["1", "1.1", "0.8"], ["1", "0.0", "-0.4"],
         ["1", "-1.3", "1.5"], ["1", "0.7", "0.1"]]
    b = ["0.3", "-0.2", "0.45"]
    M = mp.zeros(3, 3)
    for row in X:
        x = [mp.mpf(v) for v in row]
        mu = mp.exp(sum(xi * mp.mpf(bi) for xi, bi in zip(x, b)))
        for i in range(3):
            for j in range(3):
                M[i, j] += mu * x[i] * x[j]
    _matrix_close(fam.fisher(), M, _theta(fam, b))
    # the score form needs E[y_i y_j]: the curved exponential-family route
    _matrix_close(fam.fisher("score"), M, _theta(fam, b))


def test_logistic_regression(models):
    fam = models["logistic_regression"]
    xs = ["-2.0", "-1.2", "-0.3", "0.4", "1.0", "1.7", "2.5", "3.1"]
    a, b = mp.mpf("-0.4"), mp.mpf("0.9")
    M = mp.zeros(2, 2)
    for x in xs:
        x = mp.mpf(x)
        p = 1 / (1 + mp.exp(-(a + b * x)))
        v = [1, x]
        for i in range(2):
            for j in range(2):
                M[i, j] += p * (1 - p) * v[i] * v[j]
    _matrix_close(fam.fisher(), M, _theta(fam, ["-0.4", "0.9"]))


def test_poisson_regression_numeric_fisher_is_vectorised(models):
    fam = models["poisson_regression"]
    fn = fam.numeric("fisher")
    rng = np.random.default_rng(1)
    theta = rng.normal(scale=0.3, size=(500, 3))
    out = fn(theta[:, 0], theta[:, 1], theta[:, 2])
    assert out.shape == (500, 3, 3)
    pt = _theta(fam, [repr(float(v)) for v in theta[7]])
    exact = np.array(fam.fisher().xreplace(pt).evalf(20), dtype=float)
    assert np.allclose(out[7], exact, rtol=1e-13)


def test_regression_numeric_route_agrees(models):
    """The mpmath numeric route (independent blocks, one sum per observation) agrees."""
    fam = models["poisson_regression"]
    pt = _theta(fam, ["0.3", "-0.2", "0.45"])
    s = fam.score()
    num = fam.expectation_numeric(s[0] * s[1], pt, dps=25)
    assert abs(num - mp.mpf(sp.N(fam.fisher()[0, 1].xreplace(pt), 30))) < mp.mpf(10) ** -18


def test_regression_from_python():
    """The same model from a few lines of Python: any sympy log-density over data."""
    ts = ["0.5", "1", "2"]
    ys = sp.symbols("y1:4")
    A, k = sp.symbols("A k", positive=True)
    ld = sum(-(y - A * sp.exp(-k * sp.Rational(t))) ** 2 / 2 - sp.log(2 * sp.pi) / 2
             for y, t in zip(ys, ts))
    fam = symgeo.Family("decay", ld, ys, "real", [(A, "positive"), (k, "positive")])
    M = _gauss_oracle(lambda t, th: th[0] * mp.exp(-th[1] * mp.mpf(t)), ts, ["1"] * 3,
                      [mp.mpf("1.5"), mp.mpf("0.8")])
    _matrix_close(fam.fisher(), M, _theta(fam, ["1.5", "0.8"]))
