"""sum over contiguous rows on CPUs folds vector loads into four accumulators (kernels_cl/reduce.cl.mako,
vec_fold): rows shorter than a vector, than four, than a block of 1024 vectors, rows at unaligned offsets,
several chunks of one row (a second stage), other dtypes and layouts that take the scalar path."""
import numpy as np
import pytest

import cltensor as torch
from helpers import assert_close, needs_fp64


@pytest.mark.parametrize("n", [0, 1, 7, 8, 31, 33, 8191, 8193, 40007])
def test_row_lengths_around_vector_and_block_sizes(n):
    a = np.random.default_rng(n).normal(size=(3, n + 3))
    x = torch.tensor(a, dtype=torch.float32)
    assert_close(x[:, 3:].sum(-1), a[:, 3:].sum(-1), rtol=1e-5, atol=1e-4)  # rows start at unaligned offsets
    assert_close(x[1, 1:].sum(), a[1, 1:].sum(), rtol=1e-5, atol=1e-4)
    assert_close(x[:, 3:].mean(-1), a[:, 3:].mean(-1) if n else np.full(3, np.nan), rtol=1e-5, atol=1e-5,
                 equal_nan=True)


def test_long_row_split_into_chunks():
    a = np.random.default_rng(5).random(3 << 20)
    x = torch.tensor(a, dtype=torch.float32)
    assert_close(x.sum(), a.sum(), rtol=1e-5)
    assert_close(x[5:].sum(), a[5:].sum(), rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.float16, pytest.param(torch.float64, marks=needs_fp64)],
                         ids=lambda d: d.name)
def test_other_dtypes(dtype):
    a = np.random.default_rng(3).integers(-50, 50, size=(4, 1001))
    x = torch.tensor(a).to(dtype)
    got = x[:, 1:].sum(-1)
    assert got.dtype is (torch.int64 if dtype in (torch.int32, torch.int64) else dtype)
    assert_close(got.double() if dtype is torch.float64 else got.float() if dtype is torch.float16 else got,
                 a[:, 1:].sum(-1), rtol=1e-3 if dtype is torch.float16 else 0, atol=0)


def test_nan_and_inf_propagate():
    a = np.ones((3, 100), dtype=np.float32)
    a[0, 37] = np.nan
    a[1, 5] = np.inf
    a[2, 6], a[2, 99] = np.inf, -np.inf
    got = torch.tensor(a).sum(-1).cpu().numpy()
    assert np.isnan(got[0]) and got[1] == np.inf and np.isnan(got[2])
