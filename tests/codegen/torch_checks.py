"""The array-API modules on PyTorch tensors, run in a process of their own by
tests/codegen/test_array_api.py when torch is installed (torch's threads and the
test workers' forks do not mix).

    python tests/codegen/torch_checks.py   -> JSON {"checked", "failures", "missing"}

Every function of every catalog family, on float64 tensors, against the numpy
module to 1e-12; a function torch lacks (exp1, ive, iv) must raise
NotImplementedError naming it.
"""

import json
import random
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import symgeo  # noqa: E402
from symgeo.codegen import numpy as N  # noqa: E402

from _points import arguments, generated_module  # noqa: E402


def main():
    checked, failures, missing = 0, [], []
    for name in symgeo.family_names():
        fam = symgeo.get_family(name)
        nmod, amod = generated_module("numpy", name), generated_module("array_api", name)
        rng = random.Random(3)
        for q in N.QUANTITIES:
            fn, fa = getattr(nmod, q, None), getattr(amod, q, None)
            rows = [arguments(fam, q, rng) for _ in range(4)] if fn and fa else [None]
            if rows[0] is None:
                continue
            args = [np.array(c) for c in zip(*rows)]
            want = np.asarray(fn(*args))
            try:
                got = fa(*[torch.asarray(a, dtype=torch.float64) for a in args])
            except NotImplementedError as exc:
                missing.append(f"{name}.{q}: {exc}")
                if "torch" not in str(exc):
                    failures.append(f"{name}.{q}: unclear refusal {exc}")
                continue
            checked += 1
            ok = isinstance(got, torch.Tensor) and got.shape == want.shape and np.allclose(
                got.numpy(), want, rtol=1e-12, atol=1e-13, equal_nan=True)
            if not ok:
                failures.append(f"{name}.{q}: torch {got} != numpy {want}")
    print(json.dumps({"checked": checked, "failures": failures, "missing": missing}))


if __name__ == "__main__":
    main()
