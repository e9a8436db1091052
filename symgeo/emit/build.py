"""``symgeo build``: every catalog family's numpy module and LaTeX derivation in one tree.

Layout of the output directory (by default the checkout's ``generated/``)::

    numpy/NAME.py       standalone vectorised module (numpy + scipy.special only)
    latex/NAME.tex      step-by-step derivation of one family
    latex/catalog.tex   all families, one section each
    README.md           index: coordinates, Fisher route, emitted / not derived
    .symgeo-build.json  manifest: each file above that the build wrote, with its sha256

Optional quantities (KL, entropy, connections, curvature, ...) are derived
once per family under a short CPU budget in a child process and shared by the
module and the document; one that fails or runs out of budget is listed as
"not derived" with the reason.  Output is deterministic: sorted, no
timestamps, no absolute paths.

A build never loses a file it did not write (see :func:`write_tree`): it
replaces or removes only files its manifest lists (unchanged since) or that
carry the generated-file marker, refuses symlinks inside the output, and
renders everything before it replaces anything, each file by an atomic rename.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import multiprocessing as mp
import multiprocessing.connection
import os
import pickle
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from ..codegen import numpy as N
from ..declare.catalog import family_names
from ..engine import budget as _budget
from ..engine import expectation as _expectation
from ..errors import BudgetExceeded, DerivationError, SymgeoError
from ..family import get_family
from . import latex as L

DEFAULT_BUILD_BUDGET = 4.0
"""CPU seconds allowed per optional quantity when the build plan is measured."""

PLANNED_FACTOR = 20
"""A quantity the plan says finishes within the budget gets this many times the budget."""

PLAN_PATH = Path(__file__).with_name("build_plan.json")
"""Which optional quantities a build does not attempt: family -> {quantity: reason}.

Timing decides what a build derives, and timing is noise: a quantity that
takes about the budget would be derived on one run and not on the next, so
``generated/`` would not be byte-identical.  ``symgeo build --replan`` measures
every quantity under the budget and records the ones that ran out of time;
an ordinary build skips those (with the recorded reason) and gives every other
quantity PLANNED_FACTOR times the budget, far from the edge.  A family that
is not in the plan is built by timing alone.
"""

JOBS = 2
"""Children deriving optional quantities at the same time (the build machine has 2 cores)."""


MANIFEST = ".symgeo-build.json"
"""The output's manifest: relative path -> sha256 of every file the build wrote there."""

PENDING = ".symgeo-build.pending.json"
"""The manifest-to-be, present only while files are being replaced (see _commit)."""

STAGING_PREFIX = ".symgeo-staging-"
"""Temporary directory inside the output where new files are written before the renames."""

INDEX_FILES = ("README.md", "latex/catalog.tex")
"""Files about the whole catalog: a build with ``--only`` creates them but never replaces them."""

MODULE_BACKENDS = ("numpy", "jax", "array_api")
"""The generated module trees (one directory each), see :mod:`symgeo.codegen.backends`."""

_OWNED_PATH = re.compile(r"((numpy|jax|array_api)/[a-z0-9_]+\.py|latex/[a-z0-9_]+\.tex|README\.md)")
"""The only shapes of path a build writes; a manifest naming anything else is refused."""

STOP_GRACE = 10.0
"""Seconds a stopped build may take to clean up before it is killed (see symgeo.cli.emit)."""


def _looks_like_checkout(path):
    return (path / "pyproject.toml").is_file() and (path / "families").is_dir() and \
        (path / "symgeo").is_dir()


def default_out():
    """``generated`` (relative to the current directory) when that directory is a
    symgeo checkout (pyproject.toml, families/, symgeo/); elsewhere an error.

    There is no fallback to the installed package's own checkout: a build run
    from another directory must say where it writes (``--out DIR``).
    """
    if _looks_like_checkout(Path.cwd()):
        return Path("generated")
    raise SymgeoError("not inside a symgeo checkout (no pyproject.toml, "
                      "families/ and symgeo/ here); give the output directory with --out DIR")


def resolve_out(out=None):
    """The output directory as an absolute path with symlinks resolved (``None``: default_out).

    Resolved once, before the CLI re-executes itself, so the child writes
    exactly where the user asked, whatever its current directory.
    """
    if out is None:
        out = default_out()
    elif not str(out).strip():
        raise SymgeoError("--out is empty; give the output directory, "
                          "e.g. --out generated")
    return Path(os.path.realpath(out))


