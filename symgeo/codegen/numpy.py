"""Standalone vectorised numpy modules, and ``Family.numeric`` (one code path).

A module is rendered from ``templates/numpy_module.py.j2``; each expression
is printed by sympy's SciPy printer (subclassed for vectorised indicators)
after common-subexpression elimination across all entries of a quantity.
Every entry is assigned into a preallocated ``(..., *shape)`` array, so
constant entries and mixed scalar/array inputs broadcast correctly (the
pitfalls of ``lambdify`` on a Matrix).  ``Family.numeric(q)`` executes the
very source the build writes to ``generated/numpy/NAME.py``.

Adding a quantity is one entry in :data:`QUANTITIES` (optional ones name
the Family method they need in ``requires``; a build skips a quantity whose
method is missing or whose derivation fails, and lists it in the module
docstring).  Arrays of any rank are laid out with their axes last.
"""

from __future__ import annotations

import builtins
import functools
import importlib.util
import itertools
import keyword
import math
import multiprocessing as mp
import pickle
import resource
import unicodedata
from dataclasses import dataclass
from typing import Callable

import jinja2
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.numpy import SciPyPrinter

from .._version import __version__
from ..declare.support import Box, Compositions, FiniteValues, IntegerRange, Simplex
from ..divergence.closed_forms import (NEAR_ORDER, REMAINDER_NODES, kl_near_diagonal,
                                       kl_near_diagonal_remainder)
from ..errors import BudgetExceeded, DerivationError, SymgeoError
from . import quadrature as _quad
from .backends import BACKENDS
from .compact import compact, hoist
from .chebyshev import scaled_bessel_series
from .functions import IsFinite, ive, polar_value, with_scaled_bessel
from .scalar import ScalarPrinter, scalar_code


MAX_SQUARING = 16
"""Integer powers up to this are printed as squarings and products: at most 7 products,
so a few ulps from the correctly rounded power (well inside 1e-14)."""


def _real_float(value):
    """``value`` (a sympy number) as a Python float, or None if it is not a finite real."""
    z = complex(sp.N(value, 30))
    return z.real if z.imag == 0 and math.isfinite(z.real) else None


