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

import collections
import math

from . import elementwise as ew
from .elementwise import FLOAT, apply
from .. import dtypes as _dt
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


# NOTE: libclc's lgamma (Mesa rusticl) gives -inf at -inf and +inf for tiny negative x (lgamma(-1e-20) is 46.05):
# both ends are taken first, lgamma(x) = -log|x| - euler_gamma x + O(x^2) near 0
_c("lgamma", """
inline {T} lgamma_{T}({T} x) {
    if (isinf(x)) return fabs(x);
    if (fabs(x) < ({T})1e-8) return -log(fabs(x)) - ({T})0.577215664901532860607 * x;
    return lgamma(x);
}
""")
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
    {T} fact = exp(lgamma_{T}(({T})n + ({T})1));
    return ((n & 1) ? fact : -fact) * zeta_{T}(({T})(n + 1), x);
}
""", ["digamma", "trigamma", "zeta", "lgamma"])

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


def _table(name, values):
    """A __constant coefficient table (converted to T when the program is built)."""
    _c(name, f"__constant {{T}} {name}_{{T}}[{len(values)}] = {{{', '.join(repr(float(v)) for v in values)}}};")


_c("horner", """
/* c[0] x^(n-1) + ... + c[n-1] */
inline {T} horner_{T}({T} x, __constant const {T} *c, int n) {
    {T} r = ({T})0;
    for (int i = 0; i < n; ++i) r = r * x + c[i];
    return r;
}
/* Clenshaw's sum of Chebyshev series, coefficients of the highest order first (Cephes chbevl) */
inline {T} chbevl_{T}({T} x, __constant const {T} *c, int n) {
    {T} b0 = c[0], b1 = ({T})0, b2 = ({T})0;
    for (int i = 1; i < n; ++i) { b2 = b1; b1 = b0; b0 = x * b1 - b2 + c[i]; }
    return ({T})0.5 * (b0 - b2);
}
""")

# ---- modified Bessel functions (Cephes i0, i0e, i1, i1e, k0, k0e, k1, k1e: Chebyshev series) ----------
_table("i0_a", [
    -4.41534164647933937950E-18, 3.33079451882223809783E-17, -2.43127984654795469359E-16,
    1.71539128555513303061E-15, -1.16853328779934516808E-14, 7.67618549860493561688E-14,
    -4.85644678311192946090E-13, 2.95505266312963983461E-12, -1.72682629144155570723E-11,
    9.67580903537323691224E-11, -5.18979560163526290666E-10, 2.65982372468238665035E-9,
    -1.30002500998624804212E-8, 6.04699502254191894932E-8, -2.67079385394061173391E-7,
    1.11738753912010371815E-6, -4.41673835845875056359E-6, 1.64484480707288970893E-5,
    -5.75419501008210370398E-5, 1.88502885095841655729E-4, -5.76375574538582365885E-4,
    1.63947561694133579842E-3, -4.32430999505057594430E-3, 1.05464603945949983183E-2,
    -2.37374148058994688156E-2, 4.93052842396707084878E-2, -9.49010970480476444210E-2,
    1.71620901522208775349E-1, -3.04682672343198398683E-1, 6.76795274409476084995E-1])
_table("i0_b", [
    -7.23318048787475395456E-18, -4.83050448594418207126E-18, 4.46562142029675999901E-17,
    3.46122286769746109310E-17, -2.82762398051658348494E-16, -3.42548561967721913462E-16,
    1.77256013305652638360E-15, 3.81168066935262242075E-15, -9.55484669882830764870E-15,
    -4.15056934728722208663E-14, 1.54008621752140982691E-14, 3.85277838274214270114E-13,
    7.18012445138366623367E-13, -1.79417853150680611778E-12, -1.32158118404477131188E-11,
    -3.14991652796324136454E-11, 1.18891471078464383424E-11, 4.94060238822496958910E-10,
    3.39623202570838634515E-9, 2.26666899049817806459E-8, 2.04891858946906374183E-7,
    2.89137052083475648297E-6, 6.88975834691682398426E-5, 3.36911647825569408990E-3,
    8.04490411014108831608E-1])
_table("i1_a", [
    2.77791411276104639959E-18, -2.11142121435816608115E-17, 1.55363195773620046921E-16,
    -1.10559694773538630805E-15, 7.60068429473540693410E-15, -5.04218550472791168711E-14,
    3.22379336594557470981E-13, -1.98397439776494371520E-12, 1.17361862988909016308E-11,
    -6.66348972350202774223E-11, 3.62559028155211703701E-10, -1.88724975172282928790E-9,
    9.38153738649577178388E-9, -4.44505912879632808065E-8, 2.00329475355213526229E-7,
    -8.56872026469545474066E-7, 3.47025130813767847674E-6, -1.32731636560394358279E-5,
    4.78156510755005422638E-5, -1.61760815825896745588E-4, 5.12285956168575772895E-4,
    -1.51357245063125314899E-3, 4.15642294431288815669E-3, -1.05640848946261981558E-2,
    2.47264490306265168283E-2, -5.29459812080949914269E-2, 1.02643658689847095384E-1,
    -1.76416518357834055153E-1, 2.52587186443633654823E-1])
_table("i1_b", [
    7.51729631084210481353E-18, 4.41434832307170791151E-18, -4.65030536848935832153E-17,
    -3.20952592199342395980E-17, 2.96262899764595013876E-16, 3.30820231092092828324E-16,
    -1.88035477551078244854E-15, -3.81440307243700780478E-15, 1.04202769841288027642E-14,
    4.27244001671195135429E-14, -2.10154184277266431302E-14, -4.08355111109219731823E-13,
    -7.19855177624590851209E-13, 2.03562854414708950722E-12, 1.41258074366137813316E-11,
    3.25260358301548823856E-11, -1.89749581235054123450E-11, -5.58974346219658380687E-10,
    -3.83538038596423702205E-9, -2.63146884688951950684E-8, -2.51223623787020892529E-7,
    -3.88256480887769039346E-6, -1.10588938762623716291E-4, -9.76109749136146840777E-3,
    7.78576235018280120474E-1])
_table("k0_a", [
    1.37446543561352307156E-16, 4.25981614279661018399E-14, 1.03496952576338420167E-11,
    1.90451637722020886025E-9, 2.53479107902614945675E-7, 2.28621210311945178607E-5,
    1.26461541144692592338E-3, 3.59799365153615016266E-2, 3.44289899924628486886E-1,
    -5.35327393233902768720E-1])
_table("k0_b", [
    5.30043377268626276149E-18, -1.64758043015242134646E-17, 5.21039150503902756861E-17,
    -1.67823109680541210385E-16, 5.51205597852431940784E-16, -1.84859337734377901440E-15,
    6.34007647740507060557E-15, -2.22751332699166985548E-14, 8.03289077536357521100E-14,
    -2.98009692317273043925E-13, 1.14034058820847496303E-12, -4.51459788337394416547E-12,
    1.85594911495471785253E-11, -7.95748924447710747776E-11, 3.57739728140030116597E-10,
    -1.69753450938905987466E-9, 8.57403401741422608519E-9, -4.66048989768794782956E-8,
    2.76681363944501510342E-7, -1.83175552271911948767E-6, 1.39498137188764993662E-5,
    -1.28495495816278026384E-4, 1.56988388573005337491E-3, -3.14481013119645005427E-2,
    2.44030308206595545468E0])
_table("k1_a", [
    -7.02386347938628759343E-18, -2.42744985051936593393E-15, -6.66690169419932900609E-13,
    -1.41148839263352776110E-10, -2.21338763073472585583E-8, -2.43340614156596823496E-6,
    -1.73028895751305206302E-4, -6.97572385963986435018E-3, -1.22611180822657148235E-1,
    -3.53155960776544875667E-1, 1.52530022733894777053E0])
_table("k1_b", [
    -5.75674448366501715755E-18, 1.79405087314755922667E-17, -5.68946255844285935196E-17,
    1.83809354436663880070E-16, -6.05704724837331885336E-16, 2.03870316562433424052E-15,
    -7.01983709041831346144E-15, 2.47715442448130437068E-14, -8.97670518232499435011E-14,
    3.34841966607842919884E-13, -1.28917396095102890680E-12, 5.13963967348173025100E-12,
    -2.12996783842756842877E-11, 9.21831518760500529508E-11, -4.19035475934189648750E-10,
    2.01504975519703286596E-9, -1.03457624656780970260E-8, 5.74108412545004946722E-8,
    -3.50196060308781257119E-7, 2.40648494783721712015E-6, -1.93619797416608296024E-5,
    1.95215518471351631108E-4, -2.85781685962277938680E-3, 1.03923736576817238437E-1,
    2.72062619048444266945E0])
_c("bessel_i", """
/* exp(-|x|) I0(x) and exp(-|x|) I1(x) */
inline {T} i0e_{T}({T} x) {
    x = fabs(x);
    if (x <= ({T})8) return chbevl_{T}(x / ({T})2 - ({T})2, i0_a_{T}, 30);
    return chbevl_{T}(({T})32 / x - ({T})2, i0_b_{T}, 25) / sqrt(x);
}
inline {T} i1e_{T}({T} x) {
    {T} ax = fabs(x), r;
    /* in float the leading coefficients (below float's precision) only add rounding: T = float starts later */
    const int wide = sizeof({T}) == 8;
    if (ax <= ({T})8) r = chbevl_{T}(ax / ({T})2 - ({T})2, i1_a_{T} + (wide ? 0 : 12), wide ? 29 : 17) * ax;
    else r = chbevl_{T}(({T})32 / ax - ({T})2, i1_b_{T} + (wide ? 0 : 18), wide ? 25 : 7) / sqrt(ax);
    return x < ({T})0 ? -r : r;
}
inline {T} i0_{T}({T} x) { return exp(fabs(x)) * i0e_{T}(x); }
inline {T} i1_{T}({T} x) { return exp(fabs(x)) * i1e_{T}(x); }
""", ["horner", "i0_a", "i0_b", "i1_a", "i1_b"])
_c("bessel_k", """
/* exp(x) K0(x) and exp(x) K1(x), x > 0 */
inline {T} k0e_{T}({T} x) {
    if (x == ({T})0) return ({T})INFINITY;
    if (x < ({T})0) return ({T})NAN;
    if (x <= ({T})2)
        return (chbevl_{T}(x * x - ({T})2, k0_a_{T}, 10) - log(({T})0.5 * x) * i0_{T}(x)) * exp(x);
    return chbevl_{T}(({T})8 / x - ({T})2, k0_b_{T}, 25) / sqrt(x);
}
inline {T} k1e_{T}({T} x) {
    if (x == ({T})0) return ({T})INFINITY;
    if (x < ({T})0) return ({T})NAN;
    if (x <= ({T})2)
        return (log(({T})0.5 * x) * i1_{T}(x) + chbevl_{T}(x * x - ({T})2, k1_a_{T}, 11) / x) * exp(x);
    return chbevl_{T}(({T})8 / x - ({T})2, k1_b_{T}, 25) / sqrt(x);
}
inline {T} k0_{T}({T} x) {
    if (x > ({T})0 && x <= ({T})2)
        return chbevl_{T}(x * x - ({T})2, k0_a_{T}, 10) - log(({T})0.5 * x) * i0_{T}(x);
    return exp(-x) * k0e_{T}(x);
}
inline {T} k1_{T}({T} x) {
    if (x > ({T})0 && x <= ({T})2)
        return log(({T})0.5 * x) * i1_{T}(x) + chbevl_{T}(x * x - ({T})2, k1_a_{T}, 11) / x;
    return exp(-x) * k1e_{T}(x);
}
""", ["bessel_i", "k0_a", "k0_b", "k1_a", "k1_b"])

# ---- Bessel functions of the first and second kind (Cephes j0, j1, y0, y1: rational approximations) ----
_table("j0_pp", [7.96936729297347051624E-4, 8.28352392107440799803E-2, 1.23953371646414299388E0,
                 5.44725003058768775090E0, 8.74716500199817011941E0, 5.30324038235394892183E0,
                 9.99999999999999997821E-1])
_table("j0_pq", [9.24408810558863637013E-4, 8.56288474354474431428E-2, 1.25352743901058953537E0,
                 5.47097740330417105182E0, 8.76190883237069594232E0, 5.30605288235394617618E0,
                 1.00000000000000000218E0])
_table("j0_qp", [-1.13663838898469149931E-2, -1.28252718670509318512E0, -1.95539544257735972385E1,
                 -9.32060152123768231369E1, -1.77681167980488050595E2, -1.47077505154951170175E2,
                 -5.14105326766599330220E1, -6.05014350600728481186E0])
_table("j0_qq", [6.43178256118178023184E1, 8.56430025976980587198E2, 3.88240183605401609683E3,
                 7.24046774195652478189E3, 5.93072701187316984827E3, 2.06209331660327847417E3,
                 2.42005740240291393179E2])
_table("j0_rp", [-4.79443220978201773821E9, 1.95617491946556577543E12, -2.49248344360967716204E14,
                 9.70862251047306323952E15])
_table("j0_rq", [4.99563147152651017219E2, 1.73785401676374683123E5, 4.84409658339962045305E7,
                 1.11855537045356834862E10, 2.11277520115489217587E12, 3.10518229857422583814E14,
                 3.18121955943204943306E16, 1.71086294081043136091E18])
_table("y0_yp", [1.55924367855235737965E4, -1.46639295903971606143E7, 5.43526477051876500413E9,
                 -9.82136065717911466409E11, 8.75906394395366999549E13, -3.46628303384729719441E15,
                 4.42733268572569800351E16, -1.84950800436986690637E16])
_table("y0_yq", [1.04128353664259848412E3, 6.26107330137134956842E5, 2.68919633393814121987E8,
                 8.64002487103935000337E10, 2.02979612750105546709E13, 3.17157752842975028269E15,
                 2.50596256172653059228E17])
_table("j1_pp", [7.62125616208173112003E-4, 7.31397056940917570436E-2, 1.12719608129684925192E0,
                 5.11207951146807644818E0, 8.42404590141772420927E0, 5.21451598682361504063E0,
                 1.00000000000000000254E0])
_table("j1_pq", [5.71323128072548699714E-4, 6.88455908754495404082E-2, 1.10514232634061696926E0,
                 5.07386386128601488557E0, 8.39985554327604159757E0, 5.20982848682361821619E0,
                 9.99999999999999997461E-1])
_table("j1_qp", [5.10862594750176621635E-2, 4.98213872951233449420E0, 7.58238284132545283818E1,
                 3.66779609360150777800E2, 7.10856304998926107277E2, 5.97489612400613639965E2,
                 2.11688757100572135698E2, 2.52070205858023719784E1])
_table("j1_qq", [7.42373277035675149943E1, 1.05644886038262816351E3, 4.98641058337653607651E3,
                 9.56231892404756170795E3, 7.99704160447350683650E3, 2.82619278517639096600E3,
                 3.36093607810698293419E2])
_table("j1_rp", [-8.99971225705559398224E8, 4.52228297998194034323E11, -7.27494245221818276015E13,
                 3.68295732863852883286E15])
_table("j1_rq", [6.20836478118054335476E2, 2.56987256757748830383E5, 8.35146791431949253037E7,
                 2.21511595479792499675E10, 4.74914122079991414898E12, 7.84369607876235854894E14,
                 8.95222336184627338078E16, 5.32278620332680085395E18])
_table("y1_yp", [1.26320474790178026440E9, -6.47355876379160291031E11, 1.14509511541823727583E14,
                 -8.12770255501325109621E15, 2.02439475713594898196E17, -7.78877196265950026825E17])
_table("y1_yq", [5.94301592346128195359E2, 2.35564092943068577943E5, 7.34811944459721705660E7,
                 1.87601316108706159478E10, 3.88231277496238566008E12, 6.20557727146953693363E14,
                 6.87141087355300489866E16, 3.97270608116560655612E18])
_c("bessel_j", """
/* the asymptotic form for x > 5: sqrt(2 / (pi x)) (P cos(x - phase) - (5 / x) Q sin(x - phase)); y: sin/cos swapped */
inline {T} bessel_far_{T}({T} x, int order, int second_kind) {
    {T} w = ({T})25 / (x * x), p, q;
    if (order == 0) {
        p = horner_{T}(w, j0_pp_{T}, 7) / horner_{T}(w, j0_pq_{T}, 7);
        q = horner_{T}(w, j0_qp_{T}, 8) / horner_{T}(w, j0_qq_{T}, 7);
    } else {
        p = horner_{T}(w, j1_pp_{T}, 7) / horner_{T}(w, j1_pq_{T}, 7);
        q = horner_{T}(w, j1_qp_{T}, 8) / horner_{T}(w, j1_qq_{T}, 7);
    }
    {T} phase = x - (order == 0 ? ({T})0.785398163397448309616 : ({T})2.35619449019234492885);
    {T} s = sin(phase), c = cos(phase);
    {T} r = second_kind ? p * s + ({T})5 / x * q * c : p * c - ({T})5 / x * q * s;
    return r * ({T})0.797884560802865355880 / sqrt(x);
}
inline {T} bessel_j0_{T}({T} x) {
    x = fabs(x);
    if (x <= ({T})5) {
        if (x < ({T})1e-5) return ({T})1 - x * x / ({T})4;
        {T} z = x * x;
        return (z - ({T})5.78318596294678452118) * (z - ({T})30.4712623436620863991)
               * horner_{T}(z, j0_rp_{T}, 4) / horner_{T}(z, j0_rq_{T}, 8);
    }
    return bessel_far_{T}(x, 0, 0);
}
inline {T} bessel_j1_{T}({T} x) {
    {T} ax = fabs(x), r;
    if (ax <= ({T})5) {
        {T} z = ax * ax;
        r = horner_{T}(z, j1_rp_{T}, 4) / horner_{T}(z, j1_rq_{T}, 8) * ax
            * (z - ({T})14.6819706421238932572) * (z - ({T})49.2184563216946036703);
    } else {
        r = bessel_far_{T}(ax, 1, 0);
    }
    return x < ({T})0 ? -r : r;
}
inline {T} bessel_y0_{T}({T} x) {
    if (x <= ({T})5) {
        if (x == ({T})0) return ({T})-INFINITY;
        if (x < ({T})0) return ({T})NAN;
        {T} z = x * x;
        return horner_{T}(z, y0_yp_{T}, 8) / horner_{T}(z, y0_yq_{T}, 7)
               + ({T})0.636619772367581343076 * log(x) * bessel_j0_{T}(x);
    }
    return bessel_far_{T}(x, 0, 1);
}
inline {T} bessel_y1_{T}({T} x) {
    if (x <= ({T})5) {
        if (x == ({T})0) return ({T})-INFINITY;
        if (x < ({T})0) return ({T})NAN;
        {T} z = x * x;
        return x * (horner_{T}(z, y1_yp_{T}, 6) / horner_{T}(z, y1_yq_{T}, 8))
               + ({T})0.636619772367581343076 * (bessel_j1_{T}(x) * log(x) - ({T})1 / x);
    }
    return bessel_far_{T}(x, 1, 1);
}
""", ["horner", "j0_pp", "j0_pq", "j0_qp", "j0_qq", "j0_rp", "j0_rq", "y0_yp", "y0_yq", "j1_pp", "j1_pq",
      "j1_qp", "j1_qq", "j1_rp", "j1_rq", "y1_yp", "y1_yq"])

_table("ai_an", [3.46538101525629032477E-1, 1.20075952739645805542E1, 7.62796053615234516538E1,
                 1.68089224934630576269E2, 1.59756391350164413639E2, 7.05360906840444183113E1,
                 1.40264691163389668864E1, 9.99999999999999995305E-1])
_table("ai_ad", [5.67594532638770212846E-1, 1.47562562584847203173E1, 8.45138970141474626562E1,
                 1.77318088145400459522E2, 1.64234692871529701831E2, 7.14778400825575695274E1,
                 1.40959135607834029598E1, 1.00000000000000000470E0])
_table("ai_afn", [-1.31696323418331795333E-1, -6.26456544431912369773E-1, -6.93158036036933542233E-1,
                  -2.79779981545119124951E-1, -4.91900132609500318020E-2, -4.06265923594885404393E-3,
                  -1.59276496239262096340E-4, -2.77649108155232920844E-6, -1.67787698489114633780E-8])
_table("ai_afd", [1.33560420706553243746E1, 3.26825032795224613948E1, 2.67367040941499554804E1,
                  9.18707402907259625840E0, 1.47529146771666414581E0, 1.15687173795188044134E-1,
                  4.40291641615211203805E-3, 7.54720348287414296618E-5, 4.51850092970580378464E-7])
_table("ai_agn", [1.97339932091685679179E-2, 3.91103029615688277255E-1, 1.06579897599595591108E0,
                  9.39169229816650230044E-1, 3.51465656105547619242E-1, 6.33888919628925490927E-2,
                  5.85804113048388458567E-3, 2.82851600836737019778E-4, 6.98793669997260967291E-6,
                  8.11789239554389293311E-8, 3.41551784765923618484E-10])
_table("ai_agd", [9.30892908077441974853E0, 1.98352928718312140417E1, 1.55646628932864612953E1,
                  5.47686069422975497931E0, 9.54293611618961883998E-1, 8.64580826352392193095E-2,
                  4.12656523824222607191E-3, 1.01259085116509135510E-4, 1.17166733214413521882E-6,
                  4.91834570062930015649E-9])
_c("airy", """
/* Ai(x) (Cephes airy): the oscillating asymptotic form for x < -2.09, the decaying one for x >= 2.09, the
   Maclaurin series f(x) c1 - g(x) c2 between */
