"""Natural gradient: KL trust region realised numerically, reparameterisation invariance."""

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import symgeo


def _kl_numeric(fam, p, q, dps=20):
    """KL(p || q) = E_p[log p - log q] by the numeric route (quadrature/summation)."""
    logq = fam.log_density.xreplace({c: sp.N(v, dps + 15) for c, v in q.items()})
    return fam.expectation_numeric(fam.log_density - logq, p, dps=dps)


@pytest.mark.parametrize("name,loss", [
    ("normal", "(mu - 1)**2 + sigma**2"),
    ("gamma", "alpha**2 + beta - log(alpha)"),
    ("poisson", "(lam - 3)**2"),
    ("categorical", "p1**2 + 2*p2"),
])
def test_trust_region_step_realises_delta(families, points, name, loss):
    fam = families[name]
    errs = []
    for delta in (sp.Rational(1, 10 ** 3), sp.Rational(1, 10 ** 5)):
        new, step = fam.trust_region_step(loss, points[name][0], delta)
        with mp.workdps(30):
            kl = _kl_numeric(fam, points[name][0], new)
            errs.append(abs(kl / mp.mpf(sp.N(delta, 30)) - 1))
        # the quadratic model holds exactly: 1/2 step^T g step = delta
        g = fam.fisher().xreplace(points[name][0])
        assert abs(sp.N((step.T * g * step)[0, 0] / 2 - delta, 30)) < 1e-25
    # KL = delta (1 + O(sqrt(delta))): small, and shrinking like sqrt(delta)
    assert errs[0] < 0.2 and errs[1] < errs[0] / 5, errs


def test_natural_gradient_is_reparameterisation_invariant(families):
    normal, normal_var = families["normal"], families["normal_var"]
    mu, sigma = normal.coordinates
    _, v = normal_var.coordinates
    ng_s = normal.natural_gradient((mu - 1) ** 2 + (sigma ** 2 - 2) ** 2)
    ng_v = normal_var.natural_gradient((mu - 1) ** 2 + (v - 2) ** 2)
    # a tangent vector: (d mu, d v) = J (d mu, d sigma), J = diag(1, 2 sigma)
    J = sp.diag(1, 2 * sigma)
    assert sp.simplify(ng_v.xreplace({v: sigma ** 2}) - J * ng_s) == sp.zeros(2, 1)
    # the flows trace the same distributions: v(t) = sigma(t)^2
    xs, _ = normal.fisher_flow("(mu - 1)**2 + (sigma**2 - 2)**2", [0.2, 0.7], 0.8)
    xv, _ = normal_var.fisher_flow("(mu - 1)**2 + (v - 2)**2", [0.2, 0.49], 0.8)
    np.testing.assert_allclose([xs[0], xs[1] ** 2], xv, rtol=1e-9)
    # ... whereas plain gradient descent is not invariant (the test can fail)
    grad_s = sp.Matrix([sp.diff((mu - 1) ** 2 + (sigma ** 2 - 2) ** 2, c) for c in (mu, sigma)])
    grad_v = sp.Matrix([sp.diff((mu - 1) ** 2 + (v - 2) ** 2, c) for c in (mu, v)])
    assert sp.simplify(grad_v.xreplace({v: sigma ** 2}) - J * grad_s) != sp.zeros(2, 1)


def test_flow_converges_to_minimiser(families):
    xs, _ = families["gamma"].fisher_flow("(alpha - 2)**2 + (beta - 3)**2", [1.0, 1.0], 40)
    np.testing.assert_allclose(xs, [2, 3], atol=1e-6)


def test_loss_with_stray_symbol_is_refused(families):
    with pytest.raises(symgeo.SymgeoError, match="normal.*loss may depend only"):
        families["normal"].natural_gradient(sp.Symbol("mu") + sp.Symbol("z"))
    with pytest.raises(symgeo.SymgeoError, match="normal.*loss.*unknown name 'z'"):
        families["normal"].natural_gradient("mu + z")
