"""Tidy canonical forms of divergences (issue 12): exact, and in the shape a reader writes.

The tidy form (terms grouped by special function, log differences kept as
differences) is checked against the untidied Bregman form
A(theta_q) - A(theta_p) - (theta_q - theta_p).eta_p at generic points, at 30 digits.
"""

import random
import zlib

import pytest
import sympy as sp

from symgeo.divergence.closed_forms import grouped_form, second_point
from symgeo.printing import latex

FAMILIES = ["gamma", "inverse_gamma", "beta", "poisson", "dirichlet", "normal", "binomial",
            "exponential", "negative_binomial", "von_mises"]


def _bregman_raw(fam):
    st = fam.exponential_family()
    qsub = dict(zip(fam.coordinates, second_point(fam)))
    A = st.log_partition
    return A.xreplace(qsub) - A - sum((th.xreplace(qsub) - th) * e
                                      for th, e in zip(st.natural, st.mean))


def _points(fam, k=2):
    rng = random.Random(zlib.crc32(fam.name.encode()))
    q = second_point(fam)
    out = []
    for _ in range(k):
        p1, p2 = fam.random_point(rng), fam.random_point(rng)
        pt = {c: p1[c] for c in fam.coordinates}
        pt.update({s: p2[c] for s, c in zip(q, fam.coordinates)})
        out.append(pt)
    return out


@pytest.mark.parametrize("name", FAMILIES)
def test_tidy_kl_is_exact(families, name):
    fam = families[name]
    if fam.exponential_family().kind != "full":
        pytest.skip("curved")
    raw, tidy = _bregman_raw(fam), fam.kl_result().value
    regrouped = grouped_form(raw)
    for pt in _points(fam):
        ref = sp.N(raw.xreplace(pt), 30)
        for form in (tidy, regrouped):
            val = sp.N(form.xreplace(pt), 30)
            assert abs(val - ref) <= sp.Float("1e-25", 30) * (1 + abs(ref)), (name, form)


def test_gamma_kl_textbook_shape(families):
    """(a_p - a_q) psi(a_p) - log Gamma(a_p) + log Gamma(a_q) + a_q (log b_p - log b_q)
    + a_p (b_q - b_p)/b_p, up to the order sympy prints terms in."""
    fam = families["gamma"]
    a, b = fam.coordinates
    aq, bq = second_point(fam)
    kl = fam.kl_result().value
    terms = set(sp.Add.make_args(kl))
    assert (a - aq) * sp.digamma(a) in terms or (a - aq) * sp.polygamma(0, a) in terms
    assert aq * (sp.log(b) - sp.log(bq)) in terms
    assert -sp.loggamma(a) in terms and sp.loggamma(aq) in terms
    assert len(terms) == 5, kl
    assert len(latex(kl)) < 300


def test_grouped_form_keeps_differences():
    x, y, c = sp.symbols("x y c", positive=True)
    e = c * sp.log(x) - c * sp.log(y) + sp.digamma(x) * (c - 1) + c * sp.digamma(x) + x / y - 1
    g = grouped_form(e)
    assert sp.expand(g - e) == 0
    assert c * (sp.log(x) - sp.log(y)) in sp.Add.make_args(g)


@pytest.mark.parametrize("name", ["gamma", "beta", "normal", "exponential", "poisson",
                                  pytest.param("von_mises", marks=pytest.mark.slow),  # 9 s
                                  "inverse_gaussian", "dirichlet"])
def test_tidy_alpha_divergence_is_exact(families, name):
    """D_alpha against 4/(1 - a^2) (1 - exp(A(l th_p + (1-l) th_q) - l A_p - (1-l) A_q)),
    l = (1 - a)/2, from the log-partition in theta, at generic points and a = 3/10."""
    fam = families[name]
    st = fam.exponential_family()
    if st.log_partition_theta is None:
        pytest.skip("A(theta) not explicit")
    alpha = sp.Symbol("alpha")
    value = fam.alpha_divergence(alpha)
    q = second_point(fam)
    qsub = dict(zip(fam.coordinates, q))
    lam = (1 - alpha) / 2
    mix = {t: lam * n + (1 - lam) * n.xreplace(qsub) for t, n in zip(st.theta, st.natural)}
    A = st.log_partition
    raw = 4 / (1 - alpha ** 2) * (1 - sp.exp(st.log_partition_theta.xreplace(mix) - lam * A
                                               - (1 - lam) * A.xreplace(qsub)))
    # the divergence's alpha (gamma's shape coordinate is called alpha too)
    a = next(s for s in value.free_symbols
             if s.name == "alpha" and s not in fam.coordinates and s not in q)
    for pt in _points(fam):
        ref = sp.N(raw.xreplace({**pt, alpha: sp.Rational(3, 10)}), 30)
        val = sp.N(value.xreplace({**pt, a: sp.Rational(3, 10)}), 30)
        assert abs(val - ref) <= sp.Float("1e-25", 30) * (1 + abs(ref)), (name, value)
