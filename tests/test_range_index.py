"""range as an index: an index list, as PyTorch reads it (getitem, setitem, gradients)."""
import numpy as np
import pytest

import cltensor as torch
from helpers import HAVE_TORCH, assert_close, make_layout, real_torch

GET_CASES = [
    lambda x: x[range(3)],
    lambda x: x[:, range(1, 4)],
    lambda x: x[range(0)],
    lambda x: x[range(3, 0, -1)],
    lambda x: x[range(-1, -4, -2)],
    lambda x: x[range(2), range(2)],
    lambda x: x[(range(2),)],
    lambda x: x[..., range(4, 0, -2)],
    lambda x: x[range(2), 1:3],
]


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("case", range(len(GET_CASES)))
def test_getitem_with_ranges(case, layout):
    array = np.arange(20, dtype=np.float32).reshape(4, 5)
    x = make_layout(array, layout)
    got = GET_CASES[case](x)
    expected = GET_CASES[case](array)
    assert_close(got, expected)
    assert got.dtype == torch.float32
    if HAVE_TORCH:
        theirs = GET_CASES[case](real_torch.tensor(array))
        assert tuple(got.shape) == tuple(theirs.shape)
        np.testing.assert_array_equal(got.cpu().numpy(), theirs.cpu().numpy())


def test_a_range_index_reads_a_copy_not_a_view():
    x = torch.arange(6.0).reshape(2, 3)
    y = x[range(2)]
    y[0, 0] = 100.0
    assert x[0, 0].item() == 0.0


def test_setitem_with_ranges():
    x = torch.zeros(4, 5)
    expected = np.zeros((4, 5), np.float32)
    x[range(2)] = 1.0
    expected[range(2)] = 1.0
    x[:, range(1, 3)] = torch.tensor([7.0, 8.0])
    expected[:, range(1, 3)] = [7.0, 8.0]
    x[range(3, 1, -1), range(2)] = torch.tensor([5.0, 6.0])
    expected[range(3, 1, -1), range(2)] = [5.0, 6.0]
    assert_close(x, expected)


def test_out_of_range_and_legacy_list_of_ranges():
    x = torch.arange(20).reshape(4, 5)
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 0 with size 4"):
        x[range(5)]
    with pytest.warns(UserWarning, match="non-tuple sequence for multidimensional indexing is deprecated"):
        assert x[[range(2), 1]].tolist() == [1, 6]  # read as x[range(2), 1], as PyTorch does


def test_gradient_flows_through_a_range_index():
    x = torch.arange(12.0).reshape(3, 4).requires_grad_()
    x[range(1, 3), range(2)].sum().backward()
    expected = np.zeros((3, 4), np.float32)
    expected[1, 0] = expected[2, 1] = 1.0
    assert_close(x.grad, expected)
