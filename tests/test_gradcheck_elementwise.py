"""Finite-difference checks (float64) of every differentiable row of the elementwise op table,
over broadcast pairs, non-contiguous inputs (transposed, stepped, expanded), Python-scalar
operands and in-place forms, and of every view's backward (first and second order).
"""
from __future__ import annotations

import numpy as np
import pytest

import cltensor as torch
from cltensor.autograd import gradcheck, gradgradcheck
from cltensor.ops import elementwise as ew
from helpers import needs_fp64

# finite differences need float64: each gradient check is marked needs_fp64 (where the device lacks it,
# the check must raise the documented error); the coverage check below runs on every device
f64 = torch.float64

ROWS = {name: op for name, op in ew.OPS.items() if op.vjp is not None}
UNARY = sorted(n for n, op in ROWS.items() if op.arity == 1)
# floor_divide has no derivative in PyTorch (backward raises): tested in tests/test_reliability.py
NO_DERIVATIVE = {"floor_divide"}
BINARY = sorted(n for n, op in ROWS.items() if op.arity == 2 and n not in NO_DERIVATIVE)
TERNARY = sorted(n for n, op in ROWS.items() if op.arity == 3)

# Inputs kept away from the points where a row is not differentiable (finite differences would
# straddle a jump there): integers for rounding, 0 for abs/relu/sign, divisors near 0 for remainder.
STEP_AT_INTEGERS = {"floor", "ceil", "round", "trunc", "frac"}
KINK_AT_ZERO = {"abs", "relu", "sign", "copysign", "hypot", "atan2"}
QUOTIENT_STEPS = {"remainder", "fmod", "floor_divide", "_div_trunc"}


def values(name, shape, seed, position=0):
    rng = np.random.default_rng(seed)
    lo, hi = ROWS[name].domain
    x = rng.uniform(lo, hi, shape)
    if name in STEP_AT_INTEGERS:
        x = np.floor(x) + rng.uniform(0.2, 0.8, shape)
    if name in KINK_AT_ZERO or (name in QUOTIENT_STEPS and position == 1):
        x = np.sign(x + (x == 0)) * rng.uniform(0.5, 2.0, shape)
    return x


def leaf(array, layout="contiguous"):
    """A float64 leaf with array's values in the given memory layout."""
    array = np.asarray(array, dtype=np.float64)
    if layout == "transposed" and array.ndim >= 2:
        t = torch.tensor(np.ascontiguousarray(array.T), dtype=f64).T
    elif layout == "stepped" and array.ndim >= 1:
        wide = np.repeat(array[..., None], 2, axis=-1).reshape(*array.shape[:-1], array.shape[-1] * 2)
        t = torch.tensor(wide, dtype=f64)[..., ::2]
    else:
        t = torch.tensor(array, dtype=f64)
    t = t.detach().requires_grad_()
    assert layout == "contiguous" or array.ndim == 0 or not t.is_contiguous()
    return t


def function(name):
    return getattr(ew, name)


# ---- unary rows ---------------------------------------------------------------------------------
@needs_fp64
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "stepped", "expanded"])
@pytest.mark.parametrize("name", UNARY)
def test_unary_row(name, layout):
    fn = function(name)
    if layout == "expanded":  # the leaf is a row, broadcast to (3, 4) inside the function
        x = leaf(values(name, (1, 4), 1))
        assert gradcheck(lambda t: fn(t.expand(3, 4)), (x,))
        return
    x = leaf(values(name, (3, 4), 1), layout)
    assert gradcheck(fn, (x,))


INPLACE_UNARY = [n for n in UNARY if ROWS[n].inplace and ROWS[n].method]


@needs_fp64
@pytest.mark.parametrize("name", INPLACE_UNARY)
def test_unary_row_in_place(name):
    x = leaf(values(name, (2, 3), 2))

    def fn(t):
        out = t * 1.0
        return getattr(out, name + "_")()
    assert gradcheck(fn, (x,))


# ---- binary rows ------------------------------------------------------------------------------------
BINARY_CASES = [
    ("broadcast_row", (2, 3), (3,), "contiguous"),
    ("broadcast_outer", (4, 1), (1, 5), "contiguous"),
    ("transposed", (3, 4), (3, 4), "transposed"),
    ("stepped", (2, 4), (2, 4), "stepped"),
]


