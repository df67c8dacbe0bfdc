"""Automatic mixed precision: ``torch.autocast`` / ``torch.amp.autocast``.

Inside an enabled region, ops on PyTorch's lower-precision list (matmul, linear, conv...) cast
their floating inputs (float64 excepted) to the region's dtype, ops on its float32 list (losses,
norms, exp/log/pow on 'cuda'...) cast them to float32, ops on its promote list cast them to the
widest floating dtype among them, and every other op runs on its inputs as given. The lists are
PyTorch's, per device type ('cpu' lists differ from 'cuda' lists). The casts are ordinary
``Tensor.to`` calls recorded by autograd, so gradients reach float32 leaves in float32.

The hook is one wrapper per listed name, installed once at import (:func:`install`) over the
functions of the cltensor namespace, ``nn.functional``, ``ops.linalg`` and the Tensor methods and
operators: unless some thread is inside an enabled region it calls the op at once. As in PyTorch
(whose autocast kernel redispatches below itself), an op called from inside a wrapped op is not
cast again. The state is per thread, as PyTorch's.
"""
from __future__ import annotations

import functools
import threading
import warnings

from .. import dtypes as dt
from ..tensor import Tensor

_LOWER_COMMON = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                 "bmm", "mm", "baddbmm", "addmm", "addbmm", "linear", "matmul", "__matmul__", "__rmatmul__",
                 "prelu", "scaled_dot_product_attention")
LOWER_PRECISION = {
    "cpu": frozenset(_LOWER_COMMON + ("vecdot",)),
    "cuda": frozenset(_LOWER_COMMON + ("addmv", "addr", "mv", "chain_matmul", "multi_dot")),
}
_FP32_LOSSES = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy", "kl_div",
                "cosine_embedding_loss", "hinge_embedding_loss", "poisson_nll_loss", "margin_ranking_loss",
                "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
                "binary_cross_entropy_with_logits", "cdist", "prod", "renorm")
FP32 = {
    "cpu": frozenset(_FP32_LOSSES + ("binary_cross_entropy", "trace", "inverse", "pinverse", "avg_pool3d",
                                     "max_pool3d", "adaptive_avg_pool3d", "quantile", "nanquantile", "cholesky")),
    "cuda": frozenset(_FP32_LOSSES + (
        "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal", "rsqrt",
        "sinh", "tan", "pow", "__pow__", "__rpow__", "__rtruediv__", "__rdiv__", "softplus", "layer_norm",
        "group_norm", "norm", "cosine_similarity", "dist", "pdist", "logsumexp", "sum", "cumprod", "cumsum",
        "softmax", "log_softmax", "softmin", "normalize")),
}
PROMOTE = {
    "cpu": frozenset(("stack", "cat", "index_copy")),
    "cuda": frozenset(("addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "scatter_add", "tensordot",
                       "cat", "stack", "index_copy")),
}
# PyTorch refuses these inside a 'cuda' region: a sigmoid's float16 output loses the BCE's precision
BANNED = {"cuda": frozenset(("binary_cross_entropy",)), "cpu": frozenset()}
_BANNED_MESSAGE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast.")

DEVICE_TYPES = ("cpu", "cuda")
_DEFAULT_DTYPE = {"cpu": dt.bfloat16, "cuda": dt.float16}
_SUPPORTED_DTYPES = (dt.bfloat16, dt.float16)


class _ThreadState(threading.local):
    def __init__(self):
        self.enabled = {d: False for d in DEVICE_TYPES}
        self.dtype = dict(_DEFAULT_DTYPE)
        self.cache_enabled = True
        self.inside_op = False


_state = _ThreadState()
_enabled_regions = [0]  # enabled regions open in any thread: 0 keeps every wrapped op on its fast path
_count_lock = threading.Lock()


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast supports device_type ('cpu' and 'cuda', the OpenCL GPU; 'cl' is read as 'cuda')."""
    return _canonical(device_type) in DEVICE_TYPES


def _canonical(device_type):
    # a 'cuda' device is an OpenCL device whose type prints 'cl': scripts pass tensor.device.type
    return "cuda" if device_type == "cl" else device_type


def _check_device_type(device_type):
    if not is_autocast_available(device_type):
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
    return _canonical(device_type)


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is enabled for device_type in this thread ('cuda' when not given)."""
    device_type = "cuda" if device_type is None else device_type
    device_type = _check_device_type(device_type)
    return _state.enabled[device_type]


def set_autocast_enabled(device_type, enabled=None) -> None:
    """set_autocast_enabled(device_type, enabled), or set_autocast_enabled(enabled) for 'cuda'."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    device_type = _check_device_type(device_type)
    _set_enabled(device_type, bool(enabled))


def _set_enabled(device_type, enabled):
    was = _state.enabled[device_type]
    if was != enabled:
        with _count_lock:
            _enabled_regions[0] += 1 if enabled else -1
    _state.enabled[device_type] = enabled


def get_autocast_dtype(device_type: str):
    """The dtype lower-precision ops cast to under device_type's autocast in this thread."""
    device_type = _check_device_type(device_type)
    return _state.dtype[device_type]


