"""Command-line interface: ``symgeo list``, ``symgeo fisher NAME|--file F``.

Errors print one line on stderr and exit with status 2 (no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys

import sympy as sp

from .errors import SymgeoError


def _parse_fixed(items):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SymgeoError(f"--fixed expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        k, v = k.strip(), v.strip()
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v  # a symbolic hyper-parameter, e.g. n=n
    return out


def family_from_args(args):
    from .loader import get_family, load_family
    fixed = _parse_fixed(args.fixed)
    if args.file:
        return load_family(args.file, **fixed)
    if not args.name:
        raise SymgeoError("give a family NAME or --file FILE (see 'symgeo list')")
    return get_family(args.name, **fixed)


def cmd_list(args):
    from .loader import family_names, get_family
    for name in family_names():
        if args.verbose:
            fam = get_family(name)
            coords = ", ".join(c.name for c in fam.coordinates)
            print(f"{name:20s} ({coords})  {fam.title}")
        else:
            print(name)


def cmd_fisher(args):
    fam = family_from_args(args)
    res = fam.fisher_result()
    coords = [c.name for c in fam.coordinates]
    if args.format == "json":
        print(json.dumps({
            "family": fam.name,
            "coordinates": coords,
            "fixed": {k.name: str(v) for k, v in fam.fixed.items()},
            "fisher": [[sp.sstr(e) for e in row] for row in res.matrix.tolist()],
            "form": res.form,
            "routes": res.route_summary,
            "notes": res.notes,
        }, indent=2, sort_keys=True))
    elif args.format == "latex":
        from .emit.latex import latex
        print(r"I(" + ", ".join(latex(c) for c in fam.coordinates) + ") = " + latex(res.matrix))
    else:
        print(f"Fisher information of {fam.name} in coordinates ({', '.join(coords)})"
              + (f", fixed {', '.join(f'{k.name}={v}' for k, v in fam.fixed.items())}"
                 if fam.fixed else ""))
        print(sp.pretty(res.matrix, use_unicode=True))
        print(f"form: {'E[s s^T]' if res.form == 'score' else '-E[Hessian]' if res.form == 'hessian' else res.form}; "
              f"routes: {res.route_summary}")
        for note in res.notes:
            print(f"note: {note}")


def add_family_arguments(s):
    """NAME | --file FILE, and --fixed NAME=VALUE: read back by :func:`family_from_args`."""
    s.add_argument("name", nargs="?", help="built-in family name")
    s.add_argument("--file", help="a family declaration file (TOML)")
    s.add_argument("--fixed", action="append", metavar="NAME=VALUE",
                   help="set a fixed hyper-parameter (repeatable), e.g. --fixed n=7")


def build_parser():
    p = argparse.ArgumentParser(prog="symgeo", description="Information geometry of "
                                "probability families, derived symbolically.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("list", help="list the built-in families")
    s.add_argument("-v", "--verbose", action="store_true", help="show coordinates and titles")
    s.set_defaults(func=cmd_list)
    s = sub.add_parser("fisher", help="Fisher information matrix of a family")
    add_family_arguments(s)
    s.add_argument("--format", choices=("text", "latex", "json"), default="text")
    s.set_defaults(func=cmd_fisher)
    from . import cli_divergence, cli_emit, cli_geometry
    for module in (cli_divergence, cli_geometry, cli_emit):
        module.register(sub, add_family_arguments)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except SymgeoError as exc:
        print(f"symgeo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symgeo: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
