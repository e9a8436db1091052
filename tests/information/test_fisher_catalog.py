"""One parametrised suite over the whole catalog: a new family is tested the moment it is declared."""

import random

import mpmath as mp
import numpy as np
import pytest
import sympy as sp


from conftest import NAMES

# The public contract of ../shared/catalog.md: names and coordinate order.
CATALOG = {
    "normal": ["mu", "sigma"], "normal_var": ["mu", "v"], "normal_curved": ["theta"],
    "lognormal": ["mu", "sigma"], "half_normal": ["sigma"], "exponential": ["lam"],
    "gamma": ["alpha", "beta"], "inverse_gamma": ["alpha", "beta"], "beta": ["a", "b"],
    "inverse_gaussian": ["mu", "lam"], "rayleigh": ["sigma"], "weibull": ["k", "lam"],
    "pareto": ["alpha"], "laplace": ["mu", "b"], "cauchy": ["x0", "gamma"],
    "logistic": ["mu", "s"], "gumbel": ["mu", "beta"], "student_t": ["mu", "sigma"],
    "von_mises": ["mu", "kappa"], "bernoulli": ["p"], "binomial": ["p"], "poisson": ["lam"],
    "geometric": ["p"], "negative_binomial": ["p"], "categorical": ["p1", "p2"],
    "multinomial": ["p1", "p2"], "dirichlet": ["a1", "a2", "a3"],
    "mvnormal2": ["mu1", "mu2", "s11", "s12", "s22"],
    "mvnormal": ["mu1", "mu2", "s11", "s12", "s22"],
}
FIXED_DEFAULTS = {"pareto": {"xm": 1}, "student_t": {"nu": 4}, "binomial": {"n": 10},
                  "negative_binomial": {"r": 3}, "multinomial": {"n": 5, "K": 3},
                  "dirichlet": {"K": 3}, "categorical": {"K": 3}, "mvnormal": {"d": 2}}
DIGITS = 25


def test_catalog_is_complete():
    assert NAMES == sorted(CATALOG)
    assert len(NAMES) == 29


@pytest.mark.parametrize("name", NAMES)
def test_coordinates_in_catalog_order(families, name):
    fam = families[name]
    assert [c.name for c in fam.coordinates] == CATALOG[name]
    assert all(isinstance(c, sp.Symbol) for c in fam.coordinates)
    assert {k.name: v for k, v in fam.fixed.items()} == FIXED_DEFAULTS.get(name, {})


def _at(expr, point, dps=45):
    with mp.workdps(dps):
        return mp.mpf(sp.N(sp.sympify(expr).xreplace(point), dps))


def _close(a, b, digits=DIGITS):
    with mp.workdps(45):
        return abs(a - b) <= mp.mpf(10) ** (-digits) * max(1, abs(b))


@pytest.mark.slow
@pytest.mark.parametrize("k", [0, 1])
@pytest.mark.parametrize("name", NAMES)
def test_fisher_matches_quadrature(families, points, score_oracle, name, k):
    fam = families[name]
    F = fam.fisher()
    d = fam.dimension
    assert F.shape == (d, d)
    num = score_oracle(name, k)
    pairs = [(i, j) for i in range(d) for j in range(i, d)]
    for (i, j), value in zip(pairs, num):
        sym = _at(F[i, j], points[name][k])
        assert _close(sym, value), f"{name} I[{i},{j}] = {sym} but quadrature gives {value}"


@pytest.mark.parametrize("k", [0, 1])
@pytest.mark.parametrize("name", NAMES)
def test_fisher_symmetric_positive_definite(families, points, name, k):
    F = families[name].fisher()
    assert F == F.T
    with mp.workdps(40):
        M = mp.matrix([[_at(F[i, j], points[name][k]) for j in range(F.cols)]
                       for i in range(F.rows)])
        mp.cholesky(M)  # raises ValueError unless positive definite


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_score_has_mean_zero(families, points, score_oracle, name):
    fam = families[name]
    d = fam.dimension
    # the engine's symbolic expectation of each score component is exactly 0 ...
    for i in range(d):
        e = fam.expectation(fam.score()[i])
        assert sp.simplify(e.value) == 0, (name, i, e.value, e.route)
    # ... and the declared density agrees numerically
    tail = score_oracle(name, 0)[-d:]
    assert all(abs(v) < mp.mpf(10) ** -DIGITS for v in tail)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_both_classical_forms(families, name):
    fam = families[name]
    forms = fam.fisher_forms()
    res = fam.fisher_result()
    if fam.nonsmooth():
        assert res.form == "score"
        assert not forms["agree"], "the a.e. Hessian form should miss the kink's point mass"
        assert any("not differentiable" in n for n in res.notes)
    else:
        assert forms["agree"], f"{name}: E[s s^T] != -E[Hessian]"
        assert res.form == "hessian"
    assert res.matrix == forms["score"]  or all(
        sp.simplify(a - b) == 0 for a, b in zip(res.matrix, forms["score"]))


