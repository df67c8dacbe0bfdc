"""torch.nn.functional: activations, linear maps, normalisation, dropout, embeddings and losses.

Everything here is plain Tensor code over cltensor's primitive ops (elementwise rows, the fused
softmax/log_softmax, reductions, GEMM, index_select), so it runs on the tensor's device and its
gradients come from the primitives' backward rules. Losses pick class targets by comparing with
arange(C) on the device, so no forward or backward pass reads values back to the host (embedding
is the exception: index_select checks its indices on the host, as PyTorch's CPU kernel does).

>>> import cltensor as torch
>>> import cltensor.nn.functional as F
>>> F.relu(torch.tensor([-1.0, 2.0]))
tensor([0., 2.])
"""
from __future__ import annotations

import math
import warnings

from .. import checks, launch
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..ops import creation as _creation
from ..ops import elementwise as _ew
from ..ops import loss as _loss
from ..ops import normalization as _normalization
from ..ops import window as _w

__all__ = [
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "celu", "gelu", "silu", "mish",
    "sigmoid", "tanh", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "softplus", "softsign", "tanhshrink",
    "logsigmoid", "hardshrink", "softshrink", "threshold", "threshold_", "glu", "prelu", "softmax", "log_softmax",
    "softmin", "linear", "bilinear", "embedding", "one_hot", "dropout", "dropout1d", "dropout2d", "dropout3d",
    "layer_norm", "rms_norm", "batch_norm", "group_norm", "normalize", "pad", "cosine_similarity", "pairwise_distance",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy", "kl_div", "soft_margin_loss",
    "margin_ranking_loss",
]

_where = _ew.where


# ---- helpers -------------------------------------------------------------------------------------------
def _reduction_arg(size_average, reduce, reduction):
    """The reduction string, from the deprecated size_average/reduce flags when either is given."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' "
                      "instead.", UserWarning, stacklevel=3)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _inplace(input, fn):
    """Write fn(input) into input. The result is computed from a clone when autograd records it,
    so the saved inputs of fn's ops are not the tensor that the copy overwrites."""
    if is_grad_enabled() and input.requires_grad:
        return input.copy_(fn(input.clone()))
    return input.copy_(fn(input))


