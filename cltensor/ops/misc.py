"""The rest of torch's maths as plain Tensor compositions (gradients come for free): distances,
products of tensors, index grids, differences and integrals, windows and small reshapings.

    >>> import cltensor as torch
    >>> torch.kron(torch.eye(2), torch.ones(2, 2)).shape
    torch.Size([4, 4])
"""
from __future__ import annotations

import functools
import itertools
import math
import warnings

import numpy as np

from .. import dtypes as dt
from ..tensor import Tensor, register, wrap_dim
from .index import searchsorted
from .creation import arange, empty, from_host, ones, zeros
from .joins import cat, diag, meshgrid, stack
from .reduce import norm
from .statistics import _check_tensor, _into

__all__ = ["cdist", "dist", "kron", "block_diag", "cartesian_prod", "combinations", "tril_indices", "triu_indices",
           "diff", "gradient", "trapezoid", "trapz", "cumulative_trapezoid", "hann_window", "hamming_window",
           "blackman_window", "bartlett_window", "kaiser_window", "renorm", "rot90", "vander", "isin", "diagflat",
           "ravel", "chain_matmul"]


# ---- distances ----------------------------------------------------------------------------------------------------
def _euclidean_by_gemm(x1, x2):
    """||a - b|| for every pair of rows as sqrt(|a|^2 - 2 a.b + |b|^2): one GEMM instead of P*R*M
    differences (clamped at 1e-30 before the root, as PyTorch does, so cancellation never gives NaN)."""
    sq1 = (x1 * x1).sum(-1, keepdim=True)
    sq2 = (x2 * x2).sum(-1, keepdim=True)
    return (sq1 - 2 * x1.matmul(x2.transpose(-1, -2)) + sq2.transpose(-1, -2)).clamp(min=1e-30).sqrt()


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distances between every row of x1 (..., P, M) and every row of x2 (..., R, M).
    For p = 2 the GEMM form is used when P or R exceeds 25 (compute_mode as PyTorch's)."""
    _check_tensor(x1, "cdist")
    _check_tensor(x2, "cdist")
    for name, x in (("X1", x1), ("X2", x2)):
        if x.dim() < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.dim()}D")
        if not x.is_floating_point():
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {x.dtype.torch_name}")
    if x1._shape[-1] != x2._shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1._shape[-1]} "
                           f"X2: {x2._shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    P, R = x1._shape[-2], x2._shape[-2]
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or
                         (compute_mode == modes[0] and (P > 25 or R > 25)))
    if use_mm:
        return _euclidean_by_gemm(x1, x2)
    return norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, dim=-1)


def dist(input, other, p=2):
    """The p-norm of input - other (broadcast)."""
    return norm(input - other, p)


# ---- products and block matrices ----------------------------------------------------------------------------------
def kron(input, other, *, out=None):
    """Kronecker product: the blocks input[i, j] * other, for any number of dims (the shorter
    shape padded with leading ones).

    >>> import cltensor as torch
    >>> torch.kron(torch.tensor([1, 2]), torch.tensor([1, 10]))
    tensor([ 1, 10,  2, 20])
    """
    _check_tensor(input, "kron")
    _check_tensor(other, "kron")
    nd = max(input.dim(), other.dim())
    a_shape = (1,) * (nd - input.dim()) + tuple(input._shape)
    b_shape = (1,) * (nd - other.dim()) + tuple(other._shape)
    a = input.reshape([s for n in a_shape for s in (n, 1)])
    b = other.reshape([s for n in b_shape for s in (1, n)])
    result = (a * b).reshape([m * n for m, n in zip(a_shape, b_shape)])
    return _into(out, result, "kron", [input, other])


