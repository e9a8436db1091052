_DE_STEP = 1.0 / 16.0
_DE_T = numpy.arange(-64, 65) * _DE_STEP          # t in [-4, 4]
_SINH = numpy.pi / 2 * numpy.sinh(_DE_T)
# sinh-sinh: u = sinh(pi/2 sinh t) on the real line
_REAL_U = numpy.sinh(_SINH)
_REAL_W = _DE_STEP * numpy.pi / 2 * numpy.cosh(_DE_T) * numpy.cosh(_SINH)
# exp-sinh: offsets v = exp(pi/2 sinh t) on a half-line
_HALF_V = numpy.exp(_SINH)
_HALF_W = _DE_STEP * numpy.pi / 2 * numpy.cosh(_DE_T) * _HALF_V
# tanh-sinh on (-1, 1), t in [-3.5, 3.5] (beyond, the nodes round onto the ends)
_FIN_T = _DE_T[numpy.abs(_DE_T) <= 3.5]
_FIN_S = numpy.tanh(numpy.pi / 2 * numpy.sinh(_FIN_T))
_FIN_W = _DE_STEP * numpy.pi / 2 * numpy.cosh(_FIN_T) / \
    numpy.cosh(numpy.pi / 2 * numpy.sinh(_FIN_T)) ** 2
_CIRCLE_NODES = 256
_CHUNK = 1 << 17          # nodes x rows evaluated at once (memory stays ~ 1 MB per array)
_SERIES_START = 32
_SERIES_MAX = 1 << 22     # terms of a series at most (NaN beyond, never a truncated sum)
_TAIL = 1e-17


def _weighted(e1, e2, weights):
    """sum_k w_k exp(e1_k) e2_k over the last axis; a zero density contributes 0."""
    dens = numpy.exp(e1)
    terms = numpy.where(dens > 0, dens * e2, 0.0)
    return numpy.sum(terms * weights, axis=-1)


def _rows(args, extra=()):
    """The arguments as columns (n, 1), flattened over their common broadcast shape,
    and ``extra`` (arrays or constants) as rows (n,)."""
    cols = [numpy.reshape(a, (-1, 1)) for a in args]
    n = cols[0].shape[0]
    return cols, [numpy.array(numpy.broadcast_to(numpy.reshape(e, -1) if numpy.ndim(e) else e,
                                                 (n,)), dtype=float) for e in extra]


