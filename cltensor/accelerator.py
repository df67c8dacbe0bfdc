"""``torch.accelerator``: the current accelerator is the OpenCL GPU that ``torch.cuda`` presents.

With no GPU, ``is_available()`` is False, ``current_accelerator()`` None, ``device_count()`` 0, and what
needs a device raises PyTorch's RuntimeError.
"""
from __future__ import annotations

from . import cuda as _cuda
from .device import device as _Device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "current_device_idx",
           "set_device_index", "set_device_idx", "device_index", "synchronize", "empty_cache", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "max_memory_reserved", "reset_peak_memory_stats"]

_NONE = "Cannot access accelerator device when none is available."


def is_available() -> bool:
    return _cuda.is_available()


def current_accelerator(check_available: bool = False):
    """The current GPU as a device (``device(type='cl', index=N)``), or None without one."""
    if not _cuda.is_available():
        return None
    return _Device("cuda")


def device_count() -> int:
    return _cuda.device_count()


def _require():
    if not _cuda.is_available():
        raise RuntimeError(_NONE)


def current_device_index() -> int:
    _require()
    return _cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device, /) -> None:
    _require()
    _cuda.set_device(device)


set_device_idx = set_device_index


class device_index(_cuda.device):
    """Context manager that makes accelerator ``device`` (an index, or None for no change) current."""

    def __init__(self, device, /):
        if device is not None:
            _require()
        super().__init__(device)


def synchronize(device=None, /) -> None:
    _require()
    _cuda.synchronize(device)


def empty_cache() -> None:
    _cuda.empty_cache()


def memory_allocated(device_index=None, /) -> int:
    return _cuda.memory_allocated(device_index)


def max_memory_allocated(device_index=None, /) -> int:
    return _cuda.max_memory_allocated(device_index)


def memory_reserved(device_index=None, /) -> int:
    return _cuda.memory_reserved(device_index)


def max_memory_reserved(device_index=None, /) -> int:
    return _cuda.max_memory_reserved(device_index)


def reset_peak_memory_stats(device_index=None, /) -> None:
    _require()
    _cuda.reset_peak_memory_stats(device_index)
