"""torch.distributions: parameterisable probability distributions, their transforms and the
KL divergences between them, with PyTorch's API; every draw comes from cltensor's Philox
generator on the tensors' device."""
from . import constraints
from .distribution import Distribution
from .continuous import Cauchy, Exponential, Laplace, Normal, Uniform
from .discrete import Bernoulli, Categorical, Geometric, OneHotCategorical, OneHotCategoricalStraightThrough
from .gamma_family import Beta, Binomial, Chi2, Dirichlet, Gamma, Multinomial, Poisson, StudentT
from .transformed import (ExpRelaxedCategorical, Gumbel, HalfCauchy, HalfNormal, Independent, Kumaraswamy,
                          LogisticNormal, LogitRelaxedBernoulli, LogNormal, Pareto, RelaxedBernoulli,
                          RelaxedOneHotCategorical, TransformedDistribution, Weibull)
from .transforms import *  # noqa: F401,F403
from .multivariate import LowRankMultivariateNormal, MixtureSameFamily, MultivariateNormal, Wishart
from .exp_family import ExponentialFamily
from .kl import kl_divergence, register_kl
from . import kl, transforms
from .constraint_registry import biject_to, transform_to
from .more import (ContinuousBernoulli, FisherSnedecor, GeneralizedPareto, InverseGamma, LKJCholesky,
                   NegativeBinomial, VonMises)
