"""The numeric routes of the generated modules (quantities without a closed form):
double-exponential quadrature after the standardising substitution, split at kinks,
and truncated series, against the mpmath route at 30 digits."""

import math
import random

import numpy as np
import pytest

import symgeo
from symgeo.codegen import numpy as N
from symgeo.errors import DerivationError

ALPHA = 0.3


def _forced(fam, q):
    """The generated function of ``q`` by its numeric route (the closed form withheld)."""
    src, emitted, _ = N.module_parts(fam, [q], derived={q: DerivationError("withheld")})
    assert emitted == [q]
    ns = {}
    exec(compile(src, fam.name, "exec"), ns)  # noqa: S102 - our own generated module
    return ns[q], src


def _pair(fam, seed):
    p = fam.random_point(random.Random(seed))
    r = fam.random_point(random.Random(seed + 50))
    return [float(p[c]) for c in fam.coordinates], [float(r[c]) for c in fam.coordinates]


def _values(fn, fam, q, p, r):
    """(generated value, mpmath route's value) of quantity ``q`` at p (and r)."""
    if q == "kl":
        return fn(*p, *r), fam.kl_numeric(p, r)
    if q == "entropy":
        return fn(*p), fam.entropy_numeric(p)
    if q == "cross_entropy":
        return fn(*p, *r), fam.entropy_numeric(p) + fam.kl_numeric(p, r)
    return fn(ALPHA, *p, *r), fam.alpha_divergence_numeric(ALPHA, p, r)


def _check(fam, q, seeds=(1, 2), tol=1e-12):
    fn, src = _forced(fam, q)
    assert "numeric route" in src
    for seed in seeds:
        p, r = _pair(fam, seed)
        got, ref = _values(fn, fam, q, p, r)
        assert abs(float(got) - float(ref)) <= tol * abs(float(ref)), (fam.name, q, p, r)


@pytest.mark.parametrize("name, q", [
    ("logistic", "kl"),            # real line, exponential tails
    ("student_t", "kl"),           # algebraic tails
    ("cauchy", "alpha_divergence"),
    ("gumbel", "alpha_divergence"),  # half-line after w = exp(-(x - mu)/beta)
    ("weibull", "entropy"),
    ("laplace", "alpha_divergence"),  # kinks at both locations
    ("gamma", "kl"),               # half-line, shape parameter left in p0
    ("beta", "entropy"),           # unit interval through the logit
    ("poisson", "entropy"),        # infinite series
    ("negative_binomial", "entropy"),
    ("binomial", "kl"),            # finite integer range
    ("bernoulli", "alpha_divergence"),
    ("inverse_gaussian", "cross_entropy"),
])
def test_numeric_route_matches_mpmath(name, q):
    _check(symgeo.get_family(name), q)


def test_numeric_route_is_vectorised_and_masks_the_domain():
    fam = symgeo.get_family("logistic")
    fn, _ = _forced(fam, "kl")
    mu = np.linspace(-1, 1, 7)
    out = fn(mu[:, None], 1.5, 0.2, np.array([0.7, 2.0, -1.0]))
    assert out.shape == (7, 3)
    assert np.isnan(out[:, 2]).all() and np.isfinite(out[:, :2]).all()
    single = [fn(m, 1.5, 0.2, 2.0) for m in mu]
    assert np.allclose(out[:, 1], single, rtol=1e-14, atol=0)
    assert fn(0.2, 2.0, 0.2, 2.0) == pytest.approx(0, abs=1e-15)


@pytest.mark.parametrize("name", ["logistic", "student_t", "gamma"])
def test_kl_route_near_and_at_q_equal_p(name):
    """At q = p every term of the KL sum is rounding: the rule accepts the sum by its
    rounding allowance (0 to 1e-15, never NaN as before); at q = p (1 + 1e-5) the value
    follows KL ~ 1/2 delta^T I delta with the derived Fisher matrix."""
    fam = symgeo.get_family(name)
    fn, _ = _forced(fam, "kl")
    fisher = N.compile_quantity(fam, "fisher")
    for seed in (1, 2, 3):
        p, _ = _pair(fam, seed)
        assert abs(fn(*p, *p)) <= 1e-15, (p, fn(*p, *p))
        q = [v * (1 + 1e-5) for v in p]
        delta = np.subtract(q, p)
        quad = 0.5 * delta @ fisher(*p) @ delta
        assert fn(*p, *q) == pytest.approx(quad, rel=1e-4), (p, fn(*p, *q), quad)


