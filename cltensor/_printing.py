"""repr/str of tensors in PyTorch's exact format (a port of torch/_tensor_str.py's rules)."""
from __future__ import annotations

import math

import numpy as np

from . import dtypes
from .device import get_default_device


class PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


OPTS = PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    if profile == "default":
        OPTS.precision, OPTS.threshold, OPTS.edgeitems, OPTS.linewidth = 4, 1000, 3, 80
    elif profile == "short":
        OPTS.precision, OPTS.threshold, OPTS.edgeitems, OPTS.linewidth = 2, 1000, 2, 80
    elif profile == "full":
        OPTS.precision, OPTS.threshold, OPTS.edgeitems, OPTS.linewidth = 4, math.inf, 3, 80
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(OPTS, name, value)
    OPTS.sci_mode = sci_mode


class _Formatter:
    def __init__(self, values: np.ndarray, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if finite.size == 0:
            return
        absval = np.abs(finite)
        lo, hi = absval.min(), absval.max()
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        p = OPTS.precision
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1.0e8:
                self.sci_mode = True
                strs = [f"{v:.{p}e}" for v in finite.tolist()]
            else:
                strs = [f"{v:.0f}" + " " for v in finite.tolist()]
        elif hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
            self.sci_mode = True
            strs = [f"{v:.{p}e}" for v in finite.tolist()]
        else:
            strs = [f"{v:.{p}f}" for v in finite.tolist()]
        self.max_width = max(self.max_width, max(len(s) for s in strs))
        if OPTS.sci_mode is not None:
            self.sci_mode = OPTS.sci_mode

    def format(self, value) -> str:
        p = OPTS.precision
        if self.floating:
            if self.sci_mode:
                text = f"{value:{self.max_width}.{p}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{p}f}"
        else:
            text = str(value)
        return (self.max_width - len(text)) * " " + text


class _ComplexFormatter:
    """PyTorch's complex format: the real and the imaginary parts each with their own formatter,
    written re+imj (the imaginary part's padding dropped)."""

    def __init__(self, values: np.ndarray):
        self.re, self.im = _Formatter(values.real, True), _Formatter(values.imag, True)
        self.max_width = self.re.max_width + self.im.max_width + 1

    def format(self, value) -> str:
        imag = (self.im.format(value.imag) + "j").lstrip()
        return self.re.format(value.real) + (imag if imag[0] in "+-" else "+" + imag)


def _summarized(a: np.ndarray) -> np.ndarray:
    e = OPTS.edgeitems
    if a.ndim == 0:
        return a
    if a.shape[0] > 2 * e:
        parts = [a[:e], a[-e:]]
    else:
        parts = [a]
    parts = [np.stack([_summarized(x) for x in p]) if a.ndim > 1 and len(p) else p for p in parts]
    return np.concatenate(parts)


def _vector(a, indent, summarize, fmt):
    element_length = fmt.max_width + 2
    per_line = max(1, int(math.floor((OPTS.linewidth - indent) / element_length)))
    e = OPTS.edgeitems
    if summarize and not e:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * e:
        data = [fmt.format(v) for v in a[:e].tolist()] + [" ..."] + [fmt.format(v) for v in a[-e:].tolist()]
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, fmt)
    e = OPTS.edgeitems
    if summarize and a.shape[0] > 2 * e:
        rows = ([_nested(a[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."]
                + [_nested(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0] - e, a.shape[0])])
    else:
        rows = [_nested(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _add_suffixes(text, suffixes, indent):
    out = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last_line_len + len(s) + 2 > OPTS.linewidth:
            out.append(",\n" + " " * indent + s)
            last_line_len = indent + len(s)
        else:
            out.append(", " + s)
            last_line_len += len(s) + 2
    out.append(")")
    return "".join(out)


def tensor_repr(t, prefix="tensor(") -> str:
    indent = len(prefix)
    suffixes = []
    if t.device != get_default_device():
        suffixes.append(f"device='{t.device}'")
    d = t.dtype
    default_dtypes = (dtypes.get_default_dtype(), dtypes.get_default_dtype().to_complex(), dtypes.int64, dtypes.bool_)
    if t.numel() == 0:
        if t.dim() != 1:
            suffixes.append("size=" + str(tuple(t.shape)))
        if d is not dtypes.get_default_dtype() and d is not dtypes.int64:
            suffixes.append(f"dtype={d!r}")
        body = "[]"
    else:
        if d not in default_dtypes:
            suffixes.append(f"dtype={d!r}")
        values = dtypes.from_storage(t.detach()._to_numpy_copy(), d)
        if d is dtypes.float16:
            values = values.astype(np.float32)
        summarize = values.size > OPTS.threshold
        shown = _summarized(values) if summarize else values
        fmt = _ComplexFormatter(shown) if d.is_complex else _Formatter(shown, d.is_floating_point)
        body = _nested(values, indent, summarize, fmt)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
