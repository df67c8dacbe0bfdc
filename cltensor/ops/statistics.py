"""Order statistics and data summaries: median, nanmedian, mode, quantile, nanquantile, cummax,
cummin, histc, histogram, cov, corrcoef.

All are compositions of the device sort, scan, gather and bincount kernels: the selecting ops
pick an index along the dim on the device and read their values with gather, so their gradients
are gather's (the gradient goes to the selected element), as PyTorch's are.

    >>> import cltensor as torch
    >>> torch.tensor([[3., 1., 2.], [5., 4., 4.]]).median(1).values
    tensor([2., 4.])
"""
from __future__ import annotations

import functools
import math

from .. import launch
from .. import dtypes as dt
from ..tensor import Tensor, register, wrap_dim
from .index import searchsorted
from .creation import arange, full, linspace, zeros
from .joins import _output, cat
from . import reduce as _reduce
from .reduce import _acc, _evenly_vjp, _record, return_types

__all__ = ["median", "nanmedian", "mode", "quantile", "nanquantile", "cummax", "cummin", "cumsum", "cumprod",
           "logcumsumexp", "histc", "histogram", "histogramdd", "cov", "corrcoef"]

for _name in ("median", "nanmedian", "mode", "cummax", "cummin", "histogram", "histogramdd"):
    return_types.get(_name, ("hist", "bin_edges") if _name.startswith("histogram") else ("values", "indices"))


# ---- helpers ---------------------------------------------------------------------------------------------------
def _check_tensor(x, fname):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")


def _into(out, result: Tensor, fname: str, inputs=()) -> Tensor:
    """out= forms: result written into out (checked and resized as PyTorch does), or result itself."""
    if out is None:
        return result
    dest = _output(out, result._shape, result.dtype, result.device, list(inputs), fname)
    dest.copy_(result)
    return dest


def _pair_into(out, pair, fname, inputs, kind):
    if out is None:
        return pair
    values, indices = (_into(o, r, fname, inputs) for o, r in zip(out, pair))
    return return_types.get(kind, pair._fields)(values, indices)


def _positions(shape, d, device):
    """int64 positions 0..n-1 along dim d, shaped to broadcast against a tensor of `shape`."""
    view = [1] * len(shape)
    view[d] = shape[d]
    return arange(shape[d], dtype=dt.int64, device=device).reshape(view)


def _running(x: Tensor, d: int, largest: bool) -> Tensor:
    """The inclusive running max (or min) of x along d on the device scan kernel; NaN propagates.
    Integers and bools accumulate as int64."""
    out_dtype = x.dtype if x.is_floating_point() else dt.int64
    out = launch.base.empty(x._shape, out_dtype, x.device)
    op, inf, lim = (">=", "-INFINITY", "LONG_MIN") if largest else ("<=", "INFINITY", "LONG_MAX")
    if x.is_floating_point():
        return launch.scan.scan(f"(x != x || x {op} y) ? x : y", inf, x, d, out, x.dtype, _acc(out_dtype))
    return launch.scan.scan(f"x {op} y ? x : y", lim, x, d, out, x.dtype, _acc(out_dtype))


