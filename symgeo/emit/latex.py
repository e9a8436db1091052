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
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import jinja2
import sympy as sp

from ..codegen.numpy import derive
from ..declare.parse import CONSTANTS, FUNCTIONS, parse_formula
from ..engine.rules import RULE_NAMES
from ..printing import (
    DISPLAY_WIDTH,
    Display,
    TeX,
    escape_tex,
    latex,
    layout,
    tex_name,
    tex_width,
)

__all__ = ["SECTIONS", "Section", "TeX", "display", "escape_tex", "family_context",
           "family_document", "latex", "matrix_blocks", "render_document", "route_tex",
           "support_tex"]


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

    ``items(family, value)`` returns a list of ``("display", tex)`` (from
    :func:`display`, laid out to the page) and ``("text", words)`` items (words
    are escaped unless they are :class:`TeX`).  ``value`` is the numeric quantity ``quantity``
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
    return r",\allowbreak ".join(latex(sp.Symbol(c.name + suffix)) for c in fam.coordinates)


# ----------------------------------------------------------------------
# displays: every formula laid out to the page width (symgeo.printing.layout)

class _Labels:
    """Equation labels of one family, unique within the catalog document."""

    def __init__(self, name):
        safe = re.sub(r"[^A-Za-z0-9]", "", str(name))[:20]
        self.prefix = f"{safe}{zlib.crc32(str(name).encode()) & 0xffff:04x}"

    def __call__(self, key):
        return f"eq:{self.prefix}:{key}"


def _rows_tex(d, numbered_env=True):
    """The body of one Display inside an equation (split) or align* row group."""
    if len(d.rows) == 1:
        return f"{d.lhs} ={{}}& {d.rows[0]}" if not numbered_env else f"{d.lhs} = {d.rows[0]}"
    if d.aligned:
        rows = [f"{d.lhs} ={{}}& {d.rows[0]}"] + [rf"&\quad {{}}{r}" for r in d.rows[1:]]
    else:
        rows = [f"&{d.lhs}", rf"&\qquad = {d.rows[0]}"] + \
            [rf"&\qquad\quad {{}}{r}" for r in d.rows[1:]]
    body = "\\\\\n".join(rows)
    return body if not numbered_env else "\\begin{split}\n" + body + "\n\\end{split}"


def display(lhs, expr, label=None, numbered=True, width=DISPLAY_WIDTH):
    """TeX of the display ``lhs = expr`` that fits the page (see symgeo.printing.layout).

    ``expr``: a sympy object (broken to the width) or TeX (printed as given).
    Sub-expressions named to make it fit are defined after it ("where ...").
    """
    d = Display(lhs, [expr]) if isinstance(expr, str) else layout(expr, lhs, width)
    env = "equation" if numbered else "equation*"
    lab = rf"\label{{{label}}}" if label else ""
    out = f"\\begin{{{env}}}{lab}\n{_rows_tex(d)}\n\\end{{{env}}}"
    if d.where:
        out += "\nwhere\n\\begin{align*}\n" + "\\\\\n".join(
            _rows_tex(w, numbered_env=False) for w in d.where) + "\n\\end{align*}"
    return TeX(out)


def _fits(lhs, expr, width=DISPLAY_WIDTH - 6):
    d = layout(expr, lhs, width)
    return len(d.rows) == 1 and not d.where


def _entry_name(base, i, j, fam, upper=False):
    ci, cj = latex(fam.coordinates[i]), latex(fam.coordinates[j])
    return f"{base}^{{{ci} {cj}}}" if upper else f"{base}_{{{ci} {cj}}}"


