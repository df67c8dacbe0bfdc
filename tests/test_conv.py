"""Convolutions (implicit GEMM) against numpy float64 references built from explicit patch
gathers, and against PyTorch when installed: conv1d/2d/3d and the transposed convs over odd sizes,
strides, paddings ('same', 'valid'), dilations, groups (depthwise), bias, non-contiguous and
channels-last inputs, dtypes; gradients (numpy reference, PyTorch, gradcheck in float64); both GEMM
variants; the modules (parameters, init, padding modes, reprs, state_dict both ways); PyTorch's
errors. Shapes vary more than kernel keys: every case of one dtype runs on the same few programs."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn.functional as F
from cltensor import gemm_tuning
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, assert_close, needs_fp64, np_of, real_torch


def rand(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype)


# ---- numpy float64 references --------------------------------------------------------------------------
def _patches(x, ks, st, pd, dl, out):
    """[N, C, *ks, *out]: the input values each output position sees through each tap (0 in the padding)."""
    nd = len(ks)
    need = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(out, st, ks, dl)]
    right = [max(0, n - size - p) for n, size, p in zip(need, x.shape[2:], pd)]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, r) for p, r in zip(pd, right)])
    res = np.zeros(x.shape[:2] + tuple(ks) + tuple(out))
    for taps in np.ndindex(*ks):
        sl = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, o, s in zip(taps, dl, out, st))
        res[(slice(None), slice(None)) + taps] = xp[(slice(None), slice(None)) + sl]
    return res


def conv_ref(x, w, b, st, pd, dl, groups, out):
    """Forward conv in float64: pd is the left padding per dim, out the output sizes."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    nd = w.ndim - 2
    p = _patches(x, w.shape[2:], st, pd, dl, out)
    n, c = x.shape[:2]
    p = p.reshape(n, groups, c // groups, -1, math.prod(out))
    wg = w.reshape(groups, w.shape[0] // groups, w.shape[1], -1)
    y = np.einsum("ngckp,gock->ngop", p, wg).reshape(n, w.shape[0], *out)
    if b is not None:
        y += b.astype(np.float64).reshape((-1,) + (1,) * nd)
    return y


def conv_transpose_ref(x, w, b, st, pd, dl, groups, out):
    """Transposed conv in float64 by scattering every tap, then cropping the padding."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    nd = w.ndim - 2
    n, cin = x.shape[:2]
    cog = w.shape[1]
    full = [(i - 1) * s + (k - 1) * d + 1 + p + o for i, s, k, d, p, o in zip(x.shape[2:], st, w.shape[2:], dl, pd, out)]
    y = np.zeros((n, groups * cog, *full))
    xg = x.reshape(n, groups, cin // groups, *x.shape[2:])
    wg = w.reshape(groups, cin // groups, cog, *w.shape[2:])
    for taps in np.ndindex(*w.shape[2:]):
        sl = tuple(slice(t * d, t * d + (i - 1) * s + 1, s) for t, d, i, s in zip(taps, dl, x.shape[2:], st))
        contrib = np.einsum("ngc...,gco->ngo...", xg, wg[(slice(None),) * 3 + taps])
        y[(slice(None), slice(None)) + sl] += contrib.reshape(n, groups * cog, *x.shape[2:])
    y = y[(slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in zip(pd, out))]
    if b is not None:
        y = y + b.astype(np.float64).reshape((-1,) + (1,) * nd)
    return y


def conv_weight_grad_ref(x, g, wshape, st, pd, dl, groups):
    p = _patches(x.astype(np.float64), wshape[2:], st, pd, dl, g.shape[2:])
    n, c = x.shape[:2]
    p = p.reshape(n, groups, c // groups, -1, math.prod(g.shape[2:]))
    gg = g.astype(np.float64).reshape(n, groups, wshape[0] // groups, -1)
    return np.einsum("ngckp,ngop->gock", p, gg).reshape(wshape)


def out_size(src, ks, st, pd, dl, right=None):
    right = right or pd
    return tuple((s + p + r - d * (k - 1) - 1) // t + 1 for s, k, t, p, r, d in zip(src, ks, st, pd, right, dl))


CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
TOLS = {"float16": (2e-2, 2e-2), "float32": (2e-5, 2e-5), "float64": (1e-11, 1e-11), "bfloat16": (5e-2, 8e-2)}

# (input shape, weight shape, stride, padding, dilation, groups, bias)
CASES = [
    ((2, 3, 11), (4, 3, 3), 1, 0, 1, 1, True),
    ((3, 4, 17), (6, 2, 4), 2, 3, 2, 2, False),
    ((2, 3, 9, 7), (5, 3, 3, 3), 1, 1, 1, 1, True),
    ((1, 4, 10, 13), (6, 2, 3, 2), (2, 1), (1, 2), (1, 2), 2, True),
    ((2, 6, 7, 8), (6, 1, 3, 3), 2, 1, 1, 6, True),  # depthwise
    ((2, 5, 6, 6), (7, 5, 1, 1), 1, 0, 1, 1, False),  # 1x1
    ((1, 3, 37, 41), (9, 3, 5, 5), 3, 2, 1, 1, True),
    ((2, 2, 5, 6, 7), (3, 2, 2, 3, 2), (1, 2, 1), 1, 1, 1, True),
    ((1, 4, 4, 5, 6), (4, 2, 3, 1, 3), 1, (1, 0, 2), (2, 1, 1), 2, False),
]


def _tuple(v, nd):
    return tuple(v) if isinstance(v, tuple) else (v,) * nd


@pytest.mark.parametrize("case", CASES)
def test_conv_matches_reference(case):
    xs, ws, st, pd, dl, groups, has_bias = case
    nd = len(ws) - 2
    x, w = rand(xs), rand(ws, 1)
    b = rand(ws[:1], 2) if has_bias else None
    got = CONV[nd](torch.tensor(x), torch.tensor(w), torch.tensor(b) if has_bias else None, st, pd, dl, groups)
    out = out_size(xs[2:], ws[2:], _tuple(st, nd), _tuple(pd, nd), _tuple(dl, nd))
    exp = conv_ref(x, w, b, _tuple(st, nd), _tuple(pd, nd), _tuple(dl, nd), groups, out)
    assert_close(got, exp, rtol=2e-5, atol=2e-5)
    if HAVE_TORCH:
        ref = getattr(real_torch.nn.functional, f"conv{nd}d")(
            real_torch.tensor(x), real_torch.tensor(w), real_torch.tensor(b) if has_bias else None, st, pd, dl, groups)
        assert_close(got, ref.numpy(), rtol=2e-5, atol=2e-5)


# (input shape, weight shape, stride, padding, output_padding, groups, dilation, bias)
T_CASES = [
    ((2, 3, 7), (3, 4, 3), 2, 1, 1, 1, 1, True),
    ((1, 4, 6), (4, 3, 4), 3, 0, 2, 2, 1, False),
    ((2, 4, 5, 6), (4, 3, 3, 2), (2, 3), (1, 0), (1, 2), 2, (1, 2), True),
    ((1, 3, 8, 5), (3, 5, 3, 3), 1, 1, 0, 1, 1, True),
    ((2, 4, 4, 5), (4, 1, 3, 3), 2, 1, 1, 4, 1, False),  # depthwise
    ((1, 2, 3, 4, 5), (2, 3, 2, 3, 2), (2, 1, 2), (0, 1, 1), (1, 0, 0), 1, 1, True),
]


@pytest.mark.parametrize("case", T_CASES)
def test_conv_transpose_matches_reference(case):
    xs, ws, st, pd, op, groups, dl, has_bias = case
    nd = len(ws) - 2
    x, w = rand(xs), rand(ws, 1)
    b = rand((ws[1] * groups,), 2) if has_bias else None
    got = CONVT[nd](torch.tensor(x), torch.tensor(w), torch.tensor(b) if has_bias else None, st, pd, op, groups, dl)
    st, pd, op, dl = (_tuple(v, nd) for v in (st, pd, op, dl))
    out = tuple((i - 1) * s - 2 * p + d * (k - 1) + o + 1 for i, s, p, d, k, o in zip(xs[2:], st, pd, dl, ws[2:], op))
    exp = conv_transpose_ref(x, w, b, st, pd, dl, groups, out)
    assert_close(got, exp, rtol=2e-5, atol=2e-5)
    if HAVE_TORCH:
        ref = getattr(real_torch.nn.functional, f"conv_transpose{nd}d")(
            real_torch.tensor(x), real_torch.tensor(w), real_torch.tensor(b) if has_bias else None, st, pd, op,
            groups, dl)
        assert_close(got, ref.numpy(), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("ks,dl", [((3, 4), (1, 1)), ((2, 3), (3, 2))])
def test_padding_strings(padding, ks, dl):
    """'same' splits an odd total padding with the extra element on the right, as PyTorch."""
    x, w = rand((2, 3, 9, 8)), rand((4, 3, *ks), 1)
    got = F.conv2d(torch.tensor(x), torch.tensor(w), padding=padding, dilation=dl)
    if padding == "same":
        total = [d * (k - 1) for k, d in zip(ks, dl)]
        left = [t // 2 for t in total]
        exp = conv_ref(x, w, None, (1, 1), left, dl, 1, (9, 8))
    else:
        exp = conv_ref(x, w, None, (1, 1), (0, 0), dl, 1, out_size((9, 8), ks, (1, 1), (0, 0), dl))
    assert_close(got, exp, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("layout", ["channels_last", "stepped", "transposed_weight"])
def test_non_contiguous_inputs(layout):
    """Inputs are read through their strides: channels-last, sliced and transposed views."""
    x, w, b = rand((2, 5, 9, 10)), rand((6, 5, 3, 3), 1), rand((6,), 2)
    tx, tw = torch.tensor(x), torch.tensor(w)
    if layout == "channels_last":
        tx = torch.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)
    elif layout == "stepped":
        tx = torch.tensor(np.repeat(x, 2, axis=-1))[..., ::2]
    else:
        tw = torch.tensor(np.ascontiguousarray(w.transpose(1, 0, 2, 3))).transpose(0, 1)
    assert not (tx.is_contiguous() and tw.is_contiguous())
    got = F.conv2d(tx, tw, torch.tensor(b), stride=2, padding=1)
    assert_close(got, conv_ref(x, w, b, (2, 2), (1, 1), (1, 1), 1, out_size((9, 10), (3, 3), (2, 2), (1, 1), (1, 1))),
                 rtol=2e-5, atol=2e-5)


def test_unbatched_input():
    x, w = rand((3, 8, 7)), rand((4, 3, 3, 3), 1)
    got = F.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    assert got.shape == (4, 8, 7)
    assert_close(got, conv_ref(x[None], w, None, (1, 1), (1, 1), (1, 1), 1, (8, 7))[0], rtol=2e-5, atol=2e-5)
    got = F.conv_transpose1d(torch.tensor(x[0]), torch.tensor(rand((8, 2, 3), 1)), stride=2)
    assert got.shape == (2, 15)


def _dtype_params():
    params = [torch.float16, torch.float32, pytest.param(torch.float64, marks=needs_fp64)]
    if hasattr(torch, "bfloat16"):
        params.append(torch.bfloat16)
    return params


@pytest.mark.parametrize("dtype", _dtype_params())
def test_dtypes_forward_and_backward(dtype):
    """Results and all three gradients in each float dtype (accumulated in float for 16-bit types)."""
    x, w, b = rand((2, 4, 7, 6)), rand((6, 2, 3, 3), 1), rand((6,), 2)
    npd = np.float32 if dtype.name == "bfloat16" else dtype.np
    x, w, b = x.astype(npd).astype(np.float32), w.astype(npd).astype(np.float32), b.astype(npd).astype(np.float32)
    if dtype.name == "bfloat16":  # values exactly representable in bfloat16
        x, w, b = (np.round(a * 64) / 64 for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a).to(dtype).requires_grad_() for a in (x, w, b))
    y = F.conv2d(tx, tw, tb, stride=(1, 2), padding=1, groups=2)
    assert y.dtype is dtype
    out = out_size((7, 6), (3, 3), (1, 2), (1, 1), (1, 1))
    rtol, atol = TOLS[dtype.name]
    wide = (lambda t: t) if dtype is torch.float64 else (lambda t: t.float())
    assert_close(wide(y), conv_ref(x, w, b, (1, 2), (1, 1), (1, 1), 2, out), rtol=rtol, atol=atol)
    g = np.round(rand(y.shape, 3) * 64) / 64
    y.backward(torch.tensor(g).to(dtype))
    assert tx.grad.dtype is dtype and tw.grad.dtype is dtype
    dx = conv_transpose_ref(g, w, None, (1, 2), (1, 1), (1, 1), 2, (7, 6))
    dw = conv_weight_grad_ref(x, g, w.shape, (1, 2), (1, 1), (1, 1), 2)
    assert_close(wide(tx.grad), dx, rtol=rtol, atol=atol * 3)
    assert_close(wide(tw.grad), dw, rtol=rtol, atol=atol * 10)
    assert_close(wide(tb.grad), g.astype(np.float64).sum((0, 2, 3)), rtol=rtol, atol=atol * 10)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_gradients_match_reference(nd, transposed):
    """Input, weight and bias gradients against numpy (both directions of the implicit GEMM) and PyTorch."""
    st, pd, dl, groups = (2, 1, 1, 2) if nd != 3 else (1, 1, 2, 1)
    xs = (2, 4) + (9, 8, 7)[:nd] if nd != 3 else (1, 2, 5, 6, 5)
    ws = ((4, 3) if transposed else (6, 2)) + (3, 2, 2)[:nd] if nd != 3 else ((2, 3, 2, 3, 2) if transposed
                                                                            else (3, 2, 2, 3, 2))
    x, w = rand(xs), rand(ws, 1)
    cout = ws[1] * groups if transposed else ws[0]
    b = rand((cout,), 2)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    stn, pdn, dln = (st,) * nd, (pd,) * nd, (dl,) * nd
    if transposed:
        y = CONVT[nd](tx, tw, tb, st, pd, 1 if st > 1 else 0, groups, dl)
    else:
        y = CONV[nd](tx, tw, tb, st, pd, dl, groups)
    g = rand(y.shape, 3)
    y.backward(torch.tensor(g))
    if transposed:  # a transposed conv's input gradient is the forward conv of g
        dx = conv_ref(g, w, None, stn, pdn, dln, groups, xs[2:])
        dw = conv_weight_grad_ref(g, x, w.shape, stn, pdn, dln, groups)
    else:
        dx = conv_transpose_ref(g, w, None, stn, pdn, dln, groups, xs[2:])
        dw = conv_weight_grad_ref(x, g, w.shape, stn, pdn, dln, groups)
    assert_close(tx.grad, dx, rtol=2e-5, atol=2e-5)
    assert_close(tw.grad, dw, rtol=2e-5, atol=5e-5)
    assert_close(tb.grad, g.astype(np.float64).sum(axis=tuple(i for i in range(g.ndim) if i != 1)), rtol=2e-5,
                 atol=5e-5)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    if HAVE_TORCH:
        rx, rw, rb = (real_torch.tensor(a, requires_grad=True) for a in (x, w, b))
        fn = getattr(real_torch.nn.functional, f"conv_transpose{nd}d" if transposed else f"conv{nd}d")
        ry = fn(rx, rw, rb, st, pd, 1 if st > 1 else 0, groups, dl) if transposed else fn(rx, rw, rb, st, pd, dl,
                                                                                          groups)
        ry.backward(real_torch.tensor(g))
        for ours, theirs in ((tx, rx), (tw, rw), (tb, rb)):
            assert_close(ours.grad, theirs.grad.numpy(), rtol=2e-5, atol=5e-5)


@pytest.mark.parametrize("variant", ["vec", "tiled"])
def test_both_gemm_variants(variant):
    """The GPU (tiled, local memory) kernel forced on this device gives the same forward and gradients."""
    x, w, b = rand((2, 4, 9, 11)), rand((6, 2, 3, 3), 1), rand((6,), 2)
    with gemm_tuning.forced_variant(variant):
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        y = F.conv2d(tx, tw, torch.tensor(b), stride=2, padding=1, groups=2)
        g = rand(y.shape, 3)
        y.backward(torch.tensor(g))
        assert_close(y, conv_ref(x, w, b, (2, 2), (1, 1), (1, 1), 2, y.shape[2:]), rtol=2e-5, atol=2e-5)
        assert_close(tx.grad, conv_transpose_ref(g, w, None, (2, 2), (1, 1), (1, 1), 2, (9, 11)), rtol=2e-5,
                     atol=2e-5)
        assert_close(tw.grad, conv_weight_grad_ref(x, g, w.shape, (2, 2), (1, 1), (1, 1), 2), rtol=2e-5, atol=5e-5)


def test_empty_batch_and_zero_grad_shapes():
    y = F.conv2d(torch.zeros(0, 3, 5, 5), torch.ones(2, 3, 3, 3))
    assert y.shape == (0, 2, 3, 3)
    x = torch.zeros(0, 3, 5, 5, requires_grad=True)
    w = torch.ones(2, 3, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad.shape == (0, 3, 5, 5)
    assert_close(w.grad, np.zeros((2, 3, 3, 3)))


# ---- gradcheck in float64 ---------------------------------------------------------------------------------
def _f64(shape, seed):
    return torch.tensor(rand(shape, seed, np.float64), dtype=torch.float64, requires_grad=True)


@needs_fp64
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_gradcheck_conv(nd):
    xs = (2, 4) + (6, 5, 4)[:nd] if nd < 3 else (1, 2, 4, 4, 3)
    ws = (4, 2) + (3, 2, 2)[:nd] if nd < 3 else (2, 2, 2, 2, 2)
    x, w, b = _f64(xs, 0), _f64(ws, 1), _f64(ws[:1], 2)
    assert gradcheck(lambda x, w, b: CONV[nd](x, w, b, 2 if nd < 3 else 1, 1, 1, 2 if nd < 3 else 1), (x, w, b))


@needs_fp64
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_gradcheck_conv_transpose(nd):
    xs = (2, 4) + (4, 3, 3)[:nd] if nd < 3 else (1, 2, 3, 2, 3)
    ws = (4, 2) + (3, 2, 2)[:nd] if nd < 3 else (2, 2, 2, 2, 2)
    groups = 2 if nd < 3 else 1
    x, w, b = _f64(xs, 0), _f64(ws, 1), _f64((ws[1] * groups,), 2)
    assert gradcheck(lambda x, w, b: CONVT[nd](x, w, b, 2, 1, 1, groups, 1), (x, w, b))


@needs_fp64
def test_double_backward():
    """Gradients of gradients: the weight gradient is itself a recorded op."""
    x, w = _f64((1, 2, 5, 4), 0), _f64((2, 2, 3, 2), 1)
    from cltensor.autograd import gradgradcheck
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=1), (x, w))


# ---- errors -----------------------------------------------------------------------------------------------
ERRORS = [
    (lambda: F.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 2, 3, 3)),
     "Given groups=1, weight of size [4, 2, 3, 3], expected input[1, 3, 5, 5] to have 2 channels, but got 3 "
     "channels instead"),
    (lambda: F.conv2d(torch.randn(1, 3, 2, 2), torch.randn(4, 3, 3, 3)),
     "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be greater than "
     "actual input size"),
    (lambda: F.conv2d(torch.randn(1, 4, 5, 5), torch.randn(4, 2, 3, 3), groups=3),
     "Given groups=3, expected weight to be divisible by 3 at dimension 0, but got weight of size [[4, 2, 3, 3]] "
     "instead"),
    (lambda: F.conv2d(torch.randn(3, 5), torch.randn(4, 3, 3, 3)),
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [3, 5]"),
    (lambda: F.conv1d(torch.randn(1, 3, 5, 5), torch.randn(4, 3, 3)),
     "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: [1, 3, 5, 5]"),
    (lambda: F.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 3, 3, 3), stride=2, padding="same"),
     "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv_transpose2d(torch.randn(1, 3, 5, 5), torch.randn(4, 3, 3, 3)),
     "Given transposed=1, weight of size [4, 3, 3, 3], expected input[1, 3, 5, 5] to have 4 channels, but got 3 "
     "channels instead"),
    (lambda: F.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 3, 3, 3), torch.randn(3)),
     "Given weight of size [4, 3, 3, 3], expected bias to be 1-dimensional with 4 elements, but got bias of size "
     "[3] instead"),
    (lambda: F.conv2d(torch.randn(1, 3, 5, 5, dtype=torch.float16), torch.randn(4, 3, 3, 3)),
     "expected scalar type Half but found Float"),
    (lambda: F.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 3, 3, 3, 3)),
     "expected stride to be a single integer value or a list of 3 values to match the convolution dimensions, but "
     "got stride=[1, 1]"),
    (lambda: F.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 3)), "weight should have at least three dimensions"),
    (lambda: F.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 3, 3, 3), stride=0),
     "non-positive stride is not supported"),
    (lambda: F.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 3, 3, 3), padding=-1),
     "negative padding is not supported"),
    (lambda: F.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 3, 3, 3), padding="foo"),
     "Invalid padding string: 'foo'"),
    (lambda: F.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 3, 3, 3), groups=0),
     "non-positive groups is not supported"),
    (lambda: F.conv_transpose2d(torch.randn(1, 3, 5, 5), torch.randn(3, 3, 3, 3), stride=2, output_padding=2),
     "output padding must be smaller than either stride or dilation, but got output_padding_height: 2 "
     "output_padding_width: 2 stride_height: 2 stride_width: 2 dilation_height: 1 dilation_width: 1"),
]


@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_errors_as_pytorch(index):
    fn, message = ERRORS[index]
    with pytest.raises(RuntimeError, match=re.escape(message)):
        fn()


def test_module_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        torch.nn.Conv2d(4, 4, 3, groups=3)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        torch.nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        torch.nn.Conv1d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        torch.nn.Conv2d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        torch.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")


# ---- modules ----------------------------------------------------------------------------------------------
REPRS = [
    (lambda nn: nn.Conv2d(3, 4, 3), "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1))"),
    (lambda nn: nn.Conv2d(3, 4, (3, 5), stride=2, padding=1, dilation=2, bias=False, padding_mode="reflect"),
     "Conv2d(3, 4, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), dilation=(2, 2), bias=False, "
     "padding_mode=reflect)"),
    (lambda nn: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1),
     "ConvTranspose2d(3, 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))"),
    (lambda nn: nn.Conv1d(2, 4, 3, padding="same"), "Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=same)"),
    (lambda nn: nn.Conv3d(2, 4, 3, groups=2), "Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(1, 1, 1), groups=2)"),
]


@pytest.mark.parametrize("index", range(len(REPRS)))
def test_module_repr(index):
    make, text = REPRS[index]
    assert repr(make(torch.nn)) == text
    if HAVE_TORCH:
        assert repr(make(real_torch.nn)) == text


@pytest.mark.parametrize("cls,args", [("Conv1d", (4, 6, 3)), ("Conv2d", (4, 6, (3, 2))), ("Conv3d", (2, 4, 2)),
                                      ("ConvTranspose1d", (4, 6, 3)), ("ConvTranspose2d", (4, 6, 3)),
                                      ("ConvTranspose3d", (2, 4, 2))])
def test_module_parameters_and_init(cls, args):
    """Shapes as PyTorch; weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform a=sqrt(5)), bias alike."""
    torch.manual_seed(0)
    m = getattr(torch.nn, cls)(*args, groups=2)
    cin, cout = args[0], args[1]
    nd = int(cls[-2])
    ks = args[2] if isinstance(args[2], tuple) else (args[2],) * nd
    expected = (cin, cout // 2) + ks if "Transpose" in cls else (cout, cin // 2) + ks
    assert m.weight.shape == expected and m.bias.shape == (cout,)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    bound = 1 / math.sqrt(math.prod(expected[1:]))
    for p in (m.weight, m.bias):
        values = np_of(p)
        assert np.all(np.abs(values) <= bound + 1e-7) and values.std() > bound / 4


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_padding_modes(mode):
    torch.manual_seed(0)
    m = torch.nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode=mode)
    x = rand((2, 3, 6, 7))
    pad = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    padded = np.pad(x, [(0, 0), (0, 0), (1, 1), (2, 2)], mode=pad)
    exp = conv_ref(padded, np_of(m.weight), np_of(m.bias), (1, 1), (0, 0), (1, 1), 1, (6, 9))
    assert_close(m(torch.tensor(x)), exp, rtol=2e-5, atol=2e-5)


def test_conv_transpose_output_size():
    m = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = torch.tensor(rand((1, 3, 4, 5)))
    assert m(x).shape == (1, 2, 7, 9)
    assert m(x, output_size=[8, 10]).shape == (1, 2, 8, 10)
    with pytest.raises(ValueError, match=re.escape("requested an output size of [9, 10], but valid sizes range from "
                                                   "[7, 9] to [8, 10]")):
        m(x, output_size=[9, 10])


@pytest.mark.skipif(not HAVE_TORCH, reason="needs PyTorch")
@pytest.mark.parametrize("cls,args,kwargs", [("Conv2d", (3, 4, 3), {"padding": 1, "padding_mode": "circular"}),
                                             ("ConvTranspose1d", (4, 6, 3), {"stride": 2, "groups": 2})])
def test_state_dict_both_ways(cls, args, kwargs):
    ours, theirs = getattr(torch.nn, cls)(*args, **kwargs), getattr(real_torch.nn, cls)(*args, **kwargs)
    ours.load_state_dict({k: torch.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    shape = (2, args[0], 6, 5) if cls.endswith("2d") else (2, args[0], 7)
    x = rand(shape)
    assert_close(ours(torch.tensor(x)), theirs(real_torch.tensor(x)).detach().numpy(), rtol=2e-5, atol=2e-5)
    fresh = getattr(real_torch.nn, cls)(*args, **kwargs)
    fresh.load_state_dict({k: real_torch.tensor(np_of(v)) for k, v in ours.state_dict().items()})
    assert_close(ours(torch.tensor(x)), fresh(real_torch.tensor(x)).detach().numpy(), rtol=2e-5, atol=2e-5)


def test_top_level_functions():
    x, w = torch.tensor(rand((1, 2, 5))), torch.tensor(rand((3, 2, 2), 1))
    assert torch.conv1d(x, w).shape == (1, 3, 4)
    assert_close(torch.conv1d(x, w), np_of(F.conv1d(x, w)))
    for name in ("conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
        assert callable(getattr(torch, name))


def test_weight_gradient_over_a_long_contraction():
    """N x positions past llvmpipe's 65 535-iteration loop limit: the batch is split into slices."""
    x, w = rand((3, 1, 160, 150)), rand((2, 1, 3, 3), 1)
    tw = torch.tensor(w, requires_grad=True)
    y = F.conv2d(torch.tensor(x), tw, padding=1)
    g = rand(y.shape, 3)
    y.backward(torch.tensor(g))
    assert_close(tw.grad, conv_weight_grad_ref(x, g, w.shape, (1, 1), (1, 1), (1, 1), 1), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("channels_last", [False, True])
def test_pointwise_convs_as_plain_gemms(channels_last):
    """1x1 convs with unit strides (and their input gradients) run on the plain GEMM: groups, bias, layouts."""
    x, w, b = rand((2, 4, 5, 7)), rand((6, 2, 1, 1), 1), rand((6,), 2)
    tx = (torch.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2) if channels_last
          else torch.tensor(x)).requires_grad_()
    tw = torch.tensor(w, requires_grad=True)
    y = F.conv2d(tx, tw, torch.tensor(b), groups=2)
    assert_close(y, conv_ref(x, w, b, (1, 1), (0, 0), (1, 1), 2, (5, 7)), rtol=2e-5, atol=2e-5)
    g = rand(y.shape, 3)
    y.backward(torch.tensor(g))
    assert_close(tx.grad, conv_transpose_ref(g, w, None, (1, 1), (0, 0), (1, 1), 2, (5, 7)), rtol=2e-5, atol=2e-5)
    assert_close(tw.grad, conv_weight_grad_ref(x, g, w.shape, (1, 1), (0, 0), (1, 1), 2), rtol=2e-5, atol=5e-5)
    wt = rand((4, 3, 1, 1), 4)
    got = F.conv_transpose2d(torch.tensor(x), torch.tensor(wt), torch.tensor(b[:6]), groups=2)
    assert_close(got, conv_transpose_ref(x, wt, b[:6], (1, 1), (0, 0), (1, 1), 2, (5, 7)), rtol=2e-5, atol=2e-5)


def _channels_last(t):
    """t (N, C, *spatial) copied into channels-last memory, viewed (N, C, *spatial)."""
    order = (0,) + tuple(range(2, t.dim())) + (1,)
    return t.permute(*order).contiguous().permute(*np.argsort(order))


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("rank", [2, 3])
def test_channels_last_through_a_cnn_block(rank):
    """conv, batch_norm (training and eval), max/avg/adaptive pooling, interpolate and conv_transpose:
    a channels-last input gives PyTorch's output strides at every step (channels-last, except for its
    3-d average and adaptive pools, which return contiguous results); values and gradients are the
    contiguous input's."""
    x = rand((2, 3) + (7, 6, 5)[:rank])
    w, wt = rand((4, 3) + (3,) * rank, 1), rand((4, 2) + (2,) * rank, 2)
    mode = "bilinear" if rank == 2 else "trilinear"
    steps = [("conv", lambda T, F_, a: F_.__dict__[f"conv{rank}d"](a, T.tensor(w), padding=1)),
             ("batch_norm", lambda T, F_, a: F_.batch_norm(a, None, None, training=True)),
             ("batch_norm_eval", lambda T, F_, a: F_.batch_norm(a, T.zeros(4), T.ones(4) * 2)),
             ("max_pool", lambda T, F_, a: F_.__dict__[f"max_pool{rank}d"](a, 2, ceil_mode=True)),
             ("avg_pool", lambda T, F_, a: F_.__dict__[f"avg_pool{rank}d"](a, 2, 1, 1)),
             ("adaptive", lambda T, F_, a: F_.__dict__[f"adaptive_avg_pool{rank}d"](a, 3)),
             ("interpolate", lambda T, F_, a: F_.interpolate(a, scale_factor=1.5, mode=mode, align_corners=False)),
             ("conv_transpose", lambda T, F_, a: F_.__dict__[f"conv_transpose{rank}d"](a, T.tensor(wt), stride=2))]
    memory_format = real_torch.channels_last if rank == 2 else real_torch.channels_last_3d
    if rank == 3:  # back to channels-last after PyTorch's contiguous 3-d average pool
        steps.insert(5, ("to_channels_last", lambda T, F_, a: _channels_last(a) if T is torch else
                         a.to(memory_format=memory_format)))
    xt = _channels_last(torch.tensor(x)).requires_grad_()
    rx = real_torch.tensor(x).to(memory_format=memory_format).requires_grad_()
    a, ra = xt, rx
    for name, step in steps:
        a, ra = step(torch, F, a), step(real_torch, real_torch.nn.functional, ra)
        assert a.stride() == ra.stride(), name
        assert_close(a, ra.detach().numpy(), rtol=1e-4, atol=1e-4)
    g = rand(tuple(ra.shape), 5)
    a.backward(torch.tensor(g))
    ra.backward(real_torch.tensor(g))
    assert_close(xt.grad, rx.grad.numpy(), rtol=1e-3, atol=1e-3)
