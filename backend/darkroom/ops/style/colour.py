"""Colour starts for the photo methods: where the optimisation begins.

Both photo methods (and CNNMRF) start from the content recoloured towards the style, not from
the content itself: the neural losses then only have to add the style's local tone and texture,
instead of travelling through wrong hues (blue → green → yellow) to reach its colours.

* Without labels: one global affine colour map (:func:`colour_transform`), the minimal-
  displacement map of Pitié & Kokaram 2007 between the two images' colour distributions.
* With region labels (Luan et al. 2017, §3.2 pair regions): one such map **per region pair**,
  each fitted between the content region's and the paired style region's colours, blended
  into one bilateral grid of affine transforms (:func:`region_grid`). A sky is then recoloured
  to the style's sky and a table to the style's table — a global map gives both the same
  average cast (in17's blue tablecloth went green, in58's sky teal). The grid keeps the start
  locally affine in colour, so it is already photorealistic (§3.1) and is the same for the
  fast method (its initial parameters) and for dpst (its initial pixels, sliced).

With labels, during the optimisation :func:`colour_distance` (a sliced Wasserstein distance per
region) keeps each region's colours among the paired style region's colours. Not without: over
the whole picture it paints the style's colours wherever there is room (blots of the rock's
orange in a sky), which is exactly what the pairing prevents.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from darkroom.ops.style import grid as bgrid

_EPS = 1e-5  # ridge on covariances: flat regions (a white sky) stay invertible


def _stats(x: torch.Tensor, weight: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted colour mean (C, 1) and covariance (C, C) of (1, C, H, W), in float64."""
    c = x.shape[1]
    v = x[0].reshape(c, -1).double()
    if weight is None:
        w = torch.full((v.shape[1],), 1.0 / v.shape[1], dtype=v.dtype, device=v.device)
    else:
        w = weight.reshape(-1).to(v)
        w = w / w.sum().clamp_min(1e-12)
    mu = (v * w).sum(1, keepdim=True)
    d = v - mu
    return mu, (d * w) @ d.t() + _EPS * torch.eye(c, dtype=v.dtype, device=v.device)


def _power(c: torch.Tensor, p: float) -> torch.Tensor:
    e, q = torch.linalg.eigh(c)
    return q @ torch.diag(e.clamp_min(1e-10) ** p) @ q.t()


def colour_transform(img: torch.Tensor, style: torch.Tensor, img_weight: torch.Tensor | None = None,
                     style_weight: torch.Tensor | None = None) -> torch.Tensor:
    """The affine colour map (3, 4) that gives ``img`` (1, 3, H, W) the colour mean and
    covariance of ``style`` (1, 3, h, w) while moving colours as little as possible (any
    channel count C works the same: (C, C + 1); grey gives A = σ_s / σ_i) — the
    Monge–Kantorovich linear map of Pitié & Kokaram 2007 (§2):
    A = Σ_i^-½ (Σ_i^½ Σ_s Σ_i^½)^½ Σ_i^-½, x ↦ A (x − μ_i) + μ_s. (The simpler Σ_s^½ Σ_i^-½
    matches the same statistics but may rotate hues: in14's blue sky turned green.) One global
    affine map of the colours, so photorealistic by construction; Gatys et al. 2017
    ("Controlling Perceptual Factors", §5.1) use such a transfer the other way round.

    ``img_weight`` (H, W) and ``style_weight`` (h, w), ≥ 0, restrict the statistics to a region
    (a label mask)."""
    mi, ci = _stats(img, img_weight)
    ms, cs = _stats(style, style_weight)
    half, inv_half = _power(ci, 0.5), _power(ci, -0.5)
    a = inv_half @ _power(half @ cs @ half, 0.5) @ inv_half
    return torch.cat([a, ms - a @ mi], 1).to(img.dtype)


