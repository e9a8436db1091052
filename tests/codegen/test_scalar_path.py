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


@pytest.mark.parametrize("name", ["normal", "binomial", "dirichlet", "von_mises", "mvnormal"])
def test_block_path_agrees_with_the_whole_call(name):
    """A call on more than two blocks of points (_BLOCK each) goes block by block; it gives
    exactly what calls on small slices give, masks included (a NaN and an out-of-domain
    point sit in the second block)."""
    fam = symgeo.get_family(name)
    mod = generated_module("numpy", name)
    rng = random.Random(5)
    n = 2 * mod._BLOCK + 7
    checked = 0
    for quantity in N.QUANTITIES:
        fn = getattr(mod, quantity, None)
        if fn is None or "_by_rows(" not in inspect.getsource(fn):
            continue
        rows = [_arguments(fam, quantity, rng) for _ in range(5)]
        cols = [np.array([r[k] for r in rows])[np.arange(n) % 5] for k in range(len(rows[0]))]
        cols[-1][mod._BLOCK + 3] = np.nan
        cols[-1][mod._BLOCK + 4] = -1.0  # outside the domain of every family here, or of x
        whole = np.asarray(fn(*cols))
        assert whole.shape[0] == n
        for lo in (0, mod._BLOCK - 2, mod._BLOCK + 1, n - 9):
            part = np.asarray(fn(*[c[lo:lo + 9] for c in cols]))
            # equal but for rounding: the polygamma helper takes Hurwitz zeta for up to
            # 64 points and its own series beyond (1e-15 apart; a matrix inverse more)
            assert np.allclose(whole[lo:lo + 9], part, rtol=1e-13, atol=0, equal_nan=True), \
                (quantity, lo, np.nanmax(np.abs(whole[lo:lo + 9] - part)))
        assert np.isnan(whole[mod._BLOCK + 3]).all()
        checked += 1
    assert checked >= 3
