"""How a light stack's values are encoded: linear light, or sRGB-encoded — from the layers' tag,
checked against the physics.

Light transport is linear (Ren et al. 2015, Sec. 3): an image lit by one light is a linear
function of the light, so the N images of a stack, read as linear light, span a space of low
dimension (3 for a Lambertian scene without shadows, a few more with shadows and highlights).
Read through the wrong transfer curve (linear values decoded as sRGB, or sRGB values taken as
linear), the same images need many more dimensions. The layers' colour profile says how the
values are encoded, but editors disagree for files without one: GIMP reads a 16-bit PNG of
linear camera values as non-linear sRGB, Krita as linear. So the tag is the first word, and
when the other reading is clearly closer to low rank, the values are relit the way that adds
up like light (and the result says so), so that the same photos give the same answer in either
editor.
"""

from __future__ import annotations

import numpy as np

from darkroom import images as imgs

#: Components a light stack keeps when testing for low rank (3 diffuse + 1 for the rest).
RANK = 4
#: The other reading must leave at most this share of the tagged reading's residual: only a
#: clear case overrides the tag (on shadowed synthetic scenes the two readings differ by less).
MARGIN = 0.6
#: Below this residual both readings are low rank (a flat or tiny crop): nothing to tell.
FLOOR = 0.05
#: Fewer images or pixels than these cannot tell the readings apart reliably.
MIN_IMAGES, MIN_PIXELS = 8, 4096
#: Pixels sampled for the test (enough for a stable residual, cheap at any image size).
SAMPLES = 4096


def low_rank_residual(stack: np.ndarray, rank: int = RANK) -> float:
    """Relative energy outside the best rank-``rank`` fit of a (N, P) matrix (0 = exactly
    low rank, 1 = nothing explained)."""
    s = np.linalg.svd(stack.astype(np.float64), compute_uv=False)
    total = float((s ** 2).sum())
    return float(np.sqrt((s[rank:] ** 2).sum() / total)) if total > 0 else 0.0


def decide(rgb: np.ndarray, tag: str, seed: int = 0) -> tuple[str, str]:
    """The encoding to relight ``rgb`` in, and a sentence when it overrides ``tag``.

    ``rgb``: (N, H, W, 3) float values as stored, nominally in [0, 1] (integer samples divided
    by their full scale). ``tag``: ``"linear"`` or ``"srgb"``, from the layers' profile.
    Returns (``"linear"`` | ``"srgb"``, ``""`` or the warning for the user). Stacks of fewer
    than ``MIN_IMAGES`` images or ``MIN_PIXELS`` pixels keep their tag: too few to tell.
    """
    n = rgb.shape[0]
    if n < MIN_IMAGES or rgb.shape[1] * rgb.shape[2] < MIN_PIXELS:
        return tag, ""
    flat = rgb.reshape(n, -1, 3)
    # Pixels that some light reaches: a black background says nothing about the curve.
    lit = np.flatnonzero(flat.max(axis=(0, 2)) > 0.02 * max(float(flat.max()), 1e-12))
    if lit.size < MIN_PIXELS // 4:
        return tag, ""
    rng = np.random.default_rng(seed)
    take = rng.choice(lit, min(SAMPLES, lit.size), replace=False)
    raw = np.clip(flat[:, take], 0.0, 1.0)
    as_linear = low_rank_residual(raw.reshape(n, -1))
    as_srgb = low_rank_residual(imgs.srgb_to_linear(raw).reshape(n, -1))
    mine, other = (as_linear, as_srgb) if tag == "linear" else (as_srgb, as_linear)
    if mine > FLOOR and other < MARGIN * mine:
        other_tag = "srgb" if tag == "linear" else "linear"
        said = "linear light" if other_tag == "linear" else "sRGB-encoded"
        return other_tag, (
            f"The light-stack layers are tagged {'linear' if tag == 'linear' else 'sRGB'}, but "
            f"their values add up like light only when read as {said} (a capture saved without "
            f"a colour profile?): they were relit as {said}.")
    return tag, ""
