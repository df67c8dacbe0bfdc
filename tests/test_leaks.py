"""No leaks: device buffers go back to the allocator when tensors die (autograd graphs included),
and long loops — training, or raising and catching errors — keep device and host memory flat.

The training soak runs SOAK_STEPS steps (2 000 by default; CLTENSOR_SOAK=1 runs the full 10 000,
CLTENSOR_SOAK_STEPS=N any number from 600: CI's run on rusticl, whose launches cost ~0.5 ms, takes 600)
and prints its figures (run with -s to see them).
"""
from __future__ import annotations

import gc
import os
import time
import tracemalloc

import numpy as np
import pytest

import cltensor as torch
from cltensor import nn

SOAK_STEPS = 10_000 if os.environ.get("CLTENSOR_SOAK", "") not in ("", "0") else \
    max(600, int(os.environ.get("CLTENSOR_SOAK_STEPS", "2000")))
ERROR_LOOPS = 1_000
BACKEND = torch.device("cpu").backend  # 'cpu' and 'cl:0' compute on this same PoCL device


def live():
    return BACKEND.allocator.live_bytes


def tensor_count():
    return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))


@pytest.fixture
def baseline():
    """live bytes with every earlier tensor of this module gone; the check runs with the garbage
    collector off, so memory must come back through reference counting alone (no cycles)."""
    gc.collect()
    torch.synchronize()
    start = live()
    gc.disable()
    try:
        yield start
    finally:
        gc.enable()


# ---- buffers return when tensors die ----------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cpu", "cl:0"])
def test_buffers_return_when_tensors_and_views_die(baseline, device):
    a = torch.randn(64, 32, device=device)
    views = [a.T, a[::2], a[1:, 3], a.reshape(32, 64), a.unsqueeze(0).expand(3, 64, 32)]
    made = [a.clone(), a.T.contiguous(), a + 1, a.sum(0), a @ a.T, torch.cat([a, a]), a[a > 0], a.to(torch.float16)]
    assert live() > baseline
    del a
    assert live() > baseline  # the views keep the storage
    del views, made
    assert live() == baseline


def test_a_freed_autograd_graph_returns_every_saved_tensor(baseline):
    w = torch.randn(32, 16, requires_grad=True)
    x = torch.randn(8, 32)
    after_leaves = live()
    h = (x @ w).tanh()
    loss = (h * h).sum() + h.softmax(-1).log().mean() + w.pow(2).sum()
    assert live() > after_leaves  # the graph holds what the backward reads
    loss.backward()
    del h, loss
    assert live() == after_leaves + w.grad.nbytes  # only the gradient is left
    del w, x
    assert live() == baseline


def test_a_graph_that_is_never_run_is_freed_with_its_output(baseline):
    w = torch.randn(16, 16, requires_grad=True)
    outputs = []
    for _ in range(5):
        y = (w @ w).relu().sum(1).exp()
        outputs.append(y)
    del y
    assert live() > baseline
    del outputs, w
    assert live() == baseline


def test_retain_graph_and_create_graph_are_freed(baseline):
    w = torch.randn(8, requires_grad=True)
    loss = (w.sin() * w).sum()
    (g,) = torch.autograd.grad(loss, w, create_graph=True)  # a graph of the gradient itself
    g.sum().backward(retain_graph=True)
    g.sum().backward()
    del loss, g, w
    assert live() == baseline


def test_module_and_optimizer_state_are_freed(baseline):
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        loss = model(torch.randn(4, 8)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert live() > baseline
    del model, opt, loss
    assert live() == baseline


# ---- long loops -----------------------------------------------------------------------------------------
class Probe:
    """live device bytes, traced host bytes and tensor objects at checkpoints of a loop."""

    def __init__(self):
        self.rows = []

    def __call__(self, step):
        torch.synchronize()
        gc.collect()
        self.rows.append((step, live(), tracemalloc.get_traced_memory()[0], tensor_count()))

    def growth(self):
        """Growth of (device bytes, host bytes, tensor count) to the last checkpoint: device bytes and
        tensors from the first, traced host bytes from the second (a quarter in: tracing itself and
        the bounded caches have settled by then)."""
        (_, d0, _, t0), (_, _, h0, _), (_, d1, h1, t1) = self.rows[0], self.rows[1], self.rows[-1]
        return d1 - d0, h1 - h0, t1 - t0


def _regression():
    """The y = 3x^2 + 2 regression of the tutorials, as a small MLP trained with Adam."""
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 64).reshape(64, 1)
    y = 3 * x * x + 2
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)

    def step():
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def test_training_loop_keeps_device_and_host_memory_flat():
    step = _regression()
    for _ in range(50):  # compile and fill the caches first
        step()
    probe = Probe()
    tracemalloc.start()
    try:
        probe(0)
        start = time.perf_counter()
        for i in range(1, SOAK_STEPS + 1):
            loss = step()
            del loss
            if i % (SOAK_STEPS // 4) == 0:
                probe(i)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    final = step().item()
    device, host, tensors = probe.growth()
    print(f"\nsoak: {SOAK_STEPS} steps in {seconds:.1f} s ({SOAK_STEPS / seconds:.0f} steps/s, probes included); "
          f"live bytes {probe.rows[0][1]} -> {probe.rows[-1][1]}; traced host bytes {probe.rows[1][2]} -> "
          f"{probe.rows[-1][2]} (peak {peak}); tensors {probe.rows[0][3]} -> {probe.rows[-1][3]}; "
          f"final loss {final:.5f}")
    assert device == 0, probe.rows
    assert tensors == 0, probe.rows
    assert host < 64 * 1024, probe.rows  # bounded caches may settle; a per-step leak would be ~MBs
    assert final < 0.05  # and it trained


def _bad_calls():
    a, b = torch.randn(2, 3), torch.randn(4)
    i = torch.tensor([0, 7])
    c = torch.randn(3, device="cl:0")
    return [lambda: a + b, lambda: a @ a, lambda: a[5], lambda: a[:, i], lambda: a.view(4),
            lambda: a.gather(1, i.reshape(1, 2)), lambda: torch.cat([a, b]), lambda: a.sum(3),
            lambda: b + c, lambda: a.T.view(-1), lambda: torch.tensor([1, 2]) // 0]


def test_a_loop_of_caught_errors_keeps_memory_flat():
    calls = _bad_calls()
    for call in calls:  # warm up: compile the check kernels, fill the plan caches
        with pytest.raises((RuntimeError, IndexError)):
            call()
    probe = Probe()
    tracemalloc.start()
    try:
        probe(0)
        for k in range(1, ERROR_LOOPS + 1):
            for call in calls:
                try:
                    call()
                except (RuntimeError, IndexError):
                    pass
                else:
                    raise AssertionError("expected an error")
            if k % (ERROR_LOOPS // 4) == 0:
                probe(k)
    finally:
        tracemalloc.stop()
    device, host, tensors = probe.growth()
    print(f"\nerror loop: {ERROR_LOOPS * len(calls)} errors; live bytes {probe.rows[0][1]} -> {probe.rows[-1][1]}; "
          f"traced host bytes {probe.rows[1][2]} -> {probe.rows[-1][2]}; tensors {probe.rows[0][3]} -> "
          f"{probe.rows[-1][3]}")
    assert device == 0 and tensors == 0, probe.rows
    assert host < 64 * 1024, probe.rows


def test_values_stay_right_after_the_loops():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = torch.tensor(x)
    np.testing.assert_allclose((t @ t.T).cpu().numpy(), x @ x.T)
