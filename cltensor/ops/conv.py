"""Convolutions: conv1d/2d/3d and conv_transpose1d/2d/3d as implicit GEMMs.

Every convolution, its input gradient and its weight gradient is one launch of the GEMM template
with an implicit operand (``launch.gemm.implicit_gemm``): the im2col matrix is never stored, its
entries are gathered from the image by the conv geometry inside the GEMM's operand load
(kernels_cl/gemm.cl.mako, docs/kernels.md). All ranks run as 3-D convolutions with size-1 leading
spatial dims, so one program per (mode, dtype) serves conv1d, conv2d and conv3d of every shape.

    >>> import cltensor as torch
    >>> x = torch.ones(1, 1, 3, 3)
    >>> torch.nn.functional.conv2d(x, torch.ones(1, 1, 2, 2)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
"""
from __future__ import annotations

import math

from .. import launch
from ..autograd import graph
from ..tensor import Tensor
from .window import in_layout_of

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]

_CXX = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16"}

# ---- geometry ---------------------------------------------------------------------------------------
class _Geometry:
    """One convolution's geometry over 3 spatial dims (leading dims of size 1 for conv1d/conv2d).

    src: spatial size of the conv's input, dst: of its output, ks: kernel, st/pd/dl: stride,
    left padding, dilation. For a transposed conv, src and dst are those of the equivalent
    forward conv (dst is the transposed conv's input)."""

    __slots__ = ("src", "dst", "ks", "st", "pd", "dl")

    def __init__(self, src, dst, ks, st, pd, dl):
        self.src, self.dst, self.ks, self.st, self.pd, self.dl = src, dst, ks, st, pd, dl

    def args(self, image_size, out_size):
        """The 18 geometry arguments of the kernel: IN, OUT, KS, ST, PD, DL."""
        return (*image_size, *out_size, *self.ks, *self.st, *self.pd, *self.dl)


def _image_strides(t):
    return tuple(t._strides)


def _fwd_matrix(w, groups, transposed, in_place=False):
    """The weight as the GEMM's B operand [G, Cin/G * taps, Cout/G]: a view of a conv's weight read
    through its strides where in_place (w contiguous), else a small contiguous copy."""
    taps = math.prod(w._shape[2:])
    if transposed:  # [Cin, Cout/G, taps] -> [G, Cin/G, taps, Cout/G]
        cig, cog = w._shape[0] // groups, w._shape[1]
        m = w.reshape(groups, cig, cog, taps).permute(0, 1, 3, 2)
    else:  # [Cout, Cin/G, taps] -> [G, Cin/G * taps, Cout/G]
        cog, cig = w._shape[0] // groups, w._shape[1]
        if in_place and w.is_contiguous():
            return w._view((groups, cig * taps, cog), (cog * cig * taps, 1, cig * taps), w._offset)
        m = w.reshape(groups, cog, cig * taps).permute(0, 2, 1)
    return m.contiguous().reshape(groups, cig * taps, cog)


def _weight_in_place(image, transposed):
    """Whether the forward GEMM reads a conv's weight through its strides instead of a contiguous
    copy: on GPUs, whose tiled kernel loads B's tiles along its unit-stride k. Not on CPUs: their
    vector kernel then gathers B's rows element by element, measured slower than the copy and its
    launch even for LeNet's small convs (PoCL: 1.4-2.2 ms with the copy, 1.9-3.3 ms in place)."""
    return not transposed and not image.device.backend.cpu_tuned


def _gather_product(mode, image, wmat, out_size, geo, groups, bias=None):
    """[N, G * Nc, *out_size] = gathered image (mode 'conv' or 'convT') @ wmat [G, K, Nc] (+ bias)."""
    n = image._shape[0]
    _, k, nc = wmat._shape
    positions = math.prod(out_size)
    out = launch.base.empty((n, groups * nc, *out_size), image.dtype, image.device)
    if out.numel() == 0:
        return out
    if k == 0:
        return out.zero_() if bias is None else out.copy_(bias.reshape(-1, 1, 1, 1).expand(out._shape))
    cpg = image._shape[1] // groups
    sn, sc = image._strides[:2]
    if mode == "conv" and _pointwise(image, geo):
        return _pointwise_product(image, wmat, out, groups, bias)
    bias_strides = (0, 1, 0, 0, nc) if bias is not None else None
    wg, wk, wn = wmat._strides
    launch.gemm.implicit_gemm(mode, image, _image_strides(image), geo.args(image._shape[2:], out_size),
                              wmat, (wk, wn, 0, 0, wg), out, (1, positions, 0, groups * nc * positions, nc * positions),
                              positions, nc, k, (1, n, groups), (0, sn, cpg * sc), bias, bias_strides)
    return out


