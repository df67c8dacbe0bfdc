"""numpy-style keywords: axis= for dim= and keepdims= for keepdim= wherever PyTorch takes them."""
import numpy as np
import pytest

import cltensor as torch
from cltensor import _numpy_names
from helpers import HAVE_TORCH, assert_close, np_of, real_torch

X = np.array([[0.5, -1.0, 2.0, 3.0], [1.5, 0.25, -2.0, 1.0], [2.0, 1.0, 0.5, -0.5]], np.float32)
POSITIVE = np.abs(X) + 0.5

# (call with PyTorch's names, the same call with numpy's names); t is the module (cltensor or torch), x a tensor
CALLS = {
    "sum": (lambda t, x: t.sum(x, dim=0, keepdim=True), lambda t, x: t.sum(x, axis=0, keepdims=True)),
    "sum method": (lambda t, x: x.sum(dim=(0, 1)), lambda t, x: x.sum(axis=(0, 1))),
    "mean": (lambda t, x: t.mean(x, dim=1, keepdim=True), lambda t, x: t.mean(x, axis=1, keepdims=True)),
    "nansum": (lambda t, x: x.nansum(dim=1), lambda t, x: x.nansum(axis=1)),
    "prod": (lambda t, x: t.prod(x, dim=1, keepdim=True), lambda t, x: t.prod(x, axis=1, keepdims=True)),
    "max": (lambda t, x: t.max(x, dim=1, keepdim=True)[0], lambda t, x: t.max(x, axis=1, keepdims=True)[0]),
    "max indices": (lambda t, x: x.max(dim=0)[1], lambda t, x: x.max(axis=0)[1]),
    "min": (lambda t, x: x.min(dim=1, keepdim=True)[0], lambda t, x: x.min(axis=1, keepdims=True)[0]),
    "amax": (lambda t, x: t.amax(x, dim=0, keepdim=True), lambda t, x: t.amax(x, axis=0, keepdims=True)),
    "amin": (lambda t, x: x.amin(dim=(0, 1)), lambda t, x: x.amin(axis=(0, 1))),
    "argmax": (lambda t, x: t.argmax(x, dim=1, keepdim=True), lambda t, x: t.argmax(x, axis=1, keepdims=True)),
    "argmin": (lambda t, x: x.argmin(dim=0), lambda t, x: x.argmin(axis=0)),
    "std": (lambda t, x: t.std(x, dim=0, keepdim=True), lambda t, x: t.std(x, axis=0, keepdims=True)),
    "var": (lambda t, x: x.var(dim=1, correction=0), lambda t, x: x.var(axis=1, correction=0)),
    "var_mean": (lambda t, x: t.var_mean(x, dim=1)[0], lambda t, x: t.var_mean(x, axis=1)[0]),
    "all": (lambda t, x: t.all(x > 0, dim=1, keepdim=True), lambda t, x: t.all(x > 0, axis=1, keepdims=True)),
    "any": (lambda t, x: (x > 2).any(dim=0), lambda t, x: (x > 2).any(axis=0)),
    "logsumexp": (lambda t, x: t.logsumexp(x, dim=1, keepdim=True),
                  lambda t, x: t.logsumexp(x, axis=1, keepdims=True)),
    "count_nonzero": (lambda t, x: t.count_nonzero(x > 1, dim=0), lambda t, x: t.count_nonzero(x > 1, axis=0)),
    "cumsum": (lambda t, x: t.cumsum(x, dim=0), lambda t, x: t.cumsum(x, axis=0)),
    "cumsum method": (lambda t, x: x.cumsum(dim=1), lambda t, x: x.cumsum(axis=1)),
    "cumprod": (lambda t, x: x.cumprod(dim=1), lambda t, x: x.cumprod(axis=1)),
    "softmax": (lambda t, x: t.softmax(x, dim=1), lambda t, x: t.softmax(x, axis=1)),
    "log_softmax method": (lambda t, x: x.log_softmax(dim=0), lambda t, x: x.log_softmax(axis=0)),
    "cat": (lambda t, x: t.cat([x, x], dim=1), lambda t, x: t.cat([x, x], axis=1)),
    "stack": (lambda t, x: t.stack([x, x], dim=1), lambda t, x: t.stack([x, x], axis=1)),
    "unsqueeze": (lambda t, x: t.unsqueeze(x, dim=1), lambda t, x: t.unsqueeze(x, axis=1)),
    "squeeze method": (lambda t, x: x[:1].squeeze(dim=0), lambda t, x: x[:1].squeeze(axis=0)),
    "sort": (lambda t, x: t.sort(x, dim=0)[0], lambda t, x: t.sort(x, axis=0)[0]),
    "topk": (lambda t, x: t.topk(x, 2, dim=0)[1], lambda t, x: t.topk(x, 2, axis=0)[1]),
    "gather": (lambda t, x: t.gather(x, dim=1, index=t.tensor([[0], [3], [1]])),
               lambda t, x: t.gather(x, axis=1, index=t.tensor([[0], [3], [1]]))),
    "index_select": (lambda t, x: x.index_select(dim=1, index=t.tensor([2, 0])),
                     lambda t, x: x.index_select(axis=1, index=t.tensor([2, 0]))),
    "narrow": (lambda t, x: t.narrow(x, dim=1, start=1, length=2), lambda t, x: t.narrow(x, axis=1, start=1, length=2)),
    "input as x": (lambda t, x: t.sum(input=x, dim=0), lambda t, x: t.sum(x=x, axis=0)),
    "F.cosine_similarity": (lambda t, x: t.nn.functional.cosine_similarity(x, x + 1, dim=0),
                            lambda t, x: t.nn.functional.cosine_similarity(x, x + 1, axis=0)),
    "F.pairwise_distance": (lambda t, x: t.nn.functional.pairwise_distance(x, 2 * x, keepdim=True),
                            lambda t, x: t.nn.functional.pairwise_distance(x, 2 * x, keepdims=True)),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_numpy_keywords_give_the_same_result(name):
    torch_names, numpy_names = CALLS[name]
    array = POSITIVE if name in ("prod", "cumprod") else X
    expected = torch_names(torch, torch.tensor(array))
    got = numpy_names(torch, torch.tensor(array))
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert_close(got, np_of(expected))
    if HAVE_TORCH:
        theirs = numpy_names(real_torch, real_torch.tensor(array))
        assert tuple(theirs.shape) == tuple(got.shape)
        assert_close(got, theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_size_and_stride_take_axis():
    x = torch.zeros(2, 3)
    assert x.size(axis=1) == 3 and x.stride(axis=0) == 3


# PyTorch's Python-level functions take no aliases: the same calls fail in cltensor
NOT_ACCEPTED = {
    "norm": lambda t, x: t.norm(x, axis=0),
    "norm method": lambda t, x: x.norm(axis=0),
    "split": lambda t, x: t.split(x, 2, axis=0),
    "split method": lambda t, x: x.split(2, axis=0),
    "both names": lambda t, x: t.sum(x, dim=0, axis=0),
    "both names method": lambda t, x: x.sum(0, keepdim=True, keepdims=True),
    "F.softmax": lambda t, x: t.nn.functional.softmax(x, axis=0),
}


@pytest.mark.parametrize("name", list(NOT_ACCEPTED))
def test_where_pytorch_rejects_the_alias_so_do_we(name):
    call = NOT_ACCEPTED[name]
    with pytest.raises(TypeError, match="unexpected keyword argument '(axis|keepdims)'"):
        call(torch, torch.tensor(X))
    if HAVE_TORCH:
        with pytest.raises(TypeError, match="unexpected keyword argument '(axis|keepdims)'"):
            call(real_torch, real_torch.tensor(X))


def test_wrapped_ops_keep_their_names_and_docs():
    assert torch.sum.__name__ == "sum" and torch.sum.__doc__ and torch.Tensor.cumsum.__name__ == "cumsum"
    wrapped = torch.sum
    assert _numpy_names.accepting_numpy_names(wrapped, "sum") is wrapped  # installing twice wraps once


def test_gradients_flow_through_an_aliased_call():
    x = torch.tensor(X, requires_grad=True)
    x.mean(axis=1, keepdims=True).sum().backward()
    assert_close(x.grad, np.full(X.shape, 0.25, np.float32))


@pytest.mark.skipif(not HAVE_TORCH, reason="the lists are PyTorch's")
def test_the_name_lists_are_pytorchs_native_ops_with_dim():
    import types
    native = (types.BuiltinFunctionType, types.BuiltinMethodType, type(real_torch.Tensor.sum))
    for name in ("sum", "cumsum", "softmax", "cat", "stack"):
        assert name in _numpy_names.NATIVE_FUNCTIONS and isinstance(getattr(real_torch, name), native)
    for name in ("norm", "split", "unique"):
        assert name not in _numpy_names.NATIVE_FUNCTIONS and not isinstance(getattr(real_torch, name), native)
    assert "unflatten" not in _numpy_names.NATIVE_METHODS and "cumsum" in _numpy_names.NATIVE_METHODS
