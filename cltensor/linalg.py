"""torch.linalg: norms, products and the dense factorisations, with PyTorch's names and errors.

The factorisations (Cholesky, LU with partial pivoting, triangular solves) run on the device,
batched over every leading dim in one launch per step (cltensor/ops/decomp.py, kernels in
kernels_cl/linalg.cl.mako; wide matrices are blocked and updated with the GEMM). Everything else
is plain Tensor code on top of them, and each differentiable function records PyTorch's backward
formula written in cltensor ops (so it is differentiable again).

Functions that raise on singular or non positive-definite input (cholesky, inv, solve, lu_factor)
read the factorisation's info back to the host, as PyTorch does; their ``_ex`` variants do not.

    >>> import cltensor as torch
    >>> A = torch.tensor([[4., 2.], [2., 3.]])
    >>> torch.linalg.cholesky(A).tolist()
    [[2.0, 0.0], [1.0, 1.4142135381698608]]
"""
from __future__ import annotations

import math
import warnings
from collections import namedtuple

import numpy as np

from . import dtypes as dt
from .autograd import graph
from .autograd.grad_mode import is_grad_enabled, no_grad
from .launch.strides import broadcast_shapes
from .ops import decomp
from .ops.creation import arange, empty, eye, ones, tensor, zeros
from .ops.elementwise import maximum, where
from .ops.joins import cat, stack
from .ops.linalg import _output, matmul as _matmul
from .ops.reduce import norm as _norm
from .tensor import Tensor

__all__ = ["LinAlgError", "vector_norm", "matrix_norm", "norm", "diagonal", "cross", "vecdot", "matmul", "multi_dot",
           "matrix_power", "vander", "cholesky", "cholesky_ex", "solve_triangular", "lu_factor", "lu_factor_ex", "lu",
           "lu_solve", "solve", "solve_ex", "inv", "inv_ex", "det", "slogdet", "tensorinv", "tensorsolve",
           "qr", "householder_product", "svd", "svdvals", "eigh", "eigvalsh", "eig", "eigvals", "pinv", "matrix_rank",
           "lstsq", "cond", "matrix_exp", "ldl_factor", "ldl_factor_ex", "ldl_solve"]


class LinAlgError(RuntimeError):
    """Raised for singular or non positive-definite inputs (torch.linalg.LinAlgError)."""


CholeskyEx = namedtuple("linalg_cholesky_ex", ["L", "info"])
LUFactor = namedtuple("linalg_lu_factor", ["LU", "pivots"])
LUFactorEx = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
LU = namedtuple("linalg_lu", ["P", "L", "U"])
SolveEx = namedtuple("linalg_solve_ex", ["result", "info"])
InvEx = namedtuple("linalg_inv_ex", ["inverse", "info"])
Slogdet = namedtuple("linalg_slogdet", ["sign", "logabsdet"])


# ---- argument checks (all before any kernel runs) -------------------------------------------------
def _tensor(fname, x, name="A"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{name}' must be Tensor, not {type(x).__name__}")


def _floating(fname, x, low_precision_message=True):
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{fname}: Expected a floating point or complex tensor as input. Got "
                           f"{x.dtype.torch_name}")
    if x.dtype not in (dt.float32, dt.float64) and low_precision_message:
        raise RuntimeError(f"{fname}: Low precision dtypes not supported. Got {x.dtype.torch_name}")


def _matrices(fname, x, name="A", square=True):
    _tensor(fname, x, name)
    if x.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor {name} must have at least 2 dimensions.")
    if square and x.shape[-1] != x.shape[-2]:
        raise RuntimeError(f"{fname}: {name} must be batches of square matrices, but they are "
                           f"{x.shape[-2]} by {x.shape[-1]} matrices")
    _floating(fname, x)


def _same_dtype(fname, a, b):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{fname}: Expected A and B to have the same dtype, but found A of type "
                           f"{a.dtype.torch_name} and B of type {b.dtype.torch_name} instead")


def _broadcast_batch(*shapes):
    return tuple(broadcast_shapes(*[tuple(s) for s in shapes]))


def _raise_info(info, batched, message):
    """PyTorch's LinAlgError for the first nonzero info (a host read: the call waits here)."""
    if info.numel() == 0:
        return
    values = info.reshape(-1).cpu().tolist()
    for b, code in enumerate(values):
        if code:
            prefix = f"(Batch element {b}): " if batched else ""
            raise LinAlgError(message(prefix, code))


# ---- working copies ----------------------------------------------------------------------------
def _work(x, batch_shape=None):
    """A fresh contiguous (batch, rows, cols) copy of x's values (x broadcast to batch_shape), outside autograd."""
    x = x.detach()
    rows, cols = x.shape[-2], x.shape[-1]
    if batch_shape is not None and tuple(x.shape[:-2]) != tuple(batch_shape):
        x = x.expand(*batch_shape, rows, cols)
    copy = x.contiguous()
    if copy._storage is x._storage:
        copy = _fresh_copy(x)
    return _flat(copy)


def _flat(x):
    """x (batch..., rows, cols) as (batch, rows, cols) (a view where the strides allow)."""
    return x.reshape(math.prod(x.shape[:-2]), *x.shape[-2:])


def _fresh_copy(x):
    out = empty(tuple(x.shape), dtype=x.dtype, device=x.device)
    out.copy_(x)
    return out


def _eye_like(n, like, batch_shape=()):
    e = eye(n, dtype=like.dtype, device=like.device)
    return e.expand(*batch_shape, n, n) if batch_shape else e


# ---- norms ------------------------------------------------------------------------------------------
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """The vector ord-norm of x over dim (every element when None): any real ord, inf, -inf, 0."""
    _tensor("linalg.vector_norm", x, "input")
    if isinstance(ord, str):
        raise TypeError("linalg_vector_norm(): argument 'ord' must be Number, not str")
    if dtype is not None and x.dtype.is_floating_point:
        x = x.to(dtype)
    res = _norm(x, float(ord), dim, keepdim, dtype)
    return _into(out, res)


def _into(out, res, fname="linalg"):
    """res, or res copied into out= (checked and resized as PyTorch does)."""
    if out is None:
        return res
    dst = _output(out, tuple(res.shape), res.dtype, res.device, (res,), fname)
    with no_grad():
        dst.copy_(res)
    return dst


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """Matrix norms: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf (the last three kinds through svdvals)."""
    _tensor("linalg.matrix_norm", A)
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    _floating("linalg.matrix_norm", A, low_precision_message=False)
    if dtype is not None:
        A = A.to(dtype)
    d0, d1 = (d % A.dim() for d in dim)
    if ord == "fro":
        res = vector_norm(A, 2, (d0, d1), keepdim)
    elif ord in (1, -1, math.inf, -math.inf):
        summed, other = (d0, d1) if abs(ord) == 1 else (d1, d0)
        sums = A.abs().sum(summed, keepdim=True)
        res = sums.amax(other, keepdim=True) if ord > 0 else sums.amin(other, keepdim=True)
        if not keepdim:
            res = res.squeeze(max(d0, d1)).squeeze(min(d0, d1))
    elif ord in ("nuc", 2, -2):
        S = svdvals(A.movedim((d0, d1), (-2, -1)))
        res = S.sum(-1) if ord == "nuc" else S.amax(-1) if ord == 2 else S.amin(-1)
        if keepdim:
            res = res.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    return _into(out, res)


