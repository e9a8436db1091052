"""Emitters: generated numpy modules, the polygamma helper, LaTeX documents and the build."""

import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symgeo
from symgeo.emit import numpy as N
from symgeo.emit.latex import escape_tex, family_context, latex, render_document

NAMES = symgeo.family_names()
REPO = Path(__file__).resolve().parent.parent
HELPER = Path(N.__file__).parent / "templates" / "helpers" / "polygamma.py"
CORE = ("fisher", "cramer_rao", "jeffreys_prior", "score", "log_density")


def _helper():
    ns = {"numpy": np, "math": math}
    exec(HELPER.read_text(), ns)  # noqa: S102 - our own template helper
    return ns["_polygamma"]


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


def test_helper_included_only_when_used(families):
    gamma = N.module_source(families["gamma"], ["fisher"])
    normal = N.module_source(families["normal"], ["fisher"])
    assert "def _polygamma" in gamma and "import math" in gamma
    assert "_polygamma" not in normal and "import math" not in normal
    assert "import scipy" not in normal


# ----------------------------------------------------------------------
# numeric functions against the symbolic result

def _x_value(fam, rng):
    """A point x inside the support (dict variable -> Rational/Integer)."""
    from symgeo.support import Box, Compositions, FiniteValues, IntegerRange, Simplex
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
    src, emitted, skipped = N.module_parts(families["normal"], ["fisher", "entropy"]
                                           if N.available(families["normal"], "entropy")
                                           else ["fisher"], skip_failures=True,
                                           derived={"entropy": err})
    if "entropy" in N.QUANTITIES and N.available(families["normal"], "entropy"):
        assert skipped == [("entropy", "no closed form for testing")]
        assert "Not derived (left out):" in src and "def entropy" not in src
    assert emitted[0] == "fisher"


def test_rank3_entries():
    a, b = sp.symbols("a b")
    entries, shape = N._entries(3, sp.Array([[[a, 0], [0, b]], [[1, 2], [3, 4]]]))
    assert shape == (2, 2, 2) and entries[0] == ("..., 0, 0, 0", a) and len(entries) == 8
    entries, shape = N._entries(1, sp.Matrix([a, b]))
    assert shape == (2,) and entries[1] == ("..., 1", b)


# ----------------------------------------------------------------------
# LaTeX

def test_printer_notation():
    x, a, b = sp.symbols("x a b", positive=True)
    assert latex(sp.polygamma(1, x)) == r"\psi^{(1)}\left(x\right)"
    assert latex(sp.digamma(x)) == r"\psi\left(x\right)"
    assert latex(sp.beta(a, b)) == r"\mathrm{B}\left(a, b\right)"
    assert latex(sp.besseli(0, x)) == r"I_{0}\left(x\right)"
    assert latex(sp.EulerGamma) == r"\gamma_{\mathrm{E}}"
    assert latex(sp.Symbol("gamma")) == r"\gamma"
    assert latex(sp.Symbol("pi")) == r"\mathit{pi}" and latex(sp.pi) == r"\pi"
    assert latex(sp.Symbol("Gamma")) == r"\mathit{Gamma}"
    assert latex(sp.Symbol("pi_q")) == r"\mathit{pi}_{q}"
    m = latex(sp.Matrix([[1, x], [x, 2]]))
    assert m.startswith(r"\begin{bmatrix}") and r"\left[" not in m
    weird = latex(sp.Symbol(r"a\input{x}^^5c%"))
    assert weird.startswith(r"\mbox{\texttt{") and r"\input" not in weird and "^^" not in weird


def test_escape_tex():
    payload = r"\input{/etc/passwd} \write18{rm} ^^5c % & # $ _ {} ~ ^ \ é α" + "\x00\n"
    out = escape_tex(payload)
    assert r"\input" not in out and r"\write" not in out and "^^" not in out
    for ch in "%&#$_{}":
        assert out.count("\\" + ch) >= payload.count(ch) - (1 if ch in "{}" else 0)
    assert "é" in out and "[U+03B1]" in out and "\x00" not in out


def test_repr_latex(families):
    fam = families["normal"]
    assert fam._repr_latex_().startswith("$")
    e = fam.expectation(fam.score()[0])
    assert e._repr_latex_().startswith("$")
    assert "bmatrix" in fam.fisher_result()._repr_latex_()


INJECT = r'''
name = "inject"
title = "Evil \\input{/etc/passwd} \\write18{touch pwned} ^^5c ~ % & # $ _ {}"
description = "\\def\\x{y} \\csname end\\endcsname ^^5cinput"
references = ["\\include{/etc/hostname}"]
variables = ["x"]
support = { kind = "real" }
log_density = "-(x - pi_)**2/2 - log(2*pi)/2"

[[coordinates]]
name = "pi_"
domain = "real"
meaning = "\\immediate\\write18{ls} $x$ ^^5c"
'''


def _tex_available():
    if shutil.which("pdflatex"):
        return True
    if os.environ.get("SYMGEO_REQUIRE_TEX") == "1":
        pytest.fail("SYMGEO_REQUIRE_TEX=1 but pdflatex is not installed")
    pytest.skip("pdflatex is not installed (install texlive-latex-base; .ci/run does)")


