"""Family declaration files (TOML), read into the arguments of a ``Family``.

A declaration file is data: every formula in it goes through the safe parser
(:mod:`symgeo.parse`).  Layout::

    name = "normal"
    title = "Normal distribution"
    variables = ["x"]
    support = { kind = "real" }          # real | interval | circle | integers |
                                          # finite | simplex | compositions
    log_density = "-(x - mu)**2/(2*sigma**2) - log(sigma) - log(2*pi)/2"
    constraints = []                      # optional inequalities on coordinates
    references = ["..."]

    [[coordinates]]
    name = "mu"
    domain = "real"                       # real | positive | unit | circle | [lo, hi]
    meaning = "mean"

    [[fixed]]                             # optional hyper-parameters
    name = "n"
    default = 10
    domain = "positive_integer"           # or "positive"

    [define]                              # optional named sub-expressions, in order
    z = "(x - mu)/beta"

Families of any size declare indexed names, expanded with the sizes' values
(fixed hyper-parameters; ``get_family("dirichlet", K=6)``)::

    variables = ["x[1:K]"]                # x1, ..., xK
    [[coordinates]]
    name = "a[1:K]"                       # a1, ..., aK; meaning may say {i}
    [[coordinates]]
    name = "s[i, j]"                      # s11, s12, ..., s22, ... (upper triangle)
    for = ["i = 1:d", "j = i:d"]
    domain = { diagonal = "positive", otherwise = "real" }

and fixed data (a regression design), 1-based in formulas (``t[i]``,
``X[i, j]``, ``len(t)``)::

    [data]
    t = [0.5, 1.0, 2.0]

Every field is checked for its type and shape before anything is built, and
a malformed file is refused with one line naming the file (and line), the
field, what was wrong and what to write instead: a
:class:`~symgeo.errors.DeclarationError` or, for a formula,
:class:`~symgeo.errors.FormulaError`.  A file is read only when it is a
regular file of at most :data:`MAX_FILE_BYTES` bytes of UTF-8 text (never a
device, pipe or directory).
"""

from __future__ import annotations

import keyword
import math
import numbers
import os
import re
import stat
import tomllib
import unicodedata
from pathlib import Path

import sympy as sp

from ..errors import DeclarationError, FormulaError, SymgeoError
from .parse import Indexed, check_symbol_name, data_array, indexed_name, parse_formula
from .support import (
    NAMED_DOMAINS,
    Box,
    Compositions,
    FiniteValues,
    IntegerBox,
    IntegerRange,
    Simplex,
)

KNOWN_KEYS = {"name", "title", "description", "variables", "support", "log_density",
              "coordinates", "fixed", "define", "constraints", "references", "notes", "data"}
COORDINATE_KEYS = {"name", "domain", "meaning", "for"}
FIXED_KEYS = {"name", "default", "domain", "meaning"}
FIXED_DOMAINS = ("positive", "positive_integer")
#: the keys a support table takes besides ``kind``, per kind
SUPPORT_KEYS = {"real": (), "interval": ("lower", "upper"), "circle": ("lower", "upper"),
                "integers": ("lower", "upper"), "finite": ("values",), "simplex": (),
                "compositions": ("total",)}
REQUIRED = {"name": 'name = "my_family"', "variables": 'variables = ["x"]',
            "support": 'support = { kind = "real" }', "log_density": 'log_density = "..."',
            "coordinates": 'a table [[coordinates]] with name = "mu" and domain = "real"'}

MAX_DECLARED_SYMBOLS = 2000
"""Variables plus coordinates of one family: beyond this nothing symbolic finishes."""

MAX_FILE_BYTES = 4 * 1024 * 1024
"""A declaration larger than this is refused unread (the catalog's largest is about 2 kB)."""

MAX_DATA_ENTRIES = 100_000
"""Numbers in [data] and in a finite support's values (each is parsed exactly)."""

_SHOW = 60  # characters of a value quoted in an error


