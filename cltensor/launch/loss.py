"""The fused cross entropy family (kernels_cl/loss.cl.mako): the forward in two kernels (ce_rows: per-row
logsumexp, picked logit and smoothing term; ce_total: the reduction over rows, which also finds the first
bad class index), the backward in one (ce_grad: softmax minus the target distribution, scaled).

The kept (non-class) dims are read through up to three collapsed strides; kept_layout() says whether
they collapse that far. ops/loss.py decides whether the fused path runs and records autograd.
"""
from __future__ import annotations

import numpy as np

from .. import codegen
from .. import dtypes as dt
from . import signature as sg
from .base import empty, enqueue, launch, scalar_arg
from .signature import Signature
from .strides import collapse

NO_OFFENDER = -(1 << 63)  # what ce_total leaves in `offender` when every class index is in range
_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}
_INT32_MAX = 2 ** 31 - 1
_LANES = 8  # independent lanes of ce_rows' class loops (vectorised by the compiler)
_CLASS_BLOCK = 256  # classes per work-item in ce_grad


def kept_layout(input, target, kept, class_dim, probs, extra=()):
    """(kept sizes padded to three, [kept strides of input, target, *extra]) or None past three dims."""
    shape = [input._shape[d] for d in kept]
    tstrides = [target._strides[d] for d in kept] if probs else list(target._strides)
    lists = [[input._strides[d] for d in kept], tstrides] + [list(s) for s in extra]
    sizes, strides = collapse(shape, lists)
    if len(sizes) > 3:
        return None
    pad = 3 - len(sizes)
    return (1,) * pad + sizes, [(0,) * pad + s for s in strides]


def cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, class_dim, probs, acc, layout,
                  out):
    """out <- the loss (kept-shaped for reduction 'none', else 0-d) of input's logits along class_dim;
    layout: kept_layout(input, target, ...); acc: the accumulation dtype. Returns (rows, total,
    offender): the per-row statistics and the reduced total the backward reads, and the first class
    index out of range (NO_OFFENDER if none; only written for class-index targets)."""
    kept = [d for d in range(input.dim()) if d != class_dim]
    M = int(np.prod([input._shape[d] for d in kept], dtype=np.int64))
    C = input._shape[class_dim]
    device, backend = input.device, input.device.backend
    rows = empty((4 * M,), acc, device)
    flags = empty((M,) if not probs else (0,), dt.int64, device)
    total = empty((), acc, device)
    offender = empty((), dt.int64, device)
    spec = _Spec(input, target, weight, probs, acc)
    sizes, (xk, tk) = layout
    eps = scalar_arg(label_smoothing, acc)
    if M:
        args = [M, C, *sizes, *_view(input, xk, class_dim), *_target_view(target, tk, class_dim, probs),
                *spec.weight_args(weight), ignore_index, eps, rows._storage.buffer, _buffer(flags, rows)]
        unit = input.dim() and input._strides[class_dim] == 1
        enqueue(backend, spec.kernel("ce_rows", unit), M, args)
    args = [M, *sizes, rows._storage.buffer, _buffer(flags, rows), *_target_view(target, tk, class_dim, probs),
            _REDUCTIONS[reduction], out._storage.buffer, total._storage.buffer, offender._storage.buffer]
    launch(backend, spec.kernel("ce_total"), (spec.wg,), (spec.wg,), args, M)
    return rows, total, offender


def cross_entropy_grad(x, target, weight, g, grad, ignore_index, eps, class_dim, probs, rows, total, mean, acc,
                       layout):
    """grad <- the gradient of the loss with respect to the logits x for the upstream gradient g (x's
    dtype), from cross_entropy()'s rows and total; layout: kept_layout(x, target, ..., extra=(grad's
    and g's kept strides))."""
    sizes, (xk, tk, gxk, gk) = layout
    spec = _Spec(x, target, weight, probs, acc)
    M, C = grad.numel() // x._shape[class_dim], x._shape[class_dim]
    args = [M * C, C, *sizes, *_view(x, xk, class_dim), *_target_view(target, tk, class_dim, probs),
            *_view(grad, gxk, class_dim), g._storage.buffer, g._offset, *gk, 0, *spec.weight_args(weight),
            ignore_index, scalar_arg(eps, acc), M, rows._storage.buffer, total._storage.buffer, int(mean)]
    unit = x._strides[class_dim] == 1 and grad._strides[class_dim] == 1
    items = M * -(-C // _CLASS_BLOCK)
    enqueue(x.device.backend, spec.kernel("ce_grad", unit), items, args)
    return grad


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

    def __init__(self, input, target, weight, probs, acc):
        self.backend = input.device.backend
        big = any(t._storage.nbytes // max(t.dtype.itemsize, 1) > _INT32_MAX
                  for t in (input, target) + ((weight,) if weight is not None else ()))
        self.idx = "long" if big else "int"
        self.T, self.A = input.dtype, acc
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
