"""CLI subcommands (registered by :func:`symgeo.cli.build_parser`).

    symgeo connection NAME [--alpha A] [--kind first|second] [--amari-chentsov] [--format text|json]
    symgeo curvature NAME [--alpha A] [--plane U V [--at P]] [--format text|json]
    symgeo geodesic NAME --from P --to Q [--method auto|closed|numeric] [--transport W]
                    [--format text|json]
    symgeo geodesic NAME --batch PAIRS.csv [-o OUT.csv] [--method ...] [--format text|json]
    symgeo plot geodesics NAME [--from P] [--to Q] [-o FILE]
    symgeo plot taylor NAME [--at P] [--direction V] [-o FILE]

A and the coordinates of P, Q are formulas read by the safe parser ("1/3",
"-1", "alpha" for a symbolic alpha); P and Q are comma-separated in the
family's coordinate order.  ``plot`` needs matplotlib (pip install
'symgeo[plot]') and writes NAME_geodesics.png / NAME_taylor.png by default.
"""

from __future__ import annotations

import csv
import itertools
import json
import random
import time
from pathlib import Path

import numpy as np
import sympy as sp

from .. import plot
from ..errors import SymgeoError
from .common import alpha_arg, family_from_args, header, point_arg, vector_arg


def cmd_connection(args):
    fam = family_from_args(args)
    names = [c.name for c in fam.coordinates]
    d = fam.dimension
    if args.amari_chentsov:
        A = fam.amari_chentsov()
        label = "T"
        comps = {(i, j, k): A[i, j, k]
                 for i, j, k in itertools.combinations_with_replacement(range(d), 3)}
        fmt = lambda i, j, k: f"T_({names[i]} {names[j]} {names[k]})"  # noqa: E731
        title = "Amari-Chentsov tensor T_ijk = E[d_i l d_j l d_k l] (i <= j <= k)"
    else:
        alpha = alpha_arg(args.alpha)
        label = f"Gamma^({alpha})"
        if args.kind == "first":
            A = fam.connection(alpha)
            comps = {(i, j, k): A[i, j, k] for i, j in
                     itertools.combinations_with_replacement(range(d), 2) for k in range(d)}
            fmt = lambda i, j, k: f"{label}_({names[i]} {names[j]}, {names[k]})"  # noqa: E731
            title = (f"alpha-connection (alpha = {alpha}), first kind Gamma_(ij,k) = "
                     "E[(d_i d_j l + (1 - alpha)/2 d_i l d_j l) d_k l]")
        else:
            A = fam.christoffel(alpha)
            comps = {(k, i, j): A[k, i, j] for k in range(d) for i, j in
                     itertools.combinations_with_replacement(range(d), 2)}
            fmt = lambda k, i, j: f"{label}^{names[k]}_({names[i]} {names[j]})"  # noqa: E731
            title = f"alpha-connection (alpha = {alpha}), second kind Gamma^k_ij = g^kl Gamma_(ij,l)"
    if args.format == "json":
        print(json.dumps({"family": fam.name, "coordinates": names, "quantity": title,
                          "components": {fmt(*idx): sp.sstr(v) for idx, v in comps.items()}},
                         indent=2))
        return
    print(f"{title}\n{header(fam)}")
    nonzero = [(idx, v) for idx, v in comps.items() if v != 0]
    for idx, v in nonzero:
        print(f"  {fmt(*idx)} = {sp.sstr(v)}")
    if not nonzero:
        print("  all components vanish (the connection is flat and these coordinates are affine)"
              if not args.amari_chentsov else "  all components vanish")
    else:
        print("  (other components vanish or follow by symmetry)")