def matrix_blocks(lhs, mat, entry, label=None, what="matrix"):
    """A symmetric matrix as one display when it fits, else entry by entry.

    ``entry(i, j)`` is the TeX name of entry (i, j); listed for i <= j, non-zero only.
    Returns a list of ("display", TeX) and ("text", TeX) items.
    """
    mat = sp.Matrix(mat)
    if tex_width(latex(mat)) + tex_width(lhs) + 2 <= DISPLAY_WIDTH:
        return [("display", display(lhs, mat, label))]
    items = [("text", TeX(rf"The {what} ${lhs}$ is symmetric; entry by entry, on and above "
                          r"the diagonal (those not listed are zero):"))]
    first = True
    for i in range(mat.rows):
        for j in range(i, mat.cols):
            if mat[i, j] == 0:
                continue
            name = entry(i, j) if i == j else f"{entry(i, j)} = {entry(j, i)}"
            items.append(("display", display(name, mat[i, j], label if first else None)))
            first = False
    return items


def _rank3(label, value, fam, upper_first=False, limit=40):
    """Non-zero components of a rank-3 array, one per class of its index symmetry.

    ``upper_first``: Christoffel symbols of the second kind, [k][i][j] symmetric in
    i, j (printed Gamma^k_{ij}); otherwise fully symmetric (T_ijk), i <= j <= k.
    """
    arr = sp.Array(value)
    out, nonzero = [], 0
    d = arr.shape[0]
    if upper_first:
        idxs = [(k, i, j) for k in range(d) for i in range(d) for j in range(i, d)]
    else:
        idxs = list(itertools.combinations_with_replacement(range(d), 3))
    for idx in idxs:
        e = arr[idx]
        if e == 0:
            continue
        nonzero += 1
        if nonzero > limit:
            continue
        c = [latex(fam.coordinates[i]) for i in idx]
        name = (rf"{label}^{{(\alpha)\,{c[0]}}}_{{{c[1]} {c[2]}}}" if upper_first
                else rf"{label}_{{{c[0]} {c[1]} {c[2]}}}")
        out.append(("display", display(name, e, numbered=False)))
    if nonzero > limit:
        more = f"... and {nonzero - limit} more non-zero components (see the numpy module)."
        out.append(("text", more))
    if nonzero == 0:
        out.append(("text", "All components vanish."))
    else:
        out.append(("text", "Components not listed (other than those equal by symmetry) are zero."))
    return out


# ----------------------------------------------------------------------
# words: routes, notes and reasons as a reader reads them (TeX, never ASCII math)

_MELLIN = (r"the Mellin-type rule on $(0, \infty)$, "
           r"$\int_0^\infty w^{a-1} \log^k w \, K(w)\, dw = \partial_a^k M_K(a)$ with "
           r"$M_K(a) = \Gamma(a/q)\, c^{-a/q} / |q|$ for $K = e^{-c w^q}$ and "
           r"$M_K(a) = r^{-a/q}\, \mathrm{B}(a/q, s - a/q) / |q|$ for $K = (1 + r w^q)^{-s}$")

_RULE_TEX = {
    "half": _MELLIN,
    "real": (r"the real line folded onto the half line, $\int_{\mathbb{R}} g = "
             r"\int_0^\infty [g(w) + g(-w)]\, dw$, then " + _MELLIN),
    "poisson": (r"the Poisson-kernel rule $\operatorname{E}[\log|z - w|^2] = \log|i - w|^2$ "
                r"under the standard Cauchy density"),
    "piecewise": (r"the piecewise-exponential rule: $\exp(\sum_j a_j |z - k_j| + a z + b)$ "
                  r"integrated piece by piece between the kinks"),
    "abs": (r"the even-kernel rule $\operatorname{E}|z + c| = |c| + "
            r"2 \int_{|c|}^\infty (u - |c|)\, p(u)\, du$"),
    "unit": (r"the Beta rule on $(0, 1)$, $\int_0^1 u^{a-1} (1 - u^q)^{b-1} \log^j u\, "
             r"\log^k (1 - u^q)\, du = \partial_a^j \partial_b^k\, \mathrm{B}(a/q, b)/q$"),
    "circle": (r"the Bessel rule on the circle, $\int_{-\pi}^{\pi} \cos(n t)\, e^{c \cos t}\, "
               r"dt = 2 \pi I_n(c)$"),
}

