"""LaTeX of expressions in the notation of the field, through sympy's printer system.

``SymgeoLatexPrinter`` prints psi, psi^{(k)}, I_nu, B(a, b), Gamma and
log Gamma, matrices as ``bmatrix`` (never wrapped in a second pair of
brackets), and Euler's constant as gamma_E so that a coordinate called
``gamma`` (the Cauchy scale) cannot be confused with it.  Every symbol and
function name reaches TeX through :func:`tex_name`, valid TeX for any
identifier: Greek words and Unicode Greek letters become ``\\alpha`` ...,
other Unicode letters ``\\text{...}``, a decorated name (``xbar``, ``xprm``,
sympy's convention) one brace group so that sub- and superscripts compose;
anything else that reaches TeX goes through :func:`escape_tex`.

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
from sympy.printing.latex import (
    LatexPrinter,
    greek_letters_set,
    other_symbols,
    tex_greek_dictionary,
)

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


#: Unicode letters -> TeX math (Greek as unicode-math reads it: ε is \varepsilon, ϵ \epsilon,
#: φ \varphi, ϕ \phi; capitals that look Latin are upright, as sympy prints "Alpha")
UNICODE_TEX = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon",
    "ζ": r"\zeta", "η": r"\eta", "θ": r"\theta", "ι": r"\iota", "κ": r"\kappa",
    "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi", "ο": "o", "π": r"\pi",
    "ρ": r"\rho", "ς": r"\varsigma", "σ": r"\sigma", "τ": r"\tau", "υ": r"\upsilon",
    "φ": r"\varphi", "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega",
    "Α": r"\mathrm{A}", "Β": r"\mathrm{B}", "Γ": r"\Gamma", "Δ": r"\Delta", "Ε": r"\mathrm{E}",
    "Ζ": r"\mathrm{Z}", "Η": r"\mathrm{H}", "Θ": r"\Theta", "Ι": r"\mathrm{I}",
    "Κ": r"\mathrm{K}", "Λ": r"\Lambda", "Μ": r"\mathrm{M}", "Ν": r"\mathrm{N}", "Ξ": r"\Xi",
    "Ο": r"\mathrm{O}", "Π": r"\Pi", "Ρ": r"\mathrm{P}", "Σ": r"\Sigma", "Τ": r"\mathrm{T}",
    "Υ": r"\Upsilon", "Φ": r"\Phi", "Χ": r"\mathrm{X}", "Ψ": r"\Psi", "Ω": r"\Omega",
    "ϑ": r"\vartheta", "ϕ": r"\phi", "ϖ": r"\varpi", "ϱ": r"\varrho", "ϵ": r"\epsilon",
    "ϰ": r"\varkappa", "ϐ": r"\beta", "ϒ": r"\Upsilon", "ϝ": r"\digamma", "µ": r"\mu",
    "ℓ": r"\ell", "ℏ": r"\hbar", "ℵ": r"\aleph", "ℶ": r"\beth", "ℷ": r"\gimel",
    "ℸ": r"\daleth", "℘": r"\wp", "℧": r"\mho", "ı": r"\imath", "ȷ": r"\jmath", "ð": r"\eth",
}

#: sympy's name modifiers (``xbar`` is \bar{x}), longest first; \mathscr needs mathrsfs,
#: which documents do not load, so ``scr`` is \mathcal; a prime is x' (one group with its base)
_MODIFIERS = {
    "mathring": r"\mathring{%s}", "ddddot": r"\ddddot{%s}", "dddot": r"\dddot{%s}",
    "ddot": r"\ddot{%s}", "dot": r"\dot{%s}", "check": r"\check{%s}", "breve": r"\breve{%s}",
    "acute": r"\acute{%s}", "grave": r"\grave{%s}", "tilde": r"\tilde{%s}", "hat": r"\hat{%s}",
    "bar": r"\bar{%s}", "vec": r"\vec{%s}", "prime": "%s'", "prm": "%s'",
    "bold": r"\boldsymbol{%s}", "bm": r"\boldsymbol{%s}", "cal": r"\mathcal{%s}",
    "scr": r"\mathcal{%s}", "frak": r"\mathfrak{%s}", "norm": r"\left\|{%s}\right\|",
    "avg": r"\left\langle{%s}\right\rangle", "abs": r"\left|{%s}\right|",
    "mag": r"\left|{%s}\right|",
}
_MODIFIER_KEYS = sorted(_MODIFIERS, key=len, reverse=True)


def _is_name(name):
    """An identifier not starting with '_' (what a family may declare)."""
    return isinstance(name, str) and name.isidentifier() and not name.startswith("_")


def _char_tex(ch):
    """TeX math of one character of a name, or None when it must be set as text."""
    if ch.isascii():
        return ch
    if ch in UNICODE_TEX:
        return UNICODE_TEX[ch]
    compat = unicodedata.normalize("NFKC", ch)  # 𝑥 and ｘ are x, as Python reads them
    if compat != ch and all((c.isascii() and c.isalnum()) or c in UNICODE_TEX for c in compat):
        return "".join(_char_tex(c) for c in compat)
    return None


def _letters(text):
    """TeX math of a run of letters and digits with Unicode among them."""
    pieces, run = [], []
    for ch in text:
        tex = _char_tex(ch)
        if tex is None:
            run.append(ch)
            continue
        if run:
            pieces.append(r"\text{" + escape_tex("".join(run)) + "}")
            run = []
        pieces.append(tex)
    if run:
        pieces.append(r"\text{" + escape_tex("".join(run)) + "}")
    out = ""
    for piece in pieces:
        if re.search(r"\\[A-Za-z]+$", out) and piece[:1].isalpha():
            out += " "  # \Omega a, never the control word \Omegaa
        out += piece
    return out if len(pieces) == 1 else "{" + out + "}"  # one group: {\Omega a}^{2}


def _translate(piece):
    """(TeX, decorated) of one piece of a name: the base, or one sub- or superscript.

    sympy's conventions (Greek words, ``hbar``, modifiers such as ``bar`` and
    ``prm``), except that every output is TeX the documents can typeset.
    """
    tex = tex_greek_dictionary.get(piece)
    if tex:
        return tex, False
    low = piece.lower()
    if low in greek_letters_set:
        return tex_greek_dictionary.get(low, "\\" + low), False  # OMICRON is o, not \omicron
    if piece in other_symbols:
        return "\\" + piece, False
    for key in _MODIFIER_KEYS:
        if low.endswith(key) and len(piece) > len(key):
            inner, _ = _translate(piece[:-len(key)])
            return _MODIFIERS[key] % inner, True
    return (piece if piece.isascii() else _letters(piece)), False


def tex_name(name, style="plain", clashing=frozenset()):
    """TeX (math mode) of a symbol or function name: valid TeX for any identifier.

    ``x_q`` is x with subscript q, ``alpha2`` is alpha_2, ``Ω`` is \\Omega, ``é``
    \\text{é}; a decorated base (``xbar``, ``xprm``) is one brace group, so
    ``xprm**2`` is {x'{}}^{2}, never a double superscript.  A base in ``clashing``
    prints as \\mathit{base}.  A name that is not an identifier is shown
    verbatim in typewriter type, escaped.
    """
    if not _is_name(name):
        return r"\mbox{\texttt{" + escape_tex(name) + "}}"
    base, sups, subs = split_super_sub(name)
    if base in clashing:
        tex = r"\mathit{" + base + "}"
    else:
        tex, decorated = _translate(base)
        if decorated:
            # one group, closed by an empty atom: TeX would hoist a lone accent out of its
            # group, scripts and all ({\bar{x}'}^{2} is a double superscript)
            tex = "{" + tex + "{}}"
    if style == "bold":
        tex = r"\mathbf{" + tex + "}"
    if sups:
        tex += "^{" + " ".join(_translate(s)[0] for s in sups) + "}"
    if subs:
        tex += "_{" + " ".join(_translate(s)[0] for s in subs) + "}"
    return tex


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
        name = self._settings["symbol_names"].get(expr)
        if name is not None:
            return name
        return tex_name(expr.name, style, self.CLASHING)

    def _deal_with_super_sub(self, string, style="plain"):
        # every other name (functions, classes) reaches TeX through tex_name too
        return tex_name(string, style)

    def _hprint_Function(self, func):
        head = tex_name(func, clashing=self.CLASHING)
        if head.startswith(("{", r"\mathit")):  # decorated (xbar, xprm) or clashing: a symbol
            return head
        return super()._hprint_Function(func)

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

