"""Benchmark: relighting quality and cost, ours vs nearest, barycentric, PTM and HSH, and
relighting without calibration (issues 4 and 15).

Leave-out evaluation, every method in the same run, on three kinds of stack:

* ``plane*``: synthetic scenes (``darkroom.ops.relight.synth``), an 8×8 grid of point-light
  positions on [0, 1]² for training, 16 held-out positions inside the grid (random, off-grid);
* ``dir*``: the same kind of scene lit by distant lights (8×8 grid of directions, |xy| ≤ 0.85)
  with a glossy grey *probe sphere* in a corner, as in an RTI capture; 16 held-out directions;
* ``ball``: the DiLiGenT ball (../shared/data/diligent_ball, if present): 16 of 96 directions
  held out, the rest train; images divided by their light intensities (in every variant),
  metrics inside ``mask.png``.

Methods at the held-out lights (all trained on the same photos): ours (Ren et al. networks)
with (a) the true lights, (b) directions found from the sphere's highlights (direction stacks;
the ball's circle found automatically in the full frames, the synthetic probe's circle given,
since every object of those scenes is a shiny sphere), (c) the estimated layout (no
calibration; a held-out light is asked for where its true coordinates fall among the training
photos' layout points, :func:`layout.map_into_layout`); and, with the true lights, nearest,
barycentric, PTM, HSH-2 and HSH-3. Sphere directions: median/max angular error against the
truth (the ball: against ``light_directions.txt``, all 96 photos).

Metrics per held-out light: PSNR (linear values, peak = the ground truth's maximum) and
relative error ‖pred − gt‖₂ / ‖gt‖₂ (as Ren et al. 2015 report). Costs: training seconds per
stack, and (unless ``--no-cpu-costs``) the CPU time of a render call for one new light at 1 MP.

    python bench/relight.py [--device cpu|cuda] [--quality draft] [--scenes 2] [--size 192]
                            [--threads 1] [--no-ball] [--no-synthetic] [--no-cpu-costs]
                            [--publish]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from darkroom import images as imgs
from darkroom.ops import registry
from darkroom.ops.registry import Image
from darkroom.ops.relight import layout, network, sphere, synth
from darkroom.ops.relight.baselines import (
    BasisFit,
    Interpolator,
    barycentric_light,
    nearest_light,
)
from darkroom.ops.relight.op import get_model, prepare_stack, relight

ROOT = Path(__file__).resolve().parents[1]
BALL = ROOT / ".." / "shared" / "data" / "diligent_ball"
RTI = ("ptm", "hsh2", "hsh3")
METHODS = ("ours", "sphere", "estimated", "nearest", "barycentric", *RTI)


def psnr(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    mse = float(np.mean((pred[mask] - gt[mask]) ** 2))
    return 10 * np.log10(float(gt[mask].max()) ** 2 / max(mse, 1e-12))


def rel_err(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    return float(np.linalg.norm(pred[mask] - gt[mask]) / np.linalg.norm(gt[mask]))


def _quiet(f: float, s: str = "", p: object = None) -> None:
    return None


def ours(layers: list[Image], targets: np.ndarray, quality: str) -> tuple[np.ndarray, dict]:
    """Train (or reuse) on ``layers``; relight at (K, 2) plane coordinates → (K, H, W, 3)."""
    stack = prepare_stack(layers)
    t0 = time.perf_counter()
    model, meta = get_model(stack, quality, _quiet, lambda: False)
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = relight(stack, model, targets)
    return out, {"train_seconds": train_s, "training": meta["training"],
                 "render_seconds_per_light": (time.perf_counter() - t1) / len(targets),
                 "encoding": getattr(stack, "encoding", "linear")}


def _name(coords, inten=None) -> str:
    name = "light " + " ".join(repr(float(v)) for v in coords)
    return name + (" @{},{},{}".format(*inten) if inten is not None else "")


def _layout_layers(raw: list[np.ndarray], unit: np.ndarray, inten: list | None,
                   true_xy: np.ndarray, held_xy: np.ndarray) -> tuple[list[Image], np.ndarray, dict]:
    """(c): the layout estimated from the training photos' luminance ``unit`` (N, H, W, 3);
    layers named with it, and the held-out targets mapped into it."""
    est = layout.estimate_layout(np.stack([sphere.luminance(u) for u in unit]))
    layers = [Image(r, "stack", _name(e, None if inten is None else inten[i]), colorspace="linear")
              for i, (r, e) in enumerate(zip(raw, est))]
    targets = layout.map_into_layout(true_xy, est[:, :2], held_xy)
    a = np.c_[est[:, :2], np.ones(len(est))]
    fit, *_ = np.linalg.lstsq(a, true_xy, rcond=None)
    quality = {"neighbour_agreement_k5": layout.neighbour_agreement(true_xy, est[:, :2], 5),
               "affine_rms_over_range": float(np.sqrt(((a @ fit - true_xy) ** 2).sum(1).mean())
                                              / np.ptp(true_xy, 0).max())}
    return layers, targets, {"layout": quality, "layout_xy": est[:, :2], "aligned": a @ fit}


def evaluate(name: str, raw: list[np.ndarray], unit: np.ndarray, true_coords: np.ndarray,
             inten: list | None, held: list[np.ndarray], held_coords: np.ndarray,
             mask: np.ndarray, quality: str, sphere_coords: np.ndarray | None = None
             ) -> tuple[dict, dict]:
    """Every method on one stack. ``raw``: training pixels as captured, ``unit``: the same
    divided by their intensities (float, (N, H, W, 3)), ``true_coords`` (N, 2|3),
    ``held`` ground truths at ``held_coords`` (K, 2|3) (true), ``sphere_coords`` (N, 3): the
    training photos' sphere-found directions (direction stacks)."""
    true_layers = [Image(r, "stack", _name(c, None if inten is None else inten[i]),
                         colorspace="linear") for i, (r, c) in enumerate(zip(raw, true_coords))]
    t_xy = np.asarray(held_coords, np.float64)[:, :2]
    preds: dict[str, np.ndarray] = {}
    res: dict = {"n_train": len(raw), "n_held": len(held), "size": list(unit.shape[1:3])}
    preds["ours"], res["true"] = ours(true_layers, t_xy, quality)
    if sphere_coords is not None:
        sph_layers = [Image(r, "stack", _name(c, None if inten is None else inten[i]),
                            colorspace="linear") for i, (r, c) in enumerate(zip(raw, sphere_coords))]
        preds["sphere"], res["sphere_run"] = ours(sph_layers, t_xy, quality)
    est_layers, est_targets, extra = _layout_layers(raw, unit, inten,
                                                    np.asarray(true_coords)[:, :2], t_xy)
    preds["estimated"], res["estimated_run"] = ours(est_layers, est_targets, quality)
    res["layout"] = extra["layout"]
    interp = Interpolator(np.asarray(true_coords)[:, :2])
    fits = {k: BasisFit(unit, true_coords, k) for k in RTI}
    for k, t in enumerate(held_coords):
        for m, f in (("nearest", lambda t: nearest_light(unit, interp, t[:2])),
                     ("barycentric", lambda t: barycentric_light(unit, interp, t[:2])),
                     *((r, fits[r]) for r in RTI)):
            preds.setdefault(m, np.empty((len(held), *unit.shape[1:]), np.float32))[k] = f(t)
    for m, p in preds.items():
        res[f"{m}_psnr"] = float(np.mean([psnr(p[k], g, mask) for k, g in enumerate(held)]))
        res[f"{m}_relerr"] = float(np.mean([rel_err(p[k], g, mask) for k, g in enumerate(held)]))
    best_rti = max(RTI, key=lambda r: res[f"{r}_psnr"])
    res.update(
        gain_db_vs_barycentric=res["ours_psnr"] - res["barycentric_psnr"],
        best_rti=best_rti, ours_minus_best_rti_db=res["ours_psnr"] - res[f"{best_rti}_psnr"],
        estimated_minus_true_db=res["estimated_psnr"] - res["ours_psnr"],
        estimated_minus_barycentric_db=res["estimated_psnr"] - res["barycentric_psnr"],
        train_seconds=res["true"]["train_seconds"])
    if "sphere_psnr" in res:
        res["sphere_minus_true_db"] = res["sphere_psnr"] - res["ours_psnr"]
    print(f"{name}: " + ", ".join(f"{m} {res[f'{m}_psnr']:.2f}" for m in METHODS
                                  if f"{m}_psnr" in res) + " dB; layout "
          f"{res['layout']}; training {res['train_seconds']:.0f} s", flush=True)
    sheet = {"gt": held[0], "mask": mask, **{m: p[0] for m, p in preds.items()},
             "layout_xy": extra["layout_xy"], "aligned": extra["aligned"],
             "true_xy": np.asarray(true_coords)[:, :2]}
    return res, sheet