def _kind(value):
    """What a TOML (or Python) value is, in words, for an error."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _show(value):
    """A value quoted in an error: its repr (one line), at most 60 characters."""
    text = repr(value)
    return text if len(text) <= _SHOW else text[:_SHOW - 3] + "..."


def _got(value):
    return f"got {_kind(value)} ({_show(value)})"


def _keys(keys):
    return ", ".join(_show(k) for k in sorted(keys, key=str))


def _one_line(text):
    return re.sub(r"\s*[\r\n]+\s*", " ", str(text))


def _line_of(text, key, table=None, index=None):
    """The line of ``key = ...`` (in the ``index``-th ``[[table]]`` when given; the table's
    header when ``key`` is None), or None."""
    if not isinstance(text, str) or not isinstance(key or table, str):
        return None
    start = 0
    if table is not None and index is not None:
        heads = list(re.finditer(rf"^[ \t]*\[\[[ \t]*{re.escape(table)}[ \t]*\]\]", text,
                                 re.MULTILINE))
        if index < len(heads):
            start = heads[index].start()
            if key is None:
                return text.count("\n", 0, start) + 1
    pattern = re.compile(rf"^[ \t]*{re.escape(key or table)}[ \t]*=", re.MULTILINE)
    m = pattern.search(text, start) or pattern.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


class _Reader:
    def __init__(self, data, text, origin):
        self.data = data
        self.text = text
        self.origin = origin
        name = data.get("name")
        self.name = name if isinstance(name, str) and len(name) <= _SHOW else "?"

    def where(self, key, table=None, index=None, label=None):
        line = _line_of(self.text, key, table, index)
        loc = f"{self.origin}:{line}" if line else self.origin
        return f"{loc}: family {self.name!r}: {label or key}"

    def fail(self, key, msg, table=None, index=None, label=None):
        raise DeclarationError(f"{self.where(key, table, index, label)}: {msg}")


def _parse(text, symbols, where, **kwargs):
    """:func:`parse_formula`; an exception sympy raises on a strange formula is a FormulaError."""
    try:
        return parse_formula(text, symbols, where, **kwargs)
    except (TypeError, ValueError, ArithmeticError, RecursionError, NotImplementedError) as exc:
        raise FormulaError(f"{where}: formula refused ({type(exc).__name__}: "
                           f"{_one_line(exc)[:200]})") from None


def _name(value, where, what="a name", example="x"):
    """A declared name: a string, NFKC-normalised (as Python reads an identifier in a formula),
    an identifier that a formula can use."""
    if not isinstance(value, str):
        raise DeclarationError(f"{where}: {what} must be a string such as \"{example}\", "
                               f"{_got(value)}")
    name = unicodedata.normalize("NFKC", value)
    if keyword.iskeyword(name):
        raise DeclarationError(f"{where}: {name!r} is a Python keyword, which a formula cannot "
                               "use as a name; choose another name")
    if "__" in name:
        raise DeclarationError(f"{where}: {name!r}: double underscores are not allowed in a "
                               "name (formulas refuse them)")
    check_symbol_name(name, where)
    return name


def _strings(r, key, value, example):
    """A string or an array of strings (a string is an array of one)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad = value if not isinstance(value, list) else \
            next(v for v in value if not isinstance(v, str))
        r.fail(key, f"must be a string or an array of strings such as {example}, {_got(bad)}")
    return value


def _table(r, key, value, example):
    if not isinstance(value, dict):
        r.fail(key, f"[{key}] must be a table of entries such as {example}, {_got(value)}")
    return value


def _count_entries(value, limit):
    """Numbers in a nested array (stops counting past ``limit``)."""
    count, stack = 0, [value]
    while stack and count <= limit:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        else:
            count += 1
    return count


def _is_real_number(v):
    return isinstance(v, sp.Basic) and v.is_number and v.is_extended_real is True


def _below(lo, hi, strict=True):
    """lo < hi (lo <= hi unless ``strict``) for two real numbers (False when undecidable)."""
    try:
        return bool(lo < hi) if strict else bool(lo <= hi)
    except TypeError:
        return False