_ROUTE_TEX = {
    "constant": r"the integrand does not depend on $x$, so $\operatorname{E}[f] = f$",
    "Gaussian Fisher identity": (
        r"the Gaussian Fisher identity: for $x \sim \mathcal{N}(m(\xi), C(\xi))$, "
        r"$g_{ab} = \partial_a m^{\mathsf{T}} C^{-1} \partial_b m + \tfrac{1}{2} "
        r"\operatorname{tr}(C^{-1} \partial_a C\, C^{-1} \partial_b C)$"),
    "Gaussian": (r"Gaussian moments: the log-density is quadratic in $x$, so "
                 r"$x \sim \mathcal{N}(m, C)$ and $\operatorname{E}[f] = \sum_k L^k f(m) / k!$ "
                 r"with $L = \tfrac{1}{2} \sum_{ij} C_{ij} \partial_i \partial_j$"),
    "exponential family": (
        r"moments of the sufficient statistics from the log-partition: the integrand is "
        r"a polynomial in $T(x)$, $J^{\mathsf{T}} \eta = \nabla_{\xi} A$ with "
        r"$J = \partial \theta / \partial \xi$, and $\operatorname{E}[T_i\, g] = "
        r"\partial_{\theta_i} \operatorname{E}[g] + \eta_i \operatorname{E}[g]$"),
    "curved exponential family": (
        r"moments of the ambient full exponential family: the integrand is a polynomial in "
        r"its statistics $T(x)$, whose moments follow from its log-partition"),
    "exact series": r"an exact series over the support",
    "integration": r"sympy's \texttt{integrate} within the time budget",
    "summation": r"sympy's \texttt{summation} within the time budget",
}


def _parse(text, fam, extra=()):
    """A formula of a route's detail (engine text) read back by the whitelist parser."""
    names = {s.name: s for s in (*fam.coordinates, *fam.variables, *fam.fixed, *extra)}
    for n in set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)) - set(names):
        if n not in FUNCTIONS and n not in CONSTANTS:
            names[n] = sp.Symbol(n)
    return parse_formula(text, names, where="route detail")


def route_tex(route, detail, fam):
    """The route of an expectation in words, with the identity used (TeX)."""
    if route == "standardised":
        m = re.match(r"substitution (\w+) = (.*) with density of (\w+) exp\((.*)\); (.*)$",
                     detail or "")
        if m:
            var, x_of_w, w, logp, used = m.groups()
            rules_used = [k for k, v in RULE_NAMES.items() if v in used]
            try:
                wsym = sp.Symbol(w)
                sub = latex(_parse(x_of_w, fam, (wsym,)))
                dens = latex(sp.exp(_parse(logp, fam, (wsym,))))
                words = (rf"the standardising substitution ${tex_name(var)} = {sub}$, under which "
                         rf"${tex_name(w)}$ has density ${dens}$")
                if tex_width(sub) + tex_width(dens) > 30:
                    words = (rf"the standardising substitution ${tex_name(var)} = {sub}$ (the "
                             rf"density of ${tex_name(w)}$ no longer depends on $\xi$)")
            except Exception:  # noqa: BLE001 - an unusual detail: the words alone
                words = r"a standardising (location--scale) substitution"
            if rules_used:
                words += "; then " + "; ".join(_RULE_TEX[k] for k in rules_used)
            return TeX(words)
    if route in _ROUTE_TEX:
        return TeX(_ROUTE_TEX[route])
    if route == "finite sum":
        return escape_tex(detail or route)
    return escape_tex(f"{route}: {detail}" if detail else route)


