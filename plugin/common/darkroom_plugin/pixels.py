"""Layer pixels in editor-independent form, and the conversions the editors need.

Everything here works on raw little-endian sample buffers (``bytes``) so that it runs in an
editor's Python without numpy (Debian's Krita has none); numpy is used when present because it is
~50× faster on big layers.

Orders and types (issue 6): Krita hands out 8- and 16-bit integer RGBA as **B,G,R,A** and float
RGBA (F16/F32) as R,G,B,A; GIMP gives any order we ask for through a Babl format, so it asks for
R,G,B,A directly. The wire carries u8 / u16 / f32 only, so Krita's F16 travels as f32.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Any

try:  # optional: a big speed-up where the editor's Python has it
    import numpy as _np
except ImportError:  # pragma: no cover - exercised by the no-numpy test via monkeypatch
    _np = None

#: bytes per sample of each sample type we handle ("f16" only exists on the editor side)
SAMPLE_BYTES = {"u8": 1, "u16": 2, "f16": 2, "f32": 4}
_ARRAY_CODE = {"u8": "B", "u16": "H", "f32": "f"}
_MAX = {"u8": 255, "u16": 65535}

#: Krita's colorDepth() -> our sample type
KRITA_DEPTHS = {"U8": "u8", "U16": "u16", "F16": "f16", "F32": "f32"}


@dataclass
class Pixels:
    """An image block in R,G,B[,A] order.

    ``data`` holds ``height × width × channels`` samples of ``dtype`` (u8 / u16 / f32),
    little-endian, row-major. ``offset`` is the (x, y) of its top-left pixel in the document;
    ``colorspace`` is ``"srgb"`` (gamma-encoded) or ``"linear"``.
    """

    data: bytes
    width: int
    height: int
    channels: int
    dtype: str
    name: str = ""
    offset: tuple[int, int] = (0, 0)
    colorspace: str = "srgb"

    def __post_init__(self) -> None:
        expected = self.width * self.height * self.channels * SAMPLE_BYTES[self.dtype]
        if len(self.data) != expected:
            raise ValueError(
                f"layer '{self.name}': {len(self.data)} bytes for {self.width}×{self.height}"
                f"×{self.channels} {self.dtype} (expected {expected})"
            )

    def to_wire(self, role: str) -> Any:
        """A ``darkroom.client.WireImage`` with this block's pixels (no copy)."""
        from darkroom.client import WireImage

        return WireImage(self.data, shape=(self.height, self.width, self.channels),
                         dtype=self.dtype, role=role, name=self.name, offset=self.offset,
                         colorspace=self.colorspace)

    @classmethod
    def from_wire(cls, im: Any) -> Pixels:
        h, w, c = im.shape
        return cls(im.tobytes(), w, h, c, im.dtype, im.name, tuple(im.offset), im.colorspace)


def _big_endian() -> bool:
    return sys.byteorder == "big"


def _to_array(data: bytes, dtype: str) -> array:
    a = array(_ARRAY_CODE[dtype])
    a.frombytes(data)
    if _big_endian() and a.itemsize > 1:
        a.byteswap()
    return a


def _from_array(a: array) -> bytes:
    if _big_endian() and a.itemsize > 1:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def swap_red_blue(data: bytes, dtype: str, channels: int = 4) -> bytes:
    """B,G,R[,A] <-> R,G,B[,A] (its own inverse) for u8 / u16 samples."""
    if _np is not None:
        a = _np.frombuffer(data, dtype=_np.dtype(_ARRAY_CODE[dtype]).newbyteorder("<"))
        a = a.reshape(-1, channels).copy()
        a[:, [0, 2]] = a[:, [2, 0]]
        return a.tobytes()
    a = _to_array(data, dtype)
    out = array(a.typecode, a)
    # Extended-slice assignment runs in C: fast enough without numpy.
    out[0::channels] = a[2::channels]
    out[2::channels] = a[0::channels]
    return _from_array(out)


def f16_to_f32(data: bytes) -> bytes:
    """IEEE half floats -> float32 (Krita F16 layers; the wire has no f16)."""
    if _np is not None:
        return _np.frombuffer(data, dtype="<f2").astype("<f4").tobytes()
    n = len(data) // 2
    return struct.pack(f"<{n}f", *struct.unpack(f"<{n}e", data))


def f32_to_f16(data: bytes) -> bytes:
    if _np is not None:
        return _np.frombuffer(data, dtype="<f4").astype("<f2").tobytes()
    n = len(data) // 4
    vals = struct.unpack(f"<{n}f", data)
    # struct's 'e' refuses values beyond the half range: clamp like a GPU would saturate.
    return struct.pack(f"<{n}e", *(max(-65504.0, min(65504.0, v)) for v in vals))


