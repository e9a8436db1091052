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

import functools
import itertools

import sympy as sp

from .functions import NodePoly, NodeQuad, NodeSum

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
        symbols = den.free_symbols
        for t in num.args:
            # a multiple of D has D's symbols: cancel (slow on large terms) only then
            q = sp.cancel(t / den) if t.free_symbols == symbols else t / den
            (whole if q.is_number else rest).append(t if not q.is_number else q)
        if not whole:
            return mul
        return coeff * sp.Add(*rest) / den + coeff * sp.Add(*whole)
    return expr.replace(lambda e: isinstance(e, sp.Mul) and any(
        isinstance(a, sp.Pow) and a.exp.is_negative for a in e.args), rewrite)


@functools.lru_cache(maxsize=4096)
def compact(expr):
    """The cheapest of ``expr`` and its rewritings (by :func:`code_cost`); always equal to it.

    Cached: every backend prints the same derived expressions."""
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


def hoist(exprs, var, prefix="_r", linear=False):
    """``exprs`` rewritten so that the work done at every value of ``var`` is least.

    Generated quadrature evaluates an integrand at a grid of nodes ``var`` (the
    last array axis) for every row of parameters, so an operation on
    parameters alone costs one pass over the rows and an operation that
    involves ``var`` one pass over rows x nodes.  Here every maximal sub-sum or
    sub-product free of ``var`` becomes a new symbol (computed once per row),
    the terms of a sum are grouped by their ``var``-dependent factor
    (a log(g) + b log(g) -> (a + b) log(g)), a polynomial in ``var`` is
    written in Horner form with row coefficients, and a power g**k of a positive g
    with a row exponent k as exp(k log g).

    ``linear``: a polynomial in ``var`` with row coefficients becomes a
    :class:`~symgeo.codegen.functions.NodePoly`, and the terms c_j f_j of a sum whose
    f_j depend on ``var`` alone (with its row constant) a
    :class:`~symgeo.codegen.functions.NodeSum` (one matrix product where the rows share
    their nodes).

    Returns ``(definitions, rewritten)``: ``definitions`` a list of
    ``(symbol, expression of the parameters)`` in order, ``rewritten`` the
    list of expressions in those symbols.  Identities only: ``rewritten``
    with the definitions substituted equals ``exprs`` (after ``doit()`` where
    ``linear``).
    """
    definitions, names = [], {}
    counter = itertools.count()

    def row(e):
        if e.is_number or e.is_Symbol:
            return e
        if e not in names:
            name = f"{prefix}{next(counter)}"
            # a product of exponentials is positive (or NaN off the domain, masked anyway)
            positive = e.is_positive or all(isinstance(f, sp.exp) or f.is_positive
                                            for f in sp.Mul.make_args(e))
            names[e] = sp.Symbol(name, positive=True) if positive else \
                sp.Symbol(name, real=True) if e.is_real else sp.Symbol(name)
            definitions.append((names[e], e))
        return names[e]

    def row_coefficient(c):
        c = sp.factor_terms(c)
        return c if c.is_number else row(c)

    def scaled(coefficient, e):
        coefficient = sp.factor_terms(coefficient)
        return coefficient * e if coefficient.is_number else row(coefficient) * e

    def node(e):
        if not isinstance(e, sp.Expr) or isinstance(e, sp.Piecewise):
            return e  # conditions and pieces are left as they are
        if not e.has(var):
            return row(e)
        if e is var or e.is_Atom:
            return e
        if e.is_Add:
            free, dep = e.as_independent(var, as_Add=True)
            groups = {}
            for term in sp.Add.make_args(dep):
                coefficient, factor = term.as_independent(var, as_Add=False)
                groups.setdefault(factor, []).append(coefficient)
            powers = {}
            for factor, cs in groups.items():
                base, k = factor.as_base_exp()
                if base is var and k.is_Integer and k > 0:
                    powers[int(k)] = sp.Add(*cs)
            if linear and len(powers) == len(groups) and not (free.is_number and all(
                    sp.Add(*cs).is_number for cs in groups.values())):
                n = max(powers)
                if n == 2 and powers[2].is_nonzero:  # x0 = -b / 2a needs a != 0
                    # a (x - x0)^2 + r with r simplified symbolically: the expanded
                    # coefficients cancel near x0 (a Cauchy q far from p and narrow:
                    # d^2 + g^2 - d^2 lost g^2 to rounding, 6e-10 of its affinity)
                    a, b = powers[2], powers.get(1, sp.S.Zero)
                    x0 = sp.factor_terms(sp.cancel(-b / (2 * a)))
                    r = sp.factor_terms(sp.cancel(free - b ** 2 / (4 * a)))
                    return NodeQuad(var, row_coefficient(a), row_coefficient(x0),
                                    row_coefficient(r))
                return NodePoly(var, *[row_coefficient(powers.get(k, sp.S.Zero))
                                       for k in range(n, 0, -1)], row_coefficient(free))
            if len(powers) == len(groups) and max(powers) > 1:
                # Horner: (((c_n x + c_{n-1}) x + ...) x + c_0)
                acc = sp.S.Zero
                for k in range(max(powers), 0, -1):
                    acc = sp.Mul(acc + scaled(powers.get(k, sp.S.Zero), sp.S.One), var,
                                 evaluate=acc != 0)
                return acc + row(free) if free != 0 else acc
            if linear:
                alone = [f for f in groups if f.free_symbols <= {var}]
                # the terms with a number as coefficient are one function of the node
                fixed = sp.Add(*[sp.Add(*groups[f]) * f for f in alone
                                 if sp.Add(*groups[f]).is_number])
                rows_in = [f for f in alone if not sp.Add(*groups[f]).is_number]
                extra = (fixed != 0) + (free != 0)
                if rows_in and len(rows_in) + extra >= 2:
                    pairs = [(row_coefficient(sp.Add(*groups[f])), node(f)) for f in rows_in] + \
                        ([(sp.S.One, node(fixed))] if fixed != 0 else []) + \
                        ([(row_coefficient(free), sp.S.One)] if free != 0 else [])
                    return sp.Add(NodeSum(*[a for pair in pairs for a in pair]),
                                  *[scaled(sp.Add(*groups[f]), node(f))
                                    for f in groups if f not in alone])
            parts = [scaled(sp.Add(*cs), node(factor)) for factor, cs in groups.items()]
            return sp.Add(row(free), *parts)
        if e.is_Mul:
            free, dep = e.as_independent(var, as_Add=False)
            return scaled(free, sp.Mul(*[node(a) for a in sp.Mul.make_args(dep)]))
        if e.is_Pow and e.base.is_positive and not e.exp.is_number and not e.exp.has(var):
            # b(x)**k with k a row quantity: exp(k log b), a third of the time of a power
            # with the log shared with the density's other log b terms (an identity for b > 0)
            return node(sp.exp(sp.Mul(e.exp, sp.log(e.base), evaluate=False)))
        return e.func(*[node(a) for a in e.args])

    rewritten = [node(sp.sympify(e, strict=True)) for e in exprs]
    return definitions, rewritten
