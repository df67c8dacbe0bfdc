"""Reductions, scans and softmax against numpy float64 references: the dtypes each op accepts,
every kind of dim (None, negative, tuples) with keepdim both ways, non-contiguous inputs, 0-d and
empty tensors, ties and NaN, large extents through every kernel path (work-items with lanes,
work-groups, several stages), result dtypes, errors, and gradients (gradcheck in float64)."""
import math
import warnings

import numpy as np
import pyopencl as cl
import pytest

import cltensor as torch
from cltensor import launch
from cltensor.autograd import gradcheck
from helpers import (ALL_DTYPES, HAVE_TORCH, LAYOUTS, PRECISE, assert_close, layout_case, needs_fp64, np_of,
                     random_array, real_torch)

FLOATS = [torch.float16, torch.float32, torch.float64]


def marked(dtypes):
    """dtypes as test parameters: float64 marked needs_fp64 (where the device lacks it, the case must raise)."""
    return [pytest.param(d, marks=needs_fp64) if d is torch.float64 else d for d in dtypes]


def wide(a):
    """The numpy array in float64 (or int64 for integers and bool): the reference's precision."""
    return a.astype(np.float64) if a.dtype.kind == "f" else a.astype(np.int64)


def axis(dim):
    return tuple(dim) if isinstance(dim, list) else dim


def np_lse(a, ax, keepdims=False):
    a = wide(a).astype(np.float64)
    m = np.max(a, axis=ax, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(a - m), axis=ax, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=ax) if ax is not None else out.reshape(())


def np_norm(a, p, ax, keepdims=False):
    a = np.abs(wide(a))
    if p == math.inf:
        return np.max(a, axis=ax, keepdims=keepdims)
    if p == -math.inf:
        return np.min(a, axis=ax, keepdims=keepdims)
    if p == 0:
        return np.sum(a != 0, axis=ax, keepdims=keepdims).astype(np.float64)
    return np.sum(a ** p, axis=ax, keepdims=keepdims) ** (1 / p)


def np_log_softmax(a, ax):
    a = wide(a)
    shifted = a - a.max(axis=ax, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=ax, keepdims=True))


def np_softmax(a, ax):
    a = wide(a)
    e = np.exp(a - a.max(axis=ax, keepdims=True))
    return e / e.sum(axis=ax, keepdims=True)


# name: (call, numpy reference, dtypes tested, result dtype rule)
REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(d, k), lambda a, ax, k: np.sum(wide(a), axis=ax, keepdims=k), ALL_DTYPES),
    "mean": (lambda x, d, k: torch.mean(x, d, k), lambda a, ax, k: np.mean(wide(a), axis=ax, keepdims=k), FLOATS),
    "amax": (lambda x, d, k: x.amax(() if d is None else d, k),
             lambda a, ax, k: np.max(a, axis=ax, keepdims=k), ALL_DTYPES),
    "amin": (lambda x, d, k: torch.amin(x, () if d is None else d, k),
             lambda a, ax, k: np.min(a, axis=ax, keepdims=k), [torch.bool, torch.int8, torch.float32]),
    "var": (lambda x, d, k: x.var(d, keepdim=k), lambda a, ax, k: np.var(wide(a), axis=ax, keepdims=k, ddof=1),
            FLOATS),
    "std": (lambda x, d, k: torch.std(x, d, correction=0, keepdim=k),
            lambda a, ax, k: np.std(wide(a), axis=ax, keepdims=k), FLOATS),
    "norm": (lambda x, d, k: x.norm(dim=d, keepdim=k), lambda a, ax, k: np_norm(a, 2, ax, k), FLOATS),
    "logsumexp": (lambda x, d, k: x.logsumexp(tuple(range(x.dim())) if d is None else d, k),
                  lambda a, ax, k: np_lse(a, ax, k), [torch.int64, torch.float16, torch.float32, torch.float64]),
    "all": (lambda x, d, k: x.all(d, k),
            lambda a, ax, k: np.all(a, axis=ax, keepdims=k), [torch.bool, torch.uint8, torch.int32, torch.float64]),
    "any": (lambda x, d, k: torch.any(x, d, k),
            lambda a, ax, k: np.any(a, axis=ax, keepdims=k), [torch.bool, torch.int64, torch.float16]),
    "count_nonzero": (lambda x, d, k: x.count_nonzero(d), lambda a, ax, k: np.count_nonzero(a, axis=ax),
                      [torch.bool, torch.int8, torch.float32]),
    "prod": (lambda x, d, k: x.prod(d, k) if d is not None else x.prod(),
             lambda a, ax, k: np.prod(wide(a), axis=ax, keepdims=k),
             [torch.bool, torch.uint8, torch.int32, torch.int64, torch.float16, torch.float32, torch.float64]),
}
NO_KEEPDIM = {"count_nonzero"}
INT_DIM_ONLY = {"prod"}


def expected_dtype(name, dtype):
    if name in ("sum", "prod", "count_nonzero"):
        return torch.int64 if name == "count_nonzero" or not dtype.is_floating_point else dtype
    if name in ("all", "any"):
        return torch.uint8 if dtype is torch.uint8 else torch.bool
    if name == "logsumexp":
        return dtype if dtype.is_floating_point else torch.float32
    return dtype


def check_reduction(name, x, ref_array, dim, keepdim, dtype):
    call, ref, _ = REDUCTIONS[name]
    keep = keepdim and name not in NO_KEEPDIM and not (name in INT_DIM_ONLY and dim is None)
    got = call(x, dim, keep)
    want = np.asarray(ref(ref_array, axis(dim), keep))
    assert got.dtype is expected_dtype(name, dtype), (name, got.dtype)
    rtol = {torch.float16: 2e-2, torch.float32: 2e-5, torch.float64: 1e-10}.get(got.dtype, 0)
    if got.dtype.is_floating_point:
        assert_close(got, want, rtol=rtol, atol=rtol)
    else:
        assert_close(got, want.astype(got.dtype.np))


