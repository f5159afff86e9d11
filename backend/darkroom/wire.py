"""The wire protocol, one codec for both sides. Stdlib + pyzmq frames; numpy optional; no torch.

A message is a list of ZeroMQ frames::

    [signature, header, buffer_0, buffer_1, …]

* ``header`` is UTF-8 JSON: ``v`` (protocol version), ``id`` (unique message id), ``ts`` (unix
  time of sending), ``type`` (request / progress / result / error / cancel / ping), and per type:
  ``op``, ``params``, ``job``, ``fraction``, ``stage``, ``meta``, ``error``. ``buffers`` holds one
  descriptor per buffer frame: ``shape`` [H, W, C], ``dtype`` u8/u16/f32, ``role``, ``name``,
  ``offset`` [x, y], ``colorspace`` srgb/linear, ``nbytes`` and ``digest`` (hex), and the header's
  ``digest_alg`` names the digest (``gmac``, ``blake3`` or ``sha256``; see :data:`DIGESTS`).
  A reply uses the algorithm of the message it answers, so a plugin without the fast ones
  still understands the daemon.
* ``signature`` is hex HMAC-SHA256 over the header bytes with the key from the connection file.
  The header carries each buffer's digest, so the signature covers every pixel.
* Buffers are raw little-endian pixels, row-major H×W×C, sent and received without copies
  where pyzmq allows (``copy=False``); the receiver wraps them with ``numpy.frombuffer``.

Verification order matters: the signature is checked before the JSON is parsed (unsigned or
forged messages are dropped, never parsed), then the id against replays, then the descriptors
and limits (before any array is made), then the buffer digests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from darkroom.errors import AuthError, ProtocolError, TooLarge

try:  # BLAKE3 is ~3× faster than SHA-256 on large buffers; the plugins may not have it.
    import blake3 as _blake3
except ImportError:  # pragma: no cover - exercised in the plugins' vendored copy
    _blake3 = None
try:  # AES-GMAC runs at memory speed (AES-NI + carry-less multiply): ~15 GB/s here.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _AESGCM

    # Older releases (Debian 12's 38, which Krita's Python sees) take only bytes, which would
    # cost a copy of every layer: fall back to the digests there.
    _AESGCM(bytes(32)).encrypt(bytes(12), b"", memoryview(b"probe"))
except Exception:  # pragma: no cover - missing, or a release that refuses buffers
    _AESGCM = None

PROTOCOL_VERSION = 1


class Kind(str, Enum):
    """The message kinds (the header's ``type``). A ``str`` enum: it travels as its value."""

    REQUEST = "request"  #: client → daemon: run an op (or a ``daemon.*`` built-in)
    PROGRESS = "progress"  #: daemon → client: fraction, stage, optional preview
    RESULT = "result"  #: daemon → client: the job's images and meta (also ping's answer)
    ERROR = "error"  #: daemon → client: the job's error, as a sentence and a code
    CANCEL = "cancel"  #: client → daemon: cancel a job by id
    PING = "ping"  #: client → daemon: are you there (answered with a result)

    def __str__(self) -> str:
        return self.value


MESSAGE_TYPES = tuple(k.value for k in Kind)
DTYPES: dict[str, int] = {"u8": 1, "u16": 2, "f32": 4}  # name -> bytes per sample
_NUMPY_DTYPES = {"u8": "uint8", "u16": "uint16", "f32": "float32"}
COLORSPACES = ("srgb", "linear")
#: Buffer authenticators, fastest first. ``gmac`` is a keyed MAC (AES-256-GMAC, NIST SP
#: 800-38D, a fresh random 96-bit nonce per buffer, key derived from the session key);
#: ``blake3`` and ``sha256`` are plain digests, authenticated by the header's HMAC.
DIGESTS = ("gmac", "blake3", "sha256")


@dataclass(frozen=True)
class Limits:
    """Refuse what is too big before allocating for it (per message)."""

    max_header_bytes: int = 1 << 20  #: 1 MiB of JSON
    max_buffers: int = 256
    max_pixels: int = 400_000_000  #: per image: 20000 × 20000
    max_message_bytes: int = 4 << 30  #: all buffers together, 4 GiB
    max_json_depth: int = 32
    replay_window_s: float = 600.0  #: messages older (or newer) than this are refused


DEFAULT_LIMITS = Limits()


@dataclass
class WireImage:
    """An image in transit: ``data`` holds H×W×C samples (bytes, memoryview, zmq frame buffer
    or numpy array) of ``dtype`` u8 / u16 / f32; ``offset`` is its (x, y) in the document."""

    data: Any
    shape: tuple[int, int, int]
    dtype: str = "u8"
    role: str = "input"
    name: str = ""
    offset: tuple[int, int] = (0, 0)
    colorspace: str = "srgb"

    @property
    def nbytes(self) -> int:
        h, w, c = self.shape
        return h * w * c * DTYPES[self.dtype]

    @classmethod
    def from_numpy(cls, arr: Any, **kw: Any) -> WireImage:
        """Wrap an H×W×C (or H×W) numpy array of uint8/uint16/float32 without copying."""
        import numpy as np

        if arr.ndim == 2:
            arr = arr[:, :, None]
        names = {np.dtype("uint8"): "u8", np.dtype("uint16"): "u16", np.dtype("float32"): "f32"}
        if arr.dtype not in names:
            raise ProtocolError(f"Images must be uint8, uint16 or float32, not {arr.dtype}.")
        arr = np.ascontiguousarray(arr)
        return cls(arr, tuple(int(s) for s in arr.shape), names[arr.dtype], **kw)  # type: ignore[arg-type]

    def to_numpy(self) -> Any:
        """H×W×C numpy view of the data (read-only when it wraps a received frame)."""
        import numpy as np

        return np.frombuffer(_as_buffer(self.data), dtype=_NUMPY_DTYPES[self.dtype]).reshape(
            self.shape
        )

    def tobytes(self) -> bytes:
        return bytes(_as_buffer(self.data))

    def descriptor(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "dtype": self.dtype,
            "role": self.role,
            "name": self.name,
            "offset": list(self.offset),
            "colorspace": self.colorspace,
            "nbytes": self.nbytes,
        }


@dataclass
class Message:
    """A decoded (or to-be-encoded) message."""

    type: str
    header: dict[str, Any] = field(default_factory=dict)
    images: list[WireImage] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.header.get("id", ""))

    @property
    def job(self) -> str:
        return str(self.header.get("job", ""))

    @property
    def digest_alg(self) -> str | None:
        """The buffer authenticator the sender used (replies use the same)."""
        alg = self.header.get("digest_alg")
        return alg if alg in DIGESTS else None


