"""Joins and layout ops (cltensor/ops/joins.py) against numpy: cat/stack families, splits, flip/roll,
repeat/tile/repeat_interleave, tril/triu, diag/diag_embed/trace and meshgrid, over dtypes, non-contiguous
layouts, 0-d and empty tensors, negative dims, PyTorch's errors, and gradients (finite differences)."""
import warnings

import numpy as np
import pytest

import cltensor as torch
from cltensor.autograd import gradcheck
from helpers import LAYOUTS, PRECISE, assert_close, layout_case, needs_fp64, np_of, random_array

F64 = pytest.param(torch.float64, marks=needs_fp64)
DTYPES = [torch.bool, torch.int32, torch.int64, torch.float16, torch.float32, F64]
RNG = np.random.default_rng(7)


def case(shape, dtype, layout="contiguous"):
    """(tensor, numpy reference) with the given layout; 'transposed' of >2-D arrays moves dim 0 last in memory."""
    array = random_array(shape, dtype, rng=RNG)
    if layout == "transposed" and array.ndim > 2:
        t = torch.tensor(np.ascontiguousarray(np.moveaxis(array, 0, -1))).movedim(-1, 0)
        assert not t.is_contiguous()
        return t, array
    return layout_case(array, layout)


def leaf(*shape, dtype=torch.float64):
    return torch.tensor(RNG.uniform(-2, 2, shape), dtype=dtype, requires_grad=True)


# ---- cat and stack -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cat_dtypes_layouts(dtype, layout):
    a, ra = case((3, 4), dtype, layout)
    b, rb = case((3, 2), dtype)
    c, rc = case((2, 4), dtype, layout)
    out = torch.cat([a, b], dim=-1)
    assert out.dtype is dtype and out.is_contiguous()
    assert_close(out, np.concatenate([ra, rb], axis=1))
    assert_close(torch.cat((a, c, a)), np.concatenate([ra, rc, ra], axis=0))
    assert_close(torch.concat([a, b], 1), np.concatenate([ra, rb], axis=1))
    assert_close(torch.concatenate([a, c], axis=0), np.concatenate([ra, rc]))


@pytest.mark.parametrize("da, db", [(torch.bool, torch.uint8), (torch.int64, torch.float16),
                                    pytest.param(torch.int32, torch.float64, marks=needs_fp64),
                                    (torch.bool, torch.float32),
                                    (torch.int8, torch.int64)])
def test_cat_promotes(da, db):
    a, ra = case((2, 3), da)
    b, rb = case((1, 3), db)
    out = torch.cat([a, b])
    assert out.dtype is torch.promote_types(da, db)
    assert_close(out, np.concatenate([ra.astype(np.float64), rb.astype(np.float64)]).astype(out.dtype.np))


def test_cat_skips_legacy_empty_and_keeps_other_empties():
    x, rx = case((2, 3), torch.float32)
    n, rn = case((2, 3), torch.int32)
    out = torch.cat([torch.zeros(0, dtype=torch.float16), n, torch.tensor([], dtype=torch.int64)], dim=1)
    assert out.dtype is torch.float16  # the skipped tensors still take part in the promotion
    assert_close(out, rn)
    assert torch.cat([torch.zeros(0), torch.zeros(0)]).shape == (0,)
    assert_close(torch.cat([torch.zeros(0, 3), x]), rx)
    assert torch.cat([torch.zeros(2, 0), torch.zeros(2, 0)], 1).shape == (2, 0)
    assert torch.cat([x[:, :0], x[:, :0]]).shape == (4, 0)


def test_cat_out_and_big_inputs():
    x, rx = case((5, 3), torch.int64)
    out = torch.empty(10, 3, dtype=torch.float32)
    r = torch.cat([x, x], out=out)
    assert r is out and out.dtype is torch.float32
    assert_close(out, np.concatenate([rx, rx]).astype(np.float32))
    with pytest.warns(UserWarning, match="resized"):
        small = torch.zeros(1, dtype=torch.int64)
        torch.cat([x, x], 1, out=small)
    assert_close(small, np.concatenate([rx, rx], 1))
    big = torch.arange(300000).reshape(3, -1)
    assert_close(torch.cat([big, big], 1)[:, -3:], np_of(big)[:, -3:])


def _raises(exc, match, fn):
    with pytest.raises(exc, match=match):
        fn()


