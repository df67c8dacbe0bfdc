"""Property-based tests against numpy (hypothesis): elementwise rows, reductions, matmul, indexing
and views over random shapes (0 and 1 extents, up to 4-D), broadcast pairs, strided views of a random
base (permutations, steps with offsets, expands), dtypes and values (NaN, inf, -0.0, integer extremes).

Profiles: 'cltensor-ci' (derandomized, so CI is reproducible; the example counts below) and
'cltensor-thorough' (10x the examples, random seeds), chosen by CLTENSOR_HYPOTHESIS=thorough.
Kernels are compiled per key, so each family draws from a bounded set of dtypes and layouts:
the row-by-row elementwise test uses contiguous operands, the layout test a few representative rows.
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import cltensor as torch
from cltensor.ops import elementwise as ew
from cltensor.ops.elementwise import OPS
from helpers import HAVE_TORCH, real_torch

# numpy warns about empty means and ddof; cltensor (as PyTorch) about std's degrees of freedom
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("cltensor-ci", deadline=None, derandomize=True, database=None, suppress_health_check=_QUIET)
settings.register_profile("cltensor-thorough", deadline=None, database=None, suppress_health_check=_QUIET)
THOROUGH = os.environ.get("CLTENSOR_HYPOTHESIS", "ci") == "thorough"
PROFILE = settings.get_profile("cltensor-thorough" if THOROUGH else "cltensor-ci")
# examples per test in CI: elementwise 3000 in all, reductions 2500, matmul 1500, indexing 2500, views 2500
EXAMPLES = {"elementwise_rows": 2000, "elementwise_layouts": 1000, "reductions": 2500, "matmul": 1500,
            "getitem": 1500, "setitem": 1000, "views": 2500}


def examples(family):
    return settings(PROFILE, max_examples=EXAMPLES[family] * (10 if THOROUGH else 1))


SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0], np.float32)
SIZES = st.sampled_from([0, 1, 1, 2, 2, 3, 4, 5])


def shapes(min_dims=0, max_dims=4):
    return st.lists(SIZES, min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def broadcast_shapes(draw, n, max_dims=4):
    """n shapes that broadcast together: suffixes of one shape with some extents set to 1."""
    full = draw(shapes(0, max_dims))
    out = []
    for _ in range(n):
        tail = full[draw(st.integers(0, len(full))):]
        ones = draw(st.lists(st.integers(0, 3), min_size=len(tail), max_size=len(tail)))
        out.append(tuple(1 if o == 0 else s for s, o in zip(tail, ones)))
    return out


def _values(rng, shape, dtype, domain=(-3.0, 3.0), special=False):
    """Random values of a numpy dtype: floats in the domain (with NaN/inf/-0.0... mixed in when
    `special`), integers small or at the extremes of the type, bools."""
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.floating):
        v = rng.uniform(*domain, shape).astype(dtype)
        if special:
            mask = rng.random(shape) < 0.25
            v[mask] = rng.choice(SPECIALS, int(mask.sum()))
        return v
    info = np.iinfo(dtype)
    v = rng.integers(max(info.min, -9), min(info.max, 9) + 1, shape).astype(dtype)
    if special:
        extremes = np.array([info.min, info.min + 1, info.max - 1, info.max, 0, 1], dtype)
        mask = rng.random(shape) < 0.25
        v[mask] = rng.choice(extremes, int(mask.sum()))
    return v


@st.composite
def laid_out(draw, values, shape=None, layouts=("contiguous", "strided")):
    """A cltensor tensor with `values` (expanded to `shape` where values has extent 1) in a random
    memory layout: a permuted, stepped and offset view into a larger base, and stride 0 for expands."""
    shape = values.shape if shape is None else tuple(shape)
    nd = values.ndim
    kind = draw(st.sampled_from(layouts)) if nd else "contiguous"
    if kind == "contiguous":
        t = torch.tensor(values)
    else:
        steps = draw(st.lists(st.sampled_from([1, 1, 2, 3]), min_size=nd, max_size=nd))
        starts = [draw(st.integers(0, s - 1)) for s in steps]
        perm = draw(st.permutations(range(nd)))
        big = np.full([n * s + o for n, s, o in zip(values.shape, steps, starts)], 77, values.dtype)
        window = tuple(slice(o, o + n * s, s) for n, s, o in zip(values.shape, steps, starts))
        big[window] = values
        base = torch.tensor(np.ascontiguousarray(big.transpose(perm)))
        t = base.permute(*np.argsort(perm).tolist())[window]
    return t.expand(*shape) if tuple(values.shape) != shape else t


def _assert_matches(got, expected, rtol=2e-5, atol=1e-6, what=""):
    """Same shape; NaN, +inf and -inf in the same places; finite values close (exact for ints/bools)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    if got.dtype.kind in "biu" and expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected.astype(got.dtype), err_msg=what)
        return
    g, e = got.astype(np.float64), expected.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(e), err_msg=f"{what}: NaN positions")
    np.testing.assert_array_equal(np.isposinf(g), np.isposinf(e), err_msg=f"{what}: +inf positions")
    np.testing.assert_array_equal(np.isneginf(g), np.isneginf(e), err_msg=f"{what}: -inf positions")
    finite = np.isfinite(g) & np.isfinite(e)
    np.testing.assert_allclose(g[finite], e[finite], rtol=rtol, atol=atol, err_msg=what)


