"""The cost-lowering rewritings of symgeo.codegen.compact are identities: checked at
random rational points against the expression they rewrite."""

import random

import pytest
import sympy as sp

from symgeo.codegen.compact import code_cost, compact, hoist

u, a, b, c, s = sp.symbols("u a b c s", real=True)

CASES = [
    # Cauchy-type affinity: log weights grouped by their u-dependent factor, the
    # quadratic in u in Horner form
    a * sp.log(b) / 2 + a * sp.log(u ** 2 + 1) / 2 - a * sp.log(u ** 2 * b ** 2 + 2 * u * b * c
                                                                 + c ** 2 + s ** 2) / 2
    + sp.log(b) / 2 - sp.log(u ** 2 + 1) / 2 - sp.log(u ** 2 * b ** 2 + 2 * u * b * c + c ** 2
                                                      + s ** 2) / 2 - sp.log(sp.pi),
    # Gumbel-type: u inside exp and a power with a parameter exponent
    u * a / 2 - u / 2 + a * b * sp.log(u) / (2 * c) - sp.exp(-c / b) * sp.exp(b * sp.log(u) / c),
    # products and nested functions, a term free of u, and u alone
    sp.exp(-u ** 3 * a + u * b - c) * sp.cos(s * u) + b ** 2 - u,
    sp.S(7),
]


def _value(e, env):
    return sp.N(e.xreplace(env), 30)


def _restored(definitions, rewritten):
    """``rewritten`` with the hoisted row symbols replaced by their definitions."""
    for sym, value in reversed(definitions):
        rewritten = rewritten.xreplace({sym: value})
    return rewritten


def _assert_same(expr, back, env):
    assert abs(_value(back, env) - _value(expr, env)) < 1e-25 * (1 + abs(_value(expr, env)))


@pytest.mark.parametrize("expr", CASES)
def test_hoist_is_an_identity(expr):
    definitions, (rewritten,) = hoist([expr], u)
    back = _restored(definitions, rewritten)
    rng = random.Random(5)
    for _ in range(3):
        _assert_same(expr, back, {v: sp.Rational(rng.randint(1, 90), 37) for v in (u, a, b, c, s)})


def test_hoist_moves_parameter_work_out_of_the_nodes():
    definitions, (rewritten,) = hoist([CASES[0]], u)
    # what is left at the nodes: two logs of u-polynomials, their coefficients, one constant
    assert all(not value.has(u) for _, value in definitions)
    assert sum(1 for n in sp.preorder_traversal(rewritten) if isinstance(n, sp.log)) == 2
    assert code_cost(rewritten) < code_cost(CASES[0]) / 2


def test_compact_is_an_identity():
    expr = (a ** 2 - 2 * a * b + b ** 2) / c + (c * s + c) / c
    out = compact(expr)
    assert code_cost(out) < code_cost(expr)
    assert sp.simplify(out - expr) == 0


def test_hoist_leaves_pieces_and_unknown_symbols_alone():
    w = sp.Symbol("w")  # no assumptions: its row symbol gets none either
    expr = sp.Piecewise((u, u > sp.log(a)), (0, True)) + w * u ** 2 + w
    definitions, (rewritten,) = hoist([expr], u)
    assert all(sym.is_real is None for sym, value in definitions if value.has(w))
    assert sp.simplify(_restored(definitions, rewritten) - expr) == 0


def test_hoist_writes_a_row_power_of_a_positive_node_function_through_its_log():
    # Weibull-type affinity: v**k_p and v**k_q beside log v.  numpy's power costs about
    # three times exp(k log v) once log v is shared; a base of unknown sign keeps its power
    v = sp.Symbol("v", positive=True)
    expr = (a - 1) / 2 * v ** b + c * v ** s + (a + b) * sp.log(v) + (v - u) ** b
    definitions, (rewritten,) = hoist([expr], v)
    powers = [n for n in sp.preorder_traversal(rewritten) if n.is_Pow and n.base.has(v)]
    assert len(powers) == 1 and not powers[0].base.is_positive  # v - u (u hoisted to a row)
    back = _restored(definitions, rewritten)
    rng = random.Random(7)
    for _ in range(3):
        env = {x: sp.Rational(rng.randint(1, 90), 37) for x in (v, a, b, c, s)}
        env[u] = env[v] / 2
        _assert_same(expr, back, env)
