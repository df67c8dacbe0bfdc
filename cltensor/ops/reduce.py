"""Reductions, scans and softmax.

Every reduction is a row of ROWS: an accumulator state and the C snippets (neutral, map,
combine) that the one reduction template (kernels_cl/reduce.cl.mako) is instantiated with;
each public op picks a row, the element and accumulator dtypes, and `finish` expressions
for its outputs, then records its backward rule (written in cltensor ops). Scans (cumsum,
cumprod, logcumsumexp) are a combine expression for kernels_cl/scan.cl.mako. softmax and
log_softmax are the logsumexp row with a `fused` write: one kernel, one work-item or
work-group per row (the max, the sum of exponentials, then the write).

    >>> import cltensor as torch
    >>> x = torch.tensor([[1., 5., 2.], [4., 0., 4.]])
    >>> x.sum(1)
    tensor([8., 8.])
    >>> x.max(dim=1).indices
    tensor([1, 0])
"""
from __future__ import annotations

import builtins as _py
import collections
import functools
import math
import warnings

import numpy as np

from .. import launch
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor, register, wrap_dim
from .complex import view_as_complex, view_as_real
from .creation import arange
from .elementwise import isclose, maximum, minimum, where

__all__ = ["sum", "mean", "nansum", "nanmean", "prod", "max", "min", "amax", "amin", "aminmax", "argmax", "argmin",
           "var", "std", "var_mean", "std_mean", "norm", "logsumexp", "all", "any", "count_nonzero", "cumsum",
           "cumprod", "logcumsumexp", "softmax", "log_softmax", "allclose", "equal", "return_types"]

# ---- the rows: accumulator fields ("A" is the accumulator's C type) and C statements ----------------
def _arg_combine(op):
    """(value, index) pairs: NaN wins, then the first index, for any split of the work."""
    ints = f"s = ((x.v {op} y.v) || (x.v == y.v && x.i < y.i)) ? x : y;"
    return {"int": ints, "float": ints.replace(") ? x", ") || (IS_NAN(x.v) && (!IS_NAN(y.v) || x.i < y.i)) ? x")}


def _pick(op, field=None):
    """The larger (op '>') or smaller of two states (or, given a field, of that field alone);
    NaN wins for floats."""
    f = field or "v"
    take = f"(x.{f} {op} y.{f}{{nan}}) ? x{{f}} : y{{f}};"
    lhs, part = (f"s.{f} = ", f".{f}") if field else ("s = ", "")
    return {"int": lhs + take.format(nan="", f=part), "float": lhs + take.format(nan=f" || IS_NAN(x.{f})", f=part)}


