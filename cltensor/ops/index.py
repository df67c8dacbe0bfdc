"""Indexing and sorting: advanced getitem/setitem, gather/scatter, the index_* and masked_* ops,
nonzero, take, sort/argsort/topk/kthvalue, unique, searchsorted and bincount.

Every gather/scatter-like op is mapped onto one kernel (``launch.index.index_kernel``): an iteration
shape, the strides of the plain operand, the indexed operand's strides with 0 along the dims an
index replaces, and per index tensor the size and stride of the dim it indexes.

Index bounds are checked on the host before any kernel runs: index tensors built from Python
lists are checked from their numpy values; other index tensors get a device min/max and a
16-byte read back (a sync, as in PyTorch's own checks), and coordinates produced by nonzero
from a boolean mask are in range by construction. Negative indices wrap like PyTorch's.

Accumulation with duplicate indices (index_add, scatter_add, scatter_reduce, bincount,
index_put(accumulate=True)) uses atomic compare-exchange loops on the element's bit pattern
(see kernels_cl/index.cl.mako); narrow dtypes accumulate in a wider temporary.
"""
from __future__ import annotations

import math
import warnings
from collections import namedtuple

import numpy as np

from .. import launch
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..tensor import Tensor, contiguous_strides as _contig, register, wrap_dim
from . import shape as shape_ops
from .creation import copy_, from_host, full, zeros
from .elementwise import _check_overlap, check_inplace_allowed

__all__ = ["index_select", "gather", "scatter", "scatter_add", "scatter_reduce", "index_add", "index_copy",
           "index_fill", "index_put", "index_put_", "masked_fill", "masked_select", "masked_scatter", "nonzero",
           "argwhere", "take", "take_along_dim", "sort", "argsort", "msort", "topk", "kthvalue", "unique",
           "unique_consecutive", "searchsorted", "bucketize", "bincount"]


class IndexOutOfBoundsError(IndexError, RuntimeError):
    """An index past the end of its dimension. PyTorch raises IndexError from indexing and
    RuntimeError from gather/scatter for this; both `except` clauses catch this class."""


_INDEX_DTYPES = (dt.int64, dt.int32)
_BAD_INDEX = "tensors used as indices must be long, int, byte or bool tensors"
_WIDE = {dt.bool_: dt.int32, dt.uint8: dt.int32, dt.int8: dt.int32, dt.int16: dt.int32, dt.float16: dt.float32,
         dt.bfloat16: dt.float32}

# ---- small helpers ---------------------------------------------------------------------------------
def _raw(t: Tensor, shape, strides, offset=None) -> Tensor:
    """A kernel-argument view of t's memory (no autograd, no base bookkeeping)."""
    return Tensor._make(t._storage, tuple(shape), tuple(strides), t._offset if offset is None else offset,
                        t.dtype, t.device)


def _detached_copy(t: Tensor, dtype=None) -> Tensor:
    out = launch.base.empty(t._shape, dtype or t.dtype, t.device)
    launch.elementwise.elementwise("_copy", "a", [t], out, t.dtype)
    return out


def _tracking(*tensors) -> bool:
    return is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


def _check_writable(t: Tensor):
    check_inplace_allowed(t)
    _check_overlap(t, [])


def _size_stride(t: Tensor, d: int):
    return (t._shape[d], t._strides[d]) if t.dim() else (1, 0)


def _as_device(t: Tensor, device) -> Tensor:
    return t if t.device == device else t.to(device)


def _on_device(t: Tensor, device, op: str) -> Tensor:
    """t, which must be on device, as PyTorch requires of an index, mask or source tensor (values that
    are 0-d tensors, which may be anywhere, go through _as_device instead)."""
    if isinstance(t, Tensor) and t.device != device:
        raise launch.base.device_mismatch(device, t.device, op)
    return t


def _check_bounds(index: Tensor, size: int, dim: int, bounds=None, message=None):
    """Raise IndexOutOfBoundsError unless every value of index lies in [-size, size)."""
    if index.numel() == 0 or bounds == "ok":
        return
    lo, hi = bounds if bounds is not None else launch.index.index_minmax(index)
    bad = hi if hi >= size else lo if lo < -size else None
    if bad is not None:
        raise IndexOutOfBoundsError((message or "index {i} is out of bounds for dimension {d} with size {s}")
                                    .format(i=bad, d=dim, s=size))


def _int_index(index, op: str) -> Tensor:
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
    return index


def _vector_index(index, op: str) -> Tensor:
    index = _int_index(index, op)
    if index.dim() > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    return _raw(index, (index.numel(),), (index._strides[0] if index.dim() else 0,))


def _scalar_value(value, op: str, dtype):
    """A fill value: a 0-d tensor, or a number that fits dtype (PyTorch raises on overflow)."""
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.dim()} dimension(s).")
        return value
    if isinstance(value, (bool, int, float, complex, np.number)):
        value = value.item() if isinstance(value, np.number) else value
        launch.base.scalar_arg(value, dtype, check_overflow=True)
        return value
    raise TypeError(f"{op}(): value must be a number or a 0-dimensional tensor, not {type(value).__name__}")


# ---- the gather/scatter core ---------------------------------------------------------------------------
def _layout(v: Tensor, pairs):
    """Iteration shape, v's strides over it and the index specs for v indexed by pairs
    [(dim of v, integer index tensor)] (PyTorch/numpy placement of the broadcast index dims)."""
    dims = [d for d, _ in pairs]
    try:
        bshape = launch.strides.broadcast_shapes(*(t._shape for _, t in pairs))
    except RuntimeError:
        shapes = ", ".join(str(list(t._shape)) for _, t in pairs)
        raise IndexError(f"shape mismatch: indexing tensors could not be broadcast together with shapes "
                         f"{shapes}") from None
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    rest = [d for d in range(v.dim()) if d not in dims]
    before = [d for d in rest if d < dims[0]] if adjacent else []
    after = [d for d in rest if d not in before]
    shape = tuple(v._shape[d] for d in before) + bshape + tuple(v._shape[d] for d in after)
    strides = tuple(v._strides[d] for d in before) + (0,) * len(bshape) + tuple(v._strides[d] for d in after)
    specs = [(t, (0,) * len(before) + launch.strides.broadcast_strides(t, bshape) + (0,) * len(after),
              v._shape[d], v._strides[d]) for d, t in pairs]
    return shape, strides, specs


def _gather(v: Tensor, pairs) -> Tensor:
    shape, strides, specs = _layout(v, pairs)
    out = launch.base.empty(shape, v.dtype, v.device)
    launch.index.index_kernel(shape, out, out._strides, v, strides, specs, "src")
    return out


