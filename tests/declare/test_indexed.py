"""Indexed names, sums over an index, data arrays and matrices in the safe parser and loader."""

import pytest
import sympy as sp

import symgeo
from symgeo.declare.loader import declaration_from_text
from symgeo.declare.parse import Indexed, indexed_name, parse_formula
from symgeo.errors import DeclarationError, FormulaError

K = sp.Symbol("K")


def _x(n):
    return Indexed("x", {(i,): sp.Symbol(f"x{i}") for i in range(1, n + 1)})


def test_sum_and_prod_expand_with_the_size():
    e = parse_formula("sum(i*x[i], i, 1, K) + prod(x[i], i, 1, 2)", {"x": _x(4), "K": K},
                      sizes={K: 3})
    x1, x2, x3 = sp.symbols("x1:4")
    assert e == x1 + 2 * x2 + 3 * x3 + x1 * x2


def test_nested_sums_and_data():
    t = Indexed("t", {(1,): sp.Rational(1, 2), (2,): sp.Integer(3)}, "data array")
    e = parse_formula("sum(sum(t[i]*t[j], j, 1, len(t)), i, 1, len(t))", {"t": t})
    assert e == (sp.Rational(1, 2) + 3) ** 2


@pytest.mark.parametrize("text, reason", [
    ("x", "used as a number"),
    ("x[5]", "not declared"),
    ("x[i]", "unknown name 'i'"),
    ("sum(x[i], i, 1, L)", "unknown name 'L'"),
    ("sum(x[i], i, 1, K/2)", "concrete integer"),
    ("sum(x[K], K, 1, 2)", "already a declared name"),
    ("sum(1, i, 1, 100000)", "more than"),
    ("x[1:2]", "slices"),
    ("det(x)", "square matrix"),
])
def test_bad_index_use_is_refused_with_the_reason(text, reason):
    with pytest.raises(FormulaError, match=reason):
        parse_formula(text, {"x": _x(4), "K": K}, sizes={K: 3})


def test_symbolic_size_is_refused():
    with pytest.raises(FormulaError, match="concrete integer"):
        parse_formula("sum(x[i], i, 1, K)", {"x": _x(4), "K": K})


def test_matrices_are_exact():
    s = Indexed("s", {(i, j): sp.Symbol(indexed_name("s", (i, j)))
                      for i in range(1, 3) for j in range(i, 3)})
    S = parse_formula("symmetric(s, 2)", {"s": s}, allow_containers=True)
    s11, s12, s22 = sp.symbols("s11 s12 s22")
    assert S == sp.Matrix([[s11, s12], [s12, s22]])
    P = parse_formula("inv(S)", {"S": S}, allow_containers=True)
    assert sp.simplify(P * S - sp.eye(2)) == sp.zeros(2, 2)
    assert parse_formula("det(leading(S, 1))", {"S": S}) == s11
    with pytest.raises(FormulaError, match="matrix used as a number"):
        parse_formula("S + 1", {"S": S})


def test_indexed_names_join_with_underscores_past_nine():
    assert indexed_name("a", (12,)) == "a12"
    assert indexed_name("s", (1, 2)) == "s12"
    assert indexed_name("s", (1, 12)) == "s_1_12"


TEMPLATE = """
name = "toy"
variables = ["x[1:n]"]
support = {{ kind = "integers", lower = 0 }}
log_density = "sum(x[i]*log(lam*w[i]) - lam*w[i] - log(factorial(x[i])), i, 1, n)"
{extra}
[data]
w = {w}

[[fixed]]
name = "n"
default = 3
domain = "positive_integer"

[[coordinates]]
name = "lam"
domain = "positive"
"""


def test_data_and_sizes_in_a_declaration():
    kw = declaration_from_text(TEMPLATE.format(w="[1, 0.5, 2]", extra=""), "<toy>")
    assert [v.name for v in kw["variables"]] == ["x1", "x2", "x3"]
    fam = symgeo.Family(**kw)
    lam = fam.coordinates[0]
    assert sp.simplify(fam.fisher()[0, 0] - sp.Rational(7, 2) / lam) == 0


def test_data_must_be_rectangular_and_numeric():
    with pytest.raises(FormulaError, match="rectangular"):
        declaration_from_text(TEMPLATE.format(w="[1, [2, 3]]", extra=""), "<toy>")
    with pytest.raises(FormulaError, match="unknown name"):
        declaration_from_text(TEMPLATE.format(w='["lam"]', extra=""), "<toy>")


def test_index_range_beyond_the_data_is_named():
    with pytest.raises(FormulaError, match=r"w\[4\] is not declared"):
        declaration_from_text(TEMPLATE.format(w="[1, 0.5, 2]", extra=""), "<toy>", n=4)


def test_for_clause_domains_and_constraint_tables():
    text = """
name = "toy2"
variables = ["x[1:2]"]
support = { kind = "real" }
log_density = "-log(2*pi) - log(det(S))/2 - sum(sum(x[i]*P[i, j]*x[j], j, 1, 2), i, 1, 2)/2"
constraints = [{ for = "k = 1:2", rule = "det(leading(S, k)) > 0" }]

[define]
S = "symmetric(s, 2)"
P = "inv(S)"

[[coordinates]]
name = "s[i, j]"
for = ["i = 1:2", "j = i:2"]
domain = { diagonal = "positive", otherwise = "real" }
meaning = "entry {i}, {j}"
"""
    kw = declaration_from_text(text, "<toy2>")
    names = [(c.name, str(d)) for c, d in kw["coordinates"]]
    assert names == [("s11", "positive"), ("s12", "real"), ("s22", "positive")]
    assert kw["meanings"]["s12"] == "entry 1, 2"
    assert len(kw["constraints"]) == 2
    # det(leading(S, 1)) > 0 is s11 > 0: implied by the domain, so the family drops it
    assert len(symgeo.Family(**kw).constraints) == 1


def test_compositions_are_enumerated_without_the_grid():
    from symgeo.declare.support import Compositions
    pts = Compositions(1).points_for(40)
    assert len(pts) == 40 and all(sum(p) == 1 for p in pts)


def test_several_count_variables_form_a_product_support():
    kw = declaration_from_text(TEMPLATE.format(w="[1, 0.5, 2]", extra=""), "<toy>")
    assert type(kw["support"]).__name__ == "IntegerBox"
    with pytest.raises(DeclarationError, match="for one variable"):
        declaration_from_text(TEMPLATE.format(w="[1, 0.5, 2]", extra="").replace(
            'kind = "integers", lower = 0', 'kind = "finite", values = [0, 1]'), "<toy>")
