"""Adam and AdamW (decoupled weight decay), with the AMSGrad variant."""
from __future__ import annotations

import math

import numpy as np

from ..ops import creation
from ..ops import elementwise as _ew
from ..ops.elementwise import maximum
from .optimizer import Optimizer, check_range, check_strategy_flags, step_gradient

# The update as two in-place rows (with lerp_ for the first moment: 3 launches per parameter, were 7),
# each computing what PyTorch's own sequence of ops computes, in the same order.
_SECOND_MOMENT = _ew.defop("_adam_second_moment", 2, "a * beta2 + one_minus_beta2 * b * b", _ew.FLOAT_ONLY,
                           params={"beta2": (0.999, "T"), "one_minus_beta2": (0.001, "T")}, method=False,
                           int_ok=False, ref=lambda v, g: v * 0.999 + g * g * 0.001)
_STEP = _ew.defop("_adam_step", 3, "a - step_size * (b / (sqrt(c) / bias_correction2_sqrt + eps))", _ew.FLOAT_ONLY,
                  params={"step_size": (1e-3, "T"), "bias_correction2_sqrt": (1.0, "T"), "eps": (1e-8, "T")},
                  method=False, int_ok=False, ref=lambda p, m, v: p - 1e-3 * (m / (np.sqrt(v) + 1e-8)))


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
        _ew.apply(_SECOND_MOMENT, [exp_avg_sq, grad], {"beta2": beta2, "one_minus_beta2": 1 - beta2}, inplace=True)
        # NOTE: bias corrections are host floats from the step count: no device read per step.
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        second = exp_avg_sq
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"]
            maximum(second, exp_avg_sq, out=second)
        _ew.apply(_STEP, [p, exp_avg, second],
                  {"step_size": step_size, "bias_correction2_sqrt": bias_correction2_sqrt, "eps": eps}, inplace=True)


class AdamW(Adam):
    """``torch.optim.AdamW``: Adam whose weight decay shrinks the weights directly (p *= 1 - lr * wd)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, **flags):
        flags.pop("decoupled_weight_decay", None)
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, **flags)
