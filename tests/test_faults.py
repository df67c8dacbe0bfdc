"""Device faults: out of memory, a memory limit, kernels that fail to build, a device lost mid-run,
and checkpoint files damaged byte by byte.

Each fault must surface as a clear Python exception (never a hang, never a crash of the
interpreter) and leave the library usable for the next call.
"""
from __future__ import annotations

import concurrent.futures
import io
import os
import pickle
import random
import re
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pyopencl as cl
import pytest

import cltensor as torch
from cltensor import codegen, launch
from cltensor.device import Backend, _all_cl_devices, device as Device
from cltensor.ops.creation import from_host

KIB = 1024


@pytest.fixture
def allocator(monkeypatch):
    """The cpu allocator with an empty cache; its limit is restored after the test."""
    torch.synchronize()
    alloc = torch.device("cpu").backend.allocator
    alloc.empty_cache()
    monkeypatch.setattr(alloc, "limit", alloc.limit)
    return alloc


def _works():
    """A small computation that must still be right after a fault."""
    x = torch.arange(6.0).reshape(2, 3)
    return (x @ x.T + x.sum()).tolist() == [[20.0, 29.0], [29.0, 65.0]]


# ---- out of memory ---------------------------------------------------------------------------------------
def test_a_full_cache_is_released_before_the_limit_is_hit(allocator):
    a, b = torch.empty(4 * KIB), torch.empty(4 * KIB)  # 16 KiB each
    del a, b
    assert allocator.cached_bytes == 32 * KIB
    allocator.limit = allocator.live_bytes + 40 * KIB
    c = torch.empty(6 * KIB)  # 24 KiB of another size class: only fits once the cache is gone
    assert allocator.cached_bytes == 0
    assert allocator.live_bytes + allocator.cached_bytes <= allocator.limit
    c.fill_(2.0)
    assert c.sum().item() == 2.0 * 6 * KIB


def test_an_allocation_past_the_limit_raises_out_of_memory_naming_the_sizes(allocator):
    keep = torch.empty(8 * KIB)  # 32 KiB live
    spare = torch.empty(2 * KIB)
    del spare  # 8 KiB cached
    allocator.limit = allocator.live_bytes + 64 * KIB
    with pytest.raises(RuntimeError) as info:
        torch.empty(20 * KIB)  # 80 KiB
    message = str(info.value)
    assert "out of memory" in message and torch.device("cpu").backend.name in message
    assert "tried to allocate 81920 bytes" in message
    assert f"{8 * KIB} cached bytes released before retrying" in message
    assert f"limit {allocator.limit} bytes" in message
    assert allocator.cached_bytes == 0  # emptied before giving up
    keep.fill_(1.0)
    assert keep.sum().item() == 8 * KIB and _works()


def test_the_driver_refusing_memory_empties_the_cache_and_retries_once(allocator, monkeypatch):
    spare = torch.empty(3 * KIB)
    del spare
    cached = allocator.cached_bytes
    calls = []
    real = allocator._new_block

    def refuse_once(size, host):
        calls.append(allocator.cached_bytes)
        if len(calls) == 1:
            raise cl.MemoryError("clCreateBuffer failed: MEM_OBJECT_ALLOCATION_FAILURE (simulated)")
        return real(size, host)

    monkeypatch.setattr(allocator, "_new_block", refuse_once)
    t = torch.full((5 * KIB,), 3.0)
    assert calls == [cached, 0]  # the retry came after the cache was released
    assert t.sum().item() == 15.0 * KIB


def test_the_driver_refusing_twice_raises_out_of_memory_and_the_library_recovers(allocator, monkeypatch):
    calls = []

    def refuse(size, host):
        calls.append(size)
        raise cl.MemoryError("clCreateBuffer failed: MEM_OBJECT_ALLOCATION_FAILURE (simulated)")

    monkeypatch.setattr(allocator, "_new_block", refuse)
    with pytest.raises(RuntimeError, match=r"out of memory .*tried to allocate 28000 bytes"):
        torch.empty(7000)
    assert len(calls) == 2
    monkeypatch.undo()
    assert _works()


@pytest.mark.parametrize("device", ["cpu", "cl:0"])
def test_a_tensor_larger_than_the_device_raises_out_of_memory(device):
    with pytest.raises(RuntimeError, match=r"out of memory on .*tried to allocate 4398046511104 bytes"):
        torch.empty(1 << 40, dtype=torch.float32, device=device)
    assert _works()


