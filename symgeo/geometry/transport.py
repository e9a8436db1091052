"""Parallel transport along geodesics (numeric, from the Christoffel symbols).

Conventions: coordinates xi in the catalog's order; Gamma^k_ij the second-kind
symbols of the alpha-connection (:func:`symgeo.geometry.connection.christoffel`).
A vector w is parallel along the geodesic xi(t) with velocity u = xi' when

    w^k' = - Gamma^k_ij(xi) u^i w^j,       t in [0, t1],

integrated together with the geodesic by the batched DOP853 of
:mod:`symgeo.geometry.geodesic_numeric` (rtol 1e-12, the transported vectors
under error control; the bilinear term is the polarisation of the generated
acceleration a(xi, u) = -Gamma(u, u), so no sympy runs per call).

For alpha = 0 (Levi-Civita) transport is an isometry of the Fisher metric:
g(w1, w2) is constant along the curve.  For alpha != 0 it is not; the
alpha- and (-alpha)-transports preserve the pairing g(w_alpha, w_-alpha)
(Amari's duality) -- transport the two vectors with the two connections.

Arrays put the pair axis first: points and velocities (N, d), vectors
(N, d) or (N, k, d) (k vectors per pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import geodesic_numeric as _gn


@dataclass
class Transport:
    """Result of :func:`parallel_transport`: ``vectors`` at the end (shape of the input
    vectors), ``point`` and ``velocity`` of the geodesic at the end, ``ok``
    (False where the geodesic leaves the domain; vectors NaN there)."""

    vectors: np.ndarray
    point: np.ndarray
    velocity: np.ndarray
    ok: np.ndarray


def parallel_transport(core, x0, v0, w, t1=1.0, rtol=_gn.RTOL):
    """Transport w (N, d) or (N, k, d) from x0 (N, d) along the geodesic with initial
    velocity v0 (N, d) up to t = t1 (``core``: the compiled core of the connection)."""
    x0 = np.atleast_2d(np.asarray(x0, dtype=float))
    v0 = np.atleast_2d(np.asarray(v0, dtype=float))
    N, d = x0.shape
    W = np.asarray(w, dtype=float)
    shape = W.shape
    W = W.reshape(N, -1, d)
    flow = _gn.integrate(core, x0, v0, t1=t1, rtol=rtol, transport=W)
    out = flow.y[:, 2 * d:].reshape(shape)
    return Transport(out, flow.y[:, :d], flow.y[:, d:2 * d], flow.ok)


def inner(core, x, a, b):
    """Fisher inner products g_x(a, b) row by row (x (N, d), a and b (N, d))."""
    (g,) = core.metric(np.atleast_2d(x))
    return np.einsum("ni,nij,nj->n", np.atleast_2d(a), g, np.atleast_2d(b))
