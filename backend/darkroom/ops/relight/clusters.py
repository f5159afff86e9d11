"""Pixel clusters for the relighting networks (Ren et al. 2015, Sec. 5, divide and conquer):
k-means over (position, average colour), each pixel's second cluster along a seam and the
cross-fade weight between the two networks there. See :mod:`.network` for why and how the
clusters are used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

PIXELS_PER_CLUSTER = 256  # Sec. 5: small regions, each simple enough for a small network
MAX_CLUSTERS = 1024
OVERLAP = 0.5  # seam band (k-means distance units ≈ cluster widths) both neighbours train on
BLEND = 0.25  # narrower band where the answer cross-fades between the two networks


def n_clusters(n_pixels: int) -> int:
    """Clusters for an image of ``n_pixels``: ~:data:`PIXELS_PER_CLUSTER` each, at most
    :data:`MAX_CLUSTERS` (training cost grows with the count; see :class:`.network.Quality`), and at
    least 64 while that leaves ≥ 16 pixels each — a small image still gets small regions
    (with 4 clusters at 32², each network had to hold a quarter of the scene: measured worse)."""
    return int(min(MAX_CLUSTERS, max(min(64, n_pixels // 16), 1,
                                     round(n_pixels / PIXELS_PER_CLUSTER))))


def clusters(mean_img: np.ndarray, k: int, seed: int, iters: int = 8
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k-means labels (H·W,) int64 of pixels by (position, average colour) — Ren et al. Sec. 5.

    Position dominates (clusters stay compact, like superpixels), colour splits them at object
    boundaries. Starts from a regular grid of ~k centres shifted by a seed-dependent fraction
    of a cell (so ensemble members get different seams), then Lloyd iterations on a sample of
    ≤ 50 k pixels and one assignment of all pixels. Labels are in [0, k); a label may be unused.

    Returns labels (H·W,) int64; each pixel's *second* cluster (H·W,) int64, -1 where the
    pixel is more than :data:`OVERLAP` (≈ cluster widths) farther from that cluster's centre
    than from its own — the band along a seam that both clusters' networks train on; and the
    second network's weight in the answer (H·W,) float32: ½ on the seam, falling linearly to
    0 at :data:`BLEND` from it. Own weight 1 − that, so the answer is continuous across seams
    (a partition of unity over the two networks, like overlapping tiles cross-faded).
    """
    h, w, _ = mean_img.shape
    side = math.sqrt(h * w / k)  # a cluster's typical width in pixels
    a = torch.as_tensor(mean_img.reshape(-1, 3), dtype=torch.float32)
    a = a / (torch.quantile(a[:: max(1, len(a) // 100000)].flatten(), 0.99) + 1e-8)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    feats = torch.cat([torch.stack([xx.ravel(), yy.ravel()], 1) / side, 0.5 * a], 1)
    gen = torch.Generator().manual_seed(seed)
    ny = max(1, round(h / side))
    nx = max(1, k // ny)
    off = torch.rand(2, generator=gen)
    cy = ((torch.arange(ny) + off[1]) * h / ny).clamp(max=h - 1).long()
    cx = ((torch.arange(nx) + off[0]) * w / nx).clamp(max=w - 1).long()
    seeds = (cy[:, None] * w + cx[None]).ravel()
    extra = torch.randint(0, h * w, (k - len(seeds),), generator=gen) if len(seeds) < k else None
    cent = feats[seeds if extra is None else torch.cat([seeds, extra])][:k].clone()
    sample = feats[torch.randperm(h * w, generator=gen)[:50000]]
    for _ in range(iters):
        lab = torch.cdist(sample, cent).argmin(1)
        cnt = torch.bincount(lab, minlength=k).float()[:, None]
        new = torch.zeros_like(cent).index_add_(0, lab, sample)
        cent = torch.where(cnt > 0, new / cnt.clamp(min=1), cent)
    first, second, blend = [], [], []
    for f in feats.split(1 << 16):
        d, i = torch.cdist(f, cent).topk(min(2, k), 1, largest=False)
        if k == 1:
            d, i = torch.cat([d, d + 1e9], 1), torch.cat([i, i], 1)
        gap = d[:, 1] - d[:, 0]
        first.append(i[:, 0])
        second.append(torch.where(gap < OVERLAP, i[:, 1], -1))
        blend.append(0.5 * (1 - gap / BLEND).clamp(min=0))
    return (torch.cat(first).numpy().astype(np.int64), torch.cat(second).numpy().astype(np.int64),
            torch.cat(blend).numpy().astype(np.float32))


@dataclass
class Clustering:
    """One member's pixel clusters: labels (HW,), second cluster (HW,) (-1: none) and its
    weight (HW,) (see :func:`clusters`), per-cluster centre (K, 2) and scale (K, 1) of the
    pixel coordinates (pixels relative to their cluster enter the network)."""

    labels: torch.Tensor
    second: torch.Tensor
    blend: torch.Tensor
    centre: torch.Tensor
    scale: torch.Tensor

    @staticmethod
    def build(labels: torch.Tensor, second: torch.Tensor, blend: torch.Tensor, xy: torch.Tensor,
              k: int) -> Clustering:
        cnt = torch.bincount(labels, minlength=k).clamp(min=1).float()[:, None]
        centre = torch.zeros(k, 2, device=xy.device).index_add_(0, labels, xy) / cnt
        var = torch.zeros(k, 2, device=xy.device).index_add_(0, labels, (xy - centre[labels]) ** 2)
        scale = (var.sum(1, keepdim=True) / cnt).sqrt().clamp(min=1e-3) * 2
        return Clustering(labels, second, blend, centre, scale)

    def local(self, xy: torch.Tensor, pix: torch.Tensor, cl: torch.Tensor) -> torch.Tensor:
        """Coordinates of pixels ``pix`` relative to their cluster ``cl`` (about [-1, 1])."""
        return (xy[pix] - self.centre[cl]) / self.scale[cl]
