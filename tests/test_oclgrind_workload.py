"""tools/oclgrind_workload.py on the normal device, so that the workload tools/oclgrind_check.sh runs
under Oclgrind cannot rot: its numpy checks must pass with the CPU kernel variants and with the GPU
ones (CLTENSOR_TUNING=gpu). Also pins what Oclgrind found (see the tests below the workload's)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import cltensor as torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOAD = os.path.join(ROOT, "tools", "oclgrind_workload.py")


@pytest.mark.parametrize("tuning, device", [("cpu", "cpu"), ("gpu", "cl:0")])
def test_workload_checks_pass(tuning, device):
    # a subprocess: the workload switches the allocator to exact sizes, and the tuning is read once
    # per device, when its backend is made
    env = dict(os.environ, CLTENSOR_TUNING=tuning)
    env.pop("CLTENSOR_DEVICE", None)
    proc = subprocess.run([sys.executable, WORKLOAD, "--device", device], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines and "checks passed" in lines[-1], \
        f"workload failed (exit {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert f"{tuning} tuning" in lines[0] and f"{tuning} tuning" in lines[-1]


def test_workload_lists_every_family():
    proc = subprocess.run([sys.executable, WORKLOAD, "--list"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    names = proc.stdout.split()
    for family in ("elementwise_contiguous", "elementwise_strided", "reductions_two_stage", "gemm", "index_scatter",
                   "scans", "sorting", "random", "copies", "conv_implicit_gemm", "window_pooling", "window_interpolation",
                   "window_padding", "fft_family", "linalg_family"):
        assert family in names


# ---- Oclgrind finding: combine_atomic began with a plain read of the destination -------------------------------
# Oclgrind --data-races reported every accumulating scatter (a plain load racing with other work-items'
# compare-exchanges). The loop now starts from the guess 0 and lets the compare-exchange return the
# stored value; these pin that the results are unchanged whatever the destination holds: 0 (the
# guess is right at once), -0.0 (the same value, other bits), NaN, infinities and other values,
# with many duplicate indices (contention) and for every atomic dtype and combine.
_SPECIAL = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.5, -2.25, 3e38], dtype=np.float64)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_atomic_index_add_any_destination(dtype):
    dev = torch.device("cpu")
    ext = dev.backend.cl_device.extensions.split()
    if dtype in ("float64", "int64") and "cl_khr_int64_base_atomics" not in ext:
        pytest.skip("the device lacks cl_khr_int64_base_atomics")
    if dtype == "float64" and not dev.backend.has_fp64:
        pytest.skip("the device lacks fp64")
    np_dtype = np.dtype(dtype)
    if np_dtype.kind == "f":
        dst = np.tile(_SPECIAL, 5)[:37].astype(np_dtype)
        src = np.linspace(-3, 3, 300).astype(np_dtype)
        src[7] = -0.0
    else:
        dst = np.array([0, -1, 7, np.iinfo(np_dtype).max, np.iinfo(np_dtype).min, 3] * 7, np_dtype)[:37]
        src = np.arange(-150, 150).astype(np_dtype)
    index = (np.arange(300) * 7) % 37  # every destination element receives 8 or 9 values
    index[:40] = 5  # and one receives many more
    ref = dst.copy()
    np.add.at(ref, index, src)
    got = torch.index_add(torch.tensor(dst), 0, torch.tensor(index), torch.tensor(src)).cpu().numpy()
    if np_dtype.kind == "f":  # the summation order differs
        np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-4)
        np.testing.assert_array_equal(np.signbit(got[np.isinf(ref)]), np.signbit(ref[np.isinf(ref)]))
    else:  # integer sums wrap the same way in any order
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("reduce", ["amax", "amin", "prod"])
def test_atomic_scatter_reduce_special_destinations(reduce):
    dst = _SPECIAL.astype(np.float32)
    index = np.array([0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 0, 1, 6, 6], dtype=np.int64)
    src = np.array([-1, 2, -3, 0.5, 4, -5, 6, -7, 8, 0, -0.0, 2, -1, 3], dtype=np.float32)
    ref = dst.astype(np.float64)
    combine = {"amax": np.fmax, "amin": np.fmin, "prod": np.multiply}[reduce]
    for i, v in zip(index, src):
        ref[i] = np.nan if np.isnan(ref[i]) else combine(ref[i], v)
    got = torch.scatter_reduce(torch.tensor(dst), 0, torch.tensor(index), torch.tensor(src), reduce=reduce)
    got = got.cpu().numpy()
    np.testing.assert_allclose(got, ref.astype(np.float32), rtol=1e-6)
    if reduce == "prod":  # the sign of a zero product does not depend on the order
        zero = ref == 0
        np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(ref[zero]))
