"""Fused LSTM and GRU cell updates: one elementwise kernel forward, one backward.

The elementwise template writes one output tensor, so a cell that produces several results writes
them as slices of one packed output and each work-item picks its result from its linear index `i`
(which every path of the template keeps as the element's logical row-major index): the LSTM
forward writes (2, B, H) = [h, c]; the LSTM backward (B, 5, H) = [di, df, dg, do | dc_prev], so
that the four gate gradients are one (B, 4H) view; the GRU backward (B, 7, H) = [dx_r, dx_z, dx_n |
dh_r, dh_z, dh_n | dh_prev]. The inputs are (B, H) slices broadcast over the packed dimension.
The backward kernels are not differentiated again (no double backward through the cells).
"""
from __future__ import annotations

from .. import launch
from ..autograd.function import Function, once_differentiable

_SIGMOID = "inline {T} rnn_sig({T} x) { return ({T})1 / (({T})1 + exp(-x)); }\n"

_LSTM_BACKWARD = _SIGMOID + """
inline {T} lstm_back(long k, {T} pi, {T} pf, {T} pg, {T} po, {T} cp, {T} gh, {T} gc) {
    const {T} si = rnn_sig(pi), sf = rnn_sig(pf), tg = tanh(pg), so = rnn_sig(po);
    const {T} tc = tanh(sf * cp + si * tg);
    const {T} dc = gc + gh * so * (({T})1 - tc * tc);
    switch (k) {
        case 0: return dc * tg * si * (({T})1 - si);
        case 1: return dc * cp * sf * (({T})1 - sf);
        case 2: return dc * si * (({T})1 - tg * tg);
        case 3: return gh * tc * so * (({T})1 - so);
        default: return dc * sf;
    }
}
"""

_GRU_FORWARD = _SIGMOID + """
inline {T} gru_step({T} xr, {T} xz, {T} xn, {T} hr, {T} hz, {T} hn, {T} h) {
    const {T} r = rnn_sig(xr + hr), z = rnn_sig(xz + hz), n = tanh(xn + r * hn);
    return (({T})1 - z) * n + z * h;
}
"""

_GRU_BACKWARD = _SIGMOID + """
inline {T} gru_back(long k, {T} xr, {T} xz, {T} xn, {T} hr, {T} hz, {T} hn, {T} h, {T} g) {
    const {T} r = rnn_sig(xr + hr), z = rnn_sig(xz + hz), n = tanh(xn + r * hn);
    const {T} dn = g * (({T})1 - z) * (({T})1 - n * n);
    switch (k) {
        case 0: case 3: return dn * hn * r * (({T})1 - r);
        case 1: case 4: return g * (h - n) * z * (({T})1 - z);
        case 2: return dn;
        case 5: return dn * r;
        default: return g * z;
    }
}
"""


def _pieces(t, count, hidden):
    """The count (B, H) column blocks of a (B, count*H) tensor."""
    return [t[:, k * hidden:(k + 1) * hidden] for k in range(count)]


def _spread(views, shape, dim):
    """(B, H) views broadcast along a new packed dimension `dim` of `shape`."""
    return [v.unsqueeze(dim).expand(*shape) for v in views]


def _launch(name, expr, inputs, shape, like, params=(), helpers=""):
    out = launch.base.empty(shape, like.dtype, like.device)
    launch.elementwise.elementwise(name, expr, inputs, out, like.dtype, params, helpers)
    return out


class LSTMCellFunction(Function):
    """(gates (B, 4H) pre-activations [i f g o], c_prev (B, H)) -> (h, c)."""

    @staticmethod
    def forward(ctx, gates, c_prev):
        batch, hidden = c_prev.shape
        ins = _spread(_pieces(gates, 4, hidden) + [c_prev], (2, batch, hidden), 0)
        c_new = "(rnn_sig(b) * e + rnn_sig(a) * tanh(c))"
        out = _launch("lstm_cell", f"(i < plane) ? rnn_sig(d) * tanh{c_new} : {c_new}", ins,
                      (2, batch, hidden), c_prev, (("plane", "long", batch * hidden),), _SIGMOID)
        ctx.save_for_backward(gates, c_prev)
        return out[0], out[1]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h, grad_c):
        gates, c_prev = ctx.saved_tensors
        batch, hidden = c_prev.shape
        ins = _spread(_pieces(gates, 4, hidden) + [c_prev, grad_h, grad_c], (batch, 5, hidden), 1)
        out = _launch("lstm_cell_back", "lstm_back((i / hid) % 5, a, b, c, d, e, f, g)", ins,
                      (batch, 5, hidden), c_prev, (("hid", "long", hidden),), _LSTM_BACKWARD)
        return out[:, :4].reshape(batch, 4 * hidden), out[:, 4]


class GRUCellFunction(Function):
    """(input projection (B, 3H) [r z n], hidden projection (B, 3H), h (B, H)) -> h'."""

    @staticmethod
    def forward(ctx, x_gates, h_gates, h):
        hidden = h.shape[1]
        ins = _pieces(x_gates, 3, hidden) + _pieces(h_gates, 3, hidden) + [h]
        ctx.save_for_backward(x_gates, h_gates, h)
        return _launch("gru_cell", "gru_step(a, b, c, d, e, f, g)", ins, tuple(h.shape), h, (), _GRU_FORWARD)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x_gates, h_gates, h = ctx.saved_tensors
        batch, hidden = h.shape
        ins = _spread(_pieces(x_gates, 3, hidden) + _pieces(h_gates, 3, hidden) + [h, grad], (batch, 7, hidden), 1)
        out = _launch("gru_cell_back", "gru_back((i / hid) % 7, a, b, c, d, e, f, g, h)", ins,
                      (batch, 7, hidden), h, (("hid", "long", hidden),), _GRU_BACKWARD)
        return (out[:, :3].reshape(batch, 3 * hidden), out[:, 3:6].reshape(batch, 3 * hidden), out[:, 6])
