"""The one replaceable simplifier, run once per stage (never per step).

``tidy`` tries cheap canonical forms first (``cancel``, ``factor``) and only
runs ``simplify`` on expressions small enough for it to finish quickly; the
shortest candidate by operation count wins.  Rules that sympy does not apply
on its own but that every family of a shape needs live here too (Bessel
recurrences reduce I_n to I_0 and I_1).
"""

from __future__ import annotations

import sympy as sp

SIMPLIFY_MAX_OPS = 120


def reduce_bessel(expr):
    """Rewrite I_n(k) for integer n (n >= 2 or n < 0) through I_0 and I_1.

    Uses I_{-n} = I_n and I_{n+1}(k) = I_{n-1}(k) - (2n/k) I_n(k).
    """
    def rewrite(e):
        n, k = e.args
        if not n.is_Integer:
            return e
        n = abs(int(n))
        if n <= 1:
            return sp.besseli(n, k)
        a, b = sp.besseli(0, k), sp.besseli(1, k)
        for m in range(1, n):
            a, b = b, a - 2 * m * b / k
        return b

    return expr.replace(lambda e: isinstance(e, sp.besseli), rewrite)


MAX_COMBINED_DENOMINATORS = 4


def _sum_denominators(expr):
    """The distinct sums (1 + e^eta, s11 s22 - s12^2) that divide additive terms of ``expr``."""
    out = set()
    for t in sp.Add.make_args(expr):
        den = sp.fraction(t)[1]
        for f in sp.Mul.make_args(den):
            base = f.as_base_exp()[0]
            if base.is_Add:
                out.add(base)
    return out


def _ops(e):
    return sp.count_ops(e, visual=False)


def tidy(expr, deep=True):
    """A compact readable form of ``expr`` (scalar)."""
    expr = sp.sympify(expr)
    if expr.is_Number or expr.is_Symbol:
        return expr
    expr = reduce_bessel(expr)
    if len(_sum_denominators(expr)) > MAX_COMBINED_DENOMINATORS:
        # a sum over observations (sum_i x_i^2 e^{eta_i}/(1 + e^{eta_i})^2): one common
        # denominator would be the product of all of them, and cancelling it takes
        # minutes for nothing; terms sharing their denominator's factors are tidied together
        groups = {}
        for t in sp.Add.make_args(expr):
            groups.setdefault(frozenset(_sum_denominators(t)), []).append(t)
        return sp.Add(*[_combined(sp.Add(*g), deep=False) for g in groups.values()])
    return _combined(expr, deep)


def _combined(expr, deep):
    candidates = [expr]
    try:
        c = sp.cancel(sp.together(expr))
        candidates.append(c)
        candidates.append(sp.factor(c))
    except (sp.PolynomialError, NotImplementedError, TypeError):  # pragma: no cover
        pass
    best = min(candidates, key=_ops)
    if deep and _ops(best) <= SIMPLIFY_MAX_OPS:
        try:
            s = sp.simplify(best)
            if _ops(s) < _ops(best):
                best = s
        except Exception:  # pragma: no cover - simplify is best effort
            pass
    return best


def tidy_matrix(m, symmetric=False):
    """Apply :func:`tidy` entrywise (upper triangle only when symmetric)."""
    m = sp.Matrix(m)
    out = sp.zeros(*m.shape)
    for i in range(m.rows):
        for j in range(m.cols):
            if symmetric and j < i:
                out[i, j] = out[j, i]
            else:
                out[i, j] = tidy(m[i, j])
    return out
