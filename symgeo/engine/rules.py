"""Definite-integral rules behind the expectation engine.

Each rule evaluates one additive term ``c * m(w) * p0(w)`` of a standardised
integrand over a standard domain, or returns ``None`` when the term does not
have its shape.  They are identities, not answers: no family appears here.

Half line (0, oo), Mellin-type rule.  Writing log^k(w) w^(a-1) as the k-th
a-derivative of w^(a-1),

    int_0^oo w^(a-1) log^k(w) K(w) dw = d^k/da^k M_K(a),

with the Mellin transforms of the two kernels that standard densities have:

    K = exp(-c w^q)        M(a) = Gamma(a/q) c^(-a/q) / |q|
                           (Gamma/Exp(1): E[u^p log^k u] = Gamma^(k)(p+1);
                            Gaussian moments; Weibull; Frechet with q < 0)
    K = (1 + r w^q)^(-s)   M(a) = r^(-a/q) B(a/q, s - a/q) / |q|
                           (Beta-integral rule: Student t and Cauchy with q = 2,
                            logistic after w = exp(-z) with q = 1, Burr, Lomax)

and a factor log^j(1 + r w^q) beside the algebraic kernel is (-d/ds)^j of it:
the Student t entropy (nu + 1)/2 [psi((nu + 1)/2) - psi(nu/2)] + ... follows.

valid for either sign of q while a/q > 0 (and s > a/q): w -> 1/w exchanges
the two signs.

Unit interval (0, 1), Beta rule:

    int_0^1 u^(a-1) (1 - u^q)^(b-1) log^j(u) log^k(1 - u^q) du
        = d^j/da^j d^k/db^k [B(a/q, b) / q]

Circle (-pi, pi], Bessel rule for the von Mises kernel:

    int cos(n t) exp(c cos t) dt = 2 pi I_n(c),   int sin(n t) exp(c cos t) dt = 0,

after rewriting products of sines and cosines as sums of multiple angles.

The real line is folded onto the half line, int_R g = int_0^oo [g(w) + g(-w)] dw,
with w > 0 so that |w| = w and sign(w) = 1: this handles the kink of a
Laplace-type density (ell not differentiable at the location) exactly.
"""

from __future__ import annotations

import sympy as sp
from sympy.simplify.fu import TR8

_A = sp.Dummy("a")
_B = sp.Dummy("b")
_S = sp.Dummy("s")


def _gamma_ratio_beta(x, y):
    return sp.gamma(x) * sp.gamma(y) / sp.gamma(x + y)


def _split_power(factor, w):
    """(base, exponent) of a factor, with exp(e) read as (E, e)."""
    if isinstance(factor, sp.exp):
        return sp.E, factor.args[0]
    return factor.as_base_exp()


def _monomial_in(expr, w):
    """Return (coef, q) if expr == coef * w**q with coef free of w, else None."""
    coef, rest = expr.as_independent(w, as_Add=False)
    if rest == w:
        return coef, sp.S.One
    b, e = rest.as_base_exp()
    if b == w and not e.has(w):
        return coef, e
    return None


def _binomial_base(base, w):
    """Return (alpha, beta, q) if base == alpha + beta * w**q, else None."""
    if not isinstance(base, sp.Add):
        return None
    alpha, rest = base.as_independent(w, as_Add=True)
    if alpha == 0:
        return None
    mono = _monomial_in(rest, w)
    if mono is None:
        return None
    return alpha, mono[0], mono[1]


def _positive(e):
    """False only when e is provably not positive (symbols are assumed admissible)."""
    return e.is_positive is not False


