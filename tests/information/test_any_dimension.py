"""Families of any size (dirichlet, categorical, multinomial, mvnormal) against independent oracles.

Oracles are mpmath sums over the declared density (categorical, multinomial),
mpmath derivatives of the declared log-density where its Hessian is free of x
(dirichlet: checked at two x), and the literature's matrix formulas for the
multivariate normal (Skovgaard 1984; Anderson 2003) at 30 digits.
"""

import itertools
import random

import mpmath as mp
import pytest
import sympy as sp

import symgeo

DPS = 30


@pytest.fixture(autouse=True)
def _precision():
    with mp.workdps(DPS + 10):
        yield


def _close(a, b, digits=25):
    return abs(a - b) <= mp.mpf(10) ** (-digits) * max(1, abs(b))


def _num(expr, subs):
    return mp.mpf(sp.N(sp.sympify(expr).xreplace(subs), DPS + 10))


def _point(fam, seed):
    return fam.random_point(random.Random(seed))


def _score_oracle(fam, pt, support_points):
    """E[s s^T] by mpmath summation of the declared density, the score by mp.diff."""
    coords = fam.coordinates
    xs = fam.variables
    f = sp.lambdify(coords + xs, fam.log_density, "mpmath")
    d = len(coords)
    theta = [mp.mpf(sp.N(pt[c], DPS + 10)) for c in coords]
    M = mp.zeros(d, d)
    with mp.workdps(DPS + 10):
        for x in support_points:
            lp = f(*theta, *x)
            p = mp.exp(lp)
            if p == 0:
                continue
            s = []
            for i in range(d):
                def g(t, i=i, x=x):
                    th = list(theta)
                    th[i] = t
                    return f(*th, *x)
                s.append(mp.diff(g, theta[i]))
            for i in range(d):
                for j in range(d):
                    M[i, j] += p * s[i] * s[j]
    return M


@pytest.mark.parametrize("K", [2, 4, 6])
def test_categorical_any_size(K):
    fam = symgeo.get_family("categorical", K=K)
    assert [c.name for c in fam.coordinates] == [f"p{i}" for i in range(1, K)]
    pt = _point(fam, K)
    F = fam.fisher()
    M = _score_oracle(fam, pt, [(k,) for k in range(1, K + 1)])
    for i in range(K - 1):
        for j in range(K - 1):
            assert _close(_num(F[i, j], pt), M[i, j])


@pytest.mark.parametrize("K", [2, 4])
def test_multinomial_any_size(K):
    n = 3
    fam = symgeo.get_family("multinomial", K=K, n=n)
    pt = _point(fam, 10 + K)
    pts = [c + (n - sum(c),) for c in itertools.product(range(n + 1), repeat=K - 1)
           if sum(c) <= n]
    M = _score_oracle(fam, pt, pts)
    F = fam.fisher()
    for i in range(K - 1):
        for j in range(K - 1):
            assert _close(_num(F[i, j], pt), M[i, j])


@pytest.mark.parametrize("K", [2, 4, 6])
def test_dirichlet_any_size(K):
    fam = symgeo.get_family("dirichlet", K=K)
    assert [c.name for c in fam.coordinates] == [f"a{i}" for i in range(1, K + 1)]
    pt = _point(fam, 20 + K)
    F = fam.fisher()
    coords = fam.coordinates
    ld = fam.log_density
    theta = [mp.mpf(sp.N(pt[c], DPS + 10)) for c in coords]
    f = sp.lambdify(coords + fam.variables, ld, "mpmath")
    # -d_i d_j ell at two points x of the simplex: equal, so -E[Hessian] is that value
    for x in ([mp.mpf(1) / K] * K, [mp.mpf(2 * k + 1) / (K * K) for k in range(K)]):
        x[-1] = 1 - mp.fsum(x[:-1])
        for i in range(K):
            for j in range(i, K):
                def h(*t, i=i, j=j, x=x):
                    th = list(theta)
                    th[i] = t[0]
                    if i == j:
                        return f(*th, *x)
                    th[j] = t[1]
                    return f(*th, *x)
                with mp.workdps(DPS + 10):
                    if i == j:
                        val = -mp.diff(h, theta[i], 2)
                    else:
                        val = -mp.diff(h, (theta[i], theta[j]), (1, 1))
                assert _close(_num(F[i, j], pt), val, 20)


def test_dirichlet_two_components_is_beta_by_quadrature():
    """K = 2: E[s s^T] by 1-d quadrature of the declared density (the beta family's metric)."""
    fam = symgeo.get_family("dirichlet", K=2)
    pt = _point(fam, 3)
    F = fam.fisher()
    a1, a2 = fam.coordinates
    x1, x2 = fam.variables
    s = fam.score().xreplace(pt)
    dens = sp.exp(fam.log_density).xreplace(pt)
    with mp.workdps(DPS + 5):
        for i, j in [(0, 0), (0, 1), (1, 1)]:
            g = sp.lambdify(x1, (s[i] * s[j] * dens).xreplace({x2: 1 - x1}), "mpmath")
            assert _close(_num(F[i, j], pt), mp.quad(g, [0, 0.5, 1]), 20)


