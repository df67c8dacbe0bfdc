"""Helpers shared by the distributions (PyTorch's torch.distributions.utils names)."""
from functools import update_wrapper
from numbers import Number

import cltensor as torch
import cltensor.nn.functional as F
from cltensor import Tensor
from ..launch.strides import broadcast_shapes as _broadcast

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060


def broadcast_all(*values):
    """Tensors broadcast to one shape; numbers become tensors of the first tensor's dtype and device
    (the default dtype when there is none)."""
    if not all(isinstance(v, (Tensor, Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, torch.Tensor or objects implementing "
                         "__torch_function__.")
    like = next((v for v in values if isinstance(v, Tensor)), None)
    options = dict(dtype=like.dtype, device=like.device) if like is not None else \
        dict(dtype=torch.get_default_dtype())
    tensors = [v if isinstance(v, Tensor) else torch.tensor(v, **options) for v in values]
    return torch.broadcast_tensors(*tensors)


def broadcast_shapes(*shapes) -> torch.Size:
    return torch.Size(_broadcast(*(tuple(s) for s in shapes)))


def standard_normal(shape, like: Tensor) -> Tensor:
    return torch.randn(tuple(shape), dtype=like.dtype, device=like.device)


def uniform(shape, like: Tensor, low=0.0, high=1.0) -> Tensor:
    return torch.empty(tuple(shape), dtype=like.dtype, device=like.device).uniform_(low, high)


def sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """value summed over its dim rightmost dims."""
    return value.reshape(value.shape[:-dim] + (-1,)).sum(-1) if dim > 0 else value


def expand_probs_or_logits(src, new, shape):
    """Give new whichever of probs/logits src holds, expanded to shape (the other stays derived lazily)."""
    for name in ("probs", "logits"):
        if name in src.__dict__:
            setattr(new, name, getattr(src, name).expand(shape))
            new._param = getattr(new, name)


def set_count_and_probs_or_logits(dist, total_count, probs, logits):
    """dist.total_count and one of dist.probs/logits, broadcast together (the count in the parameter's
    dtype), as Binomial and NegativeBinomial take them."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    name, given = ("probs", probs) if probs is not None else ("logits", logits)
    count, param = broadcast_all(total_count, given)
    dist.total_count = count.type_as(param)
    setattr(dist, name, param)
    dist._param = param


def empty_like_param(dist, *args, **kwargs):
    """An uninitialised tensor with the dtype and device of dist's probs/logits parameter."""
    return torch.empty(*args, dtype=dist._param.dtype, device=dist._param.device, **kwargs)


def logits_to_probs(logits, is_binary=False):
    return torch.sigmoid(logits) if is_binary else F.softmax(logits, dim=-1)


def clamp_probs(probs):
    """probs kept inside (0, 1) by the dtype's eps, so that their logits stay finite."""
    eps = torch.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return torch.log(ps_clamped) - torch.log1p(-ps_clamped)
    return torch.log(ps_clamped)


class lazy_property:
    """A property computed once on first access and then stored on the instance
    (on the class, it returns a property so that the distributions' __repr__/expand still see it)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with torch.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):
    def __init__(self, wrapped):
        property.__init__(self, wrapped)


def _tril_mask(n: int, diag: int, device):
    rows = torch.arange(n, device=device)
    return rows < rows.view(-1, 1) + (diag + 1)


def tril_matrix_to_vec(mat, diag=0):
    """The lower-triangular entries of (a batch of) D x D matrices, row by row."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    return mat[..., _tril_mask(n, diag, mat.device)]


def vec_to_tril_matrix(vec, diag=0):
    """The inverse of tril_matrix_to_vec: D x D lower-triangular matrices filled row by row."""
    # the positive root of D**2 + (1 + 2 diag) D - |diag| (diag + 1) - 2 len = 0
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if round(n) - n > torch.finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(n)
    mat = torch.zeros(vec.shape[:-1] + (n, n), dtype=vec.dtype, device=vec.device)
    mat[..., _tril_mask(n, diag, vec.device)] = vec
    return mat


class _XLogY(torch.autograd.Function):
    """x * log(y) with 0 where x == 0 (unless y is NaN), and PyTorch's gradients: log(y) for x
    (at x == 0 too) and x / y for y."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return torch.where((x == 0) & (y == y), 0.0, x * torch.log(y))

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad * torch.log(y), grad * x / y


def xlogy(x, y):
    """torch.xlogy for the log-densities' 0 * log 0 terms (a number x becomes a tensor like y)."""
    if not isinstance(x, Tensor):
        x = torch.full_like(y, x)
    x, y = torch.broadcast_tensors(x, y)
    return _XLogY.apply(x, y)


def logit(p):
    return torch.log(p) - torch.log1p(-p)