def die_with_parent(sig=signal.SIGKILL):
    """Ask Linux to send ``sig`` to this process when its parent exits (PR_SET_PDEATHSIG).

    Best effort: does nothing where prctl is missing.  Used by the build's
    worker children and by the CLI's re-executed build, so no orphan keeps
    working after the process that started it is gone.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


class BuildStopped(BaseException):
    """SIGTERM or SIGINT reached a build inside :func:`stop_on_signals`.

    A BaseException (like KeyboardInterrupt), so no ``except Exception`` on the
    way swallows it and every ``finally`` runs: worker children are killed and
    temporary files removed.  ``written``: True when it arrived after the new
    files were in place (they are replaced with the signals held back).
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum
        self.written = False

    @property
    def name(self):
        return signal.Signals(self.signum).name


_STOP = {"signal": None, "hold": False, "signals": ()}
"""The stop signal received inside stop_on_signals (None: none); whether files are
being replaced right now (then the signal is only recorded; see _signals_held);
the signals stop_on_signals handles (empty outside it)."""


def _default_stop_signals_in_child():
    """At fork, inside stop_on_signals: the child dies of a stop signal at once (the
    handler's exception would surface in the child's own code, or be printed)."""
    for sig in _STOP["signals"]:
        try:
            signal.signal(sig, signal.SIG_DFL)
        except ValueError:  # pragma: no cover - forked from another thread
            pass
    _STOP["signals"] = ()


os.register_at_fork(after_in_child=_default_stop_signals_in_child)


@contextmanager
def stop_on_signals(signals=(signal.SIGTERM, signal.SIGINT)):
    """Within: ``signals`` raise :class:`BuildStopped` (in the main thread); restored after.

    The signal is also recorded, and the build checks the record between
    families and before it writes (:func:`raise_if_stopped`): an exception
    raised by a signal handler can be swallowed (a bare ``except:`` in a
    library, a ``__del__`` running at that moment).
    """
    def stop(signum, frame):
        _STOP["signal"] = signum
        if not _STOP["hold"]:
            raise BuildStopped(signum)

    def unraisable(info):  # raised where it can only be printed: the record stays
        if not isinstance(info.exc_value, BuildStopped):
            saved_hook(info)
    saved = {sig: signal.signal(sig, stop) for sig in signals}
    saved_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    _STOP.update(signal=None, signals=tuple(signals))
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        sys.unraisablehook = saved_hook
        _STOP.update(signal=None, signals=())


def raise_if_stopped():
    """Raise BuildStopped if a stop signal arrived (inside stop_on_signals)."""
    if _STOP["signal"] is not None:
        raise BuildStopped(_STOP["signal"])


@contextmanager
def _stop_deferred():
    """Within: a stop signal is only recorded, and raised on leaving.

    For library code that must not be interrupted half-way: multiprocessing's
    ``Process.start`` registers a ``Finalize`` whose weak reference exists before
    its registry key, and a BuildStopped raised between the two leaves a
    finalizer that fails (and prints a traceback) when the process object dies.
    """
    held = _STOP["hold"]
    _STOP["hold"] = True
    try:
        yield
    finally:
        _STOP["hold"] = held
    if not held:
        raise_if_stopped()


def load_plan(path=PLAN_PATH):
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _time_limited(message):
    return "budget" in message.lower()


def _optional_tasks(fam):
    """(name, callable) for every optional quantity and section this symgeo offers."""
    tasks = [(q, (lambda q=q: N.derive(fam, q))) for q, spec in N.QUANTITIES.items()
             if spec.requires and N.available(fam, q)]
    tasks += [(name, (lambda sec=sec: sec.compute(fam))) for name, sec in L.SECTIONS.items()
              if not sec.quantity and callable(getattr(fam, sec.requires, None))]
    return tasks


class _OutOfTime(BaseException):
    """Raised by the CPU timer inside the build child (BaseException: not swallowed)."""


