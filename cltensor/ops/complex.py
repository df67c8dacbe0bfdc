"""Complex tensors beyond the elementwise rows: the (re, im) views of their storage, building them from
real parts, conjugation, and complex matmul/sum/mean on top of the real kernels.

A complex64 tensor's storage is interleaved float32 (re, im) pairs, so view_as_real is a float32 view
with twice the strides and a last dim of 2, and .real/.imag select from it (writable, stride 2).
Gradients follow PyTorch's convention: the gradient of a real loss L w.r.t. z is dL/dre + i dL/dim,
so the views' backward rules are the plain views' (select, view_as_real <-> view_as_complex).
"""
from __future__ import annotations

import warnings

from .. import launch
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor, register

__all__ = ["view_as_real", "view_as_complex", "real", "imag", "conj", "resolve_conj", "is_conj", "complex",
           "polar", "is_complex", "resolve_neg", "is_neg", "adjoint"]


def _retyped_view(src, shape, strides, offset, dtype, name, vjp):
    """A view of src's storage read as dtype, recorded as one differentiable op."""
    v = src._view(tuple(shape), tuple(strides), offset)
    v.dtype = dtype
    if src.requires_grad and is_grad_enabled():
        graph.record(name, vjp, [src], v, {}, save=frozenset())
    return v


def view_as_real(input):
    if not input.dtype.is_complex:
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return _retyped_view(input, input._shape + (2,), tuple(2 * s for s in input._strides) + (1,), 2 * input._offset,
                         input.dtype.to_real(), "ViewAsRealBackward0", lambda g, out, a: view_as_complex(g.contiguous()))


def view_as_complex(input):
    if input.dtype not in (dt.float32, dt.float64):
        if input.dtype is dt.float16:
            raise NotImplementedError("view_as_complex of a float16 tensor: complex32 is not provided by cltensor")
        raise RuntimeError("view_as_complex is only supported for half, float and double tensors, but got a tensor "
                           f"of scalar type: {input.dtype.torch_name}")
    if input.dim() == 0 or input._shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if input._strides[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in input._strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if input._offset % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    return _retyped_view(input, input._shape[:-1], tuple(s // 2 for s in input._strides[:-1]), input._offset // 2,
                         input.dtype.to_complex(), "ViewAsComplexBackward0", lambda g, out, a: view_as_real(g))


def real(input):
    """The real parts: a writable float view (stride 2) of a complex tensor; a real tensor itself."""
    return view_as_real(input).select(-1, 0) if input.dtype.is_complex else input


def imag(input):
    if not input.dtype.is_complex:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return view_as_real(input).select(-1, 1)


def _set_part(part):
    def setter(self, value):
        getattr(self, part).copy_(value)
    return setter


def conj(input):
    """The conjugate. NOTE: a conjugated copy (PyTorch returns a lazy conjugate view with is_conj() True);
    a real tensor is returned as is, as in PyTorch."""
    return input.conj_physical() if input.dtype.is_complex else input


def resolve_conj(input):
    return input  # conj() materialises at once: nothing is ever pending


def is_conj(input):
    return False


def resolve_neg(input):
    return input


def is_neg(input):
    return False


def is_complex(input):
    return input.dtype.is_complex


def adjoint(input):
    return conj(input.transpose(-2, -1))


def _parts(name, re, im):
    """Check two real parts as torch.complex / torch.polar do; their common shape."""
    for arg, x in (("real" if name == "complex" else "abs", re), ("imag" if name == "complex" else "angle", im)):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {1 if x is re else 2}) must be Tensor, "
                            f"not {type(x).__name__}")
    floats = (dt.float16, dt.float32, dt.float64)
    if re.dtype not in floats or im.dtype not in floats:
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{re.dtype.torch_name} and {im.dtype.torch_name}")
    if re.dtype is not im.dtype:
        raise RuntimeError(f"Expected object of scalar type {re.dtype.torch_name} but got scalar type "
                           f"{im.dtype.torch_name} for second argument")
    return launch.strides.broadcast_shapes(re._shape, im._shape)


def _from_parts(name, expr, re, im, out, vjp):
    shape = _parts(name, re, im)
    device = launch.base.common_device([re, im], name)
    d = re.dtype.to_complex()
    if out is None:
        out = launch.base.empty(shape, d, device)
    elif out._shape != shape or out.dtype is not d:
        raise RuntimeError(f"{name}(): out= must have shape {list(shape)} and dtype {d}, got {list(out._shape)} "
                           f"and {out.dtype}")
    launch.elementwise.elementwise(name, expr.replace("{C}", d.c), [re, im], out, re.dtype)
    if is_grad_enabled() and (re.requires_grad or im.requires_grad):
        graph.record(name.capitalize() + "Backward0", vjp, [re, im], out)
    return out


def complex(real, imag, *, out=None):  # noqa: A001 (torch.complex)
    return _from_parts("complex", "({C})(a, b)", real, imag, out, lambda g, out, a, b: (g.real, g.imag))


def polar(abs, angle, *, out=None):  # noqa: A002 (torch.polar)
    return _from_parts("polar", "({C})(a * cos(b), a * sin(b))", abs, angle, out, _polar_vjp)


def _polar_vjp(g, out, a, b):
    # out = a (cos b + i sin b): dL/da = Re(conj(g) cis b), dL/db = Re(conj(g) i out)
    gc = g.conj_physical()
    return (gc * complex(b.cos(), b.sin())).real, (gc * out * 1j).real


def _warn_discarded():
    warnings.warn("Casting complex values to real discards the imaginary part", UserWarning,
                  stacklevel=launch.base.caller_level())


def cast_expr(src, dst) -> str:
    """The C expression that converts one src element `a` to dst: a complex value to a real type keeps its
    real part (bool: whether either part is non-zero), with PyTorch's warning where a part is discarded."""
    if not src.is_complex or dst.is_complex:
        return "a"
    if dst is dt.bool_:
        return "(a.x != 0 || a.y != 0)"
    _warn_discarded()
    return "a.x"


register("view_as_real", view_as_real, method=False)
register("conj", conj)
register("resolve_conj", resolve_conj)
register("is_conj", is_conj)
register("resolve_neg", resolve_neg)
register("is_neg", is_neg)
register("adjoint", adjoint)
Tensor.real = property(real, _set_part("real"))
Tensor.imag = property(imag, _set_part("imag"))
Tensor.H = property(lambda self: conj(self.T))
Tensor.mH = property(lambda self: conj(self.mT))
