"""The elementwise op table. Each op is one row: name, arity, C expression, dtype rule,
backward rule (written in cltensor ops) and numpy reference. From a row come the function
(``cltensor.add``), the method (``Tensor.add``), the in-place form (``add_``), the operators,
the ``out=`` form, the autograd node (``AddBackward0``) and the tests' parametrisation.
"""
from __future__ import annotations

import builtins
import cmath
import dis
import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import launch
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import is_grad_enabled
from ..launch.elementwise import submit_prepared
from ..memory import Storage
from ..tensor import Tensor, register

# ---- dtype rules: (result_type of the inputs) -> (compute dtype, output dtype) ----------------


def PROMOTE(r):
    return r, r


def FLOAT(r):
    f = r if r.category >= dt.FLOAT else dt.get_default_dtype()
    return f, f


def real_valued(rule):
    """rule, except that a complex compute type gives its real part's type as the output (abs, angle)."""
    def complex_to_real(r):
        compute, out = rule(r)
        return (compute, compute.to_real()) if compute.is_complex else (compute, out)
    return complex_to_real


def TO_COMPLEX(r):
    """Two real parts in, one complex out (torch.complex, torch.polar): computed in the parts' type."""
    return r, r.to_complex()


def COMPARE(r):
    return r, dt.bool_


def INTEGRAL(r):
    if r.is_floating_point:
        raise NotImplementedError(f"the op is only implemented for integer and bool tensors, got {r!r} "
                                  f"(not implemented for '{r.torch_name}')")
    return r, r


def INTEGER_ONLY(r):
    if r.category != dt.INT:
        raise NotImplementedError(f"the op is only implemented for integer tensors, got {r!r} "
                                  f"(not implemented for '{r.torch_name}')")
    return r, r


def NO_BOOL(r):
    if r is dt.bool_:
        raise NotImplementedError("this op is not supported for bool tensors (not implemented for 'Bool'); "
                                  "use logical ops instead")
    return r, r


def FLOAT_ONLY(r):
    if not r.is_floating_point:
        raise NotImplementedError(f"this op is only implemented for floating point tensors, got {r!r} "
                                  f"(not implemented for '{r.torch_name}')")
    return r, r


@dataclass(eq=False)  # compared and hashed by identity: the plan cache keys on the row
class OpDef:
    name: str
    arity: int
    expr: object  # str, or {'float'|'int'|'bool': str}, or callable(compute dtype) -> str
    dtypes: Callable = PROMOTE
    vjp: Callable | tuple | None = None  # one rule for all inputs, or a tuple of one rule per input
    ref: Callable | None = None
    params: dict = field(default_factory=dict)  # keyword params: name -> (default, C type or 'T')
    helpers: object = ""  # C functions the expression calls, like expr (str or by category)
    method: bool = True
    inplace: bool = True
    operators: tuple = ()  # (plain, reflected, in-place), e.g. ("__add__", "__radd__", "__iadd__")
    domain: tuple = (-3.0, 3.0)  # input range for tests (numpy reference must be finite there)
    grad_fn: str = ""
    save: frozenset | None = None  # which inputs the backward reads (found from vjp's code)
    int_ok: bool = True  # accepts integer/bool inputs in tests
    check: Callable | None = None  # extra argument validation
    rules_by_need: dict | None = None  # per-input rules: which inputs need grad -> (vjp, save)
    defaults: dict | None = None  # the params of a call that passes none (shared, never modified)

    def c_expr(self, compute) -> str:
        return self._resolve(self.expr, compute)

    def c_helpers(self, compute) -> str:
        own = self._resolve(self.helpers, compute) if self.helpers else ""
        return complex_library(compute) + own if compute.is_complex else own

    @property
    def complex_ok(self) -> bool:
        """Whether the row computes on complex operands: its expr has a 'complex' entry."""
        return isinstance(self.expr, dict) and "complex" in self.expr

    @staticmethod
    def _resolve(e, compute) -> str:
        if callable(e):
            return e(compute)
        if isinstance(e, dict):
            if compute.is_complex:  # never a real expression on (re, im) pairs
                return e.get("complex", "")
            cat = {dt.FLOAT: "float", dt.INT: "int", dt.BOOL: "bool"}[compute.category]
            for key in (cat, "int" if cat == "bool" else "float", "float", "int"):
                if key in e:
                    return e[key]
        return e


OPS: dict = {}


def _saved_inputs(vjp, arity):
    """Which of vjp(g, out, a, b, ...) arguments its body reads: those are saved for backward."""
    if vjp is None:
        return frozenset()
    code = vjp.__code__
    names = code.co_varnames[:code.co_argcount]
    used = set()
    for ins in dis.get_instructions(vjp):
        if ins.opname.startswith("LOAD_"):
            vals = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
            used.update(v for v in vals if isinstance(v, str))
    used.update(code.co_cellvars)
    saved = {i for i, n in enumerate(names[2:2 + arity]) if n in used}
    if len(names) > 1 and names[1] in used:
        saved.add("out")
    return frozenset(saved)


def _rules_by_need(parts, arity) -> dict:
    """For per-input rules: for each pattern of inputs that need grad, a vjp computing only their
    gradients and the inputs it saves (PyTorch saves only what those gradients read: y = x / 2
    saves the divisor, not y, so writing into y afterwards leaves x's backward valid)."""

    def only(need):
        chosen = [p if n else None for p, n in zip(parts, need)]
        return lambda g, out, *xs, **kw: tuple(p(g, out, *xs, **kw) if p is not None else None for p in chosen)

    saves = [_saved_inputs(p, arity) for p in parts]
    return {need: (only(need), frozenset().union(*(s for s, n in zip(saves, need) if n)))
            for need in itertools.product((False, True), repeat=arity)}


def _no_gradient(g, out, *inputs, **params):
    return (g.new_zeros(g.shape),)


def backward_rule(op, inputs):
    """(vjp, save) of op for these inputs: per-input rules compute and save only what the inputs
    that require grad need."""
    if op.rules_by_need is None:
        return op.vjp, op.save
    return op.rules_by_need[tuple([isinstance(x, Tensor) and x.requires_grad for x in inputs])]


def defop(*args, **kwargs) -> OpDef:
    op = OpDef(*args, **kwargs)
    op.grad_fn = op.grad_fn or "".join(p.capitalize() for p in op.name.split("_")) + "Backward0"
    op.defaults = {k: default for k, (default, _) in op.params.items()}
    if isinstance(op.vjp, tuple):
        op.rules_by_need = _rules_by_need(op.vjp, op.arity)
        op.vjp, op.save = op.rules_by_need[(True,) * op.arity]
    else:
        op.save = _saved_inputs(op.vjp, op.arity)
    OPS[op.name] = op
    _install(op)
    return op


# ---- applying a row ------------------------------------------------------------------------
def _check_operand(x, op):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float, builtins.complex, np.number)):
        return x.item() if isinstance(x, np.number) else x
    raise TypeError(f"{op.name}(): argument must be a Tensor or a number, not {type(x).__name__}")


_SCALAR_TYPES = (int, float, bool, builtins.complex)


