"""Adamax (Adam with the infinity norm) and NAdam (Adam with Nesterov momentum)."""
from __future__ import annotations

from ..ops import creation
from ..ops.elementwise import maximum
from .optimizer import Optimizer, check_range, check_strategy_flags, step_gradient


def _check_adam_args(lr, betas, eps, weight_decay):
    check_range("learning rate", lr)
    check_range("epsilon value", eps)
    check_range("beta parameter at index 0", betas[0], 0.0, 1.0)
    check_range("beta parameter at index 1", betas[1], 0.0, 1.0)
    check_range("weight_decay value", weight_decay)


class Adamax(Optimizer):
    """``torch.optim.Adamax``::

        m = lerp(m, g, 1 - b1);  u = max(b2 * u, |g| + eps);  p -= lr / (1 - b1^t) * m / u
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False, **flags):
        check_strategy_flags(flags, "Adamax")
        _check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, p, group):
        (beta1, beta2), eps = group["betas"], group["eps"]
        state = self.state[p]
        if not state:
            state.update(step=0.0, exp_avg=creation.zeros_like(p), exp_inf=creation.zeros_like(p))
        grad = step_gradient(p, group, state)
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg.lerp_(grad, 1 - beta1)
        maximum(exp_inf.mul_(beta2), grad.abs().add_(eps), out=exp_inf)
        p.addcdiv_(exp_avg, exp_inf, value=-group["lr"] / (1 - beta1 ** state["step"]))


class NAdam(Optimizer):
    """``torch.optim.NAdam``: Adam whose momentum looks one step ahead, with the momentum schedule
    mu_t = b1 * (1 - 0.5 * 0.96^(t * momentum_decay)); the running product of mu is a host float."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3, *,
                 decoupled_weight_decay=False, maximize=False, **flags):
        check_strategy_flags(flags, "NAdam")
        _check_adam_args(lr, betas, eps, weight_decay)
        check_range("momentum_decay value", momentum_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _update(self, p, group):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        state = self.state[p]
        if not state:
            state.update(step=0.0, mu_product=1.0, exp_avg=creation.zeros_like(p), exp_avg_sq=creation.zeros_like(p))
        grad = step_gradient(p, group, state)
        step = state["step"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = exp_avg_sq.div(1 - beta2 ** step).sqrt_().add_(eps)
        p.addcdiv_(grad, denom, value=-lr * (1 - mu) / (1 - mu_product))
        p.addcdiv_(exp_avg, denom, value=-lr * mu_next / (1 - mu_product * mu_next))