def norm(A, ord=None, dim=None, keepdim=False, *, out=None, dtype=None):
    """torch.linalg.norm: a vector norm over one dim (or the flattened input), a matrix norm over two."""
    _tensor("linalg.norm", A)
    if dim is not None and not isinstance(dim, (tuple, list)):
        dim = (dim,)
    if ord is None:
        if dim is not None and len(dim) == 2:
            return matrix_norm(A, "fro", dim, keepdim, dtype=dtype, out=out)
        return vector_norm(A, 2, dim, keepdim, dtype=dtype, out=out)
    if dim is None:
        if A.dim() not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                               f"Got {A.dim()}D.")
        dim = tuple(range(A.dim()))
    if len(dim) == 2:
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype, out=out)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype, out=out)


# ---- products and helpers ------------------------------------------------------------------------------
def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal of each matrix (a view), as torch.diagonal with the matrix dims last by default."""
    return A.diagonal(offset, dim1, dim2)


def cross(input, other, *, dim=-1, out=None):
    """Cross product of 3-vectors along dim, broadcasting the other dims."""
    _tensor("linalg.cross", input, "input")
    _tensor("linalg.cross", other, "other")
    if input.dim() != other.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[dim]} and "
                           f"{other.shape[dim]}")
    a0, a1, a2 = input.unbind(dim)
    b0, b1, b2 = other.unbind(dim)
    res = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim % input.dim())
    return _into(out, res)


def vecdot(x, y, *, dim=-1, out=None):
    """Dot products of the vectors along dim (broadcasting the other dims)."""
    _tensor("linalg.vecdot", x, "x")
    _tensor("linalg.vecdot", y, "y")
    if x.dtype is not y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{x.dtype.torch_name} and y of type {y.dtype.torch_name} instead.")
    return _into(out, (x * y).sum(dim))


def matmul(input, other, *, out=None):
    return _matmul(input, other, out=out)


def multi_dot(tensors, *, out=None):
    """The product of a chain of matrices (the first may be a row vector, the last a column
    vector), multiplied in the order that costs the fewest multiplications, as PyTorch does."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_vec, last_vec = tensors[0].dim() == 1, tensors[-1].dim() == 1
    mats = [t.unsqueeze(0) if first_vec and i == 0 else t.unsqueeze(-1) if last_vec and i == len(tensors) - 1
            else t for i, t in enumerate(tensors)]
    for i, t in enumerate(mats):
        if t.dim() != 2:
            which = "first" if i == 0 else "last" if i == len(mats) - 1 else None
            if which:
                raise RuntimeError(f"multi_dot(): the {which} tensor must be 1D or 2D but got {tensors[i].dim()}D")
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
        if t.dtype is not mats[0].dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                               f"{mats[0].dtype.torch_name} and tensor {i} {t.dtype.torch_name}")
        if i and mats[i - 1].shape[1] != t.shape[0]:
            a, b = mats[i - 1].shape, t.shape
            raise RuntimeError(f"multi_dot(): tensors {i - 1} and {i} with shapes {list(a)} and {list(b)} cannot "
                               "be multiplied")
    res = _chain(mats, _chain_order([m.shape[0] for m in mats] + [mats[-1].shape[1]]), 0, len(mats) - 1)
    if first_vec:
        res = res.squeeze(0)
    if last_vec:
        res = res.squeeze(-1)
    return _into(out, res)


def _chain_order(dims):
    """The classic matrix-chain dynamic programme: split[i][j] of the cheapest bracketing."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(mats, split, i, j):
    if i == j:
        return mats[i]
    k = split[i][j]
    return _chain(mats, split, i, k).mm(_chain(mats, split, k + 1, j))


def matrix_power(A, n, *, out=None):
    """A to the integer power n by repeated squaring (n < 0 inverts first; n = 0 gives identities)."""
    _tensor("linalg.matrix_power", A)
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if n == 0:
        return _into(out, _eye_like(A.shape[-1], A, tuple(A.shape[:-2])).clone())
    if n < 0:
        A, n = inv(A), -n
    result, square = None, A
    while True:
        if n & 1:
            result = square if result is None else result.matmul(square)
        n >>= 1
        if not n:
            break
        # NOTE: a second tensor object over the same values: launch.gemm.gemm's plan cache maps operands
        # to kernel slots by identity, so square @ square would replay later a @ b launches as a @ a
        square = square.matmul(square.view_as(square))
    return _into(out, result if result is not A else A.clone())


def vander(x, *, N=None):
    """Vandermonde matrices: x[..., i] ** j for j < N (N defaults to x.shape[-1])."""
    _tensor("linalg.vander", x, "x")
    if x.dim() < 1:
        raise RuntimeError("linalg.vander: Expected x to have at least 1 dimension")
    n = x.shape[-1] if N is None else N
    if n <= 1:
        if n < 0:
            raise RuntimeError("N must be greater than 1.")
        return ones((*x.shape, n), dtype=x.dtype if x.dtype is not dt.bool_ else dt.int64, device=x.device)
    x = x if x.dtype is not dt.bool_ else x.to(dt.int64)
    powers = x.unsqueeze(-1).expand(*x.shape, n - 1).cumprod(-1)
    return cat([powers.new_ones((*x.shape, 1)), powers], -1)


# ---- Cholesky --------------------------------------------------------------------------------------
def _phi(X):
    """The lower triangle of X with its diagonal halved."""
    return X.tril() - 0.5 * X.diagonal(0, -2, -1).diag_embed()


def _cholesky_vjp(g, out, A, upper):
    L = out[0]
    gL = g[0]
    if gL is None:
        return None
    if upper:
        L, gL = L.mT, gL.mT
    # gA = L^-T phi(L^T gL) L^-1, symmetrised (PyTorch's cholesky_backward)
    S = solve_triangular(L.mT, _phi(L.mT.matmul(gL)), upper=True)
    S = solve_triangular(L, S, upper=False, left=False)
    return 0.5 * (S + S.mT)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """(L, info): the lower (or upper) Cholesky factor and, per matrix, 0 or the order of the
    first leading minor that is not positive-definite. Reads only A's lower triangle."""
    _matrices("linalg.cholesky", A)
    work = _work(A)
    info = decomp.int_zeros((work.shape[0],), A.device)
    decomp.cholesky(work, info)
    L = work.tril().reshape(A.shape)
    if upper:
        L = L.mT.contiguous()
    info = info.reshape(A.shape[:-2])
    if check_errors:
        _raise_info(info, A.dim() > 2, _cholesky_message("linalg.cholesky_ex"))
    L = graph.record("LinalgCholeskyExBackward0", _cholesky_vjp, [A], (L, info), {"upper": upper},
                     save=frozenset({"out"}), num_outputs=2)
    return _out2(out, CholeskyEx(*L))


