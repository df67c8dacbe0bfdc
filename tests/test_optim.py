"""Optimizers against numpy implementations of their update rules (and PyTorch where installed),
parameter groups, state_dict round trips, and learning-rate schedulers against closed forms."""
import io
import math

import numpy as np
import pytest

import cltensor as torch
from cltensor import optim
from cltensor.optim import lr_scheduler
from helpers import HAVE_TORCH, PRECISE, assert_close, real_torch

# updates compute in PRECISE (float64 where the device has it, else float32) against float64 references;
# a float64 run matches them to 1e-10, a float32 one to float32's rounding over a few steps
TOL = dict(rtol=1e-10, atol=1e-12) if PRECISE is torch.float64 else dict(rtol=1e-5, atol=1e-6)

STEPS = 8  # RAdam switches to its rectified step at step 6
SHAPE = (3, 4)


# ---- numpy references: state is a dict, step(p, g, state, t) -> new p (t counts from 1) ------------------
def ref_sgd(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            s["buf"] = g.copy() if t == 1 else momentum * s["buf"] + (1 - dampening) * g
            g = g + momentum * s["buf"] if nesterov else s["buf"]
        return p - lr * g
    return step


def ref_adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False, decoupled=False):
    b1, b2 = betas

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay and decoupled:
            p = p * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * p
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
        v = s["v"]
        if amsgrad:
            v = s["vmax"] = np.maximum(s.get("vmax", 0), v)
        m_hat = s["m"] / (1 - b1 ** t)
        return p - lr * m_hat / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps)
    return step


def ref_rmsprop(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False):
    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        s["v"] = alpha * s.get("v", 0) + (1 - alpha) * g * g
        avg = s["v"]
        if centered:
            s["gavg"] = alpha * s.get("gavg", 0) + (1 - alpha) * g
            avg = avg - s["gavg"] ** 2
        avg = np.sqrt(avg) + eps
        if momentum:
            s["buf"] = momentum * s.get("buf", 0) + g / avg
            return p - lr * s["buf"]
        return p - lr * g / avg
    return step


def ref_adagrad(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False):
    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        s["sum"] = s.get("sum", initial_accumulator_value) + g * g
        clr = lr / (1 + (t - 1) * lr_decay)
        return p - clr * g / (np.sqrt(s["sum"]) + eps)
    return step


def ref_adamax(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
    b1, b2 = betas

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["u"] = np.maximum(b2 * s.get("u", 0), np.abs(g) + eps)
        return p - lr / (1 - b1 ** t) * s["m"] / s["u"]
    return step


def ref_nadam(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
              decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay and decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * p
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        s["prod"] = s.get("prod", 1.0) * mu
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
        denom = np.sqrt(s["v"] / (1 - b2 ** t)) + eps
        step_g = lr * (1 - mu) / (1 - s["prod"]) * g
        step_m = lr * mu_next / (1 - s["prod"] * mu_next) * s["m"]
        return p - (step_g + step_m) / denom
    return step


def ref_radam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay and decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * p
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1 ** t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t <= 5:
            return p - lr * m_hat
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return p - lr * m_hat * rect * math.sqrt(1 - b2 ** t) / (np.sqrt(s["v"]) + eps)
    return step


def ref_adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
        delta = np.sqrt(s.get("u", 0) + eps) / np.sqrt(s["v"] + eps) * g
        s["u"] = rho * s.get("u", 0) + (1 - rho) * delta * delta
        return p - lr * delta
    return step


def ref_rprop(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    def step(p, g, s, t):
        g = -g if maximize else g
        prev, size = s.get("prev", np.zeros_like(g)), s.get("size", np.full_like(g, lr))
        agree = g * prev
        size = np.clip(size * np.where(agree > 0, etas[1], np.where(agree < 0, etas[0], 1.0)), *step_sizes)
        g = np.where(agree < 0, 0.0, g)
        s["prev"], s["size"] = g, size
        return p - np.sign(g) * size
    return step


CASES = [
    ("SGD", dict(lr=0.1), ref_sgd),
    ("SGD", dict(lr=0.1, momentum=0.9), ref_sgd),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01), ref_sgd),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True), ref_sgd),
    ("Adam", dict(lr=0.01), ref_adam),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True), ref_adam),
    ("Adam", dict(lr=0.01, maximize=True, eps=1e-3), ref_adam),
    ("AdamW", dict(lr=0.01, weight_decay=0.1), lambda **k: ref_adam(decoupled=True, **k)),
    ("AdamW", dict(lr=0.01, amsgrad=True), lambda **k: ref_adam(decoupled=True, weight_decay=1e-2, **k)),
    ("RMSprop", dict(lr=0.01), ref_rmsprop),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5), ref_rmsprop),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1, momentum=0.9, maximize=True), ref_rmsprop),
    ("Adagrad", dict(lr=0.1), ref_adagrad),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.5), ref_adagrad),
    ("Adamax", dict(lr=0.01), ref_adamax),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True), ref_adamax),
    ("NAdam", dict(lr=0.01), ref_nadam),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), ref_nadam),
    ("RAdam", dict(lr=0.01), ref_radam),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), ref_radam),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1), ref_adadelta),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(0.01, 0.06)), ref_rprop),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw, _ in CASES]


