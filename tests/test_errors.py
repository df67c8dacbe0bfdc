"""A catalogue of bad inputs, and NaN/inf propagation.

Every entry of CASES is one bad call. The test asserts PyTorch's exception type, a message that
names the shapes, dtypes, devices or index involved, that the error came from Python before any
kernel ran (no launch, no kernel build) and that no argument was modified (so an out= tensor or
the target of an in-place op is untouched). Entries marked `reads` depend on tensor values (index
bounds, zero divisors): those may run the small check kernels listed in CHECK_KERNELS and read
the result back, as PyTorch's CPU kernels check too, but never the op's own kernel. Where real
PyTorch is installed, the same call is made on it and must raise the same exception type.

The second half checks that NaN and inf propagate through every elementwise row, the
reductions and matmul exactly as in PyTorch (or the row's numpy reference without PyTorch).
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import cltensor as torch
from cltensor import codegen
from cltensor.ops.elementwise import OPS
from helpers import HAVE_TORCH, real_torch

CL = "cl:0"  # the same PoCL device as 'cpu', seen as an OpenCL device: a different device for cltensor
NP = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "int64": np.int64, "int32": np.int32,
      "int16": np.int16, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_}
# kernels a value-dependent check may run (index bounds: min/max; integer division: any(b == 0))
CHECK_KERNELS = re.compile(r"^(minmax_blocks|minmax_final|ew_eq|ew_ne|ew_lt|ew_ge|ew_logical_\w+|ew_bitwise_\w+|"
                           r"reduce_\w+|scan_\w+|nonzero_\w+|ew__copy|ew_masked_fill)$")


def mk(T, *shape, dtype="float32", device=None, grad=False):
    """arange-filled tensor made from numpy (no kernel), the same for cltensor and PyTorch."""
    a = np.arange(math.prod(shape)).reshape(shape)
    a = (a % 2).astype(bool) if dtype == "bool" else a.astype(NP[dtype])
    # float64 through from_numpy: host memory, which a device without cl_khr_fp64 holds too (no kernel runs)
    t = T.from_numpy(a) if dtype == "float64" else T.tensor(a)
    if device is not None:
        t = t.to(device)
    if grad:
        t.requires_grad_()
    return t


def f(*shapes, dtype="float32", device=None, grad=False):
    """A builder of float32 (or dtype) tensors of the given shapes."""
    return lambda T: tuple(mk(T, *s, dtype=dtype, device=device, grad=grad) for s in shapes)


def i64(T, *shape):
    return mk(T, *shape, dtype="int64")


def idx(T, values):
    return T.tensor(np.asarray(values, dtype=np.int64))


@dataclass(frozen=True)
class Bad:
    id: str
    build: Callable  # T -> tuple of arguments (tensors or lists of tensors)
    call: Callable  # (T, *arguments) -> the bad call
    exc: type
    match: tuple  # regular expressions the message must contain
    torch: bool  # also compare with PyTorch
    reads: bool  # a value-dependent check (may run CHECK_KERNELS)


CASES: list = []


def bad(id, build, call, exc, *match, torch=True, reads=False):
    CASES.append(Bad(id, build, call, exc, match, torch, reads))


def F(T):
    return T.nn.functional


# ---- shapes that do not broadcast --------------------------------------------------------------------
SIZE_AB = r"size of tensor a \({}\) must match the size of tensor b \({}\) at non-singleton dimension {}"
bad("broadcast/add", f((2, 3), (4,)), lambda T, a, b: a + b, RuntimeError, SIZE_AB.format(3, 4, 1))
bad("broadcast/mul", f((2, 3), (2, 4)), lambda T, a, b: a * b, RuntimeError, SIZE_AB.format(3, 4, 1))
bad("broadcast/sub-3d", f((5, 2, 3), (4, 3)), lambda T, a, b: a - b, RuntimeError, SIZE_AB.format(2, 4, 1))
bad("broadcast/leading", f((3, 1, 2), (4, 1, 2)), lambda T, a, b: T.add(a, b), RuntimeError, SIZE_AB.format(3, 4, 0))
bad("broadcast/eq", f((3,), (4,)), lambda T, a, b: a == b, RuntimeError, SIZE_AB.format(3, 4, 0))
bad("broadcast/pow", f((2, 3), (3, 2)), lambda T, a, b: a ** b, RuntimeError, SIZE_AB.format(2, 3, 0))
bad("broadcast/maximum", f((2,), (3,)), lambda T, a, b: T.maximum(a, b), RuntimeError, SIZE_AB.format(2, 3, 0))
bad("broadcast/atan2", f((4, 2), (4, 3)), lambda T, a, b: T.atan2(a, b), RuntimeError, SIZE_AB.format(2, 3, 1))
bad("broadcast/where", lambda T: (mk(T, 2, dtype="bool"), mk(T, 3), mk(T, 3)), lambda T, c, a, b: T.where(c, a, b),
    RuntimeError,
    SIZE_AB.format(2, 3, 0))
bad("broadcast/lerp", f((2,), (3,)), lambda T, a, b: T.lerp(a, b, 0.5), RuntimeError, SIZE_AB.format(2, 3, 0))
bad("broadcast/addcmul", f((3,), (3,), (4,)), lambda T, a, b, c: T.addcmul(a, b, c), RuntimeError,
    SIZE_AB.format(3, 4, 0))
bad("broadcast/clamp-tensor", f((3,), (4,)), lambda T, a, lo: T.clamp(a, min=lo), RuntimeError,
    SIZE_AB.format(3, 4, 0))
bad("broadcast/inplace-grows", f((3,), (2, 3)), lambda T, a, b: a.add_(b), RuntimeError,
    r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]")
bad("broadcast/inplace-mul", f((2, 1), (2, 3)), lambda T, a, b: a.mul_(b), RuntimeError,
    r"output with shape \[2, 1\] doesn't match the broadcast shape \[2, 3\]")
bad("broadcast/iadd-operator", f((1,), (4,)), lambda T, a, b: a.__iadd__(b), RuntimeError,
    r"output with shape \[1\] doesn't match the broadcast shape \[4\]")
bad("broadcast/expand", f((3,)), lambda T, a: a.expand(4), RuntimeError,
    r"expanded size of the tensor \(4\) must match the existing size \(3\) at non-singleton dimension 0")
bad("broadcast/expand-2d", f((2, 3)), lambda T, a: a.expand(2, 4), RuntimeError,
    r"expanded size of the tensor \(4\) must match the existing size \(3\) at non-singleton dimension 1")
bad("broadcast/expand-fewer-dims", f((2, 3)), lambda T, a: a.expand(3), RuntimeError,
    r"number of sizes provided \(1\) must be greater or equal to the number of dimensions in the tensor \(2\)")
bad("broadcast/broadcast_to", f((3,)), lambda T, a: T.broadcast_to(a, (2, 4)), RuntimeError,
    r"expanded size of the tensor \(4\) must match the existing size \(3\)")
bad("broadcast/masked_fill", lambda T: (mk(T, 3), mk(T, 4, dtype="bool")), lambda T, a, m: a.masked_fill(m, 1.0),
    RuntimeError,
    r"size of tensor a \(\d\) must match the size of tensor b \(\d\)")
bad("broadcast/mse_loss-3-4", f((2, 3), (2, 4)), lambda T, a, b: F(T).mse_loss(a, b), RuntimeError,
    SIZE_AB.format(3, 4, 1))

# ---- matmul / mm / bmm / dot: sizes and ranks ----------------------------------------------------------
bad("mm/inner-size", f((2, 3), (4, 5)), lambda T, a, b: T.mm(a, b), RuntimeError,
    r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)")
bad("mm/method", f((2, 3), (2, 3)), lambda T, a, b: a.mm(b), RuntimeError, r"\(2x3 and 2x3\)")
bad("mm/1d-self", f((3,), (3, 2)), lambda T, a, b: T.mm(a, b), RuntimeError, "self must be a matrix")
bad("mm/3d-mat2", f((2, 3), (1, 3, 2)), lambda T, a, b: T.mm(a, b), RuntimeError, "mat2 must be a matrix")
bad("mm/dtypes", lambda T: (mk(T, 2, 3), mk(T, 3, 2, dtype="float64")), lambda T, a, b: T.mm(a, b), RuntimeError,
    r"expected m1 and m2 to have the same dtype, but got: float != double")
bad("mm/bool", f((2, 2), (2, 2), dtype="bool"), lambda T, a, b: T.mm(a, b), NotImplementedError,
    r"not implemented for 'Bool'")
bad("mm/out-dtype", lambda T: (mk(T, 2, 3), mk(T, 3, 2), mk(T, 2, 2, dtype="int64")),
    lambda T, a, b, o: T.mm(a, b, out=o), RuntimeError, r"Expected out tensor to have dtype float, but got long")
bad("bmm/2d", f((2, 3), (2, 3)), lambda T, a, b: T.bmm(a, b), RuntimeError, "batch1 must be a 3D tensor")
bad("bmm/batch", f((2, 3, 4), (3, 4, 5)), lambda T, a, b: T.bmm(a, b), RuntimeError,
    r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: \[3, 4\]")
bad("bmm/inner", f((2, 3, 4), (2, 5, 6)), lambda T, a, b: T.bmm(a, b), RuntimeError,
    r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: \[2, 5\]")
bad("bmm/mat2-2d", f((2, 3, 4), (4, 5)), lambda T, a, b: T.bmm(a, b), RuntimeError, "batch2 must be a 3D tensor")
bad("dot/2d", f((2, 3), (3,)), lambda T, a, b: T.dot(a, b), RuntimeError,
    "1D tensors expected, but got 2D and 1D tensors")
bad("dot/size", f((3,), (4,)), lambda T, a, b: T.dot(a, b), RuntimeError,
    r"inconsistent tensor size, expected tensor \[3\] and src \[4\]")
bad("dot/dtype", lambda T: (mk(T, 3), mk(T, 3, dtype="float64")), lambda T, a, b: T.dot(a, b), RuntimeError,
    "expected both vectors to have same dtype, but found Float and Double")
bad("matmul/0d", lambda T: (T.tensor(1.0), mk(T, 3)), lambda T, a, b: T.matmul(a, b), RuntimeError,
    "both arguments to matmul need to be at least 1D, but they are 0D and 1D")
bad("matmul/vec-vec", f((3,), (4,)), lambda T, a, b: a @ b, RuntimeError, r"tensor \[3\] and src \[4\]")
bad("matmul/mat-vec", f((2, 3), (4,)), lambda T, a, b: a @ b, RuntimeError,
    r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)")
bad("matmul/vec-mat", f((4,), (3, 2)), lambda T, a, b: a @ b, RuntimeError, r"\(1x4 and 3x2\)")
bad("matmul/batch-broadcast", f((2, 3, 4), (5, 4, 6)), lambda T, a, b: a @ b, RuntimeError,
    r"size of tensor a \(2\) must match the size of tensor b \(5\)")
bad("matmul/batched-inner", f((2, 3, 4), (2, 5, 6)), lambda T, a, b: T.matmul(a, b), RuntimeError,
    r"\[2, 4\] but got: \[2, 5\]")
bad("matmul/mat-mat", f((2, 3), (2, 3)), lambda T, a, b: T.matmul(a, b), RuntimeError, r"\(2x3 and 2x3\)")
bad("matmul/rmatmul-type", f((2, 3)), lambda T, a: a @ 3, TypeError, "unsupported operand")
bad("matmul/list", f((2, 3)), lambda T, a: a.matmul([1, 2, 3]), TypeError, r"matmul\(\).*must be Tensor, not list")
bad("mv/size", f((2, 3), (4,)), lambda T, a, b: T.mv(a, b), RuntimeError, r"size mismatch.*\(2x3\).*\(4\)")
bad("mv/rank", f((3,), (3,)), lambda T, a, b: T.mv(a, b), RuntimeError, "vector \\+ matrix @ vector expected")
bad("outer/2d", f((2, 3), (3,)), lambda T, a, b: T.outer(a, b), RuntimeError, "Expected 1-D argument self, but got 2-D")
bad("addmm/input", f((5,), (2, 3), (3, 4)), lambda T, c, a, b: T.addmm(c, a, b), RuntimeError,
    r"expanded size of the tensor \(4\) must match the existing size \(5\)")
bad("addmm/inner", f((2, 4), (2, 3), (2, 4)), lambda T, c, a, b: T.addmm(c, a, b), RuntimeError,
    r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x4\)")
bad("tensordot/sizes", f((2, 3), (4, 5)), lambda T, a, b: T.tensordot(a, b, dims=([1], [0])), RuntimeError,
    "contracted dimensions need to match, but first has size 3 in dim 1 and second has size 4 in dim 0")
bad("einsum/operands", f((2, 3)), lambda T, a: T.einsum("ij,jk->ik", a), RuntimeError,
    "fewer operands were provided than specified in the equation")
bad("einsum/sizes", f((2, 3), (4, 5)), lambda T, a, b: T.einsum("ij,jk->ik", a, b), RuntimeError,
    r"subscript j has size 4 for operand 1 which does not broadcast with previously seen size 3")
bad("inner/sizes", f((2, 3), (4,)), lambda T, a, b: T.inner(a, b), RuntimeError,
    r"inner\(\) the last dimension must match on both input tensors but got shapes \[2, 3\] and \[4\]")
bad("linear/sizes", f((2, 3), (4, 5)), lambda T, x, w: F(T).linear(x, w), RuntimeError,
    r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 5x4\)")
bad("Linear/in_features", lambda T: (mk(T, 2, 5), T.nn.Linear(3, 4)), lambda T, x, layer: layer(x), RuntimeError,
    r"mat1 and mat2 shapes cannot be multiplied \(2x5 and 3x4\)")

# ---- view / reshape ----------------------------------------------------------------------------------
bad("view/strides", f((2, 3)), lambda T, a: a.T.view(-1), RuntimeError,
    r"view size is not compatible with input tensor's size and stride.*Use \.reshape\(\.\.\.\) instead")
bad("view/sliced", f((4, 4)), lambda T, a: a[:, :2].view(8), RuntimeError, r"Use \.reshape\(\.\.\.\) instead")
bad("view/expanded", f((1, 3)), lambda T, a: a.expand(2, 3).view(6), RuntimeError, r"Use \.reshape")
bad("view/numel", f((2, 3)), lambda T, a: a.view(5), RuntimeError, r"shape '\[5\]' is invalid for input of size 6")
bad("reshape/numel", f((2, 3)), lambda T, a: a.reshape(4, 2), RuntimeError,
    r"shape '\[4, 2\]' is invalid for input of size 6")
bad("reshape/infer", f((2, 3)), lambda T, a: a.reshape(-1, 4), RuntimeError,
    r"shape '\[-1, 4\]' is invalid for input of size 6")
bad("reshape/empty-ambiguous", f((0, 3)), lambda T, a: a.reshape(-1, 0), RuntimeError,
    r"cannot reshape tensor of 0 elements into shape \[-1, 0\]")
bad("view/two-inferred", f((2, 3)), lambda T, a: a.view(-1, -1), RuntimeError, "only one dimension can be inferred")
bad("view/negative", f((2, 3)), lambda T, a: a.view(-2, 3), RuntimeError, "invalid shape dimension -2")
bad("view/more-dims", f((2, 3)), lambda T, a: a.view(2, 3, 1, 2), RuntimeError,
    r"shape '\[2, 3, 1, 2\]' is invalid for input of size 6")
bad("flatten/order", f((2, 3)), lambda T, a: a.flatten(1, 0), RuntimeError, "start_dim cannot come after end_dim")
bad("unflatten/sizes", f((6,)), lambda T, a: a.unflatten(0, (4, 2)), RuntimeError, r"\[4, 2\].*\b6\b")
bad("permute/count", f((2, 3)), lambda T, a: a.permute(0), RuntimeError,
    r"input.dim\(\) = 2 is not equal to len\(dims\) = 1")
bad("permute/duplicate", f((2, 3)), lambda T, a: a.permute(0, 0), RuntimeError, "duplicate dims are not allowed")
bad("t/3d", f((2, 3, 4)), lambda T, a: a.t(), RuntimeError,
    "t\\(\\) expects a tensor with <= 2 dimensions, but self is 3D")
bad("diagonal/same-dims", f((2, 3)), lambda T, a: a.diagonal(0, 0, 0), RuntimeError,
    "diagonal dimensions cannot be identical 0, 0")
bad("narrow/length", f((3,)), lambda T, a: a.narrow(0, 2, 5), RuntimeError,
    r"start \(2\) \+ length \(5\) exceeds dimension size \(3\)")
bad("expand/leading-minus-one", f((2, 3)), lambda T, a: a.expand(-1, 2, 3), RuntimeError,
    r"expanded size of the tensor \(-1\)")
bad("chunk/zero", f((3,)), lambda T, a: a.chunk(0), RuntimeError, "chunk expects `chunks` to be greater than 0, got: 0")
bad("split/negative", f((3,)), lambda T, a: a.split(-1), RuntimeError, "split_size.*-1")
bad("repeat/fewer-dims", f((2, 3)), lambda T, a: a.repeat(2), RuntimeError,
    "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
bad("tril/1d", f((3,)), lambda T, a: T.tril(a), RuntimeError, "tril: input tensor must have at least 2 dimensions")
bad("cat/ranks", f((3,), (2, 3)), lambda T, a, b: T.cat([a, b]), RuntimeError,
    "Tensors must have same number of dimensions: got 1 and 2")
bad("cat/sizes", f((2, 3), (2, 4)), lambda T, a, b: T.cat([a, b]), RuntimeError,
    "Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for tensor number 1")
bad("cat/empty-list", lambda T: (), lambda T: T.cat([]), ValueError, "expected a non-empty list of Tensors")
bad("stack/sizes", f((3,), (4,)), lambda T, a, b: T.stack([a, b]), RuntimeError,
    r"stack expects each tensor to be equal size, but got \[3\] at entry 0 and \[4\] at entry 1")
bad("empty/negative", lambda T: (), lambda T: T.empty(-1), RuntimeError,
    r"Trying to create tensor with negative dimension -1: \[-1\]")
bad("zeros/negative", lambda T: (), lambda T: T.zeros(2, -3), RuntimeError, "negative dimension -3")
bad("new_zeros/negative", f((2,)), lambda T, a: a.new_zeros(-1), RuntimeError, "negative dimension -1")
bad("arange/step-zero", lambda T: (), lambda T: T.arange(0, 10, 0), RuntimeError, "step must be nonzero")
bad("arange/sign", lambda T: (), lambda T: T.arange(10, 0, 1), RuntimeError,
    "upper bound and lower bound inconsistent with step sign")
bad("linspace/steps", lambda T: (), lambda T: T.linspace(0, 1, -1), RuntimeError,
    "number of steps must be non-negative")
bad("uniform_/range", f((3,)), lambda T, a: a.uniform_(2, 1), RuntimeError, r"from=2 > to=1")
bad("normal_/std", f((3,)), lambda T, a: a.normal_(0, -1), RuntimeError, "normal expects std >= 0.0, but found std -1")
bad("randint/range", lambda T: (), lambda T: T.randint(5, 2, (3,)), RuntimeError, "from=5 >= to=2")
bad("topk/k", f((3,)), lambda T, a: a.topk(5), RuntimeError, "selected index k out of range")
bad("kthvalue/k", f((3,)), lambda T, a: a.kthvalue(5), RuntimeError, "kthvalue\\(\\): selected number k out of range")
bad("sum/repeated-dim", f((2, 3)), lambda T, a: a.sum(dim=(0, 0)), RuntimeError,
    "dim 0 appears multiple times in the list of dims")
bad("max/empty-no-dim", f((0, 3)), lambda T, a: a.max(), RuntimeError,
    r"max\(\): Expected reduction dim to be specified for input.numel\(\) == 0")
bad("max/empty-dim", f((0, 3)), lambda T, a: a.max(dim=0), IndexError,
    r"max\(\): Expected reduction dim 0 to have non-zero size")
bad("argmax/empty", f((0, 3)), lambda T, a: a.argmax(), IndexError, "argmax\\(\\): Expected reduction dim")

# ---- dims out of range -----------------------------------------------------------------------------
DIM_RANGE = r"Dimension out of range \(expected to be in range of \[{}, {}\], but got {}\)"
for _name, _call in [
        ("sum", lambda T, a: a.sum(2)), ("sum-neg", lambda T, a: a.sum(-3)), ("mean", lambda T, a: a.mean(2)),
        ("prod", lambda T, a: a.prod(2)), ("max", lambda T, a: a.max(2)), ("min", lambda T, a: a.min(dim=2)),
        ("amax", lambda T, a: a.amax(2)), ("argmax", lambda T, a: a.argmax(2)), ("argmin", lambda T, a: a.argmin(2)),
        ("softmax", lambda T, a: a.softmax(2)), ("log_softmax", lambda T, a: a.log_softmax(2)),
        ("F.softmax", lambda T, a: F(T).softmax(a, dim=2)), ("logsumexp", lambda T, a: a.logsumexp(2)),
        ("var", lambda T, a: a.var(2)), ("std", lambda T, a: a.std(2)), ("norm", lambda T, a: a.norm(dim=2)),
        ("all", lambda T, a: a.all(dim=2)), ("any", lambda T, a: a.any(dim=2)),
        ("cumsum", lambda T, a: a.cumsum(2)), ("cumprod", lambda T, a: a.cumprod(2)),
        ("transpose", lambda T, a: a.transpose(0, 2)), ("squeeze", lambda T, a: a.squeeze(2)),
        ("size", lambda T, a: a.size(2)), ("stride", lambda T, a: a.stride(2)), ("flip", lambda T, a: a.flip(2)),
        ("roll", lambda T, a: a.roll(1, dims=2)), ("sort", lambda T, a: a.sort(dim=2)),
        ("topk", lambda T, a: a.topk(1, dim=2)), ("unbind", lambda T, a: a.unbind(2)),
        ("movedim", lambda T, a: a.movedim(0, 2)), ("select", lambda T, a: a.select(2, 0)),
        ("narrow", lambda T, a: a.narrow(2, 0, 1)), ("cat", lambda T, a: T.cat([a, a], dim=2)),
        ("index_select", lambda T, a: a.index_select(2, idx(T, [0]))),
        ("gather", lambda T, a: a.gather(2, idx(T, [[0]]))), ("flatten", lambda T, a: a.flatten(0, 2)),
        ("unflatten", lambda T, a: a.unflatten(2, (1, 3))), ("chunk", lambda T, a: a.chunk(2, dim=2)),
        ("split", lambda T, a: a.split(1, dim=2))]:
    bad(f"dim/{_name}", f((2, 3)), _call, IndexError, DIM_RANGE.format(-2, 1, "-?[23]"))
bad("dim/unsqueeze", f((2, 3)), lambda T, a: a.unsqueeze(3), IndexError, DIM_RANGE.format(-3, 2, 3))
bad("dim/stack", f((3,)), lambda T, a: T.stack([a, a], dim=3), IndexError, DIM_RANGE.format(-2, 1, 3))
bad("dim/0d-sum", lambda T: (T.tensor(1.0),), lambda T, a: a.sum(dim=1), IndexError, DIM_RANGE.format(-1, 0, 1))
bad("dim/0d-softmax", lambda T: (T.tensor(1.0),), lambda T, a: a.softmax(-2), IndexError, DIM_RANGE.format(-1, 0, -2))

# ---- indices out of range ------------------------------------------------------------------------
OOB = r"index {} is out of bounds for dimension {} with size {}"
bad("getitem/int", f((2, 3)), lambda T, a: a[5], IndexError, OOB.format(5, 0, 2))
bad("getitem/negative", f((2, 3)), lambda T, a: a[-3], IndexError, OOB.format(-3, 0, 2))
bad("getitem/second-dim", f((2, 3)), lambda T, a: a[0, 7], IndexError, OOB.format(7, 1, 3))
bad("getitem/too-many", f((2, 3)), lambda T, a: a[0, 0, 0], IndexError, "too many indices for tensor of dimension 2")
bad("getitem/float", f((2, 3)), lambda T, a: a[1.5], IndexError,
    r"only integers, slices .* are valid indices \(got float\)")
bad("getitem/negative-step", f((3,)), lambda T, a: a[::-1], ValueError, "step must be greater than zero")
bad("getitem/zero-step", f((3,)), lambda T, a: a[::0], ValueError, "step")
bad("getitem/tensor", lambda T: (mk(T, 3), idx(T, [0, 5])), lambda T, a, i: a[i], IndexError, OOB.format(5, 0, 3),
    reads=True)
bad("getitem/tensor-negative", lambda T: (mk(T, 3), idx(T, [-5])), lambda T, a, i: a[i], IndexError,
    OOB.format(-5, 0, 3), reads=True)
bad("getitem/list", f((4,)), lambda T, a: a[[0, 4]], IndexError, OOB.format(4, 0, 4))
bad("getitem/float-tensor", f((2, 3), (1,)), lambda T, a, i: a[i], IndexError,
    "tensors used as indices must be long, int, byte or bool tensors")
bad("getitem/mask-shape", lambda T: (mk(T, 3), T.tensor([True, False])), lambda T, a, m: a[m], IndexError,
    r"The shape of the mask \[2\] at index 0 does not match the shape of the indexed tensor \[3\] at index 0")
bad("setitem/int", f((3,)), lambda T, a: a.__setitem__(5, 1.0), IndexError, OOB.format(5, 0, 3))
bad("setitem/second-dim", f((2, 3)), lambda T, a: a.__setitem__((1, -4), 1.0), IndexError, OOB.format(-4, 1, 3))
bad("setitem/tensor", lambda T: (mk(T, 3), idx(T, [1, 5])), lambda T, a, i: a.__setitem__(i, 1.0), IndexError,
    OOB.format(5, 0, 3), reads=True)
bad("setitem/tensor-values", lambda T: (mk(T, 3), idx(T, [1, 3]), mk(T, 2)), lambda T, a, i, v: a.__setitem__(i, v),
    IndexError, OOB.format(3, 0, 3), reads=True)
bad("setitem/negative-step", f((3,)), lambda T, a: a.__setitem__(slice(None, None, -1), 1.0), ValueError,
    "step must be greater than zero")
bad("setitem/mask-shape", lambda T: (mk(T, 3), T.tensor([True, False])), lambda T, a, m: a.__setitem__(m, 0.0),
    IndexError, r"shape of the mask \[2\]")
bad("select/index", f((3,)), lambda T, a: a.select(0, 3), IndexError,
    r"select\(\): index 3 out of range for tensor of size \[3\] at dimension 0")
bad("narrow/start", f((3,)), lambda T, a: a.narrow(0, 5, 1), IndexError,
    r"start out of range \(expected to be in range of \[-3, 3\], but got 5\)")
bad("gather/index", lambda T: (mk(T, 2, 3), idx(T, [[0, 3]])), lambda T, a, i: a.gather(1, i), RuntimeError,
    OOB.format(3, 1, 3), reads=True)
bad("gather/negative", lambda T: (mk(T, 2, 3), idx(T, [[-3]])), lambda T, a, i: a.gather(0, i), RuntimeError,
    OOB.format(-3, 0, 2), reads=True)
bad("gather/dtype", lambda T: (mk(T, 3), T.tensor([1.0])), lambda T, a, i: a.gather(0, i), RuntimeError,
    r"gather\(\): Expected dtype int32/int64 for index")
bad("gather/rank", lambda T: (mk(T, 2, 3), idx(T, [0, 1])), lambda T, a, i: a.gather(1, i), RuntimeError,
    "Index tensor must have the same number of dimensions as input tensor")
bad("gather/size", lambda T: (mk(T, 2, 3), i64(T, 3, 1)), lambda T, a, i: a.gather(1, i), RuntimeError,
    r"Size does not match at dimension 0 expected index \[3, 1\] to be no larger than self \[2, 3\]")
bad("scatter/index", lambda T: (mk(T, 2, 3), idx(T, [[3]])), lambda T, a, i: a.scatter(1, i, 1.0), RuntimeError,
    OOB.format(3, 1, 3), reads=True)
bad("scatter_/src", lambda T: (mk(T, 3), idx(T, [5]), mk(T, 1)), lambda T, a, i, s: a.scatter_(0, i, s),
    RuntimeError, OOB.format(5, 0, 3), reads=True)
bad("scatter_add/index", lambda T: (mk(T, 3), idx(T, [5]), mk(T, 1)), lambda T, a, i, s: a.scatter_add(0, i, s),
    RuntimeError, OOB.format(5, 0, 3), reads=True)
bad("scatter_add_/negative", lambda T: (mk(T, 3), idx(T, [-4]), mk(T, 1)), lambda T, a, i, s: a.scatter_add_(0, i, s),
    RuntimeError, OOB.format(-4, 0, 3), reads=True)
bad("index_select/index", lambda T: (mk(T, 3), idx(T, [5])), lambda T, a, i: T.index_select(a, 0, i), IndexError,
    r"index|out of range", reads=True)
bad("index_select/2d-index", lambda T: (mk(T, 3), idx(T, [[0]])), lambda T, a, i: a.index_select(0, i), IndexError,
    "Index is supposed to be a vector")
bad("index_select/list", f((3,)), lambda T, a: a.index_select(0, [1]), TypeError,
    r"index_select\(\): argument 'index'.* must be Tensor, not list")
bad("index_add/index", lambda T: (mk(T, 3), idx(T, [5]), mk(T, 1)), lambda T, a, i, s: a.index_add(0, i, s),
    IndexError, r"index|out of range", reads=True)
bad("index_fill/index", lambda T: (mk(T, 3), idx(T, [5])), lambda T, a, i: a.index_fill(0, i, 1.0), IndexError,
    OOB.format(5, 0, 3), reads=True)
bad("take/index", lambda T: (mk(T, 3), idx(T, [5])), lambda T, a, i: a.take(i), IndexError,
    "out of range: tried to access index 5 on a tensor of 3 elements", reads=True)
bad("embedding/index", lambda T: (idx(T, [5]), mk(T, 3, 2)), lambda T, i, w: F(T).embedding(i, w), IndexError,
    r"index|out of range", reads=True)
bad("one_hot/class", lambda T: (idx(T, [1, 5]),), lambda T, t: F(T).one_hot(t, 3), RuntimeError,
    "Class values must be smaller than num_classes", reads=True)
bad("one_hot/negative", lambda T: (idx(T, [-1]),), lambda T, t: F(T).one_hot(t, 3), RuntimeError,
    "Class values must be non-negative", reads=True)
bad("one_hot/dtype", f((2,)), lambda T, t: F(T).one_hot(t, 3), RuntimeError,
    "one_hot is only applicable to index tensor of type LongTensor")
bad("masked_fill/mask-dtype", f((3,), (3,)), lambda T, a, m: a.masked_fill(m, 0.0), RuntimeError,
    "masked_fill_? only supports boolean masks, but got mask with dtype float")
bad("masked_fill/value-dims", lambda T: (mk(T, 3), mk(T, 3, dtype="bool"), mk(T, 2)),
    lambda T, a, m, v: a.masked_fill(m, v), RuntimeError,
    r"only supports a 0-dimensional value tensor, but got tensor with 1 dimension\(s\)")

# ---- in-place results that cannot be cast back ---------------------------------------------------------
CAST = r"result type {} can't be cast to the desired output type {}"
bad("cast/int-add-float", lambda T: (i64(T, 3),), lambda T, a: a.add_(1.5), RuntimeError, CAST.format("Float", "Long"))
bad("cast/bool-add-int", f((3,), dtype="bool"), lambda T, a: a.add_(2), RuntimeError, CAST.format("Long", "Bool"))
bad("cast/int-mul-float", lambda T: (i64(T, 3),), lambda T, a: a.mul_(1.5), RuntimeError, CAST.format("Float", "Long"))
bad("cast/int-div", lambda T: (i64(T, 3),), lambda T, a: a.div_(2), RuntimeError, CAST.format("Float", "Long"))
bad("cast/int-truediv-op", lambda T: (i64(T, 3),), lambda T, a: a.__itruediv__(2), RuntimeError,
    CAST.format("Float", "Long"))
bad("cast/int-sqrt", lambda T: (i64(T, 3),), lambda T, a: a.sqrt_(), RuntimeError, CAST.format("Float", "Long"))
bad("cast/int32-exp", f((3,), dtype="int32"), lambda T, a: a.exp_(), RuntimeError, CAST.format("Float", "Int"))
bad("cast/uint8-sub-float", lambda T: (mk(T, 3, dtype="uint8"), mk(T, 3)), lambda T, a, b: a.sub_(b), RuntimeError,
    CAST.format("Float", "Byte"))
bad("cast/int16-pow-float", f((3,), dtype="int16"), lambda T, a: a.pow_(0.5), RuntimeError,
    CAST.format("Float", "Short"))
bad("cast/int8-add-half-tensor", lambda T: (mk(T, 3, dtype="int8"), mk(T, 3, dtype="float16")),
    lambda T, a, b: a.add_(b), RuntimeError, CAST.format("Half", "Char"))
# float64 comes from from_numpy, on the host: the other operand is put there by name
bad("cast/int32-mul-double-tensor", lambda T: (mk(T, 3, dtype="int32", device="cpu"), mk(T, 3, dtype="float64")),
    lambda T, a, b: a.mul_(b), RuntimeError, CAST.format("Double", "Int"))
bad("cast/out-int", lambda T: (mk(T, 3), mk(T, 3), i64(T, 3)), lambda T, a, b, o: T.add(a, b, out=o), RuntimeError,
    CAST.format("Float", "Long"))
bad("cast/out-bool", lambda T: (mk(T, 3), mk(T, 3, dtype="bool")), lambda T, a, o: T.mul(a, 2, out=o), RuntimeError,
    CAST.format("Float", "Bool"))
bad("cast/clamp-float-on-int", lambda T: (i64(T, 3),), lambda T, a: a.clamp_(0.5, 2.5), RuntimeError,
    CAST.format("Float", "Long"))
bad("inplace/expanded", f((1,)), lambda T, a: a.expand(3).add_(1), RuntimeError,
    "more than one element of the written-to tensor refers to a single memory location")
bad("inplace/leaf", f((3,), grad=True), lambda T, a: a.add_(1), RuntimeError,
    "a leaf Variable that requires grad is being used in an in-place operation")
bad("inplace/leaf-view", f((3,), grad=True), lambda T, a: a[:2].mul_(2), RuntimeError,
    "a view of a leaf Variable that requires grad is being used in an in-place operation")
bad("requires_grad/int", lambda T: (i64(T, 3),), lambda T, a: a.requires_grad_(), RuntimeError,
    "only Tensors of floating point dtype can require gradients")

# ---- tensors on different devices (cltensor only: PyTorch has no second CPU-like device) ------------------
DEVICES = r"Expected all tensors to be on the same device, but found at least two devices, {} and {}"
# the first tensor on 'cpu' by name, the others on cl:0 (the default device may be cl:0 itself)
on_cl = lambda *shapes: lambda T: tuple(mk(T, *s, device=CL if k else "cpu") for k, s in enumerate(shapes))  # noqa
bad("device/add", on_cl((2, 3), (2, 3)), lambda T, a, b: a + b, RuntimeError, DEVICES.format("cpu", CL), torch=False)
bad("device/add-reversed", on_cl((2, 3), (2, 3)), lambda T, a, b: b + a, RuntimeError, DEVICES.format(CL, "cpu"),
    torch=False)
bad("device/add_", on_cl((3,), (3,)), lambda T, a, b: a.add_(b), RuntimeError, DEVICES.format("cpu", CL), torch=False)
bad("device/out", on_cl((3,), (3,)), lambda T, a, o: T.add(a, a, out=o), RuntimeError, DEVICES.format("cpu", CL),
    torch=False)
bad("device/mm", on_cl((2, 3), (3, 2)), lambda T, a, b: T.mm(a, b), RuntimeError, DEVICES.format("cpu", CL),
    torch=False)
bad("device/matmul", on_cl((2, 3), (3,)), lambda T, a, b: a @ b, RuntimeError, "same device", torch=False)
bad("device/bmm", on_cl((1, 2, 3), (1, 3, 2)), lambda T, a, b: T.bmm(a, b), RuntimeError, DEVICES.format("cpu", CL),
    torch=False)
bad("device/dot", on_cl((3,), (3,)), lambda T, a, b: T.dot(a, b), RuntimeError, DEVICES.format("cpu", CL), torch=False)
bad("device/cat", on_cl((3,), (3,)), lambda T, a, b: T.cat([a, b]), RuntimeError, DEVICES.format("cpu", CL),
    torch=False)
bad("device/stack", on_cl((3,), (3,)), lambda T, a, b: T.stack([a, b]), RuntimeError, DEVICES.format("cpu", CL),
    torch=False)
bad("device/where", lambda T: (mk(T, 3, dtype="bool", device="cpu"), mk(T, 3, device="cpu"), mk(T, 3, device=CL)),
    lambda T, c, a, b: T.where(c, a, b), RuntimeError, DEVICES.format("cpu", CL), torch=False)
bad("device/lerp", on_cl((3,), (3,)), lambda T, a, b: T.lerp(a, b, 0.5), RuntimeError, DEVICES.format("cpu", CL),
    torch=False)
bad("device/maximum", on_cl((3,), (3,)), lambda T, a, b: T.maximum(a, b), RuntimeError, DEVICES.format("cpu", CL),
    torch=False)
bad("device/linear", on_cl((2, 3), (4, 3)), lambda T, x, w: F(T).linear(x, w), RuntimeError, "same device",
    torch=False)
bad("device/numpy", lambda T: (mk(T, 3, device=CL),), lambda T, a: a.numpy(), TypeError,
    f"can't convert {CL} device type tensor to numpy. Use Tensor.cpu", torch=False)

# ---- wrong argument types and unknown keywords -------------------------------------------------------------
bad("kwarg/add", f((3,), (3,)), lambda T, a, b: T.add(a, b, foo=1), TypeError, "add\\(\\).*foo")
bad("kwarg/sum", f((3,)), lambda T, a: a.sum(foo=1), TypeError, "sum\\(\\).*foo")
bad("kwarg/softmax", f((3,)), lambda T, a: T.softmax(a, dim=0, foo=1), TypeError, "softmax\\(\\).*foo")
bad("kwarg/to", f((3,)), lambda T, a: a.to(foo=1), TypeError, "to\\(\\).*foo")
bad("kwarg/randn", lambda T: (), lambda T: T.randn(2, 3, foo=1), TypeError, "randn\\(\\).*foo")
bad("type/add-str", f((3,)), lambda T, a: T.add(a, "a"), TypeError, r"add\(\): argument.*not str")
bad("type/mm-int", f((2, 3)), lambda T, a: T.mm(a, 3), TypeError,
    r"mm\(\): argument 'mat2' \(position 2\) must be Tensor, not int")
bad("type/cat-tensor", f((3,)), lambda T, a: T.cat(a), TypeError,
    r"cat\(\): argument 'tensors' \(position 1\) must be tuple of Tensors, not Tensor")
bad("type/cat-element", f((3,)), lambda T, a: T.cat([a, 3]), TypeError, r"element 1.*int")
bad("type/view-str", f((3,)), lambda T, a: a.view("a"), TypeError, "str")
bad("type/reshape-str", f((2, 3)), lambda T, a: a.reshape(2, "3"), TypeError, "str")
bad("type/zeros-float", lambda T: (), lambda T: T.zeros(2, 3.5), TypeError, "float")
bad("type/zeros-str", lambda T: (), lambda T: T.zeros("a"), TypeError, "str")
bad("type/full-str", lambda T: (), lambda T: T.full((2,), "a"), TypeError, "str")
bad("type/permute-float", f((2, 3)), lambda T, a: a.permute(0, 1.0), TypeError, "float")
bad("type/permute-no-dims", f((2, 3)), lambda T, a: a.permute(), TypeError, "permute\\(\\) missing")
bad("type/transpose-str", f((2, 3)), lambda T, a: a.transpose(0, "1"), TypeError, "str")
bad("type/unsqueeze-float", f((2, 3)), lambda T, a: a.unsqueeze(1.5), TypeError, "float")
bad("type/sum-dim-str", f((3,)), lambda T, a: a.sum(dim="a"), TypeError, "str")
bad("type/sum-dim-float", f((2, 3)), lambda T, a: a.sum(dim=1.0), TypeError, "float")
bad("type/softmax-missing-dim", f((2, 3)), lambda T, a: a.softmax(), TypeError, "missing 1 required positional")
bad("type/where-two-args", lambda T: (mk(T, 2, dtype="bool"), mk(T, 2)), lambda T, c, a: T.where(c, a), TypeError,
    "where\\(\\)")
bad("type/requires_grad_-str", f((3,)), lambda T, a: a.requires_grad_("yes"), TypeError,
    r"requires_grad_\(\): argument 'requires_grad' \(position 1\) must be bool, not str")
bad("type/len-0d", lambda T: (T.tensor(1.0),), lambda T, a: len(a), TypeError, "len\\(\\) of a 0-d tensor")
bad("type/iter-0d", lambda T: (T.tensor(1.0),), lambda T, a: iter(a), TypeError, "iteration over a 0-d tensor")
bad("type/int-many", f((3,)), lambda T, a: int(a), ValueError, "only one element tensors can be converted")
bad("type/float-many", f((3,)), lambda T, a: float(a), ValueError, "only one element tensors can be converted")
bad("type/tensor-dict", lambda T: (), lambda T: T.tensor({1: 2}), RuntimeError, "Could not infer dtype of dict")
bad("type/tensor-ragged", lambda T: (), lambda T: T.tensor([[1, 2], [3]]), ValueError, "sequence")
bad("value/item-many", f((3,)), lambda T, a: a.item(), RuntimeError,
    "a Tensor with 3 elements cannot be converted to Scalar")
bad("value/bool-many", f((3,)), lambda T, a: bool(a), RuntimeError,
    "Boolean value of Tensor with more than one value is ambiguous")
bad("value/bool-empty", f((0,)), lambda T, a: bool(a), RuntimeError,
    "Boolean value of Tensor with no values is ambiguous")
bad("value/div-rounding", f((3,)), lambda T, a: a.div(2, rounding_mode="bad"), RuntimeError,
    "rounding_mode to be one of None, 'trunc', or 'floor' but found 'bad'")
bad("value/clamp-none", f((3,)), lambda T, a: a.clamp(), RuntimeError,
    "At least one of 'min' or 'max' must not be None")
bad("value/alpha-float-int", lambda T: (i64(T, 3),), lambda T, a: a.add(1, alpha=1.5), RuntimeError,
    "For integral input tensors, argument alpha must not be a floating point number")
bad("value/bool-sub", f((3,), (3,), dtype="bool"), lambda T, a, b: a - b, RuntimeError,
    "Subtraction, the `-` operator, with two bool tensors is not supported")
bad("value/bool-neg", f((3,), dtype="bool"), lambda T, a: -a, RuntimeError,
    "Negation, the `-` operator, on a bool tensor is not supported")
bad("value/bitwise-float", f((3,), (3,)), lambda T, a, b: a.bitwise_and(b), NotImplementedError,
    "not implemented for 'Float'")
bad("value/shift-float", f((3,)), lambda T, a: a << 1, NotImplementedError, "not implemented for 'Float'")
bad("value/frac-int", lambda T: (i64(T, 3),), lambda T, a: a.frac(), NotImplementedError, "not implemented for 'Long'")
bad("value/hypot-int", lambda T: (i64(T, 3),), lambda T, a: T.hypot(a, a), NotImplementedError,
    "not implemented for 'Long'")
bad("value/floor-bool", f((3,), dtype="bool"), lambda T, a: a.floor(), NotImplementedError,
    "not implemented for 'Bool'")
bad("value/lerp-dtypes", lambda T: (mk(T, 3, device="cpu"), mk(T, 3, dtype="float64")), lambda T, a, b: a.lerp(b, 0.5),
    RuntimeError, "expected dtype float for `end` but got dtype double")
bad("value/where-cond", f((3,), (3,), (3,)), lambda T, c, a, b: T.where(c, a, b), RuntimeError,
    "where expected condition to be a boolean tensor, but got a tensor with dtype Float")
bad("value/mean-int", lambda T: (i64(T, 3),), lambda T, a: a.mean(), RuntimeError, "mean\\(\\).*Long")
bad("value/var-int", lambda T: (i64(T, 3),), lambda T, a: a.var(), RuntimeError, "floating point")

# ---- invalid dtype and device strings -------------------------------------------------------------------
bad("device/unknown-type", lambda T: (), lambda T: T.device("tpu"), RuntimeError,
    "Expected one of cpu, .* device type at start of device string: tpu")
bad("device/bad-index", lambda T: (), lambda T: T.device("cpu:x"), RuntimeError, "Invalid device string: 'cpu:x'")
bad("device/float", lambda T: (), lambda T: T.device(3.5), TypeError, "float")
bad("device/zeros", lambda T: (), lambda T: T.zeros(2, device="nope"), RuntimeError, "device string: nope")
bad("device/to", f((3,)), lambda T, a: a.to("nope"), RuntimeError, "device string: nope")
bad("device/cl-out-of-range", lambda T: (), lambda T: T.device("cl:99"), RuntimeError,
    r"OpenCL device index 99 is out of range: \d+ device\(s\) found", torch=False)
bad("dtype/string", lambda T: (), lambda T: T.zeros(2, dtype="floaty"), TypeError, "floaty", torch=False)
bad("dtype/to-string", f((3,)), lambda T, a: a.to(dtype="x"), TypeError, "x")
bad("dtype/object", lambda T: (), lambda T: T.ones(2, dtype=object), TypeError, "dtype")
bad("dtype/type-name", f((3,)), lambda T, a: a.type("torch.NopeTensor"), (TypeError, ValueError), "NopeTensor",
    torch=False)

# ---- autograd misuse -----------------------------------------------------------------------------------
bad("grad/numpy", f((3,), grad=True), lambda T, a: a.numpy(), RuntimeError,
    r"Can't call numpy\(\) on Tensor that requires grad. Use tensor.detach\(\).numpy\(\) instead")
bad("grad/np.asarray", f((3,), grad=True), lambda T, a: np.asarray(a), RuntimeError,
    r"Can't call numpy\(\) on Tensor that requires grad")
bad("grad/no-grad-fn", lambda T: (mk(T, 2, 3).sum(),), lambda T, s: s.backward(), RuntimeError,
    "element 0 of tensors does not require grad and does not have a grad_fn")
bad("grad/non-scalar", lambda T: (mk(T, 2, grad=True) * 2,), lambda T, y: y.backward(), RuntimeError,
    "grad can be implicitly created only for scalar outputs")
bad("grad/out-requires-grad", lambda T: (mk(T, 3, grad=True), mk(T, 3)), lambda T, a, o: T.mul(a, 2, out=o),
    RuntimeError, "out=... arguments don't support automatic differentiation")
bad("grad/set-grad-shape", f((3,), (4,)), lambda T, a, g: setattr(a, "grad", g), RuntimeError,
    r"assign a gradient of size '\[4\]' to a tensor of size '\[3\]'")

# ---- integer division by zero (PyTorch raises on CPU) --------------------------------------------------
bad("zerodiv/floordiv-scalar", lambda T: (i64(T, 3),), lambda T, a: a // 0, RuntimeError, "ZeroDivisionError")
bad("zerodiv/remainder-scalar", lambda T: (i64(T, 3),), lambda T, a: a % 0, RuntimeError, "ZeroDivisionError")
bad("zerodiv/fmod-scalar", lambda T: (i64(T, 3),), lambda T, a: T.fmod(a, 0), RuntimeError, "ZeroDivisionError")
bad("zerodiv/trunc-scalar", lambda T: (i64(T, 3),), lambda T, a: a.div(0, rounding_mode="trunc"), RuntimeError,
    "ZeroDivisionError")
bad("zerodiv/floordiv_-scalar", f((3,), dtype="int32"), lambda T, a: a.floor_divide_(0), RuntimeError,
    "ZeroDivisionError")
bad("zerodiv/floordiv-tensor", lambda T: (i64(T, 3), i64(T, 3)), lambda T, a, b: a // b, RuntimeError,
    "ZeroDivisionError", reads=True)
bad("zerodiv/remainder-tensor", lambda T: (i64(T, 3), i64(T, 3)), lambda T, a, b: T.remainder(a, b), RuntimeError,
    "ZeroDivisionError", reads=True)
bad("zerodiv/imod-tensor", lambda T: (mk(T, 3, dtype="int16"), mk(T, 3, dtype="int16")),
    lambda T, a, b: a.__imod__(b), RuntimeError, "ZeroDivisionError", reads=True)
bad("zerodiv/uint8-0d", lambda T: (mk(T, 3, dtype="uint8"), T.tensor(0, dtype=T.uint8)), lambda T, a, b: a // b,
    RuntimeError, "ZeroDivisionError", reads=True)


# ==== the tests ===========================================================================================


def _tensors(args):
    for a in args:
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from _tensors(a)


def _snapshot(args):
    return [t.detach()._to_numpy_copy() for t in _tensors(args)]


def test_the_catalogue_is_large_and_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) + len(FP64_CASES) >= 150, len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_raises_before_any_kernel(case, launches):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = case.build(torch)
        before = _snapshot(args)  # also submits the launches that built the arguments
        launches.clear()
        stats = dict(codegen.stats)
        with pytest.raises(case.exc) as info:
            case.call(torch, *args)
    message = str(info.value)
    assert isinstance(info.value, (RuntimeError, IndexError, TypeError, ValueError))
    for pattern in case.match:
        assert re.search(pattern, message), f"{pattern!r} not found in {message!r}"
    if case.reads:
        assert all(CHECK_KERNELS.match(n) for n in launches), launches
    else:
        assert launches == [], f"kernels ran before the error: {launches}"
        assert (codegen.stats["renders"], codegen.stats["builds"]) == (stats["renders"], stats["builds"])
    for old, new in zip(before, _snapshot(args)):
        np.testing.assert_array_equal(old, new)  # out= and in-place targets untouched


TORCH_CASES = [c for c in CASES if c.torch]


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed: the cross-check needs it")
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
def test_pytorch_raises_the_same_exception_type(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as ref:
            case.call(real_torch, *case.build(real_torch))
        with pytest.raises(Exception) as got:
            case.call(torch, *case.build(torch))
    assert isinstance(ref.value, case.exc), f"PyTorch raised {type(ref.value).__name__}: {ref.value}"
    assert isinstance(got.value, type(ref.value)), (
        f"PyTorch raised {type(ref.value).__name__} ({ref.value}); cltensor raised {type(got.value).__name__}")


# ---- float64 on a device without cl_khr_fp64 --------------------------------------------------------------
@pytest.fixture(scope="module")
def no_fp64():
    """A fresh backend over the same OpenCL device, told it has no float64 (plus a float64 tensor made
    on it while it still had, as from_numpy could)."""
    from cltensor.device import Backend as _Backend, device as Device, _all_cl_devices
    from cltensor.ops.creation import from_host
    backend = _Backend(_all_cl_devices()[0])
    dev = object.__new__(Device)
    dev.type, dev.index, dev._backend = "cl", 0, backend
    had_fp64, backend.has_fp64 = backend.has_fp64, True
    x64 = from_host(np.arange(3.0), torch.float64, dev)  # an upload: no kernel, so any device can
    x32 = from_host(np.arange(3.0, dtype=np.float32), torch.float32, dev)
    backend.has_fp64 = False
    yield dev, x32, x64
    backend.has_fp64 = had_fp64


NO_FP64 = r"float64 is not supported on cl:0 \(.*\): the device lacks cl_khr_fp64; use float32"
FP64_CASES = {
    "zeros": lambda d, x32, x64: torch.zeros(2, dtype=torch.float64, device=d),
    "ones": lambda d, x32, x64: torch.ones(2, 2, dtype=torch.float64, device=d),
    "empty": lambda d, x32, x64: torch.empty(2, dtype=torch.float64, device=d),
    "tensor": lambda d, x32, x64: torch.tensor([1.0], dtype=torch.float64, device=d),
    "arange": lambda d, x32, x64: torch.arange(5, dtype=torch.float64, device=d),
    "full": lambda d, x32, x64: torch.full((2,), 1.0, dtype=torch.float64, device=d),
    "randn": lambda d, x32, x64: torch.randn(2, dtype=torch.float64, device=d),
    "eye": lambda d, x32, x64: torch.eye(3, dtype=torch.float64, device=d),
    "double": lambda d, x32, x64: x32.double(),
    "to": lambda d, x32, x64: x32.to(torch.float64),
    "promote-add": lambda d, x32, x64: x32 + x64,
    "mul-scalar": lambda d, x32, x64: x64 * 2,
    "sum": lambda d, x32, x64: x64.sum(),
    "sum-dtype": lambda d, x32, x64: x32.sum(dtype=torch.float64),
    "zeros_like": lambda d, x32, x64: torch.zeros_like(x64),
    "clone": lambda d, x32, x64: x64.clone(),
}


@pytest.mark.parametrize("name", list(FP64_CASES))
def test_float64_on_a_device_without_fp64(name, no_fp64, launches):
    dev, x32, x64 = no_fp64
    with pytest.raises(RuntimeError, match=NO_FP64):
        FP64_CASES[name](dev, x32, x64)
    assert launches == []


def test_the_device_without_fp64_still_computes_float32(no_fp64):
    dev, x32, _ = no_fp64
    np.testing.assert_array_equal((x32 * 2 + 1).cpu().numpy(), [1.0, 3.0, 5.0])


# ==== NaN and inf propagation ============================================================================
NAN, INF = float("nan"), float("inf")
SPECIALS = np.array([NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e30, -1e-30], np.float32)
PAIR_SPECIALS = np.array([NAN, INF, -INF, 0.0, -0.0, 1.0, -2.5], np.float32)
# rows without a public PyTorch function of the same name: how to call them on both libraries
PUBLIC = {
    "_div_trunc": lambda T, a, b: T.div(a, b, rounding_mode="trunc"),
    "_nan_to_num": lambda T, a: T.nan_to_num(a),
    "_clamp": lambda T, a, lo, hi: T.clamp(a, lo, hi),
    "_clamp_min": lambda T, a, lo: T.clamp(a, min=lo),
    "_clamp_max": lambda T, a, hi: T.clamp(a, max=hi),
    "_isclose": lambda T, a, b: T.isclose(a, b, equal_nan=True),
    "where": lambda T, c, a, b: T.where(c > 0, a, b),
    "true_divide": lambda T, a, b: T.true_divide(a, b),
}
_ACTIVATIONS = {"_gelu": "gelu", "_silu": "silu", "_mish": "mish", "_elu": "elu", "_celu": "celu",
                "_softplus": "softplus", "_hardswish": "hardswish", "_hardsigmoid": "hardsigmoid",
                "_logsigmoid": "logsigmoid", "_softsign": "softsign", "_tanhshrink": "tanhshrink"}
PUBLIC.update({row: (lambda fn: lambda T, a: getattr(T.nn.functional, fn)(a))(fn) for row, fn in _ACTIVATIONS.items()})
PUBLIC["_gelu_tanh"] = lambda T, a: T.nn.functional.gelu(a, approximate="tanh")
# the identity used by copies, and the internal pieces of fused kernels that have no public call: the
# activations' backward rows (their NaN/inf behaviour is checked through the gradients below), layer_norm's
# and Adam's (tests/test_optim.py checks its steps against PyTorch's)
SKIP_ROWS = {"_copy", "_layer_norm_apply", "_layer_norm_input_grad", "_adam_second_moment", "_adam_step"} | {
    n for n in OPS if n.endswith("_backward")}
ROWS = [name for name in OPS if name not in SKIP_ROWS]


def _special_operands(arity):
    if arity == 1:
        return [SPECIALS]
    grid = np.array(np.meshgrid(*([PAIR_SPECIALS] * arity), indexing="ij")).reshape(arity, -1)
    return list(grid)


def _call_row(T, name, operands):
    fn = PUBLIC.get(name) or (lambda T, *xs: getattr(T, name)(*xs))
    return fn(T, *[T.tensor(x) for x in operands])


# numpy references of the public calls above, where the row's own ref is absent or differs at inf/NaN
PUBLIC_REFS = {
    "_nan_to_num": np.nan_to_num,
    "_isclose": lambda a, b: np.isclose(a, b, equal_nan=True),
    # PyTorch's lerp: two branches, so lerp(a, b, 1) is exactly b (inf included)
    "lerp": lambda a, b, w: np.where(np.abs(w) < 0.5, a + w * (b - a), b - (b - a) * (1 - w)),
}


def _numpy_row(name, operands):
    """The reference where PyTorch is absent, computed in the row's dtype (float32) as the kernel is:
    overflow to inf (square(1e30)) and dtype limits (nan_to_num) are those of float32, not float64."""
    op = OPS[name]
    ref = PUBLIC_REFS.get(name, op.ref)
    if isinstance(ref, str):
        import math as _m
        ref = np.vectorize(getattr(_m, ref), otypes=[np.float64])
    with np.errstate(all="ignore"):
        if name == "where":
            return np.where(operands[0] > 0, operands[1], operands[2])
        got = np.asarray(ref(*operands))
        return got if got.dtype == np.bool_ else got.astype(operands[0].dtype)


def _assert_same_specials(got, expected, context, operands=None):
    """Same NaN and +-inf positions, finite values close; a failure lists the operands where they differ."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, context
    if expected.dtype == np.bool_ or got.dtype == np.bool_:
        wrong = got != expected.astype(got.dtype)
    else:
        g, e = got.astype(np.float64), expected.astype(np.float64)
        both = np.isfinite(g) & np.isfinite(e)
        wrong = ((np.isnan(g) != np.isnan(e)) | (np.isposinf(g) != np.isposinf(e))
                 | (np.isneginf(g) != np.isneginf(e)))
        wrong |= both & ~np.isclose(g, e, rtol=2e-5, atol=1e-30)
    if wrong.any():
        where = np.argwhere(wrong)[:6]
        shown = [(tuple(int(i) for i in w), [float(x[tuple(w)]) for x in operands] if operands else None,
                  got[tuple(w)].item(), expected[tuple(w)].item()) for w in where]
        raise AssertionError(f"{context}: {int(wrong.sum())} of {wrong.size} differ; "
                             f"(position, operands, got, expected): {shown}")


