"""RNN, LSTM and GRU (multi-layer, bidirectional, packed sequences, LSTM projections) and their cells,
with PyTorch's parameter names, shapes, init and reprs so that state_dicts load both ways.

Per layer and direction the input projection of every time step is one GEMM up front; each step is
then one GEMM for all gates (h @ W_hh^T, added to that step's projection by the GEMM) and one fused
elementwise kernel for the cell update (cltensor/nn/_rnn_kernels.py; its backward is fused too).

>>> import cltensor as torch
>>> lstm = torch.nn.LSTM(4, 8, num_layers=2, batch_first=True)
>>> out, (h, c) = lstm(torch.randn(3, 5, 4))
>>> out.shape, h.shape
(torch.Size([3, 5, 8]), torch.Size([2, 3, 8]))
"""
from __future__ import annotations

import math
import numbers
import warnings

from ..ops import creation as _creation
from ..ops.joins import cat, split_with_sizes, stack
from ..ops.linalg import addmm, mm
from . import functional as F
from . import init
from ._rnn_kernels import GRUCellFunction, LSTMCellFunction
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _project(x, weight, bias):
    """x @ weight^T (+ bias) for a 2-D x, as one GEMM."""
    return mm(x, weight.t()) if bias is None else addmm(bias, x, weight.t())


class _Step:
    """One time step of one layer and direction: (x projection, state) -> new state; state[0] is h."""

    def __init__(self, mode, w_hh, b_hh, w_hr):
        self.mode, self.w_hh, self.b_hh, self.w_hr = mode, w_hh, b_hh, w_hr

    def __call__(self, xp, state):
        h = state[0]
        if self.mode == "GRU":
            return (GRUCellFunction.apply(xp, _project(h, self.w_hh, self.b_hh), h),)
        pre = addmm(xp, h, self.w_hh.t())  # the hidden bias is already folded into xp
        if self.mode == "RNN_TANH":
            return (pre.tanh(),)
        if self.mode == "RNN_RELU":
            return (pre.relu(),)
        h_new, c_new = LSTMCellFunction.apply(pre, state[1])
        return (h_new if self.w_hr is None else mm(h_new, self.w_hr.t()), c_new)


def _input_projection(mode, data, w_ih, b_ih, b_hh):
    """The projection of every time step at once; RNN and LSTM fold both biases in here."""
    if mode != "GRU" and b_ih is not None:
        return addmm(b_ih + b_hh, data, w_ih.t())
    return _project(data, w_ih, b_ih)


def _run_forward(step, xp, batch_sizes, state):
    """The recurrence in time order over packed steps whose batch shrinks; returns (outputs, final)."""
    steps = split_with_sizes(xp, batch_sizes) if len(batch_sizes) > 1 else (xp,)
    outs, finished = [], []
    for x_t, bs in zip(steps, batch_sizes):
        if bs < state[0].shape[0]:
            finished.append(tuple(s[bs:] for s in state))
            state = tuple(s[:bs] for s in state)
        state = step(x_t, state)
        outs.append(state[0])
    finished.append(state)
    final = tuple(cat([f[k] for f in reversed(finished)]) if len(finished) > 1 else state[k]
                  for k in range(len(state)))
    return outs, final


