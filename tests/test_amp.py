"""torch.autocast / torch.amp.autocast and torch.amp.GradScaler, against PyTorch's CPU autocast
(output dtypes of the listed ops, values, gradients) and its GradScaler with a forced inf."""
import threading
import warnings

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn.functional as F
from cltensor.amp import autocast_mode
from helpers import HAVE_TORCH, needs_fp64, real_torch


@pytest.fixture(autouse=True)
def _host_tensors():
    """CPU autocast and GradScaler('cpu') act on host tensors: under a GPU default device (CLTENSOR_DEVICE)
    this file still makes its tensors on 'cpu', as a PyTorch script testing CPU autocast would."""
    previous = torch.get_default_device()
    torch.set_default_device("cpu")
    yield
    torch.set_default_device(previous)

requires_torch = pytest.mark.skipif(not HAVE_TORCH, reason="compares with PyTorch")
RNG = np.random.default_rng(0)
A = RNG.standard_normal((4, 6)).astype(np.float32)
W = RNG.standard_normal((3, 6)).astype(np.float32)
B3 = RNG.standard_normal((2, 4, 6)).astype(np.float32)
C3 = RNG.standard_normal((2, 6, 3)).astype(np.float32)
BIAS = RNG.standard_normal((4, 3)).astype(np.float32)
TARGET = RNG.standard_normal((4, 3)).astype(np.float32)
LABELS = np.array([0, 2, 1, 2], np.int64)
IMG = RNG.standard_normal((1, 2, 5, 5)).astype(np.float32)
KER = RNG.standard_normal((3, 2, 3, 3)).astype(np.float32)

# name -> f(lib, functional, tensor maker) running one op on float32 inputs
CASES = {
    "matmul": lambda t, f, m: m(A) @ m(W).t(),
    "Tensor.matmul": lambda t, f, m: m(A).matmul(m(W).t()),
    "mm": lambda t, f, m: t.mm(m(A), m(W).t()),
    "bmm": lambda t, f, m: t.bmm(m(B3), m(C3)),
    "addmm": lambda t, f, m: t.addmm(m(BIAS), m(A), m(W).t()),
    "baddbmm": lambda t, f, m: t.baddbmm(m(B3) @ m(C3), m(B3), m(C3)),
    "linear": lambda t, f, m: f.linear(m(A), m(W), m(W[:, 0])),
    "conv2d": lambda t, f, m: f.conv2d(m(IMG), m(KER), padding=1),
    "mse_loss": lambda t, f, m: f.mse_loss(m(A @ W.T), m(TARGET)),
    "l1_loss": lambda t, f, m: f.l1_loss(m(A @ W.T), m(TARGET)),
    "smooth_l1_loss": lambda t, f, m: f.smooth_l1_loss(m(A @ W.T), m(TARGET)),
    "cross_entropy": lambda t, f, m: f.cross_entropy(m(A @ W.T), t.tensor(LABELS)),
    "bce_with_logits": lambda t, f, m: f.binary_cross_entropy_with_logits(m(A @ W.T), m(TARGET > 0)),
    "prod": lambda t, f, m: m(A[0]).prod(),
    "softmax": lambda t, f, m: f.softmax(m(A), dim=1),
    "exp": lambda t, f, m: m(A).exp(),
    "sum": lambda t, f, m: m(A).sum(),
    "add": lambda t, f, m: m(A) + m(A),
}


def mine(x, dtype=None):
    return torch.tensor(np.asarray(x, np.float32)).to(dtype or torch.float32)


def run_mine(name, dtype=None):
    return CASES[name](torch, F, lambda x: mine(x, dtype))


def run_theirs(name, dtype=None):
    rt = real_torch
    return CASES[name](rt, rt.nn.functional, lambda x: rt.tensor(np.asarray(x, np.float32)).to(
        getattr(rt, (dtype or torch.float32).name)))


def values(t):
    t = t.detach()
    return t.float().cpu().numpy() if t.dtype is not torch.float64 else t.cpu().numpy()