def test_memory_limit_from_the_environment_simulates_a_small_device():
    script = textwrap.dedent("""
        import cltensor as torch
        alloc = torch.device("cl:0").backend.allocator
        assert alloc.limit == 1 << 20, alloc.limit
        x = torch.ones(100_000, device="cl:0")              # 400 KB fits
        try:
            torch.ones(200_000, device="cl:0")              # 800 KB more does not
        except RuntimeError as err:
            print("OOM:", err)
        del x
        y = torch.arange(200_000, dtype=torch.int32, device="cl:0")  # fits once x is gone
        print("SUM:", int(y.sum().item()))
    """)
    env = dict(os.environ, CLTENSOR_MEMORY_LIMIT="1M")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "OOM: out of memory on" in run.stdout and "tried to allocate 800000 bytes" in run.stdout
    assert f"limit {1 << 20} bytes" in run.stdout
    assert f"SUM: {199_999 * 200_000 // 2}" in run.stdout


# ---- kernels that fail to build -------------------------------------------------------------------------
def test_a_kernel_that_fails_to_build_names_template_key_and_carries_the_build_log():
    x, out = torch.ones(4), torch.empty(4)
    for attempt in range(2):  # nothing half-built is cached: the second call fails the same way
        with pytest.raises(codegen.KernelBuildError) as info:
            launch.elementwise.elementwise("reliability_broken", "a +* )", [x], out, torch.float32)
        message = str(info.value)
        assert isinstance(info.value, RuntimeError)
        assert "elementwise.cl.mako" in message and "reliability_broken" in message
        assert "ew_reliability_broken" in message or "'ew'" in message  # the key
        assert "error" in message.lower()  # the compiler's log
        assert "a +* )" in message or "expected expression" in message
    assert _works()


def test_a_template_that_fails_to_render_raises_and_leaves_no_kernel_behind():
    backend = torch.device("cpu").backend
    key = ("reliability", "missing-parameter")
    with pytest.raises(NameError, match=r"'\w+' is not defined"):  # Mako's strict_undefined names a parameter
        codegen.kernel(backend, key, "elementwise.cl.mako", "ew_x")  # the template's parameters are missing
    assert key not in backend.kernels
    assert _works()


# ---- a device lost mid-run ------------------------------------------------------------------------------
class FailingQueue(cl.CommandQueue):
    """An in-order queue whose finish() raises once the device is 'lost'."""
    lost = False

    def finish(self):
        if self.lost:
            raise cl.RuntimeError("clFinish failed: DEVICE_NOT_AVAILABLE (simulated device loss)")
        return super().finish()


class FailingKernel:
    """Stands for a kernel whose launch the driver refuses: its enqueue fails, and so does setting its
    arguments (a launch with prepared arguments sets them with pyopencl's _set_arg_* calls first)."""

    def _refuse(self, *args, **kwargs):
        raise cl.RuntimeError("clEnqueueNDRangeKernel failed: OUT_OF_RESOURCES (simulated device loss)")

    __call__ = _set_arg_multi = _set_arg_buf_pack_multi = _refuse


@pytest.fixture
def sick():
    """A fresh backend over the PoCL device with a failing-capable queue, seen as a host device
    ('cpu'-like: reads synchronise) and as an OpenCL device (reads copy from the queue)."""
    backend = Backend(_all_cl_devices()[0])
    backend._queue = FailingQueue(backend.context)
    devices = []
    for typ, index in (("cpu", None), ("cl", 0)):
        dev = object.__new__(Device)
        dev.type, dev.index, dev._backend = typ, index, backend
        devices.append(dev)
    yield backend, devices
    backend._queue.lost = False
    backend.pending.clear()
    backend.finish()  # the device is well again: nothing stays queued on this backend past the test


