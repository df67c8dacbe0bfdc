"""Joining, splitting and rearranging tensors: cat/stack families, split/chunk/tensor_split,
flip/roll, repeat/tile/repeat_interleave, tril/triu, diag/diag_embed/trace and meshgrid.

Almost everything here is a strided copy of a view into a view of a fresh output (the `_copy`
elementwise kernel handles any strides on both sides, negative ones included, which is how
flip reads backwards), or a view of the input. repeat_interleave with a tensor of repeats uses
the table-driven gather / segment-sum kernels of kernels_cl/copy.cl.mako.
"""
from __future__ import annotations

import functools
import itertools
import warnings

import numpy as np

from .. import launch
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..tensor import Tensor, _shape_arg, register, wrap_dim
from . import shape as shape_ops
from .creation import tensor, zeros
from .elementwise import check_inplace_allowed

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack", "row_stack",
           "atleast_1d", "atleast_2d", "atleast_3d", "split", "chunk", "tensor_split", "hsplit", "vsplit",
           "dsplit", "flip", "fliplr", "flipud", "roll", "tile", "repeat_interleave", "tril", "triu", "diag",
           "diag_embed", "trace", "meshgrid", "narrow_copy"]


# ---- helpers -------------------------------------------------------------------------------------
def _raw_view(t: Tensor, shape, strides, offset) -> Tensor:
    """An internal view outside autograd; strides may be negative (never handed to users)."""
    return Tensor._make(t._storage, tuple(shape), tuple(strides), offset, t.dtype, t.device)


def _copy(src: Tensor, dest: Tensor):
    """dest[...] = src[...] converted to dest's dtype (any strides on both sides)."""
    launch.elementwise.elementwise("_copy", "a", [src], dest, src.dtype)


def _narrowed(t: Tensor, d: int, start: int, length: int) -> Tensor:
    shape = t._shape[:d] + (length,) + t._shape[d + 1:]
    return _raw_view(t, shape, t._strides, t._offset + start * t._strides[d])


def _selected(t: Tensor, d: int, index: int) -> Tensor:
    return _raw_view(t, t._shape[:d] + t._shape[d + 1:], t._strides[:d] + t._strides[d + 1:],
                     t._offset + index * t._strides[d])


def _moved_to_front(t: Tensor, d: int) -> Tensor:
    order = [d] + [i for i in range(t.dim()) if i != d]
    return _raw_view(t, [t._shape[i] for i in order], [t._strides[i] for i in order], t._offset)


def _tracking(tensors) -> bool:
    return is_grad_enabled() and any(t.requires_grad for t in tensors)


def _tensor_list(tensors, fname: str) -> list:
    if isinstance(tensors, Tensor):
        raise TypeError(f"{fname}(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    if not isinstance(tensors, (list, tuple)):
        try:
            tensors = list(tensors)
        except TypeError:
            raise TypeError(f"{fname}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                            f"not {type(tensors).__name__}") from None
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    return list(tensors)


def _int_tuple(value, what: str) -> tuple:
    if isinstance(value, Tensor):
        value = value.tolist()
    items = value if isinstance(value, (list, tuple)) else (value,)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{what} must be an int or a tuple of ints, but got {type(v).__name__}")
    return tuple(int(v) for v in items)


def _dims_from_args(dims, kwargs, fname: str) -> tuple:
    if "dims" in kwargs:
        dims = (kwargs.pop("dims"),)
    if kwargs:
        raise TypeError(f"{fname}() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if len(dims) == 1:
        return _int_tuple(dims[0], "dims")
    return _int_tuple(dims, "dims")


def _output(out, shape, dtype, device, inputs, fname: str) -> Tensor:
    """A fresh result, or out= checked (device, dtype, autograd) and resized like PyTorch does."""
    if out is None:
        return launch.base.empty(shape, dtype, device)
    if _tracking(inputs):
        raise RuntimeError(f"{fname}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    if out.device != device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{device} and {out.device}! (when checking argument for argument out in {fname})")
    if not dt.can_cast(dtype, out.dtype):
        raise TypeError(f"torch.{fname}(): input types can't be cast to the desired output type "
                        f"{out.dtype.torch_name}")
    check_inplace_allowed(out)
    if tuple(out._shape) != tuple(shape):
        if out.numel():
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out._shape)}, "
                          f"which does not match the required output shape {list(shape)}. This behavior is "
                          "deprecated, and in a future PyTorch release outputs will not be resized unless they have "
                          "zero elements.", UserWarning, stacklevel=3)
        fresh = launch.base.empty(shape, out.dtype, device)
        out._storage, out._shape, out._strides, out._offset = fresh._storage, fresh._shape, fresh._strides, 0
    out._bump_version()
    return out


