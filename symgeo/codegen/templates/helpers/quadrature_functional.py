{% include "helpers/quadrature_rules.py" %}
{% set jax = backend == "jax" %}{% set xi = "xp, " if backend == "array_api" else "" %}
_SERIES_PART = 256        # terms of a series block evaluated at once
_SERIES_GROWTH = 8        # each series block is 8 times the last (numpy's doubles): 7 blocks
# reach _SERIES_MAX terms, so a traced series compiles 7 integrands, not 18
{% if jax %}
# The numpy helper's rules, written without Python control flow on values: rows go
# through jax.lax.map in blocks; a halving of the step (a block of series terms) runs
# under jax.lax.cond only while a row of the block is not done, and selects per row
# with where.  The functions trace under jit, vmap and grad (where a vmap turns cond
# into select, every halving is computed).


def _unless(xp, flag, fn, state, bounded=True):
    """fn(state), or state itself where ``flag`` (a traced boolean) holds."""
    return jax.lax.cond(flag, lambda s: s, fn, state)


def _loop(xp, n, body, init):
    """body(j, acc) for j = 0 .. n - 1 (n static)."""
    return body(0, init) if n == 1 else jax.lax.fori_loop(0, n, body, init)


def _blocks(xp, work, parts, rows):
    """work(*block) over consecutive blocks of ``rows`` rows of ``parts`` (arrays whose first
    axis is the row), concatenated; the last block is padded with copies of row 0."""
    n = parts[0].shape[0]
    b = max(1, min(n, rows))
    pad = -n % b
    parts = [xp.concatenate([p, xp.broadcast_to(p[:1], (pad,) + p.shape[1:])]) if pad else p
             for p in parts]
    if n <= b:
        return work(*parts)[:n]
    blocked = [xp.reshape(p, (-1, b) + p.shape[1:]) for p in parts]
    return xp.reshape(jax.lax.map(lambda ps: work(*ps), blocked), (-1,))[:n]
{% else %}
# The numpy helper's rules over any array namespace: rows go in blocks, and a halving
# of the step (a block of series terms) is computed only while a row of the block is
# not done; no in-place writes.  Dask arrays go block by block through the same code
# on their numpy chunks (dask.array.map_blocks), so the result stays lazy.


def _unless(xp, flag, fn, state, bounded=True):
    """fn(state), or state itself where ``flag`` holds.  Where the flag has no value yet
    (a traced array, e.g. JAX arrays under jax.jit), fn(state) when the work is
    ``bounded`` (every halving of a step), else an error: a series' length depends on
    the values."""
    try:
        known = bool(flag)
    except TypeError:  # a traced value: jax.errors.ConcretizationTypeError
        if not bounded:
            raise ValueError("a numeric series route sums as many terms as the values "
                             "need, so it cannot run on traced arrays (jax.jit); use the "
                             "jax backend's function (generated/jax), which traces") from None
        known = False
    return state if known else fn(state)


def _loop(xp, n, body, init):
    """body(j, acc) for j = 0 .. n - 1."""
    for j in range(n):
        init = body(j, init)
    return init


def _blocks(xp, work, parts, rows):
    """work(*block) over consecutive blocks of ``rows`` rows of ``parts``, concatenated."""
    n = parts[0].shape[0]
    outs = [work(*[p[lo:min(lo + rows, n), ...] for p in parts]) for lo in range(0, n, max(1, rows))]
    return outs[0] if len(outs) == 1 else xp.concat(outs)
{% endif %}