class _RouteOutOfTime(BaseException):
    """An inner budgeted route ran out of its own CPU time (becomes BudgetExceeded)."""


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _inline_budget(state):
    """A drop-in for symgeo.engine.budget.run_with_budget that runs in this process.

    In the build child every CPU second must be counted by one timer; forked
    grandchildren would escape it (and cost a fork each).  The route gets
    ``min(seconds, cap)`` with cap the build budget, independently of what is
    left of the quantity's own budget (which then may run out right after).
    """

    def run(fn, *args, seconds=None, what="computation", safety_net=False, shared=True):
        if safety_net:
            try:
                return fn(*args)
            except SymgeoError:
                raise
            except Exception as exc:  # noqa: BLE001 - as run_with_budget reports it
                raise BudgetExceeded(f"{what}: failed ({type(exc).__name__}: {exc})") from None
        seconds = _budget.DEFAULT_BUDGET if seconds is None else seconds
        seconds = min(seconds, state.get("cap", seconds))  # as when the plan was measured
        remaining = signal.getitimer(signal.ITIMER_PROF)[0]
        # the route always gets its own min(seconds, cap), whatever is left of the
        # quantity's budget: so a route succeeds or fails the same way when the plan is
        # measured and in a planned build (only the quantity's total decides the plan)
        inner = not state["inner"]
        t0 = _cpu()
        if inner:
            state["inner"] = True
            signal.setitimer(signal.ITIMER_PROF, seconds)
        try:
            return fn(*args)
        except _RouteOutOfTime:
            raise BudgetExceeded(f"{what}: the {seconds:g} s CPU budget was spent") from None
        except SymgeoError:
            raise
        except Exception as exc:  # noqa: BLE001 - as run_with_budget reports it
            raise BudgetExceeded(f"{what}: failed ({type(exc).__name__}: {exc})") from None
        finally:
            if inner:
                state["closing"] = True  # the route is done: a late signal of its timer is stale
                signal.setitimer(signal.ITIMER_PROF,
                                 max(remaining - (_cpu() - t0), 1e-3) if remaining else 0)
                state["inner"] = state["closing"] = False
            if state.get("log"):
                print(f"  route {what}: {_cpu() - t0:.2f} s CPU of {seconds:g}",
                      file=sys.stderr, flush=True)
    return run


