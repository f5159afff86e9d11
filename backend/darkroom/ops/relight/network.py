"""The light-transport networks of Ren et al. 2015 ("Image Based Relighting Using Neural
Networks", SIGGRAPH 2015), trained on one light stack.

Method, following the paper's sections:

* **Relighting as light transport** (Sec. 3): the image under a light at ``l`` is the column
  of the scene's light transport matrix for ``l``; every pixel's value is a function
  ``Φ(p, l)`` of the pixel and the light, and the image under several lights is the sum of
  columns. We learn ``Φ`` from the N captured columns and evaluate it anywhere.
* **Network input** (Sec. 4): the pixel's coordinates, the light's coordinates and the pixel's
  value in the stack's *average image*, which carries texture the network need not memorise.
  The average image also acts multiplicatively on the output: albedo scales reflected light,
  so the networks learn shading, shadows and highlights only. The output is
  ``σ(o₃)·(A(p)·o₁ + o₂)``: the sigmoid gate is a visibility term that can reach 0, so a
  shadow is black rather than a network's noise around 0 (measured, draft on synthetic scene
  1: +0.6 dB and visibly clean shadow interiors; −0.8 dB on the DiLiGenT ball, still
  ≥ barycentric + 2.7 dB).
* **Divide and conquer** (Sec. 5): the paper splits the pixels into clusters and gives every
  cluster its *own small network* (two hidden layers), because one small network cannot hold a
  whole image's light transport while a large one is slow to train and to evaluate. We cluster
  the pixels by k-means over (position, average colour) — compact regions that follow object
  boundaries, about :data:`.clusters.PIXELS_PER_CLUSTER` pixels each — and train one
  two-layer MLP of :data:`HIDDEN` units per cluster, with the pixel's coordinates taken
  relative to its cluster. All clusters' networks train at once as batched matrix products
  (``torch.bmm`` over a (members·clusters) batch), so a step is a few large BLAS calls, not
  thousands of small ones.
* **Seams**: independent networks disagree where the data leave Φ under-determined (a
  highlight between two captured lights), which showed as blocks. Each network therefore
  also trains on a band of its neighbours' pixels along the seam
  (:data:`.clusters.OVERLAP`), and the answer cross-fades between the two networks over a
  narrower band (:data:`.clusters.BLEND`): a partition of unity, continuous across seams,
  costing one more evaluation for the ~40 % of pixels inside the band (measured on the
  synthetic scenes).
* **Ensemble** (Sec. 5): several members, each with its own clustering (k-means seed),
  initialisation and random draw of training samples, averaged. Different clusterings put the
  members' seams in different places, and independent errors cancel.

Why this shape on a CPU (measured with ``torch.profiler`` and ``bench/relight.py``): the
previous single 128-wide, 4-layer MLP per member spent ~57 k multiply-adds per sample, and its
steps already ran at ~50 GFLOPS on one core (gathers, one-hot and Adam were < 15 % of a step)
— the cost was the arithmetic, not overhead. A cluster's 32-unit network costs ~1.6 k
multiply-adds per sample, so the same training time sees ~30× more samples, and a new light
costs ~1.3 k multiply-adds per pixel per member once the first layer's pixel part
``W_p·f(p)`` is computed (once per render call, shared by all its lights, see
:meth:`RelightModel.render`). Measured choices (synthetic scene 1, 256², 64 lights, gain over
barycentric): light input with 1 octave of sin/cos +2.1 dB, 2 octaves +0.9, 3 octaves −2.9
(more octaves overfit between the captured lights); learning rate 2e-2 over 1e-2 +0.9 dB;
at equal training samples, 2 members × 3000 steps +4.4 dB vs 4 × 1500 +4.1 dB — longer
training beats more members, and fewer members halve the cost of a new light. SiLU instead of
ReLU: +1.2 dB on the ball but −1.5 dB on scene 1 and about twice the CPU time (not taken).

Training samples (light, pixel) pairs: every step draws the same number of pixels from every
cluster, and inside a cluster, pixels whose value varies most over the stack (shadow
boundaries, highlights: where interpolation fails) are drawn more often (half the draws
uniform, half in proportion to the pixel's standard deviation over the stack) — in the spirit
of the paper's attention to where the light transport changes fast (not measured apart).

All tensors are float32 linear light divided by the stack's ``scale`` (99.9th percentile) so
that targets are O(1). Light coordinates are 2-D (see :func:`baselines.plane_coords`) and
mapped to [-1, 1]² by the stack's bounding box.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from darkroom.errors import check_cancel
from darkroom.ops.relight.clusters import Clustering, clusters, n_clusters

#: Bump when the model's layout changes (the cache key includes it, see ``cache.stack_key``).
VERSION = 3
HIDDEN = 32  # units of each hidden layer of a cluster's network
LIGHT_FREQS = 1  # sin/cos of π·l for the light input (more octaves overfit: measured)
LR = 2e-2
GATE = True  # output σ(o₃)·(A·o₁ + o₂) (see the module docstring); False: A·o₁ + o₂
OUT = 7  # network outputs: o₁ (3), o₂ (3), o₃ (1)


@dataclass(frozen=True)
class Quality:
    """Training budget of one quality level.

    ``members``: ensemble size; ``steps``: Adam steps (all members and clusters at once);
    ``samples``: (light, pixel) samples per cluster per step, for each member.
    """

    members: int
    steps: int
    samples: int


#: draft / standard / best. Training costs ``members × steps × samples × clusters`` samples.
QUALITY: dict[str, Quality] = {
    "draft": Quality(2, 1500, 32),
    "standard": Quality(2, 6000, 32),
    "best": Quality(3, 6000, 32),
}


def light_features(lights_2d: torch.Tensor) -> torch.Tensor:
    """(K, 2) lights in [-1, 1]² → (K, 2 + 4·LIGHT_FREQS): raw values, sin/cos at octaves."""
    f = (2.0 ** torch.arange(LIGHT_FREQS, dtype=lights_2d.dtype, device=lights_2d.device))
    ang = (lights_2d[:, :, None] * f * math.pi).flatten(1)
    return torch.cat([lights_2d, torch.sin(ang), torch.cos(ang)], 1)


class ClusterNets:
    """The networks of all clusters of all members, as stacked parameters:
    ``w1`` (MK, I, H), ``b1`` (MK, 1, H), ``w2`` (MK, H, H), ``b2``, ``w3`` (MK, H, 7), ``b3``,
    with MK = members × clusters and I = 5 pixel inputs (local x, y, average RGB) + light
    inputs. Output: ``σ(o₃)·(A(p)·o₁ + o₂)`` (RGB, stack-scale units; :func:`_output`)."""

    NAMES = ("w1", "b1", "w2", "b2", "w3", "b3")
    PIX_IN = 5

    def __init__(self, params: dict[str, torch.Tensor]) -> None:
        self.p = params

    @staticmethod
    def init(mk: int, light_in: int, device: str, gen: torch.Generator) -> ClusterNets:
        """Uniform ±1/√fan_in, as ``torch.nn.Linear`` does."""
        shapes = {"w1": (ClusterNets.PIX_IN + light_in, HIDDEN), "w2": (HIDDEN, HIDDEN),
                  "w3": (HIDDEN, OUT)}
        p = {}
        for name, (fan_in, fan_out) in shapes.items():
            bound = 1 / math.sqrt(fan_in)
            for key, shape in ((name, (mk, fan_in, fan_out)), ("b" + name[1], (mk, 1, fan_out))):
                t = (torch.rand(shape, generator=gen) * 2 - 1) * bound
                p[key] = t.to(device).requires_grad_()
        return ClusterNets(p)

    def forward(self, x: torch.Tensor, albedo: torch.Tensor) -> torch.Tensor:
        """Inputs (MK, S, I), average image (MK, S, 3) → RGB (MK, S, 3)."""
        p = self.p
        h = torch.relu(torch.baddbmm(p["b1"], x, p["w1"]))
        h = torch.relu(torch.baddbmm(p["b2"], h, p["w2"]))
        return _output(torch.baddbmm(p["b3"], h, p["w3"]), albedo)


def _output(o: torch.Tensor, albedo: torch.Tensor) -> torch.Tensor:
    """Network outputs (..., OUT) and average image (..., 3) → RGB (..., 3)."""
    if GATE:
        return torch.sigmoid(o[..., 6:7]) * (albedo * o[..., :3] + o[..., 3:6])
    return albedo * o[..., :3] + o[..., 3:6]


def _pixel_grid(h: int, w: int, device: str) -> torch.Tensor:
    """(HW, 2) pixel centres in pixel units (x, y)."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5,
                            torch.arange(w, dtype=torch.float32) + 0.5, indexing="ij")
    return torch.stack([xx.ravel(), yy.ravel()], 1).to(device)