def _pairs_view(t: Tensor) -> Tensor:
    """A complex tensor's memory as its real (re, im) pairs: a trailing dim of 2, outside autograd."""
    return Tensor._make(t._storage, t._shape + (2,), tuple(2 * s for s in t._strides) + (1,), 2 * t._offset,
                        t.dtype.to_real(), t.device)


def _scatter(dst: Tensor, pairs, values, op="assign"):
    """dst[pairs] (op)= values, values a number or a tensor broadcast to the indexing result."""
    if dst.dtype.is_complex and op != "assign":  # accumulate each part: the kernels' adds are real
        if not isinstance(values, Tensor):
            values = full((), values, dtype=dst.dtype, device=dst.device)
        return _scatter(_pairs_view(dst), pairs, _pairs_view(values.to(dst.dtype)), op)
    target = dst if op == "assign" or dst.dtype in launch.index.ATOMIC_DTYPES else _detached_copy(dst, _WIDE[dst.dtype])
    shape, strides, specs = _layout(target, pairs)
    vstrides = None
    if isinstance(values, Tensor):
        vstrides = _value_strides(values, shape)
        if values._storage is dst._storage:
            values = _detached_copy(values)
    launch.index.index_kernel(shape, target, strides, values, vstrides, specs, "dst", op)
    if target is not dst:
        launch.elementwise.elementwise("_copy", "a", [target], dst, target.dtype)


def _value_strides(values: Tensor, shape):
    if _broadcastable(values._shape, shape):
        return launch.strides.broadcast_strides(values, shape)
    raise RuntimeError(f"shape mismatch: value tensor of shape {list(values._shape)} cannot be broadcast to "
                       f"indexing result of shape {list(shape)}")


def _broadcastable(src, dst) -> bool:
    if len(src) > len(dst):
        return False
    return all(s == 1 or s == d for s, d in zip(reversed(src), reversed(dst)))


def _dim_layout(t: Tensor, dim: int, ndim: int):
    """Strides of t over an iteration of ndim dims with dim replaced by an index (stride 0)."""
    if t.dim() == 0:
        return (0,) * ndim
    return tuple(0 if d == dim else t._strides[d] for d in range(ndim))


def _scatter_dim(dst: Tensor, dim: int, index: Tensor, src, op="assign"):
    """dst[..., index[i], ...] (op)= src[i] along dim (the scatter family), index already checked."""
    if dst.dtype.is_complex and op == "add":  # each part accumulated: the index repeats for re and im
        if not isinstance(src, Tensor) or src.dim() != index.dim():
            src = full((), src, dtype=dst.dtype, device=dst.device) if not isinstance(src, Tensor) else src
            src = src.expand(index._shape)
        index = Tensor._make(index._storage, index._shape + (2,), index._strides + (0,), index._offset, index.dtype,
                             index.device)
        return _scatter_dim(_pairs_view(dst), dim, index, _pairs_view(src.to(dst.dtype)), op)
    if dst.dtype.is_complex and op != "assign":
        raise NotImplementedError(f"scatter with reduce '{op}' not implemented for '{dst.dtype.name}'")
    target = dst if op == "assign" or dst.dtype in launch.index.ATOMIC_DTYPES else _detached_copy(dst, _WIDE[dst.dtype])
    ndim = index.dim()
    size, step = _size_stride(target, dim)
    sstrides = None
    if isinstance(src, Tensor):
        sstrides = src._strides if src.dim() else (0,) * ndim
        if src._storage is dst._storage:
            src = _detached_copy(src)
    launch.index.index_kernel(index._shape, target, _dim_layout(target, dim, ndim), src, sstrides,
                          [(index, index._strides, size, step)], "dst", op)
    if target is not dst:
        launch.elementwise.elementwise("_copy", "a", [target], dst, target.dtype)


# ---- resolving a Python index into a view plus (dim, index tensor) pairs -----------------------------------
class _Index:
    """An advanced index resolved against a tensor: `basic` (ints, slices, None; None when there
    is nothing to apply) is applied as a view, then `pairs` [(dim of that view, index tensor)]."""
    __slots__ = ("basic", "pairs")

    def __init__(self, basic, pairs):
        self.basic, self.pairs = basic, pairs

    def view(self, t: Tensor) -> Tensor:
        return t if self.basic is None else shape_ops.basic_index(t, self.basic)


def _legacy_sequence(index) -> bool:
    """PyTorch still reads x[[a, b]] as x[a, b] when the list holds tensors, sequences, slices..."""
    if not isinstance(index, list) or len(index) >= 32:
        return False
    return any(isinstance(i, (Tensor, list, tuple, slice, range)) or i is None or i is Ellipsis for i in index)


def _to_index_item(item, device):
    """Lists, ranges, numpy arrays and Python bools as tensors; returns (item, known (min, max) or None)."""
    if isinstance(item, range):  # an index list, as PyTorch reads it
        item = np.arange(item.start, item.stop, item.step, dtype=np.int64)
    if isinstance(item, (bool, np.bool_)):
        return from_host(np.array(bool(item)), dt.bool_, device), None
    if isinstance(item, (list, tuple, np.ndarray)):
        arr = np.asarray(item)
        if arr.dtype == np.bool_:
            return from_host(arr, dt.bool_, device), None
        if arr.size == 0:
            arr = arr.astype(np.int64)
        if arr.dtype.kind not in "iu":
            raise IndexError(_BAD_INDEX)
        bounds = (int(arr.min()), int(arr.max())) if arr.size else None
        return from_host(arr.astype(np.int64), dt.int64, device), bounds
    if isinstance(item, Tensor):
        if item.dtype is dt.uint8:
            warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool "
                          "instead.", UserWarning, stacklevel=4)
            item = item.to(dt.bool_)
        elif item.dtype not in _INDEX_DTYPES and item.dtype is not dt.bool_:
            raise IndexError(_BAD_INDEX)
        return _as_device(item.detach(), device), None
    if item is None or item is Ellipsis or isinstance(item, slice) or (
            isinstance(item, (int, np.integer)) and not isinstance(item, bool)):
        return item, None
    raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                     f"indices (got {type(item).__name__})")


