import json
import subprocess
import sys
from pathlib import Path

import pytest

from symgeo.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out.split()
    assert "normal" in out and len(out) == 29


def test_fisher_formats(capsys):
    assert main(["fisher", "binomial", "--fixed", "n=7", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["coordinates"] == ["p"] and "7" in data["fisher"][0][0]
    assert main(["fisher", "gamma", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert r"\psi^{(1)}" in out and r"\begin{bmatrix}" in out and r"\left[\begin" not in out
    assert main(["fisher", "--file", str(DATA / "my_family.toml")]) == 0
    assert "a" in capsys.readouterr().out


def test_errors_are_one_line(capsys):
    assert main(["fisher", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symgeo: error:") and err.count("\n") == 1
    assert main(["fisher", "--file", str(DATA / "uniform.toml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "support depends" in err


@pytest.mark.slow
def test_console_script_entry_point():
    r = subprocess.run([sys.executable, "-m", "symgeo", "fisher", "normal"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Fisher information of normal" in r.stdout
