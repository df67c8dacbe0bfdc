"""``torch.nn.modules``: PyTorch's file layout of nn, as aliases.

``from torch.nn.modules.linear import Linear``, ``from torch.nn.modules.loss import _Loss``: any
``cltensor.nn.modules.<file>`` imports, and its names are looked up when read, in ``cltensor.nn`` and
then in the cltensor.nn module that defines them (cltensor's files need not match PyTorch's, and
layers added later need no list). ``utils`` is a real module (``_pair`` and friends).
"""
import importlib
import importlib.abc
import importlib.machinery
import sys
import types

from ..._pickle_names import resolve as _resolve


class _AliasModule(types.ModuleType):
    """One ``cltensor.nn.modules.<file>``: attributes resolved by name on access."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        found = _resolve("torch.nn.modules." + self.__name__.rsplit(".", 1)[-1], name)
        if found is None:
            raise AttributeError(f"module '{self.__name__}' has no attribute '{name}' (cltensor.nn has no {name})")
        return found


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    prefix = __name__ + "."

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(self.prefix) or "." in fullname[len(self.prefix):]:
            return None
        if importlib.machinery.PathFinder.find_spec(fullname, __path__) is not None:
            return None  # a real file of this package (utils.py)
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        return _AliasModule(spec.name)

    def exec_module(self, module):
        pass


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.append(_AliasFinder())


def __getattr__(name):
    """``torch.nn.modules.Linear`` (PyTorch's package re-exports every layer)."""
    found = None
    if name.isidentifier() and name.islower() and not name.startswith("__"):
        # torch.nn.modules.activation without an import: the alias of PyTorch's file, not cltensor.nn's
        # own module of that name (whose layers are laid out differently)
        found = importlib.import_module(f"{__name__}.{name}")
    elif not name.startswith("__"):
        found = _resolve("torch.nn.modules", name)
    if found is None:
        raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
    return found
