"""OpenCL discovery and device naming.

``'cpu'`` is host memory, computed on by the OpenCL CPU driver (PoCL) over that same memory (where
none is installed, by the default OpenCL device over host pointers, with a warning);
``'cl:N'`` is the N-th OpenCL device across all platforms; ``'gpu'`` is the first GPU;
``'cuda'``/``'cuda:N'`` is the current/N-th OpenCL GPU (the devices :func:`cuda_cl_indices` lists),
as PyTorch's ROCm build presents AMD GPUs as ``cuda``: such a device prints as ``cl:<index>``.
Each OpenCL device gets one context and one in-order queue (a :class:`Backend`), shared by
every cltensor device that computes on it.
"""
from __future__ import annotations

import atexit
import os
import threading
import warnings

import pyopencl as cl

from . import checks
from .memory import Allocator, map_block, settle_for_launch

_lock = threading.RLock()
_cl_devices: list | None = None
_backends: dict = {}
_default_device = None


def _all_cl_devices() -> list:
    global _cl_devices
    if _cl_devices is None:
        found = []
        try:
            platforms = cl.get_platforms()
        except cl.Error:
            platforms = []
        for platform in platforms:
            try:
                found.extend(platform.get_devices())
            except cl.Error:
                pass
        _cl_devices = found
    return _cl_devices


def prepared_positional(buffers, values, preset) -> list:
    """Every argument of a prepared launch (Backend.submit) in the kernel's order, as a
    full-argument launch passes them."""
    by_index = dict(zip(buffers[::2], buffers[1::2]))
    for triples in (preset, values):
        by_index.update(zip(triples[::3], triples[2::3]))
    return [by_index[i] for i in range(len(by_index))]


