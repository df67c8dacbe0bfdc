"""The performance machinery, checked for behaviour (never for speed): the profiler, the caching
allocator, batched launches, the elementwise launch plans and vector path, the warm-start caches,
and that the benchmark script runs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyopencl as cl
import pytest

import cltensor as torch
from cltensor import codegen
from helpers import assert_close, np_of

ROOT = Path(__file__).resolve().parent.parent
DEV = torch.device("cpu")


def backend():
    return DEV.backend


# ---- profiler ------------------------------------------------------------------------------------
def test_profiler_counts_kernels_by_name():
    a = torch.arange(1000, dtype=torch.float32)
    b = torch.ones(1000)
    with torch.profiler.profile(print_table=False) as prof:
        for _ in range(3):
            c = a + b
        d = (c * 2).exp()
        d.sum().item()
    stats = prof.stats
    assert stats["ew_add"].count == 3
    assert stats["ew_mul"].count == 1 and stats["ew_exp"].count == 1
    assert any(name.startswith("reduce") for name in stats)
    assert all(s.total_ns > 0 and s.min_ns <= s.max_ns for s in stats.values())
    lines = prof.table().splitlines()
    totals = [float(line.split()[2]) for line in lines[1:-1]]
    assert totals == sorted(totals, reverse=True)  # sorted by total device time
    assert lines[-1].split()[1] == str(sum(s.count for s in stats.values()))


def test_profiler_stops_recording_and_restores_the_queue():
    queue = backend()._queue
    with torch.profiler.profile(print_table=False) as prof:
        (torch.ones(10) + 1).sum().item()
    assert backend().recorder is None or os.environ.get("CLTENSOR_PROFILE")
    assert backend()._queue is queue or os.environ.get("CLTENSOR_PROFILE")
    count = sum(s.count for s in prof.stats.values())
    (torch.ones(10) + 1).sum().item()
    assert sum(s.count for s in prof.stats.values()) == count  # nothing recorded after exit


def test_profiler_table_printed_at_exit_with_env_switch():
    code = "import cltensor as t\nx = t.ones(100)\nprint((x * 3).sum().item())\n"
    env = dict(os.environ, CLTENSOR_PROFILE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "300.0"
    assert "ew_mul" in out.stderr and "calls" in out.stderr and "total" in out.stderr


# ---- caching allocator ---------------------------------------------------------------------------
def test_allocator_reuses_freed_blocks():
    alloc = backend().allocator
    torch.synchronize()
    n = 123_457  # an odd size: its block rounds up to a size class
    x = torch.empty(n)
    block, live = x._storage.block, alloc.live_bytes
    assert block.nbytes >= 4 * n
    cached = alloc.cached_bytes
    del x
    assert alloc.live_bytes == live - block.nbytes
    assert alloc.cached_bytes == cached + block.nbytes
    y = torch.empty(n - 3)  # same size class: the same block comes back
    assert y._storage.block is block
    assert alloc.cached_bytes == cached and alloc.live_bytes == live
    del y
    torch.cl.empty_cache()
    assert alloc.cached_bytes == 0


def test_memory_shared_with_numpy_is_not_recycled():
    alloc = backend().allocator
    x = torch.ones(5000, device=DEV)  # host memory by name: only it is shared with numpy
    arr = x.numpy()
    block, live = x._storage.block, alloc.live_bytes
    del x
    assert alloc.live_bytes == live - block.nbytes  # counted as freed, but never pooled again
    z = torch.zeros(5000, device=DEV)
    assert z._storage.block is not block
    assert (arr == 1).all()


def test_values_stay_right_while_blocks_are_recycled_under_queued_kernels():
    # Every iteration frees tensors whose blocks the next iteration reuses while earlier kernels
    # may still be queued (small launches are batched); only the in-order queue keeps this right.
    n = 3000
    base = torch.arange(n, dtype=torch.float32)
    acc = torch.zeros(n)
    expected = np.zeros(n, np.float32)
    ref = np.arange(n, dtype=np.float32)
    reused = 0
    for i in range(60):
        tmp = base * float(i) + 1.0
        tmp2 = (tmp - 1.0) / float(i + 1)
        reused += backend().allocator.cached_bytes > 0
        acc = acc + tmp2
        expected = expected + (ref * np.float32(i) + 1 - 1) / np.float32(i + 1)
        del tmp, tmp2
    assert reused > 0
    assert_close(acc, expected, rtol=1e-5, atol=1e-4)


def test_big_and_small_launches_interleave_in_order():
    big = torch.ones(1 << 17)  # above the batching threshold: submitted at once
    small = torch.ones(7)
    for _ in range(5):
        big = big + 1
        small = small * 2 + big[:7]
    assert_close(small, np.full(7, 2 ** 5 + sum(2 ** (4 - k) * (k + 2) for k in range(5)), np.float32))


def test_queue_access_submits_batched_launches():
    x = torch.ones(16)
    y = x + 41  # a small launch: held back on CPU drivers
    out = np.empty(16, np.float32)
    cl.enqueue_copy(backend().queue, out, y._storage.buffer, is_blocking=True)  # direct queue use
    assert (out == 42).all()
    assert not backend().pending


def test_held_launches_go_to_the_driver_by_count_and_by_work(monkeypatch):
    b = backend()
    if not b.defer_items:  # a GPU driver: every launch goes to the driver at once
        x = torch.ones(16) + 1
        assert not b.pending
        assert_close(x, np.full(16, 2, np.float32))
        return
    monkeypatch.setattr(b, "batch_limit", 5)
    monkeypatch.setattr(b, "batch_items", 1 << 30)
    x = torch.ones(16)
    b.flush()
    for k in range(4):
        x = x + 1
        assert len(b.pending) == k + 1  # held, under both limits
    x = x + 1
    assert not b.pending and b.pending_items == 0  # the fifth: the count limit
    monkeypatch.setattr(b, "batch_items", 3000)
    y = torch.ones(1000)
    b.flush()
    y = y * 2
    y = y * 2
    assert len(b.pending) == 2  # 2000 work-items: held
    y = y * 2
    assert not b.pending  # 3000: the work limit
    assert_close(x, np.full(16, 6, np.float32))
    assert_close(y, np.full(1000, 8, np.float32))


# ---- elementwise plans and the vector path -----------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64, torch.uint8, torch.bool])
def test_vector_path_tails_and_odd_offsets(dtype):
    for n in (1, 3, 4, 5, 9, 1027):
        a = np.arange(n + 3) % 5
        b = (np.arange(n + 3) * 7) % 3
        ta = torch.tensor(a).to(dtype)[3:]  # storage offset 3: vector loads at unaligned addresses
        tb = torch.tensor(b).to(dtype)[1:n + 1]
        na, nb = a[3:].astype(dtype.np), b[1:n + 1].astype(dtype.np)
        if dtype is torch.bool:
            assert_close(ta | tb, na | nb)
        else:
            assert_close(ta + tb, (na + nb).astype(dtype.np))
            assert_close(ta * 2 + 1, (na * 2 + 1).astype(dtype.np))


def test_strided_path_blocks_cover_every_element_once():
    # shapes that leave partial blocks in both tiled dims, 1-d to 4-d after collapsing
    from cltensor import launch
    rng = np.random.default_rng(1)
    for shape, perm in (((37,), None), ((19, 33), (1, 0)), ((3, 17, 20), (2, 0, 1)), ((2, 3, 18, 5), (0, 3, 2, 1))):
        a = rng.standard_normal(shape).astype(np.float32)
        t = torch.tensor(a)
        view, nview = (t[::2], a[::2]) if perm is None else (t.permute(*perm), a.transpose(perm))
        assert_close(view.contiguous(), np.ascontiguousarray(nview))
        assert_close(view * 2 + view, nview * 3, rtol=1e-6, atol=1e-6)
        out = torch.full(nview.shape[::-1], -1.0).permute(*reversed(range(nview.ndim)))  # a strided output
        launch.elementwise.elementwise("linear_index", "(T)i", [], out, torch.float32)  # `i`: the element's linear index
        assert_close(out, np.arange(nview.size, dtype=np.float32).reshape(nview.shape))


def test_plans_follow_layouts_broadcasts_and_default_dtype():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    ta = torch.tensor(a)
    for x, nx in ((ta, a), (ta.t(), a.T), (ta[:, ::2], a[:, ::2]), (ta[1], a[1])):
        for _ in range(2):  # the second call runs from the cached plan
            assert_close(x + 1, nx + 1)
            assert_close(x * x, nx * nx)
    assert_close(ta + ta[0], a + a[0])
    assert_close(ta + torch.tensor(2.0), a + 2)
    i = torch.arange(4)
    assert (i * 1.5).dtype is torch.float32
    torch.set_default_dtype(torch.float16)  # a default every device computes in (float64 is not)
    try:
        assert (i * 1.5).dtype is torch.float16  # same operands, different result: not a stale plan
    finally:
        torch.set_default_dtype(torch.float32)
    assert (i * 1.5).dtype is torch.float32


def test_planned_inplace_and_out_calls_keep_every_check():
    x, y = torch.ones(6), torch.arange(6, dtype=torch.float32)
    for _ in range(2):  # the second round runs from the cached plans
        v = x._version
        x.add_(y, alpha=2)
        assert x._version == v + 1
        out = torch.empty(6)
        torch.mul(x, y, out=out)
    assert_close(x, 1 + 4 * np.arange(6, dtype=np.float32))
    assert_close(out, (1 + 4 * np.arange(6, dtype=np.float32)) * np.arange(6, dtype=np.float32))
    base = torch.arange(8, dtype=torch.float32)
    other = torch.arange(8, dtype=torch.float32)
    base[1:].add_(other[:-1])  # same layouts, different storages: makes the plan
    with pytest.raises(RuntimeError, match="single memory location"):
        base[1:].add_(base[:-1])  # overlapping storage: still refused with a plan in place
    w = torch.ones(3, requires_grad=True)
    with torch.no_grad():
        for _ in range(2):
            w.mul_(2.0)  # an optimizer step on a leaf
    assert_close(w.detach(), np.full(3, 4.0, np.float32))
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.mul_(2.0)
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
        torch.mul(w, 2.0, out=torch.empty(3))


def test_planned_calls_record_autograd_and_respect_no_grad():
    w = torch.ones(5, requires_grad=True)
    for _ in range(2):
        y = (w * 3).sum()
        y.backward()
    assert_close(w.grad, np.full(5, 6.0, np.float32))
    with torch.no_grad():
        assert not (w * 3).requires_grad
    assert (w * 3).grad_fn is not None


# ---- warm-start caches ----------------------------------------------------------------------------
def test_rendered_sources_are_cached_by_parameters(tmp_path, monkeypatch):
    monkeypatch.setattr(codegen, "CACHE_DIR", str(tmp_path))
    params = dict(kname="ew_t", expr="a + b", helpers="", in_dtypes=(torch.float32, torch.float32),
                  in_kinds=("c", "c"), out_dtype=torch.float32, compute=torch.float32, ndim=0, IDX="int",
                  params=(), VEC=4, TILE=0, sig={"ew_t": "const int n, __global float *out, const int out_off"})
    first = codegen.cached_render("elementwise.cl.mako", **params)
    renders, hits = codegen.stats["renders"], codegen.stats["source_hits"]
    assert codegen.cached_render("elementwise.cl.mako", **params) == first
    assert codegen.stats["renders"] == renders and codegen.stats["source_hits"] == hits + 1
    other = codegen.cached_render("elementwise.cl.mako", **dict(params, expr="a - b"))
    assert "a - b" in other and codegen.stats["renders"] == renders + 1
    assert codegen._source_path("elementwise.cl.mako", {"x": object()}) is None  # not plain: no cache


def test_warm_process_neither_renders_nor_compiles(tmp_path):
    code = ("import cltensor as t\nfrom cltensor import codegen\nx = t.ones(1000)\n"
            "v = (x * 2 + 1).sum().item()\nimport sys\nprint(v, codegen.stats['renders'], codegen.stats['builds'], "
            "'mako' in sys.modules)\n")
    env = dict(os.environ, CLTENSOR_CACHE_DIR=str(tmp_path), CLTENSOR_BINARY_SAVE_BUDGET="120")
    env.pop("CLTENSOR_PROFILE", None)
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr + runs[1].stderr
    cold, warm = (r.stdout.split() for r in runs)
    assert cold[0] == warm[0] == "3000.0"
    assert int(cold[1]) > 0
    assert warm[1] == "0" and warm[3] == "False"  # sources from disk: Mako is never imported
    if backend().cl_device.platform.name.strip() == "Portable Computing Language":
        assert warm[2] == "0"  # programs from the binaries written at the first process's exit


# ---- the benchmark script -------------------------------------------------------------------------
def test_benchmark_quick_run():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick"], capture_output=True,
                         text=True, timeout=600, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    for workload in ("matmul f32", "a+b", "a*2+b", "exp(a)", "clEnqueueCopyBuffer", "sum ", "softmax",
                     "transpose+contiguous", "tiny op", "two-layer net", "digits MLP", "import to first result",
                     "device copy", "GPU: matmul f32 4096", "GPU: sum 64M"):
        assert workload in text, workload
    assert "targets:" in text
    assert "Traceback" not in out.stderr
