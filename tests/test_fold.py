"""F.unfold / F.fold and their modules against direct-loop numpy float64 references (always) and
PyTorch (when installed), gradients, gradcheck in float64, errors and reprs."""
import itertools

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
import cltensor.nn.functional as F
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, assert_close, needs_fp64, real_torch

RNG = np.random.default_rng(37)
GEOMS = [((3, 3), (1, 1), (0, 0), (1, 1)), ((2, 3), (2, 1), (1, 2), (2, 1)), ((1, 2), (1, 1), (0, 1), (1, 3))]


def _blocks(h, w, k, d, p, s):
    return [(h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1, (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1]


def np_unfold(x, k, d, p, s):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    bh, bw = _blocks(h, w, k, d, p, s)
    out = np.zeros((n, c, k[0], k[1], bh, bw))
    for i, j, a, b in itertools.product(range(k[0]), range(k[1]), range(bh), range(bw)):
        out[:, :, i, j, a, b] = xp[:, :, a * s[0] + i * d[0], b * s[1] + j * d[1]]
    return out.reshape(n, c * k[0] * k[1], bh * bw)


def np_fold(cols, size, k, d, p, s):
    n, ck, _ = cols.shape
    c = ck // (k[0] * k[1])
    bh, bw = _blocks(size[0], size[1], k, d, p, s)
    cols = cols.reshape(n, c, k[0], k[1], bh, bw)
    img = np.zeros((n, c, size[0] + 2 * p[0], size[1] + 2 * p[1]))
    for i, j, a, b in itertools.product(range(k[0]), range(k[1]), range(bh), range(bw)):
        img[:, :, a * s[0] + i * d[0], b * s[1] + j * d[1]] += cols[:, :, i, j, a, b]
    return img[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]


@pytest.mark.parametrize("k,d,p,s", GEOMS)
def test_unfold_fold(k, d, p, s):
    x = RNG.standard_normal((2, 3, 7, 6))
    xt = torch.tensor(x, dtype=torch.float32).transpose(2, 3).contiguous().transpose(2, 3).requires_grad_()
    cols = F.unfold(xt, k, d, p, s)
    ref = np_unfold(x, k, d, p, s)
    assert_close(cols, ref, rtol=1e-6, atol=1e-6)
    c = RNG.standard_normal(ref.shape)
    img = F.fold(torch.tensor(c, dtype=torch.float32), (7, 6), k, d, p, s)
    assert_close(img, np_fold(c, (7, 6), k, d, p, s), rtol=1e-5, atol=1e-5)
    cols.backward(torch.tensor(c, dtype=torch.float32))  # unfold's gradient is fold
    assert_close(xt.grad, np_fold(c, (7, 6), k, d, p, s), rtol=1e-5, atol=1e-5)
    if HAVE_TORCH:
        assert_close(cols, real_torch.nn.functional.unfold(real_torch.tensor(x), k, d, p, s).numpy(), rtol=1e-6,
                     atol=1e-6)
        assert_close(img, real_torch.nn.functional.fold(real_torch.tensor(c), (7, 6), k, d, p, s).numpy(),
                     rtol=1e-5, atol=1e-5)


def test_unbatched():
    x = RNG.standard_normal((3, 5, 4)).astype(np.float32)
    cols = F.unfold(torch.tensor(x), 2)
    assert_close(cols, np_unfold(x[None], (2, 2), (1, 1), (0, 0), (1, 1))[0])
    assert F.fold(cols, (5, 4), 2).shape == (3, 5, 4)


@needs_fp64
def test_gradcheck():
    x = torch.tensor(RNG.standard_normal((1, 2, 4, 5)), dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a: F.unfold(a, (2, 3), 1, 1, (2, 1)), (x,))
    c = torch.tensor(RNG.standard_normal((1, 12, 4)), dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a: F.fold(a, (3, 4), (2, 3), 1, 0, 1), (c,))


@pytest.mark.parametrize("call,exc,msg", [
    (lambda F, T: F.unfold(T.zeros(3, 4), 2), IndexError, "Dimension out of range"),
    (lambda F, T: F.unfold(T.zeros(2, 1, 3, 4, 5), 2), RuntimeError, "tensor with possibly 0 batch size and other "
                                                                     "non-zero dimensions for input, but got: [2, 1, "),
    (lambda F, T: F.fold(T.zeros(2, 1, 3, 4), 3, 2), RuntimeError, "(batch mode) tensor for input with possibly 0"),
    (lambda F, T: F.unfold(T.zeros(1, 1, 3, 3), 4), RuntimeError, "calculated shape of the array of sliding blocks"),
    (lambda F, T: F.fold(T.zeros(1, 5, 4), (3, 3), 2), RuntimeError, "divisible by the product of kernel_size"),
    (lambda F, T: F.fold(T.zeros(1, 4, 5), (3, 3), 2), RuntimeError, "but got input.size(2)=5"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc) as info:
        call(F, torch)
    assert msg in str(info.value)
    if HAVE_TORCH:
        with pytest.raises(exc) as ref:
            call(real_torch.nn.functional, real_torch)
        assert msg in str(ref.value)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
def test_reprs():
    assert repr(nn.Unfold((2, 3), padding=1)) == repr(real_torch.nn.Unfold((2, 3), padding=1))
    assert repr(nn.Fold((4, 5), 2, stride=2)) == repr(real_torch.nn.Fold((4, 5), 2, stride=2))
