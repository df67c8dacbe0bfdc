"""Per-kernel counts and device times from OpenCL profiling events.

    import cltensor as torch
    with torch.profiler.profile() as prof:
        y = (torch.randn(1000, 1000) @ torch.randn(1000, 1000)).relu().sum()
        y.item()
    # the table is printed at exit; prof.stats holds {kernel name: KernelStat}

``CLTENSOR_PROFILE=1`` profiles the whole process and prints the table when it exits.
Times are the device's own (CL_PROFILING_COMMAND_START to END), so they hold however the launches
were queued; kernels launched through ``dispatch`` (every kernel cltensor runs) are counted,
host copies are not.
"""
from __future__ import annotations

import atexit
import os
import statistics
import sys
from dataclasses import dataclass, field

import pyopencl as cl

from .device import _backends, get_default_device, recorded_event_readers

_active: list = []  # open profile() sessions; each collected batch is added to all of them
_env_session = None


_MAX_SAMPLES = 100_000  # per kernel, for the median


@dataclass
class KernelStat:
    count: int = 0
    total_ns: int = 0
    min_ns: int = 0
    max_ns: int = 0
    samples: list = field(default_factory=list, repr=False)

    def add(self, ns: int) -> None:
        self.min_ns = ns if not self.count else min(self.min_ns, ns)
        self.max_ns = max(self.max_ns, ns)
        self.count += 1
        self.total_ns += ns
        if len(self.samples) < _MAX_SAMPLES:
            self.samples.append(ns)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.samples) if self.samples else 0.0


class profile:
    """Context manager that records every kernel launched inside it (on every device in use).

    While open, each device's queue is a profiling queue; on exit the queue is drained, the events
    read, and (unless ``print_table=False``) the table printed, sorted by total device time.
    """

    def __init__(self, print_table: bool = True, file=None):
        self.print_table = print_table
        self.file = file
        self.stats: dict = {}
        self._backends: list = []

    def __enter__(self) -> "profile":
        get_default_device().backend  # the default device is the one a script is about to use
        for backend in list(_backends.values()):
            _start_recording(backend)
            self._backends.append(backend)
        _active.append(self)
        return self

    def __exit__(self, *exc) -> None:
        for backend in self._backends:
            backend.synchronize()  # collects this session's events
        _active.remove(self)
        for backend in self._backends:
            if not any(backend in s._backends for s in _active) and _env_session is None:
                _stop_recording(backend)
        if self.print_table:
            print(self.table(), file=self.file or sys.stdout)

    def add(self, name: str, ns: int) -> None:
        stat = self.stats.get(name)
        if stat is None:
            stat = self.stats[name] = KernelStat()
        stat.add(ns)

    @property
    def total_ns(self) -> int:
        return sum(s.total_ns for s in self.stats.values())

    def table(self, limit: int | None = None) -> str:
        total = self.total_ns or 1
        rows = sorted(self.stats.items(), key=lambda kv: -kv[1].total_ns)[:limit]
        width = max([len("kernel")] + [len(name) for name, _ in rows])
        lines = [f"{'kernel':<{width}}  {'calls':>7}  {'total ms':>10}  {'mean us':>9}  {'median us':>9}  "
                 f"{'min us':>8}  {'max us':>8}  {'%':>5}"]
        for name, s in rows:
            lines.append(f"{name:<{width}}  {s.count:>7}  {s.total_ns / 1e6:>10.3f}  {s.total_ns / s.count / 1e3:>9.1f}  "
                         f"{s.median_ns / 1e3:>9.1f}  {s.min_ns / 1e3:>8.1f}  {s.max_ns / 1e3:>8.1f}  "
                         f"{100 * s.total_ns / total:>5.1f}")
        count = sum(s.count for s in self.stats.values())
        lines.append(f"{'total':<{width}}  {count:>7}  {self.total_ns / 1e6:>10.3f}")
        return "\n".join(lines)


def _start_recording(backend) -> None:
    if backend.recorder is not None:
        return
    props = backend._queue.properties
    if not props & cl.command_queue_properties.PROFILING_ENABLE:
        backend.synchronize()  # in-order across the swap: the old queue is empty from here on
        backend._plain_queue = backend._queue
        backend._queue = cl.CommandQueue(backend.context, properties=props | cl.command_queue_properties.PROFILING_ENABLE)
    backend.recorder = []


def _stop_recording(backend) -> None:
    backend.synchronize()
    backend.recorder = None
    plain = getattr(backend, "_plain_queue", None)
    if plain is not None:
        backend._queue, backend._plain_queue = plain, None


def collect(backend) -> None:
    """Read the finished events the backend recorded into every open session (after a finish)."""
    events, backend.recorder = backend.recorder, []
    sessions = list(_active) + ([_env_session] if _env_session is not None else [])
    if not sessions:
        return
    names: dict = {}
    for kernel, event in events:
        name = names.get(kernel)
        if name is None:
            name = names[kernel] = kernel.function_name
        ns = event.profile.end - event.profile.start
        for s in sessions:
            if backend in s._backends or s is _env_session:
                s.add(name, ns)


def _report_at_exit() -> None:
    for backend in list(_backends.values()):
        try:
            backend.synchronize()
        except Exception:
            pass
    if _env_session.stats:
        print("cltensor profile (CLTENSOR_PROFILE=1): device time per kernel", file=sys.stderr)
        print(_env_session.table(), file=sys.stderr)


def _enable_from_env() -> None:
    global _env_session
    if _env_session is None and os.environ.get("CLTENSOR_PROFILE", "") not in ("", "0"):
        _env_session = profile(print_table=False)
        atexit.register(_report_at_exit)


recorded_event_readers.append(collect)
_enable_from_env()
