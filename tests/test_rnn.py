"""nn.RNN/LSTM/GRU, their cells and nn.utils.rnn: numpy float64 references, PyTorch with copied
weights (outputs, final states, input and parameter gradients) for every variant, finite-difference
gradchecks of the fused cell kernels in float64, parameter layout/init/repr and PyTorch's errors.
Sizes are small and odd; compute is in PRECISE (float64 where the device has it)."""
import math
import warnings

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
from cltensor.autograd import gradcheck
from cltensor.nn._rnn_kernels import GRUCellFunction, LSTMCellFunction
from cltensor.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                   pad_sequence, unpack_sequence, unpad_sequence)
from helpers import HAVE_TORCH, PRECISE, assert_close, needs_fp64, np_of, real_torch

RNG = np.random.default_rng(12)
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
RTOL, ATOL = (1e-9, 1e-10) if PRECISE is torch.float64 else (2e-4, 2e-5)


def arr(*shape):
    return RNG.uniform(-1.5, 1.5, shape)


def tp(a, requires_grad=False):
    return torch.tensor(a, dtype=PRECISE, requires_grad=requires_grad)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---- numpy float64 references (one layer, one direction) --------------------------------------------
def np_lstm(x, w_ih, w_hh, b, h, c):
    outs = []
    for x_t in x:
        i, f, g, o = np.split(x_t @ w_ih.T + h @ w_hh.T + b, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs), h, c


def np_gru(x, w_ih, w_hh, b_ih, b_hh, h):
    outs = []
    for x_t in x:
        xr, xz, xn = np.split(x_t @ w_ih.T + b_ih, 3, axis=1)
        hr, hz, hn = np.split(h @ w_hh.T + b_hh, 3, axis=1)
        r, z = sigmoid(xr + hr), sigmoid(xz + hz)
        h = (1 - z) * np.tanh(xn + r * hn) + z * h
        outs.append(h)
    return np.stack(outs), h


