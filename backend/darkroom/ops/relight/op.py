"""Ops ``relight.render`` and ``relight.train``: relighting from a light stack (Ren et al. 2015).

The stack arrives as layers named ``light U V`` or ``light X Y Z`` (optional ``@R,G,B``
capture intensity; see :mod:`darkroom.lightnames`). Everything happens in linear light
(DESIGN.md): sRGB layers are decoded, every image is divided by its capture intensity (unit
lights), the networks of :mod:`.network` learn the light transport, and the answer for several
target lights is the sum of single-light answers, each times its RGB colour × intensity
(Sec. 3 of the paper: relighting is a linear combination of light-transport columns).

At a captured light the answer is the captured image: near a captured light ``lᵢ`` (within
half the smallest spacing of the stack's lights) the network's error there, ``Iᵢ − Φ(lᵢ)``,
is added back with a weight falling smoothly from 1 at ``lᵢ`` to 0 at that radius.

Between captured lights the networks' answer is trusted only where it departs from the
barycentric interpolation of the captured images by more than the ensemble's members disagree
(:func:`trust_departure`): elsewhere interpolation is already right and the departure is
fitting error (cluster-shaped facets around the real ball's highlight).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from darkroom import images as imgs
from darkroom import lightnames
from darkroom.errors import InvalidInput, InvalidParameter, check_cancel
from darkroom.ops.registry import (
    CancelledFn,
    Image,
    ImageInput,
    Param,
    ProgressFn,
    Result,
    current_device,
    register,
)
from darkroom.ops.relight import cache
from darkroom.ops.relight.baselines import Interpolator, barycentric_light, plane_coords
from darkroom.ops.relight.network import QUALITY, RelightModel, train


@dataclass
class Stack:
    """A checked light stack: unit-light linear images (N, H, W, 3) float32 divided by
    ``scale``, their lights, 2-D light coordinates (N, 2) and the first layer (format model)."""

    images: np.ndarray
    scale: float
    lights: list[lightnames.Light]
    coords: np.ndarray
    first: Image


def prepare_stack(layers: list[Image]) -> Stack:
    """Parse names, check sizes, decode to linear unit-light float32. Raises InvalidInput."""
    lights = lightnames.parse_stack([im.name for im in layers])
    h, w = layers[0].pixels.shape[:2]
    odd = [im.name for im in layers if im.pixels.shape[:2] != (h, w)]
    if odd:
        raise InvalidInput(
            f"Every image of a light stack must be {w}×{h} like '{layers[0].name}'; "
            f"'{odd[0]}' is {layers[[im.name for im in layers].index(odd[0])].pixels.shape[1]}×"
            f"{layers[[im.name for im in layers].index(odd[0])].pixels.shape[0]}."
        )
    out = np.empty((len(layers), h, w, 3), np.float32)
    for i, (im, lt) in enumerate(zip(layers, lights)):
        rgb = imgs.to_rgb_float(im.pixels)
        if im.colorspace != "linear":
            rgb = imgs.srgb_to_linear(rgb)
        out[i] = rgb / np.asarray(lt.intensity, np.float32)
    # Normalise so training targets are O(1) whatever the bit depth or exposure.
    scale = float(np.percentile(out[:, ::4, ::4], 99.9)) or 1.0
    out /= scale
    coords = plane_coords(np.array([lt.coords for lt in lights]))
    return Stack(out, scale, lights, coords, layers[0])


#: The last model built, with the cache state it came from: a daemon's next request for the
#: same stack reuses it (and the pixel layouts it built while rendering, see
#: ``RelightModel.render``) while the cache still holds that very state.
_LAST: dict[tuple[str, str], tuple[dict[str, Any], RelightModel]] = {}


def get_model(
    stack: Stack, quality: str, progress: ProgressFn, cancelled: CancelledFn
) -> tuple[RelightModel, dict[str, Any]]:
    """The trained ensemble for this stack: from the cache, or trained now and cached."""
    device = current_device()
    # The key includes the network's layout version: files of older networks never match.
    key = cache.stack_key(stack.images, stack.coords, quality)
    state = cache.load(key)
    cached = state is not None
    if state is None:
        progress(0.0, "training the light-transport networks")
        model, stats = train(stack.images, stack.coords, quality, device,
                             lambda f, s: progress(0.95 * f, s), cancelled)
        state = {**model.state(), "stats": stats}
        cache.save(key, state)
    elif (last := _LAST.get((key, device))) is not None and last[0] is state:
        model = last[1]
    else:
        model = RelightModel.from_state(state, stack.images.mean(0), device)
    _LAST.clear()
    _LAST[(key, device)] = (state, model)
    return model, {"cache_key": key, "cached": cached, "training": dict(state["stats"])}


def _target_coords(spec: Any, kind: str, i: int) -> tuple[np.ndarray, np.ndarray]:
    """One ``lights`` entry → (2-D coords, RGB weight = colour × intensity)."""
    field = f"lights[{i}]"
    if not isinstance(spec, dict):
        raise InvalidParameter(f"Target light {i + 1} must be an object with a "
                               f"'{kind}'.", field=field)
    other = lightnames.DIRECTION if kind == lightnames.POSITION else lightnames.POSITION
    if kind not in spec:
        hint = f" — the stack's lights are {kind}s, not {other}s" if other in spec else ""
        raise InvalidParameter(f"Target light {i + 1} needs a '{kind}'{hint}.", field=field)
    want = 2 if kind == lightnames.POSITION else 3
    try:
        c = np.array(spec[kind], np.float64).reshape(-1)
        colour = np.array(spec.get("color", [1, 1, 1]), np.float64).reshape(-1)
        inten = float(spec.get("intensity", 1.0))
    except (TypeError, ValueError):
        raise InvalidParameter(f"Target light {i + 1} has a value that is not a number.",
                               field=field) from None
    if c.size != want or colour.size != 3:
        raise InvalidParameter(f"Target light {i + 1} needs {want} coordinates and an R,G,B "
                               "colour.", field=field)
    if not (np.isfinite(c).all() and np.isfinite(colour).all() and math.isfinite(inten)):
        raise InvalidParameter(f"Target light {i + 1} has a non-finite number.", field=field)
    if (colour < 0).any() or inten < 0:
        raise InvalidParameter(f"Target light {i + 1} has a negative colour or intensity.",
                               field=field)
    if kind == lightnames.DIRECTION:
        if np.linalg.norm(c) < 1e-6:
            raise InvalidParameter(f"Target light {i + 1} has a zero direction.", field=field)
        c = c / np.linalg.norm(c)
    return plane_coords(c[None])[0], (colour * inten).astype(np.float32)


def relight(stack: Stack, model: RelightModel, targets: np.ndarray,
            cancelled: CancelledFn | None = None) -> np.ndarray:
    """(K, 2) target coordinates → (K, H, W, 3) unit-light linear images (stack scale undone),
    each ≥ 0 and equal to the captured image at a captured light."""
    pts = stack.coords
    gaps = np.linalg.norm(pts[:, None] - pts[None], axis=2) + np.eye(len(pts)) * 1e9
    radius = 0.5 * float(gaps.min())
    dist = np.linalg.norm(targets[:, None] - pts[None], axis=2)
    near = dist.argmin(1)
    weight = np.clip(1 - dist[np.arange(len(targets)), near] / radius, 0, 1) ** 2
    fix = [k for k in range(len(targets)) if weight[k] > 0]
    ours, spread = model.render(np.concatenate([targets, pts[near[fix]]]), cancelled,
                                spread=True)
    out = ours[: len(targets)]
    for j, k in enumerate(fix):
        out[k] += weight[k] * (stack.images[near[k]] - ours[len(targets) + j])
    interp = Interpolator(pts)
    for k, t in enumerate(targets):
        check_cancel(cancelled)
        out[k] = trust_departure(out[k], barycentric_light(stack.images, interp, t), spread[k])
    return np.maximum(out, 0) * stack.scale


#: :func:`trust_departure`: a departure from barycentric interpolation counts as real once it
#: exceeds ``SPREAD``× the ensemble's spread plus ``FLOOR``× the local signal (fully at twice
#: that); ``TRUST_BLUR``: the smoothing (pixels) of both before they are compared.
SPREAD = 0.75
FLOOR = 0.03
TRUST_BLUR = 2.5


def trust_departure(ours: np.ndarray, bary: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """One light's network answer (H, W, 3) kept where it departs from the barycentric
    interpolation ``bary`` of the captured images around that light by more than the
    ensemble's disagreement ``spread`` (members' standard deviation, (H, W, 3)) can explain.

    The networks earn their keep where interpolation fails — a shadow or highlight that moves
    between captured lights: barycentric shows ghosts, the departure is large and the members
    agree on it. Where interpolation is already right, what a network adds can be its fitting
    error: on the real DiLiGenT ball, a halo of faint cluster-shaped facets around the
    highlight, where the members (different clusterings) disagree about as much as they
    depart from barycentric. So the answer is ``bary + w·(ours − bary)``, with ``w`` rising
    smoothly from 0 to 1 as the departure ``d`` goes from ``t`` to ``2t``,
    ``t = SPREAD·spread + FLOOR·signal`` (``d``, ``spread`` and ``signal`` = ``bary``
    averaged over RGB and blurred over :data:`TRUST_BLUR` px, so ``w`` is smooth and draws no
    new edges). Per light, so the sum over lights stays linear; at a captured light both
    answers are the captured image, so it is reproduced.

    Measured at standard, 16 held-out lights (PSNR; roughness = mean |∇| of the 1-px-blurred
    error / peak, ×1e3): ball 40.1 → 40.6 dB, roughness 0.87 → 0.53 (barycentric 35.3 dB,
    0.85), the facets gone and one highlight left (a few faint isolated patches remain);
    synthetic scene 1: 42.75 → 42.5 dB (barycentric 36.5), shadows still single; bench mean
    synthetic gain over barycentric +5.22 → +5.10 dB. ``FLOOR``
    alone (no spread) at 0.15 gave the ball 40.7 dB but cost scene 1 2 dB (its smooth shading
    is where the networks beat interpolation by a little); ``SPREAD`` ≥ 1.25 hands the
    highlight itself back to barycentric's doubled one (ball ≤ 39.9 dB); weighting toward
    barycentric by the spread alone (relative to the signal) did the same at any threshold
    (ball ≤ 37.4 dB): the members disagree most at the highlight, where they are still far
    better than interpolation. Blur 1.5 / 2.5 / 4 px: alike (2.5 marginally best).
    """
    d = cv2.GaussianBlur(np.abs(ours - bary).mean(-1), (0, 0), TRUST_BLUR)
    sd = cv2.GaussianBlur(spread.mean(-1), (0, 0), TRUST_BLUR)
    sig = cv2.GaussianBlur(np.maximum(bary, 0).mean(-1), (0, 0), TRUST_BLUR)
    w = np.clip(d / (SPREAD * sd + FLOOR * sig + 1e-3) - 1, 0, 1)
    w = (w * w * (3 - 2 * w))[..., None]
    return bary + w * (ours - bary)


def _encode(linear: np.ndarray, like: Image) -> np.ndarray:
    """Linear RGB → the first layer's encoding, dtype, channels and alpha."""
    rgb = linear if like.colorspace == "linear" else imgs.linear_to_srgb(linear)
    return imgs.restore_format(rgb.astype(np.float32), like.pixels)