@pytest.mark.parametrize("name", ROWS)
def test_nan_and_inf_propagate_through_every_elementwise_row(name):
    op = OPS[name]
    operands = _special_operands(op.arity)
    try:
        got = _call_row(torch, name, operands)
    except NotImplementedError:  # an integer-only row: floats are a bad input there, as in PyTorch
        assert not (HAVE_TORCH and _torch_accepts(name, operands))
        return
    if HAVE_TORCH:
        expected = _call_row(real_torch, name, operands).numpy()
    else:
        expected = _numpy_row(name, operands)
    _assert_same_specials(got.cpu().numpy(), expected, name, operands)


@pytest.mark.skipif(not HAVE_TORCH, reason="compares with PyTorch")
@pytest.mark.parametrize("row", sorted(_ACTIVATIONS) + ["_gelu_tanh"])
def test_nan_and_inf_propagate_through_the_fused_activation_gradients(row):
    x = SPECIALS[np.abs(SPECIALS) < 1e29]  # past that, PyTorch's own float32 backward overflows in places
    grads = []
    for T in (torch, real_torch):
        t = T.tensor(x, requires_grad=True)
        PUBLIC[row](T, t).backward(T.tensor(np.linspace(0.5, 1.5, x.size, dtype=np.float32)))
        grads.append(t.grad.cpu().numpy())
    _assert_same_specials(grads[0], grads[1], f"{row} gradient", [x])


