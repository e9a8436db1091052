"""Standalone vectorised numpy modules, and ``Family.numeric`` (one code path).

A module is rendered from ``templates/numpy_module.py.j2``; each expression
is printed by sympy's SciPy printer (subclassed for vectorised indicators)
after common-subexpression elimination across all entries of a quantity.
Every entry is assigned into a preallocated ``(..., *shape)`` array, so
constant entries and mixed scalar/array inputs broadcast correctly (the
pitfalls of ``lambdify`` on a Matrix).  ``Family.numeric(q)`` executes the
very source the build writes to ``generated/numpy/NAME.py``.

Adding a quantity is one entry in :data:`QUANTITIES`.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from typing import Callable

import jinja2
import sympy as sp
from sympy.printing.numpy import SciPyPrinter


class NumpyPrinter(SciPyPrinter):
    """SciPy printer with vectorised indicators and numpy's pi."""

    def __init__(self, settings=None):
        super().__init__({"fully_qualified_modules": True, **(settings or {})})

    def _print_KroneckerDelta(self, expr):
        a, b = (self._print(x) for x in expr.args)
        return f"numpy.where(numpy.equal({a}, {b}), 1.0, 0.0)"

    def _print_Pi(self, expr):
        return "numpy.pi"

    def _print_Exp1(self, expr):
        return "numpy.e"


@dataclass(frozen=True)
class Quantity:
    """A numeric quantity: how to get it from a family and how it is laid out.

    ``get(family, points, leading)`` returns the sympy expression/Matrix, where
    ``points`` is a list of ``points`` coordinate tuples (for one point, the
    family's own coordinates; for two, copies suffixed ``_p`` and ``_q``) and
    ``leading`` the symbols of the leading scalar arguments (e.g. ``alpha``).
    The generated function's signature is ``(x?, *leading, *point_0, *point_1)``.
    """

    get: Callable
    takes_x: bool          # x comes first in the argument list
    kind: str              # "scalar", "vector" or "matrix"
    doc: str
    points: int = 1
    leading: tuple = ()


QUANTITIES = {
    "fisher": Quantity(lambda f, pts, lead: f.fisher(), False, "matrix",
                       "Fisher information g_ij = E[d_i log p d_j log p], shape (..., d, d)."),
    "cramer_rao": Quantity(lambda f, pts, lead: f.cramer_rao(), False, "matrix",
                           "Inverse Fisher matrix (Cramer-Rao bound), shape (..., d, d)."),
    "jeffreys_prior": Quantity(lambda f, pts, lead: f.jeffreys_prior(), False, "scalar",
                               "Unnormalised Jeffreys prior sqrt(det I), shape (...)."),
    "score": Quantity(lambda f, pts, lead: f.score(), True, "vector",
                      "Score d log p / d xi_i at x, shape (..., d)."),
    "log_density": Quantity(lambda f, pts, lead: f.log_density, True, "scalar",
                            "Log-density (or log-mass) at x, shape (...)."),
}


def point_symbols(family, k, points):
    """Coordinates of point ``k`` of a ``points``-point quantity (own symbols if one point)."""
    if points == 1:
        return family.coordinates
    suffix = "pq"[k] if points == 2 else str(k)
    return tuple(sp.Symbol(f"{c.name}_{suffix}", **c.assumptions0) for c in family.coordinates)


def _safe_name(name, taken):
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_") or name in taken:
        name = f"arg_{len(taken)}"
    taken.add(name)
    return name


def _entries(kind, expr):
    if kind == "scalar":
        return [("...", sp.sympify(expr))], "()"
    M = sp.Matrix(expr)
    if kind == "vector":
        return [(f"..., {i}", M[i]) for i in range(M.rows)], f"({M.rows},)"
    return ([(f"..., {i}, {j}", M[i, j]) for i in range(M.rows) for j in range(M.cols)],
            f"({M.rows}, {M.cols})")


