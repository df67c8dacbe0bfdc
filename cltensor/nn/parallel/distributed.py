"""``nn.parallel.DistributedDataParallel``: one model replica per rank, gradients averaged over ranks.

At construction the parameters and buffers of rank 0 are broadcast to every rank. The parameters are
split into buckets (reverse registration order, about the order backward produces their gradients;
the first bucket small so that communication starts early). A post-accumulate-grad hook on each
parameter counts it ready; a full bucket is flattened on its device (one cat), read to host once and
all-reduced on the MPI thread (cltensor.distributed._worker) while backward goes on. Buckets start
in index order on every rank, so the ranks' collectives match. When the last bucket has started,
the hook waits for all of them and writes each averaged bucket back (one upload, one copy per
parameter): when backward returns, every rank's .grad holds the average, as in PyTorch.
"""
from __future__ import annotations

from contextlib import contextmanager
import numpy as np

from ... import distributed as dist, dtypes as dt
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...tensor import Tensor
from ..module import Module
from ...autograd.graph import _reachable, AccumulateGrad
from ...ops.creation import from_host
from ...ops.joins import cat

_FIRST_BUCKET_BYTES = 1 << 20  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES


class _Bucket:
    __slots__ = ("params", "pending", "array", "work")

    def __init__(self, params):
        self.params = params
        self.pending = len(params)  # parameters whose gradient is not ready yet
        self.array = None  # the host copy being all-reduced
        self.work = None


class DistributedDataParallel(Module):
    """Data-parallel training: wrap the model on each rank, train as usual; the gradients every rank
    sees after ``loss.backward()`` are the average over ranks."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None):
        super().__init__()
        pg = dist._group(process_group)  # raises PyTorch's error without init_process_group
        if pg is None:
            raise ValueError("DistributedDataParallel: this rank is not part of process_group")
        self.module = module
        self.process_group = pg
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * (1 << 20))
        self._params = _unique(p for p in module.parameters() if p.requires_grad)
        if not self._params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        devices = {p.device for p in self._params}
        if len(devices) > 1:
            raise ValueError("DistributedDataParallel's parameters must be on one device, got "
                             f"{sorted(map(str, devices))}")
        self._param_index = {id(p): i for i, p in enumerate(self._params)}
        self._buckets = self._make_buckets()
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._armed = False  # the last forward asked for a gradient sync in the coming backward
        self._next_bucket = 0
        self._used = set()  # ids of parameters whose gradient backward produced this iteration
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in self._params]
        _broadcast_coalesced(pg, list(module.parameters()) + list(module.buffers()))

    # ---- buckets -------------------------------------------------------------------------------
    def _make_buckets(self) -> list:
        buckets, current, size, key = [], [], 0, None
        cap = min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap)
        for p in reversed(self._params):
            if current and (size + p.nbytes > cap or p.dtype is not key):
                buckets.append(_Bucket(current))
                current, size, cap = [], 0, self.bucket_bytes_cap
            current.append(p)
            size += p.nbytes
            key = p.dtype
        buckets.append(_Bucket(current))
        return buckets

    def _prepare_for_backward(self, output):
        if self._armed and self._used:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss.")
        for bucket in self._buckets:
            bucket.pending, bucket.array, bucket.work = len(bucket.params), None, None
        self._next_bucket = 0
        self._used = set()
        self._armed = True
        if self.find_unused_parameters:
            reached = _parameters_reached(output)
            for p in self._params:
                if id(p) not in reached:  # no gradient comes: ready now (it adds its current grad or zeros)
                    self._bucket_of[id(p)].pending -= 1

    def _grad_ready(self, param):
        if not self._armed:
            return  # no_sync(), or a backward without a DDP forward before it
        self._used.add(id(param))
        self._bucket_of[id(param)].pending -= 1
        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0:
            self._start(self._buckets[self._next_bucket])
            self._next_bucket += 1
        if self._next_bucket == len(self._buckets):
            self._finish()

    def _start(self, bucket):
        with no_grad():
            flat = _flatten([p.grad if p.grad is not None else p.detach().new_zeros(p.shape) for p in bucket.params])
        bucket.array = flat.detach()._to_numpy_copy()  # one read; waits for the kernels that made the grads
        bucket.work = dist._all_reduce_array(self.process_group, bucket.array, flat.dtype, dist.ReduceOp.AVG,
                                             async_op=True)

    def _finish(self):
        self._armed = False
        globally_used = self._globally_used() if self.find_unused_parameters else None
        for bucket in self._buckets:
            bucket.work.wait()
            self._write_grads(bucket, globally_used)
            bucket.array = bucket.work = None
        self._used = set()

    def _globally_used(self) -> set:

        used = np.array([id(p) in self._used for p in self._params], np.uint8)
        dist._all_reduce_array(self.process_group, used, dt.uint8, dist.ReduceOp.MAX)
        return {id(p) for p, u in zip(self._params, used) if u}

    def _write_grads(self, bucket, globally_used):
        params = bucket.params
        with no_grad():
            flat = from_host(bucket.array, params[0].dtype, params[0].device, owned=True)
            start = 0
            for p in params:
                n = p.numel()
                if globally_used is None or id(p) in globally_used:
                    value = flat[start:start + n].view(p.shape)
                    if p.grad is None:
                        p.grad = value.clone()
                    else:
                        p.grad.copy_(value)
                start += n

    # ---- the Module API --------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync  # (an eval forward leaves the state alone)
        if self.broadcast_buffers and self.process_group.size() > 1:
            buffers = list(self.module.buffers())
            if buffers:
                _broadcast_coalesced(self.process_group, buffers)
        output = self.module(*inputs, **kwargs)
        if sync:
            self._prepare_for_backward(output)
        elif is_grad_enabled():  # under no_sync(): the coming backward keeps its gradients local
            self._armed = False
        return output

    @contextmanager
    def no_sync(self):
        """Backward passes inside skip the all-reduce: gradients accumulate locally, and the first
        backward after it averages the sum."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous


def _unique(params) -> list:
    seen, out = set(), []
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _flatten(tensors) -> Tensor:
    return cat([t.reshape(-1) for t in tensors]) if len(tensors) > 1 else tensors[0].reshape(-1)


def _broadcast_coalesced(pg, tensors):
    """Copy rank 0's values of tensors into every rank's: one broadcast per (device, dtype)."""
    groups = {}
    for t in tensors:
        if t.numel():
            groups.setdefault((t.device, t.dtype), []).append(t)
    with no_grad():
        for group in groups.values():
            flat = _flatten([t.detach() for t in group]).contiguous()
            if flat is group[0] or flat._storage is group[0]._storage:
                flat = flat.clone()  # one tensor: receive into a copy, then copy_ (keeps views intact)
            dist.broadcast(flat, src=pg._ranks[0], group=pg)
            start = 0
            for t in group:
                t.detach().copy_(flat[start:start + t.numel()].view(t.shape))
                start += t.numel()


def _parameters_reached(output) -> set:
    """ids of the leaf tensors whose gradient backward from output's tensors would produce."""
    roots = [t.grad_fn for t in _tensors_in(output) if t.grad_fn is not None]
    return {id(node.variable) for node in _reachable(roots) if isinstance(node, AccumulateGrad)}


def _tensors_in(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors_in(item)
