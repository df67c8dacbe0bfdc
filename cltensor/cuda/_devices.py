"""Which OpenCL GPU a cuda device name stands for (shared by cltensor.cuda and its streams)."""
from __future__ import annotations

from ..device import device as _Device
from ..device import cuda_cl_indices as _gpus, current_cuda_index as _current, no_cuda_message as _no_cuda


def require() -> list:
    gpus = _gpus()
    if not gpus:
        raise AssertionError(_no_cuda())
    return gpus


def index(dev=None) -> int:
    """The position in the cuda list of ``dev`` (None: current, an int, 'cuda:N', or a cuda device)."""
    gpus = require()
    if dev is None:
        return _current()
    if isinstance(dev, int):
        idx = dev
    else:
        d = _Device(dev) if isinstance(dev, str) else dev
        if not isinstance(d, _Device):
            raise ValueError(f"Expected a cuda device, but got: {dev!r}")
        if d.type != "cl" or d.index not in gpus:
            raise ValueError(f"Expected a cuda device, but got: {d}")
        idx = gpus.index(d.index)
    if not 0 <= idx < len(gpus):
        raise RuntimeError(f"CUDA error: invalid device ordinal: GPU {idx} asked for, {len(gpus)} OpenCL GPU(s) found")
    return idx


def cl_device(dev=None) -> _Device:
    return _Device("cl", _gpus()[index(dev)])
