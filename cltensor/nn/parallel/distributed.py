"""``nn.parallel.DistributedDataParallel``: the name only, until cltensor.distributed exists."""
from __future__ import annotations

from ..module import Module


class DistributedDataParallel(Module):
    """Not built yet: constructing one raises, as PyTorch does without an initialised process group."""

    def __init__(self, module, *args, **kwargs):
        raise RuntimeError("DistributedDataParallel is not available in cltensor yet (cltensor.distributed has no "
                           "process groups): train on one device, or wrap the model in nn.DataParallel, which "
                           "runs it as is")