def _held_in_cells(rng: np.random.Generator, grid: np.ndarray, n: int = 16) -> np.ndarray:
    """``n`` random off-grid points inside the cells of a regular square grid (G, 2)."""
    xs = np.unique(grid[:, 0])
    ys = np.unique(grid[:, 1])
    cells = rng.choice((len(xs) - 1) * (len(ys) - 1), n, replace=False)
    out = []
    for c in cells:
        i, j = c % (len(xs) - 1), c // (len(xs) - 1)
        out.append((xs[i] + rng.uniform(0.2, 0.8) * (xs[i + 1] - xs[i]),
                    ys[j] + rng.uniform(0.2, 0.8) * (ys[j + 1] - ys[j])))
    return np.array(out)


def plane_scene(seed: int, size: int, quality: str) -> tuple[dict, dict]:
    """Point lights on a plane (positions): (a), (c) and the baselines."""
    scene = synth.make_scene(seed)
    train_l = np.array(synth.grid_lights(8))
    held_l = _held_in_cells(np.random.default_rng(seed), train_l)
    stack = synth.render_stack(scene, size, [tuple(t) for t in train_l])
    held = list(synth.render_stack(scene, size, [tuple(t) for t in held_l]))
    return evaluate(f"plane scene {seed}", list(stack), stack, train_l, None, held, held_l,
                    np.ones((size, size), bool), quality)


