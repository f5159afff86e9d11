"""Unfreezing the last backbone block for sketches (issue 12's untried lever), on cached
activations.

The shipped model (:class:`.model.SketchModel`) keeps EfficientNet-Lite0 frozen for both
domains. Here the *sketch side only* gets its own trainable copy of the last block
(``block15``) and of the ``head`` convolution (:class:`SketchTail`), started from the
ImageNet weights; photographs and edge maps keep the frozen backbone, so indexing does not
change and a sketch still costs one backbone pass (its own tail instead of the shared one).
This is the "partially shared" Siamese design of Yu et al. 2016 ("Sketch Me That Shoe",
§3.3: shared early layers, untied late layers), at the depth a 2-core CPU can train.

Training never runs the frozen trunk: the activations at the tail's input (``block14``,
(B, 192, 6, 6) at the 192 px input) and the frozen 4×4 ``block10`` part of the feature row are
cached once per drawing (and for its horizontal mirror image) by :func:`block_inputs`. The
tail is trained so that a fitted :class:`SketchModel` (its statistics fixed during training)
ranks the photographs of the training categories well for the sketch's row:

* an instance term: softmax over *all* training photographs (their embeddings are fixed, so
  the whole gallery is one matrix product) with the sketch's source photograph as the target —
  the full-gallery form of the instance triplet loss of Sangkloy et al. 2016 ("The Sketchy
  Database", §5) / Yu et al. 2016;
* a category term: supervised contrastive over the same gallery, every photograph of the
  sketch's category a positive (Khosla et al. 2020, "Supervised Contrastive Learning");
* a QMUL term: the same instance softmax of QMUL shoe sketches over the edge maps of the QMUL
  training pairs, on the first-stage score and on the learned shape part;
* an L2 pull towards the ImageNet weights ("L2-SP", Li et al. 2018, "Explicit Inductive Bias
  for Transfer Learning with Convolutional Networks"): a few hundred objects cannot be
  allowed to move a million weights far.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from darkroom.ops.sketch import model as M

TAIL_IN = "block14"  #: the tap cached as the tail's input (192 channels, stride 32)
TAIL_BLOCK = 15  #: the block the tail copies (Lite0's last)
FIXED_TAP = "block10"  #: the 4×4 part of the row that stays frozen (112 ch)
FIXED_COLS = 112 * M.GRID * M.GRID  #: its width in a feature row


def block_inputs(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, INPUT, INPUT) drawings in [0, 1] through the frozen backbone → (the 4×4-pooled
    ``block10`` part of the feature row, (B, FIXED_COLS); the ``block14`` activations, the
    tail's input, (B, 192, INPUT/32, INPUT/32)), both float32."""
    with torch.inference_mode():
        f = net.features(x, (FIXED_TAP, TAIL_IN))  # type: ignore[operator]
        fixed = F.adaptive_avg_pool2d(f[FIXED_TAP].float(), M.GRID).flatten(1)
        return fixed.clone(), f[TAIL_IN].float().contiguous()


