"""Device self-test: ``python -m cltensor.selftest [--device D] [--family NAME] [--list]``.

Prints the OpenCL device's identity and capabilities, then runs every kernel family (elementwise,
reductions, GEMM, indexing, scan, sort, random, copies, autograd) on small cases with odd shapes
and non-contiguous views, each result compared with a numpy float64 reference computed on the
host. One line per family, PASS or FAIL (with the first failing check and its error), then a
summary; the exit status is 0 when every family passed, 1 otherwise.

Checks the device cannot run (float64 without cl_khr_fp64, 64-bit atomic accumulation without
cl_khr_int64_base_atomics, transfers when the device is the host) are skipped and named, and do
not count as failures. An exception inside a check fails that check; the family goes on.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pyopencl as cl

import cltensor as torch
from .device import _all_cl_devices

# (rtol, atol) per result dtype; integers and bools compare exactly
TOL = {"float16": (1e-2, 1e-2), "float32": (1e-5, 1e-5), "float64": (1e-10, 1e-12)}
INT_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]
FLOAT_DTYPES = [torch.float16, torch.float32, torch.float64]
INT64_ATOMICS = "cl_khr_int64_base_atomics"
FAMILIES = {}  # name -> function(checker), in the order they run


def family(fn):
    FAMILIES[fn.__name__] = fn
    return fn


# ---- comparing with numpy --------------------------------------------------------------------------
def compare(got, expected, rtol=None, atol=None, dtype=None) -> str | None:
    """None when tensor `got` matches the numpy reference `expected`, else what differs."""
    if dtype is not None and got.dtype is not dtype:
        return f"dtype {got.dtype}, expected {dtype}"
    values = np.asarray(got.detach().cpu().numpy())
    expected = np.asarray(expected)
    if values.shape != expected.shape:
        return f"shape {values.shape}, expected {expected.shape}"
    if not got.dtype.is_floating_point:
        bad = values != expected
        if not bad.any():
            return None
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        return f"{int(bad.sum())} of {bad.size} values differ, first at {at}: {values[at]} != {expected[at]}"
    r, a = TOL[got.dtype.name]
    r, a = (rtol if rtol is not None else r), (atol if atol is not None else a)
    flat, ref = values.astype(np.float64).ravel(), expected.astype(np.float64).ravel()
    with np.errstate(invalid="ignore"):
        err = np.abs(flat - ref)
    err[(flat == ref) | (np.isnan(flat) & np.isnan(ref))] = 0  # equal infinities, NaN where NaN is expected
    err[np.isnan(err)] = np.inf
    excess = err - (a + r * np.abs(np.nan_to_num(ref)))
    if flat.size == 0 or excess.max() <= 0:
        return None
    worst = int(np.argmax(excess))
    at = tuple(int(i) for i in np.unravel_index(worst, values.shape))
    return (f"max error {err.max():.3g}; worst at {at}: {flat[worst]:.6g} vs {ref[worst]:.6g} "
            f"(tolerance {a:g} + {r:g}*|expected|)")


def loose(dtype, float32=1e-5) -> dict:
    """rtol/atol for results summed over many terms: float32 given, float16 1e-2, float64 the default."""
    if dtype in (torch.float16, torch.float32):
        r = 1e-2 if dtype is torch.float16 else float32
        return {"rtol": r, "atol": r}
    return {}


def wide(array: np.ndarray) -> np.ndarray:
    """The reference's precision: float64, or int64 for integers and bools."""
    return array.astype(np.float64 if array.dtype.kind == "f" else np.int64)


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(err).__name__}: {first[:300]}"