#: The direction scenes' probe sphere (scene units: x, y, z, r): grey, glossy, top-left.
PROBE = (-0.78, 0.78, 0.16, 0.16)


def _with_probe(seed: int) -> synth.Scene:
    sc = synth.make_scene(seed)
    far = [np.hypot(r[0] - PROBE[0], r[1] - PROBE[1]) > r[3] + PROBE[3] + 0.05 for r in sc.spheres]
    return replace(sc, spheres=np.vstack([PROBE, sc.spheres[far]]),
                   colours=np.vstack([[0.2, 0.2, 0.2], sc.colours[far]]),
                   shininess=200.0, specular=1.0)


def _dirs(xy: np.ndarray) -> np.ndarray:
    return np.c_[xy, np.sqrt(1 - (xy**2).sum(1))]


def dir_scene(seed: int, size: int, quality: str) -> tuple[dict, dict]:
    """Distant lights and a probe sphere: (a), (b), (c) and the baselines."""
    scene = _with_probe(seed)
    g = np.linspace(-0.6, 0.6, 8)
    grid = np.array([(x, y) for y in g[::-1] for x in g])
    train_d = _dirs(grid)
    held_d = _dirs(_held_in_cells(np.random.default_rng(seed), grid))
    stack = synth.render_stack(scene, size, [tuple(t) for t in train_d])
    held = list(synth.render_stack(scene, size, [tuple(t) for t in held_d]))
    circle = sphere.Circle((PROBE[0] + 1) / 2 * size, (1 - PROBE[1]) / 2 * size,
                           PROBE[3] / 2 * size)
    found = sphere.lights_from_sphere(np.stack([sphere.luminance(s) for s in stack]), circle)
    err = sphere.angular_error_deg(found.directions, train_d)
    sph = np.where(np.isnan(found.directions), train_d, found.directions)
    res, sheet = evaluate(f"direction scene {seed}", list(stack), stack, train_d, None, held,
                          held_d, np.ones((size, size), bool), quality, sph)
    res["sphere_directions"] = {"median_deg": float(np.nanmedian(err)),
                                "max_deg": float(np.nanmax(err)), "missing": len(found.missing),
                                "circle": "given (the probe's)"}
    return res, sheet


