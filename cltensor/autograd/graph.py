"""The dynamic graph: nodes recorded by ops, saved tensors with version checks, and the engine.

A node is made per op call; its class is named after the op (``MulBackward0``) so that
``type(t.grad_fn).__name__`` reads like PyTorch's. Backward rules are written in cltensor
ops, so running them with grad mode on (``create_graph=True``) records a graph of the
backward pass itself, which gives higher-order gradients.

In-place ops and views follow PyTorch: every in-place op bumps the version counter a tensor
shares with its views, saved tensors check it when unpacked, an in-place op on a view sends
its base's history through ``CopySlices``, and a view whose base changed in place gets a new
``AsStridedBackward0`` node when its ``grad_fn`` is next read (see ``regenerate_view_grad_fn``).
"""
from __future__ import annotations

import re
import sys
import threading
import weakref

import numpy as np

from .. import dtypes as dt
from .. import launch
from ..tensor import Tensor  # defined: tensor.py imports the autograd package at its very end
from .grad_mode import _set_enabled, is_grad_enabled, no_grad

_node_classes: dict = {}


def node_class(name: str, base=None):
    """The node class called name (one per name and base, made on first use)."""
    base = base or OpNode
    cls = _node_classes.get((name, base))
    if cls is None:
        cls = _node_classes[(name, base)] = type(name, (base,), {"__slots__": ()})
    return cls


def _op_name(node) -> str:
    """PyTorch names the op in version errors without the Backward suffix: ExpBackward0 -> Exp."""
    return re.sub(r"Backward\d*$", "", type(node).__name__)


class SavedTensor:
    """A tensor kept for backward and the version it had when saved.

    An output is kept as an alias without grad_fn (no reference cycle through its own node);
    an input that requires grad is kept itself, so that create_graph differentiates through it.
    """

    __slots__ = ("data", "version", "node_ref", "is_output", "requires_grad", "output_nr")

    def __init__(self, t, node, is_output):
        self.version = t._version
        self.is_output = is_output
        # an output gets its grad_fn only after the node is made: it will require grad if it can
        self.requires_grad = t.dtype.is_differentiable if is_output else t.requires_grad
        self.output_nr = t._output_nr
        self.node_ref = weakref.ref(node) if is_output else None
        self.data = t if (not is_output and t.requires_grad) else t._alias()

    def unpack(self, node):
        t = self.data
        if t._version != self.version:
            raise RuntimeError(self._modified_message(node))
        if self.is_output and self.requires_grad and is_grad_enabled():
            alias = t._alias()
            alias._requires_grad = True
            alias._grad_fn = node
            alias._output_nr = self.output_nr
            return alias
        return t

    def _modified_message(self, node) -> str:
        t = self.data
        fn, nr = (node, self.output_nr) if self.is_output else (t.grad_fn, t._output_nr)
        which = f", which is output {nr} of {_op_name(fn)}," if fn is not None else ""
        return ("one of the variables needed for gradient computation has been modified by an inplace operation: "
                f"[{t.type()} {list(t.shape)}]{which} is at version {t._version}; expected version {self.version} "
                "instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
                "with torch.autograd.set_detect_anomaly(True, check_nan=False).")


