"""Random numbers from a counter-based generator (Philox4x32-10) run in a kernel.

A generator is (seed, offset): each draw of n numbers uses counters offset..offset+n-1 and then
advances the offset, so a seed reproduces the same stream on every OpenCL device.
"""
from __future__ import annotations


import numpy as np

from .. import codegen, dispatch
from .. import dtypes as dt
from ..device import as_device
from ..tensor import Tensor, _shape_arg, register
from .creation import _finish, empty

_DEFAULT_SEED = 67280421310721


class Generator:
    """torch.Generator: a seed and a counter offset."""

    def __init__(self, device="cpu"):
        self.device = as_device(device) if device is not None else as_device("cpu")
        self._seed = _DEFAULT_SEED
        self._offset = 0

    def manual_seed(self, seed):
        seed = int(seed)
        if not -(2**63) <= seed < 2**64:
            raise RuntimeError(f"Overflow when unpacking long: seed {seed} out of range")
        self._seed = seed % 2**64
        self._offset = 0
        return self

    def seed(self):
        import random as _random
        self.manual_seed(_random.SystemRandom().getrandbits(63))
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from .creation import tensor
        return tensor(np.frombuffer(np.array([self._seed, self._offset], np.uint64).tobytes(), np.uint8).copy())

    def set_state(self, state):
        words = np.frombuffer(bytes(state.tolist()), np.uint64)
        self._seed, self._offset = int(words[0]), int(words[1])
        return self

    def _take(self, n: int) -> tuple:
        start = self._offset
        self._offset += n
        return self._seed, start


default_generator = Generator()


def manual_seed(seed):
    default_generator.manual_seed(seed)
    return default_generator


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def _draw(out: Tensor, dist: str, p0, p1, generator=None) -> Tensor:
    n = out.numel()
    if n == 0:
        return out
    gen = generator or default_generator
    seed_, offset = gen._take(n)
    target = out if out.is_contiguous() else dispatch.empty(out._shape, out.dtype, out.device)
    compute = dt.int64 if dist == "randint" else (out.dtype if out.dtype in (dt.float32, dt.float64) else dt.float32)
    T = compute.c
    key = ("rand", dist, target.dtype, T)
    backend = out.device.backend
    kernel = backend.kernels.get(key)
    if kernel is None:
        kernel = codegen.kernel(backend, key, "random.cl.mako", "rand_" + dist, out_dtype=target.dtype, T=T, dist=dist,
                                arg_dtypes=[np.int64, None, np.int64, np.uint64, np.uint64, compute.np.type,
                                            compute.np.type])
    dispatch.enqueue(backend, kernel, n, [n, target._storage.buffer, target._offset, seed_, offset,
                                         dispatch.scalar_arg(p0, compute), dispatch.scalar_arg(p1, compute)])
    if target is not out:
        out.copy_(target)
    out._bump_version()
    return out


def _float_dtype(dtype):
    d = dt.as_dtype(dtype) if dtype is not None else dt.get_default_dtype()
    return d


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    t = empty(*size, dtype=_float_dtype(dtype), device=device)
    return _finish(_draw(t, "uniform", 0.0, 1.0, generator), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    t = empty(*size, dtype=_float_dtype(dtype), device=device)
    return _finish(_draw(t, "normal", 0.0, 1.0, generator), requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    t = empty(_shape_arg((size,)), dtype=dt.as_dtype(dtype) if dtype else dt.int64, device=device)
    return _draw(t, "randint", int(low), int(high), generator)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=dtype or input.dtype, device=device or input.device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        like = mean if isinstance(mean, Tensor) else std
        shape = dispatch.broadcast_shapes(*(x.shape for x in (mean, std) if isinstance(x, Tensor)))
        noise = randn(shape, generator=generator, dtype=like.dtype, device=like.device)
        return noise * std + mean
    if size is None:
        raise TypeError("normal() missing required argument 'size'")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    t = empty(_shape_arg((size,)), dtype=_float_dtype(dtype), device=device)
    return _finish(_draw(t, "normal", float(mean), float(std), generator), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1: random keys sorted on the device."""
    keys = rand(n, generator=generator, dtype=dt.float64 if as_device(device).backend.has_fp64 else dt.float32,
                device=device)
    return keys.argsort().to(dt.as_dtype(dtype) if dtype else dt.int64)


def _inplace_draw(dist):
    def method(self, a=0.0, b=1.0, *, generator=None):
        from .elementwise import check_inplace_allowed
        check_inplace_allowed(self)
        if dist == "normal" and b < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {b}")
        if dist == "uniform" and a > b:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
        return _draw(self, dist, a, b, generator)
    return method


register("uniform_", _inplace_draw("uniform"))
register("normal_", _inplace_draw("normal"))


def _bernoulli_(self, p=0.5, *, generator=None):
    if isinstance(p, Tensor):
        return self.copy_(rand(self.shape, dtype=p.dtype, device=self.device, generator=generator) < p)
    return _draw(self, "bernoulli", float(p), 0.0, generator)


def bernoulli(input, p=None, *, generator=None):
    if p is None:
        return (rand(input.shape, dtype=input.dtype, device=input.device, generator=generator) < input).to(input.dtype)
    return _bernoulli_(empty(input.shape, dtype=input.dtype, device=input.device), p, generator=generator)


def _random_(self, low=0, high=None, *, generator=None):
    if high is None:
        low, high = 0, low if low else 2**(8 * self.dtype.itemsize - (1 if self.dtype.signed else 0))
    t = randint(low, high, self.shape, dtype=dt.int64, device=self.device, generator=generator)
    return self.copy_(t)


def _exponential_(self, lambd=1.0, *, generator=None):
    u = rand(self.shape, dtype=self.dtype, device=self.device, generator=generator)
    return self.copy_(-(1 - u).log() / lambd)


register("bernoulli_", _bernoulli_)
register("bernoulli", bernoulli)
register("random_", _random_)
register("exponential_", _exponential_)