# ---- cat and stack ---------------------------------------------------------------------------------
def _check_cat_sizes(kept, d):
    first_index, ref = kept[0]
    for i, t in kept[1:]:
        if t.dim() != ref.dim():
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.dim()} and {t.dim()}")
        for k, (a, b) in enumerate(zip(ref._shape, t._shape)):
            if k != d and a != b:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size {a} but "
                                   f"got size {b} for tensor number {i} in the list.")


def _cat_vjp(g, out, *inputs, dim, spans):
    return tuple(g.narrow(dim, start, length) if start is not None else g.new_zeros(0)
                 for start, length in spans)


def cat(tensors, dim=0, *, axis=None, out=None):
    """Concatenate tensors along an existing dim (dtypes promote; 1-D empty tensors are skipped).

    >>> cat([tensor([1, 2]), tensor([3])]).tolist()
    [1, 2, 3]
    """
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    dim = axis if axis is not None else dim
    device = launch.base.common_device(tensors, "cat")
    for i, t in enumerate(tensors):
        if t.dim() == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    dtype = functools.reduce(dt.promote_types, (t.dtype for t in tensors))
    # PyTorch's legacy rule: 1-D tensors with no elements take no part in the shape checks
    kept = [(i, t) for i, t in enumerate(tensors) if t._shape != (0,)]
    if not kept:
        return _output(out, (0,), dtype, device, tensors, "cat")
    d = wrap_dim(dim, kept[0][1].dim())
    _check_cat_sizes(kept, d)
    shape = list(kept[0][1]._shape)
    shape[d] = sum(t._shape[d] for _, t in kept)
    dest = _output(out, shape, dtype, device, tensors, "cat")
    spans, pos = [(None, 0)] * len(tensors), 0
    for i, t in kept:
        _copy(t, _narrowed(dest, d, pos, t._shape[d]))
        spans[i] = (pos, t._shape[d])
        pos += t._shape[d]
    if out is None and _tracking(tensors):
        graph.record("CatBackward0", _cat_vjp, tensors, dest, {"dim": d, "spans": spans}, save=frozenset())
    return dest


def concat(tensors, dim=0, *, axis=None, out=None):
    return cat(tensors, dim, axis=axis, out=out)


def concatenate(tensors, axis=0, *, dim=None, out=None):
    return cat(tensors, axis if dim is None else dim, out=out)


def stack(tensors, dim=0, *, out=None):
    """Join same-shaped tensors along a new dim.

    >>> stack([tensor([1, 2]), tensor([3, 4])], dim=1).tolist()
    [[1, 3], [2, 4]]
    """
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]
    d = wrap_dim(dim, ref.dim() + 1)
    for i, t in enumerate(tensors):
        if t._shape != ref._shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(ref._shape)} at entry 0 "
                               f"and {list(t._shape)} at entry {i}")
    device = launch.base.common_device(tensors, "stack")
    dtype = functools.reduce(dt.promote_types, (t.dtype for t in tensors))
    dest = _output(out, ref._shape[:d] + (len(tensors),) + ref._shape[d:], dtype, device, tensors, "stack")
    for i, t in enumerate(tensors):
        _copy(t, _selected(dest, d, i))
    if out is None and _tracking(tensors):
        graph.record("StackBackward0", lambda g, out, *xs, dim: g.unbind(dim), tensors, dest, {"dim": d},
                     save=frozenset())
    return dest


