"""Safe parsing of formulas written in family files.

Family files are data.  A formula is parsed with :mod:`ast` and rebuilt node by
node from a whitelist: numbers, declared symbols, the constants ``pi``, ``E``,
``oo``, the operators ``+ - * / **`` and calls of whitelisted functions with
positional arguments.  Nothing is ever handed to ``eval``, ``sympify`` or
``parse_expr`` (all three execute arbitrary code).  Attribute access,
keyword arguments, lambdas, comprehensions, unknown names and oversized
numbers are refused with the reason.

Families of any size are written with indices, expanded when parsed (the
sizes are fixed hyper-parameters with concrete values):

* ``x[i]``, ``s[i, j]``: an entry of a declared indexed name (``x[1:K]``),
  of a data array (``t[i]``, ``X[i, j]``, 1-based) or of a matrix;
* ``sum(expr, i, lo, hi)`` and ``prod(expr, i, lo, hi)``: expr with the
  index ``i`` running over the integers lo..hi (both inclusive);
* ``len(t)``: the length of a data array or indexed name;
* ``symmetric(s, d)``: the d x d symmetric matrix with upper triangle
  ``s[i, j]`` (i <= j); ``det(M)`` and ``inv(M)`` of a matrix (exact);
  ``leading(M, k)``, its leading k x k block; ``vector(a, b, ...)``, an
  indexed name of the given entries (a mean m[i] defined in [define]).
"""

from __future__ import annotations

import ast
import math
import re
import unicodedata
from fractions import Fraction

import sympy as sp
from sympy.polys.matrices import DomainMatrix

from ..errors import FormulaError

#: a plain decimal number ("0.3", "-1e-3"): read as an exact rational, never through floats
DECIMAL = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")

MAX_FORMULA_LENGTH = 20_000
MAX_DEPTH = 200
MAX_LITERAL_DIGITS = 60
MAX_DECIMAL_EXPONENT = 400
MAX_RESULT_BITS = 4096
MAX_NUMERIC_FUNCTION_ARG = 1000
MAX_INDEX_RANGE = 10_000
MAX_EXPANDED_NODES = 2_000_000
MAX_MATRIX_SIZE = 12


class Indexed:
    """A declared indexed name: ``entries`` maps index tuples (1-based ints) to sympy objects."""

    def __init__(self, base, entries, kind="indexed name"):
        self.base = base
        self.entries = dict(entries)
        self.kind = kind

    def __len__(self):
        return len({k[0] for k in self.entries})

    def get(self, idx):
        return self.entries.get(tuple(idx))


def indexed_name(base, idx):
    """The symbol name of ``base[idx]``: base + indices, joined by ``_`` once one has two digits."""
    if len(idx) == 1 or all(i < 10 for i in idx):
        return base + "".join(str(i) for i in idx)
    return base + "_" + "_".join(str(i) for i in idx)


def data_array(base, value, where):
    """An :class:`Indexed` (1-based) of exact numbers from a (nested) list of numbers."""
    entries = {}

    def walk(v, idx):
        if isinstance(v, list):
            if not v:
                raise FormulaError(f"{where}: data {base!r} holds an empty list")
            for k, item in enumerate(v, start=1):
                walk(item, idx + (k,))
            return
        entries[idx] = parse_formula(v, {}, where)
    walk(value, ())
    shapes = {len(k) for k in entries}
    if len(shapes) != 1:
        raise FormulaError(f"{where}: data {base!r} is not rectangular")
    return Indexed(base, entries, "data array")


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

ORDER_LIMITS = {"polygamma": 100, "besseli": MAX_NUMERIC_FUNCTION_ARG,
                "besselj": MAX_NUMERIC_FUNCTION_ARG}
"""Largest order (first argument) of the functions that have one."""

CONSTANTS = {
    "pi": sp.pi,
    "E": sp.E,
    "oo": sp.oo,
    "inf": sp.oo,
    "EulerGamma": sp.EulerGamma,
}

MATRIX_FUNCTIONS = {"len", "symmetric", "det", "inv", "leading", "vector"}
INDEX_FUNCTIONS = MATRIX_FUNCTIONS | {"sum", "prod"}

