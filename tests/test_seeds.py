"""The autograd sections of the tutorials in shared/seeds, run as written (with
``import cltensor as torch``; plotting lines left out), checked against numpy doing the same math
from the same initial values.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

import cltensor
from helpers import assert_close, np_of


def run(code: str) -> dict:
    """Execute a tutorial snippet as a script would, and return its variables."""
    scope: dict = {}
    exec(compile(textwrap.dedent(code), "<seed>", "exec"), scope)
    return scope


# ---- seed 000: y = 3x^2 + 2 learned with autograd and manual updates under no_grad -------------------
SEED_000 = """
import cltensor as t

t.manual_seed(100)
dtype = t.float
#生成x坐标数据,x为tenor,需要把x的形状转换为100x1
x = t.unsqueeze(t.linspace(-1, 1, 100), dim=1)
#生成y坐标数据,y为tenor,形状为100x1,另加上一些噪音
y = 3*x.pow(2) +2+ 0.2*t.rand(x.size())

# 随机初始化参数,参数w,b为需要学习的,故需requires_grad=True
w = t.randn(1,1, dtype=dtype,requires_grad=True)
b = t.zeros(1,1, dtype=dtype, requires_grad=True)
w_init, b_init = w.detach().clone(), b.detach().clone()

lr =0.001 # 学习率

for ii in range(800):
    # 前向传播,并定义损失函数loss
    y_pred = x.pow(2).mm(w) + b
    loss = 0.5 * (y_pred - y) ** 2
    loss = loss.sum()

    # 自动计算梯度,梯度存放在grad属性中
    loss.backward()

    # 手动更新参数,需要用torch.no_grad(),使上下文环境中切断自动求导的计算
    with t.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad

    # 梯度清零
        w.grad.zero_()
        b.grad.zero_()

x_np, y_np, pred_np = x.cpu().numpy(), y.cpu().numpy(), y_pred.detach().cpu().numpy()
"""


def numpy_regression(x, y, w, b, lr=0.001, steps=800):
    """The seed's numpy version of the same training (section 3), float64."""
    w, b = w.astype(np.float64).copy(), b.astype(np.float64).copy()
    x, y = x.astype(np.float64), y.astype(np.float64)
    for _ in range(steps):
        y_pred = np.power(x, 2) * w + b
        grad_w = np.sum((y_pred - y) * np.power(x, 2))
        grad_b = np.sum(y_pred - y)
        w -= lr * grad_w
        b -= lr * grad_b
    return w, b


def test_seed_000_regression_matches_numpy():
    s = run(SEED_000)
    w_ref, b_ref = numpy_regression(s["x_np"], s["y_np"], np_of(s["w_init"]), np_of(s["b_init"]))
    assert_close(s["w"].detach(), w_ref, rtol=2e-4, atol=2e-4)
    assert_close(s["b"].detach(), b_ref, rtol=2e-4, atol=2e-4)
    assert abs(s["w"].item() - 3.0) < 0.2 and abs(s["b"].item() - 2.1) < 0.1  # y = 3x^2 + 2 + U(0, 0.2)
    assert s["w"].is_leaf and s["w"].requires_grad and s["w"].grad.abs().max().item() == 0.0
    assert s["x_np"].shape == (100, 1) and s["pred_np"].shape == (100, 1)


# ---- seed 001: d2l's automatic differentiation section ------------------------------------------------
SEED_001_DOT = """
import cltensor as torch
x = torch.arange(4.0)
x.requires_grad_(True)
grad_before = x.grad
y = torch.dot(x,x)
y_repr = repr(y)
y.backward(retain_graph=False)
grad_dot = x.grad.clone()

x.grad.zero_()
y = x.sum()
y.backward()
grad_sum = x.grad.clone()

x.grad.zero_()
y = x*x
y.sum().backward()
grad_square = x.grad.clone()

x.grad.zero_()# Initialization gradient
y = x * x#y Yes x Function of
u = y.detach()# take y Separation treatment
z = u * x#z Yes x Function of
z.sum().backward()# Find the gradient through the back propagation function
grad_detach = x.grad.clone()
"""