def note_tex(note):
    """A note of the Fisher derivation in words (TeX)."""
    if "twice differentiable" in note:
        return TeX(r"The log-density is twice differentiable in the coordinates, so "
                   r"$g_{ij} = -\operatorname{E}[\partial_i \partial_j \ell]$, which equals "
                   r"$\operatorname{E}[s_i s_j]$ and is cheaper to take.")
    if "quadratic in x" in note:
        return TeX(r"The log-density is quadratic in $x$, $x \sim \mathcal{N}(m(\xi), C(\xi))$: "
                   r"the Gaussian Fisher identity gives $g$ without an expectation.")
    if "not differentiable" in note:
        return TeX(r"The log-density is not differentiable in the coordinates everywhere (it "
                   r"has a kink), so $g_{ij} = \operatorname{E}[s_i s_j]$; the Hessian form "
                   r"$-\operatorname{E}[\partial_i \partial_j \ell]$ would miss the point mass "
                   r"of the second derivative at the kink.")
    return escape_tex(note.rstrip(".") + ".")


def reason_tex(reason, fam):
    """Why an optional section was not derived, in words (TeX)."""
    if "is not an exponential family" in reason:
        return TeX(r"the log-density is not of the form $\theta(\xi) \cdot T(x) - A(\xi) + "
                   r"\log h(x)$: one of its terms does not separate into a function of the "
                   r"coordinates times a statistic of $x$.")
    if "no closed form" in reason or "did not close" in reason:
        return TeX(r"no closed form within the build's budget; the numpy module evaluates it "
                   r"numerically (see the function's docstring), as does "
                   r"\texttt{Family.kl\_numeric} and its siblings.")
    if "Gaussian curvature is defined for" in reason:
        return TeX(rf"the Gaussian curvature is defined for two-dimensional families; this "
                   rf"one has dimension ${fam.dimension}$ (see the scalar curvature).")
    if "not defined by the regular theory" in reason:
        return TeX(r"the $\alpha$-connection is not defined by the regular theory: the "
                   r"log-density is not differentiable at a kink, so "
                   r"$\operatorname{E}[\partial_i \partial_j \ell\, \partial_k \ell]$ is ambiguous "
                   r"for $\alpha \neq 0$.")
    if "budget" in reason:
        return TeX(r"not derived within the CPU budget of a build.")
    return escape_tex(reason)


# ----------------------------------------------------------------------
# sections

def _vec_pairs(fam, st):
    items = []
    for i, (th, T) in enumerate(zip(st.natural, st.statistics)):
        a, b = rf"\theta_{{{i + 1}}}(\xi)", rf"T_{{{i + 1}}}(x)"
        if _fits(a, th, 20) and _fits(b, T, 20):
            items.append(("display", display(a, TeX(latex(th) + rf", \qquad {b} = {latex(T)}"),
                                             numbered=False)))
        else:
            items += [("display", display(a, th, numbered=False)),
                      ("display", display(b, T, numbered=False))]
    return items


