"""The JAX backend against numpy and against mathematics (see jax_checks.py).

The checks run in a separate process: JAX is multithreaded and symgeo's
budgets fork, so no JAX may be imported into a test worker.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from symgeo.declare.catalog import family_names

CHECKS = Path(__file__).resolve().parent / "jax_checks.py"
NAMES = family_names()
# two JAX processes of about 35 s each (one for all would be the suite's long pole; each
# more process pays the JAX start and the compilation of every eager primitive again)
PARTS = [["--routes", *NAMES[0::3]], NAMES[1::3] + NAMES[2::3]]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="the jax extra is not installed")


@pytest.mark.slow  # each part is a JAX process: the routes and a third of the catalog, the rest
@pytest.mark.parametrize("names", PARTS, ids=[f"part{i}" for i in range(len(PARTS))])
def test_jax_backend(names):
    res = subprocess.run([sys.executable, str(CHECKS), *names], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["failures"] == []
    families = [n for n in names if n != "--routes"]
    # at least five checks per family; the routes: three per rule, two more per KL
    assert report["checked"] >= 5 * len(families) + (3 * 6 + 2 * 2 if "--routes" in names else 0)
