"""Autograd with PyTorch's semantics: leaves, grad_fn names, backward errors, grad modes,
in-place version checks, views (CopySlices), autograd.grad and higher order, custom Functions,
hooks, gradcheck, and that the graph is freed after backward.

Error messages are PyTorch's texts; where PyTorch is installed they are also compared with it.
"""
from __future__ import annotations

import gc
import math
import time
import warnings

import numpy as np
import pytest

import cltensor as torch
from cltensor.autograd import Function, GradcheckError, gradcheck, gradgradcheck
from helpers import HAVE_TORCH, PRECISE, assert_close, needs_fp64, np_of, real_torch

f64 = torch.float64


def leaf(values, dtype=torch.float32):
    return torch.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, requires_grad=True)


def raises(exc, fn, match=None):
    with pytest.raises(exc) as info:
        fn()
    if match is not None:
        assert str(info.value) == match, f"\n got: {info.value}\nwant: {match}"
    return str(info.value)


def torch_message(fn):
    """The message real PyTorch raises for the same code (None if PyTorch is absent)."""
    if not HAVE_TORCH:
        return None
    try:
        fn(real_torch)
    except Exception as e:  # noqa: BLE001
        return str(e)
    return "<no error>"


def same_error(exc, code, expected):
    """code(lib) raises exc with the expected text in cltensor, and the same text in PyTorch."""
    got = raises(exc, lambda: code(torch), match=expected)
    want = torch_message(code)
    if want is not None:
        assert got == want


# ---- leaves, requires_grad and names -------------------------------------------------------------
def test_requires_grad_keyword_method_and_propagation():
    x = torch.ones(3, requires_grad=True)
    w = torch.ones(3)
    assert x.requires_grad and x.is_leaf and x.grad_fn is None
    assert not w.requires_grad and w.is_leaf
    assert w.requires_grad_() is w and w.requires_grad
    w.requires_grad_(False)
    assert not w.requires_grad
    y = x * w
    assert y.requires_grad and not y.is_leaf and type(y.grad_fn).__name__ == "MulBackward0"
    z = w * 2
    assert not z.requires_grad and z.is_leaf and z.grad_fn is None
    assert repr(x) == "tensor([1., 1., 1.], requires_grad=True)"
    assert repr(y) == "tensor([1., 1., 1.], grad_fn=<MulBackward0>)"
    assert (x > 0).grad_fn is None and not (x > 0).requires_grad  # bool outputs are not differentiable
    x.requires_grad = False
    assert not x.requires_grad


def test_only_float_tensors_can_require_grad():
    same_error(RuntimeError, lambda t: t.ones(3, dtype=t.int64, requires_grad=True),
               "Only Tensors of floating point and complex dtype can require gradients")
    same_error(RuntimeError, lambda t: t.tensor([1, 2], requires_grad=True),
               "Only Tensors of floating point and complex dtype can require gradients")
    same_error(RuntimeError, lambda t: t.ones(3, dtype=t.int64).requires_grad_(),
               "only Tensors of floating point dtype can require gradients")

    def set_attr(t):
        x = t.ones(3, dtype=t.int32)
        x.requires_grad = True
    same_error(RuntimeError, set_attr, "only Tensors of floating point and complex dtype can require gradients")


def test_requires_grad_flags_of_non_leaves():
    def turn_off(t):
        (t.ones(2, requires_grad=True) * 2).requires_grad_(False)
    same_error(RuntimeError, turn_off, "you can only change requires_grad flags of leaf variables. If you want to "
               "use a computed variable in a subgraph that doesn't require differentiation use "
               "var_no_grad = var.detach().")

    def set_attr(t):
        y = t.ones(2, requires_grad=True) * 2
        y.requires_grad = True
    same_error(RuntimeError, set_attr, "you can only change requires_grad flags of leaf variables.")
    y = torch.ones(2, requires_grad=True) * 2
    assert y.requires_grad_(True) is y  # a no-op on a non-leaf that requires grad


GRAD_FN_NAMES = [
    ("add", lambda a, m: a + 1, "AddBackward0"),
    ("mul", lambda a, m: a * a, "MulBackward0"),
    ("sub", lambda a, m: a - a, "SubBackward0"),
    ("div", lambda a, m: a / 2, "DivBackward0"),
    ("pow", lambda a, m: a ** 2, "PowBackward0"),
    ("pow_tensor", lambda a, m: a ** a, "PowBackward1"),
    ("rpow", lambda a, m: 2 ** a, "PowBackward2"),
    ("rsub", lambda a, m: 1 - a, "RsubBackward1"),
    ("neg", lambda a, m: -a, "NegBackward0"),
    ("exp", lambda a, m: a.exp(), "ExpBackward0"),
    ("sin", lambda a, m: a.sin(), "SinBackward0"),
    ("sum", lambda a, m: a.sum(), "SumBackward0"),
    ("sum_dim", lambda a, m: m.sum(0), "SumBackward1"),
    ("mean", lambda a, m: a.mean(), "MeanBackward0"),
    ("dot", lambda a, m: torch.dot(a, a), "DotBackward0"),
    ("mm", lambda a, m: m.mm(m), "MmBackward0"),
    ("select", lambda a, m: a[0], "SelectBackward0"),
    ("slice", lambda a, m: a[1:], "SliceBackward0"),
    ("view", lambda a, m: a.view(3, 1), "ViewBackward0"),
    ("t", lambda a, m: m.t(), "TBackward0"),
    ("transpose", lambda a, m: m.transpose(0, 1), "TransposeBackward0"),
    ("permute", lambda a, m: m.permute(1, 0), "PermuteBackward0"),
    ("expand", lambda a, m: a.expand(2, 3), "ExpandBackward0"),
    ("unsqueeze", lambda a, m: a.unsqueeze(0), "UnsqueezeBackward0"),
    ("squeeze", lambda a, m: m[None].squeeze(), "SqueezeBackward0"),
    ("clone", lambda a, m: a.clone(), "CloneBackward0"),
    ("to_double", lambda a, m: a.double(), "ToCopyBackward0"),
    ("to_half", lambda a, m: a.half(), "ToCopyBackward0"),
    ("relu", lambda a, m: a.relu(), "ReluBackward0"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c[0], marks=needs_fp64 if c[0] == "to_double" else ())
                                  for c in GRAD_FN_NAMES])
