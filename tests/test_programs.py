"""Real third-party PyTorch programs (tests/programs/, sources named at the top of each file) run
unchanged under cltensor: a subprocess whose ``import torch`` yields cltensor (tests/programs/_shim),
its final printed metric compared with the PyTorch run recorded in tests/programs/reference.json
(tools/run_program_under_torch.py records it). The judging rule of each program is in
tests/programs/catalog.py. A program needing a cltensor feature that has not landed is a strict
xfail naming the feature, so it turns into a failure the day the feature lands and the program
still does not run.
"""
import json
import os
import re
import subprocess
import sys

import pytest

import helpers

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs"))
import catalog  # noqa: E402

REFERENCE = json.load(open(catalog.REFERENCE))


def _params():
    for program in catalog.PROGRAMS:
        missing = catalog.missing_features(program)
        marks = [pytest.mark.xfail(strict=True, reason="needs " + ", ".join(missing))] if missing else []
        yield pytest.param(program, id=program.name, marks=marks)


def test_shim_makes_torch_cltensor():
    code = """
import cltensor, torch
from torch import nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset
import torch.utils.data
from torch.nn import functional
assert torch is cltensor and nn is cltensor.nn and F is cltensor.nn.functional is functional
assert optim.SGD is cltensor.optim.SGD and DataLoader is cltensor.utils.data.DataLoader
assert torch.utils.data is cltensor.utils.data
try:
    import torch.no_such_module
except ModuleNotFoundError as err:
    assert err.name == "torch.no_such_module", err.name
else:
    raise AssertionError("a module cltensor lacks imported")
print("shim ok")
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([catalog.SHIM, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "shim ok" in proc.stdout, proc.stderr


def test_every_program_names_its_source_and_marks_its_edits():
    for program in catalog.PROGRAMS:
        path = os.path.join(catalog.HERE, program.folder, program.script)
        head = open(path).read(1000)
        assert "# Source: https://github.com/" in head and "/blob/" in head, path
        assert program.name in REFERENCE, f"no PyTorch reference recorded for {program.name}"


@pytest.mark.parametrize("program", _params())
def test_program_runs_unchanged(program, tmp_path):
    catalog.prepare(program, str(tmp_path))
    out, err, rc, seconds = catalog.run(program, str(tmp_path), under_cltensor=True)
    if program.fp64 and not helpers.HAS_FP64:
        # the program computes in float64: where the device has none, it must stop with our error
        assert rc != 0 and re.search(helpers.NO_FP64_ERROR, err), err[-2000:]
        return
    assert rc == 0, f"{program.name} exited {rc}:\n{err[-3000:]}"
    got = catalog.metric(program, out)
    assert got is not None, f"{program.name} printed no metric /{program.metric}/:\n{out[-2000:]}"
    problem = catalog.judge(program, got, REFERENCE[program.name]["metric"])
    assert problem is None, problem + f" ({seconds:.1f} s)"
