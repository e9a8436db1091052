"""Strings handed to the Python API go through the safe parser: no code runs (issue 11)."""

import os

import pytest
import sympy as sp

import symgeo

BAD = "__import__('os').system('touch pwned') or 1/3"


def _calls(fam):
    return {
        "alpha_divergence": lambda: fam.alpha_divergence(BAD),
        "expectation": lambda: fam.expectation(BAD),
        "expectation_numeric": lambda: fam.expectation_numeric(BAD, {"mu": 0, "sigma": 1}),
        "connection": lambda: fam.connection(BAD),
        "christoffel": lambda: fam.christoffel(BAD),
        "scalar_curvature": lambda: fam.scalar_curvature(BAD),
        "riemann": lambda: fam.riemann(BAD),
        "log_affinity": lambda: fam.log_affinity(BAD),
        "reparameterize": lambda: fam.reparameterize(["m", "s"], {"mu": "m", "sigma": BAD}),
        "exp_map": lambda: fam.exp_map((0, 1), (BAD, 1)),
        "geodesic_path": lambda: fam.geodesic_path((0, 1), (1, 1), alpha=BAD),
        "fisher_rao_distance": lambda: fam.fisher_rao_distance((0, 1), (BAD, 1)),
    }


@pytest.mark.parametrize("method", sorted(_calls(None)))
def test_code_in_a_string_never_runs(method, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fam = symgeo.get_family("normal")
    with pytest.raises(symgeo.FormulaError, match="double underscores"):
        _calls(fam)[method]()
    assert not os.path.exists(tmp_path / "pwned")


def test_strings_are_exact_formulas():
    fam = symgeo.get_family("normal")
    assert fam.alpha_divergence("1/3", [0, 1], [1, 2]) == fam.alpha_divergence(
        sp.Rational(1, 3), [0, 1], [1, 2])
    assert fam.alpha_divergence(0.5, [0, 1], [1, 1]) == fam.alpha_divergence(
        sp.Rational(1, 2), [0, 1], [1, 1])
    assert fam.expectation("x**2").value == fam.expectation(fam.variables[0] ** 2).value
    child = fam.reparameterize(["m", "v"], {"mu": "m", "sigma": "sqrt(v)"})
    v = child.symbol("v")
    assert sp.simplify(child.fisher()[1, 1] - 1 / (2 * v ** 2)) == 0


def test_no_code_runs_from_text_anywhere_in_the_package():
    """sympify on text runs it; the package converts with strict=True (numbers and sympy
    objects only) and reads text with the whitelist parser.  exec runs only code symgeo
    printed itself from sympy objects (the generated module, the geodesic core), reviewed here."""
    import re
    from pathlib import Path

    allowed_exec = {("codegen/numpy.py", "exec(compile(src"),
                    # the geodesic core: printed from the Christoffel symbols by sympy's printer
                    ("geometry/geodesic_numeric.py", "exec(compile(source")}
    root = Path(symgeo.__file__).parent
    offences = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"sympify\(", text):
            depth, i = 1, m.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            if "strict=True" not in text[m.end():i]:
                offences.append(f"{rel}: sympify without strict=True")
        for bad in ("parse_expr(", "sp.S(", "sympy.S(", "eval(", "exec(", "__import__("):
            for m in re.finditer(re.escape(bad), text):
                line = text[m.start():text.find("\n", m.start())]
                if bad == "eval(" and (text[m.start() - 1] in "_." or
                                       text[m.start() - 4:m.start()] == "def "):
                    continue  # sympy's Function.eval, not the builtin
                if not any(rel == f and line.startswith(tag) for f, tag in allowed_exec):
                    offences.append(f"{rel}: {line.strip()[:60]}")
    assert offences == []
