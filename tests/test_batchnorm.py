"""BatchNorm1d/2d/3d over (N, C, *) inputs against a numpy float64 reference (normalisation with the
biased batch variance, running statistics with the unbiased one, cumulative average for momentum=None)
and PyTorch: train/eval, affine=False, track_running_stats=False, gradients, reprs, buffers, errors."""
import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
from helpers import HAVE_TORCH, assert_close, real_torch

RNG = np.random.default_rng(43)
CASES = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (4, 3, 5, 6)),
         ("BatchNorm3d", (2, 3, 4, 5, 2))]
CONFIGS = [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False}, {"momentum": 0.3, "eps": 1e-3}]


def np_batch_norm_steps(xs, momentum, eps, track):
    """Outputs of three training steps and the running (mean, var, count) after them."""
    mean_r, var_r, outs = np.zeros(3), np.ones(3), []
    for step, x in enumerate(xs, 1):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, 3) + (1,) * (x.ndim - 2)
        mean, var = x.mean(axes), x.var(axes)
        outs.append((x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps))
        if track:
            count = x.size // 3
            f = 1.0 / step if momentum is None else momentum
            mean_r = (1 - f) * mean_r + f * mean
            var_r = (1 - f) * var_r + f * var * count / (count - 1)
    return outs, mean_r, var_r


@pytest.mark.parametrize("name,shape,config", [case + ({},) for case in CASES] +
                         [("BatchNorm2d", (4, 3, 5, 6), config) for config in CONFIGS[1:]])
def test_batch_norm(name, shape, config):
    m = getattr(nn, name)(3, **config)
    xs = [RNG.standard_normal(shape) * 2 + 1 for _ in range(3)]
    outs, mean_r, var_r = np_batch_norm_steps(xs, config.get("momentum", 0.1), config.get("eps", 1e-5),
                                              config.get("track_running_stats", True))
    for x, ref in zip(xs, outs):
        assert_close(m(torch.tensor(x, dtype=torch.float32)), ref, rtol=1e-4, atol=1e-4)
    if config.get("track_running_stats", True):
        assert_close(m.running_mean, mean_r, rtol=1e-5, atol=1e-5)
        assert_close(m.running_var, var_r, rtol=1e-5, atol=1e-5)
        assert int(m.num_batches_tracked.item()) == 3
    else:
        assert m.running_mean is None
    if not HAVE_TORCH:
        return
    r = getattr(real_torch.nn, name)(3, **config)
    assert repr(m) == repr(r)
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in r.named_buffers()]
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in r.named_parameters()]
    for x in xs:
        r(real_torch.tensor(x, dtype=real_torch.float32))
    x = RNG.standard_normal(shape).astype(np.float32)
    xt, xr = torch.tensor(x, requires_grad=True), real_torch.tensor(x, requires_grad=True)
    g = RNG.standard_normal(shape).astype(np.float32)
    m(xt).backward(torch.tensor(g))
    r(xr).backward(real_torch.tensor(g))
    assert_close(xt.grad, xr.grad.numpy(), rtol=1e-4, atol=1e-4)
    m.eval()
    r.eval()
    assert_close(m(torch.tensor(x)), r(real_torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,shape", [("BatchNorm1d", (4, 3, 5, 6)), ("BatchNorm2d", (4, 3)), ("BatchNorm1d", (1, 3)),
                                        ("BatchNorm3d", (2, 3, 4))])
def test_errors(name, shape):
    with pytest.raises((ValueError, RuntimeError)) as info:
        getattr(nn, name)(3)(torch.zeros(shape))
    if HAVE_TORCH:
        with pytest.raises(type(info.value)) as ref:
            getattr(real_torch.nn, name)(3)(real_torch.zeros(shape))
        assert str(ref.value) == str(info.value)