LSE_COMBINE = """
    s.m = (x.m > y.m || IS_NAN(x.m)) ? x.m : y.m;
    s.s = (x.m == s.m ? x.s : x.s * exp(x.m - s.m)) + (y.m == s.m ? y.s : y.s * exp(y.m - s.m));
    if (s.m == INFINITY) s.s = NAN;  /* softmax of a row holding +inf is nan, as exp(inf - inf) */
"""  # NOTE: no branches around exp, so that lanes vectorise; -inf == -inf keeps all -inf rows at -inf
WELFORD_COMBINE = """
    s.n = x.n + y.n;
    const A d = y.mean - x.mean, fy = (s.n == 0) ? 0 : y.n / s.n;
    s.mean = x.mean + d * fy;
    s.m2 = x.m2 + y.m2 + x.n * fy * d * d;
"""  # NOTE: the count is kept in A (exact to 2**24 in float32; beyond, the weights round like the values);
# the weight x.n * fy multiplies first: merging into an empty state must add 0, not 0 * (d * d) = NaN once
# d * d overflows (|x| > ~1.8e19 in float32)
ROWS = {
    # name: (fields, neutral, map, combine)
    "sum": ((("v", "A"),), "s.v = 0;", "s.v = a;", "s.v = x.v + y.v;"),
    "dot": ((("v", "A"),), "s.v = 0;", "s.v = a * b;", "s.v = x.v + y.v;"),  # with a second input b
    "sum_dot": ((("v", "A"), ("d", "A")), "s.v = 0; s.d = 0;", "s.v = a; s.d = a * b;",  # likewise
                "s.v = x.v + y.v; s.d = x.d + y.d;"),
    "nansum": ((("v", "A"),), "s.v = 0;", "s.v = IS_NAN_T(a) ? 0 : a;", "s.v = x.v + y.v;"),
    "nanmean": ((("v", "A"), ("c", "long")), "s.v = 0; s.c = 0;", "s.v = IS_NAN_T(a) ? 0 : a; s.c = !IS_NAN_T(a);",
                "s.v = x.v + y.v; s.c = x.c + y.c;"),
    "prod": ((("v", "A"),), "s.v = 1;", "s.v = a;", "s.v = x.v * y.v;"),
    "max": ((("v", "A"),), "s.v = LOWEST;", "s.v = a;", _pick(">")),
    "min": ((("v", "A"),), "s.v = HIGHEST;", "s.v = a;", _pick("<")),
    "minmax": ((("lo", "A"), ("hi", "A")), "s.lo = HIGHEST; s.hi = LOWEST;", "s.lo = a; s.hi = a;",
               {k: _pick("<", "lo")[k] + " " + _pick(">", "hi")[k] for k in ("int", "float")}),
    "argmax": ((("v", "A"), ("i", "long")), "s.v = LOWEST; s.i = LONG_MAX;", "s.v = a; s.i = r;",
               _arg_combine(">")),
    "argmin": ((("v", "A"), ("i", "long")), "s.v = HIGHEST; s.i = LONG_MAX;", "s.v = a; s.i = r;",
               _arg_combine("<")),
    "all": ((("v", "uchar"),), "s.v = 1;", "s.v = (a != 0);", "s.v = x.v && y.v;"),
    "any": ((("v", "uchar"),), "s.v = 0;", "s.v = (a != 0);", "s.v = x.v || y.v;"),
    "count": ((("v", "long"),), "s.v = 0;", "s.v = (a != 0);", "s.v = x.v + y.v;"),
    "moments": ((("mean", "A"), ("m2", "A"), ("n", "A")), "s.mean = 0; s.m2 = 0; s.n = 0;",
                "s.mean = a; s.m2 = 0; s.n = 1;", WELFORD_COMBINE),
    "lse": ((("m", "A"), ("s", "A")), "s.m = -INFINITY; s.s = 0;", "s.m = a; s.s = 1;", LSE_COMBINE,
            # where a work-item walks a row: its max first, then sum(exp(a - max)), a vectorisable loop
            ("-INFINITY", "(p > a || p != p) ? p : a", "s.m = pre; s.s = 0;", "s.s += exp(a - pre);")),
    "abs_sum": ((("v", "A"),), "s.v = 0;", "s.v = fabs(a);", "s.v = x.v + y.v;"),
    "sq_sum": ((("v", "A"),), "s.v = 0;", "s.v = a * a;", "s.v = x.v + y.v;"),
    "pow_sum": ((("v", "A"),), "s.v = 0;", "s.v = pow(fabs(a), p);", "s.v = x.v + y.v;"),
    "nz_sum": ((("v", "A"),), "s.v = 0;", "s.v = (a != 0);", "s.v = x.v + y.v;"),
    "abs_max": ((("v", "A"),), "s.v = 0;", "s.v = fabs(a);", _pick(">")),
    "abs_min": ((("v", "A"),), "s.v = INFINITY;", "s.v = fabs(a);", _pick("<")),
}

# rows whose one field is the element itself (map `s.v = a;`): their combine of two vectors x and y of A, for the
# CPU path that folds a contiguous row with vector loads
VECTOR_COMBINE = {"sum": "x + y"}


def _c_literal(value, d):
    if d.category == dt.FLOAT:
        return "INFINITY" if value > 0 else "-INFINITY"
    if d is dt.int64 and value < 0:
        return "(-9223372036854775807L - 1)"
    return f"{value}L" if d is dt.int64 else str(value)


def _bounds(d):
    if d.category == dt.FLOAT:
        return -math.inf, math.inf
    if d is dt.bool_:
        return 0, 1
    info = np.iinfo(d.np)
    return int(info.min), int(info.max)


@functools.lru_cache(maxsize=None)
def _code(row, T, A, finish, fused=None, fused_setup="", prestore=None):
    """The ReduceCode of a row for element dtype T and accumulator dtype A (cached: built once)."""
    fields, neutral, map_, combine, *pre = ROWS[row]
    if isinstance(combine, dict):
        combine = combine["float" if A.is_floating_point else "int"]
    c_a = A.compute_c
    lo, hi = _bounds(A)
    return launch.reduce.ReduceCode(row, T, A, [(n, c_a if t == "A" else t) for n, t in fields], neutral, map_, combine,
                               finish, fused, lowest=_c_literal(lo, A), highest=_c_literal(hi, A),
                               pre=pre[0] if pre else None, fused_setup=fused_setup, prestore=prestore,
                               vector_combine=VECTOR_COMBINE.get(row, ""))


# ---- shapes and arguments --------------------------------------------------------------------------
def _dims(x, dim, empty_means_all=True) -> tuple:
    """Reduced dims as sorted distinct non-negative ints; None (and () unless told) means every dim."""
    nd = x.dim()
    if dim is None:
        return tuple(range(nd))
    if isinstance(dim, (list, tuple)):
        if not dim:
            return tuple(range(nd)) if empty_means_all else ()
        wrapped = [wrap_dim(d, nd) for d in dim]
        seen = set()
        for d in wrapped:
            if d in seen:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
            seen.add(d)
        return tuple(sorted(seen)) if nd else ()
    d = wrap_dim(dim, nd)
    return (d,) if nd else ()


def _single_dim(x, dim, name):
    if isinstance(dim, (list, tuple)) or not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    return wrap_dim(dim, x.dim())


def _out_shape(shape, dims, keepdim) -> tuple:
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def _count(shape, dims) -> int:
    return math.prod(shape[d] for d in dims)