def test_seed_001_dot_sum_and_detach():
    s = run(SEED_001_DOT)
    x = np.arange(4.0)
    assert s["grad_before"] is None
    assert s["y_repr"] == "tensor(14., grad_fn=<DotBackward0>)"
    assert_close(s["grad_dot"], 2 * x)
    assert_close(s["grad_sum"], np.ones(4))
    assert_close(s["grad_square"], 2 * x)
    assert_close(s["grad_detach"], x * x)
    assert_close(s["u"], x * x) and not s["u"].requires_grad


SEED_001_CONTROL_FLOW = """
import cltensor as torch
torch.manual_seed(SEED)
def f(a):
    if a.sum() > 0:
        b = a
    else:
        b = 100 * a
    return b

a = torch.randn(12, requires_grad=True)
d = f(a)
d.backward(torch.ones_like(a))
check = a.grad == d / a
"""


@pytest.mark.parametrize("seed", range(4))
def test_seed_001_control_flow_gradient(seed):
    s = run(SEED_001_CONTROL_FLOW.replace("SEED", str(seed)))
    a = np_of(s["a"])
    expected = 1.0 if a.astype(np.float32).sum() > 0 else 100.0
    assert_close(s["a"].grad, np.full(12, expected))
    assert_close(s["check"] if expected == 1.0 else s["a"].grad == 100.0, np.ones(12, dtype=bool))
    assert s["check"].dtype is cltensor.bool


SEED_001_EXERCISES = """
import cltensor as torch
torch.manual_seed(0)
def f(x):
    if x.norm() > 10:
        y = x
    else:
        y = x*x
    return y
x = torch.randn(12,requires_grad=True)
y = f(x)
y.backward(torch.ones_like(x))
grad_f = x.grad

x = torch.linspace(-2*torch.pi, 2*torch.pi, 100)
x.requires_grad_(True)
y = torch.sin(x)
y.sum().backward()
y = torch.detach(y)
"""


def test_seed_001_exercises_piecewise_and_sin_derivative():
    s = run(SEED_001_EXERCISES)
    cltensor.manual_seed(0)
    x0 = np_of(cltensor.randn(12))  # the x the snippet drew
    assert np.linalg.norm(x0) < 10  # so y = x*x, whose gradient is 2x
    assert_close(s["grad_f"], 2 * x0, rtol=1e-5)
    xs = np.linspace(-2 * np.pi, 2 * np.pi, 100)
    assert_close(s["x"].grad, np.cos(xs), rtol=1e-5, atol=1e-5)
    assert_close(s["y"], np.sin(xs), rtol=1e-5, atol=1e-5)
    assert not s["y"].requires_grad


# ---- seed 002: the two-layer ReLU network, by hand and with autograd --------------------------------------
SEED_002_MANUAL = """
import cltensor as torch

dtype = torch.float
device = torch.device("cpu")
# device = torch.device("cuda:0") # Uncomment this to run on GPU

# N is batch size; D_in is input dimension;
# H is hidden dimension; D_out is output dimension.
N, D_in, H, D_out = 64, 1000, 100, 10

# Create random input and output data
x = torch.randn(N, D_in, device=device, dtype=dtype)
y = torch.randn(N, D_out, device=device, dtype=dtype)

# Randomly initialize weights
w1 = torch.randn(D_in, H, device=device, dtype=dtype)
w2 = torch.randn(H, D_out, device=device, dtype=dtype)
initial = [t.clone() for t in (x, y, w1, w2)]
losses = []

learning_rate = 1e-6
for t in range(STEPS):
    # Forward pass: compute predicted y
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)

    # Compute and print loss
    loss = (y_pred - y).pow(2).sum().item()
    losses.append(loss)

    # Backprop to compute gradients of w1 and w2 with respect to loss
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)

    # Update weights using gradient descent
    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2
"""

# The same network with autograd computing the backward pass (the tutorial's next section).
SEED_002_AUTOGRAD = """
import cltensor as torch
dtype = torch.float
device = torch.device("cpu")
x, y, w1, w2 = [t.clone() for t in INITIAL]
w1.requires_grad_(True)
w2.requires_grad_(True)
losses = []

learning_rate = 1e-6
for t in range(STEPS):
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    losses.append(loss.item())
    loss.backward()
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()
"""

STEPS = 60