def _by_squaring(b, k):
    """Code of b**k (k >= 1) by binary exponentiation: b**2*b, (b**2)**2, (b**2)**2*b, ..."""
    if k == 1:
        return b
    half = _by_squaring(b, k // 2)
    square = f"{half}**2" if k // 2 == 1 else f"({half})**2"
    return f"{square}*{b}" if k % 2 else square


class InfiniteSeries(SymgeoError):
    """A closed form that is a series: its function is the numeric series route."""


def _log_of_factor(factor, wide):
    """log(factor) for log(1 + prod factors) printed as a softplus: a factor e^a gives a;
    with ``wide`` (quadrature integrands, whose nodes reach 1e50, where v^3 overflows
    while 3 log v does not) also a positive base to a power b^e, e log b, and a positive
    symbol or number c, log c.  None where the factor has no such log."""
    if isinstance(factor, sp.exp):
        return factor.args[0]
    if not wide:
        return None
    if isinstance(factor, sp.Pow) and factor.base.is_positive and factor.exp.is_real is not False:
        return factor.exp * sp.log(factor.base)
    if factor.is_positive and (factor.is_Symbol or factor.is_Number):
        return sp.log(factor)
    return None


def _wide_softplus(product):
    """Whether log(1 + product) needs the softplus form in a quadrature integrand: a power
    of the node can overflow (1 + v is harmless)."""
    return any(isinstance(f, sp.Pow) and not f.exp.is_Integer or isinstance(f, sp.exp)
               for f in sp.Mul.make_args(product))


class NumpyPrinter(SciPyPrinter):
    """SciPy printer with vectorised indicators and numpy's pi."""

    #: polygamma orders printed with the fast helper (tested range of the helper)
    HELPER_POLYGAMMA_ORDERS = (1, 2, 3, 4)
    HELPER_IVE_MAX = 8  # helpers/bessel_functional.py's highest order

    def __init__(self, settings=None, backend=None):
        super().__init__({"fully_qualified_modules": True, **(settings or {})})
        self.backend = backend or BACKENDS["numpy"]
        self.helpers = set()
        self.scalar = ScalarPrinter()  # the pure-Python path of the same module
        self.wide_logs = False  # see _print_log: set while printing quadrature integrands

    def _print(self, expr, **kwargs):
        if self.backend.namespaced and isinstance(expr, sp.Expr) and expr.is_number and \
                not expr.is_Rational and not isinstance(expr, sp.NumberSymbol):
            # a constant such as sqrt(2) or 2 log(2) + 2 log(pi) as its float: the
            # standard's functions take arrays, never Python numbers
            value = _real_float(expr)
            if value is not None:
                return repr(value)
        return super()._print(expr, **kwargs)

    def _as_ordered_terms(self, expr, order=None):
        # a positive term first: 1 - a - b is three array passes, -a - b + 1 four (the
        # leading unary minus is a pass of its own)
        terms = list(super()._as_ordered_terms(expr, order=order))
        if terms and terms[0].could_extract_minus_sign():
            first = next((k for k, t in enumerate(terms) if not t.could_extract_minus_sign()),
                         None)
            if first is not None:
                terms.insert(0, terms.pop(first))
        return terms

    def _print_Add(self, expr, order=None):
        # the constant terms of a sum as one float: log(sigma) - log(2)/2 + 1/2 + log(pi)/2
        # is one array pass (log(sigma) + 0.7257913526447274), not four
        numbers = [a for a in expr.args if a.is_number]
        value = _real_float(sp.Add(*numbers)) if len(numbers) > 1 else None
        if value is not None and abs(value) <= 1e-20 * sum(abs(_real_float(a) or 0) for a in numbers):
            value = 0.0  # terms that cancel exactly (log 2 + log 3 - log 6): not a rounding residue
        if value is None or len(numbers) == len(expr.args):
            return super()._print_Add(expr, order=order)
        rest = self._print(sp.Add(*[a for a in expr.args if not a.is_number]))
        if value == 0:
            return rest
        return f"{rest} {'-' if value < 0 else '+'} {abs(value)!r}"

    def _module_format(self, fqn, register=True):
        # every module name goes through the backend's table (numpy.exp -> jax.numpy.exp)
        fqn = self.backend.resolve(fqn)
        if self.backend.missing_name(fqn):
            raise PrintMethodNotImplementedError(
                f"{fqn} does not exist in the {self.backend.name} backend")
        head = fqn.rpartition(".")[0]
        if not head or head in self.backend.local or fqn[0].isdigit():
            return fqn  # a helper, a literal, or the namespace the function was given
        return super()._module_format(fqn, register)

    def _print_polygamma(self, expr):
        n, z = expr.args
        if n == 0:
            return f"{self._module_format('scipy.special.psi')}({self._print(z)})"
        if n.is_Integer and int(n) in self.HELPER_POLYGAMMA_ORDERS and \
                self.backend.polygamma_helper:
            self.helpers.add("polygamma")
            return f"_polygamma({int(n)}, {self._print(z)})"
        return super()._print_polygamma(expr)

    def _print_log(self, expr):
        # log(1 + e^a e^b) as logaddexp(0, a + b): no overflow where e^a is huge
        arg = expr.args[0]
        if isinstance(arg, (sp.gamma, sp.factorial)):  # log Gamma stays finite past 171
            inner = arg.args[0] + (1 if isinstance(arg, sp.factorial) else 0)
            return f"{self._module_format('scipy.special.gammaln')}({self._print(inner)})"
        if isinstance(arg, sp.beta):  # and log B(a, b) where B underflows
            if not self.backend.betaln:
                return self._lbeta(*arg.args)
            args = ", ".join(self._print(a) for a in arg.args)
            return f"{self._module_format('scipy.special.betaln')}({args})"
        if arg.is_Add and len(arg.args) == 2 and sp.S.One in arg.args:
            other = arg.args[1] if arg.args[0] == 1 else arg.args[0]
            logs = [_log_of_factor(f, self.wide_logs) for f in sp.Mul.make_args(other)]
            if all(g is not None for g in logs) and _wide_softplus(other):
                exponent = sp.Add(*logs)
                if self.backend.namespaced:
                    # the standard's logaddexp takes no Python number: the same softplus,
                    # log(1 + e^a) = log1p(e^-|a|) + max(a, 0), from elementwise functions
                    a = self.parenthesize(exponent, sp.printing.precedence.PRECEDENCE["Mul"])
                    xp = self.backend.xp
                    return f"({xp}.log1p({xp}.exp(-{xp}.abs({a}))) + ({a} + {xp}.abs({a}))/2)"
                if not self.backend.functional:  # numpy: the faster bundled form
                    self.helpers.add("softplus")
                    return f"_softplus({self._print(exponent)})"
                return f"{self._module_format('numpy.logaddexp')}(0, {self._print(exponent)})"
        return super()._print_log(expr)

    def _print_sin(self, expr):
        # numpy only (see helpers/trig.py): JAX's XLA and the array-API libraries
        # have their own vectorised sin
        if self.backend.functional or self.backend.namespaced:
            return f"{self._module_format('numpy.sin')}({self._print(expr.args[0])})"
        self.helpers.add("trig")
        return f"_sin({self._print(expr.args[0])})"

    def _print_And(self, expr):
        # a & b & c: one pass each, where logical_and.reduce first stacks its arguments
        return " & ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr):
        return " | ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Pow(self, expr, rational=False):
        # integer powers up to MAX_SQUARING as squares and products (numpy's pow is
        # slower than multiplication by an order of magnitude; a binomial entropy has
        # p**9); negative ones as one division
        base, e = expr.args
        if e.is_Integer and 2 <= abs(e) <= MAX_SQUARING or e == -1:
            b = self.parenthesize(base, sp.printing.precedence.PRECEDENCE["Pow"])
            k = abs(int(e))
            body = _by_squaring(b, k)
            return f"1/({body})" if e < 0 else f"({body})" if k > 2 else body
        return super()._print_Pow(expr, rational=rational)

    def _lbeta(self, a, b):
        lg = self._module_format("scipy.special.gammaln")
        return (f"({lg}({self._print(a)}) + {lg}({self._print(b)}) - "
                f"{lg}({self._print(a + b)}))")

    def _print_beta(self, expr):
        if not self.backend.betaln:
            return f"{self._module_format('numpy.exp')}({self._lbeta(*expr.args)})"
        args = ", ".join(self._print(a) for a in expr.args)
        return f"{self._module_format('scipy.special.beta')}({args})"

    def _print_polar_lift(self, expr):
        return self._print(polar_value(expr))

    def _print_expint(self, expr):
        n, z = expr.args
        if n == 1:
            return f"{self._module_format('scipy.special.exp1')}({self._print(z)})"
        if n.is_Integer and n >= 0:
            return f"{self._module_format('scipy.special.expn')}({int(n)}, {self._print(z)})"
        return self._print_not_supported(expr)

    def _print_zeta(self, expr):
        if expr.is_number:  # zeta(3) in the Gumbel/Weibull skewness: a constant
            return repr(float(expr))
        args = ", ".join(self._print(a) for a in expr.args)
        return f"{self._module_format('scipy.special.zeta')}({args})"

    def _print_digamma(self, expr):
        return f"{self._module_format('scipy.special.psi')}({self._print(expr.args[0])})"

    def _print_besseli(self, expr):
        if not self.backend.bessel_helper:
            return super()._print_besseli(expr)
        nu, z = expr.args
        return self._print(ive(nu, z) * sp.exp(sp.Abs(z)))

    def _print_ive(self, expr):
        nu, z = expr.args
        if self.backend.bessel_helper and nu.is_Integer and 2 <= nu <= self.HELPER_IVE_MAX:
            self.helpers.add("bessel")
            return f"_ive({self.backend.xp_arg}{int(nu)}, {self._print(z)})"
        if nu in (0, 1) and self.backend.bessel01_helper:
            self.helpers.add("bessel01")
            self._module_format("scipy.special.i0e")  # the helper's route for small arrays
            return f"_i{int(nu)}e({self._print(z)})"
        if nu in (0, 1):
            return f"{self._module_format(f'scipy.special.i{int(nu)}e')}({self._print(z)})"
        return f"{self._module_format('scipy.special.ive')}({self._print(nu)}, {self._print(z)})"

    def _print_NodeSum(self, expr):
        coefs, funcs = ([self._print(a) for a in expr.args[k::2]] for k in (0, 1))
        return f"_linear(({', '.join(coefs)},), ({', '.join(funcs)},))"

    def _print_NodePoly(self, expr):
        coefs = [self._print(a) for a in expr.args[1:]]
        return f"_poly({self._print(expr.args[0])}, ({', '.join(coefs)},))"

    def _print_NodeQuad(self, expr):
        return f"_quad({', '.join(self._print(a) for a in expr.args)})"

    def _print_IsFinite(self, expr):
        return f"{self._module_format('numpy.isfinite')}({self._print(expr.args[0])})"

    def _print_Relational(self, expr):
        if not self.backend.namespaced:
            return super()._print_Relational(expr)
        # operators, not xp.greater(x, 0): the standard's functions take arrays only
        prec = sp.printing.precedence.PRECEDENCE["Relational"]
        return (f"({self.parenthesize(expr.lhs, prec)} {expr.rel_op} "
                f"{self.parenthesize(expr.rhs, prec)})")

    def _print_KroneckerDelta(self, expr):
        a, b = (self._print(x) for x in expr.args)
        if self.backend.namespaced:
            return f"{self.backend.xp}.astype({a} == {b}, {self.backend.xp}.float64)"
        return (f"{self._module_format('numpy.where')}({self._module_format('numpy.equal')}"
                f"({a}, {b}), 1.0, 0.0)")

    def _print_Pi(self, expr):
        return self._module_format("numpy.pi")

    def _print_Exp1(self, expr):
        return self._module_format("numpy.e")


@dataclass(frozen=True)
class Quantity:
    """A numeric quantity: how to get it from a family and how it is laid out.

    ``get(family, points, leading)`` returns the sympy expression/Matrix, where
    ``points`` is a list of ``points`` coordinate tuples (for one point, the
    family's own coordinates; for two, copies suffixed ``_p`` and ``_q``) and
    ``leading`` the symbols of the leading scalar arguments (e.g. ``alpha``).
    The generated function's signature is ``(x?, *leading, *point_0, *point_1,
    *extra, *symbolic_hyper_parameters)``.

    ``kind`` is "scalar", "vector", "matrix" or the rank as an int (axes last).
    ``requires`` names the Family method an optional quantity needs (absent:
    not emitted).  ``extra`` are array arguments passed to ``post`` (e.g. the
    gradient of ``natural_gradient``), ``post`` the helper applied to the
    masked array (a template helper such as ``solve``).  ``outside_support``
    is what an x outside the support gives ("nan" or "-inf").
    """

    get: Callable
    takes_x: bool          # x comes first in the argument list
    kind: object           # "scalar", "vector", "matrix" or an int rank
    doc: str
    points: int = 1
    leading: tuple = ()
    requires: str = ""
    extra: tuple = ()
    post: str = ""
    outside_support: str = "nan"

    @property
    def rank(self):
        return {"scalar": 0, "vector": 1, "matrix": 2}.get(self.kind, self.kind)


def _two(method):
    return lambda f, pts, lead: getattr(f, method)(*lead, pts[0], pts[1])


QUANTITIES = {
    "fisher": Quantity(lambda f, pts, lead: f.fisher(), False, "matrix",
                       "Fisher information g_ij = E[d_i log p d_j log p], shape (..., d, d)."),
    "cramer_rao": Quantity(lambda f, pts, lead: f.cramer_rao(), False, "matrix",
                           "Inverse Fisher matrix (Cramer-Rao bound), shape (..., d, d)."),
    "jeffreys_prior": Quantity(lambda f, pts, lead: f.jeffreys_prior(), False, "scalar",
                               "Unnormalised Jeffreys prior sqrt(det I), shape (...)."),
    "score": Quantity(lambda f, pts, lead: f.score(), True, "vector",
                      "Score d log p / d xi_i at x, shape (..., d); NaN for x outside the "
                      "support."),
    "log_density": Quantity(lambda f, pts, lead: f.log_density, True, "scalar",
                            "Log-density (or log-mass) at x, shape (...); -inf for x outside "
                            "the support (the density is 0 there).", outside_support="-inf"),
    "natural_gradient": Quantity(
        lambda f, pts, lead: f.fisher(), False, "matrix",
        "Natural gradient I(xi)^-1 g: arguments are the coordinates, then the ordinary "
        "gradient g = d L / d xi of shape (..., d) (coordinate order on the last axis); "
        "solves I(xi) v = g with numpy.linalg.solve on the Fisher matrix below; shape (..., d).",
        extra=("grad",), post="solve"),
    "kl": Quantity(_two("kl"), False, "scalar",
                   "Kullback-Leibler divergence KL(p || q) = E_p[log p - log q] in nats: "
                   "arguments are p's coordinates, then q's; shape (...).",
                   points=2, requires="kl"),
    "alpha_divergence": Quantity(
        _two("alpha_divergence"), False, "scalar",
        "Amari alpha-divergence D_alpha(p || q) = 4/(1-alpha^2) (1 - int p^((1-alpha)/2) "
        "q^((1+alpha)/2)): arguments are alpha, p's coordinates, then q's; shape (...).",
        points=2, leading=("alpha",), requires="alpha_divergence"),
    "entropy": Quantity(lambda f, pts, lead: f.entropy(), False, "scalar",
                        "Entropy H = -E[log p] in nats (differential entropy for densities), "
                        "shape (...).", requires="entropy"),
    "cross_entropy": Quantity(_two("cross_entropy"), False, "scalar",
                              "Cross-entropy H(p, q) = -E_p[log q] = H(p) + KL(p || q) in nats: "
                              "arguments are p's coordinates, then q's; shape (...).",
                              points=2, requires="cross_entropy"),
    "amari_chentsov": Quantity(lambda f, pts, lead: f.amari_chentsov(), False, 3,
                               "Amari-Chentsov tensor T_ijk = E[d_i l d_j l d_k l], "
                               "shape (..., d, d, d).", requires="amari_chentsov"),
    "christoffel": Quantity(lambda f, pts, lead: f.christoffel(*lead), False, 3,
                            "Christoffel symbols of the alpha-connection, axes in the order "
                            "of symgeo's Family.christoffel(alpha): arguments are alpha, then "
                            "the coordinates; shape (..., d, d, d).",
                            leading=("alpha",), requires="christoffel"),
    "scalar_curvature": Quantity(lambda f, pts, lead: f.scalar_curvature(), False, "scalar",
                                 "Scalar curvature of the Fisher metric, shape (...).",
                                 requires="scalar_curvature"),
    "gaussian_curvature": Quantity(lambda f, pts, lead: f.gaussian_curvature(), False, "scalar",
                                   "Gaussian curvature of the Fisher metric (2 coordinates), "
                                   "shape (...).", requires="gaussian_curvature"),
}


NEAR_THRESHOLD = 1e-6
"""Below this leading term 1/2 delta^T I delta, a generated kl uses its Taylor polynomial:
its truncation error is then ~1e-12 relative and the closed form's cancellation ~1e-10."""

NEAR_ROUTE_THRESHOLD = 1e-4
"""Below this value a numeric-route divergence is the remainder integral (see
:func:`symgeo.codegen.quadrature._near_integrands`).  The direct sum cancels to
about 1e-16 absolute of the affinity or of E_p[log p - log q], so its relative error grows
like 1e-16 / D (measured on the Cauchy alpha route: 1.6e-9 at D = 2.3e-6, 2.2e-8 at
3.1e-6 for alpha = 0.95), while the remainder integral's 3-node Gauss-Legendre rule errs
by O(D^3) (1e-13 at D = 3.5e-5, 3e-10 at 1.5e-4): 1e-4 keeps both within ~1e-11."""

NEAR_MAX_DIMENSION = 3
"""Families with more coordinates use the remainder integral near the diagonal instead
of the Taylor polynomial (whose number of terms grows like d^5, the integral's like d^2)."""
NEAR_MAX_OPS = 400
"""KL forms longer than this get no near-diagonal branch."""
NEAR_QUANTITIES = ("kl", "alpha_divergence")
"""Divergences D(p, q) with D(p, p) = 0 and a zero gradient in q there, whose closed forms
cancel near the diagonal: both are 1/2 delta^T I delta (1 + O(|delta|)) there."""


def available(family, name):
    """Whether the family has the method quantity ``name`` needs (not whether it derives)."""
    q = QUANTITIES[name]
    return not q.requires or callable(getattr(family, q.requires, None))


def point_symbols(family, k, points):
    """Coordinates of point ``k`` of a ``points``-point quantity (own symbols if one point)."""
    if points == 1:
        return family.coordinates
    suffix = "pq"[k] if points == 2 else str(k)
    return tuple(sp.Symbol(f"{c.name}_{suffix}", **c.assumptions0) for c in family.coordinates)


_RESERVED = frozenset(dir(builtins)) | {"numpy", "scipy", "math", "jax", "xp",
                                          "array_api_compat", "functools", "contextlib",
                                          "out", "shape", "COORDINATES", "VARIABLES"}
"""Names a generated argument never takes: the module's imports and globals, the
template's locals and Python's builtins (a parameter called ``float`` would shadow
``dtype=float`` in the body)."""


def _safe_name(name, taken):
    """An identifier for the symbol ``name`` that differs from every name in ``taken``.

    Python reads identifiers NFKC-normalised ("ｏｕｔ" is ``out``), so the test is on
    the normalised name; a name that is not a plain identifier or is taken becomes
    ``arg_k`` with the first k that is free.  ``taken`` is updated.
    """
    name = unicodedata.normalize("NFKC", name)
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_") or \
            name in taken or name in _RESERVED:
        k = len(taken)
        while f"arg_{k}" in taken:
            k += 1
        name = f"arg_{k}"
    taken.add(name)
    return name


def _entries(rank, expr):
    """[(index, entry)] in row-major order and the shape tuple of an any-rank quantity."""
    if rank == 0:
        if isinstance(expr, (sp.MatrixBase, sp.NDimArray, list, tuple)):
            raise ValueError("expected a scalar, got an array")
        return [("...", sp.sympify(expr, strict=True))], ()
    arr = sp.Array(sp.Matrix(expr) if isinstance(expr, sp.MatrixBase) else expr)
    if rank == 1 and arr.rank() == 2 and 1 in arr.shape:
        arr = arr.reshape(len(arr))
    if arr.rank() != rank:
        raise ValueError(f"expected an array of rank {rank}, got shape {arr.shape}")
    out = []
    for idx in itertools.product(*(range(n) for n in arr.shape)):
        out.append((", ".join(["..."] + [str(i) for i in idx]), arr[idx]))
    return out, tuple(arr.shape)


def derive(family, name, seconds=None):
    """The symbolic value of quantity ``name`` (what :func:`_function` prints).

    With ``seconds``, an optional quantity (one with ``requires``) is derived
    in a child process under that CPU budget (:func:`run_guarded`),
    so a derivation that never finishes cannot hold up a build.
    """
    q = QUANTITIES[name]
    lead = tuple(sp.Symbol(a, real=True) for a in q.leading)
    pts = [point_symbols(family, k, q.points) for k in range(q.points)]
    if seconds is None or not q.requires:
        return q.get(family, pts, lead)
    return run_guarded(q.get, (family, pts, lead), seconds, f"family {family.name!r}: {name}")


def _guarded_child(conn, fn, args, seconds):
    try:
        soft = max(1, int(seconds + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 1))
        conn.send_bytes(pickle.dumps(("ok", fn(*args))))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send_bytes(pickle.dumps(("error", type(exc).__name__, " ".join(str(exc).split()))))
    finally:
        conn.close()


def run_guarded(fn, args, seconds, what):
    """``fn(*args)`` in a forked (non-daemonic, so it may fork again) child under a CPU budget.

    Raises :class:`symgeo.errors.BudgetExceeded` when the budget is spent and
    :class:`symgeo.errors.DerivationError` carrying the child's message when
    ``fn`` failed.
    """
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_guarded_child, args=(child, fn, args, seconds), daemon=False)
    proc.start()
    child.close()
    try:
        if not parent.poll(seconds + 2):  # wall clock: grandchildren are not CPU-limited here
            raise BudgetExceeded(f"{what}: not derived within the {seconds:g} s budget")
        try:
            status, *payload = pickle.loads(parent.recv_bytes())
        except EOFError:
            raise BudgetExceeded(f"{what}: not derived within the {seconds:g} s budget") from None
    finally:
        parent.close()
        if proc.is_alive():
            proc.kill()
        proc.join()
    if status == "ok":
        return payload[0]
    kind, message = payload
    if kind in ("DerivationError", "BudgetExceeded", "SymgeoError"):
        raise DerivationError(message)
    raise DerivationError(f"{what}: {kind}: {message}")


