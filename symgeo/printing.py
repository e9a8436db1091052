"""LaTeX of expressions in the notation of the field, through sympy's printer system.

``SymgeoLatexPrinter`` prints psi, psi^{(k)}, I_nu, B(a, b), Gamma and
log Gamma, matrices as ``bmatrix`` (never wrapped in a second pair of
brackets), and Euler's constant as gamma_E so that a coordinate called
``gamma`` (the Cauchy scale) cannot be confused with it.  Symbol names are
escaped: a name is always an identifier, and anything else that reaches TeX
goes through :func:`escape_tex`.

This module sits at the bottom of the package (it imports only sympy), so
every result object (``Expectation``, ``FisherResult``, ``Divergence``, the
exponential-family structure) can display itself in Jupyter; whole documents
are laid out by :mod:`symgeo.emit.latex`.
"""

from __future__ import annotations

import re
import unicodedata

import sympy as sp
from sympy.printing.conventions import split_super_sub
from sympy.printing.latex import LatexPrinter

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                "#": r"\#", "^": r"\textasciicircum{}", "_": r"\_", "%": r"\%",
                "~": r"\textasciitilde{}"}


_TEXT_UNICODE = {"\u2013": "--", "\u2014": "---", "\u2018": "`", "\u2019": "'",
                 "\u201c": "``", "\u201d": "''", "\u2026": "...", "\u2212": "-"}


def _escape_char(ch):
    if ch in _TEX_SPECIAL:
        return _TEX_SPECIAL[ch]
    if ch in "\n\t\r":
        return " "
    if " " <= ch <= "~":
        return ch
    if ch in _TEXT_UNICODE:
        return _TEXT_UNICODE[ch]
    if "\u00a0" <= ch <= "\u00ff" and unicodedata.category(ch)[0] in "LN":
        return ch  # Latin-1 letters: inputenc/T1 typeset them
    if unicodedata.category(ch)[0] == "C":
        return ""  # control characters (and ^^ tricks) never reach TeX
    return f"[U+{ord(ch):04X}]"


def escape_tex(text):
    """Escape text from a family file for TeX (no macro can be injected).

    The ten special characters become their text commands, control characters
    are dropped, characters pdflatex cannot typeset become ``[U+XXXX]``.
    """
    return "".join(_escape_char(ch) for ch in str(text))


class TeX(str):
    """A string that is already TeX (printer output): templates print it unescaped.

    Any string operation gives a plain ``str`` again, which a template escapes.
    """


class SymgeoLatexPrinter(LatexPrinter):
    def __init__(self, settings=None):
        super().__init__({"mat_delim": "", "mat_str": "bmatrix", **(settings or {})})

    def _print(self, expr, **kwargs):
        if expr is sp.EulerGamma:  # its own _latex method would print a bare \gamma
            return self._print_EulerGamma(expr)
        return super()._print(expr, **kwargs)

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

    #: names whose plain rendering is a constant or a function of the notation
    #: (pi, Gamma, psi, E, e, I, B, H, D): a coordinate so called prints upright-italic
    #: as \mathit{name}, so \pi and \Gamma, \psi, \operatorname{E} keep one meaning.
    CLASHING = frozenset({"pi", "Gamma", "psi", "E", "e", "I", "B", "H", "D", "KL"})

    def _print_Symbol(self, expr, style="plain"):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", expr.name):
            return r"\mbox{\texttt{" + escape_tex(expr.name) + "}}"
        base, sups, subs = split_super_sub(expr.name)
        if base in self.CLASHING:
            token = "Zqclashqz"
            tex = super()._print_Symbol(sp.Symbol(expr.name.replace(base, token, 1)), style)
            return tex.replace(token, r"\mathit{" + base + "}")
        return super()._print_Symbol(expr, style)

    def _print_Expectation(self, expr):  # pragma: no cover - sympy.stats objects
        return rf"\operatorname{{E}}\left[{self._print(expr.args[0])}\right]"

    def _print_gamma(self, expr, exp=None):
        tex = rf"\Gamma\left({self._print(expr.args[0])}\right)"
        return rf"{tex}^{{{exp}}}" if exp else tex


def latex(expr, **settings):
    """LaTeX of a sympy expression or Matrix in symgeo's notation."""
    return SymgeoLatexPrinter(settings).doprint(expr)


def family_latex(family):
    """Short display of a family (Jupyter ``_repr_latex_``)."""
    coords = ", ".join(latex(c) for c in family.coordinates)
    return (rf"$\log p({', '.join(latex(v) for v in family.variables)} \mid {coords}) = "
            rf"{latex(family.log_density)}$")


def expectation_latex(e):
    """Jupyter display of an :class:`~symgeo.expectation.Expectation` (value and route)."""
    return (rf"$\displaystyle {latex(e.value)}$ \quad (route: {escape_tex(e.route)})")


def fisher_result_latex(res):
    """Jupyter display of a :class:`~symgeo.fisher.FisherResult`."""
    return rf"$\displaystyle I = {latex(res.matrix)}$ \quad (routes: {escape_tex(res.route_summary)})"

