"""The array-API backend (generated/array_api) against the numpy modules, on every
catalog family and quantity, with arrays of three namespaces: numpy itself,
array-api-strict (only the standard's functions exist there, so a numpy-only call
cannot hide) and chunked Dask arrays (the result stays lazy until ``.compute()``).

JAX arrays through the same modules are checked in jax_checks.py (JAX may not be
imported into a test worker: its threads and symgeo's forks do not mix).
"""

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symgeo
from symgeo.codegen import numpy as N
from symgeo.declare.catalog import family_names

from _points import ROUTE_CASES, arguments, forced_module, generated_module, route_family

xs = pytest.importorskip("array_api_strict")
da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

NAMES = family_names()


def _rows(fam, quantity, rng, n=4):
    if quantity == "natural_gradient":  # the Fisher matrix's points and a gradient
        rows = [arguments(fam, "fisher", rng) for _ in range(n)]
        cols = [np.array(c) for c in zip(*rows)]
        return cols + [np.array([[rng.uniform(-1, 1) for _ in range(fam.dimension)]
                                 for _ in range(n)])]
    rows = [arguments(fam, quantity, rng) for _ in range(n)]
    return None if rows[0] is None else [np.array(c) for c in zip(*rows)]


def _same(got, want):
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-12, atol=1e-13,
                                                   equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_array_api_backend_matches_numpy(families, name):
    fam = families[name]
    nmod, amod = generated_module("numpy", name), generated_module("array_api", name)
    rng = random.Random(23)
    checked = 0
    with dask.config.set(scheduler="synchronous"):  # no threads in a test worker
        for quantity in N.QUANTITIES:
            fn, fa = getattr(nmod, quantity, None), getattr(amod, quantity, None)
            if fn is not None and fa is None:  # left out: the module says why
                assert f"  {quantity}:" in amod.__doc__, quantity
            if fn is None or fa is None:
                continue
            args = _rows(fam, quantity, rng)
            if args is None:
                continue
            want = np.asarray(fn(*args))
            got = fa(*args)
            assert isinstance(got, np.ndarray) and _same(got, want), (quantity, got, want)
            strict = fa(*[xs.asarray(a) for a in args])
            assert type(strict).__module__.startswith("array_api_strict"), quantity
            assert _same(np.from_dlpack(strict), want), (quantity, strict, want)
            lazy = fa(*[da.from_array(a, chunks=2) for a in args])
            assert isinstance(lazy, da.Array), quantity
            assert _same(lazy.compute(), want), (quantity, lazy.compute(), want)
            checked += 1
    assert checked >= 5 or name in ("mvnormal", "mvnormal2", "multinomial", "dirichlet",
                                    "categorical"), checked


@pytest.mark.parametrize("name, quantity", ROUTE_CASES)
def test_array_api_numeric_routes_match_numpy(families, name, quantity):
    """Every numeric route rule, forced where the quantity has a closed form: numpy,
    array-api-strict and Dask arrays against the numpy module (1e-12), broadcasting
    rows and a point outside the domain (NaN)."""
    fam = families[name] if name in families else route_family(name)
    fn = forced_module(fam, quantity)[quantity]
    fa = forced_module(fam, quantity, backend="array_api")[quantity]
    args = _rows(fam, quantity, random.Random(7), n=5)
    args[-1] = np.concatenate([args[-1][:-1], [-1.0]])  # a coordinate out of its domain
    want = np.asarray(fn(*args))
    assert np.isnan(want[-1]) and np.isfinite(want[:-1]).all()
    assert _same(np.asarray(fa(*args)), want)
    assert _same(np.from_dlpack(fa(*[xs.asarray(a) for a in args])), want)
    with dask.config.set(scheduler="synchronous"):
        lazy = fa(*[da.from_array(a, chunks=2) for a in args])
        assert isinstance(lazy, da.Array) and _same(lazy.compute(), want)
    column = [a[:, None] if i == 0 else a[:1] for i, a in enumerate(args)]
    grid = fa(*column)
    assert grid.shape == (5, 1) and _same(grid, np.asarray(fn(*column)))


def test_array_api_keeps_float32_and_broadcasts(families):
    amod = generated_module("array_api", "gamma")
    a = xs.asarray([1.5, 2.0, 3.0], dtype=xs.float32)
    out = amod.fisher(a, xs.asarray(2.0, dtype=xs.float32))
    assert out.dtype == xs.float32 and out.shape == (3, 2, 2)
    want = generated_module("numpy", "gamma").fisher(np.array([1.5, 2.0, 3.0]), 2.0)
    np.testing.assert_allclose(np.from_dlpack(out), want, rtol=1e-6)
    # outside the domain: NaN, as in numpy
    bad = amod.fisher(xs.asarray([-1.0, 1.0]), xs.asarray([1.0, 1.0]))
    assert np.isnan(np.from_dlpack(bad)[0]).all() and not np.isnan(np.from_dlpack(bad)[1]).any()


def test_dask_stays_lazy_and_chunked(families):
    amod = generated_module("array_api", "beta")
    a = da.from_array(np.linspace(0.5, 5, 1000), chunks=100)
    b = da.from_array(np.linspace(4, 0.7, 1000), chunks=100)
    out = amod.kl(a, b, b, a)
    assert isinstance(out, da.Array) and out.numblocks == (10,)
    with dask.config.set(scheduler="synchronous"):
        got = out.compute()
    want = generated_module("numpy", "beta").kl(np.linspace(0.5, 5, 1000),
                                                np.linspace(4, 0.7, 1000),
                                                np.linspace(4, 0.7, 1000),
                                                np.linspace(0.5, 5, 1000))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_an_unknown_namespace_gets_a_clear_error():
    amod = generated_module("array_api", "gamma")

    class Namespace:
        __name__ = "somearrays"
    with pytest.raises(NotImplementedError, match="somearrays.*numpy backend"):
        amod._special(Namespace()).polygamma


def test_family_numeric_array_api(families):
    fn = families["gamma"].numeric("fisher", backend="array_api")
    out = fn(xs.asarray([2.0, 3.0]), xs.asarray([1.0, 0.5]))
    want = symgeo.get_family("gamma").numeric("fisher")(np.array([2.0, 3.0]),
                                                        np.array([1.0, 0.5]))
    np.testing.assert_allclose(np.from_dlpack(out), want, rtol=1e-13)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_array_api_backend_on_torch_tensors():
    """PyTorch where it is installed (not in CI: a CUDA build is several GB)."""
    script = Path(__file__).resolve().parent / "torch_checks.py"
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["failures"] == [] and report["checked"] >= 300, report
