"""float64 accuracy of the generated KL as q -> p: the closed form cancels there, the
generated function switches to its Taylor polynomial in delta = q - p (or, above three
coordinates, to the remainder integral of the Hessian along the segment).  The reference
is the exact closed form evaluated at 40 digits (itself checked against quadrature in
the divergence tests)."""

import random

import numpy as np
import pytest
import sympy as sp

import symgeo


@pytest.fixture(scope="module")
def compiled():
    cache = {}

    def get(name):
        if name not in cache:
            fam = symgeo.get_family(name)
            cache[name] = (fam, fam.numeric("kl"))
        return cache[name]
    return get


def _relative_error(fam, fn, pv, qv):
    # sp.Float of a Python float is its exact binary value (repr would round delta)
    sub = {**{c: sp.Float(float(v), 50) for c, v in zip(fam.coordinates, pv)},
           **{c: sp.Float(float(v), 50) for c, v in zip(fam._q_symbols(), qv)}}
    ref = float(sp.N(fam.kl_result().value.xreplace(sub), 40))
    return abs(float(fn(*pv, *qv)) - ref) / abs(ref)


@pytest.mark.parametrize("name", ["poisson", "bernoulli", "normal", "gamma", "beta",
                                  "inverse_gaussian", "dirichlet", "binomial", "mvnormal2",
                                  "laplace"])
def test_kl_keeps_relative_accuracy_near_the_diagonal(name, compiled):
    fam, fn = compiled(name)
    p = fam.random_point(random.Random(5))
    pv = [float(p[c]) for c in fam.coordinates]
    for eps, tol in ((1e-4, 1e-9), (1e-6, 1e-10), (1e-8, 1e-8)):
        qv = [v * (1 + eps) for v in pv]
        assert _relative_error(fam, fn, pv, qv) < tol, (name, eps)


def test_taylor_and_closed_form_meet_at_the_switch(compiled):
    """On both sides of the switch (1/2 delta^T I delta = 1e-6) the error stays small."""
    fam, fn = compiled("gamma")
    pv = [2.5, 1.5]
    g = np.array(fam.fisher().subs(dict(zip(fam.coordinates, pv))).tolist(), dtype=float)
    v = np.array([1.0, 0.7])
    for target in (0.9e-6, 1.1e-6):
        t = np.sqrt(2 * target / (v @ g @ v))
        assert _relative_error(fam, fn, pv, list(np.array(pv) + t * v)) < 1e-9


@pytest.mark.parametrize("name", ["mvnormal2", "gamma", "laplace"])
def test_kl_near_the_diagonal_in_a_generic_direction(name, compiled):
    """q = p + eps v, v random (not a rescaling of p), one point and an array of them."""
    fam, fn = compiled(name)
    rng = np.random.default_rng(11)
    for seed in (3, 4):
        p = fam.random_point(random.Random(seed))
        pv = np.array([float(p[c]) for c in fam.coordinates])
        v = rng.normal(size=pv.size) * np.abs(pv)
        for eps in (1e-5, 1e-7, 1e-9):
            qv = pv + eps * v
            assert _relative_error(fam, fn, pv, qv) < 1e-10, (name, seed, eps)
            both = fn(*[np.array([a, a]) for a in pv], *[np.array([b, b]) for b in qv])
            assert both[0] == both[1]
            assert abs(both[0] - fn(*pv, *qv)) <= 1e-14 * abs(both[0])  # the scalar path


def test_remainder_rule_drops_a_kink_only_at_q_equal_p():
    """|mu_p - mu_q| is crossed at t = 0 only; a kink elsewhere on the segment is refused."""
    from symgeo.divergence.closed_forms import kl_near_diagonal_remainder
    a, c = sp.symbols("a c", real=True)
    _, value = kl_near_diagonal_remainder(sp.Abs(a - c) ** 3, [a], [c])
    assert not value.has(sp.DiracDelta)
    # int_0^1 (1 - t) 6 t |delta|^3 dt = |delta|^3, exact for the 3-node rule
    assert abs(float(value.subs({a: 0.3, c: 0.5})) - 0.2 ** 3) < 1e-15
    with pytest.raises(ValueError, match="kink"):
        kl_near_diagonal_remainder(sp.Abs(c - 1) * (a - c) ** 2, [a], [c])
    # zero at q = p but not affine in q: another zero may lie inside the segment
    # (a = 0.01, c = -0.03 crosses c = -a), where the rule would silently be wrong
    with pytest.raises(ValueError, match="kink"):
        kl_near_diagonal_remainder(sp.Abs(c ** 2 - a ** 2) * (a - c) ** 2, [a], [c])


