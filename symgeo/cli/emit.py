"""CLI subcommands ``symgeo build`` and ``symgeo latex`` (registered by symgeo.cli.build_parser)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..emit.build import DEFAULT_BUILD_BUDGET, build
from ..emit.latex import family_document
from ..errors import SymgeoError
from .common import family_from_args


def _reexec_with_fixed_hash_seed(args):
    """Run the build in a process with PYTHONHASHSEED=0.

    sympy orders some terms by hash (str hashes are salted per process), so
    without a fixed seed two runs could print the same expression differently.
    """
    argv = [sys.executable, "-m", "symgeo", "build", "--budget", repr(args.budget)]
    argv += ["--out", args.out] if args.out else []
    argv += ["-v"] if args.verbose else []
    argv += ["--replan"] if args.replan else []
    for name in args.only or ():
        argv += ["--only", name]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.run(argv, env=env).returncode


def cmd_build(args):
    if os.environ.get("PYTHONHASHSEED") != "0":
        code = _reexec_with_fixed_hash_seed(args)
        if code:
            raise SymgeoError(f"the build failed (exit status {code})")
        return
    t0 = time.perf_counter()
    log = (lambda msg: print(msg, file=sys.stderr)) if args.verbose else None
    files = build(args.out, budget=args.budget, names=args.only, log=log, replan=args.replan)
    print(f"symgeo build: {len(files)} files in {time.perf_counter() - t0:.1f} s")


def compile_pdf(tex_path, out_dir=None):
    """pdflatex without shell escape, reading only below the current directory; returns the PDF."""
    exe = shutil.which("pdflatex")
    if not exe:
        raise SymgeoError("--pdf needs pdflatex (install texlive-latex-base)")
    tex_path = Path(tex_path).resolve()
    out_dir = Path(out_dir or tex_path.parent).resolve()
    env = {**os.environ, "openin_any": "p", "openout_any": "p"}
    proc = subprocess.run([exe, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                           f"-output-directory={out_dir}", tex_path.name], cwd=tex_path.parent,
                          env=env, capture_output=True, text=True, timeout=300)
    pdf = out_dir / (tex_path.stem + ".pdf")
    if proc.returncode != 0 or not pdf.exists():
        last = [ln for ln in proc.stdout.splitlines() if ln.startswith("!")][:1]
        raise SymgeoError(f"pdflatex failed on {tex_path.name}: {last[0] if last else 'see the log'}")
    return pdf


def cmd_latex(args):
    fam = family_from_args(args)
    text = family_document(fam)
    if args.pdf:
        target = Path(args.output or f"{fam.name}.pdf")
        with tempfile.TemporaryDirectory() as tmp:
            tex = Path(tmp) / "document.tex"
            tex.write_text(text, encoding="utf-8")
            for _ in range(2):  # a second run settles references
                pdf = compile_pdf(tex)
            shutil.copyfile(pdf, target)
        print(f"wrote {target}")
    elif args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)


def register(sub, add_family_arguments):
    """Add this module's subcommands to the argparse ``sub`` parsers."""
    s = sub.add_parser("build", help="write generated/: numpy modules and LaTeX for every "
                       "catalog family")
    s.add_argument("--out", help="output directory (default: generated/ of this checkout)")
    s.add_argument("--budget", type=float, default=DEFAULT_BUILD_BUDGET,
                   help=f"CPU seconds per optional quantity (default {DEFAULT_BUILD_BUDGET:g})")
    s.add_argument("-v", "--verbose", action="store_true", help="one line per family on stderr")
    s.add_argument("--replan", action="store_true",
                   help="re-measure which optional quantities finish within the budget and "
                        "rewrite the build plan (symgeo/build_plan.json)")
    s.add_argument("--only", action="append", metavar="NAME",
                   help="build only these families (repeatable; the index lists only them)")
    s.set_defaults(func=cmd_build)
    s = sub.add_parser("latex", help="LaTeX derivation of one family")
    add_family_arguments(s)
    s.add_argument("-o", "--output", help="write to FILE (default: stdout, or NAME.pdf with --pdf)")
    s.add_argument("--pdf", action="store_true", help="compile with pdflatex")
    s.set_defaults(func=cmd_latex)