RESERVED = set(FUNCTIONS) - {"gamma", "beta"} | set(CONSTANTS)
"""Names a declared symbol may not take.  ``gamma``, ``beta`` and the index
functions (``sum``, ``det``, ...) are allowed as symbol names (cauchy's scale,
gumbel's scale, a determinant defined by hand): a bare name is a symbol, a
call is the function, so the two never clash."""

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
    def __init__(self, symbols, text, where, allow_compare, sizes=None):
        self.symbols = dict(symbols)
        self.text = text
        self.where = where
        self.allow_compare = allow_compare
        self.sizes = {k: sp.Integer(v) for k, v in (sizes or {}).items()}
        self.nodes = 0

    def fail(self, node, reason):
        col = getattr(node, "col_offset", None)
        at = f" (column {col + 1})" if col is not None else ""
        snippet = ""
        if col is not None:
            seg = ast.get_source_segment(self.text, node)
            if seg:
                snippet = f": `{' '.join(seg.split())[:60]}`"
        raise FormulaError(f"{self.where}{at}: {reason}{snippet}")

    def build(self, node, depth=0):
        if depth > MAX_DEPTH:
            self.fail(node, "formula nested too deeply")
        self.nodes += 1
        if self.nodes > MAX_EXPANDED_NODES:
            self.fail(node, f"formula expands to more than {MAX_EXPANDED_NODES} nodes "
                            "(are the sizes too large?)")
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
        # The literal as written, read exactly: 0.1 is 1/10 (not a binary fraction)
        # and a 30-digit decimal keeps its 30 digits.
        seg = ast.get_source_segment(self.text, node)
        if seg is not None and DECIMAL.fullmatch(seg.strip()):
            try:
                return decimal_value(seg.strip(), "")
            except FormulaError as exc:
                self.fail(node, str(exc).lstrip(": "))
        if not math.isfinite(v):
            self.fail(node, "non-finite float literal")
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

    def scalar(self, node, value):
        if isinstance(value, Indexed):
            self.fail(node, f"{value.kind} {value.base!r} used as a number: take an entry "
                            f"({value.base}[i])")
        if isinstance(value, sp.MatrixBase):
            self.fail(node, "a matrix used as a number: take an entry (M[i, j]) or det(M)")
        return value

    def integer(self, node, value, what="an index"):
        v = self.scalar(node, value)
        v = v.xreplace(self.sizes) if isinstance(v, sp.Basic) else v
        if not (isinstance(v, sp.Basic) and v.is_Integer):
            self.fail(node, f"{what} must be a concrete integer (sizes are fixed "
                            f"hyper-parameters with integer values), got {v}")
        return int(v)

    def _Subscript(self, node, depth):
        container = self.build(node.value, depth)
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if any(isinstance(i, ast.Slice) for i in items):
            self.fail(node, "slices are only allowed where names are declared")
        idx = tuple(self.integer(i, self.build(i, depth)) for i in items)
        if isinstance(container, Indexed):
            value = container.get(idx)
            if value is None:
                self.fail(node, f"{container.base}[{', '.join(map(str, idx))}] is not declared")
            return value
        if isinstance(container, sp.MatrixBase):
            if len(idx) != 2 or not all(1 <= i <= n for i, n in zip(idx, container.shape)):
                self.fail(node, f"matrix index out of range (shape {container.shape}, 1-based)")
            return container[idx[0] - 1, idx[1] - 1]
        self.fail(node, "only indexed names, data arrays and matrices can be subscripted")

    def _fold(self, node, depth, name):
        """sum(expr, i, lo, hi) / prod(...): expanded term by term with i bound to each integer."""
        if len(node.args) != 4 or not isinstance(node.args[1], ast.Name):
            self.fail(node, f"{name} takes (expression, index, lower, upper)")
        index = node.args[1].id
        if index in self.symbols and not isinstance(self.symbols[index], sp.Integer) \
                or index in CONSTANTS or index in FUNCTIONS:
            self.fail(node.args[1], f"index {index!r} is already a declared name")
        lo = self.integer(node.args[2], self.build(node.args[2], depth), "a bound")
        hi = self.integer(node.args[3], self.build(node.args[3], depth), "a bound")
        if hi - lo + 1 > MAX_INDEX_RANGE:
            self.fail(node, f"{name} over more than {MAX_INDEX_RANGE} indices")
        saved = self.symbols.get(index)
        terms = []
        for k in range(lo, hi + 1):
            self.symbols[index] = sp.Integer(k)
            terms.append(self.scalar(node.args[0], self.build(node.args[0], depth)))
        if saved is None:
            del self.symbols[index]
        else:
            self.symbols[index] = saved
        return sp.Add(*terms) if name == "sum" else sp.Mul(*terms)

    def _matrix_call(self, node, depth, name):
        args = [self.build(a, depth) for a in node.args]
        if name == "len":
            if len(args) != 1 or not isinstance(args[0], (Indexed, sp.MatrixBase)):
                self.fail(node, "len takes one data array, indexed name or matrix")
            a = args[0]
            return sp.Integer(a.shape[0] if isinstance(a, sp.MatrixBase) else len(a))
        if name == "vector":
            if not args:
                self.fail(node, "vector takes one or more entries")
            return Indexed("vector", {(k,): self.scalar(a, v)
                                      for k, (a, v) in enumerate(zip(node.args, args), 1)})
        if name == "symmetric":
            if len(args) != 2 or not isinstance(args[0], Indexed):
                self.fail(node, "symmetric takes (indexed name, size)")
            n = self.integer(node.args[1], args[1], "a matrix size")
            if not 1 <= n <= MAX_MATRIX_SIZE:
                self.fail(node, f"matrix size must be 1..{MAX_MATRIX_SIZE}")
            def entry(i, j):
                v = args[0].get((min(i, j) + 1, max(i, j) + 1))
                if v is None:
                    self.fail(node, f"{args[0].base}[{min(i, j) + 1}, {max(i, j) + 1}] "
                                    "is not declared")
                return v
            return sp.ImmutableMatrix(n, n, entry)
        if name == "leading":
            if len(args) != 2 or not isinstance(args[0], sp.MatrixBase):
                self.fail(node, "leading takes (matrix, k): its leading k x k block")
            k = self.integer(node.args[1], args[1], "a block size")
            if not 1 <= k <= min(args[0].shape):
                self.fail(node, f"leading block size {k} out of range")
            return sp.ImmutableMatrix(args[0][:k, :k])
        if len(args) != 1 or not isinstance(args[0], sp.MatrixBase) or \
                args[0].shape[0] != args[0].shape[1]:
            self.fail(node, f"{name} takes one square matrix")
        m = args[0]
        if name == "det":
            return _MatrixOps(m).det_sympy()
        inv = _MatrixOps(m).inverse()
        if inv is None:
            self.fail(node, "the matrix is singular")
        return inv

    def _UnaryOp(self, node, depth):
        operand = self.scalar(node, self.build(node.operand, depth))
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
        left = self.scalar(node.left, self.build(node.left, depth))
        right = self.scalar(node.right, self.build(node.right, depth))
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
        if name in ("sum", "prod"):
            return self._fold(node, depth, name)
        if name in MATRIX_FUNCTIONS:
            return self._matrix_call(node, depth, name)
        if name not in FUNCTIONS:
            self.fail(node, f"function {name!r} is not in the whitelist "
                            f"({', '.join(sorted(set(FUNCTIONS) | INDEX_FUNCTIONS))})")
        fn, arities = FUNCTIONS[name]
        if len(node.args) not in arities:
            self.fail(node, f"{name} takes {' or '.join(map(str, arities))} argument(s), "
                            f"got {len(node.args)}")
        args = [self.scalar(a, self.build(a, depth)) for a in node.args]
        if all(a.is_Number for a in args) and any(abs(a) > MAX_NUMERIC_FUNCTION_ARG for a in args):
            self.fail(node, f"numeric argument of {name} too large to evaluate")
        if name in ORDER_LIMITS and args[0].is_Number and abs(args[0]) > ORDER_LIMITS[name]:
            # psi^(n) at a point costs about n! digits: a huge order never finishes
            self.fail(node, f"the order of {name} is at most {ORDER_LIMITS[name]}, "
                            f"got {args[0]}")
        return fn(*args)

    def _Compare(self, node, depth):
        if not self.allow_compare:
            self.fail(node, "comparisons are only allowed in constraints")
        if len(node.ops) != 1:
            self.fail(node, "chained comparisons are not allowed; write one inequality each")
        op = type(node.ops[0])
        if op not in _COMPARE:
            self.fail(node, f"comparison {op.__name__} is not allowed (use <, <=, >, >=)")
        left = self.scalar(node, self.build(node.left, depth))
        right = self.scalar(node, self.build(node.comparators[0], depth))
        try:
            return _COMPARE[op](left, right)
        except TypeError:  # sympy refuses to order a complex value
            self.fail(node, f"cannot compare {left} and {right}: both sides must be real")


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


