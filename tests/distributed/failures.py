"""A rank that fails must not leave the others waiting forever. Run by tests/test_distributed.py:
  failures.py raise     rank 1 raises before a collective that rank 0 waits in: the uncaught
                        exception's hook calls MPI_Abort, which ends every rank
  failures.py timeout   rank 1 never joins: rank 0's waits raise DistBackendError after the
                        group's timeout (1 s here), and its uncaught error aborts the job
"""
import sys
import time
from datetime import timedelta

import cltensor as torch
import cltensor.distributed as dist

mode = sys.argv[1]
dist.init_process_group(backend="mpi", timeout=timedelta(seconds=1))
rank = dist.get_rank()
if mode == "raise":
    if rank == 1:
        raise ValueError("rank 1 fails on purpose")
    dist.all_reduce(torch.ones(4))
elif mode == "timeout":
    if rank == 1:
        time.sleep(120)
    work = dist.all_reduce(torch.ones(4), async_op=True)
    try:
        work.wait(timeout=timedelta(seconds=0.5))
    except dist.DistBackendError as err:
        print(f"rank 0 caught: {err}", flush=True)
    dist.barrier()  # queued behind the stuck all_reduce: times out after 1 s, uncaught
print(f"rank {rank} was not stopped", flush=True)
