"""save/load in PyTorch's zip checkpoint format (see docs/serialization.md).

A checkpoint is an uncompressed zip with one folder ``archive/``:

    archive/data.pkl            pickle (protocol 2) of the object; tensors refer to storages by key
    archive/data/<key>          the raw bytes of one storage, little-endian, 64-byte aligned
    archive/byteorder           "little"
    archive/version             "3"
    archive/.format_version     "1"
    archive/.storage_alignment  "64"

Tensors pickle as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
OrderedDict())`` with the storage as a persistent id ``('storage', torch.<Type>Storage, key,
location, numel)`` — the names PyTorch writes, so files move between cltensor and PyTorch both
ways. Views of one storage share one record.

``load(..., weights_only=True)`` (the default) unpickles with an allowlist: containers, numbers,
strings, tensors, dtypes, devices, Size. Anything else raises ``pickle.UnpicklingError`` before
it runs; a truncated or corrupted archive raises ``RuntimeError``.
"""
from __future__ import annotations

import copyreg
import io
import os
import pickle
import struct
import zipfile
import zlib
from collections import OrderedDict

import numpy as np
import pyopencl as cl

from . import dtypes as dt, nn
from .device import _all_cl_devices, as_device, cuda_cl_indices, device as Device
from .memory import Storage
from .tensor import Size, Tensor
from ._pickle_names import resolve as _resolve_torch_name, torch_path, torch_state_extras
from .nn.module import Module
from .ops.creation import tensor

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals"]

_ALIGNMENT = 64
_PREFIX = "archive"
_STORAGE_NAMES = {dt.float32: "FloatStorage", dt.float64: "DoubleStorage", dt.float16: "HalfStorage",
                  dt.int64: "LongStorage", dt.int32: "IntStorage", dt.int16: "ShortStorage",
                  dt.int8: "CharStorage", dt.uint8: "ByteStorage", dt.bool_: "BoolStorage"}
if hasattr(dt, "bfloat16"):  # stored as its 16 bits, as PyTorch's BFloat16Storage
    _STORAGE_NAMES[dt.bfloat16] = "BFloat16Storage"
_UNSUPPORTED_STORAGES = ("ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage",
                         "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage")
_UNSUPPORTED_DTYPES = ("complex64", "complex128", "complex32", "cfloat", "cdouble", "uint16",
                       "uint32", "uint64", "float8_e4m3fn", "float8_e5m2", "qint8", "quint8", "qint32")


# ==== saving ========================================================================================
class _Global:
    """A reference written into the pickle as ``GLOBAL module name`` (a name PyTorch knows)."""
    __slots__ = ("module", "name")
    _cache: dict = {}

    def __new__(cls, module, name):
        g = cls._cache.get((module, name))
        if g is None:
            g = cls._cache[(module, name)] = object.__new__(cls)
            g.module, g.name = module, name
        return g

    def __call__(self, *args):  # pickle insists that a reduce function be callable; it never runs
        raise TypeError(f"{self.module}.{self.name} is a name for the pickle stream only")


class _StorageRef:
    """One storage (as seen through one dtype) to be written as record ``data/<key>``."""
    __slots__ = ("key", "storage", "dtype", "device")

    def __init__(self, key, storage, dtype, device):
        self.key, self.storage, self.dtype, self.device = key, storage, dtype, device


def _location(device: Device) -> str:
    """The location a storage is saved under: 'cuda:N' for the GPUs 'cuda' names (PyTorch with CUDA then
    loads them onto its GPU, and cltensor onto the same OpenCL GPU), else 'cpu' or 'cl:N'."""
    if device.type == "cl" and device.is_cuda:
        return f"cuda:{cuda_cl_indices().index(device.index)}"
    return str(device)


