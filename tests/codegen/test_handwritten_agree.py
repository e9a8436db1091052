"""The generated numpy modules agree with hand-written textbook formulas (issue 15).

``benchmarks/handwritten.py`` writes fisher, score, log_density, kl and entropy of
every catalog family by hand from the literature, independently of symgeo.  Here
each of them is evaluated beside the committed ``generated/numpy/NAME.py`` at 20
random generic points of the domain (and of the support, for score and
log_density) and both must agree to rtol 1e-10.  A disagreement is a bug on one
side: the formulas cite their sources, so check them first, then the generated
module (whose formula is in its docstring).
"""

import importlib.util
import zlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "generated" / "numpy"
RTOL, ATOL = 1e-10, 1e-12
POINTS = 20


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HW = _load(REPO / "benchmarks" / "handwritten.py", "_symgeo_handwritten")

# (family, quantity) -> why the generated function is known to disagree (xfail)
KNOWN_DISAGREEMENTS = {}

CASES = [pytest.param(fam, q, marks=pytest.mark.xfail(reason=KNOWN_DISAGREEMENTS[(fam, q)],
                                                       strict=True))
         if (fam, q) in KNOWN_DISAGREEMENTS else pytest.param(fam, q)
         for fam, q in sorted(HW.HANDWRITTEN)]

_MODULES = {}


def _generated(family):
    if family not in _MODULES:
        _MODULES[family] = _load(GENERATED / f"{family}.py", f"_symgeo_generated_{family}")
    return _MODULES[family]


def _arguments(family, quantity, n):
    rng = np.random.default_rng(zlib.crc32(f"{family}/{quantity}".encode()))
    p = HW.random_params(family, rng, n)
    if quantity == "kl":
        return p + HW.random_params(family, rng, n)
    if quantity in ("score", "log_density"):
        return [HW.random_x(family, rng, n)] + p
    return p


@pytest.mark.parametrize("family, quantity", CASES)
def test_generated_agrees_with_textbook_formula(family, quantity):
    args = _arguments(family, quantity, POINTS)
    got = getattr(_generated(family), quantity)(*args)
    want = HW.HANDWRITTEN[(family, quantity)](*args)
    assert got.shape == want.shape
    assert np.isfinite(want).all()
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL,
                               err_msg=f"{family} {quantity}: generated vs hand-written")
    # one point as plain Python floats (x: a 1-d array when multivariate), as a user would call
    one = [float(a[0]) if np.ndim(a) == 1 else a[0] for a in args]
    got1 = getattr(_generated(family), quantity)(*one)
    want1 = HW.HANDWRITTEN[(family, quantity)](*one)
    assert np.shape(got1) == np.shape(want1) == want.shape[1:]
    np.testing.assert_allclose(got1, want1, rtol=RTOL, atol=ATOL)


def test_every_family_and_quantity_is_written_or_skipped_with_a_reason():
    families = sorted(p.stem for p in (REPO / "families").glob("*.toml"))
    assert sorted(HW.FAMILIES) == families
    for family in families:
        module = _generated(family)
        for q in HW.QUANTITIES:
            if not hasattr(module, q):
                continue
            assert ((family, q) in HW.HANDWRITTEN) != ((family, q) in HW.SKIPPED), (family, q)
    assert all(isinstance(reason, str) and reason for reason in HW.SKIPPED.values())


def test_signatures_match_the_generated_functions():
    import inspect
    for (family, q), fn in HW.HANDWRITTEN.items():
        gen = inspect.signature(getattr(_generated(family), q)).parameters
        hand = [p for p in inspect.signature(fn).parameters.values()
                if p.default is inspect.Parameter.empty]
        assert [p.name for p in hand] == list(gen), (family, q)
