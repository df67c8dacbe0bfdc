"""Datasets, samplers and the DataLoader: batching, seeded shuffling, drop_last, collation, splits."""
from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import cltensor as torch
from cltensor.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                                 RandomSampler, SequentialSampler, StackDataset, Subset, SubsetRandomSampler,
                                 TensorDataset, WeightedRandomSampler, default_collate, default_convert, random_split)
from helpers import assert_close, needs_fp64


def _xy(n=10, device="cpu"):
    x = torch.arange(n * 3, dtype=torch.float32, device=device).reshape(n, 3)
    y = torch.arange(n, device=device)
    return x, y


class Squares(Dataset):
    """Samples of every collatable kind; with_float adds a Python float, which collates to float64."""
    def __init__(self, n, with_float=False):
        self.n, self.with_float = n, with_float

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        sample = {"x": np.full(2, i, np.float32), "y": i * i, "name": f"s{i}"}
        if self.with_float:
            sample["w"] = float(i) / 2
        return sample


# ---- datasets ------------------------------------------------------------------------------------------
def test_tensor_dataset_rows_and_length():
    x, y = _xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[4]
    assert xi.tolist() == [12.0, 13.0, 14.0] and yi.item() == 4
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, torch.arange(3))


def test_subset_concat_and_stack_datasets():
    x, y = _xy()
    sub = Subset(TensorDataset(x, y), [7, 2])
    assert len(sub) == 2 and sub[0][1].item() == 7
    cat = ConcatDataset([Squares(3), Squares(2)])
    assert len(cat) == 5 and cat[3]["y"] == 0 and cat[-1]["y"] == 1
    assert len(Squares(3) + Squares(4)) == 7
    stacked = StackDataset(a=Squares(3), b=Squares(3))
    assert stacked[2]["b"]["y"] == 4
    with pytest.raises(ValueError, match="Size mismatch"):
        StackDataset(Squares(3), Squares(2))


# ---- loading --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cpu", "cl:0"])
def test_sequential_batches_keep_order_and_device(device):
    x, y = _xy(device=device)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    xb, yb = batches[1]
    assert isinstance(batches[0], list) and xb.shape == torch.Size([4, 3]) and xb.device == torch.device(device)
    assert_close(xb, np.arange(30, dtype=np.float32).reshape(10, 3)[4:8])
    xb.add_(100)  # a batch is a copy, not a view of the dataset
    assert x[4, 0].item() == 12.0


def test_drop_last():
    x, y = _xy()
    loader = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[1].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def _epoch(loader):
    return [yb.tolist() for _, yb in loader]


def test_shuffle_is_a_permutation_reproducible_with_a_seeded_generator():
    x, y = _xy(23)
    ds = TensorDataset(x, y)

    def loader(seed):
        return DataLoader(ds, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(seed))
    first = _epoch(loader(0))
    assert sorted(sum(first, [])) == list(range(23)) and [len(b) for b in first] == [5, 5, 5, 5, 3]
    assert first != sorted(first) and first == _epoch(loader(0))
    assert first != _epoch(loader(1))
    same = loader(0)
    assert _epoch(same) != _epoch(same)  # each epoch draws a new permutation from the generator
    for xb, yb in loader(0):  # rows stay paired with their labels
        assert_close(xb, np.asarray(yb.tolist())[:, None] * 3 + np.arange(3))


def test_shuffle_without_generator_follows_manual_seed():
    ds = TensorDataset(*_xy(12))
    torch.manual_seed(5)
    a = _epoch(DataLoader(ds, batch_size=6, shuffle=True))
    torch.manual_seed(5)
    assert a == _epoch(DataLoader(ds, batch_size=6, shuffle=True))