class Checker:
    """One family's run on a device: makes inputs, runs checks, keeps the tally."""

    def __init__(self, device, verbose=False):
        self.device = device
        self.backend = device.backend
        self.rng = np.random.default_rng(0)
        self.verbose = verbose
        self.count = self.passed = 0
        self.failures: list[str] = []
        self.skipped: list[str] = []

    def close(self, label, compute, expected, rtol=None, atol=None, dtype=None):
        """compute() (a tensor) must match the numpy reference `expected`."""
        self.count += 1
        try:
            problem = compare(compute(), expected, rtol, atol, dtype)
        except Exception as err:  # noqa: BLE001 - a failing op is what the self-test reports
            problem = one_line(err)
        if problem:
            self.failures.append(f"{label}: {problem}")
        else:
            self.passed += 1
        if self.verbose:
            print(f"      {'ok  ' if not problem else 'FAIL'}  {label}" + (f": {problem}" if problem else ""))

    def skip(self, what, why):
        self.skipped.append(f"{what} ({why})")

    def dtypes(self, candidates, what="checks"):
        """The candidates the device can run; float64 without fp64 is recorded as skipped."""
        if torch.float64 in candidates and not self.backend.has_fp64:
            self.skip(f"float64 {what}", "no cl_khr_fp64")
        return [d for d in candidates if d is not torch.float64 or self.backend.has_fp64]

    def random(self, shape, dtype=torch.float32, low=-1.0, high=1.0) -> np.ndarray:
        if dtype is torch.bool:
            return self.rng.random(shape) > 0.5
        if dtype.is_floating_point:
            return self.rng.uniform(low, high, shape).astype(dtype.np)
        return self.rng.integers(0, 6, shape).astype(dtype.np)

    def tensor(self, array, **kw):
        return torch.tensor(array, device=self.device, **kw)

    def transposed(self, array):
        """A non-contiguous tensor (a transposed view) holding a 2-D array's values."""
        return self.tensor(np.ascontiguousarray(array.T)).T

    def stepped(self, array):
        """A non-contiguous tensor (every other element of the last dim) holding array's values."""
        return self.tensor(np.repeat(array, 2, axis=-1))[..., ::2]


# ---- the families ----------------------------------------------------------------------------------
@family
def elementwise(c):
    for dtype in c.dtypes([torch.bool] + INT_DTYPES + FLOAT_DTYPES):
        a, b, row = c.random((5, 7), dtype), c.random((5, 7), dtype), c.random((7,), dtype)
        if dtype is torch.bool:
            _elementwise_bool(c, a, b, row)
        else:
            _elementwise_numbers(c, dtype, a, b, row)
    ints, floats = c.random((5, 7), torch.int32), c.random((7,), torch.float32)
    c.close("int32 + float32 broadcast (promotion)", lambda: c.tensor(ints) + c.tensor(floats),
            wide(ints) + wide(floats), dtype=torch.float32)
    c.close("int32 * 2.5 (Python scalar)", lambda: c.transposed(ints) * 2.5, wide(ints) * 2.5, dtype=torch.float32)


def _elementwise_bool(c, a, b, row):
    c.close("bool & contiguous", lambda: c.tensor(a) & c.tensor(b), a & b)
    c.close("bool | transposed", lambda: c.transposed(a) | c.tensor(b), a | b)
    c.close("bool ^ broadcast", lambda: c.stepped(a) ^ c.tensor(row), a ^ row)
    c.close("bool ~ stepped", lambda: ~c.stepped(a), ~a)


def _elementwise_numbers(c, dtype, a, b, row):
    name, A, B, R = dtype.name, wide(a), wide(b), wide(row)
    exact = (lambda x: x.astype(dtype.np)) if not dtype.is_floating_point else (lambda x: x)
    c.close(f"{name} + contiguous (5, 7)", lambda: c.tensor(a) + c.tensor(b), exact(A + B), dtype=dtype)
    c.close(f"{name} * transposed", lambda: c.transposed(a) * c.tensor(b), exact(A * B), dtype=dtype)
    c.close(f"{name} - stepped", lambda: c.stepped(a) - c.transposed(b), exact(A - B), dtype=dtype)
    c.close(f"{name} + broadcast (5, 7) + (7,)", lambda: c.tensor(a) + c.tensor(row), exact(A + R), dtype=dtype)
    c.close(f"{name} < transposed", lambda: c.transposed(a) < c.stepped(b), A < B)
    c.close(f"{name} maximum broadcast (5, 1)", lambda: torch.maximum(c.tensor(a), c.tensor(b[:, :1])),
            exact(np.maximum(A, B[:, :1])), dtype=dtype)
    if dtype.is_floating_point:
        c.close(f"{name} exp transposed", lambda: torch.exp(c.transposed(a)), np.exp(A))
        c.close(f"{name} tanh stepped", lambda: torch.tanh(c.stepped(a)), np.tanh(A))
        c.close(f"{name} sqrt(abs)", lambda: torch.sqrt(torch.abs(c.tensor(a))), np.sqrt(np.abs(A)))
        c.close(f"{name} where", lambda: torch.where(c.tensor(a) > 0, c.tensor(a), c.transposed(b)),
                np.where(A > 0, A, B))


