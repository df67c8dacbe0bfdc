"""The GEMM family (kernels_cl/gemm.cl.mako): plain, batched and implicit (convolution) products."""
from __future__ import annotations

import math

from .. import codegen, gemm_tuning
from . import signature as sg
from .base import MAX_PLANS, empty, scalar_arg
from .signature import Signature
from .strides import broadcast_strides, collapse

class _Operand:
    """A matrix operand as the GEMM kernel reads it: buffer, offset, batch strides, row/col strides,
    and its slot: the position of its tensor in (a, b, out, bias), which a cached plan reads again
    (not found by identity: the same tensor may be passed twice, as in a @ a)."""
    __slots__ = ("t", "buf", "off", "bst", "sr", "sc", "slot")

    def __init__(self, t, batch, rows, cols, slot):
        st = broadcast_strides(t, tuple(batch) + (rows, cols))
        self.t, self.buf, self.off, self.slot = t, t._storage.buffer, t._offset, slot
        # a size-1 dim is never stepped along: call its stride 1 so it counts as unit-stride
        self.bst, self.sr, self.sc = list(st[:-2]), st[-2] if rows != 1 else 1, st[-1] if cols != 1 else 1

    def transposed(self):
        o = object.__new__(_Operand)
        o.t, o.buf, o.off, o.bst, o.sr, o.sc, o.slot = self.t, self.buf, self.off, self.bst, self.sc, self.sr, self.slot
        return o


_GEMM_PLAN_PARAMS = ("key", "MR", "NV", "VW", "DOT_MR", "DOT_NR", "GROUP_M", "PACK", "KU")  # what a plan depends
# on besides the operands


def gemm(a, b, out, alpha=1, beta=0, bias=None, params=None, variant=None, epilogue=None, residual=None):
    """out[..., M, N] = act(alpha * (a[..., M, K] @ b[..., K, N]) + beta * bias) + residual, one kernel.

    a, b, bias and residual (both optional, broadcastable to out) are views of any strides whose
    batch dims broadcast to out's: transposed and sliced operands are read through their strides.
    `epilogue` names a one-input activation row of the op table applied at the store, before the
    residual is added: 'relu', 'gelu' (erf), 'gelu_tanh', 'silu', 'tanh', 'sigmoid' (or any row
    of cltensor.ops.elementwise.OPS taking one input and no parameters, under its name or its
    '_'-prefixed one). The epilogue computes in the accumulation type (float for 16-bit floats)
    and rounds once at the store, so relu(linear(x)) or x + linear(y) is one launch:
        gemm(x, w.t(), out, bias=b, beta=1, epilogue='relu')      # relu(x @ w.T + b)
        gemm(y, w.t(), out, bias=b, beta=1, residual=x)          # x + (y @ w.T + b)
    The caller checks shapes, dtypes and devices (out, a and b share a dtype; bias and residual
    may have another), and records autograd. The tiling comes from gemm_tuning for the device;
    `variant` ('vec' | 'tiled') or a full `params` dict overrides it. Never waits for the kernel;
    a product big enough to pack B (see _worth_packing) enqueues that copy first.
    """
    if out.numel() == 0:
        return out
    backend = out.device.backend
    acc = a.dtype
    p = gemm_tuning.complete(backend, acc, params) if params else gemm_tuning.params_for(backend, acc, variant)
    if beta == 0:
        bias = None  # PyTorch ignores the input when beta is 0 (its NaNs do not propagate)
    epilogue = epilogue_row(epilogue)
    tensors = (a, b, out, bias, residual)
    plans, key = backend.plans, None
    if params is None:  # tuned tiles: the launch setup follows from dtypes, shapes and strides alone
        extras = tuple((t.dtype, t._shape, t._strides) if t is not None else None for t in (bias, residual))
        key = ("gemm", *map(p.get, _GEMM_PLAN_PARAMS), a.dtype, a._shape, a._strides, b._shape, b._strides,
               out.dtype, out._shape, out._strides, extras, epilogue)
        plan = plans.get(key)
        if plan is not None:
            _run_gemm(plan, tensors, alpha, beta)
            return out
    batch, (M, N), K = out._shape[:-2], out._shape[-2:], a._shape[-1]
    A, B = _Operand(a, batch, M, K, 0), _Operand(b, batch, K, N, 1)
    C = _Operand(out, batch, M, N, 2)
    extras = [_Operand(t, batch, M, N, slot) for t, slot in ((bias, 3), (residual, 4)) if t is not None]
    rows = _fold_batch(A, B, C, extras, batch, M)
    if rows is not None:
        batch, M = (), rows
    mode, copy_a, copy_b, pack_b = None, False, False, False
    if p["variant"] == "vec":
        mode, swap, copy_a, copy_b = _vec_plan(A, B, M, N, K, p["VW"], _worth_packing(B, M, N, K, p, copied=True))
        pack_b = copy_b and _worth_packing(B, M, N, K, p, copied=True)  # packing B transposes it anyway
        copy_b = copy_b and not pack_b
        if copy_a:  # folded (rows set): a's batch dims continue its rows, so the copy does too
            a_copy = a.detach().contiguous()
            A = _Operand(a_copy.reshape(rows, K) if rows is not None else a_copy, batch, M, K, 0)
        if copy_b:  # folded: b is one matrix broadcast over the batch; copy just that matrix
            b_src = b.detach()
            B = _Operand((b_src[(0,) * (b_src.dim() - 2)] if rows is not None else b_src).contiguous(), batch, K, N, 1)
        tensors = (A.t, B.t, out, bias, residual)  # a copied operand replaces a or b
        if swap:  # compute out^T = b^T @ a^T so that the vectors run along a unit stride
            A, B, C, M, N = B.transposed(), A.transposed(), C.transposed(), N, M
            extras = [o.transposed() for o in extras]
    plan = _gemm_plan(backend, p, mode, A, B, C, extras, batch, M, N, K, acc, out.dtype, epilogue, pack_b)
    if key is not None and not (copy_a or copy_b):  # a copied operand is a new tensor each call
        if len(plans) >= MAX_PLANS:
            plans.clear()
        plans[key] = plan
    _run_gemm(plan, tensors, alpha, beta)
    return out


