"""cltensor.nn.functional against numpy float64 references and real PyTorch (values and gradients,
including the corner points where piecewise functions choose a one-sided derivative), gradcheck
of the representative losses/normalisations, dtypes and layouts, PyTorch's errors, and no host
reads inside a forward/backward pass. Values compute in PRECISE (float64 where the device has it);
the finite-difference gradchecks need float64 itself (needs_fp64)."""
import math
import re
import warnings

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
import cltensor.nn.functional as F
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, PRECISE, assert_close, layout_case, needs_fp64, np_of, real_torch

RNG = np.random.default_rng(5)
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")

# special points (0, the corners of hardtanh/hardswish/shrinks, far tails) plus random values
POINTS = np.array([-30.0, -3.5, -3.0, -2.0, -1.0, -0.5, -0.25, 0.0, 0.1, 0.5, 1.0, 1.5, 3.0, 3.5, 30.0])
X = np.concatenate([POINTS, RNG.uniform(-4, 4, 9)]).reshape(4, 6)
erf = np.vectorize(math.erf)


def tp(a, requires_grad=False):
    """A tensor in PRECISE (float64 where the device has it, else float32); references stay numpy float64."""
    return torch.tensor(a, dtype=PRECISE, requires_grad=requires_grad)


def t64(a, requires_grad=False):
    """float64 itself: for finite-difference gradchecks, which need it (those tests are needs_fp64)."""
    return torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad)


# gradients against PyTorch's float64: as tight as float64 allows, else the float32 tolerance of assert_close
GRAD_TOL = dict(rtol=1e-8, atol=1e-10) if PRECISE is torch.float64 else {}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softplus(x, beta=1.0, threshold=20.0):
    with np.errstate(over="ignore"):
        return np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta)


SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# name, kwargs, numpy reference
ACTIVATIONS = [
    ("relu", {}, lambda x: np.maximum(x, 0)),
    ("relu6", {}, lambda x: np.clip(x, 0, 6)),
    ("leaky_relu", {"negative_slope": 0.1}, lambda x: np.where(x > 0, x, 0.1 * x)),
    ("elu", {"alpha": 0.7}, lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0)))),
    ("selu", {}, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(np.minimum(x, 0)))),
    ("celu", {"alpha": 1.5}, lambda x: np.where(x > 0, x, 1.5 * np.expm1(np.minimum(x, 0) / 1.5))),
    ("gelu", {}, lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))),
    ("gelu", {"approximate": "tanh"},
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    ("silu", {}, lambda x: x * sigmoid(x)),
    ("mish", {}, lambda x: x * np.tanh(softplus(x))),
    ("sigmoid", {}, sigmoid),
    ("tanh", {}, np.tanh),
    ("hardtanh", {"min_val": -2.0, "max_val": 1.5}, lambda x: np.clip(x, -2, 1.5)),
    ("hardsigmoid", {}, lambda x: np.clip(x + 3, 0, 6) / 6),
    ("hardswish", {}, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("softplus", {}, softplus),
    ("softplus", {"beta": 2.0, "threshold": 5.0}, lambda x: softplus(x, 2.0, 5.0)),
    ("softsign", {}, lambda x: x / (1 + np.abs(x))),
    ("tanhshrink", {}, lambda x: x - np.tanh(x)),
    ("logsigmoid", {}, lambda x: np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))),
    ("hardshrink", {"lambd": 0.5}, lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    ("softshrink", {"lambd": 0.5}, lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0))),
    ("threshold", {"threshold": 0.1, "value": 20.0}, lambda x: np.where(x > 0.1, x, 20.0)),
    ("glu", {"dim": 1}, lambda x: x[:, :3] * sigmoid(x[:, 3:])),
]
ACT_IDS = [f"{n}-{'-'.join(map(str, k.values()))}" if k else n for n, k, _ in ACTIVATIONS]


@pytest.mark.parametrize("dtype", [torch.float32, pytest.param(torch.float64, marks=needs_fp64)], ids=lambda d: d.name)
@pytest.mark.parametrize("name, kwargs, ref", ACTIVATIONS, ids=ACT_IDS)
def test_activation_values(name, kwargs, ref, dtype):
    out = getattr(F, name)(torch.tensor(X, dtype=dtype), **kwargs)
    assert out.dtype is dtype and out.shape == ref(X).shape
    assert_close(out, ref(X), rtol=1e-5 if dtype is torch.float32 else 1e-10,
                 atol=1e-6 if dtype is torch.float32 else 1e-12)


@needs_torch
@pytest.mark.parametrize("name, kwargs, ref", ACTIVATIONS, ids=ACT_IDS)
def test_activation_gradients_match_pytorch_at_corners(name, kwargs, ref):
    x = tp(X, requires_grad=True)
    out = getattr(F, name)(x, **kwargs)
    g = RNG.uniform(0.5, 1.5, out.shape)
    out.backward(tp(g))
    tx = real_torch.tensor(X, requires_grad=True)
    getattr(real_torch.nn.functional, name)(tx, **kwargs).backward(real_torch.tensor(g))
    # (rtol 1e-7 in float64: PyTorch's hardsigmoid backward multiplies by the float32 constant 1/6)
    assert_close(x.grad, tx.grad.numpy(), **(dict(rtol=1e-7, atol=1e-12) if PRECISE is torch.float64 else {}))


GRADCHECK_ACTS = ["gelu", "gelu_tanh", "softplus", "elu", "silu", "leaky_relu", "logsigmoid", "mish", "selu",
                  "hardtanh", "softshrink"]


@needs_fp64
@pytest.mark.parametrize("name", GRADCHECK_ACTS)
def test_activation_gradcheck(name):
    fn = (lambda x: F.gelu(x, approximate="tanh")) if name == "gelu_tanh" else getattr(F, name)
    x = t64(RNG.uniform(-2.5, 2.5, (2, 3)), requires_grad=True)
    assert gradcheck(fn, (x,))


@pytest.mark.parametrize("layout", ["transposed", "stepped", "expanded"])
def test_activations_on_non_contiguous_inputs(layout):
    x, ref = layout_case(X.astype(PRECISE.np), layout)
    assert not x.is_contiguous()
    for name, kwargs, fn in (ACTIVATIONS[2], ACTIVATIONS[6], ACTIVATIONS[15]):
        assert_close(getattr(F, name)(x, **kwargs), fn(ref.astype(np.float64)))


