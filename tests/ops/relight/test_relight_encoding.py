"""The light-stack encoding check: the layers' tag stands unless the other reading clearly adds
up like light (a linear capture that an editor tagged sRGB), so both editors agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from darkroom import images as imgs
from darkroom.ops.relight import encoding


def _ball(shared_data: Path, every: int = 6) -> np.ndarray:
    ball = shared_data / "diligent_ball"
    return np.stack([imgs.to_float(imgs.read_image(ball / f"{i + 1:03d}.png"))[::2, ::2]
                     for i in range(0, 96, every)])


def test_linear_capture_tagged_srgb_is_read_as_linear(shared_data: Path) -> None:
    stack = _ball(shared_data)
    assert encoding.decide(stack, "linear") == ("linear", "")
    got, note = encoding.decide(stack, "srgb")
    assert got == "linear" and "relit as linear light" in note


def test_sharp_srgb_photos_keep_their_tag(shared_data: Path) -> None:
    stack = imgs.linear_to_srgb(np.clip(_ball(shared_data) * 2, 0, 1))
    assert encoding.decide(stack, "srgb") == ("srgb", "")


def test_too_few_images_or_pixels_keep_the_tag() -> None:
    rng = np.random.default_rng(0)
    assert encoding.decide(rng.random((5, 64, 64, 3)), "srgb") == ("srgb", "")
    assert encoding.decide(rng.random((20, 16, 16, 3)), "linear") == ("linear", "")


def test_low_rank_residual_is_zero_for_rank_one() -> None:
    m = np.outer(np.arange(1, 7), np.linspace(0, 1, 50))
    assert encoding.low_rank_residual(m, 1) < 1e-9
    assert encoding.low_rank_residual(np.eye(6), 1) > 0.9