def _items(self: Tensor, index):
    if _legacy_sequence(index):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated; use x[tuple(seq)] "
                      "instead of x[seq].", UserWarning, stacklevel=4)
        index = tuple(index)
    raw = index if isinstance(index, tuple) else (index,)
    items = [_to_index_item(i, self.device) for i in raw]
    consumed = sum(1 if not isinstance(i, Tensor) else (i.dim() if i.dtype is dt.bool_ else 1)
                   for i, _ in items if i is not None and i is not Ellipsis)
    if consumed > self.dim():
        raise IndexError(f"too many indices for tensor of dimension {self.dim()}")
    ellipses = [k for k, (i, _) in enumerate(items) if i is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if ellipses:
        k = ellipses[0]
        items[k:k + 1] = [(slice(None), None)] * (self.dim() - consumed)
    return items


def resolve(self: Tensor, index) -> _Index:
    """Split a Python index into its basic part and validated (dim, integer index) pairs."""
    basic, pairs, d, s = [], [], 0, 0
    for item, bounds in _items(self, index):
        if not isinstance(item, Tensor):
            basic.append(item)
            d += item is None or isinstance(item, slice)
            s += item is not None
        elif item.dtype is not dt.bool_:
            basic.append(slice(None))
            pairs.append((d, item, bounds, s))
            d, s = d + 1, s + 1
        elif item.dim() == 0:  # a 0-d mask adds a dim of size 1 (True) or 0 (False)
            basic.append(None)
            keep = np.arange(1 if bool(item) else 0, dtype=np.int64)
            pairs.append((d, from_host(keep, dt.int64, self.device), "ok", s))
            d += 1
        else:
            _check_mask_shape(item, self, s)
            coords = launch.index.nonzero_compact(item, coords=True)
            for j in range(item.dim()):
                pairs.append((d + j, _raw(coords, (coords._shape[0],), (item.dim(),), j), "ok", s + j))
            basic += [slice(None)] * item.dim()
            d, s = d + item.dim(), s + item.dim()
    trivial = all(isinstance(b, slice) and b == slice(None) for b in basic)
    ix = _Index(None if trivial else tuple(basic), [])
    with no_grad():
        view = ix.view(self)
    for d, t, bounds, _ in pairs:
        _check_bounds(t, view._shape[d], d, bounds)
    ix.pairs = [(d, t) for d, t, _, _ in pairs]
    return ix


def _check_mask_shape(mask: Tensor, self: Tensor, start: int):
    for j, m in enumerate(mask._shape):
        if self._shape[start + j] != m:
            raise IndexError(f"The shape of the mask {list(mask._shape)} at index {j} does not match the shape of "
                             f"the indexed tensor {list(self._shape)} at index {start + j}")


# ---- advanced getitem / index_put (recorded ops) -------------------------------------------------------
def _index_get(v: Tensor, pairs) -> Tensor:
    out = _gather(v, pairs)
    if _tracking(v):
        graph.record("IndexBackward0", _index_vjp, [v], out, {"pairs": pairs, "shape": v._shape}, save=frozenset())
    return out


def _index_vjp(g, out, v, pairs, shape):
    return _index_put(zeros(shape, dtype=g.dtype, device=g.device), _Index(None, pairs), g, True, False)


def _strip_leading_ones(values: Tensor, ndim: int) -> Tensor:
    while values.dim() > ndim and values._shape[0] == 1:
        values = values.squeeze(0)
    return values


def _index_put(dst: Tensor, ix: _Index, values, accumulate: bool, inplace: bool) -> Tensor:
    """dst[ix] = values (or += with accumulate), in place or on a copy, recorded as IndexPutBackward0."""
    if inplace:
        _check_writable(dst)
        out = dst
    else:
        out = _detached_copy(dst)
    with no_grad():
        target = ix.view(_raw(out, out._shape, out._strides))
    if not isinstance(values, Tensor):
        values = _scalar_value(values, "index_put_", dst.dtype)
    else:
        values = _strip_leading_ones(_as_device(values, dst.device), len(_layout(target, ix.pairs)[0]))
    _scatter(target, ix.pairs, values, "add" if accumulate else "assign")
    if inplace:
        dst._bump_version()
    if _tracking(dst, values) and dst.dtype.is_floating_point:
        params = {"ix": ix, "accumulate": accumulate}
        if inplace:
            return graph.record_inplace("IndexPutBackward0", _index_put_vjp, [dst, values], dst, params,
                                        save=frozenset())
        return graph.record("IndexPutBackward0", _index_put_vjp, [dst, values], out, params, save=frozenset())
    return out


def _index_put_vjp(g, out, dst, values, ix, accumulate):
    gdst = g if accumulate else _index_put(g, ix, 0, False, False)
    gval = _index_get(ix.view(g), ix.pairs) if isinstance(values, Tensor) else None
    return gdst, gval


def getitem(self, index):
    index = shape_ops._normalize_index(index)
    if shape_ops._is_basic(index):
        return shape_ops.basic_index(self, index)
    return advanced_getitem(self, index)


def setitem(self, index, value):
    index = shape_ops._normalize_index(index)
    if shape_ops._is_basic(index):
        copy_(shape_ops.basic_index(self, index), value, _setitem_of=self)
        return
    advanced_setitem(self, index, value)


register("__getitem__", getitem)
register("__setitem__", setitem)


def advanced_getitem(self: Tensor, index) -> Tensor:
    ix = resolve(self, index)
    v = ix.view(self)
    return _index_get(v, ix.pairs) if ix.pairs else v


def advanced_setitem(self: Tensor, index, value):
    if isinstance(value, np.ndarray):
        value = from_host(value, dt.from_numpy_dtype(value.dtype), self.device)
    elif not isinstance(value, (Tensor, bool, int, float, np.number)):
        raise TypeError(f"can't assign a {type(value).__name__} to a {self.type()}")
    if isinstance(value, np.number):
        value = value.item()
    mask = index[0] if isinstance(index, tuple) and len(index) == 1 else index
    if (isinstance(mask, Tensor) and mask.dtype is dt.bool_ and 0 < mask.dim() <= self.dim()
            and (not isinstance(value, Tensor) or value.dim() == 0)):
        _check_mask_shape(mask, self, 0)  # x[mask] = scalar is masked_fill_, as in PyTorch
        masked_fill_(self, mask.reshape(mask._shape + (1,) * (self.dim() - mask.dim())), value)
        return
    _index_put(self, resolve(self, index), value, False, True)


def _index_put_items(self: Tensor, indices, values, op: str) -> _Index:
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{op}(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}")
    if not isinstance(values, Tensor):
        raise TypeError(f"{op}(): argument 'values' must be Tensor, not {type(values).__name__}")
    if values.dtype is not self.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{self.dtype.torch_name} for the destination and "
                           f"{values.dtype.torch_name} for the source.")
    return resolve(self, tuple(slice(None) if i is None else i for i in indices))


def index_put_(self, indices, values, accumulate=False):
    """self[indices] = values in place; with accumulate=True duplicates are summed (atomically)."""
    return _index_put(self, _index_put_items(self, indices, values, "index_put_"), values, accumulate, True)


def index_put(input, indices, values, accumulate=False):
    return _index_put(input, _index_put_items(input, indices, values, "index_put"), values, accumulate, False)


register("index_put_", index_put_)
register("index_put", index_put)


# ---- index_select / index_add / index_copy / index_fill ------------------------------------------------------
def _along(t: Tensor, dim: int):
    """(t as at least 1-d, wrapped dim): a 0-d tensor acts as a 1-element vector."""
    d = wrap_dim(dim, t.dim())
    return (t if t.dim() else _raw(t, (1,), (0,))), d