ERRORS = {
    "cat empty": (ValueError, r"torch\.cat\(\): expected a non-empty list of Tensors", lambda: torch.cat([])),
    "cat tensor": (TypeError, r"must be tuple of Tensors, not Tensor", lambda: torch.cat(torch.zeros(2))),
    "cat element": (TypeError, r"expected Tensor as element 1 in argument 0, but got int",
                    lambda: torch.cat([torch.zeros(2), 3])),
    "cat sizes": (RuntimeError, r"^Sizes of tensors must match except in dimension 1\. Expected size 2 but got size 3 "
                                r"for tensor number 1 in the list\.$",
                  lambda: torch.cat([torch.zeros(2, 2), torch.zeros(3, 2)], 1)),
    "cat ndim": (RuntimeError, r"Tensors must have same number of dimensions: got 2 and 1",
                 lambda: torch.cat([torch.zeros(2, 2), torch.zeros(2)])),
    "cat 0-d": (RuntimeError, r"zero-dimensional tensor \(at position 1\) cannot be concatenated",
                lambda: torch.cat([torch.zeros(2), torch.tensor(1.0)])),
    "cat dim": (IndexError, r"Dimension out of range \(expected to be in range of \[-2, 1\], but got -3\)",
                lambda: torch.cat([torch.zeros(2, 2)] * 2, -3)),
    "cat out cast": (TypeError, r"can't be cast to the desired output type Long",
                     lambda: torch.cat([torch.zeros(2)], out=torch.zeros(2, dtype=torch.int64))),
    "stack empty": (RuntimeError, r"stack expects a non-empty TensorList", lambda: torch.stack([])),
    "stack sizes": (RuntimeError, r"stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 and "
                                  r"\[2, 4\] at entry 1", lambda: torch.stack([torch.zeros(2, 3), torch.zeros(2, 4)])),
    "stack dim": (IndexError, r"expected to be in range of \[-3, 2\], but got 3",
                  lambda: torch.stack([torch.zeros(2, 3)] * 2, 3)),
    "hstack empty": (RuntimeError, r"hstack expects a non-empty TensorList", lambda: torch.hstack([])),
    "split negative": (RuntimeError, r"split expects split_size be non-negative, but got split_size=-1",
                       lambda: torch.zeros(2, 3).split(-1)),
    "split zero": (RuntimeError, r"split_size can only be 0 if dimension size is 0, but got dimension size of 2",
                   lambda: torch.zeros(2, 3).split(0)),
    "split sum": (RuntimeError, r"split_with_sizes expects split_sizes to sum exactly to 3 \(input tensor's size at "
                                r"dimension 1\), but got split_sizes=\[1, 1\]",
                  lambda: torch.zeros(2, 3).split([1, 1], 1)),
    "split negative section": (RuntimeError, r"only non-negative entries, but got split_sizes=\[4, -1\]",
                               lambda: torch.zeros(2, 3).split([4, -1], 1)),
    "split 0-d": (RuntimeError, r"split expects at least a 1-dimensional tensor", lambda: torch.tensor(1.0).split(1)),
    "chunk zero": (RuntimeError, r"chunk expects `chunks` to be greater than 0, got: 0",
                   lambda: torch.zeros(3).chunk(0)),
    "tensor_split 0-d": (RuntimeError, r"tensor_split expected at least a 1-dimensional tensor, but got a tensor with "
                                       r"0 dims", lambda: torch.tensor(1.0).tensor_split(1)),
    "tensor_split sections": (RuntimeError, r"number of sections must be larger than 0, got 0",
                              lambda: torch.zeros(3).tensor_split(0)),
    "tensor_split float": (RuntimeError, r"to have dtype of long, but got Float",
                           lambda: torch.zeros(3).tensor_split(torch.tensor([1.0]))),
    "tensor_split 2-d": (RuntimeError, r"zero-dimensional or one-dimensional tensor, but got a tensor with 2 dims",
                         lambda: torch.zeros(3).tensor_split(torch.tensor([[1]]))),
    "hsplit divisible": (RuntimeError, r"torch\.hsplit attempted to split along dimension 1, but the size of the "
                                       r"dimension 5 is not divisible by the split_size 2!",
                         lambda: torch.zeros(2, 5).hsplit(2)),
    "vsplit 1-d": (RuntimeError, r"torch\.vsplit requires a tensor with at least 2 dimension, but got a tensor with 1 "
                                 r"dimensions!", lambda: torch.zeros(4).vsplit(2)),
    "flip duplicate": (RuntimeError, r"dim 0 appears multiple times in the list of dims",
                       lambda: torch.zeros(2, 3).flip(0, -2)),
    "flip dim": (IndexError, r"Dimension out of range", lambda: torch.zeros(2, 3).flip(2)),
    "fliplr 1-d": (RuntimeError, r"Input must be >= 2-d\.", lambda: torch.zeros(3).fliplr()),
    "flipud 0-d": (RuntimeError, r"Input must be >= 1-d\.", lambda: torch.tensor(1.0).flipud()),
    "roll align": (RuntimeError, r"shifts and dimensions must align\. shifts: 2, dims:1",
                   lambda: torch.zeros(2, 3).roll((1, 2), (0,))),
    "roll no dims": (RuntimeError, r"shifts and dimensions must align\. shifts: 2, dims:0",
                     lambda: torch.zeros(2, 3).roll((1, 2))),
    "roll shifts": (RuntimeError, r"`shifts` required", lambda: torch.zeros(2, 3).roll((), ())),
    "roll 0-d dim": (IndexError, r"Dimension specified as 0 but tensor has no dimensions",
                     lambda: torch.tensor(1.0).roll(1, 0)),
    "repeat dims": (RuntimeError, r"Number of dimensions of repeat dims can not be smaller than number of dimensions "
                                  r"of tensor", lambda: torch.zeros(2, 3).repeat(2)),
    "repeat negative": (RuntimeError, r"Trying to create tensor with negative dimension -2: \[-2, 3\]",
                        lambda: torch.zeros(2, 3).repeat(-1, 1)),
    "repeat_interleave negative": (RuntimeError, r"Repeats must be non-negative",
                                   lambda: torch.zeros(2).repeat_interleave(-1)),
    "repeat_interleave tensor negative": (RuntimeError, r"repeats can not be negative",
                                          lambda: torch.zeros(2).repeat_interleave(torch.tensor([1, -1]))),
    "repeat_interleave size": (RuntimeError, r"repeats must have the same size as input along dim, but got "
                                             r"repeats\.size\(0\) = 2 and input\.size\(1\) = 3",
                               lambda: torch.zeros(2, 3).repeat_interleave(torch.tensor([1, 1]), dim=1)),
    "repeat_interleave float": (NotImplementedError, r"not implemented for 'Float'",
                                lambda: torch.zeros(2).repeat_interleave(torch.tensor([1.0, 1.0]))),
    "repeat_interleave 2-d": (RuntimeError, r"repeats must be 0-dim or 1-dim tensor",
                              lambda: torch.zeros(2).repeat_interleave(torch.tensor([[1, 1]]))),
    "repeat_interleave output_size": (RuntimeError, r"allocated size does not match required size",
                                      lambda: torch.zeros(2).repeat_interleave(torch.tensor([1, 2]), output_size=5)),
    "tril 1-d": (RuntimeError, r"tril: input tensor must have at least 2 dimensions", lambda: torch.zeros(3).tril()),
    "triu 0-d": (RuntimeError, r"triu: input tensor must have at least 2 dimensions",
                 lambda: torch.tensor(1.0).triu_()),
    "diag 3-d": (RuntimeError, r"diag\(\): Supports 1D or 2D tensors\. Got 3D", lambda: torch.zeros(2, 2, 2).diag()),
    "diag 0-d": (RuntimeError, r"diag\(\): Supports 1D or 2D tensors\. Got 0D", lambda: torch.tensor(1.0).diag()),
    "diag_embed dims": (RuntimeError, r"diagonal dimensions cannot be identical 0, 0",
                        lambda: torch.diag_embed(torch.zeros(2, 3), dim1=0, dim2=0)),
    "trace 1-d": (RuntimeError, r"trace: expected a matrix, but got tensor with dim 1", lambda: torch.zeros(2).trace()),
    "trace bool": (NotImplementedError, r"\"trace\" not implemented for 'Bool'",
                   lambda: torch.ones(2, 2, dtype=torch.bool).trace()),
    "meshgrid 2-d": (RuntimeError, r"Expected 0D or 1D tensor in the tensor list",
                     lambda: torch.meshgrid(torch.zeros(2, 3), indexing="ij")),
    "meshgrid indexing": (RuntimeError, r'indexing must be one of "xy" or "ij", but received: foo',
                          lambda: torch.meshgrid(torch.zeros(2), indexing="foo")),
    "meshgrid dtype": (RuntimeError, r"meshgrid expects all tensors to have the same dtype",
                       lambda: torch.meshgrid(torch.zeros(2), torch.zeros(2, dtype=torch.int64), indexing="ij")),
    "meshgrid empty": (RuntimeError, r"meshgrid expects a non-empty TensorList", lambda: torch.meshgrid(indexing="ij")),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors(name):
    exc, match, fn = ERRORS[name]
    _raises(exc, match, fn)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_stack_dtypes_layouts(dtype, layout):
    a, ra = case((3, 4), dtype, layout)
    b, rb = case((3, 4), dtype)
    for dim in (0, 1, 2, -1):
        assert_close(torch.stack([a, b, a], dim=dim), np.stack([ra, rb, ra], axis=dim))


def test_stack_0d_empty_and_promotion():
    out = torch.stack([torch.tensor(1), torch.tensor(2.5)])
    assert out.dtype is torch.float32
    assert_close(out, np.array([1.0, 2.5]))
    assert torch.stack([torch.zeros(0, 2)] * 3, 1).shape == (0, 3, 2)
    out = torch.stack([torch.tensor([1, 2]), torch.tensor([3.0, 4.0], dtype=torch.float16)])
    assert out.dtype is torch.float16
    assert_close(out, np.array([[1.0, 2.0], [3.0, 4.0]]))


@pytest.mark.parametrize("dtype", [torch.bool, torch.int64, torch.float32])
def test_hstack_vstack_dstack_column_stack(dtype):
    one, r1 = case((4,), dtype)
    two, r2 = case((3, 4), dtype)
    three, r3 = case((3, 4, 2), dtype)
    zero, r0 = case((), dtype)
    assert_close(torch.hstack([one, one]), np.hstack([r1, r1]))
    assert_close(torch.hstack([two.T, two.T]), np.hstack([r2.T, r2.T]))
    assert_close(torch.hstack([zero, one]), np.hstack([r0, r1]))
    assert_close(torch.vstack([one, two]), np.vstack([r1, r2]))
    assert_close(torch.row_stack([zero.reshape(1).expand(4), one]), np.vstack([np.full(4, r0), r1]))
    assert_close(torch.dstack([one, one]), np.dstack([r1, r1]))
    assert_close(torch.dstack([two, three]), np.dstack([r2, r3]))
    assert_close(torch.column_stack([one[:3], two]), np.column_stack([r1[:3], r2]))
    assert torch.atleast_3d(zero).shape == (1, 1, 1)
    assert [t.shape for t in torch.atleast_2d(zero, one)] == [(1, 1), (1, 4)]


# ---- splitting -------------------------------------------------------------------------------------------
def _same_pieces(pieces, refs):
    assert len(pieces) == len(refs)
    for p, r in zip(pieces, refs):
        assert_close(p, r)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [torch.bool, torch.int64, torch.float16, F64])
