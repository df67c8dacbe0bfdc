"""``torch.compile``: capture a call's kernel launches once per input signature, fuse elementwise
chains, and replay the launch list on later calls (docs/kernels.md, "Capture and replay").

The first call with a new signature (shapes, dtypes, strides, offsets, devices, requires_grad,
which inputs share memory, non-tensor arguments, grad mode) runs eagerly under a Recorder. When a
result needs gradients, autograd.grad is then run once, recorded too, with fresh gradients as the
outputs' gradients: that recording is the backward. Later calls replay the (fused) forward list
with the new inputs' buffers and fresh output buffers, and hang one autograd node on the outputs
whose backward replays the backward list. A signature whose trace did something a replay cannot
repeat runs eagerly from then on.
"""
from __future__ import annotations

import functools
import gc

import pyopencl as cl

from . import _capture, checks, codegen

from ._capture import Launch, Recorder, buffer_key, is_buffer
from ._fusion import fuse
from .autograd import Function, grad, is_grad_enabled
from .autograd import graph as _graph
from .device import Backend
from .memory import Block, Storage
from .nn.module import Module
from .ops.creation import ones
from .tensor import Tensor

_RECOMPILE_LIMIT = 8


class OptimizedModule(Module):
    """What ``torch.compile(module)`` returns: a Module whose calls are captured and replayed.

    As in PyTorch, parameters and the state_dict appear under ``_orig_mod.``, and attributes the
    wrapper lacks are read from the original module.
    """

    def __init__(self, mod: Module):
        super().__init__()
        self._orig_mod = mod
        self.__dict__["_compiled_call"] = _Compiled(mod, mod)

    def forward(self, *args, **kwargs):
        return self.__dict__["_compiled_call"](*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            orig = self.__dict__.get("_modules", {}).get("_orig_mod")
            if orig is None:
                raise
            return getattr(orig, name)


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor", mode=None, options=None,
            disable: bool = False, **kwargs):
    """``torch.compile(model_or_fn, ...)``: returns a callable that computes the same as its argument.

    Calls are traced once per input signature and replayed as a recorded list of kernel launches
    with elementwise chains fused into single kernels; a call that reads tensor values on the host,
    draws random numbers or changes its inputs in place runs eagerly instead. A Module comes back
    wrapped in an ``OptimizedModule`` (``_orig_mod`` is the original), a function wrapped by
    ``functools.wraps``; with no model, a decorator is returned. ``disable=True`` runs eagerly.
    """
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                  options=options, disable=disable, **kwargs)
    if not callable(model):
        raise RuntimeError(f"torch.compile expects a callable, got {type(model).__name__}")
    if isinstance(model, Module):
        wrapped = OptimizedModule(model)
        if disable:
            wrapped.__dict__["_compiled_call"] = model
        return wrapped
    call = model if disable else _Compiled(model)

    @functools.wraps(model)
    def compiled(*args, **kw):
        return call(*args, **kw)

    compiled._compiled = call if not disable else None
    return compiled


# ---- flattening of arguments and results ---------------------------------------------------------
_T = "<tensor>"


def _flatten(obj, tensors):
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return _T
    if type(obj) in (tuple, list):
        return (type(obj), tuple(_flatten(o, tensors) for o in obj))
    if type(obj) is dict:
        return (dict, tuple((k, _flatten(v, tensors)) for k, v in obj.items()))
    return ("const", obj)


def _unflatten(spec, it):
    if spec is _T:
        return next(it)
    kind, body = spec
    if kind == "const":
        return body
    if kind is dict:
        return {k: _unflatten(v, it) for k, v in body}
    return kind(_unflatten(s, it) for s in body)


def _flatten_call(args, kwargs, tensors):
    """The arguments' structure (tensors collected in order), quickly for plain positional calls."""
    spec = []
    for a in args:
        if isinstance(a, Tensor):
            tensors.append(a)
            spec.append(_T)
        else:
            spec.append(_flatten(a, tensors))
    if kwargs:
        spec.append(_flatten(tuple(sorted(kwargs.items())), tensors))
    return tuple(spec)