def _torch_accepts(name, operands):
    try:
        _call_row(real_torch, name, operands)
        return True
    except RuntimeError:
        return False


NAN_ROWS = {
    "nan": [1.0, NAN, 2.0, -INF],
    "inf": [1.0, INF, -2.0, 3.0],
    "-inf": [1.0, -INF, -2.0, 3.0],
    "both-infs": [INF, -INF, 0.0, 1.0],
    "all-neg-inf": [-INF, -INF, -INF, -INF],
    "nan-and-inf": [INF, NAN, -INF, 0.0],
    "zeros": [0.0, -0.0, 0.0, -0.0],
}
REDUCTIONS = {
    "sum": lambda T, x: x.sum(-1), "mean": lambda T, x: x.mean(-1), "prod": lambda T, x: x.prod(-1),
    "max": lambda T, x: x.max(-1).values, "min": lambda T, x: x.min(-1).values, "amax": lambda T, x: x.amax(-1),
    "amin": lambda T, x: x.amin(-1), "argmax": lambda T, x: x.argmax(-1), "argmin": lambda T, x: x.argmin(-1),
    "max-index": lambda T, x: x.max(-1).indices, "max-all": lambda T, x: x.max(), "argmax-all": lambda T, x: x.argmax(),
    "softmax": lambda T, x: x.softmax(-1), "log_softmax": lambda T, x: x.log_softmax(-1),
    "logsumexp": lambda T, x: x.logsumexp(-1), "var": lambda T, x: x.var(-1), "std": lambda T, x: x.std(-1),
    "norm": lambda T, x: x.norm(dim=-1), "cumsum": lambda T, x: x.cumsum(-1), "cumprod": lambda T, x: x.cumprod(-1),
    "nansum": lambda T, x: T.nansum(x, -1), "nanmean": lambda T, x: T.nanmean(x, -1),
    "sum-dim0": lambda T, x: x.t().sum(0), "max-dim0": lambda T, x: x.t().amax(0),
    "softmax-dim0": lambda T, x: x.t().softmax(0),
}
# expected values without PyTorch (PyTorch's semantics: max/min/argmax propagate NaN, softmax of a row
# of -inf is NaN, logsumexp of it is -inf)
NUMPY_REDUCTIONS = {
    "sum": lambda a: a.sum(-1), "mean": lambda a: a.mean(-1), "prod": lambda a: a.prod(-1),
    "max": lambda a: a.max(-1), "min": lambda a: a.min(-1), "amax": lambda a: a.max(-1),
    "amin": lambda a: a.min(-1), "argmax": lambda a: np.argmax(a, -1), "argmin": lambda a: np.argmin(a, -1),
    "max-index": lambda a: np.argmax(a, -1), "max-all": lambda a: a.max(), "argmax-all": lambda a: np.argmax(a),
    "softmax": lambda a: _np_softmax(a), "log_softmax": lambda a: np.log(_np_softmax(a)),
    "logsumexp": lambda a: _np_logsumexp(a), "var": lambda a: a.var(-1, ddof=1), "std": lambda a: a.std(-1, ddof=1),
    "norm": lambda a: np.sqrt((a * a).sum(-1)), "cumsum": lambda a: a.cumsum(-1), "cumprod": lambda a: a.cumprod(-1),
    "nansum": lambda a: np.nansum(a, -1), "nanmean": lambda a: np.nanmean(a, -1), "sum-dim0": lambda a: a.sum(-1),
    "max-dim0": lambda a: a.max(-1), "softmax-dim0": lambda a: _np_softmax(a).T,
}