class RelightModel:
    """A trained ensemble for one stack: evaluates Φ(·, l) for any 2-D light coordinates."""

    def __init__(self, nets: ClusterNets, members: list[Clustering], k: int,
                 light_lo: torch.Tensor, light_span: torch.Tensor, mean_img: np.ndarray,
                 device: str) -> None:
        self.nets = nets
        self.members = members
        self.k = k
        self.light_lo = light_lo
        self.light_span = light_span
        h, w, _ = mean_img.shape
        self.shape = (h, w)
        self.device = device
        self.xy = _pixel_grid(h, w, device)
        self.albedo = torch.as_tensor(mean_img.reshape(-1, 3), dtype=torch.float32,
                                      device=device)
        self._layouts: dict[int, list[tuple[torch.Tensor, ...]]] = {}

    def light_input(self, lights_2d: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(K, 2) plane coordinates → (K, 2 + 4·LIGHT_FREQS) network inputs."""
        t = torch.as_tensor(np.asarray(lights_2d, np.float32), device=self.device)
        return light_features((t - self.light_lo) / self.light_span * 2 - 1)

    @torch.no_grad()
    def render(self, lights_2d: np.ndarray, cancelled: Callable[[], bool] | None = None,
               block: int = 1 << 16, spread: bool = False
               ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """(K, 2) lights → (K, H, W, 3) float32 images, in stack-scale units (ensemble mean);
        with ``spread``, also the members' standard deviation around that mean (K, H, W, 3).

        Per member and block of pixels (sorted by cluster, in chunks of one cluster each),
        the first layer's pixel part ``W_p·f(p) + b`` is computed once and shared by all K
        lights; a light then adds its ``W_l·g(l)`` per chunk and runs the hidden layers.
        ``cancelled`` is checked every block (well under a second on a CPU).
        """
        h, w = self.shape
        lf = self.light_input(lights_2d)
        total = torch.zeros(len(lf), h * w, 3, device=self.device)
        sq = torch.zeros_like(total) if spread else None
        for m in range(len(self.members)):
            out = torch.zeros(len(lf), h * w + 1, 3, device=self.device)  # + a padding row
            for layout in self._layouts_of(m):
                self._accumulate(out, lf, m, layout, block, cancelled)
            total += out[:, : h * w]
            if sq is not None:
                sq += out[:, : h * w] ** 2
        n = len(self.members)
        mean = total / n
        img = mean.reshape(len(lf), h, w, 3).cpu().numpy()
        if sq is None:
            return img
        sd = (sq / n - mean**2).clamp(min=0).sqrt()
        return img, sd.reshape(len(lf), h, w, 3).cpu().numpy()

    def _accumulate(self, out: torch.Tensor, lf: torch.Tensor, m: int,
                    layout: tuple[torch.Tensor, ...], block: int,
                    cancelled: Callable[[], bool] | None) -> None:
        """Add member ``m``'s networks' weighted answers for lights ``lf`` (K, L) over one
        layout (see :meth:`_layouts_of`) to ``out`` (K, HW + 1, 3), ~``block`` pixels at a
        time (padding slots add 0 to the last row: no masking)."""
        p, cl = self.nets.p, self.members[m]
        pix_all, dest_all, chunk_cl, wt_all = layout
        chunk = pix_all.shape[1]
        rows = max(1, block // chunk)
        for s in range(0, len(chunk_cl), rows):
            check_cancel(cancelled)
            cc = chunk_cl[s : s + rows]
            mc = m * self.k + cc  # the chunks' networks
            pix, wt = pix_all[s : s + rows], wt_all[s : s + rows]
            dest = dest_all[s * chunk : (s + len(cc)) * chunk]
            alb = self.albedo[pix]
            x = torch.cat([cl.local(self.xy, pix, cc[:, None]), alb], 2)
            w1 = p["w1"][mc]
            first = torch.bmm(x, w1[:, : ClusterNets.PIX_IN])  # W_p·f(p), once for all lights
            lpart = torch.einsum("ki,cih->kch", lf, w1[:, ClusterNets.PIX_IN :])
            lpart += p["b1"][mc][:, 0]  # W_l·g(l) + b, per light and chunk
            w2, b2, w3, b3 = p["w2"][mc], p["b2"][mc], p["w3"][mc], p["b3"][mc]
            for i in range(len(lf)):  # bmm + add_: baddbmm with a broadcast bias ran ~1.5× slower
                hid = torch.bmm(torch.add(first, lpart[i][:, None]).relu_(), w2).add_(b2).relu_()
                rgb = _output(torch.bmm(hid, w3).add_(b3), alb) * wt
                out[i].index_add_(0, dest, rgb.view(-1, 3))

    def _layouts_of(self, m: int) -> list[tuple[torch.Tensor, ...]]:
        """Member ``m``'s pixels in chunks of one cluster (computed once, then kept): for its
        own networks (all pixels) and for the second networks (the blend band). Each layout:
        pixel indices (C, chunk) (0 for padding), destination rows (C·chunk,) (HW for
        padding), chunk → cluster (C,), the network's weight per pixel (C, chunk, 1) (0 for
        padding)."""
        if m not in self._layouts:
            cl = self.members[m]
            band = torch.nonzero(cl.blend > 0)[:, 0]
            both = [(cl.labels, torch.arange(len(cl.labels), device=self.device), 1 - cl.blend),
                    (cl.second[band], band, cl.blend)]
            self._layouts[m] = []
            for labels, pixels, weight in both:
                if len(pixels) == 0:
                    continue
                flat, chunk_cl, chunk = _chunks(labels, pixels, self.k, len(cl.labels))
                pad = flat < 0
                safe = flat.clamp(min=0)
                wt = torch.where(pad, 0.0, weight[safe]).view(-1, chunk, 1)
                dest = torch.where(pad, len(cl.labels), flat)
                self._layouts[m].append((safe.view(-1, chunk), dest, chunk_cl, wt))
        return self._layouts[m]

    def state(self) -> dict[str, object]:
        """Plain tensors (loadable with ``torch.load(weights_only=True)``)."""
        small = torch.int16 if self.k <= 32767 else torch.int32
        return {
            "version": VERSION,
            "clusters": self.k,
            "params": {n: t.detach().cpu() for n, t in self.nets.p.items()},
            "labels": [c.labels.to(small).cpu() for c in self.members],
            "second": [c.second.to(small).cpu() for c in self.members],
            "blend": [c.blend.cpu() for c in self.members],
            "light_lo": self.light_lo.cpu(),
            "light_span": self.light_span.cpu(),
        }

    @staticmethod
    def from_state(state: dict, mean_img: np.ndarray, device: str) -> RelightModel:
        """Rebuild from :meth:`state` and the stack's average image (H, W, 3)."""
        h, w, _ = mean_img.shape
        xy = _pixel_grid(h, w, device)
        k = int(state["clusters"])
        members = [Clustering.build(lab.to(device).long(), sec.to(device).long(),
                                    bl.to(device), xy, k)
                   for lab, sec, bl in zip(state["labels"], state["second"], state["blend"])]
        nets = ClusterNets({n: t.to(device) for n, t in state["params"].items()})
        return RelightModel(nets, members, k, state["light_lo"].to(device),
                            state["light_span"].to(device), mean_img, device)


