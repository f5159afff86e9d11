"""Line drawings: the edge map of a photo, the normalised view of a sketch, and pseudo-sketches.

Both branches of the embedding see *line drawings*, black strokes on white, as in
Yu et al. 2016 ("Sketch Me That Shoe", §3.1: photos are turned into edge maps so that the two
domains meet halfway) and Sangkloy et al. 2016 ("The Sketchy Database", §5: sketches and photos
are compared by a network trained on both). This module holds the pixel-level steps:

1. :func:`photo_edges` — a photo → its edge map (Canny on a smoothed luma, thresholds from the
   image's own gradient statistics), the same way at index time and training time.
2. :func:`normalize_drawing` — any line drawing (a sketch layer with or without alpha, an edge
   map) → the ink cropped to its bounding box, centred on a white square of ``size`` pixels:
   position and scale of the drawing on the canvas carry no meaning.
3. :func:`pseudo_sketch` — an edge map → a sketch-like drawing (Yu et al. §3.2 and Sangkloy
   et al. §4 train on such synthesised sketches): simplification (small strokes dropped,
   outlines smoothed), missing and broken strokes, thinning/thickening, and a smooth jitter of
   the whole drawing, so that the network learns what an amateur sketch leaves out or bends;
   :func:`edge_map_sketch`, the shape branch's version (solid lines, bent, stroke-augmented).

All drawings here are H×W float32 in [0, 1], 1 = white paper, 0 = black ink.
"""

from __future__ import annotations

import cv2
import numpy as np

from darkroom.errors import InvalidInput
from darkroom.images import split_alpha, to_float

#: Below this ink level a pixel counts as a stroke (drawings are 1 = paper, 0 = ink).
INK = 0.5
#: A sketch with less ink than this fraction of its pixels is treated as blank.
MIN_INK = 2e-4


def to_gray_drawing(pixels: np.ndarray) -> np.ndarray:
    """H×W×C (u8/u16/f32, alpha optional) → H×W float32 in [0, 1], composited over white.

    A transparent sketch layer (strokes on alpha) becomes black-on-white; gray and colour
    strokes are kept by their luma.
    """
    colour, alpha = split_alpha(pixels)
    f = to_float(colour)
    g = f[:, :, 0] if f.shape[2] == 1 else f @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    if alpha is not None:
        a = to_float(alpha)[:, :, 0]
        g = g * a + (1.0 - a)
    return np.clip(g, 0.0, 1.0).astype(np.float32)


def ink_mask(drawing: np.ndarray) -> np.ndarray:
    """H×W bool: where the drawing has ink. Dark-on-light is assumed; a light-on-dark drawing
    (a white pencil on a black layer) is recognised by its median and inverted."""
    d = drawing if np.median(drawing) >= 0.5 else 1.0 - drawing
    return d < INK


def check_not_blank(pixels: np.ndarray, name: str) -> np.ndarray:
    """The gray drawing of ``pixels``, or :class:`InvalidInput` if it is empty or blank."""
    g = to_gray_drawing(pixels)
    if g.max() - g.min() < 0.1 or ink_mask(g).mean() < MIN_INK:
        raise InvalidInput(
            f"The sketch '{name}' is blank (nearly all one colour): draw the object's outlines "
            "in a dark colour on a light background."
        )
    return g


