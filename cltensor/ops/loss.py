"""Launcher of the fused cross entropy (kernels_cl/loss.cl.mako): the forward in two kernels (per-row
logsumexp, picked logit and smoothing term; then the reduction over rows, which also finds the first
bad class index), the backward in one (softmax minus the target distribution, scaled), where the
composition of log_softmax and nll_loss took ~11 launches forward and ~7 backward.

cross_entropy() returns None where the composition must run instead: gradients for the weight or
the probability targets, targets of another dtype than the input, no classes, a class count past
llvmpipe's loop limit, or more than three kept dims that do not collapse. A recorded backward
(create_graph) is the composition's own autograd, so higher derivatives stay exact.
"""
from __future__ import annotations

import numpy as np

from .. import checks, codegen, launch
from ..launch import signature as sg
from ..launch.signature import Signature
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import enable_grad, is_grad_enabled
from .reduce import _compute

_NONE, _MEAN, _SUM = 0, 1, 2
_REDUCTIONS = {"none": _NONE, "mean": _MEAN, "sum": _SUM}
_NO_OFFENDER = -(1 << 63)
_INT32_MAX = 2 ** 31 - 1
_LANES = 8  # independent lanes of ce_rows' class loops (vectorised by the compiler)
_CLASS_BLOCK = 256  # classes per work-item in ce_grad


def cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, class_dim, probs, composite):
    """The fused loss (see the module docstring), or None where `composite` must compute it.
    composite(input): the loss as Tensor ops, for create_graph backward passes."""
    if not _fusable(input, target, weight, class_dim, probs):
        return None
    kept = [d for d in range(input.dim()) if d != class_dim]
    layout = _kept_layout(input, target, kept, class_dim, probs)
    if layout is None:
        return None
    T, A = input.dtype, _compute(input.dtype)
    M = int(np.prod([input._shape[d] for d in kept], dtype=np.int64))
    C = input._shape[class_dim]
    device, backend = input.device, input.device.backend
    rows = launch.base.empty((4 * M,), A, device)
    flags = launch.base.empty((M,) if not probs else (0,), dt.int64, device)
    shape = tuple(input._shape[d] for d in kept)
    out = launch.base.empty(shape if reduction == "none" else (), T, device)
    total = launch.base.empty((), A, device)
    offender = launch.base.empty((), dt.int64, device)
    spec = _Spec(input, target, weight, probs)
    sizes, (xk, tk) = layout
    eps = launch.base.scalar_arg(label_smoothing, A)
    if M:
        args = [M, C, *sizes, *_view(input, xk, class_dim), *_target_view(target, tk, class_dim, probs),
                *spec.weight_args(weight), ignore_index, eps, rows._storage.buffer, _buffer(flags, rows)]
        unit = input.dim() and input._strides[class_dim] == 1
        launch.base.enqueue(backend, spec.kernel("ce_rows", unit), M, args)
    args = [M, *sizes, rows._storage.buffer, _buffer(flags, rows), *_target_view(target, tk, class_dim, probs),
            _REDUCTIONS[reduction], out._storage.buffer, total._storage.buffer, offender._storage.buffer]
    launch.base.launch(backend, spec.kernel("ce_total"), (spec.wg,), (spec.wg,), args, M)
    if not probs:
        checks.defer(offender, lambda v: v == _NO_OFFENDER, lambda v: IndexError(f"Target {v} is out of bounds."))
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


def _kept_layout(input, target, kept, class_dim, probs, extra=()):
    """(kept sizes padded to three, [kept strides of input, target, *extra]) or None past three dims."""
    shape = [input._shape[d] for d in kept]
    tstrides = [target._strides[d] for d in kept] if probs else list(target._strides)
    lists = [[input._strides[d] for d in kept], tstrides] + [list(s) for s in extra]
    sizes, strides = launch.strides.collapse(shape, lists)
    if len(sizes) > 3:
        return None
    pad = 3 - len(sizes)
    return (1,) * pad + sizes, [(0,) * pad + s for s in strides]


def _view(t, kept_strides, class_dim):
    """buffer, offset, three kept strides and the class stride of an input-shaped tensor."""
    return [t._storage.buffer, t._offset, *kept_strides, t._strides[class_dim] if t.dim() else 0]


def _target_view(t, kept_strides, class_dim, probs):
    return [t._storage.buffer, t._offset, *kept_strides, t._strides[class_dim] if probs else 0]


def _buffer(t, stand_in):
    """t's buffer, or a stand-in the kernel never touches for an empty tensor (no zero-size buffers)."""
    return t._storage.buffer if t.numel() else stand_in._storage.buffer


