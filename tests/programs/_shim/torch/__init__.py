"""``import torch`` that yields cltensor, for running third-party programs unchanged.

Put this directory first on PYTHONPATH: ``torch`` becomes the ``cltensor`` module itself and every
``torch.X.Y`` import resolves to ``cltensor.X.Y`` (a submodule, or a module object that cltensor
exposes as an attribute), so ``from torch import nn``, ``import torch.nn.functional as F`` and
``from torch.utils.data import DataLoader`` all see cltensor. A name cltensor lacks raises the
ordinary ModuleNotFoundError, so a missing feature shows up as it would to a user.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import types

import cltensor


def _resolve(name):
    """The cltensor module standing for ``torch.<...>``, or None where cltensor has none."""
    target = "cltensor" + name[len("torch"):]
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as err:
        if err.name is not None and not target.startswith(err.name):
            raise  # a real import inside cltensor failed: let the user see it
    parent_name, _, attr = name.rpartition(".")
    parent = sys.modules.get(parent_name)
    value = getattr(parent, attr, None) if parent is not None else None
    return value if isinstance(value, types.ModuleType) else None


class _TorchAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torch.*`` as the matching cltensor module object (no copy, no re-execution)."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("torch."):
            return None
        module = _resolve(fullname)
        if module is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=getattr(module, "__file__", None))

    def create_module(self, spec):
        return _resolve(spec.name)

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _TorchAlias())
sys.modules["torch"] = cltensor
