"""The elementwise op table, tested row by row against numpy (float64 references on the host):
every dtype a row accepts, broadcast shapes, non-contiguous layouts, 0-d and empty tensors,
in-place / out= / operator forms, type promotion, NaN/inf and the wrong-input errors."""
import math

import numpy as np
import pytest

import cltensor as torch
from cltensor.ops import elementwise as ew
from helpers import (ALL_DTYPES, BROADCAST_PAIRS, HAVE_TORCH, LAYOUTS, NO_FP64_ERROR, PRECISE, assert_close,
                     layout_case, needs_fp64, np_of, random_array, real_torch)

_erf = np.vectorize(math.erf)
_erfc = np.vectorize(math.erfc)
REFS = {"erf": _erf, "erfc": _erfc}
DIVISION = {"true_divide", "floor_divide", "remainder", "fmod", "_div_trunc"}
PUBLIC = {name: op for name, op in ew.OPS.items() if op.ref is not None and not name.startswith("_")}
PUBLIC["div_trunc"] = ew.OPS["_div_trunc"]


def ref_fn(op):
    return REFS.get(op.ref, op.ref) if isinstance(op.ref, str) else op.ref


def call(op, *args, **kw):
    return getattr(torch, op.name)(*args, **kw) if not op.name.startswith("_") else getattr(ew, op.name)(*args, **kw)


def accepts(op, dtype):
    try:
        op.dtypes(dtype)
        if op.check is not None:  # probes in host memory: no kernel, so float64 probes work on any device
            probe = [torch.from_numpy(np.ones(1, dtype.np))] * op.arity
            op.check(probe, op.dtypes(dtype)[0], {k: v[0] for k, v in op.params.items()})
    except (TypeError, RuntimeError):
        return False
    return op.int_ok or dtype.is_floating_point


