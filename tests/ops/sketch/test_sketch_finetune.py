"""The sketch-side tail (unfrozen last block) and its training on cached activations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from darkroom.models import load_backbone
from darkroom.ops.sketch import embed
from darkroom.ops.sketch import finetune as FT
from darkroom.ops.sketch import model as M


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    """The shared, frozen Lite0 (ImageNet weights from the installed package: no download)."""
    return load_backbone("efficientnet_lite0", "cpu")


def _drawings(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, M.INPUT, M.INPUT, generator=g).expand(-1, 3, -1, -1).contiguous()


def test_untrained_tail_gives_exactly_the_frozen_backbone_row(net: torch.nn.Module) -> None:
    """Before training, a sketch through cached activations + the tail has the very feature
    row the frozen backbone gives (what the shipped model was fitted on)."""
    x = _drawings(3)
    fixed, acts = FT.block_inputs(net, x)
    assert acts.shape == (3, 192, M.INPUT // 32, M.INPUT // 32)
    row = FT.tail_rows(FT.SketchTail(net), fixed, acts)
    with torch.no_grad():
        ref = M.backbone_features2(net, x)
    assert row.shape == (3, M.FEAT)
    torch.testing.assert_close(row, ref, rtol=1e-4, atol=1e-4)


def test_cache_views_stacks_each_view_and_the_mirror_is_a_mirror(net: torch.nn.Module) -> None:
    d = [np.random.default_rng(i).random((M.INPUT, M.INPUT)).astype(np.float32) for i in range(3)]
    fixed, acts = FT.cache_views(net, [d, [FT.mirrored(x) for x in d]], batch=2)
    assert fixed.shape == (3, 2, FT.FIXED_COLS) and acts.dtype == torch.float16
    assert acts.shape[:2] == (3, 2)
    # The mirrored view is the backbone's answer for the mirrored drawing, not a copy.
    f1, a1 = FT.block_inputs(net, torch.from_numpy(FT.mirrored(d[1]))[None, None].expand(1, 3, -1, -1))
    torch.testing.assert_close(acts[1, 1].float(), a1[0], rtol=1e-2, atol=1e-2)
    assert not torch.allclose(acts[1, 0], acts[1, 1])


def test_augmented_copy_is_reproducible_normalised_and_differs() -> None:
    raw = np.ones((256, 256), np.float32)
    raw[60:200, 80:84] = 0.0
    raw[60:64, 80:180] = 0.0
    raw[120:124, 100:110] = 0.0  # a small detail that may be dropped
    a = FT.augmented(raw, np.random.default_rng(3))
    b = FT.augmented(raw, np.random.default_rng(3))
    assert a.shape == (M.INPUT, M.INPUT)
    np.testing.assert_array_equal(a, b)
    assert (a < 0.5).any() and a.max() <= 1.0


def test_gallery_softmax_loss_is_small_when_the_target_is_the_nearest_row() -> None:
    g = F.normalize(torch.eye(4), dim=1)
    q = g[[2]] * 1.0
    good = FT.gallery_softmax_loss(q, g, torch.tensor([2]))
    bad = FT.gallery_softmax_loss(q, g, torch.tensor([0]))
    assert good.item() < 0.01 < bad.item()
    assert bad.item() == pytest.approx(10.0 + good.item(), abs=1e-3)  # logit gap 1/τ = 10


def test_training_the_tail_moves_sketches_to_their_photos_and_l2sp_holds_it_back(
        net: torch.nn.Module) -> None:
    """A user-visible effect: after a few steps on cached activations, the training sketches
    rank their own photograph first (none did with the frozen tail); a strong L2-SP pull
    keeps the weights at ImageNet's."""
    torch.manual_seed(0)
    n = 12
    g = torch.Generator().manual_seed(1)
    x = F.interpolate(torch.rand(n, 1, 8, 8, generator=g), size=M.INPUT, mode="bilinear")
    fixed, acts = FT.block_inputs(net, x.expand(-1, 3, -1, -1).contiguous())
    rows = FT.tail_rows(FT.SketchTail(net), fixed, acts)
    model = M.SketchModel(k_sem=8, k_fine=8, k_photo=4, k_shape=4).fit(rows, rows, rows)
    model.fit_shape(rows, rows + 0.3 * torch.randn_like(rows), d0=16).eval()
    # Sketch i's photograph is gallery row i, which looks like sketch i − 1 to the frozen tail.
    with torch.no_grad():
        photo_emb = model.photo(rows.roll(1, 0), rows.roll(1, 0))
    cls = torch.arange(n) // 3

    def acc1(tail: FT.SketchTail) -> float:
        with torch.no_grad():
            e = FT.cross_part(model.sketch(FT.tail_rows(tail, fixed, acts)), model)
        return float(((e @ FT.cross_part(photo_emb, model).T).argmax(1) == torch.arange(n)).float().mean())

    views = (fixed[:, None].half(), acts[:, None].half())
    kw = {"batch": n, "lr": 3e-3, "w_cat": 0.0, "log_every": 0}
    tail = FT.train_tail(net, model, *views, torch.arange(n), cls, photo_emb, cls, steps=40, l2sp=0.0, **kw)
    held = FT.train_tail(net, model, *views, torch.arange(n), cls, photo_emb, cls, steps=10, l2sp=1e4, **kw)
    assert acc1(FT.SketchTail(net)) == 0.0
    assert acc1(tail) >= 0.6
    assert tail.l2sp().item() > 100 * held.l2sp().item()


