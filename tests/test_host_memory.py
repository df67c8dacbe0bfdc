"""Host memory by the OpenCL rules for CL_MEM_USE_HOST_PTR buffers (cltensor/memory.py).

The host sees a kernel's writes to such a buffer, and a kernel the host's, only through
clEnqueueMapBuffer / clEnqueueUnmapMemObject: a driver may compute on a copy. PoCL computes in place,
so wrong protocol would not show as wrong values there; hence an audit (the ``audit`` fixture) that
replays every map, unmap, read and kernel in queue order and fails on a kernel or a read of a buffer
that is mapped, a map whose pointer is not host_ptr, or exposed memory left unmapped when control
returns to the caller. The tensors here are 'cpu' tensors whatever the default device
(CLTENSOR_DEVICE): that host memory is what the file tests. Run the file on each driver:

    OCL_ICD_VENDORS=/tmp/icd/pocl python3 -m pytest -q tests/test_host_memory.py
    OCL_ICD_VENDORS=/tmp/icd/rusticl RUSTICL_ENABLE=llvmpipe python3 -m pytest -q tests/test_host_memory.py
"""
from __future__ import annotations

import gc
import io
import threading
import types

import numpy as np
import pyopencl as cl
import pytest

import cltensor as torch
from cltensor import memory
from cltensor.device import Backend

BACKEND = torch.device("cpu").backend


class Audit:
    """Counts and checks the OpenCL commands cltensor issues on buffers, in queue order."""

    def __init__(self, backend):
        self.backend = backend
        self.counts = {"map": 0, "unmap": 0, "read": 0, "kernel": 0}
        self.active: dict = {}  # buffer int_ptr -> mappings outstanding
        self.of_map: dict = {}  # id(MemoryMap) -> buffer int_ptr
        self.errors: list = []

    def reset(self):
        for k in self.counts:
            self.counts[k] = 0

    def on_map(self, buf, array):
        ptr = buf.int_ptr
        self.counts["map"] += 1
        self.active[ptr] = self.active.get(ptr, 0) + 1
        self.of_map[id(array.base)] = ptr

    def on_flush(self, pending):
        for kernel, _, _, args, _, _ in pending:
            if isinstance(kernel, memory._Unmap):
                self.counts["unmap"] += 1
                ptr = self.of_map.pop(id(kernel.memory_map), None)
                if ptr is None:
                    self.errors.append("unmap of a mapping the audit never saw")
                else:
                    self.active[ptr] -= 1
                continue
            self.counts["kernel"] += 1
            for a in args:
                if isinstance(a, cl.MemoryObjectHolder) and self.active.get(a.int_ptr, 0):
                    self.errors.append(f"kernel {kernel.function_name} uses a mapped buffer")

    def on_read(self, buf):
        self.counts["read"] += 1
        if self.active.get(buf.int_ptr, 0):
            self.errors.append("clEnqueueReadBuffer of a mapped buffer")

    def check(self):
        """What must hold whenever cltensor returns to the caller."""
        for block in list(self.backend.host_state.values()):
            if block.exposed:
                assert block.mapping is not None, "exposed memory left unmapped"
                assert block.mapping.ctypes.data == block.host.ctypes.data
                assert self.active.get(block.buffer.int_ptr, 0) == 1
            else:
                assert block.mapping is None and block.snapshot is not None
        assert not self.errors, self.errors


@pytest.fixture
def audit(monkeypatch):
    gc.collect()
    torch.synchronize("cpu")
    a = Audit(BACKEND)
    for block in BACKEND.host_state.values():  # exposed by earlier tests, mapped before the audit
        if block.mapping is not None:
            a.active[block.buffer.int_ptr] = 1
            a.of_map[id(block.mapping.base)] = block.buffer.int_ptr
    real_map, real_copy, real_flush = cl.enqueue_map_buffer, cl.enqueue_copy, Backend._flush_locked

    def enqueue_map_buffer(queue, buf, *args, **kwargs):
        array, event = real_map(queue, buf, *args, **kwargs)
        a.on_map(buf, array)
        return array, event

    def enqueue_copy(queue, dest, src, **kwargs):
        if isinstance(src, cl.MemoryObjectHolder) and not isinstance(dest, cl.MemoryObjectHolder):
            a.on_read(src)
        return real_copy(queue, dest, src, **kwargs)

    def flush(self):
        if self is BACKEND:
            a.on_flush(list(self.pending))
        return real_flush(self)

    monkeypatch.setattr(cl, "enqueue_map_buffer", enqueue_map_buffer)
    monkeypatch.setattr(cl, "enqueue_copy", enqueue_copy)
    monkeypatch.setattr(Backend, "_flush_locked", flush)
    yield a
    gc.collect()
    torch.synchronize("cpu")
    a.check()


