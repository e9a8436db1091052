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
import os
import signal
import sys
import threading

from ..engine.budget import command_budget
from ..errors import CommandBudgetSpent, SymgeoError, Terminated
from . import divergence, emit, geometry, information
from .common import add_family_arguments

COMMAND_GROUPS = (information, divergence, geometry, emit)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the usage itself is in --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see '{self.prog} --help')\n")


def build_parser():
    p = _Parser(prog="symgeo", description="Information geometry of "
                "probability families, derived symbolically.")
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMAND_GROUPS:
        module.register(sub, add_family_arguments)
    # a build budgets each optional quantity itself (--budget), and runs for minutes
    sub.choices["build"].set_defaults(own_budget=True)
    return p


def _terminate(signum, frame):
    raise Terminated()


def _one_line(text):
    return " ".join(str(text).split())


def main(argv=None):
    """Run one command: its errors are one line on stderr and a non-zero exit.

    The whole command runs under ``SYMGEO_BUDGET`` seconds (wall clock; see
    :func:`symgeo.engine.budget.command_budget`) except the commands that
    budget their own parts (``build``, ``verify --all``: each family).
    ``SYMGEO_DEBUG=1`` shows the traceback of an unexpected error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    saved = signal.signal(signal.SIGTERM, _terminate) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        if getattr(args, "own_budget", False) or \
                threading.current_thread() is not threading.main_thread():
            args.func(args)
        else:
            with command_budget(what=f"'symgeo {args.command}'"):
                args.func(args)
    except SymgeoError as exc:
        print(f"symgeo: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except CommandBudgetSpent as exc:
        print(f"symgeo: error: {_one_line(exc)}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("symgeo: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("symgeo: terminated", file=sys.stderr)
        return 143
    except (MemoryError, RecursionError) as exc:
        print(f"symgeo: error: {type(exc).__name__}: the input is too large or too deeply "
              "nested to handle", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last guard: one line, never a traceback
        if os.environ.get("SYMGEO_DEBUG"):
            raise
        print(f"symgeo: internal error: {type(exc).__name__}: {_one_line(exc)[:300]} "
              "(please report it; SYMGEO_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 70
    finally:
        if saved is not None:
            signal.signal(signal.SIGTERM, saved)
    return 0
