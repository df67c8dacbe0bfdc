"""bfloat16: stored as 16 bits, computed in float32, rounded to nearest even on store.

References: numpy float32 results rounded to bfloat16 on the host (always), and PyTorch's bfloat16
results (when installed). bfloat16 is deliberately not in helpers.ALL_DTYPES (each row would compile
once more across the whole suite): the elementwise table is swept here once, contiguous inputs only,
one program per row; a few rows take the strided path."""
import math

import numpy as np
import pytest

import cltensor as torch
from cltensor import dtypes as dt
from helpers import HAVE_TORCH, needs_fp64, real_torch
from test_elementwise import PUBLIC, accepts, call, make_inputs, ref_fn

BF16 = torch.bfloat16
ULP = 2.0 ** -7  # bfloat16's spacing relative to a value's power of two (8 significant bits)
# rows whose result jumps at points float32 and bfloat16 rounding may place differently
DISCONTINUOUS = {"floor_divide", "remainder", "fmod", "_div_trunc", "div_trunc"}
# rows PyTorch computes with one float32 operation, so the rounded result must agree bit for bit
EXACT_ROWS = {"abs", "neg", "add", "sub", "mul", "true_divide", "maximum", "minimum", "fmax", "fmin", "relu",
              "floor", "ceil", "round", "trunc", "sign", "square", "sqrt", "copysign", "eq", "ne", "lt", "le",
              "gt", "ge", "isnan", "isinf", "isfinite", "signbit", "where", "logical_and", "logical_or"}


def round_bf16(values) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), widened back to float32."""
    return dt.from_storage(dt.to_storage(values, BF16), BF16)


def bf16(values, device="cpu"):
    return torch.tensor(np.asarray(values, np.float32), dtype=BF16, device=device)


def values_of(t) -> np.ndarray:
    """A tensor's values on the host: bfloat16 widened to float32 (numpy has no bfloat16)."""
    t = t.detach()
    return np.asarray(t.float().cpu().numpy() if t.dtype is BF16 else t.cpu().numpy())


def torch_bf16(values):
    return real_torch.tensor(np.asarray(values, np.float32)).to(real_torch.bfloat16)


def torch_values(t) -> np.ndarray:
    return (t.float() if t.dtype == real_torch.bfloat16 else t).cpu().numpy()


