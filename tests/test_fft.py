"""torch.fft against numpy.fft (complex128 references) and PyTorch: the kernels through their plans
(complex values held as real (..., 2) tensors), then the public functions, gradients and errors."""
import math

import numpy as np
import pytest

import cltensor as torch
from cltensor.launch import fft as launch_fft
from cltensor.ops import fft as F
from helpers import HAVE_TORCH, real_torch

RNG = np.random.default_rng(1234)
SIZES = list(range(1, 65)) + [97, 210, 1000, 2 ** 10, 2 ** 16]


def rtol_for(n, dtype=torch.float32):
    """float32 error grows like log(n) for both Stockham and Bluestein (whose inner length is ~4n)."""
    if dtype.name in ("float64", "complex128"):
        return 1e-12 * (2 + math.log2(max(n, 2)))
    return 1e-5 * (2 + math.log2(max(n, 2)))


def close(got, ref, n, dtype=torch.float32):
    """Norm-wise comparison: the largest error relative to the largest reference value."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, f"shape {got.shape} != expected {ref.shape}"
    scale = max(float(np.abs(ref).max(initial=0.0)), 1e-30)
    err = float(np.abs(got.astype(np.complex128) - ref).max(initial=0.0))
    assert err <= rtol_for(n, dtype) * scale, f"relative error {err / scale:.3g} for n={n}"


def crandn(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def pairs(z, dtype=np.float32):
    return torch.tensor(np.stack([z.real, z.imag], -1).astype(dtype))


def unpair(t):
    a = t.cpu().numpy().astype(np.float64)
    return a[..., 0] + 1j * a[..., 1]


# ---- numpy model of one plan ------------------------------------------------------------------
def plan_reference(x, plan):
    """What F.execute computes, in complex128 on the host (x along plan.dim, complex or real)."""
    x = np.moveaxis(np.asarray(x, dtype=np.complex128), plan.dim, -1)
    n, length = plan.n, x.shape[-1]
    if plan.in_mode == F.HERMITIAN_IN:
        half = n // 2 + 1
        h = np.zeros(x.shape[:-1] + (half,), complex)
        h[..., :min(length, half)] = x[..., :min(length, half)]
        upper = np.conj(h[..., 1:n - half + 1][..., ::-1])
        v = np.concatenate([h, upper], -1)[..., :n]
    else:
        v = np.zeros(x.shape[:-1] + (n,), complex)
        v[..., :min(length, n)] = x[..., :min(length, n)]
    if plan.conj_in:
        v = np.conj(v)
    y = (np.fft.fft(v, axis=-1) if plan.sign < 0 else np.fft.ifft(v, axis=-1) * n) * plan.scale
    if plan.conj_out:
        y = np.conj(y)
    y[..., 1:plan.dbl_hi + 1] *= 2
    out = np.zeros(y.shape[:-1] + (plan.out_len,), complex)
    keep = min(plan.keep, plan.out_len, n)
    out[..., :keep] = y[..., :keep]
    return np.moveaxis(out.real if plan.out_real else out, -1, plan.dim)


def c2c_plan(n, dim=-1, sign=-1, **kw):
    return F.Plan(dim=dim, n=n, sign=sign, in_mode=F.COMPLEX_IN, out_real=False, scale=1.0, keep=n,
                  out_len=n, **kw)


def run_plan(x, plan):
    """execute() on x (complex128 or float64 numpy) in float32, as numpy complex or real."""
    complex_in = plan.in_mode != F.REAL_IN
    t = pairs(x) if complex_in else torch.tensor(np.asarray(x, np.float32))
    dim = plan.dim % (t.dim() - (1 if complex_in else 0))
    out = F.execute(t, F.Plan(**{**plan.__dict__, "dim": dim}), pairs=True)
    return out.cpu().numpy().astype(np.float64) if plan.out_real else unpair(out)


@pytest.fixture(params=["local", "per-pass"])
def path(request, monkeypatch):
    """Both ways of running the passes: one fft_local launch (short rows) or one launch per pass."""
    if request.param == "per-pass":
        monkeypatch.setattr(launch_fft, "_local_limit", lambda backend, dtype: 0)
    return request.param


@pytest.mark.parametrize("n", SIZES)
def test_c2c_every_size(n):
    x = crandn(3, n)
    close(run_plan(x, c2c_plan(n)), np.fft.fft(x, axis=-1), n)
    close(run_plan(x, c2c_plan(n, sign=1)), np.fft.ifft(x, axis=-1) * n, n)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 8, 30, 210, 11, 97, 1000])
def test_c2c_one_launch_per_pass(n, monkeypatch):
    """The per-pass kernels (long rows, or few rows on devices with little local memory)."""
    monkeypatch.setattr(launch_fft, "_local_limit", lambda backend, dtype: 0)
    x = crandn(3, n)
    close(run_plan(x, c2c_plan(n)), np.fft.fft(x, axis=-1), n)
    close(run_plan(x, c2c_plan(n, sign=1)), np.fft.ifft(x, axis=-1) * n, n)


def test_stockham_radices_and_bluestein_lengths():
    assert F.radices(210) == [2, 3, 5, 7]
    assert F.radices(64) == [8, 8] and F.radices(32) == [8, 4]
    assert F.radices(1) == []
    assert F.radices(11) is None and F.radices(2 * 97) is None
    assert F.bluestein_length(97) == 256 and F.bluestein_length(2) == 4


@pytest.mark.parametrize("in_mode,out_real,dbl", [(F.COMPLEX_IN, False, 0), (F.REAL_IN, False, 0),
                                                   (F.COMPLEX_IN, True, 0), (F.HERMITIAN_IN, True, 0),
                                                   (F.REAL_IN, False, 1)])
@pytest.mark.parametrize("n,length,out_len", [(8, 8, 8), (8, 5, 8), (8, 12, 6), (12, 7, 15), (11, 9, 11),
                                              (13, 4, 7), (1, 3, 2)])
def test_plan_modes_padding_and_trimming(in_mode, out_real, dbl, n, length, out_len, path):
    half = n // 2 + 1
    plan = F.Plan(dim=0, n=n, sign=1 if in_mode == F.HERMITIAN_IN else -1, in_mode=in_mode, out_real=out_real,
                  scale=0.5, keep=min(out_len, n), out_len=out_len, conj_in=True, conj_out=True,
                  dbl_hi=(n - half) * dbl)
    x = crandn(length, 3) if in_mode != F.REAL_IN else RNG.standard_normal((length, 3))
    close(run_plan(x, plan), plan_reference(x, plan), n)


@pytest.mark.parametrize("plan", [
    c2c_plan(12, dim=0),
    F.Plan(dim=0, n=10, sign=-1, in_mode=F.REAL_IN, out_real=False, scale=0.3, keep=6, out_len=6),
    F.Plan(dim=0, n=9, sign=1, in_mode=F.HERMITIAN_IN, out_real=True, scale=0.2, keep=9, out_len=9, conj_in=True),
    F.Plan(dim=0, n=14, sign=-1, in_mode=F.COMPLEX_IN, out_real=True, scale=1.0, keep=14, out_len=16),
    F.Plan(dim=0, n=11, sign=-1, in_mode=F.REAL_IN, out_real=False, scale=1.0, keep=6, out_len=6, dbl_hi=5),
], ids=["c2c", "r2c", "c2r", "c2c-real-out", "r2c-doubled"])
@pytest.mark.parametrize("in_len", [5, 12])
def test_plan_adjoint_is_the_adjoint(plan, in_len):
    """<A x, y> == <x, A* y> for the real inner product: the gradients' foundation."""
    adj = plan.adjoint(in_len)
    x = crandn(in_len) if plan.in_mode != F.REAL_IN else RNG.standard_normal(in_len)
    y = crandn(plan.out_len) if not plan.out_real else RNG.standard_normal(plan.out_len)
    ax, aty = plan_reference(x, plan), plan_reference(y, adj)
    assert aty.shape == x.shape
    lhs = np.sum(np.real(np.conj(ax) * y))
    rhs = np.sum(np.real(np.conj(x) * aty))
    assert abs(lhs - rhs) <= 1e-10 * (abs(lhs) + 1)


