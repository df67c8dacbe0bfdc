"""Memory safety as a contract: a view can only address its storage. Every geometry a user can
build (as_strided sizes, strides and storage offsets, view(dtype), slicing) is checked on the host
against the storage size before any kernel runs, so no kernel reads or writes outside its buffer
whatever the view; kernels then read views through strides. Hostile geometries are swept here
against numpy's reading of the same bytes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cltensor as torch


def _needed(size, stride, offset):
    return 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))


geometries = st.tuples(
    st.integers(0, 12),                                    # storage elements
    st.lists(st.integers(0, 4), min_size=0, max_size=3),   # sizes
    st.lists(st.integers(-2, 5), min_size=3, max_size=3),  # strides (cut to the sizes' length)
    st.integers(-2, 14),                                   # storage offset
)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(geometries)
def test_as_strided_either_raises_or_reads_exactly_its_elements(geometry):
    n, size, strides, offset = geometry
    stride = strides[:len(size)]
    base = np.arange(n, dtype=np.float32)
    x = torch.from_numpy(base.copy())
    valid = min(stride, default=0) >= 0 and offset >= 0 and _needed(size, stride, offset) <= n
    if not valid:
        with pytest.raises(RuntimeError):
            x.as_strided(size, stride, offset)
        return
    view = x.as_strided(size, stride, offset)
    expected = np.lib.stride_tricks.as_strided(base[offset:] if n > offset else base[:0], size,
                                               [s * 4 for s in stride]) if 0 not in size else np.zeros(size)
    np.testing.assert_array_equal(view.numpy(), expected)
    # kernels reading through the view (strided elementwise, reduction) stay inside it too
    np.testing.assert_array_equal((view + 1).numpy(), expected + 1)
    assert view.sum().item() == pytest.approx(float(expected.sum()))


@pytest.mark.parametrize("make", [
    lambda x: x[::-1],
    lambda x: x.as_strided((2,), (-1,)),
    lambda x: x.as_strided((7,), (1,)),
    lambda x: x.as_strided((2, 2), (1, 3), 3),
    lambda x: x[2:].as_strided((5,), (1,)),
    lambda x: x.view(torch.float64)[1:].view(torch.float16).as_strided((13,), (1,)),
])
def test_hostile_views_are_refused_before_any_kernel(make):
    x = torch.arange(6.)
    with pytest.raises((RuntimeError, ValueError)):
        make(x)
    assert x.tolist() == [0., 1., 2., 3., 4., 5.]
