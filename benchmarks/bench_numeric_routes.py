"""Speed and accuracy of the numeric routes (quantities with no closed form).

For every catalog family and each of kl, entropy, cross_entropy and
alpha_divergence whose generated function uses a numeric route (quadrature or
a truncated series), time one call on N parameter pairs drawn at generic
points of the domain, and measure the worst relative error against the mpmath
route (30 digits) at a few of those pairs (--check of them, spread over the N).

    python benchmarks/bench_numeric_routes.py [--n 1000000] [--families a,b] [--check 3]
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np

from symgeo import get_family
from symgeo.codegen import numpy as N
from symgeo.declare.catalog import family_names

QUANTITIES = ("kl", "entropy", "cross_entropy", "alpha_divergence")
ALPHA = 0.3


def _points(fam, n, seed):
    rng = random.Random(seed)
    base = [fam.random_point(random.Random(seed * 1000 + k)) for k in range(16)]
    cols = []
    for c in fam.coordinates:
        vals = np.array([float(b[c]) for b in base])
        cols.append(vals[np.array([rng.randrange(16) for _ in range(n)])] if n else vals)
    return cols


def _reference(fam, q, p, r):
    if q == "kl":
        return fam.kl_numeric(p, r)
    if q == "entropy":
        return fam.entropy_numeric(p)
    if q == "cross_entropy":
        return fam.entropy_numeric(p) + fam.kl_numeric(p, r)
    return fam.alpha_divergence_numeric(ALPHA, p, r)


def run(names, n, check):
    print(f"load {os.getloadavg()[0]:.1f}; N = {n}")
    print(f"{'family':18} {'quantity':16} {'seconds':>8} {'max rel. err':>12}")
    for name in names:
        fam = get_family(name)
        src, emitted, _ = N.module_parts(fam, [q for q in QUANTITIES if N.available(fam, q)],
                                         skip_failures=True)
        ns = {}
        exec(compile(src, name, "exec"), ns)  # noqa: S102 - our own generated module
        for q in emitted:
            doc = ns[q].__doc__ or ""
            if "numeric route" not in doc:
                continue
            p, r = _points(fam, n, 1), _points(fam, n, 2)
            args = ([ALPHA] if q == "alpha_divergence" else []) + p + \
                (r if q != "entropy" else [])
            t0 = time.perf_counter()
            ns[q](*args)
            dt = time.perf_counter() - t0
            worst = 0.0
            for k in range(check):  # rows of this benchmark, spread over its pairs
                i = (k * 7919) % n if n else 0
                pk = [float(c[i]) for c in p]
                rk = [float(c[i]) for c in r]
                a = ([ALPHA] if q == "alpha_divergence" else []) + pk + \
                    (rk if q != "entropy" else [])
                ref = float(_reference(fam, q, pk, rk))
                worst = max(worst, abs(float(ns[q](*a)) - ref) / abs(ref))
            print(f"{name:18} {q:16} {dt:8.2f} {worst:12.1e}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--families", default="")
    ap.add_argument("--check", type=int, default=3)
    a = ap.parse_args()
    names = a.families.split(",") if a.families else family_names()
    run(names, a.n, a.check)


if __name__ == "__main__":
    main()
