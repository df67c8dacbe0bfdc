"""F.affine_grid and F.grid_sample against numpy float64 references (direct loops over output pixels)
and PyTorch (values and gradients for input and grid), gradcheck in float64, errors."""
import math

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn.functional as F
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, assert_close, needs_fp64, real_torch

RNG = np.random.default_rng(41)


def np_affine_grid(theta, size, align_corners):
    n, _, h, w = size

    def coords(k):
        if k == 1:
            return np.zeros(1)
        return np.linspace(-1, 1, k) if align_corners else (np.arange(k) * 2 + 1) / k - 1
    xs, ys = np.meshgrid(coords(w), coords(h))
    base = np.stack([xs, ys, np.ones_like(xs)], -1)
    return np.einsum("hwk,nik->nhwi", base, theta)


def _reflect(v, lo2, hi2):
    lo, span = lo2 / 2, (hi2 - lo2) / 2
    c = abs(v - lo)
    flips = math.floor(c / span)
    extra = c - flips * span
    return extra + lo if flips % 2 == 0 else span - extra + lo


def np_grid_sample(x, grid, mode, padding_mode, align_corners):
    n, c, h, w = x.shape
    out = np.zeros((n, c) + grid.shape[1:3])
    for b in range(n):
        for i in range(grid.shape[1]):
            for j in range(grid.shape[2]):
                pos = []
                for coord, size in ((grid[b, i, j, 0], w), (grid[b, i, j, 1], h)):
                    v = (coord + 1) / 2 * (size - 1) if align_corners else ((coord + 1) * size - 1) / 2
                    if padding_mode == "reflection":
                        v = _reflect(v, 0, 2 * (size - 1)) if align_corners else _reflect(v, -1, 2 * size - 1)
                    if padding_mode != "zeros":
                        v = min(max(v, 0), size - 1)
                    pos.append(v)
                px, py = pos
                if mode == "nearest":
                    taps = [(round(px), round(py), 1.0)]
                else:
                    x0, y0 = math.floor(px), math.floor(py)
                    taps = [(x0 + dx, y0 + dy, (1 - abs(px - x0 - dx)) * (1 - abs(py - y0 - dy)))
                            for dx in (0, 1) for dy in (0, 1)]
                for tx, ty, wt in taps:
                    if 0 <= tx < w and 0 <= ty < h:
                        out[b, :, i, j] += wt * x[b, :, ty, tx]
    return out


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid(align_corners):
    theta = RNG.standard_normal((2, 2, 3))
    grid = F.affine_grid(torch.tensor(theta, dtype=torch.float32), (2, 3, 5, 7), align_corners=align_corners)
    assert_close(grid, np_affine_grid(theta, (2, 3, 5, 7), align_corners), rtol=1e-5, atol=1e-5)
    if HAVE_TORCH:
        th3 = RNG.standard_normal((2, 3, 4)).astype(np.float32)
        ref = real_torch.nn.functional.affine_grid(real_torch.tensor(th3), (2, 1, 3, 4, 5), align_corners)
        assert_close(F.affine_grid(torch.tensor(th3), (2, 1, 3, 4, 5), align_corners), ref.numpy(), rtol=1e-5,
                     atol=1e-5)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample(mode, padding_mode, align_corners):
    x = RNG.standard_normal((2, 3, 5, 6))
    grid = RNG.uniform(-1.4, 1.4, (2, 4, 7, 2))
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    gt = torch.tensor(grid, dtype=torch.float32, requires_grad=True)
    y = F.grid_sample(xt, gt, mode, padding_mode, align_corners)
    ref = np_grid_sample(x.astype(np.float32), grid.astype(np.float32), mode, padding_mode, align_corners)
    assert_close(y, ref, rtol=1e-5, atol=1e-5)
    if HAVE_TORCH:
        xr = real_torch.tensor(x, dtype=real_torch.float32, requires_grad=True)
        gr = real_torch.tensor(grid, dtype=real_torch.float32, requires_grad=True)
        yr = real_torch.nn.functional.grid_sample(xr, gr, mode, padding_mode, align_corners)
        up = RNG.standard_normal(tuple(yr.shape))
        yr.backward(real_torch.tensor(up, dtype=real_torch.float32))
        y.backward(torch.tensor(up, dtype=torch.float32))
        assert_close(xt.grad, xr.grad.numpy(), rtol=1e-5, atol=1e-5)
        assert_close(gt.grad, gr.grad.numpy(), rtol=1e-4, atol=1e-4)


@needs_fp64
def test_gradcheck():
    x = torch.tensor(RNG.standard_normal((1, 1, 3, 4)), dtype=torch.float64, requires_grad=True)
    theta = torch.tensor([[[0.9, 0.2, 0.1], [-0.3, 1.1, 0.05]]], dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a, t: F.grid_sample(a, F.affine_grid(t, (1, 1, 2, 3), False), align_corners=False),
                     (x, theta))


def test_default_align_corners_warns():
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(torch.zeros(1, 2, 3), (1, 1, 2, 2))


@pytest.mark.parametrize("call,exc,msg", [
    (lambda F, T: F.affine_grid(T.zeros(1, 3, 3), (1, 1, 4, 4), False), ValueError,
     "Expected a batch of 2D affine matrices of shape Nx2x3 for size (1, 1, 4, 4). Got torch.Size([1, 3, 3])."),
    (lambda F, T: F.grid_sample(T.zeros(1, 1, 3, 3), T.zeros(1, 2, 2, 2), mode="cubic", align_corners=False),
     ValueError, "expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'cubic'"),
    (lambda F, T: F.grid_sample(T.zeros(1, 1, 3, 3), T.zeros(1, 2, 2, 2), padding_mode="wrap",
                                align_corners=False), ValueError, "but got: 'wrap'"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc) as info:
        call(F, torch)
    assert msg in str(info.value)
    if HAVE_TORCH:
        with pytest.raises(exc) as ref:
            call(real_torch.nn.functional, real_torch)
        assert msg in str(ref.value)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_5d(mode):
    x = RNG.standard_normal((2, 3, 4, 5, 6)).astype(np.float32)
    identity = torch.tensor(np.tile(np.eye(3, 4, dtype=np.float32), (2, 1, 1)))
    grid = F.affine_grid(identity, (2, 3, 4, 5, 6), align_corners=True)
    assert_close(F.grid_sample(torch.tensor(x), grid, mode, align_corners=True), x, rtol=1e-5, atol=1e-5)
    g = RNG.uniform(-1.3, 1.3, (2, 3, 4, 2, 3)).astype(np.float32)
    xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(g, requires_grad=True)
    y = F.grid_sample(xt, gt, mode, "border", align_corners=False)
    assert y.shape == (2, 3, 3, 4, 2)
    if HAVE_TORCH:
        xr, gr = real_torch.tensor(x, requires_grad=True), real_torch.tensor(g, requires_grad=True)
        yr = real_torch.nn.functional.grid_sample(xr, gr, mode, "border", align_corners=False)
        assert_close(y, yr.detach().numpy(), rtol=1e-5, atol=1e-5)
        up = RNG.standard_normal(tuple(yr.shape)).astype(np.float32)
        y.backward(torch.tensor(up))
        yr.backward(real_torch.tensor(up))
        assert_close(xt.grad, xr.grad.numpy(), rtol=1e-5, atol=1e-5)
        assert_close(gt.grad, gr.grad.numpy(), rtol=1e-4, atol=1e-4)
