"""Small torch and Tensor names built from existing ops: the *_scatter family (a copy with a view
overwritten), index_reduce, fill_diagonal_, Tensor.unfold and sum_to_size, pdist, unravel_index,
and predicates and aliases PyTorch keeps at the top level.

    >>> import cltensor as torch
    >>> torch.zeros(2, 2).diagonal_scatter(torch.ones(2))
    tensor([[1., 0.],
            [0., 1.]])
"""
from __future__ import annotations

import builtins as _py
import math
import warnings

from .. import _flags, launch
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import is_grad_enabled
from ..nn import functional as _F  # the torch.* spellings below call F (this module sits above nn)
from ..tensor import register, Size, Tensor, wrap_dim
from .creation import arange, empty, full, full_like, tensor
from .joins import split_with_sizes  # noqa: F401  (re-exported)
from .misc import _along, triu_indices
from .reduce import norm
from .statistics import _check_tensor
from .elementwise import check_inplace_allowed

__all__ = ["diagonal_scatter", "select_scatter", "slice_scatter", "as_strided_scatter", "index_reduce", "pdist",
           "unravel_index", "broadcast_shapes", "split_with_sizes", "positive", "rsub", "clamp_min", "clamp_max",
           "fill", "scalar_tensor", "range", "empty_strided", "is_nonzero", "is_same_size", "is_signed",
           "is_inference", "typename", "frobenius_norm", "norm_except_dim", "put", "get_device",
           "selu", "celu", "threshold", "hardshrink", "prelu", "rrelu", "pixel_shuffle", "pixel_unshuffle",
           "cosine_similarity", "pairwise_distance", "bilinear", "rms_norm", "dropout", "alpha_dropout",
           "layer_norm", "group_norm", "batch_norm", "instance_norm", "embedding", "kl_div",
           "binary_cross_entropy_with_logits", "margin_ranking_loss", "hinge_embedding_loss",
           "cosine_embedding_loss", "triplet_margin_loss", "poisson_nll_loss", "set_warn_always",
           "is_warn_always_enabled", "get_deterministic_debug_mode", "set_deterministic_debug_mode",
           "init_num_threads",
           "set_flush_denormal"]


# ---- a copy of input with one view of it overwritten ------------------------------------------------------------
def _scatter_into_view(input, src, view_of):
    """input's copy with view_of(copy) replaced by src (the same shape); gradients flow to both
    through the in-place copy into the view."""
    _check_tensor(input, "scatter")
    out = input.clone()
    view = view_of(out)
    if tuple(src.shape) != tuple(view.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(view.shape)}")
    view.copy_(src)
    return out


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """input with its diagonal (as Tensor.diagonal(offset, dim1, dim2) sees it) replaced by src."""
    return _scatter_into_view(input, src, lambda t: t.diagonal(offset, dim1, dim2))


def select_scatter(input, src, dim, index):
    """input with input.select(dim, index) replaced by src."""
    return _scatter_into_view(input, src, lambda t: t.select(dim, index))


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """input with the slice start:end:step along dim replaced by src."""
    d = wrap_dim(dim, input.dim())
    return _scatter_into_view(input, src, lambda t: t[(slice(None),) * d + (slice(start, end, step),)])


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """input with the strided view as_strided(size, stride, storage_offset) of its copy replaced by src."""
    return _scatter_into_view(input, src, lambda t: t.as_strided(size, stride, storage_offset))


# ---- index_reduce, fill_diagonal_ -------------------------------------------------------------------------------
_INDEX_REDUCTIONS = ("prod", "mean", "amax", "amin")


def _index_as_scatter(self, dim, index, source, reduce):
    if reduce not in _INDEX_REDUCTIONS:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    d = wrap_dim(dim, self.dim())
    if index.dim() > 1:
        raise IndexError("index_reduce_(): Index is supposed to be a vector")
    if source.dim() and index.numel() != source.shape[d]:
        raise IndexError(f"index_reduce_(): Number of indices ({index.numel()}) should be equal to source.size(dim) "
                         f"({source.shape[d]})")
    return d, _along(index, d, source.dim()).expand(source.shape) if source.dim() else index.reshape(())