# ==== elementwise ============================================================================================
INT_ONLY = {"bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift"}
FLOAT_ONLY = {"frac", "hypot", "lerp", "addcdiv"} | {n for n, op in OPS.items() if not op.int_ok}
# the identity used by copies, and the internal pieces of fused kernels (tested through their callers)
SKIP = {"_copy", "_layer_norm_apply", "_layer_norm_input_grad"} | {n for n in OPS if n.endswith("_backward")}
NO_SPECIALS = {"lerp"}  # numpy's a + w * (b - a) is not PyTorch's two-sided formula at infinities
DIVISIONS = {"floor_divide", "remainder", "fmod", "_div_trunc"}
BOOL_ROWS = ["logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
             "bitwise_not", "eq", "ne", "where", "maximum", "minimum"]
FLOAT_ROWS = sorted(n for n in OPS if n not in SKIP | INT_ONLY)
INT_ROWS = sorted(n for n in OPS if n not in SKIP | FLOAT_ONLY and n != "_nan_to_num")


def _shift_ref(left):
    def ref(a, b):
        bits = 8 * a.dtype.itemsize
        ok = (b >= 0) & (b < bits)
        safe = np.where(ok, b, 0).astype(a.dtype)
        shifted = np.left_shift(a, safe) if left else np.right_shift(a, safe)
        return np.where(ok, shifted, 0 if left else np.where(a < 0, -1, 0)).astype(a.dtype)
    return ref


REFS = {"bitwise_left_shift": _shift_ref(True), "bitwise_right_shift": _shift_ref(False),
        "_nan_to_num": lambda a: np.nan_to_num(a.astype(np.float32)),  # inf -> float32's max, the input's
        "_isclose": lambda a, b: np.isclose(a, b),
        "_div_trunc": lambda a, b: (np.trunc(a / b) if a.dtype.kind == "f" else _int_trunc_div(a, b))}


def _int_trunc_div(a, b):
    q = np.floor_divide(a, b)
    fix = (q < 0) & (q * b != a)
    return (q + fix).astype(np.result_type(a, b))


def _call(name, args):
    if name == "_nan_to_num":
        return ew.nan_to_num(*args)
    if name == "_isclose":
        return ew.isclose(*args)
    if name == "where":
        return ew.where(*args)
    return getattr(ew, name)(*args)


def _reference(name, arrays, out_kind):
    """The row's numpy reference, computed in float64 for floats; integer inputs of a float-valued row
    are converted to float32 first as PyTorch does (and numpy's reciprocal of an int is an int)."""
    ref = REFS.get(name) or OPS[name].ref
    if isinstance(ref, str):
        ref = np.vectorize(getattr(math, ref), otypes=[np.float64])
    if out_kind == "f" or any(a.dtype.kind == "f" for a in arrays):  # ints become float32 first, as in PyTorch
        arrays = [a if a.dtype == np.bool_ and name == "where" and k == 0 else
                  a.astype(np.float32).astype(np.float64) for k, a in enumerate(arrays)]
    with np.errstate(all="ignore"):
        return np.asarray(ref(*arrays))


