"""torch.nn.utils.rnn: PackedSequence and packing/padding of variable-length sequences.

The lengths are host data (PyTorch requires them on the CPU too); the data moves by one
index_select gather on the device, so packing and unpacking are differentiable.

>>> import cltensor as torch
>>> from cltensor.nn.utils.rnn import pad_sequence, pack_padded_sequence
>>> padded = pad_sequence([torch.ones(3), torch.ones(1)])
>>> pack_padded_sequence(padded, [3, 1]).batch_sizes
tensor([2, 1, 1])
"""
from __future__ import annotations

from collections import namedtuple

from ... import dtypes as dt
from ...ops import creation as _creation
from ...ops.joins import cat
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """The steps of a batch of sequences sorted by decreasing length, packed time-major: data holds
    batch_sizes[t] rows for step t. sorted_indices/unsorted_indices map to and from the caller's order."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """The data (and the indices, to the data's device) converted as Tensor.to does."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=dt.float64)

    def float(self):
        return self.to(dtype=dt.float32)

    def half(self):
        return self.to(dtype=dt.float16)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The permutation that undoes `permutation` (None stays None)."""
    if permutation is None:
        return None
    order = permutation.tolist()
    inverse = [0] * len(order)
    for i, p in enumerate(order):
        inverse[p] = i
    return _creation.tensor(inverse, dtype=dt.int64, device=permutation.device)


def _lengths_list(lengths):
    if isinstance(lengths, Tensor):
        if lengths.dim() != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.dim()}D "
                               f"{lengths.device.type} {lengths.dtype.name} tensor")
        return [int(n) for n in lengths.tolist()]
    return [int(n) for n in lengths]


def _batch_sizes(lengths):
    steps = lengths[0] if lengths else 0
    return [sum(1 for n in lengths if n > t) for t in range(steps)]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) of sequences with the given lengths."""
    lengths = _lengths_list(lengths)
    if enforce_sorted:
        if any(a < b for a, b in zip(lengths, lengths[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
        sorted_indices = None
        order = list(range(len(lengths)))
    else:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        sorted_indices = _creation.tensor(order, dtype=dt.int64, device=input.device)
    batch_dim, time_dim = (0, 1) if batch_first else (1, 0)
    if len(lengths) != input.shape[batch_dim]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} (batch_size="
                           f"{input.shape[batch_dim]})")
    if any(n <= 0 for n in lengths):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    steps = input.shape[time_dim]
    if max(lengths) > steps:
        raise RuntimeError(f"pack_padded_sequence: a length of {max(lengths)} exceeds the {steps} time steps of the "
                           f"input of shape {list(input.shape)}")
    ordered = [lengths[i] for i in order]
    sizes = _batch_sizes(ordered)
    batch = input.shape[batch_dim]
    # row of (t, sorted b) in the input flattened over its first two dims
    rows = [(order[b] * steps + t) if batch_first else (t * batch + order[b])
            for t, bs in enumerate(sizes) for b in range(bs)]
    flat = input.reshape(steps * batch, *input.shape[2:])
    data = flat.index_select(0, _creation.tensor(rows, dtype=dt.int64, device=input.device))
    return PackedSequence(data, _creation.tensor(sizes, dtype=dt.int64), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack to (padded (T, B, *) or (B, T, *), lengths): the inverse of pack_padded_sequence."""
    sizes = [int(b) for b in sequence.batch_sizes.tolist()]
    steps, batch = len(sizes), sizes[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps = total_length
    data = sequence.data
    pad = _creation.full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    source = cat([data, pad])
    starts = [0]
    for bs in sizes:
        starts.append(starts[-1] + bs)
    n = data.shape[0]

    def row(t, b):
        return starts[t] + b if t < len(sizes) and b < sizes[t] else n

    order = ((b, t) for b in range(batch) for t in range(steps)) if batch_first else \
        ((b, t) for t in range(steps) for b in range(batch))
    rows = [row(t, b) for b, t in order]
    index = _creation.tensor(rows, dtype=dt.int64, device=data.device)
    out = source.index_select(0, index)
    shape = (batch, steps) if batch_first else (steps, batch)
    out = out.reshape(*shape, *data.shape[1:])
    lengths = [sum(1 for bs in sizes if bs > b) for b in range(batch)]
    if sequence.unsorted_indices is not None:
        out = out.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = [lengths[i] for i in sequence.unsorted_indices.tolist()]
    return out, _creation.tensor(lengths, dtype=dt.int64)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shape (L_i, *) into (L_max, B, *) ((B, L_max, *) with batch_first), padded."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    lengths = [s.shape[0] for s in sequences]
    steps, batch = max(lengths), len(sequences)
    first = sequences[0]
    pad = _creation.full((1, *first.shape[1:]), padding_value, dtype=first.dtype, device=first.device)
    source = cat(sequences + [pad])
    n = source.shape[0] - 1
    starts = [0]
    for length in lengths:
        starts.append(starts[-1] + length)

    def row(t, b):
        t = t - (steps - lengths[b]) if padding_side == "left" else t
        return starts[b] + t if 0 <= t < lengths[b] else n

    order = ((b, t) for b in range(batch) for t in range(steps)) if batch_first else \
        ((b, t) for t in range(steps) for b in range(batch))
    index = _creation.tensor([row(t, b) for b, t in order], dtype=dt.int64, device=first.device)
    shape = (batch, steps) if batch_first else (steps, batch)
    return source.index_select(0, index).reshape(*shape, *first.shape[1:])


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences (L_i, *) inside a padded batch."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[b, :n] for b, n in enumerate(_lengths_list(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences (L_i, *) (sorted by decreasing length unless enforce_sorted=False)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences packed in a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
