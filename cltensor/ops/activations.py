"""Composite activations as single rows of the op table: gelu, silu, mish, the elu family, softplus,
hardswish, hardsigmoid, logsigmoid, softsign, tanhshrink.

Each is two rows: the forward ``f(x)`` and its backward ``g * f'(x)`` (inputs g and x), so a forward
or a backward is one kernel instead of the 3-8 launches of its composition. The backward row's own
rules, for gradients of gradients, are written in Tensor ops: ``d/dg = f'(x)`` (the backward row
again) and ``d/dx = g * f''(x)``. Expressions follow PyTorch's CPU kernels (the same branches at
the same points), computed in the compute type (float for float16/bfloat16).
"""
from __future__ import annotations

import math

import numpy as np

from . import elementwise as _ew
from .elementwise import apply, defop

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_KAPPA = 0.044715


def _kernel_dtypes(kernel):
    """Floating inputs only, with PyTorch's NotImplementedError naming its kernel otherwise."""
    def rule(r):
        if not r.is_floating_point:
            raise NotImplementedError(f'"{kernel}" not implemented for \'{r.torch_name}\'')
        return r, r
    return rule


def activation(name, forward, derivative, second, *, kernel, ref, params=None, helpers="", grad_fn=None, dtypes=None):
    """Declare f = `forward` (C, input `{x}`) with backward g * `derivative` (C, input `{x}`),
    second derivative `second(x, **params)` in Tensor ops and numpy reference `ref` (at the default
    params). Returns the forward row."""
    params = params or {}
    backward = defop(f"_{name.lstrip('_')}_backward", 2, "a * (" + derivative.replace("{x}", "b") + ")",
                     dtypes or _kernel_dtypes(kernel), params=params, helpers=helpers, method=False,
                     inplace=False, grad_fn=(grad_fn or _grad_fn_name(name)).replace("Backward0", "BackwardBackward0"),
                     vjp=(lambda gg, out, g, x, **p: apply(backward, [gg, x], p),
                          lambda gg, out, g, x, **p: gg * g * second(x, **p)))
    return defop(name, 1, forward.replace("{x}", "a"), dtypes or _kernel_dtypes(kernel), params=params,
                 helpers=helpers, method=False, inplace=False, grad_fn=grad_fn or _grad_fn_name(name),
                 vjp=lambda g, out, a, **p: apply(backward, [g, a], p), ref=ref, int_ok=dtypes is not None)


def _grad_fn_name(name):
    return "".join(part.capitalize() for part in name.lstrip("_").split("_")) + "Backward0"


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _elu_ref(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def _sigmoid(x):
    return x.sigmoid()


def _normal_pdf(x):
    return (x * x * -0.5).exp() * _INV_SQRT_2PI


def _gelu_tanh_second(x):
    du = (x * x * (3 * _KAPPA) + 1) * _SQRT_2_OVER_PI
    t = ((x + x * x * x * _KAPPA) * _SQRT_2_OVER_PI).tanh()
    return (1 - t * t) * (du - x * t * du * du + x * x * (3 * _KAPPA * _SQRT_2_OVER_PI))


def _mish_second(x):
    s, t = _sigmoid(x), x.exp().log1p().tanh()
    return (1 - t * t) * s * (2 + x * (1 - s) - 2 * x * t * s)


def _elu_second(x, alpha, scale, input_scale):
    return (x * input_scale).exp().where(x <= 0, 0.0) * (alpha * scale * input_scale * input_scale)


def _softplus_second(x, beta, threshold):
    s = _sigmoid(x * beta)
    return (s * (1 - s) * beta).where(x * beta <= threshold, 0.0)


GELU_TANH = """
inline {T} gelu_tanh_grad_{T}({T} x) {
    {T} inner = ({T})0.7978845608028654 * (x + ({T})0.044715 * x * x * x);
    {T} t = tanh(inner);
    return ({T})0.5 * ((T)1 + t) + ({T})0.5 * x * ((T)1 - t * t) * ({T})0.7978845608028654
        * ((T)1 + ({T})0.134145 * x * x);
}
""".replace("(T)", "({T})")
SILU = """
inline {T} silu_grad_{T}({T} x) {
    {T} s = ({T})1 / (({T})1 + exp(-x));
    return s * (({T})1 + x * (({T})1 - s));
}
"""
MISH = """
inline {T} mish_grad_{T}({T} x) {
    {T} s = ({T})1 / (({T})1 + exp(-x));
    {T} t = tanh(log1p(exp(x)));
    return t + x * s * (({T})1 - t * t);
}
"""
LOGSIGMOID = """
inline {T} logsigmoid_grad_{T}({T} x) {
    {T} z = exp(-fabs(x));
    return (x < ({T})0) ? ({T})1 - z / (({T})1 + z) : z / (({T})1 + z);
}
"""


activation("_gelu", "{x} * (T)0.5 * ((T)1 + erf({x} * (T)0.7071067811865476))",
           "(T)0.5 * ((T)1 + erf({x} * (T)0.7071067811865476)) + {x} * (T)0.3989422804014327 * exp((T)-0.5 * {x} * {x})",
           lambda x: _normal_pdf(x) * (2 - x * x), kernel="GeluKernelImpl",
           ref=lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))))
