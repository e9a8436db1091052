"""LaTeX a reader can use (issue 12): every formula fits the page, no ASCII mathematics.

* The printer lays a display out to a width budget (:func:`symgeo.printing.layout`):
  sums break at top-level + and -, a term still too wide has parts named and
  defined after it; the same expression always gives the same rows.
* The documents ``symgeo build`` writes (every family and ``catalog.tex``)
  compile with pdflatex with no Overfull \\hbox over 1 pt (slow: ~30 pdflatex runs on the
  committed generated/latex, which CI checks is what the build writes).
* No ASCII mathematics in the rendered .tex (supports, notes, routes, the
  exponential-family section).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy as sp

import symgeo
from symgeo.emit import build as B
from symgeo.emit.latex import display, family_context, render_document, support_tex
from symgeo.printing import DISPLAY_WIDTH, escape_tex, latex, layout, tex_width

# ----------------------------------------------------------------------
# the layout


def _long_sum(n=40):
    xs = sp.symbols(f"a1:{n + 1}", positive=True)
    return sum(sp.log(x) * sp.polygamma(1, x + 1) / (x + 2) for x in xs)


def test_long_sum_breaks_at_plus_and_minus():
    d = layout(_long_sum(), r"S")
    assert len(d.rows) > 3 and not d.where
    assert all(tex_width(r) <= DISPLAY_WIDTH for r in d.rows)
    assert all(r.startswith(("+ ", "- ")) for r in d.rows[1:])


def test_wide_term_is_named_and_defined():
    a, alpha = sp.symbols("a alpha", positive=True)
    inner = _long_sum(12)
    expr = 4 / (1 - alpha ** 2) * (1 - sp.exp(inner)) * a
    d = layout(expr, r"D_{\alpha}")
    assert len(d.rows) == 1 and d.where, d
    assert re.search(r"u_\{1\}", d.rows[0])
    assert d.where[0].lhs == "u_{1}"
    for w in [d] + d.where:
        assert all(tex_width(r) <= DISPLAY_WIDTH for r in w.rows)


def test_layout_is_deterministic_and_exact_when_short():
    x = sp.Symbol("x")
    assert layout(x + 1, "y").rows == ["x + 1"]
    e = _long_sum(25)
    a, b = layout(e, "S"), layout(e, "S")
    assert a.rows == b.rows and [w.rows for w in a.where] == [w.rows for w in b.where]


def test_display_environments():
    tex = display("S", _long_sum(), label="eq:s")
    assert tex.startswith(r"\begin{equation}\label{eq:s}") and r"\begin{split}" in tex
    assert display("y", sp.Symbol("x"), numbered=False) == \
        "\\begin{equation*}\ny = x\n\\end{equation*}"


def test_width_estimate_errs_wide():
    """The estimate against pdflatex's own widths (\\settowidth) on catalog formulas."""
    _pdflatex()
    a, b, alpha = sp.symbols("a b alpha", positive=True)
    exprs = [_long_sum(6), sp.Matrix([[sp.polygamma(1, a), -1 / b], [-1 / b, a / b ** 2]]),
             sp.exp(-(alpha / 2 + sp.Rational(1, 2)) * sp.log(sp.beta(a, b))) / (a + b),
             sp.sqrt(a * sp.polygamma(1, a) - 1) / b]
    texs = [latex(e) for e in exprs]
    body = "\n".join(rf"\setbox0\hbox{{$\displaystyle {t}$}}\typeout{{W:{k}:\the\wd0}}"
                     for k, t in enumerate(texs))
    log = _compile_text(Path(os.environ.get("TMPDIR", "/tmp")), body)
    real = {int(k): float(v) / 10 for k, v in re.findall(r"W:(\d+):([\d.]+)pt", log)}
    for k, t in enumerate(texs):
        assert tex_width(t) >= 0.9 * real[k], (t, tex_width(t), real[k])


# ----------------------------------------------------------------------
# no ASCII mathematics

ASCII_MATH = [
    (r"(?<![A-Za-z\\])oo(?![A-Za-z])", "oo for infinity"),
    (r"\\textasciicircum", "a caret in text"),
    (r"E\[s", "E[s s^T] in text"),
    (r"Hessian\]", "E[Hessian]"),
    (r"J\\textasciicircum|grad\\_", "eta = J^-T grad_xi A"),
    (r"A\*\(eta|eta\(xi\)|theta\(xi\)\.", "A*(eta(xi)) in words"),
    (r"T\\_ijk", "T_ijk in text"),
    (r"\\ni ", "theta . T(x) \\ni"),
    (r"\*\*", "a Python power"),
    (r"\\texttt\{[^}]*[<=]", "a formula in typewriter"),
    (r"(?<![\\A-Za-z])(sqrt|log|exp)\(", "a Python function call"),
]


