"""Indexing and sorting against numpy float64 references: advanced getitem/setitem, the
gather/scatter and index_* families, masked ops, nonzero, take, sort/topk/kthvalue, unique,
searchsorted and bincount; errors; gradients by finite differences (float64)."""
from __future__ import annotations


import numpy as np
import pytest

import cltensor as torch
from cltensor.autograd import gradcheck
from helpers import (ALL_DTYPES, HAVE_TORCH, LAYOUTS, PRECISE, assert_close, make_layout, needs_fp64,
                     needs_int64_atomics, np_of, random_array, real_torch)

SHAPE = (4, 5, 6)
F64 = pytest.param(torch.float64, marks=needs_fp64, id="torch.float64")
I64_ATOMIC = pytest.param(torch.int64, marks=needs_int64_atomics, id="torch.int64")  # accumulates into int64


def marked(dtypes):
    """dtypes as test parameters: float64 marked needs_fp64 (where the device lacks it, the case must raise)."""
    return [F64 if d is torch.float64 else d for d in dtypes]


def T(a, dtype=None):
    return torch.tensor(np.asarray(a), dtype=dtype)


def make(a, layout):
    """make_layout for any rank: 'transposed' reverses all dims of the memory order."""
    if layout == "transposed" and a.ndim > 2:
        order = tuple(reversed(range(a.ndim)))
        return torch.tensor(np.ascontiguousarray(a.transpose(order))).permute(*order)
    return make_layout(a, layout)


def stepped_index(values):
    """An int64 index tensor with the given values that is not contiguous."""
    arr = np.asarray(values, dtype=np.int64)
    big = np.stack([arr, np.full_like(arr, 99)], axis=-1).reshape(*arr.shape[:-1], -1) if arr.ndim else arr
    t = torch.tensor(big)
    return t[..., ::2] if arr.ndim else t


def to_index(item, layout="contiguous"):
    """numpy index item -> cltensor index item (arrays become tensors, optionally non-contiguous)."""
    if isinstance(item, tuple):
        return tuple(to_index(i, layout) for i in item)
    if isinstance(item, np.ndarray):
        if item.dtype == np.bool_:
            return torch.tensor(item)
        return stepped_index(item) if layout == "stepped" and item.ndim else torch.tensor(item)
    return item


# (id, index built from the array a, numpy reference for a[index] when it differs from numpy's own reading)
GETITEM_CASES = [
    ("dup_negative", lambda a: (np.array([3, 0, -1, 3]),), None),
    ("dim1_2d", lambda a: (slice(None), np.array([[0, 4], [2, 3]])), None),
    ("separated", lambda a: (np.array([0, 2]), slice(None), np.array([1, 5])), None),
    ("ellipsis", lambda a: (Ellipsis, np.array([5, 0])), None),
    ("none_slice", lambda a: (None, np.array([1, 2]), slice(1, 4)), None),
    ("broadcast_pair", lambda a: (np.array([[0], [3]]), np.array([1, 4])), None),
    ("step_then_adjacent", lambda a: (slice(None, None, 2), np.array([1, 4]), np.array([0, -6])), None),
    ("mask_full", lambda a: (a > a.mean(),), None),
    ("mask_leading", lambda a: (a[:, :, 0] > a[:, :, 0].mean(),), None),
    ("mask_dim1", lambda a: (slice(None), np.array([True, False, True, True, False])), None),
    ("list", lambda a: [2, 0], None),
    ("list_dim2", lambda a: (Ellipsis, [1, 3]), None),
    ("empty", lambda a: (np.array([], dtype=np.int64),), None),
    # PyTorch applies an int as select() first, so the tensor stays in place (numpy would move it)
    ("int_then_tensor", lambda a: (1, slice(None), np.array([0, 2])), lambda a: a[1][:, [0, 2]]),
    ("true", lambda a: True, lambda a: a[None]),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", GETITEM_CASES, ids=[c[0] for c in GETITEM_CASES])
def test_getitem_matches_numpy(case, layout):
    _, build, ref = case
    a = random_array(SHAPE, torch.float32)
    x = make(a, layout)
    a = np_of(x)
    index = build(a)
    expected = ref(a) if ref else a[index]
    assert_close(x[to_index(index, layout)], expected)


@pytest.mark.parametrize("dtype", marked(ALL_DTYPES), ids=str)
def test_getitem_and_setitem_dtypes(dtype):
    a = random_array((3, 4), dtype)
    x = T(a)
    assert_close(x[:, T([3, 0, 3])], a[:, [3, 0, 3]])
    mask = random_array((3, 4), torch.bool)
    assert_close(x[T(mask)], a[mask])
    v = random_array((3, 2), dtype)
    x[:, T([1, -1])] = T(v)
    a[:, [1, -1]] = v
    assert_close(x, a)
    x[T(mask)] = 1
    a[mask] = 1
    assert_close(x, a)


SETITEM_CASES = [c for c in GETITEM_CASES if c[0] not in ("dup_negative", "int_then_tensor", "true")]


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "stepped"])
@pytest.mark.parametrize("case", SETITEM_CASES, ids=[c[0] for c in SETITEM_CASES])
def test_setitem_matches_numpy(case, layout):
    _, build, _ = case
    a = random_array(SHAPE, torch.float32)
    x = make(a, layout)
    a = np_of(x)
    index = build(a)
    result_shape = a[index].shape
    v = random_array(result_shape, torch.float32, rng=np.random.default_rng(7))
    x[to_index(index, layout)] = T(v)
    a[index] = v
    assert_close(x, a)
    x[to_index(index, layout)] = -2.5
    a[index] = -2.5
    assert_close(x, a)


