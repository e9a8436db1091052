"""Information projections of a density onto a family (numeric, mpmath).

For a target density p (a log-density in the family's random variable(s),
normalised over the family's support) and a family {q_xi}:

* **m-projection** (reverse I-projection, maximum likelihood in the large
  sample limit)

      q_m = argmin_xi KL(p || q_xi),   KL(p || q) = E_p[log p - log q].

  For an exponential family q_xi(x) = h(x) exp(theta(xi).T(x) - A(xi)) the
  stationarity condition E_p[score] = 0 is moment matching,

      eta(xi) = E_q[T] = E_p[T],

  and the minimiser is unique (KL(p || q_theta) = A(theta) - theta.E_p[T] + const
  is strictly convex in theta).  E_p[T] is computed by mpmath quadrature
  (summation on discrete supports) of the target over the family's support;
  xi follows from eta through the explicit inverse ``coordinates_of_eta`` of
  :func:`symgeo.expfamily.structure` when it exists, else numerically:
  damped Fisher scoring on the cross-entropy C(xi) = A(xi) - theta(xi).E_p[T]
  (the step -g(xi)^{-1} grad C is Newton's step in theta, a descent direction;
  halved until it stays in the domain and decreases C), started at the
  family's generic point and polished by ``mpmath.findroot`` on
  eta(xi) - E_p[T] = 0 with the exact Jacobian d eta / d xi.

  The m-projection satisfies the Pythagorean identity: for every member r,
  KL(p || r) = KL(p || q_m) + KL(q_m || r).

* **e-projection** (I-projection, the variational-inference direction)

      q_e = argmin_xi KL(q_xi || p) = argmin_xi E_xi[log q_xi - log p],

  defined where this integral is finite (p may not vanish where q_xi does
  not).  With ell = log q_xi, s its score and D = ell - log p, the
  derivatives are (using E_xi[s] = 0)

      grad_i KL = E_xi[s_i D],   H_ij = E_xi[(s_i s_j + d_i d_j ell) D] + g_ij,

  both by quadrature.  Each step is Newton's -H^{-1} grad where H is positive
  definite, else the natural gradient -g^{-1} grad (for an exponential
  family with unit step that is the fixed point
  theta = g_theta^{-1} Cov_q(T, log p - log h)); non-smooth log-densities
  (laplace) use the natural gradient only, since their pointwise Hessian
  misses the kinks.  The step is halved until KL decreases (Armijo); the
  iteration stops when the natural-gradient norm grad^T g^{-1} grad < tol.  It applies to any regular family; KL(q_xi || p)
  need not be convex, so the result is a local minimiser (the m-projection is
  the default start for exponential families, else the family's generic point).

A target is a sympy expression (or a formula string, read by the safe
parser) in the family's variable names, possibly with its own parameters
given numerically in ``params``, or another :class:`~symgeo.family.Family`
whose coordinates are given in ``params``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath as mp
import sympy as sp

from ..declare.declaration import Declaration
from ..declare.parse import parse_formula
from ..declare.support import Box
from ..engine.numeric import expect_numeric, mp_bound
from ..engine.numeric import kinks as _kinks
from ..errors import DerivationError, FormulaError, SymgeoError
from .geodesic import require_numeric
from .natural import as_point

NORMALISATION_TOL = 1e-8
DOUBLE_NOTE = ("several continuous variables: expectations by scipy nested quadrature at "
               "double precision, whatever dps asks")


# ----------------------------------------------------------------------
# results
@dataclass
class Projection:
    """Result of :func:`m_projection` / :func:`e_projection`.

    ``point``: dict coordinate symbol -> mpf; ``coordinates``: the values in the
    family's coordinate order; ``statistics`` T_i(x) and ``moments`` (m: the
    target's E_p[T_i] that were matched; e: E_q[T_i] at the optimum; empty for
    a non-exponential family); ``kl``: the divergence achieved (m: KL(p || q),
    e: KL(q || p)), named in ``divergence``; ``route``, ``iterations`` and
    ``residual`` (m: max_i |eta_i(xi) - E_p[T_i]|; e: the final natural-gradient
    norm grad^T g^{-1} grad) report how it was obtained.
    """

    kind: str
    family: str
    point: dict
    statistics: tuple
    moments: tuple
    kl: mp.mpf
    divergence: str
    route: str
    iterations: int = 0
    residual: mp.mpf | None = None
    notes: list = field(default_factory=list)

    @property
    def coordinates(self):
        return tuple(self.point.values())

    def as_floats(self):
        """The coordinates as a tuple of floats (family order)."""
        return tuple(float(v) for v in self.point.values())

    def __repr__(self):
        pt = ", ".join(f"{c.name}={mp.nstr(v, 15)}" for c, v in self.point.items())
        return (f"Projection({self.kind}-projection onto {self.family!r}: {pt}; "
                f"{self.divergence} = {mp.nstr(self.kl, 15)}; {self.route})")


# ----------------------------------------------------------------------
# targets
def target_log_density(fam, target, params=None, what="target"):
    """The target as a sympy expression in ``fam.variables`` with numeric parameters."""
    params = dict(params or {})
    by_name = {(k if isinstance(k, str) else k.name): v for k, v in params.items()}
    where = f"{what} density for family {fam.name!r}"
    if isinstance(target, Declaration):
        if len(target.variables) != len(fam.variables):
            raise SymgeoError(f"{where}: family {target.name!r} has {len(target.variables)} "
                              f"random variable(s), family {fam.name!r} has {len(fam.variables)}")
        missing = [c.name for c in target.coordinates if c.name not in by_name]
        if missing:
            raise SymgeoError(f"{where}: give the coordinates of family {target.name!r} in "
                              f"params (missing {', '.join(missing)})")
        extra = sorted(set(by_name) - {c.name for c in target.coordinates})
        if extra:
            fixed = [k for k in extra if k in target.fixed_symbols]
            hint = (f" ({', '.join(fixed)} is a fixed parameter: set it with "
                    f"get_family({target.name!r}, {fixed[0]}=...))" if fixed else "")
            raise SymgeoError(f"{where}: params {', '.join(extra)} are not coordinates of "
                              f"family {target.name!r}{hint}")
        pt = {c: _exact(by_name[c.name], where) for c in target.coordinates}
        if not target.in_domain(pt):
            raise SymgeoError(f"{where}: params {by_name} are outside the domain of family "
                              f"{target.name!r}")
        expr = target.log_density.xreplace(pt).xreplace(dict(zip(target.variables,
                                                                 fam.variables)))
    elif isinstance(target, str):
        names = {v.name: v for v in fam.variables}
        names.update({k: sp.Symbol(k, real=True) for k in by_name if k not in names})
        try:
            expr = parse_formula(target, names, where=where)
        except FormulaError as exc:
            if "unknown name" not in str(exc):
                raise
            raise FormulaError(f"{exc}; a target may use the variable(s) "
                               f"{', '.join(v.name for v in fam.variables)} and parameters "
                               "whose values are given in params") from None
    elif isinstance(target, (sp.Basic, int, float)):
        expr = sp.sympify(target, strict=True)  # already a sympy object or a number, never text
    else:
        raise SymgeoError(f"{where}: expected a sympy expression, a formula string or a "
                          f"Family, got {type(target).__name__}")
    var_by_name = {v.name: v for v in fam.variables}
    sub = {}
    for s in expr.free_symbols:
        if s.name in var_by_name:
            sub[s] = var_by_name[s.name]
        elif s.name in by_name:
            sub[s] = _exact(by_name[s.name], where)
    expr = expr.xreplace(sub)
    if not isinstance(target, Declaration):
        unused = sorted(set(by_name) - {s.name for s in sub if s.name not in var_by_name})
        if unused:
            raise SymgeoError(f"{where}: params {', '.join(unused)} do not occur in the target")
    stray = expr.free_symbols - set(fam.variables)
    if stray:
        raise SymgeoError(f"{where}: symbol(s) {', '.join(sorted(s.name for s in stray))} "
                          f"have no value; the target may use the variable(s) "
                          f"{', '.join(var_by_name)} and parameters given in params")
    return expr


def _exact(v, where):
    if isinstance(v, sp.Basic):
        val = v
    elif isinstance(v, (int, float)):
        val = sp.nsimplify(v) if isinstance(v, int) else sp.Rational(repr(v))
    elif isinstance(v, mp.mpf):
        val = sp.Float(v, mp.mp.dps)
    elif isinstance(v, str):  # "0.3" -> 3/10 exactly; "1/3", "sqrt(2)" through the safe parser
        val = parse_formula(v, {}, where=f"{where}: parameter value")
    else:
        raise SymgeoError(f"{where}: parameter values must be numbers, got {v!r}")
    if not val.is_real:
        raise SymgeoError(f"{where}: parameter values must be real numbers, got {v!r}")
    return val


# ----------------------------------------------------------------------
# expectations under an arbitrary log-density over the family's support


class _Density:
    """A stand-in with the attributes :func:`symgeo.numquad.expect_numeric` reads."""

    def __init__(self, fam, log_density):
        self.variables = fam.variables
        self.support = fam.support
        self.log_density = log_density


def expect(fam, log_density, fs, dps, anchors=()):
    """[E[f] for f in fs] under exp(log_density) over ``fam.support``, at ``dps`` digits.

    One real variable: tanh-sinh quadrature split at the kinks of the
    integrands and at ``anchors`` (location/scale values, where the mass is);
    any other support goes through :func:`symgeo.numquad.expect_numeric`
    (several continuous variables: scipy's nested quadrature at double
    precision, see :func:`_double_precision_only`).
    """
    sup = fam.support
    if not (isinstance(sup, Box) and sup.univariate):
        if _double_precision_only(fam):
            dps = 15
        return [expect_numeric(_Density(fam, log_density), f, {}, dps=dps) for f in fs]
    x = fam.variables[0]
    with mp.workdps(dps + 10):
        lo, hi = mp_bound(sup.lower[0]), mp_bound(sup.upper[0])
        cuts = [mp.mpf(sp.N(k, dps + 10)) for k in _kinks([log_density, *fs], x)]
        cuts += [mp.mpf(a) for a in anchors]
        cuts = sorted({c for c in cuts if lo < c < hi})
        lp = sp.lambdify([x], sp.N(log_density, dps + 10), "mpmath")
        cutoff = -40 * (dps + 10)
        out = []
        for f in fs:
            fl = sp.lambdify([x], sp.N(sp.sympify(f, strict=True), dps + 10), "mpmath")

            def g(t, fl=fl):
                l_ = lp(t)
                if l_ == -mp.inf or mp.re(l_) < cutoff:
                    return mp.mpf(0)
                return fl(t) * mp.exp(l_)
            out.append(mp.quad(g, [lo] + cuts + [hi]))
            _check_tails(g, lo, hi, cuts, f)
        return out


class DivergentExpectation(SymgeoError):
    """An expectation whose integral does not converge."""


def _check_tails(g, lo, hi, cuts, f):
    """Refuse an integral over an infinite range whose integrand g does not decay faster
    than 1/|x| (then x g(x) does not vanish and the integral diverges; tanh-sinh would
    return a meaningless finite number)."""
    centre = cuts[len(cuts) // 2] if cuts else mp.mpf(0)
    for end, sign in ((hi, 1), (lo, -1)):
        if mp.isfinite(end):
            continue
        far = [centre + sign * mp.mpf(10) ** k for k in (16, 32, 64)]
        tail = [abs(x * g(x)) for x in far]
        if not (tail[-1] < mp.mpf(10) ** -6 and tail[-1] <= tail[0]):
            raise DivergentExpectation(
                f"E[{f}] does not exist: the integrand times x does not vanish as "
                f"x -> {'+' if sign > 0 else '-'}oo ({mp.nstr(tail[-1], 5)} at x = "
                f"{mp.nstr(far[-1], 5)}), so the integral diverges")


def _double_precision_only(fam):
    """Several continuous variables: mpmath's product tanh-sinh rule is far too slow, so
    expectations are computed by scipy at double precision (about 1e-12 relative)."""
    return not fam.support.discrete and len(fam.support.free_variables(fam.variables)) > 1


def _check_normalised(fam, t, dps, anchors, what):
    mass = expect(fam, t, [sp.S.One], min(dps, 20), anchors)[0]
    if not mp.isfinite(mass) or abs(mass - 1) > NORMALISATION_TOL:
        raise SymgeoError(f"{what} onto family {fam.name!r}: the target density is not "
                          f"normalised over the family's support "
                          f"({fam.support.describe(fam.variables)}): its total mass is "
                          f"{mp.nstr(mass, 12)} instead of 1")


def _anchors(values):
    out = []
    for v in values:
        try:
            out.append(mp.mpf(sp.N(v, 30)) if isinstance(v, sp.Basic) else mp.mpf(v))
        except (TypeError, ValueError):
            pass
    return out


def _target_anchors(t):
    return _anchors([n for n in t.atoms(sp.Number) if n.is_real and n != 0])


# ----------------------------------------------------------------------
# exponential-family pieces, numeric
def _structure(fam, what):
    try:
        st = fam.exponential_family()
    except DerivationError as exc:
        raise SymgeoError(f"{what} onto family {fam.name!r}: moment matching needs an "
                          f"exponential family, and {exc}".replace(
                              f"family {fam.name!r} is not", "it is not")) from None
    if st.kind != "full":
        raise SymgeoError(f"{what} onto family {fam.name!r}: it is a curved exponential family "
                          f"({st.reason}); matching E[T] gives the projection onto the "
                          "ambient full family, not onto this one")
    return st


class _ExpNumeric:
    """mpmath functions of xi: theta, A, eta, d eta / d xi and the Fisher matrix."""

    def __init__(self, fam, st):
        xi = fam.coordinates
        mean = [sp.sympify(e, strict=True) for e in st.mean]
        self.theta = sp.lambdify(xi, list(st.natural), "mpmath")
        self.A = sp.lambdify(xi, st.log_partition, "mpmath")
        self.eta = sp.lambdify(xi, mean, "mpmath")
        self.deta = sp.lambdify(xi, [[sp.diff(e, c) for c in xi] for e in mean], "mpmath")
        self.jac = sp.lambdify(xi, [[sp.diff(t, c) for c in xi] for t in st.natural], "mpmath")
        self.fisher = sp.lambdify(xi, fam.fisher().tolist(), "mpmath")


def _inside(fam, x):
    return all(mp.isfinite(v) and mp.im(v) == 0 for v in x) and \
        fam.in_domain(dict(zip(fam.coordinates, [sp.Float(mp.re(v), mp.mp.dps) for v in x])))


def _xi_from_eta(fam, st, eta, dps, what):
    """(point, route, iterations, residual) with eta(xi) = eta (see the module docstring)."""
    coords = fam.coordinates
    num = fam._cached(("projection", "numeric"), lambda: _ExpNumeric(fam, st))
    if st.coordinates_of_eta is not None:
        sub = {s: sp.Float(v, dps + 10) for s, v in zip(st.eta, eta)}
        x = []
        for c in coords:
            v = sp.N(sp.sympify(st.coordinates_of_eta[c], strict=True).xreplace(sub), dps + 10)
            x.append(mp.mpf(v) if v.is_real else mp.mpc(complex(v)))
        route = "explicit inverse xi(eta) of the exponential-family structure"
        its = 0
    else:
        x = [mp.mpf(sp.N(v, dps + 10)) for v in fam.generic_point().values()]
        x, its = _fisher_scoring(fam, num, eta, x, what)
        try:
            if fam.dimension == 1:
                x = [mp.findroot(lambda z: num.eta(z)[0] - eta[0], x[0],
                                 df=lambda z: num.deta(z)[0][0], solver="newton")]
            else:
                x = list(mp.findroot(lambda *z: [a - b for a, b in zip(num.eta(*z), eta)], x,
                                     J=lambda *z: num.deta(*z)))
        except (ValueError, ZeroDivisionError) as exc:
            raise SymgeoError(f"{what} onto family {fam.name!r}: solving eta(xi) = E[T] "
                              f"did not converge ({exc})") from None
        route = ("numeric inverse of eta(xi): damped Fisher scoring on the cross-entropy, "
                 "polished by mpmath.findroot")
    if not _inside(fam, x):
        raise SymgeoError(f"{what} onto family {fam.name!r}: the target's moments "
                          f"E[T] = {[mp.nstr(e, 10) for e in eta]} are not the mean "
                          f"parameters of any member (the solution {[mp.nstr(v, 10) for v in x]} "
                          "is outside the domain)")
    x = [mp.re(v) for v in x]
    resid = max(abs(a - b) for a, b in zip(num.eta(*x), eta))
    return dict(zip(coords, x)), route, its, resid


def _fisher_scoring(fam, num, eta, x, what, max_iter=200):
    """Damped Newton-in-theta steps on C(xi) = A(xi) - theta(xi).eta until |step| < 1e-10."""
    def C(z):
        return num.A(*z) - mp.fsum(t * e for t, e in zip(num.theta(*z), eta))
    d = fam.dimension
    cx = C(x)
    for it in range(1, max_iter + 1):
        J = mp.matrix(num.jac(*x))
        grad = J.T * mp.matrix([a - b for a, b in zip(num.eta(*x), eta)])
        step = -mp.lu_solve(mp.matrix(num.fisher(*x)), grad)
        slope = mp.fsum(grad[i] * step[i] for i in range(d))
        lam = mp.mpf(1)
        while lam > mp.mpf(2) ** -60:
            cand = [x[i] + lam * step[i] for i in range(d)]
            if _inside(fam, cand):
                cc = C(cand)
                if mp.isfinite(cc) and cc <= cx + mp.mpf("1e-4") * lam * slope:
                    break
            lam /= 2
        else:
            raise SymgeoError(f"{what} onto family {fam.name!r}: Fisher scoring for "
                              "eta(xi) = E[T] stalled (no step decreases the cross-entropy)")
        size = max(abs(lam * step[i]) / (1 + abs(x[i])) for i in range(d))
        x, cx = cand, cc
        if size < mp.mpf("1e-10"):
            return x, it
    raise SymgeoError(f"{what} onto family {fam.name!r}: Fisher scoring for eta(xi) = E[T] "
                      f"did not converge in {max_iter} steps")


def _log_q(fam, point, dps):
    return fam.log_density.xreplace({c: sp.Float(v, dps + 10) for c, v in point.items()})


# ----------------------------------------------------------------------
# public
def m_projection(target, family, params=None, dps=30):
    """argmin_xi KL(p || q_xi) onto an exponential family by moment matching.

    ``target``: log p as a sympy expression / formula string in the family's
    variable(s) (parameters in ``params``), or a Family with its coordinates in
    ``params``.  Returns a :class:`Projection` with ``moments`` = E_p[T] (the
    matched mean parameters) and ``kl`` = KL(p || q) = E_p[log p - log q], all by
    mpmath quadrature at ``dps`` digits.  Raises SymgeoError for a family that
    is not a full exponential family, a target that is not normalised over the
    family's support, or moments outside the mean-parameter space.
    """
    fam = family
    what = "m-projection"
    require_numeric(fam, f"the {what}")
    st = _structure(fam, what)
    t = target_log_density(fam, target, params)
    anchors = _target_anchors(t)
    with mp.workdps(dps + 10):
        _check_normalised(fam, t, dps, anchors, what)
        try:
            eta = expect(fam, t, list(st.statistics), dps, anchors)
        except DivergentExpectation as exc:
            raise SymgeoError(f"{what} onto family {fam.name!r}: the target has no finite "
                              f"mean parameters E[T] ({exc}); the m-projection does not "
                              "exist (the e-projection may)") from None
        if not all(mp.isfinite(e) for e in eta):
            raise SymgeoError(f"{what} onto family {fam.name!r}: the target has no finite "
                              f"E[T] for T = {', '.join(map(str, st.statistics))}")
        point, route, its, resid = _xi_from_eta(fam, st, eta, dps, what)
        kl = expect(fam, t, [t - _log_q(fam, point, dps)], dps,
                    anchors + _anchors(point.values()))[0]
    notes = [DOUBLE_NOTE] if _double_precision_only(fam) else []
    return Projection("m", fam.name, point, tuple(st.statistics), tuple(eta), kl,
                      "KL(target || q)", route, its, resid, notes)


def e_projection(target, family, params=None, start=None, dps=20, tol=1e-16, max_iter=200):
    """A minimiser of KL(q_xi || p) = E_xi[log q_xi - log p] over the family.

    Newton / natural-gradient descent with quadrature at ``dps`` digits (see the
    module docstring); stops when grad^T g^{-1} grad < ``tol``.  ``start``: a point
    (dict or sequence in coordinate order); by default the m-projection for an
    exponential family, else the family's generic point.  Returns a
    :class:`Projection` with ``kl`` = KL(q || p) at the optimum.
    """
    fam = family
    what = "e-projection"
    require_numeric(fam, f"the {what}")
    t = target_log_density(fam, target, params)
    tanchors = _target_anchors(t)
    try:
        st = fam.exponential_family()
        st = st if st.kind == "full" else None
    except DerivationError:
        st = None
    d = fam.dimension
    s = fam.score()
    # Newton needs the pointwise Hessian, which misses point masses at kinks
    newton = not fam.nonsmooth()
    hess = fam.hessian() if newton else None
    pairs = [(i, j) for i in range(d) for j in range(i, d)]
    fisher = fam._cached(("projection", "fisher"),
                         lambda: sp.lambdify(fam.coordinates, fam.fisher().tolist(), "mpmath"))
    notes = [DOUBLE_NOTE] if _double_precision_only(fam) else []
    with mp.workdps(dps + 10):
        _check_normalised(fam, t, dps, tanchors, what)
        if start is not None:
            x = [mp.mpf(sp.N(sp.sympify(v, strict=True), dps + 10)) for v in as_point(fam, start)]
        else:
            x = None
            if st is not None:
                try:
                    x = list(m_projection(t, fam, dps=min(dps, 20)).point.values())
                    notes.append("started at the m-projection")
                except SymgeoError as exc:
                    notes.append(f"no m-projection start ({exc})")
            if x is None:
                x = [mp.mpf(sp.N(v, dps + 10)) for v in fam.generic_point().values()]
                notes.append("started at the family's generic point")
        if not _inside(fam, x):
            raise SymgeoError(f"{what} onto family {fam.name!r}: the start point "
                              f"{[mp.nstr(v, 10) for v in x]} is outside the domain")

        def kl_at(z, with_grad):
            pt = dict(zip(fam.coordinates, z))
            lq = _log_q(fam, pt, dps)
            diff = lq - t
            fs = [diff]
            if with_grad:
                sub = {c: sp.Float(v, dps + 10) for c, v in pt.items()}
                sv = [s[i].xreplace(sub) for i in range(d)]
                fs += [sv[i] * diff for i in range(d)]
                if newton:
                    fs += [(sv[i] * sv[j] + hess[i, j].xreplace(sub)) * diff for i, j in pairs]
            try:
                return expect(fam, lq, fs, dps, tanchors + _anchors(z))
            except DivergentExpectation:
                return [mp.inf] * len(fs)

        vals = kl_at(x, True)
        if not all(mp.isfinite(v) for v in vals):
            raise SymgeoError(f"{what} onto family {fam.name!r}: KL(q || target) is not finite "
                              f"at {[mp.nstr(v, 10) for v in x]} (the target must not vanish "
                              "where q does not, and log q - log target must be integrable)")
        for it in range(1, max_iter + 1):
            K, G = vals[0], mp.matrix(vals[1:d + 1])
            gx = mp.matrix(fisher(*x))
            step = -mp.lu_solve(gx, G)
            dec = -mp.fsum(G[i] * step[i] for i in range(d))
            if dec < tol:
                break
            if newton:  # Newton's step where the Hessian is positive definite
                H = mp.matrix(d, d)
                for (i, j), h in zip(pairs, vals[d + 1:]):
                    H[i, j] = H[j, i] = h + gx[i, j]
                try:
                    mp.cholesky(H)
                    nstep = -mp.lu_solve(H, G)
                    if -mp.fsum(G[i] * nstep[i] for i in range(d)) > 0:
                        step = nstep
                except (ValueError, ZeroDivisionError):
                    pass
            slope = -mp.fsum(G[i] * step[i] for i in range(d))
            lam = mp.mpf(1)
            while lam > mp.mpf(2) ** -40:
                cand = [x[i] + lam * step[i] for i in range(d)]
                if _inside(fam, cand):
                    new = kl_at(cand, True)
                    armijo = K - mp.mpf("1e-4") * lam * slope
                    if all(mp.isfinite(v) for v in new) and new[0] <= armijo:
                        break
                lam /= 2
            else:
                notes.append("line search stalled: KL cannot be decreased further at this "
                             "quadrature precision")
                break
            x, vals = cand, new
        else:
            raise SymgeoError(f"{what} onto family {fam.name!r}: natural-gradient descent did "
                              f"not converge in {max_iter} steps (last natural-gradient norm "
                              f"{mp.nstr(dec, 5)})")
        point = dict(zip(fam.coordinates, x))
        moments = ()
        if st is not None:
            sub = {c: sp.Float(v, dps + 10) for c, v in point.items()}
            moments = tuple(mp.mpf(sp.N(sp.sympify(e, strict=True).xreplace(sub), dps + 10)) for e in st.mean)
    route = ("Newton (Hessian E_q[(s s^T + d^2 log q)(log q - log target)] + g where positive "
             "definite, else the natural gradient)" if newton else "natural-gradient descent")
    return Projection("e", fam.name, point, tuple(st.statistics) if st is not None else (),
                      moments, vals[0], "KL(q || target)",
                      f"{route}, gradient E_q[s (log q - log target)] by quadrature", it, dec,
                      notes)
