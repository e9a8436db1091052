"""Emitters: LaTeX documents and the build (generated/ tree)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import symgeo
from symgeo.codegen import numpy as N
from symgeo.emit.latex import escape_tex, family_context, latex, render_document

NAMES = symgeo.family_names()
REPO = Path(__file__).resolve().parents[2]


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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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
    from symgeo.emit import build as B
    monkeypatch.chdir(REPO)
    assert B.default_out() == Path("generated")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(B, "__file__", str(tmp_path / "site" / "symgeo" / "emit" / "build.py"))
    with pytest.raises(symgeo.errors.SymgeoError, match="--out"):
        B.default_out()
