"""numpy-style keyword names that PyTorch accepts for its native functions and methods.

PyTorch's argument parser lets every native (C++) function or method take ``axis=`` for ``dim=``,
``keepdims=`` for ``keepdim=``, ``x=``/``a=``/``x1=`` for ``input=`` and ``x2=`` for ``other=``
(``torch.sum(x, axis=0, keepdims=True)``, ``x.cumsum(axis=0)``); functions written in Python
(``torch.norm``, ``torch.split``, ``Tensor.unflatten``, ``F.softmax``) do not. ``install`` wraps,
once at import, the cltensor functions and methods whose PyTorch counterparts are native and
take ``dim`` or ``keepdim``: the wrapper renames the aliases and calls the op, so the ops stay
written with PyTorch's own names.

The name lists are PyTorch 2.13's, generated with::

    schemas = torch._C._jit_get_all_schemas()   # aten ops with an argument named dim or keepdim,
                                                # whose torch.<name> / Tensor.<name> is a builtin
"""
from __future__ import annotations

import functools
import inspect
from .nn import functional

NATIVE_FUNCTIONS = frozenset("""
all amax amin aminmax any argmax argmin argsort cat chunk concat concatenate cosine_similarity count_nonzero cross
cummax cummin cumprod cumsum cumulative_trapezoid diff frobenius_norm gather gradient index_add index_copy
index_fill index_reduce index_select kthvalue log_softmax logcumsumexp logsumexp max mean median min mode nanmean
nanmedian nanquantile nansum narrow narrow_copy nuclear_norm pairwise_distance prod quantile renorm
repeat_interleave scatter scatter_add scatter_reduce select select_copy select_scatter slice_copy slice_scatter
softmax sort split_with_sizes squeeze squeeze_copy stack std std_mean sum take_along_dim tensor_split topk
trapezoid trapz unbind unbind_copy unflatten unsafe_chunk unsafe_split unsafe_split_with_sizes unsqueeze
unsqueeze_copy var var_mean
""".split())

NATIVE_METHODS = frozenset("""
all amax amin aminmax any argmax argmin argsort chunk count_nonzero cross cummax cummin cumprod cumprod_ cumsum
cumsum_ diff gather index_add index_add_ index_copy index_copy_ index_fill index_fill_ index_reduce index_reduce_
index_select kthvalue log_softmax logcumsumexp logsumexp max mean median min mode nanmean nanmedian nanquantile
nansum narrow narrow_copy prod quantile renorm renorm_ repeat_interleave scatter scatter_ scatter_add scatter_add_
scatter_reduce scatter_reduce_ select select_scatter size slice_scatter softmax sort split_with_sizes squeeze
squeeze_ std stride sum take_along_dim tensor_split topk unbind unsafe_chunk unsafe_split unsafe_split_with_sizes
unsqueeze unsqueeze_ var
""".split())

# torch.nn.functional's builtins with dim/keepdim (the rest of F is Python: F.softmax takes no axis=)
NATIVE_FUNCTIONAL = frozenset(["cosine_similarity", "pairwise_distance"])

# alias -> PyTorch's name; an alias applies where the op has a parameter of that name
_ALIASES = {"axis": "dim", "keepdims": "keepdim", "x": "input", "a": "input", "x1": "input", "x2": "other"}
_ALIAS_NAMES = frozenset(_ALIASES)


def _parameters(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None


def _renames(fn, method: bool) -> dict:
    """The aliases fn can take: those whose target it has as a keyword parameter and that are not
    parameters of their own (cat already has axis=); a method's self is never a keyword."""
    params = _parameters(fn)
    if params is None:
        return {}
    named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if method:
        named.discard(next(iter(params), None))
    return {alias: target for alias, target in _ALIASES.items() if target in named and alias not in params}


def accepting_numpy_names(fn, name: str, method: bool = False):
    """fn, taking also PyTorch's numpy-style keyword aliases (given together with the name they
    alias, the alias is an unexpected keyword, as in PyTorch)."""
    renames = _renames(fn, method)
    if not renames or getattr(fn, "_numpy_names", False):
        return fn
    accepted = frozenset(renames)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if kwargs and not _ALIAS_NAMES.isdisjoint(kwargs):
            for alias in accepted.intersection(kwargs):
                target = renames[alias]
                if target in kwargs:
                    raise TypeError(f"{name}() got an unexpected keyword argument '{alias}'")
                kwargs[target] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    call._numpy_names = True
    return call


def _install_functions(namespace: dict, names) -> None:
    for name in names:
        fn = namespace.get(name)
        if callable(fn) and not isinstance(fn, type):
            namespace[name] = accepting_numpy_names(fn, name)


def install(namespace: dict, tensor_class) -> None:
    """Wrap the functions of namespace (cltensor's), of cltensor.nn.functional and the methods of
    tensor_class that PyTorch lets take numpy-style keywords."""
    _install_functions(namespace, NATIVE_FUNCTIONS)
    _install_functions(vars(functional), NATIVE_FUNCTIONAL)
    for name in NATIVE_METHODS:
        fn = tensor_class.__dict__.get(name)
        if callable(fn) and not isinstance(fn, (type, staticmethod, classmethod)):
            setattr(tensor_class, name, accepting_numpy_names(fn, name, method=True))
