"""The triplet loss, the branch heads, retrieval ranks, the HOG baseline, and the shipped
weights on held-out real sketches."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from darkroom.ops.sketch import model as M
from darkroom.ops.sketch.hog import hog


def _unit(*rows: list[float]) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=1)


def test_triplet_loss_reference_values() -> None:
    a = _unit([1.0, 0.0])
    p = _unit([1.0, 0.0])
    far = _unit([-1.0, 0.0])
    near = _unit([0.0, 1.0])
    # Positive at distance 0, negative at squared distance 4: satisfied → 0.
    assert M.triplet_loss(a, p, far, margin=0.3).item() == pytest.approx(0.0)
    # Negative closer than the positive: m + d_ap − d_an = 0.3 + 4 − 2.
    assert M.triplet_loss(a, far, near, margin=0.3).item() == pytest.approx(2.3)
    # Equal distances: exactly the margin.
    assert M.triplet_loss(a, near, near, margin=0.3).item() == pytest.approx(0.3)


def test_batch_triplet_loss_prefers_matched_pairs_and_gradient_helps() -> None:
    torch.manual_seed(0)
    x = F.normalize(torch.randn(16, 8), dim=1)
    assert M.batch_triplet_loss(x, x).item() < M.batch_triplet_loss(x, x.roll(1, 0)).item()
    # One gradient step on the anchors lowers the loss (the loss trains towards matching).
    a = F.normalize(torch.randn(16, 8), dim=1).requires_grad_(True)
    before = M.batch_triplet_loss(a, x)
    before.backward()
    with torch.no_grad():
        after = M.batch_triplet_loss(a - 0.1 * a.grad, x)
    assert after.item() < before.item()


def test_branch_gives_unit_vectors_and_ranks_count_better_rows() -> None:
    b = M.Branch().eval()
    e = b(torch.randn(5, M.CHANNELS, M.GRID, M.GRID))
    assert e.shape == (5, M.DIM)
    assert torch.allclose(e.norm(dim=1), torch.ones(5), atol=1e-5)
    q = _unit([1.0, 0.0], [0.0, 1.0], [1.0, 1.0])
    g = _unit([1.0, 0.1], [1.0, 0.0], [1.0, 1.0])  # query i's answer is row i
    r = M.ranks(q, g)
    assert r.tolist() == [1, 2, 0]
    assert M.accuracy_at(r, 1) == pytest.approx(1 / 3) and M.accuracy_at(r, 3) == 1.0


def test_hog_is_a_unit_descriptor_tolerant_to_small_shifts() -> None:
    a = np.ones((200, 200), np.float32)
    cv2.rectangle(a, (30, 50), (170, 150), 0.0, 2)
    cv2.line(a, (30, 50), (170, 150), 0.0, 2)
    shifted = np.roll(a, (6, -4), axis=(0, 1))
    other = np.ones((200, 200), np.float32)
    cv2.circle(other, (100, 100), 60, 0.0, 2)
    ha, hs, ho = hog(a), hog(shifted), hog(other)
    assert ha.shape == (8100,) and np.linalg.norm(ha) == pytest.approx(1.0, abs=1e-4)
    assert float(ha @ hs) > 0.9 > float(ha @ ho)


@pytest.mark.slow
def test_shipped_weights_find_held_out_real_shoes(shared_data: Path) -> None:
    """The trained heads rank the right shoe near the top for sketches they never saw."""
    from darkroom.ops.sketch.embed import embed_drawings
    from darkroom.ops.sketch.strokes import normalize_drawing

    root = shared_data / "qmul_shoes_train"
    names = sorted(p.name for p in (root / "sketches").glob("*.png"))[-30:]  # held-out pairs

    def load(sub: str) -> list[np.ndarray]:
        return [normalize_drawing(cv2.imread(str(root / sub / n), 0) / np.float32(255), M.INPUT)
                for n in names]

    s = torch.from_numpy(embed_drawings(load("sketches"), "sketch"))
    e = torch.from_numpy(embed_drawings(load("photo_edges"), "photo"))
    r = M.ranks(s, e)
    # Chance would be acc@5 = 5/30; the shipped model does far better.
    assert M.accuracy_at(r, 5) >= 0.6