class _Plan:
    """What a call derives from its operands' dtypes, shapes, strides and devices: the result's
    dtype and layout and the elementwise launch plan, so a repeat call skips them. Kept in the
    backend's one bounded plan cache (launch.base.keep_plan), keyed by _plan_key."""

    __slots__ = ("device", "backend", "allocator", "host", "compute", "out_dtype", "shape", "strides", "nbytes",
                 "pool", "launch", "param_spec", "default_values", "tensor_positions")

    def __init__(self, op, device, compute, out_dtype, dest, launch_plan, param_values, params, inputs):
        self.device, self.backend, self.host = device, device.backend, device.is_host
        self.allocator = self.backend.allocator
        self.compute, self.out_dtype, self.launch = compute, out_dtype, launch_plan
        self.shape, self.strides, self.nbytes = dest._shape, dest._strides, dest._storage.nbytes
        self.pool = self.allocator.pool(self.nbytes, self.host)  # where the result's memory comes from
        self.param_spec = tuple((k, ctype) for k, (_, ctype) in op.params.items())
        # the launch values of the op's default parameters (x + y's alpha=1), converted once
        self.default_values = param_values if params is op.defaults else None
        # the inputs that autograd looks at (the others are numbers); none where the op has no gradient
        self.tensor_positions = tuple(i for i, x in enumerate(inputs) if isinstance(x, Tensor)) \
            if op.vjp is not None else ()

    def param_values(self, op, params):
        """The parameters' kernel arguments, in the op's order."""
        if params is op.defaults and self.default_values is not None:
            return self.default_values
        compute = self.compute
        return [launch.base.param_arg(ctype, params[k], compute) for k, ctype in self.param_spec]

    def run(self, op, inputs, params):
        """The call into a new tensor: the op's checks, the result's memory, the launch and, where an
        input requires grad, the autograd node."""
        if op.check is not None:
            op.check(inputs, self.compute, params)
        storage = Storage.allocate_from(self.backend, self.pool, self.nbytes, self.host)
        dest = Tensor._make(storage, self.shape, self.strides, 0, self.out_dtype, self.device)
        plan = self.launch
        if plan is not None:
            values = self.param_values(op, params) if self.param_spec else ()
            if not submit_prepared(plan, inputs, storage.buffer, values):
                launch.elementwise.run_planned(plan, inputs, dest, values)
        for i in self.tensor_positions:
            x = inputs[i]
            if x._requires_grad or x._view_version is not None and x.requires_grad:
                if is_grad_enabled():
                    vjp, save = backward_rule(op, inputs)
                    return graph.record(op.grad_fn, vjp, list(inputs), dest, params, save)
                break
        return dest


def _plan_key(op, inputs, out, inplace):
    """(key, backend): the plan cache key of this call (op, default float, per operand the dtype,
    shape, strides and device of a tensor or the type of a number, the destination) and the
    backend whose cache holds it; (None, None) for operands no plan describes."""
    key, backend = (op, dt._default_float), None  # get_default_dtype(), without the call
    for x in inputs:
        if isinstance(x, Tensor):
            key += (x.dtype, x._shape, x._strides, id(x.device))
            if backend is None:
                backend = x._storage.backend
        elif type(x) in _SCALAR_TYPES:
            key += (type(x),)
        else:
            return None, None
    if inplace:
        key += ("inplace",)
    elif out is not None:
        if not isinstance(out, Tensor):
            return None, None
        key += ("out", out.dtype, out._shape, out._strides, id(out.device))
    return key, backend


def _apply_planned_into(op, plan, inputs, params, dest):
    """An in-place or out= call from its plan; None where autograd is involved (the full path
    records the node or raises)."""
    tensors = [x for x in inputs if type(x) not in _SCALAR_TYPES]
    if is_grad_enabled():
        if dest.requires_grad or any([x.requires_grad for x in tensors]):
            return None
        check_inplace_allowed(dest)
    if op.check is not None:
        op.check(inputs, plan.compute, params)
    if any([x is not dest and x._storage is dest._storage for x in tensors]):
        _check_overlap(dest, inputs)
        if read_apart(dest, inputs) is not inputs:
            return None  # the full path launches on copies, whose layout the plan does not know
    if plan.launch is not None:
        launch.elementwise.run_planned(plan.launch, inputs, dest, plan.param_values(op, params) if plan.param_spec
                                       else ())
    dest._bump_version()
    return dest


def apply(op: OpDef, inputs, params=None, out=None, inplace=False):
    if params is None:
        params = op.defaults
    sig, backend = _plan_key(op, inputs, out, inplace)
    plan = backend.plans.get(sig) if backend is not None else None
    if plan is not None and not plan.backend.allocator.huge:
        if out is None and not inplace:
            return plan.run(op, inputs, params)
        done = _apply_planned_into(op, plan, inputs, params, inputs[0] if inplace else out)
        if done is not None:
            return done
    inputs = [_check_operand(x, op) for x in inputs]
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    if not tensors:
        raise TypeError(f"{op.name}(): expected at least one Tensor argument")
    moved = _cpu_scalars_to_device(inputs)
    if moved is not inputs:
        inputs, sig = moved, None  # no plan: the next call's cpu scalar must be moved again
        tensors = [x for x in inputs if isinstance(x, Tensor)]
    device = launch.base.common_device(tensors + ([out] if out is not None else []), op.name)
    common = dt.result_type(*inputs)
    if common.is_complex and not op.complex_ok:
        raise NotImplementedError(_no_complex_message(op.name, common))
    compute, out_dtype = op.dtypes(common)
    if inplace and compute.is_complex and not out_dtype.is_complex:
        raise RuntimeError(f"In-place {op.name} is not supported for complex tensors.")
    if op.check is not None:
        op.check(inputs, compute, params)
    shape = launch.strides.broadcast_shapes(*(t._shape for t in tensors))
    tracking = is_grad_enabled() and any(t.requires_grad for t in tensors) and (
        op.vjp is not None or (inplace and inputs[0].requires_grad))
    original = None
    vjp, save = backward_rule(op, inputs) if tracking else (None, None)
    if tracking and vjp is None:  # x.lt_(0) on a tensor with history: its values no longer depend on it
        vjp, save = _no_gradient, frozenset()
    if inplace:
        dest = inputs[0]
        _check_writable(dest, shape, out_dtype, op, inputs)
        if tracking and 0 in save:
            original = dest.clone()  # the backward rule reads self's value from before the op
    elif out is not None:
        _check_writable(out, shape, out_dtype, op, inputs, is_out=True)
        if tracking:
            raise RuntimeError(f"{op.name}(): functions with out=... arguments don't support automatic "
                               "differentiation, but one of the arguments requires grad.")
        dest = out
    else:
        dest = launch.base.empty(shape, out_dtype, device)
    cparams = tuple((k, op.params[k][1], launch.base.param_arg(op.params[k][1], params[k], compute))
                    for k in op.params)
    apart = read_apart(dest, inputs)
    if apart is not inputs:
        sig = None  # a plan for these copies would not fit the next call's inputs
    # made here, not looked up: the op's own plan (cached below) is the one a repeat call finds
    plan = launch.elementwise.make_elementwise_plan(op.name, op.c_expr(compute), apart, dest, compute, cparams,
                                                    op.c_helpers(compute))
    if plan is not None:
        launch.elementwise.run_elementwise(plan, apart, dest, compute, cparams)
    if sig is not None:
        values = [p[2] for p in cparams]
        launch.base.keep_plan(device.backend, sig, _Plan(op, device, compute, out_dtype, dest, plan, values, params, inputs))
    if inplace or out is not None:
        dest._bump_version()
    if not tracking:
        return dest
    if inplace:
        recorded = [original if i == 0 and original is not None else x for i, x in enumerate(inputs)]
        return graph.record_inplace(op.grad_fn, vjp, recorded, dest, params, save)
    return graph.record(op.grad_fn, vjp, inputs, dest, params, save)


def _cpu_scalars_to_device(inputs):
    """inputs, with 0-d cpu tensors copied to the one device the other tensors are on: PyTorch
    lets a 0-d cpu tensor join an op on another device (its value is read like a scalar's)."""
    others = [x.device for x in inputs if isinstance(x, Tensor) and (x.dim() or not x.device.is_host)]
    if not others or any(d is not others[0] for d in others) or others[0].is_host:
        return inputs
    device = others[0]
    if not any(isinstance(x, Tensor) and x.device is not device for x in inputs):
        return inputs
    return [x.to(device) if isinstance(x, Tensor) and x.device is not device else x for x in inputs]