def _function(family, name, printer, expr=None):
    q = QUANTITIES[name]
    taken = {"numpy", "scipy", "math", "out", "shape", "COORDINATES", "VARIABLES"} | set(q.extra)
    names = {}
    var_names = []
    if q.takes_x:
        taken.add("x")
        for v in family.variables:
            n = "x" if len(family.variables) == 1 else _safe_name(v.name, taken)
            names[v] = n
            var_names.append(n)
    lead_syms = tuple(sp.Symbol(a, real=True) for a in q.leading)
    points = [point_symbols(family, k, q.points) for k in range(q.points)]
    for pt in points:
        for c in pt:
            names[c] = _safe_name(c.name, taken)
    for a in lead_syms:  # a coordinate keeps its name; a clashing leading one gets "_arg"
        names[a] = _safe_name(a.name if a.name not in taken else f"{a.name}_arg", taken)
    fixed_syms = [v for v in family.fixed.values() if isinstance(v, sp.Symbol)]
    for v in fixed_syms:
        names[v] = _safe_name(v.name, taken)
    if expr is None:
        expr = q.get(family, points, lead_syms)
    rename = {s: sp.Symbol(n, real=True) for s, n in names.items()}
    if not isinstance(expr, (_quad.Integral, sp.MatrixBase, sp.NDimArray, list, tuple)) and any(
            isinstance(n, sp.Sum) for n in sp.preorder_traversal(sp.sympify(expr, strict=True))):
        raise InfiniteSeries(f"family {family.name!r}: {name} is an exact series; "
                             "the generated function sums it numerically")
    if isinstance(expr, _quad.Integral):
        return _quadrature_function(family, name, printer, expr, names, rename, lead_syms,
                                    points, fixed_syms)
    entries, shape = _entries(q.rank, expr)
    exprs = [sp.sympify(e, strict=True).xreplace(rename) for _, e in entries]
    support_code = fast_support = ""
    cond = sp.true
    if q.takes_x:
        cond = support_condition(family, [rename[v] for v in family.variables], rename)
        if cond is not sp.true:
            support_code = printer.doprint(cond)
            if not printer.backend.functional:
                fast_support = _fast_support_test(family, [rename[v].name for v in family.variables])
    near_rule, near = None, None
    if name in NEAR_QUANTITIES and sp.count_ops(exprs[0]) <= NEAR_MAX_OPS:
        p_syms, q_syms = ([rename[c] for c in pt] for pt in points)
        # the alpha-divergence's Taylor coefficients carry alpha: the remainder (second
        # derivatives only) is the shorter form at every dimension
        near_rule, near = _near_diagonal(exprs[0], tuple(p_syms), tuple(q_syms),
                                         name == "kl" and family.dimension <= NEAR_MAX_DIMENSION)
    # |c| = c for a coordinate whose domain is positive (the value is masked elsewhere):
    # log I0(kappa) = log ive(0, kappa) + kappa, one array pass fewer
    on_domain = {sp.Abs(rename[c]): rename[c] for pt in points
                 for c, c0 in zip(pt, family.coordinates) if family.domains[c0].positive}
    code_exprs = [_code_form(e).xreplace(on_domain) for e in exprs]
    near = near and tuple(with_scaled_bessel(e).xreplace(on_domain) for e in near)
    cse, reduced = _cse(tuple(code_exprs), "_c")
    near_code = None
    if near is not None:
        # the Taylor branch runs on the few points near the diagonal only: its own
        # common subexpressions, computed inside the branch on those points
        t_cse, (c2, taylor) = _cse(tuple(near), "_t")
        near_code = {"c2": printer.doprint(c2), "threshold": repr(NEAR_THRESHOLD),
                     "cse": [(str(lhs), printer.doprint(rhs)) for lhs, rhs in t_cse],
                     "taylor": printer.doprint(taylor), "stop_gradient": None}
        if near_rule == "remainder" and printer.backend.name == "jax":
            # the remainder holds second derivatives already: differentiated through it,
            # a Hessian of the KL traced for a minute (mvnormal2).  Its value is kept, its
            # derivatives are the closed form's (exact, and the Fisher matrix at q = p)
            near_code["stop_gradient"] = printer._module_format("jax.lax.stop_gradient")
    lead_names = [names[a] for a in lead_syms]
    point_names = [[names[c] for c in pt] for pt in points]
    xpa = printer.backend.xp_arg
    flat_points = [n for pt in point_names for n in pt]
    fixed_args = [names[v] for v in fixed_syms]
    args = (["x"] if q.takes_x else []) + lead_names + flat_points + list(q.extra) + fixed_args
    x_split = ""
    prepared = lead_names + flat_points + fixed_args
    if q.takes_x:
        if len(var_names) == 1:
            prepared = ["x"] + prepared
        else:
            asarray = printer._module_format("numpy.asarray")
            x_split = (f"x = {asarray}(x); " if printer.backend.functional else
                       f"x = {asarray}(x, dtype=float); ") + "; ".join(
                f"{v} = x[..., {i}]" for i, v in enumerate(var_names))
            prepared = var_names + prepared
    finite_names = (var_names if len(var_names) > 1 else
                    ["x"] if q.takes_x else []) + lead_names + fixed_args
    finite_code = _finite_code(printer, finite_names)
    doc = q.doc
    label = {"kl": "KL", "alpha_divergence": "D_alpha"}.get(name)
    if near is not None:
        doc += ((f"\nWhere 1/2 delta^T I delta < {NEAR_THRESHOLD:g} (q near p) the value is the "
                 f"Taylor polynomial of order {NEAR_ORDER} in delta = q - p"
                 if near_rule == "taylor" else
                 f"\nWhere {label} < {NEAR_THRESHOLD:g} (q near p; tested on the closed form and "
                 "on the remainder) the value is the remainder integral "
                 "int_0^1 (1 - t) delta^T H(p, p + t delta) delta dt, delta = q - p (H: the "
                 f"Hessian of {label} in q; Gauss-Legendre, {REMAINDER_NODES} nodes)") +
                ", which keeps relative accuracy where the closed form cancels." +
                (" Derivatives (jax.grad, jax.hessian) are the closed form's there."
                 if near_code and near_code["stop_gradient"] else ""))
    if q.takes_x and len(var_names) > 1:
        doc += f"\nx has last axis ({', '.join(var_names)})."
    if fixed_args:
        doc += f"\nSymbolic hyper-parameter(s) {', '.join(fixed_args)} come last."
    if name == "natural_gradient":
        doc += "\n\nFisher matrix (entries in row-major order):\n"
    else:
        doc += "\n\nFormula (entries in row-major order):\n"
    doc += "\n".join(
        f"  [{idx.replace('...', '').lstrip(', ') or '.'}] {sp.sstr(e)}"
        for (idx, _), e in zip(entries, exprs))
    return {
        "name": name,
        "args": args,
        "x_split": x_split,
        "prepared": prepared,
        "shape": repr(shape),
        "doc": doc,
        "domain_calls": [", ".join(pt) for pt in point_names],
        "support_code": support_code,
        "fast_support_code": fast_support,
        "finite_code": finite_code,
        "outside_support": {"nan": printer._module_format("numpy.nan"),
                            "-inf": "-" + printer._module_format("numpy.inf")}[q.outside_support],
        "post": q.post,
        "extra": list(q.extra),
        "cse": [(str(lhs), printer.doprint(rhs)) for lhs, rhs in cse],
        "entries": [(idx, printer.doprint(e)) for (idx, _), e in zip(entries, reduced)],
        "quadrature": None,
        "near": near_code,
        "scalar": None if printer.backend.functional else
        _scalar_path(printer.scalar, family, q, points, rename, cse, reduced, cond, near,
                               [sp.Symbol(n, real=True) for n in
                                (["x"] if q.takes_x else []) + lead_names + fixed_args],
                               shape),
        "ok_code": " & ".join([f"_in_domain({xpa}{', '.join(pt)})" for pt in point_names] +
                              ([finite_code] if finite_code else [])) or "True",
        "fast_ok_code": " and ".join(
            [f"_all_in_domain({', '.join(pt)})" for pt in point_names] +
            ([f"_all_finite({', '.join(finite_names)})"] if finite_names else [])) or "True",
        "rank0": q.rank == 0,
        # an entry that is a bare argument would hand the caller's array back as the
        # result, and masking would then write into it
        "aliased": q.rank == 0 and isinstance(reduced[0], sp.Symbol) and
        str(reduced[0]) in args,
    }


