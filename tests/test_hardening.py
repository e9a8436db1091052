"""Issue 11: hostile but legal names, huge numbers and non-finite arguments.

Each test is one reproduction from the issue; it must give a correct answer or
one clear refusal (a SymgeoError), never a silently wrong number.
"""

import math

import numpy as np
import pytest
import sympy as sp

import symgeo
from symgeo import DeclarationError, FormulaError
from symgeo.declare.parse import parse_formula, user_value

BIVARIATE = '''
name = "hostile"
variables = [{v1!r}, {v2!r}]
support = {{ kind = "real" }}
log_density = "-({v1} - {c1})**2/2 - ({v2} - {c2})**2/2 - log(2*pi)"

[[coordinates]]
name = {c1!r}
domain = "real"

[[coordinates]]
name = {c2!r}
domain = "real"
'''


def _family(tmp_path, v1="x1", v2="x2", c1="a", c2="b"):
    p = tmp_path / "hostile.toml"
    p.write_text(BIVARIATE.format(v1=v1, v2=v2, c1=c1, c2=c2), encoding="utf-8")
    return symgeo.load_family(p)


def _symbolic(fam, expr, values):
    return float(sp.sympify(expr).xreplace({fam.symbol(k): v for k, v in values.items()}))


@pytest.mark.parametrize("v1, v2", [("arg_9", "numpy"), ("out", "shape"), ("float", "x")])
def test_variable_names_never_collide_in_generated_code(tmp_path, v1, v2):
    fam = _family(tmp_path, v1=v1, v2=v2)
    xs = np.array([0.5, 2.0])
    values = {v1: sp.Rational(1, 2), v2: 2, "a": sp.Rational(3, 10), "b": sp.Rational(7, 4)}
    got = fam.numeric("log_density")(xs, 0.3, 1.75)
    assert got == pytest.approx(_symbolic(fam, fam.log_density, values), rel=1e-14)
    score = fam.numeric("score")(xs, 0.3, 1.75)
    want = [_symbolic(fam, s, values) for s in fam.score()]
    assert score == pytest.approx(want, rel=1e-14, abs=1e-14)


@pytest.mark.parametrize("c1, c2", [("arg_8", "numpy"), ("scipy", "math"), ("len", "out")])
def test_coordinate_names_never_collide_in_generated_code(tmp_path, c1, c2):
    fam = _family(tmp_path, c1=c1, c2=c2)
    got = fam.numeric("score")(np.array([0.5, 2.0]), 0.3, 1.75)
    assert got == pytest.approx([0.2, 0.25], rel=1e-14)
    assert fam.numeric("kl")(0.0, 0.0, 1.0, 2.0) == pytest.approx(2.5, rel=1e-14)


def test_fullwidth_fixed_name_is_the_same_name():
    # "ｏｕｔ" is read by Python as "out", the output buffer of the generated functions
    fam = symgeo.get_family("binomial", n="ｏｕｔ")
    assert [s.name for s in fam.fixed.values()] == ["out"]
    assert fam.numeric("fisher")(0.3, 7.0)[0, 0] == pytest.approx(7 / 0.21, rel=1e-14)


def test_names_that_normalise_alike_are_refused():
    x = sp.Symbol("x")
    a, b = sp.Symbol("ｏｕｔ"), sp.Symbol("out")
    with pytest.raises(DeclarationError, match="declared twice"):
        symgeo.Family("twins", -(x - a) ** 2 / 2 - (x - b) ** 2 / 2, x, sp.S.Reals,
                      [(a, "real"), (b, "real")], validate=False)


def test_fixed_value_may_not_take_another_symbols_name():
    with pytest.raises(DeclarationError, match="fixed parameter n cannot take the value p"):
        symgeo.get_family("binomial", n="p")
    fam = symgeo.get_family("binomial", n="n")  # its own name: a symbolic hyper-parameter
    assert fam.fixed[fam.symbol("n")].name == "n"


def test_non_identifier_fixed_value_is_refused():
    with pytest.raises(symgeo.SymgeoError):
        symgeo.get_family("binomial", n="1+")