class Node:
    __slots__ = ("next_functions", "_pre_hooks", "_hooks", "_retained", "metadata", "__weakref__")

    def _init_node(self, next_functions):
        self.next_functions = next_functions
        self._pre_hooks = self._hooks = self._retained = None
        self.metadata = {}

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) runs after the node; it may return new grad_inputs."""
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return RemovableHandle(self._hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) runs before the node; it may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        return RemovableHandle(self._pre_hooks, fn)

    def _retain(self, nr, tensor):
        """Keep the gradient of output nr in tensor.grad (retain_grad); runs after every pre-hook."""
        if self._retained is None:
            self._retained = {}
        self._retained[nr] = weakref.ref(tensor)

    def _release_retained(self, nr):
        if self._retained:
            self._retained.pop(nr, None)


class RemovableHandle:
    def __init__(self, lst, item):
        self.lst, self.item = lst, item

    def remove(self):
        if any(x is self.item for x in self.lst):
            self.lst.remove(self.item)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


_RemovableHandle = RemovableHandle  # the name the first version used


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: adds incoming gradients into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self._init_node(())
        self.variable = variable


_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph "
    "a second time or if you need to access saved tensors after calling backward.")


class OpNode(Node):
    """A node built from an op's backward rule ``vjp(grad, out, *inputs, **params) -> grads``."""

    __slots__ = ("vjp", "saved", "params", "input_meta", "freed", "num_outputs", "saves")

    def __init__(self, vjp, inputs, out, params, save, num_outputs=1):
        self._init_node(tuple([gradient_edge(x) if isinstance(x, Tensor) and x.requires_grad else (None, 0)
                               for x in inputs]))
        self.vjp = vjp
        self.params = params
        self.num_outputs = num_outputs
        self.freed = False
        self.input_meta = tuple([(x._shape, x.dtype, x.device) if isinstance(x, Tensor) else None for x in inputs])
        self.saved = self._save(inputs, out, save)
        self.saves = save is None or bool(save)  # anything saved (a wrapped scalar too) is freed by backward

    def _save(self, inputs, out, save):
        if save is not None and not save:  # a rule that reads nothing (add, sub)
            return [*inputs, None]
        saved = []
        for i, x in enumerate(inputs):
            saved.append(SavedTensor(x, self, False) if (save is None or i in save) and isinstance(x, Tensor) else x)
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
        result = tuple(result) + (None,) * (len(self.next_functions) - len(result))
        # inputs that need no gradient get None (and no reduction to their shape)
        return tuple(_fit(r, meta, i, self) if edge[0] is not None else None
                     for i, (r, meta, edge) in enumerate(zip(result, self.input_meta, self.next_functions)))

    def release(self):
        if self.saves:
            self.freed = True
        self.saved = [None] * len(self.saved)

    @property
    def _saved_tensors(self):
        return self._unpack()[1]


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def _edge(x):
    if not _is_tensor(x) or not x.requires_grad:
        return (None, 0)
    return gradient_edge(x)


def gradient_edge(t):
    """(node, output_nr) that receives t's gradient: its grad_fn, or its AccumulateGrad if a leaf."""
    fn = t.grad_fn
    return (fn, t._output_nr) if fn is not None else (grad_accumulator(t), 0)


def grad_accumulator(leaf):
    acc = leaf._grad_accumulator() if leaf._grad_accumulator is not None else None
    if acc is None:
        acc = AccumulateGrad(leaf)
        leaf._grad_accumulator = weakref.ref(acc)
    return acc


def _expandable(shape, target) -> bool:
    if len(shape) > len(target):
        return False
    return all(s == t or s == 1 for s, t in zip(reversed(shape), reversed(target)))


def _fit(grad, meta, index, node):
    """Sum a broadcast gradient back to its input's shape and cast it to the input's dtype."""
    if grad is None or meta is None:
        return None
    shape, dtype, _ = meta
    if grad._shape != shape:
        if not _expandable(shape, grad._shape):
            raise RuntimeError(f"Function {type(node).__name__} returned an invalid gradient at index {index} - got "
                               f"{list(grad._shape)} but expected shape compatible with {list(shape)}")
        grad = sum_to(grad, shape)
    if grad.dtype is not dtype and dtype.is_differentiable:
        grad = _real_if_needed(grad, dtype).to(dtype)
    return grad


def _real_if_needed(grad, dtype):
    """A real input's gradient from a complex one: its real part (PyTorch's handle_r_to_c), without
    the warning a complex-to-real cast gives."""
    return grad.real if grad.dtype.is_complex and not dtype.is_complex else grad


def sum_to(grad, shape):
    """Reduce grad (of a broadcast result) to shape, the inverse of expand."""
    shape = tuple(shape)
    if tuple(grad._shape) == shape:
        return grad
    lead = grad.dim() - len(shape)
    dims = list(range(lead))
    dims += [lead + i for i, s in enumerate(shape) if s == 1 and grad._shape[lead + i] != 1]
    if dims:
        grad = grad.sum(dim=tuple(dims), keepdim=True)
    if grad._shape != shape:
        grad = grad.reshape(shape)
    return grad