def new_id() -> str:
    return uuid.uuid4().hex


def new_key() -> bytes:
    """A random 256-bit key, hex-encoded (as stored in the connection file)."""
    return secrets.token_hex(32).encode("ascii")


def _as_buffer(data: Any) -> memoryview:
    if hasattr(data, "buffer") and not isinstance(data, (bytes, bytearray, memoryview)):
        data = data.buffer  # zmq.Frame
    mv = memoryview(data)
    if mv.ndim != 1 or mv.itemsize != 1:
        mv = mv.cast("B")
    return mv


def _digest(alg: str, data: Any) -> str:
    buf = _as_buffer(data)
    if alg == "blake3":
        if _blake3 is None:
            raise AuthError("This side cannot check BLAKE3 digests (module 'blake3' missing).")
        return _blake3.blake3(buf, max_threads=_blake3.blake3.AUTO).hexdigest()
    return hashlib.sha256(buf).hexdigest()


def _non_finite(seen: list[str], name: str) -> float:
    """Python's json reads ``NaN`` and ``Infinity``, which JSON itself does not have: note
    them (the message is refused before any parameter check has to think about them)."""
    seen.append(name)
    return 0.0


def _finite(seen: list[str], text: str) -> float:
    """``1e999`` parses to infinity: note it like ``Infinity``."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        seen.append(text[:20])
        return 0.0
    return value


def _short(value: Any) -> str:
    """A client-sent value for an error sentence, cut short (errors echo what was sent)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def _depth(obj: Any, limit: int, depth: int = 0) -> int:
    if depth > limit:
        return depth
    if isinstance(obj, dict):
        return max([_depth(v, limit, depth + 1) for v in obj.values()] or [depth])
    if isinstance(obj, list):
        return max([_depth(v, limit, depth + 1) for v in obj] or [depth])
    return depth