@pytest.mark.parametrize("n", [16, 12, 13])
def test_batched_any_dim_non_contiguous(n, path):
    """The transformed dim need not be contiguous, the batch dims need not merge: no copies."""
    x = crandn(4, n, 3, 5)
    t = pairs(x).permute(3, 1, 0, 2, 4)[::2]  # (3, n, 4, 5, 2) then every other row of dim 0
    assert not t.is_contiguous()
    ref = np.fft.fft(np.transpose(x, (3, 1, 0, 2))[::2], axis=1)
    close(unpair(F.execute(t, c2c_plan(n, dim=1), pairs=True)), ref, n)


def test_more_than_four_batch_dims():
    x = crandn(2, 3, 2, 3, 2, 8)
    t = pairs(x).permute(4, 3, 2, 1, 0, 5, 6)
    ref = np.fft.fft(np.transpose(x, (4, 3, 2, 1, 0, 5)), axis=-1)
    close(unpair(F.execute(t, c2c_plan(8, dim=5), pairs=True)), ref, 8)


def test_empty_batch_and_empty_signal():
    out = F.execute(pairs(crandn(0, 8)), c2c_plan(8), pairs=True)
    assert tuple(out.shape) == (0, 8, 2)
    out = F.execute(pairs(crandn(3, 0)), c2c_plan(4), pairs=True)
    np.testing.assert_array_equal(out.cpu().numpy(), np.zeros((3, 4, 2)))


