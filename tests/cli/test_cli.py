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


def _dirichlet_sectional(a, u, v):
    """K(u, v) of the Dirichlet Fisher metric g_ij = psi1(a_i) delta_ij - psi1(a_0) from the
    metric's derivatives in mpmath (R(u, v)v, u with R^l_ijk = d_i G^l_jk - d_j G^l_ik +
    G^l_im G^m_jk - G^l_jm G^m_ik): independent of symgeo's symbolic pipeline."""
    import mpmath as mp

    d = len(a)
    a0 = sum(a)

    def dg(order, i, j, *ms):  # d^order g_ij / d a_m1 ... (order = len(ms))
        own = mp.psi(order + 1, a[i]) if i == j and all(m == i for m in ms) else 0
        return own - mp.psi(order + 1, a0)

    g = mp.matrix([[dg(0, i, j) for j in range(d)] for i in range(d)])
    gi = g ** -1
    R = range(d)
    first = [[[(dg(1, j, k, i) + dg(1, i, k, j) - dg(1, i, j, k)) / 2 for k in R] for j in R]
             for i in R]  # Gamma_ij,k
    second = [[[sum(gi[l, k] * first[i][j][k] for k in R) for j in R] for i in R] for l in R]
    # d_m Gamma^l_ij = d_m(g^lk) Gamma_ij,k + g^lk d_m Gamma_ij,k, d_m g^-1 = -g^-1 (d_m g) g^-1
    def d_second(m, l, i, j):
        dgm = mp.matrix([[dg(1, p, q, m) for q in R] for p in R])
        dgi = -gi * dgm * gi
        dfirst = [(dg(2, j, k, i, m) + dg(2, i, k, j, m) - dg(2, i, j, k, m)) / 2 for k in R]
        return sum(dgi[l, k] * first[i][j][k] + gi[l, k] * dfirst[k] for k in R)

    num = 0
    for i, j, k, l, p in __import__("itertools").product(R, R, R, R, R):
        coef = u[i] * v[j] * v[k] * u[p] * g[l, p]
        if coef == 0:
            continue
        Rl = (d_second(i, l, j, k) - d_second(j, l, i, k)
              + sum(second[l][i][m] * second[m][j][k] - second[l][j][m] * second[m][i][k]
                    for m in R))
        num += coef * Rl
    def ip(x, y):
        return sum(g[i, j] * x[i] * y[j] for i in R for j in R)
    return num / (ip(u, u) * ip(v, v) - ip(u, v) ** 2)


@pytest.mark.slow  # the Dirichlet Riemann tensor: about 18 s
def test_curvature_sectional_plane(capsys):
    import mpmath as mp

    assert main(["curvature", "dirichlet", "--plane", "1,0,0", "0,1,1", "--at", "1,2,3",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    with mp.workdps(30):
        oracle = _dirichlet_sectional([mp.mpf(1), mp.mpf(2), mp.mpf(3)], [1, 0, 0], [0, 1, 1])
    assert data["sectional_curvature_at"] == pytest.approx(float(oracle), rel=1e-12)
    assert main(["curvature", "normal", "--plane", "1,0", "1,1", "--at", "0,2"]) == 0
    assert "K = -0.5" in capsys.readouterr().out
    assert main(["curvature", "gamma", "--at", "1,2"]) == 2
    assert "--plane" in capsys.readouterr().err
    assert main(["curvature", "gamma", "--plane", "1,0", "2,0"]) == 2
    assert "do not span a plane" in capsys.readouterr().err
