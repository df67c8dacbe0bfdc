"""The dense factorisations (kernels launched by cltensor/launch/linalg.py): Cholesky, LU with
partial pivoting and triangular solves, batched over one leading dim, in place.

Callers (cltensor.linalg) hand in fresh working copies laid out as (batch, rows, cols) and read
info back only where PyTorch raises. Matrices up to BLOCK wide are factorised by one work-group
each, in one launch for the whole batch; wider ones are blocked: the kernel factorises a panel,
and the trailing matrix is updated by the GEMM (launch.gemm.gemm), where the flops are.
Nothing here records autograd history: these are the primitives the differentiable functions
of cltensor.linalg are written with.
"""
from __future__ import annotations

import numpy as np

from .. import launch
from .. import dtypes as dt
from .creation import zeros

BLOCK = 64  # panel width of the blocked factorisations
_SLAB = 128  # rows per GEMM of the Cholesky trailing update


def _check_loop_budget(backend, per_item, what):
    """Refuse, on llvmpipe, work whose items would loop past its silent 65535-iteration limit."""
    if per_item > 65000 and "llvmpipe" in backend.cl_device.name:
        raise RuntimeError(f"{what} of this size exceeds llvmpipe's limit of 65535 loop iterations per work-item "
                           "(Mesa would silently stop the kernel early); use a smaller matrix or another device")


def _view(t, rows, cols, r0, c0):
    """t[:, r0:r0+rows, c0:c0+cols] as a raw view (no autograd)."""
    bs, rs, cs = t._strides
    return t._view((t._shape[0], rows, cols), (bs, rs, cs), t._offset + r0 * rs + c0 * cs)


def _transposed(t):
    return t._view((t._shape[0], t._shape[2], t._shape[1]), (t._strides[0], t._strides[2], t._strides[1]),
                   t._offset)


def cholesky(a, info):
    """a (batch, n, n) <- L in its lower triangle (the upper one is left as it was); info (batch,)
    int32 zeros <- the order of the first leading minor that is not positive-definite."""
    batch, n = a._shape[0], a._shape[1]
    if batch == 0 or n == 0:
        return
    for k in range(0, n, BLOCK):
        kb = min(BLOCK, n - k)
        launch.linalg.cholesky_panel(_view(a, kb, kb, k, k), info, k)
        rest = n - k - kb
        if rest:
            panel = _view(a, rest, kb, k + kb, k)  # A21 <- A21 L11^-T, i.e. L11 A21^T = A21^T
            solve_triangular(_view(a, kb, kb, k, k), _transposed(panel), lower=True, unit=False)
            _lower_update(a, panel, k + kb, rest)


def _lower_update(a, panel, start, rest):
    """A22 -= A21 A21^T on and below the diagonal only (what Cholesky reads), in slabs of BLOCK
    rows: half the flops of the full product. NOTE: out and bias are two tensor objects:
    launch.gemm.gemm's plan cache maps operands to kernel slots by identity, and one object in both
    slots would be replayed for other callers."""
    for r in range(0, rest, _SLAB):
        rows = min(_SLAB, rest - r)
        cols = r + rows
        launch.gemm.gemm(_view(panel, rows, panel._shape[2], r, 0), _transposed(_view(panel, cols, panel._shape[2], 0, 0)),
                      _view(a, rows, cols, start + r, start), alpha=-1, beta=1,
                      bias=_view(a, rows, cols, start + r, start))


def lu(a, pivots, info):
    """a (batch, m, n) <- L (unit, below the diagonal) and U; pivots (batch, min(m, n)) int32 <- the
    1-based rows swapped in (LAPACK's ipiv); info (batch,) int32 zeros <- the first zero pivot (1-based)."""
    batch, m, n = a._shape
    k = min(m, n)
    if batch == 0 or k == 0:
        return
    for j in range(0, k, BLOCK if k > BLOCK else k):
        jb = min(BLOCK, k - j) if k > BLOCK else k
        launch.linalg.lu_panel(_view(a, m - j, jb, j, j), pivots, info, j)
        if jb == n:
            continue
        _swap_rows(a, pivots, j, jb)
        right = n - j - jb
        if right > 0:
            u12 = _view(a, jb, right, j, j + jb)
            solve_triangular(_view(a, jb, jb, j, j), u12, lower=True, unit=True)
            if m - j - jb > 0:
                a22 = _view(a, m - j - jb, right, j + jb, j + jb)
                launch.gemm.gemm(_view(a, m - j - jb, jb, j + jb, j), u12, a22, alpha=-1, beta=1,
                              bias=_view(a, m - j - jb, right, j + jb, j + jb))