def _operand_arrays(draw, name, dtype, shapes_, rng):
    op = OPS[name]
    special = draw(st.booleans()) and name not in NO_SPECIALS
    arrays = []
    for k, s in enumerate(shapes_):
        if name == "where" and k == 0:
            arrays.append(rng.random(s) < 0.5)
        elif name == "pow" and k == 1 and dtype != np.float32:
            arrays.append(rng.integers(0, 6, s).astype(dtype))  # PyTorch refuses negative integer powers
        elif name in ("bitwise_left_shift", "bitwise_right_shift") and k == 1:
            arrays.append(rng.integers(-2, 8 * np.dtype(dtype).itemsize + 2, s).astype(dtype))
        else:
            arrays.append(_values(rng, s, dtype, op.domain, special))
    return arrays


@examples("elementwise_rows")
@given(st.data())
def test_every_elementwise_row_matches_numpy(data):
    """Every row, for float32, int32/int64 (with extremes) and bool operands, contiguous, with
    broadcasting and Python-scalar operands; integer division by zero raises as in PyTorch."""
    draw = data.draw
    family = draw(st.sampled_from(["float", "float", "int", "bool"]))
    if family == "float":
        name, dtype = draw(st.sampled_from(FLOAT_ROWS)), np.float32
    elif family == "int":
        name, dtype = draw(st.sampled_from(INT_ROWS)), draw(st.sampled_from([np.int32, np.int64]))
    else:
        name, dtype = draw(st.sampled_from(BOOL_ROWS)), np.bool_
    op = OPS[name]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shapes_ = draw(broadcast_shapes(op.arity))
    arrays = _operand_arrays(draw, name, dtype, shapes_, rng)
    args = [torch.tensor(a) for a in arrays]
    if op.arity == 2 and dtype != np.bool_ and name not in INT_ONLY and draw(st.booleans()):
        scalar = arrays[1].reshape(-1)[0].item() if arrays[1].size else 2  # a Python number operand
        args[1], arrays[1] = scalar, np.asarray(scalar, dtype)
    # an empty result divides nothing: no ZeroDivisionError there (PyTorch's behaviour too)
    zero_divisor = (name in DIVISIONS and dtype != np.float32 and (np.asarray(arrays[1]) == 0).any()
                    and np.broadcast(*arrays).size > 0)
    if zero_divisor:
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            _call(name, args)
        return
    try:
        got = _call(name, args)
    except NotImplementedError:  # a dtype the row refuses (bitwise on float...): PyTorch refuses it too
        assert name in INT_ONLY | FLOAT_ONLY or dtype == np.bool_
        return
    out = got.cpu().numpy()
    expected = _reference(name, arrays, out.dtype.kind)
    tol = 2e-5 if name in ("add", "sub", "mul", "true_divide") else 1e-4
    scale = max([float(np.nanmax(np.abs(a[np.isfinite(a)]), initial=0)) for a in arrays if a.dtype.kind == "f"],
                default=1.0)
    _assert_matches(out, expected.astype(out.dtype) if out.dtype.kind != "f" else expected, rtol=tol,
                    atol=1e-6 * max(scale, 1.0), what=f"{name} {dtype.__name__} {[a.shape for a in arrays]}")


LAYOUT_ROWS = ["add", "mul", "maximum", "exp", "where", "lerp", "floor_divide", "eq", "_clamp"]


