"""Exact linear algebra on the matrices a reparameterised chart produces, and the
rank test of the exponential-family Jacobian (both once hung CI for over an hour)."""

import mpmath as mp
import sympy as sp

from symgeo.engine.expfamily import _rank_deficient
from symgeo.engine.linalg import exact_det, field_matrix, inverse

a, b = sp.symbols("a b", real=True)


def _at(M, point, dps=30):
    with mp.workdps(dps):
        return mp.matrix([[mp.mpmathify(sp.N(M[i, j].subs(point), dps)) for j in range(M.cols)]
                          for i in range(M.rows)])


def test_hyperbolic_entries_invert_over_a_fraction_field():
    # the tidy Fisher matrix of the multinomial in logit coordinates
    M = sp.Matrix([[-5 / (4 * (sp.exp(a + b) - 1) * sp.cosh(a / 2) ** 2),
                    5 * sp.exp(a + b) / ((1 - sp.exp(a + b)) * (sp.exp(a) + 1) * (sp.exp(b) + 1))],
                   [5 * sp.exp(a + b) / ((1 - sp.exp(a + b)) * (sp.exp(a) + 1) * (sp.exp(b) + 1)),
                    -5 / (4 * (sp.exp(a + b) - 1) * sp.cosh(b / 2) ** 2)]])
    assert not field_matrix(M).domain.is_EX
    point = {a: sp.Rational(-3, 7), b: sp.Rational(-5, 4)}
    with mp.workdps(30):
        want = _at(M, point) ** -1
        got = _at(inverse(M), point)
        assert mp.mnorm(got - want, 1) < mp.mpf(10) ** -25 * mp.mnorm(want, 1)
        assert abs(mp.mpmathify(sp.N(exact_det(M).subs(point), 30)) - mp.det(_at(M, point))) \
            < mp.mpf(10) ** -25


def test_rank_deficient_decides_at_a_generic_point():
    n = sp.Symbol("n", positive=True)  # a hyper-parameter: also set to a generic value
    full = sp.Matrix([[sp.exp(-a) / (1 + sp.exp(-a)) ** 2, n * b], [sp.log(1 + a ** 2), n]])
    assert not _rank_deficient(full, (a, b))
    # rows proportional through a non-polynomial identity (cosh^2 - sinh^2 = 1)
    deficient = sp.Matrix([[sp.cosh(a) ** 2 - sp.sinh(a) ** 2, b], [n, n * b]])
    assert _rank_deficient(deficient, (a, b))
    # an entry with a pole at the first point is evaluated at the second
    pole = sp.Matrix([[1 / (5 * a - 7), 0], [0, 1]])
    assert not _rank_deficient(pole, (a, b))