def set_autocast_dtype(device_type: str, dtype) -> None:
    device_type = _check_device_type(device_type)
    _state.dtype[device_type] = dt.as_dtype(dtype)


def is_autocast_cpu_enabled() -> bool:
    return is_autocast_enabled("cpu")


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def is_autocast_cache_enabled() -> bool:
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """No cast cache is kept (each op casts its inputs afresh), so there is nothing to clear."""


class autocast:
    """Context manager and decorator for mixed precision regions, as ``torch.autocast``.

    >>> import cltensor as torch
    >>> a = torch.ones(2, 3)
    >>> with torch.autocast("cpu"):
    ...     (a @ a.t()).dtype
    torch.bfloat16
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = device_type = _check_device_type(device_type)
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dt.as_dtype(dtype)
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        if enabled and self.fast_dtype not in _SUPPORTED_DTYPES:
            name = device_type.upper()
            warnings.warn(f"In {name} autocast, but the target dtype is not supported. Disabling autocast.\n"
                          f"{name} Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                          stacklevel=2)
            enabled = False
        self._enabled = bool(enabled)

    def __enter__(self):
        self.prev = _state.enabled[self.device]
        self.prev_fastdtype = _state.dtype[self.device]
        self.prev_cache_enabled = _state.cache_enabled
        _state.dtype[self.device] = self.fast_dtype
        _state.cache_enabled = self._cache_enabled
        _set_enabled(self.device, self._enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        _set_enabled(self.device, self.prev)
        _state.dtype[self.device] = self.prev_fastdtype
        _state.cache_enabled = self.prev_cache_enabled
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return func(*args, **kwargs)
        return decorate_autocast


# ---- the hook ---------------------------------------------------------------------------------------
def _device_type_of(t) -> str:
    return "cpu" if t.device.is_host else "cuda"


def _eligible(x):
    return isinstance(x, Tensor) and x.dtype.is_floating_point and x.dtype is not dt.float64


def _tensors(args, kwargs):
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, (list, tuple)):
            yield from (x for x in a if _eligible(x))
        elif _eligible(a):
            yield a


def _cast_all(args, kwargs, cast):
    def one(a):
        if isinstance(a, (list, tuple)) and any(_eligible(x) for x in a):
            return type(a)(cast(x) if _eligible(x) else x for x in a)
        return cast(a) if _eligible(a) else a
    return tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}


def _policy_cast(name, args, kwargs):
    """args and kwargs with the casts the enabled regions ask for name (unchanged if none applies)."""
    tensors = list(_tensors(args, kwargs))
    if not tensors:
        return args, kwargs
    device_type = _device_type_of(tensors[0])
    if not _state.enabled[device_type]:
        return args, kwargs
    if name in BANNED[device_type]:
        raise RuntimeError(_BANNED_MESSAGE)
    if name in LOWER_PRECISION[device_type]:
        target = _state.dtype[device_type]
    elif name in FP32[device_type]:
        target = dt.float32
    elif name in PROMOTE[device_type]:
        target = tensors[0].dtype
        for t in tensors[1:]:
            target = dt.promote_types(target, t.dtype)
    else:
        return args, kwargs

    def cast(t):
        return t if t.dtype is target or _device_type_of(t) != device_type else t.to(target)
    return _cast_all(args, kwargs, cast)


def _wrap(name, fn):
    if getattr(fn, "_autocast_wrapped", False):
        return fn

    @functools.wraps(fn)
    def autocast_op(*args, **kwargs):
        if not _enabled_regions[0] or _state.inside_op:
            return fn(*args, **kwargs)
        args, kwargs = _policy_cast(name, args, kwargs)
        _state.inside_op = True
        try:
            return fn(*args, **kwargs)
        finally:
            _state.inside_op = False
    autocast_op._autocast_wrapped = True
    return autocast_op


def _listed_names():
    names = set()
    for table in (LOWER_PRECISION, FP32, PROMOTE, BANNED):
        for listed in table.values():
            names |= listed
    return names


def install(namespaces, tensor_class) -> None:
    """Wrap, once, every listed op found in namespaces (dicts or modules) and on tensor_class."""
    names = _listed_names()
    for ns in namespaces:
        attrs = ns if isinstance(ns, dict) else vars(ns)
        for name in names & set(attrs):
            if callable(attrs[name]):
                wrapped = _wrap(name, attrs[name])
                if isinstance(ns, dict):
                    ns[name] = wrapped
                else:
                    setattr(ns, name, wrapped)
    for name in names:
        fn = tensor_class.__dict__.get(name)
        if callable(fn):
            setattr(tensor_class, name, _wrap(name, fn))
