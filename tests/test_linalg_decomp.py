"""torch.linalg (cltensor/linalg.py over cltensor/ops/decomp.py): factorisations against numpy in
float64 and PyTorch, reconstructions, batched/empty/non-contiguous inputs, PyTorch's errors, and
float64 finite-difference gradients."""
import math

import numpy as np
import pytest

import cltensor as torch
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, assert_close, needs_fp64, np_of, real_torch

LA = torch.linalg
FLOATS = [torch.float32, pytest.param(torch.float64, marks=needs_fp64)]
# float32 solves lose about cond(A) * eps; the random matrices below are well conditioned
RTOL = {"float32": 2e-4, "float64": 1e-10}


def rtol(dtype):
    return RTOL[dtype.name]


def rng():
    return np.random.default_rng(7)


def well_conditioned(shape, dtype, r=None):
    """Random matrices with a dominant diagonal (so LU and solves stay accurate in float32)."""
    r = r or rng()
    n = shape[-1]
    return (r.standard_normal(shape) + 2 * np.sqrt(n) * np.eye(n)).astype(dtype.np)


def spd(shape, dtype, r=None):
    r = r or rng()
    x = r.standard_normal(shape)
    return (x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype.np)


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def f64_leaf(x):
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).requires_grad_()


SHAPES = [(0, 0), (1, 1), (5, 5), (3, 4, 4), (2, 3, 6, 6), (0, 3, 3), (2, 0, 0), (70, 70), (2, 130, 130)]


# ---- Cholesky ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
def test_cholesky_matches_numpy_and_reconstructs(dtype, shape):
    a = spd(shape, dtype)
    L = LA.cholesky(t(a))
    assert L.shape == a.shape and L.dtype is dtype
    if a.size:
        assert_close(L, np.linalg.cholesky(a.astype(np.float64)), rtol=rtol(dtype), atol=rtol(dtype) * 10)
        assert_close(L @ L.mT, a, rtol=rtol(dtype), atol=rtol(dtype) * shape[-1])
    U = LA.cholesky(t(a), upper=True)
    assert_close(U, np.swapaxes(np_of(L), -1, -2), rtol=rtol(dtype), atol=rtol(dtype))


def test_cholesky_reads_only_the_lower_triangle_of_non_contiguous_input():
    a = spd((3, 5, 5), torch.float32)
    garbage = np.triu(np.full((5, 5), 99.0, np.float32), 1)
    x = t(np.swapaxes(np.tril(a) + garbage, -1, -2)).mT  # a transposed view: lower part holds a
    assert not x.is_contiguous()
    assert_close(LA.cholesky(x), np.linalg.cholesky(a.astype(np.float64)), rtol=1e-4, atol=1e-4)
    assert_close(torch.cholesky(t(a)[:, ::1]), np.linalg.cholesky(a.astype(np.float64)), rtol=1e-4, atol=1e-4)


def test_cholesky_errors_like_pytorch():
    a = spd((3, 4, 4), torch.float32)
    a[1, 2, 2] = -100.0  # leading minor of order 3 of batch element 1
    with pytest.raises(LA.LinAlgError, match=r"^linalg.cholesky: \(Batch element 1\): The factorization could not be "
                       r"completed because the input is not positive-definite \(the leading minor of order 3 is not "
                       r"positive-definite\).$"):
        LA.cholesky(t(a))
    assert issubclass(LA.LinAlgError, RuntimeError)
    L, info = LA.cholesky_ex(t(a))
    assert info.dtype is torch.int32 and info.tolist() == [0, 3, 0]
    with pytest.raises(LA.LinAlgError, match=r"^linalg.cholesky: The factorization .* order 1 is"):
        LA.cholesky(-t(np.eye(2, dtype=np.float32)))
    with pytest.raises(RuntimeError, match="linalg.cholesky: The input tensor A must have at least 2 dimensions."):
        LA.cholesky(torch.ones(3))
    with pytest.raises(RuntimeError, match="linalg.cholesky: A must be batches of square matrices, but they are 2 "
                                           "by 3 matrices"):
        LA.cholesky(torch.ones(2, 3))
    with pytest.raises(RuntimeError, match="linalg.cholesky: Expected a floating point or complex tensor as input. "
                                           "Got Long"):
        LA.cholesky(torch.ones(2, 2, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="Low precision dtypes not supported. Got Half"):
        LA.cholesky(torch.ones(2, 2, dtype=torch.float16))


def test_cholesky_error_in_a_later_block_of_a_blocked_factorisation():
    a = spd((100, 100), torch.float32)
    a[80, 80] = -1e4
    _, info = LA.cholesky_ex(t(a))
    assert info.item() == 81


@pytest.mark.skipif(not HAVE_TORCH, reason="compares with PyTorch")
def test_cholesky_error_message_is_pytorchs():
    a = -np.eye(3, dtype=np.float32)[None].repeat(2, 0)
    with pytest.raises(real_torch.linalg.LinAlgError) as want:
        real_torch.linalg.cholesky(real_torch.from_numpy(a))
    with pytest.raises(LA.LinAlgError) as got:
        LA.cholesky(t(a))
    assert str(got.value) == str(want.value)


# ---- LU ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(4, 4), (2, 5, 3), (3, 3, 5), (0, 2, 2), (2, 0, 3), (150, 150), (3, 90, 70),
                                   (2, 70, 90)])