def _scalar_path(printer, family, q, points, rename, cse, reduced, support, near, others,
                 shape):
    """Template context of the pure-Python path at one point (:mod:`.scalar`), or None.

    Not for several random variables (x has a last axis), nor for a result
    solved against an argument (natural gradient).
    """
    if q.post or (q.takes_x and len(family.variables) > 1):
        return None
    ok = [IsFinite(s) for s in others]
    for pt in points:
        for coord, c in zip(family.coordinates, pt):
            ok += _domain_test(family.domains[coord], rename[c])
        ok += [sp.sympify(con, strict=True).xreplace(dict(zip(family.coordinates,
                                                                [rename[c] for c in pt])))
               for con in family.constraints]
    conditions = {"ok": sp.And(*ok), "support": None if support is sp.true else support}
    near_cse = []
    if near is not None:
        near_cse, (c2, taylor) = _cse(tuple(near), "_t")
        conditions.update(c2=c2, taylor=taylor)
    code = scalar_code(printer, cse, reduced, conditions)
    near_code = scalar_code(printer, near_cse, [], {})
    if code is None or near_code is None:
        return None
    code["near_cse"] = near_code["cse"]
    code["dims"] = repr(shape)
    return code


# The symbolic preparation of printed code is the same for every backend; a build
# prints each family once per backend, so it is computed once (keys are exact
# sympy expressions, so a hit is always the same mathematics).
@functools.lru_cache(maxsize=4096)
def _near_diagonal(expr, p_syms, q_syms, taylor):
    """(rule, (c2, value)) of the near-diagonal branch, or (None, None): the Taylor
    polynomial where it is short and exists, else the remainder integral (any
    dimension, and KL forms with a kink at q = p)."""
    rules = ([("taylor", kl_near_diagonal)] if taylor else []) + \
        [("remainder", kl_near_diagonal_remainder)]
    for rule, near in rules:
        try:
            return rule, near(expr, list(p_syms), list(q_syms))
        except (TypeError, ValueError, NotImplementedError):
            continue
    return None, None