def test_split_chunk_tensor_split(dtype, layout):
    x, rx = case((5, 7), dtype, layout)
    _same_pieces(torch.split(x, 2), [rx[0:2], rx[2:4], rx[4:5]])
    _same_pieces(x.split([3, 0, 4], dim=-1), np.split(rx, [3, 3], axis=1))
    _same_pieces(x.chunk(3, 1), np.array_split(rx, [3, 6], axis=1))
    _same_pieces(x.chunk(4, 1), np.array_split(rx, [2, 4, 6], axis=1))  # 4 asked, 4 of size 2 (last 1)
    _same_pieces(torch.tensor_split(x, 3, dim=1), np.array_split(rx, 3, axis=1))
    _same_pieces(x.tensor_split([1, 5, 3, -1, 10], -1), [rx[:, a:b] for a, b in
                                                       zip([0, 1, 5, 3, -1, 10], [1, 5, 3, -1, 10, None])])
    _same_pieces(x.tensor_split(torch.tensor(2)), np.array_split(rx, 2))
    _same_pieces(x.tensor_split(torch.tensor([2, 4]), dim=0), np.split(rx, [2, 4]))
    for piece in x.split(2):  # pieces are views of x's memory
        assert piece.untyped_storage() is x.untyped_storage()


def test_split_views_write_through_and_empty_dims():
    x = torch.arange(10.0)
    a, b = x.split([4, 6])
    b.fill_(-1)
    assert_close(x, np.concatenate([np.arange(4.0), -np.ones(6)]))
    assert [p.shape for p in torch.zeros(0).chunk(3)] == [(0,), (0,), (0,)]
    assert [p.shape for p in torch.zeros(0, 2).split(2)] == [(0, 2)]
    assert [p.shape for p in torch.zeros(6).chunk(4)] == [(2,), (2,), (2,)]
    m, rm = case((2, 4, 6), torch.int32)
    _same_pieces(torch.hsplit(m, 2), np.hsplit(rm, 2))
    _same_pieces(torch.vsplit(m, [1]), np.vsplit(rm, [1]))
    _same_pieces(torch.dsplit(m, 3), np.dsplit(rm, 3))
    _same_pieces(torch.hsplit(m[0, 0], [2, 3]), np.hsplit(rm[0, 0], [2, 3]))
    assert_close(torch.narrow_copy(m, 2, 1, 3), rm[:, :, 1:4])


