"""python -m cltensor.selftest: every family passes on the default device, a wrong value or an
exception is reported as a FAIL of its family (exit 1) while the others still run, skipped checks
are named and do not fail, --list and a bad --device."""
import os
import subprocess
import sys

import numpy as np
import pytest

import cltensor as torch
from cltensor import selftest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(capsys, *argv):
    code = selftest.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def family_lines(out):
    return {line.split()[1]: line for line in out.splitlines() if line[:6] in ("PASS  ", "FAIL  ")}


def test_every_family_passes_on_the_default_device(capsys):
    code, out, _ = run(capsys)
    lines = family_lines(out)
    failed = [line for line in lines.values() if line.startswith("FAIL")]
    assert not failed, "\n".join(failed)
    assert code == 0
    assert list(lines) == list(selftest.FAMILIES)
    for name, line in lines.items():
        assert line.startswith(f"PASS  {name}  ("), line
    backend = torch.get_default_device().backend
    for label in ("platform", "device", "driver version", "OpenCL C", "compute units", "global memory",
                  "local memory", "max work-group", "max allocation", "fp64", "fp16", "int64 atomics",
                  "kernel variants"):
        assert f"\n  {label:<16}" in out
    assert f"  max work-group  {backend.max_work_group_size}\n" in out
    if not backend.has_fp64:
        assert "float64 checks (no cl_khr_fp64)" in lines["gemm"]
    assert out.rstrip().splitlines()[-1].startswith(f"OK: all {len(selftest.FAMILIES)} families passed")


def test_runs_as_a_module_with_one_family():
    proc = subprocess.run([sys.executable, "-m", "cltensor.selftest", "--family", "gemm"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(family_lines(proc.stdout)) == ["gemm"]
    assert "\nPASS  gemm  (" in proc.stdout
    assert "  kernel variants " in proc.stdout


def test_a_wrong_value_fails_its_family(capsys, monkeypatch):
    real_bmm = torch.bmm
    monkeypatch.setattr(selftest.torch, "bmm", lambda a, b: real_bmm(a, b) + 0.5)
    code, out, _ = run(capsys, "--family", "gemm", "--family", "copy")
    lines = family_lines(out)
    assert code == 1
    assert lines["gemm"].startswith("FAIL  gemm  float32 bmm (3, 9, 13) @ (3, 13, 7): max error 0.5")
    assert "[1 of " in lines["gemm"]
    assert lines["copy"].startswith("PASS  copy  (")
    assert out.rstrip().splitlines()[-1].startswith("FAILED: 1 of 2 families (gemm)")


def test_an_exception_fails_its_family_and_the_others_run(capsys, monkeypatch):
    def exploding(c):
        c.close("a check that passes", lambda: torch.ones(3, device=c.device), np.ones(3))
        raise ValueError("boom\nsecond line")

    def raising_check(c):
        c.close("a check that raises", lambda: torch.ones(2, device=c.device) + torch.ones(3, device=c.device),
                np.ones(3))
        c.close("a check after it", lambda: torch.zeros(2, device=c.device), np.zeros(2))

    monkeypatch.setitem(selftest.FAMILIES, "exploding", exploding)
    monkeypatch.setitem(selftest.FAMILIES, "raising", raising_check)
    code, out, _ = run(capsys, "--family", "exploding", "--family", "raising", "--family", "scan")
    lines = family_lines(out)
    assert code == 1
    assert lines["exploding"] == "FAIL  exploding  ValueError: boom (outside a check, after 1 checks)"
    assert lines["raising"].startswith("FAIL  raising  a check that raises: RuntimeError: ")
    assert "[1 of 2 checks failed]" in lines["raising"]
    assert lines["scan"].startswith("PASS  scan  (")
    assert "FAILED: 2 of 3 families (exploding, raising)" in out


def test_skipped_checks_are_named_and_do_not_fail(capsys, monkeypatch):
    def partial(c):
        c.close("ok", lambda: torch.arange(4, device=c.device), np.arange(4))
        c.skip("float128 checks", "no such thing")

    monkeypatch.setitem(selftest.FAMILIES, "partial", partial)
    code, out, _ = run(capsys, "--family", "partial")
    assert code == 0
    assert family_lines(out)["partial"].startswith("PASS  partial  (1 checks, ")
    assert family_lines(out)["partial"].endswith("skipped: float128 checks (no such thing)")


@pytest.mark.parametrize("got, expected, problem", [
    (np.array([1.0, 2.0], np.float32), [1.0, 2.0 + 1e-7], None),
    (np.array([1.0, 2.0], np.float32), [1.0, 2.1], "max error 0.1; worst at (1,): 2 vs 2.1"),
    (np.array([np.nan, 1.0], np.float32), [np.nan, 1.0], None),
    (np.array([np.nan, 1.0], np.float32), [0.0, 1.0], "max error inf; worst at (0,)"),
    (np.array([3, 4], np.int32), [3, 5], "1 of 2 values differ, first at (1,): 4 != 5"),
    (np.array([3, 4], np.int32), [[3, 4]], "shape (2,), expected (1, 2)"),
])
def test_compare(got, expected, problem):
    found = selftest.compare(torch.tensor(got), np.array(expected))
    assert (found is None) if problem is None else found.startswith(problem), found


def test_list_names_every_device(capsys):
    code, out, _ = run(capsys, "--list")
    assert code == 0
    for i in range(torch.cl.device_count()):
        assert f"cl:{i}  {torch.cl.get_device_name(i)}  [" in out
    assert "(also cpu" in out


@pytest.mark.parametrize("name", ["nonsense", "cl:99", "cl:x"])
def test_bad_device_is_a_clear_error(capsys, name):
    code, out, err = run(capsys, "--device", name)
    assert code == 2
    assert f"cannot use device {name!r}: " in err
    assert "--list" in err
    assert "PASS" not in out


def test_unknown_family_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        selftest.main(["--family", "nope"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
