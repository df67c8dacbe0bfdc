"""complex64 / complex128: storage, numpy round trips, printing, promotion, the complex elementwise rows,
views, reductions, matmul and autograd, against numpy complex128 references and PyTorch."""
import warnings

import numpy as np
import pytest

import cltensor as torch
from helpers import HAVE_TORCH, HAS_FP64, layout_case, needs_fp64, real_torch

C64, C128 = torch.complex64, torch.complex128
# complex128 only where the device has fp64: elsewhere the test must raise the documented error
CDTYPES = [C64, pytest.param(C128, marks=needs_fp64)]
TOL = {"complex64": 2e-5, "complex128": 1e-11, "float32": 2e-5, "float64": 1e-11}
torch_only = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")


def crandom(shape, dtype=C64, seed=0, scale=2.0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-scale, scale, shape) + 1j * rng.uniform(-scale, scale, shape)).astype(dtype.np)


def close(got, expected, dtype=None, tol=None):
    g = got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
    e = np.asarray(expected)
    assert g.shape == e.shape, (g.shape, e.shape)
    t = tol or TOL[(dtype or got.dtype).name]
    np.testing.assert_allclose(g.astype(np.complex128), e.astype(np.complex128), rtol=t, atol=t, equal_nan=True)


# ---- dtypes, storage, numpy ---------------------------------------------------------------------
def test_dtype_attributes():
    assert C64.is_complex and not C64.is_floating_point and C64.itemsize == 8 and C128.itemsize == 16
    assert torch.cfloat is C64 and torch.cdouble is C128
    assert C64.to_real() is torch.float32 and C128.to_real() is torch.float64
    assert torch.float64.to_complex() is C128 and torch.float32.to_complex() is C64
    assert repr(C64) == "torch.complex64"
    assert torch.finfo(C64).eps == torch.finfo(torch.float32).eps


def test_python_complex_infers_default_complex():
    z = torch.tensor([1 + 2j, 3])
    assert z.dtype is C64 and z.is_complex() and torch.is_complex(z) and not z.is_floating_point()
    assert z.tolist() == [1 + 2j, 3 + 0j]
    assert z[0].item() == 1 + 2j and isinstance(z[0].item(), complex)
    assert complex(z[1]) == 3 + 0j


@pytest.mark.parametrize("dtype", CDTYPES)
def test_numpy_round_trip(dtype):
    a = crandom((3, 4), dtype)
    z = torch.tensor(a)
    assert z.dtype is dtype
    np.testing.assert_array_equal(z.cpu().numpy(), a)
    np.testing.assert_array_equal(torch.from_numpy(a).numpy(), a)
    np.testing.assert_array_equal(z.t().contiguous().cpu().numpy(), a.T)
    np.testing.assert_array_equal(z[:, ::2].clone().cpu().numpy(), a[:, ::2])


def test_empty_and_zero_dim():
    e = torch.zeros(0, 3, dtype=C64)
    assert e.shape == (0, 3) and (e + 1j).shape == (0, 3) and e.abs().dtype is torch.float32
    s = torch.tensor(2 - 1j)
    assert s.dim() == 0 and (s * s).item() == pytest.approx((2 - 1j) ** 2)
    assert torch.full((2,), 1 + 2j).tolist() == [1 + 2j, 1 + 2j]
    assert torch.ones(2, dtype=C64).tolist() == [1 + 0j, 1 + 0j]


@needs_fp64
def test_complex128_capability():
    z = torch.tensor([1 + 1j], dtype=C128)
    assert (z * z).item() == 2j


@torch_only
def test_printing_like_pytorch():
    cases = [lambda T: T.tensor([1 + 2j, -3j]), lambda T: T.tensor(1 + 2j),
             lambda T: T.tensor([[1.5 + 2j, 3], [0, -1e-3j]]), lambda T: T.tensor([1e10 + 1j]),
             lambda T: T.zeros(0, dtype=T.complex64), lambda T: T.tensor([[1e-5 + 1j, 2.5 + 1e5j]]),
             lambda T: T.tensor([1 + 1j, float("inf") + 1j, complex(float("nan"), 2)]),
             lambda T: T.tensor([1 - 1j] * 1200).reshape(40, 30),
             lambda T: T.tensor((np.arange(24).reshape(2, 3, 4) * (0.5 - 0.25j)).astype(np.complex64)),
             lambda T: T.tensor([1 + 1j], requires_grad=True)]
    for case in cases:
        assert repr(case(torch)) == repr(case(real_torch))