def cmd_curvature(args):
    fam = family_from_args(args)
    alpha = alpha_arg(args.alpha)
    out = {"family": fam.name, "coordinates": [c.name for c in fam.coordinates],
           "alpha": sp.sstr(alpha)}
    R = fam.scalar_curvature(alpha)
    out["scalar_curvature"] = sp.sstr(R)
    if fam.dimension == 2 and alpha == 0:
        out["gaussian_curvature"] = sp.sstr(fam.gaussian_curvature())
    Rm = fam.riemann(alpha)
    out["flat"] = all(e == 0 for e in sp.flatten(Rm.tolist()))
    if args.at and not args.plane:
        raise SymgeoError("symgeo curvature: --at evaluates the sectional curvature, "
                          "so it needs --plane U V")
    if args.plane:
        u, v = (vector_arg(fam, w, "--plane") for w in args.plane)
        K = fam.sectional_curvature(u, v, alpha)
        out["plane"] = [[sp.sstr(c) for c in u], [sp.sstr(c) for c in v]]
        out["sectional_curvature"] = sp.sstr(K)
        if args.at:
            pt = point_arg(fam, args.at, "--at")
            out["at"] = [sp.sstr(c) for c in pt.values()]
            out["sectional_curvature_at"] = _number(K.xreplace(pt))
    if args.format == "json":
        print(json.dumps(out, indent=2))
        return
    which = "Fisher metric (Levi-Civita)" if alpha == 0 else f"alpha-connection, alpha = {alpha}"
    print(f"Curvature of the {which}\n{header(fam)}")
    print("convention: R^i_jkl = d_k G^i_lj - d_l G^i_kj + G^i_km G^m_lj - G^i_lm G^m_kj; "
          "Ric_jl = R^i_jil; R = g^jl Ric_jl")
    print(f"  scalar curvature R = {out['scalar_curvature']}")
    if "gaussian_curvature" in out:
        print(f"  Gaussian curvature K = {out['gaussian_curvature']}  (R = 2K)")
    print(f"  flat: {'yes' if out['flat'] else 'no'}")
    if "sectional_curvature" in out:
        u, v = (", ".join(w) for w in out["plane"])
        print(f"  sectional curvature K(u, v), u = ({u}), v = ({v}):\n"
              f"    K = {out['sectional_curvature']}")
        if "at" in out:
            print(f"    at ({', '.join(out['at'])}): K = {out['sectional_curvature_at']!r}")


def _number(expr):
    """A real float of an exact number (the sectional curvature at a point)."""
    value = complex(sp.N(expr, 20))
    if value.imag != 0 or not np.isfinite(value.real):
        raise SymgeoError(f"the sectional curvature is not a finite real number there: {expr}")
    return value.real


def _route(res):
    """How the answer was obtained, in one line."""
    if res.method == "closed form":
        return "closed form (" + res.detail.split(":")[0] + ")"
    return res.detail.split(":")[0]


def cmd_geodesic(args):
    if args.batch:
        return _geodesic_batch(args)
    if args.from_ is None or args.to is None:
        raise SymgeoError("symgeo geodesic needs --from and --to (or --batch FILE.csv)")
    fam = family_from_args(args)
    p = point_arg(fam, args.from_, "--from")
    q = point_arg(fam, args.to, "--to")
    start = time.perf_counter()
    res = fam.fisher_rao_distance(p, q, method=args.method)
    elapsed = time.perf_counter() - start
    out = {"family": fam.name, "from": [sp.sstr(v) for v in p.values()],
           "to": [sp.sstr(v) for v in q.values()], "distance": res.distance,
           "converged": res.converged, "method": res.method, "route": _route(res),
           "residual": res.residual if res.residual is not None else 0.0,
           "seconds": elapsed, "detail": res.detail}
    if res.velocity is not None:
        out["initial_velocity"] = [float(v) for v in res.velocity]
    if res.formula is not None:
        out["formula"] = sp.sstr(res.formula)
    if args.transport and res.converged:
        w = vector_arg(fam, args.transport, "--transport")
        wv = [float(sp.N(c)) for c in w]
        pv = [float(sp.N(v)) for v in p.values()]
        qv = [float(sp.N(v)) for v in q.values()]
        tr = fam.parallel_transport(pv, wv, q=qv)
        out["transported"] = [float(x) for x in tr.vectors]
    if args.format == "json":
        print(json.dumps(out, indent=2))
    else:
        print(f"Fisher-Rao distance, {header(fam)}")
        print(f"  from ({', '.join(out['from'])}) to ({', '.join(out['to'])})")
        dist = f"{res.distance:.15g}" if res.distance is not None else "not found"
        print(f"  distance: {dist}")
        print(f"  converged: {'yes' if res.converged else 'no'}")
        print(f"  residual: {out['residual']:.1e} (relative endpoint miss)")
        print(f"  time: {elapsed * 1e3:.1f} ms")
        print(f"  route: {out['route']}")
        print(f"  method: {res.method}")
        print(f"  detail: {res.detail}")
        if "formula" in out:
            print(f"  formula: d = {out['formula']}")
        if "initial_velocity" in out:
            print(f"  initial velocity log_p(q): {out['initial_velocity']}")
        if "transported" in out:
            print(f"  parallel transport of {args.transport} to q: {out['transported']}")
    if not res.converged:
        raise SymgeoError(f"family {fam.name!r}: geodesic boundary-value problem did not "
                          f"converge: {res.detail}")


