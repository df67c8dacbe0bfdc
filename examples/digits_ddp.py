"""The digits MLP of digits_mlp.py trained data-parallel: one process per device, gradients averaged by
DistributedDataParallel over MPI.

    mpirun -np 2 python examples/digits_ddp.py           # 20 epochs, the single-process accuracy (>= 95%)
    mpirun -np 2 python examples/digits_ddp.py --quick   # a few epochs (CI)
    python examples/digits_ddp.py                        # also runs: a world of one process

(as root, e.g. in a container, mpirun needs --allow-run-as-root; docs/distributed.md). Each rank
trains on its DistributedSampler share with batch-size / world-size rows per step, so the global
batch, and the training, match the single-process example. Each rank takes the OpenCL GPU of its
local rank, else 'cpu' (--device overrides). Replace ``import cltensor as torch`` by ``import torch``
(and the device helper by ``torch.device('cuda', local_rank)``) and it is a PyTorch DDP script.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from common import ProgressBar, accuracy, parse, parser
from digits_mlp import load_data, make_model

import cltensor as torch
import cltensor.distributed as dist
from cltensor.nn.parallel import DistributedDataParallel as DDP
from cltensor.utils.data import DataLoader, DistributedSampler, TensorDataset


def train(args) -> dict:
    rank, world = dist.get_rank(), dist.get_world_size()
    x_train, y_train, x_test, y_test = load_data(args.device, args.seed)
    data = TensorDataset(x_train, y_train)
    sampler = DistributedSampler(data, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=max(1, args.batch_size // world), sampler=sampler)
    model = DDP(make_model().to(args.device))  # rank 0's initial parameters on every rank
    torch.manual_seed(args.seed + rank)  # each rank its own dropout masks
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    log = print if rank == 0 else (lambda *a, **k: None)
    log(f"digits data-parallel: {world} rank(s), {len(sampler)} of {len(data)} training images each, "
        f"rank 0 on {args.device}")
    history, stream = [], sys.stdout if rank == 0 else open(os.devnull, "w")  # rank 0 reports
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        bar = ProgressBar(len(loader), f"epoch {epoch:2d}/{args.epochs}", stream=stream)
        total = torch.zeros((), device=args.device)
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()  # gradients averaged over the ranks when it returns
            opt.step()
            total += loss.detach() * len(yb)
        dist.all_reduce(total)  # the whole epoch's summed loss, over every rank's share
        train_loss = total.item() / (len(sampler) * world)
        acc = accuracy(model, x_test, y_test)
        seconds = time.perf_counter() - start
        bar.close(loss=train_loss, test_acc=acc)
        history.append({"epoch": epoch, "loss": train_loss, "test_acc": acc, "seconds": seconds})
    final = history[-1]
    log(f"test accuracy {final['test_acc']:.2%} after {args.epochs} epochs on {world} rank(s), "
        f"{np.mean([h['seconds'] for h in history[1:]] or [history[0]['seconds']]):.2f} s per epoch")
    return {"history": history, "test_acc": final["test_acc"], "loss": final["loss"]}


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None, help="default 20 (3 with --quick)")
    p.add_argument("--batch-size", type=int, default=64, help="the global batch, split over the ranks")
    p.add_argument("--lr", type=float, default=2e-3)
    args = parse(p, argv)
    if args.epochs is None:
        args.epochs = 3 if args.quick else 20
    explicit = "--device" in (sys.argv if argv is None else argv) or os.environ.get("CLTENSOR_DEVICE")
    dist.init_process_group(backend="mpi")
    if not explicit:
        args.device = dist.device_for_local_rank()
    try:
        return train(args)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