# ---- activations -------------------------------------------------------------------------------------------
def relu(input, inplace=False):
    """max(x, 0); the gradient at 0 is 0, as in PyTorch."""
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def _hardtanh_vjp(g, out, a, min_val, max_val):
    return g.where((a > min_val) & (a < max_val), 0.0)  # select: NaN/inf in g stay out of the clamped part


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); the gradient is 0 at the two corners, as in PyTorch (clamp's
    own rule passes it there)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return _inplace(input, lambda x: hardtanh(x, min_val, max_val))
    if not input.dtype.is_floating_point:  # integers stay integers, as in PyTorch
        min_val, max_val = int(min_val), int(max_val)
    with no_grad():
        out = input.clamp(min_val, max_val)
    if is_grad_enabled() and input.requires_grad:
        graph.record("HardtanhBackward0", _hardtanh_vjp, [input], out, {"min_val": min_val, "max_val": max_val},
                     save=frozenset({0}))
    return out


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return _inplace(input, lambda x: leaky_relu(x, negative_slope))
    return _where(input > 0, input, input * negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


# gelu, silu, mish, the elu family, softplus, hardswish, hardsigmoid, logsigmoid, softsign and tanhshrink
# are rows of cltensor/ops/activations.py: one kernel forward, one backward
def elu(input, alpha=1.0, inplace=False):
    if inplace:
        return _inplace(input, lambda x: elu(x, alpha))
    return _ew._elu(input, alpha=alpha)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    if inplace:
        return _inplace(input, selu)
    return _ew._elu(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    if inplace:
        return _inplace(input, lambda x: celu(x, alpha))
    return _ew._celu(input, alpha=alpha, input_scale=1.0 / alpha)


def gelu(input, approximate="none"):
    """x * Phi(x) (approximate='none', through erf) or PyTorch's tanh approximation."""
    if approximate == "none":
        return _ew._gelu(input)
    if approximate == "tanh":
        return _ew._gelu_tanh(input)
    raise RuntimeError("approximate argument must be either none or tanh.")


def silu(input, inplace=False):
    if inplace:
        return _inplace(input, silu)
    return _ew._silu(input)


def mish(input, inplace=False):
    if inplace:
        return _inplace(input, mish)
    return _ew._mish(input)


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule)."""
    return _ew._softplus(input, beta=beta, threshold=threshold)


def softsign(input):
    return _ew._softsign(input)


def tanhshrink(input):
    return _ew._tanhshrink(input)


def logsigmoid(input):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for large |x|."""
    return _ew._logsigmoid(input)


def hardsigmoid(input, inplace=False):
    if inplace:
        return _inplace(input, hardsigmoid)
    return _ew._hardsigmoid(input)


def hardswish(input, inplace=False):
    if inplace:
        return _inplace(input, hardswish)
    return _ew._hardswish(input)


def hardshrink(input, lambd=0.5):
    return _where((input >= -lambd) & (input <= lambd), 0.0, input)  # NaN stays NaN


def softshrink(input, lambd=0.5):
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return _where(input > lambd, input - lambd, _where(input < -lambd, input + lambd, input * 0))  # NaN stays NaN


def threshold(input, threshold, value, inplace=False):
    if inplace:
        return _inplace(input, lambda x: _where(x <= threshold, value, x))
    return _where(input <= threshold, value, input)  # NaN is kept, as PyTorch's x <= threshold ? value : x


def threshold_(input, threshold, value):
    return globals()["threshold"](input, threshold, value, inplace=True)


def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.size(dim)
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.dim()} is size {n}")
    return input.narrow(dim, 0, n // 2) * input.narrow(dim, n // 2, n // 2).sigmoid()


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), weight broadcast along the channel dimension (dim 1)."""
    if weight.numel() != 1:
        channels = input.size(1) if input.dim() >= 2 else input.size(0)
        if weight.numel() != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{weight.numel()} and channel size = {channels}.")
        if input.dim() >= 2:
            weight = weight.reshape((channels,) + (1,) * (input.dim() - 2))
    else:
        weight = weight.reshape(())  # one slope keeps the input's shape, a 0-d input's too
    return _where(input > 0, input, input * weight)


def _softmax_dim(name, ndim, stacklevel=3):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  "dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """The fused softmax of cltensor.ops.reduce along dim."""
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return input.softmax(dim, dtype=dtype) if dtype is not None else input.softmax(dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return input.log_softmax(dim, dtype=dtype) if dtype is not None else input.log_softmax(dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmin", input.dim(), _stacklevel)
    return softmax(-input, dim, dtype=dtype)


# ---- linear maps and embeddings -------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    """input @ weight.T + bias: one addmm (the bias added by the GEMM) for input of any dims (1-D as one row)."""
    if bias is not None and input.dim() >= 1 and bias.dim() == 1:
        if input.dim() == 2:
            return bias.addmm(input, weight.t())
        lead = tuple(input.shape[:-1])
        flat = bias.addmm(input.reshape(-1, input.size(-1)), weight.t())
        return flat.reshape(lead + (weight.size(0),))
    out = input.matmul(weight.t())
    return out + bias if bias is not None else out


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k, as one GEMM of x1 with W viewed as (in1, out*in2) and a reduction."""
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
                           f"{list(input2.shape[:-1])}")
    if weight.dim() != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional, got {weight.dim()}-D")
    out_f, in1, in2 = weight.shape
    if input1.size(-1) != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.size(-1)} but "
                           f"expected {in1}")
    if input2.size(-1) != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.size(-1)} but "
                           f"expected {in2}")
    if bias is not None and bias.numel() != out_f:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {bias.numel()} but expected "
                           f"{out_f}")
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    left = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out_f * in2))  # (n, out*in2)
    out = (left.reshape(-1, out_f, in2) * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(lead + (out_f,))


def _normalize_padding_idx(padding_idx, num_embeddings):
    if padding_idx is None:
        return None
    if padding_idx > 0:
        assert padding_idx < num_embeddings, "Padding_idx must be within num_embeddings"
    elif padding_idx < 0:
        assert padding_idx >= -num_embeddings, "Padding_idx must be within num_embeddings"
        padding_idx = num_embeddings + padding_idx
    return padding_idx


def _embedding_vjp(g, out, weight, indices, padding_idx, scale_grad_by_freq):
    """Rows of g summed into the rows they came from; none into padding_idx."""
    idx = indices.reshape(-1)
    rows = g.reshape(-1, g.shape[-1])
    if padding_idx is not None:
        rows = rows * (idx != padding_idx).unsqueeze(1)
    num = weight.shape[0]
    if scale_grad_by_freq:
        counts = _creation.zeros(num, dtype=g.dtype, device=g.device).index_add(
            0, idx, _creation.ones(idx.numel(), dtype=g.dtype, device=g.device))
        rows = rows / counts.index_select(0, idx).unsqueeze(1)
    grad = _creation.zeros(weight.shape, dtype=g.dtype, device=g.device).index_add(0, idx, rows)
    return grad, None


def _embedding_renorm_(weight, indices, max_norm, norm_type):
    """Rescale, in place, the rows that indices reference whose norm exceeds max_norm."""
    with no_grad():
        used = _creation.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)
        used.index_fill_(0, indices.reshape(-1), 1.0)
        norms = weight.abs().pow(norm_type).sum(1).pow(1.0 / norm_type)
        scale = _where((norms > max_norm) & (used > 0), max_norm / (norms + 1e-7), 1.0)
        weight.mul_(scale.unsqueeze(1))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight picked by the integer tensor input: output shape input.shape + (dim,)."""
    if input.dtype not in (dt.int64, dt.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for embedding)")
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    padding_idx = _normalize_padding_idx(padding_idx, weight.size(0))
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    if input.numel():  # index_select checks the upper end (a sync); a negative index must not wrap
        checks.defer(input.min(), lambda v: v >= 0, lambda v: IndexError("index out of range in self"))
    with no_grad():
        out = weight.index_select(0, input.reshape(-1)).reshape(tuple(input.shape) + (weight.size(1),))
    if is_grad_enabled() and weight.requires_grad:
        graph.record("EmbeddingBackward0", _embedding_vjp, [weight, input], out,
                     {"padding_idx": padding_idx, "scale_grad_by_freq": scale_grad_by_freq}, save=frozenset({1}))
    return out


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding along a new last dimension (num_classes=-1 reads max+1 from the device)."""
    if tensor.dtype is not dt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max().item()) + 1  # PyTorch syncs here too
    elif tensor.numel():
        lo, hi = launch.index.index_minmax(tensor)  # PyTorch's CPU kernel checks too
        if lo < 0:
            raise RuntimeError("Class values must be non-negative.")
        if hi >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    classes = _creation.arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