@family
def reductions(c):
    for dtype in c.dtypes([torch.float32, torch.float64, torch.float16]):
        _reduce_dtype(c, dtype, c.random((37, 53), dtype))
    ints = c.random((37, 53), torch.int32)
    c.close("int32 sum all (int64 result)", lambda: c.transposed(ints).sum(), wide(ints).sum(), dtype=torch.int64)
    c.close("int32 max dim 0", lambda: c.tensor(ints).max(0).values, ints.max(0))
    _long_sums(c)


def _reduce_dtype(c, dtype, x):
    name, X = dtype.name, wide(x)
    tol = loose(dtype)
    c.close(f"{name} sum over rows (dim 0) of (37, 53)", lambda: c.tensor(x).sum(0), X.sum(0), **tol)
    c.close(f"{name} sum over columns (dim 1)", lambda: c.tensor(x).sum(1), X.sum(1), **tol)
    c.close(f"{name} sum all, transposed", lambda: c.transposed(x).sum(), X.sum(), **tol)
    c.close(f"{name} mean dim 1, transposed", lambda: c.transposed(x).mean(1), X.mean(1), **tol)
    c.close(f"{name} max dim 0 values", lambda: c.tensor(x).max(0).values, X.max(0))
    c.close(f"{name} max dim 0 indices", lambda: c.tensor(x).max(0).indices, X.argmax(0))
    c.close(f"{name} argmax dim 1, stepped", lambda: c.stepped(x).argmax(1), X.argmax(1))
    c.close(f"{name} argmax all", lambda: c.tensor(x).argmax(), X.argmax())
    c.close(f"{name} var dim 0 (unbiased)", lambda: c.tensor(x).var(0), X.var(0, ddof=1), **tol)
    c.close(f"{name} var all", lambda: c.stepped(x).var(), X.var(ddof=1), **tol)


def _long_sums(c):
    """Long enough that every tuning splits the sum over work-items or groups and adds a stage."""
    n = 100_003
    x = c.random((n,), torch.float32, 0.0, 1.0)
    c.close(f"float32 two-stage sum of {n}", lambda: c.tensor(x).sum(), wide(x).sum(), rtol=2e-6)
    c.close(f"float32 two-stage sum of {n}, stepped", lambda: c.stepped(x).sum(), wide(x).sum(), rtol=2e-6)
    c.close(f"int32 two-stage sum of {n} ones", lambda: torch.ones(n, dtype=torch.int32, device=c.device).sum(),
            np.int64(n))
    if c.dtypes([torch.float64], "two-stage sum"):
        c.close(f"float64 two-stage sum of {n}", lambda: c.tensor(wide(x)).sum(), wide(x).sum())


@family
def gemm(c):
    for dtype in c.dtypes([torch.float32, torch.float16, torch.float64]):
        a, b = c.random((33, 17), dtype), c.random((17, 29), dtype)
        tol = loose(dtype, 1e-4)
        ref = wide(a) @ wide(b)
        c.close(f"{dtype.name} mm (33, 17) @ (17, 29)", lambda: c.tensor(a) @ c.tensor(b), ref, **tol)
        c.close(f"{dtype.name} mm transposed A", lambda: c.transposed(a) @ c.tensor(b), ref, **tol)
        c.close(f"{dtype.name} mm transposed B", lambda: torch.mm(c.tensor(a), c.transposed(b)), ref, **tol)
        c.close(f"{dtype.name} mm both transposed", lambda: c.transposed(a) @ c.transposed(b), ref, **tol)
    _gemm_shapes(c)


