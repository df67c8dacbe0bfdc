"""torch.memory_format: channels_last / channels_last_3d layouts of the same logical (N, C, ...) tensor,
against PyTorch's strides and errors."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import cltensor as torch
from helpers import HAVE_TORCH, assert_close, np_of, real_torch

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
SHAPES = [((2, 3, 4, 5), "channels_last"), ((2, 3, 2, 4, 5), "channels_last_3d"), ((1, 3, 1, 1), "channels_last"),
          ((2, 1, 4, 5), "channels_last"), ((0, 3, 2, 2), "channels_last")]


def _strides(t):
    """The strides that matter: a size-1 dim's stride is arbitrary (PyTorch's own choice varies), and
    so are an empty tensor's."""
    if t.numel() == 0:
        return None
    return tuple(st if n > 1 else None for st, n in zip(t.stride(), t.shape))


def _pair(shape):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return torch.tensor(a), (real_torch.tensor(a) if HAVE_TORCH else None), a


def test_formats_are_named_singletons_that_pickle_to_themselves():
    assert repr(torch.channels_last) == "torch.channels_last"
    assert isinstance(torch.contiguous_format, torch.memory_format)
    for fmt in (torch.contiguous_format, torch.preserve_format, torch.channels_last, torch.channels_last_3d):
        assert pickle.loads(pickle.dumps(fmt)) is fmt


@needs_torch
@pytest.mark.parametrize("shape, name", SHAPES)
def test_contiguous_in_a_format_has_pytorch_strides(shape, name):
    x, tx, a = _pair(shape)
    fmt, tfmt = getattr(torch, name), getattr(real_torch, name)
    y, ty = x.contiguous(memory_format=fmt), tx.contiguous(memory_format=tfmt)
    assert _strides(y) == _strides(ty)
    assert y.is_contiguous(memory_format=fmt) and y.is_contiguous() == ty.is_contiguous()
    assert_close(y, a)
    assert y.contiguous(memory_format=fmt) is y
    for made, theirs in ((y.clone(), ty.clone()), (torch.empty_like(y), real_torch.empty_like(ty)),
                         (torch.zeros_like(y), real_torch.zeros_like(ty)), (y.to(torch.float64 if False else "cpu"), ty),
                         (x.to(memory_format=fmt), tx.to(memory_format=tfmt)), (y.float().half(), ty.float().half())):
        assert _strides(made) == _strides(theirs)
    assert_close(torch.zeros_like(y), np.zeros(shape))
    assert _strides(y.contiguous()) == _strides(ty.contiguous())


def test_wrong_rank_and_preserve_errors_as_pytorch():
    with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last format"):
        torch.randn(2, 3, 4).contiguous(memory_format=torch.channels_last)
    with pytest.raises(RuntimeError, match="required rank 5 tensor to use channels_last_3d format"):
        torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last_3d)
    with pytest.raises(RuntimeError, match="preserve memory format is unsupported by the contiguous operator"):
        torch.randn(2, 3).contiguous(memory_format=torch.preserve_format)
    assert not torch.randn(2, 3, 4).is_contiguous(memory_format=torch.channels_last)


def test_to_without_a_change_returns_the_tensor_itself():
    x = torch.randn(3, 4).t()
    assert x.to(x.device) is x and x.to(str(x.device)) is x and x.to(torch.float32) is x
    y = torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    assert y.to(memory_format=torch.channels_last) is y


@needs_torch
def test_a_channels_last_model_keeps_the_layout_through_conv_and_gives_pytorch_values():
    conv = torch.nn.Conv2d(3, 4, 3, padding=1).to(memory_format=torch.channels_last)
    tconv = real_torch.nn.Conv2d(3, 4, 3, padding=1).to(memory_format=real_torch.channels_last)
    with real_torch.no_grad():
        tconv.weight.copy_(real_torch.tensor(np_of(conv.weight)))
        tconv.bias.copy_(real_torch.tensor(np_of(conv.bias)))
    assert conv.weight.stride() == tconv.weight.stride() and isinstance(conv.weight, torch.nn.Parameter)
    x, tx, _ = _pair((2, 3, 6, 5))
    y = conv(x.contiguous(memory_format=torch.channels_last))
    ty = tconv(tx.contiguous(memory_format=real_torch.channels_last))
    assert y.stride() == ty.stride() and y.is_contiguous(memory_format=torch.channels_last)
    assert_close(y, ty.detach().cpu().numpy(), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    assert_close(conv.weight.grad, tconv.weight.grad.cpu().numpy(), rtol=1e-4, atol=1e-4)