def index_select(input, dim, index, *, out=None):
    """The slices of input along dim picked by a vector of indices.

    >>> index_select(tensor([[1, 2], [3, 4]]), 0, tensor([1, 1])).tolist()
    [[3, 4], [3, 4]]
    """
    index = _vector_index(_on_device(_int_index(index, "index_select"), input.device, "index_select"),
                          "index_select")
    src, d = _along(input, dim)
    if input.dim() == 0 and index.numel() != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {index.numel()} value(s)")
    _check_bounds(index, src._shape[d], d)
    result = _gather(src, [(d, index)])
    if input.dim() == 0:
        result = _raw(result, (), ()) if result.numel() == 1 else result
    if _tracking(input):
        graph.record("IndexSelectBackward0", lambda g, out, a, d, index, shape:
                     zeros(shape, dtype=g.dtype, device=g.device).index_add(d, index, g.reshape(
                         _index_dim_shape(shape, d, index))),
                     [input], result, {"d": d, "index": index, "shape": input._shape}, save=frozenset())
    return result


def _index_dim_shape(shape, d, index):
    shape = tuple(shape) or (1,)
    return shape[:d] + (index.numel(),) + shape[d + 1:]


def _check_index_source(self: Tensor, d: int, index: Tensor, source: Tensor, op: str):
    if source.dtype is not self.dtype:
        raise RuntimeError(f"{op}(): self ({self.dtype.torch_name}) and source "
                           f"({source.dtype.torch_name}) must have the same scalar type")
    expected = _index_dim_shape(self._shape, d, index)
    got = source._shape if source.dim() else (1,)
    if len(got) != len(expected) or got[d] != index.numel():
        raise RuntimeError(f"{op}(): Number of indices ({index.numel()}) should be equal to source.size(dim) "
                           f"({got[d] if d < len(got) else 1})")
    if got != expected:
        raise RuntimeError(f"{op}(): source tensor shape must match self tensor shape, excluding the specified "
                           f"dimension. Got self.shape = {list(self._shape)} source.shape = {list(source._shape)}")
    return source if source.dim() else _raw(source, (1,), (0,))


def _index_inplace(self, dim, index, source, op, kernel_op, name, vjp, params=None):
    _check_writable(self)
    index = _vector_index(_on_device(_int_index(index, op), self.device, op), op)
    target, d = _along(self, dim)
    if isinstance(source, Tensor) and op != "index_fill_":
        source = _on_device(source, self.device, op)
        src = _check_index_source(target, d, index, source, op)
    else:
        src = source
    _check_bounds(index, target._shape[d], d)
    scaled = src
    if params and params.get("alpha", 1) != 1:
        with no_grad():
            scaled = src * params["alpha"]
    _scatter(target, [(d, index)], scaled, kernel_op)
    self._bump_version()
    if _tracking(self, source) and self.dtype.is_floating_point:
        graph.record_inplace(name, vjp, [self, source], self, dict(params or {}, d=d, index=index), save=frozenset())
    return self


def _index_add_vjp(g, out, a, source, d, index, alpha):
    gs = g.index_select(d, index)
    return g, (gs * alpha if alpha != 1 else gs)


def index_add_(self, dim, index, source, *, alpha=1):
    """self.index_select(dim, index) += alpha * source, summing duplicates (atomic adds)."""
    return _index_inplace(self, dim, index, source, "index_add_", "add", "IndexAddBackward0", _index_add_vjp,
                          {"alpha": alpha})


def index_copy_(self, dim, index, source):
    return _index_inplace(self, dim, index, source, "index_copy_", "assign", "IndexCopyBackward0",
                          lambda g, out, a, s, d, index: (g.index_fill(d, index, 0), g.index_select(d, index)))


def index_fill_(self, dim, index, value):
    value = _scalar_value(value, "index_fill_", self.dtype)
    name = "IndexFillBackward1" if isinstance(value, Tensor) else "IndexFillBackward0"
    if isinstance(value, Tensor):
        value = _as_device(value, self.device)
    return _index_inplace(self, dim, index, value, "index_fill_", "assign", name, _index_fill_vjp)


def _index_fill_vjp(g, out, a, value, d, index):
    gv = g.index_select(d, index).sum() if isinstance(value, Tensor) else None
    return g.index_fill(d, index, 0), gv


def _out_of_place(inplace):
    def op(input, *args, **kwargs):
        return inplace(input.clone(), *args, **kwargs)
    op.__name__ = inplace.__name__.rstrip("_")
    op.__doc__ = f"The out-of-place form of {inplace.__name__}."
    return op


index_add, index_copy, index_fill = (_out_of_place(f) for f in (index_add_, index_copy_, index_fill_))
for _f in (index_select, index_add, index_copy, index_fill, index_add_, index_copy_, index_fill_):
    register(_f.__name__, _f)


# ---- gather / scatter family ------------------------------------------------------------------------------
def _check_dim_sizes(self: Tensor, dim: int, index: Tensor, src=None, scatter=False):
    """PyTorch's shape rules for gather/scatter: index has self's rank and is no larger than
    self outside dim (and no larger than src anywhere)."""
    if max(index.dim(), 1) != max(self.dim(), 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    if isinstance(src, Tensor) and max(src.dim(), 1) != max(index.dim(), 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    for d in range(index.dim()):
        too_big_self = d != dim and self.dim() and index._shape[d] > self._shape[d]
        too_big_src = isinstance(src, Tensor) and src.dim() and index._shape[d] > src._shape[d]
        if not (too_big_self or too_big_src):
            continue
        if not scatter:
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index._shape)} to be "
                               f"no larger than self {list(self._shape)} apart from dimension {dim}")
        than_src = f" and to be no larger size than src {list(src._shape)}" if isinstance(src, Tensor) else ""
        raise RuntimeError(f"Expected index {list(index._shape)} to be no larger than self {list(self._shape)} "
                           f"apart from dimension {dim}{than_src}")


def gather(input, dim, index, *, sparse_grad=False, out=None):
    """out[i][j][k] = input[index[i][j][k]][j][k] (for dim 0), and likewise for other dims."""
    index = _int_index(_on_device(index, input.device, "gather"), "gather")
    d = wrap_dim(dim, input.dim())
    _check_dim_sizes(input, d, index)
    size, step = _size_stride(input, d)
    _check_bounds(index, size, d)
    result = launch.base.empty(index._shape, input.dtype, input.device)
    launch.index.index_kernel(index._shape, result, result._strides, input, _dim_layout(input, d, index.dim()),
                          [(index, index._strides, size, step)], "src")
    if _tracking(input):
        graph.record("GatherBackward0", lambda g, out, a, d, index, shape:
                     zeros(shape, dtype=g.dtype, device=g.device).scatter_add(d, index, g),
                     [input], result, {"d": d, "index": index, "shape": input._shape}, save=frozenset())
    return result


