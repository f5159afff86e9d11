"""The wire codec: round trips, signatures, replays, limits (no sockets involved)."""

from __future__ import annotations

import json
import os
import stat
import time

import numpy as np
import pytest

from darkroom.connection import read_connection_file, write_connection_file
from darkroom.errors import AuthError, ProtocolError, TooLarge
from darkroom.wire import (
    Limits,
    Message,
    Session,
    WireImage,
    new_key,
)

KEY = new_key()


def _arr(dtype: str, c: int, h: int = 7, w: int = 5) -> np.ndarray:
    rng = np.random.default_rng(c)
    if dtype == "u8":
        return rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    if dtype == "u16":
        return rng.integers(0, 65536, (h, w, c), dtype=np.uint16)
    return rng.standard_normal((h, w, c)).astype(np.float32)


@pytest.mark.parametrize("digest", ["gmac", "blake3", "sha256"])
@pytest.mark.parametrize("dtype", ["u8", "u16", "f32"])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_round_trip_every_dtype_and_channel_count(dtype: str, channels: int, digest: str) -> None:
    a = _arr(dtype, channels)
    sender, receiver = Session(KEY, digest=digest), Session(KEY)
    im = WireImage.from_numpy(a, role="content", name="Layer 1", offset=(3, -2),
                              colorspace="linear")
    frames = sender.serialize(Message("request", {"op": "x", "params": {"k": 1}}, [im]))
    msg = receiver.deserialize([bytes(memoryview(f)) for f in frames])
    got = msg.images[0]
    assert got.to_numpy().dtype == a.dtype
    np.testing.assert_array_equal(got.to_numpy(), a)
    assert (got.role, got.name, got.offset, got.colorspace) == ("content", "Layer 1", (3, -2),
                                                               "linear")
    assert msg.header["params"] == {"k": 1}


def test_buffers_are_not_copied_on_send() -> None:
    a = _arr("u8", 4, 64, 64)
    frames = Session(KEY).serialize(Message("result", {"job": "j" * 8},
                                            [WireImage.from_numpy(a)]))
    assert frames[2] is a  # the array itself goes to zmq (zero-copy with copy=False)


def _signed(header: dict, key: bytes = KEY, bufs: tuple = ()) -> list[bytes]:
    s = Session(key)
    hb = json.dumps(header).encode()
    return [s.sign(hb), hb, *bufs]


def _header(**kw) -> dict:  # type: ignore[no-untyped-def]
    h = {"v": 1, "id": os.urandom(8).hex(), "ts": time.time(), "type": "ping"}
    h.update(kw)
    return h


def test_wrong_key_and_missing_signature_are_auth_errors() -> None:
    frames = Session(new_key()).serialize(Message("ping"))
    with pytest.raises(AuthError):
        Session(KEY).deserialize(frames)
    with pytest.raises(AuthError):
        Session(KEY).deserialize([b"", frames[1]])
    with pytest.raises(AuthError):
        Session(KEY).deserialize([b"garbage"])


def test_tampered_header_is_rejected() -> None:
    frames = Session(KEY).serialize(Message("request", {"op": "debug.echo"}))
    frames[1] = frames[1].replace(b"debug.echo", b"debug.ecHo")
    with pytest.raises(AuthError):
        Session(KEY).deserialize(frames)


@pytest.mark.parametrize("digest", ["gmac", "blake3", "sha256"])
def test_tampered_buffer_is_rejected(digest: str) -> None:
    a = _arr("u8", 3)
    frames = Session(KEY, digest=digest).serialize(
        Message("request", {}, [WireImage.from_numpy(a)]))
    bad = bytearray(memoryview(frames[2]).tobytes())
    bad[0] ^= 1
    with pytest.raises(AuthError, match="does not match"):
        Session(KEY).deserialize([frames[0], frames[1], bytes(bad)])


def test_replayed_message_is_rejected() -> None:
    frames = Session(KEY).serialize(Message("ping"))
    rx = Session(KEY)
    rx.deserialize(frames)
    with pytest.raises(AuthError, match="Replayed"):
        rx.deserialize(frames)