def ball(quality: str, folder: Path = BALL) -> tuple[dict, dict]:
    names = (folder / "filenames.txt").read_text().split()
    dirs = np.loadtxt(folder / "light_directions.txt")
    inten = np.loadtxt(folder / "light_intensities.txt")
    mask_full = imgs.read_image(folder / "mask.png")[..., 0] > 0
    ys, xs = np.nonzero(mask_full)
    crop = (slice(ys.min() - 8, ys.max() + 9), slice(xs.min() - 8, xs.max() + 9))
    raw = [imgs.read_image(folder / n) for n in names]
    assert raw[0].dtype == np.uint16, "the ball must be read with 16 bits"
    # (b) directions from the ball's own highlight, circle found in the full frames
    t0 = time.perf_counter()
    found = sphere.lights_from_sphere(np.stack([sphere.luminance(imgs.to_float(r)) for r in raw]))
    sphere_s = time.perf_counter() - t0
    err = sphere.angular_error_deg(found.directions, dirs)
    sph_info = {"median_deg": float(np.nanmedian(err)), "max_deg": float(np.nanmax(err)),
                "p90_deg": float(np.nanpercentile(err, 90)), "missing": len(found.missing),
                "circle": found.circle.as_list(), "circle_from_mask": [
                    float(xs.min() + xs.max() + 1) / 2, float(ys.min() + ys.max() + 1) / 2,
                    float(np.sqrt(mask_full.sum() / np.pi))], "seconds_96_photos": sphere_s}
    print(f"ball sphere directions: median {sph_info['median_deg']:.2f}°, max "
          f"{sph_info['max_deg']:.2f}° ({len(found.missing)} missing), circle "
          f"{sph_info['circle']}", flush=True)
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
    tr = [j for j in range(96) if j not in held_idx]
    sph = np.where(np.isnan(found.directions), dirs, found.directions)
    res, sheet = evaluate("diligent ball", [raw[j][crop] for j in tr], unit[tr], dirs[tr],
                          [list(inten[j]) for j in tr], [unit[i] for i in held_idx],
                          dirs[held_idx], mask_full[crop], quality, sph[tr])
    res["sphere_directions"] = sph_info
    sheet["sphere_tile"] = (np.stack([sphere.luminance(imgs.to_float(r)) for r in raw]).max(0),
                       found, dirs)
    return res, sheet


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


def _tile(img: np.ndarray, peak: float, side: int = 176) -> np.ndarray:
    return cv2.resize(imgs.from_float(np.clip(imgs.linear_to_srgb(img / peak), 0, 1), np.uint8),
                      (side, side), interpolation=cv2.INTER_AREA)