def _pointwise(image, geo):
    """A 1x1 conv with unit strides and no padding whose image positions are one stride apart: a plain GEMM."""
    if any(k != 1 for k in geo.ks) or any(s != 1 for s in geo.st) or any(p != 0 for p in geo.pd):
        return False
    step = None
    for size, stride in zip(reversed(image._shape[2:]), reversed(image._strides[2:])):
        if size == 1:
            continue
        if step is not None and stride != step:
            return False
        step = stride * size
    return True


def _pointwise_product(image, wmat, out, groups, bias):
    """out[n, g] = wmat[g]^T (C_out x channels) @ image[n, g] (channels x positions), through launch.gemm.gemm's
    tuned plans: the orientation of a row-major product for NCHW tensors."""
    n = image._shape[0]
    _, k, nc = wmat._shape
    positions = math.prod(image._shape[2:])
    sn, sc = image._strides[:2]
    sp = next((st for size, st in zip(reversed(image._shape[2:]), reversed(image._strides[2:])) if size != 1), 1)
    wg, wk, wn = wmat._strides
    a = wmat._view((1, groups, nc, k), (0, wg, wn, wk), wmat._offset)
    b = image._view((n, groups, k, positions), (sn, k * sc, sc, sp), image._offset)
    c_view = out._view((n, groups, nc, positions), (groups * nc * positions, nc * positions, positions, 1), out._offset)
    d = bias._view((1, groups, nc, 1), (0, nc, 1, 0), bias._offset) if bias is not None else None
    launch.gemm.gemm(a, b, c_view, 1, 1 if bias is not None else 0, d)
    return out


def _weight_product(image, other, geo, groups):
    """[G, C_other/G, C_image/G * taps]: the weight gradient, contracting over (N, other's positions)."""
    taps = math.prod(geo.ks)
    n, c_other = other._shape[:2]
    cpg_img, cpg_other = image._shape[1] // groups, c_other // groups
    rows, positions = cpg_img * taps, math.prod(other._shape[2:])
    out = launch.base.empty((groups, cpg_other, rows), image.dtype, image.device)
    if out.numel() == 0:
        return out
    if n * positions == 0:
        return out.zero_()
    if _pointwise(image, geo) and _pointwise(other, geo):
        return _pointwise_weight_product(image, other, groups)
    columns = other.permute(0, 2, 3, 4, 1).contiguous()  # channels last: B's columns are unit-stride
    split = _image_split(image.device.backend, image.dtype, n, positions, rows, cpg_other, groups)
    if split > 1:  # each slice of the batch sums its images into its own partial result
        out = launch.base.empty((split, groups, cpg_other, rows), image.dtype, image.device)
    per = n // split
    launch.gemm.implicit_gemm("wgrad", image, _image_strides(image), geo.args(image._shape[2:], other._shape[2:]),
                           columns, (c_other, 1, 0, per * positions * c_other, cpg_other), out,
                           (1, rows, 0, groups * cpg_other * rows, cpg_other * rows), rows, cpg_other,
                           per * positions, (1, split, groups), (0, per * image._strides[0], cpg_img * image._strides[1]))
    return out.sum(0) if split > 1 else out


def _position_view(t, groups, positions_last):
    """t [N, C, *3] (positions one stride apart) as [N, G, C/G, P] (or [N, G, P, C/G])."""
    n, c = t._shape[:2]
    sn, sc = t._strides[:2]
    sp = next((st for size, st in zip(reversed(t._shape[2:]), reversed(t._strides[2:])) if size != 1), 1)
    p, cpg = math.prod(t._shape[2:]), c // groups
    if positions_last:
        return t._view((n, groups, cpg, p), (sn, cpg * sc, sc, sp), t._offset)
    return t._view((n, groups, p, cpg), (sn, cpg * sc, sp, sc), t._offset)


