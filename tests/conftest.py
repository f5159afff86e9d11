"""Shared fixtures: a private DARKROOM_HOME, an in-process daemon, the shared data folder."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (real test data); tests using it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def darkroom_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh DARKROOM_HOME with a short path (ipc socket paths are limited to ~100 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="dr-"))
    monkeypatch.setenv("DARKROOM_HOME", str(d))
    yield d
    shutil.rmtree(d, ignore_errors=True)


class RunningDaemon:
    """A daemon serving from a thread of the test process."""

    def __init__(self, config) -> None:  # type: ignore[no-untyped-def]
        from darkroom.config import paths
        from darkroom.server import Daemon

        self.daemon = Daemon(config, paths())
        self.daemon.start()
        self.thread = threading.Thread(target=self.daemon._loop, daemon=True)
        self.thread.start()

    def client(self, **kw):  # type: ignore[no-untyped-def]
        from darkroom.client import Client
        from darkroom.connection import read_connection_file

        return Client(read_connection_file(self.daemon.paths.connection_file), **kw)

    def raw_socket(self):  # type: ignore[no-untyped-def]
        """A bare DEALER on the daemon's endpoint: sends whatever frames a test likes."""
        import zmq

        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.daemon.endpoint)
        return sock

    def stop(self) -> None:
        self.daemon.stop()
        self.thread.join(10)
        self.daemon.close()


@pytest.fixture
def make_daemon(darkroom_home: Path) -> Iterator:  # type: ignore[type-arg]
    """Factory: ``make_daemon(bind=None, **ServerConfig fields)`` → RunningDaemon."""
    from darkroom.server import ServerConfig

    started: list[RunningDaemon] = []

    def make(**kw) -> RunningDaemon:  # type: ignore[no-untyped-def]
        kw.setdefault("device", "cpu")
        d = RunningDaemon(ServerConfig(**kw))
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()


@pytest.fixture
def test_op() -> Iterator[Any]:
    """``test_op(name, fn)`` registers a throw-away op (after the real ones are loaded) for one
    test; every one registered is removed afterwards."""
    from darkroom.ops import registry

    registry.load_all()
    names: list[str] = []

    def add(name: str, fn: Any) -> None:
        registry.register(name, help="(tests only)")(fn)
        names.append(name)

    yield add
    for name in names:
        registry._REGISTRY.pop(name, None)
