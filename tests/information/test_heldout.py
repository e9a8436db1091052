"""Held-out families: declared from textbook densities, none of them in the catalog.

They exercise the engine's general rules on kernels the catalog does not
show (inverse powers, 1 - x^a, log(1 + x/lambda), x^c in a Beta-integral
kernel).  The reference is mpmath quadrature of E[s s^T] under the declared
density (tests/oracle.py), never symgeo.  ``benchmarks/bench_heldout.py``
times the same families.
"""

from pathlib import Path

import mpmath as mp
import oracle
import pytest
import sympy as sp

import symgeo

DATA = Path(__file__).resolve().parents[1] / "data"
HELDOUT = sorted(p.stem for p in (DATA / "heldout").glob("*.toml"))


@pytest.fixture(scope="session")
def heldout():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = symgeo.load_family(DATA / "heldout" / f"{name}.toml")
        return cache[name]
    return get


def test_heldout_set_is_not_in_the_catalog():
    assert len(HELDOUT) >= 10 and not set(HELDOUT) & set(symgeo.family_names())


@pytest.mark.slow
@pytest.mark.parametrize("name", HELDOUT)
def test_heldout_fisher_matches_quadrature(heldout, name):
    fam = heldout(name)
    F = fam.fisher()
    d = fam.dimension
    s = fam.score()
    pt = fam.generic_point()
    pairs = [(i, j) for i in range(d) for j in range(i, d)]
    ref = oracle.expect(fam, [s[i] * s[j] for i, j in pairs], pt, dps=30)
    with mp.workdps(30):
        for (i, j), r in zip(pairs, ref):
            got = mp.mpf(sp.N(F[i, j].xreplace(pt), 30))
            assert abs(got - r) <= mp.mpf(10) ** -25 * max(1, abs(r)), (name, i, j, got, r)


def test_no_rule_is_refused_within_the_budget():
    """Gompertz needs the exponential integral: a clear refusal naming the numeric route,
    within the engine's budget (one total for all the sympy calls of an expectation)."""
    fam = symgeo.load_family(DATA / "hard" / "gompertz.toml")
    fam._engine.budget = 2
    with pytest.raises(symgeo.DerivationError, match="expectation_numeric"):
        fam.fisher()


def test_log_cauchy_through_the_log_map():
    """Fisher information does not depend on a change of the random variable: the
    log-Cauchy family has the Cauchy family's metric diag(1/(2 s^2), 1/(2 s^2))
    (the oracle: its tail 1/(x log^2 x) is beyond tests/oracle.py's quadrature)."""
    fam = symgeo.load_family(DATA / "hard" / "log_cauchy.toml")
    s = fam.symbol("s")
    assert sp.simplify(fam.fisher() - sp.diag(1 / (2 * s ** 2), 1 / (2 * s ** 2))) == sp.zeros(2)
    assert "exp(mu + s*z)" in fam.fisher_result().routes[(0, 0)].detail


def test_substitution_is_recorded(heldout):
    """The logit map found for the logit-normal family is stated in the route."""
    res = heldout("logit_normal").fisher_result()
    assert any("exp(-mu - sigma*z)" in r.detail for r in res.routes.values()), res.routes
