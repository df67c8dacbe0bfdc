"""ExponentialFamily: densities p(x; t) = h(x) exp(<t, T(x)> - F(t)) with natural parameters t and
log normaliser F, whose entropy and same-family KL follow from F's gradient (Bregman divergence)."""
import cltensor as torch
from .distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """Subclasses give _natural_params, _log_normalizer(*natural_params) and _mean_carrier_measure
    (E[log h(x)])."""

    @property
    def _natural_params(self):
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError

    def entropy(self):
        """H = F(t) - <t, grad F(t)> - E[log h(x)], by autograd on the log normaliser."""
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        lg_normal = self._log_normalizer(*nparams)
        gradients = torch.autograd.grad(lg_normal.sum(), nparams, create_graph=True)
        result = lg_normal - self._mean_carrier_measure
        for nparam, grad in zip(nparams, gradients):
            result = result - (nparam * grad).reshape(self._batch_shape + (-1,)).sum(-1)
        return result
