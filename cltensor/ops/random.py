"""Random numbers from a counter-based generator (Philox4x32-10) run in a kernel.

A generator is (seed, offset): each draw of n numbers uses counters offset..offset+n-1 and then
advances the offset, so a seed reproduces the same stream on every OpenCL device.
"""
from __future__ import annotations

import math
import random as _random

import numpy as np

from .. import checks, launch
from .. import dtypes as dt
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..device import as_device
from ..tensor import Tensor, _shape_arg, register
from .creation import _finish, empty, tensor
from .elementwise import check_inplace_allowed
from .index import searchsorted, topk
from .joins import stack

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
        self.manual_seed(_random.SystemRandom().getrandbits(63))
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
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
    if out.dtype.is_complex:  # both parts drawn; a complex normal's parts have variance 1/2 each, as PyTorch's
        parts = Tensor._make(out._storage, out._shape + (2,), tuple(2 * s for s in out._strides) + (1,),
                             2 * out._offset, out.dtype.to_real(), out.device)
        _draw(parts, dist, p0, p1 * math.sqrt(0.5) if dist == "normal" else p1, generator)
        return out
    gen = generator or default_generator
    seed_, offset = gen._take(n)
    target = out if out.is_contiguous() else launch.base.empty(out._shape, out.dtype, out.device)
    compute = dt.int64 if dist == "randint" else (out.dtype if out.dtype in (dt.float32, dt.float64) else dt.float32)
    launch.random.draw(target, dist, compute, seed_, offset, p0, p1)
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
        shape = launch.strides.broadcast_shapes(*(x.shape for x in (mean, std) if isinstance(x, Tensor)))
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


# ---- multinomial ------------------------------------------------------------------------------------------------
# Sampling composes existing device kernels: with replacement, the inverse CDF (a row-wise cumsum
# normalised by its last element, uniform draws, searchsorted); without replacement (and for a
# single draw, as PyTorch does), exponential races: category j's key is p_j / E_j with E_j ~ Exp(1)
# and the num_samples largest keys, in order, are a draw without replacement (PyTorch's algorithm).
#
# The checks of the probabilities' values (negative, inf, NaN, rows summing to 0) need the data.
# On 'cpu' tensors they are read at once, as PyTorch's CPU path raises eagerly; on an OpenCL device
# they are registered with cltensor.checks and raised at the next host read, as PyTorch's CUDA
# kernels report them through device-side asserts, so sampling never stalls the queue.

def _num_samples_arg(num_samples) -> int:
    if isinstance(num_samples, Tensor) and num_samples.dim() == 0 and not num_samples.is_floating_point():
        num_samples = num_samples.item()
    if isinstance(num_samples, (bool, np.bool_)) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError("multinomial(): argument 'num_samples' (position 2) must be int, not "
                        f"{type(num_samples).__name__}")
    return int(num_samples)