def _family_text(text):
    """What the document says itself: the family file's own words (title,
    description, meanings, references) are escaped text the symgeo author did not write."""
    out = []
    for line in text.splitlines():
        if line.startswith((r"\section{", r"\textbf{Family}")):
            continue
        out.append(line)
    return "\n".join(out)


def assert_no_ascii_math(text, where, fam=None):
    body = _family_text(text)
    if fam is not None:
        for words in [fam.description or ""] + [str(m) for m in (fam.meanings or {}).values()] + \
                [str(r) for r in (fam.references or ())]:
            if words:
                body = body.replace(escape_tex(words), "")
    for pat, what in ASCII_MATH:
        m = re.search(pat, body)
        assert not m, f"{where}: {what}: ...{body[max(0, m.start() - 80):m.end() + 80]}..."


@pytest.mark.parametrize("name", ["gamma", "beta", "normal", "poisson", "laplace", "dirichlet",
                                  "multinomial", "mvnormal2"])
def test_no_ascii_math_in_core_and_exponential_family(families, name):
    fam = families[name]
    sections = {}
    if name not in ("laplace",):
        sections["exponential_family"] = fam.exponential_family()
    text = render_document([family_context(fam, sections)])
    assert_no_ascii_math(text, name, fam)
    if "exponential_family" in sections:
        for must in (r"\theta_{1}(\xi)", r"T_{1}(x)", r"A(\xi)", r"h(x)", r"\nabla_{\theta} A",
                     r"A^{*}(\eta) = \theta \cdot \eta - A(\theta)", r"B_{A}(\theta_q, \theta_p)"):
            assert must in text, must


def test_supports_are_mathematics(families):
    assert support_tex(families["gamma"]) == r"$0 < x < \infty$"
    assert r"\in \{0, 1, \dots\}" in support_tex(families["poisson"])
    assert r"+ \dots +" in support_tex(families["dirichlet"])


# ----------------------------------------------------------------------
# what `symgeo build` writes compiles with no overfull box

def _pdflatex():
    if shutil.which("pdflatex"):
        return
    if os.environ.get("SYMGEO_REQUIRE_TEX") == "1":
        pytest.fail("SYMGEO_REQUIRE_TEX=1 but pdflatex is not installed")
    pytest.skip("pdflatex is not installed (install texlive-latex-base; .ci/run does)")


def _run_pdflatex(path, passes=1):
    """pdflatex (no shell escape); ``passes=2`` as a reader compiles (references, contents)."""
    env = {**os.environ, "openin_any": "p", "openout_any": "p"}
    for _ in range(passes):
        subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", path.name],
                       cwd=path.parent, env=env, capture_output=True, timeout=600, check=False)
    return path.with_suffix(".log").read_text(encoding="utf-8", errors="replace")


def _compile_text(tmp, body):
    path = Path(tmp) / "widths.tex"
    path.write_text("\\documentclass[10pt]{article}\n\\usepackage[T1]{fontenc}\n"
                    "\\usepackage{lmodern}\n\\usepackage{amsmath,amssymb}\n"
                    "\\begin{document}\n" + body + "\n\\end{document}\n", encoding="utf-8")
    return _run_pdflatex(path)


def overfull(log, limit=1.0):
    """The Overfull \\hbox warnings of a pdflatex log wider than ``limit`` pt."""
    return [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide", log)
            if float(w) > limit]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The committed generated/ LaTeX, copied to a temporary dir to compile.

    CI rebuilds generated/ and fails when it differs from the committed tree,
    so these are the documents ``symgeo build`` writes, without a second build
    inside the suite (a build is minutes of the suite's 8).
    """
    out = tmp_path_factory.mktemp("build")
    shutil.copytree(Path(B.__file__).resolve().parents[2] / "generated" / "latex",
                    out / "latex")
    return out


@pytest.mark.slow
def test_built_documents_have_no_overfull_boxes(built):
    """Every family document and catalog.tex: zero Overfull \\hbox over 1 pt, no TeX error."""
    _pdflatex()
    docs = sorted((built / "latex").glob("*.tex"))
    assert len(docs) == len(symgeo.family_names()) + 1
    bad = {}
    for doc in docs:
        log = _run_pdflatex(doc, passes=2)
        assert "\n! " not in log, f"{doc.name}: TeX error"
        assert doc.with_suffix(".pdf").exists(), doc.name
        if over := overfull(log):
            bad[doc.name] = over
    assert not bad, f"Overfull \\hbox over 1 pt: {bad}"


@pytest.mark.slow
def test_built_documents_have_no_ascii_math(built):
    for doc in sorted((built / "latex").glob("*.tex")):
        if doc.stem == "catalog":
            continue
        assert_no_ascii_math(doc.read_text(encoding="utf-8"), doc.name,
                             symgeo.get_family(doc.stem))
    assert r"\tableofcontents" in (built / "latex" / "catalog.tex").read_text()