@torch_only
@needs_fp64
def test_printing_complex128_like_pytorch():
    for case in (lambda T: T.tensor([1 + 1j, 2.5], dtype=T.complex128), lambda T: T.zeros(0, dtype=T.complex128)):
        assert repr(case(torch)) == repr(case(real_torch))


# ---- promotion --------------------------------------------------------------------------------
PROMOTIONS = [("float64", "complex64"), ("float16", "complex64"), ("int64", "complex64"), ("bool", "complex128"),
              ("bfloat16", "complex64"), ("complex64", "complex128"), ("float32", "complex64"), ("uint8", "complex64")]


@torch_only
@pytest.mark.parametrize("a,b", PROMOTIONS)
def test_promote_types_like_pytorch(a, b):
    ours = torch.promote_types(getattr(torch, a), getattr(torch, b))
    assert ours.name == str(real_torch.promote_types(getattr(real_torch, a), getattr(real_torch, b)))[6:]


@torch_only
def test_result_type_like_pytorch():
    def cases(T):  # tensors in host memory (no kernel runs): float64 operands work on any device
        def t(value, dtype):
            return T.from_numpy(np.array(value, dtype=dtype))
        ones = np.ones(2)
        return [(t(ones, np.float32), 1j), (t(ones, np.float64), 1j), (t(ones, np.int32), 1j),
                (t(ones, np.float32), t(1j, np.complex128)), (t(ones, np.int32), t(1j, np.complex128)),
                (t(ones, np.complex64), 2.0), (t(ones, np.complex64), t(2.0, np.float64)),
                (t(ones, np.complex64), t(ones, np.float64)), (t(1.0, np.float32), 1j)]
    for ours, theirs in zip(cases(torch), cases(real_torch)):
        assert torch.result_type(*ours).name == str(real_torch.result_type(*theirs))[6:]


def test_mixed_real_complex_arithmetic():
    x = torch.tensor([1.0, 2.0])
    assert (x + 1j).dtype is C64 and (x + 1j).tolist() == [1 + 1j, 2 + 1j]
    assert (torch.tensor([1, 2]) * (1 + 1j)).tolist() == [1 + 1j, 2 + 2j]
    z = torch.tensor([1 + 1j, 2j])
    close(z * x, np.array([1 + 1j, 4j]), C64)
    close(x - z, np.array([-1j, 2 - 2j]), C64)


# ---- views ----------------------------------------------------------------------------------------
def test_view_as_real_and_back():
    a = crandom((2, 3))
    z = torch.tensor(a)
    r = torch.view_as_real(z)
    assert r.dtype is torch.float32 and r.shape == (2, 3, 2) and r.stride() == (6, 2, 1)
    np.testing.assert_array_equal(r.cpu().numpy(), np.stack([a.real, a.imag], -1))
    back = torch.view_as_complex(r)
    assert back.dtype is C64 and back.shape == (2, 3)
    np.testing.assert_array_equal(back.cpu().numpy(), a)
    r[0, 0, 1] = 7.0  # a view: writes reach z
    assert z[0, 0].item() == complex(a[0, 0].real, 7.0)


def test_real_imag_are_writable_views():
    a = crandom((3, 2))
    z = torch.tensor(a)
    assert z.real.stride() == (4, 2) and z.imag.storage_offset() == 1
    np.testing.assert_array_equal(z.real.cpu().numpy(), a.real)
    np.testing.assert_array_equal(z.imag.cpu().numpy(), a.imag)
    z.imag.zero_()
    z.real += 1
    np.testing.assert_array_equal(z.cpu().numpy(), a.real + 1)
    z.imag = torch.ones(3, 2)
    np.testing.assert_array_equal(z.cpu().numpy(), a.real + 1 + 1j)
    x = torch.ones(2)
    assert x.real is x


