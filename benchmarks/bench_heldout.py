"""Held-out families (tests/data/heldout/*.toml, none of them in the catalog).

For each: declare it from its file, derive the Fisher matrix symbolically
(in a child process, killed after --timeout seconds), and compare it with an
independent mpmath quadrature of E[s s^T] under the declared density at a
generic point (tests/oracle.py).  Prints one line per family and the pass rate.

    python benchmarks/bench_heldout.py [--timeout 60]
"""

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _job(path, conn):
    import mpmath
    import sympy as sp

    import oracle
    import symgeo
    t0 = time.perf_counter()
    try:
        fam = symgeo.load_family(path)
        F = fam.fisher()
        dt = time.perf_counter() - t0
        pt = fam.generic_point()
        s = fam.score()
        d = fam.dimension
        ref = oracle.expect(fam, [s[i] * s[j] for i in range(d) for j in range(d)], pt, dps=30)
        got = [sp.N(F[i, j].xreplace(pt), 30) for i in range(d) for j in range(d)]
        with mpmath.workdps(30):
            err = max(abs(mpmath.mpf(g) - r) / max(1, abs(r)) for g, r in zip(got, ref))
        routes = fam.fisher_result().route_summary
        conn.send(("ok" if err < 1e-20 else "WRONG", dt, f"max rel err {mpmath.nstr(err, 3)}; {routes}"))
    except Exception as exc:  # noqa: BLE001
        conn.send(("refused", time.perf_counter() - t0, " ".join(str(exc).split())[:160]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()
    files = sorted((ROOT / "tests" / "data" / "heldout").glob("*.toml"))
    passed = 0
    for path in files:
        parent, child = mp.Pipe(duplex=False)
        proc = mp.get_context("fork").Process(target=_job, args=(str(path), child))
        t0 = time.perf_counter()
        proc.start()
        if parent.poll(args.timeout):
            status, dt, detail = parent.recv()
        else:
            status, dt, detail = "timeout", time.perf_counter() - t0, ""
        proc.kill()
        proc.join()
        passed += status == "ok"
        print(f"{path.stem:20s} {status:8s} fisher {dt:6.1f} s  {detail}", flush=True)
    print(f"passed {passed}/{len(files)}")


if __name__ == "__main__":
    main()
