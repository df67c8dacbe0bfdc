"""torch.fft against numpy.fft (complex128 references) and PyTorch: the kernels through their plans
(complex values held as real (..., 2) tensors), then the public functions, gradients and errors."""
import math

import numpy as np
import pytest

import cltensor as torch
from cltensor.ops import fft as F
from helpers import HAVE_TORCH, PRECISE, real_torch

RNG = np.random.default_rng(1234)
SIZES = list(range(1, 65)) + [97, 210, 1000, 2 ** 10, 2 ** 16]


def rtol_for(n, dtype=torch.float32):
    """float32 error grows like log(n) for both Stockham and Bluestein (whose inner length is ~4n)."""
    if dtype.name in ("float64", "complex128"):
        return 1e-12 * (2 + math.log2(max(n, 2)))
    return 1e-5 * (2 + math.log2(max(n, 2)))


def close(got, ref, n, dtype=torch.float32):
    """Norm-wise comparison: the largest error relative to the largest reference value."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, f"shape {got.shape} != expected {ref.shape}"
    scale = max(float(np.abs(ref).max(initial=0.0)), 1e-30)
    err = float(np.abs(got.astype(np.complex128) - ref).max(initial=0.0))
    assert err <= rtol_for(n, dtype) * scale, f"relative error {err / scale:.3g} for n={n}"


def crandn(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def pairs(z, dtype=np.float32):
    return torch.tensor(np.stack([z.real, z.imag], -1).astype(dtype))


def unpair(t):
    a = t.numpy().astype(np.float64)
    return a[..., 0] + 1j * a[..., 1]


# ---- numpy model of one plan ------------------------------------------------------------------
def plan_reference(x, plan):
    """What F.execute computes, in complex128 on the host (x along plan.dim, complex or real)."""
    x = np.moveaxis(np.asarray(x, dtype=np.complex128), plan.dim, -1)
    n, length = plan.n, x.shape[-1]
    if plan.in_mode == F.HERMITIAN_IN:
        half = n // 2 + 1
        h = np.zeros(x.shape[:-1] + (half,), complex)
        h[..., :min(length, half)] = x[..., :min(length, half)]
        upper = np.conj(h[..., 1:n - half + 1][..., ::-1])
        v = np.concatenate([h, upper], -1)[..., :n]
    else:
        v = np.zeros(x.shape[:-1] + (n,), complex)
        v[..., :min(length, n)] = x[..., :min(length, n)]
    if plan.conj_in:
        v = np.conj(v)
    y = (np.fft.fft(v, axis=-1) if plan.sign < 0 else np.fft.ifft(v, axis=-1) * n) * plan.scale
    if plan.conj_out:
        y = np.conj(y)
    y[..., 1:plan.dbl_hi + 1] *= 2
    out = np.zeros(y.shape[:-1] + (plan.out_len,), complex)
    keep = min(plan.keep, plan.out_len, n)
    out[..., :keep] = y[..., :keep]
    return np.moveaxis(out.real if plan.out_real else out, -1, plan.dim)


def c2c_plan(n, dim=-1, sign=-1, **kw):
    return F.Plan(dim=dim, n=n, sign=sign, in_mode=F.COMPLEX_IN, out_real=False, scale=1.0, keep=n,
                  out_len=n, **kw)


def run_plan(x, plan):
    """execute() on x (complex128 or float64 numpy) in float32, as numpy complex or real."""
    complex_in = plan.in_mode != F.REAL_IN
    t = pairs(x) if complex_in else torch.tensor(np.asarray(x, np.float32))
    dim = plan.dim % (t.dim() - (1 if complex_in else 0))
    out = F.execute(t, F.Plan(**{**plan.__dict__, "dim": dim}), pairs=True)
    return out.numpy().astype(np.float64) if plan.out_real else unpair(out)


@pytest.mark.parametrize("n", SIZES)
def test_c2c_every_size(n):
    x = crandn(3, n)
    close(run_plan(x, c2c_plan(n)), np.fft.fft(x, axis=-1), n)
    close(run_plan(x, c2c_plan(n, sign=1)), np.fft.ifft(x, axis=-1) * n, n)


def test_stockham_radices_and_bluestein_lengths():
    assert F.radices(210) == [2, 3, 5, 7]
    assert F.radices(64) == [8, 8] and F.radices(32) == [8, 4]
    assert F.radices(1) == []
    assert F.radices(11) is None and F.radices(2 * 97) is None
    assert F.bluestein_length(97) == 256 and F.bluestein_length(2) == 4


@pytest.mark.parametrize("in_mode,out_real,dbl", [(F.COMPLEX_IN, False, 0), (F.REAL_IN, False, 0),
                                                   (F.COMPLEX_IN, True, 0), (F.HERMITIAN_IN, True, 0),
                                                   (F.REAL_IN, False, 1)])
@pytest.mark.parametrize("n,length,out_len", [(8, 8, 8), (8, 5, 8), (8, 12, 6), (12, 7, 15), (11, 9, 11),
                                              (13, 4, 7), (1, 3, 2)])
def test_plan_modes_padding_and_trimming(in_mode, out_real, dbl, n, length, out_len):
    half = n // 2 + 1
    plan = F.Plan(dim=0, n=n, sign=1 if in_mode == F.HERMITIAN_IN else -1, in_mode=in_mode, out_real=out_real,
                  scale=0.5, keep=min(out_len, n), out_len=out_len, conj_in=True, conj_out=True,
                  dbl_hi=(n - half) * dbl)
    x = crandn(length, 3) if in_mode != F.REAL_IN else RNG.standard_normal((length, 3))
    close(run_plan(x, plan), plan_reference(x, plan), n)


@pytest.mark.parametrize("plan", [
    c2c_plan(12, dim=0),
    F.Plan(dim=0, n=10, sign=-1, in_mode=F.REAL_IN, out_real=False, scale=0.3, keep=6, out_len=6),
    F.Plan(dim=0, n=9, sign=1, in_mode=F.HERMITIAN_IN, out_real=True, scale=0.2, keep=9, out_len=9, conj_in=True),
    F.Plan(dim=0, n=14, sign=-1, in_mode=F.COMPLEX_IN, out_real=True, scale=1.0, keep=14, out_len=16),
    F.Plan(dim=0, n=11, sign=-1, in_mode=F.REAL_IN, out_real=False, scale=1.0, keep=6, out_len=6, dbl_hi=5),
], ids=["c2c", "r2c", "c2r", "c2c-real-out", "r2c-doubled"])
@pytest.mark.parametrize("in_len", [5, 12])
def test_plan_adjoint_is_the_adjoint(plan, in_len):
    """<A x, y> == <x, A* y> for the real inner product: the gradients' foundation."""
    adj = plan.adjoint(in_len)
    x = crandn(in_len) if plan.in_mode != F.REAL_IN else RNG.standard_normal(in_len)
    y = crandn(plan.out_len) if not plan.out_real else RNG.standard_normal(plan.out_len)
    ax, aty = plan_reference(x, plan), plan_reference(y, adj)
    assert aty.shape == x.shape
    lhs = np.sum(np.real(np.conj(ax) * y))
    rhs = np.sum(np.real(np.conj(x) * aty))
    assert abs(lhs - rhs) <= 1e-10 * (abs(lhs) + 1)


