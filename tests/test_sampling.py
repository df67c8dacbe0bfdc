"""torch.multinomial and the random samplers of utils.data: distributions, shapes, seeds, errors, laziness."""
import itertools
import time

import numpy as np
import pytest

import cltensor as torch
from cltensor.utils.data import (BatchSampler, RandomSampler, SequentialSampler, SubsetRandomSampler,
                                 WeightedRandomSampler)
from helpers import HAVE_TORCH, needs_fp64, real_torch

# chi-square quantiles at 1 - 1e-6 by degrees of freedom: with fixed seeds a correct sampler passes,
# a biased one fails at the sample sizes below
CHI2_LIMIT = {1: 23.93, 2: 27.63, 3: 30.66, 4: 33.38, 5: 35.89}


def chi_square(draws: np.ndarray, probabilities: np.ndarray) -> float:
    """Pearson's statistic of the draws' counts over the categories of positive probability."""
    counts = np.bincount(draws.ravel(), minlength=len(probabilities))
    expected = probabilities / probabilities.sum() * draws.size
    positive = expected > 0
    assert counts[~positive].sum() == 0, "a zero-probability category was drawn"
    return float((((counts - expected) ** 2)[positive] / expected[positive]).sum())


def assert_fits(draws, probabilities):
    df = int((np.asarray(probabilities) > 0).sum()) - 1
    assert chi_square(np.asarray(draws), np.asarray(probabilities, np.float64)) < CHI2_LIMIT[df]


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ---- multinomial: distributions ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_with_replacement_frequencies_match_the_probabilities(dtype):
    p = np.array([0.1, 0.0, 0.3, 0.6, 0.0])
    draws = torch.multinomial(torch.tensor(p, dtype=dtype), 20000, replacement=True, generator=gen(0))
    assert draws.dtype == torch.int64 and draws.shape == (20000,)
    assert_fits(draws.cpu().numpy(), p)


def test_batched_rows_draw_from_their_own_distribution_through_a_transposed_input():
    rows = np.array([[1.0, 2.0, 0.0, 3.0], [0.0, 0.0, 5.0, 1.0], [4.0, 1.0, 1.0, 4.0]])
    weights = torch.tensor(np.ascontiguousarray(rows.T), dtype=torch.float32).t()  # unnormalised, non-contiguous
    draws = weights.multinomial(6000, True, generator=gen(1)).cpu().numpy()
    assert draws.shape == (3, 6000)
    for row, d in zip(rows, draws):
        assert_fits(d, row)


def test_without_replacement_draws_distinct_and_follows_successive_sampling():
    p = np.array([0.5, 0.0, 0.2, 0.3])
    draws = torch.multinomial(torch.tensor(p, dtype=torch.float32).expand(4000, 4), 3, generator=gen(2)).cpu().numpy()
    assert draws.shape == (4000, 3)
    assert all(len(set(r)) == 3 for r in draws) and not (draws == 1).any()
    assert_fits(draws[:, 0], p)
    # second draw: P(j) = sum_i p_i p_j / (1 - p_i) over i != j
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(4) if i != j) for j in range(4)])
    assert_fits(draws[:, 1], second)


def test_without_replacement_takes_zero_weights_last_when_too_few_are_positive():
    draws = torch.multinomial(torch.tensor([0.0, 2.0, 0.0, 1.0]), 4, generator=gen(3)).tolist()
    assert sorted(draws) == [0, 1, 2, 3] and sorted(draws[:2]) == [1, 3]
    if HAVE_TORCH:  # PyTorch samples the zero-weight categories too instead of raising
        assert sorted(real_torch.multinomial(real_torch.tensor([0.0, 2.0, 0.0, 1.0]), 4).tolist()) == [0, 1, 2, 3]


def test_one_draw_with_replacement_is_a_single_weighted_pick():
    p = np.array([0.25, 0.75])
    draws = [torch.multinomial(torch.tensor(p, dtype=torch.float32).expand(500, 2), 1, True, generator=gen(s))
             for s in range(4)]
    draws = torch.cat(draws).cpu().numpy()
    assert draws.shape == (2000, 1)
    assert_fits(draws, p)


