"""The matmul family: mm, bmm, matmul (``@``), mv, dot, vdot, inner, outer/ger, addmm, addmv, addr,
baddbmm, addbmm, tensordot and einsum.

Every product runs through one launcher, ``launch.gemm.gemm`` (batched, operands read through their
strides, batch dims broadcast with stride 0), so these functions only check arguments the way
PyTorch does, shape metadata views, and record backward rules. Those rules are products of
transposes written with these same ops, so they are differentiable again. Sums that a rule or an
einsum needs are products with a vector of ones (``_sum_to``), so this module stands on the GEMM
alone.

    >>> import cltensor as torch
    >>> a = torch.arange(6.).reshape(2, 3)
    >>> (a @ a.T).tolist()
    [[5.0, 14.0], [14.0, 50.0]]
"""
from __future__ import annotations

import math
import warnings

from .. import launch
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..tensor import Tensor, contiguous_strides, register
from .creation import copy_, ones
from .elementwise import apply, OPS
from .shape import _view_strides

__all__ = ["mm", "bmm", "matmul", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv", "addr",
           "baddbmm", "addbmm", "tensordot", "einsum"]

# PyTorch names dtypes two ways in these messages: C++ type names and ScalarType names.
_CXX = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
        "int64": "long int", "int32": "int", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>",
        "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}

# ---- argument checks ----------------------------------------------------------------------------
def _tensors(fname, **named):
    for pos, (name, x) in enumerate(named.items(), 1):
        if not isinstance(x, Tensor):
            raise TypeError(f"{fname}(): argument '{name}' (position {pos}) must be Tensor, not {type(x).__name__}")


def _no_bool(d, kernel_name):
    if d is dt.bool_:
        raise NotImplementedError(f"\"{kernel_name}\" not implemented for 'Bool'")


def _m1_m2_dtypes(a, b):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_CXX[a.dtype.name]} != "
                           f"{_CXX[b.dtype.name]}")


def _scalar_type_match(a, b):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected scalar type {a.dtype.torch_name} but found {b.dtype.torch_name}")


def _mm_shapes(m, k, k2, n):
    if k != k2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})")


def _mv_shapes(m, k, k2, input_size=None):
    if k != k2 or (input_size is not None and input_size != m):
        raise RuntimeError(f"size mismatch, got input ({m if input_size is None else input_size}), "
                           f"mat ({m}x{k}), vec ({k2})")


def _check_expandable(t, shape):
    """The error expand(shape) raises, without making the view."""
    lead = len(shape) - t.dim()
    for i, size in enumerate(t._shape):
        if size != 1 and size != shape[lead + i]:
            raise RuntimeError(f"The expanded size of the tensor ({shape[lead + i]}) must match the existing size "
                               f"({size}) at non-singleton dimension {lead + i}.  Target sizes: {list(shape)}.  "
                               f"Tensor sizes: {list(t._shape)}")
    if lead < 0:
        raise RuntimeError(f"the number of sizes provided ({len(shape)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({t.dim()})")


def _tracking(*tensors):
    return is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


# ---- running the GEMM ---------------------------------------------------------------------------
def _raw(t, shape, strides, offset=None):
    """A metadata-only view outside autograd (what the launcher reads)."""
    return t._view(tuple(shape), tuple(strides), t._offset if offset is None else offset)


def _as_row(v):
    return _raw(v, (1, v._shape[0]), (1, v._strides[0]))


def _as_col(v):
    return _raw(v, (v._shape[0], 1), (v._strides[0], 1))


def _output(out, shape, dtype, device, inputs, fname):
    """A fresh result, or out= checked like PyTorch (dtype, device, autograd) and resized if needed."""
    if out is None:
        return launch.base.empty(shape, dtype, device)
    if not isinstance(out, Tensor):
        raise TypeError(f"{fname}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if _tracking(*inputs):
        raise RuntimeError(f"{fname}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    if out.dtype is not dtype:
        raise RuntimeError(f"Expected out tensor to have dtype {_CXX[dtype.name]}, but got {_CXX[out.dtype.name]} "
                           "instead")
    launch.base.common_device([out, *inputs], fname)
    if tuple(out._shape) != tuple(shape):
        if out.numel():
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out._shape)}, "
                          f"which does not match the required output shape {list(shape)}. This behavior is "
                          "deprecated, and in a future PyTorch release outputs will not be resized unless they have "
                          "zero elements.", UserWarning, stacklevel=4)
        fresh = launch.base.empty(shape, dtype, device)
        out._storage, out._shape, out._strides, out._offset = fresh._storage, fresh._shape, fresh._strides, 0
    out._bump_version()
    return out


