"""Remote studio mode (CurveZMQ + ZAP allow-list), on loopback only: a listed client key
works, an unknown one or a plain (unencrypted) client is refused with a sentence, revoking
takes effect, remote clients cannot stop the daemon; keys are owner-only; plain TCP on a
non-loopback address warns."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import zmq

from darkroom import remote
from darkroom.connection import read_connection_file
from darkroom.errors import BackendUnavailable, BadRequest
from darkroom.wire import WireImage


def _client(info: dict, **kw):  # type: ignore[no-untyped-def]
    from darkroom.client import Client

    kw.setdefault("timeout", 3.0)
    kw.setdefault("retries", 1)
    return Client(info, **kw)


@pytest.fixture
def studio(make_daemon):  # type: ignore[no-untyped-def]
    d = make_daemon(bind="tcp", curve=True)
    assert d.daemon.router.mechanism == zmq.CURVE
    return d


def test_listed_client_works_and_unknown_keys_are_refused(studio) -> None:  # type: ignore[no-untyped-def]
    where = studio.daemon.paths
    laptop = read_connection_file(remote.add_client(where, "laptop", studio.daemon.endpoint))
    with _client(laptop) as c:
        a = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
        images, meta = c.run("debug.echo", [WireImage.from_numpy(a)], {"tag": "studio"},
                             timeout=20)
        assert meta["tag"] == "studio" and np.array_equal(images[0].to_numpy(), a)

    public, secret = zmq.curve_keypair()  # a stranger who even knows the HMAC key
    stranger = {**laptop, "curve": {**laptop["curve"], "public_key": public.decode(),
                                    "secret_key": secret.decode()}}
    with _client(stranger) as c, pytest.raises(BackendUnavailable, match="refused this machine"):
        c.ping()
    plain = {k: v for k, v in laptop.items() if k != "curve"}  # no encryption at all
    with _client(plain) as c, pytest.raises(BackendUnavailable):
        c.ping()

    assert remote.revoke_client(where, "laptop")
    with _client(laptop) as c, pytest.raises(BackendUnavailable, match="refused"):
        c.ping()
    with studio.client() as c:  # the daemon's own user still gets in, and sees the count
        st = c.status()
    assert st["curve"] is True and st["refused_keys"] >= 2


def test_remote_clients_cannot_stop_the_daemon(studio) -> None:  # type: ignore[no-untyped-def]
    info = read_connection_file(remote.add_client(studio.daemon.paths, "intern",
                                                  studio.daemon.endpoint))
    with _client(info) as c, pytest.raises(BadRequest, match="own user"):
        c.shutdown()
    assert not studio.daemon._stop.is_set()


def test_keys_are_owner_only_and_survive_restarts(studio) -> None:  # type: ignore[no-untyped-def]
    where = studio.daemon.paths
    out = remote.add_client(where, "desk", "tcp://127.0.0.1:5555")
    d = remote.folder(where)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for f in (d / "server.key_secret", d / "session.key", out):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    info = read_connection_file(out)
    assert info["key"] == studio.daemon.key.decode()  # the persistent session key
    assert info["curve"]["server_key"] == remote.server_keys(where)[0].decode()
    with pytest.raises(BadRequest, match="client name"):
        remote.add_client(where, "../evil", "tcp://127.0.0.1:5555")


def test_curve_needs_tcp(darkroom_home) -> None:  # type: ignore[no-untyped-def]
    from darkroom.server import Daemon, ServerConfig

    with pytest.raises(BadRequest, match="--bind tcp"):
        Daemon(ServerConfig(device="cpu", curve=True)).start()


def test_plain_tcp_beyond_loopback_warns(make_daemon, caplog) -> None:  # type: ignore[no-untyped-def]
    """127.0.0.2 is on this machine but not 'localhost': it stands in for a LAN address."""
    with caplog.at_level(logging.WARNING, logger="darkroom.server"):
        d = make_daemon(bind="tcp://127.0.0.2:0", allow_remote=True)
    text = caplog.text
    assert "reachable from other machines" in text and "--curve" in text
    with d.client() as c:
        assert c.ping()


def test_keys_command(darkroom_home) -> None:  # type: ignore[no-untyped-def]
    r = subprocess.run([sys.executable, "-m", "darkroom", "keys", "--client", "laptop",
                        "--endpoint", "tcp://127.0.0.1:5555"], capture_output=True, text=True,
                       timeout=60, env=os.environ.copy())
    assert r.returncode == 0, r.stderr
    assert "remote-laptop.json" in r.stdout and "DARKROOM_CONNECTION" in r.stdout
    r = subprocess.run([sys.executable, "-m", "darkroom", "keys"], capture_output=True,
                       text=True, timeout=60, env=os.environ.copy())
    assert "allowed clients    laptop" in r.stdout


def test_remote_clients_name_paths_only_under_listed_folders(studio, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A listed client may use the GPU, not index or read the whole server's disk."""
    where = studio.daemon.paths
    photos = tmp_path / "shared-photos"
    photos.mkdir()
    info = read_connection_file(remote.add_client(where, "laptop", studio.daemon.endpoint))
    with _client(info) as c:
        for params in ({"folders": ["/"]}, {"folders": [str(photos)]},
                       {"folders": [str(photos / ".." / "..")]}):
            with pytest.raises(BadRequest, match="only name paths under") as e:
                c.run("sketch.index", [], params, timeout=20)
            assert e.value.field == "folders"
        (remote.folder(where) / "paths").write_text(f"# photo folders\n{photos}\n")
        with pytest.raises(BadRequest, match="outside"):  # still not its parent
            c.run("sketch.index", [], {"folders": [str(photos / "..")]}, timeout=20)
        with pytest.raises(BadRequest, match="outside"):  # nor an index file elsewhere
            c.run("sketch.search", [], {"index": str(tmp_path / "i.sqlite")}, timeout=20)
        from darkroom.errors import InvalidInput

        with pytest.raises(InvalidInput, match="takes 1"):  # inside: past the path check
            c.run("sketch.search", [], {"index": str(photos / "i.sqlite")}, timeout=20)
    assert remote.allowed_roots(where) == [photos.resolve()]