class Session:
    """Signs, checks and (de)serialises messages with one key.

    ``digest`` picks the buffer digest this side sends (``blake3`` when available); any
    digest in :data:`DIGESTS` is accepted on receipt — the header that names it is signed.
    """

    def __init__(
        self,
        key: bytes,
        *,
        limits: Limits = DEFAULT_LIMITS,
        digest: str | None = None,
        replay_cache: int = 65536,
    ) -> None:
        if not key:
            raise AuthError("An empty key would make signatures meaningless.")
        self.key = key
        self.limits = limits
        self.digest_alg = digest or (
            "gmac" if _AESGCM is not None else "blake3" if _blake3 is not None else "sha256"
        )
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._seen_max = replay_cache
        self._gmac = (
            _AESGCM(hmac.new(key, b"darkroom buffer mac v1", hashlib.sha256).digest())
            if _AESGCM is not None
            else None
        )

    # -- sending ---------------------------------------------------------------------------
    def sign(self, header_bytes: bytes) -> bytes:
        return hmac.new(self.key, header_bytes, hashlib.sha256).hexdigest().encode("ascii")

    def serialize(self, msg: Message, digest_alg: str | None = None) -> list[Any]:
        """Message → frames ``[signature, header, buffers…]`` (buffers are not copied).
        ``digest_alg`` overrides this side's choice (replies use the asker's)."""
        alg = digest_alg if digest_alg in DIGESTS else self.digest_alg
        header = dict(msg.header)
        header.setdefault("id", new_id())
        header["v"] = PROTOCOL_VERSION
        header["type"] = msg.type
        header["ts"] = time.time()
        descs = []
        frames: list[Any] = []
        for im in msg.images:
            if im.dtype not in DTYPES:
                raise ProtocolError(f"Unknown dtype '{im.dtype}' for image '{im.name}'.")
            buf = _as_buffer(im.data)
            if buf.nbytes != im.nbytes:
                raise ProtocolError(
                    f"Image '{im.name}' holds {buf.nbytes} bytes but its shape {im.shape} "
                    f"({im.dtype}) needs {im.nbytes}."
                )
            d = im.descriptor()
            d["digest"] = self._authenticate(alg, buf)
            descs.append(d)
            frames.append(im.data if not isinstance(im.data, memoryview) else buf)
        header["buffers"] = descs
        header["digest_alg"] = alg
        hb = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
        msg.header = header
        return [self.sign(hb), hb, *frames]

    def _authenticate(self, alg: str, buf: memoryview, nonce: bytes | None = None) -> str:
        if alg == "gmac":
            if self._gmac is None:
                raise AuthError("This side cannot use AES-GMAC (package 'cryptography' missing).")
            nonce = nonce or os.urandom(12)
            return (nonce + self._gmac.encrypt(nonce, b"", buf)).hex()
        return _digest(alg, buf)

    def _verify(self, alg: str, buf: Any, want: Any) -> bool:
        if not isinstance(want, str):
            return False
        nonce = None
        if alg == "gmac":
            try:
                nonce = bytes.fromhex(want[:24])
            except ValueError:
                return False
            if len(nonce) != 12:
                return False
        return hmac.compare_digest(want, self._authenticate(alg, _as_buffer(buf), nonce))

    # -- receiving -------------------------------------------------------------------------
    def deserialize(self, frames: Sequence[Any]) -> Message:
        """Frames → :class:`Message`, or raise :class:`AuthError` (drop and count: the sender
        is not trusted), :class:`ProtocolError` / :class:`TooLarge` (signed but malformed:
        answer with an error reply)."""
        if len(frames) < 2:
            raise AuthError(f"A message needs at least 2 frames; this one has {len(frames)}.")
        sig = bytes(_as_buffer(frames[0]))
        hb = _as_buffer(frames[1])
        if hb.nbytes > self.limits.max_header_bytes:
            raise AuthError("Header larger than the limit; not even checking its signature.")
        hb_bytes = bytes(hb)
        if not hmac.compare_digest(sig, self.sign(hb_bytes)):
            raise AuthError("Bad or missing signature.")
        non_finite: list[str] = []  # NaN, Infinity, 1e999: refused once the id is known
        try:
            header = json.loads(hb_bytes.decode("utf-8"),
                                parse_constant=lambda name: _non_finite(non_finite, name),
                                parse_float=lambda text: _finite(non_finite, text))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            why = str(e)[:100] if isinstance(e, ValueError) else type(e).__name__
            raise ProtocolError(f"The header is not valid JSON ({why}).") from None
        if not isinstance(header, dict):
            raise ProtocolError("The header must be a JSON object.")
        self._check_replay(header)
        try:
            if non_finite:
                raise ProtocolError(f"The header holds {non_finite[0]}, which is not a finite "
                                    "number; JSON has no NaN or infinity.")
            if _depth(header, self.limits.max_json_depth) > self.limits.max_json_depth:
                raise ProtocolError(
                    f"The header is nested deeper than {self.limits.max_json_depth}.")
            if header.get("v") != PROTOCOL_VERSION:
                raise ProtocolError(
                    f"Protocol version {_short(header.get('v'))} is not supported (this side "
                    f"speaks {PROTOCOL_VERSION}); update the plugin and the backend together."
                )
            mtype = header.get("type")
            if mtype not in MESSAGE_TYPES:
                raise ProtocolError(f"Unknown message type {_short(mtype)}.")
            images = self._images(header, frames[2:])
        except (ProtocolError, TooLarge) as e:
            # Signed and not a replay: the sender is genuine, so its error reply names the
            # message it answers (a client waiting on that id hears at once).
            e.reply_to = header["id"]  # type: ignore[attr-defined]
            raise
        return Message(mtype, header, images)

    def _check_replay(self, header: dict[str, Any]) -> None:
        mid, ts = header.get("id"), header.get("ts")
        if not isinstance(mid, str) or not 8 <= len(mid) <= 64:
            raise ProtocolError("The message id is missing or malformed.")
        if not isinstance(ts, (int, float)) or isinstance(ts, bool):
            raise ProtocolError("The message timestamp is missing.")
        now = time.time()
        if abs(now - ts) > self.limits.replay_window_s:
            raise AuthError("Message timestamp outside the replay window (clock or replay).")
        if mid in self._seen:
            raise AuthError("Replayed message id.")
        self._seen[mid] = ts
        while len(self._seen) > self._seen_max:
            self._seen.popitem(last=False)
        # Ids older than the window can never be accepted again anyway: forget them.
        while self._seen:
            first = next(iter(self._seen.values()))
            if now - first <= self.limits.replay_window_s:
                break
            self._seen.popitem(last=False)

    def _images(self, header: dict[str, Any], bufs: Sequence[Any]) -> list[WireImage]:
        descs = header.get("buffers", [])
        lim = self.limits
        if not isinstance(descs, list):
            raise ProtocolError("'buffers' must be a list of descriptors.")
        if len(descs) != len(bufs):
            raise ProtocolError(
                f"The header describes {len(descs)} buffers but {len(bufs)} were sent."
            )
        if len(descs) > lim.max_buffers:
            raise TooLarge(f"At most {lim.max_buffers} images per message; got {len(descs)}.")
        alg = header.get("digest_alg", "sha256")
        if descs and alg not in DIGESTS:
            raise ProtocolError(f"Unknown digest algorithm {alg!r}.")
        total = 0
        out: list[WireImage] = []
        for i, d in enumerate(descs):
            im = _check_descriptor(i, d, lim)
            total += im.nbytes
            if total > lim.max_message_bytes:
                raise TooLarge(
                    f"The message's images add up to more than {lim.max_message_bytes >> 20} MiB."
                )
            n = _as_buffer(bufs[i]).nbytes
            if n != im.nbytes:
                raise ProtocolError(
                    f"Buffer {i} ('{im.name}') has {n} bytes; its descriptor says {im.nbytes}."
                )
            if not self._verify(alg, bufs[i], d.get("digest")):
                raise AuthError(f"Buffer {i} ('{im.name}') does not match its signed digest.")
            im.data = bufs[i]
            out.append(im)
        return out


