"""The synthetic stack generator (hard shadows that move), the baselines, and the real ball."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from darkroom import images as imgs
from darkroom.ops.relight import synth
from darkroom.ops.relight.baselines import (
    Interpolator,
    barycentric_light,
    nearest_light,
    plane_coords,
)


def test_shadows_move_with_the_light() -> None:
    scene = synth.Scene(np.array([[0.0, 0.0, 0.3, 0.3]]), np.array([[0.8, 0.2, 0.2]]), seed=0)
    left, right = synth.render_stack(scene, 64, [(0.1, 0.5), (0.9, 0.5)])
    # a ground pixel right of the sphere: dark under a light on the left, lit from the right
    px = left[32, 52].sum(), right[32, 52].sum()
    assert px[0] < 1e-6 < 0.05 < px[1]
    assert left.dtype == np.float32 and left.min() >= 0


def test_grid_lights() -> None:
    g = synth.grid_lights(8)
    assert len(g) == 64 and g[0] == (0.0, 0.0) and g[-1] == (1.0, 1.0)


def test_barycentric_and_nearest() -> None:
    pts = np.array(synth.grid_lights(3))
    stack = np.arange(9, dtype=np.float32)[:, None, None, None] * np.ones((9, 2, 2, 3), np.float32)
    it = Interpolator(pts)
    np.testing.assert_allclose(barycentric_light(stack, it, pts[4]), 4.0, atol=1e-6)
    idx, w = it.barycentric(np.array([0.25, 0.3]))
    assert len(idx) == 3 and abs(w.sum() - 1) < 1e-9 and (w >= 0).all()
    assert nearest_light(stack, it, np.array([0.95, 0.05]))[0, 0, 0] == 2.0
    assert it.inside(np.array([0.5, 0.5])) and not it.inside(np.array([1.2, 0.5]))
    # outside the hull the barycentric baseline falls back to the nearest light
    np.testing.assert_allclose(barycentric_light(stack, it, np.array([1.2, 1.1])), 8.0)


def test_directions_project_to_xy() -> None:
    d = np.array([[0.1, -0.2, 0.97]])
    np.testing.assert_allclose(plane_coords(d), [[0.1, -0.2]])


def test_ball_is_read_with_16_bits(shared_data: Path) -> None:
    pix = imgs.read_image(shared_data / "diligent_ball" / "001.png")
    assert pix.dtype == np.uint16 and pix.shape == (512, 612, 3)
    assert pix.max() > 255  # 8-bit readers would cap here


def test_ball_relights_as_a_direction_stack(shared_data: Path, tiny: Path) -> None:
    """A crop of the real 16-bit ball, 8 lights with their intensities in the layer names."""
    from darkroom.ops import registry
    from darkroom.ops.registry import Image

    ball = shared_data / "diligent_ball"
    dirs = np.loadtxt(ball / "light_directions.txt")
    inten = np.loadtxt(ball / "light_intensities.txt")
    pick = [0, 10, 20, 40, 50, 60, 80, 90]
    layers = [Image(imgs.read_image(ball / f"{i + 1:03d}.png")[250:266, 300:316], "stack",
                    "light {} {} {} @{},{},{}".format(*dirs[i], *inten[i]), colorspace="linear")
              for i in pick]
    out = registry.run("relight.render", layers, {"lights": [{"direction": list(dirs[20])}],
                                                  "quality": "draft"}).images[0]
    assert out.pixels.dtype == np.uint16
    # at a captured direction with unit intensity: the captured image divided by its intensity
    want = imgs.to_float(layers[2].pixels) / inten[20]
    np.testing.assert_allclose(imgs.to_float(out.pixels), want, atol=2 / 65535)