# ---- median, nanmedian, mode ------------------------------------------------------------------------------------
def _median_position(sorted_values: Tensor, d: int, ignore_nan: bool) -> Tensor:
    """Where along d (keepdim) the median of each sorted row sits: the lower middle of the values
    that are not NaN, or for median the first NaN (NaN sorts last) of a row that holds one."""
    n = sorted_values._shape[d]
    count = sorted_values.isnan().logical_not().sum(d, keepdim=True)
    if ignore_nan:
        return (count - 1).clamp(min=0) // 2
    return count.where(count < n, (n - 1) // 2)


def _check_not_bool(input, kernel):
    if input.dtype is dt.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _median_full(input, fname, ignore_nan):
    _check_tensor(input, fname)
    _check_not_bool(input, "median_cpu")
    flat = input.detach().reshape(-1)
    if flat.numel() == 0:
        return full((), math.nan, dtype=input.dtype, device=input.device)
    values, _ = flat.sort()
    out = values.gather(0, _median_position(values, 0, ignore_nan)).reshape(())
    return _record("MedianBackward0" if fname == "median" else "NanmedianBackward0", _evenly_vjp, input, out,
                   {"dims": tuple(range(input.dim())), "keepdim": False}, {0, "out"})


def _median_dim(input, dim, keepdim, fname, ignore_nan, out):
    _check_tensor(input, fname)
    _check_not_bool(input, "median_out")
    d = wrap_dim(dim, input.dim())
    if input.dim() and input._shape[d] == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    if input.dim() == 0:
        pair = (input.clone(), zeros((), dtype=dt.int64, device=input.device))
    else:
        values, order = input.detach().sort(d)
        indices = order.gather(d, _median_position(values, d, ignore_nan))
        pair = (input.gather(d, indices), indices)
        if not keepdim:
            pair = tuple(t.squeeze(d) for t in pair)
    return _pair_into(out, return_types.get(fname, ("values", "indices"))(*pair), fname, [input], fname)


def median(input, dim=None, keepdim=False, *, out=None):
    """median(x): the lower median of all elements (NaN if any is NaN); median(x, dim): a named tuple
    (values, indices) along dim. The index of tied values is the one a stable sort puts there.

    >>> import cltensor as torch
    >>> torch.tensor([3., 1., 3., 1.]).median(0)
    torch.return_types.median(
    values=tensor(1.),
    indices=tensor(3))
    """
    if dim is None:
        return _median_full(input, "median", False)
    return _median_dim(input, dim, keepdim, "median", False, out)


def nanmedian(input, dim=None, keepdim=False, *, out=None):
    """median ignoring NaN (NaN only where every element is NaN)."""
    if dim is None:
        return _median_full(input, "nanmedian", True)
    return _median_dim(input, dim, keepdim, "nanmedian", True, out)


def mode(input, dim=-1, keepdim=False, *, out=None):
    """The most frequent value along dim (the smallest of equally frequent ones) and the index of
    its last occurrence, as PyTorch returns.

    >>> import cltensor as torch
    >>> torch.tensor([1, 1, 2, 2, 1, 2]).mode()
    torch.return_types.mode(
    values=tensor(1),
    indices=tensor(4))
    """
    _check_tensor(input, "mode")
    d = wrap_dim(dim, input.dim())
    if input.dim() == 0:
        pair = (input.clone(), zeros((), dtype=dt.int64, device=input.device))
        return _pair_into(out, return_types.mode(*pair), "mode", [input], "mode")
    if input._shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    values, order = input.detach().sort(d)
    n = input._shape[d]
    position = _positions(values._shape, d, input.device)
    starts = values.narrow(d, 1, n - 1) != values.narrow(d, 0, n - 1)  # NaN never equals: each is its own run
    first = zeros(values._shape[:d] + (1,) + values._shape[d + 1:], dtype=dt.bool_, device=input.device)
    run_start = _running(position * _cat_along([first.logical_not(), starts], d), d, True)
    run_length = position - run_start  # at each element, the length of its run so far, minus one
    last = run_length.argmax(d, keepdim=True)  # the end of the first longest run
    indices = order.gather(d, last)
    pair = (input.gather(d, indices), indices)
    if not keepdim:
        pair = tuple(t.squeeze(d) for t in pair)
    return _pair_into(out, return_types.mode(*pair), "mode", [input], "mode")


def _cat_along(tensors, d):
    return cat(tensors, d)


# ---- cummax, cummin ------------------------------------------------------------------------------------------------
def _cumulative_extreme(input, dim, fname, largest, out):
    _check_tensor(input, fname)
    d = wrap_dim(dim, input.dim())
    if input.dtype is dt.bool_ or not input.dim():
        source = input.detach().to(dt.uint8) if input.dtype is dt.bool_ else input.detach()
    else:
        source = input.detach()
    if not input.dim():
        pair = (input.clone(), zeros((), dtype=dt.int64, device=input.device))
        return _pair_into(out, return_types.get(fname, ("values", "indices"))(*pair), fname, [input], fname)
    running = _running(source, d, largest)
    # x[j] took over the running extreme at j (ties too: PyTorch keeps the latest index) or is NaN
    took_over = (source == running) | source.isnan()
    candidates = _positions(source._shape, d, input.device).where(took_over, -1)
    indices = _running(candidates, d, True)
    pair = return_types.get(fname, ("values", "indices"))(input.gather(d, indices), indices)
    return _pair_into(out, pair, fname, [input], fname)


def cummax(input, dim, *, out=None):
    """Running maximum along dim and the index where it was (last) attained; NaN propagates.

    >>> import cltensor as torch
    >>> torch.tensor([1., 3., 2., 3.]).cummax(0).indices
    tensor([0, 1, 1, 3])
    """
    return _cumulative_extreme(input, dim, "cummax", True, out)


def cummin(input, dim, *, out=None):
    """Running minimum along dim and the index where it was (last) attained; NaN propagates."""
    return _cumulative_extreme(input, dim, "cummin", False, out)


# torch.cumsum/cumprod/logcumsumexp with their out= forms, over reduce.py's scans (its Tensor methods stay)
def cumsum(input, dim, *, dtype=None, out=None):
    """Inclusive running sum along dim; integer and bool inputs give int64."""
    return _into(out, _reduce.cumsum(input, dim, dtype=dtype), "cumsum", [input])


def cumprod(input, dim, *, dtype=None, out=None):
    """Inclusive running product along dim; integer and bool inputs give int64."""
    return _into(out, _reduce.cumprod(input, dim, dtype=dtype), "cumprod", [input])


def logcumsumexp(input, dim, *, out=None):
    """log(cumsum(exp(x))) along dim, without overflow."""
    return _into(out, _reduce.logcumsumexp(input, dim), "logcumsumexp", [input])


# ---- quantile, nanquantile -----------------------------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_args(input, q, fname, interpolation):
    _check_tensor(input, fname)
    if input.numel() == 0:
        raise RuntimeError(f"{fname}() input tensor must be non-empty")
    if input.dtype not in (dt.float32, dt.float64):
        raise RuntimeError(f"{fname}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{fname}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    if isinstance(q, Tensor):
        if q.dim() > 1:
            raise RuntimeError(f"{fname}() q must be a scalar or 1D tensor")
        if q.dtype is not input.dtype:
            raise RuntimeError(f"{fname}() q tensor must be same dtype as the input tensor")
        if q.numel() and not bool(((q >= 0) & (q <= 1)).all()):
            raise RuntimeError(f"{fname}() q values must be in the range [0, 1]")
        return q.detach().to(input.device), q.dim() == 1
    if not 0 <= q <= 1:
        raise RuntimeError(f"{fname}() q must be in the range [0, 1] but got {q}")
    return full((), float(q), dtype=input.dtype, device=input.device), False


def _quantile(input, q, dim, keepdim, interpolation, out, fname, ignore_nan):
    q, q_is_vector = _quantile_args(input, q, fname, interpolation)
    if dim is None:
        rows, kept_shape = input.reshape(-1), (1,) * input.dim() if keepdim else ()
    else:
        d = wrap_dim(dim, input.dim())
        rows = input.movedim(d, -1) if input.dim() else input.reshape(1)
        kept_shape = input._shape[:d] + (1,) + input._shape[d + 1:] if keepdim else \
            input._shape[:d] + input._shape[d + 1:]
        if not input.dim():
            kept_shape = ()
    values = rows.sort(-1).values
    last = values._shape[-1] - 1
    nans = values.detach().isnan()
    if ignore_nan:
        scale = (nans.logical_not().sum(-1, keepdim=True) - 1).to(input.dtype)
        ranks = (q.reshape(-1) * scale).clamp(min=0)
    else:
        ranks = (q.reshape(-1) * last).where(nans.any(-1, keepdim=True).logical_not(), float(last))
    ranks = {"lower": ranks.floor, "higher": ranks.ceil, "nearest": ranks.round}.get(interpolation, lambda: ranks)()
    below = ranks.to(dt.int64)
    result = values.gather(-1, below)
    if interpolation in ("linear", "midpoint"):
        weight = ranks - below if interpolation == "linear" else full((), 0.5, dtype=input.dtype,
                                                                       device=input.device)
        result = result.lerp(values.gather(-1, ranks.ceil().to(dt.int64)), weight)
    nq = q.numel()
    result = result.movedim(-1, 0).reshape((nq,) + tuple(kept_shape)) if q_is_vector else \
        result.reshape(kept_shape)
    return _into(out, result, fname, [input])


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The q-th quantiles (q a float or 1-d tensor in [0, 1]) of input (flattened) or along dim;
    NaN where a row holds NaN. interpolation: linear, lower, higher, midpoint or nearest (ties to even).

    >>> import cltensor as torch
    >>> torch.quantile(torch.tensor([0., 1., 2., 3.]), 0.5)
    tensor(1.5000)
    """
    return _quantile(input, q, dim, keepdim, interpolation, out, "quantile", False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """quantile ignoring NaN (NaN only where every element is NaN)."""
    return _quantile(input, q, dim, keepdim, interpolation, out, "nanquantile", True)


# ---- histograms ----------------------------------------------------------------------------------------------------
def _count_bins(bins_of_x: Tensor, nbins: int, weight, dtype) -> Tensor:
    """Counts (or summed weights) of bin numbers 0..nbins-1; number nbins marks an element out of range.
    Counts come from a sort and a binary search for each bin's start (exact, and no int64 atomics,
    which many devices lack); weights are summed by bincount's float atomics."""
    flat = bins_of_x.reshape(-1)
    if weight is None:
        starts = searchsorted(flat.sort().values, arange(nbins + 1, dtype=dt.int64, device=flat.device))
        return (starts[1:] - starts[:-1]).to(dtype)
    sums = flat.bincount(weights=weight.detach().reshape(-1).to(dt.float64 if dtype is dt.float64 else dt.float32),
                         minlength=nbins + 1)
    return sums[:nbins].to(dtype)


def _data_range(x: Tensor, lo, hi, fname):
    if lo == hi and x.numel():
        lo, hi = x.min().item(), x.max().item()
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"{fname}(): range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise RuntimeError(f"{fname}(): max must be larger than min")
    return lo, hi


def histc(input, bins=100, min=0, max=0, *, out=None):
    """Histogram of input's elements in `bins` equal bins over [min, max] (the data's range when
    min == max); elements outside are ignored, max itself falls in the last bin.

    >>> import cltensor as torch
    >>> torch.histc(torch.tensor([1., 2., 1.]), bins=4, min=0, max=3)
    tensor([0., 2., 1., 0.])
    """
    _check_tensor(input, "histc")
    if not input.is_floating_point():
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{input.dtype.torch_name}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    x = input.detach()
    lo, hi = _data_range(x, float(min), float(max), "torch.histc")
    compute = x.to(dt.float64 if x.dtype is dt.float64 else dt.float32)
    pos = ((compute - lo) * (bins / (hi - lo))).floor().clamp(min=-1, max=bins)
    pos = pos.where(compute != hi, bins - 1).where((compute >= lo) & (compute <= hi), bins)
    return _into(out, _count_bins(pos.to(dt.int64), bins, None, input.dtype), "histc", [input])


def _bin_edges(column: Tensor, bins, lo_hi, dtype, k: int) -> Tensor:
    """Dim k's bin edges: the given 1-d tensor, or `bins` + 1 equal steps over lo_hi (the data's range)."""
    if isinstance(bins, Tensor):
        if bins.dim() != 1 or bins.numel() < 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension, but got {bins.dim()} "
                               f"dimensions in the bins tensor for dimension {k}")
        if bins.dtype is not dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, but "
                               f"got input with dtype {dtype.torch_name.lower()} and bins for dimension {k} "
                               f"with dtype {bins.dtype.torch_name.lower()}")
        return bins.detach().to(column.device).contiguous()
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension {k}")
    lo, hi = _data_range(column, *(lo_hi if lo_hi is not None else (0.0, 0.0)), "torch.histogram")
    return linspace(lo, hi, bins + 1, dtype=dtype, device=column.device)