def half_line(term, w):
    """int_0^oo term dw by the Mellin-type rule, or None."""
    coef = sp.S.One
    a_minus_1 = sp.S.Zero
    logs = 0
    kernel = None
    kernel_logs = []  # (alpha, r, q, k): log^k(alpha + alpha r w^q), read as -d/ds of the kernel
    exps = []  # (c, q): the monomials c w^q of exponentials
    for factor in sp.Mul.make_args(term):
        if not factor.has(w):
            coef *= factor
            continue
        base, e = _split_power(factor, w)
        if base == w and not e.has(w):
            a_minus_1 += e
        elif base == sp.log(w) and e.is_Integer and e > 0:
            logs += int(e)
        elif isinstance(base, sp.log) and e.is_Integer and e > 0 and \
                (bb := _binomial_base(base.args[0], w)) is not None:
            kernel_logs.append((bb[0], bb[1] / bb[0], bb[2], int(e)))
        elif base == sp.E:
            const, e_w = sp.expand(e).as_independent(w, as_Add=True)
            coef *= sp.exp(const)
            exps += [_monomial_in(t, w) for t in sp.Add.make_args(e_w)]
            if any(m is None for m in exps):
                return None
        elif not e.has(w):
            bb = _binomial_base(base, w)
            if bb is None:
                return None
            alpha, beta, q = bb
            r = beta / alpha
            # (alpha + beta w^q)^e = alpha^e (1 + r w^q)^e; equal (r, q) merge
            if kernel is None:
                kernel = ("alg", r, q, -e)
            elif kernel[0] == "alg" and sp.simplify(kernel[1] - r) == 0 and kernel[2] == q:
                kernel = ("alg", r, q, kernel[3] - e)
            else:
                return None
            coef *= alpha ** e
        else:
            return None
    if exps:
        if kernel is not None:
            return None
        if len(exps) == 1:
            c, q = exps[0]
            kernel = ("exp", -c, q, None)
        elif len(exps) == 2 and sp.simplify(exps[0][1] + exps[1][1]) == 0:
            (c1, q1), (c2, _) = sorted(exps, key=lambda m: not m[1].is_positive)
            kernel = ("gig", -c1, q1, -c2)  # exp(-c w^q - d w^-q), q > 0
        else:
            return None
    if kernel is None:
        return None
    a = a_minus_1 + 1
    kind, c, q, s = kernel
    # w -> 1/w maps a kernel in w^q onto one in w^-q: both signs of q share one formula
    # with |q|, valid while a/q > 0 (Frechet-type kernels exp(-c w^-k) have q < 0)
    q_abs = -q if q.is_negative else q
    if not (_positive(c) and _positive(q_abs) and _positive(a / q)):
        return None
    if kind == "gig":
        return _gig(coef, a, c, q, s, logs) if not kernel_logs else None
    if kind == "exp":
        if kernel_logs:
            return None
        mellin = sp.gamma(_A / q) * c ** (-_A / q) / q_abs
        return coef * sp.diff(mellin, _A, logs).subs(_A, a)
    if not _positive(s - a / q):
        return None
    # log(alpha + alpha r w^q) = log(alpha) + log(1 + r w^q), and log^j(1 + r w^q)
    # times the kernel (1 + r w^q)^(-s) is (-d/ds)^j of it: the Beta-integral rule
    # with log factors (Student t, log-logistic, Burr entropies)
    total_logs = sp.S.One
    L = sp.Dummy("L")
    for alpha, r, q_log, k in kernel_logs:
        if q_log != q or sp.simplify(r - c) != 0:
            return None
        total_logs *= (sp.log(alpha) + L) ** k
    mellin = c ** (-_A / q) * _gamma_ratio_beta(_A / q, _S - _A / q) / q_abs
    mellin = sp.diff(mellin, _A, logs) if logs else mellin
    value = sp.S.Zero
    for j, cj in sp.Poly(sp.expand(total_logs), L).as_dict().items():
        j = j[0]
        value += cj * (-1) ** j * (sp.diff(mellin, _S, j) if j else mellin)
    return coef * value.subs({_A: a, _S: s})


def _gig(coef, a, c, q, d, logs):
    """int_0^oo w^(a-1) log^k(w) exp(-c w^q - d w^-q) dw for k = 0, 1 (generalised
    inverse Gaussian kernel): with t = w^q, nu = a/q and z = 2 sqrt(c d),

        M(a) = (2/q) (d/c)^(nu/2) K_nu(z),
        dM/da = (2/q^2) (d/c)^(nu/2) [log(d/c)/2 K_nu(z) + dK_nu(z)/dnu],

    the order derivative in closed form for half-integer nu (:func:`besselk_order_derivative`).
    """
    if not (q.is_positive and _positive(c) and _positive(d)) or logs > 1:
        return None
    nu = a / q
    z = 2 * sp.sqrt(c * d)
    ratio = (d / c) ** (nu / 2)
    if logs == 0:
        return coef * 2 / q * ratio * sp.besselk(nu, z)
    dk = besselk_order_derivative(nu, z)
    if dk is None:
        return None
    return coef * 2 / q ** 2 * ratio * (sp.log(d / c) / 2 * sp.besselk(nu, z) + dk)


MAX_HALF_ORDER = 40
"""Largest |nu| of the half-integer order derivative of K_nu built by recurrence."""