def layout_of(a, layout):
    """(tensor, reference) with a's values in the given layout; 'transposed' reverses every dim."""
    if layout == "transposed" and a.ndim > 2:
        order = tuple(reversed(range(a.ndim)))
        return torch.tensor(np.ascontiguousarray(a.transpose(order))).permute(order), a
    return layout_case(a, layout)


def small_values(shape, dtype, seed=0):
    """Values whose sums and products stay exact in every dtype (products of a few of them too)."""
    rng = np.random.default_rng(seed)
    if dtype is torch.bool:
        return rng.random(shape) > 0.3
    if dtype is torch.uint8:
        return rng.integers(0, 3, shape).astype(np.uint8)
    if not dtype.is_floating_point:
        return rng.integers(-2, 3, shape).astype(dtype.np)
    return rng.uniform(-1.5, 1.5, shape).astype(dtype.np)


# each op over the dtypes it accepts (a chosen set where the kernel is the same code per dtype:
# every distinct kernel costs a compile)
DTYPE_CASES = [pytest.param(name, d, marks=needs_fp64) if d is torch.float64 else (name, d)
               for name, row in REDUCTIONS.items() for d in row[2]]


@pytest.mark.parametrize("name,dtype", DTYPE_CASES, ids=lambda v: v if isinstance(v, str) else v.name)
def test_dtypes_against_numpy(name, dtype):
    a = small_values((3, 4, 5), dtype)
    x = torch.tensor(a)
    check_reduction(name, x, a, 1, False, dtype)
    if name == "sum":
        check_reduction(name, x, a, None, False, dtype)


DIMS = [None, 0, -1, (0, 2), [-1, -2], (0, 1, 2)]


@pytest.mark.parametrize("name", list(REDUCTIONS))
@pytest.mark.parametrize("layout", LAYOUTS)
def test_dims_keepdim_and_layouts(name, layout):
    a = small_values((4, 6, 5), torch.float32, seed=1)
    if name in ("all", "any", "count_nonzero"):
        a[a > 0.8] = 0
    x, ref = layout_of(a, layout)
    for dim in DIMS:
        if name in INT_DIM_ONLY and isinstance(dim, (tuple, list)):
            continue
        for keepdim in (False, True):
            check_reduction(name, x, ref, dim, keepdim, torch.float32)


def test_int_layouts_and_tuple_dims():
    a = small_values((5, 3, 4), torch.int32, seed=2)
    for layout in LAYOUTS:
        x, ref = layout_of(a, layout)
        for dim in (None, 1, (0, 2), (-1, 0)):
            assert_close(x.sum(dim), np.sum(wide(ref), axis=axis(dim)))
            assert_close(x.amax(() if dim is None else dim), np.max(ref, axis=axis(dim)))


# ---- max/min/argmax/argmin --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", marked([torch.uint8, torch.int16, torch.int64, torch.float16, torch.float32,
                                          torch.float64]), ids=lambda d: d.name)
def test_argmax_argmin(dtype):
    a = random_array((4, 7), dtype, -4, 4, np.random.default_rng(3))
    x = torch.tensor(a)
    for dim in (None, 0, 1, -1):
        assert_close(x.argmax(dim), np.argmax(a, axis=dim))
        got = torch.argmax(x, dim, keepdim=True)
        assert got.dtype is torch.int64
        want = np.argmax(a, axis=dim) if dim is not None else np.argmax(a)
        assert tuple(got.shape) == (tuple(np.expand_dims(want, dim).shape) if dim is not None else (1, 1))
    if dtype in (torch.int16, torch.float32):
        for dim in (None, 0, -1):
            assert_close(torch.argmin(x, dim), np.argmin(a, axis=dim))
            assert_close(x.T.argmin(dim), np.argmin(a.T, axis=dim))


@pytest.mark.parametrize("dtype", marked([torch.bool, torch.int8, torch.int64, torch.float16, torch.float32,
                                          torch.float64]), ids=lambda d: d.name)
def test_max_min_with_dim_named_tuple(dtype):
    a = random_array((5, 6), dtype, -4, 4, np.random.default_rng(4))
    x = torch.tensor(a)
    for name, npf, nparg in (("max", np.max, np.argmax), ("min", np.min, np.argmin)):
        if name == "min" and dtype not in (torch.int8, torch.float64):
            continue
        for dim in (0, 1, -1):
            r = getattr(torch, name)(x, dim)
            values, indices = r
            assert r.values is values and r.indices is indices
            assert_close(values, npf(a, axis=dim))
            assert_close(indices, nparg(a, axis=dim))
            k = getattr(x, name)(dim=dim, keepdim=True)
            assert tuple(k.values.shape) == tuple(np.expand_dims(npf(a, axis=dim), dim).shape)
        assert_close(getattr(x, name)(), npf(a))


def test_named_tuple_prints_like_torch():
    r = torch.tensor([[1, 5], [7, 2]]).max(1)
    assert repr(r) == "torch.return_types.max(\nvalues=tensor([5, 7]),\nindices=tensor([1, 0]))"
    assert isinstance(r, torch.return_types.max) and r._fields == ("values", "indices")
    values, indices = r
    assert values.tolist() == [5, 7] and r[1].tolist() == [1, 0]
    assert repr(torch.min(torch.tensor([3., 1.]), 0)).startswith("torch.return_types.min(\nvalues=tensor(1.)")


def test_max_of_two_tensors_is_maximum():
    a, b = torch.tensor([1., 5., -2.]), torch.tensor([3., 0., -1.])
    assert torch.max(a, b).tolist() == [3., 5., -1.]
    assert a.max(b).tolist() == [3., 5., -1.]
    assert torch.min(a, b).tolist() == [1., 0., -2.]