def _check_writable(out, shape, out_dtype, op, inputs, is_out=False):
    if is_out and tuple(out._shape) != tuple(shape) and not any(x is out for x in inputs):
        launch.base.resize_out(out, shape)
    if tuple(out._shape) != tuple(shape):
        what = "output" if not is_out else "out="
        raise RuntimeError(f"{what} with shape {list(out._shape)} doesn't match the broadcast shape {list(shape)}")
    if not dt.can_cast(out_dtype, out.dtype):
        raise RuntimeError(f"result type {out_dtype.torch_name} can't be cast to the desired output type "
                           f"{out.dtype.torch_name}")
    check_inplace_allowed(out)
    _check_overlap(out, inputs)


def check_inplace_allowed(out):
    if not is_grad_enabled():
        return
    if out.requires_grad and out.is_leaf:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    base = out._base if out._view_version is not None else None  # detach() aliases are not views
    if base is not None and base.requires_grad and base.is_leaf:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")


def _check_overlap(out, inputs):
    if any(s == 0 and n > 1 for s, n in zip(out._strides, out._shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")
    for x in inputs:
        if (isinstance(x, Tensor) and x is not out and x._storage is out._storage and x.numel() > 1
                and (x._offset, x._strides, x._shape) != (out._offset, out._strides, out._shape)
                and _dense(x) and _dense(out)  # else "too hard" for PyTorch: allowed
                and _ranges_overlap(x, out)):
            raise RuntimeError("unsupported operation: some elements of the input tensor and the written-to tensor "
                               "refer to a single memory location. Please clone() the tensor before performing "
                               "the operation.")


def read_apart(out, inputs):
    """inputs, with a copy in place of each one that shares memory with out in a way PyTorch calls
    too hard to tell (neither is dense, e.g. x[:, 1:] += x[:, :-1]): a kernel writing out while
    other work-items read the input would race, so it reads the copy, as if all reads came first."""
    if not any(isinstance(x, Tensor) and x is not out and x._storage is out._storage for x in inputs):
        return inputs
    apart = [x.detach().clone() if isinstance(x, Tensor) and x is not out and x._storage is out._storage
            and (x._offset, x._strides, x._shape) != (out._offset, out._strides, out._shape)
            and _ranges_overlap(x, out) else x for x in inputs]
    return inputs if all(a is x for a, x in zip(apart, inputs)) else apart


def _dense(t):
    """Whether t's elements fill a block of memory once each, in some order of its dims (a
    transposed contiguous tensor is dense): where PyTorch can tell partial overlap apart."""
    expected = 1
    for stride, size in sorted((s, n) for s, n in zip(t._strides, t._shape) if n != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def _ranges_overlap(a, b):
    def span(t):
        lo = t._offset + sum((n - 1) * s for n, s in zip(t._shape, t._strides) if s < 0)
        hi = t._offset + sum((n - 1) * s for n, s in zip(t._shape, t._strides) if s > 0)
        return lo, hi
    (alo, ahi), (blo, bhi) = span(a), span(b)
    return alo <= bhi and blo <= ahi


# ---- generating functions, methods, in-place forms and operators from a row -------------------
def _split_args(op, args, kwargs, fname):
    if len(args) > op.arity:
        extra = list(op.params)[: len(args) - op.arity]
        if len(args) - op.arity > len(op.params):
            raise TypeError(f"{fname}() takes {op.arity} positional arguments but {len(args)} were given")
        kwargs = dict(kwargs, **dict(zip(extra, args[op.arity:])))
        args = args[:op.arity]
    if len(args) < op.arity:
        raise TypeError(f"{fname}() missing {op.arity - len(args)} required positional argument(s)")
    params = {}
    for k, v in kwargs.items():
        if k not in op.params:
            raise TypeError(f"{fname}() got an unexpected keyword argument '{k}'")
        params[k] = v
    for k, (default, _) in op.params.items():
        params.setdefault(k, default)
    return args, params


def _install(op: OpDef):
    name, arity, defaults = op.name, op.arity, op.defaults

    def function(*args, out=None, **kwargs):
        if kwargs or len(args) != arity:
            args, params = _split_args(op, args, kwargs, name)
            return apply(op, args, params, out=out)
        return apply(op, args, defaults, out=out)

    def inplace_method(self, *args, **kwargs):
        if kwargs or len(args) != arity - 1:
            args, params = _split_args(op, (self, *args), kwargs, name + "_")
            return apply(op, args, params, inplace=True)
        return apply(op, (self, *args), defaults, inplace=True)

    function.__name__ = name
    function.__doc__ = f"Elementwise {name} (a row of the op table in cltensor/ops/elementwise.py)."
    globals()[name] = function
    if op.method:
        register(name, lambda self, *a, **k: function(self, *a, **k))
        if op.inplace:
            register(name + "_", inplace_method)
    plain, reflected, inplace = (tuple(op.operators) + (None, None, None))[:3]
    if plain:
        register(plain, _operator(op, function))
    if reflected:
        register(reflected, lambda self, other: apply(op, (other, self), defaults)
                 if isinstance(other, _OPERAND_TYPES) else NotImplemented)
    if inplace:
        register(inplace, lambda self, other: apply(op, (self, other), defaults, inplace=True) if _operand_ok(other)
                 else NotImplemented)


def _operator(op, function):
    """The plain operator (x + y, -x): straight to apply with the default params."""
    defaults = op.defaults
    if op.arity == 1:
        return lambda self: apply(op, (self,), defaults)

    def operator(self, other, *more):  # more: pow(x, y, modulo) passes a third
        if not more and isinstance(other, _OPERAND_TYPES):
            return apply(op, (self, other), defaults)
        return function(self, other, *more) if all(_operand_ok(o) for o in (other, *more)) else NotImplemented
    return operator


_OPERAND_TYPES = (Tensor, bool, int, float, builtins.complex, np.number)


def _operand_ok(x):
    return isinstance(x, _OPERAND_TYPES)


# ---- C helpers used by expressions ({T} is the compute type) ----------------------------------
FLOOR_DIV_FLOAT = """
inline {T} floor_div_{T}({T} a, {T} b) {
    if (b == 0) return a / b;
    {T} m = fmod(a, b);
    {T} d = (a - m) / b;
    if (m != 0 && ((b < 0) != (m < 0))) d -= 1;
    {T} f;
    if (d != 0) { f = floor(d); if (d - f > ({T})0.5) f += 1; }
    else f = copysign(({T})0, a / b);
    return f;
}
"""
# NOTE: MIN / -1 overflows in C and traps on x86 (SIGFPE, which PoCL's own handler used to swallow when
# it was installed after Python's faulthandler); PyTorch wraps it to MIN, the negation in unsigned arithmetic.
SIGNED_DIV = """
inline {T} div_{T}({T} a, {T} b) { return (b == -1) ? ({T})(0UL - (ulong)a) : a / b; }
"""
UNSIGNED_DIV = """
inline {T} div_{T}({T} a, {T} b) { return a / b; }
"""


def _div_helper(d):
    return "" if d.is_floating_point else SIGNED_DIV if d.signed else UNSIGNED_DIV


FLOOR_DIV_INT = """
inline {T} floor_div_{T}({T} a, {T} b) {
    {T} q = div_{T}(a, b);
    return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
}
"""
REM_FLOAT = """
inline {T} rem_{T}({T} a, {T} b) {
    {T} m = fmod(a, b);
    return (m != 0 && ((b < 0) != (m < 0))) ? m + b : m;
}
"""
REM_INT = """
inline {T} rem_{T}({T} a, {T} b) {
    {T} m = {MOD};
    return (m != 0 && ((b < 0) != (m < 0))) ? m + b : m;
}
"""
POW_INT = """
inline {T} ipow_{T}({T} a, {T} b) {
    if (b < 0) return (a == 1) ? 1 : (a == -1) ? ((b & 1) ? -1 : 1) : 0;
    {T} r = 1;
    while (b) { if (b & 1) r *= a; a *= a; b >>= 1; }
    return r;
}
"""
# NOTE: the width is compared in T: Mesa 22.3's llvmpipe (rusticl) miscompiles a comparison of an int widened
# to long with a constant ((long)b < 0L is false for b = -1), which made every int32 shift return 0 there
SHIFT = """
inline {T} shl_{T}({T} a, {T} b) { return (b < 0 || b >= ({T})(8 * sizeof({T}))) ? 0 : ({T})(a << b); }
inline {T} shr_{T}({T} a, {T} b) {
    return (b < 0 || b >= ({T})(8 * sizeof({T}))) ? ((a < 0) ? -1 : 0) : ({T})(a >> b);
}
"""
SIGN = "(T)((a > 0) - (a < 0))"


def _by_cat(float_expr, int_expr):
    return {"float": float_expr, "int": int_expr}


def _int_mod(d):
    """a % b in C; NOTE: MIN % -1 overflows in C (and traps on x86) where PyTorch gives 0."""
    return "((b == -1) ? 0 : a % b)" if d.signed else "a % b"


def _int_pow_check(inputs, compute, params):
    """PyTorch refuses an integer tensor to a negative Python integer power (a tensor of
    exponents is not checked, as in PyTorch)."""
    b = inputs[1]
    if compute.category != dt.FLOAT and isinstance(b, int) and not isinstance(b, bool) and b < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")


def _int_div_check(inputs, compute, params):
    """PyTorch raises ZeroDivisionError for integer division by zero (checked on the host)."""
    if compute.category == dt.FLOAT or any(isinstance(x, Tensor) and x.numel() == 0 for x in inputs):
        return  # nothing is divided in an empty result
    b = inputs[1]
    zero = (b == 0) if not isinstance(b, Tensor) else bool(b.eq(0).any())
    if zero:
        raise RuntimeError("ZeroDivisionError")


def _alpha_check(inputs, compute, params):
    alpha = params.get("alpha", 1)
    if compute.category != dt.FLOAT and isinstance(alpha, float):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    if compute is dt.bool_ and alpha not in (0, 1, True, False):
        raise RuntimeError("Boolean alpha only supported for Boolean results.")


def _no_derivative(name):
    raise RuntimeError(f"derivative for aten::{name} is not implemented")


def _no_bool_sub(inputs, compute, params):
    _alpha_check(inputs, compute, params)
    if all((isinstance(x, Tensor) and x.dtype is dt.bool_) or isinstance(x, bool) for x in inputs):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if any((isinstance(x, Tensor) and x.dtype is dt.bool_) or isinstance(x, bool) for x in inputs):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")


def _no_bool_neg(inputs, compute, params):
    if inputs[0].dtype is dt.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")


def _lerp_check(inputs, compute, params):
    """PyTorch does not promote lerp's operands: end and a weight tensor must have input's dtype."""
    for name, x in zip(("end", "weight"), inputs[1:]):
        if isinstance(x, Tensor) and x.dtype is not inputs[0].dtype:
            raise RuntimeError(f"expected dtype {inputs[0].dtype.torch_name.lower()} for `{name}` but got dtype "
                               f"{x.dtype.torch_name.lower()}")


# ---- complex: (re, im) pairs as float2/double2; T the pair type, R its parts' type -------------------
# Division scales by the larger part of the divisor and tanh switches to its limit for large |re|, as
# c10::complex does, so that neither overflows where the result is finite.
_COMPLEX_LIBRARY = """
inline T cmul(T a, T b) { return (T)(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
inline T cdiv(T a, T b) {
    const R ac = fabs(b.x), ad = fabs(b.y);
    if (ac >= ad) {
        if (ac == 0 && ad == 0) return (T)(a.x / ac, a.y / ad);
        const R rat = b.y / b.x, scl = (R)1 / (b.x + b.y * rat);
        return (T)((a.x + a.y * rat) * scl, (a.y - a.x * rat) * scl);
    }
    const R rat = b.x / b.y, scl = (R)1 / (b.y + b.x * rat);
    return (T)((a.x * rat + a.y) * scl, (a.y * rat - a.x) * scl);
}
inline R cabs_(T a) { return hypot(a.x, a.y); }
inline T cexp_(T a) {
    const R e = exp(a.x);
    return (a.y == 0) ? (T)(e, a.y) : (T)(e * cos(a.y), e * sin(a.y));
}
inline T clog_(T a) { return (T)(log(hypot(a.x, a.y)), atan2(a.y, a.x)); }
inline T csqrt_(T a) {
    const R r = hypot(a.x, a.y);
    if (r == 0) return (T)(0, a.y);
    if (isinf(a.y)) return (T)(INFINITY, a.y);
    const R t = sqrt((fabs(a.x) + r) * (R)0.5);
    return (a.x >= 0) ? (T)(t, a.y / (2 * t)) : (T)(fabs(a.y) / (2 * t), copysign(t, a.y));
}
inline T csin_(T a) { return (T)(sin(a.x) * cosh(a.y), cos(a.x) * sinh(a.y)); }
inline T ccos_(T a) { return (T)(cos(a.x) * cosh(a.y), -sin(a.x) * sinh(a.y)); }
inline T ctanh_(T a) {
    if (fabs(a.x) > (R)20) return (T)(copysign((R)1, a.x), copysign((R)0, sin(2 * a.y)));
    const R d = cosh(2 * a.x) + cos(2 * a.y);
    return (T)(sinh(2 * a.x) / d, sin(2 * a.y) / d);
}
inline T cpow_(T a, T b) {
    if (b.y == 0 && b.x == 2) return cmul(a, a);
    if (b.y == 0 && b.x == 1) return a;
    if (a.x == 0 && a.y == 0) {
        if (b.x == 0 && b.y == 0) return (T)(1, 0);
        if (b.y == 0 && b.x > 0) return (T)(0, 0);
    }
    return cexp_(cmul(b, clog_(a)));
}
"""


def complex_library(compute) -> str:
    """The C helpers every complex expression may call (cmul, cdiv, cexp_...), for compute's pair type."""
    return (f"#define T {compute.c}\n#define R {compute.to_real().c}\n" + _COMPLEX_LIBRARY
            + "#undef T\n#undef R\n")


_NO_COMPLEX = {  # PyTorch's own words where they are not the generic "... not implemented for"
    "floor": "floor is not supported for complex inputs", "ceil": "ceil is not supported for complex inputs",
    "trunc": "trunc is not supported for complex inputs", "round": "round is not supported for complex inputs",
    "sign": "Unlike NumPy, torch.sign is not intended to support complex numbers. Please use torch.sgn instead.",
    "relu": "clamp is not supported for complex types", "_clamp": "clamp is not supported for complex types",
    "_clamp_min": "clamp is not supported for complex types", "_clamp_max": "clamp is not supported for complex types",
    "maximum": "maximum not implemented for complex tensors.", "minimum": "minimum not implemented for complex tensors.",
}


def _no_complex_message(name, d):
    return _NO_COMPLEX.get(name, f'"{name.lstrip("_")}_cpu" not implemented for \'{d.torch_name}\'')


def _with_complex(expr, complex_expr):
    """A row's expression by category, plus its expression on complex pairs."""
    table = dict(expr) if isinstance(expr, dict) else {"float": expr, "int": expr}
    table["complex"] = complex_expr
    return table


def _cj(x):
    """conj(x) for a complex tensor or number, x itself otherwise: backward rules multiply by the
    conjugate of the derivative (PyTorch's convention: the gradient of a real loss is dL/dre + i dL/dim)."""
    if isinstance(x, Tensor):
        return x.conj_physical() if x.dtype.is_complex else x
    return x.conjugate() if isinstance(x, builtins.complex) else x


LN2, LN10 = math.log(2.0), math.log(10.0)
zero_grad = lambda g, out, a: g.new_zeros(g.shape)  # noqa: E731  (floor, ceil, round...; not g * 0: NaN * 0)


# ---- the table -------------------------------------------------------------------------------
U, B, TERN = 1, 2, 3
defop("abs", U, _with_complex(_by_cat("fabs(a)", "(T)(a < 0 ? -a : a)"), "cabs_(a)"), real_valued(NO_BOOL),
      vjp=lambda g, out, a: g * (a.sgn() if a.dtype.is_complex else a.sign()), ref=np.abs,
      operators=("__abs__",))
defop("neg", U, _with_complex("-a", "-a"), vjp=lambda g, out, a: -g, ref=np.negative, operators=("__neg__",), check=_no_bool_neg)
defop("exp", U, _with_complex("exp(a)", "cexp_(a)"), FLOAT, vjp=lambda g, out, a: g * _cj(out), ref=np.exp)
defop("exp2", U, "exp2(a)", FLOAT, vjp=lambda g, out, a: g * out * LN2, ref=np.exp2)
defop("expm1", U, "expm1(a)", FLOAT, vjp=lambda g, out, a: g * (out + 1), ref=np.expm1)
defop("log", U, _with_complex("log(a)", "clog_(a)"), FLOAT, vjp=lambda g, out, a: g / _cj(a), ref=np.log,
      domain=(0.1, 5.0))
defop("log2", U, "log2(a)", FLOAT, vjp=lambda g, out, a: g / (a * LN2), ref=np.log2, domain=(0.1, 5.0))
defop("log10", U, "log10(a)", FLOAT, vjp=lambda g, out, a: g / (a * LN10), ref=np.log10, domain=(0.1, 5.0))
defop("log1p", U, "log1p(a)", FLOAT, vjp=lambda g, out, a: g / (a + 1), ref=np.log1p, domain=(-0.5, 5.0))
defop("sqrt", U, _with_complex("sqrt(a)", "csqrt_(a)"), FLOAT, vjp=lambda g, out, a: g / (2 * _cj(out)), ref=np.sqrt,
      domain=(0.1, 5.0))
defop("rsqrt", U, "rsqrt(a)", FLOAT, vjp=lambda g, out, a: g * (-0.5) * out * out * out,
      ref=lambda x: 1 / np.sqrt(x), domain=(0.1, 5.0))
defop("sin", U, _with_complex("sin(a)", "csin_(a)"), FLOAT, vjp=lambda g, out, a: g * _cj(a.cos()), ref=np.sin)
defop("cos", U, _with_complex("cos(a)", "ccos_(a)"), FLOAT, vjp=lambda g, out, a: -g * _cj(a.sin()), ref=np.cos)
defop("tan", U, "tan(a)", FLOAT, vjp=lambda g, out, a: g * (1 + out * out), ref=np.tan, domain=(-1.2, 1.2))
defop("asin", U, "asin(a)", FLOAT, vjp=lambda g, out, a: g * (1 - a * a).rsqrt(), ref=np.arcsin,
      domain=(-0.9, 0.9))
defop("acos", U, "acos(a)", FLOAT, vjp=lambda g, out, a: -g * (1 - a * a).rsqrt(), ref=np.arccos,
      domain=(-0.9, 0.9))
defop("atan", U, "atan(a)", FLOAT, vjp=lambda g, out, a: g / (1 + a * a), ref=np.arctan)
defop("sinh", U, "sinh(a)", FLOAT, vjp=lambda g, out, a: g * a.cosh(), ref=np.sinh)
defop("cosh", U, "cosh(a)", FLOAT, vjp=lambda g, out, a: g * a.sinh(), ref=np.cosh)
defop("tanh", U, _with_complex("tanh(a)", "ctanh_(a)"), FLOAT, vjp=lambda g, out, a: g * _cj(1 - out * out),
      ref=np.tanh)
defop("asinh", U, "asinh(a)", FLOAT, vjp=lambda g, out, a: g * (a * a + 1).rsqrt(), ref=np.arcsinh)
defop("acosh", U, "acosh(a)", FLOAT, vjp=lambda g, out, a: g * (a * a - 1).rsqrt(), ref=np.arccosh,
      domain=(1.1, 5.0))
defop("atanh", U, "atanh(a)", FLOAT, vjp=lambda g, out, a: g / (1 - a * a), ref=np.arctanh, domain=(-0.9, 0.9))
defop("sigmoid", U, _with_complex("(T)1 / ((T)1 + exp(-a))", "cdiv((T)(1, 0), (T)(1, 0) + cexp_(-a))"), FLOAT,
      vjp=lambda g, out, a: g * out * (1 - out) if not out.dtype.is_complex else g * _cj(out * (1 - out)),
      ref=lambda x: 1 / (1 + np.exp(-x)))
# NOTE: integers through max(): the select form on char crashes LLVM 15's x86 back end (SelectionDAG type
# legalisation) when Mesa llvmpipe vectorises the kernel across work-items (rusticl, Mesa 22.3)
defop("relu", U, _by_cat("a < (T)0 ? (T)0 : a", "max(a, (T)0)"), NO_BOOL, vjp=lambda g, out, a: g.where(out > 0, 0.0),
      ref=lambda x: np.maximum(x, 0).astype(x.dtype))
defop("erf", U, "erf(a)", FLOAT, vjp=lambda g, out, a: g * (2 / math.sqrt(math.pi)) * (-(a * a)).exp(),
      ref="erf")
defop("erfc", U, "erfc(a)", FLOAT, vjp=lambda g, out, a: g * (-2 / math.sqrt(math.pi)) * (-(a * a)).exp(),
      ref="erfc")
defop("floor", U, _by_cat("floor(a)", "a"), NO_BOOL, vjp=zero_grad, ref=np.floor)
defop("ceil", U, _by_cat("ceil(a)", "a"), NO_BOOL, vjp=zero_grad, ref=np.ceil)
defop("round", U, _by_cat("rint(a)", "a"), NO_BOOL, vjp=zero_grad, ref=np.round)
defop("trunc", U, _by_cat("trunc(a)", "a"), NO_BOOL, vjp=zero_grad, ref=np.trunc)
defop("frac", U, "a - trunc(a)", FLOAT_ONLY, vjp=lambda g, out, a: g, ref=lambda x: x - np.trunc(x), int_ok=False)
defop("sign", U, _by_cat("isnan(a) ? (T)0 : " + SIGN, SIGN), vjp=zero_grad,
      ref=lambda x: x if x.dtype == np.bool_ else np.nan_to_num(np.sign(x)).astype(x.dtype))
defop("reciprocal", U, _with_complex("(T)1 / a", "cdiv((T)(1, 0), a)"), FLOAT,
      vjp=lambda g, out, a: -g * out * out if not out.dtype.is_complex else -g * _cj(out * out), ref=np.reciprocal,
      domain=(0.2, 3.0))
defop("square", U, _with_complex("a * a", "cmul(a, a)"), lambda r: (dt.int64, dt.int64) if r is dt.bool_ else (r, r), vjp=lambda g, out, a: g * 2 * _cj(a), ref=np.square)
defop("logical_not", U, "a == 0", COMPARE, ref=np.logical_not)
defop("bitwise_not", U, {"bool": "!a", "int": "~a"}, INTEGRAL, ref=np.invert, operators=("__invert__",))
defop("isnan", U, _with_complex(_by_cat("isnan(a)", "0"), "any(isnan(a))"), COMPARE, ref=np.isnan, inplace=False)
defop("isinf", U, _with_complex(_by_cat("isinf(a)", "0"), "any(isinf(a))"), COMPARE, ref=np.isinf, inplace=False)
defop("isfinite", U, _with_complex(_by_cat("isfinite(a)", "1"), "all(isfinite(a))"), COMPARE, ref=np.isfinite,
      inplace=False)
defop("isposinf", U, _by_cat("isinf(a) && a > 0", "0"), COMPARE, ref=np.isposinf, inplace=False)
defop("isneginf", U, _by_cat("isinf(a) && a < 0", "0"), COMPARE, ref=np.isneginf, inplace=False)
defop("signbit", U, _by_cat("signbit(a)", "a < 0"), COMPARE, ref=np.signbit, inplace=False)
defop("_nan_to_num", U, _by_cat("isnan(a) ? nan : isinf(a) ? (a > 0 ? posinf : neginf) : a", "a"),
      vjp=lambda g, out, a, **p: g * a.isfinite(),
      params={"nan": (0.0, "T"), "posinf": (0.0, "T"), "neginf": (0.0, "T")}, method=False, grad_fn="NanToNumBackward0")

defop("add", B, _with_complex("a + alpha * b", "a + cmul(alpha, b)"),
      vjp=lambda g, out, a, b, alpha: (g, g * _cj(alpha) if alpha != 1 else g),
      ref=np.add, params={"alpha": (1, "T")}, operators=("__add__", "__radd__", "__iadd__"), check=_alpha_check)
defop("sub", B, _with_complex("a - alpha * b", "a - cmul(alpha, b)"),
      vjp=lambda g, out, a, b, alpha: (g, -g * _cj(alpha) if alpha != 1 else -g),
      grad_fn=lambda ins: "SubBackward0" if isinstance(ins[0], Tensor) else "RsubBackward1",  # 1 - t
      ref=np.subtract, params={"alpha": (1, "T")}, operators=("__sub__", "__rsub__", "__isub__"),
      check=_no_bool_sub)
defop("mul", B, _with_complex("a * b", "cmul(a, b)"), vjp=(lambda g, out, a, b: g * _cj(b), lambda g, out, a, b: g * _cj(a)),
      ref=np.multiply,
      operators=("__mul__", "__rmul__", "__imul__"))
defop("true_divide", B, _with_complex("a / b", "cdiv(a, b)"), FLOAT,
      vjp=(lambda g, out, a, b: g / _cj(b), lambda g, out, a, b: -g * _cj(a) / _cj(b * b)),
      ref=np.true_divide,
      operators=("__truediv__", "__rtruediv__", "__itruediv__"), grad_fn="DivBackward0")
defop("_div_trunc", B, _by_cat("trunc(a / b)", "div_{T}(a, b)"), NO_BOOL, vjp=lambda g, out, a, b: (g * 0, g * 0),
      ref=lambda a, b: np.trunc(a / b), method=False, check=_int_div_check, grad_fn="DivBackward2",
      helpers=_div_helper)
defop("floor_divide", B, lambda d: f"floor_div_{d.compute_c}(a, b)", NO_BOOL,
      vjp=lambda g, out, a, b: _no_derivative("floor_divide"), ref=np.floor_divide,
      helpers=lambda d: FLOOR_DIV_FLOAT if d.is_floating_point else _div_helper(d) + FLOOR_DIV_INT, check=_int_div_check, operators=("__floordiv__", "__rfloordiv__", "__ifloordiv__"))
defop("remainder", B, lambda d: f"rem_{d.compute_c}(a, b)", NO_BOOL,
      vjp=(lambda g, out, a, b: g, lambda g, out, a, b: -g * globals()["floor_divide"](a, b)), ref=np.remainder,
      helpers=lambda d: REM_FLOAT if d.is_floating_point else REM_INT.replace("{MOD}", _int_mod(d)),
      check=_int_div_check, operators=("__mod__", "__rmod__", "__imod__"))
defop("fmod", B, lambda d: "fmod(a, b)" if d.is_floating_point else _int_mod(d), NO_BOOL,
      vjp=(lambda g, out, a, b: g, lambda g, out, a, b: -g * (a / b).trunc()),
      ref=np.fmod, check=_int_div_check)
defop("pow", B, _with_complex(_by_cat("(b == (T)2) ? a * a : pow(a, b)", "ipow_{T}(a, b)"), "cpow_(a, b)"), NO_BOOL,
      vjp=lambda g, out, a, b: _pow_vjp(g, out, a, b), ref=np.power, helpers=_by_cat("", POW_INT),
      grad_fn=lambda ins: "PowBackward" + ("0" if not isinstance(ins[1], Tensor) else
                                           "1" if isinstance(ins[0], Tensor) else "2"),
      operators=("__pow__", "__rpow__", "__ipow__"), domain=(0.5, 2.0), check=_int_pow_check)
defop("atan2", B, "atan2(a, b)", FLOAT, vjp=lambda g, out, a, b: _atan2_vjp(g, a, b), ref=np.arctan2,
      operators=(), grad_fn="Atan2Backward0")
# NaN tests only where a NaN can be: on integers `a != a` is a self-comparison clang warns about
defop("maximum", B, _by_cat("(a > b || a != a) ? a : b", "(a > b) ? a : b"), vjp=lambda g, out, a, b: _minmax_vjp(g, a, b, 1),
      ref=np.maximum, inplace=False)
defop("minimum", B, _by_cat("(a < b || a != a) ? a : b", "(a < b) ? a : b"), vjp=lambda g, out, a, b: _minmax_vjp(g, a, b, -1),
      ref=np.minimum, inplace=False)
defop("fmax", B, _by_cat("(a > b || b != b) ? a : b", "(a > b) ? a : b"), vjp=lambda g, out, a, b: _fminmax_vjp(g, a, b, 1), ref=np.fmax,
      inplace=False)
defop("fmin", B, _by_cat("(a < b || b != b) ? a : b", "(a < b) ? a : b"), vjp=lambda g, out, a, b: _fminmax_vjp(g, a, b, -1), ref=np.fmin,
      inplace=False)
defop("eq", B, _with_complex("a == b", "all(a == b)"), COMPARE, ref=np.equal, operators=("__eq__",))
defop("ne", B, _with_complex("a != b", "any(a != b)"), COMPARE, ref=np.not_equal, operators=("__ne__",))
defop("lt", B, "a < b", COMPARE, ref=np.less, operators=("__lt__",))
defop("le", B, "a <= b", COMPARE, ref=np.less_equal, operators=("__le__",))
defop("gt", B, "a > b", COMPARE, ref=np.greater, operators=("__gt__",))
defop("ge", B, "a >= b", COMPARE, ref=np.greater_equal, operators=("__ge__",))
defop("logical_and", B, "(a != 0) && (b != 0)", COMPARE, ref=np.logical_and)
defop("logical_or", B, "(a != 0) || (b != 0)", COMPARE, ref=np.logical_or)
defop("logical_xor", B, "(a != 0) != (b != 0)", COMPARE, ref=np.logical_xor)
defop("bitwise_and", B, "a & b", INTEGRAL, ref=np.bitwise_and, operators=("__and__", "__rand__", "__iand__"))
defop("bitwise_or", B, "a | b", INTEGRAL, ref=np.bitwise_or, operators=("__or__", "__ror__", "__ior__"))
defop("bitwise_xor", B, "a ^ b", INTEGRAL, ref=np.bitwise_xor, operators=("__xor__", "__rxor__", "__ixor__"))
defop("bitwise_left_shift", B, lambda d: f"shl_{d.compute_c}(a, b)", INTEGER_ONLY, ref=np.left_shift,
      helpers=SHIFT, operators=("__lshift__", "__rlshift__", "__ilshift__"))
defop("bitwise_right_shift", B, lambda d: f"shr_{d.compute_c}(a, b)", INTEGER_ONLY, ref=np.right_shift,
      helpers=SHIFT, operators=("__rshift__", "__rrshift__", "__irshift__"))
defop("hypot", B, "hypot(a, b)", FLOAT_ONLY, vjp=lambda g, out, a, b: (g * a / out, g * b / out), ref=np.hypot,
      int_ok=False)
defop("copysign", B, "copysign(a, b)", FLOAT, vjp=lambda g, out, a, b: (_copysign_vjp(g, out, a), None),
      ref=np.copysign)
def _isclose_expr(d):
    if d.is_floating_point:
        return ("a == b || (equal_nan && isnan(a) && isnan(b)) || "
                "(isfinite(a) && isfinite(b) && fabs(a - b) <= (T)atol + (T)rtol * fabs(b))")
    # NOTE: |a - b| as an unsigned difference, exact: in T it overflows (isclose(INT_MAX, INT_MIN) was true);
    # no double either (devices without cl_khr_fp64 cannot compile it): tolerances in float, as PyTorch's
    unsigned = d.c if d.c.startswith("u") else "u" + d.c
    return (f"a == b || (float)(a > b ? ({unsigned})a - ({unsigned})b : ({unsigned})b - ({unsigned})a) <= "
            "atol + rtol * fabs((float)b)")


defop("_isclose", B, _isclose_expr, COMPARE, method=False,
      params={"rtol": (1e-5, "real"), "atol": (1e-8, "real"), "equal_nan": (0, "int")})

defop("where", TERN, _with_complex("(a != 0) ? b : c", "(a.x != 0) ? b : c"), vjp=lambda g, out, c, a, b: (None, g.where(c, 0.0), g.where(c == 0, 0.0)),
      ref=np.where, method=False, inplace=False, grad_fn="WhereBackward0")
# NOTE: a NaN bound gives NaN, as in PyTorch (b != b: a NaN test, floats only)
defop("_clamp", TERN, _by_cat("(((a < b || b != b) ? b : a) > c || c != c) ? c : ((a < b || b != b) ? b : a)",
                              "((a < b) ? b : a) > c ? c : ((a < b) ? b : a)"),
      vjp=lambda g, out, a, lo, hi: _clamp_vjp(g, a, lo, hi),
      ref=lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), method=False, grad_fn="ClampBackward1")
defop("_clamp_min", B, _by_cat("(a < b || b != b) ? b : a", "(a < b) ? b : a"),
      vjp=lambda g, out, a, lo: _clamp_vjp(g, a, lo, None),
      ref=lambda x, lo: np.maximum(x, lo), method=False, grad_fn="ClampBackward1")
defop("_clamp_max", B, _by_cat("(a > b || b != b) ? b : a", "(a > b) ? b : a"),
      vjp=lambda g, out, a, hi: _clamp_vjp(g, a, None, hi),
      ref=lambda x, hi: np.minimum(x, hi), method=False, grad_fn="ClampBackward1")
defop("lerp", TERN, "(fabs(c) < (T)0.5) ? a + c * (b - a) : b - (b - a) * ((T)1 - c)", FLOAT_ONLY,
      vjp=(lambda g, out, a, b, w: g * (1 - w), lambda g, out, a, b, w: g * w, lambda g, out, a, b, w: g * (b - a)),
      ref=lambda a, b, w: a + w * (b - a),
      int_ok=False, check=_lerp_check)
defop("addcmul", TERN, "a + value * b * c", vjp=(lambda g, out, a, b, c, value: g, lambda g, out, a, b, c, value: g * value * c,
           lambda g, out, a, b, c, value: g * value * b),
      ref=lambda a, b, c: a + b * c, params={"value": (1, "T")})
defop("addcdiv", TERN, "a + value * b / c", FLOAT_ONLY,
      vjp=(lambda g, out, a, b, c, value: g, lambda g, out, a, b, c, value: g * value / c,
           lambda g, out, a, b, c, value: -g * value * b / (c * c)),
      ref=lambda a, b, c: a + b / c, params={"value": (1, "T")}, domain=(0.5, 2.0), int_ok=False)
defop("_copy", U, _with_complex("a", "a"), vjp=lambda g, out, a: g, method=False, inplace=False,
      grad_fn="ToCopyBackward0")

# ---- complex rows (on real inputs too, as PyTorch's) ---------------------------------------------------
defop("conj_physical", U, _with_complex("a", "(T)(a.x, -a.y)"), vjp=lambda g, out, a: _cj(g), ref=np.conj)
defop("sgn", U, _with_complex(_by_cat("isnan(a) ? (T)0 : " + SIGN, SIGN),
                              "(a.x == 0 && a.y == 0) ? a : a / hypot(a.x, a.y)"), NO_BOOL,
      vjp=lambda g, out, a: _sgn_vjp(g, out, a), ref=lambda x: np.nan_to_num(np.sign(x)).astype(x.dtype))
defop("angle", U, _with_complex({"float": "isnan(a) ? a : (a < 0 ? atan2((T)0, (T)-1) : (T)0)"},
                                "atan2(a.y, a.x)"), real_valued(FLOAT), vjp=lambda g, out, a: _angle_vjp(g, a),
      ref=lambda x: np.angle(x) if np.iscomplexobj(x) else np.where(np.isnan(x), x, np.where(x < 0, np.pi, 0.0)),
      inplace=False)  # NOTE: PyTorch's angle(-0.0) is 0 (numpy's is pi)



# ---- backward helpers shared by several rows -----------------------------------------------------
def _sgn_vjp(g, out, a):
    if not a.dtype.is_complex:
        return g.new_zeros(g.shape)
    # s = z / |z|: ds/dz = 1 / 2|z|, ds/dz* = -s^2 / 2|z|, so the gradient is (g - s^2 conj(g)) / 2|z|
    r = a.abs()
    return ((g - out * out * g.conj_physical()) / (2 * r)).where(r != 0, 0.0)


def _angle_vjp(g, a):
    if not a.dtype.is_complex:
        return g.new_zeros(g.shape)
    r2 = a.real * a.real + a.imag * a.imag
    return (g * a * 1j / r2).where(r2 != 0, 0.0)


def _pow_vjp(g, out, a, b):
    if any(isinstance(x, builtins.complex) or (isinstance(x, Tensor) and x.dtype.is_complex) for x in (a, b)):
        return _complex_pow_vjp(g, out, a, b)
    if not isinstance(b, Tensor):
        # NOTE: a itself for b == 2 (pow(a, 1) == a exactly): PoCL's general pow costs ~100 ns an element
        ga = g * 0 if b == 0 else g * b * (a if b == 2 else a.pow(b - 1))
        return ga, None
    ga = None
    if isinstance(a, Tensor):
        ga = (g * b * a.pow(b - 1)).where(b != 0, 0.0)
    lg = (out * a.log() if isinstance(a, Tensor) else out * math.log(a)) if isinstance(a, Tensor) or a > 0 else out * 0
    gb = g * lg.where(~((a == 0) & (b >= 0)) if isinstance(a, Tensor) else lg == lg, 0.0)
    return ga, gb


def _complex_pow_vjp(g, out, a, b):
    """out = a ** b = exp(b log a): conj(b a^(b-1)) and conj(out log a) times g; 0 where b = 0 (for a) or
    a = 0 (for b), as PyTorch masks them."""
    ga = gb = None
    if isinstance(a, Tensor):
        ga = g * _cj(b * a.pow(b - 1))
        ga = ga.where(b != 0, 0.0) if isinstance(b, Tensor) else ga * 0 if b == 0 else ga
    if isinstance(b, Tensor):
        log_a = a.log() if isinstance(a, Tensor) else cmath.log(a) if a != 0 else 0.0
        gb = g * _cj(out * log_a)
        gb = gb.where(a != 0, 0.0) if isinstance(a, Tensor) else gb
    return ga, gb


def _atan2_vjp(g, a, b):
    denom = a * a + b * b
    return g * b / denom, -g * a / denom


def _minmax_vjp(g, a, b, sign):
    wins = (a > b) if sign > 0 else (a < b)
    ties = (a == b)
    ga = g * (wins + ties * 0.5)
    gb = g * ((~wins & ~ties) + ties * 0.5)
    return ga, gb


def _fminmax_vjp(g, a, b, sign):
    take_a = ((a >= b) if sign > 0 else (a <= b)) | (b.isnan() if isinstance(b, Tensor) else math.isnan(b))
    return g * take_a, g * ~take_a


def _copysign_vjp(g, out, a):
    return (g * out / a).where(a != 0, 0.0)


def _clamp_vjp(g, a, lo, hi):
    mask = None
    if lo is not None:
        mask = a >= lo
    if hi is not None:
        m = a <= hi
        mask = m if mask is None else mask & m
    ga = g.where(mask, 0.0)
    # where min > max the result is max (PyTorch's rule): the gradient goes to max, not to min
    crossed = (lo > hi) if isinstance(lo, Tensor) and hi is not None else None
    glo = g.where((a < lo) if crossed is None else (a < lo) & (lo < hi), 0.0) if isinstance(lo, Tensor) else None
    ghi = g.where((a > hi) if crossed is None else (a > hi) | crossed, 0.0) if isinstance(hi, Tensor) else None
    if lo is None:
        return ga, ghi
    if hi is None:
        return ga, glo
    return ga, glo, ghi


# ---- public composites over the rows ------------------------------------------------------------
def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        return globals()["true_divide"](input, other, out=out)
    if rounding_mode == "trunc":
        return globals()["_div_trunc"](input, other, out=out)
    if rounding_mode == "floor":
        return globals()["floor_divide"](input, other, out=out)
    raise RoundingModeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                            f"'{rounding_mode}'")


_round_to_integer = globals()["round"]


def round(input, *, decimals=0, out=None):  # noqa: A001 (torch.round)
    """Round half to even, to `decimals` decimal places (negative: to tens, hundreds...), scaling
    by 10**|decimals| around the integer rounding as PyTorch does."""
    if decimals == 0:
        return _round_to_integer(input, out=out)
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"round_cpu" not implemented for \'{input.dtype.torch_name}\'')
    scale = 10.0 ** (decimals if decimals > 0 else -decimals)
    if decimals > 0:
        return true_divide(_round_to_integer(input * scale), scale, out=out)
    return mul(_round_to_integer(input / scale), scale, out=out)