def _worker_signals():
    """In a forked worker: a stop signal ends it at once (the parent's handler would raise
    BuildStopped inside the worker's own code), and so does the build's death."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    die_with_parent(signal.SIGKILL)


def _stop_if_signalled(proc):
    """BuildStopped when the joined worker ``proc`` died of a stop signal: the build's
    own, sent to the whole group, maybe before this process ran its handler (the build
    stops; it neither retries the worker's tasks nor reports them as failed)."""
    code = proc.exitcode
    if code is not None and -code in (signal.SIGTERM, signal.SIGINT):
        raise BuildStopped(-code)


def _child(path, tasks, budget, cap):
    _worker_signals()
    state = {"inner": False, "armed": False, "closing": False, "cap": cap,
             "log": bool(os.environ.get("SYMGEO_BUILD_TIMINGS"))}

    def alarm(signum, frame):
        # A SIGPROF is handled between two bytecodes, so one raised at the very end of a
        # timer's span may be handled after the next span was armed: it is stale then
        # (the armed timer still runs) and must not end the next quantity or route.
        if not state["armed"] or state["closing"] or signal.getitimer(signal.ITIMER_PROF)[0] > 0:
            return
        if state["inner"]:
            raise _RouteOutOfTime()
        raise _OutOfTime()
    _budget.run_with_budget = _inline_budget(state)  # every route calls it through the module
    _expectation.PLAIN_INTEGRATION = False
    total = int(2 * len(tasks) * budget + 5)  # a route may overrun its quantity by cap
    resource.setrlimit(resource.RLIMIT_CPU, (total, total + 1))
    signal.signal(signal.SIGPROF, alarm)
    try:
        for name, fn in tasks:
            t0 = _cpu()
            try:
                state["armed"] = True
                signal.setitimer(signal.ITIMER_PROF, budget)
                result = ("ok", fn())
            except _OutOfTime:
                result = ("timeout", f"not derived within the {cap:g} s CPU budget of a build")
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                msg = " ".join(str(exc).split())
                if not isinstance(exc, SymgeoError):
                    msg = f"{type(exc).__name__}: {msg}"
                result = ("timeout" if _time_limited(msg) else "error", msg)
            finally:
                state["armed"] = False
                signal.setitimer(signal.ITIMER_PROF, 0)
            if state["log"]:
                print(f"{path.rsplit('/', 1)[-1].split('.')[0]} {name}: {_cpu() - t0:.2f} s CPU, "
                      f"{result[0]}", file=sys.stderr, flush=True)
            try:
                data = pickle.dumps((name,) + result)
            except Exception as exc:  # noqa: BLE001
                data = pickle.dumps((name, "error", f"result not picklable: {exc}"))
            with open(path, "ab") as fh:  # one record per task: kept if the child is killed
                fh.write(len(data).to_bytes(8, "little") + data)
    finally:
        os._exit(0)


class _OptionalJob:
    """The optional quantities of one family, derived in a forked child (see derive_optional)."""

    def __init__(self, fam, budget, tmpdir, skip=None):
        self.skip = dict(skip or {})
        self.tasks = [t for t in _optional_tasks(fam) if t[0] not in self.skip]
        self.path = Path(tmpdir) / f"{fam.name}.pickles"
        self.proc = None
        self.budget = budget
        self.timed_out = {}
        self.fam, self.planned = fam, skip is not None
        # planned: far from the budget's edge; else timing decides
        self.outer = budget * PLANNED_FACTOR if self.planned else budget
        self._start(self.tasks)

    def _start(self, tasks):
        if tasks:
            self.proc = mp.get_context("fork").Process(
                target=_child, args=(str(self.path), tasks, self.outer, self.budget),
                daemon=False)
            with _stop_deferred():
                self.proc.start()
            self.deadline = time.monotonic() + 4 * len(tasks) * self.outer + 10

    def result(self):
        out = self._collect()
        late = [t for t in self.tasks if t[0] in self.timed_out]
        if self.planned and late:
            # The plan measured these well within the budget, and they were given
            # PLANNED_FACTOR times more: an anomaly of this run (a killed worker, a
            # starved machine), not of the derivation.  One more try in a fresh worker,
            # so that a build's output does not depend on it; a second overrun stands.
            print(f"symgeo build: {self.fam.name}: {', '.join(n for n, _ in late)} not done "
                  "within the planned budget; trying once more", file=sys.stderr, flush=True)
            self.path.unlink(missing_ok=True)
            self.timed_out = {}
            self._start(late)
            out.update(self._collect(late))
        for name, reason in self.skip.items():
            out[name] = BudgetExceeded(reason)
        return out

    def _collect(self, tasks=None):
        out = {}
        if self.proc is not None:
            self.proc.join(max(0.0, self.deadline - time.monotonic()))
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join()
            _stop_if_signalled(self.proc)
            data = self.path.read_bytes() if self.path.exists() else b""
            while len(data) >= 8:
                n = int.from_bytes(data[:8], "little")
                if len(data) < 8 + n:
                    break
                name, status, payload = pickle.loads(data[8:8 + n])
                out[name] = payload if status == "ok" else DerivationError(payload)
                if status == "timeout":
                    self.timed_out[name] = payload
                data = data[8 + n:]
        for name, _ in self.tasks if tasks is None else tasks:
            if name not in out:
                msg = f"not derived within the {self.budget:g} s CPU budget of a build"
                out[name] = BudgetExceeded(msg)
                self.timed_out[name] = msg
        return out

    def kill(self):
        """Stop the child now (the build was stopped or failed); harmless when it is done."""
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def derive_optional(fam, budget=DEFAULT_BUILD_BUDGET):
    """Every optional quantity/section of ``fam``: name -> value or SymgeoError.

    They run one after the other in one forked child (so they share the
    family's cache: curvature reuses the connection), each under ``budget``
    seconds of CPU time (CPU, not wall clock, so a loaded machine gives the
    same result), the child as a whole under a CPU and a wall-clock limit.
    """
    with tempfile.TemporaryDirectory(prefix="symgeo-build-") as tmp:
        job = _OptionalJob(fam, budget, tmp)
        try:
            return job.result()
        finally:
            job.kill()


def derive_family(fam, budget=DEFAULT_BUILD_BUDGET, optional=None):
    """Everything a build writes for one family: (module source, emitted, skipped,
    routes of the divergences, tex context)."""
    t0 = time.perf_counter()
    if optional is None:
        fam.fisher_result(), fam.cramer_rao(), fam.jeffreys_prior()  # core: in this process
        optional = derive_optional(fam, budget)
    derived = {q: v for q, v in optional.items() if q in N.QUANTITIES}
    src, emitted, skipped, routes = N.module_report(fam, skip_failures=True, derived=derived)
    # the same derived values, printed for each other backend (no derivation again)
    others = {b: N.module_report(fam, skip_failures=True, derived=derived, backend=b)[0]
              for b in MODULE_BACKENDS if b != "numpy"}
    sections = {}
    for name, sec in L.SECTIONS.items():
        key = sec.quantity or name
        if key not in optional:
            continue
        value = optional[key]
        try:
            if isinstance(value, BaseException):
                raise value
            sections[name] = sec.items(fam, value) if sec.quantity else value
        except SymgeoError as exc:
            sections[name] = " ".join(str(exc).split())
    if os.environ.get("SYMGEO_BUILD_TIMINGS"):
        print(f"{fam.name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return {"numpy": src, **others}, emitted, skipped, routes, L.family_context(fam, sections)


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def build(out=None, budget=DEFAULT_BUILD_BUDGET, names=None, log=None, replan=False):
    """Write the generated tree into ``out``; returns the files it holds for this build
    (relative paths, sorted; written now or already identical).

    ``out``: see :func:`resolve_out` (``None``: ``./generated`` in a checkout).
    ``names``: only these families (``--only``): their ``numpy/NAME.py`` and
    ``latex/NAME.tex``; the index files are created when missing, never replaced,
    and no other file is removed.  The output is checked (symlinks, names)
    before the derivations and written only after all of them (:func:`write_tree`).

    ``replan``: measure every optional quantity under ``budget`` and rewrite the
    build plan (PLAN_PATH) with those that ran out of time (see PLAN_PATH).
    """
    out = resolve_out(out)
    partial = bool(names)
    names = sorted(set(names or family_names()))
    unknown = sorted(set(names) - set(family_names()))
    if unknown:
        raise SymgeoError(f"unknown family {unknown[0]!r} in --only; "
                          f"see 'symgeo list'")
    rels = [f"{b}/{n}.py" for b in MODULE_BACKENDS for n in names] + \
        [f"latex/{n}.tex" for n in names]
    check_output(out, rels + list(INDEX_FILES))  # before the work, again before writing
    check_owned(out, rels + ([] if partial else list(INDEX_FILES)))
    saved = _budget.DEFAULT_BUDGET
    _budget.DEFAULT_BUDGET = min(saved, budget / 2)  # inner sympy routes give up early
    try:
        with _expectation.rules_only():  # timing must not decide what a build derives
            files = _render(names, budget, log, replan)
    finally:
        _budget.DEFAULT_BUDGET = saved
    return write_tree(out, files, partial=partial)


def _render(names, budget, log, replan=False):
    names = sorted(names or family_names())
    files = {}
    contexts, rows, details, route_rows = [], [], [], []
    fams, jobs, optional = {}, {}, {}
    plan = {} if replan else load_plan()
    measured = {}
    with tempfile.TemporaryDirectory(prefix="symgeo-build-") as tmp:
        # The core (Fisher, inverse, Jeffreys) is derived here, then each family's
        # optional quantities go to a child, at most JOBS at a time, while the next
        # family's core is derived: the results do not depend on the schedule.
        try:
            for name in names:
                raise_if_stopped()
                fam = fams[name] = get_family(name)
                fam.fisher_result(), fam.cramer_rao(), fam.jeffreys_prior(), fam.hessian()
                while len(jobs) >= JOBS:
                    first = next(iter(jobs))
                    optional[first], measured[first] = jobs[first].result(), jobs[first].timed_out
                    del jobs[first]
                jobs[name] = _OptionalJob(fam, budget, tmp, None if replan else plan.get(name))
            for name, job in jobs.items():
                optional[name], measured[name] = job.result(), job.timed_out
        finally:  # stopped or failed: no worker outlives the build
            for job in jobs.values():
                job.kill()
    if replan:
        _write_plan({**load_plan(), **measured})
    derived = _derive_all(fams, optional, budget, names)
    for name in names:
        raise_if_stopped()
        fam = fams[name]
        sources, emitted, skipped, routes, ctx = derived[name]
        for backend, src in sources.items():
            files[f"{backend}/{name}.py"] = src
        files[f"latex/{name}.tex"] = L.render_document([ctx])
        contexts.append(ctx)
        not_sections = [(o["name"], o["reason"]) for o in ctx["optional"] if o["reason"]]
        missing = dict(skipped)
        for sec, reason in not_sections:
            if sec not in emitted:  # a numeric route stands in for a missing closed form
                missing.setdefault(sec, reason)
        route_rows.append(f"| {name} | " + " | ".join(
            routes.get(q, "-") for q in N.ROUTED_QUANTITIES) + " |")
        coords = ", ".join(c.name for c in fam.coordinates)
        rows.append(f"| [{name}](numpy/{name}.py) | {_md(coords)} | "
                    f"{_md(fam.fisher_result().route_summary)} | {', '.join(emitted)} | "
                    f"{', '.join(sorted(missing)) or '-'} |")
        for q in sorted(missing):
            details.append(f"- {name}, {q}: {_md(missing[q])}")
        if log:
            log(f"{name}: {len(emitted)} numeric quantities, {len(missing)} not derived")
    files["latex/catalog.tex"] = L.render_document(contexts, catalog=True)
    index = ["# Generated by `symgeo build`. Do not edit.", "",
             "Rebuild with `symgeo build` after changing families or quantities.", "",
             "- `numpy/NAME.py`: standalone vectorised functions (numpy and scipy.special only)",
             "- `jax/NAME.py`: the same functions in jax.numpy, pure and traceable (jit, vmap, "
             "grad), numeric routes included",
             "- `array_api/NAME.py`: the same functions for any array-API namespace "
             "(numpy, JAX, PyTorch, CuPy, Dask arrays; array_api_compat), special functions "
             "by library",
             "- `latex/NAME.tex`: step-by-step derivation; `latex/catalog.tex`: all families", "",
             "| family | coordinates | route of the Fisher matrix | numeric quantities | "
             "not derived |", "|---|---|---|---|---|", *rows, ""]
    index += ["## How each divergence is computed", "",
              "closed form: derived symbolically; exact series: a closed form with an "
              "infinite sum; quadrature, truncated series, finite sum: the numeric route "
              "(see the function's docstring for the rule and its error bound).", "",
              "| family | " + " | ".join(N.ROUTED_QUANTITIES) + " |",
              "|---|" + "---|" * len(N.ROUTED_QUANTITIES), *route_rows, ""]
    if details:
        index += ["## Not derived", "", *details, ""]
    files["README.md"] = "\n".join(index)
    return files


_FORKED = {}
"""What the code-generation workers read (inherited at fork, never pickled)."""


def _derive_to_file(name, path):
    """In a forked worker: derive_family of ``name``, pickled into ``path``."""
    _worker_signals()
    try:
        out = ("ok", derive_family(_FORKED["fams"][name], _FORKED["budget"],
                                   _FORKED["optional"][name]))
    except Exception as exc:  # noqa: BLE001 - handed to the build, raised there
        out = ("error", exc)
    Path(path).write_bytes(pickle.dumps(out))


def _derive_all(fams, optional, budget, names):
    """name -> :func:`derive_family` of every family, in JOBS forked workers at a time
    (the code generation of the whole catalog took 72 s of a 114 s build in one process).

    Every worker is forked from the same state of this process, which reads nothing
    back (no sympy object is rebuilt here) until all have finished: sympy keeps equal
    expressions in its caches in the argument order of their first construction, and
    the printers follow it, so a family printed after others in one process may
    differ from one printed alone.  Here each family's output depends on the
    derivations before the code generation only, never on the schedule.  A stop
    signal reaches the workers (the process group); those still running are killed."""
    if len(names) < 2:
        return {n: derive_family(fams[n], budget, optional[n]) for n in names}
    _FORKED.update(fams=fams, optional=optional, budget=budget)
    context = mp.get_context("fork")
    raw, running = {}, {}
    # the largest derived results first (a proxy of the printing work), so that the
    # longest family does not start last
    pending = sorted(names, key=lambda n: (-len(pickle.dumps(optional[n])), n))
    try:
        with tempfile.TemporaryDirectory(prefix="symgeo-build-") as tmp:
            while pending or running:
                while pending and len(running) < JOBS:
                    name = pending.pop(0)
                    path = Path(tmp) / f"{name}.pickle"
                    proc = context.Process(target=_derive_to_file, args=(name, str(path)))
                    with _stop_deferred():
                        proc.start()
                        running[name] = (proc, path)
                mp.connection.wait([proc.sentinel for proc, _ in running.values()])
                for name in [n for n, (proc, _) in running.items() if not proc.is_alive()]:
                    proc, path = running.pop(name)
                    proc.join()
                    _stop_if_signalled(proc)
                    if not path.exists():
                        raise SymgeoError(f"family {name!r}: the code generation worker "
                                          f"died (exit status {proc.exitcode})")
                    raw[name] = path.read_bytes()
    finally:
        for proc, _ in running.values():
            proc.kill()
            proc.join()
        _FORKED.clear()
    results = {}
    for name in names:  # only now: unpickling builds sympy objects here
        status, value = pickle.loads(raw[name])
        if status == "error":
            raise value
        results[name] = value
    return results


def _write_plan(plan, path=PLAN_PATH):
    text = json.dumps({k: dict(sorted(v.items())) for k, v in sorted(plan.items())},
                      indent=1, sort_keys=True, ensure_ascii=True)
    path = Path(path)
    staged = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        _write_new(staged, (text + "\n").encode("utf-8"))
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


# ----------------------------------------------------------------------
# writing the tree: ownership (manifest, markers), symlinks, atomic replacement

def sha256(data):
    """Hex sha256 of ``data`` (bytes): the manifest's record of a file's content."""
    return hashlib.sha256(data).hexdigest()


def manifest_bytes(entries):
    """The manifest file's content: deterministic (sorted keys, no time, no absolute path)."""
    doc = {"about": "written by symgeo build: each file it wrote here and its sha256; "
                    "it never replaces or removes a file edited since",
           "files": dict(sorted(entries.items()))}
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True) + "\n").encode()


