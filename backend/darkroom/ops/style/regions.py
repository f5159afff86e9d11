"""Automatic region pairing: label maps made from the pictures themselves.

Deep Photo Style Transfer pairs regions of the content and the style (Luan et al. 2017, §3.2,
"augmented style loss") with masks from a semantic segmentation network (DilatedNet, §3.2
and §4). No such weights are available offline here, so the regions are built from what is:

1. **Superpixels** (SLIC, Achanta et al. 2012, §3): k-means on colour (CIELAB) and position,
   each centre searching a window of 2S around it, so every superpixel is compact and its
   edges follow the picture's colour edges. Everything below works on superpixels, which
   is what gives the regions clean outlines at a fraction of the pixels' cost.
2. **Descriptors** per superpixel: the backbone's mid- and high-level features
   (:data:`LAYERS`, each channel standardised *per image* so that a night picture and a day
   picture are compared by what they show, not by their exposure), the mean colour and the
   position.
3. **Clustering with spatial coherence**: k-means on the descriptors, then a Potts-model
   smoothing over the superpixel adjacency graph (iterated conditional modes with a
   contrast-sensitive pairwise term, the CRF of Krähenbühl & Koltun 2011 §2 restricted to
   neighbours): a superpixel joins its neighbours' region unless its own descriptor clearly
   disagrees, and regions smaller than :data:`MIN_SHARE` join their most similar neighbour.
4. **Pixel-level refinement** (:func:`refine`): superpixels that straddle an edge, or that
   the blurry stride-16 features put in the wrong region (a band of sky beside a rock), are
   corrected pixel by pixel: each region gets a colour model (a CIELAB histogram, as
   GrabCut's colour models, Rother et al. 2004 §3) and a mean feature, and a few mean-field
   iterations of a dense CRF (Krähenbühl & Koltun 2011 §3–4) weigh those against agreeing
   with the neighbours, where "neighbours" is an edge-aware guided filter (He et al. 2010,
   §3.5, the colour-guide form) rather than a Gaussian bilateral one.
5. **Pairing by similarity**: each content region takes the style region whose mean feature
   (backbone features only, standardised; colour is what is being transferred, so it must
   not decide the pairing) is most similar by cosine, if that similarity reaches
   :data:`MIN_SIMILARITY` and the style region is not a sliver; otherwise it takes the
   **whole style** (the same fallback as a small unpaired labelled region, :mod:`.labels`).

The result has the form :func:`labels.paired_masks` gives, so the per-region machinery of
:mod:`.colour` and :mod:`.solve` runs unchanged; user label maps, when given, win.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from darkroom.ops.style.features import resize, working_size

#: Backbone taps for the descriptors: stride 8 (parts, materials) and stride 16 (objects).
LAYERS = {"efficientnet_lite0": ("block4", "block10"), "vgg19": ("relu3_1", "relu4_1")}
FEATURE_SIZE = 256  #: longest side (px) the backbone sees
GRID_SIZE = 128  #: longest side (px) of the superpixel grid
SEGMENTS = 160  #: superpixels per picture (SLIC's K)
COMPACTNESS = 12.0  #: SLIC's m: colour (CIELAB units) vs spatial distance in grid steps
LAB_SPREAD = 20.0  #: CIELAB spread a picture's colours are scaled to before SLIC
CLUSTERS = 5  #: k-means regions per picture, before merging
MIN_SHARE = 0.04  #: regions below this share of the picture join a neighbour
COLOUR_WEIGHT = 0.5  #: descriptor weight of colour against the (unit-norm) features
POSITION_WEIGHT = 0.5  #: descriptor weight of position
SMOOTHNESS = 0.5  #: Potts weight of a superpixel boundary (per unit of shared border)
MIN_SIMILARITY = 0.25  #: pairing score (see :func:`pair`) below which there is no partner
LAYOUT_WEIGHT = 0.5  #: weight of the layout overlap (soft IoU) in the pairing score
LAYOUT = 16  #: side of the relative-position grid the layouts are compared on
MIN_PARTNER_SHARE = 0.02  #: style regions smaller than this share are not partners
REFINE_SWEEPS = 5  #: mean-field iterations of the pixel-level refinement (:func:`refine`)
REFINE_PAIRWISE = 4.0  #: weight of the edge-aware agreement with the neighbours
REFINE_RADIUS = 4  #: guided-filter window radius (grid pixels, 128 px longest side)
REFINE_EPS = 1e-3  #: guided-filter regulariser (colour variance, [0, 1] units squared)
COLOUR_BINS = 12  #: histogram bins per CIELAB axis of a region's colour model

#: Palette colours for the region maps (the 27-colour palette of :mod:`.labels`), so a map
#: the op returns can be edited and given back as a label map.
PALETTE = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 0), (255, 0, 255),
           (0, 255, 255), (255, 128, 0), (128, 0, 128), (0, 128, 128), (128, 128, 0),
           (128, 0, 0), (0, 0, 128), (0, 128, 0), (255, 255, 255))
FALLBACK_COLOUR = (128, 128, 128)  #: content regions that take the whole style


@dataclass
class Segmentation:
    """One picture's regions on its superpixel grid."""

    labels: np.ndarray  # (h, w) int region index per grid pixel
    features: np.ndarray  # (R, D) mean standardised backbone feature per region
    shares: np.ndarray  # (R,) share of the picture
    layout: np.ndarray  # (R, L·L) each region's mask on an L×L grid of relative positions