# ---- flip and roll ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_flip(dtype, layout):
    x, rx = case((3, 4, 5), dtype, layout)
    assert_close(torch.flip(x, [0]), np.flip(rx, 0))
    assert_close(x.flip(-1, 0), np.flip(rx, (2, 0)))
    assert_close(x.flip(dims=(0, 1, 2)), np.flip(rx))
    assert_close(x.flip(()), rx)
    assert_close(x[0].fliplr(), np.fliplr(rx[0]))
    assert_close(x.flipud(), np.flipud(rx))


def test_flip_0d_and_empty():
    assert_close(torch.tensor(3.0).flip(0), np.array(3.0))
    assert torch.zeros(0, 3).flip(0, 1).shape == (0, 3)
    x = torch.arange(4.0)
    y = x.flip(0)
    y[0] = 100  # a copy, not a view
    assert_close(x, np.arange(4.0))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_roll(dtype, layout):
    x, rx = case((3, 4, 5), dtype, layout)
    assert_close(torch.roll(x, 2), np.roll(rx, 2))
    assert_close(x.roll(-7), np.roll(rx, -7))
    assert_close(x.roll(1, 0), np.roll(rx, 1, 0))
    assert_close(x.roll((1, -2, 11), (0, -1, 1)), np.roll(rx, (1, -2, 11), (0, 2, 1)))
    assert_close(x.roll(shifts=(2, 2), dims=(2, 2)), np.roll(rx, 4, 2))
    assert_close(x.roll(5, 2), rx)


