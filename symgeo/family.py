"""The ``Family`` facade: a declaration, the cache of what has been derived, one method per quantity.

This is the one place where the quantities meet.  Each method delegates to
the module that owns the concept and caches the result on the family, so a
quantity is derived once and reused (``connection(alpha)`` reuses the
Amari–Chentsov tensor and the Levi-Civita part, ``kl`` the mean parameters):

==============================  ===============================================
declaration, points             :mod:`symgeo.declare.declaration`
expectations                    :mod:`symgeo.engine.expectation`, numeric route
                                :mod:`symgeo.engine.numeric`
score, Fisher, Cramér–Rao,      :mod:`symgeo.information.fisher`,
Jeffreys, reparameterisation    :mod:`symgeo.information.reparam`
KL, entropy, α-divergences      :mod:`symgeo.divergence.closed_forms`,
                                :mod:`symgeo.divergence.numeric`
exponential-family structure    :mod:`symgeo.divergence.expfamily`
connections, T_ijk, curvature   :mod:`symgeo.geometry.connection`, ``.curvature``
geodesics, distances            :mod:`symgeo.geometry.geodesic`
natural gradient, projections   :mod:`symgeo.geometry.natural`, ``.projection``
numeric (numpy) functions       :mod:`symgeo.codegen.numpy`
pictures                        :mod:`symgeo.plot`
==============================  ===============================================

Points ``p`` and ``q`` of the divergence methods are sequences in coordinate
order (numbers or sympy expressions), or dicts keyed by coordinate (symbol or
name); ``None`` means the general closed form, in the family's coordinates for
p and their ``*_q`` copies for q.
"""

from __future__ import annotations

import sympy as sp

from . import plot as _plot
from .codegen import numpy as _codegen
from .declare.catalog import catalog_text
from .declare.declaration import Declaration
from .declare.loader import declaration_from_text, read_declaration_file
from .declare.parse import user_value
from .divergence import closed_forms as _div
from .divergence import numeric as _div_numeric
from .divergence.expfamily import structure as _expfamily_structure
from .engine.budget import command_budget, doing, wall_remaining
from .engine.expectation import ExpectationEngine
from .engine.numeric import check_identifiable, check_normalised, expect_numeric
from .errors import CommandBudgetSpent, DeclarationError, DerivationError
from .geometry import connection as _connection
from .geometry import curvature as _curvature
from .geometry import geodesic as _geodesic
from .geometry import natural as _natural
from .geometry import projection as _projection
from .information import fisher as _fisher
from .information import reparam as _reparam
from .printing import family_latex


DECLARATION_BUDGET = 60.0
"""Seconds (wall clock) the checks of a declaration may take (quadratures at generic points)."""