# ---- the public functions ------------------------------------------------------------------------
NORMS = [None, "backward", "ortho", "forward"]
ONE_DIM = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
REAL_ONLY = {"rfft", "ihfft", "rfft2", "ihfft2", "rfftn", "ihfftn"}


def signal(name, shape, dtype=np.complex64):
    """A test input for torch.fft.<name>: real for the real-only transforms, else complex."""
    if name in REAL_ONLY:
        return RNG.standard_normal(shape).astype(np.float32 if dtype == np.complex64 else np.float64)
    return crandn(*shape).astype(dtype)


def numpy_of(z):
    a = z.detach().cpu().numpy() if isinstance(z, torch.Tensor) else np.asarray(z)
    return a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)


ONE_DIM_CASES = [(name, n, length) for name in ONE_DIM
                 for n, length in [(None, 16), (None, 13), (10, 16), (20, 13), (None, 1), (7, 5)]
                 if not (name in ("irfft", "hfft") and n is None and length == 1)]  # 2 * (1 - 1) points: test_errors


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name,n,length", ONE_DIM_CASES)
def test_one_dim_against_numpy(name, norm, n, length):
    x = signal(name, (3, length))
    got = getattr(torch.fft, name)(torch.tensor(x), n=n, norm=norm)
    ref = getattr(np.fft, name)(x.astype(np.complex128 if np.iscomplexobj(x) else np.float64), n=n, norm=norm)
    assert got.dtype == (torch.float32 if name in ("irfft", "hfft") else torch.complex64)
    close(numpy_of(got), ref, n or length)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 11, 13, 16, 97, 210, 2 ** 16])
def test_fft_sizes_against_numpy(n):
    x = crandn(2, n).astype(np.complex64)
    close(numpy_of(torch.fft.fft(torch.tensor(x))), np.fft.fft(x.astype(np.complex128)), n)
    close(numpy_of(torch.fft.ifft(torch.tensor(x), norm="ortho")),
          np.fft.ifft(x.astype(np.complex128), norm="ortho"), n)
    r = x.real.copy()
    close(numpy_of(torch.fft.rfft(torch.tensor(r))), np.fft.rfft(r.astype(np.float64)), n)


@pytest.mark.parametrize("dim", [0, 1, -1, -3])
def test_dims_negative_and_non_contiguous(dim):
    x = crandn(6, 5, 12).astype(np.complex64)
    t = torch.tensor(x).transpose(0, 2)[::2]  # (6, 5, 6)-shaped view with odd strides
    xv = np.transpose(x, (2, 1, 0))[::2]
    assert not t.is_contiguous()
    close(numpy_of(torch.fft.fft(t, dim=dim)), np.fft.fft(xv, axis=dim), 6)
    close(numpy_of(torch.fft.irfft(t, n=9, dim=dim)), np.fft.irfft(xv, n=9, axis=dim), 9)
    r = torch.tensor(x.real.copy()).transpose(0, 2)[::2]
    close(numpy_of(torch.fft.rfft(r, dim=dim, norm="ortho")), np.fft.rfft(xv.real, axis=dim, norm="ortho"), 6)