def test_activation_float16_and_inplace_forms():
    x = torch.tensor(X, dtype=torch.float16)
    assert F.gelu(x).dtype is torch.float16
    assert_close(F.silu(x), X * sigmoid(X), rtol=1e-2, atol=1e-2)
    for name in ("relu", "leaky_relu", "elu", "hardtanh", "silu", "selu", "celu", "hardswish", "threshold"):
        kwargs = {"threshold": 0.1, "value": 2.0} if name == "threshold" else {}
        y = tp(X)
        expected = np_of(getattr(F, name)(y, **kwargs))
        assert getattr(F, name)(y, inplace=True, **kwargs) is y
        assert_close(y, expected)
    y = tp(X)
    assert F.relu_(y) is y and F.leaky_relu_(tp(X)).shape == X.shape
    leaf = tp(X, requires_grad=True)
    mid = leaf * 2
    F.silu(mid, inplace=True).sum().backward()
    s = sigmoid(2 * X)
    assert_close(leaf.grad, 2 * (s + 2 * X * s * (1 - s)))
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.elu(tp(X, requires_grad=True), inplace=True)


def test_prelu():
    x = RNG.uniform(-2, 2, (2, 3, 4))
    w = np.array([0.1, 0.2, 0.3])
    out = F.prelu(tp(x), tp(w))
    assert_close(out, np.where(x > 0, x, x * w[None, :, None]))
    assert_close(F.prelu(tp(x), tp([0.25])), np.where(x > 0, x, 0.25 * x))
    module = nn.PReLU(3).to(PRECISE)
    assert module.weight.dtype is PRECISE
    assert_close(module.weight, np.full(3, 0.25))
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        F.prelu(tp(x), tp([0.1, 0.2]))


@needs_fp64
def test_prelu_gradcheck():
    x = RNG.uniform(-2, 2, (2, 3, 2))
    assert gradcheck(F.prelu, (t64(x, True), t64([0.1, 0.2, 0.3], True)))


def np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def test_softmax_family():
    x = RNG.normal(size=(3, 4, 5))
    for dim in (0, 1, -1):
        assert_close(F.softmax(tp(x), dim), np.exp(np_log_softmax(x, dim)))
        assert_close(F.log_softmax(tp(x), dim=dim), np_log_softmax(x, dim))
        assert_close(F.softmin(tp(x), dim), np.exp(np_log_softmax(-x, dim)))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax has been deprecated"):
        implicit = F.softmax(tp(x))  # 3-D input: dim 0, PyTorch's legacy rule
    assert_close(implicit, np.exp(np_log_softmax(x, 0)))
    with pytest.warns(UserWarning, match="log_softmax"):
        assert_close(F.log_softmax(tp(x[0])), np_log_softmax(x[0], 1))
    masked = tp([[0.0, -np.inf, 1.0]])
    assert_close(F.softmax(masked, 1), [[1 / (1 + np.e), 0.0, np.e / (1 + np.e)]])
    half = F.softmax(torch.tensor(x, dtype=torch.float32), 1, dtype=torch.float16)
    assert half.dtype is torch.float16
    assert_close(half, np.exp(np_log_softmax(x.astype(np.float32).astype(np.float16).astype(np.float64), 1)),
                 rtol=1e-2, atol=1e-3)


@needs_fp64
def test_softmax_in_float64_and_gradcheck():
    x = RNG.normal(size=(3, 4))
    out = F.softmax(torch.tensor(x, dtype=torch.float32), 1, dtype=torch.float64)
    assert out.dtype is torch.float64
    assert_close(out, np.exp(np_log_softmax(x.astype(np.float32).astype(np.float64), 1)))
    assert gradcheck(lambda a: F.log_softmax(a, 1), (t64(x, True),))


def test_linear_and_bilinear_functional():
    x, w, b = RNG.normal(size=(5, 3)), RNG.normal(size=(4, 3)), RNG.normal(size=4)
    assert_close(F.linear(tp(x), tp(w), tp(b)), x @ w.T + b)
    assert_close(F.linear(tp(x), tp(w)), x @ w.T)
    assert_close(F.linear(tp(x[0]), tp(w), tp(b)), x[0] @ w.T + b)
    assert_close(F.linear(tp(x), tp(w).T.contiguous().T, tp(b)), x @ w.T + b)  # non-contiguous weight
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(5x3 and 4x4\)"):
        F.linear(tp(x), tp(RNG.normal(size=(4, 4))))
    w3 = RNG.normal(size=(2, 3, 4))
    x2 = RNG.normal(size=(5, 4))
    assert_close(F.bilinear(tp(x), tp(x2), tp(w3)), np.einsum("ni,kij,nj->nk", x, w3, x2))


def test_embedding_and_one_hot():
    w = RNG.normal(size=(5, 2))
    idx = torch.tensor([[4, 0], [2, 2]])
    assert_close(F.embedding(idx, tp(w)), w[np_of(idx)])
    assert_close(F.embedding(idx.int(), tp(w)), w[np_of(idx)])
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices' to have one of the following "
                                           "scalar types: Long, Int; but got torch.FloatTensor instead"):
        F.embedding(torch.tensor([1.0]), tp(w))
    oh = F.one_hot(torch.tensor([0, 2, 1]), 4)
    assert oh.dtype is torch.int64
    assert_close(oh, np.eye(4, dtype=np.int64)[[0, 2, 1]])
    assert_close(F.one_hot(torch.tensor([[1, 3]])), np.eye(4, dtype=np.int64)[[[1, 3]]])
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor of type LongTensor."):
        F.one_hot(torch.tensor([1.0]))


