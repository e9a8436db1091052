"""Numeric code generation: generated numpy modules and the polygamma helper."""

import math
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symgeo
from symgeo.codegen import numpy as N

NAMES = symgeo.family_names()
REPO = Path(__file__).resolve().parents[2]
HELPERS = Path(N.__file__).parent / "templates" / "helpers"
CORE = ("fisher", "cramer_rao", "jeffreys_prior", "score", "log_density")


def _helper(file="polygamma", name="_polygamma"):
    """A function of a bundled numpy helper (templates/helpers/FILE.py)."""
    import scipy.special

    ns = {"numpy": np, "math": math, "scipy": scipy}
    exec((HELPERS / f"{file}.py").read_text(), ns)  # noqa: S102 - our own template helper
    return ns[name]


# ----------------------------------------------------------------------
# the polygamma helper

@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_polygamma_helper_against_mpmath(n):
    pg = _helper()
    xs = np.concatenate([np.geomspace(1e-8, 1.0, 60), np.linspace(1.0, 30.0, 120),
                         np.geomspace(30.0, 1e8, 60), [7.0 + n, 8.0, 8.5]])
    got = pg(n, xs)
    with mpmath.workdps(40):
        ref = np.array([float(mpmath.polygamma(n, mpmath.mpf(float(x)))) for x in xs])
    np.testing.assert_allclose(got, ref, rtol=1e-14, atol=0)


def test_polygamma_helper_edges():
    pg = _helper()
    assert np.isnan(pg(1, [-1.0, 0.0, np.nan])).all()
    assert pg(2, 3.0).shape == ()
    with pytest.raises(ValueError):
        pg(0, 1.0)


def test_printer_uses_helper_and_psi():
    p = N.NumpyPrinter()
    x = sp.Symbol("x")
    assert p.doprint(sp.polygamma(1, x)) == "_polygamma(1, x)"
    assert p.doprint(sp.digamma(x)) == "scipy.special.psi(x)"
    assert p.doprint(sp.polygamma(0, x)) == "scipy.special.psi(x)"
    assert "scipy.special.polygamma" in p.doprint(sp.polygamma(7, x))
    assert p.helpers == {"polygamma"}


@pytest.mark.parametrize("name, outside", [("gamma", -1.0), ("von_mises", 3.5)])
def test_support_mask_on_large_arrays(name, outside, families):
    """From 4096 points the support is tested by reductions first: a point outside (or
    NaN) among many inside still gets -inf (NaN for the score), the rest their values."""
    fam = families[name]
    ld, score = fam.numeric("log_density"), fam.numeric("score")
    x = np.full(5000, 1.0)
    coords = [float(fam.random_point(random.Random(2))[c]) for c in fam.coordinates]
    inside = ld(x, *coords)
    assert np.isfinite(inside).all()
    x[17], x[4000] = outside, np.nan
    got, s = ld(x, *coords), score(x, *coords)
    assert got[17] == -np.inf and np.isnan(got[4000])
    assert np.isnan(s[17]).all() and np.isnan(s[4000]).all()
    keep = np.ones(5000, bool)
    keep[[17, 4000]] = False
    assert np.array_equal(got[keep], inside[keep]) and np.isfinite(s[keep]).all()


@pytest.mark.slow
def test_helper_included_only_when_used(families):
    gamma = N.module_source(families["gamma"], ["fisher"])
    normal = N.module_source(families["normal"], ["fisher"])
    assert "def _polygamma" in gamma and "import math" in gamma
    assert "_polygamma" not in normal and "import scipy" not in normal
    assert "import math" in normal  # the pure-Python path at one point


# ----------------------------------------------------------------------
# numeric functions against the symbolic result

def _x_value(fam, rng):
    """A point x inside the support (dict variable -> Rational/Integer)."""
    from symgeo.declare.support import Box, Compositions, FiniteValues, IntegerRange, Simplex
    sup, vs = fam.support, fam.variables
    if isinstance(sup, Box):
        out = {}
        for v, lo, hi in zip(vs, sup.lower, sup.upper):
            lo, hi = sp.sympify(lo), sp.sympify(hi)
            a = float(lo) if lo.is_finite else -3.0
            b = float(hi) if hi.is_finite else a + 4.0 if lo.is_finite else 3.0
            out[v] = sp.Rational(round(1000 * (a + (b - a) * rng.uniform(0.1, 0.9))), 1000)
        return out
    if isinstance(sup, IntegerRange):
        hi = sp.sympify(sup.upper)
        return {vs[0]: sp.Integer(min(int(sup.lower) + 2, int(hi)) if hi.is_finite else 3)}
    if isinstance(sup, FiniteValues):
        return {vs[0]: sp.sympify(sup.values[-1])}
    if isinstance(sup, Simplex):
        return {vs[0]: sp.Rational(1, 5), vs[1]: sp.Rational(3, 10), vs[2]: sp.Rational(1, 2)}
    if isinstance(sup, Compositions):
        n = int(sup.total)
        return {vs[0]: sp.Integer(1), vs[1]: sp.Integer(n - 3), vs[2]: sp.Integer(2)}
    raise AssertionError(sup)


