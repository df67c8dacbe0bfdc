"""Pooling: the functional forms (max, average, adaptive, power-average, max-unpool; 1-3 spatial
dims) and their modules. Arguments are validated here with PyTorch's messages before any kernel
runs; the work is done by the window kernel family (cltensor/launch/window.py, ops in cltensor/ops/window.py).
"""
from __future__ import annotations

from .. import dtypes as dt
from ..ops import creation as _creation
from ..ops import window as _w
from .module import Module


def _tuple(value, n, name="kernel_size"):
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return tuple(int(v) for v in value) * n
        if len(value) != n:
            raise RuntimeError(f"{name} must either be a single int, or a tuple of {n} ints")
        return tuple(int(v) if v is not None else None for v in value)
    return (int(value),) * n


def _check_dtype(input, op, integers=()):
    """PyTorch's NotImplementedError for dtypes its kernel for op is not compiled for."""
    d = input.dtype
    if d.is_floating_point or d in integers:
        return
    raise NotImplementedError(f'"{op}" not implemented for \'{input.type().split(".")[-1][:-len("Tensor")]}\'')


def _batched(input, n):
    """input as (N, C, *spatial) and whether it was unbatched."""
    if input.dim() not in (n + 1, n + 2) or any(s == 0 for s in input.shape[-(n + 1):]):
        kinds = {1: "2D or 3D", 2: "3D or 4D", 3: "4D or 5D"}[n]
        raise RuntimeError(f"non-empty {kinds} (batch mode) tensor expected for input")
    return (input.unsqueeze(0), True) if input.dim() == n + 1 else (input, False)


def _sliding_geometry(input, n, kernel_size, stride, padding, dilation, ceil_mode, kind):
    k = _tuple(kernel_size, n)
    s = _tuple(stride, n, "stride") if stride is not None and stride != [] and stride != () else k
    p = _tuple(padding, n, "padding")
    d = _tuple(dilation, n, "dilation")
    if any(v <= 0 for v in k):
        raise RuntimeError(f"kernel_size must be greater than zero, but got kernel_size={list(k)}"
                           if kind == "max" else "kernel size must be greater than zero")
    if any(v == 0 for v in s):
        raise RuntimeError("stride should not be zero")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"dilation must be greater than zero, but got dilation={list(d)}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0 or pp > ((kk - 1) * dd + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pp}, "
                               f"kernel_size={kk} and dilation={dd}")
    spatial = input.shape[-n:]
    out = tuple(_w.output_size(size, kk, ss, pp, dd, ceil_mode) for size, kk, ss, pp, dd in zip(spatial, k, s, p, d))
    if any(o < 1 for o in out):
        if kind == "max" and n == 1:
            raise RuntimeError(f"max_pool1d() Invalid computed output size: {out[0]}")
        lead = input.shape[-(n + 1)]
        raise RuntimeError(f"Given input size: ({'x'.join(str(v) for v in (lead,) + tuple(spatial))}). "
                           f"Calculated output size: ({'x'.join(str(v) for v in (lead,) + out)}). "
                           f"Output size is too small")
    return k, s, p, d, out


def _max_pool(input, n, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    k, s, p, d, out = _sliding_geometry(input, n, kernel_size, stride, padding, dilation, ceil_mode, "max")
    x, unbatched = _batched(input, n)
    _check_dtype(input, "max_pool1d_impl" if n == 1 else f"max_pool{n}d",
                 integers=(dt.uint8, dt.int8, dt.int16, dt.int32, dt.int64) if n > 1 else ())
    y, idx = _w.pool(x, _w.Window(_w.MAX, out, k, s, p, d))
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of the last dim of (N, C, L) or (C, L)."""
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of the last 2 dims of (N, C, H, W) or (C, H, W); indices are h * W + w."""
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of the last 3 dims of (N, C, D, H, W) or (C, D, H, W)."""
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(*args, **kwargs):
    return max_pool1d(*args, **{**kwargs, "return_indices": True})


def max_pool2d_with_indices(*args, **kwargs):
    return max_pool2d(*args, **{**kwargs, "return_indices": True})


def max_pool3d_with_indices(*args, **kwargs):
    return max_pool3d(*args, **{**kwargs, "return_indices": True})


def _avg_pool(input, n, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    k, s, p, _, out = _sliding_geometry(input, n, kernel_size, stride, padding, 1, ceil_mode, "avg")
    x, unbatched = _batched(input, n)
    _check_dtype(input, "avg_pool3d_out_frame" if n == 3 else f"avg_pool{n}d", integers=(dt.int64,) if n > 1 else ())
    y, _ = _w.pool(x, _w.Window(_w.AVG, out, k, s, p, (1,) * n, count_include_pad, divisor_override or 0))
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of the last dim."""
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over sliding windows of the last 2 dims (count_include_pad counts padded zeros)."""
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over sliding windows of the last 3 dims."""
    return _avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _adaptive(input, n, output_size, mode, name):
    if input.dim() not in (n + 1, n + 2):
        raise RuntimeError(f"{name}(): Expected {n + 1}D or {n + 2}D tensor, but got {list(input.shape)}")
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but "
                               f"input has sizes {list(input.shape)} with dimension {i} being empty")
    sizes = _tuple(output_size, n, "output_size")
    out = tuple(input.shape[-n + i] if o is None else o for i, o in enumerate(sizes))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{name}(): elements of output_size must be greater than or equal to 0 but received "
                           f"{list(out)}")
    _check_dtype(input, name.replace("1d", "2d"))  # PyTorch's 1-d adaptive pools run its 2-d kernels
    x, unbatched = (input.unsqueeze(0), True) if input.dim() == n + 1 else (input, False)
    y, idx = _w.pool(x, _w.Window(mode, out))
    if unbatched:
        y, idx = y.squeeze(0), (idx.squeeze(0) if idx is not None else None)
    return y, idx