def _data(seed=0):
    """Start values and gradients, exactly representable in PRECISE (so the references start from them too)."""
    rng = np.random.default_rng(seed)
    exact = lambda a: a.astype(PRECISE.np).astype(np.float64)  # noqa: E731
    return exact(rng.standard_normal(SHAPE)), [exact(rng.standard_normal(SHAPE)) for _ in range(STEPS)]


def _run(name, kwargs, p0, grads, dtype=PRECISE, device="cpu"):
    p = torch.tensor(p0, dtype=dtype, device=device, requires_grad=True)
    opt = getattr(optim, name)([p], **kwargs)
    for g in grads:
        p.grad = torch.tensor(g, dtype=dtype, device=device)
        opt.step()
    return p, opt


@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=IDS)
def test_update_rule_matches_numpy(name, kwargs, ref):
    p0, grads = _data()
    p, _ = _run(name, kwargs, p0, grads)
    expected, state = p0.copy(), {}
    rule = ref(**kwargs)
    for t, g in enumerate(grads, 1):
        expected = rule(expected, g, state, t)
    assert p.dtype is PRECISE
    assert_close(p, expected, **TOL)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=IDS)
def test_update_rule_matches_pytorch(name, kwargs, ref):
    p0, grads = _data(1)
    p, opt = _run(name, kwargs, p0, grads)
    tp = real_torch.tensor(p0, requires_grad=True)
    topt = getattr(real_torch.optim, name)([tp], **kwargs)
    for g in grads:
        tp.grad = real_torch.tensor(g)
        topt.step()
    # NOTE: PyTorch keeps NAdam's running product of momenta in float32; here it is a Python float
    tol = TOL if PRECISE is not torch.float64 else dict(rtol=1e-8, atol=1e-8) if name == "NAdam" else \
        dict(rtol=1e-10, atol=1e-10)
    assert_close(p, tp.detach().cpu().numpy(), **tol)
    ours, theirs = opt.state_dict(), topt.state_dict()
    ours, theirs = ours["state"].get(0, {}), theirs["state"].get(0, {})
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        if key in ("step", "mu_product"):
            assert ours[key] == pytest.approx(float(value), rel=1e-6)
        else:
            assert_close(ours[key], value.cpu().numpy(), **TOL)


def test_float32_on_a_cl_device():
    p0, grads = _data(2)
    p, _ = _run("Adam", dict(lr=0.05, amsgrad=True), p0, grads, dtype=torch.float32, device="cl:0")
    assert p.device == torch.device("cl:0") and p.dtype is torch.float32
    expected, state, rule = p0.copy(), {}, ref_adam(lr=0.05, amsgrad=True)
    for t, g in enumerate(grads, 1):
        expected = rule(expected, g, state, t)
    assert_close(p, expected, rtol=1e-5, atol=1e-6)