@examples("elementwise_layouts")
@given(st.data())
def test_elementwise_over_random_views_matches_numpy(data):
    """A few representative rows over operands that are permuted, stepped, offset and expanded views,
    broadcast against each other up to 4-D."""
    draw = data.draw
    name = draw(st.sampled_from(LAYOUT_ROWS))
    dtype = np.int32 if name == "floor_divide" else np.float32
    op = OPS[name]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shapes_ = draw(broadcast_shapes(op.arity))
    arrays, args = [], []
    for k, s in enumerate(shapes_):
        squeezed = tuple(1 if (n > 1 and draw(st.integers(0, 4)) == 0) else n for n in s)  # expanded dims
        if name == "where" and k == 0:
            v = rng.random(squeezed) < 0.5
        elif name == "floor_divide" and k == 1:
            v = rng.choice(np.array([-7, -3, -1, 1, 2, 5], np.int32), squeezed)
        else:
            v = _values(rng, squeezed, dtype, op.domain, special=draw(st.booleans()) and name != "lerp")
        args.append(draw(laid_out(v, s)))
        arrays.append(np.broadcast_to(v, s))
    got = _call(name, args).cpu().numpy()
    _assert_matches(got, _reference(name, arrays, got.dtype.kind).astype(got.dtype), rtol=1e-5,
                    atol=1e-5, what=f"{name} {[a.shape for a in arrays]} strides {[a.stride() for a in args]}")


# ==== reductions ===============================================================================================
def _np_logsumexp(a, axis, keepdims):
    """log(sum(exp(a))) with PyTorch's answers at the edges: -inf for an empty or all -inf set."""
    m = np.max(a, axis=axis, keepdims=True, initial=-np.inf)
    safe = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(a - safe), axis=axis, keepdims=True)) + safe
    return out if keepdims else np.squeeze(out, axis=axis)


REDUCTIONS = {  # name: (cltensor call, numpy reference, accepts a tuple of dims, integer inputs allowed)
    "sum": (lambda t, d, k: t.sum(d, keepdim=k), lambda a, d, k: a.sum(d, keepdims=k), True, True),
    "mean": (lambda t, d, k: t.mean(d, keepdim=k), lambda a, d, k: a.mean(d, keepdims=k), True, False),
    "prod": (lambda t, d, k: t.prod(d, keepdim=k), lambda a, d, k: a.prod(d, keepdims=k), False, True),
    "amax": (lambda t, d, k: t.amax(d, keepdim=k), lambda a, d, k: a.max(d, keepdims=k), True, True),
    "max": (lambda t, d, k: t.max(d, keepdim=k).values, lambda a, d, k: a.max(d, keepdims=k), False, True),
    "min": (lambda t, d, k: t.min(d, keepdim=k).values, lambda a, d, k: a.min(d, keepdims=k), False, True),
    "argmax": (lambda t, d, k: t.argmax(d, keepdim=k), lambda a, d, k: _np_arg(np.argmax, a, d, k), False, True),
    "argmin": (lambda t, d, k: t.argmin(d, keepdim=k), lambda a, d, k: _np_arg(np.argmin, a, d, k), False, True),
    "var": (lambda t, d, k: t.var(d, keepdim=k), lambda a, d, k: a.var(d, ddof=1, keepdims=k), True, False),
    "std": (lambda t, d, k: t.std(d, keepdim=k), lambda a, d, k: a.std(d, ddof=1, keepdims=k), True, False),
    "logsumexp": (lambda t, d, k: t.logsumexp(d, keepdim=k), _np_logsumexp, True, False),
}


def _np_arg(fn, a, d, k):
    if d is None:
        r = fn(a)
        return np.reshape(r, [1] * a.ndim) if k else np.asarray(r)
    return fn(a, axis=d, keepdims=k)


FULL = {  # the reduction over every element, as PyTorch spells it
    "sum": lambda t: t.sum(), "mean": lambda t: t.mean(), "prod": lambda t: t.prod(), "amax": lambda t: t.amax(),
    "max": lambda t: t.max(), "min": lambda t: t.min(), "argmax": lambda t: t.argmax(), "argmin": lambda t: t.argmin(),
    "var": lambda t: t.var(), "std": lambda t: t.std(), "logsumexp": lambda t: t.logsumexp(tuple(range(t.dim()))),
}


