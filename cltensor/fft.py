"""torch.fft: discrete Fourier transforms on the device (kernels_cl/fft.cl.mako through ops/fft.py).

Every transform is a chain of one-dimensional maps (ops.fft.Plan) along the requested dims, each one
a Stockham FFT (lengths made of 2, 3, 5, 7) or a Bluestein chirp-z transform (any other length), with
gradients that are again transforms. Arguments and results follow PyTorch: `n`/`s` zero-pad or trim
the input, `dim` accepts negative dims, `norm` is "backward" (the default), "ortho" or "forward";
float32 and integer inputs give complex64, float64 gives complex128.

>>> import cltensor as torch
>>> torch.fft.fft(torch.tensor([1., 2., 3., 4.])).tolist()
[(10+0j), (-2+2j), (-2+0j), (-2-2j)]
"""
from __future__ import annotations

import math

from . import dtypes as dt
from . import launch
from .ops import fft as _ops
from .ops import creation
from .ops.fft import COMPLEX_IN, HERMITIAN_IN, REAL_IN, Plan
from .ops.joins import cat, roll
from .tensor import Tensor, wrap_dim

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = (None, "backward", "ortho", "forward")


# ---- arguments ---------------------------------------------------------------------------------
def _scale(norm, n, forward):
    """The factor PyTorch's norm applies to a transform of length n (forward: the exp(-i...) side)."""
    if norm == "ortho":
        return 1.0 / math.sqrt(n)
    if (norm == "forward") == forward:
        return 1.0 / n
    return 1.0


def _check_norm(norm):
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')


def _float_input(x, name, real_only=False):
    """x promoted as PyTorch's FFTs do: integers and bool to the default float dtype."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    d = x.dtype
    if real_only and getattr(d, "is_complex", False):
        raise RuntimeError(f"{name} expects a real input tensor, but got {d.torch_name}")
    if d in (dt.float16, dt.bfloat16):
        raise RuntimeError(f"Unsupported dtype {d.torch_name}")
    if not d.is_floating_point and not getattr(d, "is_complex", False):
        x = x.to(dt.get_default_dtype())
    return x


def _as_complex(x):
    return x if getattr(x.dtype, "is_complex", False) else x.to(x.dtype.to_complex())


def _is_complex(x):
    return getattr(x.dtype, "is_complex", False)


def _one_dim(x, dim):
    if x.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return wrap_dim(dim, x.dim())


def _points(n):
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return n


def _dims_and_sizes(x, s, dim):
    """PyTorch's resolution of (s, dim) for the n-dimensional transforms: ([dims], [sizes or None])."""
    if s is not None:
        s = [int(v) for v in ((s,) if isinstance(s, int) else s)]
    if dim is None:
        if s is None:
            dims = list(range(x.dim()))
        else:
            if len(s) > x.dim():
                raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {x.dim()} dimensions.")
            dims = list(range(x.dim() - len(s), x.dim()))
    else:
        dims = [wrap_dim(d, x.dim()) if x.dim() else _one_dim(x, d) for d in ((dim,) if isinstance(dim, int) else dim)]
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
        if s is not None and len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    sizes = [None] * len(dims) if s is None else [None if v == -1 else v for v in s]
    return dims, sizes


# ---- the one-dimensional maps -------------------------------------------------------------------
def _c2c(x, dim, n, norm, forward, sign=None, conj_in=False, conj_out=False):
    """A full transform along dim; sign defaults to the direction's (hfftn's inverse sign scales as forward)."""
    sign = sign or (-1 if forward else 1)
    plan = Plan(dim=dim, n=n, sign=sign, in_mode=COMPLEX_IN if _is_complex(x) else REAL_IN, out_real=False,
                scale=_scale(norm, n, forward), keep=n, out_len=n, conj_in=conj_in, conj_out=conj_out)
    return _ops.apply(x, plan)


