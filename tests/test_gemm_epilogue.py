"""The GEMM epilogue (launch.gemm.gemm's epilogue= and residual=): out = act(alpha * a @ b + beta * bias)
+ residual in one kernel, against numpy float64 and PyTorch, over dtypes, broadcast bias/residual,
transposed and sliced operands, batches, empty and K=0 products and the packed-B path of big
products; and the eager ops that reach the GEMM with a bias (F.linear, addmm, addmv, baddbmm,
addbmm) launching one kernel."""
from __future__ import annotations

import math

import numpy as np
import pytest

import cltensor as torch
from cltensor import launch
from helpers import HAVE_TORCH, needs_fp64, np_of, real_torch

_erf = np.vectorize(math.erf, otypes=[np.float64])
ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
}
DTYPES = [torch.float16, torch.float32, pytest.param(torch.float64, marks=needs_fp64)]
# float16 results are rounded once, from a float accumulator; tolerances scale with sqrt(K)
TOLERANCE = {"float16": 4e-3, "float32": 2e-5, "float64": 1e-12}


def _array(shape, seed, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def _tensor(array, dtype):
    return torch.tensor(array.astype(dtype.np))


def _wide(t):
    return np_of(t).astype(np.float64)


def _check(got, expected, dtype, k):
    tol = TOLERANCE[dtype.name] * max(1.0, math.sqrt(k))
    np.testing.assert_allclose(_wide(got), expected, rtol=tol, atol=tol)


def _fused(a, b, out_shape, dtype, **kw):
    out = launch.base.empty(out_shape, dtype, a.device)
    return launch.gemm.gemm(a, b, out, **kw)


def _pytorch_activation(act):
    f = real_torch.nn.functional
    return {"relu": f.relu, "gelu": f.gelu, "gelu_tanh": lambda t: f.gelu(t, approximate="tanh"), "silu": f.silu,
            "tanh": real_torch.tanh, "sigmoid": real_torch.sigmoid}[act]


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_each_epilogue_against_numpy_and_pytorch(act):
    m, k, n = 13, 21, 19  # tails in every dim of the register tile
    x, w, bias, res = _array((m, k), 1, 0.5), _array((n, k), 2, 0.5), _array((n,), 3), _array((m, 1), 4)
    a, wt, d, r = (_tensor(v, torch.float32) for v in (x, w, bias, res))
    got = _fused(a, wt.t(), (m, n), torch.float32, alpha=0.75, beta=-1.5, bias=d, epilogue=act, residual=r)
    _check(got, ACTIVATIONS[act](0.75 * (_wide(a) @ _wide(wt).T) - 1.5 * _wide(d)) + _wide(r), torch.float32, k)
    if HAVE_TORCH:
        rx, rw, rb, rr = (real_torch.tensor(v.astype(np.float32)) for v in (x, w, bias, res))
        expected = _pytorch_activation(act)(real_torch.addmm(rb, rx, rw.t(), alpha=0.75, beta=-1.5)) + rr
        np.testing.assert_allclose(np_of(got), expected.numpy(), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["gelu_tanh", "sigmoid"])
def test_epilogue_in_each_float_dtype(act, dtype):
    m, k, n = 13, 21, 19
    x, w, bias = _array((m, k), 5, 0.5), _array((k, n), 6, 0.5), _array((n,), 7)
    a, b, d = _tensor(x, dtype), _tensor(w, dtype), _tensor(bias, dtype)
    got = _fused(a, b, (m, n), dtype, alpha=2, beta=1, bias=d, epilogue=act)
    _check(got, ACTIVATIONS[act](2 * (_wide(a) @ _wide(b)) + _wide(d)), dtype, k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("res_shape", [(1,), (11,), (7, 1), (7, 11), (3, 1, 11), (3, 7, 11)])
def test_residual_broadcasts_like_the_bias(res_shape, dtype):
    x, w, bias, res = _array((3, 7, 5), 8), _array((5, 11), 9), _array((7, 1), 10), _array(res_shape, 11)
    a, b, d, r = (_tensor(v, dtype) for v in (x, w, bias, res))
    got = _fused(a, b, (3, 7, 11), dtype, beta=2, bias=d, epilogue="tanh", residual=r)
    expected = np.tanh(_wide(a) @ _wide(b) + 2 * _wide(d)) + _wide(r)
    _check(got, expected, dtype, 5)


def test_residual_of_another_dtype_and_without_bias():
    x, w, res = _array((6, 8), 12), _array((8, 10), 13), _array((6, 10), 14)
    a, b, r = _tensor(x, torch.float32), _tensor(w, torch.float32), _tensor(res, torch.float16)
    got = _fused(a, b, (6, 10), torch.float32, alpha=-1, residual=r)
    _check(got, -(_wide(a) @ _wide(b)) + _wide(r), torch.float32, 8)


@pytest.mark.parametrize("layout", ["a_t", "b_t", "both_t", "sliced", "out_t"])
def test_transposed_and_sliced_operands(layout):
    m, k, n = 10, 12, 17
    x, w, bias, res = _array((m, k), 15), _array((k, n), 16), _array((n,), 17), _array((m, n), 18)
    a, b, d = (_tensor(v, torch.float32) for v in (x, w, bias))
    r = _tensor(res.T.copy(), torch.float32).t()  # a transposed residual
    if layout in ("a_t", "both_t"):
        a = _tensor(x.T.copy(), torch.float32).t()
    if layout in ("b_t", "both_t"):
        b = _tensor(w.T.copy(), torch.float32).t()
    if layout == "sliced":
        a = _tensor(np.pad(x, ((2, 1), (0, 3)))[2:2 + m, :k], torch.float32)
        b = _tensor(np.repeat(w, 2, axis=1), torch.float32)[:, ::2]
    out = launch.base.empty((n, m), torch.float32, a.device).t() if layout == "out_t" else \
        launch.base.empty((m, n), torch.float32, a.device)
    launch.gemm.gemm(a, b, out, beta=0.5, bias=d, epilogue="silu", residual=r)
    pre = x.astype(np.float32) @ w.astype(np.float32) + 0.5 * bias
    _check(out, ACTIVATIONS["silu"](pre) + res, torch.float32, k)


def test_batched_and_batch_broadcast_operands():
    x, w3, w, bias = _array((4, 6, 9), 19), _array((4, 9, 5), 20), _array((9, 5), 21), _array((4, 1, 5), 22)
    a, d = _tensor(x, torch.float32), _tensor(bias, torch.float32)
    for weights in (w3, w):  # per-batch matrices, then one matrix for every batch (folded into rows)
        b = _tensor(weights, torch.float32)
        got = _fused(a, b, (4, 6, 5), torch.float32, beta=1, bias=d, epilogue="relu", residual=a[..., :5])
        _check(got, np.maximum(x @ weights + bias, 0) + x[..., :5], torch.float32, 9)


def test_empty_and_k0_products():
    empty = _fused(torch.ones(0, 4), torch.ones(4, 3), (0, 3), torch.float32, epilogue="relu")
    assert tuple(empty.shape) == (0, 3)
    bias, res = _array((3,), 23), _array((2, 3), 24)
    got = _fused(torch.ones(2, 0), torch.ones(0, 3), (2, 3), torch.float32, beta=2,
                 bias=_tensor(bias, torch.float32), epilogue="sigmoid", residual=_tensor(res, torch.float32))
    _check(got, 1 / (1 + np.exp(-2 * bias)) + res, torch.float32, 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_big_products_through_packed_b(dtype):
    # K * N large enough for the launcher to pack B into panels first; tails in M and N, B transposed
    m, k, n = 67, 301, 453
    x, w, bias, res = _array((m, k), 25, 0.2), _array((n, k), 26, 0.2), _array((n,), 27), _array((m, n), 28)
    a, wt, d, r = (_tensor(v, dtype) for v in (x, w, bias, res))
    for _ in range(2):  # the second call runs the cached plan, packing again
        got = _fused(a, wt.t(), (m, n), dtype, beta=1, bias=d, epilogue="gelu", residual=r)
        _check(got, ACTIVATIONS["gelu"](_wide(a) @ _wide(wt).T + _wide(d)) + _wide(r), dtype, k)


@pytest.mark.parametrize("variant", ["vec", "tiled"])
def test_both_kernel_variants_apply_the_epilogue(variant):
    # 'tiled' is the GPU kernel (local-memory tiles), forced here on whatever device runs the tests
    x, w, bias, res = _array((2, 37, 29), 29), _array((29, 41), 30), _array((41,), 31), _array((37, 41), 32)
    a, b, d, r = (_tensor(v, torch.float32) for v in (x, w, bias, res))
    out = launch.base.empty((2, 37, 41), torch.float32, a.device)
    launch.gemm.gemm(a, b, out, alpha=0.5, beta=1, bias=d, epilogue="relu", residual=r, variant=variant)
    _check(out, np.maximum(0.5 * (x.astype(np.float32) @ w.astype(np.float32)) + bias, 0) + res, torch.float32, 29)


def test_unknown_epilogue_is_refused():
    with pytest.raises(ValueError, match="softmax"):
        _fused(torch.ones(2, 2), torch.ones(2, 2), (2, 2), torch.float32, epilogue="softmax")
    with pytest.raises(ValueError, match="leaky_relu"):  # a row with a parameter
        _fused(torch.ones(2, 2), torch.ones(2, 2), (2, 2), torch.float32, epilogue="leaky_relu")


# ---- eager ops with a bias: one launch forward ---------------------------------------------------------
def _ops():
    f = torch.nn.functional
    x, w, b = torch.randn(8, 16), torch.randn(12, 16), torch.randn(12)
    m1, m2, inp = torch.randn(8, 16), torch.randn(16, 12), torch.randn(8, 12)
    b1, b2, binp = torch.randn(3, 8, 16), torch.randn(3, 16, 12), torch.randn(3, 1, 12)
    v = torch.randn(16)
    return {
        "linear": (lambda: f.linear(x, w, b), lambda t: t.nn.functional.linear(t.x, t.w, t.b)),
        "linear_3d": (lambda: f.linear(b1, w, b), lambda t: t.nn.functional.linear(t.b1, t.w, t.b)),
        "linear_1d": (lambda: f.linear(v, w, b), lambda t: t.nn.functional.linear(t.v, t.w, t.b)),
        "addmm": (lambda: torch.addmm(inp, m1, m2, beta=0.5, alpha=2),
                  lambda t: t.addmm(t.inp, t.m1, t.m2, beta=0.5, alpha=2)),
        "addmv": (lambda: torch.addmv(b[:8], m1, v, beta=2, alpha=-1),
                  lambda t: t.addmv(t.b[:8], t.m1, t.v, beta=2, alpha=-1)),
        "baddbmm": (lambda: torch.baddbmm(binp, b1, b2, beta=0.25, alpha=3),
                    lambda t: t.baddbmm(t.binp, t.b1, t.b2, beta=0.25, alpha=3)),
        "addbmm": (lambda: torch.addbmm(inp, b1, b2, beta=1.5), lambda t: t.addbmm(t.inp, t.b1, t.b2, beta=1.5)),
    }, dict(x=x, w=w, b=b, m1=m1, m2=m2, inp=inp, b1=b1, b2=b2, binp=binp, v=v)


@pytest.mark.parametrize("op", ["linear", "linear_3d", "linear_1d", "addmm", "addmv", "baddbmm", "addbmm"])
def test_eager_op_with_bias_is_one_gemm_launch(op, launches):
    ops, tensors = _ops()
    run, reference = ops[op]
    run()  # compiles
    launches.clear()
    result = run()
    # addbmm's K runs over (batch, k): batch1 [B, M, K] as one M x (B K) matrix is a copy (its batch
    # stride is M K, not K) unless M == 1; the sum over the batch is then one GEMM
    assert launches == (["ew__copy", "gemm"] if op == "addbmm" else ["gemm"]), launches
    if HAVE_TORCH:
        class Real:  # the same operands as PyTorch tensors
            pass
        real = Real()
        real.nn, real.addmm, real.addmv = real_torch.nn, real_torch.addmm, real_torch.addmv
        real.baddbmm, real.addbmm = real_torch.baddbmm, real_torch.addbmm
        for name, t in tensors.items():
            setattr(real, name, real_torch.tensor(np_of(t)))
        np.testing.assert_allclose(np_of(result), reference(real).numpy(), rtol=1e-5, atol=1e-5)