def _atleast(fn, tensors):
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return fn(tensors[0])
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    return tuple(fn(t) for t in tensors)


def _at_least_1d(t):
    return t.reshape(1) if t.dim() == 0 else t


def _at_least_2d(t):
    return t.reshape(1, 1) if t.dim() == 0 else t.unsqueeze(0) if t.dim() == 1 else t


def _at_least_3d(t):
    if t.dim() == 0:
        return t.reshape(1, 1, 1)
    if t.dim() == 1:
        return t.unsqueeze(0).unsqueeze(-1)
    return t.unsqueeze(-1) if t.dim() == 2 else t


def atleast_1d(*tensors):
    return _atleast(_at_least_1d, tensors)


def atleast_2d(*tensors):
    return _atleast(_at_least_2d, tensors)


def atleast_3d(*tensors):
    return _atleast(_at_least_3d, tensors)


def _nonempty_list(tensors, fname):
    tensors = _tensor_list(tensors, fname)
    if not tensors:
        raise RuntimeError(f"{fname} expects a non-empty TensorList")
    return tensors


def hstack(tensors, *, out=None):
    tensors = [_at_least_1d(t) for t in _nonempty_list(tensors, "hstack")]
    return cat(tensors, 0 if tensors[0].dim() == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    return cat([_at_least_2d(t) for t in _nonempty_list(tensors, "vstack")], 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    return cat([_at_least_3d(t) for t in _nonempty_list(tensors, "dstack")], 2, out=out)


def column_stack(tensors, *, out=None):
    tensors = _nonempty_list(tensors, "column_stack")
    return cat([t.reshape(t.numel(), 1) if t.dim() <= 1 else t for t in tensors], 1, out=out)


# ---- splitting -------------------------------------------------------------------------------------------
def _split_vjp(g, out, a, dim, sizes, shape):
    grads = g if isinstance(g, (list, tuple)) else [g]
    some = next(x for x in grads if x is not None)
    pieces = [x if x is not None else some.new_zeros(shape[:dim] + (n,) + shape[dim + 1:])
              for x, n in zip(grads, sizes)]
    return cat(pieces, dim)


def _split_views(t: Tensor, d: int, sizes, name: str) -> tuple:
    """Views of consecutive pieces of t along d, all outputs of one backward node (as in PyTorch)."""
    views, pos = [], 0
    for n in sizes:
        views.append(t._view(t._shape[:d] + (n,) + t._shape[d + 1:], t._strides,
                             t._offset + (pos * t._strides[d] if n else 0)))
        pos += n
    views = tuple(views)
    if _tracking([t]):
        graph.record(name, _split_vjp, [t], views, {"dim": d, "sizes": tuple(sizes), "shape": t._shape},
                     save=frozenset(), num_outputs=len(views))
    return views


def _split_dim(t: Tensor, dim, fname: str) -> int:
    if t.dim() == 0:
        raise RuntimeError(f"{fname} expects at least a 1-dimensional tensor")
    return wrap_dim(dim, t.dim())


def split_with_sizes(tensor, split_sizes, dim=0):
    d = _split_dim(tensor, dim, "split_with_sizes")
    sizes = _int_tuple(split_sizes, "split_sizes")
    size = tensor._shape[d]
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                           f"split_sizes={list(sizes)}")
    if sum(sizes) != size:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at "
                           f"dimension {d}), but got split_sizes={list(sizes)}")
    return _split_views(tensor, d, sizes, "SplitWithSizesBackward0")