def binary_inputs(name, sa, sb, layout):
    return leaf(values(name, sa, 3, 0), layout), leaf(values(name, sb, 4, 1), layout)


@needs_fp64
@pytest.mark.parametrize("case", BINARY_CASES, ids=[c[0] for c in BINARY_CASES])
@pytest.mark.parametrize("name", BINARY)
def test_binary_row(name, case):
    _, sa, sb, layout = case
    a, b = binary_inputs(name, sa, sb, layout)
    assert gradcheck(function(name), (a, b))


@needs_fp64
@pytest.mark.parametrize("name", BINARY)
def test_binary_row_expanded_operands(name):
    a = leaf(values(name, (3, 1), 5, 0))
    b = leaf(values(name, (1, 4), 6, 1))
    fn = function(name)
    # both operands are stride-0 views inside the function; the gradient must sum over the copies
    assert gradcheck(lambda x, y: fn(x.expand(3, 4), y.expand(3, 4)), (a, b))


# number-first forms exist in PyTorch only through a reflected operator (2 - t, 2 ** t, 2 % t...)
SCALAR_CASES = [(name, "tensor_scalar") for name in BINARY] + [
    (name, "scalar_tensor") for name in BINARY if ROWS[name].operators[1:2]]


@needs_fp64
@pytest.mark.parametrize("name,side", SCALAR_CASES)
def test_binary_row_with_python_scalar(name, side):
    fn = function(name)
    scalar = 1.7 if name not in ("pow",) else 1.3
    if side == "tensor_scalar":
        x = leaf(values(name, (2, 3), 7, 0))
        assert gradcheck(lambda t: fn(t, scalar), (x,))
    else:
        x = leaf(values(name, (2, 3), 8, 1))
        s = scalar if name not in QUOTIENT_STEPS else 2.35
        assert gradcheck(lambda t: fn(s, t), (x,))


@needs_fp64
def test_binary_params_alpha_and_tensor_exponent():
    a, b = leaf(values("add", (2, 3), 9)), leaf(values("add", (3,), 10))
    assert gradcheck(lambda x, y: torch.add(x, y, alpha=2.5), (a, b))
    assert gradcheck(lambda x, y: torch.sub(x, y, alpha=-0.5), (a, b))
    base = leaf(values("pow", (2, 3), 11))
    assert gradcheck(lambda x, y: x ** y, (base, leaf(values("pow", (2, 3), 12))))
    assert gradcheck(lambda y: 2.0 ** y, (leaf(values("pow", (3,), 13)),))


# ---- ternary rows --------------------------------------------------------------------------------------
def ternary_args(name, layout):
    shapes = [(2, 3), (3,), (2, 1)]
    if name == "where":
        cond = torch.tensor(np.array([[True, False, True], [False, False, True]]))
        return (cond, leaf(values(name, (2, 3), 14), layout), leaf(values(name, (3,), 15)))
    if name == "_clamp":
        rng = np.random.default_rng(16)
        return (leaf(values(name, (2, 3), 17), layout), leaf(rng.uniform(-2.5, -0.5, (3,))),
                leaf(rng.uniform(0.5, 2.5, (2, 1))))
    if name in ("_clamp_min", "_clamp_max"):
        raise AssertionError("binary")
    return tuple(leaf(values(name, s, 18 + i), layout if i == 0 else "contiguous") for i, s in enumerate(shapes))


@needs_fp64
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("name", TERNARY)
def test_ternary_row(name, layout):
    args = ternary_args(name, layout)
    assert gradcheck(function(name), args)


@needs_fp64
def test_ternary_params_value():
    a, b, c = (leaf(values("addcdiv", s, 20 + i)) for i, s in enumerate([(2, 3), (3,), (2, 1)]))
    assert gradcheck(lambda x, y, z: torch.addcmul(x, y, z, value=-1.5), (a, b, c))
    assert gradcheck(lambda x, y, z: torch.addcdiv(x, y, z, value=0.75), (a, b, c))
    assert gradcheck(lambda x: torch.clamp(x, min=-0.5), (leaf(values("_clamp_min", (2, 3), 23)),))
    assert gradcheck(lambda x: x.clamp(max=0.5), (leaf(values("_clamp_max", (2, 3), 24)),))