def besselk_order_derivative(nu, z):
    """dK_nu(z)/dnu for a half-integer nu, else None.

    At nu = 1/2 it is sqrt(pi/(2z)) E_1(2z) e^z (DLMF 10.38.7); K is even in nu, so the
    derivative is odd; and differentiating K_{nu+1} = K_{nu-1} + (2 nu/z) K_nu in nu gives
    D_{nu+1} = D_{nu-1} + (2/z) K_nu + (2 nu/z) D_nu.
    """
    nu = sp.sympify(nu, strict=True)
    if not (nu.is_Rational and nu.q == 2) or abs(nu) > MAX_HALF_ORDER:
        return None
    half = sp.S.Half
    d = {half: sp.sqrt(sp.pi / (2 * z)) * sp.expint(1, 2 * z) * sp.exp(z)}
    d[-half] = -d[half]
    k = half
    while k + 1 <= abs(nu):
        d[k + 1] = d[k - 1] + 2 / z * sp.besselk(k, z) + 2 * k / z * d[k]
        d[-(k + 1)] = -d[k + 1]
        k += 1
    return d[nu]


def unit_interval(term, u):
    """int_0^1 term du by the Beta rule, or None."""
    coef = sp.S.One
    a_minus_1 = sp.S.Zero
    b_minus_1 = sp.S.Zero
    log_u = log_1mu = 0
    q = None
    for factor in sp.Mul.make_args(term):
        if not factor.has(u):
            coef *= factor
            continue
        base, e = _split_power(factor, u)
        if base == u and not e.has(u):
            a_minus_1 += e
            continue
        if isinstance(base, sp.log) and e.is_Integer and e > 0:
            arg = base.args[0]
            if arg == u:
                log_u += int(e)
                continue
            bb = _binomial_base(arg, u)
            if bb and bb[0] == 1 and bb[1] == -1 and (q is None or q == bb[2]):
                q = bb[2]
                log_1mu += int(e)
                continue
            return None
        bb = _binomial_base(base, u) if not e.has(u) else None
        if bb and bb[0] == -1 and bb[1] == 1 and e.is_integer:
            coef *= (-1) ** e  # (u^q - 1)^e = (-1)^e (1 - u^q)^e for an integer power
            bb = (1, -1, bb[2])
        if bb and bb[0] == 1 and bb[1] == -1 and (q is None or q == bb[2]):
            q = bb[2]
            b_minus_1 += e
            continue
        return None
    q = sp.S.One if q is None else q
    a, b = a_minus_1 + 1, b_minus_1 + 1
    if not (_positive(a) and _positive(b) and _positive(q)):
        return None
    beta = _gamma_ratio_beta(_A / q, _B) / q
    val = sp.diff(beta, _A, log_u) if log_u else beta
    val = sp.diff(val, _B, log_1mu) if log_1mu else val
    return coef * val.subs({_A: a, _B: b})


def circle(term, t):
    """int_{-pi}^{pi} term dt for term = trig polynomial * exp(c cos t), or None."""
    coef = sp.S.One
    kappa = None
    trig = sp.S.One
    for factor in sp.Mul.make_args(term):
        if not factor.has(t):
            coef *= factor
            continue
        base, e = _split_power(factor, t)
        if base == sp.E:
            c, rest = sp.expand(e).as_independent(t, as_Add=False)
            if rest != sp.cos(t) or kappa is not None:
                return None
            kappa = c
            continue
        trig *= factor
    if not all(isinstance(f, (sp.sin, sp.cos)) and f.args[0].as_independent(t)[1] == t
               for f in trig.atoms(sp.Function) if f.has(t)):
        return None
    if trig.has(sp.exp, sp.log):
        return None
    total = sp.S.Zero
    for part in sp.Add.make_args(sp.expand(TR8(sp.expand(trig)))):
        c, f = part.as_independent(t, as_Add=False)
        if f == 1:
            n = 0
        elif isinstance(f, sp.cos):
            n = sp.expand(f.args[0] / t)
            if not n.is_Integer:
                return None
        elif isinstance(f, sp.sin):
            continue  # odd in t: integrates to zero over a symmetric period
        else:
            return None
        if kappa is None:
            total += c * (2 * sp.pi if n == 0 else 0)
        else:
            total += c * 2 * sp.pi * sp.besseli(abs(n), kappa)
    return coef * total


