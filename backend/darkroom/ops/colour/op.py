"""The ``colour.match`` op: a layer recoloured to a reference picture's colours, globally.

The map is the minimal-displacement affine colour map of Pitié & Kokaram 2007 (§2, the linear
Monge–Kantorovich solution between two Gaussians): with μ, Σ the colour mean and covariance of
the layer (i) and of the reference (r),

    A = Σ_i^-½ (Σ_i^½ Σ_r Σ_i^½)^½ Σ_i^-½,    x ↦ A (x − μ_i) + μ_r,

gives the layer the reference's mean and covariance while moving each colour as little as
possible (no hue rotation, unlike Σ_r^½ Σ_i^-½). It is the start the photo style methods use
(Luan et al. 2017 start from a colour-matched content), fitted by the same function,
:func:`darkroom.ops.style.colour.colour_transform`: here it is the whole op, one 3×4 matrix for
the whole picture, so photorealistic by construction and instant — it is fitted on at most
:data:`MAX_SAMPLES` pixels of each image (a fixed-seed sample) and applied to every pixel in
chunks of :data:`CHUNK_PIXELS`, in float32. No network.

Colour space: like ``style.transfer``, the map is fitted and applied to the values as they
are encoded — sRGB-encoded layers in sRGB, linear layers in linear light; a reference in the
other encoding is converted to the layer's first. The style methods' ridge on the
covariances keeps a flat reference (one colour) or a flat layer well defined: a flat
reference gives every pixel its colour.

* ``strength`` moves the map towards the identity (and so each pixel along a straight line
  from its colour to its matched colour).
* ``preserve_luminance`` keeps the layer's luminance (Rec. 709 weights on the values as
  encoded) and takes only the chroma from the match: the matched pixel plus the grey that
  restores its luminance (Gatys et al. 2017, §5.1 do the converse for style transfer).
* ``mask`` (content-sized, white: apply) restricts the fit to the masked pixels — the masked
  part takes the reference's colours — and the result to them (a soft mask blends).
* Alpha: the layer's alpha is kept and weighs its pixels in the fit (transparent pixels hold no
  colour worth matching); the reference is fitted on its opaque pixels the same way.
* Grey layers (1–2 channels) are matched as grey, the 1-D case of the same map, against the
  reference's luminance; a colour layer matched to a grey reference becomes grey in its tones.

The result keeps the layer's dtype, channels, alpha, offset and colorspace.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from darkroom import images as im
from darkroom.errors import InvalidInput, check_cancel
from darkroom.ops.registry import (
    CancelledFn,
    Image,
    ImageInput,
    Param,
    ProgressFn,
    Result,
    by_role,
    register,
)
from darkroom.ops.style.colour import colour_transform

MAX_SAMPLES = 1 << 18  #: pixels of each image the map is fitted on (at most)
CHUNK_PIXELS = 1 << 18  #: pixels mapped at a time (between cancel checks)
SEED = 20070101  #: the sample is the same on every run
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  #: Rec. 709 luminance weights
PREVIEW_SIDE = 256

PARAMS = [
    Param("strength", "float", 1.0, "0 keeps the layer, 1 gives it the reference's colours",
          minimum=0.0, maximum=1.0, label="Strength"),
    Param("preserve_luminance", "bool", False, "match the colours only and keep the layer's "
          "brightness (luminance)", label="Keep the layer's brightness"),
]

IMAGES = (
    ImageInput("content", "Layer", "active", help="the picture to recolour"),
    ImageInput("reference", "Reference", "layer", help="the picture whose colours to take"),
    ImageInput("mask", "Mask", "layer", optional=True,
               help="where to apply (white), content-sized"),
)


def _by_role(images: list[Image]) -> dict[str, Image]:
    """The images by role (roles checked by the registry against ``IMAGES``), with this op's
    own checks."""
    found = by_role(images)
    if "mask" in found:
        mh, mw = found["mask"].pixels.shape[:2]
        h, w = found["content"].pixels.shape[:2]
        if (mh, mw) != (h, w):
            raise InvalidInput(f"The mask '{found['mask'].name or 'mask'}' is {mw}×{mh} pixels "
                               f"but the layer '{found['content'].name or 'content'}' is {w}×{h}; "
                               "they must match.")
    return found


def _weight(img: Image | None) -> np.ndarray | None:
    """An image's alpha (H×W float32 in [0, 1]), or None when it has none."""
    if img is None:
        return None
    alpha = im.split_alpha(img.pixels)[1]
    return None if alpha is None else np.clip(im.to_float(alpha)[..., 0], 0.0, 1.0)


