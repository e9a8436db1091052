"""The numeric (mpmath) route for divergences: quadrature or summation of the declared density.

Independent of every closed form (it uses none of the engine's identities),
at any precision; offered whenever a closed form does not exist.  Points are
sequences in coordinate order or dicts keyed by coordinate (symbol or name).
"""

from __future__ import annotations

import mpmath as mp
import sympy as sp

from ..engine.numeric import expect_numeric
from ..errors import SymgeoError
from .closed_forms import _point


def numeric_points(family, p, q=None):
    """(p, q) as dicts coordinate -> number; symbolic values are refused."""
    pp = _point(family, p, "p")
    qq = _point(family, q, "q") if q is not None else None
    for pt, nm in ((pp, "p"), (qq, "q")):
        if pt is not None and not all(sp.sympify(v, strict=True).is_number for v in pt.values()):
            raise SymgeoError(f"family {family.name!r}: the numeric route needs numeric {nm}")
    return pp, qq


def kl_numeric(family, p, q, dps=30):
    """KL(p || q) = E_p[log p - log q] by mpmath at ``dps`` digits."""
    pp, qq = numeric_points(family, p, q)
    f = family.log_density - family.log_density.xreplace(qq)
    return expect_numeric(family, f, pp, dps=dps, breaks=qq.values())


def entropy_numeric(family, p, dps=30):
    """H(p) = -E_p[log p] by mpmath at ``dps`` digits."""
    pp, _ = numeric_points(family, p)
    return expect_numeric(family, -family.log_density, pp, dps=dps)


def alpha_divergence_numeric(family, alpha, p, q, dps=30):
    """D_α(p || q) = 4/(1-α²)(1 - E_p[(q/p)^{(1+α)/2}]) by mpmath; α = ∓1 is KL(p||q), KL(q||p)."""
    alpha = sp.nsimplify(alpha)
    if alpha == -1:
        return kl_numeric(family, p, q, dps)
    if alpha == 1:
        return kl_numeric(family, q, p, dps)
    pp, qq = numeric_points(family, p, q)
    f = sp.exp((1 + alpha) / 2 * (family.log_density.xreplace(qq) - family.log_density))
    rho = expect_numeric(family, f, pp, dps=dps, breaks=qq.values())
    with mp.workdps(dps):
        return 4 / (1 - mp.mpf(sp.N(alpha, dps)) ** 2) * (1 - rho)