_SCATTER_OPS = {None: "assign", "add": "add", "multiply": "mul"}
_REDUCE_OPS = {"sum": "add", "prod": "mul", "mean": "add", "amax": "max", "amin": "min"}


def _scatter_args(self, dim, index, src, op):
    index = _int_index(_on_device(index, self.device, op), op)
    d = wrap_dim(dim, self.dim())
    if isinstance(src, Tensor):
        src = _on_device(src, self.device, op)
        if src.dtype is not self.dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype")
    _check_dim_sizes(self, d, index, src, scatter=True)
    _check_bounds(index, _size_stride(self, d)[0], d)
    return d, index, src


def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    """Write src (a tensor, or a number given as src or value) into self at index along dim."""
    src = value if src is None else src
    if reduce not in _SCATTER_OPS:
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    src = _scalar_value(src, "scatter_", self.dtype) if not isinstance(src, Tensor) else src
    _check_writable(self)
    d, index, src = _scatter_args(self, dim, index, src, "scatter")
    _scatter_dim(self, d, index, src, _SCATTER_OPS[reduce])
    self._bump_version()
    if _tracking(self, src) and self.dtype.is_floating_point:
        name = "ScatterBackward0" if isinstance(src, Tensor) else "ScatterBackward1"
        graph.record_inplace(name, _scatter_vjp, [self, src], self, {"d": d, "index": index, "reduce": reduce},
                             save=frozenset())
    return self


def _scatter_vjp(g, out, a, src, d, index, reduce):
    if reduce is not None:
        raise RuntimeError("the derivative for 'scatter' with 'reduce' is not implemented; use scatter_reduce")
    gsrc = g.gather(d, index) if isinstance(src, Tensor) else None
    return g.scatter(d, index, 0), gsrc


def scatter_add_(self, dim, index, src):
    """self[index[i]] += src[i] along dim; duplicate indices are summed (atomic adds)."""
    _check_writable(self)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add_(): argument 'src' must be Tensor, not {type(src).__name__}")
    d, index, src = _scatter_args(self, dim, index, src, "scatter_add")
    _scatter_dim(self, d, index, src, "add")
    self._bump_version()
    if _tracking(self, src) and self.dtype.is_floating_point:
        graph.record_inplace("ScatterAddBackward0", lambda g, out, a, s, d, index: (g, g.gather(d, index)),
                             [self, src], self, {"d": d, "index": index}, save=frozenset())
    return self


def _reduce_identity(reduce, d: dt.dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = math.inf if d.is_floating_point else (1 if d is dt.bool_ else int(np.iinfo(d.np).max))
    small = -math.inf if d.is_floating_point else (0 if d is dt.bool_ else int(np.iinfo(d.np).min))
    return small if reduce == "amax" else big


def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    """Reduce src into self at index along dim with 'sum', 'prod', 'mean', 'amax' or 'amin'."""
    if reduce not in _REDUCE_OPS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce_(): argument 'src' must be Tensor, not {type(src).__name__}")
    _check_writable(self)
    d, index, src = _scatter_args(self, dim, index, src, "scatter_reduce")
    original = self.clone() if _tracking(self, src) else None  # the rule reads self's old value
    if not include_self:
        _scatter_dim(self, d, index, _reduce_identity(reduce, self.dtype), "assign")
    _scatter_dim(self, d, index, src, _REDUCE_OPS[reduce])
    if reduce == "mean":
        _divide_by_counts(self, d, index, include_self)
    self._bump_version()
    if original is not None and self.dtype.is_floating_point:
        graph.record_inplace("ScatterReduceBackward0", _scatter_reduce_vjp, [original, src], self,
                             {"d": d, "index": index, "reduce": reduce, "include_self": include_self},
                             save=frozenset({0, "out"}))
    return self


def _scatter_counts(like: Tensor, d, index, include_self):
    counts = zeros(like._shape, dtype=like.dtype if like.dtype.is_floating_point else dt.int64, device=like.device)
    if include_self:
        counts.fill_(1)
    _scatter_dim(counts, d, index, 1, "add")
    return counts


def _divide_by_counts(self, d, index, include_self):
    with no_grad():
        counts = _scatter_counts(self, d, index, include_self).clamp(min=1)
        mode = None if self.dtype.is_floating_point else "floor"
        launch.elementwise.elementwise("_copy", "a", [self.div(counts, rounding_mode=mode)], self, self.dtype)


def _scatter_reduce_vjp(g, out, self, src, d, index, reduce, include_self):
    if reduce in ("sum", "mean"):
        gself = g if include_self else g.scatter(d, index, 0)
        gsrc = g.gather(d, index)
        if reduce == "mean":
            counts = _scatter_counts(g, d, index, include_self).clamp(min=1)
            gself, gsrc = gself / counts, gsrc / counts.gather(d, index)
        return gself, gsrc
    if reduce in ("amax", "amin"):
        # the gradient is shared evenly between every element that attains the result
        hit_src = src == out.gather(d, index)
        hit_self = (self == out) if include_self else self != self
        counts = hit_self + zeros(out.shape, dtype=g.dtype, device=g.device).scatter_add(d, index, hit_src.to(g.dtype))
        share = g / counts
        return share * hit_self, share.gather(d, index) * hit_src
    return _scatter_prod_vjp(g, out, self, src, d, index, include_self)


def _scatter_prod_vjp(g, out, self, src, d, index, include_self):
    """d out / d x = the product of the other factors of x's slot: out / x, or, where x is 0, the
    slot's product with that zero left out (zero again if the slot holds another zero)."""
    if include_self:
        masked_self = self.masked_fill(self == 0, 1)
        gself = g * masked_self.scatter_reduce(d, index, src, "prod", include_self=True) / masked_self
    else:
        gself = g.scatter(d, index, 0)
    src_zero = src == 0
    zeros_in_slot = zeros(out.shape, dtype=g.dtype, device=g.device).scatter_add(d, index, src_zero.to(g.dtype))
    single_zero = src_zero & (zeros_in_slot.gather(d, index) == 1)
    without_it = self.scatter_reduce(d, index, src.masked_fill(single_zero, 1), "prod", include_self=include_self)
    gsrc = (g * without_it).gather(d, index).where(single_zero,
                                                   (g * out).gather(d, index) / src.masked_fill(src_zero, 1))
    return gself, gsrc


scatter, scatter_add, scatter_reduce = (_out_of_place(f) for f in (scatter_, scatter_add_, scatter_reduce_))
for _f in (gather, scatter, scatter_, scatter_add, scatter_add_, scatter_reduce, scatter_reduce_):
    register(_f.__name__, _f)


def take_along_dim(input, indices, dim=None):
    """gather with input and indices broadcast against each other except along dim."""
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    if input.dim() != indices.dim():
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {input.dim()} dimensions for input, and {indices.dim()} dimensions for indices")
    d = wrap_dim(dim, input.dim())
    ones = lambda s: s[:d] + (1,) + s[d + 1:]  # noqa: E731
    common = launch.strides.broadcast_shapes(ones(input._shape), ones(indices._shape))
    src = input.expand(common[:d] + (input._shape[d],) + common[d + 1:])
    return gather(src, d, indices.expand(common[:d] + (indices._shape[d],) + common[d + 1:]))


register("take_along_dim", take_along_dim)


# ---- take / put ----------------------------------------------------------------------------------------------
def _flat(t: Tensor) -> Tensor:
    src = t if t.is_contiguous() else _detached_copy(t)
    return _raw(src, (src.numel(),), (1,))


def take(input, index):
    """input treated as 1-d (row-major), read at index (any shape, negative indices wrap)."""
    index = _int_index(_on_device(index, input.device, "take"), "take")
    n = input.numel()
    _check_bounds(index, n, 0, message="out of range: tried to access index {i} on a tensor of {s} elements.")
    result = _gather(_flat(input), [(0, index)])
    if _tracking(input):
        graph.record("TakeBackward0", lambda g, out, a, index, shape: _index_put(
            zeros(math.prod(shape), dtype=g.dtype, device=g.device), _Index(None, [(0, index)]), g, True,
            False).reshape(shape), [input], result, {"index": index, "shape": input._shape}, save=frozenset())
    return result


def put_(self, index, source, accumulate=False):
    """self (as 1-d) at index = source (or += with accumulate)."""
    index = _int_index(_on_device(index, self.device, "put_"), "put_")
    _check_bounds(index, self.numel(), 0, message="out of range: tried to access index {i} on a tensor of {s} "
                                                  "elements.")
    if source.dtype is not self.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                           f"{self.dtype.torch_name} and {source.dtype.torch_name}")
    if source.numel() != index.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    _check_writable(self)
    flat = _flat(self)
    _scatter(flat, [(0, index.reshape(-1))], _flat(_on_device(source, self.device, "put_")),
             "add" if accumulate else "assign")
    if flat._storage is not self._storage:
        launch.elementwise.elementwise("_copy", "a", [_raw(flat, self._shape, _contig(self._shape))], self, self.dtype)
    self._bump_version()
    if _tracking(self, source) and self.dtype.is_floating_point:
        graph.record_inplace("PutBackward0", lambda g, out, a, s, index, acc: (
            g if acc else g.put(index, zeros(index._shape, dtype=g.dtype, device=g.device)),
            g.take(index).reshape(s.shape)), [self, source], self, {"index": index, "acc": accumulate},
            save=frozenset())
    return self


