"""``symgeo list`` and ``symgeo fisher NAME|--file F``."""

from __future__ import annotations

import json

import sympy as sp

from ..declare.catalog import family_names
from ..family import get_family
from ..printing import latex
from .common import family_from_args


def cmd_list(args):
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


def register(sub, add_family_arguments):
    s = sub.add_parser("list", help="list the built-in families")
    s.add_argument("-v", "--verbose", action="store_true", help="show coordinates and titles")
    s.set_defaults(func=cmd_list)
    s = sub.add_parser("fisher", help="Fisher information matrix of a family")
    add_family_arguments(s)
    s.add_argument("--format", choices=("text", "latex", "json"), default="text")
    s.set_defaults(func=cmd_fisher)
