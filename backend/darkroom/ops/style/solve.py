"""The four methods, as optimisation loops over the losses of :mod:`.losses`.

Everything here works on (1, 3, H, W) float tensors in [0, 1] at a *working size* and knows
nothing of files, dtypes or the registry (see :mod:`.op`). Each method minimises

    L = w_s · L_style + w_c · L_content + (method's own terms)

with Adam, reporting progress (and a small preview about once a second) and checking for
cancellation every iteration.

* ``paint`` — Gatys et al. 2016 §2: pixels, Gram style loss, content loss, total variation.
* ``dpst`` — Luan et al. 2017 §3: pixels, *augmented* (per-region) Gram style loss, content
  loss, and the photorealism term Σ_c V_cᵀ L V_c with L the content's matting Laplacian (§3.1).
  Started from the content, as the paper's released code does.
* ``mrf`` — Li & Wand 2016 §3: pixels, MRF patch loss at two layers, content loss, TV,
  coarse to fine (three scales, each started from the upsampled previous one; §4).
* ``fast`` — ours: the bilateral grid of affine colour transforms of :mod:`.grid`, optimised
  with the augmented style and content losses plus grid smoothness. Locally affine in colour
  by construction, so it needs no Laplacian; the grid is then sliced at full resolution.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from darkroom.errors import check_cancel
from darkroom.ops.style import grid as bgrid
from darkroom.ops.style import laplacian, losses
from darkroom.ops.style.features import LAYERS, masks_at, resize

Progress = Callable[..., None]

#: Iterations per quality (fast, pixel methods, MRF per scale).
ITERATIONS = {
    "fast": {"draft": 40, "standard": 100, "best": 200},
    "pixels": {"draft": 60, "standard": 150, "best": 300},
    "mrf": {"draft": 20, "standard": 40, "best": 80},
}


@dataclass
class Targets:
    """What the output is compared with, computed once from the content and the style."""

    content_feat: torch.Tensor  # (1, C, h, w) at the content layer
    grams: dict[str, torch.Tensor]  # layer → (R, C, C) style Grams per region
    masks: dict[str, torch.Tensor] | None  # layer → (R, h, w) content region masks
    weights: dict[str, torch.Tensor] | None  # layer → (R,) region shares of the content


@dataclass
class Weights:
    style: float = 1.0
    content: float = 1.0
    tv: float = 0.0
    photo: float = 0.0  # matting-Laplacian term (dpst)
    smooth: float = 0.0  # grid smoothness (fast)
    mrf: float = 0.0  # MRF patch loss (mrf)


DEFAULT_WEIGHTS = {
    "paint": Weights(style=1.0, content=0.6, tv=2.0),
    "dpst": Weights(style=1.0, content=0.6, tv=0.0, photo=50.0),
    # Style weight 3: at 1 the grid barely moved the colours (looked at in00/in14/in17 at
    # 256 px: 3–5 give the paper's dusk pyramid; 50 overcooks skies into the rock's orange).
    "fast": Weights(style=3.0, content=0.6, smooth=20.0),
    "mrf": Weights(style=0.0, content=0.6, tv=2.0, mrf=1.0),
}


def compute_targets(
    net: torch.nn.Module,
    backbone: str,
    content: torch.Tensor,
    style: torch.Tensor,
    content_masks: torch.Tensor | None,
    style_masks: torch.Tensor | None,
) -> Targets:
    """Content features and (per-region) style Grams; masks are (R, H, W) at the images' size."""
    lay = LAYERS[backbone]
    with torch.no_grad():
        cf = net.features(content, [lay.content, *lay.style])
        sf = net.features(style, list(lay.style))
    grams, masks, weights = {}, {}, {}
    for name in lay.style:
        if content_masks is None or style_masks is None:
            grams[name] = losses.gram(sf[name])[None]
            continue
        sm = masks_at(style_masks, tuple(sf[name].shape[-2:]))
        grams[name] = torch.stack([losses.gram(sf[name], m) for m in sm])
        cm = masks_at(content_masks, tuple(cf[name].shape[-2:]))
        masks[name] = cm
        weights[name] = cm.flatten(1).mean(1)
    has = content_masks is not None and style_masks is not None
    return Targets(cf[lay.content], grams, masks if has else None, weights if has else None)


def neural_loss(net: torch.nn.Module, backbone: str, img: torch.Tensor, t: Targets,
                w: Weights) -> torch.Tensor:
    """w_s · (augmented) style loss + w_c · content loss of an image (1, 3, H, W)."""
    lay = LAYERS[backbone]
    feats = net.features(img, [lay.content, *lay.style])
    total = w.content * losses.content_loss(feats[lay.content], t.content_feat)
    style = img.new_zeros(())
    for name in lay.style:
        m = None if t.masks is None else t.masks[name]
        rw = None if t.weights is None else t.weights[name]
        style = style + losses.style_loss(feats[name], t.grams[name], m, rw)
    return total + w.style * style / len(lay.style)


class _Reporter:
    """Progress per iteration; a ≤ 256 px preview at most about once a second."""

    def __init__(self, progress: Progress, cancelled: Callable[[], bool], lo: float, hi: float,
                 stage: str) -> None:
        self.progress, self.cancelled, self.lo, self.hi, self.stage = (
            progress, cancelled, lo, hi, stage)
        self.last = 0.0

    def __call__(self, frac: float, preview: Callable[[], torch.Tensor]) -> None:
        check_cancel(self.cancelled)
        now = time.monotonic()
        pv = None
        if now - self.last >= 1.0:
            self.last = now
            pv = to_preview(preview())
        self.progress(self.lo + (self.hi - self.lo) * frac, self.stage, pv)