def weights(module):
    return {k: np_of(v).astype(np.float64) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("layout", ["contiguous", "stepped"])
def test_lstm_matches_numpy_reference(layout):
    lstm = nn.LSTM(5, 7).to(PRECISE)
    w = weights(lstm)
    x, h0, c0 = arr(6, 3, 5), arr(1, 3, 7), arr(1, 3, 7)
    # "stepped": every other element of a wider tensor, so the input and states are not contiguous
    view = (lambda a: tp(np.repeat(a, 2, axis=-1))[..., ::2]) if layout == "stepped" else tp
    out, (h, c) = lstm(view(x), (view(h0), view(c0)))
    ref_out, ref_h, ref_c = np_lstm(x, w["weight_ih_l0"], w["weight_hh_l0"], w["bias_ih_l0"] + w["bias_hh_l0"],
                                    h0[0], c0[0])
    assert_close(out, ref_out, rtol=RTOL, atol=ATOL)
    assert_close(h, ref_h[None], rtol=RTOL, atol=ATOL)
    assert_close(c, ref_c[None], rtol=RTOL, atol=ATOL)


def test_gru_and_rnn_match_numpy_reference_batch_first():
    gru = nn.GRU(4, 5, batch_first=True).to(PRECISE)
    w = weights(gru)
    x = arr(2, 7, 4)
    out, h = gru(tp(x))
    ref_out, ref_h = np_gru(x.transpose(1, 0, 2), w["weight_ih_l0"], w["weight_hh_l0"], w["bias_ih_l0"],
                            w["bias_hh_l0"], np.zeros((2, 5)))
    assert_close(out, ref_out.transpose(1, 0, 2), rtol=RTOL, atol=ATOL)
    assert_close(h, ref_h[None], rtol=RTOL, atol=ATOL)
    rnn = nn.RNN(4, 3, nonlinearity="relu", bias=False).to(PRECISE)
    w = weights(rnn)
    x = arr(5, 2, 4)
    hs, ref = np.zeros((2, 3)), []
    for x_t in x:
        hs = np.maximum(x_t @ w["weight_ih_l0"].T + hs @ w["weight_hh_l0"].T, 0)
        ref.append(hs)
    out, h = rnn(tp(x))
    assert_close(out, np.stack(ref), rtol=RTOL, atol=ATOL)


# ---- against PyTorch, every variant --------------------------------------------------------------------
VARIANTS = [
    ("LSTM", dict(hidden_size=4)),
    ("LSTM", dict(hidden_size=4, num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(hidden_size=6, proj_size=3, num_layers=2, bidirectional=True)),
    ("GRU", dict(hidden_size=5, num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(hidden_size=3, bias=False)),
    ("RNN", dict(hidden_size=4, nonlinearity="relu", num_layers=2)),
    ("RNN", dict(hidden_size=4, bidirectional=True, bias=False)),
]


def _torch_twin(module, cls, kw, input_size):
    twin = getattr(real_torch.nn, cls)(input_size, **kw).double()
    twin.load_state_dict({k: real_torch.from_numpy(v) for k, v in weights(module).items()})
    return twin


def _states(s):
    return s if isinstance(s, tuple) else (s,)


def _compare_with_torch(module, twin, x, hx=None, packed_lengths=None):
    """Outputs, final states and every gradient of module vs its PyTorch twin."""
    cx = tp(x, requires_grad=True)
    tx = real_torch.tensor(x, requires_grad=True)
    c_in, t_in = cx, tx
    if packed_lengths is not None:
        c_in = pack_padded_sequence(cx, packed_lengths, enforce_sorted=False)
        t_in = real_torch.nn.utils.rnn.pack_padded_sequence(tx, packed_lengths, enforce_sorted=False)
    c_h = None if hx is None else tuple(tp(h) for h in hx) if isinstance(hx, tuple) else tp(hx)
    t_h = None if hx is None else tuple(real_torch.tensor(h) for h in hx) if isinstance(hx, tuple) else \
        real_torch.tensor(hx)
    c_out, c_state = module(c_in, c_h)
    t_out, t_state = twin(t_in, t_h)
    if packed_lengths is not None:
        assert isinstance(c_out, PackedSequence)
        assert c_out.batch_sizes.tolist() == t_out.batch_sizes.tolist()
        c_out, t_out = c_out.data, t_out.data
    assert_close(c_out, t_out.detach().numpy(), rtol=RTOL, atol=ATOL)
    for a, b in zip(_states(c_state), _states(t_state)):
        assert_close(a, b.detach().numpy(), rtol=RTOL, atol=ATOL)
    weight = arr(*t_out.shape)
    loss_c = (c_out * tp(weight)).sum() + sum(s.sum() for s in _states(c_state))
    loss_t = (t_out * real_torch.tensor(weight)).sum() + sum(s.sum() for s in _states(t_state))
    loss_c.backward()
    loss_t.backward()
    assert_close(cx.grad, tx.grad.numpy(), rtol=RTOL * 10, atol=ATOL * 10)
    for (name, p), (t_name, q) in zip(module.named_parameters(), twin.named_parameters()):
        assert name == t_name
        assert_close(p.grad, q.grad.numpy(), rtol=RTOL * 10, atol=ATOL * 10)


@needs_torch
@pytest.mark.parametrize("cls,kw", VARIANTS, ids=lambda v: str(v))
def test_matches_torch(cls, kw):
    module = getattr(nn, cls)(3, **kw).to(PRECISE)
    twin = _torch_twin(module, cls, kw, 3)
    x = arr(2, 5, 3) if kw.get("batch_first") else arr(5, 2, 3)
    _compare_with_torch(module, twin, x)


@needs_torch
@pytest.mark.parametrize("cls,kw", [("LSTM", dict(hidden_size=5, proj_size=2, num_layers=2, bidirectional=True)),
                                    ("GRU", dict(hidden_size=4, bidirectional=True))], ids=["lstm", "gru"])
def test_initial_state_and_packed_sequence_match_torch(cls, kw):
    module = getattr(nn, cls)(3, **kw).to(PRECISE)
    twin = _torch_twin(module, cls, kw, 3)
    hidden = kw.get("proj_size") or kw["hidden_size"]
    d_layers = (2 if kw.get("bidirectional") else 1) * kw.get("num_layers", 1)
    h0 = arr(d_layers, 4, hidden)
    hx = (h0, arr(d_layers, 4, kw["hidden_size"])) if cls == "LSTM" else h0
    _compare_with_torch(module, twin, arr(6, 4, 3), hx)
    module.zero_grad()
    twin.zero_grad()
    _compare_with_torch(module, twin, arr(6, 4, 3), hx, packed_lengths=[3, 6, 1, 4])


@needs_torch
def test_unbatched_input_matches_torch():
    lstm = nn.LSTM(3, 4, num_layers=2).to(PRECISE)
    twin = _torch_twin(lstm, "LSTM", dict(hidden_size=4, num_layers=2), 3)
    _compare_with_torch(lstm, twin, arr(5, 3), (arr(2, 4), arr(2, 4)))


def test_dropout_between_layers_only_in_training():
    gru = nn.GRU(3, 4, num_layers=2, dropout=0.5).to(PRECISE)
    x = tp(arr(4, 2, 3))
    torch.manual_seed(1)
    a = gru(x)[0]
    gru.eval()
    b, c = gru(x)[0], gru(x)[0]
    assert_close(b, np_of(c))
    assert not np.allclose(np_of(a), np_of(b))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)


# ---- cells ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("cls,kw", [("LSTMCell", {}), ("GRUCell", {}), ("RNNCell", {"nonlinearity": "relu"}),
                                    ("RNNCell", {"bias": False})])
