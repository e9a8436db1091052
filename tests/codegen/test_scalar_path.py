"""The pure-Python path at one point gives what the array path gives, for every generated function."""

import inspect
import random

import numpy as np
import pytest

import symgeo
from symgeo.codegen import numpy as N
from symgeo.declare.catalog import family_names
from _points import arguments as _arguments
from _points import generated_module


@pytest.mark.parametrize("name", family_names())
def test_scalar_path_agrees_with_the_array_path(name):
    fam = symgeo.get_family(name)
    mod = generated_module("numpy", name)
    rng = random.Random(7)
    checked = 0
    for quantity in N.QUANTITIES:
        fn = getattr(mod, quantity, None)
        if fn is None or "if isinstance(" not in inspect.getsource(fn):
            continue  # no scalar path (a numeric route, several variables, a solve)
        for _ in range(3):
            args = _arguments(fam, quantity, rng)
            if args is None:
                break
            one = np.asarray(fn(*args))
            arrays = np.asarray(fn(*[np.array([a]) for a in args]))[0]
            assert one.shape == arrays.shape, (quantity, args)
            assert np.allclose(one, arrays, rtol=1e-12, atol=1e-14, equal_nan=True), \
                (quantity, args, one, arrays)
            checked += 1
        nan_args = [np.nan] + args[1:] if args else None
        if nan_args:
            assert np.isnan(np.asarray(fn(*nan_args))).all(), quantity
    assert checked > 0