def _run_reverse(step, xp, batch_sizes, state0):
    """The recurrence backwards in time: the batch grows, new rows starting from the initial state."""
    steps = split_with_sizes(xp, batch_sizes) if len(batch_sizes) > 1 else (xp,)
    last = batch_sizes[-1]
    state = tuple(s[:last] if last < s.shape[0] else s for s in state0)
    outs = [None] * len(batch_sizes)
    for t in reversed(range(len(batch_sizes))):
        bs, have = batch_sizes[t], state[0].shape[0]
        if bs > have:
            state = tuple(cat([s, s0[have:bs]]) for s, s0 in zip(state, state0))
        state = step(steps[t], state)
        outs[t] = state[0]
    return outs, state


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters per layer and direction, and the layer loop."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self._check_sizes(dropout)
        num_directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                suffix = "_reverse" if direction == 1 else ""
                names = [f"{name}_l{layer}{suffix}" for name, _ in shapes]
                for name, (_, shape) in zip(names, shapes):
                    setattr(self, name, Parameter(_creation.empty(*shape, **factory)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def _check_sizes(self, dropout):
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={self.num_layers}", stacklevel=3)
        if not isinstance(self.hidden_size, int) or isinstance(self.hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(self.hidden_size).__name__}")
        if self.hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if self.num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if self.proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if self.proj_size >= self.hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if self.proj_size and self.mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self):
        """A no-op: the weights are used where they are (PyTorch compacts them for cuDNN)."""

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # ---- forward -------------------------------------------------------------------------------------
    def _state_shape(self, batch, size):
        return ((2 if self.bidirectional else 1) * self.num_layers, batch, size)

    def _check_hidden(self, hx, shape, what="Expected hidden size"):
        if tuple(hx.shape) != shape:
            raise RuntimeError(f"{what} {shape}, got {list(hx.shape)}")

    def _prepare(self, input, hx):
        """(data (N, I), batch_sizes, batch, packed info, unbatched, hx) with checks."""
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes = input.data, [int(b) for b in input.batch_sizes.tolist()]
            batch, unbatched = batch_sizes[0], False
            if hx is not None and input.sorted_indices is not None:
                hx = _permute_state(hx, input.sorted_indices)
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.dim()}D "
                                 "instead")
            unbatched = input.dim() == 2
            if unbatched:
                input = input.unsqueeze(1)
                hx = _map_state(hx, lambda h: _unbatch_hidden(h))
            elif self.batch_first:
                input = input.transpose(0, 1)
            steps, batch = input.shape[0], input.shape[1]
            data, batch_sizes = input.reshape(steps * batch, input.shape[2]), [batch] * steps
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{data.shape[-1]}")
        return data, batch_sizes, batch, packed, unbatched, hx

    def _initial_state(self, hx, batch, data):
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        shapes = [self._state_shape(batch, real_hidden)]
        if self.mode == "LSTM":
            shapes.append(self._state_shape(batch, self.hidden_size))
        if hx is None:
            return tuple(_creation.zeros(*s, dtype=data.dtype, device=data.device) for s in shapes)
        states = hx if self.mode == "LSTM" else (hx,)
        for k, (h, s) in enumerate(zip(states, shapes)):
            self._check_hidden(h, s, f"Expected hidden[{k}] size" if self.mode == "LSTM" else "Expected hidden size")
            if h.dtype is not data.dtype:
                raise RuntimeError(f"Input and hidden tensors are not the same dtype, found input tensor with "
                                   f"{data.dtype.torch_name} and hidden tensor with {h.dtype.torch_name}")
        return tuple(states)

    def _layers(self, data, batch_sizes, state0):
        """Run every layer and direction; returns (output data (N, D*H_out), final states per kind)."""
        directions = 2 if self.bidirectional else 1
        finals = [[] for _ in state0]
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                idx = layer * directions + d
                names = self._all_weights[idx]
                w = {n.rsplit("_l", 1)[0]: getattr(self, n) for n in names}
                xp = _input_projection(self.mode, data, w["weight_ih"], w.get("bias_ih"), w.get("bias_hh"))
                step = _Step(self.mode, w["weight_hh"], w.get("bias_hh"), w.get("weight_hr"))
                init_state = tuple(s[idx] for s in state0)
                run = _run_reverse if d == 1 else _run_forward
                steps_out, final = run(step, xp, batch_sizes, init_state)
                outs.append(cat(steps_out) if len(steps_out) > 1 else steps_out[0])
                for k, f in enumerate(final):
                    finals[k].append(f)
            data = cat(outs, 1) if directions == 2 else outs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                data = F.dropout(data, self.dropout, True)
        return data, tuple(stack(f) for f in finals)

    def _forward(self, input, hx):
        data, batch_sizes, batch, packed, unbatched, hx = self._prepare(input, hx)
        state0 = self._initial_state(hx, batch, data)
        out, finals = self._layers(data, batch_sizes, state0)
        if packed:
            if input.unsorted_indices is not None:
                finals = tuple(f.index_select(1, input.unsorted_indices) for f in finals)
            out = PackedSequence(out, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
        else:
            out = out.reshape(len(batch_sizes), batch, out.shape[-1])
            if unbatched:
                out, finals = out.squeeze(1), tuple(f.squeeze(1) for f in finals)
            elif self.batch_first:
                out = out.transpose(0, 1)
        return out, finals


def _map_state(hx, fn):
    if hx is None:
        return None
    return tuple(fn(h) for h in hx) if isinstance(hx, tuple) else fn(hx)


def _unbatch_hidden(h):
    if h.dim() != 2:
        raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {h.dim()}-D tensor")
    return h.unsqueeze(1)


def _permute_state(hx, order):
    return _map_state(hx, lambda h: h.index_select(1, order))


def _check_batched_hidden(hx):
    for h in (hx if isinstance(hx, tuple) else (hx,)):
        if h.dim() != 3:
            raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {h.dim()}-D tensor")


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype)

    def forward(self, input, hx=None):
        if hx is not None and not isinstance(input, PackedSequence) and input.dim() == 3:
            _check_batched_hidden(hx)
        out, (h,) = self._forward(input, hx)
        return out, h


