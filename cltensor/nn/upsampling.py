"""F.interpolate and the Upsample modules.

Resampling is separable: each resized dim is one gather (index_select) per filter tap over a
table of source rows, weighted by a per-row coefficient tensor and summed. The tables are
geometry (one entry per output row), computed on the host with PyTorch's source-index rules in
the input's compute precision; the data never leaves the device, and the gradients come from
index_select's backward (an index_add onto the source rows).
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as dt
from ..ops import creation as _creation
from .module import Module

_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_INTERPOLATING = "linear | bilinear | bicubic | trilinear"
_CUBIC_A = -0.75


def _scales(input, n, size, scale_factor, recompute_scale_factor):
    """(output sizes, the scale factors PyTorch's kernels receive: None where computed from sizes)."""
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * n
        if len(sizes) != n:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(input.shape[2:])} and output size of {list(sizes)}. "
                             f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                             f"(o1, o2, ...,oK) format.")
        return tuple(int(s) for s in sizes), (None,) * n
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * n
    if len(factors) != n:
        raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                         f"with spatial dimensions of {list(input.shape[2:])} and scale_factor of shape "
                         f"{list(factors)}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                         f"scale_factor in (s1, s2, ...,sK) format.")
    sizes = tuple(math.floor(float(input.shape[2 + i]) * float(f)) for i, f in enumerate(factors))
    return sizes, ((None,) * n if recompute_scale_factor else tuple(float(f) for f in factors))


def _scale(in_size, out_size, align_corners, factor, ftype):
    """PyTorch's area_pixel_compute_scale, in the compute precision ftype."""
    if align_corners:
        return ftype((in_size - 1) / (out_size - 1)) if out_size > 1 else ftype(0)
    return ftype(1.0 / factor) if factor is not None and factor > 0 else ftype(in_size / out_size)


def _nearest_taps(in_size, out_size, factor, exact, ftype):
    scale = ftype(1.0 / factor) if factor is not None and factor > 0 else ftype(in_size / out_size)
    dst = np.arange(out_size, dtype=ftype) + (ftype(0.5) if exact else ftype(0))
    src = np.minimum(np.floor(dst * scale).astype(np.int64), in_size - 1)
    return [(src, None)]


def _linear_taps(in_size, out_size, align_corners, factor, ftype):
    scale = _scale(in_size, out_size, align_corners, factor, ftype)
    dst = np.arange(out_size, dtype=ftype)
    src = scale * dst if align_corners else np.maximum(scale * (dst + ftype(0.5)) - ftype(0.5), ftype(0))
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    i1 = i0 + (i0 < in_size - 1)
    w1 = (src - i0.astype(ftype)).astype(ftype)
    return [(i0, ftype(1) - w1), (i1, w1)]


def _cubic_taps(in_size, out_size, align_corners, factor, ftype):
    scale = _scale(in_size, out_size, align_corners, factor, ftype)
    dst = np.arange(out_size, dtype=ftype)
    src = scale * dst if align_corners else scale * (dst + ftype(0.5)) - ftype(0.5)
    base = np.floor(src)
    t = (src - base).astype(ftype)
    a = ftype(_CUBIC_A)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    base = base.astype(np.int64)
    return [(np.clip(base + k - 1, 0, in_size - 1), w.astype(ftype)) for k, w in enumerate(weights)]


def _resample_dim(x, d, taps):
    """sum over taps of x.index_select(d, rows) * weight (weights broadcast along dim d)."""
    out = None
    trailing = x.dim() - 1 - d
    for rows, weight in taps:
        picked = x.index_select(d, _creation.tensor(rows, dtype=dt.int64, device=x.device))
        if weight is not None:
            w = _creation.tensor(weight, dtype=x.dtype, device=x.device).reshape((-1,) + (1,) * trailing)
            picked = picked * w
        out = picked if out is None else out + picked
    return out


def _kernel_name(mode, n):
    """The PyTorch kernel whose NotImplementedError names a dtype it lacks."""
    if mode in ("nearest", "nearest-exact"):
        return "upsample_nearest2d_channels_last" if n == 2 else "compute_indices_weights_nearest"
    if mode == "bilinear":
        return "upsample_bilinear2d_channels_last"
    return "compute_indices_weights_cubic" if mode == "bicubic" else "compute_indices_weights_linear"


def _check_dtype(input, mode, n):
    """Floating inputs for every mode; uint8 for the nearest modes, as PyTorch. (PyTorch's fixed-point
    uint8 bilinear/bicubic path is not reproduced: those raise here.)"""
    d = input.dtype
    if d.is_floating_point or mode == "area" or (d is dt.uint8 and mode in ("nearest", "nearest-exact")):
        return
    word = input.type().split(".")[-1][:-len("Tensor")]
    if d is dt.uint8 and mode in ("bilinear", "bicubic"):
        raise NotImplementedError(f"interpolate(mode='{mode}') on uint8 input is not implemented in cltensor")
    raise NotImplementedError(f'"{_kernel_name(mode, n)}" not implemented for \'{word}\'')


def _check_mode(input, mode, align_corners, antialias):
    n = input.dim() - 2
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(f"align_corners option can only be set with the interpolating modes: {_INTERPOLATING}")
    elif mode in _MODE_DIMS:
        if n != _MODE_DIMS[mode]:
            raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {_MODE_DIMS[mode] + 2}D input")
    else:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                                  f"for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    if n < 1 or n > 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                                  f"for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    if antialias:
        raise NotImplementedError("interpolate(antialias=True) is not implemented in cltensor")
    return n


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resizes the spatial dims of (N, C, *spatial) input, as torch.nn.functional.interpolate.

    Example: ``interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)``.
    """
    n = _check_mode(input, mode, align_corners, antialias)
    sizes, factors = _scales(input, n, size, scale_factor, recompute_scale_factor)
    if any(s <= 0 for s in sizes):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(str(v) for v in input.shape[2:])}) and output "
                           f"({', '.join(str(v) for v in sizes)})")
    _check_dtype(input, mode, n)
    if mode == "area":
        from .pooling import _adaptive
        from ..ops import window as _w
        return _adaptive(input, n, sizes, _w.ADAPTIVE_AVG, f"adaptive_avg_pool{n}d")[0]
    ftype = np.float64 if input.dtype is dt.float64 else np.float32
    narrow = input.dtype.is_floating_point and input.dtype.itemsize == 2 and mode not in ("nearest", "nearest-exact")
    x = input.float() if narrow else input  # half/bfloat16 blend in float and round once, as PyTorch's opmath
    for i in reversed(range(n)):  # the last dim first, as PyTorch's kernels blend rows before columns
        d = 2 + i
        in_size = input.shape[d]
        if mode in ("nearest", "nearest-exact"):
            taps = _nearest_taps(in_size, sizes[i], factors[i], mode == "nearest-exact", ftype)
        elif mode == "bicubic":
            taps = _cubic_taps(in_size, sizes[i], bool(align_corners), factors[i], ftype)
        else:
            taps = _linear_taps(in_size, sizes[i], bool(align_corners), factors[i], ftype)
        x = _resample_dim(x, d, taps)
    return x.to(input.dtype) if narrow else x


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(mode='nearest')."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(mode='bilinear', align_corners=True)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


class Upsample(Module):
    """Resizes its input with interpolate's rules."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """2-d nearest-neighbour upsampling."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """2-d bilinear upsampling with align_corners=True."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
