"""Reductions (kernels_cl/reduce.cl.mako): plans splitting rows over work-groups, one or two stages."""
from __future__ import annotations

import math

import pyopencl as cl

from .. import codegen
from ..memory import Storage
from . import signature as sg
from .base import group_limit, items_wg, launch_1d, scalar_arg
from .signature import Signature
from .strides import collapse, index_type, pad_dims

C_SIZES = {"char": 1, "uchar": 1, "short": 2, "ushort": 2, "int": 4, "uint": 4, "float": 4, "long": 8,
           "ulong": 8, "double": 8}


class ReduceCode:
    """What a reduction computes, as C snippets for reduce.cl.mako (the rows live in ops/reduce.py).

    T: dtype elements are converted to; A: accumulator dtype; fields: [(name, C type)] of the state;
    neutral/map/combine: C statements; finish: one C expression per output; fused: a C expression
    of an element `a` and the state `s` written per element (softmax), or None; fused_setup: C
    statements that rewrite `s` once before those writes. prestore: optional (value, add, refused),
    where a work-item walks a contiguous row with `pre` (CPUs): the pass that accumulates stores
    value (of `a` and `pre`, say exp(a - max)) into the fused output and folds it into `s` by the
    statement add (of `s` and `e`); the fused pass then writes refused, of that stored `f` and `s`
    (softmax: one exp per element instead of two). Where the input, T and A are one type and the
    output row is contiguous too, those passes run on vectors (vload/vstore; PoCL then calls its
    vector exp): value and pre_combine must also be valid for vectors, and add then receives partial
    sums of values, so it must be a sum. vector_combine: optional C expression of two vectors x and y
    of A, for a row of one field whose map is the element itself (sum: x + y): where a work-item walks
    a contiguous row of elements of type A (CPUs), it folds vector loads into four accumulators.
    """

    def __init__(self, name, T, A, fields, neutral, map, combine, finish, fused=None, helpers="",
                 lowest="0", highest="0", pre=None, fused_setup="", prestore=None, vector_combine=""):
        self.name, self.T, self.A, self.finish, self.fused = name, T, A, tuple(finish), fused
        # largest fields first: no padding inside the struct, so its size is known here
        self.fields = tuple(sorted(fields, key=lambda f: -C_SIZES[f[1]]))
        sizes = [C_SIZES[f[1]] for f in self.fields]
        self.nbytes = -(-sum(sizes) // sizes[0]) * sizes[0]
        # NOTE: the tail padding is declared: Mesa 22.3's llvmpipe (rusticl) loses the values of a struct
        # with implicit padding ({long c; float v;}) returned from an inline function in an unrolled loop
        self.padding = self.nbytes - sum(sizes)
        # pre: optional (pre_neutral, pre_combine, start, accumulate), a faster path for work-items
        pre_neutral, pre_combine, start, accumulate = pre or ("", "", "", "")
        self.snippets = dict(neutral=neutral, map=map, combine=combine, helpers=helpers, lowest=lowest,
                             highest=highest, pre_neutral=pre_neutral, pre_combine=pre_combine, start=start,
                             accumulate=accumulate, fused_setup=fused_setup)
        value, add, refused = prestore or ("", "", "")
        self.snippets.update(prestore_value=value, prestore_add=add, prestore_fused=refused,
                             vector_combine=vector_combine)
        self.key = (name, T, A, self.fields, self.finish, fused, tuple(self.snippets.values()))


class ReduceTuning:
    """How much parallelism a reduction plan asks for (per compute unit) and the least work per piece."""

    def __init__(self, items_per_cu, min_chunk, groups_per_cu, use_groups, row_items_per_cu=None):
        self.items_per_cu, self.min_chunk = items_per_cu, min_chunk
        # where items walk contiguous rows (lanes 'elements'): a few long chunks, each streamed with vector loads
        self.row_items_per_cu = row_items_per_cu or items_per_cu
        self.groups_per_cu, self.use_groups = groups_per_cu, use_groups


CPU_TUNING = ReduceTuning(items_per_cu=16, min_chunk=8192, groups_per_cu=4, use_groups=False, row_items_per_cu=2)
GPU_TUNING = ReduceTuning(items_per_cu=1024, min_chunk=64, groups_per_cu=4, use_groups=True)


def reduce_tuning(backend) -> ReduceTuning:
    return CPU_TUNING if backend.cpu_tuned else GPU_TUNING


def _reduce_plan(backend, M, R, rows, cols, single, unit_rows=False):
    """(mode, S chunks per output, chunk, W, V, lanes). 'group' (a work-group per piece) where the
    reduced positions are the fast memory dim on a GPU, else 'items' (a work-item walks its piece).
    On CPUs an item runs V independent lanes the compiler can vectorise: V outputs side by side
    where the outputs are the fast memory dim (each read then uses a whole cache line), or V
    consecutive elements of a contiguous row. Enough pieces that the device is busy even when M is
    small (S > 1: another stage combines them)."""
    tune = reduce_tuning(backend)
    cus = backend.compute_units
    if tune.use_groups and rows and R > 32:
        W = min(256, max(32, (1 << (R - 1).bit_length()) // 8))
        S = 1 if single else max(1, min(-(-tune.groups_per_cu * cus // M), R // (W * 16)))
        mode, V, lanes = "group", 1, "outputs"
    else:
        W, V, lanes = 0, 1, "outputs"
        if backend.cpu_tuned and cols and M >= 16 and not backend.loop_limit:
            V = 16
        elif backend.cpu_tuned and unit_rows:
            V, lanes = 16, "elements"
        per_item, items = (V, tune.items_per_cu) if lanes == "outputs" else (1, tune.row_items_per_cu)
        S = 1 if single else max(1, min(-(-items * cus * per_item // M), R // tune.min_chunk))
        if backend.loop_limit and not single:  # a few passes over a chunk stay below the limit
            S = max(S, -(-4 * R // backend.loop_limit))
        mode = "items"
    chunk = max(1, -(-R // S))
    return mode, max(1, -(-R // chunk)), chunk, W, V, lanes


def reduce(code, x, dims, outs, params=(), fused=None, ordered=False, second=None):
    """Fill outs (fresh contiguous tensors over x's kept positions, in order) with code.finish of
    the reduction of x over dims (distinct ints). params: (name, dtype, value) scalars the snippets
    read. fused: a contiguous tensor of x's shape that code.fused writes (one pass per row, single
    stage). ordered: reduced dims stay in logical order, so `r` is the logical index (arg ops).
    second: a tensor of x's shape and strides that code.map and code.fused read as `b`.

    Inputs are read through their strides (no contiguous() copy): dims that are adjacent in memory
    are merged and the reduced dims are walked in memory order, so a transposed or stepped input
    costs what a contiguous one does apart from cache-line use. The plan (stages, kernels, sizes)
    is cached per layout, so a repeated call only allocates and launches."""
    backend = x.device.backend
    views = [x] if fused is None else [x, fused]
    if second is not None and (second._shape != x._shape or (second._strides != x._strides and x.numel())):
        raise ValueError(f"reduce: the second input's layout {second._shape}/{second._strides} differs from the "
                         f"first's {x._shape}/{x._strides}")
    idx = index_type(views + list(outs) + ([second] if second is not None else []))
    key = (code, x._shape, tuple(v._strides for v in views), tuple(dims), ordered, x.dtype,
           fused.dtype if fused is not None else None, tuple(o.dtype for o in outs), idx, tuple(p[:2] for p in params),
           second.dtype if second is not None else None)
    stages = backend.reduce_plans.get(key)
    if stages is None:
        if len(backend.reduce_plans) > 4096:  # many distinct layouts: start over rather than grow
            backend.reduce_plans.clear()
        stages = backend.reduce_plans[key] = _plan_stages(code, x, views, dims, outs, params, fused, ordered, idx,
                                                          second.dtype if second is not None else None)
    src = [a for v, st in zip(views, stages[0].strides) for a in (v._storage.buffer, v._offset, *st)] \
        if stages else []
    if second is not None:
        src += [second._storage.buffer, second._offset - x._offset]
    extra = [scalar_arg(p[2], p[1]) for p in params]
    previous = None  # the partials the stage reads: alive until its launch is queued, or another
    # thread could get the block from the pool and queue a write to it before that launch
    # the stages reach the driver together, at the last one (a held first stage, not a held second:
    # PoCL then starts the second as the first ends instead of at the next sync, ~0.1 ms, measured)
    work = stages[0].work if stages else 0
    for stage in stages:
        part = None if stage.final else Storage.allocate(backend, stage.S * stage.M * code.nbytes, False)
        # the buffers this stage does not write get a stand-in
        spare = (part if part is not None else outs[0]._storage if outs else x._storage).buffer
        args = stage.head + src + [spare if part is not None else o._storage.buffer for o in outs]
        args += [spare, int(stage.final)]
        if stage.W:
            args.append(cl.LocalMemory(stage.W * code.nbytes))
        launch_1d(backend, stage.kernel, stage.n, args + extra, stage.wg, work if stage.final else 0)
        if part is not None:  # the next stage combines the S partial states of each output, laid out [S, M]
            src = [part.buffer, 0, 0, 0, 1, stage.M]
            previous = part
    del previous
    return outs


class _Stage:
    """One launch of a reduction: its kernel, sizes and the launch shape (see _plan_stages)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _plan_stages(code, x, views, dims, outs, params, fused, ordered, idx, in2_dtype=None):
    backend = x.device.backend
    kept = [d for d in range(x.dim()) if d not in dims]
    red = sorted(dims, key=lambda d: (-abs(x._strides[d]), d)) if not ordered else sorted(dims)
    ksizes, kst = collapse([x._shape[d] for d in kept], [[v._strides[d] for d in kept] for v in views])
    rsizes, rst = collapse([x._shape[d] for d in red], [[v._strides[d] for d in red] for v in views])
    M, R = math.prod(ksizes), math.prod(rsizes)
    if M == 0:
        return []
    cols = abs(kst[0][-1]) == 1 and ksizes[-1] > 1
    mode, S, chunk, W, V, lanes = _reduce_plan(backend, M, R, abs(rst[0][-1]) == 1 and not cols, cols,
                                               fused is not None, len(rsizes) == 1 and rst[0][0] == 1)
    ksizes, kst = pad_dims(ksizes, kst, 3)
    rsizes, rst = pad_dims(rsizes, rst, 3 if len(rsizes) > 1 else 1)
    if R == 0:  # NOTE: nothing to walk, but the kernels still split r0 by these sizes: x % 0 traps on x86 (PoCL)
        rsizes = (1,) * len(rsizes)
    strides = [(*k, *r) for k, r in zip(kst, rst)]
    source, in_dtype, count, stages = "tensor", x.dtype, R, []
    while True:
        kernel, W = _reduce_kernel(backend, code, source, mode, len(ksizes), len(rsizes), idx, in_dtype,
                                   fused.dtype if fused is not None and source == "tensor" else None,
                                   tuple(o.dtype for o in outs), params, W, V, lanes,
                                   in2_dtype if source == "tensor" else None)
        n = M * S * W if mode == "group" else (-(-M // V) if lanes == "outputs" else M) * S
        stages.append(_Stage(kernel=kernel, final=S == 1, M=M, S=S, W=W if mode == "group" else 0, n=n,
                             wg=W if mode == "group" else items_wg(backend, n), work=M * R, strides=strides,
                             head=[M, R, S, chunk, count, *ksizes, *rsizes]))
        if S == 1:
            return stages
        source, in_dtype, R, ksizes, rsizes, strides = "partials", None, S, (1, 1, M), (S,), None
        mode, S, chunk, W, V, lanes = _reduce_plan(backend, M, R, M == 1, M > 1, False, M == 1)



def _reduce_signature(code, source, mode, nk, nr, idx, in_dtype, fused_dtype, out_dtypes, params, in2_dtype):
    """The arguments of a reduce kernel: sizes, the kept/reduced strides, each view (the source, and the
    fused input where there is one) with its strides, the second input, the outputs, the partials."""
    src_c = in_dtype.c if source == "tensor" else "acc_t"
    parts = [sg.sizes(idx, "M", "R", "S", "chunk"), sg.sizes("long", "count"), sg.dims(idx, "ks", nk),
             sg.dims(idx, "rs", nr)]
    views = [("src", src_c, True)] + ([("fo", fused_dtype.c, False)] if fused_dtype is not None else [])
    for name, ctype, const in views:
        strides = [f"{name}_kst{d}" for d in range(nk)] + [f"{name}_rst{d}" for d in range(nr)]
        parts.append(sg.tensor(name, ctype, idx, 0, const=const, offset=f"{name}_off", strides=strides))
    if in2_dtype is not None and source == "tensor":
        parts += [sg.buffer("src2", in2_dtype.c), sg.sizes(idx, "src2_delta")]
    parts += [sg.buffer(f"out{k}", od.c, const=False) for k, od in enumerate(out_dtypes)]
    parts += [sg.buffer("part", "acc_t", const=False), sg.sizes("int", "final")]
    if mode == "group":
        parts.append(sg.buffer("scratch", "acc_t", const=False, space="__local"))
    parts += [sg.scalar(p[0], p[1]) for p in params]
    return Signature(*parts)


def _reduce_kernel(backend, code, source, mode, nk, nr, idx, in_dtype, fused_dtype, out_dtypes, params, W, V,
                   lanes, in2_dtype=None):
    key = ("reduce", code.key, source, mode, nk, nr, idx, in_dtype, fused_dtype, out_dtypes,
           tuple(p[:2] for p in params), V, lanes, in2_dtype)
    kernel = backend.kernels.get(key)
    if kernel is None:
        kname = "reduce_" + code.name
        signature = _reduce_signature(code, source, mode, nk, nr, idx, in_dtype, fused_dtype, out_dtypes, params,
                                      in2_dtype)
        kernel = codegen.kernel(
            backend, key, "reduce.cl.mako", kname, {kname: signature}, source=source, mode=mode, nk=nk,
            nr=nr, IDX=idx, in_dtype=in_dtype, fused=code.fused if fused_dtype else None, fused_dtype=fused_dtype,
            out_dtypes=out_dtypes, in2_dtype=in2_dtype, V=V, lanes=lanes, T=code.T, A=code.A.compute_c, A_dtype=code.A, fields=code.fields, padding=code.padding,
            finish=code.finish, params=[(p[0], p[1].compute_c) for p in params], **code.snippets)
    if mode == "group":
        limit = min(group_limit(backend, kernel), backend.local_mem_size // (2 * code.nbytes))
        while W > limit:
            W >>= 1
    return kernel, W
