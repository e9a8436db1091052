{% include "helpers/quadrature_rules.py" %}

def _linear(coefs, funcs):
    """sum_j coefs_j funcs_j: coefs one value per row ((m, 1)) or numbers, funcs of the node
    alone.  Where the rows share their nodes (funcs (k,), (1, k) or numbers) one matrix
    product (m, J) @ (J, k): a single pass over rows x nodes instead of 2J - 1."""
    if all(numpy.ndim(f) <= 1 or numpy.shape(f)[0] == 1 for f in funcs):
        m = max(numpy.shape(c)[0] for c in coefs if numpy.ndim(c))
        k = max(numpy.size(f) for f in funcs)
        c = numpy.empty((m, len(coefs)))
        f = numpy.empty((len(funcs), k))
        for j, (cj, fj) in enumerate(zip(coefs, funcs)):
            c[:, j] = numpy.reshape(cj, -1) if numpy.ndim(cj) else cj
            f[j] = numpy.reshape(fj, -1) if numpy.ndim(fj) else fj
        return c @ f
    out = None
    for cj, fj in zip(coefs, funcs):
        term = fj if numpy.ndim(cj) == 0 and cj == 1 else cj * fj
        out = term if out is None else out + term
    return out


def _poly(x, coefs):
    """sum_j coefs_j x^(n - j) (highest power first; coefs as in _linear): with the powers of
    shared nodes (x of shape (k,)) one matrix product, else Horner's rule (2n passes)."""
    if numpy.ndim(x) <= 1:
        n = len(coefs) - 1
        return _linear(coefs, [x ** (n - j) for j in range(n)] + [1.0])
    out = coefs[0] * x
    for cj in coefs[1:-1]:
        out = (out + cj) * x
    return out + coefs[-1]


def _quad(x, a, x0, r):
    """a (x - x0)^2 + r (a, x0, r as coefs in _linear): with shared nodes one matrix product
    with x^2, x, 1 (rows that share their nodes have q close to p: the expanded
    coefficients do not cancel); with each row's own nodes the vertex form, which keeps
    r where x is near x0 (a narrow q far from p: d^2 + g^2 - d^2 lost g^2)."""
    if numpy.ndim(x) <= 1:
        return _linear((a, -2 * a * x0, a * x0 * x0 + r), (x * x, x, 1.0))
    d = x - x0
    return a * (d * d) + r


def _weighted(e1, e2, weights, rows, norm=False):
    """sum_k exp(e1_k) e2_k weights_k over the nodes (the last axis of e1, e2; weights
    (k,) or (k, c)); a zero density contributes 0 (also where e1 or e2 is undefined
    there, as at a node on the end of its interval; a log-weight below _LOG_FLOOR counts as
    zero density); ``rows``: how many rows.  ``norm``: also
    sum_k (|exp(e1_k) e2_k| + |exp(e1_k) e1_k|) weights_k (of the first weight column),
    as a pair: the size of the sum's rounding.  The second part is there because E2 of a
    KL or cross-entropy is a difference of log-densities of E1's size, whose rounding
    stays when they cancel (at q = p every term is rounding)."""
    e1 = numpy.maximum(e1, _LOG_FLOOR)
    # exactly 0 at the floor, whatever the factor there (a log q of -x^6 at a far node)
    dens = nodal = numpy.exp(e1) - _FLOOR_DENSITY
    if dens.ndim < 2:  # an integrand that depends on no argument: the same on every row
        dens = numpy.broadcast_to(dens, (rows, numpy.size(dens)))
    terms = dens * e2 if numpy.ndim(e2) or e2 != 1 else dens
    out = terms @ weights if numpy.ndim(weights) else numpy.sum(terms, axis=-1) * weights
    bad = ~numpy.isfinite(out if out.ndim == 1 else out[:, 0])
    if bad.any():  # rare: the guarded sum on those rows only
        terms = numpy.where(e1 > _LOG_FLOOR, terms, 0.0)
        out[bad] = terms[bad] @ weights if numpy.ndim(weights) else \
            numpy.sum(terms[bad], axis=-1) * weights
    if not norm:
        return out
    first = weights if weights.ndim == 1 else weights[:, 0]
    if terms is dens:
        return out, out if out.ndim == 1 else out[:, 0]
    if nodal is not dens:  # a log-weight of the node alone: its part once, not per row
        d1, e1 = (numpy.broadcast_to(v, first.shape) for v in (nodal, e1))
        size = numpy.full(out.shape[0], numpy.where(d1 > 0, numpy.abs(d1 * e1), 0.0) @ first)
        return out, numpy.abs(terms) @ first + size
    size = numpy.abs(dens * e1) @ first
    bad = numpy.isnan(size)
    if bad.any():  # a zero density where log p is -inf
        e1 = numpy.broadcast_to(e1, dens.shape)
        size[bad] = numpy.where(dens[bad] > 0, numpy.abs(dens[bad] * e1[bad]), 0.0) @ first
    return out, numpy.abs(terms) @ first + size


