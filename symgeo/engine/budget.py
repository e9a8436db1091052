"""Run symbolic work that may not finish under a CPU-time budget.

``sympy.integrate`` and ``summation`` can run for minutes or forever.  They
are run in a forked child process limited with ``RLIMIT_CPU`` (and a wall
clock guard); the result comes back pickled.  The parent is never blocked
past the budget and no thread is left running.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import resource
from contextlib import contextmanager

import sympy as sp

from ..errors import BudgetExceeded

DEFAULT_BUDGET = float(os.environ.get("SYMGEO_BUDGET", "20"))

_deadline = None
"""CPU time of the finished budgeted children at which all budgeted work stops."""


def _cpu_now():
    # only the timed calls count (each runs in a child): the engine's own rule work
    # in this process is bounded by construction
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


@contextmanager
def total_budget(seconds):
    """Every :func:`run_with_budget` inside shares ``seconds`` of CPU time in all
    (the children's CPU time: the timed calls themselves).

    Nested totals keep the earlier deadline.  Without a total, each call has its
    own budget only, so a derivation made of many calls could take many budgets.
    """
    global _deadline
    saved = _deadline
    new = _cpu_now() + seconds
    _deadline = new if saved is None else min(saved, new)
    try:
        yield
    finally:
        _deadline = saved


def remaining():
    """CPU seconds left of the enclosing :func:`total_budget` (None: no total)."""
    return None if _deadline is None else _deadline - _cpu_now()


def _child(conn, fn, args, seconds):
    try:
        soft = max(1, int(seconds + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 1))
        result = fn(*args)
        conn.send_bytes(pickle.dumps(("ok", result)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        try:
            conn.send_bytes(pickle.dumps(("error", f"{type(exc).__name__}: {exc}")))
        except Exception:  # pragma: no cover - pipe gone
            pass
    finally:
        conn.close()


def run_with_budget(fn, *args, seconds=None, what="computation", safety_net=False, shared=True):
    """Return ``fn(*args)`` computed within ``seconds`` of CPU time.

    ``safety_net``: the budget only guards against a runaway (the result does
    not depend on whether it was spent, e.g. tidying); ``symgeo build``, which
    must not let timing decide its output, then runs ``fn`` under the
    quantity's own budget instead.

    ``shared=False``: a step of a rule, with its own budget even inside a
    :func:`total_budget` (which bounds the fallback to plain sympy, not the rules).

    Raises :class:`BudgetExceeded` when the budget is spent (or the child
    dies), and re-raises the child's exception text as ``BudgetExceeded``'s
    cause-free message when ``fn`` itself failed.
    """
    seconds = DEFAULT_BUDGET if seconds is None else seconds
    left = remaining() if shared else None
    if left is not None:
        if left <= 0:
            raise BudgetExceeded(f"{what}: the total budget of this derivation is spent")
        seconds = min(seconds, left)
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, seconds), daemon=True)
    proc.start()
    child.close()
    try:
        # wall-clock guard: twice the CPU budget plus start-up slack
        if not parent.poll(2 * seconds + 5):
            raise BudgetExceeded(f"{what}: no result within the {seconds:g} s budget")
        status, payload = pickle.loads(parent.recv_bytes())
    except EOFError:
        raise BudgetExceeded(f"{what}: the {seconds:g} s CPU budget was spent") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1)
        parent.close()
    if status == "error":
        raise BudgetExceeded(f"{what}: failed ({payload})")
    return payload


# The plain sympy steps the engine runs under a budget (module level, so a forked
# child can run them; conds="none": the engine checks its answers numerically).
def integrate_job(integrand, var, lo, hi):
    return sp.integrate(integrand, (var, lo, hi), conds="none")


def sum_job(summand, var, lo, hi):
    return sp.summation(summand, (var, lo, hi))
