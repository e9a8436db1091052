"""The JAX backend's checks, run in a process of their own by tests/codegen/test_jax.py.

JAX starts threads, and symgeo's budgets fork: a test worker that imported
JAX could deadlock in a later fork, so nothing JAX runs inside the workers.

    python tests/codegen/jax_checks.py NAME [NAME ...]   -> JSON {"checked", "failures"}
    python tests/codegen/jax_checks.py --routes           -> the same, for the numeric routes

Checks, for each family (generated/jax against generated/numpy, float64):
every function agrees with numpy to 1e-12; so do the array-API modules given JAX
arrays (one quantity also under jit); fisher/kl/entropy give the same
values under jit(vmap) as eagerly; at q = p the gradient of KL(p || q) in q vanishes
and its Hessian is the Fisher matrix (1e-10); the gradient of log_density in
the coordinates is the score; a numpy function missing from the jax module is
listed with its reason in the module docstring.
"""

import json
import random
import sys
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

sys.path.insert(0, str(Path(__file__).resolve().parent))

import symgeo  # noqa: E402
from symgeo.codegen import numpy as N  # noqa: E402

from _points import ROUTE_CASES, arguments, forced_module, generated_module, route_family  # noqa: E402


def _stack(fam, quantity, rng, n=4):
    rows = [arguments(fam, quantity, rng) for _ in range(n)]
    return None if rows[0] is None else [np.array(col) for col in zip(*rows)]