def test_ties_give_the_first_index():
    x = torch.tensor([[1., 3., 3., 1.], [2., 2., 2., 2.]])
    assert x.argmax(1).tolist() == [1, 0]
    assert x.argmin(1).tolist() == [0, 0]
    assert x.max(1).indices.tolist() == [1, 0]
    assert x.min(1).indices.tolist() == [0, 0]
    assert x.argmax().item() == 1
    assert x.T.argmax(0).tolist() == [1, 0]
    assert torch.tensor([-math.inf, -math.inf]).argmax().item() == 0
    assert torch.tensor([7, 7, 7], dtype=torch.int8).argmin().item() == 0


def test_nan_propagates_like_torch():
    nan = math.nan
    x = torch.tensor([[1., nan, 3., nan], [4., 5., -1., 0.]])
    assert math.isnan(x.max().item()) and math.isnan(x.min().item()) and math.isnan(x.amax().item())
    assert x.argmax(1).tolist() == [1, 1]
    assert x.argmin(1).tolist() == [1, 2]
    r = x.max(1)
    assert math.isnan(r.values[0].item()) and r.indices.tolist() == [1, 1]
    assert math.isnan(x.sum().item()) and math.isnan(x.var(1)[0].item())
    assert math.isnan(x.logsumexp(1)[0].item()) and not math.isnan(x.logsumexp(1)[1].item())
    assert math.isnan(x.norm(math.inf).item())
    assert np.isnan(np_of(x.softmax(1))[0]).all() and not np.isnan(np_of(x.softmax(1))[1]).any()
    assert torch.tensor([nan, 1.]).argmax().item() == 0 and torch.tensor([1., nan]).argmin().item() == 1
    assert_close(torch.nansum(x, 1), np.nansum(np_of(x), 1))
    assert_close(torch.nanmean(x, 1), np.nanmean(np_of(x), 1))
    if HAVE_TORCH:
        t = real_torch.tensor(np_of(x))
        assert_close(x.softmax(0), t.softmax(0).numpy())
        assert_close(x.logsumexp(0), t.logsumexp(0).numpy())


def test_infinities_in_logsumexp_and_softmax():
    inf = math.inf
    x = torch.tensor([[1., 2., 3.], [-inf, -inf, -inf], [inf, 1., 2.], [1e4, 1e4 - 1, 0.]])
    assert_close(x.logsumexp(1), [3.40760596, -inf, inf, 1e4 + math.log1p(math.exp(-1))], rtol=1e-6)
    sm = np_of(x.softmax(1))
    assert np.isnan(sm[1]).all() and np.isnan(sm[2]).all()
    assert_close(sm[3], [1 / (1 + math.exp(-1)), 1 - 1 / (1 + math.exp(-1)), 0.], rtol=1e-6, atol=1e-7)
    assert_close(torch.tensor([[-inf, 0.]]).log_softmax(1), [[-inf, 0.]])


# ---- var/std/norm ------------------------------------------------------------------------------------
def test_var_std_corrections_and_overloads():
    a = np.random.default_rng(5).standard_normal((4, 9))
    x = torch.tensor(a, dtype=PRECISE)
    assert_close(x.var(1), a.var(1, ddof=1))
    assert_close(x.var(1, unbiased=False), a.var(1))
    assert_close(x.var(1, False), a.var(1))
    assert_close(x.var(False), a.var())
    assert_close(torch.var(x, 0, correction=2), a.var(0, ddof=2))
    assert_close(x.std(dim=(0, 1), correction=0, keepdim=True), a.std(keepdims=True))
    assert_close(x.std(1, True, True), a.std(1, ddof=1, keepdims=True))
    v, m = torch.var_mean(x, 1)
    assert_close(v, a.var(1, ddof=1))
    assert_close(m, a.mean(1))
    s, m = torch.std_mean(x, (0, 1), correction=0)
    assert_close(s, a.std())
    with pytest.raises(TypeError):
        x.var(1, True, correction=1)
    big = np.full(1000, 1e4) + np.random.default_rng(6).standard_normal(1000)
    assert_close(torch.tensor(big.astype(np.float32)).var(), big.astype(np.float32).astype(np.float64).var(ddof=1),
                 rtol=1e-3)  # one pass (Welford), no catastrophic cancellation around the mean


def test_var_degrees_of_freedom_warning():
    with pytest.warns(UserWarning, match="degrees of freedom"):
        v = torch.tensor([3.]).var()
    assert math.isnan(v.item())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.tensor([3.]).var(correction=0).item() == 0


@pytest.mark.parametrize("p", [1, 2, 3, 0.5, 0, math.inf, -math.inf, "fro"])
def test_norm_orders(p):
    a = np.random.default_rng(7).standard_normal((3, 5))
    a[0, 0] = 0
    x = torch.tensor(a, dtype=PRECISE)
    q = 2 if p == "fro" else p
    assert_close(x.norm(p), np_norm(a, q, None))
    assert_close(torch.norm(x, p, 1), np_norm(a, q, 1))
    assert_close(x.norm(p, dim=(0,), keepdim=True), np_norm(a, q, 0, True))
    assert_close(x.T.norm(p, -1), np_norm(a.T, q, -1))


def test_norm_half():
    x = torch.tensor([[3., 4.]], dtype=torch.float16)
    assert x.norm().dtype is torch.float16 and x.norm().item() == 5


@needs_fp64
def test_norm_dtype_float64():
    y = torch.tensor([[3., 4.]]).norm(dtype=torch.float64)
    assert y.dtype is torch.float64 and y.item() == 5


