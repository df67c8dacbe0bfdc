"""Adam and AdamW (decoupled weight decay), with the AMSGrad variant."""
from __future__ import annotations

import math

from ..ops import creation
from ..ops.elementwise import maximum
from .optimizer import Optimizer, check_range, check_strategy_flags, step_gradient


class Adam(Optimizer):
    """``torch.optim.Adam``::

        g = grad (+ wd * p unless decoupled);  m = lerp(m, g, 1 - b1);  v = b2 * v + (1 - b2) * g * g
        p -= lr / (1 - b1^t) * m / (sqrt(v_or_max_v) / sqrt(1 - b2^t) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False, **flags):
        check_strategy_flags(flags, type(self).__name__)
        check_range("learning rate", lr)
        check_range("epsilon value", eps)
        check_range("beta parameter at index 0", betas[0], 0.0, 1.0)
        check_range("beta parameter at index 1", betas[1], 0.0, 1.0)
        check_range("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, p, amsgrad):
        state = self.state[p]
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = creation.zeros_like(p)
            state["exp_avg_sq"] = creation.zeros_like(p)
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = creation.zeros_like(p)
        return state

    def _update(self, p, group):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        state = self._init_state(p, group["amsgrad"])
        grad = step_gradient(p, group, state)
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        # NOTE: bias corrections are host floats from the step count: no device read per step.
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        second = exp_avg_sq
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"]
            maximum(second, exp_avg_sq, out=second)
        denom = second.sqrt().div_(bias_correction2_sqrt).add_(eps)
        p.addcdiv_(exp_avg, denom, value=-step_size)


class AdamW(Adam):
    """``torch.optim.AdamW``: Adam whose weight decay shrinks the weights directly (p *= 1 - lr * wd)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, **flags):
        flags.pop("decoupled_weight_decay", None)
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, **flags)
