"""Entropies through the Beta-integral rule with log factors, against quadrature and
the literature (never inside symgeo/)."""

from pathlib import Path

import mpmath as mp
import oracle
import pytest
import sympy as sp

import symgeo

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "heldout"


def test_student_t_entropy_general_nu():
    """H = (nu+1)/2 [psi((nu+1)/2) - psi(nu/2)] + log(sqrt(nu) B(nu/2, 1/2)) + log sigma
    (e.g. Lazo and Rathie 1978), with nu symbolic."""
    fam = symgeo.get_family("student_t", nu="nu")
    H = fam.entropy()
    nu = next(s for s in H.free_symbols if s.name == "nu")
    sigma = fam.symbol("sigma")
    lit = (nu + 1) / 2 * (sp.digamma((nu + 1) / 2) - sp.digamma(nu / 2)) + \
        sp.log(sp.sqrt(nu) * sp.beta(nu / 2, sp.S.Half)) + sp.log(sigma)
    for v, s in ((sp.Rational(7, 3), sp.Rational(3, 2)), (sp.Rational(1, 2), 2), (11, 1)):
        assert abs(sp.N((H - lit).subs({nu: v, sigma: s}), 40)) < 1e-35
    assert not H.has(sp.exp)  # 1/Gamma constants, not exp(-log Gamma)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["log_logistic", "burr", "lomax", "frechet", "kumaraswamy"])
def test_heldout_entropy_matches_quadrature(name):
    fam = symgeo.load_family(HELDOUT / f"{name}.toml")
    H = fam.entropy()
    pt = fam.generic_point()
    ref, = oracle.expect(fam, [-fam.log_density], pt, dps=30)
    with mp.workdps(30):
        got = mp.mpf(sp.N(H.xreplace(pt), 30))
        assert abs(got - ref) < mp.mpf(10) ** -25 * max(1, abs(ref)), (name, got, ref)
