"""Several Python threads computing on one device: results stay right, and the shared machinery
(program and kernel caches, allocator, the queue and its deferred-launch list, autograd) holds up.

Every worker checks its own results against numpy; a worker that raises, or a run that does not
finish within the timeout (a deadlock), fails the test.
"""
from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import cltensor as torch
from cltensor import codegen, launch

TIMEOUT = 120
ROUNDS = 12


def run_threads(n, work):
    """Start n threads on work(k) at once (a barrier), join them with a timeout, re-raise any error."""
    barrier = threading.Barrier(n)
    errors = []

    def body(k):
        try:
            barrier.wait()
            work(k)
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append((k, err))

    threads = [threading.Thread(target=body, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    if errors:
        raise errors[0][1]


def _close(got, expected, rtol=1e-4, atol=1e-4):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(expected, np.float64), rtol=rtol, atol=atol)


@pytest.mark.parametrize("device", ["cpu", "cl:0"])
@pytest.mark.parametrize("n", [2, 4])
def test_mixed_workloads_in_threads_give_right_answers(n, device):
    def work(k):
        rng = np.random.default_rng(k)
        for r in range(ROUNDS):
            a = rng.standard_normal((17 + k, 9)).astype(np.float32)
            b = rng.standard_normal((9, 5 + r % 3)).astype(np.float32)
            ta, tb = torch.tensor(a, device=device), torch.tensor(b, device=device)
            _close((ta * 2 - ta.T.T.exp()).cpu().numpy(), a * 2 - np.exp(a))  # elementwise, strided
            _close((ta @ tb).cpu().numpy(), a @ b)  # GEMM
            _close(ta.sum(0).cpu().numpy(), a.sum(0))  # reductions along both dims
            _close(ta.amax(1).cpu().numpy(), a.max(1))
            _close(ta.softmax(-1).cpu().numpy(), np.exp(a) / np.exp(a).sum(-1, keepdims=True))
            idx = rng.integers(0, a.shape[0], 6)
            _close(ta[torch.tensor(idx, device=device)].cpu().numpy(), a[idx])  # indexing (a host read)
            assert abs(ta.mean().item() - float(a.mean())) < 1e-4  # scalar reads
    run_threads(n, work)


@pytest.mark.parametrize("n", [2, 4])
def test_autograd_backward_in_threads(n):
    def work(k):
        rng = np.random.default_rng(100 + k)
        for _ in range(ROUNDS):
            x = rng.standard_normal((8, 6)).astype(np.float32)
            w0 = rng.standard_normal((6, 3)).astype(np.float32)
            w = torch.tensor(w0, requires_grad=True)
            loss = (torch.tensor(x) @ w).tanh().pow(2).sum()
            loss.backward()
            h = np.tanh(x @ w0)
            _close(w.grad.cpu().numpy(), x.T @ (2 * h * (1 - h * h)), rtol=1e-3, atol=1e-3)
            assert abs(loss.item() - float((h * h).sum())) < 1e-3
    run_threads(n, work)


def test_grad_mode_is_per_thread():
    seen = {}
    inside = threading.Event()
    done = threading.Event()

    def no_grad_thread():
        with torch.no_grad():
            inside.set()
            done.wait(TIMEOUT)
            seen["no_grad"] = (torch.ones(2, requires_grad=True) * 2).requires_grad

    def grad_thread():
        inside.wait(TIMEOUT)
        seen["grad"] = (torch.ones(2, requires_grad=True) * 2).requires_grad
        done.set()

    threads = [threading.Thread(target=no_grad_thread), threading.Thread(target=grad_thread)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert seen == {"no_grad": False, "grad": True}


def test_backward_into_a_shared_leaf_from_four_threads_accumulates_every_gradient():
    """The first gradient of a leaf creates .grad, later ones add to it: four threads racing on a
    fresh leaf must neither lose a gradient nor add into a tensor another thread just replaced."""
    steps = 4
    for _ in range(15):
        w = torch.zeros(5, requires_grad=True)
        losses = [[(w * (k + 1)).sum() for _ in range(steps)] for k in range(4)]  # graphs built up front

        def work(k):
            for loss in losses[k]:
                loss.backward()

        run_threads(4, work)
        _close(w.grad.cpu().numpy(), np.full(5, steps * (1 + 2 + 3 + 4)))


def test_creating_and_dropping_tensors_in_threads_balances_the_allocator():
    devices = ("cpu", "cl:0")  # one backend where cl:0 is the CPU driver itself, two on a GPU

    def live_bytes():
        gc.collect()
        for d in devices:
            torch.synchronize(d)  # each backend releases its deferred frees at its own synchronize
        return [torch.device(d).backend.allocator.live_bytes for d in devices]
    start = live_bytes()

    def work(k):
        rng = np.random.default_rng(200 + k)
        keep = []
        for r in range(150):
            n = int(rng.integers(1, 5000))
            t = torch.full((n,), float(k), device="cpu" if r % 2 else "cl:0")
            keep.append(t + 1)
            if len(keep) > 8:
                first = keep.pop(0)
                assert first.sum().item() == first.numel() * (k + 1)
        del keep

    run_threads(4, work)
    assert live_bytes() == start
    assert all(torch.device(d).backend.allocator.cached_bytes >= 0 for d in devices)


def test_first_use_of_new_kernels_from_several_threads_at_once():
    """Threads that all need the same, not yet built kernel at the same moment: one build, every
    thread gets a kernel whose argument types are set."""
    builds = codegen.stats["builds"] + codegen.stats.get("binary_hits", 0)
    token = threading.get_ident() % 997  # kernel keys this process has not built yet

    def work(k):
        for j in range(3):
            x = torch.full((33,), float(k + 1))
            y = torch.full((33,), 2.0)
            out = torch.empty(33)
            launch.elementwise.elementwise(f"thread_probe_{token}_{j}", f"a * b + (T){j}", [x, y], out, torch.float32)
            assert out.tolist() == [2.0 * (k + 1) + j] * 33
    run_threads(4, work)
    assert codegen.stats["builds"] + codegen.stats.get("binary_hits", 0) - builds <= 3


def test_temporaries_die_while_other_threads_synchronise():
    """A temporary index tensor (numpy memory the device reads in place) dies right after the gather
    that reads it is launched; another thread's synchronize must not release that memory before the
    gather ran (it used to: rows of the result were garbage now and then)."""
    def work(k):
        rng = np.random.default_rng(300 + k)
        a = rng.standard_normal((20 + k, 9)).astype(np.float32)
        ta = torch.tensor(a)
        for _ in range(200):
            idx = rng.integers(0, a.shape[0], 6)
            np.testing.assert_array_equal(ta[torch.tensor(idx)].cpu().numpy(), a[idx])
    run_threads(4, work)


def test_host_reads_and_launches_interleave_across_threads():
    """Small launches are held back and submitted in batches; a host read in one thread submits the
    launches of the others. Each thread's chain of tiny ops must still see its own results."""
    def work(k):
        x = torch.zeros(16)
        for step in range(200):
            x = x + 1  # tiny, deferred launches
            if step % 37 == 0:
                assert x[0].item() == step + 1
        assert x.tolist() == [200.0] * 16
    run_threads(4, work)


@pytest.mark.parametrize("device", ["cpu", "cl:0"])
def test_two_stage_reductions_in_threads_read_their_own_partials(device):
    """A long sum runs in two launches through a partials buffer; the buffer must stay out of the
    pool until the second launch is queued, or another thread's first stage can overwrite it in
    between (8 threads summing torch.full((2**18,), k) once read each other's values)."""
    n = 1 << 18

    def work(k):
        for _ in range(4):
            got = torch.full((n,), float(k), device=device).sum().item()
            assert got == k * n, f"thread {k} read {got}, expected {k * n}"

    for _ in range(3):
        run_threads(8, work)


def test_stress_many_threads_independent_work_with_host_reads():
    """The thread contract (docs/threads.md) under load: 8 threads, each with its own tensors and
    generator, run every kernel family with large (two-stage) and small shapes, in-place updates
    and host reads in between; every value is checked against numpy."""
    def work(k):
        rng = np.random.default_rng(500 + k)
        gen = torch.Generator().manual_seed(k)
        for r in range(6):
            n = (1 << 17) + 31 * k + r
            a = rng.standard_normal(n).astype(np.float32)
            t = torch.tensor(a)
            assert abs(t.sum().item() - float(a.astype(np.float64).sum())) < 1e-2 * max(1.0, abs(float(a.sum())))
            _close(t.cumsum(0)[-1:].cpu().numpy(), a.astype(np.float64).cumsum()[-1:], rtol=1e-3, atol=1e-1)
            t.mul_(2).add_(k)
            _close(t[:7].cpu().numpy(), a[:7] * 2 + k)
            s, order = torch.sort(t[:1000])
            _close(s.cpu().numpy(), np.sort(a[:1000] * 2 + k))
            m = torch.tensor(rng.standard_normal((33, 20)).astype(np.float32))
            _close((m @ m.T).cpu().numpy(), m.cpu().numpy() @ m.cpu().numpy().T, rtol=1e-3, atol=1e-3)
            u = torch.rand(1000, generator=gen)
            assert 0 <= u.min().item() and u.max().item() < 1
            assert int((t[:100] > k).sum()) == int((a[:100] * 2 + k > k).sum())

    for _ in range(2):
        run_threads(8, work)