def test_cells_match_torch(cls, kw):
    cell = getattr(nn, cls)(3, 5, **kw).to(PRECISE)
    twin = getattr(real_torch.nn, cls)(3, 5, **kw).double()
    twin.load_state_dict({k: real_torch.from_numpy(v) for k, v in weights(cell).items()})
    x, h = arr(4, 3), arr(4, 5)
    hx = (h, arr(4, 5)) if cls == "LSTMCell" else h
    cx = tp(x, requires_grad=True)
    tx = real_torch.tensor(x, requires_grad=True)
    c_h = tuple(tp(a) for a in hx) if isinstance(hx, tuple) else tp(hx)
    t_h = tuple(real_torch.tensor(a) for a in hx) if isinstance(hx, tuple) else real_torch.tensor(hx)
    c_out, t_out = _states(cell(cx, c_h)), _states(twin(tx, t_h))
    for a, b in zip(c_out, t_out):
        assert_close(a, b.detach().numpy(), rtol=RTOL, atol=ATOL)
    sum((a * (k + 1)).sum() for k, a in enumerate(c_out)).backward()
    sum((a * (k + 1)).sum() for k, a in enumerate(t_out)).backward()
    assert_close(cx.grad, tx.grad.numpy(), rtol=RTOL * 10, atol=ATOL * 10)
    for p, q in zip(cell.parameters(), twin.parameters()):
        assert_close(p.grad, q.grad.numpy(), rtol=RTOL * 10, atol=ATOL * 10)
    unbatched = _states(cell(tp(x[0]), None))  # 1-D input, default zero state
    batched = _states(cell(tp(x[:1]), None))
    for a, b in zip(unbatched, batched):
        assert tuple(a.shape) == (5,)
        assert_close(a, np_of(b)[0], rtol=RTOL, atol=ATOL)


@needs_fp64
def test_fused_cell_kernels_gradcheck():
    f64 = torch.float64
    gates = torch.tensor(arr(3, 4 * 5), dtype=f64, requires_grad=True)
    c = torch.tensor(arr(3, 5), dtype=f64, requires_grad=True)
    assert gradcheck(lambda g, cp: LSTMCellFunction.apply(g, cp), (gates, c))
    xg, hg, h = (torch.tensor(arr(2, 3 * n), dtype=f64, requires_grad=True) for n in (3, 3, 1))
    assert gradcheck(GRUCellFunction.apply, (xg, hg, h))


@needs_fp64
def test_packed_bidirectional_lstm_gradcheck():
    lstm = nn.LSTM(2, 3, proj_size=2, bidirectional=True).double()
    x = torch.tensor(arr(4, 3, 2), dtype=torch.float64, requires_grad=True)

    def run(x, w):
        packed = pack_padded_sequence(x * w, [4, 2, 3], enforce_sorted=False)
        out, (h, c) = lstm(packed)
        return out.data, h, c

    assert gradcheck(run, (x, torch.tensor(arr(3, 1), dtype=torch.float64, requires_grad=True)))