class _Pickler(pickle._Pickler):
    """The pure-Python pickler, extended to write PyTorch's global names for cltensor objects."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages: dict = {}  # (id(storage), dtype) -> _StorageRef (which keeps the storage alive)

    def _write_global(self, obj, module, name):
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("utf-8"))
        self.memoize(obj)

    def _save_marker(self, obj):
        self._write_global(obj, obj.module, obj.name)

    def _save_dtype(self, obj):
        self._write_global(obj, "torch", obj.name)

    dispatch[_Global] = _save_marker
    dispatch[dt.dtype] = _save_dtype

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            numel = obj.storage.nbytes // obj.dtype.itemsize
            return ("storage", _Global("torch", _STORAGE_NAMES[obj.dtype]), obj.key, _location(obj.device), numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        if isinstance(obj, Size):
            return _Global("torch", "Size"), (tuple(obj),)
        if isinstance(obj, Device):
            return _Global("torch", "device"), (str(obj),)
        if _is_module(obj):
            return self._reduce_module(obj)
        return NotImplemented

    def save_global(self, obj, name=None):
        path = torch_path(obj) if isinstance(obj, type) else None
        if path is None:
            return super().save_global(obj, name)
        self._write_global(obj, *path)

    def _reduce_module(self, mod):
        """A Module as PyTorch pickles one: NEWOBJ of its class (PyTorch's name for a cltensor layer) and
        its __dict__, with the hook tables PyTorch's Module needs and cltensor's Module lacks."""
        state = dict(mod.__dict__)
        for key, value in torch_state_extras(mod).items():
            state.setdefault(key, value)
        for key, default in _TORCH_MODULE_DEFAULTS:
            state.setdefault(key, default())
        return copyreg.__newobj__, (type(mod),), state

    def _reduce_tensor(self, t: Tensor):
        if _is_parameter(t):
            plain = t.detach()
            return _Global("torch._utils", "_rebuild_parameter"), (plain, t.requires_grad, OrderedDict())
        key = (id(t._storage), t.dtype)
        ref = self.storages.get(key)
        if ref is None:
            ref = self.storages[key] = _StorageRef(str(len(self.storages)), t._storage, t.dtype, t.device)
        args = (ref, t._offset, tuple(t._shape), tuple(t._strides), t.requires_grad, OrderedDict())
        return _Global("torch._utils", "_rebuild_tensor_v2"), args


def _is_module(obj) -> bool:
    return isinstance(obj, Module)


def _empty_hooks():
    return OrderedDict()


# attributes PyTorch's Module reads on every call (its __setstate__ fills the others)
_TORCH_MODULE_DEFAULTS = (("_backward_hooks", _empty_hooks), ("_backward_pre_hooks", _empty_hooks),
                          ("_is_full_backward_hook", lambda: None))


def _is_parameter(t) -> bool:
    param = getattr(nn, "Parameter", None)
    return param is not None and isinstance(t, param) and param is not Tensor


def _storage_bytes(ref: _StorageRef) -> np.ndarray:
    """The storage's bytes as a new uint8 array (for cpu storages read by the rules of host memory,
    memory.Storage.read: in place where numpy shares it, by the driver where the device owns it)."""
    nbytes = ref.storage.nbytes
    backend = ref.storage.backend
    if nbytes == 0:
        return np.zeros(0, np.uint8)
    if ref.device.is_host:
        return ref.storage.read(np.empty(nbytes, np.uint8))
    out = np.empty(nbytes, np.uint8)
    cl.enqueue_copy(backend.queue, out, ref.storage.buffer, is_blocking=True)
    return out


def _aligned_info(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    """A ZipInfo whose data starts on a 64-byte boundary (padding in an extra field, as PyTorch does)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    header_end = zf.start_dir + 30 + len(name.encode("utf-8")) + 4
    pad = -header_end % _ALIGNMENT
    info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    return info


def _write_record(zf: zipfile.ZipFile, name: str, data) -> None:
    zf.writestr(_aligned_info(zf, f"{_PREFIX}/{name}"), data)


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False) -> None:
    """Save ``obj`` (tensors, containers of them, state_dicts, optimizer states...) to a path or a file.

    The file is PyTorch's zip format, so ``torch.load`` reads it too (with ``map_location='cpu'``
    when it holds ``cl:N`` tensors).

    >>> cltensor.save({'w': cltensor.ones(3)}, 'ckpt.pt')
    >>> cltensor.load('ckpt.pt')['w']
    tensor([1., 1., 1.])
    """
    if pickle_module is not None and pickle_module is not pickle:
        raise ValueError("cltensor.save writes with the standard pickle module only")
    if not _use_new_zipfile_serialization:
        raise ValueError("cltensor.save only writes the zip format (_use_new_zipfile_serialization=True)")
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, protocol=max(2, pickle_protocol))
    pickler.dump(obj)
    with _open_for_write(f) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as zf:
        _write_record(zf, "data.pkl", buffer.getvalue())
        _write_record(zf, ".format_version", b"1")
        _write_record(zf, ".storage_alignment", str(_ALIGNMENT).encode())
        if not _disable_byteorder_record:
            _write_record(zf, "byteorder", b"little")
        for ref in pickler.storages.values():
            _write_record(zf, f"data/{ref.key}", memoryview(_storage_bytes(ref)))
        _write_record(zf, "version", b"3\n")