def test_grad_fn_names(case):
    _, fn, name = case
    a, m = torch.ones(3, requires_grad=True), torch.ones(2, 2, requires_grad=True)
    out = fn(a, m)
    assert type(out.grad_fn).__name__ == name and out.grad_fn.name() == name
    assert repr(out.grad_fn).startswith(f"<{name} object at 0x")
    assert f"grad_fn=<{name}>" in repr(out)
    if HAVE_TORCH:
        ra, rm = real_torch.ones(3, requires_grad=True), real_torch.ones(2, 2, requires_grad=True)
        with _as_real_torch():
            assert type(fn(ra, rm).grad_fn).__name__ == name


class _as_real_torch:
    """Run a GRAD_FN_NAMES lambda against PyTorch (the lambdas call torch.dot through this module)."""

    def __enter__(self):
        global torch
        self.saved, torch = torch, real_torch

    def __exit__(self, *exc):
        global torch
        torch = self.saved


def test_next_functions_and_accumulate_grad():
    x = torch.ones(3, requires_grad=True)
    w = torch.ones(3, requires_grad=True)
    y = x * 2
    z = y + w
    (acc, nr), (none, nr2) = y.grad_fn.next_functions
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is x and nr == 0
    assert none is None and nr2 == 0  # the scalar 2 has no history
    (mul, i), (acc_w, j) = z.grad_fn.next_functions
    assert mul is y.grad_fn and acc_w.variable is w and (i, j) == (0, 0)
    assert (x * x).grad_fn.next_functions[0][0] is (x + 1).grad_fn.next_functions[0][0]  # one accumulator per leaf
    assert acc.next_functions == ()
    s = z.sum()
    assert s.grad_fn.next_functions[0][0] is z.grad_fn


# ---- backward ------------------------------------------------------------------------------------------
def test_backward_scalar_and_gradient_argument():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    assert_close(x.grad, [2.0, 4.0, 6.0])
    x.grad = None
    (x * x).backward(torch.tensor([1.0, 0.5, 2.0]))
    assert_close(x.grad, [2.0, 2.0, 12.0])
    x.grad.zero_()
    (x * 3).backward(gradient=torch.ones(3), retain_graph=None, create_graph=False, inputs=None)
    assert_close(x.grad, [3.0, 3.0, 3.0])


def test_backward_errors():
    same_error(RuntimeError, lambda t: (t.ones(3, requires_grad=True) * 2).backward(),
               "grad can be implicitly created only for scalar outputs")
    same_error(RuntimeError, lambda t: t.ones(3).sum().backward(),
               "element 0 of tensors does not require grad and does not have a grad_fn")
    same_error(RuntimeError, lambda t: (t.tensor(1.0) + 2 * t.tensor(2.0)).backward(),
               "element 0 of tensors does not require grad and does not have a grad_fn")
    same_error(RuntimeError, lambda t: (t.ones(3, requires_grad=True) * 2).backward(t.ones(2)),
               "Mismatch in shape: grad_output[0] has a shape of torch.Size([2]) and output[0] has a shape of "
               "torch.Size([3]).")
    same_error(RuntimeError, lambda t: t.ones(3, requires_grad=True).sum().backward(inputs=[]),
               "`inputs` argument to `backward()` cannot be empty.")


FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they have "
         "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
         "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
         "if you need to access saved tensors after calling backward.")


def test_second_backward_needs_retain_graph():
    def twice(t, make):
        a = t.ones(3, requires_grad=True)
        z = make(a)
        z.backward()
        z.backward()
    same_error(RuntimeError, lambda t: twice(t, lambda a: (a * a).sum()), FREED)
    same_error(RuntimeError, lambda t: twice(t, lambda a: (a * 2).sum()), FREED)  # saved the wrapped scalar
    same_error(RuntimeError, lambda t: twice(t, lambda a: a.exp().sum()), FREED)
    # graphs whose nodes saved nothing can be run again, as in PyTorch
    a = torch.ones(3, requires_grad=True)
    z = (a + a).sum()
    z.backward()
    z.backward()
    assert_close(a.grad, [4.0, 4.0, 4.0])
    # retain_graph keeps the buffers; gradients accumulate
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, [4.0, 8.0])