def test_user_family_with_a_kink_on_the_half_line():
    """An asymmetric Laplace-type density on (0, oo) with a kink at its mode m
    (normaliser: int_0^oo e^{-|x - m|/b} dx = b (2 - e^{-m/b}))."""
    from symgeo.declare.loader import declaration_from_text
    from symgeo.family import Family
    fam = Family(**declaration_from_text(KINKED, "<test>"))
    _check(fam, "kl")
    _check(fam, "entropy")


KINKED = """
name = "kinked"
variables = ["x"]
support = { kind = "interval", lower = "0", upper = "oo" }
log_density = "-Abs(x - m)/b - log(b) - log(2 - exp(-m/b))"

[[coordinates]]
name = "m"
domain = "positive"

[[coordinates]]
name = "b"
domain = "positive"
"""


def test_series_tail_reaches_heavy_rows():
    """A Poisson mean of 2000 needs thousands of terms; the doubling blocks get there."""
    fam = symgeo.get_family("poisson")
    fn, _ = _forced(fam, "entropy")
    lam = np.array([0.05, 3.0, 2000.0])
    got = fn(lam)
    ref = [float(fam.entropy_numeric([v])) for v in (0.05, 3.0)]
    assert np.allclose(got[:2], ref, rtol=1e-12, atol=0)
    # large-mean asymptotics: H = 1/2 log(2 pi e lam) - 1/(12 lam) + O(lam^-2)
    assert got[2] == pytest.approx(0.5 * np.log(2 * np.pi * np.e * 2000) - 1 / 24000, rel=1e-8)


@pytest.mark.timeout(60)
def test_series_rows_outside_the_domain_stop_at_once():
    """A row whose terms are undefined (NaN, p > 1) is NaN after its first block; it used
    to run to _SERIES_MAX terms (2^22), minutes for a few thousand such rows."""
    fam = symgeo.get_family("negative_binomial")
    fn, _ = _forced(fam, "entropy")
    p = np.concatenate([np.full(3000, np.nan), np.full(3000, 1.5), [0.4]])
    got = fn(p)
    assert np.isnan(got[:-1]).all()
    assert abs(got[-1] - float(fam.entropy_numeric([0.4]))) <= 1e-13 * abs(got[-1])


def test_non_finite_arguments_in_a_numeric_route(families):
    f, _ = _forced(families["cauchy"], "alpha_divergence")
    out = f(np.array([math.inf, 0.5, math.nan]), 0.0, 1.0, 0.0, 2.0)
    assert np.isnan(out[[0, 2]]).all() and np.isfinite(out[1])


@pytest.mark.parametrize("name, q, p, r", [
    # an affinity tail |w|^-1.42 beyond the nodes of t = 4 (5e-9 was missing)
    ("logistic", "alpha_divergence", [0.094, 0.449], [-1.415, 2.549]),
    # a density x^(k - 1), k = 0.459, below the first node of t = -4 (3e-7 missing),
    # and step-1/8 and step-1/4 sums that agree to 3e-10 while 4e-9 off
    ("gamma", "kl", [0.459, 1.6], [0.673, 2.573]),
    ("gamma", "kl", [0.508, 0.458], [2.176, 2.203]),
    # Cauchy affinity of a narrow p against a wide q (2e-5 off at a fixed step 1/16)
    ("cauchy", "alpha_divergence", [-1.056, 0.668], [1.655, 0.757]),
    ("weibull", "entropy", [0.514, 2.572], None),
    # steps 1/8 and 1/16 agree to 2.6e-8 of D while step 1/16 is 3.6e-9 off: accepted
    # when two steps had to agree to 1e-7 only
    ("cauchy", "alpha_divergence", [0.8029089427480565, 0.5890879470013026],
     [2.4580779144308806, 0.7036121365910899]),
    # a narrow p beside a wide q (two bumps): split at q's centre alone, NaN (no two
    # steps agreed to 1e-7 by step 1/64) and 7.8e-12 off; split at both centres, exact
    ("cauchy", "alpha_divergence", [1.93, 0.557], [-1.495, 2.552]),
    ("cauchy", "alpha_divergence", [-1.435, 0.492], [1.949, 2.72]),
    # a q 100 times narrower (Gumbel, v = exp(-(x - mu)/beta)): its double-exponential
    # fall in v needs the exp-sinh tail from q's centre (a tanh-sinh piece from there to
    # p's centre was NaN)
    ("gumbel", "alpha_divergence", [0.0, 1.0], [3.0, 0.01]),
    ("weibull", "alpha_divergence", [1.0, 1.0], [20.0, 1.2]),
])
def test_numeric_route_hard_pairs(name, q, p, r):
    """Pairs where an earlier rule (a fixed step 1/16 on t in [-4, 4], or a row stopping
    when two steps agreed to 1e-7) was wrong beyond 1e-12; the reference is the mpmath
    route at 30 digits."""
    fam = symgeo.get_family(name)
    fn, _ = _forced(fam, q)
    got, ref = _values(fn, fam, q, p, r)
    assert abs(float(got) - float(ref)) <= 1e-12 * abs(float(ref)), (got, ref)


