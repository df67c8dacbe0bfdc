"""One mpirun launch for the collective and DDP checks (mpirun and cltensor's start cost ~1-2 s per
launch). Each rank ends with 'rank R: N checks passed, ddp checks passed'."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cltensor.distributed as dist  # noqa: E402

import collectives  # noqa: E402
import ddp  # noqa: E402

dist.init_process_group(backend="mpi")
count = collectives.main()
ddp.main()
rank = dist.get_rank()
dist.destroy_process_group()
assert not dist.is_initialized()
print(f"rank {rank}: {count} checks passed, ddp checks passed", flush=True)