@pytest.mark.parametrize("fast", ["bfloat16", "float16"])
def test_cpu_autocast_output_dtypes_match_pytorch(fast):
    """Each listed op inside torch.autocast('cpu', dtype): PyTorch's output dtype, close values."""
    expect_lower = {"matmul", "Tensor.matmul", "mm", "bmm", "addmm", "baddbmm", "linear", "conv2d"}
    for name in CASES:
        with torch.autocast("cpu", dtype=getattr(torch, fast)):
            got = run_mine(name)
        want_dtype = getattr(torch, fast) if name in expect_lower else torch.float32
        assert got.dtype is want_dtype, name
        if HAVE_TORCH:
            with real_torch.autocast("cpu", dtype=getattr(real_torch, fast)):
                theirs = run_theirs(name)
            assert str(theirs.dtype) == repr(got.dtype), name
            np.testing.assert_allclose(values(got), theirs.float().cpu().numpy(), rtol=3e-2, atol=3e-2, err_msg=name)


def test_float32_ops_take_lower_precision_inputs_to_float32():
    with torch.autocast("cpu"):
        assert run_mine("mse_loss", torch.bfloat16).dtype is torch.float32
        assert run_mine("exp", torch.bfloat16).dtype is torch.bfloat16  # not listed on cpu: as given
        assert (mine(A, torch.bfloat16) @ mine(W).t()).dtype is torch.bfloat16
    if HAVE_TORCH:
        with real_torch.autocast("cpu"):
            assert run_theirs("mse_loss", torch.bfloat16).dtype == real_torch.float32
            assert run_theirs("exp", torch.bfloat16).dtype == real_torch.bfloat16


@needs_fp64
def test_float64_is_not_cast():
    with torch.autocast("cpu"):
        assert (mine(A, torch.float64) @ mine(W, torch.float64).t()).dtype is torch.float64


def test_gradients_reach_float32_leaves():
    w = torch.tensor(W, requires_grad=True)
    x = torch.tensor(A)
    with torch.autocast("cpu"):
        out = F.linear(x, w)
        loss = F.mse_loss(out, torch.tensor(TARGET))
    assert out.dtype is torch.bfloat16 and loss.dtype is torch.float32
    loss.backward()
    assert w.grad.dtype is torch.float32
    if HAVE_TORCH:
        tw = real_torch.tensor(W, requires_grad=True)
        with real_torch.autocast("cpu"):
            tl = real_torch.nn.functional.mse_loss(real_torch.nn.functional.linear(real_torch.tensor(A), tw),
                                                   real_torch.tensor(TARGET))
        tl.backward()
        assert tw.grad.dtype == real_torch.float32
        np.testing.assert_allclose(w.grad.cpu().numpy(), tw.grad.cpu().numpy(), rtol=2e-2, atol=2e-2)
        np.testing.assert_allclose(loss.item(), tl.item(), rtol=1e-2)


def test_state_nesting_decorator_and_threads():
    assert not torch.is_autocast_enabled() and not torch.is_autocast_enabled("cpu")
    assert torch.get_autocast_dtype("cpu") is torch.bfloat16 and torch.get_autocast_dtype("cuda") is torch.float16
    seen = []
    with torch.autocast("cpu"):
        assert torch.is_autocast_enabled("cpu") and not torch.is_autocast_enabled("cuda")
        assert torch.is_autocast_cpu_enabled()
        with torch.autocast("cpu", dtype=torch.float16):
            assert torch.get_autocast_dtype("cpu") is torch.float16
            assert run_mine("mm").dtype is torch.float16
            with torch.autocast("cpu", enabled=False):
                assert not torch.is_autocast_enabled("cpu") and run_mine("mm").dtype is torch.float32
            assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") is torch.bfloat16
        worker = threading.Thread(target=lambda: seen.append((torch.is_autocast_enabled("cpu"), run_mine("mm").dtype)))
        worker.start()
        worker.join()
    assert seen == [(False, torch.float32)]  # the state is per thread, as PyTorch's
    assert not torch.is_autocast_enabled("cpu")

    @torch.autocast("cpu")
    def forward():
        return run_mine("mm")
    assert forward().dtype is torch.bfloat16 and not torch.is_autocast_enabled("cpu")
    assert torch.amp.autocast is torch.autocast