def _fixed_value(r, value, nm, dom, label, index):
    """A fixed parameter's default or given value, checked against its domain.

    Numbers (int, float, sympy numbers), a formula string of a number, or a name
    (a string or Symbol, for a symbolic hyper-parameter, when ``label`` is "value")."""
    def fail(msg):
        r.fail("default" if label == "default" else "fixed", msg, "fixed", index,
               label=f"fixed parameter {nm}")

    kind = "a positive integer" if dom == "positive_integer" else "a positive number"
    if isinstance(value, bool) or not isinstance(value, (numbers.Number, str, sp.Basic)):
        fail(f"{label} must be {kind} or a formula string, {_got(value)}")
    if isinstance(value, str):
        if label == "value" and unicodedata.normalize("NFKC", value).isidentifier():
            return value  # a symbolic hyper-parameter, e.g. n="n"
        value = _parse(value, {}, r.where("fixed", "fixed", index, f"fixed parameter {nm}"))
    elif isinstance(value, sp.Symbol):
        if label == "value":
            return value
    elif not isinstance(value, sp.Basic):
        if isinstance(value, numbers.Integral):
            value = int(value)
        elif isinstance(value, numbers.Real) and math.isfinite(float(value)):
            value = float(value)
            if dom == "positive_integer" and value.is_integer():
                value = int(value)
        else:
            fail(f"{label} must be {kind}, got {_show(value)}")
    num = value if isinstance(value, sp.Basic) else sp.nsimplify(value)
    if not (isinstance(num, sp.Basic) and num.is_number):
        fail(f"{label} must be {kind}, got {_show(value)}")
    ok = num.is_Integer and num.is_positive if dom == "positive_integer" else \
        num.is_extended_real and num.is_positive and num.is_finite
    if not ok:
        fail(f"{label} must be {kind} (domain {dom!r}), got {_show(value)}")
    return value


def declaration_from_data(data, text=None, origin="<data>", **fixed_overrides):
    """The keyword arguments of a ``Family`` declared by parsed TOML ``data``.

    ``text`` (the file's text) locates errors by line.  The facade
    (:func:`symgeo.family.load_family`) turns them into a validated Family.
    Every error is a :class:`~symgeo.errors.SymgeoError` of one line.
    """
    try:
        return _declaration(data, text, origin, fixed_overrides)
    except SymgeoError as exc:
        msg = str(exc)
        if "\n" in msg or "\r" in msg:
            raise type(exc)(_one_line(msg)) from None
        raise