def fold_real_line(term, z, w):
    """Terms of g(w) + g(-w), for int_R g(z) dz = int_0^oo [g(w) + g(-w)] dw (w > 0).

    Even and odd terms are recognised without expanding (which would
    multiply out the kernel's denominator).
    """
    a, b = term.subs(z, w), term.subs(z, -w)
    if b == a:
        return [2 * a]
    if b == -a or sp.expand(a + b) == 0:
        return []
    return [a, b]


def _quadratic_log(factor, z):
    """(a, b, c, d) with factor = log((a z^2 + b z + c) / d), d free of z, or None."""
    if not isinstance(factor, sp.log):
        return None
    num, den = sp.fraction(sp.together(factor.args[0]))
    if den.has(z):
        return None
    try:
        P = sp.Poly(sp.expand(num), z)
    except sp.PolynomialError:
        return None
    if P.degree() != 2:
        return None
    a, b, c = P.all_coeffs()
    return a, b, c, den


def poisson_kernel(term, z):
    """int_R log(P(z)) / (1 + z^2) dz for a quadratic P without real roots, or None.

    log|z - w|^2 is harmonic in the upper half-plane when w lies in the lower
    one, and the Cauchy kernel is the Poisson kernel of the half-plane at i:
    int log|z - w|^2 dz / (pi (1 + z^2)) = log|i - w|^2.  With
    P = a (z - w)(z - conj w), w = (-b - i sqrt(4ac - b^2)) / (2a):
    E[log P] = log a + log((b/2a)^2 + (1 + sqrt(4ac - b^2)/2a)^2).
    """
    coef = sp.S.One
    kernel = logp = None
    for f in sp.Mul.make_args(term):
        if not f.has(z):
            coef *= f
        elif sp.simplify(f * (z ** 2 + 1)) == 1 and kernel is None:
            kernel = f
        elif logp is None and (q := _quadratic_log(f, z)) is not None:
            logp = q
        else:
            return None
    if kernel is None or logp is None:
        return None
    a, b, c, d = logp
    disc = sp.factor(sp.expand(4 * a * c - b ** 2))
    if not (_positive(a) and _positive(disc)):
        return None
    r = sp.sqrt(disc) / (2 * a)
    return coef * sp.pi * (sp.log(a) - sp.log(d) + sp.log((b / (2 * a)) ** 2 + (1 + r) ** 2))


def shifted_abs(term, z, budget_integrate):
    """int_R |z + c| p(z) dz for an even kernel p, or None.

    By symmetry E|z + c| = E|z + |c||, and splitting at z = -|c|:
    int |z + c| p = |c| int p + 2 int_{|c|}^oo (u - |c|) p(u) du (p need not
    be normalised: constant factors stay in the kernel or the coefficient).  The tail integral is
    computed with a positive symbol for |c| (``budget_integrate``).
    """
    coef = sp.S.One
    shift = kernel = None
    for f in sp.Mul.make_args(term):
        if not f.has(z):
            coef *= f
        elif isinstance(f, sp.Abs) and shift is None:
            lin = sp.Poly(sp.expand(f.args[0]), z) if f.args[0].is_polynomial(z) else None
            if lin is None or lin.degree() != 1:
                return None
            a, c = lin.all_coeffs()
            if not _positive(a):
                a, c = -a, -c
                if not _positive(a):
                    return None
            coef *= a
            shift = c / a
        elif kernel is None:
            kernel = f
        else:
            return None
    if shift is None or kernel is None or sp.simplify(kernel.subs(z, -z) - kernel) != 0:
        return None
    t = sp.Symbol("t", positive=True)
    u = sp.Symbol("u", positive=True)
    tail = budget_integrate((u - t) * kernel.subs(z, u), u, t, sp.oo)
    half_mass = budget_integrate(kernel.subs(z, u), u, 0, sp.oo)
    if tail is None or half_mass is None:
        return None
    return coef * (2 * half_mass * sp.Abs(shift) + 2 * tail.subs(t, sp.Abs(shift)))


def _exp_linear_integral(a, b, lo, hi):
    """int_lo^hi exp(a z + b) dz (a may be 0; lo may be -oo, hi may be oo)."""
    z = sp.Dummy("z")
    if a == 0:
        return sp.exp(b) * (hi - lo)
    prim = sp.exp(a * z + b) / a
    top = 0 if hi == sp.oo else prim.subs(z, hi)
    bottom = 0 if lo == -sp.oo else prim.subs(z, lo)
    return top - bottom


