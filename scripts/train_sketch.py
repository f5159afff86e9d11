"""Fit the sketch/photo embedding (version 2) and write ``darkroom/ops/sketch/weights/sketch_v2.pt``.

Reproduces the shipped weights bit for bit with a fixed seed: about 14 minutes on the shared
2-core CPU once its three caches exist (``--cache``: backbone rows of 9,400 images, about 12
minutes; ``--tail-cache``, 13–20 minutes; ``--shape-cache``, about 9 minutes; each built on first
use)::

    python scripts/train_sketch.py --data ../shared/data

Data (see ``../shared/data/README.md``): ``sketchy_train`` (Sangkloy et al. 2016, 104
categories × 25 sketches + 25 photos). The :data:`HELD_OUT` categories are never used here
except for the final report; they are the evaluation split of ``bench/sketch.py``.
``qmul_shoes_train`` (Yu et al. 2016): pairs ``0 … 203`` are fitted on by the shape projection
of the re-ranking (step 3), the sketch tail (step 4) and the shape branch (step 6); the last 100
pairs are never fitted on, only reported.

Steps:

1. backbone rows (:func:`darkroom.ops.sketch.embed.features`) of every sketch, photograph and
   photo edge map, cached;
2. model selection on a *validation* split of the training categories (:data:`VALIDATION`,
   statistics fitted on the other 64): the semantic weight ``w_sem``, the whitening power
   and the query-expansion settings that give the best validation precision@10 + acc@10;
   then the weight of the shape re-ranking of the top 10 (:func:`select_rerank`: validation
   categories and QMUL validation pairs 0–99 / 100–199, each fold's shape projection fitted
   on the other QMUL training pairs; best acc@1);
3. the chosen model refitted on all 84 training categories, its learned shape projection
   (:meth:`SketchModel.fit_shape`) on their sketch ↔ edge-map pairs and QMUL pairs 0–203;
4. (v2.3, ``--tail-steps``, default 400) the sketch side's own copy of the backbone's last
   block and ``head`` convolution (:mod:`darkroom.ops.sketch.finetune`), trained against the
   model of step 3 (whose buffers stay as fitted, so photo embeddings are v2.2's) on the
   84 training categories' sketches and QMUL pairs 0–203, from cached ``block14``
   activations of each sketch as drawn, mirrored and stroke-augmented (``--tail-cache``;
   about 13–20 minutes to build once, then 400 steps of 48 + 16 sketches: 1.5–8 minutes on
   the shared 2-core CPU at two threads, depending on the other jobs; the whole script with
   both caches 14–16 minutes, bit-identical weights on a rerun); written with the model as ``tail.*`` (float16).

5. (``--no-fusion`` skips it) the rank fusion of the expanded and the plain first-stage
   lists (:func:`select_fusion`): a sketch tail trained on the 64 fitting categories (and
   QMUL pairs 100–203: :func:`validation_tail`, shared with step 6), then
   window, ``k0`` and weight chosen on the validation categories by precision@10 + acc@10
   (about 2–5 minutes). It changes no fitted tensor: only three ranking buffers are added.
6. (v2.4, ``--shape-steps``, default 600 since v2.5; 0 skips it) the instance-shape branch
   (:mod:`darkroom.ops.sketch.shapenet`) on cached 12×12 ``block10`` maps (``--shape-cache``,
   about 6 minutes to build once, and 3 more for the pseudo-sketches of v2.5: four
   :func:`edge_map_sketch` copies of every QMUL edge map, one of every Sketchy photo's edge
   map, trained against the clean edge map; only the training pairs' and training
   categories' are read): for each QMUL validation fold (pairs 0–99 and 100–199,
   :data:`QMUL_SHAPE_FOLDS`), a validation tail and a branch trained on the 64 fitting
   categories and the QMUL training pairs outside the fold; the re-ranking window and weight
   are chosen on the validation categories and the folds, averaged, near-ties going to the
   better validation mAP (:func:`select_shape_rerank`; the second fold's tail adds 2–5
   minutes). Then the shipped branch is trained on the 84 training categories' pairs and
   QMUL pairs 0–203 (each training about 2–3 minutes) and replaces the learned shape
   projection of step 3 (written as ``shape_net.*``).

The number of tail steps and its learning rate were chosen on the validation split
(:func:`tail_study`, ``bench/results/sketch-finetune.md``).

``--experiments`` also prints the ablation table of ``bench/results/sketch.md`` (each change
measured on the held-out categories): frozen features as they are, per-domain
standardisation, PCA whitening, the edge-map shape part, query expansion, and trained
two-layer heads with triplet + supervised-contrastive + classification terms.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from darkroom.ops.sketch import finetune as FT
from darkroom.ops.sketch import model as M
from darkroom.ops.sketch import shapenet as SN
from darkroom.ops.sketch.embed import WEIGHTS, features, photo_inputs
from darkroom.ops.sketch.strokes import (
    edge_map_sketch,
    normalize_drawing,
    photo_edges,
    read_ndjson_drawings,
    render_strokes,
)

#: Evaluation categories: the 20 Sketchy categories of the subset whose names match no
#: ImageNet-1k class name (torchvision's list; obvious synonyms such as "sax" for saxophone
#: and "teddy" for teddy_bear excluded by hand), so the backbone never saw them as a class.
HELD_OUT = ("airplane", "alarm_clock", "armor", "axe", "blimp", "bread", "crocodilian", "duck",
            "eyeglasses", "hot-air_balloon", "kangaroo", "knife", "motorcycle", "parrot",
            "pistol", "rocket", "sailboat", "sea_turtle", "trumpet", "wading_bird")
#: Model-selection categories, taken from the training categories (every 4th, sorted).
N_VAL = 20
QMUL_HELD = 100  #: the last 100 qmul pairs are reported, never fitted
QMUL_WEIGHT = 3.0  #: weight of one QMUL pair against one Sketchy pair in the shape projection
QUICKDRAW = 5  #: rendered Quick, Draw! doodles per category (of 324) cached


def sketchy_files(root: Path) -> dict:
    """Sketch and photo files of ``sketchy_train`` with categories and each sketch's source."""
    cats = sorted(p.name for p in (root / "sketch").iterdir() if p.is_dir())
    sk, sk_cls, sk_src, ph, ph_cls = [], [], [], [], []
    for ci, c in enumerate(cats):
        photos = sorted((root / "photo" / c).glob("*.jpg"))
        index = {p.stem: len(ph) + j for j, p in enumerate(photos)}
        ph += photos
        ph_cls += [ci] * len(photos)
        for s in sorted((root / "sketch" / c).glob("*.png")):
            sk.append(s)
            sk_cls.append(ci)
            sk_src.append(index[s.stem.rsplit("-", 1)[0]])
    return {"cats": cats, "sketches": sk, "s_cls": torch.tensor(sk_cls),
            "s_src": torch.tensor(sk_src), "photos": ph, "p_cls": torch.tensor(ph_cls)}


