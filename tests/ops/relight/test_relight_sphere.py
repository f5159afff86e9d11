"""Light directions from a shiny sphere's highlight (:mod:`darkroom.ops.relight.sphere`) on
synthetic renders with known lights: clean, clipped, noisy, 8-bit, missing highlights; and
on the real DiLiGenT ball against its calibrated directions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from darkroom import images as imgs
from darkroom.ops.relight import sphere, synth

CIRCLE = (70.3, 58.7, 30.2)
SIZE = (120, 150)


def _lights(n: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    th = rng.uniform(0, np.radians(70), n)
    ph = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], 1)


@pytest.fixture(scope="module")
def renders() -> tuple[np.ndarray, np.ndarray]:
    lights = _lights()
    return np.stack([synth.sphere_photo(SIZE, CIRCLE, tuple(lt), seed=1) for lt in lights]), lights


def test_mirror_direction_inverts_highlight_pixel() -> None:
    c = sphere.Circle(*CIRCLE)
    for d in _lights(8, 3):
        x, y = sphere.highlight_pixel(d, c)
        np.testing.assert_allclose(sphere.mirror_direction(x, y, c), d, atol=1e-9)
    # the centre of the sphere reflects the view itself; camera looks along −z
    np.testing.assert_allclose(sphere.mirror_direction(c.cx, c.cy, c), [0, 0, 1])
    # a highlight below the centre (image y down) means a light from below (y < 0)
    assert sphere.mirror_direction(c.cx, c.cy + 10, c)[1] < 0


def test_sphere_found_on_textured_floor(renders) -> None:
    stack, _ = renders
    c, why = sphere.find_sphere(stack)
    assert c is not None, why
    assert abs(c.cx - CIRCLE[0]) < 0.4 and abs(c.cy - CIRCLE[1]) < 0.4
    assert abs(c.r - CIRCLE[2]) < 0.6


@pytest.mark.parametrize("kind", ["clean", "clipped", "noisy", "8-bit"])
def test_directions_within_a_degree_or_two(renders, kind: str) -> None:
    stack, lights = renders
    rng = np.random.default_rng(5)
    photos = {"clean": stack,
              "clipped": np.minimum(stack, 0.5),  # flat-topped highlights, diffuse intact
              "noisy": stack + rng.normal(0, 0.01, stack.shape).astype(np.float32),
              "8-bit": np.round(np.clip(stack, 0, 1) * 255) / 255}[kind]
    found = sphere.lights_from_sphere(photos)
    assert found.missing == []
    err = sphere.angular_error_deg(found.directions, lights)
    assert np.median(err) < 1.0 and err.max() < 2.0, err


def test_missing_highlights_are_reported(renders) -> None:
    stack, lights = renders
    c = sphere.Circle(*CIRCLE)
    behind = synth.sphere_photo(SIZE, CIRCLE, (0.3, 0.2, -0.93))  # light behind the sphere
    dark = np.full(SIZE, 0.01, np.float32) + np.random.default_rng(1).normal(
        0, 0.002, SIZE).astype(np.float32)  # sphere in shadow: nothing but noise
    found = sphere.lights_from_sphere(np.concatenate([stack[:4], behind[None], dark[None]]), c)
    assert found.missing == [4, 5]
    assert np.isnan(found.directions[4:]).all() and not np.isnan(found.directions[:4]).any()
    assert all(found.found[i].why for i in (4, 5))


def test_no_sphere_is_a_sentence() -> None:
    flat = np.random.default_rng(0).uniform(0.2, 0.3, (4, 40, 50)).astype(np.float32)
    c, why = sphere.find_sphere(flat)
    assert c is None and "--sphere" in why
    with pytest.raises(ValueError, match="sphere"):
        sphere.lights_from_sphere(flat)


def test_diligent_ball_directions(shared_data: Path) -> None:
    """The real ball (a glossy ball, not a mirror): found circle, highlight directions within
    the issue's goals (median ≤ 2°, max ≤ 6°) of the calibrated ones."""
    ball = shared_data / "diligent_ball"
    dirs = np.loadtxt(ball / "light_directions.txt")
    lum = np.stack([sphere.luminance(imgs.to_float(imgs.read_image(ball / f"{i:03d}.png")))
                    for i in range(1, 97)])
    found = sphere.lights_from_sphere(lum)
    assert found.missing == []
    err = sphere.angular_error_deg(found.directions, dirs)
    assert np.median(err) <= 2.0 and err.max() <= 6.0, (np.median(err), err.max())