class Backend:
    """One OpenCL device: its context, in-order queue, capabilities, allocator and kernels."""

    def __init__(self, cl_device):
        self.cl_device = cl_device
        self.name = cl_device.name.strip()
        self.is_cpu = bool(cl_device.type & cl.device_type.CPU)
        self.is_gpu = bool(cl_device.type & cl.device_type.GPU)
        # which kernel variants to take: CPU ones (vector lanes, no local memory) or GPU ones (local
        # memory tiles, work-group reductions); CLTENSOR_TUNING=gpu|cpu overrides the device type, so
        # that the GPU variants can be checked on a CPU driver or under Oclgrind
        self.cpu_tuned = (_tuning_override() or ("cpu" if self.is_cpu else "gpu")) == "cpu"
        exts = cl_device.extensions.split()
        self.has_fp64 = "cl_khr_fp64" in exts or cl_device.double_fp_config != 0
        self.has_fp16 = "cl_khr_fp16" in exts
        self.max_work_group_size = cl_device.max_work_group_size
        self.local_mem_size = cl_device.local_mem_size
        self.compute_units = cl_device.max_compute_units
        self.context = cl.Context([cl_device])
        props = cl.command_queue_properties.PROFILING_ENABLE if _profiling_requested() else 0
        self._queue = cl.CommandQueue(self.context, properties=props)
        self.lock = threading.RLock()
        self.allocator = Allocator(self)
        # cl.Buffer -> memory.Block with host-side state a launch that uses it must settle first (see
        # memory.py): exposed blocks, whose memory numpy arrays share (mapped except while such a
        # launch runs), and device-owned blocks with a snapshot of a host read
        self.host_state: dict = {}
        self.kernels: dict = {}  # launch key -> cl.Kernel, filled by codegen
        self.plans: dict = {}  # elementwise launch key -> plan (launch.elementwise.elementwise_plan)
        self.reduce_plans: dict = {}  # reduction layout -> stages (launch.reduce.reduce), cleared when full
        self.group_limits: dict = {}  # cl.Kernel -> its work-group size limit here (launch.base.group_limit)
        self.build_options = ["-cl-std=CL1.2"]
        # contiguous elementwise kernels handle `elementwise_vec` elements per work-item with vector
        # loads (PoCL CPU: 4 floats per item reach the copy bandwidth; 1 per item reaches ~60% of it)
        self.elementwise_wg = 256
        self.elementwise_vec = 4
        # strided elementwise kernels on CPUs: one work-item per 16x16 block (see elementwise.cl.mako)
        self.elementwise_tile = 16 if self.cpu_tuned else 0
        self.pending: list = []  # small launches not yet handed to the driver (see submit)
        self.pending_items = 0  # their work-items
        self.defer_items = _DEFER_ITEMS if self.cpu_tuned else 0
        self.is_pocl = cl_device.platform.name.strip() == "Portable Computing Language"
        # NOTE: llvmpipe (Mesa's CPU driver, under rusticl) ends a work-item's loops after 65 535
        # iterations in all, silently: reductions keep each work-item's share of a row below that
        self.loop_limit = 65_535 if self.name.startswith("llvmpipe") else 0
        # batches at least this long are enqueued behind a user event, on PoCL only (measured there).
        # NOTE: not on rusticl (Mesa 22.3): its enqueue blocks while another thread waits in a blocking
        # read or finish, and that wait needs the gate this thread would open after enqueuing: deadlock
        self.gate_batch = 16 if self.is_pocl else 0
        # held launches are submitted once there are batch_limit of them or batch_items work-items in
        # them: enough that the driver's workers wake once for the lot, few enough that they can start
        # while Python goes on (a chain of 100-element ops: 64 launches 15.9 us per op, 256 14.7, 1024,
        # never flushed in the chain, 16.4; 2000-element ops prefer ~32 launches; measured)
        self.batch_limit = 256
        self.batch_items = 1 << 16
        self.presets: dict = {}  # kernel -> the preset (submit) its arguments hold, under the lock
        self.recorder = None  # a list while cltensor.profiler is recording: (kernel, event) pairs
        self.pending_checks: list = []  # checks of device values raised at the next host read (checks.py)
        if props:
            self.recorder = []

    @property
    def queue(self) -> cl.CommandQueue:
        """The in-order queue, with every deferred launch submitted: anything that touches the queue
        directly (copies, host reads, finish) sees all work launched before it."""
        if self.pending:
            self.flush()
        return self._queue

    def launch(self, kernel, gsize, lsize, args, items):
        """Enqueue kernel(*args) over gsize/lsize (every argument given). Never waits: see submit."""
        self.submit(kernel, gsize, lsize, args, None, None, items)

    def submit(self, kernel, gsize, lsize, args, values, preset, items):
        """Enqueue a launch of kernel over gsize/lsize. Never waits. Every launch comes this way.

        preset None: args are all the kernel's arguments. Otherwise a prepared launch (a plan whose
        arguments are mostly fixed, launch.elementwise's): preset, the (index, type char, value, ...)
        the plan fixes, is set on the kernel only where its arguments hold another plan's; args,
        (index, cl.Buffer, ...), and values, (index, type char, value, ...), are the call's own.
        _flush_locked sets them under the lock at submission, so threads sharing a kernel cannot mix
        their arguments, with pyopencl's multi-argument setters (what its own invokers call).

        On CPU drivers a launch of fewer than defer_items work-items is held back and submitted with
        the next big launch, queue access, or once batch_limit launches or batch_items work-items
        are held: PoCL wakes its sleeping worker threads on every submission (~10 us of the
        enqueuing thread's time, measured), while back-to-back submissions cost ~3-5 us each, and a
        batch enqueued behind a user event lets the workers wake once (a chain of tiny ops: 20 -> 11
        us per op, measured). Order is kept, so the allocator's reuse rule holds.

        A launch that uses host-side state (memory.py) settles it first: it drops snapshots of host
        reads and queues the unmap of memory numpy shares (from_numpy/.numpy()), as the OpenCL rules
        for USE_HOST_PTR buffers ask; such a launch runs now, as PyTorch's CPU ops do, and maps the
        memory back before returning: numpy sees the kernel's writes and the kernel numpy's (PoCL
        computes in place either way, a caching driver copies at the unmap and the map).
        """
        # NOTE: acquire/release, not `with`: a with-statement costs twice as much here (~0.55 against
        # ~0.25 us, measured), and every op passes this way
        lock = self.lock
        lock.acquire()
        try:
            state = self.host_state
            exposed = settle_for_launch(self, args) if state and not state.keys().isdisjoint(args) else None
            pending = self.pending
            pending.append((kernel, gsize, lsize, args, values, preset))
            self.pending_items += items
            if exposed:
                self._run_exposed_locked(exposed)
            elif (items >= self.defer_items or len(pending) >= self.batch_limit
                  or self.pending_items >= self.batch_items):
                self._flush_locked()
        finally:
            lock.release()

    def _run_exposed_locked(self, blocks):
        try:
            self._flush_locked()
        finally:
            remap = [b for b in blocks if b.exposed and b.mapping is None]  # not freed meanwhile (gc)
            for i, block in enumerate(remap):  # the last map waits for the kernel and the other maps
                map_block(self, block, blocking=i == len(remap) - 1)

    def flush(self):
        with self.lock:
            self._flush_locked()

    def failure(self, err) -> RuntimeError:
        """What a failed OpenCL call on this device (lost device, driver fault) surfaces as."""
        return RuntimeError(f"OpenCL device {self.name} failed: {err}")

    def _flush_locked(self):
        launches, self.pending, self.pending_items = self.pending, [], 0
        if not launches:
            return
        queue, recorder = self._queue, self.recorder
        gate = cl.UserEvent(self.context) if 0 < self.gate_batch <= len(launches) else None
        # the first launch waits on the gate, the rest on it (in-order queue): the driver's
        # workers wake once for the batch instead of once per launch
        wait_for = [gate] if gate is not None else None
        presets = self.presets
        try:
            for kernel, gsize, lsize, args, values, preset in launches:
                if preset is None:  # every argument given: pyopencl's invoker sets them all
                    event = kernel(queue, gsize, lsize, *args, wait_for=wait_for)
                    if presets:
                        presets.pop(kernel, None)
                else:
                    if presets.get(kernel) is not preset:
                        kernel._set_arg_buf_pack_multi(preset)
                        presets[kernel] = preset
                    kernel._set_arg_multi(args)
                    if values:
                        kernel._set_arg_buf_pack_multi(values)
                    event = cl.enqueue_nd_range_kernel(queue, kernel, gsize, lsize, None, wait_for)
                wait_for = None
                if recorder is not None and event is not None:
                    recorder.append((kernel, event))
        except cl.Error as err:
            raise self.failure(err) from err
        finally:
            if gate is not None:
                gate.set_status(cl.command_execution_status.COMPLETE)

    def finish(self):
        """Wait for the queue; a failure of the device is raised as a RuntimeError naming it."""
        try:
            self.queue.finish()
        except cl.Error as err:
            raise self.failure(err) from err

    def synchronize(self):
        mark = self.allocator.deferred_mark()
        self.finish()
        self.allocator.release_deferred(mark)
        if self.recorder:
            for collect in recorded_event_readers:
                collect(self)
        if self.pending_checks:
            checks.run_pending(self)


