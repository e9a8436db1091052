"""LaTeX in the notation of the field, through sympy's printer system.

``SymgeoLatexPrinter`` prints psi, psi^{(k)}, I_nu, B(a, b), Gamma and
log Gamma, matrices as ``bmatrix`` (never wrapped in a second pair of
brackets), and Euler's constant as gamma_E so that a coordinate called
``gamma`` (the Cauchy scale) cannot be confused with it.  Symbol names are
escaped: a name is always an identifier, and anything else that reaches TeX
goes through :func:`escape_tex`.

Documents (one per family, and the catalog) are rendered from jinja2
templates with TeX-safe delimiters (``\\VAR{...}``, ``\\BLOCK{...}``); every
value a template prints is escaped unless it is :class:`TeX` (printer
output), so text from a family file can never become a control sequence.
Optional sections are entries of :data:`SECTIONS`.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

import jinja2
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


# ----------------------------------------------------------------------
# documents

def _finalize(value):
    return value if isinstance(value, TeX) else escape_tex(value)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("symgeo.emit", "templates"),
    block_start_string=r"\BLOCK{", block_end_string="}",
    variable_start_string=r"\VAR{", variable_end_string="}",
    comment_start_string=r"\#{", comment_end_string="}",
    trim_blocks=True, lstrip_blocks=True, autoescape=False, keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined, finalize=_finalize)


def M(expr):
    """Printer output as TeX (a sympy object, or a str that already is TeX)."""
    return TeX(expr if isinstance(expr, str) else latex(expr))


@dataclass(frozen=True)
class Section:
    """An optional section of a family document.

    ``items(family, value)`` returns a list of ``("eq", lhs_tex, rhs_tex)`` and
    ``("text", words)`` items.  ``value`` is the numeric quantity ``quantity``
    already derived by the build (shared with the numpy module), or, when
    ``quantity`` is empty, ``compute(family)``'s result.  ``requires`` names the
    Family method needed; without it the section is left out silently.
    """

    title: str
    requires: str
    items: Callable
    quantity: str = ""
    compute: Callable | None = None


def _coords(fam, suffix=""):
    return ", ".join(latex(sp.Symbol(c.name + suffix)) for c in fam.coordinates)


def _rank3(label, value, fam, limit=40):
    arr = sp.Array(value)
    out, nonzero = [], 0
    for idx in itertools.product(*(range(n) for n in arr.shape)):
        e = arr[idx]
        if e == 0:
            continue
        nonzero += 1
        if nonzero <= limit:
            sub = "".join(latex(fam.coordinates[i]) + " " for i in idx).strip()
            out.append(("eq", TeX(rf"{label}_{{{sub}}}"), M(e)))
    if nonzero > limit:
        out.append(("text", f"... and {nonzero - limit} more nonzero components (see the numpy module)."))
    if nonzero == 0:
        out.append(("text", "All components vanish."))
    else:
        out.append(("text", "Components not listed are zero."))
    return out


def _expfam_items(fam, st):
    items = [("text", f"Kind: {st.kind}. {st.reason}".strip())]
    for th, T in zip(st.natural, st.statistics):
        items.append(("eq", TeX(r"\theta \cdot T(x) \ni " + latex(th)), M(T)))
    items.append(("eq", TeX(r"A(\xi)"), M(st.log_partition)))
    items.append(("eq", TeX(r"\log h(x)"), M(st.log_base)))
    for i, eta in enumerate(st.mean):
        items.append(("eq", TeX(rf"\eta_{{{i + 1}}} = \operatorname{{E}}[T_{{{i + 1}}}]"), M(eta)))
    if st.mean_route:
        items.append(("text", f"Mean parameters: {st.mean_route}."))
    if st.dual is not None:
        items.append(("eq", TeX(r"A^{*}(\eta)"), M(st.dual)))
    elif st.dual_parametric is not None:
        items.append(("eq", TeX(r"A^{*}(\eta(\xi))"), M(st.dual_parametric)))
    if st.dual_note:
        items.append(("text", st.dual_note))
    return items


def _expfam_compute(fam):
    return _expfam_items(fam, fam.exponential_family())


def _geodesic_compute(fam):
    ge = fam.geodesic_equations(0)
    return [("text", "Geodesic equations of the Levi-Civita connection (alpha = 0) of the "
                     "Fisher metric, in the parameter t:")] + \
        [("eq", M(eq.lhs), M(eq.rhs)) for eq in ge.second_order]


SECTIONS = {
    "exponential_family": Section("Exponential-family structure", "exponential_family",
                                  lambda fam, v: v, compute=_expfam_compute),
    "kl": Section("Kullback--Leibler divergence", "kl", lambda fam, v: [
        ("eq", TeX(rf"\operatorname{{KL}}(p \,\|\, q),\ p = ({_coords(fam, '_p')}),\ "
                   rf"q = ({_coords(fam, '_q')})"), M(v))], quantity="kl"),
    "entropy": Section("Entropy", "entropy", lambda fam, v: [
        ("eq", TeX(r"H = -\operatorname{E}[\log p]"), M(v))], quantity="entropy"),
    "alpha_divergence": Section("Alpha-divergence", "alpha_divergence", lambda fam, v: [
        ("eq", TeX(r"D_{\alpha}(p \,\|\, q)"), M(v))], quantity="alpha_divergence"),
    "amari_chentsov": Section("Amari--Chentsov tensor", "amari_chentsov", lambda fam, v:
                              [("text", "T_ijk = E[s_i s_j s_k]:")] + _rank3("T", v, fam),
                              quantity="amari_chentsov"),
    "christoffel": Section("Christoffel symbols of the alpha-connection", "christoffel",
                           lambda fam, v: [("text", "Components in the index order of "
                                            "Family.christoffel(alpha):")] +
                           _rank3(r"\Gamma^{(\alpha)}", v, fam), quantity="christoffel"),
    "scalar_curvature": Section("Scalar curvature", "scalar_curvature", lambda fam, v: [
        ("eq", TeX("R"), M(v))], quantity="scalar_curvature"),
    "gaussian_curvature": Section("Gaussian curvature", "gaussian_curvature", lambda fam, v: [
        ("eq", TeX("K"), M(v))], quantity="gaussian_curvature"),
    "geodesic_equations": Section("Geodesic equations", "geodesic_equations",
                                  lambda fam, v: v, compute=_geodesic_compute),
}


def _entry_integrand(res, fam, i, j):
    if res.form == "score":
        return TeX(rf"s_{{{i + 1}}} s_{{{j + 1}}}")
    return TeX(rf"-\frac{{\partial^2 \ell}}{{\partial {latex(fam.coordinates[i])}\,"
               rf"\partial {latex(fam.coordinates[j])}}}")


def family_context(fam, sections=None):
    """Everything the family template prints (TeX or text to escape).

    ``sections`` maps an optional section name to its items or to the reason
    it was not derived; by default each is computed here (no time budget).
    """
    res = fam.fisher_result()
    coords = []
    for c in fam.coordinates:
        plain = sp.Symbol(c.name, real=True)
        cond = fam.domains[c].condition(plain)
        coords.append({"sym": M(c), "meaning": fam.meanings.get(c.name, "") if fam.meanings else "",
                       "domain": M(cond) if cond is not sp.true else TeX(latex(c) + r" \in \mathbb{R}")})
    expectations = []
    for (i, j), e in sorted(res.routes.items()):
        expectations.append({"entry": TeX(rf"g_{{{i + 1}{j + 1}}}"),
                             "integrand": _entry_integrand(res, fam, i, j),
                             "value": M(e.value), "route": e.route, "detail": e.detail})
    if sections is None:
        sections = {}
        for name, sec in SECTIONS.items():
            if not callable(getattr(fam, sec.requires, None)):
                continue
            try:
                if sec.quantity:
                    from .numpy import derive
                    sections[name] = sec.items(fam, derive(fam, sec.quantity))
                else:
                    sections[name] = sec.compute(fam)
            except Exception as exc:  # noqa: BLE001 - recorded in the document
                sections[name] = " ".join(str(exc).split())
    optional = []
    for name, sec in SECTIONS.items():
        if name not in sections:
            continue
        val = sections[name]
        optional.append({"name": name, "title": sec.title,
                         "items": val if isinstance(val, list) else [],
                         "reason": "" if isinstance(val, list) else val})
    xs = ", ".join(latex(v) for v in fam.variables)
    return {
        "name": fam.name, "title": fam.title or fam.name, "description": fam.description,
        "references": list(fam.references or ()),
        "variables": TeX(xs), "xi": TeX(_coords(fam)),
        "support": fam.support.describe([v.name for v in fam.variables]),
        "coords": coords,
        "fixed": [{"sym": M(k), "value": M(v)} for k, v in fam.fixed.items()],
        "loglik": M(fam.log_density),
        "score": [{"sym": M(c), "value": M(s)} for c, s in zip(fam.coordinates, fam.score())],
        "hessian": M(fam.hessian()),
        "form": res.form, "notes": list(res.notes), "route_summary": res.route_summary,
        "expectations": expectations,
        "fisher": M(res.matrix), "cramer_rao": M(fam.cramer_rao()),
        "jeffreys": M(fam.jeffreys_prior()),
        "optional": optional,
    }


def render_document(contexts, *, catalog=False):
    """A complete LaTeX document: one family, or the catalog (one section each)."""
    return _ENV.get_template("document.tex.j2").render(families=contexts, catalog=catalog)


def family_document(fam, sections=None):
    """The standalone LaTeX derivation of one family (see :func:`family_context`)."""
    return render_document([family_context(fam, sections)])