def test_view_errors():
    with pytest.raises(RuntimeError, match="view_as_real is only supported for complex tensors"):
        torch.view_as_real(torch.ones(2))
    with pytest.raises(RuntimeError, match="last dimension of size 2"):
        torch.view_as_complex(torch.ones(3))
    with pytest.raises(RuntimeError, match="last dimension with stride 1"):
        torch.view_as_complex(torch.ones(2, 2).t())
    with pytest.raises(RuntimeError, match="stride divisible by 2"):
        torch.view_as_complex(torch.ones(3, 3)[:, :2])
    with pytest.raises(RuntimeError, match="scalar type: Int"):
        torch.view_as_complex(torch.ones(2, 2, dtype=torch.int32))
    with pytest.raises(RuntimeError, match="imag is not implemented for tensors with non-complex dtypes"):
        torch.ones(2).imag


def test_conj_family():
    a = crandom((4,))
    z = torch.tensor(a)
    np.testing.assert_array_equal(z.conj().cpu().numpy(), a.conj())
    np.testing.assert_array_equal(torch.conj_physical(z).cpu().numpy(), a.conj())
    assert not z.conj().is_conj() and z.resolve_conj() is z  # conj() is a copy here, never a lazy view
    x = torch.ones(3)
    assert x.conj() is x
    m = torch.tensor(crandom((2, 3)))
    np.testing.assert_array_equal(m.mH.cpu().numpy(), m.cpu().numpy().conj().T)
    np.testing.assert_array_equal(m.H.cpu().numpy(), m.cpu().numpy().conj().T)


# ---- elementwise rows against numpy complex128 ----------------------------------------------------
def _sgn(z):
    r = np.abs(z)
    return np.where(r == 0, 0, z / np.where(r == 0, 1, r))


UNARY = {"neg": np.negative, "abs": np.abs, "angle": np.angle, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
         "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "reciprocal": np.reciprocal, "conj_physical": np.conj,
         "sgn": _sgn, "square": np.square, "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
         "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite}
REAL_RESULT = {"abs": "float", "angle": "float", "isnan": "bool", "isinf": "bool", "isfinite": "bool", "eq": "bool",
               "ne": "bool"}
BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "true_divide": np.true_divide, "pow": np.power,
          "eq": np.equal, "ne": np.not_equal}


def _result_dtype(name, dtype):
    kind = REAL_RESULT.get(name, "complex")
    return {"float": dtype.to_real(), "bool": torch.bool, "complex": dtype}[kind]


def _check(name, got, ref, dtype):
    assert got.dtype is _result_dtype(name, dtype), (got.dtype, name)
    if got.dtype is torch.bool:
        np.testing.assert_array_equal(got.cpu().numpy(), ref)
    else:
        close(got, ref, dtype)


