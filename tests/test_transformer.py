"""nn.Transformer, TransformerDecoder(Layer): a numpy float64 reference of a decoder layer, PyTorch with
copied weights in eval mode (outputs, input and parameter gradients) over masks (float/bool attention
masks, key padding masks, causal), norm_first, activations (string, callable), batch_first; parameter
layout, the causal mask and PyTorch's errors. Small sizes; compute in PRECISE."""
import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
import cltensor.nn.functional as F
from helpers import HAVE_TORCH, PRECISE, assert_close, np_of, real_torch

RNG = np.random.default_rng(13)
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
RTOL, ATOL = (1e-9, 1e-10) if PRECISE is torch.float64 else (2e-4, 5e-5)


def arr(*shape):
    return RNG.uniform(-1.0, 1.0, shape)


def tp(a, requires_grad=False):
    return torch.tensor(a, dtype=PRECISE, requires_grad=requires_grad)


def state(module):
    return {k: np_of(v).astype(np.float64) for k, v in module.state_dict().items()}


# ---- numpy float64 reference of one post-norm decoder layer ------------------------------------------------
def np_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def np_attention(q_in, kv_in, s, prefix, nhead, mask=None):
    """(L, N, E) x (S, N, E) -> (L, N, E) with PyTorch's packed in_proj and out_proj."""
    e = q_in.shape[-1]
    w, b = s[prefix + "in_proj_weight"], s[prefix + "in_proj_bias"]
    q, k, v = q_in @ w[:e].T + b[:e], kv_in @ w[e:2 * e].T + b[e:2 * e], kv_in @ w[2 * e:].T + b[2 * e:]
    hd = e // nhead

    def heads(x):  # (L, N, E) -> (N, H, L, hd)
        return x.reshape(x.shape[0], x.shape[1], nhead, hd).transpose(1, 2, 0, 3)

    scores = heads(q) @ heads(k).transpose(0, 1, 3, 2) / np.sqrt(hd)
    if mask is not None:
        scores = scores + mask
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = (weights @ heads(v)).transpose(2, 0, 1, 3).reshape(q_in.shape)
    return out @ s[prefix + "out_proj.weight"].T + s[prefix + "out_proj.bias"]


def np_decoder_layer(tgt, memory, s, nhead, tgt_mask):
    x = np_layer_norm(tgt + np_attention(tgt, tgt, s, "self_attn.", nhead, tgt_mask), s["norm1.weight"],
                      s["norm1.bias"])
    x = np_layer_norm(x + np_attention(x, memory, s, "multihead_attn.", nhead), s["norm2.weight"], s["norm2.bias"])
    ff = np.maximum(x @ s["linear1.weight"].T + s["linear1.bias"], 0) @ s["linear2.weight"].T + s["linear2.bias"]
    return np_layer_norm(x + ff, s["norm3.weight"], s["norm3.bias"])


def test_decoder_layer_matches_numpy_reference():
    layer = nn.TransformerDecoderLayer(6, 2, dim_feedforward=10, dropout=0.0).to(PRECISE).eval()
    tgt, memory = arr(4, 3, 6), arr(5, 3, 6)
    causal = np.triu(np.full((4, 4), -np.inf), 1)
    out = layer(tp(tgt), tp(memory), tgt_mask=nn.Transformer.generate_square_subsequent_mask(4, dtype=PRECISE))
    assert_close(out, np_decoder_layer(tgt, memory, state(layer), 2, causal), rtol=RTOL, atol=ATOL)


def test_generate_square_subsequent_mask():
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.dtype is torch.float32 and tuple(mask.shape) == (3, 3)
    assert_close(mask, np.triu(np.full((3, 3), -np.inf, dtype=np.float32), 1))
    mask16 = nn.Transformer().generate_square_subsequent_mask(2, device="cpu", dtype=torch.float16)
    assert mask16.dtype is torch.float16 and mask16.device == torch.device("cpu")


# ---- against PyTorch ------------------------------------------------------------------------------------
def _twins(batch_first, norm_first, activation, layers=(2, 1)):
    kw = dict(d_model=6, nhead=2, num_encoder_layers=layers[0], num_decoder_layers=layers[1], dim_feedforward=10,
              dropout=0.1, batch_first=batch_first, norm_first=norm_first)
    ours = nn.Transformer(activation=activation[0], **kw).to(PRECISE).eval()
    theirs = real_torch.nn.Transformer(activation=activation[1], **kw).double().eval()
    theirs.load_state_dict({k: real_torch.from_numpy(v) for k, v in state(ours).items()})
    return ours, theirs