@dataclass
class AutoRegions:
    """Paired regions: masks as :func:`labels.paired_masks` returns them, and the maps."""

    content_masks: np.ndarray  # (R, Hc, Wc) float32, sum to 1 per pixel
    style_masks: np.ndarray  # (R, Hs, Ws) float32; all ones for a region without partner
    partners: list[int | None]  # style region of each content region (None: whole style)
    similarity: list[float]  # the cosine similarity that decided each pairing
    content_map: np.ndarray  # (h, w, 3) uint8 on the content's grid: paired regions share a
    style_map: np.ndarray  # (h, w, 3) uint8 on the style's grid    colour


def _lab(img: torch.Tensor) -> np.ndarray:
    """(1, 3, h, w) sRGB [0, 1] → (h, w, 3) float32 CIELAB (L 0–100)."""
    rgb = np.ascontiguousarray(img[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy(), np.float32)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)


def superpixels(lab: np.ndarray, segments: int = SEGMENTS, compactness: float = COMPACTNESS,
                iters: int = 8) -> np.ndarray:
    """SLIC superpixels (Achanta et al. 2012, §3) of an (h, w, 3) CIELAB image → (h, w) int
    labels 0..n-1 (every label used). Distances to all centres are computed at once (a few
    hundred centres × the grid's pixels is small) and centres farther than 2S are masked
    out, which is SLIC's local search."""
    h, w = lab.shape[:2]
    # Colour in units of the picture's own contrast (≈ SLICO's adaptive m, §4.4): a dark,
    # low-contrast picture still gets superpixels that follow its edges.
    lab = lab * (LAB_SPREAD / max(float(lab.reshape(-1, 3).std(0).mean()), 1.0))
    step = max(2.0, (h * w / segments) ** 0.5)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    pix = torch.from_numpy(np.concatenate([lab.reshape(-1, 3),
                                           np.stack([ys.ravel(), xs.ravel()], 1)], 1))
    cy = np.arange(step / 2, h, step)
    cx = np.arange(step / 2, w, step)
    gy, gx = np.meshgrid(cy, cx, indexing="ij")
    idx = (np.clip(gy.round(), 0, h - 1) * w + np.clip(gx.round(), 0, w - 1)).astype(np.int64)
    centres = pix[torch.from_numpy(idx.ravel())].clone()
    scale = torch.tensor([1.0, 1.0, 1.0, compactness / step, compactness / step])
    p = pix * scale
    # SLIC's window: each pixel considers the centres that started within 2S of it (centres
    # move well under S, so the window is fixed once instead of every iteration).
    far = ((pix[:, None, 3:] - centres[None, :, 3:]).abs() > 2 * step).any(-1)
    outside = torch.zeros(far.shape).masked_fill_(far, float("inf"))
    for _ in range(iters):
        c = centres * scale
        assign = (torch.cdist(p, c).pow(2) + outside).argmin(1)
        n = torch.bincount(assign, minlength=len(centres)).float()
        sums = torch.zeros_like(centres).index_add_(0, assign, pix)
        keep = n > 0
        centres = torch.where(keep[:, None], sums / n.clamp_min(1)[:, None], centres)
    lab_map = assign.reshape(h, w).numpy()
    _, inv = np.unique(lab_map, return_inverse=True)
    return inv.reshape(h, w)


