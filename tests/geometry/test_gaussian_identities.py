"""Gaussian identities (Fisher and Amari-Chentsov tensor without expectations) against
Gauss-Hermite quadrature of the declared density.

For a density Gaussian in x the integrand s_a s_b s_c is a polynomial of
degree <= 6 in x, so tensor Gauss-Hermite with 5 nodes per dimension (exact
to degree 9) after x = m + L z (C = L L^T, all numeric in mpmath) gives the
expectation to working precision; the score is d ell / d xi of the declared
log-density.  Nothing of symgeo's Gaussian route is used.
"""

import itertools
from pathlib import Path

import mpmath as mp
import pytest
import sympy as sp

import symgeo

REG = Path(__file__).resolve().parent.parent / "data" / "regression"
DPS = 30


def _hermite_rule(n):
    """Nodes and weights of int e^{-z^2/2} f(z) dz / sqrt(2 pi) (probabilists' Hermite)."""
    x = sp.Symbol("x")
    H = sp.hermite(n, x)
    roots = mp.polyroots([mp.mpf(int(c)) for c in sp.Poly(H, x).all_coeffs()], maxsteps=200,
                         extraprec=200)
    Hm1 = sp.lambdify(x, sp.hermite(n - 1, x), "mpmath")
    nodes, weights = [], []
    for r in roots:
        r = mp.re(r)
        w = 2 ** (n - 1) * mp.factorial(n) * mp.sqrt(mp.pi) / (n ** 2 * Hm1(r) ** 2)
        nodes.append(r * mp.sqrt(2))
        weights.append(w / mp.sqrt(mp.pi))
    return nodes, weights


def _gh_expect(fam, exprs, pt, n=5):
    """E[expr] for each expr under the declared density, which must be Gaussian in x:
    its mean and covariance are read numerically from the declared log-density."""
    xs = fam.variables
    ld = fam.log_density.xreplace(pt)
    d = len(xs)
    b = [mp.mpf(sp.N(sp.diff(ld, v).xreplace({u: 0 for u in xs}), DPS + 10)) for v in xs]
    P = mp.matrix(d, d)
    for i in range(d):
        for j in range(d):
            P[i, j] = -mp.mpf(sp.N(sp.diff(ld, xs[i], xs[j]), DPS + 10))
    C = P ** -1
    m = C * mp.matrix(b)
    L = mp.cholesky(C)
    fns = [sp.lambdify(xs, e.xreplace(pt), "mpmath") for e in exprs]
    nodes, weights = _hermite_rule(n)
    totals = [mp.mpf(0)] * len(exprs)
    for idx in itertools.product(range(n), repeat=d):
        z = mp.matrix([nodes[k] for k in idx])
        w = mp.fprod(weights[k] for k in idx)
        x = m + L * z
        for t, f in enumerate(fns):
            totals[t] += w * f(*[x[i] for i in range(d)])
    return totals


@pytest.fixture(autouse=True)
def _precision():
    with mp.workdps(DPS + 10):
        yield


CASES = [("catalog", "mvnormal"), ("file", "curved_gaussian"), ("file", "ig_nonlinear"),
         pytest.param("d=3", "mvnormal", marks=pytest.mark.slow)]


def _family(kind, name):
    if kind == "d=3":
        return symgeo.get_family(name, d=3)
    return symgeo.get_family(name) if kind == "catalog" else symgeo.load_family(REG / f"{name}.toml")


@pytest.mark.parametrize("kind, name", CASES)
def test_fisher_and_tensor_identities_match_gauss_hermite(kind, name):
    fam = _family(kind, name)
    pt = fam.generic_point()
    s = fam.score()
    d = fam.dimension
    triples = list(itertools.combinations_with_replacement(range(d), 3))
    pairs = list(itertools.combinations_with_replacement(range(d), 2))
    exprs = [s[i] * s[j] for i, j in pairs] + [s[i] * s[j] * s[k] for i, j, k in triples]
    ref = _gh_expect(fam, exprs, pt)
    F, T = fam.fisher(), fam.amari_chentsov()
    got = [F[i, j] for i, j in pairs] + [T[i, j, k] for i, j, k in triples]
    for g, r in zip(got, ref):
        v = mp.mpf(sp.N(g.xreplace(pt), DPS + 10))
        assert abs(v - r) <= mp.mpf(10) ** -25 * max(1, abs(r))
    assert "Gaussian identity" in fam._cache[("geometry", "T_route")]
