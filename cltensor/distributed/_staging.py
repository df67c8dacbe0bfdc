"""Tensor values as host arrays MPI reads and writes, and the way back into the tensors.

A contiguous 'cpu' tensor is handed to MPI as its own memory (the numpy view its storage shares, see
memory.py): no copy either way. Any other tensor is read once into a fresh host array (one blocking
read, which also waits for the kernels that write it) and written back once after the MPI call (one
non-blocking write; pyopencl keeps the array alive until the write ran, and nobody touches it after).
"""
from __future__ import annotations

import numpy as np
import pyopencl as cl

from .. import dtypes as dt
from ..autograd.grad_mode import no_grad
from ..memory import map_block
from ..ops.creation import from_host


def is_zero_copy(t) -> bool:
    return t.device.is_host and t.is_contiguous() and t.numel() > 0


def host_array(t) -> np.ndarray:
    """A C-contiguous numpy array of t's values in its storage format (bfloat16 as uint16 bits, bool as
    numpy bool): t's own memory for a contiguous cpu tensor, else a fresh copy."""
    if is_zero_copy(t):
        storage, itemsize = t._storage, t.dtype.itemsize
        storage.expose()  # mapped for the host from now on, after the kernels that write it
        start = t._offset * itemsize
        arr = storage.host[start:start + t.numel() * itemsize].view(t.dtype.np).reshape(t._shape)
    else:
        arr = t.detach()._to_numpy_copy()
    return arr.view(np.bool_) if t.dtype is dt.bool_ else arr


def write_back(t, arr: np.ndarray) -> None:
    """Put arr (t's shape or flat, storage format, not used by the caller afterwards) into t, unless arr
    is t's own memory already."""
    t = t.detach()
    if t.numel() == 0:
        return
    if is_zero_copy(t):
        own = host_array(t)
        if own.ctypes.data != arr.ctypes.data:
            own.reshape(-1).view(np.uint8)[:] = arr.reshape(-1).view(np.uint8)
        return
    if t.is_contiguous():
        _upload_into(t, np.ascontiguousarray(arr))
        return
    with no_grad():
        t.copy_(from_host(arr.reshape(t.shape), t.dtype, t.device, owned=True))


def _upload_into(t, arr: np.ndarray) -> None:
    """One write of arr's bytes into a contiguous device (or device-owned cpu) tensor's memory."""

    storage = t._storage
    backend, block = storage.backend, storage.block
    offset = t._offset * t.dtype.itemsize
    with backend.lock:
        if block.exposed:  # numpy shares it: mapped between launches, written in place
            if block.mapping is None:
                map_block(backend, block)
            block.host[offset:offset + arr.nbytes] = arr.reshape(-1).view(np.uint8)
            return
        if block.snapshot is not None:  # a cached host read of the old bytes (memory.py)
            block.snapshot = None
            backend.host_state.pop(block.buffer, None)
        try:
            cl.enqueue_copy(backend.queue, storage.buffer, arr, dst_offset=offset, is_blocking=False)
        except cl.Error as err:
            raise backend.failure(err) from err
    t._bump_version()


def reducible(arr: np.ndarray, dtype: dt.dtype) -> np.ndarray:
    """arr in a type MPI reduces: float16 and bfloat16 widened to float32, bool as uint8 (0/1)."""
    if dtype is dt.float16:
        return arr.astype(np.float32)
    if dtype is dt.bfloat16:
        return dt.from_storage(arr, dtype).astype(np.float32)
    if dtype is dt.bool_:
        return arr.view(np.uint8)
    return arr


def from_reducible(work: np.ndarray, arr: np.ndarray, dtype: dt.dtype) -> None:
    """Store a reduced work array (reducible's) back into arr's storage format, in place."""
    if np.may_share_memory(work, arr):  # reduced in place
        return
    if dtype is dt.bfloat16:
        arr[...] = dt.to_storage(work, dtype).reshape(arr.shape)
    else:
        arr[...] = work.reshape(arr.shape)
