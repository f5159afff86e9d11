"""Pixel conversions the editors need: Krita's B,G,R,A order, sample types, alpha, Babl names.
Each runs with numpy and without (Debian's Krita Python has no numpy)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from darkroom_plugin import pixels
from darkroom_plugin.pixels import Pixels


@pytest.fixture(params=["numpy", "pure"])
def impl(request, monkeypatch):
    if request.param == "pure":
        monkeypatch.setattr(pixels, "_np", None)
    return request.param


def test_krita_u8_bgra_becomes_rgba(impl):
    raw = bytes([10, 20, 30, 255, 1, 2, 3, 4])  # two pixels B,G,R,A
    px = pixels.from_krita(raw, "U8", 2, 1, name="a", offset=(5, 7))
    assert px.data == bytes([30, 20, 10, 255, 3, 2, 1, 4])
    assert (px.dtype, px.offset, px.channels) == ("u8", (5, 7), 4)
    assert pixels.to_krita(px, "U8") == raw  # and back, exactly


def test_krita_u16_keeps_16_bits(impl):
    vals = [1000, 2000, 65535, 40000]  # B, G, R, A
    px = pixels.from_krita(struct.pack("<4H", *vals), "U16", 1, 1)
    assert struct.unpack("<4H", px.data) == (65535, 2000, 1000, 40000)
    assert px.dtype == "u16"
    assert struct.unpack("<4H", pixels.to_krita(px, "U16")) == tuple(vals)


def test_krita_f16_travels_as_f32_and_returns(impl):
    vals = (0.25, 0.5, 2.0, 1.0)  # float layers are R,G,B,A already (HDR above 1 kept)
    px = pixels.from_krita(struct.pack("<4e", *vals), "F16", 1, 1, colorspace="linear")
    assert px.dtype == "f32" and struct.unpack("<4f", px.data) == vals
    assert struct.unpack("<4e", pixels.to_krita(px, "F16")) == vals


def test_unknown_krita_depth_is_refused():
    with pytest.raises(ValueError, match="U8, U16, F16 or F32"):
        pixels.from_krita(b"\0" * 8, "F64", 1, 1, name="deep")


def test_u8_to_u16_is_exact_and_back(impl):
    data = bytes(range(0, 256))
    wide = pixels.convert_samples(data, "u8", "u16")
    assert struct.unpack("<256H", wide)[255] == 65535 and struct.unpack("<256H", wide)[1] == 257
    assert pixels.convert_samples(wide, "u16", "u8") == data


def test_float_to_int_clamps_out_of_range(impl):
    data = struct.pack("<3f", -0.5, 0.5, 3.0)
    assert list(pixels.convert_samples(data, "f32", "u8")) == [0, 128, 255]


def test_add_alpha_rgb_and_grey(impl):
    rgb = Pixels(bytes([1, 2, 3, 4, 5, 6]), 2, 1, 3, "u8")
    assert pixels.add_alpha(rgb.data, "u8", 3) == bytes([1, 2, 3, 255, 4, 5, 6, 255])
    assert pixels.add_alpha(bytes([9, 7]), "u8", 2) == bytes([9, 9, 9, 7])
    f = pixels.add_alpha(struct.pack("<3f", 0.1, 0.2, 0.3), "f32", 3)
    assert struct.unpack("<4f", f)[3] == 1.0


def test_result_rgb_into_krita_u16_layer(impl):
    """A u8 RGB result (e.g. a sketch match photo) into a 16-bit RGBA document."""
    px = Pixels(bytes([255, 0, 128]), 1, 1, 3, "u8")
    out = struct.unpack("<4H", pixels.to_krita(px, "U16"))
    assert out == (128 * 257, 0, 65535, 65535)  # B, G, R, A


def test_numpy_and_pure_agree_on_a_real_sized_block(monkeypatch):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 65536, size=64 * 48 * 4, dtype=np.uint16).tobytes()
    fast = pixels.from_krita(raw, "U16", 64, 48).data
    monkeypatch.setattr(pixels, "_np", None)
    assert pixels.from_krita(raw, "U16", 64, 48).data == fast


def test_pixels_checks_its_size():
    with pytest.raises(ValueError, match="layer 'x'"):
        Pixels(b"\0" * 5, 1, 1, 4, "u8", "x")


@pytest.mark.parametrize("nick, linear, fmt, kind", [
    ("u8-non-linear", False, "R'G'B'A u8", "u8"),
    ("u16-perceptual", False, "R'G'B'A u16", "u16"),
    ("half-linear", False, "R'G'B'A float", "f32"),
    ("u32-linear", True, "RGBA float", "f32"),
    ("double-non-linear", False, "R'G'B'A float", "f32"),
])
def test_gimp_formats(nick, linear, fmt, kind):
    f, k = pixels.gimp_format(nick, linear=linear)
    assert (f, k) == (fmt, kind)


def test_babl_format_of_results():
    assert pixels.babl_format_of(Pixels(b"\0" * 4, 1, 1, 4, "u8")) == "R'G'B'A u8"
    lin = Pixels(b"\0" * 12, 1, 1, 3, "f32", colorspace="linear")
    assert pixels.babl_format_of(lin) == "RGB float"
