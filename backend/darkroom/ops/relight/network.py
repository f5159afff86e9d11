"""The light-transport networks of Ren et al. 2015 ("Image Based Relighting Using Neural
Networks", SIGGRAPH 2015), trained on one light stack.

Method, following the paper's sections:

* **Relighting as light transport** (Sec. 3): the image under a light at ``l`` is the column
  of the scene's light transport matrix for ``l``; every pixel's value is a function
  ``Φ(p, l)`` of the pixel and the light, and the image under several lights is the sum of
  columns. We learn ``Φ`` from the N captured columns and evaluate it anywhere.
* **Network input** (Sec. 4): the pixel's coordinates, the light's coordinates and the pixel's
  value in the stack's *average image*, which carries texture the network need not memorise.
  We add a sinusoidal encoding of the coordinates (so a small MLP can draw shadow outlines) and
  let the average image act multiplicatively on the output (``A(p)·o₁ + o₂``): albedo scales
  reflected light, so the network learns shading, shadows and highlights only.
* **Pixel clustering** (Sec. 5, hierarchical divide and conquer): the paper splits the pixels
  into clusters by appearance and trains networks per cluster. Here k-means clusters of
  (average colour, position) enter each network as a one-hot code feeding its pixel branch —
  per-cluster first-layer weights over shared hidden layers. That specialises by cluster like
  the paper's split, but trains as one network on a 2-core CPU and needs no seams between
  clusters.
* **Ensemble** (Sec. 5): several networks, each with its own clustering (k-means seed), random
  initialisation and random draw of training samples, averaged; averaging cancels the
  members' independent errors where the data leave the function under-determined.

Cost: training draws (light, pixel) samples at random, so it costs the same for any image
size (steps × batch × ensemble size, :data:`QUALITY`); a new light costs one forward pass of
each network per pixel.

All tensors are float32 linear light divided by the stack's ``scale`` (99.9th percentile) so
that targets are O(1). Coordinates are 2-D (see :func:`baselines.plane_coords`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from darkroom.errors import check_cancel

#: draft / standard / best: (ensemble size, training steps per network, batch size)
QUALITY: dict[str, tuple[int, int, int]] = {
    "draft": (2, 400, 4096),
    "standard": (4, 1500, 8192),
    "best": (6, 3000, 8192),
}
WIDTH = 128
DEPTH = 4
N_CLUSTERS = 8
PIX_FREQS = 6  # sin/cos of π·2^k·(x, y), k < 6: outlines down to ~1/64 of the image
LIGHT_FREQS = 3


def _fourier(x: torch.Tensor, n: int) -> torch.Tensor:
    """(M, D) → (M, D + 4·D·n/2): raw values and sin/cos at octave frequencies."""
    f = (2.0 ** torch.arange(n, dtype=x.dtype, device=x.device)) * math.pi
    ang = (x[:, :, None] * f).flatten(1)
    return torch.cat([x, torch.sin(ang), torch.cos(ang)], 1)


def light_features(lights_2d: np.ndarray, device: str) -> torch.Tensor:
    """(K, 2) light coordinates → (K, 2 + 4·LIGHT_FREQS) network input."""
    t = torch.as_tensor(np.asarray(lights_2d, np.float32), device=device)
    return _fourier(t - 0.5 if t.abs().max() > 1.5 else t, LIGHT_FREQS)


def clusters(mean_img: np.ndarray, seed: int, k: int = N_CLUSTERS) -> np.ndarray:
    """k-means labels (H·W,) uint8 of pixels by (average colour, position) — Ren et al. Sec. 5."""
    from scipy.cluster.vq import kmeans2, vq

    h, w, _ = mean_img.shape
    yy, xx = np.mgrid[0:h, 0:w]
    a = mean_img.reshape(-1, 3)
    feats = np.concatenate(
        [a / (a.max() + 1e-8), np.stack([xx.ravel() / w, yy.ravel() / h], 1) * 0.5], 1
    ).astype(np.float64)
    rng = np.random.default_rng(seed)
    sample = feats[rng.choice(len(feats), min(len(feats), 20000), replace=False)]
    cent, _ = kmeans2(sample, k, seed=seed, minit="++")
    return vq(feats, cent)[0].astype(np.uint8)


class RelightNet(nn.Module):
    """One ensemble member: Φ(p, l) = A(p)·o₁ + o₂, o = MLP([pixel features, light features]),
    ReLU layers of ``width`` units (the paper's per-segment MLP, with the inputs of Sec. 4)."""

    def __init__(self, pix_in: int, light_in: int, width: int = WIDTH, depth: int = DEPTH) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(pix_in + light_in, width), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.ReLU()]
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 6))

    def forward(self, pix: torch.Tensor, light: torch.Tensor, albedo: torch.Tensor) -> torch.Tensor:
        """Pixel inputs (M, P), light inputs (M, L), average image (M, 3) → RGB (M, 3)."""
        o = self.mlp(torch.cat([pix, light], 1))
        return albedo * o[:, :3] + o[:, 3:]