def _routed(xp, work, args, extra, keep, shape, rows):
    """work(xp, columns (m, 1), extra rows (m,), keep (m,)) -> (m,) over the flattened
    arguments broadcast to ``shape``, in blocks of ``rows`` rows; the values in ``shape``."""
    n = int(numpy.prod(shape))
    dtype = args[0].dtype
{% if not jax %}    if array_api_compat.is_dask_namespace(xp):
        return _on_chunks(xp, work, args, extra, keep, shape, rows)
{% endif %}    if n == 0:
        return xp.zeros(shape, dtype=dtype)
    cols = [xp.reshape(xp.broadcast_to(a, shape), (n, 1)) for a in args]
    extra = [xp.reshape(xp.broadcast_to(xp.asarray(e, dtype=dtype), shape), (n,)) for e in extra]
    keep = xp.reshape(xp.broadcast_to(xp.asarray(keep), shape), (n,))
    k = len(cols)

    def block(*parts):
        return work(xp, list(parts[:k]), list(parts[k:-1]), parts[-1])
    return xp.reshape(_blocks(xp, block, cols + extra + [keep], rows), shape)
{% if not jax %}


def _on_chunks(xp, work, args, extra, keep, shape, rows):
    """The route of a Dask call: each chunk of the flattened arguments in numpy, lazily."""
    import dask.array
    flat = [dask.array.reshape(dask.array.broadcast_to(dask.array.asarray(a), shape), (-1,))
            for a in list(args) + list(extra) + [keep]]
    chunks = flat[0].chunks
    flat = [f.rechunk(chunks) for f in flat]
    k = len(args)

    def chunk(*parts):
        np_xp = array_api_compat.array_namespace(parts[0])
        cols = [numpy.reshape(p, (-1, 1)) for p in parts[:k]]
        with numpy.errstate(all="ignore"):  # computed later, outside the caller's _quiet
            return _blocks(np_xp, lambda *ps: work(np_xp, list(ps[:k]), list(ps[k:-1]), ps[-1]),
                           cols + [numpy.asarray(p, dtype=parts[0].dtype)
                                   for p in parts[k:-1]] + [parts[-1]], rows)
    out = dask.array.map_blocks(chunk, *flat, dtype=args[0].dtype)
    return dask.array.reshape(out, shape)
{% endif %}


def _weighted(xp, e1, e2, weights, m):
    """(S, N) over the nodes (the last axis): S = sum_k exp(e1_k) e2_k w_k (weights (k,)
    or (k, c)), a zero density contributing 0 also where e1 or e2 is undefined there,
    and N = sum_k (|exp(e1_k) e2_k| + |exp(e1_k) e1_k|) w_k with the first weight column,
    the size of the sum's rounding (see the numpy helper); ``m`` rows."""
    dens = xp.exp(e1)
    prod = dens * e2
    terms = xp.where(dens > 0, prod, xp.zeros_like(prod))
    if terms.ndim < 2:  # an integrand that depends on no argument: the same on every row
        terms = xp.broadcast_to(terms, (m, terms.shape[-1]))
    first = weights if weights.ndim == 1 else weights[:, 0]
    if isinstance(e2, (int, float)):  # the affinity: no difference of log-densities
        return terms @ weights, terms @ first
    size = xp.where(dens > 0, xp.abs(dens * e1), xp.zeros_like(dens))
    return terms @ weights, (xp.abs(terms) + size) @ first


