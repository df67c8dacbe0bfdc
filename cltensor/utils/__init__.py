"""cltensor.utils: data loading (cltensor.utils.data)."""
from . import data

__all__ = ["data"]