class SketchTail(nn.Module):
    """Trainable copy of Lite0's ``block15`` + ``head`` convolution: the tail's input
    (B, 192, h, w) and the frozen ``block10`` part (B, FIXED_COLS) → a feature row (B, FEAT)
    laid out as :func:`.model.backbone_features2`'s (``[block10 4×4 | block15 4×4 | head]``),
    so a :class:`SketchModel` takes it like a frozen row. Batch norms stay in eval mode
    (their statistics are ImageNet's; their affine parts train): batches of a few dozen
    sketches would make poor statistics."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        with torch.inference_mode(False):
            self.block = copy.deepcopy(net._blocks[TAIL_BLOCK])  # type: ignore[index]
            self.conv_head = copy.deepcopy(net._conv_head)
            self.bn_head = copy.deepcopy(net._bn1)
        self.requires_grad_(True)
        # The ImageNet weights, for the L2-SP pull (not saved: the backbone holds them).
        self._start = [p.detach().clone() for p in self.parameters()]

    def train(self, mode: bool = True) -> SketchTail:
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def forward(self, fixed: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.block(x)
        head = F.relu6(self.bn_head(self.conv_head(h)))
        sp = F.adaptive_avg_pool2d(h, M.GRID).flatten(1)
        return torch.cat([fixed, sp, head.mean((2, 3))], dim=1)

    def l2sp(self) -> torch.Tensor:
        """Σ ‖w − w_ImageNet‖² over the tail's parameters (scalar)."""
        return sum(((p - p0) ** 2).sum() for p, p0 in zip(self.parameters(), self._start, strict=True))

    def tail_state(self) -> dict[str, torch.Tensor]:
        """The tail's weights (for the shipped file, prefixed ``tail.``)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}


def gallery_softmax_loss(q: torch.Tensor, g: torch.Tensor, target: torch.Tensor,
                         tau: float = M.TAU) -> torch.Tensor:
    """Instance term: cross-entropy of ``softmax(q·gᵀ / τ)`` over the whole gallery
    (q (B, D), g (G, D) unit-scale rows) with ``target`` (B,) the right gallery row."""
    return F.cross_entropy(q @ g.T / tau, target)


def cross_part(e: torch.Tensor, model: M.SketchModel) -> torch.Tensor:
    """The first-stage ``[√w·sem, √(1−w)·fine]`` columns of ``model``'s (B, EMB_DIM)
    embeddings (what :func:`.model.rank_scores` scores first)."""
    return e[:, : model.sem_pca_basis.shape[1] + model.fine_pca_basis.shape[1]]


def shape_part(e: torch.Tensor, model: M.SketchModel) -> torch.Tensor:
    """The learned shape columns (the re-ranking's) of ``model``'s (B, EMB_DIM) embeddings."""
    k = model.sem_pca_basis.shape[1] + model.fine_pca_basis.shape[1]
    return e[:, k : k + model.k_shape()]


def train_tail(
    net: nn.Module,
    model: M.SketchModel,
    sk_fixed: torch.Tensor,
    sk_in: torch.Tensor,
    sk_src: torch.Tensor,
    sk_cls: torch.Tensor,
    photo_emb: torch.Tensor,
    photo_cls: torch.Tensor,
    q_fixed: torch.Tensor | None = None,
    q_in: torch.Tensor | None = None,
    q_emb: torch.Tensor | None = None,
    *,
    steps: int = 400,
    batch: int = 48,
    lr: float = 3e-4,
    w_cat: float = 1.0,
    w_qmul: float = 1.0,
    l2sp: float = 1e-2,
    seed: int = 0,
    log_every: int = 50,
    callback: Callable[[int, SketchTail], None] | None = None,
    every: int = 100,
) -> SketchTail:
    """Train a :class:`SketchTail` of ``net`` against the fixed, fitted ``model``.

    ``sk_fixed`` (N, V, FIXED_COLS) and ``sk_in`` (N, V, 192, h, w): V cached views of each of
    N training sketches (the drawing, its mirror image, …; a view is drawn at random per
    step); ``sk_src`` (N,) the row of each sketch's photograph in ``photo_emb`` (G, EMB_DIM:
    ``model.photo`` of the training photographs), ``sk_cls``/``photo_cls`` their categories.
    ``q_*``: QMUL training pairs (sketch views as above; ``q_emb`` their edge maps' photo
    embeddings, row i the pair of sketch i), or None. Each step takes ``batch`` Sketchy
    sketches and ``batch // 3`` QMUL sketches. Deterministic for ``seed``. ``callback(step,
    tail)`` is called every ``every`` steps (validation curves; the tail is put back in
    training mode after it)."""
    g = torch.Generator().manual_seed(seed)
    tail = SketchTail(net).train()
    params = [p for p in tail.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    # Warm up over the first tenth, then cosine decay to zero (any number of steps).
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, 0.5 * (
        1 + np.cos(np.pi * min(1.0, max(0, s + 1 - warm) / max(1, steps - warm))))))
    model = model.eval().requires_grad_(False)
    p_cross = cross_part(photo_emb, model)
    q_cross = q_shape = None
    if q_emb is not None:
        q_cross, q_shape = cross_part(q_emb, model), shape_part(q_emb, model)
    n, v = sk_in.shape[:2]
    t0 = time.time()
    for step in range(steps):
        i = torch.randperm(n, generator=g)[:batch]
        j = torch.randint(v, (len(i),), generator=g)
        e = model.sketch(tail(sk_fixed[i, j].float(), sk_in[i, j].float()))
        loss = gallery_softmax_loss(cross_part(e, model), p_cross, sk_src[i])
        if w_cat:
            loss = loss + w_cat * M.category_contrastive_loss(cross_part(e, model), p_cross, sk_cls[i],
                                                              photo_cls)
        if q_in is not None and q_fixed is not None and q_cross is not None and q_shape is not None:
            k = torch.randperm(len(q_in), generator=g)[: max(1, batch // 3)]
            jk = torch.randint(q_in.shape[1], (len(k),), generator=g)
            eq = model.sketch(tail(q_fixed[k, jk].float(), q_in[k, jk].float()))
            loss = loss + w_qmul * (gallery_softmax_loss(cross_part(eq, model), q_cross, k)
                                    + gallery_softmax_loss(shape_part(eq, model), q_shape, k))
        total = loss + l2sp * tail.l2sp()
        opt.zero_grad()
        total.backward()
        opt.step()
        sched.step()
        if log_every and (step + 1) % log_every == 0:
            print(f"  tail step {step + 1}/{steps}: loss {float(loss.detach()):.3f} "
                  f"(L2-SP {float(tail.l2sp().detach()):.2f})  {time.time() - t0:.0f} s", flush=True)
        if callback is not None and (step + 1) % every == 0:
            callback(step + 1, tail.eval())
            tail.train()
    return tail.eval()


@torch.no_grad()
def tail_rows(tail: SketchTail, fixed: torch.Tensor, x: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """Feature rows (N, FEAT) of cached tail inputs ``fixed`` (N, FIXED_COLS), ``x`` (N, 192,
    h, w) through ``tail`` (eval)."""
    tail = tail.eval()
    return torch.cat([tail(fixed[i : i + chunk].float(), x[i : i + chunk].float())
                      for i in range(0, len(x), chunk)]) if len(x) else torch.zeros(0, M.FEAT)


def cache_views(net: nn.Module, views: Sequence[Sequence[np.ndarray]], batch: int = 64,
                what: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """Tail inputs of V views of N drawings (``views[v][i]``: view v of drawing i, a normalised
    INPUT×INPUT float32 [0, 1] drawing — as drawn, mirrored, stroke-augmented …) →
    ((N, V, FIXED_COLS), (N, V, 192, h, w)), float16 (the cache: 14 KiB per view)."""
    fixed, acts = [], []
    n = len(views[0])
    t0 = time.time()
    for i in range(0, n, batch):
        fv, av = [], []
        for view in views:
            f, a = block_inputs(net, M.drawings_to_tensor(view[i : i + batch], channels_last=False))
            fv.append(f.half())
            av.append(a.half())
        fixed.append(torch.stack(fv, 1))
        acts.append(torch.stack(av, 1))
        print(f"\r{what}: {min(i + batch, n)}/{n}  {time.time() - t0:.0f} s", end="", flush=True)
    print()
    return torch.cat(fixed), torch.cat(acts)


def mirrored(drawing: np.ndarray) -> np.ndarray:
    """The drawing mirrored left–right (a sketch of the same object, seen from the other side)."""
    return np.ascontiguousarray(drawing[:, ::-1])


def augmented(raw: np.ndarray, rng: np.random.Generator, size: int = M.INPUT, amount: float = 1.0
              ) -> np.ndarray:
    """A stroke-augmented copy (:func:`.strokes.augment_sketch`: strokes dropped, gaps, pen
    width, small affine) of a raw H×W [0, 1] drawing, then normalised to ``size``×``size``
    (as the drawing itself is)."""
    from darkroom.ops.sketch.strokes import augment_sketch, normalize_drawing

    return normalize_drawing(augment_sketch(raw, rng, amount), size)
