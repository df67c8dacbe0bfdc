"""The one module that launches kernels: device checks, broadcasting, output allocation,
kernel choice and enqueue. Ops describe *what* to compute; this module decides *how*.
"""
from __future__ import annotations

import math

import numpy as np

from . import codegen
from . import dtypes as dt
from .memory import Storage
from .tensor import Tensor, contiguous_strides

_INT32_MAX = 2**31 - 1


# ---- checks ------------------------------------------------------------------------------
def common_device(tensors, op_name="op"):
    dev = None
    for t in tensors:
        if dev is None:
            dev = t.device
        elif t.device is not dev:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{dev} and {t.device}! (when checking arguments for {op_name})")
    return dev


def check_dtype_supported(d, device):
    if d is dt.float64 and not device.backend.has_fp64:
        raise RuntimeError(f"float64 is not supported on {device} ({device.backend.name}): "
                           "the device lacks cl_khr_fp64; use float32")
    if d is dt.complex128 and not device.backend.has_fp64:
        raise RuntimeError(f"complex128 holds float64 pairs, and float64 is not supported on {device} "
                           f"({device.backend.name}): the device lacks cl_khr_fp64; use complex64")


def broadcast_shapes(*shapes) -> tuple:
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, size in enumerate(s):
            j = ndim - len(s) + i
            if out[j] == 1:
                out[j] = size
            elif size != 1 and size != out[j]:
                raise RuntimeError(
                    f"The size of tensor a ({out[j]}) must match the size of tensor b ({size}) at non-singleton "
                    f"dimension {j}")
    return tuple(out)


def broadcast_strides(t: Tensor, shape) -> tuple:
    lead = len(shape) - t.dim()
    return (0,) * lead + tuple(0 if s == 1 and n != 1 else st
                               for s, st, n in zip(t._shape, t._strides, shape[lead:]))


# ---- allocation ----------------------------------------------------------------------------
def empty(shape, dtype, device) -> Tensor:
    check_dtype_supported(dtype, device)
    shape = tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    storage = Storage.allocate(device.backend, nbytes, device.is_host)
    return Tensor._make(storage, shape, contiguous_strides(shape), 0, dtype, device)


# ---- scalars -------------------------------------------------------------------------------
_C_TO_NP = {"int": np.int32, "uint": np.uint32, "long": np.int64, "ulong": np.uint64,
            "float": np.float32, "double": np.float64}


def _caller_level() -> int:
    """The stacklevel of the first frame outside cltensor: where a warning should point."""
    import os
    import sys
    package = os.path.dirname(__file__)
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def resize_out(out: Tensor, shape) -> Tensor:
    """Give an out= tensor the shape a result needs, as PyTorch does: new contiguous memory when
    the shape differs (with PyTorch's deprecation warning if out held elements)."""
    shape = tuple(shape)
    if out._shape == shape:
        return out
    if out.numel():
        import warnings
        warnings.warn(f"An output with one or more elements was resized since it had shape {list(out._shape)}, "
                      f"which does not match the required output shape {list(shape)}. This behavior is deprecated, "
                      "and in a future PyTorch release outputs will not be resized unless they have zero elements. "
                      "You can explicitly reuse an out tensor t by resizing it, inplace, to zero elements with "
                      "t.resize_(0).", UserWarning, stacklevel=_caller_level())
    fresh = empty(shape, out.dtype, out.device)
    out._storage, out._shape, out._strides, out._offset = fresh._storage, fresh._shape, fresh._strides, 0
    return out


def param_arg(ctype, value, compute):
    """An op's scalar parameter as a kernel argument (see dtypes.param_dtype)."""
    d = dt.param_dtype(ctype, compute)
    return value if d is None else scalar_arg(value, d)


def scalar_arg(value, d, check_overflow=False):
    """A Python number as a kernel argument of the compute type d.

    Integers wrap modulo 2**bits as PyTorch's wrapped scalars do (uint8 + 300 == uint8 + 44);
    fill-like ops pass check_overflow=True and raise like PyTorch instead.
    """
    if d.category == dt.FLOAT:
        return float(value)
    if d.category == dt.COMPLEX:
        return d.np.type(value)
    if d is dt.bool_:
        return 1 if value else 0
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise RuntimeError(f"value cannot be converted to type {d.name} without overflow")
    value = int(value)
    lo, hi = dt.iinfo_bounds(d)
    if check_overflow and (value > hi or value < (lo if d.signed else -hi)):
        raise RuntimeError(f"value cannot be converted to type {d.name} without overflow")
    bits = 8 * d.itemsize
    value &= (1 << bits) - 1
    if d.signed and value > hi:
        value -= 1 << bits
    return value


def arg_np_type(d):
    return np.float32 if d.compute_c == "float" else d.np.type if d is not dt.bool_ else np.uint8


# ---- elementwise -----------------------------------------------------------------------------
def _collapse(shape, stride_lists):
    """Merge adjacent dims that are contiguous in every operand; drop size-1 dims."""
    dims = [i for i, s in enumerate(shape) if s != 1]
    if not dims:
        return (1,), [(0,) for _ in stride_lists]
    sizes = [shape[dims[0]]]
    strides = [[st[dims[0]]] for st in stride_lists]
    for d in dims[1:]:
        if all(s[-1] == st[d] * shape[d] for s, st in zip(strides, stride_lists)):
            sizes[-1] *= shape[d]
            for s, st in zip(strides, stride_lists):
                s[-1] = st[d]
        else:
            sizes.append(shape[d])
            for s, st in zip(strides, stride_lists):
                s.append(st[d])
    return tuple(sizes), [tuple(s) for s in strides]


def _index_type(tensors) -> str:
    for t in tensors:
        if t._storage.nbytes // max(t.dtype.itemsize, 1) > _INT32_MAX:
            return "long"
    return "int"


def elementwise(name, expr, inputs, out, compute, params=(), helpers=""):
    """Compute out[...] = expr(inputs...) over out's shape; inputs broadcast to it.

    inputs: tensors (same device as out) or Python numbers (passed by value, as `compute`).
    params: (name, c_type_or_'T', value) extra scalars the expression reads.
    """
    plan = elementwise_plan(name, expr, inputs, out, compute, params, helpers)
    if plan is not None:
        run_elementwise(plan, inputs, out, compute, params)
    return out