def _np_softmax(a):
    m = a.max(-1, keepdims=True)
    e = np.exp(a - m)
    return e / e.sum(-1, keepdims=True)


def _np_logsumexp(a):
    m = a.max(-1)
    safe = np.where(np.isinf(m), 0.0, m)
    return np.log(np.exp(a - safe[..., None]).sum(-1)) + safe


@pytest.mark.parametrize("reduction", list(REDUCTIONS))
def test_nan_and_inf_through_reductions(reduction):
    rows = np.array(list(NAN_ROWS.values()), np.float32)
    got = REDUCTIONS[reduction](torch, torch.tensor(rows))
    if HAVE_TORCH:
        expected = REDUCTIONS[reduction](real_torch, real_torch.tensor(rows)).numpy()
    else:
        with np.errstate(all="ignore"):
            expected = NUMPY_REDUCTIONS[reduction](rows.astype(np.float64))
    _assert_same_specials(got.cpu().numpy(), expected, f"{reduction} of rows {list(NAN_ROWS)}", None)


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_nan_and_inf_through_matmul(layout):
    a = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    b = np.arange(8, dtype=np.float32).reshape(4, 2) - 3
    a[0, 1], a[1, 2], b[2, 1] = NAN, INF, 0.0  # row 0 NaN; inf * 0 -> NaN in [1, 1]; inf * finite -> inf
    ta, tb = torch.tensor(a), torch.tensor(b)
    if layout == "transposed":
        ta, tb = torch.tensor(np.ascontiguousarray(a.T)).T, torch.tensor(np.ascontiguousarray(b.T)).T
    got = (ta @ tb).cpu().numpy()
    with np.errstate(all="ignore"):
        expected = real_torch.tensor(a).matmul(real_torch.tensor(b)).numpy() if HAVE_TORCH else a @ b
    _assert_same_specials(got, expected, "matmul")
    assert np.isnan(got[0]).all() and np.isnan(got[1, 1]) and got[1, 0] == INF


