"""Jobs, the FIFO queue and the workers (one per compute device).

A worker thread takes the oldest queued job, runs its op through the registry with the
job's progress and cancel hooks, and hands every outgoing message to ``send`` (the server
forwards it on its socket: ZeroMQ sockets belong to one thread). Torch is only touched
inside ops.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from darkroom.errors import Busy, Cancelled, DarkroomError, Internal
from darkroom.ops import registry
from darkroom.ops.registry import Image, OpSpec, Result
from darkroom.wire import Kind

log = logging.getLogger(__name__)

#: send(job, kind, payload) — kind is Kind.PROGRESS, Kind.RESULT or Kind.ERROR.
SendFn = Callable[["Job", str, Any], None]


@dataclass
class Job:
    id: str
    client: bytes  #: the ZeroMQ identity of the client that asked
    spec: OpSpec
    params: dict[str, Any]
    images: list[Image]
    digest_alg: str | None = None  #: the client's buffer authenticator, used in replies
    cancel: threading.Event = field(default_factory=threading.Event)
    state: str = "queued"  #: queued, running, done, failed, cancelled
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    device: str | None = None
    cancel_reason: str = "The job was cancelled."

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.spec.name, "state": self.state, "device": self.device}


class JobQueue:
    """FIFO queue shared by the workers, with a length limit and cancel by id."""

    def __init__(self, max_queued: int = 32) -> None:
        self.max_queued = max_queued
        self._q: deque[Job] = deque()
        self._cv = threading.Condition()
        self.jobs: dict[str, Job] = {}  #: queued and running jobs by id
        self.done = 0
        self.failed = 0
        self.cancelled = 0
        self._closed = False

    def put(self, job: Job) -> int:
        """Queue a job; return its position (0 = next). Raise :class:`Busy` when full."""
        with self._cv:
            if len(self._q) >= self.max_queued:
                raise Busy(
                    f"The backend is busy: {len(self._q)} jobs are waiting. Try again shortly."
                )
            self._q.append(job)
            self.jobs[job.id] = job
            self._cv.notify()
            return len(self._q) - 1

    def take(self, timeout: float = 0.5) -> Job | None:
        with self._cv:
            if not self._q and not self._closed:
                self._cv.wait(timeout)
            if not self._q:
                return None
            job = self._q.popleft()
            job.state = "running"
            job.started = time.monotonic()
            return job

    def cancel(self, job_id: str, reason: str = "The job was cancelled.") -> Job | None:
        """Flag a job cancelled. A queued job is removed and returned (the caller answers it);
        a running one is signalled and answers itself at its next cancel check."""
        with self._cv:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            job.cancel_reason = reason
            job.cancel.set()
            if job.state == "queued":
                self._q.remove(job)
                self._finish_locked(job, "cancelled")
                return job
            return None

    def cancel_client(self, client: bytes, reason: str) -> list[Job]:
        """Cancel every job of a client that went away; return the queued ones removed."""
        with self._cv:
            ids = [j.id for j in self.jobs.values() if j.client == client]
        removed = []
        for jid in ids:
            j = self.cancel(jid, reason)
            if j is not None:
                removed.append(j)
        return removed

    def finish(self, job: Job, state: str) -> None:
        with self._cv:
            self._finish_locked(job, state)

    def _finish_locked(self, job: Job, state: str) -> None:
        job.state = state
        job.finished = time.monotonic()
        self.jobs.pop(job.id, None)
        if state == "done":
            self.done += 1
        elif state == "cancelled":
            self.cancelled += 1
        else:
            self.failed += 1

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def snapshot(self) -> dict[str, Any]:
        with self._cv:
            return {
                "queued": len(self._q),
                "running": sum(1 for j in self.jobs.values() if j.state == "running"),
                "done": self.done,
                "failed": self.failed,
                "cancelled": self.cancelled,
                "max_queued": self.max_queued,
                "jobs": [j.describe() for j in self.jobs.values()],
            }


class Worker(threading.Thread):
    """Runs jobs from the queue on one device until the queue is closed."""

    #: progress messages are throttled to this many per second (previews are bigger).
    PROGRESS_HZ = 10.0

    def __init__(self, queue: JobQueue, device: str, send: SendFn) -> None:
        super().__init__(name=f"worker-{device}", daemon=True)
        self.queue = queue
        self.device = device
        self.send = send
        self.current: Job | None = None
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        registry.set_device(self.device)
        while not self._halt.is_set():
            job = self.queue.take()
            if job is None:
                continue
            self.current = job
            job.device = self.device
            try:
                self._run(job)
            finally:
                self.current = None

    def _run(self, job: Job) -> None:
        last = [0.0]

        def progress(fraction: float, stage: str = "", preview: Any = None) -> None:
            now = time.monotonic()
            # a preview is never dropped (the ops send one about a second at most)
            if preview is None and now - last[0] < 1.0 / self.PROGRESS_HZ and fraction < 1.0:
                return
            last[0] = now
            self.send(job, Kind.PROGRESS, (float(fraction), str(stage), preview))

        try:
            if job.cancel.is_set():
                raise Cancelled(job.cancel_reason)
            result = job.spec.fn(job.images, job.params, progress, job.cancel.is_set)
            if not isinstance(result, Result):
                raise Internal(f"Op '{job.spec.name}' returned {type(result).__name__}.")
            if job.cancel.is_set():
                raise Cancelled(job.cancel_reason)
        except Cancelled:
            self.queue.finish(job, "cancelled")
            self.send(job, Kind.ERROR, Cancelled(job.cancel_reason))
            return
        except DarkroomError as e:
            log.info("job %s (%s) failed: %s", job.id, job.spec.name, e)
            self.queue.finish(job, "failed")
            self.send(job, Kind.ERROR, e)
            return
        except MemoryError:
            log.exception("job %s ran out of memory", job.id)
            self.queue.finish(job, "failed")
            self.send(job, Kind.ERROR, Internal("The backend ran out of memory for this job; "
                                             "try a smaller image or quality setting."))
            return
        except Exception as e:  # a bug: the log keeps the traceback, the user a sentence
            log.error("job %s (%s) crashed:\n%s", job.id, job.spec.name, traceback.format_exc())
            self.queue.finish(job, "failed")
            self.send(job, Kind.ERROR, Internal(
                f"The backend hit an internal error in '{job.spec.name}' "
                f"({type(e).__name__}); details are in the daemon's log."))
            return
        self.queue.finish(job, "done")
        self.send(job, Kind.RESULT, result)