def _check_descriptor(i: int, d: Any, lim: Limits) -> WireImage:
    if not isinstance(d, dict):
        raise ProtocolError(f"Buffer descriptor {i} is not an object.")
    shape, dtype = d.get("shape"), d.get("dtype")
    if (
        not isinstance(shape, list)
        or len(shape) != 3
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in shape)
    ):
        raise ProtocolError(f"Buffer {i}: shape must be [height, width, channels] integers.")
    h, w, c = shape
    if h <= 0 or w <= 0:
        raise ProtocolError(f"Buffer {i}: an image must be at least 1×1 pixel (got {w}×{h}).")
    if not 1 <= c <= 4:
        raise ProtocolError(f"Buffer {i}: 1 to 4 channels are supported (got {c}).")
    if h * w > lim.max_pixels:
        raise TooLarge(
            f"Image {i} is {w}×{h} = {h * w / 1e6:.0f} megapixels; the limit is "
            f"{lim.max_pixels / 1e6:.0f}."
        )
    if dtype not in DTYPES:
        raise ProtocolError(f"Buffer {i}: dtype must be one of {', '.join(DTYPES)}.")
    cs = d.get("colorspace", "srgb")
    if cs not in COLORSPACES:
        raise ProtocolError(f"Buffer {i}: colour space must be srgb or linear (got {cs!r}).")
    off = d.get("offset", [0, 0])
    if (
        not isinstance(off, list)
        or len(off) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in off)
    ):
        raise ProtocolError(f"Buffer {i}: offset must be [x, y] integers.")
    role, name = d.get("role", "input"), d.get("name", "")
    if not isinstance(role, str) or not isinstance(name, str):
        raise ProtocolError(f"Buffer {i}: role and name must be strings.")
    return WireImage(b"", (h, w, c), dtype, role[:200], name[:1000], (off[0], off[1]), cs)