def _gemm_shapes(c):
    a, b = c.random((130, 70)), c.random((70, 65))
    c.close("float32 mm (130, 70) @ (70, 65), several tiles", lambda: c.tensor(a) @ c.tensor(b),
            wide(a) @ wide(b), rtol=1e-4, atol=1e-4)
    p, q = c.random((3, 9, 13)), c.random((3, 13, 7))
    c.close("float32 bmm (3, 9, 13) @ (3, 13, 7)", lambda: torch.bmm(c.tensor(p), c.tensor(q)),
            wide(p) @ wide(q), rtol=1e-4, atol=1e-5)
    c.close("float32 batched, stepped A, broadcast B (13, 7)", lambda: torch.matmul(c.stepped(p), c.tensor(q[0])),
            wide(p) @ wide(q[0]), rtol=1e-4, atol=1e-5)
    i, j = c.random((9, 13), torch.int32), c.random((13, 7), torch.int32)
    c.close("int32 mm (9, 13) @ (13, 7)", lambda: c.tensor(i) @ c.transposed(j), wide(i) @ wide(j),
            dtype=torch.int32)


@family
def index(c):
    x = c.random((7, 5))
    rows = np.array([4, 0, 4, 2, 6])
    c.close("float32 index_select dim 0, transposed source", lambda: c.transposed(x).index_select(
        0, c.tensor(rows)), wide(x)[rows])
    c.close("float32 getitem x[index, :] and x[:, index]", lambda: c.tensor(x)[c.tensor(rows)][:, c.tensor(rows[:3])],
            wide(x)[rows][:, rows[:3]])
    c.close("float32 masked_select", lambda: c.tensor(x)[c.tensor(x) > 0], wide(x)[x > 0])
    where = c.rng.integers(0, 5, (7, 4))
    c.close("float32 gather dim 1", lambda: torch.gather(c.tensor(x), 1, c.tensor(where)),
            np.take_along_axis(wide(x), where, 1))
    perm = np.argsort(c.rng.random((7, 5)), axis=0)
    expected = np.zeros((7, 5))
    np.put_along_axis(expected, perm, wide(x), 0)
    c.close("float32 scatter dim 0 (a permutation)", lambda: torch.zeros(7, 5, device=c.device).scatter(
        0, c.tensor(perm), c.tensor(x)), expected)
    _accumulating(c)


def _accumulating(c):
    """Atomic adds with duplicate indices; 64-bit destinations need cl_khr_int64_base_atomics."""
    has_int64_atomics = INT64_ATOMICS in c.backend.cl_device.extensions.split()
    dtypes = c.dtypes([torch.float32, torch.int32, torch.int64, torch.float64], "index_add")
    for dtype in dtypes:
        if dtype.itemsize == 8 and not has_int64_atomics:
            c.skip(f"{dtype.name} index_add/scatter_add", f"no {INT64_ATOMICS}")
            continue
        base, src = c.random((5, 3), dtype), c.random((6, 3), dtype)
        rows = np.array([0, 2, 0, 4, 2, 2])
        expected = wide(base)
        np.add.at(expected, rows, wide(src))
        c.close(f"{dtype.name} index_add dim 0, duplicates", lambda: c.tensor(base).index_add(
            0, c.tensor(rows), c.transposed(src)), expected, dtype=dtype)
        where = c.rng.integers(0, 3, (4, 9))
        values = c.random((4, 9), dtype)
        expected = np.zeros((4, 3), wide(values).dtype)
        np.add.at(expected, (np.arange(4)[:, None], where), wide(values))
        c.close(f"{dtype.name} scatter_add dim 1, duplicates", lambda: torch.zeros(
            4, 3, dtype=dtype, device=c.device).scatter_add(1, c.tensor(where), c.tensor(values)), expected)
    if torch.float32 in dtypes:
        values, at = c.random((8,)), np.array([1, 3, 1, 1, 0, 6, 3, 1])
        expected = np.zeros(7)
        np.add.at(expected, at, wide(values))
        c.close("float32 index_put accumulate", lambda: torch.zeros(7, device=c.device).index_put_(
            (c.tensor(at),), c.tensor(values), accumulate=True), expected)


@family
def scan(c):
    for dtype in c.dtypes([torch.float32, torch.float64]):
        x = c.random((37, 53), dtype)
        tol = loose(dtype)
        c.close(f"{dtype.name} cumsum dim 1 of (37, 53)", lambda: torch.cumsum(c.tensor(x), 1),
                np.cumsum(wide(x), 1), **tol)
        c.close(f"{dtype.name} cumsum dim 0", lambda: c.tensor(x).cumsum(0), np.cumsum(wide(x), 0), **tol)
        c.close(f"{dtype.name} cumsum dim 1, transposed", lambda: c.transposed(x).cumsum(1),
                np.cumsum(wide(x), 1), **tol)
    ints = c.random((9, 11), torch.int32)
    c.close("int32 cumsum dim 1, stepped (int64 result)", lambda: c.stepped(ints).cumsum(1), np.cumsum(wide(ints), 1),
            dtype=torch.int64)
    n = 20_001
    long = c.random((2, n), torch.float32, 0.0, 1.0)
    c.close(f"float32 cumsum of rows of {n} (several blocks)", lambda: c.tensor(long).cumsum(1),
            np.cumsum(wide(long), 1), rtol=1e-5, atol=1e-3)


