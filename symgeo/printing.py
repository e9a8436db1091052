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

import functools
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


@functools.lru_cache(maxsize=4096)
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



# ----------------------------------------------------------------------
# widths and line breaking: every display fits the page

#: widths in em (10 pt Latin Modern, display style) of the commands the printer writes;
#: an estimate that errs on the wide side (checked against pdflatex by the tests)
_CMD_WIDTH = {
    "log": 1.45, "exp": 1.5, "sin": 1.3, "cos": 1.4, "tan": 1.4, "det": 1.4, "max": 1.8,
    "min": 1.7, "cdot": 0.8, "cdots": 1.6, "ldots": 1.6, "dots": 1.6, "times": 1.3,
    ",": 0.17, ";": 0.28, ":": 0.22, "!": -0.17, " ": 0.33, "quad": 1.0, "qquad": 2.0,
    "infty": 1.0, "partial": 0.6, "nabla": 0.85, "sqrt": 0.9, "mid": 0.9, "|": 0.5,
    "in": 1.2, "leq": 1.3, "geq": 1.3, "neq": 1.3, "le": 1.3, "ge": 1.3, "propto": 1.3,
    "equiv": 1.3, "approx": 1.3, "to": 1.5, "ni": 1.2, "prod": 1.3, "sum": 1.5, "int": 0.8,
    "{": 0.5, "}": 0.5, "_": 0.5, "%": 0.8, "&": 0.8, "#": 0.8, "$": 0.5,
    "gamma": 0.55, "Gamma": 0.65, "mathrm": 0.0, "left": 0.0, "right": 0.0,
}
_STYLE_SCALE = (1.0, 1.0, 0.8, 0.65)
_BINARY = {"+": 1.25, "-": 1.25, "=": 1.35, "<": 1.35, ">": 1.35}
_ARG_CMDS = {"mathrm", "mathit", "mathbf", "boldsymbol", "mathcal", "mathfrak", "operatorname",
             "text", "texttt", "mbox", "bar", "hat", "tilde", "dot", "ddot", "dddot", "ddddot",
             "check", "breve", "acute", "grave", "vec", "mathring", "overline", "underline",
             "displaystyle", "textstyle"}


