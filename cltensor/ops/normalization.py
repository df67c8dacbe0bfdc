"""layer_norm as a few fused kernels: forward 2 (a Welford reduction giving mean and 1/std per row,
then one 5-input elementwise row), backward 5-6 (two two-input reductions and one elementwise row
for the input's gradient, one reduction each for weight and bias), where the composition of
Tensor ops took 8 forward and ~24 backward launches. A recorded backward (create_graph) is the
composition's own autograd, so higher derivatives stay exact.
"""
from __future__ import annotations

import math

from .. import launch
from ..autograd import graph
from ..autograd import grad as _autograd_grad
from ..autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from . import elementwise as _ew
from . import reduce as _reduce
from .elementwise import defop

# x, mean, rstd, weight, bias -> the normalised, scaled and shifted value
_APPLY = defop("_layer_norm_apply", 5, "(a - b) * c * d + e", _ew.FLOAT, method=False, inplace=False)
# dy = g * w, xhat, sum(dy), sum(dy * xhat), rstd -> the input's gradient (inv_n: 1 / the normalised count)
_INPUT_GRAD = defop("_layer_norm_input_grad", 5, "e * (a - (c + b * d) * inv_n)", _ew.FLOAT,
                    params={"inv_n": (1.0, "T")}, method=False, inplace=False)


def layer_norm(input, dims, weight, bias, eps):
    """PyTorch's layer_norm over `dims` (the trailing ones); float16/bfloat16 compute in float32."""
    with no_grad():
        mean, rstd = _statistics(input, dims, eps)
        out = launch.base.empty(input._shape, input.dtype, input.device)
        _ew.apply(_APPLY, [input, mean, rstd, 1.0 if weight is None else weight, 0.0 if bias is None else bias],
                  out=out)
    inputs = [t for t in (input, weight, bias) if t is not None]
    if is_grad_enabled() and any(t.requires_grad for t in inputs):
        graph.record("NativeLayerNormBackward0", _layer_norm_vjp, inputs, out,
                     {"dims": dims, "eps": eps, "mean": mean, "rstd": rstd, "affine": (weight is not None, bias is not None)},
                     save=frozenset(range(len(inputs))))
    return out


def _statistics(x, dims, eps):
    """(mean, 1 / sqrt(biased var + eps)) over dims, kept as size-1 dims, in the compute dtype."""
    A = _reduce._compute(x.dtype)
    shape = _reduce._out_shape(x._shape, tuple(d % x.dim() for d in dims), True)
    outs = [launch.base.empty(shape, A, x.device) for _ in range(2)]
    code = _reduce._code("moments", A, A, ("s.mean", "rsqrt(s.m2 / s.n + eps)"))
    launch.reduce.reduce(code, x, tuple(d % x.dim() for d in dims), outs, (("eps", A, eps),))
    return outs


def _layer_norm_vjp(g, out, x, *affine_inputs, dims, eps, mean, rstd, affine):
    weight = affine_inputs[0] if affine[0] else None
    bias = affine_inputs[-1] if affine[1] else None
    if is_grad_enabled() and any(t.requires_grad for t in (g, x, *affine_inputs)):
        return _recorded_vjp(g, x, weight, bias, dims, eps)
    xhat = _ew.apply(_APPLY, [x, mean, rstd, 1.0, 0.0])  # in the compute dtype (float32 for half)
    dy = g if weight is None else g * weight
    grads = [_input_grad(dy, xhat, rstd, dims, x.dtype) if x.requires_grad else None]
    batch = tuple(range(x.dim() - len(dims)))
    if weight is not None:
        grads.append(_dot(g, xhat, batch, weight) if weight.requires_grad else None)
    if bias is not None:
        grads.append(g.sum(batch).to(bias.dtype) if bias.requires_grad else None)
    return tuple(grads)


def _input_grad(dy, xhat, rstd, dims, dtype):
    """rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), the two means in one reduction."""
    dims = tuple(d % xhat.dim() for d in dims)
    dy = _like(dy, xhat)
    A = _reduce._compute(xhat.dtype)
    shape = _reduce._out_shape(xhat._shape, dims, True)
    sums = [launch.base.empty(shape, A, xhat.device) for _ in range(2)]
    launch.reduce.reduce(_reduce._code("sum_dot", xhat.dtype, A, ("s.v", "s.d")), dy, dims, sums, second=xhat)
    n = math.prod(xhat._shape[d] for d in dims)
    grad = launch.base.empty(xhat._shape, dtype, xhat.device)
    return _ew.apply(_INPUT_GRAD, [dy, xhat, sums[0], sums[1], rstd], {"inv_n": 1.0 / max(n, 1)}, out=grad)


def _dot(g, xhat, batch, like):
    """sum over the batch dims of g * xhat, in one two-input reduction."""
    g = _like(g, xhat)
    A = _reduce._compute(xhat.dtype)
    out = launch.base.empty(like._shape, A, like.device)
    launch.reduce.reduce(_reduce._code("dot", xhat.dtype, A, ("s.v",)), g, batch, [out], second=xhat)
    return out.to(like.dtype)


def _like(t, layout):
    """t in layout's dtype and (contiguous) strides: the two-input reductions read both at one offset."""
    if t._strides == layout._strides and t.dtype is layout.dtype:
        return t
    return t.to(layout.dtype).contiguous()


def _recorded_vjp(g, x, weight, bias, dims, eps):
    """The composition's gradients, recorded: what create_graph needs for higher derivatives."""
    wanted = [t for t in (x, weight, bias) if t is not None]
    with enable_grad():
        mean = x.mean(dims, keepdim=True)
        centered = x - mean
        y = centered * ((centered * centered).mean(dims, keepdim=True) + eps).rsqrt()
        y = y if weight is None else y * weight
        y = y if bias is None else y + bias
        needed = [t for t in wanted if t.requires_grad]
        found = iter(_autograd_grad([y], needed, [g], create_graph=True, allow_unused=True))
    return tuple(next(found) if t.requires_grad else None for t in wanted)
