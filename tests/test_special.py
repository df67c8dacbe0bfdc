"""The special-function rows (cltensor/ops/special.py) and torch.special, driven by the rows' table:
float32 results on dense grids (thousands of points, tails included) at least as accurate as
PyTorch's float32 kernels against a float64 reference (scipy where it has the function, else
PyTorch in float64), the same NaN/inf pattern as PyTorch; float64 results and finite-difference
gradients (fp64); 0-d, empty, non-contiguous, half-precision, integer inputs; out=, in-place and
method forms; autograd node names; the errors PyTorch raises.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import cltensor as torch
import cltensor.special
from cltensor.autograd import gradcheck
from cltensor.ops import special as sp_ops
from helpers import HAVE_TORCH, needs_fp64, np_of, real_torch

try:
    import scipy.special as scipy_special
except ImportError:  # the reference is then PyTorch in float64
    scipy_special = None

EPS32 = float(np.finfo(np.float32).eps)


def _grid(*ranges, n=4001):
    """Dense float32 points: linspace over each (lo, hi) range plus log-spaced tails."""
    parts = [np.linspace(lo, hi, n) for lo, hi in ranges]
    return np.unique(np.concatenate(parts).astype(np.float32))


def _tails(lo_exp, hi_exp, n=400, sign=1):
    return sign * np.logspace(lo_exp, hi_exp, n)


SPECIALS = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan])


@dataclass
class Case:
    """How a public name is called here, in PyTorch and in the float64 reference."""
    ours: Callable
    theirs: Callable  # the same call on real torch
    ref: Callable | None  # float64 numpy -> float64 numpy (None: PyTorch in float64)
    grid: np.ndarray  # float32 points of the first (tensor) argument
    row: str  # the op-table row behind it
    grad_domain: tuple = (0.5, 3.0)
    # points where PyTorch's float32 kernel is knowingly worse than a pole/root calls for: skipped in
    # the NaN/inf comparison with PyTorch (the float64 reference still judges them)
    pattern_skip: Callable | None = None
    # absolute slack, for functions with roots where relative error is meaningless: a number, or a
    # function of x (the size of the terms that cancel there)
    atol: float | Callable = 0.0
    extra: dict = field(default_factory=dict)


def _scipy(name):
    return (lambda x: getattr(scipy_special, name)(x)) if scipy_special is not None else None


def _neg_ints(x):
    return (x <= 0) & (x == np.floor(x))


CASES: dict = {
    "lgamma": Case(torch.lgamma, lambda x: real_torch.lgamma(x), _scipy("gammaln"),
                   _grid((-30, 40), (-3, 3), (0, 1e-3)), "lgamma", atol=2e-6),
    "digamma": Case(torch.digamma, lambda x: real_torch.digamma(x), _scipy("psi"),
                    _grid((-30, 40), (-3, 3), (0, 1e-3)), "digamma", atol=2e-6),
    "erfinv": Case(torch.erfinv, lambda x: real_torch.erfinv(x), _scipy("erfinv"),
                   np.unique(np.concatenate([_grid((-1.05, 1.05)), 1 - _tails(-7.3, -0.3),
                                             -1 + _tails(-7.3, -0.3)]).astype(np.float32)), "erfinv",
                   grad_domain=(-0.9, 0.9)),
}
for _n in range(5):
    CASES[f"polygamma{_n}"] = Case(
        (lambda n: lambda x: torch.polygamma(n, x))(_n), (lambda n: lambda x: real_torch.polygamma(n, x))(_n),
        (lambda n: (lambda x: scipy_special.polygamma(n, x)) if scipy_special is not None else None)(_n),
        _grid((-8, 30), (-1, 1)), "_polygamma",
        # trigamma at a negative integer: PyTorch's sin(pi * x) in float leaves a large finite value at the pole
        pattern_skip=_neg_ints if _n == 1 else None, atol=(lambda n: lambda x: _cancelling_terms(n, x))(_n))

NAMES = sorted(CASES)


def _cancelling_terms(n, x):
    """For x < 0, polygamma(n, x) sums terms as large as n! / |x - round(x)|^(n + 1) that cancel near its
    roots: float32 keeps them to a few ulps of that size (PyTorch's CPU kernel sums in double)."""
    with np.errstate(all="ignore"):
        big = np.where(x < 0, math.factorial(n) * np.abs(x - np.round(x)) ** -(n + 1.0), 0.0)
    return 2e-6 + 16 * EPS32 * np.nan_to_num(big, posinf=0.0)


def test_every_row_has_a_case():
    covered = {c.row for c in CASES.values()}
    assert set(sp_ops.OPS) <= covered, sorted(set(sp_ops.OPS) - covered)


# ---- float32 on dense grids ----------------------------------------------------------------------------
def _reference(case, x32):
    x64 = x32.astype(np.float64)
    if case.ref is not None:
        with np.errstate(all="ignore"):
            return np.asarray(case.ref(x64), dtype=np.float64)
    return case.theirs(real_torch.from_numpy(x64)).numpy()


@pytest.mark.skipif(not HAVE_TORCH, reason="compares with PyTorch's float32 kernels")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf in the error arithmetic, masked out after
@pytest.mark.parametrize("name", NAMES)
def test_float32_dense_grid_against_pytorch_and_float64(name):
    case = CASES[name]
    x = np.concatenate([case.grid, SPECIALS])
    got = np_of(case.ours(torch.tensor(x))).astype(np.float64)
    theirs = case.theirs(real_torch.from_numpy(x)).numpy().astype(np.float64)
    ref = _reference(case, x)
    check = np.ones(x.shape, bool) if case.pattern_skip is None else ~case.pattern_skip(x)
    for what in (np.isnan, np.isposinf, np.isneginf):
        wrong = check & (what(got) != what(theirs))
        assert not wrong.any(), (name, what.__name__, x[wrong][:8], got[wrong][:8], theirs[wrong][:8])
    # as accurate as PyTorch's float32 result, or within a few float32 ulps of the float64 reference
    both = np.isfinite(got) & np.isfinite(ref) & np.isfinite(theirs) & (np.abs(ref) < 3e38)
    err = np.abs(got - ref)[both]
    atol = case.atol(x.astype(np.float64))[both] if callable(case.atol) else case.atol
    allowed = np.maximum(2 * np.abs(theirs - ref)[both], 8 * EPS32 * np.abs(ref[both])) + atol
    bad = err > allowed
    assert not bad.any(), (name, int(bad.sum()), x[both][bad][:6], got[both][bad][:6], ref[both][bad][:6],
                           theirs[both][bad][:6])


# ---- float64 -------------------------------------------------------------------------------------------
@needs_fp64
@pytest.mark.parametrize("name", NAMES)
def test_float64_against_reference(name):
    case = CASES[name]
    x = case.grid[::7].astype(np.float64)
    got = np_of(case.ours(torch.tensor(x)))
    ref = _reference(case, x.astype(np.float32)) if case.ref is None else np.asarray(case.ref(x))
    fin = np.isfinite(ref)
    assert np.array_equal(np.isnan(got), np.isnan(ref)), name
    # the float32 slack scaled to float64's precision
    atol = (case.atol(x) if callable(case.atol) else case.atol) * 1e-8
    allowed = 1e-10 * np.abs(ref) + 1e-13 + atol
    if HAVE_TORCH:  # or as accurate as PyTorch's float64 kernel (its trigamma: ~1e-10)
        allowed = np.maximum(allowed, 2 * np.abs(case.theirs(real_torch.from_numpy(x)).numpy() - ref))
    err, allowed = np.abs(got - ref)[fin], allowed[fin]
    assert (err <= allowed).all(), (name, x[fin][err > allowed][:5], got[fin][err > allowed][:5])


@needs_fp64
@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(name):
    case = CASES[name]
    lo, hi = case.grad_domain
    x = torch.tensor(np.random.default_rng(0).uniform(lo, hi, (2, 3)), dtype=torch.float64, requires_grad=True)
    assert gradcheck(case.ours, (x,))
    y = torch.tensor(np.random.default_rng(1).uniform(lo, hi, (4, 3)), dtype=torch.float64)[::2]
    assert gradcheck(case.ours, (y.requires_grad_(),))


# ---- layouts, dtypes, forms ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_zero_dim_empty_and_non_contiguous(name):
    case = CASES[name]
    lo, hi = case.grad_domain
    base = np.random.default_rng(2).uniform(lo, hi, (4, 6)).astype(np.float32)
    full = np_of(case.ours(torch.tensor(base)))
    x = torch.tensor(base)
    np.testing.assert_array_equal(np_of(case.ours(x.t())), full.T)
    np.testing.assert_array_equal(np_of(case.ours(x[:, ::2])), full[:, ::2])
    zero_d = case.ours(torch.tensor(base[1, 2]))
    assert zero_d.shape == () and zero_d.item() == full[1, 2]
    empty = case.ours(torch.zeros(0, 3))
    assert empty.shape == (0, 3) and empty.dtype is torch.float32


@pytest.mark.parametrize("name", NAMES)
def test_dtypes_follow_pytorch(name):
    case = CASES[name]
    for ours_dtype, theirs_dtype in ((torch.float16, "float16"), (torch.bfloat16, "bfloat16"),
                                     (torch.int32, "int32"), (torch.bool, "bool"), (torch.uint8, "uint8")):
        x = torch.tensor([1, 0, 1, 2]).to(ours_dtype)
        got = case.ours(x)
        if HAVE_TORCH:
            want = case.theirs(real_torch.tensor([1, 0, 1, 2]).to(getattr(real_torch, theirs_dtype)))
            assert got.dtype.name == str(want.dtype).replace("torch.", ""), (name, ours_dtype)
            np.testing.assert_allclose(np_of(got.float()), want.float().numpy(), rtol=1e-2)


def test_method_inplace_and_out_forms():
    x = torch.tensor([0.5, 1.5, 2.5])
    for name in ("lgamma", "digamma", "erfinv"):
        arg = x / 3 if name == "erfinv" else x
        want = np_of(getattr(torch, name)(arg))
        np.testing.assert_array_equal(np_of(getattr(arg, name)()), want)
        y = arg.clone()
        assert getattr(y, name + "_")() is y
        np.testing.assert_array_equal(np_of(y), want)
        out = torch.empty(3)
        assert getattr(torch, name)(arg, out=out) is out
        np.testing.assert_array_equal(np_of(out), want)
    want = np_of(torch.polygamma(2, x))
    np.testing.assert_array_equal(np_of(x.polygamma(2)), want)
    y = x.clone()
    assert y.polygamma_(2) is y
    np.testing.assert_array_equal(np_of(y), want)
    out = torch.empty(3)
    assert torch.polygamma(2, x, out=out) is out
    np.testing.assert_array_equal(np_of(out), want)


def test_special_namespace_aliases():
    x = torch.tensor([0.3, 1.7])
    np.testing.assert_array_equal(np_of(torch.special.gammaln(x)), np_of(torch.lgamma(x)))
    np.testing.assert_array_equal(np_of(torch.special.psi(x)), np_of(torch.digamma(x)))
    np.testing.assert_array_equal(np_of(torch.special.digamma(x)), np_of(torch.digamma(x)))
    np.testing.assert_array_equal(np_of(torch.special.polygamma(1, x)), np_of(torch.polygamma(1, x)))
    np.testing.assert_array_equal(np_of(torch.special.erfinv(x / 2)), np_of(torch.erfinv(x / 2)))


GRAD_FN = {"lgamma": "LgammaBackward0", "digamma": "DigammaBackward0", "erfinv": "ErfinvBackward0",
           "polygamma2": "PolygammaBackward0"}


@pytest.mark.parametrize("name", sorted(GRAD_FN))
def test_grad_fn_names(name):
    x = torch.tensor([0.5], requires_grad=True)
    assert type(CASES[name].ours(x).grad_fn).__name__ == GRAD_FN[name]
    if HAVE_TORCH:
        assert type(CASES[name].theirs(real_torch.tensor([0.5], requires_grad=True)).grad_fn).__name__ == GRAD_FN[name]


def test_derivative_chain_lgamma_digamma_polygamma():
    """lgamma' = digamma, digamma' = polygamma(1, .), polygamma(n)' = polygamma(n + 1, .)."""
    x = torch.tensor([0.7, 2.5, 9.0], requires_grad=True)
    for f, d in ((torch.lgamma, torch.digamma), (torch.digamma, lambda t: torch.polygamma(1, t)),
                 (lambda t: torch.polygamma(2, t), lambda t: torch.polygamma(3, t))):
        (g,) = torch.autograd.grad(f(x).sum(), x)
        np.testing.assert_allclose(np_of(g), np_of(d(x.detach())), rtol=1e-6)
    (g,) = torch.autograd.grad(torch.erfinv(x / 10).sum(), x)
    y = np_of(torch.erfinv(x.detach() / 10)).astype(np.float64)
    np.testing.assert_allclose(np_of(g), np.sqrt(np.pi) / 2 * np.exp(y * y) / 10, rtol=1e-5)


def test_errors_as_in_pytorch():
    x = torch.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not support negative n"):
        torch.polygamma(-1, x)
    with pytest.raises(TypeError):
        torch.polygamma(1.5, x)
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.lgamma(x, out=torch.empty(2, dtype=torch.int32))