put = _out_of_place(put_)
register("take", take)
register("put_", put_)
register("put", put)


# ---- masks -----------------------------------------------------------------------------------------------------
def _check_mask(mask, op):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask.dtype is not dt.bool_:
        if op == "masked_select":
            raise RuntimeError("masked_select: expected BoolTensor for mask")
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {mask.dtype.name}")


def masked_fill_(self, mask, value):
    """self[mask] = value for a boolean mask broadcastable to self and a number or 0-d tensor."""
    _check_mask(mask, "masked_fill_")
    value = _scalar_value(value, "masked_fill_", self.dtype)
    mask = _on_device(mask, self.device, "masked_fill_")
    if launch.strides.broadcast_shapes(self._shape, mask._shape) != self._shape:
        raise RuntimeError(f"masked_fill_: mask of shape {list(mask._shape)} cannot be broadcast to self of shape "
                           f"{list(self._shape)}")
    _check_writable(self)
    if isinstance(value, Tensor):
        value = _as_device(value, self.device)
    pick = "(a.x != 0) ? c : b" if self.dtype.is_complex else "(a != 0) ? c : b"  # complex: the mask is a (re, im) pair
    launch.elementwise.elementwise("masked_fill", pick, [mask, self, value], self, self.dtype)
    self._bump_version()
    if _tracking(self, value) and self.dtype.is_differentiable:
        name = "MaskedFillBackward1" if isinstance(value, Tensor) else "MaskedFillBackward0"
        graph.record_inplace(name, _masked_fill_vjp, [self, value], self, {"mask": mask}, save=frozenset())
    return self


def _masked_fill_vjp(g, out, a, value, mask):
    gv = g.masked_fill(mask.logical_not(), 0).sum() if isinstance(value, Tensor) else None
    return g.masked_fill(mask, 0), gv


def masked_fill(input, mask, value):
    _check_mask(mask, "masked_fill")
    _scalar_value(value, "masked_fill_", input.dtype)  # before the copy: a bad value runs no kernel
    shape = launch.strides.broadcast_shapes(input._shape, mask._shape)
    return masked_fill_(input.expand(shape).clone() if shape != input._shape else input.clone(), mask, value)


def masked_select(input, mask):
    """The elements of input where the (broadcast) boolean mask is True, as a 1-d tensor."""
    _check_mask(mask, "masked_select")
    mask = _on_device(mask, input.device, "masked_select")
    shape = launch.strides.broadcast_shapes(input._shape, mask._shape) or (1,)  # a 0-d pair selects like a 1-element one
    full_mask = _raw(mask, shape, launch.strides.broadcast_strides(mask, shape))
    full_input = _raw(input, shape, launch.strides.broadcast_strides(input, shape))
    result = _gather(full_input, _mask_pairs(full_mask))
    if _tracking(input):
        graph.record("MaskedSelectBackward0", lambda g, out, a, mask, shape:
                     zeros(shape, dtype=g.dtype, device=g.device).masked_scatter(mask, g),
                     [input], result, {"mask": full_mask, "shape": shape}, save=frozenset())
    return result


def _mask_pairs(mask: Tensor):
    if mask.dim() == 0:
        mask = _raw(mask, (1,), (0,))
    coords = launch.index.nonzero_compact(mask, coords=True)
    return [(j, _raw(coords, (coords._shape[0],), (mask.dim(),), j)) for j in range(mask.dim())]


