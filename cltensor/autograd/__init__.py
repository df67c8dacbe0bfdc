"""cltensor.autograd: backward(), grad(), grad modes, custom Functions and gradcheck."""
from __future__ import annotations

from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .graph import AccumulateGrad, Node, grad_accumulator, run_backward


def _tensor_cls():
    from ..tensor import Tensor
    return Tensor


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_grads(tensors, grad_tensors, create_graph):
    from ..ops.creation import ones_like
    grads = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not t.dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {t.dtype}")
            g = ones_like(t)
        elif not isinstance(g, _tensor_cls()):
            from ..ops.creation import full_like
            g = full_like(t, g)
        elif g.shape != t.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                               f"has a shape of {t.shape}.")
        grads.append(g)
    return grads


def _roots(tensors):
    return [(t.grad_fn, t._output_nr) if t.grad_fn is not None else (grad_accumulator(t), 0) for t in tensors]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors) or (None,) * len(tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"grad_tensors should have the same length as tensors: got {len(grad_tensors)} "
                           f"and {len(tensors)}")
    if retain_graph is None:
        retain_graph = create_graph
    grads = _root_grads(tensors, grad_tensors, create_graph)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        results = grad(tensors, inputs, grads, retain_graph=retain_graph, create_graph=create_graph,
                       allow_unused=True)
        for t, g in zip(inputs, results):
            if g is not None:
                t._grad = g if t._grad is None else t._grad + g
        return
    run_backward(_roots(tensors), grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of outputs with respect to inputs, returned (not accumulated into .grad)."""
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors does not require grad")
    grads = _root_grads(outputs, grad_outputs, create_graph)
    capture = {}
    for i, t in enumerate(inputs):
        key = (t.grad_fn, t._output_nr) if t.grad_fn is not None else (grad_accumulator(t), 0)
        capture[key] = i
    captured = run_backward(_roots(outputs), grads, retain_graph, create_graph, capture=capture, accumulate=False)
    result = []
    for i, t in enumerate(inputs):
        g = captured.get(i)
        if g is None and not (allow_unused or materialize_grads):
            raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                               "Set allow_unused=True if this is the desired behavior.")
        if g is None and materialize_grads:
            from ..ops.creation import zeros_like
            g = zeros_like(t)
        if g is not None and g.shape != t.shape:
            from .graph import sum_to
            g = sum_to(g, t.shape)
        result.append(g)
    return tuple(result)


def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    backward(self, gradient, retain_graph, create_graph, inputs=inputs)


def _retain_grad(self):
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self.is_leaf or self._retains_grad:
        return
    import weakref
    ref = weakref.ref(self)
    nr = self._output_nr

    def keep(grads):
        t = ref()
        if t is not None and grads[nr] is not None:
            g = grads[nr].detach()
            t._grad = g.clone() if t._grad is None else t._grad + g
        return None

    self.grad_fn.register_prehook(keep)
    self._retains_grad = True


def _register_hook(self, hook):
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    from .graph import _RemovableHandle
    if self.grad_fn is None:
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _RemovableHandle(self._hooks, hook)
    nr = self._output_nr

    def pre(grads):
        if grads[nr] is None:
            return None
        r = hook(grads[nr])
        if r is None:
            return None
        grads = list(grads)
        grads[nr] = r
        return grads

    return self.grad_fn.register_prehook(pre)


def _install():
    T = _tensor_cls()
    T.backward = _tensor_backward
    T.retain_grad = _retain_grad
    T.register_hook = _register_hook
    T.retains_grad = property(lambda self: self._retains_grad)


_install()

from .function import Function, FunctionCtx  # noqa: E402
from .gradcheck import gradcheck, gradgradcheck  # noqa: E402

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "Function", "FunctionCtx", "gradcheck", "gradgradcheck", "Node", "AccumulateGrad"]
