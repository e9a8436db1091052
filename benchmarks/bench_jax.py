"""Generated JAX functions under jax.jit against hand-written jax.numpy and against numpy.

    python benchmarks/bench_jax.py [--sizes 1000,1000000] [--repeat 5]

For fisher, kl and natural_gradient of gamma, beta, dirichlet and normal: the
committed ``generated/jax`` function under ``jax.jit``, the same formula written
by hand in jax.numpy under ``jax.jit`` (textbook forms, no domain masks), and the
``generated/numpy`` function, interleaved and repeated in one run (median of
each; float64).  The ratio jit(generated) / jit(hand-written) is the number the
issue's goal (<= 1.2x) is about.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jax.scipy.special as jsp  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1] / "generated"


def _module(backend, name):
    spec = importlib.util.spec_from_file_location(f"{backend}_{name}", ROOT / backend / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _tri(x):
    return jsp.polygamma(1, x)


def _sym2(a, b, c):
    return jnp.stack([jnp.stack([a, b], -1), jnp.stack([b, c], -1)], -2)


def _ng(fisher):
    def natural_gradient(*args):
        *coords, g = args
        return jnp.linalg.solve(fisher(*coords), g[..., None])[..., 0]
    return natural_gradient


def gamma_fisher(a, b):
    return _sym2(_tri(a), -1 / b, a / b**2)


def gamma_kl(ap, bp, aq, bq):
    return ((ap - aq) * jsp.digamma(ap) - jsp.gammaln(ap) + jsp.gammaln(aq)
            + aq * jnp.log(bp / bq) + ap * (bq - bp) / bp)


def beta_fisher(a, b):
    t = _tri(a + b)
    return _sym2(_tri(a) - t, -t, _tri(b) - t)


def beta_kl(ap, bp, aq, bq):
    return (jsp.betaln(aq, bq) - jsp.betaln(ap, bp) + (ap - aq) * jsp.digamma(ap)
            + (bp - bq) * jsp.digamma(bp) + (aq - ap + bq - bp) * jsp.digamma(ap + bp))


def dirichlet_fisher(a1, a2, a3):
    a = jnp.stack([a1, a2, a3], -1)
    return jnp.vectorize(jnp.diag, signature="(k)->(k,k)")(_tri(a)) - \
        _tri(a1 + a2 + a3)[..., None, None]


def dirichlet_kl(a1, a2, a3, b1, b2, b3):
    a, b = jnp.stack([a1, a2, a3], -1), jnp.stack([b1, b2, b3], -1)
    a0, b0 = a.sum(-1), b.sum(-1)
    return (jsp.gammaln(a0) - jsp.gammaln(a).sum(-1) - jsp.gammaln(b0) + jsp.gammaln(b).sum(-1)
            + ((a - b) * (jsp.digamma(a) - jsp.digamma(a0)[..., None])).sum(-1))


def normal_fisher(mu, sigma):
    c = 1 / sigma**2
    return _sym2(c, jnp.zeros_like(c), 2 * c)


def normal_kl(mp, sp, mq, sq):
    return jnp.log(sq / sp) + (sp**2 + (mp - mq)**2) / (2 * sq**2) - 0.5


HAND = {(f, q): globals()[f"{f}_{q}"] for f in ("gamma", "beta", "dirichlet", "normal")
        for q in ("fisher", "kl")}
HAND.update({(f, "natural_gradient"): _ng(HAND[(f, "fisher")])
             for f in ("gamma", "beta", "dirichlet", "normal")})


def _inputs(family, quantity, n, rng):
    d = {"dirichlet": 3}.get(family, 2)
    pos = lambda: rng.uniform(0.5, 5.0, n)  # noqa: E731
    coords = {"normal": lambda: [rng.normal(size=n), pos()]}.get(family, lambda: [pos() for _ in range(d)])
    args = coords()
    if quantity == "kl":
        args += coords()
    if quantity == "natural_gradient":
        args.append(rng.normal(size=(n, d)))
    return args


def _time(fn, args, inner):
    t0 = time.perf_counter()
    for _ in range(inner):
        out = fn(*args)
    if hasattr(out, "block_until_ready"):
        out.block_until_ready()
    return (time.perf_counter() - t0) / inner


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,1000000")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    print(f"load at start: {os.getloadavg()[0]:.2f}; jax {jax.__version__}, float64\n")
    print("| family | quantity | N | jit(generated) | jit(hand jax) | ratio | numpy generated | max rel diff |")
    print("|---|---|---|---|---|---|---|---|")
    for (family, quantity), hand in HAND.items():
        gen_j = jax.jit(getattr(_module("jax", family), quantity))
        gen_n = getattr(_module("numpy", family), quantity)
        hand_j = jax.jit(hand)
        for n in sizes:
            host = _inputs(family, quantity, n, rng)
            dev = [jnp.asarray(a) for a in host]
            a, b = np.asarray(gen_j(*dev)), np.asarray(hand_j(*dev))  # compile
            diff = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))
            inner = max(1, int(2e5 // n))
            tg, th, tn = [], [], []
            for _ in range(args.repeat):
                tg.append(_time(gen_j, dev, inner))
                th.append(_time(hand_j, dev, inner))
                tn.append(_time(gen_n, host, inner))
            g, h, nn = (statistics.median(t) for t in (tg, th, tn))
            print(f"| {family} | {quantity} | {n:.0e} | {g * 1e3:.3f} ms | {h * 1e3:.3f} ms | "
                  f"{g / h:.2f}x | {nn * 1e3:.3f} ms | {diff:.1e} |")
    print(f"\nload at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