def test_tensor_dataset_gather_matches_sample_by_sample_collation():
    x = torch.randn(17, 2, 3)
    y = torch.randint(0, 5, (17,))
    ds = TensorDataset(x, y)
    gen = torch.Generator().manual_seed(3)
    fast = list(DataLoader(Subset(ds, list(range(1, 17))), batch_size=6, shuffle=True, generator=gen))
    gen = torch.Generator().manual_seed(3)
    slow = list(DataLoader(Subset(ds, list(range(1, 17))), batch_size=6, shuffle=True, generator=gen,
                           collate_fn=lambda batch: default_collate(batch)))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert_close(fx, sx.cpu().numpy())
        assert fy.tolist() == sy.tolist() and fy.dtype is torch.int64


def test_tensor_dataset_batches_never_wait_for_the_device(monkeypatch):
    """After the epoch's permutation is drawn, gathering batches only enqueues kernels."""
    x, y = _xy(40)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0))
    batches = iter(loader)
    first = next(batches)

    def forbidden(*a, **k):
        raise AssertionError("the DataLoader waited for the device")
    monkeypatch.setattr(x.device.backend, "synchronize", forbidden)
    rest = list(batches)
    monkeypatch.undo()
    labels = sum((b[1].tolist() for b in [first] + rest), [])
    assert sorted(labels) == list(range(40))


def test_collation_of_dicts_numbers_strings_and_numpy():
    loader = DataLoader(Squares(5), batch_size=3)
    batch = next(iter(loader))
    assert set(batch) == {"x", "y", "name"}
    assert batch["x"].dtype is torch.float32 and batch["x"].shape == torch.Size([3, 2])
    assert batch["y"].dtype is torch.int64 and batch["y"].tolist() == [0, 1, 4]
    assert batch["name"] == ["s0", "s1", "s2"]


@needs_fp64
def test_collation_of_python_floats_is_float64():
    """Python floats collate to float64, as in PyTorch: where the device lacks fp64 this raises."""
    batch = next(iter(DataLoader(Squares(5, with_float=True), batch_size=3)))
    assert set(batch) == {"x", "y", "w", "name"} and batch["y"].tolist() == [0, 1, 4]
    assert batch["w"].dtype is torch.float64 and batch["w"].tolist() == [0.0, 0.5, 1.0]
    ints, floats = default_collate([(1, 2.0), (3, 4.0)])
    assert ints.dtype is torch.int64 and ints.tolist() == [1, 3]
    assert floats.dtype is torch.float64 and floats.tolist() == [2.0, 4.0]


def test_collation_of_tuples_lists_namedtuples():
    Point = namedtuple("Point", "a b")
    pairs = default_collate([(1, np.float32(2.0)), (3, np.float32(4.0))])
    assert isinstance(pairs, list) and [t.tolist() for t in pairs] == [[1, 3], [2.0, 4.0]]
    assert [t.dtype for t in pairs] == [torch.int64, torch.float32]
    nested = default_collate([[torch.ones(2), [1, 2]], [torch.zeros(2), [3, 4]]])
    assert nested[0].tolist() == [[1, 1], [0, 0]] and [t.tolist() for t in nested[1]] == [[1, 3], [2, 4]]
    p = default_collate([Point(1, 2), Point(3, 4)])
    assert isinstance(p, Point) and p.a.tolist() == [1, 3]
    od = default_collate([OrderedDict(z=1, a=2), OrderedDict(z=3, a=4)])
    assert isinstance(od, OrderedDict) and list(od) == ["z", "a"]
    assert default_collate([np.float32(1), np.float32(2)]).dtype is torch.float32
    assert default_collate([True, False]).dtype is torch.bool
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])


def test_batch_size_none_converts_samples():
    loader = DataLoader(Squares(2), batch_size=None)
    first = next(iter(loader))
    assert isinstance(first["x"], torch.Tensor) and first["y"] == 0
    assert len(loader) == 2
    assert isinstance(default_convert((np.zeros(2), 1)), list)


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

        def __len__(self):
            return 7
    loader = DataLoader(Stream(), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)
    chained = ChainDataset([Stream(), Stream()])
    assert len(chained) == 14 and [b.tolist() for b in DataLoader(chained, batch_size=5)][1] == [5, 6, 0, 1, 2]


