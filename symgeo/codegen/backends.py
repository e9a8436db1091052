"""Array backends of the generated code: one printer and one template, a table per backend.

A backend is the modules the printed names resolve to and whether its arrays
may be written in place.  ``numpy`` (the standalone modules in
``generated/numpy``) fills an output buffer and masks it in place, and has a
pure-Python path at one point.  ``jax`` (``generated/jax``) is functional:
every result is built with ``stack``/``where``, no Python control flow
depends on a value, so the functions trace under ``jax.jit``, ``jax.vmap``
and ``jax.grad``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    numeric_routes: bool = True
    betaln: bool = True  # False: log B(a, b) printed through gammaln

    def resolve(self, fqn):
        """The backend's fully qualified name for the numpy/scipy name ``fqn``."""
        for src, dst in self.modules.items():
            if fqn == src or fqn.startswith(src + "."):
                fqn = dst + fqn[len(src):]
                break
        return self.renames.get(fqn, fqn)


BACKENDS = {
    "numpy": Backend("numpy", {}, functional=False, requires="numpy and scipy.special"),
    "jax": Backend(
        "jax", {"numpy": "jax.numpy", "scipy.special": "jax.scipy.special"},
        functional=True, requires="jax (jax.numpy and jax.scipy.special)",
        renames={"jax.scipy.special.psi": "jax.scipy.special.digamma"},
        missing=frozenset({"jax.scipy.special.iv", "jax.scipy.special.ive",
                           "jax.scipy.special.zeta_unsupported"}),
        # helpers/polygamma_jax.py: the numpy helper's series with a fixed number of
        # steps; jax.scipy.special.polygamma (Hurwitz zeta) made a KL 5-7x slower
        # the numeric routes loop over nodes and blocks with data-dependent stopping
        numeric_routes=False,
        # jax.scipy.special.betaln (jax 0.10) is off by 1e-6 relative at (3.45, 8.02),
        # where gammaln(a) + gammaln(b) - gammaln(a + b) is good to 1e-15
        betaln=False),
}
"""The backends by name (``Family.numeric(q, backend=...)``, ``generated/<name>/``)."""