def adaptive_avg_pool1d(input, output_size):
    """Mean over the windows [floor(i L / O), ceil((i + 1) L / O)) of the last dim."""
    return _adaptive(input, 1, output_size, _w.ADAPTIVE_AVG, "adaptive_avg_pool1d")[0]


def adaptive_avg_pool2d(input, output_size):
    """Adaptive mean pooling of the last 2 dims (None in output_size keeps that dim)."""
    return _adaptive(input, 2, output_size, _w.ADAPTIVE_AVG, "adaptive_avg_pool2d")[0]


def adaptive_avg_pool3d(input, output_size):
    """Adaptive mean pooling of the last 3 dims."""
    return _adaptive(input, 3, output_size, _w.ADAPTIVE_AVG, "adaptive_avg_pool3d")[0]


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Adaptive max pooling of the last dim."""
    y, idx = _adaptive(input, 1, output_size, _w.ADAPTIVE_MAX, "adaptive_max_pool1d")
    return (y, idx) if return_indices else y


def adaptive_max_pool1d_with_indices(input, output_size):
    """torch.adaptive_max_pool1d: (values, indices), always both."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling of the last 2 dims."""
    y, idx = _adaptive(input, 2, output_size, _w.ADAPTIVE_MAX, "adaptive_max_pool2d")
    return (y, idx) if return_indices else y


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Adaptive max pooling of the last 3 dims."""
    y, idx = _adaptive(input, 3, output_size, _w.ADAPTIVE_MAX, "adaptive_max_pool3d")
    return (y, idx) if return_indices else y


def _lp_pool(input, n, norm_type, kernel_size, stride, ceil_mode):
    k = _tuple(kernel_size, n)
    pooled = _avg_pool(input.pow(norm_type), n, k, stride, 0, ceil_mode, True, None)
    size = 1
    for v in k:
        size *= v
    return (pooled.sign() * pooled.abs().relu()).mul(size).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over the window of x^p)^(1/p) along the last dim."""
    return _lp_pool(input, 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over the window of x^p)^(1/p) over the last 2 dims."""
    return _lp_pool(input, 2, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over the window of x^p)^(1/p) over the last 3 dims."""
    return _lp_pool(input, 3, norm_type, kernel_size, stride, ceil_mode)