def test_step_never_reads_the_device(monkeypatch):
    """A step enqueues kernels only: no .item(), no numpy(), no queue.finish()."""
    p = torch.randn(5, requires_grad=True)
    opts = [optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True), optim.Adam([p], amsgrad=True, weight_decay=0.1),
            optim.AdamW([p]), optim.RMSprop([p], centered=True, momentum=0.1), optim.Adagrad([p], lr_decay=0.1),
            optim.Adamax([p]), optim.NAdam([p]), optim.RAdam([p]), optim.Adadelta([p]), optim.Rprop([p])]
    p.grad = torch.randn(5)
    for opt in opts:  # first steps create state; later ones must not synchronise either
        opt.step()

    def forbidden(*a, **k):
        raise AssertionError("the optimizer step read the device")
    backend = p.device.backend
    monkeypatch.setattr(torch.Tensor, "item", forbidden)
    monkeypatch.setattr(torch.Tensor, "_to_numpy_copy", forbidden)
    monkeypatch.setattr(backend, "synchronize", forbidden)
    for opt in opts:
        opt.step()
    monkeypatch.undo()
    assert np.isfinite(p.detach().cpu().numpy()).all()


def test_training_with_backward_reduces_a_loss():
    target = torch.tensor([1.0, -2.0, 3.0])
    w = torch.zeros(3, requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.5)
    for _ in range(60):
        opt.zero_grad()
        ((w - target) * (w - target)).backward(torch.ones(3))
        opt.step()
    assert_close(w, [1.0, -2.0, 3.0], rtol=0, atol=1e-3)


def test_closure_is_called_with_grad_enabled_and_its_loss_returned():
    w = torch.tensor([2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = w * w
        loss.backward()
        return loss
    with torch.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0 and w.item() == 0.0


# ---- parameter groups, zero_grad and argument checks -------------------------------------------------
def test_param_groups_use_their_own_hyper_parameters():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["momentum"] == 0 and opt.param_groups[1]["momentum"] == 0.9
    a.grad, b.grad = torch.ones(2), torch.ones(2)
    opt.step()
    assert a.tolist() == pytest.approx([0.9, 0.9]) and b.tolist() == pytest.approx([0.5, 0.5])
    c = torch.ones(1, requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert opt.param_groups[2]["momentum"] == 0 and opt.param_groups[2]["nesterov"] is False
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_zero_grad_drops_or_zeroes_gradients():
    w = torch.ones(3, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = torch.full((3,), 2.0)
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None
    opt.step()  # parameters without gradients are skipped
    assert w.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("make,err,match", [
    (lambda w: optim.SGD(w, lr=0.1), TypeError, "iterable of Tensors"),
    (lambda w: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda w: optim.SGD([w * 2], lr=0.1), ValueError, "non-leaf"),
    (lambda w: optim.SGD([{"params": {w}}], lr=0.1), TypeError, "ordered collections"),
    (lambda w: optim.SGD([w], lr=-1), ValueError, "Invalid learning rate"),
    (lambda w: optim.SGD([w], lr=0.1, nesterov=True), ValueError, "Nesterov"),
    (lambda w: optim.Adam([w], betas=(1.0, 0.9)), ValueError, "beta parameter at index 0"),
    (lambda w: optim.Adam([w], eps=-1), ValueError, "epsilon"),
    (lambda w: optim.Adam([w], differentiable=True), NotImplementedError, "differentiable"),
    (lambda w: optim.Adam([w], bogus=1), TypeError, "bogus"),
    (lambda w: optim.Adagrad([w], lr_decay=-1), ValueError, "lr_decay"),
])
def test_invalid_arguments(make, err, match):
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(err, match=match):
        make(w)


def test_strategy_flags_are_accepted():
    w = torch.ones(2, requires_grad=True)
    optim.Adam([w], foreach=False, fused=None, capturable=False)


# ---- state_dict ---------------------------------------------------------------------------------------
def _model():
    rng = np.random.default_rng(3)
    return [torch.tensor(rng.standard_normal(s), dtype=torch.float32, requires_grad=True)
            for s in [(4, 3), (3,), (2,)]]


def _train(params, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for p in params:
            p.grad = torch.tensor(rng.standard_normal(tuple(p.shape)), dtype=p.dtype)
        opt.step()


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)),
                                         ("RMSprop", dict(centered=True, momentum=0.5)), ("Adagrad", {})])
def test_state_dict_save_load_continue_gives_identical_steps(name, kwargs):
    params = _model()
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.05}]
    opt = getattr(optim, name)(groups, **kwargs)
    _train(params, opt, 2, seed=0)
    buf = io.BytesIO()
    torch.save({"params": params, "opt": opt.state_dict()}, buf)
    _train(params, opt, 3, seed=1)

    saved = torch.load(io.BytesIO(buf.getvalue()))
    clones = [p.detach().requires_grad_() for p in saved["params"]]
    opt2 = getattr(optim, name)([{"params": clones[:2]}, {"params": clones[2:], "lr": 0.05}], **kwargs)
    opt2.load_state_dict(saved["opt"])
    _train(clones, opt2, 3, seed=1)
    for a, b in zip(params, clones):
        np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())