def assert_within_ulps(got, want, ulps=1, what=""):
    """|got - want| <= ulps bfloat16 spacings of want (NaN matching NaN)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    spacing = np.exp2(np.floor(np.log2(np.maximum(np.abs(want), 2.0 ** -126)))) * ULP
    with np.errstate(invalid="ignore"):
        bad = ~((np.abs(got - want) <= ulps * spacing) | (np.isnan(got) & np.isnan(want)) | (got == want))
    assert not bad.any(), f"{what}: got {got[bad][:5]}, expected {want[bad][:5]}"


# ---- the dtype itself ---------------------------------------------------------------------------
def test_dtype_object():
    assert repr(BF16) == "torch.bfloat16" and BF16.is_floating_point and BF16.itemsize == 2
    assert torch.get_default_dtype() is torch.float32
    x = torch.zeros(3, dtype=BF16)
    assert x.dtype is BF16 and x.is_floating_point() and x.element_size() == 2
    assert torch.ones(2).bfloat16().dtype is BF16 and torch.ones(2).to(BF16).dtype is BF16
    assert torch.ones(2, dtype=BF16).type() == "torch.BFloat16Tensor"
    with pytest.raises(TypeError, match="Got unsupported ScalarType BFloat16"):
        x.cpu().numpy()
    if HAVE_TORCH:
        mine, theirs = torch.finfo(BF16), real_torch.finfo(real_torch.bfloat16)
        for field in ("bits", "eps", "max", "min", "tiny", "resolution"):
            assert getattr(mine, field) == getattr(theirs, field), field


@pytest.mark.parametrize("a,b", [("bfloat16", "float16"), ("bfloat16", "float32"), ("bfloat16", "int64"),
                                 ("bfloat16", "bool"), ("bfloat16", "uint8"), ("bfloat16", "bfloat16")])
def test_promotion(a, b):
    expected = {("float16",): torch.float32, ("float32",): torch.float32}.get((b,), BF16)
    assert torch.promote_types(getattr(torch, a), getattr(torch, b)) is expected
    assert torch.promote_types(getattr(torch, b), getattr(torch, a)) is expected
    x = torch.ones(2, dtype=getattr(torch, a))
    y = torch.ones(2, dtype=getattr(torch, b))
    assert (x + y).dtype is expected
    assert (x + 2.5).dtype is BF16 and (x * 3).dtype is BF16
    assert (torch.ones(2, dtype=torch.float32) + torch.tensor(1.0, dtype=BF16)).dtype is torch.float32
    assert (torch.ones(2, dtype=torch.int32) + torch.tensor(1.0, dtype=BF16)).dtype is BF16
    if HAVE_TORCH:
        ta, tb = getattr(real_torch, a), getattr(real_torch, b)
        assert real_torch.promote_types(ta, tb) == getattr(real_torch, expected.name)


def test_host_conversion_rounds_to_nearest_even():
    # ties: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 (to even: 1); 1 + 3 * 2^-8 goes up
    vals = [1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 3.14159, 1e39, -1e39, float("nan"),
            float("inf"), -0.0, 1e-40, 65504.0, 3.3895313892515355e38]
    x = torch.tensor(vals, dtype=BF16)
    want = [1.0, 1.0, 1 + 2 ** -6, -1.0]
    assert x.tolist()[:4] == want
    assert torch.tensor(2.0, dtype=BF16).item() == 2.0 and torch.tensor(2.0, dtype=BF16).dim() == 0
    if HAVE_TORCH:
        theirs = real_torch.tensor(vals, dtype=real_torch.bfloat16)
        np.testing.assert_array_equal(np.array(x.tolist()), theirs.float().cpu().numpy())
        assert repr(x) == repr(theirs)
        assert repr(torch.tensor(2.0, dtype=BF16)) == repr(real_torch.tensor(2.0, dtype=real_torch.bfloat16))


# ---- casts on the device: bit-exact -------------------------------------------------------------
def _cast_inputs():
    rng = np.random.default_rng(1)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1e-40, -3e-39,
                        3.4e38, 3.3961e38, 65504.0, 2 ** -133], np.float32)
    return np.concatenate([special, rng.standard_normal(200).astype(np.float32) * 1e3])


def test_cast_float32_to_bfloat16_bit_exact():
    src = _cast_inputs()
    x = torch.tensor(src)
    y = x.to(BF16)
    np.testing.assert_array_equal(y.view(torch.int16).cpu().numpy().view(np.uint16), dt.to_storage(src, BF16))
    t = x[::3].bfloat16()  # strided source
    np.testing.assert_array_equal(values_of(t), round_bf16(src[::3]))
    if HAVE_TORCH:
        # NaN's bits differ inside PyTorch itself (0x7FC0 from its scalar path, 0xFFFF from its
        # vector path): NaN is compared as NaN, every other value bit for bit
        theirs = real_torch.tensor(src).to(real_torch.bfloat16)
        nan = np.isnan(src)
        np.testing.assert_array_equal(y.view(torch.int16).cpu().numpy()[~nan],
                                      theirs.view(real_torch.int16).cpu().numpy()[~nan])
        assert real_torch.isnan(theirs).cpu().numpy()[nan].all() and np.isnan(values_of(y)[nan]).all()


def test_casts_from_bfloat16():
    src = round_bf16(_cast_inputs()[:13])
    x = bf16(src)
    np.testing.assert_array_equal(x.float().cpu().numpy(), src)
    finite = np.isfinite(src) & (np.abs(src) < 1e4)
    np.testing.assert_array_equal(x[torch.tensor(finite)].to(torch.int32).cpu().numpy(), src[finite].astype(np.int32))
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(x.half().cpu().numpy(), src.astype(np.float16))
    assert torch.tensor([3, -7, 300], dtype=torch.int64).to(BF16).tolist() == [3.0, -7.0, 300.0]
    assert torch.tensor([True, False]).to(BF16).tolist() == [1.0, 0.0]
    assert x.to(torch.bool).tolist() == [bool(v != 0) for v in src]


@needs_fp64
def test_cast_float64_to_bfloat16():
    src = _cast_inputs().astype(np.float64) + 1e-12
    got = torch.tensor(src, dtype=torch.float64).to(BF16)
    np.testing.assert_array_equal(values_of(got), round_bf16(src.astype(np.float32)))
    np.testing.assert_array_equal(got.double().cpu().numpy(), round_bf16(src.astype(np.float32)).astype(np.float64))


# ---- the elementwise table ----------------------------------------------------------------------
FLOAT_ROWS = sorted(name for name, op in PUBLIC.items() if accepts(op, torch.float32))


def _bf16_inputs(op, shapes):
    return [a if a.dtype == np.bool_ else round_bf16(a.astype(np.float32))
            for a in make_inputs(op, shapes, torch.float32, seed=3)]


def _reference(op, arrays):
    """numpy in float32 on the (bfloat16-exact) inputs, rounded to bfloat16 as the kernel stores."""
    with np.errstate(all="ignore"):
        res = np.asarray(ref_fn(op)(*arrays))
    return res if res.dtype == np.bool_ else round_bf16(res.astype(np.float32))


def test_elementwise_table():
    """Every float row once on bfloat16 (odd size, one program per row), against numpy float32
    rounded to bfloat16 and PyTorch's bfloat16."""
    assert len(FLOAT_ROWS) > 50
    for name in FLOAT_ROWS:
        op = PUBLIC[name]
        arrays = _bf16_inputs(op, [(37,)] * op.arity)
        ins = [torch.tensor(a, device="cpu") if a.dtype == np.bool_ else bf16(a) for a in arrays]  # bf16's device
        out = call(op, *ins)
        assert out.dtype is (torch.bool if out.dtype is torch.bool else BF16), name
        got = values_of(out)
        if name not in DISCONTINUOUS:
            assert_within_ulps(got, _reference(op, arrays), 1, f"{name} vs numpy")
        if HAVE_TORCH and hasattr(real_torch, name):
            t_ins = [real_torch.tensor(a) if a.dtype == np.bool_ else torch_bf16(a) for a in arrays]
            theirs = getattr(real_torch, name)(*t_ins)
            assert str(theirs.dtype) == repr(out.dtype), name
            if name in EXACT_ROWS:
                np.testing.assert_array_equal(got, torch_values(theirs), err_msg=name)
            else:
                assert_within_ulps(got, torch_values(theirs), 1, f"{name} vs PyTorch")


