"""Without mpirun: init_process_group makes a world of one (MPI's singleton start), collectives are
identities, and a world size asked for that MPI did not start is a clear error."""
import os

import cltensor as torch
import cltensor.distributed as dist

dist.init_process_group("mpi")
assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
t = torch.arange(4.0)
dist.all_reduce(t, op=dist.ReduceOp.AVG)
assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
dist.destroy_process_group()
os.environ["WORLD_SIZE"] = "2"
try:
    dist.init_process_group("mpi", init_method="env://")
except ValueError as err:
    assert "mpirun -np 2" in str(err), err
    print("single process ok", flush=True)