def _check_tensor(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")


def _acc(d):
    """The accumulator of sums and products: int64 for integers and bool, float32 for 16-bit floats."""
    if d.category != dt.FLOAT:
        return dt.int64
    return dt.float32 if d in (dt.float16, dt.bfloat16) else d


def _compute(d):
    return dt.float32 if d in (dt.float16, dt.bfloat16) else d


def _float_or_default(d):
    return d if d.is_floating_point else dt.get_default_dtype()


def _run(x, dims, keepdim, row, T, A, out_dtypes, finish, params=(), ordered=False):
    """Allocate the outputs and launch the reduction of x over dims; returns the output tensors."""
    if x.dtype.is_complex or T.is_complex:  # only sum and mean take complex input (through _complex_sum)
        raise NotImplementedError(f'"{row}_cpu" not implemented for \'{(x.dtype if x.dtype.is_complex else T).torch_name}\'')
    shape = _out_shape(x._shape, dims, keepdim)
    outs = [launch.base.empty(shape, d, x.device) for d in out_dtypes]
    launch.reduce.reduce(_code(row, T, A, tuple(finish)), x, dims, outs, tuple(params), ordered=ordered)
    return outs


def _check_nonempty(x, dims, name, dim_given=True):
    if x.numel() == 0 and not dim_given:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           "reduction dim with the 'dim' argument.")
    for d in dims:
        if x._shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


# ---- named tuples: torch.return_types ----------------------------------------------------------------
class _ReturnTypes:
    """torch.return_types: named tuples that print like PyTorch's structseqs."""

    def __init__(self):
        self._types = {}

    def get(self, name, fields):
        cls = self._types.get(name)
        if cls is None:
            cls = collections.namedtuple(name, fields)
            cls.__repr__ = lambda self: (f"torch.return_types.{type(self).__name__}(\n"
                                         + ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self)) + ")")
            cls.__module__ = "torch.return_types"
            self._types[name] = cls
            setattr(self, name, cls)
        return cls


return_types = _ReturnTypes()
for _name, _fields in (("max", ("values", "indices")), ("min", ("values", "indices")), ("aminmax", ("min", "max"))):
    return_types.get(_name, _fields)


# ---- backward helpers -------------------------------------------------------------------------------
def _keep(g, shape, dims, keepdim):
    """g with the reduced dims as size 1, so that it broadcasts against the input."""
    if keepdim or len(shape) == len(g._shape):
        return g
    return g.reshape(_out_shape(shape, dims, True))


def _sum_vjp(g, out, x, shape, dims, keepdim):
    return _keep(g, shape, dims, keepdim).expand(shape)


def _nansum_vjp(g, out, x, dims, keepdim):
    return _sum_vjp(g, out, x, x._shape, dims, keepdim) * ~x.isnan()


def _mean_vjp(g, out, x, shape, dims, keepdim):
    # an empty reduced dim means x has no elements: the divisor then does not matter
    return (_keep(g, shape, dims, keepdim) / _py.max(_count(shape, dims), 1)).expand(shape)


def _prod_vjp(g, out, x, dims, keepdim):
    """The product of the other elements: out / x where x has no zero (PyTorch's fast path); where a
    slice holds exactly one zero that element gets the product of the rest, where it holds more,
    every element gets 0."""
    gk, ok = _keep(g, x._shape, dims, keepdim), _keep(out, x._shape, dims, keepdim)
    zero = x == 0
    if not bool(any(zero)):  # a host read, as PyTorch does
        return gk * ok / x
    others = _product(where(zero, 1.0, x), dims, True)
    n_zero = sum(zero, dims, keepdim=True)
    at_zero = where(n_zero == 1, others, 0.0)
    return where(zero, gk * at_zero, gk * ok / where(zero, 1.0, x))


def _select_vjp(g, out, x, d, keepdim, indices):
    """max/min along a dim: the gradient goes to the selected element of each slice."""
    if x.dim() == 0:
        return g
    gk = g if keepdim else g.unsqueeze(d)
    ik = indices if keepdim else indices.unsqueeze(d)
    pos = arange(x._shape[d], device=x.device).reshape([-1 if i == d else 1 for i in range(x.dim())])
    return where(pos == ik, gk, 0.0)


def _evenly_vjp(g, out, x, dims, keepdim):
    """max()/amax/amin: the gradient is split evenly among the elements equal to the result."""
    ok, gk = _keep(out, x._shape, dims, keepdim), _keep(g, x._shape, dims, keepdim)
    mask = (x == ok) | (x.isnan() & ok.isnan())
    return gk * mask / sum(mask, dims, keepdim=True)


def _var_grad(g, x, dims, keepdim, correction):
    denom = _count(x._shape, dims) - correction
    scale = 2.0 / denom if denom > 0 else math.inf
    return _keep(g, x._shape, dims, keepdim) * scale * (x - mean(x, dims, keepdim=True))


