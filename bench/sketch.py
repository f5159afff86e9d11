"""Benchmark of sketch-to-photo lookup: quality on held-out real sketches, search latency over
100k stored embeddings, indexing throughput — each against a baseline measured in the same run.

* Quality: the last 100 pairs of ``qmul_shoes_train`` (never trained on, see
  ``scripts/train_sketch.py``). For each sketch, the rank of its own edge map among the 100
  held-out edge maps (the QMUL protocol: gallery = the test photos) → acc@1, acc@10; also
  among all 304 edge maps. Baseline: HOG of both drawings, cosine similarity.
* Search: an index file with 100k random unit embeddings; median latency of the cached
  matrix search (matmul + top-k) vs re-reading the matrix from SQLite (the uncached baseline),
  and of the whole op (sketch embedding included).
* Indexing: a folder of camera-sized JPEGs (real photographs from ``photo_pairs``, upscaled to
  2400 px and varied so each file is distinct) indexed from scratch; photos per second.
  Baseline: the same decode + edge map + HOG descriptor, no network.

Writes ``bench/out/sketch.json``, copies the figures to ``bench/results/sketch.json`` and a
contact sheet (held-out sketches with their top-5, the right one framed green; a drawn sketch
with its top-5 from the real photos) to ``bench/results/sketch.png``.

    python bench/sketch.py [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from darkroom.images import read_image, write_image
from darkroom.ops import registry
from darkroom.ops.registry import Image
from darkroom.ops.sketch import index as ix
from darkroom.ops.sketch import library
from darkroom.ops.sketch import model as M
from darkroom.ops.sketch.embed import embed_drawings
from darkroom.ops.sketch.hog import hog
from darkroom.ops.sketch.strokes import normalize_drawing, photo_edges

REPO = Path(__file__).resolve().parents[1]
HELD = 100
GOALS = {"acc10": 0.70, "acc10_vs_hog": 2.0, "search_ms_100k": 20.0, "index_photos_per_s": 20.0}


def quality(data: Path) -> tuple[dict, dict]:
    root = data / "qmul_shoes_train"
    names = sorted(p.name for p in (root / "sketches").glob("*.png"))
    load = lambda sub: [cv2.imread(str(root / sub / n), 0) / np.float32(255) for n in names]  # noqa: E731
    sk, ed = load("sketches"), load("photo_edges")
    t0 = time.perf_counter()
    s = torch.from_numpy(embed_drawings([normalize_drawing(d, M.INPUT) for d in sk[-HELD:]], "sketch"))
    e_all = torch.from_numpy(embed_drawings([normalize_drawing(d, M.INPUT) for d in ed], "photo"))
    t_model = time.perf_counter() - t0
    t0 = time.perf_counter()
    hs = torch.from_numpy(np.stack([hog(d) for d in sk[-HELD:]]))
    he_all = torch.from_numpy(np.stack([hog(d) for d in ed]))
    t_hog = time.perf_counter() - t0
    out = {}
    ranks = {}
    for name, q, g in (("model", s, e_all), ("hog", hs, he_all)):
        r = M.ranks(q, g[-HELD:])
        # Among all 304: the right answer is row 204+i of the full gallery.
        sim = q @ g.T
        right = sim[torch.arange(HELD), torch.arange(len(g) - HELD, len(g))][:, None]
        r_all = (sim > right).sum(1)
        ranks[name] = (r, q @ g[-HELD:].T)
        out[name] = {"acc1": M.accuracy_at(r, 1), "acc10": M.accuracy_at(r, 10),
                     "acc1_all304": M.accuracy_at(r_all, 1), "acc10_all304": M.accuracy_at(r_all, 10),
                     "median_rank": float(r.float().median() + 1)}
    out["model"]["embed_s"], out["hog"]["embed_s"] = t_model, t_hog
    out["acc10_ratio_vs_hog"] = out["model"]["acc10"] / max(out["hog"]["acc10"], 1e-9)
    out["acc1_ratio_vs_hog"] = out["model"]["acc1"] / max(out["hog"]["acc1"], 1e-9)
    return out, {"sketches": sk[-HELD:], "edges": ed[-HELD:], "ranks": ranks}


def search_latency(tmp: Path, n: int, queries: int = 50) -> dict:
    path = tmp / "big.sqlite"
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n, M.DIM)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    with ix.connect(path, create=True) as con:
        con.execute("INSERT INTO meta VALUES('model', 'bench')")
        ix.store(con, [ix.Row(f"/photos/{i:06d}.jpg", 1, 1, "h", 1, 1, emb[i], b"")
                       for i in range(n)])
        qs = rng.normal(size=(queries, M.DIM)).astype(np.float32)
        qs /= np.linalg.norm(qs, axis=1, keepdims=True)
        t0 = time.perf_counter()
        ix.matrix(con, str(path), M.DIM)
        fill = time.perf_counter() - t0
        cached, uncached = [], []
        for i, q in enumerate(qs):
            t0 = time.perf_counter()
            _, m = ix.matrix(con, str(path), M.DIM)
            ix.top_k(m, q, 10)
            cached.append(time.perf_counter() - t0)
            if i < 5:  # the baseline: read the embeddings from SQLite for every query
                ix._matrices.clear()
                t0 = time.perf_counter()
                _, m = ix.matrix(con, str(path), M.DIM)
                ix.top_k(m, q, 10)
                uncached.append(time.perf_counter() - t0)
    sketch = np.full((400, 400, 3), 255, np.uint8)
    cv2.ellipse(sketch, (200, 220), (150, 80), 0, 0, 360, (0, 0, 0), 3)
    full = []
    for _ in range(10):
        t0 = time.perf_counter()
        registry.run("sketch.search", [Image(sketch, role="sketch")],
                     {"index": str(path), "k": 10, "return_images": False})
        full.append(time.perf_counter() - t0)
    med = lambda xs: 1000 * statistics.median(xs)  # noqa: E731
    return {"n": n, "cache_fill_s": fill, "search_ms_cached": med(cached),
            "search_ms_uncached_baseline": med(uncached),
            "speedup_vs_uncached": med(uncached) / med(cached),
            "op_ms_with_sketch_embedding": med(full)}


def make_photo_folder(data: Path, dst: Path, n: int) -> list[Path]:
    srcs = [p for p in sorted((data / "photo_pairs").glob("*/*.png")) if "labels" not in p.name]
    dst.mkdir(parents=True)
    out = []
    for i in range(n):
        rgb = read_image(srcs[i % len(srcs)])
        if (i // len(srcs)) % 2:
            rgb = rgb[:, ::-1]
        h, w = rgb.shape[:2]
        c = (i // (2 * len(srcs))) * 7  # a different crop per round: distinct files
        rgb = rgb[c : h - c, c : w - c]
        s = 2400 / max(rgb.shape[:2])
        big = cv2.resize(np.ascontiguousarray(rgb), None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
        p = dst / f"IMG_{i:04d}.jpg"
        write_image(p, big)
        out.append(p)
    return out


def indexing(data: Path, tmp: Path, n: int) -> dict:
    files = make_photo_folder(data, tmp / "photos", n)
    t0 = time.perf_counter()
    stats = library.index_folders(tmp / "i.sqlite", [str(tmp / "photos")], "cpu",
                                  lambda f, s: None, lambda: False)
    t_model = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in files:  # baseline: decode + edges + HOG, same decoder
        rgb, _, _ = library.load_photo(f)
        hog(photo_edges(rgb))
    t_hog = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = library.index_folders(tmp / "i.sqlite", [str(tmp / "photos")], "cpu",
                                  lambda f, s: None, lambda: False)
    t_rerun = time.perf_counter() - t0
    return {"photos": n, "photo_size": "2400 px JPEG", "added": stats.added,
            "index_photos_per_s": n / t_model, "hog_baseline_photos_per_s": n / t_hog,
            "ratio_vs_hog": t_hog / t_model, "rerun_unchanged_s": t_rerun,
            "rerun_unchanged": again.unchanged}


def _tile(gray: np.ndarray, side: int, colour: tuple[int, int, int] | None = None) -> np.ndarray:
    g = normalize_drawing(gray, side) if gray.ndim == 2 else gray
    t = (np.repeat(g[:, :, None], 3, 2) * 255).astype(np.uint8) if g.ndim == 2 else g
    t = cv2.resize(t, (side, side)) if t.shape[:2] != (side, side) else t.copy()
    if colour is not None:
        cv2.rectangle(t, (0, 0), (side - 1, side - 1), colour, 4)
    return t


def contact_sheet(q: dict, data: Path, tmp: Path, path: Path, side: int = 112) -> None:
    rows = []
    r, sim = q["ranks"]["model"]
    rh, simh = q["ranks"]["hog"]
    for i in (0, 13, 27, 41, 58, 77, 92):
        row = [_tile(q["sketches"][i], side, (60, 60, 200))]
        for s_mat in (sim, simh):
            top = torch.argsort(-s_mat[i])[:5].tolist()
            row.append(np.full((side, 8, 3), 255, np.uint8))
            row += [_tile(q["edges"][j], side, (0, 170, 0) if j == i else None) for j in top]
        rows.append(np.hstack(row))
    # A drawn sketch against real photographs (photo_pairs + the DiLiGenT ball).
    folder = tmp / "real"
    folder.mkdir()
    for p in sorted((data / "photo_pairs").glob("*/*.png")):
        if "labels" not in p.name:
            shutil.copy(p, folder / f"{p.parent.name}_{p.name}")
    shutil.copy(data / "diligent_ball" / "050.png", folder / "ball.png")
    idx = tmp / "real.sqlite"
    registry.run("sketch.index", [], {"folders": [str(folder)], "index": str(idx)})
    sk = np.full((300, 300, 3), 255, np.uint8)
    cv2.circle(sk, (150, 150), 110, (0, 0, 0), 3)
    res = registry.run("sketch.search", [Image(sk, role="sketch")], {"index": str(idx), "k": 5, "size": side})
    row = [_tile(sk[:, :, 0] / np.float32(255), side, (60, 60, 200)), np.full((side, 8, 3), 255, np.uint8)]
    for im in res.images:
        t = np.full((side, side, 3), 255, np.uint8)
        h, w = im.pixels.shape[:2]
        t[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = im.pixels
        row.append(t)
    pad = rows[0].shape[1] - sum(x.shape[1] for x in row)
    rows.append(np.hstack(row + [np.full((side, pad, 3), 255, np.uint8)]))
    sheet = np.vstack([np.vstack([x, np.full((6, x.shape[1], 3), 255, np.uint8)]) for x in rows])
    head = np.full((28, sheet.shape[1], 3), 255, np.uint8)
    for x, txt in ((4, "sketch"), (side + 12, "model top-5 (green = right)"),
                   (6 * side + 20, "HOG baseline top-5")):
        cv2.putText(head, txt, (x, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, np.vstack([head, sheet]))
    return [im.name for im in res.images]  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "data")
    ap.add_argument("--quick", action="store_true", help="10k embeddings, 20 photos")
    args = ap.parse_args()
    registry.set_device("cpu")
    out_dir, res_dir = REPO / "bench" / "out", REPO / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    res_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="sketch-bench-"))
    try:
        q, detail = quality(args.data)
        lat = search_latency(tmp, 10_000 if args.quick else 100_000)
        idx = indexing(args.data, tmp / "ix", 20 if args.quick else 64)
        drawn = contact_sheet(detail, args.data, tmp, res_dir / "sketch.png")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "machine": "2-core shared CPU (4 other engineers running jobs), torch "
                   f"{torch.__version__}, {torch.get_num_threads()} threads",
        "quality_heldout_100_qmul_pairs": q,
        "search": lat,
        "indexing": idx,
        "drawn_circle_top5_real_photos": drawn,
        "goals": GOALS,
        "goals_met": {
            "acc10": q["model"]["acc10"] >= GOALS["acc10"],
            "acc10_vs_hog": q["acc10_ratio_vs_hog"] >= GOALS["acc10_vs_hog"],
            "search_ms_100k": lat["search_ms_cached"] <= GOALS["search_ms_100k"],
            "index_photos_per_s": idx["index_photos_per_s"] >= GOALS["index_photos_per_s"],
        },
    }
    (out_dir / "sketch.json").write_text(json.dumps(result, indent=2))
    if not args.quick:
        (res_dir / "sketch.json").write_text(json.dumps(result, indent=2))
    m, h = q["model"], q["hog"]
    print(f"held-out 100 pairs: model acc@1 {m['acc1']:.2f} acc@10 {m['acc10']:.2f} | "
          f"HOG acc@1 {h['acc1']:.2f} acc@10 {h['acc10']:.2f} | acc@10 ×{q['acc10_ratio_vs_hog']:.1f}")
    print(f"search over {lat['n']}: {lat['search_ms_cached']:.2f} ms cached, "
          f"{lat['search_ms_uncached_baseline']:.1f} ms uncached (×{lat['speedup_vs_uncached']:.0f}); "
          f"whole op {lat['op_ms_with_sketch_embedding']:.0f} ms")
    print(f"indexing: {idx['index_photos_per_s']:.1f} photos/s (HOG baseline "
          f"{idx['hog_baseline_photos_per_s']:.1f}); unchanged re-run {idx['rerun_unchanged_s']:.2f} s")
    print("goals met:", result["goals_met"])


if __name__ == "__main__":
    main()