_EPILOGUE_ALIASES = {"gelu": "_gelu", "gelu_tanh": "_gelu_tanh", "silu": "_silu"}
_op_table: dict = {}  # ops.elementwise.OPS, handed down by cltensor.ops at import (the ops sit above launch)


def set_op_table(rows: dict):
    """The elementwise op table whose one-input rows the epilogues name (cltensor.ops calls this)."""
    global _op_table
    _op_table = rows


def epilogue_row(name):
    """The op-table row an epilogue name stands for (None for none); ValueError for a name that is not
    a one-input activation row without parameters."""
    if name is None:
        return None
    row = _op_table.get(_EPILOGUE_ALIASES.get(name, name)) or _op_table.get("_" + name)
    if row is None or row.arity != 1 or row.params:
        raise ValueError(f"gemm(): epilogue {name!r} is not a one-input activation row of the op table "
                         "(e.g. 'relu', 'gelu', 'gelu_tanh', 'silu', 'tanh', 'sigmoid')")
    return row.name


def _fold_batch(A, B, C, extras, batch, M):
    """When b does not vary over the batch and the batch dims of a, out (and bias, residual) continue
    their rows, the product is one GEMM of nbatch * M rows: the row count, else None."""
    if math.prod(batch) <= 1 or any(B.bst):
        return None
    ops = [A, C] + list(extras)
    sizes, bst = collapse(batch, [o.bst for o in ops])
    if len(sizes) != 1:
        return None
    for o, (st,) in zip(ops, bst):
        if M != 1 and st != M * o.sr and not (o in extras and st == 0 and o.sr == 0):
            return None
    for o, (st,) in zip(ops, bst):
        o.sr, o.bst = st if M == 1 else o.sr, []
    return M * sizes[0]


_GEMM_COPY_MIN = 128  # a transposing copy of one operand pays off once the other dim reaches this


def _vec_plan(A, B, M, N, K, vw, pack_b=False):
    """(mode, swap operands, copy a, copy b) for the vector variant, by the operands' strides.
    pack_b: a copied B is packed (one cached launch), so copying it pays off at any M.

    The 'nn' kernel runs fastest with a row-major (k-stride 1), b n-stride 1 and out n-stride 1
    (or m-stride 1: it then stores columns). A column-major a or b costs it 30-40% (strided
    cache lines, 4 KiB aliasing), more than a transposing copy once the other dimension is
    large; small products read them in place ('dot' mode for x @ W.T, matrix @ vector).
    """
    if B.sc == 1 and N >= vw:
        return "nn", False, A.sc != 1 and A.sr == 1 and N >= _GEMM_COPY_MIN, False
    if A.sr == 1 and B.sr == 1 and M >= vw:  # both column-major: (b^T @ a^T)^T reads both row-major
        return "nn", True, False, False
    if A.sc == 1 and B.sr == 1:
        if N >= vw and K <= 2 * vw:  # 'dot' has at most 2 vectors along k: 'nn' gathers b's rows instead
            # (K=10: 27 -> 7 us; batched q @ k.T, 16 x 64x16 @ 16x64: 580 -> 400 us, K=32 is slower)
            return "nn", False, False, False
        return ("nn", False, False, True) if (M >= _GEMM_COPY_MIN or pack_b) and N >= vw else ("dot", False, False, False)
    if B.sc == 1:
        return "nn", False, False, False
    if A.sr == 1 and M >= vw:
        return "nn", True, False, False
    return "nn", False, False, True


