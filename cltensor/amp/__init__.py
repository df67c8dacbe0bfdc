"""``torch.amp``: autocast regions and the gradient scaler (see autocast_mode.py, grad_scaler.py).

``torch.cuda.amp`` / ``torch.cpu.amp`` names: :class:`CudaAutocast`, :class:`CpuAutocast`,
:class:`~.grad_scaler.CudaGradScaler`, :class:`~.grad_scaler.CpuGradScaler` (deprecated aliases,
with PyTorch's FutureWarning), for the modules that present those namespaces to re-export.
"""
import functools as _functools
import warnings

from .. import dtypes as _dt
from .autocast_mode import (_cast_all, autocast, clear_autocast_cache, get_autocast_cpu_dtype, get_autocast_dtype,
                            get_autocast_gpu_dtype, install, is_autocast_available, is_autocast_cache_enabled,
                            is_autocast_cpu_enabled, is_autocast_enabled, set_autocast_cache_enabled,
                            set_autocast_dtype, set_autocast_enabled)
from .grad_scaler import CpuGradScaler, CudaGradScaler, GradScaler

__all__ = ["autocast", "GradScaler", "is_autocast_available", "custom_fwd", "custom_bwd"]


class _DeprecatedAutocast(autocast):
    _device_name = "cuda"
    _default_dtype = None

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        name = self._device_name
        warnings.warn(f"`torch.{name}.amp.autocast(args...)` is deprecated. "
                      f"Please use `torch.amp.autocast('{name}', args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__(name, dtype=dtype if dtype is not None else self._default_dtype, enabled=enabled,
                         cache_enabled=cache_enabled)


class CudaAutocast(_DeprecatedAutocast):
    """``torch.cuda.amp.autocast(enabled=True, dtype=torch.float16, cache_enabled=True)``."""
    _device_name = "cuda"

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        super().__init__(enabled, _dt.float16 if dtype is None else dtype, cache_enabled)


class CpuAutocast(_DeprecatedAutocast):
    """``torch.cpu.amp.autocast(enabled=True, dtype=torch.bfloat16, cache_enabled=True)``."""
    _device_name = "cpu"

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        super().__init__(enabled, _dt.bfloat16 if dtype is None else dtype, cache_enabled)


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorator for a custom Function's forward: with cast_inputs, run it with autocast disabled on
    floating inputs cast to cast_inputs when called inside an enabled region."""
    if fwd is None:
        return _functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @_functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        # with cast_inputs, backward runs without autocast too, as forward did
        args[0]._fwd_used_autocast = is_autocast_enabled(device_type) and cast_inputs is None
        if cast_inputs is None or not is_autocast_enabled(device_type):
            return fwd(*args, **kwargs)
        rest, kwargs = _cast_all(args[1:], kwargs, lambda t: t.to(cast_inputs))
        with autocast(device_type=device_type, enabled=False):
            return fwd(args[0], *rest, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorator for a custom Function's backward: runs it with forward's autocast state."""
    if bwd is None:
        return _functools.partial(custom_bwd, device_type=device_type)

    @_functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=getattr(ctx, "_fwd_used_autocast", False),
                      dtype=getattr(ctx, "_dtype", None)):
            return bwd(*args, **kwargs)
    return decorate_bwd


def cuda_custom_fwd(fwd=None, *, cast_inputs=None):
    """``torch.cuda.amp.custom_fwd`` (deprecated spelling of ``custom_fwd(device_type='cuda')``)."""
    warnings.warn("`torch.cuda.amp.custom_fwd(args...)` is deprecated. "
                  "Please use `torch.amp.custom_fwd(args..., device_type='cuda')` instead.",
                  FutureWarning, stacklevel=2)
    return custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def cuda_custom_bwd(bwd=None):
    """``torch.cuda.amp.custom_bwd`` (deprecated spelling of ``custom_bwd(device_type='cuda')``)."""
    warnings.warn("`torch.cuda.amp.custom_bwd(args...)` is deprecated. "
                  "Please use `torch.amp.custom_bwd(args..., device_type='cuda')` instead.",
                  FutureWarning, stacklevel=2)
    return custom_bwd(bwd, device_type="cuda")
