"""Line drawings: photo edge maps, normalisation, pseudo-sketch synthesis, blank sketches."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from darkroom.errors import InvalidInput
from darkroom.ops.sketch.strokes import (
    check_not_blank,
    edge_map_sketch,
    ink_mask,
    normalize_drawing,
    photo_edges,
    pseudo_sketch,
    smooth_jitter,
)


def _square_photo() -> np.ndarray:
    rgb = np.full((300, 400, 3), 0.2, np.float32)
    rgb[80:220, 120:280] = (0.9, 0.7, 0.3)
    return rgb


def _outline_with_dots() -> np.ndarray:
    d = np.ones((256, 256), np.float32)
    cv2.rectangle(d, (40, 60), (210, 200), 0.0, 1)
    for x in range(60, 200, 20):  # texture: tiny dots a sketcher would not draw
        d[120, x] = 0.0
    return d


def test_photo_edges_trace_the_object_outline() -> None:
    e = photo_edges(_square_photo(), work=256)
    assert e.shape == (192, 256) and e.dtype == np.float32
    ink = ink_mask(e)
    assert 0.002 < ink.mean() < 0.1  # lines, not a filled area or nothing
    ys, xs = np.nonzero(ink)
    # The square spans x 120–280 of 400 → 77–179 at 256 px; its edges are where the ink is.
    assert abs(xs.min() - 77) <= 3 and abs(xs.max() - 179) <= 3
    assert abs(ys.min() - 51) <= 3 and abs(ys.max() - 141) <= 3


def test_normalize_centres_and_fills_regardless_of_position() -> None:
    a = np.ones((300, 300), np.float32)
    b = np.ones((500, 200), np.float32)
    cv2.circle(a, (60, 60), 40, 0.0, 2)
    cv2.circle(b, (150, 400), 20, 0.0, 1)
    na, nb = normalize_drawing(a, 128), normalize_drawing(b, 128)
    for n in (na, nb):
        ys, xs = np.nonzero(n < 0.9)
        assert n.shape == (128, 128)
        assert ys.min() <= 10 and ys.max() >= 117 and xs.min() <= 10 and xs.max() >= 117
    # Same shape, different place and size on the canvas → nearly the same normalised drawing.
    assert np.corrcoef((na < 0.9).ravel(), (nb < 0.9).ravel())[0, 1] > 0.4


def test_normalize_inverts_light_on_dark_and_keeps_blank_white() -> None:
    d = np.zeros((100, 100), np.float32)
    cv2.line(d, (10, 50), (90, 50), 1.0, 2)
    n = normalize_drawing(d, 64)
    assert np.median(n) == 1.0 and n.min() < 0.5
    assert (normalize_drawing(np.ones((50, 50), np.float32), 64) == 1.0).all()


def test_pseudo_sketch_simplifies_and_is_reproducible() -> None:
    d = _outline_with_dots()
    s1 = pseudo_sketch(d, np.random.default_rng(3))
    s2 = pseudo_sketch(d, np.random.default_rng(3))
    s3 = pseudo_sketch(d, np.random.default_rng(4))
    assert s1.shape == d.shape and s1.dtype == np.float32
    assert np.array_equal(s1, s2) and not np.array_equal(s1, s3)
    ink = ink_mask(s1)
    assert ink.any()  # the outline always survives
    # The texture dots are gone (simplification), the outline stays near where it was.
    assert not ink[115:126, 55:205].any()
    near = cv2.dilate(ink_mask(d).astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    assert ink[near].sum() / ink.sum() > 0.95


def test_pseudo_sketch_strength_zero_keeps_structure() -> None:
    d = _outline_with_dots()
    s = pseudo_sketch(d, np.random.default_rng(0), strength=0.0)
    # No jitter, no drops: the outline is kept pixel for pixel (possibly thickened).
    outline = ink_mask(d)
    outline[120] = False
    assert ink_mask(s)[outline].all()


def test_smooth_jitter_bends_without_tearing() -> None:
    d = np.ones((128, 128), np.float32)
    cv2.line(d, (10, 64), (118, 64), 0.0, 2)
    assert np.array_equal(smooth_jitter(d, np.random.default_rng(0), 0.0, 1.0), d)
    bent = smooth_jitter(d, np.random.default_rng(0), 4.0, 1.0)
    ink = ink_mask(bent)
    assert not np.array_equal(ink, ink_mask(d))  # the line moved
    # Still one unbroken line a few pixels from the original (smooth: no tears).
    assert cv2.connectedComponents(ink.astype(np.uint8))[0] == 2
    ys = np.nonzero(ink)[0]
    assert abs(ys.mean() - 64) < 12 and ys.max() - ys.min() < 40


def test_edge_map_sketch_is_a_bent_solid_copy_of_the_edge_map() -> None:
    """A QMUL-like edge map (faint 1 px anti-aliased lines) becomes a sketch-like drawing: solid
    ink near the edge map's lines, not the same pixels, reproducible."""
    edges = np.ones((256, 256), np.float32)
    cv2.ellipse(edges, (128, 140), (90, 50), 0, 0, 360, 0.4, 1, cv2.LINE_AA)
    cv2.line(edges, (60, 140), (196, 140), 0.7, 1, cv2.LINE_AA)
    rng = np.random.default_rng(5)
    a = edge_map_sketch(edges, rng, 192)
    b = edge_map_sketch(edges, np.random.default_rng(5), 192)
    c = edge_map_sketch(edges, rng, 192)
    assert a.shape == (192, 192) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    ref = ink_mask(normalize_drawing(np.where(edges < 0.85, 0.0, 1.0).astype(np.float32), 192))
    for s in (a, c):
        ink = ink_mask(s)
        assert (s[ink] < 0.5).all() and ink.sum() > 0.5 * ref.sum()  # the faint lines became ink
        near = cv2.dilate(ref.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
        assert ink[near].sum() > 0.95 * ink.sum()  # near the edge map's lines ...
        assert (ink & ref).sum() < 0.9 * ink.sum()  # ... but bent, moved: not a copy
    assert (edge_map_sketch(np.ones((64, 64), np.float32), rng, 32) == 1.0).all()


@pytest.mark.parametrize(
    "pixels",
    [
        np.full((64, 64, 3), 255, np.uint8),  # white canvas
        np.full((64, 64, 1), 30000, np.uint16),  # uniform gray
        np.zeros((64, 64, 4), np.float32),  # fully transparent layer
    ],
)
def test_blank_sketch_gets_a_sentence(pixels: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match="'doodle' is blank"):
        check_not_blank(pixels, "doodle")


def test_strokes_on_transparent_layer_are_ink() -> None:
    px = np.zeros((64, 64, 4), np.uint8)  # black RGB, alpha 0 = nothing drawn
    px[30:33, 5:60, 3] = 255  # a stroke
    g = check_not_blank(px, "layer")
    assert g[31, 30] < 0.1 and g[5, 5] == 1.0
