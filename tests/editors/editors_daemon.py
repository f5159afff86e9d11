"""A daemon for the real-editor tests, in a temporary DARKROOM_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def start_daemon(home: Path, *extra: str, env: dict[str, str] | None = None):
    """``python -m darkroom serve`` in DARKROOM_HOME=home (or with ``env`` as given, e.g. a
    user's plain HOME); yields (home, op names), stops it.

    ``--client-timeout 600``: the client only heartbeats when the daemon is silent, so a job
    that streams progress for over a minute (relighting trains on this 2-core CPU) would
    otherwise be reaped as if its client had gone (reported to the lead).
    """
    from darkroom.client import Client

    user_env = env
    env = env or {**os.environ, "DARKROOM_HOME": str(home)}
    log = open(home / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "darkroom", "serve", "--client-timeout", "600",
                             *extra], env=env, stdout=log, stderr=subprocess.STDOUT)
    # DARKROOM_HOME=home puts the connection file here (config.paths); the test process's
    # own environment is left alone so that no other test sees this daemon.
    connection = home.resolve() / "state" / "connection.json"
    if user_env is not None:  # the user's folders, from HOME as the editors compute them
        connection = Path(user_env["HOME"]) / ".local/state/neural-darkroom/connection.json"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                c = Client.connect(connection, timeout=5.0)
                ops = [o["name"] for o in c.ops()]
                c.close()
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip("the daemon did not start: "
                                + (home / "serve.log").read_text()[-400:])
                time.sleep(0.5)
        yield home, ops
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