def _part(t, k):
    """The real (k=0) or imaginary (k=1) parts of complex t: a real view with twice the strides."""
    return Tensor._make(t._storage, t._shape, tuple(2 * s for s in t._strides), 2 * t._offset + k,
                        t.dtype.to_real(), t.device)


def _complex_gemm(a, b, out, alpha=1, beta=0, bias=None):
    """launch.gemm.gemm for complex operands: four real GEMMs over the parts' stride-2 views (re re, im im,
    re im, im re; not Gauss's three, which loses accuracy to cancellation) into temporaries that one
    elementwise kernel combines into out's pairs, so that the GEMM template stays real."""
    real = a.dtype.to_real()
    products = []
    for i, j in ((0, 0), (1, 1), (0, 1), (1, 0)):
        products.append(launch.gemm.gemm(_part(a, i), _part(b, j), launch.base.empty(out._shape, real, out.device)))
    launch.elementwise.elementwise("complex_gemm", f"({a.dtype.c})(a - b, c + d)", products, out, real)
    if alpha != 1 or (beta != 0 and bias is not None):
        with no_grad():
            scaled = out * alpha + (bias * beta if beta != 0 and bias is not None else 0)
        launch.elementwise.elementwise("_copy", "a", [scaled], out, out.dtype)
    return out


def _run(fname, a, b, gemm_shape, out_shape, *, out=None, bias=None, alpha=1, beta=0, inputs=()):
    """result[out_shape] = alpha * a @ b + beta * bias, with a, b, bias already checked (raw views)
    and the product laid out as gemm_shape (batch..., M, N), which has out_shape's elements."""
    device = launch.base.common_device((a, b, bias) if bias is not None else (a, b), fname)
    gemm = _complex_gemm if a.dtype.is_complex else launch.gemm.gemm
    if out is None:
        res = launch.base.empty(out_shape, a.dtype, device)
        gemm(a, b, res if out_shape == gemm_shape else _raw(res, gemm_shape, contiguous_strides(gemm_shape)),
             alpha, beta, bias)
        return res
    res = _output(out, out_shape, a.dtype, device, inputs, fname)
    strides = _view_strides(res._shape, res._strides, gemm_shape)
    aliased = out is not None and any(x is not None and x._storage is res._storage for x in (a, b, bias))
    if strides is None or aliased:  # write to a fresh buffer, then copy into out=
        tmp = launch.base.empty(gemm_shape, res.dtype, device)
        gemm(a, b, tmp, alpha, beta, bias)
        launch.elementwise.elementwise("_copy", "a", [_raw(tmp, res._shape, contiguous_strides(res._shape), 0)], res, res.dtype)
        return res
    gemm(a, b, _raw(res, gemm_shape, strides), alpha, beta, bias)
    return res


def _ones(n, like):
    return ones(n, dtype=like.dtype, device=like.device)


def _scaled(t, factor):
    return t if factor == 1 else t * factor


def _sum_to(g, shape):
    """g summed over its broadcast dims down to shape, as a product with ones (differentiable)."""
    shape = tuple(shape)
    if tuple(g._shape) == shape:
        return g
    lead = g.dim() - len(shape)
    reduced = list(range(lead)) + [lead + i for i, s in enumerate(shape) if s == 1 and g._shape[lead + i] != 1]
    kept = [d for d in range(g.dim()) if d not in reduced]
    count = math.prod(g._shape[d] for d in reduced)
    rows = g.permute(kept + reduced).reshape(-1, count)
    return mv(rows, _ones(count, g)).reshape(shape)


# ---- mm, bmm, mv, dot ----------------------------------------------------------------------------
def _mm_vjp(g, out, a, b):
    return (mm(g, b.t().conj()) if a.requires_grad else None,
            mm(a.t().conj(), g) if b.requires_grad else None)


def mm(input, mat2, *, out=None):
    """Matrix product of two 2-D tensors (no broadcasting, no dtype promotion)."""
    _tensors("mm", input=input, mat2=mat2)
    if input.dim() != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.dim() != 2:
        raise RuntimeError("mat2 must be a matrix")
    (m, k), (k2, n) = input._shape, mat2._shape
    _mm_shapes(m, k, k2, n)
    _m1_m2_dtypes(input, mat2)
    _no_bool(input.dtype, "addmm_impl_cpu_")
    res = _run("mm", input, mat2, (m, n), (m, n), out=out, inputs=(input, mat2))
    return graph.record("MmBackward0", _mm_vjp, [input, mat2], res, save=frozenset({0, 1}))


