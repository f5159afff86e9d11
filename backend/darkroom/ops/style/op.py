"""The ``style.transfer`` op: layers in, one new layer out.

Reads the images by role (``content``, ``style``, optional ``content_labels``,
``style_labels``, ``mask``; order does not matter), checks them, runs one method of
:mod:`.solve` at the working size, brings the result to the content's full resolution and
returns it in the content's dtype, channels and alpha. Importing this module loads no model.

Regions: given label maps win; without them the photo modes pair regions found in both
pictures (:mod:`.regions`, ``regions="auto"``, the default) or use the whole style
(``"none"``). ``return_regions`` adds the region maps as two more images (roles
``content_regions`` and ``style_regions``) that an editor can show as layers.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from darkroom import images as im
from darkroom.errors import InvalidInput, InvalidParameter, check_cancel
from darkroom.models import BACKBONES, load_backbone
from darkroom.ops import registry
from darkroom.ops.registry import (
    CancelledFn,
    Image,
    ImageInput,
    Param,
    ProgressFn,
    Result,
    register,
)
from darkroom.ops.style import affine, colour, labels, regions, solve
from darkroom.ops.style import grid as bgrid
from darkroom.ops.style import laplacian as mlap
from darkroom.ops.style.features import resize, working_size

MIN_SIDE = 16  #: smaller images carry no texture the networks can see
#: Working size (longest side, px) per quality. The grid has a few thousand parameters, so a
#: small working size fixes it well; its output is full resolution whatever this is. The fast
#: draft (a first look in ≤ 2 s at 1 MP on two CPU cores) fits its colour maps at 128 px.
AUTO_SIZE = {
    "fast": {"draft": 128, "standard": 384, "best": 640},
    "pixels": {"draft": 256, "standard": 384, "best": 512},
}

PARAMS = [
    Param("mode", "str", "photo", "photo (photorealistic), paint (Gatys) or mrf (CNNMRF)",
          choices=("photo", "paint", "mrf")),
    Param("method", "str", "fast", "photo mode: fast (affine bilateral grid, full resolution) "
          "or dpst (Deep Photo Style Transfer, pixel optimisation)", choices=("fast", "dpst"),
          editor=False),
    Param("strength", "float", 1.0, "0 keeps the content, 1 is the full transfer",
          minimum=0.0, maximum=1.0),
    Param("preserve_colors", "bool", False, "transfer luminance only, keep the content's colours",
          label="Keep the content's colours"),
    Param("quality", "str", "standard", "iterations and working size",
          choices=("draft", "standard", "best")),
    Param("size", "int", 0, "working size: longest side in pixels (0: from quality)",
          minimum=0, maximum=4096, editor=False),
    Param("backbone", "str", "efficientnet_lite0", "feature network", choices=BACKBONES,
          editor=False),
    Param("weights", "str", "", "weights file for the backbone (offline VGG19)", editor=False),
    Param("seed", "int", 0, "random seed", minimum=0, editor=False),
    Param("regions", "str", "auto", "without label maps: auto (pair regions found in both "
          "pictures) or none (the whole style everywhere); label maps, when given, win",
          choices=("auto", "none"), label="Regions without label maps"),
    Param("return_regions", "bool", False, "also return the region maps (content- and "
          "style-sized; paired regions share a colour, grey takes the whole style)",
          label="Also add the regions it paired (a layer)"),
]

IMAGES = (
    ImageInput("content", "Content", "active", help="the photo to restyle"),
    ImageInput("style", "Style", "layer", help="the photo (or painting) whose look to take"),
    ImageInput("content_labels", "Content labels", "layer", optional=True,
               help="colour-coded regions of the content"),
    ImageInput("style_labels", "Style labels", "layer", optional=True,
               help="colour-coded regions of the style (same colours pair regions)"),
    ImageInput("mask", "Mask", "layer", optional=True,
               help="where to apply (white), content-sized"),
)


def _by_role(images: list[Image]) -> dict[str, Image]:
    """The images by role (roles checked by the registry against ``IMAGES``), with this op's
    own checks."""
    found = registry.by_role(images)
    for role in ("content", "style"):
        h, w = found[role].pixels.shape[:2]
        if min(h, w) < MIN_SIDE:
            raise InvalidInput(f"The {role} image '{found[role].name or role}' is {w}×{h} pixels; "
                               f"it must be at least {MIN_SIDE}×{MIN_SIDE}.")
    if ("content_labels" in found) != ("style_labels" in found):
        raise InvalidInput("Region labels need two maps: one for the content and one for the "
                           "style (same colour ⇒ same region).")
    for lab, of in (("content_labels", "content"), ("style_labels", "style"), ("mask", "content")):
        if lab in found and found[lab].pixels.shape[:2] != found[of].pixels.shape[:2]:
            lh, lw = found[lab].pixels.shape[:2]
            h, w = found[of].pixels.shape[:2]
            raise InvalidInput(f"The {lab.replace('_', ' ')} '{found[lab].name or lab}' is "
                               f"{lw}×{lh} pixels but the {of} image is {w}×{h}; they must match.")
    return found


def _tensor(rgb: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].to(device)


def preserve_colours(content: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Luminance-only transfer (Gatys et al. 2017, "Controlling perceptual factors", §5.1):
    the content's colours with the output's luminance (Rec. 601 luma, sRGB)."""
    wts = out.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    dy = ((out - content) * wts).sum(1, keepdim=True)
    return (content + dy).clamp(0, 1)