class _Spec:
    """The template parameters of one (dtypes, layout) case and its kernels."""

    def __init__(self, input, target, weight, probs):
        self.backend = input.device.backend
        big = any(t._storage.nbytes // max(t.dtype.itemsize, 1) > _INT32_MAX
                  for t in (input, target) + ((weight,) if weight is not None else ()))
        self.idx = "long" if big else "int"
        self.T, self.A = input.dtype, _compute(input.dtype)
        self.target_dtype, self.W_dtype = target.dtype, weight.dtype if weight is not None else None
        self.probs = probs
        self.wg = min(256, 1 << (self.backend.max_work_group_size.bit_length() - 1))
        self.stand_in = input

    def weight_args(self, weight):
        if weight is None:
            return [self.stand_in._storage.buffer, 0, 0]
        return [weight._storage.buffer, weight._offset, weight._strides[0] if weight.dim() else 0]

    def kernel(self, name, unit_class=False):
        """unit_class: the logits' (and the gradient's) class stride is 1, known when compiling."""
        key = ("cross_entropy", name, self.T, self.A, self.target_dtype, self.W_dtype, self.probs, self.idx, self.wg,
               bool(unit_class))
        signatures = {k: self._signature(k) for k in ("ce_rows", "ce_total", "ce_grad")}  # one source has all three
        return codegen.kernel(self.backend, key, "loss.cl.mako", name, signatures,
                              T=self.T, A=self.A.compute_c, A_dtype=self.A, W_dtype=self.W_dtype,
                              weighted=self.W_dtype is not None, target_dtype=self.target_dtype,
                              probs=self.probs, IDX=self.idx, WG=self.wg, unit_class=bool(unit_class),
                              V=_LANES, CB=_CLASS_BLOCK)

    def _signature(self, name):
        """The arguments of ce_rows, ce_total or ce_grad: each tensor view with its offset, three kept
        strides and its class stride."""
        i, T, A, target = self.idx, self.T.c, self.A, self.target_dtype.c

        def view(v, ctype, const=True):
            return sg.tensor(v, ctype, i, 0, const=const, offset=f"{v}_off",
                             strides=[f"{v}_k0", f"{v}_k1", f"{v}_k2", f"{v}_c"])
        kept = sg.sizes(i, "ks0", "ks1", "ks2")
        weight = [sg.buffer("w", self.W_dtype.c if self.W_dtype is not None else "uchar"), sg.sizes(i, "w_off", "w_c")]
        smoothing = [sg.sizes("long", "ignore_index"), sg.scalar("eps", A)]
        if name == "ce_rows":
            parts = [sg.sizes(i, "M", "C"), kept, view("x", T), view("t", target), *weight, *smoothing,
                     sg.buffer("rows", "A", const=False), sg.buffer("flags", "long", const=False)]
        elif name == "ce_total":
            parts = [sg.sizes(i, "M"), kept, sg.buffer("rows", "A"), sg.buffer("flags", "long"), view("t", target),
                     sg.sizes("int", "reduction"), sg.buffer("out", T, const=False),
                     sg.buffer("total", "A", const=False), sg.buffer("offender", "long", const=False)]
        else:
            parts = [sg.sizes(i, "n", "C"), kept, view("x", T), view("t", target), view("gx", T, const=False),
                     view("g", T), *weight, *smoothing, sg.sizes(i, "M"), sg.buffer("rows", "A"),
                     sg.buffer("total", "A"), sg.sizes("int", "mean")]
        return Signature(*parts)


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
    layout = _kept_layout(x, target, kept, class_dim, probs, extra=([grad._strides[d] for d in kept], g_strides))
    if layout is None or grad.numel() == 0:
        with enable_grad():
            return (_autograd_grad([composite(x)], [x], [g])[0],)
    sizes, (xk, tk, gxk, gk) = layout
    spec = _Spec(x, target, weight, probs)
    M, C = grad.numel() // x._shape[class_dim], x._shape[class_dim]
    args = [M * C, C, *sizes, *_view(x, xk, class_dim), *_target_view(target, tk, class_dim, probs),
            *_view(grad, gxk, class_dim), g._storage.buffer, g._offset, *gk, 0, *spec.weight_args(weight),
            ignore_index, launch.base.scalar_arg(eps, spec.A), M, rows._storage.buffer, total._storage.buffer, int(mean)]
    unit = x._strides[class_dim] == 1 and grad._strides[class_dim] == 1
    items = M * -(-C // _CLASS_BLOCK)
    launch.base.enqueue(x.device.backend, spec.kernel("ce_grad", unit), items, args)
    return (grad,)


def _autograd_grad(*args, **kwargs):
    from ..autograd import grad  # the autograd package imports the ops: not at import time
    return grad(*args, **kwargs)
