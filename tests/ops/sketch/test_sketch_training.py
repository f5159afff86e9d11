"""Version 2 training pieces: the loss terms, PCA whitening and the fitted model, query
expansion, stroke augmentation, and rendering Quick, Draw! strokes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from darkroom.ops.sketch import model as M
from darkroom.ops.sketch.strokes import (
    INK,
    augment_sketch,
    photo_square,
    read_ndjson_drawings,
    render_strokes,
)


def _unit(*rows: list[float]) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=1)


# ---- loss terms -------------------------------------------------------------------------------

def test_instance_triplet_loss_uses_ids_and_ignores_same_object_rows() -> None:
    a = _unit([1.0, 0.0])
    g = _unit([1.0, 0.0], [0.0, 1.0], [1.0, 0.0])
    # Row 2 shows the same object (id 7) as the positive: not a negative, so nothing violates
    # except the far row, which is satisfied → 0.
    assert M.instance_triplet_loss(a, g, torch.tensor([7]), torch.tensor([7, 1, 7])).item() == 0.0
    # Positive at squared distance 2 and a negative at 0: m + 2 − 0.
    loss = M.instance_triplet_loss(a, g, torch.tensor([1]), torch.tensor([0, 1, 2]), margin=0.3)
    # Negatives rows 0 and 2 (distance 0): both violate by 2.3.
    assert loss.item() == pytest.approx(2.3)


def test_category_contrastive_loss_rewards_same_category_neighbours() -> None:
    a = _unit([1.0, 0.0], [0.0, 1.0])
    g = _unit([1.0, 0.1], [0.1, 1.0])
    good = M.category_contrastive_loss(a, g, torch.tensor([0, 1]), torch.tensor([0, 1]))
    bad = M.category_contrastive_loss(a, g, torch.tensor([0, 1]), torch.tensor([1, 0]))
    assert good.item() < bad.item()
    # Reference: −log softmax over 2 photos at τ.
    s = torch.tensor([[0.995, 0.0995], [0.0995, 0.995]]) / M.TAU
    ref = -torch.log_softmax(s, 1).diagonal().mean()
    assert good.item() == pytest.approx(ref.item(), rel=1e-3)
    # An anchor without a positive in the batch is left out (no NaN).
    one = M.category_contrastive_loss(a, g, torch.tensor([0, 5]), torch.tensor([0, 1]))
    assert torch.isfinite(one)


def test_proxy_classification_loss_is_cross_entropy_of_cosines() -> None:
    x = _unit([1.0, 0.0], [0.0, 1.0])
    proxies = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # normalised inside
    loss = M.proxy_classification_loss(x, proxies, torch.tensor([0, 1]), tau=1.0)
    assert loss.item() == pytest.approx(F.cross_entropy(torch.eye(2), torch.tensor([0, 1])).item())
    assert M.proxy_classification_loss(x, proxies, torch.tensor([1, 0])).item() > loss.item()


def test_retrieval_metrics_reference_values() -> None:
    sim = torch.tensor([[0.9, 0.8, 0.1], [0.1, 0.2, 0.3]])
    r = M.retrieval_metrics(sim, torch.tensor([0, 1]), torch.tensor([0, 1, 1]), torch.tensor([1, 2]))
    # Query 0: ranking 0 (rel), 1, 2 → AP 1; query 1: ranking 2 (rel), 1 (rel), 0 → AP 1.
    assert r["mAP"] == pytest.approx(1.0)
    assert r["acc@1"] == pytest.approx(0.5) and r["acc@10"] == 1.0


# ---- the fitted model and query expansion -----------------------------------------------------

def test_pca_whitening_gives_unit_variance_components() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 20, generator=g) * torch.linspace(5, 0.1, 20)
    mean, basis, scale = M.pca_whitening(x, 5, power=1.0)
    assert basis.shape == (20, 5)
    assert torch.allclose(basis.T @ basis, torch.eye(5), atol=1e-4)
    y = (x - mean) @ basis / scale
    assert torch.allclose(y.std(0), torch.ones(5), atol=0.05)
    again = M.pca_whitening(x, 5, power=1.0)
    assert torch.equal(again[1], basis)  # deterministic


def test_sketch_model_fit_removes_the_domain_offset_and_finds_the_object() -> None:
    g = torch.Generator().manual_seed(1)
    ids = torch.arange(60)
    shared = torch.randn(60, M.FEAT, generator=g)
    s = shared + 4.0 + 0.3 * torch.randn(60, M.FEAT, generator=g)  # sketches: offset domain
    p = shared - 2.0 + 0.3 * torch.randn(60, M.FEAT, generator=g)
    model = M.SketchModel(k_sem=16, k_fine=16, k_photo=8, k_shape=8).fit(s, p, p).eval()
    model.fit_shape(s, p, d0=32)
    model.qe_m.fill_(0)
    q, gal = model.sketch(s).numpy(), model.photo(p, p).numpy()
    assert q.shape == (60, 48)
    assert np.allclose(np.linalg.norm(q[:, :32], axis=1), 1, atol=1e-4)  # [√w·sem, √(1−w)·fine]
    assert np.allclose(np.linalg.norm(q[:, 32:40], axis=1), 1, atol=1e-4)  # the shape part
    assert np.allclose(q[:, -8:], 0)  # the photo-only part is zero for sketches
    assert model.rank_params()["k_shape"] == 8
    sim = M.rank_scores(q, gal, k_photo=8, qe_m=0, k_shape=8)
    assert (sim.argmax(1) == ids.numpy()).mean() > 0.9
    shape = q[:, 32:40] @ gal[:, 32:40].T
    assert (shape.argmax(1) == ids.numpy()).mean() > 0.9


def test_learned_whitening_discounts_the_directions_in_which_pairs_disagree() -> None:
    g = torch.Generator().manual_seed(2)
    obj = torch.randn(400, 6, generator=g)  # what the object looks like: 6 directions
    noise = torch.zeros(400, 6)
    noise[:, 0] = 5 * torch.randn(400, generator=g)  # sketch and photo disagree along 0
    a, b = obj + noise / 2, obj - noise / 2
    mean, proj = M.learned_whitening(a, b, torch.cat([a, b]), k=3, d0=6, lam=0.01)
    assert mean.shape == (6,) and proj.shape == (6, 3)
    # The kept directions ignore coordinate 0 (pure disagreement, the largest variance).
    assert proj[0].abs().max() < 0.05 * proj[1:].abs().max()
    ya, yb = F.normalize((a - mean) @ proj, dim=1), F.normalize((b - mean) @ proj, dim=1)
    assert ((ya @ yb.T).argmax(1) == torch.arange(400)).float().mean() > 0.5


def test_rank_scores_query_expansion_lifts_photos_like_the_best_ones() -> None:
    # Gallery: photo 0 matches the sketch directly; photo 2 only looks like photo 0
    # (same photo-only descriptor); photo 1 neither.
    gal = np.array([[1, 0, 1, 0], [0.6, 0.8, 0, 1], [0.5, 0.866, 1, 0]], np.float32)
    q = np.array([[1, 0, 0, 0]], np.float32)
    plain = M.rank_scores(q, gal, k_photo=2, qe_m=0)
    assert np.allclose(plain, q[:, :2] @ gal[:, :2].T)
    assert plain[0, 1] > plain[0, 2]
    qe = M.rank_scores(q, gal, k_photo=2, qe_m=1, qe_beta=1.0)
    assert qe[0, 2] > qe[0, 1]  # expanded through photo 0
    assert qe.max() <= 1.0 + 1e-6
    assert M.rank_scores(q, gal[:0], k_photo=2).shape == (1, 0)


# ---- stroke augmentation and rendering --------------------------------------------------------

def _drawing() -> np.ndarray:
    import cv2

    d = np.ones((128, 128), np.float32)
    cv2.rectangle(d, (20, 20), (108, 108), 0.0, 2)  # the outline (largest stroke)
    for i in range(6):
        cv2.line(d, (30 + 12 * i, 40), (30 + 12 * i, 50), 0.0, 1)  # small details
    return d


def test_augment_sketch_is_reproducible_keeps_the_outline_and_drops_details() -> None:
    d = _drawing()
    a = augment_sketch(d, np.random.default_rng(3))
    b = augment_sketch(d, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.shape == d.shape and a.dtype == np.float32
    outs = [augment_sketch(d, np.random.default_rng(s)) for s in range(12)]
    assert all((o < INK).mean() > 0.3 * (d < INK).mean() for o in outs)  # never wiped out
    assert len({o.tobytes() for o in outs}) > 6  # varied
    # amount 0: no strokes dropped, no warp.
    same = augment_sketch(d, np.random.default_rng(0), amount=0.0)
    assert np.array_equal(same < INK, d < INK)
    blank = np.ones((64, 64), np.float32)
    assert (augment_sketch(blank, np.random.default_rng(0)) == 1.0).all()


def test_render_strokes_draws_the_polylines_fitted_and_centred() -> None:
    square = [[[0, 100, 100, 0, 0], [0, 0, 100, 100, 0]]]
    d = render_strokes(square, size=64, width=2)
    assert d.shape == (64, 64) and d.dtype == np.float32
    ink = d < INK
    ys, xs = np.nonzero(ink)
    # Fitted to 1 − 2·6 % of the square, centred.
    assert xs.min() <= 5 and xs.max() >= 58 and abs((xs.min() + xs.max()) / 2 - 31.5) < 2
    assert not ink[20:44, 20:44].any()  # the inside of the square stays paper
    # A single-point stroke is a dot; an empty drawing is blank paper.
    assert (render_strokes([[[5], [5]]], size=32) < INK).any()
    assert (render_strokes([], size=32) == 1.0).all()


def test_read_ndjson_drawings(tmp_path: Path) -> None:
    f = tmp_path / "cat.ndjson"
    f.write_text(json.dumps({"word": "cat", "drawing": [[[0, 50, 100], [0, 80, 0]]]}) + "\n\n"
                 + json.dumps({"word": "cat", "drawing": [[[10, 10], [0, 90]]]}) + "\n")
    rows = read_ndjson_drawings(str(f))
    assert [w for w, _ in rows] == ["cat", "cat"] and len(read_ndjson_drawings(str(f), limit=1)) == 1
    assert (render_strokes(rows[0][1], 48) < INK).sum() > 20


def test_render_real_quickdraw_doodles(shared_data: Path) -> None:
    real = sorted((shared_data / "quickdraw_25").glob("*.ndjson"))[:3]
    for f in real:
        rows = read_ndjson_drawings(str(f))
        assert len(rows) == 25 and rows[0][0]
        for _, strokes in rows[:5]:
            d = render_strokes(strokes, 128)
            assert 0.005 < (d < INK).mean() < 0.5


def test_photo_square_keeps_the_whole_picture_on_white() -> None:
    rgb = np.zeros((50, 100, 3), np.float32)
    sq = photo_square(rgb, 64)
    assert sq.shape == (64, 64, 3)
    assert (sq[:10] == 1.0).all() and (sq[32, :, 0] == 0).all()


# ---- the re-ranking choice of scripts/train_sketch.py --------------------------------------

def _train_script():  # type: ignore[no-untyped-def]
    import importlib.util

    path = Path(__file__).resolve().parents[3] / "scripts" / "train_sketch.py"
    spec = importlib.util.spec_from_file_location("train_sketch_under_test", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_rerank_choice_prefers_the_better_map_among_near_ties() -> None:
    pick = _train_script().pick_near_best
    table = [{"name": "off", "score": 2.13, "mAP": 0.541},
             {"name": "20, 0.25", "score": 2.267, "mAP": 0.537},
             {"name": "50, 0.5", "score": 2.274, "mAP": 0.507},
             {"name": "20, 0.5", "score": 2.271, "mAP": 0.537}]
    # Within 0.01 of the best score the category mAP decides; equal mAP: the earlier row.
    assert pick(table, 0.01)["name"] == "20, 0.25"
    # Without a tolerance the plain maximum wins, whatever it costs in mAP.
    assert pick(table, 0.0)["name"] == "50, 0.5"
    # A clearly better score is not a tie: "off" has the best mAP but is 0.14 behind.
    assert pick(table, 0.1)["name"] == "20, 0.25"
    assert pick(table, 0.2)["name"] == "off"