def block_diag(*tensors):
    """The block-diagonal matrix of 0-, 1- or 2-d tensors (a 1-d tensor is one row)."""
    blocks = []
    for i, t in enumerate(tensors):
        _check_tensor(t, "block_diag")
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.dim()} dimensions")
        blocks.append(t.reshape(1, 1) if t.dim() == 0 else t.reshape(1, -1) if t.dim() == 1 else t)
    if not blocks:
        return empty(1, 0)
    dtype = functools.reduce(dt.promote_types, [b.dtype for b in blocks])
    device = blocks[0].device
    width = sum(b._shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        r, c = b._shape
        parts = [zeros(r, left, dtype=dtype, device=device), b.to(dtype),
                 zeros(r, width - left - c, dtype=dtype, device=device)]
        rows.append(cat(parts, 1))
        left += c
    return cat(rows, 0)


def cartesian_prod(*tensors):
    """The Cartesian product of 1-d tensors: one row per combination (itertools.product order)."""
    for t in tensors:
        _check_tensor(t, "cartesian_prod")
        if t.dim() != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t._shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


def combinations(input, r=2, with_replacement=False):
    """Every length-r combination of a 1-d tensor's elements (itertools.combinations order, or
    combinations_with_replacement), one per row; the index table is built on the host."""
    _check_tensor(input, "combinations")
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input._shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return empty(0, dtype=input.dtype, device=input.device)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    table = np.array(list(pick(range(input._shape[0]), r)), dtype=np.int64).reshape(-1, r)
    index = from_host(table, dt.int64, input.device)
    return stack([input[index[:, k]] for k in range(r)], 1)


def _triangle_indices(row, col, offset, dtype, device, lower, fname):
    """Indices (2, N) of the lower or upper triangle, row-major: rows are found on the device by
    searching the position of each element in the cumulative row lengths (a table of `row` ints)."""
    if row < 0 or col < 0:
        raise RuntimeError(f"row must be non-negative, got{row}" if row < 0 else f"col must be non-negative, "
                           f"got{col}")
    dtype = dt.int64 if dtype is None else dt.as_dtype(dtype)
    if dtype not in (dt.int32, dt.int64):
        raise RuntimeError(f"\"{fname}\" not implemented for '{dtype.torch_name}'")
    r = np.arange(row, dtype=np.int64)
    first = np.zeros(row, np.int64) if lower else np.clip(r + offset, 0, col)
    stop = np.clip(r + offset + 1, 0, col) if lower else np.full(row, col, np.int64)
    lengths = np.maximum(stop - first, 0)
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if row else 0
    if total == 0:
        return zeros(2, 0, dtype=dtype, device=device)
    k = arange(total, dtype=dt.int64, device=device)
    ends_t = from_host(ends, dt.int64, device)
    rows = searchsorted(ends_t, k, right=True)
    starts = from_host(ends - lengths - first, dt.int64, device)
    return stack([rows, k - starts[rows]], 0).to(dtype)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """Coordinates (2, N) of the lower triangle (on and below diagonal `offset`) of a row x col matrix.

    >>> import cltensor as torch
    >>> torch.tril_indices(3, 3).tolist()
    [[0, 1, 1, 2, 2, 2], [0, 0, 1, 0, 1, 2]]
    """
    return _triangle_indices(row, col, offset, dtype, device, True, "tril_indices")


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """Coordinates (2, N) of the upper triangle (on and above diagonal `offset`) of a row x col matrix."""
    return _triangle_indices(row, col, offset, dtype, device, False, "triu_indices")


# ---- differences and integrals ------------------------------------------------------------------------------------
def diff(input, n=1, dim=-1, prepend=None, append=None, *, out=None):
    """The n-th forward difference along dim (logical xor for bool), after joining prepend/append."""
    _check_tensor(input, "diff")
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = wrap_dim(dim, input.dim())
    x = input
    if prepend is not None or append is not None:
        x = cat([t for t in (prepend, input, append) if t is not None], d)
    for _ in range(n):
        size = x._shape[d]
        if size == 0:
            break
        later, earlier = x.narrow(d, 1, size - 1), x.narrow(d, 0, size - 1)
        x = later.logical_xor(earlier) if x.dtype is dt.bool_ else later - earlier
    if n == 0 and x is input:
        x = input.clone()
    return _into(out, x, "diff", [input])


def _spacings(spacing, dims, input, dim_given):
    if isinstance(spacing, (int, float)):
        return [float(spacing)] * len(dims)
    spacing = list(spacing)
    if len(spacing) != len(dims):
        if not dim_given:
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, or a list of length "
                               f"equal to 'self.dim() = {input.dim()}', since dim argument was not given, but got a "
                               f"list of length {len(spacing)}")
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                           f"arguments to have the same length, but got a spacing argument of length {len(spacing)} "
                           f"and a dim argument of length {len(dims)}.")
    for s, d in zip(spacing, dims):
        if isinstance(s, Tensor) and (s.dim() != 1 or s._shape[0] != input._shape[d]):
            raise RuntimeError(f"torch.gradient expected each tensor to be on the same device and to have the same "
                               f"size as input along its dimension {d}")
    return spacing