@pytest.mark.parametrize("name", ["student_t", "cauchy"])
def test_numeric_route_accuracy_over_random_pairs(name):
    """200 random generic pairs of a heavy-tailed affinity, against mpmath at a sample:
    each row stops at its own step, so the check covers rows that stop at each one."""
    fam = symgeo.get_family(name)
    fn, _ = _forced(fam, "alpha_divergence")
    rng = random.Random(3)
    def point():
        pt = fam.random_point(rng)
        return [float(pt[c]) for c in fam.coordinates]
    pairs = [(point(), point()) for _ in range(200)]
    cols = np.array([p + r for p, r in pairs]).T
    got = fn(ALPHA, *cols)
    assert np.isfinite(got).all()
    for k in range(0, 200, 25):
        p, r = pairs[k]
        ref = float(fam.alpha_divergence_numeric(ALPHA, p, r))
        assert abs(got[k] - ref) <= 1e-12 * abs(ref), (k, got[k], ref)


@pytest.mark.parametrize("name", ["cauchy", "gumbel", "weibull"])
def test_alpha_route_one_piece_and_split_rows(name):
    """The α-affinity takes one piece where q's centre and scale are close to p's, else
    splits (at both centres on the real line, at q's on the half-line): on 400 random
    pairs both kinds of row occur, none is NaN, and rows of each kind agree with the
    mpmath route to 1e-12.  Weibull runs in w = (x/lam_p)^k_p (standard exponential,
    found after x = e^t with t = log lam + z/k), where q's centre is (lam_q/lam_p)^k_p and
    its width in log w is k_p/k_q."""
    fam = symgeo.get_family(name)
    fn, src = _forced(fam, "alpha_divergence")
    assert "_one = _ok &" in src
    rng = random.Random(11)
    def point():
        pt = fam.random_point(rng)
        return [float(pt[c]) for c in fam.coordinates]
    pairs = [(point(), point()) for _ in range(400)]
    P, R = (np.array([pr[i] for pr in pairs]) for i in (0, 1))
    got = fn(ALPHA, *P.T, *R.T)
    assert np.isfinite(got).all()
    # the same test as the generated code: centre distance <= 2, scale ratio within 2
    loc, scale = P.T[0], P.T[1]
    if name == "cauchy":
        dist, width = (R.T[0] - loc) / scale, R.T[1] / scale
    elif name == "gumbel":  # in log v = -(x - mu_p)/beta_p: q's centre at (mu_p - mu_q)/beta_p
        dist, width = (loc - R.T[0]) / scale, R.T[1] / scale
    else:  # weibull (k, lam): log w = k_p log(x/lam_p)
        dist, width = P.T[0] * np.log(R.T[1] / P.T[1]), P.T[0] / R.T[0]
    one = (np.abs(dist) <= 2) & (np.abs(np.log(width)) <= np.log(2))
    assert 20 <= one.sum() <= 380
    for k in list(np.flatnonzero(one)[:3]) + list(np.flatnonzero(~one)[:3]):
        ref = float(fam.alpha_divergence_numeric(ALPHA, *pairs[k]))
        assert abs(got[k] - ref) <= 1e-12 * abs(ref), (k, bool(one[k]), got[k], ref)


