"""Creating tensors: from Python data and numpy, filled, ranges, *_like, and moving between devices."""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import launch
from .. import _memory_format as _mf
from .. import dtypes as dt
from ..autograd import graph
from ..autograd.grad_mode import is_grad_enabled
from ..launch.base import from_host
from ..device import as_device
from ..memory import Storage
from ..tensor import Size, Tensor, _shape_arg, register
from .complex import cast_expr
from .elementwise import _check_overlap, check_inplace_allowed, read_apart


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    if requires_grad:
        if not t.dtype.is_differentiable:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        t.requires_grad_(True)
    return t


# ---- from host data ---------------------------------------------------------------------------
def _infer_dtype(data, array: np.ndarray) -> dt.dtype:
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return dt.from_numpy_dtype(array.dtype)
    kind = array.dtype.kind
    if kind == "b":
        return dt.bool_
    if kind in "iu":
        return dt.int64
    if kind == "f":
        return dt.get_default_dtype()
    if kind == "c":  # Python complex numbers: the complex dtype of the default float (complex64 under float32)
        return dt.get_default_dtype().to_complex()
    if array.size == 0:
        return dt.get_default_dtype()
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _to_array(data):
    if isinstance(data, Tensor):
        return data.detach()._to_numpy_copy()
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat_items(data)):
        data = _tensors_to_lists(data)
    try:
        return np.asarray(data)
    except ValueError as e:
        raise ValueError(f"expected sequence of equal-length lists, got ragged data ({e})") from None


def _flat_items(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flat_items(x)
        else:
            yield x


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(x) for x in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """Copy data (nested lists, numbers, numpy arrays, tensors) into a new tensor.

    >>> tensor([[1, 2], [3, 4]]).dtype
    torch.int64
    """
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach() "
                      "rather than torch.tensor(sourceTensor).", UserWarning, stacklevel=2)
    if isinstance(data, (str, bytes)):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if isinstance(data, (dict, set)):
        raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")
    array = _to_array(data)
    python_ints = _python_ints(data, array)
    if python_ints:
        _check_python_ints(python_ints, None)
    d = dt.as_dtype(dtype) if dtype is not None else (data.dtype if isinstance(data, Tensor)
                                                      else _infer_dtype(data, array))
    if array.dtype.kind == "f" and d.category < dt.FLOAT and not np.all(np.isfinite(array)):
        raise RuntimeError(f"value cannot be converted to type {d.name} without overflow")
    if python_ints:
        _check_python_ints(python_ints, d)
    target = as_device(device) if device is not None else (
        data.device if isinstance(data, Tensor) else None)
    return _finish(from_host(dt.to_storage(array, d), d, target, owned=True), requires_grad)


def _python_ints(data, array) -> tuple:
    """(min, max) of the Python integers in data (numbers, nested lists), or () if none. Where numpy
    read them all as int64 (or bool) they fit int64 and its min/max say the rest, without a Python loop."""
    if isinstance(data, (np.ndarray, Tensor)) or array.dtype.kind == "b":
        return ()
    if array.dtype.kind == "i":
        return (int(array.min()), int(array.max())) if array.size else ()
    items = _flat_items(data) if isinstance(data, (list, tuple)) else (data,)
    ints = [v for v in items if isinstance(v, int) and not isinstance(v, bool)]
    return (min(ints), max(ints)) if ints else ()