class Family(Declaration):
    """A parametric family of distributions, with its derived information geometry.

    Declared with the arguments of :class:`symgeo.declare.declaration.Declaration`
    (name, log-density, variables, support, coordinates, fixed, constraints, ...)
    and ``validate``: check normalisation numerically at a generic point (default True).
    """

    def __init__(self, name, log_density, variables, support, coordinates, fixed=None, *,
                 validate=True, _parent=None, **declaration):
        # the declaration (sympy's assumption queries on the user's expressions) and
        # its checks (normalisation and identifiability at generic points) share
        # DECLARATION_BUDGET
        try:
            with doing(f"the declaration checks of family {name!r}"), \
                    command_budget(DECLARATION_BUDGET):
                super().__init__(name, log_density, variables, support, coordinates, fixed,
                                 **declaration)
                if validate:
                    check_normalised(self)
                    check_identifiable(self)
        except CommandBudgetSpent:
            left = wall_remaining()
            if left is not None and left <= 0:
                raise  # the command's own budget is spent: it reports
            raise DeclarationError(
                f"family {name!r}: the declaration and its checks (normalisation at generic "
                f"points, identifiability) did not finish within {DECLARATION_BUDGET:g} s; "
                "simplify the density, or pass validate=False to skip the checks") from None
        self._cache = {}
        self._parent = _parent
        self._engine = ExpectationEngine(self)

    # ------------------------------------------------------------------
    # caching
    def _cached(self, key, compute):
        if key not in self._cache:
            what = key if isinstance(key, str) else " ".join(map(str, key))
            with doing(f"{what.replace('_', ' ')} of family {self.name!r}"):
                self._cache[key] = compute()
        return self._cache[key]

    # ------------------------------------------------------------------
    # expectations
    def _user(self, value, what, extra=()):
        """A value from the user through the safe parser (never sympify on text)."""
        names = {s.name: s for s in self.coordinates + self.variables +
                 tuple(self.fixed_symbols.values())}
        names.update({s.name: s for s in extra})
        return user_value(value, names, where=f"family {self.name!r}: {what}")

    def expectation(self, f):
        """E_xi[f(x)] as an Expectation (value, route, detail)."""
        return self._engine.expect(self._user(f, "expectation"))

    def expectation_numeric(self, f, point, dps=30):
        """E_xi[f(x)] at a numeric point by mpmath quadrature/summation (the numeric route)."""
        pt = {self.symbol(k) if isinstance(k, str) else k: self._user(v, "point")
              for k, v in point.items()}
        return expect_numeric(self, self._user(f, "expectation"), pt, dps=dps)

    # ------------------------------------------------------------------
    # score and Fisher
    def score(self):
        """Column vector s_i = d log p / d xi_i (d x 1), coordinates in catalog order."""
        return self._cached("score", lambda: _fisher.score_vector(self.log_density, self.coordinates))

    def hessian(self):
        """Pointwise Hessian d_i d_j log p (d x d), null-set point masses dropped."""
        return self._cached("hessian", lambda: _fisher.hessian_matrix(self.log_density,
                                                                      self.coordinates))

    def nonsmooth(self):
        """Sub-expressions where log p is not differentiable in a coordinate."""
        return self._cached("nonsmooth", lambda: _fisher.nonsmooth_points(self.log_density,
                                                                          self.coordinates))

    def _fisher_form(self, form):
        def compute():
            if self._parent is not None:
                return _reparam.pullback_fisher(*self._parent)
            if form == "score":
                M, routes = _fisher.fisher_score_form(self._engine, self.score())
            else:
                M, routes = _fisher.fisher_hessian_form(self._engine, self.hessian())
            return _fisher.FisherResult(M, form, routes)
        return self._cached(("fisher", form), compute)

    def fisher_result(self):
        """The Fisher matrix with its provenance (form used, route per entry, notes)."""
        def compute():
            kinks = self.nonsmooth()
            gaussian = self._engine.gaussian() if self._parent is None else None
            if gaussian is not None and not kinks:
                M, routes = _fisher.fisher_gaussian_form(*gaussian, self.coordinates)
                res = _fisher.FisherResult(M, "hessian", routes)
                res.notes.append("the log-density is quadratic in x, x ~ N(m, C): the Gaussian "
                                 "Fisher identity gives I without an expectation")
                return res
            if not kinks:
                res = self._fisher_form("hessian")
                if self._parent is None:
                    res.notes.append("log p is twice differentiable in the coordinates, so "
                                     "I = -E[Hessian], which equals E[s s^T] and is cheaper")
                return res
            res = self._fisher_form("score")
            note = (f"log p is not differentiable in the coordinates at {', '.join(map(str, kinks))}: "
                    "the Fisher information is E[s s^T]; the classical Hessian form -E[Hessian] "
                    "misses the point mass of the second derivative at the kink")
            try:
                h = self._fisher_form("hessian").matrix
                if not _fisher.entries_agree(h, res.matrix):
                    note += f" (it gives {h.tolist()}, which is wrong)"
            except DerivationError:
                pass
            res.notes.append(note)
            return res
        return self._cached("fisher_result", compute)

    def fisher(self, form=None):
        """Fisher information matrix g_ij = E[d_i ell d_j ell] (d x d, symmetric).

        ``form`` = "score" forces E[s s^T], "hessian" forces -E[grad^2 ell];
        by default the Hessian form is used when ell is smooth in xi, else E[s s^T].
        """
        if form is None:
            return self.fisher_result().matrix
        if form not in ("score", "hessian"):
            raise ValueError("form must be 'score' or 'hessian'")
        return self._fisher_form(form).matrix

    def fisher_forms(self):
        """Both classical forms and whether they agree: dict(score=..., hessian=..., agree=...)."""
        s = self.fisher("score")
        h = self.fisher("hessian")
        return {"score": s, "hessian": h, "agree": _fisher.entries_agree(s, h)}

    def cramer_rao(self):
        """Inverse Fisher matrix I^{-1} (Cramer-Rao lower bound for unbiased estimators)."""
        return self._cached("cramer_rao", lambda: _fisher.cramer_rao_bound(self.fisher()))

    def jeffreys_prior(self):
        """Unnormalised Jeffreys prior sqrt(det I)."""
        return self._cached("jeffreys", lambda: _fisher.jeffreys_density(self.fisher()))

    # ------------------------------------------------------------------
    # reparameterisation
    def reparameterize(self, new_coordinates, mapping, name=None):
        """A new Family in coordinates ``new_coordinates``.

        ``mapping`` gives every old coordinate as an expression in the new ones
        (dict old Symbol or name -> expr).  The new Fisher matrix is the
        pullback J^T I(xi(zeta)) J with J_ij = d xi_i / d zeta_j.
        """
        child, parent = _reparam.reparameterize(self, new_coordinates, mapping, name, Family)
        child._parent = parent
        return child

    # ------------------------------------------------------------------
    # exponential-family structure
    def exponential_family(self):
        """The exponential-family structure (θ, T, A, h, η, A*, Fisher in θ and η).

        Raises :class:`DerivationError` with the reason when the family is not
        an exponential family; a curved family answers with ``kind == "curved"``.
        """
        return self._cached("expfam", lambda: _expfamily_structure(self))

    # ------------------------------------------------------------------
    # divergences (closed forms)
    def _q_symbols(self):
        return self._cached("q_symbols", lambda: _div.second_point(self))

    def _closed(self, what, fn, *args):
        try:
            return fn(self, *args)
        except DerivationError as exc:
            raise DerivationError(
                f"family {self.name!r}: no closed form for {what} ({exc}). The numeric route "
                f"works at any point: family.kl_numeric(p, q), family.entropy_numeric(p) or "
                f"family.alpha_divergence_numeric(alpha, p, q) (mpmath quadrature).") from None

    def kl_result(self):
        """KL(p || q) in general form (p: coordinates, q: ``*_q``) with its route, as a Divergence."""
        return self._cached("kl", lambda: self._closed("KL(p || q)", _div.kl_closed_form))

    def kl(self, p=None, q=None):
        """KL(p || q) = E_p[log p - log q] (nats), closed form (see symgeo.divergence)."""
        return _div.substitute(self, self.kl_result().value, p, q, self._q_symbols())

    def reverse_kl(self, p=None, q=None):
        """KL(q || p)."""
        swap = {**dict(zip(self.coordinates, self._q_symbols())),
                **dict(zip(self._q_symbols(), self.coordinates))}
        return _div.substitute(self, self.kl_result().value.xreplace(swap), p, q,
                               self._q_symbols())

    def entropy_result(self):
        """H(p) = -E_p[log p] with its route, as a Divergence."""
        return self._cached("entropy", lambda: self._closed("the entropy",
                                                            _div.entropy_closed_form))

    def entropy(self, p=None):
        """Entropy H(p) = -E_p[log p] in nats (differential entropy for densities)."""
        return _div.substitute(self, self.entropy_result().value, p)

    def cross_entropy(self, p=None, q=None):
        """Cross-entropy H(p, q) = -E_p[log q] = H(p) + KL(p || q)."""
        expr = _div.tidy_divergence(self.entropy_result().value + self.kl_result().value)
        return _div.substitute(self, expr, p, q, self._q_symbols())

    def log_affinity(self, lam):
        """log ∫ p^λ q^{1-λ} in general form, as a Divergence (λ a number or symbol)."""
        lam = self._user(lam, "lambda", (sp.Symbol("lam", real=True),))
        return self._cached(("log_affinity", lam), lambda: self._closed(
            f"the affinity int p^{lam} q^(1-{lam})", _div.log_affinity_closed_form, lam))

    def alpha_divergence(self, alpha, p=None, q=None):
        """Amari's α-divergence D_α(p || q) = 4/(1-α²) (1 - ∫ p^{(1-α)/2} q^{(1+α)/2}).

        α = -1 is KL(p || q), α = +1 is KL(q || p) (the limits), α = 0 is
        4 (1 - ∫ sqrt(p q)) = 4 H².  ``alpha`` may be a number or a symbol.
        """
        alpha = self._user(alpha, "alpha", (sp.Symbol("alpha", real=True),))
        if alpha == -1:
            return self.kl(p, q)
        if alpha == 1:
            return self.reverse_kl(p, q)
        lam = (1 - alpha) / 2
        # log ρ is tidy already; tidying 4/(1-α²)(1 - ρ) again costs seconds and gains little
        expr = _div.alpha_from_affinity(alpha, self.log_affinity(lam).value)
        return _div.substitute(self, expr, p, q, self._q_symbols())

    def bhattacharyya(self, p=None, q=None):
        """Bhattacharyya distance -log ∫ sqrt(p q)."""
        return _div.substitute(self, -self.log_affinity(sp.S.Half).value, p, q,
                               self._q_symbols())

    def hellinger(self, p=None, q=None):
        """Hellinger distance H = sqrt(1 - ∫ sqrt(p q)) (so that D_0 = 4 H²)."""
        expr = sp.sqrt(1 - sp.exp(self.log_affinity(sp.S.Half).value))
        return _div.substitute(self, expr, p, q, self._q_symbols())

    # -- divergences (numeric route) ------------------------------------------
    def kl_numeric(self, p, q, dps=30):
        """KL(p || q) by mpmath quadrature/summation of the declared density."""
        return _div_numeric.kl_numeric(self, p, q, dps)

    def entropy_numeric(self, p, dps=30):
        """H(p) by mpmath quadrature/summation of the declared density."""
        return _div_numeric.entropy_numeric(self, p, dps)

    def alpha_divergence_numeric(self, alpha, p, q, dps=30):
        """D_α(p || q) by mpmath quadrature of E_p[(q/p)^{(1+α)/2}]."""
        return _div_numeric.alpha_divergence_numeric(self, alpha, p, q, dps)

    # ------------------------------------------------------------------
    # connections and curvature
    def amari_chentsov(self):
        """T_ijk = E[d_i ell d_j ell d_k ell], a fully symmetric (d, d, d) sympy Array."""
        return _connection.amari_chentsov(self)

    def connection(self, alpha=0):
        """Amari alpha-connection, first kind: Array [i][j][k] =
        Gamma^(alpha)_{ij,k} = E[(d_i d_j ell + (1 - alpha)/2 d_i ell d_j ell) d_k ell]
        = Gamma^(0)_{ij,k} - alpha/2 T_ijk.  alpha: number or sympy Symbol."""
        return _connection.connection(self, alpha)

    def christoffel(self, alpha=0):
        """Second kind Gamma^k_ij = g^{kl} Gamma^(alpha)_{ij,l}, Array indexed [k][i][j]."""
        return _connection.christoffel(self, alpha)

    def riemann(self, alpha=0, lowered=False):
        """R^i_{jkl} = d_k G^i_lj - d_l G^i_kj + G^i_km G^m_lj - G^i_lm G^m_kj, Array [i][j][k][l];
        ``lowered=True`` gives R_{ijkl} = g_im R^m_{jkl}."""
        if lowered:
            return _curvature.riemann_lowered(self, alpha)
        return _curvature.riemann(self, alpha)

    def ricci(self, alpha=0):
        """Ric_jl = R^i_{jil} (d x d Matrix)."""
        return _curvature.ricci(self, alpha)

    def scalar_curvature(self, alpha=0):
        """R = g^{jl} Ric_jl; R = 2K in dimension 2 (normal in (mu, sigma): R = -1)."""
        return _curvature.scalar_curvature(self, alpha)

    def sectional_curvature(self, u, v, alpha=0):
        """K(u, v) = R_ijkl u^i v^j u^k v^l / (g(u,u) g(v,v) - g(u,v)^2) of the plane spanned
        by u and v (sympy, in the coordinates); the Gaussian curvature in dimension 2."""
        u = [self._user(e, "sectional curvature: u") for e in u]
        v = [self._user(e, "sectional curvature: v") for e in v]
        return _curvature.sectional_curvature(self, u, v, self._user(alpha, "alpha"))

    def gaussian_curvature(self):
        """K = R_{0101} / det g for 2-dimensional families (DerivationError otherwise)."""
        return _curvature.gaussian_curvature(self)

    # ------------------------------------------------------------------
    # geodesics and distances
    def geodesic_equations(self, alpha=0):
        """xi''^k = -Gamma^k_ij xi'^i xi'^j, as sympy equations and a first-order system."""
        return _geodesic.geodesic_equations(self, alpha)

    def exp_map(self, p, v, t=1.0, alpha=0, dps=None):
        """Numeric exp_p(t v) (scipy DOP853, rtol 1e-12, dense output): an ExpMapResult.
        With (N, d) arrays p and v: (points, velocities, ok), vectorised over rows.
        With ``dps`` the mpmath Taylor ODE solver runs on the exact Christoffel symbols
        at that precision (point/velocity are then lists of mpf, no dense solution)."""
        if dps is None:
            if _geodesic.is_batch(self, p):  # (N, d) points and velocities
                return _geodesic.exp_map_batch(self, p, v, t, alpha)
            return _geodesic.exp_map(self, p, v, t, alpha)
        x, u = _geodesic.exp_map_mp(self, p, v, t, alpha, dps)
        return _geodesic.ExpMapResult(x, u, None, True, f"mpmath odefun at {dps} digits")

    def log_map(self, p, q, alpha=0, time_limit=60.0):
        """Initial velocity v with exp_p(v) = q by shooting: a GeodesicResult (.velocity,
        .converged); gives up after ``time_limit`` seconds with converged=False."""
        if _geodesic.is_batch(self, p):  # (N, d) arrays: a GeodesicBatch
            return _geodesic.log_map_batch(self, p, q, alpha, time_limit=time_limit)
        return _geodesic.log_map(self, p, q, alpha, time_limit=time_limit)

    def fisher_rao_distance(self, p, q, method="auto"):
        """Fisher-Rao distance as a GeodesicResult (.distance, .converged, .method, .detail);
        closed forms derived from the metric structure when they exist, else shooting.
        With (N, d) arrays p and q: a GeodesicBatch (``np.asarray(result)`` = N distances)."""
        if _geodesic.is_batch(self, p):  # (N, d) arrays: a GeodesicBatch of N distances
            return _geodesic.fisher_rao_distance_batch(self, p, q, method)
        return _geodesic.fisher_rao_distance(self, p, q, method)

    def geodesic_path(self, p, q, alpha=0, n=101):
        """The alpha-geodesic p -> q sampled at n affine parameters (a GeodesicPath): straight
        in theta (alpha = 1) or eta (alpha = -1) for an exponential family, else shooting."""
        return _geodesic.geodesic_path(self, p, q, alpha, n)

    def parallel_transport(self, p, w, v=None, q=None, t=1.0, alpha=0):
        """Parallel transport of w from p along the geodesic with initial velocity v (or to
        q): a Transport (.vectors, .point, .ok); (N, d) arrays transport N vectors at once.
        See :mod:`symgeo.geometry.transport` (alpha = 0 preserves the Fisher product)."""
        return _geodesic.parallel_transport(self, p, w, v=v, q=q, t=t, alpha=alpha)

    def distance_formula(self):
        """Closed-form Fisher-Rao distance (a ClosedForm) derived from the metric, or None."""
        return _geodesic.distance_formula(self)

    # ------------------------------------------------------------------
    # natural gradient and projections
    def natural_gradient(self, loss):
        """g^{-1} grad L (d x 1 Matrix) for a sympy loss L in the coordinates."""
        return _natural.natural_gradient(self, loss)

    def fisher_flow(self, loss, xi0, t):
        """Numeric solution of d xi/dt = -g^{-1} grad L: (xi(t), scipy solution)."""
        return _natural.fisher_flow(self, loss, xi0, t)

    def trust_region_step(self, loss, xi, delta):
        """Step -sqrt(2 delta / grad^T g^{-1} grad) g^{-1} grad (local KL = delta): (point, step)."""
        return _natural.trust_region_step(self, loss, xi, delta)

    def empirical_fisher(self, samples, xi, diagonal=False):
        """(1/N) sum_n s(x_n; xi) s(x_n; xi)^T as a (d, d) numpy array (``diagonal=True``:
        only its diagonal, as a diagonal matrix); see :func:`symgeo.geometry.natural.empirical_fisher`."""
        return _natural.empirical_fisher(self, samples, xi, diagonal)

    def m_projection(self, target, params=None, dps=30):
        """argmin_xi KL(target || p_xi) by moment matching, eta(xi) = E_target[T(x)]
        (exponential families only): a Projection.  See :mod:`symgeo.geometry.projection`."""
        return _projection.m_projection(target, self, params=params, dps=dps)

    def e_projection(self, target, params=None, start=None, dps=20, tol=1e-16):
        """A minimiser of KL(p_xi || target) = E_xi[log p_xi - log target] (numeric
        natural-gradient descent with quadrature): a Projection."""
        return _projection.e_projection(target, self, params=params, start=start, dps=dps,
                                        tol=tol)

    # ------------------------------------------------------------------
    # pictures (matplotlib, imported by symgeo.plot only when a picture is drawn)
    def plot_geodesics(self, p, q, path=None, **kw):
        """The alpha = -1, 0, 1 geodesics from p to q in the coordinate plane (matplotlib);
        see :func:`symgeo.plot.plot_geodesics`."""
        return _plot.plot_geodesics(self, p, q, path=path, **kw)

    def plot_taylor(self, at=None, direction=None, path=None, **kw):
        """Exact KL(p_xi || p_{xi + delta v}) against 1/2 delta^2 v^T g v (matplotlib);
        see :func:`symgeo.plot.plot_taylor`."""
        return _plot.plot_taylor(self, at, direction, path=path, **kw)

    # ------------------------------------------------------------------
    # numeric code
    def numeric(self, quantity, backend="numpy"):
        """A vectorised function for ``quantity`` (see :mod:`symgeo.codegen.numpy`).

        ``backend="numpy"``: numpy/scipy code, NaN outside the domain, a fast path at
        one point; ``backend="jax"``: pure jax.numpy code for ``jax.jit``,
        ``jax.vmap`` and ``jax.grad``; ``backend="array_api"``: one pure function
        for numpy, JAX, PyTorch, CuPy and Dask arrays alike (the namespace is taken
        from the arguments; Dask arrays stay lazy).  The numeric routes
        (quadrature, series) exist in every backend, with the same rules.
        """
        key = ("numeric", quantity) if backend == "numpy" else ("numeric", quantity, backend)
        return self._cached(key, lambda: _codegen.compile_quantity(self, quantity, backend))

    def _repr_latex_(self):
        return family_latex(self)


# ----------------------------------------------------------------------
# families from files and from the built-in catalog

def load_family(path, **fixed):
    """Read a family declaration file (TOML) and return the validated Family."""
    declaration = read_declaration_file(path, **fixed)
    try:
        return Family(**declaration)
    except DeclarationError as exc:
        raise DeclarationError(f"{path}: {exc}") from None


_CATALOG_CACHE = {}


def get_family(name, **fixed):
    """The built-in family ``name`` with fixed hyper-parameters set (e.g. n=7).

    Families are cached per (name, fixed values), so repeated calls share derivations.
    """
    key = (name, tuple(sorted((k, str(v)) for k, v in fixed.items())))
    if key not in _CATALOG_CACHE:
        text, origin = catalog_text(name)
        _CATALOG_CACHE[key] = Family(**declaration_from_text(text, origin, **fixed))
    return _CATALOG_CACHE[key]