def masked_scatter_(self, mask, source):
    """Copy the first elements of source (row-major) into self where mask is True."""
    _check_mask(mask, "masked_scatter_")
    if source.dtype is not self.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but got "
                           f"{self.dtype.torch_name} and {source.dtype.torch_name}")
    mask = _on_device(mask, self.device, "masked_scatter_")
    if launch.strides.broadcast_shapes(self._shape, mask._shape) != self._shape:
        raise RuntimeError(f"masked_scatter_: mask of shape {list(mask._shape)} cannot be broadcast to self of "
                           f"shape {list(self._shape)}")
    _check_writable(self)
    full_mask = _raw(mask, self._shape, launch.strides.broadcast_strides(mask, self._shape))
    pairs = _mask_pairs(full_mask)
    nnz = pairs[0][1]._shape[0]
    if source.numel() < nnz:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    flat_source = _flat(_on_device(source, self.device, "masked_scatter_"))
    target = self if self.dim() else _raw(self, (1,), (0,))
    _scatter(target, pairs, _raw(flat_source, (nnz,), (1,)), "assign")
    self._bump_version()
    if _tracking(self, source) and self.dtype.is_floating_point:
        graph.record_inplace("MaskedScatterBackward0", _masked_scatter_vjp, [self, source], self,
                             {"mask": full_mask, "nnz": nnz, "shape": source._shape}, save=frozenset())
    return self


def _masked_scatter_vjp(g, out, a, source, mask, nnz, shape):
    picked = g.masked_select(mask)
    numel = math.prod(shape)
    if nnz < numel:
        picked = shape_ops.scatter_into_zeros(picked, (numel,), lambda z: z.narrow(0, 0, nnz))
    return g.masked_fill(mask, 0), picked.reshape(shape)


def masked_scatter(input, mask, source):
    shape = launch.strides.broadcast_shapes(input._shape, mask._shape)
    return masked_scatter_(input.expand(shape).clone() if shape != input._shape else input.clone(), mask, source)


for _f in (masked_fill, masked_fill_, masked_select, masked_scatter, masked_scatter_):
    register(_f.__name__, _f)


def nonzero(input, *, out=None, as_tuple=False):
    """Coordinates of the nonzero elements, (nnz, ndim) int64 in row-major order, or one 1-d
    tensor per dim with as_tuple=True. Reads the count back to the host (a sync)."""
    if input.dim() == 0:
        nnz = launch.index.nonzero_compact(_raw(input, (1,), (0,)), coords=False)._shape[0]
        if as_tuple:
            return (zeros(nnz, dtype=dt.int64, device=input.device),)
        return launch.base.empty((nnz, 0), dt.int64, input.device)
    coords = launch.index.nonzero_compact(input, coords=True)
    if as_tuple:
        return tuple(_raw(coords, (coords._shape[0],), (input.dim(),), j) for j in range(input.dim()))
    return coords


def argwhere(input):
    return nonzero(input)


register("nonzero", nonzero)
register("argwhere", argwhere)


# ---- sorting -------------------------------------------------------------------------------------------------
_sort_result = namedtuple("sort", ["values", "indices"])
_topk_result = namedtuple("topk", ["values", "indices"])
_kthvalue_result = namedtuple("kthvalue", ["values", "indices"])


def _sorted(x: Tensor, d: int, descending: bool):
    """(values, indices) of x sorted stably along dim d; contiguous, outside autograd."""
    if x.dim() == 0:
        return _detached_copy(x), zeros((), dtype=dt.int64, device=x.device)
    last = x.dim() - 1
    moved = x if d == last else _raw(x, *_moved(x._shape, x._strides, d))
    n = moved._shape[-1]
    key_dtype = dt.float32 if x.dtype is dt.float16 else x.dtype
    keys = _detached_copy(moved, key_dtype)
    idx = launch.base.empty(moved._shape, dt.int64, x.device)
    launch.sort.sort_rows(keys, idx, x.numel() // n if n else 0, n, descending)
    values = keys if key_dtype is x.dtype else _detached_copy(keys, x.dtype)
    if d != last:
        values, idx = (_detached_copy(_raw(t, *_moved(t._shape, t._strides, last, d))) for t in (values, idx))
    return values, idx


def _moved(shape, strides, src, dst=-1):
    order = list(range(len(shape)))
    order.insert(dst % len(shape), order.pop(src))
    return tuple(shape[i] for i in order), tuple(strides[i] for i in order)


def _sort_dim(input, dim):
    return wrap_dim(dim, input.dim())


def _scatter_back_vjp(g, out, a, d, indices, shape):
    if not shape:
        return g
    return zeros(shape, dtype=g.dtype, device=g.device).scatter(d, indices, g)


def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    """Values sorted along dim and their source indices. Always stable; NaN sorts last
    (first when descending).

    >>> sort(tensor([3, 1, 2])).indices.tolist()
    [1, 2, 0]
    """
    d = _sort_dim(input, dim)
    values, indices = _sorted(input, d, descending)
    if _tracking(input):
        graph.record("SortBackward0", _scatter_back_vjp, [input], values,
                     {"d": d, "indices": indices, "shape": input._shape}, save=frozenset())
    return _sort_result(values, indices)


def argsort(input, dim=-1, descending=False, stable=False):
    return _sorted(input, _sort_dim(input, dim), descending)[1]


def msort(input):
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) elements along dim, in sorted order, and their indices."""
    d = _sort_dim(input, dim)
    size = _size_stride(input, d)[0]
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    values, indices = _sorted(input, d, largest)
    if input.dim():
        values, indices = (_detached_copy(_raw(t, t._shape[:d] + (k,) + t._shape[d + 1:], t._strides))
                           for t in (values, indices))
    if _tracking(input):
        graph.record("TopkBackward0", _scatter_back_vjp, [input], values,
                     {"d": d, "indices": indices, "shape": input._shape}, save=frozenset())
    return _topk_result(values, indices)


def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest element along dim (k counts from 1) and its index."""
    d = _sort_dim(input, dim)
    size = _size_stride(input, d)[0]
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    values, indices = _sorted(input, d, False)
    if input.dim():
        kept = values._shape[:d] + (1,) + values._shape[d + 1:]
        offset = (k - 1) * values._strides[d]
        values, indices = (_detached_copy(_raw(t, kept, t._strides, offset)) for t in (values, indices))
        if not keepdim:
            dropped = kept[:d] + kept[d + 1:]
            values, indices = (_raw(t, dropped, _contig(dropped)) for t in (values, indices))
    if _tracking(input):
        graph.record("KthvalueBackward0", _kth_vjp, [input], values,
                     {"d": d, "indices": indices, "shape": input._shape, "keepdim": keepdim}, save=frozenset())
    return _kthvalue_result(values, indices)


def _kth_vjp(g, out, a, d, indices, shape, keepdim):
    if not shape:
        return g
    if not keepdim:
        g, indices = g.unsqueeze(d), indices.unsqueeze(d)
    return zeros(shape, dtype=g.dtype, device=g.device).scatter(d, indices, g)


for _f in (sort, argsort, msort, topk, kthvalue):
    register(_f.__name__, _f)


