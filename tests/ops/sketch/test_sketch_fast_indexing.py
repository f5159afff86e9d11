"""Indexing speed-ups that must not change what is computed: the folded backbone, the reduced
JPEG decode, and reading the next batch on a worker thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from darkroom.errors import Cancelled
from darkroom.ops.sketch import embed, library
from darkroom.ops.sketch import model as M
from darkroom.ops.sketch.fastnet import fast_backbone


@pytest.mark.parametrize("side", [192, 191, 100])
def test_folded_backbone_computes_the_same_taps(side: int) -> None:
    net = embed._backbone("cpu")
    fast = fast_backbone(net, "cpu")
    x = torch.rand(3, 3, side, side, generator=torch.Generator().manual_seed(side))
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        ref = net.features(x, M.LAYERS2)
        got = fast.features(x, M.LAYERS2)
        assert set(fast.features(x, M.LAYERS)) == set(M.LAYERS)  # stops before the head
    for k in M.LAYERS2:
        assert got[k].shape == ref[k].shape
        torch.testing.assert_close(got[k], ref[k], atol=1e-3, rtol=1e-4)
    # The shared backbone (style transfer trains through it) is left as it was.
    assert net._bn0.running_var.abs().sum() > 0 and net._conv_stem.bias is None


def test_fast_and_exact_features_agree_and_edge_rows_skip_the_head() -> None:
    rng = np.random.default_rng(0)
    imgs = [rng.random((M.INPUT, M.INPUT)).astype(np.float32) for _ in range(3)]
    exact = embed.features(imgs, exact=True)
    fast = embed.features(imgs)
    torch.testing.assert_close(fast, exact, atol=1e-3, rtol=1e-4)
    edge = embed.features(imgs, head=False)
    torch.testing.assert_close(edge[:, :M.SPATIAL], exact[:, :M.SPATIAL], atol=1e-3, rtol=1e-4)
    assert not edge[:, M.SPATIAL:].any()


def test_photo_inputs_embedding_equals_embed_photos() -> None:
    rng = np.random.default_rng(1)
    rgbs = [rng.random((120, 170, 3)).astype(np.float32) for _ in range(2)]
    pairs = [embed.photo_inputs(r) for r in rgbs]
    a = embed.embed_photos(rgbs)
    b = embed.embed_photo_inputs([p for p, _ in pairs], [e for _, e in pairs])
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("size", [(2400, 1600), (1600, 2400), (1000, 300), (200, 150)])
def test_big_jpegs_are_decoded_at_the_smallest_dct_scale_that_keeps_256_px(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    p = tmp_path / "p.jpg"
    PILImage.new("RGB", size, (90, 120, 200)).save(p, quality=90)
    rgb, w, h = library.load_photo(p)
    assert (w, h) == size
    longest = max(rgb.shape[:2])
    assert longest >= min(library.DECODE, max(size))
    assert longest < 2 * library.DECODE or max(size) == longest  # not a larger scale than needed
    assert rgb.shape[1] >= rgb.shape[0] if size[0] >= size[1] else rgb.shape[1] < rgb.shape[0]


def _folder(tmp_path: Path, n: int) -> Path:
    d = tmp_path / "photos"
    d.mkdir()
    rng = np.random.default_rng(2)
    for i in range(n):
        a = (rng.random((90, 120, 3)) * 255).astype(np.uint8)
        a[20:70, 30 + i * 5 : 80 + i * 5] = (40, 180, 230)
        PILImage.fromarray(a).save(d / f"{i}.jpg", quality=90)
    return d


def test_pipelined_indexing_stores_what_embed_photos_computes(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    d = _folder(tmp_path, 5)
    monkeypatch.setattr(library, "BATCH", 2)  # three batches: the worker reads ahead
    idx = tmp_path / "i.sqlite"
    st = library.index_folders(idx, [str(d)], "cpu", lambda f, s: None, lambda: False)
    assert st.added == 5 and not st.skipped
    from darkroom.ops.sketch import index as ix
    with ix.connect(idx) as con:
        got = {Path(p).name: np.frombuffer(e, "<f2").astype(np.float32)
               for p, e in con.execute("SELECT path, embedding FROM photos")}
    files = sorted(d.glob("*.jpg"))
    want = embed.embed_photos([library.load_photo(f)[0] for f in files])
    for f, w in zip(files, want, strict=True):
        np.testing.assert_allclose(got[f.name], w, atol=2e-3)


def test_cancel_while_the_worker_reads_ahead_keeps_committed_batches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _folder(tmp_path, 5)
    monkeypatch.setattr(library, "BATCH", 2)
    idx = tmp_path / "i.sqlite"
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 3  # 2 per-photo checks + 1 before committing batch one

    with pytest.raises(Cancelled):
        library.index_folders(idx, [str(d)], "cpu", lambda f, s: None, cancelled)
    from darkroom.ops.sketch import index as ix
    with ix.connect(idx) as con:
        assert con.execute("SELECT COUNT(*) FROM photos").fetchone()[0] == 2
    st = library.index_folders(idx, [str(d)], "cpu", lambda f, s: None, lambda: False)
    assert st.added == 3


# ---- shape re-ranking of the short list --------------------------------------------------------

def test_shape_rerank_reorders_only_the_top_k_and_keeps_their_scores() -> None:
    rng = np.random.default_rng(3)
    q = rng.normal(size=(4, M.EMB_DIM)).astype(np.float32)
    q[:, M.K_SEM + M.K_FINE:] = 0  # k_shape = 0 (the default): re-ranking by the fine part
    g = rng.normal(size=(40, M.EMB_DIM)).astype(np.float32)
    base = M.rank_scores(q, g, qe_m=5, qe_beta=0.5)
    rr = M.rank_scores(q, g, qe_m=5, qe_beta=0.5, rerank_k=10, rerank_gamma=100.0)
    fine = slice(M.K_SEM, M.K_SEM + M.K_FINE)
    for i in range(len(q)):
        top = set(np.argsort(-base[i])[:10])
        assert set(np.argsort(-rr[i])[:10]) == top  # same short list: p@10, acc@10 unchanged
        np.testing.assert_allclose(np.sort(rr[i])[-10:], np.sort(base[i])[-10:])
        rest = [j for j in range(40) if j not in top]
        np.testing.assert_array_equal(rr[i, rest], base[i, rest])
        # With a large weight the short list is in the order of the shape score.
        order = np.argsort(-rr[i])[:10]
        f = g[order][:, fine] @ q[i, fine]
        assert np.all(np.diff(f) <= 1e-5)
    off = M.rank_scores(q, g, qe_m=5, qe_beta=0.5, rerank_k=10, rerank_gamma=0.0)
    np.testing.assert_array_equal(off, base)
    assert M.rank_scores(q, g[:1], rerank_k=10, rerank_gamma=1.0).shape == (4, 1)


def test_shape_rerank_with_the_learned_shape_part_uses_it_and_keeps_it_out_of_the_score() -> None:
    rng = np.random.default_rng(5)
    q = rng.normal(size=(3, M.EMB_DIM)).astype(np.float32)
    q[:, -M.K_PHOTO:] = 0
    g = rng.normal(size=(30, M.EMB_DIM)).astype(np.float32)
    n = M.K_SEM + M.K_FINE
    shape = slice(n, n + M.K_SHAPE)
    base = M.rank_scores(q, g, qe_m=0, k_shape=M.K_SHAPE)
    np.testing.assert_allclose(base, q[:, :n] @ g[:, :n].T, rtol=1e-5, atol=1e-5)
    rr = M.rank_scores(q, g, qe_m=0, k_shape=M.K_SHAPE, rerank_k=10, rerank_gamma=100.0)
    for i in range(len(q)):
        assert set(np.argsort(-rr[i])[:10]) == set(np.argsort(-base[i])[:10])
        order = np.argsort(-rr[i])[:10]
        assert np.all(np.diff(g[order][:, shape] @ q[i, shape]) <= 1e-5)
    assert embed.load_heads("cpu").rank_params()["k_shape"] == M.K_SHAPE


def _expansion_buries_the_instance() -> tuple[np.ndarray, np.ndarray]:
    """One sketch and a gallery where photo 0 (the drawn one) is the best plain match, while
    photos 1–20 share one photo-only descriptor with photos 1–4, the plain list's next best —
    so the query expansion lifts photos 5–20 (the drawn kind) above photo 0."""
    rng = np.random.default_rng(7)
    n_cross = M.K_SEM + M.K_FINE
    g = np.zeros((60, M.EMB_DIM), np.float32)
    g[:, :n_cross] = rng.normal(size=(60, n_cross)) * 0.02
    q = np.zeros((1, M.EMB_DIM), np.float32)
    q[0, 0] = 1.0
    g[0, 0] = 0.9  # the drawn photo: best plain score
    g[1:5, 0] = 0.8  # its kind, drawn less alike
    g[5:21, 0] = 0.4  # more of its kind
    kind = rng.normal(size=M.K_PHOTO)
    g[1:21, -M.K_PHOTO:] = kind / np.linalg.norm(kind)
    other = rng.normal(size=M.K_PHOTO)
    g[0, -M.K_PHOTO:] = other / np.linalg.norm(other)
    return q, g


def test_rank_fusion_brings_the_plain_best_match_back_into_the_first_results() -> None:
    q, g = _expansion_buries_the_instance()
    plain = M.rank_scores(q, g, qe_m=0)
    assert int(np.argmax(plain[0])) == 0
    expanded = M.rank_scores(q, g, qe_m=5, qe_beta=2.0)
    assert list(np.argsort(-expanded[0])).index(0) >= 10  # buried by its own kind
    fused = M.rank_scores(q, g, qe_m=5, qe_beta=2.0, fuse_k=30, fuse_k0=5.0, fuse_w=1.0)
    order = np.argsort(-fused[0])
    assert list(order).index(0) < 5
    # The window keeps its set and its scores; what lies outside it is untouched.
    top = set(np.argsort(-expanded[0])[:30])
    assert set(order[:30]) == top
    np.testing.assert_allclose(np.sort(fused[0])[-30:], np.sort(expanded[0])[-30:])
    rest = [j for j in range(len(g)) if j not in top]
    np.testing.assert_array_equal(fused[0, rest], expanded[0, rest])
    # Still mostly its kind in the first ten (the expansion's gain is kept).
    assert sum(1 <= j <= 20 for j in order[:10]) >= 8
    off = M.rank_scores(q, g, qe_m=5, qe_beta=2.0, fuse_k=30, fuse_k0=5.0, fuse_w=0.0)
    np.testing.assert_array_equal(off, expanded)
    assert M.rank_scores(q, g[:1], qe_m=5, qe_beta=2.0, fuse_k=30, fuse_w=1.0).shape == (1, 1)


def test_weights_without_the_rerank_buffers_still_load(tmp_path: Path) -> None:
    sd = torch.load(embed.WEIGHTS, weights_only=True)
    for k in ("rr_k", "rr_gamma", "fz_k", "fz_k0", "fz_w"):
        sd.pop(k, None)
    p = tmp_path / "old.pt"
    torch.save(sd, p)
    m = embed.load_heads("cpu", p)
    assert m.rank_params()["rerank_k"] == 0
    assert m.rank_params()["fuse_w"] == 0
    assert embed.load_heads("cpu").rank_params()["qe_m"] == m.rank_params()["qe_m"]


@pytest.mark.skipif(not embed._bf16_native(), reason="this CPU has no native bfloat16")
def test_opt_in_bf16_embeddings_stay_close_to_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    rgbs = [(rng.random((130, 170, 3)) * 0.3 + np.linspace(0, 0.6, 170)[None, :, None]).astype(np.float32)
            for _ in range(3)]
    monkeypatch.setattr(embed, "BF16", False)
    a = embed.embed_photos(rgbs)
    monkeypatch.setattr(embed, "BF16", True)
    b = embed.embed_photos(rgbs)
    assert b.dtype == np.float32
    assert np.all((a * b).sum(1) / 2 > 0.98)
