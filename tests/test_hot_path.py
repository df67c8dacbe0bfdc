"""The elementwise hot path: an op's plan in the backend's one bounded plan cache, and launches with
prepared arguments (a preset the plan fixes, set only when the kernel holds another plan's, plus the
call's buffers and numbers). Results must not depend on which plan last used a shared kernel, on
operands at an offset (launched with every argument) or on threads sharing a plan."""
from __future__ import annotations

import threading

import numpy as np

import cltensor as torch
from cltensor import launch
from cltensor.ops import elementwise
from helpers import assert_close


def test_an_op_plan_is_one_entry_of_its_backends_bounded_cache(monkeypatch):
    x = torch.arange(7, dtype=torch.float32)
    backend = x.device.backend
    x + 2.5
    key, owner = elementwise._plan_key(elementwise.OPS["add"], (x, 2.5), None, False)
    assert owner is backend and backend.plans[key].launch is not None  # the op's plan holds its launch plan
    monkeypatch.setattr(launch.base, "MAX_PLANS", len(backend.plans) + 3)
    for n in range(1, 12):  # new layouts: the cache is cleared when full instead of growing
        torch.ones(n) * 2.0
        assert len(backend.plans) <= launch.base.MAX_PLANS
    assert_close(x + 2.5, np.arange(7, dtype=np.float32) + 2.5)


def test_plans_sharing_a_kernel_take_turns():
    # one kernel (contiguous float32 mul by a scalar), two plans (sizes 5 and 9): each launch must
    # run with its own plan's sizes whichever plan set the kernel's arguments last
    a, b = np.arange(5, dtype=np.float32), np.arange(9, dtype=np.float32)
    ta, tb = torch.tensor(a), torch.tensor(b)
    results = []
    for k in range(6):
        results.append(((ta * float(k)), a * k))
        results.append(((tb * float(k)), b * k))
    for got, want in results:
        assert_close(got, want)


def test_operands_at_an_offset_then_at_zero_again():
    base = np.arange(20, dtype=np.float32)
    t = torch.tensor(base)
    whole, tail = t[:10], t[10:]  # same layout, offsets 0 and 10: one plan
    for _ in range(3):
        assert_close(whole + whole, base[:10] * 2)
        assert_close(tail + whole, base[10:] + base[:10])  # every argument, the offsets too
        assert_close(whole * 3.0, base[:10] * 3)  # back to the preset's zero offsets
    out = torch.zeros(20)
    torch.add(whole, 1.0, out=out[10:])  # an out= view at an offset
    assert_close(out, np.concatenate([np.zeros(10, np.float32), base[:10] + 1]))


def test_non_default_params_and_scalar_operands_reach_the_kernel():
    x, y = torch.arange(6, dtype=torch.float32), torch.ones(6)
    for alpha in (1, 2, -0.5, 1):
        assert_close(torch.add(x, y, alpha=alpha), np.arange(6) + alpha)
        assert_close(x - 2 * y, np.arange(6) - 2)
    i = torch.arange(6)
    for s in (3, -2, 7):
        assert_close(i * s, np.arange(6) * s)
        assert_close(torch.sub(i, i, alpha=s), np.arange(6) * (1 - s))


def test_threads_sharing_a_plan_keep_their_own_arguments():
    errors, barrier = [], threading.Barrier(4)

    def work(k):
        try:
            a = np.full(33, k, np.float32)
            t = torch.tensor(a)
            barrier.wait()
            for r in range(60):  # same plan (and kernel) in every thread; operands and scalars differ
                got = t * float(r) + t
                if r % 20 == 19:
                    assert_close(got, a * r + a)
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
