"""Run symbolic work that may not finish under a CPU-time budget.

``sympy.integrate`` and ``summation`` can run for minutes or forever.  They
are run in a forked child process limited with ``RLIMIT_CPU`` (and a wall
clock guard); the result comes back pickled.  The parent is never blocked
past the budget and no thread is left running.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import pickle
import resource
import signal
import threading
import time
from contextlib import contextmanager

import sympy as sp

from ..errors import BudgetExceeded, CommandBudgetSpent

DEFAULT_BUDGET = 20.0
"""CPU seconds of one timed sympy call (an integral, a sum), within the command's budget."""


def _env_budget(default=120.0):
    text = os.environ.get("SYMGEO_BUDGET", "")
    try:
        value = float(text) if text.strip() else default
    except ValueError:
        value = default
    return value if math.isfinite(value) and value > 0 else default


COMMAND_BUDGET = _env_budget()
"""Seconds (wall clock) a whole ``symgeo`` command may take: ``SYMGEO_BUDGET``, default 120."""

_deadline = None
"""CPU time of the finished budgeted children at which all budgeted work stops."""

_wall_deadline = None
"""``time.monotonic()`` at which the whole command stops (None: no command budget)."""

_doing = []
"""What is being derived, innermost last (for the message when a budget is spent)."""


@contextmanager
def doing(what):
    """Label the work inside (``"the Fisher matrix of family 'normal'"``) for budget messages."""
    _doing.append(what)
    try:
        yield
    finally:
        _doing.pop()


def current_work():
    """The innermost label of :func:`doing`, or None."""
    return _doing[-1] if _doing else None


@contextmanager
def command_budget(seconds=None, what="the work inside the time limit"):
    """Stop everything inside after ``seconds`` of wall-clock time (default SYMGEO_BUDGET).

    A SIGALRM timer raises :class:`CommandBudgetSpent` in the main thread,
    wherever the work is (sympy, mpmath, a wait on a timed child, whose
    ``finally`` then kills it); every timed call inside is also given at most
    the time that is left.  Only usable from the main thread.
    """
    global _wall_deadline
    from_env = seconds is None
    seconds = COMMAND_BUDGET if from_env else float(seconds)
    saved_deadline = _wall_deadline
    new = time.monotonic() + seconds
    _wall_deadline = new if saved_deadline is None else min(saved_deadline, new)

    def alarm(signum, frame):
        label = current_work() or what
        more = "SYMGEO_BUDGET=SECONDS" if from_env else "a larger time limit"
        raise CommandBudgetSpent(
            f"the time budget of {seconds:g} s{' (SYMGEO_BUDGET)' if from_env else ''} was "
            f"spent while computing {label}; allow more time with {more}, or ask for numeric "
            "values at given points (--numeric, or Family.numeric in Python)")

    if threading.current_thread() is not threading.main_thread():
        # signals reach the main thread only: here the timed calls are capped, no more
        try:
            yield
        finally:
            _wall_deadline = saved_deadline
        return
    saved_handler = signal.signal(signal.SIGALRM, alarm)
    saved_timer = signal.setitimer(signal.ITIMER_REAL, max(_wall_deadline - time.monotonic(),
                                                           1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, saved_handler)
        _wall_deadline = saved_deadline
        if saved_timer[0] > 0 and saved_deadline is not None:
            signal.setitimer(signal.ITIMER_REAL, max(saved_deadline - time.monotonic(), 1e-3))


def wall_remaining():
    """Seconds left of the enclosing :func:`command_budget` (None: no command budget)."""
    return None if _wall_deadline is None else _wall_deadline - time.monotonic()


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
    wall = wall_remaining()
    if wall is not None:  # never outlive the command (its alarm also interrupts the wait)
        seconds = max(min(seconds, wall), 0.1)
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