def _out2(out, res):
    if out is None:
        return res
    for o, r in zip(out, res):
        _into(o, r)
    return type(res)(*out)


def _cholesky_message(fname):
    return lambda prefix, code: (f"{fname}: {prefix}The factorization could not be completed because the input is "
                                 f"not positive-definite (the leading minor of order {code} is not positive-definite).")


def cholesky(A, *, upper=False, out=None):
    """The Cholesky factor L (A = L L^T) of symmetric positive-definite matrices; LinAlgError otherwise."""
    L, info = cholesky_ex(A, upper=upper)
    _raise_info(info, A.dim() > 2, _cholesky_message("linalg.cholesky"))
    return _into(out, L)


# ---- triangular solves ----------------------------------------------------------------------------
def _solve_triangular_vjp(g, out, A, B, upper, left, unitriangular):
    X = out
    gB = solve_triangular(A.mT, g, upper=not upper, left=left, unitriangular=unitriangular)
    gA = None
    if A.requires_grad:
        gA = -(gB.matmul(X.mT) if left else X.mT.matmul(gB))
        gA = gA.triu(1 if unitriangular else 0) if upper else gA.tril(-1 if unitriangular else 0)
    return gA, (gB if B.requires_grad else None)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """X with A X = B (X A = B when left=False) for triangular A (only its upper or lower triangle is read)."""
    fname = "linalg.solve_triangular"
    _matrices(fname, A)
    _tensor(fname, B, "B")
    if B.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor B must have at least 2 dimensions.")
    _same_dtype(fname, A, B)
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"{fname}: Incompatible shapes of A and B for the equation {eq} "
                           f"({A.shape[-2]}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    batch = _broadcast_batch(A.shape[:-2], B.shape[:-2])
    X = _work(B, batch)
    T = _flat(A.detach().expand(*batch, n, n))
    lower = not upper
    if left:
        decomp.solve_triangular(T, X, lower=lower, unit=unitriangular)
    else:  # X A = B  <=>  A^T X^T = B^T
        decomp.solve_triangular(decomp._transposed(T), decomp._transposed(X), lower=not lower, unit=unitriangular)
    X = X.reshape(*batch, B.shape[-2], B.shape[-1])
    X = graph.record("LinalgSolveTriangularBackward0", _solve_triangular_vjp, [A, B], X,
                     {"upper": upper, "left": left, "unitriangular": unitriangular}, save=frozenset({0, "out"}))
    return _into(out, X)


# ---- LU -----------------------------------------------------------------------------------------------
def _lu_raw(A, fname, batch=None):
    """(LU (batch, m, n) work copy, pivots (batch, k) int32, info (batch,) int32) of A's values."""
    work = _work(A, batch)
    nb, m, n = work.shape
    pivots = decomp.int_zeros((nb, min(m, n)), A.device)
    info = decomp.int_zeros((nb,), A.device)
    decomp.lu(work, pivots, info)
    return work, pivots, info


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """(LU, pivots, info): LAPACK's compact LU with partial pivoting (pivots 1-based, int32); info
    is 0 or the first zero pivot's (1-based) place. Differentiable for square A."""
    fname = "torch.linalg.lu_factor_ex"
    _matrices("linalg.lu_factor", A, square=False)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    work, pivots, info = _lu_raw(A, fname)
    batch = tuple(A.shape[:-2])
    res = LUFactorEx(work.reshape(A.shape), pivots.reshape(*batch, pivots.shape[-1]), info.reshape(batch))
    if A.shape[-1] == A.shape[-2]:
        res = LUFactorEx(*graph.record("LinalgLuFactorExBackward0", _lu_factor_vjp, [A], tuple(res),
                                       save=frozenset({"out"}), num_outputs=3))
    if check_errors:
        _raise_lu_zero(res.info, fname)
    return _out2(out, res)


def _lu_factor_vjp(g, out, A):
    """lu_factor's gradient: lu's rule with gL and gU read from the compact gradient."""
    LU_, pivots, _ = out
    gLU = g[0]
    if gLU is None:
        return None
    P, L, U = lu_unpack(LU_, pivots)
    return _lu_vjp((gLU.tril(-1), gLU.triu()), (L, U), A, P)


def _raise_lu_zero(info, fname):
    values = info.reshape(-1).cpu().tolist()
    for code in values:
        if code:
            raise RuntimeError(f"{fname}: U[{code},{code}] is zero and using it on lu_solve would result in a division "
                               "by zero. If you still want to perform the factorization, consider calling "
                               "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True, out=None):
    """(LU, pivots) of A; raises where a pivot is zero (use lu_factor_ex to get info instead)."""
    LU_, pivots, info = lu_factor_ex(A, pivot=pivot)
    _raise_lu_zero(info, "torch.linalg.lu_factor")
    return _out2(out, LUFactor(LU_, pivots))


# ---- LDL (Bunch-Kaufman) ----------------------------------------------------------------------------------
LDLFactor = namedtuple("linalg_ldl_factor", ["LD", "pivots"])
LDLFactorEx = namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])


def _no_ldl_derivative(g, out, A):
    raise RuntimeError("derivative for aten::linalg_ldl_factor_ex is not implemented")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    """(LD, pivots, info): A = P L D L^T P^T of a symmetric A's lower triangle with Bunch-Kaufman
    pivoting, in LAPACK's compact form (sytrf: L below the diagonal, D's 1x1 and 2x2 blocks on and
    next to it, the upper triangle zero; pivots 1-based int32, negative for a 2x2 block); info is 0 or
    the first zero column of D (1-based). Not differentiable, as in PyTorch."""
    fname = "torch.linalg.ldl_factor_ex"
    _matrices(fname, A)
    if A.dtype.is_complex:
        raise NotImplementedError(f"{fname}: complex inputs are not supported by cltensor")
    work = _work(A)
    nb, n = work.shape[0], work.shape[-1]
    pivots, info = decomp.int_zeros((nb, n), A.device), decomp.int_zeros((nb,), A.device)
    decomp.ldl(work, pivots, info)
    batch = tuple(A.shape[:-2])
    res = LDLFactorEx(work.reshape(A.shape).tril(), pivots.reshape(*batch, n), info.reshape(batch))
    res = LDLFactorEx(*graph.record("LinalgLdlFactorExBackward0", _no_ldl_derivative, [A], tuple(res),
                                    save=frozenset(), num_outputs=3))
    if check_errors:
        _raise_ldl_zero(res.info, fname)
    return _out2(out, res)


def _raise_ldl_zero(info, fname):
    _raise_info(info, info.dim() > 0, lambda prefix, code: f"{fname}: {prefix}The factorization could not be "
                f"completed because the input is singular (D[{code},{code}] is zero).")