@needs_fp64
def test_float64_probabilities():
    p = np.array([1e-3, 0.0, 0.999])
    draws = torch.multinomial(torch.tensor(p, dtype=torch.float64), 3000, True, generator=gen(4)).cpu().numpy()
    assert_fits(draws, p)
    assert torch.multinomial(torch.tensor(p), 2, generator=gen(5)).tolist() in ([2, 0], [0, 2])


# ---- multinomial: API ----------------------------------------------------------------------------------------
def test_a_seed_reproduces_the_draws_and_the_default_generator_is_used():
    p = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    a = torch.multinomial(p, 7, True, generator=gen(9)).tolist()
    assert a == torch.multinomial(p, 7, True, generator=gen(9)).tolist() != torch.multinomial(
        p, 7, True, generator=gen(10)).tolist()
    torch.manual_seed(11)
    b = torch.multinomial(p, 3).tolist()
    torch.manual_seed(11)
    assert torch.multinomial(p, 3).tolist() == b


def test_shapes_out_and_empty_rows():
    p = torch.ones(3, 5)
    assert torch.multinomial(p, 4).shape == (3, 4)
    assert torch.multinomial(torch.ones(5), 1).shape == (1,)
    out = torch.empty(7, dtype=torch.int64)
    result = torch.multinomial(torch.ones(5), 2, out=out)
    assert result is out and out.shape == (2,) and set(out.tolist()) <= set(range(5))
    empty = torch.multinomial(torch.ones(0, 3), 2)
    assert empty.shape == (0, 2) and empty.dtype == torch.int64
    assert torch.multinomial(torch.ones(3, requires_grad=True), 2).requires_grad is False
    assert torch.multinomial(torch.ones(3), torch.tensor(2)).shape == (2,)


ERROR_CASES = [
    (lambda t: t.multinomial(t.tensor([-1.0, 2.0]), 3, True), "encountering probability entry < 0"),
    (lambda t: t.multinomial(t.tensor([float("nan"), 2.0]), 3, True), "encountering probability entry < 0"),
    (lambda t: t.multinomial(t.tensor([float("inf"), 2.0]), 3, True), r"probability entry = infinity or NaN"),
    (lambda t: t.multinomial(t.tensor([[1.0, 1.0], [0.0, 0.0]]), 3, True), r"sum of probabilities <= 0"),
    (lambda t: t.multinomial(t.tensor([-1.0, 2.0, 3.0]), 2), "contains either `inf`, `nan` or element < 0"),
    (lambda t: t.multinomial(t.tensor([float("inf"), 2.0]), 1, True), "contains either `inf`, `nan` or element < 0"),
    (lambda t: t.multinomial(t.tensor([[0.0, 1.0], [0.0, 0.0]]), 1), r"sum of probabilities <= 0"),
    (lambda t: t.multinomial(t.ones(2), 3), r"cannot sample n_sample > prob_dist.size\(-1\) samples without"),
    (lambda t: t.multinomial(t.ones(2), 0), r"cannot sample n_sample <= 0 samples"),
    (lambda t: t.multinomial(t.tensor(1.0), 1), "prob_dist must be 1 or 2 dim"),
    (lambda t: t.multinomial(t.ones(2, 2, 2), 1), "prob_dist must be 1 or 2 dim"),
    (lambda t: t.multinomial(t.tensor([1, 1]), 1), "only supports floating-point dtypes for input, got: Long"),
    (lambda t: t.multinomial(t.ones(3), 2, out=t.empty(2)), "multinomial expects Long tensor out, got: Float"),
    (lambda t: t.multinomial(t.ones(2, 0), 1, True), "cannot compute aminmax over an empty dimension"),
]


@pytest.mark.parametrize("case", range(len(ERROR_CASES)))
def test_errors_match_pytorch(case):
    call, message = ERROR_CASES[case]
    with pytest.raises(RuntimeError, match=message):
        call(torch).tolist()  # the host read: a non-host device defers the value checks to it (as CUDA does)
    if HAVE_TORCH:
        with pytest.raises(RuntimeError, match=message):
            call(real_torch)


def test_num_samples_must_be_an_int():
    for bad in (2.0, True):
        with pytest.raises(TypeError, match="argument 'num_samples' .* must be int"):
            torch.multinomial(torch.ones(3), bad)


