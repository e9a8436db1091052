"""The array-API modules on chunked Dask arrays against the numpy modules at N = 10^8.

    python benchmarks/bench_dask.py [--n 100000000] [--chunk 2000000] [--family gamma]

For fisher and kl of one family: each run happens in a fresh child process,
which reports its wall time and its peak resident memory (ru_maxrss), so the
numbers are not mixed between runs:

* numpy: the generated/numpy function on whole arrays of N points (inputs and
  output in memory at once), reduced to a sum;
* dask: the generated/array_api function on Dask arrays of N points in chunks,
  reduced to the same sum (``.sum().compute()``): only a few chunks are ever in
  memory, so the peak stays bounded whatever N is.

Both runs use the same points; their sums are compared (they differ only by the
order of summation), and the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "generated"

CHILD = r"""
import importlib.util, json, resource, sys, time
import numpy as np
backend, family, quantity, n, chunk = sys.argv[1:6]
n, chunk = int(n), int(chunk)
tree = "numpy" if backend == "numpy" else "array_api"
spec = importlib.util.spec_from_file_location("m", f"{sys.argv[6]}/{tree}/{family}.py")
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
fn = getattr(mod, quantity)
d = len(mod.COORDINATES)
k = 2 * d if quantity == "kl" else d
t = time.perf_counter()
# the same points in both runs: coordinate j of point i is 0.5 + 4.5 frac(i r_j)
ratios = [0.6180339887498949 * (j + 1) ** 0.5 for j in range(k)]
if backend == "numpy":
    i = np.arange(n, dtype=float)
    args = [0.5 + 4.5 * ((i * r) % 1.0) for r in ratios]
    del i
    total = float(np.sum(fn(*args)))
else:
    import dask.array as da
    i = da.arange(n, chunks=chunk, dtype=float)
    args = [0.5 + 4.5 * ((i * r) % 1.0) for r in ratios]
    total = float(fn(*args).sum().compute())
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "sum": total}))
"""


def run(backend, family, quantity, n, chunk):
    out = subprocess.run([sys.executable, "-c", CHILD, backend, family, quantity, str(n),
                          str(chunk), str(ROOT)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000_000)
    ap.add_argument("--chunk", type=int, default=2_000_000)
    ap.add_argument("--family", default="gamma")
    args = ap.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f}; N = {args.n:.0e}, chunks of "
          f"{args.chunk:.0e}; family {args.family}")
    print(f"{'quantity':10} {'backend':6} {'seconds':>8} {'peak MB':>8}  sum")
    for quantity in ("fisher", "kl"):
        res = {b: run(b, args.family, quantity, args.n, args.chunk) for b in ("numpy", "dask")}
        for b, r in res.items():
            print(f"{quantity:10} {b:6} {r['seconds']:8.1f} {r['peak_mb']:8.0f}  {r['sum']!r}")
        rel = abs(res["dask"]["sum"] - res["numpy"]["sum"]) / abs(res["numpy"]["sum"])
        print(f"{'':10} dask/numpy time {res['dask']['seconds'] / res['numpy']['seconds']:.2f}, "
              f"memory {res['dask']['peak_mb'] / res['numpy']['peak_mb']:.3f}, "
              f"sums differ by {rel:.1e} (summation order)")
        if rel > 1e-10:
            raise SystemExit(f"{quantity}: the sums disagree ({rel:.1e})")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
