"""CLI subcommands ``symgeo build`` and ``symgeo latex`` (registered by symgeo.cli.build_parser)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..emit.build import (
    DEFAULT_BUILD_BUDGET,
    STOP_GRACE,
    BuildStopped,
    build,
    die_with_parent,
    resolve_out,
    stop_on_signals,
)
from ..emit.latex import family_document
from ..errors import SymgeoError
from .common import family_from_args

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _reexec_with_fixed_hash_seed(args, out):
    """Run the build in a process with PYTHONHASHSEED=0; returns its exit status.

    sympy orders some terms by hash (str hashes are salted per process), so
    without a fixed seed two runs could print the same expression differently.
    ``out`` is already resolved (absolute), so the child writes where the user asked.
    """
    argv = [sys.executable, "-m", "symgeo", "build", "--budget", repr(args.budget),
            "--out", str(out)]
    argv += ["-v"] if args.verbose else []
    argv += ["--replan"] if args.replan else []
    for name in args.only or ():
        argv += ["--only", name]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    sys.stdout.flush()
    sys.stderr.flush()
    return run_child(argv, env, out)


def _kill_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def run_child(argv, env, out):
    """Run ``argv`` in its own session and process group; returns its exit status.

    SIGTERM and SIGINT received here go to the child's whole group (the build
    and its worker children); the child then has STOP_GRACE seconds to clean
    up and exit (it reports in one line), after which the group is killed.
    The child also gets SIGTERM if this process dies (PR_SET_PDEATHSIG).
    """
    parent = os.getpid()
    state = {"proc": None, "signal": None, "since": None}

    def in_child():  # between fork and exec
        die_with_parent(signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    def forward(signum, frame):
        state["signal"] = signum
        state["since"] = state["since"] or time.monotonic()
        if state["proc"] is not None:
            _kill_group(state["proc"].pid, signum)

    saved = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
    try:
        # preexec_fn: this process runs no thread of its own (numpy's BLAS threads
        # do not touch the interpreter)
        proc = subprocess.Popen(argv, env=env, start_new_session=True,
                                preexec_fn=in_child)  # noqa: PLW1509
        state["proc"] = proc
        if state["signal"] is not None:  # it came while the child was starting
            _kill_group(proc.pid, state["signal"])
        while True:
            try:
                code = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if state["since"] and time.monotonic() - state["since"] > STOP_GRACE:
                    _kill_group(proc.pid, signal.SIGKILL)
                    proc.wait()
                    raise SymgeoError(f"the build did not stop within {STOP_GRACE:g} s and "
                                      f"was killed; each file in {out} is complete (old or "
                                      f"new)") from None
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    if state["signal"] is not None:  # stopped: no straggler of its group survives it
        _kill_group(proc.pid, signal.SIGKILL)
    if code < 0:  # died of the signal before or after its build (no handler then)
        what = "stopped" if -code == state["signal"] else "killed"
        raise SymgeoError(f"build {what} by {signal.Signals(-code).name}; each file in {out} "
                          f"is complete (old or new)")
    return code


def cmd_build(args):
    out = resolve_out(args.out)  # once, here: the child gets the absolute path
    if os.environ.get("PYTHONHASHSEED") != "0":
        code = _reexec_with_fixed_hash_seed(args, out)
        if code:
            raise SystemExit(code)  # the child printed its one-line error
        return
    t0 = time.perf_counter()
    log = (lambda msg: print(msg, file=sys.stderr)) if args.verbose else None
    try:
        with stop_on_signals(STOP_SIGNALS):
            files = build(out, budget=args.budget, names=args.only, log=log,
                          replan=args.replan)
    except BuildStopped as exc:
        done = ("the new files were already in place" if exc.written
                else f"{out} was left unchanged")
        raise SymgeoError(f"build stopped by {exc.name}; {done}") from None
    print(f"symgeo build: {len(files)} files in {time.perf_counter() - t0:.1f} s")


def compile_pdf(tex_path, out_dir=None, keep_log=None):
    """pdflatex without shell escape, reading only below the current directory; returns the PDF.

    On failure the SymgeoError names the first error line ("! ...") and, with
    ``keep_log``, the path the log was copied to (the compile directory is
    often temporary).
    """
    exe = shutil.which("pdflatex")
    if not exe:
        raise SymgeoError("--pdf needs pdflatex (install texlive-latex-base)")
    tex_path = Path(tex_path).resolve()
    out_dir = Path(out_dir or tex_path.parent).resolve()
    env = {**os.environ, "openin_any": "p", "openout_any": "p"}
    try:
        proc = subprocess.run([exe, "-no-shell-escape", "-interaction=nonstopmode",
                               "-halt-on-error", f"-output-directory={out_dir}", tex_path.name],
                              cwd=tex_path.parent, env=env, capture_output=True, text=True,
                              timeout=300, errors="replace", check=False)
    except subprocess.TimeoutExpired:
        raise SymgeoError(f"pdflatex did not finish {tex_path.name} within 300 s") from None
    pdf = out_dir / (tex_path.stem + ".pdf")
    if proc.returncode != 0 or not pdf.exists():
        first = next((ln for ln in proc.stdout.splitlines() if ln.startswith("!")),
                     f"exit status {proc.returncode}")
        log = out_dir / (tex_path.stem + ".log")
        where = "no log was written"
        if log.is_file():
            where = f"log: {log}"
            if keep_log is not None:
                shutil.copyfile(log, keep_log)
                where = f"log: {keep_log}"
        raise SymgeoError(f"pdflatex failed on {tex_path.name}: {first} ({where})")
    return pdf


def check_output_file(path, example="NAME.tex"):
    """Refuse (SymgeoError) an output file path that cannot be written: checked before the work.

    ``path`` must not be a directory, and its directory must exist and be writable.
    """
    path = Path(path)
    if path.is_dir():
        raise SymgeoError(f"-o {path}: is a directory; give a file name, "
                          f"e.g. -o {path / example}")
    parent = path.parent
    if not parent.is_dir():
        raise SymgeoError(f"-o {path}: the directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and
                                                      not os.access(path, os.W_OK)):
        raise SymgeoError(f"-o {path}: not writable; choose another file")
    return path


def cmd_latex(args):
    fam = family_from_args(args)
    if args.pdf:
        target = check_output_file(args.output or f"{fam.name}.pdf", f"{fam.name}.pdf")
    elif args.output:
        target = check_output_file(args.output, f"{fam.name}.tex")
    text = family_document(fam)  # the long part: every section is derived
    if args.pdf:
        log = target.with_name(target.stem + ".log")
        with tempfile.TemporaryDirectory() as tmp:
            tex = Path(tmp) / "document.tex"
            tex.write_text(text, encoding="utf-8")
            for _ in range(2):  # a second run settles references
                pdf = compile_pdf(tex, keep_log=log)
            shutil.copyfile(pdf, target)
        print(f"wrote {target}")
    elif args.output:
        target.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)


def register(sub, add_family_arguments):
    """Add this module's subcommands to the argparse ``sub`` parsers."""
    s = sub.add_parser("build", help="write generated/: numpy modules and LaTeX for every "
                       "catalog family")
    s.add_argument("--out", help="output directory (default: ./generated when the current "
                   "directory is a symgeo checkout; required elsewhere)")
    s.add_argument("--budget", type=float, default=DEFAULT_BUILD_BUDGET,
                   help=f"CPU seconds per optional quantity (default {DEFAULT_BUILD_BUDGET:g})")
    s.add_argument("-v", "--verbose", action="store_true", help="one line per family on stderr")
    s.add_argument("--replan", action="store_true",
                   help="re-measure which optional quantities finish within the budget and "
                        "rewrite the build plan (symgeo/build_plan.json)")
    s.add_argument("--only", action="append", metavar="NAME",
                   help="build only these families (repeatable): their numpy/NAME.py and "
                        "latex/NAME.tex; README.md and latex/catalog.tex are created when "
                        "missing, never replaced, and no other file is removed")
    s.set_defaults(func=cmd_build)
    s = sub.add_parser("latex", help="LaTeX derivation of one family")
    add_family_arguments(s)
    s.add_argument("-o", "--output", help="write to FILE (default: stdout, or NAME.pdf with --pdf)")
    s.add_argument("--pdf", action="store_true", help="compile with pdflatex")
    s.set_defaults(func=cmd_latex)
