"""Pooling, interpolation and reflect/replicate padding over the window kernel family (kernels launched
by cltensor/launch/window.py, which also defines the geometry descriptions Window, Resize and Pad):
results allocated in the layout PyTorch gives, empty tensors, and autograd (double backward
included), so that callers (nn.functional's pooling, interpolate and pad) only validate arguments
and choose the geometry.
"""
from __future__ import annotations

from .. import launch
from .. import _memory_format as _mf
from .. import dtypes as dt
from ..autograd import graph
from ..launch.window import (ADAPTIVE_AVG, ADAPTIVE_MAX, AVG, CUBIC, LINEAR, MAX, NEAREST,
                             NEAREST_EXACT, Pad, Resize, Window)
from .shape import empty_in_format


def pool_forward(x, window: Window):
    """(out, indices) of pooling x (N, C, *spatial); indices (int64) only for the max kinds."""
    n_, c_ = x.shape[0], x.shape[1]
    out = launch.base.empty((n_, c_) + tuple(window.out), x.dtype, x.device)
    indices = launch.base.empty(out.shape, dt.int64, x.device) if window.mode in (MAX, ADAPTIVE_MAX) else None
    if out.numel():
        launch.window.pool(x, out, indices, window)
    return out, indices


def pool_backward(grad, in_shape, indices, window: Window):
    """The gradient of pooling with respect to its input, gathered per input element."""
    grad_in = launch.base.empty(in_shape, grad.dtype, grad.device)
    if grad_in.numel() == 0:
        return grad_in
    if grad.numel() == 0:
        return grad_in.zero_()
    launch.window.pool_backward(grad, indices, grad_in, window)
    return grad_in


_NODE_NAMES = {MAX: "MaxPool{}DWithIndicesBackward0", AVG: "AvgPool{}DBackward0",
               ADAPTIVE_AVG: "AdaptiveAvgPool{}DBackward0", ADAPTIVE_MAX: "AdaptiveMaxPool{}DBackward0"}


def _pool_backward_vjp(gg, out, grad, window, indices):
    """The gradient of pool_backward with respect to its upstream gradient (double backward): the
    pooling itself for averages (a linear map's adjoint's adjoint), a gather through the indices for max."""
    if indices is None:
        return pool_forward(gg, window)[0]
    n, c = gg.shape[0], gg.shape[1]
    return gg.reshape(n, c, -1).gather(2, indices.reshape(n, c, -1)).reshape(indices.shape)


def _pool_vjp(g, out, x, window, indices):
    grad_in = pool_backward(g, tuple(x.shape), indices, window)
    name = _NODE_NAMES[window.mode].format(len(window.out)) + "Backward0"
    return graph.record(name.replace("Backward0Backward0", "BackwardBackward0"), _pool_backward_vjp, [g], grad_in,
                        {"window": window, "indices": indices}, save=frozenset())


def pool(x, window: Window):
    """Pooling with autograd: (out, indices or None); x is (N, C, *spatial). A channels-last x gives
    channels-last results where PyTorch's do: max pooling, and every 2-d pooling (its 3-d average and
    adaptive pools return contiguous results)."""
    out, indices = pool_forward(x, window)
    name = _NODE_NAMES[window.mode].format(len(window.out))
    graph.record(name, _pool_vjp, [x], out, {"window": window, "indices": indices}, save=frozenset({0}))
    if window.mode != MAX and len(window.out) != 2:
        return out, indices
    return in_layout_of(out, x), (in_layout_of(indices, x) if indices is not None else None)