def test_old_message_is_rejected() -> None:
    with pytest.raises(AuthError, match="replay window"):
        Session(KEY).deserialize(_signed(_header(ts=time.time() - 3600)))


def test_signed_but_malformed_messages_are_protocol_errors() -> None:
    s = Session(KEY)
    cases = [
        [s.sign(b"{not json"), b"{not json"],
        _signed(_header(v=99)),
        _signed(_header(type="explode")),
        _signed(_header(id=None)),
        _signed(_header(buffers=[{"shape": [1, 1, 1], "dtype": "u8"}])),  # 1 described, 0 sent
        _signed(_header(buffers=[{"shape": [0, 5, 3], "dtype": "u8"}]), bufs=(b"",)),
        _signed(_header(buffers=[{"shape": [1, 1, 9], "dtype": "u8"}]), bufs=(b"x" * 9,)),
        _signed(_header(buffers=[{"shape": [1, 1, 1], "dtype": "f64"}]), bufs=(b"x" * 8,)),
        _signed(_header(buffers=[{"shape": [2, 2, 1], "dtype": "u8"}]), bufs=(b"x" * 3,)),
        _signed(_header(nested=json.loads("[" * 100 + "]" * 100))),
    ]
    for frames in cases:
        with pytest.raises(ProtocolError):
            Session(KEY).deserialize(frames)


def test_huge_declared_shape_is_refused_before_allocating() -> None:
    huge = {"shape": [100_000, 100_000, 4], "dtype": "f32", "digest": "0"}
    with pytest.raises(TooLarge, match="megapixels"):
        Session(KEY).deserialize(_signed(_header(buffers=[huge]), bufs=(b"",)))


def test_message_byte_limit() -> None:
    lim = Limits(max_message_bytes=1000)
    a = WireImage.from_numpy(np.zeros((20, 20, 3), np.uint8))
    frames = Session(KEY).serialize(Message("request", {}, [a]))
    with pytest.raises(TooLarge):
        Session(KEY, limits=lim).deserialize(frames)


def test_serialize_refuses_inconsistent_image() -> None:
    im = WireImage(b"abc", (2, 2, 1), "u8")
    with pytest.raises(ProtocolError, match="needs 4"):
        Session(KEY).serialize(Message("request", {}, [im]))


def test_connection_file_is_owner_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "state" / "connection.json"
    write_connection_file(p, {"endpoint": "ipc:///x", "key": "ab"})
    if os.name == "posix":
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert read_connection_file(p)["endpoint"] == "ipc:///x"
    p.write_text("{oops")
    with pytest.raises(ProtocolError, match="unreadable"):
        read_connection_file(p)


def test_gmac_needs_the_key() -> None:
    """GMAC tags are keyed: a peer with another key cannot forge one even for its own header."""
    a = WireImage.from_numpy(_arr("u8", 3))
    frames = Session(new_key(), digest="gmac").serialize(Message("request", {}, [a]))
    # Re-sign the foreign header with the right key: the buffer tag is still foreign.
    s = Session(KEY)
    frames[0] = s.sign(frames[1])
    with pytest.raises(AuthError, match="does not match"):
        s.deserialize(frames)


def test_replies_use_the_askers_digest() -> None:
    frames = Session(KEY, digest="sha256").serialize(Message("ping"))
    msg = Session(KEY).deserialize(frames)
    assert msg.digest_alg == "sha256"
    reply = Session(KEY).serialize(Message("result", {"job": msg.id}), msg.digest_alg)
    assert json.loads(reply[1])["digest_alg"] == "sha256"


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_are_refused_naming_the_message(token: bytes) -> None:
    """Python's json would read them; JSON has none: refused before any op sees them, and
    the error names the message so the sender's job ends at once."""
    s = Session(KEY)
    hb = (b'{"v": 1, "type": "request", "op": "debug.echo", "id": "0123456789abcdef", '
          b'"ts": %f, "params": {"delay": %s}}' % (time.time(), token))
    with pytest.raises(ProtocolError, match="not a finite number") as e:
        s.deserialize([s.sign(hb), hb])
    assert e.value.reply_to == "0123456789abcdef"  # type: ignore[attr-defined]