def _signature(tensors):
    first = {}
    return tuple([(t.dtype, t._shape, t._strides, t._offset, id(t.device), t.requires_grad,
                   first.setdefault(id(t._storage), i)) for i, t in enumerate(tensors)])


class _Eager:
    """A signature that runs eagerly, and why."""

    def __init__(self, reason):
        self.reason = reason


class _Compiled:
    """The per-function state: one entry (a replayable program, or _Eager) per signature."""

    def __init__(self, fn, module=None):
        self.fn, self.module = fn, module
        self.entries: dict = {}

    def _key(self, args, kwargs, tensors):
        key = (_flatten_call(args, kwargs, tensors), _signature(tensors), is_grad_enabled())
        if self.module is not None:
            key += (self.module.training,)
        hash(key)
        return key

    def __call__(self, *args, **kwargs):
        if _capture.recording():  # inside another compiled function's trace: its recording covers this
            return self.fn(*args, **kwargs)
        tensors = []
        try:
            key = self._key(args, kwargs, tensors)
        except TypeError:  # an unhashable argument: nothing to guard on
            return self.fn(*args, **kwargs)
        entry = self.entries.get(key)
        if entry is not None and not isinstance(entry, _Eager) and not entry.guards_hold():
            entry = None
        if entry is None:
            if key not in self.entries and len(self.entries) >= _RECOMPILE_LIMIT:
                return self.fn(*args, **kwargs)
            return self._trace(key, args, kwargs, tensors)
        if isinstance(entry, _Eager):
            return self.fn(*args, **kwargs)
        return entry.replay(tensors)

    def _trace(self, key, args, kwargs, tensors):
        versions = [t._version for t in tensors]
        rec = Recorder()
        try:
            rec.__enter__()
        except _capture.Uncapturable:  # another thread is tracing: this call runs eagerly
            return self.fn(*args, **kwargs)
        try:
            out = self.fn(*args, **kwargs)
        finally:
            rec.__exit__(None, None, None)
        if rec.reason is None and any(t._version != v for t, v in zip(tensors, versions)):
            rec.fail("an in-place op on an input")
        entry = _build_entry(rec, tensors, out, self.module)
        self.entries[key] = entry
        return out


# ---- programs: launch lists whose buffer arguments are filled per call ----------------------------
class _Program:
    """Recorded launches; per call, the buffers of the slots they name are put in their arguments.

    Each launch gets a kernel object of its own whose arguments are set once, here; a replay sets
    only the slot arguments (the buffers that change per call) and enqueues (the CUDA-graphs idea).
    That direct path is taken while Backend.submit is the stock one and nothing else needs to see
    the launches (the profiler, numpy-shared memory); otherwise each launch goes through
    Backend.launch as eager launches do.
    """

    def __init__(self, launches, slot_of, checks_, held):
        self.steps = []
        self.has_bounds = False
        for l in launches:
            if l.kernel is None:  # a BoundsCheck
                k = buffer_key(l.args[0])
                self.steps.append((None, None, None, None, None, l, (slot_of.get(k), held.get(k))))
                self.has_bounds = True
                continue
            patches = tuple((i, slot_of[buffer_key(a)]) for i, a in enumerate(l.args)
                            if is_buffer(a) and buffer_key(a) in slot_of)
            self.steps.append((l.backend, l.kernel, l.gsize, l.lsize, l.items, l.args, patches))
        self.checks = checks_
        self.count = len(self.steps)
        self.constants = [s.buffer for s in held.values()]
        self.direct = _direct_segments(self.steps)

    def run(self, table, storages=None):
        if self.direct is not None and _may_go_direct(self, table):
            self._run_direct(table, storages)
        else:
            self._run_launches(table, storages)
        for offender, passes, error in self.checks:
            checks.defer(offender, passes, error)

    def _run_launches(self, table, storages):
        for backend, kernel, gsize, lsize, items, args, patches in self.steps:
            if kernel is None:
                slot, storage = patches
                args.run(storage if slot is None else storages[slot])
                continue
            if patches:
                args = args[:]
                for i, slot in patches:
                    args[i] = table[slot]
            backend.launch(kernel, gsize, lsize, args, items)

    def _run_direct(self, table, storages):
        backend, segments = self.direct
        for segment in segments:
            if isinstance(segment, tuple):  # a bounds check: a host read, after the launches before it
                check, (slot, storage) = segment
                check.run(storage if slot is None else storages[slot])
                continue
            with backend.lock:
                backend._flush_locked()  # launches held back by Backend.submit go first
                queue = backend._queue
                gate = cl.UserEvent(backend.context) if 0 < backend.gate_batch <= len(segment) else None
                wait = [gate] if gate is not None else None
                try:
                    for kernel, gsize, lsize, patches in segment:
                        for i, slot in patches:
                            kernel.set_arg(i, table[slot])
                        cl.enqueue_nd_range_kernel(queue, kernel, gsize, lsize, wait_for=wait)
                        wait = None
                except cl.Error as err:
                    raise backend.failure(err) from err
                finally:
                    if gate is not None:
                        gate.set_status(cl.command_execution_status.COMPLETE)