def make_inputs(op, shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = op.domain
    arrays = []
    for k, shape in enumerate(shapes):
        if op.name == "where" and k == 0:
            arrays.append(rng.random(shape) > 0.5)
            continue
        a = random_array(shape, dtype, lo, hi, rng)
        if op.name == "lerp" and k == 2:
            a = rng.uniform(0, 1, shape).astype(dtype.np)
        if op.name in DIVISION | {"addcdiv"} and k == op.arity - 1 and dtype is not torch.bool:
            a = np.where(a == 0, np.ones_like(a), a)
        if op.name.startswith("bitwise_") and "shift" in op.name and k == 1:
            a = np.abs(a) % 4
        arrays.append(a)
    return arrays


def expected(op, arrays, out_dtype):
    """The numpy reference: exact int64 arithmetic for integer results, float64 otherwise."""
    fn = ref_fn(op)
    exact_int = out_dtype.category != torch.float32.category and out_dtype is not torch.bool
    floating = out_dtype.is_floating_point
    ins = [a.astype(np.int64) if exact_int and a.dtype != np.bool_ else
           a if a.dtype == np.bool_ and not floating else a.astype(np.float64) for a in arrays]
    with np.errstate(all="ignore"):
        res = fn(*ins)
    res = np.asarray(res)
    if out_dtype is torch.bool:
        return res.astype(np.bool_)
    if exact_int:
        return res.astype(np.int64).astype(out_dtype.np)  # wraps like C for narrow ints
    return res


def result_dtype(op, dtype):
    return op.dtypes(dtype)[1]


ROWS = sorted(PUBLIC)


def _row_cases():
    """(name, dtype) for every row and dtype; a float64 case the row computes needs cl_khr_fp64 (where the
    device lacks it, the row must raise the documented error), one the row refuses runs everywhere."""
    for dtype in ALL_DTYPES:
        for name in ROWS:
            computes_float64 = dtype is torch.float64 and accepts(PUBLIC[name], dtype)
            yield pytest.param(name, dtype, marks=[needs_fp64] if computes_float64 else [],
                               id=f"{dtype.name}-{name}")


@pytest.mark.parametrize("name,dtype", _row_cases())
def test_row_against_numpy(name, dtype):
    op = PUBLIC[name]
    if not accepts(op, dtype):
        with pytest.raises((TypeError, RuntimeError)):  # inputs in host memory: the refusal is the row's own
            call(op, *[torch.from_numpy(np.ones(2, dtype.np))] * op.arity)
        return
    arrays = make_inputs(op, [(3, 5)] * op.arity, dtype)
    got = call(op, *[torch.tensor(a) for a in arrays])
    out_dtype = result_dtype(op, dtype)
    assert got.dtype is out_dtype, (got.dtype, out_dtype)
    assert_close(got, expected(op, arrays, out_dtype), out_dtype)


@pytest.mark.parametrize("name", ROWS)
@pytest.mark.parametrize("layout", LAYOUTS[1:])
def test_row_non_contiguous(name, layout):
    op = PUBLIC[name]
    dtype = torch.float32 if accepts(op, torch.float32) else torch.int32
    arrays = make_inputs(op, [(4, 6)] * op.arity, dtype, seed=1)
    cases = [layout_case(a, layout) for a in arrays]
    tensors = [c[0] for c in cases]
    assert any(not t.is_contiguous() for t in tensors)
    got = call(op, *tensors)
    assert_close(got, expected(op, [c[1] for c in cases], got.dtype), got.dtype)


BINARY = [n for n in ROWS if PUBLIC[n].arity == 2]


@pytest.mark.parametrize("name", ["add", "mul", "true_divide", "pow", "maximum", "eq", "logical_and", "atan2",
                                  "remainder", "bitwise_xor"])
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_broadcasting(name, shapes):
    op = PUBLIC[name]
    dtype = torch.float32 if accepts(op, torch.float32) else torch.int32
    arrays = make_inputs(op, list(shapes), dtype, seed=2)
    got = call(op, *[torch.tensor(a) for a in arrays])
    exp = expected(op, arrays, got.dtype)
    assert tuple(got.shape) == np.broadcast_shapes(*shapes)
    assert_close(got, exp, got.dtype)


@pytest.mark.parametrize("name", BINARY)
def test_every_binary_row_broadcasts(name):
    op = PUBLIC[name]
    dtype = PRECISE if accepts(op, PRECISE) else torch.int64
    arrays = make_inputs(op, [(2, 1, 4), (3, 1)], dtype, seed=3)
    got = call(op, *[torch.tensor(a) for a in arrays])
    assert_close(got, expected(op, arrays, got.dtype), got.dtype)


@pytest.mark.parametrize("name", ROWS)
def test_zero_dim_and_empty(name):
    op = PUBLIC[name]
    dtype = torch.float32 if accepts(op, torch.float32) else torch.int64
    zero_d = make_inputs(op, [()] * op.arity, dtype, seed=4)
    got = call(op, *[torch.tensor(a) for a in zero_d])
    assert got.shape == ()
    assert_close(got, expected(op, zero_d, got.dtype), got.dtype)
    empty = call(op, *[torch.tensor(a) for a in make_inputs(op, [(0, 3)] * op.arity, dtype)])
    assert empty.shape == (0, 3) and empty.numel() == 0


INPLACE = [n for n in ROWS if PUBLIC[n].inplace and PUBLIC[n].method]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_matches_function(name):
    op = PUBLIC[name]
    dtype = PRECISE if accepts(op, PRECISE) else torch.int64
    if op.dtypes is ew.COMPARE:
        dtype = PRECISE  # the in-place form writes 0/1 back into the input's dtype
    arrays = make_inputs(op, [(3, 4)] * op.arity, dtype, seed=5)
    x = torch.tensor(arrays[0])
    alias = x.view(12)
    before = x._version
    method = getattr(x, op.name + "_")
    ret = method(*[torch.tensor(a) for a in arrays[1:]])
    assert ret is x and x._version == before + 1
    exp = expected(op, arrays, result_dtype(op, dtype)).astype(dtype.np)
    assert_close(x, exp, dtype)
    assert_close(alias, exp.reshape(12), dtype)  # views see the write


@pytest.mark.parametrize("name", [n for n in ROWS if PUBLIC[n].method])
def test_method_and_out_forms(name):
    op = PUBLIC[name]
    dtype = torch.float32 if accepts(op, torch.float32) else torch.int32
    arrays = make_inputs(op, [(2, 3)] * op.arity, dtype, seed=6)
    ts = [torch.tensor(a) for a in arrays]
    by_fn = call(op, *ts)
    by_method = getattr(ts[0], op.name)(*ts[1:])
    assert_close(by_method, np_of(by_fn), by_fn.dtype)
    out = torch.empty(2, 3, dtype=by_fn.dtype)
    ret = call(op, *ts, out=out)
    assert ret is out
    assert_close(out, np_of(by_fn), by_fn.dtype)


# ---- operators ------------------------------------------------------------------------------
def test_python_operators_and_reflections():
    a_np = np.array([[1.5, -2.0, 3.0], [4.0, 5.5, -6.0]])
    b_np = np.array([2.0, -3.0, 0.5])
    a, b = torch.tensor(a_np, dtype=PRECISE), torch.tensor(b_np, dtype=PRECISE)
    assert_close(a + b, a_np + b_np)
    assert_close(a - b, a_np - b_np)
    assert_close(a * b, a_np * b_np)
    assert_close(a / b, a_np / b_np)
    assert_close(a // b, np.floor_divide(a_np, b_np))
    assert_close(a % b, np.remainder(a_np, b_np))
    assert_close(abs(a) ** b, np.abs(a_np) ** b_np)
    assert_close(2 - a, 2 - a_np)
    assert_close(2 / a, 2 / a_np)
    assert_close(2 ** a, 2 ** a_np)
    assert_close(3 % a, np.remainder(3, a_np))
    assert_close(-a, -a_np)
    assert_close(abs(a), np.abs(a_np))
    assert_close(a > b, a_np > b_np)
    assert_close(a <= 1.5, a_np <= 1.5)
    assert_close(a == b, a_np == b_np)
    assert_close(a != 4.0, a_np != 4.0)
    i, j = torch.tensor([5, 6, 12]), torch.tensor([3, 1, 2])
    assert_close(i & j, np.array([1, 0, 0]))
    assert_close(i | j, np.array([7, 7, 14]))
    assert_close(i ^ j, np.array([6, 7, 14]))
    assert_close(i << j, np.array([40, 12, 48]))
    assert_close(i >> 1, np.array([2, 3, 6]))
    assert_close(~i, np.array([-6, -7, -13]))
    assert_close(~(i > 5), np.array([True, False, False]))


def test_inplace_operators_mutate_storage():
    x = torch.arange(6.0).reshape(2, 3)
    view = x[1]
    ident = id(x)
    x += 1
    x *= torch.tensor([1.0, 2.0, 3.0])
    x -= 0.5
    x /= 2
    assert id(x) == ident
    exp = ((np.arange(6.0).reshape(2, 3) + 1) * [1, 2, 3] - 0.5) / 2
    assert_close(x, exp)
    assert_close(view, exp[1])
    arr = np.zeros(3, np.float32)
    n = torch.from_numpy(arr)
    n += 5
    assert_close(n, np.full(3, 5.0))
    np.testing.assert_array_equal(arr, 5.0)


@needs_fp64
def test_inplace_on_a_float64_numpy_array():
    """float64 memory from numpy (no allocation checked it): in-place ops compute where the device has
    cl_khr_fp64 and raise the documented error where it has not (not a compiler error about 'double')."""
    arr = np.zeros(3)
    n = torch.from_numpy(arr)
    assert n.dtype is torch.float64  # holding it needs no kernel
    n += 5
    n.mul_(torch.tensor([1.0, 2.0, 3.0], device="cpu"))  # from_numpy gives a 'cpu' tensor, whatever the default
    assert_close(n, [5.0, 10.0, 15.0])
    np.testing.assert_array_equal(arr, [5.0, 10.0, 15.0])


def test_kernels_on_unchecked_float64_memory_raise_the_documented_error():
    """codegen.build refuses a float64 kernel on a device without cl_khr_fp64 with the documented error:
    float64 memory that no allocation checked (from_numpy, an out= argument) would otherwise reach the
    compiler. A fresh backend over the same device, told it has no float64, pins it on every device."""
    from cltensor.device import Backend, _all_cl_devices, device as Device
    from cltensor.ops.creation import from_host
    backend = Backend(_all_cl_devices()[0])
    dev = object.__new__(Device)
    dev.type, dev.index, dev._backend = "cl", 0, backend
    backend.has_fp64 = True  # the upload needs no kernel, so any device can hold float64 bytes
    x64 = from_host(np.arange(3.0), torch.float64, dev)
    x32 = from_host(np.arange(3.0, dtype=np.float32), torch.float32, dev)
    backend.has_fp64 = False
    for write in (lambda: x64.add_(1), lambda: x64.fill_(2), lambda: x64.copy_(x32), lambda: x32.copy_(x64),
                  lambda: torch.add(x32, 1, out=x64), lambda: x64.uniform_(), lambda: x64.clamp_(0, 1)):
        with pytest.raises(RuntimeError, match=NO_FP64_ERROR):
            write()
    assert_close(x32 * 2, [0.0, 2.0, 4.0])  # float32 still computes there


def test_from_numpy_shares_memory_both_ways():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = torch.from_numpy(arr)
    arr[0, 0] = 100
    assert t[0, 0].item() == 100
    t.add_(1)
    assert arr[1, 2] == 6
    assert t.numpy() is not arr and np.shares_memory(t.numpy(), arr)
    col = torch.from_numpy(arr[:, 1])
    assert col.stride() == (3,)
    assert_close(col * 2, arr[:, 1] * 2)


# ---- dtypes and promotion ---------------------------------------------------------------------
PROMOTION_CASES = [
    (lambda: torch.tensor([1, 2]) * 2.5, torch.float32),
    (lambda: torch.tensor([1, 2], dtype=torch.int32) * 2.5, torch.float32),
    (lambda: torch.tensor([1, 2], dtype=torch.int32) + 2, torch.int32),
    (lambda: torch.tensor([1, 2], dtype=torch.uint8) + torch.tensor([1], dtype=torch.int8), torch.int16),
    (lambda: torch.tensor([1, 2], dtype=torch.int8) * torch.tensor(2.5, dtype=torch.float64), torch.float64),
    (lambda: torch.tensor([1.0], dtype=torch.float16) + torch.tensor(2.0), torch.float16),
    (lambda: torch.tensor([1.0], dtype=torch.float16) + torch.tensor([2.0]), torch.float32),
    (lambda: torch.tensor([True]) + 1, torch.int64),
    (lambda: torch.tensor([True]) + True, torch.bool),
    (lambda: torch.tensor([True]) * 1.5, torch.float32),
    (lambda: torch.tensor([1, 2]) / torch.tensor([2, 2]), torch.float32),
    (lambda: torch.tensor([1, 2], dtype=torch.int16).exp(), torch.float32),
    (lambda: torch.tensor([1, 2]) // 2, torch.int64),
    (lambda: torch.tensor([1, 2]) < 1.5, torch.bool),
    (lambda: torch.tensor(1), torch.int64),
    (lambda: torch.tensor(1.0), torch.float32),
    (lambda: torch.tensor([1, 2], dtype=torch.int32) + torch.tensor(5), torch.int32),
    (lambda: torch.tensor([1.0], dtype=torch.float64) + torch.tensor([1.0], dtype=torch.float32), torch.float64),
]


# a case whose result is float64 computes in float64: it needs cl_khr_fp64 (else the documented error)
@pytest.mark.parametrize("case", [pytest.param(i, marks=[needs_fp64] if c[1] is torch.float64 else [])
                                  for i, c in enumerate(PROMOTION_CASES)])
def test_type_promotion(case):
    fn, expected_dtype = PROMOTION_CASES[case]
    assert fn().dtype is expected_dtype


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_promotion_table_matches_pytorch():
    for a in ALL_DTYPES:
        for b in ALL_DTYPES:
            theirs = real_torch.promote_types(getattr(real_torch, a.name), getattr(real_torch, b.name))
            assert torch.promote_types(a, b).name == str(theirs).replace("torch.", ""), (a, b)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.parametrize("a", [pytest.param(d, marks=[needs_fp64] if d is torch.float64 else [], id=d.name)
                               for d in ALL_DTYPES])
def test_scalar_promotion_matches_pytorch(a):
    for scalar in (True, 2, 2.5):
        x = torch.ones(2, dtype=a)
        theirs = real_torch.result_type(real_torch.ones(2, dtype=getattr(real_torch, a.name)), scalar)
        assert (x + scalar if not isinstance(scalar, bool) or a is not torch.bool else x.logical_or(scalar)
                ).dtype.name == str(theirs).replace("torch.", "") or a is torch.bool


def test_float16_is_stored_as_half_and_rounded():
    x = torch.tensor([1.0, 2049.0, 1e-3], dtype=torch.float16)
    assert x.element_size() == 2
    y = x * 3
    assert y.dtype is torch.float16
    assert_close(y, (np.array([1.0, 2049.0, 1e-3], np.float16).astype(np.float32) * 3).astype(np.float16))


# ---- NaN, inf, special values ------------------------------------------------------------------
def test_nan_and_inf_propagate_like_pytorch():
    nan, inf = float("nan"), float("inf")
    x = torch.tensor([nan, 1.0, -inf, inf, -0.0])
    y = torch.tensor([0.0, nan, 1.0, nan, 0.0])
    assert_close(torch.maximum(x, y), np.array([nan, nan, 1.0, nan, 0.0]))
    assert_close(torch.minimum(x, y), np.array([nan, nan, -inf, nan, -0.0]))
    assert_close(torch.fmax(x, y), np.array([0.0, 1.0, 1.0, inf, 0.0]))
    assert_close(torch.relu(x), np.array([nan, 1.0, 0.0, inf, -0.0]))
    assert_close(torch.clamp(x, 0, 1), np.array([nan, 1.0, 0.0, 1.0, 0.0]))
    assert_close(torch.sign(x), np.array([0.0, 1.0, -1.0, 1.0, 0.0]))
    assert_close(torch.isnan(x), np.array([True, False, False, False, False]))
    assert_close(torch.isinf(x), np.array([False, False, True, True, False]))
    assert_close(torch.isfinite(x), np.array([False, True, False, False, True]))
    assert_close(torch.nan_to_num(x), np.nan_to_num(np.array([nan, 1.0, -inf, inf, 0.0], np.float32)))
    assert_close(torch.nan_to_num(x, nan=2.0, posinf=9.0, neginf=-9.0), np.array([2.0, 1.0, -9.0, 9.0, 0.0]))
    assert_close(x * 0, np.array([nan, 0.0, nan, nan, 0.0]))
    assert_close(torch.round(torch.tensor([0.5, 1.5, 2.5, -0.5])), np.array([0.0, 2.0, 2.0, -0.0]))
    assert math.copysign(1, torch.tensor(-0.0).neg().item()) == 1


def test_integer_semantics():
    a = torch.tensor([-7, 7, -7, 7])
    b = torch.tensor([2, -2, -2, 2])
    assert_close(a // b, np.floor_divide([-7, 7, -7, 7], [2, -2, -2, 2]))
    assert_close(torch.div(a, b, rounding_mode="trunc"), np.array([-3, -3, 3, 3]))
    assert_close(a % b, np.remainder([-7, 7, -7, 7], [2, -2, -2, 2]))
    assert_close(torch.fmod(a, b), np.fmod([-7, 7, -7, 7], [2, -2, -2, 2]))
    assert_close(torch.tensor([2, 3]) ** torch.tensor([10, 3]), np.array([1024, 27]))
    assert_close(torch.tensor([1, 2, 3], dtype=torch.uint8) + (-1), np.array([0, 1, 2], np.uint8))
    assert_close(torch.tensor([200], dtype=torch.uint8) + torch.tensor([100], dtype=torch.uint8),
                 np.array([44], np.uint8))
    assert_close(torch.bitwise_left_shift(torch.tensor([1], dtype=torch.int8), 9), np.array([0], np.int8))
    assert_close(torch.tensor([-8]) >> 70, np.array([-1]))


def test_isclose_allclose_style():
    a = torch.tensor([1.0, 2.0, float("nan"), float("inf")])
    b = torch.tensor([1.0 + 1e-9, 2.1, float("nan"), float("inf")])
    assert_close(torch.isclose(a, b), np.array([True, False, False, True]))
    assert_close(torch.isclose(a, b, equal_nan=True), np.array([True, False, True, True]))
    assert_close(torch.isclose(a, b, rtol=0.1), np.array([True, True, False, True]))
    assert_close(torch.isclose(torch.tensor([10, 11]), torch.tensor([10, 13]), atol=2, rtol=0),
                 np.array([True, True]))


def test_clamp_forms():
    x_np = np.linspace(-3, 3, 7)
    x = torch.tensor(x_np, dtype=PRECISE)
    assert_close(x.clamp(min=0), np.maximum(x_np, 0))
    assert_close(x.clamp(max=1), np.minimum(x_np, 1))
    assert_close(torch.clip(x, -1, 1), np.clip(x_np, -1, 1))
    lo, hi = torch.full((7,), -2.0, dtype=PRECISE), torch.tensor(np.linspace(0, 3, 7), dtype=PRECISE)
    assert_close(torch.clamp(x, lo, hi), np.minimum(np.maximum(x_np, -2), np.linspace(0, 3, 7)))
    y = x.clone()
    y.clamp_(-1, 1)
    assert_close(y, np.clip(x_np, -1, 1))
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        x.clamp()


def test_where_and_ternaries():
    c = torch.tensor([True, False, True])
    a, b = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([10, 20, 30])
    r = torch.where(c, a, b)
    assert r.dtype is torch.float32
    assert_close(r, np.array([1.0, 20.0, 3.0]))
    assert_close(torch.where(c, a, 0.0), np.array([1.0, 0.0, 3.0]))
    assert_close(a.where(c, -1.0), np.array([1.0, -1.0, 3.0]))
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        torch.where(a, a, a)
    assert [t.tolist() for t in torch.where(c)] == [[0, 2]]  # where(cond) is nonzero(cond, as_tuple=True)
    with pytest.raises(TypeError, match=r"where\(\): argument 'condition' \(position 1\) must be Tensor, not bool"):
        torch.where(True)
    assert_close(torch.lerp(a, a * 3, 0.5), np.array([2.0, 4.0, 6.0]))
    assert_close(torch.addcmul(a, a, a, value=2), np.array([3.0, 10.0, 21.0]))
    assert_close(torch.addcdiv(a, a, a, value=0.5), np.array([1.5, 2.5, 3.5]))


# ---- wrong input ----------------------------------------------------------------------------------
def test_errors_have_pytorch_types_and_messages():
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(2\) must match the size of tensor b \(3\)"):
        torch.ones(2) + torch.ones(3)
    x = torch.ones(2, dtype=torch.long)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        x += 2.5
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor is not supported"):
        -torch.tensor([True])
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors"):
        torch.tensor([True]) - torch.tensor([False])
    with pytest.raises((TypeError, RuntimeError)):
        torch.tensor([1.5]) & torch.tensor([1.5])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([1, 2]) // 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([1, 2]) % torch.tensor([1, 0])
    with pytest.raises(TypeError):
        torch.add(torch.ones(2), "a")
    with pytest.raises(TypeError, match="unexpected keyword argument 'alpah'"):
        torch.add(torch.ones(2), 1, alpah=2)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        torch.ones(3).add_(torch.ones(2, 3))
    with pytest.raises(RuntimeError, match="For integral input tensors, argument alpha"):
        torch.add(torch.ones(2, dtype=torch.int32), 1, alpha=0.5)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        torch.zeros(1).expand(3).add_(1)
    with pytest.raises(ValueError, match="rounding_mode"):
        torch.div(torch.ones(2), 2, rounding_mode="nearest")


def test_different_devices_raise():
    if torch.cl.device_count() == 0:
        pytest.skip("no OpenCL device")
    a = torch.ones(2, device="cpu")  # not the default device: it may be cl:0 itself (CLTENSOR_DEVICE)
    b = torch.ones(2, device="cl:0")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        a + b
