"""Regressions from the differential and hostile-input probes (issue 14): memory-unsafe views and
overlapping in-place writes raise as PyTorch does, before any kernel runs."""
from __future__ import annotations

import numpy as np
import pytest

import cltensor as torch

from helpers import HAVE_TORCH, real_torch

OUT_OF_BOUNDS = "out of bounds for storage of size"


@pytest.mark.parametrize("size, stride, offset, message", [
    ((3, 3), (3, 3), None, OUT_OF_BOUNDS),
    ((2,), (1,), 5, OUT_OF_BOUNDS),
    ((2,), (1,), 6, OUT_OF_BOUNDS),
    ((2, 2), (-1, 1), None, "Negative strides are not supported"),
    ((2,), (1,), -1, "invalid storage offset -1"),
    ((3,), (1, 1), None, "mismatch in length of strides and shape"),
    ((-1,), (1,), None, "Storage size calculation overflowed"),
])
def test_as_strided_outside_the_storage_raises(size, stride, offset, message):
    x = torch.arange(6.)
    with pytest.raises(RuntimeError, match=message):
        x.as_strided(size, stride, offset)
    if HAVE_TORCH:
        with pytest.raises(RuntimeError, match=message):
            real_torch.arange(6.).as_strided(size, stride, offset)


def test_as_strided_inside_the_storage_reads_the_right_elements():
    x = torch.arange(6.)
    assert x.as_strided((3,), (2,), 1).tolist() == [1., 3., 5.]
    assert x.as_strided((2, 2), (1, 2)).tolist() == [[0., 2.], [1., 3.]]
    assert x.as_strided((0,), (1,), 7).shape == (0,)  # empty views need no storage
    assert x[1:].as_strided((5,), (1,)).tolist() == [1., 2., 3., 4., 5.]


PARTIAL = "some elements of the input tensor and the written-to tensor refer to a single memory location"
INTERNAL = "more than one element of the written-to tensor refers to a single memory location"


@pytest.mark.parametrize("write, message", [
    (lambda x: x.add_(x.t()), PARTIAL),
    (lambda x: x.__iadd__(x.t()), PARTIAL),
    (lambda x: x[1:].mul_(x[:2]), PARTIAL),
    (lambda x: x.copy_(x.t()), PARTIAL),
    (lambda x: torch.add(x, 1, out=x[0].expand(3, 3)), INTERNAL),
    (lambda x: x[0].expand(2, 3).add_(1), INTERNAL),
])
def test_partially_overlapping_in_place_writes_raise(write, message):
    x = torch.ones(3, 3)
    with pytest.raises(RuntimeError, match=message):
        write(x)
    assert x.tolist() == [[1.] * 3] * 3, "the check runs before any kernel"


def test_full_overlap_and_disjoint_views_are_allowed():
    x = torch.arange(9.).reshape(3, 3)
    x.add_(x)
    x[:, 0].add_(x[:, 1])
    np.testing.assert_array_equal(x.cpu().numpy(), [[2, 2, 4], [14, 8, 10], [26, 14, 16]])


@pytest.mark.parametrize("repeat", [0, 1])  # the second call takes the cached plan's path
def test_overlap_too_hard_to_tell_reads_every_input_before_writing(repeat):
    """PyTorch allows x[:, 1:] += x[:, :-1] (neither view is dense) and its CPU loop reads values it
    has already written; a parallel kernel would race. cltensor reads a copy: as if all reads came
    first, the same on every device (a documented difference from PyTorch CPU's order)."""
    x = torch.arange(16.).reshape(4, 4)
    x[:, 1:] += x[:, :-1]
    a = np.arange(16.).reshape(4, 4)
    a[:, 1:] = a[:, 1:] + a[:, :-1].copy()
    np.testing.assert_array_equal(x.cpu().numpy(), a)
    y = torch.arange(16.).reshape(4, 4)
    y[1:, ::2].copy_(y[:-1, ::2])
    b = np.arange(16.).reshape(4, 4)
    b[1:, ::2] = b[:-1, ::2].copy()
    np.testing.assert_array_equal(y.cpu().numpy(), b)