def _rows(args, extra=(), keep=None):
    """The arguments as columns (m, 1), flattened over their common broadcast shape and
    restricted to the m rows where ``keep`` holds (all rows when None), ``extra`` (arrays
    or constants) as rows (m,), and put(values): the m values in their places among all
    rows, NaN elsewhere (a row outside the domain is never integrated)."""
    cols = [numpy.reshape(a, (-1, 1)) for a in args]
    n = cols[0].shape[0]
    rows = [numpy.array(numpy.broadcast_to(numpy.reshape(e, -1) if numpy.ndim(e) else e, (n,)),
                        dtype=float) for e in extra]
    kept = None if keep is None else \
        numpy.reshape(numpy.broadcast_to(keep, numpy.shape(args[0])), -1)
    if kept is None or kept.all():
        return cols, rows, lambda values: values
    idx = numpy.flatnonzero(kept)

    def put(values):
        out = numpy.full(n, numpy.nan)
        out[idx] = values
        return out
    return [c[idx] for c in cols], [r[idx] for r in rows], put


def _recycled_chunks():
    """Allocate and free one block of 8 chunks, never written (so no page of it is touched).

    glibc's malloc maps a fresh block for every request at or above its mmap threshold,
    and raises the threshold to the size of the last mapped block it freed.  After one
    chunk-sized array (1 MB) has been freed, every chunk-sized temporary of the integrand
    was mapped anew, and each of its pages faulted in (about 2 us a page on the machine
    where this was measured): a third to a half of a KL's time.  Freeing a larger block
    first sets the threshold above the chunks (and the trim threshold to twice that), so
    their temporaries are reused from the heap.  Other allocators: no effect."""
    numpy.empty(8 * _CHUNK)


def _in_chunks(work, n, step):
    """work(sl) for the slices of ``step`` rows that cover range(n).  One after the other:
    threads were measured no faster (the chunks are too small to leave the GIL alone,
    larger ones spill the cache)."""
    if n > step:
        _recycled_chunks()
    for lo in range(0, n, step):
        work(slice(lo, min(lo + step, n)))