def check_family(name):
    """(number of checks, [failure messages]) for one catalog family."""
    fam = route_family(name, validate=False)
    nmod, jmod = generated_module("numpy", name), generated_module("jax", name)
    rng = random.Random(11)
    checked, failures = 0, []

    def expect(ok, what):
        nonlocal checked
        checked += 1
        if not ok:
            failures.append(f"{name}: {what}")

    for quantity in N.QUANTITIES:
        fj, fn = getattr(jmod, quantity, None), getattr(nmod, quantity, None)
        if fn is not None and fj is None:
            expect(f"  {quantity}:" in (jmod.__doc__ or ""), f"{quantity} missing, no reason")
        if fj is None or fn is None:
            continue
        args = _stack(fam, quantity, rng)
        if args is None:
            continue
        want = np.asarray(fn(*args))
        # a numeric route runs under jit here (an eager call compiles each lax.map and
        # lax.cond on its own); check_routes checks eager, jit and vmap once per rule
        routed = "numeric route" in (fj.__doc__ or "")
        got = np.asarray((jax.jit(fj) if routed else fj)(*[jnp.asarray(a) for a in args]))
        expect(got.shape == want.shape and
               np.allclose(got, want, rtol=1e-12, atol=1e-13, equal_nan=True),
               f"{quantity}: jax {got.tolist()} != numpy {want.tolist()}")
        if quantity in ("fisher", "kl", "entropy") and not routed:
            # jit and vmap against the eager call in one XLA compilation (most of this
            # check process's time is compiling; an eager vmap compiles every primitive)
            jargs = [jnp.asarray(a) for a in args]
            expect(np.allclose(np.asarray(jax.jit(jax.vmap(fj))(*jargs)), got, rtol=1e-13,
                               atol=1e-14),
                   f"{quantity}: jit(vmap) differs from the eager call")
    kl_doc = getattr(getattr(jmod, "kl", None), "__doc__", None) or ""
    if "Taylor polynomial" in kl_doc or "remainder integral" in kl_doc:
        # q within 1e-5 of p: the near-diagonal branch (Taylor polynomial or remainder
        # integral) against numpy's
        p = arguments(fam, "fisher", random.Random(7))
        q = [c * (1 + 1e-5) if c else 1e-5 for c in p]
        want, got = float(nmod.kl(*p, *q)), float(jax.jit(jmod.kl)(*p, *q))
        expect(abs(got - want) <= 1e-12 * abs(want), f"kl near p: jax {got} != numpy {want}")
    if hasattr(jmod, "_ive"):
        check_ive(jmod._ive, jmod._IVE_MAX_ORDER, expect)
    if hasattr(jmod, "kl") and hasattr(jmod, "fisher"):
        p = arguments(fam, "fisher", random.Random(5))

        def kl_of_q(q):
            return jmod.kl(*p, *q)
        q0 = jnp.asarray(p)
        grad = np.asarray(jax.jit(jax.grad(kl_of_q))(q0))
        hess = np.asarray(jax.jit(jax.hessian(kl_of_q))(q0))
        fisher = np.asarray(jmod.fisher(*p))
        expect(np.allclose(grad, 0, atol=1e-10), f"grad KL at q=p is {grad.tolist()}")
        expect(np.allclose(hess, fisher, rtol=1e-10, atol=1e-10),
               f"Hessian of KL at q=p {hess.tolist()} != Fisher {fisher.tolist()}")
    # the array-API modules with JAX arrays: JAX arrays out, numpy's values, under jit too
    amod = generated_module("array_api", name)
    # all five eagerly; under jit the first one the module has with a closed form (the
    # same printer and helpers: one compilation per family is the check's cost)
    jitted_quantity = next((q for q in ("kl", "entropy", "fisher") if hasattr(amod, q) and
                            "numeric route" not in (getattr(amod, q).__doc__ or "")), "fisher")
    for quantity in ("fisher", "score", "kl", "entropy", "log_density"):
        fa, fn = getattr(amod, quantity, None), getattr(nmod, quantity, None)
        args = _stack(fam, quantity, rng) if fa is not None and fn is not None else None
        if args is None or "numeric route" in (fa.__doc__ or ""):
            # a numeric route on JAX arrays is the jax module's (checked above); the
            # array-API route's code is checked on numpy, strict and Dask arrays
            continue
        want = np.asarray(fn(*args))
        jargs = [jnp.asarray(a) for a in args]
        try:
            got = fa(*jargs)
        except NotImplementedError as exc:  # ive: JAX has none, nor has the jax module
            expect(getattr(jmod, quantity, None) is None and "jax.numpy" in str(exc),
                   f"array_api {quantity} on JAX arrays: {exc}")
            continue
        expect(isinstance(got, jax.Array) and np.allclose(np.asarray(got), want, rtol=1e-12,
                                                          atol=1e-13, equal_nan=True),
               f"array_api {quantity} on JAX arrays: {np.asarray(got).tolist()} != numpy "
               f"{want.tolist()}")
        if quantity != jitted_quantity:
            continue
        try:
            jitted = np.asarray(jax.jit(fa)(*jargs))
        except ValueError as exc:  # a series route: its length depends on the values
            expect("series" in str(exc) and getattr(jmod, quantity, None) is not None,
                   f"array_api {quantity} under jit: {exc}")
            continue
        expect(np.allclose(jitted, want, rtol=1e-12, atol=1e-13, equal_nan=True),
               f"array_api {quantity} under jit differs")
    if len(fam.variables) == 1 and hasattr(jmod, "score") and hasattr(jmod, "log_density"):
        grad_ld = jax.jit(jax.grad(lambda c, x: jmod.log_density(x, *c)))
        for _ in range(3):
            x, *coords = arguments(fam, "log_density", rng)
            grad = np.asarray(grad_ld(jnp.asarray(coords), x))
            score = np.asarray(jmod.score(x, *coords))
            expect(np.allclose(grad, score, rtol=1e-10, atol=1e-12),
                   f"grad log_density {grad.tolist()} != score {score.tolist()} at x={x}")
    return checked, failures