def _var_vjp(g, out, x, dims, keepdim, correction):
    return _var_grad(g, x, dims, keepdim, correction)


def _std_vjp(g, out, x, dims, keepdim, correction):
    return _var_grad(g, x, dims, keepdim, correction) / (2 * _keep(out, x._shape, dims, keepdim))


def _var_mean_vjp(g, out, x, dims, keepdim, correction, take_sqrt):
    g_var, g_mean = g
    grad = None
    if g_var is not None:
        grad = _var_grad(g_var, x, dims, keepdim, correction)
        if take_sqrt:
            grad = grad / (2 * _keep(out[0], x._shape, dims, keepdim))
    if g_mean is not None:
        gm = _mean_vjp(g_mean, None, x, x._shape, dims, keepdim)
        grad = gm if grad is None else grad + gm
    return grad


def _norm_vjp(g, out, x, p, dims, keepdim):
    gk, ok = _keep(g, x._shape, dims, keepdim), _keep(out, x._shape, dims, keepdim)
    if p == 0:
        return x * 0
    if p == 1:
        return gk * x.sign()
    if math.isinf(p):
        return _evenly_vjp(g, out, x.abs(), dims, keepdim) * x.sign()
    if p == 2:
        return where(ok == 0, 0.0, gk * x / ok)
    return where(ok == 0, 0.0, gk * x.sign() * x.abs().pow(p - 1) / ok.pow(p - 1))


def _lse_vjp(g, out, x, dims, keepdim):
    return _keep(g, x._shape, dims, keepdim) * (x - _keep(out, x._shape, dims, keepdim)).exp()


def _softmax_vjp(g, out, x, d):
    if _differentiated(g, out):
        return out * (g - sum(g * out, d, keepdim=True))
    return _fused_backward("dot", "b * (a - s.v)", g, out, d)


def _log_softmax_vjp(g, out, x, d):
    if _differentiated(g, out):
        return g - out.exp() * sum(g, d, keepdim=True)
    return _fused_backward("sum", "a - exp(b) * s.v", g, out, d)


def _differentiated(*tensors):
    """Whether this backward is itself recorded (create_graph): then it is written in Tensor ops."""
    return is_grad_enabled() and _py.any(t.requires_grad for t in tensors)


def _fused_backward(row, expr, g, out, d):
    """One kernel: per row along d, the reduction `row` of g (a) with out (b) beside it, then expr of
    a, b and the state s written per element: softmax's y * (g - sum(g * y)) without temporaries."""
    if g._strides != out._strides:
        g = g.contiguous()  # the two inputs are read at the same offsets (out is contiguous)
    grad = launch.base.empty(out._shape, out.dtype, out.device)
    T = out.dtype
    launch.reduce.reduce(_code(row, T, _compute(T), (), expr), g, (d,) if out.dim() else (), [], fused=grad, second=out)
    return grad


def _cumsum_vjp(g, out, x, d):
    return _cumsum_rev(g, d)


def _cumsum_rev_vjp(g, out, x, d):
    return cumsum(g, d)


def _cumprod_vjp(g, out, x, d):
    """sum_{i>=k} g_i out_i / x_k where x_k != 0. At the first zero of a row, out_i / x_k is the
    cumulative product with that zero replaced by 1; after it, every out_i with i >= k is 0."""
    if x.dim() == 0 or x._shape[d] <= 1:
        return g  # out is x itself (as PyTorch's rule, which also never divides here)
    zero = x == 0
    if not bool(any(zero)):  # a host read, as PyTorch does
        return _cumsum_rev(g * out, d) / x
    first_zero = zero & (cumsum(zero, d) == 1)
    without = cumprod(where(first_zero, 1.0, x), d)
    safe_x = where(zero, 1.0, x)
    return where(zero, where(first_zero, _cumsum_rev(g * without, d), 0.0), _cumsum_rev(g * out, d) / safe_x)


def _record(name, vjp, x, out, params, save):
    if is_grad_enabled() and x.requires_grad:
        graph.record(name, vjp, [x], out, params, save)
    return out


# ---- sums and means ------------------------------------------------------------------------------
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum over dim (int, tuple, or None for all); integer and bool inputs sum to int64.

    >>> import cltensor as torch
    >>> torch.tensor([[1, 2], [3, 4]]).sum(0)
    tensor([4, 6])
    """
    _check_tensor(input, "sum")
    dims = _dims(input, dim)
    if input.dtype.is_complex or (dtype is not None and dt.as_dtype(dtype).is_complex):
        return _complex_sum(input, dims, keepdim, dtype, out, "sum")
    out_dtype, T = _sum_dtypes(input, dtype)
    (result,) = _run(input, dims, keepdim, "sum", T, _acc(out_dtype), [out_dtype], ["s.v"])
    if out is not None:
        if dim is None:
            raise TypeError("sum() received an invalid combination of arguments - got (Tensor, out=Tensor): out= "
                            "needs dim")
        return _write_out(input, result, out, "sum")
    return _record("SumBackward0" if dim is None else "SumBackward1", _sum_vjp, input, result,
                   {"shape": input._shape, "dims": dims, "keepdim": keepdim}, frozenset())


def _complex_sum(input, dims, keepdim, dtype, out, name):
    """sum/mean of complex input: the real reduction of its (re, im) view over the same dims, read back
    as complex (one reduce kernel over float pairs; gradients flow through the views)."""
    x = input.to(dtype) if dtype is not None else input
    if not x.dtype.is_complex:
        x = x.to(x.dtype.to_complex())
    if not dims:  # a 0-d input: the sum over no dims is the value itself
        result = x.clone()
    else:
        result = view_as_complex(getattr(view_as_real(x), name)(dims, keepdim))
    return result if out is None else _write_out(input, result, out, name)


def _write_out(input, result, out, name):
    """A reduction's out=: resized as PyTorch does, written, no autograd (as PyTorch refuses)."""
    if is_grad_enabled() and (out.requires_grad or input.requires_grad):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    launch.base.resize_out(out, result._shape)
    return out.copy_(result)