def _along(t: Tensor, d: int, ndim: int) -> Tensor:
    """A 1-d tensor shaped to broadcast along dim d of an ndim tensor."""
    return t.reshape([-1 if k == d else 1 for k in range(ndim)])


def _gradient_dim(f, d, h, edge_order):
    n = f._shape[d]
    part = lambda start, length: f.narrow(d, start, length)  # noqa: E731
    if not isinstance(h, Tensor):
        interior = (part(2, n - 2) - part(0, n - 2)) / (2 * h)
        if edge_order == 1:
            first, last = (part(1, 1) - part(0, 1)) / h, (part(n - 1, 1) - part(n - 2, 1)) / h
        else:
            first = (-1.5 * part(0, 1) + 2 * part(1, 1) - 0.5 * part(2, 1)) / h
            last = (0.5 * part(n - 3, 1) - 2 * part(n - 2, 1) + 1.5 * part(n - 1, 1)) / h
        return cat([first, interior, last], d)
    x = h.to(f.device, f.dtype)
    step = _along(x[1:] - x[:-1], d, f.dim())
    dx1, dx2 = step.narrow(d, 0, n - 2), step.narrow(d, 1, n - 2)  # NOTE: numpy.gradient's non-uniform formula
    a, b, c = -dx2 / (dx1 * (dx1 + dx2)), (dx2 - dx1) / (dx1 * dx2), dx1 / (dx2 * (dx1 + dx2))
    interior = a * part(0, n - 2) + b * part(1, n - 2) + c * part(2, n - 2)
    s0, s1 = step.narrow(d, 0, 1), step.narrow(d, n - 2, 1)
    if edge_order == 1:
        first, last = (part(1, 1) - part(0, 1)) / s0, (part(n - 1, 1) - part(n - 2, 1)) / s1
    else:
        t0, t1 = step.narrow(d, 1, 1), step.narrow(d, n - 3, 1)
        first = (-(2 * s0 + t0) / (s0 * (s0 + t0)) * part(0, 1) + (s0 + t0) / (s0 * t0) * part(1, 1)
                 - s0 / (t0 * (s0 + t0)) * part(2, 1))
        last = (s1 / (t1 * (t1 + s1)) * part(n - 3, 1) - (t1 + s1) / (t1 * s1) * part(n - 2, 1)
                + (2 * s1 + t1) / (s1 * (t1 + s1)) * part(n - 1, 1))
    return cat([first, interior, last], d)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimates of the derivative of input along each dim (a tuple, one tensor per dim) by central
    differences inside and one-sided ones of `edge_order` 1 or 2 at the ends, as numpy.gradient;
    spacing is a scalar, one scalar per dim, or one coordinate tensor per dim."""
    _check_tensor(input, "gradient")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    dims = list(range(input.dim())) if dim is None else \
        [wrap_dim(dim, input.dim())] if isinstance(dim, int) else [wrap_dim(d, input.dim()) for d in dim]
    spacing = _spacings(spacing, dims, input, dim is not None)
    for d in dims:
        if input._shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    f = input if input.is_floating_point() else input.to(dt.get_default_dtype())
    return tuple(_gradient_dim(f, d, h, edge_order) for d, h in zip(dims, spacing))


def _trapezoid_steps(y, x, dx, d):
    if x is None:
        return 1.0 if dx is None else dx
    steps = x[1:] - x[:-1] if x.dim() == 1 else x.narrow(-1 if x.dim() != y.dim() else d, 1, x._shape[d] - 1) - \
        x.narrow(-1 if x.dim() != y.dim() else d, 0, x._shape[d] - 1)
    return _along(steps, d, y.dim()) if x.dim() == 1 else steps


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along dim, with sample points x (1-d, or y's shape) or a constant spacing dx.

    >>> import cltensor as torch
    >>> torch.trapezoid(torch.tensor([1., 2., 3.]))
    tensor(4.)
    """
    _check_tensor(y, "trapezoid")
    if x is not None and dx is not None:
        raise RuntimeError("trapezoid: received both x and dx, only one may be given")
    d = wrap_dim(dim, y.dim())
    n = y._shape[d] if y.dim() else 0
    if n == 0:
        return zeros(y._shape[:d] + y._shape[d + 1:], dtype=y.dtype, device=y.device)
    if x is not None and x.dim() == 1 and x._shape[0] != n:
        raise RuntimeError("trapezoid: There must be one `x` value for each sample point")
    steps = _trapezoid_steps(y, x, dx, d)
    pair_sums = y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)
    return (pair_sums * steps).sum(d) / 2


