"""Device memory: a caching allocator per OpenCL device and the Storage objects tensors point at.

Freed blocks go back to a pool keyed by their rounded size and are reused by later allocations.
Reuse is safe without waiting because every backend has one in-order queue: a kernel that
writes a recycled block is always enqueued after the kernels that read its previous owner.
Host-backed blocks ('cpu' tensors) are numpy arrays wrapped with CL_MEM_USE_HOST_PTR, so the
OpenCL CPU driver computes in place on the memory numpy sees.

The host touches that memory by the OpenCL rules for USE_HOST_PTR buffers, whatever the driver: a
driver may keep its own copy of the memory, host_ptr holds the latest bits only while mapped
(clEnqueueMapBuffer), and a buffer mapped for writing must be unmapped before a kernel uses it:

* memory that numpy shares (exposed: from_numpy, .numpy()) stays mapped for reading and writing
  whenever no kernel uses it; a launch that uses it unmaps it, runs, and maps it back before
  returning (Backend.submit); freeing it unmaps it. The mapped pointer of a USE_HOST_PTR buffer
  derives from host_ptr, so numpy arrays over the memory stay valid (checked at every map);
* memory that numpy does not share (pooled blocks, private uploads) belongs to the device and is
  never mapped: the host reads it with clEnqueueReadBuffer, one command waited for with the
  kernels before it (what the finish of a read cost before). A block of up to _SNAPSHOT_MAX bytes
  is read whole into a snapshot that serves later reads until a launch uses the block or it is
  freed, so reading an unchanged tensor again (x[i].item() in a loop) costs no command.

Blocks with such host-side state are in Backend.host_state, which launches check. All of it under
the backend's lock. Unmaps are pending entries (Backend.pending), ordered with the held launches;
a pyopencl MemoryMap is never left to the garbage collector, whose unmap would be enqueued by
whichever thread collects it.
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


_MAP_RW = cl.map_flags.READ | cl.map_flags.WRITE
_SNAPSHOT_MAX = 1 << 16  # device-owned blocks up to this size are read whole (see the module's doc)


class Block:
    """One allocation: a cl.Buffer, plus the numpy array behind it when host-backed."""

    __slots__ = ("buffer", "host", "nbytes", "pooled", "counted", "exposed", "mapping", "snapshot", "pool")

    def __init__(self, buffer, host, nbytes, pooled):
        self.buffer, self.host, self.nbytes, self.pooled = buffer, host, nbytes, pooled
        self.pool = None  # a pooled block: the allocator's list of free blocks of its size, where it returns
        self.counted = pooled  # made by the allocator, so part of live_bytes (stays so when exposed)
        self.exposed = False  # numpy shares the memory (Storage.expose): mapped between launches
        self.mapping = None  # the mapped uint8 array (.base: the pyopencl MemoryMap) while mapped
        self.snapshot = None  # [bytes, read complete] of a small device-owned block (Storage._device_bytes)


class _Unmap:
    """A pending entry (see Backend.submit) that unmaps a mapping, in order with the launches.

    NOTE: Mesa's rusticl 22.3 (llvmpipe) now and then answers INVALID_VALUE ("not a mapped pointer")
    for the one unmap of a buffer mapped once, under several threads, even after a finish: it has
    lost the mapping (seen ~1 run in 10 of tests/test_threads.py's mixed workload on a loaded
    machine; the pointer was checked at the map). For a buffer being freed (final) nothing reads
    it again and its memory stays with numpy, so that answer is dropped: raising would lose the
    launches submitted with it. Any other unmap's failure is the device's failure."""

    __slots__ = ("memory_map", "final")
    function_name = "(unmap)"  # for the profiler

    def __init__(self, memory_map, final):
        self.memory_map, self.final = memory_map, final

    def __call__(self, queue, gsize, lsize, wait_for=None):
        try:
            return self.memory_map.release(queue, wait_for=wait_for)
        except cl.LogicError as err:
            if self.final and err.code == cl.status_code.INVALID_VALUE:
                return None
            raise


def unmap_block(backend, block: Block, final: bool = False) -> None:
    """Queue the unmap of a mapped block, ahead of any launch queued after this call; final: the
    block is being freed."""
    mapping, block.mapping = block.mapping, None
    if mapping is not None:
        backend.pending.append((_Unmap(mapping.base, final), None, None, (), None, None))


def map_block(backend, block: Block, blocking: bool = True) -> None:
    """Map an exposed block for host reads and writes; a blocking map waits for the queued work
    (so for the kernels that write the block). Under the backend's lock. The pointer must be
    host_ptr itself, as the specification says it derives from it: numpy arrays over block.host
    are what the user holds."""
    try:
        array, _ = cl.enqueue_map_buffer(backend.queue, block.buffer, _MAP_RW, 0, (block.nbytes,), np.uint8,
                                         is_blocking=blocking)
    except cl.Error as err:
        raise backend.failure(err) from err
    if array.ctypes.data != block.host.ctypes.data:
        array.base.release(backend.queue)
        raise RuntimeError(
            f"OpenCL device {backend.name} maps a host-pointer buffer at {array.ctypes.data:#x}, not at its "
            f"host memory {block.host.ctypes.data:#x}: numpy cannot share memory with its tensors "
            "(from_numpy/.numpy()); use .tolist() or copies instead")
    block.mapping = array


def settle_for_launch(backend, args) -> list:
    """Before a launch with these args (under the lock): queue the unmaps of the exposed blocks
    among them and drop the snapshots; returns the exposed blocks (the launch maps them back)."""
    state = backend.host_state
    exposed = []
    for arg in args:
        block = state.get(arg)
        if block is None:
            continue
        if block.exposed:
            unmap_block(backend, block)
            if block not in exposed:
                exposed.append(block)
        else:
            block.snapshot = None
            state.pop(arg, None)
    return exposed


class Allocator:
    def __init__(self, backend):
        self.backend = backend
        self.pools: dict = {}  # (host, size) -> [Block]; the lists stay (emptied) while the allocator lives
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

    def pool(self, nbytes: int, host: bool) -> list:
        """The list of free blocks that an allocation of nbytes takes from (allocate_from)."""
        key = (host, _round_size(max(nbytes, 1)))
        pool = self.pools.get(key)
        return pool if pool is not None else self.pools.setdefault(key, [])  # atomic: one list per key

    def allocate(self, nbytes: int, host: bool) -> Block:
        """A block of at least nbytes (at least 1)."""
        return self.allocate_from(self.pool(nbytes, host), nbytes, host)

    def allocate_from(self, pool: list, nbytes: int, host: bool) -> Block:
        """allocate(nbytes, host) where pool is pool(nbytes, host): a caller that allocates the same
        size again and again (an op's plan) keeps the list and skips the size arithmetic."""
        lock = self.lock
        lock.acquire()  # not `with`: see Backend.submit
        try:
            if pool:
                block = pool.pop()
                size = block.nbytes
                self.cached_bytes -= size
                self.live_bytes += size
                if self.live_bytes > self.peak_bytes:
                    self.peak_bytes = self.live_bytes
                return block
            return self._new_pooled_locked(pool, nbytes, host)
        finally:
            lock.release()

    def _new_pooled_locked(self, pool: list, nbytes: int, host: bool) -> Block:
        size = _round_size(max(nbytes, 1))
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
        block.pool = pool
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
        lock = self.lock
        lock.acquire()  # not `with`: see Backend.submit
        try:
            if block.counted:
                self.live_bytes -= block.nbytes
            if block.exposed or block.snapshot is not None:
                self._settle_freed_locked(block)
            if block.pooled:
                self.cached_bytes += block.nbytes
                block.pool.append(block)
                return
            # user memory, or memory numpy was given (Storage.expose)
            # NOTE: a kernel (or the unmap) still queued may use this memory; keep it alive until
            # the next sync.
            self.deferred.append(block)
            if len(self.deferred) > 256:
                self.backend.finish()
                self.release_deferred()
        finally:
            lock.release()

    def _settle_freed_locked(self, block: Block) -> None:
        self.backend.host_state.pop(block.buffer, None)
        block.snapshot = None
        # exposed: unmapped before the buffer goes; no kernel uses it again, so numpy's later
        # writes stay in the host memory (a driver writes host_ptr only at a map or a read)
        block.exposed = False
        unmap_block(self.backend, block, final=True)

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
        for pool in self.pools.values():
            pool.clear()
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
        return cls(backend, backend.allocator.allocate(nbytes, host), nbytes)

    @classmethod
    def allocate_from(cls, backend, pool: list, nbytes: int, host: bool) -> "Storage":
        """allocate(), taking the block from a free list the caller looked up once (Allocator.pool)."""
        return cls(backend, backend.allocator.allocate_from(pool, nbytes, host), nbytes)

    @classmethod
    def from_host_array(cls, backend, array: np.ndarray) -> "Storage":
        return cls(backend, backend.allocator.wrap_host(array), array.nbytes)

    def expose(self) -> None:
        """Numpy now shares this memory: it is mapped for the host from here on (waiting for the
        queued work that writes it), kernels touching it run synchronously between an unmap and a
        map (Backend.submit), and it is never recycled by the pool (numpy's reference keeps it
        alive after the tensor dies)."""
        backend, block = self.backend, self.block
        with backend.lock:
            if block.exposed:
                if block.mapping is None:  # a map after a launch failed: try again
                    map_block(backend, block)
                return
            block.snapshot = None  # the mapped memory is the truth from here on
            block.pooled = False
            block.exposed = True
            backend.host_state[block.buffer] = block
            try:
                map_block(backend, block)
            except BaseException:
                block.exposed = False
                del backend.host_state[block.buffer]
                raise

    @property
    def exposed(self) -> bool:
        return self.block.exposed

    @property
    def host(self):
        """The host memory (uint8); the host may touch it only while mapped (exposed storages)."""
        return self.block.host

    def _device_bytes(self, byte_offset: int, nbytes: int, dst=None) -> np.ndarray:
        """Bytes [byte_offset, byte_offset + nbytes) as the work queued so far leaves them, for a
        storage numpy does not share: a slice of the block's snapshot (read whole now if there is
        none) or, for a big block, read into dst (a new array without one). Reads are enqueued
        under the lock, so nothing can map the buffer before they ran, and waited for outside it."""
        backend, block = self.backend, self.block
        with backend.lock:
            if block.exposed:  # exposed by another thread meanwhile: mapped, read in place
                if block.mapping is None:
                    map_block(backend, block)
                return block.host[byte_offset:byte_offset + nbytes].copy()
            snap = block.snapshot
            if snap is not None and snap[1]:
                return snap[0][byte_offset:byte_offset + nbytes]
            if snap is None:
                if block.nbytes <= _SNAPSHOT_MAX:
                    snap = block.snapshot = [np.empty(block.nbytes, np.uint8), False]
                    backend.host_state[block.buffer] = block
                    target, src_offset = snap[0], 0
                else:
                    target = dst if dst is not None else np.empty(nbytes, np.uint8)
                    src_offset = byte_offset
                try:
                    cl.enqueue_copy(backend.queue, target, self.buffer, src_offset=src_offset, is_blocking=False)
                except cl.Error as err:
                    if snap is not None:
                        block.snapshot = None
                        backend.host_state.pop(block.buffer, None)
                    raise backend.failure(err) from err
        try:
            backend.synchronize()  # the read and the kernels before it
        except BaseException:
            with backend.lock:
                if snap is not None and block.snapshot is snap:
                    block.snapshot = None
                    backend.host_state.pop(block.buffer, None)
            raise
        if snap is None:
            return target
        snap[1] = True  # (whoever waited first; a launch since then dropped it from the block)
        return snap[0][byte_offset:byte_offset + nbytes]

    def read(self, out: np.ndarray, byte_offset: int = 0) -> np.ndarray:
        """Fill out (C-contiguous) with this storage's bytes from byte_offset on, as the work queued
        so far leaves them; returns out. Exposed memory is read in place (mapped: launches that use
        it run synchronously), the rest as _device_bytes says."""
        if not out.nbytes:
            return out
        flat = out.reshape(-1).view(np.uint8)
        backend, block = self.backend, self.block
        with backend.lock:
            if block.exposed:
                if block.mapping is None:
                    map_block(backend, block)
                flat[:] = block.host[byte_offset:byte_offset + flat.nbytes]
                return out
        got = self._device_bytes(byte_offset, flat.nbytes, dst=flat)
        if got is not flat:
            flat[:] = got
        return out

    def read_view(self, offset: int, shape: tuple, strides: tuple, dtype) -> np.ndarray:
        """A new C-contiguous numpy array of the view (offset and non-negative strides in elements
        of the numpy dtype), read as Storage.read does; a strided view of a big device-owned block
        reads its whole span."""
        dtype = np.dtype(dtype)
        out = np.empty(shape, dtype)
        if out.size == 0:
            return out
        itemsize = dtype.itemsize
        if _is_contiguous(shape, strides):
            return self.read(out, offset * itemsize)
        span = (sum((n - 1) * s for n, s in zip(shape, strides)) + 1) * itemsize
        byte_strides = tuple(s * itemsize for s in strides)
        backend, block = self.backend, self.block
        with backend.lock:
            if block.exposed:  # the elements in place, no span copy
                if block.mapping is None:
                    map_block(backend, block)
                src = block.host[offset * itemsize:offset * itemsize + span].view(dtype)
                out[...] = np.lib.stride_tricks.as_strided(src, shape, byte_strides)
                return out
        src = self._device_bytes(offset * itemsize, span).view(dtype)
        out[...] = np.lib.stride_tricks.as_strided(src, shape, byte_strides)
        return out


def _is_contiguous(shape, strides) -> bool:
    expected = 1
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True
