"""The classic baseline: a HOG descriptor of line drawings (Dalal & Triggs 2005), as used for
sketch-based retrieval before learned embeddings (e.g. the HOG baselines of Yu et al. 2016 §5
and Sangkloy et al. 2016 §6).

A drawing is normalised like the network's input (:func:`normalize_drawing`), blurred (so a
stroke drawn a few pixels off still shares gradient with the photo's edge), and described by
orientation histograms: unsigned orientation in ``BINS`` bins, magnitude-weighted with linear
interpolation between bins, on ``CELL``-pixel cells; 2×2-cell blocks are L2-Hys normalised and
concatenated. Descriptors are L2-normalised so that a dot product is the cosine similarity.
"""

from __future__ import annotations

import cv2
import numpy as np

from darkroom.ops.sketch.strokes import normalize_drawing

SIZE = 128  #: drawing side, px
CELL = 8  #: cell side, px
BINS = 9  #: unsigned orientation bins over 0–180°


def hog(drawing: np.ndarray) -> np.ndarray:
    """H×W float32 [0, 1] line drawing → 1-D float32 unit-norm HOG descriptor
    (length ``(SIZE/CELL − 1)² · 4 · BINS`` = 8100)."""
    d = normalize_drawing(drawing, SIZE)
    d = cv2.GaussianBlur(1.0 - d, (0, 0), 2.0)  # ink = 1, blurred strokes
    gx = cv2.Sobel(d, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(d, cv2.CV_32F, 0, 1, ksize=1)
    mag = np.hypot(gx, gy)
    ang = (np.degrees(np.arctan2(gy, gx)) % 180.0) / (180.0 / BINS)  # in [0, BINS)
    lo = np.floor(ang).astype(np.int64) % BINS
    hi = (lo + 1) % BINS
    w_hi = ang - np.floor(ang)
    n = SIZE // CELL
    hist = np.zeros((n, n, BINS), np.float32)
    cy, cx = np.divmod(np.arange(SIZE * SIZE), SIZE)
    cell = (cy // CELL) * n + (cx // CELL)
    flat = hist.reshape(-1)
    m, lo, hi, w_hi = mag.ravel(), lo.ravel(), hi.ravel(), w_hi.ravel()
    np.add.at(flat, cell * BINS + lo, m * (1 - w_hi))
    np.add.at(flat, cell * BINS + hi, m * w_hi)
    blocks = np.concatenate(
        [hist[:-1, :-1], hist[1:, :-1], hist[:-1, 1:], hist[1:, 1:]], axis=2
    )  # (n-1, n-1, 4·BINS)
    blocks = blocks / (np.linalg.norm(blocks, axis=2, keepdims=True) + 1e-6)
    blocks = np.minimum(blocks, 0.2)  # L2-Hys: clip, renormalise
    blocks = blocks / (np.linalg.norm(blocks, axis=2, keepdims=True) + 1e-6)
    v = blocks.ravel()
    return (v / (np.linalg.norm(v) + 1e-12)).astype(np.float32)