@family
def sort(c):
    for dtype in c.dtypes([torch.float32, torch.float16, torch.float64]):
        # distinct values, so that indices are unambiguous (float16 too: multiples of 1/64)
        x = (c.rng.permutation(37 * 53).reshape(37, 53) / 64 - 15).astype(dtype.np)
        X = wide(x)
        c.close(f"{dtype.name} sort dim 1 of (37, 53) values", lambda: torch.sort(c.tensor(x), 1).values,
                np.sort(X, 1))
        c.close(f"{dtype.name} sort dim 1 indices", lambda: torch.sort(c.tensor(x), 1).indices, np.argsort(X, 1))
        c.close(f"{dtype.name} sort dim 0 descending, transposed", lambda: c.transposed(x).sort(
            0, descending=True).values, -np.sort(-X, 0))
        c.close(f"{dtype.name} argsort stepped", lambda: torch.argsort(c.stepped(x)), np.argsort(X, 1))
        c.close(f"{dtype.name} topk 5 largest values", lambda: c.tensor(x).topk(5).values, -np.sort(-X, 1)[:, :5])
        c.close(f"{dtype.name} topk 5 largest indices", lambda: c.tensor(x).topk(5).indices,
                np.argsort(-X, 1)[:, :5])
        c.close(f"{dtype.name} topk 3 smallest dim 0", lambda: torch.topk(c.tensor(x), 3, 0, largest=False).values,
                np.sort(X, 0)[:3])
    ints = c.random((6, 1500), torch.int32)
    c.close("int32 stable sort of rows of 1500 with ties, indices", lambda: c.tensor(ints).sort(stable=True).indices,
            np.argsort(ints, 1, kind="stable"))


@family
def random(c):
    g = torch.Generator(c.device).manual_seed(2024)
    n = 100_000
    u = torch.rand(n, generator=g, device=c.device)
    z = torch.randn(n, generator=g, device=c.device)
    c.close(f"rand({n}) in [0, 1)", lambda: ((u >= 0) & (u < 1)).all(), np.bool_(True))
    c.close(f"rand({n}) mean 1/2", lambda: u.mean(), 0.5, atol=0.01, rtol=0)
    c.close(f"rand({n}) variance 1/12", lambda: u.var(), 1 / 12, atol=0.005, rtol=0)
    c.close(f"randn({n}) mean 0", lambda: z.mean(), 0.0, atol=0.02, rtol=0)
    c.close(f"randn({n}) std 1", lambda: z.std(), 1.0, atol=0.02, rtol=0)
    c.close(f"randn({n}) mean on device = numpy mean of its values", lambda: z.mean(),
            wide(z.cpu().numpy()).mean(), atol=1e-5)
    r = torch.randint(-3, 11, (5000,), generator=g, device=c.device)
    c.close("randint(-3, 11) hits every value in range and no other", lambda: torch.unique(r),
            np.arange(-3, 11))
    _same_seed(c)


def _same_seed(c):
    first = torch.rand(1001, generator=torch.Generator(c.device).manual_seed(7), device=c.device).cpu().numpy()
    c.close("same seed, same numbers", lambda: torch.rand(
        1001, generator=torch.Generator(c.device).manual_seed(7), device=c.device), first, rtol=0, atol=0)
    c.close("another seed, other numbers", lambda: (torch.rand(
        1001, generator=torch.Generator(c.device).manual_seed(8), device=c.device) == c.tensor(first)).sum() < 10,
        np.bool_(True))
    if c.device.is_host:
        c.skip("same stream as the host", "the device is the host")
        return
    c.close("same seed, same numbers as on the host", lambda: torch.rand(
        1001, generator=torch.Generator("cpu").manual_seed(7)), first, rtol=0, atol=0)