def _compile(tex_path):
    env = {**os.environ, "openin_any": "p", "openout_any": "p"}
    out = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode",
                          "-halt-on-error", tex_path.name], cwd=tex_path.parent, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:]
    return tex_path.with_suffix(".pdf")


def test_injection_is_escaped_and_compiles(tmp_path):
    f = tmp_path / "inject.toml"
    f.write_text(INJECT)
    try:
        fam = symgeo.load_family(f)
    except symgeo.errors.SymgeoError as exc:  # pragma: no cover - declaration refused
        pytest.fail(f"injection family refused: {exc}")
    text = render_document([family_context(fam, sections={})])
    for bad in (r"\input{", r"\write18", "^^5c", r"\include{", r"\def\x", r"\csname",
                r"\immediate", r"\endcsname"):
        assert bad not in text, bad
    assert r"\textbackslash{}input\{/etc/passwd\}" in text
    _tex_available()
    (tmp_path / "inject.tex").write_text(text)
    assert _compile(tmp_path / "inject.tex").stat().st_size > 1000
    assert not (tmp_path / "pwned").exists()


def test_catalog_documents_compile_and_render(tmp_path, families):
    """All family bodies in one catalog document (core sections), one PDF page to PNG."""
    _tex_available()
    contexts = [family_context(families[n], sections={}) for n in NAMES]
    (tmp_path / "catalog.tex").write_text(render_document(contexts, catalog=True))
    pdf = _compile(tmp_path / "catalog.tex")
    assert pdf.stat().st_size > 10000
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf),
                        str(tmp_path / "page")], check=True, timeout=60)
        png = sorted(tmp_path.glob("page*.png"))
        assert png and png[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png[0].stat().st_size > 1000
    elif os.environ.get("SYMGEO_REQUIRE_TEX") == "1":
        pytest.fail("pdftoppm missing (install poppler-utils)")


def test_generated_documents_compile(tmp_path):
    """Every committed generated/latex/*.tex compiles (with its optional sections)."""
    docs = sorted((REPO / "generated" / "latex").glob("*.tex"))
    if not docs:
        pytest.skip("generated/ not built yet (run symgeo build)")
    _tex_available()
    for doc in docs:
        shutil.copy(doc, tmp_path / doc.name)
        _compile(tmp_path / doc.name)


# ----------------------------------------------------------------------
# build and CLI

def _cli_build(out, names=()):
    """``symgeo build`` as a user runs it (the CLI fixes PYTHONHASHSEED for the build)."""
    argv = [sys.executable, "-m", "symgeo", "build", "--out", str(out)]
    for n in names:
        argv += ["--only", n]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    res = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr
    return sorted(str(p.relative_to(out)) for p in Path(out).rglob("*") if p.is_file())


def test_build_is_deterministic(tmp_path):
    a = _cli_build(tmp_path / "a", ["normal", "poisson"])
    b = _cli_build(tmp_path / "b", ["normal", "poisson"])
    assert a == b and "numpy/normal.py" in a and "latex/catalog.tex" in a
    for rel in a:
        ta = (tmp_path / "a" / rel).read_bytes()
        assert ta == (tmp_path / "b" / rel).read_bytes(), rel
        assert str(tmp_path).encode() not in ta
    index = (tmp_path / "a" / "README.md").read_text()
    assert "| family |" in index and "normal" in index


def test_generated_tree_is_up_to_date(tmp_path):
    """generated/ against a fresh build: normal and poisson here; the whole tree when
    SYMGEO_CHECK_GENERATED=1 (.ci/run).  Run ``symgeo build`` after changing quantities."""
    gen = REPO / "generated"
    if not (gen / "README.md").exists():
        pytest.skip("generated/ not built yet (run symgeo build)")
    full = os.environ.get("SYMGEO_CHECK_GENERATED") == "1"
    rels = _cli_build(tmp_path, () if full else ("normal", "poisson"))
    if not full:
        rels = [r for r in rels if Path(r).stem in ("normal", "poisson")]
    stale = [r for r in rels if not (gen / r).exists() or
             (tmp_path / r).read_bytes() != (gen / r).read_bytes()]
    if full:
        stale += sorted(str(p.relative_to(gen)) for p in gen.rglob("*")
                        if p.is_file() and str(p.relative_to(gen)) not in rels)
    assert not stale, f"generated/ is stale ({', '.join(stale)}): run 'symgeo build'"


def test_cli_latex_and_errors(tmp_path, capsys):
    from symgeo.cli import main
    out = tmp_path / "normal.tex"
    assert main(["latex", "normal", "-o", str(out)]) == 0
    assert r"\begin{document}" in out.read_text()
    assert main(["latex", "no_such_family"]) == 2
    assert "symgeo: error" in capsys.readouterr().err


def test_default_out(tmp_path, monkeypatch):
    from symgeo import build as B
    monkeypatch.chdir(REPO)
    assert B.default_out() == Path("generated")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(B, "__file__", str(tmp_path / "site" / "symgeo" / "build.py"))
    with pytest.raises(symgeo.errors.SymgeoError, match="--out"):
        B.default_out()
