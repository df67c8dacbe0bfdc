"""Samplers: which dataset indices a DataLoader visits, in what order, grouped how."""
from __future__ import annotations

import numpy as np


def random_permutation(n: int, generator=None) -> np.ndarray:
    """A permutation of range(n) from a cltensor Generator (the default one if None).

    Random keys are drawn by the generator's counter-based kernel and ordered on the host: the
    indices are needed on the host anyway (samplers yield Python ints), so one read serves both.
    """
    from ...ops import random as rnd
    from ...dtypes import float64, float32
    from ...device import device
    if n == 0:
        return np.zeros(0, np.int64)
    gen = generator if generator is not None else rnd.default_generator
    dtype = float64 if device("cpu").backend.has_fp64 else float32
    keys = rnd.rand(n, generator=gen, dtype=dtype, device="cpu").numpy()
    return np.argsort(keys, kind="stable")


def _random_ints(high: int, n: int, generator=None) -> np.ndarray:
    from ...ops import random as rnd
    gen = generator if generator is not None else rnd.default_generator
    return rnd.randint(0, high, (n,), generator=gen, device="cpu").numpy().copy()


def _uniform(n: int, generator=None) -> np.ndarray:
    """n float64 draws in [0, 1) from a cltensor Generator, on the host."""
    from ...device import device
    from ...dtypes import float32, float64
    from ...ops import random as rnd
    gen = generator if generator is not None else rnd.default_generator
    dtype = float64 if device("cpu").backend.has_fp64 else float32
    return rnd.rand(n, generator=gen, dtype=dtype, device="cpu").numpy().astype(np.float64)


class Sampler:
    """Base class: an iterable of indices (or of lists of indices, for batch samplers)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation per epoch (or ``num_samples`` draws with replacement)."""

    def __init__(self, data_source, replacement: bool = False, num_samples=None, generator=None):
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        if self.replacement:
            return iter(_random_ints(n, self.num_samples, self.generator).tolist())
        full, rest = divmod(self.num_samples, n)
        order = [random_permutation(n, self.generator) for _ in range(full)]
        if rest:
            order.append(random_permutation(n, self.generator)[:rest])
        return iter(np.concatenate(order).tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in random order."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = indices, generator

    def __iter__(self):
        return (self.indices[i] for i in random_permutation(len(self.indices), self.generator).tolist())

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless drop_last)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = np.asarray(weights.tolist() if hasattr(weights, "tolist") else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (weights must be finite, non-negative and not all "
                               "zero)")
        if not replacement and num_samples > np.count_nonzero(w):
            raise RuntimeError("invalid multinomial distribution (with replacement=False, not enough non-negative "
                               "category to sample)")
        self.weights, self.num_samples, self.replacement, self.generator = w, num_samples, replacement, generator

    def __iter__(self):
        u = _uniform(self.num_samples if self.replacement else len(self.weights), self.generator)
        if self.replacement:  # inverse CDF
            cdf = np.cumsum(self.weights)
            picks = np.searchsorted(cdf, u * cdf[-1], side="right")
            return iter(np.minimum(picks, len(cdf) - 1).tolist())
        # without replacement: the largest keys u^(1/w) form a weighted sample (Efraimidis-Spirakis)
        with np.errstate(divide="ignore"):
            keys = np.where(self.weights > 0, np.log(np.maximum(u, 1e-300)) / self.weights, -np.inf)
        return iter(np.argsort(-keys, kind="stable")[:self.num_samples].tolist())

    def __len__(self):
        return self.num_samples
