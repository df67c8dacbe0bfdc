"""F.interpolate / nn.Upsample (the window kernel family's interpolation): every mode x align_corners x
size/scale_factor (recompute_scale_factor) x rank against PyTorch (values and gradients, up- and
downsampling, odd sizes, non-contiguous and channels_last inputs, half precisions) and against a
direct-loop numpy float64 reference of PyTorch's source-index rules; gradcheck in float64 per mode;
errors and reprs."""
import math

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
import cltensor.nn.functional as F
from cltensor.autograd import gradcheck, gradgradcheck
from helpers import HAVE_TORCH, assert_close, needs_fp64, np_of, real_torch

RNG = np.random.default_rng(31)


def _scale(in_size, out_size, align_corners, factor):
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return 1.0 / factor if factor else in_size / out_size


def _src(o, scale, align_corners, clamp):
    if align_corners:
        return o * scale
    s = (o + 0.5) * scale - 0.5
    return max(s, 0.0) if clamp else s


def _cubic(t):
    a, t = -0.75, abs(t)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a if t < 2 else 0.0


def np_resample_1d(x, out_size, mode, align_corners, factor=None):
    """Resamples the last axis of x (float64 loops over output positions)."""
    n = x.shape[-1]
    scale = _scale(n, out_size, align_corners, factor)
    y = np.zeros(x.shape[:-1] + (out_size,))
    for o in range(out_size):
        if mode == "nearest":
            y[..., o] = x[..., min(int(math.floor(o * scale)), n - 1)]
        elif mode == "nearest-exact":
            y[..., o] = x[..., min(int(math.floor((o + 0.5) * scale)), n - 1)]
        elif mode == "linear":
            if n == out_size:  # PyTorch copies when a dim keeps its size, whatever the scale factor
                y[..., o] = x[..., o]
                continue
            s = _src(o, scale, align_corners, True)
            i0 = min(int(s), n - 1)
            i1 = min(i0 + 1, n - 1)
            lam = min(s - i0, 1.0)
            y[..., o] = x[..., i0] * (1 - lam) + x[..., i1] * lam
        else:  # cubic
            s = _src(o, scale, align_corners, False)
            b = min(math.floor(s), n - 1)
            t = min(max(s - b, 0.0), 1.0)
            for k in range(-1, 3):
                y[..., o] += x[..., min(max(b + k, 0), n - 1)] * _cubic(t - k)
    return y


def np_interpolate(x, sizes, mode, align_corners=False, factors=None):
    base = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    for i, size in enumerate(sizes):
        axis = 2 + i
        factor = factors[i] if factors else None
        x = np.moveaxis(np_resample_1d(np.moveaxis(x, axis, -1), size, base, align_corners, factor), -1, axis)
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
        assert_close(xt.grad, r.grad.cpu().numpy(), rtol=1e-4, atol=1e-4)


MODES = [("nearest", 1), ("nearest", 2), ("nearest", 3), ("nearest-exact", 1), ("nearest-exact", 2),
         ("nearest-exact", 3), ("linear", 1), ("bilinear", 2), ("bicubic", 2), ("trilinear", 3)]
MODE_ALIGN = [(m, n, a) for m, n in MODES for a in ((None,) if m.startswith("nearest") else (False, True))]
IN_SHAPES = {1: (2, 3, 7), 2: (2, 3, 5, 6), 3: (1, 2, 3, 5, 4)}
SIZINGS = {  # per rank: up- and downsampling by size, scale factors kept or recomputed, mixed directions
    1: [dict(size=13), dict(size=3), dict(scale_factor=1.7), dict(scale_factor=0.6, recompute_scale_factor=True),
        dict(scale_factor=1.1)],
    2: [dict(size=(9, 4)), dict(size=(3, 2)), dict(scale_factor=(1.7, 0.5)),
        dict(scale_factor=2.3, recompute_scale_factor=True), dict(scale_factor=1.1)],
    3: [dict(size=(5, 3, 7)), dict(scale_factor=(0.7, 1.5, 2.0)), dict(scale_factor=0.6, recompute_scale_factor=True),
        dict(scale_factor=1.2)],
}
SIZED = [(m, n, a, kw) for m, n, a in MODE_ALIGN for kw in SIZINGS[n]]