_QUALITY = Param("quality", "str", "standard", "draft, standard or best: ensemble size and "
                 "training length (one-time training of 64 images at 256² on a 2-core CPU: about "
                 "¾, 2 and 3 minutes)", choices=tuple(QUALITY))


def result_name(lights: list[dict[str, Any]]) -> str:
    """The result layer's name: where its lights are (``Relit: light at (0.50, 0.50)``)."""
    def one(light: dict[str, Any]) -> str:
        xy = light.get("position") or light.get("direction") or []
        return "(" + ", ".join(f"{float(v):.2f}" for v in xy) + ")"
    if len(lights) == 1:
        return f"Relit: light at {one(lights[0])}"
    return f"Relit: {len(lights)} lights " + " ".join(one(light) for light in lights)


@register(
    "relight.render",
    help="Render the scene of a light stack under new lights (Ren et al. 2015).",
    params=[
        Param("lights", "list", required=True, help='target lights: {"position": [u, v]} or '
              '{"direction": [x, y, z]}, with optional "color": [r, g, b] and "intensity"; '
              "in the editors U,V (light plane, 0..1) or X,Y,Z (direction), then optionally "
              ":R,G,B colour and @intensity, separated by ';', e.g. 0.2,0.8:1,0.8,0.6@1.5; "
              "0.9,0.5", label="Target lights", text="lights"),
        _QUALITY,
    ],
    title="Relight…",
    images=(ImageInput("stack", "Light stack", "stack",
                       help="the selected layer group: one photo per light, named 'light U V' "
                       "or 'light X Y Z'"),),
    result_prefix="Relit: ",
)
def render(images: list[Image], params: dict[str, Any], progress: ProgressFn,
           cancelled: CancelledFn) -> Result:
    if not params["lights"]:
        raise InvalidParameter("Give at least one target light.", field="lights")
    stack = prepare_stack(images)
    kind = stack.lights[0].kind
    parsed = [_target_coords(s, kind, i) for i, s in enumerate(params["lights"])]
    check_cancel(cancelled)
    model, meta = get_model(stack, params["quality"], progress, cancelled)
    progress(0.96, "rendering")
    t0 = time.perf_counter()
    targets = np.array([p[0] for p in parsed])
    singles = relight(stack, model, targets, cancelled)
    total = np.einsum("khwc,kc->hwc", singles, np.array([p[1] for p in parsed]))
    interp = Interpolator(stack.coords)
    warnings = [f"Target light {i + 1} lies outside the captured lights' range; the answer "
                "is an extrapolation." for i, t in enumerate(targets) if not interp.inside(t)]
    meta.update(render_seconds=time.perf_counter() - t0, warnings=warnings,
                lights=len(parsed))
    out = Image(_encode(total, stack.first), role="result",
                name=result_name(params["lights"]), offset=stack.first.offset,
                colorspace=stack.first.colorspace)
    progress(1.0, "done", imgs.from_float(np.clip(
        imgs.linear_to_srgb(total[:: max(1, max(total.shape[:2]) // 256),
                                  :: max(1, max(total.shape[:2]) // 256)]), 0, 1), np.uint8))
    return Result([out], meta)


@register(
    "relight.train",
    help="Train and cache the relighting networks for a light stack (no image comes back).",
    params=[_QUALITY],
    inputs="one layer per captured light, role 'stack', named 'light U V' or 'light X Y Z'",
    min_images=1,
)
def train_op(images: list[Image], params: dict[str, Any], progress: ProgressFn,
             cancelled: CancelledFn) -> Result:
    stack = prepare_stack(images)
    _, meta = get_model(stack, params["quality"], progress, cancelled)
    progress(1.0, "trained")
    return Result([], meta)


# relight.find_lights (folders → photos and their lights) lives in its own module.
from darkroom.ops.relight import findlights as _findlights  # noqa: E402,F401