def test_cuda_autocast_leaves_cpu_tensors_alone():
    with torch.autocast("cuda"):
        assert torch.is_autocast_enabled() and run_mine("mm").dtype is torch.float32
    if HAVE_TORCH:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with real_torch.autocast("cuda"):
                assert run_theirs("mm").dtype == real_torch.float32


def test_cuda_lists(monkeypatch):
    """'cuda' regions follow PyTorch's CUDA lists (tensors on the OpenCL GPU; forced here)."""
    monkeypatch.setattr(autocast_mode, "_device_type_of", lambda t: "cuda")
    with torch.autocast("cuda"):
        assert run_mine("mm").dtype is torch.float16
        assert run_mine("linear").dtype is torch.float16
        for name in ("exp", "sum", "softmax", "mse_loss"):
            assert run_mine(name, torch.float16).dtype is torch.float32, name
        assert run_mine("add", torch.float16).dtype is torch.float16
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            F.binary_cross_entropy(mine([0.5]), mine([1.0]))


def test_argument_errors_match_pytorch():
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        torch.autocast(torch.device("cpu"))
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'xpu9'"):
        torch.autocast("xpu9")
    with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not supported"):
        region = torch.autocast("cpu", dtype=torch.float32)
    with region:
        assert not torch.is_autocast_enabled("cpu")
    with pytest.warns(FutureWarning, match=r"torch.cuda.amp.autocast\(args...\)` is deprecated"):
        old = torch.amp.CudaAutocast()
    assert old.fast_dtype is torch.float16 and old.device == "cuda"
    with pytest.warns(FutureWarning, match="torch.cpu.amp.autocast"):
        assert torch.amp.CpuAutocast().fast_dtype is torch.bfloat16


# ---- GradScaler ---------------------------------------------------------------------------------------
def _train(lib, steps, poison, **scaler_kw):
    """A Linear(6, 3) trained by SGD through a GradScaler('cpu'); the steps in poison get an inf
    gradient. Returns (scales after each update, final weight, growth tracker)."""
    lin = lib.nn.Linear(6, 3)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(W))
        lin.bias.zero_()
    opt = lib.optim.SGD(lin.parameters(), lr=0.1)
    scaler = lib.amp.GradScaler("cpu", **scaler_kw)
    scales = []
    for i in range(steps):
        opt.zero_grad()
        loss = lib.nn.functional.mse_loss(lin(lib.tensor(A)), lib.tensor(TARGET))
        scaler.scale(loss).backward()
        if i in poison:
            with lib.no_grad():
                lin.weight.grad[0, 0] = float("inf") if i % 2 else float("nan")
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return scales, lin.weight.detach().cpu().numpy().copy(), scaler.state_dict()


def test_grad_scaler_matches_pytorch_with_forced_inf():
    kw = dict(init_scale=1024.0, growth_interval=2, growth_factor=4.0, backoff_factor=0.25)
    scales, weight, state = _train(torch, 6, {1, 4}, **kw)
    # 1024 -> step ok (tracker 1) -> inf: backoff -> ok -> ok: grow -> nan: backoff -> ok
    assert scales == [1024.0, 256.0, 256.0, 1024.0, 256.0, 256.0]
    assert state == {"scale": 256.0, "growth_factor": 4.0, "backoff_factor": 0.25, "growth_interval": 2,
                     "_growth_tracker": 1}
    clean_scales, clean_weight, _ = _train(torch, 4, set(), **kw)
    # the two skipped steps changed nothing: the weights are those of 4 clean steps
    np.testing.assert_allclose(weight, clean_weight, rtol=1e-6, atol=1e-7)
    if HAVE_TORCH:
        t_scales, t_weight, t_state = _train(real_torch, 6, {1, 4}, **kw)
        assert scales == t_scales and state == t_state
        np.testing.assert_allclose(weight, t_weight, rtol=1e-5, atol=1e-6)


