"""The special-function rows (cltensor/ops/special.py) and torch.special, driven by the rows' table:
float32 results on dense grids (thousands of points, tails included) at least as accurate as
PyTorch's float32 kernels against a float64 reference (scipy where it has the function, else
PyTorch in float64) and with the same NaN/inf pattern as PyTorch; float64 results and
finite-difference gradients (fp64); 0-d, empty, non-contiguous, half-precision and integer inputs;
out=, in-place and method forms; autograd node names; the errors PyTorch raises.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import cltensor as torch
import cltensor.special  # noqa: F401
from cltensor.autograd import gradcheck
from cltensor.ops import special as sp_ops
from helpers import HAVE_TORCH, needs_fp64, np_of, real_torch

try:
    import scipy.special as scipy_special
except ImportError:  # the reference is then PyTorch in float64
    scipy_special = None

EPS32 = float(np.finfo(np.float32).eps)
TINY32 = float(np.finfo(np.float32).tiny)  # below it: flush-to-zero differences, not errors
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan]


def _grid(*ranges, n=4001, extra=()):
    """Dense float32 points: linspace over each (lo, hi) range, plus the given points and the specials."""
    parts = [np.linspace(lo, hi, n) for lo, hi in ranges] + [np.asarray(extra, float), SPECIALS]
    return np.unique(np.concatenate(parts).astype(np.float32))


def _logs(lo_exp, hi_exp, n=300):
    return np.concatenate([np.logspace(lo_exp, hi_exp, n), -np.logspace(lo_exp, hi_exp, n)])


def _pairs(x, y):
    """Every (x, y) of two grids, as two flat float32 arrays."""
    xx, yy = np.meshgrid(np.asarray(x, np.float32), np.asarray(y, np.float32))
    return xx.ravel(), yy.ravel()


@dataclass
class Case:
    """How a public name is called here and in PyTorch, its float64 reference and its test grid."""
    ours: Callable
    theirs: Callable | None  # the same call on real torch
    ref: Callable | None  # float64 arrays -> float64 array (None: PyTorch in float64)
    grid: tuple  # float32 arrays, one per operand, of equal length
    row: str  # the op-table row behind it
    grad_domain: tuple | None = (0.5, 3.0)  # None: no derivative (PyTorch has none either)
    grad_args: tuple = (0,)  # operands that get gradients in the gradcheck
    # points where PyTorch's float32 kernel returns what is not the function's value (a finite value at a
    # pole from sin(pi x) rounding, an uninitialised result for a NaN argument): left out of the NaN/inf
    # comparison with PyTorch; the float64 reference still judges them
    pattern_skip: Callable | None = None
    # absolute slack where relative error is meaningless (roots, cancelling terms): a number, or a
    # function of the operands
    atol: float | Callable = 0.0
    # a function of the operands multiplying the relative allowance (ill-conditioned recurrences)
    rtol_factor: Callable | None = None
    # judged against PyTorch's worst relative error over the grid instead of point by point (igamma: both
    # kernels err by up to ~1e-5 in float32, at different points)
    worst_case: bool = False


def _scipy(name, *fixed):
    if scipy_special is None:
        return None
    return lambda *xs: getattr(scipy_special, name)(*fixed, *xs)


def _torch(path, *fixed):
    def call(*xs):
        fn = real_torch
        for part in path.split("."):
            fn = getattr(fn, part)
        return fn(*fixed, *xs)
    return call if HAVE_TORCH else None


def _ours(path, *fixed):
    def call(*xs):
        fn = torch
        for part in path.split("."):
            fn = getattr(fn, part)
        return fn(*fixed, *xs)
    return call


def _neg_ints(x, *rest):
    return (x <= 0) & (x == np.floor(x))


def _nan_x(x, *rest):
    return np.isnan(x)


def _cancelling_terms(n, x):
    """For x < 0, polygamma(n, x) (and zeta(n + 1, x)) sums terms as large as n! / |x - round(x)|^(n + 1)
    that cancel near its roots: float32 keeps them to a few ulps of that size (PyTorch's CPU kernel
    sums in double)."""
    with np.errstate(all="ignore"):
        big = np.where(x < 0, math.factorial(n) * np.abs(x - np.round(x)) ** -(n + 1.0), 0.0)
    return 2e-6 + 16 * EPS32 * np.nan_to_num(big, posinf=0.0)


def _oscillating(x, *rest):
    """Bessel functions near their zeros: a few ulps of the envelope ~ 0.8 / sqrt(x)."""
    with np.errstate(all="ignore"):
        return 4 * EPS32 * np.minimum(1.0, 1 / np.sqrt(np.abs(np.nan_to_num(x))))


def _degree_n(x, n):
    """Polynomials of degree n through cos(n acos x) or a recurrence: about n roundings of terms as large as
    (n + 1) (|x| + sqrt(x^2 - 1))^n, the growth of the Chebyshev recurrence outside [-1, 1]; absolute."""
    n = np.nan_to_num(np.abs(n), posinf=0.0)
    ax = np.abs(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0))
    with np.errstate(all="ignore"):
        growth = np.where(ax > 1, (ax + np.sqrt(np.maximum(ax * ax - 1, 0))) ** np.minimum(n, 600), 1.0)
    return 32 * EPS32 * (n + 1) ** 2 * np.nan_to_num(growth, posinf=0.0)


def _n_roundings(x, n):
    """The relative counterpart: n roundings, compounded by the recurrence."""
    return 4 * (np.nan_to_num(np.abs(n), posinf=0.0) + 1)


GAMMA_X = _grid((-30, 40), (-3, 3), (0, 1e-3), extra=_logs(-30, 30))
WIDE = _grid((-30, 30), (-3, 3), n=6001, extra=_logs(-30, 30))
POSITIVE = _grid((0, 30), (0, 2), n=4001, extra=np.concatenate([np.logspace(-30, 2.5, 400), [-1.0, -1e-30]]))
UNIT = _grid((-0.1, 1.1), n=8001, extra=np.concatenate([np.logspace(-38, -1, 400), 1 - np.logspace(-7.2, -1, 300)]))

CASES: dict = {
    "lgamma": Case(torch.lgamma, _torch("lgamma"), _scipy("gammaln"), (GAMMA_X,), "lgamma", atol=2e-6),
    "digamma": Case(torch.digamma, _torch("digamma"), _scipy("psi"), (GAMMA_X,), "digamma", atol=2e-6),
    "erfinv": Case(torch.erfinv, _torch("erfinv"), _scipy("erfinv"),
                   (_grid((-1.05, 1.05), extra=np.concatenate([1 - np.logspace(-7.3, -0.3, 400),
                                                               -1 + np.logspace(-7.3, -0.3, 400)])),),
                   "erfinv", grad_domain=(-0.9, 0.9)),
    "i0": Case(torch.i0, _torch("i0"), _scipy("i0"), (WIDE,), "i0", grad_domain=(-3, 3)),
    "special.i0e": Case(_ours("special.i0e"), _torch("special.i0e"), _scipy("i0e"), (WIDE,), "special_i0e",
                        grad_domain=(-3, 3)),
    "special.i1": Case(_ours("special.i1"), _torch("special.i1"), _scipy("i1"), (WIDE,), "special_i1",
                       grad_domain=(-3, 3)),
    "special.i1e": Case(_ours("special.i1e"), _torch("special.i1e"), _scipy("i1e"), (WIDE,), "special_i1e",
                        grad_domain=(-3, 3)),
    "special.erfcx": Case(_ours("special.erfcx"), _torch("special.erfcx"), _scipy("erfcx"), (WIDE,),
                          "special_erfcx", grad_domain=(-2, 12)),
    "special.ndtr": Case(_ours("special.ndtr"), _torch("special.ndtr"), _scipy("ndtr"), (WIDE,), "special_ndtr",
                         grad_domain=(-4, 4)),
    "special.log_ndtr": Case(_ours("special.log_ndtr"), _torch("special.log_ndtr"), _scipy("log_ndtr"), (WIDE,),
                             "special_log_ndtr", grad_domain=(-10, 4), atol=TINY32 * 1e-7),
    "special.ndtri": Case(_ours("special.ndtri"), _torch("special.ndtri"), _scipy("ndtri"), (UNIT,),
                          "special_ndtri", grad_domain=(0.01, 0.99)),
    "special.entr": Case(_ours("special.entr"), _torch("special.entr"), _scipy("entr"), (WIDE,), "special_entr",
                         grad_domain=(0.1, 3)),
    "sinc": Case(torch.sinc, _torch("sinc"), (lambda x: np.sinc(x)), (WIDE,), "sinc", grad_domain=(-3, 3),
                 atol=4 * EPS32),
    "logit": Case(torch.logit, _torch("logit"), _scipy("logit"), (UNIT,), "_logit", grad_domain=(0.05, 0.95)),
    "logit_eps": Case(_ours("logit"), None if not HAVE_TORCH else (lambda x: real_torch.logit(x, 0.1)),
                      None if scipy_special is None else (lambda x: scipy_special.logit(np.clip(x, 0.1, 0.9))),
                      (UNIT,), "_logit", grad_domain=(0.05, 0.95)),
    "deg2rad": Case(torch.deg2rad, _torch("deg2rad"), (lambda x: np.deg2rad(x)), (WIDE,), "deg2rad",
                    grad_domain=(-3, 3)),
    "rad2deg": Case(torch.rad2deg, _torch("rad2deg"), (lambda x: np.rad2deg(x)), (WIDE,), "rad2deg",
                    grad_domain=(-3, 3)),
    "mvlgamma3": Case(_ours("mvlgamma"), _torch("mvlgamma"), None, (_grid((1.01, 40), extra=[0.5, 1.0]),),
                      "_mvlgamma", grad_domain=(1.5, 5)),
    "special.multigammaln": Case(_ours("special.multigammaln"), _torch("special.multigammaln"), None,
                                 (_grid((0.01, 40)),), "_mvlgamma", grad_domain=(1.5, 5)),
}
CASES["logit_eps"].ours = lambda x: torch.logit(x, 0.1)
CASES["mvlgamma3"].ours = lambda x: torch.mvlgamma(x, 3)
CASES["mvlgamma3"].theirs = None if not HAVE_TORCH else (lambda x: real_torch.mvlgamma(x, 3))
CASES["special.multigammaln"].ours = lambda x: torch.special.multigammaln(x, 1)
CASES["special.multigammaln"].theirs = None if not HAVE_TORCH else (lambda x: real_torch.special.multigammaln(x, 1))
for _n in range(5):
    CASES[f"polygamma{_n}"] = Case(
        _ours("polygamma", _n), _torch("polygamma", _n), _scipy("polygamma", _n), (_grid((-8, 30), (-1, 1)),),
        "_polygamma", pattern_skip=_neg_ints if _n == 1 else None,
        atol=(lambda n: lambda x: _cancelling_terms(n, x))(_n))

# functions without a derivative in PyTorch (their results do not require grad)
for _name, _ref, _grid_x, _atol in (
        ("modified_bessel_i0", "i0", WIDE, 0.0), ("modified_bessel_i1", "i1", WIDE, 0.0),
        ("modified_bessel_k0", "k0", POSITIVE, 0.0), ("modified_bessel_k1", "k1", POSITIVE, 0.0),
        ("scaled_modified_bessel_k0", "k0e", POSITIVE, 0.0), ("scaled_modified_bessel_k1", "k1e", POSITIVE, 0.0),
        ("bessel_j0", "j0", WIDE, _oscillating), ("bessel_j1", "j1", WIDE, _oscillating),
        ("bessel_y0", "y0", POSITIVE, _oscillating), ("bessel_y1", "y1", POSITIVE, _oscillating),
        ("airy_ai", None, WIDE, _oscillating), ("spherical_bessel_j0", None, WIDE, _oscillating)):
    _reference = _scipy(_ref) if _ref else None
    if _name == "airy_ai" and scipy_special is not None:
        _reference = (lambda x: scipy_special.airy(x)[0])
    if _name == "spherical_bessel_j0" and scipy_special is not None:
        _reference = (lambda x: scipy_special.spherical_jn(0, x))
    CASES["special." + _name] = Case(_ours("special." + _name), _torch("special." + _name), _reference, (_grid_x,),
                                     "special_" + _name, grad_domain=None, atol=_atol)

# binary rows
_VALUES = np.concatenate([np.linspace(-5, 5, 121), [1e-30, 30, -30] + SPECIALS])
_POSITIVE = np.concatenate([np.linspace(0, 10, 101), np.logspace(-6, 3, 50), [np.inf, np.nan, -1]])
CASES.update({
    "xlogy": Case(torch.xlogy, _torch("xlogy"), _scipy("xlogy"), _pairs(_VALUES, _POSITIVE), "xlogy",
                  grad_domain=(0.5, 3), grad_args=(0, 1)),
    "special.xlogy": Case(_ours("special.xlogy"), _torch("special.xlogy"), _scipy("xlogy"),
                          _pairs(_VALUES, _POSITIVE), "xlogy", grad_domain=(0.5, 3), grad_args=(0, 1)),
    "special.xlog1py": Case(_ours("special.xlog1py"), _torch("special.xlog1py"), _scipy("xlog1py"),
                            _pairs(_VALUES, np.concatenate([_POSITIVE, [-0.5, -0.999, -1.5]])), "special_xlog1py",
                            grad_domain=(0.5, 3), grad_args=(0, 1)),
    "special.zeta": Case(_ours("special.zeta"), _torch("special.zeta"), _scipy("zeta"),
                         _pairs(np.concatenate([np.linspace(0.5, 30, 119), [1, 2, 3, np.inf, np.nan]]),
                                np.concatenate([np.linspace(-5.5, 30, 143), [0, -1, -2, 1e-3, np.inf, np.nan]])),
                         "special_zeta", grad_domain=(1.5, 4), grad_args=(1,),
                         atol=lambda x, q: _cancelling_terms(int(np.nanmax(np.nan_to_num(x, posinf=0))), q)),
    "logaddexp": Case(torch.logaddexp, _torch("logaddexp"), (lambda a, b: np.logaddexp(a, b)),
                      _pairs(_VALUES * 10, _VALUES * 10), "logaddexp", grad_domain=(-3, 3), grad_args=(0, 1)),
    "logaddexp2": Case(torch.logaddexp2, _torch("logaddexp2"), (lambda a, b: np.logaddexp2(a, b)),
                       _pairs(_VALUES * 10, _VALUES * 10), "logaddexp2", grad_domain=(-3, 3), grad_args=(0, 1)),
    "nextafter": Case(torch.nextafter, _torch("nextafter"), (lambda a, b: np.nextafter(a.astype(np.float32),
                                                                                     b.astype(np.float32))),
                      _pairs(_VALUES, _VALUES), "nextafter", grad_domain=None),
    "heaviside": Case(torch.heaviside, _torch("heaviside"), (lambda a, b: np.heaviside(a, b)),
                      _pairs(_VALUES, _VALUES), "heaviside", grad_domain=None),
})
_SHAPES = np.concatenate([np.linspace(0.01, 20, 100), np.linspace(20, 60, 41), [0, 150, 300, -1] + SPECIALS])
_LIMITS = np.concatenate([np.linspace(0, 10, 101), np.linspace(10, 140, 66), [1e-5, 300, -1] + SPECIALS])
for _name, _row, _ref in (("igamma", "igamma", "gammainc"), ("igammac", "igammac", "gammaincc"),
                          ("special.gammainc", "igamma", "gammainc"), ("special.gammaincc", "igammac", "gammaincc")):
    CASES[_name] = Case(_ours(_name), _torch(_name), _scipy(_ref), _pairs(_SHAPES, _LIMITS), _row,
                        grad_domain=(0.5, 5), grad_args=(1,), worst_case=True)
_DEGREES = np.concatenate([np.arange(-1, 13), [20, 30, 50, 100, 129, 513, 2.5, np.nan, np.inf]])
_ON_UNIT = np.concatenate([np.linspace(-1.2, 1.2, 241), [1, -1, 0, 0.5, 2, -3] + SPECIALS])
for _name in ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
              "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
              "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
              "laguerre_polynomial_l", "legendre_polynomial_p"):
    _x = _ON_UNIT * 4 if _name.startswith(("hermite", "laguerre")) else _ON_UNIT
    CASES["special." + _name] = Case(_ours("special." + _name), _torch("special." + _name), None,
                                     _pairs(_x, _DEGREES), "special_" + _name, grad_domain=None,
                                     pattern_skip=_nan_x, atol=_degree_n, rtol_factor=_n_roundings)

NAMES = sorted(CASES)
DIFFERENTIABLE = [n for n in NAMES if CASES[n].grad_domain is not None]


def test_every_row_has_a_case():
    covered = {c.row for c in CASES.values()} | {"_frexp_mantissa", "_frexp_exponent", "gcd", "lcm"}
    assert set(sp_ops.OPS) <= covered, sorted(set(sp_ops.OPS) - covered)


def test_torch_special_has_every_name_of_pytorchs():
    if not HAVE_TORCH:
        pytest.skip("PyTorch's list of names")
    theirs = {n for n in dir(real_torch.special) if not n.startswith("_") and callable(getattr(real_torch.special, n))}
    theirs -= {"Tensor"}  # the class, re-exported by PyTorch's module
    missing = sorted(n for n in theirs if not hasattr(torch.special, n))
    assert missing == [], missing


# ---- float32 on dense grids ----------------------------------------------------------------------------
def _reference(case, xs32):
    xs64 = [x.astype(np.float64) for x in xs32]
    if case.ref is not None:
        with np.errstate(all="ignore"):
            return np.asarray(case.ref(*xs64), dtype=np.float64)
    return case.theirs(*[real_torch.from_numpy(x) for x in xs64]).numpy()


@pytest.mark.skipif(not HAVE_TORCH, reason="compares with PyTorch's float32 kernels")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf in the error arithmetic, masked out after
@pytest.mark.parametrize("name", NAMES)
def test_float32_dense_grid_against_pytorch_and_float64(name):
    case = CASES[name]
    xs = case.grid
    got = np_of(case.ours(*[torch.tensor(x) for x in xs])).astype(np.float64)
    theirs = case.theirs(*[real_torch.from_numpy(x) for x in xs]).numpy().astype(np.float64)
    ref = _reference(case, xs)
    check = np.ones(xs[0].shape, bool) if case.pattern_skip is None else ~case.pattern_skip(*xs)
    # past float32's range (or nearly: a recurrence's intermediate term overflows first) the result is inf or
    # NaN depending on the order of the overflowing operations, which differs between compilers
    if case.rtol_factor is not None:
        check &= ~((np.abs(ref) > 1e30) & ~np.isfinite(got))
    for what in (np.isnan, np.isposinf, np.isneginf):
        wrong = check & (what(got) != what(theirs))
        assert not wrong.any(), (name, what.__name__, [x[wrong][:6] for x in xs], got[wrong][:6], theirs[wrong][:6])
    # as accurate as PyTorch's float32 result, or within 16 float32 ulps of the float64 reference (OpenCL lets
    # exp, log, erfc... be a few ulps off: libclc's are)
    both = np.isfinite(got) & np.isfinite(ref) & np.isfinite(theirs) & (np.abs(ref) < 3e38)
    err = np.abs(got - ref)[both]
    atol = case.atol(*[x.astype(np.float64) for x in xs])[both] if callable(case.atol) else case.atol
    rtol = 16 * EPS32 * (case.rtol_factor(*xs)[both] if case.rtol_factor is not None else 1.0)
    if case.worst_case:
        normal = both & (np.abs(ref) > 1e-30)
        rtol = np.maximum(rtol, 2 * np.max(np.abs(theirs - ref)[normal] / np.abs(ref[normal])))
    allowed = np.maximum(2 * np.abs(theirs - ref)[both], rtol * np.abs(ref[both])) + atol + TINY32
    bad = err > allowed
    assert not bad.any(), (name, int(bad.sum()), [x[both][bad][:5] for x in xs], got[both][bad][:5],
                           ref[both][bad][:5], theirs[both][bad][:5])


# ---- float64 -------------------------------------------------------------------------------------------
# references whose float32 form (above) is not the float64 one: nextafter's step is the dtype's
REFS_FLOAT64 = {"nextafter": np.nextafter}
# float64 absolute errors of the Bessel/Airy rows, which are PyTorch's own float64 errors on the same grids
FLOAT64_CEPHES_ERROR = {"special.airy_ai": 6e-6, "special.bessel_j0": 8e-7, "special.bessel_j1": 1e-6,
                        "special.bessel_y0": 4e-7, "special.bessel_y1": 2e-6}


@needs_fp64
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", NAMES)
def test_float64_against_reference(name):
    case = CASES[name]
    xs = [x[::5].astype(np.float64) for x in case.grid]
    got = np_of(case.ours(*[torch.tensor(x) for x in xs]))
    ref_fn = REFS_FLOAT64.get(name, case.ref)
    if ref_fn is not None:
        with np.errstate(all="ignore"):
            ref = np.asarray(ref_fn(*xs), np.float64)
    else:
        ref = case.theirs(*[real_torch.from_numpy(x) for x in xs]).numpy() if HAVE_TORCH else got
    fin = np.isfinite(ref) & np.isfinite(got)
    # the float32 slack scaled to float64's precision
    atol = (case.atol(*xs) if callable(case.atol) else case.atol) * 1e-8
    allowed = 1e-10 * np.abs(ref) + 1e-13 + atol
    if HAVE_TORCH:  # or as accurate as PyTorch's float64 kernel (its trigamma: ~1e-10)
        allowed = np.maximum(allowed, 2 * np.abs(case.theirs(*[real_torch.from_numpy(x) for x in xs]).numpy() - ref))
    else:  # without that yardstick: 1e-10 of the grid's largest value (near a root the relative error grows),
        # or the absolute error of the Cephes approximations PyTorch's own float64 kernels share (measured equal)
        allowed = allowed + FLOAT64_CEPHES_ERROR.get(name, 1e-10 * np.max(np.abs(ref[np.isfinite(ref)]), initial=0.0))
    err, allowed = np.abs(got - ref)[fin], allowed[fin]
    assert (err <= allowed).all(), (name, [x[fin][err > allowed][:5] for x in xs], got[fin][err > allowed][:5],
                                    ref[fin][err > allowed][:5])


def _operands(case, shape, seed, dtype=torch.float64, requires_grad=True):
    lo, hi = case.grad_domain
    rng = np.random.default_rng(seed)
    return [torch.tensor(rng.uniform(lo, hi, shape), dtype=dtype, requires_grad=requires_grad and i in case.grad_args)
            for i in range(len(case.grid))]


@needs_fp64
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradcheck(name):
    case = CASES[name]
    assert gradcheck(case.ours, _operands(case, (2, 3), 0))
    strided = [x.detach()[:, ::2].requires_grad_(x.requires_grad) for x in _operands(case, (2, 6), 1)]
    assert gradcheck(case.ours, strided)


# heaviside's node raises at backward (tested below); nextafter's gives input the gradient unchanged
@pytest.mark.parametrize("name", [n for n in NAMES if CASES[n].grad_domain is None and n not in ("heaviside",
                                                                                                 "nextafter")])
def test_no_derivative_as_in_pytorch(name):
    xs = [torch.tensor([0.5, 2.0], requires_grad=True) for _ in CASES[name].grid]
    assert not CASES[name].ours(*xs).requires_grad


# ---- layouts, dtypes, forms ----------------------------------------------------------------------------
def _layout_values(case, shape, seed):
    lo, hi = case.grad_domain or (0.5, 3.0)
    rng = np.random.default_rng(seed)
    return [rng.uniform(lo, hi, shape).astype(np.float32) for _ in case.grid]


@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous(name):
    """The strided kernel of every row (its C expression compiled a second time), on transposed and stepped views."""
    case = CASES[name]
    arrays = _layout_values(case, (4, 6), 2)
    full = np_of(case.ours(*[torch.tensor(a) for a in arrays]))
    np.testing.assert_array_equal(np_of(case.ours(*[torch.tensor(a).t() for a in arrays])), full.T)
    np.testing.assert_array_equal(np_of(case.ours(*[torch.tensor(a)[:, ::2] for a in arrays])), full[:, ::2])


# 0-d and empty tensors take the launcher's paths, the same for every row: one row of each kind
@pytest.mark.parametrize("name", ["lgamma", "polygamma2", "logit_eps", "xlogy", "special.zeta", "special.bessel_j0",
                                  "special.legendre_polynomial_p"])
def test_zero_dim_and_empty(name):
    case = CASES[name]
    arrays = _layout_values(case, (4, 6), 2)
    full = np_of(case.ours(*[torch.tensor(a) for a in arrays]))
    zero_d = case.ours(*[torch.tensor(a[1, 2]) for a in arrays])
    assert zero_d.shape == () and (zero_d.item() == full[1, 2] or math.isnan(full[1, 2]))
    empty = case.ours(*[torch.zeros(0, 3) for _ in arrays])
    assert empty.shape == (0, 3) and empty.dtype is torch.float32


ALL_INPUT_DTYPES = {"lgamma", "xlogy", "special.ndtri", "special.bessel_j0", "special.chebyshev_polynomial_t",
                    "heaviside", "logaddexp", "mvlgamma3"}


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch's result dtypes and refusals are the reference")
@pytest.mark.parametrize("name", NAMES)
def test_dtypes_follow_pytorch(name):
    """The result dtype (or the refusal) of PyTorch for float16 inputs; integer, bfloat16 and bool inputs for
    a few rows of each kind (each input dtype compiles a kernel; the dtype rules are shared by the rows)."""
    case = CASES[name]
    for dtype in ("float16",) + (("int32", "bfloat16", "bool", "uint8") if name in ALL_INPUT_DTYPES else ()):
        ours = [torch.tensor([1, 0, 1, 2]).to(getattr(torch, dtype)) for _ in case.grid]
        theirs = ([real_torch.tensor([1, 0, 1, 2]).to(getattr(real_torch, dtype)) for _ in case.grid]
                  if HAVE_TORCH else None)
        try:
            want = case.theirs(*theirs) if HAVE_TORCH else None
        except (RuntimeError, TypeError, NotImplementedError) as err:  # PyTorch refuses: so do we
            with pytest.raises(type(err) if not isinstance(err, NotImplementedError) else (NotImplementedError,
                                                                                           RuntimeError)):
                case.ours(*ours)
            continue
        got = case.ours(*ours)
        if HAVE_TORCH:
            assert got.dtype.name == str(want.dtype).replace("torch.", ""), (name, dtype)
            np.testing.assert_allclose(np_of(got.float()), want.float().numpy(), rtol=1e-2, atol=1e-3)


TORCH_LEVEL = {  # torch.<name>: (arguments besides the tensor, domain)
    "lgamma": ((), (0.5, 3)), "digamma": ((), (0.5, 3)), "erfinv": ((), (-0.9, 0.9)), "i0": ((), (-3, 3)),
    "sinc": ((), (-3, 3)), "logit": ((), (0.1, 0.9)), "xlogy": (("tensor",), (0.5, 3)),
    "logaddexp": (("tensor",), (-3, 3)), "logaddexp2": (("tensor",), (-3, 3)), "nextafter": (("tensor",), (-3, 3)),
    "igamma": (("tensor",), (0.5, 3)), "igammac": (("tensor",), (0.5, 3)),
    "mvlgamma": ((2,), (1, 4)), "ldexp": (("int",), (-3, 3)), "deg2rad": ((), (-3, 3)), "rad2deg": ((), (-3, 3)),
}


@pytest.mark.parametrize("name", sorted(TORCH_LEVEL))
def test_method_inplace_and_out_forms(name):
    extra, (lo, hi) = TORCH_LEVEL[name]
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.uniform(lo, hi, 5).astype(np.float32))
    args = [torch.tensor(rng.uniform(lo, hi, 5).astype(np.float32)) if a == "tensor" else
            torch.tensor(rng.integers(-3, 4, 5)) if a == "int" else a for a in extra]
    want = np_of(getattr(torch, name)(x, *args))
    np.testing.assert_array_equal(np_of(getattr(x, name)(*args)), want)
    if hasattr(torch.Tensor, name + "_") or (HAVE_TORCH and hasattr(real_torch.Tensor, name + "_")):
        y = x.clone()
        assert getattr(y, name + "_")(*args) is y
        np.testing.assert_array_equal(np_of(y), want)
    out = torch.empty(5)
    assert getattr(torch, name)(x, *args, out=out) is out
    np.testing.assert_array_equal(np_of(out), want)
    if HAVE_TORCH:
        theirs = [real_torch.from_numpy(np_of(a)) if isinstance(a, torch.Tensor) else a for a in args]
        np.testing.assert_allclose(want, getattr(real_torch, name)(real_torch.from_numpy(np_of(x)), *theirs).numpy(),
                                   rtol=2e-6, atol=1e-6)


def test_polygamma_forms():
    x = torch.tensor([0.5, 1.5, 2.5])
    want = np_of(torch.polygamma(2, x))
    np.testing.assert_array_equal(np_of(x.polygamma(2)), want)
    y = x.clone()
    assert y.polygamma_(2) is y
    np.testing.assert_array_equal(np_of(y), want)
    out = torch.empty(3)
    assert torch.polygamma(2, x, out=out) is out
    np.testing.assert_array_equal(np_of(out), want)
    np.testing.assert_array_equal(np_of(torch.special.polygamma(2, x)), want)


def test_special_namespace_aliases():
    x = torch.tensor([0.3, 1.7])
    same = {"gammaln": torch.lgamma, "psi": torch.digamma, "digamma": torch.digamma, "expit": torch.sigmoid,
            "exp2": torch.exp2, "expm1": torch.expm1, "log1p": torch.log1p, "erf": torch.erf, "erfc": torch.erfc,
            "i0": torch.i0, "sinc": torch.sinc, "round": torch.round, "erfinv": torch.erfinv}
    for name, fn in same.items():
        np.testing.assert_array_equal(np_of(getattr(torch.special, name)(x / 2)), np_of(fn(x / 2)), err_msg=name)
    m = torch.tensor([[0.3, 1.7], [2.0, -1.0]])
    np.testing.assert_array_equal(np_of(torch.special.logsumexp(m, 1)), np_of(torch.logsumexp(m, 1)))
    np.testing.assert_array_equal(np_of(torch.special.softmax(m, 1)), np_of(torch.softmax(m, 1)))
    np.testing.assert_array_equal(np_of(torch.special.log_softmax(m, 0)), np_of(torch.log_softmax(m, 0)))


GRAD_FN = {  # name -> (operands requiring grad, PyTorch's node name)
    "lgamma": ((True,), "LgammaBackward0"), "digamma": ((True,), "DigammaBackward0"),
    "erfinv": ((True,), "ErfinvBackward0"), "polygamma2": ((True,), "PolygammaBackward0"),
    "i0": ((True,), "I0Backward0"), "special.i0e": ((True,), "SpecialI0EBackward0"),
    "special.i1": ((True,), "SpecialI1Backward0"), "special.i1e": ((True,), "SpecialI1EBackward0"),
    "special.erfcx": ((True,), "SpecialErfcxBackward0"), "special.ndtr": ((True,), "MulBackward1"),
    "special.ndtri": ((True,), "SpecialNdtriBackward0"), "special.log_ndtr": ((True,), "SpecialLogNdtrBackward0"),
    "special.entr": ((True,), "SpecialEntrBackward0"), "sinc": ((True,), "SincBackward0"),
    "logit": ((True,), "LogitBackward0"), "mvlgamma3": ((True,), "MvlgammaBackward0"),
    "xlogy": ((True, True), "XlogyBackward0"), "special.xlog1py": ((True, True), "SpecialXlog1PyBackward0"),
    "special.zeta": ((False, True), "SpecialZetaBackward0"), "logaddexp": ((True, True), "LogaddexpBackward0"),
    "logaddexp2": ((True, True), "Logaddexp2Backward0"), "igamma": ((False, True), "IgammaBackward0"),
    "igammac": ((False, True), "IgammacBackward0"),
}


@pytest.mark.parametrize("name", sorted(GRAD_FN))
def test_grad_fn_names(name):
    needs, node = GRAD_FN[name]
    xs = [torch.tensor([1.5], requires_grad=n) for n in needs]
    assert type(CASES[name].ours(*xs).grad_fn).__name__ == node
    if HAVE_TORCH:
        theirs = [real_torch.tensor([1.5], requires_grad=n) for n in needs]
        assert type(CASES[name].theirs(*theirs).grad_fn).__name__ == node


def test_grad_fn_names_with_a_number_operand():
    x = torch.tensor([1.5], requires_grad=True)
    assert type(torch.xlogy(2.0, x).grad_fn).__name__ == "XlogyBackward1"
    assert type(torch.xlogy(x, 2.0).grad_fn).__name__ == "XlogyBackward2"
    assert type(torch.special.zeta(2.0, x).grad_fn).__name__ == "SpecialZetaBackward1"


def test_derivative_chain_lgamma_digamma_polygamma():
    """lgamma' = digamma, digamma' = polygamma(1, .), polygamma(n)' = polygamma(n + 1, .),
    erfinv' = sqrt(pi) / 2 exp(erfinv(x)^2)."""
    x = torch.tensor([0.7, 2.5, 9.0], requires_grad=True)
    for f, d in ((torch.lgamma, torch.digamma), (torch.digamma, lambda t: torch.polygamma(1, t)),
                 (lambda t: torch.polygamma(2, t), lambda t: torch.polygamma(3, t))):
        (g,) = torch.autograd.grad(f(x).sum(), x)
        np.testing.assert_allclose(np_of(g), np_of(d(x.detach())), rtol=1e-6)
    (g,) = torch.autograd.grad(torch.erfinv(x / 10).sum(), x)
    y = np_of(torch.erfinv(x.detach() / 10)).astype(np.float64)
    np.testing.assert_allclose(np_of(g), np.sqrt(np.pi) / 2 * np.exp(y * y) / 10, rtol=1e-5)


