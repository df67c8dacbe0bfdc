"""Launcher of the window kernel family (kernels_cl/window.cl.mako): pooling and interpolation,
forward and backward.

A pooling is described by a Window: the pooling kind and per spatial dim (1 to 3 of them) the
output size, kernel, stride, padding and dilation. One program per dtype serves every kind and
shape; the geometry travels as kernel arguments. A reflect or replicate padding is a Pad (mode and
rank template parameters). An interpolation is described by a Resize: the
kind and the number of spatial dims are template parameters (one program per kind, rank and
dtype), the sizes and scales kernel arguments. Autograd nodes are recorded here too, so that
callers (nn.functional's pooling and interpolate) only validate arguments and choose the geometry.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import codegen, launch
from ..launch import signature as sg
from ..launch.signature import Signature
from .. import _memory_format as _mf
from .. import dtypes as dt
from ..autograd import graph
from .shape import empty_in_format

MAX, AVG, ADAPTIVE_AVG, ADAPTIVE_MAX = 0, 1, 2, 3
_INT_LIMIT = 2 ** 31 - 1


@dataclass(frozen=True)
class Window:
    """Pooling geometry over the trailing spatial dims; tuples have one entry per spatial dim."""
    mode: int
    out: tuple
    kernel: tuple = None
    stride: tuple = None
    padding: tuple = None
    dilation: tuple = None
    count_include_pad: bool = True
    divisor_override: int = 0

    def args(self, in_spatial):
        """The GEOM_ARGS of the kernels (spatial dims padded in front to three)."""
        lead = 3 - len(in_spatial)
        n = len(in_spatial)

        def three(values, fill):
            return (fill,) * lead + tuple(values if values is not None else (fill,) * n)
        return [*three(in_spatial, 1), *three(self.out, 1), *three(self.kernel, 1), *three(self.stride, 1),
                *three(self.padding, 0), *three(self.dilation, 1), self.mode, int(bool(self.count_include_pad)),
                int(self.divisor_override or 0)]


def _template_params(dtype, interp=None, nd=0, pad=None):
    """Every parameter window.cl.mako names (its pooling, interpolation and padding parts alike)."""
    integral = not dtype.is_floating_point and dtype is not dt.bool_
    dtype_min = str(int(np.iinfo(dtype.np).min)) + ("L" if dtype.itemsize == 8 else "") if integral else "0"
    return dict(dtype=dtype, dtype_min=dtype_min, interp=interp, nd=nd, pad=pad)


def _kernels(backend, dtype):
    key = ("window", dtype)
    fwd = backend.kernels.get(key + ("forward",))
    if fwd is None:
        signatures = _window_signatures(dtype)
        fwd = codegen.kernel(backend, key + ("forward",), "window.cl.mako", "window_forward", signatures,
                             **_template_params(dtype))
        codegen.kernel(backend, key + ("backward",), "window.cl.mako", "window_backward", signatures,
                       **_template_params(dtype))
    return fwd, backend.kernels[key + ("backward",)]


def _window_signatures(dtype):
    """Both pooling kernels take the Geometry's arguments (see Geometry.args) after the work-item count."""
    geometry = [sg.sizes("int", "n", "C"), *[sg.dims("int", name, 3) for name in "IOKSPD"],
                sg.sizes("int", "mode", "count_include_pad", "divisor_override")]
    return {"window_forward": Signature(*geometry, _batched("x", dtype, "x_off", "xs", 3),
                                        sg.buffer("out", dtype.c, const=False),
                                        sg.buffer("indices", "long", const=False)),
            "window_backward": Signature(*geometry, _batched("grad", dtype, "g_off", "gs", 3),
                                         sg.buffer("indices", "long"), sg.buffer("grad_in", dtype.c, const=False))}


def _batched(name, dtype, offset, prefix, nd, const=True):
    """An (N, C, *spatial) operand: buffer, offset, then its N, C and nd spatial strides (prefixN, prefixC,
    prefix0 ...)."""
    return sg.tensor(name, dtype.c, "int", nd, const=const, offset=offset,
                     strides=[prefix + "N", prefix + "C"] + [f"{prefix}{d}" for d in range(nd)])


def _batch_strides(t):
    """(N stride, C stride, spatial strides padded in front to three) of an (N, C, *spatial) tensor."""
    st = t._strides
    return [st[0], st[1]] + [0] * (5 - t.dim()) + list(st[2:])


