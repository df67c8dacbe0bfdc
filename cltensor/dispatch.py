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


# ---- copies along one dim driven by an index table (kernels_cl/copy.cl.mako) ---------------------
def dim_copy(mode, src, out, table, compute):
    """mode 'gather': out[j, ...] = src[table[j], ...]; mode 'segment_sum': out[j, ...] = the sum of
    src[table[j]:table[j + 1], ...]. Works on dim 0 (callers move theirs there); the other dims of src
    match out's (stride 0 where broadcast); table is an int64 tensor on out's device."""
    n = out.numel()
    if n == 0:
        return out
    rest, (out_st, src_st) = _collapse(out._shape[1:], [out._strides[1:], src._strides[1:]])
    sizes = (out._shape[0],) + rest
    strides = ((out._strides[0],) + out_st, (src._strides[0],) + src_st)
    idx = _index_type([src, out, table])
    key = ("dim_copy", mode, src.dtype, out.dtype, compute, len(sizes), idx)
    backend = out.device.backend
    kernel = backend.kernels.get(key)
    if kernel is None:
        kernel = codegen.kernel(backend, key, "copy.cl.mako", "dim_" + mode, mode=mode, src_dtype=src.dtype,
                                out_dtype=out.dtype, compute=compute, ndim=len(sizes), IDX=idx)
        idx_np = np.int32 if idx == "int" else np.int64
        per_tensor = [None, idx_np] + [idx_np] * len(sizes)
        kernel.set_scalar_arg_dtypes([idx_np] * (1 + len(sizes)) + per_tensor * 2 + [None, idx_np])
    enqueue(backend, kernel, n, [n, *sizes, out._storage.buffer, out._offset, *strides[0],
                                 src._storage.buffer, src._offset, *strides[1], table._storage.buffer, table._offset])
    return out


# ---- GEMM ------------------------------------------------------------------------------------
class _Operand:
    """A matrix operand as the GEMM kernel reads it: buffer, offset, batch strides, row/col strides."""
    __slots__ = ("t", "buf", "off", "bst", "sr", "sc")

    def __init__(self, t, batch, rows, cols):
        st = broadcast_strides(t, tuple(batch) + (rows, cols))
        self.t, self.buf, self.off = t, t._storage.buffer, t._offset
        # a size-1 dim is never stepped along: call its stride 1 so it counts as unit-stride
        self.bst, self.sr, self.sc = list(st[:-2]), st[-2] if rows != 1 else 1, st[-1] if cols != 1 else 1

    def transposed(self):
        o = object.__new__(_Operand)
        o.t, o.buf, o.off, o.bst, o.sr, o.sc = self.t, self.buf, self.off, self.bst, self.sc, self.sr
        return o


def gemm(a, b, out, alpha=1, beta=0, bias=None, params=None, variant=None):
    """out[..., M, N] = alpha * (a[..., M, K] @ b[..., K, N]) + beta * bias.

    a, b and bias (optional, broadcastable to out) are views of any strides whose batch dims
    broadcast to out's: transposed and sliced operands are read through their strides. The
    tiling comes from gemm_tuning for the device; `variant` ('vec' | 'tiled') or a full `params`
    dict overrides it. Never waits for the kernel.
    """
    from . import gemm_tuning
    if out.numel() == 0:
        return out
    backend = out.device.backend
    acc = a.dtype
    p = gemm_tuning.complete(backend, acc, params) if params else gemm_tuning.params_for(backend, acc, variant)
    if beta == 0:
        bias = None  # PyTorch ignores the input when beta is 0 (its NaNs do not propagate)
    batch, (M, N), K = out._shape[:-2], out._shape[-2:], a._shape[-1]
    A, B = _Operand(a, batch, M, K), _Operand(b, batch, K, N)
    C = _Operand(out, batch, M, N)
    D = _Operand(bias, batch, M, N) if bias is not None else None
    rows = _fold_batch(A, B, C, D, batch, M)
    if rows is not None:
        batch, M = (), rows
    mode = None
    if p["variant"] == "vec":
        mode, swap, copy_b = _vec_mode(A, B, M, N, p["VW"])
        if copy_b:
            B = _Operand(b.detach().contiguous(), batch, K, N)
        if swap:  # compute out^T = b^T @ a^T so that the vectors run along a unit stride
            A, B, C, M, N = B.transposed(), A.transposed(), C.transposed(), N, M
            D = D.transposed() if D is not None else None
    _launch_gemm(backend, p, mode, A, B, C, D, batch, M, N, K, acc, out.dtype, alpha, beta)
    return out