def _sum_dtypes(input, dtype):
    """(result dtype, dtype elements are converted to) of sums and products: dtype= converts the
    elements first; otherwise integers and bool give int64."""
    if dtype is not None:
        return dt.as_dtype(dtype), dt.as_dtype(dtype)
    return (input.dtype if input.is_floating_point() else dt.int64), input.dtype


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """sum with NaN counted as 0."""
    _check_tensor(input, "nansum")
    dims = _dims(input, dim)
    out_dtype, T = _sum_dtypes(input, dtype)
    (out,) = _run(input, dims, keepdim, "nansum", T, _acc(out_dtype), [out_dtype], ["s.v"])
    return _record("NansumBackward0", _nansum_vjp, input, out, {"dims": dims, "keepdim": keepdim}, {0})


def _mean_dtype(input, dtype, name):
    if dtype is not None:
        d = dt.as_dtype(dtype)
        if not d.is_differentiable:
            raise RuntimeError(f"{name}(): could not infer output dtype. Optional dtype must be either a floating "
                               f"point or complex dtype. Got: {d.torch_name}")
        return d
    if not input.dtype.is_differentiable:
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {input.dtype.torch_name}")
    return input.dtype


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over dim; floating point only (or dtype= a floating point dtype), like PyTorch."""
    _check_tensor(input, "mean")
    out_dtype = _mean_dtype(input, dtype, "mean")
    dims = _dims(input, dim)
    if out_dtype.is_complex:
        return _complex_sum(input, dims, keepdim, out_dtype, None, "mean")
    (out,) = _run(input, dims, keepdim, "sum", out_dtype, _acc(out_dtype), [out_dtype], ["s.v / (A)n"])
    return _record("MeanBackward0" if dim is None else "MeanBackward1", _mean_vjp, input, out,
                   {"shape": input._shape, "dims": dims, "keepdim": keepdim}, frozenset())


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """mean of the elements that are not NaN."""
    _check_tensor(input, "nanmean")
    out_dtype = _mean_dtype(input, dtype, "nanmean")
    dims = _dims(input, dim)
    if is_grad_enabled() and input.requires_grad:  # differentiable as the quotient of two reductions
        return nansum(input, dims, keepdim, dtype=out_dtype) / sum(~input.isnan(), dims, keepdim)
    (out,) = _run(input, dims, keepdim, "nanmean", out_dtype, _acc(out_dtype), [out_dtype], ["s.v / (A)s.c"])
    return out


def _product(x, dims, keepdim, dtype=None, node="ProdBackward1"):
    out_dtype, T = _sum_dtypes(x, dtype)
    (out,) = _run(x, dims, keepdim, "prod", T, _acc(out_dtype), [out_dtype], ["s.v"])
    return _record(node, _prod_vjp, x, out, {"dims": dims, "keepdim": keepdim}, {0, "out"})


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product over one dim (an int) or of every element; integer and bool inputs give int64."""
    _check_tensor(input, "prod")
    if dim is None:
        return _product(input, tuple(range(input.dim())), False, dtype, "ProdBackward0")
    d = _single_dim(input, dim, "prod")
    return _product(input, (d,) if input.dim() else (), keepdim, dtype)


# ---- max, min, arg reductions ------------------------------------------------------------------------
def _extreme(name, input, dim, keepdim, other_fn):
    _check_tensor(input, name)
    if isinstance(dim, Tensor):
        return other_fn(input, dim)
    if dim is None:
        _check_nonempty(input, (), name, dim_given=False)
        dims = tuple(range(input.dim()))
        (out,) = _run(input, dims, False, name, input.dtype, _compute(input.dtype), [input.dtype], ["s.v"])
        return _record(name.capitalize() + "Backward1", _evenly_vjp, input, out, {"dims": dims, "keepdim": False},
                       {0, "out"})
    d = _single_dim(input, dim, name)
    dims = (d,) if input.dim() else ()
    _check_nonempty(input, dims, name)
    values, indices = _run(input, dims, keepdim, "arg" + name, input.dtype, _compute(input.dtype),
                           [input.dtype, dt.int64], ["s.v", "s.i"], ordered=True)
    _record(name.capitalize() + "Backward0", _select_vjp, input, values,
            {"d": d, "keepdim": keepdim, "indices": indices}, {0})
    return return_types.get(name, ("values", "indices"))(values, indices)


