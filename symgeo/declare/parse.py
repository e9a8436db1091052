"""Safe parsing of formulas written in family files.

Family files are data.  A formula is parsed with :mod:`ast` and rebuilt node by
node from a whitelist: numbers, declared symbols, the constants ``pi``, ``E``,
``oo``, the operators ``+ - * / **`` and calls of whitelisted functions with
positional arguments.  Nothing is ever handed to ``eval``, ``sympify`` or
``parse_expr`` (all three execute arbitrary code).  Attribute access,
subscripts, keyword arguments, lambdas, comprehensions, unknown names and
oversized numbers are refused with the reason.
"""

from __future__ import annotations

import ast
import math
import re
from fractions import Fraction

import sympy as sp

from ..errors import FormulaError

#: a plain decimal number ("0.3", "-1e-3"): read as an exact rational, never through floats
DECIMAL = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")

MAX_FORMULA_LENGTH = 20_000
MAX_DEPTH = 200
MAX_LITERAL_DIGITS = 60
MAX_RESULT_BITS = 4096
MAX_NUMERIC_FUNCTION_ARG = 1000


def _log(*args):
    if len(args) == 1:
        return sp.log(args[0])
    if len(args) == 2:
        return sp.log(args[0]) / sp.log(args[1])
    raise TypeError("log takes one or two arguments")


def _polygamma(n, z):
    return sp.polygamma(n, z)


#: name in a formula -> (sympy callable, allowed argument counts)
FUNCTIONS = {
    "log": (_log, (1, 2)),
    "exp": (sp.exp, (1,)),
    "sqrt": (sp.sqrt, (1,)),
    "gamma": (sp.gamma, (1,)),
    "loggamma": (sp.loggamma, (1,)),
    "lgamma": (sp.loggamma, (1,)),
    "digamma": (sp.digamma, (1,)),
    "polygamma": (_polygamma, (2,)),
    "beta": (sp.beta, (2,)),
    "besseli": (sp.besseli, (2,)),
    "besselj": (sp.besselj, (2,)),
    "cos": (sp.cos, (1,)),
    "sin": (sp.sin, (1,)),
    "tan": (sp.tan, (1,)),
    "cosh": (sp.cosh, (1,)),
    "sinh": (sp.sinh, (1,)),
    "tanh": (sp.tanh, (1,)),
    "atan": (sp.atan, (1,)),
    "erf": (sp.erf, (1,)),
    "erfc": (sp.erfc, (1,)),
    "Abs": (sp.Abs, (1,)),
    "abs": (sp.Abs, (1,)),
    "sign": (sp.sign, (1,)),
    "factorial": (sp.factorial, (1,)),
    "binomial": (sp.binomial, (2,)),
    "delta": (sp.KroneckerDelta, (2,)),
}

CONSTANTS = {
    "pi": sp.pi,
    "E": sp.E,
    "oo": sp.oo,
    "inf": sp.oo,
    "EulerGamma": sp.EulerGamma,
}

RESERVED = set(FUNCTIONS) - {"gamma", "beta"} | set(CONSTANTS)
"""Names a declared symbol may not take.  ``gamma`` and ``beta`` are allowed
as symbol names (cauchy's scale, gumbel's scale): a bare name is a symbol,
a call is the function, so the two never clash."""

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: None,  # handled separately (size checks)
}

_COMPARE = {
    ast.Lt: sp.StrictLessThan,
    ast.LtE: sp.LessThan,
    ast.Gt: sp.StrictGreaterThan,
    ast.GtE: sp.GreaterThan,
}