def _expfam_items(fam, st, labels=None):
    labels = labels or _Labels(fam.name)
    k, d = len(st.natural), fam.dimension
    kind = (rf"a full exponential family: ${k}$ sufficient statistics for ${d}$ coordinates"
            if st.kind == "full" else
            rf"a curved exponential family: the ${k}$ natural parameters $\theta(\xi)$ trace "
            rf"a ${d}$-dimensional curve or surface in $\mathbb{{R}}^{{{k}}}$")
    xs = ", ".join(latex(v) for v in fam.variables)
    items = [("text", TeX(rf"The family is {kind}, in the form")),
             ("display", display(rf"\log p({xs} \mid \xi)",
                                 TeX(r"\theta(\xi) \cdot T(x) - A(\xi) + \log h(x)"),
                                 labels("expform"))),
             ("text", TeX(r"with natural parameters $\theta(\xi)$ and sufficient statistics "
                          r"$T(x)$"))]
    items += _vec_pairs(fam, st)
    h = sp.Mul(*[sp.exp(t) for t in sp.Add.make_args(sp.expand(st.log_base))])
    items += [("text", TeX(r"the log-partition (log-normaliser) $A(\xi)$ and the base measure "
                           r"$h(x)$:")),
              ("display", display(r"A(\xi)", st.log_partition, labels("logpartition"))),
              ("display", display(r"h(x)", h, numbered=False))]
    if "log-partition" in (st.mean_route or ""):
        how = (r"Differentiating the log-partition needs no integral: with the Jacobian "
               r"$J_{ia} = \partial \theta_i / \partial \xi_a$, the chain rule gives "
               r"$J^{\mathsf{T}} \eta = \nabla_{\xi} A$, so $\eta = J^{-\mathsf{T}} \nabla_{\xi} A$.")
    else:
        how = (r"The mean parameters are expectations of the statistics, taken by the "
               r"expectation engine.")
    items.append(("text", TeX(r"The mean parameters are $\eta = \nabla_{\theta} A = "
                              r"\operatorname{E}[T(x)]$. " + how)))
    for i, eta in enumerate(st.mean):
        items.append(("display", display(
            rf"\eta_{{{i + 1}}}(\xi) = \operatorname{{E}}[T_{{{i + 1}}}(x)]", eta,
            labels("eta") if i == 0 else None)))
    items.append(("text", TeX(r"The dual potential is the Legendre transform "
                              r"$A^{*}(\eta) = \theta \cdot \eta - A(\theta)$.")))
    if st.dual is not None:
        items.append(("text", TeX(r"Here the coordinates are solved from $\eta$, so it is "
                                  r"explicit in $\eta$:")))
        items.append(("display", display(r"A^{*}(\eta)", st.dual, labels("dual"))))
    elif st.dual_parametric is not None:
        items.append(("text", TeX(
            r"Here $\eta(\xi)$ has no explicit inverse (it would need, e.g., the inverse "
            r"digamma function), so $A^{*}$ is stated as implicit and given in the coordinates:")))
        items.append(("display", display(
            r"A^{*}(\eta(\xi)) = \theta(\xi) \cdot \eta(\xi) - A(\xi)", st.dual_parametric,
            labels("dual"))))
    items.append(("text", TeX(
        r"With $B_F(a, b) = F(a) - F(b) - \nabla F(b) \cdot (a - b)$, the Kullback--Leibler "
        r"divergence is a Bregman divergence of either potential:")))
    items.append(("display", display(
        r"\operatorname{KL}(p \,\|\, q)",
        TeX(r"B_{A}(\theta_q, \theta_p) = A(\theta_q) - A(\theta_p) - (\theta_q - \theta_p) "
            r"\cdot \eta_p = B_{A^{*}}(\eta_p, \eta_q)"), labels("bregman"))))
    return items


def _expfam_compute(fam):
    return fam.exponential_family()


def _geodesic_compute(fam):
    return fam.geodesic_equations(0)


def _geodesic_items(fam, ge):
    return [("text", TeX(r"Geodesic equations of the Levi-Civita connection ($\alpha = 0$) "
                         r"of the Fisher metric, in the parameter $t$:"))] + \
        [("display", display(latex(eq.lhs), eq.rhs, numbered=False)) for eq in ge.second_order]


def _kl_items(fam, v):
    return [("text", TeX(rf"Between $p = ({_coords(fam, '_p')})$ and "
                         rf"$q = ({_coords(fam, '_q')})$:")),
            ("display", display(r"\operatorname{KL}(p \,\|\, q)", v, _Labels(fam.name)("kl")))]