def test_normalize_cosine_pairwise_pad():
    x = RNG.normal(size=(3, 4))
    assert_close(F.normalize(tp(x)), x / np.linalg.norm(x, axis=1, keepdims=True))
    assert_close(F.normalize(tp(x), p=1.0, dim=0), x / np.abs(x).sum(0, keepdims=True))
    assert_close(F.normalize(tp(np.zeros((2, 3)))), np.zeros((2, 3)))  # eps keeps zero rows finite
    y = RNG.normal(size=(3, 4))
    cos = (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    assert_close(F.cosine_similarity(tp(x), tp(y)), cos)
    assert_close(nn.CosineSimilarity()(tp(x), tp(y)), cos)
    assert_close(F.pairwise_distance(tp(x), tp(y)), np.linalg.norm(x - y + 1e-6, axis=1))
    padded = F.pad(tp(x), (1, 2))
    assert_close(padded, np.pad(x, ((0, 0), (1, 2))))
    assert_close(F.pad(tp(x), (0, 1, 2, 0), value=7.0), np.pad(x, ((2, 0), (0, 1)), constant_values=7.0))
    assert_close(F.pad(tp(x), (-1, 1)), np.pad(x[:, 1:], ((0, 0), (0, 1))))


@needs_fp64
def test_pad_and_normalize_gradcheck():
    xg = t64(RNG.normal(size=(3, 4)), True)
    assert gradcheck(lambda a: F.pad(a, (1, 1, 0, 1)), (xg,))
    assert gradcheck(lambda a: F.normalize(a, dim=1), (xg,))


@needs_torch
def test_normalize_family_matches_pytorch():
    x, y = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    tx, ty = real_torch.tensor(x), real_torch.tensor(y)
    pairs = [(F.normalize(tp(x), p=3.0, dim=0), real_torch.nn.functional.normalize(tx, p=3.0, dim=0)),
             (F.cosine_similarity(tp(x), tp(y), dim=0), real_torch.nn.functional.cosine_similarity(tx, ty, dim=0)),
             (F.pairwise_distance(tp(x), tp(y), p=1.0, keepdim=True),
              real_torch.nn.functional.pairwise_distance(tx, ty, p=1.0, keepdim=True))]
    for ours, theirs in pairs:
        assert_close(ours, theirs.numpy())


# ---- normalisation ---------------------------------------------------------------------------------------
def test_layer_norm_functional():
    x = RNG.normal(size=(2, 3, 4)) * 2 + 1
    w, b = RNG.normal(size=4), RNG.normal(size=4)
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b
    assert_close(F.layer_norm(tp(x), (4,), tp(w), tp(b)), ref)
    assert_close(F.layer_norm(tp(x), 4, eps=0.1),
                 (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 0.1))
    half = F.layer_norm(torch.tensor(x, dtype=torch.float16), (4,))
    assert half.dtype is torch.float16
    assert_close(half, (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5), rtol=1e-2,
                 atol=1e-2)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[5\], expected input with shape \[\*, 5\], "
                                           r"but got input of size\[2, 3, 4\]"):
        F.layer_norm(tp(x), (5,))


@needs_fp64
def test_layer_norm_gradcheck():
    xt = t64(RNG.normal(size=(3, 4)) * 2 + 1, True)
    wt, bt = t64(RNG.normal(size=4), True), t64(RNG.normal(size=4), True)
    assert gradcheck(lambda a, ww, bb: F.layer_norm(a, (4,), ww, bb), (xt, wt, bt))


LN_CASES = [((5, 7), (7,), True, True), ((2, 3, 4), (3, 4), True, False), ((3, 6), (6,), False, True),
            ((4, 5), (5,), False, False), ((0, 4), (4,), True, True), ((2, 1, 9), (9,), True, True)]


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", pytest.param("float64", marks=needs_fp64)])
@pytest.mark.parametrize("shape, normalized, with_weight, with_bias", LN_CASES)
def test_layer_norm_fused_kernels_match_pytorch(shape, normalized, with_weight, with_bias, dtype):
    """Values and the gradients of input, weight and bias, for an input stepped through memory and a
    non-contiguous upstream gradient."""
    rng = np.random.default_rng(21)
    base = rng.uniform(-2, 2, shape[:-1] + (2 * shape[-1],))
    w, b = rng.uniform(0.5, 1.5, normalized), rng.uniform(-1, 1, normalized)
    g = rng.uniform(-1, 1, shape[::-1])
    tol = {"float16": 2e-2, "bfloat16": 8e-2}.get(dtype, 1e-5)

    host = np.float64 if dtype == "float64" else np.float32  # float64 only where the device has it

    def run(lib, tensor):
        as_dtype = lambda a: tensor(a.astype(host)).to(getattr(lib, dtype))  # noqa: E731
        x = as_dtype(base)[..., ::2].requires_grad_()
        weight = as_dtype(w).requires_grad_() if with_weight else None
        bias = as_dtype(b).requires_grad_() if with_bias else None
        y = lib.nn.functional.layer_norm(x, normalized, weight, bias, 1e-5)
        upstream = as_dtype(g).permute(*reversed(range(len(shape))))
        grads = lib.autograd.grad(y, [t for t in (x, weight, bias) if t is not None], upstream)
        return [y.detach()] + list(grads)

    ours = run(torch, torch.tensor)
    theirs = run(real_torch, real_torch.tensor)
    for got, want in zip(ours, theirs):
        assert got.dtype.name == dtype and tuple(got.shape) == tuple(want.shape)
        assert_close(got.float(), want.float().numpy(), rtol=tol, atol=tol)


def test_layer_norm_is_two_kernels_forward(launches):
    x, w, b = torch.randn(6, 10), torch.randn(10), torch.randn(10)
    launches.clear()
    F.layer_norm(x, (10,), w, b)
    assert len(launches) == 2


@needs_fp64
def test_layer_norm_second_derivatives():
    from cltensor.autograd import gradgradcheck
    rng = np.random.default_rng(22)
    xt = t64(rng.uniform(-1, 1, (3, 4)), requires_grad=True)
    wt, bt = t64(rng.uniform(0.5, 1.5, 4), requires_grad=True), t64(rng.uniform(-1, 1, 4), requires_grad=True)
    assert gradgradcheck(lambda a, ww, bb: F.layer_norm(a, (4,), ww, bb), (xt, wt, bt))


@needs_fp64
def test_batch_norm_gradcheck():
    x = RNG.normal(size=(4, 3, 2))
    w, b = RNG.normal(size=3), RNG.normal(size=3)
    xt, wt, bt = t64(x, True), t64(w, True), t64(b, True)
    assert gradcheck(lambda a, ww, bb: F.batch_norm(a, None, None, ww, bb, training=True), (xt, wt, bt))
    rm, rv = t64(RNG.normal(size=3)), t64(RNG.uniform(0.5, 2, 3))
    assert gradcheck(lambda a, ww, bb: F.batch_norm(a, rm, rv, ww, bb, training=False), (xt, wt, bt))


def test_batch_norm_functional():
    x = RNG.normal(size=(4, 3, 2))
    w, b = RNG.normal(size=3), RNG.normal(size=3)
    rm, rv = tp(RNG.normal(size=3)), tp(RNG.uniform(0.5, 2, 3))
    train_ref = (x - x.mean((0, 2))[:, None]) / np.sqrt(x.var((0, 2))[:, None] + 1e-5) * w[:, None] + b[:, None]
    assert_close(F.batch_norm(tp(x), None, None, tp(w), tp(b), training=True), train_ref)
    eval_ref = (x - np_of(rm)[:, None]) / np.sqrt(np_of(rv)[:, None] + 1e-5) * w[:, None] + b[:, None]
    assert_close(F.batch_norm(tp(x), rm, rv, tp(w), tp(b)), eval_ref)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        F.batch_norm(tp(x), tp(np.zeros(4)), rv)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size "
                                         r"torch.Size\(\[1, 3\]\)"):
        F.batch_norm(tp(np.ones((1, 3))), None, None, training=True)


