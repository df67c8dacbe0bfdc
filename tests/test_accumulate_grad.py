"""AccumulateGrad takes a new gradient over without a copy when no one else can see it (PyTorch's
rule), and copies or accumulates in place otherwise: the user's gradients, hooks' arguments, numpy
memory, gradients shared between leaves and retained gradients are never aliased by a .grad."""
import numpy as np

import cltensor as torch
import cltensor.nn as nn
import cltensor.nn.functional as F
from helpers import assert_close, np_of


def test_a_training_step_copies_no_gradient(launches):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    x, t = torch.randn(5, 6), torch.tensor([0, 2, 1, 1, 0])
    F.cross_entropy(model(x), t).backward()  # compiles every kernel once
    model.zero_grad()
    loss = F.cross_entropy(model(x), t)
    launches.clear()
    loss.backward()
    assert "ew__copy" not in launches, launches
    for p in model.parameters():
        assert p.grad._strides == p._strides  # linear's weight gradient comes in the weight's layout


def test_a_bias_free_linear_over_a_batch_copies_no_gradient(launches):
    """input @ weight.t() through matmul (no addmm): the folded weight gradient comes in its layout."""
    layer = nn.Linear(6, 4, bias=False)
    x = torch.randn(2, 3, 6)
    layer(x).sum().backward()
    layer.zero_grad()
    loss = layer(x).square().sum()
    launches.clear()
    loss.backward()
    assert "ew__copy" not in launches, launches
    assert layer.weight.grad._strides == layer.weight._strides
    assert_close(layer.weight.grad, np_of(2 * layer(x)).reshape(6, 4).T @ np_of(x).reshape(6, 6),
                 rtol=1e-5, atol=1e-5)


def test_a_users_gradient_is_copied():
    x = torch.zeros(3, requires_grad=True)
    g = torch.ones(3)
    x.backward(g)  # straight into the leaf
    (x + 1).backward(g)  # through add, whose rule passes g on as it is
    g.add_(10)
    assert_close(x.grad, [2.0, 2.0, 2.0])


def test_numpy_memory_is_copied():
    x = torch.zeros(3, requires_grad=True)
    arr = np.ones(3, dtype=np.float32)
    x.backward(torch.from_numpy(arr))
    arr[:] = 7
    assert_close(x.grad, [1.0, 1.0, 1.0])


def test_a_hooks_argument_is_copied():
    x = torch.zeros(3, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g))
    (x * 2).sum().backward()
    seen[0].add_(1)
    assert_close(x.grad, [2.0, 2.0, 2.0])


def test_leaves_that_receive_one_tensor_do_not_share_it():
    a = torch.zeros(3, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    (a + b).mul(3).sum().backward()  # add hands the same gradient to both
    a.grad.add_(1)
    assert_close(b.grad, [3.0, 3.0, 3.0])
    assert_close(a.grad, [4.0, 4.0, 4.0])


def test_retained_gradients_are_separate():
    x = torch.zeros(3, requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y + 0).sum().backward()
    y.grad.add_(5)
    assert_close(x.grad, [2.0, 2.0, 2.0])


def test_retain_graph_accumulates_in_place_and_create_graph_keeps_history():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    first = x.grad
    y.backward()
    assert first is x.grad  # accumulated into the tensor taken over the first time
    assert_close(x.grad, [4.0, 8.0])
    x.grad = None
    (x * x).sum().backward(create_graph=True)
    assert x.grad.grad_fn is not None
    (gx,) = torch.autograd.grad(x.grad.sum(), x)
    assert_close(gx, [2.0, 2.0])


def test_the_copy_takes_the_leafs_layout():
    w = torch.randn(4, 3).t().detach().requires_grad_()  # column-major leaf
    (w * torch.arange(12.0).reshape(3, 4)).sum().backward()
    assert w.grad._strides == w._strides
    assert_close(w.grad, np.arange(12.0).reshape(3, 4))
    x = torch.zeros(3, 4, requires_grad=True)
    x.backward(torch.arange(12.0).reshape(4, 3).t())  # the user's (transposed) gradient: copied, contiguous
    assert x.grad._strides == (4, 1)
    assert_close(x.grad, np.arange(12.0).reshape(4, 3).T)