@functools.lru_cache(maxsize=4096)
def _code_form(expr):
    return compact(with_scaled_bessel(expr))


@functools.lru_cache(maxsize=1024)
def _cse(exprs, prefix):
    """sympy's cse with its basic optimizations, on ``exprs`` whose special functions are
    hidden behind undefined functions of the same arguments (then put back).

    With polygamma visible, cse's basic optimizations rewrote polygamma(1, A + B) as
    polygamma(1, x0*x1) (x0 = A, x1 = B) in the remainder form of the beta
    alpha-divergence (sympy 1.14): a wrong value, no error.  Undefined functions are
    cse'd alike (a repeated call is still computed once); only exp and log, whose
    powers and inverses the optimizations rewrite, stay visible."""
    hidden, shown = {}, {}

    def hide(e):
        name = f"_cse_{type(e).__name__}"
        if name not in hidden:
            hidden[name] = sp.Function(name)
            shown[hidden[name]] = type(e)
        return hidden[name](*e.args)

    def special(e):
        return isinstance(e, sp.Function) and isinstance(e, sp.Expr) and \
            not isinstance(e, (sp.exp, sp.log, sp.Piecewise, AppliedUndef)) and \
            all(isinstance(a, sp.Expr) for a in e.args)

    def show(e):
        return e.replace(lambda f: isinstance(f, AppliedUndef) and f.func in shown,
                         lambda f: shown[f.func](*f.args)) if shown else e
    masked = [e.replace(special, hide) for e in exprs]
    cse, reduced = sp.cse(masked, symbols=sp.numbered_symbols(prefix), optimizations="basic")
    cse = [(lhs, show(rhs)) for lhs, rhs in cse]
    return _reuse_quotients(cse, [show(e) for e in reduced])


