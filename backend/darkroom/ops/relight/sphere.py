"""Light directions from a shiny sphere in the frame (highlight-based RTI, as RTIBuilder does).

Reflectance Transformation Imaging captures put a glossy sphere next to the object. Each
photo's light leaves a specular highlight on it where the sphere's normal ``n`` halves the
angle between the view ``v`` and the light ``l``, so the light is the view mirrored about the
normal::

    l = 2 (n · v) n − v,      v = (0, 0, 1)  (camera looking along −z, distant viewer)

Three steps, each robust on its own:

1. :func:`find_sphere` — the sphere's circle (cx, cy, r) in pixels. The stack's per-pixel
   *mean* (every side of the sphere lit by some photo) is thresholded (Otsu, on log values,
   both polarities: a white ball on black cloth, a black sphere on a light table); every blob
   is scored by how round it is (area over the area of its enclosing circle, and the spread of
   its outline's distance to a least-squares circle), and the roundest large one wins. The
   circle is then fitted to the outline by least squares (Kåsa), dropping outline points a
   shadow or a touching object pulled in.
2. :func:`find_highlight` — in one photo, the highlight's centre on that disc to sub-pixel
   precision. The diffuse shading on the sphere varies slowly; the highlight is a small peak:
   the photo's luminance minus its blur *inside the disc only* (normalised convolution, so
   the dark background outside the limb does not make a false rim) leaves the highlight. Its
   centre is the weighted centroid of that residual above half its peak around the peak, so a
   clipped (flat-topped) highlight gives the centre of its plateau and noise averages out.
   A peak that does not stand out of the residual's noise, or lies at the limb, is *missing*
   (light behind the sphere, sphere shadowed, photo under-exposed): the caller names the
   photo in a warning.
3. :func:`mirror_direction` — pixel → normal → mirrored view.

Measured on the DiLiGenT ball (not a mirror: a glossy ball whose highlight sits on a broad
diffuse lobe; 96 photos, 612×512, circle found automatically), against its calibrated
``light_directions.txt`` (``bench/relight.py``): median 0.61°, max 1.06°, no photo missed,
0.3–1 s for the 96 photos on the shared 2-core CPU. The accuracy rests on the circle: a
radius 1 % short tilts every direction by about 0.4°, which is why the edge is found in log
values (at the steepest linear drop: median 0.81°). The camera is taken as orthographic
(view (0, 0, 1) everywhere), right for a sphere that is small in a long-lens frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Highlights farther out than this fraction of the radius are "at the limb": the normal there
#: is nearly perpendicular to the view and a pixel's error becomes tens of degrees.
LIMB = 0.95
#: A highlight must stand this many robust noise deviations above the residual's background.
MIN_SNR = 8.0


@dataclass(frozen=True)
class Circle:
    """The sphere's outline in pixels: centre (cx, cy) (x right, y down) and radius r."""

    cx: float
    cy: float
    r: float

    def as_list(self) -> list[float]:
        return [round(self.cx, 2), round(self.cy, 2), round(self.r, 2)]