def _de(xp, integrand, a, pieces, offset, keep):
    """The double-exponential sums of the numpy helper's _de over ``pieces`` (kind, shift,
    scale), with the same steps and acceptance tests; the step halves (to at most 1/64)
    only while a row of the block is not done; NaN where no step is accepted."""
    m, dtype = a[0].shape[0], a[0].dtype
    info = xp.finfo(dtype)
    # a float type coarser than float64 (float32) keeps the nodes and weights it can hold
    # (a node that would round to 0 or overflow gets weight 0) and accepts
    # steps relative to its own epsilon
    accept, last, rounding = (max(t, f * float(info.eps)) for t, f in
                              ((_DE_ACCEPT, 100.0), (_DE_LAST, 1e4), (_DE_ROUND, 45.0)))

    def level(k):
        total = norm = 0.0
        for kind, shift, scale in pieces:
            nodes, weights = _BASES[kind][k]
            held = numpy.abs(weights) <= float(info.max)
            held = (numpy.abs(nodes) <= float(info.max)) & \
                ((nodes == 0) | (numpy.abs(nodes) >= float(info.smallest_normal))) & \
                (held if held.ndim == 1 else held.all(axis=-1))
            if not held.all():
                nodes = numpy.where(held, nodes, 1.0)  # inside every rule's interval
                weights = numpy.where(held if weights.ndim == 1 else held[:, None], weights, 0.0)
            nodes, weights = xp.asarray(nodes, dtype=dtype), xp.asarray(weights, dtype=dtype)
            x = nodes if scale is None else scale * nodes
            if shift is not None:
                x = shift + x
            s, n = _weighted(xp, *integrand({{ xi }}x, *a), weights, m)
            if scale is not None:
                f = float(abs(scale)) if isinstance(scale, (int, float)) else \
                    xp.abs(xp.reshape(scale, (-1,)))
                s, n = s * (f[:, None] if s.ndim == 2 and not isinstance(f, float) else f), n * f
            total, norm = total + s, norm + n
        return total, norm

    sums, norm = level(0)
    total = sums[:, 0]
    prev = sums[:, 1] * float(1 << (_DE_LEVELS - _DE_FIRST))
    out = xp.full((m,), float("nan"), dtype=dtype)
    done = ~keep
    for k in range(_DE_FIRST, _DE_LEVELS):
        if k > _DE_FIRST:
            def finer(state, k=k):
                s, n = level(k - _DE_FIRST)
                return state[0] + s, state[1] + n
            total, norm = _unless(xp, xp.all(done), finer, (total, norm))
        factor = float(1 << (_DE_LEVELS - 1 - k))
        cur = total * factor
        step = xp.abs(cur - prev)
        tol = accept if k < _DE_LEVELS - 1 else last
        ok = (step <= tol * xp.abs(cur - offset)) | (step <= rounding * norm * factor)
        out = xp.where(ok & ~done, cur, out)
        done = done | ok
        prev = cur
    return out