def test_setitem_broadcast_value_and_duplicates():
    a = random_array((4, 5), PRECISE)
    x = T(a)
    row = random_array((5,), PRECISE)
    x[T([0, 2])] = T(row)  # value broadcast to the indexing result
    a[[0, 2]] = row
    assert_close(x, a)
    x[[3, 3, 3], [1, 1, 1]] = 7.0  # duplicate indices with a single value: deterministic
    a[3, 1] = 7.0
    assert_close(x, a)
    x[T([1])] = T(row[None, None])  # leading size-1 dims of the value are dropped, as in PyTorch
    a[[1]] = row
    assert_close(x, a)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        x[T([0, 1])] = T(np.ones((3, 5), a.dtype))


def test_setitem_int_then_tensor_like_pytorch():
    a = random_array(SHAPE, torch.float32)
    x = T(a)
    v = random_array((5, 2), torch.float32)
    x[1, :, T([0, 2])] = T(v)
    a[1][:, [0, 2]] = v
    assert_close(x, a)


@pytest.mark.parametrize("dtype", [torch.float32, F64, I64_ATOMIC, torch.float16, torch.int8, torch.bool], ids=str)
def test_index_put_accumulate_sums_duplicates(dtype):
    rng = np.random.default_rng(3)
    a = random_array((6, 3), dtype)
    idx = rng.integers(-6, 6, 200)
    vals = random_array((200, 3), dtype, rng=rng)
    out = T(a).index_put_((T(idx),), T(vals), accumulate=True)
    ref = a.copy()
    np.add.at(ref, idx, vals)
    assert_close(out, ref, rtol=2e-2 if dtype is torch.float16 else None,
                 atol=0.2 if dtype is torch.float16 else None)


def test_index_put_out_of_place():
    x = T(np.zeros(4, np.float32))
    y = torch.index_put(x, (T([0, 0, 1]),), T(np.float32([1.0, 2.0, 3.0])))
    assert_close(y, [2.0, 3.0, 0, 0])
    assert_close(y.index_put((T([2]),), T(np.float32([5.0]))), [2.0, 3.0, 5.0, 0])
    assert_close(x, np.zeros(4))  # out of place leaves its input alone
    with pytest.raises(RuntimeError, match="dtypes match"):
        x.index_put_((T([0]),), T([1]))


def test_float_atomic_sum_is_exact_for_integers():
    n = 20000
    idx = np.random.default_rng(5).integers(0, 3, n)
    out = torch.zeros(3).index_add_(0, T(idx), torch.ones(n))
    assert_close(out, np.bincount(idx, minlength=3).astype(np.float32))


def test_index_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 2"):
        x[T([5])]
    with pytest.raises(IndexError, match="index -4 is out of bounds for dimension 1 with size 3"):
        x[:, T([0, -4])]
    with pytest.raises(IndexError, match="out of bounds"):
        x[[0, 7]] = 1.0
    with pytest.raises(IndexError, match="out of bounds"):
        torch.zeros(0)[T([0])]
    for bad in (T([0.0], torch.float32), T([0], torch.int16), T([0], torch.int8)):
        with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool"):
            x[bad]
    with pytest.raises(IndexError, match="too many indices"):
        x[T([0]), T([0]), T([0])]
    with pytest.raises(IndexError, match="shape of the mask"):
        x[T([True, False, True])]
    with pytest.raises(IndexError, match="shape mismatch"):
        x[T([0, 1]), T([0, 1, 2])]
    with pytest.raises(IndexError):
        x[[0.5]]
    assert x[T([1], torch.int32)].shape == (1, 3)
    with pytest.warns(UserWarning, match="uint8"):
        assert x[T([1, 0], torch.uint8)].shape == (1, 3)
    with pytest.raises(RuntimeError):
        torch.zeros(3).expand(2, 3)[T([0])] = 1.0  # overlapping memory cannot be written


def test_zero_dim_and_empty():
    s = T(np.float32(4.0))
    assert_close(s[True], np.array([4.0], np.float32))
    assert s[False].shape == (0,)
    assert_close(s[T(True)], np.array([4.0], np.float32))
    e = torch.zeros(0, 3)
    assert e[T([], torch.int64)].shape == (0, 3)
    assert e[e > 0].shape == (0,)
    x = torch.zeros(2, 3)
    assert x[:, T(np.zeros(0, np.int64))].shape == (2, 0)
    x[T(np.zeros((2, 3), bool))] = 1.0
    assert_close(x, np.zeros((2, 3)))