def _r2c(x, dim, n, norm, forward, conj_out=False):
    half = n // 2 + 1
    plan = Plan(dim=dim, n=n, sign=-1, in_mode=REAL_IN, out_real=False, scale=_scale(norm, n, forward),
                keep=half, out_len=half, conj_out=conj_out)
    return _ops.apply(x, plan)


def _c2r(x, dim, n, norm, forward, conj_in=False):
    plan = Plan(dim=dim, n=n, sign=1, in_mode=HERMITIAN_IN, out_real=True, scale=_scale(norm, n, forward),
                keep=n, out_len=n, conj_in=conj_in)
    return _ops.apply(_as_complex(x), plan)


# ---- one-dimensional transforms ------------------------------------------------------------------
def _prepare(x, n, dim, norm, name, real_only=False):
    _check_norm(norm)
    x = _float_input(x, name, real_only)
    dim = _one_dim(x, dim)
    return x, dim, _points(x.shape[dim] if n is None else n)


def _out(result, out):
    if out is None:
        return result
    launch.base.resize_out(out, result.shape)
    return out.copy_(result)


def fft(input, n=None, dim=-1, norm=None, *, out=None):
    """The one-dimensional discrete Fourier transform of input along dim (zero-padded or trimmed to n)."""
    x, dim, n = _prepare(input, n, dim, norm, "fft")
    return _out(_c2c(x, dim, n, norm, True), out)


def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    """The one-dimensional inverse discrete Fourier transform."""
    x, dim, n = _prepare(input, n, dim, norm, "ifft")
    return _out(_c2c(x, dim, n, norm, False), out)


