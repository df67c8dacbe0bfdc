"""cltensor.distributions against torch.distributions: every distribution's moments, log_prob, cdf,
icdf and entropy for the same parameters; sample shapes, dtypes and moments from fixed seeds (the
device samplers for gamma, poisson and binomial included); gradients through rsample and log_prob;
kl_divergence pairs; transforms and biject_to/transform_to; validation errors; expand and
enumerate_support.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import cltensor as torch
import cltensor.distributions as D
from cltensor.autograd import gradcheck
from cltensor.distributions import constraints
from helpers import HAVE_TORCH, needs_fp64, np_of, real_torch

if HAVE_TORCH:
    import torch.distributions as TD

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is the oracle")
# PyTorch's Wishart.rsample warns on every draw (its singularity test is inverted; ours warns only
# for a draw that is not positive definite)
pytestmark = pytest.mark.filterwarnings("ignore:Singular sample detected")

P2 = [[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]]
COV = [[2.0, 0.3], [0.3, 1.0]]

# name -> builder(t, dists): the same distribution from cltensor (t=cltensor) and PyTorch
CASES = {
    "Normal": lambda t, d: d.Normal(t.tensor([0.5, -1.0]), t.tensor([1.0, 2.0])),
    "Bernoulli": lambda t, d: d.Bernoulli(probs=t.tensor([0.3, 0.9])),
    "BernoulliLogits": lambda t, d: d.Bernoulli(logits=t.tensor([-1.0, 2.0])),
    "Categorical": lambda t, d: d.Categorical(probs=t.tensor(P2)),
    "CategoricalLogits": lambda t, d: d.Categorical(logits=t.tensor([[1.0, -2.0, 0.5]])),
    "Uniform": lambda t, d: d.Uniform(t.tensor([0.0, 1.0]), t.tensor([2.0, 3.0])),
    "Beta": lambda t, d: d.Beta(t.tensor([0.5, 2.0]), t.tensor([1.5, 3.0])),
    "Gamma": lambda t, d: d.Gamma(t.tensor([0.5, 2.0]), t.tensor([1.5, 3.0])),
    "Dirichlet": lambda t, d: d.Dirichlet(t.tensor([[0.5, 2.0, 1.0], [3.0, 1.0, 4.0]])),
    "MultivariateNormal": lambda t, d: d.MultivariateNormal(t.tensor([0.0, 1.0]), covariance_matrix=t.tensor(COV)),
    "MultivariateNormalPrecision": lambda t, d: d.MultivariateNormal(t.tensor([[0.0, 1.0], [1.0, 2.0]]),
                                                                     precision_matrix=t.tensor(COV)),
    "MultivariateNormalTril": lambda t, d: d.MultivariateNormal(t.tensor([0.0, 1.0]),
                                                                scale_tril=t.tensor([[1.5, 0.0], [0.3, 0.5]])),
    "Independent": lambda t, d: d.Independent(d.Normal(t.tensor([0.5, -1.0]), t.tensor([1.0, 2.0])), 1),
    "Exponential": lambda t, d: d.Exponential(t.tensor([0.5, 2.0])),
    "Laplace": lambda t, d: d.Laplace(t.tensor([0.5, 2.0]), t.tensor([1.0, 0.5])),
    "LogNormal": lambda t, d: d.LogNormal(t.tensor([0.5, 0.0]), t.tensor([1.0, 0.5])),
    "Cauchy": lambda t, d: d.Cauchy(t.tensor([0.5, 0.0]), t.tensor([1.0, 0.5])),
    "Poisson": lambda t, d: d.Poisson(t.tensor([0.5, 20.0])),
    "Binomial": lambda t, d: d.Binomial(10, t.tensor([0.3, 0.6])),
    "Multinomial": lambda t, d: d.Multinomial(10, t.tensor(P2)),
    "OneHotCategorical": lambda t, d: d.OneHotCategorical(t.tensor(P2)),
    "Geometric": lambda t, d: d.Geometric(t.tensor([0.3, 0.6])),
    "StudentT": lambda t, d: d.StudentT(t.tensor([3.0, 5.0]), t.tensor([0.5, 0.0]), t.tensor([1.0, 2.0])),
    "Chi2": lambda t, d: d.Chi2(t.tensor([3.0, 5.0])),
    "HalfNormal": lambda t, d: d.HalfNormal(t.tensor([3.0, 5.0])),
    "HalfCauchy": lambda t, d: d.HalfCauchy(t.tensor([3.0, 5.0])),
    "Gumbel": lambda t, d: d.Gumbel(t.tensor([0.5, 0.0]), t.tensor([1.0, 0.5])),
    "LowRankMultivariateNormal": lambda t, d: d.LowRankMultivariateNormal(t.tensor([0.0, 1.0]),
                                                                          t.tensor([[1.0], [0.5]]),
                                                                          t.tensor([1.0, 2.0])),
    "MixtureSameFamily": lambda t, d: d.MixtureSameFamily(d.Categorical(t.tensor([0.3, 0.7])),
                                                          d.Normal(t.tensor([0.0, 2.0]), t.tensor([1.0, 0.5]))),
    "RelaxedBernoulli": lambda t, d: d.RelaxedBernoulli(t.tensor(0.5), probs=t.tensor([0.3, 0.6])),
    "RelaxedOneHotCategorical": lambda t, d: d.RelaxedOneHotCategorical(t.tensor(0.5), probs=t.tensor(P2)),
    "Weibull": lambda t, d: d.Weibull(t.tensor([1.0, 2.0]), t.tensor([0.5, 3.0])),
    "Pareto": lambda t, d: d.Pareto(t.tensor([1.0, 2.0]), t.tensor([2.5, 3.0])),
    "ParetoHeavy": lambda t, d: d.Pareto(t.tensor([1.0, 2.0]), t.tensor([0.8, 1.5])),
    "Kumaraswamy": lambda t, d: d.Kumaraswamy(t.tensor([1.0, 2.0]), t.tensor([0.5, 3.0])),
    "LogisticNormal": lambda t, d: d.LogisticNormal(t.tensor([0.0, 1.0]), t.tensor([1.0, 0.5])),
    "ContinuousBernoulli": lambda t, d: d.ContinuousBernoulli(t.tensor([0.2, 0.4995, 0.5, 0.8])),
    "ContinuousBernoulliLogits": lambda t, d: d.ContinuousBernoulli(logits=t.tensor([-1.0, 0.0, 2.0])),
    "VonMises": lambda t, d: d.VonMises(t.tensor([1.0, 0.0, -2.0]), t.tensor([0.5, 3.0, 40.0])),
    "Wishart": lambda t, d: d.Wishart(t.tensor([4.0, 6.0]), covariance_matrix=t.tensor(COV)),
    "LKJCholesky": lambda t, d: d.LKJCholesky(3, t.tensor([0.5, 2.0])),
    "FisherSnedecor": lambda t, d: d.FisherSnedecor(t.tensor([3.0, 5.0]), t.tensor([6.0, 7.0])),
    "InverseGamma": lambda t, d: d.InverseGamma(t.tensor([3.0, 5.0]), t.tensor([6.0, 7.0])),
    "NegativeBinomial": lambda t, d: d.NegativeBinomial(t.tensor([3.0, 5.0]), t.tensor([0.3, 0.6])),
    "GeneralizedPareto": lambda t, d: d.GeneralizedPareto(t.tensor([0.0, 1.0]), t.tensor([1.0, 0.5]),
                                                          t.tensor([0.2, -0.1])),
}
METHODS_NOT_IN_CLTENSOR = set()  # (distribution, method) pairs PyTorch has and cltensor lacks


def _pair(name):
    return CASES[name](torch, D), CASES[name](real_torch, TD)


def _values(td, n=3):
    real_torch.manual_seed(0)
    x = td.sample((n,))
    return torch.tensor(x.numpy()), x


def _compare(ours, theirs, rtol=2e-5, atol=2e-5):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype)
    np.testing.assert_allclose(np_of(ours), theirs.detach().numpy(), rtol=rtol, atol=atol, equal_nan=True)


def _torch_value(fn):
    try:
        return fn()
    except NotImplementedError:
        return None


@needs_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_pytorch(name):
    ours, theirs = _pair(name)
    assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape
    assert ours.has_rsample == theirs.has_rsample
    assert ours.support.event_dim == theirs.support.event_dim
    for prop in ("mean", "variance", "stddev", "mode"):
        expected = _torch_value(lambda: getattr(theirs, prop))
        if expected is not None:
            _compare(getattr(ours, prop), expected)
    x, tx = _values(theirs)
    for method in ("log_prob", "cdf"):
        expected = _torch_value(lambda: getattr(theirs, method)(tx))
        if expected is not None and (name, method) not in METHODS_NOT_IN_CLTENSOR:
            _compare(getattr(ours, method)(x), expected, rtol=1e-4)
    expected = _torch_value(theirs.entropy)
    if expected is not None:
        _compare(ours.entropy(), expected, rtol=1e-4)
    q = real_torch.tensor([0.1, 0.5, 0.9]).reshape((3,) + (1,) * len(theirs.batch_shape))
    expected = _torch_value(lambda: theirs.icdf(q.expand((3,) + tuple(theirs.batch_shape))))
    if expected is not None:
        _compare(ours.icdf(torch.tensor(q.expand((3,) + tuple(theirs.batch_shape)).numpy())), expected, rtol=1e-4)


@needs_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_sample_shape_dtype_and_expand(name):
    ours, theirs = _pair(name)
    s = ours.sample((4, 2))
    assert tuple(s.shape) == tuple(theirs.sample((4, 2)).shape)
    assert str(s.dtype) == str(theirs.sample().dtype)
    assert not s.requires_grad
    assert bool(ours.support.check(s).all())
    wide = ours.expand((3,) + tuple(ours.batch_shape))
    assert wide.batch_shape == (3,) + tuple(ours.batch_shape)
    assert tuple(wide.sample().shape) == (3,) + tuple(ours.batch_shape) + tuple(ours.event_shape)
    if ours.has_rsample:
        assert tuple(ours.rsample((5,)).shape) == (5,) + tuple(ours.batch_shape) + tuple(ours.event_shape)


def _moments(samples):
    x = np_of(samples).astype(np.float64)
    return x.mean(0), x.var(0)


# (name, parameters): draws' mean and variance within 5 standard errors of the exact values
MOMENT_CASES = [
    ("Normal", lambda: D.Normal(torch.tensor([0.5, -1.0]), torch.tensor([1.0, 2.0]))),
    ("Gamma", lambda: D.Gamma(torch.tensor([0.1, 0.7, 1.0, 4.0, 80.0]), torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0]))),
    ("Beta", lambda: D.Beta(torch.tensor([0.5, 2.0, 30.0]), torch.tensor([0.5, 5.0, 3.0]))),
    ("Poisson", lambda: D.Poisson(torch.tensor([0.3, 4.0, 12.0, 300.0]))),
    ("Binomial", lambda: D.Binomial(torch.tensor([5.0, 20.0, 200.0, 1000.0]), torch.tensor([0.9, 0.3, 0.5, 0.01]))),
    ("StudentT", lambda: D.StudentT(torch.tensor([5.0, 30.0]))),
    ("Exponential", lambda: D.Exponential(torch.tensor([0.5, 3.0]))),
    ("Laplace", lambda: D.Laplace(torch.tensor([0.5, 2.0]), torch.tensor([1.0, 0.5]))),
    ("Geometric", lambda: D.Geometric(torch.tensor([0.2, 0.7]))),
    ("Bernoulli", lambda: D.Bernoulli(torch.tensor([0.2, 0.7]))),
    ("Categorical", lambda: D.OneHotCategorical(torch.tensor([0.2, 0.5, 0.3]))),
    ("Multinomial", lambda: D.Multinomial(7, torch.tensor([0.2, 0.5, 0.3]))),
    ("MultivariateNormal", lambda: D.MultivariateNormal(torch.tensor([0.0, 1.0]), torch.tensor(COV))),
    ("Gumbel", lambda: D.Gumbel(torch.tensor([0.5]), torch.tensor([2.0]))),
    ("Weibull", lambda: D.Weibull(torch.tensor([1.0, 2.0]), torch.tensor([0.8, 3.0]))),
    ("NegativeBinomial", lambda: D.NegativeBinomial(torch.tensor([3.0, 20.0]), torch.tensor([0.3, 0.6]))),
    ("FisherSnedecor", lambda: D.FisherSnedecor(torch.tensor([20.0]), torch.tensor([30.0]))),
    ("Wishart", lambda: D.Wishart(torch.tensor(5.0), covariance_matrix=torch.tensor(COV))),
]


@pytest.mark.parametrize("name,make", MOMENT_CASES, ids=[c[0] for c in MOMENT_CASES])
def test_sample_moments(name, make):
    torch.manual_seed(1)
    dist = make()
    n = 40000
    mean, var = _moments(dist.sample((n,)))
    exact_mean, exact_var = np_of(dist.mean).astype(np.float64), np_of(dist.variance).astype(np.float64)
    np.testing.assert_allclose(mean, exact_mean, atol=5 * np.sqrt(exact_var / n).max() + 1e-6)
    # the variance's standard error, bounded through the fourth moment of a heavy-ish tail (kurtosis <= 12)
    np.testing.assert_allclose(var, exact_var, rtol=5 * np.sqrt(12 / n), atol=1e-6)


def test_von_mises_draws_have_the_circular_moments():
    torch.manual_seed(8)
    dist = D.VonMises(torch.tensor([1.0, 0.0, -3.0, 0.5]), torch.tensor([1e-4, 0.7, 4.0, 200.0]))
    x = dist.sample((40000,))
    pi32 = float(np.float32(math.pi))  # the float32 rounding of pi is above pi
    assert float(x.min()) >= -pi32 and float(x.max()) <= pi32
    mean_cos = np_of(torch.cos(x - dist.loc).mean(0))
    np.testing.assert_allclose(mean_cos, 1 - np_of(dist.variance), atol=5 * np.sqrt(0.5 / 40000))
    mean_sin = np_of(torch.sin(x - dist.loc).mean(0))
    np.testing.assert_allclose(mean_sin, 0.0, atol=5 * np.sqrt(0.5 / 40000))


def test_dirichlet_draws_lie_on_the_simplex_with_the_right_mean():
    torch.manual_seed(2)
    alpha = torch.tensor([0.3, 1.0, 5.0])
    x = D.Dirichlet(alpha).sample((20000,))
    np.testing.assert_allclose(np_of(x.sum(-1)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np_of(x.mean(0)), np_of(alpha / alpha.sum()), atol=0.01)


def test_device_samplers_are_reproducible_and_advance_the_generator():
    g = torch.Generator().manual_seed(7)
    a = torch._standard_gamma(torch.full((1000,), 2.5), generator=g)
    b = torch._standard_gamma(torch.full((1000,), 2.5), generator=g)
    again = torch._standard_gamma(torch.full((1000,), 2.5), generator=torch.Generator().manual_seed(7))
    assert np.array_equal(np_of(a), np_of(again)) and not np.array_equal(np_of(a), np_of(b))
    torch.manual_seed(3)
    p1 = torch.poisson(torch.full((500,), 40.0))
    torch.manual_seed(3)
    p2 = torch.poisson(torch.full((500,), 40.0))
    assert np.array_equal(np_of(p1), np_of(p2))
    assert np.all(np_of(p1) == np.floor(np_of(p1)))


def test_device_samplers_edge_values():
    assert np_of(torch.poisson(torch.tensor([0.0, 0.0]))).tolist() == [0.0, 0.0]
    counts = torch.binomial(torch.tensor([0.0, 7.0, 7.0, 9.0]), torch.tensor([0.5, 0.0, 1.0, 1.0]))
    assert np_of(counts).tolist() == [0.0, 0.0, 7.0, 9.0]
    tiny = np_of(torch._standard_gamma(torch.tensor([0.0, 1e-4, 1e-4])))
    assert np.all(tiny >= np.finfo(np.float32).tiny)  # never 0: log(sample) stays finite
    assert np.isnan(np_of(torch._standard_gamma(torch.tensor([float("nan"), -1.0])))).all()
    assert torch._standard_gamma(torch.ones(0)).shape == (0,)
    half = torch.poisson(torch.full((3,), 5.0, dtype=torch.float16))
    assert half.dtype == torch.float16
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        torch.poisson(torch.tensor([1, 2]))


@needs_torch
def test_standard_gamma_grad_matches_pytorch():
    alpha = np.array([0.05, 0.3, 0.3, 1.0, 2.5, 7.0, 10.0, 30.0, 60.0, 60.0, 200.0, 1000.0], np.float32)
    x = np.array([1e-6, 0.01, 2.0, 1.5, 2.0, 12.0, 14.0, 25.0, 50.0, 70.0, 230.0, 1050.0], np.float32)
    ours = torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(x))
    theirs = real_torch._standard_gamma_grad(real_torch.tensor(alpha), real_torch.tensor(x))
    np.testing.assert_allclose(np_of(ours), theirs.numpy(), rtol=2e-3)


@needs_torch
def test_gamma_rsample_gradient_is_the_implicit_one():
    torch.manual_seed(4)
    alpha = torch.tensor([0.4, 1.0, 3.0, 80.0], requires_grad=True)
    rate = torch.tensor([2.0, 1.0, 0.5, 1.0], requires_grad=True)
    x = D.Gamma(alpha, rate).rsample()
    x.sum().backward()
    standard = (x * rate).detach()
    expected = real_torch._standard_gamma_grad(real_torch.tensor(np_of(alpha)), real_torch.tensor(np_of(standard)))
    np.testing.assert_allclose(np_of(alpha.grad), expected.numpy() / np_of(rate), rtol=1e-4)
    np.testing.assert_allclose(np_of(rate.grad), -np_of(x) / np_of(rate), rtol=1e-5)


@needs_torch
def test_normal_rsample_gradient():
    torch.manual_seed(5)
    loc = torch.tensor([0.5, -1.0], requires_grad=True)
    scale = torch.tensor([1.0, 2.0], requires_grad=True)
    x = D.Normal(loc, scale).rsample((3,))
    (x ** 2).sum().backward()
    eps = (x.detach() - loc.detach()) / scale.detach()
    np.testing.assert_allclose(np_of(loc.grad), np_of((2 * x).sum(0)), rtol=1e-5)
    np.testing.assert_allclose(np_of(scale.grad), np_of((2 * x * eps).sum(0)), rtol=1e-5)


def _grad_pair(name, params, value, rtol=1e-4):
    """log_prob(value).sum() and entropy().sum() gradients with respect to params, ours vs PyTorch's."""
    ours_p = [torch.tensor(p, requires_grad=True) for p in params]
    theirs_p = [real_torch.tensor(p, requires_grad=True) for p in params]
    ours = getattr(D, name)(*ours_p)
    theirs = getattr(TD, name)(*theirs_p)
    (ours.log_prob(torch.tensor(value)).sum() + ours.entropy().sum()).backward()
    (theirs.log_prob(real_torch.tensor(value)).sum() + theirs.entropy().sum()).backward()
    for a, b in zip(ours_p, theirs_p):
        np.testing.assert_allclose(np_of(a.grad), b.grad.numpy(), rtol=rtol, atol=1e-5)