def test_lu_reconstructs_and_pivots_like_lapack(dtype, shape):
    a = rng().standard_normal(shape).astype(dtype.np)
    LU, piv, info = LA.lu_factor_ex(t(a))
    assert piv.dtype is torch.int32 and piv.shape == (*shape[:-2], min(shape[-2:]))
    assert (np_of(info) == 0).all()
    P, L, U = LA.lu(t(a))
    assert_close(P @ L @ U, a, rtol=rtol(dtype), atol=rtol(dtype) * 10)
    if HAVE_TORCH:
        ref = real_torch.linalg.lu_factor(real_torch.from_numpy(a.astype(np.float64)))
        np.testing.assert_array_equal(np_of(piv), ref.pivots.cpu().numpy())
        assert_close(LU, ref.LU.cpu().numpy(), rtol=rtol(dtype) * 10, atol=rtol(dtype) * 10)


def test_lu_of_singular_matrix_and_errors():
    a = np.array([[1.0, 2.0], [2.0, 4.0]], np.float32)
    _, _, info = LA.lu_factor_ex(t(a))
    assert info.item() == 2
    with pytest.raises(RuntimeError, match=r"torch.linalg.lu_factor: U\[2,2\] is zero"):
        LA.lu_factor(t(a))
    with pytest.raises(RuntimeError, match="LU without pivoting is not implemented"):
        LA.lu_factor(t(a), pivot=False)
    P, L, U = LA.lu(t(a))
    assert_close(P @ L @ U, a)


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
def test_lu_solve_matches_numpy(left, adjoint):
    a = well_conditioned((2, 5, 5), torch.float32)
    b = rng().standard_normal((2, 5, 3) if left else (2, 3, 5)).astype(np.float32)
    LU, piv = LA.lu_factor(t(a))
    x = LA.lu_solve(LU, piv, t(b), left=left, adjoint=adjoint)
    op = np.swapaxes(a, -1, -2) if adjoint else a
    want = np.linalg.solve(op.astype(np.float64), b) if left else \
        np.swapaxes(np.linalg.solve(np.swapaxes(op, -1, -2).astype(np.float64), np.swapaxes(b, -1, -2)), -1, -2)
    assert_close(x, want, rtol=1e-4, atol=1e-5)


# ---- solve, inv, det --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("a_shape,b_shape", [((4, 4), (4, 2)), ((3, 4, 4), (3, 4, 1)), ((2, 1, 5, 5), (3, 5, 2)),
                                             ((5, 5), (2, 3, 5, 4)), ((3, 3), (3,)), ((2, 3, 3), (2, 3)),
                                             ((0, 3, 3), (0, 3, 2)), ((0, 0), (0, 2)), ((100, 100), (100, 3))])
def test_solve_broadcasts_like_numpy(dtype, a_shape, b_shape):
    a = well_conditioned(a_shape, dtype)
    b = rng().standard_normal(b_shape).astype(dtype.np)
    x = LA.solve(t(a), t(b))
    vector = len(b_shape) == 1 or b_shape == a_shape[:-1]
    bb = b[..., None] if vector else b
    want = np.linalg.solve(a.astype(np.float64), bb)
    assert_close(x, want[..., 0] if vector else want, rtol=rtol(dtype), atol=rtol(dtype))


def test_solve_left_false_non_contiguous_and_errors():
    a = well_conditioned((3, 4, 4), torch.float32)
    b = rng().standard_normal((3, 2, 4)).astype(np.float32)
    x = LA.solve(t(a).mT, t(b), left=False)  # X A^T = B
    assert_close(x @ t(a).mT, b, rtol=1e-4, atol=1e-4)
    singular = a.copy()
    singular[1] = 0
    with pytest.raises(LA.LinAlgError, match=r"^torch.linalg.solve: \(Batch element 1\): The solver failed because "
                                             r"the input matrix is singular.$"):
        LA.solve(t(singular), t(b).mT)
    x, info = LA.solve_ex(t(singular), t(b).mT)
    assert info.tolist() == [0, 1, 0]
    with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                                           r"\(4x4 and 3x1\)"):
        LA.solve(t(a[0]), torch.ones(3))
    with pytest.raises(RuntimeError, match="Expected A and B to have the same dtype, but found A of type Float and B "
                                           "of type Int instead"):
        LA.solve(t(a[0]), torch.ones(4, dtype=torch.int32))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (3, 5, 5), (0, 2, 2), (0, 0), (80, 80)])
