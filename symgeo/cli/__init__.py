"""Command-line interface: ``symgeo COMMAND ...``, one module per command group.

    information  symgeo list, symgeo fisher
    divergence   symgeo kl, entropy, expfam, verify
    geometry     symgeo connection, curvature, geodesic, plot
    emit         symgeo build, latex

Shared argument helpers live in :mod:`symgeo.cli.common`.  Errors print one
line on stderr and exit with status 2 (no traceback).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import SymgeoError
from . import divergence, emit, geometry, information
from .common import add_family_arguments

COMMAND_GROUPS = (information, divergence, geometry, emit)


def build_parser():
    p = argparse.ArgumentParser(prog="symgeo", description="Information geometry of "
                                "probability families, derived symbolically.")
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMAND_GROUPS:
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