GRAD_CASES = [
    ("Normal", ([0.5, -1.0], [1.0, 2.0]), [0.3, 0.1]),
    ("Gamma", ([0.5, 2.0], [1.5, 3.0]), [0.3, 1.1]),
    ("Beta", ([0.5, 2.0], [1.5, 3.0]), [0.3, 0.6]),
    ("Dirichlet", ([[0.5, 2.0, 1.0]],), [[0.2, 0.5, 0.3]]),
    ("StudentT", ([3.0, 5.0], [0.5, 0.0], [1.0, 2.0]), [0.3, -1.0]),
    ("Laplace", ([0.5, 2.0], [1.0, 0.5]), [0.3, 1.0]),
    ("Categorical", ([[0.2, 0.5, 0.3]],), [2.0]),
    ("Bernoulli", ([0.3, 0.9],), [1.0, 0.0]),
    ("MultivariateNormal", ([0.0, 1.0], COV), [0.5, 0.2]),
    ("Poisson", ([0.5, 20.0],), [1.0, 18.0]),
]


@needs_torch
@pytest.mark.parametrize("name,params,value", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_log_prob_and_entropy_gradients_match_pytorch(name, params, value):
    if name == "Poisson":  # no entropy in PyTorch
        ours_p, theirs_p = torch.tensor(params[0], requires_grad=True), real_torch.tensor(params[0], requires_grad=True)
        D.Poisson(ours_p).log_prob(torch.tensor(value)).sum().backward()
        TD.Poisson(theirs_p).log_prob(real_torch.tensor(value)).sum().backward()
        np.testing.assert_allclose(np_of(ours_p.grad), theirs_p.grad.numpy(), rtol=1e-4)
        return
    _grad_pair(name, params, value)


@needs_fp64
def test_log_prob_gradcheck_float64():
    loc = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    scale = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    conc = torch.tensor([0.7, 1.0], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([0.3, 0.6], dtype=torch.float64)
    assert gradcheck(lambda l, s: D.Normal(l, s).log_prob(x), (loc, scale))
    assert gradcheck(lambda c, r: D.Gamma(c, r).log_prob(x) + D.Gamma(c, r).entropy(), (conc, scale))
    assert gradcheck(lambda a, b: D.Beta(a, b).log_prob(x), (conc, scale))
    cov = torch.tensor(COV, dtype=torch.float64, requires_grad=True)
    # symmetrised, as the Cholesky factorisation reads only the lower triangle
    assert gradcheck(lambda m, c: D.MultivariateNormal(m, (c + c.mT) / 2).log_prob(x), (loc, cov))


@needs_fp64
@needs_torch
def test_standard_gamma_grad_float64_matches_pytorch():
    alpha = np.array([0.3, 1.0, 2.5, 10.0, 40.0])
    x = np.array([0.2, 1.5, 4.0, 8.0, 45.0])
    ours = torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(x))
    theirs = real_torch._standard_gamma_grad(real_torch.tensor(alpha), real_torch.tensor(x))
    assert ours.dtype == torch.float64
    np.testing.assert_allclose(np_of(ours), theirs.numpy(), rtol=1e-3)


KL_CASES = [
    ("Normal", "Normal"), ("Bernoulli", "Bernoulli"), ("Categorical", "Categorical"), ("Beta", "Beta"),
    ("Gamma", "Gamma"), ("Dirichlet", "Dirichlet"), ("MultivariateNormal", "MultivariateNormalTril"),
    ("LowRankMultivariateNormal", "MultivariateNormal"), ("Uniform", "Uniform"), ("Independent", "Independent"),
    ("LogNormal", "LogNormal"), ("Poisson", "Poisson"), ("Exponential", "Gamma"), ("Normal", "Laplace"),
    ("Gumbel", "Gumbel"), ("Binomial", "Binomial"), ("Exponential", "Exponential"), ("Laplace", "Laplace"),
    ("Geometric", "Geometric"), ("Cauchy", "Cauchy"), ("Pareto", "Pareto"), ("HalfNormal", "HalfNormal"),
    ("OneHotCategorical", "OneHotCategorical"), ("Beta", "Uniform"), ("Uniform", "Normal"),
    ("Laplace", "Normal"), ("Gamma", "Normal"), ("Gumbel", "Normal"), ("Normal", "Gumbel"), ("Exponential", "Gumbel"),
    ("Gamma", "Gumbel"), ("Uniform", "Gumbel"), ("Uniform", "Exponential"), ("Uniform", "Gamma"),
    ("Gamma", "Exponential"), ("Exponential", "Normal"), ("Bernoulli", "Poisson"),
    ("Normal", "Beta"), ("Poisson", "Binomial"), ("Gamma", "Pareto"), ("Laplace", "Uniform"),
    ("Beta", "Exponential"), ("Beta", "Gamma"), ("Beta", "Normal"), ("Uniform", "Beta"), ("Uniform", "Pareto"),
    ("Pareto", "Exponential"), ("Pareto", "Gamma"), ("Pareto", "Normal"), ("ParetoHeavy", "Normal"),
]
# the q of each pair: the same family with other parameters
OTHER = {
    "Normal": lambda t, d: d.Normal(t.tensor([0.0, 1.0]), t.tensor([2.0, 0.5])),
    "Bernoulli": lambda t, d: d.Bernoulli(t.tensor([0.0, 0.5])),
    "Categorical": lambda t, d: d.Categorical(t.tensor([[0.5, 0.5, 0.0], [0.3, 0.3, 0.4]])),
    "OneHotCategorical": lambda t, d: d.OneHotCategorical(t.tensor([[0.5, 0.4, 0.1], [0.3, 0.3, 0.4]])),
    "Beta": lambda t, d: d.Beta(t.tensor([1.0, 4.0]), t.tensor([2.0, 0.5])),
    "Gamma": lambda t, d: d.Gamma(t.tensor([1.0, 4.0]), t.tensor([2.0, 0.5])),
    "Dirichlet": lambda t, d: d.Dirichlet(t.tensor([[1.0, 1.0, 2.0], [0.5, 2.0, 2.0]])),
    "MultivariateNormalTril": CASES["MultivariateNormalTril"],
    "MultivariateNormal": CASES["MultivariateNormal"],
    "Uniform": lambda t, d: d.Uniform(t.tensor([-1.0, 1.5]), t.tensor([3.0, 4.0])),
    "Independent": lambda t, d: d.Independent(d.Normal(t.tensor([0.0, 1.0]), t.tensor([2.0, 0.5])), 1),
    "LogNormal": lambda t, d: d.LogNormal(t.tensor([0.0, 1.0]), t.tensor([2.0, 0.5])),
    "Poisson": lambda t, d: d.Poisson(t.tensor([1.0, 25.0])),
    "Laplace": lambda t, d: d.Laplace(t.tensor([0.0, 1.0]), t.tensor([2.0, 0.5])),
    "Gumbel": lambda t, d: d.Gumbel(t.tensor([0.0, 1.0]), t.tensor([2.0, 0.5])),
    "Binomial": lambda t, d: d.Binomial(10, t.tensor([0.5, 0.1])),
    "Exponential": lambda t, d: d.Exponential(t.tensor([1.0, 0.1])),
    "Geometric": lambda t, d: d.Geometric(t.tensor([0.5, 0.1])),
    "Cauchy": lambda t, d: d.Cauchy(t.tensor([0.0, 1.0]), t.tensor([2.0, 0.5])),
    "Pareto": lambda t, d: d.Pareto(t.tensor([0.5, 3.0]), t.tensor([2.0, 0.5])),
    "HalfNormal": lambda t, d: d.HalfNormal(t.tensor([1.0, 2.0])),
    "ContinuousBernoulli": lambda t, d: d.ContinuousBernoulli(t.tensor([0.7, 0.5, 0.1, 0.3])),
}


@needs_torch
@pytest.mark.parametrize("p,q", KL_CASES, ids=[f"{p}-{q}" for p, q in KL_CASES])
def test_kl_divergence_matches_pytorch(p, q):
    make_q = OTHER.get(q, CASES[q])
    ours = D.kl_divergence(CASES[p](torch, D), make_q(torch, D))
    theirs = TD.kl_divergence(CASES[p](real_torch, TD), make_q(real_torch, TD))
    _compare(ours, theirs, rtol=1e-4)


def test_kl_registry_dispatch_and_errors():
    class MyNormal(D.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), D.Normal(1.0, 2.0)
    np.testing.assert_allclose(np_of(D.kl_divergence(p, q)), np_of(D.kl_divergence(D.Normal(0.0, 1.0), q)))

    @D.register_kl(MyNormal, D.Normal)
    def _always_seven(p, q):
        return torch.tensor(7.0)

    assert D.kl_divergence(p, q).item() == 7.0
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Normal and q type "
                                                  "Categorical"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Categorical(torch.tensor([0.5, 0.5])))
    with pytest.raises(TypeError, match="Expected type_p to be a Distribution subclass"):
        D.register_kl(int, D.Normal)