# ---- integer extremes: where C overflows, PyTorch's answers (regressions: MIN % -1, isclose) ---------------
MIN32, MAX32, MIN64, MAX64 = -2**31, 2**31 - 1, -2**63, 2**63 - 1


def _int(T, values, dtype):
    return T.tensor(values, dtype=getattr(T, dtype))


INT_EDGES = {  # name: (call, PyTorch's result)
    "remainder-by-minus-one": (lambda T: _int(T, [MIN32, 7, -7], "int32") % _int(T, [-1, -1, 3], "int32"), [0, 0, 2]),
    "remainder-int64": (lambda T: T.remainder(_int(T, [MIN64, MAX64, -5], "int64"), _int(T, [-1, -1, 3], "int64")),
                        [0, 0, 1]),
    "fmod-by-minus-one": (lambda T: T.fmod(_int(T, [MIN32, -7, 7], "int32"), _int(T, [-1, -1, -3], "int32")),
                          [0, 0, 1]),
    "floor_divide-min": (lambda T: _int(T, [MIN32, MIN32, MAX32], "int32") // _int(T, [-1, 2, -1], "int32"),
                         [MIN32, -2**30, -MAX32]),
    "isclose-extremes": (lambda T: T.isclose(_int(T, [MAX32, MIN32, 5], "int32"), _int(T, [MIN32, MAX32, 5], "int32")),
                         [False, False, True]),
    "isclose-int64": (lambda T: T.isclose(_int(T, [MAX64, 100000], "int64"), _int(T, [MIN64, 100001], "int64")),
                      [False, True]),
    "abs-neg-min": (lambda T: T.stack([_int(T, [MIN32, -5], "int32").abs(), -_int(T, [MIN32, 5], "int32")]),
                    [[MIN32, 5], [MIN32, -5]]),
    "add-mul-wrap": (lambda T: T.stack([_int(T, [MAX32, MIN32], "int32") + 1,
                                        _int(T, [MAX32, 65536], "int32") * _int(T, [2, 65536], "int32")]),
                     [[MIN32, MIN32 + 1], [-2, 0]]),
    "uint8-wrap": (lambda T: T.stack([_int(T, [250, 3], "uint8") + 10,
                                      _int(T, [3, 250], "uint8") - _int(T, [5, 10], "uint8")]), [[4, 13], [254, 240]]),
    "shift-past-width": (lambda T: T.stack([_int(T, [1, -8, 3], "int32") << _int(T, [33, 1, 40], "int32"),
                                            _int(T, [-8, 8, -1], "int32") >> _int(T, [40, 40, 31], "int32")]),
                         [[0, -16, 0], [-1, 0, -1]]),
    "pow-wraps": (lambda T: _int(T, [3, -2, 2], "int32") ** _int(T, [21, 31, 31], "int32"), [1870418611, MIN32, MIN32]),
    "clamp-extremes": (lambda T: T.clamp(_int(T, [MIN64, MAX64, 0], "int64"), -5, 5), [-5, 5, 0]),
    "sum-int32-into-int64": (lambda T: _int(T, [MAX32, MAX32], "int32").sum(), 2 * MAX32),
    "max-min-int64": (lambda T: T.stack([_int(T, [MIN64, MAX64], "int64").max(),
                                         _int(T, [MIN64, MAX64], "int64").min()]), [MAX64, MIN64]),
}


@pytest.mark.parametrize("name", list(INT_EDGES))
def test_integer_extremes_as_pytorch(name):
    call, expected = INT_EDGES[name]
    assert call(torch).tolist() == expected
    if HAVE_TORCH:
        assert call(real_torch).tolist() == expected