def test_roll_0d_and_empty():
    assert_close(torch.tensor(2.0).roll(3), np.array(2.0))
    assert torch.zeros(0, 3).roll(1, 0).shape == (0, 3)
    assert torch.zeros(2, 0).roll(1).shape == (2, 0)


# ---- repeat, tile, repeat_interleave -------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_and_tile(dtype, layout):
    x, rx = case((3, 4), dtype, layout)
    assert_close(x.repeat(2, 3), np.tile(rx, (2, 3)))
    assert_close(x.repeat(2, 1, 2), np.tile(rx, (2, 1, 2)))
    assert_close(x.repeat((1, 0)), np.tile(rx, (1, 0)))
    assert_close(torch.tile(x, (2,)), np.tile(rx, 2))
    assert_close(x.tile(2, 1, 1), np.tile(rx, (2, 1, 1)))


def test_repeat_0d_and_empty():
    assert_close(torch.tensor(3).repeat(2, 2), np.full((2, 2), 3))
    assert_close(torch.tensor(3).repeat(()), np.array(3))
    assert torch.zeros(0, 2).repeat(3, 2).shape == (0, 4)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_interleave(dtype, layout):
    x, rx = case((3, 4), dtype, layout)
    assert_close(x.repeat_interleave(2), np.repeat(rx, 2))
    assert_close(torch.repeat_interleave(x, 3, dim=-1), np.repeat(rx, 3, axis=1))
    assert_close(x.repeat_interleave(0, 0), np.repeat(rx, 0, axis=0))
    counts = np.array([2, 0, 1, 3])
    assert_close(x.repeat_interleave(torch.tensor(counts), dim=1), np.repeat(rx, counts, axis=1))
    assert_close(x.repeat_interleave(torch.tensor([1, 0, 2], dtype=torch.int32), dim=0, output_size=3),
                 np.repeat(rx, [1, 0, 2], axis=0))
    flat = np.arange(12) % 3
    assert_close(x.repeat_interleave(torch.tensor(flat)), np.repeat(rx, flat))
    assert_close(x.repeat_interleave(torch.tensor(2), dim=1), np.repeat(rx, 2, axis=1))
    assert_close(x.repeat_interleave(torch.tensor([3]), dim=0), np.repeat(rx, 3, axis=0))