TRANSFORM_CASES = {
    "Exp": lambda t, T: T.ExpTransform(),
    "Sigmoid": lambda t, T: T.SigmoidTransform(),
    "Tanh": lambda t, T: T.TanhTransform(),
    "Softplus": lambda t, T: T.SoftplusTransform(),
    "Affine": lambda t, T: T.AffineTransform(t.tensor([1.0, -2.0, 0.5]), t.tensor([2.0, -0.5, 3.0])),
    "AffineEvent": lambda t, T: T.AffineTransform(0.5, t.tensor([2.0, -0.5, 3.0]), event_dim=1),
    "Power": lambda t, T: T.PowerTransform(t.tensor(2.5)),
    "StickBreaking": lambda t, T: T.StickBreakingTransform(),
    "Compose": lambda t, T: T.ComposeTransform([T.AffineTransform(1.0, 2.0), T.ExpTransform()]),
    "Independent": lambda t, T: T.IndependentTransform(T.SigmoidTransform(), 1),
    "CorrCholesky": lambda t, T: T.CorrCholeskyTransform(),
    "LowerCholesky": lambda t, T: T.LowerCholeskyTransform(),
    "Reshape": lambda t, T: T.ReshapeTransform((3,), (3, 1)),
    "InverseExp": lambda t, T: T.ExpTransform().inv,
}


