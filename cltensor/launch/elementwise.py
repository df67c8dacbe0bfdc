"""The elementwise family (kernels_cl/elementwise.cl.mako): plans cached per operand layout, one launch per op."""
from __future__ import annotations

import functools

import numpy as np
import pyopencl as cl

from .. import codegen
from .. import dtypes as dt
from ..tensor import Tensor
from . import signature as sg
from .base import keep_plan, scalar_arg
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


def fill(out, value):
    """Write value into every element of out, whatever its layout; value is converted to out's dtype
    (raising as PyTorch does where it overflows)."""
    elementwise("fill", "v", [], out, out.dtype, (("v", "T", scalar_arg(value, out.dtype, check_overflow=True)),))


class ElementwisePlan:
    """Everything a launch needs that follows from the operands' dtypes, shapes and strides:
    the kernel, operand kinds, the size/stride arguments and the launch geometry.

    Prepared arguments (Backend.submit), where pyopencl packs every scalar argument itself:
    preset holds the arguments fixed by the plan (sizes, strides, zero offsets) and the slots say
    where a call's buffers and numbers go, so a call passes just those (operands at offset 0)."""

    __slots__ = ("backend", "kernel", "compute", "kinds", "head", "out_strides", "in_strides", "gsize", "lsize",
                 "items", "preset", "out_slot", "tensor_slots", "value_slots", "param_slots")

    def __init__(self, backend, kernel, compute, kinds, head, out_strides, in_strides, gsize, lsize, items):
        self.backend, self.kernel, self.compute, self.kinds, self.head = backend, kernel, compute, kinds, head
        self.out_strides, self.in_strides, self.gsize, self.lsize, self.items = out_strides, in_strides, gsize, lsize, items
        self.preset = None  # None: launched with every argument each call (launch.base.launch)

    def prepare(self, types):
        """Fill the prepared arguments from the kernel's argument types (_arg_types)."""
        chars = [_pack_char(t) for t in types]  # None: a buffer; False: a type pyopencl packs otherwise
        if not PREPARED_ARGS or any(c is False for c in chars):
            return
        preset = []

        def fixed(slot, values):
            for i, value in enumerate(values):
                preset.extend((slot + i, chars[slot + i], value))

        fixed(0, self.head)
        slot = self.out_slot = len(self.head)
        fixed(slot + 1, (0, *self.out_strides))
        slot += 2 + len(self.out_strides)
        # (input's position, slot), (position, slot, type char, the number's conversion to its argument)
        tensor_slots, value_slots = [], []
        convert = float if self.compute.category == dt.FLOAT else functools.partial(scalar_arg, d=self.compute)
        for i, (kind, strides) in enumerate(zip(self.kinds, self.in_strides)):
            if kind == "v":
                value_slots.append((i, slot, chars[slot], convert))
                slot += 1
            else:
                tensor_slots.append((i, slot))
                fixed(slot + 1, (0, *strides))
                slot += 2 + len(strides)
        self.param_slots = tuple((i, chars[i]) for i in range(slot, len(types)))
        self.tensor_slots, self.value_slots, self.preset = tuple(tensor_slots), tuple(value_slots), tuple(preset)


# pyopencl's own invokers set a kernel's arguments with these two calls; where they exist, a plan's
# launch passes only what changes per call (Backend.submit)
PREPARED_ARGS = hasattr(cl.Kernel, "_set_arg_multi") and hasattr(cl.Kernel, "_set_arg_buf_pack_multi")
_PACKED_CHARS = "cbBhHiIlLfd"  # the scalar types _set_arg_buf_pack_multi packs


def _pack_char(np_type):
    if np_type is None:
        return None
    char = np.dtype(np_type).char
    return char.encode() if char in _PACKED_CHARS else False


def elementwise_plan(name, expr, inputs, out, compute, params=(), helpers=""):
    """The cached ElementwisePlan for these operands (None when out is empty)."""
    backend = out.device.backend
    sig = tuple([(x.dtype, x._shape, x._strides) if isinstance(x, Tensor) else None for x in inputs])
    idx = index_type([x for x in inputs if isinstance(x, Tensor)] + [out]) if backend.allocator.huge else "int"
    key = (name, expr, compute, out.dtype, out._shape, out._strides, sig, idx,
           tuple([p[1] for p in params]) if params else ())
    plan = backend.plans.get(key, False)
    if plan is False:
        plan = keep_plan(backend, key, _make_elementwise_plan(backend, name, expr, inputs, out, compute, params,
                                                              helpers, idx))
    return plan


