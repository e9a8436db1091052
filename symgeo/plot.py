"""Pictures (optional: ``pip install 'symgeo[plot]'`` for matplotlib).

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas
directly, so nothing here selects a backend or needs a display (headless
servers, CI) and the user's pyplot state is left alone; a returned figure
can still be shown in a notebook or saved with ``fig.savefig``.

* :func:`plot_geodesics`: the alpha = -1, 0, 1 geodesics between two points
  of a 2-dimensional family, drawn in its coordinate plane
  (:func:`symgeo.geometry.geodesic.geodesic_path`: straight lines in eta resp. theta
  mapped back for an exponential family, the Fisher-Rao geodesic by
  shooting).
* :func:`plot_taylor`: exact KL(p_xi || p_{xi + delta v}) against its
  quadratic model 1/2 delta^2 v^T g(xi) v for delta in [-0.5, 0.5], one panel
  per direction v (by default the coordinate axes).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp

from .errors import DerivationError, SymgeoError
from .geometry.geodesic import _as_vector, geodesic_path, require_numeric
from .geometry.projection import expect

ALPHA_STYLE = {1: ("tab:red", r"$\alpha = 1$ (e-geodesic, straight in $\theta$)"),
               0: ("tab:blue", r"$\alpha = 0$ (Fisher-Rao geodesic)"),
               -1: ("tab:green", r"$\alpha = -1$ (m-geodesic, straight in $\eta$)")}


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SymgeoError("plotting needs matplotlib, an optional dependency of symgeo: "
                          "pip install 'symgeo[plot]'") from None
    return Figure, FigureCanvasAgg


def _figure(size):
    Figure, Canvas = _matplotlib()
    fig = Figure(figsize=size, layout="constrained")
    Canvas(fig)
    return fig


def _label(fam, c):
    meaning = fam.meanings.get(c.name)
    return f"{c.name} ({meaning})" if meaning else c.name


def _save(fig, path):
    if path is not None:
        fig.savefig(str(path), dpi=120)
    return fig


def plot_geodesics(fam, p, q, path=None, alphas=(-1, 0, 1), n=201):
    """Draw the alpha-geodesics from p to q (2-dimensional families) and return the Figure.

    ``path``: file to write (format from the suffix, e.g. .png, .pdf, .svg).
    A curve that cannot be obtained (e.g. alpha != 0 on a family whose
    log-density is not smooth) is left out and named in the figure.
    """
    if fam.dimension != 2:
        raise SymgeoError(f"plot geodesics draws the coordinate plane of a 2-dimensional "
                          f"family; family {fam.name!r} has {fam.dimension} coordinates")
    x0, x1 = _as_vector(fam, p), _as_vector(fam, q, "target point")
    fig = _figure((6.4, 4.8))
    ax = fig.add_subplot()
    missing, paths = [], {}
    for a in alphas:
        try:
            g = geodesic_path(fam, x0, x1, a, n)
        except (SymgeoError, DerivationError) as exc:
            missing.append(f"alpha = {a}: {exc}")
            continue
        paths[a] = g
        color, label = ALPHA_STYLE.get(a, (None, rf"$\alpha = {a}$"))
        ax.plot(g.points[:, 0], g.points[:, 1], color=color, lw=2, label=label)
    ax.plot(*x0, "ko", ms=6)
    ax.plot(*x1, "ks", ms=6)
    ax.annotate(" p", x0, va="center")
    ax.annotate(" q", x1, va="center")
    ax.set_xlabel(_label(fam, fam.coordinates[0]))
    ax.set_ylabel(_label(fam, fam.coordinates[1]))
    ax.set_title(rf"{fam.title or fam.name}: $\alpha$-geodesics from p to q")
    if paths:
        ax.legend(loc="best", fontsize="small")
    if missing:
        ax.text(0.01, 0.01, "not drawn: " + "; ".join(m[:80] for m in missing),
                transform=ax.transAxes, fontsize="x-small", va="bottom")
    fig.symgeo_paths = paths  # the data drawn, for callers and tests
    return _save(fig, path)


def _kl_values(fam, xi, qs):
    """KL(p_xi || p_q) for each row of ``qs``: the closed form compiled by
    ``family.numeric("kl")`` when it derives, else mpmath quadrature."""
    try:
        f = fam.numeric("kl")
        with np.errstate(all="ignore"):
            return np.asarray(f(*xi, *qs.T), dtype=float), "closed form"
    except (SymgeoError, ValueError, NotImplementedError, KeyError, TypeError):
        pass
    p = dict(zip(fam.coordinates, [sp.Rational(repr(float(v))) for v in xi]))
    lp = fam.log_density.xreplace(p)
    out = []
    for row in qs:
        pt = dict(zip(fam.coordinates, [sp.Float(v, 20) for v in row]))
        if not np.all(np.isfinite(row)) or not fam.in_domain(pt):
            out.append(np.nan)
            continue
        with mp.workdps(15):
            out.append(float(expect(fam, lp, [lp - fam.log_density.xreplace(pt)], 15,
                                    list(xi))[0]))
    return np.array(out), "mpmath quadrature"


def plot_taylor(fam, at=None, direction=None, path=None, deltas=None):
    """KL(p_xi || p_{xi + delta v}) (exact) against 1/2 delta^2 v^T g(xi) v; returns the Figure.

    ``at``: the point xi (default: the family's generic point); ``direction``:
    the vector v in coordinate order (default: one panel per coordinate axis);
    ``deltas``: the delta values (default 201 points in [-0.5, 0.5]).  Points
    xi + delta v outside the domain are left out.  The exact KL is the
    family's closed form when it derives, else mpmath quadrature.
    """
    require_numeric(fam, "plot taylor")
    xi = _as_vector(fam, fam.generic_point() if at is None else at)
    d = fam.dimension
    dirs = [np.eye(d)[i] for i in range(d)] if direction is None else \
        [_as_vector(fam, direction, "direction")]
    if any(not np.any(v) for v in dirs):
        raise SymgeoError(f"family {fam.name!r}: the direction must not be zero")
    deltas = np.linspace(-0.5, 0.5, 201) if deltas is None else np.asarray(deltas, float)
    g = np.asarray(fam.numeric("fisher")(*xi), dtype=float)
    fig = _figure((5.2 * len(dirs), 4.0))
    axes = fig.subplots(1, len(dirs), squeeze=False)[0]
    names = [c.name for c in fam.coordinates]
    at_text = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, xi))
    data = []
    for ax, v in zip(axes, dirs):
        qs = xi[None, :] + deltas[:, None] * v[None, :]
        kl, route = _kl_values(fam, xi, qs)
        quad = 0.5 * deltas ** 2 * float(v @ g @ v)
        inside = np.isfinite(kl)
        ax.plot(deltas[inside], kl[inside], lw=2, color="tab:blue",
                label=rf"KL$(p_\xi \,\|\, p_{{\xi + \delta v}})$, {route}")
        ax.plot(deltas, quad, "--", lw=2, color="tab:orange",
                label=r"$\frac{1}{2}\,\delta^2\, v^\top I(\xi)\, v$")
        axis = names[int(np.argmax(np.abs(v)))]
        vtext = (rf"$e_{{\mathrm{{{axis}}}}}$" if np.count_nonzero(v) == 1
                 else "(" + ", ".join(f"{c:.3g}" for c in v) + ")")
        ax.set_title(rf"$v$ = {vtext}, $v^\top I v$ = {float(v @ g @ v):.4g}", fontsize="medium")
        ax.set_xlabel(r"$\delta$")
        ax.set_ylabel("nats")
        ax.legend(loc="upper center", fontsize="x-small")
        data.append((v, deltas, kl, quad))
    fig.suptitle(f"{fam.title or fam.name} at ({at_text}): KL and its Fisher quadratic form")
    fig.symgeo_data = data
    return _save(fig, path)