def _fold_batch(A, B, C, D, batch, M):
    """When b does not vary over the batch and the batch dims of a, out (and bias) continue their
    rows, the product is one GEMM of nbatch * M rows: the row count, else None."""
    if math.prod(batch) <= 1 or any(B.bst):
        return None
    ops = [A, C] + ([D] if D is not None else [])
    sizes, bst = _collapse(batch, [o.bst for o in ops])
    if len(sizes) != 1:
        return None
    for o, (st,) in zip(ops, bst):
        if M != 1 and st != M * o.sr and not (o is D and st == 0 and o.sr == 0):
            return None
    for o, (st,) in zip(ops, bst):
        o.sr, o.bst = st if M == 1 else o.sr, []
    return M * sizes[0]


def _vec_mode(A, B, M, N, vw):
    """(mode, swap operands, copy b contiguous) for the vector variant, by the operands' strides."""
    if B.sc == 1 and N >= vw:
        return "nn", False, False
    if A.sr == 1 and M >= vw:
        return "nn", True, False
    if A.sc == 1 and B.sr == 1:
        return "dot", False, False
    if B.sc == 1:
        return "nn", False, False
    if A.sr == 1:
        return "nn", True, False
    return "nn", False, True


_GEMM_BATCH_DIMS = 3  # batch dims every GEMM kernel takes (padded with size 1), so that one kernel serves all


def _launch_gemm(backend, p, mode, A, B, C, D, batch, M, N, K, acc, out_dtype, alpha, beta):
    ops = [A, B, C] + ([D] if D is not None else [])
    nbatch = math.prod(batch)
    bsizes, bstrides = _collapse(batch, [o.bst for o in ops]) if nbatch > 1 else ((), [() for _ in ops])
    pad = max(_GEMM_BATCH_DIMS - len(bsizes), 0)
    bsizes, bstrides = (1,) * pad + tuple(bsizes), [(0,) * pad + tuple(st) for st in bstrides]
    if p["variant"] == "vec":
        mr, nr = (p["MR"], p["NV"] * p["VW"]) if mode == "nn" else (p["DOT_MR"], p["DOT_NR"])
        tiling, flags = {"MR": mr, "NR": nr, "VW": p["VW"]}, {}
        gsize = (-(-M // mr), -(-N // nr), nbatch)
        lsize = (1, 1, 1)
    else:
        tiling = {k: p[k] for k in ("BM", "BN", "BK", "WM", "WN", "VL")}
        flags = {"a_unit": "k" if A.sc == 1 else "r" if A.sr == 1 else None,
                 "b_unit": "r" if B.sc == 1 else "k" if B.sr == 1 else None}
        tx, ty = p["BN"] // p["WN"], p["BM"] // p["WM"]
        gsize = (-(-N // p["BN"]) * tx, -(-M // p["BM"]) * ty, nbatch)
        lsize = (tx, ty, 1)
    d_dtype = D.t.dtype if D is not None else None
    key = ("gemm", p["variant"], mode, acc, out_dtype, d_dtype, len(bsizes), tuple(sorted(flags.items())),
           tuple(sorted(tiling.items())))
    kernel = backend.kernels.get(key)
    if kernel is None:
        names = dict.fromkeys(("MR", "NR", "VW", "BM", "BN", "BK", "WM", "WN", "VL", "a_unit", "b_unit"))
        kernel = codegen.kernel(backend, key, "gemm.cl.mako", "gemm", variant=p["variant"], mode=mode,
                                a_dtype=acc, c_dtype=out_dtype, d_dtype=d_dtype, acc=acc,
                                batch_ndim=len(bsizes), **{**names, **flags, **tiling})
        kernel.set_scalar_arg_dtypes([np.int32] * (3 + len(bsizes)) +
                                     ([None] + [np.int64] * (3 + len(bsizes))) * len(ops) +
                                     [arg_np_type(acc)] * 2)
    args = [M, N, K, *bsizes]
    for o, bst in zip(ops, bstrides):
        args += [o.buf, o.off, o.sr, o.sc, *bst]
    args += [scalar_arg(alpha, acc), scalar_arg(beta, acc)]
    with backend.lock:
        kernel(backend.queue, gsize, lsize, *args)