@family
def copy(c):
    x = c.random((4, 5, 6))
    c.close("float32 contiguous() of permute(2, 0, 1)", lambda: c.tensor(x).permute(2, 0, 1).contiguous(),
            wide(x).transpose(2, 0, 1))
    c.close("permuted copy is contiguous", lambda: torch.tensor(
        c.tensor(x).permute(2, 0, 1).contiguous().is_contiguous()), np.bool_(True))
    for dtype in (torch.int16, torch.float16, torch.bool):
        y = c.random((4, 5, 6), dtype)
        c.close(f"{dtype.name} clone of a stepped permuted view", lambda: c.stepped(y).permute(1, 2, 0).clone(),
                y.transpose(1, 2, 0))
    a, b, d = c.random((3, 5)), c.random((4, 5)), c.random((2, 5))
    c.close("cat dim 0 of contiguous, transposed and stepped", lambda: torch.cat(
        [c.tensor(a), c.transposed(b), c.stepped(d)]), wide(np.concatenate([a, b, d])))
    c.close("cat dim 1", lambda: torch.cat([c.tensor(a), c.stepped(a[:, :2])], 1),
            wide(np.concatenate([a, a[:, :2]], 1)))
    c.close("float32 .to(int32) truncates", lambda: c.tensor(x * 10).to(torch.int32),
            np.trunc(x * 10).astype(np.int32))
    c.close("float32 .to(float16), transposed", lambda: c.transposed(x[0]).to(torch.float16), x[0],
            rtol=1e-3, atol=1e-3)
    _transfers(c, x)


def _transfers(c, x):
    if c.device.is_host:
        c.skip(".to between devices", "the device is the host")
        return
    host = torch.tensor(x)
    c.close(f"cpu -> {c.device} -> cpu", lambda: host.to(c.device).cpu(), x, rtol=0, atol=0)
    c.close(f"permuted view cpu -> {c.device}", lambda: host.permute(2, 1, 0).to(c.device),
            x.transpose(2, 1, 0), rtol=0, atol=0)
    c.close(f"transposed view {c.device} -> cpu", lambda: c.tensor(x)[1].T.to("cpu"), x[1].T, rtol=0, atol=0)


@family
def autograd(c):
    for dtype in c.dtypes([torch.float32, torch.float64]):
        x, w = c.random((5, 7), dtype), c.random((7, 3), dtype)
        X, W = wide(x), wide(w)
        mask = (X @ W > 0).astype(np.float64)
        tol = loose(dtype)
        tx, tw = c.transposed(x).detach().requires_grad_(), c.tensor(w, requires_grad=True)
        loss = torch.relu(tx @ tw).sum()
        c.close(f"{dtype.name} relu(x @ w).sum()", lambda: loss.detach(), (mask * (X @ W)).sum(), **tol)
        loss.backward()
        c.close(f"{dtype.name} d/dx (x transposed view)", lambda: tx.grad, mask @ W.T, **tol)
        c.close(f"{dtype.name} d/dw", lambda: tw.grad, X.T @ mask, **tol)


# ---- running and reporting -------------------------------------------------------------------------
def run_family(name, fn, device, verbose=False) -> bool:
    """Run one family and print its line; True when it passed."""
    if verbose:
        print(f"      {name}:")
    c = Checker(device, verbose)
    start = time.perf_counter()
    try:
        fn(c)
    except Exception as err:  # noqa: BLE001 - reported as the family's failure; the others still run
        c.failures.append(f"{one_line(err)} (outside a check, after {c.count} checks)")
    seconds = time.perf_counter() - start
    skipped = f"  skipped: {'; '.join(c.skipped)}" if c.skipped else ""
    failed_checks = c.count - c.passed
    if c.failures:
        more = f" [{failed_checks} of {c.count} checks failed]" if failed_checks else ""
        print(f"FAIL  {name}  {c.failures[0]}{more}{skipped}", flush=True)
        for failure in c.failures[1:] if verbose else ():
            print(f"      also: {failure}")
    else:
        print(f"PASS  {name}  ({c.count} checks, {seconds:.1f} s){skipped}", flush=True)
    return not c.failures


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" or n == int(n) else f"{n:.1f} {unit}"
        n /= 1024


