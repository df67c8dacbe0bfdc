"""Process-wide switches of the ``torch`` namespace that scripts set: matmul precision, deterministic
algorithms, thread counts. Where cltensor has nothing to switch, the setting is kept and read back."""
from __future__ import annotations

import os
from .device import device

_state = {"matmul_precision": "highest", "deterministic": False, "warn_only": False, "threads": None,
          "interop_threads": None}
_PRECISIONS = ("highest", "high", "medium")


def set_float32_matmul_precision(precision: str) -> None:
    """Kept and read back; cltensor's float32 GEMM always computes in float32 ('highest')."""
    if precision not in _PRECISIONS:
        raise RuntimeError(f"Invalid float32 matmul precision {precision!r}: expected one of {', '.join(_PRECISIONS)}")
    _state["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    return _state["matmul_precision"]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Kept and read back: cltensor's kernels already give the same result for a given device, shape
    and input (fixed reduction trees, no floating-point atomics), so nothing needs switching."""
    _state["deterministic"], _state["warn_only"] = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _state["warn_only"]


def get_num_threads() -> int:
    """The threads computing on cpu tensors: the CPU driver's compute units (or what set_num_threads kept)."""
    if _state["threads"] is not None:
        return _state["threads"]
    try:
        return device("cpu").backend.compute_units
    except RuntimeError:  # no OpenCL CPU driver
        return os.cpu_count() or 1


def set_num_threads(n: int) -> None:
    """Kept and read back by get_num_threads. PoCL sizes its thread pool once, from
    POCL_MAX_PTHREAD_COUNT at start-up, so the count of threads computing does not change."""
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _state["threads"] = n


def get_num_interop_threads() -> int:
    return _state["interop_threads"] or 1


def set_num_interop_threads(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    _state["interop_threads"] = n