def _check_python_ints(bounds, d):
    """Python integers that do not fit: ValueError past int64 (PyTorch reads them as C long long),
    RuntimeError past an integer dtype's range (PyTorch does not wrap them as numpy would)."""
    lo, hi = bounds
    if lo < -(1 << 63) or hi >= 1 << 63:
        raise ValueError("Overflow when unpacking long long")
    if d is not None and d.category == dt.INT:
        info = np.iinfo(d.np)
        if lo < info.min or hi > info.max:
            raise RuntimeError(f"value cannot be converted to type {d.name} without overflow")


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        return data.to(device=device if device is not None else data.device, dtype=dtype or data.dtype)
    if isinstance(data, np.ndarray) and (device is None or as_device(device).is_host) and (
            dtype is None or dt.as_dtype(dtype).np == data.dtype):
        try:
            return from_numpy(data)
        except (TypeError, ValueError):
            pass
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    t = tensor(obj, dtype=dtype, device=device) if copy else as_tensor(obj, dtype=dtype, device=device)
    return _finish(t, requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A cpu tensor sharing memory with a numpy array (writes through either are seen by both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    d = dt.from_numpy_dtype(array.dtype)
    if any(s < 0 for s in array.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors with negative "
                         "strides are not currently supported. (You can probably work around this by making a "
                         "copy of your array  with array.copy().) ")
    if any(s % array.itemsize for s in array.strides):
        raise ValueError("given numpy array strides not a multiple of the element byte size. "
                         "Copy the numpy array to reallocate the memory.")
    device = as_device("cpu")
    if array.size == 0:
        return from_host(array, d, device)
    span = sum((n - 1) * s for n, s in zip(array.shape, array.strides)) + array.itemsize
    flat = np.lib.stride_tricks.as_strided(array, shape=(span // array.itemsize,), strides=(array.itemsize,))
    storage = Storage.from_host_array(device.backend, flat)
    storage.expose()
    strides = tuple(s // array.itemsize for s in array.strides)
    return Tensor._make(storage, array.shape, strides, 0, d, device)


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    d = dt.as_dtype(dtype)
    return _finish(from_numpy(np.frombuffer(buffer, dtype=d.np, count=count, offset=offset)), requires_grad)


# ---- filled tensors -----------------------------------------------------------------------------
def _dtype_or_default(dtype, fallback=None):
    if dtype is not None:
        return dt.as_dtype(dtype)
    return fallback or dt.get_default_dtype()


def fill_(self, value):
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.dim()} dimensions.")
        return copy_(self, value.expand(self.shape) if self.dim() else value)
    check_inplace_allowed(self)
    launch.elementwise.fill(self, value)
    self._bump_version()
    if self.requires_grad and is_grad_enabled():
        graph.record_inplace("FillBackward0", lambda g, out, a: g.new_zeros(g.shape), [self], self, save=frozenset())
    return self


def zero_(self):
    return fill_(self, 0)


def _filled(t, value):
    """A new tensor filled with value: still at version 0, as PyTorch's factories leave it."""
    fill_(t, value)
    t._version_box[0] = 0
    return t


register("fill_", fill_)
register("zero_", zero_)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, pin_memory=False, memory_format=None):
    shape = _shape_arg(size)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    return _finish(launch.base.empty(shape, _dtype_or_default(dtype), as_device(device)), requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None):
    if dtype is None:
        dtype = dt.scalar_dtype(fill_value) if not isinstance(fill_value, Tensor) else fill_value.dtype
    t = empty(_shape_arg((size,)), dtype=dtype, device=device)
    return _finish(_filled(t, fill_value), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(_filled(empty(*size, dtype=dtype, device=device), 0), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(_filled(empty(*size, dtype=dtype, device=device), 1), requires_grad)


def _like(fn):
    def like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, **kw):
        out = fn(input.shape, dtype=dtype or input.dtype, device=device or input.device, **kw)
        fmt = _mf.resolve(memory_format, input._shape, input._strides)  # preserve: channels-last stays so
        if not out.is_contiguous(memory_format=fmt):
            out = out.contiguous(memory_format=fmt)
        return out.requires_grad_(requires_grad) if requires_grad else out
    like.__name__ = fn.__name__ + "_like"
    return like


empty_like, zeros_like, ones_like = _like(empty), _like(zeros), _like(ones)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return full(input.shape, fill_value, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def _new(fn):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return fn(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad, **kw)
    return method


register("new_tensor", new_tensor)
register("new_empty", _new(empty))
register("new_zeros", _new(zeros))
register("new_ones", _new(ones))
register("new_full", lambda self, size, fill_value, *, dtype=None, device=None, requires_grad=False:
         full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad))


# ---- ranges -------------------------------------------------------------------------------------
def _range_compute(d, device):
    if d.is_floating_point:
        return dt.float64 if device.backend.has_fp64 else dt.float32
    return dt.int64


def _index_fill(out, expr, params):
    compute = _range_compute(out.dtype, out.device)
    launch.elementwise.elementwise("range", expr, [], out, compute,
                         tuple((k, "T", launch.base.scalar_arg(v, compute)) for k, v in params))
    return out


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None):
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"upper bound and lower bound inconsistent with step sign")
    if dtype is None:
        dtype = dt.get_default_dtype() if any(isinstance(v, float) for v in vals) else dt.int64
    d = dt.as_dtype(dtype)
    n = max(0, math.ceil((end - start) / step))
    t = empty(n, dtype=d, device=device)
    return _finish(_index_fill(t, "start + (T)i * step", [("start", start), ("step", step)]), requires_grad)


def range_(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    n = int((end - start) // step) + 1
    return arange(start, start + n * step, step, dtype=dtype or dt.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None):
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    start, end = (v.item() if isinstance(v, Tensor) else v for v in (start, end))
    d = _dtype_or_default(dtype)
    t = empty(steps, dtype=d, device=device)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    expr = "((long)i < mid) ? start + step * (T)i : end - step * (T)(steps - 1 - (long)i)"
    compute = _range_compute(d, t.device)
    if not d.is_floating_point:
        compute = dt.float64 if t.device.backend.has_fp64 else dt.float32
    launch.elementwise.elementwise("linspace", expr, [], t, compute,
                         (("start", "T", float(start)), ("end", "T", float(end)), ("step", "T", float(step)),
                          ("steps", "long", steps), ("mid", "long", steps // 2 if steps > 1 else 1)))
    return _finish(t, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False, out=None):
    lin = linspace(start, end, steps, dtype=dt.float64 if as_device(device).backend.has_fp64 else dt.float32,
                   device=device)
    return _finish(lin.__rpow__(float(base)).to(_dtype_or_default(dtype)), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None):
    m = n if m is None else m
    t = empty(n, m, dtype=_dtype_or_default(dtype), device=device)
    if t.numel():
        launch.elementwise.elementwise("eye", "(i / cols == i % cols) ? 1 : 0", [], t, dt.int64, (("cols", "long", m),))
    return _finish(t, requires_grad)


# ---- copies, casts and moves ------------------------------------------------------------------------
def copy_(self, src, non_blocking=False, _setitem_of=None):
    """Write src (broadcast, any dtype, any device) into self."""
    if not isinstance(src, Tensor):
        if isinstance(src, (bool, int, float, np.number)):
            return fill_(self, src)
        src = tensor(src, device=self.device)
    if src.device != self.device:
        src = copy_to_device(src, self.device)
    shape = launch.strides.broadcast_shapes(self._shape, src._shape)
    if shape != self._shape:
        raise RuntimeError(f"output with shape {list(self._shape)} doesn't match the broadcast shape {list(shape)}")
    check_inplace_allowed(self)
    _check_overlap(self, [src])
    launch.elementwise.elementwise("_copy", cast_expr(src.dtype, self.dtype), read_apart(self, [src]), self, src.dtype)
    self._bump_version()
    if is_grad_enabled() and (src.requires_grad or self.requires_grad) and self.dtype.is_differentiable:
        graph.record_inplace("CopyBackwards", lambda g, out, a, b: (g * 0, g), [self, src], self, save=frozenset())
    return self


register("copy_", copy_)


def cast(self, d: dt.dtype) -> Tensor:
    launch.base.check_dtype_supported(d, self.device)
    out = launch.base.empty(self._shape, d, self.device)
    launch.elementwise.elementwise("_copy", cast_expr(self.dtype, d), [self], out, self.dtype)
    if self.requires_grad and is_grad_enabled() and d.is_differentiable:
        graph.record("ToCopyBackward0", lambda g, out, a: g, [self], out, save=frozenset())
    return out


Tensor._cast = cast


def copy_to_device(t: Tensor, device) -> Tensor:
    device = as_device(device)
    host = t.detach()._to_numpy_copy()
    out = from_host(host, t.dtype, device)
    if t.requires_grad and is_grad_enabled():
        src_device = t.device
        graph.record("ToCopyBackward0", lambda g, out, a, dev: copy_to_device(g, dev), [t], out,
                     {"dev": src_device}, save=frozenset())
    return out


Tensor._to_device = copy_to_device


# ---- the legacy constructors: torch.Tensor(...), torch.FloatTensor(...) ---------------------------------
def legacy_constructor(d: dt.dtype, args, kwargs):
    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"new() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if not args:
        return empty(0, dtype=d, device=device)
    if len(args) == 1 and isinstance(args[0], Tensor):
        return args[0].to(d) if args[0].dtype is not d else args[0].detach()
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args) or (
            len(args) == 1 and isinstance(args[0], Size)):
        return empty(*args, dtype=d, device=device)  # sizes, uninitialised like PyTorch
    if len(args) == 1:
        return tensor(args[0], dtype=d, device=device)
    raise TypeError(f"new(): invalid arguments {args!r}: expected sizes (ints) or one sequence of data")


Tensor._legacy_constructor = staticmethod(legacy_constructor)


def _legacy_type(d: dt.dtype, name: str):
    class Meta(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, Tensor) and obj.dtype is d

    def __new__(cls, *args, **kwargs):
        return legacy_constructor(d, args, dict(kwargs))

    return Meta(name, (), {"__new__": __new__, "dtype": d})


FloatTensor = _legacy_type(dt.float32, "FloatTensor")
DoubleTensor = _legacy_type(dt.float64, "DoubleTensor")
HalfTensor = _legacy_type(dt.float16, "HalfTensor")
LongTensor = _legacy_type(dt.int64, "LongTensor")
IntTensor = _legacy_type(dt.int32, "IntTensor")
ShortTensor = _legacy_type(dt.int16, "ShortTensor")
CharTensor = _legacy_type(dt.int8, "CharTensor")
ByteTensor = _legacy_type(dt.uint8, "ByteTensor")
BoolTensor = _legacy_type(dt.bool_, "BoolTensor")
