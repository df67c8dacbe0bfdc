"""cltensor side by side with numpy, PyTorch CPU and pyopencl.array, in one process.

    python benchmarks/run.py                  # full sizes; writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick          # small sizes, a smoke run (writes nothing)
    python benchmarks/run.py --only elementwise,sum --no-write
    python benchmarks/run.py --device cl:0    # a GPU: its figures go to the GPU section

Every workload is timed the same way for every library: one warm-up call, then `--repeat`
rounds that alternate the libraries (so a busy machine hurts them alike); a round of cltensor
or pyopencl.array waits for the device once, at its end (cltensor.synchronize / queue.finish).
The table shows the best round and the median; ratios are the other library's best time over
cltensor's (above 1: cltensor is faster). A library that lacks an op, or a cltensor piece that
has not landed yet, shows "n/a".
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cltensor  # noqa: E402

LIBS = ("cltensor", "numpy", "torch", "pyopencl.array")
NA = None


# ---- the libraries -------------------------------------------------------------------------------
def load_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def load_clarray(backend):
    try:
        import pyopencl as cl
        import pyopencl.array as cla
        import pyopencl.clmath as clmath
    except ImportError:
        return None
    return types.SimpleNamespace(cl=cl, array=cla, clmath=clmath, queue=cl.CommandQueue(backend.context))


class Context:
    def __init__(self, args):
        self.args = args
        self.device = cltensor.device(args.device)
        self.backend = self.device.backend
        self.torch = load_torch()
        self.cla = load_clarray(self.backend)
        self.rng = np.random.default_rng(0)
        self.syncs = {"cltensor": lambda: cltensor.synchronize(self.device),
                      "pyopencl.array": (lambda: self.cla.queue.finish()) if self.cla else None}
        if self.torch is not None:
            self.torch.manual_seed(0)

    def data(self, *shape):
        return self.rng.standard_normal(shape).astype(np.float32)

    def ct(self, array):
        return cltensor.tensor(array, device=self.device)

    def th(self, array):
        return self.torch.from_numpy(array.copy()) if self.torch is not None else None

    def cl(self, array):
        return self.cla.array.to_device(self.cla.queue, array) if self.cla is not None else None


# ---- timing --------------------------------------------------------------------------------------
def time_group(ctx, fns: dict, repeat: int, inner: int = 1) -> dict:
    """{lib: fn or None} -> {lib: (best, median) seconds per call, or None}; rounds alternate libs."""
    times = {}
    for lib, fn in fns.items():
        if fn is None:
            continue
        try:
            fn()
            sync = ctx.syncs.get(lib)
            if sync:
                sync()
        except (AttributeError, ImportError, NotImplementedError, TypeError, RuntimeError) as err:
            print(f"    {lib}: n/a ({type(err).__name__}: {str(err)[:200]})", file=sys.stderr)
            continue
        times[lib] = []
    for _ in range(repeat):
        for lib in times:
            fn, sync = fns[lib], ctx.syncs.get(lib)
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            if sync:
                sync()
            times[lib].append((time.perf_counter() - start) / inner)
    if ctx.args.profile and "cltensor" in times:
        print_profile(ctx, fns["cltensor"], inner)
    return {lib: (min(t), statistics.median(t)) if lib in times else None
            for lib, t in ((lib, times.get(lib)) for lib in fns)}


def print_profile(ctx, fn, inner):
    """--profile: one more cltensor call under cltensor.profiler: device time per kernel (median),
    and the share of the wall time that the device was busy."""
    cltensor.synchronize(ctx.device)
    with cltensor.profiler.profile(print_table=False) as prof:
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        cltensor.synchronize(ctx.device)
        wall = time.perf_counter() - start
    if not prof.stats:
        return  # no kernel: a host copy, which the profiler does not record
    parts = [f"{name} {s.count}x{s.median_ns / 1e3:.1f}us" for name, s in
             sorted(prof.stats.items(), key=lambda kv: -kv[1].count * kv[1].median_ns)[:6]]
    busy = sum(s.count * s.median_ns for s in prof.stats.values()) / 1e9
    _pending_profile.append(f"      profile: device busy {busy * 1e3:.2f} ms of {wall * 1e3:.2f} ms wall; "
                            + ", ".join(parts))


_pending_profile: list = []  # printed under the row that the next Results.add prints


def torch_threads(ctx, fn, n):
    """fn run with torch limited to n threads (restored after)."""
    def run():
        before = ctx.torch.get_num_threads()
        ctx.torch.set_num_threads(n)
        try:
            return fn()
        finally:
            ctx.torch.set_num_threads(before)
    return run


def time_with_torch_threads(ctx, fns: dict, repeat: int, inner: int = 1):
    """time_group, with torch timed at its default thread count and at one thread; torch's row
    keeps the better (on a busy 2-core machine OpenMP's spinning threads can cost PyTorch 10x)."""
    if fns.get("torch") is None or ctx.torch.get_num_threads() == 1:
        return time_group(ctx, fns, repeat, inner), ""
    fns = dict(fns, **{"torch 1 thread": torch_threads(ctx, fns["torch"], 1)})
    t = time_group(ctx, fns, repeat, inner)
    one = t.pop("torch 1 thread")
    if one and (not t["torch"] or one[0] < t["torch"][0]):
        return dict(t, torch=one), "torch: 1 thread (faster than its default here)"
    return t, ""


class Results:
    def __init__(self):
        self.rows = []  # (group, workload, {lib: (best, median) or None}, unit, note)
        self.extra = {}  # named figures the targets use
        self.profiles = []  # (workload, cltensor's device time per kernel) with --profile

    def add(self, group, workload, times, unit="ms", note=""):
        self.rows.append((group, workload, times, unit, note))
        print(format_row(workload, times, unit, note), flush=True)
        while _pending_profile:
            line = _pending_profile.pop(0)
            self.profiles.append((workload, line.strip()[len("profile: "):]))
            print(line, flush=True)
        return times


# ---- workloads -----------------------------------------------------------------------------------
def bench_matmul(ctx, res):
    sizes = (64, 128) if ctx.args.quick else (256, 512, 1024, 2048)
    for n in sizes:
        a, b = ctx.data(n, n), ctx.data(n, n)
        ta, tb, ha, hb = ctx.ct(a), ctx.ct(b), ctx.th(a), ctx.th(b)
        inner = max(1, min(20, int(2e9 / (2 * n ** 3))))
        t = time_group(ctx, {
            "cltensor": lambda: ta @ tb,
            "numpy": lambda: a @ b,
            "torch": (lambda: ha @ hb) if ha is not None else None,
            "pyopencl.array": None,
        }, ctx.args.repeat, inner)
        flops = 2 * n ** 3
        best = t["cltensor"][0] if t["cltensor"] else None
        res.add("matmul", f"matmul f32 {n}x{n}", t,
                note=f"{flops / best / 1e9:.1f} GFLOP/s" if best else "")
        res.extra[f"matmul{n}"] = t


def bench_copy(ctx, res):
    n = (1 << 20) if ctx.args.quick else (16 << 20)
    cl = ctx.cla.cl if ctx.cla else None
    x = ctx.ct(ctx.data(n))
    y = cltensor.empty(n, device=ctx.device)
    src, dst = x._storage.buffer, y._storage.buffer
    queue = ctx.backend.queue
    a = ctx.data(n)
    out = np.empty_like(a)
    ha, hout = ctx.th(a), ctx.th(out)
    rounds = 3 * ctx.args.repeat  # the reference for the elementwise rows: worth more rounds
    t_buf = time_group(ctx, {"cltensor": (lambda: cl.enqueue_copy(queue, dst, src, byte_count=4 * n))
                             if cl else None}, rounds)
    res.add("copy", f"clEnqueueCopyBuffer {n >> 20}M f32", t_buf, note=bandwidth_note(t_buf, 8 * n))
    t_kernel = time_group(ctx, {
        "cltensor": lambda: y.copy_(x),
        "numpy": lambda: np.copyto(out, a),
        "torch": (lambda: hout.copy_(ha)) if ha is not None else None,
        "pyopencl.array": None,
    }, rounds)
    res.add("copy", f"copy kernel {n >> 20}M f32 (y.copy_(x))", t_kernel, note=bandwidth_note(t_kernel, 8 * n))
    best = [t["cltensor"][0] for t in (t_buf, t_kernel) if t.get("cltensor")]
    res.extra["copy_gbs"] = 8 * n / min(best) / 1e9 if best else None


def bandwidth_note(t, nbytes):
    return f"{nbytes / t['cltensor'][0] / 1e9:.1f} GB/s" if t.get("cltensor") else ""


def bench_elementwise(ctx, res):
    n = (1 << 20) if ctx.args.quick else (16 << 20)
    a, b = ctx.data(n), ctx.data(n)
    ta, tb, ha, hb, ca, cb = ctx.ct(a), ctx.ct(b), ctx.th(a), ctx.th(b), ctx.cl(a), ctx.cl(b)
    torch, cla = ctx.torch, ctx.cla
    # (name, bytes an ideal single pass moves, bytes the kernels cltensor runs move, ...)
    cases = [
        ("a+b", 12 * n, 12 * n, lambda x, y: x + y, (lambda: ha + hb) if torch else None,
         (lambda: ca + cb) if cla else None),
        ("a*2+b", 12 * n, 20 * n, lambda x, y: x * 2 + y, (lambda: ha * 2 + hb) if torch else None,
         (lambda: ca * 2 + cb) if cla else None),
        ("exp(a)", 8 * n, 8 * n, None, (lambda: ha.exp()) if torch else None,
         (lambda: cla.clmath.exp(ca)) if cla else None),
    ]
    for name, nbytes, moved, expr, th_fn, cl_fn in cases:
        ct_fn = (lambda: expr(ta, tb)) if expr else (lambda: ta.exp())
        np_fn = (lambda: expr(a, b)) if expr else (lambda: np.exp(a))
        t = time_group(ctx, {"cltensor": ct_fn, "numpy": np_fn, "torch": th_fn, "pyopencl.array": cl_fn},
                       ctx.args.repeat)
        note = bandwidth_note(t, nbytes)
        if res.extra.get("copy_gbs") and t.get("cltensor"):
            note += f", {100 * nbytes / t['cltensor'][0] / 1e9 / res.extra['copy_gbs']:.0f}% of copy"
            if moved != nbytes:
                note += (f" (two kernels, {moved // n} B/element moved: "
                         f"{100 * moved / t['cltensor'][0] / 1e9 / res.extra['copy_gbs']:.0f}% of copy)")
        res.add("elementwise", f"{name} {n >> 20}M f32", t, note=note)
        res.extra[f"ew_{name}"] = t
        res.extra[f"ew_{name}_bytes"] = nbytes


def bench_reductions(ctx, res):
    n = (1 << 20) if ctx.args.quick else (16 << 20)
    rows, cols = (512, 256) if ctx.args.quick else (4096, 1024)
    a = ctx.data(n)
    m = ctx.data(rows, cols)
    ta, tm, ha, hm, ca = ctx.ct(a), ctx.ct(m), ctx.th(a), ctx.th(m), ctx.cl(a)
    torch, cla = ctx.torch, ctx.cla
    t = time_group(ctx, {
        "cltensor": lambda: ta.sum(),
        "numpy": lambda: a.sum(),
        "torch": (lambda: ha.sum()) if torch else None,
        "pyopencl.array": (lambda: cla.array.sum(ca, queue=cla.queue)) if cla else None,
    }, ctx.args.repeat)
    res.add("reduce", f"sum {n >> 20}M f32", t, note=bandwidth_note(t, 4 * n) if t.get("cltensor") else "")
    res.extra["sum"] = t
    for dim in (0, 1):
        t = time_group(ctx, {
            "cltensor": lambda: tm.sum(dim),
            "numpy": lambda: m.sum(dim),
            "torch": (lambda: hm.sum(dim)) if torch else None,
            "pyopencl.array": None,
        }, ctx.args.repeat)
        res.add("reduce", f"sum dim={dim} of {rows}x{cols}", t)
    t = time_group(ctx, {
        "cltensor": lambda: tm.softmax(-1),
        "numpy": lambda: numpy_softmax(m),
        "torch": (lambda: hm.softmax(-1)) if torch else None,
        "pyopencl.array": None,
    }, ctx.args.repeat)
    res.add("reduce", f"softmax dim=-1 of {rows}x{cols}", t)
    res.extra["softmax"] = t
    t = time_group(ctx, {
        "cltensor": lambda: tm.t().contiguous(),
        "numpy": lambda: np.ascontiguousarray(m.T),
        "torch": (lambda: hm.t().contiguous()) if torch else None,
        "pyopencl.array": None,
    }, ctx.args.repeat)
    res.add("layout", f"transpose+contiguous {rows}x{cols}", t, note=bandwidth_note(t, 8 * rows * cols))


def numpy_softmax(m):
    e = np.exp(m - m.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def bench_tiny_ops(ctx, res):
    """30 dependent ops on 100 elements: per-op latency (Python + launch), not throughput."""
    a, b = ctx.data(100), ctx.data(100)
    torch, cla = ctx.torch, ctx.cla

    def chain(x, y, tanh):
        for _ in range(10):
            x = tanh(x * 0.5 + y)
        return x

    ta, tb, ha, hb, ca, cb = ctx.ct(a), ctx.ct(b), ctx.th(a), ctx.th(b), ctx.cl(a), ctx.cl(b)
    inner = 3 if ctx.args.quick else 30
    t, note = time_with_torch_threads(ctx, {
        "cltensor": lambda: chain(ta, tb, cltensor.tanh),
        "numpy": lambda: chain(a, b, np.tanh),
        "torch": (lambda: chain(ha, hb, torch.tanh)) if torch else None,
        "pyopencl.array": (lambda: chain(ca, cb, cla.clmath.tanh)) if cla else None,
    }, ctx.args.repeat, inner)
    per_op = {lib: (v[0] / 30, v[1] / 30) if v else None for lib, v in t.items()}
    res.add("latency", "tiny op (100 elements), per op", per_op, unit="us", note=note)
    res.extra["tiny"] = per_op


def two_layer_net(lib, iters, N=64, D_in=1000, H=100, D_out=10, device=None, seed=0, compiled=False):
    """Seed 002's network (PyTorch tutorial, autograd version): x.mm(w1).clamp(min=0).mm(w2),
    squared error summed, plain gradient descent; the loss is read every 100 iterations."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((N, D_in), (N, D_out), (D_in, H), (H, D_out))]
    make = (lambda a, rg=False: lib.tensor(a, device=device, requires_grad=rg)) if lib is cltensor else \
        (lambda a, rg=False: lib.tensor(a, requires_grad=rg))
    x, y = make(arrays[0]), make(arrays[1])
    w1, w2 = make(arrays[2], True), make(arrays[3], True)
    learning_rate = 1e-6
    losses = []  # one list per run: the losses read during it

    def forward_loss(x, y, w1, w2):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        return (y_pred - y).pow(2).sum()
    forward_loss = lib.compile(forward_loss) if compiled else forward_loss

    def run():
        nonlocal w1, w2
        losses.append([])
        for t in range(iters):
            loss = forward_loss(x, y, w1, w2)
            if t % 100 == 99 or t == iters - 1:
                losses[-1].append(loss.item())
            loss.backward()
            with lib.no_grad():
                w1 -= learning_rate * w1.grad
                w2 -= learning_rate * w2.grad
                w1.grad.zero_()
                w2.grad.zero_()
    return run, losses


def numpy_two_layer_net(iters, N=64, D_in=1000, H=100, D_out=10, seed=0):
    """The seed's numpy version: forward and backward written by hand."""
    rng = np.random.default_rng(seed)
    x, y, w1, w2 = [rng.standard_normal(s).astype(np.float32) for s in ((N, D_in), (N, D_out), (D_in, H), (H, D_out))]
    learning_rate = 1e-6

    def run():
        nonlocal w1, w2
        for t in range(iters):
            h = x.dot(w1)
            h_relu = np.maximum(h, 0)
            y_pred = h_relu.dot(w2)
            loss = np.square(y_pred - y).sum()
            grad_y_pred = 2.0 * (y_pred - y)
            grad_w2 = h_relu.T.dot(grad_y_pred)
            grad_h = grad_y_pred.dot(w2.T)
            grad_h[h < 0] = 0
            grad_w1 = x.T.dot(grad_h)
            w1 = w1 - learning_rate * grad_w1
            w2 = w2 - learning_rate * grad_w2
        return loss
    return run


def bench_two_layer(ctx, res):
    iters = 20 if ctx.args.quick else 500
    fns, losses = {}, {}
    for lib, module in (("cltensor", cltensor), ("torch", ctx.torch)):
        if module is None:
            fns[lib] = None
            continue
        run, losses[lib] = two_layer_net(module, iters, device=ctx.device if module is cltensor else None)
        fns[lib] = run
    fns["numpy"] = numpy_two_layer_net(iters)
    fns["pyopencl.array"] = None
    t, note = time_with_torch_threads(ctx, fns, max(1, ctx.args.repeat // 2))
    if losses.get("cltensor") and losses.get("torch"):
        note = "; ".join(filter(None, [f"loss after the first run {losses['cltensor'][0][-1]:.4g} (torch {losses['torch'][0][-1]:.4g})",
                                       note]))
    res.add("training", f"two-layer net, {iters} iterations", t, unit="ms", note=note)
    res.extra["two_layer"] = t


DIGITS_LABEL = "digits MLP, one epoch (batch 64)"


def bench_digits(ctx, res):
    bench_example(ctx, res, "digits_mlp.py", DIGITS_LABEL, batch_size=64, lr=2e-3)


def bench_lenet(ctx, res):
    bench_example(ctx, res, "lenet_digits.py", "LeNet-5 digits, one epoch (batch 32)", batch_size=32, lr=2e-3)


def bench_example(ctx, res, filename, label, **hyper):
    """One training epoch of an example script, run unchanged under cltensor and (imports swapped)
    under PyTorch; the first epoch compiles kernels and is left out."""
    path = ROOT / "examples" / filename
    if not path.exists():
        res.add("training", label, {lib: None for lib in LIBS}, note="example not found")
        return
    try:
        import sklearn  # noqa: F401
    except ImportError:
        res.add("training", label, {lib: None for lib in LIBS}, note="needs scikit-learn")
        return
    t = {lib: None for lib in LIBS}
    accuracy = {}
    for lib in ("cltensor", "torch"):
        if lib == "torch" and ctx.torch is None:
            continue
        module = load_digits_example(path, lib)
        args = argparse.Namespace(device=ctx.device if lib == "cltensor" else "cpu", seed=0, quick=True,
                                  epochs=1 + max(1, min(3, ctx.args.repeat // 2)), **hyper)
        with contextlib.redirect_stdout(io.StringIO()):
            out = module.train(args)
        seconds = [h["seconds"] for h in out["history"][1:]]
        t[lib] = (min(seconds), statistics.median(seconds))
        accuracy[lib] = out["test_acc"]
    res.extra[f"{path.stem}_acc"] = accuracy
    res.extra[path.stem] = t
    note = f"test acc {accuracy['cltensor']:.3f}" if "cltensor" in accuracy else ""
    res.add("training", label, t, unit="ms", note=note)


def load_digits_example(path, lib):
    """The example module, bound to cltensor or (its imports swapped, as its docstring says) torch.
    Its helper module examples/common.py is swapped the same way, so the torch run never mixes in
    cltensor's loss or tensors."""
    common = _example_module(path.parent / "common.py", lib, "common")
    saved = sys.modules.get("common")
    sys.modules["common"] = common
    try:
        return _example_module(path, lib, path.stem)
    finally:
        if saved is None:
            sys.modules.pop("common", None)
        else:
            sys.modules["common"] = saved


def _example_module(path, lib, name):
    source = path.read_text()
    if lib == "torch":
        source = (source.replace("import cltensor as torch", "import torch")
                  .replace("from cltensor import", "from torch import")
                  .replace("from cltensor.", "from torch."))
    module = types.ModuleType(f"{name}_{lib}")
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


FIRST_RESULT = """
import time, sys
start = time.perf_counter()
import {lib} as t
x = t.ones(1000){to}
value = float((x * 2 + 1).sum().item())
print(time.perf_counter() - start, value)
"""


def bench_startup(ctx, res):
    """Import to first result in a fresh interpreter, cold (empty cltensor and PoCL kernel caches)
    and warm. Warm runs also let Python cache bytecode (in the warm folder: this sandbox sets
    PYTHONDONTWRITEBYTECODE, which makes every import compile cltensor's sources again); the
    third row shows warm kernel caches without bytecode."""
    runs = 1 if ctx.args.quick else 3
    to = "" if ctx.device.is_host else f".to('{ctx.device}')"
    warm_dir = tempfile.mkdtemp(prefix="cltensor-bench-cache-")
    warm_env = {"CLTENSOR_CACHE_DIR": warm_dir, "POCL_CACHE_DIR": os.path.join(warm_dir, "pocl"),
                "PYTHONPYCACHEPREFIX": os.path.join(warm_dir, "pycache"), "PYTHONDONTWRITEBYTECODE": None}

    def once(lib, env):
        code = FIRST_RESULT.format(lib=lib, to=to if lib == "cltensor" else "")
        if lib != "cltensor":
            code = code.replace("t.ones(1000)", "t.ones(1000, dtype=t.float32)")
        if lib == "numpy":
            code = code.replace(".item()", "")
        full = dict(os.environ)
        full.pop("CLTENSOR_PROFILE", None)
        for k, v in env.items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = v
        out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                             cwd=str(ROOT), timeout=300)
        if out.returncode:
            raise RuntimeError(out.stderr[-2000:])
        return float(out.stdout.split()[0])

    def best(times):
        return (min(times), statistics.median(times))

    cold = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as fresh:
            cold.append(once("cltensor", {"CLTENSOR_CACHE_DIR": fresh, "POCL_CACHE_DIR": os.path.join(fresh, "pocl")}))
    once("cltensor", warm_env)  # fills the warm caches (kernel sources, binaries, PoCL's, bytecode)
    warm = [once("cltensor", warm_env) for _ in range(runs)]
    no_bytecode = {k: v for k, v in warm_env.items() if k.startswith(("CLTENSOR", "POCL"))}
    warm_plain = [once("cltensor", no_bytecode) for _ in range(runs)] if not ctx.args.quick else None
    others = {"pyopencl.array": None}
    for lib in ("numpy", "torch"):
        if ctx.torch is None and lib == "torch" or ctx.args.quick:
            continue
        once(lib, warm_env)
        others[lib] = best([once(lib, warm_env) for _ in range(runs)])
    res.add("startup", "import to first result, cold kernel caches", {"cltensor": best(cold), **others}, unit="s")
    res.add("startup", "import to first result, warm caches", {"cltensor": best(warm), **others}, unit="s")
    if warm_plain:
        res.add("startup", "  same, warm kernel caches, no bytecode cache", {"cltensor": best(warm_plain), **others},
                unit="s")
    res.extra["startup_warm"] = min(warm)


def bench_conv(ctx, res):
    """conv2d forward + backward of ResNet-18 layers (3x3 and 1x1, 64 channels, 56x56) with the
    equivalent GEMM (M = C_out, K = C_in * taps, N = batch * positions) timed alongside."""
    batch = 2 if ctx.args.quick else 32
    for k in (3, 1):
        x, w, g = ctx.data(batch, 64, 56, 56), ctx.data(64, 64, k, k) * 0.1, ctx.data(batch, 64, 56, 56)
        tx, tw, tg = ctx.ct(x).requires_grad_(), ctx.ct(w).requires_grad_(), ctx.ct(g)
        hx, hw, hg = ctx.th(x), ctx.th(w), ctx.th(g)
        if hx is not None:
            hx.requires_grad_(), hw.requires_grad_()

        def ours():
            cltensor.nn.functional.conv2d(tx, tw, padding=k // 2).backward(tg)

        def theirs():
            ctx.torch.nn.functional.conv2d(hx, hw, padding=k // 2).backward(hg)
        t = time_group(ctx, {"cltensor": ours, "numpy": None, "torch": theirs if hx is not None else None,
                             "pyopencl.array": None}, ctx.args.repeat)
        ga, gb = ctx.ct(ctx.data(64, 64 * k * k)), ctx.ct(ctx.data(64 * k * k, batch * 56 * 56))
        gemm = time_group(ctx, {"cltensor": lambda: ga @ gb}, ctx.args.repeat)["cltensor"]
        flops = 3 * 2 * batch * 64 * 64 * k * k * 56 * 56  # forward, input and weight gradients
        note = ""
        if t["cltensor"] and gemm:
            rate, gemm_rate = flops / t["cltensor"][0] / 1e9, flops / 3 / gemm[0] / 1e9
            note = f"{rate:.1f} GFLOP/s = {100 * rate / gemm_rate:.0f}% of the same-size GEMM ({gemm_rate:.1f} GFLOP/s)"
            res.extra[f"conv{k}x{k}_gemm_share"] = rate / gemm_rate
        res.add("conv", f"conv2d {k}x{k} fwd+bwd b{batch} 64ch 56x56", t, note=note)
        res.extra[f"conv{k}x{k}"] = t


def bench_linalg(ctx, res):
    """torch.linalg on the device: a batch of small solves (one work-group per system) and one
    blocked Cholesky (panel kernel + GEMM updates), against PyTorch CPU (LAPACK) and numpy."""
    batch, n = (64, 32) if ctx.args.quick else (1024, 32)
    a = ctx.data(batch, n, n) + np.float32(2 * np.sqrt(n)) * np.eye(n, dtype=np.float32)
    b = ctx.data(batch, n, 1)
    ta, tb, ha, hb = ctx.ct(a), ctx.ct(b), ctx.th(a), ctx.th(b)
    t = time_group(ctx, {
        "cltensor": lambda: cltensor.linalg.solve(ta, tb),
        "numpy": lambda: np.linalg.solve(a, b),
        "torch": (lambda: ctx.torch.linalg.solve(ha, hb)) if ha is not None else None,
        "pyopencl.array": None,
    }, ctx.args.repeat)
    res.add("linalg", f"linalg.solve f32 {batch}x({n}x{n})", t)
    res.extra["solve_batched"] = t
    n = 256 if ctx.args.quick else 1024
    x = ctx.data(n, n)
    spd = (x @ x.T / n + np.eye(n, dtype=np.float32)).astype(np.float32)
    ts, hs = ctx.ct(spd), ctx.th(spd)
    t = time_group(ctx, {
        "cltensor": lambda: cltensor.linalg.cholesky(ts),
        "numpy": lambda: np.linalg.cholesky(spd),
        "torch": (lambda: ctx.torch.linalg.cholesky(hs)) if hs is not None else None,
        "pyopencl.array": None,
    }, ctx.args.repeat)
    best = t["cltensor"][0] if t["cltensor"] else None
    res.add("linalg", f"linalg.cholesky f32 {n}x{n}", t,
            note=f"{n ** 3 / 3 / best / 1e9:.1f} GFLOP/s" if best else "")
    res.extra["cholesky"] = t


def bench_fft(ctx, res):
    """torch.fft.fft of complex64 data: one 2^20-point transform, and a batch of 1024-point ones."""
    cases = [("fft 2^20 c64", (1 << 18 if ctx.args.quick else 1 << 20,)),
             ("fft 1024 x 1024-point c64", (64 if ctx.args.quick else 1024, 1024))]
    for name, shape in cases:
        z = (ctx.data(*shape) + 1j * ctx.data(*shape)).astype(np.complex64)
        tz, hz = ctx.ct(z), ctx.th(z)
        t = time_group(ctx, {"cltensor": lambda: cltensor.fft.fft(tz), "numpy": lambda: np.fft.fft(z),
                             "torch": (lambda: ctx.torch.fft.fft(hz)) if hz is not None else None,
                             "pyopencl.array": None}, ctx.args.repeat)
        res.add("fft", name if not ctx.args.quick else f"{name} (quick: {'x'.join(map(str, shape))})", t)
        res.extra[name] = t


# ---- torch.compile: the same code compiled by each library (issue 16) ------------------------------
def bench_compiled(ctx, res):
    """Eager and `torch.compile`d runs of one piece of code per library: a tiny-op chain, seed 002's
    two-layer net and a training step of the char-level GPT of tests/programs/ng_video_lecture_gpt.
    Each library compiles with its own `compile` (cltensor's is what cltensor.compile is today). The
    first call (PyTorch's inductor: tens of seconds per function here) is the untimed warm-up; --quick
    leaves PyTorch's compiled runs out (n/a) to stay fast."""
    torch = ctx.torch
    compiled_torch = torch is not None and not ctx.args.quick
    skipped = "" if compiled_torch or torch is None else "torch.compile not timed with --quick"
    for key, make in (("tiny", _tiny_chain_fns), ("two_layer", _two_layer_fns), ("gpt", _gpt_step_fns)):
        for mode in ("eager", "compiled"):
            fns, inner, per, name = make(ctx, mode == "compiled", compiled_torch or mode == "eager")
            fns = dict(fns, numpy=None, **{"pyopencl.array": None})
            rounds = ctx.args.repeat if per > 1 else max(1, ctx.args.repeat // 2)  # the long ones: fewer rounds
            t, note = time_with_torch_threads(ctx, fns, rounds, inner)
            t = {lib: (v[0] / per, v[1] / per) if v else None for lib, v in t.items()}
            note = "; ".join(filter(None, [note, skipped if mode == "compiled" else ""]))
            res.add("compiled", f"{name} {mode}", t, unit="us" if per > 1 else "ms", note=note)
            res.extra[f"{key}_{mode}"] = t


def _tiny_chain_fns(ctx, compiled, with_torch):
    a, b = ctx.data(100), ctx.data(100)
    torch = ctx.torch

    def chain_of(lib):
        def chain(x, y):
            for _ in range(10):
                x = lib.tanh(x * 0.5 + y)
            return x
        return lib.compile(chain) if compiled else chain

    ta, tb, ha, hb = ctx.ct(a), ctx.ct(b), ctx.th(a), ctx.th(b)
    ours, theirs = chain_of(cltensor), chain_of(torch) if torch is not None and with_torch else None
    inner = 3 if ctx.args.quick else 30
    fns = {"cltensor": lambda: ours(ta, tb), "torch": (lambda: theirs(ha, hb)) if theirs else None}
    return fns, inner, 30, "tiny-op chain, per op"


def _two_layer_fns(ctx, compiled, with_torch):
    """Seed 002's net with its forward and loss compiled; backward and the update as written."""
    iters = 20 if ctx.args.quick else 100
    fns = {}
    for lib, module in (("cltensor", cltensor), ("torch", ctx.torch if with_torch else None)):
        fns[lib] = two_layer_net(module, iters, device=ctx.device if module is cltensor else None,
                                 compiled=compiled)[0] if module is not None else None
    return fns, 1, 1, f"two-layer net, {iters} iters"


GPT_PROGRAM = ROOT / "tests" / "programs" / "ng_video_lecture_gpt" / "gpt.py"


def _gpt_step_fns(ctx, compiled, with_torch):
    """One training step (forward, cross entropy, backward, AdamW) of the program's model at its
    small size, on one fixed batch; the model compiled with each library's compile."""
    fns = {}
    for lib, module in (("cltensor", cltensor), ("torch", ctx.torch if with_torch else None)):
        fns[lib] = _gpt_step(module, ctx, compiled) if module is not None else None
    inner = 2 if ctx.args.quick else 10
    return fns, inner, 1, "char GPT train step"


def _gpt_step(lib, ctx, compiled):
    ns = _gpt_definitions(lib)
    model = ns["GPTLanguageModel"]()
    if lib is cltensor:
        model = model.to(ctx.device)
    optimizer = lib.optim.AdamW(model.parameters(), lr=ns["learning_rate"])
    forward = lib.compile(model) if compiled else model
    xb, yb = ns["get_batch"]("train")
    if lib is cltensor:
        xb, yb = xb.to(ctx.device), yb.to(ctx.device)

    def step():
        logits, loss = forward(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def bench_device(ctx, res):
    """The GPU targets, against PyTorch on the same GPU where it has one (CUDA), else on the CPU: a
    float32 GEMM at 4096 (TF32 off on both sides), a+b and sum over 64M floats against the
    device-to-device copy bandwidth (clEnqueueCopyBuffer, bytes read + written)."""
    torch = ctx.torch
    cuda = torch is not None and torch.cuda.is_available()
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    def on_torch(array):
        return None if torch is None else torch.from_numpy(array).cuda() if cuda else torch.from_numpy(array.copy())

    def torch_fn(fn):  # waits for the GPU per call: cltensor's rounds wait too
        return None if torch is None else (lambda: (fn(), torch.cuda.synchronize())) if cuda else fn

    where = "torch.cuda" if cuda else "torch cpu"
    _device_gemm(ctx, res, 1024 if ctx.args.quick else 4096, on_torch, torch_fn, where)
    _device_bandwidth(ctx, res, (4 if ctx.args.quick else 64) << 20, on_torch, torch_fn, where)


def _device_gemm(ctx, res, n, on_torch, torch_fn, where):
    a, b = ctx.data(n, n), ctx.data(n, n)
    ta, tb, ha, hb = ctx.ct(a), ctx.ct(b), on_torch(a), on_torch(b)
    t = time_group(ctx, {"cltensor": lambda: ta @ tb, "torch": torch_fn(lambda: ha @ hb)}, ctx.args.repeat)
    res.add("device", f"matmul f32 {n} (vs {where}, TF32 off)", t,
            note=f"{2 * n ** 3 / t['cltensor'][0] / 1e12:.2f} TFLOP/s" if t.get("cltensor") else "")
    res.extra["device_gemm"] = t


def _device_bandwidth(ctx, res, n, on_torch, torch_fn, where):
    cl = ctx.cla.cl if ctx.cla else None
    x, y = ctx.data(n), ctx.data(n)
    tx, ty, out, hx, hy = ctx.ct(x), ctx.ct(y), cltensor.empty(n, device=ctx.device), on_torch(x), on_torch(y)
    hout = hx.clone() if hx is not None else None
    queue, src, dst = ctx.backend.queue, tx._storage.buffer, out._storage.buffer
    t = time_group(ctx, {"cltensor": (lambda: cl.enqueue_copy(queue, dst, src, byte_count=4 * n)) if cl else None,
                         "torch": torch_fn(lambda: hout.copy_(hx))}, 3 * ctx.args.repeat)
    res.add("device", f"device copy {n >> 20}M f32 (clEnqueueCopyBuffer; torch: copy_)", t,
            note=bandwidth_note(t, 8 * n))
    copy = 8 * n / t["cltensor"][0] / 1e9 if t.get("cltensor") else None
    for name, nbytes, ct_fn, th_fn in (("a+b", 12 * n, lambda: tx + ty, lambda: hx + hy),
                                       ("sum", 4 * n, lambda: tx.sum(), lambda: hx.sum())):
        t = time_group(ctx, {"cltensor": ct_fn, "torch": torch_fn(th_fn)}, ctx.args.repeat)
        share = nbytes / t["cltensor"][0] / 1e9 / copy if copy and t.get("cltensor") else None
        res.add("device", f"{name} {n >> 20}M f32 (vs {where})", t,
                note=bandwidth_note(t, nbytes) + (f", {100 * share:.0f}% of copy" if share else ""))
        res.extra[f"device_{name}_share"] = share


def pocl_figure(workload: str, path=ROOT / "benchmarks" / "RESULTS.md"):
    """cltensor's figure for workload in RESULTS.md's PoCL section (None if absent)."""
    text = path.read_text() if path.exists() else ""
    section = text.split("<!-- pocl:begin -->")[-1].split("<!-- pocl:end -->")[0] if "<!-- pocl:begin -->" in text else ""
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 2 and cells[0] == workload:
            try:
                return float(cells[2])
            except ValueError:
                return None
    return None


def _gpt_definitions(lib):
    """The program's hyperparameters, data and model classes (its source up to the training loop),
    bound to lib: the program itself, imports swapped for cltensor."""
    source = GPT_PROGRAM.read_text()
    source = source[:source.index("\nmodel = GPTLanguageModel()")]
    source = source.replace("open('input.txt'", f"open({str(GPT_PROGRAM.parent / 'input.txt')!r}")
    if lib is cltensor:
        source = (source.replace("import torch.nn as nn", "import cltensor.nn as nn")
                  .replace("from torch.nn import functional as F", "from cltensor.nn import functional as F")
                  .replace("import torch\n", "import cltensor as torch\n"))
    ns = {"__name__": f"gpt_{lib.__name__}"}
    exec(compile(source, str(GPT_PROGRAM), "exec"), ns)
    return ns


GROUPS = {"matmul": bench_matmul, "copy": bench_copy, "elementwise": bench_elementwise,
          "reduce": bench_reductions, "latency": bench_tiny_ops, "training": bench_two_layer,
          "digits": bench_digits, "lenet": bench_lenet, "startup": bench_startup, "conv": bench_conv,
          "linalg": bench_linalg, "fft": bench_fft, "compiled": bench_compiled, "device": bench_device}


# ---- report --------------------------------------------------------------------------------------
SCALE = {"s": 1.0, "ms": 1e3, "us": 1e6}


def fmt_time(v, unit):
    if v is None:
        return "n/a"
    x = v[0] * SCALE[unit]
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def ratio(times, lib):
    ct, other = times.get("cltensor"), times.get(lib)
    if not ct or not other:
        return "n/a"
    return f"{other[0] / ct[0]:.2f}x"


def format_row(workload, times, unit, note):
    cells = [f"{fmt_time(times.get(lib), unit):>9}" for lib in LIBS]
    ratios = [f"{ratio(times, lib):>8}" for lib in ("numpy", "torch", "pyopencl.array")]
    return f"  {workload:<40} {unit:>3} " + " ".join(cells) + " | " + " ".join(ratios) + (f"  {note}" if note else "")


def header():
    return (f"  {'workload':<40} {'':>3} " + " ".join(f"{lib[:9]:>9}" for lib in LIBS) + " | "
            + " ".join(f"{'vs ' + lib[:5]:>8}" for lib in ("numpy", "torch", "pyopencl.array")))


def targets(res) -> list:
    """(target, measured, met) for the issue's goals on a CPU device; None where not measured."""
    ex = res.extra
    out = []

    def speed(key, lib):
        t = ex.get(key)
        if not t or not t.get("cltensor") or not t.get(lib):
            return None
        return t[lib][0] / t["cltensor"][0]

    def add(name, value, ok, shown):
        out.append((name, shown if value is not None else "n/a", None if value is None else ok(value)))

    for n in (1024, 128):
        if f"matmul{n}" in ex:
            v = speed(f"matmul{n}", "numpy")
            add(f"matmul f32 {n} >= 0.7x numpy", v, lambda v: v >= 0.7, f"{v:.2f}x" if v else "")
            break
    for name in ("a+b", "a*2+b"):
        v = speed(f"ew_{name}", "numpy")
        add(f"elementwise {name} >= 1.2x numpy", v, lambda v: v >= 1.2, f"{v:.2f}x" if v else "")
        t, copy = ex.get(f"ew_{name}"), ex.get("copy_gbs")
        frac = (ex[f"ew_{name}_bytes"] / t["cltensor"][0] / 1e9 / copy) if t and t.get("cltensor") and copy else None
        add(f"elementwise {name} >= 80% of copy bandwidth", frac, lambda v: v >= 0.8,
            f"{100 * frac:.0f}%" if frac else "")
    v = speed("sum", "torch")
    add("sum >= 1x PyTorch", v, lambda v: v >= 1.0, f"{v:.2f}x" if v else "")
    v = speed("softmax", "torch")
    add("softmax >= 1x PyTorch", v, lambda v: v >= 1.0, f"{v:.2f}x" if v else "")
    tiny = ex.get("tiny")
    v = tiny["cltensor"][0] / tiny["torch"][0] if tiny and tiny.get("cltensor") and tiny.get("torch") else None
    add("tiny-op latency <= 2x PyTorch's", v, lambda v: v <= 2.0, f"{v:.1f}x ({1e6 * tiny['cltensor'][0]:.1f} us "
        f"vs {1e6 * tiny['torch'][0]:.1f} us)" if v else "")
    net = ex.get("two_layer")
    v = net["cltensor"][0] / net["torch"][0] if net and net.get("cltensor") and net.get("torch") else None
    add("two-layer net within 1.5x PyTorch's time", v, lambda v: v <= 1.5, f"{v:.2f}x" if v else "")
    for k in (3, 1):
        v = speed(f"conv{k}x{k}", "torch")
        add(f"conv2d {k}x{k} fwd+bwd >= 0.5x PyTorch", v, lambda v: v >= 0.5, f"{v:.2f}x" if v else "")
        v = ex.get(f"conv{k}x{k}_gemm_share")
        add(f"conv2d {k}x{k} >= 70% of GEMM GFLOP/s", v, lambda v: v >= 0.7, f"{100 * v:.0f}%" if v else "")
    for key, name, eager, compiled in (("tiny", "tiny-op chain", 0.4, 1.0), ("two_layer", "two-layer net", 0.5, 1.0),
                                       ("gpt", "char GPT train step", None, 0.67)):
        for mode, goal in (("eager", eager), ("compiled", compiled)):
            v = speed(f"{key}_{mode}", "torch")
            if goal is not None:
                add(f"{name} {mode} >= {goal:g}x PyTorch", v, lambda v, goal=goal: v >= goal, f"{v:.2f}x" if v else "")
    v = ex.get("startup_warm")
    add("import to first result < 1 s (warm cache)", v, lambda v: v < 1.0, f"{v:.2f} s" if v else "")
    if "device_gemm" in ex:  # the GPU targets (group 'device')
        v = speed("device_gemm", "torch")
        add("GPU: matmul f32 4096 >= 50% of torch.mm (TF32 off)", v, lambda v: v >= 0.5, f"{100 * v:.0f}%" if v else "")
        for name, goal in (("a+b", 0.8), ("sum", 0.7)):
            v = ex.get(f"device_{name}_share")
            add(f"GPU: {name} 64M >= {100 * goal:.0f}% of copy bandwidth", v, lambda v, goal=goal: v >= goal,
                f"{100 * v:.0f}%" if v else "")
        digits, pocl = ex.get("digits_mlp", {}).get("cltensor"), pocl_figure(DIGITS_LABEL)
        v = 1e3 * digits[0] / pocl if digits and pocl else None
        add("GPU: digits MLP epoch faster than on PoCL", v, lambda v: v < 1.0,
            f"{1e3 * digits[0]:.1f} ms vs PoCL's {pocl:g} ms" if v else "")
    return out


def machine_line(ctx) -> str:
    torch = ctx.torch
    return (f"{ctx.backend.name} via {ctx.backend.cl_device.platform.name.strip()} "
            f"({ctx.backend.cl_device.platform.version.strip()}); {os.cpu_count()} cores "
            f"({platform.processor() or platform.machine()}); Python {platform.python_version()}, "
            f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'} "
            f"({torch.get_num_threads() if torch else 0} threads)")


def markdown(ctx, res, elapsed) -> str:
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"Measured {now} by `python benchmarks/run.py` ({elapsed:.0f} s) on: {machine_line(ctx)}.",
             "", "Best of the rounds (median in the raw output); ratio = other library's time / cltensor's "
             "(above 1: cltensor is faster).", "",
             "| workload | unit | " + " | ".join(LIBS) + " | vs numpy | vs torch | vs pyopencl.array | note |",
             "|---|---|" + "---:|" * (len(LIBS) + 3) + "---|"]
    for _, workload, times, unit, note in res.rows:
        lines.append(f"| {workload} | {unit} | " + " | ".join(fmt_time(times.get(lib), unit) for lib in LIBS) + " | "
                     + " | ".join(ratio(times, lib) for lib in ("numpy", "torch", "pyopencl.array")) + f" | {note} |")
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for name, shown, ok in targets(res):
        lines.append(f"| {name} | {shown} | {'n/a' if ok is None else 'yes' if ok else 'NO'} |")
    if res.profiles:
        lines += ["", "Where cltensor's time goes (`--profile`: one more profiled call; kernel calls x median "
                  "device time):", ""]
        lines += [f"- {workload}: {text}" for workload, text in res.profiles]
    return "\n".join(lines)


def results_section(backend) -> str:
    """The RESULTS.md section a run fills: PoCL's, the GPU's, or another CPU driver's (e.g. rusticl)."""
    if backend.is_pocl:
        return "pocl"
    return "gpu" if backend.is_gpu else backend.cl_device.platform.name.strip().split()[0].lower()


def write_results(path: Path, section: str, body: str) -> None:
    """Replace one section of RESULTS.md (one per kind of device), keeping the others."""
    begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    text = path.read_text() if path.exists() else RESULTS_SKELETON
    if begin not in text:
        text += f"\n## {section}\n\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}")


RESULTS_SKELETON = """# Benchmark results

Written by `python benchmarks/run.py` (see its docstring for the method). Each section is replaced
by a run on that kind of device; the analysis of missed targets lives in the section's notes.

## PoCL CPU device

<!-- pocl:begin -->
<!-- pocl:end -->

## GPU

<!-- gpu:begin -->
(no GPU run yet: `tools/gpu_run.sh` is the prepared run, see docs/devices.md; it writes this section with `benchmarks/run.py --device gpu`)
<!-- gpu:end -->
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes and few rounds; writes nothing")
    p.add_argument("--device", default="cpu", help="cltensor device (default cpu: host memory through PoCL)")
    p.add_argument("--repeat", type=int, default=None, help="timed rounds per workload (default 9, quick 2)")
    p.add_argument("--only", default="", help="comma-separated groups: " + ",".join(GROUPS))
    p.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    p.add_argument("--profile", action="store_true",
                   help="after each cltensor timing, one profiled run: device time per kernel")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    args = p.parse_args(argv)
    args.repeat = args.repeat or (2 if args.quick else 9)
    ctx = Context(args)
    res = Results()
    print(machine_line(ctx))
    print(header())
    start = time.perf_counter()
    chosen = [g for g in args.only.split(",") if g] or list(GROUPS)
    for group in chosen:
        GROUPS[group](ctx, res)
    elapsed = time.perf_counter() - start
    print("\ntargets:")
    for name, shown, ok in targets(res):
        print(f"  {name:<45} {shown:<30} {'n/a' if ok is None else 'met' if ok else 'MISSED'}")
    if not args.quick and not args.no_write:
        section = results_section(ctx.backend)
        write_results(Path(args.results), section, markdown(ctx, res, elapsed))
        print(f"\nwrote the {section} section of {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