def _exact(expr, subs):
    """The symbolic value at the point, evaluated by mpmath at 30 digits."""
    if isinstance(expr, sp.MatrixBase):
        return np.array([[complex(sp.N(e.xreplace(subs), 30)).real for e in row]
                         for row in expr.tolist()])
    return np.array(complex(sp.N(sp.sympify(expr).xreplace(subs), 30)).real)


def _close(got, ref):
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13 * (1 + np.abs(ref).max()))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_core_quantities_match_symbolic(name, families, points):
    import random
    fam = families[name]
    for pt in points[name]:
        args = [float(pt[c]) for c in fam.coordinates]
        xs = _x_value(fam, random.Random(len(name)))
        xarg = float(next(iter(xs.values()))) if len(xs) == 1 else \
            np.array([float(xs[v]) for v in fam.variables])
        subs = {**pt, **xs}
        for q in CORE:
            fn = fam.numeric(q)
            sym = N.QUANTITIES[q].get(fam, [fam.coordinates], ())
            got = fn(xarg, *args) if N.QUANTITIES[q].takes_x else fn(*args)
            ref = _exact(sym, subs)
            if q == "score":
                ref = ref.reshape(-1)
            _close(got, ref)
        g = np.arange(1.0, fam.dimension + 1)
        ng = fam.numeric("natural_gradient")(*args, g)
        _close(ng, fam.numeric("cramer_rao")(*args) @ g)


OPTIONAL_CHECK = {"normal": ("kl", "entropy", "amari_chentsov", "christoffel",
                             "scalar_curvature", "gaussian_curvature"),
                  "gamma": ("kl", "entropy", "scalar_curvature"),
                  "poisson": ("kl", "amari_chentsov")}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OPTIONAL_CHECK))
def test_optional_quantities_match_symbolic(name, families, points):
    fam = families[name]
    p, q = points[name]
    done = 0
    for qname in OPTIONAL_CHECK[name]:
        spec = N.QUANTITIES[qname]
        if not N.available(fam, qname):
            continue
        try:
            value = N.derive(fam, qname, 20)
        except symgeo.errors.SymgeoError:
            continue
        src, emitted, skipped = N.module_parts(fam, [qname], derived={qname: value})
        ns = {}
        exec(compile(src, qname, "exec"), ns)  # noqa: S102 - generated by us
        lead = [0.5] if spec.leading else []
        pts = [N.point_symbols(fam, k, spec.points) for k in range(spec.points)]
        subs = {}
        for sym_pt, num_pt in zip(pts, (p, q)):
            subs.update({s: num_pt[c] for s, c in zip(sym_pt, fam.coordinates)})
        subs.update({sp.Symbol(a, real=True): sp.Rational(1, 2) for a in spec.leading})
        args = lead + [float(subs[s]) for pt in pts for s in pt]
        got = ns[qname](*args)
        if spec.rank == 3:
            ref = np.array(sp.Array(value).applyfunc(
                lambda e: sp.N(sp.sympify(e).xreplace(subs), 30)).tolist(), dtype=float)
        else:
            ref = _exact(value, subs)
        _close(got, ref)
        done += 1
    assert done or not any(N.available(fam, n) for n in OPTIONAL_CHECK[name])


# ----------------------------------------------------------------------
# shapes, broadcasting, domain and support

