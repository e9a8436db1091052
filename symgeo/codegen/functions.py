"""Functions that exist only to be printed: finiteness tests, scaled Bessel functions and
the linear forms of quadrature integrands.

Both the numpy printer and the scalar (pure-Python) printer know them; the
engine never sees them.
"""

from __future__ import annotations

import sympy as sp
from sympy.logic.boolalg import BooleanFunction

from ..errors import SymgeoError


class IsFinite(BooleanFunction):
    """True where the argument is a finite number (printed as ``numpy.isfinite``).

    Part of every domain test, so a NaN or an infinity in any argument gives NaN
    in every entry, even an entry that does not depend on that argument.
    """

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if arg.is_number:
            return sp.true if arg.is_finite else sp.false
        return None


class ive(sp.Function):
    """Exponentially scaled modified Bessel function: ive(nu, z) = I_nu(z) exp(-|z|).

    Printed as ``scipy.special.i0e`` / ``i1e`` / ``ive``; ratios of Bessel
    functions then lose their exponentials symbolically and never overflow.
    """

    nargs = 2


def with_scaled_bessel(expr):
    """``expr`` with I_nu(z) written as ive(nu, z) e^|z| for real z, logs of products expanded.

    I_0(kappa) overflows float64 past kappa ~ 700 although ratios such as
    I_1/I_0 and log I_0(kappa) stay moderate; after the rewriting the
    exponentials cancel in ratios and log(ive e^|z|) = log(ive) + |z|.
    """
    expr = sp.sympify(expr, strict=True)
    if not expr.has(sp.besseli):
        return expr

    def scaled(nu, z):
        if z.is_real is not True:
            return sp.besseli(nu, z)
        return ive(nu, z) * sp.exp(sp.Abs(z))
    out = expr.replace(sp.besseli, scaled)
    return out.replace(lambda e: isinstance(e, sp.log) and e.has(ive),
                       lambda e: sp.expand_log(e, force=True))


def polar_value(expr):
    """The argument of ``polar_lift(a)`` (sympy's marker of a number on the Riemann surface
    of log), printed as the number a itself.  That is its value only for a >= 0: a
    closed form with sqrt(polar_lift(a)) for a < 0 stands for i sqrt(-a), and real
    floating-point code would print NaN (or a wrong sign) where the formula holds a real
    value.  Raises :class:`SymgeoError` unless a is provably nonnegative, so the code
    generator takes the numeric route instead."""
    a = expr.args[0]
    if a.is_nonnegative is not True:
        raise SymgeoError(f"the closed form holds polar_lift({sp.sstr(a)}), a number of "
                          "unknown sign on the Riemann surface of log, which floating-point "
                          "code cannot evaluate")
    return a


class NodeSum(sp.Function):
    """sum_j c_j f_j(u) of a quadrature integrand: args c_1, f_1, c_2, f_2, ..., each c_j a
    row quantity (one value per parameter row) and each f_j a function of the node u alone.

    Printed as ``_linear((c...), (f...))``: where the rows share their nodes, one matrix
    product (m, J) @ (J, k), a single pass over rows x nodes instead of 2J - 1.
    """

    def doit(self, **hints):
        return sp.Add(*[c * f for c, f in zip(self.args[0::2], self.args[1::2])]).doit(**hints)


class NodePoly(sp.Function):
    """sum_j c_j u^(n-j) of a quadrature integrand: args u, c_0, ..., c_n (highest power
    first), the c_j row quantities.  Printed as ``_poly(u, (c...))``: a matrix product
    with the powers of shared nodes, Horner's rule where each row has its own nodes."""

    def doit(self, **hints):
        u, *cs = self.args
        n = len(cs) - 1
        return sp.Add(*[c * u ** (n - j) for j, c in enumerate(cs)]).doit(**hints)


class NodeQuad(sp.Function):
    """a (u - u0)^2 + r of a quadrature integrand: args u, a, u0, r (row quantities).
    Printed as ``_quad(u, a, u0, r)``: a matrix product with u^2, u, 1 where the rows share
    their nodes (close rows: nothing cancels), the vertex form where each row has its own
    (a piece starting at q's centre u0, where the expanded coefficients would cancel)."""

    def doit(self, **hints):
        u, a, u0, r = self.args
        return (a * (u - u0) ** 2 + r).doit(**hints)