def test_state_dict_layout_is_pytorchs():
    params = _model()
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.1}])
    _train(params, opt, 1, seed=0)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.1 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"]) == [0, 1, 2]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"} and sd["state"][0]["step"] == 1


def test_load_state_dict_copies_and_checks_the_layout():
    params = _model()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    _train(params, opt, 1, seed=0)
    sd = opt.state_dict()
    other = optim.SGD(_model(), lr=0.3, momentum=0.9)
    other.load_state_dict(sd)
    assert other.param_groups[0]["lr"] == 0.1
    assert other.state[other.param_groups[0]["params"][0]]["momentum_buffer"] is not sd["state"][0]["momentum_buffer"]
    with pytest.raises(ValueError, match="number of parameter groups"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD(params[:2], lr=0.1).load_state_dict(sd)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_loads_a_pytorch_optimizer_state_dict():
    their_dtype = getattr(real_torch, PRECISE.name)  # PyTorch's state in the dtype we compute in
    tp = real_torch.ones(3, dtype=their_dtype, requires_grad=True)
    topt = real_torch.optim.Adam([tp], lr=0.1)
    tp.grad = real_torch.tensor([1.0, -1.0, 2.0], dtype=their_dtype)
    topt.step()
    buf = io.BytesIO()
    real_torch.save(topt.state_dict(), buf)
    p = torch.tensor(tp.detach().cpu().numpy(), requires_grad=True)
    opt = optim.Adam([p], lr=0.5)
    opt.load_state_dict(torch.load(io.BytesIO(buf.getvalue())))
    for _ in range(2):
        tp.grad = real_torch.tensor([0.5, 0.5, -1.0], dtype=their_dtype)
        p.grad = torch.tensor([0.5, 0.5, -1.0], dtype=PRECISE)
        topt.step()
        opt.step()
    assert p.dtype is PRECISE
    assert_close(p, tp.detach().cpu().numpy(), **TOL)


# ---- schedulers ------------------------------------------------------------------------------------------
def _opt(lrs=(0.1, 0.02)):
    return optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=lrs[0])


SCHEDULES = [
    (lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), lambda b, e: b * 0.5 ** (e // 3)),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.1),
     lambda b, e: b * 0.1 ** sum(m <= e for m in [2, 5, 5, 9])),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), lambda b, e: b * 0.9 ** e),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
     lambda b, e: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * e / 5)) / 2),
    (lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)), lambda b, e: b / (1 + e)),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4),
     lambda b, e: b * (0.25 + 0.75 * min(e, 4) / 4)),
    (lambda o: lr_scheduler.MultiplicativeLR(o, lambda e: 0.9), lambda b, e: b * 0.9 ** e),
    (lambda o: lr_scheduler.ConstantLR(o, factor=0.5, total_iters=3), lambda b, e: b * (0.5 if e < 3 else 1)),
    (lambda o: lr_scheduler.PolynomialLR(o, total_iters=6, power=2.0), lambda b, e: b * (1 - min(e, 6) / 6) ** 2),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001), lambda b, e: _sgdr(b, e)),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=3),
                                             lr_scheduler.ExponentialLR(o, gamma=0.8)], milestones=[3]),
     lambda b, e: b * (0.1 + 0.3 * e) if e < 3 else b * 0.8 ** (e - 3)),
    (lambda o: lr_scheduler.ChainedScheduler([lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=3),
                                              lr_scheduler.ExponentialLR(o, gamma=0.8)]),
     lambda b, e: b * (0.1 + 0.3 * min(e, 3)) * 0.8 ** e),
]