def _n_dim_cases(names, shapes):
    """(name, s, dim) for every name and (s, dim) the name accepts (the 2-d forms transform two dims)."""
    return [(name, s, dim) for name in names for s, dim in shapes
            if not name.endswith("2") or len(dim if dim is not None else s or (0, 0)) == 2]


@pytest.mark.parametrize("name,s,dim", _n_dim_cases(
    ["fft2", "ifft2", "fftn", "ifftn", "rfft2", "irfft2", "rfftn", "irfftn"],
    [(None, None), ((4, 6), None), ((5, -1), (0, 2)), (None, (-1, 0)), ((3,), (1,)), ((3, 4, 10), None)]))
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_n_dim_against_numpy(name, s, dim, norm):
    x = signal(name, (4, 5, 6))
    kwargs = {"norm": norm, **({"dim": dim} if dim is not None else {}), **({"s": s} if s is not None else {})}
    got = getattr(torch.fft, name)(torch.tensor(x), **kwargs)
    axes = dim if dim is not None else (range(3 - len(s), 3) if s is not None else
                                        ((-2, -1) if name.endswith("2") else range(3)))
    axes = [a % 3 for a in axes]
    np_s = None
    if s is not None:  # -1 keeps the input's size (for irfftn's last dim: the default 2 * (size - 1))
        np_s = [v if v != -1 else (2 * (x.shape[a] - 1) if name.startswith("irfft") and i == len(s) - 1
                                   else x.shape[a]) for i, (v, a) in enumerate(zip(s, axes))]
    np_kwargs = {"norm": norm, "axes": axes, **({"s": np_s} if s is not None else {})}
    ref = getattr(np.fft, name)(x.astype(np.complex128 if np.iscomplexobj(x) else np.float64), **np_kwargs)
    close(numpy_of(got), ref, 64)


@pytest.mark.skipif(not HAVE_TORCH, reason="needs PyTorch")
@pytest.mark.parametrize("name,s,dim", _n_dim_cases(["hfft2", "ihfft2", "hfftn", "ihfftn"], [
    (None, None), ((4, 6), None), ((5, 7), (0, 2)), ((6,), (1,))]))
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_hermitian_n_dim_against_torch(name, s, dim, norm):
    x = signal(name, (4, 5, 6))
    kwargs = {"norm": norm, **({"dim": dim} if dim is not None else {}), **({"s": s} if s is not None else {})}
    got = getattr(torch.fft, name)(torch.tensor(x), **kwargs)
    ref = getattr(real_torch.fft, name)(real_torch.from_numpy(x.astype(
        np.complex128 if np.iscomplexobj(x) else np.float64)), **kwargs).resolve_conj().numpy()
    close(numpy_of(got), ref, 64)


def test_dtypes_follow_pytorch():
    assert torch.fft.fft(torch.ones(4)).dtype == torch.complex64
    assert torch.fft.fft(torch.arange(4)).dtype == torch.complex64
    assert torch.fft.rfft(torch.ones(4, dtype=torch.int32)).dtype == torch.complex64
    assert torch.fft.irfft(torch.ones(3)).dtype == torch.float32
    assert torch.fft.fftn(torch.tensor(2.0)).dtype == torch.complex64
    close(numpy_of(torch.fft.fftn(torch.tensor(2.0))), np.asarray(2.0 + 0j), 1)
    assert torch.fft.fftfreq(4).dtype == torch.float32


@pytest.mark.fp64
def test_float64_gives_complex128():
    x = crandn(3, 97)
    got = torch.fft.fft(torch.tensor(x))
    assert got.dtype == torch.complex128
    close(numpy_of(got), np.fft.fft(x), 97, torch.float64)
    r = torch.fft.irfft(torch.tensor(x), n=30)
    assert r.dtype == torch.float64
    close(numpy_of(r), np.fft.irfft(x, n=30), 30, torch.float64)


