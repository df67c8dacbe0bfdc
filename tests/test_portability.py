"""Kernels follow the device's capabilities: on a device without cl_khr_fp64 no kernel source mentions
double (a driver without fp64 refuses to build it), whatever the family, op or dtype.

The device here is the one under test, told it has no fp64 through a private backend, so the check runs
on every implementation (on one that really lacks fp64, such as rusticl, the suite builds and runs them
too). Every source rendered for that backend is captured and grepped instead of built: rendering is
what decides the text, and building hundreds of variants would take minutes.
"""
from __future__ import annotations

import importlib
import re
import warnings

import numpy as np
import pytest

import cltensor as torch
from cltensor import codegen, selftest
from cltensor.device import Backend, _all_cl_devices
from cltensor.device import device as Device
from helpers import ALL_DTYPES, needs_fp64
from cltensor.ops import elementwise as ew
from test_elementwise import accepts, call, make_inputs

DOUBLE = re.compile(r"\bdouble\d*\b|cl_khr_fp64")


def _private_device(has_fp64):
    backend = Backend(_all_cl_devices()[0])
    backend.has_fp64 = has_fp64 and backend.has_fp64
    dev = object.__new__(Device)
    dev.type, dev.index, dev._backend = "cl", 0, backend
    return dev


class NotBuilt(Exception):
    pass


@pytest.fixture
def sources(monkeypatch):
    """(device, sources): a private device whose programs are rendered and recorded, never built
    (an op on it raises NotBuilt once its kernel's source is known)."""
    def make(has_fp64=False):
        dev = _private_device(has_fp64)
        rendered = []
        real_build = codegen.build

        def recording_build(backend, source, *args, **kwargs):
            if backend is not dev.backend:
                return real_build(backend, source, *args, **kwargs)
            rendered.append(source)
            raise NotBuilt

        monkeypatch.setattr(codegen, "build", recording_build)
        return dev, rendered
    return make


def _attempt(fn):
    try:
        fn()
    except NotBuilt:
        pass


def _doubles(built):
    return [s for s in built if DOUBLE.search(s)]


def test_every_kernel_family_renders_without_double_on_a_device_without_fp64(sources):
    dev, built = sources(has_fp64=False)
    for name, family in selftest.FAMILIES.items():
        before = len(built)
        _attempt(lambda: family(selftest.Checker(dev)))  # each check records its kernel and fails
        assert len(built) > before, name
    assert len(built) > 30, len(built)
    offending = _doubles(built)
    assert not offending, offending[0][:3000]


@pytest.mark.parametrize("dtype", [d for d in ALL_DTYPES if d is not torch.float64], ids=lambda d: d.name)
def test_every_elementwise_row_renders_without_double_on_a_device_without_fp64(sources, dtype):
    dev, built = sources(has_fp64=False)
    ran = 0
    for name, op in sorted(ew.OPS.items()):  # private rows too (_isclose, _clamp, _nan_to_num...)
        if not accepts(op, dtype):
            continue
        arrays = make_inputs(op, [(3, 5)] * op.arity, dtype)
        args = [torch.tensor(a, device=dev) for a in arrays]
        _attempt(lambda: call(op, *args))
        _attempt(lambda: call(op, *[a.t() for a in args]))  # the strided path too
        ran += 1
    assert ran > 10 and len(built) >= 2 * ran
    offending = _doubles(built)
    assert not offending, offending[0][:3000]


@needs_fp64
def test_float64_kernels_do_use_double_where_the_device_has_it(sources):
    """The grep above can fail: float64 data does bring double into the source."""
    dev, built = sources(has_fp64=True)
    x = torch.tensor(np.arange(5.0), dtype=torch.float64, device=dev)
    _attempt(lambda: x * 2)
    assert built and _doubles(built) == built


def test_without_a_cpu_driver_cpu_tensors_compute_on_the_default_device(monkeypatch):
    """A GPU machine without PoCL: cpu tensors (what .cpu(), torch.tensor(...) and every host read of
    PyTorch code make) are host memory computed on by the default OpenCL device, with one warning,
    instead of an error."""
    devices = importlib.import_module("cltensor.device")  # the module (cltensor.device is also the class)
    monkeypatch.setattr(devices, "_is_cpu", lambda cl_device: False)
    monkeypatch.setattr(devices, "_warned", set())
    with pytest.warns(RuntimeWarning, match="no OpenCL CPU driver .* cpu tensors compute on"):
        chosen = Device("cpu")._cl_device()
    assert chosen.int_ptr == _all_cl_devices()[devices.default_cl_index()].int_ptr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Device("cpu")._cl_device()  # once is enough
    monkeypatch.setattr(Device("cpu"), "_backend", None)  # resolved again, through the fallback
    with pytest.warns(RuntimeWarning):
        monkeypatch.setattr(devices, "_warned", set())
        x = torch.tensor([1.0, 2.0, 3.0], device="cpu")
        assert (x * 2).tolist() == [2.0, 4.0, 6.0] and x.cpu().numpy().tolist() == [1.0, 2.0, 3.0]