def _bmm_vjp(g, out, a, b):
    return (bmm(g, b.transpose(1, 2).conj()) if a.requires_grad else None,
            bmm(a.transpose(1, 2).conj(), g) if b.requires_grad else None)


def _check_batches(b1, b2, what="bmm"):
    if b1.dim() != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b2.dim() != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b1._shape[0] != b2._shape[0] or b1._shape[2] != b2._shape[1]:
        if what == "addbmm":
            if b1._shape[0] != b2._shape[0]:
                raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {b1._shape[0]} and "
                                   f"{b2._shape[0]}")
            raise RuntimeError(f"Incompatible matrix sizes for bmm ({b1._shape[1]}x{b1._shape[2]} and "
                               f"{b2._shape[1]}x{b2._shape[2]})")
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{b1._shape[0]}, {b1._shape[2]}] but got: [{b2._shape[0]}, {b2._shape[1]}].")


def bmm(input, mat2, *, out=None):
    """Batched matrix product of two 3-D tensors with the same batch size."""
    _tensors("bmm", input=input, mat2=mat2)
    _check_batches(input, mat2)
    _scalar_type_match(input, mat2)
    _no_bool(input.dtype, "bmm")
    shape = (input._shape[0], input._shape[1], mat2._shape[2])
    res = _run("bmm", input, mat2, shape, shape, out=out, inputs=(input, mat2))
    return graph.record("BmmBackward0", _bmm_vjp, [input, mat2], res, save=frozenset({0, 1}))


def _mv_vjp(g, out, a, v):
    return (outer(g, v.conj()) if a.requires_grad else None,
            mv(a.t().conj(), g) if v.requires_grad else None)


def mv(input, vec, *, out=None):
    """Matrix-vector product: input [M, K] @ vec [K] -> [M]."""
    _tensors("mv", input=input, vec=vec)
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.dim()}, {vec.dim()}")
    m, k = input._shape
    _mv_shapes(m, k, vec._shape[0])
    if input.dtype is not vec.dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {vec.dtype.torch_name}, "
                           f"{input.dtype.torch_name}, and {vec.dtype.torch_name}")
    _no_bool(input.dtype, "addmv_impl_cpu")
    res = _run("mv", input, _as_col(vec), (m, 1), (m,), out=out, inputs=(input, vec))
    return graph.record("MvBackward0", _mv_vjp, [input, vec], res, save=frozenset({0, 1}))


def _dot_vjp(g, out, a, b):
    return (g * b.conj() if a.requires_grad else None,
            g * a.conj() if b.requires_grad else None)


def _dot_like(fname, grad_fn, input, other, out):
    _tensors(fname, input=input, tensor=other)
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors")
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{fname} : expected both vectors to have same dtype, but found "
                           f"{input.dtype.torch_name} and {other.dtype.torch_name}")
    n, n2 = input._shape[0], other._shape[0]
    if n != n2:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{n2}] to have the same number "
                           f"of elements, but got {n} and {n2} elements respectively")
    _no_bool(input.dtype, fname)
    res = _run(fname, _as_row(input), _as_col(other), (1, 1), (), out=out, inputs=(input, other))
    return graph.record(grad_fn, _dot_vjp, [input, other], res, save=frozenset({0, 1}))


def dot(input, other, *, out=None):
    """Inner product of two 1-D tensors of the same size and dtype (a 0-d tensor)."""
    return _dot_like("dot", "DotBackward0", input, other, out)


def vdot(input, other, *, out=None):
    """dot of conj(input) and other; for real tensors the same as dot."""
    if isinstance(input, Tensor) and input.dtype.is_complex:
        input = input.conj()
    return _dot_like("vdot", "VdotBackward0", input, other, out)


def outer(input, vec2, *, out=None):
    """Outer product of two 1-D tensors (promotes dtypes, like PyTorch's input[:, None] * vec2)."""
    _tensors("outer", input=input, vec2=vec2)
    for name, v in (("self", input), ("vec2", vec2)):
        if v.dim() != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.dim()}-D")
    return apply(OPS["mul"], (input.unsqueeze(1), vec2), out=out)


ger = outer


