"""torch.special: PyTorch's names for the special-function rows of cltensor/ops/special.py."""
from .ops.special import digamma, erfinv, lgamma as gammaln, polygamma

psi = digamma

__all__ = ["digamma", "erfinv", "gammaln", "polygamma", "psi"]
