"""Every collective of cltensor.distributed against numpy, on every dtype the device holds, on 'cpu'
(zero-copy) and on an OpenCL device tensor (staged through host memory). Run by tests/test_distributed.py
under mpirun (through all_checks.py); a failed check raises, which aborts the job.
"""
import numpy as np

import cltensor as torch
import cltensor.distributed as dist
from cltensor.device import as_device

RANK = SIZE = None
checks = 0


def values(dtype, rank, shape=(2, 3), seed=0):
    """Small integers (exact in every dtype, sums and products included) that differ by rank."""
    rng = np.random.RandomState(seed * 131 + rank)
    if dtype is torch.bool:
        return rng.randint(0, 2, shape).astype(bool)
    low = 0 if dtype is torch.uint8 else -3
    return rng.randint(low, 4, shape).astype(np.float64 if dtype.is_floating_point else np.int64)


def make(array, dtype, device):
    return torch.tensor(array, dtype=dtype, device=device)


def host(t):
    return np.array(t.tolist(), dtype=np.float64 if t.dtype.is_floating_point else None).reshape(t.shape)


def check(got, want, dtype, what):
    global checks
    tol = 1e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-6
    if dtype.is_floating_point:
        np.testing.assert_allclose(host(got), want, rtol=tol, atol=tol, err_msg=what)
    else:
        np.testing.assert_array_equal(host(got), np.asarray(want).astype(host(got).dtype), err_msg=what)
    checks += 1


def everyone(dtype, shape=(2, 3), seed=0):
    return [values(dtype, r, shape, seed) for r in range(SIZE)]


REDUCE = {dist.ReduceOp.SUM: lambda xs: np.sum(xs, 0), dist.ReduceOp.PRODUCT: lambda xs: np.prod(xs, 0),
          dist.ReduceOp.MIN: lambda xs: np.min(xs, 0), dist.ReduceOp.MAX: lambda xs: np.max(xs, 0)}


def ops_for(dtype):
    ops = dict(REDUCE)
    if dtype is torch.bool:
        ops[dist.ReduceOp.SUM] = lambda xs: np.any(xs, 0)
        ops[dist.ReduceOp.PRODUCT] = lambda xs: np.all(xs, 0)
        return ops
    if dtype.is_floating_point:
        ops[dist.ReduceOp.AVG] = lambda xs: np.mean(xs, 0)
    else:
        ops[dist.ReduceOp.AVG] = lambda xs: np.trunc(np.sum(xs, 0) / SIZE)
        ops[dist.ReduceOp.BAND] = lambda xs: np.bitwise_and.reduce(np.array(xs), 0)
        ops[dist.ReduceOp.BOR] = lambda xs: np.bitwise_or.reduce(np.array(xs), 0)
        ops[dist.ReduceOp.BXOR] = lambda xs: np.bitwise_xor.reduce(np.array(xs), 0)
    return ops


def check_reductions(dtype, device):
    for op, ref in ops_for(dtype).items():
        xs = everyone(dtype, seed=int(op))
        t = make(xs[RANK], dtype, device)
        dist.all_reduce(t, op=op)
        check(t, ref(xs), dtype, f"all_reduce {op.name} {dtype} {device}")
        t = make(xs[RANK], dtype, device)
        dist.reduce(t, dst=SIZE - 1, op=op)
        check(t, ref(xs) if RANK == SIZE - 1 else xs[RANK], dtype, f"reduce {op.name} {dtype} {device}")
    xs = everyone(dtype, shape=(SIZE * 2, 3), seed=7)
    total = REDUCE[dist.ReduceOp.MAX](xs) if dtype is torch.bool else np.sum(xs, 0)
    out = make(np.zeros((2, 3)), dtype, device)
    dist.reduce_scatter_tensor(out, make(xs[RANK], dtype, device))
    check(out, total[2 * RANK:2 * RANK + 2], dtype, f"reduce_scatter_tensor {dtype} {device}")
    out = make(np.zeros((2, 3)), dtype, device)
    dist.reduce_scatter(out, [make(xs[RANK][2 * i:2 * i + 2], dtype, device) for i in range(SIZE)],
                        op=dist.ReduceOp.MAX)
    check(out, np.max(xs, 0)[2 * RANK:2 * RANK + 2], dtype, f"reduce_scatter MAX {dtype} {device}")


