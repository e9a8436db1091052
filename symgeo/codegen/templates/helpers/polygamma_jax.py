# Bernoulli numbers B_2, B_4, ..., B_24 for the asymptotic series below.
_BERNOULLI_2K = (0.16666666666666666, -0.03333333333333333, 0.023809523809523808, -0.03333333333333333, 0.07575757575757576, -0.2531135531135531, 1.1666666666666667, -7.092156862745098, 54.971177944862156, -529.1242424242424, 6192.123188405797, -86580.25311355312)


def _polygamma(n, x):
    """psi^(n)(x) for an integer 1 <= n <= 4 and real x > 0 (NaN for x <= 0): traceable.

    The numpy helper's method with a fixed number of recurrence steps (no
    Python control flow on values): psi^(n)(x) = psi^(n)(x + 1) + (-1)^(n+1)
    n! / x^(n+1) while x < 7 + n (at most 8 + n steps, masked), then the
    asymptotic series with the Bernoulli numbers B_2 .. B_24.  Relative
    accuracy about 1e-15 in float64; faster than jax.scipy.special.polygamma,
    which goes through the Hurwitz zeta function.
    """
    n = int(n)
    if not 1 <= n <= 4:
        raise ValueError("_polygamma: n must be 1, 2, 3 or 4")
    start = 7.0 + n
    x = jax.numpy.asarray(x) * 1.0
    x = jax.numpy.where(x > 0, x, jax.numpy.nan)
    fact_n = float(math.factorial(n))
    m = jax.numpy.clip(jax.numpy.ceil(start - x), 0.0, None)
    m = jax.numpy.where(jax.numpy.isnan(m), 0.0, m)
    acc = jax.numpy.zeros_like(x)
    for j in range(int(start) + 1):
        inv = 1.0 / (x + j)
        acc = acc + jax.numpy.where(j < m, inv ** (n + 1), 0.0)
    y = x + m
    inv2 = 1.0 / (y * y)
    series = jax.numpy.zeros_like(y)
    for k in range(len(_BERNOULLI_2K), 0, -1):
        coef = _BERNOULLI_2K[k - 1] * math.factorial(2 * k + n - 1) / math.factorial(2 * k)
        series = (series + coef) * inv2
    total = (math.factorial(n - 1) + fact_n / (2.0 * y) + series) / y ** n + fact_n * acc
    return total if n % 2 == 1 else -total
