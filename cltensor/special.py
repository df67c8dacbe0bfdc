"""torch.special: PyTorch's names for the special-function rows of cltensor/ops/special.py, and the
ones torch.special shares with the base table and the reductions."""
from .ops import elementwise as _ew, reduce as _reduce, special as _sp

digamma, erfinv, polygamma, i0, sinc, logit, xlogy, multigammaln = (
    _sp.digamma, _sp.erfinv, _sp.polygamma, _sp.i0, _sp.sinc, _sp.logit, _sp.xlogy, _sp.mvlgamma)
gammaln, psi = _sp.lgamma, _sp.digamma
gammainc, gammaincc = _sp.igamma, _sp.igammac
erf, erfc, exp2, expm1, log1p, expit = _ew.erf, _ew.erfc, _ew.exp2, _ew.expm1, _ew.log1p, _ew.sigmoid
round = _ew.round  # noqa: A001 (torch.special.round)
logsumexp, softmax, log_softmax = _reduce.logsumexp, _reduce.softmax, _reduce.log_softmax


def _from_row(name):
    fn = getattr(_sp, "special_" + name)
    fn.__name__ = name
    return fn


(erfcx, i0e, i1, i1e, ndtr, ndtri, log_ndtr, entr, xlog1py, zeta, bessel_j0, bessel_j1, bessel_y0, bessel_y1,
 modified_bessel_i0, modified_bessel_i1, modified_bessel_k0, modified_bessel_k1, scaled_modified_bessel_k0,
 scaled_modified_bessel_k1, airy_ai, spherical_bessel_j0, chebyshev_polynomial_t, chebyshev_polynomial_u,
 chebyshev_polynomial_v, chebyshev_polynomial_w, shifted_chebyshev_polynomial_t, shifted_chebyshev_polynomial_u,
 shifted_chebyshev_polynomial_v, shifted_chebyshev_polynomial_w, hermite_polynomial_h, hermite_polynomial_he,
 laguerre_polynomial_l, legendre_polynomial_p) = map(_from_row, (
    "erfcx", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "entr", "xlog1py", "zeta", "bessel_j0", "bessel_j1",
    "bessel_y0", "bessel_y1", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
    "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "airy_ai", "spherical_bessel_j0",
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
    "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
    "legendre_polynomial_p"))

__all__ = sorted(n for n in dir() if not n.startswith("_"))
