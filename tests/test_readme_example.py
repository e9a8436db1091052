"""The README's JAX example runs as written and natural gradient beats plain gradient descent."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs the jax extra")
def test_natural_gradient_example_in_the_readme(tmp_path):
    text = README.read_text(encoding="utf-8")
    section = text.split("### Natural-gradient descent in JAX", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    # its own process: JAX is multithreaded, and the test workers fork
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r"natural gradient: (\d+) steps to \[([\d.]+) ([\d.]+)\]; "
                  r"plain gradient: (\d+) steps", res.stdout)
    assert m, res.stdout
    k_nat, alpha, beta, k_plain = int(m[1]), float(m[2]), float(m[3]), int(m[4])
    assert k_nat < 20 and k_plain > 50 * k_nat
    assert abs(alpha - 3) < 0.1 and abs(beta - 2) < 0.1  # the data: shape 3, rate 2


def test_dask_example_in_the_readme(tmp_path):
    """The array-API block, run at 10^6 points in chunks of 10^5 (the README's 10^8 is the
    benchmark's size); its total is checked against the numpy module."""
    pytest.importorskip("dask.array")
    text = README.read_text(encoding="utf-8")
    section = text.split("### Backends: any array-API library, Dask included", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "size=10**8, chunks=10**6" in code
    code = code.replace("size=10**8, chunks=10**6", "size=10**6, chunks=10**5")
    code = code.replace("da.random.uniform", "da.random.RandomState(7).uniform")
    code += ("\nimport numpy as np\n"
             "ref = symgeo.get_family('gamma').numeric('kl')\n"
             "want = ref(a.compute(), 2.0, a.compute() + 1, 3.0).sum()\n"
             "assert abs(total.compute() - want) <= 1e-10 * abs(want), (total.compute(), want)\n"
             "assert isinstance(total, da.Array)\n")
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
