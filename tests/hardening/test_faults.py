"""Faults: a daemon killed mid-job is reported by the client within its timeout; a client
killed mid-job has its job cancelled and the worker freed."""

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


def test_client_process_killed_mid_job_frees_the_worker(make_daemon) -> None:  # type: ignore[no-untyped-def]
    """A plug-in process that dies (SIGKILL: no goodbye, no more heartbeats) has its running
    job cancelled once it has been silent for client_timeout; the next client is served."""
    d = make_daemon(client_timeout=1.0)
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from darkroom.client import Client\n"
         "from darkroom.connection import read_connection_file\n"
         "c = Client(read_connection_file(sys.argv[1]))\n"
         "job = c.submit('debug.echo', [], {'delay': 120})\n"
         "next(iter(job.events()))\n"
         "print('running', flush=True)\n"
         "time.sleep(600)\n", str(d.daemon.paths.connection_file)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "running"
        assert d.daemon.queue.snapshot()["running"] == 1
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and d.daemon.queue.cancelled == 0:
            time.sleep(0.1)
        assert d.daemon.queue.cancelled == 1
        with d.client() as c:
            t0 = time.monotonic()
            assert c.run("debug.echo", [], {"tag": "next"}, timeout=10)[1]["tag"] == "next"
            assert time.monotonic() - t0 < 2  # the worker was free, not still sleeping
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
