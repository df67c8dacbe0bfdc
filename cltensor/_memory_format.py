"""Memory formats: ``torch.contiguous_format``, ``channels_last`` (N, C, H, W stored as N, H, W, C),
``channels_last_3d`` (5-d) and ``preserve_format``. A format is only a stride order: tensors keep
their logical (N, C, ...) shape, and kernels read any strides, so a channels-last tensor is a
permuted view of a contiguous buffer.
"""
from __future__ import annotations


class memory_format:
    """``torch.memory_format``: compared by identity, printed and pickled by name."""

    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def __repr__(self):
        return f"torch.{self._name}"

    def __reduce__(self):
        return _by_name, (self._name,)


def _by_name(name):
    return FORMATS[name]


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
FORMATS = {f._name: f for f in (contiguous_format, preserve_format, channels_last, channels_last_3d)}
_RANKS = {channels_last: 4, channels_last_3d: 5}


def check(fmt, ndim: int, *, allow_preserve=True):
    """PyTorch's errors for a format that is not one, or a channels-last format of the wrong rank."""
    if fmt is None:
        return
    if not isinstance(fmt, memory_format) or (fmt is preserve_format and not allow_preserve):
        raise RuntimeError(f"unsupported memory format {fmt!r}")
    rank = _RANKS.get(fmt)
    if rank is not None and ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt._name} format")


def order(ndim: int) -> tuple:
    """The dims of an (N, C, *spatial) tensor from the outermost in memory to the innermost."""
    return (0, *range(2, ndim), 1)


def is_contiguous_as(shape, strides, fmt) -> bool:
    """Whether these strides are the compact layout of fmt (size-1 dims may have any stride; an empty
    tensor is compact in every format of its rank)."""
    if fmt in _RANKS and len(shape) != _RANKS[fmt]:
        return False
    if 0 in shape:
        return True
    if fmt in _RANKS:
        dims = tuple(reversed(order(len(shape))))
    else:
        dims = tuple(reversed(range(len(shape))))
    expected = 1
    for d in dims:
        if shape[d] != 1 and strides[d] != expected:
            return False
        expected *= shape[d]
    return True


def is_channels_last(shape, strides) -> bool:
    """Whether the strides order the dims as channels_last (4-d) or channels_last_3d (5-d) does:
    PyTorch's is_channels_last_strides_2d/3d, ambiguous cases (size-1 dims) counting as contiguous."""
    if len(shape) not in (4, 5) or strides[1] == 0:
        return False
    low = 0
    for d in (1, *range(len(shape) - 1, 1, -1), 0):
        if shape[d] == 0 or strides[d] < low or (d == 0 and low == strides[1]):
            return False
        low = strides[d] * (shape[d] if shape[d] > 1 else 1)
    return True


def resolve(fmt, shape, strides):
    """The concrete format a result takes: preserve_format (and None) follow a channels-last input."""
    if fmt is None or fmt is preserve_format:
        if is_channels_last(shape, strides):
            return channels_last if len(shape) == 4 else channels_last_3d
        return contiguous_format
    return fmt