def _gray(p: Path) -> np.ndarray:
    return cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0


BACKBONE = "efficientnet_lite0"  #: set by ``--backbone`` (see :data:`darkroom.ops.sketch.model.TAPS`)


def _rows(images: list, what: str) -> torch.Tensor:
    out, t0 = [], time.time()
    for i in range(0, len(images), 256):
        out.append(features(images[i : i + 256], exact=True, backbone=BACKBONE).half())
        print(f"\r{what}: {min(i + 256, len(images))}/{len(images)}  {time.time() - t0:.0f} s",
              end="", flush=True)
    print()
    return torch.cat(out)


def build_cache(data: Path) -> dict:
    """Backbone rows of every sketch, photograph, edge map (Sketchy) and QMUL drawing."""
    d = sketchy_files(data / "sketchy_train")
    s = _rows([normalize_drawing(_gray(p), M.INPUT) for p in d["sketches"]], "sketches")
    pe = [photo_inputs(cv2.imread(str(p))[:, :, ::-1].astype(np.float32) / 255.0)
          for p in d["photos"]]
    p = _rows([a for a, _ in pe], "photos")
    e = _rows([b for _, b in pe], "edge maps")
    q = data / "qmul_shoes_train"
    names = sorted(x.name for x in (q / "sketches").glob("*.png"))
    qs = _rows([normalize_drawing(_gray(q / "sketches" / n), M.INPUT) for n in names], "qmul sketches")
    qe = _rows([normalize_drawing(_gray(q / "photo_edges" / n), M.INPUT) for n in names], "qmul edges")
    return {"backbone": BACKBONE, "cats": d["cats"], "s": s, "p": p, "e": e, "s_cls": d["s_cls"], "s_src": d["s_src"],
            "p_cls": d["p_cls"], "q_s": qs, "q_e": qe, "quickdraw": quickdraw_rows(data),
            "photo_names": [f"{x.parent.name}/{x.name}" for x in d["photos"]]}


def quickdraw_rows(data: Path) -> torch.Tensor:
    """Backbone rows of ``QUICKDRAW`` rendered doodles of each Quick, Draw! category."""
    files = sorted((data / "quickdraw_25").glob("*.ndjson"))
    doodles = [render_strokes(st, 256) for f in files
               for _, st in read_ndjson_drawings(str(f), QUICKDRAW)]
    return _rows([normalize_drawing(x, M.INPUT) for x in doodles], "quickdraw doodles")


TAIL_VIEWS = ("as drawn", "mirrored", "stroke-augmented")  #: cached views of each sketch (tail training)


def build_tail_cache(data: Path, seed: int = 0) -> dict:
    """Tail inputs (:func:`darkroom.ops.sketch.finetune.cache_views`) of every Sketchy and QMUL
    sketch in the :data:`TAIL_VIEWS`: the drawing, its mirror image and one stroke-augmented
    copy (:func:`augment_sketch`, fixed seed) — about 13 minutes on the shared 2-core CPU."""
    from darkroom.models import load_backbone

    net = load_backbone(BACKBONE, "cpu")
    rng = np.random.default_rng(seed)
    out: dict = {"views": list(TAIL_VIEWS)}
    d = sketchy_files(data / "sketchy_train")
    q = data / "qmul_shoes_train"
    names = sorted(x.name for x in (q / "sketches").glob("*.png"))
    for key, files in (("s", d["sketches"]), ("q_s", [q / "sketches" / n for n in names])):
        raw = [_gray(p) for p in files]
        drawn = [normalize_drawing(x, M.INPUT) for x in raw]
        views = [drawn, [FT.mirrored(x) for x in drawn], [FT.augmented(x, rng) for x in raw]]
        out[f"{key}_fixed"], out[f"{key}_in"] = FT.cache_views(net, views, what=f"tail inputs {key}")
    return out


def cached(path: Path, build: Callable[[], dict]) -> dict:
    """The cache at ``path``, built by ``build()`` (and saved there) if missing."""
    if path.is_file():
        return torch.load(path, weights_only=True)
    out = build()
    torch.save(out, path)
    return out


def load_tail_cache(path: Path, data: Path) -> dict:
    """The tail-input cache at ``path``, built (and saved there) if missing."""
    return cached(path, lambda: build_tail_cache(data))


def build_shape_cache(data: Path, seed: int = 0) -> dict:
    """``block10`` maps (:func:`darkroom.ops.sketch.shapenet.cache_maps`) of every Sketchy
    sketch and photo edge map (as the index computes it) and of the QMUL pairs: sketches as
    drawn, mirrored and twice stroke-augmented (fixed seed), edge maps as drawn and mirrored —
    about 6 minutes on the shared 2-core CPU."""
    from darkroom.models import load_backbone

    net = load_backbone(BACKBONE, "cpu")
    rng = np.random.default_rng(seed)
    d = sketchy_files(data / "sketchy_train")
    q_raw_edges, s_raw_edges = raw_edge_maps(data)  # decoded once: the pseudo-sketches bend them too
    out: dict = {"s": SN.cache_maps(net, [normalize_drawing(_gray(p), M.INPUT) for p in d["sketches"]],
                                    what="shape maps: sketches"),
                 "e": SN.cache_maps(net, [normalize_drawing(x, M.INPUT) for x in s_raw_edges],
                                    what="shape maps: edge maps")}
    q = data / "qmul_shoes_train"
    names = sorted(x.name for x in (q / "sketches").glob("*.png"))
    raw = [_gray(q / "sketches" / n) for n in names]
    drawn = [normalize_drawing(x, M.INPUT) for x in raw]
    edges = [normalize_drawing(x, M.INPUT) for x in q_raw_edges]
    views = [drawn, [FT.mirrored(x) for x in drawn], [FT.augmented(x, rng) for x in raw],
             [FT.augmented(x, rng) for x in raw]]
    out["q_s"] = torch.stack([SN.cache_maps(net, v, what="shape maps: qmul sketches") for v in views], 1)
    out["q_e"] = torch.stack([SN.cache_maps(net, v, what="shape maps: qmul edges")
                              for v in (edges, [FT.mirrored(x) for x in edges])], 1)
    return {**out, **build_pseudo_maps(net, q_raw_edges, s_raw_edges, seed)}


