"""The tensor itself: creation, dtypes, devices, views sharing storage, printing, host transfers."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import cltensor as torch
from helpers import ALL_DTYPES, HAVE_TORCH, PRECISE, assert_close, needs_fp64, np_of, real_torch

# every dtype; float64 runs fully where the device has cl_khr_fp64 and must raise where it has not
EVERY_DTYPE = [pytest.param(d, marks=needs_fp64, id=d.name) if d is torch.float64 else pytest.param(d, id=d.name)
               for d in ALL_DTYPES]


# ---- creation ---------------------------------------------------------------------------------
def test_tensor_infers_dtypes_like_pytorch():
    assert torch.tensor(1).dtype is torch.int64
    assert torch.tensor(1.0).dtype is torch.float32
    assert torch.tensor(True).dtype is torch.bool
    assert torch.tensor([1, 2.5]).dtype is torch.float32
    assert torch.tensor([[1, 2], [3, 4]]).shape == (2, 2)
    assert torch.tensor(np.arange(3, dtype=np.int32)).dtype is torch.int32
    assert torch.tensor(np.arange(3, dtype=np.float32)).dtype is torch.float32
    assert torch.tensor([]).shape == (0,) and torch.tensor([]).dtype is torch.float32
    assert torch.tensor(1.0, dtype=torch.int8).dtype is torch.int8
    assert torch.tensor(3.7, dtype=torch.int32).item() == 3
    assert torch.tensor(5).dim() == 0 and torch.tensor(5).shape == torch.Size([])
    with pytest.raises(ValueError):
        torch.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        torch.tensor("abc")


@needs_fp64
def test_tensor_of_a_float64_array_is_float64():
    assert torch.tensor(np.arange(3, dtype=np.float64)).dtype is torch.float64
    assert torch.tensor(np.arange(3, dtype=np.float64)).tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("default", [torch.float16, pytest.param(torch.float64, marks=needs_fp64)],
                         ids=lambda d: d.name)
def test_default_dtype_switch(default):
    try:
        torch.set_default_dtype(default)
        assert torch.get_default_dtype() is default
        assert torch.tensor(1.0).dtype is default
        assert torch.zeros(2).dtype is default
        assert (torch.tensor([1]) * 0.5).dtype is default
    finally:
        torch.set_default_dtype(torch.float32)
    assert torch.get_default_dtype() is torch.float32


def test_default_dtype_must_be_floating():
    with pytest.raises(TypeError):
        torch.set_default_dtype(torch.int32)
    assert torch.get_default_dtype() is torch.float32


@pytest.mark.parametrize("dtype", EVERY_DTYPE)
def test_filled_and_ranges(dtype):
    assert_close(torch.zeros(2, 3, dtype=dtype), np.zeros((2, 3), dtype.np))
    assert_close(torch.ones((2, 3), dtype=dtype), np.ones((2, 3), dtype.np))
    assert_close(torch.full((2,), 1, dtype=dtype), np.full(2, 1, dtype.np))
    assert_close(torch.eye(3, 4, dtype=dtype), np.eye(3, 4, dtype=dtype.np))
    assert torch.empty(4, 5, dtype=dtype).shape == (4, 5)
    if dtype is not torch.bool:
        assert_close(torch.arange(0, 10, 3, dtype=dtype), np.arange(0, 10, 3).astype(dtype.np))


def test_ranges_match_numpy():
    assert_close(torch.arange(5), np.arange(5))
    assert torch.arange(5).dtype is torch.int64
    assert torch.arange(0.0, 1.0, 0.1).dtype is torch.float32
    assert_close(torch.arange(0.0, 1.0, 0.1), np.arange(0.0, 1.0, 0.1))
    assert_close(torch.arange(10, 0, -3), np.arange(10, 0, -3))
    assert_close(torch.linspace(-1, 1, 100), np.linspace(-1, 1, 100))
    assert_close(torch.linspace(0, 1, 1), np.linspace(0, 1, 1))
    assert torch.linspace(2, 10, 5, dtype=PRECISE).dtype is PRECISE
    assert_close(torch.linspace(2, 10, 5, dtype=PRECISE), np.linspace(2, 10, 5))
    assert_close(torch.logspace(0, 3, 4), np.logspace(0, 3, 4), rtol=1e-5)
    assert_close(torch.logspace(0, 3, 4, base=2.0), np.logspace(0, 3, 4, base=2.0), rtol=1e-5)
    assert_close(torch.full((2, 2), 7.5), np.full((2, 2), 7.5))
    assert torch.full((2,), 7).dtype is torch.int64 and torch.full((2,), True).dtype is torch.bool
    with pytest.raises(RuntimeError):
        torch.arange(0, 10, 0)
    with pytest.raises(RuntimeError, match="negative dimension"):
        torch.empty(-1)


def test_like_constructors():
    x = torch.arange(6, dtype=torch.int32).reshape(2, 3)
    for fn, value in ((torch.zeros_like, 0), (torch.ones_like, 1)):
        y = fn(x)
        assert y.shape == x.shape and y.dtype is torch.int32
        assert_close(y, np.full((2, 3), value, np.int32))
    assert_close(torch.full_like(x, 4), np.full((2, 3), 4, np.int32))
    assert torch.empty_like(x).shape == (2, 3)
    r = torch.rand_like(x, dtype=torch.float32)
    assert r.dtype is torch.float32 and r.shape == (2, 3)
    assert torch.randn_like(torch.ones(4)).shape == (4,)
    assert x.new_zeros(3).dtype is torch.int32 and x.new_tensor([1.5]).dtype is torch.int32


def test_legacy_constructors():
    t = torch.Tensor(2, 3)
    assert t.shape == (2, 3) and t.dtype is torch.float32
    assert_close(torch.Tensor([3, 4]), np.array([3.0, 4.0], np.float32))
    assert torch.Tensor([3, 4]).dtype is torch.float32
    assert torch.Tensor().shape == (0,)
    assert torch.FloatTensor(2, 3).shape == (2, 3)
    assert torch.IntTensor(2).shape == (2,) and torch.IntTensor(2).dtype is torch.int32
    f = torch.IntTensor([1, 2, 3, 4])
    assert f.dtype is torch.int32
    assert_close(f, np.array([1, 2, 3, 4]))
    assert torch.LongTensor([1]).dtype is torch.int64
    assert torch.BoolTensor([1, 0]).dtype is torch.bool
    assert isinstance(f, torch.IntTensor) and not isinstance(f, torch.FloatTensor)
    assert isinstance(f, torch.Tensor)
    assert f.type() == "torch.IntTensor"
    assert f.type(torch.float16).dtype is torch.float16
    assert f.type("torch.FloatTensor").dtype is torch.float32


@needs_fp64
def test_legacy_double_constructors():
    assert torch.DoubleTensor([1]).dtype is torch.float64 and torch.DoubleTensor([1]).tolist() == [1.0]
    assert torch.IntTensor([1, 2]).type(torch.float64).dtype is torch.float64
    assert torch.IntTensor([1, 2]).type("torch.DoubleTensor").tolist() == [1.0, 2.0]


# ---- random ---------------------------------------------------------------------------------------
def test_seeded_random_is_reproducible_and_well_distributed():
    torch.manual_seed(100)
    a = torch.rand(10000)
    torch.manual_seed(100)
    b = torch.rand(10000)
    assert np.array_equal(np_of(a), np_of(b))
    vals = np_of(a)
    assert vals.min() >= 0 and vals.max() < 1 and abs(vals.mean() - 0.5) < 0.02
    n = np_of(torch.randn(20000))
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    i = np_of(torch.randint(3, 7, (5000,)))
    assert set(np.unique(i)) == {3, 4, 5, 6}
    assert torch.randint(10, (3, 2)).dtype is torch.int64
    g = torch.Generator().manual_seed(7)
    c = torch.rand(5, generator=g)
    g.manual_seed(7)
    assert np.array_equal(np_of(c), np_of(torch.rand(5, generator=g)))
    m = np_of(torch.normal(2.0, 3.0, size=(20000,)))
    assert abs(m.mean() - 2) < 0.1 and abs(m.std() - 3) < 0.1
    h = torch.rand(1000, dtype=torch.float16)
    assert h.dtype is torch.float16 and np_of(h).max() < 1
    assert torch.rand(2, 3).shape == (2, 3) and torch.randn((2, 3)).shape == (2, 3)


@needs_fp64
def test_float64_random_is_reproducible_and_well_distributed():
    torch.manual_seed(100)
    a = torch.rand(10000, dtype=torch.float64)
    torch.manual_seed(100)
    assert a.dtype is torch.float64 and np.array_equal(np_of(a), np_of(torch.rand(10000, dtype=torch.float64)))
    vals = np_of(a)
    assert vals.min() >= 0 and vals.max() < 1 and abs(vals.mean() - 0.5) < 0.02
    n = np_of(torch.randn(20000, dtype=torch.float64))
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05


def test_same_seed_same_numbers_on_every_device():
    if torch.cl.device_count() == 0:
        pytest.skip("no OpenCL device")
    torch.manual_seed(3)
    a = np_of(torch.randn(1000))
    torch.manual_seed(3)
    b = np_of(torch.randn(1000, device="cl:0"))
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


# ---- metadata -------------------------------------------------------------------------------------
def test_metadata():
    x = torch.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, torch.Size)
    assert repr(x.shape) == "torch.Size([2, 3, 4])"
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert x.stride() == (12, 4, 1) and x.stride(0) == 12
    assert x.is_contiguous() and not x.transpose(0, 1).is_contiguous()
    assert x.element_size() == 4 and torch.zeros(1, dtype=torch.float16).element_size() == 2
    default = torch.get_default_device()  # 'cpu' unless CLTENSOR_DEVICE names another
    assert x.dtype is torch.float32 and x.device == default and str(x.device) == str(default)
    assert x.T.shape == (4, 3, 2) if False else x.mT.shape == (2, 4, 3)
    assert torch.zeros(2, 5).T.shape == (5, 2)
    assert [t.shape for t in torch.zeros(3, 2)] == [(2,)] * 3
    with pytest.raises(TypeError):
        len(torch.tensor(1.0))
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.size(3)


# ---- views ------------------------------------------------------------------------------------------
def test_views_share_storage():
    x = torch.arange(12.0)
    v = x.view(3, 4)
    r = x.reshape(2, 6)
    t = v.t()
    s = v[1:, ::2]
    u = v.unsqueeze(0)
    v[0, 0] = 100.0
    assert x[0].item() == 100 and r[0, 0].item() == 100 and t[0, 0].item() == 100 and u[0, 0, 0].item() == 100
    s.fill_(-1)
    expected = np.arange(12.0)
    expected[0] = 100
    expected.reshape(3, 4)[1:, ::2] = -1
    assert_close(x, expected)
    assert s.stride() == (4, 2) and s.storage_offset() == 4
    assert t.stride() == (1, 4)


def test_view_errors_and_reshape_copy():
    x = torch.arange(12.0).reshape(3, 4)
    with pytest.raises(RuntimeError, match=r"view size is not compatible .* Use .reshape\(\.\.\.\) instead"):
        x.t().view(12)
    y = x.t().reshape(12)
    assert_close(y, np.arange(12.0).reshape(3, 4).T.reshape(12))
    with pytest.raises(RuntimeError, match=r"shape '\[5, 3\]' is invalid for input of size 12"):
        x.view(5, 3)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.view(-1, -1)
    assert x.view(-1).shape == (12,) and x.view(2, -1).shape == (2, 6)
    assert x.reshape((4, 3)).shape == (4, 3)


def test_shape_ops():
    a = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    x = torch.tensor(a)
    assert_close(x.permute(2, 0, 1), a.transpose(2, 0, 1))
    assert_close(x.transpose(0, 2), a.swapaxes(0, 2))
    assert_close(x.swapaxes(1, 2), a.swapaxes(1, 2))
    assert_close(x.flatten(), a.reshape(-1))
    assert_close(x.flatten(1), a.reshape(2, 12))
    assert_close(x.unflatten(2, (2, 2)), a.reshape(2, 3, 2, 2))
    assert_close(x[:, :1].squeeze(), a[:, 0])
    assert_close(x[:, :1].squeeze(1), a[:, 0])
    assert x.squeeze(0).shape == (2, 3, 4)
    assert x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert_close(torch.tensor([1.0, 2.0]).expand(3, 2), np.broadcast_to([1.0, 2.0], (3, 2)))
    assert_close(torch.tensor([[1.0], [2.0]]).expand(-1, 3), np.broadcast_to([[1.0], [2.0]], (2, 3)))
    assert torch.ones(3, 1).expand_as(torch.ones(2, 3, 4)).shape == (2, 3, 4)
    assert_close(x.narrow(2, 1, 2), a[:, :, 1:3])
    assert_close(x.select(1, -1), a[:, -1])
    assert [u.shape for u in x.unbind(1)] == [(2, 4)] * 3
    assert_close(x.movedim(0, -1), np.moveaxis(a, 0, -1))
    assert_close(torch.tensor(a[0]).diagonal(), np.diagonal(a[0]))
    assert_close(torch.tensor(a[0]).diagonal(1), np.diagonal(a[0], 1))
    with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
        torch.ones(3).expand(2, 4)
    with pytest.raises(IndexError, match="out of range"):
        x.select(0, 5)
    with pytest.raises(RuntimeError, match="duplicate dims"):
        x.permute(0, 0, 1)


def test_basic_indexing_matches_numpy():
    a = np.arange(60.0, dtype=np.float32).reshape(3, 4, 5)
    x = torch.tensor(a)
    for index in [0, -1, (1, 2), (slice(None), 1), (Ellipsis, 2), (None, 1), (slice(1, None, 2), None, Ellipsis),
                  (slice(None, None, 3), slice(1, 3), -2), (Ellipsis,), (slice(5, 10),), (1, Ellipsis, None)]:
        assert_close(x[index], a[index])
    assert x[1, 2, 3].dim() == 0 and x[1, 2, 3].item() == a[1, 2, 3]
    assert x[np.int64(1)].shape == (4, 5) and x[torch.tensor(2)].shape == (4, 5)
    with pytest.raises(IndexError):
        x[3]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]


def test_basic_setitem():
    x = torch.zeros(3, 4)
    x[0] = 1.0
    x[1, 1:3] = torch.tensor([5.0, 6.0])
    x[:, -1] = torch.tensor([7.0, 8.0, 9.0])
    x[2, ...] += 2
    exp = np.zeros((3, 4))
    exp[0] = 1
    exp[1, 1:3] = [5, 6]
    exp[:, -1] = [7, 8, 9]
    exp[2] += 2
    assert_close(x, exp)


def test_contiguous_copies_through_strides():
    x = torch.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)[:, ::2]
    c = x.contiguous()
    assert c.is_contiguous() and c.stride() == (2, 1, 1) if False else c.is_contiguous()
    assert_close(c, np.arange(24.0).reshape(2, 3, 4).transpose(2, 0, 1)[:, ::2])
    assert x.contiguous() is not x and c.contiguous() is c
    assert torch.arange(12).reshape(3, 4).T.contiguous().stride() == (3, 1)


# ---- host transfers and conversions -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", EVERY_DTYPE)
def test_numpy_tolist_item_roundtrip(dtype):
    a = (np.arange(6).reshape(2, 3) % 3).astype(dtype.np)
    x = torch.tensor(a)
    assert x.cpu().numpy().dtype == dtype.np
    np.testing.assert_array_equal(x.cpu().numpy(), a)
    assert x.tolist() == a.tolist()
    assert x[1, 2].item() == a[1, 2].item()
    assert type(x[0, 0].item()) is type(a[0, 0].item())


def test_python_conversions():
    assert float(torch.tensor(2.5)) == 2.5 and int(torch.tensor(7)) == 7 and bool(torch.tensor([True]))
    assert math.isclose(torch.tensor([3.25]).item(), 3.25)
    assert [0, 1, 2][torch.tensor(1)] == 1
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        torch.ones(2).item()
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(torch.ones(2))
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        torch.ones(2, requires_grad=True).numpy()


def _cast_source(src):
    return np.array([0, 1, 2, 3], dtype=src.np) if src is not torch.bool else np.array([0, 1, 1, 0], bool)


@pytest.mark.parametrize("src", EVERY_DTYPE)
def test_casts(src):
    a = _cast_source(src)
    x = torch.tensor(a)
    for method, dst in (("float", torch.float32), ("half", torch.float16),
                        ("int", torch.int32), ("long", torch.int64), ("bool", torch.bool),
                        ("short", torch.int16), ("byte", torch.uint8), ("char", torch.int8)):
        y = getattr(x, method)()
        assert y.dtype is dst
        assert_close(y, a.astype(dst.np))
    assert x.to(torch.float32).dtype is torch.float32 and x.type(torch.int16).dtype is torch.int16
    assert x.to(x.dtype) is x


@pytest.mark.parametrize("src", ALL_DTYPES, ids=lambda d: d.name)
@needs_fp64
def test_casts_to_float64(src):
    a = _cast_source(src)
    x = torch.tensor(a)
    for y in (x.double(), x.to(torch.float64), x.type(torch.float64)):
        assert y.dtype is torch.float64
        assert_close(y, a.astype(np.float64))


def test_float_to_int_truncates_and_bool_is_nonzero():
    x = torch.tensor([-2.7, -0.5, 0.0, 0.3, 2.9])
    assert_close(x.int(), np.array([-2, 0, 0, 0, 2], np.int32))
    assert_close(x.bool(), np.array([True, True, False, True, True]))


def test_device_moves():
    names = [torch.cl.get_device_name(i) for i in range(torch.cl.device_count())]
    assert torch.cl.is_available() and names
    x = torch.arange(6.0, device="cpu").reshape(2, 3)  # 'cpu' by name: the default device may be cl:0
    y = x.to("cl:0")
    assert y.device == torch.device("cl:0") and y.device.type == "cl" and y.device.index == 0
    assert y.is_cl and not y.is_cpu
    with pytest.raises(TypeError, match="can't convert cl:0 device type tensor to numpy"):
        y.numpy()
    z = (y * 2).cpu()
    assert z.device == torch.device("cpu")
    assert_close(z, np.arange(6.0).reshape(2, 3) * 2)
    assert_close(x.cl().t().contiguous().cpu(), np.arange(6.0).reshape(2, 3).T)
    for t in (x, y):  # as in PyTorch, repr names the device where it is not the default one
        assert (f"device='{t.device}'" in repr(t)) == (t.device != torch.get_default_device()), repr(t)
    assert torch.device("cl", 0) == torch.device("cl:0") and torch.device("cpu") == "cpu"
    with pytest.raises(RuntimeError):
        torch.device("tpu")
    with pytest.raises(RuntimeError, match="out of range"):
        torch.device(f"cl:{torch.cl.device_count()}")


def test_default_device_from_environment():
    code = "import cltensor as t; x = t.ones(2); print(x.device, t.get_default_device())"
    env = dict(os.environ, CLTENSOR_DEVICE="cl:0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["cl:0", "cl:0"], out.stderr


def test_set_default_device():
    try:
        torch.set_default_device("cl:0")
        assert torch.zeros(2).device == torch.device("cl:0")
        assert torch.tensor([1.0]).device == torch.device("cl:0")
    finally:
        torch.set_default_device("cpu")
    assert torch.zeros(2).device == torch.device("cpu")


# ---- printing ---------------------------------------------------------------------------------------------
REPRS = [
    ("torch.arange(12).reshape(3, 4) * 2.5",
     "tensor([[ 0.0000,  2.5000,  5.0000,  7.5000],\n        [10.0000, 12.5000, 15.0000, 17.5000],\n"
     "        [20.0000, 22.5000, 25.0000, 27.5000]])"),
    ("torch.zeros(1, 2)", "tensor([[0., 0.]])"),
    ("torch.tensor(1.0)", "tensor(1.)"),
    ("torch.tensor(1, dtype=torch.int8)", "tensor(1, dtype=torch.int8)"),
    ("torch.tensor([1, 2, 3], dtype=torch.int32)", "tensor([1, 2, 3], dtype=torch.int32)"),
    ("torch.tensor([True, False])", "tensor([ True, False])"),
    ("torch.tensor([])", "tensor([])"),
    ("torch.zeros(2, 0, dtype=torch.int32)", "tensor([], size=(2, 0), dtype=torch.int32)"),
    ("torch.tensor([1.0, float('inf'), float('nan')])", "tensor([1., inf, nan])"),
    ("torch.tensor([1e-5, 1e5])", "tensor([1.0000e-05, 1.0000e+05])"),
    ("torch.tensor([0.1, 100.0])", "tensor([  0.1000, 100.0000])"),
    pytest.param("torch.tensor([1.5], dtype=torch.float64)", "tensor([1.5000], dtype=torch.float64)",
                 marks=needs_fp64),
    ("torch.tensor([1.5], dtype=torch.float16)", "tensor([1.5000], dtype=torch.float16)"),
    ("torch.ones(2, requires_grad=True)", "tensor([1., 1.], requires_grad=True)"),
    ("torch.tensor(5.0, requires_grad=True) * 2", "tensor(10., grad_fn=<MulBackward0>)"),
    ("torch.arange(2000.0)", "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
     "        1.9990e+03])"),
    ("torch.arange(3000).reshape(30, 100)",
     "tensor([[   0,    1,    2,  ...,   97,   98,   99],\n        [ 100,  101,  102,  ...,  197,  198,  199],\n"
     "        [ 200,  201,  202,  ...,  297,  298,  299],\n        ...,\n"
     "        [2700, 2701, 2702,  ..., 2797, 2798, 2799],\n        [2800, 2801, 2802,  ..., 2897, 2898, 2899],\n"
     "        [2900, 2901, 2902,  ..., 2997, 2998, 2999]])"),
]


@pytest.mark.parametrize("expr,expected", REPRS, ids=[getattr(r, "values", r)[0] for r in REPRS])
def test_repr_matches_pytorch(expr, expected):
    assert repr(eval(expr)) == expected
    if HAVE_TORCH:
        assert repr(eval(expr, {"torch": real_torch})) == expected


def test_issue_example_prints_what_pytorch_prints():
    code = ("import cltensor as torch; x = torch.arange(12).reshape(3, 4); "
            "print(x * 2.5, x.T.contiguous().stride())")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    expected = ("tensor([[ 0.0000,  2.5000,  5.0000,  7.5000],\n        [10.0000, 12.5000, 15.0000, 17.5000],\n"
                "        [20.0000, 22.5000, 25.0000, 27.5000]]) (3, 1)\n")
    assert got == expected