@pytest.mark.skipif(not HAVE_TORCH, reason="compares result shapes with PyTorch when it is installed")
def test_placement_matches_pytorch():
    a = np.arange(120.0, dtype=np.float32).reshape(2, 3, 4, 5)  # float32: what is tested is placement
    cases = [(0, slice(None), [0, 1]), ([0, 1], slice(None), 0), (slice(None), [0, 1], None, [1, 2]),
             (None, [0, 1], slice(None), [1]), (Ellipsis, [0, 1], None), ([[0], [1]], slice(None), [0, 2], 1),
             (slice(None), 0, [[1, 2]], slice(None))]
    for index in cases:
        ours = T(a)[index]
        theirs = real_torch.tensor(a)[index]
        assert tuple(ours.shape) == tuple(theirs.shape), index
        assert_close(ours, theirs.numpy())


# ---- index_select / index_add / index_copy / index_fill ---------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select(dim, layout):
    a = random_array((4, 5, 3), torch.float32)
    x = make(a, layout)
    a = np_of(x)
    idx = np.array([2, 0, -1, 2])
    n = a.shape[dim]
    assert_close(torch.index_select(x, dim, to_index(idx, "stepped")), np.take(a, idx % n, axis=dim))
    assert_close(x.index_select(dim, T(idx[:1].reshape(()))), np.take(a, idx[:1] % n, axis=dim))


def test_index_select_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 1 with size 3"):
        x.index_select(1, T([3]))
    with pytest.raises(RuntimeError, match="int32 or int64|int32/int64"):
        x.index_select(0, T([0.0], torch.float32))
    with pytest.raises(IndexError, match="vector"):
        x.index_select(0, T([[0]]))


@pytest.mark.parametrize("dtype", [torch.float32, F64, torch.int32, I64_ATOMIC, torch.int16, torch.float16], ids=str)
def test_index_add(dtype):
    a = random_array((5, 4), dtype)
    src = random_array((3, 4), dtype, rng=np.random.default_rng(9))
    idx = np.array([4, 0, 4])
    ref = a.copy()
    np.add.at(ref, idx, src * 2)
    assert_close(torch.index_add(T(a), 0, T(idx), T(src), alpha=2), ref)


@pytest.mark.parametrize("dtype", marked([torch.float32, torch.float64, torch.int32, torch.int64, torch.int16,
                                          torch.float16]), ids=str)
def test_index_copy_fill(dtype):
    a = random_array((5, 4), dtype)
    srcT = random_array((5, 2), dtype)
    ref = a.copy()
    ref[:, [3, 1]] = srcT
    assert_close(T(a).index_copy(1, T([3, 1]), T(srcT)), ref)
    ref = a.copy()
    ref[:, [0, -1]] = 3
    assert_close(T(a).index_fill_(1, T([0, -1]), 3), ref)
    ref[[1, 2]] = 1
    assert_close(T(ref).index_fill(0, T([1, 2]), T(np.array(1, dtype=a.dtype))), ref)


def test_index_add_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError, match="index 5 is out of bounds"):
        x.index_add_(0, T([5]), torch.ones(1, 3))
    with pytest.raises(RuntimeError, match="same scalar type"):
        x.index_add(0, T([0]), torch.ones(1, 3, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="source"):
        x.index_add(0, T([0, 1]), torch.ones(3, 3))
    with pytest.raises(RuntimeError, match="0-dimensional"):
        x.index_fill(0, T([0]), torch.ones(2))


# ---- gather / scatter family -----------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather_matches_take_along_axis(dim, layout):
    rng = np.random.default_rng(11)
    a = random_array((4, 5, 3), PRECISE)
    x = make(a, layout)
    a = np_of(x)
    shape = list(a.shape)
    shape[dim] = 7
    idx = rng.integers(-a.shape[dim], a.shape[dim], shape)
    got = torch.gather(x, dim, to_index(idx, "stepped" if layout == "stepped" else "contiguous"))
    assert_close(got, np.take_along_axis(a, idx % a.shape[dim], axis=dim))
    small = idx[:2, :3, :2] % min(a.shape)  # an index smaller than the input in other dims
    assert_close(x.gather(dim, T(small)), _gather_ref(a, dim, small))
    assert_close(torch.take_along_dim(x, T(idx), dim), np.take_along_axis(a, idx % a.shape[dim], axis=dim))


def _gather_ref(a, dim, idx):
    out = np.empty(idx.shape, a.dtype)
    for pos in np.ndindex(*idx.shape):
        src = list(pos)
        src[dim] = idx[pos]
        out[pos] = a[tuple(src)]
    return out


def _scatter_ref(a, dim, idx, src, combine=None):
    out = a.copy()
    for pos in np.ndindex(*idx.shape):
        dst = list(pos)
        dst[dim] = idx[pos]
        dst = tuple(dst)
        value = src[pos] if isinstance(src, np.ndarray) else src
        out[dst] = value if combine is None else combine(out[dst], value)
    return out


@pytest.mark.parametrize("dim", [0, -1])
def test_scatter_family(dim):
    rng = np.random.default_rng(12)
    a = random_array((4, 5), PRECISE)
    src = random_array((4, 5), PRECISE, rng=rng)
    perm = np.argsort(rng.random((4, 5)), axis=dim)[:3] if dim == 0 else np.argsort(rng.random((4, 5)), axis=1)[:, :3]
    srcT = make_layout(src, "transposed")
    assert_close(torch.scatter(T(a), dim, T(perm), srcT), _scatter_ref(a, dim % 2, perm, src))
    np.put_along_axis(ref := a.copy(), perm, 9.0, axis=dim)
    assert_close(T(a).scatter(dim, T(perm), 9.0), ref)
    assert_close(T(a).scatter_(dim, T(perm), value=9.0), ref)
    dup = rng.integers(0, a.shape[dim], (4, 5))
    assert_close(T(a).scatter_add(dim, T(dup), T(src)), _scatter_ref(a, dim % 2, dup, src, np.add))
    assert_close(T(a).scatter(dim, T(dup), T(src), reduce="multiply"), _scatter_ref(a, dim % 2, dup, src, np.multiply))
    assert_close(T(a).scatter_(dim, T(dup), 2.0, reduce="add"), _scatter_ref(a, dim % 2, dup, 2.0, np.add))


REDUCERS = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}


