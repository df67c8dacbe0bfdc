"""Gather/scatter, bounds and blocked scans over flattened tensors (kernels_cl/index.cl.mako)."""
from __future__ import annotations

import math

import numpy as np

from .. import codegen, dtypes as dt
from ..tensor import Tensor
from . import signature as sg
from .base import empty, enqueue, from_host, scalar_arg
from .signature import Signature
from .strides import index_type, padded_collapse

COMBINE = {"add": "a + b", "mul": "a * b", "max": "(a > b || a != a) ? a : b", "min": "(a < b || a != a) ? a : b"}
ATOMIC_DTYPES = (dt.int32, dt.int64, dt.float32, dt.float64)
_BITS = {1: dt.uint8, 2: dt.int16, 4: dt.int32, 8: dt.int64}  # plain moves copy bit patterns
_SCAN_MAX_BLOCKS = 1024


def _index_program(backend, key, kname, signatures, **params):
    full = dict(family="index", dtypes=[], IDX="int", ndim=0, dst_dtype=None, src_dtype=None, index_dtypes=(),
                indexed="src", op="assign", x_dtype=None)
    full.update(params)
    return codegen.kernel(backend, key, "index.cl.mako", kname, signatures=signatures, **full)



def _as_bits(dst, src):
    """For a plain copy between equal dtypes (or a fill), the same-size integer dtype and the
    fill value's bit pattern: one kernel then serves every dtype of that size."""
    bits = _BITS[dst.dtype.itemsize]
    if isinstance(src, Tensor):
        return bits, src
    stored = np.float32 if dst.dtype is dt.float16 else None
    if dst.dtype is dt.bfloat16:
        return bits, int(dt.to_storage(float(src), dst.dtype))
    value = np.array(scalar_arg(src, dst.dtype, check_overflow=True), dtype=stored or dst.dtype.np)
    if dst.dtype is dt.float16:
        value = value.astype(np.float16)
    return bits, int(value.view(bits.np))


def index_kernel(shape, dst, dst_strides, src, src_strides, indices, indexed, op="assign"):
    """One gather/scatter over an iteration shape (see index.cl.mako).

    dst, src: tensors read/written at their offsets plus strides over shape (src may be a Python
    number); indices: [(index tensor, its strides over shape, size of the indexed dim, stride of
    the indexed dim)]; indexed: 'src' (gather) or 'dst' (scatter); op: 'assign' or a COMBINE key
    (atomic, dst must be one of ATOMIC_DTYPES). Index values must already be bounds-checked.
    """
    n = math.prod(shape)
    if n == 0:
        return dst
    has_src = isinstance(src, Tensor)
    if op != "assign" and dst.dtype not in ATOMIC_DTYPES:
        raise RuntimeError(f"atomic {op} needs an int32/int64/float32/float64 destination, got {dst.dtype}")
    dst_dtype, src_dtype = dst.dtype, (src.dtype if has_src else None)
    if op == "assign" and (not has_src or src_dtype is dst_dtype):
        dst_dtype, src = _as_bits(dst, src)
        src_dtype = dst_dtype if has_src else None
    lists = [dst_strides] + ([src_strides] if has_src else []) + [ix[1] for ix in indices]
    sizes, strides = padded_collapse(shape, lists)
    ndim = len(sizes)
    idx = index_type([dst] + ([src] if has_src else []) + [ix[0] for ix in indices])
    index_dtypes = tuple(ix[0].dtype for ix in indices)
    key = ("index", dst_dtype, src_dtype, index_dtypes, indexed, op, ndim, idx)
    backend = dst.device.backend
    kernel = backend.kernels.get(key)
    if kernel is None and op != "assign" and dst_dtype.itemsize == 8 and \
            "cl_khr_int64_base_atomics" not in backend.cl_device.extensions:
        raise RuntimeError(f"accumulating into {dst_dtype} on {backend.name} needs cl_khr_int64_base_atomics, "
                           "which the device lacks; accumulate in float32/int32 instead")
    if kernel is None:
        parts = [sg.sizes(idx, "n"), sg.dims(idx, "size", ndim), sg.tensor("dst", dst_dtype.c, idx, ndim, const=False),
                 sg.tensor("src", src_dtype.c, idx, ndim) if has_src else sg.scalar("src_val", dst_dtype)]
        for k, index_dtype in enumerate(index_dtypes):
            parts += [sg.tensor(f"ix{k}", index_dtype.c, idx, ndim), sg.sizes("long", f"lim{k}"),
                      sg.sizes(idx, f"step{k}")]
        kname = "index_" + indexed
        kernel = _index_program(backend, key, kname, signatures={kname: Signature(*parts)},
                                dtypes=[dst_dtype, src_dtype or dst_dtype], IDX=idx, ndim=ndim, dst_dtype=dst_dtype,
                                src_dtype=src_dtype, index_dtypes=index_dtypes, indexed=indexed, op=COMBINE.get(op, op))
    args = [n, *sizes, dst._storage.buffer, dst._offset, *strides[0]]
    args += [src._storage.buffer, src._offset, *strides[1]] if has_src else [
        src if src_dtype is None and op == "assign" else scalar_arg(src, dst_dtype)]
    for k, (t, _, limit, step) in enumerate(indices):
        args += [t._storage.buffer, t._offset, *strides[k + 1 + has_src], int(limit), int(step)]
    enqueue(backend, kernel, n, args)
    return dst


