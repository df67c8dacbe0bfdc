"""The matmul family against numpy float64: sizes that leave edge tiles, every operand layout,
batched and broadcast products, dtypes, empty operands, PyTorch's errors, out=, and gradients.
Both GEMM variants run here: the CPU vector kernel and the GPU tiled kernel forced on PoCL."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import cltensor as torch
from cltensor import gemm_tuning
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, LAYOUTS, assert_close, layout_case, needs_fp64, np_of, real_torch

VARIANTS = ["vec", "tiled"]


@pytest.fixture(params=VARIANTS)
def variant(request):
    with gemm_tuning.forced_variant(request.param):
        yield request.param


def rand(shape, dtype=torch.float32, seed=0):
    rng = np.random.default_rng(seed)
    if dtype.is_floating_point:
        return rng.uniform(-1, 1, shape).astype(dtype.np)
    return rng.integers(-3, 4, shape).astype(dtype.np)


def reference(fn, *arrays, dtype):
    """fn over float64 (floats) or int64 (ints, wrapped back to dtype like PyTorch's result)."""
    wide = np.float64 if dtype.is_floating_point else np.int64
    return np.asarray(fn(*(a.astype(wide) for a in arrays))).astype(np.float64 if dtype.is_floating_point
                                                                    else dtype.np)


def check(got, expected, dtype, k=1):
    """Tolerance grows with the contraction length k; integers are exact."""
    if not dtype.is_floating_point:
        assert got.dtype is dtype
        np.testing.assert_array_equal(np_of(got), expected)
        return
    eps = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-14}[dtype.name]
    assert got.dtype is dtype
    assert_close(got, expected, rtol=eps * 4, atol=eps * 2 * math.sqrt(max(k, 1)))


# ---- sizes, layouts, dtypes --------------------------------------------------------------------------
SIZES = [(1, 1, 1), (3, 17, 33), (17, 3, 1), (33, 257, 17), (1, 40, 70), (70, 9, 1), (65, 33, 257)]


@pytest.mark.parametrize("m,k,n", SIZES)
def test_mm_edge_tiles(variant, m, k, n):
    a, b = rand((m, k)), rand((k, n), seed=1)
    check(torch.mm(torch.tensor(a), torch.tensor(b)), reference(np.matmul, a, b, dtype=torch.float32),
          torch.float32, k)


@pytest.mark.parametrize("layout_a", LAYOUTS)
@pytest.mark.parametrize("layout_b", LAYOUTS)
def test_mm_layouts(variant, layout_a, layout_b):
    """Transposed, stepped and expanded operands are read through their strides."""
    a, ra = layout_case(rand((19, 35)), layout_a)
    b, rb = layout_case(rand((35, 41), seed=1), layout_b)
    check(a @ b, reference(np.matmul, ra, rb, dtype=torch.float32), torch.float32, 35)


@pytest.mark.parametrize("ta,tb", [(False, True), (True, False), (True, True)])
def test_large_transposed_operands(variant, ta, tb):
    """Big enough for the launcher to copy a column-major operand, or to store the result's columns."""
    a, b = rand((160, 70)), rand((70, 144), seed=1)
    x = torch.tensor(np.ascontiguousarray(a.T)).t() if ta else torch.tensor(a)
    y = torch.tensor(np.ascontiguousarray(b.T)).t() if tb else torch.tensor(b)
    check(x @ y, a.astype(np.float64) @ b, torch.float32, 70)
    out = torch.empty(144, 160).t()  # a column-major out=
    torch.mm(x, y, out=out)
    check(out, a.astype(np.float64) @ b, torch.float32, 70)


def test_mm_slices_with_offsets(variant):
    big = rand((40, 50))
    t = torch.tensor(big)
    a, b = t[3:20, 5:38], t[2:21, 10:43].t()  # offsets, row strides of 50, a transposed slice
    check(a @ b, big[3:20, 5:38].astype(np.float64) @ big[2:21, 10:43].T, torch.float32, 33)