def test_on_an_opencl_device_the_value_checks_wait_for_the_next_host_read():
    p = torch.tensor([1.0, -1.0, 2.0], device="cl:0")
    draws = torch.multinomial(p, 4, True)  # no sync here: the check is deferred, like a CUDA device assert
    with pytest.raises(RuntimeError, match="encountering probability entry < 0"):
        draws.tolist()
    good = torch.multinomial(torch.tensor([0.0, 1.0], device="cl:0"), 3, True)
    assert good.tolist() == [1, 1, 1]  # the failed check was consumed


# ---- samplers ----------------------------------------------------------------------------------------------------
def test_random_sampler_with_replacement_is_lazy():
    sampler = RandomSampler(range(10), replacement=True, num_samples=10**10)
    assert len(sampler) == 10**10
    start = time.perf_counter()
    first = list(itertools.islice(iter(sampler), 70))
    assert time.perf_counter() - start < 5 and all(0 <= i < 10 for i in first)


def test_random_sampler_seeds_and_lengths():
    a = list(RandomSampler(range(9), generator=gen(0)))
    assert sorted(a) == list(range(9)) and a == list(RandomSampler(range(9), generator=gen(0)))
    longer = list(RandomSampler(range(4), num_samples=10, generator=gen(1)))
    assert len(longer) == 10 and sorted(longer[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]
    draws = list(RandomSampler(range(3), replacement=True, num_samples=70, generator=gen(2)))
    assert len(draws) == 70 and set(draws) == {0, 1, 2}
    torch.manual_seed(3)  # without a generator each pass seeds one from the default generator
    sampler = RandomSampler(range(20))
    first, second = list(sampler), list(sampler)
    torch.manual_seed(3)
    assert list(sampler) == first != second
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement=1)


def test_weighted_sampler_draws_in_chunks_from_the_weights():
    weights = [1.0, 0.0, 3.0, 2.0]
    sampler = WeightedRandomSampler(weights, 2500, generator=gen(4))  # crosses a chunk boundary
    draws = list(sampler)
    assert len(draws) == len(sampler) == 2500
    assert_fits(draws, weights)
    assert draws == list(WeightedRandomSampler(weights, 2500, generator=gen(4)))
    assert sampler.weights.shape == (4,) and sampler.weights.is_floating_point()
    unique = list(WeightedRandomSampler(weights, 3, replacement=False, generator=gen(5)))
    assert sorted(unique) == [0, 2, 3]
    big = WeightedRandomSampler(torch.ones(100), 10**10)
    assert next(iter(big)) in range(100)


def test_weighted_sampler_errors_as_pytorch():
    bad = WeightedRandomSampler([1.0, -2.0], 5)  # accepted; iterating raises multinomial's error
    with pytest.raises(RuntimeError, match="probability entry < 0"):
        list(bad)
    with pytest.raises(ValueError, match="weights should be a 1d sequence but given weights have shape \\(1, 1\\)"):
        WeightedRandomSampler([[1.0]], 1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        WeightedRandomSampler([1.0], 0)
    if HAVE_TORCH:
        with pytest.raises(RuntimeError, match="probability entry < 0"):
            list(real_torch.utils.data.WeightedRandomSampler([1.0, -2.0], 5))


def test_sequential_subset_and_batch_samplers_match_pytorch():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3] and len(SequentialSampler(range(4))) == 4
    subset = SubsetRandomSampler([10, 20, 30, 40], generator=gen(6))
    assert sorted(subset) == [10, 20, 30, 40] and len(subset) == 4
    for drop_last in (False, True):
        ours = BatchSampler(SequentialSampler(range(10)), 3, drop_last)
        expected = [[0, 1, 2], [3, 4, 5], [6, 7, 8]] + ([] if drop_last else [[9]])
        assert list(ours) == expected and len(ours) == len(expected)
        if HAVE_TORCH:
            theirs = real_torch.utils.data.BatchSampler(range(10), 3, drop_last)
            assert list(theirs) == expected and len(theirs) == len(ours)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got batch_size=0"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got drop_last=1"):
        BatchSampler(range(3), 2, 1)
    assert issubclass(RandomSampler, torch.utils.data.Sampler) and torch.utils.data.Sampler[int] is not None