def _check_tensors_in_range(what, *tensors):
    """The kernels index in 32-bit ints (cheaper divisions): refuse tensors that would overflow them."""
    for t in tensors:
        if t.numel() and max(abs(s) * (n - 1) for s, n in zip(t._strides, t._shape)) + t._offset >= _INT_LIMIT:
            raise RuntimeError(f"{what} of a tensor of shape {list(t.shape)} exceeds the 32-bit index range")


def _check_int_range(window, in_spatial, *tensors):
    """The kernels index in 32-bit ints (cheaper divisions): refuse what would overflow them."""
    if any(o * i >= _INT_LIMIT for o, i in zip(window.out, in_spatial)):
        raise RuntimeError(f"pooling {list(in_spatial)} to {list(window.out)} exceeds the 32-bit index range")
    _check_tensors_in_range("pooling", *tensors)


def pool_forward(x, window: Window):
    """(out, indices) of pooling x (N, C, *spatial); indices (int64) only for the max kinds."""
    n_, c_ = x.shape[0], x.shape[1]
    out = launch.base.empty((n_, c_) + tuple(window.out), x.dtype, x.device)
    wants_indices = window.mode in (MAX, ADAPTIVE_MAX)
    indices = launch.base.empty(out.shape if wants_indices else (1,), dt.int64, x.device)
    n = out.numel()
    if n == 0:
        return out, (indices if wants_indices else None)
    _check_int_range(window, x.shape[2:], x, out)
    backend = x.device.backend
    fwd, _ = _kernels(backend, x.dtype)
    args = [n, c_] + window.args(x.shape[2:])
    args += [x._storage.buffer, x._offset, *_batch_strides(x), out._storage.buffer, indices._storage.buffer]
    launch.base.enqueue(backend, fwd, n, args)
    return out, (indices if wants_indices else None)


def pool_backward(grad, in_shape, indices, window: Window):
    """The gradient of pooling with respect to its input, gathered per input element."""
    grad_in = launch.base.empty(in_shape, grad.dtype, grad.device)
    n = grad_in.numel()
    if n == 0:
        return grad_in
    if grad.numel() == 0:
        return grad_in.zero_()
    _check_int_range(window, in_shape[2:], grad, grad_in)
    backend = grad.device.backend
    _, bwd = _kernels(backend, grad.dtype)
    if indices is None:
        indices = launch.base.empty((1,), dt.int64, grad.device)
    args = [n, in_shape[1]] + window.args(in_shape[2:])
    args += [grad._storage.buffer, grad._offset, *_batch_strides(grad), indices._storage.buffer,
             grad_in._storage.buffer]
    launch.base.enqueue(backend, bwd, n, args)
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
NEAREST, NEAREST_EXACT, LINEAR, CUBIC = "nearest", "nearest_exact", "linear", "cubic"
_RESIZE_NAMES = {NEAREST: "Nearest", NEAREST_EXACT: "NearestExact", CUBIC: "Bicubic"}
_LINEAR_NAMES = {1: "Linear", 2: "Bilinear", 3: "Trilinear"}


@dataclass(frozen=True)
class Resize:
    """An interpolation of the trailing spatial dims: kind, output sizes, and the scale factors
    PyTorch's kernels receive (None per dim where the scale comes from the sizes)."""
    kind: str
    out: tuple
    factors: tuple
    align_corners: bool = False

    def scales(self, in_spatial, ftype):
        """PyTorch's area_pixel_compute_scale per dim, in precision ftype (numpy float type)."""
        result = []
        for size, out, factor in zip(in_spatial, self.out, self.factors):
            if self.align_corners:
                result.append(ftype(size - 1) / ftype(out - 1) if out > 1 else ftype(0))
            elif factor is not None and factor > 0:
                result.append(ftype(1.0 / factor))
            else:
                result.append(ftype(size) / ftype(out))
        return result

    def node_name(self):
        n = len(self.out)
        return f"Upsample{_RESIZE_NAMES.get(self.kind) or _LINEAR_NAMES[n]}{n}DBackward0"


