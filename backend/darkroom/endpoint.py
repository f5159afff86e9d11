"""Where the daemon listens, and that only one daemon runs per user.

* :func:`bind` puts the ROUTER socket on its endpoint: by default an ``ipc://`` socket in the
  0700 runtime folder (POSIX), else loopback TCP; any other TCP address is refused unless the
  user passes ``--allow-remote``, and then warned about (loudly without ``--curve``).
* :class:`InstanceLock` is an exclusive ``flock`` on ``<state>/daemon.lock``: the kernel drops
  it when the process dies, so a SIGKILLed daemon's stale files never block a new one.

Stdlib + pyzmq only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import zmq

from darkroom.config import Paths
from darkroom.connection import read_connection_file
from darkroom.errors import BadRequest, DarkroomError, ProtocolError

log = logging.getLogger("darkroom.server")

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


class AlreadyRunning(DarkroomError):
    code = "already_running"


def check_curve_bind(bind: str | None) -> None:
    """Remote studio mode is for TCP; refuse a combination that would silently not be it."""
    if not (bind or "").startswith("tcp"):
        raise BadRequest("--curve (remote studio mode) needs --bind tcp://HOST:PORT.")


def bind(router: zmq.Socket, bind: str | None, runtime: Path, *, allow_remote: bool,
         curve: bool) -> tuple[str, str | None]:
    """Bind ``router``; return (the endpoint clients connect to, the ipc socket file or None).

    ``bind``: None (ipc on POSIX, loopback TCP elsewhere), ``"tcp"`` (loopback, random port),
    ``tcp://HOST[:PORT]`` or an explicit ``ipc://PATH``. Raises BadRequest for a non-loopback
    host without ``allow_remote``.
    """
    if bind is None:
        if os.name == "posix":
            path = runtime / "darkroom.sock"
            path.unlink(missing_ok=True)  # stale socket of a dead daemon (the caller holds the lock)
            router.bind(f"ipc://{path}")
            os.chmod(path, 0o600)
            return f"ipc://{path}", str(path)
        bind = "tcp://127.0.0.1"
    if bind == "tcp":
        bind = "tcp://127.0.0.1"
    if not bind.startswith("tcp://"):
        router.bind(bind)  # ipc://PATH given explicitly
        return bind, None
    rest = bind[len("tcp://"):]
    if rest.startswith("["):
        host = rest[: rest.index("]") + 1]
        port = rest[len(host) + 1:]
    else:
        host, _, port = rest.partition(":")
    loopback = host in LOOPBACK
    if not loopback and not allow_remote:
        raise BadRequest(
            f"Refusing to listen on {host}: other machines could reach the backend. "
            "Pass --allow-remote if that is really what you want."
        )
    if not loopback:
        log.warning("listening on %s: reachable from other machines", host)
        if not curve:
            log.warning("without --curve, anyone who can read the traffic on the network "
                        "sees the images and the key; use --curve for remote studio mode")
    if host == "[::1]":
        router.setsockopt(zmq.IPV6, 1)
    if port in ("", "*", "0"):
        port = str(router.bind_to_random_port(f"tcp://{host}"))
    else:
        router.bind(f"tcp://{host}:{port}")
    return f"tcp://{host}:{port}", None


class InstanceLock:
    """One daemon per ``DARKROOM_HOME``: an exclusive lock file that holds the owner's pid."""

    def __init__(self, where: Paths) -> None:
        self.paths = where
        self._fd: Any = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyRunning naming the running daemon's pid and endpoint."""
        fd = os.open(self.paths.state / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.name == "posix":
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover - Windows
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            os.close(fd)
            where = "unknown endpoint"
            try:
                info = read_connection_file(self.paths.connection_file)
                where = f"pid {info.get('pid')}, {info.get('endpoint')}"
            except (OSError, ProtocolError):
                pass
            raise AlreadyRunning(
                f"A Neural Darkroom backend is already running for this user ({where}). "
                "Use 'darkroom stop' first, or set DARKROOM_HOME for a separate instance."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