def trapz(y, x=None, *, dx=None, dim=-1):
    """The older name of trapezoid."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return trapezoid(y, dx=x, dim=dim)
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral along dim (one element fewer than y along dim)."""
    _check_tensor(y, "cumulative_trapezoid")
    if x is not None and dx is not None:
        raise RuntimeError("cumulative_trapezoid: received both x and dx, only one may be given")
    d = wrap_dim(dim, y.dim())
    n = y._shape[d] if y.dim() else 0
    if n == 0:
        return y.narrow(d, 0, 0) if y.dim() else zeros(0, dtype=y.dtype, device=y.device)
    steps = _trapezoid_steps(y, x, dx, d)
    return ((y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) * steps / 2).cumsum(d)


# ---- window functions ---------------------------------------------------------------------------------------------
def _window(fname, window_length, periodic, dtype, device, requires_grad, formula):
    """formula(n, N) gives the symmetric window of N + 1 points at positions n; a periodic window
    is the symmetric one of window_length + 1 points without its last."""
    if window_length < 0:
        raise RuntimeError(f"{fname} requires non-negative window_length, got window_length={window_length}")
    dtype = dt.get_default_dtype() if dtype is None else dt.as_dtype(dtype)
    if not dtype.is_floating_point:
        raise RuntimeError(f"{fname} expects floating point dtypes, got: {dtype.torch_name}")
    if window_length <= 1:
        w = ones(window_length, dtype=dtype, device=device)
    else:
        N = window_length if periodic else window_length - 1
        compute = dt.float64 if dtype is dt.float64 else dt.float32
        w = formula(arange(window_length, dtype=compute, device=device), N).to(dtype)
    return w.requires_grad_(requires_grad) if requires_grad else w


def _cosine_sum(*coefficients):
    def formula(n, N):
        w = coefficients[0] + 0 * n
        for k, a in enumerate(coefficients[1:], 1):
            w = w + (-1) ** k * a * (2 * math.pi * k * n / N).cos()
        return w
    return formula


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """0.5 - 0.5 cos(2 pi n / N)."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad, _cosine_sum(0.5, 0.5))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   requires_grad=False):
    """alpha - beta cos(2 pi n / N)."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum(alpha, beta))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum(0.42, 0.5, 0.08))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """1 - |2 n / N - 1| (a triangle)."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: 1 - (2 * n / N - 1).abs())


def _i0(x: Tensor, largest: float) -> Tensor:
    """Modified Bessel function of the first kind, order 0, for 0 <= x <= largest: its power series
    sum ((x/2)^k / k!)^2, with enough terms that the last is below the float64 epsilon of the sum.
    NOTE: a composite because cltensor has no i0 row on this branch (the `special` helper adds one)."""
    total, term, quarter = ones(x._shape, dtype=x.dtype, device=x.device), 1.0, (x / 2) ** 2
    power = ones(x._shape, dtype=x.dtype, device=x.device)
    k, bound = 1, 1.0
    while True:
        power = power * quarter / (k * k)
        total = total + power
        bound = bound * (largest / 2) ** 2 / (k * k)
        if k > largest / 2 and bound < 1e-17:
            return total
        k += 1


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  requires_grad=False):
    """I0(beta sqrt(1 - ((n - N/2) / (N/2))^2)) / I0(beta)."""
    def formula(n, N):
        half = N / 2
        arg = beta * (1 - ((n - half) / half) ** 2).clamp(min=0).sqrt()
        return _i0(arg, abs(beta)) / _i0(arg.new_full((), abs(beta)), abs(beta))
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, formula)