# ---- dropout -----------------------------------------------------------------------------------------------
def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_mask(shape, p, like):
    """Philox Bernoulli(1 - p) draws scaled by 1 / (1 - p)."""
    mask = _creation.empty(shape, dtype=like.dtype, device=like.device).bernoulli_(1.0 - p)
    return mask.mul_(1.0 / (1.0 - p))


def _apply_mask(input, mask, inplace):
    return input.mul_(mask) if inplace else input * mask


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (identity when not training)."""
    _check_p(p)
    if not training or p == 0:
        return input
    if p == 1:
        return input.mul_(0) if inplace else input * 0
    return _apply_mask(input, _dropout_mask(input.shape, p, input), inplace)


# ---- normalisation -----------------------------------------------------------------------------------------
def _normalized(x, dims, eps):
    """(x - mean) / sqrt(biased var + eps) over dims, with the mean and var it used."""
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    return centered * (var + eps).rsqrt(), mean, var


def _affine(x, weight, bias):
    if weight is not None and bias is not None:
        return _ew.addcmul(bias, x, weight)
    if weight is not None:
        return x * weight
    if bias is not None:
        return x + bias
    return x


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing dimensions named by normalized_shape (biased variance)."""
    shape, dims = _normalized_dims(input, normalized_shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(t.shape)} and normalized_shape = {list(shape)}")
    return _normalization.layer_norm(input, dims, weight, bias, eps)


