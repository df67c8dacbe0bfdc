"""Sorting and binary search (kernels_cl/sort.cl.mako)."""
from __future__ import annotations

from .. import codegen
from . import signature as sg
from .base import enqueue
from .signature import Signature

def _sort_program(backend, key, kname, signatures, **params):
    full = dict(family="sort", dtypes=[], key_dtype=None, TILE=2, compute=None, seq_dtype=None, val_dtype=None,
                out_dtype=None)
    full.update(params)
    return codegen.kernel(backend, key, "sort.cl.mako", kname, signatures=signatures, **full)


def _sort_signatures(key_dtype):
    """Both passes of the bitonic sort sort keys in place and move their int64 positions along."""
    data = sg.buffer("keys", key_dtype.c, const=False) + sg.buffer("idx", "long", const=False)
    return {"sort_tile": Signature(sg.sizes("long", "n", "tiles_per_row", "segments"),
                                   sg.sizes("int", "tile_shift", "full", "descending"), data),
            "sort_global": Signature(sg.sizes("long", "n"), sg.sizes("int", "pairs_shift"), sg.sizes("long", "total"),
                                     sg.sizes("int", "ks", "js", "flip", "descending"), data)}


def sort_tile_size(backend):
    wg = min(256, backend.max_work_group_size)
    return 2 * (1 << (wg.bit_length() - 1))


def sort_rows(keys, idx, rows, n, descending):
    """Sort `rows` contiguous rows of n keys in place (stable) and write the source positions to
    idx (int64, same layout). A bitonic network: one local-memory pass per tile of TILE elements,
    then for each larger block one global launch per distance >= TILE and one local pass."""
    if rows * n == 0:
        return
    if keys._offset or idx._offset:
        raise RuntimeError("sort_rows expects freshly allocated buffers")
    backend = keys.device.backend
    TILE = sort_tile_size(backend)
    found = []
    for kname in ("sort_tile", "sort_global"):
        key = ("sort", kname, keys.dtype, TILE)
        kernel = backend.kernels.get(key)
        if kernel is None:
            kernel = _sort_program(backend, key, kname, _sort_signatures(keys.dtype), dtypes=[keys.dtype],
                                   key_dtype=keys.dtype, TILE=TILE)
        found.append(kernel)
    tile_kernel, global_kernel = found
    desc = int(bool(descending))
    n2 = 1 << max(n - 1, 0).bit_length()
    tile = max(2, min(TILE, n2))
    tiles = -(-n // tile)
    segments = rows * tiles
    groups = -(-segments // (TILE // tile))
    bufs = [keys._storage.buffer, idx._storage.buffer]
    tile_args = [n, tiles, segments, tile.bit_length() - 1]
    enqueue(backend, tile_kernel, groups * (TILE // 2), tile_args + [1, desc, *bufs], wg=TILE // 2)
    pairs = n2 // 2
    for ks in range(tile.bit_length(), n2.bit_length()):  # blocks k = 2^ks larger than a tile
        for js in range(ks - 1, tile.bit_length() - 2, -1):  # distances j = 2^js >= tile
            enqueue(backend, global_kernel, rows * pairs,
                    [n, pairs.bit_length() - 1, rows * pairs, ks, js, int(js == ks - 1), desc, *bufs])
        enqueue(backend, tile_kernel, groups * (TILE // 2), tile_args + [0, desc, *bufs], wg=TILE // 2)


def searchsorted_kernel(seq, vals, out, inner, per_row, right, compute):
    """out[i] = insertion point of vals[i] in its row of seq (both contiguous; rows of length
    seq.shape[-1]; value i uses row i // inner when per_row)."""
    n = vals.numel()
    if n == 0:
        return out
    backend = vals.device.backend
    key = ("search", seq.dtype, vals.dtype, out.dtype, compute)
    kernel = backend.kernels.get(key)
    if kernel is None:
        sig = Signature(sg.sizes("long", "n", "inner", "len"), sg.sizes("int", "per_row", "right"),
                        sg.tensor("seq", seq.dtype.c, "long", 0),
                        sg.tensor("vals", vals.dtype.c, "long", 0, offset="val_off"),
                        sg.buffer("out", out.dtype.c, const=False))
        kernel = _sort_program(backend, key, "searchsorted", {"searchsorted": sig}, family="search",
                               dtypes=[seq.dtype, vals.dtype, compute], compute=compute, seq_dtype=seq.dtype,
                               val_dtype=vals.dtype, out_dtype=out.dtype)
    length = seq._shape[-1] if seq.dim() else 1
    enqueue(backend, kernel, n, [n, max(inner, 1), length, int(per_row), int(right), seq._storage.buffer,
                                 seq._offset, vals._storage.buffer, vals._offset, out._storage.buffer])
    return out
