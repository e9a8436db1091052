"""Every symbol name reaches TeX through the printer, as TeX that compiles.

Greek (words and Unicode letters) become TeX commands, other Unicode letters
\\text{...}, and a name sympy decorates (``xprm`` is x', ``xbar`` is \\bar{x})
is one brace group closed by an empty atom, so that ``xprm**2`` and
``xprm_q`` compose (they gave "Double superscript"; TeX hoists a lone accent
out of its group, so ``{\\bar{x}'}^{2}`` fails too).  The documents of
families with such coordinate names compile with pdflatex.
"""

import os
import re
import shutil
import subprocess

import pytest
import sympy as sp
from sympy.core.alphabets import greeks
from sympy.printing.latex import other_symbols, tex_greek_dictionary

import symgeo
from symgeo.emit.latex import family_context, render_document
from symgeo.printing import UNICODE_TEX, latex

T = sp.Symbol("t")


@pytest.mark.parametrize("name, tex", [
    ("Ω", r"\Omega"), ("σ1", r"\sigma_{1}"), ("ϕ", r"\phi"), ("φ", r"\varphi"),
    ("µ", r"\mu"), ("Ωa", r"{\Omega a}"), ("aΩ", r"{a\Omega}"), ("é", r"\text{é}"),
    ("中", r"\text{[U+4E2D]}"), ("𝑥", "x"), ("xprm", "{x'{}}"), ("xprmprm", "{x''{}}"),
    ("xbar", r"{\bar{x}{}}"), ("alphahat", r"{\hat{\alpha}{}}"), ("Ωbar", r"{\bar{\Omega}{}}"),
    ("xscr", r"{\mathcal{x}{}}"), ("OMICRON", "o"), ("xprm_q", "{x'{}}_{q}"),
    ("a b", r"\mbox{\texttt{a b}}"), ("a{b}", r"\mbox{\texttt{a\{b\}}}"),
])
def test_names(name, tex):
    assert latex(sp.Symbol(name)) == tex


def test_decorated_names_compose_with_scripts():
    x = sp.Symbol("xprm")
    assert latex(x ** 2) == "{x'{}}^{2}"
    assert latex(sp.Symbol("xprm_q") ** 2) == "{x'{}}_{q}^{2}"
    f = sp.Function("xprm")(T)
    assert latex(f.diff(T, 2)) == r"\frac{d^{2}}{d t^{2}} {x'{}}{\left(t \right)}"
    assert latex(sp.Function("Ω")(T) ** 2) == r"\Omega^{2}{\left(t \right)}"


def test_catalog_names_print_as_sympy_prints_them():
    """Plain ASCII names are unchanged (generated/ does not move)."""
    for name in ["mu", "sigma", "alpha2", "theta1", "lam", "x0", "xm", "s_1_12", "mu_q", "a1_p",
                 "gamma", "Sigma", "kappa", "hbar", "x__2", "a__1_b"]:
        assert latex(sp.Symbol(name)) == sp.latex(sp.Symbol(name)), name
        assert latex(sp.Function(name)(T).diff(T)) == sp.latex(sp.Function(name)(T).diff(T))
    assert latex(sp.Symbol("pi_q")) == r"\mathit{pi}_{q}"  # clashes with the constant pi
    assert latex(sp.Function("pi")(T)) == r"\mathit{pi}{\left(t \right)}"


# ----------------------------------------------------------------------
# pdflatex

def _pdflatex():
    if shutil.which("pdflatex"):
        return
    if os.environ.get("SYMGEO_REQUIRE_TEX") == "1":
        pytest.fail("SYMGEO_REQUIRE_TEX=1 but pdflatex is not installed")
    pytest.skip("pdflatex is not installed (install texlive-latex-base; .ci/run does)")


def _compile(tmp_path, tex):
    """pdflatex (no shell escape) on ``tex``; the log must show no TeX error."""
    (tmp_path / "doc.tex").write_text(tex, encoding="utf-8")
    env = {**os.environ, "openin_any": "p", "openout_any": "p"}
    out = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode",
                          "-halt-on-error", "doc.tex"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    log = (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
    assert out.returncode == 0, out.stdout[-2000:]
    for bad in ("Double superscript", "Double subscript", "Undefined control sequence",
                "Missing character", "not set up for use with LaTeX", "invalid in math mode"):
        assert bad not in log, bad


def _tricky_names():
    names = list(greeks) + [g.capitalize() for g in greeks] + [g.upper() for g in greeks]
    names += list(tex_greek_dictionary) + sorted(other_symbols) + sorted(UNICODE_TEX)
    names += ["x" + m for m in ("mathring", "ddddot", "dddot", "ddot", "dot", "check", "breve",
                                "acute", "grave", "tilde", "hat", "bar", "vec", "prime", "prm",
                                "bold", "bm", "cal", "scr", "frak", "norm", "avg", "abs", "mag")]
    names += ["xprmprm", "xbarprm", "xprmbar", "alphahatdotprime", "Ωbar", "σprm", "xprm_q",
              "xbar_q", "xprm__2", "x__prm", "xbar__2", "xbar__a_b", "xhat__prm", "x_", "x__",
              "a_1_", "a___b", "Ωa", "aΩb", "αβ",
              "é", "Æsir", "ñ_q", "中", "x١", "ｘ", "𝑥", "x̄", "a＿b", "ﬁx", "Ω_é", "E", "pi_q"]
    return names


def test_tricky_names_compile(tmp_path):
    """Every name as a symbol, squared, with a subscript, and as a function of t."""
    _pdflatex()
    rows = []
    for name in _tricky_names():
        s, f = sp.Symbol(name), sp.Function(name)(T)
        q = sp.Symbol(name + "_q")
        exprs = [s, s ** 2, q ** 2, sp.sqrt(s) / q, f ** 2, f.diff(T, 2), sp.Derivative(s ** 3, s)]
        rows.append(r"\[ " + r" \quad ".join(latex(e) for e in exprs) + r" \]")
    _compile(tmp_path, "\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n"
                       "\\usepackage[T1]{fontenc}\n\\usepackage{lmodern}\n"
                       "\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + "\n".join(rows) +
             "\n\\end{document}\n")


FAMILY = '''
name = "{name}"
variables = ["x"]
support = {{ kind = "real" }}
log_density = "-(x - {m})**2/(2*{s}**2) - log({s}) - log(2*pi)/2"

[[coordinates]]
name = "{m}"
domain = "real"

[[coordinates]]
name = "{s}"
domain = "positive"
'''


def test_family_documents_with_unicode_and_decorated_coordinates_compile(tmp_path):
    """Coordinates Ω (it reached TeX raw in the geodesic equations) and xprm (x'^2 was a
    double superscript), xbar and σ1: the document, with every section, compiles."""
    _pdflatex()
    contexts = []
    for name, m, s in [("omega_prime", "Ω", "xprm"), ("bar_sigma", "xbar", "σ1")]:
        path = tmp_path / f"{name}.toml"
        path.write_text(FAMILY.format(name=name, m=m, s=s), encoding="utf-8")
        contexts.append(family_context(symgeo.load_family(path)))
    text = render_document(contexts)
    assert "Ω" not in text and "σ" not in text
    geodesic = text[text.index("Geodesic equations"):]
    assert r"\frac{d^{2}}{d t^{2}} \Omega{\left(t \right)}" in geodesic
    assert re.search(r"\{x'\{\}\}_\{[pq]\}\^\{2\}", text)  # the KL in p- and q-coordinates
    _compile(tmp_path, text)