inline {T} airy_ai_{T}({T} x) {
    if (isinf(x)) return ({T})NAN;
    if (x > ({T})103.892) return ({T})0;
    if (x < ({T})-2.09) {
        {T} zeta = ({T})-2 * x * sqrt(-x) / ({T})3, z = ({T})1 / zeta, zz = z * z;
        {T} f = ({T})1 + zz * horner_{T}(zz, ai_afn_{T}, 9) / horner_{T}(zz, ai_afd_{T}, 9);
        {T} g = z * horner_{T}(zz, ai_agn_{T}, 11) / horner_{T}(zz, ai_agd_{T}, 10);
        {T} t = zeta + ({T})0.785398163397448309616;
        return ({T})0.564189583547756286948 / sqrt(sqrt(-x)) * (sin(t) * f - cos(t) * g);
    }
    if (x >= ({T})2.09) {
        {T} zeta = ({T})2 * x * sqrt(x) / ({T})3, iz = ({T})1 / zeta;
        {T} r = horner_{T}(iz, ai_an_{T}, 8) / horner_{T}(iz, ai_ad_{T}, 8);
        return ({T})0.564189583547756286948 * r / (({T})2 * sqrt(sqrt(x)) * exp(zeta));
    }
    const {T} eps = sizeof({T}) == 8 ? ({T})2.220446049250313e-16 : ({T})1.1920928955078125e-07;
    {T} f = ({T})1, g = x, k = ({T})1, m = ({T})1, n = x, t = ({T})1, z = x * x * x;
    while (t > eps) {
        m *= z; k += ({T})1; m /= k;
        n *= z; k += ({T})1; n /= k;
        m /= k; f += m;
        k += ({T})1; n /= k; g += n;
        t = fabs(m / f);
    }
    return ({T})0.355028053887817239260 * f - ({T})0.258819403792806798405 * g;
}
""", ["horner", "ai_an", "ai_ad", "ai_afn", "ai_afd", "ai_agn", "ai_agd"])

_c("spherical_j0", """
inline {T} spherical_j0_{T}({T} x) {
    if (isinf(x)) return ({T})0;
    if (fabs(x) < ({T})0.5) {  /* the Taylor series sum_k (-x^2)^k / (2k + 1)! */
        {T} z = x * x, r = ({T})(1.0 / 6227020800.0);
        r = r * z - ({T})(1.0 / 39916800);
        r = r * z + ({T})(1.0 / 362880);
        r = r * z - ({T})(1.0 / 5040);
        r = r * z + ({T})(1.0 / 120);
        r = r * z - ({T})(1.0 / 6);
        return ({T})1 + z * r;
    }
    return sin(x) / x;
}
""")

# ---- the normal distribution and erfcx -----------------------------------------------------------------
# erfcx(x) = exp(x^2) erfc(x): for x < 2 with x^2 split exactly (hi + lo, fma) so exp(x^2) keeps T's
# precision; for x >= 2 the continued fraction 1 / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))),
# summed from a fixed depth (24 terms reach float's precision at x = 2, 60 double's), free of the device's
# erfc (libclc's is ~10 ulps off near x = 4)
_c("erfcx", """
inline {T} exp_square_{T}({T} x) {
    {T} hi = x * x, lo = fma(x, x, -hi);
    return exp(hi) * (({T})1 + lo);
}
inline {T} erfcx_pos_{T}({T} x) {
    if (x < ({T})2) return exp_square_{T}(x) * erfc(x);
    {T} t = ({T})0;
    for (int k = sizeof({T}) == 8 ? 60 : 24; k > 0; --k) t = ({T})k * ({T})0.5 / (x + t);
    return ({T})0.564189583547756286948 / (x + t);
}
/* erfc(x) for x >= 2 without the device's erfc: exp(-x^2) erfcx(x) */
inline {T} erfc_tail_{T}({T} x) {
    {T} hi = x * x, lo = fma(x, x, -hi);
    if (hi > (sizeof({T}) == 8 ? ({T})750 : ({T})110)) return ({T})0;  /* underflowed (and x^2 may be inf) */
    return exp(-hi) * (({T})1 - lo) * erfcx_pos_{T}(x);
}
inline {T} erfcx_{T}({T} x) {
    if (isnan(x)) return x;
    if (x >= ({T})0) return erfcx_pos_{T}(x);
    if (x < ({T})-26.7) return ({T})INFINITY;
    {T} e = ({T})2 * exp_square_{T}(x);
    return isinf(e) ? e : e - erfcx_pos_{T}(-x);
}
""")
_c("ndtr", """
/* Phi(x) = erfc(-x / sqrt 2) / 2, with the rounding of x / sqrt 2 corrected to first order (it matters
   deep in the lower tail, where erfc falls by a factor e^(2 z dz)) */