def match_colours(img: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """``img`` (1, 3, H, W) recoloured by :func:`colour_transform` to the style's colour
    statistics, clipped to [0, 1]."""
    m = colour_transform(img, style)
    out = torch.einsum("ij,bjhw->bihw", m[:, :3], img) + m[:, 3].view(1, 3, 1, 1)
    return out.clamp(0.0, 1.0)


def _blur3(x: torch.Tensor, times: int = 2) -> torch.Tensor:
    """[1, 2, 1] / 4 smoothing along luminance, y and x of a (1, C, D, Gh, Gw) grid."""
    c = x.shape[1]
    k = x.new_tensor([0.25, 0.5, 0.25])
    for _ in range(times):
        for shape, pad in (((3, 1, 1), (0, 0, 0, 0, 1, 1)),
                           ((1, 3, 1), (0, 0, 1, 1, 0, 0)),
                           ((1, 1, 3), (1, 1, 0, 0, 0, 0))):
            kernel = k.view(1, 1, *shape).expand(c, 1, *shape).contiguous()
            x = F.conv3d(F.pad(x, pad, mode="replicate"), kernel, groups=c)
    return x


def region_grid(content: torch.Tensor, style: torch.Tensor, content_masks: torch.Tensor | None,
                style_masks: torch.Tensor | None) -> torch.Tensor:
    """The start grid (1, 12, D, Gh, Gw) of :func:`grid.grid_shape` for ``content``.

    Without masks every cell holds the global :func:`colour_transform`. With paired masks
    (R, H, W) and (R, h, w) — content and style at their working sizes — region r gets its own
    map T_r, fitted between the masked colours, and each cell the blend Σ_r s_r T_r, s_r being
    region r's share of the content pixels that slicing reads from that cell (the splat of
    :func:`grid.splat`, smoothed so that cells no pixel reaches take their neighbours')."""
    d, gh, gw = bgrid.grid_shape(*content.shape[-2:])
    glob = colour_transform(content, style)
    if content_masks is None or style_masks is None or content_masks.shape[0] < 2:
        return glob.reshape(1, 12, 1, 1, 1).expand(1, 12, d, gh, gw).clone()
    # A region too small to survive the resize to the working size keeps the global map.
    maps = torch.stack([colour_transform(content, style, cm, sm)
                        if cm.sum() > 0 and sm.sum() > 0 else glob
                        for cm, sm in zip(content_masks, style_masks)])  # (R, 3, 4)
    share = _blur3(bgrid.splat(content_masks[None].to(content), content, (d, gh, gw)))
    total = share.sum(1, keepdim=True)
    share = share / total.clamp_min(1e-6)
    cells = torch.einsum("brdyx,rk->bkdyx", share, maps.reshape(-1, 12))
    # Cells no pixel reaches even after smoothing keep the global map.
    empty = (total < 1e-6).expand_as(cells)
    return torch.where(empty, glob.reshape(1, 12, 1, 1, 1).expand_as(cells), cells)


#: Pixels per region each step compares (drawn anew every step): sorting every pixel's 16
#: projections doubled the cost of a step at 256 px; a fresh sample per step is as good a
#: descent direction over hundreds of steps (stochastic sliced Wasserstein).
SAMPLES = 8192

#: Tail share the solvers leave out of the colour distance (see :func:`colour_distance`):
#: about the share of stray colours a region picks up (in14's style: a strip of dark horizon
#: in the sky region, 3–4 %).
TRIM = 0.05

#: Directions the colour distributions are compared along: the three channel axes and 13
#: fixed pseudo-random ones (the same on every run, whatever the user's seed).
N_DIRECTIONS = 16


def _directions(device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    gen = torch.Generator().manual_seed(20170101)
    rand = torch.randn(3, N_DIRECTIONS - 3, generator=gen, dtype=torch.float64)
    d = torch.cat([torch.eye(3, dtype=torch.float64), rand], 1)
    return F.normalize(d, dim=0).to(device=device, dtype=dtype)  # (3, K)


@dataclass
class ColourTargets:
    """Per region: the content pixels it owns (flat indices), its share of the picture, and
    the style region's colour quantiles along each direction, one per compared pixel (all the
    region's pixels, or :data:`SAMPLES` of them)."""

    directions: torch.Tensor  # (3, K)
    regions: list[tuple[torch.Tensor, torch.Tensor, float]]  # (indices (n,), (K, n), share)
    #: share of each tail of the quantile functions left out of the comparison (0: the plain
    #: sliced distance; see :data:`TRIM`)
    trim: float = 0.0


def colour_targets(content: torch.Tensor, style: torch.Tensor,
                   content_masks: torch.Tensor | None, style_masks: torch.Tensor | None,
                   trim: float = 0.0) -> ColourTargets:
    """Targets of :func:`colour_distance` for (1, 3, H, W) content and (1, 3, h, w) style at
    their working sizes, with paired masks (R, H, W) / (R, h, w) or none (one region).

    The output has the content's geometry, so how many pixels each region compares (n: all of
    them, at most :data:`SAMPLES`) is known here and the style's sorted projections are
    resampled once to n quantiles."""
    dirs = _directions(content.device, content.dtype)
    hw = content.shape[-2] * content.shape[-1]
    sv = style[0].reshape(3, -1)
    regions = []
    n_regions = 1 if content_masks is None or style_masks is None else content_masks.shape[0]
    for r in range(n_regions):
        if content_masks is None or style_masks is None:
            idx = torch.arange(hw, device=content.device)
            src = sv
        else:
            # Each pixel belongs to its majority region (area-resized masks blend at seams).
            idx = torch.nonzero(content_masks[r].reshape(-1) > 0.5)[:, 0]
            src = sv[:, style_masks[r].reshape(-1) > 0.5]
        if idx.numel() == 0 or src.shape[1] < 2:
            continue
        proj = torch.sort(dirs.t() @ src, dim=1).values  # (K, n_s)
        n = min(idx.numel(), SAMPLES)
        q = (torch.arange(n, device=content.device, dtype=content.dtype) + 0.5) / n
        pos = q * (proj.shape[1] - 1)
        lo = pos.floor().long().clamp(0, proj.shape[1] - 2)
        f = pos - lo
        regions.append((idx, proj[:, lo] * (1 - f) + proj[:, lo + 1] * f, idx.numel() / hw))
    return ColourTargets(dirs, regions, trim)


def colour_distance(img: torch.Tensor, t: ColourTargets) -> torch.Tensor:
    """Sliced Wasserstein-2 distance between each region's colours in ``img`` (1, 3, H, W) and
    the paired style region's (Rabin et al. 2011; Heitz et al. 2021, §3 for textures): the
    colours projected on :data:`N_DIRECTIONS` directions, sorted, compared quantile by
    quantile; regions weighted by their share of the picture. Unlike matching the mean and
    covariance it penalises colours the style region does not have at all: in14's sky turned
    teal between the style's blue and cream, which have the right mean and covariance.

    With ``t.trim`` > 0 only the quantiles between trim and 1 − trim are compared, the
    trimmed distance of Álvarez-Esteban et al. 2008 (§2, trimmed distributions): a few
    percent of outliers in the style region (a dark horizon caught in a sky region) no longer
    demand as many dark pixels in the output, which the optimiser found wherever they were
    cheapest — a dark blot in the sky beside in14's rock."""
    v = img[0].reshape(3, -1)
    total = img.new_zeros(())
    for idx, target, share in t.regions:
        if idx.numel() > target.shape[1]:  # a fresh sample of the region's pixels
            idx = idx[torch.randint(idx.numel(), (target.shape[1],), device=idx.device)]
        proj = torch.sort(t.directions.t() @ v.index_select(1, idx), dim=1).values
        k = int(t.trim * proj.shape[1])
        if k and proj.shape[1] - 2 * k > 1:  # the trimmed comparison: central quantiles only
            proj, target = proj[:, k:-k], target[:, k:-k]
        total = total + share * (proj - target).pow(2).mean()
    return total
