"""Rows for the special functions (``torch.special``) and the elementwise maths beyond the base
table: lgamma, digamma, polygamma, erfinv, the Bessel family, the normal distribution's functions,
zeta, the orthogonal polynomials... Each is a row declared once with ``defop`` as in
cltensor/ops/elementwise.py (same launcher, same generated function / method / in-place / ``out=``
forms and autograd nodes), kept in this module's own table ``OPS`` so the rows and their C helpers
live together.

Accuracy: every helper computes in the compute type T (float for float16/bfloat16/float32 data,
double only for float64 data), with algorithms accurate in that precision (Cephes-style rational
and Chebyshev approximations, as PyTorch's own kernels use), so devices without fp64 get the same
float32 results. Constants are written ``({T})c`` so a float kernel never computes in double.
"""
from __future__ import annotations

import math

from . import elementwise as ew
from .elementwise import FLOAT, apply
from ..tensor import Tensor, register

OPS: dict = {}
U, B, TERN = 1, 2, 3
SQRT_PI_2 = math.sqrt(math.pi) / 2


def defop(*args, **kwargs):
    """A row of this module's table: ew.defop builds it (function, method, in-place form, autograd
    node); the row and its function move here, out of the base table."""
    op = ew.defop(*args, **kwargs)
    OPS[op.name] = ew.OPS.pop(op.name)
    globals()[op.name] = vars(ew).pop(op.name)
    return op


# ---- C helpers: named snippets with their dependencies; {T} is the compute type ------------------------
_LIB: dict = {}


def _c(name, code, deps=()):
    _LIB[name] = (tuple(deps), code)


def helpers(*names) -> str:
    """The C source of the named helpers and everything they call, each once, callees first."""
    done, parts = set(), []

    def visit(n):
        if n in done:
            return
        done.add(n)
        deps, code = _LIB[n]
        for d in deps:
            visit(d)
        parts.append(code)
    for n in names:
        visit(n)
    return "\n".join(parts)


_c("polevl", """
inline {T} polevl_{T}({T} x, __constant const {T} *c, int n) {
    {T} r = c[0];
    for (int i = 1; i <= n; ++i) r = r * x + c[i];
    return r;
}
""")

# digamma: recurrence up to x >= 10, then the asymptotic series (Cephes psi); reflection for x < 0
_c("digamma", """
__constant {T} digamma_asym_{T}[7] = {
    8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
    -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
    8.33333333333333333333E-2};
inline {T} digamma_pos_{T}({T} x) {
    {T} r = ({T})0;
    while (x < ({T})10) { r -= ({T})1 / x; x += ({T})1; }
    if (x == ({T})10) return r + ({T})2.25175258906672110764;
    {T} y = ({T})0;
    if (x < ({T})1e17) {
        {T} z = ({T})1 / (x * x);
        y = z * polevl_{T}(z, digamma_asym_{T}, 6);
    }
    return r + log(x) - ({T})0.5 / x - y;
}
inline {T} digamma_{T}({T} x) {
    if (x == ({T})0) return copysign(({T})INFINITY, -x);
    if (x < ({T})0) {
        if (x == trunc(x)) return ({T})NAN;
        /* pi / tan(pi x), with the argument reduced exactly (tanpi) */
        return digamma_pos_{T}(({T})1 - x) - ({T})3.14159265358979323846 / tanpi(x);
    }
    return digamma_pos_{T}(x);
}
""", ["polevl"])

_c("trigamma", """
inline {T} trigamma_{T}({T} x) {
    {T} sign = ({T})1, r = ({T})0;
    if (x < ({T})0.5) {
        sign = ({T})-1;
        {T} s = sinpi(x);
        r -= ({T})9.86960440108935861883 / (s * s);
        x = ({T})1 - x;
    }
    for (int i = 0; i < 6; ++i) { r += ({T})1 / (x * x); x += ({T})1; }
    {T} ixx = ({T})1 / (x * x);
    r += (({T})1 + ({T})1 / (({T})2 * x)
          + ixx * (({T})(1.0 / 6) - ixx * (({T})(1.0 / 30) - ixx * ({T})(1.0 / 42)))) / x;
    return sign * r;
}
""")

# Hurwitz zeta(x, q) = sum_k (k + q)^-x: direct sum to k + q > 9, then Euler-Maclaurin (Cephes zeta)
_c("zeta", """
__constant {T} zeta_euler_{T}[12] = {
    12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
    -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
    1.8152105401943546773e17, -7.1661652561756670113e18};
inline {T} zeta_{T}({T} x, {T} q) {
    const {T} eps = sizeof({T}) == 8 ? ({T})1.11022302462515654042E-16 : ({T})5.9604644775390625E-8;
    if (x == ({T})1) return ({T})INFINITY;
    if (x < ({T})1) return ({T})NAN;
    if (q <= ({T})0) {
        if (q == floor(q)) return ({T})INFINITY;
        if (x != floor(x)) return ({T})NAN;
    }
    {T} s = pow(q, -x), a = q, b = ({T})0;
    int i = 0;
    while (i < 9 || a <= ({T})9) {
        i += 1;
        a += ({T})1;
        b = pow(a, -x);
        s += b;
        if (-eps * s < b && b < eps * s) return s;
    }
    {T} w = a, k = ({T})0, t;
    s += b * w / (x - ({T})1);
    s -= ({T})0.5 * b;
    a = ({T})1;
    for (i = 0; i < 12; ++i) {
        a *= x + k;
        b /= w;
        t = a * b / zeta_euler_{T}[i];
        s += t;
        if (fabs(t / s) < eps) return s;
        k += ({T})1;
        a *= x + k;
        b /= w;
        k += ({T})1;
    }
    return s;
}
""")