def convert_samples(data: bytes, src: str, dst: str) -> bytes:
    """Convert samples between u8 / u16 / f16 / f32, mapping integer full scale to 1.0."""
    if src == dst:
        return data
    if src == "f16":
        return convert_samples(f16_to_f32(data), "f32", dst)
    if dst == "f16":
        return f32_to_f16(convert_samples(data, src, "f32"))
    if _np is not None:
        a = _np.frombuffer(data, dtype=_np.dtype(_ARRAY_CODE[src]).newbyteorder("<"))
        x = a.astype("<f4")
        if src in _MAX:
            x /= _MAX[src]
        if dst == "f32":
            return x.astype("<f4").tobytes()
        y = _np.clip(x, 0.0, 1.0) * _MAX[dst] + 0.5
        return y.astype(_np.dtype(_ARRAY_CODE[dst]).newbyteorder("<")).tobytes()
    a = _to_array(data, src)
    if src == "u8" and dst == "u16":  # exact: 255 * 257 = 65535
        return _from_array(array("H", (v * 257 for v in a)))
    if src == "u16" and dst == "u8":
        return _from_array(array("B", ((v + 128) // 257 for v in a)))
    scale = 1.0 / _MAX[src] if src in _MAX else 1.0
    vals = (v * scale for v in a)
    if dst == "f32":
        return _from_array(array("f", vals))
    m = _MAX[dst]
    return _from_array(array(_ARRAY_CODE[dst], (int(min(1.0, max(0.0, v)) * m + 0.5) for v in vals)))


def add_alpha(data: bytes, dtype: str, channels: int) -> bytes:
    """Grey / RGB / RGBA samples -> RGBA with opaque alpha where there was none."""
    if channels == 4:
        return data
    if channels not in (1, 2, 3):
        raise ValueError(f"cannot make RGBA from {channels} channels")
    opaque = {"u8": 255, "u16": 65535, "f32": 1.0}[dtype]
    if _np is not None:
        a = _np.frombuffer(data, dtype=_np.dtype(_ARRAY_CODE[dtype]).newbyteorder("<"))
        a = a.reshape(-1, channels)
        out = _np.empty((a.shape[0], 4), dtype=a.dtype)
        grey = channels <= 2
        out[:, :3] = a[:, :1] if grey else a[:, :3]
        out[:, 3] = a[:, 1] if channels == 2 else opaque
        return out.tobytes()
    a = _to_array(data, dtype)
    n = len(a) // channels
    out = array(a.typecode, bytes(n * 4 * a.itemsize))
    for c in range(3):
        out[c::4] = a[(0 if channels <= 2 else c)::channels]
    out[3::4] = a[1::2] if channels == 2 else array(a.typecode, [opaque]) * n
    return _from_array(out)


def from_krita(raw: bytes, depth: str, width: int, height: int, *, name: str = "",
               offset: tuple[int, int] = (0, 0), colorspace: str = "srgb",
               model: str = "RGBA") -> Pixels:
    """A Krita ``Node.pixelData`` block (``colorDepth()`` U8/U16/F16/F32; ``colorModel()``
    RGBA, or GRAYA: grey, alpha) -> R,G,B,A Pixels (grey is spread to R = G = B)."""
    kind = KRITA_DEPTHS.get(depth)
    if kind is None:
        raise ValueError(f"layer '{name}' has colour depth {depth}; use U8, U16, F16 or F32")
    if model not in ("RGBA", "GRAYA"):
        raise ValueError(f"layer '{name}' is {model}; only RGB and greyscale layers can be sent")
    data = bytes(raw)
    if kind == "f16":
        data, kind = f16_to_f32(data), "f32"
    if model == "GRAYA":
        return Pixels(add_alpha(data, kind, 2), width, height, 4, kind, name, offset, colorspace)
    if kind in ("u8", "u16"):
        data = swap_red_blue(data, kind)
    return Pixels(data, width, height, 4, kind, name, offset, colorspace)


def to_krita(px: Pixels, depth: str) -> bytes:
    """R,G,B[,A] Pixels -> the bytes ``Node.setPixelData`` wants for a layer of ``depth``."""
    kind = KRITA_DEPTHS[depth]
    rgba = add_alpha(px.data, px.dtype, px.channels)
    if kind == "f16":
        return convert_samples(rgba, px.dtype, "f16")
    out = convert_samples(rgba, px.dtype, kind)
    return swap_red_blue(out, kind) if kind in ("u8", "u16") else out


def gimp_format(precision_nick: str, *, linear: bool = False, alpha: bool = True) -> tuple[str, str]:
    """The Babl format to read a GIMP drawable with, and the wire sample type it yields.

    ``precision_nick`` is ``Gimp.Precision``'s nick (``u8-non-linear``, ``u16-linear``,
    ``half-perceptual``, ``float-linear``, ``u32-…``, ``double-…``): 8- and 16-bit integer
    images travel as such; every other precision as float. ``linear`` picks linear-light
    components (``RGBA``) instead of sRGB-encoded ones (``R'G'B'A``) — relighting adds light, so
    it asks for linear (issue 6). Babl converts on the way out of GEGL.
    """
    kind = "u8" if precision_nick.startswith("u8") else (
        "u16" if precision_nick.startswith("u16") else "f32")
    model = ("RGBA" if alpha else "RGB") if linear else ("R'G'B'A" if alpha else "R'G'B'")
    return f"{model} {'float' if kind == 'f32' else kind}", kind


def babl_format_of(px: Pixels) -> str:
    """The Babl format describing ``px`` (R,G,B[,A] of its dtype and colour space)."""
    model = {1: "Y", 2: "YA", 3: "RGB", 4: "RGBA"}[px.channels]
    if px.colorspace != "linear":
        model = model.replace("Y", "Y'").replace("RGB", "R'G'B'")
    return f"{model} {'float' if px.dtype == 'f32' else px.dtype}"