@needs_torch
@pytest.mark.parametrize("name", sorted(TRANSFORM_CASES))
def test_transforms_match_pytorch(name):
    ours = TRANSFORM_CASES[name](torch, D.transforms)
    theirs = TRANSFORM_CASES[name](real_torch, TD.transforms)
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 1.5, (2, 3, 3) if name == "LowerCholesky" else (2, 3)).astype(np.float32)
    y_ours, y_theirs = ours(torch.tensor(x)), theirs(real_torch.tensor(x))
    _compare(y_ours, y_theirs, rtol=1e-5)
    if ours.bijective or name == "LowerCholesky":
        _compare(ours.inv(y_ours), theirs.inv(y_theirs), rtol=1e-4, atol=1e-4)
    if name != "LowerCholesky":
        _compare(ours.log_abs_det_jacobian(torch.tensor(x), y_ours),
                 theirs.log_abs_det_jacobian(real_torch.tensor(x), y_theirs), rtol=1e-4, atol=1e-5)
    assert ours.bijective == theirs.bijective
    assert ours.domain.event_dim == theirs.domain.event_dim
    assert ours.codomain.event_dim == theirs.codomain.event_dim
    assert tuple(ours.forward_shape((4, 3))) == tuple(theirs.forward_shape((4, 3)))
    assert repr(ours) == repr(theirs)