def _read_manifest(path):
    """{relative path: sha256} from a manifest (or pending journal) file; {} when absent.

    Refused unless every path is one a build writes (so a doctored manifest
    cannot make the build remove a file outside numpy/, latex/ and README.md).
    """
    if not path.exists():
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        ok = all(isinstance(h, str) and _OWNED_PATH.fullmatch(r) for r, h in files.items())
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise SymgeoError(f"{path} is not a manifest written by symgeo build; "
                          f"move it away (files carrying the generated marker are adopted)")
    return dict(files)


def has_generated_marker(rel, data):
    r"""Whether ``data`` at ``rel`` is a file a symgeo build wrote (before manifests existed).

    The convention, one marker per kind of file (what the templates print):
    ``numpy/NAME.py``: the first line says "generated by symgeo" and "Do not edit";
    ``README.md``: first line "# Generated by `symgeo build`";
    ``latex/catalog.tex``: ``\author{generated by symgeo}``;
    ``latex/NAME.tex``: begins with ``\documentclass`` and has the line
    ``Family \texttt{NAME}.`` (the family section's first line).
    """
    text = data.decode("utf-8", errors="replace")
    first = text.split("\n", 1)[0]
    if rel == "README.md":
        return first.startswith("# Generated by `symgeo build`")
    if rel == "latex/catalog.tex":
        return text.startswith("\\documentclass") and "\\author{generated by symgeo}" in text
    if rel.startswith("latex/") and rel.endswith(".tex"):
        name = L.escape_tex(Path(rel).stem)
        return text.startswith("\\documentclass") and f"\nFamily \\texttt{{{name}}}.\n" in text
    if rel.split("/")[0] in MODULE_BACKENDS and rel.endswith(".py"):
        return "generated by symgeo" in first and "Do not edit" in first
    return False