def inner(input, other, *, out=None):
    """Sum of products over the last dims (a product with a 0-d tensor is a plain product)."""
    _tensors("inner", input=input, other=other)
    if input.dim() == 0 or other.dim() == 0:
        return apply(OPS["mul"], (input, other), out=out)
    if input._shape[-1] != other._shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input._shape)} and {list(other._shape)}")
    if input.dim() == 1 and other.dim() == 1:
        return dot(input, other, out=out)
    return tensordot(input, other, dims=([-1], [-1]), out=out)


# ---- matmul ----------------------------------------------------------------------------------------
def matmul(input, other, *, out=None):
    """PyTorch's matmul: dot, mv, mm, or a batched product broadcasting the batch dims.

    A 1-D first argument is a row (its dim is removed from the result), a 1-D second argument a
    column. Batch dims broadcast with stride 0: nothing is expanded or copied.
    """
    _tensors("matmul", input=input, other=other)
    da, db = input.dim(), other.dim()
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other, out=out)
    if da == 2 and db == 1:
        return mv(input, other, out=out)
    if da == 2 and db == 2:
        return mm(input, other, out=out)
    if da == 1 and db == 2:
        return _vector_matrix(input, other, out)
    return _matmul_batched(input, other, out)


def _vector_matrix(v, mat, out):
    (k,), (k2, n) = v._shape, mat._shape
    _mm_shapes(1, k, k2, n)
    _m1_m2_dtypes(v, mat)
    _no_bool(v.dtype, "addmm_impl_cpu_")
    res = _run("matmul", _as_row(v), mat, (1, n), (n,), out=out, inputs=(v, mat))
    return graph.record("SqueezeBackward4", _matmul_vjp, [v, mat], res, save=frozenset({0, 1}))


def _check_batched(a, b):
    """PyTorch's messages for an N-D matmul, which it folds into mm/mv or runs as bmm."""
    da, db = a.dim(), b.dim()
    m = a._shape[-2] if da >= 2 else 1
    k = a._shape[-1]
    k2 = b._shape[-2] if db >= 2 else b._shape[0]
    n = b._shape[-1] if db >= 2 else 1
    if da >= 3 and db <= 2:
        rows = math.prod(a._shape[:-1])
        if db == 2:
            _mm_shapes(rows, k, k2, n)
        else:
            _mv_shapes(rows, k, k2)
        if a.dtype is not b.dtype:
            if db == 1:
                raise RuntimeError(f"addmv input tensors must have the same dtype, but got {b.dtype.torch_name}, "
                                   f"{a.dtype.torch_name}, and {b.dtype.torch_name}")
            _m1_m2_dtypes(a, b)
    elif da <= 2 and db >= 3:  # PyTorch folds other^T @ input^T
        rows = math.prod(b._shape[:-2]) * n
        if da == 2:
            _mm_shapes(rows, k2, k, m)
        else:
            _mv_shapes(rows, k2, k)
        _m1_m2_dtypes(b, a)
    else:
        batch = launch.strides.broadcast_shapes(a._shape[:-2], b._shape[:-2])
        if k != k2:
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{math.prod(batch)}, {k}] but got: [{math.prod(batch)}, {k2}].")
        _scalar_type_match(a, b)
    _no_bool(a.dtype, "bmm")
    return m, n


def _matmul_batched(a, b, out):
    _check_batched(a, b)
    a2 = _as_row(a) if a.dim() == 1 else a
    b2 = _as_col(b) if b.dim() == 1 else b
    batch = launch.strides.broadcast_shapes(a2._shape[:-2], b2._shape[:-2])
    m, n = a2._shape[-2], b2._shape[-1]
    out_shape = batch + ((m,) if a.dim() >= 2 else ()) + ((n,) if b.dim() >= 2 else ())
    res = _run("matmul", a2, b2, batch + (m, n), out_shape, out=out, inputs=(a, b))
    return graph.record("UnsafeViewBackward0", _matmul_vjp, [a, b], res, save=frozenset({0, 1}))


def _matmul_vjp(g, out, a, b):
    a2 = a.unsqueeze(0) if a.dim() == 1 else a
    b2 = b.unsqueeze(-1) if b.dim() == 1 else b
    g2 = g.unsqueeze(-2) if a.dim() == 1 else g
    g2 = g2.unsqueeze(-1) if b.dim() == 1 else g2
    ga = _summed_product(g2, b2.mT.conj(), a2._shape, a2).reshape(a._shape) if a.requires_grad else None
    gb = _summed_product(a2.mT.conj(), g2, b2._shape, b2).reshape(b._shape) if b.requires_grad else None
    return ga, gb


