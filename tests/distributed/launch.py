"""How the tests (and docs/distributed.md) start MPI jobs: the one place that knows mpirun's flags.

--allow-run-as-root: OpenMPI refuses root without it (containers, CI); --oversubscribe: more ranks than
cores (CI machines have 2). Each rank inherits the environment, so PYTHONPATH points the ranks at
this checkout.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MPIRUN_FLAGS = ["--allow-run-as-root", "--oversubscribe"]


def mpi_missing() -> str:
    """Why MPI jobs cannot run here ('' when they can)."""
    if shutil.which("mpirun") is None:
        return "mpirun not found (bash tools/setup.sh installs OpenMPI)"
    try:
        import importlib.util
        if importlib.util.find_spec("mpi4py") is None:
            return "mpi4py not installed (bash tools/setup.sh installs it)"
    except ImportError:
        return "mpi4py not importable"
    return ""


def mpirun_command(ranks: int, script: str, *args: str) -> list:
    return ["mpirun", *MPIRUN_FLAGS, "-np", str(ranks), sys.executable, script, *args]


def run(ranks: int, script: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """mpirun -np ranks python script args, from the checkout's root; output captured as text."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(mpirun_command(ranks, script, *args), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