def max(input, dim=None, keepdim=False, *, other=None):
    """max(x): the largest element (NaN propagates); max(x, dim, keepdim=False): a named tuple
    (values, indices), the first index on ties; max(x, other): elementwise maximum."""
    if other is not None:
        return maximum(input, other)
    return _extreme("max", input, dim, keepdim, maximum)


def min(input, dim=None, keepdim=False, *, other=None):
    """min(x), min(x, dim, keepdim=False) -> (values, indices), min(x, other): see max."""
    if other is not None:
        return minimum(input, other)
    return _extreme("min", input, dim, keepdim, minimum)


def _amax_like(name, row, input, dim, keepdim):
    _check_tensor(input, name)
    dims = _dims(input, dim)
    _check_nonempty(input, dims, name, dim_given=not (dim is None or dim == ()) or input.dim() == 0)
    (out,) = _run(input, dims, keepdim, row, input.dtype, _compute(input.dtype), [input.dtype], ["s.v"])
    return _record(name.capitalize() + "Backward0", _evenly_vjp, input, out, {"dims": dims, "keepdim": keepdim},
                   {0, "out"})


def amax(input, dim=(), keepdim=False):
    """The largest element over dim (int or tuple; () for every dim); ties share the gradient."""
    return _amax_like("amax", "max", input, dim, keepdim)


def amin(input, dim=(), keepdim=False):
    return _amax_like("amin", "min", input, dim, keepdim)


def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) in one pass, as a named tuple."""
    _check_tensor(input, "aminmax")
    dims = _dims(input, dim)
    _check_nonempty(input, dims, "aminmax", dim_given=dim is not None)
    lo, hi = _run(input, dims, keepdim, "minmax", input.dtype, _compute(input.dtype), [input.dtype] * 2,
                  ["s.lo", "s.hi"])
    return return_types.get("aminmax", ("min", "max"))(lo, hi)


def _arg(name, input, dim, keepdim):
    _check_tensor(input, name)
    if input.dtype is dt.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    if dim is None:
        if input.numel() == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        dims = tuple(range(input.dim()))
    else:
        d = _single_dim(input, dim, name)
        dims = (d,) if input.dim() else ()
        _check_nonempty(input, dims, name)
    (out,) = _run(input, dims, keepdim, name, input.dtype, _compute(input.dtype), [dt.int64], ["s.i"],
                  ordered=True)
    return out


def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (flattened when dim is None); the first on ties; NaN counts as largest."""
    return _arg("argmax", input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return _arg("argmin", input, dim, keepdim)


# ---- variance and standard deviation -------------------------------------------------------------------
def _correction(name, dim, unbiased, correction):
    """PyTorch's overloads: var(x, unbiased), var(x, dim, unbiased, keepdim), var(x, dim, correction=)."""
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError(f"{name}() received an invalid combination of arguments")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got both unbiased and correction")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


def _moments(name, input, dim, unbiased, keepdim, correction):
    _check_tensor(input, name)
    if not input.is_floating_point():
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dim, correction = _correction(name, dim, unbiased, correction)
    dims = _dims(input, dim)
    if _count(input._shape, dims) - correction <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                      "reduction factor (input numel divided by output numel).", UserWarning, stacklevel=3)
    return dims, correction


_VAR = "s.m2 / fmax((A)0, (A)n - corr)"


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over dim with Bessel's correction (correction=1, or unbiased=True) by default;
    one pass (Welford's update, merged pairwise by Chan's formula)."""
    dims, correction = _moments("var", input, dim, unbiased, keepdim, correction)
    A = _compute(input.dtype)
    (out,) = _run(input, dims, keepdim, "moments", input.dtype, A, [input.dtype], [_VAR],
                  [("corr", A, correction)])
    return _record("VarBackward0", _var_vjp, input, out, {"dims": dims, "keepdim": keepdim,
                                                          "correction": correction}, {0})


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation over dim (see var)."""
    dims, correction = _moments("std", input, dim, unbiased, keepdim, correction)
    A = _compute(input.dtype)
    (out,) = _run(input, dims, keepdim, "moments", input.dtype, A, [input.dtype], [f"sqrt({_VAR})"],
                  [("corr", A, correction)])
    return _record("StdBackward0", _std_vjp, input, out, {"dims": dims, "keepdim": keepdim,
                                                          "correction": correction}, {0, "out"})


