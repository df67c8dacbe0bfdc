"""The dynamic graph: nodes recorded by ops, saved tensors with version checks, and the engine.

A node is made per op call; its class is named after the op (``MulBackward0``) so that
``type(t.grad_fn).__name__`` reads like PyTorch's. Backward rules are written in cltensor
ops, so running them with grad mode on (``create_graph=True``) records a graph of the
backward pass itself, which gives higher-order gradients.
"""
from __future__ import annotations

import weakref

from .grad_mode import is_grad_enabled, _set_enabled

_node_classes: dict = {}


def node_class(name: str):
    cls = _node_classes.get(name)
    if cls is None:
        cls = _node_classes[name] = type(name, (OpNode,), {"__slots__": ()})
    return cls


class SavedTensor:
    """A tensor kept for backward: an alias without grad_fn (no reference cycle), plus its version."""

    __slots__ = ("data", "version", "node_ref", "is_output", "requires_grad")

    def __init__(self, t, node, is_output):
        self.data = t._alias()
        self.version = t._version
        self.is_output = is_output
        self.requires_grad = t.requires_grad
        self.node_ref = None if not is_output else weakref.ref(node)
        if not is_output and t.requires_grad:
            # an input keeps its history so that create_graph differentiates through it
            self.data = t

    def unpack(self, node):
        t = self.data
        if t._version != self.version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{t.type()} {list(t.shape)}], which is output 0 of {type(node).__name__}, "
                f"is at version {t._version}; expected version {self.version} instead. Hint: the backtrace "
                "further above can point to the operation that failed to compute its gradient.")
        if self.is_output and self.requires_grad and is_grad_enabled():
            alias = t._alias()
            alias._requires_grad = True
            alias.grad_fn = node
            return alias
        return t


class Node:
    __slots__ = ("next_functions", "_pre_hooks", "_hooks", "metadata", "__weakref__")

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def register_hook(self, fn):
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _RemovableHandle(self._hooks, fn)

    def register_prehook(self, fn):
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        return _RemovableHandle(self._pre_hooks, fn)


class _RemovableHandle:
    def __init__(self, lst, item):
        self.lst, self.item = lst, item

    def remove(self):
        if self.item in self.lst:
            self.lst.remove(self.item)


class AccumulateGrad(Node):
    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()
        self._pre_hooks = self._hooks = None
        self.metadata = {}


_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph "
    "a second time or if you need to access saved tensors after calling backward.")


class OpNode(Node):
    """A node built from an op's backward rule ``vjp(grad, out, *inputs, **params) -> grads``."""

    __slots__ = ("vjp", "saved", "params", "input_meta", "freed", "num_outputs")

    def __init__(self, vjp, inputs, out, params, save, num_outputs=1):
        self.vjp = vjp
        self.params = params
        self.num_outputs = num_outputs
        self._pre_hooks = self._hooks = None
        self.metadata = {}
        self.freed = False
        self.next_functions = tuple(_edge(x) for x in inputs)
        self.input_meta = tuple((x.shape, x.dtype, x.device) if _is_tensor(x) else None for x in inputs)
        self.saved = self._save(inputs, out, save)

    def _save(self, inputs, out, save):
        saved = []
        for i, x in enumerate(inputs):
            saved.append(SavedTensor(x, self, False) if (save is None or i in save) and _is_tensor(x) else x)
        if save is None or "out" in save:
            outs = out if isinstance(out, (tuple, list)) else (out,)
            saved.append(tuple(SavedTensor(o, self, True) if _is_tensor(o) else o for o in outs))
        else:
            saved.append(None)
        return saved

    def _unpack(self):
        if self.freed:
            raise RuntimeError(_FREED)
        vals = [s.unpack(self) if isinstance(s, SavedTensor) else s for s in self.saved[:-1]]
        out = self.saved[-1]
        if out is not None:
            out = tuple(s.unpack(self) if isinstance(s, SavedTensor) else s for s in out)
            out = out[0] if self.num_outputs == 1 else out
        return out, vals

    def apply(self, grads):
        out, inputs = self._unpack()
        g = grads[0] if self.num_outputs == 1 else grads
        result = self.vjp(g, out, *inputs, **self.params)
        if not isinstance(result, (tuple, list)):
            result = (result,)
        return tuple(_fit(r, meta) for r, meta in zip(result, self.input_meta))

    def release(self):
        if any(isinstance(s, SavedTensor) for s in self.saved[:-1]) or self.saved[-1] is not None:
            self.freed = True
        self.saved = [None] * len(self.saved)

    @property
    def _saved_tensors(self):
        return self._unpack()[1]


