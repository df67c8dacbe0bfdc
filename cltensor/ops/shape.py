"""Views (metadata only, sharing storage) and the strided copy behind contiguous()/clone().

Every view records a backward rule; views whose inverse is not a view (select, slicing,
narrow, diagonal, as_strided) send their gradient back through `scatter_into_zeros`, which is
itself recorded so that higher-order gradients flow through it.
"""
from __future__ import annotations

import math

import numpy as np

from .. import launch
from .. import _memory_format as _mf
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..tensor import Size, Tensor, _shape_arg, contiguous_strides, register, wrap_dim
from .creation import zeros
from .elementwise import check_inplace_allowed


def make_view(src: Tensor, shape, strides, offset, name=None, vjp=None, params=None):
    v = src._view(shape, strides, offset)
    if name is not None and src.requires_grad and is_grad_enabled():
        graph.record(name, vjp, [src], v, params or {}, save=frozenset())
    return v


# ---- copies ----------------------------------------------------------------------------------
def _strided_copy(src: Tensor, dest: Tensor):
    launch.elementwise.elementwise("_copy", "a", [src], dest, src.dtype)
    return dest


def clone(input, *, memory_format=None):
    """A copy, row-major, or in memory_format (preserve_format, the default, keeps a channels-last
    layout; other strides come out row-major)."""
    _mf.check(memory_format, input.dim())
    fmt = _mf.resolve(memory_format, input._shape, input._strides)
    out = empty_in_format(input._shape, input.dtype, input.device, fmt)
    _strided_copy(input, out)
    if input.requires_grad and is_grad_enabled():
        graph.record("CloneBackward0", lambda g, out, a: g, [input], out, save=frozenset())
    return out


def contiguous(self, memory_format=None):
    fmt = memory_format or _mf.contiguous_format
    if fmt is _mf.preserve_format:
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    return self if self.is_contiguous(memory_format=fmt) else clone(self, memory_format=fmt)


def empty_in_format(shape, dtype, device, fmt):
    """An uninitialised tensor of shape whose strides are fmt's compact layout."""
    if fmt not in (_mf.channels_last, _mf.channels_last_3d):
        return launch.base.empty(shape, dtype, device)
    order = _mf.order(len(shape))
    stored = launch.base.empty(tuple(shape[d] for d in order), dtype, device)
    return stored.permute(tuple(order.index(d) for d in range(len(shape))))


register("clone", clone)
register("contiguous", contiguous)