@needs_fp64
def test_group_norm_gradcheck():
    x = t64(RNG.normal(size=(2, 4, 2)), True)
    w, b = t64(RNG.normal(size=4), True), t64(RNG.normal(size=4), True)
    assert gradcheck(lambda a, ww, bb: F.group_norm(a, 2, ww, bb), (x, w, b))


def test_group_norm_and_rms_norm():
    x, w, b = RNG.normal(size=(2, 4, 3)), RNG.normal(size=4), RNG.normal(size=4)
    g = x.reshape(2, 2, 6)
    ref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(2, 4, 3)
    assert_close(F.group_norm(tp(x), 2, tp(w), tp(b)), ref * w[:, None] + b[:, None])
    xr = RNG.normal(size=(3, 5))
    # the default eps is the machine epsilon of the input's dtype, as in PyTorch
    eps = np.finfo(PRECISE.np).eps
    assert_close(F.rms_norm(tp(xr), (5,)), xr / np.sqrt((xr * xr).mean(-1, keepdims=True) + eps))


@needs_torch
def test_normalisations_match_pytorch():
    x = RNG.normal(size=(4, 6, 3))
    w, b = RNG.normal(size=6), RNG.normal(size=6)
    tf = real_torch.nn.functional
    ref = tf.group_norm(real_torch.tensor(x), 3, real_torch.tensor(w), real_torch.tensor(b))
    assert_close(F.group_norm(tp(x), 3, tp(w), tp(b)), ref.numpy())
    assert_close(F.rms_norm(tp(x), (6, 3), eps=1e-3),
                 tf.rms_norm(real_torch.tensor(x), (6, 3), eps=1e-3).numpy())
    rm, rv = RNG.normal(size=6), RNG.uniform(0.5, 2, 6)
    ours_rm, ours_rv = tp(rm), tp(rv)
    their_rm, their_rv = real_torch.tensor(rm), real_torch.tensor(rv)
    out = F.batch_norm(tp(x), ours_rm, ours_rv, tp(w), tp(b), training=True, momentum=0.2, eps=1e-3)
    ref = tf.batch_norm(real_torch.tensor(x), their_rm, their_rv, real_torch.tensor(w), real_torch.tensor(b),
                        training=True, momentum=0.2, eps=1e-3)
    assert_close(out, ref.numpy())
    assert_close(ours_rm, their_rm.numpy())
    assert_close(ours_rv, their_rv.numpy())


# ---- losses: numpy references ------------------------------------------------------------------------
def reduce_np(loss, reduction):
    return {"none": loss, "mean": np.mean(loss), "sum": np.sum(loss)}[reduction]


def np_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    class_dim = 0 if x.ndim == 1 else 1
    classes = x.shape[class_dim]
    logp = np.moveaxis(np_log_softmax(x, class_dim), class_dim, -1).reshape(-1, classes)
    tt = np.asarray(t).reshape(-1)
    w = np.ones(classes) if weight is None else weight
    keep = tt != ignore_index
    safe = np.where(keep, tt, 0)
    wt = w[safe] * keep
    nll = -logp[np.arange(tt.size), safe] * wt
    loss = nll
    if label_smoothing:
        smooth = -(logp * w).sum(-1) * keep
        loss = (1 - label_smoothing) * nll + label_smoothing / classes * smooth
    if reduction == "none":
        return loss.reshape(np.shape(t))
    return loss.sum() if reduction == "sum" else loss.sum() / wt.sum()


def np_cross_entropy_probs(x, p, weight=None, reduction="mean", label_smoothing=0.0):
    class_dim = 0 if x.ndim == 1 else 1
    classes = x.shape[class_dim]
    if label_smoothing:
        p = p * (1 - label_smoothing) + label_smoothing / classes
    shape = [1] * x.ndim
    shape[class_dim] = classes
    w = np.ones(shape) if weight is None else weight.reshape(shape)
    return reduce_np(-(np_log_softmax(x, class_dim) * p * w).sum(class_dim), reduction)


REDUCTIONS = ["mean", "sum", "none"]
CE_CASES = [
    ("plain", (6, 4), {}),
    ("weight", (6, 4), {"weight": True}),
    ("ignore", (6, 4), {"ignore_index": 2}),
    ("ignore_default", (6, 4), {"ignore_default": True}),
    ("smoothing", (6, 4), {"label_smoothing": 0.2}),
    ("all", (6, 4), {"weight": True, "ignore_index": 1, "label_smoothing": 0.3}),
    ("kdim", (3, 4, 2, 2), {"weight": True, "ignore_index": 0, "label_smoothing": 0.1}),
    ("unbatched", (5,), {"label_smoothing": 0.1}),
]


