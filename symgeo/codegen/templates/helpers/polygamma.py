# Bernoulli numbers B_2, B_4, ..., B_24 for the asymptotic series below.
_BERNOULLI_2K = (0.16666666666666666, -0.03333333333333333, 0.023809523809523808, -0.03333333333333333, 0.07575757575757576, -0.2531135531135531, 1.1666666666666667, -7.092156862745098, 54.971177944862156, -529.1242424242424, 6192.123188405797, -86580.25311355312)


def _polygamma(n, x):
    """psi^(n)(x) for an integer 1 <= n <= 4 and real x > 0, vectorised (NaN for x <= 0).

    Upward recurrence psi^(n)(x) = psi^(n)(x + 1) + (-1)^(n+1) n! / x^(n+1)
    until x >= 7 + n, then the asymptotic series
    psi^(n)(y) ~ (-1)^(n+1) [(n-1)!/y^n + n!/(2 y^(n+1))
                             + sum_k B_2k (2k+n-1)!/(2k)! / y^(2k+n)],
    whose first omitted term (k = 13) is below 1e-17 relative at y = 7 + n.
    Relative accuracy about 1e-15 (tested against mpmath for n = 1..4 and
    x from 1e-8 to 1e8); faster than scipy.special.polygamma, which goes
    through the Hurwitz zeta function.
    """
    n = int(n)
    if not 1 <= n <= 4:
        raise ValueError("_polygamma: n must be 1, 2, 3 or 4")
    start = 7.0 + n
    x = numpy.asarray(x, dtype=float)
    if x.size <= 64:  # a few points: one Hurwitz zeta ufunc call costs less than the series
        sign = 1.0 if n % 2 == 1 else -1.0
        return sign * math.factorial(n) * scipy.special.zeta(n + 1.0, numpy.where(x > 0, x, numpy.nan))
    x = numpy.where(x > 0, x, numpy.nan)
    fact_n = float(math.factorial(n))
    with numpy.errstate(invalid="ignore"):
        m = numpy.clip(numpy.ceil(start - x), 0.0, None)
        m = numpy.where(numpy.isnan(m), 0.0, m)
    acc = numpy.zeros_like(x)
    for j in range(int(m.max(initial=0.0))):
        inv = 1.0 / (x + j)
        acc += (j < m) * inv ** (n + 1)
    y = x + m
    inv2 = 1.0 / (y * y)
    series = numpy.zeros_like(y)
    for k in range(len(_BERNOULLI_2K), 0, -1):
        coef = _BERNOULLI_2K[k - 1] * math.factorial(2 * k + n - 1) / math.factorial(2 * k)
        series = (series + coef) * inv2
    total = (math.factorial(n - 1) + fact_n / (2.0 * y) + series) / y ** n + fact_n * acc
    return total if n % 2 == 1 else -total
