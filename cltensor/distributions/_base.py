"""A base for distributions whose parameters are tensors broadcast together (most of them)."""
import cltensor as torch
from .distribution import Distribution
from .utils import broadcast_all


class _Broadcast(Distribution):
    """Parameters named by _params, broadcast to one shape that becomes the batch shape (empty
    when all were numbers, as in PyTorch); expand() expands each of them as a view."""
    _params = ()

    def _init_params(self, values, validate_args, event_shape=torch.Size()):
        tensors = broadcast_all(*values)
        for name, tensor in zip(self._params, tensors):
            setattr(self, name, tensor)
        all_numbers = all(not isinstance(v, torch.Tensor) for v in values)
        batch_shape = torch.Size() if all_numbers else tensors[0].size()
        Distribution.__init__(self, batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = torch.Size(batch_shape)
        for name in self._params:
            setattr(new, name, getattr(self, name).expand(batch_shape))
        self._expand_extra(new, batch_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _expand_extra(self, new, batch_shape):
        """Hook for subclasses holding more than their parameters."""

    @property
    def _like(self):
        return getattr(self, self._params[0])

    def _checked(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return value