def _chunks(labels: torch.Tensor, pixels: torch.Tensor, k: int, hw: int
            ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``pixels`` (P,) with cluster ``labels`` (P,), sorted by cluster and cut into equal
    chunks that never span two clusters.

    Returns (flat pixel indices (C·chunk,), -1 for padding; chunk → cluster (C,); chunk size).
    A chunk is a quarter of the mean cluster of the whole image (``hw`` pixels), so padding
    wastes ≤ ~25 % of the work.
    """
    chunk = max(8, hw // k // 4)
    counts = torch.bincount(labels, minlength=k)
    per = (counts + chunk - 1) // chunk
    chunk_cl = torch.repeat_interleave(torch.arange(k, device=labels.device), per)
    order = torch.argsort(labels, stable=True)
    start_chunk = torch.cumsum(per, 0) - per  # first chunk of each cluster
    start_pix = torch.cumsum(counts, 0) - counts
    sorted_lab = labels[order]
    rank = torch.arange(len(labels), device=labels.device) - start_pix[sorted_lab]
    slot = start_chunk[sorted_lab] * chunk + rank
    flat = torch.full((int(per.sum()) * chunk,), -1, dtype=torch.long, device=labels.device)
    flat[slot] = pixels[order]
    return flat, chunk_cl, chunk


def _sampling_table(labels: torch.Tensor, second: torch.Tensor, weight: torch.Tensor, k: int,
                    width: int) -> torch.Tensor:
    """Per cluster, the inverse CDF of pixel draws: (K, width) pixel indices such that a
    uniform column draws a pixel with probability ½·uniform + ½·∝ ``weight`` within the
    cluster (``width`` ≥ 4× the largest cluster; a cluster with no pixels draws pixel 0).
    A cluster's pixels include the seam band of its neighbours (``second`` == it)."""
    band = torch.nonzero(second >= 0)[:, 0]
    owner = torch.cat([labels, second[band]])
    pixel = torch.cat([torch.arange(len(labels), device=labels.device), band])
    order = pixel[torch.argsort(owner, stable=True)]
    counts = torch.bincount(owner, minlength=k)
    table = torch.zeros(k, width, dtype=torch.long, device=labels.device)
    grid = (torch.arange(width, device=labels.device, dtype=torch.float32) + 0.5) / width
    start = 0
    for c in range(k):
        n = int(counts[c])
        if n == 0:
            continue
        pix = order[start : start + n]
        wt = weight[pix].double()
        prob = 0.5 / n + 0.5 * wt / wt.sum() if wt.sum() > 0 else torch.full_like(wt, 1 / n)
        cdf = torch.cumsum(prob, 0).float()
        table[c] = pix[torch.searchsorted(cdf, grid).clamp(max=n - 1)]
        start += n
    return table


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
    ``lights_2d`` (N, 2). Returns the model and stats (seconds, final training RMSE, budget).
    The cost is ``steps × members × clusters × samples`` (light, pixel) samples of ~1.6 k
    multiply-adds each (:data:`QUALITY`): it grows with the image up to
    ``MAX_CLUSTERS × PIXELS_PER_CLUSTER`` pixels (1024 clusters, ~0.26 MP; a 256² image has
    256) and stays there for larger images, whose clusters grow instead.
    """
    q = QUALITY[quality]
    t0 = time.perf_counter()
    n, h, w, _ = stack.shape
    hw = h * w
    mean_img = stack.mean(0)
    k = n_clusters(hw)
    xy = _pixel_grid(h, w, device)
    albedo = torch.as_tensor(mean_img.reshape(-1, 3), device=device)
    target = torch.as_tensor(stack.reshape(n * hw, 3), device=device)
    spread = torch.as_tensor(stack.std(0).mean(-1).reshape(-1), device=device)
    lights = torch.as_tensor(np.asarray(lights_2d, np.float32), device=device)
    lo, hi = lights.min(0).values, lights.max(0).values
    span = torch.where(hi - lo > 1e-6, hi - lo, torch.ones_like(hi))
    lf = light_features((lights - lo) / span * 2 - 1)

    members = []
    for m in range(q.members):
        check_cancel(cancelled)
        lab, sec, blend = (torch.as_tensor(a, device=device)
                           for a in clusters(mean_img, k, seed * 1000 + m))
        members.append(Clustering.build(lab, sec, blend, xy, k))
    width = 4 * max(int(torch.bincount(torch.cat([c.labels, c.second[c.second >= 0]])).max())
                    for c in members)
    table = torch.cat([_sampling_table(c.labels, c.second, spread, k, width) for c in members])
    centre = torch.cat([c.centre for c in members])  # (MK, 2)
    scale = torch.cat([c.scale for c in members])  # (MK, 1)

    gen = torch.Generator(device="cpu").manual_seed(seed)
    mk = q.members * k
    nets = ClusterNets.init(mk, lf.shape[1], device, gen)
    opt = torch.optim.Adam(list(nets.p.values()), lr=LR)
    sched = torch.optim.lr_scheduler.LambdaLR(  # short warm-up, then cosine to 1 % of LR
        opt, lambda s: min(1.0, (s + 1) / 50) * (0.01 + 0.99 * 0.5 * (1 + math.cos(
            math.pi * min(s, q.steps) / q.steps))))
    run, last = 0.0, 0.0
    for step in range(q.steps):
        check_cancel(cancelled)
        col = torch.randint(0, width, (mk, q.samples), generator=gen).to(device)
        pix = table.gather(1, col)  # (MK, S)
        li = torch.randint(0, n, (mk, q.samples), generator=gen).to(device)
        alb = albedo[pix]
        x = torch.cat([(xy[pix] - centre[:, None]) / scale[:, None], alb, lf[li]], 2)
        pred = nets.forward(x, alb)
        loss = torch.nn.functional.mse_loss(pred, target[li * hw + pix])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        run = 0.98 * run + 0.02 * loss.item() if step else loss.item()
        now = time.perf_counter()
        if now - last > 0.5:
            last = now
            progress((step + 1) / q.steps,
                     f"training {mk} networks ({q.members}×{k}), error {math.sqrt(run):.4f}")
    for t in nets.p.values():
        t.requires_grad_(False)
    stats = {"train_seconds": time.perf_counter() - t0, "train_rmse": math.sqrt(run),
             "clusters": k, **asdict(q)}
    return RelightModel(nets, members, k, lo, span, mean_img, device), stats