# ---- recording ---------------------------------------------------------------------------
def record(name, vjp, inputs, out, params=None, save=None, num_outputs=1):
    """Attach a node to out (a tensor or tuple of tensors) if any input requires grad.

    name is the node's class name, or a function of the inputs that returns it."""
    if not is_grad_enabled():
        return out
    for x in inputs:
        if isinstance(x, Tensor) and x.requires_grad:
            break
    else:
        return out
    if type(name) is not str:  # a name that depends on the operands: PowBackward0/1/2
        name = name(inputs)
    node = node_class(name)(vjp, inputs, out, params or {}, save, num_outputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for i, o in enumerate(outs):
        if isinstance(o, Tensor) and o.dtype.is_differentiable:
            o._requires_grad = True
            o.grad_fn = node
            o._output_nr = i
    return out


def _history_alias(t):
    """A tensor object over t's memory that carries t's current place in the graph."""
    a = t._alias()
    a._requires_grad, a._grad_fn, a._output_nr = t.requires_grad, t.grad_fn, t._output_nr
    return a


def record_inplace(name, vjp, inputs, dest, params=None, save=None):
    """Record an in-place op: dest's history continues through a new node.

    inputs[0] is dest before the op (or a clone of its old value when the rule reads it), so the
    new node's first edge leads to dest's previous grad_fn.
    """
    if inputs[0] is dest:
        inputs = [_history_alias(dest), *inputs[1:]]  # keep the old edge, not the tensor itself
    old_fn, old_nr = dest.grad_fn, dest._output_nr
    if type(name) is not str:
        name = name(inputs)
    node = node_class(name)(vjp, list(inputs), dest, params or {}, save, 1)
    if dest.dtype.is_differentiable:
        dest._requires_grad = True
        dest.grad_fn = node
        dest._output_nr = 0
        if dest._retains_grad and old_fn is not None:
            old_fn._release_retained(old_nr)
            node._retain(0, dest)
        if dest._view_version is not None:
            _rebase_view(dest)
    return dest


def _geometry(base, view):
    """Where view lies in its base's storage: (storage numel, base layout, view layout)."""
    numel = base._storage.nbytes // base.dtype.itemsize
    return (numel, (base._shape, base._strides, base._offset), (view._shape, view._strides, view._offset))


def _rebase_view(view):
    """After an in-place op on a view, its base's history goes through CopySlices (as in PyTorch):
    the base's gradient is split into the part outside the view (to the base's old history)
    and the part inside it (to the in-place op's node, through the view)."""
    base = view._base
    if base.requires_grad and base.is_leaf:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    node = node_class("CopySlices")(_copyslices_vjp, [_history_alias(base), view], base,
                                    {"geom": _geometry(base, view)}, frozenset(), 1)
    base._requires_grad = True
    base.grad_fn = node
    base._output_nr = 0


def _copyslices_vjp(g, out, base, view, geom):
    gview = gather_from_base(g, geom)
    if g.requires_grad and is_grad_enabled():  # create_graph: stay differentiable
        return g - scatter_to_base(gview, geom), gview
    numel, (bshape, bstrides, boff), (vshape, vstrides, voff) = geom
    with no_grad():
        work = filled((numel,), 0, g.dtype, g.device)
        gbase = work.as_strided(bshape, bstrides, boff)
        _copy_into(g, gbase)
        work.as_strided(vshape, vstrides, voff).zero_()
    return gbase, gview


def regenerate_view_grad_fn(view):
    """A view whose base (or another view of it) changed in place: its history now starts at the
    base's current grad_fn, through AsStridedBackward0, as PyTorch does."""
    base = view._base
    version = view._version_box[0]
    view._view_version = version
    if not base.requires_grad:
        return
    node = node_class("AsStridedBackward0")(_view_of_base_vjp, [base], view, {"geom": _geometry(base, view)},
                                            frozenset(), 1)
    view._grad_fn = node
    view._requires_grad = True
    view._output_nr = 0


def _view_of_base_vjp(g, out, base, geom):
    return scatter_to_base(g, geom)


def filled(shape, value, dtype, device):
    """A new tensor filled with value (not requiring grad), made by the launch layer: the ops sit above
    autograd."""
    out = launch.base.empty(shape, dtype, device)
    launch.elementwise.fill(out, value)
    return out


def _copy_into(src, dest):
    launch.elementwise.elementwise("_copy", "a", [src], dest, src.dtype)


def _collapse_broadcast(g, layout):
    """Sum g over the view's stride-0 dims (each such element is one memory location)."""
    shape, strides, offset = layout
    dims = tuple(i for i, (n, s) in enumerate(zip(shape, strides)) if s == 0 and n > 1)
    if not dims:
        return g, layout
    g = g.sum(dim=dims, keepdim=True)
    shape = tuple(1 if i in dims else n for i, n in enumerate(shape))
    return g, (shape, strides, offset)


def _overlapping(layout) -> bool:
    """True if two elements of the layout share a memory location (PyTorch's non-overlap test)."""
    shape, strides, _ = layout
    extent = 0
    for stride, size in sorted((abs(st), n) for n, st in zip(shape, strides) if n > 1):
        if stride <= extent:
            return True
        extent += (size - 1) * stride
    return False


def _scatter_add_into(work, src, layout):
    """work[offset of each element of layout] += src (for layouts whose elements share memory)."""
    shape, strides, offset = layout
    grid = np.full((), offset, dtype=np.int64)
    for n, st in zip(shape, strides):
        grid = grid[..., None] + np.arange(n, dtype=np.int64) * st
    index = launch.base.from_host(grid.reshape(-1), dt.int64, work.device, owned=True)
    work.index_add_(0, index, src.reshape(-1))


def scatter_to_base(g, geom):
    """Zeros laid out like the base with g written where the view lies (differentiable)."""
    numel, blayout, vlayout = geom
    src, vlayout = _collapse_broadcast(g, vlayout)
    with no_grad():
        work = filled((numel,), 0, g.dtype, g.device)
        if _overlapping(vlayout):
            _scatter_add_into(work, src, vlayout)
        else:
            _copy_into(src, work.as_strided(*vlayout))
        out = work.as_strided(*blayout)
    if is_grad_enabled():
        record("AsStridedScatterBackward0", lambda gg, o, a, geom: gather_from_base(gg, geom), [g], out,
               {"geom": geom}, save=frozenset())
    return out


def gather_from_base(g, geom):
    """The part of g (laid out like the base) where the view lies, shaped like the view (differentiable)."""
    numel, blayout, vlayout = geom
    with no_grad():
        work = filled((numel,), 0, g.dtype, g.device)
        _copy_into(g, work.as_strided(*blayout))
        out = work.as_strided(*vlayout)
    if is_grad_enabled():
        record("AsStridedBackward0", lambda gg, o, a, geom: scatter_to_base(gg, geom), [g], out,
               {"geom": geom}, save=frozenset())
    return out


# ---- the engine ----------------------------------------------------------------------------
def _reachable(roots):
    """Every node reachable from roots, parents before children (reverse post-order)."""
    order, seen = [], set()
    for root in roots:
        if root is None or root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, it = stack[-1]
            for nxt, _ in it:
                if nxt is not None and nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, iter(nxt.next_functions)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _plan(roots, targets):
    """Nodes to visit and their dependency counts. With targets (autograd.grad, backward(inputs=)),
    only nodes on a path to a target are visited, as PyTorch does."""
    order = _reachable(roots)
    if targets is None:
        wanted = set(order)
    else:
        wanted = set()
        for node in reversed(order):  # children first
            if node in targets or any(n in wanted for n, _ in node.next_functions if n is not None):
                wanted.add(node)
    deps = {}
    for node in order:
        if node in wanted:
            for nxt, _ in node.next_functions:
                if nxt is not None and nxt in wanted:
                    deps[nxt] = deps.get(nxt, 0) + 1
    return wanted, deps


def run_backward(roots, grads, retain_graph, create_graph, capture=None, accumulate=True):
    """Propagate grads from (node, output_nr) roots.

    capture maps (node, nr) -> slot: those gradients are returned (autograd.grad) and only the
    part of the graph that leads to them runs; accumulate=False leaves every .grad untouched.
    """
    captured = {}
    targets = None if capture is None else {node for node, _ in capture}
    prev = is_grad_enabled()
    _set_enabled(create_graph)
    try:
        wanted, deps = _plan([n for n, _ in roots], targets)
        buffers: dict = {}
        for (node, nr), g in zip(roots, grads):
            if node in wanted:
                _add_to_buffer(buffers, node, nr, g)
        ready = list(dict.fromkeys(n for n, _ in roots if n in wanted and deps.get(n, 0) == 0))
        while ready:
            node = ready.pop()
            out_grads = _gather(node, buffers.pop(node, {}))
            out_grads = _run_pre_hooks(node, out_grads)
            if capture is not None:
                for nr, g in enumerate(out_grads):
                    slot = capture.get((node, nr))
                    if slot is not None:
                        captured[slot] = g
            if isinstance(node, AccumulateGrad):
                if accumulate and out_grads[0] is not None:
                    # NOTE: popped, not indexed: the list must not keep a reference that would stop
                    # accumulate_grad from taking the gradient's memory over (see _sole_owner)
                    accumulate_grad(node.variable, out_grads.pop(0), create_graph)
                    for hook in node.variable.__dict__.get("_post_accumulate_hooks", ()):
                        hook(node.variable)
                continue
            _propagate(node, _apply(node, out_grads, retain_graph), wanted, deps, buffers, ready)
    finally:
        _set_enabled(prev)
    return captured


def _propagate(node, in_grads, wanted, deps, buffers, ready):
    """Hand node's input gradients to the next nodes; those all of whose gradients arrived are ready.
    (A function of its own: no local of run_backward keeps a gradient alive, see _sole_owner.)"""
    for (nxt, nr), g in zip(node.next_functions, in_grads):
        if nxt is None or nxt not in wanted:
            continue
        if g is not None:
            _add_to_buffer(buffers, nxt, nr, g)
        deps[nxt] -= 1
        if deps[nxt] == 0:
            ready.append(nxt)


def _apply(node, out_grads, retain_graph):
    if all(g is None for g in out_grads):
        in_grads = (None,) * len(node.next_functions)
    else:
        in_grads = node.apply(out_grads)
    if node._hooks:
        for h in node._hooks:
            r = h(in_grads, out_grads)
            if r is not None:
                in_grads = tuple(r)
    if not retain_graph:
        node.release()
    return in_grads


def _add_to_buffer(buffers, node, nr, g):
    slots = buffers.setdefault(node, {})
    prev = slots.get(nr)
    slots[nr] = g if prev is None else prev + g


def _gather(node, slots):
    n = getattr(node, "num_outputs", 1)
    return [slots.get(i) for i in range(n)]


def _run_pre_hooks(node, grads):
    """Tensor hooks (leaf and non-leaf), node pre-hooks, then retain_grad, as in PyTorch."""
    if isinstance(node, AccumulateGrad):
        hooks = node.variable._hooks
        if hooks and grads[0] is not None:
            g = grads[0]
            for h in list(hooks):
                r = h(g)
                if r is not None:
                    g = r
            grads = [g]
    if node._pre_hooks:
        for h in list(node._pre_hooks):
            r = h(grads)
            if r is not None:
                grads = list(r)
    if node._retained:
        for nr, ref in node._retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                _retain_value(t, grads[nr])
    return grads


def _retain_value(t, g):
    with no_grad():
        t._grad = g.detach().clone() if t._grad is None else t._grad + g.detach()


_accumulate_lock = threading.RLock()  # backward passes in several threads may share a leaf


def accumulate_grad(leaf, g, create_graph):
    """leaf.grad += g (a fresh tensor the first time), as AccumulateGrad does: the first gradient is
    taken over without a copy when nothing else can reach its memory and it has the leaf's layout."""
    if g._shape != leaf._shape:
        g = sum_to(g, leaf._shape)
    if g.dtype is not leaf.dtype:
        g = _real_if_needed(g, leaf.dtype).to(leaf.dtype)
    # NOTE: the counts are taken here, in the frame whose local `g` is the only holder to expect
    stealable = not create_graph and _sole_owner(_ref_counts(g), g) and _fits_layout(g, leaf)
    with _accumulate_lock:
        _accumulate(leaf, g, create_graph, stealable)


def _ref_counts(t):
    """(references to t, to its storage, to its view base or 0 without one)."""
    base = t._base
    return sys.getrefcount(t), sys.getrefcount(t._storage), sys.getrefcount(base) if base is not None else 0


class _Probe:
    __slots__ = ("_storage", "_base")


def _reference_counts_of_a_sole_owner():
    """What _ref_counts says of a view held by one local variable of its caller, whose base only the
    view holds and whose storage only the two hold: measured, so that it holds for this interpreter's
    calling convention (a tensor without a base counts one storage reference less)."""
    probe, base = _Probe(), _Probe()
    probe._storage = base._storage = _Probe()
    probe._base, base._base = base, None
    del base
    return _ref_counts(probe)


_SOLE_OWNER = _reference_counts_of_a_sole_owner()


def _sole_owner(counts, g):
    """Whether g's reference counts (_ref_counts, taken where one local holds g) say that nothing
    else holds g or its view base, no other tensor holds its memory (a view, an alias, a saved
    tensor, a hook's list) and no numpy array shares it: then no one can see g."""
    tensor, storage, base = counts
    if g._base is None:
        storage += 1  # the base's reference the calibration counts
    elif g._base._storage is not g._storage or g._base._base is not None:
        return False
    return (tensor <= _SOLE_OWNER[0] and storage <= _SOLE_OWNER[1] and base <= _SOLE_OWNER[2]
            and not g._storage.block.exposed)


def _fits_layout(g, leaf):
    """PyTorch's layout contract for .grad: the leaf's strides (a contiguous grad for a leaf whose
    elements overlap or leave gaps)."""
    if g._strides == leaf._strides:
        return True
    return g.is_contiguous() and not _dense(leaf)


def _clone_in_layout(g, leaf):
    """A copy of g with the leaf's strides where the leaf is dense (contiguous, or a permuted layout
    as a channels-last or transposed parameter), as PyTorch's AccumulateGrad copies."""
    if g._strides == leaf._strides or not _dense(leaf):
        return g.clone()
    order = sorted(range(leaf.dim()), key=lambda d: -leaf._strides[d])
    buf = g.new_empty([leaf._shape[d] for d in order])
    strides = [0] * leaf.dim()
    for i, d in enumerate(order):
        strides[d] = buf._strides[i]
    out = type(g)._make(buf._storage, leaf._shape, tuple(strides), 0, g.dtype, g.device)
    return out.copy_(g)


def _dense(t):
    """Whether t's elements cover its memory span exactly once (in some order of its dims)."""
    span = 1
    for size, stride in sorted(((n, abs(s)) for n, s in zip(t._shape, t._strides) if n != 1), key=lambda p: p[1]):
        if stride != span:
            return False
        span *= size
    return True


def _accumulate(leaf, g, create_graph, stealable=False):
    if create_graph:
        leaf._grad = g if leaf._grad is None else leaf._grad + g
        return
    with no_grad():
        # NOTE: a rule may hand the same tensor to several inputs (add), so a new grad is a copy
        # unless no one else holds it (stealable)
        if leaf._grad is None:
            leaf._grad = g.detach() if stealable else _clone_in_layout(g.detach(), leaf)
        elif leaf._grad.requires_grad:  # a grad kept from create_graph: replace, don't write into it
            leaf._grad = leaf._grad.detach() + g
        else:
            leaf._grad.add_(g)