def _moments_and_mean(name, input, dim, unbiased, keepdim, correction, take_sqrt):
    dims, correction = _moments(name, input, dim, unbiased, keepdim, correction)
    A = _compute(input.dtype)
    spread = f"sqrt({_VAR})" if take_sqrt else _VAR
    outs = tuple(_run(input, dims, keepdim, "moments", input.dtype, A, [input.dtype] * 2, [spread, "(s.n > 0) ? s.mean : NAN"],
                      [("corr", A, correction)]))
    if is_grad_enabled() and input.requires_grad:
        graph.record(("StdMean" if take_sqrt else "VarMean") + "Backward0", _var_mean_vjp, [input], outs,
                     {"dims": dims, "keepdim": keepdim, "correction": correction, "take_sqrt": take_sqrt},
                     {0, "out"}, num_outputs=2)
    return outs


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) from one pass."""
    return _moments_and_mean("var_mean", input, dim, unbiased, keepdim, correction, False)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _moments_and_mean("std_mean", input, dim, unbiased, keepdim, correction, True)


# ---- norms and logsumexp ----------------------------------------------------------------------------------
def _norm_row(p):
    """(row, finish) of the vector p-norm; the general row reads the parameter p."""
    special = {2: ("sq_sum", "sqrt(s.v)"), 1: ("abs_sum", "s.v"), 0: ("nz_sum", "s.v"),
               math.inf: ("abs_max", "s.v"), -math.inf: ("abs_min", "s.v")}
    return special.get(p, ("pow_sum", "pow(s.v, (A)1 / p)"))


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over dim (every dim when None): p = 'fro' (2), inf, -inf, 0, 1, 2 or any number."""
    _check_tensor(input, "norm")
    if isinstance(p, str):
        if p != "fro":
            raise RuntimeError(f"norm(): p={p!r} is not supported (only vector norms and 'fro')")
        p = 2
    p = float(p)
    d = dt.as_dtype(dtype) if dtype is not None else input.dtype
    if not input.is_floating_point() or not d.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{(input.dtype if not input.is_floating_point() else d).torch_name}")
    dims = _dims(input, dim)
    if math.isinf(p) and input.numel() == 0:
        which = "inf" if p > 0 else "-inf"
        if dim is None:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {which} norm on an empty tensor because the "
                               "operation does not have an identity")
        for k in dims:
            if input._shape[k] == 0:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {which} norm on the dimension {k}"
                                   "because this dimension is empty and the operation does not have an identity")
    row, finish = _norm_row(p)
    A = _compute(d)
    (out,) = _run(input, dims, keepdim, row, d, A, [d], [finish], [("p", A, p)] if row == "pow_sum" else ())
    return _record("NormBackward1", _norm_vjp, input, out, {"p": p, "dims": dims, "keepdim": keepdim}, {0, "out"})


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over dim, stable for any magnitude (one pass: running max and rescaled sum)."""
    _check_tensor(input, "logsumexp")
    dims = _dims(input, dim)
    T = _float_or_default(input.dtype)
    (out,) = _run(input, dims, keepdim, "lse", T, _compute(T), [T], ["isinf(s.m) ? s.m : s.m + log(s.s)"])
    return _record("LogsumexpBackward0", _lse_vjp, input, out, {"dims": dims, "keepdim": keepdim}, {0, "out"})


# ---- logical reductions ----------------------------------------------------------------------------------
def _logical(name, input, dim, keepdim):
    _check_tensor(input, name)
    dims = _dims(input, dim, empty_means_all=False)
    out_dtype = dt.uint8 if input.dtype is dt.uint8 else dt.bool_
    (out,) = _run(input, dims, keepdim, name, input.dtype, dt.uint8, [out_dtype], ["s.v"])
    return out


def all(input, dim=None, keepdim=False):
    """True where every element is nonzero (uint8 inputs give uint8, as in PyTorch)."""
    return _logical("all", input, dim, keepdim)


def any(input, dim=None, keepdim=False):
    return _logical("any", input, dim, keepdim)


def count_nonzero(input, dim=None):
    _check_tensor(input, "count_nonzero")
    dims = _dims(input, dim)
    (out,) = _run(input, dims, False, "count", input.dtype, dt.int64, [dt.int64], ["s.v"])
    return out


# ---- softmax ---------------------------------------------------------------------------------------------------
def _softmax(name, kernel_name, fused, vjp, input, dim, dtype):
    setup, expr, *prestore = fused
    _check_tensor(input, name)
    if dim is None:
        raise TypeError(f"{name}() missing 1 required positional argument: 'dim'")
    T = dt.as_dtype(dtype) if dtype is not None else input.dtype
    if not T.is_floating_point:
        raise NotImplementedError(f'"{kernel_name}" not implemented for \'{T.torch_name}\'')
    d = wrap_dim(dim, input.dim())
    out = launch.base.empty(input._shape, T, input.device)
    code = _code("lse", T, _compute(T), (), expr, setup, prestore[0] if prestore else None)
    launch.reduce.reduce(code, input, (d,) if input.dim() else (), [], fused=out)
    return _record("SoftmaxBackward0" if name == "softmax" else "LogSoftmaxBackward0", vjp, input, out,
                   {"d": d}, {"out"})


def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along dim, computed as exp(x - max) / sum(exp(x - max)) in one kernel."""
    # where a CPU work-item walks a row, exp(a - max) is stored while summed, then scaled: one exp each
    return _softmax("softmax", "softmax_lastdim_kernel_impl",
                    ("s.s = 1 / s.s;", "exp(a - s.m) * s.s", ("softmax_exp(a - pre)", "s.s += e;", "f * s.s")),
                    _softmax_vjp, input, dim, dtype)