def test_not_implemented_derivatives_raise_at_backward_as_in_pytorch():
    x = torch.tensor([2.0, 3.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="the derivative for 'zeta' is not implemented"):
        torch.special.zeta(x, torch.tensor([1.0, 2.0])).sum().backward()
    with pytest.raises(NotImplementedError, match="the derivative for 'igamma: input' is not implemented"):
        torch.igamma(x, torch.tensor([1.0, 2.0])).sum().backward()
    with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not implemented"):
        torch.heaviside(x, x.detach()).sum().backward()


# ---- integer rows, frexp, ldexp ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_gcd_and_lcm_exact(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(4)
    # the dtype's minimum left out here: its absolute value wraps (PyTorch's gcd(-128, 22) is -2 in int8)
    a = rng.integers(max(info.min + 1, -1000), min(info.max, 1000), 300).astype(dtype)
    b = rng.integers(max(info.min + 1, -1000), min(info.max, 1000), 300).astype(dtype)
    a[:3], b[:3] = 0, [0, 5, 0]
    np.testing.assert_array_equal(np_of(torch.gcd(torch.tensor(a), torch.tensor(b))), np.gcd(a, b))
    if HAVE_TORCH and info.min < 0:
        with_min = a.copy()
        with_min[3:6] = info.min
        np.testing.assert_array_equal(np_of(torch.gcd(torch.tensor(with_min), torch.tensor(b))),
                                      real_torch.gcd(real_torch.from_numpy(with_min), real_torch.from_numpy(b)).numpy())
    small_a, small_b = a % 50, b % 50
    want = np.lcm(small_a.astype(np.int64), small_b.astype(np.int64)).astype(dtype)
    np.testing.assert_array_equal(np_of(torch.lcm(torch.tensor(small_a), torch.tensor(small_b))), want)
    y = torch.tensor(a)
    assert y.gcd_(torch.tensor(b)) is y
    np.testing.assert_array_equal(np_of(y), np.gcd(a, b))


def test_gcd_refuses_floats():
    with pytest.raises(NotImplementedError):
        torch.gcd(torch.tensor([1.0]), torch.tensor([2.0]))


def test_frexp_against_numpy():
    x = np.concatenate([np.random.default_rng(5).standard_normal(500) * 10.0 ** np.arange(-20, 20, 0.08),
                        [0.0, -0.0, 1.0, 0.5, 2.0 ** -130, 3e38]]).astype(np.float32)
    mantissa, exponent = torch.frexp(torch.tensor(x))
    want_m, want_e = np.frexp(x)
    np.testing.assert_array_equal(np_of(mantissa), want_m)
    assert exponent.dtype is torch.int32
    np.testing.assert_array_equal(np_of(exponent), want_e)
    m, e = torch.frexp(torch.tensor(np.float32([np.inf, -np.inf, np.nan])))
    assert np_of(e).tolist() == [0, 0, 0] and np.isinf(np_of(m)[:2]).all() and np.isnan(np_of(m)[2])
    out = (torch.empty(3), torch.empty(3, dtype=torch.int32))
    result = torch.tensor([1.0, 3.0, -8.0]).frexp()
    got = torch.frexp(torch.tensor([1.0, 3.0, -8.0]), out=out)
    assert got[0] is out[0] and got.exponent is out[1]
    np.testing.assert_array_equal(np_of(result.mantissa), [0.5, 0.75, -0.5])
    with pytest.raises(RuntimeError, match="only supports floating-point"):
        torch.frexp(torch.tensor([1, 2]))


def test_ldexp_matches_numpy_and_has_gradients():
    x = np.float32([1.0, -3.5, 0.25])
    e = np.int64([3, -2, 10])
    np.testing.assert_array_equal(np_of(torch.ldexp(torch.tensor(x), torch.tensor(e))), np.ldexp(x, e))
    assert torch.ldexp(torch.tensor([1, 2]), torch.tensor([1, 2])).dtype is torch.float32
    t = torch.tensor(x, requires_grad=True)
    torch.ldexp(t, torch.tensor(e)).sum().backward()
    np.testing.assert_array_equal(np_of(t.grad), 2.0 ** e)


@needs_fp64
def test_float_power_in_place_needs_float64():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert x.float_power_(torch.tensor([2, 3])) is x
    np.testing.assert_array_equal(np_of(x), [1.0, 8.0])


def test_float_power_in_place_refuses_float32():
    with pytest.raises(RuntimeError, match="has dtype Float but the operation's result requires dtype Double"):
        torch.tensor([1.0, 2.0]).float_power_(2)


def test_errors_as_in_pytorch():
    x = torch.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not support negative n"):
        torch.polygamma(-1, x)
    with pytest.raises(TypeError):
        torch.polygamma(1.5, x)
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.lgamma(x, out=torch.empty(2, dtype=torch.int32))
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        torch.mvlgamma(x, 0)
    with pytest.raises(TypeError, match="must be Tensor"):
        torch.logaddexp(x, 2.0)
    with pytest.raises(RuntimeError, match="different dtypes"):
        torch.heaviside(x, torch.tensor([1, 2]))
    for fn in (torch.logaddexp, torch.nextafter):
        with pytest.raises(NotImplementedError):
            fn(torch.tensor([1, 2]), torch.tensor([1, 2]))