def _pointwise_weight_product(image, other, groups):
    """A 1x1 weight gradient as one GEMM per image (other[n] @ image[n]^T), summed over the batch."""
    n, c_other = other._shape[:2]
    per_image = launch.base.empty((n, groups, c_other // groups, image._shape[1] // groups), image.dtype, image.device)
    launch.gemm.gemm(_position_view(other, groups, True), _position_view(image, groups, False), per_image)
    return per_image.sum(0)


def _image_split(backend, dtype, n, positions, rows, cols, groups) -> int:
    """Into how many slices of the batch to split a weight gradient's long contraction (N x positions)
    so that the device has enough independent pieces: a divisor of n. On a device that ends long
    loops early (llvmpipe: Backend.loop_limit), each slice's contraction also stays below the limit."""
    tiles = launch.gemm.gemm_tiles(backend, dtype, rows, cols) * groups
    want = -(-4 * backend.compute_units // tiles)
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    if backend.loop_limit:
        fitting = [d for d in divisors if (n // d) * positions <= backend.loop_limit]
        if fitting and fitting[0] > want:
            return fitting[0]
    return max(d for d in divisors if d <= max(want, 1))


# ---- differentiable primitives -------------------------------------------------------------------------------
def _as5(t, nd):
    """A detached view of t with a batch dim and 3 spatial dims (leading size-1 ones for conv1d/conv2d)."""
    t = t.detach()
    if t.dim() == nd + 1:
        t = t.unsqueeze(0)
    return t.reshape(*t._shape[:2], *(1,) * (3 - nd), *t._shape[2:])


def _channel_sum(g, nd):
    """The bias gradient: g summed over everything but its channel dim."""
    channel = 1 if g.dim() == nd + 2 else 0
    return g.sum(dim=tuple(d for d in range(g.dim()) if d != channel))


def _conv_vjp(g, out, x, w, b, geo, groups, transposed, nd):
    dx = dw = db = None
    if x.requires_grad:
        dx = _convolution(g, w, None, geo, groups, not transposed, nd)
    if w.requires_grad:
        dw = _weight_grad(x, g, geo, groups, transposed, nd, w._shape)
    if b is not None and b.requires_grad:
        db = _channel_sum(g, nd)
    return dx, dw, db


def _convolution(x, w, b, geo, groups, transposed, nd):
    """Conv (or transposed conv) of x (batched or not, nd spatial dims) with w, recorded for autograd.

    The result's spatial sizes are geo.dst for a conv and geo.src for a transposed conv."""
    x5, w5 = _as5(x, nd), _as5(w, nd)
    bd = b.detach() if b is not None else None
    size = geo.src if transposed else geo.dst
    mode, gather_geo = "convT" if transposed else "conv", geo
    if transposed and all(s == 1 for s in geo.st):
        # NOTE: with unit strides a transposed conv is a conv with the flipped kernel and the padding
        # d * (k - 1) - p, whose gather needs no divisibility test (a division per element)
        mode, w5 = "conv", w5.flip((2, 3, 4))
        gather_geo = _Geometry(geo.dst, geo.src, geo.ks, geo.st,
                               tuple(d * (k - 1) - p for d, k, p in zip(geo.dl, geo.ks, geo.pd)), geo.dl)
    wmat = _fwd_matrix(w5, groups, transposed, _weight_in_place(x5, transposed))
    res = _gather_product(mode, x5, wmat, size, gather_geo, groups, bd)
    shape = (x._shape[:-nd - 1] if x.dim() == nd + 2 else ()) + res._shape[1:2] + size[3 - nd:]
    res = res.reshape(shape)
    return graph.record("ConvolutionBackward0", _conv_vjp, [x, w, b], res,
                        {"geo": geo, "groups": groups, "transposed": transposed, "nd": nd}, save=frozenset({0, 1}))


def _weight_grad_vjp(gg, out, x, g, geo, groups, transposed, nd, w_shape):
    dx = _convolution(g, gg, None, geo, groups, not transposed, nd) if x.requires_grad else None
    dg = _convolution(x, gg, None, geo, groups, transposed, nd) if g.requires_grad else None
    return dx, dg


def _weight_grad(x, g, geo, groups, transposed, nd, w_shape):
    """The weight gradient of a conv (or transposed conv) of x whose output gradient is g (recorded, so
    that gradients of gradients work)."""
    x5, g5 = _as5(x, nd), _as5(g, nd)
    # for a transposed conv, the equivalent forward conv maps g's positions to x's
    res = (_weight_product(g5, x5, geo, groups) if transposed else _weight_product(x5, g5, geo, groups))
    res = res.reshape(w_shape)
    return graph.record("ConvolutionBackwardBackward0", _weight_grad_vjp, [x, g], res,
                        {"geo": geo, "groups": groups, "transposed": transposed, "nd": nd, "w_shape": w_shape},
                        save=frozenset({0, 1}))


# ---- argument handling ------------------------------------------------------------------------------
def _expand(value, nd, name):
    if isinstance(value, int):
        return (value,) * nd
    value = tuple(value)
    if len(value) == 1:
        return value * nd
    if len(value) != nd:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {nd} values to match the "
                           f"convolution dimensions, but got {name}={list(value)}")
    return value


def _check_tensors(fname, input, weight, bias):
    for pos, (name, t) in enumerate((("input", input), ("weight", weight)), 1):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fname}(): argument '{name}' (position {pos}) must be Tensor, not {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{fname}(): argument 'bias' (position 3) must be Tensor, not {type(bias).__name__}")


def _check_common(fname, nd, input, weight, bias, stride, padding, dilation, groups, transposed):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fname}, but got input "
                           f"of size: {list(input._shape)}")
    if weight.dim() < 3:
        raise RuntimeError("weight should have at least three dimensions")
    if weight.dim() != nd + 2:  # PyTorch sizes the geometry by the weight, so the stride is what mismatches
        raise RuntimeError(f"expected stride to be a single integer value or a list of {weight.dim() - 2} values to "
                           f"match the convolution dimensions, but got stride={list(stride)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if not isinstance(padding, str) and any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"expected scalar type {input.dtype.torch_name} but found "
                           f"{weight.dtype.torch_name}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"slow_conv2d_cpu\" not implemented for '{input.dtype.torch_name}'")
    if bias is not None:
        if bias.dtype is not input.dtype:
            raise RuntimeError(f"Input type ({_CXX.get(input.dtype.name, input.dtype.name)}) and bias type "
                               f"({_CXX.get(bias.dtype.name, bias.dtype.name)}) should be the same")
    channels = input._shape[-nd - 1]
    shape = list(weight._shape)
    if weight._shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{shape}] instead")
    out_channels = weight._shape[1] * groups if transposed else weight._shape[0]
    if bias is not None and (bias.dim() != 1 or bias._shape[0] != out_channels):
        raise RuntimeError(f"Given weight of size {shape}, expected bias to be 1-dimensional with {out_channels} "
                           f"elements, but got bias of size {list(bias._shape)} instead")
    batched = list(input._shape) if input.dim() == nd + 2 else [1] + list(input._shape)
    if transposed:
        if channels != weight._shape[0]:
            raise RuntimeError(f"Given transposed=1, weight of size {shape}, expected input{batched} to have "
                               f"{weight._shape[0]} channels, but got {channels} channels instead")
    elif channels != weight._shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {shape}, expected input{batched} to have "
                           f"{weight._shape[1] * groups} channels, but got {channels} channels instead")
    launch.base.common_device([input, weight] + ([bias] if bias is not None else []), fname)