def _mvnormal_oracle(d, pt, coords):
    """Literature: I_{mu_i mu_j} = (S^-1)_ij, I_{s_ab, s_cd} = tr(S^-1 E_ab S^-1 E_cd)/2,
    E_ab the symmetric unit matrix of the entry (a, b); mu and S blocks orthogonal."""
    name = {c.name: c for c in coords}
    S = mp.matrix(d, d)
    for i in range(d):
        for j in range(i, d):
            S[i, j] = S[j, i] = mp.mpf(sp.N(pt[name[f"s{i + 1}{j + 1}"]], DPS + 10))
    Si = S ** -1
    entries = [(i, j) for i in range(d) for j in range(i, d)]

    def unit(a, b):
        E = mp.zeros(d, d)
        E[a, b] = E[b, a] = 1
        return E
    n = d + len(entries)
    M = mp.zeros(n, n)
    for i in range(d):
        for j in range(d):
            M[i, j] = Si[i, j]
    for p, (a, b) in enumerate(entries):
        for q, (c, e) in enumerate(entries):
            T = Si * unit(a, b) * Si * unit(c, e)
            M[d + p, d + q] = sum(T[k, k] for k in range(d)) / 2
    return M


@pytest.mark.parametrize("d", [2, 3])
def test_mvnormal_any_dimension(d):
    fam = symgeo.get_family("mvnormal", d=d)
    names = [c.name for c in fam.coordinates]
    assert names == [f"mu{i}" for i in range(1, d + 1)] + \
        [f"s{i}{j}" for i in range(1, d + 1) for j in range(i, d + 1)]
    pt = _point(fam, 30 + d)
    F = fam.fisher()
    with mp.workdps(DPS + 10):
        M = _mvnormal_oracle(d, pt, fam.coordinates)
    for i in range(len(names)):
        for j in range(len(names)):
            assert _close(_num(F[i, j], pt), M[i, j])


def test_mvnormal_d2_is_mvnormal2():
    a = symgeo.get_family("mvnormal", d=2)
    b = symgeo.get_family("mvnormal2")
    assert [c.name for c in a.coordinates] == [c.name for c in b.coordinates]
    ren = {c: b.symbol(c.name) for c in a.coordinates}
    assert sp.simplify(a.fisher().xreplace(ren) - b.fisher()) == sp.zeros(5, 5)


@pytest.mark.slow  # the d = 3 KL derivation, 19 s
def test_mvnormal_kl_and_entropy_match_matrix_formulas():
    """KL(N0 || N1) = [tr(S1^-1 S0) + (m1-m0)^T S1^-1 (m1-m0) - d + log det S1/det S0]/2,
    H = log det(2 pi e S)/2 (Anderson 2003), d = 3."""
    d = 3
    fam = symgeo.get_family("mvnormal", d=d)
    p, q = _point(fam, 1), _point(fam, 2)
    name = {c.name: c for c in fam.coordinates}

    def mats(pt):
        S = mp.matrix(d, d)
        m = mp.matrix(d, 1)
        for i in range(d):
            m[i] = mp.mpf(sp.N(pt[name[f"mu{i + 1}"]], DPS + 10))
            for j in range(i, d):
                S[i, j] = S[j, i] = mp.mpf(sp.N(pt[name[f"s{i + 1}{j + 1}"]], DPS + 10))
        return m, S
    with mp.workdps(DPS + 10):
        m0, S0 = mats(p)
        m1, S1 = mats(q)
        S1i = S1 ** -1
        dm = m1 - m0
        kl = (sum((S1i * S0)[k, k] for k in range(d)) + (dm.T * S1i * dm)[0] - d
              + mp.log(mp.det(S1) / mp.det(S0))) / 2
        h = mp.log(mp.det(2 * mp.pi * mp.e * S0)) / 2
    assert _close(mp.mpf(sp.N(fam.kl(p, q), DPS + 10)), kl)
    assert _close(_num(fam.entropy(), p), h)


def test_sizes_reach_the_cli(capsys):
    from symgeo.cli import main
    assert main(["fisher", "dirichlet", "--fixed", "K=5"]) == 0
    out = capsys.readouterr().out
    assert "a5" in out


def test_size_must_be_a_concrete_integer():
    with pytest.raises(symgeo.SymgeoError, match="concrete"):
        symgeo.get_family("dirichlet", K="K")