def _torch_pair(x, mode, align_corners, kw, g, dtype="float32"):
    """PyTorch's output and input gradient for x (numpy) and output gradient g."""
    r = real_torch.tensor(x, dtype=getattr(real_torch, dtype), requires_grad=True)
    ry = real_torch.nn.functional.interpolate(r, mode=mode, align_corners=align_corners, **kw)
    ry.backward(real_torch.tensor(g, dtype=getattr(real_torch, dtype)))
    return ry.detach().cpu().numpy(), r.grad.cpu().numpy()


def _out_shape(x, mode, align_corners, kw):
    return tuple(real_torch.nn.functional.interpolate(real_torch.zeros(x.shape), mode=mode,
                                                      align_corners=align_corners, **kw).shape)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("mode,n,align_corners,kw", SIZED)
def test_against_pytorch(mode, n, align_corners, kw):
    """Values and input gradients: the taps and weights are PyTorch's own, so float32 agrees to the
    summation order (bit for bit where one tap decides)."""
    x = RNG.standard_normal(IN_SHAPES[n]).astype(np.float32)
    g = RNG.standard_normal(_out_shape(x, mode, align_corners, kw)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    y = F.interpolate(xt, mode=mode, align_corners=align_corners, **kw)
    y.backward(torch.tensor(g))
    ref, ref_grad = _torch_pair(x, mode, align_corners, kw, g)
    exact = mode.startswith("nearest")
    assert_close(y, ref, rtol=0 if exact else 1e-6, atol=0 if exact else 1e-6)
    assert_close(xt.grad, ref_grad, rtol=1e-5, atol=1e-5)


LAYOUT_CASES = [("nearest", 2, None, dict(scale_factor=2)), ("nearest-exact", 3, None, dict(size=(4, 7, 3))),
                ("bilinear", 2, False, dict(size=(7, 4))), ("bicubic", 2, True, dict(scale_factor=1.5)),
                ("trilinear", 3, False, dict(scale_factor=(1.5, 0.5, 2))), ("linear", 1, True, dict(size=9))]


def _in_layout(x, layout):
    if layout == "channels_last":  # stored (N, *spatial, C), viewed (N, C, *spatial)
        perm = (0,) + tuple(range(2, x.ndim)) + (1,)
        return torch.tensor(np.ascontiguousarray(x.transpose(perm))).permute(*np.argsort(perm))
    return torch.tensor(np.repeat(x, 2, axis=1))[:, ::2].transpose(-1, -2).contiguous().transpose(-1, -2)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("layout", ["channels_last", "strided"])
@pytest.mark.parametrize("mode,n,align_corners,kw", LAYOUT_CASES)
def test_layouts(mode, n, align_corners, kw, layout):
    """Inputs are read through their strides; a channels_last input gives a channels_last output (as
    PyTorch), and the gradient is the contiguous-input one."""
    x = RNG.standard_normal(IN_SHAPES[n]).astype(np.float32)
    xt = _in_layout(x, layout).requires_grad_()
    assert not xt.is_contiguous()
    y = F.interpolate(xt, mode=mode, align_corners=align_corners, **kw)
    g = RNG.standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(torch.tensor(g))
    ref, ref_grad = _torch_pair(x, mode, align_corners, kw, g)
    assert_close(y, ref, rtol=1e-6, atol=1e-6)
    assert_close(xt.grad, ref_grad, rtol=1e-5, atol=1e-5)
    if layout == "channels_last" and n > 1:
        r = real_torch.tensor(x).to(memory_format=real_torch.channels_last if n == 2 else real_torch.channels_last_3d)
        ry = real_torch.nn.functional.interpolate(r, mode=mode, align_corners=align_corners, **kw)
        assert y.stride() == ry.stride()


@needs_fp64
@pytest.mark.parametrize("mode,n,align_corners", MODE_ALIGN)
@pytest.mark.parametrize("sizing", ["up", "down", "factor"])
def test_float64_reference(mode, n, align_corners, sizing):
    """float64 against the numpy loops (sizes where nearest's o * scale never lands near an integer,
    where PyTorch's float scale and the reference's float64 one could round to different sides)."""
    shape = IN_SHAPES[n]
    sizes = {"up": (11, 8, 7), "down": (2, 3, 3), "factor": None}[sizing]
    factors = (1.3, 1.9, 0.7)[:n] if sizing == "factor" else None
    kw = dict(scale_factor=factors) if factors else dict(size=sizes[:n])
    x = RNG.standard_normal(shape)
    y = F.interpolate(torch.tensor(x, dtype=torch.float64), mode=mode, align_corners=align_corners, **kw)
    out = tuple(y.shape[2:])
    assert out == (tuple(math.floor(s * f) for s, f in zip(shape[2:], factors)) if factors else sizes[:n])
    ref_factors = None if align_corners else factors
    assert_close(y, np_interpolate(x, out, mode, bool(align_corners), ref_factors), rtol=1e-12, atol=1e-12)


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


GRAD_CASES = [("nearest", 1, None, dict(size=5)), ("nearest", 2, None, dict(scale_factor=(1.5, 0.7))),
              ("nearest", 3, None, dict(size=(3, 2, 3))), ("nearest-exact", 2, None, dict(size=(5, 3))),
              ("linear", 1, False, dict(scale_factor=1.7)), ("bilinear", 2, True, dict(size=(5, 3))),
              ("bilinear", 2, False, dict(size=(2, 5))), ("bicubic", 2, False, dict(scale_factor=(1.4, 0.8))),
              ("bicubic", 2, True, dict(size=(4, 6))), ("trilinear", 3, False, dict(size=(3, 4, 2)))]


@needs_fp64
@pytest.mark.parametrize("mode,n,align_corners,kw", GRAD_CASES)
def test_gradcheck(mode, n, align_corners, kw):
    """First and second derivatives by finite differences (the backward kernel's adjoint is the forward)."""
    x = torch.tensor(RNG.standard_normal((1, 2) + (3, 4, 3)[:n]), dtype=torch.float64, requires_grad=True)

    def fn(a):
        return F.interpolate(a, mode=mode, align_corners=align_corners, **kw)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("mode,n", MODES)
def test_node_names(mode, n):
    kw = {} if mode.startswith("nearest") else {"align_corners": False}
    x = torch.zeros((1, 1) + (2,) * n, requires_grad=True)
    y = F.interpolate(x, scale_factor=2, mode=mode, **kw)
    ry = real_torch.nn.functional.interpolate(real_torch.zeros((1, 1) + (2,) * n, requires_grad=True),
                                              scale_factor=2, mode=mode, **kw)
    assert y.grad_fn.name() == ry.grad_fn.name()
    gx, = torch.autograd.grad(y, x, torch.ones(y.shape, requires_grad=True), create_graph=True)
    rgx, = real_torch.autograd.grad(ry, ry.grad_fn.next_functions[0][0].variable,
                                    real_torch.ones(ry.shape, requires_grad=True), create_graph=True)
    assert gx.grad_fn.name() == rgx.grad_fn.name()


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
def test_bicubic_backward_at_unchanged_size():
    """PyTorch's bicubic backward copies the gradient when no size changes, even where a scale factor
    made the forward blend: reproduced, so that gradients agree with PyTorch's."""
    x = RNG.standard_normal((1, 2, 5, 6)).astype(np.float32)
    kw = dict(scale_factor=1.1)
    xt = torch.tensor(x, requires_grad=True)
    y = F.interpolate(xt, mode="bicubic", align_corners=False, **kw)
    g = RNG.standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(torch.tensor(g))
    ref, ref_grad = _torch_pair(x, "bicubic", False, kw, g)
    assert_close(y, ref, rtol=1e-6, atol=1e-6)
    assert not np.allclose(ref, x, atol=1e-3)
    assert_close(xt.grad, g, rtol=0, atol=0)
    assert_close(xt.grad, ref_grad, rtol=0, atol=0)


def test_empty_batch():
    x = torch.zeros((0, 2, 3, 4), requires_grad=True)
    y = F.interpolate(x, size=(5, 6), mode="bilinear")
    assert tuple(y.shape) == (0, 2, 5, 6)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 2, 3, 4)


