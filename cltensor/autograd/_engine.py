"""backward() and grad(): the checks on their arguments, the gradients the roots start with, and the
call into the graph's engine (graph.run_backward)."""
from __future__ import annotations

from .. import _memory_format as _mf
from ..tensor import Tensor
from .graph import accumulate_grad, filled, gradient_edge, run_backward


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_grads(tensors, grad_tensors):
    """The gradient each output starts with: given, or ones for scalar outputs (PyTorch's checks)."""
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
            g = filled(t.shape, 1, t.dtype, t.device)
        elif not isinstance(g, Tensor):
            g = filled(t.shape, g, t.dtype, t.device)
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
        if not isinstance(t, Tensor):
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
            g = _zeros_like(t)
        result.append(g)
    return tuple(result)


def _zeros_like(t):
    """zeros_like(t) at the launch layer: a channels-last t gets channels-last zeros, as PyTorch's does."""
    zeros = filled(t.shape, 0, t.dtype, t.device)
    fmt = _mf.resolve(None, t._shape, t._strides)
    return zeros if zeros.is_contiguous(memory_format=fmt) else zeros.contiguous(memory_format=fmt)