@pytest.mark.parametrize("text, match", [
    ("1e999999999", "exponent"),
    ("1." + "1" * 70, "digits"),
    ("1" * 5000, "too large"),
    ("10**10**10", "too large"),
    ("polygamma(10**9, 2)", "too large"),
])
def test_huge_numbers_are_refused_quickly(text, match):
    with pytest.raises(FormulaError, match=match):
        parse_formula(text, {})


def test_decimals_are_exact_to_their_last_digit():
    text = "0.123456789012345678901234567890123"
    assert parse_formula(text, {}) == sp.Rational(text)
    assert user_value(text) == sp.Rational(text)
    assert parse_formula("2.5e-3", {}) == sp.Rational(1, 400)


@pytest.mark.parametrize("quantity, args", [
    ("fisher", (math.nan, 1.0)),
    ("fisher", (0.0, math.inf)),
    ("fisher", (-math.inf, 1.0)),
    ("score", (math.nan, 0.0, 1.0)),
    ("score", (math.inf, 0.0, 1.0)),
    ("log_density", (math.nan, 0.0, 1.0)),
    ("kl", (0.0, 1.0, math.nan, 1.0)),
    ("alpha_divergence", (math.inf, 0.0, 1.0, 0.0, 2.0)),
])
def test_non_finite_arguments_give_nan_everywhere(quantity, args):
    out = np.asarray(symgeo.get_family("normal").numeric(quantity)(*args))
    assert np.isnan(out).all()


def test_compositions_of_many_components_declare_quickly():
    # C(44, 39) = 1086008 compositions: the mass is a convolution, never an enumeration
    fam = symgeo.get_family("multinomial", K=40, n=5)
    assert fam.dimension == 39


def test_separable_mass_over_compositions_matches_enumeration():
    import mpmath as mp

    from symgeo.declare.support import Compositions, finite_points
    from symgeo.engine.numeric import _compositions_mass

    xs = sp.symbols("x1:5", integer=True, nonnegative=True)
    log_p = sum(sp.Rational(k + 1, 3) * x - sp.log(sp.factorial(x)) for k, x in enumerate(xs))
    direct = mp.fsum(mp.exp(mp.mpf(sp.N(log_p.xreplace(dict(zip(xs, pt))), 40)))
                     for pt in finite_points(Compositions(6), xs))
    assert abs(_compositions_mass(log_p, xs, 6, 30) / direct - 1) < 1e-25


def test_python_api_time_limit():
    import time

    fam = symgeo.get_family("student_t")
    t0 = time.monotonic()
    with pytest.raises(symgeo.CommandBudgetSpent, match="time budget of 1 s was spent"):
        with symgeo.time_limit(1):
            fam.expectation_numeric("x**2", {"mu": 0, "sigma": 1, "nu": 5}, dps=3000)
    assert time.monotonic() - t0 < 5


def test_mpmath_route_takes_decimal_points():
    """Points given as floats become exact rationals; substituting them must not build
    huge exact powers (it built a 20942-digit rational, and sympy refused to print it).
    Reference: the Weibull affinity integrated by mpmath from the textbook density."""
    import mpmath as mp

    p, q = [2.891, 0.945], [2.767, 1.433]
    got = symgeo.get_family("weibull").alpha_divergence_numeric(0.3, p, q)
    with mp.workdps(30):
        def log_w(x, k, lam):
            k, lam = mp.mpf(str(k)), mp.mpf(str(lam))
            return mp.log(k / lam) + (k - 1) * mp.log(x / lam) - (x / lam) ** k
        lam = mp.mpf("0.35")
        rho = mp.quad(lambda x: mp.exp(lam * log_w(x, *p) + (1 - lam) * log_w(x, *q)),
                      [0, 1, 2, mp.inf])
        ref = 4 / (1 - mp.mpf("0.09")) * (1 - rho)
    assert abs(got - ref) < mp.mpf(10) ** -20 * abs(ref)
