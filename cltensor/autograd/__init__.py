"""cltensor.autograd: backward(), grad(), grad modes, custom Functions and gradcheck.

>>> import cltensor as torch
>>> x = torch.tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4.])
"""
from __future__ import annotations

from .grad_mode import (detect_anomaly, enable_grad, inference_mode, is_anomaly_enabled, is_grad_enabled,
                        is_inference_mode_enabled, no_grad, set_detect_anomaly, set_grad_enabled)
from .graph import AccumulateGrad, Node, RemovableHandle, gradient_edge, accumulate_grad, run_backward


def _tensor_cls():
    from ..tensor import Tensor
    return Tensor


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_grads(tensors, grad_tensors):
    """The gradient each output starts with: given, or ones for scalar outputs (PyTorch's checks)."""
    from ..ops.creation import full_like, ones_like
    Tensor = _tensor_cls()
    grads = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not t.dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {t.dtype}")
            g = ones_like(t)
        elif not isinstance(g, Tensor):
            g = full_like(t, g)
        elif g.shape != t.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                               f"has a shape of {t.shape}.")
        elif g.dtype is not t.dtype and t.dtype.is_differentiable:
            g = g.to(t.dtype)
        grads.append(g)
    return grads


def _capture_map(inputs):
    capture = {}
    for i, t in enumerate(inputs):
        if not isinstance(t, _tensor_cls()):
            raise TypeError(f"expected Tensor as element {i} in argument 1, but got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        capture.setdefault(gradient_edge(t), i)
    return capture


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate d(tensors)/d(leaf) * grad_tensors into every leaf's .grad (or only inputs' .grad)."""
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors if grad_variables is None else grad_variables)
    grad_tensors = grad_tensors or (None,) * len(tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"got {len(tensors)} tensors and {len(grad_tensors)} gradients")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    grads = _root_grads(tensors, grad_tensors)
    roots = [gradient_edge(t) for t in tensors]
    if inputs is None:
        run_backward(roots, grads, retain_graph, create_graph)
        return
    capture = _capture_map(inputs)
    captured = run_backward(roots, grads, retain_graph, create_graph, capture=capture, accumulate=False)
    for i, t in enumerate(inputs):
        g = captured.get(capture[gradient_edge(t)])
        if g is not None:
            accumulate_grad(t, g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of outputs with respect to inputs, returned (not accumulated into .grad).

    >>> import cltensor as torch
    >>> x = torch.tensor(3.0, requires_grad=True)
    >>> (g,) = torch.autograd.grad(x ** 3, x, create_graph=True)
    >>> torch.autograd.grad(g, x)[0]
    tensor(18.)
    """
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grad_outputs)} gradients")
    if retain_graph is None:
        retain_graph = create_graph
    capture = _capture_map(inputs)
    grads = _root_grads(outputs, grad_outputs)
    captured = run_backward([gradient_edge(t) for t in outputs], grads, retain_graph, create_graph,
                            capture=capture, accumulate=False)
    result = []
    for i, t in enumerate(inputs):
        g = captured.get(capture[gradient_edge(t)])
        if g is None and not allow_unused:
            raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                               "Set allow_unused=True if this is the desired behavior.")
        if g is None and materialize_grads:
            from ..ops.creation import zeros_like
            g = zeros_like(t)
        result.append(g)
    return tuple(result)


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
    T = _tensor_cls()
    T.backward = _tensor_backward
    T.retain_grad = _retain_grad
    T.register_hook = _register_hook
    T.register_post_accumulate_grad_hook = _register_post_accumulate_grad_hook
    T.retains_grad = property(lambda self: self._retains_grad)
    T.is_inference = lambda self: False


_install()


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _tensor_cls())


class Variable(metaclass=_VariableMeta):
    """The pre-0.4 wrapper, kept as PyTorch keeps it: Variable(t, requires_grad=True) is a leaf
    tensor sharing t's memory."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        t = data.detach()
        t.requires_grad_(bool(requires_grad))
        return t


from .function import Function, FunctionCtx, once_differentiable  # noqa: E402
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "Function", "FunctionCtx", "once_differentiable", "gradcheck",
           "gradgradcheck", "GradcheckError", "Node", "AccumulateGrad", "Variable", "set_detect_anomaly",
           "detect_anomaly", "is_anomaly_enabled"]