def split(tensor, split_size_or_sections, dim=0):
    """Views of pieces of split_size along dim (the last may be smaller), or of the given section sizes.

    >>> [p.tolist() for p in split(arange(5), 2)]
    [[0, 1], [2, 3], [4]]
    """
    if isinstance(split_size_or_sections, (list, tuple)):
        return split_with_sizes(tensor, split_size_or_sections, dim)
    d = _split_dim(tensor, dim, "split")
    (step,) = _int_tuple(split_size_or_sections, "split_size")
    size = tensor._shape[d]
    if step < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
    if step == 0 and size != 0:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
    count = max((size + step - 1) // step, 1) if step else 1
    return _split_views(tensor, d, [step] * (count - 1) + [size - step * (count - 1)], "SplitBackward0")


def chunk(input, chunks, dim=0):
    d = _split_dim(input, dim, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input._shape[d]
    step = (size + chunks - 1) // chunks
    if step == 0 and size == 0:
        return split_with_sizes(input, [0] * chunks, d)
    return split(input, step, d)


def _tensor_split_arg(value):
    """tensor_split's indices_or_sections: an int (sections), a sequence of indices, or a long tensor."""
    if isinstance(value, Tensor):
        if value.dtype is not dt.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{value.dtype.torch_name}")
        if value.dim() > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {value.dim()} dims")
        return int(value.item()) if value.dim() == 0 else _int_tuple(value.tolist(), "indices")
    if isinstance(value, (list, tuple)):
        return _int_tuple(value, "indices")
    return _int_tuple(value, "sections")[0]


def tensor_split(input, indices_or_sections=None, dim=0, *, sections=None, indices=None):
    """Split into n nearly equal views (the first size % n one longer), or at the given indices.

    >>> [p.tolist() for p in tensor_split(arange(5), 3)]
    [[0, 1], [2, 3], [4]]
    """
    if input.dim() == 0:
        raise RuntimeError(f"tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    arg = next(a for a in (indices_or_sections, sections, indices, 1) if a is not None)
    arg = _tensor_split_arg(arg)
    d = wrap_dim(dim, input.dim())
    size = input._shape[d]
    if isinstance(arg, int):
        if arg <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {arg}")
        base, extra = divmod(size, arg)
        lengths = [base + 1] * extra + [base] * (arg - extra)
        bounds = [(sum(lengths[:k]), n) for k, n in enumerate(lengths)]
    else:
        cuts = (0,) + arg + (None,)
        bounds = []
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            start, stop, _ = slice(lo, hi).indices(size)
            bounds.append((start, max(0, stop - start)))
    return tuple(shape_ops.narrow(input, d, start, n) for start, n in bounds)


def _checked_split(input, indices_or_sections, fname, min_dim, d):
    if input.dim() < min_dim:
        raise RuntimeError(f"torch.{fname} requires a tensor with at least {min_dim} dimension, but got a tensor "
                           f"with {input.dim()} dimensions!")
    if isinstance(indices_or_sections, (int, np.integer)) and not isinstance(indices_or_sections, bool):
        n, size = int(indices_or_sections), input._shape[d]
        if n == 0 or size % n:
            raise RuntimeError(f"torch.{fname} attempted to split along dimension {d}, but the size of the "
                               f"dimension {size} is not divisible by the split_size {n}!")
    return tensor_split(input, indices_or_sections, d)


def hsplit(input, indices_or_sections):
    return _checked_split(input, indices_or_sections, "hsplit", 1, 0 if input.dim() == 1 else 1)


def vsplit(input, indices_or_sections):
    return _checked_split(input, indices_or_sections, "vsplit", 2, 0)


def dsplit(input, indices_or_sections):
    return _checked_split(input, indices_or_sections, "dsplit", 3, 2)


def narrow_copy(input, dim, start, length):
    return shape_ops.narrow(input, dim, start, length).clone()


# ---- flip and roll ---------------------------------------------------------------------------------------
def _flipped_view(t: Tensor, dims) -> Tensor:
    """t read backwards along dims: negative strides, for internal copies only."""
    strides, offset = list(t._strides), t._offset
    for d in dims:
        if t._shape[d] > 1:
            offset += (t._shape[d] - 1) * strides[d]
            strides[d] = -strides[d]
    return _raw_view(t, t._shape, strides, offset)


def flip(input, *dims, **kwargs):
    """Reverse the order of elements along dims (a copy, as in PyTorch).

    >>> flip(tensor([[1, 2], [3, 4]]), [1]).tolist()
    [[2, 1], [4, 3]]
    """
    dims = _dims_from_args(dims, kwargs, "flip")
    wrapped = [wrap_dim(d, input.dim()) for d in dims]
    for d in wrapped:
        if wrapped.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    out = launch.base.empty(input._shape, input.dtype, input.device)
    _copy(_flipped_view(input, [d for d in wrapped if d < input.dim()]), out)
    if _tracking([input]):
        graph.record("FlipBackward0", lambda g, out, a, dims: g.flip(dims), [input], out, {"dims": tuple(wrapped)},
                     save=frozenset())
    return out


def fliplr(input):
    if input.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, [1])


def flipud(input):
    if input.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, [0])


def _roll_into(src: Tensor, dest: Tensor, shifts: dict):
    """dest = src rolled by shifts {dim: amount}: one box copy per combination of the two pieces of each
    rolled dim (2**k copies for k rolled dims)."""
    per_dim = []
    for d, n in enumerate(src._shape):
        s = shifts.get(d, 0) % n if n else 0
        per_dim.append([(0, 0, n)] if s == 0 else [(s, 0, n - s), (0, n - s, s)])
    for boxes in itertools.product(*per_dim):
        shape = tuple(length for _, _, length in boxes)
        d_off = dest._offset + sum(start * st for (start, _, _), st in zip(boxes, dest._strides))
        s_off = src._offset + sum(start * st for (_, start, _), st in zip(boxes, src._strides))
        _copy(_raw_view(src, shape, src._strides, s_off), _raw_view(dest, shape, dest._strides, d_off))


def _roll_vjp(g, out, a, shifts, dims):
    return g.roll(tuple(-s for s in shifts), dims)


def roll(input, shifts, dims=None):
    """Shift elements cyclically along dims (or over the flattened tensor when dims is None).

    >>> roll(arange(5), 2).tolist()
    [3, 4, 0, 1, 2]
    """
    shifts = _int_tuple(shifts, "shifts")
    dims = None if dims is None else _int_tuple(dims, "dims")
    if not shifts:
        raise RuntimeError("`shifts` required")
    if len(shifts) != (1 if dims is None else len(dims)) or (dims is not None and not dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims or ())}")
    out = launch.base.empty(input._shape, input.dtype, input.device)
    if out.numel():
        if dims is None:
            with no_grad():
                flat = input.reshape(-1)
            _roll_into(flat, _raw_view(out, (out.numel(),), (1,), 0), {0: shifts[0]})
        else:
            if input.dim() == 0:
                raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
            by_dim = {}
            for s, d in zip(shifts, dims):
                d = wrap_dim(d, input.dim())
                by_dim[d] = by_dim.get(d, 0) + s
            _roll_into(input, out, by_dim)
    if _tracking([input]):
        graph.record("RollBackward0", _roll_vjp, [input], out, {"shifts": shifts, "dims": dims}, save=frozenset())
    return out