@pytest.mark.parametrize("reduce", list(REDUCERS))
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    rng = np.random.default_rng(13)
    a = random_array((3, 6), PRECISE)
    src = random_array((3, 4), PRECISE, rng=rng)
    idx = rng.integers(0, 6, (3, 4))
    got = T(a).scatter_reduce(1, T(idx), T(src), reduce, include_self=include_self)
    expected = a.copy()
    for r in range(3):
        for c in range(6):
            picked = list(src[r][idx[r] == c])
            if not picked:
                continue
            vals = picked + ([a[r, c]] if include_self else [])
            expected[r, c] = REDUCERS[reduce](vals)
    assert_close(got, expected)


@needs_int64_atomics  # the sums and counts accumulate into int64
def test_scatter_reduce_integer_mean():
    ints = T(np.arange(6)).scatter_reduce(0, T([0, 0, 5]), T([3, 4, 1]), "mean")
    assert ints.tolist() == [2, 1, 2, 3, 4, 3]  # integer mean rounds down


def test_scatter_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(RuntimeError, match="index 5 is out of bounds for dimension 1 with size 3"):
        x.scatter(1, T([[5]]), 1.0)
    with pytest.raises(IndexError, match="out of bounds"):
        x.gather(1, T([[3]]))
    with pytest.raises(RuntimeError, match="int32/int64"):
        x.gather(1, T([[0.0]], torch.float32))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, T([0]))
    with pytest.raises(RuntimeError, match="no larger than self"):
        x.gather(1, T([[0], [1], [1]]))
    with pytest.raises(RuntimeError, match="src.dtype"):
        x.scatter(1, T([[0]]), torch.ones(1, 1, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="no larger size than src"):
        x.scatter(1, T([[0, 1]]), torch.ones(1, 1))


# ---- take / put / masks / nonzero -------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
def test_take_and_put(layout):
    a = random_array((3, 4), torch.float32)
    x = make(a, layout)
    a = np_of(x)
    idx = np.array([[11, 0], [-1, 5]])
    assert_close(torch.take(x, to_index(idx, "stepped")), np.take(a, idx))
    with pytest.raises(IndexError, match="out of range: tried to access index 12 on a tensor of 12 elements"):
        x.take(T([12]))
    if layout != "expanded":
        y = x.clone() if layout == "contiguous" else x
        ref = a.copy()
        np.put(ref, [1, 6], [5.0, 6.0])
        assert_close(y.put_(T([1, 6]), T(np.float32([5.0, 6.0]))), ref)


@pytest.mark.parametrize("dtype", marked(ALL_DTYPES), ids=str)
def test_masked_ops(dtype):
    a = random_array((3, 4), dtype)
    mask = random_array((3, 4), torch.bool)
    row_mask = np.array([True, False, False, True])
    assert_close(T(a).masked_fill(T(mask), 1), np.where(mask, np.array(1).astype(a.dtype), a))
    zero = T(np.array(0).astype(a.dtype))
    assert_close(T(a).masked_fill(T(row_mask), zero), np.where(row_mask, 0, a).astype(a.dtype))
    assert_close(torch.masked_select(T(a), T(mask)), a[mask])
    assert_close(T(a).masked_select(T(row_mask)), a[np.broadcast_to(row_mask, (3, 4))])
    src = random_array((12,), dtype, rng=np.random.default_rng(2))
    ref = a.copy()
    ref[mask] = src[:mask.sum()]
    assert_close(T(a).masked_scatter(T(mask), T(src)), ref)


def test_masked_errors_and_broadcast():
    x = torch.zeros(3)
    assert torch.masked_fill(x, T([[True], [False]]), 1.0).shape == (2, 3)
    with pytest.raises(RuntimeError, match="boolean masks"):
        x.masked_fill(T([1, 0, 1]), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        x.masked_fill(T([True, False, True]), T([1.0, 2.0], torch.float32))
    with pytest.raises(RuntimeError, match="BoolTensor"):
        x.masked_select(T([1, 0, 1]))
    with pytest.raises(RuntimeError, match="source < number of ones"):
        x.masked_scatter(T([True, False, True]), torch.ones(1))
    with pytest.raises(RuntimeError, match="without overflow"):
        torch.zeros(2, dtype=torch.uint8).masked_fill(T([True, False]), 300)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [torch.bool, torch.float16, torch.int32, F64], ids=str)
def test_nonzero(dtype, layout):
    a = random_array((4, 3, 5), dtype, low=-1, high=1)
    if dtype.is_floating_point:
        a[a < 0.3] = 0
        a[0, 0, 0] = np.nan  # NaN counts as nonzero
    x = make(a, layout)
    a = np_of(x)
    assert_close(torch.nonzero(x), np.argwhere(a))
    assert_close(torch.argwhere(x), np.argwhere(a))
    for got, expected in zip(x.nonzero(as_tuple=True), np.nonzero(a)):
        assert_close(got, expected)
    for got, expected in zip(torch.where(x != 0), np.nonzero(a)):
        assert_close(got, expected)


def test_nonzero_edge_cases():
    assert torch.nonzero(T(5.0, torch.float32)).shape == (1, 0)
    assert torch.nonzero(T(0.0, torch.float32)).shape == (0, 0)
    assert_close(torch.nonzero(T(5.0, torch.float32), as_tuple=True)[0], np.array([0]))
    assert torch.nonzero(torch.zeros(0, 3)).shape == (0, 2)
    big = np.random.default_rng(4).random(100_003) > 0.7  # several scan blocks
    assert_close(torch.nonzero(T(big)), np.argwhere(big))


# ---- sorting -----------------------------------------------------------------------------------------------
def _stable_order(a, descending):
    """Reference stable order along the last axis with NaN last (first when descending)."""
    def key(row):
        def k(i):
            v = row[i]
            nan = isinstance(v, (float, np.floating)) and np.isnan(v)
            if descending:
                return (0 if nan else 1, 0 if nan else -float(v), i)
            return (1 if nan else 0, 0 if nan else float(v), i)
        return sorted(range(len(row)), key=k)
    return np.array([key(row) for row in a.reshape(-1, a.shape[-1])], dtype=np.int64).reshape(a.shape)


@pytest.mark.parametrize("dtype", marked([torch.float32, torch.float64, torch.float16, torch.int64, torch.int8,
                                          torch.uint8, torch.bool]), ids=str)
def test_sort_dtypes_stable(dtype):
    a = random_array((3, 37), dtype, low=-4, high=4)
    if dtype.is_floating_point:
        a = np.round(a)  # many ties
        a[1, 5] = a[1, 9] = np.nan
    values, indices = torch.sort(T(a))
    order = _stable_order(a, False)
    assert_close(indices, order)
    assert_close(values, np.take_along_axis(a, order, -1))
    assert_close(torch.argsort(T(a), descending=True), _stable_order(a, True))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sort_layouts_and_dims(layout):
    a = np.round(random_array((6, 5, 4), torch.float32, low=-3, high=3))
    x = make(a, layout)
    a = np_of(x)
    for dim in (0, 1, -1):
        values, indices = x.sort(dim=dim, descending=dim == 1, stable=True)
        order = np.moveaxis(_stable_order(np.moveaxis(a, dim, -1), dim == 1), -1, dim)
        assert_close(indices, order)
        assert_close(values, np.take_along_axis(a, order, dim))
        assert values.is_contiguous() and indices.is_contiguous()


def test_sort_long_rows_and_edges():
    rng = np.random.default_rng(21)
    for n in (513, 1000, 4096 + 3):  # longer than one local tile: global stages + tile merges
        a = rng.integers(0, 100, (2, n)).astype(np.float32)
        assert_close(torch.sort(T(a)).indices, np.argsort(a, axis=-1, kind="stable"))
    v, i = torch.sort(T(np.float32(3.0)))
    assert v.shape == () and i.item() == 0
    v, i = torch.sort(torch.zeros(0, 4), dim=0)
    assert v.shape == (0, 4) and i.dtype == torch.int64
    assert_close(torch.msort(T(np.array([[3, 1], [1, 2]]))), np.array([[1, 1], [3, 2]]))
    p = torch.randperm(1000)
    assert sorted(p.tolist()) == list(range(1000))
    with pytest.raises(IndexError):
        torch.zeros(3).sort(dim=1)


def test_topk_and_kthvalue():
    a = random_array((4, 9), PRECISE)
    v, i = torch.topk(T(a), 3)
    order = np.argsort(-a, axis=-1, kind="stable")[:, :3]
    assert_close(i, order)
    assert_close(v, np.take_along_axis(a, order, -1))
    v, i = T(a).topk(2, dim=0, largest=False)
    assert_close(v, np.sort(a, axis=0)[:2])
    v, i = torch.kthvalue(T(a), 4, dim=1)
    assert_close(v, np.sort(a, axis=1)[:, 3])
    assert_close(T(a).gather(1, i.unsqueeze(1)).squeeze(1), np.sort(a, axis=1)[:, 3])
    v, i = T(a).kthvalue(2, dim=0, keepdim=True)
    assert v.shape == (1, 9) and i.shape == (1, 9)
    assert_close(v, np.sort(a, axis=0)[1:2])
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        torch.topk(T(a), 10)
    with pytest.raises(RuntimeError, match="k out of range"):
        torch.kthvalue(T(a), 0)


# return_counts takes run lengths from the run starts: no atomics, so every device counts
COUNTS = [pytest.param(False, id="no_counts"), pytest.param(True, id="counts")]


@pytest.mark.parametrize("counts", COUNTS)
@pytest.mark.parametrize("dtype", [torch.int64, torch.float32, torch.bool], ids=str)
def test_unique(dtype, counts):
    a = random_array((5, 7), dtype, low=-3, high=3)
    if dtype.is_floating_point:
        a = np.round(a)
    got = torch.unique(T(a), return_inverse=True, return_counts=counts)
    ev, ei, ec = np.unique(a, return_inverse=True, return_counts=True)
    assert_close(got[0], ev)
    assert_close(got[1], ei.reshape(a.shape))
    if counts:
        assert_close(got[2], ec)
    assert_close(T(a).unique(), ev)
    empty = torch.unique(torch.zeros(0, dtype=torch.int64), return_counts=counts)
    if counts:
        assert empty[0].shape == (0,) and empty[1].shape == (0,)
    else:
        assert empty.shape == (0,)


@pytest.mark.parametrize("counts", COUNTS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unique_dim(dim, counts):
    a = np.random.default_rng(17).integers(0, 2, (6, 3, 4))
    a[3] = a[0]
    a[:, 2] = a[:, 0]
    got = torch.unique(T(a), dim=dim, return_inverse=True, return_counts=counts)
    ev, ei, ec = np.unique(a, axis=dim, return_inverse=True, return_counts=True)
    assert_close(got[0], ev)
    assert_close(got[1], ei.reshape(-1))
    if counts:
        assert_close(got[2], ec)
    assert_close(torch.unique_consecutive(T(np.repeat(a, 2, axis=dim)), dim=dim), a)


@pytest.mark.parametrize("counts", COUNTS)
def test_unique_consecutive(counts):
    a = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    got = torch.unique_consecutive(T(a), return_inverse=True, return_counts=counts)
    assert got[0].tolist() == [1, 2, 3, 1, 2]
    assert got[1].tolist() == [0, 0, 1, 1, 2, 3, 3, 4]
    if counts:
        assert got[2].tolist() == [2, 2, 1, 2, 1]


def test_searchsorted_and_bucketize():
    seq = np.sort(random_array((9,), PRECISE))
    seq[3] = seq[4]  # a tie
    vals = random_array((3, 4), PRECISE, rng=np.random.default_rng(8))
    vals[0, 0] = seq[3]
    for side in ("left", "right"):
        assert_close(torch.searchsorted(T(seq), T(vals), side=side), np.searchsorted(seq, vals, side=side))
        assert_close(torch.searchsorted(T(seq), T(vals), right=side == "right"),
                     np.searchsorted(seq, vals, side=side))
    rows = np.sort(random_array((3, 6), torch.float32), axis=1)
    got = torch.searchsorted(T(rows), T(vals.astype(np.float32)), out_int32=True)
    assert got.dtype == torch.int32
    assert_close(got, np.stack([np.searchsorted(rows[r], vals[r].astype(np.float32)) for r in range(3)]))
    assert torch.searchsorted(T(seq), 0.0).shape == ()
    assert_close(torch.bucketize(T(vals), T(seq), right=True), np.searchsorted(seq, vals, side="right"))
    perm = np.random.default_rng(1).permutation(9)
    assert_close(torch.searchsorted(T(seq[perm]), T(vals), sorter=T(np.argsort(perm))), np.searchsorted(seq, vals))
    nan = float("nan")
    assert torch.searchsorted(T([1.0, 2.0, nan], PRECISE), T([nan, 3.0, 0.0], PRECISE)).tolist() == [3, 3, 0]
    with pytest.raises(RuntimeError, match="side and right"):
        torch.searchsorted(T(seq), T(vals), side="left", right=True)
    with pytest.raises(RuntimeError, match="boundaries tensor"):
        torch.searchsorted(T(rows), T(vals[:2]))


def _bincount_input():
    rng = np.random.default_rng(6)
    return rng.integers(0, 7, 50), rng.random(50)


@needs_int64_atomics  # the counts accumulate into int64
def test_bincount():
    x, _ = _bincount_input()
    assert_close(torch.bincount(T(x)), np.bincount(x))
    assert_close(torch.bincount(T(x), minlength=10), np.bincount(x, minlength=10))
    assert_close(torch.bincount(T(np.zeros(0, np.int64)), minlength=3), np.zeros(3, np.int64))
    assert_close(T(x.astype(np.int32)).bincount(), np.bincount(x))


def test_bincount_float32_weights_and_errors():
    x, w = _bincount_input()
    got = torch.bincount(T(x), weights=T(w.astype(np.float32)))
    assert got.dtype == torch.float32
    assert_close(got, np.bincount(x, weights=w.astype(np.float32)))
    with pytest.raises(RuntimeError, match="non-negative"):
        torch.bincount(T([-1, 2]))
    with pytest.raises(RuntimeError, match="1-d"):
        torch.bincount(T([[1]]))


@needs_fp64
def test_bincount_float64_weights():
    x, w = _bincount_input()
    got = torch.bincount(T(x), weights=T(w))
    assert got.dtype == torch.float64
    assert_close(got, np.bincount(x, weights=w))


# ---- gradients ---------------------------------------------------------------------------------------------------
def leaf(shape, seed=0, dtype=torch.float64):
    return torch.tensor(np.random.default_rng(seed).uniform(-1, 1, shape), dtype=dtype, requires_grad=True)


def test_grad_fn_names():
    x = leaf((3, 4), dtype=PRECISE)
    i = T([2, 0, 2])
    assert type(x[i].grad_fn).__name__ == "IndexBackward0"
    assert type(x.index_select(0, i).grad_fn).__name__ == "IndexSelectBackward0"
    assert type(x.gather(0, T([[0, 1, 2, 0]])).grad_fn).__name__ == "GatherBackward0"
    assert type(x.sort().values.grad_fn).__name__ == "SortBackward0"
    assert type(x.topk(2).values.grad_fn).__name__ == "TopkBackward0"
    assert type(x.take(i).grad_fn).__name__ == "TakeBackward0"
    assert type(x.masked_select(x > 0).grad_fn).__name__ == "MaskedSelectBackward0"
    assert type(x.masked_fill(x > 0, 0.0).grad_fn).__name__ == "MaskedFillBackward0"
    assert type(x.index_add(0, i, torch.ones(3, 4, dtype=PRECISE)).grad_fn).__name__ == "IndexAddBackward0"
    assert type(x.scatter(0, T([[0, 1, 2, 0]]), 1.0).grad_fn).__name__ == "ScatterBackward1"
    assert type(x.scatter_add(0, T([[0, 1, 2, 0]]), x).grad_fn).__name__ == "ScatterAddBackward0"
    assert type(torch.index_put(x, (i,), T(1.0, PRECISE)).grad_fn).__name__ == "IndexPutBackward0"
    h = x * 2
    h[h < 0] = 0  # a seed tutorial's ReLU backward
    assert type(h.grad_fn).__name__ == "MaskedFillBackward0"
    h[:, [0, 1]] = 1.0
    assert type(h.grad_fn).__name__ == "IndexPutBackward0"
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[[0]] = 1.0


GRAD_CASES = [
    ("getitem", lambda x: x[T([2, 0, 2]), 1:]),
    ("getitem_separated", lambda x: x[T([0, 2]), :, T([1, 1])]),
    ("getitem_mask", lambda x: x[T(np.arange(24).reshape(3, 4, 2) % 3 == 0)]),
    ("index_select", lambda x: x.index_select(1, T([3, 0, 3]))),
    ("gather", lambda x: x.gather(2, T(np.array([[[1, 1, 0]] * 4] * 3)))),
    ("take", lambda x: x.take(T([[5, 5], [-1, 0]]))),
    ("masked_select", lambda x: x.masked_select(T(np.array([True, False, True, True]))[:, None])),
    ("masked_fill", lambda x: x.masked_fill(T(np.arange(24).reshape(3, 4, 2) % 2 == 0), 0.5)),
    ("sort", lambda x: x.sort(dim=1, descending=True).values),
    ("topk", lambda x: x.topk(2, dim=0).values),
    ("kthvalue", lambda x: x.kthvalue(2, dim=1).values),
    ("index_add", lambda x: x.index_add(0, T([0, 0]), x[:2] * 3, alpha=0.5)),
    ("index_copy", lambda x: x.index_copy(1, T([2, 0]), x[:, 1:3] ** 2)),
    ("index_fill", lambda x: x.index_fill(2, T([1]), -1.0)),
    ("scatter", lambda x: x.scatter(1, T(np.array([[[0, 1], [2, 3]]] * 3)), x[:, :2, :] * 2)),
    ("scatter_add", lambda x: x.scatter_add(1, T(np.zeros((3, 2, 2), np.int64)), x[:, 1:3] * 2)),
    ("scatter_reduce_amax", lambda x: x.scatter_reduce(1, T(np.array([[[0, 3]] * 4] * 3)), x * 1.5, "amax")),
    ("scatter_reduce_mean", lambda x: x.scatter_reduce(1, T(np.zeros((3, 4, 2), np.int64)), x * 2, "mean",
                                                       include_self=False)),
    ("index_put_accumulate", lambda x: torch.index_put(x, (T([1, 1]),), x[0] * 2, accumulate=True)),
    ("masked_scatter", lambda x: x.masked_scatter(T(np.arange(24).reshape(3, 4, 2) % 5 == 0), x * 3)),
]


@needs_fp64  # finite differences need float64
@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradcheck(case):
    x = leaf((3, 4, 2))
    assert gradcheck(case[1], (x,))


@needs_fp64
def test_setitem_gradients():
    def fn(x, v):
        h = x * 1.0
        h[T([0, 2]), 1] = v * 2  # IndexPutBackward0 through a basic view of h
        h[h > 0.5] = 0.0
        return h
    assert gradcheck(fn, (leaf((3, 4)), leaf((2,), seed=1)))

    def on_view(x):
        h = x * 1.0
        row = h[1]
        row[T([0, 3])] = row[T([1, 2])] * 3  # in place on a view: the base's history goes through CopySlices
        return h
    assert gradcheck(on_view, (leaf((3, 4)),))


@needs_fp64
def test_second_order_gradients():
    from cltensor.autograd.gradcheck import gradgradcheck
    x = leaf((3, 4))
    assert gradgradcheck(lambda x: x[T([2, 0, 2])] ** 2, (x,))
    assert gradgradcheck(lambda x: x.gather(1, T([[0, 0], [1, 3], [2, 2]])) ** 2, (x,))
    assert gradgradcheck(lambda x: torch.index_put(x * x, (T([1, 1]),), x[0] ** 2, accumulate=True), (x,))


def test_int32_index_tensors():
    # negative int32 indices: Mesa 22.3's llvmpipe (rusticl) never wrapped them ((long)i < 0 miscompiled)
    a = random_array((4, 5), torch.float32)
    i32 = T(np.array([3, -1, 0]), torch.int32)
    assert_close(T(a)[i32], a[[3, -1, 0]])
    assert_close(T(a).index_select(1, i32), a[:, [3, -1, 0]])
    assert_close(T(a).gather(1, T(np.array([[4], [0], [1], [2]]), torch.int32)), a[np.arange(4), [4, 0, 1, 2]][:, None])
    assert_close(torch.zeros(4).index_add(0, i32, torch.ones(3)), np.array([1.0, 0, 0, 2.0]))


def test_relu_backward_like_the_tutorial():
    x = leaf((5, 6), dtype=PRECISE)
    h = x * 1.0
    grad_h = torch.ones(5, 6, dtype=PRECISE)
    grad_h[h < 0] = 0
    assert_close(grad_h, (np_of(x) >= 0).astype(np.float64))


def test_index_mask_and_source_tensors_on_another_device_raise():
    """As PyTorch on a GPU: the index, mask, source and target tensors of these ops must be on the
    input's device (no hidden copy, which is a host read inside a compiled step); indexing with x[i]
    and 0-d values may come from anywhere."""
    w = torch.randn(5, 3, device="cl:0")
    idx = torch.tensor([1, 2], device="cpu")
    mask = torch.ones(5, 3, dtype=torch.bool, device="cpu")
    calls = {
        "index_select": lambda: torch.index_select(w, 0, idx),
        "embedding": lambda: torch.nn.functional.embedding(idx, w),
        "gather": lambda: w.gather(0, idx[:, None].expand(2, 3)),
        "scatter": lambda: w.scatter(0, idx[:, None].expand(2, 3).to("cl:0"), torch.ones(2, 3, device="cpu")),
        "scatter_add": lambda: w.scatter_add(0, idx[:, None].expand(2, 3), w[:2]),
        "index_add": lambda: w.index_add(0, idx, w[:2]),
        "index_copy": lambda: w.index_copy(0, idx.to("cl:0"), torch.ones(2, 3, device="cpu")),
        "take": lambda: w.take(idx),
        "put_": lambda: w.clone().put_(idx, torch.ones(2, device="cl:0")),
        "masked_fill": lambda: w.masked_fill(mask, 0.0),
        "masked_select": lambda: w.masked_select(mask),
        "masked_scatter": lambda: w.masked_scatter(mask.to("cl:0"), torch.ones(15, device="cpu")),
        "cross_entropy": lambda: torch.nn.functional.cross_entropy(w[:2], idx),
        "nll_loss": lambda: torch.nn.functional.nll_loss(w[:2], idx),
        "searchsorted": lambda: torch.searchsorted(torch.arange(5.0, device="cl:0"), torch.tensor([1.5], device="cpu")),
    }
    for name, call in calls.items():
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device, but found at least "
                                               "two devices, cl:0 and cpu"):
            call()
    assert w[idx].device == w.device and w[idx].tolist() == w.cpu()[idx].tolist()
    filled = w.masked_fill(mask.to("cl:0"), torch.tensor(2.0, device="cpu"))
    assert filled.device == w.device and filled.cpu().unique().tolist() == [2.0]
