"""The Tensor: (storage, shape, strides, offset, dtype, device) plus autograd fields.

Views (view/reshape/permute/transpose/expand/slicing/squeeze...) only make new metadata over
the same storage. Ops are attached to the class by the op modules (see ops/), so this file
holds metadata, views, host transfers and conversions only.
"""
from __future__ import annotations

import math

import warnings

import numpy as np
import pyopencl as cl

from . import checks, dtypes as dt
from . import _memory_format as _mf
from ._printing import tensor_repr
from .device import as_device, device as Device


class Size(tuple):
    """torch.Size: a tuple that prints as ``torch.Size([2, 3])``."""

    def __repr__(self):
        return f"torch.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        return math.prod(self)

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r


def contiguous_strides(shape) -> tuple:
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


def wrap_dim(dim, ndim: int) -> int:
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return int(dim) % n


def _shape_arg(args) -> tuple:
    """Accept f(2, 3), f((2, 3)), f([2, 3]) or f(torch.Size) the way PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    out = []
    for a in args:
        if isinstance(a, Tensor):
            a = a.item()
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"size must be a tuple of ints, but got element of type {type(a).__name__}")
        out.append(int(a))
    return tuple(out)


class Tensor:
    __slots__ = ("_storage", "_shape", "_strides", "_offset", "dtype", "device",
                 "_requires_grad", "_grad_fn", "_grad", "_version_box", "_base", "_view_version",
                 "__weakref__", "__dict__")
    # _version_box: [version], the counter a tensor shares with its views, bumped by every in-place
    # op (a one-element list: the cheapest mutable box to make, and every op makes one)
    # rarely set: class-level defaults that an instance overrides in its __dict__ when set, so that
    # making a tensor (every op) does not set them
    _retains_grad = False
    _hooks = None  # tensor hooks (register_hook)
    _grad_accumulator = None  # a weak reference to a leaf's AccumulateGrad node
    _output_nr = 0  # which output of its grad_fn this tensor is

    def __new__(cls, *args, **kwargs):
        if cls is Tensor and not kwargs.get("_internal", False):
            return cls._legacy_constructor(dt.get_default_dtype(), args, kwargs)  # set by ops/creation.py
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    @classmethod
    def _make(cls, storage, shape, strides, offset, dtype, device):
        t = object.__new__(cls)
        t._storage = storage
        t._shape = shape
        t._strides = strides
        t._offset = offset
        t.dtype = dtype
        t.device = device
        t._requires_grad = False
        t._grad_fn = None
        t._grad = None
        t._version_box = [0]
        t._base = None
        t._view_version = None  # set on differentiable views: the version their grad_fn was made at
        return t

    # ---- metadata ---------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._shape)
        return self._shape[wrap_dim(dim, len(self._shape))]

    def stride(self, dim=None):
        if dim is None:
            return self._strides
        return self._strides[wrap_dim(dim, len(self._shape))]

    def storage_offset(self) -> int:
        return self._offset

    def dim(self) -> int:
        return len(self._shape)

    ndim = property(dim)
    ndimension = dim

    def numel(self) -> int:
        return math.prod(self._shape)

    nelement = numel

    def element_size(self) -> int:
        return self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.numel() * self.dtype.itemsize

    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the strides are the compact layout of memory_format (default: row-major)."""
        return _mf.is_contiguous_as(self._shape, self._strides, memory_format or _mf.contiguous_format)

    @property
    def is_cuda(self) -> bool:
        return self.device.is_cuda

    @property
    def is_cl(self) -> bool:
        return self.device.type == "cl"

    @property
    def is_cpu(self) -> bool:
        return self.device.type == "cpu"

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def layout(self):
        return "torch.strided"

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return self.dtype.is_complex

    def get_device(self) -> int:
        return -1 if self.device.type == "cpu" else self.device.index

    def data_ptr(self) -> int:
        return id(self._storage) + self._offset * self.dtype.itemsize

    def untyped_storage(self):
        return self._storage

    @property
    def _version(self) -> int:
        return self._version_box[0]

    def _bump_version(self):
        self._version_box[0] += 1

    @property
    def T(self):
        if self.dim() > 2:
            warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
                          "deprecated and it will throw an error in a future release. Consider `x.mT` to transpose "
                          "batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the "
                          "dimensions of a tensor.", UserWarning, stacklevel=2)
        return self.permute(tuple(reversed(range(self.dim()))))  # a tuple: () for a 0-d tensor

    @property
    def mT(self):
        if self.dim() == 0:
            return self.transpose(0, 0)  # PyTorch lets a scalar through
        if self.dim() < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self.dim()}-D tensor.")
        return self.transpose(-2, -1)

    @property
    def H(self):
        return self.T

    @property
    def mH(self):
        return self.mT

    # ---- host side --------------------------------------------------------------------
    def _host_array(self) -> np.ndarray:
        """A numpy view of this tensor's host memory (cpu tensors only). Numpy shares the memory
        from here on: the storage is exposed, i.e. mapped for the host (after the queued kernels
        that write it) except while a kernel uses it (see memory.py)."""
        if self.numel() == 0:
            return np.empty(self._shape, self.dtype.np)
        self._storage.expose()
        host = self._storage.host
        itemsize = self.dtype.itemsize
        return np.lib.stride_tricks.as_strided(
            host[self._offset * itemsize:].view(self.dtype.np),
            shape=self._shape, strides=tuple(s * itemsize for s in self._strides))

    def _to_numpy_copy(self) -> np.ndarray:
        """A fresh numpy copy of the values, from any device."""
        if self.device.is_host:
            src = self
            if not self._storage.exposed and not self.is_contiguous():
                span = sum((n - 1) * s for n, s in zip(self._shape, self._strides)) + 1
                if span > 4 * self.numel() and span * self.dtype.itemsize > 1 << 16:
                    src = self.contiguous()  # a sparse view of big device-owned memory: gather it first
            return src._storage.read_view(src._offset, src._shape, src._strides, src.dtype.np)
        src = self if self.is_contiguous() else self.contiguous()
        out = np.empty(src._shape, src.dtype.np)
        if out.size:
            backend = src.device.backend
            try:
                cl.enqueue_copy(backend.queue, out, src._storage.buffer,
                                src_offset=src._offset * src.dtype.itemsize, is_blocking=True)
            except cl.Error as err:
                raise backend.failure(err) from err
            if backend.pending_checks:  # the blocking read drained the queue: raise what it checked (checks.py)
                checks.run_pending(backend)
        return out

    def numpy(self, *, force=False) -> np.ndarray:
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self.dtype is dt.bfloat16:
            raise TypeError("Got unsupported ScalarType BFloat16")  # numpy has no bfloat16
        if not self.device.is_host:
            if force:
                return self._to_numpy_copy()
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. "
                            "Use Tensor.cpu() to copy the tensor to host memory first.")
        arr = self._host_array()
        if self.dtype is dt.bool_:
            arr = arr.view(np.bool_)
        return arr

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self.dtype is dt.bfloat16:
            raise TypeError("Got unsupported ScalarType BFloat16")
        arr = self.detach()._to_numpy_copy() if not self.device.is_host else self.detach().numpy()
        return arr.astype(dtype) if dtype is not None else arr

    def tolist(self):
        return dt.from_storage(self.detach()._to_numpy_copy(), self.dtype).tolist()

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return dt.from_storage(self.detach()._to_numpy_copy(), self.dtype).reshape(()).item()

    def __float__(self):
        return float(_real_scalar(self._scalar_item(), "double"))

    def __int__(self):
        return int(_real_scalar(self._scalar_item(), "int64_t"))

    def _scalar_item(self):
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __index__(self):
        if self.dtype.category != dt.INT or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            many = "no values" if self.numel() == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {many} is ambiguous")
        return bool(self.item())

    def __complex__(self):
        return complex(self.item())

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self.select(0, i) for i in range(self._shape[0]))

    def __repr__(self):
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self.dim() == 0 and spec:
            return format(self.item(), spec)
        return object.__format__(repr(self), spec) if spec else repr(self)

    def __hash__(self):
        return id(self)

    def __reduce_ex__(self, proto):
        from .serialization import _rebuild_tensor
        return (_rebuild_tensor, (self.detach()._to_numpy_copy(), str(self.device), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        with no_grad():
            new = self.clone()
        new.requires_grad_(self.requires_grad)
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    # ---- devices and dtypes -----------------------------------------------------------
    def to(self, *args, **kwargs):
        """to(device), to(dtype), to(device, dtype), to(other), with copy= and non_blocking=."""
        target_device, target_dtype = None, None
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        memory_format = kwargs.pop("memory_format", None)
        _mf.check(memory_format, self.dim())
        if "device" in kwargs:
            target_device = as_device(kwargs.pop("device"))
        if "dtype" in kwargs:
            target_dtype = dt.as_dtype(kwargs.pop("dtype"))
        if kwargs:
            raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
        for a in args:
            if isinstance(a, Tensor):
                target_device, target_dtype = a.device, a.dtype
            elif isinstance(a, dt.dtype):
                target_dtype = a
            elif isinstance(a, (str, Device, int)):
                target_device = as_device(a)
            elif a is None:
                continue
            else:
                raise TypeError(f"to() received an invalid combination of arguments: got {type(a).__name__}")
        result = self
        if target_device is not None and target_device != self.device:
            result = result._to_device(target_device)  # set by ops/creation.py
            copy = False
        if target_dtype is not None and target_dtype is not result.dtype:
            result = result._cast(target_dtype)
            copy = False
        if copy:
            result = result.clone()
        fmt = _mf.resolve(memory_format, self._shape, self._strides)
        asked = memory_format not in (None, _mf.preserve_format)
        if (asked or (result is not self and fmt is not _mf.contiguous_format)) and \
                not result.is_contiguous(memory_format=fmt):
            result = result.contiguous(memory_format=fmt)  # asked for, or a copy above came out row-major
        return result

    def cpu(self):
        return self.to("cpu")

    def cl(self, index=None):
        return self.to(Device("cl", index))

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """A copy on the OpenCL GPU that 'cuda' (or 'cuda:N', an int N) names; see cltensor.cuda."""
        return self.to(Device("cuda", device) if device is None or isinstance(device, int) else Device(device))

    def type(self, dtype=None, **kwargs):
        if dtype is None:
            return _LEGACY_NAMES[self.dtype]
        if isinstance(dtype, str) and dtype in _LEGACY_BY_NAME:
            dtype = _LEGACY_BY_NAME[dtype]
        return self.to(dt.as_dtype(dtype))

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self): return self.to(dt.float32)
    def double(self): return self.to(dt.float64)
    def half(self): return self.to(dt.float16)
    def bfloat16(self): return self.to(dt.bfloat16)
    def int(self): return self.to(dt.int32)
    def long(self): return self.to(dt.int64)
    def short(self): return self.to(dt.int16)
    def char(self): return self.to(dt.int8)
    def byte(self): return self.to(dt.uint8)
    def bool(self): return self.to(dt.bool_)

    # ---- views --------------------------------------------------------------------------
    def _view(self, shape, strides, offset):
        v = Tensor._make(self._storage, tuple(shape), tuple(strides), offset, self.dtype, self.device)
        v._version_box = self._version_box
        v._base = self if self._base is None else self._base
        if _grad_enabled():
            v._view_version = v._version_box[0]  # a differentiable view (see autograd.graph)
        return v


_LEGACY_NAMES = {dt.float32: "torch.FloatTensor", dt.float64: "torch.DoubleTensor",
                 dt.float16: "torch.HalfTensor", dt.bfloat16: "torch.BFloat16Tensor",
                 dt.int64: "torch.LongTensor", dt.int32: "torch.IntTensor",
                 dt.int16: "torch.ShortTensor", dt.int8: "torch.CharTensor", dt.uint8: "torch.ByteTensor",
                 dt.bool_: "torch.BoolTensor", dt.complex64: "torch.ComplexFloatTensor",
                 dt.complex128: "torch.ComplexDoubleTensor"}
_LEGACY_BY_NAME = {v: k for k, v in _LEGACY_NAMES.items()}


def _real_scalar(value, c_type):
    """A complex item as a real number, as PyTorch converts it: only when its imaginary part is 0."""
    if isinstance(value, complex):
        if value.imag != 0:
            raise RuntimeError(f"value cannot be converted to type {c_type} without overflow")
        return value.real
    return value


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def register(name: str, fn=None, *, method=True):
    """Attach fn as Tensor.<name> (the op modules call this for every method they provide)."""
    def deco(f):
        if method:
            setattr(Tensor, name, f)
        return f
    return deco(fn) if fn is not None else deco




# ---- autograd fields (the engine lives in cltensor.autograd) ------------------------------------
def _alias(self):
    """A new tensor object over the same memory and version counter, outside the graph."""
    a = Tensor._make(self._storage, self._shape, self._strides, self._offset, self.dtype, self.device)
    a._version_box = self._version_box
    a._base = self._base
    return a


def _get_requires_grad(self):
    # a view whose base was modified in place by an op that requires grad requires grad too
    return self._requires_grad or (self._view_version is not None and self.grad_fn is not None)


def _leaf_flag_error(flag):
    msg = "you can only change requires_grad flags of leaf variables."
    if not flag:
        msg += (" If you want to use a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
    return RuntimeError(msg)


def _set_requires_grad(self, flag):
    if not self.is_leaf:
        raise _leaf_flag_error(flag)
    if flag and not self.dtype.is_differentiable:
        raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
    self._requires_grad = bool(flag)


def _get_grad_fn(self):
    if self._view_version is not None and self._view_version != self._version_box[0]:
        from .autograd.graph import regenerate_view_grad_fn
        regenerate_view_grad_fn(self)  # the base (or another view of it) was modified in place
    return self._grad_fn


def _set_grad_fn(self, fn):
    self._grad_fn = fn
    if self._view_version is not None:
        self._view_version = self._version_box[0]


def _get_grad(self):
    if self._grad is None and self.grad_fn is not None and not self._retains_grad:
        warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                      "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                      "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.",
                      UserWarning, stacklevel=2)
    return self._grad


def _set_grad(self, value):
    if value is not None:
        if not isinstance(value, Tensor):
            raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}")
        if value.dtype is not self.dtype and self.dtype.is_differentiable:
            raise RuntimeError(
                f"attempting to assign a gradient with dtype '{value.dtype.c if value.dtype.name != 'bool' else 'bool'}'"
                f" to a tensor with grad_dtype '{self.dtype.torch_name}'. The gradient must match the tensor's "
                "grad_dtype (defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute with a "
                "specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a "
                "tensor and its gradient may break downstream systems that assume they match.")
        if value.shape != self.shape:
            raise RuntimeError(f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of size "
                               f"'{list(self.shape)}'. Please ensure that the gradient and the tensor are the same "
                               "size")
        if value.device != self.device:
            raise RuntimeError("assigned grad has data located on a different device")
    self._grad = value


