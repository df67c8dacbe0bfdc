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
    got = torch.tensor(a).softmax(1).cpu().numpy()
    assert np.isnan(got[:3]).all()
    assert_close(got[3], np.nan_to_num(np_softmax(a[3:], 1)[0]), rtol=1e-5, atol=1e-12)
    assert got[3, 5] == 0


# the vector path (CPUs: a contiguous row into a contiguous output, input = compute dtype) and its
# fallbacks: tails shorter than a vector, rows starting at unaligned offsets, other dtypes and layouts
@pytest.mark.parametrize("cols", [1, 7, 8, 9, 2047, 2049, 4100])
def test_row_lengths_around_vector_and_block_sizes(cols):
    a = np.random.default_rng(cols).normal(size=(5, cols)) * 3
    assert_close(torch.tensor(a, dtype=torch.float32).softmax(-1), np_softmax(a, -1), rtol=1e-5, atol=1e-9)
    assert_close(torch.tensor(a, dtype=torch.float32).log_softmax(-1),
                 a - a.max(-1, keepdims=True) - np.log(np.exp(a - a.max(-1, keepdims=True)).sum(-1, keepdims=True)),
                 rtol=1e-5, atol=1e-5)


def test_unaligned_stepped_and_inner_dim_rows():
    a = np.random.default_rng(1).normal(size=(6, 4, 45)) * 3
    x = torch.tensor(a, dtype=torch.float32)
    assert_close(x[1:, :, 3:].softmax(-1), np_softmax(a[1:, :, 3:], -1), rtol=1e-5, atol=1e-9)  # offsets not 8k
    assert_close(x[:, :, ::2].softmax(-1), np_softmax(a[:, :, ::2], -1), rtol=1e-5, atol=1e-9)
    assert_close(x.softmax(1), np_softmax(a, 1), rtol=1e-5, atol=1e-9)
    assert_close(x.permute(2, 0, 1).softmax(0), np_softmax(a, 2).transpose(2, 0, 1), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=lambda d: d.name)
def test_half_outputs_and_inputs(dtype):
    a = np.random.default_rng(2).normal(size=(3, 300)) * 3
    x = torch.tensor(a, dtype=torch.float32)
    tol = 2e-3 if dtype is torch.float16 else 1.6e-2
    got = torch.softmax(x, -1, dtype=dtype)
    assert got.dtype is dtype
    assert_close(got.float(), np_softmax(a, -1), rtol=tol, atol=1e-6)
    h = x.to(dtype)
    assert_close(h.softmax(-1).float(), np_softmax(h.float().cpu().numpy().astype(np.float64), -1), rtol=tol, atol=1e-6)


def test_empty_and_single_element_rows():
    assert torch.zeros(0, 16).softmax(-1).shape == (0, 16)
    assert torch.zeros(4, 0).softmax(-1).shape == (4, 0)
    assert_close(torch.tensor(np.full((3, 1), -7.0, dtype=np.float32)).softmax(-1), np.ones((3, 1)))