def index_reduce(input, dim, index, source, reduce, *, include_self=True, out=None):
    """input with source's slices along dim combined (prod, mean, amax or amin) into the slices that
    index names, as a scatter_reduce with index broadcast along source."""
    d, spread = _index_as_scatter(input, dim, index, source, reduce)
    result = input.scatter_reduce(d, spread, source, reduce, include_self=include_self)
    if out is None:
        return result
    return out.copy_(result)


def _index_reduce_(self, dim, index, source, reduce, *, include_self=True):
    d, spread = _index_as_scatter(self, dim, index, source, reduce)
    return self.scatter_reduce_(d, spread, source, reduce, include_self=include_self)


def _fill_diagonal_(self, fill_value, wrap=False):
    """Fill the main diagonal of a matrix (or of an n-d tensor with equal sizes) in place; with
    wrap, a tall matrix's diagonal starts again every columns + 1 rows."""
    if self.dim() < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.dim() > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if self.dim() > 2 or not wrap:
        n = min(self.shape)
        self.as_strided((n,), (sum(self.stride()),), self.storage_offset()).fill_(fill_value)
        return self
    rows, cols = self.shape
    for start in _py.range(0, rows, cols + 1):  # one slice per wrap: a handful of launches
        self[start:start + cols].diagonal().fill_(fill_value)
    return self


# ---- Tensor.unfold, sum_to_size, new_empty_strided --------------------------------------------------------------
def _unfold(self, dimension, size, step):
    """A view of every slice of `size` elements along dimension, `step` apart, in a new last dim."""
    d = wrap_dim(dimension, self.dim())
    length = self.shape[d] if self.dim() else 1
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {length} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if self.dim() == 0:
        return self.reshape(1)
    shape, strides = list(self.shape), list(self.stride())
    shape[d], strides[d] = (length - size) // step + 1, strides[d] * step
    return self.as_strided(shape + [size], strides + [self.stride(d)], self.storage_offset())


def _sum_to_size(self, *size):
    """The sum of self over the dims where size is 1 (or missing in front), giving shape size."""
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    shape = tuple(self.shape)
    lead = len(shape) - len(size)
    if lead < 0 or any(s not in (1, n) for s, n in zip(size, shape[lead:])):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    out = self.sum(tuple(_py.range(lead))) if lead else self
    dims = tuple(k for k, (s, n) in enumerate(zip(size, shape[lead:])) if s == 1 and n != 1)
    return out.sum(dims, keepdim=True) if dims else out


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """An uninitialised tensor with the given strides (its storage spans the furthest element)."""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    span = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    out = empty(span, dtype=dtype, device=device).as_strided(size, stride, 0)
    return out.requires_grad_() if requires_grad else out


def _new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, layout=None,
                       pin_memory=False):
    return empty_strided(size, stride, dtype=dtype or self.dtype, device=device or self.device,
                         requires_grad=requires_grad)


def _transpose_(self, dim0, dim1):
    """Swap two dims of self in place (metadata only); the gradient is swapped back."""
    d0, d1 = wrap_dim(dim0, self.dim()), wrap_dim(dim1, self.dim())
    swapped = self.detach().transpose(d0, d1)
    tracking = self.requires_grad and is_grad_enabled()
    if tracking:
        check_inplace_allowed(self)
        before = graph._history_alias(self)
    self._shape, self._strides = swapped._shape, swapped._strides
    self._bump_version()
    if tracking:
        graph.record_inplace("TransposeBackward1", lambda g, out, a, d0, d1: g.transpose(d0, d1), [before], self,
                             {"d0": d0, "d1": d1}, save=frozenset())
    return self


# ---- distances and indices --------------------------------------------------------------------------------------
def pdist(input, p=2):
    """The p-norm distances between each pair of rows i < j of an (N, M) tensor, row-major: the
    upper triangle of cdist, computed from the pairs' differences."""
    _check_tensor(input, "pdist")
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input.is_floating_point():
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = triu_indices(input.shape[0], input.shape[0], 1, device=input.device)
    return norm(input[i] - input[j], p, dim=-1)


