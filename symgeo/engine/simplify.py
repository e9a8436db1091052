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


MAX_EXPONENT_DENOMINATOR = 12

LARGE_OPS = 400
"""Beyond this size a multivariate gcd (cancel) or factorisation can take minutes
(entries of a 9 x 9 metric over det(S)^2); :func:`_divide_out` is used instead."""


WIDE_RATIONAL_SYMBOLS = 6


def _wide_rational(expr):
    """A rational function of many symbols (a 9-parameter metric): its cancelled and
    factored forms are already canonical, and simplify only spends seconds on it."""
    return len(expr.free_symbols) >= WIDE_RATIONAL_SYMBOLS and \
        all(a.is_Symbol or a.is_Number for a in sp.preorder_traversal(expr)
            if not (a.is_Add or a.is_Mul or a.is_Pow))


def _divide_out(expr):
    """num/den over one denominator, with each factor of den divided out of num while
    it divides exactly: no gcd, so a common factor that is not one of den's own
    factors may remain (the form is less reduced, the value the same)."""
    num, den = sp.fraction(sp.together(expr))
    num = sp.expand(num)
    kept = []
    for f in sp.Mul.make_args(den):
        base, e = f.as_base_exp()
        if not (e.is_Integer and e > 0) or base.is_number:
            kept.append(f)
            continue
        try:
            pb = sp.Poly(base, *sorted(base.free_symbols | num.free_symbols, key=str))
            pn = sp.Poly(num, *pb.gens)
        except (sp.PolynomialError, sp.GeneratorsNeeded):
            kept.append(f)
            continue
        k = int(e)
        while k > 0:
            q, r = pn.div(pb)
            if not r.is_zero:
                break
            pn, k = q, k - 1
        num = pn.as_expr()
        kept.append(base ** k)
    return num / sp.Mul(*kept)


def fine_exponents(expr):
    """True if an exponential has a coefficient like 389/250 in its exponent: cancel and
    factor would treat e^{b/1000} as the generator and build polynomials of degree 1000."""
    for e in expr.atoms(sp.exp):
        for c in sp.Add.make_args(sp.expand(e.args[0])):
            coeff = c.as_coeff_Mul()[0]
            if coeff.is_Rational and coeff.q > MAX_EXPONENT_DENOMINATOR:
                return True
    return False


def _many_parts(expr):
    return len(_sum_denominators(expr)) > MAX_COMBINED_DENOMINATORS or \
        len(expr.atoms(sp.exp)) > MAX_COMBINED_DENOMINATORS


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
    expr = sp.sympify(expr, strict=True)
    if expr.is_Number or expr.is_Symbol:
        return expr
    expr = reduce_bessel(expr)
    if _many_parts(expr):
        # a sum over observations (sum_i x_i^2 e^{eta_i}/(1 + e^{eta_i})^2): one common
        # denominator would be the product of all of them, and exponentials with
        # rational exponents (e^{b x_i}, x_i = 0.123) become polynomials of degree
        # 1000 in e^{b/1000}; cancelling takes minutes for nothing.  Terms sharing
        # their denominator's factors are tidied together, the rest one by one
        groups = {}
        for t in sp.Add.make_args(expr):
            groups.setdefault(frozenset(_sum_denominators(t)), []).append(t)
        out = []
        for g in groups.values():
            part = sp.Add(*g)
            out += [_combined(t, deep=False) for t in g] if _many_parts(part) else \
                [_combined(part, deep=False)]
        return sp.Add(*out)
    return _combined(expr, deep)


def _combined(expr, deep):
    if fine_exponents(expr):
        return expr
    if _ops(expr) > LARGE_OPS and _wide_rational(expr):
        return min([expr, _divide_out(expr)], key=_ops)
    candidates = [expr]
    try:
        c = sp.cancel(sp.together(expr))
        candidates.append(c)
        candidates.append(sp.factor(c))
    except (sp.PolynomialError, NotImplementedError, TypeError):  # pragma: no cover
        pass
    best = min(candidates, key=_ops)
    if deep and _ops(best) <= SIMPLIFY_MAX_OPS and not _wide_rational(best):
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