def _masks(n, s, t):
    """(ours, theirs) for: float tgt mask, bool src padding, bool memory padding, float memory mask."""
    pad_src = np.zeros((n, s), bool)
    pad_src[0, -2:] = True
    pad_tgt = np.zeros((n, t), bool)
    pad_tgt[1, -1] = True
    memory_mask = arr(t, s)
    causal = np.triu(np.full((t, t), -np.inf), 1)
    ours = dict(tgt_mask=tp(causal), src_key_padding_mask=torch.tensor(pad_src),
                tgt_key_padding_mask=torch.tensor(pad_tgt), memory_key_padding_mask=torch.tensor(pad_src),
                memory_mask=tp(memory_mask))
    theirs = dict(tgt_mask=real_torch.tensor(causal), src_key_padding_mask=real_torch.tensor(pad_src),
                  tgt_key_padding_mask=real_torch.tensor(pad_tgt), memory_key_padding_mask=real_torch.tensor(pad_src),
                  memory_mask=real_torch.tensor(memory_mask))
    return ours, theirs


def _compare(ours, theirs, inputs, our_kwargs, their_kwargs):
    c_in = [tp(a, requires_grad=True) for a in inputs]
    t_in = [real_torch.tensor(a, requires_grad=True) for a in inputs]
    c_out, t_out = ours(*c_in, **our_kwargs), theirs(*t_in, **their_kwargs)
    assert_close(c_out, t_out.detach().numpy(), rtol=RTOL, atol=ATOL)
    w = arr(*t_out.shape)
    (c_out * tp(w)).sum().backward()
    (t_out * real_torch.tensor(w)).sum().backward()
    for a, b in zip(c_in, t_in):
        assert_close(a.grad, b.grad.numpy(), rtol=RTOL * 10, atol=ATOL * 10)
    for (name, p), (t_name, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == t_name
        assert_close(p.grad, q.grad.numpy(), rtol=RTOL * 10, atol=ATOL * 10)


@needs_torch
@pytest.mark.parametrize("batch_first,norm_first,activation", [
    (False, False, ("relu", "relu")),
    (True, True, ("gelu", "gelu")),
    (False, True, (F.silu, real_torch.nn.functional.silu if HAVE_TORCH else None)),
], ids=["post-relu", "pre-gelu-batch_first", "pre-callable"])
def test_transformer_matches_torch_with_masks(batch_first, norm_first, activation):
    ours, theirs = _twins(batch_first, norm_first, activation)
    n, s, t = 2, 5, 4
    src, tgt = (arr(n, s, 6), arr(n, t, 6)) if batch_first else (arr(s, n, 6), arr(t, n, 6))
    our_masks, their_masks = _masks(n, s, t)
    _compare(ours, theirs, (src, tgt), our_masks, their_masks)


@needs_torch
def test_decoder_with_bool_causal_mask_and_unbatched_input_matches_torch():
    ours, theirs = _twins(False, False, ("relu", "relu"), layers=(1, 2))
    causal = np.triu(np.ones((3, 3), bool), 1)
    _compare(ours.decoder, theirs.decoder, (arr(3, 2, 6), arr(4, 2, 6)),
             dict(tgt_mask=torch.tensor(causal), tgt_is_causal=True),
             dict(tgt_mask=real_torch.tensor(causal), tgt_is_causal=True))
    ours.zero_grad()
    theirs.zero_grad()
    _compare(ours, theirs, (arr(4, 6), arr(3, 6)), {}, {})


@needs_torch
def test_layout_and_state_dict_like_torch():
    kw = dict(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=12)
    ours, theirs = nn.Transformer(**kw), real_torch.nn.Transformer(**kw)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: torch.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    assert ours.d_model == 8 and ours.nhead == 2 and ours.batch_first is False
    layer = nn.TransformerDecoderLayer(8, 2, 12, bias=False, norm_first=True)
    their_layer = real_torch.nn.TransformerDecoderLayer(8, 2, 12, bias=False, norm_first=True)
    assert [(k, tuple(v.shape)) for k, v in layer.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in their_layer.state_dict().items()]


def test_errors():
    model = nn.Transformer(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=6)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(torch.zeros(3, 2, 4), torch.zeros(3, 1, 4))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(torch.zeros(3, 2, 4), torch.zeros(3, 2, 5))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(4, 2, activation="tanh")
