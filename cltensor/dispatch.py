"""The one module that launches kernels: device checks, broadcasting, output allocation,
kernel choice and enqueue. Ops describe *what* to compute; this module decides *how*.
"""
from __future__ import annotations

import math

import numpy as np

from . import codegen
from . import dtypes as dt
from .memory import Storage
from .tensor import Tensor, contiguous_strides

_INT32_MAX = 2**31 - 1


# ---- checks ------------------------------------------------------------------------------
def common_device(tensors, op_name="op"):
    dev = None
    for t in tensors:
        if dev is None:
            dev = t.device
        elif t.device is not dev:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{dev} and {t.device}! (when checking arguments for {op_name})")
    return dev


def check_dtype_supported(d, device):
    if d is dt.float64 and not device.backend.has_fp64:
        raise RuntimeError(f"float64 is not supported on {device} ({device.backend.name}): "
                           "the device lacks cl_khr_fp64; use float32")


def broadcast_shapes(*shapes) -> tuple:
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for idx, s in enumerate(shapes):
        for i, size in enumerate(s):
            j = ndim - len(s) + i
            if out[j] == 1:
                out[j] = size
            elif size != 1 and size != out[j]:
                a, b = (shapes[0], s) if idx else (s, shapes[0])
                raise RuntimeError(
                    f"The size of tensor a ({out[j]}) must match the size of tensor b ({size}) at non-singleton "
                    f"dimension {i}")
    return tuple(out)


def broadcast_strides(t: Tensor, shape) -> tuple:
    lead = len(shape) - t.dim()
    return (0,) * lead + tuple(0 if s == 1 and n != 1 else st
                               for s, st, n in zip(t._shape, t._strides, shape[lead:]))


# ---- allocation ----------------------------------------------------------------------------
def empty(shape, dtype, device) -> Tensor:
    check_dtype_supported(dtype, device)
    shape = tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    storage = Storage.allocate(device.backend, nbytes, device.is_host)
    return Tensor._make(storage, shape, contiguous_strides(shape), 0, dtype, device)


# ---- scalars -------------------------------------------------------------------------------
_C_TO_NP = {"int": np.int32, "uint": np.uint32, "long": np.int64, "ulong": np.uint64,
            "float": np.float32, "double": np.float64}


def scalar_arg(value, d, check_overflow=False):
    """A Python number as a kernel argument of the compute type d.

    Integers wrap modulo 2**bits as PyTorch's wrapped scalars do (uint8 + 300 == uint8 + 44);
    fill-like ops pass check_overflow=True and raise like PyTorch instead.
    """
    if d.category == dt.FLOAT:
        return float(value)
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


def arg_np_type(d):
    return np.float32 if d is dt.float16 else d.np.type if d is not dt.bool_ else np.uint8


# ---- elementwise -----------------------------------------------------------------------------
def _collapse(shape, stride_lists):
    """Merge adjacent dims that are contiguous in every operand; drop size-1 dims."""
    dims = [i for i, s in enumerate(shape) if s != 1]
    if not dims:
        return (1,), [(0,) for _ in stride_lists]
    sizes = [shape[dims[0]]]
    strides = [[st[dims[0]]] for st in stride_lists]
    for d in dims[1:]:
        if all(s[-1] == st[d] * shape[d] for s, st in zip(strides, stride_lists)):
            sizes[-1] *= shape[d]
            for s, st in zip(strides, stride_lists):
                s[-1] = st[d]
        else:
            sizes.append(shape[d])
            for s, st in zip(strides, stride_lists):
                s.append(st[d])
    return tuple(sizes), [tuple(s) for s in strides]


def _index_type(tensors) -> str:
    for t in tensors:
        if t._storage.nbytes // max(t.dtype.itemsize, 1) > _INT32_MAX:
            return "long"
    return "int"


def elementwise(name, expr, inputs, out, compute, params=(), helpers=""):
    """Compute out[...] = expr(inputs...) over out's shape; inputs broadcast to it.

    inputs: tensors (same device as out) or Python numbers (passed by value, as `compute`).
    params: (name, c_type_or_'T', value) extra scalars the expression reads.
    """
    n = out.numel()
    if n == 0:
        return out
    shape = out._shape
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    contiguous = out.is_contiguous() and all(
        x.numel() == 1 or (x.numel() == n and x.is_contiguous()) for x in tensors)
    idx = _index_type(tensors + [out])
    if contiguous:
        kinds = tuple("v" if not isinstance(x, Tensor) else "s" if (x.numel() == 1 and n != 1) else "c"
                      for x in inputs)
        ndim, sizes, strides = 0, (), [() for _ in range(len(tensors) + 1)]
    else:
        kinds = tuple("t" if isinstance(x, Tensor) else "v" for x in inputs)
        bstrides = [out._strides] + [broadcast_strides(x, shape) for x in tensors]
        sizes, strides = _collapse(shape, bstrides)
        ndim = len(sizes)
    in_dtypes = tuple(x.dtype if isinstance(x, Tensor) else compute for x in inputs)
    key = ("ew", name, expr, compute, out.dtype, in_dtypes, kinds, ndim, idx, tuple(p[:2] for p in params))
    backend = out.device.backend
    kernel = backend.kernels.get(key)
    if kernel is None:
        kernel = _build_elementwise(backend, key, name, expr, helpers, in_dtypes, kinds, out.dtype,
                                    compute, ndim, idx, params)
    args = [n, *sizes, out._storage.buffer, out._offset, *strides[0]]
    ti = 1
    for x, kind in zip(inputs, kinds):
        if kind == "v":
            args.append(scalar_arg(x, compute))
        else:
            args += (x._storage.buffer, x._offset, *strides[ti]) if kind == "t" else (x._storage.buffer, x._offset)
            ti += 1
    for p in params:
        args.append(p[2])
    enqueue(backend, kernel, n, args)
    return out


def _build_elementwise(backend, key, name, expr, helpers, in_dtypes, kinds, out_dtype, compute, ndim, idx, params):
    kname = "ew_" + name
    T = compute.compute_c
    kernel = codegen.kernel(backend, key, "elementwise.cl.mako", kname,
                            expr=expr, helpers=helpers.replace("{T}", T), in_dtypes=in_dtypes, in_kinds=kinds,
                            out_dtype=out_dtype, compute=compute, ndim=ndim, IDX=idx, params=params)
    idx_np = np.int32 if idx == "int" else np.int64
    types = [idx_np] + [idx_np] * ndim + [None, idx_np] + [idx_np] * ndim
    for d, kind in zip(in_dtypes, kinds):
        if kind == "v":
            types.append(arg_np_type(compute))
        else:
            types += [None, idx_np] + ([idx_np] * ndim if kind == "t" else [])
    for p in params:
        types.append(arg_np_type(compute) if p[1] == "T" else _C_TO_NP[p[1]])
    kernel.set_scalar_arg_dtypes(types)
    return kernel


def enqueue(backend, kernel, n, args, wg=None):
    """Launch a 1-D kernel over n work-items (bounds-checked inside the kernel). Never waits."""
    wg = wg or (backend.elementwise_wg if n >= 4 * backend.elementwise_wg else 64)
    gsize = (n + wg - 1) // wg * wg
    with backend.lock:
        kernel(backend.queue, (gsize,), (wg,), *args)