def test_shapes_scalar_array_mixed(families):
    F = families["normal"].numeric("fisher")
    assert F(0.0, 2.0).shape == (2, 2)
    assert F(0.0, 2.0)[0, 1] == 0.0                      # constant entry broadcasts
    a = F(np.zeros(5), 2.0)
    assert a.shape == (5, 2, 2) and (a[:, 0, 1] == 0).all() and np.allclose(a[:, 0, 0], 0.25)
    b = F(np.zeros((3, 1)), np.array([1.0, 2.0, 4.0, 8.0]))
    assert b.shape == (3, 4, 2, 2) and np.allclose(b[..., 1, 1], 2 / np.array([1, 2, 4, 8.0]) ** 2)
    s = families["normal"].numeric("score")
    assert s(np.array([0.0, 1.0]), 0.0, 1.0).shape == (2, 2)
    d = families["dirichlet"].numeric("log_density")
    assert d(np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]), 1.0, 2.0, 3.0).shape == (2,)
    assert families["normal"].numeric("jeffreys_prior")([1.0, 2.0], 3.0).shape == (2,)
    ng = families["normal"].numeric("natural_gradient")
    assert ng(np.zeros(4), 1.0, np.ones(2)).shape == (4, 2)


def test_nan_outside_domain_and_support(families):
    n = families["normal"]
    assert np.isnan(n.numeric("fisher")(0.0, -1.0)).all()
    assert np.isnan(n.numeric("cramer_rao")([0.0, 0.0], [1.0, -1.0])[1]).all()
    assert np.isnan(n.numeric("natural_gradient")(0.0, -1.0, [1.0, 1.0])).all()
    assert np.isnan(n.numeric("jeffreys_prior")(0.0, 0.0))
    assert np.isnan(n.numeric("log_density")(0.3, 0.0, -2.0))
    g = families["gamma"]
    assert g.numeric("log_density")(-1.0, 2.0, 1.0) == -np.inf
    assert np.isnan(g.numeric("score")(-1.0, 2.0, 1.0)).all()
    p = families["poisson"]
    assert p.numeric("log_density")(2.5, 1.0) == -np.inf
    assert np.isfinite(p.numeric("log_density")(2.0, 1.0))
    b = families["binomial"]
    assert b.numeric("log_density")(float(b.fixed[b.symbol("n")]) + 1, 0.3) == -np.inf
    d = families["dirichlet"]
    assert d.numeric("log_density")([0.5, 0.5, 0.5], 1.0, 1.0, 1.0) == -np.inf
    c = families["categorical"]
    args = [0.2] * (c.dimension)
    assert np.isnan(c.numeric("fisher")(*[0.6] * c.dimension)).all()   # constraint p1 + p2 < 1
    assert np.isfinite(c.numeric("fisher")(*args)).all()


