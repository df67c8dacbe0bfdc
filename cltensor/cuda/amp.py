"""``torch.cuda.amp``: the CUDA-named spellings of ``cltensor.amp``'s GradScaler and autocast.

``cltensor.amp`` (built by the mixed-precision work) is imported on first use, so this module loads
even where it is missing; the names then raise an AttributeError that says so.
"""


def _amp():
    try:
        from .. import amp
    except ModuleNotFoundError as err:
        if err.name != "cltensor.amp":
            raise
        raise AttributeError("torch.cuda.amp needs cltensor.amp, which this cltensor does not have") from None
    return amp


def autocast(enabled: bool = True, dtype=None, cache_enabled: bool = True):
    """``torch.cuda.amp.autocast(...)``, i.e. ``torch.autocast('cuda', ...)`` (deprecated in PyTorch too)."""
    from .. import float16
    return _amp().autocast("cuda", enabled=enabled, dtype=float16 if dtype is None else dtype,
                           cache_enabled=cache_enabled)


def GradScaler(*args, **kwargs):
    """``torch.cuda.amp.GradScaler(...)``, i.e. ``torch.amp.GradScaler('cuda', ...)``."""
    return _amp().GradScaler("cuda", *args, **kwargs)
