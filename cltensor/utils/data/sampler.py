"""Samplers: which dataset indices a DataLoader visits, in what order, grouped how.

Random samplers draw lazily, as PyTorch's do: RandomSampler with replacement draws 32 indices at a
time, WeightedRandomSampler with replacement draws chunks from a cumulative distribution computed
once per pass, so ``RandomSampler(data, replacement=True, num_samples=10**10)`` holds no more than
a chunk and its first items come at once.
"""
from __future__ import annotations

import itertools
from typing import Generic, Iterator, TypeVar

import numpy as np

from ... import dtypes as _dt
from ...device import device as _Device
from ...ops import creation as _creation
from ...ops import random as _rnd

_T_co = TypeVar("_T_co", covariant=True)

_REPLACEMENT_CHUNK = 32           # PyTorch's RandomSampler draws this many at a time
_WEIGHTED_CHUNK = 1024            # weighted draws per kernel launch (one cdf serves every chunk)


def random_permutation(n: int, generator=None) -> np.ndarray:
    """A permutation of range(n) (torch.randperm) from a cltensor Generator (the default one if None),
    drawn on the host as PyTorch's samplers do, whatever the default device."""
    if n == 0:
        return np.zeros(0, np.int64)
    return _rnd.randperm(n, generator=generator, device="cpu").numpy()


def _fresh_generator():
    """A Generator seeded from the default one, as PyTorch's RandomSampler makes when given none."""
    seed = int(_creation.empty((), dtype=_dt.int64).random_().item())
    return _rnd.Generator().manual_seed(seed)


class Sampler(Generic[_T_co]):
    """Base class: an iterable of indices (or of lists of indices, for batch samplers)."""

    def __iter__(self) -> Iterator[_T_co]:
        raise NotImplementedError


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """A random permutation per pass over the data (or ``num_samples`` draws with replacement).

    Without a generator each pass seeds a new one from the default generator, as PyTorch does.
    """

    def __init__(self, data_source, replacement: bool = False, num_samples=None, generator=None):
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples
        if not isinstance(self.replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        generator = self.generator if self.generator is not None else _fresh_generator()
        # NOTE: PyTorch also draws the remainder when it is empty; skipping it saves a launch and a
        # wait per pass (the streams differ from PyTorch's anyway: another generator)
        if self.replacement:
            for _ in range(self.num_samples // _REPLACEMENT_CHUNK):
                yield from _rnd.randint(0, n, (_REPLACEMENT_CHUNK,), generator=generator).tolist()
            if self.num_samples % _REPLACEMENT_CHUNK:
                yield from _rnd.randint(0, n, (self.num_samples % _REPLACEMENT_CHUNK,), generator=generator).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from _rnd.randperm(n, generator=generator).tolist()
            if self.num_samples % n:
                yield from _rnd.randperm(n, generator=generator).tolist()[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in random order."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = indices, generator

    def __iter__(self):
        for i in _rnd.randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler[list]):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless drop_last)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        indices = iter(self.sampler)
        while True:
            batch = list(itertools.islice(indices, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (torch.multinomial).

    Invalid weights (negative, inf, NaN, all zero) raise multinomial's errors when iterated, as in PyTorch.
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        # PyTorch keeps double weights on the host; a driver without fp64 computes them in float32
        dtype = _dt.float64 if _Device("cpu").backend.has_fp64 else _dt.float32
        weights = _creation.as_tensor(weights, dtype=dtype, device="cpu")
        if len(weights.shape) != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(weights.shape)}")
        self.weights, self.num_samples, self.replacement, self.generator = weights, num_samples, replacement, generator

    def __iter__(self):
        if not self.replacement or self.num_samples == 1:
            yield from _rnd.multinomial(self.weights, self.num_samples, self.replacement,
                                       generator=self.generator).tolist()
            return
        cdf = _rnd.weighted_cdf(self.weights)
        full, rest = divmod(self.num_samples, _WEIGHTED_CHUNK)
        for size in itertools.chain(itertools.repeat(_WEIGHTED_CHUNK, full), [rest] if rest else []):
            yield from _rnd.sample_from_cdf(cdf, size, self.generator).tolist()

    def __len__(self):
        return self.num_samples
