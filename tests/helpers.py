"""Shared test utilities: numpy references, tolerances per dtype, and non-contiguous layouts."""
from __future__ import annotations

import numpy as np
import pytest

import cltensor as torch

try:  # PyTorch is optional: tests compare with it only where installed
    import torch as real_torch  # noqa: F401
    HAVE_TORCH = getattr(real_torch, "__file__", "") and "cltensor" not in real_torch.__file__
except ImportError:
    real_torch = None
    HAVE_TORCH = False

ALL_DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
              torch.float16, torch.float32, torch.float64]
FLOAT_DTYPES = [torch.float16, torch.float32, torch.float64]
INT_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]

TOL = {"float16": (1e-2, 1e-2), "float32": (1e-5, 1e-5), "float64": (1e-10, 1e-12)}


def tol(dtype):
    return TOL.get(dtype.name, (0, 0))


def np_of(t) -> np.ndarray:
    """The values of a cltensor tensor as a numpy array (copied, any device)."""
    return np.asarray(t.detach().cpu().numpy()).copy()


def assert_close(actual, expected, dtype=None, rtol=None, atol=None, equal_nan=True):
    """Compare a tensor with a numpy reference; dtype sets the tolerance (exact for ints/bools)."""
    got = np_of(actual) if isinstance(actual, torch.Tensor) else np.asarray(actual)
    exp = np.asarray(expected)
    d = dtype or (actual.dtype if isinstance(actual, torch.Tensor) else None)
    r, a = tol(d) if d is not None else (1e-6, 1e-6)
    r, a = rtol if rtol is not None else r, atol if atol is not None else a
    assert got.shape == exp.shape, f"shape {got.shape} != expected {exp.shape}"
    inexact = d is None or d.is_floating_point or d.is_complex
    if got.dtype == np.bool_ or exp.dtype == np.bool_ or not inexact:
        np.testing.assert_array_equal(got, exp.astype(got.dtype) if exp.dtype != got.dtype else exp)
    else:
        wide = np.complex128 if np.iscomplexobj(got) or np.iscomplexobj(exp) else np.float64
        np.testing.assert_allclose(got.astype(wide), exp.astype(wide), rtol=r, atol=a, equal_nan=equal_nan)


def random_array(shape, dtype, low=-3.0, high=3.0, rng=None) -> np.ndarray:
    rng = rng or np.random.default_rng(0)
    if dtype is torch.bool:
        return rng.random(shape) > 0.5
    if dtype.is_floating_point:
        return rng.uniform(low, high, shape).astype(dtype.np)
    lo = max(int(np.floor(low)), np.iinfo(dtype.np).min)
    hi = min(int(np.ceil(high)), np.iinfo(dtype.np).max)
    return rng.integers(lo, hi + 1, shape).astype(dtype.np)


LAYOUTS = ["contiguous", "transposed", "stepped", "expanded"]


def make_layout(array: np.ndarray, layout: str, device=None):
    """A tensor with array's values but the given memory layout (non-contiguous where asked), on device
    (the default device: CLTENSOR_DEVICE=gpu puts it on the GPU)."""
    if layout == "contiguous" or array.ndim == 0:
        return torch.tensor(array, device=device)
    if layout == "transposed":
        return torch.tensor(np.ascontiguousarray(array.T), device=device).T if array.ndim >= 2 else \
            torch.tensor(array, device=device)
    if layout == "stepped":
        big = np.repeat(array[..., None], 2, axis=-1).reshape(*array.shape[:-1], array.shape[-1] * 2)
        return torch.tensor(big, device=device)[..., ::2]
    if layout == "expanded":
        if array.shape[0] <= 1 or np.all(array == array[:1]):
            return torch.tensor(array[:1], device=device).expand(*array.shape)
        return torch.tensor(array, device=device).unsqueeze(0).expand(2, *array.shape)[1]
    raise ValueError(layout)


def layout_case(array, layout, device=None):
    """(tensor, reference array) for a layout; 'expanded' makes the reference broadcast too."""
    if layout == "expanded":
        row = array[:1]
        ref = np.broadcast_to(row, array.shape).copy()
        return torch.tensor(row, device=device).expand(*array.shape), ref
    return make_layout(array, layout, device), array


BROADCAST_PAIRS = [((), ()), ((3,), ()), ((), (4,)), ((2, 3), (3,)), ((4, 1), (1, 5)), ((2, 1, 4), (3, 1)),
                   ((1,), (2, 3, 4)), ((0, 3), (3,)), ((2, 0), (1, 0)), ((5, 1, 1, 2), (1, 3, 1))]

# ---- what the device under test can do, read from it once ----------------------------------------------------
# the default device's (CLTENSOR_DEVICE=gpu: the GPU's), where the tests' tensors live
DEVICE = torch.get_default_device().backend
HAS_FP64 = DEVICE.has_fp64
HAS_INT64_ATOMICS = "cl_khr_int64_base_atomics" in DEVICE.cl_device.extensions.split()
# the most precise float the device computes in: where a test needs precision, not float64 itself
PRECISE = torch.float64 if HAS_FP64 else torch.float32
# Tests of float64 itself, or of int64 accumulation (atomics): they run fully where the device has the
# capability and, where it has not, must fail with the documented RuntimeError (conftest.py), never skip.
needs_fp64 = pytest.mark.fp64
needs_int64_atomics = pytest.mark.int64_atomics
NO_FP64_ERROR = r"float64 is not supported on .*: the device lacks cl_khr_fp64"
NO_INT64_ATOMICS_ERROR = r"needs cl_khr_int64_base_atomics"
