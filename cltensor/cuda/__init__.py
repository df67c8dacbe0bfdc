"""``torch.cuda`` for cltensor: CUDA's API over the OpenCL GPUs.

As PyTorch's ROCm build presents AMD GPUs through ``torch.cuda``, cltensor presents the OpenCL GPUs
(devices of type GPU in the platform list, in platform order) as ``cuda:0``, ``cuda:1``...
``CLTENSOR_CUDA_DEVICES=cl:0`` (a comma-separated list of ``cl:N``) chooses the OpenCL devices that
'cuda' names instead, e.g. to let PoCL's CPU device pose as a GPU in tests. A tensor made on
'cuda' lives on that OpenCL device and prints as ``cl:N`` (its ``is_cuda`` is True).

Without a GPU everything answers as PyTorch built without CUDA: ``is_available()`` is False,
``device_count()`` 0, seeding is silently ignored, and what needs a device raises AssertionError.

    >>> import cltensor as torch
    >>> dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
"""
from __future__ import annotations

from .. import dtypes as _dtypes
from ..device import device as _Device
from ..device import (cuda_cl_indices as _gpus, current_cuda_index as _current,
                      set_current_cuda_index as _set_current)
from ..ops import random as _random
from . import amp
from ._devices import cl_device as _cl_device, index as _index, require as _require
from .streams import Event, Stream, current_stream, default_stream, stream

__all__ = ["is_available", "device_count", "current_device", "set_device", "device", "device_of",
           "get_device_name", "get_device_properties", "get_device_capability", "synchronize", "empty_cache",
           "memory_allocated", "max_memory_allocated", "reset_peak_memory_stats", "reset_max_memory_allocated",
           "memory_reserved", "max_memory_reserved", "mem_get_info", "manual_seed", "manual_seed_all", "seed",
           "seed_all", "initial_seed", "get_rng_state", "set_rng_state", "get_rng_state_all",
           "set_rng_state_all", "memory_stats", "memory_summary", "ipc_collect", "is_bf16_supported", "is_initialized", "init", "amp", "Event", "Stream",
           "stream", "current_stream", "default_stream"]


def is_available() -> bool:
    """True when an OpenCL GPU exists (or CLTENSOR_CUDA_DEVICES names a device)."""
    return bool(_gpus())


def device_count() -> int:
    """How many devices 'cuda:N' can name."""
    return len(_gpus())


def is_initialized() -> bool:
    return is_available()


def init() -> None:
    """Nothing to initialise lazily; raises as PyTorch does when no GPU exists."""
    _require()


def current_device() -> int:
    """The index of the GPU that 'cuda' without an index names."""
    _require()
    return _current()


def set_device(dev) -> None:
    """Make 'cuda' name GPU ``dev`` (an int, 'cuda:N' or a device); a negative int is ignored, as in PyTorch."""
    if isinstance(dev, int) and dev < 0:
        return
    _set_current(_index(dev))


class device:
    """Context manager that makes 'cuda' name GPU ``device`` inside the block (None or -1: no change)."""

    def __init__(self, device):
        self.idx = -1 if device is None or (isinstance(device, int) and device < 0) else _index(device)
        self.prev_idx = -1

    def __enter__(self):
        if self.idx >= 0:
            self.prev_idx = _current()
            _set_current(self.idx)
        return self

    def __exit__(self, *exc):
        if self.idx >= 0:
            _set_current(self.prev_idx)
        return False


class device_of(device):
    """Context manager that makes the GPU of tensor ``obj`` current (no change for cpu tensors)."""

    def __init__(self, obj):
        super().__init__(obj.device if getattr(obj, "is_cuda", False) else None)


def get_device_name(device=None) -> str:
    return _cl_device(device).backend.name


class _DeviceProperties:
    """What ``get_device_properties`` returns: the fields scripts read from PyTorch's, from OpenCL's queries.

    ``major``/``minor`` are the device's OpenCL version (see :func:`get_device_capability`).
    """

    def __init__(self, cl_dev):
        self.name = cl_dev.name.strip()
        self.major, self.minor = _opencl_version(cl_dev.version)
        self.total_memory = int(cl_dev.global_mem_size)
        self.multi_processor_count = int(cl_dev.max_compute_units)
        self.is_integrated = int(bool(cl_dev.host_unified_memory))
        self.is_multi_gpu_board = 0
        self.L2_cache_size = int(cl_dev.global_mem_cache_size)
        self.max_threads_per_multi_processor = int(cl_dev.max_work_group_size)
        self.warp_size = 32 if "NVIDIA" in cl_dev.vendor.upper() else (64 if "AMD" in cl_dev.vendor.upper() else 1)
        self.gcnArchName = ""
        self.uuid = None

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // (1 << 20)}MB, "
                f"multi_processor_count={self.multi_processor_count}, L2_cache_size={self.L2_cache_size // (1 << 20)}MB)")


