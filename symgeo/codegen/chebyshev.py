"""Chebyshev series of special functions, computed with mpmath for the numeric helpers.

A helper that evaluates a function by its Chebyshev series (Clenshaw's recurrence, as
array passes) takes its coefficients from here, computed at 50 digits when a module is
emitted, so no table of constants is copied into symgeo.
"""

from __future__ import annotations

import functools

import mpmath

_DIGITS = 50
_NODES = 60  # Chebyshev-Gauss nodes: the coefficients fall below 1e-30 before 50
_CUT = mpmath.mpf("1e-17")


def chebyshev_coefficients(f, nodes=_NODES, cut=_CUT):
    """Coefficients c_0..c_n of f(t) = c_0 / 2 + sum_k c_k T_k(t) on -1 <= t <= 1, highest
    order first, as floats, cut after the last one above ``cut`` times min |f| (sampled).

    c_k = (2/N) sum_j f(cos theta_j) cos(k theta_j), theta_j = pi (j + 1/2) / N, exact
    for polynomials of degree < N and accurate to the size of the first neglected term.
    """
    with mpmath.workdps(_DIGITS):
        theta = [mpmath.pi * (j + mpmath.mpf(1) / 2) / nodes for j in range(nodes)]
        values = [f(mpmath.cos(t)) for t in theta]
        c = [2 * mpmath.fsum(v * mpmath.cos(k * t) for v, t in zip(values, theta)) / nodes
             for k in range(nodes)]
        floor = cut * min(abs(f(mpmath.mpf(j) / 10)) for j in range(-10, 11))
        keep = max(k for k in range(nodes) if abs(c[k]) > floor) + 1
        return tuple(float(v) for v in reversed(c[:keep]))


@functools.lru_cache(maxsize=None)
def scaled_bessel_series():
    """The series of e^-x I_0(x) and e^-x I_1(x) in Clenshaw's split (Abramowitz and
    Stegun 9.8, as Cephes): with y = 2t, on 0 <= x <= 8, x = 4 (t + 1), the series of
    e^-x I0(x) and e^-x I1(x) / x; on x >= 8, x = 16 / (t + 1), those of sqrt(x) e^-x
    I0(x) and sqrt(x) e^-x I1(x) (limit 1 / sqrt(2 pi) at t = -1).  A dict of
    coefficient tuples: i0_small, i1_small, i0_large, i1_large."""
    def small(order):
        def f(t):
            x = 4 * (t + 1)
            if x == 0:
                return mpmath.mpf(1) if order == 0 else mpmath.mpf(1) / 2
            v = mpmath.besseli(order, x) * mpmath.exp(-x)
            return v if order == 0 else v / x
        return f

    def large(order):
        def f(t):
            if t == -1:
                return 1 / mpmath.sqrt(2 * mpmath.pi)
            x = 16 / (t + 1)
            return mpmath.sqrt(x) * mpmath.besseli(order, x) * mpmath.exp(-x)
        return f
    return {f"i{n}_{part}": chebyshev_coefficients(make(n))
            for n in (0, 1) for part, make in (("small", small), ("large", large))}