# ---- unique ----------------------------------------------------------------------------------------------------
def _run_starts(rows: Tensor) -> Tensor:
    """Bool flags marking where each run of equal consecutive rows of a contiguous (n, m) tensor
    starts (m == 1 for plain values)."""
    n, m = rows._shape
    flags = launch.base.empty((n,), dt.bool_, rows.device)
    launch.elementwise.elementwise("fill", "1", [], _raw(flags, (1,), (1,)), dt.bool_)
    if n > 1:
        later = _raw(rows, (n - 1, m), (m, 1), rows._offset + m)
        earlier = _raw(rows, (n - 1, m), (m, 1))
        differs = launch.base.empty((n - 1, m), dt.bool_, rows.device)
        launch.elementwise.elementwise("ne", "a != b", [later, earlier], differs, rows.dtype)
        if m != 1:
            differs = differs.any(dim=1) if m else zeros(n - 1, dtype=dt.bool_, device=rows.device)
        launch.elementwise.elementwise("_copy", "a", [_raw(differs, (n - 1,), (differs._strides[0],))],
                             _raw(flags, (n - 1,), (1,), 1), dt.bool_)
    return flags


def _unique_rows(rows: Tensor, order, inverse_shape, return_inverse, return_counts):
    """The distinct runs of the rows of a sorted (or unsorted, for unique_consecutive) contiguous
    (n, m) tensor: (first row of each run, inverse, counts); order[i] is the source of row i."""
    device = rows.device
    n = rows._shape[0]
    flags = _run_starts(rows)
    starts = launch.index.nonzero_compact(flags, coords=False)
    values = _gather(rows, [(0, starts)])
    inverse = launch.base.empty((n,), dt.int64, device)
    counts = zeros(starts._shape[0], dtype=dt.int64, device=device)
    if (return_inverse or return_counts) and n:
        group = launch.index.inclusive_count(flags)  # 1-based run number of every sorted row
        launch.elementwise.elementwise("sub1", "a - 1", [group], group, dt.int64)
        if return_inverse:
            if order is None:
                inverse = group
            else:
                _scatter(inverse, [(0, order)], group)
        if return_counts:  # run lengths: the next run's start minus this one's (no int64 atomics needed)
            counts[:-1] = starts[1:]
            counts[-1] = n
            counts.sub_(starts)
    return values, _raw(inverse, inverse_shape, _contig(inverse_shape)), counts


def _lexsort_rows(rows: Tensor):
    """Row order of a contiguous (n, m) tensor sorted lexicographically: a stable sort by each
    column from the last to the first (LSD), m device sorts of n keys."""
    n, m = rows._shape
    order = launch.base.empty((n,), dt.int64, rows.device)
    launch.elementwise.elementwise("range", "i", [], order, dt.int64)
    for col in reversed(range(m)):
        keys = _gather(_raw(rows, (n,), (m,), rows._offset + col), [(0, order)])
        order = _gather(order, [(0, _sorted(keys, 0, False)[1])])
    return order


def _unique(input, dim, return_inverse, return_counts, consecutive):
    x = input.detach()
    if dim is None:
        rows = _raw(_flat(x), (x.numel(), 1), (1, 1))
        inverse_shape, d = x._shape, None
    else:
        d = wrap_dim(dim, x.dim())
        moved = _detached_copy(_raw(x, *_moved(x._shape, x._strides, d, 0)))
        n = moved._shape[0] if moved.dim() else 1
        rows = _raw(moved, (n, moved.numel() // n if n else 0), (moved.numel() // n if n else 0, 1))
        inverse_shape = (n,)
    order = None
    if not consecutive:
        order = _sorted(_raw(rows, (rows._shape[0],), (1,)), 0, False)[1] if dim is None else _lexsort_rows(rows)
        rows = _gather(rows, [(0, order)])
    values, inverse, counts = _unique_rows(rows, order, inverse_shape, return_inverse, return_counts)
    if dim is None:
        values = _raw(values, (values._shape[0],), (1,))
    else:
        kept = (values._shape[0],) + moved._shape[1:]
        values = _detached_copy(_raw(values, *_moved(kept, _contig(kept), 0, d)))
    result = (values,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return result[0] if len(result) == 1 else result


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The unique elements of input (flattened), or unique slices along dim, always sorted, with
    optional inverse indices and counts."""
    return _unique(input, dim, return_inverse, return_counts, False)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive elements (input flattened) or slices along dim."""
    return _unique(input, dim, return_inverse, return_counts, True)


register("unique", unique)
register("unique_consecutive", unique_consecutive)


# ---- searchsorted / bucketize / bincount ------------------------------------------------------------------------
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None):
    """Indices where input's values would be inserted into the sorted innermost rows of
    sorted_sequence to keep them sorted (side='left' first such place, 'right' last)."""
    if side not in (None, "left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
    if side == "left" and right:
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left while "
                           "right was True")
    right = right or side == "right"
    seq = sorted_sequence
    scalar = not isinstance(input, Tensor)
    values = from_host(np.array(input), dt.result_type(seq, input), seq.device) if scalar else \
        _on_device(input, seq.device, "searchsorted")
    if seq.dim() == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(seq._shape)} and input value tensor {list(values._shape)}")
    per_row = seq.dim() > 1
    if per_row and (values.dim() != seq.dim() or values._shape[:-1] != seq._shape[:-1]):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(seq._shape)} and input value tensor {list(values._shape)}")
    if sorter is not None:
        seq = seq.detach().gather(-1, _on_device(sorter, seq.device, "searchsorted"))
    seq, values = (t.detach().contiguous() for t in (seq, values))
    result = launch.base.empty(values._shape, dt.int32 if out_int32 else dt.int64, values.device)
    inner = values._shape[-1] if values.dim() else 1
    launch.sort.searchsorted_kernel(seq, values, result, inner, per_row, right, dt.result_type(seq, values))
    return result


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The bucket of each element: i with boundaries[i-1] < x <= boundaries[i] (right=False)."""
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def bincount(input, weights=None, minlength=0):
    """Counts (or summed weights) of every value 0..max(input) of a 1-d non-negative integer tensor."""
    if input.dim() != 1 or input.dtype.category != dt.INT:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is not None and (weights.dim() != 1 or weights._shape[0] != input._shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    size = minlength
    if input.numel():
        lo, hi = launch.index.index_minmax(input)
        if lo < 0:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        size = max(size, hi + 1)
    out_dtype = dt.int64 if weights is None else (dt.float32 if weights.dtype is dt.float32 else dt.float64)
    counts = zeros(size, dtype=out_dtype, device=input.device)
    src = 1 if weights is None else _as_device(weights.detach(), input.device)
    launch.index.index_kernel(input._shape, counts, (0,), src, None if weights is None else src._strides,
                          [(input, input._strides, size, 1)], "dst", "add")
    return counts


register("bincount", bincount)
