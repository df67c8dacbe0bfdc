"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode (context managers and decorators)."""
from __future__ import annotations

import functools
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def _set_enabled(flag: bool) -> None:
    _state.enabled = bool(flag)


class _GradMode:
    """A switch of the grad mode, usable as `with mode:`, `@mode()` and `@mode`."""

    target = False

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        if len(args) == 1 and callable(args[0]) and not kwargs:  # bare decorator: @no_grad
            self.__init__()
            return self(args[0])
        return self

    def __init__(self):
        self._prev = []

    def __enter__(self):
        self._prev.append(is_grad_enabled())
        _set_enabled(self.target)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._prev.pop())
        return False

    def __call__(self, fn):
        target = self.target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = is_grad_enabled()
            _set_enabled(target)
            try:
                return fn(*args, **kwargs)
            finally:
                _set_enabled(prev)
        return wrapper


class no_grad(_GradMode):
    target = False


class enable_grad(_GradMode):
    target = True


class inference_mode(_GradMode):
    def __init__(self, mode: bool = True):
        super().__init__()
        self.target = not mode


class set_grad_enabled(_GradMode):
    """Also works as a plain call, `set_grad_enabled(False)`, like PyTorch's."""

    def __new__(cls, mode: bool):
        return object.__new__(cls)

    def __init__(self, mode: bool):
        super().__init__()
        self.target = bool(mode)
        self._prev.append(is_grad_enabled())
        _set_enabled(self.target)

    def __enter__(self):
        return self

    def __call__(self, fn):
        _set_enabled(self._prev[-1])  # used as a decorator: undo the call-time switch
        return super().__call__(fn)


def is_inference_mode_enabled() -> bool:
    return not is_grad_enabled()
