"""Device memory: a caching allocator per OpenCL device and the Storage objects tensors point at.

Freed blocks go back to a pool keyed by their rounded size and are reused by later allocations.
Reuse is safe without waiting because every backend has one in-order queue: a kernel that
writes a recycled block is always enqueued after the kernels that read its previous owner.
Host-backed blocks ('cpu' tensors) are numpy arrays wrapped with CL_MEM_USE_HOST_PTR, so the
OpenCL CPU driver computes in place on the memory numpy sees.
"""
from __future__ import annotations

import os

import numpy as np
import pyopencl as cl

_ALIGN = 128
_INT32_MAX = 2**31 - 1
_SMALL = 1 << 20


def _round_size(nbytes: int) -> int:
    """Size classes: 512-byte steps below 1 MiB, then steps of 1/8 of the power of two."""
    if nbytes <= _SMALL:
        return max(512, (nbytes + 511) & ~511)
    step = 1 << (nbytes.bit_length() - 4)
    return (nbytes + step - 1) // step * step


def _parse_limit(text: str | None) -> int | None:
    if not text:
        return None
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower().rstrip("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


class Block:
    """One allocation: a cl.Buffer, plus the numpy array behind it when host-backed."""

    __slots__ = ("buffer", "host", "nbytes", "pooled", "counted")

    def __init__(self, buffer, host, nbytes, pooled):
        self.buffer, self.host, self.nbytes, self.pooled = buffer, host, nbytes, pooled
        self.counted = pooled  # made by the allocator, so part of live_bytes (stays so when exposed)


class Allocator:
    def __init__(self, backend):
        self.backend = backend
        self.pools: dict = {}  # (host, size) -> [Block]
        self.live_bytes = 0
        self.cached_bytes = 0
        self.peak_bytes = 0
        self.deferred: list = []  # user arrays a queued kernel may still read
        self.deferred_released = 0  # how many deferred blocks were ever released (see deferred_mark)
        self.huge = False  # whether any block may hold more than 2**31 - 1 elements (64-bit indexing)
        self.limit = _parse_limit(os.environ.get("CLTENSOR_MEMORY_LIMIT")) or backend.cl_device.global_mem_size
        # the backend's (reentrant) lock: free() may submit held launches and a launch may free a
        # tensor (garbage collection), so one lock for both cannot deadlock across threads
        self.lock = backend.lock

    def allocate(self, nbytes: int, host: bool) -> Block:
        size = _round_size(nbytes)
        with self.lock:
            pool = self.pools.get((host, size))
            if pool:
                block = pool.pop()
                self.cached_bytes -= size
                self.live_bytes += size
                if self.live_bytes > self.peak_bytes:
                    self.peak_bytes = self.live_bytes
                return block
            freed = 0
            if self.live_bytes + self.cached_bytes + size > self.limit:  # cached blocks hold memory too
                freed = self._empty_locked()
                if self.live_bytes + size > self.limit:
                    raise self._oom(nbytes, size, freed)
            try:
                block = self._new_block(size, host)
            except (cl.MemoryError, cl.Error, MemoryError):
                freed += self._empty_locked()  # the driver refused: release the cache and retry once
                try:
                    block = self._new_block(size, host)
                except (cl.MemoryError, cl.Error, MemoryError):
                    raise self._oom(nbytes, size, freed) from None
            self._count(size)
            return block

    def _count(self, size):
        self.live_bytes += size
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)

    def _oom(self, nbytes, size, freed):
        return RuntimeError(
            f"out of memory on {self.backend.name}: tried to allocate {nbytes} bytes ({size} rounded); "
            f"{self.live_bytes} bytes in use, {freed} cached bytes released before retrying, "
            f"{self.cached_bytes} bytes cached, limit {self.limit} bytes")

    def _new_block(self, size: int, host: bool) -> Block:
        ctx = self.backend.context
        self.huge = self.huge or size > _INT32_MAX
        if host:
            raw = np.empty(size + _ALIGN, np.uint8)
            start = -raw.ctypes.data % _ALIGN
            array = raw[start:start + size]
            buf = cl.Buffer(ctx, cl.mem_flags.READ_WRITE | cl.mem_flags.USE_HOST_PTR, hostbuf=array)
            return Block(buf, array, size, True)
        buf = cl.Buffer(ctx, cl.mem_flags.READ_WRITE, size)
        return Block(buf, None, size, True)

    def wrap_host(self, array: np.ndarray) -> Block:
        """A block over user memory (from_numpy): shared, never pooled."""
        flat = array.reshape(-1).view(np.uint8) if array.size else np.empty(1, np.uint8)
        self.huge = self.huge or flat.nbytes > _INT32_MAX
        buf = cl.Buffer(self.backend.context, cl.mem_flags.READ_WRITE | cl.mem_flags.USE_HOST_PTR, hostbuf=flat)
        return Block(buf, flat, flat.nbytes, False)

    def free(self, block: Block) -> None:
        with self.lock:
            if block.counted:
                self.live_bytes -= block.nbytes
            if not block.pooled:  # user memory, or memory numpy was given (Storage.expose)
                self.backend.exposed.discard(block.buffer)
                # NOTE: a kernel still queued may read this memory; keep it alive until the next sync.
                self.deferred.append(block)
                if len(self.deferred) > 256:
                    self.backend.finish()
                    self.release_deferred()
                return
            self.cached_bytes += block.nbytes
            self.pools.setdefault((block.host is not None, block.nbytes), []).append(block)

    def deferred_mark(self) -> int:
        """A mark for release_deferred: the blocks freed so far, whose readers are already launched."""
        with self.lock:
            return self.deferred_released + len(self.deferred)

    def release_deferred(self, mark=None):
        """Drop the deferred blocks freed before mark (all of them without one). Only after a finish
        that began after the mark: a block freed later may have a reader launched after that finish
        (by another thread) and still queued."""
        with self.lock:
            n = len(self.deferred) if mark is None else max(0, mark - self.deferred_released)
            del self.deferred[:n]
            self.deferred_released += n

    def _empty_locked(self) -> int:
        """Release every cached block; returns the bytes released."""
        self.backend.finish()
        freed, self.cached_bytes = self.cached_bytes, 0
        self.pools.clear()
        self.release_deferred()
        return freed

    def empty_cache(self):
        with self.lock:
            self._empty_locked()


class Storage:
    """The memory a tensor and all its views share. Returns its block to the pool when it dies.

    ``__del__`` rather than ``weakref.finalize``: it costs a fraction of a finalizer's registration
    on every allocation (measured ~1 us of the ~10 us a tiny op costs).
    """

    __slots__ = ("backend", "block", "buffer", "nbytes", "__weakref__")

    def __init__(self, backend, block: Block, nbytes: int):
        self.backend, self.block, self.buffer, self.nbytes = backend, block, block.buffer, nbytes

    def __del__(self):
        try:
            self.backend.allocator.free(self.block)
        except Exception:  # interpreter shutdown: the pools are going away anyway
            pass

    @classmethod
    def allocate(cls, backend, nbytes: int, host: bool) -> "Storage":
        return cls(backend, backend.allocator.allocate(max(nbytes, 1), host), nbytes)

    @classmethod
    def from_host_array(cls, backend, array: np.ndarray) -> "Storage":
        return cls(backend, backend.allocator.wrap_host(array), array.nbytes)

    def expose(self) -> None:
        """Numpy now shares this memory: kernels touching it run synchronously, and it is never
        recycled by the pool (numpy's reference keeps it alive after the tensor dies)."""
        self.block.pooled = False
        self.backend.exposed.add(self.buffer)

    @property
    def host(self):
        return self.block.host