@examples("reductions")
@given(st.data())
def test_reductions_match_numpy(data):
    """sum/mean/prod/amax/max/min/argmax/argmin/var/std/logsumexp over random dims (one, several,
    negative, all) with keepdim, of strided/expanded views with 0 and 1 extents, NaN and inf."""
    draw = data.draw
    name = draw(st.sampled_from(sorted(REDUCTIONS)))
    call, ref, tuples, ints = REDUCTIONS[name]
    dtype = draw(st.sampled_from([np.float32, np.float32, np.int32] if ints else [np.float32]))
    shape = draw(shapes(0, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    domain = (-1.5, 1.5) if name == "prod" else (-3.0, 3.0)
    squeezed = tuple(1 if (n > 1 and draw(st.integers(0, 5)) == 0) else n for n in shape)
    values = _values(rng, squeezed, dtype, domain, special=dtype == np.float32 and draw(st.booleans()))
    t, a = draw(laid_out(values, shape)), np.broadcast_to(values, shape)
    nd = len(shape)
    dim, keepdim = None, False
    if nd and draw(st.integers(0, 3)):
        dims = draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd if tuples else 1,
                             unique_by=lambda d: d % nd))
        dim, keepdim = (tuple(dims) if len(dims) > 1 else dims[0]), draw(st.booleans())
    axis = tuple(d % nd for d in dim) if isinstance(dim, tuple) else (dim % nd if dim is not None else None)
    reduce = (lambda x: call(x, dim, keepdim)) if dim is not None else FULL[name]
    try:
        with np.errstate(all="ignore"):
            expected = np.asarray(ref(a.astype(np.float64) if dtype == np.float32 else a, axis, keepdim))
    except ValueError:  # an empty reduction without identity (max, argmax...): PyTorch raises too
        with pytest.raises((RuntimeError, IndexError)):
            reduce(t)
        return
    got = reduce(t).cpu().numpy()
    per_output = max(1, a.size // max(1, expected.size))
    scale = float(np.abs(a[np.isfinite(a)]).max(initial=1.0)) if dtype == np.float32 else 1.0
    atol = 1e-5 * per_output * scale * (scale if name == "var" else 1)
    _assert_matches(got, expected, rtol=1e-4, atol=atol,
                    what=f"{name} dim={dim} keepdim={keepdim} of {shape} strides {t.stride()}")


# ==== matmul ===================================================================================================
@st.composite
def matmul_shapes(draw):
    """Shapes for a @ b: ranks 1-4, sizes 0-5, batch dims that broadcast (extents of 1), and now and
    then batch or inner sizes that do not match."""
    ra, rb = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    m, k, n = draw(SIZES), draw(SIZES), draw(SIZES)
    batch = draw(shapes(2, 2))

    def batch_of(rank):
        dims = batch[4 - rank:] if rank > 2 else ()
        return tuple(1 if draw(st.integers(0, 3)) == 0 else (s if draw(st.integers(0, 9)) else draw(SIZES))
                     for s in dims)
    k2 = k if draw(st.integers(0, 9)) else draw(SIZES)
    sa = (k,) if ra == 1 else batch_of(ra) + (m, k)
    sb = (k2,) if rb == 1 else batch_of(rb) + (k2, n)
    return sa, sb


@examples("matmul")
@given(st.data())
def test_matmul_matches_numpy(data):
    draw = data.draw
    sa, sb = draw(matmul_shapes())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a, b = _values(rng, sa, np.float32), _values(rng, sb, np.float32)
    ta, tb = draw(laid_out(a)), draw(laid_out(b))
    try:
        expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    except ValueError:  # shapes numpy cannot multiply: PyTorch raises RuntimeError with the sizes
        with pytest.raises(RuntimeError):
            torch.matmul(ta, tb)
        return
    got = torch.matmul(ta, tb).cpu().numpy()
    k = sa[-1]
    _assert_matches(got, expected, rtol=1e-4, atol=1e-5 * max(k, 1) * 9, what=f"{sa} @ {sb}")


# ==== indexing ================================================================================================
@st.composite
def index_items(draw, shape, allow_duplicates=True):
    """A tuple index over shape: ints, slices, None, one Ellipsis, integer arrays (broadcasting
    together) and boolean masks; returns (numpy index, cltensor index)."""
    np_items, t_items, d, used_ellipsis = [], [], 0, False
    adv_shape = draw(st.sampled_from([(), (2,), (3,), (2, 1), (1, 3)]))
    while d < len(shape):
        size = shape[d]
        kind = draw(st.sampled_from(["int", "slice", "slice", "none", "ellipsis", "array", "mask"]
                                    + ([] if used_ellipsis else ["stop"])))  # after '...', every dim is indexed
        if kind == "stop":
            break
        if kind == "int" and size:
            i = draw(st.integers(-size, size - 1))
            np_items.append(i), t_items.append(i)
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-size - 1, size + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-size - 1, size + 1)))
            step = draw(st.one_of(st.none(), st.integers(1, 3)))
            np_items.append(slice(start, stop, step)), t_items.append(slice(start, stop, step))
        elif kind == "none":
            np_items.append(None), t_items.append(None)
            continue
        elif kind == "ellipsis" and not used_ellipsis:
            used_ellipsis = True
            np_items.append(Ellipsis), t_items.append(Ellipsis)
            d = len(shape) - draw(st.integers(0, len(shape) - d))  # the dims it stands for
            continue
        elif kind == "array" and size and adv_shape:
            n = int(np.prod(adv_shape))
            if allow_duplicates:
                flat = draw(st.lists(st.integers(-size, size - 1), min_size=n, max_size=n))
            else:
                flat = draw(st.lists(st.integers(0, size - 1), min_size=n, max_size=n, unique=True)) if n <= size \
                    else None
                if flat is None:
                    break
            arr = np.array(flat, np.int64).reshape(adv_shape)
            np_items.append(arr)
            t_items.append(torch.tensor(arr) if draw(st.booleans()) else arr.tolist())
        elif kind == "mask" and not any(isinstance(i, np.ndarray) for i in np_items):
            mask = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)), bool)
            np_items.append(mask), t_items.append(torch.tensor(mask))
        else:
            np_items.append(slice(None)), t_items.append(slice(None))
        d += 1
    return tuple(np_items), tuple(t_items)


