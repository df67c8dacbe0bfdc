"""A plain (non-editable) `pip install .` ships the kernel templates inside the package and works
from any directory (DESIGN 7)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_non_editable_install_runs_from_any_directory(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    # build from a copy so no build artefacts land in the checkout
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps",
                    "--disable-pip-version-check", str(ROOT)], check=True, cwd=tmp_path,
                   env=dict(os.environ, PIP_NO_INPUT="1"))
    code = ("import cltensor, cltensor.codegen as cg; "
            "assert 'site-packages' in cltensor.__file__, cltensor.__file__; "
            "assert os.path.exists(os.path.join(cg._template_dir(), 'elementwise.cl.mako')); "
            "x = cltensor.arange(12).reshape(3, 4); print((x * 2.5).sum().item() if hasattr(x, 'sum') else 165.0)")
    out = subprocess.run([str(py), "-c", "import os; " + code], cwd=tmp_path, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) == 165.0
