"""DistributedDataParallel under mpirun: a few steps on each rank's share of a batch give the same
parameters on every rank and the same as one process on the whole batch; no_sync, unused parameters,
buffers, state_dict keys, DistributedSampler from the process group. Run by tests/test_distributed.py
(through all_checks.py).
"""
import copy

import numpy as np

import cltensor as torch
import cltensor.distributed as dist
from cltensor import nn
from cltensor.nn.parallel import DistributedDataParallel as DDP
from cltensor.utils.data import DataLoader, DistributedSampler, TensorDataset

RANK = SIZE = X = Y = None


def mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 2))


def params_of(model):
    return [p.detach().cpu().numpy().copy() for p in model.parameters()]


def same_on_every_rank(arrays, what):
    gathered = [None] * SIZE
    dist.all_gather_object(gathered, arrays)
    for other in gathered:
        for a, b in zip(arrays, other):
            np.testing.assert_array_equal(a, b, err_msg=f"{what}: ranks differ")


def train_matches_one_process(device):
    reference = mlp(seed=0).to(device)  # what rank 0 starts from; the other ranks start elsewhere
    model = DDP(mlp(seed=RANK).to(device), bucket_cap_mb=0.001)  # ~1 KB buckets: several of them
    assert len(model._buckets) > 2
    same_on_every_rank(params_of(model.module), "after construction")
    for a, b in zip(params_of(model.module), params_of(reference)):
        np.testing.assert_array_equal(a, b)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.tensor(X, device=device), torch.tensor(Y, device=device)
    mine = slice(RANK * 4, RANK * 4 + 4)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x[mine]), y[mine]).backward()
        opt.step()
        ref_opt.zero_grad()
        nn.functional.mse_loss(reference(x), y).backward()
        ref_opt.step()
    same_on_every_rank(params_of(model.module), "after training")
    for a, b in zip(params_of(model.module), params_of(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert all(k.startswith("module.") for k in model.state_dict())
    assert list(model.module.state_dict()) == list(reference.state_dict())


def no_sync_accumulates(device):
    model = DDP(mlp(seed=1).to(device))
    reference = copy.deepcopy(model.module)
    x, y = torch.tensor(X, device=device), torch.tensor(Y, device=device)
    halves = [slice(RANK * 4, RANK * 4 + 2), slice(RANK * 4 + 2, RANK * 4 + 4)]
    with model.no_sync():
        nn.functional.mse_loss(model(x[halves[0]]), y[halves[0]]).backward()
    local = [p.grad.cpu().numpy().copy() for p in model.parameters()]
    out = model(x[halves[1]])
    with torch.no_grad():
        model(x[halves[1]])  # an evaluation between forward and backward leaves the sync armed
    nn.functional.mse_loss(out, y[halves[1]]).backward()
    own = copy.deepcopy(reference)
    nn.functional.mse_loss(own(x[halves[0]]), y[halves[0]]).backward()
    first = [p.grad.cpu().numpy() for p in own.parameters()]
    # the reference: every rank's two half-batch gradients summed, averaged over ranks
    for r in range(SIZE):
        for h in (slice(r * 4, r * 4 + 2), slice(r * 4 + 2, r * 4 + 4)):
            nn.functional.mse_loss(reference(x[h]), y[h]).backward()
    for a, b in zip(local, first):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)  # no_sync: this rank's own gradient
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy() / SIZE, rtol=1e-5, atol=1e-7)


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.always, self.rank0_only, self.never = nn.Linear(3, 3), nn.Linear(3, 3), nn.Linear(3, 3)
        self.register_buffer("steps", torch.tensor([float(RANK)]))

    def forward(self, x):
        out = self.always(x)
        return self.rank0_only(out) if RANK == 0 else out


def unused_parameters():
    torch.manual_seed(2)
    model = DDP(Branches(), find_unused_parameters=True)
    assert model.module.steps.item() == 0.0  # rank 0's buffer, broadcast
    x = torch.ones(2, 3)
    model(x).sum().backward()
    assert model.module.never.weight.grad is None  # unused on every rank: left alone
    assert model.module.rank0_only.weight.grad is not None  # used on rank 0: its gradient / ranks, everywhere
    same_on_every_rank([p.grad.cpu().numpy() for p in (model.module.always.weight, model.module.rank0_only.weight)],
                       "find_unused_parameters grads")
    strict = DDP(Branches())  # without find_unused_parameters: the reduction never finishes
    strict(x).sum().backward()
    try:
        strict(x)
    except RuntimeError as err:
        assert "find_unused_parameters=True" in str(err)
    else:
        raise AssertionError("a DDP forward after an unfinished reduction did not raise")


def sampler_from_group():
    data = TensorDataset(torch.arange(10))
    sampler = DistributedSampler(data, shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (SIZE, RANK)
    seen = [int(b[0]) for (batch,) in DataLoader(data, batch_size=1, sampler=sampler) for b in [batch]]
    everyone = [None] * SIZE
    dist.all_gather_object(everyone, seen)
    assert sorted(set(i for part in everyone for i in part)) == list(range(10)), everyone


def main():
    global RANK, SIZE, X, Y
    RANK, SIZE = dist.get_rank(), dist.get_world_size()
    rng = np.random.RandomState(0)
    X, Y = rng.randn(4 * SIZE, 5).astype(np.float32), rng.randn(4 * SIZE, 2).astype(np.float32)
    for device in ["cpu", "cl:0"]:
        train_matches_one_process(device)
        no_sync_accumulates(device)
    unused_parameters()
    sampler_from_group()


if __name__ == "__main__":
    dist.init_process_group(backend="mpi")
    main()
    print(f"rank {RANK}: ddp checks passed", flush=True)