def check_ive(ive, top, expect):
    """The bundled I_n e^-|x| (n = 2 .. top) against mpmath (30 digits) on both sides of
    the switch to the asymptotic series, at 0 and at NaN; its derivative against
    d/dx [I_n(x) e^-|x|] = (I_(n-1) + I_(n+1))/2 e^-|x| - sign(x) I_n e^-|x|, where
    the switch is (|x| = 25: a minimum/maximum split would halve the gradient there)."""
    import mpmath

    def exact(n, v):
        return mpmath.besseli(n, v) * mpmath.exp(-abs(v))

    orders = range(2, top + 1)
    x = np.concatenate([-np.geomspace(1e-3, 1e4, 25), [0.0], np.geomspace(1e-3, 1e4, 25),
                        [24.999, 25.0, 25.001, np.nan]])
    # eagerly: compiling the unrolled series of seven orders and their gradients took
    # 15 s, running them op by op 5 s (the values are the same bits; the helper is
    # traced under jit by the family's own checks, von Mises kl and alpha_divergence)
    table = np.asarray(jnp.stack([ive(n, jnp.asarray(x)) for n in orders]))
    at = np.array([24.0, 25.0, -25.0, 26.0])
    slopes = np.asarray(jnp.stack([jax.vmap(jax.grad(lambda t, n=n: ive(n, t)))(jnp.asarray(at))
                                   for n in orders]))
    with mpmath.workdps(30):
        for n, got, slope in zip(orders, table, slopes):
            want = np.array([float(exact(n, v)) for v in x[:-1]] + [np.nan])
            expect(np.allclose(got, want, rtol=3e-15, atol=0, equal_nan=True),
                   f"_ive({n}, x): {got.tolist()} != mpmath {want.tolist()}")
            dwant = np.array([float((exact(n - 1, v) + exact(n + 1, v)) / 2 -
                                    mpmath.sign(v) * exact(n, v)) for v in at])
            expect(np.allclose(slope, dwant, rtol=1e-12, atol=0),
                   f"d/dx _ive({n}, x) at {at.tolist()}: {slope.tolist()} != {dwant.tolist()}")


def check_routes():
    """Each numeric route rule (forced where a closed form exists) in JAX: numpy's values
    to 1e-12 under jit and under vmap, float32 within 1e-4 of float64, and for a KL
    by quadrature: at q = p its gradient in q vanishes and its Hessian is the Fisher
    matrix (the sums are differentiated node by node)."""
    checked, failures = 0, []

    def expect(ok, what):
        nonlocal checked
        checked += 1
        if not ok:
            failures.append(what)

    rng = random.Random(3)
    for name, quantity in ROUTE_CASES:
        fam = route_family(name, validate=False)
        fn = forced_module(fam, quantity)[quantity]
        fj = forced_module(fam, quantity, backend="jax")[quantity]
        args = _stack(fam, quantity, rng)
        want = np.asarray(fn(*args))
        jargs = [jnp.asarray(a) for a in args]
        got = np.asarray(jax.jit(fj)(*jargs))  # eager, the same trace, compiles op by op
        expect(np.allclose(got, want, rtol=1e-12, atol=1e-13),
               f"{name} {quantity}: jax {got.tolist()} != numpy {want.tolist()}")
        expect(np.allclose(np.asarray(jax.jit(jax.vmap(fj))(*jargs)), want, rtol=1e-12,
                           atol=1e-13), f"{name} {quantity}: vmap differs")
        single = np.asarray(jax.jit(fj)(*[jnp.asarray(a, dtype=jnp.float32) for a in args]))
        expect(single.dtype == np.float32 and np.allclose(single, want, rtol=1e-4, atol=1e-5),
               f"{name} {quantity}: float32 {single.tolist()} != {want.tolist()}")
        if quantity == "kl":
            p = arguments(fam, "fisher", rng)
            fisher = np.asarray(generated_module("numpy", name).fisher(*p))

            def kl_of_q(q, fj=fj, p=p):
                return fj(*p, *q)
            q0 = jnp.asarray(p)
            grad = np.asarray(jax.jit(jax.grad(kl_of_q))(q0))
            hess = np.asarray(jax.jit(jax.hessian(kl_of_q))(q0))
            expect(np.allclose(grad, 0, atol=1e-10), f"{name}: grad of KL at q=p {grad.tolist()}")
            expect(np.allclose(hess, fisher, rtol=1e-10, atol=1e-10),
                   f"{name}: Hessian of KL at q=p {hess.tolist()} != Fisher {fisher.tolist()}")
    return checked, failures


def main(names):
    checked, failures = 0, []
    for name in names:
        try:
            c, f = check_routes() if name == "--routes" else check_family(name)
        except Exception as exc:  # noqa: BLE001 - reported to the test as a failure
            c, f = 1, [f"{name}: {type(exc).__name__}: {exc}"]
        checked += c
        failures += f
    print(json.dumps({"checked": checked, "failures": failures}))


if __name__ == "__main__":
    main(sys.argv[1:])
