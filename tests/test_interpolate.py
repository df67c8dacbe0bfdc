"""F.interpolate / nn.Upsample: every mode against a direct-loop numpy float64 reference of PyTorch's
source-index rules (always) and PyTorch itself (when installed), values and gradients, sizes and scale
factors (recompute_scale_factor), align_corners, non-contiguous inputs; gradcheck in float64; errors and
reprs."""
import math

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
import cltensor.nn.functional as F
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, assert_close, needs_fp64, np_of, real_torch

RNG = np.random.default_rng(31)


def _src(o, in_size, out_size, align_corners, clamp):
    if align_corners:
        return o * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    s = (o + 0.5) * in_size / out_size - 0.5
    return max(s, 0.0) if clamp else s


def _cubic(t):
    a, t = -0.75, abs(t)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a if t < 2 else 0.0


def np_resample_1d(x, out_size, mode, align_corners):
    """Resamples the last axis of x (float64 loops over output positions)."""
    n = x.shape[-1]
    y = np.zeros(x.shape[:-1] + (out_size,))
    for o in range(out_size):
        if mode == "nearest":
            y[..., o] = x[..., min(int(math.floor(o * n / out_size)), n - 1)]
        elif mode == "nearest-exact":
            y[..., o] = x[..., min(int(math.floor((o + 0.5) * n / out_size)), n - 1)]
        elif mode == "linear":
            s = _src(o, n, out_size, align_corners, True)
            i0 = min(int(s), n - 1)
            i1 = min(i0 + 1, n - 1)
            y[..., o] = x[..., i0] * (1 - (s - i0)) + x[..., i1] * (s - i0)
        else:  # cubic
            s = _src(o, n, out_size, align_corners, False)
            b = math.floor(s)
            for k in range(-1, 3):
                y[..., o] += x[..., min(max(b + k, 0), n - 1)] * _cubic(s - (b + k))
    return y


def np_interpolate(x, sizes, mode, align_corners=False):
    base = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    for i, size in enumerate(sizes):
        axis = 2 + i
        x = np.moveaxis(np_resample_1d(np.moveaxis(x, axis, -1), size, base, align_corners), -1, axis)
    return x


CASES = [((2, 3, 7), "nearest", None, (12,)), ((2, 3, 7), "nearest-exact", None, (4,)),
         ((2, 3, 7), "linear", False, (11,)), ((2, 3, 7), "linear", True, (5,)),
         ((2, 3, 5, 6), "nearest", None, (9, 4)), ((2, 3, 5, 6), "bilinear", False, (8, 13)),
         ((2, 3, 5, 6), "bilinear", True, (3, 11)), ((1, 2, 5, 6), "bicubic", False, (9, 4)),
         ((1, 2, 5, 6), "bicubic", True, (7, 10)), ((1, 2, 3, 4, 5), "trilinear", False, (5, 3, 7)),
         ((1, 2, 3, 4, 5), "nearest", None, (6, 5, 2))]