def test_gradients_accumulate_zero_and_reset():
    x1 = torch.tensor(1.0, requires_grad=True)
    x2 = torch.tensor(2.0, requires_grad=True)
    for expected in (1.0, 2.0, 3.0):
        (x1 + 2 * x2).backward()
        assert x1.grad.item() == expected and x2.grad.item() == 2 * expected
    x1.grad.zero_()
    assert x1.grad.item() == 0.0
    x1.grad = None
    assert x1.grad is None
    (x1 * 5).backward()
    assert x1.grad.item() == 5.0
    raises(RuntimeError, lambda: setattr(x1, "grad", torch.ones(2)),
           "attempting to assign a gradient of size '[2]' to a tensor of size '[]'. Please ensure that the gradient "
           "and the tensor are the same size")
    raises(TypeError, lambda: setattr(x1, "grad", 3),
           "assigned grad expected to be a Tensor or None but got grad of type int")


def test_non_leaf_grad_is_none_with_warning_unless_retained():
    x = leaf([1.0, 2.0])
    y = x * 3
    z = y * y
    y.retain_grad()
    w = x * 2
    (z.sum() + w.sum()).backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert w.grad is None
    assert len(caught) == 1 and caught[0].category is UserWarning
    assert str(caught[0].message).startswith("The .grad attribute of a Tensor that is not a leaf Tensor is being "
                                             "accessed. Its .grad attribute won't be populated during "
                                             "autograd.backward().")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_close(y.grad, [6.0, 12.0])  # dz/dy = 2y
        assert y.retains_grad and not w.retains_grad
        assert_close(x.grad, [18.0 + 2, 36.0 + 2])
    same_error(RuntimeError, lambda t: t.ones(2).retain_grad(),
               "can't retain_grad on Tensor that has requires_grad=False")


def test_backward_inputs_only_accumulates_there():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = a * b
    (y * y).sum().backward(inputs=[a])
    assert_close(a.grad, 2 * np.array([3.0, 8.0]) * [3.0, 4.0])
    assert b.grad is None
    z = a * b
    z.sum().backward(inputs=z)  # a non-leaf input gets its .grad, as in PyTorch
    assert_close(z.grad, [1.0, 1.0])


def test_autograd_backward_function_with_several_roots():
    x = leaf([1.0, 2.0])
    torch.autograd.backward([(x * x).sum(), x * 3], [None, torch.tensor([1.0, 2.0])])
    assert_close(x.grad, [2.0 + 3.0, 4.0 + 6.0])
    raises(RuntimeError, lambda: torch.autograd.backward([x.sum(), x.sum()], [torch.tensor(1.0)]),
           "got 2 tensors and 1 gradients")


def test_gradient_of_broadcast_inputs_is_reduced_to_their_shape():
    x = leaf(np.arange(6.0).reshape(2, 3))
    b = leaf([1.0, 2.0, 3.0])
    c = leaf([[2.0]])
    (x * b * c).sum().backward()
    assert_close(b.grad, np.arange(6.0).reshape(2, 3).sum(0) * 2)
    assert_close(c.grad, [[(np.arange(6.0).reshape(2, 3) * [1, 2, 3]).sum()]])
    assert b.grad.shape == (3,) and c.grad.shape == (1, 1)


# ---- detach and grad modes -----------------------------------------------------------------------------
def test_detach_and_detach_():
    x = leaf([0.0, 1.0, 2.0, 3.0])
    y = x * x
    u = y.detach()
    assert not u.requires_grad and u.is_leaf and u.grad_fn is None
    (u * x).sum().backward()
    assert_close(x.grad, [0.0, 1.0, 4.0, 9.0])
    assert u._version == y._version
    u.add_(1)  # detach shares memory and the version counter
    assert_close(y, [1.0, 2.0, 5.0, 10.0]) and y._version == 1
    z = x * 2
    assert z.detach_() is z and z.is_leaf and not z.requires_grad
    same_error(RuntimeError, lambda t: (t.ones(3, requires_grad=True) * 2)[:2].detach_(),
               "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) "
               "for training, and gradient_as_bucket_view is set as True, gradients are views of DDP buckets, and "
               "hence detach_() cannot be called on these gradients. To fix this error, please refer to the "
               "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
    assert torch.detach(y).grad_fn is None


def test_no_grad_enable_grad_nesting():
    x = torch.ones(2, requires_grad=True)
    assert torch.is_grad_enabled()
    with torch.no_grad():
        assert not torch.is_grad_enabled()
        assert not (x * 2).requires_grad
        with torch.enable_grad():
            assert torch.is_grad_enabled() and (x * 2).requires_grad
            with torch.no_grad():
                assert not torch.is_grad_enabled()
            assert torch.is_grad_enabled()
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled() and (x * 2).requires_grad


def test_grad_mode_restored_after_exceptions():
    with pytest.raises(ValueError):
        with torch.no_grad():
            raise ValueError
    assert torch.is_grad_enabled()

    @torch.no_grad()
    def boom():
        raise KeyError
    with pytest.raises(KeyError):
        boom()
    assert torch.is_grad_enabled()


def test_grad_modes_as_decorators_with_and_without_parentheses():
    x = torch.ones(2, requires_grad=True)

    @torch.no_grad
    def bare(t):
        return t * 2

    @torch.no_grad()
    def called(t):
        return t * 2

    @torch.enable_grad()
    def enabled(t):
        return t * 2

    @torch.inference_mode
    def infer(t):
        return t * 2

    @torch.set_grad_enabled(False)
    def off(t):
        return t * 2

    assert torch.is_grad_enabled()  # decorating with set_grad_enabled(False) left the mode alone
    assert bare.__name__ == "bare"
    assert not bare(x).requires_grad and not called(x).requires_grad and not infer(x).requires_grad
    assert not off(x).requires_grad
    with torch.no_grad():
        assert enabled(x).requires_grad
    assert torch.is_grad_enabled()

    @torch.no_grad()
    def gen(t):
        for _ in range(2):
            yield torch.is_grad_enabled(), (t * 2).requires_grad
    assert list(gen(x)) == [(False, False), (False, False)]
    assert torch.is_grad_enabled()


def test_set_grad_enabled_as_call_and_context():
    torch.set_grad_enabled(False)
    try:
        assert not torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)
    assert torch.is_grad_enabled()
    with torch.set_grad_enabled(False):
        assert not torch.is_grad_enabled()
        with torch.set_grad_enabled(True):
            assert torch.is_grad_enabled()
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()
    assert torch.autograd.set_grad_enabled is torch.set_grad_enabled