# ---- reshaping -------------------------------------------------------------------------------
def infer_shape(shape, numel: int) -> tuple:
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s}")
    known = math.prod(s for s in shape if s != -1)
    if neg:
        if known == 0 and numel == 0:
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                               "unspecified dimension size -1 can be any value and is ambiguous")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _view_strides(oldshape, oldstride, newshape):
    """PyTorch's computeStride: strides for newshape over the same memory, or None if impossible."""
    if math.prod(oldshape) == 0 or not oldshape:
        return contiguous_strides(newshape)
    newstride = [0] * len(newshape)
    view_d = len(newshape) - 1
    chunk_base_stride = oldstride[-1]
    tensor_numel = view_numel = 1
    for tensor_d in range(len(oldshape) - 1, -1, -1):
        tensor_numel *= oldshape[tensor_d]
        if tensor_d == 0 or (oldshape[tensor_d - 1] != 1
                             and oldstride[tensor_d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or newshape[view_d] == 1):
                newstride[view_d] = view_numel * chunk_base_stride
                view_numel *= newshape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = oldstride[tensor_d - 1]
                tensor_numel = view_numel = 1
    return tuple(newstride) if view_d == -1 else None


def _reshape_vjp(g, out, a, shape):
    return g.reshape(shape)


def view(self, *shape):
    if len(shape) == 1 and isinstance(shape[0], dt.dtype):
        return _view_dtype(self, shape[0])
    shape = infer_shape(_shape_arg(shape), self.numel())
    strides = _view_strides(self._shape, self._strides, shape)
    if strides is None:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return make_view(self, shape, strides, self._offset, "ViewBackward0", _reshape_vjp, {"shape": self._shape})


def _view_dtype(self, d):
    """The same bytes read as dtype d. Between sizes, the last dim (contiguous) splits or merges
    elements, and the other strides and the offset rescale, under PyTorch's conditions."""
    old, new = self.dtype.itemsize, d.itemsize
    shape, strides, offset = list(self._shape), list(self._strides), self._offset
    if new != old:
        what = f"to view {self.dtype.torch_name} as {d.torch_name} (different element sizes)"
        if not shape:
            raise RuntimeError(f"self.dim() cannot be 0 {what}")
        if strides[-1] != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 {what}")
        if new > old:
            r = new // old
            if shape[-1] % r:
                raise RuntimeError(f"self.size(-1) must be divisible by {r} {what}, but got {shape[-1]}")
            if offset % r:
                raise RuntimeError(f"self.storage_offset() must be divisible by {r} {what}, but got {offset}")
            for i, st in enumerate(strides[:-1]):
                if st % r:
                    raise RuntimeError(f"self.stride({i}) must be divisible by {r} {what}, but got {st}")
            shape[-1], offset = shape[-1] // r, offset // r
            strides = [st // r for st in strides[:-1]] + [1]
        else:
            r = old // new
            shape[-1], offset = shape[-1] * r, offset * r
            strides = [st * r for st in strides[:-1]] + [1]
    v = self._view(tuple(shape), tuple(strides), offset)
    v.dtype = d
    return v


def reshape(self, *shape):
    shape = infer_shape(_shape_arg(shape), self.numel())
    strides = _view_strides(self._shape, self._strides, shape)
    if strides is not None:
        return make_view(self, shape, strides, self._offset, "ViewBackward0", _reshape_vjp, {"shape": self._shape})
    return view(clone(self, memory_format=_mf.contiguous_format), shape)


def flatten(self, start_dim=0, end_dim=-1):
    if self.dim() == 0:
        return reshape(self, 1)
    s, e = wrap_dim(start_dim, self.dim()), wrap_dim(end_dim, self.dim())
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return self
    shape = self._shape[:s] + (math.prod(self._shape[s:e + 1]),) + self._shape[e + 1:]
    return reshape(self, shape)


def unflatten(self, dim, sizes):
    d = wrap_dim(dim, self.dim())
    sizes = infer_shape(tuple(sizes), self._shape[d])
    return view(self, self._shape[:d] + sizes + self._shape[d + 1:])


def view_as(self, other):
    return view(self, other.shape)


def reshape_as(self, other):
    return reshape(self, other.shape)


for _n, _f in (("view", view), ("reshape", reshape), ("flatten", flatten), ("unflatten", unflatten),
               ("view_as", view_as), ("reshape_as", reshape_as)):
    register(_n, _f)


# ---- permutations ------------------------------------------------------------------------------
def permute(self, *dims):
    if not dims:
        raise TypeError('permute() missing 1 required positional arguments: "dims"')
    dims = _shape_arg(dims) if dims and not isinstance(dims[0], (list, tuple)) else tuple(dims[0])
    n = self.dim()
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {n} is not equal to "
                           f"len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, n) for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    inverse = tuple(dims.index(i) for i in range(n))
    return make_view(self, tuple(self._shape[d] for d in dims), tuple(self._strides[d] for d in dims),
                     self._offset, "PermuteBackward0", lambda g, out, a, inv: g.permute(inv), {"inv": inverse})


def transpose(self, dim0, dim1):
    n = self.dim()
    d0, d1 = wrap_dim(dim0, n), wrap_dim(dim1, n)
    if n == 0:  # dims 0 and -1 name the scalar itself, as in PyTorch
        return make_view(self, (), (), self._offset, "TransposeBackward0", lambda g, out, a: g)
    order = list(range(n))
    order[d0], order[d1] = order[d1], order[d0]
    return make_view(self, tuple(self._shape[d] for d in order), tuple(self._strides[d] for d in order),
                     self._offset, "TransposeBackward0", lambda g, out, a, d0, d1: g.transpose(d0, d1),
                     {"d0": d0, "d1": d1})


def t(self):
    if self.dim() > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.dim()}D")
    if self.dim() < 2:
        return make_view(self, self._shape, self._strides, self._offset, "TBackward0", lambda g, out, a: g)
    return make_view(self, self._shape[::-1], self._strides[::-1], self._offset, "TBackward0",
                     lambda g, out, a: g.t())


def movedim(self, source, destination):
    n = self.dim()
    src = [wrap_dim(d, n) for d in (source if isinstance(source, (list, tuple)) else [source])]
    dst = [wrap_dim(d, n) for d in (destination if isinstance(destination, (list, tuple)) else [destination])]
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(n) if d not in src)
    order = [o if o is not None else next(rest) for o in order]
    return permute(self, order)


