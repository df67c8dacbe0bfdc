"""Broadcasting and stride arithmetic: merging dims that are contiguous in every operand, padding ranks."""
from __future__ import annotations

from ..tensor import Tensor
from .base import INT32_MAX

def broadcast_shapes(*shapes) -> tuple:
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, size in enumerate(s):
            j = ndim - len(s) + i
            if out[j] == 1:
                out[j] = size
            elif size != 1 and size != out[j]:
                raise RuntimeError(
                    f"The size of tensor a ({out[j]}) must match the size of tensor b ({size}) at non-singleton "
                    f"dimension {j}")
    return tuple(out)


def broadcast_strides(t: Tensor, shape) -> tuple:
    lead = len(shape) - t.dim()
    return (0,) * lead + tuple(0 if s == 1 and n != 1 else st
                               for s, st, n in zip(t._shape, t._strides, shape[lead:]))



def collapse(shape, stride_lists):
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


def index_type(tensors) -> str:
    for t in tensors:
        if t._storage.nbytes // max(t.dtype.itemsize, 1) > INT32_MAX:
            return "long"
    return "int"



def pad_dims(sizes, strides, n):
    """Leading size-1 dims up to n: one kernel then serves 1..n collapsed dims (fewer compiles,
    for a division or two more per work-item)."""
    k = n - len(sizes)
    if k <= 0:
        return tuple(sizes), strides
    return (1,) * k + tuple(sizes), [(0,) * k + tuple(st) for st in strides]



def padded_collapse(shape, stride_lists):
    """collapse, then pad to at least 3 dims so that one kernel covers ranks 0 to 3."""
    sizes, strides = collapse(tuple(shape), stride_lists)
    ndim = max(3, len(sizes))
    pad = ndim - len(sizes)
    return (1,) * pad + sizes, [(0,) * pad + s for s in strides]