@pytest.mark.parametrize("name", ["mul", "exp"])
def test_elementwise_strided_and_broadcast(name):
    op = PUBLIC[name]
    rng = np.random.default_rng(5)
    a = round_bf16(rng.uniform(-3, 3, (6, 9)).astype(np.float32))
    x = bf16(a).t()[1:, ::2]  # transposed, stepped
    ref_a = a.T[1:, ::2]
    if op.arity == 2:
        b = round_bf16(rng.uniform(-3, 3, (3,)).astype(np.float32))
        got = values_of(call(op, x, bf16(b)))
        want = _reference(op, [ref_a, b])
    else:
        got, want = values_of(call(op, x)), _reference(op, [ref_a])
    assert_within_ulps(got, want, 1, name)
    y = bf16(a)
    y.mul_(2).add_(1.0)
    np.testing.assert_array_equal(values_of(y), round_bf16(round_bf16(a * 2) + 1))


def test_empty_and_zero_dim():
    e = torch.zeros(0, 3, dtype=BF16)
    assert (e + 1).shape == (0, 3) and (e + 1).dtype is BF16 and e.sum().item() == 0.0
    s = torch.tensor(1.5, dtype=BF16)
    assert (s * s).item() == 2.25 and (s * s).dim() == 0


# ---- reductions accumulate in float32 -----------------------------------------------------------
def test_reductions():
    rng = np.random.default_rng(7)
    a = round_bf16(rng.uniform(-2, 2, (33, 129)).astype(np.float32))
    x = bf16(a)
    a64 = a.astype(np.float64)
    checks = {
        "sum": (x.sum(), a64.sum()), "sum1": (x.sum(1), a64.sum(1)), "mean0": (x.mean(0), a64.mean(0)),
        "max": (x.max(), a.max()), "amin1": (x.amin(1), a.min(1)), "norm": (x.norm(), np.sqrt((a64 ** 2).sum())),
        "std1": (x.std(1), a64.std(1, ddof=1)),
        "softmax": (x.softmax(1), np.exp(a64) / np.exp(a64).sum(1, keepdims=True)),
    }
    for name, (got, want) in checks.items():
        assert got.dtype is BF16, name
        # one rounding of a float32 accumulation; 2 spacings allow for a two-stage sum's partials
        assert_within_ulps(values_of(got), round_bf16(want.astype(np.float32)), 2, name)
    assert x.argmax().item() == int(np.argmax(a)) and x.argmin(1).tolist() == np.argmin(a, 1).tolist()
    big = bf16(np.ones(3072, np.float32))
    assert big.sum().item() == 3072.0  # a bfloat16 running sum would stall at 256
    np.testing.assert_allclose(values_of(x.cumsum(1)), np.cumsum(a64, 1), rtol=2e-2, atol=0.1)
    if HAVE_TORCH:
        t = torch_bf16(a)
        for name, got, theirs in [("sum", x.sum(1), t.sum(1)), ("mean", x.mean(), t.mean()),
                                  ("softmax", x.softmax(1), t.softmax(1)), ("max", x.max(1)[0], t.max(1)[0])]:
            assert str(theirs.dtype) == repr(got.dtype)
            assert_within_ulps(values_of(got), torch_values(theirs), 2, name)