def _check_multinomial_shapes(input, n: int, replacement: bool, out):
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not input.is_floating_point():
        raise RuntimeError("multinomial only supports floating-point dtypes for input, got: "
                           f"{input.dtype.torch_name}")
    if out is not None and out.dtype != dt.int64:
        raise RuntimeError(f"multinomial expects Long tensor out, got: {out.dtype.torch_name}")
    if input.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    categories = input._shape[-1]
    if categories > 2**24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    if n <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and n > categories:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if categories == 0 and (input.dim() == 1 or input._shape[0] > 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")


def _check_probabilities(p: Tensor, row_sums: Tensor, races: bool):
    """Check p's values (see above); row_sums: each row's total, in the compute dtype."""
    lo, hi = p.amin(), p.amax()
    if races:  # PyTorch's messages for the exponential-race path
        bad = "probability tensor contains either `inf`, `nan` or element < 0"
        rules = [(lo, lambda v: v >= 0, bad), (hi, lambda v: v < float("inf"), bad)]
    else:
        rules = [(lo, lambda v: v >= 0, "invalid multinomial distribution (encountering probability entry < 0)"),
                 (hi, lambda v: v < float("inf"),
                  "invalid multinomial distribution (encountering probability entry = infinity or NaN)")]
    rules.append((row_sums.amin(), lambda v: v > 0, "invalid multinomial distribution (sum of probabilities <= 0)"))
    if p.device.type == "cpu":
        values = stack([r[0] for r in rules]).tolist()
        for (_, passes, message), value in zip(rules, values):
            if not passes(value):
                raise RuntimeError(message)
        return
    for offender, passes, message in rules:
        checks.defer(offender, passes, lambda value, message=message: RuntimeError(message))


def _sample_by_races(p: Tensor, n: int, generator) -> Tensor:
    u = rand(p._shape, generator=generator, dtype=p.dtype, device=p.device)
    keys = empty(p._shape, dtype=p.dtype, device=p.device)
    # E = -log(1 - u) is 0 only for u == 0: clamped, that key is huge (the category wins, as it should);
    # zero-probability categories get -1, below every positive key, so they come last
    launch.elementwise.elementwise("multinomial_race", "(a > ({T})0) ? a / fmax(-log(({T})1 - b), ({T})1e-30) : ({T})-1",
                         [p, u], keys, p.dtype)
    return topk(keys, n, -1).indices


def _normalised_cdf(p: Tensor) -> Tensor:
    """Each row's cumulative sums divided by the row's total, after the checks of p's values.

    Normalised, the last entry is exactly 1 (> every uniform draw) and a zero-probability category
    repeats its predecessor's value, so searchsorted(right=True) never lands on it."""
    cdf = p.cumsum(-1)
    total = cdf[..., -1:]
    _check_probabilities(p, total, races=False)
    return (cdf / total).contiguous()


def sample_from_cdf(cdf: Tensor, n: int, generator) -> Tensor:
    """n draws per row of a normalised cdf (inverse transform sampling)."""
    u = rand(cdf._shape[:-1] + (n,), generator=generator, dtype=cdf.dtype, device=cdf.device)
    return searchsorted(cdf, u, right=True)


def weighted_cdf(weights: Tensor) -> Tensor:
    """The normalised cdf of 1-d or 2-d weights (checked as multinomial checks them), for repeated
    draws with replacement by sample_from_cdf (WeightedRandomSampler draws chunks from one cdf)."""
    _check_multinomial_shapes(weights, 2, True, None)
    with no_grad():
        return _normalised_cdf(_compute_probabilities(weights))


def _compute_probabilities(input: Tensor) -> Tensor:
    compute = input.dtype if input.dtype in (dt.float32, dt.float64) else dt.float32
    return input.detach().to(compute)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn from the categories of each row of input (weights: non-negative, finite,
    not all zero), num_samples per row, as int64; without replacement no index repeats in a row.

    >>> import cltensor as torch
    >>> g = torch.Generator().manual_seed(0)
    >>> torch.multinomial(torch.tensor([0., 1., 0.]), 2, replacement=True, generator=g)
    tensor([1, 1])
    """
    n = _num_samples_arg(num_samples)
    _check_multinomial_shapes(input, n, replacement, out)
    result_shape = input._shape[:-1] + (n,)
    with no_grad():
        if input.numel() == 0:
            result = launch.base.empty(result_shape, dt.int64, input.device)
        else:
            p = _compute_probabilities(input)
            if not replacement or n == 1:
                _check_probabilities(p, p.sum(-1), races=True)
                result = _sample_by_races(p, n, generator)
            else:
                result = sample_from_cdf(_normalised_cdf(p), n, generator)
    return result if out is None else _into_out(out, result)


def _into_out(out: Tensor, result: Tensor) -> Tensor:
    """Copy result into out=, which takes result's shape first if it differs (as PyTorch resizes it)."""
    if out.device != result.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{result.device} and {out.device}!")
    if out._shape != result._shape:
        fresh = launch.base.empty(result._shape, out.dtype, out.device)
        out._storage, out._shape, out._strides, out._offset = fresh._storage, fresh._shape, fresh._strides, 0
    return out.copy_(result)


register("multinomial", multinomial)


# ---- samplers with per-element parameters (gamma, poisson, binomial) ---------------------------------------------
# One work-item per element runs its rejection loop (kernels_cl/random.cl.mako); element i draws its
# blocks from counter offset + i, so the generator advances by the element count, as for rand().

def _per_element(kind: str, out_like: Tensor, params, generator=None) -> Tensor:
    """The kernel `kind` over parameters broadcast to out_like's shape, computed in float32/float64
    and returned in out_like's dtype."""
    compute = out_like.dtype if out_like.dtype in (dt.float32, dt.float64) else dt.float32
    shape = out_like._shape
    args = [p.detach().to(compute).expand(shape).contiguous() for p in params]
    args += [args[0]] * (2 - len(args))
    out = launch.base.empty(shape, compute, out_like.device)
    n = out.numel()
    if n:
        seed_, offset = (generator or default_generator)._take(n) if kind != "gamma_grad" else (0, 0)
        launch.random.per_element(kind, out, args[0], args[1], seed_, offset)
    return out if compute == out_like.dtype else out.to(out_like.dtype)


def _check_float_input(name: str, t, kernel: str):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(t).__name__}")
    if not t.is_floating_point():
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{t.dtype.torch_name.title()}'")


