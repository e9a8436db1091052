import random
import zlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import symgeo  # noqa: E402

NAMES = symgeo.family_names()


@pytest.fixture(scope="session")
def families():
    """Built-in families, shared by the whole session (derivations are cached on them)."""
    return {name: symgeo.get_family(name) for name in NAMES}


@pytest.fixture(scope="session")
def points(families):
    """Two generic random points per family (seeded, so reruns are identical)."""
    out = {}
    for name, fam in families.items():
        rng = random.Random(zlib.crc32(name.encode()))
        out[name] = [fam.random_point(rng) for _ in range(2)]
    return out


@pytest.fixture(scope="session")
def score_oracle(families, points):
    """Independent mpmath E[s s^T] and E[s] at each point (computed once per family)."""
    import oracle
    cache = {}

    def get(name, k):
        if (name, k) not in cache:
            fam = families[name]
            s = fam.score()
            d = fam.dimension
            exprs = [s[i] * s[j] for i in range(d) for j in range(i, d)] + list(s)
            cache[(name, k)] = oracle.expect(fam, exprs, points[name][k], dps=35)
        return cache[(name, k)]
    return get


def _family_of(item):
    """The catalog family a parametrised test case is about, if any."""
    spec = getattr(item, "callspec", None)
    if spec is None:
        return None
    for value in spec.params.values():
        if isinstance(value, str) and value in NAMES:
            return value
    return None


def pytest_collection_modifyitems(config, items):
    """Send every case about one family to the same xdist worker (``--dist loadgroup``).

    Derivations are cached on the session's Family objects, so a family's
    Fisher matrix, connections and oracle values are derived on one worker
    only, instead of once per worker.
    """
    for item in items:
        name = _family_of(item)
        if name is not None and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(name))