def test_transform_cache_and_equality():
    t = D.transforms.ExpTransform(cache_size=1)
    x = torch.tensor([0.5])
    y = t(x)
    assert t.inv(y) is x
    assert D.transforms.ExpTransform() == D.transforms.ExpTransform()
    assert D.transforms.AffineTransform(1.0, 2.0) == D.transforms.AffineTransform(1.0, 2.0)
    assert D.transforms.AffineTransform(1.0, 2.0) != D.transforms.AffineTransform(1.0, 3.0)
    assert t.inv.inv is t
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        D.transforms.ExpTransform(cache_size=2)


CONSTRAINTS = ["positive", "nonnegative", "unit_interval", "real", "real_vector", "simplex", "corr_cholesky",
               "lower_cholesky", "positive_definite", "greater_than", "less_than", "interval"]


def _constraint(c, name):
    return {"greater_than": lambda: c.greater_than(1.5), "less_than": lambda: c.less_than(-0.5),
            "interval": lambda: c.interval(-1.0, 2.0)}.get(name, lambda: getattr(c, name))()


@needs_torch
@pytest.mark.parametrize("name", CONSTRAINTS)
def test_biject_to_and_transform_to_match_pytorch(name):
    from torch.distributions import constraint_registry as treg
    ours_c, theirs_c = _constraint(constraints, name), _constraint(TD.constraints, name)
    assert repr(ours_c) == repr(theirs_c)
    shape = (2, 3, 3) if name in ("lower_cholesky", "positive_definite") else (2, 3)
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    for ours_reg, theirs_reg in ((D.transform_to, treg.transform_to), (D.biject_to, treg.biject_to)):
        try:
            theirs_t = theirs_reg(theirs_c)
        except NotImplementedError:
            with pytest.raises(NotImplementedError, match="Cannot transform"):
                ours_reg(ours_c)
            continue
        ours_t = ours_reg(ours_c)
        y = ours_t(torch.tensor(x))
        _compare(y, theirs_t(real_torch.tensor(x)), rtol=1e-4, atol=1e-5)
        assert bool(ours_c.check(y).all())
        assert ours_c.check(y).shape == theirs_c.check(real_torch.tensor(np_of(y))).shape