def _summed_product(x, y, shape, like):
    """x @ y summed over the batch dims that shape (the gradient's target) broadcasts; a matrix
    gradient comes in like's layout where like is column-major (see _mm_in_layout_of)."""
    batch = launch.strides.broadcast_shapes(x._shape[:-2], y._shape[:-2])
    if tuple(batch) == tuple(shape[:-2]):
        return _mm_in_layout_of(like, x, y) if x.dim() == y.dim() == like.dim() == 2 else matmul(x, y)
    if len(shape) == 2:  # fold the batch into the contraction: one GEMM, no sum
        xe = x.expand(*batch, *x._shape[-2:]).movedim(-2, 0).reshape(x._shape[-2], -1)
        ye = y.expand(*batch, *y._shape[-2:]).reshape(-1, y._shape[-1])
        return _mm_in_layout_of(like, xe, ye)
    return _sum_to(matmul(x, y), shape)


# ---- products with an added term ------------------------------------------------------------------
def _bias_view(input):
    """addmv's input [M] (or [1], or 0-d) laid out to broadcast against the product's [M, 1]."""
    if input.dim() >= 1:
        return _raw(input, input._shape + (1,), input._strides + (1,))
    return input


def _addmm_vjp(g, out, input, m1, m2, alpha, beta):
    return (_scaled(_sum_to(g, input._shape), beta) if input.requires_grad else None,
            _scaled(_mm_in_layout_of(m1, g, m2.t()), alpha) if m1.requires_grad else None,
            _scaled(_mm_in_layout_of(m2, m1.t(), g), alpha) if m2.requires_grad else None)


def _mm_in_layout_of(like, a, b):
    """a @ b, computed as (b^T a^T)^T where `like` is column-major (a transposed view, as linear's
    weight.t()): the gradient then has like's layout, and its leaf takes it over without a copy."""
    if like._strides[0] == 1 and like._strides[1] != 1 and like._shape[0] > 1 and like._shape[1] > 1:
        return mm(b.t(), a.t()).t()
    return mm(a, b)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat1 @ mat2), input broadcast to the product's shape."""
    _tensors("addmm", input=input, mat1=mat1, mat2=mat2)
    for name, x in (("mat1", mat1), ("mat2", mat2)):
        if x.dim() != 2:
            raise RuntimeError(f"{name} must be a matrix, got {x.dim()}-D tensor")
    (m, k), (k2, n) = mat1._shape, mat2._shape
    _mm_shapes(m, k, k2, n)
    if mat1.dtype is not mat2.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {mat1.dtype.torch_name} and "
                           f"{mat2.dtype.torch_name}")
    if input.dtype is not mat1.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {input.dtype.torch_name} and "
                           f"{mat2.dtype.torch_name}")
    _check_expandable(input, (m, n))
    _no_bool(input.dtype, "addmm_impl_cpu_")
    res = _run("addmm", mat1, mat2, (m, n), (m, n), out=out, bias=input, alpha=alpha, beta=beta,
               inputs=(input, mat1, mat2))
    return graph.record("AddmmBackward0", _addmm_vjp, [input, mat1, mat2], res, {"alpha": alpha, "beta": beta},
                        save=frozenset({0, 1, 2}))


def _addmv_vjp(g, out, input, mat, vec, alpha, beta):
    return (_scaled(_sum_to(g, input._shape), beta) if input.requires_grad else None,
            _scaled(outer(g, vec), alpha) if mat.requires_grad else None,
            _scaled(mv(mat.t(), g), alpha) if vec.requires_grad else None)


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat @ vec), input broadcast to [M]."""
    _tensors("addmv", input=input, mat=mat, vec=vec)
    if mat.dim() != 2 or vec.dim() != 1 or input.dim() > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.dim()}, {mat.dim()}, {vec.dim()}")
    m, k = mat._shape
    _mv_shapes(m, k, vec._shape[0], input._shape[0] if input.dim() == 1 and input._shape[0] != 1 else None)
    if not input.dtype is mat.dtype is vec.dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {input.dtype.torch_name}, "
                           f"{mat.dtype.torch_name}, and {vec.dtype.torch_name}")
    _no_bool(mat.dtype, "addmv_impl_cpu")
    res = _run("addmv", mat, _as_col(vec), (m, 1), (m,), out=out, bias=_bias_view(input), alpha=alpha,
               beta=beta, inputs=(input, mat, vec))
    return graph.record("AddmvBackward0", _addmv_vjp, [input, mat, vec], res, {"alpha": alpha, "beta": beta},
                        save=frozenset({0, 1, 2}))


def _addr_vjp(g, out, input, v1, v2, alpha, beta):
    return (_scaled(_sum_to(g, input._shape), beta) if input.requires_grad else None,
            _scaled(mv(g, v2.to(g.dtype)), alpha) if v1.requires_grad else None,
            _scaled(mv(g.t(), v1.to(g.dtype)), alpha) if v2.requires_grad else None)


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * outer(vec1, vec2) (promotes dtypes, like PyTorch)."""
    _tensors("addr", input=input, vec1=vec1, vec2=vec2)
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.dim() != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.dim()}-D")
    d = dt.result_type(input, vec1, vec2)
    _no_bool(d, "addr")
    shape = (vec1._shape[0], vec2._shape[0])
    _check_expandable(input, shape)
    with no_grad():
        x, v1, v2 = (t.to(d) for t in (input, vec1, vec2))
    res = _run("addr", _as_col(v1), _as_row(v2), shape, shape, out=out, bias=x, alpha=alpha, beta=beta,
               inputs=(input, vec1, vec2))
    return graph.record("AddrBackward0", _addr_vjp, [input, vec1, vec2], res, {"alpha": alpha, "beta": beta},
                        save=frozenset({0, 1, 2}))