def raw_edge_maps(data: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The edge maps before normalisation: every QMUL photo edge map (in pair order) and every
    Sketchy photo's :func:`photo_edges` (in :func:`sketchy_files` order; what
    :func:`photo_inputs` normalises)."""
    q = data / "qmul_shoes_train"
    qe = [_gray(q / "photo_edges" / n) for n in sorted(x.name for x in (q / "sketches").glob("*.png"))]
    se = [photo_edges(cv2.imread(str(f))[:, :, ::-1].astype(np.float32) / 255.0)
          for f in sketchy_files(data / "sketchy_train")["photos"]]
    return qe, se


PSEUDO_VIEWS = 4  #: pseudo-sketches cached per QMUL edge map (one per Sketchy photo)


def build_pseudo_maps(net: torch.nn.Module, q_edges: list[np.ndarray], s_edges: list[np.ndarray],
                      seed: int = 0) -> dict:
    """``block10`` maps of pseudo-sketches (:func:`edge_map_sketch`, its own fixed seed) of
    the :func:`raw_edge_maps`: every QMUL edge map (:data:`PSEUDO_VIEWS` each, ``q_p``) and
    every Sketchy photo's edge map (one each, ``p``) — about 3 minutes on the shared 2-core
    CPU. Only the training pairs' rows are ever trained on (``train_shape`` selects them)."""
    rng = np.random.default_rng(seed + 1)
    q_p = torch.stack([SN.cache_maps(net, [edge_map_sketch(x, rng, M.INPUT) for x in q_edges],
                                     what=f"shape maps: qmul pseudo-sketches {v + 1}")
                       for v in range(PSEUDO_VIEWS)], 1)
    p = SN.cache_maps(net, [edge_map_sketch(x, rng, M.INPUT) for x in s_edges],
                      what="shape maps: sketchy pseudo-sketches")
    return {"q_p": q_p, "p": p}


def load_shape_cache(path: Path, data: Path) -> dict:
    """The shape-map cache at ``path``, built (and saved there) if missing; a cache from before
    the pseudo-sketches gets them added."""
    sc = cached(path, lambda: build_shape_cache(data))
    if "q_p" not in sc:
        from darkroom.models import load_backbone

        sc.update(build_pseudo_maps(load_backbone(BACKBONE, "cpu"), *raw_edge_maps(data)))
        torch.save(sc, path)
    return sc


SHAPE = {"steps": 600, "lr": 3e-4, "weight_decay": 0.05, "tau": 0.07, "batch": 128, "w_sketchy": 1.0,
         "shift": 1, "w_pseudo": 1.0}  #: shape-branch training (:func:`darkroom.ops.sketch.shapenet.train_shape_net`)


def train_shape(c: dict, sc: dict, cats: list[str], qmul_idx: torch.Tensor, seed: int,
                steps: int = SHAPE["steps"]) -> SN.ShapeNet:
    """The instance-shape branch trained on the Sketchy pairs of ``cats`` (each sketch, its
    source photo's edge map), the QMUL pairs ``qmul_idx`` (four sketch views; the mirrored
    sketch against the mirrored edge map) and the pseudo-sketch pairs of both (the photos of
    ``cats``, the edge maps of ``qmul_idx``)."""
    tr = split(c, cats)
    return SN.train_shape_net(sc["q_s"][qmul_idx], sc["q_e"][qmul_idx][:, [0, 1, 0, 0]],
                              sc["s"][tr["s_idx"]], sc["e"][tr["p_idx"][tr["src"]]],
                              q_pseudo=sc["q_p"][qmul_idx], s_pseudo=sc["p"][tr["p_idx"]],
                              s_pseudo_edge=sc["e"][tr["p_idx"]],
                              **{**SHAPE, "steps": steps}, seed=seed)


def with_shape_cols(c: dict, sc: dict, net: SN.ShapeNet) -> dict:
    """``c`` with the shape branch's columns appended to every sketch and edge-map row
    (Sketchy sketches and edge maps, QMUL sketches as drawn and edge maps)."""
    return {**c, "s": torch.cat([c["s"].float(), SN.shape_rows(net, sc["s"], "sketch")], 1),
            "e": torch.cat([c["e"].float(), SN.shape_rows(net, sc["e"], "edge")], 1),
            "q_s": torch.cat([c["q_s"].float(), SN.shape_rows(net, sc["q_s"][:, 0], "sketch")], 1),
            "q_e": torch.cat([c["q_e"].float(), SN.shape_rows(net, sc["q_e"][:, 0], "edge")], 1)}


def split(c: dict, cats: list[str]) -> dict:
    """The rows of categories ``cats``: sketches, photos, edges, labels, each sketch's source
    photo as a row number of this split."""
    ids = torch.tensor([c["cats"].index(x) for x in cats])
    si = torch.nonzero(torch.isin(c["s_cls"], ids)).squeeze(1)
    pi = torch.nonzero(torch.isin(c["p_cls"], ids)).squeeze(1)
    where = torch.full((len(c["p_cls"]),), -1, dtype=torch.long)
    where[pi] = torch.arange(len(pi))
    return {"s": c["s"][si].float(), "p": c["p"][pi].float(), "e": c["e"][pi].float(),
            "s_cls": c["s_cls"][si], "p_cls": c["p_cls"][pi], "src": where[c["s_src"][si]],
            "s_idx": si, "p_idx": pi}