# ---- matmul -------------------------------------------------------------------------------------
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 33, 5), (65, 70, 19)])
def test_matmul(m, k, n):
    rng = np.random.default_rng(m * 100 + n)
    a = round_bf16(rng.uniform(-1, 1, (m, k)).astype(np.float32))
    b = round_bf16(rng.uniform(-1, 1, (k, n)).astype(np.float32))
    got = bf16(a) @ bf16(b)
    assert got.dtype is BF16 and got.shape == (m, n)
    # float32 accumulation in another order: the rounded results may differ by one spacing,
    # or more where cancellation leaves a small result, hence the absolute term
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(values_of(got), round_bf16(want.astype(np.float32)), rtol=ULP, atol=1e-6 * k)
    bt = bf16(np.ascontiguousarray(b.T)).t()  # B through strides
    np.testing.assert_array_equal(values_of(bf16(a) @ bt), values_of(got))
    if HAVE_TORCH:
        theirs = torch_bf16(a) @ torch_bf16(b)
        np.testing.assert_allclose(values_of(got), torch_values(theirs), rtol=ULP, atol=1e-6 * k)


def test_batched_matmul_and_linear():
    rng = np.random.default_rng(11)
    a = round_bf16(rng.uniform(-1, 1, (3, 4, 9)).astype(np.float32))
    b = round_bf16(rng.uniform(-1, 1, (3, 9, 6)).astype(np.float32))
    got = torch.bmm(bf16(a), bf16(b))
    want = round_bf16(np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.float32))
    np.testing.assert_allclose(values_of(got), want, rtol=ULP, atol=1e-5)
    lin = torch.nn.functional.linear(bf16(a[0]), bf16(b[0].T), bf16(np.ones(6, np.float32)))
    assert lin.dtype is BF16
    np.testing.assert_allclose(values_of(lin), round_bf16((a[0] @ b[0] + 1).astype(np.float32)), rtol=ULP, atol=1e-5)