def _baddbmm_vjp(g, out, input, b1, b2, alpha, beta):
    return (_scaled(_sum_to(g, input._shape), beta) if input.requires_grad else None,
            _scaled(bmm(g, b2.transpose(1, 2)), alpha) if b1.requires_grad else None,
            _scaled(bmm(b1.transpose(1, 2), g), alpha) if b2.requires_grad else None)


def _same_input_dtypes(input, b1, b2):
    if not input.dtype is b1.dtype is b2.dtype:
        if b1.dtype is b2.dtype:
            raise RuntimeError(f"Input dtypes must be the same, got: input {_CXX[input.dtype.name]}, batch1: "
                               f"{_CXX[b1.dtype.name]}, batch2: {_CXX[b2.dtype.name]}")
        _scalar_type_match(b1, b2)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * bmm(batch1, batch2), input broadcast to [B, M, N]."""
    _tensors("baddbmm", input=input, batch1=batch1, batch2=batch2)
    _check_batches(batch1, batch2)
    shape = (batch1._shape[0], batch1._shape[1], batch2._shape[2])
    _check_expandable(input, shape)
    _same_input_dtypes(input, batch1, batch2)
    _no_bool(input.dtype, "baddbmm")
    res = _run("baddbmm", batch1, batch2, shape, shape, out=out, bias=input, alpha=alpha, beta=beta,
               inputs=(input, batch1, batch2))
    return graph.record("BaddbmmBackward0", _baddbmm_vjp, [input, batch1, batch2], res,
                        {"alpha": alpha, "beta": beta}, save=frozenset({0, 1, 2}))


def _addbmm_vjp(g, out, input, b1, b2, alpha, beta):
    return (_scaled(_sum_to(g, input._shape), beta) if input.requires_grad else None,
            _scaled(matmul(g.unsqueeze(0), b2.transpose(1, 2)), alpha) if b1.requires_grad else None,
            _scaled(matmul(b1.transpose(1, 2), g.unsqueeze(0)), alpha) if b2.requires_grad else None)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * sum_b batch1[b] @ batch2[b]: one GEMM with the batch folded into K."""
    _tensors("addbmm", input=input, batch1=batch1, batch2=batch2)
    _check_batches(batch1, batch2, "addbmm")
    (nb, m, k), n = batch1._shape, batch2._shape[2]
    _check_expandable(input, (m, n))
    _same_input_dtypes(input, batch1, batch2)
    _no_bool(input.dtype, "addbmm")
    with no_grad():
        lhs = batch1.permute(1, 0, 2).reshape(m, nb * k)
        rhs = batch2.reshape(nb * k, n)
    res = _run("addbmm", lhs, rhs, (m, n), (m, n), out=out, bias=input, alpha=alpha, beta=beta,
               inputs=(input, batch1, batch2))
    return graph.record("AddbmmBackward0", _addbmm_vjp, [input, batch1, batch2], res,
                        {"alpha": alpha, "beta": beta}, save=frozenset({0, 1, 2}))