def qmul_fit_pairs(c: dict, leave_out: slice | None = None) -> torch.Tensor:
    """Indices of the QMUL pairs the shape projection may fit on: all but the last
    ``QMUL_HELD``, less ``leave_out`` (a validation fold)."""
    idx = torch.arange(len(c["q_s"]) - QMUL_HELD)
    if leave_out is not None:
        idx = idx[(idx < leave_out.start) | (idx >= leave_out.stop)]
    return idx


def fit(train: dict, w_sem: float, power: float, qe_m: int, qe_beta: float,
        doodles: torch.Tensor | None = None, qmul: tuple[torch.Tensor, torch.Tensor] | None = None
        ) -> M.SketchModel:
    """The model fitted on ``train`` (and, if given, the doodles' rows as extra sketches);
    its shape projection on ``train``'s sketch ↔ edge-map pairs and the ``qmul`` (sketch rows,
    edge-map rows) pairs."""
    s = train["s"] if doodles is None else torch.cat([train["s"], doodles.float()])
    model = M.SketchModel(spatial=s.shape[1] - M.SEM_IN).fit(s, train["p"], train["e"], power)
    qs, qe = (None, None) if qmul is None else (qmul[0].float(), qmul[1].float())
    model.fit_shape(train["s"], train["e"][train["src"]], qs, qe, QMUL_WEIGHT)
    model.w_sem.fill_(w_sem)
    model.qe_m.fill_(qe_m)
    model.qe_beta.fill_(qe_beta)
    return model.eval()


@torch.no_grad()
def evaluate(model: M.SketchModel, test: dict, qe: bool = True) -> dict[str, float]:
    q = model.sketch(test["s"]).numpy()
    g = model.photo(test["p"], test["e"]).numpy()
    kw = model.rank_params() if qe else {"qe_m": 0, "k_shape": M.K_SHAPE}
    sim = torch.from_numpy(M.rank_scores(q, g, **kw))
    return M.retrieval_metrics(sim, test["s_cls"], test["p_cls"], test["src"])


@torch.no_grad()
def evaluate_qmul(model: M.SketchModel, c: dict, qe: bool = True,
                  pairs: slice = slice(-QMUL_HELD, None)) -> dict[str, float]:
    """Held-out QMUL pairs: each sketch against the 100 held-out edge maps (which are both
    the 'photograph' and its edge map). ``pairs``: other pairs (validation: 0–99, 100–199)."""
    s, e = c["q_s"][pairs].float(), c["q_e"][pairs].float()
    kw = model.rank_params() if qe else {"qe_m": 0, "k_shape": M.K_SHAPE}
    sim = torch.from_numpy(M.rank_scores(model.sketch(s).numpy(), model.photo(e, e).numpy(), **kw))
    r = (sim > sim.diagonal()[:, None]).sum(1)
    return {"acc@1": M.accuracy_at(r, 1), "acc@10": M.accuracy_at(r, 10)}


GRID_W = (0.3, 0.4, 0.5, 0.6)
GRID_POWER = (0.0, 0.5)
GRID_QE = ((0, 0.0), (5, 0.5), (5, 1.0), (10, 1.0), (10, 2.0))


def select(c: dict, train_cats: list[str]) -> tuple[dict, list]:
    """Grid search on the validation categories; score = precision@10 + acc@10."""
    val = [x for i, x in enumerate(train_cats) if i % 4 == 0][:N_VAL]
    fit_cats = [x for x in train_cats if x not in val]
    tr, va = split(c, fit_cats), split(c, val)
    table = []
    best: dict = {}
    for power, doodles in itertools.product(GRID_POWER, (False, True)):
        base = fit(tr, 0.5, power, 0, 0.0, c["quickdraw"] if doodles else None)
        for w, (m, beta) in itertools.product(GRID_W, GRID_QE):
            base.w_sem.fill_(w)
            base.qe_m.fill_(m)
            base.qe_beta.fill_(beta)
            r = evaluate(base.eval(), va)
            score = r["p@10"] + r["acc@10"]
            table.append({"w_sem": w, "power": power, "doodles": doodles, "qe_m": m,
                          "qe_beta": beta, **r})
            if not best or score > best["score"]:
                best = {"score": score, "w_sem": w, "power": power, "doodles": doodles,
                        "qe_m": m, "qe_beta": beta}
    return best, table


RERANK_K = 10  #: the short list re-ranked by shape: the top 10, so p@10 and acc@10 cannot move
GRID_RERANK = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
QMUL_VAL = (slice(0, 100), slice(100, 200))  #: QMUL validation folds (not fitted on while measured)


def select_rerank(c: dict, train_cats: list[str], best: dict) -> tuple[float, list]:
    """The shape re-ranking weight, chosen on validation after :func:`select`: the validation
    categories (model fitted on the other 64) and the QMUL validation folds (for each, the
    shape projection fitted on the other QMUL training pairs); score = category acc@1 + mean
    QMUL acc@1 (re-ranking the top 10 leaves p@10 and acc@10 as they are); ties go to the
    smaller weight."""
    val = [x for i, x in enumerate(train_cats) if i % 4 == 0][:N_VAL]
    tr, va = split(c, [x for x in train_cats if x not in val]), split(c, val)
    doodles = c["quickdraw"] if best["doodles"] else None
    args = (best["w_sem"], best["power"], best["qe_m"], best["qe_beta"], doodles)
    model = fit(tr, *args, qmul=(c["q_s"][qmul_fit_pairs(c)], c["q_e"][qmul_fit_pairs(c)]))
    folds = [fit(tr, *args, qmul=(c["q_s"][qmul_fit_pairs(c, sl)], c["q_e"][qmul_fit_pairs(c, sl)]))
             for sl in QMUL_VAL]
    table, chosen, top = [], 0.0, -1.0
    for gamma in GRID_RERANK:
        for m in (model, *folds):
            m.rr_k.fill_(RERANK_K if gamma > 0 else 0)
            m.rr_gamma.fill_(gamma)
        r = evaluate(model, va)
        qm = [evaluate_qmul(m, c, pairs=sl) for m, sl in zip(folds, QMUL_VAL, strict=True)]
        score = r["acc@1"] + float(np.mean([x["acc@1"] for x in qm]))
        table.append({"rerank_gamma": gamma, **r, "qmul_val": qm, "score": score})
        if score > top + 1e-9:
            chosen, top = gamma, score
    return chosen, table


