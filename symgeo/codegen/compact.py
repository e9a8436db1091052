"""Forms of an expression that evaluate in fewer array passes (for generated code).

A symbolic result is printed as numpy code that makes one pass over its
arrays per operation, so the printed form decides the speed at 10^6 points.
The rewritings here are identities, kept only when they lower
:func:`code_cost`:

* ``complete_squares``: a^2 - 2ab + b^2 -> (a - b)^2 inside every sum (the
  quadratic forms of Gaussian-type families come out of the engine expanded);
* ``split_ratios``: (P + c D)/D -> P/D + c for the terms of a numerator that
  are constant multiples of the denominator.
"""

from __future__ import annotations

import itertools

import sympy as sp

#: array passes of one call of a function (special functions cost several multiplies)
FUNCTION_COST = 8


def code_cost(expr):
    """Approximate array passes to evaluate ``expr``: operations, squares as one, calls as several."""
    cost = 0
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Add, sp.Mul)):
            cost += len(node.args) - 1
        elif isinstance(node, sp.Pow):
            cost += 1 if node.exp in (2, -1, sp.S.Half) else 2 if node.exp == -2 else 4
        elif isinstance(node, sp.Function):
            cost += FUNCTION_COST
    return cost


def _square_parts(term):
    """(coefficient, base) when ``term`` is c * base**2, else None."""
    coeff, rest = term.as_coeff_Mul()
    if isinstance(rest, sp.Pow) and rest.exp == 2:
        return coeff, rest.base
    return None


def complete_squares(expr):
    """Every sum with c a^2 + c b^2 -/+ 2 c a b gets c (a -/+ b)^2 instead (recursively)."""
    def rewrite(add):
        terms = list(add.args)
        changed = True
        while changed:
            changed = False
            squares = [(i, p) for i, t in enumerate(terms) if (p := _square_parts(t))]
            for (i, (ca, a)), (j, (cb, b)) in itertools.combinations(squares, 2):
                if ca != cb:
                    continue
                for sign in (-1, 1):
                    cross = sp.expand(sign * 2 * ca * a * b)
                    k = next((k for k, t in enumerate(terms)
                              if k not in (i, j) and sp.expand(t - cross) == 0), None)
                    if k is not None:
                        kept = [t for n, t in enumerate(terms) if n not in (i, j, k)]
                        terms = kept + [ca * (a + sign * b) ** 2]
                        changed = True
                        break
                if changed:
                    break
        return sp.Add(*terms)
    return expr.replace(lambda e: isinstance(e, sp.Add) and len(e.args) >= 3, rewrite)


def split_ratios(expr):
    """c (P + k D) / D -> c P / D + c k for numerator terms that are multiples of D."""
    def rewrite(mul):
        num, den = sp.fraction(mul)
        if den == 1:
            return mul
        coeff, num = num.as_coeff_Mul()
        if not isinstance(num, sp.Add):
            return mul
        whole, rest = [], []
        for t in num.args:
            q = sp.cancel(t / den)
            (whole if q.is_number else rest).append(t if not q.is_number else q)
        if not whole:
            return mul
        return coeff * sp.Add(*rest) / den + coeff * sp.Add(*whole)
    return expr.replace(lambda e: isinstance(e, sp.Mul) and any(
        isinstance(a, sp.Pow) and a.exp.is_negative for a in e.args), rewrite)


def compact(expr):
    """The cheapest of ``expr`` and its rewritings (by :func:`code_cost`); always equal to it."""
    best, best_cost = expr, code_cost(expr)
    candidate = expr
    for step in (complete_squares, split_ratios):
        try:
            candidate = step(candidate)
        except (TypeError, ValueError, sp.PolynomialError):  # pragma: no cover - keep the input
            continue
        cost = code_cost(candidate)
        if cost < best_cost:
            best, best_cost = candidate, cost
    return best