# ---- tensordot and einsum ----------------------------------------------------------------------------
def tensordot(a, b, dims=2, out=None):
    """Contract a's dims_a with b's dims_b: permute and reshape both to matrices, one mm, reshape back."""
    _tensors("tensordot", a=a, b=b)
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(a.dim() - dims, a.dim())), list(range(dims))
        shown_a, shown_b = dims_a, dims_b
    else:
        shown_a, shown_b = ([d] if isinstance(d, int) else list(d) for d in dims)
        dims_a = [d % max(a.dim(), 1) for d in shown_a]
        dims_b = [d % max(b.dim(), 1) for d in shown_b]
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    for da, db, sa, sb in zip(dims_a, dims_b, shown_a, shown_b):
        if a._shape[da] != b._shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a._shape[da]} in dim {sa} "
                               f"and second has size {b._shape[db]} in dim {sb}")
    free_a = [d for d in range(a.dim()) if d not in dims_a]
    free_b = [d for d in range(b.dim()) if d not in dims_b]
    size = math.prod(a._shape[d] for d in dims_a)
    lhs = a.permute(free_a + dims_a).reshape(math.prod(a._shape[d] for d in free_a), size)
    rhs = b.permute(dims_b + free_b).reshape(size, math.prod(b._shape[d] for d in free_b))
    shape = tuple(a._shape[d] for d in free_a) + tuple(b._shape[d] for d in free_b)
    res = mm(lhs, rhs).reshape(shape)
    if out is None:
        return res
    dest = _output(out, shape, res.dtype, res.device, (a, b), "tensordot")
    launch.elementwise.elementwise("_copy", "a", [res], dest, dest.dtype)
    return dest


