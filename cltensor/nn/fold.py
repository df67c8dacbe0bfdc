"""F.unfold (im2col) and F.fold (col2im) and their modules.

Both read one table of flat positions in the zero-padded image, one entry per (kernel offset,
block): unfold gathers through it (index_select), fold adds through it (index_add), so each is
the other's gradient and the overlapping sums of fold need no atomics of ours.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..ops import creation as _creation
from .module import Module
from .padding import pad as _pad


def _pair(value, name):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise RuntimeError(f"{name} must be a tuple of two ints")
        return tuple(int(v) for v in value)
    return (int(value), int(value))


def _blocks(spatial, k, d, p, s):
    return tuple((spatial[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))


def _table(padded, k, d, s, blocks, device):
    """Flat positions in the padded (H, W) plane, shape (kh * kw * L,), kernel offset major."""
    ki, kj = np.meshgrid(np.arange(k[0]), np.arange(k[1]), indexing="ij")
    bi, bj = np.meshgrid(np.arange(blocks[0]), np.arange(blocks[1]), indexing="ij")
    rows = ki.reshape(-1, 1) * d[0] + bi.reshape(1, -1) * s[0]
    cols = kj.reshape(-1, 1) * d[1] + bj.reshape(1, -1) * s[1]
    return _creation.tensor((rows * padded[1] + cols).reshape(-1), dtype=dt.int64, device=device)


def _check_geometry(k, d, p, s):
    if any(v <= 0 for v in k):
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: {k[0]} "
                           f"kernel_width: {k[1]}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: {s[0]} stride_width: {s[1]}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: {d[0]} "
                           f"dilation_width: {d[1]}")
    if any(v < 0 for v in p):
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {p[0]} pad_width: {p[1]}")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of a (N, C, H, W) or (C, H, W) input as columns: (N, C * kh * kw, L)."""
    if input.dim() < 3:  # PyTorch reads the size of dim 2 first
        raise IndexError(f"Dimension out of range (expected to be in range of [-{max(input.dim(), 1)}, "
                         f"{max(input.dim(), 1) - 1}], but got 2)")
    if input.dim() != 4 and input.dim() != 3:
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    k, d, p, s = (_pair(v, n) for v, n in ((kernel_size, "kernel_size"), (dilation, "dilation"),
                                           (padding, "padding"), (stride, "stride")))
    _check_geometry(k, d, p, s)
    x = input.unsqueeze(0) if input.dim() == 3 else input
    n, c, h, w = x.shape
    blocks = _blocks((h, w), k, d, p, s)
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size=({k[0]}, {k[1]}), "
                           f"dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), calculated shape of the array of "
                           f"sliding blocks as ({blocks[0]}, {blocks[1]}), but its components must be at least one.")
    padded = _pad(x, (p[1], p[1], p[0], p[0])) if any(p) else x
    table = _table((h + 2 * p[0], w + 2 * p[1]), k, d, s, blocks, x.device)
    cols = padded.reshape(n, c, -1).index_select(2, table).reshape(n, c * k[0] * k[1], blocks[0] * blocks[1])
    return cols.squeeze(0) if input.dim() == 3 else cols


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sums columns (N, C * kh * kw, L) back into an (N, C, H, W) image; the adjoint of unfold."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    out, k, d, p, s = (_pair(v, n) for v, n in ((output_size, "output_size"), (kernel_size, "kernel_size"),
                                                (dilation, "dilation"), (padding, "padding"), (stride, "stride")))
    _check_geometry(k, d, p, s)
    x = input.unsqueeze(0) if input.dim() == 2 else input
    n, ck, length = x.shape
    if ck % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
                           f"but got input.size(1)={ck} and kernel_size=({k[0]}, {k[1]})")
    blocks = _blocks(out, k, d, p, s)
    if blocks[0] * blocks[1] != length:
        raise RuntimeError(f"Given output_size=({out[0]}, {out[1]}), kernel_size=({k[0]}, {k[1]}), "
                           f"dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), expected "
                           f"size of input's dimension 2 to match the calculated number of sliding blocks "
                           f"{blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got input.size(2)={length}.")
    c = ck // (k[0] * k[1])
    padded = (out[0] + 2 * p[0], out[1] + 2 * p[1])
    table = _table(padded, k, d, s, blocks, x.device)
    image = _creation.zeros((n, c, padded[0] * padded[1]), dtype=x.dtype, device=x.device)
    image = image.index_add(2, table, x.reshape(n, c, k[0] * k[1] * length)).reshape(n, c, *padded)
    image = image[:, :, p[0]:p[0] + out[0], p[1]:p[1] + out[1]]
    return image.squeeze(0) if input.dim() == 2 else image


class Unfold(Module):
    """Extracts sliding local blocks: (N, C, H, W) -> (N, C * prod(kernel_size), L)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Combines sliding local blocks into an image by summing overlaps."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