# ---- reshaping helpers ----------------------------------------------------------------------------------------------
def renorm(input, p, dim, maxnorm, *, out=None):
    """Each slice along dim whose p-norm exceeds maxnorm scaled down to norm maxnorm."""
    _check_tensor(input, "renorm")
    if not input.is_floating_point():
        raise RuntimeError(f"\"renorm\" not implemented for '{input.dtype.torch_name}'")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.dim() <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.dim()} dimensions")
    d = wrap_dim(dim, input.dim())
    others = tuple(k for k in range(input.dim()) if k != d)
    norms = norm(input, p, dim=others, keepdim=True)
    factor = (maxnorm / (norms + 1e-7)).where(norms > maxnorm, 1.0)
    return _into(out, input * factor, "renorm", [input])


def _renorm_(self, p, dim, maxnorm):
    return self.copy_(renorm(self, p, dim, maxnorm))


def rot90(input, k=1, dims=(0, 1)):
    """Rotation by 90 degrees k times in the plane of dims, from the first towards the second."""
    _check_tensor(input, "rot90")
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.dim() < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.dim()}")
    d0, d1 = (wrap_dim(d, input.dim()) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    if abs(d0 - d1) == input.dim():
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip(d0, d1)
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a 1-d tensor: columns x^(N-1) .. x^0 (or ascending); integers give int64."""
    _check_tensor(x, "vander")
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x._shape[0]
    N = n if N is None else N
    if N < 0:
        raise RuntimeError("N must be non-negative.")
    dtype = dt.promote_types(x.dtype, dt.int64)
    if N == 0:
        return empty(n, 0, dtype=dtype, device=x.device)
    columns = cat([ones(n, 1, dtype=dtype, device=x.device), x.to(dtype).unsqueeze(1).expand(n, N - 1)], 1)
    powers = columns.cumprod(1)
    return powers if increasing else powers.flip(1)


def isin(elements, test_elements, *, assume_unique=False, invert=False, out=None):
    """Whether each element of `elements` occurs in test_elements (either may be a scalar):
    a device sort of test_elements and a binary search per element."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments: expected at least one Tensor")
    device = (elements if isinstance(elements, Tensor) else test_elements).device
    common = dt.result_type(elements, test_elements)
    as_tensor = lambda v: v.detach().to(device, common) if isinstance(v, Tensor) else \
        from_host(np.array(v), common, device)  # noqa: E731
    if common is dt.bool_:
        raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    values, tests = as_tensor(elements), as_tensor(test_elements).reshape(-1)
    if tests.is_floating_point():  # NaN never matches, and it would break the binary search's order
        tests = tests[tests.isnan().logical_not()]
    if tests.numel() == 0:
        found = zeros(values._shape, dtype=dt.bool_, device=device)
    else:
        table = tests.sort().values
        at = searchsorted(table, values.reshape(-1).contiguous()).clamp(max=tests.numel() - 1)
        found = (table[at] == values.reshape(-1)).reshape(values._shape)
    return _into(out, found.logical_not() if invert else found, "isin")


def diagflat(input, offset=0):
    """The square matrix with the flattened input on its offset-th diagonal."""
    return diag(input.reshape(-1), offset)


def ravel(input):
    """input flattened (a view when contiguous, else a copy)."""
    return input.reshape(-1)


def chain_matmul(*matrices, out=None):
    """The product of a sequence of matrices (deprecated in PyTorch for torch.linalg.multi_dot)."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than multiple "
                  "parameters.", UserWarning, stacklevel=2)
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {m.dim()}, expected 2 instead.")
    if len(matrices) == 1:
        return _into(out, matrices[0].clone(), "chain_matmul", matrices)
    return _into(out, functools.reduce(lambda a, b: a.mm(b), matrices), "chain_matmul", matrices)


for _f in (kron, diff, renorm, rot90, diagflat, ravel, dist):
    register(_f.__name__, _f)
register("renorm_", _renorm_)
