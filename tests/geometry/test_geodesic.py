"""Geodesics and Fisher-Rao distances: closed forms vs the numeric shooting route,
a literature oracle (normal family), and alpha-geodesics as straight lines in
the affine coordinates of exponential families."""

import random
import zlib

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import symgeo
from symgeo.geometry import geodesic as G

CLOSED = {"normal": "hyperbolic", "gumbel": "hyperbolic", "cauchy": "hyperbolic",
          "student_t": "hyperbolic", "laplace": "hyperbolic", "logistic": "hyperbolic",
          "categorical": "sphere", "multinomial": "sphere", "bernoulli": "sphere",
          "binomial": "sphere", "poisson": "1-d", "exponential": "1-d", "geometric": "1-d",
          "normal_curved": "1-d"}


def _pairs(fam, n=2):
    rng = random.Random(zlib.crc32(fam.name.encode()) + 1)
    return [(fam.random_point(rng), fam.random_point(rng)) for _ in range(n)]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLOSED))
def test_closed_form_matches_shooting(families, name):
    fam = families[name]
    form = fam.distance_formula()
    assert form is not None and form.kind == CLOSED[name], (name, form)
    for p, q in _pairs(fam):
        c = fam.fisher_rao_distance(p, q)
        n = fam.fisher_rao_distance(p, q, method="numeric")
        assert c.method == "closed form" and c.converged
        assert n.method == "shooting" and n.converged, n.detail
        assert abs(c.distance - n.distance) <= 1e-9 * c.distance, (name, c.distance, n.distance)


@pytest.mark.parametrize("name", ["normal_var", "gamma", "beta", "weibull", "von_mises",
                                  "dirichlet"])
def test_no_closed_form_uses_shooting(families, name):
    fam = families[name]
    assert fam.distance_formula() is None
    p, q = _pairs(fam, 1)[0]
    res = fam.fisher_rao_distance(p, q)
    assert res.method == "shooting" and res.converged and res.distance > 0
    # exp_p(log_p q) = q, and the speed is constant along the geodesic (Levi-Civita)
    e = fam.exp_map(p, res.velocity)
    qv = np.array([float(q[c]) for c in fam.coordinates])
    np.testing.assert_allclose(e.point, qv, rtol=1e-10, atol=1e-12)
    g = G._numeric(fam, sp.S.Zero).g
    speed = lambda x, u: float(np.sqrt(u @ g(x) @ u))  # noqa: E731
    pv = np.array([float(p[c]) for c in fam.coordinates])
    assert abs(speed(e.point, e.velocity) - speed(pv, res.velocity)) < 1e-10 * res.distance
    with pytest.raises(symgeo.DerivationError, match="no closed-form"):
        fam.fisher_rao_distance(p, q, method="closed")


def _normal_literature(m1, s1, m2, s2):
    """Costa, Santos & Strapasson (2015): d = 2 sqrt2 artanh sqrt(((dm)^2 + 2 (ds)^2)/((dm)^2 + 2 (s1 + s2)^2))."""
    with mp.workdps(40):
        m1, s1, m2, s2 = (mp.mpf(sp.N(v, 45)) for v in (m1, s1, m2, s2))
        num = (m1 - m2) ** 2 + 2 * (s1 - s2) ** 2
        den = (m1 - m2) ** 2 + 2 * (s1 + s2) ** 2
        return 2 * mp.sqrt(2) * mp.atanh(mp.sqrt(num / den))


@pytest.mark.slow
def test_normal_distance_literature(families):
    fam = families["normal"]
    mu, sigma = fam.coordinates
    cases = [((0, 1), (1, 1)), ((-1, sp.Rational(1, 2)), (2, 3)), ((sp.Rational(3, 7), 2), (sp.Rational(3, 7), 5))]
    for (m1, s1), (m2, s2) in cases:
        lit = _normal_literature(m1, s1, m2, s2)
        c = fam.fisher_rao_distance({mu: m1, sigma: s1}, {mu: m2, sigma: s2})
        assert abs(c.distance - float(lit)) < 1e-14 * float(lit)
        # the symbolic formula itself, at 35 digits
        form = fam.distance_formula()
        sub = dict(zip(form.p_syms, (m1, s1)))
        sub.update(zip(form.q_syms, (m2, s2)))
        with mp.workdps(40):
            assert abs(mp.mpf(sp.N(form.expr.xreplace(sub), 45)) - lit) < mp.mpf(10) ** -35
        n = fam.fisher_rao_distance([m1, s1], [m2, s2], method="numeric")
        assert abs(n.distance - float(lit)) < 1e-10 * float(lit)
    # normal_var is the same manifold: no closed form detected, shooting agrees
    nv = families["normal_var"]
    n = nv.fisher_rao_distance([0, 1], [1, 4], method="numeric")
    assert abs(n.distance - float(_normal_literature(0, 1, 1, 2))) < 1e-10


