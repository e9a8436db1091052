"""Cost against the number of parameters: families whose size is a hyper-parameter.

Each row runs in a fresh child process (nothing cached between rows), killed
after --timeout seconds, and times: declaring the family (parse, expand,
normalisation check), the symbolic Fisher matrix, and optionally (--tensors)
the Amari-Chentsov tensor T_ijk and the Christoffel symbols of the
Levi-Civita connection.  Regression rows time a model with n observations.

    python benchmarks/bench_scaling.py [--timeout 120] [--tensors]
"""

import argparse
import multiprocessing as mp
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ROWS = [("categorical", {"K": k}) for k in (3, 5, 10)] + \
       [("multinomial", {"K": k}) for k in (3, 5, 10)] + \
       [("dirichlet", {"K": k}) for k in (3, 5, 10)] + \
       [("mvnormal", {"d": d}) for d in (2, 3, 4)] + \
       [("poisson_regression", {"n": n}) for n in (10, 100)] + \
       [("logistic_regression", {"n": n}) for n in (10, 100)]

GLM = """
name = "{name}"
variables = ["y[1:len(x)]"]
support = {support}
log_density = "{log_density}"
[data]
x = {x}
[[coordinates]]
name = "b[1:2]"
domain = "real"
"""
LOG_DENSITY = {
    "poisson_regression": ('{ kind = "integers", lower = 0 }',
                           "sum(y[i]*(b[1] + b[2]*x[i]) - exp(b[1] + b[2]*x[i]) "
                           "- log(factorial(y[i])), i, 1, len(x))"),
    "logistic_regression": ('{ kind = "integers", lower = 0, upper = 1 }',
                            "sum(y[i]*(b[1] + b[2]*x[i]) - log(1 + exp(b[1] + b[2]*x[i])), "
                            "i, 1, len(x))"),
}


def _family(name, size):
    import symgeo
    from symgeo.declare.loader import declaration_from_text
    if name in LOG_DENSITY:
        support, ld = LOG_DENSITY[name]
        n = size["n"]
        xs = [round(-2 + 4 * i / (n - 1), 3) for i in range(n)]
        text = GLM.format(name=name, support=support, log_density=ld, x=xs)
        return symgeo.Family(**declaration_from_text(text, f"<{name}>"))
    return symgeo.get_family(name, **size)


def _job(name, size, tensors, conn):
    """Sends ("stage", seconds) after each stage, so a timeout shows how far it got."""
    stages = [("fisher", lambda f: f.fisher())]
    if tensors:
        stages += [("T_ijk", lambda f: f.amari_chentsov()), ("Gamma", lambda f: f.christoffel())]
    try:
        t0 = time.perf_counter()
        fam = _family(name, size)
        conn.send(("params", fam.dimension))
        conn.send(("declare", time.perf_counter() - t0))
        for stage, run in stages:
            t0 = time.perf_counter()
            run(fam)
            conn.send((stage, time.perf_counter() - t0))
        conn.send(("done", "ok"))
    except Exception as exc:  # noqa: BLE001
        conn.send(("done", "error: " + " ".join(str(exc).split())[:100]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--tensors", action="store_true")
    args = ap.parse_args()
    cols = ["declare", "fisher"] + (["T_ijk", "Gamma"] if args.tensors else [])
    print(f"{'family':22s} {'size':8s} {'params':>6s} " + " ".join(f"{c:>9s}" for c in cols))
    for name, size in ROWS:
        parent, child = mp.Pipe(duplex=False)
        proc = mp.get_context("fork").Process(target=_job, args=(name, size, args.tensors, child))
        proc.start()
        out, status = {}, "timeout"
        deadline = time.perf_counter() + args.timeout
        while (left := deadline - time.perf_counter()) > 0 and parent.poll(left):
            key, value = parent.recv()
            if key == "done":
                status = value
                break
            out[key] = value
        proc.kill()
        proc.join()
        tag = ",".join(f"{k}={v}" for k, v in size.items())
        cells = " ".join(f"{out[c]:8.2f}s" if c in out else f"{'-':>9s}" for c in cols)
        note = "" if status == "ok" else f"  ({status})"
        print(f"{name:22s} {tag:8s} {out.get('params', '?'):>6} {cells}{note}", flush=True)


if __name__ == "__main__":
    main()