def test_narrow_q_far_from_p_in_a_held_out_family():
    """A family of no catalog (the hyperbolic secant, a location-scale law with
    exponential tails), q 20 times narrower than p and 6 of p's scales away: the
    generated α route and symgeo's mpmath routes (α and KL) against mpmath quadrature of
    the textbook density written here, split at both locations.  The mpmath routes split
    only at p's coordinates before, so q's bump fell between their nodes: 3.6e-4 (α) and
    1.3e-8 (KL) off."""
    import mpmath as mp
    import sympy as sp
    x = sp.Symbol("x", real=True)
    mu, s = sp.Symbol("mu", real=True), sp.Symbol("s", positive=True)
    fam = symgeo.Family("hyperbolic_secant_heldout",
                        -sp.log(2 * s) - sp.log(sp.cosh(sp.pi * (x - mu) / (2 * s))), x,
                        sp.S.Reals, [(mu, "real"), (s, "positive")])
    fn, src = _forced(fam, "alpha_divergence")
    p, q = [0.0, 1.0], [6.0, 0.05]
    with mp.workdps(40):
        def logd(t, m, sc):
            return -mp.log(2 * sc) - mp.log(mp.cosh(mp.pi * (t - m) / (2 * sc)))
        lam, cuts = (1 - mp.mpf(ALPHA)) / 2, [-mp.inf, 0, 6, mp.inf]
        pq = [mp.mpf(v) for v in p + q]
        rho = mp.quad(lambda t: mp.exp(lam * logd(t, *pq[:2]) + (1 - lam) * logd(t, *pq[2:])),
                      cuts)
        alpha_ref = float(4 / (1 - mp.mpf(ALPHA) ** 2) * (1 - rho))
        kl_ref = float(mp.quad(lambda t: mp.exp(logd(t, *pq[:2])) *
                               (logd(t, *pq[:2]) - logd(t, *pq[2:])), cuts))
    assert abs(fn(ALPHA, *p, *q) - alpha_ref) <= 1e-12 * alpha_ref
    exact = ([sp.Rational(v) for v in p], [sp.Rational(v) for v in q])
    assert abs(float(fam.alpha_divergence_numeric(sp.Rational(3, 10), *exact)) - alpha_ref) \
        <= 1e-14 * alpha_ref
    assert abs(float(fam.kl_numeric(*exact)) - kl_ref) <= 1e-14 * kl_ref


def test_scale_shape_family_runs_in_its_standard_variable():
    """A family of no catalog, the log-logistic (Fisk) law with scale a and shape b:
    after x = e^t a scale of x is a location of t, so t = log a + z/b makes z standard
    logistic and w = e^-z gives -2 log(1 + w), free of both coordinates.  The α route
    runs in w, so close pairs take one piece of shared nodes; a close pair (one piece) and
    a far one (split at q's centre) against mpmath quadrature of the textbook density."""
    import mpmath as mp
    import sympy as sp
    x = sp.Symbol("x", positive=True)
    a, b = sp.Symbol("a", positive=True), sp.Symbol("b", positive=True)
    fam = symgeo.Family("log_logistic_heldout",
                        sp.log(b / a) + (b - 1) * sp.log(x / a) - 2 * sp.log(1 + (x / a) ** b),
                        x, sp.Interval.open(0, sp.oo), [(a, "positive"), (b, "positive")])
    assert any(st.remaining == () for st in fam._engine.standardisations())
    fn, src = _forced(fam, "alpha_divergence")
    assert "_one = _ok &" in src
    with mp.workdps(40):
        def logd(t, sc, sh):
            return mp.log(sh / sc) + (sh - 1) * mp.log(t / sc) - 2 * mp.log(1 + (t / sc) ** sh)
        for p, q in [([1.3, 2.5], [1.6, 3.1]), ([1.0, 0.7], [9.0, 6.0])]:
            lam = (1 - mp.mpf(ALPHA)) / 2
            pq = [mp.mpf(v) for v in p + q]
            rho = mp.quad(lambda t: mp.exp(lam * logd(t, *pq[:2]) +
                                           (1 - lam) * logd(t, *pq[2:])),
                          [0, pq[2], pq[0], mp.inf])
            ref = float(4 / (1 - mp.mpf(ALPHA) ** 2) * (1 - rho))
            got = fn(ALPHA, *p, *q)
            assert abs(got - ref) <= 1e-12 * ref, (p, q, got, ref)


