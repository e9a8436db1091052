"""The pure-Python path of a generated function, taken when every argument is a plain number.

One call at one point (a step of someone's optimisation loop) should cost
what the formula costs: numpy's per-call overhead on scalars (array
conversion, ufunc dispatch, masks) is ten times a few float operations.  The
same symbolic entries are printed a second time with the ``math`` module;
the generated function tries this path first for plain numbers and falls
back to the array path on any floating-point exception (overflow, a domain
error of ``math``), so both paths give the IEEE result.

A quantity whose formula needs a function ``math`` lacks prints with
``scipy.special`` (which takes floats too); one that neither knows gets no
scalar path (:func:`scalar_code` returns None).
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from .functions import polar_value


class ScalarPrinter(PythonCodePrinter):
    """Python code on floats: ``math`` where it has the function, ``scipy.special`` otherwise."""

    def __init__(self):
        super().__init__({"fully_qualified_modules": True})

    def _call(self, name, *args):
        return f"{self._module_format(name)}({', '.join(self._print(a) for a in args)})"

    def _print_IsFinite(self, expr):
        return self._call("math.isfinite", expr.args[0])

    def _print_And(self, expr):
        return " and ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr):
        return " or ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Not(self, expr):
        return f"not ({self._print(expr.args[0])})"

    def _print_ive(self, expr):
        nu, z = expr.args
        if nu in (0, 1):
            return self._call(f"scipy.special.i{int(nu)}e", z)
        return self._call("scipy.special.ive", nu, z)

    def _print_polygamma(self, expr):
        n, z = expr.args
        if n == 0:
            return self._call("scipy.special.psi", z)
        return self._call("scipy.special.polygamma", n, z)

    def _print_factorial(self, expr):
        # x arrives as a float (math.factorial takes integers only)
        return self._call("math.gamma", expr.args[0] + 1)

    def _print_loggamma(self, expr):
        return self._call("math.lgamma", expr.args[0])

    def _print_log(self, expr):
        arg = expr.args[0]
        if isinstance(arg, sp.gamma):
            return self._call("math.lgamma", arg.args[0])
        if isinstance(arg, sp.factorial):  # math.factorial refuses floats, and overflows
            return self._call("math.lgamma", arg.args[0] + 1)
        if isinstance(arg, sp.beta):
            return self._call("scipy.special.betaln", *arg.args)
        return self._call("math.log", arg)

    def _print_beta(self, expr):
        return self._call("scipy.special.beta", *expr.args)

    def _print_besseli(self, expr):
        return self._call("scipy.special.iv", *expr.args)

    def _print_expint(self, expr):
        n, z = expr.args
        if n == 1:
            return self._call("scipy.special.exp1", z)
        return self._call("scipy.special.expn", n, z)

    def _print_zeta(self, expr):
        if expr.is_number:
            return repr(float(expr))
        return self._call("scipy.special.zeta", *expr.args)

    def _print_KroneckerDelta(self, expr):
        a, b = expr.args
        return f"(1.0 if {self._print(a)} == {self._print(b)} else 0.0)"

    def _print_polar_lift(self, expr):
        return self._print(polar_value(expr))

    def _print_Pow(self, expr, rational=False):
        base, e = expr.args
        if e == sp.S.Half:
            return self._call("math.sqrt", base)
        if e == -sp.S.Half:
            return f"1/{self._call('math.sqrt', base)}"
        b = self.parenthesize(base, PRECEDENCE["Pow"])
        if e.is_Integer:
            return f"{b}**{int(e)}" if e > 0 else f"{b}**({int(e)})"
        return f"{b}**{self.parenthesize(e, PRECEDENCE['Pow'])}"

    def _print_Rational(self, expr):
        return repr(float(expr)) if expr.q != 1 else f"{expr.p}.0"

    def _print_Integer(self, expr):
        return f"{expr.p}"


def scalar_code(printer, cse, entries, conditions):
    """Printed pieces of the scalar path, or None if some function has no scalar version.

    ``cse``: [(symbol, expression)]; ``entries``: the reduced entries in
    row-major order; ``conditions``: {name: sympy boolean} (domain, support,
    near-diagonal test) printed alongside.
    """
    try:
        return {
            "cse": [(str(lhs), printer.doprint(rhs)) for lhs, rhs in cse],
            "entries": [printer.doprint(e) for e in entries],
            **{k: (printer.doprint(v) if v is not None else None) for k, v in conditions.items()},
        }
    except (PrintMethodNotImplementedError, NotImplementedError, TypeError, ValueError):
        return None