def _is_tensor(x) -> bool:
    from ..tensor import Tensor
    return isinstance(x, Tensor)


def _edge(x):
    if not _is_tensor(x) or not x.requires_grad:
        return (None, 0)
    if x.grad_fn is not None:
        return (x.grad_fn, x._output_nr)
    return (grad_accumulator(x), 0)


def grad_accumulator(leaf):
    acc = leaf._grad_accumulator() if leaf._grad_accumulator is not None else None
    if acc is None:
        acc = AccumulateGrad(leaf)
        leaf._grad_accumulator = weakref.ref(acc)
    return acc


def _fit(grad, meta):
    """Sum a broadcast gradient back to its input's shape and dtype."""
    if grad is None or meta is None:
        return None
    shape, dtype, _ = meta
    if grad.shape != shape:
        grad = sum_to(grad, shape)
    if grad.dtype is not dtype and dtype.is_floating_point:
        grad = grad.to(dtype)
    return grad


def sum_to(grad, shape):
    """Reduce grad (of a broadcast result) to shape, the inverse of expand."""
    shape = tuple(shape)
    lead = grad.dim() - len(shape)
    dims = list(range(lead))
    dims += [lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1]
    if dims:
        grad = grad.sum(dim=tuple(dims), keepdim=True)
    if lead:
        grad = grad.reshape(shape)
    return grad


