"""The GEMM tile search: times candidate tilings (gemm_tuning.candidates) on the device and records
the fastest (gemm_tuning.record). It launches GEMMs, so it lives with the launcher; gemm_tuning keeps
the tables and the parameter arithmetic and calls `autotune` through gemm_tuning.autotune.

    python -m cltensor.launch.gemm_search [size]    # tune the default device by hand
    python -m cltensor.launch.gemm_search --device gpu --dtype float32 --dtype float16 --seconds 40 --out t.json
"""
from __future__ import annotations

import argparse
import sys
import time

from .. import dtypes as dt, gemm_tuning
from ..device import _all_cl_devices, as_device, device
from . import random
from .base import empty
from .gemm import gemm


def autotune(backend, path=None, seconds=None, size=None) -> dict:
    """The bounded first-use search: float32 candidates of the device's variant timed on one
    size^3 product until `seconds` have passed, the fastest recorded for the device (every dtype
    then uses its tiling). Returns the winner."""
    seconds = gemm_tuning.AUTOTUNE_SECONDS if seconds is None else seconds
    print(f"cltensor: tuning GEMM tiles for {backend.name!r} (its first GEMM; once, a few seconds; "
          "CLTENSOR_AUTOTUNE=0 skips) ...", end="", file=sys.stderr, flush=True)
    best, gflops = search(backend, dt.float32, size or gemm_tuning.AUTOTUNE_SIZE,
                          gemm_tuning._natural_variant(backend), seconds)
    gemm_tuning.record(backend.name, "float32", best, path)
    shown = ", ".join(f"{k}={v}" for k, v in best.items() if k != "variant")
    print(f" {best['variant']} {shown}: {gflops:.1f} GFLOP/s, saved in {path or gemm_tuning.TUNING_FILE}",
          file=sys.stderr, flush=True)
    return best


def time_gemm(a, b, params, reps=3) -> float:
    """Best seconds of reps runs of a @ b with the given parameters (waits around the timed region)."""
    out = empty(a._shape[:-1] + b._shape[-1:], a.dtype, a.device)
    gemm(a, b, out, params=params)
    out.device.backend.queue.finish()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        gemm(a, b, out, params=params)
        out.device.backend.queue.finish()
        best = min(best, time.perf_counter() - start)
    return best


def search(backend, dtype, size, variant, seconds=float("inf"), verbose=False):
    """(best candidate, its GFLOP/s) among the variant's candidates, the default first, timed on a
    size^3 product; candidates after `seconds` are not tried."""
    dev = _device_of(backend)
    default = gemm_tuning.DEFAULT_VEC if variant == "vec" else gemm_tuning.DEFAULT_TILED
    start = time.perf_counter()
    size, slow_build = _affordable_size(backend, dtype, dev, default, size, seconds)
    a, b = _normal((size, size), dtype, dev, 0), _normal((size, size), dtype, dev, size * size)
    best, best_gflops = dict(default), 0.0
    for cand in [default] + [c for c in gemm_tuning.candidates(variant) if c != default]:
        if time.perf_counter() - start > seconds:
            break
        if slow_build and cand.get("KU", 1) > 1:
            continue  # an unrolled k loop builds ~10x slower still (llvmpipe): it would overrun the budget
        try:
            gflops = 2 * size ** 3 / time_gemm(a, b, gemm_tuning.complete(backend, dtype, cand)) / 1e9
        except Exception as err:  # a tiling the device cannot build or run is skipped
            if verbose:
                print(f"  {cand}: failed ({type(err).__name__})")
            continue
        if verbose:
            print(f"  {cand}: {gflops:.1f} GFLOP/s")
        if gflops > best_gflops:
            best, best_gflops = cand, gflops
    return best, best_gflops


_PROBE_SIZE = 128


def _affordable_size(backend, dtype, dev, params, size, seconds):
    """(size, slow_build) for a bounded search: the product to time candidates on, size^3 or a smaller
    cube (a multiple of 64, at least the probe's 128 unless size is smaller) where one product of
    that size would take more than a 40th of the budget; and whether building the default kernel
    took over a third of it (llvmpipe ~6 s, PoCL ~0.3 s). On llvmpipe (rusticl; well under
    0.1 GFLOP/s here) one 512^3 product took ~5 s, and the search meant to take a few seconds took 44."""
    if seconds == float("inf"):
        return size, False
    probe = _normal((_PROBE_SIZE, _PROBE_SIZE), dtype, dev, 0)
    started = time.perf_counter()
    run = time_gemm(probe, probe, gemm_tuning.complete(backend, dtype, params), reps=1)  # builds, then times
    build = time.perf_counter() - started - 2 * run
    affordable = int((2 * _PROBE_SIZE ** 3 / run * seconds / 40 / 2) ** (1 / 3)) // 64 * 64
    return min(size, max(_PROBE_SIZE, affordable)), build > seconds / 3


def _normal(shape, dtype, dev, offset):
    """Standard normal operands (the values only need to be finite and varied)."""
    compute = dtype if dtype in (dt.float32, dt.float64) else dt.float32
    return random.draw(empty(shape, dtype, dev), "normal", compute, 0, offset, 0.0, 1.0)


def _device_of(backend):
    index = [d.int_ptr for d in _all_cl_devices()].index(backend.cl_device.int_ptr)
    return device("cl", index)


def tune(device=None, dtype=dt.float32, size=1024, variant=None, save=True, verbose=True, seconds=float("inf"),
         path=None) -> dict:
    """Time the candidate tilings on a size x size x size product (those begun within `seconds`) and
    record the fastest in the tuning file (or path)."""
    backend = as_device(device).backend
    variant = variant or ("vec" if backend.cpu_tuned else "tiled")
    best, gflops = search(backend, dtype, size, variant, seconds, verbose=verbose)
    if save:
        gemm_tuning.record(backend.name, dtype.name, best, path)
    if verbose:
        print(f"{backend.name} {dtype.name}: {best} at {gflops:.1f} GFLOP/s")
    return best


gemm_tuning.autotune = autotune


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cltensor.launch.gemm_search", description="Tune GEMM tiles.")
    p.add_argument("size", nargs="?", type=int, default=1024, help="M = N = K of the timed product")
    p.add_argument("--device", default=None, help="cltensor device (default: the default device)")
    p.add_argument("--dtype", action="append", help="float32 (default), float16, float64; repeatable")
    p.add_argument("--seconds", type=float, default=float("inf"), help="stop trying candidates after this long")
    p.add_argument("--out", default=None, help="also record the winners in this JSON file")
    args = p.parse_args(argv)
    for name in args.dtype or ["float32"]:
        dtype = dt.as_dtype(name)
        best = tune(args.device, dtype, args.size, seconds=args.seconds)
        if args.out:
            gemm_tuning.record(as_device(args.device).backend.name, dtype.name, best, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