def _resize_kernels(backend, dtype, kind, nd):
    """(forward, backward, forward's scale type, backward's): PyTorch's nearest_idx rule (its 2-d
    nearest forward and every nearest backward) computes the scale in float, the rest in opmath."""
    key = ("window_interp", dtype, kind, nd)
    opmath = np.float64 if dtype is dt.float64 else np.float32
    nearest = kind in (NEAREST, NEAREST_EXACT)
    fwd_scale = np.float32 if nearest and nd == 2 else opmath
    bwd_scale = np.float32 if nearest else opmath
    params = _template_params(dtype, kind, nd)

    def geometry(scale_type):
        scale_c = "float" if scale_type is np.float32 else "double"
        return [sg.sizes("int", "n", "C"),
                *[sg.sizes("int", f"I{d}", f"O{d}") + sg.sizes(scale_c, f"scale{d}") for d in range(nd)],
                sg.sizes("int", "align")]
    signatures = {"interp_forward": Signature(*geometry(fwd_scale), _batched("x", dtype, "x_off", "xs", nd),
                                              sg.buffer("out", dtype.c, const=False),
                                              sg.sizes("int", "osN", "osC"), sg.dims("int", "os", nd)),
                  "interp_backward": Signature(*geometry(bwd_scale), _batched("grad", dtype, "g_off", "gs", nd),
                                               sg.buffer("grad_in", dtype.c, const=False))}
    fwd = codegen.kernel(backend, key + ("forward",), "window.cl.mako", "interp_forward", signatures, **params)
    bwd = codegen.kernel(backend, key + ("backward",), "window.cl.mako", "interp_backward", signatures, **params)
    return fwd, bwd, fwd_scale, bwd_scale


def _geometry_args(resize, in_spatial, scale_type):
    args = []
    for size, out, scale in zip(in_spatial, resize.out, resize.scales(in_spatial, scale_type)):
        args += [size, out, scale]
    return args + [int(bool(resize.align_corners))]


def resize_forward(x, resize: Resize):
    """x (N, C, *spatial) interpolated to resize.out; channels-last in, channels-last out."""
    shape = tuple(x.shape[:2]) + tuple(resize.out)
    out = empty_in_layout(shape, x.dtype, x.device, is_channels_last(x))
    n = out.numel()
    if n == 0:
        return out
    _check_tensors_in_range("interpolation", x, out)
    backend = x.device.backend
    fwd, _, scale_type, _ = _resize_kernels(backend, x.dtype, resize.kind, len(resize.out))
    args = [n, x.shape[1]] + _geometry_args(resize, x.shape[2:], scale_type)
    args += [x._storage.buffer, x._offset, *x._strides, out._storage.buffer, *out._strides]
    launch.base.enqueue(backend, fwd, n, args)
    return out


def resize_backward(grad, in_shape, resize: Resize):
    """The gradient of an interpolation with respect to its input, gathered per input element."""
    grad_in = launch.base.empty(in_shape, grad.dtype, grad.device)
    n = grad_in.numel()
    if n == 0:
        return grad_in
    if grad.numel() == 0:
        return grad_in.zero_()
    if resize.kind == CUBIC and tuple(in_shape[2:]) == tuple(resize.out):
        # PyTorch's bicubic backward copies when no size changes, even where a scale factor made
        # the forward blend (so its gradient is not the forward's adjoint there): reproduced
        grad_in.copy_(grad)
        return grad_in
    _check_tensors_in_range("interpolation", grad, grad_in)
    backend = grad.device.backend
    _, bwd, _, scale_type = _resize_kernels(backend, grad.dtype, resize.kind, len(resize.out))
    args = [n, in_shape[1]] + _geometry_args(resize, in_shape[2:], scale_type)
    args += [grad._storage.buffer, grad._offset, *grad._strides, grad_in._storage.buffer]
    launch.base.enqueue(backend, bwd, n, args)
    return grad_in


def _resize_backward_vjp(gg, out, grad, resize):
    """The backward is linear in the upstream gradient: its adjoint is the interpolation itself."""
    return resize_forward(gg, resize)


def _resize_vjp(g, out, x, resize):
    grad_in = resize_backward(g, tuple(x.shape), resize)
    return graph.record(resize.node_name().replace("Backward0", "BackwardBackward0"), _resize_backward_vjp, [g],
                        grad_in, {"resize": resize}, save=frozenset())


def resize(x, resize: Resize):
    """Interpolation with autograd; x is (N, C, *spatial)."""
    out = resize_forward(x, resize)
    return graph.record(resize.node_name(), _resize_vjp, [x], out, {"resize": resize}, save=frozenset({0}))


