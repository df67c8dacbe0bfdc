"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""
from __future__ import annotations

from .optimizer import Optimizer, check_range, check_strategy_flags


class SGD(Optimizer):
    """``torch.optim.SGD``: with momentum ``m``, dampening ``d`` and weight decay ``wd``::

        g = grad (+ wd * p);  buf = g on the first step, else m * buf + (1 - d) * g
        p -= lr * (g + m * buf if nesterov else buf)
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, **flags):
        check_strategy_flags(flags, "SGD")
        check_range("learning rate", lr)
        check_range("momentum value", momentum)
        check_range("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, group):
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        d_p = -p.grad if group["maximize"] else p.grad
        if wd != 0:
            d_p = d_p.add(p, alpha=wd)
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d_p.clone().detach()
            else:
                buf.mul_(momentum).add_(d_p, alpha=1 - group["dampening"])
            d_p = d_p.add(buf, alpha=momentum) if group["nesterov"] else buf
        p.add_(d_p, alpha=-lr)