# ---- repeating -------------------------------------------------------------------------------------------
def _repeat_vjp(g, out, a, reps, shape):
    padded = (1,) * (len(reps) - len(shape)) + tuple(shape)
    g = g.reshape(tuple(x for pair in zip(reps, padded) for x in pair))
    axes = tuple(2 * i for i, r in enumerate(reps) if r != 1)
    if axes:
        g = g.sum(dim=axes)
    return g.reshape(shape)


def repeat(self, *sizes):
    """Tile self reps[i] times along each dim (leading dims added as needed).

    >>> tensor([1, 2]).repeat(2, 2).tolist()
    [[1, 2, 1, 2], [1, 2, 1, 2]]
    """
    reps = _shape_arg(sizes)
    if len(reps) < self.dim():
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           "tensor")
    lead = len(reps) - self.dim()
    in_shape = (1,) * lead + self._shape
    in_strides = (0,) * lead + self._strides
    out_shape = tuple(r * s for r, s in zip(reps, in_shape))
    for n in out_shape:
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: {list(out_shape)}")
    out = launch.base.empty(out_shape, self.dtype, self.device)
    # out viewed as (r0, s0, r1, s1, ...): every repetition reads the same source element
    pair_shape = tuple(x for pair in zip(reps, in_shape) for x in pair)
    out_pairs = tuple(x for s, st in zip(in_shape, out._strides) for x in (s * st, st))
    src_pairs = tuple(x for st in in_strides for x in (0, st))
    _copy(_raw_view(self, pair_shape, src_pairs, self._offset), _raw_view(out, pair_shape, out_pairs, 0))
    if _tracking([self]):
        graph.record("RepeatBackward0", _repeat_vjp, [self], out, {"reps": reps, "shape": self._shape},
                     save=frozenset())
    return out