def _first_look(progress: ProgressFn, start: torch.Tensor) -> None:
    """Send the optimisation's start — for the photo modes the per-region colour maps, which
    is what ``--quality draft`` returns; for the painterly modes the recoloured content — as
    the job's first preview, so the editor shows the look within the draft's time instead
    of after the first optimisation step."""
    progress(0.05, "first look", solve.to_preview(start))


def transfer(found: dict[str, Image], p: dict[str, Any], progress: ProgressFn,
             cancelled: CancelledFn, device: str
             ) -> tuple[np.ndarray, dict[str, Any], regions.AutoRegions | None]:
    """Run the transfer; return (H×W×3 float32 result at the content's size, metadata, the
    automatic regions if they were used)."""
    torch.manual_seed(p["seed"])
    content_rgb = im.to_rgb_float(found["content"].pixels)
    style_rgb = im.to_rgb_float(found["style"].pixels)
    kind = "fast" if (p["mode"], p["method"]) == ("photo", "fast") else "pixels"
    longest = p["size"] or AUTO_SIZE[kind][p["quality"]]
    ch, cw = working_size(*content_rgb.shape[:2], longest)
    sh, sw = working_size(*style_rgb.shape[:2], longest)
    progress(0.0, "loading the network")
    net = load_backbone(p["backbone"], device, p["weights"] or None)
    check_cancel(cancelled)

    with torch.no_grad():
        full = _tensor(content_rgb, device)
        content = resize(full, (ch, cw))
        style_full = _tensor(style_rgb, device)
        style = resize(style_full, (sh, sw))
    meta: dict[str, Any] = {"working_size": [cw, ch], "backbone": p["backbone"]}
    cmask = smask = None
    auto = None
    if "content_labels" in found:
        cm, sm, cols, warnings = labels.paired_masks(
            im.to_rgb_float(found["content_labels"].pixels),
            im.to_rgb_float(found["style_labels"].pixels),
            found["content_labels"].name or "content labels",
            found["style_labels"].name or "style labels")
        cmask = resize(torch.from_numpy(cm)[None].to(device), (ch, cw))[0]
        smask = resize(torch.from_numpy(sm)[None].to(device), (sh, sw))[0]
        meta["regions"] = [labels.colour_name(c) for c in cols]
        meta["region_source"] = "labels"
        meta["warnings"] = warnings
    elif p["regions"] == "auto" and p["mode"] == "photo":
        # Painterly modes take the whole style: a painting's regions rarely match a photo's.
        progress(0.01, "finding regions")
        with torch.no_grad():
            auto = regions.auto_masks(net, p["backbone"], full, style_full, (ch, cw), (sh, sw))
        cmask = torch.from_numpy(auto.content_masks).to(device)
        smask = torch.from_numpy(auto.style_masks).to(device)
        meta["region_source"] = "auto"
        meta["regions"] = [f"region {i + 1} → " + ("whole style" if j is None else
                                                  f"style region {j + 1}") + f" ({s:.2f})"
                           for i, (j, s) in enumerate(zip(auto.partners, auto.similarity))]
    else:
        meta["region_source"] = "none"
    check_cancel(cancelled)

    method = p["method"] if p["mode"] == "photo" else p["mode"]
    w = solve.DEFAULT_WEIGHTS[method]
    t0 = time.perf_counter()
    # paint and mrf: refined above the working size, coarse to fine (solve.refine_sizes):
    # the working stage gets the first half of the bar, the finer stages the rest.
    refine = (solve.refine_sizes(ch, cw, tuple(full.shape[-2:]), solve.REFINE_SIDE[p["quality"]])
              if method in solve.REFINED else [])
    split = 0.5 if refine else 0.95
    report = solve._Reporter(progress, cancelled, 0.05, split, f"{method} transfer")
    if method == "mrf":
        iters = solve.ITERATIONS["mrf"][p["quality"]]
        init = colour.match_colours(content, style)
        _first_look(progress, init)
        out = solve.run_mrf(net, p["backbone"], content, style, w, iters, report,
                            lr=solve.LR["mrf"], init=init)
    else:
        # Both photo methods start from the content recoloured to the style region by region
        # (see .colour): photorealistic, and it spares the optimiser the long detour through
        # wrong hues (blue → green → yellow).
        start = (colour.region_grid(content, style, cmask, smask)
                 if method in ("fast", "dpst") else None)
        with torch.no_grad():  # the start as pixels: the first preview, and paint/dpst's init
            init = (colour.match_colours(content, style) if start is None
                    else bgrid.slice_apply(start, content).clamp(0, 1))
        _first_look(progress, init)
        iters = solve.ITERATIONS[method][p["quality"]]
        if method == "fast" and iters == 0:
            g = start  # the draft: the per-region colour maps alone (see solve.ITERATIONS)
        elif method == "fast":
            targets = solve.compute_targets(net, p["backbone"], content, style, cmask, smask)
            g = solve.run_fast(net, p["backbone"], content, targets, w, iters, report, start)
        else:
            targets = solve.compute_targets(net, p["backbone"], content, style, cmask, smask)
            lap = None
            if method == "dpst":
                progress(0.04, "matting Laplacian")
                lap = mlap.to_torch(mlap.matting_laplacian(
                    content[0].permute(1, 2, 0).cpu().numpy(),
                    check=lambda: check_cancel(cancelled)), device)
            out = solve.run_pixels(net, p["backbone"], content, targets, w, iters, report, lap,
                                   init=init, lr=solve.LR[method],
                                   optimiser=solve.OPTIMISER[method])
    if refine:  # paint, mrf: finer stages above the working size (solve.run_paint_refine)
        fine = solve._Reporter(progress, cancelled, split, 0.95, f"{method} transfer")
        fine.last = report.last
        out, content = solve.run_paint_refine(net, p["backbone"], full, style_full, out,
                                              solve.REFINE_WEIGHTS, refine,
                                              solve.REFINE_ITERS[p["quality"]], fine)
        meta["refined_sizes"] = [[x, y] for y, x in refine]
    meta.update(iterations=iters, optimise_seconds=round(time.perf_counter() - t0, 3))

    progress(0.95, "full resolution")
    with torch.no_grad():
        if method == "fast":
            # Strength interpolates the transforms, not the pixels: still locally affine.
            g = bgrid.blend_identity(g, p["strength"])
            result = bgrid.apply_full(g, full, check=lambda: check_cancel(cancelled))
        else:
            out = torch.lerp(content, out, p["strength"])
            if method == "dpst":
                result = affine.upsample(content, out, full)
            else:
                result = resize(out, tuple(full.shape[-2:])).clamp(0, 1)
        if p["preserve_colors"]:
            result = preserve_colours(full, result)
        if "mask" in found:
            m = _tensor(im.to_float(im.split_alpha(found["mask"].pixels)[0])[..., :1], device)
            result = torch.lerp(full, result, m.clamp(0, 1))
    progress(1.0, "done", solve.to_preview(result))
    return result[0].permute(1, 2, 0).cpu().numpy().astype(np.float32), meta, auto