def test_inv_det_slogdet_match_numpy(dtype, shape):
    a = well_conditioned(shape, dtype)
    a64 = a.astype(np.float64)
    inv = LA.inv(t(a))
    assert_close(inv, np.linalg.inv(a64), rtol=rtol(dtype), atol=rtol(dtype))
    assert_close(torch.inverse(t(a)), np_of(inv))
    small = shape[-1] <= 5  # keep determinants in float32's range
    if small:
        assert_close(LA.det(t(a)), np.linalg.det(a64), rtol=rtol(dtype) * 10, atol=rtol(dtype))
    sign, logabs = LA.slogdet(t(a))
    want_sign, want_log = np.linalg.slogdet(a64)
    assert_close(sign, want_sign)
    assert_close(logabs, want_log, rtol=rtol(dtype), atol=rtol(dtype) * 10)
    assert_close(t(a).logdet(), np.where(want_sign < 0, np.nan, want_log), rtol=rtol(dtype), atol=rtol(dtype) * 10)


def test_singular_matrices_det_slogdet_inv():
    a = np.array([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]]], np.float32)
    assert_close(LA.det(t(a)), [0.0, -1.0])
    sign, logabs = LA.slogdet(t(a))
    assert sign.tolist() == [0.0, -1.0] and logabs.tolist() == [-math.inf, 0.0]
    assert math.isnan(torch.logdet(t(a[1])).item())
    with pytest.raises(LA.LinAlgError, match=r"^linalg.inv: \(Batch element 0\): The diagonal element 2 is zero, the "
                                             r"inversion could not be completed because the input matrix is "
                                             r"singular.$"):
        LA.inv(t(a))
    _, info = LA.inv_ex(t(a))
    assert info.tolist() == [2, 0]
    with pytest.raises(RuntimeError, match="linalg.inv: A must be batches of square matrices, but they are 2 by 3"):
        LA.inv(torch.ones(2, 3))
    with pytest.raises(RuntimeError, match="linalg.det: Expected a floating point or complex tensor as input. Got "
                                           "Long"):
        LA.det(torch.ones(2, 2, dtype=torch.int64))


def test_batched_small_solves_float32():
    a = well_conditioned((1024, 32, 32), torch.float32)
    b = rng().standard_normal((1024, 32, 1)).astype(np.float32)
    x = LA.solve(t(a), t(b))
    assert_close(x, np.linalg.solve(a.astype(np.float64), b), rtol=1e-4, atol=1e-5)


