"""Scans along one dim (kernels_cl/scan.cl.mako): block scans, block totals, carries."""
from __future__ import annotations

import math

from .. import codegen
from . import signature as sg
from ..memory import Storage
from .base import items_wg, launch_1d
from .reduce import reduce_tuning
from .signature import Signature
from .strides import collapse, index_type, pad_dims

def scan(combine, neutral, x, dim, out, T, A, reverse=False, helpers=""):
    """out (contiguous, x's shape) = the inclusive scan of x along dim by the C expression `combine`
    of x and y (type A.compute_c) with identity `neutral`; elements are converted to T first."""
    if out.numel() == 0:
        return out
    backend = x.device.backend
    views = [x, out]
    kept = [d for d in range(x.dim()) if d != dim]
    ksizes, kst = pad_dims(*collapse([x._shape[d] for d in kept], [[v._strides[d] for d in kept] for v in views]),
                            3)
    L = x._shape[dim] if x.dim() else 1
    lst = [v._strides[dim] if x.dim() else 0 for v in views]
    M = math.prod(ksizes)
    tune = reduce_tuning(backend)
    V = 16 if backend.cpu_tuned and abs(kst[0][-1]) == 1 and M >= 16 else 1  # rows side by side: see scan.cl.mako
    S = max(1, min(-(-tune.items_per_cu * backend.compute_units * V // M), L // tune.min_chunk))
    chunk = max(1, -(-L // S))
    S = -(-L // chunk)
    idx = index_type(views)
    nob = -(-M // V)
    base = [M, L, S, chunk, *ksizes]
    src = [x._storage.buffer, x._offset, lst[0], *kst[0]]
    dst = [out._storage.buffer, out._offset, lst[1], *kst[1]]
    spec = (combine, neutral, T, A, x.dtype, out.dtype, len(ksizes), idx, reverse, helpers, V)
    work = M * L
    if S == 1:
        launch_1d(backend, _scan_kernel(backend, spec, "scan", False), nob, base + src + dst,
                   items_wg(backend, nob), work)
        return out
    part = Storage.allocate(backend, S * M * A.itemsize, False)
    launch_1d(backend, _scan_kernel(backend, spec, "total", True), nob * S, base + src + [part.buffer],
               items_wg(backend, nob * S), work)
    launch_1d(backend, _scan_kernel(backend, spec, "carry", True), M, base + [part.buffer], items_wg(backend, M),
               M * S)
    launch_1d(backend, _scan_kernel(backend, spec, "scan", True), nob * S, base + src + dst + [part.buffer],
               items_wg(backend, nob * S), work)
    return out


def _scan_kernel(backend, spec, phase, carry):
    if phase == "carry":  # reads only the partials: one kernel whatever the input's dtype and layout
        combine, neutral, T, A, in_dtype, out_dtype, nk, idx, reverse, helpers, V = spec
        spec = (combine, neutral, A, A, A, A, nk, idx, reverse, helpers, 1)
    key = ("scan", spec, phase, carry)
    kernel = backend.kernels.get(key)
    if kernel is None:
        combine, neutral, T, A, in_dtype, out_dtype, nk, idx, reverse, helpers, V = spec
        parts = [sg.sizes(idx, "M", "L", "S", "chunk"), sg.dims(idx, "ks", nk)]
        if phase != "carry":
            parts.append(_operand("src", in_dtype, idx, nk, const=True))
        if phase == "scan":
            parts.append(_operand("dst", out_dtype, idx, nk, const=False))
        if phase != "scan" or carry:
            parts.append(sg.buffer("part", "A", const=False))
        kernel = codegen.kernel(backend, key, "scan.cl.mako", "scan_" + phase,
                                signatures={"scan_" + phase: Signature(*parts)}, combine=combine,
                                neutral=neutral, T=T, A=A.compute_c, A_dtype=A, in_dtype=in_dtype, out_dtype=out_dtype,
                                nk=nk, IDX=idx, reverse=reverse, phase=phase, carry=carry, helpers=helpers, V=V)
    return kernel


def _operand(name, dtype, idx, nk, const):
    """A tensor read or written along the dim (stride name_lst) at nk kept dims (strides name_kst0...)."""
    strides = [f"{name}_lst"] + [f"{name}_kst{d}" for d in range(nk)]
    return sg.tensor(name, dtype.c, idx, nk, const=const, strides=strides)
