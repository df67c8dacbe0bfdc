"""The fused cross entropy (cltensor/ops/loss.py, launched by cltensor/launch/loss.py): its launch counts,
values and gradients against PyTorch over every target kind, option and layout, finite-difference
gradchecks in float64, the create_graph path and the fallbacks to the composition."""
import numpy as np
import pytest

import cltensor as torch
import cltensor.nn.functional as F
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, PRECISE, assert_close, needs_fp64, np_of, real_torch

RNG = np.random.default_rng(16)
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
TOL = dict(rtol=1e-9, atol=1e-11) if PRECISE is torch.float64 else dict(rtol=2e-5, atol=2e-6)




def _classes_case(shape, **opts):
    classes = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    target = RNG.integers(0, classes, tshape)
    if opts.pop("ignore", False):
        target.reshape(-1)[:1] = 1
        opts["ignore_index"] = 1
    if opts.pop("weight", False):
        opts["weight"] = RNG.uniform(0.2, 2.0, classes)
    return RNG.normal(size=shape) * 2, target, opts


def _probs_case(shape, **opts):
    class_dim = 0 if len(shape) == 1 else 1
    p = RNG.uniform(size=shape)
    p /= p.sum(class_dim, keepdims=True)
    if opts.pop("weight", False):
        opts["weight"] = RNG.uniform(0.2, 2.0, shape[class_dim])
    return RNG.normal(size=shape) * 2, p, opts


def _run(lib, x, target, opts, reduction, dtype, layout=None):
    """(loss, x.grad) of lib's cross_entropy; `layout` permutes x in memory (a non-contiguous view)."""
    float_dtype = getattr(lib, dtype)
    kw = {k: (lib.tensor(v, dtype=float_dtype) if k == "weight" else v) for k, v in opts.items()}
    xs = lib.tensor(x, dtype=float_dtype)
    if layout is not None:
        xs = xs.permute(*layout).contiguous().permute(*np.argsort(layout).tolist())
    xs.requires_grad_(True)
    tt = lib.tensor(target, dtype=float_dtype) if target.dtype.kind == "f" else lib.tensor(target)
    loss = lib.nn.functional.cross_entropy(xs, tt, reduction=reduction, **kw)
    # a non-contiguous upstream gradient for 'none' (the per-row losses' grad read through strides)
    reverse = tuple(reversed(range(loss.dim())))
    upstream = lib.tensor(RNG.normal(size=tuple(reversed(loss.shape))), dtype=float_dtype)
    upstream = upstream.permute(*reverse) if reverse else upstream
    loss.backward(upstream * 1.7)
    return loss, xs.grad


CASES = [
    ("plain", _classes_case, (6, 5), {}),
    ("weight_ignore_smooth", _classes_case, (6, 5), {"weight": True, "ignore": True, "label_smoothing": 0.2}),
    ("spatial", _classes_case, (3, 4, 2, 3), {"weight": True, "label_smoothing": 0.1}),
    ("unbatched", _classes_case, (5,), {"label_smoothing": 0.3}),
    ("probs", _probs_case, (4, 3, 2), {"weight": True, "label_smoothing": 0.25}),
    ("probs_plain", _probs_case, (5, 4), {}),
]


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name, make, shape, opts", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_pytorch(name, make, shape, opts, reduction):
    x, target, opts = make(shape, **opts)
    dtype = "float64" if PRECISE is torch.float64 else "float32"
    layout = tuple(reversed(range(len(shape))))  # the input transposed in memory
    state = RNG.bit_generator.state
    loss, grad = _run(torch, x, target, opts, reduction, dtype, layout)
    RNG.bit_generator.state = state  # the same upstream gradient
    ref_loss, ref_grad = _run(real_torch, x, target, opts, reduction, dtype)
    assert loss.shape == tuple(ref_loss.shape) and loss.dtype.name == dtype
    assert_close(loss, ref_loss.detach().numpy(), **TOL)
    assert_close(grad, ref_grad.numpy(), **TOL)
    assert type(loss.grad_fn).__name__ == type(ref_loss.grad_fn).__name__


