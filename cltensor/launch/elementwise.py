"""The elementwise family (kernels_cl/elementwise.cl.mako): plans cached per operand layout, one launch per op."""
from __future__ import annotations

from .. import codegen
from ..tensor import Tensor
from . import signature as sg
from .base import MAX_PLANS, scalar_arg
from .signature import Signature
from .strides import broadcast_strides, collapse, index_type

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


def elementwise_plan(name, expr, inputs, out, compute, params=(), helpers=""):
    """The cached ElementwisePlan for these operands (None when out is empty)."""
    backend = out.device.backend
    sig = tuple([(x.dtype, x._shape, x._strides) if isinstance(x, Tensor) else None for x in inputs])
    idx = index_type([x for x in inputs if isinstance(x, Tensor)] + [out]) if backend.allocator.huge else "int"
    key = (name, expr, compute, out.dtype, out._shape, out._strides, sig, idx,
           tuple([p[1] for p in params]) if params else ())
    plans = backend.plans
    plan = plans.get(key, False)
    if plan is False:
        if len(plans) >= MAX_PLANS:
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
        sizes, strides = collapse(shape, bstrides)
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
    names = "abcdefgh"
    parts = [sg.sizes(idx, "n"), sg.dims(idx, "size", ndim), sg.tensor("out", out_dtype.c, idx, ndim, const=False)]
    for name, d, kind in zip(names, in_dtypes, kinds):
        if kind == "v":
            parts.append(sg.scalar(f"{name}_val", compute))
        else:
            parts.append(sg.tensor(f"{name}_ptr", d.c, idx, ndim if kind == "t" else 0, offset=f"{name}_off",
                                   strides=[f"{name}_st{k}" for k in range(ndim if kind == "t" else 0)]))
    parts += [sg.param(p[0], p[1], compute) for p in params]
    return codegen.kernel(backend, key, "elementwise.cl.mako", kname, {kname: Signature(*parts)},
                          expr=expr.replace("{T}", T), helpers=helpers.replace("{T}", T), in_dtypes=in_dtypes,
                          in_kinds=kinds, out_dtype=out_dtype, compute=compute, ndim=ndim, IDX=idx, params=params,
                          VEC=vec, TILE=tile)