def ldl_factor(A, *, hermitian=False, out=None):
    """(LD, pivots) of ldl_factor_ex; raises LinAlgError where D is singular."""
    LD, pivots, info = ldl_factor_ex(A, hermitian=hermitian)
    _raise_ldl_zero(info, "torch.linalg.ldl_factor")
    return _out2(out, LDLFactor(LD, pivots))


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """X with A X = B from ldl_factor's (LD, pivots) (LAPACK's sytrs on the device)."""
    fname = "torch.linalg.ldl_solve"
    _matrices(fname, LD, "LD")
    _same_dtype(fname, LD, B)
    n = LD.shape[-1]
    if B.dim() < 2 or B.shape[-2] != n:
        raise RuntimeError(f"{fname}: Incompatible shapes of A and B for the equation AX = B "
                           f"({n}x{n} and {'x'.join(map(str, B.shape[-2:]))})")
    if tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise RuntimeError(f"{fname}: Expected LD.shape[:-1] and pivots.shape to be the same, but got "
                           f"pivots with shape {list(pivots.shape)} instead")
    batch = _broadcast_batch(LD.shape[:-2], B.shape[:-2])
    X = _work(B, batch)
    factors = _flat(LD.detach().expand(*batch, n, n))
    piv = _flat(pivots.to(dt.int32).expand(*batch, n).unsqueeze(-1)).squeeze(-1)
    decomp.ldl_solve(factors, piv, X)
    return _into(out, X.reshape(*batch, *B.shape[-2:]))


def _permutation(pivots, m, like):
    """P (batch..., m, m) with A = P L U, from LAPACK pivots: the swaps are replayed on the device
    over the columns of an identity."""
    batch = tuple(pivots.shape[:-1])
    P = _flat(_fresh_copy(_eye_like(m, like, batch)))
    decomp.permute_rows(decomp._transposed(P), _flat(pivots.unsqueeze(-1)).squeeze(-1), inverse=False)
    return P.reshape(*batch, m, m)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """(P, L, U) from lu_factor's compact form."""
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    P = _permutation(LU_pivots, m, LU_data) if unpack_pivots else LU_data.new_empty(0)
    if unpack_data:
        L = LU_data[..., :, :k].tril(-1) + _eye_like(m, LU_data)[:, :k]
        U = LU_data[..., :k, :].triu()
    else:
        L = U = LU_data.new_empty(0)
    return _out2(out, LU(P, L, U))


def lu(A, *, pivot=True, out=None):
    """(P, L, U) with A = P L U (L unit lower triangular, U upper triangular). Gradients flow to A
    through L and U as PyTorch's square-matrix formula."""
    _matrices("linalg.lu", A, square=False)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    work, pivots, _ = _lu_raw(A, "linalg.lu")
    batch = tuple(A.shape[:-2])
    res = lu_unpack(work.reshape(A.shape), pivots.reshape(*batch, pivots.shape[-1]))
    if A.shape[-1] == A.shape[-2]:
        res = LU(res.P, *graph.record("LinalgLuBackward0", _lu_vjp, [A], (res.L, res.U), {"P": res.P},
                                      save=frozenset({"out"}), num_outputs=2))
    return _out2(out, res)


