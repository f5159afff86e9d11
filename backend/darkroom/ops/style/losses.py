"""The losses of neural style transfer, as pure functions of feature maps.

Feature maps are (1, C, h, w) tensors from a backbone (see :mod:`.features`); masks are
(R, h, w) float tensors in [0, 1], one per paired region. All losses are scalars; each is
normalised so that its size does not depend on the layer width or the image size, so the
weights in :mod:`.solve` transfer between backbones and working sizes.

* content loss — Gatys et al. 2016, §2 (eq. 1): squared feature difference at one layer.
* style loss — Gatys et al. 2016, §2 (eqs. 3–5): squared Gram-matrix difference per layer.
* augmented (semantic) style loss — Luan et al. 2017, §3.2 (eq. 3): one Gram matrix per
  region, computed on the feature map multiplied by that region's mask.
* MRF loss — Li & Wand 2016, §3.1 (eqs. 2–3): every 3×3 patch of the output's features is
  pulled towards the style patch with the highest normalised cross-correlation.
* total variation — a smoothness prior on pixels (Mahendran & Vedaldi 2015; used by both).
* edge loss — ours, for the painterly modes: the output's luminance gradients against the
  content's, so that outlines survive the brush texture (see :func:`edge_loss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gram(feat: torch.Tensor, mask: torch.Tensor | None = None,
         support: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Gram matrix of a (1, C, h, w) feature map → (C, C), divided by the pixel count.

    With ``mask`` (h, w) in [0, 1], the features are weighted by the mask first and the
    division is by the mask's sum (Luan et al. 2017, §3.2: F_l M_l,c), so a region's Gram is
    its own average second moment whatever its size. ``support`` — the same mask as
    :func:`region_support` gives it — is the faster form: only the pixels the mask touches
    are multiplied, so R regions cost about one whole-image Gram instead of R.
    """
    f = feat.reshape(feat.shape[1], -1)
    if support is not None:
        idx, m = support
        fm = f.index_select(1, idx) * m
        return fm @ fm.t() / m.sum().clamp_min(1.0)
    if mask is None:
        return f @ f.t() / f.shape[1]
    m = mask.reshape(1, -1)
    fm = f * m
    return fm @ fm.t() / m.sum().clamp_min(1.0)


