"""Derivations that do not close fail fast with a clear error naming the numeric route."""

import time

import mpmath as mp
import pytest
import sympy as sp

import symgeo
from symgeo import DerivationError


@pytest.mark.slow
def test_unreachable_expectation_fails_within_budget():
    # hyperbolic secant location-scale family: no rule covers log cosh, and
    # sympy's integrate does not close within the budget
    x, mu = sp.Symbol("x", real=True), sp.Symbol("mu", real=True)
    s = sp.Symbol("s", positive=True)
    z = (x - mu) / s
    fam = symgeo.Family("hypsec", -sp.log(2 * s) - sp.log(sp.cosh(sp.pi * z / 2)), x, sp.S.Reals,
                        [(mu, "real"), (s, "positive")])
    fam._engine.budget = 2
    t = time.time()
    f = sp.log(sp.cosh(sp.pi * z / 2)) ** 3
    with pytest.raises(DerivationError, match="'hypsec'.*did not close.*expectation_numeric"):
        fam.expectation(f)
    assert time.time() - t < 60
    # the numeric route it names works
    val = fam.expectation_numeric(f, {mu: 0, s: 1}, dps=20)
    assert mp.isfinite(val) and val > 0


def test_budget_runner_stops_runaway_work():
    from symgeo.engine.budget import run_with_budget
    from symgeo.errors import BudgetExceeded

    def spin():
        while True:
            pass
    t = time.time()
    with pytest.raises(BudgetExceeded):
        run_with_budget(spin, seconds=1, what="spin")
    assert time.time() - t < 10