DTYPES = [torch.float16, torch.float32, pytest.param(torch.float64, marks=needs_fp64), torch.int32, torch.int64,
          torch.int8, torch.uint8]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: getattr(d, "name", str(d)))
@pytest.mark.parametrize("transposed", [False, True])
def test_mm_dtypes(variant, dtype, transposed):
    a, b = rand((21, 37), dtype), rand((37, 45), dtype, seed=1)
    ta = torch.tensor(a)
    tb = torch.tensor(np.ascontiguousarray(b.T)).t() if transposed else torch.tensor(b)
    check(torch.mm(ta, tb), reference(np.matmul, a, b, dtype=dtype), dtype, 37)


def test_float16_accumulates_in_float32():
    # 4096 products of 1: a float16 accumulator would stop at 2048
    a = torch.ones(1, 4096, dtype=torch.float16)
    assert (a @ a.t()).item() == 4096


def test_int64_products_do_not_overflow_int32():
    a = torch.tensor([[3_000_000_000, 2]])
    b = torch.tensor([[3], [1]])
    assert (a @ b).item() == 9_000_000_002


# ---- matmul ranks, batches, broadcasting ---------------------------------------------------------------
RANK_CASES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((2, 3, 4), (4,)),
              ((4,), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 3, 4), (2, 4, 5)),
              ((2, 1, 3, 4), (5, 4, 6)), ((1, 3, 4), (2, 4, 5)), ((3, 1, 2, 3, 4), (1, 2, 1, 4, 5)),
              ((0, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 0))]


@pytest.mark.parametrize("sa,sb", RANK_CASES, ids=str)
def test_matmul_ranks(variant, sa, sb):
    a, b = rand(sa), rand(sb, seed=1)
    out = torch.matmul(torch.tensor(a), torch.tensor(b))
    expected = reference(np.matmul, a, b, dtype=torch.float32)
    assert tuple(out.shape) == expected.shape
    check(out, expected, torch.float32, sa[-1])


def test_bmm_and_broadcast_batch_layouts(variant):
    a, b = rand((5, 7, 9)), rand((5, 9, 11), seed=1)
    ta = torch.tensor(np.ascontiguousarray(a.transpose(0, 2, 1))).transpose(1, 2)  # transposed matrices
    tb = torch.tensor(np.ascontiguousarray(b.transpose(1, 0, 2))).transpose(0, 1)  # batch not outermost
    check(torch.bmm(ta, tb), reference(np.matmul, a, b, dtype=torch.float32), torch.float32, 9)
    shared = torch.tensor(b[:1]).expand(5, 9, 11)  # stride-0 batch: one matrix for every batch
    check(torch.bmm(ta, shared), reference(np.matmul, a, np.broadcast_to(b[:1], b.shape), dtype=torch.float32),
          torch.float32, 9)


def test_batched_stepped_and_sliced(variant):
    a = rand((6, 8, 10))
    t = torch.tensor(a)
    x, y = t[::2, :, ::2], t[1::2, ::2, :7]  # [3, 8, 5] @ [3, 4, 7] needs K equal: slice again
    x = x[:, :, :4]
    check(x @ y, reference(np.matmul, a[::2, :, ::2][:, :, :4], a[1::2, ::2, :7], dtype=torch.float32),
          torch.float32, 4)


def test_fold_batch_into_rows_matches(variant):
    """[B, M, K] @ [K, N] runs as one GEMM of B*M rows when the layout allows; same values either way."""
    a, b = rand((4, 3, 6)), rand((6, 5), seed=1)
    ta = torch.tensor(a)
    check(ta @ torch.tensor(b), reference(np.matmul, a, b, dtype=torch.float32), torch.float32, 6)
    tp = torch.tensor(np.ascontiguousarray(a.transpose(1, 0, 2))).transpose(0, 1)  # rows do not continue
    check(tp @ torch.tensor(b), reference(np.matmul, a, b, dtype=torch.float32), torch.float32, 6)