@register(
    "style.transfer",
    help="Photo style transfer: photorealistic (fast bilateral grid or Deep Photo Style "
    "Transfer), painterly (neural style) or patch-based (CNNMRF).",
    params=PARAMS,
    title="Photo Style Transfer…",
    images=IMAGES,
    result_prefix="Style: ",
)
def style_transfer(images: list[Image], params: dict[str, Any], progress: ProgressFn,
                   cancelled: CancelledFn) -> Result:
    found = _by_role(images)
    if params["mode"] != "photo" and params["method"] == "dpst":
        raise InvalidParameter("Parameter 'method' applies to the photo mode only.",
                               field="method")
    rgb, meta, auto = transfer(found, params, progress, cancelled, registry.current_device())
    src = found["content"]
    label = "photo" if params["mode"] == "photo" and params["method"] == "fast" else (
        "photo, dpst" if params["mode"] == "photo" else params["mode"])
    style_name = found["style"].name or "style"
    out = Image(im.restore_format(rgb, src.pixels), role="result",
                name=f"Style: {style_name} ({label})", offset=src.offset,
                colorspace=src.colorspace)
    outs = [out]
    if params["return_regions"]:
        outs += _region_images(found, auto)
        # the editors add the result and the content's regions (see-through, over it); the
        # style's map is for the CLI's --save-regions
        meta.update(layers=[0, 1], layer_opacity=[1.0, 0.6])
    return Result(outs, meta)


def _region_images(found: dict[str, Image], auto: regions.AutoRegions | None) -> list[Image]:
    """The region maps as two extra images (roles ``content_regions``, ``style_regions``) at
    the content's and the style's full size: automatic regions drawn in palette colours
    (paired regions share one; grey: the whole style), given label maps as they are, or a
    single grey region each when no regions were used."""
    out = []
    for role, src in (("content", "content_labels"), ("style", "style_labels")):
        h, w = found[role].pixels.shape[:2]
        if src in found:
            rgb = (im.to_rgb_float(found[src].pixels) * 255 + 0.5).astype(np.uint8)
        elif auto is not None:
            small = auto.content_map if role == "content" else auto.style_map
            rgb = regions.upscale_map(small, (h, w))
        else:
            rgb = np.full((h, w, 3), regions.FALLBACK_COLOUR, np.uint8)
        out.append(Image(rgb, role=f"{role}_regions", name=f"Style: regions of {found[role].name or role}",
                         offset=found[role].offset if role == "content" else (0, 0)))
    return out