def _declaration(data, text, origin, fixed_overrides):
    if not isinstance(data, dict):
        raise DeclarationError(f"{origin}: a declaration is a TOML table, {_got(data)}")
    r = _Reader(data, text, origin)
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        r.fail(min(unknown, key=str), f"unknown key(s) {_keys(unknown)}; "
                                      f"known: {', '.join(sorted(KNOWN_KEYS))}")
    for key, example in REQUIRED.items():
        if key not in data:
            raise DeclarationError(f"{origin}: family {r.name!r}: missing required key {key!r} "
                                   f"(write {example})")
    name = data["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        r.fail("name", f"a family name is letters, digits and underscores, starting with a "
                       f"letter, such as \"my_family\"; {_got(name)}")
    for key in ("title", "description"):
        if not isinstance(data.get(key, ""), str):
            r.fail(key, f"must be a string, {_got(data[key])}")
    references = _strings(r, "references", data.get("references", []),
                          '["Author, Title (year)"]')
    _strings(r, "notes", data.get("notes", []), '["..."]')
    symbols = {}

    def declare(nm, sym, key, table=None, index=None, label=None):
        if nm in symbols:
            r.fail(key, f"{nm!r} declared twice", table, index, label)
        symbols[nm] = sym

    data_table = _table(r, "data", data.get("data", {}), "t = [0.5, 1.0, 2.0]")
    n_entries = 0
    for raw, value in data_table.items():
        where = r.where(raw)
        dname = _name(raw, where, "a data name", "t")
        n_entries += _count_entries(value, MAX_DATA_ENTRIES)
        if n_entries > MAX_DATA_ENTRIES:
            r.fail(raw, f"more than {MAX_DATA_ENTRIES} numbers in [data]")
        declare(dname, None, raw)
        if isinstance(value, list):
            try:
                symbols[dname] = data_array(dname, value, where)
            except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
                raise FormulaError(f"{where}: data {dname!r} refused ({type(exc).__name__}: "
                                   f"{_one_line(exc)[:200]})") from None
        else:
            symbols[dname] = _parse(value, {}, where)

    overrides = {unicodedata.normalize("NFKC", k) if isinstance(k, str) else k: v
                 for k, v in fixed_overrides.items()}
    fixed_values, fixed_domains, fixed_defaults = {}, {}, {}
    sizes = {}
    fixed = data.get("fixed", [])
    if not isinstance(fixed, list):
        r.fail("fixed", "declare each fixed parameter in a table [[fixed]] with name = \"n\", "
                        f"default = 10 and domain = \"positive_integer\"; {_got(fixed)}")
    for i, f in enumerate(fixed):
        label = f"fixed parameter #{i + 1}"
        if not isinstance(f, dict):
            r.fail(None, f"must be a table [[fixed]] with name = \"n\" and default = 10, "
                         f"{_got(f)}", "fixed", i, label)
        extra = set(f) - FIXED_KEYS
        if extra:
            r.fail(min(extra, key=str), f"unknown key(s) {_keys(extra)} (a [[fixed]] table "
                                        f"takes {', '.join(sorted(FIXED_KEYS))})",
                   "fixed", i, label)
        if "name" not in f:
            r.fail(None, 'needs a name (name = "n")', "fixed", i, label)
        nm = _name(f["name"], r.where("name", "fixed", i, label), "the name", "n")
        label = f"fixed parameter {nm}"
        s = sp.Symbol(nm)
        declare(nm, s, "name", "fixed", i, label)
        dom = f.get("domain", "positive")
        if not isinstance(dom, str) or dom not in FIXED_DOMAINS:
            r.fail("domain", f"domain must be \"positive\" or \"positive_integer\", {_got(dom)}",
                   "fixed", i, label)
        fixed_domains[nm] = dom
        if "default" not in f:
            r.fail(None, "needs a default (default = 10)", "fixed", i, label)
        default = _fixed_value(r, f["default"], nm, dom, "default", i)
        fixed_defaults[nm] = default
        if nm in overrides:
            value = _fixed_value(r, overrides.pop(nm), nm, dom, "value", i)
        else:
            value = default
        fixed_values[s] = value
        if dom == "positive_integer" and isinstance(value, (int, sp.Integer)) \
                and not isinstance(value, bool):
            sizes[s] = int(value)
    if overrides:
        bad = ", ".join(sorted(_show(k) if not isinstance(k, str) else k for k in overrides))
        known = ", ".join(fixed_domains) or "none"
        raise DeclarationError(f"family {name!r}: unknown fixed parameter(s) {bad} (has: {known})")

    variables = data["variables"]
    if isinstance(variables, str):
        variables = [variables]
    if not isinstance(variables, list) or not variables:
        r.fail("variables", f"variables must name the random variable(s), such as [\"x\"] or "
                            f"[\"y[1:n]\"], {_got(variables)}")
    var_syms = []
    for v in variables:
        base, names = _expand(r, "variables", v, None, symbols, sizes)
        entries = {}
        for vname, idx in names:
            s = entries[idx] = sp.Symbol(vname)
            declare(vname, s, "variables")
            var_syms.append(s)
        if base:
            declare(base, Indexed(base, entries), "variables")
        if len(var_syms) > MAX_DECLARED_SYMBOLS:
            r.fail("variables", f"more than {MAX_DECLARED_SYMBOLS} variables")
    coords = []
    meanings = {}
    coordinates = data["coordinates"]
    if not isinstance(coordinates, list) or not coordinates:
        r.fail("coordinates", "declare each coordinate in a table [[coordinates]] with "
                              f"name = \"mu\" and domain = \"real\"; {_got(coordinates)}")
    numeric_fixed = {s: sp.nsimplify(v) for s, v in fixed_values.items()
                     if isinstance(v, (int, float, sp.Number))}
    for i, c in enumerate(coordinates):
        label = f"coordinate #{i + 1}"
        if not isinstance(c, dict):
            r.fail(None, "must be a table [[coordinates]] with name = \"mu\" and "
                         f"domain = \"real\", {_got(c)}", "coordinates", i, label)
        if isinstance(c.get("name"), str):
            label = f"coordinate {c['name'][:_SHOW]}"
        extra = set(c) - COORDINATE_KEYS
        if extra:
            r.fail(min(extra, key=str), f"unknown key(s) {_keys(extra)} (a [[coordinates]] "
                                        f"table takes {', '.join(sorted(COORDINATE_KEYS))})",
                   "coordinates", i, label)
        if "name" not in c:
            r.fail(None, 'needs a name (name = "mu")', "coordinates", i, label)
        for_clause = c.get("for")
        if for_clause is not None:
            _strings(r, "for", for_clause, '["i = 1:d", "j = i:d"]')
        meaning = c.get("meaning", "")
        if not isinstance(meaning, str):
            r.fail("meaning", f"meaning must be a string, {_got(meaning)}", "coordinates", i,
                   label)
        base, names = _expand(r, "name", c["name"], for_clause, symbols, sizes,
                              table="coordinates", index=i, label=label)
        entries = {}
        for cname, idx in names:
            s = entries[idx] = sp.Symbol(cname)
            declare(cname, s, "name", "coordinates", i, label)
            dom = _coordinate_domain(r, _domain_of(r, c.get("domain", "real"), idx, i, label),
                                     symbols, sizes, numeric_fixed, cname, i)
            coords.append((s, dom))
            meanings[cname] = _fill(meaning, idx)
        if base:
            declare(base, Indexed(base, entries), "name", "coordinates", i, label)
        if len(var_syms) + len(coords) > MAX_DECLARED_SYMBOLS:
            r.fail("coordinates", f"more than {MAX_DECLARED_SYMBOLS} variables and coordinates")
    define = _table(r, "define", data.get("define", {}), 'z = "(x - mu)/sigma"')
    for raw, formula in define.items():
        dname = _name(raw, r.where(raw), "a definition's name", "z")
        declare(dname, None, raw)
        symbols[dname] = _parse(formula, symbols, r.where(raw), sizes=sizes,
                                allow_containers=True)
    log_density = _parse(data["log_density"], symbols, r.where("log_density"), sizes=sizes)
    var_names = {str(s) for s in var_syms}
    bound_symbols = {k: v for k, v in symbols.items() if k not in var_names}
    support = _support(r, data["support"], bound_symbols, len(var_syms), sizes)
    constraints = []
    specs = data.get("constraints", [])
    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, list):
        r.fail("constraints", "constraints must be an array of inequalities on the "
                              f"coordinates, such as [\"a < b\"], {_got(specs)}")
    coord_syms = {s for s, _ in coords}
    for c in specs:
        for con in _constraints(r, c, symbols, sizes):
            constraints += _constraint(r, c, con, coord_syms, set(var_syms), numeric_fixed)
    return dict(name=name, log_density=log_density, variables=var_syms, support=support,
                coordinates=coords, fixed=fixed_values, constraints=constraints,
                title=data.get("title", ""), description=data.get("description", ""),
                references=references, source=origin,
                fixed_domains=fixed_domains, fixed_defaults=fixed_defaults, meanings=meanings)