def _blocks(n):
    chunk = max(64, -(-n // _SCAN_MAX_BLOCKS))
    return chunk, -(-n // chunk)


def _blocked_signatures(family, x_dtype, idx, ndim):
    """The signatures of the kernels of a blocked family: one work-item per chunk of x (n elements,
    row-major over sizes) and a single-item pass over the nb block results."""
    def per_chunk(*tail):
        return Signature(sg.sizes(idx, "n", "chunk"), sg.dims(idx, "size", ndim), sg.tensor("x", x_dtype.c, idx, ndim),
                         *tail)
    if family == "minmax":
        return {"minmax_blocks": per_chunk(sg.buffer("partial", "long", const=False)),
                "minmax_final": Signature(sg.sizes(idx, "nb"), sg.buffer("partial", "long", const=False))}
    bsum, out = sg.buffer("bsum", "long"), sg.buffer("out", "long", const=False)
    return {"scan_count": per_chunk(sg.buffer("bsum", "long", const=False)),
            "scan_offsets": Signature(sg.sizes(idx, "nb"), sg.buffer("bsum", "long", const=False)),
            "scan_inclusive": per_chunk(bsum, out),
            "scan_compact": per_chunk(bsum, out, sg.buffer("osize", "long"), sg.sizes("int", "out_ndim"))}


def _blocked_kernels(family, x, names):
    sizes, (strides,) = padded_collapse(x._shape, [x._strides])
    idx = index_type([x])
    backend = x.device.backend
    found = []
    for kname in names:
        key = (family, kname, x.dtype, len(sizes), idx)
        kernel = backend.kernels.get(key)
        if kernel is None:
            signatures = _blocked_signatures(family, x.dtype, idx, len(sizes))
            kernel = _index_program(backend, key, kname, signatures, family=family, dtypes=[x.dtype], IDX=idx,
                                    ndim=len(sizes), x_dtype=x.dtype)
        found.append(kernel)
    return found, [*sizes, x._storage.buffer, x._offset, *strides]


def _read_longs(t, start, count):
    view = Tensor._make(t._storage, (count,), (1,), t._offset + start, t.dtype, t.device)
    return [int(v) for v in view._to_numpy_copy()]


def index_minmax(x):
    """(min, max) of a non-empty integer tensor: two kernels and a 16-byte host read (a sync)."""
    n = x.numel()
    chunk, nb = _blocks(n)
    (blocks, final), xargs = _blocked_kernels("minmax", x, ("minmax_blocks", "minmax_final"))
    partial = empty((2 * nb,), dt.int64, x.device)
    backend = x.device.backend
    enqueue(backend, blocks, nb, [n, chunk, *xargs, partial._storage.buffer])
    enqueue(backend, final, 1, [nb, partial._storage.buffer])
    return tuple(_read_longs(partial, 0, 2))


def _scan_blocks(x, names):
    n = x.numel()
    chunk, nb = _blocks(n)
    kernels, xargs = _blocked_kernels("scan", x, ("scan_count", "scan_offsets") + names)
    bsum = empty((nb + 1,), dt.int64, x.device)
    backend = x.device.backend
    enqueue(backend, kernels[0], nb, [n, chunk, *xargs, bsum._storage.buffer])
    enqueue(backend, kernels[1], 1, [nb, bsum._storage.buffer])
    return kernels[2:], [n, chunk, *xargs, bsum._storage.buffer], nb, bsum


def nonzero_compact(x, coords: bool):
    """Positions of the nonzero elements of x in row-major order: a (nnz,) tensor of linear
    indices, or (nnz, x.dim()) coordinates. Reads the count back to the host (a sync)."""
    out_ndim = x.dim() if coords else 0
    if x.numel() == 0:
        return empty((0, out_ndim) if coords else (0,), dt.int64, x.device)
    (compact,), args, nb, bsum = _scan_blocks(x, ("scan_compact",))
    (total,) = _read_longs(bsum, nb, 1)
    out = empty((total, out_ndim) if coords else (total,), dt.int64, x.device)
    if total:
        sizes = _long_table(x._shape if out_ndim else (1,), x.device)
        enqueue(x.device.backend, compact, nb, args + [out._storage.buffer, sizes._storage.buffer, out_ndim])
    return out


def _long_table(values, device):
    return from_host(np.asarray(values, dtype=np.int64), dt.int64, device)


def inclusive_count(x):
    """out[i] = number of nonzero elements of x (row-major) up to and including i; no sync."""
    out = empty((x.numel(),), dt.int64, x.device)
    if x.numel():
        (inclusive,), args, nb, _ = _scan_blocks(x, ("scan_inclusive",))
        enqueue(x.device.backend, inclusive, nb, args + [out._storage.buffer])
    return out