def _gamma_backward(alpha: Tensor, sample: Tensor, grad: Tensor) -> Tensor:
    return grad * _standard_gamma_grad(alpha, sample)


def _standard_gamma(input, *, generator=None):
    """Draws of Gamma(input, 1), one per element (Marsaglia-Tsang on the device); differentiable
    in input through the implicit reparameterisation (_standard_gamma_grad), as in PyTorch."""
    _check_float_input("_standard_gamma", input, "gamma_cpu")

    class StandardGamma(Function):
        @staticmethod
        def forward(ctx, alpha):
            sample = _per_element("gamma", alpha, [alpha], generator)
            ctx.save_for_backward(alpha, sample)
            return sample

        @staticmethod
        def backward(ctx, grad):
            alpha, sample = ctx.saved_tensors
            return _gamma_backward(alpha, sample, grad)

    return StandardGamma.apply(input)


def _standard_gamma_grad(input, output):
    """d(sample)/d(alpha) of standard gamma draws `output` of concentrations `input`."""
    shape = launch.strides.broadcast_shapes(input.shape, output.shape)
    return _per_element("gamma_grad", launch.base.empty(shape, input.dtype, input.device), [input, output])


def poisson(input, generator=None):
    """Poisson draws with rates `input`, as floats of input's dtype (not differentiable)."""
    _check_float_input("poisson", input, "poisson_cpu")
    return _per_element("poisson", input, [input], generator)


def binomial(count, prob, generator=None):
    """Binomial draws: successes among `count` trials of probability `prob` (same dtype)."""
    _check_float_input("binomial", count, "binomial_cpu")
    if prob.dtype != count.dtype:
        raise RuntimeError(f"expected scalar type {count.dtype} but found {prob.dtype}")
    shape = launch.strides.broadcast_shapes(count.shape, prob.shape)
    return _per_element("binomial", launch.base.empty(shape, count.dtype, count.device), [count, prob], generator)


def _sample_dirichlet(input, generator=None):
    """Draws from Dirichlet(input) over the last dim: gamma draws normalised to sum to 1."""
    gammas = _per_element("gamma", input, [input], generator)
    return gammas / gammas.sum(-1, keepdim=True)


def _von_mises_centered(concentration, generator=None):
    """von Mises angles in [-pi, pi] around 0, one per concentration (Best-Fisher on the device)."""
    return _per_element("von_mises", concentration, [concentration], generator)