_STOCK_SUBMIT = Backend.submit  # every launch passes it: a patched one wants to see them


def _direct_segments(steps):
    """(backend, segments) for the direct path: runs of preset kernels split at bounds checks;
    None where a launch's kernel has no known argument dtypes or launches span devices."""
    backends = {st[0] for st in steps if st[1] is not None}
    if len(backends) != 1:
        return None
    segments, run = [], []
    for backend, kernel, gsize, lsize, items, args, patches in steps:
        if kernel is None:
            if run:
                segments.append(run)
                run = []
            segments.append((args, patches))
            continue
        entry = codegen.built(kernel)
        if entry is None or entry[1] is None:
            return None
        own = cl.Kernel(kernel.program, kernel.function_name)
        own.set_scalar_arg_dtypes(entry[1])
        own.set_args(*args)
        run.append((own, gsize, lsize, patches))
    if run:
        segments.append(run)
    return backends.pop(), segments


def _may_go_direct(program, table):
    backend = program.direct[0]
    if type(backend).submit is not _STOCK_SUBMIT or backend.recorder is not None:
        return False
    state = backend.host_state
    if not state:
        return True
    with backend.lock:  # as memory.settle_for_launch: drop snapshots of host reads; numpy-shared memory
        for buffers in (table, program.constants):  # needs map/unmap around launches: the stock path
            for buf in buffers:
                block = state.get(buf)
                if block is not None:
                    if block.exposed:
                        return False
                    block.snapshot = None
                    state.pop(buf, None)
    return True


class _Layout:
    """How a result tensor is made from a slot's storage."""

    __slots__ = ("slot", "shape", "strides", "offset", "dtype", "device")

    def __init__(self, slot, t):
        self.slot, self.shape, self.strides, self.offset = slot, t._shape, t._strides, t._offset
        self.dtype, self.device = t.dtype, t.device

    def make(self, storage):
        return Tensor._make(storage, self.shape, self.strides, self.offset, self.dtype, self.device)


def _storage_finder(candidates):
    known = {}
    for t in candidates:
        known.setdefault(buffer_key(t._storage.buffer), t._storage)

    def find(buf):
        s = known.get(buffer_key(buf))
        if s is not None:
            return s
        for block in gc.get_referrers(buf):
            if isinstance(block, Block) and block.buffer is buf:
                for s in gc.get_referrers(block):
                    if isinstance(s, Storage) and s.block is block:
                        return s
        return None
    return find


class _Slots:
    """Buffer key -> slot number, and what fills each slot."""

    def __init__(self):
        self.of: dict = {}
        self.count = 0

    def add(self, key):
        slot = self.of.get(key)
        if slot is None:
            slot = self.of[key] = self.count
            self.count += 1
        return slot