def requires_grad_(self, requires_grad=True):
    if not isinstance(requires_grad, bool):
        raise TypeError(f"requires_grad_(): argument 'requires_grad' (position 1) must be bool, not "
                        f"{type(requires_grad).__name__}")
    if not self.is_leaf:
        if not requires_grad:
            raise _leaf_flag_error(False)
        return self
    if requires_grad and not self.dtype.is_differentiable:
        raise RuntimeError("only Tensors of floating point dtype can require gradients")
    self._requires_grad = requires_grad
    return self


def detach(self):
    return _alias(self)


def detach_(self):
    if self._view_version is not None:
        raise RuntimeError("Can't detach views in-place. Use detach() instead. If you are using "
                           "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as "
                           "True, gradients are views of DDP buckets, and hence detach_() cannot be called on "
                           "these gradients. To fix this error, please refer to the Optimizer.zero_grad() "
                           "function in torch/optim/optimizer.py as the solution.")
    self._grad_fn = None
    self._requires_grad = False
    return self


def _get_data(self):
    """The values without history; unlike detach(), changes through it are not seen by autograd."""
    a = _alias(self)
    a._version_box = [0]
    return a


def _set_data(self, value):
    self._storage, self._shape, self._strides = value._storage, value._shape, value._strides
    self._offset, self.dtype, self.device = value._offset, value.dtype, value.device


Tensor.requires_grad = property(_get_requires_grad, _set_requires_grad)
Tensor.grad_fn = property(_get_grad_fn, _set_grad_fn)
Tensor.grad = property(_get_grad, _set_grad)
Tensor.data = property(_get_data, _set_data)
Tensor._alias = _alias
Tensor.requires_grad_ = requires_grad_
Tensor.detach = detach
Tensor.detach_ = detach_

from .autograd.grad_mode import is_grad_enabled as _grad_enabled, no_grad  # noqa: E402  (after Tensor: no cycle)