def _read_pairs(fam, path):
    """Rows of 2d numbers (p then q, coordinate order); an optional header row is skipped
    (or, when it names every column c_p / c_q, used to order them)."""
    d = fam.dimension
    names = [c.name for c in fam.coordinates]
    want = [f"{n}_p" for n in names] + [f"{n}_q" for n in names]
    rows, order = [], None
    with open(path, newline="") as fh:
        for k, row in enumerate(csv.reader(fh)):
            row = [c.strip() for c in row]
            if not row or all(not c for c in row) or row[0].startswith("#"):
                continue
            try:
                vals = [float(c) for c in row]
            except ValueError:
                if rows or order is not None:
                    raise SymgeoError(f"{path}: line {k + 1}: not numbers: {row}") from None
                order = [row.index(w) for w in want] if set(want) <= set(row) else list(range(2 * d))
                continue
            if order is not None and len(vals) > max(order):
                vals = [vals[i] for i in order]
            if len(vals) != 2 * d:
                raise SymgeoError(f"{path}: line {k + 1}: {len(vals)} numbers, expected {2 * d} "
                                  f"({', '.join(want)})")
            rows.append(vals)
    if not rows:
        raise SymgeoError(f"{path}: no pairs")
    X = np.array(rows, dtype=float)
    return X[:, :d], X[:, d:], want


def _geodesic_batch(args):
    fam = family_from_args(args)
    P, Q, cols = _read_pairs(fam, args.batch)
    start = time.perf_counter()
    res = fam.fisher_rao_distance(P, Q, method=args.method)
    elapsed = time.perf_counter() - start
    out = args.output or str(Path(args.batch).with_suffix("")) + "_distances.csv"
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols + ["distance", "converged", "residual"])
        for i in range(len(P)):
            dist = "" if not np.isfinite(res.distance[i]) else repr(float(res.distance[i]))
            w.writerow([repr(float(v)) for v in (*P[i], *Q[i])] +
                       [dist, int(res.converged[i]), f"{res.residual[i]:.3e}"])
    bad = int((~res.converged).sum())
    summary = {"family": fam.name, "pairs": len(P), "converged": len(P) - bad,
               "method": res.method, "seconds": elapsed,
               "max_residual": float(np.nanmax(res.residual)) if len(P) else 0.0,
               "output": out}
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    else:
        print(f"Fisher-Rao distances, {header(fam)}")
        print(f"  {len(P)} pairs from {args.batch} -> {out}")
        print(f"  converged: {len(P) - bad}/{len(P)}; max residual {summary['max_residual']:.1e}")
        print(f"  time: {elapsed:.3f} s ({elapsed / len(P) * 1e3:.2f} ms per pair)")
        print(f"  route: {res.detail}")
    if bad:
        raise SymgeoError(f"family {fam.name!r}: {bad} of {len(P)} pairs did not converge "
                          f"(rows with converged = 0 in {out})")


def _default_points(fam):
    p = fam.random_point(random.Random(1))
    for seed in range(2, 50):
        q = fam.random_point(random.Random(seed))
        if q != p:
            return p, q
    raise SymgeoError(f"family {fam.name!r}: could not pick two distinct points")


def cmd_plot(args):
    plot._matplotlib()  # fail early, before any derivation, when matplotlib is missing
    fam = family_from_args(args)
    if args.what == "geodesics":
        dp, dq = _default_points(fam)
        p = point_arg(fam, args.from_, "--from") if args.from_ else dp
        q = point_arg(fam, args.to, "--to") if args.to else dq
        out = args.output or f"{fam.name}_geodesics.png"
        fig = plot.plot_geodesics(fam, p, q, path=out)
        print(f"wrote {out}: alpha-geodesics of {fam.name} from "
              f"({', '.join(sp.sstr(v) for v in p.values())}) to "
              f"({', '.join(sp.sstr(v) for v in q.values())})")
        for a, g in sorted(fig.symgeo_paths.items()):
            print(f"  alpha = {a}: {g.method}")
    else:
        at = point_arg(fam, args.at, "--at") if args.at else None
        v = vector_arg(fam, args.direction, "--direction") if args.direction else None
        out = args.output or f"{fam.name}_taylor.png"
        plot.plot_taylor(fam, at, v, path=out)
        print(f"wrote {out}: KL against 1/2 delta^T I delta for {fam.name}")