def _reuse_quotients(cse, reduced):
    """a**n * b**-n -> s**n wherever a common subexpression s = a/b (a, b symbols) is
    defined: sympy's cse leaves I1(k)**2/I0(k)**2 beside s = I1(k)/I0(k), which costs
    two array passes more than s**2 (and rounds twice more)."""
    quotients = {}
    for lhs, rhs in cse:
        num, den = rhs.as_numer_denom() if rhs.is_Mul else (None, None)
        if num is not None and num.is_Symbol and den.is_Symbol:
            quotients[lhs] = (num, den)
    if not quotients:
        return cse, reduced

    def rewrite(expr, known):
        def one(m):
            powers = m.as_powers_dict()
            for s in known:
                a, b = quotients[s]
                n = powers.get(a)
                if n is not None and n.is_Integer and powers.get(b) == -n:
                    rest = [f for f in m.args if f.as_base_exp()[0] not in (a, b)]
                    return sp.Mul(*rest, s**n)
            return m
        return expr.replace(lambda e: e.is_Mul, one) if known else expr

    out, known = [], []
    for lhs, rhs in cse:
        out.append((lhs, rewrite(rhs, known)))
        if lhs in quotients:
            known.append(lhs)
    return out, [rewrite(e, known) for e in reduced]


def _domain_test(domain, sym):
    """[conditions] true exactly where ``sym`` is a finite number inside ``domain``.

    Comparisons are False at NaN, so a domain bounded on both sides needs no
    separate finiteness test (one pass fewer per coordinate).
    """
    cond = domain.condition(sym)
    lo, hi = (sp.sympify(b, strict=True) for b in (domain.lower, domain.upper))
    return [cond] if lo.is_finite and hi.is_finite else [IsFinite(sym), cond]


def backend_functional(printer):
    return printer.backend.functional


def _fast_domain_test(domain, name):
    """Code true when every point of array ``name`` is inside ``domain``, by one min and
    one max (reductions, no temporaries); False at NaN (min and max propagate it), so
    that the call goes on to the elementwise mask."""
    lo, hi = (sp.sympify(b, strict=True) for b in (domain.lower, domain.upper))
    low, high = _bound_code(lo), _bound_code(hi)
    right = "<=" if domain.name == "circle" and hi != sp.oo else "<"
    return (f"numpy.minimum.reduce({name}, axis=None, initial=numpy.inf) > {low} and "
            f"numpy.maximum.reduce({name}, axis=None, initial=-numpy.inf) {right} {high}")


def _bound_code(bound):
    """numpy code of a constant interval bound (a number, pi, or +-oo)."""
    if bound in (sp.oo, -sp.oo):
        return f"{'-' if bound == -sp.oo else ''}numpy.inf"
    return sp.pycode(bound).replace("math.", "numpy.")


def _fast_support_test(family, names):
    """Code true when every x (arrays ``names``) lies in a box support with constant bounds,
    by one min and one max per variable (no temporaries); False at NaN; "" for other
    supports (bounds that depend on the coordinates, integers, the simplex)."""
    sup = family.support
    if not isinstance(sup, Box):
        return ""
    tests = []
    for name, lo, hi in zip(names, sup.lower, sup.upper):
        lo, hi = (sp.sympify(v, strict=True) for v in (lo, hi))
        if lo.free_symbols or hi.free_symbols:
            return ""
        # an infinite bound needs no test (an infinite x is outside the domain test's finite)
        if lo != -sp.oo:
            tests.append(f"numpy.minimum.reduce({name}, axis=None, initial=numpy.inf) >= "
                         f"{_bound_code(lo)}")
        if hi != sp.oo:
            tests.append(f"numpy.maximum.reduce({name}, axis=None, initial=-numpy.inf) <= "
                         f"{_bound_code(hi)}")
    return " and ".join(tests)


def _finite_code(printer, names):
    """Code true where every one of ``names`` (arguments that are not coordinates) is finite."""
    cond = sp.And(*[IsFinite(sp.Symbol(n, real=True)) for n in names])
    return "" if cond is sp.true else printer.doprint(cond)