_GEMM_BATCH_DIMS = 3  # batch dims every GEMM kernel takes (padded with size 1), so that one kernel serves all


class GemmPlan:
    """What a GEMM launch needs besides the operands' buffers and offsets and alpha/beta: the kernel,
    the size arguments, per kernel operand slot the index of its tensor in (a, b, out, bias, residual)
    and its row/col/batch strides, the launch geometry, and the packing of B that goes first (or None)."""

    __slots__ = ("backend", "kernel", "acc", "head", "slots", "gsize", "lsize", "items", "pack")

    def __init__(self, backend, kernel, acc, head, slots, gsize, lsize, items, pack=None):
        self.backend, self.kernel, self.acc, self.head, self.slots = backend, kernel, acc, head, slots
        self.gsize, self.lsize, self.items, self.pack = gsize, lsize, items, pack


def _run_gemm(plan, tensors, alpha, beta):
    if plan.pack is not None:  # B's packed copy first; the GEMM reads it in B's place
        kernel, slot, K, N, sk, sn, panels, nr = plan.pack
        src = tensors[slot]
        packed = empty((panels * K * nr,), src.dtype, src.device)
        plan.backend.launch(kernel, (K, panels), None, [K, N, src._storage.buffer, src._offset, sk, sn,
                                                        packed._storage.buffer], K * panels * nr)
        tensors = tensors[:slot] + (packed,) + tensors[slot + 1:]
    args = list(plan.head)
    for index, strides in plan.slots:
        t = tensors[index]
        args += (t._storage.buffer, t._offset, *strides)
    args += (scalar_arg(alpha, plan.acc), scalar_arg(beta, plan.acc))
    plan.backend.launch(plan.kernel, plan.gsize, plan.lsize, args, plan.items)


