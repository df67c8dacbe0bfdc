"""Pooling through the window kernel family: max/avg/adaptive/lp pooling and max_unpool in 1-3 spatial
dims against direct-loop numpy float64 references (always) and PyTorch (when installed): values,
indices, gradients, odd sizes, strides, dilation, ceil_mode, padding, non-contiguous and channels_last
inputs; gradcheck in float64; PyTorch's errors (raised before any kernel runs) and module reprs."""
import itertools
import math

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
import cltensor.nn.functional as F
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, assert_close, needs_fp64, np_of, real_torch

RNG = np.random.default_rng(29)


def _out_len(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def np_pool(x, kind, k, s, p, d=None, ceil_mode=False, count_include_pad=True, divisor=None):
    """Direct loops: (values, flat spatial argmax or None) of max/avg pooling of x (N, C, *spatial)."""
    n = len(k)
    d = d or (1,) * n
    spatial = x.shape[2:]
    outs = [_out_len(spatial[i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(n)]
    y = np.zeros(x.shape[:2] + tuple(outs))
    idx = np.zeros(y.shape, dtype=np.int64)
    for b, c, *o in itertools.product(*map(range, y.shape)):
        starts = [o[i] * s[i] - p[i] for i in range(n)]
        taps = [[st + j * d[i] for j in range(k[i])] for i, st in enumerate(starts)]
        inside = [[t for t in taps[i] if 0 <= t < spatial[i]] for i in range(n)]
        points = list(itertools.product(*inside))
        vals = [x[(b, c) + pt] for pt in points]
        if kind == "max":
            j = int(np.argmax(vals))
            y[(b, c, *o)] = vals[j]
            idx[(b, c, *o)] = np.ravel_multi_index(points[j], spatial)
        else:
            ends = [min(starts[i] + k[i], spatial[i] + p[i]) for i in range(n)]
            full = math.prod(e - st for e, st in zip(ends, starts))
            count = divisor or (full if count_include_pad else len(points))
            y[(b, c, *o)] = sum(vals) / count
    return y, idx


def np_adaptive(x, kind, out):
    n = len(out)
    spatial = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(out))
    for b, c, *o in itertools.product(*map(range, y.shape)):
        ranges = [range(o[i] * spatial[i] // out[i], -(-(o[i] + 1) * spatial[i] // out[i])) for i in range(n)]
        vals = [x[(b, c) + pt] for pt in itertools.product(*ranges)]
        y[(b, c, *o)] = max(vals) if kind == "max" else np.mean(vals)
    return y


def _layout(x, layout):
    """A float32 tensor with x's values: contiguous, channels_last-strided or a stepped view."""
    if layout == "channels_last":
        perm = (0,) + tuple(range(2, x.ndim)) + (1,)
        back = np.argsort(perm)
        return torch.tensor(np.ascontiguousarray(x.transpose(perm)), dtype=torch.float32).permute(*back)
    if layout == "stepped":
        return torch.tensor(np.repeat(x, 2, axis=-1), dtype=torch.float32)[..., ::2]
    return torch.tensor(x, dtype=torch.float32)


def channels_last_strides(shape):
    """The strides of a contiguous (N, *spatial, C) tensor viewed as (N, C, *spatial)."""
    order = (0,) + tuple(range(2, len(shape))) + (1,)
    strides, step = [0] * len(shape), 1
    for d in reversed(order):
        strides[d] = step
        step *= shape[d]
    return tuple(strides)


def assert_layout_follows(y, layout, keeps=True):
    """PyTorch's rule: a channels_last (or channels_last_3d) input gives a channels_last output (except
    where keeps is False: PyTorch's 3-d average and adaptive pools return contiguous results)."""
    if layout == "channels_last" and y.dim() > 3 and keeps:
        assert y.stride() == channels_last_strides(tuple(y.shape))
    elif y.dim() > 3:
        assert y.is_contiguous()


MAX_CASES = [  # (input shape, kernel, stride, padding, dilation, ceil_mode)
    ((2, 3, 11), (3,), (2,), (1,), (2,), True),
    ((2, 3, 7, 9), (3, 2), (2, 1), (1, 0), (1, 2), False),
    ((1, 2, 7, 8), (3, 3), (2, 2), (1, 1), (1, 1), True),
    ((1, 2, 5, 6, 7), (2, 3, 2), (2, 2, 1), (1, 1, 0), (1, 1, 2), True),
]


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "stepped"])
@pytest.mark.parametrize("shape,k,s,p,d,ceil_mode", MAX_CASES)
def test_max_pool(shape, k, s, p, d, ceil_mode, layout):
    x = RNG.standard_normal(shape)
    fn = getattr(F, f"max_pool{len(k)}d")
    xt = _layout(x, layout).requires_grad_()
    y, idx = fn(xt, k, s, p, d, ceil_mode, return_indices=True)
    assert_layout_follows(y, layout)
    assert_layout_follows(idx, layout)
    ref, ref_idx = np_pool(x.astype(np.float32).astype(np.float64), "max", k, s, p, d, ceil_mode)
    assert_close(y, ref)
    assert (np_of(idx) == ref_idx).all()
    g = RNG.standard_normal(ref.shape)
    y.backward(torch.tensor(g, dtype=torch.float32))
    expected = np.zeros(x.shape)
    flat = expected.reshape(x.shape[:2] + (-1,))
    for pos in itertools.product(*map(range, ref.shape)):
        flat[pos[:2] + (ref_idx[pos],)] += g[pos]
    assert_close(xt.grad, expected, rtol=1e-5, atol=1e-5)


AVG_CASES = [  # (input shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    ((2, 3, 11), (3,), (2,), (1,), True, False, None),
    ((2, 3, 7, 9), (3, 2), (2, 1), (1, 1), True, True, None),
    ((1, 2, 7, 8), (3, 3), (2, 3), (1, 0), False, False, 5),
    ((1, 2, 5, 6, 7), (2, 3, 2), (2, 2, 1), (1, 1, 0), True, False, None),
]


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("shape,k,s,p,ceil_mode,cip,div", AVG_CASES)
def test_avg_pool(shape, k, s, p, ceil_mode, cip, div, layout):
    x = RNG.standard_normal(shape)
    fn = getattr(F, f"avg_pool{len(k)}d")
    kw = {"divisor_override": div} if div else {}
    xt = _layout(x, layout).requires_grad_()
    y = fn(xt, k, s, p, ceil_mode, cip, **kw)
    assert_layout_follows(y, layout, keeps=len(k) == 2)
    ref, _ = np_pool(x.astype(np.float32).astype(np.float64), "avg", k, s, p, None, ceil_mode, cip, div)
    assert_close(y, ref)
    if HAVE_TORCH:
        r = real_torch.tensor(x, dtype=real_torch.float32, requires_grad=True)
        getattr(real_torch.nn.functional, f"avg_pool{len(k)}d")(r, k, s, p, ceil_mode, cip, **kw).backward(
            real_torch.ones(ref.shape))
        y.backward(torch.ones(ref.shape))
        assert_close(xt.grad, r.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,out", [((2, 3, 10), (4,)), ((2, 3, 7, 9), (3, 4)), ((1, 2, 5, 7), (7, 3)),
                                       ((2, 3, 6, 5), (1, 1)), ((1, 2, 5, 7), (1, 4)),
                                       ((1, 2, 4, 5, 6), (3, 2, 4))])
def test_adaptive_pools(shape, out):
    x = RNG.standard_normal(shape)
    n = len(out)
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    avg = getattr(F, f"adaptive_avg_pool{n}d")(xt, out)
    assert_close(avg, np_adaptive(x.astype(np.float32), "avg", out))
    mx, idx = getattr(F, f"adaptive_max_pool{n}d")(xt, out, return_indices=True)
    assert_close(mx, np_adaptive(x.astype(np.float32), "max", out))
    (avg.sum() + (mx * 2).sum()).backward()
    if HAVE_TORCH:
        r = real_torch.tensor(x, dtype=real_torch.float32, requires_grad=True)
        ra = getattr(real_torch.nn.functional, f"adaptive_avg_pool{n}d")(r, out)
        rm, ri = getattr(real_torch.nn.functional, f"adaptive_max_pool{n}d")(r, out, return_indices=True)
        (ra.sum() + (rm * 2).sum()).backward()
        assert (np_of(idx) == ri.numpy()).all()
        assert_close(xt.grad, r.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,out", [((2, 3, 7, 9), (3, 4)), ((1, 2, 4, 5, 6), (3, 2, 4))])
def test_adaptive_pools_channels_last(shape, out):
    x = RNG.standard_normal(shape)
    n = len(out)
    xt = _layout(x, "channels_last").requires_grad_()
    avg = getattr(F, f"adaptive_avg_pool{n}d")(xt, out)
    mx, idx = getattr(F, f"adaptive_max_pool{n}d")(xt, out, return_indices=True)
    for t in (avg, mx, idx):
        assert_layout_follows(t, "channels_last", keeps=n == 2)
    assert_close(avg, np_adaptive(x.astype(np.float32), "avg", out))
    assert_close(mx, np_adaptive(x.astype(np.float32), "max", out))
    (avg.sum() + (mx * 2).sum()).backward()
    contiguous = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    (getattr(F, f"adaptive_avg_pool{n}d")(contiguous, out).sum()
     + (getattr(F, f"adaptive_max_pool{n}d")(contiguous, out) * 2).sum()).backward()
    assert_close(xt.grad, np_of(contiguous.grad), rtol=0, atol=0)


def test_unbatched_none_sizes_float16_and_nan():
    x = RNG.standard_normal((3, 6, 5))
    y = F.adaptive_avg_pool2d(torch.tensor(x, dtype=torch.float16), (None, 2))
    assert y.shape == (3, 6, 2) and y.dtype is torch.float16
    assert_close(y, np_adaptive(x[None], "avg", (6, 2))[0], dtype=torch.float16)
    x[1, 2, 3] = np.nan
    y, idx = F.max_pool2d(torch.tensor(x, dtype=torch.float32), 2, return_indices=True)
    assert np.isnan(np_of(y)[1, 1, 1]) and np_of(idx)[1, 1, 1] == 2 * 5 + 3


def test_lp_pool_and_unpool():
    x = np.abs(RNG.standard_normal((2, 3, 6, 7))) + 0.1
    xt = torch.tensor(x, dtype=torch.float32)
    y = F.lp_pool2d(xt, 2, (2, 3), stride=(2, 2))
    ref, _ = np_pool(x ** 2, "avg", (2, 3), (2, 2), (0, 0))
    assert_close(y, np.sqrt(ref * 6), rtol=1e-5, atol=1e-5)
    assert_close(F.lp_pool1d(xt[0], 3, 3), np.cbrt(np_pool(x[0] ** 3, "avg", (3,), (3,), (0,))[0] * 3), rtol=1e-5)
    pooled, idx = F.max_pool2d(xt, 2, return_indices=True)
    up = nn.MaxUnpool2d(2)(pooled, idx, output_size=(6, 7))
    expected = np.zeros(x.shape).reshape(2, 3, -1)
    np.put_along_axis(expected, np_of(idx).reshape(2, 3, -1), np_of(pooled).reshape(2, 3, -1), axis=2)
    assert_close(up, expected.reshape(x.shape))
    p6, i6 = F.max_pool2d(xt[..., :6], 2, return_indices=True)
    assert F.max_unpool2d(p6, i6, 2).shape == (2, 3, 6, 6)


@needs_fp64
@pytest.mark.parametrize("fn", [
    lambda a: F.max_pool2d(a, 3, 2, 1, 2, ceil_mode=True),
    lambda a: F.avg_pool3d(a.unsqueeze(2).expand(1, 2, 3, 5, 6), (2, 2, 3), 2, 1, ceil_mode=True,
                           count_include_pad=False),
    lambda a: F.adaptive_avg_pool2d(a, (3, 4)),
    lambda a: F.adaptive_max_pool1d(a.flatten(2), 7),
    lambda a: F.lp_pool2d(a.abs() + 1, 2, 2),
])
def test_gradcheck(fn):
    x = torch.tensor(RNG.permutation(60).reshape(1, 2, 5, 6) / 7.0, dtype=torch.float64, requires_grad=True)
    assert gradcheck(fn, (x,))


@pytest.mark.parametrize("call", [lambda F, a: F.max_pool2d(a, 3, 2, 1), lambda F, a: F.avg_pool2d(a, 2, 1, 1),
                                  lambda F, a: F.adaptive_avg_pool2d(a, (3, 2)),
                                  lambda F, a: F.adaptive_max_pool2d(a, (2, 4))])
def test_double_backward(call):
    """The gradient's dependence on the upstream gradient (create_graph=True), as PyTorch's."""
    x = RNG.permutation(30).reshape(1, 2, 3, 5).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    y = call(F, xt)
    g = torch.tensor(RNG.standard_normal(tuple(y.shape)).astype(np.float32), requires_grad=True)
    w = RNG.standard_normal(x.shape).astype(np.float32)
    (gx,) = torch.autograd.grad(y, xt, g, create_graph=True)
    (gx * torch.tensor(w)).sum().backward()
    assert g.grad is not None and g.grad.shape == y.shape
    if HAVE_TORCH:
        xr = real_torch.tensor(x, requires_grad=True)
        gr = real_torch.tensor(np_of(g), requires_grad=True)
        (gxr,) = real_torch.autograd.grad(call(real_torch.nn.functional, xr), xr, gr, create_graph=True)
        (gxr * real_torch.tensor(w)).sum().backward()
        assert_close(g.grad, gr.grad.numpy(), rtol=1e-5, atol=1e-5)


ERRORS = [  # call(F, x) with x of shape (1, 2, 5, 5)
    (lambda F, x: F.max_pool2d(x, 7), "Given input size: (2x5x5). Calculated output size: (2x0x0). Output size is "
                                      "too small"),
    (lambda F, x: F.max_pool2d(x, 3, padding=2), "pad should be at most half of effective kernel size, but got "
                                                 "pad=2, kernel_size=3 and dilation=1"),
    (lambda F, x: F.avg_pool2d(x, 3, padding=2), "pad should be at most half of effective kernel size"),
    (lambda F, x: F.avg_pool2d(x, 6, padding=0), "Output size is too small"),
    (lambda F, x: F.max_pool2d(x[0, 0], 2), "non-empty 3D or 4D (batch mode) tensor expected for input"),
    (lambda F, x: F.max_pool2d(x, 2, stride=0), "stride should not be zero"),
    (lambda F, x: F.max_pool1d(x[0], 6), "max_pool1d() Invalid computed output size: 0"),
    (lambda F, x: F.adaptive_avg_pool2d(x[0, 0, 0], 2), "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got "
                                                        "[5]"),
]


@pytest.mark.parametrize("call,msg", ERRORS)
def test_errors(call, msg):
    with pytest.raises(RuntimeError) as info:
        call(F, torch.zeros(1, 2, 5, 5))
    assert msg in str(info.value)
    if HAVE_TORCH:
        with pytest.raises(RuntimeError) as ref:
            call(real_torch.nn.functional, real_torch.zeros(1, 2, 5, 5))
        assert msg in str(ref.value)


MODULES = [("MaxPool1d", (3,), {}), ("MaxPool2d", (3, 2, 1), {"ceil_mode": True}), ("MaxPool3d", (2,), {}),
           ("AvgPool1d", (3,), {}), ("AvgPool2d", ((2, 3),), {"padding": 1}), ("AvgPool3d", (2,), {}),
           ("AdaptiveAvgPool1d", (3,), {}), ("AdaptiveAvgPool2d", ((2, None),), {}), ("AdaptiveAvgPool3d", (2,), {}),
           ("AdaptiveMaxPool1d", (3,), {}), ("AdaptiveMaxPool2d", (2,), {}), ("LPPool1d", (2, 3), {}),
           ("LPPool2d", (2, 2), {"stride": 1}), ("MaxUnpool2d", (2,), {})]


@pytest.mark.parametrize("name,args,kwargs", MODULES)
def test_module_reprs_and_values(name, args, kwargs):
    m = getattr(nn, name)(*args, **kwargs)
    if not HAVE_TORCH:
        assert repr(m).startswith(name + "(")
        return
    ref = getattr(real_torch.nn, name)(*args, **kwargs)
    assert repr(m) == repr(ref)
    if name.startswith("MaxUnpool"):
        return
    dims = int(name[-2])
    x = np.abs(RNG.standard_normal((2, 3, 6, 7, 8)[:dims + 2])).astype(np.float32) + 0.1
    assert_close(m(torch.tensor(x)), ref(real_torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8])
def test_integer_inputs(dtype):
    x = RNG.integers(0, 100, (2, 3, 5, 7)).astype(dtype.np)
    y, idx = F.max_pool2d(torch.tensor(x), 2, return_indices=True)
    ref, ref_idx = np_pool(x.astype(np.float64), "max", (2, 2), (2, 2), (0, 0))
    assert y.dtype is dtype and (np_of(y) == ref).all() and (np_of(idx) == ref_idx).all()
    if dtype is torch.int64:  # PyTorch averages int64 only, truncating the quotient
        avg = F.avg_pool2d(torch.tensor(x), 3, 2, 1)
        ref, _ = np_pool(x.astype(np.float64), "avg", (3, 3), (2, 2), (1, 1))
        assert avg.dtype is dtype and (np_of(avg) == np.trunc(ref)).all()
    else:
        with pytest.raises(NotImplementedError, match="avg_pool2d"):
            F.avg_pool2d(torch.tensor(x), 2)
    with pytest.raises(NotImplementedError, match="adaptive_avg_pool2d"):
        F.adaptive_avg_pool2d(torch.tensor(x), 2)


@pytest.mark.skipif(not hasattr(torch, "bfloat16"), reason="no bfloat16 in this build")
def test_bfloat16():
    x = RNG.standard_normal((2, 3, 6, 7)).astype(np.float32)
    xb = torch.tensor(x).to(torch.bfloat16)
    exact = np_of(xb.float()).astype(np.float64)  # the bfloat16 values themselves
    y = F.max_pool2d(xb, 3, 2, 1)
    assert y.dtype is torch.bfloat16
    assert_close(y.float(), np_pool(exact, "max", (3, 3), (2, 2), (1, 1))[0], rtol=0, atol=0)
    avg = F.avg_pool2d(xb.requires_grad_(), 2)
    assert_close(avg.float(), np_pool(exact, "avg", (2, 2), (2, 2), (0, 0))[0], rtol=1e-2, atol=1e-2)
    avg.sum().backward()
    assert xb.grad.dtype is torch.bfloat16