def _bin_numbers(column: Tensor, edges: Tensor) -> Tensor:
    """The bin of each value (the last bin includes its right edge), -1 outside the edges."""
    nbins = edges.numel() - 1
    pos = searchsorted(edges, column.contiguous(), right=True) - 1
    pos = pos.where(column != edges[-1], nbins - 1)
    return pos.where((column >= edges[0]) & (column <= edges[-1]), -1)


def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """(hist, bin_edges) of the points in input's last dim (one coordinate per column): bins is an
    int, one int per dim, or one edge tensor per dim; range a flat list (lo0, hi0, lo1, hi1, ...)."""
    _check_tensor(input, "histogramdd")
    if not input.is_floating_point():
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{input.dtype.torch_name}'")
    if input.dim() < 1:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 1 dimension, but got 0")
    ndims = input._shape[-1]
    points = input.detach().reshape(-1, ndims)
    per_dim = list(bins) if isinstance(bins, (list, tuple)) else [bins] * ndims
    if len(per_dim) != ndims:
        raise RuntimeError(f"torch.histogramdd: expected {ndims} sequences of bin edges for each of the {ndims} "
                           f"dimensions of the input tensor, but got {len(per_dim)}")
    if range is not None and len(range) != 2 * ndims:
        raise RuntimeError(f"torch.histogramdd: for a {ndims}-dimensional histogram range should have "
                           f"{2 * ndims} elements, but got {len(range)}")
    if weight is not None and tuple(weight._shape) != tuple(input._shape[:-1]):
        raise RuntimeError("torch.histogramdd: if weight tensor is provided it should have the same shape as the "
                           "input tensor excluding its innermost dimension")
    edges = [_bin_edges(points[:, k], b, None if range is None else range[2 * k:2 * k + 2], input.dtype, k)
             for k, b in enumerate(per_dim)]
    sizes = [e.numel() - 1 for e in edges]
    linear = zeros(points._shape[0], dtype=dt.int64, device=input.device)
    outside = zeros(points._shape[0], dtype=dt.bool_, device=input.device)
    for k, e in enumerate(edges):
        pos = _bin_numbers(points[:, k], e)
        outside = outside | (pos < 0)
        linear = linear * sizes[k] + pos
    total = math.prod(sizes)
    hist = _count_bins(linear.where(outside.logical_not(), total), total, weight, input.dtype).reshape(sizes)
    if density and total:
        volume = functools.reduce(lambda v, w: v.unsqueeze(-1) * w, [e[1:] - e[:-1] for e in edges])
        hist = hist / (hist.sum() * volume)
    return return_types.histogramdd(hist, tuple(edges))


