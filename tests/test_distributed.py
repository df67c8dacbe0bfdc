"""cltensor.distributed, DistributedDataParallel and DistributedSampler.

The MPI checks run as worker scripts (tests/distributed/) under ``mpirun -np 2`` and ``-np 3`` (an odd
world size), few launches with many checks each: mpirun and cltensor's start cost seconds per launch.
"""
import os
import re
import subprocess
import sys
import time

import pytest

import cltensor
import cltensor.distributed as dist
from cltensor.utils.data import DistributedSampler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed"))
import launch  # noqa: E402

needs_mpi = pytest.mark.skipif(bool(launch.mpi_missing()), reason=launch.mpi_missing() or "MPI present")


def _failure(proc):
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-6000:]}"


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_collectives_against_numpy_and_ddp_against_one_process(ranks):
    proc = launch.run(ranks, "tests/distributed/all_checks.py")
    assert proc.returncode == 0, _failure(proc)
    for rank in range(ranks):
        match = re.search(rf"rank {rank}: (\d+) checks passed, ddp checks passed", proc.stdout)
        assert match and int(match.group(1)) > 300, _failure(proc)


@needs_mpi
def test_a_rank_that_raises_stops_every_rank():
    start = time.monotonic()
    proc = launch.run(2, "tests/distributed/failures.py", "raise", timeout=120)
    assert proc.returncode != 0
    assert "ValueError: rank 1 fails on purpose" in proc.stderr, _failure(proc)
    # (mpirun's "MPI_ABORT was invoked" notice is not asserted: OpenMPI 4.1 sometimes loses it)
    assert "was not stopped" not in proc.stdout
    assert time.monotonic() - start < 90


@needs_mpi
def test_waits_time_out_when_a_rank_never_joins():
    start = time.monotonic()
    proc = launch.run(2, "tests/distributed/failures.py", "timeout", timeout=120)
    assert proc.returncode != 0
    assert "rank 0 caught: all_reduce timed out after 0.5 s" in proc.stdout, _failure(proc)
    assert "DistBackendError: barrier timed out after 1 s" in proc.stderr, _failure(proc)
    assert "was not stopped" not in proc.stdout
    assert time.monotonic() - start < 90  # rank 1 sleeps 120 s: the abort ended it


@needs_mpi
def test_a_script_without_mpirun_is_a_world_of_one():
    env = dict(os.environ, PYTHONPATH=launch.ROOT)
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    proc = subprocess.run([sys.executable, "tests/distributed/single.py"], cwd=launch.ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "single process ok" in proc.stdout, _failure(proc)


@needs_mpi
def test_digits_ddp_quick_run():
    proc = launch.run(2, "examples/digits_ddp.py", "--quick")
    assert proc.returncode == 0, _failure(proc)
    match = re.search(r"test accuracy ([0-9.]+)% after 3 epochs on 2 rank\(s\)", proc.stdout)
    assert match and float(match.group(1)) >= 90.0, _failure(proc)
    assert proc.stdout.count("test accuracy") == 1  # rank 0 reports


# ---- without MPI: the sampler, the errors, the device helper ---------------------------------------
SAMPLER_CASES = [(10, 3, False), (10, 3, True), (12, 4, False), (2, 5, False), (7, 2, True), (0, 2, False),
                 (1, 1, False)]


def _torch_indices(torch, n, replicas, rank, drop_last, shuffle, seed=0, epoch=0):
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    s = TorchSampler(range(n), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
    s.set_epoch(epoch)
    return list(s), len(s)


@pytest.mark.parametrize("n,replicas,drop_last", SAMPLER_CASES)
def test_sampler_partitions_as_pytorch_without_shuffle(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    for rank in range(replicas):
        mine = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        theirs, length = _torch_indices(torch, n, replicas, rank, drop_last, shuffle=False)
        assert list(mine) == theirs and len(mine) == length


@pytest.mark.parametrize("n,replicas,drop_last", SAMPLER_CASES[:4])
def test_sampler_shuffles_pads_and_strides_as_pytorch(monkeypatch, n, replicas, drop_last):
    """cltensor's generator is not PyTorch's, so PyTorch's sampler is handed cltensor's permutation
    of seed + epoch: the padding and striding of the shuffled order must then agree."""
    torch = pytest.importorskip("torch")
    from cltensor.utils.data.sampler import random_permutation

    def cltensor_randperm(count, generator=None):
        g = cltensor.Generator().manual_seed(generator.initial_seed())
        return torch.tensor(random_permutation(count, generator=g))

    monkeypatch.setattr(torch, "randperm", cltensor_randperm)
    for epoch in (0, 3):
        seen = []
        for rank in range(replicas):
            mine = DistributedSampler(range(n), num_replicas=replicas, rank=rank, seed=5, drop_last=drop_last)
            mine.set_epoch(epoch)
            theirs, _ = _torch_indices(torch, n, replicas, rank, drop_last, shuffle=True, seed=5, epoch=epoch)
            assert list(mine) == theirs
            seen += theirs
        if not drop_last:
            assert set(seen) == set(range(n))


def test_sampler_epochs_reshuffle_and_ranks_are_checked():
    s = DistributedSampler(range(100), num_replicas=2, rank=1)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first
    other = DistributedSampler(range(100), num_replicas=2, rank=0)
    other.set_epoch(1)
    assert sorted(list(s) + list(other)) == list(range(100))
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)


def test_without_mpi_init_names_the_fix_and_is_available_is_false(monkeypatch):
    monkeypatch.setattr(dist, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="apt-get install -y openmpi-bin libopenmpi-dev.*mpirun -np N"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_calls_before_init_raise_as_pytorch():
    message = "Default process group has not been initialized"
    for call in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(cltensor.ones(2))):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=message):
        cltensor.nn.parallel.DistributedDataParallel(cltensor.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="Invalid backend: 'tcp'"):
        dist.init_process_group("tcp")


def test_reduce_op_names():
    assert [op.name for op in (dist.ReduceOp.SUM, dist.ReduceOp.PRODUCT, dist.ReduceOp.MIN, dist.ReduceOp.MAX,
                               dist.ReduceOp.AVG)] == ["SUM", "PRODUCT", "MIN", "MAX", "AVG"]


def test_device_for_local_rank(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1")
    assert dist.get_node_local_rank() == 1
    monkeypatch.setenv("CLTENSOR_CUDA_DEVICES", "")
    assert dist.device_for_local_rank() == cltensor.device("cpu")
    monkeypatch.setenv("CLTENSOR_CUDA_DEVICES", "cl:0")  # one 'GPU': every local rank shares it
    assert dist.device_for_local_rank() == cltensor.device("cl:0")
    monkeypatch.delenv("OMPI_COMM_WORLD_LOCAL_RANK")
    monkeypatch.delenv("MPI_LOCALRANKID", raising=False)
    monkeypatch.delenv("SLURM_LOCALID", raising=False)
    assert dist.get_node_local_rank(fallback_rank=0) == 0
    with pytest.raises(RuntimeError, match="LOCAL_RANK is not in the environment"):
        dist.get_node_local_rank()