for _n, _f in (("permute", permute), ("transpose", transpose), ("swapaxes", transpose), ("swapdims", transpose),
               ("t", t), ("movedim", movedim), ("moveaxis", movedim)):
    register(_n, _f)


def _t_(self):
    v = t(self)
    self._shape, self._strides = v._shape, v._strides
    return self


register("t_", _t_)


# ---- adding and removing dims ------------------------------------------------------------------
def squeeze(self, dim=None):
    n = self.dim()
    if dim is None:
        dims = {i for i, s in enumerate(self._shape) if s == 1}
        name = "SqueezeBackward0"
    else:
        dims = {wrap_dim(d, n) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
        dims = {d for d in dims if n and self._shape[d] == 1}
        name = "SqueezeBackward1"
    shape = tuple(s for i, s in enumerate(self._shape) if i not in dims)
    strides = tuple(s for i, s in enumerate(self._strides) if i not in dims)
    return make_view(self, shape, strides, self._offset, name, _reshape_vjp, {"shape": self._shape})


def unsqueeze(self, dim):
    d = wrap_dim(dim, self.dim() + 1)
    stride = self._strides[d] * self._shape[d] if d < self.dim() else 1
    shape = self._shape[:d] + (1,) + self._shape[d:]
    strides = self._strides[:d] + (stride,) + self._strides[d:]
    return make_view(self, shape, strides, self._offset, "UnsqueezeBackward0", _reshape_vjp, {"shape": self._shape})


def expand(self, *sizes):
    sizes = _shape_arg(sizes)
    n = self.dim()
    if len(sizes) < n:
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(self._shape)}}}, size=[{', '.join(map(str, sizes))}]): "
                           f"the number of sizes provided ({len(sizes)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({n})")
    lead = len(sizes) - n
    shape, strides = [], []
    for i, size in enumerate(sizes):
        if i < lead:
            if size < 0:
                raise RuntimeError(f"The expanded size of the tensor ({size}) isn't allowed in a leading, "
                                   "non-existing dimension 0")
            shape.append(size)
            strides.append(0)
            continue
        own = self._shape[i - lead]
        if size == -1:
            size = own
        if own == size:
            shape.append(own)
            strides.append(self._strides[i - lead])
        elif own == 1:
            shape.append(size)
            strides.append(0)
        else:
            raise RuntimeError(f"The expanded size of the tensor ({size}) must match the existing size ({own}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(self._shape)}")
    return make_view(self, tuple(shape), tuple(strides), self._offset, "ExpandBackward0",
                     lambda g, out, a, shape: graph.sum_to(g, shape), {"shape": self._shape})


def expand_as(self, other):
    return expand(self, other.shape)


def broadcast_to(input, size):
    return expand(input, size)


for _n, _f in (("squeeze", squeeze), ("unsqueeze", unsqueeze), ("expand", expand), ("expand_as", expand_as),
               ("broadcast_to", broadcast_to)):
    register(_n, _f)