def _round_(self, *, decimals=0):
    if decimals == 0:
        return apply(OPS["round"], (self,), {}, inplace=True)
    return self.copy_(round(self, decimals=decimals))


register("round", round)
register("round_", _round_)


class RoundingModeError(RuntimeError, ValueError):
    """A bad rounding_mode: PyTorch raises RuntimeError; ValueError kept for existing callers."""


def _div_(self, other, *, rounding_mode=None):
    name = {None: "true_divide", "trunc": "_div_trunc", "floor": "floor_divide"}.get(rounding_mode)
    if name is None:
        raise RoundingModeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                                f"'{rounding_mode}'")
    return apply(OPS[name], (self, other), {}, inplace=True)


divide = div
register("div", div)
register("divide", div)
register("div_", _div_)
register("divide_", _div_)
multiply, subtract = globals()["mul"], globals()["sub"]
register("multiply", globals()["mul"])
register("subtract", globals()["sub"])
register("multiply_", Tensor.mul_)
register("subtract_", Tensor.sub_)
greater, greater_equal, less, less_equal, not_equal = (globals()[n] for n in ("gt", "ge", "lt", "le", "ne"))
for _alias, _name in (("greater", "gt"), ("greater_equal", "ge"), ("less", "lt"), ("less_equal", "le"),
                      ("not_equal", "ne"), ("arctan2", "atan2"), ("arcsin", "asin"), ("arccos", "acos"),
                      ("arctan", "atan"), ("arcsinh", "asinh"), ("arccosh", "acosh"), ("arctanh", "atanh"),
                      ("negative", "neg"), ("absolute", "abs"), ("fix", "trunc")):
    globals()[_alias] = globals()[_name]
    register(_alias, getattr(Tensor, _name))
    if hasattr(Tensor, _name + "_"):
        register(_alias + "_", getattr(Tensor, _name + "_"))