def _block(t):
    return t._storage.block


# ---- numpy shares the memory ------------------------------------------------------------------------
def test_numpy_writes_after_from_numpy_are_seen_by_the_next_kernel(audit):
    a = np.arange(10, dtype=np.float32)
    t = torch.from_numpy(a)
    audit.check()
    a[3] = 100.0
    assert (t * 2).tolist()[3] == 200.0
    a[:] = -1.0
    t.add_(1)  # in place: reads numpy's writes, writes where numpy sees it
    np.testing.assert_array_equal(a, np.zeros(10, np.float32))
    audit.check()


def test_kernel_writes_are_seen_by_an_existing_numpy_view(audit):
    a = np.zeros((4, 5), np.float32)  # (not float64: rusticl on llvmpipe has no cl_khr_fp64)
    t = torch.from_numpy(a)
    view = a[1:3]  # taken before the kernels
    t.add_(2.5)
    t[1].mul_(4)
    np.testing.assert_array_equal(view, [[10.0] * 5, [2.5] * 5])
    audit.check()


def test_numpy_of_a_computed_tensor_is_the_tensors_memory(audit):
    x = torch.arange(1 << 20, dtype=torch.float32, device="cpu") * 3  # a big launch, queued
    arr = x.numpy()
    assert arr.ctypes.data == _block(x).host.ctypes.data + x.storage_offset() * 4  # zero-copy
    assert arr[12345] == 3 * 12345
    x.add_(1)
    assert arr[12345] == 3 * 12345 + 1  # later kernels show in the array
    arr[0] = -7.0
    assert x[0].item() == -7.0 and (x + 0)[0].item() == -7.0  # and numpy's writes in the tensor
    audit.check()


def test_from_numpy_shares_without_copying(audit):
    a = np.zeros(100_000, np.float32)
    t = torch.from_numpy(a)
    assert _block(t).host.ctypes.data == a.ctypes.data
    t.add_(1)
    assert a[0] == 1.0 and a[-1] == 1.0
    audit.check()


def test_views_with_offsets(audit):
    base = np.arange(40, dtype=np.int32)
    t = torch.from_numpy(base[5:35:3])  # offset and stride into numpy memory
    t.add_(1000)
    np.testing.assert_array_equal(base[5:35:3], np.arange(5, 35, 3) + 1000)
    np.testing.assert_array_equal(base[6:35:3], np.arange(6, 35, 3))  # untouched between
    x = torch.arange(30, dtype=torch.int64, device="cpu").reshape(5, 6)
    v = x[1:4, 2:5]
    arr = v.numpy()  # exposes the whole storage; a view at an offset
    np.testing.assert_array_equal(arr, np.arange(30).reshape(5, 6)[1:4, 2:5])
    arr[0, 0] = -1
    assert x[1, 2].item() == -1 and x.sum().item() == np.arange(30).sum() - 8 - 1
    v.mul_(2)
    assert arr[2, 2] == 2 * (3 * 6 + 4)
    audit.check()


def test_many_alternations_between_numpy_and_kernels(audit):
    a = np.zeros(257, np.float32)
    t = torch.from_numpy(a)
    y = torch.zeros(257, device="cpu")
    arr = y.numpy()
    ref_a, ref_y = np.zeros(257, np.float32), np.zeros(257, np.float32)
    for i in range(200):
        a[i % 257] += 1.0  # numpy write ...
        ref_a[i % 257] += 1.0
        t.add_(1)  # ... kernel
        ref_a += 1.0
        arr += 1.0
        y.add_(t[:1])  # a kernel reading one exposed tensor and writing another
        ref_y += 1.0 + ref_a[0]
        if i % 17 == 0:
            assert t[i % 257].item() == ref_a[i % 257]
            np.testing.assert_array_equal(arr, ref_y)
            audit.check()
    np.testing.assert_array_equal(a, ref_a)
    np.testing.assert_array_equal(arr, ref_y)
    assert a.sum() == 200 * 257 + 200
    audit.check()