def _normalized_dims(input, normalized_shape, name="normalized_shape"):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.dim() < k or tuple(input.shape[input.dim() - k:]) != shape:
        raise RuntimeError(f"Given {name}={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}")
    return shape, tuple(range(-k, 0))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing dims (eps defaults to the dtype's epsilon)."""
    shape, dims = _normalized_dims(input, normalized_shape)
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
                           f"{list(weight.shape)} and normalized_shape = {list(shape)}")
    if eps is None:
        eps = dt.finfo(input.dtype).eps
    x = input.float() if input.dtype is dt.float16 else input
    out = x * ((x * x).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        out = out * weight
    return out.to(input.dtype)


def _channel_view(t, ndim):
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) over the batch and spatial dims. Training uses the batch
    statistics and updates running_mean/var in place (unbiased var) with factor momentum;
    evaluation uses the running statistics."""
    if input.dim() < 2:
        raise ValueError(f"Expected 2D or higher input to batch_norm, got {input.dim()}D input")
    channels = input.size(1)
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
    ndim = input.dim()
    w = _channel_view(weight, ndim) if weight is not None else None
    b = _channel_view(bias, ndim) if bias is not None else None
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        # fold the statistics into one scale and shift per channel: one pass over the input
        scale = (running_var + eps).rsqrt()
        if weight is not None:
            scale = scale * weight
        shift = -running_mean * scale
        if bias is not None:
            shift = shift + bias
        return _w.in_layout_of(_ew.addcmul(_channel_view(shift, ndim), input, _channel_view(scale, ndim))
                               .to(input.dtype), input)
    count = input.numel() // max(channels, 1)
    if count == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
    dims = (0,) + tuple(range(2, ndim))
    x = input.float() if input.dtype is dt.float16 else input
    out, mean, var = _normalized(x, dims, eps)
    if running_mean is not None or running_var is not None:
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.reshape(-1), alpha=momentum)
            if running_var is not None:
                unbiased = var.reshape(-1) * (count / max(count - 1, 1))
                running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
    return _w.in_layout_of(_affine(out, w, b).to(input.dtype), input)  # channels-last in, channels-last out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    n, channels = input.shape[:2]
    if channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(input.shape)} and num_groups={num_groups}")
    x = input.float() if input.dtype is dt.float16 else input
    grouped = x.reshape(n, num_groups, x.numel() // max(1, n * num_groups))
    out, _, _ = _normalized(grouped, (-1,), eps)
    out = out.reshape(input.shape)
    ndim = input.dim()
    w = _channel_view(weight, ndim) if weight is not None else None
    b = _channel_view(bias, ndim) if bias is not None else None
    return _affine(out, w, b).to(input.dtype)


def _vector_norm(input, p, dim, keepdim):
    if hasattr(input, "norm"):
        return input.norm(p, dim, keepdim=keepdim)
    return input.abs().pow(p).sum(dim, keepdim=keepdim).pow(1.0 / p)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    denom = _vector_norm(input, p, dim, True).clamp(min=eps)
    result = input / denom
    if out is not None:
        return out.copy_(result)
    return result


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along dim (after broadcasting)."""
    shape = launch.strides.broadcast_shapes(x1.shape, x2.shape)  # the norms along dim of the broadcast operands
    x1, x2 = x1.expand(shape), x2.expand(shape)
    n1 = _vector_norm(x1, 2.0, dim, False).clamp(min=eps)
    n2 = _vector_norm(x2, 2.0, dim, False).clamp(min=eps)
    return (x1 * x2).sum(dim) / (n1 * n2)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return _vector_norm(x1 - x2 + eps, p, -1, keepdim)