def clamp(input, min=None, max=None, *, out=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if max is None:
        return globals()["_clamp_min"](input, min, out=out)
    if min is None:
        return globals()["_clamp_max"](input, max, out=out)
    return globals()["_clamp"](input, min, max, out=out)


def _clamp_(self, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    name, args = (("_clamp_min", (self, min)) if max is None else ("_clamp_max", (self, max)) if min is None
                  else ("_clamp", (self, min, max)))
    return apply(OPS[name], args, {}, inplace=True)


clip = clamp
register("clamp", clamp)
register("clip", clamp)
register("clamp_", _clamp_)
register("clip_", _clamp_)
register("clamp_min", lambda self, min: clamp(self, min=min))
register("clamp_max", lambda self, max: clamp(self, max=max))
register("clamp_min_", lambda self, min: _clamp_(self, min=min))
register("clamp_max_", lambda self, max: _clamp_(self, max=max))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    d = input.dtype if input.dtype.is_floating_point else dt.float32
    info = np.finfo(d.np)
    return globals()["_nan_to_num"](input, nan=nan, posinf=float(info.max) if posinf is None else posinf,
                                     neginf=float(info.min) if neginf is None else neginf, out=out)


register("nan_to_num", nan_to_num)
register("nan_to_num_", lambda self, nan=0.0, posinf=None, neginf=None: nan_to_num(self, nan, posinf, neginf, out=self))


def where(condition, input=None, other=None, *, out=None):
    if input is None and other is None:
        if not isinstance(condition, Tensor):
            raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not {type(condition).__name__}")
        return condition.nonzero(as_tuple=True)  # the method: ops.index imports this module
    if not isinstance(condition, Tensor) or condition.dtype is not dt.bool_:
        got = condition.dtype if isinstance(condition, Tensor) else type(condition).__name__
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{got.torch_name if isinstance(got, dt.dtype) else got}")
    return apply(OPS["where"], (condition, input, other), {}, out=out)


register("where", lambda self, condition, other: where(condition, self, other))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    if input.dtype is not (other.dtype if isinstance(other, Tensor) else input.dtype):
        raise RuntimeError(f"{input.dtype} did not match {other.dtype}")
    return globals()["_isclose"](input, other, rtol=float(rtol), atol=float(atol), equal_nan=int(bool(equal_nan)))


register("isclose", isclose)


def square_(self):
    return self.mul_(self)


def float_power(input, exponent):
    a = input.double() if isinstance(input, Tensor) else float(input)
    b = exponent.double() if isinstance(exponent, Tensor) else float(exponent)
    return globals()["pow"](a, b)


register("float_power", float_power)
