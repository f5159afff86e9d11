"""The instance-shape branch (v2.4): which *one* shoe, chair or teapot the sketch shows.

The first-stage embedding (:class:`.model.SketchModel`) knows categories well and instances
less well: its shape part is the ``block10``/``block15`` activations pooled to a 4×4 grid, where
a shoe's toe cap, laces and heel blur into a few cells. Yu et al. 2016 ("Sketch Me That Shoe",
§3) match sketches against the *edge maps* of photos with a Siamese network trained on sketch ↔
edge-map pairs and keep the spatial layout to the end; the same here, at the depth a 2-core CPU
trains in a minute:

* input: the frozen backbone's ``block10`` activations (112 channels, 12×12 at the 192 px input;
  the tap both the sketch pass and the edge-map pass compute anyway), standardised per channel
  with each domain's own statistics (sketches, edge maps);
* one small convolutional head shared by both domains (1×1 to 128 channels, ReLU, 3×3 to
  ``DIM`` channels), its 12×12 output kept as it is and flattened, unit length — the grid is
  the point: *where* the strokes are;
* trained with a symmetric InfoNCE loss (van den Oord et al. 2018; CLIP's form, Radford et
  al. 2021) over in-batch sketch ↔ edge-map pairs: QMUL shoe pairs (the drawing, its mirror
  image against the mirrored edge map, stroke-augmented copies) and Sketchy training pairs
  (each sketch against the edge map of the photo it was drawn from), and pseudo-sketch pairs:
  bent, stroke-augmented copies of the training edge maps against the clean ones
  (:func:`.strokes.edge_map_sketch`; Yu et al. 2016, §3.2, edge maps standing in for
  sketches), which teach what a hand bends and leaves out with no more human drawings; random
  shifts of one cell of the sketch side for the misplacement of hand drawing;
* the (DIM·144)-d output reduced to ``K`` dimensions by a PCA fitted on training rows of both
  domains (the index stores ``K`` columns per photo, float16).

:func:`cache_maps` computes the inputs once; :func:`train_shape_net` trains; ``forward`` runs
at search and indexing time on the maps the backbone pass already made.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from darkroom.ops.sketch.model import drawings_to_tensor

TAP = "block10"  #: the backbone tap the branch reads
CHANNELS = 112  #: ``block10``'s channels (Lite0)
GRID = 12  #: ``block10``'s side at the 192 px input (stride 16)
HIDDEN = 128
DIM = 16  #: channels of the output grid
K = 128  #: PCA dimensions stored per photo (the embedding's ``shape`` columns)
DOMAINS = ("sketch", "edge")


class ShapeNet(nn.Module):
    """(B, CHANNELS, GRID, GRID) ``block10`` maps of sketches or edge maps → (B, K) unit rows
    whose dot product scores sketch ↔ edge-map instance similarity."""

    def __init__(self, k: int = K) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(CHANNELS, HIDDEN, 1)
        self.conv2 = nn.Conv2d(HIDDEN, DIM, 3, padding=1)
        for d in DOMAINS:
            self.register_buffer(f"{d}_mean", torch.zeros(CHANNELS))
            self.register_buffer(f"{d}_std", torch.ones(CHANNELS))
        self.register_buffer("pca_mean", torch.zeros(DIM * GRID * GRID))
        self.register_buffer("pca_basis", torch.zeros(DIM * GRID * GRID, k))

    def set_stats(self, domain: str, maps: torch.Tensor) -> None:
        """Per-channel mean and spread of (N, CHANNELS, h, w) training maps of ``domain``."""
        m = maps.float()
        getattr(self, f"{domain}_mean").copy_(m.mean((0, 2, 3)))
        getattr(self, f"{domain}_std").copy_(m.std((0, 2, 3)).clamp_min(1e-3))

    def grid(self, maps: torch.Tensor, domain: str) -> torch.Tensor:
        """(B, CHANNELS, GRID, GRID) → (B, DIM·GRID²) unit rows, before the PCA (training)."""
        if domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}, not {domain!r}")
        mean = getattr(self, f"{domain}_mean")[:, None, None]
        std = getattr(self, f"{domain}_std")[:, None, None]
        x = (maps.to(mean.dtype) - mean) / std
        y = self.conv2(F.relu(self.conv1(x)))
        if y.shape[-1] != GRID or y.shape[-2] != GRID:  # another input size: the same grid
            y = F.adaptive_avg_pool2d(y, GRID)
        return F.normalize(y.flatten(1), dim=1)

    def fit_pca(self, rows: torch.Tensor) -> None:
        """The PCA (no whitening) of (N, DIM·GRID²) :meth:`grid` rows of both domains (fewer
        rows than ``K``: the missing components are zero)."""
        mean = rows.mean(0)
        _, _, v = torch.linalg.svd(rows - mean, full_matrices=False)
        k = min(self.pca_basis.shape[1], v.shape[0])
        self.pca_mean.copy_(mean)
        self.pca_basis.zero_()
        self.pca_basis[:, :k] = v[:k].T

    def forward(self, maps: torch.Tensor, domain: str) -> torch.Tensor:
        return F.normalize((self.grid(maps, domain) - self.pca_mean) @ self.pca_basis, dim=1)


def info_nce(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """Symmetric InfoNCE of (B, D) unit rows: row i of ``a`` and of ``b`` are a pair, every
    other row of the batch a negative, in both directions."""
    logits = a @ b.T / tau
    target = torch.arange(len(a))
    return F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)


def _shift(x: torch.Tensor, g: torch.Generator, cells: int) -> torch.Tensor:
    if cells <= 0:
        return x
    dy, dx = torch.randint(-cells, cells + 1, (2,), generator=g).tolist()
    return torch.roll(x, (dy, dx), (2, 3))


def train_shape_net(
    q_sketch: torch.Tensor,
    q_edge: torch.Tensor,
    s_sketch: torch.Tensor | None = None,
    s_edge: torch.Tensor | None = None,
    *,
    steps: int = 300,
    lr: float = 3e-4,
    weight_decay: float = 0.05,
    tau: float = 0.07,
    batch: int = 128,
    w_sketchy: float = 1.0,
    shift: int = 1,
    q_pseudo: torch.Tensor | None = None,
    s_pseudo: torch.Tensor | None = None,
    s_pseudo_edge: torch.Tensor | None = None,
    w_pseudo: float = 1.0,
    seed: int = 0,
    log_every: int = 50,
) -> ShapeNet:
    """Train a :class:`ShapeNet` on cached ``block10`` maps (any float dtype).

    ``q_sketch`` (N, V, C, h, w): V views of N QMUL training sketches, ``q_edge`` (N, V, C, h,
    w) the edge map each view is paired with (view 1, the mirrored sketch, with the mirrored
    edge map; the others with the edge map as it is); every step uses one view of all N pairs
    (the whole QMUL gallery as negatives). ``s_sketch``/``s_edge`` (M, C, h, w): Sketchy pairs
    (a sketch, its source photo's edge map), ``batch`` of them per step, weighted ``w_sketchy``.
    Pseudo-sketch pairs, each term weighted ``w_pseudo``: ``q_pseudo`` (N, P, C, h, w), P
    pseudo-sketches of each QMUL edge map against the edge map as it is (one view of all N per
    step); ``s_pseudo``/``s_pseudo_edge`` (L, C, h, w), pseudo-sketches of Sketchy photos'
    edge maps and the edge maps (``batch`` per step). Deterministic for ``seed`` at a given
    number of torch threads."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = ShapeNet()
    sk_all = torch.cat([q_sketch[:, 0]] + ([s_sketch] if s_sketch is not None else []))
    ed_all = torch.cat([q_edge[:, 0]] + ([s_edge] if s_edge is not None else []))
    net.set_stats("sketch", sk_all)
    net.set_stats("edge", ed_all)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    n, v = q_sketch.shape[:2]
    t0 = time.time()
    for step in range(steps):
        j = step % v
        loss = info_nce(net.grid(_shift(q_sketch[:, j].float(), g, shift), "sketch"),
                        net.grid(q_edge[:, j].float(), "edge"), tau)
        if s_sketch is not None and s_edge is not None and w_sketchy > 0:
            i = torch.randint(0, len(s_sketch), (min(batch, len(s_sketch)),), generator=g)
            loss = loss + w_sketchy * info_nce(
                net.grid(_shift(s_sketch[i].float(), g, shift), "sketch"),
                net.grid(s_edge[i].float(), "edge"), tau)
        if q_pseudo is not None and w_pseudo > 0:
            jp = step % q_pseudo.shape[1]
            loss = loss + w_pseudo * info_nce(
                net.grid(_shift(q_pseudo[:, jp].float(), g, shift), "sketch"),
                net.grid(q_edge[:, 0].float(), "edge"), tau)
        if s_pseudo is not None and s_pseudo_edge is not None and w_pseudo > 0:
            i = torch.randint(0, len(s_pseudo), (min(batch, len(s_pseudo)),), generator=g)
            loss = loss + w_pseudo * info_nce(
                net.grid(_shift(s_pseudo[i].float(), g, shift), "sketch"),
                net.grid(s_pseudo_edge[i].float(), "edge"), tau)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log_every and (step + 1) % log_every == 0:
            print(f"  shape net step {step + 1}/{steps}: loss {float(loss.detach()):.3f}  "
                  f"{time.time() - t0:.0f} s", flush=True)
    net.eval().requires_grad_(False)
    with torch.no_grad():
        rows = [net.grid(q_sketch[:, 0].float(), "sketch"), net.grid(q_edge[:, 0].float(), "edge")]
        if s_sketch is not None and s_edge is not None:
            rows += [net.grid(s_sketch.float(), "sketch"), net.grid(s_edge.float(), "edge")]
        net.fit_pca(torch.cat(rows))
    return net


@torch.no_grad()
def shape_rows(net: ShapeNet, maps: torch.Tensor, domain: str, chunk: int = 256) -> torch.Tensor:
    """(N, C, h, w) cached maps → (N, K) :class:`ShapeNet` rows (eval)."""
    net = net.eval()
    if not len(maps):
        return torch.zeros(0, net.pca_basis.shape[1])
    return torch.cat([net(maps[i : i + chunk].float(), domain) for i in range(0, len(maps), chunk)])


@torch.inference_mode()
def cache_maps(backbone: nn.Module, drawings: Sequence[np.ndarray], batch: int = 64,
               what: str = "") -> torch.Tensor:
    """Normalised INPUT×INPUT float32 [0, 1] drawings (sketches or edge maps) → their
    ``block10`` maps (N, CHANNELS, GRID, GRID), float16 (32 KiB each)."""
    out = []
    t0 = time.time()
    for i in range(0, len(drawings), batch):
        x = drawings_to_tensor(drawings[i : i + batch], channels_last=False)
        out.append(backbone.features(x, (TAP,))[TAP].half())  # type: ignore[operator]
        print(f"\r{what}: {min(i + batch, len(drawings))}/{len(drawings)}  {time.time() - t0:.0f} s",
              end="", flush=True)
    print()
    return torch.cat(out) if out else torch.zeros(0, CHANNELS, GRID, GRID, dtype=torch.float16)
