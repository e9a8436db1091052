"""Generated numpy functions against hand-written textbook formulas: speed and accuracy.

    python benchmarks/bench_generated.py [--families a,b] [--quantities fisher,kl]
        [--sizes 1,10,1000,1000000] [--repeat R] [--module-dir generated/numpy]
        [--no-accuracy] [--times]

For every catalog family and quantity (fisher, score, log_density, kl, entropy)
that ``benchmarks/handwritten.py`` writes by hand, and each size N:

* inputs are N random generic points of the domain (N pairs for kl, N points of
  the support for score and log_density).  N = 1 is measured the way a user
  calls in a loop: plain Python floats (x a 1-d array for multivariate x);
* generated and hand-written are timed interleaved, A B A B ... R times
  (``time.perf_counter``, garbage collector off), each timing an inner loop of
  enough calls to last at least ~2 ms; the cell is the ratio of the medians,
  generated / hand-written (below 1: the generated function is faster).
  N >= 1e5 uses min(R, 3) rounds, and 1 when a single call takes over 1 s;
* accuracy: the worst relative error of the generated function at 5 random
  points against symgeo's own symbolic quantity (``get_family(name).fisher()``,
  ``.score()``, ``.log_density``, ``.kl()``, ``.entropy()``) evaluated by sympy at
  30 digits at the exact binary values of the inputs, independent of the
  hand-written formulas.  Entries that are exactly 0 are measured relative to the
  largest entry of the same matrix or vector.

The load average (os.getloadavg) is printed at the start and the end, as the
machine may be shared.  ``--module-dir`` points at another generated tree (e.g. an
old and a new one, to compare).  Goals (issue 15): ratio <= 1.0 at N = 1e6 and
<= 2 at N <= 10.  A full run over the catalog at the default sizes takes a few
minutes.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import math
import os
import statistics
import sys
import time
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGET = 2e-3          # seconds: each timing lasts at least this long (inner loop)
LARGE = 100_000        # from this N on, fewer rounds
ACCURACY_POINTS = 5
DPS = 30


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HW = _load(HERE / "handwritten.py", "_bench_handwritten")


# ----------------------------------------------------------------------
# inputs

def _arguments(family, quantity, n, seed):
    rng = np.random.default_rng(seed)
    p = HW.random_params(family, rng, n)
    if quantity == "kl":
        return p + HW.random_params(family, rng, n)
    if quantity in ("score", "log_density"):
        return [HW.random_x(family, rng, n)] + p
    return p


def _scalar_arguments(args):
    """The first point as a user passes one: Python floats, x a 1-d array if multivariate."""
    return [float(a[0]) if np.ndim(a) == 1 else np.array(a[0]) for a in args]


# ----------------------------------------------------------------------
# timing

def _per_call(fn, args, inner):
    t0 = time.perf_counter()
    for _ in range(inner):
        fn(*args)
    return (time.perf_counter() - t0) / inner


def _inner(fn, args):
    """Calls per timing so that one timing lasts >= TARGET; also warms fn up."""
    t = _per_call(fn, args, 1)
    if t >= TARGET:
        return 1, t
    inner = math.ceil(TARGET / max(t, 1e-8))
    t = _per_call(fn, args, min(inner, 10_000))
    return max(1, math.ceil(TARGET / max(t, 1e-8))), t


def time_pair(gen, hand, args, repeat, large):
    """Median seconds per call of gen and hand, timed interleaved."""
    gc.collect()
    gc_was = gc.isenabled()
    gc.disable()
    try:
        n_gen, t_gen = _inner(gen, args)
        n_hand, t_hand = _inner(hand, args)
        if large:
            repeat = 1 if max(t_gen, t_hand) > 1.0 else min(repeat, 3)
        a, b = [], []
        for _ in range(repeat):
            a.append(_per_call(gen, args, n_gen))
            b.append(_per_call(hand, args, n_hand))
    finally:
        if gc_was:
            gc.enable()
    return statistics.median(a), statistics.median(b)


# ----------------------------------------------------------------------
# accuracy against symgeo's symbolic quantity at 30 digits

class Reference:
    """sympy expressions of the quantities of one family, evaluated at 30 digits."""

    def __init__(self, family):
        import symgeo
        self.fam = symgeo.get_family(family)

    def expressions(self, quantity):
        import sympy as sp
        fam = self.fam
        if quantity == "fisher":
            return list(fam.fisher()), None
        if quantity == "score":
            return list(fam.score()), None
        if quantity == "log_density":
            return [sp.sympify(fam.log_density, strict=True)], None
        if quantity == "kl":
            return [fam.kl()], fam._q_symbols()
        if quantity == "entropy":
            return [fam.entropy()], None
        raise ValueError(quantity)

    def values(self, quantity, args, k):
        """The reference entries (floats, generated order) at point k of args."""
        import sympy as sp
        fam = self.fam
        exprs, q_symbols = self.expressions(quantity)
        d = len(fam.coordinates)

        def num(v):
            v = float(v)
            return sp.Integer(int(v)) if v == int(v) else sp.Float(v, DPS)

        sub = {}
        coords = args
        if quantity in ("score", "log_density"):
            x = np.atleast_1d(args[0][k])
            sub.update({s: num(v) for s, v in zip(fam.variables, x)})
            coords = args[1:]
        sub.update({c: sp.Float(float(a[k]), DPS) for c, a in zip(fam.coordinates, coords[:d])})
        if q_symbols is not None:
            sub.update({c: sp.Float(float(a[k]), DPS) for c, a in zip(q_symbols, coords[d:])})
        return [float(sp.N(e.xreplace(sub), DPS)) for e in exprs]


def relative_error(got, ref):
    got, ref = np.asarray(got, dtype=float).ravel(), np.asarray(ref, dtype=float).ravel()
    scale = np.max(np.abs(ref))
    den = np.where(ref != 0, np.abs(ref), scale if scale > 0 else 1.0)
    return float(np.max(np.abs(got - ref) / den))


def accuracy(ref, family, quantity, gen):
    args = _arguments(family, quantity, ACCURACY_POINTS,
                      zlib.crc32(f"accuracy/{family}/{quantity}".encode()))
    got = gen(*args)
    worst = 0.0
    for k in range(ACCURACY_POINTS):
        worst = max(worst, relative_error(got[k], ref.values(quantity, args, k)))
    return worst


# ----------------------------------------------------------------------
# the run

def _label(n):
    if n >= 1000 and 10 ** round(math.log10(n)) == n:
        return f"N=1e{round(math.log10(n))}"
    return f"N={n}"


def _fmt_time(t):
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= f:
            return f"{t / f:.3g}{unit}"
    return f"{t / 1e-9:.3g}ns"


def _agree(gen, hand, family, quantity):
    args = _arguments(family, quantity, 20, zlib.crc32(f"agree/{family}/{quantity}".encode()))
    g, h = gen(*args), hand(*args)
    if np.shape(g) != np.shape(h):
        return f"shapes differ: generated {np.shape(g)}, hand-written {np.shape(h)}"
    if not np.allclose(g, h, rtol=1e-8, atol=1e-10, equal_nan=False):
        with np.errstate(all="ignore"):
            diff = np.nanmax(np.abs(g - h) / np.maximum(np.abs(h), 1e-300))
        return f"values differ (max relative difference {diff:.1e})"
    return None


def run(families, quantities, sizes, repeat, module_dir, with_accuracy, show_times):
    t_start = time.perf_counter()
    load0 = os.getloadavg()
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
          f"{os.cpu_count()} cores; numpy {np.__version__}")
    print(f"generated modules: {module_dir}; sizes {', '.join(map(str, sizes))}; "
          f"repeat {repeat} (N >= {LARGE:g}: at most 3); cells: generated / hand-written time "
          "(median per call)")
    print()
    header = ["family", "quantity"] + [_label(n) for n in sizes]
    if with_accuracy:
        header.append("max rel err")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")

    rows, notes, skipped = [], [], []
    for family in families:
        path = module_dir / f"{family}.py"
        if not path.exists():
            notes.append(f"{family}: no generated module {path}")
            continue
        module = _load(path, f"_bench_generated_{family}")
        ref = None
        for quantity in quantities:
            if (family, quantity) in HW.SKIPPED:
                skipped.append(f"{family} {quantity}: {HW.SKIPPED[(family, quantity)]}")
                continue
            if not hasattr(module, quantity):
                notes.append(f"{family} {quantity}: not in the generated module")
                continue
            gen, hand = getattr(module, quantity), HW.HANDWRITTEN[(family, quantity)]
            try:
                problem = _agree(gen, hand, family, quantity)
            except Exception as exc:  # noqa: BLE001 - e.g. an old tree with other signatures
                notes.append(f"{family} {quantity}: not benchmarked ({type(exc).__name__}: {exc})")
                continue
            if problem:
                notes.append(f"{family} {quantity}: generated and hand-written disagree: {problem}")
            ratios, cells = {}, []
            for n in sizes:
                seed = zlib.crc32(f"{family}/{quantity}/{n}".encode())
                args = _arguments(family, quantity, n, seed)
                if n == 1:
                    args = _scalar_arguments(args)
                tg, th = time_pair(gen, hand, args, repeat, n >= LARGE)
                del args
                ratios[n] = tg / th
                cell = f"{tg / th:.2f}×"
                if show_times:
                    cell += f" ({_fmt_time(tg)}/{_fmt_time(th)})"
                cells.append(cell)
            if with_accuracy:
                t0 = time.perf_counter()
                try:
                    if ref is None:
                        ref = Reference(family)
                    err = f"{accuracy(ref, family, quantity, gen):.1e}"
                except Exception as exc:  # noqa: BLE001 - report, keep benchmarking
                    err = "n/a"
                    notes.append(f"{family} {quantity}: no accuracy ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:120] if str(exc) else ''})")
                dt = time.perf_counter() - t0
                if dt > 20:
                    notes.append(f"{family} {quantity}: the 30-digit reference took {dt:.0f} s")
                cells.append(err + (" ≠" if problem else ""))
            elif problem:
                cells[-1] += " ≠"
            print("| " + " | ".join([family, quantity] + cells) + " |", flush=True)
            rows.append(ratios)

    print()
    big = [n for n in sizes if n >= 1_000_000]
    small = [n for n in sizes if n <= 10]
    total = len(rows)
    if big:
        ok_big = sum(all(r[n] <= 1.0 for n in big) for r in rows)
        print(f"goal ratio <= 1.0× at {', '.join(_label(n) for n in big)}: {ok_big}/{total}")
    if small:
        ok_small = sum(all(r[n] <= 2.0 for n in small) for r in rows)
        print(f"goal ratio <= 2× at {', '.join(_label(n) for n in small)}: {ok_small}/{total}")
    if big and small:
        both = sum(all(r[n] <= 1.0 for n in big) and all(r[n] <= 2.0 for n in small)
                   for r in rows)
        print(f"both goals: {both}/{total}")
    if skipped:
        print("no hand-written formula (skipped): " + "; ".join(skipped))
    for note in notes:
        print("note: " + note)
    load1 = os.getloadavg()
    print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; "
          f"wall time {time.perf_counter() - t_start:.0f} s")


def _csv(text):
    return [s.strip() for s in text.split(",") if s.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", help="comma-separated family names (default: all)")
    ap.add_argument("--quantities", default=",".join(HW.QUANTITIES),
                    help="comma-separated, of fisher, score, log_density, kl, entropy")
    ap.add_argument("--sizes", default="1,10,1000,1000000", help="comma-separated N")
    ap.add_argument("--repeat", type=int, default=7, help="interleaved rounds (default 7)")
    ap.add_argument("--module-dir", default=str(REPO / "generated" / "numpy"),
                    help="directory of the generated NAME.py modules")
    ap.add_argument("--no-accuracy", action="store_true",
                    help="skip the 30-digit accuracy column (no symgeo import)")
    ap.add_argument("--times", action="store_true",
                    help="also print the absolute times per call (generated/hand-written)")
    a = ap.parse_args(argv)

    families = _csv(a.families) if a.families else list(HW.FAMILIES)
    unknown = sorted(set(families) - set(HW.FAMILIES))
    if unknown:
        ap.error(f"unknown families: {', '.join(unknown)} (known: {', '.join(HW.FAMILIES)})")
    quantities = _csv(a.quantities)
    bad = sorted(set(quantities) - set(HW.QUANTITIES))
    if bad:
        ap.error(f"unknown quantities: {', '.join(bad)} (known: {', '.join(HW.QUANTITIES)})")
    try:
        sizes = [int(float(s)) for s in _csv(a.sizes)]
    except ValueError:
        ap.error(f"--sizes: comma-separated positive integers, not {a.sizes!r}")
    if not sizes or min(sizes) < 1:
        ap.error("--sizes: comma-separated positive integers")
    if a.repeat < 1:
        ap.error("--repeat: at least 1")
    module_dir = Path(a.module_dir).resolve()
    if not module_dir.is_dir():
        ap.error(f"--module-dir: {module_dir} is not a directory")
    run(families, quantities, sizes, a.repeat, module_dir, not a.no_accuracy, a.times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
