"""F.interpolate and the Upsample modules: PyTorch's argument checks and messages; the resampling
itself (forward and backward) is the window kernel family's (cltensor/launch/window.py), which
reproduces PyTorch's source-index rules; mode 'area' is adaptive average pooling, as in PyTorch.
"""
from __future__ import annotations

import math

from .. import dtypes as dt
from ..ops import window as _w
from .module import Module
from .pooling import _adaptive

_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_INTERPOLATING = "linear | bilinear | bicubic | trilinear"
_KINDS = {"nearest": _w.NEAREST, "nearest-exact": _w.NEAREST_EXACT, "linear": _w.LINEAR, "bilinear": _w.LINEAR,
          "trilinear": _w.LINEAR, "bicubic": _w.CUBIC}


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
    if d.is_floating_point or (d is dt.uint8 and mode in ("nearest", "nearest-exact")):
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


def _check_sizes(input, sizes):
    """PyTorch's upsample_{1,2,3}d_common_check."""
    spatial = tuple(input.shape[2:])
    if any(v <= 0 for v in spatial + tuple(sizes)):
        def labelled(values):
            return ", ".join(f"{axis}: {v}" for axis, v in zip("DHW"[3 - len(values):], values))
        joint = " and output " if len(sizes) == 1 else " output "
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input ({labelled(spatial)})"
                           f"{joint}({labelled(sizes)})")
    if input.numel() == 0 and input.shape[1] == 0:
        raise RuntimeError(f"Non-empty {input.dim()}D data tensor expected but got a tensor with sizes "
                           f"{list(input.shape)}")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resizes the spatial dims of (N, C, *spatial) input, as torch.nn.functional.interpolate.

    Example: ``interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)``.
    """
    n = _check_mode(input, mode, align_corners, antialias)
    sizes, factors = _scales(input, n, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        return _adaptive(input, n, sizes, _w.ADAPTIVE_AVG, f"adaptive_avg_pool{n}d")[0]
    _check_sizes(input, sizes)
    _check_dtype(input, mode, n)
    resize = _w.Resize(_KINDS[mode], sizes, factors, bool(align_corners))
    return _w.resize(input, resize)


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