def _rows_of_pieces(pieces):
    return max(1, _CHUNK // (161 * pieces))


def _expect_real(xp, integrand, args, kinks=(), offset=0.0, keep=True, shape=()):
    """E = int exp(E1(u)) E2(u) du over the real line, split at the (per row) kinks;
    converged relative to |E - offset| (see _de)."""
    def work(xp, a, ks, keep):
        if not ks:
            pieces = [("real", None, None)]
        else:
            cs = xp.sort(xp.stack(ks, axis=-1), axis=-1)
            pieces = [("half", cs[:, :1], -1), ("half", cs[:, -1:], None)] + \
                [("finite", cs[:, j:j + 1], (cs[:, j + 1:j + 2] - cs[:, j:j + 1]) / 2)
                 for j in range(cs.shape[1] - 1)]
        return _de(xp, integrand, a, pieces, offset, keep)
    return _routed(xp, work, args, kinks, keep, shape, _rows_of_pieces(len(kinks) + 1))


def _expect_half(xp, integrand, args, kinks=(), offset=0.0, keep=True, shape=(),
                 tail="algebraic"):
    """E = int_0^inf exp(E1(v)) E2(v) dv, split at the (per row) kinks inside (0, inf);
    converged relative to |E - offset| (see _de); ``tail`` as in the numpy helper."""
    base = "half_exp" if tail == "exponential" else "half"

    def work(xp, a, ks, keep):
        if not ks:
            pieces = [(base, None, None)]
        else:
            cs = xp.stack(ks, axis=-1)
            cs = xp.sort(xp.where(cs > 0, cs, xp.zeros_like(cs)), axis=-1)
            ends = xp.concat([xp.zeros_like(cs[:, :1]), cs], axis=-1)
            pieces = [(base, cs[:, -1:], None)] + \
                [("finite", ends[:, j:j + 1], (ends[:, j + 1:j + 2] - ends[:, j:j + 1]) / 2)
                 for j in range(ends.shape[1] - 1)]
        return _de(xp, integrand, a, pieces, offset, keep)
    return _routed(xp, work, args, kinks, keep, shape, _rows_of_pieces(len(kinks) + 1))


def _expect_circle(xp, integrand, args, lower, upper, keep=True, shape=()):
    """E = int_lower^upper exp(E1(u)) E2(u) du over one period (trapezoid rule)."""
    def work(xp, a, _, keep):
        u = xp.asarray(lower + (upper - lower) * (numpy.arange(_CIRCLE_NODES) / _CIRCLE_NODES),
                       dtype=a[0].dtype)
        s, _ = _weighted(xp, *integrand({{ xi }}u, *a), (upper - lower) / _CIRCLE_NODES *
                         xp.ones_like(u), a[0].shape[0])
        return s
    return _routed(xp, work, args, (), keep, shape, max(1, _CHUNK // _CIRCLE_NODES))


def _expect_points(xp, integrand, args, values, keep=True, shape=()):
    """E = sum over the finite support values of exp(E1(x)) E2(x)."""
    def work(xp, a, _, keep):
        x = xp.asarray(numpy.asarray(values, dtype=float), dtype=a[0].dtype)
        return _weighted(xp, *integrand({{ xi }}x, *a), xp.ones_like(x), a[0].shape[0])[0]
    return _routed(xp, work, args, (), keep, shape, max(1, _CHUNK // max(1, len(values))))


def _expect_series(xp, integrand, args, lower, upper, keep=True, shape=()):
    """E = sum_{x = lower}^{upper} exp(E1(x)) E2(x), upper possibly inf: the numpy
    helper's blocks and tail test (see its _expect_series), growing 8-fold, each block
    summed in parts of _SERIES_PART terms and computed only while a row is not done."""
    def work(xp, a, bounds, keep):
        lo, up = bounds
        m, dtype = lo.shape[0], lo.dtype
        zero = xp.zeros((m,), dtype=dtype)

        def block(size, state):
            start, total, mass, done, res = state
            part = min(size, _SERIES_PART)
            offsets = xp.asarray(numpy.arange(part, dtype=float), dtype=dtype)

            def body(j, acc):
                x = start[:, None] + (offsets + j * part)
                e1, e2 = integrand({{ xi }}x, *a)
                dens = xp.broadcast_to(xp.exp(e1), x.shape)
                inside = (dens > 0) & (x <= up[:, None])
                terms = xp.where(inside, xp.broadcast_to(dens * e2, x.shape), xp.zeros_like(x))
                return (acc[0] + xp.sum(terms, axis=-1),
                        acc[1] + xp.sum(xp.where(inside, dens, xp.zeros_like(x)), axis=-1),
                        xp.abs(terms[:, -1]), xp.abs(terms[:, -2]))
            t, w, last, prev = _loop(xp, size // part, body, (zero, zero, zero, zero))
            total, mass = total + t, mass + w
            ratio = last / prev
            tail = last * ratio / (1 - ratio)
            ok = (start + (size - 1) >= up) | ((last == 0) & (prev == 0) & (mass > 0)) | \
                ((ratio < 1) & (tail <= _TAIL * xp.abs(total)))
            res = xp.where(ok & ~done, total, res)
            return start + size, total, mass, done | ok | xp.isnan(total), res

        state = (lo, zero, zero, ~keep, xp.full((m,), float("nan"), dtype=dtype))
        size, covered = _SERIES_START, 0
        while covered < _SERIES_MAX:
            state = _unless(xp, xp.all(state[3]), lambda s, size=size: block(size, s), state,
                            bounded=False)
            covered += size
            size *= _SERIES_GROWTH
        return state[4]
    return _routed(xp, work, args, (lower, upper), keep, shape, max(1, _CHUNK // 2048))