def test_geodesic_equations_normal(families):
    """Normal in (mu, sigma): mu'' = 2 mu' sigma'/sigma, sigma'' = (sigma'^2 - mu'^2/2)/sigma."""
    fam = families["normal"]
    eq = fam.geodesic_equations()
    mu, s = eq.functions
    t = eq.t
    expected = [2 * mu.diff(t) * s.diff(t) / s, (s.diff(t) ** 2 - mu.diff(t) ** 2 / 2) / s]
    for e, rhs in zip(eq.second_order, expected):
        assert sp.simplify(e.rhs - rhs) == 0
    assert len(eq.state) == 4 and eq.rhs[:2] == eq.state[2:]


def test_e_and_m_geodesics_are_straight_in_affine_coordinates(families):
    """alpha = 1: straight in theta = (mu/sigma^2, -1/(2 sigma^2));
    alpha = -1: straight in eta = (mu, mu^2 + sigma^2)."""
    fam = families["normal"]
    p, v = [0.3, 1.2], [0.4, -0.1]
    maps = {1: lambda m, s: (m / s ** 2, -1 / (2 * s ** 2)), -1: lambda m, s: (m, m * m + s * s)}
    for alpha, to_affine in maps.items():
        e = fam.exp_map(p, v, t=1.0, alpha=alpha)
        assert e.ok
        pts = np.array([to_affine(*e.solution(t)[:2]) for t in np.linspace(0, 1, 9)])
        d = pts - pts[0]
        cross = d[:, 0] * d[-1, 1] - d[:, 1] * d[-1, 0]
        assert np.max(np.abs(cross)) < 1e-9
        # and affinely parametrised: equal steps in t give equal steps
        steps = np.diff(pts, axis=0)
        assert np.max(np.abs(steps - steps[0])) < 1e-9
    # the Levi-Civita geodesic is not straight in theta
    e = fam.exp_map(p, v, alpha=0)
    pts = np.array([maps[1](*e.solution(t)[:2]) for t in np.linspace(0, 1, 9)])
    d = pts - pts[0]
    assert np.max(np.abs(d[:, 0] * d[-1, 1] - d[:, 1] * d[-1, 0])) > 1e-3


def test_failure_is_reported_not_silent(families, monkeypatch):
    fam = families["gamma"]
    from symgeo.geometry import geodesic_numeric as GN
    monkeypatch.setattr(GN, "collocate", lambda core, x0, xq, **kw: GN.Collocation(
        np.zeros_like(x0), np.zeros(len(x0), bool), np.zeros(len(x0), bool),
        np.zeros((len(x0), 3, x0.shape[1]))))
    monkeypatch.setattr(GN, "newton", lambda core, x0, q, v, tol=0, **kw: (
        v, np.full(len(v), 0.5), np.zeros(len(v), bool), np.full(len(v), 40)))
    res = fam.fisher_rao_distance([1, 1], [2, 3], method="numeric")
    assert res.converged is False and res.distance is None
    assert "did not converge" in res.detail
    # a great circle of the categorical sphere crosses p1 = 0
    e = families["categorical"].exp_map([0.3, 0.3], [-3.0, 0.0], t=1.0)
    assert not e.ok and "leaves the domain" in e.message


def test_one_dimensional_quadrature_fallback(monkeypatch):
    # a fresh family (catalog instances are shared and cache their closed forms)
    x, p_ = sp.Symbol("x", integer=True, nonnegative=True), sp.Symbol("p", positive=True)
    fam = symgeo.Family("geometric_fresh", x * sp.log(1 - p_) + sp.log(p_), x, sp.S.Naturals0,
                        [(p_, (0, 1))])
    monkeypatch.setattr("symgeo.engine.budget.run_with_budget",
                        lambda *a, **k: (_ for _ in ()).throw(symgeo.BudgetExceeded("test")))
    form = fam.distance_formula()
    assert form.numeric_1d
    c = fam.fisher_rao_distance([0.2], [0.7])
    n = fam.fisher_rao_distance([0.2], [0.7], method="numeric")
    assert c.converged and abs(c.distance - n.distance) < 1e-10 * n.distance


