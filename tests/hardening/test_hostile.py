"""Signed but hostile messages: a fuzzer that knows the key (the worst case — a buggy or
compromised plugin) sends huge or negative shapes, NaN/inf and overflowing numbers, unknown
ops and types, deeply nested JSON, truncated JSON, wrong buffer counts, bad paths. Each gets
a sentence or nothing; no reply ever carries a traceback or a source path; forged copies are
never executed; the daemon keeps answering ``ping``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from darkroom.wire import Message, Session, WireImage, new_id, new_key

REPO = str(Path(__file__).resolve().parents[2])
#: What must never be in a reply: a traceback, a Python source location, the source tree.
LEAKS = ("Traceback", 'File "', ".py\"", ".py'", ".py,", ".py:", "/backend/darkroom", REPO)

OPS = ["debug.echo", "style.transfer", "relight.render", "sketch.search", "daemon.status",
       "daemon.ops", "nope", "", "debug.", "style.transfer\x00"]


def _nest(depth: int) -> Any:
    v: Any = 1
    for i in range(depth):
        v = [v] if i % 2 else {"a": v}
    return v


numbers = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([1e308, -0.0, 2**63, -1]))
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=4),
    max_leaves=25,
) | st.integers(1, 300).map(_nest)
paths = st.sampled_from(["/", "/etc/passwd", "/dev/zero", "relative/dir", "/no/such/file",
                         "a\x00b", "~", "/proc/self/mem", "x" * 5000])
params = st.one_of(
    st.dictionaries(st.sampled_from(["delay", "tag", "lights", "quality", "size", "k", "index",
                                     "weights", "folders", "mode", "strength", "x" * 300]),
                    json_values | paths | st.lists(paths, max_size=3), max_size=4),
    json_values,
)
dims = st.one_of(st.integers(-5, 5), st.integers(-2**40, 2**40), st.sampled_from([0, 2**31, 1e3]))
descriptor = st.fixed_dictionaries(
    {"shape": st.lists(dims, min_size=0, max_size=4) | json_values,
     "dtype": st.sampled_from(["u8", "u16", "f32", "f64", "", None])},
    optional={"role": st.text(max_size=10) | json_values, "name": st.text(max_size=10),
              "offset": st.lists(dims, max_size=3) | json_values,
              "colorspace": st.sampled_from(["srgb", "linear", "cmyk"]),
              "digest": st.text(max_size=70)},
)
headers = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 1, 1, 2, 0, "1", None]),
     "type": st.sampled_from(["request"] * 4 + ["ping", "cancel", "result", "progress", "x"]),
     "op": st.sampled_from(OPS) | st.text(max_size=300),
     "params": params},
    optional={"buffers": st.lists(descriptor, max_size=3) | json_values,
              "job": st.text(max_size=70) | json_values,
              "digest_alg": st.sampled_from(["sha256", "blake3", "gmac", "md5"])},
)
bodies = st.lists(st.binary(max_size=64), max_size=3)
#: Real little images (and hostile ones: NaN pixels, 1×1) for well-formed requests.
IMAGES = [np.zeros((1, 1, 1), np.uint8), np.full((8, 8, 3), 255, np.uint8),
          np.full((4, 4, 4), np.nan, np.float32), np.ones((2, 3, 2), np.uint16),
          np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)]
roles = st.sampled_from(["input", "content", "style", "stack", "sketch", "mask", "x" * 300])
requests = st.tuples(st.sampled_from(OPS), params,
                     st.lists(st.tuples(st.integers(0, len(IMAGES) - 1), roles,
                                        st.sampled_from(["light 0 0", "light 1 1", "light x y",
                                                         "light 0.5 0.5 @1,1,1", ""])),
                              max_size=4))
huge = st.lists(st.tuples(st.integers(1, 2**40), st.integers(1, 2**40), st.integers(1, 4)),
                min_size=1, max_size=3)


def _frames(session: Session, header: dict[str, Any], bufs: list[bytes], cut: int | None
            ) -> list[bytes]:
    """Sign ``header`` (after giving it a fresh id and time, as a real sender would); with
    ``cut``, sign a truncated header instead (valid signature, broken JSON)."""
    h = {**header, "id": new_id(), "ts": time.time()}
    hb = json.dumps(h, allow_nan=True).encode()  # NaN / Infinity tokens on purpose
    if cut is not None:
        hb = hb[: cut % max(1, len(hb))]
    return [session.sign(hb), hb, *bufs]


def _request(session: Session, op: str, prm: Any, ims: list[tuple[int, str, str]]
             ) -> list[Any]:
    """A well-formed, correctly signed request with real buffers and hostile content."""
    images = [WireImage.from_numpy(IMAGES[i], role=role, name=name) for i, role, name in ims]
    frames = session.serialize(Message("request", {"op": op, "params": {}}, images))
    h = json.loads(frames[1])
    h["params"] = prm
    hb = json.dumps(h, allow_nan=True).encode()
    return [session.sign(hb), hb, *frames[2:]]


def _huge(session: Session, shapes: list[tuple[int, int, int]]) -> list[Any]:
    """Buffers whose declared shapes would need terabytes (one byte actually sent each)."""
    descs = [{"shape": list(s), "dtype": "u8", "digest": "0" * 64} for s in shapes]
    return _frames(session, {"v": 1, "type": "request", "op": "debug.echo", "params": {},
                             "buffers": descs, "digest_alg": "sha256"},
                   [b"x"] * len(shapes), None)


def _replies(sock: zmq.Socket, session: Session, quiet: float = 1.0) -> list[bytes]:
    out: list[bytes] = []
    while sock.poll(int(quiet * 1000)):
        frames = sock.recv_multipart()
        session.deserialize(frames)  # every reply is signed with the daemon's key
        out.append(frames[1])
    return out


def test_signed_hostile_messages_get_sentences_never_tracebacks(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon(max_queued=8)
    sock = d.raw_socket()
    good, forger = Session(d.daemon.key), Session(new_key())
    replies: list[bytes] = []
    sent = {"signed": 0, "forged": 0}

    @settings(max_examples=400, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.integers(0, 2), headers, bodies, st.none() | st.integers(0, 10_000), requests,
           huge)
    def throw(kind: int, header: dict[str, Any], bufs: list[bytes], cut: int | None,
              request: tuple[str, Any, list[tuple[int, str, str]]],
              shapes: list[tuple[int, int, int]]) -> None:
        op, prm, ims = request
        for p in (header.get("params"), prm):
            if isinstance(p, dict):
                p.pop("delay", None)  # a 600 s echo would only slow the test
        if kind == 0:
            sock.send_multipart(_frames(good, header, bufs, cut))
        elif kind == 1:
            sock.send_multipart(_request(good, op, prm, ims))
        else:
            sock.send_multipart(_huge(good, shapes))
        sent["signed"] += 1
        # The same request signed with another key: must never run.
        forged = {"type": "request", "op": "debug.echo", "params": {"tag": "FORGED"}}
        sock.send_multipart(_frames(forger, forged, [], None))
        sent["forged"] += 1
        while sock.poll(0):
            frames = sock.recv_multipart()
            replies.append(frames[1])

    try:
        throw()
        replies.extend(_replies(sock, good))
    finally:
        sock.close()
    assert sent["signed"] >= 300
    assert d.thread.is_alive(), "the daemon's loop died"
    text = b"\n".join(replies).decode("utf-8", "replace")
    leaks = [w for w in LEAKS if w in text]
    assert not leaks, f"replies leak {leaks}"
    assert "FORGED" not in text
    errors = [json.loads(r)["error"] for r in replies if b'"type":"error"' in r]
    codes = {e["code"] for e in errors}
    # The messages reached every layer: framing, limits, the registry, the ops' own checks.
    assert {"protocol", "too_large", "unknown_op", "invalid_parameter", "invalid_input"} <= codes
    assert len(errors) > sent["signed"] // 2  # most hostile messages are answered, with…
    assert all(isinstance(e.get("message"), str) and e["message"][-1] in ".?)'" and e.get("code")
               for e in errors), errors[:5]  # …a code and a sentence
    with d.client() as c:
        st_ = c.status()
        assert c.ping(timeout=10)["protocol"] == 1
    assert st_["rejected"] >= sent["forged"]


def test_error_replies_for_paths_name_the_problem(make_daemon, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Paths in requests are checked before anything runs, with sentences."""
    from darkroom.errors import InvalidParameter, NotFound

    d = make_daemon()
    fifo = tmp_path / "photos.fifo"
    import os

    os.mkfifo(fifo)
    cases = [
        ({"folders": ["relative/photos"]}, InvalidParameter, "absolute path"),
        ({"folders": [str(tmp_path / "missing")]}, NotFound, "does not exist"),
        ({"folders": [str(tmp_path)], "index": str(tmp_path)}, InvalidParameter, "regular file"),
        ({"folders": [str(tmp_path)], "index": str(fifo)}, InvalidParameter, "regular file"),
        ({"folders": ["/tmp\x00/x"]}, InvalidParameter, "control characters"),
        ({"folders": [str(tmp_path)], "index": str(tmp_path / "no" / "i.sqlite")}, NotFound,
         "does not exist"),
    ]
    with d.client() as c:
        for params, err, words in cases:
            try:
                c.run("sketch.index", [], params, timeout=20)
            except err as e:
                assert words in str(e), (params, str(e))
            else:
                raise AssertionError(f"{params} was accepted")
        try:  # the style backbone's weights file: a FIFO would block the worker on open()
            c.run("style.transfer", [], {"backbone": "vgg19", "weights": str(fifo)}, timeout=20)
        except InvalidParameter as e:
            assert "regular file" in str(e) and e.field == "weights"
        else:
            raise AssertionError("a FIFO was accepted as a weights file")
        assert c.ping()
