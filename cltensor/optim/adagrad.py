"""Adagrad with learning-rate decay and an initial accumulator value."""
from __future__ import annotations

from ..ops import creation
from .optimizer import Optimizer, check_range, check_strategy_flags, step_gradient


class Adagrad(Optimizer):
    """``torch.optim.Adagrad``::

        clr = lr / (1 + (t - 1) * lr_decay);  s += g * g;  p -= clr * g / (sqrt(s) + eps)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False, **flags):
        check_strategy_flags(flags, "Adagrad")
        check_range("learning rate", lr)
        check_range("lr_decay value", lr_decay)
        check_range("weight_decay value", weight_decay)
        check_range("initial_accumulator_value value", initial_accumulator_value)
        check_range("epsilon value", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        # PyTorch creates the accumulators eagerly, so the state exists before the first step.
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        if not state:
            state["step"] = 0.0
            state["sum"] = creation.full_like(p, group["initial_accumulator_value"])
        return state

    def _update(self, p, group):
        state = self._init_state(p, group)
        grad = step_gradient(p, group, state)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"].addcmul_(grad, grad, value=1)
        std = state["sum"].sqrt().add_(group["eps"])
        p.addcdiv_(grad, std, value=-clr)
