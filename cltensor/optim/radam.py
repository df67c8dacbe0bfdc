"""RAdam (rectified Adam), Adadelta and Rprop."""
from __future__ import annotations

import math

from ..ops import creation
from ..ops.elementwise import where
from .adamax import _check_adam_args
from .optimizer import Optimizer, check_range, check_strategy_flags, step_gradient


class RAdam(Optimizer):
    """``torch.optim.RAdam``: Adam whose adaptive step is switched on, and rectified, once the
    variance estimate is tractable (rho_t > 5; rho_t is a host float from the step count)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *,
                 decoupled_weight_decay=False, maximize=False, **flags):
        check_strategy_flags(flags, "RAdam")
        _check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _update(self, p, group):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        state = self.state[p]
        if not state:
            state.update(step=0.0, exp_avg=creation.zeros_like(p), exp_avg_sq=creation.zeros_like(p))
        grad = step_gradient(p, group, state)
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1, bias_correction2 = 1 - beta1 ** step, 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            denom = exp_avg_sq.sqrt().add_(eps)
            p.addcdiv_(exp_avg, denom, value=-lr * rect * math.sqrt(bias_correction2) / bias_correction1)
        else:
            p.add_(exp_avg, alpha=-lr / bias_correction1)


class Adadelta(Optimizer):
    """``torch.optim.Adadelta``::

        v = rho * v + (1 - rho) * g^2;  d = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * d^2;  p -= lr * d
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False, **flags):
        check_strategy_flags(flags, "Adadelta")
        check_range("learning rate", lr)
        check_range("rho value", rho, 0.0, 1.0, high_inclusive=True)
        check_range("epsilon value", eps)
        check_range("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, p, group):
        rho, eps = group["rho"], group["eps"]
        state = self.state[p]
        if not state:
            state.update(step=0.0, square_avg=creation.zeros_like(p), acc_delta=creation.zeros_like(p))
        grad = step_gradient(p, group, state)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.add_(delta, alpha=-group["lr"])


class Rprop(Optimizer):
    """``torch.optim.Rprop``: per-element step sizes grow by etas[1] while the gradient keeps its
    sign and shrink by etas[0] when it flips (that step is skipped); only signs are used."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False, **flags):
        check_strategy_flags(flags, "Rprop")
        check_range("learning rate", lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize))

    def _update(self, p, group):
        (eta_minus, eta_plus), (size_min, size_max) = group["etas"], group["step_sizes"]
        state = self.state[p]
        if not state:
            state.update(step=0.0, prev=creation.zeros_like(p), step_size=creation.full_like(p, group["lr"]))
        grad = -p.grad if group["maximize"] else p.grad
        state["step"] += 1
        agreement = grad * state["prev"]
        factor = where(agreement > 0, eta_plus, where(agreement < 0, eta_minus, creation.ones_like(grad)))
        state["step_size"].mul_(factor).clamp_(size_min, size_max)
        grad = where(agreement < 0, 0.0, grad)  # after a sign flip: no step, and no flip detection next time
        p.addcmul_(grad.sign(), state["step_size"], value=-1)
        state["prev"].copy_(grad)