@pytest.mark.parametrize("dtype", CDTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_rows(name, dtype):
    a = crandom((3, 5), dtype, seed=1)
    a[0, 0], a[0, 1] = 0, -1.5  # zero and a negative real: the branch cuts and the sgn/angle special cases
    if name in ("log", "reciprocal"):
        a[0, 0] = 1
    _check(name, getattr(torch, name)(torch.tensor(a)), UNARY[name](a.astype(np.complex128)), dtype)


def test_unary_special_values():
    a = np.array([complex(np.inf, 0), complex(np.nan, 1), complex(1, np.inf), complex(-np.inf, 2)], np.complex64)
    z = torch.tensor(a)
    np.testing.assert_array_equal(z.isnan().cpu().numpy(), np.isnan(a))
    np.testing.assert_array_equal(z.isinf().cpu().numpy(), np.isinf(a))
    np.testing.assert_array_equal(z.isfinite().cpu().numpy(), np.isfinite(a))
    np.testing.assert_array_equal(z.abs().cpu().numpy(), np.abs(a))
    close(torch.exp(torch.tensor([complex(np.inf, 0), complex(-np.inf, 0)])), np.array([np.inf, 0]), C64)
    close(torch.tensor([0j]).sqrt(), np.array([0j]), C64)


@pytest.mark.parametrize("dtype", CDTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_rows(name, dtype):
    a, b = crandom((3, 5), dtype, seed=2), crandom((3, 5), dtype, seed=3)
    b[0, 0] = a[0, 0]  # eq/ne see an equal pair
    got = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    _check(name, got, BINARY[name](a.astype(np.complex128), b.astype(np.complex128)), dtype)


@pytest.mark.parametrize("shapes", [((2, 3), (3,)), ((4, 1), (1, 5)), ((), (3,)), ((2, 1, 4), (3, 1))])
@pytest.mark.parametrize("name", ["add", "mul", "true_divide"])
def test_binary_broadcast(name, shapes):
    a, b = crandom(shapes[0], seed=4), crandom(shapes[1], seed=5)
    close(getattr(torch, name)(torch.tensor(a), torch.tensor(b)), BINARY[name](a.astype(np.complex128), b), C64)


@pytest.mark.parametrize("layout", ["transposed", "stepped", "expanded"])
def test_non_contiguous(layout):
    a, b = crandom((4, 6), seed=6), crandom((4, 6), seed=7)
    (ta, na), (tb, nb) = layout_case(a, layout), layout_case(b, layout)
    assert not ta.is_contiguous()
    close(ta * tb, na.astype(np.complex128) * nb, C64)
    close(ta.exp(), np.exp(na.astype(np.complex128)), C64)
    close(ta.abs(), np.abs(na), C64 and torch.float32)
    close(ta.real + ta.imag, na.real + na.imag, torch.float32)


def test_scalars_and_real_operands():
    a = crandom((2, 3), seed=8)
    x = np.arange(3, dtype=np.float32) + 1
    z = torch.tensor(a)
    close(z + 2, a + 2, C64)
    close(z * (1 - 2j), a * (1 - 2j), C64)
    close(3 / z, 3 / a.astype(np.complex128), C64)
    close(z ** 2.5, a.astype(np.complex128) ** 2.5, C64)
    close(z ** 2, a.astype(np.complex128) ** 2, C64)
    close(2 ** z, 2 ** a.astype(np.complex128), C64)
    close(torch.tensor(x) / z, x / a.astype(np.complex128), C64)
    close(torch.add(z, z, alpha=1j), a + 1j * a, C64)
    close(torch.sub(z, torch.tensor(x), alpha=2), a - 2 * x, C64)
    close(torch.tensor([1, 2, 3]) * z, np.array([1, 2, 3]) * a, C64)
    y = z.clone()
    y *= 1j
    y += torch.tensor(x)
    close(y, a * 1j + x, C64)
    with pytest.raises(RuntimeError, match="result type ComplexFloat can't be cast to the desired output type Float"):
        torch.ones(3).add_(z[0])


def test_complex_and_polar():
    re, im = np.array([1.0, -2.0, 0.5], np.float32), np.array([0.0, 3.0, -1.0], np.float32)
    z = torch.complex(torch.tensor(re), torch.tensor(im))
    assert z.dtype is C64
    np.testing.assert_array_equal(z.cpu().numpy(), re + 1j * im)
    p = torch.polar(torch.tensor(np.abs(re)), torch.tensor(im))
    close(p, np.abs(re) * np.exp(1j * im.astype(np.float64)), C64)
    close(torch.complex(torch.tensor(re), torch.tensor([2.0])), re + 2j, C64)  # broadcast
    with pytest.raises(RuntimeError, match="Expected object of scalar type Float but got scalar type Double"):
        torch.complex(torch.ones(2), torch.from_numpy(np.ones(2)))
    with pytest.raises(RuntimeError, match="Expected both inputs to be Half, Float or Double tensors but got Int and Int"):
        torch.complex(torch.ones(2, dtype=torch.int32), torch.ones(2, dtype=torch.int32))


def test_casts():
    a = crandom((3,), seed=9)
    z = torch.tensor(a)
    with pytest.warns(UserWarning, match="Casting complex values to real discards the imaginary part"):
        f = z.float()
    np.testing.assert_array_equal(f.cpu().numpy(), a.real)
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        np.testing.assert_array_equal(z.to(torch.int32).cpu().numpy(), a.real.astype(np.int32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(torch.tensor([1j, 0, 2]).bool().cpu().numpy(), [True, False, True])
        np.testing.assert_array_equal(torch.tensor([1.5, 2]).to(C64).cpu().numpy(), [1.5 + 0j, 2 + 0j])
        np.testing.assert_array_equal(torch.tensor([1, -2]).to(C64).cpu().numpy(), [1 + 0j, -2 + 0j])
    out = torch.zeros(3)
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        out.copy_(z)
    np.testing.assert_array_equal(out.cpu().numpy(), a.real)


@needs_fp64
def test_casts_between_complex_widths():
    a = crandom((4,), C128, seed=10)
    z = torch.tensor(a)
    np.testing.assert_array_equal(z.to(C64).cpu().numpy(), a.astype(np.complex64))
    np.testing.assert_array_equal(z.to(C64).to(C128).cpu().numpy(), a.astype(np.complex64).astype(np.complex128))
    assert (torch.ones(2, dtype=torch.float64) + 1j).dtype is C128


@torch_only
@pytest.mark.parametrize("case", ["lt", "floor", "sign", "maximum", "relu", "clamp", "atan2", "remainder", "max",
                                  "erf", "abs_"])
def test_unsupported_ops_raise_like_pytorch(case):
    calls = {"lt": lambda T, z: z < z, "floor": lambda T, z: z.floor(), "sign": lambda T, z: z.sign(),
             "maximum": lambda T, z: T.maximum(z, z), "relu": lambda T, z: T.relu(z),
             "clamp": lambda T, z: z.clamp(0), "atan2": lambda T, z: T.atan2(z, z),
             "remainder": lambda T, z: z % z, "max": lambda T, z: z.max(), "erf": lambda T, z: z.erf(),
             "abs_": lambda T, z: z.abs_()}
    with pytest.raises(Exception) as theirs:
        calls[case](real_torch, real_torch.ones(2, dtype=real_torch.complex64))
    with pytest.raises(type(theirs.value)) as ours:
        calls[case](torch, torch.ones(2, dtype=C64))
    if not str(theirs.value).startswith('"'):  # '"kernel_name" not implemented...': the kernel names differ
        assert str(ours.value) == str(theirs.value)
    else:
        assert "not implemented for 'ComplexFloat'" in str(ours.value)


def test_kernel_families_without_complex_raise():
    with pytest.raises(NotImplementedError, match="ComplexFloat"):
        torch.ones(3, dtype=C64).cumsum(0)


# ---- reductions and matmul --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", CDTYPES)
def test_sum_mean(dtype):
    a = crandom((3, 4, 5), dtype, seed=11)
    z = torch.tensor(a)
    close(z.sum(), a.sum(), dtype)
    close(z.sum(1), a.sum(1), dtype)
    close(z.sum((0, 2), keepdim=True), a.sum((0, 2), keepdims=True), dtype)
    close(z.mean(-1), a.mean(-1), dtype)
    close(z.t() if False else z.transpose(0, 2).sum(0), a.transpose(2, 1, 0).sum(0), dtype)
    close(torch.tensor(1 + 2j, dtype=dtype).sum(), np.array(1 + 2j), dtype)
    close(torch.zeros(0, 3, dtype=dtype).sum(0), np.zeros(3), dtype)
    assert z.sum().dtype is dtype and z.mean().dtype is dtype


def test_sum_dtype_and_errors():
    close(torch.ones(3).sum(dtype=C64), np.array(3 + 0j), C64)
    with pytest.raises(NotImplementedError, match="ComplexFloat"):
        torch.ones(3, dtype=C64).prod()


@pytest.mark.parametrize("dtype", CDTYPES)
def test_matmul_family(dtype):
    a, b = crandom((3, 4), dtype, seed=12), crandom((4, 5), dtype, seed=13)
    close(torch.tensor(a) @ torch.tensor(b), a @ b, dtype)
    close(torch.mm(torch.tensor(a), torch.tensor(b)), a @ b, dtype)
    A, B = crandom((2, 3, 4), dtype, seed=14), crandom((2, 4, 2), dtype, seed=15)
    close(torch.bmm(torch.tensor(A), torch.tensor(B)), A @ B, dtype)
    close(torch.tensor(A) @ torch.tensor(b), A @ b, dtype)  # broadcast batch
    v = crandom((4,), dtype, seed=16)
    close(torch.tensor(a) @ torch.tensor(v), a @ v, dtype)
    close(torch.tensor(v) @ torch.tensor(b), v @ b, dtype)
    close(torch.dot(torch.tensor(v), torch.tensor(v)), v @ v, dtype)
    close(torch.vdot(torch.tensor(v), torch.tensor(v)), np.vdot(v, v), dtype)
    close(torch.tensor(a).t() @ torch.tensor(a), a.T @ a, dtype)  # transposed operand
    close(torch.tensor(a)[:, ::2] @ torch.tensor(b)[::2], a[:, ::2] @ b[::2], dtype)  # stepped
    close(torch.addmm(torch.tensor(a @ b), torch.tensor(a), torch.tensor(b), beta=2, alpha=1j), 2 * (a @ b) + 1j * (a @ b),
          dtype)
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype"):
        torch.mm(torch.tensor(a), torch.ones(4, 5))


# ---- autograd ---------------------------------------------------------------------------------------
GRAD_CASES = {
    "mul": lambda T, x, y: (x * y).abs().sum(),
    "div": lambda T, x, y: (x / y).real.sum() + (x / y).imag.pow(2).sum(),
    "add_sub_neg": lambda T, x, y: (x + 2 * y - (-x) * 1j).abs().sum(),
    "exp": lambda T, x, y: (x.exp() * y).abs().sum(),
    "log_sqrt": lambda T, x, y: (x.log() + y.sqrt()).abs().sum(),
    "sin_cos_tanh": lambda T, x, y: (x.sin() * y.cos() + x.tanh()).abs().sum(),
    "angle_abs": lambda T, x, y: (x.angle() + y.abs()).sum(),
    "reciprocal_pow": lambda T, x, y: (x.reciprocal() + y.pow(2.5) + y ** 2).abs().sum(),
    "pow_tensor": lambda T, x, y: (x ** y).abs().sum(),
    "conj": lambda T, x, y: (x.conj() * y).imag.sum(),
    "sgn": lambda T, x, y: (x.sgn() * y).real.sum(),
    "square_sigmoid": lambda T, x, y: (x.square() + y.sigmoid()).abs().sum(),
    "matmul": lambda T, x, y: (x.reshape(2, 2) @ y.reshape(2, 2)).abs().sum(),
    "matmul_vector": lambda T, x, y: (x.reshape(2, 2) @ y[:2]).abs().sum() + T.dot(x, y).abs() + T.vdot(x, y).real,
    "sum_mean": lambda T, x, y: (x.sum() * y.mean()).abs(),
    "views": lambda T, x, y: (T.view_as_real(x) * T.view_as_real(y)).sum() + T.view_as_complex(T.view_as_real(x) * 2).abs().sum(),
    "complex_polar": lambda T, x, y: T.complex(x.real * 2, y.imag).abs().sum() + T.polar(x.abs(), y.angle()).real.sum(),
    "broadcast": lambda T, x, y: (x.reshape(4, 1) * y[:2]).abs().sum(),
}


@torch_only
@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_match_pytorch(name):
    xa, ya = crandom((4,), seed=17), crandom((4,), seed=18)

    def grads(T):
        x, y = T.tensor(xa, requires_grad=True), T.tensor(ya, requires_grad=True)
        GRAD_CASES[name](T, x, y).backward()
        return [t.grad.resolve_conj().cpu().numpy() for t in (x, y)]

    for ours, theirs in zip(grads(torch), grads(real_torch)):
        close(ours, theirs, C64, tol=5e-5)


@torch_only
def test_real_input_gets_real_gradient():
    xa, ya = np.array([1.0, -2.0, 0.5], np.float32), crandom((3,), seed=19)

    def grads(T):
        x, y = T.tensor(xa, requires_grad=True), T.tensor(ya, requires_grad=True)
        (x * y).abs().sum().backward()
        return x.grad, y.grad

    (gx, gy), (tx, ty) = grads(torch), grads(real_torch)
    assert gx.dtype is torch.float32 and gy.dtype is C64
    close(gx, tx.cpu().numpy(), torch.float32)
    close(gy, ty.resolve_conj().cpu().numpy(), C64)


def test_backward_of_complex_scalar_needs_real_output():
    z = torch.tensor([1 + 1j], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for real scalar outputs"):
        (z * 2).sum().backward()


@needs_fp64
@pytest.mark.parametrize("name", ["mul_div", "exp_log_sqrt", "trig", "abs_angle_sgn", "pow", "matmul", "sum_mean"])
def test_gradcheck_complex128(name):
    """Finite differences over the (re, im) parts: gradcheck of the real function of view_as_real's pairs
    checks the complex backward rules in PyTorch's convention (the gradient is dL/dre + i dL/dim)."""
    fns = {"mul_div": lambda x, y: x * y / (y + 3), "exp_log_sqrt": lambda x, y: x.exp() + y.log() * x.sqrt(),
           "trig": lambda x, y: x.sin() * y.cos() + x.tanh(), "abs_angle_sgn": lambda x, y: x.abs() + y.angle() + x.sgn(),
           "pow": lambda x, y: x ** 2.5 + x ** y + y.reciprocal(), "matmul": lambda x, y: x.reshape(2, 2) @ y.reshape(2, 2),
           "sum_mean": lambda x, y: torch.stack([x.sum(), y.mean(), x.conj().sum()])}
    fn = fns[name]

    def real_fn(xr, yr):
        out = fn(torch.view_as_complex(xr), torch.view_as_complex(yr))
        return torch.view_as_real(out) if out.dtype.is_complex else out

    parts = [torch.tensor(np.stack([c.real, c.imag], -1), dtype=torch.float64, requires_grad=True)
             for c in (crandom((4,), C128, seed=20), crandom((4,), C128, seed=21))]
    assert torch.autograd.gradcheck(real_fn, parts)


def test_python_number_conversions():
    assert float(torch.tensor(3 + 0j)) == 3.0 and int(torch.tensor(2 + 0j)) == 2
    assert complex(torch.tensor([1 - 2j])) == 1 - 2j
    assert torch.tensor([1j]).type() == "torch.ComplexFloatTensor"
    with pytest.raises(RuntimeError, match="value cannot be converted to type double without overflow"):
        float(torch.tensor(3 + 1j))


def test_random_complex_draws_both_parts():
    z = torch.randn(20000, dtype=C64)
    parts = torch.view_as_real(z).cpu().numpy()
    assert z.dtype is C64 and abs(parts.var(0) - 0.5).max() < 0.03  # PyTorch: each part has variance 1/2
    u = torch.rand(1000, dtype=C64).cpu().numpy()
    assert 0 <= u.real.min() and u.real.max() < 1 and 0 <= u.imag.min() and u.imag.max() < 1
    assert u.imag.std() > 0.2


def test_indexing_and_accumulating():
    a = crandom((2, 3), seed=22)
    z = torch.tensor(a)
    np.testing.assert_array_equal(torch.cat([z, z]).cpu().numpy(), np.concatenate([a, a]))
    np.testing.assert_array_equal(z[torch.tensor([1, 1])].cpu().numpy(), a[[1, 1]])
    np.testing.assert_array_equal(z.flip(1).cpu().numpy(), a[:, ::-1])
    mask = np.array([[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(z[torch.tensor(mask)].cpu().numpy(), a[mask])
    filled = a.copy()
    filled[mask] = 1j
    np.testing.assert_array_equal(z.masked_fill(torch.tensor(mask), 1j).cpu().numpy(), filled)
    added = np.zeros((2, 3), np.complex128)
    np.add.at(added, [1, 0], 2 * a)
    close(torch.zeros(2, 3, dtype=C64).index_add_(0, torch.tensor([1, 0]), z, alpha=2), added, C64)
    index = np.array([[0, 0, 1], [2, 2, 2]])
    expect = np.zeros((2, 3), np.complex128)
    for i in range(2):
        np.add.at(expect[i], index[i], a[i])
    close(torch.zeros(2, 3, dtype=C64).scatter_add_(1, torch.tensor(index), z), expect, C64)
    acc = np.zeros(3, np.complex128)
    np.add.at(acc, [0, 0, 2], a[0])
    close(torch.zeros(3, dtype=C64).index_put_((torch.tensor([0, 0, 2]),), z[0], accumulate=True), acc, C64)