def train_heads(c: dict, train_cats: list[str], steps: int, seed: int, terms: dict[str, float]
                ) -> M.SketchEmbedding2:
    """The trained-heads ablation (:class:`SketchEmbedding2`): instance triplet loss on the
    combined embedding and the shape part, plus ``terms`` ``supcon`` (in-batch same-category
    positives) and ``proxy`` (classification head). Batches: 16 categories × 4 sketches, their
    source photos and 2 more photos of each category."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tr = split(c, train_cats)
    cls_map = {int(k): i for i, k in enumerate(torch.unique(tr["p_cls"]))}
    emb = M.SketchEmbedding2(len(cls_map))
    emb.set_feature_stats(tr["s"], tr["p"], tr["e"])
    opt = torch.optim.AdamW(emb.parameters(), lr=1e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps)
    by = {k: (np.nonzero((tr["s_cls"] == k).numpy())[0], np.nonzero((tr["p_cls"] == k).numpy())[0])
          for k in cls_map}
    for _ in range(steps):
        a_i, g_i = [], set()
        for k in rng.choice(list(cls_map), 16, replace=False):
            sk, ph = by[k]
            pick = rng.choice(sk, 4, replace=False)
            a_i += pick.tolist()
            g_i |= set(tr["src"][pick].tolist()) | set(rng.choice(ph, 2, replace=False).tolist())
        ai, gi = torch.tensor(a_i), torch.tensor(sorted(g_i))
        ss, sf = emb.parts_sketch(tr["s"][ai])
        ps, pf = emb.parts_photo(tr["p"][gi], tr["e"][gi])
        loss = (M.instance_triplet_loss(emb.combine(ss, sf), emb.combine(ps, pf), tr["src"][ai], gi)
                + M.instance_triplet_loss(sf, pf, tr["src"][ai], gi))
        ac, gc = tr["s_cls"][ai], tr["p_cls"][gi]
        if terms.get("supcon"):
            loss = loss + terms["supcon"] * M.category_contrastive_loss(ss, ps, ac, gc)
        if terms.get("proxy"):
            ya = torch.tensor([cls_map[int(x)] for x in ac])
            yg = torch.tensor([cls_map[int(x)] for x in gc])
            loss = loss + terms["proxy"] * (M.proxy_classification_loss(ss, emb.proxies, ya)
                                            + M.proxy_classification_loss(ps, emb.proxies, yg))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return emb.eval()


#: The v2.2 settings (chosen by :func:`select` / :func:`select_rerank` on the frozen rows): the
#: model the sketch tail is trained against, and the baseline it is measured against.
V22 = {"w_sem": 0.4, "power": 0.5, "qe_m": 5, "qe_beta": 0.5, "doodles": False, "rerank_k": RERANK_K,
       "rerank_gamma": 4.0}
TAIL = {"steps": 400, "batch": 48, "lr": 3e-4, "w_cat": 1.0, "w_qmul": 1.0, "l2sp": 1e-2}  #: tail training


def fit_settings(c: dict, cats: list[str], best: dict) -> M.SketchModel:
    """:func:`fit` with ``best``'s settings on the rows of ``cats`` and the QMUL fit pairs,
    re-ranking included."""
    model = fit(split(c, cats), best["w_sem"], best["power"], best["qe_m"], best["qe_beta"],
                c["quickdraw"] if best.get("doodles") else None,
                qmul=(c["q_s"][qmul_fit_pairs(c)], c["q_e"][qmul_fit_pairs(c)]))
    model.rr_k.fill_(best["rerank_k"])
    model.rr_gamma.fill_(best["rerank_gamma"])
    set_fusion(model, best)
    return model


def set_fusion(model: M.SketchModel, best: dict) -> None:
    """The rank-fusion settings of ``best`` (none: off) into ``model``'s buffers."""
    model.fz_k.fill_(best.get("fuse_k", 0))
    model.fz_k0.fill_(best.get("fuse_k0", 20.0))
    model.fz_w.fill_(best.get("fuse_w", 0.0))


GRID_FUSE = tuple(itertools.product((30, 50), (1.0, 5.0, 20.0), (0.5, 1.0, 2.0)))


def validation_tail(c: dict, t: dict, train_cats: list[str], best: dict, seed: int,
                    fold: slice) -> dict:
    """The validation split with the sketch tail of step 4 trained on the 64 fitting
    categories and the QMUL pairs outside ``fold`` (one of :data:`QMUL_SHAPE_FOLDS`; about
    2–5 minutes): ``val``/``fit_cats`` (category names), ``fold``, ``model`` (fitted on
    ``fit_cats``) and ``c`` (the rows with every sketch through that tail)."""
    val = [x for i, x in enumerate(train_cats) if i % 4 == 0][:N_VAL]
    fit_cats = [x for x in train_cats if x not in val]
    model = fit_settings(c, fit_cats, best)
    tail = train_sketch_tail(c, t, fit_cats, best, seed, model=model,
                             qmul_idx=qmul_fit_pairs(c, fold))
    return {"val": val, "fit_cats": fit_cats, "fold": fold, "model": model,
            "c": with_tail_rows(c, t, tail)}


def select_fusion(v: dict) -> tuple[dict, list]:
    """The rank fusion (:func:`darkroom.ops.sketch.model.rank_scores`), chosen on the
    validation categories (:func:`validation_tail`): window, ``k0`` and weight of the plain
    list from :data:`GRID_FUSE`, or off; score = precision@10 + acc@10, as :func:`select`'s;
    ties go to the earlier (off)."""
    model, va = v["model"], split(v["c"], v["val"])
    table, chosen, top = [], {"fuse_k": 0, "fuse_k0": 20.0, "fuse_w": 0.0}, -1.0
    for k, k0, w in ((0, 20.0, 0.0), *GRID_FUSE):
        trial = {"fuse_k": k, "fuse_k0": k0, "fuse_w": w}
        set_fusion(model, trial)
        r = evaluate(model, va)
        score = r["p@10"] + r["acc@10"]
        table.append({**trial, **r, "score": score})
        print(json.dumps(table[-1]), flush=True)
        if score > top + 1e-9:
            chosen, top = trial, score
    return chosen, table