def test_custom_samplers_and_collate_fn():
    ds = Squares(6)
    loader = DataLoader(ds, batch_sampler=[[5, 0], [1]], collate_fn=lambda b: [s["y"] for s in b])
    assert list(loader) == [[25, 0], [1]]
    loader = DataLoader(ds, sampler=[4, 3], batch_size=2, collate_fn=len)
    assert list(loader) == [2]


@pytest.mark.parametrize("kwargs,match", [
    (dict(shuffle=True, sampler=[0]), "mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "batch_size=None"),
    (dict(num_workers=-1), "num_workers"),
    (dict(batch_size=0), "batch_size should be a positive integer"),
])
def test_invalid_loader_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Squares(3), **kwargs)


# ---- samplers ------------------------------------------------------------------------------------------
def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    perm = list(RandomSampler(range(9), generator=torch.Generator().manual_seed(0)))
    assert sorted(perm) == list(range(9)) and perm == list(RandomSampler(range(9),
                                                                        generator=torch.Generator().manual_seed(0)))
    draws = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=torch.Generator().manual_seed(1)))
    assert len(draws) == 50 and set(draws) == {0, 1, 2}
    longer = list(RandomSampler(range(4), num_samples=10, generator=torch.Generator().manual_seed(2)))
    assert len(longer) == 10 and sorted(longer[:4]) == [0, 1, 2, 3]
    assert sorted(SubsetRandomSampler([10, 20, 30])) == [10, 20, 30]
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]
    assert len(BatchSampler(range(5), 2, True)) == 2
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)


def test_weighted_random_sampler():
    gen = torch.Generator().manual_seed(0)
    draws = list(WeightedRandomSampler(torch.tensor([1.0, 0.0, 3.0]), 4000, generator=gen))
    freq = np.bincount(draws, minlength=3) / 4000
    assert freq[1] == 0 and abs(freq[0] - 0.25) < 0.03 and abs(freq[2] - 0.75) < 0.03
    again = list(WeightedRandomSampler([1.0, 0.0, 3.0], 4000, generator=torch.Generator().manual_seed(0)))
    assert again == draws
    unique = list(WeightedRandomSampler([1.0, 0.0, 5.0, 2.0], 3, replacement=False,
                                        generator=torch.Generator().manual_seed(1)))
    assert sorted(unique) == [0, 2, 3]
    firsts = [list(WeightedRandomSampler([1.0, 100.0], 1, replacement=False,
                                         generator=torch.Generator().manual_seed(s)))[0] for s in range(20)]
    assert firsts.count(1) >= 17  # the heavy index usually comes first
    # as PyTorch: without replacement, zero-weight indices come after the others rather than raising
    assert list(WeightedRandomSampler([1.0, 0.0], 2, replacement=False)) == [0, 1]
    with pytest.raises(RuntimeError, match="sum of probabilities"):
        list(WeightedRandomSampler([0.0, 0.0], 2))
    with pytest.raises(ValueError, match="1d"):
        WeightedRandomSampler([[1.0]], 1)


# ---- random_split ---------------------------------------------------------------------------------------
def test_random_split_lengths_and_fractions():
    gen = torch.Generator().manual_seed(42)
    a, b, c = random_split(range(10), [5, 3, 2], generator=gen)
    assert [len(s) for s in (a, b, c)] == [5, 3, 2]
    assert sorted(list(a) + list(b) + list(c)) == list(range(10))
    again = random_split(range(10), [5, 3, 2], generator=torch.Generator().manual_seed(42))
    assert list(again[0]) == list(a)
    parts = random_split(range(11), [0.5, 0.3, 0.2], generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [6, 3, 2]  # floor(5.5, 3.3, 2.2) = 10, the spare goes to the first
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [3, 3])


def test_random_split_of_a_tensor_dataset_trains_through_the_loader():
    x, y = _xy(20)
    train, test = random_split(TensorDataset(x, y), [0.75, 0.25], generator=torch.Generator().manual_seed(0))
    seen = sum((yb.tolist() for _, yb in DataLoader(train, batch_size=4)), [])
    assert len(seen) == 15 and not set(seen) & {int(test[i][1].item()) for i in range(5)}