def check_movement(dtype, device):
    xs = everyone(dtype, seed=3)
    t = make(xs[RANK], dtype, device)
    dist.broadcast(t, src=SIZE - 1)
    check(t, xs[SIZE - 1], dtype, f"broadcast {dtype} {device}")
    outs = [make(np.zeros((2, 3)), dtype, device) for _ in range(SIZE)]
    dist.all_gather(outs, make(xs[RANK], dtype, device))
    for r in range(SIZE):
        check(outs[r], xs[r], dtype, f"all_gather {dtype} {device}")
    out = make(np.zeros((SIZE * 2, 3)), dtype, device)
    dist.all_gather_into_tensor(out, make(xs[RANK], dtype, device))
    check(out, np.concatenate(xs), dtype, f"all_gather_into_tensor {dtype} {device}")
    gathered = [make(np.zeros((2, 3)), dtype, device) for _ in range(SIZE)] if RANK == 0 else None
    dist.gather(make(xs[RANK], dtype, device), gathered, dst=0)
    if RANK == 0:
        for r in range(SIZE):
            check(gathered[r], xs[r], dtype, f"gather {dtype} {device}")
    out = make(np.zeros((2, 3)), dtype, device)
    scatter_list = [make(values(dtype, 1, seed=10 + r), dtype, device) for r in range(SIZE)] if RANK == 1 else None
    dist.scatter(out, scatter_list, src=1)
    check(out, values(dtype, 1, seed=10 + RANK), dtype, f"scatter {dtype} {device}")
    check_all_to_all(dtype, device)


def check_all_to_all(dtype, device):
    # rank r sends rows [block of rank j] to j; block sizes differ: rank r sends j + 1 rows to rank j
    send = [values(dtype, RANK, (j + 1, 2), seed=20 + j) for j in range(SIZE)]
    out = make(np.zeros(((RANK + 1) * SIZE, 2)), dtype, device)
    dist.all_to_all_single(out, make(np.concatenate(send), dtype, device),
                           output_split_sizes=[RANK + 1] * SIZE, input_split_sizes=[j + 1 for j in range(SIZE)])
    want = np.concatenate([values(dtype, r, (RANK + 1, 2), seed=20 + RANK) for r in range(SIZE)])
    check(out, want, dtype, f"all_to_all_single {dtype} {device}")
    outs = [make(np.zeros((RANK + 1, 2)), dtype, device) for _ in range(SIZE)]
    dist.all_to_all(outs, [make(s, dtype, device) for s in send])
    for r in range(SIZE):
        check(outs[r], values(dtype, r, (RANK + 1, 2), seed=20 + RANK), dtype, f"all_to_all {dtype} {device}")


def check_point_to_point(dtype, device):
    nxt, prev = (RANK + 1) % SIZE, (RANK - 1) % SIZE
    got = make(np.zeros((2, 3)), dtype, device)
    recv = dist.irecv(got, src=prev, tag=5)
    send = dist.isend(make(values(dtype, RANK, seed=30), dtype, device), dst=nxt, tag=5)
    send.wait()
    recv.wait()
    check(got, values(dtype, prev, seed=30), dtype, f"isend/irecv {dtype} {device}")
    if RANK == 0:
        dist.send(make(values(dtype, 0, seed=31), dtype, device), dst=SIZE - 1)
    elif RANK == SIZE - 1:
        got = make(np.zeros((2, 3)), dtype, device)
        assert dist.recv(got) == 0  # any source: returns the sender
        check(got, values(dtype, 0, seed=31), dtype, f"send/recv {dtype} {device}")