@pytest.mark.parametrize("shape,mode,align_corners,size", CASES)
def test_interpolate_size(shape, mode, align_corners, size):
    x = RNG.standard_normal(shape)
    xt = torch.tensor(np.repeat(x, 2, axis=1), dtype=torch.float32)[:, ::2].requires_grad_()
    y = F.interpolate(xt, size=size, mode=mode, align_corners=align_corners)
    assert_close(y, np_interpolate(x.astype(np.float32).astype(np.float64), size, mode, align_corners),
                 rtol=1e-5, atol=1e-5)
    if HAVE_TORCH:
        r = real_torch.tensor(x, dtype=real_torch.float32, requires_grad=True)
        ry = real_torch.nn.functional.interpolate(r, size=size, mode=mode, align_corners=align_corners)
        g = RNG.standard_normal(tuple(ry.shape))
        ry.backward(real_torch.tensor(g, dtype=real_torch.float32))
        y.backward(torch.tensor(g, dtype=torch.float32))
        assert_close(xt.grad, r.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("mode", ["nearest", "bilinear", "area"])
@pytest.mark.parametrize("factor,recompute", [(2, None), (1.7, None), (0.6, True), (2.3, False), ((1.5, 0.5), None)])
def test_interpolate_scale_factor(mode, factor, recompute):
    x = RNG.standard_normal((1, 2, 5, 7)).astype(np.float32)
    kw = dict(scale_factor=factor, mode=mode, recompute_scale_factor=recompute)
    if mode in ("bilinear", "bicubic"):
        kw["align_corners"] = False
    y = F.interpolate(torch.tensor(x), **kw)
    assert_close(y, real_torch.nn.functional.interpolate(real_torch.tensor(x), **kw).numpy(), rtol=1e-5, atol=1e-5)


def test_float16_and_float64():
    x = RNG.standard_normal((1, 2, 4, 5))
    y = F.interpolate(torch.tensor(x, dtype=torch.float16), scale_factor=2, mode="bilinear")
    assert y.dtype is torch.float16
    assert_close(y, np_interpolate(x.astype(np.float16).astype(np.float64), (8, 10), "bilinear"), dtype=torch.float16)


@needs_fp64
@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_gradcheck(mode):
    x = torch.tensor(RNG.standard_normal((1, 1, 3, 4)), dtype=torch.float64, requires_grad=True)
    kw = {} if mode == "nearest" else {"align_corners": mode == "bicubic"}
    assert gradcheck(lambda a: F.interpolate(a, size=(5, 3), mode=mode, **kw), (x,))


ERRORS = [(dict(size=4, scale_factor=2), ValueError, "only one of size or scale_factor should be defined"),
          (dict(), ValueError, "either size or scale_factor should be defined"),
          (dict(size=4, mode="nearest", align_corners=True), ValueError, "align_corners option can only be set"),
          (dict(size=4, mode="linear"), NotImplementedError, "Got 4D input, but linear mode needs 3D input"),
          (dict(size=4, mode="trilinear"), NotImplementedError, "Got 4D input, but trilinear mode needs 5D input")]


@pytest.mark.parametrize("kwargs,exc,msg", ERRORS)
def test_errors(kwargs, exc, msg):
    with pytest.raises(exc) as info:
        F.interpolate(torch.zeros(1, 2, 3, 3), **kwargs)
    assert msg in str(info.value)
    if HAVE_TORCH:
        with pytest.raises(exc) as ref:
            real_torch.nn.functional.interpolate(real_torch.zeros(1, 2, 3, 3), **kwargs)
        assert msg in str(ref.value)


@pytest.mark.parametrize("name,args,kwargs", [("Upsample", (), {"scale_factor": 2}),
                                              ("Upsample", ((5, 7),), {"mode": "bilinear", "align_corners": True}),
                                              ("UpsamplingNearest2d", (), {"scale_factor": 3}),
                                              ("UpsamplingBilinear2d", ((4, 9),), {})])
def test_modules(name, args, kwargs):
    m = getattr(nn, name)(*args, **kwargs)
    x = RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)
    y = m(torch.tensor(x))
    if HAVE_TORCH:
        ref = getattr(real_torch.nn, name)(*args, **kwargs)
        assert repr(m) == repr(ref)
        assert_close(y, ref(real_torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype,mode", [(torch.uint8, "nearest"), (torch.uint8, "nearest-exact"),
                                        (torch.int64, "nearest"), (torch.int32, "bilinear"), (torch.bool, "bicubic"),
                                        (torch.int64, "area")])
def test_integer_inputs(dtype, mode):
    x = RNG.integers(0, 200, (1, 2, 3, 4)).astype(dtype.np)
    if dtype is torch.uint8:
        y = F.interpolate(torch.tensor(x), size=(5, 7), mode=mode)
        assert y.dtype is dtype
        assert (np.asarray(y.numpy()) == np_interpolate(x.astype(np.float64), (5, 7), mode)).all()
        return
    with pytest.raises(NotImplementedError) as info:
        F.interpolate(torch.tensor(x), size=(5, 7), mode=mode)
    if HAVE_TORCH:
        with pytest.raises(NotImplementedError) as ref:
            real_torch.nn.functional.interpolate(real_torch.tensor(x), size=(5, 7), mode=mode)
        assert str(info.value) == str(ref.value)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_half_precisions_round_once(name):
    """Blends run in float and round once to the 16-bit type: PyTorch's results to within one unit in
    the last place (float summation order may differ at a rounding boundary)."""
    if not hasattr(torch, name):
        pytest.skip(f"no {name} in this build")
    x = RNG.standard_normal((1, 2, 5, 6)).astype(np.float32)
    y = F.interpolate(torch.tensor(x).to(getattr(torch, name)), scale_factor=2, mode="bicubic")
    ref = real_torch.nn.functional.interpolate(real_torch.tensor(x).to(getattr(real_torch, name)), scale_factor=2,
                                               mode="bicubic")
    assert y.dtype is getattr(torch, name)
    ulp = 2.0 ** (-7 if name == "bfloat16" else -10)
    assert_close(y.float(), ref.float().numpy(), rtol=ulp, atol=ulp)
    assert np.mean(np_of(y.float()) == ref.float().numpy()) > 0.95