def check_output(out, rels):
    """Refuse (SymgeoError, one line) an output where the build could follow a link.

    ``out`` itself may be reached through symlinks (it is resolved); below it,
    no directory or file the build reads, writes or removes (``rels``, the
    manifest, the journal) may be a symlink, a directory on the way (numpy/,
    latex/) must be a directory and a file a regular file.  Nothing is written
    when this fails.
    """
    if out.exists() and not out.is_dir():
        raise SymgeoError(f"{out} is not a directory; give another --out")
    kinds = {}
    for rel in list(rels) + [MANIFEST, PENDING]:
        parts = Path(rel).parts
        for i in range(len(parts)):
            kinds[Path(*parts[:i + 1])] = "file" if i == len(parts) - 1 else "directory"
    for rel, kind in sorted(kinds.items()):
        path = out / rel
        if path.is_symlink():
            raise SymgeoError(f"{path} is a symlink; the build does not write "
                              f"through links: replace it with a plain {kind}")
        if path.exists() and not (path.is_dir() if kind == "directory" else path.is_file()):
            raise SymgeoError(f"{path} is not a {kind}; move it away")


def _current(out, rel):
    """The bytes at out/rel, or None when there is no file."""
    path = out / rel
    return path.read_bytes() if path.is_file() else None


def _known_hashes(out, manifest, pending):
    """The manifest, completed from the journal of a build killed while replacing files:
    a journal entry counts once the file on disk has that content (it was replaced)."""
    known = dict(manifest)
    for rel, digest in pending.items():
        data = _current(out, rel)
        if data is not None and sha256(data) == digest:
            known[rel] = digest
    return known