# ---- reflect and replicate padding ----------------------------------------------------------------
@dataclass(frozen=True)
class Pad:
    """Reflect or replicate padding of the trailing spatial dims: per dim (leading first) the number of
    elements added in front and behind (negative: removed)."""
    mode: str
    front: tuple
    back: tuple

    def out(self, in_spatial):
        return tuple(n + lo + hi for n, lo, hi in zip(in_spatial, self.front, self.back))

    def args(self, in_spatial):
        result = []
        for n, o, lo in zip(in_spatial, self.out(in_spatial), self.front):
            result += [n, o, lo]
        return result

    def node_name(self):
        return f"{'Reflection' if self.mode == 'reflect' else 'Replication'}Pad{len(self.front)}DBackward0"


def _pad_kernels(backend, dtype, mode, nd):
    key = ("window_pad", dtype, mode, nd)
    params = _template_params(dtype, nd=nd, pad=mode)
    geometry = [sg.sizes("int", "total", "C")] + [sg.sizes("int", f"I{d}", f"O{d}", f"L{d}") for d in range(nd)]
    signatures = {"pad_forward": Signature(*geometry, _batched("x", dtype, "x_off", "xs", nd),
                                           sg.buffer("out", dtype.c, const=False)),
                  "pad_backward": Signature(*geometry, _batched("grad", dtype, "g_off", "gs", nd),
                                            sg.buffer("grad_in", dtype.c, const=False))}
    fwd = codegen.kernel(backend, key + ("forward",), "window.cl.mako", "pad_forward", signatures, **params)
    bwd = codegen.kernel(backend, key + ("backward",), "window.cl.mako", "pad_backward", signatures, **params)
    return fwd, bwd


def _lead_args(t, nd):
    """(C, N stride, C stride) of t (N, C, *spatial) or unbatched (C, *spatial)."""
    st = t._strides
    return (t.shape[-nd - 1], st[0] if t.dim() == nd + 2 else 0, st[-nd - 1])


def pad_forward(x, padding: Pad):
    """x ((N,) C, *spatial) padded (contiguous result)."""
    nd = len(padding.front)
    out = launch.base.empty(tuple(x.shape[:-nd]) + padding.out(x.shape[-nd:]), x.dtype, x.device)
    n = out.numel()
    if n == 0:
        return out
    _check_tensors_in_range("padding", x, out)
    backend = x.device.backend
    fwd, _ = _pad_kernels(backend, x.dtype, padding.mode, nd)
    c_, s_n, s_c = _lead_args(x, nd)
    args = [n, c_] + padding.args(x.shape[-nd:])
    args += [x._storage.buffer, x._offset, s_n, s_c, *x._strides[-nd:], out._storage.buffer]
    launch.base.enqueue(backend, fwd, n, args)
    return out


def pad_backward(grad, in_shape, padding: Pad):
    """The gradient of a padding with respect to its input, gathered per input element."""
    nd = len(padding.front)
    grad_in = launch.base.empty(in_shape, grad.dtype, grad.device)
    n = grad_in.numel()
    if n == 0:
        return grad_in
    if grad.numel() == 0:
        return grad_in.zero_()
    _check_tensors_in_range("padding", grad, grad_in)
    backend = grad.device.backend
    _, bwd = _pad_kernels(backend, grad.dtype, padding.mode, nd)
    c_, s_n, s_c = _lead_args(grad, nd)
    args = [n, c_] + padding.args(in_shape[-nd:])
    args += [grad._storage.buffer, grad._offset, s_n, s_c, *grad._strides[-nd:], grad_in._storage.buffer]
    launch.base.enqueue(backend, bwd, n, args)
    return grad_in


def _pad_backward_vjp(gg, out, grad, padding):
    return pad_forward(gg, padding)


def _pad_vjp(g, out, x, padding):
    grad_in = pad_backward(g, tuple(x.shape), padding)
    return graph.record(padding.node_name().replace("Backward0", "BackwardBackward0"), _pad_backward_vjp, [g],
                        grad_in, {"padding": padding}, save=frozenset())


def pad(x, padding: Pad):
    """Reflect/replicate padding with autograd; x is (N, C, *spatial) or (C, *spatial)."""
    out = pad_forward(x, padding)
    return graph.record(padding.node_name(), _pad_vjp, [x], out, {"padding": padding}, save=frozenset({0}))