def _adjacency(sp: np.ndarray, n: int) -> np.ndarray:
    """(n, n) shared border length (in grid pixels) between superpixels."""
    adj = np.zeros((n, n), np.float32)
    for a, b in ((sp[:, 1:], sp[:, :-1]), (sp[1:], sp[:-1])):
        m = a != b
        np.add.at(adj, (a[m], b[m]), 1.0)
    return adj + adj.T


def _standardise(feat: torch.Tensor) -> torch.Tensor:
    """(1, C, h, w) → per-channel zero mean, unit variance over the image, scaled so a pixel's
    vector has an expected squared norm of 1 whatever C (layers weigh the same)."""
    f = feat - feat.mean((2, 3), keepdim=True)
    f = f / f.std((2, 3), keepdim=True, correction=0).clamp_min(1e-6)
    return f / feat.shape[1] ** 0.5


def _kmeans(x: torch.Tensor, k: int, iters: int = 20, seed: int = 0) -> torch.Tensor:
    """k-means++ (Arthur & Vassilvitskii 2007) then Lloyd's iterations; (N, D) → (N,) labels."""
    gen = torch.Generator().manual_seed(seed)
    k = min(k, x.shape[0])
    centres = [x[torch.randint(x.shape[0], (1,), generator=gen)][0]]
    for _ in range(1, k):
        d = torch.cdist(x, torch.stack(centres)).pow(2).min(1).values
        if d.sum() <= 0:
            break
        centres.append(x[torch.multinomial(d / d.sum(), 1, generator=gen)][0])
    c = torch.stack(centres)
    for _ in range(iters):
        assign = torch.cdist(x, c).argmin(1)
        c = torch.stack([x[assign == j].mean(0) if (assign == j).any() else c[j]
                         for j in range(len(c))])
    return torch.cdist(x, c).argmin(1)


def _potts(desc: np.ndarray, colour: np.ndarray, size: np.ndarray, adj: np.ndarray,
           labels: np.ndarray, sweeps: int = 5) -> np.ndarray:
    """Iterated conditional modes on the superpixel graph: unary = squared distance to the
    region's mean descriptor (× the superpixel's size), pairwise = SMOOTHNESS × shared border
    (relative to the mean border) × exp(−ΔLab² / 2σ²) for each neighbour in another region:
    a contrast-sensitive Potts model, cheap where the colours change."""
    dlab = ((colour[:, None] - colour[None]) ** 2).sum(-1)
    sigma2 = max(float(np.median(dlab[adj > 0])) if (adj > 0).any() else 1.0, 1.0)
    border = adj / max(float(adj[adj > 0].mean()) if (adj > 0).any() else 1.0, 1e-6)
    wts = SMOOTHNESS * border * np.exp(-dlab / (2 * sigma2))
    k = labels.max() + 1
    for _ in range(sweeps):
        means = np.stack([desc[labels == j].mean(0) if (labels == j).any()
                          else np.full(desc.shape[1], np.inf) for j in range(k)])
        unary = ((desc[:, None] - means[None]) ** 2).sum(-1) * size[:, None]
        onehot = np.eye(k)[labels]
        # Cost of label j at i: the borders with neighbours not labelled j.
        pair = wts.sum(1, keepdims=True) - wts @ onehot
        new = np.nan_to_num(unary + pair, nan=np.inf).argmin(1)
        if (new == labels).all():
            break
        labels = new
    return labels