def _constraint(r, spec, con, coord_syms, var_syms, numeric_fixed):
    """A parsed constraint checked: an inequality in the coordinates (fixed values substituted)."""
    shown = _show(spec if isinstance(spec, str) else spec.get("rule"))
    if not isinstance(con, (sp.core.relational.Relational, sp.logic.boolalg.BooleanAtom)):
        r.fail("constraints", f"{shown} is not an inequality: write a comparison of the "
                              "coordinates such as \"a < b\" or \"p1 + p2 < 1\"")
    con = con.xreplace(numeric_fixed)
    free = con.free_symbols if isinstance(con, sp.Basic) else set()
    if free & var_syms:
        r.fail("constraints", f"{shown} involves the random variable(s) "
                              f"{', '.join(sorted(s.name for s in free & var_syms))}: constraints "
                              "restrict the coordinates; restrict a variable through the support")
    if free - coord_syms:
        r.fail("constraints", f"{shown} involves "
                              f"{', '.join(sorted(s.name for s in free - coord_syms))}, which "
                              "has no numeric value: a constraint may involve only coordinates "
                              "and fixed parameters with values")
    if con == sp.false:
        r.fail("constraints", f"{shown} can never hold")
    return [] if con == sp.true else [con]  # true: implied by the numbers


_INDEXED = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*\[(.*)\]\s*")


