"""Dropout layers: active in training mode only; masks come from the Philox generator.

dropout1d/2d/3d (exported as F.dropout1d...) follow PyTorch's handling of the input's rank:
dropout1d raises outside 2-D/3-D; dropout2d and dropout3d warn (UserWarning) on other ranks and
then do what PyTorch does: dropout2d zeroes features of dim 1 whatever the rank (a 3-D input is
read as (N, C, L), a 2-D one drops single elements), dropout3d adds a batch dim to anything not
5-D, so its channels are dim 0 of the input.
"""
from __future__ import annotations

import warnings

from . import functional as F
from .module import Module


def _feature_dropout(input, p, training, inplace):
    """Zero whole features input[n, c] (each with probability p), scale the rest by 1/(1-p)."""
    if not training or p == 0 or input.numel() == 0:
        return input
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 1:
        return input.mul_(0) if inplace else input * 0
    noise_shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    return F._apply_mask(input, F._dropout_mask(noise_shape, p, input), inplace)


def _with_batch_dim(input, p, training, inplace):
    """Feature dropout of an input without a batch dim: as a batch of one."""
    batched = input.unsqueeze_(0) if inplace else input.unsqueeze(0)
    result = _feature_dropout(batched, p, training, inplace)
    return result.squeeze_(0) if inplace else result.squeeze(0)


def _rank_warning(name, rank, expected):
    warnings.warn(f"{name}: Received a {rank}-D input to {name}, which is deprecated and will result in an error in "
                  f"a future release. To retain the behavior and silence this warning, please use dropout instead. "
                  f"Note that {name} exists to provide channel-wise dropout on inputs with {expected[0]} spatial "
                  f"dimensions, a channel dimension, and an optional batch dimension (i.e. {expected[1]}D or "
                  f"{expected[2]}D inputs).", UserWarning, stacklevel=3)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of (N, C, L) or (C, L) input."""
    F._check_p(p)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if input.dim() == 2:
        return _with_batch_dim(input, p, training, inplace)
    return _feature_dropout(input, p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of (N, C, H, W) input (other ranks: see the module docstring)."""
    F._check_p(p)
    if input.dim() not in (3, 4):
        _rank_warning("dropout2d", input.dim(), (2, 3, 4))
    if input.dim() == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This "
                      "behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", UserWarning, stacklevel=2)
    return _feature_dropout(input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of (N, C, D, H, W) or (C, D, H, W) input (other ranks: see the module docstring)."""
    F._check_p(p)
    if input.dim() not in (4, 5):
        _rank_warning("dropout3d", input.dim(), (3, 4, 5))
    if input.dim() != 5:
        return _with_batch_dim(input, p, training, inplace)
    return _feature_dropout(input, p, training, inplace)


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each element with probability p in training and scales the rest by 1/(1-p)."""

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) or (C, L) input."""

    def forward(self, input):
        return dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) input (other ranks warn, as in PyTorch)."""

    def forward(self, input):
        return dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) input (other ranks warn, as in PyTorch)."""

    def forward(self, input):
        return dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: keeps zero mean and unit variance (see F.alpha_dropout)."""

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training, self.inplace)
