"""F.pad (constant, reflect, replicate, circular) and the padding modules: values against a numpy
float64 reference (np.pad, which shares PyTorch's conventions for these modes) and PyTorch,
gradients by gradcheck/gradgradcheck and against PyTorch (reflect and replicate are window-family
kernels: also every rank, channels_last and strided inputs, wide replicate pads, node names),
PyTorch's errors and reprs."""
import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
import cltensor.nn.functional as F
from cltensor.autograd import gradcheck, gradgradcheck
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


WINDOW_CASES = [("reflect", (2, 3, 7), (6, 5)), ("replicate", (1, 2, 3), (5, 7)), ("replicate", (2, 1, 4), (2, -3)),
                ("reflect", (2, 3, 4, 5), (4, 1, 3, 2)), ("replicate", (3, 1, 5), (0, 3, 4, 4)),
                ("reflect", (1, 2, 3, 4, 5), (4, 3, 3, 2, 2, 1)), ("replicate", (2, 2, 3, 4), (1, 2, 3, 4, 5, 6)),
                ("reflect", (1, 2, 4, 3, 5), (-1, 2, 0, 2, 1, -2))]


def _layout(x, layout):
    if layout == "channels_last" and x.ndim in (4, 5):
        perm = (0,) + tuple(range(2, x.ndim)) + (1,)
        return torch.tensor(np.ascontiguousarray(x.transpose(perm))).permute(*np.argsort(perm))
    return torch.tensor(np.repeat(x, 2, axis=-1))[..., ::2]


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("layout", ["channels_last", "strided"])
@pytest.mark.parametrize("mode,shape,pad", WINDOW_CASES)
def test_window_pads_against_pytorch(mode, shape, pad, layout):
    x = RNG.standard_normal(shape).astype(np.float32)
    t = _layout(x, layout).requires_grad_()
    out = F.pad(t, pad, mode=mode)
    r = real_torch.tensor(x, requires_grad=True)
    ref = real_torch.nn.functional.pad(r, pad, mode=mode)
    assert_close(out, ref.detach().numpy(), rtol=0, atol=0)
    assert out.grad_fn.name() == ref.grad_fn.name()
    g = RNG.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(torch.tensor(g))
    ref.backward(real_torch.tensor(g))
    assert_close(t.grad, r.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.int64, torch.uint8, torch.bfloat16])
def test_pad_dtypes(dtype):
    """Pads copy: exact in every dtype (the values are small integers, exact in all of them)."""
    x = RNG.integers(0, 100, (2, 3, 5)).astype(np.float32)
    for mode in ("constant", "reflect", "replicate", "circular"):
        out = F.pad(torch.tensor(x).to(dtype), (2, 1), mode=mode)
        assert out.dtype is dtype
        assert_close(out.float(), np_pad(x, (2, 1), mode), rtol=0, atol=0)


@needs_fp64
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradcheck(mode):
    x = torch.tensor(RNG.standard_normal((1, 2, 3, 4)), dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a: F.pad(a, (2, 1, -1, 2), mode=mode), (x,))


@needs_fp64
@pytest.mark.parametrize("mode,shape,pad", [("reflect", (1, 2, 4), (3, 2)), ("replicate", (1, 2, 3, 2), (2, 1, 0, 3)),
                                            ("reflect", (1, 1, 2, 3, 3), (1, 2, 0, 1, 1, 1))])
def test_window_pad_gradgradcheck(mode, shape, pad):
    x = torch.tensor(RNG.standard_normal(shape), dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a: F.pad(a, pad, mode=mode), (x,))
    assert gradgradcheck(lambda a: F.pad(a, pad, mode=mode), (x,))


ERRORS = [((2, 3, 4), (1,), "constant", RuntimeError, "Padding length must be divisible by 2"),
          ((2, 3, 4), (1, 1), "foo", NotImplementedError, "Unrecognised padding mode foo"),
          ((2, 3, 4), (1, 1) * 4, "constant", RuntimeError, "padding length 8 and input of dimension 3"),
          ((1, 3, 4), (4, 4), "reflect", RuntimeError, "padding (4, 4) at dimension 2 of input [1, 3, 4]"),
          ((1, 3, 4), (5, 0), "circular", RuntimeError, "wrapping around more than once"),
          ((4,), (1, 1), "replicate", NotImplementedError, "Padding size 2 is not supported for 1D input tensor"),
          ((1, 3, 4), (1,) * 6, "reflect", NotImplementedError, "Padding size 6 is not supported for 3D"),
]


@pytest.mark.parametrize("shape,pad,mode,exc,msg", ERRORS)
def test_pad_errors(shape, pad, mode, exc, msg):
    with pytest.raises(exc) as info:
        F.pad(torch.zeros(shape), pad, mode=mode)
    assert msg in str(info.value)
    if HAVE_TORCH:
        with pytest.raises(exc) as ref:
            real_torch.nn.functional.pad(real_torch.zeros(shape), pad, mode=mode)
        assert msg in str(ref.value)


@pytest.mark.parametrize("shape,pad,mode,msg", [((1, 3, 4), (1, 1), "reflect", "\"reflection_pad1d\" not implemented"),
                                               ((1, 3, 4, 4), (1, 1, 1, 1), "replicate",
                                                "\"replication_pad2d\" not implemented")])
def test_bool_window_pads_raise(shape, pad, mode, msg):
    with pytest.raises(NotImplementedError, match=msg + " for 'Bool'"):
        F.pad(torch.zeros(shape, dtype=torch.bool), pad, mode=mode)
    if HAVE_TORCH:
        with pytest.raises(NotImplementedError, match=msg + " for 'Bool'"):
            real_torch.nn.functional.pad(real_torch.zeros(shape, dtype=real_torch.bool), pad, mode=mode)


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