class _MatrixOps:
    """Exact det and inverse of a small symbolic matrix (sympy's DomainMatrix)."""

    def __init__(self, m):
        self.dm = DomainMatrix.from_Matrix(sp.Matrix(m)).to_field()

    def det_sympy(self):
        return sp.factor(self.dm.domain.to_sympy(self.dm.det()))

    def inverse(self):
        try:
            inv = self.dm.inv()
        except (ZeroDivisionError, ValueError):
            return None
        return sp.ImmutableMatrix(inv.to_Matrix().applyfunc(sp.factor))


def parse_formula(text, symbols, where="formula", allow_compare=False, sizes=None,
                  allow_containers=False):
    """Parse ``text`` into a sympy expression using only whitelisted constructs.

    ``symbols`` maps the names a formula may use to sympy objects (declared
    variables, coordinates, fixed parameters and earlier definitions) or to
    :class:`Indexed` names and matrices.  ``sizes`` maps size symbols to
    their integer values, for indices and bounds.  ``where`` prefixes every
    error message (file, line and key).  A result that is a matrix or an
    indexed name is refused unless ``allow_containers`` (a definition).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(text)
    if not isinstance(text, str):
        raise FormulaError(f"{where}: a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"{where}: formula longer than {MAX_FORMULA_LENGTH} characters")
    if "__" in text:
        raise FormulaError(f"{where}: double underscores are not allowed in a formula")
    run = max((len(m) for m in re.findall(r"\d+", text)), default=0)
    if run > 4 * MAX_LITERAL_DIGITS:
        raise FormulaError(f"{where}: number with {run} digits is too large (at most "
                           f"{MAX_LITERAL_DIGITS} significant digits)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"{where}: syntax error at column {exc.offset}: {exc.msg}") from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise FormulaError(f"{where}: formula refused ({exc})") from None
    try:
        builder = _Builder(symbols, text.strip(), where, allow_compare, sizes)
        value = builder.build(tree)
        return value if allow_containers else builder.scalar(tree.body, value)
    except RecursionError:
        raise FormulaError(f"{where}: formula nested too deeply") from None


def decimal_value(text, where):
    """A plain decimal ("0.3", "-1.5e-3") as an exact Rational, within the size limits.

    At most :data:`MAX_LITERAL_DIGITS` significant digits and an exponent of at
    most :data:`MAX_DECIMAL_EXPONENT` in size (``1e999999999`` would otherwise
    build a billion-digit integer).
    """
    m = DECIMAL.fullmatch(text.strip())
    if not m:
        raise FormulaError(f"{where}: {text[:40]!r} is not a decimal number")
    digits = len(m.group(1).replace(".", "").lstrip("0"))
    if digits > MAX_LITERAL_DIGITS:
        raise FormulaError(f"{where}: number with {digits} digits (at most "
                           f"{MAX_LITERAL_DIGITS}): {text[:40]}...")
    exp = m.group(2)
    if exp and (len(exp) > 8 or abs(int(exp[1:])) > MAX_DECIMAL_EXPONENT):
        raise FormulaError(f"{where}: exponent {exp[1:][:12]} too large (at most "
                           f"{MAX_DECIMAL_EXPONENT} in size)")
    return sp.Rational(text.strip())


def normal_name(name):
    """A name as Python reads an identifier: NFKC-normalised ("ｏｕｔ" is "out")."""
    return unicodedata.normalize("NFKC", name) if isinstance(name, str) else name


def check_symbol_name(name, where):
    """Refuse names that are not identifiers or that shadow constants/functions.

    The check is on the NFKC-normalised name, the form in which Python (and
    the formula parser) reads an identifier; the normalised name is returned.
    """
    if not isinstance(name, str) or not normal_name(name).isidentifier() or \
            normal_name(name).startswith("_"):
        raise FormulaError(f"{where}: {name!r} is not a valid symbol name "
                           "(letters, digits and underscores, not starting with '_')")
    name = normal_name(name)
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