def _group(tex, i):
    """(content, next index) of the brace group or single token starting at ``tex[i]``."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        depth, j = 0, i
        while j < len(tex):
            if tex[j] == "\\":
                j += 2
                continue
            if tex[j] == "{":
                depth += 1
            elif tex[j] == "}":
                depth -= 1
                if depth == 0:
                    return tex[i + 1:j], j + 1
            j += 1
        return tex[i + 1:], len(tex)
    if tex[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
        return m.group(0), i + len(m.group(0))
    return tex[i], i + 1


def _split_top(tex, sep):
    """``tex`` split at ``sep`` outside braces."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(tex):
        c = tex[i]
        if c == "\\" and not tex.startswith(sep, i):
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0 and tex.startswith(sep, i):
            parts.append(tex[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(tex[start:])
    return parts


def tex_width(tex, style=0):
    """Estimated width in em of printer TeX typeset in display style (10 pt Latin Modern).

    A deliberately simple model: letters 0.55 em, binary operators and relations
    with their spaces, ``\\frac`` the wider of its two parts (one size smaller
    inside another fraction), scripts 0.7 of their size, matrices column by
    column.  It errs on the wide side; the documents' tests compile them.
    """
    w, i, n = 0.0, 0, len(tex)
    scale = _STYLE_SCALE[style]
    while i < n:
        c = tex[i]
        if c == " ":
            i += 1
            continue
        if c == "{":
            inner, i = _group(tex, i)
            w += tex_width(inner, style)
            continue
        if c in "^_":
            inner, i = _group(tex, i + 1)
            w += tex_width(inner, 2 if style < 2 else 3)
            continue
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            name = m.group(1)
            i += len(m.group(0))
            if name == "frac":
                num, i = _group(tex, i)
                den, i = _group(tex, i)
                inner = 1 if style == 0 else min(style + 1, 3)
                sub = max(tex_width(num, inner), tex_width(den, inner))
                w += sub + 0.4 * scale
            elif name == "begin":
                env, i = _group(tex, i)
                end = tex.find(r"\end{" + env + "}", i)
                body = tex[i:end if end >= 0 else n]
                i = end + len(env) + 6 if end >= 0 else n
                rows = [_split_top(r, "&") for r in _split_top(body, r"\\")]
                cols = max((len(r) for r in rows), default=0)
                widths = [max((tex_width(r[k], max(style, 1)) for r in rows if len(r) > k), default=0)
                          for k in range(cols)]
                w += sum(widths) + scale * (1.0 * max(cols - 1, 0) + 1.2)
            elif name in ("left", "right"):
                d = tex[i] if i < n else ""
                if d == "\\":
                    m2 = re.match(r"\\([A-Za-z]+|.)", tex[i:])
                    i += len(m2.group(0))
                else:
                    i += 1
                w += 0 if d == "." else 0.45 * scale
            elif name in ("text", "texttt", "mbox", "mathrm", "operatorname"):
                inner, i = _group(tex, i)
                if name in ("text", "texttt", "mbox"):
                    w += 0.55 * scale * len(re.sub(r"\\[A-Za-z]+|[{}\\]", "x", inner))
                else:
                    w += tex_width(inner, style) * 1.05
            elif name in _ARG_CMDS:
                continue  # the argument group is measured next
            elif name in _CMD_WIDTH:
                w += _CMD_WIDTH[name] * scale
            else:
                w += 0.65 * scale  # Greek letters and other symbols
            continue
        if c in _BINARY:
            w += (_BINARY[c] if style < 2 else 0.9 if scale > 0.6 else 0.6) * scale
        elif c in "()[]|":
            w += 0.42 * scale
        elif c in ",;":
            w += 0.45 * scale
        elif c in ".'!":
            w += 0.3 * scale
        elif c.isupper():
            w += 0.72 * scale
        else:
            w += 0.55 * scale
        i += 1
    return w


DISPLAY_WIDTH = 44.0
"""Em a numbered display may fill (the text block is about 50 em; room for the number)."""

ABBREVIATION_LETTERS = ("u", "v", "w", "z", "r")
"""Names for sub-expressions taken out of a display that does not fit ("where u_1 = ...")."""

MAX_ABBREVIATIONS = 30
"""Sub-expressions one display may name before it is printed as it is."""


class Display:
    """A formula laid out to a width: ``lhs = rows[0]``, continued by ``rows[1:]``
    (each starting with its sign), then the definitions ``where`` of the names
    (``u_1``, ...) that stand for sub-expressions too wide to stay inline.
    ``aligned``: the rows continue under the right-hand side (a short ``lhs``),
    else they start on a new line under ``lhs``.
    """

    __slots__ = ("aligned", "lhs", "rows", "where")

    def __init__(self, lhs, rows, where=(), aligned=True):
        self.lhs, self.rows, self.where, self.aligned = lhs, list(rows), list(where), aligned

    def __repr__(self):  # pragma: no cover - debugging
        return f"Display({self.lhs!r}, {self.rows!r}, {self.where!r})"


def _signed_terms(printer, expr):
    """[(sign, TeX)] of the top-level terms of ``expr`` as sympy's printer orders them."""
    if not isinstance(expr, sp.Add):
        return [("", printer._print(expr))]
    out = []
    for i, term in enumerate(printer._as_ordered_terms(expr)):
        sign = ""
        if i:
            sign = "+"
            if term.could_extract_minus_sign():
                sign, term = "-", -term
        tex = printer._print(term)
        if printer._needs_add_brackets(term):
            tex = r"\left(" + tex + r"\right)"
        out.append((sign, tex))
    return out


def _pack(terms, first, rest):
    """Rows of at most ``first`` (the first) and ``rest`` em, greedily, at + and -."""
    rows, cur, cur_w = [], "", 0.0
    for sign, tex in terms:
        piece = f"{sign} {tex}" if sign else tex
        w = tex_width(tex) + (1.3 if sign else 0)
        limit = first if not rows else rest
        if cur and cur_w + w > limit:
            rows.append(cur)
            cur, cur_w = piece, w
        else:
            cur = f"{cur} {piece}" if cur else piece
            cur_w += w
    rows.append(cur)
    return rows


class _Namer:
    """The names of one display's sub-expressions: each sub-expression is named once."""

    def __init__(self, letter):
        self.letter, self.names, self.defs, self._widths = letter, {}, {}, {}

    def width(self, node, printer):
        """(TeX, width) of ``node``, printed once (a named node is a new node)."""
        if node not in self._widths:
            tex = printer._print(node)
            self._widths[node] = (tex, tex_width(tex))
        return self._widths[node]

    def new(self, sub):
        if sub in self.defs:
            return self.defs[sub]
        sym = sp.Dummy(f"{self.letter}{len(self.defs) + 1}")
        self.names[sym] = f"{self.letter}_{{{len(self.defs) + 1}}}"
        self.defs[sub] = sym
        return sym

    def known(self, expr):
        """``expr`` with the sub-expressions named so far replaced by their names."""
        sub = {k: v for k, v in self.defs.items() if k != expr}
        return expr.xreplace(sub) if sub else expr


def _candidates(term):
    """Sub-expressions of ``term`` that may be named: sums first, then any compound."""
    nodes = [n for n in sp.preorder_traversal(term) if n is not term and not n.is_Atom]
    sums = [n for n in nodes if isinstance(n, sp.Add)]
    return sums or [n for n in nodes if not (n.is_Pow and n.base.is_Atom and n.exp.is_Atom)]


def _shrink(expr, avail, namer, printer):
    """Name sub-expressions of ``expr`` until each of its terms fits ``avail`` em.

    Of the sub-expressions of a term too wide, a part repeated in ``expr`` (a
    common denominator) is named first, the one that saves most; else the
    narrowest one whose naming makes the term fit (the exponent of a long
    exponential); when none suffices alone, the one that saves most (width
    times occurrences).  Every occurrence in ``expr`` is replaced.
    """
    defs = []
    for _ in range(MAX_ABBREVIATIONS):
        counts = {}
        for n in sp.preorder_traversal(expr):
            if not n.is_Atom:
                counts[n] = counts.get(n, 0) + 1
        terms = sp.Add.make_args(expr) if isinstance(expr, sp.Add) else (expr,)
        wide = None
        for t in terms:
            tw = namer.width(t, printer)[1]
            if tw > avail:
                wide = (t, tw)
                break
        if wide is None:
            break
        term, tw = wide
        in_term = {}
        for n in sp.preorder_traversal(term):
            if not n.is_Atom:
                in_term[n] = in_term.get(n, 0) + 1
        best, best_key = None, None
        sym_w = 1.0
        for node in dict.fromkeys(_candidates(term)):
            tex, w = namer.width(node, printer)
            if w < 2.5:
                continue
            count = in_term.get(node, 1)
            after = tw - count * (w - sym_w)
            if counts.get(node, 0) >= 2 and w >= 5:  # repeated: name it once for all
                key = (-1, -w * (counts[node] - 1), tex)
            elif after <= avail:
                key = (0, w, tex)
            else:
                key = (1, -w * count, tex)
            if best_key is None or key < best_key:
                best, best_key = node, key
        if best is None:
            break
        sym = namer.new(best)
        expr = expr.xreplace({best: sym})
        defs.append((sym, best))
    return expr, defs


def _rows(expr, lhs, width, namer):
    """(rows, aligned, named sub-expressions) of ``lhs = expr``."""
    printer = SymgeoLatexPrinter({"symbol_names": namer.names})
    lw = tex_width(lhs) + 1.4
    aligned = lw <= 0.4 * width
    first = width - lw if aligned else width - 2.5
    rest = first - 1.0
    expr = namer.known(expr)
    tex = printer._print(expr)
    if tex_width(tex) <= first:
        return [tex], aligned, []
    expr, defs = _shrink(expr, rest, namer, printer)
    return _pack(_signed_terms(printer, expr), first, rest), aligned, defs


def layout(expr, lhs, width=DISPLAY_WIDTH):
    """``lhs = expr`` as a :class:`Display` whose rows fit ``width`` em.

    A sum is broken at its top-level + and -; a term still too wide has parts
    named (``u_1`` ...: the narrowest part whose naming makes it fit, a
    repeated part once for all its occurrences) and defined after it, each
    definition laid out the same way.  The names are numbered in the order
    they are read.  Deterministic: the same expression gives the same rows.
    """
    expr = sp.sympify(expr, strict=True)
    full = " ".join([lhs] + [latex(s) for s in expr.free_symbols])
    letter = next((c for c in ABBREVIATION_LETTERS
                   if not re.search(r"(?<![\\A-Za-z])" + c + r"(?![A-Za-z])", full)), r"\omega")
    namer = _Namer(letter)
    rows, aligned, queue = _rows(expr, lhs, width, namer)
    main = Display(lhs, rows, aligned=aligned)
    where, done = [], set()
    while queue:
        sym, sub = queue.pop(0)
        if sym in done:
            continue
        done.add(sym)
        r, a, more = _rows(sub, namer.names[sym], width, namer)
        where.append(Display(namer.names[sym], r, aligned=a))
        queue += more
    main.where = where
    return _renumber(main, letter, len(namer.defs))


def _renumber(display, letter, count):
    """Names numbered by first appearance; definitions in that order."""
    if not count:
        return display
    pat = re.compile(r"(?<![\\A-Za-z])" + re.escape(letter) + r"_\{(\d+)\}")
    order = []
    for d in [display] + display.where:
        for row in d.rows:
            for m in pat.finditer(row):
                if m.group(1) not in order:
                    order.append(m.group(1))
    new = {old: str(k + 1) for k, old in enumerate(order)}

    def sub(text):
        return pat.sub(lambda m: f"{letter}_{{{new.get(m.group(1), m.group(1))}}}", text)
    where = sorted(display.where, key=lambda d: int(new.get(pat.match(d.lhs).group(1), 10**6))
                   if pat.match(d.lhs) else 10**6)
    where = [Display(sub(d.lhs), [sub(r) for r in d.rows], aligned=d.aligned) for d in where
             if pat.match(d.lhs) and pat.match(d.lhs).group(1) in new]
    return Display(display.lhs, [sub(r) for r in display.rows], where, display.aligned)