def test_bad_points_are_refused(families):
    fam = families["normal"]
    with pytest.raises(symgeo.SymgeoError, match="outside the domain"):
        fam.fisher_rao_distance([0, 1], [0, -1], method="numeric")
    with pytest.raises(symgeo.SymgeoError, match="needs 2 coordinates"):
        fam.fisher_rao_distance([0], [0, 1])


@pytest.mark.slow
@pytest.mark.parametrize("name,alpha", [("gamma", 0), ("gamma", 1), ("cauchy", -1),
                                        ("categorical", sp.Rational(1, 2)), ("dirichlet", 0)])
def test_numeric_christoffel_matches_symbolic(families, points, name, alpha):
    fam = families[name]
    pt = points[name][0]
    x = [float(pt[c]) for c in fam.coordinates]
    C, dC = G._numeric(fam, sp.sympify(alpha)).C_dC(x)
    S = fam.christoffel(alpha)
    d = fam.dimension
    for k in range(d):
        for i in range(d):
            for j in range(d):
                ref = float(sp.N(S[k, i, j].xreplace(pt), 20))
                assert abs(C[k, i, j] - ref) < 1e-11 * max(1, abs(ref))
                dref = float(sp.N(sp.diff(S[k, i, j], fam.coordinates[0]).xreplace(pt), 20))
                assert abs(dC[0, k, i, j] - dref) < 1e-9 * max(1, abs(dref))


@pytest.mark.slow
@pytest.mark.parametrize("name,p,v", [
    ("normal", [0, 1], [sp.Rational(7, 10), sp.Rational(3, 10)]),
    ("gumbel", [sp.Rational(1, 2), 2], [sp.Rational(-1, 3), sp.Rational(1, 5)]),
    ("categorical", [sp.Rational(1, 5), sp.Rational(3, 10)], [sp.Rational(1, 10), sp.Rational(-1, 20)]),
])
def test_high_precision_exp_map_against_closed_form(families, name, p, v):
    """d(p, exp_p(v)) = |v|_g (a short geodesic minimises), at 25 digits: checks the
    closed form and the mpmath integrator against each other."""
    fam = families[name]
    q = fam.exp_map(p, v, dps=30).point
    form = fam.distance_formula()
    with mp.workdps(40):
        sub = dict(zip(form.p_syms, p))
        sub.update(zip(form.q_syms, [sp.Float(mp.nstr(x, 40), 40) for x in q]))
        closed = mp.mpf(sp.N(form.expr.xreplace(sub), 40))
        g = fam.fisher().xreplace(dict(zip(fam.coordinates, p)))
        speed = mp.sqrt(mp.mpf(sp.N((sp.Matrix(v).T * g * sp.Matrix(v))[0, 0], 40)))
        assert abs(closed - speed) < mp.mpf(10) ** -25 * speed, (closed, speed)
    # the double-precision route lands on the same point
    e = fam.exp_map([float(x) for x in p], [float(x) for x in v])
    np.testing.assert_allclose(e.point, [float(x) for x in q], rtol=1e-11)


def test_time_limit_and_angles(families):
    fam = families["von_mises"]
    res = fam.log_map([0.1, 1.0], [0.9, 2.5], time_limit=0)
    assert not res.converged and "time limit" in res.detail
    # mu is an angle: the geodesic from mu = 3 to mu = -3 crosses pi (length 2 pi - 6)
    across = fam.fisher_rao_distance([3.0, 1.0], [-3.0, 1.5])
    shifted = fam.fisher_rao_distance([0.0, 1.0], [2 * np.pi - 6, 1.5])
    assert across.converged and abs(across.distance - shifted.distance) < 1e-10
    assert abs(across.velocity[0] - shifted.velocity[0]) < 1e-9


@pytest.mark.slow
def test_hard_pair_converges_with_continuation(families):
    fam = families["categorical"]
    p, q = [0.01, 0.01], [0.01, 0.98]  # close to the boundary of the simplex
    n = fam.fisher_rao_distance(p, q, method="numeric")
    c = fam.fisher_rao_distance(p, q)
    assert n.converged and abs(n.distance - c.distance) < 1e-9 * c.distance


def test_symbolic_hyper_parameter():
    b = symgeo.get_family("binomial", n="n")
    n = b.symbol("n")
    form = b.distance_formula()  # symbolic: sphere of radius 2 sqrt(n)
    assert form.kind == "sphere" and form.expr.has(sp.sqrt(n))
    for call in (lambda: b.fisher_rao_distance([0.2], [0.5]),
                 lambda: b.exp_map([0.2], [0.1]),
                 lambda: b.fisher_flow("p**2", [0.2], 1)):
        with pytest.raises(symgeo.SymgeoError, match="binomial.*numeric values of the fixed"):
            call()