def _ce_args(shape, opts):
    classes = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    x = RNG.normal(size=shape) * 2
    t = RNG.integers(0, classes, tshape)
    kwargs = {k: v for k, v in opts.items() if k not in ("weight", "ignore_default")}
    if opts.get("ignore_default"):
        t.reshape(-1)[:2] = -100
    weight = RNG.uniform(0.2, 2.0, classes) if opts.get("weight") else None
    return x, t, weight, kwargs


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label, shape, opts", CE_CASES, ids=[c[0] for c in CE_CASES])
def test_cross_entropy_against_numpy(label, shape, opts, reduction):
    x, t, weight, kwargs = _ce_args(shape, opts)
    out = F.cross_entropy(tp(x), torch.tensor(t), weight=tp(weight) if weight is not None else None,
                          reduction=reduction, **kwargs)
    assert_close(out, np_cross_entropy(x, t, weight, reduction=reduction, **kwargs))
    loss_module = nn.CrossEntropyLoss(weight=tp(weight) if weight is not None else None, reduction=reduction,
                                      **kwargs)
    assert_close(loss_module(tp(x), torch.tensor(t)), np_of(out))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets(reduction):
    x = RNG.normal(size=(5, 3, 2))
    p = RNG.uniform(size=(5, 3, 2))
    p /= p.sum(1, keepdims=True)
    w = RNG.uniform(0.5, 1.5, 3)
    out = F.cross_entropy(tp(x), tp(p), weight=tp(w), reduction=reduction, label_smoothing=0.25)
    assert_close(out, np_cross_entropy_probs(x, p, w, reduction, 0.25))
    assert_close(F.cross_entropy(tp(x[0, :, 0]), tp(p[0, :, 0])), np_cross_entropy_probs(x[0, :, 0], p[0, :, 0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_against_numpy(reduction):
    x = np_log_softmax(RNG.normal(size=(7, 5)), 1)
    t = np.array([0, 4, 2, 2, -100, 1, 3])
    w = RNG.uniform(0.5, 2, 5)
    out = F.nll_loss(tp(x), torch.tensor(t), weight=tp(w), reduction=reduction)
    keep = t != -100
    safe = np.where(keep, t, 0)
    per = -x[np.arange(7), safe] * w[safe] * keep
    expected = {"none": per, "sum": per.sum(), "mean": per.sum() / (w[safe] * keep).sum()}[reduction]
    assert_close(out, expected)
    assert_close(nn.NLLLoss(weight=tp(w), reduction=reduction)(tp(x), torch.tensor(t)), expected)


def test_nll_loss_edge_cases():
    x = tp(np_log_softmax(RNG.normal(size=(3, 4)), 1))
    assert math.isnan(F.nll_loss(x, torch.tensor([-100, -100, -100])).item())  # all ignored: 0/0
    assert math.isnan(F.cross_entropy(tp(np.zeros((0, 3))), torch.zeros(0, dtype=torch.int64)).item())
    assert F.cross_entropy(tp(np.zeros((0, 3))), torch.zeros(0, dtype=torch.int64), reduction="sum").item() == 0
    masked = tp([[0.0, -np.inf, 2.0], [1.0, 1.0, -np.inf]])
    out = F.cross_entropy(masked, torch.tensor([2, 0]))  # -inf logits of other classes stay finite
    assert_close(out, np_cross_entropy(np.array([[0.0, -np.inf, 2.0], [1.0, 1.0, -np.inf]]), [2, 0]))
    assert F.cross_entropy(tp([[1.0, 2.0]]), torch.tensor([1], dtype=torch.uint8)).shape == ()


def np_bce(x, t, w=None):
    with np.errstate(divide="ignore"):
        loss = -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log(1 - x), -100))
    return loss * (1 if w is None else w)


def np_bce_logits(x, t, w=None, pos_weight=None):
    lw = 1 + ((1 if pos_weight is None else pos_weight) - 1) * t
    loss = (1 - t) * x + lw * (np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0))
    return loss * (1 if w is None else w)


def np_smooth_l1(d, beta):
    z = np.abs(d)
    return z if beta == 0 else np.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_and_binary_losses_against_numpy(reduction):
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    w = RNG.uniform(0.5, 1.5, 4)
    cases = [
        (F.mse_loss(tp(a), tp(b), reduction=reduction), (a - b) ** 2),
        (nn.MSELoss(reduction=reduction)(tp(a), tp(b)), (a - b) ** 2),
        (F.l1_loss(tp(a), tp(b), reduction=reduction), np.abs(a - b)),
        (nn.L1Loss(reduction=reduction)(tp(a), tp(b)), np.abs(a - b)),
        (F.smooth_l1_loss(tp(a), tp(b), reduction=reduction, beta=0.5), np_smooth_l1(a - b, 0.5)),
        (nn.SmoothL1Loss(reduction=reduction, beta=0.0)(tp(a), tp(b)), np.abs(a - b)),
        (F.huber_loss(tp(a), tp(b), reduction=reduction, delta=0.7), 0.7 * np_smooth_l1(a - b, 0.7)),
    ]
    p = sigmoid(a)
    p[0, :2] = [0.0, 1.0]  # the log clamp at -100
    t = RNG.uniform(size=(3, 4))
    cases += [
        (F.binary_cross_entropy(tp(p), tp(t), weight=tp(w), reduction=reduction), np_bce(p, t, w)),
        (nn.BCELoss(reduction=reduction)(tp(p), tp(t)), np_bce(p, t)),
        (F.binary_cross_entropy_with_logits(tp(a * 20), tp(t), weight=tp(w), pos_weight=tp(w * 2),
                                            reduction=reduction), np_bce_logits(a * 20, t, w, w * 2)),
        (nn.BCEWithLogitsLoss(reduction=reduction)(tp(a), tp(t)), np_bce_logits(a, t)),
    ]
    for out, per_element in cases:
        assert_close(out, reduce_np(per_element, reduction))


LOSS_GRADCHECKS = {
    "cross_entropy_weight_ignore_smoothing": (
        lambda x, w: F.cross_entropy(x, torch.tensor([[0, 2], [1, 1]]), weight=w, ignore_index=1,
                                     label_smoothing=0.2), [(2, 3, 2), (3,)]),
    "cross_entropy_probs": (lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1), [(3, 4), (3, 4)]),
    "nll_loss_sum": (lambda x: F.nll_loss(x, torch.tensor([0, 3, -100]), reduction="sum"), [(3, 4)]),
    "bce_with_logits": (lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw),
                        [(2, 3), (2, 3), (3,), (3,)]),
    "bce": (lambda x, t: F.binary_cross_entropy(x.sigmoid(), t, reduction="sum"), [(2, 3), (2, 3)]),
    "smooth_l1": (lambda a, b: F.smooth_l1_loss(a, b, beta=0.7, reduction="none"), [(2, 3), (2, 3)]),
    "mse": (lambda a, b: F.mse_loss(a, b), [(2, 3), (2, 3)]),
    "kl_div": (lambda a, b: F.kl_div(a, b.sigmoid(), reduction="batchmean"), [(2, 3), (2, 3)]),
}


@needs_fp64
@pytest.mark.parametrize("name", list(LOSS_GRADCHECKS))
def test_loss_gradcheck(name):
    fn, shapes = LOSS_GRADCHECKS[name]
    inputs = [t64(RNG.uniform(0.1, 0.9, s) if i else RNG.normal(size=s), True) for i, s in enumerate(shapes)]
    assert gradcheck(fn, inputs)


