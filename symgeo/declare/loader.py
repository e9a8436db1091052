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
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import sympy as sp

from ..errors import DeclarationError
from .parse import Indexed, check_symbol_name, data_array, indexed_name, parse_formula
from .support import Box, Compositions, FiniteValues, IntegerBox, IntegerRange, Simplex

KNOWN_KEYS = {"name", "title", "description", "variables", "support", "log_density",
              "coordinates", "fixed", "define", "constraints", "references", "notes", "data"}

MAX_DECLARED_SYMBOLS = 2000
"""Variables plus coordinates of one family: beyond this nothing symbolic finishes."""


def _line_of(text, key):
    if text is None:
        return None
    m = re.search(rf"^\s*{re.escape(key)}\s*=", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else None


class _Reader:
    def __init__(self, data, text, origin):
        self.data = data
        self.text = text
        self.origin = origin
        self.name = data.get("name", "?")

    def where(self, key):
        line = _line_of(self.text, key)
        loc = f"{self.origin}:{line}" if line else self.origin
        return f"{loc}: family {self.name!r}: {key}"

    def fail(self, key, msg):
        raise DeclarationError(f"{self.where(key)}: {msg}")


def declaration_from_data(data, text=None, origin="<data>", **fixed_overrides):
    """The keyword arguments of a ``Family`` declared by parsed TOML ``data``.

    ``text`` (the file's text) locates errors by line.  The facade
    (:func:`symgeo.family.load_family`) turns them into a validated Family.
    """
    r = _Reader(data, text, origin)
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        r.fail(sorted(unknown)[0], f"unknown key(s) {', '.join(sorted(unknown))}; "
                                   f"known: {', '.join(sorted(KNOWN_KEYS))}")
    for key in ("name", "variables", "support", "log_density", "coordinates"):
        if key not in data:
            raise DeclarationError(f"{origin}: family {r.name!r}: missing required key {key!r}")
    name = data["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        r.fail("name", "a family name is letters, digits and underscores")
    symbols = {}

    def declare(nm, sym, key):
        check_symbol_name(nm, r.where(key))
        if nm in symbols:
            r.fail(key, f"{nm!r} declared twice")
        symbols[nm] = sym

    for dname, value in data.get("data", {}).items():
        where = r.where(dname)
        declare(dname, None, "data")
        symbols[dname] = data_array(dname, value, where) if isinstance(value, list) \
            else parse_formula(value, {}, where)
    fixed_values, fixed_domains, fixed_defaults = {}, {}, {}
    sizes = {}
    for f in data.get("fixed", []):
        nm = f.get("name")
        s = sp.Symbol(str(nm))
        declare(nm, s, "fixed")
        dom = f.get("domain", "positive")
        if dom not in ("positive", "positive_integer"):
            r.fail("fixed", f"domain of fixed parameter {nm} must be positive or positive_integer")
        fixed_domains[nm] = dom
        if "default" not in f:
            r.fail("fixed", f"fixed parameter {nm} needs a default")
        default = f["default"]
        if isinstance(default, str):
            default = parse_formula(default, {}, r.where("fixed"))
        fixed_defaults[nm] = default
        value = fixed_overrides.pop(nm, default)
        if isinstance(value, str) and not value.isidentifier():
            value = parse_formula(value, {}, r.where("fixed"))
        fixed_values[s] = value
        if dom == "positive_integer" and isinstance(value, (int, sp.Integer)) \
                and not isinstance(value, bool):
            sizes[s] = int(value)
    if fixed_overrides:
        bad = ", ".join(sorted(fixed_overrides))
        known = ", ".join(fixed_domains) or "none"
        raise DeclarationError(f"family {name!r}: unknown fixed parameter(s) {bad} (has: {known})")

    variables = data["variables"]
    if isinstance(variables, str):
        variables = [variables]
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
    coords = []
    meanings = {}
    for i, c in enumerate(data["coordinates"]):
        if not isinstance(c, dict) or "name" not in c:
            r.fail("coordinates", f"coordinate #{i + 1} needs a name")
        base, names = _expand(r, "coordinates", c["name"], c.get("for"), symbols, sizes)
        entries = {}
        for cname, idx in names:
            s = entries[idx] = sp.Symbol(cname)
            declare(cname, s, "coordinates")
            dom = _domain_of(r, c.get("domain", "real"), idx)
            if isinstance(dom, list):
                dom = tuple(parse_formula(b, symbols, r.where("domain"), sizes=sizes) for b in dom)
            coords.append((s, dom))
            meanings[cname] = _fill(str(c.get("meaning", "")), idx)
        if base:
            declare(base, Indexed(base, entries), "coordinates")
        if len(var_syms) + len(coords) > MAX_DECLARED_SYMBOLS:
            r.fail("coordinates", f"more than {MAX_DECLARED_SYMBOLS} variables and coordinates")
    for dname, formula in data.get("define", {}).items():
        declare(dname, None, dname)
        symbols[dname] = parse_formula(formula, symbols, r.where(dname), sizes=sizes,
                                       allow_containers=True)
    log_density = parse_formula(data["log_density"], symbols, r.where("log_density"),
                                sizes=sizes)
    var_names = {str(s) for s in var_syms}
    bound_symbols = {k: v for k, v in symbols.items() if k not in var_names}
    support = _support(r, data["support"], bound_symbols, len(var_syms), sizes)
    constraints = []
    for c in data.get("constraints", []):
        for con in _constraints(r, c, symbols, sizes):
            if con == sp.false:
                r.fail("constraints", f"{c} can never hold")
            if con != sp.true:  # implied by the domains (s11 > 0 for a positive s11)
                constraints.append(con)
    return dict(name=name, log_density=log_density, variables=var_syms, support=support,
                coordinates=coords, fixed=fixed_values, constraints=constraints,
                title=data.get("title", ""), description=data.get("description", ""),
                references=data.get("references", []), source=origin,
                fixed_domains=fixed_domains, fixed_defaults=fixed_defaults, meanings=meanings)


_INDEXED = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*\[(.*)\]\s*")


def _expand(r, key, spec, for_clause, symbols, sizes):
    """(base, [(name, index tuple)]) declared by ``spec``: a plain name, ``x[1:K]`` or ``s[i, j]``
    with a ``for`` clause (["i = 1:d", "j = i:d"]); indices are 1-based integers."""
    if not isinstance(spec, str):
        r.fail(key, f"a name must be a string, got {spec!r}")
    m = _INDEXED.fullmatch(spec)
    if m is None:
        if for_clause is not None:
            r.fail(key, f"'for' needs an indexed name such as {spec}[i]")
        return None, [(spec, ())]
    base, inner = m.group(1), [p.strip() for p in m.group(2).split(",")]
    check_symbol_name(base, r.where(key))
    where = r.where(key)
    if for_clause is None:
        # x[1:K]: one slice per index
        ranges = []
        for k, part in enumerate(inner):
            if part.count(":") != 1:
                r.fail(key, f"{spec}: write each index as lower:upper, or name the indices "
                            "and give a 'for' clause")
            ranges.append((f"_{k}", *part.split(":")))
    else:
        clauses = [for_clause] if isinstance(for_clause, str) else list(for_clause)
        if len(clauses) != len(inner):
            r.fail(key, f"{spec}: one 'for' clause per index ({len(inner)})")
        ranges = []
        for index, clause in zip(inner, clauses):
            lhs, eq, rng = str(clause).partition("=")
            if not eq or lhs.strip() != index or rng.count(":") != 1:
                r.fail(key, f"{spec}: a 'for' clause reads '{index} = lower:upper', got {clause!r}")
            check_symbol_name(index, where)
            ranges.append((index, *rng.split(":")))
    out = []

    def walk(k, bound, idx):
        if k == len(ranges):
            out.append((indexed_name(base, idx), idx))
            return
        index, lo, hi = ranges[k]
        scope = {**symbols, **bound}
        lo = parse_formula(lo, scope, where, sizes=sizes).xreplace(
            {s: sp.Integer(v) for s, v in sizes.items()})
        hi = parse_formula(hi, scope, where, sizes=sizes).xreplace(
            {s: sp.Integer(v) for s, v in sizes.items()})
        if not (lo.is_Integer and hi.is_Integer):
            r.fail(key, f"{spec}: index bounds must be concrete integers (got {lo}:{hi}); "
                        "a size is a fixed positive_integer parameter")
        if int(hi) - int(lo) + 1 > MAX_DECLARED_SYMBOLS or int(lo) < 0:
            r.fail(key, f"{spec}: index range {lo}:{hi} out of bounds (0..{MAX_DECLARED_SYMBOLS})")
        for v in range(int(lo), int(hi) + 1):
            walk(k + 1, {**bound, index: sp.Integer(v)}, idx + (v,))
    walk(0, {}, ())
    if not out:
        r.fail(key, f"{spec} declares no names (empty index range)")
    return base, out


def _constraints(r, spec, symbols, sizes):
    """One inequality, or a table { for = "k = 1:d", rule = "..." } giving one per index."""
    where = r.where("constraints")
    if isinstance(spec, str):
        return [parse_formula(spec, symbols, where, allow_compare=True, sizes=sizes)]
    if not isinstance(spec, dict) or set(spec) != {"for", "rule"}:
        r.fail("constraints", "a constraint is an inequality, or a table "
                              "{ for = \"k = 1:d\", rule = \"...\" }")
    index = str(spec["for"]).partition("=")[0].strip()
    _, names = _expand(r, "constraints", f"c[{index}]", spec["for"], symbols, sizes)
    out = []
    for _, idx in names:
        scope = {**symbols, index: sp.Integer(idx[0])}
        out.append(parse_formula(spec["rule"], scope, where, allow_compare=True, sizes=sizes))
    return out


def _domain_of(r, dom, idx):
    if isinstance(dom, dict):
        unknown = set(dom) - {"diagonal", "otherwise"}
        if unknown or "otherwise" not in dom:
            r.fail("domain", "a domain table reads { diagonal = ..., otherwise = ... }")
        return dom.get("diagonal", dom["otherwise"]) if idx and len(set(idx)) == 1 \
            else dom["otherwise"]
    return dom


def _fill(text, idx):
    """A meaning with {i}, {j} (the first, second index) replaced by the index values."""
    names = "ijklmn"
    for k, v in enumerate(idx):
        text = text.replace("{" + names[k] + "}", str(v))
    return text


def _support(r, spec, symbols, nvars, sizes=None):
    if not isinstance(spec, dict) or "kind" not in spec:
        r.fail("support", "support must be a table with a 'kind'")
    kind = spec["kind"]
    w = r.where("support")

    def val(key, default=None):
        v = spec.get(key, default)
        if v is None:
            r.fail("support", f"support of kind {kind!r} needs {key!r}")
        return parse_formula(v, symbols, w, sizes=sizes)

    if kind == "real":
        return Box((-sp.oo,) * nvars, (sp.oo,) * nvars)
    if kind == "circle" and nvars != 1:
        r.fail("support", "support 'circle' is for one variable")
    if kind in ("interval", "circle"):
        # several variables: each in the same interval (a product)
        lo = val("lower", "-pi" if kind == "circle" else None)
        hi = val("upper", "pi" if kind == "circle" else None)
        return Box((lo,) * nvars, (hi,) * nvars, periodic=(kind == "circle"))
    if kind == "integers":
        lo, hi = val("lower", 0), val("upper", "oo")
        return IntegerRange(lo, hi) if nvars == 1 else IntegerBox((lo,) * nvars, (hi,) * nvars)
    if kind == "finite":
        if nvars != 1:
            r.fail("support", "support 'finite' is for one variable; several variables with "
                              "values in a range are kind = 'integers' with lower and upper")
        return FiniteValues(tuple(parse_formula(v, symbols, w, sizes=sizes)
                                  for v in spec.get("values", [])))
    if kind == "simplex":
        return Simplex()
    if kind == "compositions":
        return Compositions(val("total"))
    r.fail("support", f"unknown support kind {kind!r} (real, interval, circle, integers, "
                      "finite, simplex, compositions)")


def read_declaration_file(path, **fixed):
    """The ``Family`` keyword arguments declared by a TOML file (see :func:`declaration_from_data`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeclarationError(f"cannot read family file {path}: {exc.strerror}") from None
    return declaration_from_text(text, str(path), **fixed)


def declaration_from_text(text, origin, **fixed):
    """The ``Family`` keyword arguments declared by TOML ``text`` (``origin`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{origin}: not valid TOML ({exc})") from None
    return declaration_from_data(data, text, origin, **fixed)