def _same_padding(ks, dl):
    """'same' padding: the total d * (k - 1) split with the extra element on the right."""
    return tuple(d * (k - 1) // 2 for k, d in zip(ks, dl))


def _pad3(values, fill):
    return (fill,) * (3 - len(values)) + tuple(values)


def _conv(nd, fname, input, weight, bias, stride, padding, dilation, groups):
    _check_tensors(fname, input, weight, bias)
    stride, dilation = _expand(stride, nd, "stride"), _expand(dilation, nd, "dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
    else:
        padding = _expand(padding, nd, "padding")
    _check_common(fname, nd, input, weight, bias, stride, padding, dilation, groups, False)
    ks = tuple(weight._shape[2:])
    src = tuple(input._shape[-nd:])
    if padding == "valid":
        padding = (0,) * nd
    if padding == "same":
        left, dst = _same_padding(ks, dilation), src
    else:
        left = padding
        padded = [s + 2 * p for s, p in zip(src, padding)]
        span = [d * (k - 1) + 1 for k, d in zip(ks, dilation)]
        if any(p < k for p, k in zip(padded, span)):
            raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel "
                               f"size: ({' x '.join(map(str, span))}). Kernel size can't be greater than actual input "
                               "size")
        dst = tuple((p - k) // s + 1 for p, k, s in zip(padded, span, stride))
    geo = _Geometry(_pad3(src, 1), _pad3(dst, 1), _pad3(ks, 1), _pad3(stride, 1), _pad3(left, 0),
                    _pad3(dilation, 1))
    return in_layout_of(_convolution(input, weight, bias, geo, groups, False, nd), input)


def _conv_transpose(nd, fname, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_tensors(fname, input, weight, bias)
    if isinstance(padding, str):
        raise TypeError(f"{fname}(): argument 'padding' must be tuple of ints, not str")
    stride, dilation = _expand(stride, nd, "stride"), _expand(dilation, nd, "dilation")
    padding, output_padding = _expand(padding, nd, "padding"), _expand(output_padding, nd, "output_padding")
    _check_common(fname, nd, input, weight, bias, stride, padding, dilation, groups, True)
    if any(o < 0 for o in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(o >= s and o >= d for o, s, d in zip(output_padding, stride, dilation)):
        names = ("depth", "height", "width")[3 - nd:] if nd > 1 else ("width",)
        parts = ([f"output_padding_{n}: {o}" for n, o in zip(names, output_padding)]
                 + [f"stride_{n}: {s}" for n, s in zip(names, stride)]
                 + [f"dilation_{n}: {d}" for n, d in zip(names, dilation)])
        raise RuntimeError("output padding must be smaller than either stride or dilation, but got " + " ".join(parts))
    ks = tuple(weight._shape[2:])
    src = tuple(input._shape[-nd:])
    dst = tuple((i - 1) * s - 2 * p + d * (k - 1) + o + 1
                for i, s, p, d, k, o in zip(src, stride, padding, dilation, ks, output_padding))
    if any(d <= 0 for d in dst):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, src))}). Calculated output size per "
                           f"channel: ({' x '.join(map(str, dst))}). Output size is too small")
    # the equivalent forward conv maps the result (dst) to the input (src)
    geo = _Geometry(_pad3(dst, 1), _pad3(src, 1), _pad3(ks, 1), _pad3(stride, 1), _pad3(padding, 0),
                    _pad3(dilation, 1))
    return in_layout_of(_convolution(input, weight, bias, geo, groups, True, nd), input)


# ---- public functions -------------------------------------------------------------------------------
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of input [N, C_in, L] (or [C_in, L]) with weight [C_out, C_in / groups, k]."""
    return _conv(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of input [N, C_in, H, W] (or unbatched) with weight [C_out, C_in / groups, kH, kW].

    padding: int, tuple, 'valid' or 'same' (stride 1 only; extra padding goes right, as PyTorch)."""
    return _conv(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of input [N, C_in, D, H, W] (or unbatched) with weight [C_out, C_in / groups, kD, kH, kW]."""
    return _conv(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution (the input gradient of conv1d) with weight [C_in, C_out / groups, k]."""
    return _conv_transpose(1, "conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution with weight [C_in, C_out / groups, kH, kW]."""
    return _conv_transpose(2, "conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 3-D convolution with weight [C_in, C_out / groups, kD, kH, kW]."""
    return _conv_transpose(3, "conv_transpose3d", input, weight, bias, stride, padding, output_padding, groups,
                           dilation)