def _de(integrand, a, pieces, offset=0.0):
    """Double-exponential sum over ``pieces``, each (kind, shift, scale): the nodes
    shift + scale * base and the weights |scale| * base weights of rule ``kind``
    (shift and scale per row, (m, 1), or None for 0 and 1).  The sums at steps 1/8
    and 1/16 come from one pass; the step halves down to 1/64 on the rows not yet
    converged, judged relative to |sum - offset| (see _DE_ACCEPT, _DE_LAST)."""
    def level(k, rows):
        total = norm = 0.0
        for kind, shift, scale in pieces:
            nodes, weights = _BASES[kind][k]
            shift, scale = (v[rows] if numpy.ndim(v) else v for v in (shift, scale))
            x = nodes if scale is None else scale * nodes
            if shift is not None:
                x = shift + x
            s, n = _weighted(*integrand(x, *[c[rows] for c in a]), weights, rows.size, True)
            if scale is not None:
                f = numpy.abs(numpy.reshape(scale, -1))
                s, n = s * (f[:, None] if s.ndim == 2 else f), n * f
            total, norm = total + s, norm + n
        return total, norm

    m = a[0].shape[0]
    out = numpy.full(m, numpy.nan)
    rows = numpy.arange(m)
    sums, norm = level(0, rows)
    total = sums[:, 0]
    prev = sums[:, 1] * (1 << (_DE_LEVELS - _DE_FIRST))
    for k in range(_DE_FIRST, _DE_LEVELS):
        if k > _DE_FIRST:
            s, n = level(k - _DE_FIRST, rows)
            total, norm = total + s, norm + n
        factor = 1 << (_DE_LEVELS - 1 - k)
        cur = total * factor
        step = numpy.abs(cur - prev)
        tol = _DE_ACCEPT if k < _DE_LEVELS - 1 else _DE_LAST
        done = (step <= tol * numpy.abs(cur - offset)) | (step <= _DE_ROUND * norm * factor)
        out[rows[done]] = cur[done]
        keep = ~done
        rows, total, norm, prev = rows[keep], total[keep], norm[keep], cur[keep]
        if not rows.size:
            break
    return out


_DE_CHUNK = 1 << 18
"""Nodes x rows of one double-exponential chunk (2 MB a temporary): each chunk also costs
some 90 numpy calls on row-sized arrays, and twice _CHUNK's rows a chunk measured 5-10%
faster on 2e5 rows of every alpha-affinity and KL route.  Not 1 << 19: a logistic KL then
took 5 times as long (0.26 against 1.42 s on 2e5 rows), gumbel's affinity no less."""