def _lu_vjp(g, out, A, P):
    """PyTorch's linalg_lu_backward for square A: gA = P L^-T [tril(L^T gL, -1) + triu(gU U^T)] U^-T."""
    L, U = out
    gL, gU = g
    inner = 0
    if gL is not None:
        inner = (L.mT.matmul(gL)).tril(-1)
    if gU is not None:
        inner = inner + gU.matmul(U.mT).triu()
    left = solve_triangular(L.mT, inner, upper=True, unitriangular=True)
    return P.matmul(solve_triangular(U.mT, left, upper=False, left=False))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """X with A X = B (or A^T X = B when adjoint; X A = B when left=False) from A's lu_factor."""
    fname = "linalg.lu_solve"
    _matrices(fname, LU, "LU")
    _same_dtype(fname, LU, B)
    n = LU.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(f"{fname}: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    if is_grad_enabled() and (LU.requires_grad or B.requires_grad):
        return _into(out, _lu_solve_recorded(LU, pivots, B, left, adjoint))
    batch = _broadcast_batch(LU.shape[:-2], B.shape[:-2], pivots.shape[:-1])
    X = _work(B, batch)
    T = _flat(LU.detach().expand(*batch, n, n))
    piv = _flat(pivots.expand(*batch, n).unsqueeze(-1)).squeeze(-1)
    _lu_solve_raw(T, piv, X if left else decomp._transposed(X), adjoint=adjoint != (not left))
    return _into(out, X.reshape(*batch, *B.shape[-2:]))


def _lu_solve_recorded(LU, pivots, B, left, adjoint):
    """lu_solve through A = P L U unpacked and two triangular solves: differentiable in LU and B (the
    gradient PyTorch defines, for the packed LU through its L and U parts)."""
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _lu_solve_recorded(LU, pivots, B.mT, True, not adjoint).mT
    P, L, U = lu_unpack(LU, pivots)
    if not adjoint:
        y = solve_triangular(L, P.mT.matmul(B), upper=False, unitriangular=True)
        return solve_triangular(U, y, upper=True)
    y = solve_triangular(U.mT, B, upper=False)
    return P.matmul(solve_triangular(L.mT, y, upper=True, unitriangular=True))


def _lu_solve_raw(T, piv, X, adjoint):
    """X (batch, n, k) <- A^-1 X (A^-T X when adjoint) in place, A = P L U given as (T, piv)."""
    if not adjoint:
        decomp.permute_rows(X, piv)
        decomp.solve_triangular(T, X, lower=True, unit=True)
        decomp.solve_triangular(T, X, lower=False, unit=False)
    else:
        Tt = decomp._transposed(T)
        decomp.solve_triangular(Tt, X, lower=True, unit=False)
        decomp.solve_triangular(Tt, X, lower=False, unit=True)
        decomp.permute_rows(X, piv, inverse=True)
    return X


# ---- solve, inv, det ----------------------------------------------------------------------------------
def _is_vector_rhs(A, B):
    return B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def _solve_vjp(g, out, A, B, left, vector):
    X = out[0]
    gX = g[0]
    if gX is None:
        return None, None
    if vector:
        gX, X = gX.unsqueeze(-1), X.unsqueeze(-1)
    gB = solve(A.mT, gX, left=left)
    gA = None
    if A.requires_grad:
        gA = -(gB.matmul(X.mT) if left else X.mT.matmul(gB))
    if vector:
        gB = gB.squeeze(-1)
    return gA, (gB if B.requires_grad else None)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """(X, info) with A X = B (X A = B when left=False); info is 0 or the first zero pivot of A's LU."""
    fname = "linalg.solve"
    _matrices(fname, A)
    _tensor(fname, B, "B")
    _same_dtype(fname, A, B)
    vector = left and _is_vector_rhs(A, B)
    Bm = B.unsqueeze(-1) if vector else B
    n = A.shape[-1]
    if Bm.dim() < 2 or (Bm.shape[-2] if left else Bm.shape[-1]) != n:
        rows, cols = (Bm.shape[-2], Bm.shape[-1]) if Bm.dim() >= 2 else (Bm.shape[0], 1)
        raise RuntimeError(f"{fname}: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {rows}x{cols})")
    batch = _broadcast_batch(A.shape[:-2], Bm.shape[:-2])
    T, piv, info = _lu_raw(A, fname, batch)
    X = _work(Bm, batch)
    _lu_solve_raw(T, piv, X if left else decomp._transposed(X), adjoint=not left)
    X = X.reshape(*batch, *Bm.shape[-2:])
    if vector:
        X = X.squeeze(-1)
    info = info.reshape(batch)
    if check_errors:
        _raise_info(info, False, lambda p, c: "torch.linalg.solve_ex: The solver failed because the input matrix is "
                                              "singular.")
    res = graph.record("LinalgSolveExBackward0", _solve_vjp, [A, B], (X, info), {"left": left, "vector": vector},
                       save=frozenset({0, "out"}), num_outputs=2)
    return _out2(out, SolveEx(*res))


def solve(A, B, *, left=True, out=None):
    """X with A X = B (X A = B when left=False), batched and broadcast; LinAlgError for singular A."""
    X, info = solve_ex(A, B, left=left)
    _raise_info(info, A.dim() > 2 or B.dim() > 2,
                lambda p, c: f"torch.linalg.solve: {p}The solver failed because the input matrix is singular.")
    return _into(out, X)


def _inv_vjp(g, out, A):
    Xt = out[0].mT
    return None if g[0] is None else -Xt.matmul(g[0]).matmul(Xt)


def inv_ex(A, *, check_errors=False, out=None):
    """(A^-1, info) through LU with partial pivoting; info is 0 or the first zero pivot."""
    _matrices("linalg.inv", A)
    n = A.shape[-1]
    batch = tuple(A.shape[:-2])
    T, piv, info = _lu_raw(A, "linalg.inv")
    X = _flat(_fresh_copy(_eye_like(n, A, batch)))
    _lu_solve_raw(T, piv, X, adjoint=False)
    info = info.reshape(batch)
    if check_errors:
        _raise_info(info, A.dim() > 2, _inv_message)
    res = graph.record("LinalgInvExBackward0", _inv_vjp, [A], (X.reshape(A.shape), info), save=frozenset({"out"}),
                       num_outputs=2)
    return _out2(out, InvEx(*res))


def _inv_message(prefix, code):
    return (f"linalg.inv: {prefix}The diagonal element {code} is zero, the inversion could not be completed because "
            "the input matrix is singular.")


def inv(A, *, out=None):
    """The inverse of each square matrix; LinAlgError for singular ones."""
    X, info = inv_ex(A)
    _raise_info(info, A.dim() > 2, _inv_message)
    return _into(out, X)


def _lu_diagonal_and_sign(A, fname):
    """(diag(U) (batch..., n), sign of the row permutation (batch...)), no autograd."""
    _matrices(fname, A)
    n = A.shape[-1]
    batch = tuple(A.shape[:-2])
    T, piv, _ = _lu_raw(A, fname)
    swaps = (piv != arange(1, n + 1, dtype=dt.int32, device=A.device)).sum(-1)
    perm_sign = 1 - 2 * (swaps % 2).to(A.dtype)
    return T.diagonal(0, -2, -1).reshape(*batch, n), perm_sign.reshape(batch)


def _det_vjp(g, out, A):
    """g det(A) A^-T (PyTorch's formula away from singular matrices; see det's docstring)."""
    return (g * out).unsqueeze(-1).unsqueeze(-1) * inv(A).mT


def det(A, *, out=None):
    """The determinant, from the LU factorisation. Its gradient g det(A) A^-T needs A invertible
    (PyTorch also handles singular A through the SVD, which cltensor lacks so far)."""
    diag, sign = _lu_diagonal_and_sign(A, "linalg.det")
    res = diag.prod(-1) * sign
    return _into(out, graph.record("LinalgDetBackward0", _det_vjp, [A], res, save=frozenset({0, "out"})))


def _slogdet_vjp(g, out, A):
    g_logabs = g[1]
    if g_logabs is None:
        return None
    return g_logabs.unsqueeze(-1).unsqueeze(-1) * inv(A).mT


def slogdet(A, *, out=None):
    """(sign, log|det|) of each square matrix (sign 0 and -inf for singular ones)."""
    diag, sign = _lu_diagonal_and_sign(A, "linalg.slogdet")
    res = Slogdet(sign * diag.sign().prod(-1), diag.abs().log().sum(-1))
    res = graph.record("LinalgSlogdetBackward0", _slogdet_vjp, [A], tuple(res), save=frozenset({0}), num_outputs=2)
    return _out2(out, Slogdet(*res))


# ---- tensor equations ------------------------------------------------------------------------------------
def tensorinv(A, ind=2, *, out=None):
    """The inverse of A seen as a linear map from its first ind dims' space to the rest."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = A.shape[:ind], A.shape[ind:]
    m, n = math.prod(rows), math.prod(cols)
    if m != n:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {n} != {m}")
    return _into(out, inv(A.reshape(m, n)).reshape(*cols, *rows))


def tensorsolve(A, B, dims=None, *, out=None):
    """X with tensordot(A, X, X.ndim) = B."""
    if dims is not None:
        order = [d % A.dim() for d in dims]
        A = A.permute([d for d in range(A.dim()) if d not in order] + order)
    rest = A.shape[B.dim():]
    n = math.prod(rest)
    if math.prod(B.shape) != n:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {n} != {math.prod(B.shape)}")
    return _into(out, solve(A.reshape(n, n), B.reshape(n)).reshape(rest))


# ---- QR, SVD, symmetric eigenproblems -------------------------------------------------------------
QR = namedtuple("linalg_qr", ["Q", "R"])
SVD = namedtuple("linalg_svd", ["U", "S", "Vh"])
Eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
Lstsq = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
Geqrf = namedtuple("geqrf", ["a", "tau"])


def _zeros(shape, like):
    return zeros(shape, dtype=like.dtype, device=like.device)


def _geqrf_raw(A):
    """(reflectors and R (batch, m, n), tau (batch, k)) of A's values."""
    work = _work(A)
    tau = _zeros((work.shape[0], min(work.shape[1], work.shape[2])), A)
    decomp.qr(work, tau)
    return work, tau


def _q_from(reflectors, tau, ncols):
    """The first ncols columns of Q = H_0 ... H_{k-1}, (batch, m, ncols)."""
    m = reflectors.shape[-2]
    Q = _flat(_fresh_copy(_eye_like(m, reflectors, (reflectors.shape[0],))[..., :ncols]))
    return decomp.apply_householder(reflectors, tau, Q, transpose=False)


def geqrf(input, *, out=None):
    """LAPACK's compact QR: (a, tau) with R on and above the diagonal of a, Householder vectors below."""
    _matrices("geqrf", input, "input", square=False)
    work, tau = _geqrf_raw(input)
    batch = tuple(input.shape[:-2])
    return _out2(out, Geqrf(work.reshape(input.shape), tau.reshape(*batch, tau.shape[-1])))


def householder_product(A, tau, *, out=None):
    """The first n columns of H_0 ... H_{k-1}, H_i = I - tau_i v_i v_i^T, v_i below the diagonal of A (m x n)."""
    fname = "torch.linalg.householder_product"
    _matrices(fname, A, "input", square=False)
    m, n = A.shape[-2], A.shape[-1]
    if m < n:
        raise RuntimeError(f"{fname}: input.shape[-2] must be greater than or equal to input.shape[-1]")
    if tau.shape[-1] > n:
        raise RuntimeError(f"{fname}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if tau.dtype is not A.dtype:
        raise RuntimeError(f"{fname}: tau dtype {tau.dtype.torch_name} does not match input dtype "
                           f"{A.dtype.torch_name}")
    batch = tuple(A.shape[:-2])
    v = _flat(A.detach().contiguous())
    taus = _flat(tau.detach().contiguous().unsqueeze(-1)).squeeze(-1)
    return _into(out, _q_from(v, taus, n).reshape(*batch, m, n))


def _syminvadj(X):
    return X + X.mT - X.diagonal(0, -2, -1).diag_embed()


def _qr_vjp(g, out, A, mode):
    """PyTorch's linalg_qr_backward for m >= n (reduced or square): gA = [gQ + Q syminvadj(triu(M))] R^-T,
    M = gR R^T - Q^T gQ."""
    Q, R = out
    gQ, gR = g
    m, n = A.shape[-2], A.shape[-1]
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please "
                           "use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
    if m < n:
        raise NotImplementedError("linalg.qr: the derivative for wide matrices (m < n) is not implemented in cltensor")
    M = 0
    if gR is not None:
        M = gR.matmul(R.mT)
    if gQ is not None:
        M = M - Q.mT.matmul(gQ)
    B = Q.matmul(_syminvadj(M.triu())) if not isinstance(M, int) else 0
    if gQ is not None:
        B = B + gQ
    return solve_triangular(R.mT, B, upper=False, left=False)


def qr(A, mode="reduced", *, out=None):
    """Householder QR on the device: mode 'reduced' (Q m x k, R k x n), 'complete' (Q m x m) or 'r'
    (R only, Q empty). Differentiable: PyTorch's formula for m >= n; a wide A = [X | Y] as the QR of
    its square part X and R = [R_X | Q^T Y], the same factors, differentiated through those ops."""
    _matrices("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or "
                           "'complete'")
    m, n = A.shape[-2], A.shape[-1]
    if m < n and mode != "r" and is_grad_enabled() and A.requires_grad:
        Q, R = qr(A[..., :, :m])
        return _out2(out, QR(Q, cat([R, Q.mT.matmul(A[..., :, m:])], -1)))
    k = min(m, n)
    batch = tuple(A.shape[:-2])
    work, tau = _geqrf_raw(A)
    rows = m if mode == "complete" else k
    R = work[:, :rows, :].triu().reshape(*batch, rows, n)
    if mode == "r":
        Q = A.new_empty(0)
    else:
        Q = _q_from(work, tau, m if mode == "complete" else k).reshape(*batch, m, rows)
    res = graph.record("LinalgQrBackward0", _qr_vjp, [A], (Q, R), {"mode": mode}, save=frozenset({0, "out"}),
                       num_outputs=2)
    return _out2(out, QR(*res))


def _sort_columns(S, *matrices, descending=True):
    """S (batch, k) sorted along its last dim, and the columns of each matrix (batch, rows, k) in that order."""
    S, order = S.sort(-1, descending=descending)
    return (S,) + tuple(M.gather(-1, order.unsqueeze(-2).expand(*M.shape)) for M in matrices)


def _svd_raw(A, compute_uv, full_matrices):
    """(U, S, Vh) of A's values, batch flattened: one-sided Jacobi on the taller orientation, then
    U orthonormalised (and completed) through a Householder QR of its normalised columns."""
    m, n = A.shape[-2], A.shape[-1]
    tall = m >= n
    work = _work(A if tall else A.mT)
    rows, k = work.shape[1], work.shape[2]
    V = _flat(_fresh_copy(_eye_like(k, A, (work.shape[0],))))
    decomp.jacobi_svd(work, V)
    with no_grad():
        S = vector_norm(work, 2, dim=-2)
        S, work, V = _sort_columns(S, work, V)
        if not compute_uv:
            return None, S, None
        unit = work / where(S > 0, S, 1.0).unsqueeze(-2)
        refl, tau = _geqrf_raw(unit)
        U = _q_from(refl, tau, rows if full_matrices else k)
        signs = where(refl.diagonal(0, -2, -1) < 0, -1.0, 1.0)
        U[..., :k] = U[..., :k] * signs.unsqueeze(-2)
    if tall:
        return U, S, V.mT
    return V, S, U.mT


def _svd_vjp(g, out, A, full_matrices):
    """PyTorch's svd_backward (real case); with full_matrices the extra columns get no gradient."""
    U, S, Vh = out
    gU, gS, gVh = g
    m, n = A.shape[-2], A.shape[-1]
    k = min(m, n)
    if full_matrices and m != n:
        U, Vh = U[..., :k], Vh[..., :k, :]
        gU = gU[..., :k] if gU is not None else None
        gVh = gVh[..., :k, :] if gVh is not None else None
    if gU is None and gVh is None:
        return U.matmul(gS.diag_embed() if gS is not None else 0 * S.diag_embed()).matmul(Vh)
    V, gV = Vh.mT, (gVh.mT if gVh is not None else None)
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + _eye_like(k, S)
    if gU is not None:
        UhgU = U.mT.matmul(gU)
        UhgU = UhgU - UhgU.mT
    if gV is not None:
        VhgV = V.mT.matmul(gV)
        VhgV = VhgV - VhgV.mT
    if gU is not None and gV is not None:
        inner = (UhgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VhgV) / E
    elif gU is not None:
        inner = (UhgU / E) * S.unsqueeze(-2)
    else:
        inner = S.unsqueeze(-1) * (VhgV / E)
    if gS is not None:
        inner = inner + gS.diag_embed()
    if m > k and gU is not None:
        gA = U.matmul(inner)
        gUSinv = gU / S.unsqueeze(-2)
        gA = gA + gUSinv - U.matmul(U.mT.matmul(gUSinv))
        return gA.matmul(Vh)
    if n > k and gV is not None:
        gA = inner.matmul(Vh)
        gVSinv = gV / S.unsqueeze(-2)
        gA = gA + gVSinv.mT - gVSinv.mT.matmul(V).matmul(Vh)
        return U.matmul(gA)
    return U.matmul(inner).matmul(Vh)


def svd(A, full_matrices=True, *, driver=None, out=None):
    """A = U diag(S) Vh, S descending, by one-sided Jacobi on the device (PyTorch's driver= is a
    CUDA-only option and ignored). Signs of singular vectors may differ from LAPACK's, as they may
    between any two implementations; the gradient is PyTorch's (distinct nonzero singular values)."""
    _matrices("linalg.svd", A, square=False)
    m, n = A.shape[-2], A.shape[-1]
    k = min(m, n)
    batch = tuple(A.shape[:-2])
    U, S, Vh = _svd_raw(A, True, full_matrices)
    ucols, vrows = (m, n) if full_matrices else (k, k)
    res = (U.reshape(*batch, m, ucols), S.reshape(*batch, k), Vh.reshape(*batch, vrows, n))
    res = graph.record("LinalgSvdBackward0", _svd_vjp, [A], res, {"full_matrices": full_matrices},
                       save=frozenset({0, "out"}), num_outputs=3)
    return _out2(out, SVD(*res))


def _svdvals_vjp(g, out, A):
    U, S, Vh = svd(A.detach(), full_matrices=False)
    return U.matmul(g.unsqueeze(-1) * Vh)


def svdvals(A, *, driver=None, out=None):
    """The singular values, descending (no vectors formed). Gradient U diag(g) Vh."""
    _matrices("linalg.svdvals", A, square=False)
    _, S, _ = _svd_raw(A, False, False)
    S = S.reshape(*A.shape[:-2], min(A.shape[-2:]))
    return _into(out, graph.record("LinalgSvdvalsBackward0", _svdvals_vjp, [A], S, save=frozenset({0})))


def _symmetric_part(A, UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    tri = A.tril() if UPLO == "L" else A.triu()
    return tri + (tri.tril(-1) if UPLO == "L" else tri.triu(1)).mT


def _eigh_raw(A, UPLO):
    """(ascending eigenvalues, eigenvectors) of the symmetric matrices A's UPLO triangle defines.
    One-sided Jacobi on B = A + sigma I (sigma = ||A||_F + 1 makes B positive-definite, so its
    singular vectors are A's eigenvectors); the eigenvalues are then the Rayleigh quotients v^T A v,
    accurate to about eps ||A|| as LAPACK's."""
    with no_grad():
        sym = _symmetric_part(A.detach(), UPLO)
        n = A.shape[-1]
        sigma = vector_norm(sym, 2, dim=(-2, -1), keepdim=True) + 1
        work = _flat(_fresh_copy(sym + sigma * _eye_like(n, A)))
        V = _flat(_fresh_copy(_eye_like(n, A, (work.shape[0],))))
        decomp.jacobi_svd(work, V)
        flat_sym = _flat(sym)
        L = (flat_sym.matmul(V) * V).sum(-2)
        return _sort_columns(L, V, descending=False)


def _eigh_vjp(g, out, A, UPLO):
    """PyTorch's Hermitian eig backward: gA = V (diag(gL) + skew(V^T gV) / E) V^T, E_ij = L_j - L_i."""
    L, V = out
    gL, gV = g
    n = L.shape[-1]
    if gV is not None:
        VhgV = V.mT.matmul(gV)
        VhgV = 0.5 * (VhgV - VhgV.mT)
        inner = VhgV / (L.unsqueeze(-2) - L.unsqueeze(-1) + _eye_like(n, L))
        if gL is not None:
            inner = inner + gL.diag_embed()
    else:
        inner = gL.diag_embed()
    return V.matmul(inner).matmul(V.mT)


def eigh(A, UPLO="L", *, out=None):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices, reading the
    UPLO triangle, computed on the device by Jacobi rotations (see _eigh_raw). Vector signs may
    differ from LAPACK's."""
    _matrices("linalg.eigh", A)
    L, V = _eigh_raw(A, UPLO)
    batch, n = tuple(A.shape[:-2]), A.shape[-1]
    res = (L.reshape(*batch, n), V.reshape(*batch, n, n))
    res = graph.record("LinalgEighBackward0", _eigh_vjp, [A], res, {"UPLO": UPLO}, save=frozenset({"out"}),
                       num_outputs=2)
    return _out2(out, Eigh(*res))


def eigvalsh(A, UPLO="L", *, out=None):
    """The eigenvalues (ascending) of symmetric matrices; differentiable (through eigh's rule)."""
    return _into(out, eigh(A, UPLO).eigenvalues)


def _host_eig(A, fname, vectors):
    """numpy's eig (LAPACK geev) on the host in double precision, returned as complex tensors on A's device."""
    _matrices(fname, A)
    a = A.detach().cpu().numpy()
    a = a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)
    w, v = np.linalg.eig(a) if vectors else (np.linalg.eigvals(a), None)
    dtype = A.dtype if A.dtype.is_complex else A.dtype.to_complex()
    as_complex = lambda x: tensor(x.astype(dtype.np), dtype=dtype, device=A.device)  # noqa: E731
    return (as_complex(w), as_complex(v)) if vectors else as_complex(w)


def eig(A, *, out=None):
    """Eigenvalues and eigenvectors of a general square matrix, as complex tensors (complex64 for
    float32 input). NOTE: computed on the host in double precision by numpy (LAPACK geev, the
    routine PyTorch calls, so the eigenvectors are normalised alike), not on the device. Not
    differentiable."""
    return _out2(out, namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])(*_host_eig(A, "linalg.eig", True)))


