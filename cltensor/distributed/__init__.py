"""``torch.distributed`` on MPI: process groups, collectives and point-to-point transfers.

One process per device, started by MPI's launcher (``mpirun -np 2 python train.py``); rank and world
size come from it. Tensors on any cltensor device: a contiguous 'cpu' tensor goes to MPI as its own
memory, any other is read once into host memory and written back once (see _staging.py); blocking
calls run on the caller's thread, ``async_op=True`` ones on one MPI thread in order (_worker.py).
docs/distributed.md tells how to launch, on one machine and on several.
"""
from __future__ import annotations

import enum
import importlib.util
import os
import sys
import time as _time
from datetime import timedelta

import numpy as np

from .. import dtypes as dt
from ..device import cuda_cl_indices as _cuda_cl_indices, device as _Device
from ..tensor import Tensor
from ._staging import from_reducible, host_array, is_zero_copy, reducible, write_back
from ._worker import DistBackendError, Work, Worker, _seconds

__all__ = [
    "is_available", "is_mpi_available", "is_nccl_available", "is_gloo_available", "is_initialized",
    "is_torchelastic_launched", "init_process_group", "destroy_process_group", "get_rank", "get_world_size",
    "get_backend", "get_node_local_rank", "device_for_local_rank", "new_group", "get_process_group_ranks",
    "get_group_rank", "get_global_rank", "barrier", "ReduceOp", "all_reduce", "broadcast", "reduce",
    "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "gather", "scatter",
    "all_to_all", "all_to_all_single", "send", "recv", "isend", "irecv", "broadcast_object_list",
    "all_gather_object", "gather_object", "scatter_object_list", "Work", "DistBackendError", "Backend",
    "ProcessGroup", "GroupMember", "group", "default_pg_timeout",
]

default_pg_timeout = timedelta(minutes=30)

_INSTALL_HINT = ("install MPI and mpi4py (Debian/Ubuntu: `apt-get install -y openmpi-bin libopenmpi-dev` then "
                 "`pip install mpi4py`; bash tools/setup.sh does both) and start the script with "
                 "`mpirun -np N python script.py` (docs/distributed.md)")


def is_available() -> bool:
    """True where mpi4py is installed (MPI itself starts at init_process_group)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    return is_available()


def is_nccl_available() -> bool:
    return False


def is_gloo_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    return False


class Backend(str):
    """Backend names; every one runs on MPI in cltensor."""
    UNDEFINED = "undefined"
    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        return str.__new__(cls, name.lower())


class ReduceOp:
    """The reductions of all_reduce, reduce and reduce_scatter (``ReduceOp.SUM`` ...)."""

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7

    SUM, AVG, PRODUCT, MIN, MAX = RedOpType.SUM, RedOpType.AVG, RedOpType.PRODUCT, RedOpType.MIN, RedOpType.MAX
    BAND, BOR, BXOR = RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR

    def __init__(self, op):
        self.op = ReduceOp.RedOpType(op)


class ProcessGroup:
    """Ranks that run collectives together: an MPI communicator."""

    def __init__(self, comm, global_ranks: list, timeout: float):
        self.comm, self._ranks, self.timeout = comm, list(global_ranks), timeout

    def rank(self) -> int:
        return self.comm.Get_rank()

    def size(self) -> int:
        return self.comm.Get_size()

    def name(self) -> str:
        return "mpi"

    def __repr__(self):
        return f"ProcessGroup(mpi, ranks={self._ranks})"


class _NonMember:
    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    WORLD = None  # the default group once init_process_group ran
    NON_GROUP_MEMBER = _NonMember()  # what new_group returns to ranks outside the new group


group = GroupMember  # dist.group.WORLD


class _State:
    MPI = None
    world: ProcessGroup | None = None
    worker: Worker | None = None
    groups: list = []
    previous_excepthook = None
    mpi_ops = None  # ReduceOp -> MPI.Op


# ---- set-up --------------------------------------------------------------------------------------
def _import_mpi():
    if not is_available():
        raise RuntimeError(f"cltensor.distributed needs MPI, and mpi4py is not installed: {_INSTALL_HINT}")
    try:
        from mpi4py import MPI  # optional dependency: loaded only when a process group starts
    except ImportError as err:
        raise RuntimeError(f"cltensor.distributed could not load MPI ({err}): {_INSTALL_HINT}") from err
    return MPI


_BACKENDS = ("mpi", "gloo", "nccl", "cpu:gloo,cuda:nccl", "undefined")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group: every rank that MPI's launcher started.

    backend: "mpi" (None, "gloo" and "nccl" are accepted so that PyTorch scripts run unchanged; all use
    MPI). Rank and world size come from the launcher; given ones (arguments, or RANK/WORLD_SIZE for
    init_method="env://") must agree with it. An uncaught exception on any rank from here on calls
    MPI_Abort, so the other ranks stop instead of waiting for it.
    """
    if _State.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = "undefined" if backend is None else str(backend).lower()
    if name not in _BACKENDS:
        raise ValueError(f"Invalid backend: '{backend}'. cltensor.distributed runs on MPI: use backend='mpi'")
    if store is not None:
        raise ValueError("cltensor.distributed takes rank and world size from MPI's launcher, not from a store: "
                         "leave store out and start the script with mpirun")
    MPI = _import_mpi()
    comm = MPI.COMM_WORLD
    _check_launch(comm.Get_rank(), comm.Get_size(), init_method, world_size, rank)
    seconds = _seconds(timeout) if timeout is not None else _seconds(default_pg_timeout)
    _State.MPI = MPI
    _State.worker = Worker(threaded=MPI.Query_thread() == MPI.THREAD_MULTIPLE)
    _State.world = ProcessGroup(comm.Dup(), list(range(comm.Get_size())), seconds)
    GroupMember.WORLD = _State.world
    if comm.Get_size() > 1:
        _install_abort_hook()


