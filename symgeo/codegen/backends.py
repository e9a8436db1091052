"""Array backends of the generated code: one printer and one template, a table per backend.

A backend is the modules the printed names resolve to and whether its arrays
may be written in place.  ``numpy`` (the standalone modules in
``generated/numpy``) fills an output buffer and masks it in place, and has a
pure-Python path at one point.  ``jax`` (``generated/jax``) is functional:
every result is built with ``stack``/``where``, no Python control flow
depends on a value, so the functions trace under ``jax.jit``, ``jax.vmap``
and ``jax.grad``.  ``array_api`` (``generated/array_api``) is the same
functional code over the namespace ``xp`` of the arguments
(``array_api_compat.array_namespace``): numpy, JAX, PyTorch, CuPy and Dask
arrays go through one function; the special functions the standard lacks
are dispatched per library (``helpers/special_array_api.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


ARRAY_API_NAMES = (
    # elementwise functions and constants of the array API standard (2023.12)
    "abs acos acosh add asin asinh atan atan2 atanh ceil clip conj copysign cos cosh divide "
    "e equal exp expm1 floor floor_divide greater greater_equal hypot imag inf isfinite isinf "
    "isnan less less_equal log log1p log2 log10 logaddexp logical_and logical_not logical_or "
    "logical_xor maximum minimum multiply nan negative not_equal pi positive pow real "
    "remainder round sign signbit sin sinh sqrt square subtract tan tanh trunc "
    # creation, manipulation, searching, statistics
    "asarray astype broadcast_arrays broadcast_to concat expand_dims full full_like ones "
    "ones_like reshape stack where zeros zeros_like max min sum prod all any float64 "
    "float32 isdtype").split()
"""Names the printer may use under ``xp.`` in the array_api backend: the standard's."""


@dataclass(frozen=True)
class Backend:
    """How generated code is printed for one array library.

    ``modules`` maps the names the printer uses (``numpy.exp``,
    ``scipy.special.gammaln``) to this backend's modules by prefix;
    ``renames`` maps whole names that differ (scipy's ``psi`` is JAX's
    ``digamma``); ``missing`` lists names the backend lacks (a quantity that
    needs one is left out of the module, with the reason).
    """

    name: str
    modules: dict
    functional: bool
    requires: str
    renames: dict = field(default_factory=dict)
    missing: frozenset = frozenset()
    polygamma_helper: bool = True
    bessel_helper: bool = False  # True: I_n, integer 2 <= n <= 8, by helpers/bessel<suffix>.py
    bessel01_helper: bool = False  # True: I_0 e^-|x|, I_1 e^-|x| by helpers/bessel01.py
    betaln: bool = True  # False: log B(a, b) printed through gammaln
    xp: str = "numpy"  # the array module's name in the template
    namespaced: bool = False  # functions take the namespace ``xp`` from their arguments
    known: frozenset | None = None  # the only names under ``xp.`` (None: any)
    local: frozenset = frozenset()  # printed module names that are not imports
    helper_suffix: str = ""  # helpers/NAME<suffix>.py
    check_import: str = ""  # the module whose absence ``compile_quantity`` reports
    extra: str = ""  # the pip extra that installs it

    @property
    def xp_arg(self):
        """``"xp, "`` where the module's helpers take the namespace as first argument."""
        return "xp, " if self.namespaced else ""

    def missing_name(self, fqn):
        """True if ``fqn`` (already resolved) does not exist in this backend."""
        if fqn in self.missing:
            return True
        head, _, tail = fqn.rpartition(".")
        return self.known is not None and head == self.xp and tail not in self.known

    def resolve(self, fqn):
        """The backend's fully qualified name for the numpy/scipy name ``fqn``."""
        for src, dst in self.modules.items():
            if fqn == src or fqn.startswith(src + "."):
                fqn = dst + fqn[len(src):]
                break
        return self.renames.get(fqn, fqn)


BACKENDS = {
    # helpers/bessel01.py: scipy's i0e and i1e evaluate their Chebyshev series one point
    # at a time (45 ns a point); as array passes they take half that
    "numpy": Backend("numpy", {}, functional=False, requires="numpy and scipy.special",
                     bessel01_helper=True),
    "jax": Backend(
        "jax", {"numpy": "jax.numpy", "scipy.special": "jax.scipy.special"},
        functional=True, requires="jax (jax.numpy and jax.scipy.special)",
        renames={"jax.scipy.special.psi": "jax.scipy.special.digamma"},
        missing=frozenset({"jax.scipy.special.iv", "jax.scipy.special.ive",
                           "jax.scipy.special.zeta_unsupported"}),
        # helpers/polygamma_jax.py: the numpy helper's series with a fixed number of
        # steps; jax.scipy.special.polygamma (Hurwitz zeta) made a KL 5-7x slower
        # jax.scipy.special.betaln (jax 0.10) is off by 1e-6 relative at (3.45, 8.02),
        # where gammaln(a) + gammaln(b) - gammaln(a + b) is good to 1e-15
        # helpers/bessel_jax.py: I_n e^-|x| for integer 2 <= n <= 8 (JAX has i0e, i1e only)
        bessel_helper=True,
        betaln=False, xp="jax.numpy", helper_suffix="_jax", check_import="jax", extra="jax"),
    "array_api": Backend(
        "array_api", {"numpy": "xp", "scipy.special": "_special(xp)"},
        functional=True,
        requires="array_api_compat, and the arguments' own array library (numpy, JAX, "
                 "PyTorch, CuPy, Dask, ...); special functions by library",
        renames={**{f"xp.{a}": f"xp.{b}" for a, b in (
            ("arctan2", "atan2"), ("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"),
            ("arcsinh", "asinh"), ("arccosh", "acosh"), ("arctanh", "atanh"),
            ("power", "pow"), ("amax", "max"), ("amin", "min"), ("absolute", "abs"),
            ("conjugate", "conj"), ("mod", "remainder"), ("true_divide", "divide"))},
                 "xp.euler_gamma": repr(0.5772156649015329), "xp.select": "_select"},
        known=frozenset(ARRAY_API_NAMES),
        local=frozenset({"xp", "_special(xp)"}),
        polygamma_helper=False, bessel_helper=True, betaln=False, xp="xp",
        namespaced=True, helper_suffix="_array_api", check_import="array_api_compat",
        extra="array_api"),
}
"""The backends by name (``Family.numeric(q, backend=...)``, ``generated/<name>/``)."""