def check_owned(out, rels):
    """Before the work: refuse (as :func:`plan_changes` will) a file at one of ``rels``
    that the build may not replace, so that a refusal does not wait for the derivations.
    Every file a build writes carries its marker, so a file without it can never turn
    out byte-identical to the new content."""
    if not out.is_dir():
        return
    known = _known_hashes(out, _read_manifest(out / MANIFEST), _read_manifest(out / PENDING))
    plan_changes(out, {rel: None for rel in rels if (out / rel).is_file()}, known, set())


def plan_changes(out, wanted, known, stale):
    """What to write and remove, or a SymgeoError naming the first file that is not ours.

    ``wanted``: rel -> bytes the build produces; ``known``: rel -> sha256 the
    manifest records; ``stale``: rels the build owned and no longer produces.
    A file on disk is replaced when it is byte-identical to the new content
    (then nothing is written), when the manifest records its current content,
    or when the manifest does not list it but it carries the generated marker
    (:func:`has_generated_marker`; how a tree from before manifests is adopted).
    A listed file whose content differs from the record was edited: refused;
    an unlisted file without the marker is someone else's: refused.  A stale
    file is removed only when its content is the recorded one.
    Returns (writes: rel -> bytes, removals: [rel]).
    """
    writes, refused = {}, []
    for rel, data in sorted(wanted.items()):
        cur = _current(out, rel)
        if cur == data:
            continue
        if cur is None or (sha256(cur) == known[rel] if rel in known
                           else has_generated_marker(rel, cur)):
            writes[rel] = data
        else:
            refused.append((rel, "edited since the last build" if rel in known
                            else "not written by symgeo build"))
    removals = []
    for rel in sorted(stale):
        cur = _current(out, rel)
        if cur is None:
            continue
        if sha256(cur) == known[rel]:
            removals.append(rel)
        else:
            refused.append((rel, "edited since the last build (and no longer built)"))
    if refused:
        rel, why = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise SymgeoError(f"{out / rel} was {why}{more}; nothing was written: "
                          f"move it away or delete it, then build again")
    return writes, removals