def test_backward_saves_only_what_the_inputs_needing_grad_read():
    """y = x / 2 saves the divisor, not y: writing into y afterwards keeps x's backward valid
    (PyTorch's rule); an input that is needed and modified still raises."""
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    y = x / 2
    y[0] = 1
    y.sum().backward()
    assert x.grad.tolist() == [0., .5, .5]
    x.grad = None
    y = x * 3
    y[1] = 0
    y.sum().backward()
    assert x.grad.tolist() == [3., 0., 3.]
    z = torch.tensor([2., 4., 8.], requires_grad=True)
    (x / z).sum().backward()
    np.testing.assert_allclose(z.grad.cpu().numpy(), [-1 / 4, -2 / 16, -3 / 64])
    a = torch.ones(3)
    y = x * a  # saves a (x's gradient reads it)
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_in_place_squeeze_and_unsqueeze_of_a_non_leaf_keep_backward_working():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    y = x * 2
    y.unsqueeze_(1)
    assert y.shape == (3, 1) and y.grad_fn.name() == "UnsqueezeBackward1"
    (y * torch.arange(3.).reshape(3, 1)).sum().backward()
    assert x.grad.tolist() == [0., 2., 4.]
    y = (x * 2).reshape(3, 1)
    y.squeeze_(1)
    assert y.shape == (3,) and y.grad_fn.name() == "SqueezeBackward4"
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.unsqueeze_(0)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("forward, expected", [
    (lambda x: torch.relu(x), [INF, 0, NAN]),
    (lambda x: torch.nn.functional.hardtanh(x * 3), [0, 0, 0]),
    (lambda x: torch.nn.functional.relu6(x * 9), [0, 0, NAN]),
    (lambda x: torch.nn.functional.threshold(x, 0.7, 0.0), [INF, 0, 0]),
    (lambda x: torch.where(x > 0.7, x, torch.zeros(3)), [INF, 0, 0]),
    (lambda x: torch.floor(x), [0, 0, 0]),
])
def test_backward_selects_instead_of_multiplying_by_a_mask(forward, expected):
    """Unselected positions get exact zeros even where the upstream gradient is NaN or inf (a mask
    multiplied in gives NaN there), as in PyTorch."""
    x = torch.tensor([1., -1., 0.5], requires_grad=True)
    forward(x).backward(torch.tensor([INF, NAN, NAN]))
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.array(expected, np.float32))


def test_in_place_comparison_zeroes_the_gradient():
    x = torch.tensor([1., -2., 3.], requires_grad=True)
    v = x * 1
    v.lt_(0)
    assert v.grad_fn.name() == "LtBackward0"
    (v * torch.tensor([1., 2., 3.])).sum().backward()
    assert x.grad.tolist() == [0., 0., 0.]


def test_clamp_with_crossed_tensor_bounds_sends_the_gradient_to_max():
    x = torch.tensor([1., -2., 3., .5], requires_grad=True)
    lo = torch.tensor([2., 0., 0., 1.], requires_grad=True)
    hi = torch.tensor([1., 1., 5., 0.], requires_grad=True)
    y = torch.clamp(x, lo, hi)
    assert y.tolist() == [1., 0., 3., 0.]
    y.sum().backward()
    assert (x.grad.tolist(), lo.grad.tolist(), hi.grad.tolist()) == ([0., 0., 1., 0.], [0., 1., 0., 0.],
                                                                     [1., 0., 0., 1.])