# ---- dtypes of results ----------------------------------------------------------------------------------
def test_result_dtypes():
    i8 = torch.tensor([100, 100, 100], dtype=torch.int8)
    assert i8.sum().dtype is torch.int64 and i8.sum().item() == 300  # accumulates wider than int8
    assert torch.tensor([True, True]).sum().item() == 2
    assert torch.tensor([True, True]).sum().dtype is torch.int64
    assert torch.tensor([2, 3], dtype=torch.int16).prod().dtype is torch.int64
    assert torch.tensor([1., 2.], dtype=torch.float16).sum().dtype is torch.float16
    assert torch.tensor([1, 2]).sum(dtype=torch.float32).dtype is torch.float32
    assert torch.tensor([1.5, 2.5]).sum(dtype=torch.int32).item() == 3  # elements cast first, as PyTorch
    assert torch.tensor([1, 2]).mean(dtype=torch.float32).item() == 1.5
    assert torch.tensor([1, 2], dtype=torch.uint8).all().dtype is torch.uint8
    assert torch.tensor([0.5, 0.]).any().dtype is torch.bool
    assert torch.tensor([[1, 0]]).count_nonzero().dtype is torch.int64
    assert torch.tensor([3, 4], dtype=torch.int32).argmax().dtype is torch.int64
    assert torch.tensor([1, 2], dtype=torch.uint8).cumsum(0).dtype is torch.int64
    assert torch.tensor([True, True]).cumsum(0).tolist() == [1, 2]
    assert torch.tensor([1., 2.], dtype=torch.float16).cumsum(0).dtype is torch.float16
    assert torch.tensor([1, 2]).cumsum(0, dtype=torch.float32).dtype is torch.float32
    assert torch.tensor([1, 2]).logsumexp(0).dtype is torch.float32
    assert torch.tensor([1., 2.], dtype=torch.float16).softmax(0, dtype=torch.float32).dtype is torch.float32
    x16 = torch.full((4096,), 1.0, dtype=torch.float16)
    assert x16.sum().item() == 4096 and x16.mean().item() == 1  # float16 accumulates in float32


@needs_fp64
def test_result_dtypes_float64():
    assert torch.tensor([1, 2]).mean(dtype=torch.float64).item() == 1.5
    assert torch.tensor([1, 2]).cumsum(0, dtype=torch.float64).dtype is torch.float64
    assert torch.tensor([1., 2.]).softmax(0, dtype=torch.float64).dtype is torch.float64


# ---- errors ------------------------------------------------------------------------------------------------
def test_errors():
    x = torch.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype. Input dtype must be either "
                                           r"a floating point or complex dtype. Got: Long"):
        torch.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="Optional dtype"):
        x.mean(dtype=torch.int64)
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 0 to have non-zero size."):
        torch.zeros(0, 3).max(0)
    with pytest.raises(RuntimeError, match=r"Expected reduction dim to be specified for input.numel\(\) == 0"):
        torch.zeros(0, 3).max()
    with pytest.raises(IndexError, match="argmax"):
        torch.zeros(0).argmax()
    with pytest.raises(IndexError, match=r"amin\(\): Expected reduction dim 0"):
        torch.zeros(0, 3).amin((0, 1))
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.tensor(5.).sum(1)
    with pytest.raises(RuntimeError, match="dim 0 appears multiple times in the list of dims"):
        x.sum((0, -2))
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        torch.tensor([1, 2]).var()
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        torch.tensor([1, 2]).norm()
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        torch.tensor([1, 2]).softmax(0)
    with pytest.raises(RuntimeError, match="does not support bool input"):
        torch.tensor([True]).argmax()
    with pytest.raises(TypeError):
        x.prod((0, 1))
    with pytest.raises(TypeError):
        x.max((0, 1))
    with pytest.raises(TypeError):
        torch.logsumexp(x)
    with pytest.raises(RuntimeError, match="cannot compute the inf norm on an empty tensor"):
        torch.zeros(0).norm(math.inf)
    with pytest.raises(TypeError, match="must be Tensor"):
        torch.sum([1, 2])
    with pytest.raises(TypeError):
        x.sum(1.5)


# ---- 0-d and empty --------------------------------------------------------------------------------------------
def test_zero_dim_inputs():
    x = torch.tensor(5.)
    for dim in (0, -1, None, ()):
        assert x.sum(dim).item() == 5 and x.sum(dim).dim() == 0
    assert x.mean(0).item() == 5 and x.prod(0).item() == 5 and x.amax(0).item() == 5
    r = x.max(0)
    assert r.values.item() == 5 and r.indices.item() == 0 and r.values.dim() == 0
    assert x.argmax(0).item() == 0 and x.argmax().item() == 0
    assert x.var(0, correction=0).item() == 0
    assert x.cumsum(0).item() == 5 and x.cumsum(0).dim() == 0 and x.cumprod(-1).item() == 5
    assert x.softmax(0).item() == 1 and x.log_softmax(-1).item() == 0
    assert x.logsumexp(0).item() == 5 and x.norm().item() == 5
    assert x.sum(0, keepdim=True).dim() == 0
    assert torch.tensor(0).all().item() is False and torch.tensor(2).any().item() is True
    assert x.count_nonzero().item() == 1


def test_empty_inputs():
    e = torch.zeros(0, 3)
    assert_close(e.sum(0), np.zeros(3))
    assert_close(e.sum(1), np.zeros(0))
    assert e.sum().item() == 0 and e.prod().item() == 1
    assert_close(e.prod(0), np.ones(3))
    assert np.isnan(np_of(e.mean(0))).all()
    with pytest.warns(UserWarning, match="degrees of freedom"):
        assert np.isnan(np_of(e.var(0, correction=0))).all()
    assert_close(e.logsumexp(0), np.full(3, -math.inf))
    assert_close(e.norm(dim=0), np.zeros(3))
    assert tuple(e.amax(1).shape) == (0,) and tuple(e.max(1).indices.shape) == (0,)
    assert e.all().item() is True and e.any().item() is False and e.count_nonzero().item() == 0
    assert tuple(e.cumsum(0).shape) == (0, 3) and tuple(e.softmax(1).shape) == (0, 3)
    assert tuple(e.sum(0, keepdim=True).shape) == (1, 3)
    assert torch.ones(2, 0).sum(1).tolist() == [0., 0.]