def _check_launch(mpi_rank, mpi_size, init_method, world_size, rank):
    wanted = {}
    if init_method in (None, "env://"):
        for key in ("WORLD_SIZE", "RANK"):
            if os.environ.get(key, "").strip().isdigit():
                wanted[key] = (int(os.environ[key]), f"${key}")
    if world_size is not None and world_size != -1:
        wanted["WORLD_SIZE"] = (int(world_size), "world_size")
    if rank is not None and rank != -1:
        wanted["RANK"] = (int(rank), "rank")
    actual = {"WORLD_SIZE": mpi_size, "RANK": mpi_rank}
    for key, (value, source) in wanted.items():
        if value != actual[key]:
            raise ValueError(
                f"init_process_group: {source} is {value} but MPI started this process as rank {mpi_rank} of "
                f"{mpi_size}: cltensor takes rank and world size from MPI's launcher, so start the script with "
                f"`mpirun -np {wanted.get('WORLD_SIZE', (mpi_size,))[0]} python ...` (or leave {source} out)")


def _install_abort_hook():
    previous = sys.excepthook

    def abort_on_uncaught_exception(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        sys.stdout.flush()
        sys.stderr.flush()
        if _State.MPI is not None:
            _State.MPI.COMM_WORLD.Abort(1)

    _State.previous_excepthook = previous
    sys.excepthook = abort_on_uncaught_exception


def is_initialized() -> bool:
    return _State.world is not None


def destroy_process_group(group=None):
    """Leave a group (its communicator is freed); without one, every group and the default one."""
    if group is None or group is _State.world:
        world = _require_world()
        _State.worker.drain(world.timeout)
        _State.worker.stop()
        for pg in _State.groups + [world]:
            pg.comm.Free()
        _State.groups, _State.world, _State.worker = [], None, None
        GroupMember.WORLD = None
        if _State.previous_excepthook is not None:
            sys.excepthook, _State.previous_excepthook = _State.previous_excepthook, None
        return
    if isinstance(group, ProcessGroup) and group in _State.groups:
        _State.groups.remove(group)
        group.comm.Free()


def _require_world() -> ProcessGroup:
    if _State.world is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _State.world


def _group(group):
    """The ProcessGroup a call names (None: the default one), or None for a rank outside it."""
    world = _require_world()
    if group is None or group is GroupMember.WORLD:
        return world
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup from new_group(), got {type(group).__name__}")
    return group


def get_rank(group=None) -> int:
    pg = _group(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None) -> int:
    pg = _group(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None) -> str:
    _group(group)
    return Backend.MPI


def get_process_group_ranks(group) -> list:
    pg = _group(group)
    return [] if pg is None else list(pg._ranks)


def get_global_rank(group, group_rank: int) -> int:
    pg = _group(group)
    if not 0 <= group_rank < len(pg._ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {pg}")
    return pg._ranks[group_rank]


def get_group_rank(group, global_rank: int) -> int:
    pg = _group(group)
    if global_rank not in pg._ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {pg}")
    return pg._ranks.index(global_rank)


def get_node_local_rank(fallback_rank=None) -> int:
    """This process's index among the ranks on its machine: $LOCAL_RANK, else what MPI's launcher sets
    (OpenMPI's OMPI_COMM_WORLD_LOCAL_RANK, MPICH's MPI_LOCALRANKID, Slurm's SLURM_LOCALID)."""
    for key in ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"):
        value = os.environ.get(key, "").strip()
        if value.isdigit():
            return int(value)
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
                       "`get_node_local_rank` to work, assuming you are not running in a multi-device context "
                       "and want the code to run locally instead.")


def device_for_local_rank(local_rank=None):
    """The device this rank should train on: OpenCL GPU number (local rank mod GPU count) of this
    machine (the GPUs 'cuda:N' names, see CLTENSOR_CUDA_DEVICES), else 'cpu' (cltensor's helper; PyTorch
    scripts write torch.device('cuda', local_rank))."""
    if local_rank is None:
        local_rank = get_node_local_rank(fallback_rank=0)
    gpus = _cuda_cl_indices()
    if not gpus:
        return _Device("cpu")
    return _Device("cl", gpus[local_rank % len(gpus)])


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A group of some ranks (all of them call new_group with the same ranks; the ones outside get
    GroupMember.NON_GROUP_MEMBER)."""
    world = _require_world()
    size = world.size()
    members = sorted(set(range(size) if ranks is None else (int(r) for r in ranks)))
    for r in members:
        if not 0 <= r < size:
            raise ValueError(f"new_group: rank {r} is not a rank of the world (0..{size - 1})")
    MPI = _State.MPI
    made = []
    _run(world, "new_group", lambda: made.append(world.comm.Create(world.comm.Get_group().Incl(members))))
    comm = made[0]
    if comm == MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, members, _seconds(timeout) if timeout is not None else world.timeout)
    _State.groups.append(pg)
    return pg


# ---- helpers of the collectives ----------------------------------------------------------------
def _run(pg, name, call, async_op=False, finish=None, result=()):
    return _State.worker.run(name, call, pg.timeout, async_op, finish, result)


def _check_tensor(t, param="tensor"):
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type torch.Tensor but got "
                        f"{type(t)} instead.")


def _check_tensor_list(ts, param):
    if not isinstance(ts, (list, tuple)):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type List[torch.Tensor] but "
                        f"got {type(ts)} instead.")
    for t in ts:
        _check_tensor(t, param)


def _root(pg, rank, group_rank, what) -> int:
    """The group rank of a root given as a global rank (or group_rank), as PyTorch's src/dst."""
    if group_rank is not None:
        if rank is not None:
            raise ValueError(f"Can not specify both {what} and group_{what}")
        return int(group_rank)
    rank = 0 if rank is None else int(rank)
    if rank not in pg._ranks:
        raise ValueError(f"{what} rank {rank} is not part of the group {pg}")
    return pg._ranks.index(rank)


def _bytes(arr: np.ndarray):
    return [arr.reshape(-1).view(np.uint8), _State.MPI.BYTE]


def _fresh(t) -> np.ndarray:
    """Host memory to receive t's values into: t's own for a contiguous cpu tensor, else a new array."""
    return host_array(t) if is_zero_copy(t) else np.empty(t.shape, t.dtype.np)


def _reduction(op, dtype, size):
    """(MPI op, post(work array)) for a ReduceOp on dtype's reducible() arrays."""
    MPI = _State.MPI
    if not isinstance(op, ReduceOp.RedOpType):
        op = op.op if isinstance(op, ReduceOp) else ReduceOp.RedOpType(op)
    if op >= ReduceOp.BAND and dtype.is_floating_point:
        raise ValueError(f"Cannot use ReduceOp.{op.name} with a floating point tensor ({dtype})")
    if dtype is dt.bool_:
        if op is ReduceOp.AVG:
            raise ValueError("Cannot use ReduceOp.AVG with a bool tensor")
        op = {ReduceOp.SUM: ReduceOp.MAX, ReduceOp.PRODUCT: ReduceOp.MIN}.get(op, op)  # or, and on 0/1
    if _State.mpi_ops is None:
        _State.mpi_ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                          ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
                          ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}
    mpi_op = _State.mpi_ops[op]
    if op is not ReduceOp.AVG:
        return mpi_op, _no_post

    def average(work):
        if work.dtype.kind == "f":
            work /= work.dtype.type(size)
        else:  # integer division rounding toward zero, as NCCL's
            work[...] = np.sign(work) * (np.abs(work) // size)
    return mpi_op, average


def _no_post(work):
    pass


def _all_reduce_array(pg, arr, dtype, op, async_op=False, finish=None, result=()):
    """All-reduce a host array (storage format of dtype) in place: the core of all_reduce and DDP."""
    mpi_op, post = _reduction(op, dtype, pg.size())
    work = reducible(arr, dtype)

    def call():
        if work.size:
            pg.comm.Allreduce(_State.MPI.IN_PLACE, work.reshape(-1), op=mpi_op)
        if post is not _no_post:
            post(work)
        if work is not arr:
            from_reducible(work, arr, dtype)
    return _run(pg, "all_reduce", call, async_op, finish, result)


# ---- collectives -------------------------------------------------------------------------------
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce tensor over the group's ranks; every rank gets the result in tensor."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    arr = host_array(tensor)
    finish = None if is_zero_copy(tensor) else lambda: write_back(tensor, arr)
    return _all_reduce_array(pg, arr, tensor.dtype, op, async_op, finish, [tensor])


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy tensor of rank src into tensor of every rank."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    root = _root(pg, src, group_src, "src")
    is_root = pg.rank() == root
    arr = host_array(tensor) if is_root else _fresh(tensor)

    def finish():
        if not is_root:
            write_back(tensor, arr)
    return _run(pg, "broadcast", lambda: pg.comm.Bcast(_bytes(arr), root=root), async_op, finish, [tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce tensor over the group's ranks into tensor of rank dst (the others' are left as they are)."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, "dst")
    is_root = pg.rank() == root
    mpi_op, post = _reduction(op, tensor.dtype, pg.size())
    arr = host_array(tensor)  # MPI only reads it on the other ranks
    work = reducible(arr, tensor.dtype)

    def call():
        if not work.size:
            return
        if is_root:
            pg.comm.Reduce(_State.MPI.IN_PLACE, work.reshape(-1), op=mpi_op, root=root)
            post(work)
            from_reducible(work, arr, tensor.dtype)
        else:
            pg.comm.Reduce(work.reshape(-1), None, op=mpi_op, root=root)

    def finish():
        if is_root:
            write_back(tensor, arr)
    return _run(pg, "reduce", call, async_op, finish, [tensor])


def _check_same(tensors, like, what):
    for t in tensors:
        if t.dtype is not like.dtype or t.numel() != like.numel():
            raise ValueError(f"{what}: every tensor must have the dtype and number of elements of the input "
                             f"({like.dtype}, {like.numel()}), got {t.dtype} with {t.numel()}")


def _check_count(tensors, pg, what):
    if len(tensors) != pg.size():
        raise ValueError(f"{what}: the tensor list must hold one tensor per rank of the group ({pg.size()}), "
                         f"got {len(tensors)}")


def _rows(buffer: np.ndarray, tensors):
    """Put row i of a (ranks, bytes) buffer into tensors[i]."""
    for row, t in zip(buffer, tensors):
        write_back(t, row.view(t.dtype.np).reshape(t.shape))


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[i] = tensor of rank i, on every rank."""
    _check_tensor_list(tensor_list, "tensor_list")
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    _check_count(tensor_list, pg, "all_gather")
    _check_same(tensor_list, tensor, "all_gather")
    send = host_array(tensor)
    recv = np.empty((pg.size(), tensor.nbytes), np.uint8)
    return _run(pg, "all_gather", lambda: pg.comm.Allgather(_bytes(send), _bytes(recv)), async_op,
                lambda: _rows(recv, tensor_list), [tensor_list])


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """output_tensor = the inputs of every rank, concatenated along dim 0 (or stacked)."""
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    pg = _group(group)
    if pg is None:
        return None
    if output_tensor.dtype is not input_tensor.dtype:
        raise ValueError(f"all_gather_into_tensor: output dtype {output_tensor.dtype} differs from the input's "
                         f"{input_tensor.dtype}")
    if output_tensor.numel() != pg.size() * input_tensor.numel():
        raise ValueError("output tensor size must be equal to world_size times input tensor size "
                         f"({list(output_tensor.shape)} vs {pg.size()} x {list(input_tensor.shape)})")
    send, recv = host_array(input_tensor), _fresh(output_tensor)
    return _run(pg, "all_gather_into_tensor", lambda: pg.comm.Allgather(_bytes(send), _bytes(recv)), async_op,
                lambda: write_back(output_tensor, recv), [output_tensor])


def _reduce_scatter_arrays(pg, name, output, send, dtype, op, async_op):
    mpi_op, post = _reduction(op, dtype, pg.size())
    work_in = reducible(send, dtype)
    out = _fresh(output)
    work_out = reducible(out, dtype).reshape(-1)

    def call():
        if work_out.size:
            pg.comm.Reduce_scatter_block(work_in.reshape(-1), work_out, op=mpi_op)
        post(work_out)
        from_reducible(work_out, out, dtype)
    return _run(pg, name, call, async_op, lambda: write_back(output, out), [output])


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """output of rank i = the reduction over ranks of chunk i of input (world size equal chunks)."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _group(group)
    if pg is None:
        return None
    if output.dtype is not input.dtype:
        raise ValueError(f"reduce_scatter_tensor: output dtype {output.dtype} differs from the input's {input.dtype}")
    if input.numel() != pg.size() * output.numel():
        raise ValueError("input tensor must be the same size as output size times world size "
                         f"({list(input.shape)} vs {pg.size()} x {list(output.shape)})")
    return _reduce_scatter_arrays(pg, "reduce_scatter_tensor", output, host_array(input), input.dtype, op, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output of rank i = the reduction over ranks of input_list[i]."""
    _check_tensor(output, "output")
    _check_tensor_list(input_list, "input_list")
    pg = _group(group)
    if pg is None:
        return None
    _check_count(input_list, pg, "reduce_scatter")
    _check_same(input_list, output, "reduce_scatter")
    send = np.concatenate([host_array(t).reshape(-1) for t in input_list])
    return _reduce_scatter_arrays(pg, "reduce_scatter", output, send, output.dtype, op, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """gather_list[i] of rank dst = tensor of rank i (gather_list only on dst)."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, "dst")
    is_root = pg.rank() == root
    if is_root:
        _check_tensor_list(gather_list or [], "gather_list")
        _check_count(gather_list or [], pg, "gather")
        _check_same(gather_list, tensor, "gather")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    send = host_array(tensor)
    recv = np.empty((pg.size(), tensor.nbytes), np.uint8) if is_root else None

    def call():
        pg.comm.Gather(_bytes(send), _bytes(recv) if is_root else None, root=root)

    def finish():
        if is_root:
            _rows(recv, gather_list)
    return _run(pg, "gather", call, async_op, finish, [gather_list or []])


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """tensor of rank i = scatter_list[i] of rank src (scatter_list only on src)."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    root = _root(pg, src, group_src, "src")
    is_root = pg.rank() == root
    if is_root:
        _check_tensor_list(scatter_list or [], "scatter_list")
        _check_count(scatter_list or [], pg, "scatter")
        _check_same(scatter_list, tensor, "scatter")
        send = np.concatenate([host_array(t).reshape(-1).view(np.uint8) for t in scatter_list])
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    recv = _fresh(tensor)

    def call():
        pg.comm.Scatter([send, _State.MPI.BYTE] if is_root else None, _bytes(recv), root=root)
    return _run(pg, "scatter", call, async_op, lambda: write_back(tensor, recv), [tensor])


def _splits(sizes, rows, pg, what):
    if sizes is None or len(sizes) == 0:
        if rows % pg.size():
            raise ValueError(f"all_to_all_single: the {what} tensor's first dimension ({rows}) must divide by the "
                             f"world size ({pg.size()}) when no split sizes are given")
        return [rows // pg.size()] * pg.size()
    sizes = [int(s) for s in sizes]
    if len(sizes) != pg.size() or sum(sizes) != rows:
        raise ValueError(f"all_to_all_single: {what} split sizes {sizes} must give one count per rank "
                         f"({pg.size()}) summing to the first dimension ({rows})")
    return sizes


def _counts(sizes, row_bytes):
    counts = [s * row_bytes for s in sizes]
    return counts, [sum(counts[:i]) for i in range(len(counts))]


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """Rank i sends its j-th block of input rows to rank j, which puts it as its i-th block of output."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _group(group)
    if pg is None:
        return None
    if output.dtype is not input.dtype:
        raise ValueError(f"all_to_all_single: output dtype {output.dtype} differs from the input's {input.dtype}")
    in_rows = input.shape[0] if input.dim() else 1
    out_rows = output.shape[0] if output.dim() else 1
    in_row_bytes = input.nbytes // max(in_rows, 1)
    out_row_bytes = output.nbytes // max(out_rows, 1)
    send_counts = _counts(_splits(input_split_sizes, in_rows, pg, "input"), in_row_bytes)
    recv_counts = _counts(_splits(output_split_sizes, out_rows, pg, "output"), out_row_bytes)
    send, recv = host_array(input), _fresh(output)
    BYTE = _State.MPI.BYTE

    def call():
        pg.comm.Alltoallv([send.reshape(-1).view(np.uint8), send_counts, BYTE],
                          [recv.reshape(-1).view(np.uint8), recv_counts, BYTE])
    return _run(pg, "all_to_all_single", call, async_op, lambda: write_back(output, recv), [output])


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """output_tensor_list[i] of rank j = input_tensor_list[j] of rank i."""
    _check_tensor_list(output_tensor_list, "output_tensor_list")
    _check_tensor_list(input_tensor_list, "input_tensor_list")
    pg = _group(group)
    if pg is None:
        return None
    _check_count(output_tensor_list, pg, "all_to_all")
    _check_count(input_tensor_list, pg, "all_to_all")
    send = np.concatenate([host_array(t).reshape(-1).view(np.uint8) for t in input_tensor_list])
    recv = np.empty(sum(t.nbytes for t in output_tensor_list), np.uint8)
    send_counts = _counts([t.nbytes for t in input_tensor_list], 1)
    recv_counts = _counts([t.nbytes for t in output_tensor_list], 1)
    BYTE = _State.MPI.BYTE

    def finish():
        for t, start, n in zip(output_tensor_list, recv_counts[1], recv_counts[0]):
            write_back(t, recv[start:start + n].view(t.dtype.np).reshape(t.shape))
    return _run(pg, "all_to_all", lambda: pg.comm.Alltoallv([send, send_counts, BYTE], [recv, recv_counts, BYTE]),
                async_op, finish, [output_tensor_list])


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of the group reached its barrier (up to the group's timeout)."""
    pg = _group(group)
    if pg is None:
        return None
    return _run(pg, "barrier", lambda: _wait_request(pg.comm.Ibarrier(), pg.timeout, "barrier"), async_op)


def _wait_request(request, timeout, name):
    """Poll an MPI request until done, raising DistBackendError after timeout seconds."""
    deadline = _time.monotonic() + timeout
    pause = 0.0
    while not request.Test():
        if _time.monotonic() > deadline:
            raise DistBackendError(f"{name} timed out after {timeout:g} s waiting for the other ranks")
        _time.sleep(pause)
        pause = min(pause * 2 or 1e-5, 1e-3)


# ---- point to point ------------------------------------------------------------------------------
class _P2PWork(Work):
    """An MPI request of isend/irecv (posted on the caller's thread: p2p needs no ordering thread)."""

    def __init__(self, name, timeout, request, finish=None, result=(), status=None):
        super().__init__(name, timeout, finish, result)
        self._request, self._status = request, status

    def wait(self, timeout=None) -> bool:
        if not self._done.is_set():
            limit = self._timeout if timeout is None else _seconds(timeout)
            _wait_request_status(self._request, self._status, limit, self._name)
            self._complete()
        return super().wait(0)

    def is_completed(self) -> bool:
        if not self._done.is_set() and self._request.Test(self._status):
            self._complete()
        return super().is_completed()

    def _source_rank(self) -> int:
        return self._status.Get_source()


def _wait_request_status(request, status, timeout, name):
    deadline = _time.monotonic() + timeout
    pause = 0.0
    while not request.Test(status):
        if _time.monotonic() > deadline:
            raise DistBackendError(f"{name} timed out after {timeout:g} s waiting for the other rank")
        _time.sleep(pause)
        pause = min(pause * 2 or 1e-5, 1e-3)


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Start sending tensor to rank dst; returns a Work (wait() before changing tensor)."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    peer = _root(pg, dst, group_dst, "dst")
    arr = host_array(tensor)
    request = pg.comm.Isend(_bytes(arr), dest=peer, tag=tag)
    return _P2PWork("isend", pg.timeout, request, result=[tensor])


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Start receiving into tensor from rank src (any rank when None); returns a Work."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    MPI = _State.MPI
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _root(pg, src, group_src, "src")
    arr = _fresh(tensor)
    status = MPI.Status()
    request = pg.comm.Irecv(_bytes(arr), source=peer, tag=tag)
    return _P2PWork("irecv", pg.timeout, request, lambda: write_back(tensor, arr), [tensor], status)


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send tensor to rank dst and wait until it is sent."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None) -> int:
    """Receive into tensor from rank src (any rank when None); returns the sender's rank."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    pg = _group(group)
    return pg._ranks[work._source_rank()]


# ---- Python objects (pickled) --------------------------------------------------------------------
def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """object_list (filled in place) = rank src's object_list."""
    pg = _group(group)
    if pg is None:
        return
    root = _root(pg, src, group_src, "src")
    got = []
    _run(pg, "broadcast_object_list",
         lambda: got.append(pg.comm.bcast(list(object_list) if pg.rank() == root else None, root=root)))
    object_list[:] = got[0]


def all_gather_object(object_list, obj, group=None):
    """object_list[i] = obj of rank i (object_list holds one slot per rank)."""
    pg = _group(group)
    if pg is None:
        return
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list must have one slot per rank ({pg.size()}), "
                         f"got {len(object_list)}")
    got = []
    _run(pg, "all_gather_object", lambda: got.append(pg.comm.allgather(obj)))
    object_list[:] = got[0]


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """object_gather_list[i] of rank dst = obj of rank i."""
    pg = _group(group)
    if pg is None:
        return
    root = _root(pg, dst, group_dst, "dst")
    got = []
    _run(pg, "gather_object", lambda: got.append(pg.comm.gather(obj, root=root)))
    if pg.rank() == root:
        if object_gather_list is None or len(object_gather_list) != pg.size():
            raise ValueError(f"gather_object: object_gather_list must have one slot per rank ({pg.size()}) on dst")
        object_gather_list[:] = got[0]


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    """scatter_object_output_list[0] of rank i = scatter_object_input_list[i] of rank src."""
    pg = _group(group)
    if pg is None:
        return
    root = _root(pg, src, group_src, "src")
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    got = []
    items = list(scatter_object_input_list) if pg.rank() == root else None
    _run(pg, "scatter_object_list", lambda: got.append(pg.comm.scatter(items, root=root)))
    scatter_object_output_list[0] = got[0]
