"""Argument helpers shared by every command group: families, fixed values, points, vectors, α.

Every value from the command line goes through the safe formula parser
(plain decimals become exact rationals: "0.3" is 3/10).
"""

from __future__ import annotations

import argparse

import sympy as sp

from ..declare.parse import normal_name, parse_formula
from ..errors import SymgeoError
from ..family import get_family, load_family


def parse_fixed(items):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SymgeoError(f"--fixed expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        k, v = k.strip(), v.strip()
        # a name is a symbolic hyper-parameter (n=n); anything else is a number,
        # read exactly by the formula parser within its size limits
        out[k] = v if normal_name(v).isidentifier() else \
            parse_formula(v, {}, where=f"--fixed {k}")
    return out


def digits_arg(limit):
    """An argparse type: a number of digits between 1 and ``limit``."""
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:20]!r}") \
                from None
        if not 1 <= n <= limit:
            raise argparse.ArgumentTypeError(f"must be between 1 and {limit}, got {n}")
        return n
    return parse


def count_arg(limit, minimum=0):
    """An argparse type: a whole number between ``minimum`` and ``limit``."""
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:20]!r}") \
                from None
        if not minimum <= n <= limit:
            raise argparse.ArgumentTypeError(f"must be between {minimum} and {limit}, got {n}")
        return n
    return parse


def family_from_args(args):
    fixed = parse_fixed(args.fixed)
    if args.file:
        return load_family(args.file, **fixed)
    if not args.name:
        raise SymgeoError("give a family NAME or --file FILE (see 'symgeo list')")
    return get_family(args.name, **fixed)


def add_family_arguments(s):
    """NAME | --file FILE, and --fixed NAME=VALUE: read back by :func:`family_from_args`."""
    s.add_argument("name", nargs="?", help="built-in family name")
    s.add_argument("--file", help="a family declaration file (TOML)")
    s.add_argument("--fixed", action="append", metavar="NAME=VALUE",
                   help="set a fixed hyper-parameter (repeatable), e.g. --fixed n=7")


def alpha_arg(text):
    return parse_formula(text, {"alpha": sp.Symbol("alpha", real=True)}, where="--alpha")


def point_arg(fam, text, flag):
    parts = [t.strip() for t in (text or "").split(",") if t.strip()]
    names = ", ".join(c.name for c in fam.coordinates)
    if len(parts) != fam.dimension:
        raise SymgeoError(f"{flag} needs {fam.dimension} comma-separated coordinates ({names}) "
                          f"for family {fam.name!r}, got {len(parts)}")
    # plain decimals become exact rationals (0.3 -> 3/10), anything else goes to the parser
    vals = [parse_formula(p, {}, where=flag) for p in parts]
    if not all(v.is_real for v in vals):
        raise SymgeoError(f"{flag}: coordinates must be real numbers, got {text!r}")
    pt = dict(zip(fam.coordinates, vals))
    if not fam.in_domain(pt):
        raise SymgeoError(f"{flag}: ({text}) is outside the domain of family {fam.name!r} "
                          f"(coordinates {names})")
    return pt


def vector_arg(fam, text, flag):
    """A tangent vector (any real components, no domain check)."""
    parts = [t.strip() for t in (text or "").split(",") if t.strip()]
    if len(parts) != fam.dimension:
        raise SymgeoError(f"{flag} needs {fam.dimension} comma-separated components "
                          f"({', '.join(c.name for c in fam.coordinates)}) for family "
                          f"{fam.name!r}, got {len(parts)}")
    vals = [parse_formula(p, {}, where=flag) for p in parts]
    if not all(v.is_real for v in vals):
        raise SymgeoError(f"{flag}: components must be real numbers, got {text!r}")
    return vals


def header(fam):
    fixed = ", ".join(f"{k.name}={v}" for k, v in fam.fixed.items())
    return (f"{fam.name} in coordinates ({', '.join(c.name for c in fam.coordinates)})"
            + (f", fixed {fixed}" if fixed else ""))