@needs_torch
def test_constraint_checks_match_pytorch():
    values = np.array([[-1.0, 0.0, 0.5, 1.0, 2.0, float("nan")]], np.float32)
    for name in ("positive", "nonnegative", "unit_interval", "real", "boolean", "nonnegative_integer",
                 "positive_integer"):
        ours = getattr(constraints, name).check(torch.tensor(values))
        theirs = getattr(TD.constraints, name).check(real_torch.tensor(values))
        assert np_of(ours).tolist() == theirs.numpy().tolist(), name
    simplex = [[0.2, 0.8], [0.5, 0.6], [-0.1, 1.1]]
    assert np_of(constraints.simplex.check(torch.tensor(simplex))).tolist() == [True, False, False]


def test_validation_errors_match_pytorch():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(2,\)\) of distribution "
                                         r"Normal\(loc: torch.Size\(\[2\]\), scale: torch.Size\(\[2\]\)\) to satisfy "
                                         r"the constraint GreaterThan\(lower_bound=0.0\)"):
        D.Normal(torch.zeros(2), torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        D.Bernoulli()
    with pytest.raises(ValueError, match="`probs` parameter must be at least one-dimensional."):
        D.Categorical(torch.tensor(0.5))
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
        D.MultivariateNormal(torch.zeros(2))
    normal = D.Normal(torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        normal.log_prob(0.5)
    with pytest.raises(ValueError, match="Value is not broadcastable with batch_shape\\+event_shape"):
        normal.log_prob(torch.zeros(3))
    with pytest.raises(ValueError, match="Expected value argument .* to be within the support \\(Boolean\\(\\)\\)"):
        D.Bernoulli(torch.tensor([0.5])).log_prob(torch.tensor([0.5]))
    with pytest.raises(ValueError, match="The right-most size of value must match event_shape"):
        D.Dirichlet(torch.ones(3)).log_prob(torch.ones(2) / 2)
    assert D.Normal(torch.zeros(1), torch.tensor([-1.0]), validate_args=False).scale.item() == -1.0


def test_set_default_validate_args():
    try:
        D.Distribution.set_default_validate_args(False)
        assert D.Normal(0.0, -1.0).scale.item() == -1.0
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")


@needs_torch
def test_enumerate_support_matches_pytorch():
    for name in ("Bernoulli", "Categorical", "OneHotCategorical", "Binomial"):
        ours, theirs = _pair(name)
        for expand in (True, False):
            _compare(ours.enumerate_support(expand), theirs.enumerate_support(expand))


def test_scalar_parameters_give_an_empty_batch_shape():
    d = D.Normal(0.0, 1.0)
    assert d.batch_shape == () and d.sample().shape == () and d.sample((3,)).shape == (3,)
    assert d.log_prob(torch.tensor(0.0)).dtype == torch.get_default_dtype()
    assert D.Beta(2.0, 3.0).batch_shape == () and D.Gamma(2.0, 1.0).sample((5,)).shape == (5,)


def test_policy_gradient_step():
    """The REINFORCE pattern: sample actions, log_prob, backward into the logits."""
    torch.manual_seed(6)
    logits = torch.zeros(4, 3, requires_grad=True)
    policy = D.Categorical(logits=logits)
    actions = policy.sample()
    assert actions.dtype == torch.int64 and actions.shape == (4,)
    (-policy.log_prob(actions) * torch.ones(4)).sum().backward()
    grad = np_of(logits.grad)
    expected = np.full((4, 3), 1 / 3)
    expected[np.arange(4), np_of(actions)] -= 1
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


@needs_torch
def test_every_pytorch_name_is_provided():
    assert [n for n in dir(TD) if not n.startswith("_") and not hasattr(D, n)] == []
    assert [n for n in dir(TD.transforms) if n.endswith("Transform") and not hasattr(D.transforms, n)] == []
    assert [n for n in TD.constraints.__all__ if not hasattr(constraints, n)] == []
    from cltensor.distributions.multivariate_normal import MultivariateNormal
    assert MultivariateNormal is D.MultivariateNormal


DEVICE_CASES = {
    "Normal": lambda dev: D.Normal(torch.tensor([0.5, -1.0], device=dev), torch.tensor([1.0, 2.0], device=dev)),
    "Gamma": lambda dev: D.Gamma(torch.tensor([0.5, 3.0], device=dev), torch.tensor([1.0, 2.0], device=dev)),
    "Dirichlet": lambda dev: D.Dirichlet(torch.tensor([0.5, 3.0, 1.0], device=dev)),
    "Poisson": lambda dev: D.Poisson(torch.tensor([0.5, 30.0], device=dev)),
    "Binomial": lambda dev: D.Binomial(torch.tensor([5.0, 50.0], device=dev), torch.tensor([0.3, 0.6], device=dev)),
    "VonMises": lambda dev: D.VonMises(torch.tensor([0.0, 1.0], device=dev), torch.tensor([0.5, 8.0], device=dev)),
    "MultivariateNormal": lambda dev: D.MultivariateNormal(torch.zeros(2, device=dev),
                                                           torch.tensor(COV, device=dev)),
}


@pytest.mark.parametrize("name", sorted(DEVICE_CASES))
def test_samples_stay_on_the_device_and_match_the_host_stream(name):
    """A seed gives the same draws on 'cpu' and 'cl:0' (counter-based Philox, rejection loops included)."""
    draws = {}
    for dev in ("cpu", "cl:0"):
        dist = DEVICE_CASES[name](dev)
        torch.manual_seed(9)
        x = dist.sample((50,))
        assert x.device == torch.device(dev)
        assert dist.log_prob(x).device == torch.device(dev)
        draws[dev] = np_of(x)
    np.testing.assert_allclose(draws["cpu"], draws["cl:0"], rtol=1e-5, atol=1e-6)


def test_beta_and_dirichlet_pathwise_gradients_are_unbiased():
    """The rsample gradients (through the gamma draws' implicit gradients) average to the gradient
    of the exact mean: d/da a/(a+b) = b/(a+b)^2."""
    torch.manual_seed(10)
    a = torch.tensor([0.5, 2.0, 6.0], requires_grad=True)
    b = torch.tensor([1.5, 1.0, 3.0])
    n = 20000
    D.Beta(a, b).rsample((n,)).mean(0).sum().backward()
    exact = np_of(b / (a.detach() + b) ** 2)
    np.testing.assert_allclose(np_of(a.grad), exact, rtol=0.05)
    alpha = torch.tensor([0.7, 2.0, 4.0], requires_grad=True)
    D.Dirichlet(alpha).rsample((n,))[:, 0].mean().backward()
    total = float(alpha.detach().sum())
    exact = [(total - 0.7) / total ** 2, -0.7 / total ** 2, -0.7 / total ** 2]
    np.testing.assert_allclose(np_of(alpha.grad), exact, rtol=0.05)
