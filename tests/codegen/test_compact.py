"""The cost-lowering rewritings of symgeo.codegen.compact are identities: checked at
random rational points against the expression they rewrite."""

import random

import pytest
import sympy as sp

from symgeo.codegen.compact import code_cost, compact, hoist
from symgeo.codegen.functions import NodePoly, NodeQuad, NodeSum

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


@pytest.mark.parametrize("expr", CASES)
def test_hoist_with_linear_forms_is_an_identity(expr):
    definitions, (rewritten,) = hoist([expr], u, linear=True)
    back = _restored(definitions, rewritten).doit()
    rng = random.Random(6)
    for _ in range(3):
        _assert_same(expr, back, {v: sp.Rational(rng.randint(1, 90), 37) for v in (u, a, b, c, s)})


def test_linear_forms_collect_the_terms_of_node_functions_alone():
    """Cauchy: a*log(u^2 + 1) and the constant are one NodeSum (a matrix product on shared
    nodes), the quadratic in u inside the other log a NodePoly; Gumbel: u, log u and the
    constant are one NodeSum, the row power of u stays outside (it depends on a row)."""
    definitions, (cauchy,) = hoist([CASES[0]], u, linear=True)
    (form,) = cauchy.atoms(NodeSum)
    assert {f for f in form.args[1::2]} == {sp.log(u ** 2 + 1), 1}
    # b real may be 0: no vertex form (its u0 = -c/b), the expanded quadratic
    (poly,) = cauchy.atoms(NodePoly)
    assert poly.args[0] == u and len(poly.args) == 4 and not cauchy.has(NodeQuad)
    # b > 0: vertex form a (u - u0)^2 + r, r simplified: g^2, not b^2 u0^2 + ...
    bp, g = sp.symbols("b_p g", positive=True)
    definitions, (vertex,) = hoist(
        [sp.log(u ** 2 * bp ** 2 + 2 * u * bp * c + c ** 2 + g ** 2)], u, linear=True)
    (quad,) = vertex.atoms(NodeQuad)
    values = dict(definitions)
    a_, u0, r = (values.get(v, v) for v in quad.args[1:])
    assert quad.args[0] == u and sp.simplify(r - g ** 2) == 0
    assert sp.simplify(a_ - bp ** 2) == 0 and sp.simplify(u0 + c / bp) == 0
    definitions, (cubic,) = hoist([a * u ** 3 + b * u + c], u, linear=True)
    (poly,) = cubic.atoms(NodePoly)
    assert poly.args[0] == u and len(poly.args) == 5  # u, then 4 coefficients
    definitions, (gumbel,) = hoist([CASES[1]], u, linear=True)
    (form,) = gumbel.atoms(NodeSum)
    assert set(form.args[1::2]) == {u, sp.log(u)}  # no constant term in this case
    assert any(isinstance(t, sp.Mul) and t.has(sp.exp) for t in sp.Add.make_args(gumbel))
    # a polynomial of the node alone (no row coefficient) is left to Horner's rule
    definitions, (plain,) = hoist([u ** 2 + 1], u, linear=True)
    assert not plain.has(NodePoly, NodeSum)


def test_linear_form_helpers_with_shared_and_row_nodes():
    """_linear and _poly of a generated module: shared nodes (k,) through one matrix
    product, each row its own nodes (m, k) through the elementwise sum / Horner, both equal
    to the plain sum."""
    import numpy as np

    from symgeo.codegen import numpy as N
    src = N._ENV.get_template("helpers/quadrature.py").render()
    ns = {"numpy": np}
    exec(compile(src, "quadrature", "exec"), ns)  # noqa: S102 - our own helper module
    rng = np.random.default_rng(1)
    rows = [rng.normal(size=(5, 1)) for _ in range(3)]
    for x in (rng.normal(size=7), rng.normal(size=(5, 7))):
        plain = rows[0] * np.log1p(x ** 2) + rows[1] * x + rows[2] * 1.0 - 0.5 * x
        got = ns["_linear"]((rows[0], rows[1], rows[2], -0.5), (np.log1p(x ** 2), x, 1.0, x))
        assert got.shape == (5, 7) and np.allclose(got, plain, rtol=1e-14, atol=1e-14)
        horner = (rows[0] * x + rows[1]) * x + rows[2]
        assert np.allclose(ns["_poly"](x, tuple(rows)), horner, rtol=1e-14, atol=1e-14)
        vertex = rows[0] * (x - rows[1]) ** 2 + rows[2]
        assert np.allclose(ns["_quad"](x, *rows), vertex, rtol=1e-13, atol=1e-13)
    # each row's own nodes: the vertex form keeps r beside d^2 (x near x0 = 1e3)
    x = 1e3 + np.array([[0.0, 1e-3]])
    assert ns["_quad"](x, 1.0, 1e3, 1e-4)[0, 0] == 1e-4


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
