"""Family methods for divergences, entropy and exponential-family structure.

Kept out of family.py so each concept module owns its public entry points;
results are cached on the family through ``self._cached``.  Points ``p`` and
``q`` are sequences in coordinate order (numbers or sympy expressions), or
dicts keyed by coordinate (symbol or name); ``None`` means the general closed
form, in the family's coordinates for p and their ``*_q`` copies for q.
"""

from __future__ import annotations

import sympy as sp

from .errors import DerivationError, SymgeoError


class DivergenceMethods:
    """Mixin of :class:`symgeo.family.Family`."""

    # -- exponential-family structure -----------------------------------
    def exponential_family(self):
        """The exponential-family structure (θ, T, A, h, η, A*, Fisher in θ and η).

        Raises :class:`DerivationError` with the reason when the family is not
        an exponential family; a curved family answers with ``kind == "curved"``.
        """
        from .expfamily import structure
        return self._cached("expfam", lambda: structure(self))

    # -- divergences ------------------------------------------------------
    def _q_symbols(self):
        from .divergence import second_point
        return self._cached("q_symbols", lambda: second_point(self))

    def kl_result(self):
        """KL(p || q) in general form (p: coordinates, q: ``*_q``) with its route, as a Divergence."""
        from .divergence import kl_closed_form
        return self._cached("kl", lambda: self._closed("KL(p || q)", kl_closed_form))

    def _closed(self, what, fn, *args):
        try:
            return fn(self, *args)
        except DerivationError as exc:
            raise DerivationError(
                f"family {self.name!r}: no closed form for {what} ({exc}). The numeric route "
                f"works at any point: family.kl_numeric(p, q), family.entropy_numeric(p) or "
                f"family.alpha_divergence_numeric(alpha, p, q) (mpmath quadrature).") from None

    def kl(self, p=None, q=None):
        """KL(p || q) = E_p[log p - log q] (nats), closed form (see symgeo.divergence)."""
        from .divergence import substitute
        return substitute(self, self.kl_result().value, p, q, self._q_symbols())

    def reverse_kl(self, p=None, q=None):
        """KL(q || p)."""
        from .divergence import substitute
        swap = {**dict(zip(self.coordinates, self._q_symbols())),
                **dict(zip(self._q_symbols(), self.coordinates))}
        return substitute(self, self.kl_result().value.xreplace(swap), p, q, self._q_symbols())

    def entropy_result(self):
        """H(p) = -E_p[log p] with its route, as a Divergence."""
        from .divergence import entropy_closed_form
        return self._cached("entropy", lambda: self._closed("the entropy", entropy_closed_form))

    def entropy(self, p=None):
        """Entropy H(p) = -E_p[log p] in nats (differential entropy for densities)."""
        from .divergence import substitute
        return substitute(self, self.entropy_result().value, p)

    def cross_entropy(self, p=None, q=None):
        """Cross-entropy H(p, q) = -E_p[log q] = H(p) + KL(p || q)."""
        from .divergence import substitute, tidy_divergence
        expr = tidy_divergence(self.entropy_result().value + self.kl_result().value)
        return substitute(self, expr, p, q, self._q_symbols())

    def log_affinity(self, lam):
        """log ∫ p^λ q^{1-λ} in general form, as a Divergence (λ a number or symbol)."""
        from .divergence import log_affinity_closed_form
        lam = sp.sympify(lam)
        return self._cached(("log_affinity", lam), lambda: self._closed(
            f"the affinity int p^{lam} q^(1-{lam})", log_affinity_closed_form, lam))

    def alpha_divergence(self, alpha, p=None, q=None):
        """Amari's α-divergence D_α(p || q) = 4/(1-α²) (1 - ∫ p^{(1-α)/2} q^{(1+α)/2}).

        α = -1 is KL(p || q), α = +1 is KL(q || p) (the limits), α = 0 is
        4 (1 - ∫ sqrt(p q)) = 4 H².  ``alpha`` may be a number or a symbol.
        """
        from .divergence import alpha_from_affinity, substitute
        alpha = sp.sympify(alpha)
        if alpha == -1:
            return self.kl(p, q)
        if alpha == 1:
            return self.reverse_kl(p, q)
        lam = (1 - alpha) / 2
        # log ρ is tidy already; tidying 4/(1-α²)(1 - ρ) again costs seconds and gains little
        expr = alpha_from_affinity(alpha, self.log_affinity(lam).value)
        return substitute(self, expr, p, q, self._q_symbols())

    def bhattacharyya(self, p=None, q=None):
        """Bhattacharyya distance -log ∫ sqrt(p q)."""
        from .divergence import substitute
        return substitute(self, -self.log_affinity(sp.S.Half).value, p, q, self._q_symbols())

    def hellinger(self, p=None, q=None):
        """Hellinger distance H = sqrt(1 - ∫ sqrt(p q)) (so that D_0 = 4 H²)."""
        from .divergence import substitute
        expr = sp.sqrt(1 - sp.exp(self.log_affinity(sp.S.Half).value))
        return substitute(self, expr, p, q, self._q_symbols())

    # -- numeric (mpmath) route -----------------------------------------
    def _numeric_points(self, p, q=None):
        from .divergence import _point
        pp = _point(self, p, "p")
        qq = _point(self, q, "q") if q is not None else None
        for pt, nm in ((pp, "p"), (qq, "q")):
            if pt is not None and not all(sp.sympify(v).is_number for v in pt.values()):
                raise SymgeoError(f"family {self.name!r}: the numeric route needs numeric {nm}")
        return pp, qq

    def kl_numeric(self, p, q, dps=30):
        """KL(p || q) by mpmath quadrature/summation of the declared density."""
        pp, qq = self._numeric_points(p, q)
        f = self.log_density - self.log_density.xreplace(qq)
        return self.expectation_numeric(f, pp, dps=dps)

    def entropy_numeric(self, p, dps=30):
        """H(p) by mpmath quadrature/summation of the declared density."""
        pp, _ = self._numeric_points(p)
        return self.expectation_numeric(-self.log_density, pp, dps=dps)

    def alpha_divergence_numeric(self, alpha, p, q, dps=30):
        """D_α(p || q) by mpmath quadrature of E_p[(q/p)^{(1+α)/2}]."""
        import mpmath as mp
        alpha = sp.nsimplify(alpha)
        if alpha == -1:
            return self.kl_numeric(p, q, dps)
        if alpha == 1:
            return self.kl_numeric(q, p, dps)
        pp, qq = self._numeric_points(p, q)
        f = sp.exp((1 + alpha) / 2 * (self.log_density.xreplace(qq) - self.log_density))
        rho = self.expectation_numeric(f, pp, dps=dps)
        with mp.workdps(dps):
            return 4 / (1 - mp.mpf(sp.N(alpha, dps)) ** 2) * (1 - rho)