_c("polygamma", """
inline {T} polygamma_{T}(int n, {T} x) {
    if (n == 0) return digamma_{T}(x);
    if (n == 1) return trigamma_{T}(x);
    {T} fact = exp(lgamma(({T})n + ({T})1));
    return ((n & 1) ? fact : -fact) * zeta_{T}(({T})(n + 1), x);
}
""", ["digamma", "trigamma", "zeta"])

# erfinv: a rational first guess (relative error ~1e-6), then two Newton steps; in the tails on
# erfc(|x|) = 1 - |y| (exact in T), where erf(x) - y would cancel
_c("erfinv", """
inline {T} erfinv_{T}({T} y) {
    {T} ay = fabs(y), x, z;
    const {T} two_over_sqrt_pi = ({T})1.12837916709551257390;
    if (ay > ({T})1) return ({T})NAN;
    if (ay == ({T})1) return copysign(({T})INFINITY, y);
    if (ay <= ({T})0.7) {
        z = y * y;
        x = y * (((({T})-0.140543331 * z + ({T})0.914624893) * z + ({T})-1.645349621) * z + ({T})0.886226899)
            / ((((({T})0.012229801 * z + ({T})-0.329097515) * z + ({T})1.442710462) * z + ({T})-2.118377725) * z
               + ({T})1);
        x -= (erf(x) - y) / (two_over_sqrt_pi * exp(-x * x));
        x -= (erf(x) - y) / (two_over_sqrt_pi * exp(-x * x));
        return x;
    }
    const {T} w = ({T})1 - ay;
    z = sqrt(-log(w / ({T})2));
    x = (((({T})1.641345311 * z + ({T})3.429567803) * z + ({T})-1.624906493) * z + ({T})-1.970840454)
        / ((({T})1.637067800 * z + ({T})3.543889200) * z + ({T})1);
    x += (erfc(x) - w) / (two_over_sqrt_pi * exp(-x * x));
    x += (erfc(x) - w) / (two_over_sqrt_pi * exp(-x * x));
    return copysign(x, y);
}
""")


# ---- argument checks -----------------------------------------------------------------------------------
def _check_n(fname):
    def check(inputs, compute, params):
        if params.get("order", 0) < 0:
            raise RuntimeError(f"{fname}(n, x) does not support negative n.")
    return check


# ---- the rows ------------------------------------------------------------------------------------------
# NOTE: isinf first: libclc's lgamma (Mesa rusticl) gives lgamma(-inf) = -inf, where it is +inf
defop("lgamma", U, "isinf(a) ? fabs(a) : lgamma(a)", FLOAT, vjp=lambda g, out, a: g * digamma(a), ref="gammaln",
      domain=(0.1, 6.0))
defop("digamma", U, "digamma_{T}(a)", FLOAT, vjp=lambda g, out, a: g * _polygamma(a, order=1), ref="psi",
      helpers=helpers("digamma"), domain=(0.1, 6.0))
defop("_polygamma", U, "polygamma_{T}(order, a)", FLOAT,
      vjp=lambda g, out, a, order: g * _polygamma(a, order=order + 1), ref="polygamma",
      params={"order": (0, "int")}, helpers=helpers("polygamma"), check=_check_n("polygamma"),
      method=False, grad_fn="PolygammaBackward0", domain=(0.1, 6.0))
defop("erfinv", U, "erfinv_{T}(a)", FLOAT, vjp=lambda g, out, a: g * SQRT_PI_2 * (out * out).exp(), ref="erfinv",
      helpers=helpers("erfinv"), domain=(-0.95, 0.95))


def polygamma(n, input, *, out=None):
    """polygamma(n, input): the n-th derivative of digamma (n >= 0)."""
    return apply(OPS["_polygamma"], (input,), {"order": _int_n(n, "polygamma")}, out=out)


def _int_n(n, fname):
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{fname}(): argument 'n' must be int, not {type(n).__name__}")
    return n


def _polygamma_method(self, n):
    return polygamma(n, self)


def _polygamma_(self, n):
    return apply(OPS["_polygamma"], (self,), {"order": _int_n(n, "polygamma_")}, inplace=True)


register("polygamma", _polygamma_method)
register("polygamma_", _polygamma_)

# the names cltensor exports at the top level (torch.*)
TORCH_NAMES = ["lgamma", "digamma", "polygamma", "erfinv"]