def unravel_index(indices, shape):
    """The coordinates in a tensor of `shape` of flat indices (a tuple of tensors, one per dim)."""
    if not isinstance(indices, Tensor):
        indices = tensor(indices)
    if indices.is_floating_point() or indices.dtype is dt.bool_:
        raise TypeError(f"expected 'indices' to be integer dtype, but got torch.{indices.dtype.name}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(s < 0 for s in shape):
        raise ValueError("'shape' cannot have negative values, but got " + str(shape))
    flat = indices.to(dt.int64)
    coords, later = [], 1
    for s in reversed(shape):
        coords.append((flat // later) % s if s else flat * 0)
        later *= s
    return tuple(reversed(coords))


def broadcast_shapes(*shapes):
    """The shape that tensors of the given shapes broadcast to."""
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    try:
        return Size(launch.strides.broadcast_shapes(*shapes))
    except RuntimeError as err:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape ({err})") from None


# ---- top-level aliases and predicates ---------------------------------------------------------------------------
def positive(input):
    """input itself (the unary +); an error for bool, as PyTorch's."""
    if input.dtype is dt.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    return other - alpha * input if alpha != 1 else other - input


def clamp_min(input, min, *, out=None):
    return input.clamp(min=min) if out is None else out.copy_(input.clamp(min=min))


def clamp_max(input, max, *, out=None):
    return input.clamp(max=max) if out is None else out.copy_(input.clamp(max=max))


def fill(input, value):
    """A new tensor like input, every element value."""
    return full_like(input, value.item() if isinstance(value, Tensor) else value)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """A 0-d tensor holding s (the default float dtype unless told)."""
    return full((), s, dtype=dtype or dt.get_default_dtype(), device=device, requires_grad=requires_grad)


def range(start=0, end=None, step=1, *, dtype=None, layout=None, device=None, requires_grad=False, out=None):
    """Deprecated in PyTorch: start, start + step, ... up to and including end (default float dtype)."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    if end is None:
        start, end = 0, start
    count = math.floor((end - start) / step) + 1
    dtype = dtype or dt.get_default_dtype()
    values = arange(count, dtype=dt.float64 if dtype is dt.float64 else dt.float32, device=device) * step + start
    return values.to(dtype).requires_grad_(requires_grad) if requires_grad else values.to(dtype)


def is_nonzero(input):
    """Whether a one-element tensor is not zero (an error for any other size)."""
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with " + ("no values" if input.numel() == 0 else
                                                               "more than one value") + " is ambiguous")
    return bool(input.item() != 0)


def is_same_size(input, other):
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input):
    return input.dtype not in (dt.bool_, dt.uint8)


def is_inference(input):
    return input.is_inference()


def typename(obj):
    """'torch.FloatTensor' for a tensor, else the object's qualified type name."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}.{qualname}" if module and module != "builtins" else qualname


def frobenius_norm(input, dim=(), keepdim=False):
    """The 2-norm over dim (every dim when empty)."""
    return norm(input, 2, dim=tuple(dim) if dim else None, keepdim=keepdim)


def norm_except_dim(v, pow=2, dim=0):
    """The pow-norm over every dim but dim, keeping v's rank (weight normalisation's g); dim=-1: of all."""
    if dim == -1:
        return norm(v, pow)
    d = wrap_dim(dim, v.dim())
    return norm(v, pow, dim=tuple(k for k in _py.range(v.dim()) if k != d), keepdim=True)


def put(input, index, source, accumulate=False):
    """A copy of input with source written (or added) at the flat indices index."""
    return input.put(index, source, accumulate)


def get_device(input):
    """-1 for a tensor in host memory, else its OpenCL device's index."""
    return input.get_device()


# ---- torch.* spellings of nn.functional ops (ATen's argument order, integer reductions) ---------------------------
_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return _REDUCTIONS[reduction]


def selu(input):
    return _F.selu(input)


def celu(input, alpha=1.0):
    return _F.celu(input, alpha)


def threshold(input, threshold, value):
    return _F.threshold(input, threshold, value)


def hardshrink(input, lambd=0.5):
    return _F.hardshrink(input, lambd)


def prelu(input, weight):
    return _F.prelu(input, weight)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    return _F.rrelu(input, lower, upper, training)


def pixel_shuffle(input, upscale_factor):
    return _F.pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input, downscale_factor):
    return _F.pixel_unshuffle(input, downscale_factor)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    return _F.cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return _F.pairwise_distance(x1, x2, p, eps, keepdim)


def bilinear(input1, input2, weight, bias=None):
    return _F.bilinear(input1, input2, weight, bias)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return _F.rms_norm(input, normalized_shape, weight, eps)


def dropout(input, p, train):
    return _F.dropout(input, p, train)


def alpha_dropout(input, p, train):
    return _F.alpha_dropout(input, p, train)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return _F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return _F.group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=True):
    return _F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps,
                  cudnn_enabled=True):
    return _F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum,
                                       eps)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """ATen's embedding: the weight first; padding_idx -1 means none."""
    return _F.embedding(indices, weight, None if padding_idx < 0 else padding_idx,
                                   scale_grad_by_freq=scale_grad_by_freq)


