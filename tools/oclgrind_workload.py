"""A small workload over every kernel family, each result checked against numpy.

Written to run under Oclgrind (tools/oclgrind_check.sh), which checks every memory access of every
kernel it simulates, and fast enough on a normal OpenCL device to run in the test suite
(tests/test_oclgrind_workload.py). The shapes are small and odd (3x5, 7x13, 33x17, ...): not
multiples of work-group sizes, vector widths or tiles, so every kernel meets its edges. Oclgrind
simulates every work-item, so only a few long extents are kept: the ones that make a reduction or a
scan take two stages, or a sort take its global merge passes.

    python3 tools/oclgrind_workload.py [--device cpu|cl:N] [--only NAME] [--list]

`CLTENSOR_TUNING=gpu` makes the device take the GPU kernel variants (tiled GEMM, work-group
reductions, untiled strided elementwise); the default on a CPU device is the CPU variants.

Allocations are exact-sized here (the allocator's 512-byte size classes are switched off), so a
read or write past the end of a tensor is a read or write past the end of its OpenCL buffer,
which is what Oclgrind reports. References are numpy float64 computations on the host.
The exit status is 0 when every check passed; the last line is a summary.
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback

import numpy as np

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


# ---- helpers ---------------------------------------------------------------------------------------------------
class Ctx:
    """What every check gets: the cltensor module, the device, a seeded numpy generator."""

    def __init__(self, torch, dev):
        self.torch, self.dev = torch, dev
        self.rng = np.random.default_rng(1234)
        backend = torch.device(dev).backend
        self.backend = backend
        self.has_fp64 = backend.has_fp64
        self.int64_atomics = "cl_khr_int64_base_atomics" in backend.cl_device.extensions.split()

    def t(self, array, dtype=None):
        """A tensor on the device holding array (converted to dtype: a cltensor dtype)."""
        x = self.torch.tensor(np.array(array, order="C"), device=self.dev)  # (ascontiguousarray makes 0-d 1-d)
        return x.to(dtype) if dtype is not None else x

    def floats(self, *shape, lo=-2.0, hi=2.0):
        return self.rng.uniform(lo, hi, size=shape).astype(np.float32)

    def ints(self, *shape, lo=-20, hi=20, dtype=np.int32):
        return self.rng.integers(lo, hi, size=shape).astype(dtype)


def host(t) -> np.ndarray:
    return np.array(t.detach().cpu().numpy(), copy=True)


def close(name, got, want, rtol=1e-5, atol=1e-5, exact=False):
    """Assert the tensor (or array) got equals the numpy reference want (float64 math) within tolerances."""
    g = host(got) if not isinstance(got, np.ndarray) else got
    w = np.asarray(want)
    assert g.shape == w.shape, f"{name}: shape {g.shape} != expected {w.shape}"
    if exact or g.dtype.kind in "biu" or g.dtype == np.bool_:
        bad = g != w
        if np.any(bad):
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise AssertionError(f"{name}: {int(bad.sum())} of {g.size} differ; first at {at}: got {g[at]}, "
                                 f"expected {w[at]}")
        return
    g64, w64 = g.astype(np.float64), w.astype(np.float64)
    bad = ~np.isclose(g64, w64, rtol=rtol, atol=atol, equal_nan=True)
    if np.any(bad):
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(f"{name}: {int(bad.sum())} of {g.size} differ beyond rtol={rtol} atol={atol}; "
                             f"first at {at}: got {g64[at]!r}, expected {w64[at]!r}")


# ---- elementwise -----------------------------------------------------------------------------------------------
@check
def elementwise_contiguous(c):
    """The vector path (VEC elements per work-item, a work-item that meets the end finishes the tail)."""
    torch = c.torch
    for shape in ((3,), (3, 5), (7, 13), (33, 17)):
        a, b, s = c.floats(*shape), c.floats(*shape), c.floats(*shape, lo=0.5, hi=2)
        ta, tb, ts = c.t(a), c.t(b), c.t(s)
        close(f"a*b+a {shape}", ta * tb + ta, a.astype(np.float64) * b + a)
        close(f"exp/sqrt {shape}", torch.exp(ta) / torch.sqrt(ts), np.exp(a.astype(np.float64)) / np.sqrt(s), rtol=1e-5)
        close(f"where/compare {shape}", torch.where(ta > tb, ta, tb - 1), np.where(a > b, a, b.astype(np.float64) - 1))
        close(f"bool out {shape}", ta < tb, a < b)
        one = c.t(np.float32(1.5))  # a 0-d tensor broadcast to every element (kind 's')
        close(f"0-d operand {shape}", ta * one + 2, a * 1.5 + 2.0)
    big = c.floats(4099)  # 1025 work-items of 4 elements: work-groups of 256, a ragged last one
    close("4099 elements: a * 0.5 - 1", c.t(big) * 0.5 - 1, big.astype(np.float64) * 0.5 - 1)
    x, y = c.ints(7, 13), c.ints(7, 13, lo=1, hi=9)
    tx, ty = c.t(x), c.t(y)
    close("int32 ops", tx * 3 - ty, x.astype(np.int64) * 3 - y)
    close("int32 floor div", torch.div(tx, ty, rounding_mode="floor"), np.floor_divide(x, y))
    close("int32 remainder", tx % ty, np.mod(x, y))
    h = c.floats(33, 17)
    th = c.t(h, torch.float16)
    ref = h.astype(np.float16).astype(np.float64)
    close("float16 a*2+1", th * 2 + 1, (ref * 2 + 1).astype(np.float16), rtol=2e-3, atol=2e-3)
    close("float16 -> float32", th.float(), ref.astype(np.float32))
    if c.has_fp64:
        d = c.rng.uniform(-3, 3, size=(7, 13))
        td = c.t(d)
        close("float64 sin*d", torch.sin(td) * td, np.sin(d) * d, rtol=1e-12, atol=1e-12)
    l1, l2 = c.ints(33, 17, lo=-2**40, hi=2**40, dtype=np.int64), c.ints(33, 17, lo=-9, hi=9, dtype=np.int64)
    close("int64 a - 3 * b", c.t(l1) - 3 * c.t(l2), l1 - 3 * l2)
    s8 = c.ints(7, 13, lo=-128, hi=128, dtype=np.int8)
    # (not integer abs: clang turns `a < 0 ? -a : a` into llvm.abs, which Oclgrind 21.10 cannot simulate)
    close("int8 a * 3 - a // 2 (wraps)", c.t(s8) * 3 - torch.div(c.t(s8), 2, rounding_mode="floor"),
          s8 * np.int8(3) - np.floor_divide(s8, np.int8(2)))
    m1, m2 = c.rng.random((7, 13)) < 0.5, c.rng.random((7, 13)) < 0.5
    close("bool and / xor / not", (c.t(m1) & c.t(m2)) ^ ~c.t(m1), (m1 & m2) ^ ~m1)
    u8 = c.ints(3, 5, lo=0, hi=255, dtype=np.uint8)
    close("uint8 + 7 (wraps)", c.t(u8) + 7, (u8.astype(np.int64) + 7) % 256)
    z = torch.zeros(7, 13, device=c.dev)
    z.add_(c.t(a := c.floats(7, 13)))
    z.mul_(2)
    close("in-place add_/mul_", z, a.astype(np.float64) * 2)


@check
def elementwise_strided(c):
    """Transposed, stepped and expanded (stride 0) operands; outputs written through strides. On CPU
    tuning this is the tiled path (16 x 16 blocks: 33 x 17 leaves partial blocks on both sides)."""
    torch = c.torch
    for rows, cols in ((3, 5), (7, 13), (33, 17)):
        a = c.floats(cols, rows)
        b = c.floats(rows, cols)
        ta, tb = c.t(a), c.t(b)
        close(f"transposed + contiguous {rows}x{cols}", ta.T + tb, a.T.astype(np.float64) + b)
        close(f"transposed.contiguous() {rows}x{cols}", ta.T.contiguous(), a.T)
        w = c.floats(rows, 2 * cols - 1)
        tw = c.t(w)
        close(f"stepped [:, ::2] {rows}x{cols}", tw[:, ::2] * 3 - tb, w[:, ::2].astype(np.float64) * 3 - b)
        r = c.floats(1, cols)
        col = c.floats(rows, 1)
        close(f"expanded row/col {rows}x{cols}", c.t(r) * tb + c.t(col), r.astype(np.float64) * b + col)
        close(f"expand().contiguous() {rows}x{cols}", c.t(r).expand(rows, cols).contiguous(),
              np.broadcast_to(r, (rows, cols)))
    # 3-D: the tiled path's outer dim, broadcasts along two dims, an output written through a permutation
    q = c.floats(3, 17, 33)
    tq = c.t(q)
    close("3-D transpose(1, 2) + row", tq.transpose(1, 2) + c.t(r := c.floats(1, 1, 17)),
          q.transpose(0, 2, 1).astype(np.float64) + r)
    o3 = torch.empty(33, 3, 17, device=c.dev)
    torch.mul(tq.permute(2, 0, 1), 2, out=o3)
    close("3-D permuted into out=", o3, q.transpose(2, 0, 1).astype(np.float64) * 2)
    close("expanded 3-D from (3, 1, 5) and (7, 1)", c.t(e1 := c.floats(3, 1, 5)) - c.t(e2 := c.floats(7, 1)),
          e1.astype(np.float64) - e2)
    if c.has_fp64:
        d = c.rng.uniform(-1, 1, (13, 7))
        close("float64 transposed * 3", c.t(d).T * 3, d.T * 3, rtol=1e-12, atol=1e-12)
    # 1-D strided (one dim: TILE*TILE consecutive elements per work-item on CPU tuning)
    v = c.floats(301)
    tv = c.t(v)
    close("1-D stepped [::3]", tv[::3] + 1, v[::3].astype(np.float64) + 1)
    close("1-D flipped", torch.flip(tv, [0]) * 2, v[::-1].astype(np.float64) * 2)
    # 3-D permuted operand and output written through a transposed view
    p = c.floats(3, 7, 5)
    tp = c.t(p)
    close("3-D permute(2,0,1) * 2", tp.permute(2, 0, 1) * 2, p.transpose(2, 0, 1).astype(np.float64) * 2)
    out = torch.zeros(17, 33, device=c.dev)
    src = c.floats(33, 17)
    out.T.copy_(c.t(src))
    close("copy_ into a transposed view", out, src.T)
    m = c.floats(7, 13)
    tm = c.t(m)
    tm[:, 2:9:3] += 5
    ref = m.astype(np.float64)
    ref[:, 2:9:3] += 5
    close("in-place on a stepped slice", tm, ref)
    i = c.ints(13, 7)
    close("int32 transposed - flipped", c.t(i).T - torch.flip(c.t(i).T, [1]), i.T.astype(np.int64) - i.T[:, ::-1])
    h = c.floats(13, 7)
    close("float16 transposed copy", c.t(h, torch.float16).T.contiguous().float(),
          h.astype(np.float16).T.astype(np.float32))


# ---- reductions ----------------------------------------------------------------------------------------------
@check
def reductions_rows_columns(c):
    """Over the fast dim (rows), the slow dim (columns: side-by-side lanes on CPU tuning), over
    several dims (an odometer over collapsed dims) and of strided inputs."""
    torch = c.torch
    for shape in ((3, 5), (7, 13), (33, 17), (5, 67)):
        x = c.floats(*shape)
        tx = c.t(x)
        x64 = x.astype(np.float64)
        for dim in (0, 1):
            close(f"sum dim={dim} {shape}", tx.sum(dim), x64.sum(dim), rtol=1e-5, atol=1e-5)
            close(f"max dim={dim} {shape}", tx.max(dim).values, x64.max(dim))
            close(f"mean of transposed dim={dim} {shape}", tx.T.mean(dim), x64.T.mean(dim), atol=1e-6)
    x = c.floats(3, 7, 5)
    tx = c.t(x)
    x64 = x.astype(np.float64)
    close("sum dims (0, 2)", tx.sum((0, 2)), x64.sum((0, 2)), atol=1e-5)
    close("amin dims (1, 2) of a permuted view", tx.permute(2, 0, 1).amin((1, 2)), x64.transpose(2, 0, 1).min((1, 2)))
    close("sum of a stepped view", tx[:, ::2, 1:].sum(1), x64[:, ::2, 1:].sum(1), atol=1e-5)
    close("sum all", tx.sum(), x64.sum(), atol=1e-4)
    i = c.ints(33, 17)
    close("int32 sum dim 0 (int64 result)", c.t(i).sum(0), i.astype(np.int64).sum(0))
    small = i[:7, :5] % 3 + 1
    close("int32 prod dim 1", c.t(small).prod(1), small.astype(np.int64).prod(1))
    b = c.rng.random((7, 13)) < 0.3
    close("any/all dim 1", c.t(b).any(1), b.any(1))
    close("count_nonzero dim 0", torch.count_nonzero(c.t(b), dim=0), np.count_nonzero(b, axis=0))
    sm = c.floats(5, 67, lo=-4, hi=4)
    tsm = c.t(sm)
    e = np.exp(sm.astype(np.float64) - sm.max(1, keepdims=True))
    close("softmax dim 1 (fused)", torch.softmax(tsm, 1), e / e.sum(1, keepdims=True), atol=1e-6)
    e0 = np.exp(sm.astype(np.float64) - sm.max(0, keepdims=True))
    close("softmax dim 0 (fused, columns)", torch.softmax(tsm, 0), e0 / e0.sum(0, keepdims=True), atol=1e-6)
    close("logsumexp dim 1", torch.logsumexp(tsm, 1),
          np.log(np.exp(sm.astype(np.float64)).sum(1)), atol=1e-5)
    x3 = c.floats(3, 37, 5)
    t3 = c.t(x3)
    x3d = x3.astype(np.float64)
    close("sum over the middle dim of 3 x 37 x 5", t3.sum(1), x3d.sum(1), atol=1e-5)
    close("mean over dims (0, 1) keepdim", t3.mean((0, 1), keepdim=True), x3d.mean((0, 1), keepdims=True), atol=1e-6)
    close("max over dims (1, 2) of a permutation", t3.permute(1, 0, 2).amax((0, 2)), x3d.max((1, 2)))
    close("sum over dims (1, 2) of a transposed 3-D view", t3.transpose(0, 2).sum((1, 2)), x3d.sum((0, 1)), atol=1e-5)
    nanx = c.floats(7, 13)
    nanx[3, 4] = np.nan
    close("nansum dim 1", torch.nansum(c.t(nanx), 1), np.nansum(nanx.astype(np.float64), 1), atol=1e-5)
    close("max with a NaN (NaN wins)", c.t(nanx).amax(1), np.max(nanx, 1))
    close("norm dim 0", c.t(nanx[:, :5]).norm(dim=0), np.linalg.norm(nanx[:, :5].astype(np.float64), axis=0),
          atol=1e-5)
    li = c.ints(33, 17, lo=-2**40, hi=2**40, dtype=np.int64)
    close("int64 sum dim 1 / min dim 0", c.t(li).sum(1), li.sum(1))
    close("int64 min dim 0", c.t(li).amin(0), li.min(0))
    sm64 = sm.astype(np.float64)
    close("log_softmax over dim 0 of a transposed view", torch.log_softmax(tsm.T, 0),
          (sm64 - np.log(np.exp(sm64).sum(1, keepdims=True))).T, atol=1e-5)
    up = c.floats(5, 67)
    for dim in (1, 0):  # the fused backward: a two-input reduction (g with y beside it) writing per element
        leaf = tsm.clone().requires_grad_()
        y = torch.softmax(leaf, dim)
        (gx,) = torch.autograd.grad(y, leaf, c.t(up))
        yd = host(y).astype(np.float64)
        close(f"softmax backward dim {dim} (fused)", gx, yd * (up - (up * yd).sum(dim, keepdims=True)), atol=1e-6)
    h = c.floats(7, 45)
    close("float16 sum dim 1", c.t(h, torch.float16).sum(1).float(),
          h.astype(np.float16).astype(np.float64).sum(1), rtol=2e-3, atol=5e-3)


@check
def reductions_arg_var(c):
    torch = c.torch
    x = c.floats(33, 17)
    x[5, 3] = x[6, 3] = 9.0  # a tie: the first index wins
    tx = c.t(x)
    x64 = x.astype(np.float64)
    close("argmax dim 0 (ties: first)", tx.argmax(0), x64.argmax(0))
    close("argmin dim 1", tx.argmin(1), x64.argmin(1))
    close("argmax all", tx.argmax(), np.int64(x64.argmax()))
    close("max dim 1 indices", tx.max(1).indices, x64.argmax(1))
    close("var dim 0 (unbiased)", tx.var(0), x64.var(0, ddof=1), atol=1e-5)
    close("std dim 1 (biased)", tx.std(1, unbiased=False), x64.std(1), atol=1e-5)
    v, m = torch.var_mean(tx.T, 1)
    close("var_mean of transposed: var", v, x64.T.var(1, ddof=1), atol=1e-5)
    close("var_mean of transposed: mean", m, x64.T.mean(1), atol=1e-6)
    y = c.floats(5, 67)
    close("var dim 1 (5x67)", c.t(y).var(1), y.astype(np.float64).var(1, ddof=1), atol=1e-5)
    close("argmax dim 1 (5x67)", c.t(y).argmax(1), y.argmax(1))
    i = c.ints(7, 13)
    close("int32 argmax dim 1", c.t(i).argmax(1), i.argmax(1))


@check
def reductions_two_stage(c):
    """A long reduced extent: partial states per chunk, then a second launch combines them."""
    n = 70001
    x = c.floats(n, lo=0, hi=1)
    tx = c.t(x)
    x64 = x.astype(np.float64)
    close(f"sum of {n}", tx.sum(), x64.sum(), rtol=1e-5)
    close(f"argmax of {n}", tx.argmax(), np.int64(x64.argmax()))
    close(f"var of {n}", tx.var(), x64.var(ddof=1), rtol=1e-4)
    y = c.floats(2, 20001)
    close("sum dim 1 of 2 x 20001", c.t(y).sum(1), y.astype(np.float64).sum(1), rtol=1e-5, atol=1e-3)
    close("sum dim 0 of 20001 x 2 (columns)", c.t(y).T.sum(0), y.astype(np.float64).T.sum(0), rtol=1e-5, atol=1e-3)


# ---- GEMM ------------------------------------------------------------------------------------------------------
@check
def gemm(c):
    """`vec` on CPU tuning, `tiled` on GPU tuning: odd sizes (partial register blocks and tiles),
    batched and broadcast batches, transposed operands, a bias, float16 and int32."""
    torch = c.torch
    for (m, k, n) in ((3, 5, 7), (33, 17, 13), (7, 13, 1)):
        a, b = c.floats(m, k), c.floats(k, n)
        close(f"{m}x{k} @ {k}x{n}", c.t(a) @ c.t(b), a.astype(np.float64) @ b, atol=1e-5)
    a, b = c.floats(33, 17), c.floats(13, 17)
    close("a @ b.T (dot mode on CPU)", c.t(a) @ c.t(b).T, a.astype(np.float64) @ b.T, atol=1e-5)
    close("a.T.T @ b.T as a.T", c.t(a.T.copy()).T @ c.t(b).T, a.astype(np.float64) @ b.T, atol=1e-5)
    close("(b @ a.T).T: transposed result", (c.t(b) @ c.t(a).T).T, (b.astype(np.float64) @ a.T).T, atol=1e-5)
    v = c.floats(17)
    close("matrix @ vector", c.t(a) @ c.t(v), a.astype(np.float64) @ v, atol=1e-5)
    close("vector @ matrix", c.t(v) @ c.t(b).T, v.astype(np.float64) @ b.T, atol=1e-5)
    ba, bb = c.floats(3, 7, 13), c.floats(3, 13, 5)
    close("batched 3x(7x13 @ 13x5)", c.t(ba) @ c.t(bb), np.matmul(ba.astype(np.float64), bb), atol=1e-5)
    w = c.floats(13, 5)
    close("batched @ one matrix (folded batch)", c.t(ba) @ c.t(w), np.matmul(ba.astype(np.float64), w), atol=1e-5)
    close("batched transposed operands", c.t(bb).transpose(1, 2) @ c.t(ba).transpose(1, 2),
          np.matmul(bb.transpose(0, 2, 1).astype(np.float64), ba.transpose(0, 2, 1)), atol=1e-5)
    bias = c.floats(5)
    x = c.floats(7, 13)
    close("addmm with bias, alpha, beta", torch.addmm(c.t(bias), c.t(x), c.t(w), beta=0.5, alpha=2.0),
          0.5 * bias.astype(np.float64) + 2.0 * (x.astype(np.float64) @ w), atol=1e-5)
    # whole tiles exist here (64 x 64 x 16 on GPU tuning: vector loads of staged tiles), and
    # ragged ones: row-major a and b, then column-major a and b
    big_a, big_b = c.floats(67, 35, lo=-1, hi=1), c.floats(35, 66, lo=-1, hi=1)
    ref = big_a.astype(np.float64) @ big_b
    close("67x35 @ 35x66", c.t(big_a) @ c.t(big_b), ref, atol=1e-5)
    close("67x35 @ 35x66, column-major operands", c.t(big_a.T.copy()).T @ c.t(big_b.T.copy()).T, ref, atol=1e-5)
    # a column-major a with N >= 128: the vec variant copies a first; out= a transposed view
    ca, cb = c.floats(13, 9), c.floats(13, 130, lo=-1, hi=1)
    close("9x13 (column-major) @ 13x130", c.t(ca).T @ c.t(cb), ca.T.astype(np.float64) @ cb, atol=1e-5)
    buf = torch.zeros(13, 33, device=c.dev)
    torch.mm(c.t(a), c.t(b).T, out=buf.T)
    close("mm into out= a transposed view", buf, (a.astype(np.float64) @ b.T).T, atol=1e-5)
    d3 = c.floats(3, 7, 5)
    close("baddbmm with a batched bias", torch.baddbmm(c.t(d3), c.t(ba), c.t(bb), beta=-1.0, alpha=0.5),
          -d3.astype(np.float64) + 0.5 * np.matmul(ba.astype(np.float64), bb), atol=1e-5)
    close("addmv", torch.addmv(c.t(v[:13]), c.t(b), c.t(v), beta=2.0),
          2.0 * v[:13].astype(np.float64) + b.astype(np.float64) @ v, atol=1e-5)
    close("4-D batched with broadcast batch dims", c.t(e4 := c.floats(2, 1, 3, 5)) @ c.t(f4 := c.floats(1, 3, 5, 4)),
          np.matmul(e4.astype(np.float64), f4), atol=1e-5)
    h1, h2 = c.floats(7, 13), c.floats(13, 9)
    ref16 = h1.astype(np.float16).astype(np.float64) @ h2.astype(np.float16).astype(np.float64)
    close("float16 7x13 @ 13x9", (c.t(h1, torch.float16) @ c.t(h2, torch.float16)).float(), ref16,
          rtol=5e-3, atol=5e-3)
    close("float16 transposed operand, 33x17 @ 17x13",
          (c.t(a, torch.float16) @ c.t(b, torch.float16).T).float(),
          a.astype(np.float16).astype(np.float64) @ b.astype(np.float16).astype(np.float64).T, rtol=5e-3, atol=1e-2)
    i1, i2 = c.ints(7, 13, lo=-5, hi=5), c.ints(13, 5, lo=-5, hi=5)
    close("int32 7x13 @ 13x5", c.t(i1) @ c.t(i2), i1.astype(np.int64) @ i2)
    close("int64 transposed 5x13 @ 13x7", c.t(i2.T.astype(np.int64)) @ c.t(i1.astype(np.int64)).T,
          i2.T.astype(np.int64) @ i1.T)
    if c.has_fp64:
        d1, d2 = c.rng.uniform(-1, 1, (9, 11)), c.rng.uniform(-1, 1, (11, 6))
        close("float64 9x11 @ 11x6", c.t(d1) @ c.t(d2), d1 @ d2, rtol=1e-12, atol=1e-12)


# ---- indexing: gather, scatter, atomics ------------------------------------------------------------------------
@check
def index_gather(c):
    torch = c.torch
    x = c.floats(7, 13)
    tx = c.t(x)
    rows = np.array([6, 0, 3, 3, -1], dtype=np.int64)
    cols = np.array([12, 0, 5], dtype=np.int64)
    close("index_select dim 0", torch.index_select(tx, 0, c.t(rows)), x[rows])
    close("index_select dim 1 (int32 index)", torch.index_select(tx, 1, c.t(cols.astype(np.int32))), x[:, cols])
    close("x[rows]", tx[c.t(rows)], x[rows])
    close("x[:, cols]", tx[:, c.t(cols)], x[:, cols])
    close("x[rows, cols] broadcast", tx[c.t(rows[:, None]), c.t(cols[None, :])], x[rows[:, None], cols[None, :]])
    g = c.rng.integers(0, 13, size=(7, 5))
    close("gather dim 1", torch.gather(tx, 1, c.t(g)), np.take_along_axis(x, g, 1))
    close("gather dim 0 of transposed", torch.gather(tx.T, 0, c.t(g.T % 7)), np.take_along_axis(x.T, g.T % 7, 0))
    close("take", torch.take(tx, c.t(np.array([0, 90, 45, 7]))), x.reshape(-1)[[0, 90, 45, 7]])
    mask = x > 0.5
    close("masked_select", torch.masked_select(tx, c.t(mask)), x[mask])
    close("nonzero", torch.nonzero(c.t(mask)), np.argwhere(mask))
    close("x[bool mask]", tx[c.t(mask)], x[mask])
    close("index_select of a transposed view", torch.index_select(tx.T, 0, c.t(cols)), x.T[cols])
    g0 = c.rng.integers(0, 7, size=(3, 13))
    close("take_along_dim dim 0", torch.take_along_dim(tx, c.t(g0), 0), np.take_along_axis(x, g0, 0))
    x3 = c.floats(3, 7, 5)
    close("x[:, rows3, 1:4] (index in the middle)", c.t(x3)[:, c.t(np.array([6, 0, 2])), 1:4],
          x3[:, [6, 0, 2], 1:4])
    m3 = x3 < 0
    close("nonzero of a transposed 3-D mask", torch.nonzero(c.t(m3).transpose(0, 2)), np.argwhere(m3.transpose(2, 1, 0)))
    iv = c.ints(33, 17, lo=-1, hi=2)
    close("argwhere of int32 (several scan blocks)", torch.argwhere(c.t(iv)), np.argwhere(iv))
    close("bucketize", torch.bucketize(c.t(x[:, :4]), c.t(np.array([-1.0, 0.0, 0.5], np.float32)), right=True),
          np.searchsorted(np.array([-1.0, 0.0, 0.5]), x[:, :4], side="right"))
    seq = np.sort(c.floats(5, 11), axis=1)
    vals = c.floats(5, 3)
    close("searchsorted per row", torch.searchsorted(c.t(seq), c.t(vals)),
          np.stack([np.searchsorted(seq[r], vals[r]) for r in range(5)]))


@check
def index_scatter(c):
    """Plain stores and atomic accumulation (duplicate indices) in float32/int32, int64 where the
    device has cl_khr_int64_base_atomics."""
    torch = c.torch
    x = c.floats(7, 13)
    idx = np.array([1, 4, 1, 6, 4, 1], dtype=np.int64)
    src = c.floats(6, 13)
    ref = x.astype(np.float64).copy()
    np.add.at(ref, idx, src)
    close("index_add float32 (duplicates)", torch.index_add(c.t(x), 0, c.t(idx), c.t(src)), ref, atol=1e-5)
    xi, si = c.ints(7, 13), c.ints(6, 13)
    refi = xi.astype(np.int64).copy()
    np.add.at(refi, idx, si)
    close("index_add int32 (duplicates)", torch.index_add(c.t(xi), 0, c.t(idx), c.t(si)), refi)
    cols = np.array([0, 12, 0, 5, 12], dtype=np.int64)
    sc = c.floats(7, 5)
    ref = x.astype(np.float64).copy()
    np.add.at(ref, (slice(None), cols), sc)
    close("index_add dim 1 float32", torch.index_add(c.t(x), 1, c.t(cols), c.t(sc)), ref, atol=1e-5)
    # index_put_ with accumulate (atomics), and a plain index_put_
    acc = c.t(x.copy())
    r = np.array([0, 2, 0, 6], dtype=np.int64)
    k = np.array([3, 3, 3, 12], dtype=np.int64)
    vals = np.array([1.5, -2.0, 0.25, 3.0], dtype=np.float32)
    acc.index_put_((c.t(r), c.t(k)), c.t(vals), accumulate=True)
    ref = x.astype(np.float64).copy()
    np.add.at(ref, (r, k), vals)
    close("index_put_ accumulate float32", acc, ref, atol=1e-6)
    acci = c.t(xi.copy())
    acci.index_put_((c.t(r), c.t(k)), c.t(np.array([5, -7, 11, 2], dtype=np.int32)), accumulate=True)
    refi = xi.astype(np.int64).copy()
    np.add.at(refi, (r, k), [5, -7, 11, 2])
    close("index_put_ accumulate int32", acci, refi)
    put = c.t(x.copy())
    put.index_put_((c.t(np.array([1, 5])),), c.t(np.float32(-1.0)))
    ref = x.copy()
    ref[[1, 5]] = -1
    close("index_put_ assign (fill a row)", put, ref)
    # scatter (assign, distinct targets) and scatter_add (duplicates)
    target = np.zeros((7, 13), np.float32)
    perm = np.stack([c.rng.permutation(13)[:5] for _ in range(7)])
    s = c.floats(7, 5)
    ref = target.copy()
    np.put_along_axis(ref, perm, s, 1)
    close("scatter dim 1", torch.scatter(c.t(target), 1, c.t(perm), c.t(s)), ref)
    dup = c.rng.integers(0, 3, size=(7, 5))
    ref = np.zeros((7, 13))
    for i in range(7):
        np.add.at(ref[i], dup[i], s[i])
    close("scatter_add dim 1 (duplicates)", torch.scatter_add(c.t(target), 1, c.t(dup), c.t(s)), ref, atol=1e-6)
    amax = torch.scatter_reduce(c.t(target), 1, c.t(dup), c.t(s), reduce="amax", include_self=False)
    ref = np.zeros((7, 13))
    for i in range(7):
        for j in range(5):
            cur = ref[i, dup[i, j]]
            ref[i, dup[i, j]] = s[i, j] if np.all(dup[i, :j] != dup[i, j]) else max(cur, s[i, j])
    close("scatter_reduce amax (atomic max)", amax, ref)
    ic = c.t(x.copy())
    ic.index_copy_(0, c.t(np.array([6, 1])), c.t(src[:2]))
    ref = x.copy()
    ref[[6, 1]] = src[:2]
    close("index_copy_ dim 0", ic, ref)
    st = c.t(x.copy())
    st[c.t(np.array([0, 3])), 2:5] = c.t(vals[:3])
    ref = x.copy()
    ref[[0, 3], 2:5] = vals[:3]
    close("setitem x[rows, 2:5] = v", st, ref)
    mf = c.t(x.copy())
    mf[c.t(x > 1)] = 0.0
    close("masked setitem x[x > 1] = 0", mf, np.where(x > 1, 0, x))
    close("masked_fill of a transposed view", c.t(x).T.masked_fill(c.t(x.T < 0), -9.0), np.where(x.T < 0, -9, x.T))
    tf = c.t(x.copy())
    tf.index_fill_(1, c.t(np.array([2, 11])), 7.0)
    ref = x.copy()
    ref[:, [2, 11]] = 7
    close("index_fill_ dim 1", tf, ref)
    sr = torch.scatter_reduce(c.t(np.ones((7, 13), np.float32)), 1, c.t(dup), c.t(s), reduce="prod")
    ref = np.ones((7, 13))
    for i in range(7):
        np.multiply.at(ref[i], dup[i], s[i])
    close("scatter_reduce prod (atomic multiply)", sr, ref, rtol=1e-5)
    if c.int64_atomics and c.has_fp64:
        d = c.rng.uniform(-1, 1, (7, 13))
        refd = d.copy()
        np.add.at(refd, idx, d[:6])
        close("index_add float64 (64-bit atomics)", torch.index_add(c.t(d), 0, c.t(idx), c.t(d[:6].copy())), refd,
              rtol=1e-12, atol=1e-12)
    if c.int64_atomics:
        xl = c.ints(7, 13, dtype=np.int64)
        refl = xl.copy()
        np.add.at(refl, idx, si.astype(np.int64))
        close("index_add int64 (64-bit atomics)", torch.index_add(c.t(xl), 0, c.t(idx), c.t(si.astype(np.int64))),
              refl)
        counts = np.array([3, 0, 3, 1, 7, 3, 0, 9], dtype=np.int64)
        close("bincount (int64 atomics)", torch.bincount(c.t(counts)), np.bincount(counts))
        close("unique with counts", torch.unique(c.t(counts), return_counts=True)[1],
              np.unique(counts, return_counts=True)[1])


# ---- scans -----------------------------------------------------------------------------------------------------
@check
def scans(c):
    torch = c.torch
    x = c.floats(33, 17)
    tx = c.t(x)
    x64 = x.astype(np.float64)
    close("cumsum dim 1 (rows)", torch.cumsum(tx, 1), np.cumsum(x64, 1), atol=1e-5)
    close("cumsum dim 0 (columns: side-by-side rows on CPU tuning)", torch.cumsum(tx, 0), np.cumsum(x64, 0),
          atol=1e-5)
    close("cumsum of transposed", torch.cumsum(tx.T, 1), np.cumsum(x64.T, 1), atol=1e-5)
    p = c.floats(7, 13, lo=0.5, hi=1.5)
    close("cumprod dim 1", torch.cumprod(c.t(p), 1), np.cumprod(p.astype(np.float64), 1), rtol=1e-5)
    i = c.ints(7, 13, lo=-3, hi=4)
    close("int32 cumsum dim 0 (int64 result)", torch.cumsum(c.t(i), 0), np.cumsum(i.astype(np.int64), 0))
    close("int32 cumprod dim 1", torch.cumprod(c.t(i % 2 + 1), 1), np.cumprod((i % 2 + 1).astype(np.int64), 1))
    long = c.floats(20011, lo=-1, hi=1)
    close("cumsum of 20011 (three phases)", torch.cumsum(c.t(long), 0), np.cumsum(long.astype(np.float64)),
          atol=2e-3)
    # the gradient of cumsum is a reverse scan: short rows, columns, and a long one (three phases)
    for shape, dim in (((7, 13), 1), ((33, 17), 0), ((20011,), 0)):
        v = c.floats(*shape)
        w = c.floats(*shape)
        tv = c.t(v).requires_grad_()
        (torch.cumsum(tv, dim) * c.t(w)).sum().backward()
        rev = np.flip(np.cumsum(np.flip(w.astype(np.float64), dim), dim), dim)
        close(f"cumsum backward (reverse scan) {shape} dim {dim}", tv.grad, rev, atol=2e-3 if len(shape) == 1 else 1e-5)
    x3 = c.floats(3, 5, 7)
    close("cumsum over the middle dim of a 3-D permutation", torch.cumsum(c.t(x3).permute(2, 1, 0), 1),
          np.cumsum(x3.transpose(2, 1, 0).astype(np.float64), 1), atol=1e-5)
    if c.has_fp64:
        d = c.rng.uniform(-1, 1, (5, 9))
        close("float64 cumsum dim 1", torch.cumsum(c.t(d), 1), np.cumsum(d, 1), rtol=1e-12, atol=1e-12)
    two = c.floats(3, 301, lo=0, hi=1)
    close("logcumsumexp dim 1", torch.logcumsumexp(c.t(two), 1),
          np.log(np.cumsum(np.exp(two.astype(np.float64)), 1)), atol=1e-5)


# ---- sorting ---------------------------------------------------------------------------------------------------
@check
def sorting(c):
    torch = c.torch
    x = c.ints(7, 13, lo=-5, hi=5).astype(np.float32)  # many ties: the stable order shows
    x[2, 4] = np.nan
    tx = c.t(x)
    vals, idx = torch.sort(tx, 1)
    close("sort dim 1 values (NaN last)", vals, np.sort(x, 1))
    close("sort dim 1 indices (stable)", idx, np.argsort(x, 1, kind="stable"))
    vals, idx = torch.sort(tx, 0, descending=True)
    neg = np.where(np.isnan(x), -np.inf, -x)  # numpy's stable descending order, NaN first
    order = np.argsort(neg, 0, kind="stable")
    close("sort dim 0 descending indices", idx, order)
    close("argsort dim 1 descending of transposed", torch.argsort(tx.T, 1, descending=True),
          np.argsort(np.where(np.isnan(x.T), -np.inf, -x.T), 1, kind="stable"))
    t = c.floats(7, 13)
    vals, idx = torch.topk(c.t(t), 3, 1)
    close("topk 3 values", vals, -np.sort(-t, 1)[:, :3])
    close("topk 3 indices", idx, np.argsort(-t, 1, kind="stable")[:, :3])
    close("kthvalue 4", torch.kthvalue(c.t(t), 4, 1).values, np.sort(t, 1)[:, 3])
    close("msort (dim 0)", torch.msort(c.t(t)), np.sort(t, 0))
    long = c.floats(1001)
    vals, idx = torch.sort(c.t(long))
    close("sort of 1001 (global merge stages)", vals, np.sort(long))
    close("argsort of 1001", idx, np.argsort(long, kind="stable"))
    li = c.ints(3, 700, lo=-50, hi=50)
    vals, idx = torch.sort(c.t(li), 1, descending=True)
    close("int32 3x700 descending", vals, -np.sort(-li, 1))
    close("int32 3x700 descending indices (stable)", idx, np.argsort(-li, 1, kind="stable"))
    for n in (1, 2, 3, 512, 513):  # one element, tiny tiles, exactly one tile, one past it
        r = c.floats(3, n)
        vals, idx = torch.sort(c.t(r), 1)
        close(f"sort 3 x {n}", vals, np.sort(r, 1))
        close(f"argsort 3 x {n}", idx, np.argsort(r, 1, kind="stable"))
    many = c.floats(101, 5)  # many short rows: several segments per work-group
    vals, idx = torch.sort(c.t(many), 1, descending=True)
    close("sort 101 x 5 descending", vals, -np.sort(-many, 1))
    close("topk 2 smallest of 101 x 5", torch.topk(c.t(many), 2, 1, largest=False).values, np.sort(many, 1)[:, :2])
    x3 = c.floats(3, 9, 4)
    close("sort over the middle dim of 3 x 9 x 4", torch.sort(c.t(x3), 1).values, np.sort(x3, 1))
    if c.has_fp64:
        d = c.rng.uniform(-1, 1, (4, 11))
        close("float64 argsort", torch.argsort(c.t(d), 1), np.argsort(d, 1, kind="stable"))
    close("unique sorted", torch.unique(c.t(li[0] % 7)), np.unique(li[0] % 7))
    h = c.floats(5, 9)
    close("float16 sort", torch.sort(c.t(h, torch.float16), 1).values.float(), np.sort(h.astype(np.float16), 1))


# ---- random ----------------------------------------------------------------------------------------------------
@check
def random(c):
    torch = c.torch
    torch.manual_seed(7)
    u = host(torch.rand(33, 17, device=c.dev))
    assert u.shape == (33, 17) and u.dtype == np.float32
    assert u.min() >= 0 and u.max() < 1, f"rand out of [0, 1): {u.min()} {u.max()}"
    assert abs(u.mean() - 0.5) < 0.05 and abs(u.var() - 1 / 12) < 0.02, f"rand moments {u.mean()} {u.var()}"
    assert len(np.unique(u)) > 550, "rand repeats values"
    n = host(torch.randn(2001, device=c.dev))
    assert np.all(np.isfinite(n))
    assert abs(n.mean()) < 0.1 and abs(n.std() - 1) < 0.1, f"randn moments {n.mean()} {n.std()}"
    torch.manual_seed(7)
    again = host(torch.rand(33, 17, device=c.dev))
    close("rand reproducible from the seed", again, u, exact=True)
    r = host(torch.randint(-3, 5, (7, 13), device=c.dev))
    assert r.min() >= -3 and r.max() < 5 and len(np.unique(r)) == 8, f"randint range {np.unique(r)}"
    h = host(torch.rand(3, 5, dtype=torch.float16, device=c.dev))
    assert h.dtype == np.float16 and h.min() >= 0 and h.max() < 1
    if c.has_fp64:
        d = host(torch.rand(301, dtype=torch.float64, device=c.dev))
        assert d.min() >= 0 and d.max() < 1 and abs(d.mean() - 0.5) < 0.1
    x = torch.ones(41, 29, device=c.dev)
    y = host(torch.nn.functional.dropout(x, p=0.3, training=True))
    kept = y != 0
    close("dropout scales the kept elements", y[kept], np.full(int(kept.sum()), 1 / 0.7, np.float32), rtol=1e-6)
    assert abs(1 - kept.mean() - 0.3) < 0.06, f"dropout dropped {1 - kept.mean():.3f}, expected 0.3"
    b = host(torch.bernoulli(torch.full((33, 17), 0.25, device=c.dev)))
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.25) < 0.06, f"bernoulli mean {b.mean()}"
    nd = host(torch.normal(3.0, 0.5, size=(1001,), device=c.dev))
    assert abs(nd.mean() - 3) < 0.1 and abs(nd.std() - 0.5) < 0.1, f"normal moments {nd.mean()} {nd.std()}"
    if c.has_fp64:
        n64 = host(torch.randn(501, dtype=torch.float64, device=c.dev))
        assert n64.dtype == np.float64 and abs(n64.mean()) < 0.15 and abs(n64.std() - 1) < 0.15
    e = torch.empty(1001, device=c.dev)
    e.exponential_(2.0)
    e = host(e)
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.08, f"exponential mean {e.mean()}"
    r64 = host(torch.randint(-2**40, 2**40, (301,), device=c.dev))
    assert r64.dtype == np.int64 and r64.min() >= -2**40 and r64.max() < 2**40 and np.abs(r64).max() > 2**32
    view = torch.zeros(9, 7, device=c.dev)
    view.T.uniform_(-1, 1)  # drawn into a transposed view
    v = host(view)
    assert v.min() >= -1 and v.max() < 1 and np.count_nonzero(v) == v.size
    p = host(torch.randperm(37, device=c.dev))
    close("randperm is a permutation", np.sort(p), np.arange(37))


# ---- copies ----------------------------------------------------------------------------------------------------
@check
def copies(c):
    torch = c.torch
    x = c.floats(3, 7, 5)
    tx = c.t(x)
    close("contiguous() of permute(1, 2, 0)", tx.permute(1, 2, 0).contiguous(), x.transpose(1, 2, 0))
    close("contiguous() of a stepped slice", tx[:, 1::2, ::2].contiguous(), x[:, 1::2, ::2])
    a, b, d = c.floats(3, 5), c.floats(4, 5), c.floats(3, 2)
    close("cat dim 0", torch.cat([c.t(a), c.t(b)], 0), np.concatenate([a, b], 0))
    close("cat dim 1 with a transposed part", torch.cat([c.t(a), c.t(d), c.t(a.T.copy()).T], 1),
          np.concatenate([a, d, a], 1))
    k = c.ints(2, 5)
    close("cat with dtype promotion (int32 part)", torch.cat([c.t(a), c.t(k)], 0), np.concatenate([a, k], 0))
    close("stack dim 1", torch.stack([c.t(a), c.t(a * 2)], 1), np.stack([a, a * 2], 1))
    close("repeat", c.t(a).repeat(2, 3), np.tile(a, (2, 3)))
    close("roll", torch.roll(c.t(a), 2, 1), np.roll(a, 2, 1))
    # index-table copies (copy.cl.mako): repeat_interleave gathers rows by a table, its gradient and
    # trace sum segments
    reps = np.array([2, 0, 3], dtype=np.int64)
    close("repeat_interleave by a tensor", torch.repeat_interleave(c.t(a), c.t(reps), dim=0),
          np.repeat(a, reps, axis=0))
    close("repeat_interleave dim 1", torch.repeat_interleave(c.t(d), 3, dim=1), np.repeat(d, 3, axis=1))
    w = c.t(a).requires_grad_()
    out = torch.repeat_interleave(w, c.t(reps), dim=0)
    weights = c.floats(5, 5)
    (out * c.t(weights)).sum().backward()
    ref = np.zeros((3, 5))
    rows = np.repeat(np.arange(3), reps)
    np.add.at(ref, rows, weights)
    close("repeat_interleave backward (segment sums)", w.grad, ref, atol=1e-6)
    m = c.floats(7, 13)
    close("trace (segment sum)", torch.trace(c.t(m)), np.float64(np.trace(m.astype(np.float64))), atol=1e-5)
    close("diagonal().contiguous()", torch.diagonal(c.t(m), 2).contiguous(), np.diagonal(m, 2))
    close("tril", torch.tril(c.t(m), -1), np.tril(m, -1))
    h = c.floats(7, 13)
    close("float32 -> float16 -> float32 of a transposed view", c.t(h).T.half().float(),
          h.T.astype(np.float16).astype(np.float32))
    big = c.ints(7, 13, lo=-2**40, hi=2**40, dtype=np.int64)
    close("int64 -> int32 of a stepped view (wraps)", c.t(big)[:, ::3].int(), big[:, ::3].astype(np.int32))
    if c.dev != "cpu":  # copies between devices go through the host
        close("to('cpu') and back", c.t(m).cpu().to(c.dev) * 1, m)


# ---- edges: empty extents, single elements, 0-d tensors, narrow dtypes --------------------------------------------
@check
def edge_cases(c):
    torch = c.torch
    close("sum over an empty dim", torch.zeros(3, 0, device=c.dev).sum(1), np.zeros(3))
    close("prod over an empty dim", torch.ones(0, 5, device=c.dev).prod(0), np.ones(5))
    close("(3x0) @ (0x4): K = 0", torch.zeros(3, 0, device=c.dev) @ torch.zeros(0, 4, device=c.dev), np.zeros((3, 4)))
    close("empty elementwise", torch.zeros(0, 7, device=c.dev) + 1, np.zeros((0, 7)))
    close("cumsum of an empty dim", torch.cumsum(torch.zeros(3, 0, device=c.dev), 1), np.zeros((3, 0)))
    close("nonzero with no nonzero element", torch.nonzero(torch.zeros(3, 5, device=c.dev)), np.zeros((0, 2)))
    v, w = c.floats(13), c.floats(13)
    close("dot: 1-D @ 1-D", c.t(v) @ c.t(w), np.float64(v.astype(np.float64) @ w), atol=1e-5)
    close("1x1 @ 1x1", c.t(v[:1].reshape(1, 1)) @ c.t(w[:1].reshape(1, 1)), v[:1].reshape(1, 1) * w[0], atol=1e-6)
    close("1x13 @ 13x1", c.t(v[None]) @ c.t(w[:, None]), v[None].astype(np.float64) @ w[:, None], atol=1e-5)
    z = c.t(np.float32(2.5))
    close("0-d ops", (z * z).sum() + z.amax() + torch.cumsum(z, 0), np.float64(6.25 + 2.5 + 2.5))
    close("single-element reductions", c.t(v[:1]).argmax(), np.int64(0))
    close("single-element sort", torch.sort(c.t(v[:1])).values, v[:1])
    b = c.rng.random((33, 17)) < 0.5
    close("bool sum dim 0", c.t(b).sum(0), b.sum(0))
    u8 = c.ints(7, 13, lo=0, hi=255, dtype=np.uint8)
    close("uint8 cumsum dim 1 (int64)", torch.cumsum(c.t(u8), 1), np.cumsum(u8.astype(np.int64), 1))
    h = c.floats(7, 13, lo=0, hi=1)
    close("float16 cumsum dim 1", torch.cumsum(c.t(h, torch.float16), 1).float(),
          np.cumsum(h.astype(np.float16).astype(np.float64), 1), rtol=5e-3, atol=1e-2)
    close("float16 index_add (widened, atomic float32)",
          torch.index_add(c.t(h, torch.float16), 0, c.t(np.array([1, 1, 6])), c.t(h[:3], torch.float16)).float(),
          _index_add_ref(h.astype(np.float16).astype(np.float64), [1, 1, 6], h[:3].astype(np.float16)),
          rtol=5e-3, atol=5e-3)
    li = c.ints(5, 9, lo=-2**40, hi=2**40, dtype=np.int64)
    close("int64 sort", torch.sort(c.t(li), 1).values, np.sort(li, 1))
    seq = np.sort(c.floats(23))
    q = c.floats(3, 4)
    close("searchsorted in one 1-D sequence", torch.searchsorted(c.t(seq), c.t(q)), np.searchsorted(seq, q))
    close("argmax over a dim of size 1", c.t(h[:, :1]).argmax(1), np.zeros(7, np.int64))


def _index_add_ref(dst, index, src):
    out = dst.copy()
    np.add.at(out, index, src.astype(np.float64))
    return out


def _im2col(x, k, pad):
    """(patches [N*OH*OW, C*k*k], the padded shape, positions) of a stride-1 convolution."""
    n, ch, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    cols = np.array([xp[i, :, r:r + k, s:s + k].reshape(-1) for i in range(n) for r in range(oh) for s in range(ow)])
    return cols, xp.shape, (oh, ow)


@check
def conv_implicit_gemm(c):
    """conv2d forward and both gradients: the GEMM template with its implicit (gathered) operand in
    the conv, transposed-conv and weight-gradient modes; padding reads outside the image."""
    torch = c.torch
    x, w = c.floats(2, 3, 6, 5), c.floats(4, 3, 3, 3)
    cols, padded, (oh, ow) = _im2col(x.astype(np.float64), 3, 1)
    want = (cols @ w.reshape(4, -1).T.astype(np.float64)).reshape(2, oh, ow, 4).transpose(0, 3, 1, 2)
    tx, tw = c.t(x).requires_grad_(True), c.t(w).requires_grad_(True)
    out = torch.nn.functional.conv2d(tx, tw, padding=1)
    close("conv2d 3x3 pad 1", out, want, atol=1e-4)
    out.sum().backward()
    close("conv2d weight gradient", tw.grad, np.tile(cols.sum(0), (4, 1)).reshape(4, 3, 3, 3), atol=1e-3)
    dcols = np.ones((cols.shape[0], 4)) @ w.reshape(4, -1).astype(np.float64)
    dxp = np.zeros(padded)
    for p, (i, r, s) in enumerate((i, r, s) for i in range(2) for r in range(oh) for s in range(ow)):
        dxp[i, :, r:r + 3, s:s + 3] += dcols[p].reshape(3, 3, 3)
    close("conv2d input gradient", tx.grad, dxp[:, :, 1:-1, 1:-1], atol=1e-3)


@check
def window_pooling(c):
    """max and average pooling forward and backward through the window kernel family, with padding,
    a stride that leaves a ragged edge, and ceil_mode."""
    torch = c.torch
    x = c.floats(2, 3, 7, 6)
    tx = c.t(x).requires_grad_(True)
    out = torch.nn.functional.max_pool2d(tx, 3, stride=2, padding=1, ceil_mode=True)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    oh, ow = out.shape[2], out.shape[3]
    want = np.array([[[[xp[n, ch, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max() for j in range(ow)] for i in range(oh)]
                      for ch in range(3)] for n in range(2)])
    close("max_pool2d 3/2 pad 1 ceil", out, want)
    out.sum().backward()
    assert abs(host(tx.grad).sum() - out.numel()) < 1e-3, "every window's maximum receives its gradient once"
    ta = c.t(x).requires_grad_(True)
    avg = torch.nn.functional.avg_pool2d(ta, 2)
    close("avg_pool2d 2", avg, x[:, :, :6, :6].reshape(2, 3, 3, 2, 3, 2).mean(axis=(3, 5)))
    avg.sum().backward()
    grad = np.zeros_like(x)
    grad[:, :, :6, :6] = 0.25
    close("avg_pool2d gradient", ta.grad, grad)


@check
def window_interpolation(c):
    """interpolate's window kernels forward and backward: bilinear (align_corners) of a ramp, read
    through channels-last strides and written channels-last; nearest 3-d and bicubic downsampling,
    whose gather backwards hand each output's unit gradient out exactly once in total."""
    torch = c.torch
    F = torch.nn.functional
    i, j = np.meshgrid(np.arange(5.0), np.arange(4.0), indexing="ij")
    ramp = np.broadcast_to((3 * i - 2 * j)[None, None], (2, 3, 5, 4)).astype(np.float32)
    tx = c.t(np.ascontiguousarray(ramp.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2).requires_grad_(True)
    out = F.interpolate(tx, size=(9, 7), mode="bilinear", align_corners=True)
    oi, oj = np.meshgrid(np.arange(9) * 4 / 8, np.arange(7) * 3 / 6, indexing="ij")
    close("bilinear align_corners of a ramp", out, np.broadcast_to(3 * oi - 2 * oj, (2, 3, 9, 7)), atol=1e-4)
    out.sum().backward()
    assert abs(host(tx.grad).sum() - out.numel()) < 1e-2, "bilinear weights sum to one per output"
    x3 = c.floats(1, 2, 3, 4, 5)
    tn = c.t(x3).requires_grad_(True)
    near = F.interpolate(tn, scale_factor=2, mode="nearest")
    close("nearest 3-d x2", near, x3.repeat(2, axis=2).repeat(2, axis=3).repeat(2, axis=4))
    near.sum().backward()
    close("nearest 3-d x2 gradient", tn.grad, np.full(x3.shape, 8.0))
    tc = c.t(c.floats(2, 2, 7, 6)).requires_grad_(True)
    cubic = F.interpolate(tc, size=(4, 5), mode="bicubic", align_corners=False)
    cubic.sum().backward()
    assert abs(host(tc.grad).sum() - cubic.numel()) < 1e-2, "bicubic weights sum to one per output"


@check
def fft_family(c):
    """torch.fft's per-pass kernels: Stockham passes (12 = 4 x 3 points), Bluestein (11 points), a real
    transform along a strided dim and the inverse of a half spectrum. NOTE: fft_local (all passes in one
    launch) is left out: under this Oclgrind its multi-pass rows read uninitialised values and come out
    zero (one-pass rows are right), while PoCL and rusticl give the right values for both paths
    (tests/test_fft.py runs each); an interpreter limitation suspected (it also stops at LLVM's `freeze`)."""
    from cltensor.launch import fft as fft_launcher
    local_limit, fft_launcher._local_limit = fft_launcher._local_limit, lambda backend, dtype: 0  # one launch per pass
    try:
        _fft_checks(c)
    finally:
        fft_launcher._local_limit = local_limit


def _fft_checks(c):
    torch = c.torch
    x = c.floats(3, 12)
    close("fft 12 (radix 4 x 3)", torch.view_as_real(torch.fft.fft(c.t(x))),
          np.stack([np.fft.fft(x).real, np.fft.fft(x).imag], -1), atol=1e-4)
    y = c.floats(11, 2)
    want = np.fft.fft(y, axis=0)
    close("fft 11 along dim 0 (Bluestein, strided)", torch.view_as_real(torch.fft.fft(c.t(y), dim=0)),
          np.stack([want.real, want.imag], -1), atol=1e-4)
    half = torch.fft.rfft(c.t(x))
    close("irfft of rfft", torch.fft.irfft(half, n=12), x, atol=1e-5)


@check
def linalg_family(c):
    """torch.linalg's kernels on tiny matrices: Cholesky, LU with pivoting and the triangular solves and
    row swaps of solve, Householder QR, Jacobi SVD, and Bunch-Kaufman LDL with its solve."""
    torch = c.torch
    la = torch.linalg
    a = c.floats(2, 5, 5)
    spd = a @ a.transpose(0, 2, 1) + 5 * np.eye(5, dtype=np.float32)
    close("cholesky", la.cholesky(c.t(spd)), np.linalg.cholesky(spd.astype(np.float64)), atol=1e-4)
    b = c.floats(2, 5, 3)
    close("solve (LU, row swaps, triangular solves)", la.solve(c.t(a), c.t(b)),
          np.linalg.solve(a.astype(np.float64), b), rtol=1e-3, atol=1e-3)
    tall = c.floats(6, 4)
    q, r = la.qr(c.t(tall))
    close("qr reconstructs", q @ r, tall, atol=1e-4)
    close("svdvals", la.svdvals(c.t(tall)), np.linalg.svd(tall.astype(np.float64), compute_uv=False), atol=1e-4)
    sym = a + a.transpose(0, 2, 1)
    ld, piv = la.ldl_factor(c.t(sym))
    close("ldl_solve", la.ldl_solve(ld, piv, c.t(b)), np.linalg.solve(sym.astype(np.float64), b),
          rtol=1e-3, atol=1e-3)


@check
def window_padding(c):
    """reflect and replicate padding's window kernels, forward and backward (the gather backward adds
    each copied border element back onto its source)."""
    torch = c.torch
    x = c.floats(2, 3, 4, 5)
    for mode, np_mode in (("reflect", "reflect"), ("replicate", "edge")):
        tx = c.t(x).requires_grad_(True)
        out = torch.nn.functional.pad(tx, (3, 1, 2, 2), mode=mode)
        close(f"{mode} pad", out, np.pad(x, ((0, 0), (0, 0), (2, 2), (3, 1)), mode=np_mode))
        out.sum().backward()
        assert abs(host(tx.grad).sum() - out.numel()) < 1e-2, f"{mode} pad gradient counts every output once"


# ---- a training step: autograd through every family at once --------------------------------------------------
@check
def training_step(c):
    """Linear -> ReLU -> Linear -> cross_entropy on a batch of 33, backward, one Adam step; an
    embedding lookup (gather, and an atomic scatter-add backward) and layer_norm beside it."""
    torch = c.torch
    nn, F = torch.nn, torch.nn.functional
    x = c.floats(33, 13)
    y = c.rng.integers(0, 3, size=33)
    w1, b1, w2, b2 = c.floats(7, 13, lo=-0.5, hi=0.5), c.floats(7), c.floats(3, 7, lo=-0.5, hi=0.5), c.floats(3)
    l1, l2 = nn.Linear(13, 7).to(c.dev), nn.Linear(7, 3).to(c.dev)
    with torch.no_grad():
        for layer, w, b in ((l1, w1, b1), (l2, w2, b2)):
            layer.weight.copy_(c.t(w))
            layer.bias.copy_(c.t(b))
    opt = torch.optim.Adam(list(l1.parameters()) + list(l2.parameters()), lr=0.01)
    loss = F.cross_entropy(l2(torch.relu(l1(c.t(x)))), c.t(y))
    opt.zero_grad()
    loss.backward()
    # numpy reference
    X = x.astype(np.float64)
    h = X @ w1.T + b1
    a = np.maximum(h, 0)
    z = a @ w2.T + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    ref_loss = -np.log(p[np.arange(33), y]).mean()
    gz = p.copy()
    gz[np.arange(33), y] -= 1
    gz /= 33
    gw2, gb2 = gz.T @ a, gz.sum(0)
    gh = (gz @ w2) * (h > 0)
    gw1, gb1 = gh.T @ X, gh.sum(0)
    close("cross_entropy loss", loss, np.float64(ref_loss), atol=1e-6)
    for name, got, want in (("w1", l1.weight.grad, gw1), ("b1", l1.bias.grad, gb1), ("w2", l2.weight.grad, gw2),
                            ("b2", l2.bias.grad, gb2)):
        close(f"grad {name}", got, want, atol=1e-6)
    opt.step()
    # Adam's first step moves every weight by lr * sign(grad) (up to eps)
    close("Adam step on w1", l1.weight, w1 - 0.01 * np.sign(gw1) * (np.abs(gw1) > 1e-7), atol=2e-5)
    emb = nn.Embedding(11, 5).to(c.dev)
    table = host(emb.weight)
    ids = np.array([[3, 10, 3], [0, 3, 7]])
    out = emb(c.t(ids))
    close("embedding lookup", out, table[ids])
    g = c.floats(2, 3, 5)
    (out * c.t(g)).sum().backward()
    ref = np.zeros((11, 5))
    np.add.at(ref, ids.reshape(-1), g.reshape(-1, 5))
    close("embedding backward (scatter-add)", emb.weight.grad, ref, atol=1e-6)
    ln = c.floats(7, 13)
    mu, var = ln.astype(np.float64).mean(1, keepdims=True), ln.astype(np.float64).var(1, keepdims=True)
    close("layer_norm", F.layer_norm(c.t(ln), (13,)), (ln - mu) / np.sqrt(var + 1e-5), atol=1e-5)


# ---- running ---------------------------------------------------------------------------------------------------
def _under_oclgrind() -> bool:
    import pyopencl as cl
    try:
        return any("Oclgrind" in p.name for p in cl.get_platforms())
    except cl.Error:
        return False


def _quiet_pyopencl_probes():
    """pyopencl asks every device for NVIDIA's compute capability (CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV)
    when it builds a program or sets kernel argument types, and takes the CL_INVALID_VALUE answer
    for "not NVIDIA"; `oclgrind --check-api` reports each such call as an API error. Oclgrind is not
    an NVIDIA GPU: answer the probe here, so every API error left is one of cltensor's."""
    import pyopencl.characterize as characterize
    characterize.nv_compute_capability = lambda dev: None


def _exact_allocations(torch, dev):
    """Switch off the allocator's size classes: every tensor gets a buffer of its own exact size
    (else a read past the end of a small tensor stays inside its 512-byte block, unseen)."""
    from cltensor import memory
    if not hasattr(memory, "_round_size"):
        raise RuntimeError("cltensor.memory._round_size is gone: update _exact_allocations in " + __file__)
    memory._round_size = lambda nbytes: max(int(nbytes), 1)
    probe = torch.empty(3, device=dev)
    if probe._storage.block.nbytes != 12:
        raise RuntimeError(f"allocations are not exact-sized ({probe._storage.block.nbytes} bytes for 3 floats): "
                           "update _exact_allocations in " + __file__)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu",
                        help="cltensor device to run on: cpu (host memory, the default) or cl:N")
    parser.add_argument("--only", action="append", default=[], help="run the checks whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    parser.add_argument("--expect-platform", default=None,
                        help="fail unless the device's OpenCL platform name contains this (e.g. Oclgrind)")
    args = parser.parse_args(argv)
    if args.list:
        for fn in CHECKS:
            print(fn.__name__)
        return 0
    import cltensor as torch
    if _under_oclgrind():
        _quiet_pyopencl_probes()
    dev = args.device
    backend = torch.device(dev).backend
    tuning = "cpu" if backend.cpu_tuned else "gpu"
    platform = backend.cl_device.platform.name.strip()
    if args.expect_platform and args.expect_platform not in platform:
        print(f"oclgrind workload: device {dev} is {backend.name!r} on platform {platform!r}, not on "
              f"{args.expect_platform!r}; nothing was checked", flush=True)
        return 2
    _exact_allocations(torch, dev)
    from cltensor import gemm_tuning
    print(f"oclgrind workload: device {dev} = {backend.name!r} on {platform!r} "
          f"({'CPU' if backend.is_cpu else ''}{'+' if backend.is_cpu and backend.is_gpu else ''}"
          f"{'GPU' if backend.is_gpu else ''} type), {tuning} tuning, "
          f"GEMM variant {gemm_tuning.params_for(backend, torch.float32)['variant']!r}, "
          f"fp64 {backend.has_fp64}, int64 atomics "
          f"{'cl_khr_int64_base_atomics' in backend.cl_device.extensions.split()}", flush=True)
    ctx = Ctx(torch, dev)
    failed, ran, start = [], 0, time.perf_counter()
    for fn in CHECKS:
        if args.only and not any(s in fn.__name__ for s in args.only):
            continue
        ran += 1
        t0 = time.perf_counter()
        try:
            fn(ctx)
        except Exception as err:  # every check runs, then the failures are listed
            failed.append(fn.__name__)
            print(f"FAIL {fn.__name__} ({time.perf_counter() - t0:.1f} s): {type(err).__name__}: {err}", flush=True)
            traceback.print_exc(file=sys.stdout)
            continue
        print(f"ok   {fn.__name__} ({time.perf_counter() - t0:.1f} s)", flush=True)
    total = time.perf_counter() - start
    if failed:
        print(f"oclgrind workload: {len(failed)} of {ran} checks FAILED ({', '.join(failed)}) "
              f"[{tuning} tuning, {total:.0f} s]", flush=True)
        return 1
    print(f"oclgrind workload: all {ran} checks passed [{tuning} tuning, {total:.0f} s]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
