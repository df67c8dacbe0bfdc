"""Checks of values that live on the device, raised at the next host read instead of by a sync.

PyTorch's CUDA backend reports a bad class index through a device-side assert that surfaces at the
next synchronising call; cltensor does the same without stopping the device: an op that must
validate data it does not have on the host (cross_entropy's targets) computes an *offender* on the
device (a 0-d tensor: the first bad value, or a sentinel when all are good) and registers it here
with the error to raise. Backend.synchronize, which every host read goes through, reads the
offenders of the checks registered so far and raises the first failed one's error. The kernels
involved never read out of bounds whatever the data (the ops stay memory-safe), so nothing but the
error is late. A long run without host reads is bounded: the MAX_PENDING-th check synchronises.
"""
from __future__ import annotations

MAX_PENDING = 64


class DeviceCheck:
    __slots__ = ("offender", "passes", "error")

    def __init__(self, offender, passes, error):
        self.offender, self.passes, self.error = offender, passes, error


def defer(offender, passes, error) -> None:
    """Register a check: after the queued work, passes(value of the 0-d offender) must be true, or
    error(value) (an exception) is raised at the next host read."""
    backend = offender.device.backend
    with backend.lock:
        backend.pending_checks.append(DeviceCheck(offender, passes, error))
        due = len(backend.pending_checks) >= MAX_PENDING
    if due:
        backend.synchronize()


def run_pending(backend) -> None:
    """Evaluate the registered checks (called by Backend.synchronize, after the queue drained)."""
    with backend.lock:
        checks, backend.pending_checks = backend.pending_checks, []
    for check in checks:
        value = check.offender._to_numpy_copy().item()  # synchronises again: with no checks left
        if not check.passes(value):
            raise check.error(value)
