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


def forced_module(fam, quantity, backend="numpy"):
    """The namespace of a generated module whose ``quantity`` goes by its numeric route
    (the closed form withheld), in ``backend``."""
    from symgeo.errors import DerivationError
    src, emitted, _ = N.module_parts(fam, [quantity], backend=backend,
                                     derived={quantity: DerivationError("withheld")})
    assert emitted == [quantity] and "numeric route" in src
    ns = {"__name__": f"forced_{backend}_{fam.name}"}
    exec(compile(src, f"<forced {fam.name}.{quantity}>", "exec"), ns)  # noqa: S102 - ours
    return ns


CARDIOID = """
name = "cardioid"
variables = ["x"]
support = { kind = "circle", lower = "-pi", upper = "pi" }
log_density = "log(1 + 2*rho*cos(x - mu)) - log(2*pi)"

[[coordinates]]
name = "mu"
domain = "circle"

[[coordinates]]
name = "rho"
domain = ["0", "1/2"]
"""
"""The cardioid distribution (Mardia and Jupp, sec. 3.5.5): a circular family whose
density has no special function (von Mises' Bessel I0 has no JAX version)."""


def route_family(name, validate=True):
    """A catalog family, or the cardioid above.  ``validate=False`` skips the declaration's
    normalisation check (an mpmath quadrature, about a second; the catalog's is tested
    elsewhere): for the JAX check process, which builds every family once more."""
    import symgeo
    from symgeo.declare.loader import declaration_from_text
    if name == "cardioid":
        return symgeo.Family(**declaration_from_text(CARDIOID, "<cardioid>"), validate=validate)
    if validate:
        return symgeo.get_family(name)
    from symgeo.declare.catalog import catalog_text
    return symgeo.Family(**declaration_from_text(*catalog_text(name)), validate=False)


ROUTE_CASES = [
    ("logistic", "kl"),              # real line
    ("gamma", "kl"),                 # half-line
    ("laplace", "alpha_divergence"),  # split at kinks (tanh-sinh between them)
    ("cardioid", "entropy"),         # periodic trapezoid
    ("bernoulli", "entropy"),        # finite set of values
    ("poisson", "entropy"),          # infinite series
]
"""One case per numeric route rule (shared by the backend tests; see route_family)."""