def tile(input, *dims):
    reps = _shape_arg(dims)
    reps = (1,) * (input.dim() - len(reps)) + reps
    return repeat(input, reps)


def _segment_sum(src: Tensor, d: int, starts: Tensor, index: Tensor, size: int) -> Tensor:
    """out[..., j, ...] = sum of src[..., starts[j]:starts[j + 1], ...] along d (the gradient of a gather)."""
    shape = src._shape[:d] + (size,) + src._shape[d + 1:]
    out = launch.base.empty(shape, src.dtype, src.device)
    launch.copy.dim_copy("segment_sum", _moved_to_front(src, d), _moved_to_front(out, d), starts, src.dtype)
    if _tracking([src]):
        graph.record("IndexAddBackward0", lambda g, out, a, d, starts, index: _gather(g, d, index, starts),
                     [src], out, {"d": d, "starts": starts, "index": index}, save=frozenset())
    return out


def _gather(src: Tensor, d: int, index: Tensor, starts: Tensor) -> Tensor:
    """out[..., j, ...] = src[..., index[j], ...] along d, for a sorted index whose runs start at starts."""
    shape = src._shape[:d] + (index.numel(),) + src._shape[d + 1:]
    out = launch.base.empty(shape, src.dtype, src.device)
    launch.copy.dim_copy("gather", _moved_to_front(src, d), _moved_to_front(out, d), index, src.dtype)
    if _tracking([src]):
        graph.record("IndexSelectBackward0", lambda g, out, a, d, starts, index, size:
                     _segment_sum(g, d, starts, index, size), [src], out,
                     {"d": d, "starts": starts, "index": index, "size": src._shape[d]}, save=frozenset())
    return out


def _repeat_counts(repeats: Tensor) -> np.ndarray:
    if repeats.dtype.category != dt.INT:
        raise NotImplementedError(f"\"repeat_interleave\" not implemented for '{repeats.dtype.torch_name}'")
    if repeats.dim() > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    return repeats.detach()._to_numpy_copy().astype(np.int64).reshape(-1)


def _repeat_tables(counts: np.ndarray, device):
    index = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return tensor(index, dtype=dt.int64, device=device), tensor(starts, dtype=dt.int64, device=device)