inline {T} ndtr_{T}({T} x) {
    const {T} c = ({T})0.707106781186547524401;
    {T} z = x * c;
    const {T} c_lo = sizeof({T}) == 8 ? ({T})-4.833646656726457e-17 : ({T})1.210161710447897e-08;
    {T} dz = isfinite(x) ? fma(x, c, -z) + x * c_lo : ({T})0;
    {T} e = erfc(-z);
    return ({T})0.5 * (e + dz * ({T})1.12837916709551257390 * exp(-z * z));
}
""")
_c("log_ndtr", """
inline {T} log_ndtr_{T}({T} x) {
    {T} t = x * ({T})0.707106781186547524401;
    if (x < ({T})-1) return log(erfcx_{T}(-t) / ({T})2) - t * t;
    return log1p(-(t >= ({T})2 ? erfc_tail_{T}(t) : erfc(t)) / ({T})2);
}
""", ["erfcx"])
_table("ndtri_p0", [-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
                    1.39312609387279679503E1, -1.23916583867381258016E0])
_table("ndtri_q0", [1.0, 1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1,
                    -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1,
                    1.59056225126211695515E1, -1.18331621121330003142E0])
_table("ndtri_p1", [4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1,
                    4.40805073893200834700E1, 1.46849561928858024014E1, 2.18663306850790267539E0,
                    -1.40256079171354495875E-1, -3.50424626827848203418E-2, -8.57456785154685413611E-4])
_table("ndtri_q1", [1.0, 1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
                    1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1,
                    -3.80806407691578277194E-2, -9.33259480895457427372E-4])
_table("ndtri_p2", [3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0,
                    1.33303460815807542389E0, 2.01485389549179081538E-1, 1.23716634817820021358E-2,
                    3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9])
_table("ndtri_q2", [1.0, 6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0,
                    2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4,
                    2.89247864745380683936E-6, 6.79019408009981274425E-9])
_c("ndtri", """
/* the inverse of Phi (Cephes ndtri): a rational function of y - 1/2 in the middle, of 1 / sqrt(-2 log y)
   in the tails */