from .padding import pad  # noqa: E402,F401  (constant/reflect/replicate/circular, in nn/padding.py)
from .dropout import dropout1d, dropout2d, dropout3d  # noqa: E402,F401  (PyTorch's rank handling)
from .fold import fold, unfold  # noqa: E402,F401
from .sampling import affine_grid, grid_sample  # noqa: E402,F401
from .upsampling import interpolate, upsample, upsample_bilinear, upsample_nearest  # noqa: E402,F401
from ..ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d,  # noqa: E402,F401
                        conv_transpose3d)
from .pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d,  # noqa: E402,F401
                      adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d, avg_pool1d, avg_pool2d,
                      avg_pool3d, lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d, max_pool1d_with_indices, max_pool2d,
                      max_pool2d_with_indices, max_pool3d, max_pool3d_with_indices, max_unpool1d, max_unpool2d,
                      max_unpool3d)


# ---- losses ------------------------------------------------------------------------------------------------
def _warn_size(input, target):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have "
                      "the same size.", UserWarning, stacklevel=3)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction_arg(size_average, reduce, reduction)
    _warn_size(input, target)
    diff = input - target
    loss = diff * diff
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction_arg(size_average, reduce, reduction)
    _warn_size(input, target)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _smooth_l1(diff, beta):
    z = diff.abs()
    if beta == 0:
        return z
    return _where(z < beta, z * z * (0.5 / beta), z - 0.5 * beta)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (d = input - target)."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_size(input, target)
    return _reduce(_smooth_l1(input - target, beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """beta * smooth_l1 with beta = delta: 0.5 d^2 where |d| < delta, else delta (|d| - delta / 2)."""
    reduction = _reduction_arg(None, None, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _warn_size(input, target)
    loss = _smooth_l1(input - target, delta) * delta
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log(x) + (1 - t) log(1 - x)), each log clamped at -100 like PyTorch."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    log_x = input.log().clamp(min=-100.0)
    log_1mx = (1 - input).log().clamp(min=-100.0)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """BCE of sigmoid(input), computed stably as (1 - t) x - w_pos log(sigmoid(x)) with
    w_pos = 1 + (pos_weight - 1) t."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    log_sig = logsigmoid(input)
    if pos_weight is not None:
        log_sig = log_sig * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _check_class_target(input, target, weight):
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if input.dim() != 1 and target.dim() >= 1 and input.size(0) != target.size(0):
        raise ValueError(f"Expected input batch_size ({input.size(0)}) to match target batch_size "
                         f"({target.size(0)}).")
    if input.dim() <= 2:
        if target.dim() > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if input.dim() == 1 and target.dim() != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif tuple(target.shape[1:]) != tuple(input.shape[2:]) or target.dim() != input.dim() - 1:
        expected = [input.size(0)] + list(input.shape[2:])
        raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")
    if target.dtype not in (dt.int64, dt.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {target.dtype.torch_name}")
    classes = input.size(0 if input.dim() == 1 else 1)
    if weight is not None and (weight.dim() != 1 or weight.numel() != classes):
        raise RuntimeError(f"weight tensor should be defined either for all {classes} classes or no classes but "
                           f"got weight tensor of shape: {list(weight.shape)}")


_NO_OFFENDER = -(1 << 63)


def _defer_target_check(target, classes, ignore_index):
    """IndexError "Target t is out of bounds." at the next host read when a target outside
    [0, classes) (other than ignore_index) is found on the device: no sync here. The loss itself
    compares targets with the class indices, so a bad one reads nothing out of bounds."""
    if target.numel() == 0:
        return
    offenders = launch.base.empty(target.shape, dt.int64, target.device)  # one kernel, then one reduction
    launch.elementwise.elementwise("target_offenders", "((a < 0 || a >= classes) && a != ignored) ? a : LONG_MIN",
                         [target], offenders, dt.int64, (("classes", "long", classes), ("ignored", "long", ignore_index)))
    checks.defer(offenders.max(), lambda v: v == _NO_OFFENDER, lambda v: IndexError(f"Target {v} is out of bounds."))


def _class_view(t, ndim, class_dim):
    shape = [1] * ndim
    shape[class_dim] = -1
    return t.reshape(shape)


def _target_hits(input, target, ignore_index, class_dim):
    """Bool mask of input's shape, true at each element's target class (never for an ignored
    target). Built by comparing with arange(C) on the device: no index is read back to the host,
    so the loss never syncs (a target outside [0, C) selects nothing)."""
    classes = input.size(class_dim)
    ids = _class_view(_creation.arange(classes, device=input.device), input.dim(), class_dim)
    hits = target.unsqueeze(class_dim) == ids
    if 0 <= ignore_index < classes:
        hits = hits & (target != ignore_index).unsqueeze(class_dim)
    return hits


def _picked_and_weights(input, target, weight, ignore_index, class_dim):
    """(sum over classes of weight[t] * input at the target class, the weight mask)."""
    hits = _target_hits(input, target, ignore_index, class_dim)
    if weight is None:
        # NOTE: where(), not a product with the mask, so that the -inf log-probabilities of other
        # classes (masked logits) do not turn into nan (0 * -inf)
        return _where(hits, input, 0.0).sum(class_dim), hits
    wv = _class_view(weight.to(input.dtype), input.dim(), class_dim)
    return _where(hits, input * wv, 0.0).sum(class_dim), _where(hits, wv, 0.0)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """-weight[t] * input[n, t] per element; 'mean' divides by the summed weights of the
    non-ignored targets (nan when all are ignored, like PyTorch)."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_class_target(input, target, weight)
    launch.base.common_device([input, target] + ([weight] if weight is not None else []), "nll_loss")
    class_dim = 0 if input.dim() == 1 else 1
    _defer_target_check(target, input.size(class_dim), ignore_index)
    picked, mask = _picked_and_weights(input, target, weight, ignore_index, class_dim)
    if reduction == "mean":
        return -picked.sum() / mask.sum()
    return _reduce(-picked, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax over the class dimension (1, or 0 for unbatched input) followed by nll_loss for
    class-index targets, or by -sum(target * log p) for class-probability targets (a float target
    of the input's shape); label_smoothing mixes in the uniform distribution."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.dim() == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    class_dim = 0 if input.dim() == 1 else 1
    probs = target.shape == input.shape
    if probs:
        if not target.dtype.is_floating_point:
            raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                               f"{target.dtype.torch_name}")
        _check_probability_target(input, weight, ignore_index, class_dim)
    else:
        _check_class_target(input, target, weight)

    def composite(x):
        if probs:
            return _cross_entropy_probs(x, target, weight, reduction, label_smoothing, class_dim)
        return _cross_entropy_classes(x, target, weight, ignore_index, reduction, label_smoothing, class_dim)
    fused = _loss.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, class_dim, probs,
                                composite)
    if fused is not None:
        return fused
    if not probs:
        _defer_target_check(target, input.size(class_dim), ignore_index)
    return composite(input)


def _cross_entropy_classes(input, target, weight, ignore_index, reduction, label_smoothing, class_dim):
    """The composition: log_softmax, then the picked and smoothing terms as Tensor ops."""
    logp = log_softmax(input, class_dim)
    picked, mask = _picked_and_weights(logp, target, weight, ignore_index, class_dim)
    if label_smoothing > 0:
        classes = input.size(class_dim)
        weighted = logp * _class_view(weight.to(logp.dtype), logp.dim(), class_dim) if weight is not None else logp
        smooth = _where(target != ignore_index, weighted.sum(class_dim), 0.0)
        # loss = (1 - eps) nll + (eps / C) smooth, with nll = -picked and smooth = -sum_c w_c logp_c
        picked = picked * (1 - label_smoothing) + smooth * (label_smoothing / classes)
    if reduction == "mean":
        # NOTE: with label smoothing both terms are normalised by the summed target weights (PyTorch)
        return -picked.sum() / mask.sum()
    return _reduce(-picked, reduction)


def _check_probability_target(input, weight, ignore_index, class_dim):
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    classes = input.size(class_dim)
    if weight is not None and (weight.dim() != 1 or weight.numel() != classes):
        raise RuntimeError(f"weight tensor should be defined either for all {classes} classes or no classes but "
                           f"got weight tensor of shape: {list(weight.shape)}")


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing, class_dim):
    """The composition: -sum(target * log_softmax(input) * weight) over the class dim."""
    classes = input.size(class_dim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    terms = log_softmax(input, class_dim) * target
    if weight is not None:
        terms = terms * _class_view(weight, input.dim(), class_dim)
    loss = -terms.sum(class_dim)
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """target * (log target - input) pointwise (0 where target == 0); 'batchmean' divides the sum
    by the batch size."""
    if reduction == "batchmean":
        base = "sum"
    else:
        base = _reduction_arg(size_average, reduce, reduction)
        if base == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                          "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                          "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                          UserWarning, stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:  # xlogy(t, t) - t * input, with 0 log 0 = 0
        loss = target * (_where(target == 0, 1.0, target).log() - input)
    out = _reduce(loss, base)
    if reduction == "batchmean" and input.dim() != 0:
        out = out / input.size(0)
    return out


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction_arg(size_average, reduce, reduction)
    return _reduce(-logsigmoid(input * target), reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction_arg(size_average, reduce, reduction)
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction)


# ---- more activations, dropout and normalisation -----------------------------------------------------------
def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with a slope drawn from U(lower, upper) per element in training, (lower + upper) / 2
    otherwise."""
    if inplace:
        return _inplace(input, lambda x: rrelu(x, lower, upper, training))
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    slopes = _creation.empty(input.shape, dtype=input.dtype, device=input.device).uniform_(lower, upper)
    return _where(input > 0, input, input * slopes)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + Gumbel noise) / tau); hard=True returns the one-hot argmax in the forward
    pass with the soft sample's gradient (straight-through)."""
    gumbels = -_creation.empty(logits.shape, dtype=logits.dtype, device=logits.device).exponential_().log()
    soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    d = dim % soft.dim()
    ids = _class_view(_creation.arange(soft.size(d), device=soft.device), soft.dim(), d)
    hard_sample = (soft.argmax(d, keepdim=True) == ids).to(soft.dtype)
    return hard_sample - soft.detach() + soft


_ALPHA_DROPOUT_ALPHA = 1.7580993408473766  # -SELU_SCALE * SELU_ALPHA


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's self-normalising mean and variance: dropped units take the value
    -alpha' and an affine map restores zero mean and unit variance."""
    _check_p(p)
    if not training or p == 0:
        return input
    if p == 1:
        return input.mul_(0) if inplace else input * 0
    keep = _creation.empty(input.shape, dtype=input.dtype, device=input.device).bernoulli_(1.0 - p)
    a = 1.0 / math.sqrt((_ALPHA_DROPOUT_ALPHA ** 2 * p + 1) * (1 - p))
    shift = (keep - 1) * (_ALPHA_DROPOUT_ALPHA * a) + _ALPHA_DROPOUT_ALPHA * a * p
    scale = keep * a
    if inplace:
        return input.mul_(scale).add_(shift)
    return _ew.addcmul(shift, input, scale)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) over its spatial dims; running statistics, when given, are
    updated with the batch average of the per-instance statistics (unbiased variance)."""
    if input.dim() < 3:
        raise ValueError(f"Expected 3D or higher input to instance_norm, got {input.dim()}D input")
    ndim = input.dim()
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    spatial = math.prod(input.shape[2:])
    if spatial == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape}")
    x = input.float() if input.dtype is dt.float16 else input
    out, mean, var = _normalized(x, tuple(range(2, ndim)), eps)
    if running_mean is not None or running_var is not None:
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.mean(0).reshape(-1), alpha=momentum)
            if running_var is not None:
                unbiased = var.mean(0).reshape(-1) * (spatial / (spatial - 1))
                running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
    w = _channel_view(weight, ndim) if weight is not None else None
    b = _channel_view(bias, ndim) if bias is not None else None
    return _affine(out, w, b).to(input.dtype)


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
                           f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but "
                           f"got {h}x{w} and {r}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(Q K^T * scale + mask) V over the last two dims (batched GEMMs and the fused softmax).

    attn_mask is a bool mask (True = attend) or an additive float mask; is_causal applies the
    lower-triangular mask; enable_gqa repeats key/value heads to match the query's (dim -3).
    """
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if enable_gqa and key.size(-3) != query.size(-3):
        groups = query.size(-3) // key.size(-3)
        key = key.repeat_interleave(groups, dim=-3)
        value = value.repeat_interleave(groups, dim=-3)
    factor = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    scores = query.matmul(key.transpose(-2, -1)) * factor
    if is_causal:
        length, source = query.size(-2), key.size(-2)
        attn_mask = _creation.ones(length, source, dtype=dt.bool_, device=query.device).tril()
    if attn_mask is not None:
        if attn_mask.dtype is dt.bool_:
            scores = _where(attn_mask, scores, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights.matmul(value)


# ---- more losses -------------------------------------------------------------------------------------------
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(input) - target * input (log_input), or input - target * log(input + eps); full adds
    Stirling's approximation of log(target!) where target > 1."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        safe = _where(target > 1, target, 1.0)
        stirling = safe * safe.log() - safe + (safe * (2 * math.pi)).log() * 0.5
        loss = loss + _where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) if full).

    The clamp of var does not stop its gradient (as in PyTorch). Unlike PyTorch, negative entries of
    var are not checked for, since that would read the device."""
    reduction = _reduction_arg(None, None, reduction)
    if isinstance(var, (int, float)):
        var = _creation.full(input.shape, float(var), dtype=input.dtype, device=input.device)
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.size(-1) == 1):
            raise ValueError("var is of incorrect size")
    with no_grad():
        floor = (var.clamp(min=eps) - var).detach()
    var = var + floor  # NOTE: var clamped at eps, with the gradient of the unclamped var
    loss = ((var.log() + (input - target) ** 2 / var) * 0.5)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction_arg(size_average, reduce, reduction)
    pushed = _where(target != 1, (margin - input).clamp(min=0.0), 0.0)
    kept = _where(target != -1, input, 0.0)
    return _reduce(pushed + kept, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction_arg(size_average, reduce, reduction)
    dim = 1 if input1.dim() == 2 else 0
    eps = 1e-12
    dot = (input1 * input2).sum(dim)
    cos = dot / (((input1 * input1).sum(dim) + eps) * ((input2 * input2).sum(dim) + eps)).sqrt()
    loss = _where(target == 1, 1 - cos, 0.0) + _where(target == -1, (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    reduction = _reduction_arg(size_average, reduce, reduction)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _ew.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log sigmoid(x) + (1 - t) log sigmoid(-x)), averaged over the classes (last dim)."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.mean(input.dim() - 1), reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """sum over j != y of max(0, margin - x[y] + x[j])^p / C (times weight[y])."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    class_dim = input.dim() - 1
    hits = _target_hits(input, target, -1, class_dim)
    x_y = _where(hits, input, 0.0).sum(class_dim, keepdim=True)
    margins = (input - x_y + margin).clamp(min=0.0)
    if p == 2:
        margins = margins * margins
    if weight is not None:
        margins = margins * _where(hits, weight.to(input.dtype), 0.0).sum(class_dim, keepdim=True)
    loss = _where(hits, 0.0, margins).sum(class_dim) / input.size(class_dim)
    return _reduce(loss, reduction)


__all__ += ["rrelu", "rrelu_", "gumbel_softmax", "alpha_dropout", "instance_norm", "pixel_shuffle",
            "pixel_unshuffle", "scaled_dot_product_attention", "poisson_nll_loss", "gaussian_nll_loss",
            "hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss", "multilabel_soft_margin_loss",
            "multi_margin_loss"]