def _read_within(fn, seconds=60):
    """fn() on another thread; fails the test if it hangs."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result(timeout=seconds)


def _on(dev, values):
    return from_host(np.asarray(values, np.float32), torch.float32, dev)


@pytest.mark.parametrize("which", ["host", "cl"])
def test_a_lost_device_raises_at_the_next_host_read_naming_the_device(sick, which):
    backend, (host, cl_dev) = sick
    dev = host if which == "host" else cl_dev
    y = _on(dev, [1, 2, 3]) * 2 + 1
    assert _read_within(y.tolist) == [3.0, 5.0, 7.0]
    z = y * 10  # queued, not yet run
    backend._queue.lost = True
    with pytest.raises(RuntimeError, match=f"OpenCL device {re.escape(backend.name)} failed: .*DEVICE_NOT_AVAILABLE") as info:
        _read_within(lambda: (z.tolist(), torch.synchronize(dev)))
    assert isinstance(info.value.__cause__, cl.Error)
    assert _works()  # the healthy device computes on
    backend._queue.lost = False  # the device comes back: the sick backend is not wedged either
    assert _read_within((_on(dev, [1, 2]) + 1).tolist) == [2.0, 3.0]


def test_a_failed_enqueue_surfaces_at_the_next_host_read(sick):
    backend, (host, _) = sick
    # GPU tuning (CLTENSOR_TUNING=gpu) submits every launch at once: hold small ones back as CPU tuning does
    backend.defer_items = max(backend.defer_items, 1 << 16)
    z = _on(host, [1, 2, 3]) + 1  # a small launch: held back until the next queue access
    assert backend.pending, "expected a deferred launch"
    backend.pending[:] = [(FailingKernel(), *launch[1:]) for launch in backend.pending]
    with pytest.raises(RuntimeError, match=f"OpenCL device {re.escape(backend.name)} failed: .*OUT_OF_RESOURCES"):
        _read_within(z.tolist)
    assert not backend.pending and _works()
    assert _read_within((_on(host, [4]) * 2).tolist) == [8.0]  # the lock was released


def test_a_failed_copy_to_the_host_names_the_device(sick, monkeypatch):
    backend, (_, cl_dev) = sick
    z = _on(cl_dev, [1, 2, 3]) - 1
    real = cl.enqueue_copy

    def failing_copy(queue, *args, **kwargs):
        if queue is backend._queue:
            raise cl.RuntimeError("clEnqueueReadBuffer failed: DEVICE_NOT_AVAILABLE (simulated device loss)")
        return real(queue, *args, **kwargs)

    monkeypatch.setattr(cl, "enqueue_copy", failing_copy)
    for read in (z.tolist, z.item if z.numel() == 1 else z.cpu, lambda: float(z[0])):
        with pytest.raises(RuntimeError, match=f"OpenCL device {re.escape(backend.name)} failed"):
            _read_within(read)
    assert _works()


# ---- checkpoints damaged byte by byte -------------------------------------------------------------------
MUTATIONS = int(os.environ.get("CLTENSOR_FUZZ_MUTATIONS", "400"))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _valid_checkpoint():
    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save({"w": torch.randn(3, 4), "b": torch.arange(5), "h": torch.ones(2, dtype=torch.float16),
                "view": torch.arange(6.0)[1::2], "meta": [1, 2.5, "x", (torch.tensor(True),)]}, buf)
    return buf.getvalue()


def _hostile_checkpoint(marker):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": [1, 2], "x": _Evil(marker)}, protocol=2))
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def _mutate(data: bytes, rng: random.Random) -> bytes:
    d = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 4, 8])):
        pos = rng.randrange(len(d))
        d[pos] = d[pos] ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)
    if rng.random() < 0.1:  # and sometimes cut short
        d = d[:rng.randrange(len(d))]
    return bytes(d)


@pytest.mark.parametrize("corpus", ["valid", "hostile"])
def test_random_byte_flips_load_or_raise_a_documented_error_and_never_run_code(corpus, tmp_path):
    marker = tmp_path / "pwned"
    data = _valid_checkpoint() if corpus == "valid" else _hostile_checkpoint(marker)
    rng = random.Random(1234 if corpus == "valid" else 4321)
    outcomes = {"loaded": 0, "RuntimeError": 0, "UnpicklingError": 0}
    for _ in range(MUTATIONS):
        blob = _mutate(data, rng)
        try:
            torch.load(io.BytesIO(blob))
            outcomes["loaded"] += 1
        except pickle.UnpicklingError:
            outcomes["UnpicklingError"] += 1
        except RuntimeError as err:  # the documented type for a truncated or corrupted archive
            assert str(err), "an empty message"
            outcomes["RuntimeError"] += 1
        assert not marker.exists(), "code from the file ran"
    assert outcomes["RuntimeError"] + outcomes["UnpicklingError"] > MUTATIONS // 4, outcomes
    if corpus == "hostile":
        assert outcomes["loaded"] < MUTATIONS // 10, outcomes  # only flips that break the payload's global
    assert _works()


def test_a_corrupted_checkpoint_that_still_loads_gives_tensors_inside_their_storage():
    """A flip that survives the CRC check can only be in zip metadata: the values stay the saved ones."""
    data = _valid_checkpoint()
    expected = torch.load(io.BytesIO(data))
    rng = random.Random(99)
    for _ in range(100):
        try:
            got = torch.load(io.BytesIO(_mutate(data, rng)))
        except (RuntimeError, pickle.UnpicklingError):
            continue
        for key in ("w", "b", "view"):
            np.testing.assert_array_equal(got[key].cpu().numpy(), expected[key].cpu().numpy())