# ---- empty operands ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sa,sb", [((3, 0), (0, 4)), ((0, 5), (5, 4)), ((3, 5), (5, 0)), ((0,), (0,)),
                                   ((2, 3, 0), (2, 0, 4)), ((0, 3, 2), (0, 2, 4))], ids=str)
def test_empty(sa, sb):
    out = torch.matmul(torch.ones(*sa), torch.ones(*sb))
    expected = np.matmul(np.ones(sa), np.ones(sb))
    assert tuple(out.shape) == expected.shape
    assert_close(out, expected)


def test_empty_k_with_bias_and_beta():
    out = torch.addmm(torch.full((3, 4), 2.0), torch.ones(3, 0), torch.ones(0, 4), beta=0.5)
    assert_close(out, np.full((3, 4), 1.0))


# ---- the other products ------------------------------------------------------------------------------
def test_mv_dot_vdot_inner_outer(variant):
    m, v, w = rand((9, 33)), rand((33,), seed=1), rand((33,), seed=2)
    tm, tv, tw = torch.tensor(m), torch.tensor(v), torch.tensor(w)
    check(torch.mv(tm, tv), m.astype(np.float64) @ v, torch.float32, 33)
    check(tm.t().mv(torch.tensor(rand((9,), seed=3))), m.T.astype(np.float64) @ rand((9,), seed=3),
          torch.float32, 9)
    d = torch.dot(tv, tw)
    assert d.shape == () and d.dtype is torch.float32
    check(d, np.dot(v.astype(np.float64), w), torch.float32, 33)
    check(torch.vdot(tv, tw), np.vdot(v.astype(np.float64), w), torch.float32, 33)
    check(torch.inner(tm, tm), np.inner(m.astype(np.float64), m), torch.float32, 33)
    check(tv[::3].dot(tw[::3]), np.dot(v[::3].astype(np.float64), w[::3]), torch.float32, 11)
    assert_close(torch.outer(tv, tw[:5]), np.outer(v, w[:5]), rtol=1e-6, atol=1e-7)
    assert_close(torch.ger(tv, tw[:5]), np.outer(v, w[:5]), rtol=1e-6, atol=1e-7)
    assert torch.outer(torch.ones(2, dtype=torch.int64), torch.ones(3)).dtype is torch.float32


def test_addmm_family(variant):
    x, m1, m2 = rand((5, 7)), rand((5, 6), seed=1), rand((6, 7), seed=2)
    bias = rand((7,), seed=3)
    t = torch.tensor
    check(torch.addmm(t(x), t(m1), t(m2)), x + m1.astype(np.float64) @ m2, torch.float32, 6)
    check(torch.addmm(t(bias), t(m1), t(m2), beta=0.5, alpha=-2.0),
          0.5 * bias + -2.0 * (m1.astype(np.float64) @ m2), torch.float32, 6)
    check(torch.addmm(t(x[:, :1]), t(m1), t(m2), alpha=3), x[:, :1] + 3 * (m1.astype(np.float64) @ m2),
          torch.float32, 6)
    nan = torch.full((5, 7), float("nan"))
    check(torch.addmm(nan, t(m1), t(m2), beta=0), m1.astype(np.float64) @ m2, torch.float32, 6)
    v = rand((6,), seed=4)
    check(torch.addmv(t(x[:, 0]), t(m1), t(v), beta=2, alpha=0.5), 2 * x[:, 0] + 0.5 * (m1.astype(np.float64) @ v),
          torch.float32, 6)
    check(torch.addmv(torch.tensor(1.5), t(m1), t(v)), 1.5 + m1.astype(np.float64) @ v, torch.float32, 6)
    check(torch.addr(t(x), t(m1[:, 0]), t(bias), alpha=2), x + 2 * np.outer(m1[:, 0], bias), torch.float32)
    b1, b2 = rand((3, 5, 6), seed=5), rand((3, 6, 7), seed=6)
    check(torch.baddbmm(t(bias), t(b1), t(b2), beta=-1), -bias + b1.astype(np.float64) @ b2, torch.float32, 6)
    check(torch.addbmm(t(x), t(b1), t(b2), alpha=0.25), x + 0.25 * (b1.astype(np.float64) @ b2).sum(0),
          torch.float32, 18)


