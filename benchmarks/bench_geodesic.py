"""Fisher-Rao distances: symgeo's compiled geodesic core against geomstats, symgeo's
previous implementation and closed forms, on the same pairs in the same run (issue 14).

    python benchmarks/bench_geodesic.py [--pairs 50] [--far 50] [--batch 10000]
                                        [--old 10] [--families beta,gamma,dirichlet,student_t]

Pairs: points uniform in (0.5, 5)^d in the catalog coordinates (real coordinates in
(-3, 3)); "far" pairs in the box 100x larger, (0.5, 500)^d (real: (-300, 300)).
Gamma is handed to geomstats in its own chart (shape, mean = shape / rate), the same
points.  Reported per family:

* time per distance: the median of single calls (the family's core compiled once
  before timing), and a batch of all pairs divided by their number; geomstats the
  same (``metric.dist`` one pair at a time, and vectorised on all pairs);
* accuracy: symgeo's residual (relative endpoint miss, measured by an integration at
  rtol 1e-12), geomstats' endpoint miss |exp_p(log_p q) - q| / max(1, |q|) and the
  relative difference of the two distances; student_t against its closed form
  (a hyperbolic half-plane), normal too;
* the previous implementation (git show PREVIOUS:symgeo/geometry/geodesic.py, loaded
  beside the current package) on ``--old`` pairs;
* convergence on the far pairs; the 10^4-pair beta batch.

geomstats 2.8 imports numpy.trapz, gone in numpy 2.4: the benchmark aliases it to
numpy.trapezoid in its own process before importing geomstats.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import symgeo
from symgeo.geometry import geodesic as G
from symgeo.geometry import geodesic_numeric as GN

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS = "1977193"  # main before issue 14


def sample(fam, n, rng, far=False):
    core = G._core(fam, 0)
    out = np.empty((0, fam.dimension))
    while len(out) < n:
        cols = []
        for c in fam.coordinates:
            dom = fam.domains[c]
            if dom.positive:
                cols.append(rng.uniform(0.5, 500 if far else 5, 4 * n))
            else:
                cols.append(rng.uniform(-300, 300, 4 * n) if far else rng.uniform(-3, 3, 4 * n))
        X = np.stack(cols, axis=1)
        out = np.concatenate([out, X[core.inside(X)]])
    return out[:n]


def geomstats_space(name):
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid  # geomstats 2.8 against numpy >= 2.4
    try:
        if name == "beta":
            from geomstats.information_geometry.beta import BetaDistributions
            return BetaDistributions(), lambda X: X
        if name == "gamma":
            from geomstats.information_geometry.gamma import GammaDistributions
            return GammaDistributions(), lambda X: np.stack([X[:, 0], X[:, 0] / X[:, 1]], 1)
        if name == "dirichlet":
            from geomstats.information_geometry.dirichlet import DirichletDistributions
            return DirichletDistributions(3), lambda X: X
    except ImportError:
        return None
    return None


def old_module():
    """The previous geodesic.py, loaded as symgeo.geometry._geodesic_previous."""
    src = subprocess.run(["git", "show", f"{PREVIOUS}:symgeo/geometry/geodesic.py"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    if src.returncode:
        return None
    path = Path(tempfile.mkdtemp()) / "geodesic_previous.py"
    path.write_text(src.stdout)
    spec = importlib.util.spec_from_file_location("symgeo.geometry._geodesic_previous", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def median_time(fn, items):
    ts, out = [], []
    for it in items:
        t = time.perf_counter()
        out.append(fn(*it))
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def bench_family(name, args, rng, old):
    fam = symgeo.get_family(name)
    core = G._core(fam, 0)  # derive and compile once, outside the timings
    P, Q = sample(fam, args.pairs, rng), sample(fam, args.pairs, rng)
    row = {"family": name}
    # symgeo single calls (numeric route) and one batch
    GN.solve(core, P[:1], Q[:1])
    t1, single = median_time(lambda p, q: G.log_map_batch(fam, p[None], q[None]),
                             zip(P, Q))
    t = time.perf_counter()
    batch = G.log_map_batch(fam, P, Q)
    tb = (time.perf_counter() - t) / len(P)
    row.update(sg_single_ms=t1 * 1e3, sg_batch_ms=tb * 1e3,
               sg_conv=batch.converged.mean(), sg_res_max=float(np.max(batch.residual)),
               sg_res_med=float(np.median(batch.residual)))
    d_single = np.array([s.distance[0] for s in single])
    row["single_vs_batch"] = float(np.nanmax(np.abs(d_single - batch.distance) / batch.distance))
    form = fam.distance_formula()
    if form is not None:
        closed = G.fisher_rao_distance_batch(fam, P, Q, method="closed").distance
        row["vs_closed_form"] = float(np.max(np.abs(batch.distance - closed) / closed))
    # far pairs
    if args.far:
        Pf, Qf = sample(fam, args.far, rng, far=True), sample(fam, args.far, rng, far=True)
        t = time.perf_counter()
        fb = G.log_map_batch(fam, Pf, Qf, time_limit=300)
        row.update(far_conv=fb.converged.mean(), far_ms=(time.perf_counter() - t) / args.far * 1e3,
                   far_res_max=float(np.max(fb.residual[fb.converged], initial=0)))
        if form is not None:
            closed = G.fisher_rao_distance_batch(fam, Pf, Qf, method="closed").distance
            ok = fb.converged
            row["far_vs_closed_form"] = float(np.max(np.abs(fb.distance[ok] - closed[ok]) /
                                                     closed[ok], initial=0))
    # geomstats, same pairs
    gs_space = None if args.no_geomstats else geomstats_space(name)
    if gs_space is not None:
        space, to_gs = gs_space
        A, B = to_gs(P), to_gs(Q)
        n = min(args.gs_pairs, len(A))
        space.metric.dist(A[0], B[0])  # warm-up
        tg, gd = median_time(lambda a, b: float(space.metric.dist(a, b)), zip(A[:n], B[:n]))
        t = time.perf_counter()
        gdb = np.asarray(space.metric.dist(A[:n], B[:n]), dtype=float)
        tgb = (time.perf_counter() - t) / n
        gd = np.array(gd)
        miss = []
        for a, b in zip(A[:n], B[:n]):
            e = np.asarray(space.metric.exp(space.metric.log(b, a), a), dtype=float)
            miss.append(float(np.max(np.abs(e - b) / np.maximum(1, np.abs(b)))))
        row.update(gs_single_ms=tg * 1e3, gs_batch_ms=tgb * 1e3,
                   gs_miss_max=max(miss), gs_miss_med=float(np.median(miss)),
                   gs_vs_sg_max=float(np.max(np.abs(gd - batch.distance[:n]) /
                                             batch.distance[:n])),
                   gs_batch_vs_sg_max=float(np.max(np.abs(gdb - batch.distance[:n]) /
                                                   batch.distance[:n])),
                   ratio_single=tg / t1, ratio_batch=tgb / tb)
    # the previous implementation
    if old is not None and args.old:
        n = min(args.old, len(P))
        to, od = median_time(lambda p, q: old.fisher_rao_distance(fam, p, q, method="numeric"),
                             zip(P[:n], Q[:n]))
        od = np.array([r.distance if r.converged else np.nan for r in od])
        row.update(old_single_ms=to * 1e3,
                   old_vs_sg_max=float(np.nanmax(np.abs(od - batch.distance[:n]) /
                                                 batch.distance[:n])),
                   speedup_vs_old=to / t1)
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--gs-pairs", type=int, default=30, help="pairs timed one by one in geomstats")
    ap.add_argument("--far", type=int, default=30)
    ap.add_argument("--old", type=int, default=8)
    ap.add_argument("--batch", type=int, default=10000, help="beta pairs in the big batch (0: skip)")
    ap.add_argument("--families", default="beta,gamma,dirichlet,student_t")
    ap.add_argument("--no-geomstats", action="store_true")
    args = ap.parse_args(argv)
    print(f"load average at start: {os.getloadavg()}  (cores: {os.cpu_count()})")
    rng = np.random.default_rng(14)
    old = old_module() if args.old else None
    for name in args.families.split(","):
        row = bench_family(name, args, rng, old)
        print(f"\n== {name}")
        for k, v in row.items():
            if k != "family":
                print(f"  {k:22s} {v:.3g}" if isinstance(v, float) else f"  {k:22s} {v}")
    if args.batch:
        fam = symgeo.get_family("beta")
        P, Q = sample(fam, args.batch, rng), sample(fam, args.batch, rng)
        t = time.perf_counter()
        res = fam.fisher_rao_distance(P, Q)
        el = time.perf_counter() - t
        print(f"\n== beta batch of {args.batch} pairs: {el:.2f} s ({el / args.batch * 1e3:.3f} ms "
              f"per pair), converged {res.converged.mean():.4f}, max residual "
              f"{np.max(res.residual):.1e}")
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