@dataclass
class Features:
    """Per-pixel inputs shared by all members: coords+encoding (HW, D), average image (HW, 3)."""

    coords: torch.Tensor
    albedo: torch.Tensor
    shape: tuple[int, int]

    @staticmethod
    def build(mean_img: np.ndarray, device: str) -> Features:
        h, w, _ = mean_img.shape
        yy, xx = torch.meshgrid(
            (torch.arange(h) + 0.5) / h * 2 - 1, (torch.arange(w) + 0.5) / w * 2 - 1, indexing="ij"
        )
        xy = torch.stack([xx.ravel(), yy.ravel()], 1).to(device)
        albedo = torch.as_tensor(mean_img.reshape(-1, 3), dtype=torch.float32, device=device)
        coords = torch.cat([_fourier(xy, PIX_FREQS), albedo, albedo.clamp(min=0).sqrt()], 1)
        return Features(coords, albedo, (h, w))

    def pixel_input(self, labels: torch.Tensor, idx: torch.Tensor | slice) -> torch.Tensor:
        onehot = nn.functional.one_hot(labels[idx].long(), N_CLUSTERS).float()
        return torch.cat([self.coords[idx], onehot], 1)


class RelightModel:
    """A trained ensemble for one stack: evaluates Φ(·, l) for any 2-D light coordinates."""

    def __init__(self, nets: list[RelightNet], labels: list[torch.Tensor], feats: Features) -> None:
        self.nets = nets
        self.labels = labels
        self.feats = feats

    @torch.no_grad()
    def render(self, lights_2d: np.ndarray, cancelled: Callable[[], bool] | None = None,
               chunk: int = 1 << 15) -> np.ndarray:
        """(K, 2) lights → (K, H, W, 3) float32 images, in stack-scale units (ensemble mean).
        ``cancelled`` is checked every chunk of pixels (well under a second on a CPU)."""
        dev = self.feats.coords.device
        lf = light_features(lights_2d, str(dev))
        h, w = self.feats.shape
        out = torch.zeros(len(lf), h * w, 3, device=dev)
        for net, lab in zip(self.nets, self.labels):
            net.eval()
            for s in range(0, h * w, chunk):
                check_cancel(cancelled)
                sl = slice(s, min(s + chunk, h * w))
                p = self.feats.pixel_input(lab, sl)
                for k in range(len(lf)):
                    out[k, sl] += net(p, lf[k : k + 1].expand(len(p), -1), self.feats.albedo[sl])
        return (out / len(self.nets)).reshape(len(lf), h, w, 3).cpu().numpy()

    def state(self) -> dict[str, object]:
        """Plain tensors and state dicts (loadable with ``torch.load(weights_only=True)``)."""
        return {
            "nets": [{k: v.cpu() for k, v in n.state_dict().items()} for n in self.nets],
            "labels": [lab.cpu() for lab in self.labels],
        }

    @staticmethod
    def from_state(state: dict, mean_img: np.ndarray, device: str) -> RelightModel:
        feats = Features.build(mean_img, device)
        nets = []
        for sd in state["nets"]:
            net = RelightNet(feats.coords.shape[1] + N_CLUSTERS, 2 + 4 * LIGHT_FREQS).to(device)
            net.load_state_dict(sd)
            nets.append(net.eval())
        return RelightModel(nets, [lab.to(device) for lab in state["labels"]], feats)


def train(
    stack: np.ndarray,
    lights_2d: np.ndarray,
    quality: str,
    device: str,
    progress: Callable[[float, str], None],
    cancelled: Callable[[], bool],
    seed: int = 0,
) -> tuple[RelightModel, dict[str, float]]:
    """Fit the ensemble to a stack.

    ``stack`` (N, H, W, 3) float32 linear, unit lights, already divided by the stack scale;
    ``lights_2d`` (N, 2). Returns the model and stats (seconds, final training RMSE).
    Samples (light, pixel) pairs uniformly at random: the cost depends on the step budget of
    ``quality`` (:data:`QUALITY`), not on the image size.
    """
    n_nets, steps, batch = QUALITY[quality]
    t0 = time.perf_counter()
    mean_img = stack.mean(0)
    feats = Features.build(mean_img, device)
    n, h, w, _ = stack.shape
    target = torch.as_tensor(stack.reshape(n, h * w, 3), device=device)
    lf = light_features(lights_2d, device)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    nets, labels, losses = [], [], []
    last = 0.0
    for m in range(n_nets):
        torch.manual_seed(seed * 1000 + m)
        lab = torch.as_tensor(clusters(mean_img, seed * 1000 + m), device=device)
        net = RelightNet(feats.coords.shape[1] + N_CLUSTERS, lf.shape[1]).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps,
                                                    pct_start=0.1)
        run = 0.0
        for step in range(steps):
            check_cancel(cancelled)
            pi = torch.randint(0, h * w, (batch,), generator=gen).to(device)
            li = torch.randint(0, n, (batch,), generator=gen).to(device)
            pred = net(feats.pixel_input(lab, pi), lf[li], feats.albedo[pi])
            loss = nn.functional.mse_loss(pred, target[li, pi])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            run = 0.98 * run + 0.02 * loss.item() if step else loss.item()
            now = time.perf_counter()
            if now - last > 0.5:
                last = now
                progress((m + (step + 1) / steps) / n_nets,
                         f"training network {m + 1}/{n_nets}, error {math.sqrt(run):.4f}")
        nets.append(net.eval())
        labels.append(lab)
        losses.append(run)
    stats = {"train_seconds": time.perf_counter() - t0,
             "train_rmse": float(np.sqrt(np.mean(losses))), "networks": n_nets,
             "steps": steps, "batch": batch}
    return RelightModel(nets, labels, feats), stats