def make_elementwise_plan(name, expr, inputs, out, compute, params=(), helpers=""):
    """A new ElementwisePlan, not cached here: for a caller that caches a plan of its own that holds
    this one (ops/elementwise.py keys it by the op and its operands), so the backend keeps one."""
    backend = out.device.backend
    idx = index_type([x for x in inputs if isinstance(x, Tensor)] + [out]) if backend.allocator.huge else "int"
    return _make_elementwise_plan(backend, name, expr, inputs, out, compute, params, helpers, idx)


def run_elementwise(plan, inputs, out, compute, params=()):
    """Launch a plan; params: (name, c_type, value) as elementwise() takes them."""
    run_planned(plan, inputs, out, [p[2] for p in params])


def run_planned(plan, inputs, out, param_values=()):
    """Launch a plan; param_values: the parameters' kernel arguments (launch.base.param_arg)."""
    if out._offset or not submit_prepared(plan, inputs, out._storage.buffer, param_values):
        args = [*plan.head, out._storage.buffer, out._offset, *plan.out_strides]
        for x, kind, strides in zip(inputs, plan.kinds, plan.in_strides):
            if kind == "v":
                args.append(scalar_arg(x, plan.compute))
            else:
                args += (x._storage.buffer, x._offset, *strides)
        args += param_values
        plan.backend.launch(plan.kernel, plan.gsize, plan.lsize, args, plan.items)


def submit_prepared(plan, inputs, out_buffer, param_values=()) -> bool:
    """Launch a plan into out_buffer (at offset 0) with prepared arguments; False, launching
    nothing, where the plan has none or an input sits at an offset (the preset's are zero)."""
    if plan.preset is None:
        return False
    buffers = (plan.out_slot, out_buffer)
    for i, slot in plan.tensor_slots:
        x = inputs[i]
        if x._offset:
            return False
        buffers += (slot, x._storage.buffer)
    values = ()
    for i, slot, char, convert in plan.value_slots:
        values += (slot, char, convert(inputs[i]))
    if param_values:
        for (slot, char), value in zip(plan.param_slots, param_values):
            values += (slot, char, value)
    plan.backend.submit(plan.kernel, plan.gsize, plan.lsize, buffers, values, plan.preset, plan.items)
    return True


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
    signature = _signature(in_dtypes, kinds, out.dtype, compute, ndim, idx, params)
    if kernel is None:
        kernel = _build_elementwise(backend, key, name, expr, helpers, in_dtypes, kinds, out.dtype,
                                    compute, ndim, idx, params, vec, tile, signature)
    in_strides, k = [], 1
    for kind in kinds:
        in_strides.append(() if kind == "v" else strides[k] if kind == "t" else ())
        k += kind != "v"
    wg = backend.elementwise_wg if items >= 4 * backend.elementwise_wg else 64
    plan = ElementwisePlan(backend, kernel, compute, kinds, (n, *sizes), strides[0], tuple(in_strides),
                           (-(-items // wg) * wg,), (wg,), n)
    plan.prepare(signature.arg_dtypes)
    return plan


def _tiled_items(n, sizes, tile):
    """Work-items of the strided path: one per element, or one per tile x tile block of the two
    innermost dims (tile * tile consecutive elements when there is one dim)."""
    if not tile:
        return n
    if len(sizes) == 1:
        return -(-n // (tile * tile))
    return n // (sizes[-2] * sizes[-1]) * -(-sizes[-2] // tile) * -(-sizes[-1] // tile)


def _signature(in_dtypes, kinds, out_dtype, compute, ndim, idx, params) -> Signature:
    """The kernel's arguments: sizes, out, then per input its value or its tensor, then the params."""
    parts = [sg.sizes(idx, "n"), sg.dims(idx, "size", ndim), sg.tensor("out", out_dtype.c, idx, ndim, const=False)]
    for name, d, kind in zip("abcdefgh", in_dtypes, kinds):
        if kind == "v":
            parts.append(sg.scalar(f"{name}_val", compute))
        else:
            parts.append(sg.tensor(f"{name}_ptr", d.c, idx, ndim if kind == "t" else 0, offset=f"{name}_off",
                                   strides=[f"{name}_st{k}" for k in range(ndim if kind == "t" else 0)]))
    parts += [sg.param(p[0], p[1], compute) for p in params]
    return Signature(*parts)


def _build_elementwise(backend, key, name, expr, helpers, in_dtypes, kinds, out_dtype, compute, ndim, idx, params,
                       vec, tile, signature):
    kname = "ew_" + name
    T = compute.compute_c
    return codegen.kernel(backend, key, "elementwise.cl.mako", kname, {kname: signature},
                          expr=expr.replace("{T}", T), helpers=helpers.replace("{T}", T), in_dtypes=in_dtypes,
                          in_kinds=kinds, out_dtype=out_dtype, compute=compute, ndim=ndim, IDX=idx, params=params,
                          VEC=vec, TILE=tile)
