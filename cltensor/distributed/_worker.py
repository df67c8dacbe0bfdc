"""The thread that runs queued MPI calls in order, and the Work objects async_op=True returns.

Every rank must issue its collectives on a communicator in the same order. A call made while nothing
is queued runs on the caller's thread (blocking MPI: its tuned algorithms, measured 2-3x faster
here than the non-blocking ones of libnbc); async calls, and every call made while some are queued,
go to one worker thread per process, FIFO, as PyTorch's MPI backend does. mpi4py releases the GIL in
MPI calls, so Python (and backward's kernels) run on meanwhile. MPI is initialised with
MPI_THREAD_MULTIPLE by mpi4py; with a lower level, async calls run on the caller's thread at once.
"""
from __future__ import annotations

import queue
import threading
import time
from datetime import timedelta


class DistBackendError(RuntimeError):
    """A collective failed or timed out (PyTorch's torch.distributed.DistBackendError)."""


class Work:
    """The handle of a collective started with async_op=True: wait() until it is done (then the
    output tensors hold the result)."""

    def __init__(self, name: str, timeout: float, finish=None, result=()):
        self._name, self._timeout, self._finish, self._result = name, timeout, finish, list(result)
        self._done = threading.Event()
        self._error = None
        self._finished = False

    def _complete(self, error=None):
        self._error = error
        self._done.set()

    def is_completed(self) -> bool:
        return self._done.is_set()

    def is_success(self) -> bool:
        return self._done.is_set() and self._error is None

    def exception(self):
        return self._error

    def wait(self, timeout=None) -> bool:
        """Wait for the MPI call, then copy its results into the tensors (device tensors: one write).
        Raises DistBackendError after timeout (a timedelta or seconds; default: the group's)."""
        limit = self._timeout if timeout is None else _seconds(timeout)
        if not self._done.wait(limit):
            raise DistBackendError(
                f"{self._name} timed out after {limit:g} s waiting for the other ranks (a rank that stopped or "
                "called a different collective?); raise it to stop every rank (an uncaught exception calls "
                "MPI_Abort), or pass a longer timeout to init_process_group")
        if self._error is not None:
            raise DistBackendError(f"{self._name} failed: {self._error}") from self._error
        if not self._finished:
            self._finished = True
            if self._finish is not None:
                self._finish()
        return True

    def result(self) -> list:
        self.wait()
        return self._result

    def synchronize(self):
        self.wait()


def _seconds(timeout) -> float:
    return timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)


class Worker:
    """A FIFO of MPI calls on one daemon thread; see the module's doc."""

    def __init__(self, threaded: bool):
        self.threaded = threaded
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.outstanding = 0  # queued or running jobs
        self.thread = None

    def run(self, name: str, call, timeout: float, async_op: bool, finish=None, result=()):
        """call() does the MPI work; finish() (caller's thread, at wait) moves results into tensors.
        Returns a Work for async_op, else None after both ran."""
        with self.lock:
            inline = self.outstanding == 0 and not (async_op and self.threaded)
            if not inline:
                self.outstanding += 1
        if inline:  # the fast path of a blocking call: no Work unless one is asked for
            call()
            if not async_op:
                if finish is not None:
                    finish()
                return None
        work = Work(name, timeout, finish, result)
        if inline:
            work._complete()
            return work
        self._start()
        self.jobs.put((call, work))
        if async_op:
            return work
        work.wait()
        return None

    def _start(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="cltensor-mpi", daemon=True)
            self.thread.start()

    def _loop(self):
        while True:
            job = self.jobs.get()
            if job is None:
                return
            call, work = job
            try:
                call()
                work._complete()
            except BaseException as err:  # reported to whoever waits
                work._complete(err)
            with self.lock:
                self.outstanding -= 1

    def drain(self, timeout: float = 60.0):
        """Wait until every queued call ran (destroy_process_group)."""
        deadline = time.monotonic() + timeout
        while self.outstanding and time.monotonic() < deadline:
            time.sleep(1e-3)

    def stop(self):
        if self.thread is not None:
            self.jobs.put(None)
            self.thread.join(timeout=5)
            self.thread = None