# ---- data movement, indexing, sort, random --------------------------------------------------------
def test_copy_index_cat_stack_sort():
    rng = np.random.default_rng(13)
    a = round_bf16(rng.uniform(-4, 4, (5, 7)).astype(np.float32))
    x = bf16(a)
    np.testing.assert_array_equal(values_of(x.t().contiguous()), a.T)
    np.testing.assert_array_equal(values_of(x.clone()), a)
    np.testing.assert_array_equal(values_of(x[torch.tensor([4, 0, 2])]), a[[4, 0, 2]])
    np.testing.assert_array_equal(values_of(x[x > 0]), a[a > 0])
    np.testing.assert_array_equal(values_of(torch.cat([x, x[:2]])), np.concatenate([a, a[:2]]))
    np.testing.assert_array_equal(values_of(torch.stack([x, x], 1)), np.stack([a, a], 1))
    np.testing.assert_array_equal(values_of(x.sort(1)[0]), np.sort(a, 1))
    np.testing.assert_array_equal(x.sort(1)[1].cpu().numpy(), np.argsort(a, 1, kind="stable"))
    y = torch.zeros(5, 7, dtype=BF16)
    y[1:3] = x[1:3]
    y[0] = 2.7
    want = np.zeros_like(a)
    want[1:3] = a[1:3]
    want[0] = round_bf16(np.float32(2.7))
    np.testing.assert_array_equal(values_of(y), want)
    zero = torch.zeros((), dtype=BF16, device=x.device)
    np.testing.assert_array_equal(values_of(torch.where(x > 0, x, zero)), np.where(a > 0, a, 0))
    assert torch.full((2, 2), 1.3, dtype=BF16).tolist() == [[1.296875] * 2] * 2


def test_random():
    torch.manual_seed(0)
    u = torch.rand(4001, dtype=BF16)
    assert u.dtype is BF16
    v = values_of(u)
    assert v.min() >= 0 and v.max() < 1 and 0.45 < v.mean() < 0.55
    n = values_of(torch.randn(4001, dtype=BF16))
    assert abs(n.mean()) < 0.1 and 0.9 < n.std() < 1.1
    r = values_of(torch.randint(0, 7, (100,), dtype=BF16))
    assert set(r.tolist()) <= set(range(7))
    e = torch.empty(50, dtype=BF16).uniform_(2, 3)
    assert e.dtype is BF16 and 2 <= values_of(e).min() and values_of(e).max() <= 3


def test_autograd_through_bfloat16():
    """Gradients of a float32 leaf through a bfloat16 computation come back in float32."""
    w = torch.tensor([0.5, -1.25, 2.0], requires_grad=True)
    y = (w.bfloat16() * w.bfloat16()).sum()
    assert y.dtype is BF16
    y.backward()
    assert w.grad.dtype is torch.float32
    np.testing.assert_array_equal(w.grad.cpu().numpy(), [1.0, -2.5, 4.0])
    if HAVE_TORCH:
        tw = real_torch.tensor([0.5, -1.25, 2.0], requires_grad=True)
        (tw.bfloat16() * tw.bfloat16()).sum().backward()
        np.testing.assert_array_equal(w.grad.cpu().numpy(), tw.grad.cpu().numpy())


def test_math_constants_round():
    x = torch.tensor([math.pi, math.e], dtype=BF16)
    assert x.tolist() == [3.140625, 2.71875]


def test_errors_name_bfloat16_as_pytorch_does():
    a = torch.ones(2, 2, dtype=BF16)
    with pytest.raises(RuntimeError, match=r"same dtype, but got: c10::BFloat16 != float"):
        a @ torch.ones(2, 2)
    with pytest.raises(RuntimeError, match="result type BFloat16 can't be cast to the desired output type Long"):
        torch.ones(2, dtype=torch.int64).add_(a[0])
