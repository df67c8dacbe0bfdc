"""``torch.backends.cudnn``: flags scripts set (``benchmark``, ``deterministic``...). cltensor has no
cuDNN: ``is_available()`` is False and the flags change nothing (see cltensor/backends/__init__.py)."""
import sys

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version():
    return None


class _Flags:
    """``with torch.backends.cudnn.flags(enabled=..., benchmark=..., deterministic=...)``: set, then restore."""

    def __init__(self, **values):
        self.values = {k: v for k, v in values.items() if v is not None}

    def __enter__(self):
        mod = sys.modules[__name__]
        self.saved = {k: getattr(mod, k) for k in self.values}
        for k, v in self.values.items():
            setattr(mod, k, v)

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            setattr(sys.modules[__name__], k, v)
        return False


def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
    return _Flags(enabled=enabled, benchmark=benchmark, benchmark_limit=benchmark_limit,
                  deterministic=deterministic, allow_tf32=allow_tf32)


