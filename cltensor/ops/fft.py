"""torch.fft's one-dimensional transforms along any dim, with autograd (kernels launched by
cltensor/launch/fft.py, which also defines the Plan each transform is described by).

Every transform of torch.fft is a chain of one-dimensional linear maps, each a Plan; the Plan's
adjoint is again a Plan, so each map's gradient is one more transform (and double backward comes
free). Here: the result's shape and dtype (complex, real, or complex values as real pairs), the
zero-filled results of empty inputs, and the autograd records.
"""
from __future__ import annotations

from .. import launch
from ..autograd import graph
from ..launch.fft import COMPLEX_IN, HERMITIAN_IN, REAL_IN, Plan, bluestein_length, radices
from ..tensor import Tensor

__all__ = ["COMPLEX_IN", "REAL_IN", "HERMITIAN_IN", "Plan", "radices", "bluestein_length", "real_dtype",
           "complex_dtype", "execute", "apply"]


def real_dtype(d):
    return d.to_real() if getattr(d, "is_complex", False) else d


def complex_dtype(d):
    return d.to_complex()


def _node_name(plan: Plan):
    if plan.in_mode == REAL_IN:
        return "FftR2CBackward0"
    return "FftC2RBackward0" if plan.out_real else "FftC2CBackward0"


def execute(x, plan: Plan, pairs=False):
    """The raw (no autograd) result of plan applied to x along plan.dim.

    x is complex or real; pairs=True stands for complex values held as real tensors with a trailing
    (re, im) dim, for a complex input (plan.in_mode other than REAL_IN) and a complex result. The
    result is real where plan.out_real, else complex."""
    pairs_in = pairs and plan.in_mode != REAL_IN
    shape = list(x.shape[:-1] if pairs_in else x.shape)
    shape[plan.dim] = plan.out_len
    rdtype = real_dtype(x.dtype)
    if plan.out_real:
        out_shape, out_dtype = tuple(shape), rdtype
    elif pairs:
        out_shape, out_dtype = tuple(shape) + (2,), rdtype
    else:
        out_shape, out_dtype = tuple(shape), complex_dtype(rdtype)
    make = launch.base.empty if min(plan.keep, plan.n) >= plan.out_len else _zeros
    out = make(out_shape, out_dtype, x.device)
    if out.numel() == 0:
        return out
    if x.numel() == 0:  # a zero-length input reads as all zeros
        return out if make is _zeros else _zeros(out_shape, out_dtype, x.device)
    if not launch.fft.transform(x, out, plan, pairs_in, pairs and not plan.out_real):
        return execute(x.contiguous(), plan, pairs)
    return out


def _zeros(shape, dtype, device):
    """A zero-filled contiguous tensor, cleared through a real view of its memory (complex included)."""
    out = launch.base.empty(shape, dtype, device)
    parts = real_dtype(dtype)
    count = out.numel() * (dtype.itemsize // parts.itemsize)
    Tensor._make(out._storage, (count,), (1,), 0, parts, device).zero_()
    return out


def apply(x, plan: Plan):
    """execute() with autograd: the gradient is the adjoint plan applied to the incoming gradient."""
    out = execute(x, plan)
    return graph.record(_node_name(plan), _vjp, [x], out, {"plan": plan, "in_len": x.shape[plan.dim]},
                        save=frozenset())


def _vjp(g, out, x, plan, in_len):
    return apply(g, plan.adjoint(in_len))
