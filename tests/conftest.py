import functools
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import helpers  # noqa: E402  (after the path is set)

# marker -> (whether the device has it, the RuntimeError a test must raise where it has not)
CAPABILITIES = {
    "fp64": (helpers.HAS_FP64, helpers.NO_FP64_ERROR),
    "int64_atomics": (helpers.HAS_INT64_ATOMICS, helpers.NO_INT64_ATOMICS_ERROR),
}


def pytest_configure(config):
    config.addinivalue_line("markers", "fp64: uses float64; where the device lacks cl_khr_fp64 it must raise")
    config.addinivalue_line("markers", "int64_atomics: accumulates int64; without cl_khr_int64_base_atomics it must raise")


def _must_raise(test, pattern):
    @functools.wraps(test)
    def expecting_the_error(*args, **kwargs):
        with pytest.raises(RuntimeError, match=pattern):
            test(*args, **kwargs)
    return expecting_the_error


def pytest_collection_modifyitems(config, items):
    """A test marked with a capability the device lacks still runs, and passes only by raising that
    capability's documented RuntimeError: the error path is tested instead of skipped."""
    for item in items:
        for name, (present, pattern) in CAPABILITIES.items():
            if not present and item.get_closest_marker(name) and hasattr(item, "obj"):
                item.obj = _must_raise(item.obj, pattern)


@pytest.fixture
def launches(monkeypatch):
    """The function names of the kernels launched while the test runs (every launch goes through
    Backend.submit)."""
    from cltensor.device import Backend
    names = []
    original = Backend.submit

    def counting(self, kernel, *args, **kwargs):
        names.append(kernel.function_name)
        return original(self, kernel, *args, **kwargs)

    monkeypatch.setattr(Backend, "submit", counting)
    return names
