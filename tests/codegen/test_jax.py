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
CHUNKS = [NAMES[i::3] for i in range(3)]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="the jax extra is not installed")


@pytest.mark.slow  # each part is a JAX process checking a third of the catalog (25-35 s)
@pytest.mark.parametrize("names", CHUNKS, ids=[f"part{i}" for i in range(len(CHUNKS))])
def test_jax_backend(names):
    res = subprocess.run([sys.executable, str(CHECKS), *names], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["failures"] == []
    assert report["checked"] >= 5 * len(names)


@pytest.mark.slow  # a JAX process: each numeric route rule, jit, vmap, float32, grad
def test_jax_numeric_routes():
    res = subprocess.run([sys.executable, str(CHECKS), "--routes"], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["failures"] == []
    assert report["checked"] >= 3 * 6 + 2 * 2  # three per rule, two more per KL