def _expand(r, key, spec, for_clause, symbols, sizes, table=None, index=None, label=None):
    """(base, [(name, index tuple)]) declared by ``spec``: a plain name, ``x[1:K]`` or ``s[i, j]``
    with a ``for`` clause (["i = 1:d", "j = i:d"]); indices are 1-based integers."""
    where = r.where(key, table, index, label)
    if not isinstance(spec, str):
        raise DeclarationError(f"{where}: a name must be a string such as \"mu\" or "
                               f"\"x[1:K]\", {_got(spec)}")
    spec = unicodedata.normalize("NFKC", spec)
    m = _INDEXED.fullmatch(spec)
    if m is None:
        if for_clause is not None:
            r.fail(key, f"'for' needs an indexed name such as {spec[:_SHOW]}[i]", table, index,
                   label)
        return None, [(_name(spec, where), ())]
    base, inner = m.group(1), [p.strip() for p in m.group(2).split(",")]
    _name(base, where)

    def fail(msg):
        r.fail(key, msg, table, index, label)

    if for_clause is None:
        # x[1:K]: one slice per index
        ranges = []
        for k, part in enumerate(inner):
            if part.count(":") != 1:
                fail(f"{spec}: write each index as lower:upper, or name the indices "
                     "and give a 'for' clause")
            ranges.append((f"_{k}", *part.split(":")))
    else:
        clauses = [for_clause] if isinstance(for_clause, str) else list(for_clause)
        if len(clauses) != len(inner):
            fail(f"{spec}: one 'for' clause per index ({len(inner)})")
        ranges = []
        for idx_name, clause in zip(inner, clauses):
            lhs, eq, rng = str(clause).partition("=")
            if not eq or lhs.strip() != idx_name or rng.count(":") != 1:
                fail(f"{spec}: a 'for' clause reads '{idx_name} = lower:upper', "
                     f"got {_show(clause)}")
            check_symbol_name(idx_name, where)
            ranges.append((idx_name, *rng.split(":")))
    out = []
    values = {s: sp.Integer(v) for s, v in sizes.items()}

    def walk(k, bound, idx):
        if k == len(ranges):
            if len(out) >= MAX_DECLARED_SYMBOLS:
                fail(f"{spec} declares more than {MAX_DECLARED_SYMBOLS} names")
            out.append((indexed_name(base, idx), idx))
            return
        name, lo, hi = ranges[k]
        scope = {**symbols, **bound}
        lo = _parse(lo, scope, where, sizes=sizes)
        hi = _parse(hi, scope, where, sizes=sizes)
        lo, hi = (b.xreplace(values) if isinstance(b, sp.Basic) else b for b in (lo, hi))
        if not (getattr(lo, "is_Integer", False) and getattr(hi, "is_Integer", False)):
            fail(f"{spec}: index bounds must be concrete integers (got {_show(lo)}:{_show(hi)}); "
                 "a size is a fixed positive_integer parameter")
        if int(hi) - int(lo) + 1 > MAX_DECLARED_SYMBOLS or int(lo) < 0:
            fail(f"{spec}: index range {lo}:{hi} out of bounds (0..{MAX_DECLARED_SYMBOLS})")
        for v in range(int(lo), int(hi) + 1):
            walk(k + 1, {**bound, name: sp.Integer(v)}, idx + (v,))
    walk(0, {}, ())
    if not out:
        fail(f"{spec} declares no names (empty index range)")
    return base, out


def _constraints(r, spec, symbols, sizes):
    """One inequality, or a table { for = "k = 1:d", rule = "..." } giving one per index."""
    where = r.where("constraints")
    if isinstance(spec, str):
        return [_parse(spec, symbols, where, allow_compare=True, sizes=sizes)]
    if not isinstance(spec, dict) or set(spec) != {"for", "rule"} or \
            not isinstance(spec["for"], str) or not isinstance(spec["rule"], str):
        r.fail("constraints", "a constraint is an inequality such as \"a < b\", or a table "
                              "{ for = \"k = 1:d\", rule = \"...\" } of two strings; "
                              f"{_got(spec)}")
    index = spec["for"].partition("=")[0].strip()
    _, names = _expand(r, "constraints", f"c[{index}]", spec["for"], symbols, sizes)
    out = []
    for _, idx in names:
        scope = {**symbols, index: sp.Integer(idx[0])}
        out.append(_parse(spec["rule"], scope, where, allow_compare=True, sizes=sizes))
    return out


