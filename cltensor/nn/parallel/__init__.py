"""``torch.nn.parallel``: DataParallel on one device, and DistributedDataParallel's name."""
from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