def _expect_real(integrand, args, kinks=()):
    """E = int exp(E1(u)) E2(u) du over the real line, split at the (per row) kinks."""
    cols, kinks = _rows(args, kinks)
    n = cols[0].shape[0]
    out = numpy.empty(n)
    step = max(1, _CHUNK // (_REAL_U.size * (len(kinks) + 1)))
    for lo in range(0, n, step):
        sl = slice(lo, lo + step)
        a = [c[sl] for c in cols]
        if not kinks:
            out[sl] = _weighted(*integrand(_REAL_U, *a), _REAL_W)
            continue
        cs = numpy.sort(numpy.stack([k[sl] for k in kinks], axis=-1), axis=-1)
        total = _weighted(*integrand(cs[:, :1] - _HALF_V, *a), _HALF_W)
        total += _weighted(*integrand(cs[:, -1:] + _HALF_V, *a), _HALF_W)
        for j in range(cs.shape[1] - 1):
            left, right = cs[:, j:j + 1], cs[:, j + 1:j + 2]
            half = (right - left) / 2
            total += _weighted(*integrand(left + half * (1 + _FIN_S), *a), half * _FIN_W)
        out[sl] = total
    return out


def _expect_half(integrand, args, kinks=()):
    """E = int_0^inf exp(E1(v)) E2(v) dv, split at the (per row) kinks inside (0, inf)."""
    cols, kinks = _rows(args, kinks)
    n = cols[0].shape[0]
    out = numpy.empty(n)
    step = max(1, _CHUNK // (_HALF_V.size * (len(kinks) + 1)))
    for lo in range(0, n, step):
        sl = slice(lo, lo + step)
        a = [c[sl] for c in cols]
        if not kinks:
            out[sl] = _weighted(*integrand(_HALF_V, *a), _HALF_W)
            continue
        cs = numpy.sort(numpy.maximum(numpy.stack([k[sl] for k in kinks], axis=-1), 0.0),
                        axis=-1)
        total = _weighted(*integrand(cs[:, -1:] + _HALF_V, *a), _HALF_W)
        ends = numpy.concatenate([numpy.zeros((cs.shape[0], 1)), cs], axis=-1)
        for j in range(ends.shape[1] - 1):
            left, right = ends[:, j:j + 1], ends[:, j + 1:j + 2]
            half = (right - left) / 2
            total += _weighted(*integrand(left + half * (1 + _FIN_S), *a), half * _FIN_W)
        out[sl] = total
    return out


def _expect_circle(integrand, args, lower, upper):
    """E = int_lower^upper exp(E1(u)) E2(u) du over one period (trapezoid rule)."""
    cols, _ = _rows(args)
    n = cols[0].shape[0]
    out = numpy.empty(n)
    frac = numpy.arange(_CIRCLE_NODES) / _CIRCLE_NODES
    step = max(1, _CHUNK // _CIRCLE_NODES)
    for lo in range(0, n, step):
        sl = slice(lo, lo + step)
        u = lower + (upper - lower) * frac
        out[sl] = _weighted(*integrand(u, *[c[sl] for c in cols]), (upper - lower) / _CIRCLE_NODES)
    return out


def _expect_points(integrand, args, values):
    """E = sum over the finite support values of exp(E1(x)) E2(x)."""
    cols, _ = _rows(args)
    x = numpy.asarray(values, dtype=float)
    return _weighted(*integrand(x, *cols), 1.0)


def _expect_series(integrand, args, lower, upper):
    """E = sum_{x = lower}^{upper} exp(E1(x)) E2(x), upper possibly inf.

    Terms are added in doubling blocks; a row is done when it reached ``upper``,
    when its last terms decrease with ratio r < 1 and t_last r / (1 - r) is
    below 1e-17 of the sum, or when they vanish after the weights began.  Rows not done after _SERIES_MAX terms are NaN.
    """
    cols, (lower, upper) = _rows(args, (lower, upper))
    n = cols[0].shape[0]
    out = numpy.full(n, numpy.nan)
    todo = numpy.arange(n)
    start = lower.copy()
    total = numpy.zeros(n)
    mass = numpy.zeros(n)     # of the weights: zero terms before the mass starts are no tail
    size = _SERIES_START
    while todo.size and size <= _SERIES_MAX:
        step = max(1, _CHUNK // size)
        left = []
        for lo in range(0, todo.size, step):
            rows = todo[lo:lo + step]
            x = start[rows, None] + numpy.arange(size)
            e1, e2 = integrand(x, *[c[rows] for c in cols])
            dens = numpy.exp(e1)
            inside = (dens > 0) & (x <= upper[rows, None])
            terms = numpy.where(inside, dens * e2, 0.0)
            total[rows] += numpy.sum(terms, axis=-1)
            mass[rows] += numpy.sum(numpy.where(inside, dens, 0.0), axis=-1)
            last, prev = numpy.abs(terms[:, -1]), numpy.abs(terms[:, -2])
            with numpy.errstate(divide="ignore", invalid="ignore"):
                ratio = last / prev
                tail = last * ratio / (1 - ratio)
            done = (x[:, -1] >= upper[rows]) | ((last == 0) & (prev == 0) & (mass[rows] > 0)) | \
                ((ratio < 1) & (tail <= _TAIL * numpy.abs(total[rows])))
            out[rows[done]] = total[rows[done]]
            left.append(rows[~done])
            start[rows] += size
        todo = numpy.concatenate(left) if left else todo[:0]
        size *= 2
    return out
