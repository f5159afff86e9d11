"""Image files and encodings: bit depth kept, alpha kept, sRGB curve, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest

from darkroom import images
from darkroom.errors import InvalidInput, NotFound


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_round_trip_keeps_depth_channels_and_order(tmp_path, dtype, channels) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(channels)
    a = rng.integers(0, np.iinfo(dtype).max, (9, 11, channels), dtype=dtype)
    a[0, 0, 0] = np.iinfo(dtype).max  # red channel marker: catches BGR/RGB swaps
    p = tmp_path / "x.png"
    images.write_image(p, a)
    b = images.read_image(p)
    assert b.dtype == dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_reads_real_16bit_light_stack_as_16bit(shared_data) -> None:  # type: ignore[no-untyped-def]
    a = images.read_image(shared_data / "diligent_ball" / "001.png")
    assert a.dtype == np.uint16 and a.shape == (512, 612, 3)
    assert a.max() > 255  # really 16 bits, not 8 scaled


def test_missing_and_corrupt_files_are_sentences(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound, match="No image file"):
        images.read_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    with pytest.raises(InvalidInput, match="bad.png"):
        images.read_image(bad)


def test_srgb_curve_round_trip_and_known_values() -> None:
    v = np.linspace(0, 1, 101, dtype=np.float32)
    np.testing.assert_allclose(images.linear_to_srgb(images.srgb_to_linear(v)), v, atol=1e-5)
    assert abs(float(images.srgb_to_linear(np.float32(0.5))) - 0.21404) < 1e-4


def test_restore_format_keeps_alpha_and_gray() -> None:
    src = np.zeros((4, 5, 2), np.uint16)
    src[..., 1] = 12345
    out = images.restore_format(np.full((4, 5, 3), 0.5, np.float32), src)
    assert out.shape == (4, 5, 2) and out.dtype == np.uint16
    assert (out[..., 1] == 12345).all() and abs(int(out[0, 0, 0]) - 32768) <= 1