def _mask(img: Image) -> np.ndarray:
    """A mask layer as H×W float32 in [0, 1]: its first channel (white applies), times its
    alpha (a mask painted on a transparent layer applies where it is painted)."""
    colour, alpha = im.split_alpha(img.pixels)
    m = np.clip(im.to_float(colour[..., 0]), 0.0, 1.0)
    return m if alpha is None else m * np.clip(im.to_float(alpha)[..., 0], 0.0, 1.0)


def sample(colour: np.ndarray, weight: np.ndarray | None, n: int = MAX_SAMPLES
           ) -> tuple[np.ndarray, np.ndarray]:
    """At most ``n`` pixels of ``colour`` (H×W×C, any stored dtype) as (m, C) float64 in
    [0, 1] scale, with their weights (m,): all of them or a fixed-seed sample, only pixels of
    positive ``weight`` (H×W or None: all count the same)."""
    h, w = colour.shape[:2]
    if weight is None:
        idx = np.arange(h * w) if h * w <= n else np.random.default_rng(SEED).integers(0, h * w, n)
    else:
        idx = np.flatnonzero(weight > 0)
        if idx.size > n:
            idx = idx[np.random.default_rng(SEED).integers(0, idx.size, n)]
    idx = np.sort(idx)
    rows, cols = np.divmod(idx, w)  # index the (possibly strided) view: no full-size copy
    vals = im.to_float(colour[rows, cols]).astype(np.float64)
    wts = np.ones(idx.size) if weight is None else weight[rows, cols].astype(np.float64)
    return vals, wts


