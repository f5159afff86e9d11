"""Faults: a daemon killed mid-job is reported by the client within its timeout."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from darkroom.errors import BackendUnavailable


def test_daemon_killed_mid_job_is_reported_quickly(darkroom_home) -> None:  # type: ignore[no-untyped-def]
    from darkroom.client import Client

    proc = subprocess.Popen([sys.executable, "-m", "darkroom", "serve", "--device", "cpu"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client = Client.connect(timeout=2)
                break
            except BackendUnavailable:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        client.timeout, client.heartbeat = 3.0, 0.5
        job = client.submit("debug.echo", [], {"delay": 60})
        next(iter(job.events()))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        t0 = time.monotonic()
        with pytest.raises(BackendUnavailable, match="stopped answering"):
            job.wait(timeout=30)
        assert time.monotonic() - t0 < 6  # timeout (3 s) plus one heartbeat, not 30 s
        client.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