def _alpha_items(fam, v):
    """D_alpha = 4/(1 - alpha^2) (1 - rho_alpha) with log rho_alpha printed on its own."""
    alphas = [s for s in v.free_symbols if s.name == "alpha" and s not in fam.coordinates]
    alpha = alphas[0] if len(alphas) == 1 else None
    exps = [e for e in v.atoms(sp.exp)] if alpha is not None else []
    lab = _Labels(fam.name)("alpha")
    if len(exps) == 1:
        rho = sp.Dummy("rho")
        shape = 4 / (1 - alpha ** 2) * (1 - rho)
        if sp.expand(sp.cancel(v.xreplace({exps[0]: rho}) - shape)) == 0:
            return [
                ("display", display(r"D_{\alpha}(p \,\|\, q)",
                                    TeX(r"\frac{4}{1 - \alpha^{2}} \bigl(1 - \rho_{\alpha}(p, q)"
                                        r"\bigr)"), lab)),
                ("text", TeX(r"with the affinity $\rho_{\alpha}(p, q) = \int p^{(1 - \alpha)/2} "
                             r"q^{(1 + \alpha)/2}$ in closed form:")),
                ("display", display(r"\log \rho_{\alpha}(p, q)", exps[0].args[0]))]
    return [("display", display(r"D_{\alpha}(p \,\|\, q)", v, lab))]


SECTIONS = {
    "exponential_family": Section("Exponential-family structure", "exponential_family",
                                  _expfam_items, compute=_expfam_compute),
    "kl": Section("Kullback--Leibler divergence", "kl", _kl_items, quantity="kl"),
    "entropy": Section("Entropy", "entropy", lambda fam, v: [
        ("display", display(r"H(p) = -\operatorname{E}[\log p]", v))], quantity="entropy"),
    "alpha_divergence": Section(TeX(r"$\alpha$-divergence"), "alpha_divergence", _alpha_items,
                                quantity="alpha_divergence"),
    "amari_chentsov": Section("Amari--Chentsov tensor", "amari_chentsov", lambda fam, v:
                              [("text", TeX(r"$T_{ijk} = \operatorname{E}[s_i s_j s_k]$ is "
                                            r"symmetric in its three indices; its components "
                                            r"with $i \le j \le k$:"))] + _rank3("T", v, fam),
                              quantity="amari_chentsov"),
    "christoffel": Section(TeX(r"Christoffel symbols of the $\alpha$-connection"), "christoffel",
                           lambda fam, v: [("text", TeX(
                               r"Of the second kind, $\Gamma^{(\alpha)\,k}_{ij} = g^{kl} "
                               r"\Gamma^{(\alpha)}_{ij,l}$ with $\Gamma^{(\alpha)}_{ij,k} = "
                               r"\Gamma^{(0)}_{ij,k} - \frac{\alpha}{2} T_{ijk}$, symmetric in "
                               r"$i, j$; the components with $i \le j$:"))] +
                           _rank3(r"\Gamma", v, fam, upper_first=True),
                           quantity="christoffel"),
    "scalar_curvature": Section("Scalar curvature", "scalar_curvature", lambda fam, v: [
        ("display", display("R", v))], quantity="scalar_curvature"),
    "gaussian_curvature": Section("Gaussian curvature", "gaussian_curvature", lambda fam, v: [
        ("display", display("K", v))], quantity="gaussian_curvature"),
    "geodesic_equations": Section("Geodesic equations", "geodesic_equations",
                                  _geodesic_items, compute=_geodesic_compute),
}


def _entry_integrand(res, fam, i, j):
    if res.form == "score":
        return rf"s_{{{i + 1}}} s_{{{j + 1}}}"
    return (rf"-\frac{{\partial^2 \ell}}{{\partial {latex(fam.coordinates[i])}\,"
            rf"\partial {latex(fam.coordinates[j])}}}")


