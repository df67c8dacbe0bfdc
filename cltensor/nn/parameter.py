"""Parameter: a Tensor that a Module registers as one of its parameters (requires_grad by default)."""
from __future__ import annotations

from ..tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..ops.creation import empty


def _empty_data():
    return empty(0)


class Parameter(Tensor):
    """A leaf tensor that is a module parameter when assigned as a Module attribute.

    ``Parameter(t)`` shares t's memory (and version counter), like PyTorch's ``_make_subclass``.

    >>> import cltensor as torch
    >>> p = torch.nn.Parameter(torch.zeros(2))
    >>> p.requires_grad, p.is_leaf
    (True, True)
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _empty_data()
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): expected a Tensor as data, got {type(data).__name__}")
        p = cls._make(data._storage, data._shape, data._strides, data._offset, data.dtype, data.device)
        p._version_box = data._version_box
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        with no_grad():
            result = type(self)(self.data.clone(), self.requires_grad)
        if self._grad is not None:
            result._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.data, self.requires_grad))


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


def is_parameter(x) -> bool:
    return isinstance(x, Parameter)
