"""The client the plugins and ``--remote`` use. Stdlib + pyzmq; numpy optional; no torch.

::

    c = Client.connect(autostart=True)          # reads the connection file, starts the daemon
    job = c.submit("style.transfer", [content, style], {"mode": "photo"})
    for ev in job.events():                     # progress…, then one result or error
        if ev.type == Kind.PROGRESS:
            show(ev.fraction, ev.stage)
    images, meta = job.wait()

Waiting is Lazy-Pirate style (zguide): pings time out, the socket is closed with LINGER 0 and
reopened, a few retries, then a sentence saying the backend is not there. While a job runs
the client pings every ``heartbeat`` seconds of silence, so a dead daemon is noticed within
``timeout`` and the daemon knows the client is still there.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from darkroom.config import installed, paths
from darkroom.connection import read_connection_file
from darkroom.errors import BackendUnavailable, DarkroomError, ProtocolError, from_wire
from darkroom.wire import (
    DEFAULT_LIMITS,
    Kind,
    Limits,
    Message,
    Session,
    WireImage,
)

__all__ = ["Client", "Event", "Job", "WireImage", "start_backend"]


@dataclass
class Event:
    """One message about a job: ``progress`` (fraction 0–1, stage text, optional preview),
    then ``result`` (images, meta) or ``error`` (a :class:`DarkroomError`)."""

    type: str
    job: str
    fraction: float = 0.0
    stage: str = ""
    preview: WireImage | None = None
    images: list[WireImage] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    error: DarkroomError | None = None


class Job:
    """A submitted job. Iterate :meth:`events`, or call :meth:`wait`."""

    def __init__(self, client: Client, job_id: str, op: str) -> None:
        self.client = client
        self.id = job_id
        self.op = op
        self.final: Event | None = None

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Yield events until the result or error (``timeout``: give up after that many
        seconds in all, with :class:`BackendUnavailable`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.final is None:
            ev = self.client._next_event(self.id, deadline)
            if ev.type in (Kind.RESULT, Kind.ERROR):
                self.final = ev
            yield ev

    def wait(self, timeout: float | None = None) -> tuple[list[WireImage], dict[str, Any]]:
        """Block until done; return (images, meta) or raise the job's error."""
        for _ in self.events(timeout):
            pass
        assert self.final is not None
        if self.final.error is not None:
            raise self.final.error
        return self.final.images, self.final.meta

    def cancel(self) -> None:
        """Ask the daemon to cancel; the job then ends with a ``cancelled`` error event."""
        if self.final is None:
            self.client._send(Message(Kind.CANCEL, {"job": self.id}))


