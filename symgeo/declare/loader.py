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
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import sympy as sp

from ..errors import DeclarationError
from .parse import check_symbol_name, parse_formula
from .support import Box, Compositions, FiniteValues, IntegerRange, Simplex

KNOWN_KEYS = {"name", "title", "description", "variables", "support", "log_density",
              "coordinates", "fixed", "define", "constraints", "references", "notes"}


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

    variables = data["variables"]
    if isinstance(variables, str):
        variables = [variables]
    var_syms = []
    for v in variables:
        s = sp.Symbol(v)
        declare(v, s, "variables")
        var_syms.append(s)
    coords = []
    meanings = {}
    for i, c in enumerate(data["coordinates"]):
        if not isinstance(c, dict) or "name" not in c:
            r.fail("coordinates", f"coordinate #{i + 1} needs a name")
        s = sp.Symbol(c["name"])
        declare(c["name"], s, "coordinates")
        dom = c.get("domain", "real")
        if isinstance(dom, list):
            dom = tuple(parse_formula(b, {}, r.where("domain")) for b in dom)
        coords.append((s, dom))
        meanings[c["name"]] = str(c.get("meaning", ""))
    fixed_values, fixed_domains, fixed_defaults = {}, {}, {}
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
    if fixed_overrides:
        bad = ", ".join(sorted(fixed_overrides))
        known = ", ".join(fixed_domains) or "none"
        raise DeclarationError(f"family {name!r}: unknown fixed parameter(s) {bad} (has: {known})")
    for dname, formula in data.get("define", {}).items():
        declare(dname, None, dname)
        symbols[dname] = parse_formula(formula, symbols, r.where(dname))
    log_density = parse_formula(data["log_density"], symbols, r.where("log_density"))
    bound_symbols = {k: v for k, v in symbols.items() if k not in {str(s) for s in var_syms}}
    support = _support(r, data["support"], bound_symbols, len(var_syms))
    constraints = [parse_formula(c, symbols, r.where("constraints"), allow_compare=True)
                   for c in data.get("constraints", [])]
    return dict(name=name, log_density=log_density, variables=var_syms, support=support,
                coordinates=coords, fixed=fixed_values, constraints=constraints,
                title=data.get("title", ""), description=data.get("description", ""),
                references=data.get("references", []), source=origin,
                fixed_domains=fixed_domains, fixed_defaults=fixed_defaults, meanings=meanings)


def _support(r, spec, symbols, nvars):
    if not isinstance(spec, dict) or "kind" not in spec:
        r.fail("support", "support must be a table with a 'kind'")
    kind = spec["kind"]
    w = r.where("support")

    def val(key, default=None):
        v = spec.get(key, default)
        if v is None:
            r.fail("support", f"support of kind {kind!r} needs {key!r}")
        return parse_formula(v, symbols, w)

    if kind == "real":
        return Box((-sp.oo,) * nvars, (sp.oo,) * nvars)
    if kind in ("interval", "circle"):
        if nvars != 1:
            r.fail("support", f"support {kind!r} is for one variable")
        lo = val("lower", "-pi" if kind == "circle" else None)
        hi = val("upper", "pi" if kind == "circle" else None)
        return Box((lo,), (hi,), periodic=(kind == "circle"))
    if kind == "integers":
        return IntegerRange(val("lower", 0), val("upper", "oo"))
    if kind == "finite":
        return FiniteValues(tuple(parse_formula(v, symbols, w) for v in spec.get("values", [])))
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