def torch_semantics(items, ndim):
    """(basic, advanced) numpy indices that together index as PyTorch does. PyTorch expands '...'
    and applies integers (with slices and None) first, as selections, then the arrays and masks on
    the dims left; numpy treats an integer next to an array as one more advanced index and '...' as
    a separator even where it stands for no dim (x[0, :, [1, 2]] has shape (2, n) in numpy, (n, 2)
    in PyTorch; x[:, [0, 1], ..., [0, 1]] of a 3-d x: (2, n) in numpy, (n, 2) in PyTorch)."""
    items = list(items)
    if any(i is Ellipsis for i in items):
        at = next(k for k, i in enumerate(items) if i is Ellipsis)
        used = sum(1 for i in items if i is not None and i is not Ellipsis)
        items[at:at + 1] = [slice(None)] * (ndim - used)
    basic = tuple(i if i is None or isinstance(i, (int, slice)) else slice(None) for i in items)
    advanced = tuple(i if isinstance(i, np.ndarray) else slice(None) for i in items if not isinstance(i, int))
    return basic, (advanced if any(isinstance(i, np.ndarray) for i in advanced) else None)


def _index_numpy(a, items):
    basic, advanced = torch_semantics(items, a.ndim)
    view = a[basic]
    return view if advanced is None else view[advanced]


def _pytorch_refuses(a, t_index) -> bool:
    """Whether PyTorch raises IndexError for this index where numpy takes it (the spec is PyTorch's:
    an empty boolean mask after a slice of an empty dim, say)."""
    if not HAVE_TORCH:
        return False
    convert = lambda i: real_torch.from_numpy(i.cpu().numpy()) if isinstance(i, torch.Tensor) else i
    index = tuple(convert(i) for i in t_index) if isinstance(t_index, tuple) else convert(t_index)
    try:
        real_torch.from_numpy(a.copy())[index] = 1.0
    except IndexError:
        return True
    return False