class Client:
    def __init__(
        self,
        info: dict[str, Any],
        *,
        timeout: float = 10.0,
        retries: int = 3,
        heartbeat: float = 2.0,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.endpoint = str(info["endpoint"])
        self.curve = info.get("curve")  #: CurveZMQ keys (remote studio mode) or None
        self.session = Session(str(info["key"]).encode("ascii"), limits=limits)
        self.timeout = timeout
        self.retries = retries
        self.heartbeat = heartbeat
        self.identity = uuid.uuid4().hex.encode()
        self.ctx = zmq.Context.instance()
        self.sock: zmq.Socket | None = None
        self._monitor: zmq.Socket | None = None
        self._inbox: dict[str, collections.deque[Message]] = collections.defaultdict(
            collections.deque
        )
        self._heartbeats: set[str] = set()  #: ids of heartbeat pings not yet answered
        self._last_heard = 0.0
        self._last_ping = time.monotonic()  #: when this client last proved it is alive
        self._open()

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def connect(
        cls,
        connection_file: str | os.PathLike[str] | None = None,
        *,
        autostart: bool = False,
        timeout: float = 10.0,
        start_timeout: float = 120.0,
        **kw: Any,
    ) -> Client:
        """Connect to the running daemon (and check it answers). With ``autostart``, start
        one when none answers and wait up to ``start_timeout`` seconds for it.

        The connection file is ``connection_file``, else ``$DARKROOM_CONNECTION`` (a remote
        daemon's file: never autostarted here), else the local daemon's."""
        if not connection_file and os.environ.get("DARKROOM_CONNECTION"):
            connection_file = os.environ["DARKROOM_CONNECTION"]
            autostart = False  # a remote daemon is not ours to start
        path = Path(connection_file) if connection_file else paths().connection_file
        try:
            client = cls(read_connection_file(path), timeout=timeout, **kw)
            client.ping()
            return client
        except (FileNotFoundError, BackendUnavailable, ProtocolError) as e:
            if not autostart:
                if isinstance(e, FileNotFoundError):
                    raise BackendUnavailable(
                        "The Neural Darkroom backend is not running. Start it with "
                        "'darkroom serve' (or let the plugin start it)."
                    ) from None
                raise
            try:
                client.close()  # type: ignore[possibly-undefined]
            except Exception:
                pass
        proc = start_backend()
        deadline = time.monotonic() + start_timeout
        exited_at: float | None = None
        while True:
            try:
                client = cls(read_connection_file(path), timeout=min(timeout, 5.0), **kw)
                client.ping()
                client.timeout = timeout
                return client
            except (FileNotFoundError, BackendUnavailable, ProtocolError):
                try:
                    client.close()
                except Exception:
                    pass
                now = time.monotonic()
                if exited_at is None and proc.poll() is not None:
                    exited_at = now  # another instance may still be coming up: a moment's grace
                if exited_at is not None and now - exited_at > 5.0:
                    raise BackendUnavailable(_exited_message(proc)) from None
                if now > deadline:
                    raise BackendUnavailable(
                        f"The Neural Darkroom backend did not start within {start_timeout:.0f} s. "
                        f"What it printed is in {start_log()}; try 'darkroom serve' in a terminal."
                    ) from None
                time.sleep(0.5)

    def _open(self) -> None:
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.IDENTITY, self.identity)
        if self.curve is not None:
            try:
                from darkroom.remote import secure_client
            except ImportError:  # pragma: no cover - a plugin copy without remote.py
                raise BackendUnavailable("This copy of the plugin cannot use remote studio "
                                         "mode; reinstall it with 'python install.py'.") from None
            secure_client(self.sock, self.curve)
            # A refused key shows only as a failed handshake: watch for it, to say so.
            self._monitor = self.sock.get_monitor_socket(
                zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
                | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        self.sock.connect(self.endpoint)

    def _reopen(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        if self._monitor is not None:
            if self.sock is not None:
                self.sock.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None

    def _refused(self) -> bool:
        """Did the CurveZMQ handshake fail (unknown or wrong key)?"""
        mon = self._monitor
        refused = False
        while mon is not None and mon.poll(0):
            mon.recv_multipart()
            refused = True
        return refused

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- calls ------------------------------------------------------------------------------
    def ping(self, timeout: float | None = None) -> dict[str, Any]:
        """Version and devices of the daemon. Lazy Pirate: retry on a fresh socket, then
        raise :class:`BackendUnavailable`."""
        t = self.timeout if timeout is None else timeout
        for _attempt in range(max(1, self.retries)):
            msg = Message(Kind.PING)
            self._send(msg)
            until = time.monotonic() + t / max(1, self.retries)
            reply = None
            while reply is None and time.monotonic() < until:
                # Short slices: a refused CurveZMQ key is known at once, no need to time out.
                reply = self._wait_for(msg.id, min(until, time.monotonic() + 0.2))
                if reply is None and self._monitor is not None and self._monitor.poll(0):
                    break
            if reply is not None:
                return self._unwrap(reply).meta
            if self._refused():
                raise BackendUnavailable(
                    f"The backend at {self.endpoint} refused this machine's key (remote studio "
                    "mode): ask its owner to run 'darkroom keys --client NAME' and use the "
                    "connection file that makes.")
            self._reopen()
        raise BackendUnavailable(
            f"The Neural Darkroom backend does not answer at {self.endpoint}. "
            "Is it running? Start it with 'darkroom serve'."
        )

    def status(self) -> dict[str, Any]:
        return self._call("daemon.status")

    def ops(self) -> list[dict[str, Any]]:
        return list(self._call("daemon.ops").get("ops", []))

    def shutdown(self) -> None:
        self._call("daemon.shutdown")

    def submit(self, op: str, images: list[WireImage], params: dict[str, Any] | None = None) -> Job:
        """Send a request; return its :class:`Job` (events and result come later)."""
        msg = Message(Kind.REQUEST, {"op": op, "params": params or {}}, list(images))
        self._send(msg)
        return Job(self, msg.id, op)

    def run(self, op: str, images: list[WireImage], params: dict[str, Any] | None = None,
            timeout: float | None = None) -> tuple[list[WireImage], dict[str, Any]]:
        """Submit and wait (no progress)."""
        return self.submit(op, images, params).wait(timeout)

    def as_completed(self, jobs: list[Job], timeout: float | None = None) -> Iterator[Job]:
        """Yield ``jobs`` as their result or error arrives (arrival order), each once; its
        :attr:`Job.final` holds the final event. For a batch submitted without waiting:
        progress is skipped, heartbeats keep the daemon from cancelling a patient client.
        ``timeout`` bounds the whole batch (:class:`BackendUnavailable` after it)."""
        pending = {j.id: j for j in jobs if j.final is None}
        for j in jobs:
            if j.final is not None:
                yield j
        deadline = None if timeout is None else time.monotonic() + timeout
        last_heard = time.monotonic()
        while pending:
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise BackendUnavailable(f"Gave up waiting for {len(pending)} job(s).")
            if now - self._last_ping > self.heartbeat:
                ping = Message(Kind.PING)
                self._send(ping)
                self._heartbeats.add(ping.id)
            if self._recv(now + 0.25):
                last_heard = time.monotonic()
            elif time.monotonic() - max(last_heard, self._last_heard) > self.timeout:
                raise BackendUnavailable("The backend stopped answering while running the jobs.")
            for jid in [k for k in pending if k in self._inbox]:
                q = self._inbox[jid]
                while q:
                    msg = q.popleft()
                    if msg.type in (Kind.RESULT, Kind.ERROR):
                        job = pending.pop(jid)
                        job.final = self._unwrap(msg)
                        q.clear()
                        yield job
                        break
                self._inbox.pop(jid, None)

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, op: str) -> dict[str, Any]:
        msg = Message(Kind.REQUEST, {"op": op, "params": {}})
        self._send(msg)
        reply = self._wait_for(msg.id, time.monotonic() + self.timeout)
        if reply is None:
            raise BackendUnavailable(f"The backend did not answer '{op}' within {self.timeout} s.")
        ev = self._unwrap(reply)
        if ev.error is not None:  # e.g. a remote client asking to stop the daemon
            raise ev.error
        return ev.meta

    def _send(self, msg: Message) -> None:
        if self.sock is None:
            raise BackendUnavailable("This connection to the backend is closed.")
        self.sock.send_multipart(self.session.serialize(msg), copy=False)
        self._last_ping = time.monotonic()  # any message proves this client is alive

    def _recv(self, until: float) -> bool:
        """Receive one message into the inbox; False on timeout."""
        assert self.sock is not None
        wait_ms = max(0, int((until - time.monotonic()) * 1000))
        if not self.sock.poll(wait_ms, zmq.POLLIN):
            return False
        frames = self.sock.recv_multipart(copy=False)
        try:
            msg = self.session.deserialize(frames)
        except DarkroomError:
            return True  # a message we cannot trust is ignored, never acted on
        self._last_heard = time.monotonic()
        if msg.job in self._heartbeats:
            self._heartbeats.discard(msg.job)  # a heartbeat answer: only liveness matters
        else:
            self._inbox[msg.job].append(msg)
        return True

    def _wait_for(self, job: str, until: float) -> Message | None:
        while True:
            q = self._inbox.get(job)
            if q:
                msg = q.popleft()
                if not q:
                    del self._inbox[job]
                return msg
            if time.monotonic() >= until:
                return None
            self._recv(until)

    def _next_event(self, job: str, deadline: float | None) -> Event:
        started = time.monotonic()
        while True:
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise BackendUnavailable("Gave up waiting for the backend's result.")
            # Ping every `heartbeat` seconds whatever we hear: the daemon counts a client as
            # gone when *it* hears nothing, and a job streaming progress keeps us listening,
            # not talking.
            if now - self._last_ping > self.heartbeat:
                ping = Message(Kind.PING)
                self._send(ping)  # the id is assigned when the message is serialised
                self._heartbeats.add(ping.id)
            msg = self._wait_for(job, now + 0.25 if deadline is None else min(now + 0.25, deadline))
            if msg is not None:
                return self._unwrap(msg)
            silent = time.monotonic() - max(self._last_heard, started)
            if silent > self.timeout:
                raise BackendUnavailable(
                    f"The backend stopped answering while running the job (silent for "
                    f"{silent:.0f} s). It may have crashed; see {paths().log_file}."
                )

    def _unwrap(self, msg: Message) -> Event:
        h = msg.header
        if msg.type == Kind.PROGRESS:
            preview = msg.images[0] if msg.images else None
            return Event(Kind.PROGRESS, msg.job, float(h.get("fraction", 0.0)), str(h.get("stage", "")),
                         preview)
        if msg.type == Kind.RESULT:
            meta = h.get("meta") if isinstance(h.get("meta"), dict) else {}
            return Event(Kind.RESULT, msg.job, 1.0, "done", images=msg.images, meta=meta)
        if msg.type == Kind.ERROR:
            return Event(Kind.ERROR, msg.job, error=from_wire(h.get("error")))
        return Event(Kind.ERROR, msg.job, error=ProtocolError(f"Unexpected '{msg.type}' reply."))


def start_log() -> Path:
    """Where an autostarted daemon's own output goes (its log proper is ``daemon.log``)."""
    return paths().state / "daemon-start.log"


def backend_spec() -> tuple[list[str], dict[str, str]]:
    """How to start the daemon: (command, extra environment).

    ``install.py`` records it beside the plugin's vendored client (the editor's Python has no
    torch, so it must start the Python that has) and in ``backend.json`` in the config folder.
    Without either, the daemon can only be started by a Python that has torch: this one, if
    it has; otherwise :class:`BackendUnavailable` says to run ``install.py``.
    """
    for source in (installed().get("backend"), _backend_json()):
        if isinstance(source, dict):
            cmd, env = source.get("command"), source.get("env") or {}
            if isinstance(cmd, list) and cmd and all(isinstance(c, str) for c in cmd) \
                    and isinstance(env, dict):
                return cmd, {str(k): str(v) for k, v in env.items()}
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        return [sys.executable, "-m", "darkroom", "serve"], {}
    raise BackendUnavailable(
        "The plugin does not know how to start the Neural Darkroom backend (no backend.json): "
        "run 'python install.py' again from the Neural Darkroom folder, or start "
        "'darkroom serve' yourself.")


def _backend_json() -> dict[str, Any] | None:
    try:
        data = json.loads((paths().config / "backend.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def start_backend(command: list[str] | None = None) -> subprocess.Popen[bytes]:
    """Start the daemon detached from this process (it outlives the editor's plug-in); its
    output goes to :func:`start_log`, so a daemon that cannot start leaves the reason there."""
    cmd, env = (command, {}) if command else backend_spec()
    kw: dict[str, Any] = {}
    if os.name == "posix":
        kw["start_new_session"] = True
    else:  # pragma: no cover - Windows
        kw["creationflags"] = 0x00000008 | 0x00000200  # DETACHED_PROCESS | NEW_PROCESS_GROUP
    full_env = {**os.environ, **env}
    for var in ("PYTHONHOME", "PYTHONPATH"):  # the editor's Python settings are not torch's
        full_env.pop(var, None)
    log_path = start_log()
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out: Any = open(log_path, "ab")
    except OSError:
        out = subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                close_fds=True, env=full_env, **kw)
    except OSError as e:
        raise BackendUnavailable(
            f"Could not start the backend ({' '.join(cmd)}): {e.strerror}. "
            "Reinstall with 'python install.py' or start 'darkroom serve' yourself."
        ) from None
    finally:
        if out is not subprocess.DEVNULL:
            out.close()


def _exited_message(proc: subprocess.Popen[bytes]) -> str:
    """The sentence for a daemon that exited at once: its exit code and last words."""
    last = ""
    try:
        lines = [ln for ln in start_log().read_text(encoding="utf-8", errors="replace")
                 .splitlines() if ln.strip()]
        last = lines[-1].strip()[:300] if lines else ""
    except OSError:
        pass
    cmd = " ".join(proc.args if isinstance(proc.args, list) else [str(proc.args)])
    said = f" It said: {last}" if last else ""
    return (f"The Neural Darkroom backend exited at once (code {proc.returncode}) when started "
            f"as '{cmd}'.{said} Its output is in {start_log()}.")