_DEFER_ITEMS = 1 << 15
# functions a synchronize hands a backend whose recorder holds events (cltensor.profiler adds its
# collect when imported, so that the profiler depends on the devices and not the other way round)
recorded_event_readers: list = []


def _tuning_override() -> str:
    value = os.environ.get("CLTENSOR_TUNING", "").strip().lower()
    if value not in ("", "cpu", "gpu"):
        raise RuntimeError(f"CLTENSOR_TUNING must be 'cpu' or 'gpu', got {value!r}")
    return value


def _profiling_requested() -> bool:
    return os.environ.get("CLTENSOR_PROFILE", "") not in ("", "0")


@atexit.register
def _drain_queues():
    """Let queued kernels finish before the interpreter frees the host memory they use."""
    for b in list(_backends.values()):
        try:
            b.queue.finish()
        except Exception:
            pass


def backend_for(cl_device) -> Backend:
    key = cl_device.int_ptr
    with _lock:
        b = _backends.get(key)
        if b is None:
            b = _backends[key] = Backend(cl_device)
        return b


class device:
    """``cltensor.device('cpu')``, ``device('cl:0')``, ``device('gpu')``, ``device('cl', 1)``."""

    __slots__ = ("type", "index", "_backend")
    _cache: dict = {}

    def __new__(cls, spec, index=None):
        if isinstance(spec, device):
            return spec
        if isinstance(spec, int) and index is None:
            spec, index = "cl", spec
        if not isinstance(spec, str):
            raise TypeError(f"device() expected a string or a device, got {type(spec).__name__}")
        key = (spec, index)
        by_name = "cuda" not in spec.lower()  # 'cuda' follows set_device and CLTENSOR_CUDA_DEVICES
        found = cls._cache.get(key) if by_name else None
        if found is None:
            typ, idx = _parse(spec, index)
            found = cls._cache.get((typ, idx))
            if found is None:
                found = object.__new__(cls)
                found.type, found.index, found._backend = typ, idx, None
                cls._cache[(typ, idx)] = found
            if by_name:
                cls._cache[key] = found
        return found

    @property
    def backend(self) -> Backend:
        b = self._backend
        if b is None:
            b = self._backend = backend_for(self._cl_device())
        return b

    def _cl_device(self):
        devs = _all_cl_devices()
        if self.type == "cuda":
            raise AssertionError(no_cuda_message())
        if self.type == "cl":
            return devs[self.index]
        cpus = [d for d in devs if _is_cpu(d)]
        if cpus:
            return cpus[0]
        fallback = devs[default_cl_index()]  # raises where there is no OpenCL device at all
        _warn_once(f"cltensor: no OpenCL CPU driver (PoCL) is installed: cpu tensors compute on "
                   f"{fallback.name.strip()!r} over host memory, slowly (apt-get install pocl-opencl-icd)")
        return fallback

    @property
    def is_host(self) -> bool:
        return self.type == "cpu"

    @property
    def is_cuda(self) -> bool:
        """True for the OpenCL devices that ``'cuda'`` names (see :func:`cuda_cl_indices`)."""
        return self.type == "cuda" or (self.type == "cl" and self.index in cuda_cl_indices())

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        return self is other

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))