#: Shape re-ranking with the shape branch: (window, weight) pairs, (0, 0) off.
GRID_SHAPE_RERANK = ((0, 0.0), *itertools.product((10, 20, 30, 50), (0.25, 0.5, 0.75, 1.0, 2.0)))
#: The QMUL validation folds of the shape branch's selection (one validation tail and branch
#: each, trained without it): one fold of 100 pairs moves a setting's acc@1 by several points
#: on its own (``bench/results/sketch.md``).
QMUL_SHAPE_FOLDS = (slice(0, 100), slice(100, 200))
#: Settings whose score is within this of the best are ties, decided by the validation
#: categories' mAP: 0.01 is one shoe of a 100-pair fold, and near its best the score is flat
#: while mAP is not (``bench/results/sketch.md``).
SCORE_TIE = 0.01


def select_shape_rerank(vs: list[dict], sc: dict, seed: int, steps: int) -> tuple[dict, list]:
    """Window and weight of the shape re-ranking with the shape branch (v2.4), chosen on
    validation: for each :func:`validation_tail` in ``vs`` (one per QMUL fold), a branch
    trained on the fitting categories' pairs and the QMUL pairs outside its fold (about 1–2
    minutes each), then every :data:`GRID_SHAPE_RERANK` setting scored on the validation
    categories and that fold; score = precision@10 + acc@10 (categories) + acc@1 + acc@10
    (QMUL), the four goals, averaged over the folds. Among the settings within
    :data:`SCORE_TIE` of the best score, the one with the highest mean validation mAP wins
    (it is what a wider or heavier re-ranking costs the category sense; equal: the earlier,
    off first). No validation tail or branch has seen its QMUL fold."""
    runs = []
    for v in vs:
        net = train_shape(v["c"], sc, v["fit_cats"], qmul_fit_pairs(v["c"], v["fold"]), seed, steps)
        c3 = with_shape_cols(v["c"], sc, net)
        runs.append((copy.deepcopy(v["model"]).attach_shape_net(net), c3, split(c3, v["val"]), v["fold"]))
    table = []
    for k, gamma in GRID_SHAPE_RERANK:
        folds = []
        for model, c3, va, fold in runs:
            model.rr_k.fill_(k)
            model.rr_gamma.fill_(gamma)
            r = evaluate(model, va)
            qm = evaluate_qmul(model, c3, pairs=fold)
            folds.append({**r, "qmul_pairs": [fold.start, fold.stop], "qmul_val": qm,
                          "score": r["p@10"] + r["acc@10"] + qm["acc@1"] + qm["acc@10"]})
        table.append({"rerank_k": k, "rerank_gamma": gamma, "folds": folds,
                      "score": sum(f["score"] for f in folds) / len(folds),
                      "mAP": sum(f["mAP"] for f in folds) / len(folds)})
        print(json.dumps(table[-1]), flush=True)
    best = pick_near_best(table)
    return {"rerank_k": best["rerank_k"], "rerank_gamma": best["rerank_gamma"]}, table


def pick_near_best(table: list[dict], tie: float = SCORE_TIE) -> dict:
    """The row of ``table`` (dicts with ``score`` and ``mAP``) with the highest ``mAP``
    among those whose ``score`` is within ``tie`` of the best; equal ``mAP``: the earlier."""
    top = max(r["score"] for r in table)
    return max((r for r in table if r["score"] >= top - tie), key=lambda r: r["mAP"])


def train_sketch_tail(c: dict, t: dict, cats: list[str], best: dict, seed: int,
                      hp: dict | None = None, net: torch.nn.Module | None = None,
                      callback=None, model: M.SketchModel | None = None,
                      qmul_idx: torch.Tensor | None = None) -> FT.SketchTail:
    """The sketch-side tail (:mod:`darkroom.ops.sketch.finetune`) trained on the sketches of
    ``cats`` (all cached views) and the QMUL pairs ``qmul_idx`` (default: the fit pairs),
    against the model :func:`fit_settings` fits on the frozen rows of ``cats``."""
    from darkroom.models import load_backbone

    hp = {**TAIL, **(hp or {})}
    net = net if net is not None else load_backbone(BACKBONE, "cpu")
    model = model if model is not None else fit_settings(c, cats, best)
    tr = split(c, cats)
    with torch.no_grad():
        photos = model.photo(tr["p"], tr["e"])
        qi = qmul_fit_pairs(c) if qmul_idx is None else qmul_idx
        q_emb = model.photo(c["q_e"][qi].float(), c["q_e"][qi].float())
    torch.manual_seed(seed)
    return FT.train_tail(net, model, t["s_fixed"][tr["s_idx"]], t["s_in"][tr["s_idx"]], tr["src"],
                         tr["s_cls"], photos, tr["p_cls"], t["q_s_fixed"][qi], t["q_s_in"][qi], q_emb,
                         seed=seed, callback=callback, **hp)


def with_tail_rows(c: dict, t: dict, tail: FT.SketchTail) -> dict:
    """``c`` with every sketch row (Sketchy and QMUL, the drawing as drawn) computed through
    ``tail`` instead of the frozen backbone's last block."""
    return {**c, "s": FT.tail_rows(tail, t["s_fixed"][:, 0], t["s_in"][:, 0]).half(),
            "q_s": FT.tail_rows(tail, t["q_s_fixed"][:, 0], t["q_s_in"][:, 0]).half()}


def measure(c: dict, fit_cats: list[str], test_cats: list[str], best: dict,
            qmul_pairs: slice = slice(-QMUL_HELD, None)) -> dict:
    """p@10, mAP, acc@1, acc@10 on ``test_cats`` and QMUL ``qmul_pairs`` acc@1/acc@10 of the
    model fitted with ``best`` on ``fit_cats``."""
    model = fit_settings(c, fit_cats, best)
    r = evaluate(model, split(c, test_cats))
    r["qmul"] = evaluate_qmul(model, c, pairs=qmul_pairs)
    return r