def test_inplace_methods():
    x, m1, m2 = rand((5, 7)), rand((5, 6), seed=1), rand((6, 7), seed=2)
    tx = torch.tensor(x)
    r = tx.addmm_(torch.tensor(m1), torch.tensor(m2), beta=2)
    assert r is tx
    check(tx, 2 * x + m1.astype(np.float64) @ m2, torch.float32, 6)


def test_operators_and_methods():
    a, b = torch.tensor(rand((3, 4))), torch.tensor(rand((4, 2), seed=1))
    expected = np_of(a).astype(np.float64) @ np_of(b)
    for got in (a @ b, a.matmul(b), a.mm(b), b.__rmatmul__(a), torch.matmul(a, b)):
        check(got, expected, torch.float32, 4)
    with pytest.raises(TypeError):
        a @ 2
    with pytest.raises(TypeError):
        2 @ a


# ---- out= ------------------------------------------------------------------------------------------
def test_out_argument():
    a, b = torch.tensor(rand((3, 4))), torch.tensor(rand((4, 5), seed=1))
    expected = np_of(a).astype(np.float64) @ np_of(b)
    out = torch.empty(3, 5)
    assert torch.mm(a, b, out=out) is out
    check(out, expected, torch.float32, 4)
    strided = torch.zeros(5, 3).t()  # a transposed out= is written through its strides
    torch.matmul(a, b, out=strided)
    check(strided, expected, torch.float32, 4)
    wrong = torch.empty(2, 2)
    with pytest.warns(UserWarning, match="resized"):
        torch.mm(a, b, out=wrong)
    assert wrong.shape == (3, 5)
    check(wrong, expected, torch.float32, 4)
    sq = torch.tensor(rand((4, 4), seed=2))
    ref = np_of(sq).astype(np.float64) @ np_of(sq)
    torch.mm(sq, sq, out=sq)  # out aliases the inputs: computed aside, then copied
    check(sq, ref, torch.float32, 4)
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype float, but got double instead"):
        torch.mm(a, b, out=torch.from_numpy(np.empty((3, 5))))  # float64 without a kernel: any device
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        torch.mm(a.requires_grad_(), b, out=torch.empty(3, 5))


# ---- errors: PyTorch's types and messages, raised before any kernel runs -----------------------------------
def f32(*shape):
    return torch.ones(*shape)


def f64(*shape):  # from_numpy: host memory, no kernel, so devices without cl_khr_fp64 hold it too
    return torch.from_numpy(np.ones(shape))


