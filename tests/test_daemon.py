"""The daemon end to end over real sockets (ipc and tcp) in a private DARKROOM_HOME."""

from __future__ import annotations

import os
import stat
import threading
import time

import numpy as np
import pytest

from darkroom.errors import (
    BackendUnavailable,
    Busy,
    Cancelled,
    InvalidInput,
    InvalidParameter,
    UnknownOp,
)
from darkroom.wire import Message, Session, WireImage, new_key


def _img(h: int = 48, w: int = 64, c: int = 4, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        return rng.random((h, w, c), dtype=np.float32)
    return rng.integers(0, np.iinfo(dtype).max, (h, w, c), dtype=dtype)


@pytest.mark.parametrize("bind", [None, "tcp"], ids=["ipc", "tcp"])
def test_echo_round_trip(make_daemon, bind) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon(bind=bind)
    assert d.daemon.endpoint.startswith("ipc://" if bind is None else "tcp://127.0.0.1:")
    with d.client() as c:
        assert c.ping()["protocol"] == 1
        sent = [_img(dtype=np.uint8), _img(c=1, dtype=np.uint16), _img(c=3, dtype=np.float32)]
        wire = [WireImage.from_numpy(a, name=f"L{i}", offset=(i, 2 * i)) for i, a in
                enumerate(sent)]
        images, meta = c.run("debug.echo", wire, {"tag": "hello"}, timeout=30)
    assert meta["tag"] == "hello"
    for a, got, i in zip(sent, images, range(3)):
        np.testing.assert_array_equal(got.to_numpy(), a)
        assert got.name == f"L{i}" and got.offset == (i, 2 * i)


def test_ipc_socket_and_runtime_dir_are_private(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    sock = d.daemon.endpoint[len("ipc://"):]
    assert stat.S_IMODE(os.stat(os.path.dirname(sock)).st_mode) == 0o700
    assert stat.S_IMODE(d.daemon.paths.connection_file.stat().st_mode) == 0o600


def test_progress_then_result(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    with d.client() as c:
        job = c.submit("debug.echo", [], {"delay": 0.6})
        events = list(job.events(timeout=30))
    kinds = [e.type for e in events]
    assert kinds[-1] == "result" and kinds.count("progress") >= 3
    fractions = [e.fraction for e in events if e.type == "progress"]
    assert fractions == sorted(fractions)


def test_errors_name_the_problem_and_daemon_keeps_serving(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    with d.client() as c:
        with pytest.raises(UnknownOp, match="no op named 'nope'"):
            c.run("nope", [], {}, timeout=10)
        with pytest.raises(InvalidParameter, match="delay") as e:
            c.run("debug.echo", [], {"delay": "slow"}, timeout=10)
        assert e.value.field == "delay"
        with pytest.raises(InvalidParameter, match="no parameter 'bogus'"):
            c.run("debug.echo", [], {"bogus": 1}, timeout=10)
        with pytest.raises(InvalidParameter, match="at most"):
            c.run("debug.echo", [], {"delay": 1e9}, timeout=10)
        nan = WireImage.from_numpy(np.full((4, 4, 3), np.nan, np.float32), name="bad layer")
        with pytest.raises(InvalidInput, match="bad layer.*NaN"):
            c.run("debug.echo", [nan], {}, timeout=10)
        assert c.ping()["version"]


def test_cancel_running_and_queued_jobs(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    with d.client() as c:
        running = c.submit("debug.echo", [], {"delay": 30})
        queued = c.submit("debug.echo", [], {"delay": 30})
        next(iter(running.events()))
        t0 = time.monotonic()
        queued.cancel()
        running.cancel()
        for job in (running, queued):
            with pytest.raises(Cancelled):
                job.wait(timeout=10)
        assert time.monotonic() - t0 < 1.0  # issue 7: cancel is honoured within 1 s
        c.run("debug.echo", [], {}, timeout=10)  # the worker has let go of the running one
        st = c.status()
    assert st["queue"]["cancelled"] == 2 and st["queue"]["running"] == 0


def test_two_clients_get_their_own_results(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    results: dict[int, bool] = {}

    def run(i: int) -> None:
        with d.client() as c:
            for k in range(5):
                a = _img(16, 16, 3, seed=100 * i + k)
                images, meta = c.run("debug.echo", [WireImage.from_numpy(a)], {"tag": f"{i}-{k}"},
                                     timeout=30)
                ok = meta["tag"] == f"{i}-{k}" and np.array_equal(images[0].to_numpy(), a)
                results[i] = results.get(i, True) and ok

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {0: True, 1: True}


def test_disconnected_client_has_its_job_cancelled(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon(client_timeout=1.0)
    c = d.client()
    c.submit("debug.echo", [], {"delay": 60})
    time.sleep(0.3)
    c.close()  # gone without a word: no heartbeats any more
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and d.daemon.queue.cancelled == 0:
        time.sleep(0.1)
    assert d.daemon.queue.cancelled == 1
    with d.client() as c2:  # and the worker is free again
        assert c2.run("debug.echo", [], {"tag": "after"}, timeout=10)[1]["tag"] == "after"


def test_queue_limit_answers_busy(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon(max_queued=1)
    with d.client() as c:
        first = c.submit("debug.echo", [], {"delay": 5})
        next(iter(first.events()))  # running
        c.submit("debug.echo", [], {"delay": 5})  # waits in the queue
        with pytest.raises(Busy, match="busy"):
            c.run("debug.echo", [], {}, timeout=10)


def test_garbage_and_forged_messages_are_dropped_and_counted(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    raw = d.raw_socket()
    forged = Session(new_key()).serialize(Message("request", {"op": "daemon.shutdown"}))
    junk = [[b""], [b"x"], [b"a", b"b", b"c"], [os.urandom(64), os.urandom(300)], forged]
    for frames in junk:
        raw.send_multipart(frames)
    good = Session(d.daemon.key)
    replay = good.serialize(Message("ping"))
    raw.send_multipart(replay)
    raw.send_multipart(replay)
    assert raw.poll(5000)  # the genuine ping is answered…
    raw.recv_multipart()
    time.sleep(0.3)
    assert not raw.poll(200)  # …its replay is not, nor is anything else
    raw.close()
    with d.client() as c:
        st = c.status()
        assert c.ping()
    assert st["rejected"] == len(junk) + 1
    assert not d.daemon._stop.is_set()  # the forged shutdown was not executed


def test_signed_but_malformed_request_gets_an_error_reply(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    raw = d.raw_socket()
    s = Session(d.daemon.key)
    hb = b'{"v": 1, "type": "request", "id": "0123456789abcdef", "ts": 1e18}'
    raw.send_multipart([s.sign(hb), hb])  # signed, but outside the replay window: dropped
    hb = b'[1, 2, 3]'
    raw.send_multipart([s.sign(hb), hb])  # signed, not an object: error reply
    assert raw.poll(5000)
    reply = s.deserialize(raw.recv_multipart())
    assert reply.type == "error" and reply.header["error"]["code"] == "protocol"
    raw.close()


def test_second_instance_is_refused(make_daemon) -> None:  # type: ignore[no-untyped-def]
    from darkroom.server import AlreadyRunning, Daemon, ServerConfig

    d = make_daemon()
    with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
        Daemon(ServerConfig(device="cpu"), d.daemon.paths).start()
    with d.client() as c:  # the first one is untouched
        assert c.ping()


def test_client_reports_missing_backend(darkroom_home) -> None:  # type: ignore[no-untyped-def]
    from darkroom.client import Client

    with pytest.raises(BackendUnavailable, match="not running"):
        Client.connect(timeout=1)


def test_non_loopback_tcp_needs_explicit_permission(darkroom_home) -> None:  # type: ignore[no-untyped-def]
    from darkroom.errors import BadRequest
    from darkroom.server import Daemon, ServerConfig

    with pytest.raises(BadRequest, match="allow-remote"):
        Daemon(ServerConfig(device="cpu", bind="tcp://0.0.0.0:0")).start()


def test_a_client_busy_reading_progress_still_counts_as_alive(make_daemon) -> None:  # type: ignore[no-untyped-def]
    """A job that streams progress for longer than client_timeout is not cancelled."""
    d = make_daemon(client_timeout=1.5)
    with d.client(heartbeat=0.3) as c:
        images, meta = c.run("debug.echo", [], {"delay": 4.0, "tag": "long"}, timeout=30)
    assert meta["tag"] == "long"


def test_a_request_over_the_limits_is_answered_at_once(make_daemon) -> None:  # type: ignore[no-untyped-def]
    """The error reply names the request, so the client hears it instead of timing out."""
    from darkroom.errors import TooLarge
    from darkroom.wire import Limits

    d = make_daemon(limits=Limits(max_pixels=100))
    with d.client() as c:
        t0 = time.monotonic()
        with pytest.raises(TooLarge, match="megapixels|limit"):
            c.run("debug.echo", [WireImage.from_numpy(_img(11, 11, 3))], {}, timeout=20)
        assert time.monotonic() - t0 < 5
        assert c.ping()


def test_a_client_that_never_reads_cannot_freeze_the_daemon(make_daemon) -> None:  # type: ignore[no-untyped-def]
    """Thousands of pings, replies never read: the daemon drops what it cannot deliver
    (its pipe to that client is full) instead of blocking, and others are still served."""
    import zmq

    d = make_daemon()
    raw = d.raw_socket()
    s = Session(d.daemon.key)
    sent = 0
    for _ in range(6000):
        try:
            raw.send_multipart(s.serialize(Message("ping")), flags=zmq.NOBLOCK)
            sent += 1
        except zmq.Again:  # the daemon's inbound pipe is full: it stopped reading
            time.sleep(0.01)
    with d.client() as c:
        t0 = time.monotonic()
        assert c.ping(timeout=5)
        assert time.monotonic() - t0 < 5
        st = c.status()
    raw.close()
    assert sent > 4000 and st["dropped_replies"] > 0


def _stubborn(images, params, progress, cancelled):  # type: ignore[no-untyped-def]
    """An op that checks for cancel only every 2.5 s (like a long solver step)."""
    from darkroom.errors import check_cancel
    from darkroom.ops.registry import Result

    for _ in range(4):
        time.sleep(2.5)
        progress(0.5, "thinking")
        check_cancel(cancelled)
    return Result(meta={"finished": True})


def test_cancel_is_answered_within_a_second_even_if_the_op_checks_rarely(make_daemon, test_op) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    test_op("test.stubborn", _stubborn)  # checks cancel rarely
    with d.client() as c:
        job = c.submit("test.stubborn", [], {})
        next(iter(job.events()))  # queued → running
        time.sleep(0.3)
        t0 = time.monotonic()
        job.cancel()
        job.cancel()  # twice: still one answer
        with pytest.raises(Cancelled):
            job.wait(timeout=10)
        assert time.monotonic() - t0 < 1.0
        # Nothing more for that job ever arrives (no late progress, no result)…
        after = c.submit("debug.echo", [], {"tag": "after"})
        assert after.wait(timeout=20)[1]["tag"] == "after"  # …and the worker comes back
        assert job.id not in c._inbox
        st = c.status()
    assert st["queue"]["cancelled"] == 1 and st["queue"]["done"] == 1
