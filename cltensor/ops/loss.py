"""The fused cross entropy (kernels launched by cltensor/launch/loss.py): the forward in two kernels,
the backward in one, where the composition of log_softmax and nll_loss took ~11 launches forward
and ~7 backward.

cross_entropy() returns None where the composition must run instead: gradients for the weight or
the probability targets, targets of another dtype than the input, no classes, a class count past
llvmpipe's loop limit, or more than three kept dims that do not collapse. A recorded backward
(create_graph) is the composition's own autograd, so higher derivatives stay exact.
"""
from __future__ import annotations

from .. import checks, launch
from ..autograd import graph
from ..autograd import grad as _autograd_grad
from ..autograd.grad_mode import enable_grad, is_grad_enabled
from .reduce import _compute


def cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, class_dim, probs, composite):
    """The fused loss (see the module docstring), or None where `composite` must compute it.
    composite(input): the loss as Tensor ops, for create_graph backward passes."""
    launch.base.common_device([input, target] + ([weight] if weight is not None else []), "cross_entropy")
    if not _fusable(input, target, weight, class_dim, probs):
        return None
    kept = [d for d in range(input.dim()) if d != class_dim]
    layout = launch.loss.kept_layout(input, target, kept, class_dim, probs)
    if layout is None:
        return None
    shape = tuple(input._shape[d] for d in kept)
    out = launch.base.empty(shape if reduction == "none" else (), input.dtype, input.device)
    rows, total, offender = launch.loss.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing,
                                                      class_dim, probs, _compute(input.dtype), layout, out)
    if not probs:
        checks.defer(offender, lambda v: v == launch.loss.NO_OFFENDER,
                     lambda v: IndexError(f"Target {v} is out of bounds."))
    if is_grad_enabled() and input.requires_grad:
        graph.record(_node_name(input, probs, reduction, label_smoothing), _cross_entropy_vjp, [input], out,
                     {"target": target, "weight": weight, "ignore_index": ignore_index, "eps": label_smoothing,
                      "class_dim": class_dim, "probs": probs, "rows": rows, "total": total,
                      "mean": reduction == "mean", "composite": composite}, save=frozenset({0}))
    return out


def _fusable(input, target, weight, class_dim, probs):
    if not input.dtype.is_floating_point or input.dtype.is_complex or input._shape[class_dim] == 0:
        return False
    if weight is not None and (weight.requires_grad or not weight.dtype.is_floating_point):
        return False
    if probs and (target.requires_grad or target.dtype is not input.dtype):
        return False
    if not probs and target.dtype.is_floating_point:
        return False
    limit = input.device.backend.loop_limit
    return not limit or 2 * input._shape[class_dim] < limit


def _node_name(input, probs, reduction, label_smoothing):
    """The grad_fn PyTorch's composition ends in."""
    if probs:
        return "DivBackward1" if reduction == "mean" else "NegBackward0"
    if label_smoothing > 0:
        return "AddBackward0"
    return "NllLoss2DBackward0" if input.dim() >= 3 else "NllLossBackward0"


def _cross_entropy_vjp(g, out, x, *, target, weight, ignore_index, eps, class_dim, probs, rows, total, mean,
                       composite):
    if is_grad_enabled() and (g.requires_grad or x.requires_grad):
        with enable_grad():
            return (_autograd_grad([composite(x)], [x], [g], create_graph=True)[0],)
    kept = [d for d in range(x.dim()) if d != class_dim]
    grad = launch.base.empty(x._shape, x.dtype, x.device)
    g = g if g.dtype is x.dtype else g.to(x.dtype)
    g_strides = list(g._strides) if g.dim() else [0] * len(kept)
    layout = launch.loss.kept_layout(x, target, kept, class_dim, probs,
                                     extra=([grad._strides[d] for d in kept], g_strides))
    if layout is None or grad.numel() == 0:
        with enable_grad():
            return (_autograd_grad([composite(x)], [x], [g])[0],)
    launch.loss.cross_entropy_grad(x, target, weight, g, grad, ignore_index, eps, class_dim, probs, rows, total, mean,
                                   _compute(x.dtype), layout)
    return (grad,)
