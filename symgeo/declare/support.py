"""Supports of the random variable and domains of the coordinates.

A support knows whether it is continuous or discrete, which symbols its
bounds involve (so a coordinate-dependent support can be refused), how to
substitute away a dependent variable (the last component on a simplex or of
a composition), and how to integrate or sum numerically with mpmath.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import sympy as sp

MAX_FINITE_POINTS = 5000
"""A finite support larger than this is summed numerically, never enumerated symbolically."""


class Support:
    """Base class.  ``variables`` is the tuple of random-variable symbols."""

    discrete = False
    kind = "support"

    def free_symbols(self):
        return set()

    def reduce(self, expr, variables):
        """Substitute dependent variables away (identity unless constrained)."""
        return expr

    def free_variables(self, variables):
        """The variables left after :meth:`reduce`."""
        return tuple(variables)

    def subs(self, mapping):
        return self

    def describe(self, variables):
        raise NotImplementedError


@dataclass(frozen=True)
class Box(Support):
    """Product of intervals, one per variable (Lebesgue measure).

    ``periodic`` marks a circle: the interval is one full period and the
    density is periodic, so a shift of the variable maps the support to itself.
    """

    lower: tuple
    upper: tuple
    periodic: bool = False
    discrete = False
    kind = "box"

    def free_symbols(self):
        out = set()
        for b in self.lower + self.upper:
            out |= sp.sympify(b, strict=True).free_symbols
        return out

    def subs(self, mapping):
        return Box(tuple(sp.sympify(b, strict=True).subs(mapping) for b in self.lower),
                   tuple(sp.sympify(b, strict=True).subs(mapping) for b in self.upper), self.periodic)

    @property
    def univariate(self):
        return len(self.lower) == 1

    def describe(self, variables):
        parts = []
        for v, lo, hi in zip(variables, self.lower, self.upper):
            parts.append(f"{lo} < {v} < {hi}")
        return ", ".join(parts) + (" (periodic)" if self.periodic else "")


@dataclass(frozen=True)
class IntegerRange(Support):
    """Integers ``lower <= x <= upper`` (``upper`` may be ``oo`` or a symbol)."""

    lower: object
    upper: object
    discrete = True
    kind = "integers"

    def free_symbols(self):
        return sp.sympify(self.lower, strict=True).free_symbols | sp.sympify(self.upper, strict=True).free_symbols

    def subs(self, mapping):
        return IntegerRange(sp.sympify(self.lower, strict=True).subs(mapping), sp.sympify(self.upper, strict=True).subs(mapping))

    def points(self):
        lo, hi = sp.sympify(self.lower, strict=True), sp.sympify(self.upper, strict=True)
        if not (lo.is_Integer and hi.is_Integer) or hi - lo + 1 > MAX_FINITE_POINTS:
            return None
        return [(sp.Integer(k),) for k in range(int(lo), int(hi) + 1)]

    def describe(self, variables):
        return f"{variables[0]} in {{{self.lower}, ..., {self.upper}}}"


@dataclass(frozen=True)
class IntegerBox(Support):
    """Several integer variables, each ``lower_i <= x_i <= upper_i`` (a product; counting measure).

    Independent observations of counts (a Poisson or Bernoulli regression) live here.
    """

    lower: tuple
    upper: tuple
    discrete = True
    kind = "integer box"

    def free_symbols(self):
        out = set()
        for b in self.lower + self.upper:
            out |= sp.sympify(b, strict=True).free_symbols
        return out

    def subs(self, mapping):
        return IntegerBox(tuple(sp.sympify(b, strict=True).subs(mapping) for b in self.lower),
                          tuple(sp.sympify(b, strict=True).subs(mapping) for b in self.upper))

    def ranges(self):
        return [IntegerRange(lo, hi) for lo, hi in zip(self.lower, self.upper)]

    def points(self):
        total = 1
        axes = []
        for r in self.ranges():
            pts = r.points()
            if pts is None:
                return None
            total *= len(pts)
            if total > MAX_FINITE_POINTS:
                return None
            axes.append([p[0] for p in pts])
        return list(product(*axes))

    def describe(self, variables):
        lo, hi = self.lower[0], self.upper[0]
        same = all(b == lo for b in self.lower) and all(b == hi for b in self.upper)
        if same:
            return f"{', '.join(map(str, variables))} integers in {{{lo}, ..., {hi}}}"
        return ", ".join(f"{v} in {{{a}, ..., {b}}}" for v, a, b in
                         zip(variables, self.lower, self.upper))


@dataclass(frozen=True)
class FiniteValues(Support):
    """A finite set of values of one variable (counting measure)."""

    values: tuple
    discrete = True
    kind = "finite"

    def free_symbols(self):
        out = set()
        for v in self.values:
            out |= sp.sympify(v, strict=True).free_symbols
        return out

    def subs(self, mapping):
        return FiniteValues(tuple(sp.sympify(v, strict=True).subs(mapping) for v in self.values))

    def points(self):
        return [(sp.sympify(v, strict=True),) for v in self.values]

    def describe(self, variables):
        return f"{variables[0]} in {{{', '.join(map(str, self.values))}}}"


@dataclass(frozen=True)
class Simplex(Support):
    """Open probability simplex: x_i > 0, sum x_i = 1.

    The density is taken with respect to Lebesgue measure on the first k-1
    components; the last is ``1 - sum(others)``.
    """

    discrete = False
    kind = "simplex"

    def reduce(self, expr, variables):
        return expr.subs(variables[-1], 1 - sum(variables[:-1]))

    def free_variables(self, variables):
        return tuple(variables[:-1])

    def describe(self, variables):
        return f"x_i > 0, {' + '.join(map(str, variables))} = 1"


@dataclass(frozen=True)
class Compositions(Support):
    """Vectors of non-negative integers summing to ``total`` (counting measure)."""

    total: object
    discrete = True
    kind = "compositions"

    def free_symbols(self):
        return sp.sympify(self.total, strict=True).free_symbols

    def subs(self, mapping):
        return Compositions(sp.sympify(self.total, strict=True).subs(mapping))

    def reduce(self, expr, variables):
        return expr.subs(variables[-1], self.total - sum(variables[:-1]))

    def free_variables(self, variables):
        return tuple(variables[:-1])

    def points_for(self, k):
        n = sp.sympify(self.total, strict=True)
        if not n.is_Integer or sp.binomial(n + k - 1, k - 1) > MAX_FINITE_POINTS:
            return None
        n = int(n)
        pts = []

        def walk(head, left):
            # only the compositions themselves: never the (n+1)^(k-1) grid around them
            if len(head) == k - 1:
                pts.append(head + (sp.Integer(left),))
                return
            for h in range(left + 1):
                walk(head + (sp.Integer(h),), left - h)
        walk((), n)
        return pts

    def describe(self, variables):
        return f"x_i in {{0, 1, ...}}, {' + '.join(map(str, variables))} = {self.total}"


def _interval_value(lo, hi, rng, integer=False):
    """A random number in [lo, hi] (either end may be infinite), spread over a few scales."""
    lo, hi = sp.sympify(lo, strict=True), sp.sympify(hi, strict=True)
    if integer:
        lo = lo if lo.is_finite else (hi - 40 if hi.is_finite else sp.Integer(-20))
        hi = hi if hi.is_finite else lo + 40
        return sp.Integer(rng.randint(int(lo), int(min(hi, lo + 10_000))))
    if lo.is_finite and hi.is_finite:
        v = float(lo) + (float(hi) - float(lo)) * rng.uniform(0.02, 0.98)
    elif lo.is_finite:
        v = float(lo) + 2.0 ** rng.uniform(-4, 4)
    elif hi.is_finite:
        v = float(hi) - 2.0 ** rng.uniform(-4, 4)
    else:
        v = rng.uniform(-6, 6)
    return sp.Rational(round(v * 1000), 1000)


def sample_points(support, nvars, rng, count):
    """``count`` random points (tuples of exact numbers) of a numeric ``support``.

    Points of the support's interior where the density is positive; used by
    declaration checks that need the variable at generic values.  Bounds must
    be numbers (substitute symbolic hyper-parameters first).
    """
    pts = []
    for _ in range(count):
        if isinstance(support, Box):
            pts.append(tuple(_interval_value(lo, hi, rng)
                             for lo, hi in zip(support.lower, support.upper)))
        elif isinstance(support, IntegerRange):
            pts.append((_interval_value(support.lower, support.upper, rng, integer=True),))
        elif isinstance(support, IntegerBox):
            pts.append(tuple(_interval_value(lo, hi, rng, integer=True)
                             for lo, hi in zip(support.lower, support.upper)))
        elif isinstance(support, FiniteValues):
            pts.append((sp.sympify(rng.choice(support.values), strict=True),))
        elif isinstance(support, Simplex):
            w = [rng.uniform(0.05, 1.0) for _ in range(nvars)]
            head = [sp.Rational(round(10**6 * v / sum(w)), 10**6) for v in w[:-1]]
            pts.append(tuple(head) + (1 - sum(head),))
        elif isinstance(support, Compositions):
            # random shares of n, the remainder one by one to random components: every
            # component is non-zero in some samples (sorted random cuts leave the first
            # and last components at 0 almost always when n is small)
            n = int(sp.sympify(support.total, strict=True))
            w = [rng.uniform(0.05, 1.0) for _ in range(nvars)]
            parts = [int(n * v / sum(w)) for v in w]
            for _ in range(n - sum(parts)):
                parts[rng.randrange(nvars)] += 1
            pts.append(tuple(sp.Integer(v) for v in parts))
        else:  # pragma: no cover - a new support kind must say how it is sampled
            raise ValueError(f"no sampling rule for {type(support).__name__}")
    return pts


def finite_points(support, variables):
    """All points of a finite discrete support, or None if not finite/too large."""
    if isinstance(support, Compositions):
        return support.points_for(len(variables))
    if isinstance(support, (IntegerRange, FiniteValues, IntegerBox)):
        return support.points()
    return None


# --------------------------------------------------------------------------
# Coordinate domains


@dataclass(frozen=True)
class Domain:
    """An open (or half-open) interval ``lower < xi < upper`` for one coordinate."""

    lower: object
    upper: object
    name: str = ""

    @property
    def positive(self):
        lo = sp.sympify(self.lower, strict=True)
        return lo.is_finite and lo >= 0

    def contains(self, value):
        v = sp.sympify(value, strict=True)
        lo, hi = sp.sympify(self.lower, strict=True), sp.sympify(self.upper, strict=True)
        return bool((lo == -sp.oo or v > lo) and (hi == sp.oo or v < hi or
                                                   (self.name == "circle" and v == hi)))

    def condition(self, sym):
        """The domain as a sympy boolean in ``sym``."""
        lo, hi = sp.sympify(self.lower, strict=True), sp.sympify(self.upper, strict=True)
        conds = []
        if lo != -sp.oo:
            conds.append(sym > lo)
        if hi != sp.oo:
            conds.append(sym <= hi if self.name == "circle" else sym < hi)
        return sp.And(*conds) if conds else sp.true

    def describe(self, sym):
        lo, hi = sp.sympify(self.lower, strict=True), sp.sympify(self.upper, strict=True)
        if lo == -sp.oo and hi == sp.oo:
            return f"{sym} real"
        if hi == sp.oo:
            return f"{sym} > {lo}"
        right = "<=" if self.name == "circle" else "<"
        return f"{lo} < {sym} {right} {hi}"


NAMED_DOMAINS = {
    "real": Domain(-sp.oo, sp.oo, "real"),
    "positive": Domain(0, sp.oo, "positive"),
    "unit": Domain(0, 1, "unit"),
    "circle": Domain(-sp.pi, sp.pi, "circle"),
}


def as_domain(spec):
    """A Domain from a name ('real', 'positive', 'unit', 'circle'), a pair or a sympy Interval."""
    if isinstance(spec, Domain):
        return spec
    if isinstance(spec, str):
        if spec not in NAMED_DOMAINS:
            raise ValueError(f"unknown domain {spec!r}; use one of {', '.join(NAMED_DOMAINS)} "
                             "or a pair (lower, upper)")
        return NAMED_DOMAINS[spec]
    if isinstance(spec, sp.Interval):
        return Domain(spec.start, spec.end)
    if spec is sp.S.Reals:
        return NAMED_DOMAINS["real"]
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        return Domain(sp.sympify(spec[0], strict=True), sp.sympify(spec[1], strict=True))
    raise ValueError(f"cannot read a coordinate domain from {spec!r}")


def domain_from_assumptions(sym):
    if sym.is_positive:
        return NAMED_DOMAINS["positive"]
    return NAMED_DOMAINS["real"]