def _domain_of(r, dom, idx, index, label):
    if isinstance(dom, dict):
        unknown = set(dom) - {"diagonal", "otherwise"}
        if unknown or "otherwise" not in dom:
            r.fail("domain", "a domain table reads { diagonal = ..., otherwise = ... }, "
                             f"{_got(dom)}", "coordinates", index, label)
        return dom.get("diagonal", dom["otherwise"]) if idx and len(set(idx)) == 1 \
            else dom["otherwise"]
    return dom


def _coordinate_domain(r, dom, symbols, sizes, numeric_fixed, cname, index):
    """A named domain, or an open interval (lower, upper) of real numbers, lower < upper."""
    label = f"coordinate {cname}"
    hint = ("write one of \"real\", \"positive\", \"unit\", \"circle\", or an open interval "
            "[\"lower\", \"upper\"] such as [\"0\", \"1\"] or [\"1\", \"oo\"]")
    where = r.where("domain", "coordinates", index, label)

    def fail(msg):
        raise DeclarationError(f"{where}: {msg}")

    if isinstance(dom, str):
        if dom not in NAMED_DOMAINS:
            fail(f"unknown domain {_show(dom)}; {hint}")
        return dom
    if not isinstance(dom, list):
        fail(f"domain must be a name or an interval, {_got(dom)}; {hint}")
    if len(dom) != 2:
        fail(f"an interval domain has two bounds [\"lower\", \"upper\"], got {len(dom)} "
             f"({_show(dom)})")
    bounds = []
    for b in dom:
        v = _parse(b, symbols, where, sizes=sizes)
        v = v.xreplace(numeric_fixed) if isinstance(v, sp.Basic) else v
        if not isinstance(v, sp.Basic) or v.free_symbols:
            fail(f"bound {_show(b)} of the domain must be a number (or -oo, oo), not depend on "
                 f"{', '.join(sorted(s.name for s in getattr(v, 'free_symbols', ())))}; "
                 "a relation between coordinates is a constraint (constraints = [\"a < b\"])")
        if not _is_real_number(v):
            fail(f"bound {_show(b)} of the domain is not a real number (it is {v})")
        bounds.append(v)
    lo, hi = bounds
    if not _below(lo, hi):
        fail(f"the domain ({lo}, {hi}) is empty: the lower bound must be below the upper bound")
    return (lo, hi)


def _fill(text, idx):
    """A meaning with {i}, {j} (the first, second index) replaced by the index values."""
    names = "ijklmn"
    for k, v in enumerate(idx):
        text = text.replace("{" + names[k] + "}", str(v))
    return text


def _support(r, spec, symbols, nvars, sizes=None):
    kinds = ", ".join(SUPPORT_KEYS)
    if not isinstance(spec, dict) or "kind" not in spec:
        r.fail("support", f"support must be a table with a 'kind', such as {{ kind = \"real\" }} "
                          f"(kinds: {kinds}); {_got(spec)}")
    kind = spec["kind"]
    if not isinstance(kind, str) or kind not in SUPPORT_KEYS:
        r.fail("support", f"unknown support kind {_show(kind)} ({kinds})")
    extra = set(spec) - {"kind"} - set(SUPPORT_KEYS[kind])
    if extra:
        takes = ", ".join(SUPPORT_KEYS[kind]) or "nothing else"
        hint = " (an interval is kind = \"interval\" with lower and upper)" \
            if kind == "real" and extra & {"lower", "upper"} else ""
        r.fail("support", f"support of kind {kind!r} takes {takes}, not "
                          f"{', '.join(_show(k) for k in sorted(extra))}{hint}")
    w = r.where("support")

    def val(key, default=None, integer=False):
        v = spec.get(key, default)
        if v is None:
            r.fail("support", f"support of kind {kind!r} needs {key!r}")
        out = _parse(v, symbols, w, sizes=sizes)
        if out.is_number:
            if not (out.is_extended_real is True):
                r.fail("support", f"{key} = {_show(v)} is not a real number (it is {out})")
            if integer and not (out.is_Integer or out.is_infinite):
                r.fail("support", f"{key} = {_show(v)} of an integer support must be an "
                                  "integer (or oo)")
        return out

    def ordered(lo, hi, strict):
        if lo.is_number and hi.is_number and not _below(lo, hi, strict):
            r.fail("support", f"the support from {lo} to {hi} is empty: lower must be below upper")

    if kind == "real":
        return Box((-sp.oo,) * nvars, (sp.oo,) * nvars)
    if kind == "circle" and nvars != 1:
        r.fail("support", "support 'circle' is for one variable")
    if kind in ("interval", "circle"):
        # several variables: each in the same interval (a product)
        lo = val("lower", "-pi" if kind == "circle" else None)
        hi = val("upper", "pi" if kind == "circle" else None)
        ordered(lo, hi, True)
        return Box((lo,) * nvars, (hi,) * nvars, periodic=(kind == "circle"))
    if kind == "integers":
        lo, hi = val("lower", 0, True), val("upper", "oo", True)
        ordered(lo, hi, False)
        return IntegerRange(lo, hi) if nvars == 1 else IntegerBox((lo,) * nvars, (hi,) * nvars)
    if kind == "finite":
        if nvars != 1:
            r.fail("support", "support 'finite' is for one variable; several variables with "
                              "values in a range are kind = 'integers' with lower and upper")
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            r.fail("support", "support 'finite' needs values = [...], a non-empty array of "
                              f"numbers such as [0, 1]; {_got(values)}")
        if len(values) > MAX_DATA_ENTRIES:
            r.fail("support", f"more than {MAX_DATA_ENTRIES} values")
        out = tuple(_parse(v, symbols, w, sizes=sizes) for v in values)
        for v in out:
            if v.is_number and v.is_extended_real is not True:
                r.fail("support", f"value {v} of a finite support is not a real number")
        if len(set(out)) != len(out):
            r.fail("support", "a value of the finite support is listed twice")
        return FiniteValues(out)
    if kind in ("simplex", "compositions") and nvars < 2:
        r.fail("support", f"support {kind!r} needs at least two variables (x[1:K])")
    if kind == "simplex":
        return Simplex()
    total = val("total")
    if total.is_number and not (total.is_Integer and total.is_positive):
        r.fail("support", f"total = {total} of the compositions must be a positive integer")
    return Compositions(total)


