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
