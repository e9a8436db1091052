"""Family methods for connections, curvature, geodesics, natural gradient,
empirical Fisher, projections and pictures.

Kept out of family.py so each concept module owns its public entry points;
results are cached on the family through ``self._cached``.  Conventions and
formulas are stated in :mod:`symgeo.connection`, :mod:`symgeo.curvature`,
:mod:`symgeo.geodesic`, :mod:`symgeo.natural`, :mod:`symgeo.projection` and
:mod:`symgeo.plot`.
"""

from __future__ import annotations


class GeometryMethods:
    """Mixin of :class:`symgeo.family.Family`."""

    # -- connections ----------------------------------------------------
    def amari_chentsov(self):
        """T_ijk = E[d_i ell d_j ell d_k ell], a fully symmetric (d, d, d) sympy Array."""
        from .connection import amari_chentsov
        return amari_chentsov(self)

    def connection(self, alpha=0):
        """Amari alpha-connection, first kind: Array [i][j][k] =
        Gamma^(alpha)_{ij,k} = E[(d_i d_j ell + (1 - alpha)/2 d_i ell d_j ell) d_k ell]
        = Gamma^(0)_{ij,k} - alpha/2 T_ijk.  alpha: number or sympy Symbol."""
        from .connection import connection
        return connection(self, alpha)

    def christoffel(self, alpha=0):
        """Second kind Gamma^k_ij = g^{kl} Gamma^(alpha)_{ij,l}, Array indexed [k][i][j]."""
        from .connection import christoffel
        return christoffel(self, alpha)

    # -- curvature --------------------------------------------------------
    def riemann(self, alpha=0, lowered=False):
        """R^i_{jkl} = d_k G^i_lj - d_l G^i_kj + G^i_km G^m_lj - G^i_lm G^m_kj, Array [i][j][k][l];
        ``lowered=True`` gives R_{ijkl} = g_im R^m_{jkl}."""
        from . import curvature
        return curvature.riemann_lowered(self, alpha) if lowered else curvature.riemann(self, alpha)

    def ricci(self, alpha=0):
        """Ric_jl = R^i_{jil} (d x d Matrix)."""
        from .curvature import ricci
        return ricci(self, alpha)

    def scalar_curvature(self, alpha=0):
        """R = g^{jl} Ric_jl; R = 2K in dimension 2 (normal in (mu, sigma): R = -1)."""
        from .curvature import scalar_curvature
        return scalar_curvature(self, alpha)

    def gaussian_curvature(self):
        """K = R_{0101} / det g for 2-dimensional families (DerivationError otherwise)."""
        from .curvature import gaussian_curvature
        return gaussian_curvature(self)

    # -- geodesics --------------------------------------------------------
    def geodesic_equations(self, alpha=0):
        """xi''^k = -Gamma^k_ij xi'^i xi'^j, as sympy equations and a first-order system."""
        from .geodesic import geodesic_equations
        return geodesic_equations(self, alpha)

    def exp_map(self, p, v, t=1.0, alpha=0, dps=None):
        """Numeric exp_p(t v) (scipy DOP853, rtol 1e-12, dense output): an ExpMapResult.
        With ``dps`` the mpmath Taylor ODE solver runs on the exact Christoffel symbols
        at that precision (point/velocity are then lists of mpf, no dense solution)."""
        from .geodesic import ExpMapResult, exp_map, exp_map_mp
        if dps is None:
            return exp_map(self, p, v, t, alpha)
        x, u = exp_map_mp(self, p, v, t, alpha, dps)
        return ExpMapResult(x, u, None, True, f"mpmath odefun at {dps} digits")

    def log_map(self, p, q, alpha=0, time_limit=60.0):
        """Initial velocity v with exp_p(v) = q by shooting: a GeodesicResult (.velocity,
        .converged); gives up after ``time_limit`` seconds with converged=False."""
        from .geodesic import log_map
        return log_map(self, p, q, alpha, time_limit=time_limit)

    def fisher_rao_distance(self, p, q, method="auto"):
        """Fisher-Rao distance as a GeodesicResult (.distance, .converged, .method, .detail);
        closed forms derived from the metric structure when they exist, else shooting."""
        from .geodesic import fisher_rao_distance
        return fisher_rao_distance(self, p, q, method)

    def geodesic_path(self, p, q, alpha=0, n=101):
        """The alpha-geodesic p -> q sampled at n affine parameters (a GeodesicPath): straight
        in theta (alpha = 1) or eta (alpha = -1) for an exponential family, else shooting."""
        from .geodesic import geodesic_path
        return geodesic_path(self, p, q, alpha, n)

    def distance_formula(self):
        """Closed-form Fisher-Rao distance (a ClosedForm) derived from the metric, or None."""
        from .geodesic import distance_formula
        return distance_formula(self)

    # -- natural gradient -------------------------------------------------
    def natural_gradient(self, loss):
        """g^{-1} grad L (d x 1 Matrix) for a sympy loss L in the coordinates."""
        from .natural import natural_gradient
        return natural_gradient(self, loss)

    def fisher_flow(self, loss, xi0, t):
        """Numeric solution of d xi/dt = -g^{-1} grad L: (xi(t), scipy solution)."""
        from .natural import fisher_flow
        return fisher_flow(self, loss, xi0, t)

    def trust_region_step(self, loss, xi, delta):
        """Step -sqrt(2 delta / grad^T g^{-1} grad) g^{-1} grad (local KL = delta): (point, step)."""
        from .natural import trust_region_step
        return trust_region_step(self, loss, xi, delta)

    def empirical_fisher(self, samples, xi, diagonal=False):
        """(1/N) sum_n s(x_n; xi) s(x_n; xi)^T as a (d, d) numpy array (``diagonal=True``:
        only its diagonal, as a diagonal matrix); see :func:`symgeo.natural.empirical_fisher`."""
        from .natural import empirical_fisher
        return empirical_fisher(self, samples, xi, diagonal)

    # -- projections ------------------------------------------------------
    def m_projection(self, target, params=None, dps=30):
        """argmin_xi KL(target || p_xi) by moment matching, eta(xi) = E_target[T(x)]
        (exponential families only): a Projection.  See :mod:`symgeo.projection`."""
        from .projection import m_projection
        return m_projection(target, self, params=params, dps=dps)

    def e_projection(self, target, params=None, start=None, dps=20, tol=1e-16):
        """A minimiser of KL(p_xi || target) = E_xi[log p_xi - log target] (numeric
        natural-gradient descent with quadrature): a Projection."""
        from .projection import e_projection
        return e_projection(target, self, params=params, start=start, dps=dps, tol=tol)

    # -- pictures ---------------------------------------------------------
    def plot_geodesics(self, p, q, path=None, **kw):
        """The alpha = -1, 0, 1 geodesics from p to q in the coordinate plane (matplotlib);
        see :func:`symgeo.plot.plot_geodesics`."""
        from .plot import plot_geodesics
        return plot_geodesics(self, p, q, path=path, **kw)

    def plot_taylor(self, at=None, direction=None, path=None, **kw):
        """Exact KL(p_xi || p_{xi + delta v}) against 1/2 delta^2 v^T g v (matplotlib);
        see :func:`symgeo.plot.plot_taylor`."""
        from .plot import plot_taylor
        return plot_taylor(self, at, direction, path=path, **kw)
