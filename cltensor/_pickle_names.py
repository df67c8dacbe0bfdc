"""The global names under which cltensor classes are pickled, and back: a whole saved model names its
classes as PyTorch does (``torch.nn.modules.linear.Linear``), so files move between the two libraries.

Saving maps a cltensor class to PyTorch's path; loading maps any ``torch.*`` name to the cltensor
object of that name, looked up when the file is read (so layers added to ``cltensor.nn`` later load
without a list to update).
"""
from __future__ import annotations

import importlib
import sys

# the nn classes whose PyTorch file differs from the cltensor file that defines them
_TORCH_NN_FILE = {"CosineSimilarity": "distance", "PairwiseDistance": "distance",
                  "MultiheadAttention": "activation", "NonDynamicallyQuantizableLinear": "linear"}
_TORCH_NN_PREFIX_FILE = (("BatchNorm", "batchnorm"), ("SyncBatchNorm", "batchnorm"),
                         ("LazyBatchNorm", "batchnorm"), ("InstanceNorm", "instancenorm"),
                         ("LazyInstanceNorm", "instancenorm"))


def torch_path(cls) -> tuple | None:
    """(module, name) that PyTorch knows ``cls`` by, for a class cltensor defines; None for others."""
    module, name = cls.__module__, cls.__qualname__
    if not module.startswith("cltensor.") or "." in name:
        return None
    parts = module.split(".")
    if parts[1] == "nn" and len(parts) == 3 and parts[2] not in ("parameter", "functional", "init"):
        stem = _TORCH_NN_FILE.get(name) or next((f for p, f in _TORCH_NN_PREFIX_FILE if name.startswith(p)), parts[2])
        return f"torch.nn.modules.{stem}", name
    return "torch" + module[len("cltensor"):], name


def resolve(module: str, name: str):
    """The cltensor object a pickle's ``torch.*`` global names, or None when cltensor has none."""
    import cltensor  # the whole public API at call time: the package imports this module while it initialises
    if module.startswith("torch.nn.modules") or module == "torch.nn":
        return getattr(cltensor.nn, name, None) or _defined_in_nn(name)
    if not (module == "torch" or module.startswith("torch.")):
        return None
    try:
        found = importlib.import_module("cltensor" + module[len("torch"):])
    except ImportError:
        found = None
    obj = getattr(found, name, None) if found is not None else None
    if obj is None and module.startswith("torch.nn."):
        obj = getattr(cltensor.nn, name, None)
    return obj


def _defined_in_nn(name: str):
    """A class or function of that name defined in any loaded cltensor.nn module (helpers nn does not export)."""
    for modname, mod in list(sys.modules.items()):
        if modname.startswith("cltensor.nn.") and not modname.startswith("cltensor.nn.modules") and mod is not None:
            obj = getattr(mod, name, None)
            if callable(obj) and getattr(obj, "__module__", None) == modname:
                return obj
    return None


def torch_state_extras(mod) -> dict:
    """Attributes PyTorch's class of ``mod`` needs in a pickled state and cltensor's may not keep.

    Recurrent layers: PyTorch's RNNBase rebuilds from ``_all_weights`` (names grouped per layer and
    direction), ``_flat_weights_names`` and ``_flat_weights``, in parameter registration order.
    """
    if not (hasattr(mod, "num_layers") and "weight_ih_l0" in mod.__dict__.get("_parameters", {})):
        return {}
    names = list(mod._parameters)
    groups: dict = {}
    for n in names:
        groups.setdefault(n[n.index("_l"):], []).append(n)
    return {"_flat_weights_names": names, "_all_weights": list(groups.values()),
            "_flat_weights": [mod._parameters[n] for n in names]}
