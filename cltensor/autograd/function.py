"""Custom autograd Functions: forward(ctx, ...), backward(ctx, ...), ctx.save_for_backward, apply.

>>> import cltensor as torch
>>> class Cube(torch.autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 3
...     @staticmethod
...     def backward(ctx, g):
...         (x,) = ctx.saved_tensors
...         return 3 * x ** 2 * g
>>> x = torch.tensor(2.0, requires_grad=True)
>>> Cube.apply(x).backward()
>>> x.grad
tensor(12.)
"""
from __future__ import annotations

import functools
import weakref

from ..tensor import Tensor
from . import graph
from .grad_mode import is_grad_enabled, no_grad


class FunctionCtx:
    """The ctx of forward/backward: saved tensors (version-checked), needs_input_grad, marks."""

    def __init__(self):
        self.to_save = ()
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._saved = None  # SavedTensor entries once the node exists
        self._node_ref = None
        self._freed = False
        self._non_differentiable = set()
        self._dirty = set()

    def save_for_backward(self, *tensors):
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type "
                                f"{type(t).__name__}")
        self.to_save = tensors

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(graph._FREED)
        if self._saved is None:
            return tuple(self.to_save)
        node = self._node_ref()
        return tuple(s.unpack(node) if isinstance(s, graph.SavedTensor) else s for s in self._saved)

    saved_variables = saved_tensors

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = bool(value)


class FunctionNode(graph.Node):
    """The node of one call of a custom Function (its class is named <Function>Backward)."""

    __slots__ = ("ctx", "fn_cls", "arg_positions", "num_args", "input_meta", "out_meta", "num_outputs",
                 "freed")

    def __init__(self, ctx, fn_cls, args, tensor_positions):
        self._init_node(tuple(graph._edge(args[i]) for i in tensor_positions))
        self.ctx = ctx
        self.fn_cls = fn_cls
        self.arg_positions = tensor_positions
        self.num_args = len(args)
        self.input_meta = tuple((args[i]._shape, args[i].dtype, args[i].device) for i in tensor_positions)
        self.out_meta = ()
        self.num_outputs = 0
        self.freed = False

    def apply(self, grads):
        if self.freed:
            raise RuntimeError(graph._FREED)
        if self.ctx.materialize_grads:
            grads = [graph.filled(m[0], 0, m[1], m[2]) if g is None and m is not None else g
                     for g, m in zip(grads, self.out_meta)]
        result = self.fn_cls.backward(self.ctx, *grads)
        result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        result = self._check_count(result)
        positions = set(self.arg_positions)
        for i, r in enumerate(result):
            if r is not None and i not in positions:
                raise RuntimeError(f"function {type(self).__name__} returned a gradient different than None at "
                                   f"position {i + 1}, but the corresponding forward input was not a Variable")
            if r is not None and not isinstance(r, Tensor):
                raise TypeError(f"function {type(self).__name__} returned a gradient of type {type(r).__name__} "
                                f"at position {i + 1}; expected a Tensor or None")
        return tuple(graph._fit(result[pos], meta, k, self) if edge[0] is not None else None
                     for k, (pos, meta, edge) in enumerate(zip(self.arg_positions, self.input_meta,
                                                               self.next_functions)))

    def _check_count(self, result):
        n = self.num_args
        if len(result) > n and all(r is None for r in result[n:]):
            result = result[:n]
        if len(result) != n:
            raise RuntimeError(f"function {type(self).__name__} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(result)})")
        return result

    def release(self):
        if self.ctx._saved:
            self.ctx._freed = self.freed = True
        self.ctx._saved = None
        self.ctx.to_save = ()

    @property
    def saved_tensors(self):
        return self.ctx.saved_tensors


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_cls = type(name + "Backward", (FunctionNode,), {"__slots__": ()})


class Function(metaclass=_FunctionMeta):
    """Subclass with static forward(ctx, *args) and backward(ctx, *grads); call with .apply(*args)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    @classmethod
    def _run_forward(cls, ctx, args, kwargs):
        with no_grad():
            if cls.setup_context is not Function.setup_context:  # the forward-without-ctx style
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
                return out
            return cls.forward(ctx, *args, **kwargs)

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        tensor_positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        recording = is_grad_enabled() and any(args[i].requires_grad for i in tensor_positions)
        ctx.needs_input_grad = tuple(recording and isinstance(a, Tensor) and a.requires_grad for a in args)
        out = cls._run_forward(ctx, args, kwargs)
        if not recording:
            return out
        outs = out if isinstance(out, tuple) else (out,)
        node = cls._backward_cls(ctx, cls, args, tensor_positions)
        ctx._node_ref = weakref.ref(node)
        outs = tuple(_attach(o, i, node, ctx, args) if isinstance(o, Tensor) else o for i, o in enumerate(outs))
        node.num_outputs = len(outs)
        node.out_meta = tuple((o._shape, o.dtype, o.device) if isinstance(o, Tensor) else None for o in outs)
        ctx._saved = tuple(_pack(t, node, outs) for t in ctx.to_save)
        ctx.to_save = ()
        return outs if isinstance(out, tuple) else outs[0]


def _attach(o, i, node, ctx, args):
    """Make output i of a custom Function point at its node (in place for mark_dirty inputs)."""
    is_input = any(o is a for a in args)
    if is_input and id(o) in ctx._dirty:
        if o.is_leaf and o.requires_grad:
            raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
    elif is_input:
        o = o._alias()  # an input returned as is: a new tensor object over the same memory
    if id(o) in ctx._non_differentiable or not o.dtype.is_floating_point:
        return o
    o._requires_grad = True
    o.grad_fn = node
    o._output_nr = i
    if is_input and o._view_version is not None:
        graph._rebase_view(o)
    return o


def _pack(t, node, outs):
    if t is None:
        return None
    is_output = any(t is o for o in outs)
    return graph.SavedTensor(t, node, is_output)


def once_differentiable(fn):
    """Run a custom backward with grad mode off (its result is not differentiated again)."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    return wrapper