def _parse(spec: str, index):
    text = spec.strip().lower()
    if ":" in text:
        if index is not None:
            raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {spec}")
        text, _, num = text.partition(":")
        if not num.isdigit():
            raise RuntimeError(f"Invalid device string: '{spec}'")
        index = int(num)
    if text == "cpu":
        return "cpu", None
    if text == "cuda":
        return _parse_cuda(spec, index)
    if text == "gpu":
        gpus = [i for i, d in enumerate(_all_cl_devices()) if d.type & cl.device_type.GPU]
        if not gpus:
            raise RuntimeError("no OpenCL GPU device was found (cltensor.cl.device_count() lists the devices)")
        return "cl", _nth(gpus, 0 if index is None else index, spec)
    if text in ("cl", "opencl"):
        n = len(_all_cl_devices())
        idx = default_cl_index() if index is None else index
        if not 0 <= idx < n:
            raise RuntimeError(f"OpenCL device index {idx} is out of range: {n} device(s) found ('{spec}')")
        return "cl", idx
    raise RuntimeError(f"Expected one of cpu, cl, gpu, cuda device type at start of device string: {spec}")


_current_cuda = [0]  # the position in cuda_cl_indices() that 'cuda' without an index names


def cuda_cl_indices() -> list:
    """The 'cl:N' indices that 'cuda:0', 'cuda:1'... name: the OpenCL GPUs, in platform order.

    ``CLTENSOR_CUDA_DEVICES`` (e.g. ``cl:0`` or ``0,2``) overrides the list, so that a device of another
    type (PoCL's CPU device, in the tests) poses as a GPU; an empty value ("") means no GPU.
    """
    override = os.environ.get("CLTENSOR_CUDA_DEVICES")
    devs = _all_cl_devices()
    if override is None:
        return [i for i, d in enumerate(devs) if d.type & cl.device_type.GPU]
    found = []
    for item in override.replace(" ", "").split(","):
        if not item:
            continue
        num = item[3:] if item.lower().startswith("cl:") else item
        if not num.isdigit() or int(num) >= len(devs):
            raise RuntimeError(f"CLTENSOR_CUDA_DEVICES={override!r}: {item!r} is not one of the {len(devs)} OpenCL "
                               "devices (write cl:N or N, comma-separated)")
        found.append(int(num))
    return found


