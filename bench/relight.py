"""Benchmark: relighting quality and cost (issue 4), network vs nearest vs barycentric.

Leave-out evaluation, all three methods in the same run:

* synthetic scenes (``darkroom.ops.relight.synth``): an 8×8 grid of lights on [0, 1]² for
  training, 16 held-out positions inside the grid (random, off-grid) with exact ground truth;
* the DiLiGenT ball (../shared/data/diligent_ball, if present): 16 of 96 directions held out,
  the rest train; images divided by their light intensities, metrics inside ``mask.png``.

Metrics per held-out light: PSNR (linear values, peak = the ground truth's maximum) and
relative error ‖pred − gt‖₂ / ‖gt‖₂ (as Ren et al. 2015 report). Costs, measured in the same
run: training seconds per stack (each synthetic scene *is* 64 images at 256², so on
``--device cpu`` that is the issue's CPU training figure), and the CPU time of a render call
for one new light at 1 MP (a network's cost does not depend on its weights, so an untrained
ensemble of the same shape is timed), as a fraction of that training time.

    python bench/relight.py [--device cpu|cuda] [--quality standard] [--scenes 3] [--size 256]
                            [--threads 2] [--no-ball] [--no-synthetic] [--no-cpu-costs]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from darkroom import images as imgs
from darkroom.ops import registry
from darkroom.ops.registry import Image
from darkroom.ops.relight import network, synth
from darkroom.ops.relight.baselines import Interpolator, barycentric_light, nearest_light
from darkroom.ops.relight.op import get_model, prepare_stack, relight

ROOT = Path(__file__).resolve().parents[1]
BALL = ROOT / ".." / "shared" / "data" / "diligent_ball"


def psnr(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    mse = float(np.mean((pred[mask] - gt[mask]) ** 2))
    return 10 * np.log10(float(gt[mask].max()) ** 2 / max(mse, 1e-12))


def rel_err(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    return float(np.linalg.norm(pred[mask] - gt[mask]) / np.linalg.norm(gt[mask]))


def evaluate(name: str, train_imgs: list[Image], held: list[np.ndarray], targets: np.ndarray,
             mask: np.ndarray, quality: str, unit: np.ndarray | None = None) -> tuple[dict, list]:
    """Train on ``train_imgs``; score ours / nearest / barycentric on held-out (gt, target)."""
    stack = prepare_stack(train_imgs)
    t0 = time.perf_counter()
    model, meta = get_model(stack, quality, lambda f, s="", p=None: None, lambda: False)
    train_s = time.perf_counter() - t0
    interp = Interpolator(stack.coords)
    lin = stack.images * stack.scale
    t1 = time.perf_counter()
    ours = relight(stack, model, targets)
    render_s = (time.perf_counter() - t1) / len(targets)
    rows: dict[str, list[float]] = {f"{m}_{k}": [] for m in ("ours", "nearest", "barycentric")
                                    for k in ("psnr", "relerr")}
    sheet = []
    for k, (gt, t) in enumerate(zip(held, targets)):
        preds = {"ours": ours[k], "nearest": nearest_light(lin, interp, t),
                 "barycentric": barycentric_light(lin, interp, t)}
        for m, p in preds.items():
            rows[f"{m}_psnr"].append(psnr(p, gt, mask))
            rows[f"{m}_relerr"].append(rel_err(p, gt, mask))
        if k < 2:
            sheet.append((gt, preds["ours"], preds["barycentric"], mask))
    res = {m: float(np.mean(v)) for m, v in rows.items()}
    res.update(gain_db_vs_barycentric=res["ours_psnr"] - res["barycentric_psnr"],
               train_seconds=train_s, render_seconds_per_light=render_s,
               training=meta["training"], n_train=len(train_imgs), n_held=len(held),
               size=list(lin.shape[1:3]))
    print(f"{name}: ours {res['ours_psnr']:.2f} dB, barycentric {res['barycentric_psnr']:.2f}"
          f" dB, nearest {res['nearest_psnr']:.2f} dB (gain {res['gain_db_vs_barycentric']:+.2f}"
          f" dB); rel.err {res['ours_relerr']:.4f} vs {res['barycentric_relerr']:.4f};"
          f" training {train_s:.1f} s")
    return res, sheet


def synthetic(seed: int, size: int, quality: str) -> tuple[dict, list]:
    scene = synth.make_scene(seed)
    train_l = synth.grid_lights(8)
    rng = np.random.default_rng(seed)
    step = 1 / 7
    cells = rng.choice(49, 16, replace=False)
    held_l = [((c % 7 + rng.uniform(0.2, 0.8)) * step, (c // 7 + rng.uniform(0.2, 0.8)) * step)
              for c in cells]
    stack = synth.render_stack(scene, size, train_l)
    held = list(synth.render_stack(scene, size, held_l))
    layers = [Image(im, "stack", f"light {u!r} {v!r}", colorspace="linear")
              for im, (u, v) in zip(stack, train_l)]
    mask = np.ones((size, size), bool)
    return evaluate(f"scene {seed}", layers, held, np.array(held_l), mask, quality)


def ball(quality: str, folder: Path = BALL) -> tuple[dict, list]:
    BALL = folder  # noqa: N806 (the default is the shared data folder)
    names = (BALL / "filenames.txt").read_text().split()
    dirs = np.loadtxt(BALL / "light_directions.txt")
    inten = np.loadtxt(BALL / "light_intensities.txt")
    mask_full = imgs.read_image(BALL / "mask.png")[..., 0] > 0
    ys, xs = np.nonzero(mask_full)
    crop = (slice(ys.min() - 8, ys.max() + 9), slice(xs.min() - 8, xs.max() + 9))
    raw = [imgs.read_image(BALL / n) for n in names]
    assert raw[0].dtype == np.uint16, "the ball must be read with 16 bits"
    unit = np.stack([imgs.to_float(r[crop]) / inten[i] for i, r in enumerate(raw)])
    rng = np.random.default_rng(0)
    # Hold out 16 lights that lie inside the hull of the rest (a fair interpolation test).
    order = rng.permutation(96)
    held_idx: list[int] = []
    for i in order:
        rest = [j for j in range(96) if j != i and j not in held_idx]
        if Interpolator(dirs[rest, :2]).inside(dirs[i, :2]):
            held_idx.append(int(i))
        if len(held_idx) == 16:
            break
    train_idx = [j for j in range(96) if j not in held_idx]
    # Layers carry the captured 16-bit pixels; the names carry the intensities.
    layers = [Image(raw[j][crop], "stack",
                    "light {} {} {} @{},{},{}".format(*dirs[j], *inten[j]), colorspace="linear")
              for j in train_idx]
    return evaluate("diligent ball", layers, [unit[i] for i in held_idx], dirs[held_idx, :2],
                    mask_full[crop], quality)


def new_light_cost(quality: str, side: int = 1024) -> dict:
    """CPU seconds for one new light at ``side``² (1 MP) with an ensemble of ``quality``'s
    shape: a render call for one light, after a first call has built the model's layout.

    A network's cost does not depend on its weights, so an untrained ensemble is timed, with
    its clusters found by the same k-means on a textured 1 MP average image.
    """
    q = network.QUALITY[quality]
    mean = synth.render_stack(synth.make_scene(1), side, [(0.5, 0.5)])[0] + 0.05
    k = network.n_clusters(side * side)
    xy = network._pixel_grid(side, side, "cpu")
    t0 = time.perf_counter()
    members = [network.Clustering.build(*(torch.as_tensor(a) for a in network.clusters(mean, k, m)),
                                        xy, k) for m in range(q.members)]
    cluster_s = time.perf_counter() - t0
    nets = network.ClusterNets.init(q.members * k, 2 + 4 * network.LIGHT_FREQS, "cpu",
                                    torch.Generator().manual_seed(0))
    for t in nets.p.values():
        t.requires_grad_(False)
    model = network.RelightModel(nets, members, k, torch.zeros(2), torch.ones(2), mean, "cpu")
    model.render(np.array([[0.3, 0.3]]))  # builds the per-member pixel layouts once
    t1 = time.perf_counter()
    model.render(np.array([[0.4, 0.6]]))
    one = time.perf_counter() - t1
    t2 = time.perf_counter()
    model.render(np.random.default_rng(0).uniform(0, 1, (4, 2)))
    four = time.perf_counter() - t2
    print(f"CPU: a new light at {side}² costs {one:.2f} s ({four / 4:.2f} s each in a call of 4;"
          f" clustering a 1 MP stack {cluster_s / q.members:.1f} s per member); "
          f"torch threads {torch.get_num_threads()}")
    return {"new_light_1mp_seconds": one, "new_light_1mp_seconds_in_call_of_4": four / 4,
            "kmeans_1mp_seconds_per_member": cluster_s / q.members,
            "torch_threads": torch.get_num_threads()}


def contact_sheet(rows: list[tuple[str, tuple]], path: Path) -> None:
    """Per row: ground truth | ours | barycentric | |ours−gt| ×4 | |bary−gt| ×4 (sRGB)."""
    tiles = []
    for label, (gt, ours, bary, mask) in rows:
        peak = float(np.percentile(gt[mask], 99.5)) or 1.0
        show = [gt, ours, bary, np.abs(ours - gt) * 4, np.abs(bary - gt) * 4]
        ims = [cv2.resize(imgs.from_float(np.clip(imgs.linear_to_srgb(s / peak), 0, 1), np.uint8),
                          (192, 192), interpolation=cv2.INTER_AREA) for s in show]
        row = np.concatenate(ims, 1)
        cv2.putText(row, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1)
        tiles.append(row)
    head = np.zeros((20, tiles[0].shape[1], 3), np.uint8)
    for i, t in enumerate(["ground truth", "ours", "barycentric", "|ours-gt| x4", "|bary-gt| x4"]):
        cv2.putText(head, t, (4 + 192 * i, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    imgs.write_image(path, np.concatenate([head, *tiles], 0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quality", default="standard", choices=tuple(network.QUALITY))
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--no-ball", action="store_true")
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--no-cpu-costs", action="store_true")
    ap.add_argument("--ball-dir", default=str(BALL), help="the DiLiGenT ball folder")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # on a shared CPU, 1 thread can beat 2 by far
    registry.set_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = tempfile.mkdtemp(prefix="dr-bench-")
    os.environ["DARKROOM_HOME"] = home  # a fresh cache: every model is trained in this run
    res: dict = {"device": args.device, "quality": args.quality, "scenes": {}}
    sheets = []
    try:
        if not args.no_synthetic:
            for seed in range(1, args.scenes + 1):
                r, s = synthetic(seed, args.size, args.quality)
                res["scenes"][f"scene{seed}"] = r
                sheets += [(f"scene {seed}", x) for x in s[:1]]
            gains = [r["gain_db_vs_barycentric"] for r in res["scenes"].values()]
            res["synthetic_mean_gain_db"] = float(np.mean(gains))
        if not args.no_ball and Path(args.ball_dir).is_dir():
            r, s = ball(args.quality, Path(args.ball_dir))
            res["ball"] = r
            sheets += [("ball", x) for x in s[:2]]
        if not args.no_cpu_costs:
            res["cpu"] = new_light_cost(args.quality)
            if args.device == "cpu" and res["scenes"]:
                train_s = float(np.mean([r["train_seconds"] for r in res["scenes"].values()]))
                res["cpu"]["train_seconds_64x256"] = train_s
                res["cpu"]["new_light_over_training"] = res["cpu"]["new_light_1mp_seconds"] / train_s
    finally:
        shutil.rmtree(home, ignore_errors=True)
    res["goals"] = {
        "synthetic_gain_db>=3": res.get("synthetic_mean_gain_db", float("nan")) >= 3,
        "ball_ours>=barycentric": (res["ball"]["ours_psnr"] >= res["ball"]["barycentric_psnr"]
                                   if "ball" in res else None),
        "cpu_training<=300s": (res["cpu"]["train_seconds_64x256"] <= 300
                               if "train_seconds_64x256" in res.get("cpu", {}) else None),
        "new_light<=1/100_training": (res["cpu"]["new_light_over_training"] <= 0.01
                                      if "new_light_over_training" in res.get("cpu", {})
                                      else None),
    }
    tag = f"relight-{args.device}-{args.quality}"
    (out / f"{tag}.json").write_text(json.dumps(res, indent=2))
    if sheets:
        contact_sheet(sheets, out / f"{tag}.png")
    print(json.dumps(res["goals"]))


if __name__ == "__main__":
    main()
