"""LaTeX in the notation of the field, through sympy's printer system.

``SymgeoLatexPrinter`` prints psi, psi^{(k)}, I_nu, B(a, b), Gamma and
log Gamma, matrices as ``bmatrix`` (never wrapped in a second pair of
brackets), and Euler's constant as gamma_E so that a coordinate called
``gamma`` (the Cauchy scale) cannot be confused with it.  Symbol names are
escaped: a name is always an identifier, and anything else that reaches TeX
goes through :func:`escape_tex`.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                "#": r"\#", "^": r"\textasciicircum{}", "_": r"\_", "%": r"\%",
                "~": r"\textasciitilde{}"}


def escape_tex(text):
    """Escape text from a family file for TeX (no macro can be injected)."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


class SymgeoLatexPrinter(LatexPrinter):
    def __init__(self, settings=None):
        super().__init__({"mat_delim": "", "mat_str": "bmatrix", **(settings or {})})

    def _print_EulerGamma(self, expr):
        return r"\gamma_{\mathrm{E}}"

    def _print_polygamma(self, expr, exp=None):
        n, z = expr.args
        head = r"\psi" if n == 0 else rf"\psi^{{({self._print(n)})}}"
        tex = rf"{head}\left({self._print(z)}\right)"
        return rf"{tex}^{{{exp}}}" if exp else tex

    def _print_digamma(self, expr, exp=None):
        tex = rf"\psi\left({self._print(expr.args[0])}\right)"
        return rf"{tex}^{{{exp}}}" if exp else tex

    def _print_loggamma(self, expr, exp=None):
        tex = rf"\log\Gamma\left({self._print(expr.args[0])}\right)"
        return rf"\left({tex}\right)^{{{exp}}}" if exp else tex

    def _print_besseli(self, expr, exp=None):
        nu, z = expr.args
        tex = rf"I_{{{self._print(nu)}}}\left({self._print(z)}\right)"
        return rf"{tex}^{{{exp}}}" if exp else tex

    def _print_beta(self, expr, exp=None):
        args = ", ".join(self._print(a) for a in expr.args)
        tex = rf"\mathrm{{B}}\left({args}\right)"
        return rf"{tex}^{{{exp}}}" if exp else tex

    def _print_Symbol(self, expr, style="plain"):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", expr.name):
            return r"\mathtt{" + escape_tex(expr.name) + "}"
        return super()._print_Symbol(expr, style)


def latex(expr, **settings):
    """LaTeX of a sympy expression or Matrix in symgeo's notation."""
    return SymgeoLatexPrinter(settings).doprint(expr)


def family_latex(family):
    """Short display of a family (Jupyter ``_repr_latex_``)."""
    coords = ", ".join(latex(c) for c in family.coordinates)
    return (rf"$\log p({', '.join(latex(v) for v in family.variables)} \mid {coords}) = "
            rf"{latex(family.log_density)}$")