def eigvals(A, *, out=None):
    """Eigenvalues of a general square matrix, complex: on the host in double precision (see eig)."""
    return _into(out, _host_eig(A, "linalg.eigvals", False))


# ---- built on the SVD: norms, pinv, rank, least squares, cond ---------------------------------------------
def _tolerance(S, atol, rtol, m, n, dtype):
    """max(atol, rtol * S_max) per matrix, with PyTorch's defaults (rtol = eps * max(m, n) when neither is given)."""
    if atol is None and rtol is None:
        rtol = float(np.finfo(dtype.np).eps) * max(m, n)
    smax = S[..., :1] if S.shape[-1] else S.new_zeros((*S.shape[:-1], 1))
    tol = smax * (rtol if rtol is not None else 0.0)
    if atol is not None:
        tol = maximum(tol, atol if isinstance(atol, Tensor) else tol.new_full(tol.shape, float(atol))) \
            if not isinstance(atol, Tensor) else maximum(tol, atol.unsqueeze(-1))
    return tol


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The Moore-Penrose pseudo-inverse through the SVD (singular values at or below the tolerance dropped)."""
    _matrices("linalg.pinv", A, square=False)
    m, n = A.shape[-2], A.shape[-1]
    U, S, Vh = svd(A, full_matrices=False)
    tol = _tolerance(S.detach(), atol, rtol, m, n, A.dtype)
    keep = S > tol
    S_inv = where(keep, 1 / where(keep, S, 1.0), 0.0)
    return _into(out, (Vh.mT * S_inv.unsqueeze(-2)).matmul(U.mT))


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The number of singular values above max(atol, rtol * S_max), as int64."""
    _matrices("linalg.matrix_rank", A, square=False)
    S = svdvals(A.detach())
    tol = _tolerance(S, atol, rtol, A.shape[-2], A.shape[-1], A.dtype)
    return _into(out, (S > tol).sum(-1))


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solutions of A X = B through the SVD (minimum norm where A is rank-deficient).
    The outputs follow PyTorch's CPU drivers: rank unless 'gels', singular values for 'gelsd'/'gelss',
    residuals for 'gels'/'gelsd'/'gelss' when m > n and every matrix has full rank."""
    fname = "linalg.lstsq"
    _matrices(fname, A, square=False)
    _tensor(fname, B, "B")
    _same_dtype(fname, A, B)
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    vector = B.dim() == A.dim() - 1
    Bm = B.unsqueeze(-1) if vector else B
    m, n = A.shape[-2], A.shape[-1]
    if Bm.shape[-2] != m:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2) "
                           f"(got {m} and {Bm.shape[-2]})")
    rtol = rcond if rcond is not None else float(np.finfo(A.dtype.np).eps) * max(m, n)
    U, S, Vh = svd(A, full_matrices=False)
    tol = _tolerance(S.detach(), None, rtol, m, n, A.dtype)
    keep = S > tol
    S_inv = where(keep, 1 / where(keep, S, 1.0), 0.0)
    X = (Vh.mT * S_inv.unsqueeze(-2)).matmul(U.mT.matmul(Bm))
    rank = keep.sum(-1)
    empty = A.new_empty(0)
    residuals = empty
    if driver != "gelsy" and m > n and bool((rank == n).all()):
        residuals = ((A.matmul(X) - Bm) ** 2).sum(-2)
        residuals = residuals.squeeze(-1) if vector else residuals
    X = X.squeeze(-1) if vector else X
    return Lstsq(X, residuals, rank if driver != "gels" else empty.to(dt.int64),
                 S if driver in ("gelsd", "gelss") else empty)


def cond(A, p=None, *, out=None):
    """The condition number in the p-norm (2-norm by default: S_max / S_min)."""
    _tensor("linalg.cond", A)
    if A.dim() >= 2 and A.shape[-1] == 0 and A.shape[-2] == 0:
        return _into(out, _zeros(tuple(A.shape[:-2]), A))
    if p in (None, 2, -2):
        S = svdvals(A)
        res = S[..., 0] / S[..., -1] if p != -2 else S[..., -1] / S[..., 0]
    else:
        res = matrix_norm(A, p) * matrix_norm(inv(A), p)
    return _into(out, res)


def matrix_exp(A):
    """exp(A) by scaling and squaring: a degree-18 Taylor polynomial of A / 2^s with ||A / 2^s||_1 <= 1/2,
    then s squarings (one host read for s). Differentiable through its matmuls."""
    _matrices("linalg.matrix_exp", A)
    n = A.shape[-1]
    if A.numel() == 0:
        return A.clone()
    norm1 = matrix_norm(A.detach(), 1).amax().item()
    s = max(0, math.ceil(math.log2(norm1 / 0.5))) if norm1 > 0.5 and math.isfinite(norm1) else 0
    X = A / (2 ** s)
    eye = _eye_like(n, A)
    term, total = eye, eye
    for k in range(1, 19):
        term = term.matmul(X) / k
        total = total + term
    for _ in range(s):
        total = total.matmul(total.view_as(total))  # a second object: see matrix_power's note
    return total


# ---- the torch.* and Tensor.* names ------------------------------------------------------------------
def _torch_cross(input, other, dim=None, *, out=None):
    """torch.cross: like linalg.cross, but without dim the first dim of size 3 (deprecated, warns)."""
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        sizes = _broadcast_batch(input.shape, other.shape)
        dim = next((d for d, s in enumerate(sizes) if s == 3), -1)
    return cross(input, other, dim=dim, out=out)


def _torch_cholesky(input, upper=False, *, out=None):
    return cholesky(input, upper=upper, out=out)


def cholesky_solve(B, L, upper=False, *, out=None):
    """X with A X = B where A = L L^T (L^T L when upper), from the Cholesky factor L."""
    _matrices("cholesky_solve", L, "A")
    if B.dim() < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B.dim()} dimensions instead")
    if B.dtype is not L.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {B.dtype.torch_name} "
                           f"and A of type {L.dtype.torch_name} instead.")
    lower = L if not upper else L.mT
    Y = solve_triangular(lower, B, upper=False)
    return _into(out, solve_triangular(lower.mT, Y, upper=True))


def cholesky_inverse(L, upper=False, *, out=None):
    """A^-1 from A's Cholesky factor L."""
    _matrices("cholesky_inverse", L, "input")
    return _into(out, cholesky_solve(_eye_like(L.shape[-1], L, tuple(L.shape[:-2])), L, upper))