def test_every_differentiable_row_is_covered():
    covered = set(UNARY) | set(BINARY) | set(TERNARY) | NO_DERIVATIVE
    assert covered == set(ROWS) and len(covered) > 50


# ---- views -----------------------------------------------------------------------------------------------
VIEWS = [
    ("view", lambda x: x.view(4, 6)),
    ("view_split", lambda x: x.view(2, 2, 6)),
    ("reshape", lambda x: x.reshape(6, 4)),
    ("reshape_copy", lambda x: x.t().reshape(-1)),  # not viewable: a copy
    ("flatten", lambda x: x.unsqueeze(0).flatten(1)),
    ("unflatten", lambda x: x.unflatten(1, (2, 3))),
    ("permute", lambda x: x.view(2, 2, 6).permute(2, 0, 1)),
    ("transpose", lambda x: x.transpose(0, 1)),
    ("t", lambda x: x.t()),
    ("T", lambda x: x.T),
    ("movedim", lambda x: x.view(2, 2, 6).movedim(0, 2)),
    ("expand", lambda x: x[:1].expand(3, 6)),
    ("expand_new_dims", lambda x: x.expand(2, 4, 6)),
    ("expand_as", lambda x: x[:, :1].expand_as(x)),
    ("broadcast_to", lambda x: x[0].broadcast_to((2, 6))),
    ("select", lambda x: x.select(1, 2)),
    ("select_negative", lambda x: x.select(0, -1)),
    ("narrow", lambda x: x.narrow(1, 1, 3)),
    ("slice", lambda x: x[1:3, ::2]),
    ("slice_negative_start", lambda x: x[-2:, 1:-1:3]),
    ("index_int_none_ellipsis", lambda x: x[None, 1, ..., None]),
    ("squeeze", lambda x: x[:, None, :].squeeze()),
    ("squeeze_dim", lambda x: x.unsqueeze(2).squeeze(2)),
    ("unsqueeze", lambda x: x.unsqueeze(1)),
    ("unbind", lambda x: x.unbind(1)[4]),
    ("unbind_all", lambda x: x.unbind(0)),
    ("diagonal", lambda x: x.diagonal()),
    ("diagonal_offset", lambda x: x.diagonal(offset=2)),
    ("diagonal_negative", lambda x: x.diagonal(-1, 1, 0)),
    ("as_strided", lambda x: x.as_strided((2, 2), (3, 1), 1)),
    ("as_strided_overlapping", lambda x: x.as_strided((3, 3), (1, 1))),
    ("view_of_view", lambda x: x.t()[1:, :2].unsqueeze(0).transpose(0, 2)),
]


def nonlinear(out):
    """Make the gradient depend on the values, so a gradient landing in the wrong place shows."""
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(o * o.sin() for o in outs)


@needs_fp64
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("case", VIEWS, ids=[c[0] for c in VIEWS])
def test_view_gradient(case, layout):
    _, view = case
    base = np.arange(24.0).reshape(4, 6) / 10 - 1
    x = leaf(base, layout)
    assert gradcheck(lambda t: nonlinear(view(t)), (x,))


@needs_fp64
@pytest.mark.parametrize("case", [c for c in VIEWS if c[0] in ("select", "slice", "diagonal", "expand",
                                                                 "as_strided", "permute", "view")],
                         ids=lambda c: c[0])
def test_view_second_order(case):
    _, view = case
    x = leaf(np.arange(24.0).reshape(4, 6) / 10 - 1)
    assert gradgradcheck(lambda t: nonlinear(view(t))[0], (x,))


@needs_fp64
def test_in_place_through_views_by_gradcheck():
    def fn(x, y):
        h = x * 1.0
        h[1:, ::2].mul_(y)  # CopySlices
        h.t()[0].add_(h[:, 1])  # a view of a view, reading another view
        return h * h
    x = leaf(np.arange(12.0).reshape(3, 4) / 5 - 1)
    y = leaf([[0.5, -1.5]])
    assert gradcheck(fn, (x, y))
    assert gradgradcheck(fn, (x, y))
