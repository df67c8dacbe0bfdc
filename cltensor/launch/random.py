"""Counter-based random draws (kernels_cl/random.cl.mako): element i of a draw uses the Philox counter
offset + i under the generator's seed. ops/random.py keeps the generators and the ops' logic."""
from __future__ import annotations

from .. import codegen
from . import signature as sg
from .base import enqueue, scalar_arg
from .signature import Signature


def draw(out, dist, compute, seed, offset, p0, p1):
    """out (contiguous) = draws of `dist` ('uniform', 'normal', 'randint', 'bernoulli' ...) with the two
    parameters p0, p1 passed as `compute` (int64 for randint, else float32/float64)."""
    n = out.numel()
    backend = out.device.backend
    key = ("rand", dist, out.dtype, compute.c)
    kernel = backend.kernels.get(key)
    if kernel is None:
        kname = "rand_" + dist
        sig = Signature(sg.sizes("long", "n"), sg.tensor("out", out.dtype.c, "long", 0, const=False),
                        sg.sizes("ulong", "seed", "offset"), sg.scalar("p0", compute), sg.scalar("p1", compute))
        kernel = codegen.kernel(backend, key, "random.cl.mako", kname, {kname: sig}, out_dtype=out.dtype, T=compute.c,
                                dist=dist)
    enqueue(backend, kernel, n, [n, out._storage.buffer, out._offset, seed, offset,
                                 scalar_arg(p0, compute), scalar_arg(p1, compute)])
    return out


def per_element(kind, out, p0, p1, seed, offset):
    """out[i] = the sampler `kind` ('gamma', 'poisson', 'binomial', 'von_mises', 'gamma_grad') at the
    parameters p0[i], p1[i]; out, p0 and p1 are fresh contiguous tensors of one float dtype."""
    n = out.numel()
    backend = out.device.backend
    T = out.dtype.c
    key = ("rand", kind, out.dtype, T)
    kernel = backend.kernels.get(key)
    if kernel is None:
        kname = "rand_" + kind
        sig = Signature(sg.sizes("long", "n"), sg.buffer("out", T, const=False), sg.buffer("p0", T),
                        sg.buffer("p1", T), sg.sizes("ulong", "seed", "offset"))
        kernel = codegen.kernel(backend, key, "random.cl.mako", kname, {kname: sig}, out_dtype=out.dtype, T=T,
                                dist=kind)
    enqueue(backend, kernel, n, [n, out._storage.buffer, p0._storage.buffer, p1._storage.buffer, seed, offset])
    return out
