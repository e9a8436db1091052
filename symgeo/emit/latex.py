"""LaTeX documents: one derivation per family, and the whole catalog.

Documents are rendered from jinja2 templates with TeX-safe delimiters
(``\\VAR{...}``, ``\\BLOCK{...}``); every value a template prints is escaped
unless it is :class:`~symgeo.printing.TeX` (printer output), so text from a
family file can never become a control sequence.  Expressions are printed by
:func:`symgeo.printing.latex`.  Optional sections are entries of
:data:`SECTIONS`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import jinja2
import sympy as sp

from ..codegen.numpy import derive
from ..printing import TeX, escape_tex, latex

__all__ = ["SECTIONS", "Section", "TeX", "escape_tex", "family_context", "family_document",
           "latex", "render_document"]


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
