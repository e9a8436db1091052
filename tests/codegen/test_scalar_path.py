"""The pure-Python path at one point gives what the array path gives, for every generated function."""

import importlib.util
import inspect
import random
from pathlib import Path

import numpy as np
import pytest

import symgeo
from symgeo.codegen import numpy as N
from symgeo.declare.catalog import family_names
from symgeo.declare.support import sample_points

GENERATED = Path(__file__).resolve().parents[2] / "generated" / "numpy"


def _module(name):
    spec = importlib.util.spec_from_file_location(f"gen_{name}", GENERATED / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _arguments(fam, quantity, rng):
    q = N.QUANTITIES[quantity]
    if q.extra or (q.takes_x and len(fam.variables) > 1):
        return None
    points = [fam.random_point(random.Random(rng.randrange(10 ** 6))) for _ in range(q.points)]
    args = []
    if q.takes_x:
        sup = fam.support.subs(points[0])
        args.append(float(sample_points(sup, 1, rng, 1)[0][0]))
    args += [0.3] * len(q.leading)
    for pt in points:
        args += [float(pt[c]) for c in fam.coordinates]
    return args


@pytest.mark.parametrize("name", family_names())
def test_scalar_path_agrees_with_the_array_path(name):
    fam = symgeo.get_family(name)
    mod = _module(name)
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
