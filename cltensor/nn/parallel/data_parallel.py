"""``nn.DataParallel``: cltensor runs the module on the one device its parameters are on."""
from __future__ import annotations

from ..module import Module


class DataParallel(Module):
    """``nn.DataParallel(module, device_ids=None, output_device=None, dim=0)`` on one device.

    The wrapped module is ``self.module``, so the state_dict's keys carry the ``module.`` prefix that
    checkpoints of PyTorch's DataParallel carry, and ``model.module.state_dict()`` gives the plain keys.
    Calls run the module itself: cltensor does not split batches across devices (several OpenCL GPUs
    would need a scatter/gather it does not have yet), which computes the same as PyTorch's on one GPU.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