@pytest.mark.slow
def test_module_imports_without_sympy(tmp_path, families):
    src = N.module_source(families["gamma"])
    (tmp_path / "gen_gamma.py").write_text(src)
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("sympy", "mpmath", "symgeo"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import gen_gamma
        F = gen_gamma.fisher([1.5, 2.0], 3.0)
        assert F.shape == (2, 2, 2)
        assert "sympy" not in sys.modules and "mpmath" not in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_skipped_quantity_is_listed(families):
    err = symgeo.errors.DerivationError("no closed form for testing")
    src, emitted, skipped = N.module_parts(families["normal"], ["fisher", "amari_chentsov"],
                                           skip_failures=True, derived={"amari_chentsov": err})
    assert skipped == [("amari_chentsov", "no closed form for testing")]
    assert "Not derived (left out):" in src and "def amari_chentsov" not in src
    # a divergence without a closed form falls back to its numeric route instead
    src, emitted, skipped = N.module_parts(families["normal"], ["fisher", "entropy"],
                                           skip_failures=True, derived={"entropy": err})
    assert emitted == ["fisher", "entropy"] and not skipped
    assert "numeric route" in src
    assert emitted[0] == "fisher"


def test_log_factorial_past_170_and_at_one_float_point():
    """log x! is printed as log Gamma(x + 1): scipy's factorial overflows past x = 170
    (log_density was -inf at x = 300), and math.factorial refuses the float a scalar
    call receives (every one-point call fell back to the array path)."""
    import math
    import mpmath
    from _points import generated_module
    mod = generated_module("numpy", "poisson")
    x, lam = 300.0, 250.0
    want = float(-lam + x * mpmath.log(lam) - mpmath.loggamma(x + 1))
    for got in (mod.log_density(x, lam), mod.log_density(np.array([x]), np.array([lam]))[0]):
        assert math.isfinite(got) and abs(got - want) <= 1e-13 * abs(want), (got, want)


def test_constant_terms_of_a_sum_print_as_one_float():
    # log(sigma) - log(2)/2 + 1/2 + log(pi)/2: one array pass, the constant to the last bit
    sigma, x = sp.symbols("sigma x", real=True)
    printer = N.NumpyPrinter()
    code = printer.doprint(sp.log(sigma) - sp.log(2) / 2 + sp.S.Half + sp.log(sp.pi) / 2)
    head, _, literal = code.rpartition(" + ")
    assert head == "numpy.log(sigma)"
    with mpmath.workdps(40):
        exact = mpmath.mpf(1) / 2 - mpmath.log(2) / 2 + mpmath.log(mpmath.pi) / 2
    assert float(literal) == float(exact)
    # exact cancellation leaves no residue; a single constant keeps its symbolic form
    assert printer.doprint(x + sp.log(2) + sp.log(3) - sp.log(6)) == "x"
    assert printer.doprint(x - sp.log(2)) == "x - numpy.log(2)"
    # a complex constant is not folded into a float
    assert "1j" in printer.doprint(x + sp.I + sp.log(2))


def test_a_sum_prints_a_positive_term_first():
    # 1 - a**2 - a/k: no leading unary minus (an array pass of its own); same value
    a, k = sp.symbols("a k", positive=True)
    expr = -a**2 - a / k + 1
    code = N.NumpyPrinter().doprint(expr)
    assert not code.startswith("-")
    vals = {"a": np.array([0.3, 2.0]), "k": np.array([1.5, 0.25])}
    got = eval(code, {"numpy": np, **vals})  # noqa: S307 - the printer's own output
    want = -vals["a"]**2 - vals["a"] / vals["k"] + 1
    assert np.allclose(got, want, rtol=1e-15, atol=0)
    assert N.NumpyPrinter().doprint(-a - k) == "-a - k"  # nothing positive: unchanged


def test_powers_of_a_common_quotient_reuse_it():
    # cse leaves I1**2/I0**2 beside s = I1/I0: it becomes s**2
    k = sp.Symbol("k", positive=True)
    i0, i1 = sp.besseli(0, k), sp.besseli(1, k)
    exprs = (k * i1 / i0, 1 - i1**2 / i0**2 - i1 / (k * i0), i0**3 / i1**3 + k)
    cse, reduced = N._cse(exprs, "_c")
    defs = dict(cse)
    (s,) = [lhs for lhs, rhs in cse if rhs.is_Mul and not rhs.has(k)]
    at = {k: sp.Rational(37, 10)}
    for e, r in zip(exprs, reduced):
        full = r
        for lhs, rhs in reversed(cse):
            full = full.xreplace({lhs: rhs})
        assert abs(sp.N((full - e).subs(at), 30)) < 1e-25
    assert reduced[1].has(s**2) and reduced[2].has(s**-3), (defs, reduced)


def test_softplus_helper_against_mpmath():
    # log(1 + e^z), the numpy form of a wide log(1 + e^a e^b): no overflow, no lost tail
    softplus = _helper("softplus", "_softplus")
    z = np.concatenate([np.linspace(-40, 40, 801), [-745.0, -700.0, -1e-300, 0.0, 1e-12,
                                                    36.0, 710.0, 1e300]])
    got = softplus(z)
    with mpmath.workdps(40):
        want = [float(mpmath.log1p(mpmath.exp(mpmath.mpf(v)))) for v in z]
    assert np.all(np.abs(got - want) <= 4e-16 * np.abs(want) + 1e-320)
    assert np.isnan(softplus(np.nan)) and softplus(np.inf) == np.inf
    assert softplus(-np.inf) == 0.0
    assert "_softplus(" in N.NumpyPrinter().doprint(sp.log(1 + sp.exp(sp.Symbol("a") * 40)))


def test_half_angle_sin_against_mpmath():
    # the numpy backend's _sin (one vectorised tan) against mpmath at the exact binary
    # argument, zeros of sin included (0, pi, 2 pi as doubles)
    sin = _helper("trig", "_sin")
    rng = np.random.default_rng(7)
    c = np.concatenate([rng.uniform(-7, 7, 4000), rng.uniform(-1e3, 1e3, 200),
                        [1e-300, -1e-8, np.pi / 2, np.pi, -np.pi, 2 * np.pi, 3 * np.pi,
                         np.pi + 1e-9]])
    got = sin(c)
    with mpmath.workdps(40):
        want = np.array([float(mpmath.sin(mpmath.mpf(v))) for v in c])
    assert np.max(np.abs(got - want) / np.abs(want)) < 1e-15
    assert sin(0.0) == 0.0 and np.isnan(sin(np.inf))
    assert "_sin(" in N.NumpyPrinter().doprint(sp.sin(sp.Symbol("a")))


# ----------------------------------------------------------------------
# the scaled Bessel helper (I_0 e^-|x|, I_1 e^-|x| by Clenshaw's recurrence as array passes)

@pytest.fixture(scope="module")
def bessel01():
    import scipy.special

    from symgeo.codegen.chebyshev import scaled_bessel_series

    src = N._ENV.get_template("helpers/bessel01.py").render(coefficients=scaled_bessel_series())
    ns = {"numpy": np, "math": math, "scipy": scipy}
    exec(src, ns)  # noqa: S102 - our own template helper
    return ns


@pytest.mark.parametrize("order", [0, 1])
def test_scaled_bessel_helper_against_mpmath(bessel01, order):
    # both branches (|x| <= 8, > 8), tiny, huge and negative arguments, and the block
    # boundaries; against mpmath at the exact binary argument
    rng = np.random.default_rng(11 + order)
    x = np.concatenate([rng.uniform(0, 8, 20000), rng.uniform(8, 1e3, 3000),
                        np.exp(rng.uniform(-40, 12, 3000)), -rng.uniform(0, 30, 3000),
                        [0.0, -0.0, 8.0, np.nextafter(8.0, 9.0), 1e-300, 1e300, -1e300]])
    rng.shuffle(x[:-7])
    fn = bessel01[f"_i{order}e"]
    inner = np.abs(x) <= 8
    assert inner.sum() > bessel01["_CLENSHAW_BLOCK"] > bessel01["_CLENSHAW_FROM"]
    got = fn(x)
    checked = np.r_[np.arange(2500), np.arange(x.size - 7, x.size)]  # random ones, the edges
    with mpmath.workdps(40):
        exact = np.array([float(mpmath.besseli(order, mpmath.mpf(v)) *
                                mpmath.exp(-abs(mpmath.mpf(v)))) for v in x[checked]])
    err = np.abs(got[checked] - exact) / np.maximum(np.abs(exact), 1e-300)
    assert err.max() <= 4e-15, (x[checked][err.argmax()], err.max())
    # every point (across the blocks) beside scipy's ufunc, itself checked to mpmath here
    import scipy.special

    want = (scipy.special.i1e if order else scipy.special.i0e)(x)
    assert np.abs(want[checked] - exact).max() <= 4e-15 * np.abs(exact).max()
    assert np.allclose(got, want, rtol=4e-15, atol=0)
    # one branch only (no masks), and a few points (scipy's ufunc itself)
    for part in (inner, ~inner, slice(0, 100)):
        assert np.allclose(fn(x[part]), want[part], rtol=4e-15, atol=0)
    assert np.array_equal(np.signbit(got), np.signbit(x) if order else np.zeros(x.size, bool))


def test_scaled_bessel_helper_edges(bessel01):
    n = bessel01["_CLENSHAW_FROM"]
    special = np.tile([np.nan, np.inf, -np.inf, 0.0, -0.0], n)
    i0, i1 = bessel01["_i0e"](special), bessel01["_i1e"](special)
    assert np.isnan(i0[0]) and np.isnan(i1[0])
    assert i0[1] == i0[2] == 0.0 and i0[3] == i0[4] == 1.0
    assert i1[1] == 0.0 and i1[2] == 0.0 and np.signbit(i1[2]) and i1[3] == 0.0
    shaped = np.linspace(0.1, 20.0, 2 * n).reshape(2, n)  # any shape, both branches
    import scipy.special

    assert np.allclose(bessel01["_i1e"](shaped), scipy.special.i1e(shaped), rtol=4e-15, atol=0)


def test_printer_uses_the_scaled_bessel_helper_for_numpy_only():
    k = sp.Symbol("k", positive=True)
    from symgeo.codegen.functions import with_scaled_bessel

    expr = with_scaled_bessel(sp.besseli(1, k) / sp.besseli(0, k))
    assert "_i1e(k)/_i0e(k)" in N.NumpyPrinter().doprint(expr).replace(" ", "")
    from symgeo.codegen.backends import BACKENDS

    jax_code = N.NumpyPrinter(backend=BACKENDS["jax"]).doprint(expr)
    assert "jax.scipy.special.i1e" in jax_code and "_i1e" not in jax_code.replace(".i1e", "")