class ElementwisePlan:
    """Everything a launch needs that follows from the operands' dtypes, shapes and strides:
    the kernel, operand kinds, the size/stride arguments and the launch geometry."""

    __slots__ = ("backend", "kernel", "kinds", "head", "out_strides", "in_strides", "gsize", "lsize", "items")

    def __init__(self, backend, kernel, kinds, head, out_strides, in_strides, gsize, lsize, items):
        self.backend, self.kernel, self.kinds, self.head, self.out_strides = backend, kernel, kinds, head, out_strides
        self.in_strides, self.gsize, self.lsize, self.items = in_strides, gsize, lsize, items


_MAX_PLANS = 8192


def elementwise_plan(name, expr, inputs, out, compute, params=(), helpers=""):
    """The cached ElementwisePlan for these operands (None when out is empty)."""
    backend = out.device.backend
    sig = tuple([(x.dtype, x._shape, x._strides) if isinstance(x, Tensor) else None for x in inputs])
    idx = _index_type([x for x in inputs if isinstance(x, Tensor)] + [out]) if backend.allocator.huge else "int"
    key = (name, expr, compute, out.dtype, out._shape, out._strides, sig, idx,
           tuple([p[1] for p in params]) if params else ())
    plans = backend.plans
    plan = plans.get(key, False)
    if plan is False:
        if len(plans) >= _MAX_PLANS:
            plans.clear()
        plan = plans[key] = _make_elementwise_plan(backend, name, expr, inputs, out, compute, params, helpers, idx)
    return plan


def run_elementwise(plan, inputs, out, compute, params=()):
    args = [*plan.head, out._storage.buffer, out._offset, *plan.out_strides]
    for x, kind, strides in zip(inputs, plan.kinds, plan.in_strides):
        if kind == "v":
            args.append(scalar_arg(x, compute))
        else:
            args += (x._storage.buffer, x._offset, *strides)
    for p in params:
        args.append(p[2])
    plan.backend.launch(plan.kernel, plan.gsize, plan.lsize, args, plan.items)


