"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode.

Each is a context manager and a decorator, with or without parentheses (``@no_grad`` and
``@no_grad()``), and nests; the state is per thread, as in PyTorch.
"""
from __future__ import annotations

import functools
import inspect
import threading

class _ThreadState(threading.local):
    """Each thread's grad modes; a new thread starts with the defaults below.
    NOTE: class-level defaults, not getattr(local, name, default): a missing attribute costs an
    AttributeError raised and caught on every call (1.3 against 0.1 us, measured), and every
    op with a differentiable input asks."""
    enabled = True
    inference = False


_state = _ThreadState()


def is_grad_enabled() -> bool:
    return _state.enabled


def _set_enabled(flag: bool) -> None:
    _state.enabled = bool(flag)


def is_inference_mode_enabled() -> bool:
    return _state.inference


def _get_state():
    return is_grad_enabled(), is_inference_mode_enabled()


def _set_state(state) -> None:
    _state.enabled, _state.inference = state


class _GradMode:
    """A switch of the grad mode, usable as `with mode:`, `@mode()` and `@mode`."""

    grad = False  # the grad mode inside
    inference = None  # the inference mode inside (None: unchanged)

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        if len(args) == 1 and callable(args[0]) and not kwargs:  # bare decorator: @no_grad
            self.__init__()
            return self(args[0])
        return self

    def __init__(self):
        self._prev = []

    def _switch(self):
        prev = _get_state()
        _set_state((self.grad, prev[1] if self.inference is None else self.inference))
        return prev

    def __enter__(self):
        self._prev.append(self._switch())
        return self

    def __exit__(self, *exc):
        _set_state(self._prev.pop())
        return False

    def clone(self):
        return self.__class__()

    def __call__(self, fn):
        mode = self

        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args, **kwargs):
                gen, sent = fn(*args, **kwargs), None
                while True:
                    prev = mode._switch()
                    try:
                        value = gen.send(sent)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        _set_state(prev)
                    try:
                        sent = yield value
                    except GeneratorExit:
                        gen.close()
                        raise
            return generator

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = mode._switch()
            try:
                return fn(*args, **kwargs)
            finally:
                _set_state(prev)
        return wrapper


class no_grad(_GradMode):
    """Disable gradient recording: `with no_grad():`, `@no_grad()` or `@no_grad`."""

    grad = False


class enable_grad(_GradMode):
    """Enable gradient recording inside a no_grad region."""

    grad = True


class inference_mode(_GradMode):
    """Like no_grad (inference_mode(False) switches grad mode back on, as PyTorch's does)."""

    def __init__(self, mode: bool = True):
        super().__init__()
        self.mode = bool(mode)
        self.grad = not self.mode
        self.inference = self.mode

    def clone(self):
        return self.__class__(self.mode)


class set_grad_enabled(_GradMode):
    """Set the grad mode: as a plain call `set_grad_enabled(False)`, in `with`, or as a decorator."""

    def __new__(cls, mode: bool):
        return object.__new__(cls)

    def __init__(self, mode: bool):
        super().__init__()
        self.mode = self.grad = bool(mode)
        self._prev.append(self._switch())  # takes effect at once, like PyTorch's

    def __enter__(self):
        return self

    def __call__(self, fn):
        _set_state(self._prev.pop())  # used as a decorator: undo the call-time switch
        return super().__call__(fn)

    def clone(self):
        prev = _get_state()
        new = self.__class__(self.mode)
        _set_state(prev)
        new._prev = [prev]
        return new


class set_detect_anomaly:
    """Accepted for compatibility; anomaly detection adds nothing to the error messages here."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.mode = mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class detect_anomaly(set_detect_anomaly):
    def __init__(self, check_nan: bool = True):
        super().__init__(True, check_nan)


def is_anomaly_enabled() -> bool:
    return False