def _function(family, name, printer):
    q = QUANTITIES[name]
    taken = {"numpy", "scipy", "out", "shape", "COORDINATES", "VARIABLES"}
    names = {}
    var_names = []
    if q.takes_x:
        taken.add("x")
        for v in family.variables:
            n = "x" if len(family.variables) == 1 else _safe_name(v.name, taken)
            names[v] = n
            var_names.append(n)
    lead_syms = tuple(sp.Symbol(a, real=True) for a in q.leading)
    for a in lead_syms:
        names[a] = _safe_name(a.name, taken)
    points = [point_symbols(family, k, q.points) for k in range(q.points)]
    for pt in points:
        for c in pt:
            names[c] = _safe_name(c.name, taken)
    fixed_syms = [v for v in family.fixed.values() if isinstance(v, sp.Symbol)]
    for v in fixed_syms:
        names[v] = _safe_name(v.name, taken)
    expr = q.get(family, points, lead_syms)
    rename = {s: sp.Symbol(n, real=True) for s, n in names.items()}
    entries, shape = _entries(q.kind, expr)
    exprs = [sp.sympify(e).xreplace(rename) for _, e in entries]
    cse, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("_c"), optimizations="basic")
    lead_names = [names[a] for a in lead_syms]
    point_names = [[names[c] for c in pt] for pt in points]
    flat_points = [n for pt in point_names for n in pt]
    fixed_args = [names[v] for v in fixed_syms]
    args = (["x"] if q.takes_x else []) + lead_names + flat_points + fixed_args
    x_split = ""
    prepared = lead_names + flat_points + fixed_args
    if q.takes_x:
        if len(var_names) == 1:
            prepared = ["x"] + prepared
        else:
            x_split = "x = numpy.asarray(x, dtype=float); " + "; ".join(
                f"{v} = x[..., {i}]" for i, v in enumerate(var_names))
            prepared = var_names + prepared
    doc = q.doc
    if q.takes_x and len(var_names) > 1:
        doc += f"\nx has last axis ({', '.join(var_names)})."
    if fixed_args:
        doc += f"\nSymbolic hyper-parameter(s) {', '.join(fixed_args)} come last."
    doc += "\n\nFormula (entries in row-major order):\n" + "\n".join(
        f"  [{idx.replace('..., ', '') or '.'}] {sp.sstr(e)}" for (idx, _), e in zip(entries, exprs))
    return {
        "name": name,
        "args": args,
        "x_split": x_split,
        "prepared": prepared,
        "shape": shape,
        "doc": doc,
        "domain_calls": [", ".join(pt) for pt in point_names],
        "cse": [(str(lhs), printer.doprint(rhs)) for lhs, rhs in cse],
        "entries": [(idx, printer.doprint(e)) for (idx, _), e in zip(entries, reduced)],
    }


_ENV = jinja2.Environment(loader=jinja2.PackageLoader("symgeo.emit", "templates"),
                          keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
_ENV.policies["json.dumps_kwargs"] = {"sort_keys": True}


def module_source(family, quantities=None):
    """Source text of the standalone numpy module for ``family``."""
    from .. import __version__
    quantities = list(quantities or QUANTITIES)
    unknown = [q for q in quantities if q not in QUANTITIES]
    if unknown:
        raise ValueError(f"unknown numeric quantity {unknown[0]!r}; "
                         f"known: {', '.join(sorted(QUANTITIES))}")
    printer = NumpyPrinter()
    functions = [_function(family, q, printer) for q in quantities]
    # The domain test takes the coordinates positionally.  Its conditions are
    # built on assumption-free symbols: on the family's own positive symbols
    # sigma > 0 would already have evaluated to True.
    taken = {"numpy", "scipy"}
    plain = {c: sp.Symbol(_safe_name(c.name, taken), real=True) for c in family.coordinates}
    conds = [family.domains[c].condition(plain[c]) for c in family.coordinates]
    conds += [sp.sympify(c).xreplace(plain) for c in family.constraints]
    cond = sp.And(*conds)
    first = str(plain[family.coordinates[0]])
    domain_code = printer.doprint(cond) if cond is not sp.true else \
        f"numpy.full(numpy.shape({first}), True)"
    domain_text = "; ".join([family.domains[c].describe(c.name) for c in family.coordinates] +
                            [sp.sstr(c) for c in family.constraints])
    imports = sorted(m for m in printer.module_imports if m != "numpy")
    fixed = ", ".join(f"{k.name} = {v}" for k, v in family.fixed.items())
    return _ENV.get_template("numpy_module.py.j2").render(
        title=family.title or family.name, family=family.name, version=__version__,
        coordinates=[str(plain[c]) for c in family.coordinates],
        variables=[v.name for v in family.variables], fixed=fixed,
        domain_text=domain_text, domain_code=domain_code, imports=imports,
        functions=functions)


def compile_quantity(family, quantity):
    """The function ``quantity`` of the family's generated module (see module docstring)."""
    if quantity not in QUANTITIES:
        raise ValueError(f"family {family.name!r}: unknown numeric quantity {quantity!r}; "
                         f"known: {', '.join(sorted(QUANTITIES))}")
    src = module_source(family, [quantity])
    namespace = {"__name__": f"symgeo_generated_{family.name}"}
    # our own generated code (symbol names are sanitised identifiers), never user text
    exec(compile(src, f"<symgeo generated {family.name}.{quantity}>", "exec"), namespace)  # noqa: S102
    fn = namespace[quantity]
    fn.source = src
    return fn


__all__ = ["QUANTITIES", "Quantity", "NumpyPrinter", "module_source", "compile_quantity",
           "point_symbols"]
