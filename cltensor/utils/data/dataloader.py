"""DataLoader: batches of a dataset in sampler order, collated into tensors.

Work runs in the calling process (``num_workers`` is accepted and ignored): the kernels that
gather and stack a batch are asynchronous already, so there is no host work to overlap.
"""
from __future__ import annotations

import numpy as np

from ... import launch
from ... import dtypes as dt
from ...ops import creation
from ...tensor import Tensor
from .collate import default_collate, default_convert
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler


class DataLoader:
    """``torch.utils.data.DataLoader`` (single process).

    >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True,
    ...                     generator=cltensor.Generator().manual_seed(0))
    >>> for xb, yb in loader: ...
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        self.dataset, self.num_workers, self.timeout = dataset, num_workers, timeout
        self.pin_memory, self.worker_init_fn, self.generator = pin_memory, worker_init_fn, generator
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler/batch_sampler "
                                 "option")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self.batch_sampler if self._auto_collation else self.sampler)

    def __iter__(self):
        if self._iterable:
            return self._iter_stream()
        if not self._auto_collation:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        gather = _tensor_gatherer(self.dataset) if self.collate_fn is default_collate else None
        if gather is not None:
            return (gather(indices) for indices in self.batch_sampler)
        return (self.collate_fn(self._fetch(indices)) for indices in self.batch_sampler)

    def _fetch(self, indices):
        getitems = getattr(self.dataset, "__getitems__", None)
        return getitems(indices) if getitems is not None else [self.dataset[i] for i in indices]

    def _iter_stream(self):
        if self.batch_size is None:
            yield from (self.collate_fn(x) for x in self.dataset)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)


# ---- the TensorDataset fast path -----------------------------------------------------------------
def _tensor_gatherer(dataset):
    """For a TensorDataset (or nested Subsets of one): indices -> [batch of each tensor], each batch
    one gather kernel on the tensors' device (a sliced copy when the indices are a run).

    The indices come from the sampler on the host, so they are checked there; the gather needs no
    device-side bounds check and never waits for the device (index_select would read its indices'
    range back)."""
    mapping = None
    while isinstance(dataset, Subset):
        outer = np.asarray(dataset.indices, dtype=np.int64)
        mapping = outer if mapping is None else outer[mapping]
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:
        return None
    tensors = dataset.tensors
    n = len(dataset)

    def gather(indices):
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if mapping is not None:
            idx = mapping[idx]
        idx = np.where(idx < 0, idx + n, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"index {int(idx[(idx < 0) | (idx >= n)][0])} is out of bounds for a dataset of "
                             f"size {n}")
        if idx.size and idx[-1] - idx[0] == idx.size - 1 and np.all(np.diff(idx) == 1):
            return [t.narrow(0, int(idx[0]), idx.size).clone() for t in tensors]
        tables = {}
        return [_gather_rows(t, idx, tables) for t in tensors]
    return gather


def _gather_rows(t: Tensor, idx: np.ndarray, tables: dict) -> Tensor:
    """out[j] = t[idx[j]]: one gather kernel (idx already bounds-checked)."""
    out = launch.base.empty((idx.size, *t.shape[1:]), t.dtype, t.device)
    table = tables.get(t.device)
    if table is None:
        table = tables[t.device] = creation.tensor(idx, dtype=dt.int64, device=t.device)
    return launch.copy.dim_copy("gather", t, out, table, t.dtype)
