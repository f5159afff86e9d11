"""Colour-coded label maps → paired region masks (Luan et al. 2017, §3.2).

A label map paints each region in a flat colour; regions with the same colour in the content's
and the style's map correspond. Hand-painted maps are rarely clean (antialiased edges, JPEG
noise), so colours are first snapped to a coarse palette: each channel to the nearest of
0, 128 and 255 — the 27 colours people actually use — then colours covering less than
``MIN_SHARE`` of a map are treated as edge noise and given to the nearest real region.

A content region with no partner in the style is an error (it would get no style at all); a
style region absent from the content is simply unused.
"""

from __future__ import annotations

import numpy as np

from darkroom.errors import InvalidInput

MIN_SHARE = 0.002  #: regions smaller than this share of the map are edge noise

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
    """H×W×3 float [0, 1] label map → (H×W int index, palette of RGB 0–255 colours)."""
    q = np.clip(np.rint(labels * 2.0), 0, 2).astype(np.int64)  # 0, 1, 2 ↔ 0, 128, 255
    code = q[..., 0] * 9 + q[..., 1] * 3 + q[..., 2]
    counts = np.bincount(code.ravel(), minlength=27)
    keep = np.flatnonzero(counts >= max(1, MIN_SHARE * code.size))
    if keep.size == 0:
        keep = np.array([int(counts.argmax())])
    # Every code goes to the nearest kept code (in the 3×3×3 lattice): noise joins a region.
    lattice = np.stack(np.unravel_index(np.arange(27), (3, 3, 3)), 1)
    d = ((lattice[:, None, :] - lattice[keep][None, :, :]) ** 2).sum(-1)
    remap = keep[d.argmin(1)]
    code = remap[code]
    palette = [tuple(int(min(255, v * 128)) for v in lattice[k]) for k in keep]
    index = np.searchsorted(keep, code)
    return index, palette  # type: ignore[return-value]


def paired_masks(
    content_labels: np.ndarray, style_labels: np.ndarray, content_name: str, style_name: str
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """Pair the regions of two label maps (H×W×3 float [0, 1] each, any sizes).

    Returns (content masks R×Hc×Wc, style masks R×Hs×Ws, colours), float32 in {0, 1}, one
    mask per colour present in both maps. Raises :class:`InvalidInput` naming the content
    colours that have no partner in the style map.
    """
    ci, cpal = quantise(content_labels)
    si, spal = quantise(style_labels)
    missing = [c for c in cpal if c not in spal]
    if missing:
        names = ", ".join(colour_name(c) for c in missing)
        raise InvalidInput(
            f"The content label map '{content_name}' has regions coloured {names} that the "
            f"style label map '{style_name}' does not have; paint matching regions in both."
        )
    cm = np.stack([(ci == k).astype(np.float32) for k in range(len(cpal))])
    sm = np.stack([(si == spal.index(c)).astype(np.float32) for c in cpal])
    return cm, sm, cpal