ERRORS = [(dict(size=4, scale_factor=2), ValueError, "only one of size or scale_factor should be defined"),
          (dict(), ValueError, "either size or scale_factor should be defined"),
          (dict(size=4, mode="nearest", align_corners=True), ValueError, "align_corners option can only be set"),
          (dict(size=4, mode="linear"), NotImplementedError, "Got 4D input, but linear mode needs 3D input"),
          (dict(size=4, mode="trilinear"), NotImplementedError, "Got 4D input, but trilinear mode needs 5D input"),
          (dict(size=(0, 2), mode="bilinear"), RuntimeError,
           "Input and output sizes should be greater than 0, but got input (H: 3, W: 3) output (H: 0, W: 2)"),
          (dict(size=4, mode="linear", shape=(1, 2, 0)), RuntimeError,
           "Input and output sizes should be greater than 0, but got input (W: 0) and output (W: 4)"),
          (dict(size=4, mode="nearest", shape=(2, 0, 3, 3)), RuntimeError,
           "Non-empty 4D data tensor expected but got a tensor with sizes [2, 0, 3, 3]")]


@pytest.mark.parametrize("kwargs,exc,msg", ERRORS)
def test_errors(kwargs, exc, msg):
    kwargs = dict(kwargs)
    shape = kwargs.pop("shape", (1, 2, 3, 3))
    with pytest.raises(exc) as info:
        F.interpolate(torch.zeros(*shape), **kwargs)
    assert msg in str(info.value)
    if HAVE_TORCH:
        with pytest.raises(exc) as ref:
            real_torch.nn.functional.interpolate(real_torch.zeros(*shape), **kwargs)
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
        assert_close(y, ref(real_torch.tensor(x)).cpu().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype,mode", [(torch.uint8, "nearest"), (torch.uint8, "nearest-exact"),
                                        (torch.int64, "nearest"), (torch.int32, "bilinear"), (torch.bool, "bicubic"),
                                        (torch.int64, "area")])