def test_logcumsumexp_backward_is_finite_for_large_inputs():
    x = torch.tensor([[-100., 3., .5, 90.], [100., 101., 102., 103.]], requires_grad=True)
    g = torch.tensor([[1., -2., 0., .5], [1., 1., 1., 1.]])
    torch.logcumsumexp(x, 1).backward(g)
    a, w = x.detach().cpu().numpy().astype(np.float64), g.cpu().numpy().astype(np.float64)
    out = np.logaddexp.accumulate(a, axis=1)
    expected = np.array([[sum(w[r, j] * np.exp(a[r, i] - out[r, j]) for j in range(i, 4)) for i in range(4)]
                         for r in range(2)])
    np.testing.assert_allclose(x.grad.cpu().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_threshold_shrink_and_hardtanh_keep_nan_and_integer_dtypes():
    F = torch.nn.functional
    n = torch.tensor([NAN, 1., -1.])
    assert np.isnan(F.threshold(n, 0., 5.).cpu().numpy()[0])
    assert np.isnan(F.hardshrink(n).cpu().numpy()[0]) and np.isnan(F.softshrink(n).cpu().numpy()[0])
    i = torch.tensor([-2, 0, 3, 7])
    assert F.hardtanh(i).dtype == torch.int64 and F.hardtanh(i).tolist() == [-1, 0, 1, 1]
    assert F.relu6(i).tolist() == [0, 0, 3, 6] and F.threshold(i, 1, 20).tolist() == [20, 20, 3, 7]


@pytest.mark.parametrize("name, kwargs, target, bad", [
    ("cross_entropy", {}, [3, 0], 3),
    ("nll_loss", {}, [-1, 0], -1),
    ("cross_entropy", {"reduction": "none"}, [0, 7], 7),
])
def test_bad_class_targets_raise_at_the_next_host_read(name, kwargs, target, bad):
    """Checked on the device, without a sync per call: the IndexError PyTorch raises comes with
    the next host read (as PyTorch's CUDA device-side asserts do), and the device stays usable."""
    value = getattr(torch.nn.functional, name)(torch.zeros(2, 3), torch.tensor(target), **kwargs)
    with pytest.raises(IndexError, match=f"Target {bad} is out of bounds."):
        value.sum().item()
    assert torch.ones(3).sum().item() == 3.0
    if HAVE_TORCH:  # PyTorch CPU raises the same error at the call
        with pytest.raises(IndexError, match=f"Target {bad} is out of bounds."):
            getattr(real_torch.nn.functional, name)(real_torch.zeros(2, 3), real_torch.tensor(target), **kwargs)


def test_ignored_and_good_targets_pass_the_device_check():
    x = torch.zeros(2, 3)
    assert abs(torch.nn.functional.cross_entropy(x, torch.tensor([-100, 2])).item() - np.log(3)) < 1e-6
    assert abs(torch.nn.functional.nll_loss(x, torch.tensor([5, 1]), ignore_index=5).item()) < 1e-6


def test_embedding_rejects_negative_indices():
    with pytest.raises(IndexError, match="index out of range in self"):
        torch.nn.functional.embedding(torch.tensor([-1]), torch.zeros(4, 2)).sum().item()
    with pytest.raises(IndexError):
        torch.nn.functional.embedding(torch.tensor([4]), torch.zeros(4, 2))


def test_pending_device_checks_are_bounded_without_host_reads():
    from cltensor import checks
    x, t = torch.zeros(2, 3), torch.tensor([0, 1])
    backend = x.device.backend
    for _ in range(checks.MAX_PENDING * 2):
        torch.nn.functional.cross_entropy(x, t)
        assert len(backend.pending_checks) < checks.MAX_PENDING


def test_variance_of_large_values_and_of_empty_dims():
    assert abs(torch.tensor([1e20, 1.1e20, 0.9e20]).std().item() / 1e19 - 1) < 1e-5
    assert torch.tensor([3e19, -3e19]).var().item() == INF  # the true value, 1.8e39, overflows float32
    var, mean = torch.var_mean(torch.zeros(2, 0), dim=1)
    assert np.isnan(var.cpu().numpy()).all() and np.isnan(mean.cpu().numpy()).all()


def test_cosine_similarity_takes_norms_after_broadcasting():
    F = torch.nn.functional
    got = F.cosine_similarity(torch.ones(2, 3), torch.ones(1, 3) * 2, dim=0)
    np.testing.assert_allclose(got.cpu().numpy(), [1, 1, 1], rtol=1e-6)
    got = F.cosine_similarity(torch.tensor([[1., 2.]]), torch.tensor([[1., 2.], [3., 4.], [-1, 0.]]), dim=1)
    np.testing.assert_allclose(got.cpu().numpy(), [1, 11 / np.sqrt(5 * 25), -1 / np.sqrt(5)], rtol=1e-6)


def test_zero_size_and_zero_dim_operands():
    assert torch.tensordot(torch.zeros(2, 0), torch.zeros(0, 3), dims=1).tolist() == [[0.] * 3] * 2
    assert torch.nn.functional.group_norm(torch.zeros(0, 4, 2), 2).shape == (0, 4, 2)
    s = torch.tensor(3.)
    assert s.transpose(0, 0).item() == 3 and s.swapaxes(0, -1).item() == 3 and s.mT.item() == 3
    assert s.masked_select(torch.tensor(True)).tolist() == [3.]
    assert torch.nn.functional.prelu(torch.tensor(-1.), torch.tensor([.25])).shape == ()
    with pytest.warns(UserWarning, match="deprecated"):
        assert torch.ones(2, 3, 4).T.shape == (4, 3, 2)


def test_integers_that_do_not_fit_and_negative_integer_powers_raise():
    with pytest.raises(RuntimeError, match="value cannot be converted to type uint8 without overflow"):
        torch.tensor([300], dtype=torch.uint8)
    for data in ([2 ** 63], [[1, 2 ** 63]], [True, 2 ** 70]):
        with pytest.raises(ValueError, match="Overflow when unpacking long long"):
            torch.tensor(data)
    assert torch.tensor([-2 ** 63, 2 ** 63 - 1]).tolist() == [-2 ** 63, 2 ** 63 - 1]
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed."):
        torch.tensor([2, 3]) ** -1
    assert (torch.tensor([2., 4.]) ** -1).tolist() == [.5, .25]


def test_round_to_decimals():
    x = torch.tensor([1.2345, 2.5, 1234.5])
    np.testing.assert_allclose(torch.round(x, decimals=2).cpu().numpy(), [1.23, 2.5, 1234.5], rtol=1e-6)
    assert x.round(decimals=-2).tolist() == [0., 0., 1200.]
    assert torch.round(x).tolist() == [1., 2., 1234.]
    y = x.clone()
    y.round_(decimals=1)
    np.testing.assert_allclose(y.cpu().numpy(), [1.2, 2.5, 1234.5], rtol=1e-6)
    with pytest.raises(NotImplementedError):
        torch.tensor([15]).round(decimals=-1)


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_backward_with_zeros(include_self):
    x = torch.tensor([[0., 2., 3.], [1., 0., 5.]], requires_grad=True)
    src = torch.tensor([[2., 0., 4., 0.], [3., 1., 0., 2.]], requires_grad=True)
    index = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 0]])
    out = x.scatter_reduce(1, index, src, "prod", include_self=include_self)
    (out * torch.tensor([[1., 2., 3.], [4., 5., 6.]])).sum().backward()
    if include_self:  # recorded from PyTorch 2.13
        expected = [[0., 0., 3.], [8., 5., 0.]], [[0., 0., 0., 16.], [0., 0., 90., 4.]]
    else:
        expected = [[0., 0., 3.], [0., 5., 0.]], [[0., 2., 0., 8.], [0., 0., 18., 4.]]
    assert (x.grad.tolist(), src.grad.tolist()) == expected


