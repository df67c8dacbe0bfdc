"""``torch.cuda.Stream`` / ``Event`` over the device's one in-order OpenCL queue.

cltensor gives each device one in-order queue, so every "stream" is that queue: work is ordered at
least as strictly as PyTorch's streams would order it, and waits between streams hold trivially.
An Event is a marker on the queue. ``elapsed_time`` reads the markers' device timestamps where the
queue profiles (``CLTENSOR_PROFILE=1``); otherwise it is an estimate from host timestamps taken when
the driver reports each marker complete (drivers may deliver those reports late or out of order, so
the estimate is clamped at 0).
"""
from __future__ import annotations

import time

import pyopencl as cl

from ._devices import cl_device as _cl_device


def _backend(device=None):
    return _cl_device(device).backend


class Stream:
    """A name for the device's queue (``torch.cuda.Stream(device=None, priority=0)``)."""

    def __init__(self, device=None, priority: int = 0, **kwargs):
        self.device = _cl_device(device)
        self.priority = priority

    def synchronize(self) -> None:
        self.device.backend.synchronize()

    def query(self) -> bool:
        return not self.device.backend.pending and Event._marker_done(cl.enqueue_marker(self.device.backend.queue))

    def wait_stream(self, stream) -> None:
        """Nothing to do: one in-order queue already runs the other stream's work first."""

    def wait_event(self, event) -> None:
        """Nothing to do: the event's marker is on the same in-order queue."""

    def record_event(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def __eq__(self, other):
        return isinstance(other, Stream) and other.device is self.device

    def __hash__(self):
        return hash(self.device)

    def __repr__(self):
        return f"<torch.cuda.Stream device={self.device} (the in-order OpenCL queue)>"


class Event:
    """``torch.cuda.Event(enable_timing=False, blocking=False, interprocess=False)``."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
        self.enable_timing = enable_timing
        self._marker = None
        self._done_at = None

    @staticmethod
    def _marker_done(marker) -> bool:
        return marker.command_execution_status == cl.command_execution_status.COMPLETE

    def record(self, stream=None) -> None:
        """Mark the point the queue has reached (everything launched so far)."""
        backend = stream.device.backend if stream is not None else _backend()
        self._done_at = None
        self._marker = cl.enqueue_marker(backend.queue)  # .queue submits held launches first
        if self.enable_timing:
            self._marker.set_callback(cl.command_execution_status.COMPLETE, self._stamp)

    def _stamp(self, status) -> None:
        self._done_at = time.perf_counter()

    def query(self) -> bool:
        return self._marker is None or self._marker_done(self._marker)

    def synchronize(self) -> None:
        if self._marker is not None:
            self._marker.wait()

    def wait(self, stream=None) -> None:
        """Nothing to do: later work on the in-order queue already follows the marker."""

    def elapsed_time(self, end_event: "Event") -> float:
        """Milliseconds between this event's completion and ``end_event``'s."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        if self._marker is None or end_event._marker is None:
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        for event in (self, end_event):
            event.synchronize()
            deadline = time.perf_counter() + 1.0
            while event._done_at is None and time.perf_counter() < deadline:  # the driver's callback thread
                time.sleep(1e-5)
        try:
            return (end_event._marker.profile.end - self._marker.profile.end) / 1e6
        except cl.Error:  # the queue does not profile
            pass
        if self._done_at is None or end_event._done_at is None:
            raise RuntimeError("the OpenCL driver did not report the events' completion times")
        return max(0.0, (end_event._done_at - self._done_at) * 1000.0)


class stream:
    """``with torch.cuda.stream(s):``: work goes to the one queue either way."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        return False


def current_stream(device=None) -> Stream:
    return Stream(device)


def default_stream(device=None) -> Stream:
    return Stream(device)