def normalize_drawing(drawing: np.ndarray, size: int, margin: float = 0.06) -> np.ndarray:
    """Crop a drawing to its ink, centre it on a white ``size``×``size`` square.

    ``drawing``: H×W float32 [0, 1]. Returns ``size``×``size`` float32 [0, 1]. Scale is chosen so
    that the longest side of the ink box fills ``1 - 2·margin`` of the square (area-averaged,
    so thin lines stay visible as gray rather than vanishing).
    """
    if np.median(drawing) < 0.5:
        drawing = 1.0 - drawing
    ys, xs = np.nonzero(drawing < INK)
    out = np.ones((size, size), np.float32)
    if ys.size == 0:
        return out
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = drawing[y0:y1, x0:x1]
    inner = max(1, int(round(size * (1 - 2 * margin))))
    s = inner / max(crop.shape)
    h, w = max(1, int(round(crop.shape[0] * s))), max(1, int(round(crop.shape[1] * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (w, h), interpolation=interp)
    oy, ox = (size - h) // 2, (size - w) // 2
    out[oy : oy + h, ox : ox + w] = small
    return out


def photo_edges(rgb: np.ndarray, work: int = 256) -> np.ndarray:
    """A photo's edge map: H×W×3 float [0, 1] sRGB → ``work``-scale H'×W' float32 drawing.

    The photo is first scaled so its longest side is ``work`` pixels (edges at the scale a
    sketch is drawn at, not film grain), smoothed, and Canny is run with hysteresis
    thresholds at the 80th/93rd percentiles of the gradient magnitude (per-image, so dull and
    contrasty photos give similar amounts of line). Lines are 1 px, black on white, like the
    QMUL photo edge maps.
    """
    h, w = rgb.shape[:2]
    s = work / max(h, w)
    g = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32) if rgb.ndim == 3 else rgb
    g = cv2.resize(g, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    g8 = (np.clip(g, 0, 1) * 255 + 0.5).astype(np.uint8)
    g8 = cv2.bilateralFilter(g8, 5, 40, 5)  # flatten texture, keep object outlines
    gx = cv2.Sobel(g8, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g8, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    lo, hi = np.percentile(mag, [80, 93])
    hi = max(float(hi), 20.0)
    edges = cv2.Canny(g8, max(float(lo), 0.4 * hi), hi, L2gradient=True)
    return np.where(edges > 0, 0.0, 1.0).astype(np.float32)


def pseudo_sketch(edges: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Synthesise an amateur-sketch-like drawing from an edge map (H×W float32 [0, 1]).

    Steps (each random, scaled by ``strength`` in [0, 1]):

    * simplification: connected strokes shorter than a few percent of the drawing are dropped
      (people draw outlines and the main parts, not texture);
    * missing strokes: a fraction of the remaining strokes is dropped;
    * broken strokes: short gaps are cut into lines;
    * smooth jitter: a low-frequency displacement field bends lines, like a wobbly hand;
    * stroke width: thinned to 1 px or thickened to 2–3 px.

    Returns a drawing of the same size. Deterministic for a given ``rng`` state.
    """
    h, w = edges.shape
    ink = (edges < INK).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = np.zeros(n, bool)
    if n > 1:
        area = stats[1:, cv2.CC_STAT_AREA]
        extent = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
        min_extent = rng.uniform(0.02, 0.08) * strength * max(h, w)
        drop_p = rng.uniform(0.0, 0.3) * strength
        keep[1:] = (extent >= min_extent) & (rng.random(n - 1) >= drop_p)
        keep[1 + int(np.argmax(area))] = True  # the outline survives: a sketch is never empty
    ink = keep[labels].astype(np.uint8)
    # Broken strokes: cut a few short gaps.
    for _ in range(int(rng.integers(0, 1 + int(12 * strength)))):
        ys, xs = np.nonzero(ink)
        if ys.size == 0:
            break
        i = int(rng.integers(ys.size))
        cv2.circle(ink, (int(xs[i]), int(ys[i])), int(rng.integers(2, 5)), 0, -1)
    # Smooth jitter (a bending hand).
    amp = rng.uniform(0.0, 0.025) * strength * max(h, w)
    ink = (smooth_jitter(ink.astype(np.float32), rng, amp, 0.0) > 0.3).astype(np.uint8)
    # Stroke width: sketches are drawn with a pen of a single width, thin or thick.
    width = int(rng.integers(1, 4))
    if width > 1:
        ink = cv2.dilate(ink, np.ones((width, width), np.uint8))
    return np.where(ink > 0, 0.0, 1.0).astype(np.float32)


def smooth_jitter(image: np.ndarray, rng: np.random.Generator, amp: float, border: float
                  ) -> np.ndarray:
    """``image`` (H×W float32) resampled through a smooth random displacement field: offsets
    drawn at 4×4 control points (normal, standard deviation ``amp`` pixels), upsampled
    bicubically; outside pixels read ``border``."""
    h, w = image.shape
    grid = rng.normal(0.0, 1.0, (2, 4, 4)).astype(np.float32) * np.float32(amp)
    dx = cv2.resize(grid[0], (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(grid[1], (w, h), interpolation=cv2.INTER_CUBIC)
    mx, my = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, mx + dx, my + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=border)


def edge_map_sketch(edges: np.ndarray, rng: np.random.Generator, size: int, jitter: float = 0.04,
                    amount: float = 1.5) -> np.ndarray:
    """A sketch-like training view of an edge map: the instance-shape branch's pseudo-sketch.

    ``edges`` (H×W float32 [0, 1], any size: a QMUL photo edge map, :func:`photo_edges` of a
    photo) is normalised at 256 px, every line darker than 0.85 made solid ink (edge maps are
    faint, anti-aliased 1 px lines), bent by :func:`smooth_jitter` (``jitter``·256 px at most),
    then stroke-augmented (:func:`augment_sketch` at ``amount``: strokes dropped, gaps, pen
    width, rotation/scale/shift) and normalised to ``size``. Paired with the clean edge map it
    came from, it is a sketch ↔ edge-map pair for free, in the spirit of the staged
    pre-training of Yu et al. 2016 ("Sketch Me That Shoe", §3.2), where edge maps stand in for
    sketches, with stroke removal and deformation as in Yu et al. 2017 ("Sketch-a-Net that
    Beats Humans", IJCV).
    Deterministic for a given ``rng`` state; a blank edge map gives blank paper.
    """
    d = np.where(normalize_drawing(edges, 256) < 0.85, 0.0, 1.0).astype(np.float32)
    d = smooth_jitter(d, rng, rng.uniform(0.5, 1.0) * jitter * 256, 1.0)
    d = np.where(d > 0.5, 1.0, 0.0).astype(np.float32)
    return normalize_drawing(augment_sketch(d, rng, amount), size)


def random_affine(drawing: np.ndarray, rng: np.random.Generator, amount: float = 1.0) -> np.ndarray:
    """Small random rotation, anisotropic scale and shift of a drawing (white fill)."""
    h, w = drawing.shape
    ang = rng.uniform(-8, 8) * amount
    sc = 1.0 + rng.uniform(-0.1, 0.1) * amount
    m = cv2.getRotationMatrix2D((w / 2, h / 2), ang, sc)
    m[0, 0] *= 1.0 + rng.uniform(-0.1, 0.1) * amount
    m[:, 2] += rng.uniform(-0.05, 0.05, 2) * amount * np.array([w, h])
    return cv2.warpAffine(drawing, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=1.0)


def check_drawing(drawing: np.ndarray, name: str) -> None:
    """Refuse arrays that are not 2-D drawings (programming errors surface as sentences)."""
    if drawing.ndim != 2 or drawing.size == 0:
        raise InvalidInput(f"'{name}' is not a 2-D drawing (shape {drawing.shape}).")


def render_strokes(strokes: list, size: int = 256, width: int = 3, pad: float = 0.06) -> np.ndarray:
    """Vector strokes → a drawing (``size``×``size`` float32, black on white).

    ``strokes`` is the Quick, Draw! simplified format (Ha & Eck 2017, "A Neural Representation
    of Sketch Drawings"; the ``drawing`` field of an ndjson line): a list of strokes, each
    ``[xs, ys]`` with coordinates in 0–255. The drawing is scaled to fit ``1 − 2·pad`` of the
    square, centred, and drawn as anti-aliased polylines ``width`` px wide. Strokes with no
    points are ignored; a drawing with none is blank paper.
    """
    pts = [np.asarray(s[:2], np.float32).T for s in strokes if len(s) >= 2 and len(s[0])]
    canvas = np.full((size, size), 255, np.uint8)
    if not pts:
        return canvas.astype(np.float32) / 255.0
    allp = np.concatenate(pts)
    lo, hi = allp.min(0), allp.max(0)
    s = size * (1 - 2 * pad) / max(float((hi - lo).max()), 1.0)
    off = (size - (hi - lo) * s) / 2
    for p in pts:
        q = np.round(((p - lo) * s + off) * 4).astype(np.int32)  # 2 fractional bits
        if len(q) == 1:
            q = np.vstack([q, q])
        cv2.polylines(canvas, [q[:, None, :]], False, 0, width, cv2.LINE_AA, shift=2)
    return canvas.astype(np.float32) / 255.0


def read_ndjson_drawings(path: str, limit: int | None = None) -> list[tuple[str, list]]:
    """``(word, strokes)`` of each line of a Quick, Draw! simplified ndjson file."""
    import json

    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out.append((str(d.get("word", "")), d["drawing"]))
                if limit is not None and len(out) >= limit:
                    break
    return out


def augment_sketch(drawing: np.ndarray, rng: np.random.Generator, amount: float = 1.0) -> np.ndarray:
    """Stroke augmentation of a human sketch (H×W float32 [0, 1]), for training only.

    What another person drawing the same object would change: some strokes left out (a random
    fraction of the connected ink components erased, never the largest), short gaps, a
    different pen width, and a small rotation/scale/shift (:func:`random_affine`). In the
    spirit of the stroke-removal augmentation of Yu et al. 2016 ("Sketch Me That Shoe", §3.2).
    Deterministic for a given ``rng`` state; a blank drawing stays blank.
    """
    ink = (drawing < INK).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if n > 2:
        keep = rng.random(n) >= rng.uniform(0.0, 0.3) * amount
        keep[0] = False
        keep[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))] = True
        ink = keep[labels].astype(np.uint8)
    for _ in range(int(rng.integers(0, 1 + int(6 * amount)))):
        ys, xs = np.nonzero(ink)
        if ys.size == 0:
            break
        i = int(rng.integers(ys.size))
        cv2.circle(ink, (int(xs[i]), int(ys[i])), int(rng.integers(2, 5)), 0, -1)
    r = int(rng.integers(-1, 2)) if amount > 0 else 0
    if r > 0:
        ink = cv2.dilate(ink, np.ones((2, 2), np.uint8))
    elif r < 0 and ink.sum() > 0:
        thin = cv2.erode(ink, np.ones((2, 2), np.uint8))
        ink = thin if thin.sum() > 0.3 * ink.sum() else ink
    out = np.where(ink > 0, 0.0, 1.0).astype(np.float32)
    return random_affine(out, rng, amount)


def photo_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """The photograph the semantic branch sees: H×W×3 float [0, 1] scaled so its longest side
    is ``size`` and centred on a white ``size``×``size`` square (the whole picture, no crop:
    the object may be anywhere)."""
    h, w = rgb.shape[:2]
    s = size / max(h, w)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    r = cv2.resize(np.ascontiguousarray(rgb, np.float32),
                   (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)
    if r.ndim == 2:
        r = r[:, :, None].repeat(3, 2)
    out = np.ones((size, size, 3), np.float32)
    oy, ox = (size - r.shape[0]) // 2, (size - r.shape[1]) // 2
    out[oy : oy + r.shape[0], ox : ox + r.shape[1]] = r[:, :, :3]
    return out