def histogram(input, bins, *, range=None, weight=None, density=False, out=None):
    """(hist, bin_edges): counts (or summed weights) of input's elements in the bins given by the
    edge tensor `bins`, or `bins` equal bins over `range` (the data's range by default); the last
    bin includes its right edge. density=True scales hist to integrate to 1 over the edges.

    >>> import cltensor as torch
    >>> torch.histogram(torch.tensor([1., 2., 1.]), bins=2).hist
    tensor([2., 1.])
    """
    _check_tensor(input, "histogram")
    if not input.is_floating_point():
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{input.dtype.torch_name}'")
    if weight is not None and tuple(weight._shape) != tuple(input._shape):
        raise RuntimeError("torch.histogram(): if weight tensor is provided it should have the same shape as the "
                           "input tensor")
    hist, (edges,) = histogramdd(input.reshape(-1, 1), [bins], range=range,
                                 weight=None if weight is None else weight.reshape(-1), density=density)
    if out is not None:
        return return_types.histogram(_into(out[0], hist, "histogram"), _into(out[1], edges, "histogram"))
    return return_types.histogram(hist, edges)


# ---- cov, corrcoef -------------------------------------------------------------------------------------------------
def _weights(w, what, n, device):
    if w.dim() > 1:
        raise RuntimeError(f"cov(): expected {what} to have one or fewer dimensions but got {what} with "
                           f"{w.dim()} dimensions")
    if w.numel() != n:
        raise RuntimeError(f"cov(): expected {what} to have the same numel as there are observations in the input "
                           f"but got {w.numel()} != {n}")
    return w.to(device)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance matrix of the variables in input's rows (observations in its columns), with
    Bessel's `correction`, integer frequency weights and observation (reliability) weights.

    >>> import cltensor as torch
    >>> torch.cov(torch.tensor([[0., 1., 2.], [2., 1., 0.]]))
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    _check_tensor(input, "cov")
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.dim()} dimensions")
    x = input if input.dim() == 2 else input.reshape(1, -1)
    if not x.is_floating_point():
        x = x.to(dt.get_default_dtype())
    n = x._shape[1]
    w = None
    if fweights is not None:
        if fweights.is_floating_point():
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                               f"{fweights.dtype.torch_name} dtype")
        w = _weights(fweights, "fweights", n, x.device)
        if n and bool((w < 0).any()):
            raise RuntimeError("cov(): fweights cannot be negative")
    if aweights is not None:
        if not aweights.is_floating_point():
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                               f"{aweights.dtype.torch_name} dtype")
        aw = _weights(aweights, "aweights", n, x.device)
        if n and bool((aw < 0).any()):
            raise RuntimeError("cov(): aweights cannot be negative")
        w = aw if w is None else w * aw
    if w is None:
        w_sum = float(n)
        centred = x - x.mean(1, keepdim=True)
        norm = w_sum - correction
        product = centred.mm(centred.t())
    else:
        w = w.to(x.dtype)
        w_sum = w.sum()
        centred = x - (x * w).sum(1, keepdim=True) / w_sum
        norm = w_sum - correction * ((w * aweights.to(x.device, x.dtype)).sum() / w_sum
                                     if aweights is not None else 1)
        norm = norm.clamp(min=0)
        product = centred.mm((centred * w).t())
    if not isinstance(norm, Tensor):
        norm = max(norm, 0.0)
    return (product / norm).squeeze()


def corrcoef(input):
    """Pearson correlation coefficients of the variables in input's rows, clipped to [-1, 1]."""
    c = cov(input)
    if c.dim() == 0:
        return c / c
    std = c.diagonal().sqrt()
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    return c.clamp(-1, 1)


for _f in (median, nanmedian, mode, quantile, nanquantile, cummax, cummin, histc, histogram, cov, corrcoef):
    register(_f.__name__, _f)