@pytest.mark.parametrize("n", [16, 12, 13])
def test_batched_any_dim_non_contiguous(n):
    """The transformed dim need not be contiguous, the batch dims need not merge: no copies."""
    x = crandn(4, n, 3, 5)
    t = pairs(x).permute(3, 1, 0, 2, 4)[::2]  # (3, n, 4, 5, 2) then every other row of dim 0
    assert not t.is_contiguous()
    ref = np.fft.fft(np.transpose(x, (3, 1, 0, 2))[::2], axis=1)
    close(unpair(F.execute(t, c2c_plan(n, dim=1), pairs=True)), ref, n)


def test_more_than_four_batch_dims():
    x = crandn(2, 3, 2, 3, 2, 8)
    t = pairs(x).permute(4, 3, 2, 1, 0, 5, 6)
    ref = np.fft.fft(np.transpose(x, (4, 3, 2, 1, 0, 5)), axis=-1)
    close(unpair(F.execute(t, c2c_plan(8, dim=5), pairs=True)), ref, 8)


def test_empty_batch_and_empty_signal():
    out = F.execute(pairs(crandn(0, 8)), c2c_plan(8), pairs=True)
    assert tuple(out.shape) == (0, 8, 2)
    out = F.execute(pairs(crandn(3, 0)), c2c_plan(4), pairs=True)
    np.testing.assert_array_equal(out.numpy(), np.zeros((3, 4, 2)))