def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The one-sided (n // 2 + 1 values) Fourier transform of a real input."""
    x, dim, n = _prepare(input, n, dim, norm, "rfft", real_only=True)
    return _out(_r2c(x, dim, n, norm, True), out)


def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of rfft: a real signal of length n (default 2 * (input.size(dim) - 1))."""
    _check_norm(norm)
    x = _float_input(input, "irfft")
    dim = _one_dim(x, dim)
    n = _points(2 * (x.shape[dim] - 1) if n is None else n)
    return _out(_c2r(x, dim, n, norm, False), out)


def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The Fourier transform of a Hermitian-symmetric signal given by its one-sided half: real, length n."""
    _check_norm(norm)
    x = _float_input(input, "hfft")
    dim = _one_dim(x, dim)
    n = _points(2 * (x.shape[dim] - 1) if n is None else n)
    return _out(_c2r(x, dim, n, norm, True, conj_in=True), out)


def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of hfft: the one-sided half of the inverse transform of a real signal."""
    x, dim, n = _prepare(input, n, dim, norm, "ihfft", real_only=True)
    return _out(_r2c(x, dim, n, norm, False, conj_out=True), out)


# ---- n-dimensional transforms ------------------------------------------------------------------
def _c2c_nd(x, dims, sizes, norm, forward):
    if not dims:
        return _as_complex(x)
    for d, n in zip(dims, sizes):
        x = _c2c(x, d, _points(x.shape[d] if n is None else n), norm, forward)
    return x


def fftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-dimensional Fourier transform over dim (default: all dims, or the last len(s))."""
    _check_norm(norm)
    x = _float_input(input, "fftn")
    dims, sizes = _dims_and_sizes(x, s, dim)
    return _out(_c2c_nd(x, dims, sizes, norm, True), out)


def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-dimensional inverse Fourier transform."""
    _check_norm(norm)
    x = _float_input(input, "ifftn")
    dims, sizes = _dims_and_sizes(x, s, dim)
    return _out(_c2c_nd(x, dims, sizes, norm, False), out)


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The two-dimensional Fourier transform (fftn over the last two dims)."""
    return fftn(input, s, dim, norm, out=out)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The two-dimensional inverse Fourier transform."""
    return ifftn(input, s, dim, norm, out=out)


def _real_nd(name, input, s, dim, norm, forward, conj_out=False):
    """rfftn and ihfftn: a one-sided transform of the last dim, then full ones of the others."""
    _check_norm(norm)
    x = _float_input(input, name, real_only=True)
    dims, sizes = _dims_and_sizes(x, s, dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    last = dims[-1]
    n = _points(x.shape[last] if sizes[-1] is None else sizes[-1])
    y = _r2c(x, last, n, norm, forward, conj_out=conj_out)
    # ihfftn, as PyTorch: conj(rfft) of the last dim, then inverse transforms of the others
    return _c2c_nd(y, dims[:-1], sizes[:-1], norm, forward) if len(dims) > 1 else y


def _hermitian_nd(name, input, s, dim, norm, forward, conj_in=False):
    """irfftn and hfftn: full inverse transforms of the other dims, then a one-sided one of the last."""
    _check_norm(norm)
    x = _float_input(input, name)
    dims, sizes = _dims_and_sizes(x, s, dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    last = dims[-1]
    n = _points(2 * (x.shape[last] - 1) if sizes[-1] is None else sizes[-1])
    x = _as_complex(x)
    for i, (d, size) in enumerate(zip(dims[:-1], sizes[:-1])):
        x = _c2c(x, d, _points(x.shape[d] if size is None else size), norm, forward, sign=1,
                 conj_in=conj_in and i == 0)
    return _c2r(x, last, n, norm, forward, conj_in=conj_in and len(dims) == 1)


def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-dimensional Fourier transform of a real input, one-sided in the last transformed dim."""
    return _out(_real_nd("rfftn", input, s, dim, norm, True), out)


def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of rfftn (the last dim's output length defaults to 2 * (size - 1))."""
    return _out(_hermitian_nd("irfftn", input, s, dim, norm, False), out)


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """rfftn over the last two dims."""
    return rfftn(input, s, dim, norm, out=out)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """irfftn over the last two dims."""
    return irfftn(input, s, dim, norm, out=out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-dimensional transform of a Hermitian-symmetric signal given by its one-sided half (real)."""
    return _out(_hermitian_nd("hfftn", input, s, dim, norm, True, conj_in=True), out)


def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of hfftn: one-sided in the last transformed dim."""
    return _out(_real_nd("ihfftn", input, s, dim, norm, False, conj_out=True), out)


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """hfftn over the last two dims."""
    return hfftn(input, s, dim, norm, out=out)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """ihfftn over the last two dims."""
    return ihfftn(input, s, dim, norm, out=out)


# ---- helpers -----------------------------------------------------------------------------------
def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of a length-n transform with sample spacing d: [0, 1, ..., -2, -1] / (d n).

    >>> import cltensor as torch
    >>> torch.fft.fftfreq(4).tolist()
    [0.0, 0.25, -0.5, -0.25]
    """
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    kw = dict(dtype=dtype or dt.get_default_dtype(), device=device)
    k = cat([creation.arange((n + 1) // 2, **kw), creation.arange(-(n // 2), 0, **kw)])
    return _freq_result(k, n, d, out, requires_grad)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of rfft's n // 2 + 1 outputs: [0, 1, ..., n // 2] / (d n)."""
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    k = creation.arange(n // 2 + 1, dtype=dtype or dt.get_default_dtype(), device=device)
    return _freq_result(k, n, d, out, requires_grad)


def _freq_result(k, n, d, out, requires_grad):
    k = k * (1.0 / (n * d) if n * d else math.inf)  # as PyTorch: rfftfreq(0) is [nan]
    k.requires_grad_(requires_grad)
    return _out(k, out)


def _shift(input, dim, amount):
    dims = list(range(input.dim())) if dim is None else ([dim] if isinstance(dim, int) else list(dim))
    return roll(input, [amount(input.shape[d]) for d in dims], dims)


def fftshift(input, dim=None):
    """Moves the zero frequency to the centre: roll by n // 2 along dim (default: every dim)."""
    return _shift(input, dim, lambda n: n // 2)


def ifftshift(input, dim=None):
    """The inverse of fftshift: roll by (n + 1) // 2."""
    return _shift(input, dim, lambda n: (n + 1) // 2)
