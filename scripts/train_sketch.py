"""Train the sketch/photo embedding heads and write ``darkroom/ops/sketch/weights/heads.pt``.

Reproduces the shipped weights (about 10 minutes on a 2-core CPU; most of it is the one-off
backbone pass, cached in ``--cache``)::

    python scripts/train_sketch.py --data ../shared/data

Data (see ``../shared/data/README.md``):

* ``qmul_shoes_train``: real sketch ↔ photo edge-map pairs (Yu et al. 2016). Pairs
  ``0 … N-HELD-1`` train; the last ``HELD`` (100) pairs are never seen and are used for the
  reported acc@1 / acc@10 (and by ``bench/sketch.py``).
* pseudo-sketches (Yu et al. §3.2, Sangkloy et al. §4): the training edge maps, and edge maps
  of random crops of the ``photo_pairs`` photographs (other subjects than shoes), turned into
  sketch-like drawings by :func:`darkroom.ops.sketch.strokes.pseudo_sketch`.

Each object (a pair, mirrored or not) is a class; a batch holds distinct classes, one sketch
(real or pseudo) and one edge map each, and the in-batch triplet loss is minimised.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from darkroom.images import read_image, to_rgb_float
from darkroom.models import load_backbone
from darkroom.ops.sketch import model as M
from darkroom.ops.sketch.embed import WEIGHTS
from darkroom.ops.sketch.strokes import normalize_drawing, photo_edges, pseudo_sketch, random_affine

HELD = 100  #: the last HELD qmul pairs are held out of training, for evaluation


def load_qmul(root: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Sketches and edge maps of qmul_shoes_train as H×W float32 [0, 1] drawings."""
    names = sorted(p.name for p in (root / "sketches").glob("*.png"))
    sk = [cv2.imread(str(root / "sketches" / n), cv2.IMREAD_GRAYSCALE) / 255.0 for n in names]
    ed = [cv2.imread(str(root / "photo_edges" / n), cv2.IMREAD_GRAYSCALE) / 255.0 for n in names]
    return [s.astype(np.float32) for s in sk], [e.astype(np.float32) for e in ed]


def build_examples(data: Path, rng: np.random.Generator, crops: int) -> tuple[list, list, list]:
    """(drawings, class ids, kinds): kind 0 = edge map, 1 = real sketch, 2 = pseudo-sketch."""
    sketches, edges = load_qmul(data / "qmul_shoes_train")
    n_train = len(sketches) - HELD
    draws: list[np.ndarray] = []
    cls: list[int] = []
    kind: list[int] = []

    def add(d: np.ndarray, c: int, k: int) -> None:
        draws.append(normalize_drawing(d, M.INPUT))
        cls.append(c)
        kind.append(k)

    c = 0
    for i in range(n_train):
        for flip in (False, True):
            s, e = (sketches[i][:, ::-1], edges[i][:, ::-1]) if flip else (sketches[i], edges[i])
            add(e, c, 0)
            add(random_affine(e, rng, 0.5), c, 0)
            for _ in range(3):
                add(random_affine(s, rng), c, 1)
            for _ in range(2):
                add(random_affine(pseudo_sketch(e, rng), rng), c, 2)
            c += 1
    # Other subjects: edge maps of random crops of real photographs.
    photos = sorted((data / "photo_pairs").glob("*/*.png"))
    photos = [p for p in photos if "labels" not in p.name]
    for p in photos:
        rgb = to_rgb_float(read_image(p))
        h, w = rgb.shape[:2]
        for _ in range(crops):
            side = int(rng.uniform(0.35, 0.8) * min(h, w))
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            e = photo_edges(rgb[y : y + side, x : x + side])
            add(e, c, 0)
            for _ in range(2):
                add(random_affine(pseudo_sketch(e, rng), rng), c, 2)
            c += 1
    return draws, cls, kind


def extract(net: torch.nn.Module, draws: list[np.ndarray], batch: int = 32) -> torch.Tensor:
    out = []
    t0 = time.time()
    for i in range(0, len(draws), batch):
        out.append(M.backbone_features(net, M.drawings_to_tensor(draws[i : i + batch])).half())
        print(f"\rfeatures {i + batch}/{len(draws)}  {time.time() - t0:.0f} s", end="", flush=True)
    print()
    return torch.cat(out)


def held_out_features(net: torch.nn.Module, data: Path) -> tuple[torch.Tensor, torch.Tensor]:
    sketches, edges = load_qmul(data / "qmul_shoes_train")
    s = [normalize_drawing(d, M.INPUT) for d in sketches[-HELD:]]
    e = [normalize_drawing(d, M.INPUT) for d in edges[-HELD:]]
    return extract(net, s), extract(net, e)


def train(feats: torch.Tensor, cls: np.ndarray, kind: np.ndarray, steps: int, batch: int,
          seed: int, held: tuple[torch.Tensor, torch.Tensor] | None) -> M.SketchEmbedding:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    emb = M.SketchEmbedding()
    emb.set_feature_stats(feats.float())
    opt = torch.optim.AdamW(emb.parameters(), lr=2e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    classes = np.unique(cls)
    by_kind = {(c, k): np.nonzero((cls == c) & (kind == k))[0] for c in classes for k in (0, 1, 2)}
    for step in range(steps):
        emb.train()
        pick = rng.choice(classes, size=batch, replace=False)
        a_idx, p_idx = [], []
        for c in pick:
            real = by_kind[(c, 1)]
            src = real if len(real) and rng.random() < 0.7 else by_kind[(c, 2)]
            a_idx.append(int(rng.choice(src)))
            p_idx.append(int(rng.choice(by_kind[(c, 0)])))
        a = emb.sketch(feats[a_idx].float())
        p = emb.photo(feats[p_idx].float())
        loss = M.batch_triplet_loss(a, p)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if held is not None and (step % 250 == 0 or step == steps - 1):
            r = evaluate(emb, *held)
            print(f"step {step:5d} loss {loss.item():.4f}  held-out acc@1 {r[0]:.3f} acc@10 {r[1]:.3f}")
    return emb.eval()


@torch.no_grad()
def evaluate(emb: M.SketchEmbedding, s: torch.Tensor, e: torch.Tensor) -> tuple[float, float]:
    emb.eval()
    r = M.ranks(emb.sketch(s.float()), emb.photo(e.float()))
    return M.accuracy_at(r, 1), M.accuracy_at(r, 10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=Path("bench/out/sketch_train_features.pt"))
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--crops", type=int, default=10, help="random crops per photo_pairs photo")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.cache.is_file():
        blob = torch.load(args.cache, weights_only=True)
    else:
        rng = np.random.default_rng(args.seed)
        t0 = time.time()
        draws, cls, kind = build_examples(args.data, rng, args.crops)
        print(f"{len(draws)} drawings, {max(cls) + 1} classes, built in {time.time() - t0:.0f} s")
        net = load_backbone("efficientnet_lite0", "cpu").to(memory_format=torch.channels_last)
        hs, he = held_out_features(net, args.data)
        blob = {"feats": extract(net, draws), "cls": torch.tensor(cls), "kind": torch.tensor(kind),
                "held_s": hs, "held_e": he}
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(blob, args.cache)
    held = (blob["held_s"], blob["held_e"])
    emb = train(blob["feats"], blob["cls"].numpy(), blob["kind"].numpy(), args.steps, args.batch,
                args.seed, held)
    acc1, acc10 = evaluate(emb, *held)
    print(f"final held-out ({HELD} pairs): acc@1 {acc1:.3f}  acc@10 {acc10:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() for k, v in emb.state_dict().items()}, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