def test_freed_exposed_memory_stays_with_numpy(audit):
    t = torch.arange(1000, dtype=torch.float32, device="cpu") + 1
    arr = t.numpy()
    a = np.ones(64, np.float32)
    u = torch.from_numpy(a)
    u.mul_(3)
    del t, u
    gc.collect()
    torch.synchronize("cpu")  # the unmaps ran, the buffers are gone
    assert arr[999] == 1000.0 and a[0] == 3.0
    arr[:] = 5.0
    a[:] = 6.0
    assert arr.sum() == 5000.0 and a.sum() == 6 * 64
    audit.check()


def test_exposed_memory_is_unmapped_before_its_buffer_goes(audit):
    t = torch.ones(10, device="cpu") * 2
    t.numpy()
    block = _block(t)
    del t
    gc.collect()
    assert block.mapping is None and not block.exposed
    torch.synchronize("cpu")
    assert audit.active.get(block.buffer.int_ptr, 0) == 0  # the unmap was enqueued and flushed
    audit.check()


def _lose_the_mapping(block):
    """Unmap behind cltensor's back: the driver no longer knows the mapping its next unmap names,
    as Mesa rusticl 22.3 sometimes answers under threads (memory._Unmap)."""
    block.mapping.base.release(BACKEND.queue)
    BACKEND.finish()


def test_a_driver_that_lost_a_freed_buffers_mapping_does_not_lose_the_launches_beside_it():
    x = torch.ones(8, device="cpu")
    t = torch.ones(10, device="cpu") * 2
    arr = t.numpy()
    _lose_the_mapping(_block(t))
    del t
    gc.collect()  # the unmap waits in the pending launches, in front of the next ones
    y = x * 3  # held with it, then submitted together by the read
    assert y.tolist() == [3.0] * 8
    assert arr.sum() == 20.0


def test_a_lost_mapping_of_live_memory_is_the_devices_failure():
    t = torch.ones(10, device="cpu") * 2
    t.numpy()
    _lose_the_mapping(_block(t))
    with pytest.raises(RuntimeError, match="failed: .*INVALID_VALUE"):
        t.add_(1)  # its unmap before the kernel names a mapping the driver does not have
    assert _block(t).mapping is not None  # mapped again for the host after the failed launch
    t.add_(1)
    assert t.tolist() == [3.0] * 10  # the failed launch did not run; the next one did


# ---- device-owned memory ----------------------------------------------------------------------------
def test_item_and_tolist_of_pooled_memory_and_snapshots_follow_kernels(audit):
    x = torch.zeros(6, device="cpu")
    assert x[2].item() == 0.0
    x.add_(1)  # a launch drops the snapshot the read took
    assert x[2].item() == 1.0 and x.tolist() == [1.0] * 6
    y = x * 3
    assert y.tolist() == [3.0] * 6
    x.mul_(5)
    assert x.tolist() == [5.0] * 6 and y.sum().item() == 18.0
    assert not _block(x).exposed and _block(x).mapping is None
    audit.check()


def test_a_recycled_block_does_not_serve_a_stale_snapshot(audit):
    for i in range(20):
        x = torch.full((8,), float(i), device="cpu")
        assert x.tolist() == [float(i)] * 8  # the next full() likely gets this block back
        del x
    audit.check()


def test_big_pooled_reads_and_strided_views(audit):
    n = 300_000  # above the snapshot size: read commands of the range asked for
    x = torch.arange(n, dtype=torch.float32, device="cpu").reshape(600, 500)
    assert x[599, 499].item() == n - 1
    assert x[:, 7].tolist()[:3] == [7.0, 507.0, 1007.0]  # sparse: gathered on the device
    assert x[2:4, 10:13].tolist() == [[1010.0, 1011.0, 1012.0], [1510.0, 1511.0, 1512.0]]
    np.testing.assert_array_equal(x.T.contiguous()[3, :4].cpu().numpy(), [3.0, 503.0, 1003.0, 1503.0])
    small = torch.arange(24.0, device="cpu").reshape(4, 6)
    assert small.T.tolist() == np.arange(24.0).reshape(4, 6).T.tolist()
    assert small[1:, ::2].tolist() == np.arange(24.0).reshape(4, 6)[1:, ::2].tolist()
    audit.check()