def _repeat_interleave_by_tensor(input, repeats, dim, output_size):
    x = input.reshape(-1) if dim is None or input.dim() == 0 else input
    d = wrap_dim(0 if dim is None else dim, x.dim())
    counts = _repeat_counts(repeats)
    size = x._shape[d]
    if repeats.dim() == 0 or counts.size == 1:
        counts = np.full(size, counts[0], dtype=np.int64)
    if counts.size != size:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                           f"{counts.size} and input.size({d}) = {size}")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    if output_size is not None and output_size != int(counts.sum()):
        raise RuntimeError("allocated size does not match required size")
    index, starts = _repeat_tables(counts, x.device)
    return _gather(x, d, index, starts)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (of the flattened input, or each slice along dim) repeats times.

    >>> repeat_interleave(tensor([1, 2]), 2).tolist()
    [1, 1, 2, 2]
    >>> repeat_interleave(tensor([[1, 2], [3, 4]]), tensor([1, 2]), dim=0).tolist()
    [[1, 2], [3, 4], [3, 4]]
    """
    if repeats is None:  # torch.repeat_interleave(repeats): the index of each repetition
        counts = _repeat_counts(input)
        if (counts < 0).any():
            raise RuntimeError("repeats can not be negative")
        index, _ = _repeat_tables(counts, input.device)
        return index.to(input.dtype)
    if isinstance(repeats, Tensor):
        return _repeat_interleave_by_tensor(input, repeats, dim, output_size)
    (r,) = _int_tuple(repeats, "repeats")
    if r < 0:
        raise RuntimeError("Repeats must be non-negative")
    x = input.reshape(-1) if dim is None else input
    d = wrap_dim(0 if dim is None else dim, input.dim())
    # PyTorch's composite: unsqueeze, expand, copy, flatten (so the gradient is a sum over the new dim)
    y = x.unsqueeze(d + 1)
    sizes = list(y._shape)
    sizes[d + 1] = r
    y = y.expand(sizes).clone().flatten(d, d + 1)
    if output_size is not None and output_size != y._shape[d]:
        raise RuntimeError("allocated size does not match required size")
    return y


# ---- triangles and diagonals -----------------------------------------------------------------------------
def _triangle(name: str, input: Tensor, diagonal: int, dest: Tensor):
    if input.dim() < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    rows, cols = input._shape[-2:]
    keep = "<=" if name == "tril" else ">="
    # i is the row-major index of the element: its column minus its row is its diagonal
    expr = f"((long)(i % cols) - (long)((i / cols) % rows) {keep} k) ? a : (T)0"
    launch.elementwise.elementwise(name, expr, [input], dest, input.dtype,
                         (("rows", "long", rows), ("cols", "long", cols), ("k", "long", int(diagonal))))
    return dest


def _triangle_op(name: str):
    grad_name = name.capitalize() + "Backward0"

    def vjp(g, out, a, diagonal):
        return getattr(g, name)(diagonal)

    def function(input, diagonal=0, *, out=None):
        if input.dim() < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        dest = _output(out, input._shape, input.dtype, input.device, [input], name)
        _triangle(name, input, diagonal, dest)
        if out is None and _tracking([input]):
            graph.record(grad_name, vjp, [input], dest, {"diagonal": int(diagonal)}, save=frozenset())
        return dest

    def inplace(self, diagonal=0):
        check_inplace_allowed(self)
        _triangle(name, self, diagonal, self)
        self._bump_version()
        if _tracking([self]):
            graph.record_inplace(grad_name, vjp, [self], self, {"diagonal": int(diagonal)}, save=frozenset())
        return self

    function.__name__, inplace.__name__ = name, name + "_"
    function.__doc__ = f"The {'lower' if name == 'tril' else 'upper'} triangle of the last two dims (others zeroed)."
    return function, inplace


tril, tril_ = _triangle_op("tril")
triu, triu_ = _triangle_op("triu")


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices (in dims dim1, dim2 of the result) whose offset diagonal holds the last dim of input."""
    nd = input.dim() + 1
    d1, d2 = wrap_dim(dim1, nd), wrap_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = input._shape[-1] + abs(offset)
    rest = iter(input._shape[:-1])
    shape = tuple(n if k in (d1, d2) else next(rest) for k in range(nd))
    out = zeros(shape, dtype=input.dtype, device=input.device)
    with no_grad():
        _copy(input, shape_ops.diagonal(out, offset, d1, d2))
    if _tracking([input]):
        graph.record("DiagEmbedBackward0", lambda g, out, a, offset, d1, d2: g.diagonal(offset, d1, d2), [input],
                     out, {"offset": offset, "d1": d1, "d2": d2}, save=frozenset())
    return out