# NOTE: 1 + tanh(u) as 2 / (1 + exp(-2u)): the same value without the cancellation, and NaN at x = -inf as
# PyTorch's (a vectorised tanh may stop short of -1 there, which turned -inf * 0 into -inf)
activation("_gelu_tanh", "{x} / ((T)1 + exp((T)-1.5957691216057308 * ({x} + (T)0.044715 * {x} * {x} * {x})))",
           "gelu_tanh_grad_{T}({x})", _gelu_tanh_second, kernel="GeluKernelImpl", helpers=GELU_TANH,
           grad_fn="GeluBackward0", ref=lambda x: 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + _KAPPA * x ** 3))))
activation("_silu", "{x} / ((T)1 + exp(-{x}))", "silu_grad_{T}({x})",
           lambda x: (lambda s: s * (1 - s) * (2 + x * (1 - 2 * s)))(_sigmoid(x)), kernel="silu_cpu", helpers=SILU,
           ref=lambda x: x / (1 + np.exp(-x)))
activation("_mish", "{x} * tanh(log1p(exp({x})))", "mish_grad_{T}({x})", _mish_second, kernel="mish_cpu",
           helpers=MISH, ref=lambda x: x * np.tanh(np.log1p(np.exp(x))))
ELU = ("({x} <= (T)0) ? expm1({x} * input_scale) * alpha * scale : {x} * scale",
       "(({x} <= (T)0) ? input_scale * alpha * scale * exp({x} * input_scale) : scale)")
ELU_PARAMS = {"alpha": (1.0, "T"), "scale": (1.0, "T"), "input_scale": (1.0, "T")}
activation("_elu", *ELU, _elu_second, kernel="elu_cpu", params=ELU_PARAMS, grad_fn="EluBackward0",  # elu, selu
           ref=_elu_ref)
activation("_celu", *ELU, _elu_second, kernel="elu_cpu", params=ELU_PARAMS, ref=_elu_ref)
activation("_softplus", "({x} * beta > threshold) ? {x} : log1p(exp({x} * beta)) / beta",
           "(({x} * beta > threshold) ? (T)1 : (T)1 - (T)1 / (exp({x} * beta) + (T)1))", _softplus_second,
           kernel="softplus_cpu", params={"beta": (1.0, "T"), "threshold": (20.0, "T")}, grad_fn="SoftplusBackward0",
           ref=lambda x: np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20)))))
activation("_hardswish", "{x} * min(max({x} + (T)3, (T)0), (T)6) / (T)6",
           "(({x} <= (T)-3) ? (T)0 : ({x} < (T)3) ? {x} / (T)3 + (T)0.5 : (T)1)",
           lambda x: ((x > -3) & (x < 3)).to(x.dtype) / 3, kernel="hardswish_cpu",
           ref=lambda x: x * np.clip(x + 3, 0, 6) / 6)
activation("_hardsigmoid", "({x} <= (T)-3) ? (T)0 : ({x} >= (T)3) ? (T)1 : {x} / (T)6 + (T)0.5",  # NaN stays NaN
           "(({x} > (T)-3 && {x} < (T)3) ? (T)1 / (T)6 : (T)0)",
           lambda x: x.new_zeros(x.shape), kernel="hardsigmoid_cpu", ref=lambda x: np.clip(x + 3, 0, 6) / 6)
activation("_logsigmoid", "min({x}, (T)0) - log1p(exp(-fabs({x})))", "logsigmoid_grad_{T}({x})",
           lambda x: -_sigmoid(x) * _sigmoid(-x), kernel="log_sigmoid_cpu", helpers=LOGSIGMOID,
           grad_fn="LogSigmoidBackward0", ref=lambda x: np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))))
# composites in PyTorch (x / (1 + |x|), x - tanh x): integers promote to float, autograd names the last op
activation("_softsign", "{x} / ((T)1 + fabs({x}))", "(T)1 / (((T)1 + fabs({x})) * ((T)1 + fabs({x})))",
           lambda x: -2 * x.sign() / (1 + x.abs()) ** 3, kernel="", dtypes=_ew.FLOAT, grad_fn="DivBackward0",
           ref=lambda x: x / (1 + np.abs(x)))
activation("_tanhshrink", "{x} - tanh({x})", "tanh({x}) * tanh({x})", lambda x: (lambda t: 2 * t * (1 - t * t))(x.tanh()),
           kernel="", dtypes=_ew.FLOAT, grad_fn="SubBackward0", ref=lambda x: x - np.tanh(x))
