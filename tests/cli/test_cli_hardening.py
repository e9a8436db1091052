"""Issue 11 on the command line: every bad input is one line and a non-zero exit, every
command ends within its budget, and declarations are validated where it matters."""

import os
import signal
import subprocess
import sys
import time

import pytest

from symgeo.cli import main

NONID = '''
name = "nonid"
variables = ["x"]
support = { kind = "real" }
log_density = "-(x - a - b)**2/2 - log(2*pi)/2"

[[coordinates]]
name = "a"
domain = "real"

[[coordinates]]
name = "b"
domain = "real"
'''

ONE_POINT = '''
name = "one_point"
variables = ["x"]
support = { kind = "real" }
log_density = "-(x - a)**2/(2*b**2) - log(b) - log(2*pi)/2 + log(1 + (a + 167/500)**2)"

[[coordinates]]
name = "a"
domain = "real"

[[coordinates]]
name = "b"
domain = "positive"
'''

POLYGAMMA = '''
name = "pg"
variables = ["x"]
support = { kind = "real" }
log_density = "-(x - mu - polygamma(10**9, a))**2/2 - log(2*pi)/2"

[[coordinates]]
name = "mu"
domain = "real"

[[coordinates]]
name = "a"
domain = "positive"
'''


def one_line_error(capsys, argv, code=2, match=None):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("symgeo") and err.count("\n") == 1, err
    assert "Traceback" not in err
    if match:
        assert match in err, err
    return err


@pytest.mark.parametrize("argv, match", [
    (["kl", "normal", "--at", "1e999999999,1", "--to", "1,1"], "exponent"),
    (["kl", "normal", "--at", "1" * 5000 + ",1", "--to", "1,2"], "5000 digits"),
    (["kl", "normal", "--at", "1,1", "--to", "1,2", "--digits", "100000000"], "between 1 and"),
    (["kl", "normal", "--at", "1,1", "--to", "1,2", "--digits", "-5"], "between 1 and"),
    (["verify", "normal", "--digits", "10000000"], "between 1 and"),
    (["verify", "normal", "--directions", "x"], "whole number"),
    (["fisher", "binomial", "--fixed", "n=1000000000"], "keep it symbolic"),
    (["fisher", "binomial", "--fixed", "n=p"], "cannot take the value p"),
    (["kl", "binomial", "--fixed", "n=n", "--numeric"], "--numeric needs numeric points"),
])
def test_bad_arguments_are_one_line(capsys, argv, match):
    with pytest.raises(SystemExit) if "between 1 and" in match or "whole" in match \
            else _no_exit():
        one_line_error(capsys, argv, match=match)
    if "between 1 and" in match or "whole" in match:
        err = capsys.readouterr().err
        assert match in err and "Traceback" not in err


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_files_that_are_not_family_files(capsys, tmp_path):
    for path in ("/bin/ls", "/dev/zero", str(tmp_path)):
        err = one_line_error(capsys, ["fisher", "--file", path])
        assert path in err or os.path.basename(path) in err


def test_polygamma_of_a_huge_order_is_refused(capsys, tmp_path):
    p = tmp_path / "pg.toml"
    p.write_text(POLYGAMMA)
    one_line_error(capsys, ["fisher", "--file", str(p)], match="order of polygamma is at most")


def test_normalisation_is_checked_at_several_points(capsys, tmp_path):
    p = tmp_path / "one_point.toml"
    p.write_text(ONE_POINT)
    err = one_line_error(capsys, ["fisher", "--file", str(p)], match="not normalised")
    assert "total mass at (a=" in err


@pytest.mark.parametrize("command", [["fisher"], ["verify"], ["latex"], ["curvature"],
                                     ["geodesic", "--from", "0,0", "--to", "1,1"]])
def test_non_identifiable_family_is_refused_by_every_command(capsys, tmp_path, command):
    p = tmp_path / "nonid.toml"
    p.write_text(NONID)
    err = one_line_error(capsys, [command[0], "--file", str(p), *command[1:]],
                         match="Fisher matrix is singular")
    assert "(da - db)" in err


def test_verify_with_no_checks_fails(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["verify", "normal", "--directions", "0", "--no-quadrature"])
    assert exc.value.code == 1
    assert "no check ran" in capsys.readouterr().out


def _run(argv, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "symgeo", *argv], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_whole_command_budget():
    t0 = time.monotonic()
    res = _run(["kl", "student_t", "--at", "0,1", "--to", "1,2", "--numeric", "--digits", "400"],
               env={"SYMGEO_BUDGET": "2"})
    elapsed = time.monotonic() - t0
    assert res.returncode == 3, res.stderr
    assert "time budget of 2 s (SYMGEO_BUDGET) was spent" in res.stderr
    assert res.stderr.count("\n") == 1 and elapsed < 15


@pytest.mark.slow
def test_sigterm_stops_a_command_cleanly():
    proc = subprocess.Popen([sys.executable, "-m", "symgeo", "kl", "student_t", "--at", "0,1",
                             "--to", "1,2", "--numeric", "--digits", "400"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143 and err.strip() == "symgeo: terminated"