def _unpool_size(input, n, kernel_size, stride, padding, output_size):
    k = _tuple(kernel_size, n)
    s = _tuple(stride, n, "stride") if stride is not None else k
    p = _tuple(padding, n, "padding")
    default = tuple((input.shape[-n + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(n))
    if output_size is None:
        return default
    size = tuple(int(v) for v in output_size)[-n:]
    if len(size) != n:
        raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, but it has a "
                         f"length of '{len(tuple(output_size))}'")
    for i in range(n):
        lo, hi = default[i] - s[i], default[i] + s[i]
        if not lo < size[i] < hi:
            raise ValueError(f'invalid output_size "{list(size)}" (dim {i} must be between {lo} and {hi})')
    return size


def _max_unpool(input, indices, n, kernel_size, stride, padding, output_size):
    if indices.dtype is not dt.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: {indices.dtype.pytorch_name}"
                           if hasattr(indices.dtype, "pytorch_name") else "elements in indices should be type int64")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: {list(indices.shape)}")
    size = _unpool_size(input, n, kernel_size, stride, padding, output_size)
    lead = tuple(input.shape[:-n])
    plane = 1
    for v in size:
        plane *= v
    flat = input.reshape(*lead, -1)
    out = _creation.zeros(lead + (plane,), dtype=input.dtype, device=input.device)
    out = out.scatter(-1, indices.reshape(*lead, -1), flat)
    return out.reshape(lead + size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool1d: values placed at their indices, zeros elsewhere."""
    return _max_unpool(input, indices, 1, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool2d: values placed at their flat h * W + w indices, zeros elsewhere."""
    return _max_unpool(input, indices, 2, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool3d."""
    return _max_unpool(input, indices, 3, kernel_size, stride, padding, output_size)


# ---- modules -----------------------------------------------------------------------------------
class _MaxPoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return _max_pool(input, self.dims, self.kernel_size, self.stride, self.padding, self.dilation,
                         self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max pooling over the last dim."""
    dims = 1


class MaxPool2d(_MaxPoolNd):
    """Max pooling over the last 2 dims."""
    dims = 2


class MaxPool3d(_MaxPoolNd):
    """Max pooling over the last 3 dims."""
    dims = 3


class AvgPool1d(Module):
    """Average pooling over the last dim."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = _tuple(kernel_size, 1)
        self.stride = _tuple(stride if stride is not None else kernel_size, 1)
        self.padding = _tuple(padding, 1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return _avg_pool(input, self.dims, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                         self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """Average pooling over the last 2 dims."""
    dims = 2


class AvgPool3d(_AvgPoolNd):
    """Average pooling over the last 3 dims."""
    dims = 3


class _AdaptivePoolNd(Module):
    dims, mode, name = 2, _w.ADAPTIVE_AVG, "adaptive_avg_pool2d"

    def __init__(self, output_size, return_indices=None):
        super().__init__()
        self.output_size = output_size
        if return_indices is not None:
            self.return_indices = return_indices

    def forward(self, input):
        y, idx = _adaptive(input, self.dims, self.output_size, self.mode, self.name)
        return (y, idx) if getattr(self, "return_indices", False) else y

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Adaptive average pooling over the last dim."""
    dims, mode, name = 1, _w.ADAPTIVE_AVG, "adaptive_avg_pool1d"

    def __init__(self, output_size):
        super().__init__(output_size)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Adaptive average pooling over the last 2 dims."""
    dims, mode, name = 2, _w.ADAPTIVE_AVG, "adaptive_avg_pool2d"

    def __init__(self, output_size):
        super().__init__(output_size)


class AdaptiveAvgPool3d(_AdaptivePoolNd):
    """Adaptive average pooling over the last 3 dims."""
    dims, mode, name = 3, _w.ADAPTIVE_AVG, "adaptive_avg_pool3d"

    def __init__(self, output_size):
        super().__init__(output_size)


class AdaptiveMaxPool1d(_AdaptivePoolNd):
    """Adaptive max pooling over the last dim."""
    dims, mode, name = 1, _w.ADAPTIVE_MAX, "adaptive_max_pool1d"

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size, return_indices)


class AdaptiveMaxPool2d(_AdaptivePoolNd):
    """Adaptive max pooling over the last 2 dims."""
    dims, mode, name = 2, _w.ADAPTIVE_MAX, "adaptive_max_pool2d"

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size, return_indices)


class AdaptiveMaxPool3d(_AdaptivePoolNd):
    """Adaptive max pooling over the last 3 dims."""
    dims, mode, name = 3, _w.ADAPTIVE_MAX, "adaptive_max_pool3d"

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size, return_indices)


class _LPPoolNd(Module):
    dims = 2

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return _lp_pool(input, self.dims, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling over the last dim."""
    dims = 1


class LPPool2d(_LPPoolNd):
    """Power-average pooling over the last 2 dims."""
    dims = 2


class LPPool3d(_LPPoolNd):
    """Power-average pooling over the last 3 dims."""
    dims = 3


class _MaxUnpoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _tuple(kernel_size, self.dims)
        self.stride = _tuple(stride if stride is not None else kernel_size, self.dims)
        self.padding = _tuple(padding, self.dims)

    def forward(self, input, indices, output_size=None):
        return _max_unpool(input, indices, self.dims, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Inverse of MaxPool1d given its indices."""
    dims = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Inverse of MaxPool2d given its indices."""
    dims = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Inverse of MaxPool3d given its indices."""
    dims = 3