def _share_scratch(launches, slots, made, pinned):
    """launches with the scratch buffers (made during the trace, filled by no slot) whose lifetimes
    do not overlap sharing one buffer, as eager's allocator would have reused them: a replay keeps
    about eager's peak of temporaries instead of every one the trace made."""
    slot_of = slots.of if slots is not None else {}
    pinned = pinned | {buffer_key(l.args[0]) for l in launches if l.kernel is None}  # bounds checks' indices
    first, last = {}, {}
    for n, l in enumerate(launches):
        for a in l.args:
            if is_buffer(a):
                k = buffer_key(a)
                if k in made and made[k][1] is not None and k not in slot_of and k not in pinned:
                    first.setdefault(k, n)
                    last[k] = n
    if not first:
        return launches
    ends: dict = {}
    for k, n in last.items():
        ends.setdefault(n, []).append(k)
    free: dict = {}  # (backend, host, block size) -> buffers free from here on
    target = {}
    for n, l in enumerate(launches):
        for a in l.args:
            if is_buffer(a):
                k = buffer_key(a)
                if first.get(k) == n and k not in target:
                    storage = made[k][0]
                    pool = free.get((id(storage.backend), made[k][1][2], storage.block.nbytes))
                    target[k] = pool.pop() if pool else a
        for k in ends.get(n, ()):
            storage = made[k][0]
            free.setdefault((id(storage.backend), made[k][1][2], storage.block.nbytes), []).append(target[k])
    remapped = []
    for l in launches:
        if l.kernel is None or not any(is_buffer(a) and buffer_key(a) in target for a in l.args):
            remapped.append(l)
            continue
        args = [target.get(buffer_key(a), a) if is_buffer(a) else a for a in l.args]
        remapped.append(Launch(l.backend, l.kernel, l.gsize, l.lsize, args, l.items))
    return remapped


def _hold_constants(launches, slots, find, made):
    """Buffer key -> storage of the buffers the launches use that no slot fills (kept alive for
    replays); None when one of them cannot be found."""
    held = {}
    for l in launches:
        for a in l.args:
            if is_buffer(a):
                k = buffer_key(a)
                if k in slots.of or k in held:
                    continue
                s = made[k][0] if k in made else find(a)
                if s is None:
                    return None
                held[k] = s
    return held


def _leaves(outputs, boundary):
    """The leaf tensors requiring grad that the outputs' graph reaches short of the boundary nodes."""
    seen, found, stack = set(), [], [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, _graph.AccumulateGrad):
            found.append(node.variable)
            continue
        if id(node) in boundary:
            continue
        stack.extend(nxt for nxt, _ in node.next_functions)
    for o in outputs:
        if o.grad_fn is None and o.requires_grad:
            found.append(o)
    return found


def _unique(tensors):
    seen, out = set(), []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


def _build_entry(rec, tensors, out, module):
    try:
        return _Entry(rec, tensors, out, module)
    except (_NotReplayable, _capture.Uncapturable) as e:
        return _Eager(str(e))


class _NotReplayable(Exception):
    pass