def monge_map(src: np.ndarray, src_w: np.ndarray, ref: np.ndarray, ref_w: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """The minimal-displacement affine map (A (C, C), b (C,)), x ↦ A x + b, taking the
    weighted colour distribution of ``src`` (n, C) to the mean and covariance of ``ref``
    (m, C) — Pitié & Kokaram 2007, §2, as the style methods fit it
    (:func:`darkroom.ops.style.colour.colour_transform`, on the samples as 1-pixel-wide
    images); C = 3, or 1 for grey (then A = σ_r / σ_i)."""
    def column(x: np.ndarray) -> torch.Tensor:  # (n, C) → (1, C, n, 1)
        return torch.from_numpy(np.ascontiguousarray(x.T))[None, :, :, None]
    m = colour_transform(column(src), column(ref), torch.from_numpy(src_w),
                         torch.from_numpy(ref_w)).numpy()
    c = src.shape[1]
    return m[:, :c], m[:, c]


def _apply(x: np.ndarray, a: np.ndarray, b: np.ndarray, keep_luma: bool,
           mask: np.ndarray | None) -> np.ndarray:
    """The map on H×W×C float32 pixels (unclipped), luminance restored if asked, blended with
    the pixels by ``mask`` (H×W or None)."""
    y = x @ a.T + b if x.shape[2] > 1 else x * a[0, 0] + b[0]
    if keep_luma:
        luma = LUMA if x.shape[2] == 3 else np.ones(1, np.float32)
        y += ((x - y) @ luma)[..., None]
    if mask is not None:
        y = x + mask[..., None] * (y - x)
    return y


def _preview(colour: np.ndarray, a: np.ndarray, b: np.ndarray, keep_luma: bool,
             mask: np.ndarray | None, colorspace: str) -> np.ndarray:
    """The matched layer at ≤ :data:`PREVIEW_SIDE` px (every k-th pixel), H×W×3 uint8 sRGB."""
    k = max(1, math.ceil(max(colour.shape[:2]) / PREVIEW_SIDE))
    small = _apply(im.to_float(colour[::k, ::k]), a, b, keep_luma,
                   None if mask is None else mask[::k, ::k])
    if small.shape[2] == 1:
        small = np.repeat(small, 3, axis=2)
    if colorspace == "linear":
        small = im.linear_to_srgb(small)
    return im.from_float(small, np.uint8)


def _reference_samples(ref: Image, content: Image) -> tuple[np.ndarray, np.ndarray]:
    """The reference's sampled colours (and weights: its alpha), in the layer's encoding and
    channel count."""
    colour = im.split_alpha(ref.pixels)[0]
    vals, wts = sample(colour, _weight(ref))
    if wts.sum() <= 0:
        raise InvalidInput(f"The reference '{ref.name or 'reference'}' is fully transparent: "
                           "it has no colours to match.")
    if ref.colorspace != content.colorspace:
        conv = im.srgb_to_linear if content.colorspace == "linear" else im.linear_to_srgb
        vals = conv(vals).astype(np.float64)
    grey_content = im.split_alpha(content.pixels)[0].shape[2] == 1
    if grey_content and vals.shape[1] == 3:
        vals = vals @ LUMA.astype(np.float64)[:, None]
    elif not grey_content and vals.shape[1] == 1:
        vals = np.repeat(vals, 3, axis=1)
    return vals, wts


@register(
    "colour.match",
    help="Colour match: give a layer the colours of a reference picture (the minimal-"
    "displacement affine colour map of Pitié & Kokaram 2007), globally, with a strength.",
    params=PARAMS,
    title="Colour Match…",
    images=IMAGES,
    result_prefix="Colour match: ",
)
def colour_match(images: list[Image], params: dict[str, Any], progress: ProgressFn,
                 cancelled: CancelledFn) -> Result:
    found = _by_role(images)
    src, ref = found["content"], found["reference"]
    progress(0.0, "fitting the colour map")
    colour, alpha = im.split_alpha(src.pixels)
    mask = _mask(found["mask"]) if "mask" in found else None
    weight = _weight(src)
    if mask is not None:
        weight = mask if weight is None else weight * mask
    src_vals, src_wts = sample(colour, weight)
    if src_wts.sum() <= 0:
        what = "mask is black" if mask is not None else "layer is transparent"
        raise InvalidInput(f"The {what} everywhere: there are no pixels of the layer "
                           f"'{src.name or 'content'}' to match.")
    ref_vals, ref_wts = _reference_samples(ref, src)
    a, b = monge_map(src_vals, src_wts, ref_vals, ref_wts)
    s = params["strength"]
    a = (1.0 - s) * np.eye(a.shape[0]) + s * a
    b = s * b
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    keep = params["preserve_luminance"]
    check_cancel(cancelled)

    preview = _preview(colour, a32, b32, keep, mask, src.colorspace)
    progress(0.1, "applying the colour map", preview)
    h, w, c = colour.shape
    out = np.empty_like(src.pixels)
    if alpha is not None:
        out[..., c:] = alpha
    step = max(1, CHUNK_PIXELS // w)
    for y0 in range(0, h, step):
        check_cancel(cancelled)
        y1 = min(h, y0 + step)
        y = _apply(im.to_float(colour[y0:y1]), a32, b32, keep,
                   None if mask is None else mask[y0:y1])
        out[y0:y1, :, :c] = im.from_float(y, src.pixels.dtype)
        progress(0.1 + 0.9 * y1 / h, "applying the colour map")
    progress(1.0, "done", preview)

    meta = {"map": np.concatenate([a, b[:, None]], 1).round(6).tolist(),
            "samples": {"content": int(src_vals.shape[0]), "reference": int(ref_vals.shape[0])}}
    if keep and c == 1:
        meta["warnings"] = ["A grey layer has only brightness: keeping it leaves the layer "
                            "as it was."]
    name = f"Colour match: {ref.name or 'reference'}"
    return Result([Image(out, role="result", name=name, offset=src.offset,
                         colorspace=src.colorspace)], meta)