def record(name, vjp, inputs, out, params=None, save=None, num_outputs=1):
    """Attach a node to out (a tensor or tuple of tensors) if any input requires grad."""
    if not is_grad_enabled():
        return out
    if not any(_is_tensor(x) and x.requires_grad for x in inputs):
        return out
    node = node_class(name)(vjp, inputs, out, params or {}, save, num_outputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for i, o in enumerate(outs):
        if _is_tensor(o) and o.dtype.is_floating_point:
            o._requires_grad = True
            o.grad_fn = node
            o._output_nr = i
    return out


def record_inplace(name, vjp, inputs, dest, params=None, save=None):
    """Record an in-place op: dest's history continues through a new node.

    inputs[0] is dest before the op (or a clone of its old value when the rule reads it), so the
    new node's first edge leads to dest's previous grad_fn.
    """
    edge_source = inputs[0]
    if edge_source is dest:
        # nothing of the old value is saved: keep its edge but not the tensor itself
        edge_source = dest._alias()
        edge_source._requires_grad, edge_source.grad_fn = dest._requires_grad, dest.grad_fn
        edge_source._output_nr = dest._output_nr
    node = node_class(name)(vjp, [edge_source, *inputs[1:]], dest, params or {}, save, 1)
    if dest.dtype.is_floating_point:
        dest._requires_grad = True
        dest.grad_fn = node
        dest._output_nr = 0
        if dest._base is not None:
            _rebase_view(dest)
    return dest


def _rebase_view(view):
    """After an in-place op on a view, its base's history goes through CopySlices (as in PyTorch):
    the base's gradient is split into the part outside the view (to the base's old history)
    and the part inside it (to the in-place op's node, through the view)."""
    base = view._base
    if base.requires_grad and base.is_leaf:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    geom = (base._storage.nbytes // base.dtype.itemsize, base._shape, base._strides, base._offset,
            view._shape, view._strides, view._offset)
    old = base._alias()
    old._requires_grad, old.grad_fn, old._output_nr = base._requires_grad, base.grad_fn, base._output_nr
    node = node_class("CopySlices")(_copyslices_vjp, [old, view], base, {"geom": geom}, frozenset(), 1)
    base._requires_grad = True
    base.grad_fn = node
    base._output_nr = 0


def _copyslices_vjp(g, out, base, view, geom):
    from ..ops.creation import zeros
    from .grad_mode import no_grad
    numel, bshape, bstrides, boff, vshape, vstrides, voff = geom
    with no_grad():
        work = zeros(numel, dtype=g.dtype, device=g.device)
        gbase = work.as_strided(bshape, bstrides, boff)
        gbase.copy_(g)
        region = work.as_strided(vshape, vstrides, voff)
        gview = region.clone()
        region.zero_()
    return gbase, gview


# ---- the engine ----------------------------------------------------------------------
def _collect(roots):
    """Dependency counts of every node reachable from roots."""
    deps, seen, stack = {}, set(), [r for r in roots if r is not None]
    for r in stack:
        seen.add(r)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return deps


def run_backward(roots, grads, retain_graph, create_graph, capture=None, accumulate=True):
    """Propagate grads from (node, output_nr) roots. capture maps (node, nr) -> slot for autograd.grad."""
    captured = {}
    prev = is_grad_enabled()
    _set_enabled(create_graph)
    try:
        deps = _collect([n for n, _ in roots])
        buffers: dict = {}
        for (node, nr), g in zip(roots, grads):
            _accumulate(buffers, node, nr, g)
        ready = [n for n, _ in roots if deps.get(n, 0) == 0]
        ready = list(dict.fromkeys(ready))
        while ready:
            node = ready.pop()
            slots = buffers.pop(node, {})
            out_grads = _gather(node, slots)
            out_grads = _run_pre_hooks(node, out_grads)
            if capture is not None:
                for nr, g in enumerate(out_grads):
                    if (node, nr) in capture:
                        captured[capture[(node, nr)]] = g
            if isinstance(node, AccumulateGrad):
                if accumulate and out_grads[0] is not None:
                    _accumulate_leaf(node.variable, out_grads[0], create_graph)
                continue
            if all(g is None for g in out_grads):
                in_grads = (None,) * len(node.next_functions)
            else:
                in_grads = node.apply(out_grads)
            if node._hooks:
                for h in node._hooks:
                    r = h(in_grads, out_grads)
                    if r is not None:
                        in_grads = r
            if not retain_graph:
                node.release()
            for (nxt, nr), g in zip(node.next_functions, in_grads):
                if nxt is None:
                    continue
                if g is not None:
                    _accumulate(buffers, nxt, nr, g)
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    ready.append(nxt)
    finally:
        _set_enabled(prev)
    return captured


def _accumulate(buffers, node, nr, g):
    slots = buffers.setdefault(node, {})
    prev = slots.get(nr)
    slots[nr] = g if prev is None else prev + g


def _gather(node, slots):
    n = getattr(node, "num_outputs", 1)
    return [slots.get(i) for i in range(n)]


def _run_pre_hooks(node, grads):
    if not node._pre_hooks:
        return grads
    for h in list(node._pre_hooks):
        r = h(grads)
        if r is not None:
            grads = list(r)
    return grads


def _accumulate_leaf(leaf, g, create_graph):
    if leaf._hooks:
        for h in leaf._hooks:
            r = h(g)
            if r is not None:
                g = r
    if g.shape != leaf.shape:
        g = sum_to(g, leaf.shape)
    if create_graph:
        leaf._grad = g if leaf._grad is None else leaf._grad + g
        return
    from .grad_mode import no_grad
    with no_grad():
        # NOTE: a rule may hand the same tensor to several inputs (add), so a new grad is a copy
        if leaf._grad is None:
            leaf._grad = g.detach().clone()
        else:
            leaf._grad.add_(g)