@pytest.mark.parametrize("name", ["laplace", "mvnormal2", "gamma"])
def test_functional_kl_takes_the_near_branch_only_near_p(name, compiled):
    """Far from p the remainder rule is no KL (the Hessian along the segment need not be
    positive; Laplace at b_q = 100 b_p gave -14.5): the array-API code (the functional
    template, as JAX's) agrees with numpy at far pairs and near ones."""
    fam, fn = compiled(name)
    fa = fam.numeric("kl", backend="array_api")
    p = fam.random_point(random.Random(9))
    pv = np.array([float(p[c]) for c in fam.coordinates])
    scale = np.array([100.0 if fam.domains[c].positive else 1.0 for c in fam.coordinates])
    far = pv * scale + (scale == 1.0) * 3.0
    if name.startswith("mvnormal"):  # Sigma_q = 100 Sigma_p keeps it positive definite
        far = np.concatenate([pv[:2] + 3.0, 100 * pv[2:]])
    for qv in (far, pv * (1 + 1e-7), pv * 1.01):
        want = fn(*pv, *qv)
        got = float(fa(*[np.asarray(v) for v in pv], *[np.asarray(v) for v in qv]))
        # the closed form's own rounding (1e-16 absolute) differs between the backends
        assert want > 0 and abs(got - want) <= 1e-12 * want + 1e-15, (name, qv, got, want)


# ----------------------------------------------------------------------
# the alpha-divergence: D(p || p) = 0 with a zero gradient in q there, so the same
# remainder integral serves it (its closed form 4/(1 - alpha^2) (1 - rho) cancels as
# rho -> 1 exactly as a KL does)

ALPHA = sp.Symbol("alpha", real=True)


@pytest.fixture(scope="module")
def compiled_alpha():
    """(family, the committed generated function, the closed form in alpha, p's and q's
    symbols): derived once (von Mises' closed form takes seconds; with alpha as a
    number it was derived again for every alpha)."""
    from _points import generated_module

    cache = {}

    def get(name):
        if name not in cache:
            fam = symgeo.get_family(name)
            closed = fam.alpha_divergence(ALPHA, fam.coordinates, fam._q_symbols())
            cache[name] = (fam, getattr(generated_module("numpy", name), "alpha_divergence"),
                           closed)
        return cache[name]
    return get


def _alpha_relative_error(fam, fn, closed, alpha, pv, qv):
    sub = {**{c: sp.Float(float(v), 50) for c, v in zip(fam.coordinates, pv)},
           **{c: sp.Float(float(v), 50) for c, v in zip(fam._q_symbols(), qv)},
           ALPHA: sp.Float(alpha, 50)}
    ref = float(sp.N(closed.xreplace(sub), 40))
    return abs(float(fn(alpha, *pv, *qv)) - ref) / abs(ref)


@pytest.mark.parametrize("name", ["poisson", "normal", "gamma", "beta", "von_mises",
                                  "dirichlet", "binomial"])
def test_alpha_divergence_keeps_relative_accuracy_near_the_diagonal(name, compiled_alpha):
    # before the remainder branch: 8e-8 (normal) to 2e-7 relative at eps = 1e-4, 1e-3 at
    # 1e-6 and no correct digit at 1e-8
    fam, fn, closed = compiled_alpha(name)
    assert "remainder integral" in fn.__doc__
    rng = np.random.default_rng(2)
    p = fam.random_point(random.Random(5))
    pv = np.array([float(p[c]) for c in fam.coordinates])
    for alpha in (0.3, -0.6, 0.0):
        for eps, tol in ((1e-4, 1e-12), (1e-6, 1e-12), (1e-8, 1e-12)):
            for qv in (pv * (1 + eps), pv + eps * rng.normal(size=pv.size) * np.abs(pv)):
                err = _alpha_relative_error(fam, fn, closed, alpha, list(pv), list(qv))
                assert err < tol, (name, alpha, eps, err)
    # an array of pairs takes the same branch as one pair
    qv = pv * (1 + 1e-7)
    both = fn(np.array([0.3, 0.3]), *[np.array([a, a]) for a in pv],
              *[np.array([b, b]) for b in qv])
    assert both[0] == both[1] and abs(both[0] - fn(0.3, *pv, *qv)) <= 1e-14 * abs(both[0])