class _Builder:
    def __init__(self, symbols, text, where, allow_compare):
        self.symbols = symbols
        self.text = text
        self.where = where
        self.allow_compare = allow_compare

    def fail(self, node, reason):
        col = getattr(node, "col_offset", None)
        at = f" (column {col + 1})" if col is not None else ""
        snippet = ""
        if col is not None:
            seg = ast.get_source_segment(self.text, node)
            if seg:
                snippet = f": `{seg[:60]}`"
        raise FormulaError(f"{self.where}{at}: {reason}{snippet}")

    def build(self, node, depth=0):
        if depth > MAX_DEPTH:
            self.fail(node, "formula nested too deeply")
        meth = getattr(self, "_" + type(node).__name__, None)
        if meth is None:
            self.fail(node, f"{_describe(node)} is not allowed in a formula")
        return meth(node, depth + 1)

    def _Expression(self, node, depth):
        return self.build(node.body, depth)

    def _Constant(self, node, depth):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(node, f"literal {v!r} is not a number")
        if isinstance(v, int):
            if v.bit_length() > MAX_LITERAL_DIGITS * 4:
                self.fail(node, "integer literal too large")
            return sp.Integer(v)
        if not math.isfinite(v):
            self.fail(node, "non-finite float literal")
        # Exact rational from the literal's shortest decimal representation,
        # so 0.5 becomes 1/2 and 0.1 becomes 1/10, not a binary fraction.
        frac = Fraction(repr(v))
        if max(abs(frac.numerator), frac.denominator).bit_length() > MAX_LITERAL_DIGITS * 4:
            self.fail(node, "float literal out of range")
        return sp.Rational(frac.numerator, frac.denominator)

    def _Name(self, node, depth):
        name = node.id
        if name in self.symbols:
            return self.symbols[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            self.fail(node, f"function {name!r} used without a call")
        self.fail(node, f"unknown name {name!r} (declare it as a variable, coordinate, "
                        "fixed parameter or definition)")

    def _UnaryOp(self, node, depth):
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        self.fail(node, f"operator {type(node.op).__name__} is not allowed")

    def _BinOp(self, node, depth):
        if isinstance(node.op, ast.BitXor):
            self.fail(node, "'^' is not a power here: write '**'")
        if type(node.op) not in _BINOPS:
            self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        left = self.build(node.left, depth)
        right = self.build(node.right, depth)
        if isinstance(node.op, ast.Pow):
            return self._power(node, left, right)
        if isinstance(node.op, ast.Div) and right == 0:
            self.fail(node, "division by zero")
        return _BINOPS[type(node.op)](left, right)

    def _power(self, node, base, exponent):
        if base.is_Number and exponent.is_Number:
            b = abs(base)
            if b not in (0, 1):
                e = abs(exponent)
                # bits of the result, without computing it
                bits = float(e) * max(abs(math.log2(float(b))), 1e-300) if b.is_finite else math.inf
                if bits > MAX_RESULT_BITS:
                    self.fail(node, "numeric power too large to evaluate")
        elif exponent.is_Number and abs(exponent) > 10_000:
            self.fail(node, "exponent too large")
        if base == 0 and exponent.is_Number and exponent < 0:
            self.fail(node, "division by zero")
        return sp.Pow(base, exponent)

    def _Call(self, node, depth):
        if not isinstance(node.func, ast.Name):
            self.fail(node, "only direct calls of whitelisted functions are allowed")
        name = node.func.id
        if node.keywords:
            self.fail(node, f"keyword arguments are not allowed (in call of {name!r})")
        if any(isinstance(a, ast.Starred) for a in node.args):
            self.fail(node, "starred arguments are not allowed")
        if name not in FUNCTIONS:
            self.fail(node, f"function {name!r} is not in the whitelist "
                            f"({', '.join(sorted(FUNCTIONS))})")
        fn, arities = FUNCTIONS[name]
        if len(node.args) not in arities:
            self.fail(node, f"{name} takes {' or '.join(map(str, arities))} argument(s), "
                            f"got {len(node.args)}")
        args = [self.build(a, depth) for a in node.args]
        if all(a.is_Number for a in args) and any(abs(a) > MAX_NUMERIC_FUNCTION_ARG for a in args):
            self.fail(node, f"numeric argument of {name} too large to evaluate")
        return fn(*args)

    def _Compare(self, node, depth):
        if not self.allow_compare:
            self.fail(node, "comparisons are only allowed in constraints")
        if len(node.ops) != 1:
            self.fail(node, "chained comparisons are not allowed; write one inequality each")
        op = type(node.ops[0])
        if op not in _COMPARE:
            self.fail(node, f"comparison {op.__name__} is not allowed (use <, <=, >, >=)")
        return _COMPARE[op](self.build(node.left, depth), self.build(node.comparators[0], depth))


def _describe(node):
    kinds = {
        "Attribute": "attribute access",
        "Subscript": "subscripting",
        "Lambda": "lambda",
        "ListComp": "a comprehension",
        "GeneratorExp": "a generator",
        "Dict": "a dict",
        "List": "a list",
        "Tuple": "a tuple",
        "NamedExpr": "assignment",
        "IfExp": "a conditional expression",
        "BoolOp": "a boolean operator",
        "JoinedStr": "an f-string",
    }
    return kinds.get(type(node).__name__, f"syntax {type(node).__name__}")


def parse_formula(text, symbols, where="formula", allow_compare=False):
    """Parse ``text`` into a sympy expression using only whitelisted constructs.

    ``symbols`` maps the names a formula may use to sympy objects (declared
    variables, coordinates, fixed parameters and earlier definitions).
    ``where`` prefixes every error message (file, line and key).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(text)
    if not isinstance(text, str):
        raise FormulaError(f"{where}: a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"{where}: formula longer than {MAX_FORMULA_LENGTH} characters")
    if "__" in text:
        raise FormulaError(f"{where}: double underscores are not allowed in a formula")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"{where}: syntax error at column {exc.offset}: {exc.msg}") from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise FormulaError(f"{where}: formula refused ({exc})") from None
    try:
        return _Builder(symbols, text.strip(), where, allow_compare).build(tree)
    except RecursionError:
        raise FormulaError(f"{where}: formula nested too deeply") from None


def check_symbol_name(name, where):
    """Refuse names that are not identifiers or that shadow constants/functions."""
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise FormulaError(f"{where}: {name!r} is not a valid symbol name "
                           "(letters, digits and underscores, not starting with '_')")
    if name in RESERVED:
        raise FormulaError(f"{where}: {name!r} is reserved (a constant or function name)")
    return name


def user_value(value, symbols=None, where="value"):
    """The one door for values a user hands to the Python API (α, λ, f, points, mappings).

    A string goes through :func:`parse_formula` with ``symbols`` (never
    ``sympify``: that would run the text); a Python float is the decimal it
    prints as (0.3 -> 3/10); sympy objects and ints pass through.  Anything
    else is a :class:`FormulaError`.
    """
    if isinstance(value, str):
        return parse_formula(value, dict(symbols or {}), where=where)
    if isinstance(value, bool):
        raise FormulaError(f"{where}: expected a number or a formula, got a bool")
    if isinstance(value, float):
        return sp.Rational(repr(float(value))) if math.isfinite(value) else sp.Float(float(value))
    try:
        # strict: numbers, sympy objects, mpmath and numpy scalars only; text is refused
        return sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise FormulaError(f"{where}: expected a number, a sympy expression or a formula "
                           f"string, got {type(value).__name__}") from None
