"""Dropout1d/2d/3d on every input rank: PyTorch's errors, warnings and which elements share a mask."""
import warnings

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn.functional as F
from helpers import HAVE_TORCH, real_torch

LAYERS = {"1d": "Dropout1d", "2d": "Dropout2d", "3d": "Dropout3d"}


def _run(module, layer, shape, training=True, p=0.5):
    """(output shape or exception, [(category, message)]) of the layer on ones(shape)."""
    m = getattr(module.nn, LAYERS[layer])(p)
    m.train(training)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = tuple(m(module.ones(*shape)).shape)
        except RuntimeError as err:
            result = ("RuntimeError", str(err))
    return result, [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5, 6])
def test_ranks_raise_or_warn_as_pytorch(layer, rank):
    shape = (3, 2, 4, 2, 3, 2)[:rank]
    result, caught = _run(torch, layer, shape)
    expected_ok = {"1d": (2, 3), "2d": (2, 3, 4, 5, 6), "3d": (1, 2, 3, 4, 5, 6)}[layer]
    assert (result == shape) == (rank in expected_ok)
    assert all(category is UserWarning for category, _ in caught)
    if layer != "1d" and rank not in {"2d": (3, 4), "3d": (4, 5)}[layer]:
        assert any(f"Received a {rank}-D input to dropout{layer}" in message for _, message in caught)
    if HAVE_TORCH:
        theirs, their_warnings = _run(real_torch, layer, shape)
        assert result == theirs
        assert [message for _, message in caught] == [message for _, message in their_warnings]


def _zeroed_together(y: np.ndarray, axes) -> bool:
    """Whether every slice over axes is all zero or all kept (the mask is shared along axes)."""
    zero = y == 0
    return bool(np.all(zero.all(axis=axes) | ~zero.any(axis=axes)))


@pytest.mark.parametrize("fn, shape, shared_axes", [
    (F.dropout1d, (4, 6, 5), (2,)),          # (N, C, L)
    (F.dropout1d, (6, 5), (1,)),             # (C, L)
    (F.dropout2d, (4, 6, 3, 5), (2, 3)),     # (N, C, H, W)
    (F.dropout2d, (4, 6, 5), (2,)),          # 3-D read as (N, C, L)
    (F.dropout2d, (8, 6), ()),               # 2-D: single elements
    (F.dropout3d, (6, 2, 3, 4), (1, 2, 3)),  # (C, D, H, W)
    (F.dropout3d, (6, 3, 4), (1, 2)),        # 3-D: a batch of one, channels are dim 0
])
def test_masks_are_shared_along_the_feature_dims(fn, shape, shared_axes):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = fn(torch.ones(*shape), 0.5, True).cpu().numpy()
    assert set(np.unique(y).tolist()) == {0.0, 2.0}  # both outcomes occur; kept values scaled by 1/(1-p)
    if shared_axes:
        assert _zeroed_together(y, shared_axes)
    else:
        assert 0.2 < (y == 0).mean() < 0.8


def test_eval_mode_is_the_identity_and_still_warns():
    x = torch.ones(3, 4)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        assert F.dropout2d(x, 0.5, training=False) is x
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        F.dropout1d(torch.ones(2, 2, 2, 2), training=False)


def test_inplace_unbatched_returns_the_input_and_gradients_follow_the_mask():
    x = torch.ones(6, 3, 4)
    torch.manual_seed(1)
    with pytest.warns(UserWarning):
        y = F.dropout3d(x, 0.5, True, inplace=True)
    assert y is x and x.shape == (6, 3, 4)
    w = torch.ones(6, 2, 2, requires_grad=True)
    torch.manual_seed(2)
    out = F.dropout1d(w, 0.5, True)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.cpu().numpy(), out.detach().cpu().numpy())


def test_probability_out_of_range():
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        torch.nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"):
        F.dropout3d(torch.ones(2, 2, 2, 2), -0.1)