def _swap_rows(a, pivots, j, jb):
    """Apply the panel's row swaps (rows j..j+jb) to every column outside the panel."""
    launch.linalg.swap_rows(a, pivots, j, jb, 0)


def permute_rows(b, pivots, inverse=False):
    """b (batch, n, k) <- P^T b (LAPACK's row swaps in order), or P b when inverse; pivots (batch or
    broadcast with batch stride 0, n) as lu() writes them."""
    if b.numel():
        launch.linalg.swap_rows(b, pivots, 0, pivots._shape[-1], 2 if inverse else 1)
    return b


def solve_triangular(t, b, lower, unit):
    """b (batch, n, k) <- t^-1 b in place, t (batch or broadcast, n, n) triangular; strides free.
    Past BLOCK rows, blocked substitution: the kernel solves a diagonal block, the GEMM updates
    the rows below (lower) or above (upper) it."""
    batch, n, k = b._shape
    if batch == 0 or n == 0 or k == 0:
        return b
    if n <= BLOCK:
        return launch.linalg.triangular_solve(t, b, lower, unit)
    starts = list(range(0, n, BLOCK))
    for s in (starts if lower else reversed(starts)):
        sb = min(BLOCK, n - s)
        x = _view(b, sb, k, s, 0)
        launch.linalg.triangular_solve(_view(t, sb, sb, s, s), x, lower, unit)
        rest = range(s + sb, n) if lower else range(0, s)
        if len(rest):
            r0, rn = rest.start, len(rest)
            target = _view(b, rn, k, r0, 0)
            launch.gemm.gemm(_view(t, rn, sb, r0, s), x, target, alpha=-1, beta=1, bias=_view(b, rn, k, r0, 0))
    return b


def qr(a, tau):
    """a (batch, m, n) <- R above the diagonal and Householder vectors below; tau (batch, min(m, n))."""
    batch, m, n = a._shape
    if batch == 0 or min(m, n) == 0:
        return
    _check_loop_budget(a.device.backend, 2 * m * min(m, n), "QR")
    launch.linalg.householder_qr(a, tau)


def apply_householder(v, tau, c, transpose):
    """c (batch, m, ncols) <- Q c, or Q^T c when transpose, where Q = H_0 ... H_{k-1} from the
    reflectors below the diagonal of v (batch or broadcast, m, k) and tau (batch, k)."""
    batch, m, ncols = c._shape
    k = tau._shape[-1]
    if batch == 0 or ncols == 0 or k == 0:
        return c
    _check_loop_budget(c.device.backend, 2 * m * k, "Applying Householder reflectors")
    launch.linalg.apply_householder(v, tau, c, transpose)
    return c


def jacobi_svd(u, v, max_sweeps=40):
    """u (batch, m, n), m >= n <- orthogonal columns (the left vectors times the singular values),
    v (batch, n, n), an identity on entry <- the right vectors: A = u v^T."""
    batch, m, n = u._shape
    if batch == 0 or n == 0:
        return
    backend = u.device.backend
    if "llvmpipe" in backend.cl_device.name:  # see _check_loop_budget: as many sweeps as its loop limit allows
        max_sweeps = min(max_sweeps, 65000 // (n * m))
    _check_loop_budget(backend, 65001 if max_sweeps < 8 else 0, "The Jacobi SVD")
    launch.linalg.jacobi_svd(u, v, max_sweeps, tol=float(np.finfo(u.dtype.np).eps) * max(m, 1))


def ldl(a, pivots, info):
    """a (batch, n, n) <- L (unit, below the diagonal) and D (1x1 and 2x2 blocks) of Bunch-Kaufman's
    A = P L D L^T P^T from a's lower triangle; pivots (batch, n) int32 <- LAPACK's ipiv (1-based,
    negative for a 2x2 block); info (batch,) int32 zeros <- the first zero column of D (1-based).
    One work-item per matrix: the pivot choices form a serial chain."""
    batch, n = a._shape[0], a._shape[1]
    if batch == 0 or n == 0:
        return
    _check_loop_budget(a.device.backend, n ** 3 / 3, "linalg.ldl_factor")
    launch.linalg.ldl(a, pivots, info)


def ldl_solve(ld, pivots, b):
    """b (batch, n, k) <- A^-1 b in place from ldl()'s factors (ld and pivots may broadcast over the
    batch with batch stride 0)."""
    batch, n, k = b._shape
    if batch == 0 or n == 0 or k == 0:
        return b
    _check_loop_budget(b.device.backend, 2 * n * n, "linalg.ldl_solve")
    launch.linalg.ldl_solve(ld, pivots, b)
    return b


def int_zeros(shape, device):
    return zeros(shape, dtype=dt.int32, device=device)