def _reshape_in_place(self, v, name):
    """Give self v's geometry (an in-place view op); with autograd, a node that reshapes the
    gradient back, as PyTorch records (UnsqueezeBackward1...)."""
    tracking = self.requires_grad and is_grad_enabled()
    if tracking:
        check_inplace_allowed(self)
        before = graph._history_alias(self)
    old_shape = self._shape
    self._shape, self._strides = v._shape, v._strides
    self._bump_version()
    if tracking:
        graph.record_inplace(name, lambda g, out, a, shape: g.reshape(shape), [before], self, {"shape": old_shape},
                             save=frozenset())
    return self


def _squeeze_(self, dim=None):
    name = "SqueezeBackward" + ("3" if dim is None else "5" if isinstance(dim, (tuple, list)) else "4")
    return _reshape_in_place(self, squeeze(self.detach(), dim), name)


def _unsqueeze_(self, dim):
    return _reshape_in_place(self, unsqueeze(self.detach(), dim), "UnsqueezeBackward1")


register("squeeze_", _squeeze_)
register("unsqueeze_", _unsqueeze_)


def broadcast_tensors(*tensors):
    shape = launch.strides.broadcast_shapes(*(t._shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


# ---- views that select a part --------------------------------------------------------------------
def scatter_into_zeros(g, shape, view_fn):
    """The gradient of a selecting view: zeros of the input's shape with g written where the view was."""
    z = zeros(shape, dtype=g.dtype, device=g.device)
    with no_grad():
        _strided_copy(g, view_fn(z))
    if g.requires_grad and is_grad_enabled():
        graph.record("ViewScatterBackward0", lambda gg, out, a, fn: fn(gg), [g], z, {"fn": view_fn}, save=frozenset())
    return z


def _selecting_view(src, shape, strides, offset, name, view_fn):
    return make_view(src, shape, strides, offset, name,
                     lambda g, out, a, shape, fn: scatter_into_zeros(g, shape, fn),
                     {"shape": src._shape, "fn": view_fn})


def select(self, dim, index):
    if self.dim() == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, self.dim())
    size = self._shape[d]
    index = int(index)
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(self._shape)} at "
                         f"dimension {d}")
    index %= size
    return _selecting_view(self, self._shape[:d] + self._shape[d + 1:], self._strides[:d] + self._strides[d + 1:],
                           self._offset + index * self._strides[d], "SelectBackward0",
                           lambda z: select(z, d, index))


def _slice(self, d, start, stop, step):
    size = self._shape[d]
    start, stop, step = slice(start, stop, step).indices(size)
    length = max(0, (stop - start + step - 1) // step)
    offset = self._offset + (start * self._strides[d] if length else 0)
    shape = self._shape[:d] + (length,) + self._shape[d + 1:]
    strides = self._strides[:d] + (self._strides[d] * step,) + self._strides[d + 1:]
    return shape, strides, offset


def narrow(self, dim, start, length):
    if self.dim() == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, self.dim())
    size = self._shape[d]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    start %= size if size else 1
    if start + length > size or length < 0:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    shape, strides, offset = _slice(self, d, start, start + length, 1)
    return _selecting_view(self, shape, strides, offset, "SliceBackward0", lambda z: narrow(z, d, start, length))


def unbind(self, dim=0):
    d = wrap_dim(dim, self.dim())
    return tuple(select(self, d, i) for i in range(self._shape[d]))


def as_strided(self, size, stride, storage_offset=None):
    offset = self._offset if storage_offset is None else storage_offset
    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    check_storage_bounds(self, size, stride, offset, "as_strided")
    v = make_view(self, size, stride, offset)
    if self.requires_grad and is_grad_enabled():
        # the offset and strides address self's storage, so the gradient goes back through them
        # (a view of zeros shaped like self would misplace it when self is strided or offset)
        graph.record("AsStridedBackward0", lambda g, out, a, geom: graph.scatter_to_base(g, geom), [self], v,
                     {"geom": graph._geometry(self, v)}, save=frozenset())
    return v