def test_empty_reductions_with_outputs():
    # nothing reduced for each output: the kernels must not split indices by a reduced size of 0 (x % 0
    # traps on x86; PoCL's handler hid it until pytest's faulthandler replaced it: the process died)
    e = torch.zeros(4, 0, 2)
    assert_close(e.logsumexp((0, 1)), np.full(2, -math.inf))
    assert_close(e.sum((0, 1)), np.zeros(2))
    assert_close(e.norm(dim=(0, 1)), np.zeros(2))
    assert_close(torch.ones(3, 0).prod(1), np.ones(3))
    assert_close(torch.ones(3, 0).logsumexp(1), np.full(3, -math.inf))
    with pytest.warns(UserWarning, match="degrees of freedom"):
        assert np.isnan(np_of(torch.ones(3, 0).var(1, correction=0))).all()


# ---- scans ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", marked(ALL_DTYPES), ids=lambda d: d.name)
def test_cumsum_dtypes(dtype):
    a = small_values((3, 7), dtype, seed=8)
    x = torch.tensor(a)
    for dim in (0, -1):
        assert_close(x.cumsum(dim), np.cumsum(wide(a), axis=dim), rtol=1e-2 if dtype is torch.float16 else None)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_scans_layouts(layout):
    a = small_values((4, 6, 5), PRECISE, seed=9)
    x, ref = layout_of(a, layout)
    for dim in (0, 1, -1):
        assert_close(torch.cumsum(x, dim), np.cumsum(ref, axis=dim))
        assert_close(x.cumprod(dim), np.cumprod(ref, axis=dim))
        assert_close(x.logcumsumexp(dim), np.logaddexp.accumulate(ref, axis=dim))
    b = (a[:, :, 0] * 2).astype(np.int32)
    assert_close(torch.tensor(b).cumprod(1), np.cumprod(wide(b), 1))


def test_inplace_scans():
    x = torch.tensor([1., 2., 3.])
    assert x.cumsum_(0) is x and x.tolist() == [1., 3., 6.]
    assert x.cumprod_(0).tolist() == [1., 3., 18.]


# ---- softmax ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", marked(FLOATS), ids=lambda d: d.name)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax_log_softmax(dtype, layout):
    a = random_array((4, 6, 5), dtype, -3, 3, np.random.default_rng(10))
    x, ref = layout_of(a, layout)
    for dim in (0, 1, -1):
        want = np_softmax(ref, dim)
        assert_close(x.softmax(dim), want)
        assert_close(torch.log_softmax(x, dim), np_log_softmax(ref, dim))
        assert x.softmax(dim).dtype is dtype


def test_softmax_is_stable_for_large_inputs():
    a = np.array([[1e4, 1e4 - 1, 1e4 - 30], [-1e4, -1e4 + 2, 0.]], dtype=np.float32)
    x = torch.tensor(a)
    for dim in (0, 1):
        got = np_of(x.softmax(dim))
        assert np.isfinite(got).all()
        assert_close(got, np_softmax(a, dim), rtol=1e-5, atol=1e-7)
        assert np.isfinite(np_of(x.log_softmax(dim))).all()
        assert_close(x.log_softmax(dim), np_log_softmax(a, dim), rtol=1e-5, atol=1e-3)
        assert np.isfinite(np_of(x.logsumexp(dim))).all()


def test_softmax_rows_keep_exps_accuracy_down_to_denormals():
    # long contiguous float32 rows: on CPUs the row's exps come from softmax_exp (a polynomial, as
    # PyTorch's softmax takes them), not the exp builtin; every lane and the tail, exps whose results
    # are denormal (x - max in [-104, -87.3]) or round to 0, -inf, and a sweep of [-104, 0]
    t = np.linspace(-104, 0, 4001)
    rows = [np.concatenate([t, [0.0] * 7]), np.array([0, -np.inf, 1, -100, -87.3, -87.4, 3e-3, 88] * 5 + [2.0]),
            np.random.default_rng(2).standard_normal(1037) * 20]
    x = torch.tensor(rows[0].astype(np.float32))
    # a device without float denormals (CL_FP_DENORM is optional) flushes them to 0, as it must
    denormals = bool(x.device.backend.cl_device.single_fp_config & cl.device_fp_config.DENORM)
    for row in rows:
        a = row.astype(np.float32)[None, :]
        got = np_of(torch.tensor(a).softmax(-1)).astype(np.float64)
        a64 = a.astype(np.float64)
        e = np.exp(a64 - a64.max()); want = e / e.sum()
        # x - max rounds to float32 first: |x - max| * 2^-24 relative, as in PyTorch (rtol); denormal
        # results to a few of their steps (atol), or to 0 where the device flushes them
        assert_close(got, want, rtol=1e-5, atol=1e-44 if denormals else 1.2e-38)
        assert (got[want > (1e-43 if denormals else 1.2e-38)] > 0).all()  # no early flush to 0


def np_softmax_grads(y, g, ax):
    """float64 gradients of softmax (y its output) and of log_softmax (y its output) for upstream g."""
    return y * (g - (g * y).sum(ax, keepdims=True)), g - np.exp(y) * g.sum(ax, keepdims=True)


@pytest.mark.parametrize("dtype", marked(FLOATS), ids=lambda d: d.name)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax_backward_is_one_fused_kernel_of_any_layout(dtype, layout):
    rng = np.random.default_rng(11)
    a = random_array((4, 6, 5), dtype, -3, 3, rng)
    g, g_ref = layout_of(random_array((4, 6, 5), dtype, -1, 1, rng), layout)  # upstream gradient of any layout
    for dim in (0, 1, -1):
        for fn, which in ((torch.softmax, 0), (torch.log_softmax, 1)):
            x = torch.tensor(a, requires_grad=True)
            y = fn(x, dim)
            (got,) = torch.autograd.grad(y, x, g)
            want = np_softmax_grads(np_of(y).astype(np.float64), g_ref.astype(np.float64), dim)[which]
            assert got.dtype is dtype
            assert_close(got, want, dtype, atol=2e-2 if dtype is torch.float16 else 1e-6)