def _make_elementwise_plan(backend, name, expr, inputs, out, compute, params, helpers, idx):
    n = out.numel()
    if n == 0:
        return None
    shape = out._shape
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    contiguous = out.is_contiguous() and all(
        x.numel() == 1 or (x.numel() == n and x.is_contiguous()) for x in tensors)
    if contiguous:
        kinds = tuple("v" if not isinstance(x, Tensor) else "s" if (x.numel() == 1 and n != 1) else "c"
                      for x in inputs)
        ndim, sizes, strides = 0, (), [() for _ in range(len(tensors) + 1)]
        vectors = n >= backend.elementwise_vec and not any(
            d.is_complex for d in [out.dtype, compute] + [x.dtype for x in tensors])  # no vloadN of pairs
        vec, tile = (backend.elementwise_vec if vectors else 1), 0
        items = -(-n // vec)
    else:
        kinds = tuple("t" if isinstance(x, Tensor) else "v" for x in inputs)
        bstrides = [out._strides] + [broadcast_strides(x, shape) for x in tensors]
        sizes, strides = _collapse(shape, bstrides)
        ndim, vec, tile = len(sizes), 1, backend.elementwise_tile
        items = _tiled_items(n, sizes, tile)
    in_dtypes = tuple(x.dtype if isinstance(x, Tensor) else compute for x in inputs)
    key = ("ew", name, expr, compute, out.dtype, in_dtypes, kinds, ndim, idx, vec, tile,
           tuple(p[:2] for p in params))
    kernel = backend.kernels.get(key)
    if kernel is None:
        kernel = _build_elementwise(backend, key, name, expr, helpers, in_dtypes, kinds, out.dtype,
                                    compute, ndim, idx, params, vec, tile)
    in_strides, k = [], 1
    for kind in kinds:
        in_strides.append(() if kind == "v" else strides[k] if kind == "t" else ())
        k += kind != "v"
    wg = backend.elementwise_wg if items >= 4 * backend.elementwise_wg else 64
    return ElementwisePlan(backend, kernel, kinds, (n, *sizes), strides[0], tuple(in_strides),
                           (-(-items // wg) * wg,), (wg,), n)


def _tiled_items(n, sizes, tile):
    """Work-items of the strided path: one per element, or one per tile x tile block of the two
    innermost dims (tile * tile consecutive elements when there is one dim)."""
    if not tile:
        return n
    if len(sizes) == 1:
        return -(-n // (tile * tile))
    return n // (sizes[-2] * sizes[-1]) * -(-sizes[-2] // tile) * -(-sizes[-1] // tile)


def _build_elementwise(backend, key, name, expr, helpers, in_dtypes, kinds, out_dtype, compute, ndim, idx, params,
                       vec=1, tile=0):
    kname = "ew_" + name
    T = compute.compute_c
    idx_np = np.int32 if idx == "int" else np.int64
    types = [idx_np] + [idx_np] * ndim + [None, idx_np] + [idx_np] * ndim
    for d, kind in zip(in_dtypes, kinds):
        if kind == "v":
            types.append(arg_np_type(compute))
        else:
            types += [None, idx_np] + ([idx_np] * ndim if kind == "t" else [])
    for p in params:
        d = dt.param_dtype(p[1], compute)
        types.append(_C_TO_NP[p[1]] if d is None else arg_np_type(d))
    return codegen.kernel(backend, key, "elementwise.cl.mako", kname, arg_dtypes=types,
                          expr=expr.replace("{T}", T), helpers=helpers.replace("{T}", T), in_dtypes=in_dtypes,
                          in_kinds=kinds, out_dtype=out_dtype, compute=compute, ndim=ndim, IDX=idx, params=params,
                          VEC=vec, TILE=tile)


def enqueue(backend, kernel, n, args, wg=None):
    """Launch a 1-D kernel over n work-items (bounds-checked inside the kernel). Never waits."""
    wg = wg or (backend.elementwise_wg if n >= 4 * backend.elementwise_wg else 64)
    backend.launch(kernel, (-(-n // wg) * wg,), (wg,), args, n)


def launch(backend, kernel, gsize, lsize, args, items):
    """Launch over an explicit N-d global/local size (items: the work it represents, which decides
    whether a CPU driver gets it at once or batched with the next ones). Never waits."""
    backend.launch(kernel, gsize, lsize, args, items)


# ---- copies along one dim driven by an index table (kernels_cl/copy.cl.mako) ---------------------
def dim_copy(mode, src, out, table, compute):
    """mode 'gather': out[j, ...] = src[table[j], ...]; mode 'segment_sum': out[j, ...] = the sum of
    src[table[j]:table[j + 1], ...]. Works on dim 0 (callers move theirs there); the other dims of src
    match out's (stride 0 where broadcast); table is an int64 tensor on out's device."""
    n = out.numel()
    if n == 0:
        return out
    rest, (out_st, src_st) = _collapse(out._shape[1:], [out._strides[1:], src._strides[1:]])
    sizes = (out._shape[0],) + rest
    strides = ((out._strides[0],) + out_st, (src._strides[0],) + src_st)
    idx = _index_type([src, out, table])
    key = ("dim_copy", mode, src.dtype, out.dtype, compute, len(sizes), idx)
    backend = out.device.backend
    kernel = backend.kernels.get(key)
    if kernel is None:
        idx_np = np.int32 if idx == "int" else np.int64
        per_tensor = [None, idx_np] + [idx_np] * len(sizes)
        kernel = codegen.kernel(backend, key, "copy.cl.mako", "dim_" + mode, mode=mode, src_dtype=src.dtype,
                                out_dtype=out.dtype, compute=compute, ndim=len(sizes), IDX=idx,
                                arg_dtypes=[idx_np] * (1 + len(sizes)) + per_tensor * 2 + [None, idx_np])
    enqueue(backend, kernel, n, [n, *sizes, out._storage.buffer, out._offset, *strides[0],
                                 src._storage.buffer, src._offset, *strides[1], table._storage.buffer, table._offset])
    return out


# ---- GEMM ------------------------------------------------------------------------------------
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


_GEMM_PLAN_PARAMS = ("key", "MR", "NV", "VW", "DOT_MR", "DOT_NR")  # what a plan depends on besides the operands


def gemm(a, b, out, alpha=1, beta=0, bias=None, params=None, variant=None):
    """out[..., M, N] = alpha * (a[..., M, K] @ b[..., K, N]) + beta * bias.

    a, b and bias (optional, broadcastable to out) are views of any strides whose batch dims
    broadcast to out's: transposed and sliced operands are read through their strides. The
    tiling comes from gemm_tuning for the device; `variant` ('vec' | 'tiled') or a full `params`
    dict overrides it. Never waits for the kernel.
    """
    from . import gemm_tuning
    if out.numel() == 0:
        return out
    backend = out.device.backend
    acc = a.dtype
    p = gemm_tuning.complete(backend, acc, params) if params else gemm_tuning.params_for(backend, acc, variant)
    if beta == 0:
        bias = None  # PyTorch ignores the input when beta is 0 (its NaNs do not propagate)
    tensors = (a, b, out, bias)
    plans, key = backend.plans, None
    if params is None:  # tuned tiles: the launch setup follows from dtypes, shapes and strides alone
        bias_sig = (bias.dtype, bias._shape, bias._strides) if bias is not None else None
        key = ("gemm", *map(p.get, _GEMM_PLAN_PARAMS), a.dtype, a._shape, a._strides, b._shape, b._strides,
               out.dtype, out._shape, out._strides, bias_sig)
        plan = plans.get(key)
        if plan is not None:
            _run_gemm(plan, tensors, alpha, beta)
            return out
    batch, (M, N), K = out._shape[:-2], out._shape[-2:], a._shape[-1]
    A, B = _Operand(a, batch, M, K, 0), _Operand(b, batch, K, N, 1)
    C = _Operand(out, batch, M, N, 2)
    D = _Operand(bias, batch, M, N, 3) if bias is not None else None
    rows = _fold_batch(A, B, C, D, batch, M)
    if rows is not None:
        batch, M = (), rows
    mode, copy_a, copy_b = None, False, False
    if p["variant"] == "vec":
        mode, swap, copy_a, copy_b = _vec_plan(A, B, M, N, K, p["VW"])
        if copy_a:  # folded (rows set): a's batch dims continue its rows, so the copy does too
            a_copy = a.detach().contiguous()
            A = _Operand(a_copy.reshape(rows, K) if rows is not None else a_copy, batch, M, K, 0)
        if copy_b:  # folded: b is one matrix broadcast over the batch; copy just that matrix
            b_src = b.detach()
            B = _Operand((b_src[(0,) * (b_src.dim() - 2)] if rows is not None else b_src).contiguous(), batch, K, N, 1)
        tensors = (A.t, B.t, out, bias)  # a copied operand replaces a or b
        if swap:  # compute out^T = b^T @ a^T so that the vectors run along a unit stride
            A, B, C, M, N = B.transposed(), A.transposed(), C.transposed(), N, M
            D = D.transposed() if D is not None else None
    plan = _gemm_plan(backend, p, mode, A, B, C, D, batch, M, N, K, acc, out.dtype, tensors)
    if key is not None and not (copy_a or copy_b):  # a copied operand is a new tensor each call
        if len(plans) >= _MAX_PLANS:
            plans.clear()
        plans[key] = plan
    _run_gemm(plan, tensors, alpha, beta)
    return out


def _fold_batch(A, B, C, D, batch, M):
    """When b does not vary over the batch and the batch dims of a, out (and bias) continue their
    rows, the product is one GEMM of nbatch * M rows: the row count, else None."""
    if math.prod(batch) <= 1 or any(B.bst):
        return None
    ops = [A, C] + ([D] if D is not None else [])
    sizes, bst = _collapse(batch, [o.bst for o in ops])
    if len(sizes) != 1:
        return None
    for o, (st,) in zip(ops, bst):
        if M != 1 and st != M * o.sr and not (o is D and st == 0 and o.sr == 0):
            return None
    for o, (st,) in zip(ops, bst):
        o.sr, o.bst = st if M == 1 else o.sr, []
    return M * sizes[0]


_GEMM_COPY_MIN = 128  # a transposing copy of one operand pays off once the other dim reaches this


def _vec_plan(A, B, M, N, K, vw):
    """(mode, swap operands, copy a, copy b) for the vector variant, by the operands' strides.

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
        if N >= vw and K < vw:  # no whole vector along k for 'dot': 'nn' gathers b's rows (K=10: 27 -> 7 us)
            return "nn", False, False, False
        return ("nn", False, False, True) if M >= _GEMM_COPY_MIN and N >= vw else ("dot", False, False, False)
    if B.sc == 1:
        return "nn", False, False, False
    if A.sr == 1 and M >= vw:
        return "nn", True, False, False
    return "nn", False, False, True


_GEMM_BATCH_DIMS = 3  # batch dims every GEMM kernel takes (padded with size 1), so that one kernel serves all


class GemmPlan:
    """What a GEMM launch needs besides the operands' buffers and offsets and alpha/beta: the kernel,
    the size arguments, per kernel operand slot the index of its tensor in (a, b, out, bias) and its
    row/col/batch strides, and the launch geometry."""

    __slots__ = ("backend", "kernel", "acc", "head", "slots", "gsize", "lsize", "items")

    def __init__(self, backend, kernel, acc, head, slots, gsize, lsize, items):
        self.backend, self.kernel, self.acc, self.head, self.slots = backend, kernel, acc, head, slots
        self.gsize, self.lsize, self.items = gsize, lsize, items


def _run_gemm(plan, tensors, alpha, beta):
    args = list(plan.head)
    for index, strides in plan.slots:
        t = tensors[index]
        args += (t._storage.buffer, t._offset, *strides)
    args += (scalar_arg(alpha, plan.acc), scalar_arg(beta, plan.acc))
    plan.backend.launch(plan.kernel, plan.gsize, plan.lsize, args, plan.items)


def _gemm_plan(backend, p, mode, A, B, C, D, batch, M, N, K, acc, out_dtype, tensors):
    ops = (A, B, C, D) if D is not None else (A, B, C)
    nbatch = math.prod(batch)
    if nbatch > 1:
        bsizes, bstrides = _collapse(batch, [o.bst for o in ops])
        pad = (0,) * max(_GEMM_BATCH_DIMS - len(bsizes), 0)
        bsizes, bstrides = (1,) * len(pad) + tuple(bsizes), [pad + st for st in bstrides]
    else:
        bsizes, bstrides = (1,) * _GEMM_BATCH_DIMS, [(0,) * _GEMM_BATCH_DIMS] * len(ops)
    if p["variant"] == "vec":
        mr, nr = (p["MR"], p["NV"] * p["VW"]) if mode == "nn" else (p["DOT_MR"], p["DOT_NR"])
        flags = (mr, nr, p["VW"])
        gsize, lsize = (-(-M // mr), -(-N // nr), nbatch), (1, 1, 1)
    else:
        flags = ("k" if A.sc == 1 else "r" if A.sr == 1 else None, "r" if B.sc == 1 else "k" if B.sr == 1 else None)
        tx, ty = p["BN"] // p["WN"], p["BM"] // p["WM"]
        gsize, lsize = (-(-N // p["BN"]) * tx, -(-M // p["BM"]) * ty, nbatch), (tx, ty, 1)
    d_dtype = D.t.dtype if D is not None else None
    key = ("gemm", mode, acc, out_dtype, d_dtype, len(bsizes), flags, p["key"])
    kernel = backend.kernels.get(key)
    if kernel is None:
        kernel = _build_gemm(backend, key, p, mode, flags, acc, out_dtype, d_dtype, len(bsizes), len(ops))
    slots = tuple((o.slot, (o.sr, o.sc, *bst)) for o, bst in zip(ops, bstrides))
    return GemmPlan(backend, kernel, acc, (M, N, K, *bsizes), slots, gsize, lsize, M * N * nbatch)


def _build_gemm(backend, key, p, mode, flags, acc, out_dtype, d_dtype, batch_ndim, nops, implicit=None):
    params = dict.fromkeys(("MR", "NR", "VW", "BM", "BN", "BK", "WM", "WN", "VL", "a_unit", "b_unit"))
    if p["variant"] == "vec":
        params.update(zip(("MR", "NR", "VW"), flags))
    else:
        params.update({k: p[k] for k in ("BM", "BN", "BK", "WM", "WN", "VL")}, a_unit=flags[0], b_unit=flags[1])
    types = [np.int32] * (3 + batch_ndim) + ([None] + [np.int64] * (3 + batch_ndim)) * nops + [arg_np_type(acc)] * 2
    if implicit:
        types += [np.int32] * 18 + [np.int64] * 5
    return codegen.kernel(backend, key, "gemm.cl.mako", "gemm", arg_dtypes=types, variant=p["variant"], mode=mode,
                          a_dtype=acc, c_dtype=out_dtype, d_dtype=d_dtype, acc=acc, batch_ndim=batch_ndim,
                          implicit=implicit, **params)


def gemm_tiles(backend, dtype, M, N) -> int:
    """How many independent pieces (work-items on CPUs, work-groups on GPUs) one M x N product gives."""
    from . import gemm_tuning
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
    from . import gemm_tuning
    if out.numel() == 0:
        return out
    backend = out.device.backend
    acc = image.dtype
    p = gemm_tuning.params_for(backend, acc)
    nbatch = math.prod(batch)
    if p["variant"] == "vec":
        mr, nr = p["MR"], p["NV"] * p["VW"]
        flags = (mr, nr, p["VW"])
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


# ---- indexing: gather/scatter, bounds, scans (kernels_cl/index.cl.mako) ---------------------------
COMBINE = {"add": "a + b", "mul": "a * b", "max": "(a > b || a != a) ? a : b", "min": "(a < b || a != a) ? a : b"}
ATOMIC_DTYPES = (dt.int32, dt.int64, dt.float32, dt.float64)
_BITS = {1: dt.uint8, 2: dt.int16, 4: dt.int32, 8: dt.int64}  # plain moves copy bit patterns
_SCAN_MAX_BLOCKS = 1024


def _index_program(backend, key, kname, arg_dtypes=None, **params):
    full = dict(family="index", dtypes=[], IDX="int", ndim=0, dst_dtype=None, src_dtype=None, index_dtypes=(),
                indexed="src", op="assign", x_dtype=None)
    full.update(params)
    return codegen.kernel(backend, key, "index.cl.mako", kname, arg_dtypes=arg_dtypes, **full)


def _padded_collapse(shape, stride_lists):
    """_collapse, then pad to at least 3 dims so that one kernel covers ranks 0 to 3."""
    sizes, strides = _collapse(tuple(shape), stride_lists)
    ndim = max(3, len(sizes))
    pad = ndim - len(sizes)
    return (1,) * pad + sizes, [(0,) * pad + s for s in strides]


def _as_bits(dst, src):
    """For a plain copy between equal dtypes (or a fill), the same-size integer dtype and the
    fill value's bit pattern: one kernel then serves every dtype of that size."""
    bits = _BITS[dst.dtype.itemsize]
    if isinstance(src, Tensor):
        return bits, src
    stored = np.float32 if dst.dtype is dt.float16 else None
    if dst.dtype is dt.bfloat16:
        return bits, int(dt.to_storage(float(src), dst.dtype))
    value = np.array(scalar_arg(src, dst.dtype, check_overflow=True), dtype=stored or dst.dtype.np)
    if dst.dtype is dt.float16:
        value = value.astype(np.float16)
    return bits, int(value.view(bits.np))


def index_kernel(shape, dst, dst_strides, src, src_strides, indices, indexed, op="assign"):
    """One gather/scatter over an iteration shape (see index.cl.mako).

    dst, src: tensors read/written at their offsets plus strides over shape (src may be a Python
    number); indices: [(index tensor, its strides over shape, size of the indexed dim, stride of
    the indexed dim)]; indexed: 'src' (gather) or 'dst' (scatter); op: 'assign' or a COMBINE key
    (atomic, dst must be one of ATOMIC_DTYPES). Index values must already be bounds-checked.
    """
    n = math.prod(shape)
    if n == 0:
        return dst
    has_src = isinstance(src, Tensor)
    if op != "assign" and dst.dtype not in ATOMIC_DTYPES:
        raise RuntimeError(f"atomic {op} needs an int32/int64/float32/float64 destination, got {dst.dtype}")
    dst_dtype, src_dtype = dst.dtype, (src.dtype if has_src else None)
    if op == "assign" and (not has_src or src_dtype is dst_dtype):
        dst_dtype, src = _as_bits(dst, src)
        src_dtype = dst_dtype if has_src else None
    lists = [dst_strides] + ([src_strides] if has_src else []) + [ix[1] for ix in indices]
    sizes, strides = _padded_collapse(shape, lists)
    ndim = len(sizes)
    idx = _index_type([dst] + ([src] if has_src else []) + [ix[0] for ix in indices])
    index_dtypes = tuple(ix[0].dtype for ix in indices)
    key = ("index", dst_dtype, src_dtype, index_dtypes, indexed, op, ndim, idx)
    backend = dst.device.backend
    kernel = backend.kernels.get(key)
    if kernel is None and op != "assign" and dst_dtype.itemsize == 8 and \
            "cl_khr_int64_base_atomics" not in backend.cl_device.extensions:
        raise RuntimeError(f"accumulating into {dst_dtype} on {backend.name} needs cl_khr_int64_base_atomics, "
                           "which the device lacks; accumulate in float32/int32 instead")
    idx_np = np.int32 if idx == "int" else np.int64
    if kernel is None:
        operand = [None, idx_np] + [idx_np] * ndim
        types = [idx_np] * (1 + ndim) + operand + (operand if has_src else [arg_np_type(dst_dtype)])
        types += (operand + [np.int64, idx_np]) * len(indices)
        kernel = _index_program(backend, key, "index_" + indexed, dtypes=[dst_dtype, src_dtype or dst_dtype],
                                IDX=idx, ndim=ndim, dst_dtype=dst_dtype, src_dtype=src_dtype,
                                index_dtypes=index_dtypes, indexed=indexed, op=COMBINE.get(op, op), arg_dtypes=types)
    args = [n, *sizes, dst._storage.buffer, dst._offset, *strides[0]]
    args += [src._storage.buffer, src._offset, *strides[1]] if has_src else [
        src if src_dtype is None and op == "assign" else scalar_arg(src, dst_dtype)]
    for k, (t, _, limit, step) in enumerate(indices):
        args += [t._storage.buffer, t._offset, *strides[k + 1 + has_src], int(limit), int(step)]
    enqueue(backend, kernel, n, args)
    return dst


def _blocks(n):
    chunk = max(64, -(-n // _SCAN_MAX_BLOCKS))
    return chunk, -(-n // chunk)


_BLOCKED_TAIL = {"minmax_blocks": [None], "scan_count": [None], "scan_inclusive": [None, None],
                 "scan_compact": [None, None, None, np.int32]}


def _blocked_kernels(family, x, names):
    sizes, (strides,) = _padded_collapse(x._shape, [x._strides])
    idx = _index_type([x])
    idx_np = np.int32 if idx == "int" else np.int64
    backend = x.device.backend
    found = []
    for kname in names:
        key = (family, kname, x.dtype, len(sizes), idx)
        kernel = backend.kernels.get(key)
        if kernel is None:
            operand = [None, idx_np] + [idx_np] * len(sizes)
            types = ([idx_np, None] if kname in ("minmax_final", "scan_offsets") else
                     [idx_np, idx_np] + [idx_np] * len(sizes) + operand + _BLOCKED_TAIL[kname])
            kernel = _index_program(backend, key, kname, family=family, dtypes=[x.dtype], IDX=idx,
                                    ndim=len(sizes), x_dtype=x.dtype, arg_dtypes=types)
        found.append(kernel)
    return found, [*sizes, x._storage.buffer, x._offset, *strides]


def _read_longs(t, start, count):
    view = Tensor._make(t._storage, (count,), (1,), t._offset + start, t.dtype, t.device)
    return [int(v) for v in view._to_numpy_copy()]


def index_minmax(x):
    """(min, max) of a non-empty integer tensor: two kernels and a 16-byte host read (a sync)."""
    n = x.numel()
    chunk, nb = _blocks(n)
    (blocks, final), xargs = _blocked_kernels("minmax", x, ("minmax_blocks", "minmax_final"))
    partial = empty((2 * nb,), dt.int64, x.device)
    backend = x.device.backend
    enqueue(backend, blocks, nb, [n, chunk, *xargs, partial._storage.buffer])
    enqueue(backend, final, 1, [nb, partial._storage.buffer])
    return tuple(_read_longs(partial, 0, 2))


def _scan_blocks(x, names):
    n = x.numel()
    chunk, nb = _blocks(n)
    kernels, xargs = _blocked_kernels("scan", x, ("scan_count", "scan_offsets") + names)
    bsum = empty((nb + 1,), dt.int64, x.device)
    backend = x.device.backend
    enqueue(backend, kernels[0], nb, [n, chunk, *xargs, bsum._storage.buffer])
    enqueue(backend, kernels[1], 1, [nb, bsum._storage.buffer])
    return kernels[2:], [n, chunk, *xargs, bsum._storage.buffer], nb, bsum


def nonzero_compact(x, coords: bool):
    """Positions of the nonzero elements of x in row-major order: a (nnz,) tensor of linear
    indices, or (nnz, x.dim()) coordinates. Reads the count back to the host (a sync)."""
    out_ndim = x.dim() if coords else 0
    if x.numel() == 0:
        return empty((0, out_ndim) if coords else (0,), dt.int64, x.device)
    (compact,), args, nb, bsum = _scan_blocks(x, ("scan_compact",))
    (total,) = _read_longs(bsum, nb, 1)
    out = empty((total, out_ndim) if coords else (total,), dt.int64, x.device)
    if total:
        sizes = _long_table(x._shape if out_ndim else (1,), x.device)
        enqueue(x.device.backend, compact, nb, args + [out._storage.buffer, sizes._storage.buffer, out_ndim])
    return out


def _long_table(values, device):
    from .ops.creation import from_host
    return from_host(np.asarray(values, dtype=np.int64), dt.int64, device)


def inclusive_count(x):
    """out[i] = number of nonzero elements of x (row-major) up to and including i; no sync."""
    out = empty((x.numel(),), dt.int64, x.device)
    if x.numel():
        (inclusive,), args, nb, _ = _scan_blocks(x, ("scan_inclusive",))
        enqueue(x.device.backend, inclusive, nb, args + [out._storage.buffer])
    return out


# ---- sorting and binary search (kernels_cl/sort.cl.mako) -----------------------------------------------
def _sort_program(backend, key, kname, arg_dtypes=None, **params):
    full = dict(family="sort", dtypes=[], key_dtype=None, TILE=2, compute=None, seq_dtype=None, val_dtype=None,
                out_dtype=None)
    full.update(params)
    return codegen.kernel(backend, key, "sort.cl.mako", kname, arg_dtypes=arg_dtypes, **full)


def sort_tile_size(backend):
    wg = min(256, backend.max_work_group_size)
    return 2 * (1 << (wg.bit_length() - 1))


def sort_rows(keys, idx, rows, n, descending):
    """Sort `rows` contiguous rows of n keys in place (stable) and write the source positions to
    idx (int64, same layout). A bitonic network: one local-memory pass per tile of TILE elements,
    then for each larger block one global launch per distance >= TILE and one local pass."""
    if rows * n == 0:
        return
    if keys._offset or idx._offset:
        raise RuntimeError("sort_rows expects freshly allocated buffers")
    backend = keys.device.backend
    TILE = sort_tile_size(backend)
    found = []
    for kname in ("sort_tile", "sort_global"):
        key = ("sort", kname, keys.dtype, TILE)
        kernel = backend.kernels.get(key)
        if kernel is None:
            kernel = _sort_program(backend, key, kname, dtypes=[keys.dtype], key_dtype=keys.dtype, TILE=TILE,
                                   arg_dtypes=[np.int64] * 3 + [np.int32] * 3 + [None] * 2 if kname == "sort_tile"
                                   else [np.int64, np.int32, np.int64] + [np.int32] * 4 + [None] * 2)
        found.append(kernel)
    tile_kernel, global_kernel = found
    desc = int(bool(descending))
    n2 = 1 << max(n - 1, 0).bit_length()
    tile = max(2, min(TILE, n2))
    tiles = -(-n // tile)
    segments = rows * tiles
    groups = -(-segments // (TILE // tile))
    bufs = [keys._storage.buffer, idx._storage.buffer]
    tile_args = [n, tiles, segments, tile.bit_length() - 1]
    enqueue(backend, tile_kernel, groups * (TILE // 2), tile_args + [1, desc, *bufs], wg=TILE // 2)
    pairs = n2 // 2
    for ks in range(tile.bit_length(), n2.bit_length()):  # blocks k = 2^ks larger than a tile
        for js in range(ks - 1, tile.bit_length() - 2, -1):  # distances j = 2^js >= tile
            enqueue(backend, global_kernel, rows * pairs,
                    [n, pairs.bit_length() - 1, rows * pairs, ks, js, int(js == ks - 1), desc, *bufs])
        enqueue(backend, tile_kernel, groups * (TILE // 2), tile_args + [0, desc, *bufs], wg=TILE // 2)


def searchsorted_kernel(seq, vals, out, inner, per_row, right, compute):
    """out[i] = insertion point of vals[i] in its row of seq (both contiguous; rows of length
    seq.shape[-1]; value i uses row i // inner when per_row)."""
    n = vals.numel()
    if n == 0:
        return out
    backend = vals.device.backend
    key = ("search", seq.dtype, vals.dtype, out.dtype, compute)
    kernel = backend.kernels.get(key)
    if kernel is None:
        kernel = _sort_program(backend, key, "searchsorted", family="search", dtypes=[seq.dtype, vals.dtype, compute],
                               compute=compute, seq_dtype=seq.dtype, val_dtype=vals.dtype, out_dtype=out.dtype,
                               arg_dtypes=[np.int64] * 3 + [np.int32] * 2 + [None, np.int64, None, np.int64, None])
    length = seq._shape[-1] if seq.dim() else 1
    enqueue(backend, kernel, n, [n, max(inner, 1), length, int(per_row), int(right), seq._storage.buffer,
                                 seq._offset, vals._storage.buffer, vals._offset, out._storage.buffer])
    return out


# ---- reductions and scans (kernels_cl/reduce.cl.mako, kernels_cl/scan.cl.mako) --------------------
_C_SIZES = {"char": 1, "uchar": 1, "short": 2, "ushort": 2, "int": 4, "uint": 4, "float": 4, "long": 8,
            "ulong": 8, "double": 8}


class ReduceCode:
    """What a reduction computes, as C snippets for reduce.cl.mako (the rows live in ops/reduce.py).

    T: dtype elements are converted to; A: accumulator dtype; fields: [(name, C type)] of the state;
    neutral/map/combine: C statements; finish: one C expression per output; fused: a C expression
    of an element `a` and the state `s` written per element (softmax), or None; fused_setup: C
    statements that rewrite `s` once before those writes.
    """

    def __init__(self, name, T, A, fields, neutral, map, combine, finish, fused=None, helpers="",
                 lowest="0", highest="0", pre=None, fused_setup=""):
        self.name, self.T, self.A, self.finish, self.fused = name, T, A, tuple(finish), fused
        # largest fields first: no padding inside the struct, so its size is known here
        self.fields = tuple(sorted(fields, key=lambda f: -_C_SIZES[f[1]]))
        sizes = [_C_SIZES[f[1]] for f in self.fields]
        self.nbytes = -(-sum(sizes) // sizes[0]) * sizes[0]
        # NOTE: the tail padding is declared: Mesa 22.3's llvmpipe (rusticl) loses the values of a struct
        # with implicit padding ({long c; float v;}) returned from an inline function in an unrolled loop
        self.padding = self.nbytes - sum(sizes)
        # pre: optional (pre_neutral, pre_combine, start, accumulate), a faster path for work-items
        pre_neutral, pre_combine, start, accumulate = pre or ("", "", "", "")
        self.snippets = dict(neutral=neutral, map=map, combine=combine, helpers=helpers, lowest=lowest,
                             highest=highest, pre_neutral=pre_neutral, pre_combine=pre_combine, start=start,
                             accumulate=accumulate, fused_setup=fused_setup)
        self.key = (name, T, A, self.fields, self.finish, fused, tuple(self.snippets.values()))


class ReduceTuning:
    """How much parallelism a reduction plan asks for (per compute unit) and the least work per piece."""

    def __init__(self, items_per_cu, min_chunk, groups_per_cu, use_groups):
        self.items_per_cu, self.min_chunk = items_per_cu, min_chunk
        self.groups_per_cu, self.use_groups = groups_per_cu, use_groups


CPU_TUNING = ReduceTuning(items_per_cu=16, min_chunk=8192, groups_per_cu=4, use_groups=False)
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
        per_item = V if lanes == "outputs" else 1
        S = 1 if single else max(1, min(-(-tune.items_per_cu * cus * per_item // M), R // tune.min_chunk))
        if backend.loop_limit and not single:  # a few passes over a chunk stay below the limit
            S = max(S, -(-4 * R // backend.loop_limit))
        mode = "items"
    chunk = max(1, -(-R // S))
    return mode, max(1, -(-R // chunk)), chunk, W, V, lanes


def _items_wg(backend, n):
    if backend.cpu_tuned:  # enough work-groups for every core
        return 1 << max(0, min(256, n // (4 * backend.compute_units)).bit_length() - 1)
    return 128 if n >= 128 * backend.compute_units else 64


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
    idx = _index_type(views + list(outs) + ([second] if second is not None else []))
    key = (code, backend, x._shape, tuple(v._strides for v in views), tuple(dims), ordered, x.dtype,
           fused.dtype if fused is not None else None, tuple(o.dtype for o in outs), idx, tuple(p[:2] for p in params),
           second.dtype if second is not None else None)
    stages = _reduce_stages.get(key)
    if stages is None:
        if len(_reduce_stages) > 4096:  # many distinct layouts: start over rather than grow
            _reduce_stages.clear()
        stages = _reduce_stages[key] = _plan_stages(code, x, views, dims, outs, params, fused, ordered, idx,
                                                    second.dtype if second is not None else None)
    src = [a for v, st in zip(views, stages[0].strides) for a in (v._storage.buffer, v._offset, *st)] \
        if stages else []
    if second is not None:
        src += [second._storage.buffer, second._offset - x._offset]
    extra = [scalar_arg(p[2], p[1]) for p in params]
    previous = None  # the partials the stage reads: alive until its launch is queued, or another
    # thread could get the block from the pool and queue a write to it before that launch
    for stage in stages:
        part = None if stage.final else Storage.allocate(backend, stage.S * stage.M * code.nbytes, False)
        # the buffers this stage does not write get a stand-in
        spare = (part if part is not None else outs[0]._storage if outs else x._storage).buffer
        args = stage.head + src + [spare if part is not None else o._storage.buffer for o in outs]
        args += [spare, int(stage.final)]
        if stage.W:
            import pyopencl as cl
            args.append(cl.LocalMemory(stage.W * code.nbytes))
        _launch_1d(backend, stage.kernel, stage.n, args + extra, stage.wg, stage.work)
        if part is not None:  # the next stage combines the S partial states of each output, laid out [S, M]
            src = [part.buffer, 0, 0, 0, 1, stage.M]
            previous = part
    del previous
    return outs


_reduce_stages: dict = {}


class _Stage:
    """One launch of a reduction: its kernel, sizes and the launch shape (see _plan_stages)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _plan_stages(code, x, views, dims, outs, params, fused, ordered, idx, in2_dtype=None):
    backend = x.device.backend
    kept = [d for d in range(x.dim()) if d not in dims]
    red = sorted(dims, key=lambda d: (-abs(x._strides[d]), d)) if not ordered else sorted(dims)
    ksizes, kst = _collapse([x._shape[d] for d in kept], [[v._strides[d] for d in kept] for v in views])
    rsizes, rst = _collapse([x._shape[d] for d in red], [[v._strides[d] for d in red] for v in views])
    M, R = math.prod(ksizes), math.prod(rsizes)
    if M == 0:
        return []
    cols = abs(kst[0][-1]) == 1 and ksizes[-1] > 1
    mode, S, chunk, W, V, lanes = _reduce_plan(backend, M, R, abs(rst[0][-1]) == 1 and not cols, cols,
                                               fused is not None, len(rsizes) == 1 and rst[0][0] == 1)
    ksizes, kst = _pad_dims(ksizes, kst, 3)
    rsizes, rst = _pad_dims(rsizes, rst, 3 if len(rsizes) > 1 else 1)
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
                             wg=W if mode == "group" else _items_wg(backend, n), work=M * R, strides=strides,
                             head=[M, R, S, chunk, count, *ksizes, *rsizes]))
        if S == 1:
            return stages
        source, in_dtype, R, ksizes, rsizes, strides = "partials", None, S, (1, 1, M), (S,), None
        mode, S, chunk, W, V, lanes = _reduce_plan(backend, M, R, M == 1, M > 1, False, M == 1)


def _launch_1d(backend, kernel, n, args, wg, work):
    """n work-items in groups of wg (bounds-checked in the kernel); work: the elements they read,
    so that a long reduction on few work-items is not held back as a small launch."""
    launch(backend, kernel, (-(-n // wg) * wg,), (wg,), args, work)


def _pad_dims(sizes, strides, n):
    """Leading size-1 dims up to n: one kernel then serves 1..n collapsed dims (fewer compiles,
    for a division or two more per work-item)."""
    k = n - len(sizes)
    if k <= 0:
        return tuple(sizes), strides
    return (1,) * k + tuple(sizes), [(0,) * k + tuple(st) for st in strides]


_group_limits: dict = {}


def _reduce_kernel(backend, code, source, mode, nk, nr, idx, in_dtype, fused_dtype, out_dtypes, params, W, V,
                   lanes, in2_dtype=None):
    key = ("reduce", code.key, source, mode, nk, nr, idx, in_dtype, fused_dtype, out_dtypes,
           tuple(p[:2] for p in params), V, lanes, in2_dtype)
    kernel = backend.kernels.get(key)
    if kernel is None:
        i = np.int32 if idx == "int" else np.int64
        views = 1 + (fused_dtype is not None)
        types = [i] * 4 + [np.int64] + [i] * (nk + nr) + ([None, i] + [i] * (nk + nr)) * views
        types += [None, i] if in2_dtype is not None else []
        types += [None] * (len(out_dtypes) + 1) + [np.int32] + ([None] if mode == "group" else [])
        types += [arg_np_type(p[1]) for p in params]
        kernel = codegen.kernel(
            backend, key, "reduce.cl.mako", "reduce_" + code.name, arg_dtypes=types, source=source, mode=mode, nk=nk,
            nr=nr, IDX=idx, in_dtype=in_dtype, fused=code.fused if fused_dtype else None, fused_dtype=fused_dtype,
            out_dtypes=out_dtypes, in2_dtype=in2_dtype, V=V, lanes=lanes, T=code.T, A=code.A.compute_c, A_dtype=code.A, fields=code.fields, padding=code.padding,
            finish=code.finish, params=[(p[0], p[1].compute_c) for p in params], **code.snippets)
    if mode == "group":
        group_limit = _group_limits.get(key)
        if group_limit is None:  # here, not where the kernel is built: another thread may have built it
            import pyopencl as cl
            group_limit = _group_limits[key] = kernel.get_work_group_info(
                cl.kernel_work_group_info.WORK_GROUP_SIZE, backend.cl_device)
        limit = min(group_limit, backend.local_mem_size // (2 * code.nbytes))
        while W > limit:
            W >>= 1
    return kernel, W


def scan(combine, neutral, x, dim, out, T, A, reverse=False, helpers=""):
    """out (contiguous, x's shape) = the inclusive scan of x along dim by the C expression `combine`
    of x and y (type A.compute_c) with identity `neutral`; elements are converted to T first."""
    if out.numel() == 0:
        return out
    backend = x.device.backend
    views = [x, out]
    kept = [d for d in range(x.dim()) if d != dim]
    ksizes, kst = _pad_dims(*_collapse([x._shape[d] for d in kept], [[v._strides[d] for d in kept] for v in views]),
                            3)
    L = x._shape[dim] if x.dim() else 1
    lst = [v._strides[dim] if x.dim() else 0 for v in views]
    M = math.prod(ksizes)
    tune = reduce_tuning(backend)
    V = 16 if backend.cpu_tuned and abs(kst[0][-1]) == 1 and M >= 16 else 1  # rows side by side: see scan.cl.mako
    S = max(1, min(-(-tune.items_per_cu * backend.compute_units * V // M), L // tune.min_chunk))
    chunk = max(1, -(-L // S))
    S = -(-L // chunk)
    idx = _index_type(views)
    nob = -(-M // V)
    base = [M, L, S, chunk, *ksizes]
    src = [x._storage.buffer, x._offset, lst[0], *kst[0]]
    dst = [out._storage.buffer, out._offset, lst[1], *kst[1]]
    spec = (combine, neutral, T, A, x.dtype, out.dtype, len(ksizes), idx, reverse, helpers, V)
    work = M * L
    if S == 1:
        _launch_1d(backend, _scan_kernel(backend, spec, "scan", False), nob, base + src + dst,
                   _items_wg(backend, nob), work)
        return out
    part = Storage.allocate(backend, S * M * A.itemsize, False)
    _launch_1d(backend, _scan_kernel(backend, spec, "total", True), nob * S, base + src + [part.buffer],
               _items_wg(backend, nob * S), work)
    _launch_1d(backend, _scan_kernel(backend, spec, "carry", True), M, base + [part.buffer], _items_wg(backend, M),
               M * S)
    _launch_1d(backend, _scan_kernel(backend, spec, "scan", True), nob * S, base + src + dst + [part.buffer],
               _items_wg(backend, nob * S), work)
    return out


def _scan_kernel(backend, spec, phase, carry):
    if phase == "carry":  # reads only the partials: one kernel whatever the input's dtype and layout
        combine, neutral, T, A, in_dtype, out_dtype, nk, idx, reverse, helpers, V = spec
        spec = (combine, neutral, A, A, A, A, nk, idx, reverse, helpers, 1)
    key = ("scan", spec, phase, carry)
    kernel = backend.kernels.get(key)
    if kernel is None:
        combine, neutral, T, A, in_dtype, out_dtype, nk, idx, reverse, helpers, V = spec
        i = np.int32 if idx == "int" else np.int64
        types = [i] * (4 + nk)
        if phase != "carry":
            types += [None, i, i] + [i] * nk
        if phase == "scan":
            types += [None, i, i] + [i] * nk
        if phase != "scan" or carry:
            types.append(None)
        kernel = codegen.kernel(backend, key, "scan.cl.mako", "scan_" + phase, arg_dtypes=types, combine=combine,
                                neutral=neutral, T=T, A=A.compute_c, A_dtype=A, in_dtype=in_dtype, out_dtype=out_dtype,
                                nk=nk, IDX=idx, reverse=reverse, phase=phase, carry=carry, helpers=helpers, V=V)
    return kernel