@dataclass(frozen=True)
class Highlight:
    """A highlight found in one photo: its centre (x, y) in pixels, its residual peak over
    the noise (``snr``), or ``None`` centre with ``why`` when there is none to trust."""

    x: float | None
    y: float | None
    snr: float
    why: str = ""


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (H, W) float → (H, W) float32 luminance (Rec. 709 weights)."""
    a = np.asarray(rgb, np.float32)
    if a.ndim == 2:
        return a
    return a[..., :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def _fit_circle(pts: np.ndarray) -> tuple[float, float, float]:
    """Least-squares (Kåsa) circle through points (P, 2): x² + y² = 2a x + 2b y + c."""
    x, y = pts[:, 0], pts[:, 1]
    a = np.stack([2 * x, 2 * y, np.ones_like(x)], 1)
    sol, *_ = np.linalg.lstsq(a, x * x + y * y, rcond=None)
    cx, cy, c = sol
    return float(cx), float(cy), float(np.sqrt(max(c + cx * cx + cy * cy, 0.0)))


def _robust_circle(pts: np.ndarray) -> tuple[float, float, float, float]:
    """Circle fitted to an outline, twice dropping the points that lie inside it by more
    than 2 % of r (shadows, touching objects) or far off; returns (cx, cy, r, spread/r)."""
    keep = pts
    cx, cy, r = _fit_circle(keep)
    for _ in range(2):
        d = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) - r
        sel = np.abs(d) < max(0.02 * r, 1.0)
        if sel.sum() < max(12, 0.3 * len(pts)):
            break
        keep = pts[sel]
        cx, cy, r = _fit_circle(keep)
    d = np.hypot(keep[:, 0] - cx, keep[:, 1] - cy) - r
    return cx, cy, r, float(np.std(d) / max(r, 1e-6))


def _blobs(mean: np.ndarray) -> list[np.ndarray]:
    """Outlines (P, 2) of the blobs of two Otsu thresholdings of ``mean`` — on the values and
    on their logarithm (a dark sphere's shading spans decades) — in both polarities."""
    out = []
    m = mean - float(mean.min())
    top = float(np.percentile(m, 99.9)) or 1.0
    for img in (m / top, np.log(m / top + 1e-3)):
        span = float(img.max() - img.min()) or 1.0
        u8 = np.clip((img - img.min()) / span * 255, 0, 255).astype(np.uint8)
        _, bw = cv2.threshold(cv2.GaussianBlur(u8, (5, 5), 0), 0, 255,
                              cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        for mask in (bw, 255 - bw):
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
            contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
            out += [c[:, 0, :].astype(np.float64) + 0.5 for c in contours if len(c) >= 20]
    return out


def _refine_edge(mean: np.ndarray, c: Circle) -> Circle:
    """The circle refitted to sub-pixel edge points: along 360 rays from the centre, where
    the log of the mean image's radial derivative is steepest within ±15 % of r (parabola-refined); the
    weaker half of the rays (the shadowed side, a touching object) is dropped."""
    ang = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    rad = np.arange(0.85 * c.r, 1.15 * c.r, 0.25)
    xs = (c.cx + np.cos(ang)[:, None] * rad[None] - 0.5).astype(np.float32)
    ys = (c.cy + np.sin(ang)[:, None] * rad[None] - 0.5).astype(np.float32)
    # In log values the shading's fall towards the limb is smooth and the silhouette a step:
    # the steepest linear drop lies inside the limb (DiLiGenT ball: r 1.3 % short, median
    # 0.81° → 0.62° with the log).
    logm = np.log(np.maximum(mean, 0) + 1e-3 * max(float(np.percentile(mean, 99.9)), 1e-12))
    prof = cv2.remap(logm.astype(np.float32), xs, ys, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    prof = cv2.GaussianBlur(prof, (0, 0), sigmaX=2.0, sigmaY=0.1)
    der = np.abs(np.diff(prof, axis=1))
    k = der.argmax(1).clip(1, der.shape[1] - 2)
    rows = np.arange(len(ang))
    a, b, cc = der[rows, k - 1], der[rows, k], der[rows, k + 1]
    off = np.where(a - 2 * b + cc < 0, 0.5 * (a - cc) / (a - 2 * b + cc), 0).clip(-1, 1)
    r_edge = rad[0] + (k + 0.5 + off) * 0.25
    strong = b >= np.median(b)
    pts = np.stack([c.cx + np.cos(ang) * r_edge, c.cy + np.sin(ang) * r_edge], 1)[strong]
    cx, cy, r, spread = _robust_circle(pts)
    if not np.isfinite(r) or abs(r - c.r) > 0.1 * c.r or spread > 0.05:
        return c
    return Circle(cx, cy, r)


def find_sphere(stack_lum: np.ndarray, min_radius: float = 8.0) -> tuple[Circle | None, str]:
    """The most sphere-like round blob in a stack's luminance (N, H, W) (or one (H, W) image).

    Returns (circle, "") or (None, a sentence saying why not).
    """
    img = np.asarray(stack_lum, np.float32)
    mean = img.mean(0) if img.ndim == 3 else img
    h, w = mean.shape
    best: tuple[float, Circle] | None = None
    for pts in _blobs(mean):
        c32 = pts.astype(np.float32)[:, None, :]
        area = cv2.contourArea(c32)
        if area < np.pi * min_radius**2:
            continue
        (_, _), r_enc = cv2.minEnclosingCircle(c32)
        fill = area / (np.pi * r_enc * r_enc)
        if fill < 0.8:
            continue
        cx, cy, r, spread = _robust_circle(pts)
        # touching the frame's border: not a whole sphere
        if cx - r < 1 or cy - r < 1 or cx + r > w - 1 or cy + r > h - 1:
            continue
        score = fill - 5 * spread + 0.05 * np.log(r)
        if best is None or score > best[0]:
            best = (score, Circle(cx, cy, r))
    if best is None:
        return None, ("no round blob that could be the sphere was found; give the sphere's "
                      "circle (--sphere CX,CY,R in pixels)")
    return _refine_edge(mean, best[1]), ""


def _disc_blur(img: np.ndarray, inside: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``img`` using only the pixels ``inside`` (normalised convolution)."""
    m = inside.astype(np.float32)
    num = cv2.GaussianBlur(img * m, (0, 0), sigma)
    den = cv2.GaussianBlur(m, (0, 0), sigma)
    return num / np.maximum(den, 1e-6)


def find_highlight(lum: np.ndarray, circle: Circle) -> Highlight:
    """The specular highlight's centre on the sphere in one photo's luminance (H, W).

    Pixels are centred: the pixel (i, j) covers x ∈ [j, j+1), its centre is x = j + 0.5.
    """
    h, w = lum.shape
    pad = int(np.ceil(circle.r)) + 4
    x0, x1 = max(0, int(circle.cx) - pad), min(w, int(circle.cx) + pad + 1)
    y0, y1 = max(0, int(circle.cy) - pad), min(h, int(circle.cy) + pad + 1)
    crop = np.asarray(lum[y0:y1, x0:x1], np.float32)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    rho = np.hypot(xx - circle.cx, yy - circle.cy) / circle.r
    inside = rho < 0.985
    if inside.sum() < 20:
        return Highlight(None, None, 0.0, "the sphere is too small")
    # Slow diffuse shading removed; a little smoothing against sensor noise.
    resid = crop - _disc_blur(crop, inside, max(2.0, circle.r / 6))
    resid = _disc_blur(resid, inside, max(0.6, circle.r / 120))
    vals = resid[inside]
    med = float(np.median(vals))
    noise = 1.4826 * float(np.median(np.abs(vals - med))) + 1e-6 * float(np.abs(crop).max())
    score = np.where(inside, resid, -np.inf)
    py, px = np.unravel_index(int(np.argmax(score)), score.shape)
    peak = float(resid[py, px])
    snr = (peak - med) / max(noise, 1e-12)
    if not np.isfinite(snr) or snr < MIN_SNR or peak <= 0:
        return Highlight(None, None, float(snr) if np.isfinite(snr) else 0.0,
                         "no highlight stands out on the sphere")
    # Centroid of the residual above half the peak, in the blob around the peak.
    level = med + 0.5 * (peak - med)
    blob = ((resid >= level) & inside).astype(np.uint8)
    _, labels = cv2.connectedComponents(blob)
    sel = labels == labels[py, px]
    wts = (resid - level)[sel]
    cx = float((xx[sel] * wts).sum() / wts.sum())
    cy = float((yy[sel] * wts).sum() / wts.sum())
    if np.hypot(cx - circle.cx, cy - circle.cy) / circle.r > LIMB:
        return Highlight(None, None, float(snr), "the highlight is at the sphere's edge")
    return Highlight(cx, cy, float(snr))


def mirror_direction(x: float, y: float, circle: Circle) -> np.ndarray:
    """Highlight centre (pixels, y down) → unit light direction (x right, y up, z to the
    camera): the view (0, 0, 1) mirrored about the sphere's normal there."""
    nx = (x - circle.cx) / circle.r
    ny = -(y - circle.cy) / circle.r
    s = nx * nx + ny * ny
    if s >= 1:
        nx, ny, s = nx / np.sqrt(s), ny / np.sqrt(s), 1.0
    n = np.array([nx, ny, np.sqrt(max(1 - s, 0.0))])
    d = 2 * n[2] * n - np.array([0.0, 0.0, 1.0])
    return d / np.linalg.norm(d)


def highlight_pixel(direction: np.ndarray, circle: Circle) -> tuple[float, float]:
    """Inverse of :func:`mirror_direction`: where a light's highlight sits (tests, overlays)."""
    d = np.asarray(direction, np.float64) / np.linalg.norm(direction)
    n = d + np.array([0.0, 0.0, 1.0])
    n /= np.linalg.norm(n)
    return circle.cx + n[0] * circle.r, circle.cy - n[1] * circle.r


@dataclass
class SphereLights:
    """Directions found for a stack: (N, 3) with NaN rows where no highlight was trusted,
    the circle used, and one warning sentence per photo without a direction."""

    directions: np.ndarray
    circle: Circle
    found: list[Highlight]
    missing: list[int]


def lights_from_sphere(stack_lum: np.ndarray, circle: Circle | None = None) -> SphereLights:
    """Every photo's light direction from the sphere's highlight. ``stack_lum``: (N, H, W)
    luminance (any linear scale per photo). Raises ``ValueError`` with a sentence when no
    sphere is found (and none is given)."""
    if circle is None:
        circle, why = find_sphere(stack_lum)
        if circle is None:
            raise ValueError(why)
    found = [find_highlight(im, circle) for im in stack_lum]
    dirs = np.full((len(found), 3), np.nan)
    missing = []
    for i, hl in enumerate(found):
        if hl.x is None or hl.y is None:
            missing.append(i)
        else:
            dirs[i] = mirror_direction(hl.x, hl.y, circle)
    return SphereLights(dirs, circle, found, missing)


def angular_error_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles (degrees) between rows of unit vectors a and b, (N, 3) each."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))