def test_launches_forward_two_backward_one(launches):
    x = torch.randn(8, 5, requires_grad=True)
    target = torch.randint(0, 5, (8,))
    for weight, smoothing in ((None, 0.0), (torch.rand(5), 0.1)):
        launches.clear()
        loss = F.cross_entropy(x, target, weight=weight, label_smoothing=smoothing)
        assert launches == ["ce_rows", "ce_total"]
        launches.clear()
        (grad,) = torch.autograd.grad(loss, x, torch.tensor(1.0))
        assert launches == ["ce_grad"]
    launches.clear()
    F.cross_entropy(x, torch.rand(8, 5).softmax(1), reduction="none")
    assert launches[-2:] == ["ce_rows", "ce_total"]


def test_half_precision_computes_in_float32():
    x = np.linspace(-4, 4, 24).reshape(4, 6)
    target = np.array([0, 5, 2, 3])
    for dtype in (torch.float16, torch.bfloat16):
        loss = F.cross_entropy(torch.tensor(x, dtype=dtype), torch.tensor(target), reduction="none")
        assert loss.dtype is dtype
        ref = -(x - np.log(np.exp(x).sum(1, keepdims=True)))[np.arange(4), target]
        assert_close(loss.float(), ref, rtol=1e-2, atol=1e-2)


def test_edge_values():
    out = F.cross_entropy(torch.tensor([[0.0, float("-inf"), 2.0], [1.0, 1.0, 1.0]]), torch.tensor([0, -100]),
                          reduction="none")
    assert_close(out, [np.log(1 + np.exp(2.0)), 0.0])
    assert np.isinf(F.cross_entropy(torch.tensor([[0.0, float("-inf")]]), torch.tensor([1])).item())
    assert np.isnan(F.cross_entropy(torch.tensor([[0.0, float("nan")]]), torch.tensor([0])).item())
    assert np.isnan(F.cross_entropy(torch.zeros(2, 3), torch.tensor([-100, -100])).item())
    assert F.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64), reduction="none").shape == (0,)


def test_bad_target_reports_the_first_offender():
    loss = F.cross_entropy(torch.zeros(4, 3), torch.tensor([0, 9, -5, 1]), reduction="sum")
    with pytest.raises(IndexError, match="Target 9 is out of bounds."):
        loss.item()


@needs_torch
def test_create_graph_takes_the_composition():
    x = RNG.normal(size=(4, 3))
    target = np.array([2, 0, 1, 1])
    grads = []
    for lib in (torch, real_torch):
        xs = lib.tensor(x, dtype=lib.float32, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(xs, lib.tensor(target), label_smoothing=0.1)
        (g,) = lib.autograd.grad(loss, xs, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), xs)
        grads.append((np_of(g) if lib is torch else g.detach().numpy(), np_of(gg) if lib is torch else gg.numpy()))
    assert_close(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-6)
    assert_close(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-6)


def test_weight_that_requires_grad_takes_the_composition(launches):
    x = torch.randn(3, 4, requires_grad=True)
    w = torch.rand(4, requires_grad=True)
    F.cross_entropy(x, torch.tensor([0, 1, 3]), weight=w).backward()
    assert "ce_rows" not in launches and w.grad is not None and w.grad.shape == (4,)


GRADCHECKS = {
    "classes_mean": (lambda x: F.cross_entropy(x, torch.tensor([[0, 2], [1, 1]]), weight=torch.tensor(
        [0.5, 1.5, 2.0], dtype=torch.float64), ignore_index=1, label_smoothing=0.2), (2, 3, 2)),
    "classes_none": (lambda x: F.cross_entropy(x, torch.tensor([3, 0, 1]), reduction="none"), (3, 4)),
    "classes_sum": (lambda x: F.cross_entropy(x.t(), torch.tensor([1, 0]), reduction="sum", label_smoothing=0.5),
                    (3, 2)),
    "probs": (lambda x: F.cross_entropy(x, torch.tensor([[0.2, 0.8, 0.0], [0.5, 0.25, 0.25]], dtype=torch.float64),
                                        weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64),
                                        label_smoothing=0.1), (2, 3)),
}


@needs_fp64
@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradcheck(name):
    fn, shape = GRADCHECKS[name]
    assert gradcheck(fn, [torch.tensor(RNG.normal(size=shape), dtype=torch.float64, requires_grad=True)])