def test_softmax_backward_launches_one_kernel(launches):
    x = torch.randn(8, 33, requires_grad=True)
    g = torch.randn(8, 33)
    for fn in (torch.softmax, torch.log_softmax):
        y = fn(x, 1)
        launches.clear()
        torch.autograd.grad(y, x, g)
        assert len(launches) == 1 and launches[0].startswith("reduce_")


@needs_fp64
def test_softmax_second_derivatives_stay_differentiable():
    x = torch.tensor(np.random.default_rng(12).uniform(-2, 2, (3, 4)), dtype=torch.float64, requires_grad=True)
    from cltensor.autograd import gradgradcheck
    assert gradgradcheck(lambda v: v.softmax(1), (x,))
    assert gradgradcheck(lambda v: v.log_softmax(0), (x,))


def test_softmax_backward_of_0d_and_empty_inputs():
    x = torch.tensor(1.5, requires_grad=True)
    (g,) = torch.autograd.grad(x.softmax(0), x, torch.tensor(2.0))
    assert g.item() == 0.0
    e = torch.zeros(0, 3, requires_grad=True)
    (g,) = torch.autograd.grad(e.log_softmax(1), e, torch.zeros(0, 3))
    assert tuple(g.shape) == (0, 3)


# ---- allclose / equal ---------------------------------------------------------------------------------------
def test_allclose_and_equal():
    a = torch.tensor([1., 2., math.nan])
    b = torch.tensor([1., 2. + 1e-7, math.nan])
    assert torch.allclose(a, b, equal_nan=True) is True
    assert torch.allclose(a, b) is False
    assert a[:2].allclose(torch.tensor([1.1, 2.]), atol=0.2)
    assert not torch.allclose(torch.tensor([1., 2.]), torch.tensor([1., 2.1]))
    assert torch.allclose(torch.tensor([[1., 2.]]), torch.tensor([1., 2.]))  # broadcasts like isclose
    assert torch.equal(torch.tensor([1, 2]), torch.tensor([1, 2])) is True
    assert torch.equal(torch.tensor([1, 2]), torch.tensor([[1, 2]])) is False
    assert torch.equal(torch.tensor([1, 2]), torch.tensor([1, 3])) is False
    assert torch.tensor([1, 2]).equal(torch.tensor([1., 2.]))
    assert torch.equal(torch.zeros(0), torch.zeros(0))


# ---- large extents: every kernel path --------------------------------------------------------------------------
GPU_LIKE = launch.reduce.GPU_TUNING
TINY_ITEMS = launch.reduce.ReduceTuning(items_per_cu=64, min_chunk=3, groups_per_cu=8, use_groups=False)
TINY_GROUPS = launch.reduce.ReduceTuning(items_per_cu=64, min_chunk=3, groups_per_cu=64, use_groups=True)
TUNINGS = {"device": None, "gpu_like": GPU_LIKE, "tiny_items": TINY_ITEMS, "tiny_groups": TINY_GROUPS}


def use_tuning(monkeypatch, name):
    """Plans as the device would choose them, as a GPU would, or with many small pieces (several
    stages, lanes and groups on small data); the answers must agree up to rounding."""
    t = TUNINGS[name]
    if t is not None:
        monkeypatch.setattr(launch.reduce, "reduce_tuning", lambda backend: t)
    # plans are cached per layout: a fresh cache, or the plans of an earlier tuning would answer
    monkeypatch.setattr(torch.get_default_device().backend, "reduce_plans", {})


@pytest.mark.parametrize("tuning", list(TUNINGS))
def test_plans_on_small_data(tuning, monkeypatch):
    use_tuning(monkeypatch, tuning)
    rng = np.random.default_rng(11)
    a = rng.standard_normal((37, 300)).astype(np.float32)
    a[5, 17] = a[5, 200] = 10  # ties across pieces: the first index wins
    a[:, 250] = a[:, 3]  # ties within columns
    for x, ref in ((torch.tensor(a), a), (torch.tensor(a.T.copy()).T, a), (torch.tensor(a)[:, ::2], a[:, ::2])):
        for dim in (None, 0, 1):
            assert_close(x.sum(dim), wide(ref).sum(dim), rtol=1e-5, atol=1e-4)
            assert_close(x.argmax(dim), np.argmax(ref, axis=dim))
            assert_close(x.argmin(dim), np.argmin(ref, axis=dim))
            assert_close(x.var(dim), wide(ref).var(dim, ddof=1), rtol=1e-5, atol=1e-5)
            assert_close(x.logsumexp((0, 1) if dim is None else dim), np_lse(ref, dim), rtol=1e-5, atol=1e-5)
            assert_close(x.amax(() if dim is None else dim), ref.max(dim))
        for dim in (0, 1):
            assert_close(x.softmax(dim), np_softmax(ref, dim), rtol=1e-5, atol=1e-6)
            assert_close(x.cumsum(dim), np.cumsum(wide(ref), dim), rtol=1e-5, atol=1e-4)
            assert_close(x.max(dim).indices, np.argmax(ref, dim))
    i = torch.tensor((a * 10).astype(np.int64))
    assert_close(i.sum(0), (a * 10).astype(np.int64).sum(0))
    assert_close(i.T.sum(), (a * 10).astype(np.int64).sum())
    assert_close(torch.tensor(a > 0).all(0), (a > 0).all(0))
    assert_close(torch.tensor(a > 0).any(1), (a > 0).any(1))