def diag(input, diagonal=0, *, out=None):
    """1-D input: the square matrix with input on its diagonal-th diagonal; 2-D input: that diagonal.

    >>> diag(tensor([1, 2])).tolist()
    [[1, 0], [0, 2]]
    """
    if input.dim() == 1 and out is None:
        return diag_embed(input, diagonal, 0, 1)
    if input.dim() not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.dim()}D")
    if input.dim() == 1:
        result = diag_embed(input, diagonal, 0, 1)
        dest = _output(out, result._shape, result.dtype, result.device, [input], "diag")
        _copy(result, dest)
        return dest
    with no_grad():
        view = shape_ops.diagonal(input, diagonal)
    dest = _output(out, view._shape, input.dtype, input.device, [input], "diag")
    _copy(view, dest)
    if out is None and _tracking([input]):
        graph.record("DiagonalBackward0_copy", lambda g, out, a, k, shape: shape_ops.scatter_into_zeros(
            g, shape, lambda z: shape_ops.diagonal(z, k)), [input], dest, {"k": diagonal, "shape": input._shape},
            save=frozenset())
    return dest


def trace(input):
    """The sum of the main diagonal of a matrix (integer inputs sum to int64)."""
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    if input.dtype is dt.bool_:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    out_dtype = input.dtype if input.dtype.is_floating_point else dt.int64
    with no_grad():
        diagonal = shape_ops.diagonal(input)
    total = launch.base.empty((1,), out_dtype, input.device)
    bounds = tensor(np.array([0, diagonal.numel()], dtype=np.int64), device=input.device)
    launch.copy.dim_copy("segment_sum", diagonal, total, bounds, out_dtype)
    out = _raw_view(total, (), (), 0)
    if _tracking([input]):
        graph.record("TraceBackward0", lambda g, out, a, shape: shape_ops.scatter_into_zeros(
            g.expand(min(shape)), shape, lambda z: shape_ops.diagonal(z)), [input], out, {"shape": input._shape},
            save=frozenset())
    return out


# ---- grids -------------------------------------------------------------------------------------------------
def meshgrid(*tensors, indexing=None):
    """Coordinate grids (expanded views) from 0-D/1-D tensors; indexing 'ij' (matrix) or 'xy' (Cartesian).

    >>> [g.tolist() for g in meshgrid(tensor([1, 2]), tensor([3, 4, 5]), indexing="ij")][0]
    [[1, 1, 1], [2, 2, 2]]
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    tensors = _tensor_list(tensors, "meshgrid")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got a "
                               f"{t.dim()}D tensor of shape {list(t._shape)}")
        if t.dtype is not tensors[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if t.device != tensors[0].device:
            raise RuntimeError("meshgrid expects all tensors to have the same device")
    position = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        position[0], position[1] = 1, 0
    shape = [0] * len(tensors)
    for t, p in zip(tensors, position):
        shape[p] = t.numel()
    grids = []
    for t, p in zip(tensors, position):
        single = [1] * len(tensors)
        single[p] = t.numel()
        grids.append(t.reshape(single).expand(shape))
    return tuple(grids)


for _name, _fn in (("split", split), ("split_with_sizes", split_with_sizes), ("chunk", chunk),
                   ("tensor_split", tensor_split), ("hsplit", hsplit), ("vsplit", vsplit), ("dsplit", dsplit),
                   ("flip", flip), ("fliplr", fliplr), ("flipud", flipud), ("roll", roll), ("repeat", repeat),
                   ("tile", tile), ("repeat_interleave", repeat_interleave), ("tril", tril), ("triu", triu),
                   ("tril_", tril_), ("triu_", triu_), ("diag", diag), ("diag_embed", diag_embed), ("trace", trace),
                   ("narrow_copy", narrow_copy)):
    register(_name, _fn)