TORCH_LOSSES = [
    ("cross_entropy", lambda: (RNG.normal(size=(5, 4, 3)), RNG.integers(0, 4, (5, 3))),
     {"ignore_index": 3, "label_smoothing": 0.15, "weight": "w4"}),
    ("cross_entropy", lambda: (RNG.normal(size=(4, 3)), RNG.dirichlet(np.ones(3), 4)), {"label_smoothing": 0.2}),
    ("nll_loss", lambda: (RNG.normal(size=(4, 3)), np.array([0, 2, 2, -100])), {"weight": "w3"}),
    ("binary_cross_entropy", lambda: (RNG.uniform(0.05, 0.95, (4, 3)), RNG.uniform(size=(4, 3))), {}),
    ("binary_cross_entropy_with_logits", lambda: (RNG.normal(size=(4, 3)) * 5, RNG.uniform(size=(4, 3))),
     {"pos_weight": "w3"}),
    ("mse_loss", lambda: (RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))), {}),
    ("l1_loss", lambda: (RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))), {}),
    ("smooth_l1_loss", lambda: (RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))), {"beta": 0.5}),
    ("huber_loss", lambda: (RNG.normal(size=(4, 3)) * 3, RNG.normal(size=(4, 3))), {"delta": 1.5}),
    ("kl_div", lambda: (np_log_softmax(RNG.normal(size=(4, 3)), 1), RNG.dirichlet(np.ones(3), 4)), {}),
    ("kl_div", lambda: (RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))), {"log_target": True}),
    ("soft_margin_loss", lambda: (RNG.normal(size=(4, 3)) * 40, np.sign(RNG.normal(size=(4, 3)))), {}),
]


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, make, kwargs", TORCH_LOSSES, ids=[f"{c[0]}{i}" for i, c in enumerate(TORCH_LOSSES)])
def test_losses_match_pytorch(name, make, kwargs, reduction):
    x, t = make()
    if reduction == "mean" and name == "kl_div":
        reduction = "batchmean"
    extra, their_extra = {}, {}
    for k, v in kwargs.items():
        if isinstance(v, str):
            w = np.linspace(0.5, 2.0, int(v[1:]))
            extra[k], their_extra[k] = tp(w), real_torch.tensor(w)
        else:
            extra[k] = their_extra[k] = v
    target = torch.tensor(t) if t.dtype.kind == "i" else tp(t)
    xt = tp(x, True)
    out = getattr(F, name)(xt, target, reduction=reduction, **extra)
    tx = real_torch.tensor(x, requires_grad=True)
    ref = getattr(real_torch.nn.functional, name)(tx, real_torch.tensor(t), reduction=reduction, **their_extra)
    assert_close(out, ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    assert_close(xt.grad, tx.grad.numpy(), **GRAD_TOL)


def test_margin_ranking_and_soft_margin():
    a, b, y = RNG.normal(size=5), RNG.normal(size=5), np.sign(RNG.normal(size=5))
    assert_close(F.margin_ranking_loss(tp(a), tp(b), tp(y), margin=0.3),
                 np.maximum(0, -y * (a - b) + 0.3).mean())
    assert_close(nn.SoftMarginLoss(reduction="sum")(tp(a), tp(y)), np.log1p(np.exp(-y * a)).sum())


# ---- errors ----------------------------------------------------------------------------------------------
def _x(*shape):
    return torch.zeros(*shape)


ERRORS = [
    (lambda: F.nll_loss(_x(3, 4), torch.tensor([1, 2, 3]).int()), RuntimeError,
     "expected target dtype to be Long or Byte, but got Int"),
    (lambda: F.nll_loss(_x(3, 4), torch.tensor([1, 2])), ValueError,
     r"Expected input batch_size \(3\) to match target batch_size \(2\)."),
    (lambda: F.nll_loss(_x(3, 4), torch.tensor([1, 2, 1]), weight=torch.ones(3)), RuntimeError,
     r"weight tensor should be defined either for all 4 classes or no classes but got weight tensor of shape: \[3\]"),
    (lambda: F.cross_entropy(_x(3, 4), torch.rand(3, 4), ignore_index=1), RuntimeError,
     "ignore_index is not supported for floating point target"),
    (lambda: F.cross_entropy(_x(3, 4), torch.rand(3, 5)), RuntimeError,
     "0D or 1D target tensor expected, multi-target not supported"),
    (lambda: F.cross_entropy(_x(3, 4), torch.tensor([1.0, 2.0, 3.0])), RuntimeError,
     "expected target dtype to be Long or Byte, but got Float"),
    (lambda: F.nll_loss(_x(2, 3, 4), torch.zeros(2, 3, dtype=torch.int64)), RuntimeError,
     r"Expected target size \[2, 4\], got \[2, 3\]"),
    (lambda: F.cross_entropy(_x(3, 4), torch.tensor([1, 2, 3]), label_smoothing=1.5), RuntimeError,
     "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
    (lambda: F.binary_cross_entropy(_x(3), _x(4)), ValueError,
     r"Using a target size \(torch.Size\(\[4\]\)\) that is different to the input size \(torch.Size\(\[3\]\)\) is "
     "deprecated. Please ensure they have the same size."),
    (lambda: F.binary_cross_entropy_with_logits(_x(3), _x(4)), ValueError,
     r"Target size \(torch.Size\(\[4\]\)\) must be the same as input size \(torch.Size\(\[3\]\)\)"),
    (lambda: F.mse_loss(_x(3), _x(3), reduction="foo"), ValueError, "foo is not a valid value for reduction"),
    (lambda: F.smooth_l1_loss(_x(3), _x(3), beta=-1), RuntimeError,
     "smooth_l1_loss does not support negative values for beta."),
    (lambda: F.gelu(_x(3), approximate="foo"), RuntimeError, "approximate argument must be either none or tanh."),
    (lambda: F.dropout(_x(3), 1.5), ValueError, "dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda: F.glu(_x(3, 5)), RuntimeError, "Halving dimension must be even, but dimension 1 is size 5"),
    (lambda: F.pad(_x(3), (1, 1), mode="reflect"), NotImplementedError,
     "Padding size 2 is not supported for 1D input tensor"),
    (lambda: F.hardtanh(_x(3), 1.0, -1.0), ValueError, "min_val cannot be greater than max_val"),
]


@pytest.mark.parametrize("fn, exc, message", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_like_pytorch(fn, exc, message):
    with pytest.raises(exc, match=message):
        fn()


def test_size_warning_and_legacy_reduction_flags():
    with pytest.warns(UserWarning, match=r"Using a target size \(torch.Size\(\[1\]\)\) that is different to the "
                                         r"input size \(torch.Size\(\[3\]\)\)"):
        F.mse_loss(_x(3), _x(1))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated, please use "
                                         "reduction='sum' instead."):
        out = F.l1_loss(tp([1.0, 2.0]), tp([0.0, 0.0]), size_average=False)
    assert out.item() == 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert nn.MSELoss(reduce=False).reduction == "none"


# ---- no host reads ---------------------------------------------------------------------------------------
def test_forward_and_backward_do_not_read_the_device(monkeypatch):
    """A training step through the layers and losses must not sync with the host."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.LayerNorm(8), nn.Dropout(0.1), nn.BatchNorm1d(8),
                          nn.SiLU(), nn.Linear(8, 4))
    x = torch.randn(16, 6)
    t = torch.randint(0, 4, (16,))
    w = torch.rand(4)
    targets = torch.rand(16, 4)
    y = model(x)  # compile every kernel once, outside the check
    (F.cross_entropy(y, t, weight=w, label_smoothing=0.1) + F.binary_cross_entropy_with_logits(y, targets)
     + F.smooth_l1_loss(y, targets) + F.nll_loss(F.log_softmax(y, 1), t)).backward()
    model.zero_grad()

    def forbidden(*args, **kwargs):
        raise AssertionError("host read inside forward/backward")

    backend_type = type(x.device.backend)
    monkeypatch.setattr(backend_type, "synchronize", forbidden)
    monkeypatch.setattr(torch.Tensor, "_to_numpy_copy", forbidden)
    monkeypatch.setattr(torch.Tensor, "_host_array", forbidden)
    y = model(x)
    loss = (F.cross_entropy(y, t, weight=w, label_smoothing=0.1) + F.binary_cross_entropy_with_logits(y, targets)
            + F.smooth_l1_loss(y, targets) + F.nll_loss(F.log_softmax(y, 1), t))
    loss.backward()
    monkeypatch.undo()
    assert all(p.grad is not None for p in model.parameters())
    assert math.isfinite(loss.item())


# ---- attention, rearrangements and the less common layers/losses ----------------------------------------
SDPA_CASES = [{}, {"is_causal": True}, {"mask": "bool"}, {"mask": "float"}, {"scale": 0.3}, {"gqa": True}]


@needs_torch
@pytest.mark.parametrize("case", SDPA_CASES, ids=["plain", "causal", "bool_mask", "float_mask", "scale", "gqa"])
def test_scaled_dot_product_attention_matches_pytorch(case):
    heads_kv = 1 if case.get("gqa") else 3
    q, k, v = RNG.normal(size=(2, 3, 4, 5)), RNG.normal(size=(2, heads_kv, 6, 5)), RNG.normal(size=(2, heads_kv, 6, 5))
    ours, theirs = {}, {}
    if "mask" in case:
        m = RNG.random((4, 6)) > 0.3
        m[:, 0] = True
        m = m if case["mask"] == "bool" else np.where(m, 0.0, -2.5)
        ours["attn_mask"], theirs["attn_mask"] = torch.tensor(m) if m.dtype == bool else tp(m), real_torch.tensor(m)
    for key in ("is_causal", "scale"):
        if key in case:
            ours[key] = theirs[key] = case[key]
    if case.get("gqa"):
        ours["enable_gqa"] = theirs["enable_gqa"] = True
    tensors = [tp(a, True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*tensors, **ours)
    their_tensors = [real_torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    ref = real_torch.nn.functional.scaled_dot_product_attention(*their_tensors, **theirs)
    assert_close(out, ref.detach().numpy())
    g = RNG.normal(size=out.shape)
    out.backward(tp(g))
    ref.backward(real_torch.tensor(g))
    for a, b in zip(tensors, their_tensors):
        assert_close(a.grad, b.grad.numpy(), **GRAD_TOL)


@needs_fp64
def test_scaled_dot_product_attention_gradcheck():
    q, k, v = (t64(RNG.normal(size=(1, 2, 3)), True) for _ in range(3))
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True), (q, k, v))


def test_scaled_dot_product_attention_values_and_errors():
    q, k, v = (RNG.normal(size=(1, 2, 3)) for _ in range(3))
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(3) + np.triu(np.full((2, 2), -np.inf), 1)
    attn = np.exp(scores - scores.max(-1, keepdims=True))
    ref = attn / attn.sum(-1, keepdims=True) @ v
    q, k, v = tp(q), tp(k), tp(v)
    assert_close(F.scaled_dot_product_attention(q, k, v, is_causal=True), ref)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(3, 3, dtype=torch.bool), is_causal=True)


def test_pixel_shuffle_round_trip():
    x = RNG.normal(size=(2, 12, 3, 2))
    out = nn.PixelShuffle(2)(tp(x))
    assert out.shape == (2, 3, 6, 4)
    ref = x.reshape(2, 3, 2, 2, 3, 2).transpose(0, 1, 4, 2, 5, 3).reshape(2, 3, 6, 4)
    assert_close(out, ref)
    assert_close(nn.PixelUnshuffle(2)(out), x)
    assert F.pixel_shuffle(tp(x[0]), 2).shape == (3, 6, 4)
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(tp(x), 5)


def test_instance_norm():
    x = RNG.normal(size=(3, 2, 5)) * 2 + 1
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    assert_close(nn.InstanceNorm1d(2)(tp(x)), ref)
    assert_close(nn.InstanceNorm1d(2)(tp(x[0])), ref[0])  # unbatched (C, L)
    tracked = nn.InstanceNorm1d(2, affine=True, track_running_stats=True).to(PRECISE)
    tracked(tp(x))
    assert_close(tracked.running_mean, 0.1 * x.mean(-1).mean(0))
    assert_close(tracked.running_var, 0.9 + 0.1 * x.var(-1, ddof=1).mean(0))
    tracked.eval()
    rm, rv = np_of(tracked.running_mean)[:, None], np_of(tracked.running_var)[:, None]
    assert_close(tracked(tp(x)), (x - rm) / np.sqrt(rv + 1e-5))
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(2)(tp(x[0]))


@needs_fp64
def test_instance_norm_gradcheck():
    xt = t64(RNG.normal(size=(2, 2, 5)) * 2 + 1, True)
    assert gradcheck(lambda a: F.instance_norm(a), (xt,))


@needs_torch
def test_instance_norm_matches_pytorch():
    x = RNG.normal(size=(4, 3, 2, 3))
    ours = nn.InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=0.3).to(PRECISE)
    theirs = real_torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=0.3).double()
    with torch.no_grad():
        ours.weight.copy_(tp(RNG.normal(size=3)))
    copy_state = {k: real_torch.from_numpy(np_of(v)) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(copy_state)
    assert_close(ours(tp(x)), theirs(real_torch.tensor(x)).detach().numpy())
    for k, v in theirs.state_dict().items():
        assert_close(ours.state_dict()[k], v.numpy())


def test_rrelu_alpha_dropout_gumbel_softmax():
    torch.manual_seed(0)
    x = tp(RNG.normal(size=(50, 40)), True)
    out = F.rrelu(x, 0.1, 0.3, training=True)
    xs, os = np_of(x), np_of(out)
    slopes = os[xs < 0] / xs[xs < 0]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    out.sum().backward()
    assert_close(np_of(x.grad)[xs < 0], slopes)
    assert_close(nn.RReLU(0.1, 0.3).eval()(x), np.where(xs > 0, xs, 0.2 * xs))
    normal = torch.randn(400, 250, dtype=PRECISE)
    dropped = np_of(F.alpha_dropout(normal, 0.2, training=True))
    assert abs(dropped.mean()) < 0.02 and abs(dropped.std() - 1) < 0.02
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha ** 2 * 0.2 + 1) * 0.8)
    assert abs(np.isclose(dropped, alpha * a * (0.2 - 1)).mean() - 0.2) < 0.01  # dropped units: one value
    assert nn.AlphaDropout(0.2).eval()(normal) is normal
    logits = tp(RNG.normal(size=(6, 4)), True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    assert_close(np_of(soft).sum(1), np.ones(6))
    hard = F.gumbel_softmax(logits, hard=True)
    h = np_of(hard)
    assert set(np.unique(h)) <= {0.0, 1.0} and np.array_equal(h.sum(1), np.ones(6))
    (hard * tp(RNG.normal(size=(6, 4)))).sum().backward()
    assert np.abs(np_of(logits.grad)).sum() > 0  # straight-through gradient


MORE_LOSSES = [
    ("poisson_nll_loss", lambda: (RNG.normal(size=(4, 3)), RNG.poisson(2.0, (4, 3)).astype(float)), {"full": True}),
    ("poisson_nll_loss", lambda: (RNG.uniform(0.1, 3, (4, 3)), RNG.poisson(2.0, (4, 3)).astype(float)),
     {"log_input": False}),
    ("gaussian_nll_loss", lambda: (RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3)), RNG.uniform(0, 2, (4, 3))),
     {"full": True, "eps": 0.3}),
    ("gaussian_nll_loss", lambda: (RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3)), RNG.uniform(0.5, 2, 4)), {}),
    ("hinge_embedding_loss", lambda: (RNG.normal(size=(4, 3)), np.sign(RNG.normal(size=(4, 3)))), {"margin": 0.5}),
    ("cosine_embedding_loss", lambda: (RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3)),
                                       np.sign(RNG.normal(size=4))), {"margin": 0.2}),
    ("triplet_margin_loss", lambda: (RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))),
     {"swap": True, "margin": 2.0}),
    ("multilabel_soft_margin_loss", lambda: (RNG.normal(size=(4, 3)), (RNG.random((4, 3)) > 0.5) * 1.0),
     {"weight": "w3"}),
    ("multi_margin_loss", lambda: (RNG.normal(size=(4, 3)), RNG.integers(0, 3, 4)), {"p": 2, "weight": "w3"}),
    ("multi_margin_loss", lambda: (RNG.normal(size=(4, 3)), RNG.integers(0, 3, 4)), {"margin": 0.5}),
]


DIFFERENTIABLE_ARGS = {"gaussian_nll_loss": 3, "cosine_embedding_loss": 2, "triplet_margin_loss": 3}


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, make, kwargs", MORE_LOSSES, ids=[f"{c[0]}{i}" for i, c in enumerate(MORE_LOSSES)])
def test_more_losses_match_pytorch(name, make, kwargs, reduction):
    arrays = make()
    extra, their_extra = {}, {}
    for k, v in kwargs.items():
        if isinstance(v, str):
            w = np.linspace(0.5, 2.0, int(v[1:]))
            extra[k], their_extra[k] = tp(w), real_torch.tensor(w)
        else:
            extra[k] = their_extra[k] = v
    differentiable = DIFFERENTIABLE_ARGS.get(name, 1)  # targets are compared by value only
    ours = [tp(a, i < differentiable) if a.dtype.kind == "f" else torch.tensor(a) for i, a in enumerate(arrays)]
    theirs = [real_torch.tensor(a, requires_grad=i < differentiable and a.dtype.kind == "f")
              for i, a in enumerate(arrays)]
    out = getattr(F, name)(*ours, reduction=reduction, **extra)
    ref = getattr(real_torch.nn.functional, name)(*theirs, reduction=reduction, **their_extra)
    assert_close(out, ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    for a, b in zip(ours[:differentiable], theirs[:differentiable]):
        assert_close(a.grad, b.grad.numpy(), **GRAD_TOL)


# ---- composite activations as one kernel each way (cltensor/ops/activations.py) -------------------------
FUSED = [("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}), ("elu", {"alpha": 0.7}),
         ("selu", {}), ("celu", {"alpha": 1.5}), ("softplus", {"beta": 2.0, "threshold": 5.0}), ("hardswish", {}),
         ("hardsigmoid", {}), ("logsigmoid", {}), ("softsign", {}), ("tanhshrink", {})]
FUSED_IDS = [f"{n}-{'-'.join(map(str, k.values()))}" if k else n for n, k in FUSED]


@pytest.mark.parametrize("name, kwargs", FUSED, ids=FUSED_IDS)
def test_composite_activation_is_one_kernel_forward_and_one_backward(name, kwargs, launches):
    x = tp(X, requires_grad=True)
    g = tp(RNG.uniform(0.5, 1.5, X.shape))
    launches.clear()
    y = getattr(F, name)(x, **kwargs)
    assert len(launches) == 1, launches
    launches.clear()
    torch.autograd.grad(y, x, g)
    assert len(launches) == 1, launches


@needs_fp64
@pytest.mark.parametrize("name, kwargs", FUSED, ids=FUSED_IDS)
def test_composite_activation_second_derivatives(name, kwargs):
    from cltensor.autograd import gradgradcheck
    x = t64(RNG.uniform(-2.5, 2.5, (2, 3)), requires_grad=True)
    assert gradgradcheck(lambda v: getattr(F, name)(v, **kwargs), (x,))


@needs_torch
@pytest.mark.parametrize("name, kwargs", FUSED, ids=FUSED_IDS)
def test_composite_activation_grad_fn_names_and_dtypes_as_pytorch(name, kwargs):
    x = tp(X, requires_grad=True)
    tx = real_torch.tensor(X, requires_grad=True)
    assert getattr(F, name)(x, **kwargs).grad_fn.name() == getattr(real_torch.nn.functional, name)(tx, **kwargs).grad_fn.name()
    for dtype in ("float16", "bfloat16"):
        y = getattr(F, name)(torch.tensor(X, dtype=getattr(torch, dtype)), **kwargs)
        ty = getattr(real_torch.nn.functional, name)(real_torch.tensor(X, dtype=getattr(real_torch, dtype)), **kwargs)
        assert y.dtype.name == dtype
        assert_close(y.float(), ty.float().numpy(), rtol=2e-2, atol=2e-2)
    ints = np.arange(-3, 4)
    try:
        expected = getattr(real_torch.nn.functional, name)(real_torch.tensor(ints), **kwargs)
    except NotImplementedError as err:
        with pytest.raises(NotImplementedError, match=re.escape(str(err))):
            getattr(F, name)(torch.tensor(ints), **kwargs)
    else:
        got = getattr(F, name)(torch.tensor(ints), **kwargs)
        assert got.dtype.name == str(expected.dtype).split(".")[1]
        assert_close(got, expected.numpy())