def write_tree(out, files, partial=False):
    """Put ``files`` (rel -> text) into ``out`` without losing anyone's file; returns the rels.

    Convention: ``out/.symgeo-build.json`` (MANIFEST) lists every file the build
    wrote with its sha256.  The build replaces only files it owns (see
    :func:`plan_changes`), and never touches a file outside its manifest and
    its own paths.  A full build removes the files the manifest lists and the
    build no longer produces; ``partial`` (``--only``) removes nothing, does
    not replace the index files (INDEX_FILES; created when missing) and keeps
    the other families' manifest entries.  Refusals happen before anything is
    written.  Writing: see :func:`_commit`.  Builds into one directory take
    turns (a lock on the directory).
    """
    raise_if_stopped()
    check_output(out, list(files))
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        _remove_leftover_staging(out)
        known = _known_hashes(out, _read_manifest(out / MANIFEST), _read_manifest(out / PENDING))
        wanted = {rel: text.encode("utf-8") for rel, text in files.items()
                  if not (partial and rel in INDEX_FILES and (out / rel).exists())}
        stale = set() if partial else set(known) - set(wanted)
        check_output(out, list(wanted) + sorted(stale))
        writes, removals = plan_changes(out, wanted, known, stale)
        entries = {rel: digest for rel, digest in known.items()
                   if partial and rel not in wanted and (out / rel).is_file()}
        entries.update((rel, sha256(data)) for rel, data in wanted.items())
        manifest = manifest_bytes(entries)
        if writes or removals or _current(out, MANIFEST) != manifest or \
                (out / PENDING).exists():
            _commit(out, writes, removals, manifest)
    return sorted(wanted)


@contextmanager
def _locked(out):
    """An exclusive flock on the directory ``out`` (released when the process dies)."""
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _remove_leftover_staging(out):
    """Remove the staging directories of builds killed while writing (under the lock: no
    build is using them; only a build creates names starting with STAGING_PREFIX)."""
    for path in sorted(out.glob(STAGING_PREFIX + "*")):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)


def _write_new(path, data):
    """Create ``path`` (it must not exist) with ``data``, flushed to disk."""
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _signals_held():
    """Within: a stop signal (see :func:`stop_on_signals`) waits; it is raised on leaving,
    as a BuildStopped marked ``written`` (the block's work was done).  One that
    came before is raised on entering (nothing written).

    A flag, not a blocked signal mask: the process has other threads (numpy's
    BLAS), which would take a signal the main thread blocks.
    """
    raise_if_stopped()
    _STOP["hold"] = True
    try:
        yield
    finally:
        _STOP["hold"] = False
    if _STOP["signal"] is not None:
        exc = BuildStopped(_STOP["signal"])
        exc.written = True
        raise exc


def _commit(out, writes, removals, manifest):
    """Replace files in ``out``: every new file is first written whole into a staging
    directory inside ``out`` (same filesystem), then moved into place by os.replace.

    Each file is therefore always either its old or its new version, never partial.
    The journal (PENDING: the new manifest) is in place before the first rename
    and gone after the manifest's own rename, so a build killed in between
    leaves the renamed files recognised as its own (:func:`_known_hashes`).
    SIGTERM and SIGINT wait until the renames are done (a few milliseconds).
    """
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    try:
        staged = {}
        for i, (rel, data) in enumerate(sorted(writes.items())):
            staged[rel] = staging / f"{i:04d}"
            _write_new(staged[rel], data)
        _write_new(staging / "manifest", manifest)
        _write_new(staging / "pending", manifest)
        dirs = {out} | {(out / rel).parent for rel in [*writes, *removals]}
        with _signals_held():
            os.replace(staging / "pending", out / PENDING)
            for rel, path in staged.items():
                (out / rel).parent.mkdir(exist_ok=True)
                os.replace(path, out / rel)
            for rel in removals:
                (out / rel).unlink()
            os.replace(staging / "manifest", out / MANIFEST)
            (out / PENDING).unlink()
            for d in sorted(dirs):
                _fsync_dir(d)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
