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

import hashlib
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


def drawings_to_tensor(drawings: Sequence[np.ndarray], channels_last: bool = True) -> torch.Tensor:
    """N drawings INPUT×INPUT float32 [0, 1] → (N, 3, INPUT, INPUT) float32, channels-last
    (EfficientNet's depthwise convolutions run about twice as fast that way on CPU), or
    contiguous as the training caches were built (``channels_last=False``: the same values, the
    convolutions' float rounding as the shipped weights were fitted with)."""
    x = torch.from_numpy(np.stack(drawings).astype(np.float32, copy=False))[:, None].expand(-1, 3, -1, -1)
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


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


# ---- version 2: category-level and instance-level lookup -------------------------------------
#
# Version 1 (above) matched a sketch against a photo's *edge map* only, with features of a
# frozen backbone at a 4×4 grid: good enough to tell shoes apart, but it barely knows *what*
# a drawing shows, so a cow finds horses and tables as often as cows. Version 2 adds a
# semantic part, in the spirit of the zero-shot sketch-based retrieval literature
# (Yelamarthi et al. 2018, "A Zero-Shot Framework for Sketch Based Image Retrieval";
# Dutta & Akata 2019, "Semantically Tied Paired Cycle Consistency"):
#
# * the photo branch sees the *photograph itself* through the backbone (its pooled ``head``
#   features, 1280-d: what ImageNet taught the network about objects), not only its edge
#   map (Sangkloy et al. 2016 §5 also embed photos, not edge maps);
# * the sketch branch sees the sketch's pooled ``head`` features;
# * both are mapped by untied two-layer heads into one ``SEM_DIM`` space, trained with the
#   instance triplet loss *and* category-aware terms: in-batch same-category positives
#   (supervised contrastive, Khosla et al. 2020) and a shared cosine classifier over the
#   training categories (normalised softmax, Zhai & Wu 2019, "Classification is a Strong
#   Baseline for Deep Metric Learning");
# * the version-1 fine branch (sketch ↔ edge map, 4×4 grid) is kept for instance-level
#   detail.
#
# The stored embedding is the concatenation ``[√w·sem, √(1−w)·fine]`` of two unit vectors,
# itself a unit vector; its dot product is ``w·sem_sim + (1−w)·fine_sim``: one matrix
# product ranks by category first and by the drawn object's shape within it.

VERSION = "sketch-v2.5"  #: the model's name; v2.1: big JPEGs are decoded at 1/8 scale where
#: the longest side stays ≥ 256 px (slightly different edge maps); v2.2: a learned shape part
#: (``K_SHAPE`` more columns) for the re-ranking; v2.3: sketches through their own trained copy
#: of the last block (:mod:`.finetune`); v2.4: the shape part from a trained branch on the
#: 12×12 ``block10`` maps (:mod:`.shapenet`); v2.5: that branch also trained on pseudo-sketch
#: pairs (its photo side changes, so the digest in :data:`PHOTO_VERSION`'s rows re-embeds)
#: What a photo row of an index was embedded with, with the digest of :data:`PHOTO_SIDE`
#: (:func:`darkroom.ops.sketch.library.model_version`). Bump it when the code that embeds a
#: photo changes (decoding, edge maps, backbone, :meth:`SketchModel.photo`); a change of the
#: sketch side or of the ranking alone re-embeds no photo.
PHOTO_VERSION = "sketch-v2.4-photos"
#: The weights that :meth:`SketchModel.photo` reads (key prefixes): not the sketch statistics,
#: the sketch tail or the ranking settings.
PHOTO_SIDE = ("p_sem_", "e_fine_", "p_photo_", "sem_pca_", "fine_pca_", "photo_pca_", "shape_",
              "w_sem")


def photo_side_digest(state: dict[str, torch.Tensor]) -> str:
    """BLAKE2b-64 (hex) of the :data:`PHOTO_SIDE` tensors of a weights ``state`` as stored
    (names, dtypes and bytes)."""
    h = hashlib.blake2b(digest_size=8)
    for k in sorted(x for x in state if x.startswith(PHOTO_SIDE)):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