def support_tex(fam):
    """The support of the family in mathematics (TeX)."""
    sup, vs = fam.support, [latex(v) for v in fam.variables]
    kind = getattr(sup, "kind", "")
    try:
        if kind == "box":
            parts = [f"{latex(sp.sympify(lo, strict=True))} < {v} < {latex(sp.sympify(hi, strict=True))}"
                     for v, lo, hi in zip(vs, sup.lower, sup.upper)]
            out = ", ".join(f"${p}$" for p in parts)
            return TeX(out + (" (periodic)" if sup.periodic else ""))
        if kind in ("integers", "integer box"):
            los = [sup.lower] if kind == "integers" else list(sup.lower)
            his = [sup.upper] if kind == "integers" else list(sup.upper)
            parts = []
            for v, lo, hi in zip(vs, los, his):
                lo, hi = sp.sympify(lo, strict=True), sp.sympify(hi, strict=True)
                rng = (rf"\{{{latex(lo)}, {latex(lo + 1)}, \dots\}}" if hi is sp.oo else
                       rf"\{{{latex(lo)}, \dots, {latex(hi)}\}}")
                parts.append(rf"${v} \in {rng}$")
            return TeX(", ".join(parts))
        if kind == "finite":
            vals = ", ".join(latex(sp.sympify(v, strict=True)) for v in sup.values)
            return TeX(rf"${vs[0]} \in \{{{vals}\}}$")
        if kind == "simplex":
            return TeX(rf"${vs[0]}, \dots, {vs[-1]} > 0$ with ${vs[0]} + \dots + {vs[-1]} = 1$")
        if kind == "compositions":
            return TeX(rf"${vs[0]}, \dots, {vs[-1]} \in \{{0, 1, \dots\}}$ with "
                       rf"${vs[0]} + \dots + {vs[-1]} = {latex(sp.sympify(sup.total, strict=True))}$")
    except Exception:  # noqa: BLE001, S110 - an unusual support: described in words
        pass
    return escape_tex(sup.describe([v.name for v in fam.variables]))


def _summary(fam, res, sections, labels):
    """The summary box: (label, TeX) rows, a formula inline when short, else a reference."""
    rows = [("Family", TeX(escape_tex(fam.title or fam.name) + rf" (\texttt{{{escape_tex(fam.name)}}})")),
            ("Coordinates", TeX(rf"$\xi = ({_coords(fam)})$"))]

    def formula(lhs, expr, key):
        if expr is not None and _fits(lhs, expr, 34):
            return TeX(rf"$\displaystyle {lhs} = {latex(expr)}$")
        return TeX(rf"${lhs}$ in \eqref{{{labels(key)}}}")
    mat = sp.Matrix(res.matrix)
    if tex_width(latex(mat)) <= 30:
        rows.append(("Fisher matrix", TeX(rf"$\displaystyle I(\xi) = {latex(mat)}$")))
    else:
        rows.append(("Fisher matrix", TeX(rf"$I(\xi)$ in \eqref{{{labels('fisher')}}}")))
    rows.append(("Jeffreys prior", formula(r"\pi_{\mathrm{J}}(\xi) \propto \sqrt{\det I(\xi)}",
                                           fam.jeffreys_prior(), "jeffreys")))
    kl = sections.get("kl")
    if isinstance(kl, list):
        rows.append(("KL divergence", TeX(rf"$\operatorname{{KL}}(p \,\|\, q)$ in "
                                          rf"\eqref{{{labels('kl')}}}")))
    return rows