class _Entry:
    """One captured signature: the forward program, and the backward one where results need grads."""

    def __init__(self, rec, tensors, out, module):
        if rec.reason is not None:
            raise _NotReplayable(rec.reason)
        outs = []
        self.out_spec = _flatten(out, outs)
        self.needs_grad = is_grad_enabled() and any(o.requires_grad for o in outs)
        self.state = _module_state(module)
        made = rec.storages
        inputs = {}
        for i, t in enumerate(tensors):
            inputs.setdefault(buffer_key(t._storage.buffer), i)
        out_keys = [buffer_key(o._storage.buffer) for o in outs]
        for o, k in zip(outs, out_keys):
            fresh = k in made and made[k][1] is not None
            if not fresh and not (k in inputs and not self.needs_grad):
                raise _NotReplayable("a result that is no new tensor")
        if self.needs_grad and len(set(out_keys)) < len(out_keys):
            raise _NotReplayable("results that share memory")
        self.out_diff = [o.requires_grad for o in outs]
        saved = set()
        if self.needs_grad:
            saved = self._capture_backward(tensors, outs, made, inputs)
        find = _storage_finder(list(tensors) + [t for _, _, t, _, _ in self.state])
        # forward program: slots for the inputs' buffers and for new buffers (results, saved)
        slots = _Slots()
        self.f_inputs = [(slots.add(k), i) for k, i in inputs.items()]
        new_keys = [k for k in dict.fromkeys(out_keys + sorted(saved)) if k not in inputs]
        self.f_new = [(slots.add(k), made[k][1]) for k in new_keys]
        offenders = {buffer_key(c[0]._storage.buffer) for c in rec.checks}
        eliminable = {k for k, (s, alloc) in made.items() if alloc is not None} - set(new_keys) - offenders
        launches = _share_scratch(fuse(rec.launches, eliminable), slots, made, offenders)
        self.f_held = _hold_constants(launches, slots, find, made)
        if self.f_held is None:
            raise _NotReplayable("a buffer of unknown origin")
        self.forward = _Program(launches, slots.of, rec.checks, self.f_held)
        self.f_slots = slots.count
        self.out_layouts = [_Layout(slots.of[k], o) for o, k in zip(outs, out_keys)]
        if self.needs_grad:
            self.b_saved = [(b_slot, slots.of[k]) for b_slot, k in self.b_saved]

    def _capture_backward(self, tensors, outs, made, inputs):
        diff = [o for o in outs if o.requires_grad]
        boundary = {id(t.grad_fn) for t in tensors if t.requires_grad and t.grad_fn is not None}
        self.leaves = [t for t in _unique(_leaves(diff, boundary)) if not any(t is x for x in tensors)]
        targets = _unique([t for t in tensors if t.requires_grad] + self.leaves)
        seeds = [ones(o._shape, dtype=o.dtype, device=o.device) for o in diff]
        rec = Recorder()
        with rec:
            grads = grad(diff, targets, seeds, retain_graph=True, allow_unused=True)
        if rec.reason is not None:
            raise _NotReplayable("backward: " + rec.reason)
        self.diff_index = [i for i, o in enumerate(outs) if o.requires_grad]
        self.seed_meta = [(o._shape, o.dtype) for o in diff]
        slots = _Slots()
        seed_keys = [buffer_key(s._storage.buffer) for s in seeds]
        self.b_seeds = [slots.add(k) for k in seed_keys]
        b_made = rec.storages
        grad_keys = {}
        for g in grads:
            if g is None:
                continue
            k = buffer_key(g._storage.buffer)
            if not (k in b_made and b_made[k][1] is not None) and k not in seed_keys:
                raise _NotReplayable("backward: a gradient that is no new tensor")
            grad_keys[k] = None
        offenders = {buffer_key(c[0]._storage.buffer) for c in rec.checks}
        eliminable = {k for k, (s, alloc) in b_made.items() if alloc is not None} - set(grad_keys) - offenders
        launches = _share_scratch(fuse(rec.launches, eliminable), None, b_made,
                                  offenders | set(seed_keys) | set(grad_keys))
        used = {buffer_key(a) for l in launches for a in l.args if is_buffer(a)}
        saved = {k for k in used if k in made and made[k][1] is not None}
        self.b_inputs = [(slots.add(k), i) for k, i in inputs.items() if k in used]
        self.b_saved = [(slots.add(k), k) for k in sorted(saved) if k not in inputs]
        new_grads = [k for k in grad_keys if k not in seed_keys]
        self.b_new = [(slots.add(k), b_made[k][1]) for k in new_grads]
        find = _storage_finder(list(tensors) + targets + seeds)
        self.b_held = _hold_constants(launches, slots, find, {**made, **b_made})
        if self.b_held is None:
            raise _NotReplayable("backward: a buffer of unknown origin")
        self.backward = _Program(launches, slots.of, rec.checks, self.b_held)
        self.b_slots = slots.count
        self.grad_layouts = [None if g is None else _Layout(slots.of[buffer_key(g._storage.buffer)], g)
                             for g in grads]
        # position of each forward argument of the autograd node -> index into targets
        self.n_inputs = len(tensors)
        order = {id(t): n for n, t in enumerate(targets)}
        given, self.grad_of_arg = set(), []
        for t in list(tensors) + self.leaves:
            n = order.get(id(t)) if id(t) not in given else None
            given.add(id(t))
            self.grad_of_arg.append(n)
        return saved

    # ---- per call ------------------------------------------------------------------------------
    def guards_hold(self) -> bool:
        """The module's parameters and buffers are the traced ones, over the same memory, with the
        same requires_grad (their values may change: replays read them through their buffers)."""
        for table, name, t, s, rg in self.state:
            p = table.get(name)
            if p is not t or p._storage is not s or p.requires_grad is not rg:
                return False
        return True

    def run_forward(self, tensors):
        table = [None] * self.f_slots
        for slot, i in self.f_inputs:
            table[slot] = tensors[i]._storage.buffer
        storages = {}
        for slot, (backend, nbytes, host) in self.f_new:
            s = storages[slot] = Storage.allocate(backend, nbytes, host)
            table[slot] = s.buffer
        if self.forward.has_bounds:
            by_slot = [None] * self.f_slots
            for slot, i in self.f_inputs:
                by_slot[slot] = tensors[i]._storage
            for slot, s in storages.items():
                by_slot[slot] = s
            self.forward.run(table, by_slot)
        else:
            self.forward.run(table)
        outs = []
        for layout in self.out_layouts:
            s = storages.get(layout.slot)
            if s is None:  # a view of an input (no-grad calls only)
                s = next(tensors[i]._storage for slot, i in self.f_inputs if slot == layout.slot)
            outs.append(layout.make(s))
        return outs, storages

    def replay(self, tensors):
        if not self.needs_grad:
            outs, _ = self.run_forward(tensors)
        else:
            outs = _CompiledFunction.apply(self, len(tensors), *tensors, *self.leaves)
        return _unflatten(self.out_spec, iter(outs))

    def run_backward(self, inputs, storages, grads):
        table = [None] * self.b_slots
        grads = list(grads)
        for slot, (shape, dtype), j in zip(self.b_seeds, self.seed_meta, self.diff_index):
            g = grads[j]
            if g._strides != _contiguous_strides(shape) or g._offset or g.dtype is not dtype:
                g = g.to(dtype).contiguous()
                if g._offset:
                    g = g.clone()
            table[slot] = g._storage.buffer
            grads[j] = g
        for slot, i in self.b_inputs:
            table[slot] = inputs[i]._storage.buffer
        for b_slot, f_slot in self.b_saved:
            table[b_slot] = storages[f_slot].buffer
        new = {}
        for slot, (backend, nbytes, host) in self.b_new:
            s = new[slot] = Storage.allocate(backend, nbytes, host)
            table[slot] = s.buffer
        if self.backward.has_bounds:
            by_slot = [None] * self.b_slots
            for slot, j in zip(self.b_seeds, self.diff_index):
                by_slot[slot] = grads[j]._storage
            for slot, i in self.b_inputs:
                by_slot[slot] = inputs[i]._storage
            for b_slot, f_slot in self.b_saved:
                by_slot[b_slot] = storages[f_slot]
            for slot, s in new.items():
                by_slot[slot] = s
            self.backward.run(table, by_slot)
        else:
            self.backward.run(table)
        seed_storage = {slot: grads[j]._storage for slot, j in zip(self.b_seeds, self.diff_index)}
        results = [None if layout is None else layout.make(new.get(layout.slot) or seed_storage[layout.slot])
                   for layout in self.grad_layouts]
        return [None if n is None else results[n] for n in self.grad_of_arg]


def _contiguous_strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _module_state(module):
    """(dict, name, tensor, storage, requires_grad) for each parameter and buffer of the module:
    what a replay checks is still in place."""
    if module is None:
        return []
    state = []
    for sub in module.modules():
        for table in (sub._parameters, sub._buffers):
            for name, t in table.items():
                if t is not None:
                    state.append((table, name, t, t._storage, t.requires_grad))
    return state


class _CompiledFunction(Function):
    """One autograd node for a replayed call: its backward replays the captured backward list."""

    @staticmethod
    def forward(ctx, entry, n, *tensors):
        inputs = tensors[:n]
        outs, storages = entry.run_forward(inputs)
        ctx.entry, ctx.inputs, ctx.storages = entry, inputs, storages
        frozen = [o for o, d in zip(outs, entry.out_diff) if not d]
        if frozen:
            ctx.mark_non_differentiable(*frozen)
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        if is_grad_enabled():  # create_graph=True
            raise RuntimeError("double backward through a compiled function is not supported: the replayed "
                               "backward records no graph; differentiate the uncompiled function instead")
        return (None, None, *ctx.entry.run_backward(ctx.inputs, ctx.storages, grads))