@pytest.mark.parametrize("name", NAMES)
def test_numeric_fisher(families, name):
    fam = families[name]
    F = fam.numeric("fisher")
    d = fam.dimension
    rng = random.Random(3)
    pts = [fam.random_point(rng) for _ in range(4)]
    cols = [np.array([float(p[c]) for p in pts]) for c in fam.coordinates]
    out = F(*cols)
    assert out.shape == (4, d, d)
    for n, p in enumerate(pts):
        exact = np.array(fam.fisher().xreplace(p).evalf(30).tolist(), dtype=float)
        np.testing.assert_allclose(out[n], exact, rtol=1e-12, atol=1e-300)
    # scalar input -> (d, d); mixed scalar/array -> broadcast
    scalar = F(*[float(pts[0][c]) for c in fam.coordinates])
    assert scalar.shape == (d, d)
    np.testing.assert_allclose(scalar, out[0], rtol=1e-14)
    mixed = F(*([cols[0]] + [float(pts[0][c]) for c in fam.coordinates[1:]]))
    assert mixed.shape == (4, d, d)
    if d == 1:
        return
    np.testing.assert_allclose(mixed[0], out[0], rtol=1e-14)
    grid = F(*[col[:, None] * np.ones((1, 3)) for col in cols])
    assert grid.shape == (4, 3, d, d)


def test_numeric_constant_entries_broadcast(families):
    F = families["normal"].numeric("fisher")
    out = F(np.zeros(5), np.ones(5))
    assert out.shape == (5, 2, 2)
    assert np.all(out[:, 0, 1] == 0) and np.all(out[:, 0, 0] == 1)
    assert np.isnan(F(0.0, -1.0)).all(), "outside the domain the result is NaN"


def test_numeric_score_and_log_density(families):
    fam = families["gamma"]
    s = fam.numeric("score")
    lp = fam.numeric("log_density")
    x = np.linspace(0.5, 3, 7)
    assert s(x, 2.0, 1.5).shape == (7, 2)
    assert lp(x, 2.0, 1.5).shape == (7,)
    from scipy import stats
    np.testing.assert_allclose(lp(x, 2.0, 1.5), stats.gamma(2.0, scale=1 / 1.5).logpdf(x),
                               rtol=1e-13)
    mv = families["mvnormal2"].numeric("log_density")
    X = np.array([[0.1, 0.2], [1.0, -1.0]])
    ref = stats.multivariate_normal([0, 0.5], [[2, 0.3], [0.3, 1]]).logpdf(X)
    np.testing.assert_allclose(mv(X, 0, 0.5, 2, 0.3, 1), ref, rtol=1e-13)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_cramer_rao_and_jeffreys(families, points, name):
    fam = families[name]
    # entries to 45 digits first: evalf of a product of exact polygamma forms takes seconds
    F = fam.fisher().xreplace(points[name][0]).applyfunc(lambda v: sp.N(v, 45))
    C = fam.cramer_rao().xreplace(points[name][0]).applyfunc(lambda v: sp.N(v, 45))
    assert (F * C - sp.eye(fam.dimension)).norm() < 1e-25
    J = sp.N(fam.jeffreys_prior().xreplace(points[name][0]), 45)
    assert abs(J ** 2 - F.det()) < 1e-25


def test_laplace_records_why(families):
    res = families["laplace"].fisher_result()
    b = families["laplace"].symbol("b")
    assert res.matrix == sp.diag(1 / b ** 2, 1 / b ** 2)
    assert res.form == "score"
    assert "Abs" in res.notes[0] or "|" in res.notes[0]
