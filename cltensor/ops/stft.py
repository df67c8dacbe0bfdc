"""torch.stft / torch.istft: frames of the signal (a strided view, no copy) times the window, one
batched FFT along the frame; the inverse overlap-adds the inverse FFTs with F.fold and divides by
the summed squared window. Everything runs as the device's FFT, elementwise and fold kernels, so
gradients come from theirs.
"""
from __future__ import annotations

import warnings

from .. import fft
from ..nn.functional import fold, pad
from ..tensor import register
from . import creation
from .complex import view_as_real


def _window(window, n_fft, win_length, x, caller):
    """The window zero-padded to n_fft and centred, as PyTorch applies it (ones when none is given)."""
    if window is None:
        warnings.warn(f"A window was not provided. A rectangular window will be applied{_ADVICE[caller]}",
                      UserWarning, stacklevel=3)
        window = creation.ones(win_length, dtype=x.dtype.to_real() if x.dtype.is_complex else x.dtype,
                               device=x.device)
    elif window.dim() != 1 or window.shape[0] != win_length:
        raise RuntimeError(f"{caller}: expected a 1D window tensor of size equal to win_length={win_length}, but got "
                           f"window with size {list(window.shape)}")
    left = (n_fft - win_length) // 2
    if win_length < n_fft:
        window = pad(window, (left, n_fft - win_length - left))
    return window


_ADVICE = {
    "stft": (",which is known to cause spectral leakage. Other windows such as torch.hann_window or "
             "torch.hamming_window are recommended to reduce spectral leakage.To suppress this warning and use a "
             "rectangular window, explicitly set `window=torch.ones(n_fft, device=<device>)`."),
    "istft": (".Please provide the same window used by stft to make the inversion lossless.To suppress this "
              "warning and use a rectangular window, explicitly set `window=torch.ones(n_fft, device=<device>)`."),
}


def _lengths(n_fft, hop_length, win_length, caller):
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if n_fft <= 0:
        raise RuntimeError(f"{caller}: expected 0 < n_fft, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(f"{caller}: expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win <= n_fft:
        raise RuntimeError(f"{caller}: expected 0 < win_length <= n_fft, but got win_length={win}")
    return hop, win


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None):
    """Short-time Fourier transform of a 1-D signal or a batch of them (B, L): (B?, freq, frames)."""
    if return_complex is None and not input.dtype.is_complex and not (window is not None and window.dtype.is_complex):
        raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will further "
                           "require that return_complex=True in a future PyTorch release.")
    if input.dim() not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got a {input.dim()}D tensor")
    hop, win = _lengths(n_fft, hop_length, win_length, "stft")
    x = input.unsqueeze(0) if input.dim() == 1 else input
    if center:
        x = pad(x.unsqueeze(1), (n_fft // 2, n_fft // 2), mode=pad_mode).squeeze(1)
    if not 0 < n_fft <= x.shape[-1]:
        raise RuntimeError(f"stft: expected 0 < n_fft < {x.shape[-1]}, but got n_fft={n_fft}")
    frames = x.unfold(-1, n_fft, hop) * _window(window, n_fft, win, x, "stft")  # (B, frames, n_fft)
    two_sided = onesided is False or frames.dtype.is_complex
    spec = fft.fft(frames, dim=-1) if two_sided else fft.rfft(frames, dim=-1)
    if normalized:
        spec = spec * n_fft ** -0.5
    spec = spec.transpose(-1, -2)
    if input.dim() == 1:
        spec = spec.squeeze(0)
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch release, stft will return "
                      "complex tensors for all inputs, and return_complex=False will raise an error.\nNote: you can "
                      "still call torch.view_as_real on the complex output to recover the old return format.",
                      UserWarning, stacklevel=2)
        return view_as_real(spec)
    return spec


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False, onesided=None,
          length=None, return_complex=False):
    """The inverse of stft by overlap-add: (B?, freq, frames) complex -> (B?, length) signal."""
    if not input.dtype.is_complex:
        raise RuntimeError("istft requires a complex-valued input tensor.")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex dtype, but got {input.dim()}")
    hop, win = _lengths(n_fft, hop_length, win_length, "istft")
    spec = input.unsqueeze(0) if input.dim() == 2 else input
    two_sided = onesided is False or (onesided is None and spec.shape[-2] == n_fft)
    if return_complex and not two_sided:
        raise RuntimeError("cannot have onesided output if window or input is complex")
    bins = n_fft if two_sided else n_fft // 2 + 1
    if spec.shape[-2] != bins:
        raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the input tensor to match "
                           f"n_fft / 2 + 1 when onesided=True, but got {spec.shape[-2]}")
    frames = spec.transpose(-1, -2)  # (B, frames, bins)
    if normalized:
        frames = frames * n_fft ** 0.5
    frames = fft.ifft(frames, dim=-1) if two_sided else fft.irfft(frames, n=n_fft, dim=-1)
    if two_sided and not return_complex:
        frames = frames.real
    w = _window(window, n_fft, win, frames, "istft")
    count = frames.shape[-2]
    full = n_fft + hop * (count - 1)
    overlap = dict(output_size=(1, full), kernel_size=(1, n_fft), stride=(1, hop))
    signal = fold((frames * w).transpose(-1, -2), **overlap).reshape(frames.shape[0], full)
    envelope = fold((w * w).reshape(1, n_fft, 1).expand(1, n_fft, count), **overlap).reshape(full)
    start = n_fft // 2 if center else 0
    end = full - (n_fft // 2 if center else 0) if length is None else start + length
    signal, envelope = signal[:, start:min(end, full)], envelope[start:min(end, full)]
    if float(envelope.abs().min()) < 1e-11:
        raise RuntimeError(f"istft: window overlap add min: {float(envelope.abs().min()):g}: the window does not "
                           "satisfy the NOLA (nonzero overlap-add) condition")
    signal = signal / envelope
    if length is not None and end > full:  # PyTorch zero-pads a requested length past the frames
        signal = pad(signal, (0, end - full))
    return signal.squeeze(0) if input.dim() == 2 else signal


register("stft", stft)
register("istft", istft)
