"""Custom autograd Functions: forward(ctx, ...), backward(ctx, ...), ctx.save_for_backward, apply."""
from __future__ import annotations

from .grad_mode import is_grad_enabled, no_grad
from . import graph


class FunctionCtx:
    def __init__(self):
        self.saved_for_backward = ()
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_differentiable = set()

    def save_for_backward(self, *tensors):
        self.saved_for_backward = tensors

    @property
    def saved_tensors(self):
        node = getattr(self, "_node", None)
        if node is not None and node.freed:
            raise RuntimeError(graph._FREED)
        return tuple(self.saved_for_backward)

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_name = name + "Backward"


class Function(metaclass=_FunctionMeta):
    """Subclass with static forward(ctx, *args) and backward(ctx, *grads); call with .apply(*args)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        from ..tensor import Tensor
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        if not (is_grad_enabled() and any(ctx.needs_input_grad)):
            return out
        outs = out if isinstance(out, tuple) else (out,)
        outs = tuple(o._alias() if isinstance(o, Tensor) and any(o is a for a in args) else o for o in outs)
        n_args = len(args)

        def vjp(g, _out, *inputs, **_):
            grads = g if isinstance(g, (list, tuple)) else (g,)
            if ctx.materialize_grads:
                from ..ops.creation import zeros_like
                grads = tuple(zeros_like(o) if gr is None and isinstance(o, Tensor) else gr
                              for gr, o in zip(grads, outs))
            result = cls.backward(ctx, *grads)
            result = result if isinstance(result, tuple) else (result,)
            if len(result) != n_args:
                raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of gradients "
                                   f"(expected {n_args}, got {len(result)})")
            return result

        node = graph.node_class(cls._backward_name)(vjp, list(args), outs, {}, frozenset(), len(outs))
        ctx._node = node
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and o.dtype.is_floating_point and id(o) not in ctx._non_differentiable:
                o._requires_grad = True
                o.grad_fn = node
                o._output_nr = i
        return outs if isinstance(out, tuple) else outs[0]


class once_differentiable:
    def __new__(cls, fn):
        return fn