def test_inference_mode():
    x = torch.ones(2, requires_grad=True)
    assert not torch.is_inference_mode_enabled()
    with torch.inference_mode():
        assert torch.is_inference_mode_enabled() and not torch.is_grad_enabled()
        assert not (x * 2).requires_grad
        with torch.inference_mode(False):
            assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
    with torch.no_grad():
        assert not torch.is_inference_mode_enabled()
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


# ---- in place: versions, saved tensors, leaves, views -------------------------------------------------
def test_version_counter_is_shared_with_views_and_detach():
    x = torch.zeros(4)
    v, d = x[1:3], x.detach()
    assert x._version == 0
    x.add_(1)
    assert x._version == v._version == d._version == 1
    v.mul_(2)
    x[0] = 5.0
    assert x._version == 3
    assert x.data._version == 0  # .data is outside autograd's view: no shared counter


def test_modified_saved_output_raises_pytorch_message():
    def code(t):
        x = t.ones(3, requires_grad=True)
        y = x.exp()
        y.add_(1)
        y.sum().backward()
    same_error(RuntimeError, code,
               "one of the variables needed for gradient computation has been modified by an inplace operation: "
               "[torch.FloatTensor [3]], which is output 0 of Exp, is at version 1; expected version 0 instead. "
               "Hint: enable anomaly detection to find the operation that failed to compute its gradient, with "
               "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def test_modified_saved_input_names_its_current_grad_fn():
    def non_leaf(t):  # the message names the tensor's type: DoubleTensor where the device has float64
        a = t.ones(2, 3, dtype=getattr(t, PRECISE.name), requires_grad=True)
        b = a * 2
        c = b * b
        b.add_(1)
        c.sum().backward()
    type_name = {"float64": "DoubleTensor", "float32": "FloatTensor"}[PRECISE.name]
    same_error(RuntimeError, non_leaf,
               "one of the variables needed for gradient computation has been modified by an inplace operation: "
               f"[torch.{type_name} [2, 3]], which is output 0 of Add, is at version 1; expected version 0 "
               "instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
               "with torch.autograd.set_detect_anomaly(True, check_nan=False).")

    def leaf_changed(t):
        a = t.ones(3, requires_grad=True)
        b = a * a
        with t.no_grad():
            a.add_(1)
        b.sum().backward()
    same_error(RuntimeError, leaf_changed,
               "one of the variables needed for gradient computation has been modified by an inplace operation: "
               "[torch.FloatTensor [3]] is at version 1; expected version 0 instead. Hint: enable anomaly detection "
               "to find the operation that failed to compute its gradient, with "
               "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def test_in_place_on_a_leaf_that_requires_grad():
    same_error(RuntimeError, lambda t: t.ones(3, requires_grad=True).add_(1),
               "a leaf Variable that requires grad is being used in an in-place operation.")
    same_error(RuntimeError, lambda t: t.ones(3, requires_grad=True)[0].mul_(2),
               "a view of a leaf Variable that requires grad is being used in an in-place operation.")

    def setitem(t):
        w = t.ones(3, requires_grad=True)
        w[0] = 2.0
    same_error(RuntimeError, setitem, "a view of a leaf Variable that requires grad is being used in an in-place "
                                      "operation.")
    w = torch.ones(3, requires_grad=True)
    with torch.no_grad():  # the optimizer's update
        w -= 0.5 * torch.ones(3)
        w[0] = 3.0
    assert w.is_leaf and w.requires_grad and w._version == 2
    assert_close(w.detach(), [3.0, 0.5, 0.5])
    w.detach().mul_(2)  # detached aliases may be written
    w.detach()[1:].zero_()
    assert_close(w.detach(), [6.0, 0.0, 0.0])


def test_in_place_op_on_non_leaf_continues_its_history():
    x = leaf([1.0, 2.0, 3.0], PRECISE)
    y = x * 2
    y.mul_(x)  # y = 2x^2
    assert type(y.grad_fn).__name__ == "MulBackward0" and y._version == 1
    y.exp_()
    y.sum().backward()
    xs = np.array([1.0, 2.0, 3.0])
    assert_close(x.grad, np.exp(2 * xs ** 2) * 4 * xs, PRECISE)


def test_in_place_on_a_view_of_a_non_leaf_goes_through_copy_slices():
    x = leaf([1.0, 2.0, 3.0, 4.0], PRECISE)
    b = x * 1
    view = b[1:3]
    view.mul_(x[:2])  # b = [x0, x1*x0, x2*x1, x3]
    assert type(b.grad_fn).__name__ == "CopySlices"
    (b * b).sum().backward()
    x0, x1, x2, x3 = 1.0, 2.0, 3.0, 4.0
    # d/dx of x0^2 + (x1 x0)^2 + (x2 x1)^2 + x3^2
    expected = [2 * x0 + 2 * x1 ** 2 * x0, 2 * x1 * x0 ** 2 + 2 * x2 ** 2 * x1, 2 * x2 * x1 ** 2, 2 * x3]
    assert_close(x.grad, expected, PRECISE)


def test_view_of_a_base_changed_in_place_regenerates_its_grad_fn():
    x = leaf([1.0, 2.0, 3.0], PRECISE)
    b = x * 1
    v = b[1:]
    b.mul_(3)  # v sees the new values: its history must too
    assert type(v.grad_fn).__name__ == "AsStridedBackward0"
    v.sum().backward()
    assert_close(x.grad, [0.0, 3.0, 3.0], PRECISE)
    # a view of a tensor that did not require grad starts requiring it when its base does
    base = torch.zeros(3, dtype=PRECISE)
    part = base[:2]
    assert not part.requires_grad
    base.add_(x)
    assert part.requires_grad and not part.is_leaf
    x.grad = None
    (part * part).sum().backward()
    assert_close(x.grad, [2.0, 4.0, 0.0], PRECISE)


def test_two_views_and_a_view_of_a_view():
    x = leaf(np.arange(1.0, 7.0), PRECISE)
    b = x * 1
    rows = b.view(2, 3)
    row = rows[1]
    first = b[:2]
    row.mul_(2)  # in place through a view of a view: b's history goes through CopySlices
    first.add_(row[:2])  # another view, reading the first one
    b.sum().backward()
    # b = [x0 + 2 x3, x1 + 2 x4, x2, 2 x3, 2 x4, 2 x5]
    assert_close(x.grad, [1.0, 1.0, 1.0, 4.0, 4.0, 2.0], PRECISE)


def test_setitem_on_a_non_leaf_gives_gradients_to_both_sides():
    x = leaf(np.arange(1.0, 7.0).reshape(2, 3), PRECISE)
    v = leaf([10.0, 20.0, 30.0], PRECISE)
    h = x * x
    h[0] = v * 2
    h[1, 1:] = 7.0
    (h * torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=PRECISE)).sum().backward()
    xs = np.arange(1.0, 7.0).reshape(2, 3)
    assert_close(x.grad, [[0.0, 0.0, 0.0], [2 * xs[1, 0] * 4, 0.0, 0.0]], PRECISE)
    assert_close(v.grad, [2.0, 4.0, 6.0], PRECISE)


def test_setitem_of_a_leaf_without_grad_with_a_value_that_requires_grad():
    w = leaf([1.0, 2.0], PRECISE)
    buf = torch.zeros(2, 2, dtype=PRECISE)
    buf[1] = w * 3
    assert buf.requires_grad and type(buf.grad_fn).__name__ == "CopySlices"
    buf.sum().backward()
    assert_close(w.grad, [3.0, 3.0], PRECISE)


@needs_fp64
def test_setitem_gradients_by_gradcheck():
    def fn(x, v):
        h = x * 1.0
        h[:, 1] = v.sin()
        h[0, ::2] *= 2.0
        return h * h
    assert gradcheck(fn, (leaf(np.arange(6.0).reshape(2, 3) / 7, f64), leaf([0.3, 0.7], f64)))

    def advanced(x, v):
        h = x * x
        h[torch.tensor([0, 2])] = v * 2  # index_put on a non-leaf
        h[h > 0.4] = 0.5 * v[0, 0]  # a boolean mask
        return h
    assert gradcheck(advanced, (leaf(np.arange(1.0, 13.0).reshape(4, 3) / 8, f64), leaf([[0.3, 0.6, 0.9]], f64)))


def test_boolean_mask_setitem_like_the_tutorial():
    h = leaf([[-1.0, 2.0], [3.0, -4.0]])
    grad_h = torch.ones(2, 2) * 5
    grad_h[h < 0] = 0
    assert_close(grad_h, [[0.0, 5.0], [5.0, 0.0]])
    y = h * 1
    y[h < 0] = 0  # relu by masked setitem: gradient flows where the mask is False
    y.sum().backward()
    assert_close(h.grad, [[0.0, 1.0], [1.0, 0.0]])


# ---- autograd.grad and higher order -----------------------------------------------------------------
def test_autograd_grad_returns_without_accumulating():
    x = leaf([1.0, 2.0, 3.0])
    w = leaf([0.5, 0.5, 0.5])
    y = (x * x * w).sum()
    gx, gw = torch.autograd.grad(y, [x, w])
    assert_close(gx, [1.0, 2.0, 3.0])
    assert_close(gw, [1.0, 4.0, 9.0])
    assert x.grad is None and w.grad is None
    (g,) = torch.autograd.grad((x * 2).sum(), x)
    assert_close(g, [2.0, 2.0, 2.0])


def test_autograd_grad_only_runs_the_needed_part_of_the_graph():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    shared = a * b
    y = shared.exp().sum() + (a * 3).sum()
    (gb,) = torch.autograd.grad(y, b, retain_graph=True)
    assert_close(gb, np.exp([3.0, 8.0]) * [1.0, 2.0], rtol=1e-5)
    # the (a * 3) branch never reaches b: it must not run (its saved scalar stays)
    (ga,) = torch.autograd.grad(y, a)
    assert_close(ga, np.exp([3.0, 8.0]) * [3.0, 4.0] + 3, rtol=1e-5)


def test_autograd_grad_errors_and_allow_unused():
    x, unused = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)
    same_error(RuntimeError, lambda t: t.autograd.grad((t.ones(3, requires_grad=True) * 2).sum(),
                                                       [t.ones(2, requires_grad=True)]),
               "The differentiated Tensor at index 0 appears to not have been used in the graph. Set "
               "allow_unused=True if this is the desired behavior.")
    same_error(RuntimeError, lambda t: t.autograd.grad((t.ones(3, requires_grad=True) * 2).sum(), [t.ones(2)]),
               "One of the differentiated Tensors does not require grad")
    gx, gu = torch.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None
    gx, gu = torch.autograd.grad((x * 2).sum(), [x, unused], materialize_grads=True)
    assert_close(gu, [0.0, 0.0])
    (g,) = torch.autograd.grad(x * 2, x, grad_outputs=torch.tensor([1.0, 2.0, 3.0]))
    assert_close(g, [2.0, 4.0, 6.0])