# ---- triangular solves --------------------------------------------------------------------------------------
@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular_matches_numpy(upper, left, unit):
    a = well_conditioned((2, 1, 5, 5), torch.float32)
    b = rng().standard_normal((3, 5, 4) if left else (3, 4, 5)).astype(np.float32)
    tri = np.triu(a) if upper else np.tril(a)
    if unit:
        tri = tri - np.diagonal(tri, 0, -2, -1)[..., None] * np.eye(5) + np.eye(5)
    x = LA.solve_triangular(t(a), t(b), upper=upper, left=left, unitriangular=unit)
    tri64 = tri.astype(np.float64)
    want = np.linalg.solve(tri64, b) if left else \
        np.swapaxes(np.linalg.solve(np.swapaxes(tri64, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    assert_close(x, want, rtol=1e-4, atol=1e-5)


def test_solve_triangular_errors():
    with pytest.raises(RuntimeError, match=r"linalg.solve_triangular: Incompatible shapes of A and B for the equation "
                                           r"AX = B \(3x3 and 2x3\)"):
        LA.solve_triangular(torch.eye(3), torch.ones(2, 3), upper=False)
    with pytest.raises(TypeError):
        LA.solve_triangular(torch.eye(3), torch.ones(3, 1))


# ---- Cholesky-based names -------------------------------------------------------------------------------
@pytest.mark.parametrize("upper", [True, False])
def test_cholesky_solve_and_inverse(upper):
    a = spd((2, 4, 4), torch.float32)
    b = rng().standard_normal((2, 4, 3)).astype(np.float32)
    factor = LA.cholesky(t(a), upper=upper)
    assert_close(torch.cholesky_solve(t(b), factor, upper), np.linalg.solve(a.astype(np.float64), b), rtol=1e-4,
                 atol=1e-5)
    assert_close(factor.cholesky_inverse(upper), np.linalg.inv(a.astype(np.float64)), rtol=1e-4, atol=1e-5)
    assert_close(t(a).cholesky(upper), np_of(factor))


# ---- norms, products and helpers --------------------------------------------------------------------------
@pytest.mark.parametrize("ord", [2, 1, 0, 3.5, math.inf, -math.inf, -1])
def test_vector_norm(ord):
    x = rng().standard_normal((3, 4, 5)).astype(np.float32)
    assert_close(LA.vector_norm(t(x), ord), np.linalg.norm(x.ravel(), ord), rtol=1e-5)
    assert_close(LA.vector_norm(t(x), ord, dim=(0, 2), keepdim=True),
                 np.linalg.norm(np.moveaxis(x, 1, -1).reshape(-1, 4), ord, axis=0).reshape(1, 4, 1), rtol=1e-5)
    with pytest.raises(RuntimeError, match="linalg.vector_norm: Expected a floating point or complex tensor as input. "
                                           "Got Long"):
        LA.vector_norm(torch.ones(3, dtype=torch.int64))


@pytest.mark.parametrize("ord", ["fro", 1, -1, math.inf, -math.inf])
def test_matrix_norm_and_norm(ord):
    x = rng().standard_normal((2, 3, 4)).astype(np.float32)
    want = np.linalg.norm(x, ord, axis=(-2, -1))
    assert_close(LA.matrix_norm(t(x), ord), want, rtol=1e-5)
    assert_close(LA.norm(t(x), ord, dim=(-2, -1)), want, rtol=1e-5)
    assert_close(LA.matrix_norm(t(x), ord, dim=(0, 2), keepdim=True),
                 np.linalg.norm(x, ord, axis=(0, 2), keepdims=True), rtol=1e-5)
    assert_close(LA.norm(t(x[0]), ord), np.linalg.norm(x[0], ord), rtol=1e-5)


def test_norm_errors_and_defaults():
    x = rng().standard_normal((2, 3, 4)).astype(np.float32)
    assert_close(LA.norm(t(x)), np.linalg.norm(x.ravel()), rtol=1e-5)
    with pytest.raises(RuntimeError, match="linalg.norm: If dim is not specified but ord is, the input must be 1D or "
                                           "2D. Got 3D."):
        LA.norm(t(x), 2)
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: Order 3 not supported."):
        LA.matrix_norm(t(x), 3)
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: The input tensor A must have at least 2 dimensions."):
        LA.matrix_norm(torch.ones(3))


def test_cross_vecdot_diagonal():
    a = rng().standard_normal((4, 3)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((1, 3)).astype(np.float32)
    assert_close(LA.cross(t(a), t(b)), np.cross(a, b), rtol=1e-5, atol=1e-6)
    assert_close(torch.cross(t(a.T.copy()), t(a[::-1].T.copy()), dim=0), np.cross(a.T, a[::-1].T, axis=0),
                 rtol=1e-5, atol=1e-6)
    with pytest.warns(UserWarning, match="Using torch.cross without specifying the dim arg is deprecated"):
        assert_close(t(a).cross(t(a[::-1].copy())), np.cross(a, a[::-1]), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="linalg.cross: inputs dimension -1 must have length 3. Got 2 and 2"):
        LA.cross(torch.ones(2), torch.ones(2))
    assert_close(LA.vecdot(t(a), t(b)), (a * b).sum(-1), rtol=1e-5, atol=1e-6)
    m = rng().standard_normal((2, 3, 4)).astype(np.float32)
    assert_close(LA.diagonal(t(m), offset=1), np.diagonal(m, 1, -2, -1))


def test_multi_dot_matmul_matrix_power_vander():
    r = rng()
    mats = [r.standard_normal(s).astype(np.float32) for s in [(5,), (5, 30), (30, 2), (2, 7), (7,)]]
    assert_close(LA.multi_dot([t(m) for m in mats]), np.linalg.multi_dot(mats), rtol=1e-4, atol=1e-4)
    assert_close(torch.chain_matmul(*[t(m) for m in mats[1:4]]), np.linalg.multi_dot(mats[1:4]), rtol=1e-4, atol=1e-4)
    with pytest.raises(RuntimeError, match=r"multi_dot\(\): expected at least 2 tensors but got 1"):
        LA.multi_dot([torch.ones(2, 2)])
    assert_close(LA.matmul(t(mats[1]), t(mats[2])), mats[1] @ mats[2], rtol=1e-5, atol=1e-5)
    a = well_conditioned((2, 4, 4), torch.float32) / 4
    for n in (0, 1, 2, 5, -1, -3):
        assert_close(LA.matrix_power(t(a), n), np.linalg.matrix_power(a.astype(np.float64), n), rtol=1e-4, atol=1e-5)
    assert_close(t(a).matrix_power(3), np.linalg.matrix_power(a.astype(np.float64), 3), rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match="linalg.matrix_power: A must be batches of square matrices"):
        LA.matrix_power(torch.ones(2, 3), 2)
    x = np.array([[1, 2, 3], [2, -1, 0]])
    assert_close(LA.vander(t(x)), np.stack([np.vander(row, increasing=True) for row in x]))
    assert_close(LA.vander(t(x[0]), N=5), np.vander(x[0], 5, increasing=True))
    assert_close(torch.vander(t(x[0].astype(np.float32))), np.vander(x[0]))


def test_tensorinv_tensorsolve():
    a = well_conditioned((6, 6), torch.float32).reshape(6, 2, 3)
    assert_close(LA.tensorinv(t(a), ind=1), np.linalg.tensorinv(a.astype(np.float64), ind=1), rtol=1e-4, atol=1e-5)
    b = rng().standard_normal(6).astype(np.float32)
    assert_close(LA.tensorsolve(t(a), t(b)), np.linalg.tensorsolve(a.astype(np.float64), b), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not HAVE_TORCH, reason="compares with PyTorch")
def test_lu_unpack_and_torch_names_match_pytorch():
    a = rng().standard_normal((2, 5, 3)).astype(np.float32)
    LU, piv = LA.lu_factor(t(a))
    P, L, U = torch.lu_unpack(LU, piv)
    want = real_torch.lu_unpack(*real_torch.linalg.lu_factor(real_torch.from_numpy(a)))
    for got, ref in zip((P, L, U), want):
        assert_close(got, ref.cpu().numpy(), rtol=1e-5, atol=1e-6)


# ---- gradients (float64 finite differences; PyTorch's conventions) ---------------------------------------
def _grad_inputs():
    r = rng()
    a = r.standard_normal((2, 3, 3)) + 2 * np.eye(3)
    return a, r.standard_normal((2, 3, 2))


@needs_fp64
def test_gradcheck_solve_inv_det_slogdet():
    a, b = _grad_inputs()
    assert gradcheck(lambda x, y: LA.solve(x, y), [f64_leaf(a), f64_leaf(b)])
    assert gradcheck(lambda x, y: LA.solve(x, y, left=False), [f64_leaf(a), f64_leaf(np.swapaxes(b, -1, -2))])
    assert gradcheck(lambda x, y: LA.solve(x, y), [f64_leaf(a), f64_leaf(b[..., 0])])
    assert gradcheck(LA.inv, [f64_leaf(a)])
    assert gradcheck(LA.det, [f64_leaf(a)])
    assert gradcheck(lambda x: LA.slogdet(x).logabsdet, [f64_leaf(a)])
    assert gradcheck(lambda x: LA.lu(x)[1:], [f64_leaf(a)])
    assert gradcheck(lambda x: LA.lu_factor(x).LU, [f64_leaf(a)])
    assert gradcheck(lambda x: LA.matrix_norm(x, 1), [f64_leaf(a)])


@needs_fp64
@pytest.mark.parametrize("left, adjoint", [(True, False), (True, True), (False, False), (False, True)])
def test_gradcheck_lu_solve_in_lu_and_b(left, adjoint):
    rng = np.random.default_rng(31)
    a, b = rng.standard_normal((2, 4, 4)), rng.standard_normal((2, 4, 3) if left else (2, 3, 4))
    LU, piv = LA.lu_factor(t(a))
    assert gradcheck(lambda lu, y: LA.lu_solve(lu, piv, y, left=left, adjoint=adjoint), [f64_leaf(np_of(LU)), f64_leaf(b)])


@needs_fp64
def test_gradcheck_qr_of_wide_matrices():
    wide = np.random.default_rng(32).standard_normal((2, 3, 5))
    assert gradcheck(LA.qr, [f64_leaf(wide)])
    assert gradcheck(lambda x: LA.qr(x, mode="complete"), [f64_leaf(wide)])


@pytest.mark.skipif(not HAVE_TORCH, reason="compares with PyTorch")
def test_lu_solve_and_wide_qr_gradients_match_pytorch():
    rng = np.random.default_rng(33)
    a, b, w = rng.standard_normal((3, 4, 4)), rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 5))
    tLU, tpiv = real_torch.linalg.lu_factor(real_torch.tensor(a, dtype=real_torch.float32))
    grads = []
    for lib, tensor in ((torch, lambda x: t(np.asarray(x, np.float32))),
                        (real_torch, lambda x: real_torch.tensor(x, dtype=real_torch.float32))):
        lu, y, wide = tensor(tLU.cpu().numpy()).requires_grad_(), tensor(b).requires_grad_(), tensor(w).requires_grad_()
        (lib.linalg.lu_solve(lu, t(tpiv.cpu().numpy()) if lib is torch else tpiv, y) ** 2).sum().backward()
        Q, R = lib.linalg.qr(wide)
        (Q.sum() + (R * R).sum()).backward()
        grads.append([g.grad.cpu().numpy() for g in (lu, y, wide)])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-4)


@needs_fp64
def test_gradcheck_cholesky_and_triangular():
    a, b = _grad_inputs()
    s = a @ np.swapaxes(a, -1, -2) + 3 * np.eye(3)
    for upper in (False, True):
        assert gradcheck(lambda x: LA.cholesky(x @ x.mT, upper=upper), [f64_leaf(s)])
        for left in (True, False):
            rhs = b if left else np.swapaxes(b, -1, -2)
            assert gradcheck(lambda x, y: LA.solve_triangular(x, y, upper=upper, left=left),
                             [f64_leaf(a), f64_leaf(rhs)])
    assert gradcheck(lambda x, y: torch.cholesky_solve(y, x), [f64_leaf(np.linalg.cholesky(s)), f64_leaf(b)])


@needs_fp64
@pytest.mark.skipif(not HAVE_TORCH, reason="compares with PyTorch")
def test_cholesky_gradient_is_pytorchs_symmetric_one():
    a, _ = _grad_inputs()
    s = a @ np.swapaxes(a, -1, -2) + 3 * np.eye(3)
    w = rng().standard_normal(s.shape)
    ours = f64_leaf(s)
    (LA.cholesky(ours) * torch.from_numpy(w)).sum().backward()
    ref = real_torch.from_numpy(s).requires_grad_()
    (real_torch.linalg.cholesky(ref) * real_torch.from_numpy(w)).sum().backward()
    assert_close(ours.grad, ref.grad.cpu().numpy(), rtol=1e-10, atol=1e-12)


# ---- QR, SVD, eigh and what is built on them ---------------------------------------------------------
QR_SHAPES = [(5, 3), (4, 4), (3, 6), (2, 7, 5), (0, 3, 3), (3, 0), (0, 0), (2, 40, 33)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", QR_SHAPES)
def test_qr_modes_reconstruct_and_match_lapacks_householder_convention(dtype, shape):
    a = rng().standard_normal(shape).astype(dtype.np)
    m, n = shape[-2:]
    k = min(m, n)
    for mode, q_cols, r_rows in (("reduced", k, k), ("complete", m, m), ("r", None, k)):
        Q, R = LA.qr(t(a), mode=mode)
        assert R.shape == (*shape[:-2], r_rows, n)
        assert_close(R, np.triu(np_of(R)))
        if mode == "r":
            assert Q.numel() == 0
            continue
        assert Q.shape == (*shape[:-2], m, q_cols)
        assert_close(Q @ R, a, rtol=rtol(dtype), atol=rtol(dtype) * 10)
        assert_close(Q.mT @ Q, np.broadcast_to(np.eye(q_cols), Q.shape[:-2] + (q_cols, q_cols)), atol=rtol(dtype) * 10)
        if HAVE_TORCH and a.size:
            want = real_torch.linalg.qr(real_torch.from_numpy(a.astype(np.float64)), mode=mode)
            assert_close(R, want.R.cpu().numpy(), rtol=rtol(dtype) * 10, atol=rtol(dtype) * 10)


def test_qr_non_contiguous_householder_product_and_errors():
    a = rng().standard_normal((3, 6, 4)).astype(np.float32)
    Q, R = torch.qr(t(a).mT.mT[:, ::1])
    assert_close(Q @ R, a, rtol=1e-5, atol=1e-5)
    reflectors, tau = torch.geqrf(t(a))
    assert_close(LA.householder_product(reflectors, tau), np_of(Q), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'x' but expected one of 'reduced'"):
        LA.qr(t(a), mode="x")
    with pytest.raises(RuntimeError, match="input.shape\\[-2\\] must be greater than or equal to input.shape\\[-1\\]"):
        LA.householder_product(t(a).mT, tau)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", QR_SHAPES + [(3, 3, 1), (1, 8)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd_matches_numpy_and_reconstructs(dtype, shape, full_matrices):
    a = rng().standard_normal(shape).astype(dtype.np)
    m, n = shape[-2:]
    k = min(m, n)
    U, S, Vh = LA.svd(t(a), full_matrices=full_matrices)
    ucols, vrows = (m, n) if full_matrices else (k, k)
    assert U.shape == (*shape[:-2], m, ucols) and S.shape == (*shape[:-2], k) and Vh.shape == (*shape[:-2], vrows, n)
    want = np.linalg.svd(a.astype(np.float64), compute_uv=False) if a.size else np.zeros(S.shape)
    assert_close(S, want, rtol=rtol(dtype), atol=rtol(dtype) * 10)
    assert_close(LA.svdvals(t(a)), np_of(S), rtol=rtol(dtype), atol=rtol(dtype))
    assert_close((U[..., :k] * S.unsqueeze(-2)) @ Vh[..., :k, :], a, rtol=rtol(dtype), atol=rtol(dtype) * 10)
    assert_close(U.mT @ U, np.broadcast_to(np.eye(ucols), U.shape[:-2] + (ucols, ucols)), atol=rtol(dtype) * 10)
    assert_close(Vh @ Vh.mT, np.broadcast_to(np.eye(vrows), Vh.shape[:-2] + (vrows, vrows)), atol=rtol(dtype) * 10)


def test_svd_of_rank_deficient_matrix_keeps_u_orthonormal():
    x = rng().standard_normal((6, 2)).astype(np.float32)
    a = x @ x[:3].T  # 6 x 3 of rank 2
    U, S, Vh = LA.svd(t(a))
    assert abs(S[-1].item()) < 1e-5
    assert_close(U.mT @ U, np.eye(6), atol=1e-5)
    assert LA.matrix_rank(t(a)).item() == 2
    assert_close(LA.pinv(t(a)), np.linalg.pinv(a.astype(np.float64), rcond=1e-5), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (3, 6, 6), (0, 4, 4), (0, 0), (33, 33)])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_matches_numpy(dtype, shape, uplo):
    a = rng().standard_normal(shape).astype(dtype.np)
    L, V = LA.eigh(t(a), UPLO=uplo)
    want = np.linalg.eigvalsh(a.astype(np.float64), UPLO=uplo) if a.size else np.zeros(shape[:-1])
    n = shape[-1]
    scale = max(1.0, np.abs(want).max()) if want.size else 1.0
    assert_close(L, want, rtol=rtol(dtype), atol=rtol(dtype) * 10 * scale)
    assert_close(LA.eigvalsh(t(a), UPLO=uplo), np_of(L))
    sym = np.tril(a) + np.swapaxes(np.tril(a, -1), -1, -2) if uplo == "L" else \
        np.triu(a) + np.swapaxes(np.triu(a, 1), -1, -2)
    assert_close((V * L.unsqueeze(-2)) @ V.mT, sym, atol=rtol(dtype) * 10 * scale)
    assert_close(V.mT @ V, np.broadcast_to(np.eye(n), V.shape), atol=rtol(dtype) * 10)


def test_eigh_repeated_eigenvalues_and_errors():
    a = np.diag([2.0, 2.0, -1.0, 5.0]).astype(np.float32)
    q = np.linalg.qr(rng().standard_normal((4, 4)))[0].astype(np.float32)
    L, V = LA.eigh(t(q @ a @ q.T))
    assert_close(L, [-1.0, 2.0, 2.0, 5.0], atol=1e-5)
    assert_close(V.mT @ V, np.eye(4), atol=1e-5)
    with pytest.raises(RuntimeError, match="Expected UPLO argument to be 'L' or 'U', but got X"):
        LA.eigh(t(a), UPLO="X")
    with pytest.raises(RuntimeError, match="linalg.eigh: A must be batches of square matrices"):
        LA.eigh(torch.ones(2, 3))


def test_eig_and_eigvals_return_complex_results_as_pytorch():
    for a in (np.array([[2.0, 1.0], [0.0, 3.0]], np.float32), np.array([[0.0, -1.0], [1.0, 0.0]], np.float32),
              np.random.default_rng(3).standard_normal((3, 4, 4)).astype(np.float32)):
        w, v = LA.eig(t(a))
        assert w.dtype is torch.complex64 and v.dtype is torch.complex64
        wn, vn = np_of(w), np_of(v)
        np.testing.assert_allclose(a.astype(np.complex128) @ vn, vn * wn[..., None, :], atol=1e-5)
        np.testing.assert_allclose(np.sort_complex(np_of(LA.eigvals(t(a))).ravel()),
                                   np.sort_complex(np.linalg.eigvals(a.astype(np.float64)).ravel()), atol=1e-5)
        if HAVE_TORCH:
            tw, tv = real_torch.linalg.eig(real_torch.tensor(a))
            np.testing.assert_allclose(wn, tw.cpu().numpy(), atol=1e-5)  # LAPACK geev both: same order and scaling
            np.testing.assert_allclose(np.abs(vn), np.abs(tv.cpu().numpy()), atol=1e-5)


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_matrix_norms_through_singular_values(ord):
    x = rng().standard_normal((2, 3, 4)).astype(np.float32)
    assert_close(LA.matrix_norm(t(x), ord), np.linalg.norm(x, ord, axis=(-2, -1)), rtol=1e-5)
    assert_close(LA.matrix_norm(t(x), ord, dim=(0, 2), keepdim=True),
                 np.linalg.norm(x, ord, axis=(0, 2), keepdims=True), rtol=1e-5)
    assert_close(LA.cond(t(x[:, :3])), np.linalg.cond(x[:, :3].astype(np.float64)), rtol=1e-4)


@pytest.mark.parametrize("driver", [None, "gels", "gelsd"])
def test_lstsq_and_pinv_match_numpy(driver):
    a = rng().standard_normal((2, 7, 3)).astype(np.float32)
    b = np.random.default_rng(3).standard_normal((2, 7, 2)).astype(np.float32)
    res = LA.lstsq(t(a), t(b), driver=driver)
    want = [np.linalg.lstsq(a[i].astype(np.float64), b[i], rcond=None) for i in range(2)]
    assert_close(res.solution, np.stack([w[0] for w in want]), rtol=1e-4, atol=1e-5)
    if driver is None:  # gelsy: no residuals
        assert res.residuals.numel() == 0
    else:
        assert_close(res.residuals, np.stack([w[1] for w in want]), rtol=1e-4, atol=1e-5)
    if driver == "gelsd":
        assert_close(res.singular_values, np.stack([w[3] for w in want]), rtol=1e-5)
    else:
        assert res.singular_values.numel() == 0
    if driver != "gels":
        assert res.rank.tolist() == [3, 3]
    assert_close(LA.pinv(t(a)), np.linalg.pinv(a.astype(np.float64)), rtol=1e-4, atol=1e-5)
    assert_close(torch.pinverse(t(a)), np.linalg.pinv(a.astype(np.float64)), rtol=1e-4, atol=1e-5)


def test_matrix_exp_matches_scipy():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    a = rng().standard_normal((3, 4, 4)).astype(np.float32) * 2
    want = np.stack([scipy_linalg.expm(m.astype(np.float64)) for m in a])
    assert_close(LA.matrix_exp(t(a)), want, rtol=1e-4, atol=1e-4)
    assert_close(t(a).matrix_exp(), want, rtol=1e-4, atol=1e-4)
    assert_close(LA.matrix_exp(torch.zeros(2, 3, 3)), np.broadcast_to(np.eye(3), (2, 3, 3)))


@needs_fp64
def test_gradcheck_qr_svd_eigh_and_composites():
    r = rng()
    tall, square = r.standard_normal((2, 4, 3)), r.standard_normal((2, 3, 3))
    assert gradcheck(LA.qr, [f64_leaf(tall)])
    assert gradcheck(lambda x: LA.qr(x)[1], [f64_leaf(square)])
    # U Vh and S do not depend on the singular vectors' signs
    assert gradcheck(lambda x: (lambda U, S, Vh: (U @ Vh, S))(*LA.svd(x, full_matrices=False)), [f64_leaf(tall)])
    assert gradcheck(lambda x: (lambda U, S, Vh: U @ Vh[..., :3, :])(*LA.svd(x)), [f64_leaf(tall.swapaxes(-1, -2))])
    assert gradcheck(LA.svdvals, [f64_leaf(tall)])
    assert gradcheck(lambda x: (lambda L, V: (L, V * V))(*LA.eigh(x + x.mT)), [f64_leaf(square)])
    assert gradcheck(LA.pinv, [f64_leaf(tall)])
    assert gradcheck(LA.matrix_exp, [f64_leaf(square)])
    assert gradcheck(lambda x: LA.matrix_norm(x, "nuc"), [f64_leaf(tall)])


@needs_fp64
@pytest.mark.skipif(not HAVE_TORCH, reason="compares with PyTorch")
def test_svd_and_eigh_gradients_are_pytorchs():
    r = rng()
    a, w = r.standard_normal((5, 3)), r.standard_normal((5, 3))
    ours, ref = f64_leaf(a), real_torch.from_numpy(a).requires_grad_()
    (lambda U, S, Vh: ((U @ Vh) * torch.from_numpy(w)).sum() + S.sum())(*LA.svd(ours, False)).backward()
    (lambda U, S, Vh: ((U @ Vh) * real_torch.from_numpy(w)).sum() + S.sum())(
        *real_torch.linalg.svd(ref, False)).backward()
    assert_close(ours.grad, ref.grad.cpu().numpy(), rtol=1e-9, atol=1e-10)
    s = a[:3] + a[:3].T
    ours, ref = f64_leaf(s), real_torch.from_numpy(s).requires_grad_()
    weights = torch.arange(3.0, dtype=torch.float64, device=ours.device)  # from_numpy's device: the host
    (lambda L, V: (L * weights).sum() + (V * V)[0].sum())(*LA.eigh(ours)).backward()
    (lambda L, V: (L * real_torch.arange(3.0, dtype=real_torch.float64)).sum() + (V * V)[0].sum())(
        *real_torch.linalg.eigh(ref)).backward()
    assert_close(ours.grad, ref.grad.cpu().numpy(), rtol=1e-9, atol=1e-10)


def test_large_qr_is_right_or_refused_where_llvmpipe_would_truncate_it():
    x = rng().standard_normal((260, 130)).astype(np.float32)
    if "llvmpipe" in torch.device("cpu").backend.cl_device.name:  # loops stop after 65535 iterations there
        with pytest.raises(RuntimeError, match="exceeds llvmpipe's limit of 65535 loop iterations"):
            LA.qr(t(x))
        return
    Q, R = LA.qr(t(x))
    assert_close(Q @ R, x, rtol=1e-4, atol=1e-4)


# ---- LDL (Bunch-Kaufman) -------------------------------------------------------------------------------
def _symmetric(shape, seed, zero_diagonal=False):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    a = a + np.swapaxes(a, -1, -2)
    if zero_diagonal:  # forces 2x2 pivots
        a[..., np.arange(shape[-1]), np.arange(shape[-1])] = 0
    return a


@pytest.mark.parametrize("shape, zero_diagonal", [((5, 5), False), ((3, 6, 6), True), ((2, 1, 1), False),
                                                  ((4, 9, 9), False), ((0, 3, 3), False), ((2, 0, 0), False)])
def test_ldl_factor_and_solve(shape, zero_diagonal):
    a = _symmetric(shape, 41, zero_diagonal)
    LD, piv = LA.ldl_factor(t(a))
    assert LD.dtype is torch.float32 and piv.dtype is torch.int32 and tuple(piv.shape) == shape[:-1]
    assert_close(LD.triu(1), np.zeros(shape))
    b = np.random.default_rng(42).standard_normal(shape[:-1] + (2,)).astype(np.float32)
    x = LA.ldl_solve(LD, piv, t(b))
    np.testing.assert_allclose(a.astype(np.float64) @ np_of(x), b, atol=2e-4)
    if HAVE_TORCH:  # LAPACK's sytrf: the same pivots and factors
        tLD, tpiv = real_torch.linalg.ldl_factor(real_torch.tensor(a))
        np.testing.assert_array_equal(np_of(piv), tpiv.cpu().numpy())
        np.testing.assert_allclose(np_of(LD), tLD.cpu().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np_of(x), real_torch.linalg.ldl_solve(tLD, tpiv, real_torch.tensor(b)).cpu().numpy(),
                                   rtol=1e-3, atol=1e-4)


def test_ldl_errors_and_info():
    res = LA.ldl_factor_ex(torch.zeros(2, 2))
    assert res.info.item() == 1 and res.pivots.tolist() == [1, 2]
    with pytest.raises(LA.LinAlgError, match="ldl_factor: The factorization could not be completed"):
        LA.ldl_factor(torch.zeros(2, 2))
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 2 by 3 matrices"):
        LA.ldl_factor(torch.zeros(2, 3))
    x = torch.tensor(_symmetric((3, 3), 43), requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not implemented"):
        LA.ldl_factor(x)[0].sum().backward()