def no_cuda_message() -> str:
    return ("cltensor found no OpenCL GPU, so 'cuda' names no device (torch.cuda.is_available() is False). "
            "Use 'cpu' or an OpenCL device 'cl:N' (cltensor.cl.device_count() counts them), install your GPU's "
            "OpenCL driver, or set CLTENSOR_CUDA_DEVICES=cl:N to let 'cuda' name another OpenCL device")


def current_cuda_index() -> int:
    return _current_cuda[0]


def set_current_cuda_index(index: int) -> None:
    _current_cuda[0] = index


def _parse_cuda(spec, index):
    gpus = cuda_cl_indices()
    if not gpus:
        return "cuda", index  # a name only, as torch.device('cuda') without CUDA: using it raises
    idx = _current_cuda[0] if index is None else index
    if not 0 <= idx < len(gpus):
        raise RuntimeError(f"CUDA error: invalid device ordinal: '{spec}' asks for GPU {idx} and cltensor has "
                           f"{len(gpus)} OpenCL GPU(s)")
    return "cl", gpus[idx]


def _nth(gpus, index, spec):
    if not 0 <= index < len(gpus):
        raise RuntimeError(f"GPU index {index} is out of range: {len(gpus)} GPU(s) found ('{spec}')")
    return gpus[index]


def _is_cpu(cl_device) -> bool:
    return bool(cl_device.type & cl.device_type.CPU)


_warned: set = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def default_cl_index() -> int:
    """The OpenCL device `.cl()` moves to: the first GPU, else the first device."""
    devs = _all_cl_devices()
    if not devs:
        raise RuntimeError("no OpenCL device was found; install an OpenCL driver (e.g. pocl-opencl-icd)")
    for i, d in enumerate(devs):
        if d.type & cl.device_type.GPU:
            return i
    return 0


def get_default_device() -> device:
    global _default_device
    if _default_device is None:
        _default_device = device(os.environ.get("CLTENSOR_DEVICE") or "cpu")
    return _default_device


def set_default_device(dev) -> None:
    global _default_device
    _default_device = device(dev) if dev is not None else device("cpu")


def as_device(dev) -> device:
    if dev is None:
        return get_default_device()
    if isinstance(dev, device):
        return dev
    if isinstance(dev, (str, int)):
        return device(dev)
    raise TypeError(f"device must be a string, an int or a cltensor.device, got {type(dev).__name__}")


def synchronize(dev=None) -> None:
    as_device(dev).backend.synchronize()


class _CLNamespace:
    """``cltensor.cl``: the counterpart of ``torch.cuda`` for OpenCL devices."""

    @staticmethod
    def is_available() -> bool:
        return bool(_all_cl_devices())

    @staticmethod
    def device_count() -> int:
        return len(_all_cl_devices())

    @staticmethod
    def get_device_name(i: int = None) -> str:
        devs = _all_cl_devices()
        i = default_cl_index() if i is None else i
        if not 0 <= i < len(devs):
            raise RuntimeError(f"OpenCL device index {i} is out of range: {len(devs)} device(s) found")
        return devs[i].name.strip()

    @staticmethod
    def synchronize(dev=None) -> None:
        synchronize(dev if dev is not None else device("cl"))

    @staticmethod
    def empty_cache() -> None:
        for b in list(_backends.values()):
            b.synchronize()
            b.allocator.empty_cache()

    @staticmethod
    def memory_allocated(dev=None) -> int:
        return as_device(dev if dev is not None else "cl").backend.allocator.live_bytes

    @staticmethod
    def memory_reserved(dev=None) -> int:
        a = as_device(dev if dev is not None else "cl").backend.allocator
        return a.live_bytes + a.cached_bytes


cl_namespace = _CLNamespace()