SECOND_ORDER = [
    ("cube", lambda x: x ** 3, lambda x: 6 * x),
    ("mul", lambda x: x * x * x, lambda x: 6 * x),
    ("sin", lambda x: x.sin(), lambda x: -np.sin(x)),
    ("exp", lambda x: torch.exp(2 * x), lambda x: 4 * np.exp(2 * x)),
    ("div", lambda x: 1 / x, lambda x: 2 / x ** 3),
    ("pow_tensor", lambda x: x ** x, lambda x: x ** x * ((np.log(x) + 1) ** 2 + 1 / x)),
    ("sqrt", lambda x: x.sqrt(), lambda x: -0.25 * x ** -1.5),
    ("sigmoid", lambda x: x.sigmoid(),
     lambda x: (lambda s: s * (1 - s) * (1 - 2 * s))(1 / (1 + np.exp(-x)))),
]


@needs_fp64
@pytest.mark.parametrize("case", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_second_derivative_with_create_graph(case):
    _, fn, second = case
    xs = np.array([0.5, 1.0, 1.7])
    x = leaf(xs, f64)
    (g,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (gg,) = torch.autograd.grad(g.sum(), x)
    assert_close(gg, second(xs), f64, rtol=1e-9, atol=1e-9)


@needs_fp64
def test_third_derivative_and_backward_with_create_graph():
    x = torch.tensor(2.0, dtype=f64, requires_grad=True)
    y = x ** 4
    (d1,) = torch.autograd.grad(y, x, create_graph=True)
    (d2,) = torch.autograd.grad(d1, x, create_graph=True)
    (d3,) = torch.autograd.grad(d2, x)
    assert (d1.item(), d2.item(), d3.item()) == (32.0, 48.0, 48.0)
    z = leaf([1.0, 2.0], f64)
    (z ** 3).sum().backward(create_graph=True)
    grad = z.grad
    assert grad.requires_grad
    z.grad = None
    grad.sum().backward()
    assert_close(z.grad, [6.0, 12.0], f64)


@needs_fp64
def test_second_order_through_reductions_and_matmul():
    rng = np.random.default_rng(3)
    a = leaf(rng.uniform(-1, 1, (2, 3)), f64)
    b = leaf(rng.uniform(-1, 1, (3, 2)), f64)
    assert gradgradcheck(lambda a, b: (a @ b).pow(2).sum(), (a, b))
    assert gradgradcheck(lambda a: (a * a).mean(dim=1) / (a.sum() + 3), (a,))
    assert gradgradcheck(lambda a, b: a.mm(b).exp().sum(0), (a, b))
    # Hessian of f(a) = sum((a @ b)^2): d/da of 2 (a b) b^T
    (g,) = torch.autograd.grad((a @ b).pow(2).sum(), a, create_graph=True)
    hess_row = torch.autograd.grad(g[0, 0], a)[0]
    B = np_of(b)
    expected = np.zeros((2, 3))
    expected[0] = 2 * B[0] @ B.T
    assert_close(hess_row, expected, f64)


# ---- custom Functions -----------------------------------------------------------------------------------
class LegendrePolynomial3(Function):
    """PyTorch's tutorial example: P3(x) = 0.5 (5x^3 - 3x) with a hand-written backward."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


def test_legendre_polynomial_tutorial_trains():
    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=dtype, requires_grad=True)
    learning_rate = 5e-6
    losses = []
    for t in range(300):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    assert type(y_pred.grad_fn).__name__ == "AddBackward0"
    assert type(P3(c + d * x).grad_fn).__name__ == "LegendrePolynomial3Backward"
    assert all(l1 < l0 for l0, l1 in zip(losses, losses[1:]))
    # PyTorch's values for the same 300 steps: loss 461.90 -> 100.70, b -1.0 -> -1.5471, d 0.3 -> 0.24979
    assert losses[-1] < 0.25 * losses[0]
    assert abs(losses[-1] - 100.7025) < 0.05 and abs(losses[0] - 461.9026) < 0.05
    assert abs(b.item() - (-1.5471197)) < 1e-4 and abs(d.item() - 0.2497857) < 1e-5


@needs_fp64
def test_custom_function_gradcheck_and_double_backward():
    x = leaf([0.3, -0.8, 1.2], f64)
    assert gradcheck(LegendrePolynomial3.apply, (x,))
    assert gradgradcheck(LegendrePolynomial3.apply, (x,))


def test_custom_function_ctx_features():
    seen = {}

    class ScaleAndIndex(Function):
        @staticmethod
        def forward(ctx, x, k, y):
            seen["needs"] = ctx.needs_input_grad
            ctx.k = k
            ctx.save_for_backward(y)
            idx = torch.arange(3)
            ctx.mark_non_differentiable(idx)
            return x * k * y, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            (y,) = ctx.saved_tensors
            return g * ctx.k * y, None, None

    x, y = leaf([1.0, 2.0, 3.0]), torch.tensor([1.0, 10.0, 100.0])
    out, idx = ScaleAndIndex.apply(x, 2.0, y)
    assert seen["needs"] == (True, False, False)
    assert not idx.requires_grad and out.requires_grad
    assert type(out.grad_fn).__name__ == "ScaleAndIndexBackward"
    assert len(out.grad_fn.next_functions) == 2  # one edge per tensor input
    out.sum().backward()
    assert_close(x.grad, [2.0, 20.0, 200.0])
    with torch.no_grad():
        ScaleAndIndex.apply(x, 2.0, y)
    assert seen["needs"] == (False, False, False)
    same_error(RuntimeError, lambda t: _custom_backward_run(t, (lambda g: (g, g))),
               "function GBackward returned a gradient different than None at position 2, but the corresponding "
               "forward input was not a Variable")
    same_error(RuntimeError, lambda t: _custom_backward_run(t, (lambda g: (g, None, None, g))),
               "function GBackward returned an incorrect number of gradients (expected 2, got 4)")
    same_error(RuntimeError, lambda t: _custom_backward_run(t, (lambda g: (g[:2], None))),
               "Function GBackward returned an invalid gradient at index 0 - got [2] but expected shape compatible "
               "with [3]")


def _custom_backward_run(lib, rule):
    class G(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return rule(g)

    G.apply(lib.ones(3, requires_grad=True), 2).sum().backward()


def test_custom_function_saved_tensors_are_version_checked_and_freed():
    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out

    x = leaf([0.0, 1.0])
    y = Exp.apply(x)
    y.sum().backward(retain_graph=True)
    assert_close(x.grad, np.exp([0.0, 1.0]), rtol=1e-6)
    y.sum().backward()
    raises(RuntimeError, lambda: y.sum().backward(), FREED)
    z = Exp.apply(x)
    z.add_(1)
    msg = raises(RuntimeError, lambda: z.sum().backward())
    assert msg.startswith("one of the variables needed for gradient computation has been modified by an inplace "
                          "operation: [torch.FloatTensor [2]], which is output 0 of Exp, is at version 1; expected "
                          "version 0 instead.")


def test_custom_function_materialize_grads_and_setup_context():
    class Split(Function):
        @staticmethod
        def forward(x):
            return x * 2, x * 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.scale = (2.0, 3.0)

        @staticmethod
        def backward(ctx, g1, g2):
            assert g2 is not None  # materialized as zeros
            return g1 * ctx.scale[0] + g2 * ctx.scale[1]

    x = leaf([1.0, 2.0])
    a, _ = Split.apply(x)
    a.sum().backward()
    assert_close(x.grad, [2.0, 2.0])


def test_custom_function_mark_dirty_in_place():
    class AddOne(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    w = leaf([1.0, 2.0])
    h = w * 3
    out = AddOne.apply(h)
    assert out is h and type(h.grad_fn).__name__ == "AddOneBackward"
    (h * h).sum().backward()
    assert_close(w.grad, 2 * (3 * np.array([1.0, 2.0]) + 1) * 3)


def test_variable_compatibility():
    from cltensor.autograd import Variable
    x = Variable(torch.FloatTensor([2]), requires_grad=True)
    assert isinstance(x, torch.Tensor) and isinstance(x, Variable) and x.is_leaf and x.requires_grad
    y = x ** 2
    y.backward()
    assert_close(x.grad.data, [4.0])


# ---- hooks ------------------------------------------------------------------------------------------------
def test_tensor_hooks_on_leaves_and_non_leaves():
    x = leaf([1.0, 2.0])
    calls = []
    hx = x.register_hook(lambda g: calls.append(("x", np_of(g).tolist())))
    y = x * 3
    y.register_hook(lambda g: g * 10)  # replaces y's gradient
    y.retain_grad()
    (y * y).sum().backward()
    assert_close(y.grad, [60.0, 120.0])  # retain_grad sees the hook's result, as in PyTorch
    assert_close(x.grad, [180.0, 360.0])
    assert calls == [("x", [180.0, 360.0])]
    hx.remove()
    x.grad = None
    x.register_hook(lambda g: g * 0.5)
    (g,) = torch.autograd.grad((x * 2).sum(), x)  # leaf hooks apply to autograd.grad too
    assert_close(g, [1.0, 1.0])
    z = x * 2
    handle = z.register_hook(lambda g: g * 100)
    handle.remove()
    z.sum().backward()
    assert_close(x.grad, [1.0, 1.0])
    assert len(calls) == 1
    same_error(RuntimeError, lambda t: t.ones(2).register_hook(lambda g: g),
               "cannot register a hook on a tensor that doesn't require gradient")


def test_post_accumulate_grad_hook():
    w = leaf([1.0, 2.0])
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(np_of(t.grad).tolist()))
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    assert seen == [[3.0, 3.0], [6.0, 6.0]]
    handle.remove()
    (w * 3).sum().backward()
    assert len(seen) == 2
    same_error(RuntimeError, lambda t: (t.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(print),
               "post accumulate grad hooks cannot be registered on non-leaf tensors")


def test_node_hooks():
    x = leaf([1.0, 2.0])
    y = x * 2
    seen = []
    y.grad_fn.register_prehook(lambda grads: seen.append("pre"))
    y.grad_fn.register_hook(lambda gin, gout: seen.append(("post", len(gin), len(gout))))
    y.sum().backward()
    assert seen == ["pre", ("post", 2, 1)]


# ---- gradcheck itself ---------------------------------------------------------------------------------------
@needs_fp64
def test_gradcheck_catches_a_wrong_backward():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # should be 2 x

    x = leaf([0.5, 1.5], f64)
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(Wrong.apply, (x,))
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    assert gradcheck(Wrong.apply, (x,), fast_mode=True, raise_exception=False) is False
    assert gradcheck(lambda t: t * t, (x,), fast_mode=True)


@needs_fp64
def test_gradcheck_keeps_input_layouts_and_rejects_overlap():
    base = torch.tensor(np.arange(12.0).reshape(3, 4) / 10, dtype=f64)
    t = base.t().detach().requires_grad_()  # a non-contiguous leaf
    layouts = []

    def fn(a):
        layouts.append(a.is_contiguous())
        return (a * a.sin()).sum(0)
    assert gradcheck(fn, (t,))
    assert not any(layouts)
    raises(RuntimeError, lambda: gradcheck(lambda a: a * 2, (torch.ones(3, dtype=f64).expand(2, 3).requires_grad_(),)),
           "The 0th input has a dimension with stride 0. gradcheck only supports inputs that are non-overlapping to "
           "be able to compute the numerical gradients correctly. You should call .contiguous on the input before "
           "passing it to gradcheck.")
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda a: a * 2, (torch.ones(2, requires_grad=True),), atol=1e-2, eps=1e-2)


@needs_fp64
def test_gradcheck_multiple_inputs_and_outputs():
    a = leaf([0.2, 0.4, 0.6], f64)
    b = leaf([[1.0], [2.0]], f64)
    k = torch.tensor(3.0, dtype=f64)  # does not require grad
    assert gradcheck(lambda a, b, k: (a * b * k, (a - b).exp(), torch.arange(3)), (a, b, k))


# ---- the graph is freed after backward ------------------------------------------------------------------
def _regression_step(x, y, w, b, lr):
    y_pred = x.pow(2).mm(w) + b
    loss = (0.5 * (y_pred - y) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return loss


def _live_objects():
    gc.collect()
    counts = {"Tensor": 0, "Node": 0}
    for o in gc.get_objects():
        if issubclass(type(o), torch.Tensor):
            counts["Tensor"] += 1
        elif issubclass(type(o), torch.autograd.Node):
            counts["Node"] += 1
    return counts


def test_training_loop_frees_its_graphs():
    x = torch.unsqueeze(torch.linspace(-1, 1, 100), dim=1)
    y = 3 * x.pow(2) + 2
    w = torch.full((1, 1), 0.5, requires_grad=True)
    b = torch.zeros(1, 1, requires_grad=True)
    allocator = x.device.backend.allocator
    for _ in range(20):  # warm up: compile kernels, fill the allocator's cache
        _regression_step(x, y, w, b, 1e-3)
    torch.synchronize()
    before_bytes, before_objects = allocator.live_bytes, _live_objects()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # every graph must be freed by reference counting alone: no cycles
    try:
        # the host's own time (this thread's CPU time): on a CPU device the kernels queued so far run
        # on the same cores meanwhile (llvmpipe takes ~50 ms a step on 2 cores), which is not host cost
        start = time.thread_time()
        iterations = 2000
        for _ in range(iterations):
            loss = _regression_step(x, y, w, b, 1e-3)
        elapsed = time.thread_time() - start
        del loss
        torch.synchronize()
        after_bytes = allocator.live_bytes
        assert gc.collect() == 0, "the graph left reference cycles behind"
    finally:
        if gc_was_enabled:
            gc.enable()
    assert after_bytes <= before_bytes, (before_bytes, after_bytes)
    assert _live_objects() == before_objects
    assert elapsed / iterations < 5e-3, f"{elapsed / iterations * 1e3:.2f} ms per training step"


def test_clamp_with_scalar_bounds_is_clampbackward1_as_in_pytorch():
    # seed 002 trains with h.clamp(min=0): its grad_fn prints as PyTorch's
    x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    for y in (x.clamp(min=0), x.clamp(max=1), x.clamp(0, 1)):
        assert type(y.grad_fn).__name__ == "ClampBackward1"
    y = x.clamp(min=0)
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0]
