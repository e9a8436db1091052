"""Parallel transport (isometry of the Fisher metric, holonomy = curvature x area) and
sectional curvature (the Gaussian curvature in dimension 2)."""

import numpy as np
import pytest
import sympy as sp

from symgeo.geometry import geodesic as G
from symgeo.geometry import transport as T

from oracle import dirichlet_sectional


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_transport_preserves_the_fisher_inner_product(families, name):
    fam = families[name]
    core = G._core(fam, 0)
    rng = np.random.default_rng(3)
    P, Q = rng.uniform(0.5, 5, (20, 2)), rng.uniform(0.5, 5, (20, 2))
    W = rng.normal(size=(20, 2, 2))
    tr = fam.parallel_transport(P, W, q=Q)
    assert tr.ok.all()
    np.testing.assert_allclose(tr.point, Q, rtol=1e-10)
    for a, b in ((0, 0), (0, 1), (1, 1)):
        before = T.inner(core, P, W[:, a], W[:, b])
        after = T.inner(core, tr.point, tr.vectors[:, a], tr.vectors[:, b])
        scale = np.sqrt(T.inner(core, P, W[:, a], W[:, a]) * T.inner(core, P, W[:, b], W[:, b]))
        assert np.max(np.abs(after - before) / scale) < 1e-10
    # one point, one vector: the same answer
    one = fam.parallel_transport(P[0], W[0, 0], q=Q[0])
    np.testing.assert_allclose(one.vectors, tr.vectors[0, 0], rtol=1e-9)


def _segment_area_term(fam, a, b):
    """int sqrt(2)/sigma dmu along the geodesic a -> b (Green's theorem for the normal
    family's area element sqrt(det g) = sqrt(2)/sigma^2), Gauss-Legendre on the dense
    solution."""
    lm = fam.log_map(a, b)
    e = fam.exp_map(a, lm.velocity)
    t, w = np.polynomial.legendre.leggauss(60)
    t, w = (t + 1) / 2, w / 2
    y = np.array([e.solution(s) for s in t])
    mu_dot, sigma = y[:, 2], y[:, 1]
    return float(np.sum(w * np.sqrt(2) / sigma * mu_dot))


def test_normal_holonomy_is_curvature_times_area(families):
    """Around a counter-clockwise geodesic triangle the Fisher-orthonormal frame turns by
    K * area, K = -1/2 (the normal family is a hyperbolic plane)."""
    fam = families["normal"]
    core = G._core(fam, 0)
    A, B, C = np.array([0.0, 1.0]), np.array([1.5, 1.2]), np.array([0.4, 2.5])
    area = sum(_segment_area_term(fam, a, b) for a, b in ((A, B), (B, C), (C, A)))
    # Green: area = oint P dmu, P = sqrt(2)/sigma (-dP/dsigma = sqrt(2)/sigma^2), the
    # triangle A, B, C being counter-clockwise in the (mu, sigma) plane
    assert area > 0.5
    w0 = np.array([1.0, 0.0])
    w = w0
    for a, b in ((A, B), (B, C), (C, A)):
        w = fam.parallel_transport(a, w, q=b).vectors
    g = core.metric(A[None])[0][0]
    cos = (w0 @ g @ w) / np.sqrt((w0 @ g @ w0) * (w @ g @ w))
    sin = np.sqrt(np.linalg.det(g)) * (w0[0] * w[1] - w0[1] * w[0]) / \
        np.sqrt((w0 @ g @ w0) * (w @ g @ w))
    angle = np.arctan2(sin, cos)
    assert abs(angle - (-0.5) * area) < 1e-9, (angle, area)
    # Gauss-Bonnet: the same area from the triangle's angles
    def ang(at, to1, to2):
        v1, v2 = fam.log_map(at, to1).velocity, fam.log_map(at, to2).velocity
        gg = core.metric(np.asarray(at)[None])[0][0]
        return np.arccos((v1 @ gg @ v2) / np.sqrt((v1 @ gg @ v1) * (v2 @ gg @ v2)))
    angles = ang(A, B, C) + ang(B, C, A) + ang(C, A, B)
    assert abs((np.pi - angles) / 0.5 - area) < 1e-9


@pytest.mark.parametrize("name", ["normal", "gamma", "beta"])
def test_sectional_equals_gaussian_curvature_in_2d(families, name):
    fam = families[name]
    u = sp.symbols("u1 u2", real=True)
    v = (sp.Rational(2, 3), sp.Rational(-5, 7))
    K = fam.sectional_curvature(u, v)
    Kg = fam.gaussian_curvature()
    at = {c: sp.Rational(7 + 2 * i, 5) for i, c in enumerate(fam.coordinates)}
    at.update({u[0]: sp.Rational(3, 11), u[1]: sp.Rational(13, 4)})
    assert abs(sp.N((K - Kg).xreplace(at), 30)) < 1e-25
    if name == "normal":
        assert sp.simplify(K + sp.Rational(1, 2)) == 0


def test_sectional_curvature_rejects_a_line(families):
    fam = families["normal"]
    with pytest.raises(Exception, match="plane"):
        fam.sectional_curvature([1, 2], [2, 4])


@pytest.mark.slow  # the Dirichlet Riemann tensor, about 12 s
def test_sectional_curvature_depends_on_the_plane_in_3d(families):
    """Dirichlet (K = 3) at (1, 2, 3): K(u, v) for two planes against the metric's
    derivatives in mpmath (an independent oracle), and the two planes differ."""
    import mpmath as mp

    fam = families["dirichlet"]
    at = dict(zip(fam.coordinates, (1, 2, 3)))
    values = []
    for u, v in (([1, 0, 0], [0, 1, 1]), ([0, 0, 1], [1, -1, 0])):
        K = float(sp.N(fam.sectional_curvature(u, v).xreplace(at), 30))
        with mp.workdps(30):
            oracle = dirichlet_sectional([mp.mpf(1), mp.mpf(2), mp.mpf(3)], u, v)
        assert K == pytest.approx(float(oracle), rel=1e-12)
        values.append(K)
    assert abs(values[0] - values[1]) > 1e-3