inline {T} ndtri_{T}({T} y0) {
    if (y0 == ({T})0) return ({T})-INFINITY;
    if (y0 == ({T})1) return ({T})INFINITY;
    if (!(y0 > ({T})0 && y0 < ({T})1)) return ({T})NAN;
    const {T} exp_m2 = ({T})0.13533528323661269189;
    int upper = y0 > ({T})1 - exp_m2;
    {T} y = upper ? ({T})1 - y0 : y0;
    if (y > exp_m2) {
        y -= ({T})0.5;
        {T} y2 = y * y;
        {T} x = y + y * (y2 * horner_{T}(y2, ndtri_p0_{T}, 5) / horner_{T}(y2, ndtri_q0_{T}, 9));
        return x * ({T})2.50662827463100050242;
    }
    {T} x = sqrt(({T})-2 * log(y));
    {T} x0 = x - log(x) / x, z = ({T})1 / x;
    {T} x1 = x < ({T})8 ? z * horner_{T}(z, ndtri_p1_{T}, 9) / horner_{T}(z, ndtri_q1_{T}, 9)
                        : z * horner_{T}(z, ndtri_p2_{T}, 9) / horner_{T}(z, ndtri_q2_{T}, 9);
    x = x0 - x1;
    return upper ? x : -x;
}
""", ["horner", "ndtri_p0", "ndtri_q0", "ndtri_p1", "ndtri_q1", "ndtri_p2", "ndtri_q2"])

_c("mvlgamma", """
inline {T} mvlgamma_{T}({T} x, int p) {
    {T} r = ({T})(p * (p - 1)) / ({T})4 * ({T})1.14472988584940017414;  /* log(pi) */
    for (int i = 0; i < p; ++i) r += lgamma_{T}(x - ({T})i / ({T})2);
    return r;
}
""", ["lgamma"])

# ---- orthogonal polynomials of degree n (n given as T, truncated to an integer as PyTorch does) ---------
_c("poly_n", """
inline long poly_degree_{T}({T} n) { return (isnan(n) || isinf(n)) ? -1 : (long)n; }
""")
_c("chebyshev", """
/* T_n, U_n, V_n, W_n by the three-term recurrence r = 2x q - p from the first two; for |x| < 1 and large n
   through the trigonometric forms */