def test_launches_of_non_exposed_tensors_do_not_map(audit):
    a = np.zeros(16, np.float32)
    shared = torch.from_numpy(a)  # something exposed exists: launches go through the check
    x = torch.ones(16, device="cpu")
    torch.synchronize("cpu")
    audit.reset()
    for _ in range(50):
        x = x * 0.5 + 1.0
    torch.synchronize("cpu")
    assert audit.counts["map"] == 0 and audit.counts["unmap"] == 0 and audit.counts["kernel"] >= 50
    x.sum().item()
    x.tolist()
    assert audit.counts["map"] == 0 and audit.counts["unmap"] == 0  # host reads of pooled memory: reads
    reads = audit.counts["read"]
    assert reads >= 1
    for _ in range(10):
        x[3].item()  # unchanged: the snapshot serves, no command
    assert audit.counts["read"] == reads
    audit.reset()
    shared.add_(1)  # an exposed launch: one unmap, one map back
    torch.synchronize("cpu")
    assert audit.counts["map"] == 1 and audit.counts["unmap"] == 1 and audit.counts["kernel"] >= 1
    assert a[0] == 1.0
    audit.check()


def test_a_map_elsewhere_than_host_ptr_is_refused(audit, monkeypatch):
    real_map = cl.enqueue_map_buffer

    def elsewhere(queue, buf, *args, **kwargs):
        array, event = real_map(queue, buf, *args, **kwargs)
        return types.SimpleNamespace(ctypes=types.SimpleNamespace(data=array.ctypes.data + 64), base=array.base), event

    monkeypatch.setattr(cl, "enqueue_map_buffer", elsewhere)
    with pytest.raises(RuntimeError, match="cannot share memory"):
        torch.from_numpy(np.ones(8, np.float32))
    monkeypatch.setattr(cl, "enqueue_map_buffer", real_map)
    assert (torch.ones(3, device="cpu") + 1).tolist() == [2.0, 2.0, 2.0]
    torch.synchronize("cpu")


# ---- serialization ----------------------------------------------------------------------------------
def test_save_and_load_cpu_tensors(audit):
    big = torch.arange(100_000, dtype=torch.float32, device="cpu") * 2  # read command
    small = torch.arange(10, dtype=torch.int64, device="cpu") + 1  # snapshot
    a = np.linspace(0, 1, 7)
    shared = torch.from_numpy(a)  # exposed: read in place
    exposed = torch.ones(5, device="cpu") * 4
    exposed_arr = exposed.numpy()
    view = small[3:7]  # shares small's storage
    buf = io.BytesIO()
    torch.save({"big": big, "small": small, "shared": shared, "exposed": exposed, "view": view}, buf)
    buf.seek(0)
    got = torch.load(buf)
    assert got["big"][-1].item() == 199_998.0
    np.testing.assert_array_equal(got["big"].numpy(), np.arange(100_000, dtype=np.float32) * 2)
    assert got["small"].tolist() == list(range(1, 11)) and got["view"].tolist() == [4, 5, 6, 7]
    np.testing.assert_array_equal(got["shared"].numpy(), a)
    assert got["exposed"].tolist() == [4.0] * 5
    got["view"].add_(100)  # the loaded views share the loaded storage
    assert got["small"][3].item() == 104
    got["exposed"].numpy()[:] = 0.0  # a loaded tensor is its own memory
    assert exposed_arr.tolist() == [4.0] * 5
    audit.check()


# ---- threads ----------------------------------------------------------------------------------------
def test_threads_alternate_numpy_and_kernels_on_their_own_memory(audit):
    errors = []

    def work(k):
        try:
            a = np.full(33, float(k), np.float32)
            t = torch.from_numpy(a)
            p = torch.zeros(33, device="cpu")
            ref_a, ref_p = a.copy(), np.zeros(33, np.float32)
            for i in range(60):
                a[i % 33] += 1.0
                ref_a[i % 33] += 1.0
                t.add_(1)
                ref_a += 1.0
                p = p + t  # pooled, reads exposed memory
                ref_p += ref_a
                if i % 7 == 0:
                    assert t[i % 33].item() == ref_a[i % 33]
                    assert p.tolist() == ref_p.tolist()
            np.testing.assert_array_equal(a, ref_a)
            assert a.sum() == 33 * (k + 60) + 60
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors
    audit.check()


def test_numpy_indices_and_values_are_copied_when_used():
    """x[mask] and x[idx] = values read the caller's arrays later (the launch is asynchronous):
    changing them right after the call must not change the result."""
    x = torch.arange(4.0)
    mask = np.array([False, True, False, True])
    picked = x[mask]
    mask[:] = True
    y = torch.zeros(4)
    values = np.array([5.0, 6.0], np.float32)
    y[[1, 2]] = values
    values[:] = 0
    assert picked.tolist() == [1.0, 3.0] and y.tolist() == [0.0, 5.0, 6.0, 0.0]