def kl_div(input, target, reduction=1, *, log_target=False):
    with warnings.catch_warnings():  # ATen's kl_div has no 'batchmean' and does not warn about 'mean'
        warnings.simplefilter("ignore", UserWarning)
        return _F.kl_div(input, target, reduction=_reduction(reduction), log_target=log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    return _F.binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction),
                                                          pos_weight=pos_weight)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    return _F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    return _F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    return _F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction=1):
    return _F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                             reduction=_reduction(reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return _F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_reduction(reduction))


# ---- process-wide switches --------------------------------------------------------------------------------------
_switches = {"warn_always": False}


def set_warn_always(b):
    """Recorded for is_warn_always_enabled; cltensor's warnings follow Python's own filters."""
    _switches["warn_always"] = bool(b)


def is_warn_always_enabled():
    return _switches["warn_always"]


def get_deterministic_debug_mode():
    """0: nondeterministic algorithms allowed, 1: they warn, 2: they raise (use_deterministic_algorithms)."""
    if not _flags.are_deterministic_algorithms_enabled():
        return 0
    return 1 if _flags.is_deterministic_algorithms_warn_only_enabled() else 2


def set_deterministic_debug_mode(debug_mode):
    modes = {"default": 0, "warn": 1, "error": 2}
    mode = modes.get(debug_mode, debug_mode) if isinstance(debug_mode, str) else debug_mode
    if mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got "
                           f"{debug_mode}")
    _flags.use_deterministic_algorithms(mode != 0, warn_only=mode == 1)


def init_num_threads():
    """Nothing to do: the OpenCL driver owns its threads."""


def set_flush_denormal(mode):
    """False: cltensor cannot switch denormal flushing of the OpenCL device (PyTorch returns False
    where the CPU cannot either)."""
    return False


for _name, _fn in (("diagonal_scatter", diagonal_scatter), ("select_scatter", select_scatter),
                   ("slice_scatter", slice_scatter), ("as_strided_scatter", as_strided_scatter),
                   ("index_reduce", index_reduce), ("index_reduce_", _index_reduce_),
                   ("fill_diagonal_", _fill_diagonal_), ("unfold", _unfold), ("sum_to_size", _sum_to_size),
                   ("new_empty_strided", _new_empty_strided), ("positive", positive), ("is_nonzero", is_nonzero),
                   ("is_same_size", is_same_size), ("is_signed", is_signed), ("hardshrink", hardshrink),
                   ("prelu", prelu), ("transpose_", _transpose_), ("swapaxes_", _transpose_),
                   ("swapdims_", _transpose_)):
    register(_name, _fn)