def _yes(flag: bool, detail="") -> str:
    return ("yes" if flag else "no") + (f" ({detail})" if detail else "")


def _kind(cl_device) -> str:
    kinds = [k for k in ("CPU", "GPU", "ACCELERATOR", "CUSTOM") if cl_device.type & getattr(cl.device_type, k)]
    return "|".join(kinds) or str(cl_device.type)


def describe(device) -> list:
    """(label, value) rows: the device's identity and what cltensor uses of it."""
    b = device.backend
    d = b.cl_device
    platform = d.platform
    int64_atomics = INT64_ATOMICS in d.extensions.split()
    return [
        ("platform", f"{platform.name.strip()} ({platform.version.strip()})"),
        ("device", f"{d.name.strip()} ({_kind(d)})"),
        ("driver version", d.driver_version.strip()),
        ("OpenCL C", d.opencl_c_version.strip()),
        ("compute units", str(d.max_compute_units)),
        ("global memory", _bytes(d.global_mem_size)),
        ("local memory", _bytes(d.local_mem_size)),
        ("max work-group", str(d.max_work_group_size)),
        ("max allocation", _bytes(d.max_mem_alloc_size)),
        ("fp64", _yes(b.has_fp64, "" if b.has_fp64 else "float64 checks skipped")),
        ("fp16", _yes(b.has_fp16, "" if b.has_fp16 else "float16 stored as half, computed in float32")),
        ("int64 atomics", _yes(int64_atomics, INT64_ATOMICS if int64_atomics else
                               "64-bit index_add/scatter_add checks skipped")),
        ("kernel variants", ("CPU" if b.cpu_tuned else "GPU") + " (Backend.cpu_tuned="
         f"{b.cpu_tuned}; CLTENSOR_TUNING={os.environ.get('CLTENSOR_TUNING') or 'unset'})"),
    ]


def list_devices() -> int:
    devices = _all_cl_devices()
    if not devices:
        print("no OpenCL device found; install an OpenCL driver (e.g. pocl-opencl-icd)")
        return 1
    cpu = next((i for i, d in enumerate(devices) if d.type & cl.device_type.CPU), None)
    gpus = [i for i, d in enumerate(devices) if d.type & cl.device_type.GPU]
    for i, d in enumerate(devices):
        aliases = (["cpu"] if i == cpu else []) + [f"gpu:{k}" if k else "gpu" for k, g in enumerate(gpus) if g == i]
        alias = f"  (also {', '.join(aliases)})" if aliases else ""
        print(f"cl:{i}  {d.name.strip()}  [{_kind(d)}, {d.platform.name.strip()}]{alias}")
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m cltensor.selftest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=os.environ.get("CLTENSOR_DEVICE") or "cpu",
                        help="cltensor device name: cpu, cl:N, gpu, gpu:K (default $CLTENSOR_DEVICE or cpu)")
    parser.add_argument("--list", action="store_true", help="list the OpenCL devices with their index and exit")
    parser.add_argument("--family", action="append", choices=list(FAMILIES), metavar="NAME",
                        help=f"run only this family (repeatable): {', '.join(FAMILIES)}")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every check and every failure")
    return parser.parse_args(argv)


def open_device(name):
    """The cltensor device and its backend, or None after printing why it cannot be used."""
    try:
        device = torch.device(name)
        device.backend  # noqa: B018 - creates the context: a missing driver fails here
        return device
    except (RuntimeError, TypeError, IndexError, cl.Error) as err:
        print(f"cltensor.selftest: cannot use device {name!r}: {err}", file=sys.stderr)
        print("(python -m cltensor.selftest --list shows the OpenCL devices)", file=sys.stderr)
        return None


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        return list_devices()
    device = open_device(args.device)
    if device is None:
        return 2
    print(f"cltensor self-test on {device}")
    for label, value in describe(device):
        print(f"  {label:<16}{value}")
    print(flush=True)
    names = list(dict.fromkeys(args.family or FAMILIES))
    start = time.perf_counter()
    failed = [name for name in names if not run_family(name, FAMILIES[name], device, args.verbose)]
    seconds = time.perf_counter() - start
    if failed:
        print(f"FAILED: {len(failed)} of {len(names)} families ({', '.join(failed)}) on {device}, {seconds:.1f} s")
        return 1
    print(f"OK: all {len(names)} families passed on {device}, {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
