"""cltensor/ops/statistics.py and cltensor/ops/misc.py against numpy float64 references and PyTorch:
order statistics (median, nanmedian, mode, quantile, nanquantile, cummax, cummin), histograms,
cov/corrcoef, cdist, kron, block matrices, index grids, differences and integrals, windows and
small reshapings; dtypes, non-contiguous, 0-d and empty inputs, negative dims, out= forms, PyTorch's
errors, and gradients by finite differences in float64."""
import itertools
import math
import warnings

import numpy as np
import pytest

import cltensor as torch
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, PRECISE, assert_close, needs_fp64, np_of, real_torch

RNG = np.random.default_rng(18)


def T(a, **kw):
    return torch.tensor(a, **kw)


def with_ties_and_nans(shape, nans=True):
    """float32 values with many ties (small integers) and, if asked, a few NaN."""
    a = RNG.integers(-3, 4, shape).astype(np.float32)
    if nans and a.size:
        a.reshape(-1)[RNG.choice(a.size, max(1, a.size // 7), replace=False)] = np.nan
    return a


def both(fn, *arrays, **kw):
    """fn applied to cltensor and (when installed) PyTorch tensors of the same arrays."""
    ours = fn(torch, *[T(a) for a in arrays], **kw)
    theirs = fn(real_torch, *[real_torch.tensor(a) for a in arrays], **kw) if HAVE_TORCH else None
    return ours, theirs


def same_as_torch(ours, theirs, rtol=1e-5, atol=1e-6):
    if theirs is None:
        return
    if isinstance(theirs, tuple):
        for a, b in zip(ours, theirs):
            same_as_torch(a, b, rtol, atol)
        return
    expected = theirs.detach().cpu().numpy()
    assert_close(ours, expected, rtol=rtol, atol=atol)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", ""), (ours.dtype, theirs.dtype)


def transposed(a):
    """a as a non-contiguous (transposed) tensor."""
    return T(np.ascontiguousarray(a.T)).T


# ---- median, nanmedian, mode ------------------------------------------------------------------------------------
def lower_median(a, axis, ignore_nan):
    s = np.sort(a, axis=axis)  # NaN last, as our sort
    count = np.sum(~np.isnan(a), axis=axis, keepdims=True)
    n = a.shape[axis]
    pos = np.maximum(count - 1, 0) // 2 if ignore_nan else np.where(count < n, count, (n - 1) // 2)
    return np.take_along_axis(s, pos, axis).squeeze(axis)


@pytest.mark.parametrize("fname", ["median", "nanmedian"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_median_dim(fname, dim, keepdim):
    a = with_ties_and_nans((5, 6))
    ours, theirs = both(lambda m, x: getattr(m, fname)(x, dim, keepdim), a)
    ref = lower_median(a.astype(np.float64), dim, fname == "nanmedian")
    assert_close(ours.values, np.expand_dims(ref, dim) if keepdim else ref)
    # indices point at an element holding the value (the first NaN of a row that has one)
    indices = np_of(ours.indices) if keepdim else np.expand_dims(np_of(ours.indices), dim)
    assert_close(np.take_along_axis(a, indices, dim).reshape(-1), np_of(ours.values).reshape(-1))
    same_as_torch(ours, theirs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.int32, torch.int16, torch.float16])
def test_median_mode_dtypes_and_layouts(dtype):
    a = RNG.integers(-5, 6, (4, 7))
    x = transposed(a.astype(dtype.np))
    for fname in ("median", "mode"):
        got = getattr(torch, fname)(x, 0)
        assert got.values.dtype is dtype and got.indices.dtype is torch.int64
        if HAVE_TORCH:
            ref = getattr(real_torch, fname)(real_torch.tensor(a.astype(dtype.np)), 0)
            same_as_torch(tuple(got), tuple(ref))
    assert_close(torch.median(x), np.sort(a.reshape(-1))[(a.size - 1) // 2].astype(dtype.np))


def test_median_full_and_special_shapes():
    a = with_ties_and_nans((3, 4), nans=False)
    assert_close(torch.median(T(a)), np.sort(a.reshape(-1))[(a.size - 1) // 2])
    a[1, 2] = np.nan
    assert math.isnan(torch.median(T(a)).item())
    assert_close(torch.nanmedian(T(a)), np.sort(a[~np.isnan(a)])[(a.size - 2) // 2])
    assert math.isnan(torch.median(T(np.zeros(0, np.float32))).item())
    zero_d = torch.median(T(2.5), 0)
    assert zero_d.values.item() == 2.5 and zero_d.indices.item() == 0 and zero_d.indices.dim() == 0
    assert torch.nanmedian(T(np.full(4, np.nan, np.float32)), 0).values.isnan().item()
    empty_rows = torch.median(T(np.zeros((0, 3), np.float32)), 1)
    assert empty_rows.values.shape == (0,) and empty_rows.indices.shape == (0,)
    with pytest.raises(IndexError, match=r"median\(\): Expected reduction dim 1 to have non-zero size"):
        torch.median(T(np.zeros((2, 0), np.float32)), 1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.median(T(a), 2)
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        torch.median(T([True, False]), 0)


def test_median_ties_pick_torchs_index():
    # the index a stable sort leaves at the lower middle: what PyTorch returns for these rows
    got = torch.median(T([[3., 1, 3, 1, 2, 1], [2, 2, 5, 5, 0, 0], [1, 1, 1, 1, 1, 1]]), 1)
    assert got.values.tolist() == [1., 2., 1.] and got.indices.tolist() == [5, 0, 2]


def python_mode(row):
    counts = {}
    for v in row:
        counts[v] = counts.get(v, 0) + 1
    best = max(counts.values())
    value = min(v for v, c in counts.items() if c == best)
    return value, max(i for i, v in enumerate(row) if v == value)


@pytest.mark.parametrize("dim", [0, -1])
def test_mode(dim):
    a = RNG.integers(0, 4, (6, 9)).astype(np.float32)
    got = torch.mode(T(a), dim, keepdim=True)
    rows = a.T if dim == 0 else a
    ref = [python_mode(list(r)) for r in rows]
    shape = (1, -1) if dim == 0 else (-1, 1)
    assert_close(got.values, np.array([v for v, _ in ref], np.float32).reshape(shape))
    assert_close(got.indices, np.array([i for _, i in ref]).reshape(shape))
    same_as_torch(*both(lambda m, x: m.mode(x, dim), a))
    nan_row = torch.mode(T([1., np.nan, 0., np.nan]))
    assert nan_row.values.item() == 0 and nan_row.indices.item() == 2  # NaNs never equal each other
    zero_d = torch.mode(T(3))
    assert zero_d.values.item() == 3 and zero_d.indices.item() == 0
    assert torch.mode(T([True, False, False])).values.item() is False
    with pytest.raises(IndexError, match="non-zero size"):
        torch.mode(T(np.zeros((2, 0), np.float32)), 1)


def test_median_and_mode_out_forms():
    a = RNG.normal(size=(3, 5)).astype(np.float32)
    values, indices = torch.empty(0), torch.empty(0, dtype=torch.int64)
    result = torch.median(T(a), 1, out=(values, indices))
    assert result.values is values and result.indices is indices
    assert_close(values, np.sort(a, 1)[:, 2])
    values, indices = torch.empty(0), torch.empty(0, dtype=torch.int64)
    torch.mode(T(a), 0, out=(values, indices))
    assert values.shape == (5,)
    values, indices = torch.empty(0), torch.empty(0, dtype=torch.int64)
    torch.cummax(T(a), 1, out=(values, indices))
    assert_close(values, np.maximum.accumulate(a, 1))


def test_scans_out_forms():
    a = RNG.normal(size=(3, 5)).astype(np.float32)
    for fn, ref in ((torch.cumsum, np.cumsum(a, 1)), (torch.cumprod, np.cumprod(a, 1)),
                    (torch.logcumsumexp, np.logaddexp.accumulate(a.astype(np.float64), 1))):
        out = torch.empty(0)
        assert fn(T(a), 1, out=out) is out
        assert_close(out, ref, rtol=1e-5, atol=1e-5)
    ints = torch.empty(0, dtype=torch.int64)
    torch.cumsum(T([[1, 2], [3, 4]], dtype=torch.int32), 0, out=ints)
    assert ints.tolist() == [[1, 2], [4, 6]]
    x = T(a, requires_grad=True)
    torch.cumsum(x, 0).sum().backward()  # without out= the gradient still flows
    assert_close(x.grad, np.arange(3, 0, -1)[:, None] * np.ones((3, 5)))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        torch.cumprod(x, 0, out=torch.empty(0))


# ---- quantile, nanquantile --------------------------------------------------------------------------------------
INTERPOLATIONS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_quantile_against_numpy(interpolation):
    a = RNG.normal(size=(4, 9)).astype(np.float32)
    q = np.array([0., 0.1, 0.25, 0.5, 0.875, 1.], np.float32)
    for dim in (None, 1, -2):
        for keepdim in (False, True):
            got = torch.quantile(T(a), T(q), dim, keepdim, interpolation=interpolation)
            ref = np.quantile(a.astype(np.float64), q.astype(np.float64), axis=dim, keepdims=keepdim,
                              method=interpolation)
            assert_close(got, ref, rtol=1e-5, atol=1e-5)
    got = torch.quantile(transposed(a), 0.3, 0, interpolation=interpolation)
    assert_close(got, np.quantile(a.astype(np.float64), 0.3, axis=0, method=interpolation), rtol=1e-5, atol=1e-5)
    same_as_torch(*both(lambda m, x: m.quantile(x, 0.4, -1, interpolation=interpolation), a))


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_nanquantile_and_nan_rows(interpolation):
    a = RNG.normal(size=(5, 8)).astype(np.float32)
    a[0, 3] = a[2, 0] = np.nan
    a[4] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy warns about the all-NaN row
        ref = np.nanquantile(a.astype(np.float64), [0.2, 0.7], axis=1, method=interpolation)
    got = torch.nanquantile(T(a), T([0.2, 0.7]), 1, interpolation=interpolation)
    assert_close(got, ref, rtol=1e-5, atol=1e-5)
    plain = np_of(torch.quantile(T(a), 0.5, 1, interpolation=interpolation))
    assert np.isnan(plain[[0, 2, 4]]).all() and not np.isnan(plain[[1, 3]]).any()
    same_as_torch(*both(lambda m, x: m.nanquantile(x, 0.2, 1, interpolation=interpolation), a))


def test_quantile_shapes_out_and_errors():
    a = RNG.normal(size=(3, 4)).astype(np.float32)
    assert torch.quantile(T(a), 0.5).shape == ()
    assert torch.quantile(T(a), 0.5, keepdim=True).shape == (1, 1)
    assert torch.quantile(T(a), T([0.5, 0.6]), 0, keepdim=True).shape == (2, 1, 4)
    assert torch.quantile(T(2.0), 0.5, 0).item() == 2.0
    out = torch.empty(0)
    assert torch.quantile(T(a), T([0.5]), 1, out=out) is out and out.shape == (1, 3)
    for call, pattern in [
            (lambda: torch.quantile(T(np.zeros(0, np.float32)), 0.5), "input tensor must be non-empty"),
            (lambda: torch.quantile(T(a), 1.5), r"q must be in the range \[0, 1\] but got 1.5"),
            (lambda: torch.quantile(T([1, 2]), 0.5), "input tensor must be either float or double dtype"),
            (lambda: torch.quantile(T(a), T([[0.5]])), "q must be a scalar or 1D tensor"),
            (lambda: torch.quantile(T(a), T([2.0])), r"q values must be in the range \[0, 1\]"),
            (lambda: torch.quantile(T(a), 0.5, interpolation="foo"), "interpolation must be one of")]:
        with pytest.raises(RuntimeError, match=pattern):
            call()


# ---- cummax, cummin ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fname", ["cummax", "cummin"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64, torch.int32, torch.uint8, torch.bool])
def test_cummax_cummin(fname, dtype):
    a = RNG.integers(0, 4, (5, 40)).astype(dtype.np)
    accumulate = np.maximum.accumulate if fname == "cummax" else np.minimum.accumulate
    for dim in (1, -2):
        got = getattr(torch, fname)(T(a), dim)
        assert got.values.dtype is dtype and got.indices.dtype is torch.int64
        assert_close(got.values, accumulate(a, axis=dim))
        # the index of the last element equal to the running extreme so far
        ref = np.zeros(a.shape, np.int64)
        moved = np.moveaxis(a, dim, -1)
        run = np.moveaxis(accumulate(a, axis=dim), dim, -1)
        for idx in np.ndindex(moved.shape[:-1]):
            last = 0
            for j in range(moved.shape[-1]):
                if moved[idx + (j,)] == run[idx + (j,)]:
                    last = j
                np.moveaxis(ref, dim, -1)[idx + (j,)] = last
        assert_close(got.indices, ref)
        same_as_torch(*both(lambda m, x: tuple(getattr(m, fname)(x, dim)), a))


def test_cummax_nan_long_rows_and_layouts():
    y = np.array([1., 3, 3, np.nan, 5, np.nan, 2], np.float32)
    got = torch.cummax(T(y), 0)
    assert got.indices.tolist() == [0, 1, 2, 3, 3, 5, 5]
    assert np.isnan(np_of(got.values)[3:]).all()
    long_rows = RNG.normal(size=(3, 5000)).astype(np.float32)  # several chunks per row in the scan
    got = torch.cummin(transposed(long_rows), 1)
    assert_close(got.values, np.minimum.accumulate(long_rows, 1))
    same_as_torch(*both(lambda m, x: tuple(m.cummin(x, 1)), long_rows))
    zero_d = torch.cummax(T(4.0), 0)
    assert zero_d.values.item() == 4.0 and zero_d.indices.item() == 0
    empty = torch.cummin(T(np.zeros((2, 0), np.float32)), 1)
    assert empty.values.shape == (2, 0) and empty.indices.dtype is torch.int64


# ---- histograms -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_histc(dtype):
    a = RNG.normal(size=(30, 7)).astype(dtype.np)
    lo, hi = float(a.min()), float(a.max())
    ref = np.histogram(a.astype(np.float64), 9, (lo, hi))[0]
    got = torch.histc(transposed(a), 9)
    assert got.dtype is dtype
    assert_close(got, ref.astype(dtype.np))
    got = torch.histc(T(a), 4, min=-1, max=1)
    assert_close(got, np.histogram(a.astype(np.float64), 4, (-1, 1))[0].astype(dtype.np))
    if dtype is torch.float32:
        same_as_torch(*both(lambda m, x: m.histc(x, 5, -2, 0.5), a))
    assert torch.histc(T([5., 5.]), 3).tolist() == [0., 2., 0.]  # min == max: the range widens by 1 each way
    assert torch.histc(T(np.zeros(0, np.float32)), 3).tolist() == [0., 0., 0.]
    out = torch.empty(0, dtype=dtype)
    assert torch.histc(T(a), 3, out=out) is out and out.shape == (3,)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        torch.histc(T([1, 2]))
    with pytest.raises(RuntimeError, match="bins must be > 0"):
        torch.histc(T(a), -1)


def test_histogram():
    a = RNG.normal(size=200).astype(np.float32)
    w = RNG.random(200).astype(np.float32)
    for bins, rng, density in [(6, None, False), (5, (-1., 1.5), True), (np.array([-2., -0.5, 0, 0.3, 3], np.float32),
                                                                           None, True)]:
        b = T(bins) if isinstance(bins, np.ndarray) else bins
        got = torch.histogram(T(a), b, range=rng, weight=T(w), density=density)
        ref, edges = np.histogram(a.astype(np.float64), bins, rng, weights=w.astype(np.float64), density=density)
        assert_close(got.hist, ref, rtol=1e-5, atol=1e-5)
        assert_close(got.bin_edges, edges, rtol=1e-6, atol=1e-6)
        if HAVE_TORCH:
            tb = real_torch.tensor(bins) if isinstance(bins, np.ndarray) else bins
            options = {"range": rng} if rng is not None else {}
            theirs = real_torch.histogram(real_torch.tensor(a), tb, weight=real_torch.tensor(w), density=density,
                                          **options)
            same_as_torch(tuple(got), tuple(theirs))
    unweighted = torch.histogram(T(a), 4)
    assert_close(unweighted.hist, np.histogram(a, 4)[0].astype(np.float32))
    hist, edges = torch.empty(0), torch.empty(0)
    result = torch.histogram(T(a), 3, out=(hist, edges))
    assert result.hist is hist and edges.shape == (4,)
    with pytest.raises(RuntimeError, match="bins tensor should have one dimension"):
        torch.histogram(T(a), T(np.zeros((2, 2), np.float32)))
    with pytest.raises(RuntimeError, match="should have the same dtype"):
        torch.histogram(T(a), T([0, 1]))


def test_histogramdd():
    pts = RNG.normal(size=(2, 50, 3)).astype(np.float32)
    w = RNG.random((2, 50)).astype(np.float32)
    flat = pts.reshape(-1, 3).astype(np.float64)
    edges1 = np.array([-3., -1., 0., 0.5, 3.], np.float32)
    for bins, rng, density in [(4, None, False), ([2, 3, 4], [-1., 1., -2., 2., 0., 1.], True),
                               ([T(edges1), T(edges1[1:]), T(edges1[:3])], None, True)]:
        got = torch.histogramdd(T(pts), bins, range=rng, weight=T(w), density=density)
        np_bins = [np_of(b) if isinstance(b, torch.Tensor) else b for b in bins] if isinstance(bins, list) else bins
        np_range = None if rng is None else [rng[i:i + 2] for i in range(0, 6, 2)]
        if np_range is None:  # numpy widens each dim's data range on its own too
            np_range = [None if isinstance(b, np.ndarray) else (flat[:, k].min(), flat[:, k].max())
                        for k, b in enumerate(np_bins if isinstance(np_bins, list) else [np_bins] * 3)]
        ref, ref_edges = np.histogramdd(flat, np_bins, np_range, density=density, weights=w.reshape(-1))
        assert_close(got.hist, ref, rtol=1e-4, atol=1e-5)
        for e, r in zip(got.bin_edges, ref_edges):
            assert_close(e, r, rtol=1e-6, atol=1e-6)
        if HAVE_TORCH:
            tb = [real_torch.tensor(np_of(b)) if isinstance(b, torch.Tensor) else b for b in bins] \
                if isinstance(bins, list) else bins
            theirs = real_torch.histogramdd(real_torch.tensor(pts), tb, range=rng, weight=real_torch.tensor(w),
                                            density=density)
            same_as_torch(got.hist, theirs.hist, rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match="expected 3 sequences of bin edges"):
        torch.histogramdd(T(pts), [2, 2])


# ---- cov, corrcoef ----------------------------------------------------------------------------------------------
def test_cov_and_corrcoef():
    a = RNG.normal(size=(3, 10)).astype(np.float32)
    fw = RNG.integers(1, 4, 10)
    aw = RNG.random(10).astype(np.float32)
    assert_close(torch.cov(T(a)), np.cov(a.astype(np.float64)), rtol=1e-5, atol=1e-5)
    assert_close(torch.cov(transposed(a), correction=0), np.cov(a.astype(np.float64), ddof=0), rtol=1e-5,
                 atol=1e-5)
    got = torch.cov(T(a), correction=2, fweights=T(fw), aweights=T(aw))
    assert_close(got, np.cov(a.astype(np.float64), ddof=2, fweights=fw, aweights=aw.astype(np.float64)),
                 rtol=1e-4, atol=1e-5)
    same_as_torch(*both(lambda m, x, f, w: m.cov(x, fweights=f, aweights=w), a, fw, aw), rtol=1e-4, atol=1e-5)
    assert_close(torch.cov(T(a[0])), np.cov(a[0].astype(np.float64)), rtol=1e-5, atol=1e-5)
    assert torch.cov(T([[1, 2, 4]])).dtype is torch.float32
    assert_close(torch.corrcoef(T(a)), np.corrcoef(a.astype(np.float64)), rtol=1e-5, atol=1e-5)
    assert torch.corrcoef(T(a[0])).item() == pytest.approx(1.0)
    same_as_torch(*both(lambda m, x: m.corrcoef(x), a), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="two or fewer dimensions"):
        torch.cov(T(np.zeros((2, 2, 2), np.float32)))
    with pytest.raises(RuntimeError, match="fweights to have integral dtype"):
        torch.cov(T(a), fweights=T(aw))
    with pytest.raises(RuntimeError, match="aweights cannot be negative"):
        torch.cov(T(a), aweights=T(-aw))


# ---- cdist, dist ------------------------------------------------------------------------------------------------
def np_cdist(x1, x2, p):
    d = np.abs(x1[..., :, None, :].astype(np.float64) - x2[..., None, :, :])
    if p == 0:
        return (d != 0).sum(-1).astype(np.float64)
    if math.isinf(p):
        return d.max(-1)
    return (d ** p).sum(-1) ** (1 / p)


@pytest.mark.parametrize("p", [0., 1., 1.5, 2., float("inf")])
def test_cdist(p):
    x1 = RNG.normal(size=(2, 30, 3)).astype(np.float32)
    x2 = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    for mode in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
        got = torch.cdist(T(x1), T(x2), p, compute_mode=mode)
        assert_close(got, np_cdist(x1, x2, p), rtol=1e-4, atol=1e-4)
    got = torch.cdist(transposed(x1[0]), T(x2[0]), p)
    assert_close(got, np_cdist(x1[0], x2[0], p), rtol=1e-4, atol=1e-4)
    same_as_torch(*both(lambda m, a, b: m.cdist(a, b, p), x1, x2), rtol=1e-4, atol=1e-4)
    assert torch.cdist(T(np.zeros((0, 3), np.float32)), T(x2[0]), p).shape == (0, 5)


def test_cdist_errors_and_dist():
    with pytest.raises(RuntimeError, match="cdist only supports at least 2D tensors, X1 got: 1D"):
        torch.cdist(T(np.zeros(3, np.float32)), T(np.zeros((3, 3), np.float32)))
    with pytest.raises(RuntimeError, match="X1 and X2 must have the same number of columns. X1: 3 X2: 4"):
        torch.cdist(T(np.zeros((2, 3), np.float32)), T(np.zeros((3, 4), np.float32)))
    with pytest.raises(RuntimeError, match="only supports non-negative p values"):
        torch.cdist(T(np.zeros((2, 3), np.float32)), T(np.zeros((2, 3), np.float32)), -1)
    with pytest.raises(RuntimeError, match="floating-point dtypes"):
        torch.cdist(T([[1, 2]]), T([[1, 2]]))
    a, b = RNG.normal(size=(3, 4)).astype(np.float32), RNG.normal(size=4).astype(np.float32)
    for p in (1, 2, 3.5, float("inf")):
        assert_close(torch.dist(T(a), T(b), p), np.linalg.norm((a - b).reshape(-1).astype(np.float64), p),
                     rtol=1e-5, atol=1e-5)
    assert_close(T(a).dist(T(b)), np.linalg.norm((a - b).reshape(-1)), rtol=1e-5)


# ---- kron, block_diag, cartesian_prod, combinations, tril/triu_indices ------------------------------------------
@pytest.mark.parametrize("shapes", [((2, 3), (3, 2)), ((4,), (2,)), ((2, 2, 3), (3, 1)), ((), (2, 2)),
                                    ((0, 2), (2, 3))])
def test_kron(shapes):
    a = RNG.integers(-3, 4, shapes[0])
    b = RNG.normal(size=shapes[1]).astype(np.float32)
    got = torch.kron(T(a), T(b))
    assert got.dtype is torch.float32
    assert_close(got, np.kron(a, b.astype(np.float64)), rtol=1e-6, atol=1e-6)
    same_as_torch(*both(lambda m, x, y: m.kron(x, y), a, b))
    out = torch.empty(0)
    assert torch.kron(T(a), T(b), out=out) is out and out.shape == got.shape
    assert_close(T(a).kron(transposed(b) if b.ndim == 2 else T(b)), np.kron(a, b))


def test_block_diag_cartesian_prod_combinations():
    blocks = [np.array(2), np.array([1, 2]), RNG.normal(size=(2, 3)).astype(np.float32), np.zeros((0, 2), np.int32)]
    got = torch.block_diag(*[T(b) for b in blocks])
    ref = np.zeros((4, 8))
    ref[0, 0], ref[1, 1:3], ref[2:4, 3:6] = 2, [1, 2], blocks[2]
    assert got.dtype is torch.float32
    assert_close(got, ref, rtol=1e-6, atol=1e-6)
    same_as_torch(*both(lambda m, *bs: m.block_diag(*bs), *blocks))
    with pytest.raises(RuntimeError, match="Input 0 has 3 dimensions"):
        torch.block_diag(T(np.zeros((1, 1, 1), np.float32)))

    xs = [np.array([1, 2]), np.array([3, 4, 5]), np.array([6])]
    assert_close(torch.cartesian_prod(*[T(x) for x in xs]), np.array(list(itertools.product(*xs))))
    assert torch.cartesian_prod(T([1, 2])).tolist() == [1, 2]
    with pytest.raises(RuntimeError, match="Expect a 1D vector"):
        torch.cartesian_prod(T([[1]]), T([2]))

    x = np.array([4., 1., 7., 3.], np.float32)
    for r in (1, 2, 3, 5):
        for replace in (False, True):
            pick = itertools.combinations_with_replacement if replace else itertools.combinations
            got = torch.combinations(T(x), r, replace)
            assert_close(got, np.array(list(pick(x, r)), np.float32).reshape(-1, r))
            same_as_torch(*both(lambda m, v: m.combinations(v, r, replace), x))
    assert torch.combinations(T(x), 0).shape == (0,)
    with pytest.raises(RuntimeError, match="Expect a 1D vector"):
        torch.combinations(T([[1, 2]]))


@pytest.mark.parametrize("row,col,offset", [(3, 3, 0), (4, 6, -1), (5, 3, 2), (0, 3, 0), (3, 4, -5), (1, 1, 0),
                                            (6, 2, 10)])
def test_tril_triu_indices(row, col, offset):
    assert_close(torch.tril_indices(row, col, offset), np.array(np.tril_indices(row, offset, col)).reshape(2, -1))
    assert_close(torch.triu_indices(row, col, offset), np.array(np.triu_indices(row, offset, col)).reshape(2, -1))
    if HAVE_TORCH:
        same_as_torch(torch.tril_indices(row, col, offset), real_torch.tril_indices(row, col, offset))
        same_as_torch(torch.triu_indices(row, col, offset, dtype=torch.int32),
                      real_torch.triu_indices(row, col, offset, dtype=real_torch.int32))


def test_tril_indices_errors():
    with pytest.raises(RuntimeError, match="row must be non-negative"):
        torch.tril_indices(-1, 3)
    with pytest.raises(RuntimeError, match="not implemented for 'Float'"):
        torch.triu_indices(2, 2, dtype=torch.float32)


# ---- diff, gradient, trapezoid ----------------------------------------------------------------------------------
def test_diff():
    a = RNG.normal(size=(4, 6)).astype(np.float32)
    for n, dim in [(1, -1), (2, 0), (3, 1), (0, 1), (7, 1)]:
        assert_close(torch.diff(T(a), n, dim), np.diff(a.astype(np.float64), n, dim), rtol=1e-5, atol=1e-5)
    pre, app = RNG.normal(size=(4, 1)).astype(np.float32), RNG.normal(size=(4, 2)).astype(np.float32)
    got = torch.diff(transposed(a), 2, 1, prepend=T(pre), append=T(app))
    assert_close(got, np.diff(a, 2, 1, prepend=pre, append=app), rtol=1e-5, atol=1e-5)
    same_as_torch(*both(lambda m, x, p: m.diff(x, 1, 0, prepend=p), a, a[:2]))
    b = np.array([True, False, False, True])
    assert_close(torch.diff(T(b)), np.diff(b))
    assert torch.diff(T(b)).dtype is torch.bool
    assert_close(T([1, 4, 9]).diff(), [3, 5])
    out = torch.empty(0)
    assert torch.diff(T(a), out=out) is out and out.shape == (4, 5)
    with pytest.raises(RuntimeError, match="diff expects input to be at least one-dimensional"):
        torch.diff(T(1.0))


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient(edge_order):
    a = RNG.normal(size=(5, 7)).astype(np.float32)
    for got, ref in zip(torch.gradient(T(a), edge_order=edge_order), np.gradient(a.astype(np.float64),
                                                                                   edge_order=edge_order)):
        assert_close(got, ref, rtol=1e-5, atol=1e-5)
    (got,) = torch.gradient(T(a), spacing=2.0, dim=-1, edge_order=edge_order)
    assert_close(got, np.gradient(a.astype(np.float64), 2.0, axis=-1, edge_order=edge_order), rtol=1e-5, atol=1e-5)
    xs = [np.cumsum(RNG.random(5) + 0.5), np.cumsum(RNG.random(7) + 0.5)]
    got = torch.gradient(transposed(a), spacing=[T(x.astype(np.float32)) for x in xs], edge_order=edge_order)
    for g, ref in zip(got, np.gradient(a.astype(np.float64), *xs, edge_order=edge_order)):
        assert_close(g, ref, rtol=1e-4, atol=1e-4)
    if HAVE_TORCH:
        theirs = real_torch.gradient(real_torch.tensor(a), spacing=[real_torch.tensor(x.astype(np.float32))
                                                                    for x in xs], edge_order=edge_order)
        same_as_torch(tuple(torch.gradient(T(a), spacing=[T(x.astype(np.float32)) for x in xs],
                                           edge_order=edge_order)), tuple(theirs), rtol=1e-4, atol=1e-4)
    (ints,) = torch.gradient(T([1, 4, 9, 16]))
    assert ints.dtype is torch.float32 and ints.tolist() == [3., 4., 6., 7.]
    with pytest.raises(RuntimeError, match="since dim argument was not given, but got a list of length 1"):
        torch.gradient(T(a), spacing=[2.0])
    with pytest.raises(RuntimeError, match="a spacing argument of length 2 and a dim argument of length 1"):
        torch.gradient(T(a), spacing=[2.0, 1.0], dim=0)
    with pytest.raises(RuntimeError, match="at least edge_order\\+1"):
        torch.gradient(T([1.0]), edge_order=edge_order)


def test_trapezoid_and_cumulative():
    y = RNG.normal(size=(3, 6)).astype(np.float32)
    x = np.cumsum(RNG.random(6)).astype(np.float32)
    assert_close(torch.trapezoid(T(y)), np.trapezoid(y.astype(np.float64)), rtol=1e-5, atol=1e-5)
    assert_close(torch.trapezoid(T(y), T(x)), np.trapezoid(y.astype(np.float64), x), rtol=1e-5, atol=1e-5)
    assert_close(torch.trapezoid(transposed(y), dx=0.5, dim=0), np.trapezoid(y, dx=0.5, axis=0), rtol=1e-5,
                 atol=1e-5)
    xy = RNG.random((3, 6)).astype(np.float32)
    assert_close(torch.trapezoid(T(y), T(xy)), np.trapezoid(y.astype(np.float64), xy), rtol=1e-5, atol=1e-5)
    assert_close(torch.trapz(T(y), 0.25), np.trapezoid(y, dx=0.25), rtol=1e-5, atol=1e-5)
    same_as_torch(*both(lambda m, a, b: m.trapezoid(a, b), y, x), rtol=1e-5, atol=1e-5)
    pairs = (y[:, 1:] + y[:, :-1]) / 2 * np.diff(x)
    assert_close(torch.cumulative_trapezoid(T(y), T(x)), np.cumsum(pairs, 1), rtol=1e-5, atol=1e-5)
    assert_close(torch.cumulative_trapezoid(T(y), dx=2.0, dim=0), np.cumsum((y[1:] + y[:-1]), 0), rtol=1e-5,
                 atol=1e-5)
    same_as_torch(*both(lambda m, a: m.cumulative_trapezoid(a, dim=0), y), rtol=1e-5, atol=1e-5)
    assert torch.trapezoid(T(np.zeros((2, 0), np.float32))).tolist() == [0., 0.]
    assert torch.trapezoid(T([1, 2, 3])).dtype is torch.float32
    assert torch.trapezoid(T(np.zeros((2, 0), np.int64))).dtype is torch.int64
    with pytest.raises(RuntimeError, match="There must be one `x` value for each sample point"):
        torch.trapezoid(T(y), T(x[:3]))


# ---- window functions -------------------------------------------------------------------------------------------
NUMPY_WINDOWS = {"hann": np.hanning, "hamming": np.hamming, "blackman": np.blackman, "bartlett": np.bartlett,
                 "kaiser": lambda n: np.kaiser(n, 12.0)}


@pytest.mark.parametrize("name", list(NUMPY_WINDOWS))
@pytest.mark.parametrize("length", [0, 1, 2, 7, 64])
def test_windows(name, length):
    fn = getattr(torch, name + "_window")
    assert_close(fn(length, periodic=False), NUMPY_WINDOWS[name](length), rtol=1e-5, atol=1e-6)
    assert_close(fn(length), NUMPY_WINDOWS[name](length + 1)[:-1] if length > 1 else np.ones(length),
                 rtol=1e-5, atol=1e-6)
    if HAVE_TORCH:
        same_as_torch(fn(length), getattr(real_torch, name + "_window")(length), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="expects floating point dtypes"):
        fn(3, dtype=torch.int64)


def test_window_options():
    w = torch.hamming_window(9, False, alpha=0.5, beta=0.5, dtype=PRECISE, requires_grad=True)
    assert w.dtype is PRECISE and w.requires_grad and w.is_leaf
    assert_close(w, np.hanning(9), rtol=1e-6, atol=1e-6)
    assert_close(torch.kaiser_window(11, False, beta=30.0), np.kaiser(11, 30.0), rtol=1e-4, atol=1e-6)
    assert torch.hann_window(4, dtype=torch.float16).dtype is torch.float16
    with pytest.raises(RuntimeError, match="non-negative window_length"):
        torch.hann_window(-1)


# ---- renorm, rot90, vander, isin, diagflat, ravel, chain_matmul -------------------------------------------------
def test_renorm():
    a = RNG.normal(size=(4, 3, 2)).astype(np.float32)
    for p, dim, maxnorm in [(2, 0, 1.5), (1, -1, 2.0), (3.0, 1, 0.5)]:
        moved = np.moveaxis(a.astype(np.float64), dim, 0)
        norms = (np.abs(moved.reshape(moved.shape[0], -1)) ** p).sum(1) ** (1 / p)
        factor = np.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
        ref = np.moveaxis(moved * factor[:, None, None], 0, dim)
        assert_close(torch.renorm(T(a), p, dim, maxnorm), ref, rtol=1e-5, atol=1e-6)
        same_as_torch(*both(lambda m, x: m.renorm(x, p, dim, maxnorm), a))
    x = T(a)
    assert x.renorm_(2, 0, 1.0) is x
    assert np.all(np.linalg.norm(np_of(x).reshape(4, -1), axis=1) <= 1.0 + 1e-5)
    with pytest.raises(RuntimeError, match="needs at least 2 dimensions"):
        torch.renorm(T([1., 2.]), 2, 0, 1)


def test_rot90():
    a = RNG.integers(0, 9, (2, 3, 4))
    for k in range(-5, 6):
        for dims in ([0, 1], [2, 0], [-1, -2]):
            assert_close(torch.rot90(T(a), k, dims), np.rot90(a, k, dims))
    assert_close(transposed(a[0]).rot90(), np.rot90(a[0]))
    with pytest.raises(RuntimeError, match="expected total rotation dims == 2, but got dims = 3"):
        torch.rot90(T(a), 1, [0, 1, 2])
    with pytest.raises(RuntimeError, match="expected rotation dims to be different"):
        torch.rot90(T(a), 1, [0, 0])
    with pytest.raises(RuntimeError, match="expected total dims >= 2"):
        torch.rot90(T([1, 2]))


def test_vander_isin_diagflat_ravel_chain_matmul():
    x = np.array([1, 2, 3, 5])
    for N, increasing in [(None, False), (3, True), (0, False), (6, False)]:
        assert_close(torch.vander(T(x), N, increasing), np.vander(x, N, increasing))
    assert torch.vander(T(x.astype(np.int32))).dtype is torch.int64
    assert torch.vander(T([1.5, 2.0])).dtype is torch.float32
    same_as_torch(*both(lambda m, v: m.vander(v, 3), x.astype(np.float32)))
    with pytest.raises(RuntimeError, match="x must be a one-dimensional tensor"):
        torch.vander(T([[1]]))

    e = RNG.integers(0, 10, (3, 4))
    tests = np.array([7, 2, 2, 9, 100])
    assert_close(torch.isin(T(e), T(tests)), np.isin(e, tests))
    assert_close(torch.isin(transposed(e), T(tests), invert=True), np.isin(e, tests, invert=True))
    assert_close(torch.isin(T(e), 2), np.isin(e, 2))
    assert_close(torch.isin(3, T(tests)), np.isin(3, tests))
    assert_close(torch.isin(T([1.5, np.nan]), T([np.nan, 1.5])), [True, False])
    assert_close(torch.isin(T(e), T(np.zeros(0, np.int64))), np.zeros(e.shape, bool))
    same_as_torch(*both(lambda m, a, b: m.isin(a, b), e, tests.astype(np.float32)))
    with pytest.raises(RuntimeError, match="Unsupported input type encountered for isin\\(\\): Bool"):
        torch.isin(T([True]), T([False]))

    d = np.array([[1, 2], [3, 4]])
    assert_close(torch.diagflat(T(d), 1), np.diagflat(d, 1))
    assert_close(T(d).diagflat(-2), np.diagflat(d, -2))
    assert_close(transposed(d).ravel(), d.ravel())
    mats = [RNG.normal(size=s).astype(np.float32) for s in ((2, 3), (3, 4), (4, 2))]
    with pytest.warns(UserWarning, match="chain_matmul is deprecated"):
        got = torch.chain_matmul(*[T(m) for m in mats])
    assert_close(got, mats[0].astype(np.float64) @ mats[1] @ mats[2], rtol=1e-5, atol=1e-5)


# ---- gradients (finite differences in float64) ------------------------------------------------------------------
def _x(*shape, distinct=True):
    a = RNG.permutation(np.prod(shape)).reshape(shape) * 0.37 + RNG.random(shape) * 0.1 if distinct else \
        RNG.normal(size=shape)
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


GRAD_CASES = {
    "median": lambda x: torch.median(x),
    "median_dim": lambda x: x.median(1).values,
    "nanmedian_dim": lambda x: x.nanmedian(0, keepdim=True).values,
    "mode": lambda x: x.mode(1).values,
    "quantile_linear": lambda x: x.quantile(torch.tensor([0.3, 0.8], dtype=torch.float64), 1),
    "quantile_midpoint": lambda x: x.quantile(0.5, interpolation="midpoint"),
    "nanquantile": lambda x: x.nanquantile(0.25, 0),
    "cummax": lambda x: x.cummax(1).values,
    "cummin": lambda x: x.cummin(0).values,
    "cdist_mm": lambda x: torch.cdist(x, x[:2] * 2 + 1, compute_mode="use_mm_for_euclid_dist"),
    "cdist_p": lambda x: torch.cdist(x, x[:2] * 2 + 1, 1.5),
    "dist": lambda x: torch.dist(x, x.flip(0) + 0.5, 3),
    "kron": lambda x: torch.kron(x, x[:2, :2]),
    "block_diag": lambda x: torch.block_diag(x, x[0], x[1, 1]),
    "cartesian_prod": lambda x: torch.cartesian_prod(x[0], x[1]),
    "combinations": lambda x: torch.combinations(x[0], 2, True),
    "diff": lambda x: x.diff(2, 0, prepend=x[:1] * 3),
    "gradient": lambda x: torch.gradient(x, spacing=[torch.tensor([0., 1., 3.], dtype=torch.float64), 2.],
                                         edge_order=2),
    "trapezoid": lambda x: torch.trapezoid(x, torch.tensor([0., 1., 3., 3.5], dtype=torch.float64)),
    "cumulative_trapezoid": lambda x: torch.cumulative_trapezoid(x, dim=0),
    "cov": lambda x: torch.cov(x, aweights=torch.tensor([1., 2., .5, 1.], dtype=torch.float64)),
    "corrcoef": lambda x: torch.corrcoef(x),
    "renorm": lambda x: x.renorm(2, 0, 1.0),
    "rot90": lambda x: x.rot90(3),
    "vander": lambda x: torch.vander(x[0], 3),
}


@needs_fp64
@pytest.mark.parametrize("case", list(GRAD_CASES))
def test_gradcheck(case):
    x = _x(3, 4)
    assert gradcheck(GRAD_CASES[case], (x,))


@needs_fp64
def test_gradients_go_where_torch_sends_them():
    x = torch.tensor([1., 1., 2.], dtype=torch.float64, requires_grad=True)
    x.median().backward()
    assert x.grad.tolist() == [0.5, 0.5, 0.0]  # full median: split evenly among equal elements
    y = torch.tensor([[3., 1., 3.], [1., 1., 0.]], dtype=torch.float64, requires_grad=True)
    y.cummax(1).values.sum().backward()
    if HAVE_TORCH:
        ty = real_torch.tensor([[3., 1., 3.], [1., 1., 0.]], dtype=real_torch.float64, requires_grad=True)
        ty.cummax(1).values.sum().backward()
        assert y.grad.tolist() == ty.grad.tolist()
    assert y.grad.tolist() == [[2., 0., 1.], [1., 2., 0.]]


# ---- ops/extras.py: scatters into views, index_reduce, fill_diagonal_, unfold, aliases ---------------------------
def test_scatter_into_views():
    a = RNG.normal(size=(3, 4)).astype(np.float32)
    ref = a.copy()
    ref[np.arange(3), np.arange(3) + 1] = [7, 8, 9]
    assert_close(torch.diagonal_scatter(T(a), T([7., 8., 9.]), 1), ref)
    ref = a.copy()
    ref[:, -1] = [1, 2, 3]
    assert_close(transposed(a).select_scatter(T([1., 2., 3.]), 1, -1), ref)
    ref = a.copy()
    ref[:, 1::2] = 5
    assert_close(torch.slice_scatter(T(a), T(np.full((3, 2), 5, np.float32)), 1, 1, None, 2), ref)
    flat = a.reshape(-1).copy()
    flat[[0, 2, 1, 3]] = [1, 2, 3, 4]
    assert_close(torch.as_strided_scatter(T(a), T([[1., 2.], [3., 4.]]), (2, 2), (1, 2)), flat.reshape(3, 4))
    if HAVE_TORCH:
        same_as_torch(torch.slice_scatter(T(a), T(np.ones((1, 4), np.float32)), 0, -1),
                      real_torch.slice_scatter(real_torch.tensor(a), real_torch.ones(1, 4), 0, -1))
    with pytest.raises(RuntimeError, match=r"src size = \[2\], slice size = \[3\]"):
        torch.diagonal_scatter(T(a), T([1., 2.]))


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce(reduce, include_self):
    a = RNG.normal(size=(3, 4)).astype(np.float32)
    src = RNG.normal(size=(5, 4)).astype(np.float32)
    index = np.array([0, 2, 0, 1, 0])
    ref = a.astype(np.float64).copy()
    for row in range(3):
        picked = src[index == row].astype(np.float64)
        if not len(picked):
            continue
        values = np.concatenate([a[row:row + 1], picked]) if include_self else picked
        ref[row] = {"prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce](values, 0)
    got = T(a).index_reduce(0, T(index), T(src), reduce, include_self=include_self)
    assert_close(got, ref, rtol=1e-5, atol=1e-6)
    x = T(a)
    assert x.index_reduce_(0, T(index), T(src), reduce, include_self=include_self) is x
    assert_close(x, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="Expected reduce to be one of prod, mean, amax or amin but got sum"):
        T(a).index_reduce(0, T(index), T(src), "sum")


def test_fill_diagonal_unfold_sum_to_size():
    for shape, wrap in [((7, 3), True), ((7, 3), False), ((3, 5), False), ((3, 3, 3), False)]:
        ref = np.zeros(shape, np.float32)
        np.fill_diagonal(ref, 2, wrap=wrap)
        x = torch.zeros(shape)
        assert x.fill_diagonal_(2., wrap=wrap) is x
        assert_close(x, ref)
    with pytest.raises(RuntimeError, match="dimensions must larger than 1"):
        torch.zeros(3).fill_diagonal_(1)
    with pytest.raises(RuntimeError, match="all dimensions of input must be of equal length"):
        torch.zeros(2, 3, 4).fill_diagonal_(1)

    a = np.arange(24.).reshape(4, 6).astype(np.float32)
    got = transposed(a).unfold(1, 3, 2)
    assert_close(got, np.lib.stride_tricks.sliding_window_view(a, 3, axis=1)[:, ::2])
    assert_close(T(a).unfold(0, 4, 1), np.lib.stride_tricks.sliding_window_view(a, 4, axis=0))
    assert torch.tensor(5.).unfold(0, 1, 1).tolist() == [5.]
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 1 is 6 but size is 7"):
        T(a).unfold(1, 7, 1)
    with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
        T(a).unfold(1, 2, 0)
    assert_close(T(a).sum_to_size(1, 6), a.sum(0, keepdims=True))
    assert_close(T(a).sum_to_size(6), a.sum(0))
    assert_close(T(a).sum_to_size((4, 1)), a.sum(1, keepdims=True))
    with pytest.raises(RuntimeError, match="is not expandable to size"):
        T(a).sum_to_size(3, 6)
    x = T(a)
    assert x.transpose_(0, -1) is x and x.shape == (6, 4)
    assert_close(x, a.T)
    assert_close(x.swapaxes_(0, 1), a)
    leaf = T(a, requires_grad=True)
    y = leaf * 1
    y.swapdims_(1, 0)
    weight = RNG.normal(size=(6, 4)).astype(np.float32)
    (y * T(weight)).sum().backward()
    assert_close(leaf.grad, weight.T)


def test_pdist_unravel_index_and_aliases():
    a = RNG.normal(size=(6, 3)).astype(np.float32)
    i, j = np.triu_indices(6, 1)
    for p in (1., 2., 0.5, float("inf")):
        ref = np_cdist(a, a, p)[i, j]
        assert_close(torch.pdist(T(a), p), ref, rtol=1e-5, atol=1e-5)
    assert torch.pdist(T(a[:1])).shape == (0,)
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 1D"):
        torch.pdist(T(a[0]))
    flat = np.array([0, 7, -1, 11, 5])
    got = torch.unravel_index(T(flat), (3, 4))
    for g, r in zip(got, np.unravel_index(flat % 12, (3, 4))):
        assert_close(g, r)
    with pytest.raises(TypeError, match="expected 'indices' to be integer dtype"):
        torch.unravel_index(T([1.0]), (2,))
    assert torch.broadcast_shapes((2, 1), (3,), ()) == (2, 3)
    with pytest.raises(RuntimeError, match="Shape mismatch"):
        torch.broadcast_shapes((2,), (3,))
    x = T(a)
    assert torch.positive(x) is x and x.positive() is x
    with pytest.raises(RuntimeError, match="on a bool tensor is not supported"):
        torch.positive(T([True]))
    assert_close(torch.rsub(x, 2.0, alpha=3), 2.0 - 3 * a)
    assert_close(torch.clamp_min(x, 0.5), np.maximum(a, 0.5))
    assert_close(torch.clamp_max(x, 0.5), np.minimum(a, 0.5))
    assert_close(torch.fill(x, 4.0), np.full_like(a, 4.0))
    assert torch.scalar_tensor(3).dtype is torch.float32 and torch.scalar_tensor(3).item() == 3.0
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        assert torch.range(1, 2, 0.25).tolist() == [1.0, 1.25, 1.5, 1.75, 2.0]
    assert torch.is_nonzero(T([2])) and not T([0.0]).is_nonzero()
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        torch.is_nonzero(T([1, 2]))
    assert torch.is_same_size(x, T(a + 1)) and not x.is_same_size(T(a[0]))
    assert torch.is_signed(x) and not torch.is_signed(T([1], dtype=torch.uint8))
    assert torch.typename(x) == "torch.FloatTensor" and torch.typename(3) == "int"
    assert_close(torch.frobenius_norm(x, (1,)), np.linalg.norm(a, axis=1), rtol=1e-5)
    assert_close(torch.norm_except_dim(x, 2, 1), np.linalg.norm(a, axis=0, keepdims=True), rtol=1e-5)
    strided = torch.empty_strided((2, 3), (1, 2))
    assert strided.shape == (2, 3) and strided.stride() == (1, 2)
    assert x.new_empty_strided((3, 2), (2, 1)).dtype is torch.float32


EXTRA_GRAD_CASES = {
    "diagonal_scatter": lambda x: torch.diagonal_scatter(x, x[0, :3] * 2),
    "select_scatter": lambda x: torch.select_scatter(x, x[1] ** 2, 0, 2),
    "slice_scatter": lambda x: torch.slice_scatter(x, x[:, :2] * 3, 1, 2),
    "index_reduce_amax": lambda x: x.index_reduce(0, torch.tensor([0, 0, 2]), x * 1.5, "amax"),
    "unfold": lambda x: x.unfold(1, 2, 1),
    "sum_to_size": lambda x: x.sum_to_size(1, 4),
    "pdist": lambda x: torch.pdist(x, 1.5),
}


@needs_fp64
@pytest.mark.parametrize("case", list(EXTRA_GRAD_CASES))
def test_extras_gradcheck(case):
    assert gradcheck(EXTRA_GRAD_CASES[case], (_x(3, 4),))


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # the reference F.kl_div's own warning
def test_torch_spellings_of_functional_ops():
    F = torch.nn.functional
    x = RNG.normal(size=(2, 4, 3, 3)).astype(np.float32)
    y = RNG.normal(size=(2, 4, 3, 3)).astype(np.float32)
    w = RNG.random(4).astype(np.float32) + 0.5
    same = [(torch.selu(T(x)), F.selu(T(x))), (torch.celu(T(x), 0.5), F.celu(T(x), 0.5)),
            (torch.threshold(T(x), 0.1, 2.0), F.threshold(T(x), 0.1, 2.0)),
            (torch.hardshrink(T(x), 0.3), F.hardshrink(T(x), 0.3)), (T(x).hardshrink(), F.hardshrink(T(x))),
            (torch.prelu(T(x), T(w)), F.prelu(T(x), T(w))), (T(x).prelu(T(w)), F.prelu(T(x), T(w))),
            (torch.rrelu(T(x)), F.rrelu(T(x))),
            (torch.pixel_shuffle(T(x), 2), F.pixel_shuffle(T(x), 2)),
            (torch.pixel_unshuffle(T(x[..., :2, :2]), 2), F.pixel_unshuffle(T(x[..., :2, :2]), 2)),
            (torch.cosine_similarity(T(x), T(y)), F.cosine_similarity(T(x), T(y))),
            (torch.pairwise_distance(T(x[0, 0]), T(y[0, 0])), F.pairwise_distance(T(x[0, 0]), T(y[0, 0]))),
            (torch.layer_norm(T(x), (3, 3)), F.layer_norm(T(x), (3, 3))),
            (torch.group_norm(T(x), 2, T(w), T(w)), F.group_norm(T(x), 2, T(w), T(w))),
            (torch.rms_norm(T(x), (3,)), F.rms_norm(T(x), (3,))),
            (torch.batch_norm(T(x), T(w), None, T(w * 0), T(w), False, 0.1, 1e-5, True),
             F.batch_norm(T(x), T(w * 0), T(w), T(w), None, False, 0.1, 1e-5)),
            (torch.instance_norm(T(x), None, None, None, None, True, 0.1, 1e-5, True), F.instance_norm(T(x))),
            (torch.dropout(T(x), 0.5, False), T(x)), (torch.alpha_dropout(T(x), 0.5, False), T(x))]
    for ours, ref in same:
        assert_close(ours, np_of(ref), rtol=1e-5, atol=1e-6)
    table = RNG.normal(size=(5, 3)).astype(np.float32)
    idx = np.array([[0, 4], [2, 2]])
    assert_close(torch.embedding(T(table), T(idx)), table[idx])
    target = (RNG.random((2, 4, 3, 3)) > 0.5).astype(np.float32)
    for reduction, name in ((0, "none"), (1, "mean"), (2, "sum")):
        pairs = [(torch.binary_cross_entropy_with_logits(T(x), T(target), None, None, reduction),
                  F.binary_cross_entropy_with_logits(T(x), T(target), reduction=name)),
                 (torch.kl_div(T(x), T(np.abs(y)), reduction), F.kl_div(T(x), T(np.abs(y)), reduction=name)),
                 (torch.hinge_embedding_loss(T(x), T(target * 2 - 1), 1.0, reduction),
                  F.hinge_embedding_loss(T(x), T(target * 2 - 1), reduction=name)),
                 (torch.margin_ranking_loss(T(x), T(y), T(target * 2 - 1), 0.1, reduction),
                  F.margin_ranking_loss(T(x), T(y), T(target * 2 - 1), 0.1, reduction=name)),
                 (torch.poisson_nll_loss(T(x), T(np.abs(y)), True, False, 1e-8, reduction),
                  F.poisson_nll_loss(T(x), T(np.abs(y)), reduction=name))]
        for ours, ref in pairs:
            assert_close(ours, np_of(ref), rtol=1e-5, atol=1e-6)
    if HAVE_TORCH:
        rt = real_torch
        same_as_torch(torch.batch_norm(T(x), T(w), None, T(w * 0), T(w), False, 0.1, 1e-5, True),
                      rt.batch_norm(rt.tensor(x), rt.tensor(w), None, rt.tensor(w * 0), rt.tensor(w), False, 0.1,
                                    1e-5, True), rtol=1e-5, atol=1e-5)
        same_as_torch(torch.kl_div(T(x), T(np.abs(y)), 2), rt.kl_div(rt.tensor(x), rt.tensor(np.abs(y)), 2),
                      rtol=1e-5, atol=1e-4)
        same_as_torch(torch.embedding(T(table), T(idx), 0), rt.embedding(rt.tensor(table), rt.tensor(idx), 0))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        torch.kl_div(T(x), T(y), 3)


def test_switches_and_small_names():
    assert torch.get_deterministic_debug_mode() == 0
    try:
        torch.set_deterministic_debug_mode("warn")
        assert torch.get_deterministic_debug_mode() == 1 and torch.is_deterministic_algorithms_warn_only_enabled()
        torch.set_deterministic_debug_mode(2)
        assert torch.are_deterministic_algorithms_enabled() and torch.get_deterministic_debug_mode() == 2
    finally:
        torch.set_deterministic_debug_mode("default")
    assert not torch.are_deterministic_algorithms_enabled()
    with pytest.raises(RuntimeError, match="invalid value of debug_mode"):
        torch.set_deterministic_debug_mode(3)
    torch.set_warn_always(True)
    assert torch.is_warn_always_enabled()
    torch.set_warn_always(False)
    assert torch.set_flush_denormal(True) is False and torch.init_num_threads() is None
    x = T([1., 2., 3.])
    assert torch.put(x, T([0, 2]), T([9., 8.])).tolist() == [9., 2., 8.] and x.tolist() == [1., 2., 3.]
    assert torch.get_device(x) == (-1 if x.device.type == "cpu" else x.device.index)  # as PyTorch: -1 on the host