def to_preview(img: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) → ≤ 256 px H×W×3 uint8 for progress messages."""
    h, w = img.shape[-2:]
    s = min(1.0, 256 / max(h, w))
    small = resize(img.detach().float(), (max(1, round(h * s)), max(1, round(w * s))))
    return (small[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)


def _optimise(params: list[torch.Tensor], loss_fn: Callable[[], torch.Tensor], iters: int,
              lr: float, report: _Reporter, preview: Callable[[], torch.Tensor],
              clamp: torch.Tensor | None = None) -> list[float]:
    opt = torch.optim.Adam(params, lr=lr)
    history = []
    for i in range(iters):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        if clamp is not None:
            with torch.no_grad():
                clamp.clamp_(0.0, 1.0)  # pixels stay displayable: projected gradient descent
        history.append(loss.item())
        report((i + 1) / iters, preview)
    return history


def run_fast(net, backbone: str, content: torch.Tensor, t: Targets, w: Weights, iters: int,
             report: _Reporter) -> torch.Tensor:
    """Optimise the affine bilateral grid on the working-size content; return the grid
    (1, 12, D, Gh, Gw) (apply it with :func:`grid.apply_full` at any size)."""
    d, gh, gw = bgrid.grid_shape(*content.shape[-2:])
    g = bgrid.identity_grid(d, gh, gw, content.device).requires_grad_(True)

    def loss_fn() -> torch.Tensor:
        out = bgrid.slice_apply(g, content)
        # Out-of-range colours are penalised rather than clipped, so gradients keep flowing.
        gamut = (out - out.clamp(0, 1)).pow(2).mean()
        return (neural_loss(net, backbone, out, t, w) + w.smooth * bgrid.smoothness(g)
                + 10.0 * gamut)

    _optimise([g], loss_fn, iters, 0.02, report,
              lambda: bgrid.slice_apply(g, content).clamp(0, 1))
    return g.detach()


def run_pixels(net, backbone: str, content: torch.Tensor, t: Targets, w: Weights, iters: int,
               report: _Reporter, lap: torch.Tensor | None = None,
               init: torch.Tensor | None = None) -> torch.Tensor:
    """Gatys (``lap`` None) or Deep Photo Style Transfer (``lap`` the content's matting
    Laplacian from :func:`laplacian.to_torch`): optimise the pixels, started from ``init``
    (default: the content)."""
    x = (content if init is None else init).clone().requires_grad_(True)

    def loss_fn() -> torch.Tensor:
        loss = neural_loss(net, backbone, x, t, w)
        if w.tv:
            loss = loss + w.tv * losses.total_variation(x)
        if lap is not None and w.photo:
            loss = loss + w.photo * laplacian.photorealism_loss(x, lap)
        return loss

    _optimise([x], loss_fn, iters, 0.01, report, lambda: x, clamp=x)
    return x.detach()


def run_mrf(net, backbone: str, content: torch.Tensor, style: torch.Tensor, w: Weights,
            iters: int, report: _Reporter, scales: int = 3) -> torch.Tensor:
    """CNNMRF, coarse to fine: at each scale (¼, ½, 1 of the working size) the style's
    feature patches are collected, and the output — started from the previous scale,
    upsampled, or from the content — is optimised against them."""
    lay = LAYERS[backbone]
    x = None
    for s in range(scales):
        f = 2 ** (scales - 1 - s)
        # ≥ 64 px per side: the stride-16 MRF layer must still hold 3×3 patches.
        size = (max(64, content.shape[-2] // f), max(64, content.shape[-1] // f))
        c = resize(content, size)
        st = resize(style, (max(64, style.shape[-2] // f), max(64, style.shape[-1] // f)))
        with torch.no_grad():
            sf = net.features(st, list(lay.mrf))
            patches = {n: losses.style_patches(sf[n]) for n in lay.mrf}
            cf = net.features(c, [lay.content])[lay.content]
        x0 = c if x is None else F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        xv = x0.clone().requires_grad_(True)

        def loss_fn(xv: torch.Tensor = xv, cf: torch.Tensor = cf,
                    patches: dict = patches) -> torch.Tensor:
            feats = net.features(xv, [lay.content, *lay.mrf])
            loss = w.content * losses.content_loss(feats[lay.content], cf)
            for n in lay.mrf:
                loss = loss + w.mrf * losses.mrf_loss(feats[n], patches[n]) / len(lay.mrf)
            return loss + w.tv * losses.total_variation(xv)

        sub = _Reporter(report.progress, report.cancelled,
                        report.lo + (report.hi - report.lo) * s / scales,
                        report.lo + (report.hi - report.lo) * (s + 1) / scales,
                        f"{report.stage} (scale {s + 1}/{scales})")
        sub.last = report.last
        _optimise([xv], loss_fn, iters, 0.02, sub, lambda xv=xv: xv, clamp=xv)
        report.last = sub.last
        x = xv.detach()
    assert x is not None
    return resize(x, tuple(content.shape[-2:])).clamp(0, 1)
