"""``darkroom serve`` as a real subprocess, driven by the CLI like a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from darkroom.cli import _allow_negative_values


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "darkroom", *args], capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy())


def _wait_until_up(proc: subprocess.Popen, timeout: float = 60) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited: {proc.stderr.read() if proc.stderr else ''}")
        if _cli("ping", "--timeout", "2").returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError("daemon did not answer in time")


def _a_new_daemon_comes_up() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "darkroom", "serve", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_up(proc)
    finally:
        proc.terminate()
        proc.wait(15)


@pytest.fixture
def served(darkroom_home: Path):  # type: ignore[no-untyped-def]
    proc = subprocess.Popen([sys.executable, "-m", "darkroom", "serve", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_up(proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_serve_ping_status_stop(served, darkroom_home) -> None:  # type: ignore[no-untyped-def]
    r = _cli("ping")
    assert r.returncode == 0 and "pong from darkroom" in r.stdout

    # A stream of garbage and unsigned messages…
    info = json.loads((darkroom_home / "state" / "connection.json").read_text())
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(info["endpoint"])
    for i in range(50):
        sock.send_multipart([os.urandom(i % 7 + 1) for _ in range(i % 4 + 1)])
    time.sleep(0.5)
    sock.close()

    # …leaves it answering, with the rejections counted.
    assert _cli("ping").returncode == 0
    st = json.loads(_cli("status", "--json").stdout)
    assert st["running"] and st["rejected"] == 50 and st["devices"] == ["cpu"]
    human = _cli("status").stdout
    assert "rejected     50" in human

    second = _cli("serve", "--device", "cpu", timeout=60)
    assert second.returncode == 1 and "already running" in second.stderr
    assert "Traceback" not in second.stderr

    r = _cli("stop")
    assert r.returncode == 0
    served.wait(15)
    assert served.returncode == 0
    assert not (darkroom_home / "state" / "connection.json").exists()
    r = _cli("ping", "--timeout", "1")
    assert r.returncode == 1 and "not running" in r.stderr and "Traceback" not in r.stderr


def test_sigterm_shuts_down_cleanly_and_a_new_daemon_starts(served, darkroom_home) -> None:  # type: ignore[no-untyped-def]
    served.send_signal(signal.SIGTERM)
    assert served.wait(15) == 0
    _a_new_daemon_comes_up()


def test_stale_files_of_a_killed_daemon_do_not_block(served, darkroom_home) -> None:  # type: ignore[no-untyped-def]
    served.kill()  # SIGKILL: the connection file and socket stay behind
    served.wait(10)
    assert (darkroom_home / "state" / "connection.json").exists()
    r = _cli("ping", "--timeout", "1")
    assert r.returncode == 1 and "does not answer" in r.stderr
    _a_new_daemon_comes_up()


def test_doctor_reports_versions_weights_and_round_trip(darkroom_home) -> None:  # type: ignore[no-untyped-def]
    r = _cli("doctor", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "weights efficientnet_lite0 available" in r.stdout
    assert "4K round trip" in r.stdout and " ms " in r.stdout


def test_negative_numbers_after_options_are_values() -> None:
    argv = ["relight", "stack", "--light", "-0.2,0.1,0.97", "--light", "0.5,0.5", "-o", "x.png"]
    assert _allow_negative_values(argv) == [
        "relight", "stack", "--light=-0.2,0.1,0.97", "--light", "0.5,0.5", "-o", "x.png"]


def test_client_autostarts_the_daemon(darkroom_home) -> None:  # type: ignore[no-untyped-def]
    """What the plugins do when no daemon runs: start one (from backend.json) and wait."""
    from darkroom.client import Client

    cfg = darkroom_home / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "backend.json").write_text(json.dumps(
        {"command": [sys.executable, "-m", "darkroom", "serve", "--device", "cpu"]}))
    try:
        with Client.connect(autostart=True, timeout=5, start_timeout=90) as c:
            assert c.ping()["devices"] == ["cpu"]
            assert any(op["name"] == "debug.echo" for op in c.ops())
    finally:
        assert _cli("stop").returncode == 0


def test_a_backend_that_exits_at_once_is_reported_at_once(darkroom_home) -> None:  # type: ignore[no-untyped-def]
    """A broken backend command (the editor's /usr/bin/python3 has no darkroom): the plugin
    says so within seconds, with the exit code and what it printed, not after two minutes."""
    from darkroom.client import Client, start_log
    from darkroom.errors import BackendUnavailable

    cfg = darkroom_home / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "backend.json").write_text(json.dumps(
        {"command": [sys.executable, "-c", "import sys; print('no module named darkroom'); "
                     "sys.exit(3)"]}))
    with pytest.raises(BackendUnavailable) as e:
        Client.connect(autostart=True, timeout=2, start_timeout=600)
    text = str(e.value)
    assert "exited at once (code 3)" in text and "no module named darkroom" in text
    assert str(start_log()) in text and start_log().exists()