def _label(t: np.ndarray, text: str) -> np.ndarray:
    t = t.copy()
    cv2.putText(t, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3)
    cv2.putText(t, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
    return t


def _sphere_tile(mx: np.ndarray, found: sphere.SphereLights, truth: np.ndarray,
                 side: int = 176) -> np.ndarray:
    """The ball's max image around the found circle; found highlight centres (red) and where
    the calibrated directions put them (green)."""
    c = found.circle
    pad = c.r * 1.15
    x0, y0 = int(c.cx - pad), int(c.cy - pad)
    crop = mx[y0:int(c.cy + pad), x0:int(c.cx + pad)]
    f = side / crop.shape[1]
    t = cv2.resize(imgs.from_float(np.clip(imgs.linear_to_srgb(crop / crop.max()) * 0.6, 0, 1),
                                   np.uint8), (side, side), interpolation=cv2.INTER_AREA)
    t = np.repeat(t[..., None], 3, 2) if t.ndim == 2 else t
    cv2.circle(t, (round((c.cx - x0) * f), round((c.cy - y0) * f)), round(c.r * f), (0, 200, 255), 1)
    for hl, d in zip(found.found, truth):
        gx, gy = sphere.highlight_pixel(d, c)
        cv2.circle(t, (round((gx - x0) * f), round((gy - y0) * f)), 2, (0, 255, 0), -1)
        if hl.x is not None:
            cv2.circle(t, (round((hl.x - x0) * f), round((hl.y - y0) * f)), 1, (255, 0, 0), -1)
    return _label(t, "sphere: found(red) true(grn)")


def _layout_tile(true_xy: np.ndarray, aligned: np.ndarray, side: int = 176) -> np.ndarray:
    """True light coordinates (green) and the estimated layout after its best affine map to
    them (red), joined by lines."""
    t = np.full((side, side, 3), 30, np.uint8)
    lo, hi = true_xy.min(0), true_xy.max(0)

    def px(p: np.ndarray) -> tuple[int, int]:
        q = (p - lo) / np.maximum(hi - lo, 1e-9) * (side - 30) + 15
        return round(float(q[0])), round(float(side - q[1]))
    for a, b in zip(true_xy, aligned):
        cv2.line(t, px(a), px(b), (120, 120, 120), 1)
        cv2.circle(t, px(a), 2, (0, 255, 0), -1)
        cv2.circle(t, px(b), 2, (255, 0, 0), -1)
    return _label(t, "layout(red) vs true(grn)")


def contact_sheet(rows: list[tuple[str, dict]], path: Path) -> None:
    """Per stack, one held-out light: ground truth, ours with (a) true / (b) sphere /
    (c) estimated lights, barycentric, HSH-3, PTM, |ours−gt|×4, |HSH-3−gt|×4; then the sphere
    (ball) or the layout against the truth."""
    cols = ["gt", "ours", "sphere", "estimated", "barycentric", "hsh3", "ptm"]
    heads = ["ground truth", "ours (a) true", "ours (b) sphere", "ours (c) estim.",
             "barycentric", "HSH-3", "PTM", "|ours-gt| x4", "|HSH3-gt| x4", ""]
    side = 176
    tiles = []
    for label, sh in rows:
        peak = float(np.percentile(sh["gt"][sh["mask"]], 99.5)) or 1.0
        ims = [_label(_tile(sh[c], peak), label) if i == 0 else _tile(sh[c], peak)
               if c in sh else np.zeros((side, side, 3), np.uint8) for i, c in enumerate(cols)]
        ims += [_tile(np.abs(sh["ours"] - sh["gt"]) * 4, peak),
                _tile(np.abs(sh["hsh3"] - sh["gt"]) * 4, peak)]
        ims.append(_sphere_tile(*sh["sphere_tile"]) if "sphere_tile" in sh
                   else _layout_tile(sh["true_xy"], sh["aligned"]))
        tiles.append(np.concatenate(ims, 1))
    head = np.zeros((18, tiles[0].shape[1], 3), np.uint8)
    for i, t in enumerate(heads):
        cv2.putText(head, t, (3 + side * i, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    imgs.write_image(path, np.concatenate([head, *tiles], 0))


def _goals(res: dict) -> dict:
    stacks = {**res["scenes"], **({"ball": res["ball"]} if "ball" in res else {})}
    dir_stacks = {k: v for k, v in stacks.items() if "sphere_psnr" in v}
    g: dict = {}
    if "ball" in res:
        sd = res["ball"]["sphere_directions"]
        g["ball_sphere_median<=2deg"] = sd["median_deg"] <= 2
        g["ball_sphere_max<=6deg"] = sd["max_deg"] <= 6
    g["sphere_within_0.5dB_of_true"] = {k: v["sphere_minus_true_db"] >= -0.5
                                        for k, v in dir_stacks.items()}
    g["estimated_within_1.5dB_of_true"] = {k: v["estimated_minus_true_db"] >= -1.5
                                           for k, v in stacks.items()}
    g["estimated_above_barycentric"] = {k: v["estimated_minus_barycentric_db"] > 0
                                        for k, v in stacks.items()}
    g["ours>=best_rti+3dB"] = {k: v["ours_minus_best_rti_db"] >= 3 for k, v in stacks.items()}
    g["ours>=barycentric"] = {k: v["gain_db_vs_barycentric"] >= 0 for k, v in stacks.items()}
    return g


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quality", default="draft", choices=tuple(network.QUALITY))
    ap.add_argument("--ball-quality", default=None, choices=tuple(network.QUALITY),
                    help="the ball's quality (default: --quality)")
    ap.add_argument("--scenes", type=int, default=2, help="plane scenes and direction scenes each")
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--no-ball", action="store_true")
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--no-cpu-costs", action="store_true")
    ap.add_argument("--ball-dir", default=str(BALL), help="the DiLiGenT ball folder")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--publish", action="store_true",
                    help="also write the committed copies bench/results/relight.{json,png}")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # on a shared CPU, 1 thread can beat 2 by far
    registry.set_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = tempfile.mkdtemp(prefix="dr-bench-")
    os.environ["DARKROOM_HOME"] = home  # a fresh cache: every model is trained in this run
    t_start = time.perf_counter()
    res: dict = {"benchmark": "bench/relight.py", "argv": sys.argv[1:], "device": args.device,
                 "quality": args.quality, "ball_quality": args.ball_quality or args.quality,
                 "size": args.size, "torch_threads": torch.get_num_threads(), "scenes": {}}
    sheets = []
    try:
        if not args.no_synthetic:
            for seed in range(1, args.scenes + 1):
                r, s = plane_scene(seed, args.size, args.quality)
                res["scenes"][f"plane{seed}"] = r
                if seed == 1:
                    sheets.append((f"plane {seed}", s))
            for seed in range(1, args.scenes + 1):
                r, s = dir_scene(seed, args.size, args.quality)
                res["scenes"][f"dir{seed}"] = r
                if seed == 1:
                    sheets.append((f"dir {seed}", s))
            gains = [r["gain_db_vs_barycentric"] for r in res["scenes"].values()]
            res["synthetic_mean_gain_db"] = float(np.mean(gains))
        if not args.no_ball and Path(args.ball_dir).is_dir():
            r, s = ball(args.ball_quality or args.quality, Path(args.ball_dir))
            res["ball"] = r
            sheets.insert(0, ("ball", s))
        if not args.no_cpu_costs:
            res["cpu"] = new_light_cost(args.quality)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    res["goals"] = _goals(res)
    res["wall_seconds"] = time.perf_counter() - t_start
    tag = f"relight-{args.device}-{args.quality}"

    def draw(path: Path) -> None:
        if sheets:
            contact_sheet(sheets, path)

    if args.publish:
        sys.path.insert(0, str(ROOT / "bench"))
        import publish

        prev = publish.RESULTS / "relight.json"
        if prev.is_file():
            old = json.loads(prev.read_text())
            res["issue4_runs"] = old.get("issue4_runs", old)
        publish.write(out, "relight", res, draw)
    else:
        (out / f"{tag}.json").write_text(json.dumps(res, indent=1))
        draw(out / f"{tag}.png")
    print(json.dumps(res["goals"]))


if __name__ == "__main__":
    main()
