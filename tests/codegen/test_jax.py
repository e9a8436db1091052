"""The JAX backend: the same functions as numpy, pure and traceable, and what only autodiff can check.

Every function of every committed ``generated/jax`` module is compared with
``generated/numpy`` at generic points (float64); ``jit`` and ``vmap`` give the
same values; at q = p the gradient of KL(p || q) in q vanishes and its Hessian
is the Fisher matrix; the gradient of log_density in the coordinates is the
score.
"""

import random

import numpy as np
import pytest

import symgeo
from symgeo.codegen import numpy as N
from symgeo.declare.catalog import family_names

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

from _points import arguments, generated_module  # noqa: E402


def _stack(fam, quantity, rng, n=4):
    rows = [arguments(fam, quantity, rng) for _ in range(n)]
    return None if rows[0] is None else [np.array(col) for col in zip(*rows)]


@pytest.mark.parametrize("name", family_names())
def test_jax_agrees_with_numpy(name):
    fam = symgeo.get_family(name)
    nmod, jmod = generated_module("numpy", name), generated_module("jax", name)
    rng = random.Random(11)
    checked = 0
    for quantity in N.QUANTITIES:
        fj, fn = getattr(jmod, quantity, None), getattr(nmod, quantity, None)
        if fj is None or fn is None:
            continue
        args = _stack(fam, quantity, rng)
        if args is None:
            continue
        want = np.asarray(fn(*args))
        got = np.asarray(fj(*[jnp.asarray(a) for a in args]))
        assert got.shape == want.shape, quantity
        assert np.allclose(got, want, rtol=1e-12, atol=1e-13, equal_nan=True), \
            (quantity, got, want)
        checked += 1
    assert checked >= 3


def test_every_numpy_quantity_is_in_jax_or_listed():
    """A function missing from a jax module is named, with its reason, in its docstring."""
    for name in family_names():
        nmod, jmod = generated_module("numpy", name), generated_module("jax", name)
        for quantity in N.QUANTITIES:
            if hasattr(nmod, quantity) and not hasattr(jmod, quantity):
                assert f"  {quantity}:" in jmod.__doc__, (name, quantity)


@pytest.mark.parametrize("name", ["normal", "gamma", "beta", "dirichlet", "von_mises",
                                  "poisson", "mvnormal2"])
def test_jit_and_vmap_give_the_same_values(name):
    fam = symgeo.get_family(name)
    jmod = generated_module("jax", name)
    rng = random.Random(3)
    for quantity in ("fisher", "kl", "entropy"):
        fj = getattr(jmod, quantity, None)
        if fj is None:
            continue
        args = [jnp.asarray(a) for a in _stack(fam, quantity, rng)]
        plain = np.asarray(fj(*args))
        assert np.allclose(np.asarray(jax.jit(fj)(*args)), plain, rtol=1e-13, atol=1e-14)
        assert np.allclose(np.asarray(jax.vmap(fj)(*args)), plain, rtol=1e-13, atol=1e-14)


def _kl_families():
    return [n for n in family_names()
            if hasattr(generated_module("jax", n), "kl")]


@pytest.mark.parametrize("name", _kl_families())
def test_kl_has_zero_gradient_and_fisher_hessian_at_q_equal_p(name):
    fam = symgeo.get_family(name)
    jmod = generated_module("jax", name)
    p = arguments(fam, "fisher", random.Random(5))
    q0 = jnp.asarray(p)

    def kl_of_q(q):
        return jmod.kl(*p, *q)
    grad = np.asarray(jax.grad(kl_of_q)(q0))
    hess = np.asarray(jax.hessian(kl_of_q)(q0))
    fisher = np.asarray(jmod.fisher(*p))
    assert np.allclose(grad, 0, atol=1e-10), grad
    assert np.allclose(hess, fisher, rtol=1e-10, atol=1e-10), (hess, fisher)


@pytest.mark.parametrize("name", [n for n in family_names()
                                  if len(symgeo.get_family(n).variables) == 1])
def test_gradient_of_log_density_is_the_score(name):
    fam = symgeo.get_family(name)
    jmod = generated_module("jax", name)
    if not hasattr(jmod, "score"):
        pytest.skip("no score in the jax module")
    rng = random.Random(9)
    for _ in range(3):
        x, *coords = arguments(fam, "log_density", rng)
        grad = np.asarray(jax.grad(lambda c: jmod.log_density(x, *c))(jnp.asarray(coords)))
        score = np.asarray(jmod.score(x, *coords))
        assert np.allclose(grad, score, rtol=1e-10, atol=1e-12), (x, coords, grad, score)