@pytest.mark.parametrize("tuning", list(TUNINGS))
def test_two_input_reductions_under_every_plan(tuning, monkeypatch):
    """Reductions of a product of two inputs (the normalisations' backward: sum(dy * xhat) over the
    batch) split into stages like any other: the stage that combines partial states has no second
    input (its kernel failed to build under GPU plans, where the batch takes two stages)."""
    use_tuning(monkeypatch, tuning)
    rng = np.random.default_rng(15)
    a, g = rng.standard_normal((2048, 24)).astype(np.float32), rng.standard_normal((2048, 24)).astype(np.float32)
    x = torch.tensor(a, requires_grad=True)
    norm = torch.nn.LayerNorm(24)
    norm(x).backward(torch.tensor(g))
    mean, var = wide(a).mean(1, keepdims=True), wide(a).var(1, keepdims=True)
    xhat = (wide(a) - mean) / np.sqrt(var + 1e-5)
    assert_close(norm.weight.grad, (wide(g) * xhat).sum(0), rtol=1e-4, atol=1e-3)
    assert_close(norm.bias.grad, wide(g).sum(0), rtol=1e-4, atol=1e-3)
    dxhat = wide(g)  # weight is ones
    dx = (dxhat - dxhat.mean(1, keepdims=True) - xhat * (dxhat * xhat).mean(1, keepdims=True)) / np.sqrt(var + 1e-5)
    assert_close(x.grad, dx, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("tuning", ["device", "gpu_like"])
def test_large_extents(tuning, monkeypatch):
    use_tuning(monkeypatch, tuning)
    rng = np.random.default_rng(12)
    v = rng.standard_normal(1_000_003).astype(np.float32)
    v[777_777] = 9.0
    x = torch.tensor(v)
    scale = math.sqrt(v.size) * 1e-5
    assert abs(x.sum().item() - wide(v).sum()) < scale
    assert x.argmax().item() == 777_777 and x.max(0).indices.item() == 777_777
    assert abs(x.mean().item() - wide(v).mean()) < 1e-6
    assert abs(x.var().item() - wide(v).var(ddof=1)) < 1e-4
    assert abs(x.norm().item() - np.linalg.norm(wide(v))) < 1e-3
    assert_close(x.cumsum(0)[::9973], np.cumsum(wide(v))[::9973], rtol=1e-4, atol=0.05)
    m = rng.standard_normal((4096, 1024)).astype(np.float32)
    y = torch.tensor(m)
    for dim in (0, 1):
        assert_close(y.sum(dim), wide(m).sum(dim), rtol=1e-4, atol=1e-3)
        assert_close(y.argmax(dim), m.argmax(dim))
        assert_close(y.amin(dim), m.min(dim))
        assert_close(y.softmax(dim)[::97], np_softmax(m, dim)[::97], rtol=1e-4, atol=1e-7)
    assert abs(y.sum().item() - wide(m).sum()) < 0.05
    assert_close(y.T.sum(0), wide(m).sum(1), rtol=1e-4, atol=1e-3)
    assert_close(y.cumsum(0)[-1], wide(m).sum(0), rtol=1e-4, atol=1e-3)
    assert torch.ones(1_000_003, dtype=torch.int8).sum().item() == 1_000_003
    assert torch.zeros(100_000).argmax().item() == 0


# ---- autograd -----------------------------------------------------------------------------------------------
def _x(*shape, seed=13, dtype=torch.float64):
    a = np.random.default_rng(seed).uniform(0.5, 2.0, shape) * np.random.default_rng(seed + 1).choice([-1, 1], shape)
    return torch.tensor(a, dtype=dtype, requires_grad=True)


GRAD_CASES = {
    "sum": (lambda x: x.sum(), "SumBackward0"),
    "sum_dims_keepdim": (lambda x: x.sum((0, -1), keepdim=True), "SumBackward1"),
    "sum_dim": (lambda x: torch.sum(x, 1), "SumBackward1"),
    "mean": (lambda x: x.mean(), "MeanBackward0"),
    "mean_dim": (lambda x: x.mean(-1, keepdim=True), "MeanBackward1"),
    "prod": (lambda x: x.prod(), "ProdBackward0"),
    "prod_dim": (lambda x: x.prod(1), "ProdBackward1"),
    "max": (lambda x: x.max(), "MaxBackward1"),
    "max_dim": (lambda x: x.max(1).values, "MaxBackward0"),
    "min_dim_keepdim": (lambda x: x.min(0, keepdim=True)[0], "MinBackward0"),
    "amax": (lambda x: x.amax((0, 2)), "AmaxBackward0"),
    "amin": (lambda x: x.amin(-1, True), "AminBackward0"),
    "var": (lambda x: x.var(1), "VarBackward0"),
    "var_keepdim_c0": (lambda x: x.var((0, 1), correction=0, keepdim=True), "VarBackward0"),
    "std": (lambda x: x.std(), "StdBackward0"),
    "std_dim": (lambda x: x.std(2, keepdim=True), "StdBackward0"),
    "var_mean": (lambda x: torch.var_mean(x, 1), "VarMeanBackward0"),
    "norm": (lambda x: x.norm(), "NormBackward1"),
    "norm_dim": (lambda x: torch.norm(x, 2, 1, True), "NormBackward1"),
    "norm_1": (lambda x: x.norm(1, 0), "NormBackward1"),
    "norm_3": (lambda x: x.norm(3, (1, 2)), "NormBackward1"),
    "norm_inf": (lambda x: x.norm(math.inf, -1), "NormBackward1"),
    "logsumexp": (lambda x: x.logsumexp(1), "LogsumexpBackward0"),
    "logsumexp_keepdim": (lambda x: x.logsumexp((0, 2), keepdim=True), "LogsumexpBackward0"),
    "softmax": (lambda x: x.softmax(1), "SoftmaxBackward0"),
    "softmax_last": (lambda x: torch.softmax(x, -1), "SoftmaxBackward0"),
    "log_softmax": (lambda x: x.log_softmax(0), "LogSoftmaxBackward0"),
    "cumsum": (lambda x: x.cumsum(1), "CumsumBackward0"),
    "cumprod": (lambda x: x.cumprod(-1), "CumprodBackward0"),
    "logcumsumexp": (lambda x: x.logcumsumexp(0), "LogcumsumexpBackward0"),
}


@needs_fp64  # finite differences need float64
@pytest.mark.parametrize("case", list(GRAD_CASES))
def test_gradcheck(case):
    fn, node = GRAD_CASES[case]
    x = _x(2, 3, 4)
    out = fn(x)
    first = out[0] if isinstance(out, tuple) else out
    assert type(first.grad_fn).__name__ == node
    assert gradcheck(fn, (x,))


@needs_fp64
def test_gradcheck_non_contiguous_and_zero_dim():
    x = _x(4, 3)
    assert gradcheck(lambda a: a.T.sum(0), (x,))
    assert gradcheck(lambda a: a[:, ::2].softmax(0), (x,))
    assert gradcheck(lambda a: a.T.var(1), (x,))
    s = _x(1).reshape(())
    s = s.detach().requires_grad_()
    for fn in (lambda a: a.sum(0), lambda a: a.max(0).values, lambda a: a.cumsum(0), lambda a: a.logsumexp(0),
               lambda a: a.prod(), lambda a: a.norm()):
        assert gradcheck(fn, (s,))


PROD_WITH_ZEROS = np.array([[1.5, 0., 3.], [0., 0., 2.], [1., 2., -3.]])


def test_prod_gradient_with_zeros():
    x = torch.tensor(PROD_WITH_ZEROS, dtype=PRECISE, requires_grad=True)
    x.prod(1).sum().backward()
    assert_close(x.grad, [[0., 4.5, 0.], [0., 0., 0.], [-6., -3., 2.]])


@needs_fp64
def test_prod_and_cumprod_gradchecks_with_zeros():
    x = torch.tensor(PROD_WITH_ZEROS, requires_grad=True)
    for fn in (lambda t: t.prod(1), lambda t: t.prod(), lambda t: t.prod(0, keepdim=True), lambda t: t.cumprod(1),
               lambda t: t.cumprod(0)):
        assert gradcheck(fn, (x,))


def test_max_gradients_at_ties():
    x = torch.tensor([[1., 3., 3.], [2., 0., 2.]], requires_grad=True)
    x.amax(1).sum().backward()
    assert x.grad.tolist() == [[0., 0.5, 0.5], [0.5, 0., 0.5]]  # amax splits evenly among ties
    x.grad = None
    x.max(1).values.sum().backward()
    assert x.grad.tolist() == [[0., 1., 0.], [1., 0., 0.]]  # max(dim) picks the reported index
    x.grad = None
    x.max().backward()
    assert x.grad.tolist() == [[0., 0.5, 0.5], [0., 0., 0.]]


def second_order_error(f, a):
    """|d/da (u . grad f(a))| through create_graph against central differences of u . grad f(a)."""
    u = torch.tensor(np.random.default_rng(15).standard_normal(tuple(a.shape)))

    def weighted_grad(v):
        v = v.detach().requires_grad_()
        return v, (torch.autograd.grad(f(v), v, create_graph=True)[0] * u).sum()

    v, s = weighted_grad(a)
    analytic = np_of(torch.autograd.grad(s, v)[0])
    base, eps = np_of(a), 1e-6
    numeric = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        hi, lo = base.copy(), base.copy()
        hi[i] += eps
        lo[i] -= eps
        numeric[i] = (weighted_grad(torch.tensor(hi))[1].item() - weighted_grad(torch.tensor(lo))[1].item()) / (2 * eps)
    return np.abs(analytic - numeric).max()


@needs_fp64  # central differences need float64
def test_second_order_gradients():
    x = _x(3, 4)
    assert second_order_error(lambda a: a.softmax(1)[:, 0].sum(), x) < 1e-6
    assert second_order_error(lambda a: (a * a).sum(1).norm(), x) < 1e-6
    assert second_order_error(lambda a: a.logsumexp(0).sum() + a.var(), x) < 1e-6


def test_broadcast_backward():
    x = _x(3, 4, dtype=PRECISE)
    b = torch.tensor(np.ones((1, 4)), dtype=PRECISE, requires_grad=True)
    (x.detach() * b).sum().backward()  # broadcasting backward goes through sum(dims, keepdim=True)
    assert_close(b.grad, np_of(x).sum(0, keepdims=True))


def test_integer_outputs_carry_no_grad():
    x = _x(2, 3, dtype=PRECISE)
    assert not x.argmax().requires_grad and not x.max(1).indices.requires_grad
    assert not x.all().requires_grad and not x.count_nonzero().requires_grad
    assert x.max(1).values.requires_grad


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_matches_pytorch_on_mixed_cases():
    a = np.random.default_rng(14).standard_normal((3, 5, 4)).astype(np.float32)
    x, t = torch.tensor(a), real_torch.tensor(a)
    pairs = [(x.std(1, correction=0), t.std(1, correction=0)), (x.logsumexp((0, 2)), t.logsumexp((0, 2))),
             (x.norm(3, 1), t.norm(3, 1)), (x.amax((0, 1)), t.amax((0, 1))), (x.log_softmax(1), t.log_softmax(1)),
             (x.var_mean(2)[0], real_torch.var_mean(t, 2)[0])]
    for got, want in pairs:
        assert_close(got, want.numpy(), rtol=1e-5, atol=1e-6)
    assert repr(x.max(1)).split("values=")[0] == repr(t.max(1)).split("values=")[0]


def test_a_loop_limit_keeps_each_work_items_share_below_it(monkeypatch):
    """llvmpipe ends a work-item's loops after 65 535 iterations (silently wrong sums): the plan splits a
    row so that a few passes over a work-item's chunk stay below the device's limit, and drops the
    16-output lanes whose inner loop multiplies the count (test_large_extents fails there without)."""
    from cltensor import launch
    backend = torch.device("cpu").backend
    monkeypatch.setattr(backend, "loop_limit", 65_535)
    monkeypatch.setattr(backend, "cpu_tuned", True)
    for M, R, rows, cols in ((1, 1_000_003, True, False), (1024, 4096, False, True), (16, 300_000, False, True)):
        mode, S, chunk, W, V, lanes = launch.reduce._reduce_plan(backend, M, R, rows, cols, False, M == 1)
        assert mode == "items" and S * chunk >= R and 4 * chunk <= 65_535 and (V == 1 or lanes == "elements")