def _expect_real(integrand, args, kinks=(), offset=0.0, keep=None):
    """E = int exp(E1(u)) E2(u) du over the real line, split at the (per row) kinks;
    converged relative to |E - offset| (see _de)."""
    cols, kinks, put = _rows(args, kinks, keep)
    n = cols[0].shape[0]
    out = numpy.empty(n)

    def work(sl):
        if not kinks:
            pieces = [("real", None, None)]
        else:
            cs = numpy.sort(numpy.stack([k[sl] for k in kinks], axis=-1), axis=-1)
            pieces = [("half", cs[:, :1], -1), ("half", cs[:, -1:], None)] + \
                [("finite_in", cs[:, j:j + 1], (cs[:, j + 1:j + 2] - cs[:, j:j + 1]) / 2)
                 for j in range(cs.shape[1] - 1)]
        out[sl] = _de(integrand, [c[sl] for c in cols], pieces, offset)
    _in_chunks(work, n, max(1, _DE_CHUNK // (161 * (len(kinks) + 1))))  # 161 nodes a piece
    return put(out)


def _expect_half(integrand, args, kinks=(), offset=0.0, keep=None, tail="algebraic"):
    """E = int_0^inf exp(E1(v)) E2(v) dv, split at the (per row) kinks inside (0, inf);
    converged relative to |E - offset| (see _de).  ``tail="exponential"``: the integrand
    falls off like e^-v^k, and the half-line pieces use the exponential map (_HALF_EXP_V)."""
    cols, kinks, put = _rows(args, kinks, keep)
    n = cols[0].shape[0]
    out = numpy.empty(n)
    base = "half_exp" if tail == "exponential" else "half"

    def work(sl):
        if not kinks:
            pieces = [(base, None, None)]
        else:
            cs = numpy.sort(numpy.maximum(numpy.stack([k[sl] for k in kinks], axis=-1), 0.0),
                            axis=-1)
            ends = numpy.concatenate([numpy.zeros((cs.shape[0], 1)), cs], axis=-1)
            pieces = [(base, cs[:, -1:], None)] + \
                [("finite_in" if j else "finite_lo", ends[:, j:j + 1],
                  (ends[:, j + 1:j + 2] - ends[:, j:j + 1]) / 2)
                 for j in range(ends.shape[1] - 1)]
        out[sl] = _de(integrand, [c[sl] for c in cols], pieces, offset)
    _in_chunks(work, n, max(1, _DE_CHUNK // (_BASES[base][0][0].size * (len(kinks) + 1))))
    return put(out)


def _expect_circle(integrand, args, lower, upper, keep=None):
    """E = int_lower^upper exp(E1(u)) E2(u) du over one period (trapezoid rule)."""
    cols, _, put = _rows(args, (), keep)
    n = cols[0].shape[0]
    out = numpy.empty(n)
    u = lower + (upper - lower) * (numpy.arange(_CIRCLE_NODES) / _CIRCLE_NODES)

    def work(sl):
        rows = [c[sl] for c in cols]
        out[sl] = _weighted(*integrand(u, *rows), (upper - lower) / _CIRCLE_NODES,
                            rows[0].shape[0])
    _in_chunks(work, n, max(1, _CHUNK // _CIRCLE_NODES))
    return put(out)


def _expect_points(integrand, args, values, keep=None):
    """E = sum over the finite support values of exp(E1(x)) E2(x)."""
    cols, _, put = _rows(args, (), keep)
    x = numpy.asarray(values, dtype=float)
    return put(_weighted(*integrand(x, *cols), 1.0, cols[0].shape[0]))


def _expect_series(integrand, args, lower, upper, keep=None):
    """E = sum_{x = lower}^{upper} exp(E1(x)) E2(x), upper possibly inf.

    Terms are added in doubling blocks; a row is done when it reached ``upper``,
    when its last terms decrease with ratio r < 1 and t_last r / (1 - r) is
    below 1e-17 of the sum, or when they vanish after the weights began.  Rows not
    done after _SERIES_MAX terms, or whose sum is NaN, are NaN.  Rows whose blocks start at the same x
    share one row of nodes, so terms in x alone (log x!) are computed once a block.
    """
    cols, (lower, upper), put = _rows(args, (lower, upper), keep)
    n = cols[0].shape[0]
    out = numpy.full(n, numpy.nan)

    def work(sl):
        a, lo_, up = [c[sl] for c in cols], lower[sl], upper[sl]
        m = lo_.shape[0]
        todo = numpy.arange(m)
        start = lo_.copy()
        total = numpy.zeros(m)
        mass = numpy.zeros(m)  # of the weights: zero terms before the mass starts are no tail
        res = numpy.full(m, numpy.nan)
        size = _SERIES_START
        while todo.size and size <= _SERIES_MAX:
            step = max(1, _CHUNK // size)
            left = []
            for lo in range(0, todo.size, step):
                rows = todo[lo:lo + step]
                first = start[rows]
                x = first[:1, None] + numpy.arange(size) if (first == first[0]).all() else \
                    first[:, None] + numpy.arange(size)
                e1, e2 = integrand(x, *[c[rows] for c in a])
                dens = numpy.broadcast_to(numpy.exp(e1), (rows.size, size))
                inside = (dens > 0) & (x <= up[rows, None])
                terms = numpy.where(inside, dens * e2, 0.0)
                total[rows] += numpy.sum(terms, axis=-1)
                mass[rows] += numpy.sum(numpy.where(inside, dens, 0.0), axis=-1)
                last, prev = numpy.abs(terms[:, -1]), numpy.abs(terms[:, -2])
                ratio = last / prev
                tail = last * ratio / (1 - ratio)
                done = (x[:, -1] >= up[rows]) | ((last == 0) & (prev == 0) & (mass[rows] > 0)) | \
                    ((ratio < 1) & (tail <= _TAIL * numpy.abs(total[rows])))
                res[rows[done]] = total[rows[done]]
                done |= numpy.isnan(total[rows])  # undefined (out of the domain): NaN now
                left.append(rows[~done])
                start[rows] += size
            todo = numpy.concatenate(left) if left else todo[:0]
            size *= 2
        out[sl] = res
    _in_chunks(work, n, max(1, _CHUNK // _SERIES_START))
    return put(out)
