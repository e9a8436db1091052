_SPECIAL = {}


def _special(xp):
    """scipy.special's functions for arrays of the namespace ``xp``, by library.

    numpy arrays use scipy.special; CuPy arrays cupyx.scipy.special; Dask
    arrays scipy.special block by block, lazily; JAX arrays jax.scipy.special;
    PyTorch tensors torch.special; array-api-strict arrays (a test namespace
    over numpy) go through numpy by DLPack.  A function that a library lacks
    raises NotImplementedError naming it.
    """
    key = getattr(xp, "__name__", type(xp).__name__)
    table = _SPECIAL.get(key)
    if table is None:
        table = _SPECIAL[key] = _SpecialFunctions(xp, key)
    return table


class _SpecialFunctions:
    def __init__(self, xp, key):
        self._xp, self._library = xp, key.removeprefix("array_api_compat.")

    def __getattr__(self, name):
        fn = _keep_dtype(self._xp, _special_function(self._xp, self._library, name))
        setattr(self, name, fn)
        return fn


def _keep_dtype(xp, fn):
    # scipy.special computes some functions (polygamma) in float64 only: the result
    # keeps the arguments' float type, as the standard's own functions do
    def keep(*args):
        out = fn(*args)
        dtypes = [a.dtype for a in args if hasattr(a, "dtype")]
        if dtypes:
            want = xp.result_type(*dtypes)
            if out.dtype != want and xp.isdtype(want, "real floating"):
                out = xp.astype(out, want)
        return out
    return keep


def _gamma_from_lgamma(xp, lgamma):
    # Gamma(x) = sign * exp(lgamma(x)); for x < 0 the sign is (-1)^ceil(-x)
    def gamma(x):
        sign = xp.where(x > 0, 1.0, 1.0 - 2.0 * xp.remainder(xp.ceil(-x), 2.0))
        return sign * xp.exp(lgamma(x))
    return gamma


def _special_function(xp, library, name):
    if library == "numpy":
        import scipy.special
        fn = getattr(scipy.special, name, None)
    elif library == "cupy":
        import cupyx.scipy.special
        fn = getattr(cupyx.scipy.special, name, None)
    elif library == "dask.array":
        import dask.array
        import scipy.special
        plain = getattr(scipy.special, name, None)
        fn = None if plain is None else (lambda *args: dask.array.core.elemwise(plain, *args))
    elif library == "array_api_strict":
        import numpy
        import scipy.special
        plain = getattr(scipy.special, name, None)

        def fn(*args):
            return xp.asarray(plain(*[numpy.from_dlpack(a) if hasattr(a, "__dlpack__") else a
                                      for a in args]))
        fn = None if plain is None else fn
    elif library == "jax.numpy":
        import jax.scipy.special
        jname = {"psi": "digamma"}.get(name, name)
        # jax.scipy.special.iv/ive exist only in recent versions, betaln is inaccurate
        fn = None if jname in ("iv", "ive", "betaln") else getattr(jax.scipy.special, jname, None)
    elif library == "torch":
        import math

        import torch

        def polygamma(n, x):
            # torch.special.polygamma(1, x) is off by 4e-10 relative (torch 2.13); the
            # Hurwitz zeta is exact to rounding: psi^(n)(x) = (-1)^(n+1) n! zeta(n+1, x)
            n = int(n)
            if n == 0:
                return torch.special.digamma(x)
            s = torch.tensor(n + 1.0, dtype=x.dtype, device=x.device)
            return (-1.0) ** (n + 1) * math.factorial(n) * torch.special.zeta(s, x)
        fn = {"gammaln": torch.special.gammaln, "psi": torch.special.digamma,
              "polygamma": polygamma,
              "i0e": torch.special.i0e, "i1e": torch.special.i1e, "erf": torch.special.erf,
              "erfc": torch.special.erfc, "xlogy": torch.special.xlogy,
              "zeta": torch.special.zeta,
              "gamma": _gamma_from_lgamma(xp, torch.special.gammaln),
              "factorial": lambda n: torch.exp(torch.special.gammaln(n + 1.0))}.get(name)
    else:
        raise NotImplementedError(
            f"the array_api backend knows the special functions of numpy, CuPy, Dask, JAX, "
            f"PyTorch and array-api-strict arrays, not {library!r} ones ({name} is needed); "
            "evaluate with the numpy backend")
    if fn is None:
        raise NotImplementedError(f"{name} is not available for {library} arrays in the "
                                  "array_api backend; evaluate with the numpy backend")
    return fn
