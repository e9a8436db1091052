"""Cold Fisher-matrix derivation of the whole catalog, beside plain sympy.integrate.

Run:  python benchmarks/bench_fisher.py [--cap SECONDS] [--skip-baseline]

Part 1 derives every catalog family's Fisher matrix in one fresh process
(declaration parsing and validation included, per family, then total) and
prints the route used.  Part 2, in the same run, computes -E[Hessian] by plain
``sympy.integrate`` of the declared density on a few families, each in its
own process capped at --cap CPU-seconds, and prints the ratio.
Goal: the whole catalog in under 30 s on a 2-core machine, no family over 5 s.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import sympy as sp


def derive_catalog():
    import symgeo
    rows = []
    t_all = time.perf_counter()
    for name in symgeo.family_names():
        t0 = time.perf_counter()
        fam = symgeo.get_family(name)
        t1 = time.perf_counter()
        res = fam.fisher_result()
        t2 = time.perf_counter()
        rows.append((name, t1 - t0, t2 - t1, res.form, res.route_summary))
    return rows, time.perf_counter() - t_all


def _plain_integrate(name, conn):
    import resource

    import symgeo
    fam = symgeo.get_family(name)
    x = fam.variables[0]
    lo, hi = fam.support.lower[0], fam.support.upper[0]
    dens = sp.exp(fam.log_density)
    H = fam.hessian()
    out = []
    for i in range(H.rows):
        for j in range(i, H.cols):
            out.append(sp.integrate(-H[i, j] * dens, (x, lo, hi), conds="none"))
    ok = not any(e.has(sp.Integral) for e in out)
    conn.send((ok, resource.getrusage(resource.RUSAGE_SELF).ru_utime))


def baseline(name, cap):
    import resource
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def run():
        resource.setrlimit(resource.RLIMIT_CPU, (cap, cap + 1))
        _plain_integrate(name, child)
    p = ctx.Process(target=run, daemon=True)
    t0 = time.perf_counter()
    p.start()
    got = parent.poll(cap * 2 + 10)
    elapsed = time.perf_counter() - t0
    result = parent.recv() if got else None
    if p.is_alive():
        p.kill()
    p.join()
    if result is None:
        return None, f"killed at the {cap} s cap"
    ok, _ = result
    return elapsed, "closed" if ok else "unevaluated Integral"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cap", type=int, default=60, help="CPU-seconds per baseline family")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--baseline", nargs="*", default=["normal", "exponential", "beta", "cauchy",
                                                       "student_t"])
    args = ap.parse_args()
    rows, total = derive_catalog()
    print(f"{'family':20s} {'declare s':>9s} {'fisher s':>9s}  form     route")
    for name, td, tf, form, route in rows:
        print(f"{name:20s} {td:9.3f} {tf:9.3f}  {form:8s} {route}")
    worst = max(rows, key=lambda r: r[1] + r[2])
    print(f"\ncatalog total: {total:.2f} s for {len(rows)} families "
          f"(slowest: {worst[0]} {worst[1] + worst[2]:.2f} s)")
    if args.skip_baseline:
        return
    print(f"\nplain sympy.integrate of -E[Hessian] (cap {args.cap} CPU-s per family):")
    print(f"{'family':20s} {'integrate s':>11s} {'symgeo s':>9s} {'ratio':>8s}  outcome")
    by_name = {r[0]: r[2] for r in rows}
    for name in args.baseline:
        secs, outcome = baseline(name, args.cap)
        mine = by_name[name]
        if secs is None:
            print(f"{name:20s} {'>' + str(args.cap):>11s} {mine:9.3f} {'>' + format(args.cap / mine, '.0f'):>8s}  {outcome}")
        else:
            print(f"{name:20s} {secs:11.2f} {mine:9.3f} {secs / mine:8.0f}  {outcome}")


if __name__ == "__main__":
    main()