# ---- layout, init, repr, state_dict, errors ---------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("cls,kw", VARIANTS, ids=lambda v: str(v))
def test_parameters_repr_and_state_dict_like_torch(cls, kw):
    ours, theirs = getattr(nn, cls)(3, **kw), getattr(real_torch.nn, cls)(3, **kw)
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert [[tuple(p.shape) for p in ws] for ws in ours.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in theirs.all_weights]
    bound = 1 / math.sqrt(kw["hidden_size"])
    assert all(float(p.abs().max()) <= bound for p in ours.parameters())
    theirs.load_state_dict({k: real_torch.from_numpy(np_of(v)) for k, v in ours.state_dict().items()})
    ours.load_state_dict({k: torch.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    ours.flatten_parameters()


@needs_torch
def test_cell_reprs_like_torch():
    for cls, kw in (("RNNCell", {"nonlinearity": "relu", "bias": False}), ("LSTMCell", {}), ("GRUCell", {})):
        assert repr(getattr(nn, cls)(3, 4, **kw)) == repr(getattr(real_torch.nn, cls)(3, 4, **kw))


def test_errors_name_the_shapes():
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 5"):
        lstm(torch.zeros(2, 1, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 1, 4\), got \[1, 1, 4\]"):
        lstm(torch.zeros(2, 1, 3), (torch.zeros(1, 1, 4), torch.zeros(2, 1, 4)))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"):
        nn.GRU(3, 4)(torch.zeros(2, 3), torch.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        nn.RNN(3, 4)(torch.zeros(1, 2, 3, 3))
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 2 expected 3"):
        nn.GRUCell(3, 4)(torch.zeros(1, 2))


# ---- nn.utils.rnn -----------------------------------------------------------------------------------------
def test_pad_and_pack_sequences_against_numpy():
    seqs = [arr(4, 2), arr(1, 2), arr(3, 2)]
    padded = pad_sequence([tp(s) for s in seqs], batch_first=True, padding_value=-1.0)
    ref = np.full((3, 4, 2), -1.0)
    for b, s in enumerate(seqs):
        ref[b, :len(s)] = s
    assert_close(padded, ref, rtol=RTOL, atol=ATOL)
    left = pad_sequence([tp(s) for s in seqs], padding_side="left")
    ref_left = np.zeros((4, 3, 2))
    for b, s in enumerate(seqs):
        ref_left[4 - len(s):, b] = s
    assert_close(left, ref_left, rtol=RTOL, atol=ATOL)
    packed = pack_sequence([tp(s) for s in seqs], enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [3, 2, 2, 1]
    assert packed.sorted_indices.tolist() == [0, 2, 1]
    assert_close(packed.data, np.concatenate([seqs[0][:1], seqs[2][:1], seqs[1][:1], seqs[0][1:2], seqs[2][1:2],
                                              seqs[0][2:3], seqs[2][2:3], seqs[0][3:]]), rtol=RTOL, atol=ATOL)
    out, lengths = pad_packed_sequence(packed, batch_first=True, padding_value=-1.0, total_length=5)
    assert lengths.tolist() == [4, 1, 3]
    assert_close(out, np.concatenate([ref, np.full((3, 1, 2), -1.0)], 1), rtol=RTOL, atol=ATOL)
    for a, s in zip(unpack_sequence(packed), seqs):
        assert_close(a, s, rtol=RTOL, atol=ATOL)
    for a, s in zip(unpad_sequence(padded, [4, 1, 3], batch_first=True), seqs):
        assert_close(a, s, rtol=RTOL, atol=ATOL)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        pack_padded_sequence(padded, [1, 4, 3], batch_first=True)
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        pad_packed_sequence(packed, total_length=2)


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
def test_utils_rnn_match_torch_with_gradients(batch_first):
    x = arr(5, 3, 2) if not batch_first else arr(3, 5, 2)
    lengths = [5, 2, 4]
    cx, tx = tp(x, requires_grad=True), real_torch.tensor(x, requires_grad=True)
    tr = real_torch.nn.utils.rnn
    cp = pack_padded_sequence(cx, lengths, batch_first=batch_first, enforce_sorted=False)
    t_p = tr.pack_padded_sequence(tx, lengths, batch_first=batch_first, enforce_sorted=False)
    assert_close(cp.data, t_p.data.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert cp.batch_sizes.tolist() == t_p.batch_sizes.tolist()
    assert cp.unsorted_indices.tolist() == t_p.unsorted_indices.tolist()
    c_out, c_len = pad_packed_sequence(cp, batch_first=batch_first, padding_value=0.5, total_length=6)
    t_out, t_len = tr.pad_packed_sequence(t_p, batch_first=batch_first, padding_value=0.5, total_length=6)
    assert_close(c_out, t_out.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert c_len.tolist() == t_len.tolist() and c_len.dtype is torch.int64
    w = arr(*t_out.shape)
    (c_out * tp(w)).sum().backward()
    (t_out * real_torch.tensor(w)).sum().backward()
    assert_close(cx.grad, tx.grad.numpy(), rtol=RTOL, atol=ATOL)
