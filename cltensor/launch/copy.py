"""Copies along one dim driven by an index table (kernels_cl/copy.cl.mako)."""
from __future__ import annotations

from .. import codegen
from . import signature as sg
from .signature import Signature
from .base import enqueue
from .strides import collapse, index_type

def dim_copy(mode, src, out, table, compute):
    """mode 'gather': out[j, ...] = src[table[j], ...]; mode 'segment_sum': out[j, ...] = the sum of
    src[table[j]:table[j + 1], ...]. Works on dim 0 (callers move theirs there); the other dims of src
    match out's (stride 0 where broadcast); table is an int64 tensor on out's device."""
    n = out.numel()
    if n == 0:
        return out
    rest, (out_st, src_st) = collapse(out._shape[1:], [out._strides[1:], src._strides[1:]])
    sizes = (out._shape[0],) + rest
    strides = ((out._strides[0],) + out_st, (src._strides[0],) + src_st)
    idx = index_type([src, out, table])
    key = ("dim_copy", mode, src.dtype, out.dtype, compute, len(sizes), idx)
    backend = out.device.backend
    kernel = backend.kernels.get(key)
    if kernel is None:
        ndim = len(sizes)
        sig = Signature(sg.sizes(idx, "n"), sg.dims(idx, "size", ndim),
                        sg.tensor("out", out.dtype.c, idx, ndim, const=False), sg.tensor("src", src.dtype.c, idx, ndim),
                        sg.tensor("table", "long", idx, 0))
        kernel = codegen.kernel(backend, key, "copy.cl.mako", "dim_" + mode, signatures={"dim_" + mode: sig}, mode=mode,
                                src_dtype=src.dtype, out_dtype=out.dtype, compute=compute, ndim=ndim, IDX=idx)
    enqueue(backend, kernel, n, [n, *sizes, out._storage.buffer, out._offset, *strides[0],
                                 src._storage.buffer, src._offset, *strides[1], table._storage.buffer, table._offset])
    return out
