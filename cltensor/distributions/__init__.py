"""torch.distributions: parameterisable probability distributions, their transforms and the
KL divergences between them, with PyTorch's API; every draw comes from cltensor's Philox
generator on the tensors' device."""
import sys as _sys

from . import constraints, continuous, discrete, gamma_family, more, multivariate, transformed, transforms
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .continuous import Cauchy, Exponential, Laplace, Normal, Uniform
from .discrete import Bernoulli, Categorical, Geometric, OneHotCategorical, OneHotCategoricalStraightThrough
from .gamma_family import Beta, Binomial, Chi2, Dirichlet, Gamma, Multinomial, Poisson, StudentT
from .transformed import (ExpRelaxedCategorical, Gumbel, HalfCauchy, HalfNormal, Independent, Kumaraswamy,
                          LogisticNormal, LogitRelaxedBernoulli, LogNormal, Pareto, RelaxedBernoulli,
                          RelaxedOneHotCategorical, TransformedDistribution, Weibull)
from .multivariate import LowRankMultivariateNormal, MixtureSameFamily, MultivariateNormal, Wishart
from .more import (ContinuousBernoulli, FisherSnedecor, GeneralizedPareto, InverseGamma, LKJCholesky,
                   NegativeBinomial, VonMises)
from .transforms import *  # noqa: F401,F403
from . import kl
from .kl import kl_divergence, register_kl
from .constraint_registry import biject_to, transform_to

def _alias_pytorch_submodules():
    """PyTorch keeps one distribution per module (torch.distributions.normal...); ours group them.
    The PyTorch module names point at the module holding each, so that
    `from cltensor.distributions.normal import Normal` works as with PyTorch."""
    homes = {
        continuous: ["normal", "uniform", "exponential", "laplace", "cauchy"],
        discrete: ["bernoulli", "categorical", "one_hot_categorical", "geometric"],
        gamma_family: ["gamma", "chi2", "beta", "dirichlet", "studentT", "poisson", "binomial", "multinomial"],
        transformed: ["independent", "transformed_distribution", "log_normal", "half_normal", "half_cauchy",
                      "gumbel", "weibull", "pareto", "kumaraswamy", "logistic_normal", "relaxed_bernoulli",
                      "relaxed_categorical"],
        multivariate: ["multivariate_normal", "lowrank_multivariate_normal", "mixture_same_family", "wishart"],
        more: ["fishersnedecor", "inverse_gamma", "negative_binomial", "generalized_pareto", "continuous_bernoulli",
               "lkj_cholesky", "von_mises"],
    }
    for module, names in homes.items():
        for name in names:
            _sys.modules[f"{__name__}.{name}"] = module
            globals()[name] = module


_alias_pytorch_submodules()