class _open_for_write:
    def __init__(self, f):
        self.f, self.owned = f, isinstance(f, (str, os.PathLike))

    def __enter__(self):
        if self.owned:
            self.handle = open(self.f, "wb")
            return self.handle
        if not hasattr(self.f, "write"):
            raise TypeError(f"save() expected a path or a writable file object, got {type(self.f).__name__}")
        return self.f

    def __exit__(self, *exc):
        if self.owned:
            self.handle.close()
        return False


# ==== loading =======================================================================================
class _StorageType:
    """What ``torch.FloatStorage`` & co. load as: a dtype tag for persistent ids."""
    __slots__ = ("dtype", "name")

    def __init__(self, dtype, name):
        self.dtype, self.name = dtype, name


class LoadedStorage:
    """A storage read from a checkpoint; ``map_location`` callables receive one and may return
    ``storage``, ``storage.cpu()``, ``storage.to(device)``, ``storage.cl(index)`` or ``storage.cuda(index)``."""

    def __init__(self, data: np.ndarray, dtype, location: str, device=None):
        self._data, self.dtype, self.location, self.device = data, dtype, location, device

    def nbytes(self) -> int:
        return self._data.nbytes

    def size(self) -> int:
        return self._data.nbytes // self.dtype.itemsize

    def to(self, device):
        return LoadedStorage(self._data, self.dtype, self.location, as_device(device))

    def cpu(self):
        return self.to("cpu")

    def cl(self, index=None):
        return self.to(Device("cl", index))

    def cuda(self, device=None, non_blocking=False):
        """The storage on the OpenCL GPU 'cuda' (or 'cuda:N', an int N) names (see cltensor.cuda)."""
        return self.to(Device("cuda", device) if device is None or isinstance(device, int) else Device(device))


class _Loader:
    """Reads one archive: storages on demand, restored where ``map_location`` says."""

    def __init__(self, zf: zipfile.ZipFile, prefix: str, map_location, name: str):
        self.zf, self.prefix, self.map_location, self.name = zf, prefix, map_location, name
        self.storages: dict = {}
        self.materialized: dict = {}
        order = self._read_optional("byteorder")
        self.byteorder = order.decode("latin-1").strip() if order else "little"
        if self.byteorder not in ("little", "big"):
            raise RuntimeError(f"{name}: unknown byteorder record {self.byteorder!r}")

    def _read_optional(self, record):
        try:
            self.zf.getinfo(f"{self.prefix}{record}")
        except KeyError:
            return None
        return self.read_record(record)

    def read_record(self, record: str) -> bytes:
        try:
            return self.zf.read(f"{self.prefix}{record}")
        except KeyError:
            raise RuntimeError(f"{self.name}: the archive lacks record {record!r} (truncated or corrupted file)") \
                from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, zlib.error) as err:
            raise RuntimeError(f"{self.name}: cannot read record {record!r}: {err} (corrupted file)") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r} in checkpoint")
        _, storage_type, key, location, _numel = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str) or not isinstance(location, str):
            raise pickle.UnpicklingError(f"malformed storage reference {pid!r} in checkpoint")
        if storage_type.dtype is None:
            raise RuntimeError(f"{self.name}: tensors of torch.{storage_type.name} are not supported by cltensor "
                               "(no bfloat16, complex or quantized dtypes); convert them before saving")
        cached = self.storages.get(key)
        if cached is None:
            data = np.frombuffer(self.read_record(f"data/{key}"), np.uint8)
            if self.byteorder == "big" and storage_type.dtype.itemsize > 1:
                data = data.view(storage_type.dtype.np.newbyteorder(">")).astype(storage_type.dtype.np).view(np.uint8)
            cached = self.storages[key] = self._restore(LoadedStorage(data, storage_type.dtype, location))
        return cached

    def _restore(self, storage: LoadedStorage) -> LoadedStorage:
        loc, ml = storage.location, self.map_location
        if ml is None:
            return storage.to(_device_of_location(loc))
        if isinstance(ml, (str, Device)):
            return storage.to(ml)
        if isinstance(ml, dict):
            return storage.to(_device_of_location(str(ml.get(loc, loc))))
        if callable(ml):
            result = ml(storage, loc)
            if result is None:
                return storage.to(_device_of_location(loc))
            if isinstance(result, LoadedStorage):
                return result if result.device is not None else result.to("cpu")
            return storage.to(result)
        raise TypeError(f"map_location should be a str, a device, a dict or a callable, got {type(ml).__name__}")

    def materialize(self, storage: LoadedStorage) -> Storage:
        """The cltensor Storage of a loaded storage on its target device (one per storage)."""
        found = self.materialized.get(id(storage))
        if found is None:
            found = self.materialized[id(storage)] = _upload(storage._data, storage.device)
        return found