def test_integer_inputs(dtype, mode):
    x = RNG.integers(0, 200, (1, 2, 3, 4)).astype(dtype.np)
    if dtype is torch.uint8:
        y = F.interpolate(torch.tensor(x), size=(5, 7), mode=mode)
        assert y.dtype is dtype
        assert (np.asarray(y.cpu().numpy()) == np_interpolate(x.astype(np.float64), (5, 7), mode)).all()
        return
    with pytest.raises(NotImplementedError) as info:
        F.interpolate(torch.tensor(x), size=(5, 7), mode=mode)
    if HAVE_TORCH:
        with pytest.raises(NotImplementedError) as ref:
            real_torch.nn.functional.interpolate(real_torch.tensor(x), size=(5, 7), mode=mode)
        assert str(info.value) == str(ref.value)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("name,mode,n", [("float16", "nearest", 2), ("float16", "linear", 1), ("float16", "bilinear", 2),
                                         ("bfloat16", "nearest-exact", 1), ("bfloat16", "bicubic", 2),
                                         ("bfloat16", "trilinear", 3)])
def test_half_precisions_round_once(name, mode, n):
    """Blends (and gradient sums) run in float and round once to the 16-bit type, with PyTorch's weights
    (rounded to the 16-bit type where its separable kernels store them so): PyTorch's results to within
    one unit in the last place (float summation order may differ at a rounding boundary), nearly all
    bit for bit; the nearest modes copy exactly."""
    x = RNG.standard_normal(IN_SHAPES[n]).astype(np.float32)
    kw = dict(scale_factor=1.5, mode=mode, align_corners=None if mode.startswith("nearest") else False)
    xt = torch.tensor(x).to(getattr(torch, name)).requires_grad_()
    y = F.interpolate(xt, **kw)
    r = real_torch.tensor(x).to(getattr(real_torch, name)).requires_grad_()
    ref = real_torch.nn.functional.interpolate(r, **kw)
    g = RNG.standard_normal(tuple(ref.shape)).astype(np.float32)
    y.backward(torch.tensor(g).to(getattr(torch, name)))
    ref.backward(real_torch.tensor(g).to(getattr(real_torch, name)))
    assert y.dtype is getattr(torch, name) and xt.grad.dtype is getattr(torch, name)
    ulp = 2.0 ** (-7 if name == "bfloat16" else -10)
    exact = mode.startswith("nearest")
    assert_close(y.float(), ref.float().detach().cpu().numpy(), rtol=0 if exact else ulp, atol=0 if exact else ulp)
    assert np.mean(np_of(y.float()) == ref.float().detach().cpu().numpy()) > 0.99
    assert_close(xt.grad.float(), r.grad.float().cpu().numpy(), rtol=2 * ulp, atol=2 * ulp)