class LSTM(RNNBase):
    """LSTM with PyTorch's gate order (i, f, g, o) and optional projection of h (proj_size)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input, hx=None):
        if hx is not None and not isinstance(input, PackedSequence) and input.dim() == 3:
            _check_batched_hidden(hx)
        out, (h, c) = self._forward(input, hx)
        return out, (h, c)


class GRU(RNNBase):
    """GRU with PyTorch's gate order (r, z, n); n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0,
                         device, dtype)

    def forward(self, input, hx=None):
        if hx is not None and not isinstance(input, PackedSequence) and input.dim() == 3:
            _check_batched_hidden(hx)
        out, (h,) = self._forward(input, hx)
        return out, h


# ---- cells -----------------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh; uniform(+-1/sqrt(H)) init."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(_creation.empty(num_chunks * hidden_size, input_size, **factory))
        self.weight_hh = Parameter(_creation.empty(num_chunks * hidden_size, hidden_size, **factory))
        if bias:
            self.bias_ih = Parameter(_creation.empty(num_chunks * hidden_size, **factory))
            self.bias_hh = Parameter(_creation.empty(num_chunks * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.bias is not True:
            s += ", bias={bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def _batched(self, input, hx, count):
        """(input (B, I), states (B, H) each, unbatched) with PyTorch's checks."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        states = None if hx is None else (hx if isinstance(hx, tuple) else (hx,))
        if states is not None:
            for h in states:
                if h.dim() not in (1, 2):
                    raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {h.dim()}D instead")
        unbatched = input.dim() == 1
        if unbatched:
            input = input.unsqueeze(0)
            states = None if states is None else tuple(h.unsqueeze(0) for h in states)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected {self.input_size}")
        if states is None:
            zeros = _creation.zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)
            states = (zeros,) * count
        for h in states:
            if h.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden0 batch size "
                                   f"{h.shape[0]}")
            if h.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden0 has inconsistent hidden_size: got {h.shape[1]}, expected "
                                   f"{self.hidden_size}")
        return input, states, unbatched


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        x, (h,), unbatched = self._batched(input, hx, 1)
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        xp = _input_projection(mode, x, self.weight_ih, self.bias_ih, self.bias_hh)
        (out,) = _Step(mode, self.weight_hh, None, None)(xp, (h,))
        return out.squeeze(0) if unbatched else out


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        x, state, unbatched = self._batched(input, hx, 2)
        xp = _input_projection("LSTM", x, self.weight_ih, self.bias_ih, self.bias_hh)
        h, c = _Step("LSTM", self.weight_hh, None, None)(xp, state)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step: returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._batched(input, hx, 1)
        xp = _input_projection("GRU", x, self.weight_ih, self.bias_ih, self.bias_hh)
        (out,) = _Step("GRU", self.weight_hh, self.bias_hh, None)(xp, (h,))
        return out.squeeze(0) if unbatched else out


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