def output_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size along one dim (the last window must start inside input or left padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


# ---- memory layout -------------------------------------------------------------------------------
def is_channels_last(t) -> bool:
    return _mf.is_channels_last(t._shape, t._strides)


def empty_in_layout(shape, dtype, device, channels_last):
    """An uninitialised (N, C, *spatial) tensor, laid out channels-last when asked."""
    fmt = (_mf.channels_last if len(shape) == 4 else _mf.channels_last_3d) if channels_last else None
    return empty_in_format(shape, dtype, device, fmt)


def in_layout_of(y, x):
    """y (computed contiguous) in x's memory format: one copy when x is channels-last (differentiable)."""
    if y.dim() != x.dim() or not is_channels_last(x) or is_channels_last(y):
        return y
    return y.contiguous(memory_format=_mf.channels_last if y.dim() == 4 else _mf.channels_last_3d)


# ---- interpolation -------------------------------------------------------------------------------
_RESIZE_NAMES = {NEAREST: "Nearest", NEAREST_EXACT: "NearestExact", CUBIC: "Bicubic"}
_LINEAR_NAMES = {1: "Linear", 2: "Bilinear", 3: "Trilinear"}


def _resize_node_name(resize: Resize):
    n = len(resize.out)
    kind = _LINEAR_NAMES[n] if resize.kind == LINEAR else _RESIZE_NAMES[resize.kind]
    return f"Upsample{kind}{n}DBackward0"


def resize_forward(x, resize: Resize):
    """x (N, C, *spatial) interpolated to resize.out; channels-last in, channels-last out."""
    shape = tuple(x.shape[:2]) + tuple(resize.out)
    out = empty_in_layout(shape, x.dtype, x.device, is_channels_last(x))
    if out.numel():
        launch.window.interpolate(x, out, resize)
    return out


def resize_backward(grad, in_shape, resize: Resize):
    """The gradient of an interpolation with respect to its input, gathered per input element."""
    grad_in = launch.base.empty(in_shape, grad.dtype, grad.device)
    if grad_in.numel() == 0:
        return grad_in
    if grad.numel() == 0:
        return grad_in.zero_()
    if resize.kind == CUBIC and tuple(in_shape[2:]) == tuple(resize.out):
        # PyTorch's bicubic backward copies when no size changes, even where a scale factor made
        # the forward blend (so its gradient is not the forward's adjoint there): reproduced
        grad_in.copy_(grad)
        return grad_in
    launch.window.interpolate_backward(grad, grad_in, resize)
    return grad_in


def _resize_backward_vjp(gg, out, grad, resize):
    """The backward is linear in the upstream gradient: its adjoint is the interpolation itself."""
    return resize_forward(gg, resize)


def _resize_vjp(g, out, x, resize):
    grad_in = resize_backward(g, tuple(x.shape), resize)
    return graph.record(_resize_node_name(resize).replace("Backward0", "BackwardBackward0"), _resize_backward_vjp, [g],
                        grad_in, {"resize": resize}, save=frozenset())


def resize(x, resize: Resize):
    """Interpolation with autograd; x is (N, C, *spatial)."""
    out = resize_forward(x, resize)
    return graph.record(_resize_node_name(resize), _resize_vjp, [x], out, {"resize": resize}, save=frozenset({0}))


# ---- reflect and replicate padding ----------------------------------------------------------------
def _pad_node_name(padding: Pad):
    return f"{'Reflection' if padding.mode == 'reflect' else 'Replication'}Pad{len(padding.front)}DBackward0"


def pad_forward(x, padding: Pad):
    """x ((N,) C, *spatial) padded (contiguous result)."""
    nd = len(padding.front)
    out = launch.base.empty(tuple(x.shape[:-nd]) + padding.out(x.shape[-nd:]), x.dtype, x.device)
    if out.numel():
        launch.window.pad(x, out, padding)
    return out


def pad_backward(grad, in_shape, padding: Pad):
    """The gradient of a padding with respect to its input, gathered per input element."""
    grad_in = launch.base.empty(in_shape, grad.dtype, grad.device)
    if grad_in.numel() == 0:
        return grad_in
    if grad.numel() == 0:
        return grad_in.zero_()
    launch.window.pad_backward(grad, grad_in, padding)
    return grad_in


def _pad_backward_vjp(gg, out, grad, padding):
    return pad_forward(gg, padding)


def _pad_vjp(g, out, x, padding):
    grad_in = pad_backward(g, tuple(x.shape), padding)
    return graph.record(_pad_node_name(padding).replace("Backward0", "BackwardBackward0"), _pad_backward_vjp, [g],
                        grad_in, {"padding": padding}, save=frozenset())


def pad(x, padding: Pad):
    """Reflect/replicate padding with autograd; x is (N, C, *spatial) or (C, *spatial)."""
    out = pad_forward(x, padding)
    return graph.record(_pad_node_name(padding), _pad_vjp, [x], out, {"padding": padding}, save=frozenset({0}))