@pytest.mark.parametrize("name", ["cauchy", "gumbel"])
def test_alpha_route_keeps_its_digits_near_the_diagonal(name):
    """q = p (1 + 3e-3): D ~ 1e-6 .. 1e-5, where the affinity's 1 - S cancels to ~1e-16
    absolute.  The direct sum was 1.5e-8 off (Cauchy, alpha = 0.95) while the result was
    above the old switch to the remainder integral (1e-6); below NEAR_ROUTE_THRESHOLD
    the remainder integral is used, within 1e-11 of mpmath."""
    fam = symgeo.get_family(name)
    fn, src = _forced(fam, "alpha_divergence")
    assert f"< {N.NEAR_ROUTE_THRESHOLD!r}" in src
    for seed, alpha in [(1, 0.95), (2, -0.9), (3, 0.3)]:
        p, _ = _pair(fam, seed)
        q = [v * (1 + 3e-3 * (1 if j == 0 else -0.7)) for j, v in enumerate(p)]
        ref = float(fam.alpha_divergence_numeric(alpha, p, q))
        assert ref < N.NEAR_ROUTE_THRESHOLD
        assert abs(fn(alpha, *p, *q) - ref) <= 1e-11 * ref, (alpha, p, q)


def test_exponential_tail_takes_the_exponential_map():
    """The half-line rule maps through v = exp(t - e^-t + e^t/20) where p's density in
    the node variable falls off like e^-v^k (Gumbel and Weibull run in the standard
    exponential), through exp-sinh where it falls off algebraically (logistic's
    (1 + w)^-2).  Held out: the Frechet law (scale s, shape a), algebraic in x, standard
    exponential in w = (x/s)^-a, against mpmath quadrature of its textbook density at a
    close pair (one piece) and a far one (split), for alpha = 0.3 and 0.9."""
    import mpmath as mp
    import sympy as sp
    for name, tail in [("gumbel", True), ("weibull", True), ("logistic", False)]:
        src = _forced(symgeo.get_family(name), "alpha_divergence")[1]
        assert ("tail='exponential', keep" in src) == tail, name
    x = sp.Symbol("x", positive=True)
    s, a = sp.Symbol("s", positive=True), sp.Symbol("a", positive=True)
    fam = symgeo.Family("frechet_heldout",
                        sp.log(a / s) - (1 + a) * sp.log(x / s) - (x / s) ** (-a),
                        x, sp.Interval.open(0, sp.oo), [(s, "positive"), (a, "positive")])
    fn, src = _forced(fam, "alpha_divergence")
    assert "tail='exponential', keep" in src
    with mp.workdps(40):
        def logd(t, sc, sh):
            return mp.log(sh / sc) - (1 + sh) * mp.log(t / sc) - (t / sc) ** (-sh)
        for alpha in (0.3, 0.9):
            for p, q in [([1.3, 2.5], [1.6, 3.1]), ([1.0, 0.7], [9.0, 6.0])]:
                lam = (1 - mp.mpf(alpha)) / 2
                pq = [mp.mpf(v) for v in p + q]
                rho = mp.quad(lambda t: mp.exp(lam * logd(t, *pq[:2]) +
                                               (1 - lam) * logd(t, *pq[2:])),
                              [0, pq[0], pq[2], mp.inf])
                ref = float(4 / (1 - mp.mpf(alpha) ** 2) * (1 - rho))
                got = fn(alpha, *p, *q)
                assert abs(got - ref) <= 1e-12 * ref, (alpha, p, q, got, ref)


def test_trimmed_pieces_between_kinks_lose_no_mass():
    """A piece between two kinks inside the support uses tanh-sinh on |t| <= 3.75 (not 5):
    the omitted ends are 3e-29 of its length.  Bumps 1e-2 .. 1e-12 of the piece's length
    wide, on either end: at each step the trimmed rules' sums equal the whole rule's to
    1e-15 (the omitted nodes add nothing), and at step 1/64 a bump 1e-3 wide has its exact
    mass to 1e-13."""
    from symgeo.codegen import numpy as N
    ns = {"numpy": np}
    exec(compile(N._ENV.get_template("helpers/quadrature.py").render(), "quadrature", "exec"),
         ns)  # noqa: S102 - our own helper module
    bases = ns["_BASES"]

    def sums(kind, f):
        """The sums at steps 1/16, 1/32, 1/64 (each before its factor)."""
        out, total = [], 0.0
        for k, (nodes, weights) in enumerate(bases[kind]):
            w = weights[:, 0] if weights.ndim == 2 else weights
            total = total + np.sum(w * f(nodes))
            out.append(total)
        return np.array(out)
    for end in (0.0, 2.0):  # a bump on the left end, then on the right (of 1 + s in (0, 2))
        for width in 10.0 ** -np.arange(2, 13):  # the loss is 3e-29 / width
            def f(v):
                return np.exp(-((v - end) / width) ** 2)
            whole = sums("finite", f)
            for kind in ("finite_in", "finite_lo"):
                assert np.all(np.abs(sums(kind, f) - whole) <= 1e-15 * whole), (kind, end, width)
        exact = 1e-3 * np.sqrt(np.pi) / 2
        got = sums("finite_in", lambda v: np.exp(-((v - end) / 1e-3) ** 2))[-1]
        assert abs(got - exact) <= 1e-13 * exact