def einsum(equation, *operands):
    """Einstein summation reduced to permutes, reshapes and (batched) GEMMs.

    Repeated subscripts in one operand take a diagonal, subscripts found in one operand only
    and not in the output are summed (a product with ones), and the operands are contracted
    left to right, each pair as one batched matmul over (batch, kept, contracted) groups.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be str, not {type(equation).__name__}")
    for i, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum(): argument 'operands' must be tuple of Tensors, but found element of type "
                            f"{type(x).__name__} at pos {i}")
    terms, output = _parse_einsum(equation, operands)
    sizes = _einsum_sizes(terms, operands)
    ops = [_einsum_diagonal(x, labels) for x, labels in zip(operands, terms)]
    for i in range(len(ops)):
        ops[i] = _einsum_sum_unused(ops[i], ops, i, output)
    x, labels = ops[0]
    for i in range(1, len(ops)):
        y, ylabels = ops[i]
        keep = set(output).union(*(later for _, later in ops[i + 1:]))
        x, labels = _einsum_pair(x, labels, y, ylabels, keep, sizes)
    x, labels = _einsum_sum_unused((x, labels), [(x, labels)], 0, output)
    return x.permute([labels.index(c) for c in output]) if labels != list(output) else x


_ELLIPSIS_LABELS = [chr(0x100 + i) for i in range(64)]  # stand-ins for the dims '...' covers


def _parse_einsum(equation, operands):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    texts = lhs.split(",")
    if len(texts) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(texts) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    terms, ell_dims = [], 0
    position = 0
    for i, (text, x) in enumerate(zip(texts, operands)):
        labels = _einsum_labels(text, position)
        position += len(text) + 1
        if "..." in labels:
            ell = x.dim() - (len(labels) - 1)
            if ell < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(labels) - 1}) is more "
                                   f"than the number of dimensions ({x.dim()}) for operand {i}")
            ell_dims = max(ell_dims, ell)
            j = labels.index("...")
            labels[j:j + 1] = _ELLIPSIS_LABELS[64 - ell:] if ell else []
        elif len(labels) != x.dim():
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(labels)}) does not match "
                               f"the number of dimensions ({x.dim()}) for operand {i} and no ellipsis was given")
        terms.append(labels)
    ellipsis = _ELLIPSIS_LABELS[64 - ell_dims:] if ell_dims else []
    if arrow:
        out = _einsum_labels(rhs, len(lhs) + 2)
        if "..." in out:
            j = out.index("...")
            out[j:j + 1] = ellipsis
        seen = {c for t in terms for c in t}
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
            if c not in seen:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                                   "operand")
    else:
        counts = {}
        for t in terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ellipsis + sorted(c for c, k in counts.items() if k == 1 and c not in ellipsis)
    return terms, out


def _einsum_labels(text, start):
    labels, i = [], 0
    while i < len(text):
        if text.startswith("...", i):
            if "..." in labels:
                raise RuntimeError("einsum(): found '.' for operand that is not part of any ellipsis")
            labels.append("...")
            i += 3
            continue
        c = text[i]
        if not c.isascii() or not c.isalpha():
            raise RuntimeError(f"einsum(): invalid subscript given at index {start + i} in the equation string, "
                               "subscripts must be in [a-zA-Z]")
        labels.append(c)
        i += 1
    return labels


def _einsum_sizes(terms, operands):
    sizes = {}
    for i, (labels, x) in enumerate(zip(terms, operands)):
        for c, n in zip(labels, x._shape):
            prev = sizes.get(c)
            if prev is None or prev == 1:
                sizes[c] = n
            elif n != 1 and n != prev:
                shown = c if c not in _ELLIPSIS_LABELS else "..."
                raise RuntimeError(f"einsum(): subscript {shown} has size {n} for operand {i} which does not "
                                   f"broadcast with previously seen size {prev}")
    return sizes


def _einsum_diagonal(x, labels):
    """Take diagonals for labels repeated within one operand ('ii->i')."""
    labels = list(labels)
    while True:
        dup = next((c for c in labels if labels.count(c) > 1), None)
        if dup is None:
            return x, labels
        i = labels.index(dup)
        j = labels.index(dup, i + 1)
        x = x.diagonal(0, i, j)
        labels = [c for k, c in enumerate(labels) if k not in (i, j)] + [dup]


def _einsum_sum_unused(item, ops, index, output):
    """Sum the dims whose label no other operand and not the output uses."""
    x, labels = item
    elsewhere = set(output)
    for k, (_, other) in enumerate(ops):
        if k != index:
            elsewhere.update(other)
    unused = [i for i, c in enumerate(labels) if c not in elsewhere]
    if not unused:
        return x, labels
    kept = [i for i in range(len(labels)) if i not in unused]
    count = math.prod(x._shape[i] for i in unused)
    rows = x.permute(kept + unused).reshape(-1, count)
    summed = mv(rows, _ones(count, x)).reshape(tuple(x._shape[i] for i in kept))
    return summed, [labels[i] for i in kept]


def _einsum_pair(x, xl, y, yl, keep, sizes):
    """Contract two operands: labels in both that are kept (by the output or a later operand) are
    batch dims, labels in both and not kept are contracted, the rest stay on their side."""
    batch = [c for c in xl if c in yl and c in keep]
    contracted = [c for c in xl if c in yl and c not in keep]
    left = [c for c in xl if c not in yl]
    right = [c for c in yl if c not in xl]
    x = _einsum_arrange(x, xl, batch + left + contracted, sizes)
    y = _einsum_arrange(y, yl, batch + contracted + right, sizes)
    nb = len(batch)
    bshape = tuple(sizes[c] for c in batch)
    lsize = math.prod(sizes[c] for c in left)
    ksize = math.prod(sizes[c] for c in contracted)
    rsize = math.prod(sizes[c] for c in right)
    xm = x.reshape(x._shape[:nb] + (lsize, ksize))
    ym = y.reshape(y._shape[:nb] + (ksize, rsize))
    z = matmul(xm, ym)
    z = z.reshape(bshape + tuple(sizes[c] for c in left) + tuple(sizes[c] for c in right))
    return z, batch + left + right


def _einsum_arrange(x, labels, order, sizes):
    """Permute x's dims into order and expand size-1 dims that other operands broadcast."""
    x = x.permute([labels.index(c) for c in order]) if order != labels else x
    target = tuple(sizes[c] for c in order)
    return x.expand(*target) if tuple(x._shape) != target else x


# ---- methods and operators ------------------------------------------------------------------------
def _matmul_operator(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(self, other)


def _rmatmul_operator(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(other, self)


def _inplace(fn):
    def method(self, *args, **kwargs):
        result = fn(self, *args, **kwargs)
        return copy_(self, result)
    method.__name__ = fn.__name__ + "_"
    return method


for _name, _fn in (("mm", mm), ("bmm", bmm), ("matmul", matmul), ("mv", mv), ("dot", dot), ("vdot", vdot),
                   ("inner", inner), ("outer", outer), ("ger", ger), ("addmm", addmm), ("addmv", addmv),
                   ("addr", addr), ("baddbmm", baddbmm), ("addbmm", addbmm)):
    register(_name, _fn)
for _name, _fn in (("addmm_", addmm), ("addmv_", addmv), ("addr_", addr), ("baddbmm_", baddbmm),
                   ("addbmm_", addbmm)):
    register(_name, _inplace(_fn))
register("__matmul__", _matmul_operator)
register("__rmatmul__", _rmatmul_operator)