def _raises_like_torch(fn):
    """fn(module) raises the same error type and message with cltensor as with PyTorch."""
    with pytest.raises(Exception) as theirs:
        fn(real_torch)
    with pytest.raises(type(theirs.value)) as ours:
        fn(torch)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.skipif(not HAVE_TORCH, reason="needs PyTorch")
@pytest.mark.parametrize("case", [
    lambda m: m.fft.fft(m.tensor(1.0)),
    lambda m: m.fft.fft(m.ones(0)),
    lambda m: m.fft.fft(m.ones(4), n=0),
    lambda m: m.fft.fft(m.ones(4), n=-1),
    lambda m: m.fft.fft(m.ones(4, 5), dim=2),
    lambda m: m.fft.fft(m.ones(4), norm="foo"),
    lambda m: m.fft.fft(m.ones(4, dtype=m.float16)),
    lambda m: m.fft.rfft(m.ones(4, dtype=m.complex64)),
    lambda m: m.fft.ihfft(m.ones(4, dtype=m.complex64)),
    lambda m: m.fft.irfft(m.ones(1)),
    lambda m: m.fft.hfft(m.ones(1)),
    lambda m: m.fft.fftn(m.ones(4, 5), s=(3,), dim=(0, 1)),
    lambda m: m.fft.fftn(m.ones(4, 5), dim=(0, 0)),
    lambda m: m.fft.fftn(m.ones(4, 5), s=(3, 4, 5)),
    lambda m: m.fft.fft2(m.ones(3)),
    lambda m: m.fft.rfftn(m.tensor(1.0)),
    lambda m: m.fft.rfftn(m.ones(4, 5), dim=()),
    lambda m: m.fft.fftfreq(-1),
], ids=lambda c: "")
def test_errors_match_pytorch(case):
    _raises_like_torch(case)


def test_empty_batches_and_zero_length_signals():
    """Empty batches give empty results as numpy's (PyTorch's MKL backend raises on them)."""
    assert tuple(torch.fft.fft(torch.ones(0, 5)).shape) == np.fft.fft(np.ones((0, 5))).shape
    assert tuple(torch.fft.rfft(torch.ones(0, 8)).shape) == np.fft.rfft(np.ones((0, 8))).shape
    assert tuple(torch.fft.irfft(torch.ones(0, 3)).shape) == (0, 4)
    close(numpy_of(torch.fft.fft(torch.ones(3, 0), n=4)), np.zeros((3, 4)), 4)
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\) specified"):
        torch.fft.irfftn(torch.ones(2, 0, 3))


@pytest.mark.skipif(not HAVE_TORCH, reason="needs PyTorch")
def test_freq_and_shift_helpers_match_pytorch():
    for n, d in [(1, 1.0), (5, 0.1), (6, 2.0), (0, 1.0)]:
        np.testing.assert_allclose(torch.fft.fftfreq(n, d).cpu().numpy(), real_torch.fft.fftfreq(n, d).numpy())
        np.testing.assert_allclose(torch.fft.rfftfreq(n, d).cpu().numpy(), real_torch.fft.rfftfreq(n, d).numpy())
    assert torch.fft.fftfreq(4, dtype=torch.float16).dtype == torch.float16
    a = np.arange(30, dtype=np.float32).reshape(5, 6)
    for fn in ("fftshift", "ifftshift"):
        for dim in (None, 0, (1,), (-1, 0)):
            ours = getattr(torch.fft, fn)(torch.tensor(a), dim=dim).cpu().numpy()
            theirs = getattr(real_torch.fft, fn)(real_torch.tensor(a), dim=dim).numpy()
            np.testing.assert_array_equal(ours, theirs)


# ---- gradients -----------------------------------------------------------------------------------
GRAD_CASES = [("fft", {}), ("fft", {"n": 11, "norm": "ortho"}), ("ifft", {"n": 5}), ("rfft", {}),
              ("rfft", {"n": 13, "norm": "forward"}), ("irfft", {}), ("irfft", {"n": 7, "norm": "ortho"}),
              ("hfft", {"n": 10}), ("ihfft", {"n": 6}), ("fft2", {"s": (4, 9)}), ("rfftn", {}),
              ("irfftn", {"s": (5, 6)}), ("hfftn", {}), ("ihfft2", {"norm": "ortho"}), ("ifftn", {"dim": 0})]