@pytest.mark.parametrize("name", ["cauchy", "student_t"])
def test_narrow_q_far_from_p_keeps_its_digits(name):
    """q 100 to 1000 of p's scales away and 100 to 1000 times narrower: the quadratic in
    the node inside log q is in vertex form a (u - u0)^2 + r with r simplified
    symbolically; expanded, its coefficients cancelled near q's centre (d^2 + g^2 - d^2)
    and the alpha-divergence was up to 1.8e-7 off (alpha = 0.9)."""
    fam = symgeo.get_family(name)
    fn, src = _forced(fam, "alpha_divergence")
    assert "_quad(_node" in src
    for p, q in [([0.0, 1.0], [1000.0, 0.01]), ([0.0, 1.0], [100.0, 0.001]),
                 ([5.0, 2.0], [-300.0, 0.05])]:
        for alpha in (0.3, 0.9):
            ref = float(fam.alpha_divergence_numeric(alpha, p, q))
            assert abs(fn(alpha, *p, *q) - ref) <= 1e-12 * ref, (p, q, alpha)


def test_kl_route_splits_at_q_centre():
    """KL and cross-entropy: log q has a peak of q's width at q's centre, which nodes about
    p's centre alone missed: a generic Student t pair (q 1.7 of p's scales away, 2.5 times
    narrower) was 1.9e-10 off, q 10 scales away and 10 times narrower NaN.  Split at q's
    centre as the alpha route (one piece on close rows), against the mpmath route."""
    fam = symgeo.get_family("student_t")
    kl, src = _forced(fam, "kl")
    ce = _forced(fam, "cross_entropy")[0]
    assert "_one = _ok &" in src
    for p, q in [([-1.585, 1.495], [0.91, 0.599]), ([0.0, 1.0], [10.0, 0.1]),
                 ([0.0, 1.0], [30.0, 0.05]), ([0.3, 1.2], [0.5, 1.0])]:
        ref = float(fam.kl_numeric(p, q))
        assert abs(kl(*p, *q) - ref) <= 1e-13 * ref, (p, q)
        ref += float(fam.entropy_numeric(p))
        assert abs(ce(*p, *q) - ref) <= 1e-13 * abs(ref), (p, q)


@pytest.mark.parametrize("name", ["gumbel", "cauchy"])
def test_alpha_route_broadcasts_rows_of_both_kinds(name):
    """Arguments broadcasting to (7, 3) with one-piece and split rows: the choice of rule was
    a (7, 3) mask against the flattened values (a ValueError).  Each entry equals the
    function at that point alone."""
    fn = _forced(symgeo.get_family(name), "alpha_divergence")[0]
    loc = np.linspace(-1, 1, 7)[:, None]
    scale_q = np.array([0.7, 2.0, 5.0])
    got = fn(0.3, loc, 1.5, 0.2, scale_q)
    assert got.shape == (7, 3)
    one = [[fn(0.3, float(a), 1.5, 0.2, float(b)) for b in scale_q] for a in loc[:, 0]]
    assert np.allclose(got, one, rtol=1e-12, atol=0)


def test_polar_lift_of_unknown_sign_takes_the_numeric_route():
    """sqrt(polar_lift(a)) stands for i sqrt(-a) when a < 0: printed as a real number it
    gives NaN (normal_curved's α-divergence closed form, derived without a budget, was
    NaN everywhere).  Such a closed form goes to the numeric route."""
    import sympy as sp
    from symgeo.errors import SymgeoError
    x = sp.Symbol("x", real=True)
    with pytest.raises(SymgeoError, match="polar_lift"):
        N.NumpyPrinter().doprint(sp.sqrt(sp.polar_lift(x - 1)))
    fam = symgeo.get_family("normal_curved")
    a = sp.Symbol("alpha", real=True)
    th, thq = fam.coordinates[0], sp.Symbol("theta_q", positive=True)
    fake = sp.sqrt(sp.polar_lift(a - 2)) * sp.sqrt(sp.polar_lift(a - 1)) * (th - thq) ** 2
    src, emitted, _ = N.module_parts(fam, ["alpha_divergence"],
                                     derived={"alpha_divergence": fake})
    assert emitted == ["alpha_divergence"] and "numeric route" in src
    ns = {}
    exec(compile(src, "normal_curved", "exec"), ns)  # noqa: S102 - our own generated module
    ref = float(fam.alpha_divergence_numeric(ALPHA, [1.3], [0.8]))
    assert abs(ns["alpha_divergence"](ALPHA, 1.3, 0.8) - ref) <= 1e-12 * ref