inline {T} cheb_recur_{T}({T} x, long n, {T} p, {T} q) {
    {T} r = q;
    for (long k = 2; k <= n && !isnan(q); ++k) { r = (x + x) * q - p; p = q; q = r; }
    return r;
}
inline {T} chebyshev_t_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (fabs(x) == ({T})1) return (x > ({T})0 || n % 2 == 0) ? ({T})1 : ({T})-1;
    if (n > 6 && fabs(x) < ({T})1) return cos(({T})n * acos(x));
    if (n == 0) return ({T})1;
    if (n == 1) return x;
    return cheb_recur_{T}(x, n, ({T})1, x);
}
inline {T} chebyshev_u_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (fabs(x) == ({T})1) return (x > ({T})0 || n % 2 == 0) ? ({T})(n + 1) : ({T})(-(n + 1));
    if (n > 8 && fabs(x) < ({T})1) {
        {T} t = acos(x);
        if (sin(t) != ({T})0) return sin(({T})(n + 1) * t) / sin(t);
        return ({T})(n + 1) * cos(({T})(n + 1) * t) / x;
    }
    if (n == 0) return ({T})1;
    if (n == 1) return x + x;
    return cheb_recur_{T}(x, n, ({T})1, x + x);
}
inline {T} chebyshev_v_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (fabs(x) == ({T})1) {
        if (x > ({T})0) return ({T})1;
        return (n % 2 == 0) ? ({T})(n + n + 1) : ({T})(-(n + n + 1));
    }
    if (n > 8 && fabs(x) < ({T})1) {
        {T} t = acos(x);
        if (sin(t / ({T})2) != ({T})1) return cos((({T})n + ({T})0.5) * t) / cos(t / ({T})2);
        return (n % 2 == 0) ? ({T})(n + n + 1) : ({T})(-(n + n + 1));
    }
    if (n == 0) return ({T})1;
    if (n == 1) return x + x - ({T})1;
    return cheb_recur_{T}(x, n, ({T})1, x + x - ({T})1);
}
inline {T} chebyshev_w_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (fabs(x) == ({T})1) {
        if (x > ({T})0) return ({T})(n + n + 1);
        return (n % 2 == 0) ? ({T})1 : ({T})-1;
    }
    if (n > 8 && fabs(x) < ({T})1) {
        {T} t = acos(x);
        if (cos(t / ({T})2) != ({T})1) return sin((({T})n + ({T})0.5) * t) / sin(t / ({T})2);
        if (x > ({T})0) return ({T})(n + n + 1);
        return (n % 2 == 0) ? ({T})1 : ({T})-1;
    }
    if (n == 0) return ({T})1;
    if (n == 1) return x + x + ({T})1;
    return cheb_recur_{T}(x, n, ({T})1, x + x + ({T})1);
}
""", ["poly_n"])
_c("shifted_chebyshev", """
/* T*_n(x) = T_n(2x - 1) and likewise U*, V*, W*, with PyTorch's special values at x = 0 and x = 1 */
inline {T} shifted_t_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (x == ({T})1) return ({T})1;
    if (x == ({T})0) return (n % 2 == 0) ? ({T})1 : ({T})-1;
    {T} y = x + x - ({T})1;
    if (n > 6 && fabs(y) < ({T})1) return cos(({T})n * acos(y));
    if (n == 0) return ({T})1;
    if (n == 1) return y;
    return cheb_recur_{T}(y, n, ({T})1, y);
}
inline {T} shifted_u_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (x == ({T})1) return ({T})(n + 1);
    if (x == ({T})0) return (n % 2 == 0) ? ({T})(n + 1) : ({T})(-(n + 1));
    {T} y = x + x - ({T})1;
    if (n > 6 && fabs(y) < ({T})1) {
        {T} t = acos(y);
        if (sin(t) != ({T})0) return sin(({T})(n + 1) * t) / sin(t);
        return ({T})(n + 1) * cos(({T})(n + 1) * t) / y;
    }
    if (n == 0) return ({T})1;
    if (n == 1) return y + y;
    return cheb_recur_{T}(y, n, ({T})1, y + y);
}
inline {T} shifted_v_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (x == ({T})1) return ({T})1;
    if (x == ({T})0) return (n % 2 == 0) ? ({T})(n + n + 1) : ({T})(-(n + n + 1));
    {T} y = x + x - ({T})1;
    if (n > 6 && fabs(y) < ({T})1) {
        {T} t = acos(y);
        if (sin(t / ({T})2) != ({T})1) return cos((({T})n + ({T})0.5) * t) / cos(t / ({T})2);
        return (n % 2 == 0) ? ({T})(n + n + 1) : ({T})(-(n + n + 1));
    }
    if (n == 0) return ({T})1;
    if (n == 1) return y + y - ({T})1;
    return cheb_recur_{T}(y, n, ({T})1, y + y - ({T})1);
}
inline {T} shifted_w_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (x == ({T})1) return ({T})(n + n + 1);
    if (x == ({T})0) return (n % 2 == 0) ? ({T})1 : ({T})-1;
    {T} y = x + x - ({T})1;
    if (n > 4 && fabs(y) < ({T})1) {
        {T} t = acos(y);
        if (cos(t / ({T})2) != ({T})1) return sin((({T})n + ({T})0.5) * t) / sin(t / ({T})2);
        return (n % 2 == 0) ? ({T})1 : ({T})-1;
    }
    if (n == 0) return ({T})1;
    if (n == 1) return y + y + ({T})1;
    return cheb_recur_{T}(y, n, ({T})1, y + y + ({T})1);
}
""", ["chebyshev"])
_c("hermite_laguerre_legendre", """
/* PyTorch returns NaN past degree 128 (float) / 512 (double) for the Hermite polynomials */
inline {T} hermite_h_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (n == 0) return ({T})1;
    if (n == 1) return x + x;
    if (n > (sizeof({T}) == 8 ? 512 : 128)) return ({T})NAN;
    {T} p = ({T})1, q = x + x, r = ({T})0;
    for (long k = 2; k < n + n; k += 2) { r = (x + x) * q - ({T})k * p; p = q; q = r; }
    return r;
}
inline {T} hermite_he_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (n == 0) return ({T})1;
    if (n == 1) return x;
    if (n > (sizeof({T}) == 8 ? 512 : 128)) return ({T})NAN;
    {T} p = ({T})1, q = x, r = ({T})0;
    for (long k = 1; k < n; ++k) { r = x * q - ({T})k * p; p = q; q = r; }
    return r;
}
inline {T} laguerre_l_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (fabs(x) == ({T})0) return ({T})1;
    if (n == 0) return ({T})1;
    if (n == 1) return ({T})1 - x;
    {T} p = ({T})1, q = ({T})1 - x, r = q;
    for (long k = 1; k < n && !isnan(q); ++k) {
        r = ((({T})(k + k) + (({T})1 - x)) * q - ({T})k * p) / ({T})(k + 1);
        p = q; q = r;
    }
    return r;
}
inline {T} legendre_p_{T}({T} x, {T} fn) {
    long n = poly_degree_{T}(fn);
    if (n < 0) return ({T})0;
    if (fabs(x) == ({T})1) return (x > ({T})0 || n % 2 == 0) ? ({T})1 : ({T})-1;
    if (n == 0) return ({T})1;
    if (n == 1) return x;
    {T} p = ({T})1, q = x, r = q;
    for (long k = 1; k < n && !isnan(q); ++k) {
        r = (({T})(k + k + 1) * x * q - ({T})k * p) / ({T})(k + 1);
        p = q; q = r;
    }
    return r;
}
""", ["poly_n"])


# ---- the regularised incomplete gamma functions (SciPy's igam/igamc: power series, continued fraction,
# and x^a e^-x / Gamma(a) through Boost's Lanczos sum where a ~ x) ----------------------------------------
_table("lanczos_num", [
    0.006061842346248906525783753964555936883222, 0.5098416655656676188125178644804694509993,
    19.51992788247617482847860966235652136208, 449.9445569063168119446858607650988409623,
    6955.999602515376140356310115515198987526, 75999.29304014542649875303443598909137092,
    601859.6171681098786670226533699352302507, 3481712.15498064590882071018964774556468,
    14605578.08768506808414169982791359218571, 43338889.32467613834773723740590533316085,
    86363131.28813859145546927288977868422342, 103794043.1163445451906271053616070238554,
    56906521.91347156388090791033559122686859])
_table("lanczos_den", [1., 66., 1925., 32670., 357423., 2637558., 13339535., 45995730., 105258076., 150917976.,
                       120543840., 39916800., 0.])
_c("igamma", """
/* the Lanczos sum scaled by exp(-g): a ratio of two polynomials, in 1/a for a > 1 (coefficients reversed) */
inline {T} lanczos_scaled_{T}({T} a) {
    {T} n = ({T})0, d = ({T})0;
    if (fabs(a) <= ({T})1) {
        for (int i = 0; i < 13; ++i) { n = n * a + lanczos_num_{T}[i]; d = d * a + lanczos_den_{T}[i]; }
    } else {
        {T} y = ({T})1 / a;
        for (int i = 12; i >= 0; --i) { n = n * y + lanczos_num_{T}[i]; d = d * y + lanczos_den_{T}[i]; }
    }
    return n / d;
}
/* x^a e^-x / Gamma(a) */
inline {T} igam_fac_{T}({T} a, {T} x) {
    const {T} g = ({T})6.024680040776729583740234375;
    {T} fac = a + g - ({T})0.5;
    if (fabs(a - x) > ({T})0.4 * fabs(a)) {
        {T} ax = a * log(x) - x - lgamma_{T}(a);
        return ax < (sizeof({T}) == 8 ? ({T})-709.78 : ({T})-88.72) ? ({T})0 : exp(ax);
    }
    /* Lanczos: sqrt(fac / e) / L(a) * exp(a - x + a log(x / fac)), the exponent free of lgamma's rounding */
    {T} r = sqrt(fac / ({T})2.718281828459045235360) / lanczos_scaled_{T}(a);
    {T} num = x - a - g + ({T})0.5, q = num / fac;
    if (a < ({T})200 && x < ({T})200) return r * exp((a - x) + a * log(x / fac));
    return r * exp(a * (log1p(q) - q) + x * (({T})0.5 - g) / fac);
}
inline {T} igam_eps_{T}(void) {
    return sizeof({T}) == 8 ? ({T})1.11022302462515654042E-16 : ({T})5.9604644775390625E-8;
}
/* P(a, x) by its power series (DLMF 8.11.4) */
inline {T} igam_series_{T}({T} a, {T} x) {
    {T} ax = igam_fac_{T}(a, x);
    if (ax == ({T})0) return ({T})0;
    {T} r = a, c = ({T})1, ans = ({T})1;
    for (int i = 0; i < 2000; ++i) {
        r += ({T})1; c *= x / r; ans += c;
        if (c <= igam_eps_{T}() * ans) break;
    }
    return ans * ax / a;
}
/* Q(a, x) for small x (DLMF 8.7.3), free of the cancellation of 1 - P */
inline {T} igamc_series_{T}({T} a, {T} x) {
    {T} fac = ({T})1, sum = ({T})0, term;
    for (int n = 1; n < 2000; ++n) {
        fac *= -x / ({T})n; term = fac / (a + ({T})n); sum += term;
        if (fabs(term) <= igam_eps_{T}() * fabs(sum)) break;
    }
    {T} logx = log(x);
    return -expm1(a * logx - lgamma_{T}(({T})1 + a)) - exp(a * logx - lgamma_{T}(a)) * sum;
}
/* Q(a, x) by its continued fraction (DLMF 8.9.2) */
inline {T} igamc_fraction_{T}({T} a, {T} x) {
    const {T} big = sizeof({T}) == 8 ? ({T})4.503599627370496e15 : ({T})16777216.0;
    const {T} biginv = sizeof({T}) == 8 ? ({T})2.22044604925031308085e-16 : ({T})5.9604644775390625E-8;
    {T} ax = igam_fac_{T}(a, x);
    if (ax == ({T})0) return ({T})0;
    {T} y = ({T})1 - a, z = x + y + ({T})1, c = ({T})0;
    {T} pkm2 = ({T})1, qkm2 = x, pkm1 = x + ({T})1, qkm1 = z * x, ans = pkm1 / qkm1, t;
    for (int i = 0; i < 2000; ++i) {
        c += ({T})1; y += ({T})1; z += ({T})2;
        {T} yc = y * c, pk = pkm1 * z - pkm2 * yc, qk = qkm1 * z - qkm2 * yc;
        if (qk != ({T})0) { {T} r = pk / qk; t = fabs((ans - r) / r); ans = r; } else t = ({T})1;
        pkm2 = pkm1; pkm1 = pk; qkm2 = qkm1; qkm1 = qk;
        if (fabs(pk) > big) { pkm2 *= biginv; pkm1 *= biginv; qkm2 *= biginv; qkm1 *= biginv; }
        if (t <= igam_eps_{T}()) break;
    }
    return ans * ax;
}
inline {T} igammac_{T}({T} a, {T} x) {
    if (x < ({T})0 || a < ({T})0) return ({T})NAN;
    if (a == ({T})0) return x > ({T})0 ? ({T})0 : ({T})NAN;
    if (x == ({T})0) return ({T})1;
    if (isinf(a)) return isinf(x) ? ({T})NAN : ({T})1;
    if (isinf(x)) return ({T})0;
    if (x > ({T})1.1) return x < a ? ({T})1 - igam_series_{T}(a, x) : igamc_fraction_{T}(a, x);
    if (x <= ({T})0.5)
        return (({T})-0.4 / log(x) < a) ? ({T})1 - igam_series_{T}(a, x) : igamc_series_{T}(a, x);
    return (x * ({T})1.1 < a) ? ({T})1 - igam_series_{T}(a, x) : igamc_series_{T}(a, x);
}
inline {T} igamma_{T}({T} a, {T} x) {
    if (x < ({T})0 || a < ({T})0) return ({T})NAN;
    if (a == ({T})0) return x > ({T})0 ? ({T})1 : ({T})NAN;
    if (x == ({T})0) return ({T})0;
    if (isinf(a)) return isinf(x) ? ({T})NAN : ({T})0;
    if (isinf(x)) return ({T})1;
    if (x > ({T})1 && x > a) return ({T})1 - igammac_{T}(a, x);
    return igam_series_{T}(a, x);
}
""", ["lgamma", "lanczos_num", "lanczos_den"])


# ---- argument checks -----------------------------------------------------------------------------------
def FLOAT_NO_HALF(name):
    """FLOAT, refusing float16 and bfloat16 as PyTorch's CPU kernels of these functions do."""
    def rule(r):
        if r in (_dt.float16, _dt.bfloat16):
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{r.torch_name}\'')
        return FLOAT(r)
    return rule