def piecewise_exponential(term, z):
    """int_R c exp(sum_j a_j |z - k_j| + a z + b) dz, a piecewise-exponential integrand
    (the affinity of Laplace-type densities), or None.

    With two kinks k_1 < k_2 whose order the coordinates decide, the line splits
    into three pieces, on each of which the exponent is linear; the result is a
    Piecewise over the order of the kinks (one kink: no case).  Convergence needs
    the slope to be negative at +oo and positive at -oo, which holds for a density
    and is checked for the total slope symbolically where it can be.
    """
    coef, expo = sp.S.One, sp.S.Zero
    for f in sp.Mul.make_args(term):
        if not f.has(z):
            coef *= f
        elif isinstance(f, sp.exp):
            expo += f.args[0]
        else:
            return None
    absolutes = []
    linear = sp.S.Zero
    for t in sp.Add.make_args(sp.expand(expo)):
        c, r = t.as_independent(z, as_Add=False)
        if isinstance(r, sp.Abs):
            arg = sp.expand(r.args[0])
            if not (arg.is_polynomial(z) and sp.degree(arg, z) == 1):
                return None
            slope, off = sp.Poly(arg, z).all_coeffs()
            # c |s z + o| = c |s| |z + o/s|: the scale of an Abs argument must have a sign
            if slope.is_positive is None and slope.is_negative is None:
                return None
            absolutes.append((c * sp.Abs(slope), -off / slope))
        elif t.has(z):
            if not (sp.expand(t).is_polynomial(z) and sp.degree(t, z) <= 1):
                return None
            linear += t
        else:
            linear += t
    merged = []
    for c, k in absolutes:  # c1 |z - k| + c2 |z - k| = (c1 + c2) |z - k|
        for i, (c0, k0) in enumerate(merged):
            if sp.simplify(k - k0) == 0:
                merged[i] = (c0 + c, k0)
                break
        else:
            merged.append((c, k))
    absolutes = merged
    if not absolutes or len(absolutes) > 2:
        return None
    a = sp.expand(linear).coeff(z, 1)
    b = sp.expand(linear).coeff(z, 0)
    kinks = [k for _, k in absolutes]

    def pieces(order):
        pts = [-sp.oo] + order + [sp.oo]
        total = sp.S.Zero
        for i in range(len(pts) - 1):
            # on (pts[i], pts[i+1]): |z - k| = z - k for a kink at or left of pts[i], else k - z
            slope, off = a, b
            for (c, _), pos in zip(absolutes, positions(order)):
                sgn = 1 if pos <= i else -1
                slope += c * sgn
                off += -c * sgn * kinks_of[pos]
            total += _exp_linear_integral(slope, off, pts[i], pts[i + 1])
        return total

    def positions(order):
        # position in pts (1-based among the kinks) of each absolute value's kink
        return [1 + order.index(k) for _, k in absolutes]

    if len(kinks) == 2 and sp.simplify(kinks[0] - kinks[1]) == 0:
        absolutes = [(absolutes[0][0] + absolutes[1][0], kinks[0])]
        kinks = [kinks[0]]
    if len(kinks) == 1:
        kinks_of = {1: kinks[0]}
        return coef * pieces(kinks)
    k1, k2 = kinks
    kinks_of = {1: k1, 2: k2}
    first = pieces([k1, k2])
    kinks_of = {1: k2, 2: k1}
    second = pieces([k2, k1])
    return coef * sp.Piecewise((first, k1 <= k2), (second, True))


RULE_NAMES = {
    "half": "Mellin-type rule on (0, oo) (with the generalised inverse Gaussian kernel "
            "exp(-c w^q - d w^-q): 2/q (d/c)^(nu/2) K_nu(2 sqrt(cd)) and its order "
            "derivative): d^k/da^k of Gamma(a/q) c^(-a/q)/q "
            "or r^(-a/q) B(a/q, s-a/q)/q",
    "real": "real line folded onto (0, oo), then the Mellin-type rule",
    "poisson": "Poisson-kernel rule: E[log|z - w|^2] = log|i - w|^2 under the standard Cauchy "
               "density (log|z - w|^2 is harmonic in the upper half-plane)",
    "piecewise": "piecewise-exponential rule: exp(sum a_j |z - k_j| + a z + b) integrated "
                 "piece by piece between the kinks, a case for each order of the kinks",
    "abs": "even kernel: E|z + c| = |c| + 2 int_|c|^oo (u - |c|) p(u) du",
    "unit": "Beta rule on (0, 1): derivatives of B(a/q, b)/q",
    "circle": "Bessel rule on the circle: int cos(n t) exp(c cos t) dt = 2 pi I_n(c)",
}