def test_repeat_interleave_index_form_and_0d():
    idx = torch.repeat_interleave(torch.tensor([1, 0, 2], dtype=torch.int32))
    assert idx.dtype is torch.int32
    assert_close(idx, np.array([0, 2, 2]))
    assert_close(torch.tensor(3.0).repeat_interleave(2), np.array([3.0, 3.0]))
    assert torch.zeros(0, 2).repeat_interleave(torch.tensor([], dtype=torch.int64), dim=0).shape == (0, 2)


# ---- triangles, diagonals, trace ------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_tril_triu(dtype, layout):
    x, rx = case((2, 4, 5), dtype, layout)
    for k in (0, -1, 2, 7, -9):
        assert_close(torch.tril(x, k), np.tril(rx, k))
        assert_close(x.triu(diagonal=k), np.triu(rx, k))
    assert_close(x[0].T.tril(), np.tril(rx[0].T))


@pytest.mark.parametrize("dtype", [torch.bool, torch.float32])
def test_tril_triu_inplace_and_out(dtype):
    x, rx = case((4, 6), dtype)
    view = x[:, ::2]
    assert view.tril_(-1) is view
    expected = rx.copy()
    expected[:, ::2] = np.tril(rx[:, ::2], -1)
    assert_close(x, expected)
    out = torch.empty(4, 6, dtype=dtype)
    assert torch.triu(x, 1, out=out) is out
    assert_close(out, np.triu(expected, 1))
    assert torch.zeros(0, 3).tril().shape == (0, 3)


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "stepped"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_diag_and_trace(dtype, layout):
    m, rm = case((4, 5), dtype, layout)
    v, rv = case((4,), dtype)
    for k in (0, 1, -2, 6):
        assert_close(torch.diag(m, k), np.diag(rm, k))
        assert_close(v.diag(k), np.diag(rv, k))
    if dtype is not torch.bool:
        t = m.trace()
        assert t.dim() == 0 and t.dtype is (dtype if dtype.is_floating_point else torch.int64)
        assert_close(t, np.trace(rm.astype(np.float64)).astype(t.dtype.np), rtol=1e-2 if dtype is torch.float16
                     else None)


def test_diag_embed_and_edge_cases():
    x, rx = case((2, 3), torch.float32)
    ref = np.zeros((2, 4, 4), np.float32)
    for b in range(2):
        ref[b] = np.diag(rx[b], 1)
    assert_close(torch.diag_embed(x, 1), ref)
    assert_close(torch.diag_embed(x, -1, 0, 2), np.stack([np.diag(rx[b], -1) for b in range(2)], axis=1))
    assert_close(torch.diag(torch.zeros(0, 3)), np.zeros(0))
    assert_close(torch.trace(torch.zeros(0, 3)), np.array(0.0))
    assert_close(torch.arange(12).reshape(3, 4).trace(), np.array(15))


# ---- meshgrid ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    a, ra = case((3,), torch.float32)
    b, rb = case((4,), torch.float32)
    c, rc = case((2,), torch.float32)
    for got, exp in zip(torch.meshgrid(a, b, c, indexing=indexing), np.meshgrid(ra, rb, rc, indexing=indexing)):
        assert_close(got, exp)
    for got, exp in zip(torch.meshgrid([a, torch.tensor(5.0)], indexing=indexing),
                        np.meshgrid(ra, np.array([5.0]), indexing=indexing)):
        assert_close(got, exp)
    (single,) = torch.meshgrid(a, indexing=indexing)
    assert_close(single, ra)