def _merge_small(labels: np.ndarray, desc: np.ndarray, size: np.ndarray, adj: np.ndarray
                 ) -> np.ndarray:
    """Regions under :data:`MIN_SHARE` of the picture join the most similar neighbouring
    region (or the most similar one at all, if isolated); returns labels 0..R-1."""
    total = size.sum()
    while True:
        ids = np.unique(labels)
        share = np.array([size[labels == j].sum() / total for j in ids])
        if len(ids) <= 1 or share.min() >= MIN_SHARE:
            break
        small = ids[share.argmin()]
        mine = labels == small
        means = {j: desc[labels == j].mean(0) for j in ids}
        touching = {int(j) for j in np.unique(labels[(adj[mine].sum(0) > 0)]) if j != small}
        others = touching or {int(j) for j in ids if j != small}
        best = min(others, key=lambda j: float(((means[j] - means[small]) ** 2).sum()))
        labels = np.where(mine, best, labels)
    _, inv = np.unique(labels, return_inverse=True)
    return inv


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)² window of each (h, w) plane of ``x`` (…, h, w), edges replicated."""
    flat = x.reshape(-1, *x.shape[-2:])
    out = np.stack([cv2.blur(a, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REPLICATE)
                    for a in flat])
    return out.reshape(x.shape)


def guided_filter(guide: np.ndarray, r: int = REFINE_RADIUS, eps: float = REFINE_EPS
                  ) -> Callable[[np.ndarray], np.ndarray]:
    """Guided filter with a colour guide (He et al. 2010, §3.5): ``guide`` (3, h, w) in [0, 1]
    → a function (K, h, w) → (K, h, w), each output plane locally an affine function of the
    guide's colours, so it smooths within a surface and stops at its edges. The guide's
    window statistics are computed once, for filtering many planes many times."""
    g = guide.astype(np.float32)
    mean_g = _box(g, r)
    cov = np.empty((3, 3, *g.shape[1:]), np.float32)
    for i in range(3):
        for j in range(i, 3):
            cov[i, j] = cov[j, i] = _box(g[i] * g[j], r) - mean_g[i] * mean_g[j]
    inv = np.linalg.inv(np.moveaxis(cov, (0, 1), (-2, -1)) + eps * np.eye(3, dtype=np.float32))

    def apply(src: np.ndarray) -> np.ndarray:
        p = src.astype(np.float32)  # (K, h, w)
        mean_p = _box(p, r)
        cov_gp = np.stack([_box(g[i] * p, r) - mean_g[i] * mean_p for i in range(3)], -1)
        a = np.moveaxis((inv @ cov_gp[..., None])[..., 0], -1, 1)  # (K, 3, h, w)
        b = mean_p - (a * mean_g).sum(1)
        return (_box(a, r) * g).sum(1) + _box(b, r)

    return apply


def refine(rgb: np.ndarray, lab: np.ndarray, feat: np.ndarray, labels: np.ndarray,
           sweeps: int = REFINE_SWEEPS) -> np.ndarray:
    """Pixel-level refinement of a region map (step 4): ``rgb`` (3, h, w) in [0, 1], ``lab``
    (h, w, 3) CIELAB, ``feat`` (D, h, w) standardised features, ``labels`` (h, w) region
    indices, each of 0..R−1 used → (h, w) region indices 0..R'-1 (a region may vanish).

    Unary: −log of the region's CIELAB histogram at the pixel's colour (Laplace-smoothed) −
    log of its share + the squared distance of the pixel's feature to the region's mean
    feature. Mean field: ``Q ← softmax(−U + w · G(Q))`` with G the colour-guided filter — a
    Potts dense CRF whose message passing is edge-aware filtering (Krähenbühl & Koltun 2011,
    §4, with the guided filter in place of the permutohedral lattice)."""
    r = int(labels.max()) + 1
    if r < 2:
        return labels
    h, w = labels.shape
    n = h * w
    # Colour models: one histogram per region over a COLOUR_BINS³ grid of CIELAB.
    lo, hi = lab.reshape(-1, 3).min(0), lab.reshape(-1, 3).max(0)
    q = ((lab.reshape(-1, 3) - lo) / np.maximum(hi - lo, 1e-6) * (COLOUR_BINS - 1e-3)).astype(int)
    cell = (q[:, 0] * COLOUR_BINS + q[:, 1]) * COLOUR_BINS + q[:, 2]
    flat = labels.ravel()
    hist = np.zeros((r, COLOUR_BINS ** 3), np.float64)
    np.add.at(hist, (flat, cell), 1.0)
    # Laplace smoothing spread over the colours present in the picture, so an unseen colour
    # costs the same in every region and the features decide.
    present = np.bincount(cell, minlength=COLOUR_BINS ** 3) > 0
    hist = (hist + present) / (hist.sum(1, keepdims=True) + present.sum())
    unary = -np.log(hist[:, cell].clip(1e-12))  # (r, n)
    shares = np.bincount(flat, minlength=r) / n
    unary -= np.log(shares.clip(1e-6))[:, None]
    f = feat.reshape(feat.shape[0], n)
    means = np.stack([f[:, flat == j].mean(1) for j in range(r)])  # every index 0..r-1 is used
    # ‖f − m‖² expanded: one (r, D) × (D, n) product instead of an (r, n, D) difference.
    unary += (f * f).sum(0)[None] - 2 * means @ f + (means * means).sum(1)[:, None]
    unary = unary.reshape(r, h, w)
    smooth = guided_filter(rgb)
    qm = np.eye(r, dtype=np.float32)[labels].transpose(2, 0, 1)  # start from the given map
    for _ in range(sweeps):
        logits = -unary + REFINE_PAIRWISE * smooth(qm)
        logits -= logits.max(0, keepdims=True)
        qm = np.exp(logits)
        qm /= qm.sum(0, keepdims=True)
    out = qm.argmax(0)
    _, inv = np.unique(out, return_inverse=True)
    return inv.reshape(h, w)


def segment(net: torch.nn.Module, backbone: str, img: torch.Tensor,
            clusters: int | None = None) -> Segmentation:
    """Regions of one picture (1, 3, H, W) in [0, 1] on its superpixel grid (steps 1–4)."""
    h, w = working_size(*img.shape[-2:], GRID_SIZE)
    small = resize(img, (h, w))
    lab = _lab(small)
    sp = superpixels(lab)
    n = int(sp.max()) + 1
    with torch.no_grad():
        x = resize(img, working_size(*img.shape[-2:], FEATURE_SIZE))
        feats = net.features(x, list(LAYERS[backbone]))
        per_pixel = torch.cat([F.interpolate(_standardise(feats[name]), size=(h, w),
                                             mode="bilinear", align_corners=False)
                               for name in LAYERS[backbone]], 1)[0]
    flat = torch.from_numpy(sp.ravel())
    size = torch.bincount(flat, minlength=n).float()

    def mean(v: torch.Tensor) -> np.ndarray:  # (D, h·w) → (n, D) superpixel means
        return (torch.zeros(n, v.shape[0]).index_add_(0, flat, v.t()) / size[:, None]).numpy()

    feat = mean(per_pixel.reshape(per_pixel.shape[0], -1))
    colour = mean(torch.from_numpy(lab.reshape(-1, 3).T.copy()))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    pos = mean(torch.from_numpy(np.stack([ys.ravel() / h, xs.ravel() / w])))
    # Colour in units of the picture's own spread; features already are.
    col = (colour - colour.mean(0)) / (colour.std(0).mean() + 1e-6)
    desc = np.concatenate([feat, COLOUR_WEIGHT * col / 3 ** 0.5,
                           POSITION_WEIGHT * pos / 2 ** 0.5], 1).astype(np.float32)
    labels = _kmeans(torch.from_numpy(desc), clusters or CLUSTERS).numpy()
    adj = _adjacency(sp, n)
    size_np = size.numpy() / size.numpy().mean()
    labels = _potts(desc, colour, size_np, adj, labels)
    labels = _merge_small(labels, desc, size_np, adj)
    pix = per_pixel.numpy()
    grid_labels = labels[sp]
    grid_labels = refine(small[0].clamp(0, 1).cpu().numpy(), lab, pix, grid_labels)
    r = int(grid_labels.max()) + 1
    gl = grid_labels.ravel()
    pf = pix.reshape(pix.shape[0], -1)
    feats_r = np.stack([pf[:, gl == j].mean(1) for j in range(r)])
    shares = np.bincount(grid_labels.ravel(), minlength=r) / grid_labels.size
    layout = _masks(grid_labels, r, (LAYOUT, LAYOUT)).reshape(r, -1)
    return Segmentation(grid_labels, feats_r, shares, layout)


def pair(content: np.ndarray, style: np.ndarray, style_shares: np.ndarray | None = None,
         content_layout: np.ndarray | None = None, style_layout: np.ndarray | None = None,
         min_similarity: float | None = None) -> tuple[list[int | None], list[float]]:
    """Pair regions by similarity (step 5): content descriptors (Rc, D) and style
    descriptors (Rs, D) → for each content region the index of the most similar style
    region, or None (take the whole style) when the best score is below ``min_similarity``
    or the partner covers less than :data:`MIN_PARTNER_SHARE` of the style. The score is the
    cosine similarity of the descriptors plus, with layouts ((R, L·L) masks on a grid of
    relative positions), :data:`LAYOUT_WEIGHT` × their soft IoU: a sky is above in both
    pictures more often than not. Several content regions may share a partner; a style
    region may go unused."""
    a = content / np.linalg.norm(content, axis=1, keepdims=True).clip(1e-8)
    b = style / np.linalg.norm(style, axis=1, keepdims=True).clip(1e-8)
    sim = a @ b.T
    if content_layout is not None and style_layout is not None:
        inter = np.minimum(content_layout[:, None], style_layout[None]).sum(-1)
        union = np.maximum(content_layout[:, None], style_layout[None]).sum(-1)
        sim = sim + LAYOUT_WEIGHT * inter / np.maximum(union, 1e-8)
    if style_shares is not None:
        sim = np.where(style_shares[None] >= MIN_PARTNER_SHARE, sim, -np.inf)
    best = sim.argmax(1)
    score = sim[np.arange(len(a)), best]
    least = MIN_SIMILARITY if min_similarity is None else min_similarity
    partners = [int(j) if s >= least else None for j, s in zip(best, score)]
    return partners, [round(float(s), 3) if np.isfinite(s) else -1.0 for s in score]


def _masks(labels: np.ndarray, n: int, size: tuple[int, int]) -> np.ndarray:
    """(h, w) region indices → (n, H, W) float32 masks at ``size``, soft at the seams."""
    onehot = torch.from_numpy(np.eye(n, dtype=np.float32)[labels]).permute(2, 0, 1)[None]
    m = F.interpolate(onehot, size=size, mode="bilinear", align_corners=False)[0]
    return (m / m.sum(0, keepdim=True).clamp_min(1e-6)).numpy()


def auto_masks(net: torch.nn.Module, backbone: str, content: torch.Tensor,
               style: torch.Tensor, content_size: tuple[int, int] | None = None,
               style_size: tuple[int, int] | None = None) -> AutoRegions:
    """Segment both pictures (1, 3, H, W) in [0, 1] (any size: they are analysed at
    :data:`FEATURE_SIZE` and :data:`GRID_SIZE`), pair the regions and return the masks at
    ``content_size`` and ``style_size`` (default: the pictures' own), with region maps (at
    the superpixel grids' size; see :func:`upscale_map`) in which paired regions share a
    palette colour. The regions do not depend on the working size, so a draft's regions
    are the final result's."""
    cs = segment(net, backbone, content)
    ss = segment(net, backbone, style)
    partners, sim = pair(cs.features, ss.features, ss.shares, cs.layout, ss.layout)
    ch, cw = content_size or tuple(content.shape[-2:])
    sh, sw = style_size or tuple(style.shape[-2:])
    cm = _masks(cs.labels, len(partners), (ch, cw))
    sall = _masks(ss.labels, len(ss.shares), (sh, sw))
    sm = np.stack([sall[j] if j is not None else np.ones((sh, sw), np.float32)
                   for j in partners])
    colours = [PALETTE[j % len(PALETTE)] for j in range(len(ss.shares))]
    ccol = np.array([colours[j] if j is not None else FALLBACK_COLOUR for j in partners],
                    np.uint8)
    smap = np.array(colours, np.uint8)[ss.labels]
    return AutoRegions(cm.astype(np.float32), sm.astype(np.float32), partners, sim,
                       ccol[cs.labels], smap)


def upscale_map(region_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A region map (h, w, 3) uint8 → (H, W, 3) at ``size`` = (H, W), nearest neighbour (the
    colours stay palette colours, so the map can be given back as a label map)."""
    return cv2.resize(region_map, (int(size[1]), int(size[0])), interpolation=cv2.INTER_NEAREST)
