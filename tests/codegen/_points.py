"""Generic arguments for the generated functions (shared by the backend tests)."""

import importlib.util
import random
from pathlib import Path

from symgeo.codegen import numpy as N
from symgeo.declare.support import sample_points

GENERATED = Path(__file__).resolve().parents[2] / "generated"


def generated_module(backend, name):
    """The committed generated module ``generated/<backend>/<name>.py``."""
    spec = importlib.util.spec_from_file_location(f"gen_{backend}_{name}",
                                                  GENERATED / backend / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def arguments(fam, quantity, rng):
    """Plain-float arguments of ``quantity`` at generic points, or None (x with several
    components, an extra argument such as a gradient)."""
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