def _check_n(fname):
    def check(inputs, compute, params):
        if params.get("order", 0) < 0:
            raise RuntimeError(f"{fname}(n, x) does not support negative n.")
    return check


# ---- the rows ------------------------------------------------------------------------------------------
defop("lgamma", U, "lgamma_{T}(a)", FLOAT, helpers=helpers("lgamma"), vjp=lambda g, out, a: g * digamma(a),
      ref="gammaln",
      domain=(0.1, 6.0))
defop("digamma", U, "digamma_{T}(a)", FLOAT, vjp=lambda g, out, a: g * _polygamma(a, order=1), ref="psi",
      helpers=helpers("digamma"), domain=(0.1, 6.0))
defop("_polygamma", U, "polygamma_{T}(order, a)", FLOAT,
      vjp=lambda g, out, a, order: g * _polygamma(a, order=order + 1), ref="polygamma",
      params={"order": (0, "int")}, helpers=helpers("polygamma"), check=_check_n("polygamma"),
      method=False, grad_fn="PolygammaBackward0", domain=(0.1, 6.0))
defop("erfinv", U, "erfinv_{T}(a)", FLOAT, vjp=lambda g, out, a: g * SQRT_PI_2 * (out * out).exp(), ref="erfinv",
      helpers=helpers("erfinv"), domain=(-0.95, 0.95))


def _by_operands(stem):
    """PyTorch's node name for a binary row: ...Backward0 for two tensors, 1 when the first operand is a
    number, 2 when the second is."""
    return lambda ins: stem + ("1" if not isinstance(ins[0], Tensor) else "2" if not isinstance(ins[1], Tensor)
                               else "0")


def _not_implemented(what):
    def rule(g, out, *inputs, **params):
        raise NotImplementedError(f"the derivative for '{what}' is not implemented.")
    return rule


def _check_tensor_operands(fname):
    def check(inputs, compute, params):
        for i, x in enumerate(inputs):
            if not isinstance(x, Tensor):
                raise TypeError(f"{fname}(): argument '{('input', 'other')[i]}' (position {i + 1}) must be Tensor, "
                                f"not {type(x).__name__}")
    return check


def _check_p(inputs, compute, params):
    if inputs[0].dtype is _dt.bool_:
        raise RuntimeError("The input tensor may not be a boolean tensor.")
    if params["p"] < 1:
        raise RuntimeError("p has to be greater than or equal to 1")


INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
LN2 = math.log(2.0)

# modified Bessel functions
defop("i0", U, "i0_{T}(a)", FLOAT, vjp=lambda g, out, a: g * special_i1(a), ref="i0", helpers=helpers("bessel_i"))
defop("special_i0e", U, "i0e_{T}(a)", FLOAT, vjp=lambda g, out, a: g * (special_i1e(a) - a.sign() * out),
      ref="i0e", helpers=helpers("bessel_i"), method=False, inplace=False, grad_fn="SpecialI0EBackward0")
