"""Launcher of the window kernel family (kernels_cl/window.cl.mako): pooling forward/backward.

A pooling is described by a Window: the pooling kind and per spatial dim (1 to 3 of them) the
output size, kernel, stride, padding and dilation. One program per dtype serves every kind and
shape; the geometry travels as kernel arguments. Autograd nodes are recorded here too, so that
callers (nn.functional's pooling) only validate arguments and choose the geometry.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import codegen, dispatch
from .. import dtypes as dt
from ..autograd import graph

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


def _kernels(backend, dtype):
    key = ("window", dtype)
    fwd = backend.kernels.get(key + ("forward",))
    if fwd is None:
        dtype_min = str(int(np.iinfo(dtype.np).min)) + ("L" if dtype.itemsize == 8 else "") \
            if not dtype.is_floating_point else "0"
        geom = [np.int32] * 23
        fwd = codegen.kernel(backend, key + ("forward",), "window.cl.mako", "window_forward",
                             arg_dtypes=geom + [None] + [np.int32] * 6 + [None, None], dtype=dtype,
                             dtype_min=dtype_min)
        codegen.kernel(backend, key + ("backward",), "window.cl.mako", "window_backward",
                       arg_dtypes=geom + [None] + [np.int32] * 6 + [None, None], dtype=dtype, dtype_min=dtype_min)
    return fwd, backend.kernels[key + ("backward",)]


def _batch_strides(t):
    """(N stride, C stride, spatial strides padded in front to three) of an (N, C, *spatial) tensor."""
    st = t._strides
    return [st[0], st[1]] + [0] * (5 - t.dim()) + list(st[2:])


def _check_int_range(window, in_spatial, *tensors):
    """The kernels index in 32-bit ints (cheaper divisions): refuse what would overflow them."""
    if any(o * i >= _INT_LIMIT for o, i in zip(window.out, in_spatial)):
        raise RuntimeError(f"pooling {list(in_spatial)} to {list(window.out)} exceeds the 32-bit index range")
    for t in tensors:
        if t.numel() and max(abs(s) * (n - 1) for s, n in zip(t._strides, t._shape)) + t._offset >= _INT_LIMIT:
            raise RuntimeError(f"pooling of a tensor of shape {list(t.shape)} exceeds the 32-bit index range")


def pool_forward(x, window: Window):
    """(out, indices) of pooling x (N, C, *spatial); indices (int64) only for the max kinds."""
    n_, c_ = x.shape[0], x.shape[1]
    out = dispatch.empty((n_, c_) + tuple(window.out), x.dtype, x.device)
    wants_indices = window.mode in (MAX, ADAPTIVE_MAX)
    indices = dispatch.empty(out.shape if wants_indices else (1,), dt.int64, x.device)
    n = out.numel()
    if n == 0:
        return out, (indices if wants_indices else None)
    _check_int_range(window, x.shape[2:], x, out)
    backend = x.device.backend
    fwd, _ = _kernels(backend, x.dtype)
    args = [n, c_] + window.args(x.shape[2:])
    args += [x._storage.buffer, x._offset, *_batch_strides(x), out._storage.buffer, indices._storage.buffer]
    dispatch.enqueue(backend, fwd, n, args)
    return out, (indices if wants_indices else None)


def pool_backward(grad, in_shape, indices, window: Window):
    """The gradient of pooling with respect to its input, gathered per input element."""
    grad_in = dispatch.empty(in_shape, grad.dtype, grad.device)
    n = grad_in.numel()
    if n == 0:
        return grad_in
    if grad.numel() == 0:
        return grad_in.zero_()
    _check_int_range(window, in_shape[2:], grad, grad_in)
    backend = grad.device.backend
    _, bwd = _kernels(backend, grad.dtype)
    if indices is None:
        indices = dispatch.empty((1,), dt.int64, grad.device)
    args = [n, in_shape[1]] + window.args(in_shape[2:])
    args += [grad._storage.buffer, grad._offset, *_batch_strides(grad), indices._storage.buffer,
             grad_in._storage.buffer]
    dispatch.enqueue(backend, bwd, n, args)
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
    """Pooling with autograd: (out, indices or None); x is (N, C, *spatial)."""
    out, indices = pool_forward(x, window)
    name = _NODE_NAMES[window.mode].format(len(window.out))
    graph.record(name, _pool_vjp, [x], out, {"window": window, "indices": indices}, save=frozenset({0}))
    return out, indices


def output_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size along one dim (the last window must start inside input or left padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out