def register(sub, add_family_arguments):
    """Add this module's subcommands to the argparse ``sub`` parsers."""
    s = sub.add_parser("connection", help="alpha-connection (Christoffel symbols) or the "
                                          "Amari-Chentsov tensor of a family")
    add_family_arguments(s)
    s.add_argument("--alpha", default="0", help="alpha (number, e.g. 1, -1, 1/3, or 'alpha')")
    s.add_argument("--kind", choices=("first", "second"), default="first",
                   help="first kind Gamma_(ij,k) (default) or second kind Gamma^k_ij")
    s.add_argument("--amari-chentsov", action="store_true",
                   help="print the Amari-Chentsov tensor T_ijk instead")
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.set_defaults(func=cmd_connection)

    s = sub.add_parser("curvature", help="scalar/Gaussian curvature of the Fisher metric "
                                         "or of an alpha-connection")
    add_family_arguments(s)
    s.add_argument("--alpha", default="0", help="alpha (default 0: Levi-Civita)")
    s.add_argument("--plane", nargs=2, metavar=("U", "V"),
                   help="also the sectional curvature K(u, v) of the plane spanned by the "
                        "tangent vectors U and V (comma-separated components)")
    s.add_argument("--at", metavar="P", help="evaluate K(u, v) at the point P (needs --plane)")
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.set_defaults(func=cmd_curvature)

    s = sub.add_parser("geodesic", help="Fisher-Rao distance and geodesic between two points "
                                        "(time, residual, route), or many (--batch)")
    add_family_arguments(s)
    s.add_argument("--from", dest="from_", metavar="P",
                   help="start point, comma-separated coordinates in catalog order")
    s.add_argument("--to", metavar="Q", help="end point, comma-separated")
    s.add_argument("--batch", metavar="FILE.csv",
                   help="pairs from a CSV file (columns c_p..., c_q... in coordinate order, "
                        "optional header); distances written to -o (default "
                        "FILE_distances.csv)")
    s.add_argument("-o", "--output", metavar="OUT.csv", help="output CSV of --batch")
    s.add_argument("--transport", metavar="W",
                   help="also parallel-transport the vector W (comma-separated) from P to Q")
    s.add_argument("--method", choices=("auto", "closed", "numeric"), default="auto",
                   help="closed form when the metric has one (auto), or force one route")
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.set_defaults(func=cmd_geodesic)

    s = sub.add_parser("plot", help="pictures (needs matplotlib: pip install 'symgeo[plot]')")
    ps = s.add_subparsers(dest="what", required=True)
    g = ps.add_parser("geodesics", help="alpha = -1, 0, 1 geodesics between two points of a "
                                        "2-dimensional family, in its coordinate plane")
    add_family_arguments(g)
    g.add_argument("--from", dest="from_", metavar="P",
                   help="start point, comma-separated coordinates (default: a generic point)")
    g.add_argument("--to", metavar="Q", help="end point (default: another generic point)")
    g.add_argument("-o", "--output", metavar="FILE",
                   help="image file (.png, .pdf, .svg); default NAME_geodesics.png")
    g.set_defaults(func=cmd_plot)
    t = ps.add_parser("taylor", help="exact KL(p_xi || p_(xi + delta v)) against "
                                     "1/2 delta^2 v^T I v for delta in [-0.5, 0.5]")
    add_family_arguments(t)
    t.add_argument("--at", metavar="P", help="the point xi (default: a generic point)")
    t.add_argument("--direction", metavar="V",
                   help="direction v, comma-separated (default: one panel per coordinate)")
    t.add_argument("-o", "--output", metavar="FILE",
                   help="image file (.png, .pdf, .svg); default NAME_taylor.png")
    t.set_defaults(func=cmd_plot)