defop("special_i1", U, "i1_{T}(a)", FLOAT, vjp=lambda g, out, a: g * (i0(a) - out / a).where(a != 0, 0.5),
      ref="i1", helpers=helpers("bessel_i"), method=False, inplace=False)
defop("special_i1e", U, "i1e_{T}(a)", FLOAT,
      vjp=lambda g, out, a: g * (special_i0e(a) - out * (a.sign() + 1 / a)).where(a != 0, 0.5),
      ref="i1e", helpers=helpers("bessel_i"), method=False, inplace=False, grad_fn="SpecialI1EBackward0")
for _name, _expr, _ref, _helper in (
        ("modified_bessel_i0", "i0_{T}(a)", "i0", "bessel_i"), ("modified_bessel_i1", "i1_{T}(a)", "i1", "bessel_i"),
        ("modified_bessel_k0", "k0_{T}(a)", "k0", "bessel_k"), ("modified_bessel_k1", "k1_{T}(a)", "k1", "bessel_k"),
        ("scaled_modified_bessel_k0", "k0e_{T}(a)", "k0e", "bessel_k"),
        ("scaled_modified_bessel_k1", "k1e_{T}(a)", "k1e", "bessel_k"),
        ("bessel_j0", "bessel_j0_{T}(a)", "j0", "bessel_j"), ("bessel_j1", "bessel_j1_{T}(a)", "j1", "bessel_j"),
        ("bessel_y0", "bessel_y0_{T}(a)", "y0", "bessel_j"), ("bessel_y1", "bessel_y1_{T}(a)", "y1", "bessel_j"),
        ("airy_ai", "airy_ai_{T}(a)", "airy", "airy"),
        ("spherical_bessel_j0", "spherical_j0_{T}(a)", "spherical_jn", "spherical_j0")):
    # no derivative in PyTorch either: the result does not require grad
    defop("special_" + _name, U, _expr, FLOAT_NO_HALF(_name), ref=_ref, helpers=helpers(_helper), method=False,
          inplace=False,
          domain=(0.1, 6.0))

# the normal distribution, erfcx, entropy, sinc
defop("special_erfcx", U, "erfcx_{T}(a)", FLOAT_NO_HALF("erfcx"),
      vjp=lambda g, out, a: g * (2 * a * out - TWO_OVER_SQRT_PI),
      ref="erfcx", helpers=helpers("erfcx"), method=False, inplace=False)
defop("special_ndtr", U, "ndtr_{T}(a)", FLOAT, vjp=lambda g, out, a: g * INV_SQRT_2PI * (a * a * -0.5).exp(),
      ref="ndtr", helpers=helpers("ndtr"), method=False, inplace=False, grad_fn="MulBackward1")
defop("special_ndtri", U, "ndtri_{T}(a)", FLOAT_NO_HALF("ndtri"),
      vjp=lambda g, out, a: g / INV_SQRT_2PI * (out * out * 0.5).exp(),
      ref="ndtri", helpers=helpers("ndtri"), method=False, inplace=False, domain=(0.05, 0.95))
defop("special_log_ndtr", U, "log_ndtr_{T}(a)", FLOAT_NO_HALF("log_ndtr"),
      vjp=lambda g, out, a: g * INV_SQRT_2PI * (-(out + a * a * 0.5)).exp(),
      ref="log_ndtr", helpers=helpers("log_ndtr"), method=False, inplace=False)
defop("special_entr", U, "isnan(a) ? a : a > (T)0 ? -a * log(a) : a == (T)0 ? (T)0 : (T)-INFINITY", FLOAT,
      vjp=lambda g, out, a: -g * (1 + a.log()), ref="entr", method=False, inplace=False, domain=(0.1, 3.0))
defop("sinc", U, "a == (T)0 ? (T)1 : sinpi(a) / ((T)3.14159265358979323846 * a)", FLOAT,
      vjp=lambda g, out, a: g * _sinc_slope(a), ref="sinc")
defop("_mvlgamma", U, "mvlgamma_{T}(a, p)", FLOAT,
      vjp=lambda g, out, a, p: g * sum(digamma(a - i / 2) for i in range(p)), ref="multigammaln",
      params={"p": (1, "int")}, helpers=helpers("mvlgamma"), check=_check_p, method=False,
      grad_fn="MvlgammaBackward0", domain=(2.0, 6.0))
_c("logit", """
inline {T} logit_{T}({T} x, {T} eps) {
    if (eps >= ({T})0 && !isnan(x)) x = clamp(x, eps, ({T})1 - eps);  /* clamp would turn NaN into eps */
    return log(x / (({T})1 - x));
}
""")
defop("_logit", U, "logit_{T}(a, (T)eps)", FLOAT, helpers=helpers("logit"),
      vjp=lambda g, out, a, eps: _logit_vjp(g, a, eps), ref="logit", params={"eps": (-1.0, "real")},
      method=False, grad_fn="LogitBackward0", domain=(0.05, 0.95))

# binary rows
defop("xlogy", B, "isnan(b) ? b : (a == (T)0 ? (T)0 : a * log(b))", FLOAT,
      vjp=(lambda g, out, a, b: g * xlogy(a != 0, b), lambda g, out, a, b: g * a / b), ref="xlogy",
      grad_fn=_by_operands("XlogyBackward"), domain=(0.1, 3.0))
defop("special_xlog1py", B, "isnan(b) ? b : (a == (T)0 ? (T)0 : a * log1p(b))", FLOAT,
      vjp=(lambda g, out, a, b: g * special_xlog1py(a != 0, b), lambda g, out, a, b: g * a / (b + 1)),
      ref="xlog1py", grad_fn=_by_operands("SpecialXlog1PyBackward"), method=False, inplace=False, domain=(0.1, 3.0))
defop("special_zeta", B, "zeta_{T}(a, b)", FLOAT_NO_HALF("zeta"),
      vjp=(_not_implemented("zeta"), lambda g, out, a, b: -g * a * special_zeta(a + 1, b)), ref="zeta",
      helpers=helpers("zeta"), grad_fn=_by_operands("SpecialZetaBackward"), method=False, inplace=False,
      domain=(1.5, 4.0))
defop("logaddexp", B, "(isinf(a) && a == b) ? a : max(a, b) + log1p(exp(-fabs(a - b)))", ew.FLOAT_ONLY,
      vjp=(lambda g, out, a, b: g / (1 + (b - a).exp()), lambda g, out, a, b: g / (1 + (a - b).exp())),
      ref="logaddexp", check=_check_tensor_operands("logaddexp"), int_ok=False, inplace=False)
defop("logaddexp2", B, "(isinf(a) && a == b) ? a : max(a, b) + log1p(exp2(-fabs(a - b))) * (T)1.44269504088896340736",
      ew.FLOAT_ONLY, vjp=(lambda g, out, a, b: g / (1 + (b - a).exp2()), lambda g, out, a, b: g / (1 + (a - b).exp2())),
      ref="logaddexp2", check=_check_tensor_operands("logaddexp2"), int_ok=False, inplace=False)
# PyTorch's rule: the gradient passes to input unchanged, other gets zeros
defop("nextafter", B, "nextafter(a, b)", ew.FLOAT_ONLY, vjp=(lambda g, out, a, b: g, lambda g, out, a, b: g * 0),
      ref="nextafter", int_ok=False)


def _heaviside_check(inputs, compute, params):
    a, b = inputs
    if not isinstance(b, Tensor):
        raise TypeError(f"heaviside(): argument 'values' (position 2) must be Tensor, not {type(b).__name__}")
    if a.dtype is not b.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")


def _no_heaviside_derivative(g, out, *inputs):
    ew._no_derivative("heaviside")


defop("heaviside", B, "a == (T)0 ? b : (T)(a > (T)0)", vjp=(_no_heaviside_derivative, _no_heaviside_derivative),
      ref="heaviside", check=_heaviside_check)
