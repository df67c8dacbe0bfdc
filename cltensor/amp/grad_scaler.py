"""``torch.amp.GradScaler``: loss scaling for float16 training, with the inf/NaN check on the device.

The scale and the growth tracker live on the device as 0-d tensors; unscale_ multiplies the
gradients by 1/scale and folds a non-finite flag into one device tensor per optimizer; step reads
that flag once (the only host read of an iteration, as PyTorch's CUDA scaler reads it once in
step); update adjusts scale and tracker with device ops only.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from .. import dtypes as dt
from ..autograd import no_grad
from ..ops.creation import full, zeros
from ..ops.elementwise import where
from ..tensor import Tensor

_READY, _UNSCALED, _STEPPED = 0, 1, 2


def _new_state():
    return {"stage": _READY, "found_inf": None}


class GradScaler:
    """Scales losses so float16 gradients do not underflow; skips steps whose gradients overflowed.

    >>> import cltensor as torch
    >>> scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    >>> scaler.scale(torch.tensor(1.5)).item()
    12.0
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        self._device = device
        self._enabled = enabled
        if enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
        self._init_scale = init_scale
        self._scale = None
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._init_growth_tracker = 0
        self._growth_tracker = None
        self._per_optimizer_states = defaultdict(_new_state)

    # ---- scaling ---------------------------------------------------------------------------------
    def _lazy_init(self, device):
        self._scale = full((), self._init_scale, dtype=dt.float32, device=device)
        self._growth_tracker = full((), self._init_growth_tracker, dtype=dt.int32, device=device)

    def scale(self, outputs):
        """outputs (a tensor, or nested lists/tuples/dicts of tensors) multiplied by the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init(outputs.device)
            return outputs * self._scale.to(device=outputs.device)
        if isinstance(outputs, dict):
            return {k: self.scale(v) for k, v in outputs.items()}
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(v) for v in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _unscale_grads(self, optimizer, inv_scale, found_inf, allow_fp16):
        with _no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    if not allow_fp16 and param.grad.dtype is dt.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    grad = param.grad
                    bad = (~grad.isfinite()).any().to(found_inf.dtype)
                    found_inf = found_inf.maximum(bad.to(device=found_inf.device))
                    grad.mul_(inv_scale.to(device=grad.device, dtype=dt.float32))
        return found_inf

    def unscale_(self, optimizer) -> None:
        """Divide optimizer's gradients by the scale in place (once per step), noting infs/NaNs."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = 1.0 / self._scale  # float32, as PyTorch's reciprocal of the double scale rounds
        found_inf = zeros((), dtype=dt.float32, device=self._scale.device)
        state["found_inf"] = self._unscale_grads(optimizer, inv_scale, found_inf, False)
        state["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """optimizer.step(*args, **kwargs) unless the unscaled gradients hold an inf or NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _READY:
            self.unscale_(optimizer)
        if state["found_inf"] is None:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = None
        if not state["found_inf"].item():  # the iteration's one host read
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return retval

    def update(self, new_scale=None) -> None:
        """Back the scale off after a step with infs/NaNs, grow it after growth_interval clean ones."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                if new_scale.numel() != 1:
                    raise AssertionError("new_scale should be a single-element tensor.")
                if new_scale.requires_grad:
                    raise AssertionError("new_scale should not require grad.")
                self._scale.copy_(new_scale.reshape(()))
            else:
                self._scale.fill_(new_scale)
        else:
            found = [s["found_inf"] for s in self._per_optimizer_states.values() if s["found_inf"] is not None]
            if not found:
                raise AssertionError("No inf checks were recorded prior to update.")
            self._update_scale(sum(found[1:], found[0]))
        self._per_optimizer_states = defaultdict(_new_state)

    def _update_scale(self, found_inf):
        """PyTorch's _amp_update_scale_, as device ops (no host read)."""
        with _no_grad():
            bad = found_inf > 0
            tracker = where(bad, 0, self._growth_tracker + 1)
            grow = tracker >= self._growth_interval
            scale = where(bad, self._scale * self._backoff_factor,
                          where(grow, self._scale * self._growth_factor, self._scale))
            # a grown scale that overflowed float32 stays where it was, as in PyTorch
            scale = where(scale.isfinite(), scale, self._scale)
            self._scale.copy_(scale)
            self._growth_tracker.copy_(where(grow, 0, tracker))

    def _check_scale_growth_tracker(self, funcname):
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)

    # ---- accessors and state ----------------------------------------------------------------------
    def get_scale(self) -> float:
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale.item()

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker.item()

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """scale, growth_factor, backoff_factor, growth_interval and _growth_tracker (empty if disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale.fill_(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(state_dict["_growth_tracker"])


def _no_grad():
    return no_grad()


class _DeprecatedGradScaler(GradScaler):
    _device_name = "cuda"

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        name = self._device_name
        warnings.warn(f"`torch.{name}.amp.GradScaler(args...)` is deprecated. "
                      f"Please use `torch.amp.GradScaler('{name}', args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__(name, init_scale, growth_factor, backoff_factor, growth_interval, enabled)


class CudaGradScaler(_DeprecatedGradScaler):
    """``torch.cuda.amp.GradScaler`` (deprecated alias of ``torch.amp.GradScaler('cuda')``)."""
    _device_name = "cuda"


class CpuGradScaler(_DeprecatedGradScaler):
    """``torch.cpu.amp.GradScaler`` (deprecated alias of ``torch.amp.GradScaler('cpu')``)."""
    _device_name = "cpu"
