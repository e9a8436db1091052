"""Standardising substitutions for univariate continuous families.

A standardisation writes x = a + b * phi(w), with a, b built from the
coordinates and phi one of identity, -log, log, such that the density of w,

    log p0(w) = log p(a + b phi(w)) + log |b phi'(w)|,

depends on as few coordinates as possible (ideally none).  Then
E[f(x)] = int f(a + b phi(w)) p0(w) dw, and after expanding f into terms
c_i(xi) m_i(w) each integral is parameter-free (or depends only on a shape
parameter) and is evaluated by :mod:`symgeo.rules`.

Candidates are searched, not looked up: the location a ranges over 0 and the
coordinates, the scale b over 1, the positive coordinates and their
reciprocals (the candidates are restricted to maps that carry the support
onto itself).  The exponential map w = exp(-+z) is tried when the
standardised log-density still contains exp(z) (logistic, Gumbel).

When the rules cannot integrate the terms of that standardisation, the
engine asks for :func:`alternative_standardisations`: a monotone map of x
onto another standard domain first (:data:`MONOTONE_MAPS`: the logit of
(0, 1) onto the real line, log of (0, oo) onto the real line, exp(-x) of
(0, oo) onto (0, 1)), then the same location-scale search in the new
variable.  The log-density picks up log |dx/dt|; nothing is specific to a
family (logit-normal, log-Cauchy, exponentiated exponential, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp


@dataclass
class Standardisation:
    variable: sp.Symbol      # x
    new: sp.Symbol           # w
    x_of_w: sp.Expr          # a + b phi(w)
    log_p0: sp.Expr          # log density of w
    domain: str              # "real", "half", "unit", "circle"
    remaining: tuple         # coordinates left in p0 (shape parameters)

    def describe(self):
        return f"{self.variable} = {self.x_of_w}, log p0({self.new}) = {self.log_p0}"


def cancel_logs(e):
    """log(r) with its argument cancelled and factored: after x = 1/(1 + e^-t),
    log(x / (1 - x)) is log(e^t) = t and log(e^2t + 2e^t + 1) is 2 log(e^t + 1),
    which sympy sees only once the quotient is cancelled and factored."""
    return e.replace(lambda a: isinstance(a, sp.log) and not a.args[0].is_Atom,
                     lambda a: sp.expand_log(sp.log(sp.factor(log_powers(a.args[0])))))


def _log_factor(term):
    """The one log(y) factor of a product term, or None."""
    logs = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.log)]
    return logs[0] if len(logs) == 1 else None


def log_powers(e):
    """exp(z + b log a) as a^b e^z (an identity: a^b is exp(b log a)), so that factor
    sees the common a^b of a^b + exp(z + b log a) (after t = log a + z/b, where a is a
    scale of e^t), and exp(log(w)/k) reads w^(1/k)."""
    def split(n):
        powers, rest = [], []
        for t in sp.Add.make_args(sp.expand(n.args[0])):
            lg = _log_factor(t)
            (powers.append(lg.args[0] ** (t / lg)) if lg is not None else rest.append(t))
        return sp.Mul(*powers, sp.exp(sp.Add(*rest)))
    return e.replace(lambda n: isinstance(n, sp.exp) and n.args[0].has(sp.log) and
                     any(_log_factor(t) is not None
                         for t in sp.Add.make_args(sp.expand(n.args[0]))), split)


def clean_logs(e):
    """log p after a substitution, logs split and quotients cancelled (see cancel_logs)."""
    return sp.expand(sp.expand_log(sp.expand_power_base(sp.powdenest(cancel_logs(e))),
                                   force=False))


def _domain_of(lo, hi, periodic):
    lo, hi = sp.sympify(lo, strict=True), sp.sympify(hi, strict=True)
    if periodic:
        return "circle" if (lo, hi) == (-sp.pi, sp.pi) else None
    if lo == -sp.oo and hi == sp.oo:
        return "real"
    if lo == 0 and hi == sp.oo:
        return "half"
    if lo == 0 and hi == 1:
        return "unit"
    return None


def find_standardisation(log_density, x, lower, upper, periodic, coords, locations=()):
    """The best standardisation of a univariate log-density, or None.

    ``locations``: more location candidates on the real line (after x = e^t, the
    logs of the positive coordinates: a scale of x is a location of t)."""
    domain = _domain_of(lower, upper, periodic)
    if domain is None:
        return None
    coords = tuple(coords)
    positive = [c for c in coords if c.is_positive]
    if domain in ("real", "circle"):
        locations = [sp.S.Zero] + list(coords) + list(locations)
    else:
        locations = [sp.S.Zero]
    if domain in ("real", "half"):
        scales = [sp.S.One] + positive + [1 / c for c in positive]
    else:
        scales = [sp.S.One]
    z = sp.Symbol("z", positive=True) if domain in ("half", "unit") else sp.Symbol("z", real=True)
    best = None
    for a in locations:
        for b in scales:
            if a == 0 and b == 1 and best is not None:
                continue
            ell0 = clean_logs(log_density.subs(x, a + b * z) + sp.log(b))
            left = tuple(c for c in coords if ell0.has(c))
            key = (len(left), sp.count_ops(ell0))
            if best is None or key < best[0]:
                best = (key, a + b * z, ell0, left)
    _, x_of_z, ell0, left = best
    result = Standardisation(x, z, x_of_z, ell0, domain, left)
    if domain == "real" and ell0.has(sp.exp):
        w = sp.Symbol("w", positive=True)
        found = None
        for sgn in (-1, 1):  # the simpler of w = e^-z and w = e^z (Gumbel: e^-w; z - e^z: e^-w)
            z_of_w = sgn * sp.log(w)
            ell1 = clean_logs(ell0.subs(z, z_of_w) - sp.log(w))
            if not any(isinstance(f, sp.exp) and f.has(w) for f in ell1.atoms(sp.exp)):
                left1 = tuple(c for c in coords if ell1.has(c))
                key = (len(left1), sp.count_ops(ell1))
                if len(left1) <= len(left) and (found is None or key < found[0]):
                    found = key, Standardisation(x, w, x_of_z.subs(z, z_of_w), ell1, "half",
                                                 left1)
        if found is not None:
            return found[1]
    return result


def _map_table():
    t_real = sp.Symbol("t", real=True)
    t_pos = sp.Symbol("t", positive=True)
    return {
        # domain of x: [(name, t, x(t), new lower, new upper), ...]
        "unit": [("logit", t_real, 1 / (1 + sp.exp(-t_real)), -sp.oo, sp.oo)],
        "half": [("log", t_real, sp.exp(t_real), -sp.oo, sp.oo),
                 ("exp(-x)", t_pos, -sp.log(t_pos), 0, 1)],
        "real": [("log", t_pos, sp.log(t_pos), 0, sp.oo)],
    }


MONOTONE_MAPS = _map_table()
"""Monotone maps x = x(t) of a standard domain onto another, tried in order."""

LOG_LOCATIONS = ("log",)
"""Maps x = e^t after which log c (c a positive coordinate) is a location candidate
of t: the scale lam of x becomes the location log lam of t (Weibull: t = log lam + z/k
gives the standard Gumbel z - e^z, then w = e^z the standard exponential)."""


def alternative_standardisations(log_density, x, lower, upper, periodic, coords):
    """Standardisations after a monotone map x = x(t) (see :data:`MONOTONE_MAPS`)."""
    domain = _domain_of(lower, upper, periodic)
    out = []
    for name, t, x_of_t, lo, hi in MONOTONE_MAPS.get(domain, ()):
        jac = sp.log(sp.Abs(sp.diff(x_of_t, t)))
        ell_t = clean_logs(log_density.subs(x, x_of_t) + jac)
        locations = [sp.log(c) for c in coords if c.is_positive] if name in LOG_LOCATIONS \
            else ()
        st = find_standardisation(ell_t, t, lo, hi, False, coords, locations)
        if st is None:
            continue
        out.append(Standardisation(x, st.new, log_powers(x_of_t.subs(t, st.x_of_w)),
                                   st.log_p0, st.domain, st.remaining))
    return out


def density_factor(log_p0, w):
    """exp(log p0) as a product, so that exp(c log g(w)) becomes the power g(w)^c.

    The rules read kernels as powers: w^(a-1), (1 + r w^q)^(-s), (1 - w^q)^(b-1).
    """
    out = sp.S.One
    for t in sp.Add.make_args(sp.expand(log_p0)):
        c, r = t.as_independent(w, as_Add=False)
        if isinstance(r, sp.log) and r.args[0].has(w):
            out *= r.args[0] ** c
        elif not t.has(w) and isinstance(t.as_coeff_Mul()[1], sp.loggamma):
            k, lg = t.as_coeff_Mul()
            out *= sp.gamma(lg.args[0]) ** k  # a normalising 1/Gamma(.), not exp(-log Gamma)
        else:
            out *= sp.exp(t)
    return out