def test_grad_scaler_skipped_step_leaves_parameters():
    p = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    scaler.scale((p * p).sum()).backward()
    np.testing.assert_array_equal(p.grad.cpu().numpy(), [16.0, 32.0])
    scaler.unscale_(opt)
    np.testing.assert_array_equal(p.grad.cpu().numpy(), [2.0, 4.0])  # unscaled in place
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    np.testing.assert_array_equal(p.detach().cpu().numpy(), [-1.0, -2.0])
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    scaler.update()
    opt.zero_grad()
    scaler.scale((p * float("inf")).sum()).backward()
    scaler.step(opt)
    np.testing.assert_array_equal(p.detach().cpu().numpy(), [-1.0, -2.0])
    scaler.update()
    assert scaler.get_scale() == 4.0


def test_grad_scaler_reads_the_host_once_per_step(monkeypatch):
    params = [torch.ones(3, requires_grad=True) for _ in range(4)]
    opt = torch.optim.SGD(params, lr=0.1)
    scaler = torch.amp.GradScaler("cpu")
    scaler.scale(sum((p * p).sum() for p in params)).backward()
    reads = []
    original = torch.Tensor._to_numpy_copy
    monkeypatch.setattr(torch.Tensor, "_to_numpy_copy", lambda self: reads.append(1) or original(self))
    monkeypatch.setattr(torch.Tensor, "__bool__", lambda self: pytest.fail("bool() of a tensor: a host read"))
    scaler.step(opt)
    scaler.update()
    assert len(reads) == 1


def test_grad_scaler_state_dict_and_disabled():
    scaler = torch.amp.GradScaler("cpu", init_scale=16.0)
    assert scaler.get_scale() == 16.0 and scaler.is_enabled()
    other = torch.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.state_dict() == scaler.state_dict()
    off = torch.amp.GradScaler("cpu", enabled=False)
    loss = torch.tensor(3.0)
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        other.load_state_dict({})
    p = torch.tensor([1.0], requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0)
    (p * 2).sum().backward()
    off.step(opt)
    off.update()
    assert p.item() == -1.0
    with pytest.raises(AssertionError, match="_scale is None"):
        torch.amp.GradScaler("cpu").step(opt)
    with pytest.warns(FutureWarning, match="torch.cuda.amp.GradScaler"):
        torch.amp.CudaGradScaler()
    if HAVE_TORCH:
        theirs = real_torch.amp.GradScaler("cpu", init_scale=16.0)
        assert theirs.state_dict() == scaler.state_dict()


def test_custom_fwd_casts_and_disables_autocast():
    seen = {}

    class Square(torch.autograd.Function):
        @staticmethod
        @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
        def forward(ctx, x):
            seen["fwd"] = (x.dtype, torch.is_autocast_enabled("cpu"))
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @torch.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            seen["bwd"] = torch.is_autocast_enabled("cpu")
            (x,) = ctx.saved_tensors
            return 2 * x * g

    leaf = torch.tensor([1.5, -2.0], requires_grad=True)
    with torch.autocast("cpu"):
        y = Square.apply(leaf.bfloat16())
    assert seen["fwd"] == (torch.float32, False) and y.dtype is torch.float32
    y.sum().backward()
    assert seen["bwd"] is False  # forward ran with autocast disabled, so backward does too
    np.testing.assert_array_equal(leaf.grad.cpu().numpy(), [3.0, -4.0])


def test_autocast_accepts_the_type_a_cuda_device_prints():
    """A 'cuda' tensor's device type is 'cl' (cltensor.cuda); torch.autocast(device_type=x.device.type)
    must work in scripts written for CUDA."""
    with torch.autocast("cl"):
        assert torch.is_autocast_enabled("cl") and torch.is_autocast_enabled("cuda")
    assert torch.amp.is_autocast_available("cl") and not torch.is_autocast_enabled("cl")