ERRORS = [
    (lambda: torch.mm(f32(2, 3), f32(4, 5)), RuntimeError, r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (lambda: torch.mm(f32(2, 3), f64(3, 5)), RuntimeError,
     "expected m1 and m2 to have the same dtype, but got: float != double"),
    (lambda: torch.mm(f32(3), f32(3, 5)), RuntimeError, "self must be a matrix"),
    (lambda: torch.mm(f32(2, 3), f32(3)), RuntimeError, "mat2 must be a matrix"),
    (lambda: torch.bmm(f32(2, 3), f32(3, 5)), RuntimeError, "batch1 must be a 3D tensor"),
    (lambda: torch.bmm(f32(2, 2, 3), f32(2, 3)), RuntimeError, "batch2 must be a 3D tensor"),
    (lambda: torch.bmm(f32(2, 2, 3), f32(3, 4, 5)), RuntimeError,
     r"Expected size for first two dimensions of batch2 tensor to be: \[2, 3\] but got: \[3, 4\]."),
    (lambda: torch.bmm(f32(2, 2, 3), f64(2, 3, 5)), RuntimeError, "expected scalar type Float but found Double"),
    (lambda: torch.matmul(torch.tensor(1.0), f32(4, 5)), RuntimeError,
     "both arguments to matmul need to be at least 1D, but they are 0D and 2D"),
    (lambda: torch.matmul(f32(3), f32(4)), RuntimeError,
     r"inconsistent tensor size, expected tensor \[3\] and src \[4\] to have the same number of elements, "
     r"but got 3 and 4 elements respectively"),
    (lambda: torch.matmul(f32(3), f64(3)), RuntimeError,
     "dot : expected both vectors to have same dtype, but found Float and Double"),
    (lambda: torch.matmul(f32(2, 3), f32(4)), RuntimeError, r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    (lambda: torch.matmul(f32(3), f32(4, 5)), RuntimeError, r"shapes cannot be multiplied \(1x3 and 4x5\)"),
    (lambda: torch.matmul(f32(5, 2, 3), f32(4, 4)), RuntimeError, r"shapes cannot be multiplied \(10x3 and 4x4\)"),
    (lambda: torch.matmul(f32(5, 2, 3), f32(4)), RuntimeError, r"got input \(10\), mat \(10x3\), vec \(4\)"),
    (lambda: torch.matmul(f32(5, 2, 3), f32(4, 3, 4)), RuntimeError,
     "The size of tensor a .5. must match the size of tensor b .4. at non-singleton dimension 0"),
    (lambda: torch.matmul(f32(5, 2, 3), f32(5, 4, 4)), RuntimeError,
     r"Expected size for first two dimensions of batch2 tensor to be: \[5, 3\] but got: \[5, 4\]."),
    (lambda: torch.matmul(f32(5, 2, 3), f64(5, 3, 4)), RuntimeError, "expected scalar type Float but found Double"),
    (lambda: torch.matmul(f32(2, 3), f64(3, 4)), RuntimeError, "float != double"),
    (lambda: torch.dot(f32(2, 3), f32(2, 3)), RuntimeError, "1D tensors expected, but got 2D and 2D tensors"),
    (lambda: torch.dot(f32(3), f32(4)), RuntimeError,
     r"inconsistent tensor size, expected tensor \[3\] and src \[4\] to have the same number of elements, "
     r"but got 3 and 4 elements respectively"),
    (lambda: torch.dot(torch.ones(3, dtype=torch.bool), torch.ones(3, dtype=torch.bool)), NotImplementedError,
     "\"dot\" not implemented for 'Bool'"),
    (lambda: torch.mm(torch.ones(2, 2, dtype=torch.bool), torch.ones(2, 2, dtype=torch.bool)), NotImplementedError,
     "not implemented for 'Bool'"),
    (lambda: torch.mv(f32(2, 3), f32(3, 1)), RuntimeError, "vector \\+ matrix @ vector expected, got 1, 2, 2"),
    (lambda: torch.mv(f32(2, 3), f64(3)), RuntimeError,
     "addmv input tensors must have the same dtype, but got Double, Float, and Double"),
    (lambda: torch.outer(f32(3, 2), f32(4)), RuntimeError, "outer: Expected 1-D argument self, but got 2-D"),
    (lambda: torch.addmm(f32(3, 5), f32(2, 3), f32(3, 5)), RuntimeError,
     r"The expanded size of the tensor \(2\) must match the existing size \(3\) at non-singleton dimension 0"),
    (lambda: torch.addmm(f32(5), f32(2, 3), f64(3, 5)), RuntimeError,
     "mat1 and mat2 must have the same dtype, but got Float and Double"),
    (lambda: torch.addmm(f64(5), f32(2, 3), f32(3, 5)), RuntimeError,
     "self and mat2 must have the same dtype, but got Double and Float"),
    (lambda: torch.addmm(f32(5), f32(3), f32(3, 5)), RuntimeError, "mat1 must be a matrix, got 1-D tensor"),
    (lambda: torch.addbmm(f32(2, 5), f32(4, 2, 3), f32(3, 3, 5)), RuntimeError,
     "batch1 and batch2 must have same number of batches, got 4 and 3"),
    (lambda: torch.einsum("ij,jk->ik", f32(2, 3), f32(4, 4)), RuntimeError,
     "einsum\\(\\): subscript j has size 4 for operand 1 which does not broadcast with previously seen size 3"),
    (lambda: torch.einsum("ij,jk->ik", f32(2, 3)), RuntimeError, "fewer operands were provided"),
    (lambda: torch.einsum("ij->ik", f32(2, 3)), RuntimeError, "output subscript k does not appear"),
    (lambda: torch.einsum("ijk->i", f32(2, 3)), RuntimeError, "the number of subscripts in the equation \\(3\\)"),
    (lambda: torch.tensordot(f32(2, 3), f32(4, 5), dims=1), RuntimeError,
     "contracted dimensions need to match, but first has size 3 in dim 1 and second has size 4 in dim 0"),
    (lambda: torch.mm(f32(2, 3), np.ones((3, 4))), TypeError, "must be Tensor"),
]


@pytest.mark.parametrize("fn,exc,message", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_errors(fn, exc, message, monkeypatch):
    from cltensor import launch

    def no_launch(*args, **kwargs):
        raise AssertionError("a GEMM was launched before the arguments were checked")
    monkeypatch.setattr(launch.gemm, "gemm", no_launch)
    with pytest.raises(exc, match=message):
        fn()


# ---- einsum ------------------------------------------------------------------------------------------------
EINSUM_CASES = [("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,i->", [(5,), (5,)]),
                ("ij->ji", [(3, 4)]), ("ii->i", [(4, 4)]), ("ii", [(4, 4)]), ("bi,bi->b", [(3, 5), (3, 5)]),
                ("ij,kj->ik", [(3, 4), (5, 4)]), ("ij->", [(3, 4)]), ("ij->j", [(3, 4)]), ("i,j->ij", [(3,), (4,)]),
                ("ij,jk", [(3, 4), (4, 5)]), ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
                ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
                ("ij,jk,jl->il", [(2, 3), (3, 4), (3, 5)]), ("i,i,i->", [(4,), (4,), (4,)]),
                ("ijk,jk->i", [(2, 3, 4), (3, 4)]), ("ij,j->i", [(3, 4), (1,)])]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum(eq, shapes):
    arrays = [rand(s, seed=i) for i, s in enumerate(shapes)]
    got = torch.einsum(eq, *[torch.tensor(a) for a in arrays])
    expected = np.einsum(eq, *[a.astype(np.float64) for a in arrays])
    assert tuple(got.shape) == expected.shape
    check(got, expected, torch.float32, 64)


def test_einsum_list_argument():
    a = rand((3, 4))
    check(torch.einsum("ij->", [torch.tensor(a)]), a.astype(np.float64).sum(), torch.float32, 12)


# ---- autograd ------------------------------------------------------------------------------------------------
def leaf(shape, seed=0):
    return torch.tensor(rand(shape, torch.float64, seed), dtype=torch.float64, requires_grad=True)


GRAD_CASES = [
    ("mm", torch.mm, [(3, 4), (4, 2)]),
    ("bmm", torch.bmm, [(2, 3, 4), (2, 4, 2)]),
    ("matmul 1x1", torch.matmul, [(3,), (3,)]),
    ("matmul 2x1", torch.matmul, [(2, 3), (3,)]),
    ("matmul 1x2", torch.matmul, [(3,), (3, 2)]),
    ("matmul 3x2", torch.matmul, [(2, 2, 3), (3, 2)]),
    ("matmul 2x3", torch.matmul, [(2, 3), (2, 3, 2)]),
    ("matmul 1x3", torch.matmul, [(3,), (2, 3, 2)]),
    ("matmul broadcast", torch.matmul, [(2, 1, 2, 3), (2, 3, 2)]),
    ("mv", torch.mv, [(3, 4), (4,)]),
    ("dot", torch.dot, [(4,), (4,)]),
    ("vdot", torch.vdot, [(4,), (4,)]),
    ("outer", torch.outer, [(3,), (2,)]),
    ("addmm", lambda x, a, b: torch.addmm(x, a, b, beta=0.5, alpha=2), [(2,), (3, 4), (4, 2)]),
    ("addmv", lambda x, a, b: torch.addmv(x, a, b, alpha=-1), [(3,), (3, 4), (4,)]),
    ("addr", torch.addr, [(3, 1), (3,), (2,)]),
    ("baddbmm", lambda x, a, b: torch.baddbmm(x, a, b, beta=2), [(1, 2), (2, 3, 4), (2, 4, 2)]),
    ("addbmm", torch.addbmm, [(3, 2), (2, 3, 4), (2, 4, 2)]),
    ("einsum", lambda a, b: torch.einsum("bij,jk->bki", a, b), [(2, 3, 4), (4, 2)]),
    ("einsum trace", lambda a: torch.einsum("ii", a), [(3, 3)]),
    ("tensordot", lambda a, b: torch.tensordot(a, b, dims=([1, 2], [0, 1])), [(2, 3, 2), (3, 2, 2)]),
    ("transposed operands", lambda a, b: a.t() @ b.t(), [(4, 3), (2, 4)]),
]


@needs_fp64
@pytest.mark.parametrize("name,fn,shapes", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradcheck(name, fn, shapes):
    inputs = [leaf(s, seed=i) for i, s in enumerate(shapes)]
    assert gradcheck(fn, inputs)


@needs_fp64
def test_second_order_gradient():
    a, b = leaf((2, 3)), leaf((3, 2), seed=1)
    from cltensor.autograd import gradgradcheck
    assert gradgradcheck(torch.mm, [a, b])


@pytest.mark.parametrize("fn,shapes,name", [
    (torch.mm, [(2, 3), (3, 2)], "MmBackward0"), (torch.matmul, [(2, 3), (3, 2)], "MmBackward0"),
    (torch.matmul, [(3,), (3,)], "DotBackward0"), (torch.dot, [(3,), (3,)], "DotBackward0"),
    (torch.bmm, [(2, 2, 3), (2, 3, 2)], "BmmBackward0"), (torch.mv, [(2, 3), (3,)], "MvBackward0"),
    (torch.matmul, [(2, 3), (3,)], "MvBackward0"), (torch.matmul, [(2, 2, 3), (2, 3, 2)], "UnsafeViewBackward0"),
    (torch.addmm, [(2,), (2, 3), (3, 2)], "AddmmBackward0"), (torch.vdot, [(3,), (3,)], "VdotBackward0"),
    (torch.outer, [(3,), (2,)], "MulBackward0"), (torch.addmv, [(2,), (2, 3), (3,)], "AddmvBackward0"),
    (torch.baddbmm, [(2,), (2, 2, 3), (2, 3, 2)], "BaddbmmBackward0"),
])
def test_grad_fn_names(fn, shapes, name):
    inputs = [torch.ones(*s, requires_grad=True) for s in shapes]
    assert type(fn(*inputs).grad_fn).__name__ == name


def test_backward_skips_inputs_without_grad():
    w = torch.tensor(rand((4, 3)), requires_grad=True)
    x = torch.tensor(rand((5, 4), seed=1))
    (x @ w).backward(torch.ones(5, 3))
    assert x.grad is None
    check(w.grad, np_of(x).astype(np.float64).T @ np.ones((5, 3)), torch.float32, 5)


def test_float32_gradients_of_linear_layer(variant):
    x = torch.tensor(rand((6, 5)), requires_grad=True)
    w = torch.tensor(rand((3, 5), seed=1), requires_grad=True)
    b = torch.tensor(rand((3,), seed=2), requires_grad=True)
    g = rand((6, 3), seed=3)
    torch.addmm(b, x, w.t()).backward(torch.tensor(g))
    check(x.grad, g.astype(np.float64) @ np_of(w), torch.float32, 3)
    check(w.grad, g.T.astype(np.float64) @ np_of(x), torch.float32, 6)
    check(b.grad, g.astype(np.float64).sum(0), torch.float32, 6)


# ---- tuning table ---------------------------------------------------------------------------------------------
def test_params_per_device_and_tuning_file(tmp_path, monkeypatch):
    backend = torch.device("cpu").backend
    p = gemm_tuning.params_for(backend, torch.float32)
    assert p["variant"] == ("vec" if backend.cpu_tuned else "tiled") and (p["variant"] == "tiled" or p["VW"] >= 2)
    with gemm_tuning.forced_variant("tiled"):
        t = gemm_tuning.params_for(backend, torch.float32)
    assert t["variant"] == "tiled"
    assert (t["BM"] // t["WM"]) * (t["BN"] // t["WN"]) <= backend.max_work_group_size
    path = tmp_path / "gemm_tuning.json"
    monkeypatch.setattr(gemm_tuning, "TUNING_FILE", str(path))
    gemm_tuning.record(backend.name, "float32", {"variant": "vec", "MR": 4, "NV": 1, "DOT_MR": 2, "DOT_NR": 2})
    try:
        p = gemm_tuning.params_for(backend, torch.float32, "vec")
        assert (p["MR"], p["NV"], p["DOT_MR"]) == (4, 1, 2)
        with gemm_tuning.forced_variant("vec"):
            a, b = rand((9, 20)), rand((20, 37), seed=1)
            check(torch.tensor(a) @ torch.tensor(b), a.astype(np.float64) @ b, torch.float32, 20)
            check(torch.tensor(a) @ torch.tensor(b.T.copy()).t(), a.astype(np.float64) @ b, torch.float32, 20)
    finally:
        monkeypatch.undo()
        gemm_tuning.record.__globals__["_user_table"] = None
        gemm_tuning.record.__globals__["_resolved"].clear()


# ---- against PyTorch, where installed ---------------------------------------------------------------------------
@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
def test_matches_pytorch_gradients():
    a, b = rand((2, 3, 4)), rand((4, 5), seed=1)
    g = rand((2, 3, 5), seed=2)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (ta @ tb).backward(torch.tensor(g))
    ra, rb = real_torch.tensor(a, requires_grad=True), real_torch.tensor(b, requires_grad=True)
    (ra @ rb).backward(real_torch.tensor(g))
    assert_close(ta.grad, ra.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert_close(tb.grad, rb.grad.numpy(), rtol=1e-5, atol=1e-5)


# ---- random shapes and layouts (hypothesis) ------------------------------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(0, 40), n=st.integers(1, 40), batch=st.sampled_from([(), (1,), (3,)]),
       ta=st.booleans(), tb=st.booleans(), step=st.sampled_from([1, 2]))
def test_random_products(m, k, n, batch, ta, tb, step):
    a, b = rand(batch + (m, k * step)), rand(batch + (k, n), seed=1)
    x = torch.tensor(a)[..., ::step]
    if ta:
        x = torch.tensor(np.ascontiguousarray(np.swapaxes(a[..., ::step], -1, -2))).transpose(-1, -2)
    y = torch.tensor(np.ascontiguousarray(np.swapaxes(b, -1, -2))).transpose(-1, -2) if tb else torch.tensor(b)
    check(x @ y, reference(np.matmul, a[..., ::step], b, dtype=torch.float32), torch.float32, k)
