"""F.pad (constant, reflect, replicate, circular) and the padding modules: values against a numpy
float64 reference (np.pad, which shares PyTorch's conventions for these modes) and PyTorch,
gradients by gradcheck and against PyTorch, PyTorch's errors and reprs."""
import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
import cltensor.nn.functional as F
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, assert_close, needs_fp64, real_torch

RNG = np.random.default_rng(13)
NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _np_crop(x, pad):
    region = [slice(None)] * x.ndim
    for i in range(len(pad) // 2):
        d = x.ndim - 1 - i
        lo, hi = -min(pad[2 * i], 0), -min(pad[2 * i + 1], 0)
        region[d] = slice(lo, x.shape[d] - hi)
    return x[tuple(region)]


def np_pad(x, pad, mode, value=0.0):
    """The numpy reference: np.pad for positive entries; negative entries crop the input first
    (constant, circular) or the padded result (reflect, replicate), as PyTorch orders them."""
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (max(pad[2 * i], 0), max(pad[2 * i + 1], 0))
    kw = {"constant_values": value} if mode == "constant" else {}
    if mode in ("reflect", "replicate"):
        return _np_crop(np.pad(x, widths, mode=NP_MODE[mode]), pad)
    return np.pad(_np_crop(x, pad), widths, mode=NP_MODE[mode], **kw)


CASES = [((2, 7), (2, 3)), ((2, 3, 7), (-1, 2)), ((2, 3, 5, 6), (1, 2, 4, -1)), ((3, 4, 5, 6), (2, 0, 3, 3)),
         ((1, 2, 3, 4, 5), (1, 1, 2, 0, -1, 2))]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", CASES)
def test_pad_values_and_grad(mode, shape, pad):
    x = RNG.standard_normal(shape)
    t = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    src = t.transpose(-1, -2).contiguous().transpose(-1, -2)  # non-contiguous input, same values
    out = F.pad(src, pad, mode=mode, value=1.5) if mode == "constant" else F.pad(src, pad, mode=mode)
    expected = np_pad(x, pad, mode, 1.5)
    assert_close(out, expected)
    g = RNG.standard_normal(expected.shape)
    out.backward(torch.tensor(g, dtype=torch.float32))
    if HAVE_TORCH:
        r = real_torch.tensor(x, requires_grad=True)
        kw = {"value": 1.5} if mode == "constant" else {}
        real_torch.nn.functional.pad(r, pad, mode=mode, **kw).backward(real_torch.tensor(g))
        assert_close(t.grad, r.grad.numpy(), rtol=1e-5, atol=1e-5)
    else:
        assert t.grad.shape == t.shape


@pytest.mark.parametrize("dtype", [torch.float16, torch.int64])
def test_pad_dtypes(dtype):
    x = (RNG.standard_normal((2, 3, 5)) * 5).astype(dtype.np)
    for mode in ("constant", "reflect", "replicate", "circular"):
        out = F.pad(torch.tensor(x), (2, 1), mode=mode)
        assert out.dtype is dtype
        assert_close(out, np_pad(x, (2, 1), mode))


@needs_fp64
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradcheck(mode):
    x = torch.tensor(RNG.standard_normal((1, 2, 3, 4)), dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a: F.pad(a, (2, 1, -1, 2), mode=mode), (x,))


ERRORS = [((2, 3, 4), (1,), "constant", RuntimeError, "Padding length must be divisible by 2"),
          ((2, 3, 4), (1, 1), "foo", NotImplementedError, "Unrecognised padding mode foo"),
          ((2, 3, 4), (1, 1) * 4, "constant", RuntimeError, "padding length 8 and input of dimension 3"),
          ((1, 3, 4), (4, 4), "reflect", RuntimeError, "padding (4, 4) at dimension 2 of input [1, 3, 4]"),
          ((1, 3, 4), (5, 0), "circular", RuntimeError, "wrapping around more than once"),
          ((4,), (1, 1), "replicate", NotImplementedError, "Padding size 2 is not supported for 1D input tensor"),
          ((1, 3, 4), (1,) * 6, "reflect", NotImplementedError, "Padding size 6 is not supported for 3D")]


@pytest.mark.parametrize("shape,pad,mode,exc,msg", ERRORS)
def test_pad_errors(shape, pad, mode, exc, msg):
    with pytest.raises(exc) as info:
        F.pad(torch.zeros(shape), pad, mode=mode)
    assert msg in str(info.value)
    if HAVE_TORCH:
        with pytest.raises(exc) as ref:
            real_torch.nn.functional.pad(real_torch.zeros(shape), pad, mode=mode)
        assert msg in str(ref.value)


MODULES = [("ZeroPad1d", (2,)), ("ZeroPad2d", ((1, 2, 0, 3),)), ("ZeroPad3d", (1,)), ("ConstantPad1d", (2, 3.5)),
           ("ConstantPad2d", ((1, 0, 2, 1), -1.0)), ("ConstantPad3d", (1, 0.5)), ("ReflectionPad1d", (2,)),
           ("ReflectionPad2d", ((1, 0, 2, 1),)), ("ReflectionPad3d", (1,)), ("ReplicationPad1d", ((1, 3),)),
           ("ReplicationPad2d", (2,)), ("ReplicationPad3d", (1,)), ("CircularPad1d", (2,)),
           ("CircularPad2d", ((1, 0, 2, 1),)), ("CircularPad3d", (1,))]


@pytest.mark.parametrize("name,args", MODULES)
def test_padding_modules(name, args):
    dims = int(name[-2])
    shape = (2, 3, 4, 4, 4)[-(dims + 2):]
    x = RNG.standard_normal(shape).astype(np.float32)
    m = getattr(nn, name)(*args)
    out = m(torch.tensor(x))
    mode = {"Zer": "constant", "Con": "constant", "Ref": "reflect", "Rep": "replicate", "Cir": "circular"}[name[:3]]
    value = args[1] if name.startswith("Constant") else 0.0
    assert_close(out, np_pad(x, m.padding, mode, value))
    if HAVE_TORCH:
        ref = getattr(real_torch.nn, name)(*args)
        assert repr(m) == repr(ref)
        assert_close(out, ref(real_torch.tensor(x)).numpy())
