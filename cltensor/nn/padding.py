"""F.pad (constant, reflect, replicate, circular) and the padding modules.

Reflect and replicate padding are the window kernel family's (cltensor/launch/window.py): one kernel
copies each output from the input element it reflects or clamps to, and the backward gathers onto
each input element the gradients of the outputs that copied it. Circular padding is built from
views (narrow) joined by one cat per padded dim, as PyTorch composes it too.
"""
from __future__ import annotations

from .. import dtypes as dt
from ..ops import creation as _creation
from ..ops import joins as _joins
from ..ops import window as _w
from .module import Module

_AXES = "WHD"
_MODES = ("constant", "reflect", "replicate", "circular")
_SUPPORTED = ("Supported combinations for non-constant padding:\n"
              "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
              "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
              "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def _crop(x, pad):
    """x narrowed where a pad entry is negative (negative padding removes elements)."""
    for i in range(len(pad) // 2):
        d = x.dim() - 1 - i
        lo, hi = -min(pad[2 * i], 0), -min(pad[2 * i + 1], 0)
        if lo or hi:
            if x.size(d) - lo - hi < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
            x = x.narrow(d, lo, x.size(d) - lo - hi)
    return x


def _pad_constant(input, pad, value):
    x = _crop(input, pad)
    shape = list(x.shape)
    region = [slice(None)] * x.dim()
    for i in range(len(pad) // 2):
        d = input.dim() - 1 - i
        lo, hi = max(pad[2 * i], 0), max(pad[2 * i + 1], 0)
        region[d] = slice(lo, lo + shape[d])
        shape[d] += lo + hi
    out = _creation.full(shape, 0 if value is None else value, dtype=input.dtype, device=input.device)
    out[tuple(region)] = x
    return out


def _pad_by_window(input, pad, mode):
    """Reflect/replicate through the window kernels ((N,) C, *padded dims)."""
    dims = len(pad) // 2
    if input.dtype is dt.bool_:
        kernel = f"{'reflection' if mode == 'reflect' else 'replication'}_pad{dims}d"
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')
    return _w.pad(input, _w.Pad(mode, tuple(pad[2 * i] for i in reversed(range(dims))),
                                tuple(pad[2 * i + 1] for i in reversed(range(dims)))))


def _pad_circular(input, pad):
    """Circular padding crops negative entries first (PyTorch's order), then wraps around."""
    x = _crop(input, pad)
    for i in range(len(pad) // 2):
        d = x.dim() - 1 - i
        lo, hi, n = max(pad[2 * i], 0), max(pad[2 * i + 1], 0), x.size(d)
        pieces = [x.narrow(d, n - lo, lo)] if lo else []
        pieces += [x] + ([x.narrow(d, 0, hi)] if hi else [])
        if len(pieces) > 1:
            x = _joins.cat(pieces, d)
    return x


def _check_non_constant(input, pad, mode):
    dims = len(pad) // 2
    if dims > 3 or input.dim() not in (dims + 1, dims + 2):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {input.dim()}D input tensor.\n"
                                  + _SUPPORTED)
    for i in range(dims):
        d = input.dim() - 1 - i
        lo, hi, n = pad[2 * i], pad[2 * i + 1], input.size(d)
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {d} of input {list(input.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode != "circular" and n + lo + hi < 0:
            raise RuntimeError(f"input ({_AXES[i]}: {n}) is too small. Calculated output {_AXES[i]}: {n + lo + hi}")
        if mode == "circular" and n + min(lo, 0) + min(hi, 0) <= 0 < n:
            raise RuntimeError("Negative padding value is resulting in an empty dimension")


def pad(input, pad, mode="constant", value=None):
    """Pads the last len(pad) // 2 dims of input: pad = (last_lo, last_hi, second_last_lo, ...).

    mode: 'constant' (value, default 0; any number of dims), 'reflect', 'replicate' or 'circular'
    (the last 1-3 dims of a batched or unbatched input). Negative entries crop. Example:
    ``pad(x, (1, 1, 2, 0), mode='reflect')`` adds one column each side and two rows on top.
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if mode not in _MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant" and value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if len(pad) // 2 > input.dim():
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {input.dim()}")
    if mode == "constant":
        return _pad_constant(input, pad, value)
    _check_non_constant(input, pad, mode)
    if mode != "circular":
        return _pad_by_window(input, pad, mode)
    x = _pad_circular(input, pad)
    return x if x is not input else x.clone()


def constant_pad_nd(input, pad, value=0):
    """torch.constant_pad_nd: pad(input, pad, 'constant', value)."""
    return globals()["pad"](input, pad, "constant", value)


def _ntuple(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class _PadNd(Module):
    mode = "constant"
    dims = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self.dims)

    def forward(self, input):
        return pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with a constant value."""
    dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last 2 dims with a constant value."""
    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last 3 dims with a constant value."""
    dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pads the last dim with zeros."""
    dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads the last 2 dims with zeros."""
    dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last 3 dims with zeros."""
    dims = 3


class ReflectionPad1d(_PadNd):
    """Pads the last dim with its reflection (the border element is not repeated)."""
    mode, dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Pads the last 2 dims with their reflection."""
    mode, dims = "reflect", 2


class ReflectionPad3d(_PadNd):
    """Pads the last 3 dims with their reflection."""
    mode, dims = "reflect", 3


class ReplicationPad1d(_PadNd):
    """Pads the last dim by repeating its border elements."""
    mode, dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Pads the last 2 dims by repeating their border elements."""
    mode, dims = "replicate", 2


class ReplicationPad3d(_PadNd):
    """Pads the last 3 dims by repeating their border elements."""
    mode, dims = "replicate", 3


class CircularPad1d(_PadNd):
    """Pads the last dim by wrapping around."""
    mode, dims = "circular", 1


class CircularPad2d(_PadNd):
    """Pads the last 2 dims by wrapping around."""
    mode, dims = "circular", 2


class CircularPad3d(_PadNd):
    """Pads the last 3 dims by wrapping around."""
    mode, dims = "circular", 3
