"""The sketch/photo embedding: a frozen ImageNet backbone, two small trained branches, and the
triplet loss they are trained with.

Method (Sangkloy et al. 2016, "The Sketchy Database", §5; Yu et al. 2016, "Sketch Me That
Shoe", §3): a sketch *a*, the photo it depicts *p* and another photo *n* are embedded by a
sketch branch and a photo branch; the triplet loss

    L = max(0, m + ‖f(a) − g(p)‖² − ‖f(a) − g(n)‖²)

pulls the sketch towards its photo and pushes it from others, so that nearest neighbours in
the embedding answer "which photo did this sketch show?". Both papers start from an
ImageNet-pretrained network; our CPU training budget is minutes, so the backbone
(EfficientNet-Lite0) stays frozen and only the branch heads are trained (the
"partially shared" design of Yu et al. §3.3 at its cheapest: shared frozen trunk, untied
heads). As in Yu et al. the photo branch sees the photo's *edge map*.

Features: the drawing (``INPUT``×``INPUT`` px, gray repeated to RGB) → backbone taps
``block10`` (112 ch, stride 16) and ``block15`` (320 ch, stride 32), each average-pooled to a
4×4 grid (fine-grained matching needs *where* a part is, not only *that* it is) →
(B, 432, 4, 4). The branch: per-channel standardisation → 1×1 conv to 128 channels → ReLU →
flatten → linear → ``DIM``-d, L2-normalised. Embeddings are compared by dot product.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

INPUT = 192  #: backbone input side, px
LAYERS = ("block10", "block15")
CHANNELS = 112 + 320
GRID = 4
DIM = 128  #: embedding size
MARGIN = 0.3  #: triplet margin on squared distances of unit vectors (range 0–4)


def drawings_to_tensor(drawings: Sequence[np.ndarray]) -> torch.Tensor:
    """N drawings INPUT×INPUT float32 [0, 1] → (N, 3, INPUT, INPUT) float32, channels-last
    (EfficientNet's depthwise convolutions run about twice as fast that way on CPU)."""
    x = torch.from_numpy(np.stack(drawings).astype(np.float32, copy=False))
    return x[:, None].expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def backbone_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, INPUT, INPUT) in [0, 1] → (B, CHANNELS, GRID, GRID) pooled backbone features."""
    feats = net.features(x, LAYERS)  # type: ignore[operator]
    return torch.cat([F.adaptive_avg_pool2d(feats[k].float(), GRID) for k in LAYERS], dim=1)


class Branch(nn.Module):
    """One branch head: (B, CHANNELS, GRID, GRID) backbone features → (B, DIM) unit vectors."""

    def __init__(self, hidden: int = 128, dim: int = DIM) -> None:
        super().__init__()
        # Standardisation statistics of the training features (set once before training).
        self.register_buffer("mean", torch.zeros(1, CHANNELS, 1, 1))
        self.register_buffer("std", torch.ones(1, CHANNELS, 1, 1))
        self.reduce = nn.Conv2d(CHANNELS, hidden, 1)
        self.drop = nn.Dropout(0.5)  # heavy: a few hundred objects to learn from
        self.proj = nn.Linear(hidden * GRID * GRID, dim)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        x = (f - self.mean) / self.std
        x = self.drop(F.relu(self.reduce(x)))
        return F.normalize(self.proj(x.flatten(1)), dim=1)


class SketchEmbedding(nn.Module):
    """The trained head, as two branches ``sketch`` (human sketches) and ``photo`` (photo edge
    maps) that share one :class:`Branch` (Siamese, Yu et al. 2016 §3.3)."""

    def __init__(self) -> None:
        super().__init__()
        self.sketch = Branch()
        self.photo = self.sketch

    def set_feature_stats(self, feats: torch.Tensor) -> None:
        """Standardise inputs by the statistics of (N, CHANNELS, GRID, GRID) training features."""
        mean = feats.mean(dim=(0, 2, 3), keepdim=True)
        std = feats.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)
        for b in (self.sketch, self.photo):
            b.mean.copy_(mean)
            b.std.copy_(std)


def triplet_loss(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float = MARGIN
) -> torch.Tensor:
    """Mean triplet hinge ``max(0, m + ‖a − p‖² − ‖a − n‖²)`` over (B, D) embeddings (scalar)."""
    d_ap = (anchor - positive).pow(2).sum(1)
    d_an = (anchor - negative).pow(2).sum(1)
    return F.relu(margin + d_ap - d_an).mean()


def batch_triplet_loss(
    anchor: torch.Tensor, positive: torch.Tensor, margin: float = MARGIN
) -> torch.Tensor:
    """Triplet loss with every other row's positive as a negative (B·(B−1) triplets).

    ``anchor[i]`` (sketch) and ``positive[i]`` (its photo) must show the same object, and
    different rows different objects. Only violating triplets are averaged, so easy negatives
    do not dilute the gradient as the model improves (the hard-mining motivation of Yu et al.
    §3.4, without their offline mining pass).
    """
    d = torch.cdist(anchor, positive).pow(2)  # (B, B): sketch i ↔ photo j
    d_ap = d.diagonal()[:, None]
    off = ~torch.eye(len(d), dtype=torch.bool, device=d.device)
    viol = F.relu(margin + d_ap - d)[off]
    active = (viol > 0).sum().clamp_min(1)
    return viol.sum() / active


def ranks(queries: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """Rank (0 = best) of ``gallery[i]`` for ``queries[i]`` among all gallery rows (dot product)."""
    sim = queries @ gallery.T
    right = sim.diagonal()[:, None]
    return (sim > right).sum(1)


def accuracy_at(rank: torch.Tensor, k: int) -> float:
    """Fraction of queries whose right answer is within the top ``k``."""
    return float((rank < k).float().mean())