def _loss(lib, y, w):
    """A real loss that weighs every real and imaginary part differently."""
    parts = lib.view_as_real(y.resolve_conj() if lib is real_torch else y) if y.is_complex() else y
    return (parts * w).sum()


def _grad(lib, name, x, kwargs, weight_rng):
    y = getattr(lib.fft, name)(x, **kwargs)
    shape = tuple(y.shape) + ((2,) if y.is_complex() else ())
    w = lib.tensor(np.random.default_rng(weight_rng).standard_normal(shape).astype(np.float32))
    _loss(lib, y, w).backward()
    return x.grad


GRAD_PARAMS = [(name, kwargs, complex_input) for name, kwargs in GRAD_CASES for complex_input in (False, True)
               if not (complex_input and name in REAL_ONLY)]


@pytest.mark.skipif(not HAVE_TORCH, reason="needs PyTorch")
@pytest.mark.parametrize("name,kwargs,complex_input", GRAD_PARAMS,
                         ids=[f"{n}-{k}-{'complex' if c else 'real'}" for n, k, c in GRAD_PARAMS])
def test_gradients_match_pytorch(name, kwargs, complex_input):
    x = crandn(6, 8).astype(np.complex64) if complex_input else RNG.standard_normal((6, 8)).astype(np.float32)
    ours = _grad(torch, name, torch.tensor(x, requires_grad=True), kwargs, 7)
    theirs = _grad(real_torch, name, real_torch.tensor(x, requires_grad=True), kwargs, 7)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    close(numpy_of(ours), theirs.detach().numpy().astype(np.complex128), 16)


@pytest.mark.skipif(not HAVE_TORCH, reason="needs PyTorch")
def test_double_backward_matches_pytorch():
    x = RNG.standard_normal((4, 6)).astype(np.float32)
    results = []
    for lib in (torch, real_torch):
        t = lib.tensor(x, requires_grad=True)
        y = lib.fft.irfft(lib.fft.rfft(t, norm="ortho") * lib.fft.rfft(t), n=9)
        (g,) = lib.autograd.grad((y * y).sum(), t, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), t)
        results.append(gg.detach().cpu().numpy().astype(np.float64))
    close(results[0], results[1], 16)


@pytest.mark.fp64
@pytest.mark.parametrize("name,kwargs", [("fft", {"n": 6}), ("ifft", {"n": 9, "norm": "ortho"}),
                                         ("irfft", {"n": 7}), ("hfft", {}), ("fft2", {"s": (3, 11)}),
                                         ("irfftn", {"norm": "forward"}), ("hfft2", {"s": (4, 4)})])
def test_gradcheck_float64(name, kwargs):
    x = torch.tensor(RNG.standard_normal((3, 5, 2)), requires_grad=True)

    def f(pairs):
        y = getattr(torch.fft, name)(torch.view_as_complex(pairs), **kwargs)
        return torch.view_as_real(y) if y.is_complex() else y
    assert torch.autograd.gradcheck(f, (x,))
    r = torch.tensor(RNG.standard_normal((3, 5)), requires_grad=True)
    real_name = {"fft": "rfft", "ifft": "ihfft", "fft2": "rfft2"}.get(name)
    if real_name:
        assert torch.autograd.gradcheck(lambda t: torch.view_as_real(getattr(torch.fft, real_name)(t, **kwargs)),
                                        (r,))


def test_out_argument():
    x = RNG.standard_normal((3, 8)).astype(np.float32)
    out = torch.empty(3, 5, dtype=torch.complex64)
    assert torch.fft.rfft(torch.tensor(x), out=out) is out
    close(numpy_of(out), np.fft.rfft(x.astype(np.float64)), 8)
    resized = torch.empty(0, dtype=torch.complex64)
    torch.fft.fft2(torch.tensor(x), out=resized)
    close(numpy_of(resized), np.fft.fft2(x.astype(np.float64)), 8)