def read_declaration_file(path, **fixed):
    """The ``Family`` keyword arguments declared by a TOML file (see :func:`declaration_from_data`).

    Only a regular file of at most :data:`MAX_FILE_BYTES` bytes of UTF-8 text is read.
    """
    try:
        path = Path(path)
    except TypeError:
        raise DeclarationError(f"a family file is a path, {_got(path)}") from None
    return declaration_from_text(_read_text(path), str(path), **fixed)


def _read_text(path):
    """The text of a declaration file: a regular file, at most MAX_FILE_BYTES, UTF-8."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)  # non-blocking: opening a FIFO must not wait for a writer
    except OSError as exc:
        raise DeclarationError(f"cannot read family file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # an embedded NUL
        raise DeclarationError(f"cannot read family file {_show(str(path))}: {exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = ("a directory" if stat.S_ISDIR(mode) else
                    "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
                    "a pipe" if stat.S_ISFIFO(mode) else
                    "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise DeclarationError(f"{path}: {what}, not a family file (give a TOML file)")
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise DeclarationError(f"cannot read family file {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise DeclarationError(f"{path}: larger than {MAX_FILE_BYTES // 2 ** 20} MB, not a family "
                               "file (a declaration is a few kB of TOML)")
    raw = b"".join(chunks)
    if b"\x00" in raw:
        raise DeclarationError(f"{path}: a binary file (it contains NUL bytes), not a family "
                               "file (a declaration is TOML text in UTF-8)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DeclarationError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                               f"offset {exc.start}); a family file is TOML text in UTF-8 "
                               "(save it as UTF-8)") from None


def declaration_from_text(text, origin, **fixed):
    """The ``Family`` keyword arguments declared by TOML ``text`` (``origin`` names it
    in errors)."""
    if not isinstance(text, str):
        raise DeclarationError(f"{origin}: a declaration is TOML text, {_got(text)}")
    if len(text) > MAX_FILE_BYTES:
        raise DeclarationError(f"{origin}: longer than {MAX_FILE_BYTES // 2 ** 20} MB, not a "
                               "family declaration (a declaration is a few kB of TOML)")
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{origin}: not valid TOML ({_one_line(exc)})") from None
    except RecursionError:
        raise DeclarationError(f"{origin}: not valid TOML (arrays or tables nested too "
                               "deeply)") from None
    return declaration_from_data(data, text, origin, **fixed)
