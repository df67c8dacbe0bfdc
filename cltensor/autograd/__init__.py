"""cltensor.autograd: backward(), grad(), grad modes, custom Functions and gradcheck.

>>> import cltensor as torch
>>> x = torch.tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4.])
"""
from __future__ import annotations

from ..tensor import Tensor as _Tensor
from .grad_mode import (detect_anomaly, enable_grad, inference_mode, is_anomaly_enabled, is_grad_enabled,
                        is_inference_mode_enabled, no_grad, set_detect_anomaly, set_grad_enabled)
from ._engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .graph import AccumulateGrad, Node, RemovableHandle


# ---- Tensor methods that belong to autograd ------------------------------------------------------
def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute the gradient of self with respect to the graph's leaves (accumulated into .grad)."""
    backward(self, gradient, retain_graph, create_graph, inputs=inputs)


def _retain_grad(self):
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self.is_leaf or self._retains_grad:
        return
    self.grad_fn._retain(self._output_nr, self)
    self._retains_grad = True


def _register_hook(self, hook):
    """hook(grad) runs when self's gradient is computed; returning a tensor replaces the gradient."""
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is None:
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)
    nr = self._output_nr

    def tensor_hook(grads):
        if grads[nr] is None:
            return None
        r = hook(grads[nr])
        if r is None:
            return None
        grads = list(grads)
        grads[nr] = r
        return grads

    return self.grad_fn.register_prehook(tensor_hook)


def _register_post_accumulate_grad_hook(self, hook):
    """hook(tensor) runs after a leaf's .grad has been accumulated by backward()."""
    if not self.is_leaf:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    hooks = self.__dict__.setdefault("_post_accumulate_hooks", [])
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def _install():
    T = _Tensor
    T.backward = _tensor_backward
    T.retain_grad = _retain_grad
    T.register_hook = _register_hook
    T.register_post_accumulate_grad_hook = _register_post_accumulate_grad_hook
    T.retains_grad = property(lambda self: self._retains_grad)
    T.is_inference = lambda self: False


_install()


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _Tensor)


class Variable(metaclass=_VariableMeta):
    """The pre-0.4 wrapper, kept as PyTorch keeps it: Variable(t, requires_grad=True) is a leaf
    tensor sharing t's memory."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        t = data.detach()
        t.requires_grad_(bool(requires_grad))
        return t


__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "Function", "FunctionCtx", "once_differentiable", "gradcheck",
           "gradgradcheck", "GradcheckError", "Node", "AccumulateGrad", "Variable", "set_detect_anomaly",
           "detect_anomaly", "is_anomaly_enabled"]
