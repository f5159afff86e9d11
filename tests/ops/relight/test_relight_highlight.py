"""The answer between captured lights: no cluster-shaped facets around the real ball's
highlight (the networks' fitting error where interpolation is already right), and
:func:`op.trust_departure`'s contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from darkroom import images as imgs
from darkroom.ops.registry import Image
from darkroom.ops.relight import network, op
from darkroom.ops.relight.baselines import Interpolator, barycentric_light


def _roughness(err: np.ndarray, mask: np.ndarray) -> float:
    """Mean gradient magnitude of the (RGB-averaged, 1-px-blurred) error inside the mask: the
    facets' edges; sensor noise averages out in the blur."""
    import cv2

    e = cv2.GaussianBlur(err.mean(-1).astype(np.float32), (0, 0), 1.0)
    gy, gx = np.gradient(e)
    return float(np.hypot(gx, gy)[mask].mean())


def _psnr(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    return float(10 * np.log10(gt[mask].max() ** 2 / np.mean((pred[mask] - gt[mask]) ** 2)))


def test_ball_highlight_between_lights_has_no_facets(shared_data: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     one_thread: None) -> None:
    """Real DiLiGenT ball, 4 lights held out (inside the hull of the other 92), a draft-size
    ensemble: the error of our answer is no rougher than barycentric's (which has a doubled
    highlight but no facets), and its PSNR stays above barycentric's."""
    ball = shared_data / "diligent_ball"
    dirs = np.loadtxt(ball / "light_directions.txt")
    inten = np.loadtxt(ball / "light_intensities.txt")
    mask = imgs.read_image(ball / "mask.png")[..., 0] > 0
    ys, xs = np.nonzero(mask)
    crop = (slice(ys.min() - 8, ys.max() + 9), slice(xs.min() - 8, xs.max() + 9))
    held = [36, 5, 13, 52]  # the first four that bench/relight.py holds out
    assert all(Interpolator(np.delete(dirs[:, :2], held, 0)).inside(dirs[i, :2]) for i in held)
    layers = [Image(imgs.read_image(ball / f"{i + 1:03d}.png")[crop], "stack",
                    "light {} {} {} @{},{},{}".format(*dirs[i], *inten[i]), colorspace="linear")
              for i in range(96)]
    truth = [imgs.to_float(layers[i].pixels) / inten[i] for i in held]
    stack = op.prepare_stack([im for i, im in enumerate(layers) if i not in held])
    monkeypatch.setitem(network.QUALITY, "test", network.Quality(2, 1500, 32))
    model, _ = network.train(stack.images, stack.coords, "test", "cpu",
                             lambda f, s: None, lambda: False)
    ours = op.relight(stack, model, dirs[held, :2])
    interp = Interpolator(stack.coords)
    m = mask[crop]
    for k, (gt, t) in enumerate(zip(truth, dirs[held, :2])):
        bary = barycentric_light(stack.images, interp, t) * stack.scale
        assert _roughness(ours[k] - gt, m) <= 1.1 * _roughness(bary - gt, m), k
        assert _psnr(ours[k], gt, m) >= _psnr(bary, gt, m), k


def test_trust_departure_keeps_moves_and_drops_disagreement() -> None:
    rng = np.random.default_rng(0)
    h = w = 64
    bary = np.full((h, w, 3), 0.4, np.float32)
    spread = np.zeros_like(bary)
    ours = bary.copy()
    # a moved highlight the members agree on: kept
    ours[10:20, 10:20] += 1.0
    # faint blocks where the members disagree as much as they depart: barycentric's answer
    blocks = np.kron(rng.uniform(-0.03, 0.03, (4, 4)), np.ones((8, 8)))[..., None]
    ours[32:, 32:] += blocks
    spread[32:, 32:] = np.abs(blocks) + 0.005
    out = op.trust_departure(ours, bary, spread)
    assert np.abs(out[12:18, 12:18] - ours[12:18, 12:18]).max() < 1e-3
    assert np.abs(out[36:60, 36:60] - bary[36:60, 36:60]).max() < 0.1 * np.abs(blocks).max()
    # at a captured light both answers agree: exactly that image
    np.testing.assert_array_equal(op.trust_departure(bary, bary, spread), bary)