def test_view_as_a_dtype_of_another_size():
    x = torch.arange(4, dtype=torch.int16)
    np.testing.assert_array_equal(x.view(torch.int32).cpu().numpy(), np.arange(4, dtype=np.int16).view(np.int32))
    np.testing.assert_array_equal(x.view(torch.int32).view(torch.int16).cpu().numpy(), np.arange(4))
    assert torch.arange(2, dtype=torch.int32).view(torch.int16).shape == (4,)
    for bad, message in [(torch.arange(6, dtype=torch.int16).reshape(2, 3), "size\\(-1\\) must be divisible by 2"),
                         (torch.arange(6, dtype=torch.int16).reshape(2, 3)[:, :2], "stride\\(0\\) must be divisible"),
                         (x[1:3], "storage_offset\\(\\) must be divisible"),
                         (torch.tensor(1, dtype=torch.int16), "dim\\(\\) cannot be 0")]:
        with pytest.raises(RuntimeError, match=message):
            bad.view(torch.int32)


def test_out_tensors_of_another_shape_are_resized_as_in_pytorch():
    out = torch.empty(5)
    with pytest.warns(UserWarning, match="was resized since it had shape \\[5\\]"):
        torch.add(torch.ones(3), 1, out=out)
    assert out.tolist() == [2., 2., 2.]
    empty = torch.empty(0)
    torch.add(torch.ones(3), 1, out=empty)  # no warning for an empty out
    assert empty.shape == (3,)
    total = torch.empty(())
    assert torch.sum(torch.ones(2, 3), 1, out=total) is total and total.tolist() == [3., 3.]


@pytest.mark.skipif(not torch.cl.is_available(), reason="needs an OpenCL device besides cpu")
def test_a_cpu_scalar_tensor_joins_an_op_on_another_device():
    a = torch.ones(2, device="cl:0")
    one, two = torch.tensor(1., device="cpu"), torch.tensor(2., device="cpu")  # 'cpu' by name: the default may be cl:0
    assert (a + one).device == a.device and (two * a).tolist() == [2., 2.]
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        a + torch.ones(2, device="cpu")


def test_floor_divide_has_no_derivative_as_in_pytorch():
    x = torch.tensor([3., 5.], requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
        (x // 2).sum().backward()
    assert (torch.zeros(2, 0, dtype=torch.int32) // 0).shape == (2, 0)  # nothing divided: no ZeroDivisionError
    with pytest.raises(RuntimeError, match="with a bool tensor is not supported"):
        torch.tensor([1]) - True
    with pytest.raises(RuntimeError, match="narrow\\(\\) cannot be applied to a 0-dim tensor"):
        torch.tensor(1.).narrow(0, 0, 1)