LOCATION_ONLY = """
name = "logistic_location"
variables = ["x"]
support = { kind = "real" }
log_density = "-(x - m) - 2*log(1 + exp(-(x - m)))"

[[coordinates]]
name = "m"
domain = "real"
"""


def test_numeric_route_of_an_integrand_free_of_the_arguments():
    """The entropy of a location family is the same for every m: after the
    standardising substitution the integrand depends on no argument (H = 2)."""
    from symgeo.declare.loader import declaration_from_text
    from symgeo.family import Family
    fam = Family(**declaration_from_text(LOCATION_ONLY, "<test>"))
    fn, _ = _forced(fam, "entropy")
    out = fn(np.array([-3.0, 0.0, 2.5]))
    assert np.allclose(out, 2.0, rtol=1e-13, atol=0)


def test_log_weights_below_the_floor_count_as_zero_density():
    """_weighted raises log-weights below _LOG_FLOOR to it (numpy's exp is slow where it
    underflows); such a node still contributes nothing, also where the factor is huge,
    infinite or undefined there (a log q of -inf beside a zero density), and the rounding size
    stays finite (never accepting a row on an infinite size)."""
    import scipy.special
    src = N._ENV.get_template("helpers/quadrature.py").render()
    ns = {"numpy": np, "math": math, "scipy": scipy}
    exec(src, ns)  # noqa: S102 - our own template helper
    weighted, floor = ns["_weighted"], ns["_LOG_FLOOR"]
    w = np.array([1.0, 2.0, 3.0, 4.0])
    e1 = np.array([[-np.inf, -1e300, floor - 20, np.log(0.5)],
                   [np.log(2.0), -800.0, -np.inf, 0.0],
                   [np.log(2.0), -800.0, floor, 0.0]])
    # the last row: a finite but huge factor at far nodes (log q of a density like
    # e^(-x^6) where p's is -x^2), which the guard for non-finite sums does not see
    e2 = np.array([[np.inf, -np.inf, np.nan, 3.0],
                   [1.0, 5.0, -np.inf, 2.0],
                   [1.0, 1e300, 1e290, 2.0]])
    with np.errstate(all="ignore"):
        out, size = weighted(e1, e2, w, 3, True)
        assert out.tolist() == [0.5 * 3.0 * 4.0, 2.0 * 1.0 * 1.0 + 2.0 * 4.0] + \
            [2.0 * 1.0 * 1.0 + 2.0 * 4.0]
        assert np.all(np.isfinite(size))
        assert weighted(e1, 1, w, 3).tolist() == [0.5 * 4.0, 2.0 + 4.0, 2.0 + 4.0]


SEXTIC = """
name = "sextic"
variables = ["x"]
support = { kind = "real" }
log_density = "-((x - m)/s)**6 - log(s) - log(2*gamma(7/6))"

[[coordinates]]
name = "m"
domain = "real"

[[coordinates]]
name = "s"
domain = "positive"
"""


def test_kl_route_of_a_held_out_family_with_a_steep_log_density():
    """A density exp(-z^6): at the outer nodes (|z| up to 1e50) log p - log q reaches
    1e300 beside a density far below the exp floor; the floored nodes must add exactly
    nothing (they once made the sum NaN)."""
    from symgeo.declare.loader import declaration_from_text
    from symgeo.family import Family
    fam = Family(**declaration_from_text(SEXTIC, "<test>"))
    fn, _ = _forced(fam, "kl")
    for p, r in (([0.3, 1.2], [-0.4, 0.7]), ([0.0, 0.5], [0.2, 3.0])):
        ref = float(fam.kl_numeric(p, r))
        assert abs(fn(*p, *r) - ref) <= 1e-12 * ref, (p, r)
