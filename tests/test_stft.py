"""torch.stft / torch.istft against PyTorch (values, shapes, gradients, errors) and the round trip."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import cltensor as torch
from helpers import HAVE_TORCH, assert_close, np_of, real_torch

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
SIGNAL = np.random.default_rng(0).standard_normal((3, 100)).astype(np.float32)
CASES = [dict(n_fft=16), dict(n_fft=16, hop_length=5, win_length=10, window="hann"), dict(n_fft=16, center=False),
         dict(n_fft=16, onesided=False), dict(n_fft=15, hop_length=3, normalized=True, pad_mode="constant"),
         dict(n_fft=32, hop_length=8, window="hamming", pad_mode="replicate"), dict(n_fft=16, return_complex=False)]
IDS = ["plain", "short-window", "no-centre", "two-sided", "odd-normalised", "hamming", "real-pairs"]


def _call(lib, fn, x, case):
    case = dict(case)
    case.setdefault("return_complex", True)
    window = case.pop("window", None)
    if window is not None:
        case["window"] = getattr(lib, f"{window}_window")(case.get("win_length", case["n_fft"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(lib, fn)(x, **case)


@needs_torch
@pytest.mark.parametrize("batched", [False, True], ids=["1d", "batched"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_stft_matches_pytorch(case, batched):
    x = SIGNAL if batched else SIGNAL[0]
    ours, theirs = _call(torch, "stft", torch.tensor(x), case), _call(real_torch, "stft", real_torch.tensor(x), case)
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype.name == str(theirs.dtype).split(".")[1]
    assert_close(ours, theirs.numpy(), rtol=1e-5, atol=2e-5)


@needs_torch
@pytest.mark.parametrize("case", CASES[:6], ids=IDS[:6])
def test_istft_inverts_stft_and_matches_pytorch(case):
    inverse = {k: v for k, v in case.items() if k != "pad_mode"}
    spec = _call(real_torch, "stft", real_torch.tensor(SIGNAL), case)
    for length in (None, 100, 90):
        ours = _call(torch, "istft", torch.tensor(spec.numpy()), dict(inverse, length=length, return_complex=False))
        theirs = _call(real_torch, "istft", spec, dict(inverse, length=length, return_complex=False))
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert_close(ours, theirs.numpy(), rtol=1e-4, atol=1e-5)
        if length == 100 and case.get("center", True):
            assert_close(ours, SIGNAL, rtol=1e-4, atol=1e-5)


@needs_torch
def test_stft_gradient_matches_pytorch():
    x = torch.tensor(SIGNAL[0], requires_grad=True)
    tx = real_torch.tensor(SIGNAL[0], requires_grad=True)
    case = dict(n_fft=16, hop_length=4, window="hann")
    _call(torch, "stft", x, case).abs().sum().backward()
    _call(real_torch, "stft", tx, case).abs().sum().backward()
    assert_close(x.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_errors_as_pytorch():
    x = torch.tensor(SIGNAL[0])
    with pytest.raises(RuntimeError, match="stft requires the return_complex parameter be given for real inputs"):
        torch.stft(x, 16)
    with pytest.raises(RuntimeError, match="expected a 1D window tensor of size equal to win_length=16"):
        torch.stft(x, 16, window=torch.ones(5), return_complex=True)
    with pytest.raises(RuntimeError, match="window overlap add min"):
        torch.istft(torch.stft(x, 16, return_complex=True), 16, window=torch.zeros(16))
    with pytest.raises(RuntimeError, match="istft requires a complex-valued input tensor"):
        torch.istft(torch.zeros(9, 4), 16)
    with pytest.warns(UserWarning, match="A window was not provided"):
        torch.stft(x, 16, return_complex=True)
    assert x.stft(16, return_complex=True).shape == (9, 26)
    assert np_of(torch.stft(x, 16, window=torch.ones(16), return_complex=True)).dtype == np.complex64
