"""Device checks, output allocation, scalar arguments and the enqueue primitives every launcher uses."""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np
import pyopencl as cl

from .. import dtypes as dt
from ..device import as_device
from ..memory import Storage
from ..tensor import Tensor, contiguous_strides

INT32_MAX = 2**31 - 1
MAX_PLANS = 8192  # launch plans kept per backend; the cache is cleared when full


def keep_plan(backend, key, plan):
    """Put plan in the backend's plan cache (one per backend, for every family) and return it; a
    full cache is cleared first, so it stays bounded."""
    plans = backend.plans
    if len(plans) >= MAX_PLANS:
        plans.clear()
    plans[key] = plan
    return plan


def common_device(tensors, op_name="op"):
    dev = None
    for t in tensors:
        if dev is None:
            dev = t.device
        elif t.device is not dev:
            raise device_mismatch(dev, t.device, op_name)
    return dev


def device_mismatch(expected, found, op_name) -> RuntimeError:
    return RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                        f"{expected} and {found}! (when checking arguments for {op_name})")


def check_dtype_supported(d, device):
    if d is dt.float64 and not device.backend.has_fp64:
        raise RuntimeError(f"float64 is not supported on {device} ({device.backend.name}): "
                           "the device lacks cl_khr_fp64; use float32")
    if d is dt.complex128 and not device.backend.has_fp64:
        raise RuntimeError(f"complex128 holds float64 pairs, and float64 is not supported on {device} "
                           f"({device.backend.name}): the device lacks cl_khr_fp64; use complex64")



# ---- allocation ----------------------------------------------------------------------------
def empty(shape, dtype, device) -> Tensor:
    check_dtype_supported(dtype, device)
    shape = tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    storage = Storage.allocate(device.backend, nbytes, device.is_host)
    return Tensor._make(storage, shape, contiguous_strides(shape), 0, dtype, device)



def from_host(array: np.ndarray, dtype: dt.dtype, device, owned=False) -> Tensor:
    """Upload a numpy array (copied) to a new tensor on device. owned=True gives the tensor an array
    nobody else holds (a fresh temporary), saving the copy. NOTE: never keep a caller's array: the
    upload, or a kernel reading it, runs later, after the caller may have changed it (a boolean mask
    changed right after x[mask] gave the wrong rows)."""
    device = as_device(device)
    check_dtype_supported(dtype, device)
    given = array
    if dtype is dt.bfloat16 and np.asarray(array).dtype != np.uint16:
        array = dt.to_storage(array, dtype)  # values, not bits
    array = np.asarray(array, dtype=dtype.np, order="C")
    if not owned and (array is given or array.base is given):
        array = array.copy()
    shape = array.shape
    if device.is_host:
        storage = Storage.from_host_array(device.backend, array.copy() if array.base is not None else array)
    else:
        storage = Storage.allocate(device.backend, array.nbytes, False)
        if array.nbytes:
            cl.enqueue_copy(device.backend.queue, storage.buffer, array, is_blocking=False)
    return Tensor._make(storage, shape, contiguous_strides(shape), 0, dtype, device)



# ---- scalars -------------------------------------------------------------------------------

def caller_level() -> int:
    """The stacklevel of the first frame outside cltensor: where a warning should point."""
    package = os.path.dirname(os.path.dirname(__file__))
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def resize_out(out: Tensor, shape) -> Tensor:
    """Give an out= tensor the shape a result needs, as PyTorch does: new contiguous memory when
    the shape differs (with PyTorch's deprecation warning if out held elements)."""
    shape = tuple(shape)
    if out._shape == shape:
        return out
    if out.numel():
        warnings.warn(f"An output with one or more elements was resized since it had shape {list(out._shape)}, "
                      f"which does not match the required output shape {list(shape)}. This behavior is deprecated, "
                      "and in a future PyTorch release outputs will not be resized unless they have zero elements. "
                      "You can explicitly reuse an out tensor t by resizing it, inplace, to zero elements with "
                      "t.resize_(0).", UserWarning, stacklevel=caller_level())
    fresh = empty(shape, out.dtype, out.device)
    out._storage, out._shape, out._strides, out._offset = fresh._storage, fresh._shape, fresh._strides, 0
    return out


def param_arg(ctype, value, compute):
    """An op's scalar parameter as a kernel argument (see dtypes.param_dtype)."""
    d = dt.param_dtype(ctype, compute)
    return value if d is None else scalar_arg(value, d)


def scalar_arg(value, d, check_overflow=False):
    """A Python number as a kernel argument of the compute type d.

    Integers wrap modulo 2**bits as PyTorch's wrapped scalars do (uint8 + 300 == uint8 + 44);
    fill-like ops pass check_overflow=True and raise like PyTorch instead.
    """
    if d.category == dt.FLOAT:
        return float(value)
    if d.category == dt.COMPLEX:
        return d.np.type(value)
    if d is dt.bool_:
        return 1 if value else 0
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise RuntimeError(f"value cannot be converted to type {d.name} without overflow")
    value = int(value)
    lo, hi = dt.iinfo_bounds(d)
    if check_overflow and (value > hi or value < (lo if d.signed else -hi)):
        raise RuntimeError(f"value cannot be converted to type {d.name} without overflow")
    bits = 8 * d.itemsize
    value &= (1 << bits) - 1
    if d.signed and value > hi:
        value -= 1 << bits
    return value





def enqueue(backend, kernel, n, args, wg=None):
    """Launch a 1-D kernel over n work-items (bounds-checked inside the kernel). Never waits."""
    wg = wg or (backend.elementwise_wg if n >= 4 * backend.elementwise_wg else 64)
    backend.launch(kernel, (-(-n // wg) * wg,), (wg,), args, n)


def launch(backend, kernel, gsize, lsize, args, items):
    """Launch over an explicit N-d global/local size (items: the work it represents, which decides
    whether a CPU driver gets it at once or batched with the next ones). Never waits."""
    backend.launch(kernel, gsize, lsize, args, items)



def launch_1d(backend, kernel, n, args, wg, work):
    """n work-items in groups of wg (bounds-checked in the kernel); work: the elements they read,
    so that a long reduction on few work-items is not held back as a small launch."""
    launch(backend, kernel, (-(-n // wg) * wg,), (wg,), args, work)



def items_wg(backend, n):
    if backend.cpu_tuned:  # enough work-groups for every core
        return 1 << max(0, min(256, n // (4 * backend.compute_units)).bit_length() - 1)
    return 128 if n >= 128 * backend.compute_units else 64


def group_limit(backend, kernel):
    """The largest work-group this kernel runs in on backend's device (asked once per kernel; here,
    not where the kernel is built: another thread may have built it)."""
    limit = backend.group_limits.get(kernel)
    if limit is None:
        limit = backend.group_limits[kernel] = kernel.get_work_group_info(
            cl.kernel_work_group_info.WORK_GROUP_SIZE, backend.cl_device)
    return limit