def logdet(input):
    """log det(A): NaN where the determinant is negative, -inf where it is 0."""
    sign, logabs = slogdet(input)
    return where(sign < 0, float("nan"), logabs)


def _torch_svd(input, some=True, compute_uv=True, *, out=None):
    """torch.svd (deprecated in PyTorch): (U, S, V), reduced unless some=False; zeros for U and V
    when compute_uv=False."""
    U, S, Vh = svd(input, full_matrices=not some)
    if not compute_uv:
        U, Vh = U.detach() * 0, Vh.detach() * 0
    return _out2(out, namedtuple("svd", ["U", "S", "V"])(U, S, Vh.mT))


def _torch_qr(input, some=True, *, out=None):
    """torch.qr (deprecated in PyTorch): reduced QR unless some=False."""
    Q, R = qr(input, "reduced" if some else "complete")
    return _out2(out, namedtuple("qr", ["Q", "R"])(Q, R))


def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


TORCH_NAMES = {"cross": _torch_cross, "cholesky": _torch_cholesky, "cholesky_solve": cholesky_solve,
               "cholesky_inverse": cholesky_inverse, "det": det, "logdet": logdet, "slogdet": slogdet,
               "inverse": inv, "lu_unpack": lu_unpack, "matrix_power": matrix_power,
               "svd": _torch_svd,
               "qr": _torch_qr, "pinverse": pinverse, "matrix_exp": matrix_exp, "geqrf": geqrf,
               "orgqr": householder_product}
TENSOR_METHODS = {"cross": _torch_cross, "cholesky": _torch_cholesky, "cholesky_solve": cholesky_solve,
                  "cholesky_inverse": cholesky_inverse, "det": det, "logdet": logdet, "slogdet": slogdet,
                  "inverse": inv, "matrix_power": matrix_power, "svd": _torch_svd, "qr": _torch_qr,
                  "pinverse": pinverse, "matrix_exp": matrix_exp, "geqrf": geqrf, "orgqr": householder_product}
