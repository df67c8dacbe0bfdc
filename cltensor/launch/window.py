"""The window family (kernels_cl/window.cl.mako): pooling, interpolation and reflect/replicate padding,
forward and backward, each a gather with one work-item per output element.

A pooling is described by a Window: the pooling kind and per spatial dim (1 to 3 of them) the
output size, kernel, stride, padding and dilation. One program per dtype serves every kind and
shape; the geometry travels as kernel arguments. A reflect or replicate padding is a Pad (mode and
rank template parameters). An interpolation is described by a Resize: the kind and the number of
spatial dims are template parameters (one program per kind, rank and dtype), the sizes and scales
kernel arguments. The kernels index in 32-bit ints; the launchers refuse tensors past that range.
ops/window.py allocates the results, handles empty tensors and records autograd.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import codegen
from .. import dtypes as dt
from . import signature as sg
from .base import empty, enqueue
from .signature import Signature

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


def pool(x, out, indices, window: Window):
    """out (N, C, *window.out, contiguous) <- the pooling of x (N, C, *spatial); indices (out's shape,
    int64) <- the argmax positions for the max kinds, None for the others."""
    n = out.numel()
    _check_int_range(window, x.shape[2:], x, out)
    backend = x.device.backend
    fwd, _ = _kernels(backend, x.dtype)
    if indices is None:
        indices = empty((1,), dt.int64, x.device)
    args = [n, x.shape[1]] + window.args(x.shape[2:])
    args += [x._storage.buffer, x._offset, *_batch_strides(x), out._storage.buffer, indices._storage.buffer]
    enqueue(backend, fwd, n, args)


def pool_backward(grad, indices, grad_in, window: Window):
    """grad_in (N, C, *spatial, contiguous) <- the gradient of pooling for the upstream grad, gathered
    per input element (through indices, the forward's, for the max kinds; None for the others)."""
    n = grad_in.numel()
    in_shape = grad_in.shape
    _check_int_range(window, in_shape[2:], grad, grad_in)
    backend = grad.device.backend
    _, bwd = _kernels(backend, grad.dtype)
    if indices is None:
        indices = empty((1,), dt.int64, grad.device)
    args = [n, in_shape[1]] + window.args(in_shape[2:])
    args += [grad._storage.buffer, grad._offset, *_batch_strides(grad), indices._storage.buffer,
             grad_in._storage.buffer]
    enqueue(backend, bwd, n, args)


# ---- interpolation -------------------------------------------------------------------------------
NEAREST, NEAREST_EXACT, LINEAR, CUBIC = "nearest", "nearest_exact", "linear", "cubic"


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


def interpolate(x, out, resize: Resize):
    """out (N, C, *resize.out) <- x (N, C, *spatial) interpolated; both of any strides."""
    n = out.numel()
    _check_tensors_in_range("interpolation", x, out)
    backend = x.device.backend
    fwd, _, scale_type, _ = _resize_kernels(backend, x.dtype, resize.kind, len(resize.out))
    args = [n, x.shape[1]] + _geometry_args(resize, x.shape[2:], scale_type)
    args += [x._storage.buffer, x._offset, *x._strides, out._storage.buffer, *out._strides]
    enqueue(backend, fwd, n, args)


def interpolate_backward(grad, grad_in, resize: Resize):
    """grad_in (N, C, *spatial, contiguous) <- the gradient of an interpolation for the upstream grad,
    gathered per input element."""
    n = grad_in.numel()
    in_shape = grad_in.shape
    _check_tensors_in_range("interpolation", grad, grad_in)
    backend = grad.device.backend
    _, bwd, _, scale_type = _resize_kernels(backend, grad.dtype, resize.kind, len(resize.out))
    args = [n, in_shape[1]] + _geometry_args(resize, in_shape[2:], scale_type)
    args += [grad._storage.buffer, grad._offset, *grad._strides, grad_in._storage.buffer]
    enqueue(backend, bwd, n, args)


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


def pad(x, out, padding: Pad):
    """out ((N,) C, *padding.out(spatial), contiguous) <- x ((N,) C, *spatial) padded."""
    _pad_launch(x, out, padding, backward=False)


def pad_backward(grad, grad_in, padding: Pad):
    """grad_in ((N,) C, *spatial, contiguous) <- the gradient of a padding for the upstream grad,
    gathered per input element."""
    _pad_launch(grad, grad_in, padding, backward=True)


def _pad_launch(src, dst, padding, backward):
    """One launch of pad_forward (x to out) or pad_backward (grad to grad_in): one work-item per dst element."""
    nd = len(padding.front)
    n = dst.numel()
    _check_tensors_in_range("padding", src, dst)
    backend = src.device.backend
    kernel = _pad_kernels(backend, src.dtype, padding.mode, nd)[1 if backward else 0]
    c_, s_n, s_c = _lead_args(src, nd)
    args = [n, c_] + padding.args((dst if backward else src).shape[-nd:])
    args += [src._storage.buffer, src._offset, s_n, s_c, *src._strides[-nd:], dst._storage.buffer]
    enqueue(backend, kernel, n, args)
