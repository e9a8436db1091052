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


def test_curvature_sectional_plane(capsys):
    import mpmath as mp

    from oracle import dirichlet_sectional

    assert main(["curvature", "dirichlet", "--fixed", "K=2", "--plane", "1,0", "1,1",
                 "--at", "1,2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    with mp.workdps(30):
        oracle = dirichlet_sectional([mp.mpf(1), mp.mpf(2)], [1, 0], [1, 1])
    assert data["sectional_curvature_at"] == pytest.approx(float(oracle), rel=1e-12)
    assert main(["curvature", "normal", "--plane", "1,0", "1,1", "--at", "0,2"]) == 0
    assert "K = -0.5" in capsys.readouterr().out
    assert main(["curvature", "gamma", "--at", "1,2"]) == 2
    assert "--plane" in capsys.readouterr().err
    assert main(["curvature", "gamma", "--plane", "1,0", "2,0"]) == 2
    assert "do not span a plane" in capsys.readouterr().err