def _weights_with_tail(tmp_path: Path, net: torch.nn.Module, scale: float | None) -> Path:
    """The shipped model's buffers, with (``scale`` not None: the ImageNet tail, its head
    convolution multiplied by ``scale``) or without a sketch tail, as a weights file."""
    sd = {k: v for k, v in torch.load(embed.WEIGHTS, weights_only=True).items() if not k.startswith("tail.")}
    name = "plain.pt"
    if scale is not None:
        tail = FT.SketchTail(net)
        with torch.no_grad():
            tail.conv_head.weight.mul_(scale)
        sd.update({f"tail.{k}": v.half() for k, v in tail.tail_state().items()})
        name = f"tail{scale}.pt"
    torch.save(sd, tmp_path / name)
    return tmp_path / name


def test_weights_with_a_sketch_tail_change_sketches_only(tmp_path: Path, net: torch.nn.Module) -> None:
    """Search with v2.3 weights: an untrained tail embeds sketches as the frozen backbone
    does; a changed tail changes the sketches' embeddings and leaves the photos' alone (an
    index needs no new photo pass for a new sketch tail beyond the version check)."""
    rng = np.random.default_rng(0)
    grays = []
    for _ in range(3):
        g = np.ones((200, 200), np.float32)
        y, x, h = rng.integers(20, 120, 3)
        g[y : y + h // 2 + 20, x : x + 3] = 0.0
        g[y : y + 3, x : x + 60] = 0.0
        grays.append(g)
    photos = [rng.random((120, 160, 3)).astype(np.float32) for _ in range(2)]
    plain = _weights_with_tail(tmp_path, net, None)
    same = _weights_with_tail(tmp_path, net, 1.0)
    moved = _weights_with_tail(tmp_path, net, -1.0)
    a = embed.embed_sketches(grays, weights=plain)
    b = embed.embed_sketches(grays, weights=same)
    c = embed.embed_sketches(grays, weights=moved)
    assert embed.load_heads("cpu", same).tail is not None and embed.load_heads("cpu", plain).tail is None
    def cos(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    assert cos(a, b).min() > 0.999  # float16 tail weights, folded vs plain batch norms
    assert cos(a, c).max() < 0.99
    np.testing.assert_allclose(embed.embed_photos(photos, weights=plain),
                               embed.embed_photos(photos, weights=moved), atol=1e-6)