def family_context(fam, sections=None):
    """Everything the family template prints (TeX or text to escape).

    ``sections`` maps an optional section name to its items, to its raw value
    (a computed section, as the build passes it) or to the reason it was not
    derived; by default each is computed here (no time budget).
    """
    labels = _Labels(fam.name)
    res = fam.fisher_result()
    coords = []
    for c in fam.coordinates:
        plain = sp.Symbol(c.name, real=True)
        cond = fam.domains[c].condition(plain)
        coords.append({"sym": M(c), "meaning": fam.meanings.get(c.name, "") if fam.meanings else "",
                       "domain": M(cond) if cond is not sp.true else TeX(latex(c) + r" \in \mathbb{R}")})
    expectations = []
    for (i, j), e in sorted(res.routes.items()):
        lhs = (rf"g_{{{i + 1}{j + 1}}} = \operatorname{{E}}\left[{_entry_integrand(res, fam, i, j)}"
               r"\right]")
        expectations.append({"display": display(lhs, e.value, labels(f"g{i + 1}{j + 1}")),
                             "route": route_tex(e.route, e.detail, fam)})
    if sections is None:
        sections = {}
        for name, sec in SECTIONS.items():
            if not callable(getattr(fam, sec.requires, None)):
                continue
            try:
                if sec.quantity:
                    sections[name] = sec.items(fam, derive(fam, sec.quantity))
                else:
                    sections[name] = sec.items(fam, sec.compute(fam))
            except Exception as exc:  # noqa: BLE001 - recorded in the document
                sections[name] = " ".join(str(exc).split())
    optional = []
    for name, sec in SECTIONS.items():
        if name not in sections:
            continue
        val = sections[name]
        if not isinstance(val, (list, str)):  # a computed section's raw value (the build's)
            val = sec.items(fam, val)
        optional.append({"name": name, "title": sec.title,
                         "items": val if isinstance(val, list) else [],
                         "reason": "" if isinstance(val, list) else reason_tex(val, fam)})
    xs = ", ".join(latex(v) for v in fam.variables)
    score = [display(rf"s_{{{k + 1}}} = \frac{{\partial \ell}}{{\partial {latex(c)}}}", s,
                     labels("score") if k == 0 else None)
             for k, (c, s) in enumerate(zip(fam.coordinates, fam.score()))]
    first_g = labels(f"g{min(res.routes)[0] + 1}{min(res.routes)[1] + 1}") if res.routes else ""
    return {
        "name": fam.name, "title": fam.title or fam.name, "description": fam.description,
        "references": list(fam.references or ()),
        "variables": TeX(xs), "xi": TeX(_coords(fam)),
        "support": support_tex(fam),
        "coords": coords,
        "fixed": [{"sym": M(k), "value": M(v)} for k, v in fam.fixed.items()],
        "loglik": display(rf"\ell = \log p({xs} \mid \xi)", fam.log_density, labels("loglik")),
        "score": score,
        "hessian": matrix_blocks(r"\nabla^2_{\xi} \ell", fam.hessian(),
                                 lambda i, j: (rf"\frac{{\partial^2 \ell}}{{\partial "
                                               rf"{latex(fam.coordinates[i])}\, \partial "
                                               rf"{latex(fam.coordinates[j])}}}"),
                                 labels("hessian"), "Hessian"),
        "form": res.form, "notes": [note_tex(n) for n in res.notes],
        "route_summary": res.route_summary,
        "expectations": expectations, "first_g": first_g,
        "fisher": matrix_blocks(r"I(\xi)", res.matrix,
                                lambda i, j: f"g_{{{i + 1}{j + 1}}}", labels("fisher"),
                                "Fisher matrix"),
        "cramer_rao": matrix_blocks(r"I(\xi)^{-1}", fam.cramer_rao(),
                                    lambda i, j: f"g^{{{i + 1}{j + 1}}}", labels("cramer_rao"),
                                    "inverse"),
        "jeffreys": display(r"\pi_{\mathrm{J}}(\xi) \propto \sqrt{\det I(\xi)}",
                            fam.jeffreys_prior(), labels("jeffreys")),
        "summary": _summary(fam, res, sections, labels),
        "labels": {k: labels(k) for k in ("loglik", "score", "hessian", "fisher", "cramer_rao",
                                          "jeffreys", "kl")},
        "optional": optional,
    }


def render_document(contexts, *, catalog=False):
    """A complete LaTeX document: one family, or the catalog (one section each)."""
    return _ENV.get_template("document.tex.j2").render(families=contexts, catalog=catalog)


def family_document(fam, sections=None):
    """The standalone LaTeX derivation of one family (see :func:`family_context`)."""
    return render_document([family_context(fam, sections)])