def _sgdr(base, epoch, t0=3, mult=2, eta_min=0.001):
    """Warm restarts: cycles of 3, 6, 12... epochs, each a half cosine from base to eta_min."""
    length = t0
    while epoch >= length:
        epoch, length = epoch - length, length * mult
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / length)) / 2


@pytest.mark.parametrize("make,closed", SCHEDULES, ids=["step", "multistep", "exponential", "cosine", "lambda",
                                                        "linear", "multiplicative", "constant", "polynomial",
                                                        "warm-restarts", "sequential", "chained"])
def test_scheduler_follows_its_closed_form(make, closed):
    opt = _opt()
    sched = make(opt)
    for epoch in range(13):
        expected = [closed(b, epoch) for b in (0.1, 0.02)]
        assert sched.get_last_lr() == pytest.approx(expected, rel=1e-9, abs=1e-12), f"epoch {epoch}"
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        opt.step()
        sched.step()


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.parametrize("name,kwargs", [("StepLR", dict(step_size=2, gamma=0.3)),
                                         ("MultiStepLR", dict(milestones=[1, 4])),
                                         ("ExponentialLR", dict(gamma=0.7)), ("CosineAnnealingLR", dict(T_max=4)),
                                         ("LinearLR", dict(total_iters=3)), ("PolynomialLR", dict(power=0.5)),
                                         ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=3)),
                                         ("OneCycleLR", dict(max_lr=1.0, total_steps=13)),
                                         ("OneCycleLR", dict(max_lr=1.0, total_steps=13, anneal_strategy="linear",
                                                             three_phase=True))])
def test_scheduler_matches_pytorch(name, kwargs):
    opt = optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    topt = real_torch.optim.SGD([real_torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    ours, theirs = getattr(lr_scheduler, name)(opt, **kwargs), getattr(real_torch.optim.lr_scheduler, name)(topt,
                                                                                                             **kwargs)
    for _ in range(12):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        assert opt.param_groups[0]["momentum"] == pytest.approx(topt.param_groups[0]["momentum"], rel=1e-12)
        topt.step()
        ours.step()
        theirs.step()


def test_scheduler_state_dict_round_trip_and_resume():
    opt = _opt()
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 3
    opt2 = _opt()
    sched2 = lr_scheduler.StepLR(opt2, step_size=10, gamma=0.1)
    sched2.load_state_dict(state)
    opt2.load_state_dict(opt.state_dict())
    for _ in range(4):
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(_opt(), step_size=2, last_epoch=5)


def test_lambda_scheduler_state_dict_skips_functions():
    opt = _opt()
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 0.5 ** e, lambda e: 1.0])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, None]
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])


def test_reduce_on_plateau_lowers_lr_after_patience():
    opt = _opt((1.0,))
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    for metric in [1.0, 0.9, 0.9, 0.9, 0.9, 0.9]:
        sched.step(metric)
    assert sched.get_last_lr() == [0.25]


def test_one_cycle_shape_and_momentum_cycling():
    opt = optim.Adam([torch.zeros(1, requires_grad=True)])
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.4, total_steps=20, pct_start=0.25)
    lrs, beta1s = [], []
    for step in range(20):
        lrs.append(sched.get_last_lr()[0])
        beta1s.append(opt.param_groups[0]["betas"][0])
        opt.step()
        if step < 19:  # a 21st lr would be past total_steps
            sched.step()
    assert lrs[0] == pytest.approx(0.4 / 25) and max(lrs) == pytest.approx(0.4) and lrs.index(max(lrs)) == 4
    assert lrs[-1] == pytest.approx(0.4 / 25 / 1e4)
    assert beta1s[0] == pytest.approx(0.95) and beta1s[4] == pytest.approx(0.85) and beta1s[-1] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