def tail_study(c: dict, t: dict, train_cats: list[str], seed: int, configs: list[dict],
               test_cats: list[str] | None = None) -> list[dict]:
    """The sketch tail measured against the frozen v2.2 model in one run: with ``test_cats``
    None, on the validation categories (tail and model fitted on the other 64 training
    categories; curves every 100 steps), else tail and model on all ``train_cats`` and
    measured on ``test_cats`` (the held-out categories). Each row: the model refitted on the
    tail's sketch rows ("refit") and the model the tail was trained against ("fixed")."""
    val = [x for i, x in enumerate(train_cats) if i % 4 == 0][:N_VAL]
    fit_cats, test = ([x for x in train_cats if x not in val], val) if test_cats is None else (
        train_cats, test_cats)
    rows = [{"what": "frozen backbone (v2.2)", **measure(c, fit_cats, test, V22)}]
    print(json.dumps(rows[-1]), flush=True)
    fixed_model = fit_settings(c, fit_cats, V22)

    def report(name: str, tail: FT.SketchTail) -> None:
        c2 = with_tail_rows(c, t, tail)
        r = measure(c2, fit_cats, test, V22)
        r0 = evaluate(fixed_model, split(c2, test))
        r0["qmul"] = evaluate_qmul(fixed_model, c2)
        rows.append({"what": name, **r, "fixed": r0})
        print(json.dumps(rows[-1]), flush=True)

    for hp in configs:
        t0 = time.time()
        label = json.dumps(hp)
        tail = train_sketch_tail(c, t, fit_cats, V22, seed, hp,
                                 callback=(lambda s, tl, lb=label: report(f"{lb} step {s}", tl))
                                 if test_cats is None else None)
        rows[-1]["train_s"] = round(time.time() - t0)
        if test_cats is not None:
            report(label, tail)
            rows[-1]["train_s"] = round(time.time() - t0)
    return rows


