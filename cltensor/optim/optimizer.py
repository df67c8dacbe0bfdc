"""The Optimizer base class: parameter groups, per-parameter state and PyTorch's state_dict layout.

Steps run as in-place tensor ops on the parameters' device under ``no_grad``; the only host
values a step reads are Python numbers (hyper-parameters and the step count), so a step never
waits for the device.
"""
from __future__ import annotations

import copy
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain

from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor


class _RequiredParameter:
    """Marks a hyper-parameter that has no default (SGD's lr in old PyTorch)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

# Keyword arguments PyTorch optimizers accept that select an implementation strategy; here there is
# one implementation, so they are accepted and ignored (differentiable=True is refused).
_STRATEGY_FLAGS = ("foreach", "fused", "capturable")


def check_strategy_flags(kwargs: dict, name: str) -> None:
    for key, value in kwargs.items():
        if key == "differentiable":
            if value:
                raise NotImplementedError(f"{name}(differentiable=True) is not supported by cltensor")
        elif key not in _STRATEGY_FLAGS:
            raise TypeError(f"{name}.__init__() got an unexpected keyword argument '{key}'")


class Optimizer:
    """Base class of all optimizers (``torch.optim.Optimizer``).

    ``params`` is an iterable of tensors or of dicts (parameter groups), each dict holding a
    ``'params'`` entry and per-group overrides of ``defaults``::

        opt = optim.SGD([{'params': model.base.parameters()},
                         {'params': model.head.parameters(), 'lr': 1e-3}], lr=1e-2, momentum=0.9)
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
        param_groups = list(params)
        if not param_groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ---- groups ------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error", UserWarning, stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ---- gradients ---------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: drop them (default) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    grad = p.grad
                    if grad.grad_fn is not None:
                        grad.detach_()
                    else:
                        grad.requires_grad_(False)
                    with no_grad():
                        grad.zero_()

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss if given.

        Subclasses define ``_update(p, group)``, called under ``no_grad`` for each such parameter.
        """
        if not hasattr(self, "_update"):
            raise NotImplementedError(f"{type(self).__name__} does not implement step()")
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, group)
        return loss

    def _closure_loss(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- state_dict ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as in PyTorch.

        Parameters are numbered in group order; the state holds references to the live tensors
        (as PyTorch's does), so save or deep-copy it to keep a snapshot.
        """
        index_of: dict = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        params = {id(p): p for group in self.param_groups for p in group["params"]}
        state = {index_of[id(p)]: s for p, s in self.state.items() if id(p) in index_of and params.get(id(p)) is p}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict` (same parameter layout)."""
        state_dict = _copy_state_dict(state_dict)
        groups, saved_groups = self.param_groups, state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, sg in zip(groups, saved_groups):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict = defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = id_map.get(key)
            if param is None:
                state[key] = value
                continue
            state[param] = {k: self._restore_state_value(param, k, v) for k, v in value.items()}
        self.param_groups = [dict(sg, params=g["params"]) for g, sg in zip(groups, saved_groups)]
        self.state = state

    @staticmethod
    def _restore_state_value(param: Tensor, key: str, value):
        if key == "step":
            # NOTE: PyTorch stores the step as a 0-d tensor; here it is a Python number so that a
            # step computes its bias corrections without reading the device.
            return float(value.item()) if isinstance(value, Tensor) else value
        if isinstance(value, Tensor):
            dtype = param.dtype if value.dtype.is_floating_point else value.dtype
            # a copy, so that two optimizers loaded from one state_dict never share buffers
            return value.detach().to(device=param.device, dtype=dtype, copy=True)
        if isinstance(value, dict):
            return {k: Optimizer._restore_state_value(param, k, v) for k, v in value.items()}
        return value

    # ---- printing ----------------------------------------------------------------------------
    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)


def _copy_state_dict(state_dict: dict) -> dict:
    """A copy whose containers are new but whose tensors are the caller's (they are re-cast later)."""
    def copy_value(v):
        if isinstance(v, Tensor):
            return v
        if isinstance(v, OrderedDict):
            return OrderedDict((k, copy_value(x)) for k, x in v.items())
        if isinstance(v, dict):
            return {k: copy_value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [copy_value(x) for x in v]
        if isinstance(v, tuple):
            return tuple(copy_value(x) for x in v)
        return copy.copy(v)
    return copy_value(state_dict)


def step_gradient(p, group, state):
    """The gradient one step applies: negated under maximize, with weight decay (L2 added to the
    gradient, or decoupled into the parameter when the group says so); counts the step."""
    grad = -p.grad if group.get("maximize") else p.grad
    state["step"] += 1
    wd = group.get("weight_decay", 0)
    if wd != 0:
        if group.get("decoupled_weight_decay"):
            p.mul_(1 - group["lr"] * wd)
        else:
            grad = grad.add(p, alpha=wd)
    return grad


def check_range(name: str, value, low=0.0, high=None, *, high_inclusive=False) -> None:
    """PyTorch's hyper-parameter validation: ValueError('Invalid <name>: <value>')."""
    if isinstance(value, Tensor):
        return
    bad = value < low or (high is not None and (value > high if high_inclusive else value >= high))
    if bad:
        raise ValueError(f"Invalid {name}: {value}")
