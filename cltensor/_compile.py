"""``torch.compile``: eager for now, with the wrapper PyTorch returns."""
from __future__ import annotations

import functools

from .nn.module import Module


class OptimizedModule(Module):
    """What ``torch.compile(module)`` returns: a Module that runs ``_orig_mod``.

    As in PyTorch, parameters and the state_dict appear under ``_orig_mod.``, and attributes the
    wrapper lacks are read from the original module.
    """

    def __init__(self, mod: Module):
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            orig = self.__dict__.get("_modules", {}).get("_orig_mod")
            if orig is None:
                raise
            return getattr(orig, name)


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor", mode=None, options=None,
            disable: bool = False, **kwargs):
    """``torch.compile(model_or_fn, ...)``: returns a callable that computes the same as its argument.

    cltensor runs it eagerly: no fusing compiler exists yet, so the result is exactly as fast as the
    original. A Module comes back wrapped in an ``OptimizedModule`` (``_orig_mod`` is the original),
    a function wrapped by ``functools.wraps``; with no model, a decorator is returned.
    """
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                  options=options, disable=disable, **kwargs)
    if not callable(model):
        raise RuntimeError(f"torch.compile expects a callable, got {type(model).__name__}")
    if isinstance(model, Module):
        return OptimizedModule(model)

    @functools.wraps(model)
    def compiled(*args, **kw):
        return model(*args, **kw)

    return compiled