def _device_of_location(location: str) -> Device:
    try:
        dev = as_device(location)
        if dev.type == "cuda":  # 'cuda' names no device here (no OpenCL GPU)
            raise RuntimeError("no GPU")
        if dev.type == "cl":
            if dev.index >= len(_all_cl_devices()):
                raise RuntimeError("out of range")
        return dev
    except (RuntimeError, TypeError):
        raise RuntimeError(f"Attempting to deserialize a tensor saved on device '{location}', which this machine "
                           "does not have. Pass map_location='cpu' (or a 'cl:N' device) to cltensor.load to "
                           "choose where the tensors go.") from None


def _upload(data: np.ndarray, device: Device) -> Storage:
    backend = device.backend
    if device.is_host:
        return Storage.from_host_array(backend, np.array(data, dtype=np.uint8, copy=True))
    storage = Storage.allocate(backend, data.nbytes, False)
    if data.nbytes:
        cl.enqueue_copy(backend.queue, storage.buffer, np.ascontiguousarray(data), is_blocking=True)
    return storage


_current_loader: list = []  # the loader of the load() in progress (rebuild functions use it)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, LoadedStorage) or not _current_loader:
        raise pickle.UnpicklingError("_rebuild_tensor_v2 expects a storage from the checkpoint")
    shape, strides = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    offset = storage_offset
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0 or len(shape) != len(strides) \
            or any(s < 0 for s in shape) or any(s < 0 for s in strides):
        raise pickle.UnpicklingError(f"malformed tensor metadata: offset {offset!r}, size {size!r}, stride {stride!r}")
    if 0 not in shape:
        last = offset + sum((n - 1) * s for n, s in zip(shape, strides))
        if last >= storage.size():
            raise RuntimeError(f"corrupted checkpoint: a tensor of size {list(shape)} and stride {list(strides)} at "
                               f"offset {offset} reaches element {last} of a storage of {storage.size()} elements")
    t = Tensor._make(_current_loader[-1].materialize(storage), shape, strides, offset, storage.dtype, storage.device)
    if requires_grad:
        if not t.dtype.is_floating_point:
            raise pickle.UnpicklingError("only floating point tensors can require grad")
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v1(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _int_tuple(values, what) -> tuple:
    if not isinstance(values, (tuple, list, Size)) or \
            any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise pickle.UnpicklingError(f"malformed tensor {what} {values!r} in checkpoint")
    return tuple(values)


def _rebuild_parameter(data, requires_grad, backward_hooks=None, state=None):
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError("_rebuild_parameter expects a tensor")
    param = getattr(nn, "Parameter", None)
    if param is not None:
        return param(data, requires_grad)
    return data.requires_grad_(bool(requires_grad))


def _rebuild_tensor(array, device, requires_grad):
    """What ``pickle.dumps(tensor)`` (copy, multiprocessing) rebuilds from: values, device, flag."""
    if isinstance(array, LoadedStorage):
        raise pickle.UnpicklingError("legacy _rebuild_tensor records are not supported")
    t = tensor(np.asarray(array), device=device)
    return t.requires_grad_(True) if requires_grad else t


def _device_from_pickle(type_or_spec, index=None):
    spec = type_or_spec if index is None else f"{type_or_spec}:{index}"
    if not isinstance(spec, str):
        raise pickle.UnpicklingError(f"malformed device {type_or_spec!r}")
    try:
        return Device(spec)
    except (RuntimeError, TypeError) as err:
        raise RuntimeError(f"checkpoint holds a device object {spec!r} that cltensor cannot create: {err}") from None


def _encode(text, encoding="utf-8"):
    """_codecs.encode as protocol 2 pickles bytes (latin-1 text); other codecs are refused."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise pickle.UnpicklingError(f"unsupported _codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode(encoding)


def _size_from_pickle(values=()):
    return Size(_int_tuple(tuple(values), "Size"))


def _allowlist() -> dict:
    table = {("collections", "OrderedDict"): OrderedDict,
             ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("builtins", "complex"): complex,
             ("builtins", "bytearray"): bytearray, ("builtins", "slice"): slice, ("builtins", "range"): range,
             ("_codecs", "encode"): _encode,
             ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
             ("torch._utils", "_rebuild_tensor"): _rebuild_tensor_v1,
             ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
             ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
             ("torch", "Size"): _size_from_pickle, ("torch", "device"): _device_from_pickle}
    for d, name in _STORAGE_NAMES.items():
        table[("torch", name)] = _StorageType(d, name[:-len("Storage")])
    table[("torch", "UntypedStorage")] = _StorageType(dt.uint8, "Untyped")
    for name in _UNSUPPORTED_STORAGES:
        table[("torch", name)] = _StorageType(None, name)
    for d in dt.ALL:
        table[("torch", d.name)] = d
    return table


_ALLOWED = _allowlist()
_SAFE_GLOBALS: dict = {}


def add_safe_globals(objects) -> None:
    """Allow more classes or functions under weights_only=True (as ``torch.serialization.add_safe_globals``)."""
    for obj in objects:
        module, name = (obj[1], obj[0]) if isinstance(obj, tuple) else (obj.__module__, obj.__qualname__)
        _SAFE_GLOBALS[(module, name)] = obj[0] if isinstance(obj, tuple) else obj


def get_safe_globals() -> list:
    return list(_SAFE_GLOBALS.values())


def clear_safe_globals() -> None:
    _SAFE_GLOBALS.clear()


class safe_globals:
    """``with safe_globals([MyNet, nn.Linear]): load(f)``: allow the objects inside the block only."""

    def __init__(self, safe_globals):
        self.objects = list(safe_globals)

    def __enter__(self):
        self.saved = dict(_SAFE_GLOBALS)
        add_safe_globals(self.objects)
        return self

    def __exit__(self, *exc):
        _SAFE_GLOBALS.clear()
        _SAFE_GLOBALS.update(self.saved)
        return False


def _weights_only_error(what: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(
        f"Weights only load failed: {what} is not allowed by cltensor.load(weights_only=True), which only "
        "rebuilds tensors, containers, numbers, strings, dtypes, devices and Size. If you trust the file, "
        "load it with weights_only=False (that runs any code the file names), or allow the classes it names "
        "with cltensor.serialization.add_safe_globals([...]) or the safe_globals([...]) context manager.")


def _restricted_build(self):
    """BUILD under weights_only: attribute dicts of OrderedDicts (a state_dict's _metadata), and the state of
    instances of classes allowed by add_safe_globals (as PyTorch's weights_only unpickler)."""
    state, inst = self.stack[-1], self.stack[-2]
    if _is_safe(type(inst)):
        return pickle._Unpickler.load_build(self)
    self.stack.pop()
    if isinstance(inst, OrderedDict) and isinstance(state, dict) and all(isinstance(k, str) for k in state):
        inst.__dict__.update(state)
        return
    raise _weights_only_error(f"setting the state of a {type(inst).__name__}")


def _is_safe(obj) -> bool:
    return any(obj is allowed for allowed in _SAFE_GLOBALS.values())


def _torch_global(module: str, name: str):
    """What a ``torch.*`` global of a pickle means in cltensor (a whole model names torch.nn.modules.*)."""
    found = _resolve_torch_name(module, name)
    if found is None:
        raise pickle.UnpicklingError(f"the checkpoint names {module}.{name}, which cltensor does not have")
    return found


class _WeightsOnlyUnpickler(pickle._Unpickler):
    """The pure-Python unpickler with an allowlist of globals and a restricted BUILD."""

    dispatch = pickle._Unpickler.dispatch.copy()
    dispatch[pickle.BUILD[0]] = _restricted_build

    def __init__(self, file, loader: _Loader):
        super().__init__(file, encoding="utf-8")
        self.persistent_load = loader.persistent_load

    def find_class(self, module, name):
        module = "builtins" if module == "__builtin__" else module  # protocol 2 writes Python 2's name
        found = _ALLOWED.get((module, name))
        if found is None:
            found = _SAFE_GLOBALS.get((module, name))
        if found is None and (module == "torch" or module.startswith("torch.")):
            mapped = _resolve_torch_name(module, name)  # PyTorch's name of a class allowed by its cltensor name
            found = mapped if mapped is not None and _is_safe(mapped) else None
        if found is None:
            if module.startswith("torch") and name in _UNSUPPORTED_DTYPES:
                raise RuntimeError(f"checkpoint uses torch.{name}, which cltensor does not support")
            raise _weights_only_error(f"the global {module}.{name}")
        return found


class _FullUnpickler(pickle.Unpickler):
    """weights_only=False: PyTorch's names map to cltensor's, anything else is imported (trusted files only)."""

    def __init__(self, file, loader: _Loader):
        super().__init__(file)
        self._loader = loader

    def persistent_load(self, pid):
        return self._loader.persistent_load(pid)

    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is not None:
            return found
        if module == "torch" or module.startswith("torch."):
            return _torch_global(module, name)
        return super().find_class(module, name)


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Load what :func:`save` (or ``torch.save``) wrote.

    ``map_location``: None (each tensor returns to the device it was saved from), a device or its
    name (everything goes there), a dict ``{'cl:0': 'cpu'}`` mapping saved locations, or a callable
    ``(storage, location) -> storage.cpu() | storage.cl(i) | device | None``.

    ``weights_only=True`` (default) refuses every global outside an allowlist with
    ``pickle.UnpicklingError`` and so never runs code from the file; ``weights_only=False``
    unpickles anything (e.g. a whole saved Module) and must only be used on trusted files.
    Truncated, corrupted or non-checkpoint files raise ``RuntimeError``.
    """
    if pickle_module is not None and weights_only:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    name = f if isinstance(f, (str, os.PathLike)) else getattr(f, "name", type(f).__name__)
    with _open_zip(f, name) as zf:
        prefix = _archive_prefix(zf, name)
        loader = _Loader(zf, prefix, map_location, name)
        data = io.BytesIO(loader.read_record("data.pkl"))
        unpickler = _WeightsOnlyUnpickler(data, loader) if weights_only else _FullUnpickler(data, loader)
        _current_loader.append(loader)
        try:
            return unpickler.load()
        except (pickle.UnpicklingError, RuntimeError):
            raise
        except (EOFError, ValueError, IndexError, KeyError, TypeError, AttributeError, struct.error) as err:
            if not weights_only and isinstance(err, (AttributeError, TypeError)):
                raise
            raise pickle.UnpicklingError(f"{name}: malformed pickle in data.pkl ({type(err).__name__}: {err})") \
                from None
        finally:
            _current_loader.pop()


class _open_zip:
    def __init__(self, f, name):
        self.f, self.name = f, name

    def __enter__(self) -> zipfile.ZipFile:
        if isinstance(self.f, (str, os.PathLike)):
            self.handle = open(self.f, "rb")
        elif hasattr(self.f, "read"):
            self.handle = self.f
        else:
            raise TypeError(f"load() expected a path or a readable file object, got {type(self.f).__name__}")
        if not (hasattr(self.handle, "seekable") and self.handle.seekable()):
            self.handle = io.BytesIO(self.handle.read())
        head = self.handle.read(1)
        self.handle.seek(-len(head), io.SEEK_CUR)
        if head[:1] == b"\x80":
            raise RuntimeError(f"{self.name} is a plain pickle (PyTorch's legacy pre-1.6 format or pickle.dump), "
                               "which cltensor.load does not read; re-save it with torch.save")
        try:
            self.zf = zipfile.ZipFile(self.handle, "r")
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as err:
            raise RuntimeError(f"{self.name} is not a valid checkpoint: {err} (the file is truncated, corrupted or "
                               "not written by cltensor.save / torch.save)") from None
        return self.zf

    def __exit__(self, *exc):
        self.zf.close()
        if self.handle is not self.f:
            self.handle.close()
        return False


def _archive_prefix(zf: zipfile.ZipFile, name: str) -> str:
    for entry in zf.namelist():
        if entry.endswith("data.pkl") and entry.count("/") == 1:
            return entry[:-len("data.pkl")]
    raise RuntimeError(f"{name} is not a checkpoint: the zip has no <archive>/data.pkl record")
