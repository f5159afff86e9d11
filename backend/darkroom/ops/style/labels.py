"""Colour-coded label maps → paired region masks (Luan et al. 2017, §3.2).

A label map paints each region in a flat colour; regions with the same colour in the content's
and the style's map correspond. Hand-painted maps are rarely clean (antialiased edges, JPEG
noise), so colours are first snapped to a coarse palette: each channel to the nearest of
0, 128 and 255 — the 27 colours people actually use. Two kinds of snapped colour are noise,
not regions, and their pixels join the spatially nearest real region:

* colours covering less than ``MIN_SHARE`` of a map (stray pixels);
* *thin* colours — nothing of them survives an erosion of ``EDGE_RADIUS`` px — which is what
  antialiasing leaves along a boundary: black next to white blends to grey (128,128,128),
  red next to black to dark red (128,0,0). Four of the five shared pairs have such seams.

A content region with no partner in the style gets no style of its own. If it is small (under
``FALLBACK_SHARE`` of the content: a detail the painter coloured in one map only) it takes the
statistics of the whole style, with a warning; a larger one is an error that names the colours.
A style region absent from the content is simply unused.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from darkroom.errors import InvalidInput

MIN_SHARE = 0.002  #: regions smaller than this share of the map are stray pixels
EDGE_RADIUS = 2  #: a colour no wider than 2·this px everywhere is an antialiased seam
FALLBACK_SHARE = 0.05  #: unpaired content regions below this share use the whole style

_NAMES = {
    (0, 0, 0): "black", (255, 255, 255): "white", (128, 128, 128): "grey",
    (255, 0, 0): "red", (0, 255, 0): "green", (0, 0, 255): "blue",
    (255, 255, 0): "yellow", (0, 255, 255): "cyan", (255, 0, 255): "magenta",
    (128, 0, 0): "dark red", (0, 128, 0): "dark green", (0, 0, 128): "navy",
    (128, 128, 0): "olive", (0, 128, 128): "teal", (128, 0, 128): "purple",
    (255, 128, 0): "orange",
}


def colour_name(c: tuple[int, int, int]) -> str:
    """A readable name for a palette colour: 'red (255,0,0)' or '(128,255,0)'."""
    rgb = f"({c[0]},{c[1]},{c[2]})"
    return f"{_NAMES[c]} {rgb}" if c in _NAMES else rgb


def quantise(labels: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """H×W×3 float [0, 1] label map → (H×W int index, palette of RGB 0–255 colours).

    Stray and seam colours (see the module docstring) are not in the palette; their pixels
    carry the index of the nearest pixel of a real region.
    """
    q = np.clip(np.rint(labels * 2.0), 0, 2).astype(np.int64)  # 0, 1, 2 ↔ 0, 128, 255
    code = q[..., 0] * 9 + q[..., 1] * 3 + q[..., 2]
    counts = np.bincount(code.ravel(), minlength=27)
    keep = [k for k in np.flatnonzero(counts >= max(1, MIN_SHARE * code.size))
            if not _thin(code == k)]
    if not keep:
        keep = [int(counts.argmax())]
    real = np.isin(code, keep)
    if not real.all():
        # Each noise pixel takes the code of the nearest real-region pixel.
        _, (iy, ix) = ndimage.distance_transform_edt(~real, return_indices=True)
        code = code[iy, ix]
    lattice = np.stack(np.unravel_index(np.arange(27), (3, 3, 3)), 1)
    palette = [tuple(int(min(255, v * 128)) for v in lattice[k]) for k in keep]
    index = np.searchsorted(np.array(keep), code)
    return index, palette  # type: ignore[return-value]


def _thin(mask: np.ndarray) -> bool:
    """Whether a region is only a seam: an erosion by ``EDGE_RADIUS`` px leaves < 5 % of it."""
    core = ndimage.binary_erosion(mask, iterations=EDGE_RADIUS, border_value=1)
    return bool(core.sum() < 0.05 * mask.sum())


def paired_masks(
    content_labels: np.ndarray, style_labels: np.ndarray, content_name: str, style_name: str
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]], list[str]]:
    """Pair the regions of two label maps (H×W×3 float [0, 1] each, any sizes).

    Returns (content masks R×Hc×Wc, style masks R×Hs×Ws, colours, warnings): float32 in
    {0, 1}, one mask pair per content colour. A small content region without a partner is
    paired with the whole style (and a warning says so); a large one raises
    :class:`InvalidInput` naming the colours.
    """
    ci, cpal = quantise(content_labels)
    si, spal = quantise(style_labels)
    share = np.bincount(ci.ravel(), minlength=len(cpal)) / ci.size
    missing = [c for c in cpal if c not in spal]
    big = [c for c in missing if share[cpal.index(c)] >= FALLBACK_SHARE]
    if big:
        names = ", ".join(colour_name(c) for c in big)
        raise InvalidInput(
            f"The content label map '{content_name}' has regions coloured {names} that the "
            f"style label map '{style_name}' does not have; paint matching regions in both."
        )
    warnings = [
        f"The content label map '{content_name}' has a small region coloured "
        f"{colour_name(c)} ({100 * share[cpal.index(c)]:.1f} % of the picture) that the style "
        f"label map '{style_name}' does not have; it takes the style of the whole picture."
        for c in missing
    ]
    cm = np.stack([(ci == k).astype(np.float32) for k in range(len(cpal))])
    sm = np.stack([(si == spal.index(c)).astype(np.float32) if c in spal
                   else np.ones(si.shape, np.float32) for c in cpal])
    return cm, sm, cpal, warnings