def check_async_and_views(device):
    xs = everyone(torch.float32, seed=40)
    base = make(xs[RANK], torch.float32, device)
    view = base.t()  # not contiguous: staged through a copy, written back through the view
    work = dist.all_reduce(view, async_op=True)
    assert work.wait() is True and work.is_completed()
    check(base, np.sum(xs, 0), torch.float32, f"async all_reduce of a transposed view {device}")
    works = [dist.all_reduce(make(x, torch.float32, device), async_op=True) for x in xs]
    big = make(np.full((1000,), RANK + 1.0), torch.float32, device)
    last = dist.all_reduce(big, op=dist.ReduceOp.MAX, async_op=True)
    for w in works:
        w.wait()
    last.wait()
    check(big, np.full((1000,), float(SIZE)), torch.float32, f"queued async ops in order {device}")
    empty = make(np.zeros((0, 3)), torch.float32, device)
    dist.all_reduce(empty)
    assert empty.shape == (0, 3)
    scalar = make(np.array(RANK + 1.0), torch.float32, device)
    dist.all_reduce(scalar, op=dist.ReduceOp.PRODUCT)
    check(scalar, np.prod(np.arange(1, SIZE + 1.0)), torch.float32, f"0-d all_reduce {device}")


def check_groups_and_objects():
    global checks
    evens = dist.new_group([r for r in range(SIZE) if r % 2 == 0])
    t = torch.tensor([RANK + 1.0])
    result = dist.all_reduce(t, group=evens)
    if RANK % 2 == 0:
        assert dist.get_world_size(evens) == (SIZE + 1) // 2 and dist.get_rank(evens) == RANK // 2
        assert t.item() == sum(r + 1 for r in range(0, SIZE, 2)), t
        assert dist.get_process_group_ranks(evens) == list(range(0, SIZE, 2))
    else:
        assert evens is dist.GroupMember.NON_GROUP_MEMBER and result is None and t.item() == RANK + 1
        assert dist.get_rank(evens) == -1
    last = dist.new_group([SIZE - 1, 0])
    if RANK in (0, SIZE - 1):
        t = torch.tensor([float(RANK)])
        dist.broadcast(t, src=SIZE - 1, group=last)  # src is a global rank, as in PyTorch
        assert t.item() == SIZE - 1
    objects = [{"rank": RANK, "name": "x" * RANK}] if RANK == 1 else [None]
    dist.broadcast_object_list(objects, src=1)
    assert objects == [{"rank": 1, "name": "x"}], objects
    slots = [None] * SIZE
    dist.all_gather_object(slots, ("rank", RANK))
    assert slots == [("rank", r) for r in range(SIZE)], slots
    gathered = [None] * SIZE if RANK == 0 else None
    dist.gather_object(RANK * 10, gathered, dst=0)
    assert RANK != 0 or gathered == [r * 10 for r in range(SIZE)]
    out = [None]
    dist.scatter_object_list(out, [f"for {r}" for r in range(SIZE)] if RANK == 0 else None, src=0)
    assert out == [f"for {RANK}"]
    dist.barrier()
    assert dist.barrier(async_op=True).wait()
    checks += 1


def check_errors():
    global checks
    for bad, kind in [(lambda: dist.all_reduce([1.0]), TypeError),
                      (lambda: dist.all_gather([torch.zeros(2)], torch.zeros(2)), ValueError),
                      (lambda: dist.all_gather_into_tensor(torch.zeros(3), torch.zeros(2)), ValueError),
                      (lambda: dist.all_reduce(torch.zeros(2), op=dist.ReduceOp.BAND), ValueError),
                      (lambda: dist.broadcast(torch.zeros(2), src=SIZE), ValueError),
                      (lambda: dist.init_process_group("mpi"), ValueError)]:
        try:
            bad()
        except kind:
            checks += 1
        else:
            raise AssertionError(f"{bad} did not raise {kind.__name__}")


def dtypes_of(device):
    backend = as_device(device).backend
    out = [torch.float32, torch.bfloat16, torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64, torch.bool]
    if backend.has_fp64:
        out.append(torch.float64)
    if backend.has_fp16:
        out.append(torch.float16)
    return out


def main() -> int:
    """Run every check (the process group is up); returns how many passed."""
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()
    for device in ["cpu", "cl:0"]:
        for dtype in dtypes_of(device):
            check_reductions(dtype, device)
            check_movement(dtype, device)
            check_point_to_point(dtype, device)
        check_async_and_views(device)
    check_groups_and_objects()
    check_errors()
    return checks


if __name__ == "__main__":
    dist.init_process_group(backend="mpi")
    print(f"rank {dist.get_rank()}: {main()} checks passed", flush=True)
