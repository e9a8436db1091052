"""CLI subcommands (registered by symgeo.cli.build_parser).

    symgeo kl NAME [--at P --to Q] [--numeric] [--digits N] [--format text|latex|json]
    symgeo entropy NAME [--at P] [--numeric] [--digits N] [--format text|latex|json]
    symgeo expfam NAME [--format text|latex|json]
    symgeo verify NAME | --all [--digits 50] [--quad-digits 30] [--seed S] [--directions K]

P and Q are comma-separated coordinates in the family's order, read by the
safe formula parser ("0.3", "1/3", "sqrt(2)").  Without points the general
closed form is printed (the second point's coordinates carry the suffix _q).
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys

import mpmath as mp
import sympy as sp

from ..declare.catalog import family_names
from ..emit.build import die_with_parent
from ..engine.budget import command_budget
from ..errors import CommandBudgetSpent, DerivationError, SymgeoError
from ..family import get_family
from ..printing import latex
from ..verify import verify
from .common import count_arg, digits_arg, family_from_args, header, point_arg

MAX_DIGITS = 1000
"""Digits a numeric value may be asked for (mpmath at 10^8 digits runs for hours)."""

MAX_VERIFY_DIGITS = 200
"""Working digits of ``verify`` (its quadratures cost about digits^2 each)."""

MAX_DIRECTIONS = 100


def _points(fam, args, need_q):
    p = q = None
    if args.at is not None:
        p = [point_arg(fam, args.at, "--at")[c] for c in fam.coordinates]
    if need_q and args.to is not None:
        q = [point_arg(fam, args.to, "--to")[c] for c in fam.coordinates]
    if need_q and (p is None) != (q is None):
        raise SymgeoError("give both --at P and --to Q, or neither (the general closed form)")
    if args.numeric and (p is None or (need_q and q is None)):
        raise SymgeoError("--numeric needs numeric points (--at" + (" and --to)" if need_q else ")"))
    return p, q


def _show(fam, title, value, route, detail, args):
    if isinstance(value, sp.Basic) and value.is_number and args.format != "latex":
        numeric = sp.N(value, args.digits)
    else:
        numeric = value if not isinstance(value, sp.Basic) else None
    if args.format == "json":
        print(json.dumps({"family": fam.name, "quantity": title,
                          "coordinates": [c.name for c in fam.coordinates],
                          "value": sp.sstr(value) if isinstance(value, sp.Basic) else str(value),
                          "numeric": None if numeric is None else str(numeric),
                          "route": route, "detail": detail}, indent=2, sort_keys=True))
    elif args.format == "latex":
        print(latex(value) if isinstance(value, sp.Basic) else str(value))
    else:
        print(f"{title} for {header(fam)}")
        print(sp.pretty(value, use_unicode=True) if isinstance(value, sp.Basic) else value)
        if numeric is not None and isinstance(value, sp.Basic) and not value.is_Float:
            print(f"= {numeric}")
        print(f"route: {route}" + (f" ({detail})" if detail else ""))


def _closed(fn, what):
    try:
        return fn()
    except DerivationError as exc:
        raise SymgeoError(f"{exc}; on the command line: give numeric points and --numeric "
                          f"for the {what} by mpmath quadrature") from None


def cmd_kl(args):
    fam = family_from_args(args)
    p, q = _points(fam, args, True)
    title = "KL(p || q)"
    if args.numeric:
        with mp.workdps(args.digits):
            val = fam.kl_numeric(p, q, dps=args.digits)
        return _show(fam, title, mp.nstr(val, args.digits), "quadrature", "mpmath", args)
    res = _closed(fam.kl_result, "KL")
    value = fam.kl(p, q) if p is not None else res.value
    _show(fam, title, value, res.route, res.detail, args)


def cmd_entropy(args):
    fam = family_from_args(args)
    p, _ = _points(fam, args, False)
    if args.numeric:
        with mp.workdps(args.digits):
            val = fam.entropy_numeric(p, dps=args.digits)
        return _show(fam, "H(p)", mp.nstr(val, args.digits), "quadrature", "mpmath", args)
    res = _closed(fam.entropy_result, "entropy")
    value = fam.entropy(p) if p is not None else res.value
    _show(fam, "H(p)", value, res.route, res.detail, args)


def cmd_expfam(args):
    fam = family_from_args(args)
    st = fam.exponential_family()
    if args.format == "latex":
        print(st._repr_latex_().strip("$"))
        return
    fields = [("kind", st.kind), ("natural parameters theta(xi)", st.natural),
              ("sufficient statistic T(x)", st.statistics),
              ("log-partition A", st.log_partition), ("log base measure log h(x)", st.log_base),
              ("mean parameters eta = E[T]", st.mean)]
    if st.kind == "full":
        fields += [("A(theta)", st.log_partition_theta),
                   ("dual potential A*(eta)", st.dual if st.dual is not None else st.dual_note)]
    if args.format == "json":
        print(json.dumps({"family": fam.name, **{k: sp.sstr(v) if isinstance(v, (sp.Basic, tuple))
                                                  else str(v) for k, v in fields}},
                         indent=2, sort_keys=True))
        return
    print(f"exponential-family structure of {header(fam)}")
    for k, v in fields:
        text = sp.sstr(v) if isinstance(v, (sp.Basic, tuple)) else str(v)
        print(f"  {k}: {text}")


def _verify_one(name, args):
    """One family's report: (table or None, ok, the reason it did not run or "").

    ``name``: a catalog name, or a Family (``--file``).  Each family has the
    command's budget (SYMGEO_BUDGET), so --all is bounded too.
    """
    fam = get_family(name) if isinstance(name, str) else name
    try:
        with command_budget(what=f"the checks of family {fam.name!r}"):
            report = verify(fam, digits=args.digits, quad_digits=args.quad_digits,
                            seed=args.seed, directions=args.directions,
                            quadrature=not args.no_quadrature)
    except (SymgeoError, DerivationError, CommandBudgetSpent) as exc:
        return None, False, f"verify {fam.name}: not run: {' '.join(str(exc).split())}"
    return report.table(), report.ok, ""


def _run_verify_all(args):
    """(name, result of _verify_one) for every catalog family, in catalog order, from
    ``args.jobs`` forked worker processes at a time (all stopped when the command ends,
    however it ends: a worker's own timed steps fork again, so workers are processes of
    their own, not a daemonic pool)."""
    names = family_names()
    jobs = min(args.jobs or os.cpu_count() or 1, len(names))
    if jobs == 1:
        for name in names:
            yield name, _verify_one(name, args)
        return
    ctx = multiprocessing.get_context("fork")
    # the heaviest families first, so that no worker is left alone with one at the end
    todo = sorted(names, key=lambda n: (n not in HEAVY_TO_VERIFY, names.index(n)))
    running, done = {}, {}
    try:
        for name in names:
            while name not in done:
                while todo and len(running) < jobs:
                    start = todo.pop(0)
                    reader, writer = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_verify_child, args=(start, args, writer))
                    proc.start()
                    try:  # as the child does itself: whichever runs first
                        os.setpgid(proc.pid, proc.pid)
                    except OSError:
                        pass
                    writer.close()
                    running[reader] = (start, proc)
                for reader in multiprocessing.connection.wait(list(running)):
                    finished, proc = running.pop(reader)
                    try:
                        done[finished] = reader.recv()
                    except EOFError:
                        proc.join()
                        done[finished] = (None, False, f"verify {finished}: not run: its "
                                          f"worker process stopped (exit code {proc.exitcode})")
                    reader.close()
                    proc.join()
            yield name, done.pop(name)
    finally:
        for reader, (_, proc) in running.items():
            try:  # the worker and the timed steps it forked (its own process group)
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.join()
            reader.close()


HEAVY_TO_VERIFY = ("dirichlet", "mvnormal", "mvnormal2", "multinomial", "student_t",
                   "logistic", "von_mises")
"""Families whose checks take longest (multivariate quadrature, quadrature KL): started
first by ``verify --all``.  Only the order of the work depends on it."""


def _verify_child(name, args, conn):
    # the parent handles SIGTERM / SIGINT and kills this worker's process group; a
    # parent killed outright takes the worker with it
    os.setpgid(0, 0)
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        conn.send(_verify_one(name, args))
    except Exception as exc:  # noqa: BLE001 - reported by the parent as one line
        conn.send((None, False, f"verify {name}: not run: internal error: "
                   f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"))
    finally:
        conn.close()


def cmd_verify(args):
    if args.all:
        if args.name or args.file:
            raise SymgeoError("give a family NAME, --file FILE or --all, not both")
        results = _run_verify_all(args)
    else:
        fam = family_from_args(args)
        results = [(fam.name, _verify_one(fam, args))]
    failed, count = [], 0
    for name, (table, ok, why) in results:
        count += 1
        if table is None:
            print(why)
        else:
            print(table)
            print()
        if not ok:
            failed.append(name)
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        sys.exit(1)
    print(f"all checks passed ({count} famil{'y' if count == 1 else 'ies'})")


def register(sub, add_family_arguments):
    """Add this module's subcommands to the argparse ``sub`` parsers."""
    for name, fn, helptext, two in (("kl", cmd_kl, "KL divergence KL(p || q)", True),
                                    ("entropy", cmd_entropy, "differential/Shannon entropy",
                                     False)):
        s = sub.add_parser(name, help=helptext)
        add_family_arguments(s)
        s.add_argument("--at", metavar="P", help="the point p (comma-separated coordinates)")
        if two:
            s.add_argument("--to", metavar="Q", help="the point q")
        s.add_argument("--numeric", action="store_true",
                       help="mpmath quadrature/summation of the declared density instead")
        s.add_argument("--digits", type=digits_arg(MAX_DIGITS), default=20,
                       help=f"digits of numeric values (1 to {MAX_DIGITS})")
        s.add_argument("--format", choices=("text", "latex", "json"), default="text")
        s.set_defaults(func=fn)
    s = sub.add_parser("expfam", help="exponential-family structure (theta, T, A, eta, A*)")
    add_family_arguments(s)
    s.add_argument("--format", choices=("text", "latex", "json"), default="text")
    s.set_defaults(func=cmd_expfam)
    s = sub.add_parser("verify", help="high-precision self-check: KL Taylor expansion and "
                       "closed forms against quadrature; exit status 1 on failure")
    add_family_arguments(s)
    s.add_argument("--all", action="store_true", help="every catalog family")
    s.set_defaults(own_budget=True)
    s.add_argument("--digits", type=digits_arg(MAX_VERIFY_DIGITS), default=50,
                   help=f"working digits of the Taylor check (1 to {MAX_VERIFY_DIGITS})")
    s.add_argument("--quad-digits", type=digits_arg(MAX_VERIFY_DIGITS), default=30,
                   help=f"digits of the quadrature checks (1 to {MAX_VERIFY_DIGITS})")
    s.add_argument("--seed", type=count_arg(2 ** 32 - 1), default=0,
                   help="random points and directions")
    s.add_argument("--directions", type=count_arg(MAX_DIRECTIONS), default=2,
                   help=f"random unit directions (0 to {MAX_DIRECTIONS})")
    s.add_argument("--no-quadrature", action="store_true", help="only the Taylor check")
    s.add_argument("--jobs", type=count_arg(64, minimum=1), default=None,
                   help="families checked at once by --all (default: the number of CPUs)")
    s.set_defaults(func=cmd_verify)