def test_cse_keeps_polygamma_of_a_sum():
    """sympy's cse (basic optimizations, sympy 1.14) rewrote polygamma(1, A + B) as
    polygamma(1, x0*x1) in this term of the beta alpha-divergence's remainder; symgeo's
    _cse hides special functions from those optimizations."""
    from symgeo.codegen import numpy as N
    from symgeo.divergence.closed_forms import kl_near_diagonal_remainder

    fam = symgeo.get_family("beta")
    pts = [N.point_symbols(fam, k, 2) for k in range(2)]
    alpha = sp.Symbol("alpha", real=True)
    expr = N.QUANTITIES["alpha_divergence"].get(fam, pts, (alpha,))
    value, _ = kl_near_diagonal_remainder(expr, list(pts[0]), list(pts[1]))
    cse, (reduced,) = N._cse((value,), "_t")
    for lhs, rhs in reversed(cse):
        reduced = reduced.xreplace({lhs: rhs})
    at = {alpha: sp.Rational(3, 10), **dict(zip(pts[0], (sp.Rational(3, 2), sp.Rational(5, 2)))),
          **dict(zip(pts[1], (sp.Rational(3001, 2000), sp.Rational(5001, 2000))))}
    want = sp.N(value.xreplace(at), 30)
    # the node weights are 17-digit Floats: regrouped, they round differently (3e-18)
    assert abs(sp.N(reduced.xreplace(at), 30) - want) < 1e-12 * abs(want)


# ----------------------------------------------------------------------
# the numeric routes (no closed form): the same remainder integral, its Hessian an
# expectation under p, computed by the route's own quadrature (numpy modules)

@pytest.mark.parametrize("name, quantity", [("logistic", "kl"), ("student_t", "kl"),
                                            ("cauchy", "alpha_divergence"),
                                            ("gumbel", "alpha_divergence"),
                                            ("weibull", "alpha_divergence")])
def test_routed_divergences_keep_relative_accuracy_near_the_diagonal(name, quantity):
    # before: logistic KL 3e-8 relative at eps = 1e-4, 3e-4 at 1e-6, 2.5 at 1e-8; cauchy
    # alpha 2e-7, 2e-3 and 58.  Reference: the mpmath route at the exact binary points
    from _points import generated_module

    fam = symgeo.get_family(name)
    fn = getattr(generated_module("numpy", name), quantity)
    assert "remainder integral" in fn.__doc__
    lead = (0.3,) if quantity == "alpha_divergence" else ()
    rng = np.random.default_rng(4)
    p = fam.random_point(random.Random(8))
    pv = np.array([float(p[c]) for c in fam.coordinates])
    exact = {c: sp.Rational(float(v)) for c, v in zip(fam.coordinates, pv)}
    for eps in (1e-4, 1e-6, 1e-8):
        for qv in (pv * (1 + eps), pv + eps * rng.normal(size=pv.size) * np.abs(pv)):
            q = {c: sp.Rational(float(v)) for c, v in zip(fam.coordinates, qv)}
            ref = float(fam.kl_numeric(exact, q, dps=40) if quantity == "kl" else
                        fam.alpha_divergence_numeric(sp.Rational(3, 10), exact, q, dps=40))
            got = fn(*lead, *pv, *qv)
            assert abs(got - ref) <= 1e-12 * abs(ref), (name, eps, got, ref)
    # rows near and far in one call: each takes its own branch (far: the route's sum)
    far = pv * 1.5
    both = fn(*[np.array([a, a]) for a in lead], *[np.array([a, a]) for a in pv],
              *[np.array([b, c]) for b, c in zip(pv * (1 + 1e-7), far)])
    # (to rounding: the sums over the nodes of two rows and of one are blocked differently)
    assert both[0] == pytest.approx(fn(*lead, *pv, *(pv * (1 + 1e-7))), rel=1e-14)
    assert both[1] == pytest.approx(fn(*lead, *pv, *far), rel=1e-14) and both[1] > 1e-6
