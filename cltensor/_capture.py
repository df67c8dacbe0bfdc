"""Recording of kernel launches for ``torch.compile`` (see docs/kernels.md, "Capture and replay").

While a ``Recorder`` is active, every ``Backend.submit`` is noted as a ``Launch`` (and still runs:
a trace is an ordinary eager call), every storage made is kept, and anything a replay could not
repeat marks the recording as uncapturable, with the reason: host reads (``.item()``, ``.numpy()``,
``bool()``, an op that reads a count or a bound), host-to-device copies, random draws, waits on
the queue. The caller then keeps the eager result and runs that signature eagerly from then on.

Elementwise kernels are recognised by their kernel object: ``codegen.built`` gives the template
parameters each kernel was rendered with (expression, helpers, operand dtypes and kinds...), which
the fusion pass reuses, and its argument types, which a replay presets.
"""
from __future__ import annotations

import threading

import pyopencl as cl

from . import checks
from .device import Backend, prepared_positional
from .memory import Storage
from .ops import index as _index_ops, random as _random
from .tensor import Tensor

class BoundsCheck:
    """A recorded index bounds check (ops.index._check_bounds): replayed as a check of the replay's
    index values (a host read, as eager does) before the launches that use them."""

    __slots__ = ("args", "kernel", "view", "size", "dim", "message")

    def __init__(self, index, size, dim, message):
        self.args, self.kernel = [index._storage.buffer], None
        self.view = (index._shape, index._strides, index._offset, index.dtype, index.device)
        self.size, self.dim, self.message = size, dim, message

    def run(self, storage):
        shape, strides, offset, dtype, device = self.view
        _index_ops._check_bounds(Tensor._make(storage, shape, strides, offset, dtype, device), self.size, self.dim,
                             None, self.message)


class Launch:
    """One recorded kernel launch: what Backend.submit was called with (every argument)."""

    __slots__ = ("backend", "kernel", "gsize", "lsize", "args", "items")

    def __init__(self, backend, kernel, gsize, lsize, args, items):
        self.backend, self.kernel, self.gsize, self.lsize = backend, kernel, gsize, lsize
        self.args, self.items = list(args), items


class Uncapturable(Exception):
    pass


def buffer_key(buf) -> int:
    return buf.int_ptr


def is_buffer(a) -> bool:
    return isinstance(a, cl.MemoryObjectHolder)


class Recorder:
    """Context manager that records launches, allocations and anything that defeats a replay."""

    _active = None

    def __init__(self):
        self.launches: list = []
        self.storages: dict = {}  # buffer key -> (storage, allocate args or None for host data)
        self.checks: list = []  # (offender tensor, passes, error) registered by checks.defer
        self.reason = None  # why this recording cannot be replayed
        self.paused = False  # inside a recorded bounds check: its reads are allowed, its launches not kept
        self.thread = threading.get_ident()  # other threads' launches and reads are theirs, not the trace's
        self._saved = []

    def fail(self, reason):
        if self.reason is None:
            self.reason = reason

    def __enter__(self):
        if Recorder._active is not None:
            raise Uncapturable("a compiled function called inside another's trace")
        Recorder._active = self
        rec = self

        def patch(owner, name, make):
            original = owner.__dict__[name]
            self._saved.append((owner, name, original))
            setattr(owner, name, make(original))

        def submit(orig):
            def recording_submit(backend, kernel, gsize, lsize, args, values, preset, items):
                if not rec.paused and threading.get_ident() == rec.thread:
                    full = args if preset is None else prepared_positional(args, values, preset)
                    rec.launches.append(Launch(backend, kernel, gsize, lsize, full, items))
                return orig(backend, kernel, gsize, lsize, args, values, preset, items)
            return recording_submit

        def allocate(orig):
            def recording_allocate(cls, backend, nbytes, host):
                s = orig.__func__(cls, backend, nbytes, host)
                if threading.get_ident() == rec.thread:
                    rec.storages[buffer_key(s.buffer)] = (s, (backend, nbytes, host))
                return s
            return classmethod(recording_allocate)

        def allocate_from(orig):
            def recording_allocate_from(cls, backend, pool, nbytes, host):
                s = orig.__func__(cls, backend, pool, nbytes, host)
                if threading.get_ident() == rec.thread:
                    rec.storages[buffer_key(s.buffer)] = (s, (backend, nbytes, host))
                return s
            return classmethod(recording_allocate_from)

        def from_host(orig):
            def recording_from_host(cls, backend, array):
                s = orig.__func__(cls, backend, array)
                if threading.get_ident() == rec.thread:
                    rec.storages[buffer_key(s.buffer)] = (s, None)
                return s
            return classmethod(recording_from_host)

        def refuse(reason):
            def make(orig):
                def refused(*a, **kw):
                    if not rec.paused and threading.get_ident() == rec.thread:
                        rec.fail(reason)
                    return orig(*a, **kw)
                return refused
            return make

        def defer(orig):
            def recording_defer(offender, passes, error):
                if threading.get_ident() == rec.thread:
                    rec.checks.append((offender, passes, error))
                return orig(offender, passes, error)
            return recording_defer

        def bounds(orig):
            def recording_bounds(index, size, dim, bounds=None, message=None):
                if bounds is not None or index.numel() == 0 or threading.get_ident() != rec.thread:
                    return orig(index, size, dim, bounds, message)
                rec.paused = True
                try:
                    orig(index, size, dim, bounds, message)
                finally:
                    rec.paused = False
                rec.launches.append(BoundsCheck(index, size, dim, message))
            return recording_bounds

        patch(Backend, "submit", submit)
        patch(_index_ops, "_check_bounds", bounds)
        patch(Storage, "allocate", allocate)
        patch(Storage, "allocate_from", allocate_from)
        patch(Storage, "from_host_array", from_host)
        for name in ("read", "read_view", "_device_bytes", "expose"):
            patch(Storage, name, refuse("a host read of tensor data"))
        patch(Tensor, "_to_numpy_copy", refuse("a host read of tensor data"))
        patch(Backend, "finish", refuse("a wait for the device"))
        patch(_random.Generator, "_take", refuse("a random draw"))
        patch(checks, "defer", defer)
        patch(cl, "enqueue_copy", refuse("a copy between host and device"))
        return self

    def __exit__(self, *exc):
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved = []
        Recorder._active = None
        return False


def recording() -> bool:
    return Recorder._active is not None