def log_softmax(input, dim=None, dtype=None):
    """x - logsumexp(x) along dim, in one kernel."""
    return _softmax("log_softmax", "log_softmax_lastdim_kernel_impl", ("s.s = log(s.s);", "a - s.m - s.s"),
                    _log_softmax_vjp, input, dim, dtype)


# ---- scans -------------------------------------------------------------------------------------------------------
LOGADDEXP = """
inline A logaddexp_acc(const A x, const A y) {
    if (x != x || y != y) return x + y;
    const A hi = x > y ? x : y, lo = x > y ? y : x;
    if (lo == -INFINITY || hi == INFINITY) return hi;
    return hi + log1p(exp(lo - hi));
}
"""
SCANS = {"cumsum": ("x + y", "0", ""), "cumprod": ("x * y", "1", ""),
         "logcumsumexp": ("logaddexp_acc(x, y)", "-INFINITY", LOGADDEXP)}


def _scan(name, input, dim, out_dtype, T, reverse=False):
    d = wrap_dim(dim, input.dim())
    out = launch.base.empty(input._shape, out_dtype, input.device)
    combine, neutral, helpers = SCANS[name]
    return launch.scan.scan(combine, neutral, input, d, out, T, _acc(out_dtype), reverse, helpers)


def _scan_dtype(input, dtype):
    if dtype is not None:
        return dt.as_dtype(dtype)
    return input.dtype if input.is_floating_point() else dt.int64


def cumsum(input, dim, *, dtype=None):
    """Inclusive running sum along dim; integer and bool inputs give int64."""
    _check_tensor(input, "cumsum")
    d = _scan_dtype(input, dtype)
    out = _scan("cumsum", input, dim, d, d if dtype is not None else input.dtype)
    return _record("CumsumBackward0", _cumsum_vjp, input, out, {"d": wrap_dim(dim, input.dim())}, frozenset())


def _cumsum_rev(input, dim):
    """Running sum from the end of dim (the gradient of cumsum)."""
    out = _scan("cumsum", input, dim, input.dtype, input.dtype, reverse=True)
    return _record("CumsumBackward0", _cumsum_rev_vjp, input, out, {"d": wrap_dim(dim, input.dim())}, frozenset())


def cumprod(input, dim, *, dtype=None):
    """Inclusive running product along dim; integer and bool inputs give int64."""
    _check_tensor(input, "cumprod")
    d = _scan_dtype(input, dtype)
    out = _scan("cumprod", input, dim, d, d if dtype is not None else input.dtype)
    return _record("CumprodBackward0", _cumprod_vjp, input, out, {"d": wrap_dim(dim, input.dim())}, {0, "out"})


def logcumsumexp(input, dim):
    _check_tensor(input, "logcumsumexp")
    if not input.is_floating_point():
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for \'{input.dtype.torch_name}\'')
    out = _scan("logcumsumexp", input, dim, input.dtype, input.dtype)
    return _record("LogcumsumexpBackward0", _logcumsumexp_vjp, input, out, {"d": wrap_dim(dim, input.dim())},
                   {0, "out"})


def _logcumsumexp_vjp(g, out, x, d):
    """grad x_i = sum over j >= i of g_j exp(x_i - out_j), summed in the log domain (a reversed
    logcumsumexp) for the positive and negative parts of g apart: exp(-out_j) alone overflows
    once out_j < -88 in float32, and exp(x_i) once x_i > 88."""
    def part(weights):  # weights >= 0; log(0) = -inf adds nothing
        logs = weights.log() - out
        return (logcumsumexp(logs.flip(d), d).flip(d) + x).exp()
    return part(g.clamp(min=0)) - part((-g).clamp(min=0))


# ---- comparisons of whole tensors -----------------------------------------------------------------------------
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """isclose everywhere (broadcasting), as a Python bool."""
    return bool(all(isclose(input, other, rtol=rtol, atol=atol, equal_nan=equal_nan)).item())


def equal(input, other) -> bool:
    """True if both tensors have the same shape and the same values."""
    _check_tensor(input, "equal")
    _check_tensor(other, "equal")
    launch.base.common_device([input, other], "equal")
    if input._shape != other._shape:
        return False
    return bool(all(input == other).item())


# ---- methods --------------------------------------------------------------------------------------------------
for _name in __all__:
    if _name not in ("return_types",):
        register(_name, globals()[_name])


def _cumsum_(self, dim, *, dtype=None):
    return self.copy_(cumsum(self, dim, dtype=dtype))


def _cumprod_(self, dim, *, dtype=None):
    return self.copy_(cumprod(self, dim, dtype=dtype))


register("cumsum_", _cumsum_)
register("cumprod_", _cumprod_)