def _quadrature_function(family, name, printer, integral, names, rename, lead_syms, points,
                         fixed_syms):
    """Template context of a quantity computed by a numeric route (see :mod:`.quadrature`)."""
    q = QUANTITIES[name]
    # the half-line rule's nodes are positive (exp-sinh, shifted by kinks >= 0)
    node = sp.Symbol("_node", **({"positive": True} if integral.rule == "half" else {"real": True}))
    total = sp.Symbol("_S", real=True)
    # the integrand runs on rows inside the domain only (keep=_ok): a positive coordinate
    # keeps its sign, which the rewriting of the integrand may need (a vertex form's a != 0)
    rename = {**{s: sp.Symbol(r.name, positive=True) if s.is_positive else r
                 for s, r in rename.items()}, integral.var: node, _quad.SUM: total}
    lead_names = [names[a] for a in lead_syms]
    flat_points = [names[c] for pt in points for c in pt]
    fixed_args = [names[v] for v in fixed_syms]
    args = lead_names + flat_points + fixed_args
    body = [sp.sympify(e, strict=True).xreplace(rename) for e in (integral.log_weight, integral.factor)]
    cse, entries = _integrand_code(printer, body, node)
    near = None
    if integral.near is not None and not printer.backend.functional:
        near_body = [sp.sympify(e, strict=True).xreplace(rename)
                     for e in (integral.near.log_weight, integral.near.factor)]
        near_cse, near_entries = _integrand_code(printer, near_body, node)
        near = {"cse": near_cse, "entries": near_entries, "threshold": repr(NEAR_ROUTE_THRESHOLD),
                "extra": None}
    printer.helpers.add("quadrature")
    def listed(values):
        return ", ".join(printer.doprint(sp.sympify(v, strict=True).xreplace(rename)) for v in values)
    unsplit = None
    if integral.rule in ("real", "half"):
        def tail_of(part):  # the helper's default is "algebraic"
            return f", tail={part.tail!r}" if part.tail != "algebraic" else ""
        tail = tail_of(integral)
        offset = f", offset={integral.offset!r}" if integral.offset else ""
        extra = f"[{listed(integral.kinks)}]{offset}{tail}"
        if near is not None:
            near["extra"] = f"[{listed(integral.near.kinks)}]{tail_of(integral.near)}"
        if integral.unsplit and not printer.backend.functional:
            # one piece where the two densities' centres and scales are close (a row's
            # choice: the functional backends trace one program for all rows, split)
            dist, width = (printer.doprint(sp.sympify(e, strict=True).xreplace(rename))
                           for e in integral.unsplit)
            unsplit = {"extra": f"[]{offset}{tail}",
                       "test": f"(numpy.abs({dist}) <= {float(_quad.UNSPLIT_DISTANCE)!r}) & "
                               f"(numpy.abs(numpy.log(numpy.abs({width}))) <= "
                               f"{math.log(_quad.UNSPLIT_WIDTH)!r})"}
    elif integral.rule in ("circle", "series"):
        extra = listed((integral.lower, integral.upper))
    else:  # points
        extra = "[" + ", ".join(repr(float(v)) for v in integral.values) + "]"
    doc = q.doc + "\n\nNo closed form was derived; numeric route: " + integral.description + \
        ".\nIntegrand (log weight E1, factor E2 at the node _node):\n" + "\n".join(
            f"  {lbl} {sp.sstr(e)}" for lbl, e in zip(("E1", "E2"), body))
    if near is not None:
        doc += (f"\nWhere the result is below {NEAR_ROUTE_THRESHOLD:g} (q near p, where the sum above "
                "cancels: its terms are O(|q - p|), the result O(|q - p|^2)) the value is the "
                f"remainder integral, {integral.near.description}.\nIts integrand:\n" +
                "\n".join(f"  {lbl} {sp.sstr(e)}" for lbl, e in zip(("E1", "E2"), near_body)))
    if fixed_args:
        doc += f"\nSymbolic hyper-parameter(s) {', '.join(fixed_args)} come last."
    return {
        "name": name,
        "args": args,
        "x_split": "",
        "prepared": args,
        "shape": "()",
        "doc": doc,
        "domain_calls": [", ".join(names[c] for c in pt) for pt in points],
        "support_code": "",
        "finite_code": _finite_code(printer, lead_names + fixed_args),
        "ok_code": " & ".join([f"_in_domain({printer.backend.xp_arg}"
                               f"{', '.join(names[c] for c in pt)})" for pt in points]
                              + ([_finite_code(printer, lead_names + fixed_args)]
                                 if lead_names + fixed_args else [])) or "True",
        "rank0": True,
        "aliased": False,
        "outside_support": "numpy.nan",
        "post": q.post,
        "extra": list(q.extra),
        "cse": cse,
        "entries": entries,
        "quadrature": {"rule": integral.rule, "extra": extra, "unsplit": unsplit,
                       "post": printer.doprint(integral.post.xreplace(rename)), "near": near},
    }


def _integrand_code(printer, body, node):
    """(cse, entries) of an integrand (E1, E2) at ``node``: parameter-only work hoisted
    (once per row, not per node), then common subexpressions, printed with wide logs."""
    # linear forms as matrix products: the numpy helpers only (the functional backends
    # trace one program, where the compiler fuses the passes)
    rows, nodal = hoist(body, node, linear=not printer.backend.functional)
    cse, reduced = _cse(tuple(nodal), "_c")
    printer.wide_logs = True
    try:
        return ([(str(lhs), printer.doprint(rhs)) for lhs, rhs in rows + cse],
                [("...", printer.doprint(e)) for e in reduced])
    finally:
        printer.wide_logs = False


def numeric_route(family, name):
    """The :class:`.quadrature.Integral` of a quantity with a numeric route."""
    q = QUANTITIES[name]
    lead = tuple(sp.Symbol(a, real=True) for a in q.leading)
    pts = [point_symbols(family, k, q.points) for k in range(q.points)]
    return _quad.integral(family, name, pts, lead)


