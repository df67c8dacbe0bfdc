"""The dense factorisation kernels (kernels_cl/linalg.cl.mako): one launch each of a Cholesky or LU
panel, the row swaps of partial pivoting, a triangular solve of a diagonal block, Householder QR and
the application of its reflectors, the one-sided Jacobi SVD, and Bunch-Kaufman LDL and its solve,
batched over one leading dim, in place.

Operands are (batch, rows, cols) views of any strides. ops/decomp.py chooses the blocking (which
panels, which GEMM updates) and refuses what a device cannot run; these functions pick the
work-group, build the kernel and enqueue it.
"""
from __future__ import annotations

import functools

import numpy as np
import pyopencl as cl

from .. import codegen
from . import signature as sg
from .base import group_limit, launch
from .signature import Signature

_ITEM_LOOP_LIMIT = 30000


def _kernel(backend, dtype, name):
    return codegen.kernel(backend, ("linalg", name, dtype), "linalg.cl.mako", name, lambda: _signatures(dtype),
                          dtype=dtype)


def _signatures(dtype):
    """Every kernel of linalg.cl.mako. A matrix operand is a buffer, an offset and row, column and batch
    strides (all long); pivots are int32 rows per batch item."""
    T = dtype.c
    ints, longs = functools.partial(sg.sizes, "int"), functools.partial(sg.sizes, "long")

    def matrix(name, prefix, const=False, offset=None):
        return sg.tensor(name, T, "long", 3, const=const, offset=offset or prefix + "off",
                         strides=[prefix + s for s in ("rs", "cs", "bs")])
    pivots = sg.buffer("pivots", "int") + longs("piv_off", "piv_bs")
    info = sg.buffer("info", "int", const=False)
    return {
        "potrf": Signature(ints("n"), matrix("A", ""), info, ints("shift"), sg.buffer("ok", "int", False, "__local")),
        "getrf": Signature(ints("m", "n"), matrix("A", ""), sg.buffer("pivots", "int", const=False),
                           longs("piv_off", "piv_bs"), info, ints("shift"), sg.buffer("best", T, False, "__local"),
                           sg.buffer("best_at", "int", False, "__local")),
        "trsm": Signature(ints("n", "k", "lower", "unit"), matrix("Tm", "t_", const=True), matrix("B", "b_")),
        "laswp": Signature(ints("n", "j0", "jb", "mode"), matrix("A", ""), pivots),
        "geqrf": Signature(ints("m", "n"), matrix("A", ""), sg.buffer("taus", T, const=False), longs("tau_bs"),
                           sg.buffer("partial", T, False, "__local")),
        "ormqr": Signature(ints("m", "ncols", "k", "forward"), matrix("V", "v_", const=True), sg.buffer("taus", T),
                           longs("tau_off", "tau_bs"), matrix("C", "c_")),
        "gesvj": Signature(ints("m", "n"), matrix("U", "u_"), matrix("Vm", "v_"), ints("max_sweeps"),
                           sg.scalar("tol", dtype), sg.buffer("rotated", "int", False, "__local")),
        "sytrf": Signature(ints("n", "batch"), matrix("A", ""), sg.buffer("pivots", "int", const=False),
                           longs("piv_off", "piv_bs"), info),
        "sytrs": Signature(ints("n", "k"), matrix("L", "l_", const=True), pivots, matrix("X", "x_")),
    }


def _group_size(backend, kernel, parallel, serial):
    """A power-of-two work-group (at least 2 items, at most the device's and the kernel's limit) for
    a factorisation that spreads `parallel` rows or columns over its items and runs `serial` inner
    loop iterations in all. GPU tuning: as wide as the parallel work. CPU tuning: as narrow as
    allowed, since the batch already fills the cores and a CPU driver runs barriers as loop splits
    (32 items on a 32x32 LU ran ~10x slower than 2, measured on PoCL), but wide enough that no item
    loops more than _ITEM_LOOP_LIMIT times: Mesa's llvmpipe (rusticl) silently leaves a loop after
    65535 iterations per work-item, which truncated factorisations there."""
    limit = min(256, backend.max_work_group_size, group_limit(backend, kernel))
    size = 2
    if backend.cpu_tuned:
        while size * 2 <= limit and serial / size > _ITEM_LOOP_LIMIT:
            size *= 2
        return size
    while size * 2 <= min(limit, max(parallel, 1)):
        size *= 2
    return size


def _strided(t):
    """Kernel arguments of a (batch, rows, cols) view: buffer, offset, row, column, batch strides."""
    bs, rs, cs = t._strides
    return [t._storage.buffer, t._offset, rs, cs, bs]


def cholesky_panel(block, info, shift):
    """The (batch, kb, kb) diagonal block <- its Cholesky factor L (lower triangle); info (batch,) int32
    <- shift + the order of the first leading minor that is not positive-definite (left alone if none)."""
    batch, kb = block._shape[0], block._shape[1]
    backend = block.device.backend
    kernel = _kernel(backend, block.dtype, "potrf")
    lsz = _group_size(backend, kernel, kb, kb ** 3 / 6)
    launch(backend, kernel, (lsz, batch), (lsz, 1),
           [kb, *_strided(block), info._storage.buffer, shift, cl.LocalMemory(4)], lsz * batch * kb * kb)