SEM_IN = 1280  #: pooled backbone ``head`` features
SPATIAL = CHANNELS * GRID * GRID  #: the version-1 4×4 features, flattened
FEAT = SPATIAL + SEM_IN  #: one cached feature row: [spatial | head]
LAYERS2 = (*LAYERS, "head")
#: The two 4×4 taps on each backbone the sketch model may use: the last block of the 112-ch
#: (Lite2: 120) stage and the last block (320 ch; Lite2: 352) — Lite0's ``LAYERS``.
TAPS: dict[str, tuple[str, str]] = {"efficientnet_lite0": LAYERS,
                                    "efficientnet_lite1": ("block14", "block20"),
                                    "efficientnet_lite2": ("block14", "block20")}
TAP_CHANNELS = {"efficientnet_lite0": CHANNELS, "efficientnet_lite1": CHANNELS,
                "efficientnet_lite2": 120 + 352}
SEM_DIM = 128  #: output of the trained semantic heads (:class:`SketchEmbedding2`, an ablation)
K_SEM = 256  #: PCA dimensions of the cross-domain semantic part
K_FINE = 256  #: PCA dimensions of the cross-domain shape part
K_SHAPE = 128  #: dimensions of the learned shape descriptor (re-ranking only)
K_PHOTO = 128  #: PCA dimensions of the photo-to-photo descriptor (query expansion)
EMB_DIM = K_SEM + K_FINE + K_SHAPE + K_PHOTO  #: stored embedding size
TAU = 0.1  #: temperature of the contrastive and classification terms


