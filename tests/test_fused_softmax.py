"""softmax over long rows on CPUs stores exp(x - max) while summing and then scales it (one exp per
element): rows longer than a vector and than a 4096-element block, special values, an output
whose rows are strided (the input's reduced dim is its unit-stride one, the output's is not)."""
import numpy as np
import pytest

import cltensor as torch
from helpers import assert_close, needs_fp64


def np_softmax(a, dim):
    e = np.exp(a - a.max(dim, keepdims=True))
    return e / e.sum(dim, keepdims=True)


@pytest.mark.parametrize("dtype", [torch.float32, pytest.param(torch.float64, marks=needs_fp64)],
                         ids=lambda d: d.name)
@pytest.mark.parametrize("cols", [37, 5000])
def test_long_rows_match_numpy(dtype, cols):
    a = np.random.default_rng(cols).normal(size=(3, cols)) * 4
    x = torch.tensor(a, dtype=dtype)
    assert_close(x.softmax(-1), np_softmax(a, -1), rtol=1e-5 if dtype is torch.float32 else 1e-12, atol=1e-9)
    assert_close(x.t().softmax(0), np_softmax(a, -1).T, rtol=1e-5 if dtype is torch.float32 else 1e-12, atol=1e-9)


def test_special_values_in_long_rows():
    a = np.zeros((4, 40), dtype=np.float32)
    a[0, 7] = np.inf
    a[1, :] = -np.inf
    a[2, 20] = np.nan
    a[3, :] = np.linspace(-50, 50, 40)
    a[3, 5] = -np.inf
    got = torch.tensor(a).softmax(1).numpy()
    assert np.isnan(got[:3]).all()
    assert_close(got[3], np.nan_to_num(np_softmax(a[3:], 1)[0]), rtol=1e-5, atol=1e-12)
    assert got[3, 5] == 0
