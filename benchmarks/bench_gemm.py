"""GEMM throughput of cltensor against numpy (OpenBLAS or whatever numpy links) in one process.

    python benchmarks/bench_gemm.py                      # float32, 256..2048, a @ b
    python benchmarks/bench_gemm.py --layouts            # also a @ b.T, a.T @ b, a.T @ b.T
    python benchmarks/bench_gemm.py --dtype float64 --sizes 512 1024
    python benchmarks/bench_gemm.py --variant tiled      # the GPU kernel, forced

Each size is timed in rounds that alternate numpy and cltensor (so that a busy machine hurts
both alike); a cltensor round enqueues `reps` products and waits once at the end, the only
synchronisation. The best round of each counts. Prints GFLOP/s and the cltensor/numpy ratio.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import cltensor as torch
from cltensor import gemm_tuning


def reps_for(n: int) -> int:
    return max(2, min(50, int(4e9 / (2 * n ** 3))))


def time_numpy(a, b, reps):
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return (time.perf_counter() - start) / reps


def time_cltensor(a, b, reps):
    torch.synchronize(a.device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.synchronize(a.device)
    return (time.perf_counter() - start) / reps


def operands(n, dtype, layout, device, rng):
    x = rng.standard_normal((n, n)).astype(dtype.np)
    y = rng.standard_normal((n, n)).astype(dtype.np)
    tx = torch.tensor(x.T.copy(), device=device).t() if layout[0] == "T" else torch.tensor(x, device=device)
    ty = torch.tensor(y.T.copy(), device=device).t() if layout[1] == "T" else torch.tensor(y, device=device)
    nx = x.T.copy().T if layout[0] == "T" else x
    ny = y.T.copy().T if layout[1] == "T" else y
    return tx, ty, nx, ny


def bench(n, dtype, layout, device, rounds, rng):
    tx, ty, nx, ny = operands(n, dtype, layout, device, rng)
    reps = reps_for(n)
    time_cltensor(tx, ty, 1)  # compiles
    best_np = best_cl = float("inf")
    for _ in range(rounds):
        best_np = min(best_np, time_numpy(nx, ny, reps))
        best_cl = min(best_cl, time_cltensor(tx, ty, reps))
    # checked after timing: .numpy() shares the result's memory with numpy, which makes later
    # launches into that (recycled) block synchronous
    err = np.abs((tx @ ty).cpu().numpy().astype(np.float64) - nx.astype(np.float64) @ ny).max()
    flops = 2 * n ** 3
    return flops / best_cl / 1e9, flops / best_np / 1e9, err


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--layouts", action="store_true", help="also time transposed operands")
    parser.add_argument("--variant", choices=["vec", "tiled"], default=None)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    params = gemm_tuning.params_for(device.backend, dtype, args.variant)
    print(f"device: {device.backend.name}   dtype: {dtype.name}   GEMM params: {params}")
    print(f"{'layout':>6} {'n':>6} {'cltensor GFLOP/s':>17} {'numpy GFLOP/s':>14} {'ratio':>6} {'max err':>9}")
    layouts = ["NN", "NT", "TN", "TT"] if args.layouts else ["NN"]
    with gemm_tuning.forced_variant(args.variant):
        for layout in layouts:
            for n in args.sizes:
                cl_gf, np_gf, err = bench(n, dtype, layout, device, args.rounds, rng)
                print(f"{layout:>6} {n:>6} {cl_gf:>17.1f} {np_gf:>14.1f} {cl_gf / np_gf:>6.2f} {err:>9.2e}",
                      flush=True)


if __name__ == "__main__":
    main()
