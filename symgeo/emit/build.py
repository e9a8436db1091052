"""``symgeo build``: every catalog family's numpy module and LaTeX derivation in one tree.

Layout of the output directory (by default the checkout's ``generated/``)::

    numpy/NAME.py       standalone vectorised module (numpy + scipy.special only)
    latex/NAME.tex      step-by-step derivation of one family
    latex/catalog.tex   all families, one section each
    README.md           index: coordinates, Fisher route, emitted / not derived

Optional quantities (KL, entropy, connections, curvature, ...) are derived
once per family under a short CPU budget in a child process and shared by the
module and the document; one that fails or runs out of budget is listed as
"not derived" with the reason.  Output is deterministic: sorted, no
timestamps, no absolute paths.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
import resource
import signal
import sys
import tempfile
import time
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


def _looks_like_checkout(path):
    return (path / "pyproject.toml").is_file() and (path / "families").is_dir() and \
        (path / "symgeo").is_dir()


def default_out():
    """``./generated`` in a checkout (current directory first, then the package's own)."""
    cwd = Path.cwd()
    if _looks_like_checkout(cwd):
        return Path("generated")
    repo = Path(__file__).resolve().parent.parent.parent
    if _looks_like_checkout(repo):
        return repo / "generated"
    raise SymgeoError("symgeo build: not inside a symgeo checkout (no pyproject.toml and "
                      "families/ here); give the output directory with --out DIR")


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
                state["inner"] = False
                signal.setitimer(signal.ITIMER_PROF,
                                 max(remaining - (_cpu() - t0), 1e-3) if remaining else 0)
    return run


def _child(path, tasks, budget, cap):

    state = {"inner": False, "cap": cap}

    def alarm(signum, frame):
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
            try:
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
                signal.setitimer(signal.ITIMER_PROF, 0)
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
        # planned (skip is not None): far from the budget's edge; else timing decides
        outer = budget * PLANNED_FACTOR if skip is not None else budget
        if self.tasks:
            self.proc = mp.get_context("fork").Process(
                target=_child, args=(str(self.path), self.tasks, outer, budget), daemon=False)
            self.proc.start()
            self.deadline = time.monotonic() + 4 * len(self.tasks) * outer + 10

    def result(self):
        out = {}
        if self.proc is not None:
            self.proc.join(max(0.0, self.deadline - time.monotonic()))
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join()
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
        for name, _ in self.tasks:
            if name not in out:
                msg = f"not derived within the {self.budget:g} s CPU budget of a build"
                out[name] = BudgetExceeded(msg)
                self.timed_out[name] = msg
        for name, reason in self.skip.items():
            out[name] = BudgetExceeded(reason)
        return out


def derive_optional(fam, budget=DEFAULT_BUILD_BUDGET):
    """Every optional quantity/section of ``fam``: name -> value or SymgeoError.

    They run one after the other in one forked child (so they share the
    family's cache: curvature reuses the connection), each under ``budget``
    seconds of CPU time (CPU, not wall clock, so a loaded machine gives the
    same result), the child as a whole under a CPU and a wall-clock limit.
    """
    with tempfile.TemporaryDirectory(prefix="symgeo-build-") as tmp:
        return _OptionalJob(fam, budget, tmp).result()


def derive_family(fam, budget=DEFAULT_BUILD_BUDGET, optional=None):
    """Everything a build writes for one family: (module source, emitted, skipped,
    routes of the divergences, tex context)."""
    t0 = time.perf_counter()
    if optional is None:
        fam.fisher_result(), fam.cramer_rao(), fam.jeffreys_prior()  # core: in this process
        optional = derive_optional(fam, budget)
    derived = {q: v for q, v in optional.items() if q in N.QUANTITIES}
    src, emitted, skipped, routes = N.module_report(fam, skip_failures=True, derived=derived)
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
    return src, emitted, skipped, routes, L.family_context(fam, sections)


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def build(out=None, budget=DEFAULT_BUILD_BUDGET, names=None, log=None, replan=False):
    """Write the generated tree into ``out``; returns the list of files written (relative).

    ``replan``: measure every optional quantity under ``budget`` and rewrite the
    build plan (PLAN_PATH) with those that ran out of time (see PLAN_PATH).
    """
    out = Path(out) if out is not None else default_out()
    saved = _budget.DEFAULT_BUDGET, _expectation.PLAIN_INTEGRATION
    _budget.DEFAULT_BUDGET = min(saved[0], budget / 2)  # inner sympy routes give up early
    _expectation.PLAIN_INTEGRATION = False  # timing must not decide what a build derives
    try:
        files = _render(names, budget, log, replan)
    finally:
        _budget.DEFAULT_BUDGET, _expectation.PLAIN_INTEGRATION = saved
    _write(out, files)
    return sorted(files)


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
        for name in names:
            fam = fams[name] = get_family(name)
            fam.fisher_result(), fam.cramer_rao(), fam.jeffreys_prior(), fam.hessian()
            while len(jobs) >= JOBS:
                first = next(iter(jobs))
                job = jobs.pop(first)
                optional[first], measured[first] = job.result(), job.timed_out
            jobs[name] = _OptionalJob(fam, budget, tmp, None if replan else plan.get(name))
        for name, job in jobs.items():
            optional[name], measured[name] = job.result(), job.timed_out
    if replan:
        _write_plan({**load_plan(), **measured})
    for name in names:
        fam = fams[name]
        src, emitted, skipped, routes, ctx = derive_family(fam, budget, optional[name])
        files[f"numpy/{name}.py"] = src
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


def _write_plan(plan, path=PLAN_PATH):
    text = json.dumps({k: dict(sorted(v.items())) for k, v in sorted(plan.items())},
                      indent=1, sort_keys=True, ensure_ascii=True)
    Path(path).write_text(text + "\n", encoding="utf-8")


def _write(out, files):
    for sub in ("numpy", "latex"):
        d = out / sub
        d.mkdir(parents=True, exist_ok=True)
        for old in sorted(d.iterdir()):
            rel = f"{sub}/{old.name}"
            if old.suffix in (".py", ".tex") and rel not in files:
                old.unlink()
    for rel, text in sorted(files.items()):
        path = out / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