def region_support(masks: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Masks (R, h, w) → per region (flat indices of its non-zero pixels, their mask values),
    computed once per layer so that the optimisation loop never searches the masks."""
    out = []
    for m in masks:
        v = m.reshape(-1)
        idx = torch.nonzero(v > 0)[:, 0]
        out.append((idx, v.index_select(0, idx)))
    return out


def content_loss(feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared feature difference, relative to the target's mean square (scale-free)."""
    return F.mse_loss(feat, target) / target.pow(2).mean().clamp_min(1e-8)


def style_loss(
    feat: torch.Tensor,
    target_grams: torch.Tensor,
    masks: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    support: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> torch.Tensor:
    """Gram-matrix distance of ``feat`` (1, C, h, w) to ``target_grams`` (R, C, C).

    Without masks R = 1 (the whole image). With ``masks`` (R, h, w) — or the same masks as
    :func:`region_support`, faster — region r of the output is compared with region r of the
    style; ``weights`` (R,) — the regions' share of the output — weight the sum (Luan et al.
    2017, eq. 3). Each term is divided by the target Gram's squared norm, so a layer with large
    activations does not drown the others.
    """
    loss = feat.new_zeros(())
    n = target_grams.shape[0]
    for r in range(n):
        if support is not None:
            g = gram(feat, support=support[r])
        else:
            g = gram(feat, None if masks is None else masks[r])
        t = target_grams[r]
        term = (g - t).pow(2).sum() / t.pow(2).sum().clamp_min(1e-8)
        loss = loss + (term if weights is None else weights[r] * term)
    return loss


def total_variation(img: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels of a (1, 3, H, W) image."""
    dx = img[..., :, 1:] - img[..., :, :-1]
    dy = img[..., 1:, :] - img[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


#: Rec. 601 luma weights: edges are judged on brightness, where the eye finds outlines.
_LUMA = (0.299, 0.587, 0.114)


def luma_gradients(img: torch.Tensor) -> torch.Tensor:
    """Horizontal and vertical finite differences of the luminance of a (1, 3, H, W) image
    → (2, H - 1, W - 1)."""
    y = (img * img.new_tensor(_LUMA).view(1, 3, 1, 1)).sum(1)[0]
    return torch.stack([y[:-1, 1:] - y[:-1, :-1], y[1:, :-1] - y[:-1, :-1]])


def edge_loss(img: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the luminance gradients of ``img`` and ``target``
    (precomputed with :func:`luma_gradients`), relative to the target's mean square.

    Gatys et al.'s content loss (2016, §2) sits on a deep layer that keeps the layout but
    leaves the outlines to the style's texture: a face's contour or a rock's silhouette wanders
    with the brush strokes. A term on the pixel gradients themselves pins the outlines where
    the content has them and, where it is flat, costs brush texture only in proportion to
    its contrast.
    """
    return F.mse_loss(luma_gradients(img), target) / target.pow(2).mean().clamp_min(1e-8)


def style_patches(feat: torch.Tensor, size: int = 3, stride: int = 1) -> torch.Tensor:
    """All ``size``×``size`` patches of a (1, C, h, w) map → (N, C·size²) (Li & Wand §3.1)."""
    p = F.unfold(feat, size, stride=stride)  # (1, C*k*k, N)
    return p[0].t().contiguous()


def mrf_loss(feat: torch.Tensor, patches: torch.Tensor, size: int = 3,
             coverage: float = 0.0) -> torch.Tensor:
    """CNNMRF loss (Li & Wand 2016, eqs. 2–3) of ``feat`` (1, C, h, w) against style
    ``patches`` (N_s, C·size²).

    Each output patch Ψ_i is matched to the style patch of highest normalised
    cross-correlation (the match is a constant: no gradient flows through the arg-max), and the
    loss is the mean squared distance to it, relative to the patches' mean square.

    ``coverage`` > 0 replaces the plain nearest neighbour with the *guided correspondence*
    normalisation of Zhou et al. 2023 ("Neural Texture Synthesis with Guided Correspondence",
    §3.1, after Kolkin et al.'s relaxed EMD and Mechrez et al.'s contextual loss): with
    d_ij = 1 − cos(Ψ_i, Φ_j), output patch i takes the style patch minimising
    d_ij / (coverage + min_k d_kj). A style patch that some output patch already fits well is
    made expensive for every other one, so the matches spread over the whole style instead of
    reusing the few patches that fit a smooth photo best — the style's overall statistics
    (palette, stroke density) are then reached. Smaller ``coverage`` spreads harder.
    """
    out = style_patches(feat, size)  # (N_o, D)
    target = patches[mrf_matches(out.detach(), patches, coverage)]
    return F.mse_loss(out, target) / target.pow(2).mean().clamp_min(1e-8)


@torch.no_grad()
def mrf_matches(out: torch.Tensor, patches: torch.Tensor, coverage: float = 0.0
                ) -> torch.Tensor:
    """Index (N_o,) of the style patch each output patch (N_o, D) is matched to: highest
    cosine, or with ``coverage`` > 0 the guided-correspondence rule of :func:`mrf_loss`."""
    on = F.normalize(out, dim=1)
    sn = F.normalize(patches, dim=1)
    # Chunked so that N_o × N_s never has to exist at once for large maps.
    if coverage <= 0:
        return torch.cat([(c @ sn.t()).argmax(dim=1) for c in on.split(4096)])
    colmin = torch.stack([(1 - c @ sn.t()).min(dim=0).values
                          for c in on.split(4096)]).min(dim=0).values
    scale = 1.0 / (coverage + colmin.clamp_min(0))
    return torch.cat([((1 - c @ sn.t()) * scale).argmin(dim=1) for c in on.split(4096)])