def check_storage_bounds(src: Tensor, size, stride, offset, op: str) -> None:
    """Raise PyTorch's RuntimeError unless a view (size, stride, offset in elements) of src's storage
    stays inside it: kernels read views through their strides with no bounds of their own."""
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and strides={list(stride)}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{op}: Negative strides are not supported at the moment, got strides: {list(stride)}")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    itemsize = src.dtype.itemsize
    needed = 0 if 0 in size else (offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))) * itemsize
    if needed > src._storage.nbytes:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, and "
                           f"itemsize {itemsize} requiring a storage size of {needed} are out of bounds for storage "
                           f"of size {src._storage.nbytes}")


def diagonal(self, offset=0, dim1=0, dim2=1):
    n = self.dim()
    d1, d2 = wrap_dim(dim1, n), wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    if offset >= 0:
        length = max(0, min(self._shape[d1], self._shape[d2] - offset))
        start = self._offset + offset * self._strides[d2]
    else:
        length = max(0, min(self._shape[d1] + offset, self._shape[d2]))
        start = self._offset - offset * self._strides[d1]
    rest = [i for i in range(n) if i not in (d1, d2)]
    shape = tuple(self._shape[i] for i in rest) + (length,)
    strides = tuple(self._strides[i] for i in rest) + (self._strides[d1] + self._strides[d2],)
    return _selecting_view(self, shape, strides, start if length else self._offset, "DiagonalBackward0",
                           lambda z: diagonal(z, offset, d1, d2))


for _n, _f in (("select", select), ("narrow", narrow), ("unbind", unbind), ("as_strided", as_strided),
               ("diagonal", diagonal)):
    register(_n, _f)


# ---- basic indexing: ints, slices, None, Ellipsis ------------------------------------------------------
def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, slice) or
               (isinstance(i, int) and not isinstance(i, bool)) for i in items)


def basic_index(self, index):
    """The view for an index made of ints, slices, None and Ellipsis."""
    items = list(index) if isinstance(index, tuple) else [index]
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if consumed > self.dim():
        raise IndexError(f"too many indices for tensor of dimension {self.dim()}")
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if Ellipsis in items:
        pos = items.index(Ellipsis)
        items[pos:pos + 1] = [slice(None)] * (self.dim() - consumed)
    shape, strides, offset = list(self._shape), list(self._strides), self._offset
    out_shape, out_strides, d, last = [], [], 0, None
    for item in items:
        if item is None:
            out_shape.append(1)
            out_strides.append(1)
            last = "UnsqueezeBackward0"
            continue
        if isinstance(item, slice):
            if item.step is not None and item.step <= 0:
                raise ValueError("step must be greater than zero")
            size = shape[d]
            start, stop, step = item.indices(size)
            length = max(0, (stop - start + step - 1) // step)
            if length:
                offset += start * strides[d]
            out_shape.append(length)
            out_strides.append(strides[d] * step)
            if item != slice(None):
                last = "SliceBackward0"
        else:
            size = shape[d]
            if not -size <= item < size:
                raise IndexError(f"index {item} is out of bounds for dimension {d} with size {size}")
            offset += (item % size) * strides[d]
            last = "SelectBackward0"
        d += 1
    out_shape += shape[d:]
    out_strides += strides[d:]
    frozen = tuple(items)
    return _selecting_view(self, tuple(out_shape), tuple(out_strides), offset, last or "AliasBackward0",
                           lambda z: basic_index(z, frozen))


def _normalize_index(index):
    """Turn numpy integers and 0-d integer tensors into Python ints (they index like ints)."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, np.integer):
            i = int(i)
        elif isinstance(i, Tensor) and i.dim() == 0 and i.dtype.category == dt.INT:
            i = int(i.item())
        out.append(i)
    return tuple(out) if isinstance(index, tuple) else out[0]