def lu_panel(panel, pivots, info, shift):
    """The (batch, rows, jb) panel below and right of (shift, shift) <- its LU factors with partial
    pivoting; pivots[:, shift:shift + jb] <- the 1-based rows swapped in, counted from row 0 of the
    matrix; info <- the first zero pivot (1-based, counted likewise)."""
    batch, rows, jb = panel._shape
    backend = panel.device.backend
    kernel = _kernel(backend, panel.dtype, "getrf")
    local = np.dtype(panel.dtype.np).itemsize
    lsz = _group_size(backend, kernel, max(rows, jb), rows * jb * jb / 2)
    launch(backend, kernel, (lsz, batch), (lsz, 1),
           [rows, jb, *_strided(panel), pivots._storage.buffer, pivots._offset + shift, pivots._strides[0],
            info._storage.buffer, shift, cl.LocalMemory(local * lsz), cl.LocalMemory(4 * lsz)],
           lsz * batch * rows * jb)


def swap_rows(a, pivots, j, jb, mode):
    """The row swaps pivots[:, j:j + jb] (1-based, as lu_panel writes them) applied to a (batch, rows, n):
    mode 0 to the columns outside the panel j..j+jb, 1 in order (P^T a), 2 in reverse (P a)."""
    batch, _, n = a._shape
    backend = a.device.backend
    kernel = _kernel(backend, a.dtype, "laswp")
    cols = -(-n // 64) * 64
    launch(backend, kernel, (cols, batch), (64, 1),
           [n, j, jb, mode, *_strided(a), pivots._storage.buffer, pivots._offset + j, pivots._strides[0]],
           batch * n * jb)


def triangular_solve(t, b, lower, unit):
    """b (batch, n, k) <- t^-1 b in place in one launch, t (batch or broadcast, n, n) triangular."""
    batch, n, k = b._shape
    backend = b.device.backend
    kernel = _kernel(backend, b.dtype, "trsm")
    wg = 64 if k >= 64 else 1 << max(k - 1, 1).bit_length()
    cols = -(-k // wg) * wg
    launch(backend, kernel, (cols, batch), (wg, 1),
           [n, k, int(lower), int(unit), *_strided(t), *_strided(b)], batch * k * n)
    return b


def householder_qr(a, tau):
    """a (batch, m, n) <- R above the diagonal and Householder vectors below; tau (batch, min(m, n))."""
    batch, m, n = a._shape
    backend = a.device.backend
    kernel = _kernel(backend, a.dtype, "geqrf")
    lsz = _group_size(backend, kernel, max(m, n), m * n * min(m, n))
    launch(backend, kernel, (lsz, batch), (lsz, 1),
           [m, n, *_strided(a), tau._storage.buffer, tau._strides[0],
            cl.LocalMemory(np.dtype(a.dtype.np).itemsize * lsz)], batch * m * n * min(m, n))


def apply_householder(v, tau, c, transpose):
    """c (batch, m, ncols) <- Q c, or Q^T c when transpose, Q from the reflectors below the diagonal of v
    (batch or broadcast, m, k) and tau (batch, k)."""
    batch, m, ncols = c._shape
    k = tau._shape[-1]
    backend = c.device.backend
    kernel = _kernel(backend, c.dtype, "ormqr")
    wg = 64 if ncols >= 64 else 1 << (ncols - 1).bit_length()
    launch(backend, kernel, (-(-ncols // wg) * wg, batch), (wg, 1),
           [m, ncols, k, int(transpose), *_strided(v), tau._storage.buffer, tau._offset, tau._strides[0],
            *_strided(c)], batch * ncols * m * k)


def jacobi_svd(u, v, max_sweeps, tol):
    """u (batch, m, n), m >= n <- orthogonal columns, v (batch, n, n), an identity on entry <- the
    right vectors, by at most max_sweeps one-sided Jacobi sweeps to tolerance tol."""
    batch, m, n = u._shape
    backend = u.device.backend
    kernel = _kernel(backend, u.dtype, "gesvj")
    lsz = _group_size(backend, kernel, max(n // 2, 1), 12 * n * n * m / 2)  # ~12 sweeps
    launch(backend, kernel, (lsz, batch), (lsz, 1),
           [m, n, *_strided(u), *_strided(v), max_sweeps, tol, cl.LocalMemory(4)], batch * m * n * n)


def ldl(a, pivots, info):
    """Bunch-Kaufman's factors of a (batch, n, n) in place, one work-item per matrix (see ops/decomp.ldl)."""
    batch, n = a._shape[0], a._shape[1]
    backend = a.device.backend
    wg = min(64, 1 << max(batch - 1, 0).bit_length())
    launch(backend, _kernel(backend, a.dtype, "sytrf"), (-(-batch // wg) * wg,), (wg,),
           [n, batch, *_strided(a), pivots._storage.buffer, pivots._offset, pivots._strides[0],
            info._storage.buffer], batch * n * n * n // 3)


def ldl_solve(ld, pivots, b):
    """b (batch, n, k) <- A^-1 b in place from ldl()'s factors (which may broadcast over the batch)."""
    batch, n, k = b._shape
    backend = b.device.backend
    wg = 64 if k >= 64 else 1 << max(k - 1, 1).bit_length()
    launch(backend, _kernel(backend, b.dtype, "sytrs"), (-(-k // wg) * wg, batch), (wg, 1),
           [n, k, *_strided(ld), pivots._storage.buffer, pivots._offset, pivots._strides[0], *_strided(b)],
           batch * k * n * n)
