"""The FFT family (kernels_cl/fft.cl.mako): one-dimensional transforms along any dim.

A transform is described by a Plan: read the input along `dim` (complex, real, or the one-sided half
of a Hermitian spectrum, zero-padded or trimmed to the transform length N), transform with
exp(sign * 2 pi i jk / N) and a scale, and keep the first `keep` outputs (complex or only their real
part), zero-padded to `out_len`. The Plan's adjoint is again a Plan (ops/fft.py's gradients).

Lengths whose prime factors are 2, 3, 5 and 7 run as Stockham passes (radix 8 first, then 4, 2, 3, 5, 7),
one launch per pass, or all passes in one launch with a work-group per row in local memory where the
row fits; other lengths go through Bluestein's chirp-z transform with a power-of-two FFT.
The other dims are the batch: they are read and written through strides (merged where the layout
allows, up to four), so neither a non-contiguous input nor a transformed dim other than the last is
copied first.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import pyopencl as cl

from .. import codegen
from . import signature as sg
from .base import empty, enqueue, launch
from .signature import Signature

COMPLEX_IN, REAL_IN, HERMITIAN_IN = 0, 1, 2
_RADICES = (8, 4, 2, 3, 5, 7)
_MAX_BATCH_DIMS = 4
_MAX_LOCAL_PASSES = 7  # radix codes of 4 bits each in an int
# work-group size of fft_local by backend.cpu_tuned: a CPU driver runs a work-group's items in a loop
# (PoCL, a batch of 1024-point rows: 4 ~ 1 < 16 < 64, measured)
_LOCAL_WG = {True: 4, False: 128}
_LOCAL_SMALL = 4096  # up to this length one launch beats one per pass even for a single row
_INT_LIMIT = 2 ** 31 - 1


@dataclass(frozen=True)
class Plan:
    """One linear map along dim; see the module docstring. dbl_hi > 0 doubles outputs 1..dbl_hi
    (the adjoint of reading a Hermitian spectrum's half)."""
    dim: int
    n: int
    sign: int
    in_mode: int
    out_real: bool
    scale: float
    keep: int
    out_len: int
    conj_in: bool = False
    conj_out: bool = False
    dbl_hi: int = 0

    def in_count(self, length):
        """How many input values along dim the map reads."""
        return min(length, self.n // 2 + 1 if self.in_mode == HERMITIAN_IN else self.n)

    def adjoint(self, in_len):
        """The Plan of this map's adjoint (for the real inner product), whose output has in_len values."""
        n, half = self.n, self.n // 2 + 1
        common = dict(sign=-self.sign, conj_in=self.conj_out, conj_out=self.conj_in, out_len=in_len)
        if self.in_mode == HERMITIAN_IN:  # c2r -> r2c, the mirrored half folded back (doubled)
            return replace(self, in_mode=REAL_IN, out_real=False, keep=min(in_len, half), dbl_hi=n - half, **common)
        if self.dbl_hi:  # the adjoint of the line above: reading a Hermitian half undoes the doubling
            return replace(self, in_mode=HERMITIAN_IN, out_real=True, keep=min(in_len, n), dbl_hi=0, **common)
        in_mode = REAL_IN if self.out_real else COMPLEX_IN
        return replace(self, in_mode=in_mode, out_real=self.in_mode == REAL_IN, keep=min(in_len, n), **common)


def radices(n):
    """The Stockham passes for length n (radix 8 first), or None where n has a prime factor above 7."""
    passes = []
    for r in _RADICES:
        while n % r == 0 and n > 1:
            passes.append(r)
            n //= r
    return passes if n == 1 else None


def bluestein_length(n):
    """The power of two M >= 2n - 1 Bluestein's convolution needs."""
    return 1 << (2 * n - 2).bit_length()


def _is_complex(t):
    return getattr(t.dtype, "is_complex", False)


@dataclass
class _Side:
    """Where one side (input or output) of a pass lives: buffer, offset, the batch strides and the
    stride along the transformed dim, all counted in real elements (a complex value is two)."""
    buffer: object
    offset: int
    batch_strides: tuple
    stride: int
    contiguous: bool = False  # a (batch, n) work buffer


def _layout(t, pairs):
    """(offset, strides) of tensor t in real elements; pairs: t is real with a trailing (re, im) dim."""
    if pairs:
        return t._offset, tuple(t._strides[:-1])
    if _is_complex(t):
        return 2 * t._offset, tuple(2 * s for s in t._strides)
    return t._offset, tuple(t._strides)


def _merge_batch(shape, in_strides, out_strides):
    """The batch dims (size > 1) with adjacent dims merged where both layouts allow it."""
    dims = []
    for size, si, so in zip(shape, in_strides, out_strides):
        if size == 1:
            continue
        if dims and dims[-1][1] == si * size and dims[-1][2] == so * size:
            dims[-1] = (dims[-1][0] * size, si, so)
        else:
            dims.append((size, si, so))
    return dims


def _local_limit(backend, dtype):
    """The longest transform fft_local runs: its two complex buffers in half the local memory."""
    size = backend.local_mem_size // 2 // (4 * dtype.itemsize)
    return 1 << (size.bit_length() - 1)


def _kernel(backend, dtype, name):
    return codegen.kernel(backend, ("fft", dtype, name), "fft.cl.mako", name, lambda: _signatures(dtype), dtype=dtype)


_PASS_RADICES = (1, 2, 3, 4, 5, 7, 8)  # the fft_pass_R kernels fft.cl.mako renders


def _signatures(dtype):
    """Every kernel of fft.cl.mako. dtype is the real type: buffers hold (re, im) pairs of T, local memory T2."""
    T, T2 = dtype.c, dtype.c + "2"
    ints = functools.partial(sg.sizes, "int")
    io = [ints("B0", "B1", "B2", "B3"), sg.tensor("in", T, "int", 0), ints("is0", "is1", "is2", "is3"),
          ints("in_stride", "in_n", "in_mode", "conj_in"), sg.tensor("out", T, "int", 0, const=False),
          ints("os0", "os1", "os2", "os3"), ints("out_stride", "out_keep", "out_real", "conj_out"),
          sg.scalar("scale", dtype), ints("dbl_hi")]
    twiddles = sg.buffer("twiddles", T)
    signatures = {
        "fft_local": Signature(ints("rows", "N", "sign"), *io, twiddles, ints("radix_code"),
                               sg.buffer("buf", T2, const=False, space="__local")),
        "twiddle_table": Signature(ints("N"), sg.buffer("table", T, const=False)),
        "chirp_in": Signature(ints("total", "N", "M", "sign"), *io),
        "chirp_filter": Signature(ints("N", "M", "sign"), sg.buffer("filter", T, const=False)),
        "chirp_mul": Signature(ints("total", "M"), sg.buffer("work", T, const=False), sg.buffer("filter_hat", T)),
        "chirp_out": Signature(ints("total", "N", "M", "sign"), *io)}
    for R in _PASS_RADICES:
        signatures[f"fft_pass_{R}"] = Signature(ints("total", "N", "Ns", "sign"), *io, twiddles)
        signatures[f"fft_pass_{R}_contiguous"] = Signature(ints("total", "N", "Ns", "sign"), sg.buffer("in", T),
                                                           sg.buffer("out", T, const=False), twiddles)
    return signatures


def _io_args(batch, src, dst, in_n, in_mode, conj_in, keep, out_real, conj_out, scale, dbl_hi):
    return [*batch, src.buffer, src.offset, *src.batch_strides, src.stride, in_n, in_mode, int(conj_in),
            dst.buffer, dst.offset, *dst.batch_strides, dst.stride, keep, int(out_real), int(conj_out), scale,
            dbl_hi]


class _Launch:
    """The launches of one transform: geometry shared by every pass."""

    def __init__(self, plan, dtype, device, batch, src, dst, in_n):
        self.plan, self.dtype, self.device, self.batch = plan, dtype, device, batch
        self.backend = device.backend
        self.src, self.dst, self.in_n = src, dst, in_n
        self.count = math.prod(batch)

    def work(self, n):
        """A contiguous (batch..., n) complex work buffer (the tensor keeps its memory alive)."""
        t = empty((self.count * n * 2,), self.dtype, self.device)
        strides, step = [], 2 * n
        for size in reversed(self.batch):
            strides.append(step)
            step *= size
        return _Side(t._storage.buffer, 0, tuple(reversed(strides)), 2, contiguous=True), t

    def enqueue(self, name, total, args):
        enqueue(self.backend, _kernel(self.backend, self.dtype, name), total, [total] + args)

    def passes(self, n, sign, src, dst, first, last):
        """The Stockham passes of a length-n transform from src to dst; first/last: whether src/dst
        are the transform's ends (the plan's load modes apply to the first pass, its store to the last).
        Passes in between alternate between two work buffers. (A buffer freed while a launch that
        uses it is queued is safe: the queue is in order, so its next user runs after.)"""
        p = self.plan
        steps = radices(n) or [1]
        twiddles = _twiddle_table(self.device, self.dtype, n)._storage.buffer
        if self._fits_local(n, steps):
            self.local(n, sign, src, dst, first, last, steps, twiddles)
            return
        buffers = [self.work(n) for _ in range(min(len(steps) - 1, 2))]
        ns, cur = 1, src
        for i, r in enumerate(steps):
            nxt = dst if i == len(steps) - 1 else buffers[i % 2][0]
            loads, stores = i == 0 and first, nxt is dst and last
            total = self.count * n // r
            if cur.contiguous and nxt.contiguous and not loads and not stores:
                self.enqueue(f"fft_pass_{r}_contiguous", total, [n, ns, sign, cur.buffer, nxt.buffer, twiddles])
            else:
                load = (self.in_n, p.in_mode, p.conj_in) if loads else (n, COMPLEX_IN, False)
                store = (p.keep, p.out_real, p.conj_out, p.scale, p.dbl_hi) if stores else (n, False, False, 1.0, 0)
                self.enqueue(f"fft_pass_{r}", total,
                             [n, ns, sign] + _io_args(self.batch, cur, nxt, *load, *store) + [twiddles])
            ns *= r
            cur = nxt

    def _fits_local(self, n, steps):
        """Whether fft_local should run the transform: a work-group per row gives enough parallel
        work (or the row is short), and two rows fit in local memory."""
        enough_rows = self.count >= self.backend.compute_units or n <= _LOCAL_SMALL
        return 1 < n <= _local_limit(self.backend, self.dtype) and len(steps) <= _MAX_LOCAL_PASSES and enough_rows

    def local(self, n, sign, src, dst, first, last, steps, twiddles):
        """All passes in one launch, a work-group per row in local memory (kernel fft_local)."""
        p = self.plan
        load = (self.in_n, p.in_mode, p.conj_in) if first else (n, COMPLEX_IN, False)
        store = (p.keep, p.out_real, p.conj_out, p.scale, p.dbl_hi) if last else (n, False, False, 1.0, 0)
        code = sum(r << (4 * i) for i, r in enumerate(steps))
        widest = n // min(steps)  # the work-items of the pass with the most butterflies
        wg = min(_LOCAL_WG[self.backend.cpu_tuned], self.backend.max_work_group_size, 1 << widest.bit_length() - 1)
        scratch = cl.LocalMemory(2 * n * 2 * self.dtype.itemsize)
        args = [self.count, n, sign] + _io_args(self.batch, src, dst, *load, *store) + [twiddles, code, scratch]
        launch(self.backend, _kernel(self.backend, self.dtype, "fft_local"), (self.count * wg,), (wg,),
                        args, self.count * n)

    def stockham(self):
        self.passes(self.plan.n, self.plan.sign, self.src, self.dst, True, True)

    def bluestein(self):
        """X = chirp * (IFFT(FFT(x * chirp) * FFT(filter))) with power-of-two FFTs of length m."""
        p, n = self.plan, self.plan.n
        m = bluestein_length(n)
        filter_hat = _chirp_filter(self.device, self.dtype, n, m, p.sign)
        (work, _work_memory), (conv, _conv_memory) = self.work(m), self.work(m)
        self.enqueue("chirp_in", self.count * m, [n, m, p.sign] + _io_args(
            self.batch, self.src, work, self.in_n, p.in_mode, p.conj_in, m, False, False, 1.0, 0))
        self.passes(m, -1, work, conv, False, False)
        self.enqueue("chirp_mul", self.count * m, [m, conv.buffer, filter_hat._storage.buffer])
        self.passes(m, 1, conv, work, False, False)
        self.enqueue("chirp_out", self.count * n, [n, m, p.sign] + _io_args(
            self.batch, work, self.dst, n, COMPLEX_IN, False, p.keep, p.out_real, p.conj_out, p.scale, p.dbl_hi))


_TABLES = {}
_TABLE_CACHE_SIZE = 32


def _cached(key, make):
    """A small per-process cache of device constants (twiddle tables, Bluestein filters), oldest out first."""
    value = _TABLES.get(key)
    if value is None:
        value = make()
        if len(_TABLES) >= _TABLE_CACHE_SIZE:
            _TABLES.pop(next(iter(_TABLES)))
        _TABLES[key] = value
    return value


def _twiddle_table(device, dtype, n):
    def make():
        table = empty((n, 2), dtype, device)
        enqueue(device.backend, _kernel(device.backend, dtype, "twiddle_table"), n,
                         [n, table._storage.buffer])
        return table
    return _cached(("twiddles", device, dtype, n), make)


def _chirp_filter(device, dtype, n, m, sign):
    """The forward FFT of Bluestein's chirp filter for (n, sign)."""
    return _cached(("chirp", device, dtype, n, sign), lambda: _make_chirp_filter(device, dtype, n, m, sign))


def _make_chirp_filter(device, dtype, n, m, sign):
    filt = empty((m, 2), dtype, device)
    enqueue(device.backend, _kernel(device.backend, dtype, "chirp_filter"), m,
                     [n, m, sign, filt._storage.buffer])
    hat = empty((m, 2), dtype, device)
    plan = Plan(dim=0, n=m, sign=-1, in_mode=COMPLEX_IN, out_real=False, scale=1.0, keep=m, out_len=m)
    one, zero = (1,) * _MAX_BATCH_DIMS, (0,) * _MAX_BATCH_DIMS
    _Launch(plan, dtype, device, one, _Side(filt._storage.buffer, 0, zero, 2),
            _Side(hat._storage.buffer, 0, zero, 2), m).stockham()
    return hat


def _check_range(*tensors):
    for t in tensors:
        reach = t._offset + sum(abs(s) * (n - 1) for s, n in zip(t._strides, t._shape))
        if 2 * reach + 2 >= _INT_LIMIT:
            raise RuntimeError(f"fft of a tensor of shape {list(t.shape)} exceeds the 32-bit index range")


def transform(x, out, plan: Plan, pairs_in, pairs_out):
    """out <- plan applied to x along plan.dim; both non-empty, of any strides; x and out are complex, or
    real with a trailing (re, im) dim where pairs_in / pairs_out, or real where the plan reads or writes
    real values. Returns False, launching nothing, where the batch dims of x and out do not merge into
    four: the caller passes a contiguous x then."""
    _check_range(x, out)
    dim = plan.dim
    x_shape = x.shape[:-1] if pairs_in else x.shape
    in_off, in_strides = _layout(x, pairs_in)
    out_off, out_strides = _layout(out, pairs_out)
    batch_dims = _merge_batch([s for i, s in enumerate(x_shape) if i != dim],
                              [s for i, s in enumerate(in_strides) if i != dim],
                              [s for i, s in enumerate(out_strides) if i != dim])
    if len(batch_dims) > _MAX_BATCH_DIMS:
        return False
    batch_dims = [(1, 0, 0)] * (_MAX_BATCH_DIMS - len(batch_dims)) + batch_dims
    batch = tuple(d[0] for d in batch_dims)
    src = _Side(x._storage.buffer, in_off, tuple(d[1] for d in batch_dims), in_strides[dim])
    dst = _Side(out._storage.buffer, out_off, tuple(d[2] for d in batch_dims), out_strides[dim])
    plan = replace(plan, keep=min(plan.keep, plan.out_len, plan.n))
    rdtype = x.dtype.to_real() if _is_complex(x) else x.dtype
    passes = _Launch(plan, rdtype, x.device, batch, src, dst, plan.in_count(x_shape[dim]))
    if radices(plan.n) is not None:
        passes.stockham()
    else:
        passes.bluestein()
    return True