@torch.inference_mode()
def backbone_features2(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, INPUT, INPUT) in [0, 1] → (B, FEAT): the 4×4-pooled ``block10``/``block15``
    features (flattened) followed by the globally pooled ``head`` features."""
    feats = net.features(x, LAYERS2)  # type: ignore[operator]
    sp = torch.cat([F.adaptive_avg_pool2d(feats[k].float(), GRID) for k in LAYERS], dim=1)
    return torch.cat([sp.flatten(1), feats["head"].float().mean((2, 3))], dim=1)


class SemBranch(nn.Module):
    """Pooled ``head`` features (B, SEM_IN) → (B, SEM_DIM) unit vectors (standardise →
    linear → ReLU → dropout → linear)."""

    def __init__(self, hidden: int = 512, dim: int = SEM_DIM, drop: float = 0.3) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, SEM_IN))
        self.register_buffer("std", torch.ones(1, SEM_IN))
        self.fc1 = nn.Linear(SEM_IN, hidden)
        self.drop = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden, dim)

    def set_stats(self, f: torch.Tensor) -> None:
        self.mean.copy_(f.mean(0, keepdim=True))
        self.std.copy_(f.std(0, keepdim=True).clamp_min(1e-3))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        x = (f - self.mean) / self.std
        return F.normalize(self.fc2(self.drop(F.relu(self.fc1(x)))), dim=1)


class SketchEmbedding2(nn.Module):
    """Version 2 heads. ``sketch(f)`` and ``photo(f_photo, f_edges)`` take (B, FEAT) backbone
    rows (of the sketch; of the photograph and of its edge map) → (B, EMB_DIM) unit vectors.

    ``w_sem`` (a buffer, saved with the weights) balances category against shape.
    ``proxies`` (one row per training category) is used by the classification term only.
    """

    def __init__(self, n_classes: int = 1, w_sem: float = 0.7) -> None:
        super().__init__()
        self.sketch_sem = SemBranch()
        self.photo_sem = SemBranch()
        self.fine = Branch()  # shared by sketches and edge maps (Siamese, as version 1)
        self.proxies = nn.Parameter(torch.randn(n_classes, SEM_DIM) * 0.1)
        self.register_buffer("w_sem", torch.tensor(float(w_sem)))

    def set_feature_stats(self, sketches: torch.Tensor, photos: torch.Tensor,
                          edges: torch.Tensor) -> None:
        """Standardise each input by the statistics of (N, FEAT) training rows."""
        self.sketch_sem.set_stats(sketches[:, SPATIAL:])
        self.photo_sem.set_stats(photos[:, SPATIAL:])
        sp = torch.cat([sketches[:, :SPATIAL], edges[:, :SPATIAL]]).view(-1, CHANNELS, GRID, GRID)
        self.fine.mean.copy_(sp.mean(dim=(0, 2, 3), keepdim=True))
        self.fine.std.copy_(sp.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3))

    def _fine(self, f: torch.Tensor) -> torch.Tensor:
        return self.fine(f[:, :SPATIAL].reshape(-1, CHANNELS, GRID, GRID))

    def parts_sketch(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sketch_sem(f[:, SPATIAL:]), self._fine(f)

    def parts_photo(self, fp: torch.Tensor, fe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.photo_sem(fp[:, SPATIAL:]), self._fine(fe)

    def combine(self, sem: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.w_sem.sqrt() * sem, (1 - self.w_sem).sqrt() * fine], dim=1)

    def sketch(self, f: torch.Tensor) -> torch.Tensor:
        return self.combine(*self.parts_sketch(f))

    def photo(self, fp: torch.Tensor, fe: torch.Tensor) -> torch.Tensor:
        return self.combine(*self.parts_photo(fp, fe))


def instance_triplet_loss(anchor: torch.Tensor, gallery: torch.Tensor, a_id: torch.Tensor,
                          g_id: torch.Tensor, margin: float = MARGIN) -> torch.Tensor:
    """In-batch triplet loss with object ids: ``anchor[i]``'s positive is the gallery row with
    ``g_id == a_id[i]`` (exactly one must exist), every row with another id is a negative
    (several sketches may show one photo). Averages the violating triplets only (see
    :func:`batch_triplet_loss`)."""
    d = torch.cdist(anchor, gallery).pow(2)
    same = a_id[:, None] == g_id[None, :]
    d_ap = (d * same).sum(1, keepdim=True) / same.sum(1, keepdim=True).clamp_min(1)
    viol = F.relu(margin + d_ap - d)[~same]
    return viol.sum() / (viol > 0).sum().clamp_min(1)


def category_contrastive_loss(anchor: torch.Tensor, gallery: torch.Tensor, a_cls: torch.Tensor,
                              g_cls: torch.Tensor, tau: float = TAU) -> torch.Tensor:
    """Cross-domain supervised contrastive loss (Khosla et al. 2020, "Supervised Contrastive
    Learning"): for each anchor (a sketch), every gallery row (a photo) of its category is a
    positive against all rows of the batch: ``−mean_p log softmax(a·g / τ)_p``. Anchors with no
    positive in the batch are left out."""
    logp = F.log_softmax(anchor @ gallery.T / tau, dim=1)
    pos = (a_cls[:, None] == g_cls[None, :]).float()
    n = pos.sum(1)
    keep = n > 0
    return (-(logp * pos).sum(1)[keep] / n[keep]).mean()


def proxy_classification_loss(x: torch.Tensor, proxies: torch.Tensor, cls: torch.Tensor,
                              tau: float = TAU) -> torch.Tensor:
    """Normalised-softmax classification (Zhai & Wu 2019): cross-entropy of the cosine
    similarities between unit embeddings ``x`` and the unit class proxies, over ``τ``."""
    return F.cross_entropy(x @ F.normalize(proxies, dim=1).T / tau, cls)


def retrieval_metrics(sim: torch.Tensor, q_cls: torch.Tensor, g_cls: torch.Tensor,
                      q_src: torch.Tensor | None = None) -> dict[str, float]:
    """Category precision@10 and mAP (relevant = same category) and, given each query's
    source gallery row ``q_src``, instance acc@1/acc@10, for a (Q, G) similarity matrix."""
    order = torch.argsort(-sim, dim=1)
    rel = (g_cls[order] == q_cls[:, None]).float()
    hits = rel.cumsum(1)
    prec = hits / torch.arange(1, sim.shape[1] + 1, dtype=torch.float32)
    ap = (prec * rel).sum(1) / rel.sum(1).clamp_min(1)
    out = {"p@10": float(rel[:, :10].mean()), "mAP": float(ap.mean())}
    if q_src is not None:
        r = (sim > sim.gather(1, q_src[:, None])).sum(1)
        out["acc@1"] = accuracy_at(r, 1)
        out["acc@10"] = accuracy_at(r, 10)
    return out


# ---- the shipped version 2 model: whitened frozen features + query expansion --------------


def pca_whitening(x: torch.Tensor, k: int, power: float = 0.5, seed: int = 0
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PCA of the rows of ``x`` (N, D) → ``(mean (D,), basis (D, k), scale (k,))`` such that
    ``(x − mean) @ basis / scale`` is the projection on the top ``k`` components, each divided
    by its standard deviation to the ``power`` (0: plain PCA, 1: full whitening; Jégou & Chum
    2012, "Negative evidences and co-occurrences in image retrieval: the benefit of PCA and
    whitening"). Randomised SVD (Halko et al. 2011), deterministic for ``seed``."""
    g = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        mean = x.mean(0)
        _, sv, v = torch.svd_lowrank(x - mean, q=min(k + 44, *x.shape), niter=3)
    finally:
        torch.set_rng_state(g)
    std = (sv[:k] / max(1, len(x)) ** 0.5).clamp_min(1e-6)
    return mean, v[:, :k].contiguous(), std**power


def learned_whitening(a: torch.Tensor, b: torch.Tensor, rows: torch.Tensor, k: int, d0: int = 256,
                      lam: float = 0.3, weights: torch.Tensor | None = None, seed: int = 0
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Supervised whitening from matching pairs (Radenović et al. 2018, "Fine-tuning CNN Image
    Retrieval with No Human Annotation", §3.3; Mikolajczyk & Matas 2007): rows ``a[i]`` and
    ``b[i]`` (N, D) show the same object (a sketch and the edge map of its photo). After a PCA
    of ``rows`` to ``d0`` dimensions, the covariance of the pair differences ``C_S`` (pairs
    weighted by ``weights``; shrunk towards ``lam``·its mean eigenvalue — a few thousand pairs
    for ``d0`` dimensions) is whitened away, so directions in which a drawing and its photo
    disagree count little; then the ``k`` directions of largest spread of ``rows`` in that
    space are kept. Returns ``(mean (D,), projection (D, k))``: ``(x − mean) @ projection``."""
    mean, v, _ = pca_whitening(rows, d0, 0.0, seed)
    mean, v = mean.double(), v.double()
    d = (a.double() - b.double()) @ v
    w = torch.ones(len(d), dtype=torch.float64) if weights is None else weights.double()
    cs = (d * w[:, None]).T @ d / w.sum()
    cs = cs + lam * torch.trace(cs) / d0 * torch.eye(d0, dtype=torch.float64)
    ev, u = torch.linalg.eigh(cs)
    w1 = u @ torch.diag(ev.rsqrt()) @ u.T
    y = (rows.double() - mean) @ v @ w1
    y = y - y.mean(0)
    ev2, u2 = torch.linalg.eigh(y.T @ y / len(y))
    u2 = u2[:, torch.argsort(ev2, descending=True)[:k]]
    return mean.float(), (v @ w1 @ u2).float().contiguous()


class SketchModel(nn.Module):
    """Version 2 of the sketch/photo embedding: frozen EfficientNet-Lite0 features, per-domain
    standardisation and shared PCA whitening (all buffers, fitted by
    ``scripts/train_sketch.py``), and query expansion at search time.

    Why no trained layers: on categories held out of training, two-layer heads trained with
    triplet, supervised-contrastive and classification terms (:class:`SketchEmbedding2`)
    learned the 84 training categories and generalised *worse* than the frozen features
    (held-out precision@10 0.32 against 0.34 untrained; ``bench/results/sketch.md``). What
    generalises is removing the domain gap statistically — each domain (sketches, photos,
    edge maps) standardised by its own mean and spread (the "domain-specific normalisation"
    idea of Li et al. 2016, "Revisiting Batch Normalization for Practical Domain
    Adaptation") — and a shared PCA whitening fitted on both domains together.

    What did help on top (v2.3): the *sketch* side's own trained copy of the backbone's last
    block (:class:`.finetune.SketchTail`), trained against this fitted model with its buffers
    fixed, so the photo side stays the frozen, general ImageNet features. The weights file
    then holds ``tail.*`` besides these buffers (:func:`.embed.load_heads`).

    The embedding of a photo is ``[√w·sem, √(1−w)·fine, shape, photo]``:

    * ``sem``: the photograph's pooled ``head`` features (what ImageNet taught the network),
      standardised with photo statistics, whitened; a sketch's ``sem`` is the same from its
      own ``head`` features and sketch statistics (Sangkloy et al. 2016 compare sketches with
      photographs, not edge maps);
    * ``fine``: the 4×4-grid ``block10``/``block15`` features of the photo's *edge map*
      (Yu et al. 2016, §3.1) against the sketch's — where the parts are, for the instance;
    * ``shape``: which *instance*, used only to re-rank the short list, not in the
      first-stage score. v2.4: the trained instance-shape branch on the 12×12 ``block10`` maps
      of sketch and edge map (:mod:`.shapenet`, attached with :meth:`attach_shape_net`; the
      rows then carry its columns); before: the 4×4 features through a projection learned from
      sketch ↔ edge-map pairs (:func:`learned_whitening`; Sketchy and QMUL shoe pairs);
    * ``photo``: a photo-only descriptor (photo ``head`` features, whitened), zero for a
      sketch: it is used by the query expansion only.

    Ranking (:func:`rank_scores`): first the dot product over ``[sem, fine]``; then average
    query expansion (Chum et al. 2007, "Total Recall"; α-weighted as Radenović et al. 2018):
    the top ``qe_m`` photos' ``photo`` descriptors, weighted by their score³, form a second,
    photo-to-photo query — comparisons inside one domain are what the frozen features do
    best, so photos of the drawn kind that the sketch alone ranked low come up.
    """

    def __init__(self, k_sem: int = K_SEM, k_fine: int = K_FINE, k_photo: int = K_PHOTO,
                 k_shape: int = K_SHAPE, spatial: int = SPATIAL) -> None:
        super().__init__()
        self.spatial = spatial  #: width of the rows' 4×4 part (the backbone's taps × 16)
        for name, d in (("s_sem", SEM_IN), ("p_sem", SEM_IN), ("s_fine", spatial),
                        ("e_fine", spatial), ("p_photo", SEM_IN)):
            self.register_buffer(f"{name}_mean", torch.zeros(d))
            self.register_buffer(f"{name}_std", torch.ones(d))
        for name, d, k in (("sem", SEM_IN, k_sem), ("fine", spatial, k_fine),
                           ("photo", SEM_IN, k_photo)):
            self.register_buffer(f"{name}_pca_mean", torch.zeros(d))
            self.register_buffer(f"{name}_pca_basis", torch.zeros(d, k))
            self.register_buffer(f"{name}_pca_scale", torch.ones(k))
        self.register_buffer("shape_mean", torch.zeros(spatial))
        self.register_buffer("shape_basis", torch.zeros(spatial, k_shape))
        self.register_buffer("w_sem", torch.tensor(0.5))
        self.register_buffer("qe_m", torch.tensor(5))
        self.register_buffer("qe_beta", torch.tensor(1.0))
        # Shape re-ranking of the top ``rr_k`` (see :func:`rank_scores`); 0: off.
        self.register_buffer("rr_k", torch.tensor(0))
        self.register_buffer("rr_gamma", torch.tensor(0.0))
        # Rank fusion of the expanded and the plain first-stage lists over the top ``fz_k``
        # (see :func:`rank_scores`); 0: off.
        self.register_buffer("fz_k", torch.tensor(0))
        self.register_buffer("fz_k0", torch.tensor(20.0))
        self.register_buffer("fz_w", torch.tensor(0.0))
        # v2.4: the trained instance-shape branch (:class:`.shapenet.ShapeNet`); with it the
        # rows carry its columns after ``[spatial | head]`` and give the ``shape`` part.
        self.shape_net: nn.Module | None = None

    def attach_shape_net(self, net: nn.Module) -> SketchModel:
        """Use ``net`` (a :class:`.shapenet.ShapeNet`) for the ``shape`` part instead of the
        learned whitening, whose buffers are emptied (they are no longer read)."""
        self.shape_net = net
        self.register_buffer("shape_mean", torch.zeros(0))
        self.register_buffer("shape_basis", torch.zeros(self.spatial, 0))
        return self

    def k_shape(self) -> int:
        """Width of the embedding's ``shape`` part."""
        net = self.shape_net
        return int(net.pca_basis.shape[1]) if net is not None else int(self.shape_basis.shape[1])

    def _z(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return (x - getattr(self, f"{name}_mean")) / getattr(self, f"{name}_std")

    def _pca(self, name: str, x: torch.Tensor) -> torch.Tensor:
        y = (x - getattr(self, f"{name}_pca_mean")) @ getattr(self, f"{name}_pca_basis")
        return F.normalize(y / getattr(self, f"{name}_pca_scale"), dim=1)

    def fit(self, sketches: torch.Tensor, photos: torch.Tensor, edges: torch.Tensor,
            power: float = 0.5) -> SketchModel:
        """Fit every statistic on (N, FEAT) training rows of sketches, photographs and the
        photographs' edge maps (row i of ``photos`` and ``edges``: the same photo). More
        sketches without photos (rendered Quick, Draw! doodles) may simply be appended to
        ``sketches``: only the sketch statistics and the shared PCA see them."""
        h, sp = slice(self.spatial, None), slice(0, self.spatial)
        for name, x in (("s_sem", sketches[:, h]), ("p_sem", photos[:, h]),
                        ("s_fine", sketches[:, sp]), ("e_fine", edges[:, sp]),
                        ("p_photo", photos[:, h])):
            getattr(self, f"{name}_mean").copy_(x.mean(0))
            getattr(self, f"{name}_std").copy_(x.std(0).clamp_min(1e-3))
        for name, x in (
            ("sem", torch.cat([self._z("s_sem", sketches[:, h]), self._z("p_sem", photos[:, h])])),
            ("fine", torch.cat([self._z("s_fine", sketches[:, sp]), self._z("e_fine", edges[:, sp])])),
            ("photo", self._z("p_photo", photos[:, h])),
        ):
            k = getattr(self, f"{name}_pca_basis").shape[1]
            m, v, sc = pca_whitening(x, k, power)
            getattr(self, f"{name}_pca_mean").copy_(m)
            getattr(self, f"{name}_pca_basis").copy_(v)
            getattr(self, f"{name}_pca_scale").copy_(sc)
        return self

    def fit_shape(self, sk: torch.Tensor, edges: torch.Tensor, extra_sk: torch.Tensor | None = None,
                  extra_edges: torch.Tensor | None = None, extra_weight: float = 1.0,
                  d0: int = 256, lam: float = 0.3) -> SketchModel:
        """Fit the re-ranking ``shape`` projection (:func:`learned_whitening`) on matching
        (N, FEAT) rows ``sk[i]`` ↔ ``edges[i]`` (a sketch and its photo's edge map), plus
        optional extra pairs (QMUL shoes) weighted ``extra_weight`` each. Call after
        :meth:`fit` (it uses the per-domain statistics)."""
        sp = slice(0, self.spatial)
        a, b = self._z("s_fine", sk[:, sp]), self._z("e_fine", edges[:, sp])
        w = torch.ones(len(a))
        if extra_sk is not None and extra_edges is not None and len(extra_sk):
            xa, xb = self._z("s_fine", extra_sk[:, sp]), self._z("e_fine", extra_edges[:, sp])
            a, b = torch.cat([a, xa]), torch.cat([b, xb])
            w = torch.cat([w, torch.full((len(xa),), float(extra_weight))])
        mean, proj = learned_whitening(a, b, torch.cat([a, b]), self.shape_basis.shape[1], d0, lam, w)
        self.shape_mean.copy_(mean)
        self.shape_basis.copy_(proj)
        return self

    def _shape(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The ``shape`` part: the rows' shape-branch columns (v2.4), else the learned
        whitening of the standardised 4×4 part ``z``."""
        if self.shape_net is None:
            return F.normalize((z - self.shape_mean) @ self.shape_basis, dim=1)
        n, k = self.spatial + SEM_IN, self.k_shape()
        if f.shape[1] != n + k:
            raise ValueError(f"rows of {f.shape[1]} columns lack the shape branch's {k} "
                             "(compute them with darkroom.ops.sketch.embed)")
        return F.normalize(f[:, n:].float(), dim=1)

    def sketch(self, f: torch.Tensor) -> torch.Tensor:
        """(B, FEAT[+k_shape]) sketch rows → (B, EMB_DIM); the photo-only part is zero."""
        w = self.w_sem.float()
        sem = self._pca("sem", self._z("s_sem", f[:, self.spatial:self.spatial + SEM_IN]))
        z = self._z("s_fine", f[:, :self.spatial])
        zero = torch.zeros(len(f), self.photo_pca_scale.shape[0], dtype=sem.dtype)
        return torch.cat([w.sqrt() * sem, (1 - w).sqrt() * self._pca("fine", z), self._shape(f, z),
                          zero], dim=1)

    def photo(self, fp: torch.Tensor, fe: torch.Tensor) -> torch.Tensor:
        """(B, FEAT) rows of photographs and (B, FEAT[+k_shape]) rows of their edge maps →
        (B, EMB_DIM)."""
        w = self.w_sem.float()
        head = fp[:, self.spatial:self.spatial + SEM_IN]
        sem = self._pca("sem", self._z("p_sem", head))
        z = self._z("e_fine", fe[:, :self.spatial])
        ph = self._pca("photo", self._z("p_photo", head))
        return torch.cat([w.sqrt() * sem, (1 - w).sqrt() * self._pca("fine", z), self._shape(fe, z),
                          ph], dim=1)

    def qe(self) -> tuple[int, float]:
        return int(self.qe_m), float(self.qe_beta)

    def rank_params(self) -> dict[str, float]:
        """The keyword arguments of :func:`rank_scores` this model was fitted with."""
        return {"k_shape": self.k_shape(), "qe_m": int(self.qe_m),
                "qe_beta": float(self.qe_beta), "rerank_k": int(self.rr_k),
                "rerank_gamma": float(self.rr_gamma), "fuse_k": int(self.fz_k),
                "fuse_k0": float(self.fz_k0), "fuse_w": float(self.fz_w)}


def rank_scores(queries: np.ndarray, gallery: np.ndarray, k_photo: int = K_PHOTO, qe_m: int = 5,
                qe_beta: float = 1.0, alpha: float = 3.0, rerank_k: int = 0,
                rerank_gamma: float = 0.0, k_shape: int = 0, fuse_k: int = 0, fuse_k0: float = 20.0,
                fuse_w: float = 0.0) -> np.ndarray:
    """(Q, G) ranking scores of sketch embeddings against photo embeddings (both from
    :class:`SketchModel`, float32 numpy): the cross-domain dot product, plus ``qe_beta`` ×
    the photo-to-photo similarity to the α-weighted mean of each query's ``qe_m`` best photos
    (query expansion; ``qe_m = 0`` turns it off). Divided by ``1 + qe_beta``: scores stay in
    −1…1. Costs two (Q, G) matrix products.

    Rank fusion (``fuse_k``, ``fuse_k0``, ``fuse_w``): the query expansion serves the category
    sense of a search and costs the instance sense (the drawn photo itself sinks among photos
    of its kind; without the expansion, acc@10 is higher and precision@10 lower). The
    ``fuse_k`` best photos are therefore put in the order of the reciprocal-rank fusion
    (Cormack, Clarke & Büttcher 2009) of both lists, ``1/(fuse_k0 + r_expanded) + fuse_w /
    (fuse_k0 + r_plain)`` (r: rank inside the ``fuse_k``, from 0), keeping the ``fuse_k``
    best scores as a set in that order, as the shape re-ranking below does; it runs first.

    Shape re-ranking (``rerank_k``, ``rerank_gamma``): the query expansion pulls in photos
    *of the drawn kind*, which is what category search wants but blurs which of them is the
    drawn *instance* (a shoe among shoes). The ``rerank_k`` best photos are therefore put in
    the order of ``score + rerank_gamma · shape`` (``shape``: the dot product of the ``k_shape``
    columns before the photo part — :class:`SketchModel`'s learned shape descriptor, so pass
    ``k_shape`` as :meth:`SketchModel.rank_params` gives it; with ``k_shape = 0``, the 4×4
    edge-map ``fine`` part), and keep the ``rerank_k`` best scores as a set in
    that order: which photos are in the top ``rerank_k`` — and so precision and acc@k for
    k ≥ ``rerank_k`` — does not change, only their order (re-ranking of a short list, as in
    Radenović et al. 2018's spatial verification step)."""
    n_cross = queries.shape[1] - k_photo - k_shape  # [sem, fine]: the first-stage score
    cross = queries[:, :n_cross] @ gallery[:, :n_cross].T
    if qe_m <= 0 or qe_beta <= 0 or gallery.shape[0] == 0:
        out = cross
    else:
        m = min(qe_m, gallery.shape[0])
        top = np.argpartition(-cross, m - 1, axis=1)[:, :m]
        wts = np.clip(np.take_along_axis(cross, top, 1), 0, None) ** alpha + 1e-12
        ph = gallery[:, -k_photo:]
        q2 = np.einsum("qm,qmd->qd", wts, ph[top])
        q2 /= np.linalg.norm(q2, axis=1, keepdims=True) + 1e-12
        out = (cross + qe_beta * (q2 @ ph.T)) / (1 + qe_beta)
        k = min(fuse_k, gallery.shape[0])
        if k > 1 and fuse_w > 0:
            top = np.argpartition(-out, k - 1, axis=1)[:, :k]  # (Q, k), any order
            s_top = np.take_along_axis(out, top, 1)
            r_exp = np.argsort(np.argsort(-s_top, axis=1, kind="stable"), axis=1, kind="stable")
            c_top = np.take_along_axis(cross, top, 1)
            r_plain = np.argsort(np.argsort(-c_top, axis=1, kind="stable"), axis=1, kind="stable")
            fused = 1.0 / (fuse_k0 + r_exp) + fuse_w / (fuse_k0 + r_plain)
            _put_in_order(out, top, s_top, np.argsort(-fused, axis=1, kind="stable"))
    k = min(rerank_k, gallery.shape[0])
    if k > 1 and rerank_gamma > 0:
        out = np.array(out, dtype=np.float32, copy=True)
        fine = slice(n_cross, n_cross + k_shape) if k_shape else slice(K_SEM, K_SEM + K_FINE)
        top = np.argpartition(-out, k - 1, axis=1)[:, :k]  # (Q, k), any order
        s_top = np.take_along_axis(out, top, 1)
        f_top = np.einsum("qd,qkd->qk", queries[:, fine], gallery[:, fine][top])
        _put_in_order(out, top, s_top, np.argsort(-(s_top + rerank_gamma * f_top), axis=1,
                                                  kind="stable"))
    return out


def _put_in_order(out: np.ndarray, top: np.ndarray, s_top: np.ndarray, order: np.ndarray) -> None:
    """Give the (Q, k) gallery columns ``top`` of ``out`` (their scores ``s_top``) the k best
    scores, best first, in the (Q, k) ``order`` (positions into ``top``): the set of the k
    best stays, their order changes, and every score shown stays one the first stage gave."""
    values = -np.sort(-s_top, axis=1)
    np.put_along_axis(out, np.take_along_axis(top, order, 1), values, 1)