_c("gcd", """
/* |MIN| wraps to MIN as in PyTorch; negated in unsigned arithmetic, since -a on MIN is undefined in C and the
   compiler may then assume the absolute value is positive */
inline {T} gcd_{T}({T} a, {T} b) {
    a = a < 0 ? ({T})(0UL - (ulong)a) : a;
    b = b < 0 ? ({T})(0UL - (ulong)b) : b;
    while (a != 0) { {T} c = a; a = b % a; b = c; }
    return b;
}
""")
defop("gcd", B, "gcd_{T}(a, b)", ew.INTEGER_ONLY, ref="gcd", helpers=helpers("gcd"))
defop("lcm", B, "gcd_{T}(a, b) == 0 ? 0 : (T)((a / gcd_{T}(a, b) * b) < 0 ? -(a / gcd_{T}(a, b) * b) "
                ": (a / gcd_{T}(a, b) * b))", ew.INTEGER_ONLY, ref="lcm", helpers=helpers("gcd"))

# frexp: two rows over OpenCL's frexp (the exponent an int32 result)
_c("frexp", """
inline {T} frexp_mantissa_{T}({T} x) { int e; return isfinite(x) ? frexp(x, &e) : x; }
inline int frexp_exponent_{T}({T} x) { int e; frexp(x, &e); return isfinite(x) ? e : 0; }
""")
defop("_frexp_mantissa", U, "frexp_mantissa_{T}(a)", ew.FLOAT_ONLY,
      vjp=lambda g, out, a: g / _frexp_exponent(a).double().exp2().to(g.dtype), helpers=helpers("frexp"),
      method=False, inplace=False, grad_fn="FrexpBackward0", int_ok=False)
defop("_frexp_exponent", U, "frexp_exponent_{T}(a)", lambda r: (ew.FLOAT_ONLY(r)[0], _dt.int32),
      helpers=helpers("frexp"), method=False, inplace=False, int_ok=False)

# orthogonal polynomials: x and the degree n, each a tensor or a number; no derivative in PyTorch
for _name, _fn, _helper in (
        ("chebyshev_polynomial_t", "chebyshev_t", "chebyshev"), ("chebyshev_polynomial_u", "chebyshev_u", "chebyshev"),
        ("chebyshev_polynomial_v", "chebyshev_v", "chebyshev"), ("chebyshev_polynomial_w", "chebyshev_w", "chebyshev"),
        ("shifted_chebyshev_polynomial_t", "shifted_t", "shifted_chebyshev"),
        ("shifted_chebyshev_polynomial_u", "shifted_u", "shifted_chebyshev"),
        ("shifted_chebyshev_polynomial_v", "shifted_v", "shifted_chebyshev"),
        ("shifted_chebyshev_polynomial_w", "shifted_w", "shifted_chebyshev"),
        ("hermite_polynomial_h", "hermite_h", "hermite_laguerre_legendre"),
        ("hermite_polynomial_he", "hermite_he", "hermite_laguerre_legendre"),
        ("laguerre_polynomial_l", "laguerre_l", "hermite_laguerre_legendre"),
        ("legendre_polynomial_p", "legendre_p", "hermite_laguerre_legendre")):
    defop("special_" + _name, B, _fn + "_{T}(a, b)", FLOAT_NO_HALF(_name), ref=_name, helpers=helpers(_helper),
          method=False,
          inplace=False)


# angle conversions (their in-place forms come from the rows too)
defop("deg2rad", U, "a * (T)0.0174532925199432957692", FLOAT, vjp=lambda g, out, a: g * (math.pi / 180),
      ref="deg2rad")
defop("rad2deg", U, "a * (T)57.2957795130823208768", FLOAT, vjp=lambda g, out, a: g * (180 / math.pi),
      ref="rad2deg")


def _float_power_(self, exponent):
    """In place: PyTorch computes float_power in float64, so self must already be float64."""
    if self.dtype is not _dt.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {self.dtype.torch_name} but the "
                           "operation's result requires dtype Double")
    return self.pow_(exponent.double() if isinstance(exponent, Tensor) else float(exponent))


register("float_power_", _float_power_)


def _igamma_dtypes(name):
    def rule(r):
        if not r.is_floating_point:
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{r.torch_name}\'')
        return r, r
    return rule


def _igamma_slope(a, x):
    """d/dx P(a, x) = x^(a-1) e^-x / Gamma(a)."""
    return ((a - 1) * x.log() - x - lgamma(a)).exp()


defop("igamma", B, "igamma_{T}(a, b)", _igamma_dtypes("igamma"),
      vjp=(_not_implemented("igamma: input"), lambda g, out, a, x: g * _igamma_slope(a, x)), ref="gammainc",
      helpers=helpers("igamma"), domain=(0.5, 5.0), int_ok=False)
defop("igammac", B, "igammac_{T}(a, b)", _igamma_dtypes("igammac"),
      vjp=(_not_implemented("igammac: input"), lambda g, out, a, x: -g * _igamma_slope(a, x)), ref="gammaincc",
      helpers=helpers("igamma"), domain=(0.5, 5.0), int_ok=False)


def _sinc_slope(a):
    """d sinc / dx = (cos(pi x) pi x - sin(pi x)) / (pi x^2), 0 at x = 0 (PyTorch's formula)."""
    px = a * math.pi
    return ((px * px.cos() - px.sin()) / (px * a)).where(a != 0, 0.0)


def _logit_vjp(g, a, eps):
    """PyTorch's logit_backward: 1 / (x (1 - x)); with eps, 0 outside [eps, 1 - eps]; NaN outside [0, 1]."""
    slope = g / (a * (1 - a))
    if eps < 0:
        return slope.where((a >= 0) & (a <= 1), math.nan)
    return slope.where((a >= eps) & (a <= 1 - eps), 0.0)


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

def logit(input, eps=None, *, out=None):
    """log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given."""
    return apply(OPS["_logit"], (input,), {"eps": -1.0 if eps is None else float(eps)}, out=out)


def _logit_(self, eps=None):
    return apply(OPS["_logit"], (self,), {"eps": -1.0 if eps is None else float(eps)}, inplace=True)


def mvlgamma(input, p, *, out=None):
    """The multivariate log-gamma function of dimension p: sum_i lgamma(x - i/2) + p(p-1)/4 log(pi)."""
    return apply(OPS["_mvlgamma"], (input,), {"p": _int_n(p, "mvlgamma")}, out=out)


def _mvlgamma_(self, p):
    return apply(OPS["_mvlgamma"], (self,), {"p": _int_n(p, "mvlgamma_")}, inplace=True)


def frexp(input, *, out=None):
    """(mantissa, exponent) with input = mantissa * 2 ** exponent and |mantissa| in [0.5, 1)."""
    if not isinstance(input, Tensor) or not input.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa, exponent = (None, None) if out is None else out
    if out is not None and exponent.dtype is not _dt.int32:
        raise RuntimeError(f"torch.frexp() expects exponent to have int dtype but got {exponent.dtype}")
    return FrexpResult(_frexp_mantissa(input, out=mantissa), _frexp_exponent(input, out=exponent))


def ldexp(input, other, *, out=None):
    """input * 2 ** other (a composite, as in PyTorch: its gradient comes from mul and pow)."""
    return ew.mul(input, ew.pow(2.0, other), out=out)


def _ldexp_(self, other):
    return self.mul_(ew.pow(2.0, other))


def _make_frexp_result():
    cls = collections.namedtuple("frexp", ["mantissa", "exponent"])
    cls.__module__ = "torch.return_types"
    return cls


FrexpResult = _make_frexp_result()
register("logit", lambda self, eps=None: logit(self, eps))
register("logit_", _logit_)
register("mvlgamma", lambda self, p: mvlgamma(self, p))
register("mvlgamma_", _mvlgamma_)
register("frexp", lambda self: frexp(self))
register("ldexp", lambda self, other: ldexp(self, other))
register("ldexp_", _ldexp_)

# the names cltensor exports at the top level (torch.*)
TORCH_NAMES = ["igamma", "igammac", "deg2rad", "rad2deg", "lgamma", "digamma", "polygamma", "erfinv", "i0", "sinc",
               "logit", "xlogy", "mvlgamma", "logaddexp",
               "logaddexp2", "nextafter", "heaviside", "gcd", "lcm", "frexp", "ldexp"]