def _gemm_plan(backend, p, mode, A, B, C, extras, batch, M, N, K, acc, out_dtype, epilogue, pack_b=False):
    ops = (A, B, C, *extras)
    nbatch = math.prod(batch)
    if nbatch > 1:
        bsizes, bstrides = collapse(batch, [o.bst for o in ops])
        pad = (0,) * max(_GEMM_BATCH_DIMS - len(bsizes), 0)
        bsizes, bstrides = (1,) * len(pad) + tuple(bsizes), [pad + st for st in bstrides]
    else:
        bsizes, bstrides = (1,) * _GEMM_BATCH_DIMS, [(0,) * _GEMM_BATCH_DIMS] * len(ops)
    pack = None
    if p["variant"] == "vec":
        mr, nr = (p["MR"], p["NV"] * p["VW"]) if mode == "nn" else (p["DOT_MR"], p["DOT_NR"])
        packed = mode == "nn" and (pack_b or _worth_packing(B, M, N, K, p))
        if packed:
            pack, B = _pack_step(backend, B, K, N, nr, acc), _packed_operand(B, K, nr)
            ops = (A, B, C, *extras)
        flags = (mr, nr, p["VW"], p["GROUP_M"] if mode == "nn" else 0, packed, p["KU"])
        gsize, lsize = (-(-M // mr), -(-N // nr), nbatch), (1, 1, 1)
    else:
        flags = ("k" if A.sc == 1 else "r" if A.sr == 1 else None, "r" if B.sc == 1 else "k" if B.sr == 1 else None)
        tx, ty = p["BN"] // p["WN"], p["BM"] // p["WM"]
        gsize, lsize = (-(-N // p["BN"]) * tx, -(-M // p["BM"]) * ty, nbatch), (tx, ty, 1)
    d_dtype, r_dtype = (next((o.t.dtype for o in extras if o.slot == s), None) for s in (3, 4))
    key = ("gemm", mode, acc, out_dtype, d_dtype, r_dtype, epilogue, len(bsizes), flags, p["key"])
    kernel = backend.kernels.get(key)
    if kernel is None:
        kernel = _build_gemm(backend, key, p, mode, flags, acc, out_dtype, d_dtype, len(bsizes), len(ops),
                             r_dtype=r_dtype, epilogue=epilogue)
    slots = tuple((o.slot, (o.sr, o.sc, *bst)) for o, bst in zip(ops, bstrides))
    return GemmPlan(backend, kernel, acc, (M, N, K, *bsizes), slots, gsize, lsize, M * N * nbatch, pack)


_GEMM_PACK_MIN_BYTES = 1 << 18  # pack B once it outgrows about half an L2 cache
# a B read along k (W.T) is packed rather than read in 'dot' mode from this many rows of A and
# multiply-adds on: the pack (a transposing copy, ~K N) costs about what 'dot' loses on 32 rows
_GEMM_PACK_COPIED_MIN_M, _GEMM_PACK_COPIED_MIN_MACS = 32, 1 << 18


def _worth_packing(B, M, N, K, p, copied=False):
    """Whether to copy B into contiguous column panels first (kernels_cl/gemm_pack.cl.mako). The
    kernel reads B's K rows of one panel for every row block; once B outgrows the caches those rows,
    N elements apart (a power-of-two N maps them to a few cache sets, and each to its own page), are
    refetched from memory (2048^3 ran at 13 GFLOP/s, 43 packed). Only for one matrix shared by the
    whole batch, and where the copy (K * N) is small against the product (M >= 64). A B that would
    otherwise be copied or read along k in 'dot' mode (`copied`: W.T in x @ W.T) is packed from
    32 rows and 2^18 multiply-adds on: the pack kernel reads it through its strides, one launch
    that a cached plan repeats ('dot' ran grad_h @ w1.T, 64x100 @ 100x1000, at 950 us, packed
    525; 8x512 @ 512x512 at 260 us, packed 540)."""
    if not p.get("PACK", False) or any(B.bst):
        return False
    if copied:
        return M >= _GEMM_PACK_COPIED_MIN_M and M * N * K >= _GEMM_PACK_COPIED_MIN_MACS
    return M >= 64 and K * N * B.t.dtype.itemsize >= _GEMM_PACK_MIN_BYTES


_BITS_C = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong"}


def _pack_step(backend, B, K, N, nr, dtype):
    key = ("gemm_pack", dtype.itemsize, nr)
    kernel = backend.kernels.get(key)
    if kernel is None:
        bits = _BITS_C[dtype.itemsize]  # elements move as raw bits of their size
        signature = Signature(sg.sizes("int", "K", "N"), sg.tensor("B", bits, "long", 0, offset="b_off", strides=["b_sk", "b_sn"]),
                              sg.buffer("P", bits, const=False))
        kernel = codegen.kernel(backend, key, "gemm_pack.cl.mako", "gemm_pack", {"gemm_pack": signature}, U=bits,
                                NR=nr)
    return (kernel, B.slot, K, N, B.sr, B.sc, -(-N // nr), nr)


def _packed_operand(B, K, nr):
    """B as the kernel reads its packed copy: rows NR apart, the panel of column n0 at n0 * K."""
    o = object.__new__(_Operand)
    o.t, o.buf, o.off, o.bst, o.sr, o.sc, o.slot = B.t, None, 0, B.bst, nr, K, B.slot
    return o


def _build_gemm(backend, key, p, mode, flags, acc, out_dtype, d_dtype, batch_ndim, nops, implicit=None,
                r_dtype=None, epilogue=None):
    params = dict.fromkeys(("MR", "NR", "VW", "GROUP_M", "b_packed", "KU", "BM", "BN", "BK", "WM", "WN", "VL",
                            "a_unit", "b_unit"))
    if p["variant"] == "vec":
        params.update(zip(("MR", "NR", "VW", "GROUP_M", "b_packed", "KU"), flags))
    else:
        params.update({k: p[k] for k in ("BM", "BN", "BK", "WM", "WN", "VL")}, a_unit=flags[0], b_unit=flags[1])
    signature = _gemm_signature(acc, out_dtype, d_dtype, r_dtype, batch_ndim, implicit)
    return codegen.kernel(backend, key, "gemm.cl.mako", "gemm", {"gemm": signature}, variant=p["variant"], mode=mode,
                          a_dtype=acc, c_dtype=out_dtype, d_dtype=d_dtype, r_dtype=r_dtype, acc=acc,
                          batch_ndim=batch_ndim, implicit=implicit, epilogue=_epilogue_source(epilogue, acc),
                          **params)


def _gemm_signature(acc, out_dtype, d_dtype, r_dtype, batch_ndim, implicit):
    """The GEMM kernel's arguments: sizes, then A, B, C (and the bias D, the residual R) each with its
    offset, row/col strides and batch strides, alpha and beta, and an implicit GEMM's geometry."""
    def operand(name, ctype, row, col, const=True):
        low = name.lower()
        strides = [f"{low}_{row}", f"{low}_{col}"] + [f"{low}_sb{d}" for d in range(batch_ndim)]
        return sg.tensor(name, ctype, "long", 0, const=const, offset=f"{low}_off", strides=strides)
    parts = [sg.sizes("int", "M", "N", "K"), sg.dims("int", "bs", batch_ndim), operand("A", acc.c, "sm", "sk"),
             operand("B", acc.c, "sk", "sn"), operand("C", out_dtype.c, "sm", "sn", const=False)]
    parts += [operand(name, d.c, "sm", "sn") for name, d in (("D", d_dtype), ("R", r_dtype)) if d is not None]
    parts += [sg.scalar("alpha", acc), sg.scalar("beta", acc)]
    if implicit:
        geometry = [f"{field}{d}" for field in ("IN", "OUT", "KS", "ST", "PD", "DL") for d in range(3)]
        parts += [sg.sizes("int", *geometry), sg.sizes("long", "x_sn", "x_sc", "x_s0", "x_s1", "x_s2")]
    return Signature(*parts)


def _epilogue_source(name, acc):
    """(helpers, C expression of `a` in type T) of the epilogue row, or None."""
    if name is None:
        return None
    row, T = _op_table[name], acc.compute_c
    return row.c_helpers(acc).replace("{T}", T), row.c_expr(acc).replace("{T}", T)


def gemm_tiles(backend, dtype, M, N) -> int:
    """How many independent pieces (work-items on CPUs, work-groups on GPUs) one M x N product gives."""
    p = gemm_tuning.params_for(backend, dtype)
    if p["variant"] == "vec":
        return -(-M // p["MR"]) * -(-N // (p["NV"] * p["VW"]))
    return -(-M // p["BM"]) * -(-N // p["BN"])


def implicit_gemm(implicit, image, image_strides, geometry, b, b_strides, out, out_strides, M, N, K, batch,
                  a_batch_strides, bias=None, bias_strides=None):
    """out = A @ b (+ bias) where A [M, K] is gathered from `image` by conv geometry (no im2col buffer).

    implicit: 'conv' | 'convT' | 'wgrad' (see kernels_cl/gemm.cl.mako). image_strides: (n, c, s0, s1, s2)
    of the image with 3 spatial dims; geometry: 18 ints (IN, OUT, KS, ST, PD, DL, each for 3 dims).
    b_strides / out_strides / bias_strides: (row, col, batch0, batch1, batch2) for the 3 batch dims of
    `batch`; a_batch_strides offsets the image per batch entry. One kernel per (implicit, dtypes,
    variant) serves every shape. Never waits for the kernel.
    """
    if out.numel() == 0:
        return out
    backend = out.device.backend
    acc = image.dtype
    p = gemm_tuning.params_for(backend, acc)
    nbatch = math.prod(batch)
    if p["variant"] == "vec":
        mr, nr = p["MR"], p["NV"] * p["VW"]
        flags = (mr, nr, p["VW"], p["GROUP_M"], False, p["KU"])
        gsize, lsize = (-(-M // mr), -(-N // nr), nbatch), (1, 1, 1)
    else:
        flags = (None, "r" if b_strides[1] == 1 else "k" if b_strides[0] == 1 else None)
        tx, ty = p["BN"] // p["WN"], p["BM"] // p["WM"]
        gsize, lsize = (-(-N // p["BN"]) * tx, -(-M // p["BM"]) * ty, nbatch), (tx, ty, 1)
    d_dtype = bias.dtype if bias is not None else None
    key = ("gemm", "nn", acc, out.dtype, d_dtype, _GEMM_BATCH_DIMS, flags, p["key"], implicit)
    kernel = backend.kernels.get(key)
    if kernel is None:
        kernel = _build_gemm(backend, key, p, "nn", flags, acc, out.dtype, d_dtype, _GEMM_BATCH_DIMS,
                             3 if bias is None else 4, implicit)
    args = [M, N, K, *batch, image._storage.buffer, image._offset, 0, 0, *a_batch_strides,
            b._storage.buffer, b._offset, *b_strides, out._storage.buffer, out._offset, *out_strides]
    if bias is not None:
        args += [bias._storage.buffer, bias._offset, *bias_strides]
    args += [scalar_arg(1, acc), scalar_arg(1 if bias is not None else 0, acc), *geometry, *image_strides]
    backend.launch(kernel, gsize, lsize, args, M * N * nbatch)
    return out