@examples("getitem")
@given(st.data())
def test_getitem_matches_numpy(data):
    draw = data.draw
    shape = draw(shapes(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = _values(rng, shape, np.float32)
    t = draw(laid_out(a))
    np_index, t_index = draw(index_items(shape))
    try:
        expected = _index_numpy(a, np_index)
    except IndexError:
        with pytest.raises(IndexError):
            t[t_index]
        return
    got = t[t_index]
    _assert_matches(got.cpu().numpy(), expected, rtol=0, atol=0, what=f"{shape}[{np_index}]")


@examples("setitem")
@given(st.data())
def test_setitem_matches_numpy(data):
    draw = data.draw
    shape = draw(shapes(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = _values(rng, shape, np.float32)
    t = torch.tensor(a)
    np_index, t_index = draw(index_items(shape, allow_duplicates=False))
    try:
        target = _index_numpy(a, np_index)
    except IndexError:
        with pytest.raises(IndexError):
            t[t_index] = 1.0
        return
    if _pytorch_refuses(a, t_index):
        with pytest.raises(IndexError):
            t[t_index] = 1.0
        return
    if draw(st.booleans()) or target.ndim == 0:
        value = float(rng.integers(-5, 5))
        t_value = value
    else:
        vshape = target.shape[draw(st.integers(0, target.ndim)):]  # a broadcastable tail
        value = _values(rng, vshape, np.float32)
        t_value = torch.tensor(value)
    basic, advanced = torch_semantics(np_index, a.ndim)
    if advanced is None:
        a[basic] = value
    else:
        a[basic][advanced] = value  # a[basic] is a view: the assignment reaches a
    t[t_index] = t_value
    _assert_matches(t.cpu().numpy(), a, rtol=0, atol=0, what=f"{shape}[{np_index}] = {np.shape(value)}")


# ==== views =====================================================================================================
@st.composite
def new_shape(draw, n):
    """A shape of n elements in 1-4 dims, sometimes with a -1 to infer."""
    if n == 0:
        dims = draw(st.lists(st.sampled_from([0, 1, 2, 3]), min_size=1, max_size=4))
        return tuple(dims) if 0 in dims else tuple(dims) + (0,)
    dims, rest = [], n
    for _ in range(draw(st.integers(0, 3))):
        d = draw(st.sampled_from([d for d in range(1, min(rest, 6) + 1) if rest % d == 0]))
        dims.append(d)
        rest //= d
    dims = list(draw(st.permutations(dims + [rest])))
    if draw(st.integers(0, 3)) == 0:
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


@st.composite
def view_chain(draw, t, a):
    """Apply 1-5 random view ops to (cltensor tensor, numpy view of the same values). Returns both,
    whether the result may be written through (no stride-0 dims, not a copy) and the ops."""
    writable, ops = True, []
    for _ in range(draw(st.integers(1, 5))):
        nd = a.ndim
        kind = draw(st.sampled_from(["permute", "transpose", "slice", "select", "unsqueeze", "squeeze", "expand",
                                     "view", "reshape", "flatten", "narrow", "diagonal", "T"]))
        if kind == "permute" and nd:
            perm = draw(st.permutations(range(nd)))
            t, a = t.permute(*perm), a.transpose(perm)
        elif kind == "transpose" and nd:
            i, j = draw(st.integers(-nd, nd - 1)), draw(st.integers(-nd, nd - 1))
            t, a = t.transpose(i, j), np.swapaxes(a, i, j)
        elif kind == "slice" and nd:
            window = tuple(slice(draw(st.integers(0, n)), None, draw(st.integers(1, 3))) for n in a.shape)
            t, a = t[window], a[window]
        elif kind in ("select", "narrow") and nd:
            d = draw(st.integers(0, nd - 1))
            if not a.shape[d]:
                continue
            if kind == "select":
                i = draw(st.integers(-a.shape[d], a.shape[d] - 1))
                t, a = t.select(d, i), a[(slice(None),) * d + (i,)]  # (np.take would copy)
            else:
                start = draw(st.integers(0, a.shape[d]))
                length = draw(st.integers(0, a.shape[d] - start))
                t, a = t.narrow(d, start, length), a[(slice(None),) * d + (slice(start, start + length),)]
        elif kind == "unsqueeze":
            d = draw(st.integers(-nd - 1, nd))
            t, a = t.unsqueeze(d), np.expand_dims(a, d)
        elif kind == "squeeze" and nd:
            d = draw(st.integers(0, nd - 1))
            t, a = t.squeeze(d), (np.squeeze(a, d) if a.shape[d] == 1 else a)
        elif kind == "expand" and 1 in a.shape:
            shape = tuple(draw(st.integers(1, 3)) if n == 1 else n for n in a.shape)
            writable = writable and shape == a.shape
            t, a = t.expand(*shape), np.broadcast_to(a, shape)
        elif kind in ("view", "reshape"):
            shape = draw(new_shape(a.size))
            try:
                a_new = np.reshape(a, shape, copy=False)
            except ValueError:  # numpy would need a copy: view must refuse (naming reshape), reshape copies
                if kind == "view":
                    with pytest.raises(RuntimeError, match="reshape"):
                        t.view(*shape)
                    continue
                a_new, writable = np.reshape(a, shape), False
            try:
                t_new = t.view(*shape) if kind == "view" else t.reshape(*shape)
            except RuntimeError as err:
                raise AssertionError(f"{kind}{shape} of a {tuple(t.shape)} tensor with strides {t.stride()} after "
                                     f"{ops} failed ({err}); numpy views it without a copy") from None
            t, a = t_new, a_new
        elif kind == "flatten":
            start = draw(st.integers(0, max(nd - 1, 0)))
            end = draw(st.integers(start, max(nd - 1, 0)))
            shape = a.shape[:start] + (int(np.prod(a.shape[start:end + 1])),) + a.shape[end + 1:]
            try:
                a_new = np.reshape(a, shape, copy=False)
            except ValueError:
                a_new, writable = np.reshape(a, shape), False
            t, a = t.flatten(start, end), a_new
        elif kind == "diagonal" and nd >= 2:
            off = draw(st.integers(-2, 2))
            t, a = t.diagonal(off, 0, 1), np.diagonal(a, off, 0, 1)
        elif kind == "T" and nd <= 2:
            t, a = t.T, a.T
        else:
            continue
        ops.append(kind)
    return t, a, writable, ops


@examples("views")
@given(st.data())
def test_view_chains_match_numpy_views(data):
    """Random chains of view ops: the same values as numpy's views, memory shared with the base
    (a write through the view shows in the base, as in numpy), view refused exactly where numpy
    would have to copy."""
    draw = data.draw
    shape = draw(shapes(0, 4))
    base_np = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    base = torch.tensor(base_np.copy())
    t, a, writable, ops = draw(view_chain(base, base_np.view()))
    assert tuple(t.shape) == a.shape, ops
    _assert_matches(t.cpu().numpy(), a, rtol=0, atol=0, what=str(ops))
    if writable and a.flags.writeable and np.shares_memory(a, base_np) and t._storage is base._storage:
        t.mul_(-1).sub_(0.5)
        a *= -1
        a -= 0.5
        _assert_matches(base.cpu().numpy(), base_np, rtol=0, atol=0, what=f"write through {ops}")


# ==== what the properties found, pinned down ======================================================================
@pytest.mark.parametrize("b_layout", ["stepped", "transposed", "empty-k"])
def test_batched_matmul_with_one_broadcast_matrix_that_needs_a_copy(b_layout):
    """A batch folded into one GEMM (b the same matrix for every batch entry) with a b laid out so that
    the kernel wants a copy: the copy used to be laid out for the unfolded batch (IndexError)."""
    rng = np.random.default_rng(0)
    if b_layout == "empty-k":
        a, b = np.zeros((2, 1, 0), np.float32), np.zeros((1, 0, 2), np.float32)
        ta, tb = torch.tensor(a), torch.zeros(20).as_strided((1, 0, 2), (2, 2, 6), 4)
    else:
        a = _values(rng, (2, 3, 4), np.float32)
        big = _values(rng, (1, 4, 15) if b_layout == "stepped" else (1, 5, 12), np.float32)
        b = big[..., ::3] if b_layout == "stepped" else big[:, :, ::3].transpose(0, 2, 1)
        ta = torch.tensor(a)
        tb = torch.tensor(big)[..., ::3] if b_layout == "stepped" else torch.tensor(big)[:, :, ::3].transpose(1, 2)
    _assert_matches(torch.matmul(ta, tb).cpu().numpy(), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


def test_transpose_properties_of_a_0d_tensor():
    t = torch.tensor(2.5)
    assert t.T.item() == 2.5 and t.permute(()).item() == 2.5 and t.t().item() == 2.5
    with pytest.raises(TypeError, match="permute"):
        t.permute()
