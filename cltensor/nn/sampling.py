"""F.affine_grid and F.grid_sample (4-D and 5-D inputs: bilinear/trilinear and nearest; zeros, border and reflection
padding), written with cltensor ops: the sample positions are tensor arithmetic on the grid and
the reads are gathers, so gradients reach both the input (through gather's backward, a
scatter-add) and the grid (through the bilinear weights), as in PyTorch.
"""
from __future__ import annotations

import itertools
import warnings

from .. import dtypes as dt
from ..ops import creation as _creation
from ..ops import elementwise as _ew
from ..ops import joins as _joins


def _default_align_corners(align_corners):
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                      "grid_sample for details.", stacklevel=3)
        return False
    return bool(align_corners)


def _base_coords(n, align_corners, like):
    """The normalised coordinates of n pixel centres (or corners when align_corners)."""
    if n <= 1:
        return _creation.zeros(max(n, 0), dtype=like.dtype, device=like.device)
    steps = _creation.arange(n, dtype=like.dtype, device=like.device)
    if align_corners:
        return steps * (2.0 / (n - 1)) - 1.0
    return (steps * 2.0 + 1.0) / n - 1.0


def affine_grid(theta, size, align_corners=None):
    """Sampling grid (N, H, W, 2) or (N, D, H, W, 3) of the affine maps theta (N, 2, 3) or (N, 3, 4)."""
    given, size = size, [int(s) for s in size]
    align_corners = _default_align_corners(align_corners)
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) == 4:
        if theta.dim() != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {given}. "
                             f"Got {theta.shape}.")
        spatial = size[2:]
    elif len(size) == 5:
        if theta.dim() != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {given}. "
                             f"Got {theta.shape}.")
        spatial = size[2:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    axes = [_base_coords(s, align_corners, theta) for s in reversed(spatial)]  # x (width) first
    shape = tuple(spatial)
    k = len(spatial)
    columns = []
    for i, coords in enumerate(axes):
        view = [1] * k
        view[k - 1 - i] = shape[k - 1 - i]
        columns.append(coords.reshape(view).expand(*shape))
    columns.append(_creation.ones(shape, dtype=theta.dtype, device=theta.device))
    base = _joins.stack(columns, -1).reshape(1, -1, k + 1)
    grid = base.expand(size[0], base.shape[1], k + 1).matmul(theta.transpose(1, 2))
    return grid.reshape(size[0], *shape, k)


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1.0) * ((size - 1) / 2.0)
    return ((coord + 1.0) * size - 1.0) / 2.0


def _reflect(coord, lo2, hi2):
    """Reflects coord into [lo2 / 2, hi2 / 2] (bounds doubled, as PyTorch's reflect_coordinates)."""
    if lo2 == hi2:
        return coord * 0.0
    lo, span = lo2 / 2.0, (hi2 - lo2) / 2.0
    c = (coord - lo).abs()
    flips = (c / span).floor()
    extra = c - flips * span
    even = (flips.remainder(2) == 0)
    return _where(even, extra + lo, span - extra + lo)


def _where(cond, a, b):
    return _ew.where(cond, a, b)


def _source(coord, size, padding_mode, align_corners):
    x = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        x = x.clamp(0, size - 1)
    elif padding_mode == "reflection":
        x = _reflect(x, 0, 2 * (size - 1)) if align_corners else _reflect(x, -1, 2 * size - 1)
        x = x.clamp(0, size - 1)
    return x


def _tap(flat, corner, sizes, weight):
    """weight * input at the integer position corner (one coordinate tensor per spatial dim, x
    first), zero where outside; flat is (N, C, prod(spatial)), sizes the spatial extents x first."""
    inside, pos, step = None, None, 1
    for coord, size in zip(corner, sizes):
        ok = (coord >= 0) & (coord <= size - 1)
        inside = ok if inside is None else inside & ok
        term = coord.clamp(0, size - 1) * step
        pos = term if pos is None else pos + term
        step *= size
    n, c, _ = flat.shape
    pos = pos.to(dt.int64).reshape(n, 1, -1)
    pos = pos.expand(n, c, pos.shape[2])
    w = _where(inside, weight, weight * 0.0).reshape(n, 1, -1)
    return flat.gather(2, pos) * w


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples input (N, C, H, W) at the normalised positions grid (N, Ho, Wo, 2), x first; a 5-D
    input (N, C, D, H, W) takes a grid (N, Do, Ho, Wo, 3) and 'bilinear' is then trilinear."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if mode == "bicubic" or input.dim() not in (4, 5):
        raise NotImplementedError("grid_sample in cltensor supports 4-D and 5-D inputs with bilinear or nearest "
                                  "mode")
    k = input.dim() - 2
    if grid.dim() != input.dim() or grid.shape[0] != input.shape[0] or grid.shape[-1] != k:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {k} in last dimension and the same batch "
                           f"size as input, but got grid with sizes {list(grid.shape)} and input with sizes "
                           f"{list(input.shape)}")
    if grid.dtype is not input.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    align_corners = _default_align_corners(align_corners)
    n, c = input.shape[0], input.shape[1]
    sizes = tuple(reversed(input.shape[2:]))  # x (width) first, as the grid's last dim
    coords = [_source(grid[..., i], sizes[i], padding_mode, align_corners) for i in range(k)]
    flat = input.reshape(n, c, -1)
    out_shape = (n, c) + tuple(grid.shape[1:-1])
    if mode == "nearest":
        # weight 1 that stays connected to the grid: PyTorch gives the grid a zero gradient here, not None
        ones = coords[0] * 0.0 + 1.0
        return _tap(flat, [x.detach().round() for x in coords], sizes, ones).reshape(out_shape)
    lows = [x.detach().floor() for x in coords]
    out = None
    for corner in itertools.product((0, 1), repeat=k):
        weight = None
        for x, lo, bit in zip(coords, lows, corner):
            factor = (x - lo) if bit else (lo + 1 - x)
            weight = factor if weight is None else weight * factor
        term = _tap(flat, [lo + bit for lo, bit in zip(lows, corner)], sizes, weight)
        out = term if out is None else out + term
    return out.reshape(out_shape)
