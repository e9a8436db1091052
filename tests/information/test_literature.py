"""Closed forms from the literature, used as oracles (never inside symgeo/)."""

import sympy as sp

import symgeo


def _eq(a, b):
    return sp.simplify(sp.Matrix(a) - sp.Matrix(b)) == sp.zeros(*sp.Matrix(a).shape)


def test_cauchy():
    f = symgeo.get_family("cauchy")
    g = f.symbol("gamma")
    assert _eq(f.fisher(), sp.diag(1 / (2 * g ** 2), 1 / (2 * g ** 2)))


def test_student_t_general_nu():
    # Lange, Little & Taylor (1989): I_mu = (nu+1)/((nu+3) s^2), I_s = 2 nu/((nu+3) s^2)
    for nu in (1, 3, 4, 7):
        f = symgeo.get_family("student_t", nu=nu)
        s = f.symbol("sigma")
        assert _eq(f.fisher(), sp.diag(sp.Rational(nu + 1, nu + 3) / s ** 2,
                                       sp.Rational(2 * nu, nu + 3) / s ** 2))


def test_logistic():
    f = symgeo.get_family("logistic")
    s = f.symbol("s")
    assert _eq(f.fisher(), sp.diag(1 / (3 * s ** 2), (sp.pi ** 2 + 3) / (9 * s ** 2)))


def test_gumbel_and_weibull():
    g = symgeo.get_family("gumbel")
    b = g.symbol("beta")
    c = 1 - sp.EulerGamma
    assert _eq(g.fisher(), sp.Matrix([[1, -c], [-c, c ** 2 + sp.pi ** 2 / 6]]) / b ** 2)
    w = symgeo.get_family("weibull")
    k, lam = w.coordinates
    assert _eq(w.fisher(), sp.Matrix([[(c ** 2 + sp.pi ** 2 / 6) / k ** 2, -c / lam],
                                      [-c / lam, k ** 2 / lam ** 2]]))


def test_von_mises():
    f = symgeo.get_family("von_mises")
    k = f.symbol("kappa")
    A = sp.besseli(1, k) / sp.besseli(0, k)
    assert _eq(f.fisher(), sp.diag(k * A, 1 - A / k - A ** 2))


def test_bernoulli_exercise():
    # ../shared/notes/001: Bernoulli Fisher information 1/(p(1-p))
    f = symgeo.get_family("bernoulli")
    p = f.symbol("p")
    assert sp.simplify(f.fisher()[0, 0] - 1 / (p * (1 - p))) == 0


def test_mvnormal2_matches_matrix_formula():
    # I_mu = Sigma^{-1}; I_{Sigma_ab, Sigma_cd} = 1/2 tr(S^-1 dS_ab S^-1 dS_cd)
    f = symgeo.get_family("mvnormal2")
    mu1, mu2, s11, s12, s22 = f.coordinates
    S = sp.Matrix([[s11, s12], [s12, s22]])
    Si = S.inv()
    dS = [sp.diff(S, c) for c in (s11, s12, s22)]
    cov = sp.Matrix(3, 3, lambda i, j: sp.Rational(1, 2) * (Si * dS[i] * Si * dS[j]).trace())
    expected = sp.diag(Si, cov)
    assert _eq(f.fisher(), expected)


def test_symbolic_binomial_n():
    n = sp.Symbol("n", integer=True, positive=True)
    f = symgeo.get_family("binomial", n="n")
    p = f.symbol("p")
    assert sp.simplify(f.fisher()[0, 0] - n / (p * (1 - p))) == 0
    f7 = symgeo.get_family("binomial", n=7)
    assert sp.simplify(f7.fisher()[0, 0] - 7 / (p * (1 - p))) == 0
    mn = symgeo.get_family("multinomial", n="n")
    p1, p2 = mn.coordinates
    assert sp.simplify(mn.fisher()[0, 0] - n * (1 / p1 + 1 / (1 - p1 - p2))) == 0
