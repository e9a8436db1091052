"""The build's CPU budget per optional quantity (symgeo.emit.build._OptionalJob):
a quantity over its budget is reported, a stray SIGPROF is not an overrun, and a
planned quantity that overruns once is tried once more."""

import os
import signal
import time
from types import SimpleNamespace

import pytest

from symgeo.emit import build as B
from symgeo.errors import BudgetExceeded

FAM = SimpleNamespace(name="fake")


def _burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def _job(monkeypatch, tmp_path, tasks, budget=0.05, planned=True):
    monkeypatch.setattr(B, "_optional_tasks", lambda fam: tasks)
    job = B._OptionalJob(FAM, budget, tmp_path, {} if planned else None)
    try:
        return job.result(), job
    finally:
        job.kill()


def test_overrun_is_reported_and_the_next_quantity_runs(monkeypatch, tmp_path):
    out, job = _job(monkeypatch, tmp_path,
                    [("slow", lambda: _burn(5)), ("fast", lambda: 1)], planned=False)
    assert isinstance(out["slow"], BudgetExceeded) or "budget" in str(out["slow"])
    assert "slow" in job.timed_out
    assert out["fast"] == 1


def test_a_stray_sigprof_is_not_an_overrun(monkeypatch, tmp_path):
    def poked():
        os.kill(os.getpid(), signal.SIGPROF)  # the armed timer still runs: stale
        _burn(0.01)
        return "done"
    out, job = _job(monkeypatch, tmp_path, [("poked", poked), ("next", lambda: 2)])
    assert out == {"poked": "done", "next": 2}
    assert not job.timed_out


def test_a_planned_overrun_is_tried_once_more(monkeypatch, tmp_path, capsys):
    marker = tmp_path / "first-try"

    def flaky():
        if not marker.exists():
            marker.write_text("x")
            _burn(60)  # over PLANNED_FACTOR x budget = 1 s on the first try only
        return "second try"
    out, job = _job(monkeypatch, tmp_path, [("a", lambda: 1), ("flaky", flaky)])
    assert out == {"a": 1, "flaky": "second try"}
    assert not job.timed_out
    assert "trying once more" in capsys.readouterr().err


@pytest.mark.slow
def test_a_planned_overrun_twice_stands(monkeypatch, tmp_path):
    out, job = _job(monkeypatch, tmp_path, [("slow", lambda: _burn(60))])
    assert "budget" in str(out["slow"])
    assert "slow" in job.timed_out