def _opencl_version(text: str) -> tuple:
    """'OpenCL 3.0 PoCL ...' -> (3, 0)."""
    try:
        major, minor = text.split()[1].split(".")[:2]
        return int(major), int(minor)
    except (IndexError, ValueError):
        return 1, 2


def get_device_properties(device=None) -> _DeviceProperties:
    return _DeviceProperties(_cl_device(device).backend.cl_device)


def get_device_capability(device=None) -> tuple:
    """The device's OpenCL version as (major, minor), e.g. (3, 0).

    CUDA reports its compute capability here; an OpenCL device has none. Its OpenCL version is what
    an OpenCL device can offer, and it stays below 7.0/8.0, so scripts that enable tensor-core paths
    (TF32, flash attention) on ``>= (8, 0)`` take their portable path, which is what cltensor runs.
    """
    props = get_device_properties(device)
    return props.major, props.minor


def synchronize(device=None) -> None:
    """Wait for every kernel queued on the GPU."""
    _cl_device(device).backend.synchronize()


def empty_cache() -> None:
    """Release the cached blocks of every GPU's allocator to the driver (no-op without a GPU)."""
    for idx in _gpus():
        backend = _Device("cl", idx).backend
        backend.synchronize()
        backend.allocator.empty_cache()


def _allocator(device=None):
    return _cl_device(device).backend.allocator


def memory_allocated(device=None) -> int:
    """Bytes held by live tensors on the GPU (0 without a GPU, as PyTorch)."""
    return _allocator(device).live_bytes if is_available() else 0


def max_memory_allocated(device=None) -> int:
    """The peak of memory_allocated since the start or reset_peak_memory_stats."""
    return _allocator(device).peak_bytes if is_available() else 0


def reset_peak_memory_stats(device=None) -> None:
    a = _allocator(device)
    a.peak_bytes = a.live_bytes


reset_max_memory_allocated = reset_peak_memory_stats


def memory_reserved(device=None) -> int:
    """Bytes held by live tensors and by the allocator's cache."""
    if not is_available():
        return 0
    a = _allocator(device)
    return a.live_bytes + a.cached_bytes


def max_memory_reserved(device=None) -> int:
    return memory_reserved(device)


def mem_get_info(device=None) -> tuple:
    """(free, total) bytes as far as cltensor knows: total minus what its allocator holds."""
    total = get_device_properties(device).total_memory
    return total - memory_reserved(device), total


def manual_seed(seed) -> None:
    """Seed random numbers drawn on the GPU.

    cltensor draws on every device from one counter-based generator (the same numbers on any device
    for a seed), so this seeds ``torch.default_generator`` when a GPU exists, and is silently ignored
    without one, as PyTorch without CUDA ignores it.
    """
    if is_available():
        _random.manual_seed(seed)


manual_seed_all = manual_seed


def seed() -> None:
    """Seed the GPU's random numbers from the system's entropy (ignored without a GPU)."""
    if is_available():
        _random.seed()


seed_all = seed


def initial_seed() -> int:
    _require()
    return _random.initial_seed()


def get_rng_state(device="cuda"):
    """The state of the generator GPU draws use (one generator serves every device: see manual_seed)."""
    _require()
    return _random.get_rng_state()


def set_rng_state(new_state, device="cuda") -> None:
    _require()
    _random.set_rng_state(new_state)


def get_rng_state_all() -> list:
    """One state per GPU ([] without a GPU, as PyTorch)."""
    return [get_rng_state() for _ in range(device_count())]


def set_rng_state_all(new_states) -> None:
    for new_state in list(new_states)[:device_count()]:
        set_rng_state(new_state)


def memory_stats(device=None) -> dict:
    """The allocator's counters under PyTorch's key names (empty without a GPU, as PyTorch)."""
    if not is_available():
        return {}
    a = _allocator(device)
    return {"allocated_bytes.all.current": a.live_bytes, "allocated_bytes.all.peak": a.peak_bytes,
            "reserved_bytes.all.current": a.live_bytes + a.cached_bytes}


def memory_summary(device=None, abbreviated: bool = False) -> str:
    """A short text report of memory_stats."""
    stats = memory_stats(device)
    return "\n".join(f"{k}: {v}" for k, v in stats.items()) or "no OpenCL GPU"


def ipc_collect() -> None:
    _require()


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """True when a GPU exists and cltensor has bfloat16 (stored in 16 bits, computed in float32)."""
    return is_available() and hasattr(_dtypes, "bfloat16") and including_emulation