@torch.no_grad()
def experiments(c: dict, train_cats: list[str], chosen: dict, seed: int, heads_steps: int) -> list:
    """Each change measured on the held-out categories (the story of ``sketch.md``)."""
    tr, te = split(c, train_cats), split(c, list(HELD_OUT))
    spatial = c["s"].shape[1] - M.SEM_IN
    h, sp = slice(spatial, None), slice(0, spatial)
    rows = []

    def add(name: str, sim: torch.Tensor) -> None:
        r = M.retrieval_metrics(sim, te["s_cls"], te["p_cls"], te["src"])
        rows.append({"experiment": name, **{k: round(v, 3) for k, v in r.items()}})
        print(json.dumps(rows[-1]), flush=True)

    def cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T

    def z(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return (x - ref.mean(0)) / ref.std(0).clamp_min(1e-3)

    add("1 frozen head features, sketch vs photograph, cosine", cos(te["s"][:, h], te["p"][:, h]))
    add("2 frozen 4x4 features, sketch vs edge map (v1 input)", cos(te["s"][:, sp], te["e"][:, sp]))
    add("3 = 1 + per-domain standardisation (train statistics)",
        cos(z(te["s"][:, h], tr["s"][:, h]), z(te["p"][:, h], tr["p"][:, h])))
    add("4 = 2 + per-domain standardisation",
        cos(z(te["s"][:, sp], tr["s"][:, sp]), z(te["e"][:, sp], tr["e"][:, sp])))
    for power, label in ((0.0, "PCA"), (chosen["power"], f"PCA whitening^{chosen['power']}")):
        m = fit(tr, 1.0, power, 0, 0.0)
        add(f"5 = 3 + shared {label} ({M.K_SEM} d)", torch.from_numpy(
            M.rank_scores(m.sketch(te["s"]).numpy(), m.photo(te["p"], te["e"]).numpy(), qe_m=0,
                          k_shape=M.K_SHAPE)))
    m = fit(tr, chosen["w_sem"], chosen["power"], 0, 0.0)
    add(f"6 = 5 + edge-map shape part (w_sem {chosen['w_sem']})", torch.from_numpy(
        M.rank_scores(m.sketch(te["s"]).numpy(), m.photo(te["p"], te["e"]).numpy(), qe_m=0,
                          k_shape=M.K_SHAPE)))
    m = fit(tr, chosen["w_sem"], chosen["power"], chosen["qe_m"], chosen["qe_beta"])
    add(f"7 = 6 + query expansion (m {chosen['qe_m']}, beta {chosen['qe_beta']})"
        + ("" if chosen["doodles"] else " = shipped"),
        torch.from_numpy(M.rank_scores(m.sketch(te["s"]).numpy(), m.photo(te["p"], te["e"]).numpy(),
                                       qe_m=chosen["qe_m"], qe_beta=chosen["qe_beta"],
                                       k_shape=M.K_SHAPE)))
    m = fit(tr, chosen["w_sem"], chosen["power"], chosen["qe_m"], chosen["qe_beta"], c["quickdraw"])
    add(f"7b = 7 + {len(c['quickdraw'])} rendered Quick, Draw! doodles in the sketch statistics"
        + (" = shipped" if chosen["doodles"] else ""),
        torch.from_numpy(M.rank_scores(m.sketch(te["s"]).numpy(), m.photo(te["p"], te["e"]).numpy(),
                                       qe_m=chosen["qe_m"], qe_beta=chosen["qe_beta"],
                                       k_shape=M.K_SHAPE)))
    if heads_steps:
        for terms, label in (({}, "triplet only"), ({"supcon": 1.0, "proxy": 1.0},
                                                    "triplet + supervised contrastive + classification")):
            t0 = time.time()
            with torch.enable_grad():
                emb = train_heads(c, train_cats, heads_steps, seed, terms)
            add(f"8 trained 2-layer heads ({heads_steps} steps), {label}",
                emb.sketch(te["s"]) @ emb.photo(te["p"], te["e"]).T)
            print(f"   ({time.time() - t0:.0f} s)")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/darkroom-sketch-v2-features.pt"))
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--experiments", action="store_true", help="also print the ablation table")
    ap.add_argument("--heads-steps", type=int, default=1500, help="steps of the trained-heads ablation")
    ap.add_argument("--report", type=Path, help="write selection and experiments as JSON here")
    ap.add_argument("--backbone", default=BACKBONE, choices=sorted(M.TAPS),
                    help="frozen backbone (use a --cache of its own)")
    ap.add_argument("--tail-steps", type=int, default=TAIL["steps"],
                    help="training steps of the sketch side's last block (0: frozen, as v2.2)")
    ap.add_argument("--tail-cache", type=Path, default=Path("/tmp/darkroom-sketch-tail-inputs.pt"))
    ap.add_argument("--shape-steps", type=int, default=SHAPE["steps"],
                    help="training steps of the instance-shape branch (0: none, as v2.3)")
    ap.add_argument("--shape-cache", type=Path, default=Path("/tmp/darkroom-sketch-shape-maps.pt"))
    ap.add_argument("--no-fusion", dest="fusion", action="store_false",
                    help="skip the rank-fusion selection (it trains a validation tail: ~5 min)")
    args = ap.parse_args()
    globals()["BACKBONE"] = args.backbone
    if args.tail_steps and args.backbone != "efficientnet_lite0":
        raise SystemExit("the sketch tail is Lite0's last block: pass --tail-steps 0 with another backbone")
    torch.set_num_threads(min(2, torch.get_num_threads()))  # the 2-core machine, at most
    torch.manual_seed(args.seed)
    t0 = time.time()
    if args.cache.is_file():
        c = torch.load(args.cache, weights_only=True)
        if c.get("backbone", "efficientnet_lite0") != args.backbone:
            raise SystemExit(f"{args.cache} holds another backbone's rows: pass --cache")
    else:
        c = build_cache(args.data)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(c, args.cache)
    if "quickdraw" not in c:  # a cache from before the doodles were added
        c["quickdraw"] = quickdraw_rows(args.data)
        torch.save(c, args.cache)
    print(f"features ready in {time.time() - t0:.0f} s")
    train_cats = [x for x in c["cats"] if x not in HELD_OUT]
    best, table = select(c, train_cats)
    print("chosen on the validation categories:", best)
    gamma, rr_table = select_rerank(c, train_cats, best)
    best["rerank_k"], best["rerank_gamma"] = (RERANK_K if gamma > 0 else 0), gamma
    print("shape re-ranking chosen on validation:", {k: best[k] for k in ("rerank_k", "rerank_gamma")})
    model = fit(split(c, train_cats), best["w_sem"], best["power"], best["qe_m"], best["qe_beta"],
                c["quickdraw"] if best["doodles"] else None,
                qmul=(c["q_s"][qmul_fit_pairs(c)], c["q_e"][qmul_fit_pairs(c)]))
    model.rr_k.fill_(best["rerank_k"])
    model.rr_gamma.fill_(best["rerank_gamma"])
    held = evaluate(model, split(c, list(HELD_OUT)))
    qm = evaluate_qmul(model, c)
    print("held-out categories, frozen backbone:", {k: round(v, 3) for k, v in held.items()})
    print("qmul held-out, frozen backbone:", {k: round(v, 3) for k, v in qm.items()})
    state = model.state_dict()
    frozen = {"held_out": held, "qmul": qm}
    fuse_table: list = []
    shape_table: list = []
    if args.tail_steps:
        # Step 4: the sketch side's own last block, trained against the fitted model.
        t = load_tail_cache(args.tail_cache, args.data)
        v = (validation_tail(c, t, train_cats, best, args.seed, QMUL_SHAPE_FOLDS[0])
             if args.fusion or args.shape_steps else {})
        if args.fusion:
            t1 = time.time()
            fz, fuse_table = select_fusion(v)
            best.update(fz)
            set_fusion(model, best)
            set_fusion(v["model"], best)
            print(f"rank fusion chosen on validation in {time.time() - t1:.0f} s:", fz)
        t1 = time.time()
        tail = train_sketch_tail(c, t, train_cats, best, args.seed, {"steps": args.tail_steps},
                                 model=model)
        c2 = with_tail_rows(c, t, tail)
        held, qm = evaluate(model, split(c2, list(HELD_OUT))), evaluate_qmul(model, c2)
        print(f"sketch tail trained in {time.time() - t1:.0f} s")
        print("held-out categories, sketch tail:", {k: round(v, 3) for k, v in held.items()})
        print("qmul held-out, sketch tail:", {k: round(v, 3) for k, v in qm.items()})
        if args.shape_steps:
            # Step 6: the instance-shape branch and its re-ranking.
            t1 = time.time()
            sc = load_shape_cache(args.shape_cache, args.data)
            # The first fold's validation tail is step 5's; the other folds get their own.
            vs = [v] + [validation_tail(c, t, train_cats, best, args.seed, f)
                        for f in QMUL_SHAPE_FOLDS[1:]]
            rr, shape_table = select_shape_rerank(vs, sc, args.seed, args.shape_steps)
            print(f"shape re-ranking chosen on validation in {time.time() - t1:.0f} s:", rr)
            best.update(rr)
            net = train_shape(c, sc, train_cats, qmul_fit_pairs(c), args.seed, args.shape_steps)
            model.attach_shape_net(net)
            model.rr_k.fill_(best["rerank_k"])
            model.rr_gamma.fill_(best["rerank_gamma"])
            c3 = with_shape_cols(c2, sc, net)
            held, qm = evaluate(model, split(c3, list(HELD_OUT))), evaluate_qmul(model, c3)
            print(f"shape branch trained in {time.time() - t1:.0f} s")
            print("held-out categories, shape branch:", {k: round(x, 3) for k, x in held.items()})
            print("qmul held-out, shape branch:", {k: round(x, 3) for k, x in qm.items()})
        state = {**model.state_dict(), **{f"tail.{k}": v for k, v in tail.tail_state().items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.2f} MiB) in {time.time() - t0:.0f} s")
    rows = experiments(c, train_cats, best, args.seed, args.heads_steps) if args.experiments else []
    if args.report:
        args.report.write_text(json.dumps({"chosen": best, "validation_grid": table,
                                           "rerank_validation": rr_table,
                                           "fusion_validation": fuse_table,
                                           "shape_rerank_validation": shape_table,
                                           "held_out": held, "qmul": qm, "frozen": frozen,
                                           "experiments": rows}, indent=1))


if __name__ == "__main__":
    main()