def numpy_two_layer(x, y, w1, w2, steps, learning_rate=1e-6):
    """The seed's numpy warm-up network, float64, from the same initial values."""
    x, y, w1, w2 = (a.astype(np.float64).copy() for a in (x, y, w1, w2))
    losses = []
    for _ in range(steps):
        h = x.dot(w1)
        h_relu = np.maximum(h, 0)
        y_pred = h_relu.dot(w2)
        losses.append(np.square(y_pred - y).sum())
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.T.dot(grad_y_pred)
        grad_h_relu = grad_y_pred.dot(w2.T)
        grad_h = grad_h_relu.copy()
        grad_h[h < 0] = 0
        grad_w1 = x.T.dot(grad_h)
        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2
    return np.array(losses), w1, w2


@pytest.fixture(scope="module")
def two_layer():
    cltensor.manual_seed(2)
    manual = run(SEED_002_MANUAL.replace("STEPS", str(STEPS)))
    initial = [np_of(t) for t in manual["initial"]]
    reference = numpy_two_layer(*initial, STEPS)
    return manual, reference


def test_seed_002_manual_backprop_matches_numpy(two_layer):
    manual, (ref_losses, ref_w1, ref_w2) = two_layer
    losses = np.array(manual["losses"])
    assert losses[-1] < 0.05 * losses[0]  # it learns
    np.testing.assert_allclose(losses, ref_losses, rtol=2e-3)
    assert_close(manual["w2"], ref_w2, rtol=1e-3, atol=1e-3)
    assert_close(manual["w1"], ref_w1, rtol=1e-3, atol=1e-3)


def test_seed_002_autograd_matches_manual_and_numpy(two_layer):
    manual, (ref_losses, ref_w1, ref_w2) = two_layer
    auto = _run_autograd(manual["initial"])
    losses = np.array(auto["losses"])
    np.testing.assert_allclose(losses, ref_losses, rtol=2e-3)
    np.testing.assert_allclose(losses, manual["losses"], rtol=1e-4)
    assert_close(auto["w1"].detach(), manual["w1"], rtol=1e-4, atol=1e-4)
    assert_close(auto["w2"].detach(), ref_w2, rtol=1e-3, atol=1e-3)


def _run_autograd(initial):
    scope = {"INITIAL": initial}
    exec(compile(textwrap.dedent(SEED_002_AUTOGRAD.replace("STEPS", str(STEPS))), "<seed>", "exec"), scope)
    return scope


# ---- seeds 003 and 004: Variable, y = x1 + 2 x2, accumulation, the error without requires_grad -------------
SEED_003 = """
import cltensor as torch
from cltensor.autograd import Variable
x=Variable(torch.FloatTensor([2]),requires_grad=True)# []不可省略
y = x ** 2 + 3 * x
y.backward()
"""


def test_seed_003_variable():
    s = run(SEED_003)
    assert_close(s["x"].grad, [2 * 2.0 + 3])
    assert_close(s["y"].detach(), [10.0])


SEED_004 = """
import cltensor as torch
x1 = torch.tensor(1.0, requires_grad=True)
x2 = torch.tensor(2.0, requires_grad=True)
y = x1 + 2*x2
printed = repr(y)
flags = (x1.requires_grad, x2.requires_grad, y.requires_grad)
try:
    print(x1.grad.data)
except AttributeError as e:
    before = str(e)

## 反向传播后看导数大小
y = x1 + 2*x2
y.backward()
first = (x1.grad.data.item(), x2.grad.data.item())

# 导数是会累积的,重复运行相同命令,grad会增加
y = x1 + 2*x2
y.backward()
second = (x1.grad.data.item(), x2.grad.data.item())

# 尝试,如果不允许求导,会出现什么情况?
x1 = torch.tensor(1.0, requires_grad=False)
x2 = torch.tensor(2.0, requires_grad=False)
y = x1 + 2*x2
try:
    y.backward()
except RuntimeError as e:
    error = str(e)
"""


def test_seed_004_accumulation_and_error():
    s = run(SEED_004)
    assert s["printed"] == "tensor(5., grad_fn=<AddBackward0>)"
    assert s["flags"] == (True, True, True)
    assert s["before"] == "'NoneType' object has no attribute 'data'"
    assert s["first"] == (1.0, 2.0)
    assert s["second"] == (2.0, 4.0)
    assert s["error"] == "element 0 of tensors does not require grad and does not have a grad_fn"