_ENV = jinja2.Environment(loader=jinja2.PackageLoader("symgeo.codegen", "templates"),
                          keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
_ENV.policies["json.dumps_kwargs"] = {"sort_keys": True}


SIMPLEX_TOLERANCE = 1e-9
"""|x_1 + ... + x_k - 1| allowed on the simplex support in generated code."""


def support_condition(family, xs, rename):
    """The support as a sympy boolean in the plain symbols ``xs`` (True when unrestricted).

    Bounds are closed (the formula itself decides at an end point); discrete
    supports also require integer values; the simplex allows a sum within
    :data:`SIMPLEX_TOLERANCE` of 1.
    """
    sup = family.support

    def b(v):
        return sp.sympify(v, strict=True).xreplace(rename)

    def integer(x):
        return sp.Eq(x, sp.floor(x))

    conds = []
    if isinstance(sup, Box):
        for x, lo, hi in zip(xs, sup.lower, sup.upper):
            lo, hi = b(lo), b(hi)
            if lo != -sp.oo:
                conds.append(x >= lo)
            if hi != sp.oo:
                conds.append(x <= hi)
    elif isinstance(sup, IntegerRange):
        x = xs[0]
        conds.append(integer(x))
        if b(sup.lower) != -sp.oo:
            conds.append(x >= b(sup.lower))
        if b(sup.upper) != sp.oo:
            conds.append(x <= b(sup.upper))
    elif isinstance(sup, FiniteValues):
        return sp.Or(*[sp.Eq(xs[0], b(v)) for v in sup.values])
    elif isinstance(sup, Simplex):
        conds += [x > 0 for x in xs]
        conds.append(sp.Abs(sp.Add(*xs) - 1) <= SIMPLEX_TOLERANCE)
    elif isinstance(sup, Compositions):
        conds += [integer(x) for x in xs] + [x >= 0 for x in xs]
        conds.append(sp.Eq(sp.Add(*xs), b(sup.total)))
    else:  # pragma: no cover - a new support kind must say how it is tested
        raise ValueError(f"no support test for {type(sup).__name__}")
    return sp.And(*conds)


def _py_doc(text):
    """Text safe inside a triple-quoted docstring (family text cannot end it)."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


_ENV.filters["pydoc"] = _py_doc


ROUTE_NAMES = {"real": "quadrature", "half": "quadrature", "circle": "periodic quadrature",
               "series": "truncated series", "points": "finite sum"}
"""How a numeric route is named in the build's index."""

ROUTED_QUANTITIES = _quad.QUADRATURE_QUANTITIES
"""The quantities with a numeric route when no closed form is derived."""


def module_parts(family, quantities=None, *, skip_failures=False, derived=None,
                 backend="numpy"):
    """``(source, emitted, skipped)``: :func:`module_report` without the routes."""
    src, emitted, skipped, _ = module_report(family, quantities, skip_failures=skip_failures,
                                             derived=derived, backend=backend)
    return src, emitted, skipped


def module_report(family, quantities=None, *, skip_failures=False, derived=None,
                  backend="numpy"):
    """``(source, emitted, skipped, routes)`` of the family's standalone numpy module.

    ``quantities`` defaults to every registry entry whose Family method exists.
    With ``skip_failures`` a quantity whose derivation raises a SymgeoError is
    left out and listed (name, reason) in ``skipped`` and the module docstring.
    ``derived`` maps quantity names to values already derived (or to the
    exception their derivation raised), e.g. by :func:`derive` in a build.
    """
    names = list(quantities) if quantities else list(QUANTITIES)
    unknown = [q for q in names if q not in QUANTITIES]
    if unknown:
        raise ValueError(f"unknown numeric quantity {unknown[0]!r}; "
                         f"known: {', '.join(sorted(QUANTITIES))}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(sorted(BACKENDS))}")
    printer = NumpyPrinter(backend=BACKENDS[backend])
    functions, skipped, routes = [], [], {}
    for q in names:
        if not available(family, q):
            if quantities:
                raise SymgeoError(f"family {family.name!r}: quantity {q!r} needs "
                                  f"Family.{QUANTITIES[q].requires}(), which this symgeo lacks")
            continue  # not part of this symgeo: not listed
        try:
            value = (derived or {}).get(q)
            try:
                if isinstance(value, BaseException):
                    raise value
                functions.append(_function(family, q, printer, value))
                routes[q] = "closed form"
            except SymgeoError as exc:
                if q not in _quad.QUADRATURE_QUANTITIES:
                    raise
                try:
                    integral = numeric_route(family, q)
                    functions.append(_function(family, q, printer, integral))
                    routes[q] = ("exact series; " if isinstance(exc, InfiniteSeries) else "") + \
                        ROUTE_NAMES[integral.rule]
                except SymgeoError as exc2:
                    raise SymgeoError(f"{exc}; {exc2}") from None
        except (SymgeoError, TypeError, ValueError, NotImplementedError,
                PrintMethodNotImplementedError) as exc:
            # TypeError/ValueError: a Family method with another signature or
            # result layout than the registry expects; recorded, not fatal.
            if not skip_failures:
                raise
            reason = " ".join(str(exc).split())
            if not isinstance(exc, SymgeoError):
                reason = f"{type(exc).__name__}: {reason}"
            skipped.append((q, reason))
    # The domain test takes the coordinates positionally.  Its conditions are
    # built on assumption-free symbols: on the family's own positive symbols
    # sigma > 0 would already have evaluated to True.
    taken = {"numpy", "scipy", "math"}
    plain = {c: sp.Symbol(_safe_name(c.name, taken), real=True) for c in family.coordinates}
    conds = [t for c in family.coordinates for t in _domain_test(family.domains[c], plain[c])]
    conds += [sp.sympify(c, strict=True).xreplace(plain) for c in family.constraints]
    cond = sp.And(*conds)
    first = str(plain[family.coordinates[0]])
    if cond is not sp.true:
        domain_code = printer.doprint(cond)
    elif printer.backend.namespaced:  # the standard has no shape() function
        domain_code = f"xp.full(xp.asarray({first}).shape, True)"
    else:
        domain_code = f"{printer._module_format('numpy.full')}(" \
            f"{printer._module_format('numpy.shape')}({first}), True)"
    fast_domain = "False" if family.constraints or backend_functional(printer) else \
        " and ".join(_fast_domain_test(family.domains[c], plain[c].name) for c in family.coordinates)
    domain_text = "; ".join([family.domains[c].describe(plain[c].name) for c in family.coordinates] +
                            [sp.sstr(sp.sympify(c, strict=True).xreplace(plain)) for c in family.constraints])
    if any(fn["post"] == "solve" for fn in functions) and not printer.backend.functional:
        printer.helpers.add("solve")
    # a functional backend includes its own version of each helper (helpers/NAME_jax.py)
    backend = printer.backend
    helpers = sorted(h + backend.helper_suffix for h in printer.helpers |
                     ({"special"} if backend.namespaced else set()))
    imports = sorted({m for m in printer.module_imports if m != "numpy" and
                      m not in backend.local} |
                     ({"jax.numpy"} if backend.name == "jax" else set()) |
                     # the quadrature rules' nodes are computed once, in float64, by numpy
                     ({"numpy"} if backend.functional and "quadrature" in printer.helpers
                      else set()) |
                     ({"array_api_compat", "contextlib", "functools"} if backend.namespaced
                      else set()) |
                     set(printer.scalar.module_imports) |
                     ({"math"} if printer.helpers & {"polygamma", "bessel"} or not backend.functional
                      else set()) |
                     ({"scipy.special"} if printer.helpers & {"polygamma"} and
                      not printer.backend.functional else set()))
    fixed = ", ".join(f"{k.name} = {v}" for k, v in family.fixed.items())
    src = _ENV.get_template("numpy_module.py.j2").render(
        title=family.title or family.name, family=family.name, version=__version__,
        coordinates=[str(plain[c]) for c in family.coordinates],
        variables=[v.name for v in family.variables], fixed=fixed,
        domain_text=domain_text, domain_code=domain_code, fast_domain=fast_domain,
        imports=imports,
        functions=functions, helpers=helpers, skipped=skipped,
        emitted=[fn["name"] for fn in functions],
        functional=backend.functional, requires=backend.requires, backend=backend.name,
        xp=backend.xp, xpa=backend.xp_arg, ive_max=NumpyPrinter.HELPER_IVE_MAX,
        coefficients=scaled_bessel_series() if "bessel01" in printer.helpers else None)
    return src, [fn["name"] for fn in functions], skipped, routes


def module_source(family, quantities=None, backend="numpy"):
    """Source text of the standalone module for ``family`` (failures raise)."""
    return module_parts(family, quantities, backend=backend)[0]


def compile_quantity(family, quantity, backend="numpy"):
    """The function ``quantity`` of the family's generated module (see module docstring).

    ``backend``: "numpy" (standalone numpy/scipy code) or "jax" (pure, traceable
    jax.numpy code; needs jax installed).
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"family {family.name!r}: unknown numeric quantity {quantity!r}; "
                         f"known: {', '.join(sorted(QUANTITIES))}")
    if backend not in BACKENDS:
        raise SymgeoError(f"family {family.name!r}: unknown backend {backend!r} for "
                          f"{quantity}; choose one of {', '.join(sorted(BACKENDS))}")
    need = BACKENDS[backend].check_import
    if need and importlib.util.find_spec(need) is None:
        raise SymgeoError(f"family {family.name!r}: the {backend} backend of {quantity} "
                          f"needs {need}: pip install 'symgeo[{BACKENDS[backend].extra}]'")
    src = module_source(family, [quantity], backend=backend)
    namespace = {"__name__": f"symgeo_generated_{family.name}"}
    # our own generated code (symbol names are sanitised identifiers), never user text
    exec(compile(src, f"<symgeo generated {family.name}.{quantity}>", "exec"), namespace)  # noqa: S102
    fn = namespace[quantity]
    fn.source = src
    return fn


__all__ = ["QUANTITIES", "Quantity", "NumpyPrinter", "module_source", "module_parts",
           "compile_quantity", "point_symbols", "available", "support_condition"]