def test_meshgrid_warns_without_indexing():
    with pytest.warns(UserWarning, match="it will be required to pass the indexing argument"):
        x, y = torch.meshgrid(torch.arange(2), torch.arange(3))
    assert x.shape == (2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.meshgrid(torch.arange(2), indexing="ij")


# ---- gradients ------------------------------------------------------------------------------------------
GRADS = {
    "cat": (lambda a, b: torch.cat([a, b.T, torch.zeros(0, dtype=torch.float64)], 1), [(2, 3), (1, 2)],
            "CatBackward0"),
    "stack": (lambda a, b: torch.stack([a, b], -1), [(2, 2), (2, 2)], "StackBackward0"),
    "hstack": (lambda a, b: torch.hstack([a, b]), [(2, 2), (2, 1)], "CatBackward0"),
    "split": (lambda a: a.split(2, 1), [(2, 5)], "SplitBackward0"),
    "split unused": (lambda a: a.split([1, 3], 1)[1], [(2, 4)], "SplitWithSizesBackward0"),
    "chunk": (lambda a: a.chunk(2), [(3, 2)], "SplitBackward0"),
    "tensor_split": (lambda a: a.tensor_split([1, 3], 1), [(2, 4)], "SliceBackward0"),
    "flip": (lambda a: a.flip(0, -1), [(2, 3)], "FlipBackward0"),
    "roll": (lambda a: a.roll((1, -1), (0, 1)), [(2, 3)], "RollBackward0"),
    "roll flat": (lambda a: a.T.roll(2), [(2, 3)], "RollBackward0"),
    "repeat": (lambda a: a.repeat(2, 1, 2), [(2, 2)], "RepeatBackward0"),
    "tile": (lambda a: a.tile(2), [(3,)], "RepeatBackward0"),
    "repeat_interleave": (lambda a: a.repeat_interleave(2, dim=1), [(2, 2)], None),
    "repeat_interleave tensor": (lambda a: a.repeat_interleave(torch.tensor([2, 0, 1]), dim=1), [(2, 3)],
                                 "IndexSelectBackward0"),
    "tril": (lambda a: a.tril(-1), [(3, 3)], "TrilBackward0"),
    "triu": (lambda a: a.triu(1), [(2, 2, 3)], "TriuBackward0"),
    "diag vector": (lambda a: torch.diag(a, 1), [(3,)], "DiagEmbedBackward0"),
    "diag matrix": (lambda a: torch.diag(a, -1), [(3, 3)], "DiagonalBackward0_copy"),
    "diag_embed": (lambda a: torch.diag_embed(a), [(2, 2)], "DiagEmbedBackward0"),
    "trace": (lambda a: torch.trace(a), [(2, 3)], "TraceBackward0"),
    "meshgrid": (lambda a, b: torch.meshgrid(a, b, indexing="xy"), [(2,), (3,)], None),
}


@needs_fp64  # finite differences need float64
@pytest.mark.parametrize("name", list(GRADS))
def test_gradcheck(name):
    fn, shapes, grad_fn = GRADS[name]
    inputs = [leaf(*s) for s in shapes]
    assert gradcheck(fn, inputs)
    out = fn(*inputs)
    out = out[0] if isinstance(out, tuple) else out
    if grad_fn is not None:
        assert type(out.grad_fn).__name__ == grad_fn


@needs_fp64
def test_second_order_through_gather_and_segment_sum():
    weights = torch.tensor(RNG.uniform(-1, 1, (2, 4)), dtype=torch.float64)

    def first_grad(x):  # d/dx <w, y*y> with y = repeat_interleave(x): differentiable via create_graph
        with torch.enable_grad():
            x = x if x.requires_grad else x.detach().requires_grad_()
            y = x.repeat_interleave(torch.tensor([1, 3, 0]), dim=1)
            (g,) = torch.autograd.grad([y * y], [x], [weights], create_graph=True)
        return g
    assert gradcheck(first_grad, [leaf(2, 3)])


def test_tril_inplace_gradient():
    a = leaf(3, 3, dtype=PRECISE)
    b = a * 2
    b.tril_()
    b.backward(torch.ones(3, 3, dtype=PRECISE))
    assert_close(a.grad, np.tril(np.full((3, 3), 2.0)))
