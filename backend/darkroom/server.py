"""The daemon: one ROUTER socket, signed messages, a FIFO job queue, one worker per device.

The main thread owns the socket. It checks every message (see :mod:`darkroom.wire`), answers
pings, status and cancels at once, and queues op requests. Workers serialise their progress,
results and errors themselves (hashing off the main thread) and pass the frames to the main
thread over an inproc socket, which forwards them to the right client.

Unsigned or forged messages are dropped and counted, never parsed or executed; signed but
malformed ones get an ``error`` reply with a code and a sentence; nothing a client sends can
stop the loop. A client that disappears (its socket gone, or silent past ``client_timeout``
while it has jobs) has its jobs cancelled.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import zmq

from darkroom import __version__
from darkroom import endpoint as ep
from darkroom.config import Paths, paths, pick_device
from darkroom.connection import daemon_info, remove_if_mine, write_connection_file
from darkroom.endpoint import AlreadyRunning  # noqa: F401  (re-exported)
from darkroom.errors import (
    AuthError,
    BadRequest,
    Cancelled,
    DarkroomError,
    Internal,
    ProtocolError,
)
from darkroom.frames import job_frames, to_image
from darkroom.jobs import Job, JobQueue, Worker
from darkroom.ops import registry
from darkroom.wire import (
    PROTOCOL_VERSION,
    Kind,
    Limits,
    Message,
    Session,
    new_key,
)

log = logging.getLogger("darkroom.server")

#: Requests the server answers itself, without queueing.
BUILTIN_OPS = ("daemon.status", "daemon.ops", "daemon.shutdown")


@dataclass
class ServerConfig:
    device: str = "auto"
    bind: str | None = None  #: None: ipc on POSIX, tcp://127.0.0.1:<free> elsewhere
    allow_remote: bool = False  #: bind TCP to a non-loopback address
    max_queued: int = 32
    client_timeout: float = 60.0  #: seconds of silence before a client's jobs are cancelled
    limits: Limits = field(default_factory=Limits)
    curve: bool = False  #: remote studio mode: CurveZMQ + ZAP allow-list (see darkroom.remote)


class Daemon:
    def __init__(self, config: ServerConfig | None = None, where: Paths | None = None) -> None:
        self.config = config or ServerConfig()
        self.paths = (where or paths()).ensure()
        self.ctx = zmq.Context()
        self.curve: Any = None  #: a darkroom.remote.CurveServer in remote studio mode
        if self.config.curve:
            from darkroom import remote

            # Persistent in remote mode: the files handed to clients must outlive restarts.
            self.key = remote.session_key(self.paths)
        else:
            self.key = new_key()
        self.session = Session(self.key, limits=self.config.limits)
        self.queue = JobQueue(self.config.max_queued)
        self.devices = _devices(self.config.device)
        self.workers: list[Worker] = []
        self.endpoint = ""
        self.rejected = 0  #: unsigned, forged, replayed or undecodable messages
        self.errors = 0  #: error replies to signed messages
        self.dropped = 0  #: replies dropped because their client's pipe was full
        self.started = time.time()
        self.last_seen: dict[bytes, float] = {}
        self._stop = threading.Event()
        self._lock = ep.InstanceLock(self.paths)
        self._local = threading.local()
        self._outbox = f"inproc://outbox-{id(self)}"
        self._socket_file: str | None = None
        self._peer = b""  #: CurveZMQ public key of the message being handled (remote mode)
        self._acked: set[str] = set()  #: running jobs already answered 'cancelled'

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Lock, bind, write the connection file, start workers (does not block)."""
        self._lock.acquire()
        try:
            if self.config.curve:
                ep.check_curve_bind(self.config.bind)
                from darkroom import remote

                self.curve = remote.CurveServer(self.ctx, self.paths)
            self.router = self.ctx.socket(zmq.ROUTER)
            if self.curve is not None:
                self.curve.secure(self.router)
            self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)  # unknown peer -> error, not drop
            self.router.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a reconnecting client keeps jobs
            self.router.setsockopt(zmq.LINGER, 0)
            self.router.setsockopt(zmq.MAXMSGSIZE, self.config.limits.max_message_bytes)
            self.endpoint, self._socket_file = ep.bind(
                self.router, self.config.bind, self.paths.runtime,
                allow_remote=self.config.allow_remote, curve=self.curve is not None)
            self.pull = self.ctx.socket(zmq.PULL)
            self.pull.bind(self._outbox)
            write_connection_file(self.paths.connection_file, daemon_info(
                self.endpoint, self.key, PROTOCOL_VERSION, __version__,
                self.curve.local_client() if self.curve is not None else None))
        except BaseException:
            if self.curve is not None:
                self.curve.stop()
            self._lock.release()
            raise
        for dev in self.devices:
            w = Worker(self.queue, dev, self._send_from_worker)
            w.start()
            self.workers.append(w)
        log.info("serving on %s, devices %s, pid %d", self.endpoint, self.devices, os.getpid())

    def serve_forever(self) -> None:
        """Run the loop until SIGTERM/SIGINT, ``daemon.shutdown`` or :meth:`stop`."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self._stop.set())
        try:
            self._loop()
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for job in list(self.queue.jobs.values()):
            self.queue.cancel(job.id, "The backend is shutting down.")
        self.queue.close()
        for w in self.workers:
            w.stop()
        for w in self.workers:
            w.join(timeout=10)
        for sock in ("router", "pull"):
            s = getattr(self, sock, None)
            if s is not None:
                s.close(linger=0)
        if self.curve is not None:
            self.curve.stop()
        self.ctx.term()
        remove_if_mine(self.paths.connection_file)
        if self._socket_file:
            try:
                os.unlink(self._socket_file)
            except OSError:
                pass
        self._lock.release()
        log.info("stopped")

    # -- main loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.pull, zmq.POLLIN)
        next_check = time.monotonic() + 1.0
        while not self._stop.is_set():
            events = dict(poller.poll(200))
            if self.pull in events:
                for _ in range(64):  # drain outgoing first: results unblock clients
                    try:
                        frames = self.pull.recv_multipart(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    self._forward_from_worker(frames)
            if self.router in events:
                for _ in range(64):
                    try:
                        frames = self.router.recv_multipart(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    self._on_frames(frames)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + 1.0
                self._reap_silent_clients()

    def _forward(self, frames: list[Any]) -> None:
        ident = frames[0].bytes
        try:
            # Never block: a client that sends without reading its replies would otherwise
            # fill its pipe and freeze this loop — and every other client with it.
            self.router.send_multipart(frames, copy=False, flags=zmq.NOBLOCK)
        except zmq.Again:
            self.dropped += 1
            if self.dropped & (self.dropped - 1) == 0:  # 1, 2, 4, 8…: a flood stays readable
                log.warning("dropped a reply to a client that does not read them "
                            "(%d so far)", self.dropped)
        except zmq.ZMQError as e:
            if e.errno == zmq.EHOSTUNREACH:
                self._client_gone(ident, "its client disconnected")
            else:
                log.warning("send failed: %s", e)

    def _on_frames(self, frames: list[Any]) -> None:
        if len(frames) < 1:
            return
        ident = frames[0].bytes
        try:
            msg = self.session.deserialize(frames[1:])
        except AuthError as e:
            self.rejected += 1
            # A flood must not flood the log too: the first ten, then at 16, 32, 64…
            level = logging.WARNING if self.rejected <= 10 or \
                self.rejected & (self.rejected - 1) == 0 else logging.DEBUG
            log.log(level, "dropped a message: %s (rejected so far: %d)", e, self.rejected)
            return
        except DarkroomError as e:
            self.rejected += 1
            self.errors += 1
            self._reply_error(ident, getattr(e, "reply_to", None), e)
            return
        except Exception:  # never let a message kill the loop
            self.rejected += 1
            log.exception("undecodable message")
            return
        self.last_seen[ident] = time.monotonic()
        if self.curve is not None:  # the client's public key, as ZAP accepted it
            try:
                self._peer = frames[1].get("User-Id").encode("ascii")
            except Exception:
                self._peer = b""
        try:
            self._dispatch(ident, msg)
        except DarkroomError as e:
            self.errors += 1
            self._reply_error(ident, msg.id, e)
        except Exception:
            self.errors += 1
            log.exception("handling %s failed", msg.type)
            self._reply_error(ident, msg.id, Internal("The backend could not handle that message."))

    def _dispatch(self, ident: bytes, msg: Message) -> None:
        h = msg.header
        if msg.type == Kind.PING:
            self._reply(ident, Message(Kind.RESULT, {"job": msg.id, "meta": self._hello()}),
                        msg.digest_alg)
        elif msg.type == Kind.CANCEL:
            job_id = h.get("job")
            job = self.queue.jobs.get(job_id) if isinstance(job_id, str) else None
            if job is None or job.client != ident:
                raise BadRequest(f"There is no job {str(job_id)[:80]!r} of yours to cancel.",
                                 field="job")
            if job.id in self._acked:
                return  # already answered 'cancelled'; one final answer per job
            removed = self.queue.cancel(job.id, "The job was cancelled.")
            if removed is not None:
                self._send_job(removed, Kind.ERROR, Cancelled("The job was cancelled before it started."))
            else:
                # Running: answer now (the user waits on this), and drop whatever the op still
                # sends; its worker is freed at the op's next cancel check.
                self._acked.add(job.id)
                self._send_job(job, Kind.ERROR, Cancelled("The job was cancelled."))
        elif msg.type == Kind.REQUEST:
            self._request(ident, msg)
        else:
            raise ProtocolError(f"A client may not send '{msg.type}' messages.")

    def _request(self, ident: bytes, msg: Message) -> None:
        op = msg.header.get("op")
        if op in BUILTIN_OPS:
            self._builtin(ident, msg, op)
            return
        spec = registry.get(op)
        params = spec.validate_params(msg.header.get("params"))
        if self.curve is not None and self._peer != self.curve.local_public:
            from darkroom import remote

            remote.check_remote_paths(self.paths, spec, params)
        images = [to_image(w) for w in msg.images]
        spec.validate_images(images)
        if msg.id in self.queue.jobs:
            raise BadRequest("A job with this id is already running.")
        job = Job(msg.id, ident, spec, params, images, digest_alg=msg.digest_alg)
        pos = self.queue.put(job)
        stage = "queued" if pos == 0 else f"queued ({pos} ahead)"
        self._send_job(job, Kind.PROGRESS, (0.0, stage, None))

    def _builtin(self, ident: bytes, msg: Message, op: str) -> None:
        if op == "daemon.status":
            meta = self.status()
        elif op == "daemon.ops":
            meta = {"ops": [s.describe() for s in registry.load_all().values()]}
        else:
            if self.curve is not None and self._peer != self.curve.local_public:
                raise BadRequest("Only the server's own user can stop it (remote clients "
                                 "cannot).")
            meta = {"stopping": True}
            self._stop.set()
        self._reply(ident, Message(Kind.RESULT, {"job": msg.id, "meta": meta}), msg.digest_alg)

    def _hello(self) -> dict[str, Any]:
        return {"version": __version__, "protocol": PROTOCOL_VERSION, "pid": os.getpid(),
                "devices": self.devices}

    def status(self) -> dict[str, Any]:
        return {
            **self._hello(),
            "endpoint": self.endpoint,
            "uptime_s": round(time.time() - self.started, 1),
            "queue": self.queue.snapshot(),
            "rejected": self.rejected,
            "errors": self.errors,
            "dropped_replies": self.dropped,
            "curve": self.curve is not None,
            "refused_keys": self.curve.allow.refused if self.curve is not None else 0,
            "clients": len(self.last_seen),
            "log": str(self.paths.log_file),
        }

    def _reap_silent_clients(self) -> None:
        now = time.monotonic()
        active = {j.client for j in self.queue.jobs.values()}
        for ident, seen in list(self.last_seen.items()):
            if now - seen > self.config.client_timeout:
                if ident in active:
                    self._client_gone(ident, "its client stopped answering")
                self.last_seen.pop(ident, None)

    def _client_gone(self, ident: bytes, why: str) -> None:
        removed = self.queue.cancel_client(ident, f"The job was cancelled: {why}.")
        n = len(removed) + sum(1 for j in self.queue.jobs.values() if j.client == ident)
        if n:
            log.info("cancelled %d job(s): %s", n, why)

    # -- replies ----------------------------------------------------------------------------
    def _reply(self, ident: bytes, msg: Message, digest_alg: str | None = None) -> None:
        self._forward([zmq.Frame(ident), *self.session.serialize(msg, digest_alg)])

    def _reply_error(self, ident: bytes, parent: str | None, err: DarkroomError) -> None:
        header: dict[str, Any] = {"error": err.to_wire()}
        if parent:
            header["job"] = parent
        try:
            self._reply(ident, Message(Kind.ERROR, header))
        except Exception:
            log.exception("could not send an error reply")

    def _send_job(self, job: Job, kind: str, payload: Any) -> None:
        """Send a job's message from the main thread (workers use :meth:`_send_from_worker`)."""
        self._forward([zmq.Frame(job.client), *job_frames(self.session, job, kind, payload)])

    def _send_from_worker(self, job: Job, kind: str, payload: Any) -> None:
        try:
            frames = job_frames(self.session, job, kind, payload)
        except Exception:
            log.exception("could not serialise the %s of job %s", kind, job.id)
            frames = job_frames(self.session, job, Kind.ERROR, Internal(
                "The backend could not send this job's result."))
        self._push([job.client, job.id.encode(), kind.encode(), *frames])

    def _forward_from_worker(self, frames: list[Any]) -> None:
        """``[client, job id, kind, message…]`` from a worker → the client, unless the job was
        already answered (cancelled while running): then dropped, its final one ends that."""
        job_id, kind = frames[1].bytes.decode(), frames[2].bytes.decode()
        if job_id in self._acked:
            if kind in (Kind.RESULT, Kind.ERROR):
                self._acked.discard(job_id)
            return
        self._forward([frames[0], *frames[3:]])

    def _push(self, frames: list[Any]) -> None:
        sock = getattr(self._local, "push", None)
        if sock is None:
            sock = self.ctx.socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 1000)
            sock.connect(self._outbox)
            self._local.push = sock
        sock.send_multipart(frames, copy=False)


def _devices(pref: str) -> list[str]:
    dev = pick_device(pref)
    if dev == "cuda":
        import torch

        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return [dev]
