"""cltensor.utils.data: datasets, samplers and the DataLoader, with PyTorch's API."""
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .distributed import DistributedSampler
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
                      random_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)


def get_worker_info():
    """Always None: data loading runs in the main process."""
    return None


__all__ = ["DataLoader", "Dataset", "IterableDataset", "ChainDataset", "TensorDataset", "StackDataset",
           "ConcatDataset", "Subset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "default_collate", "default_convert",
           "get_worker_info", "DistributedSampler"]
