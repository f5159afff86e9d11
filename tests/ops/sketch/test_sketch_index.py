"""The photo index and the ops on it: incremental runs, interruption, corrupt files, search,
bad input, and the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

from darkroom.cli import main
from darkroom.errors import Cancelled, InvalidInput, InvalidParameter, NotFound
from darkroom.images import write_image
from darkroom.ops import registry
from darkroom.ops.registry import Image
from darkroom.ops.sketch import embed, library
from darkroom.ops.sketch import model as M

pytestmark = pytest.mark.slow


def _shape_photo(kind: str, size: tuple[int, int] = (240, 320)) -> np.ndarray:
    """A photo-like picture: a coloured object on a textured background."""
    h, w = size
    rng = np.random.default_rng(len(kind))
    img = np.clip(rng.normal(90, 8, (h, w, 3)), 0, 255).astype(np.uint8)
    c = (40, 180, 230)
    if kind == "circle":
        cv2.circle(img, (w // 2, h // 2), 80, c, -1)
    elif kind == "bar":
        cv2.rectangle(img, (30, h // 2 - 20), (w - 30, h // 2 + 20), c, -1)
    elif kind == "tower":
        cv2.rectangle(img, (w // 2 - 25, 20), (w // 2 + 25, h - 20), c, -1)
    elif kind == "triangle":
        pts = np.array([[w // 2, 20], [40, h - 20], [w - 40, h - 20]], np.int32)
        cv2.fillPoly(img, [pts], c)
    return img


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    write_image(d / "circle.jpg", _shape_photo("circle"))
    write_image(d / "bar.png", _shape_photo("bar"))
    write_image(d / "sub" / "tower.png", _shape_photo("tower").astype(np.uint16) * 257)  # 16-bit
    write_image(d / "triangle.webp", _shape_photo("triangle"))
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (d / "notes.txt").write_text("not a photo")
    return d


def _sketch(kind: str) -> Image:
    px = np.full((300, 300, 3), 255, np.uint8)
    if kind == "circle":
        cv2.circle(px, (150, 150), 100, (0, 0, 0), 3)
    else:
        cv2.rectangle(px, (20, 130), (280, 170), (0, 0, 0), 3)
    return Image(px, role="sketch", name=f"{kind}.png")


def _index(photos: Path, idx: Path, **kw) -> dict:  # type: ignore[no-untyped-def]
    return registry.run("sketch.index", [], {"folders": [str(photos)], "index": str(idx)}, **kw).meta


def _rows(idx: Path) -> list[str]:
    with sqlite3.connect(idx) as con:
        return sorted(Path(p).name for (p,) in con.execute("SELECT path FROM photos"))


def test_index_is_incremental_and_lists_corrupt_files(photos: Path, tmp_path: Path) -> None:
    idx = tmp_path / "i.sqlite"
    m = _index(photos, idx)
    assert (m["added"], m["updated"], m["removed"], m["skipped"]) == (4, 0, 0, 1)
    assert m["skipped_files"][0]["path"].endswith("broken.jpg")
    assert _rows(idx) == ["bar.png", "circle.jpg", "tower.png", "triangle.webp"]
    with sqlite3.connect(idx) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        w, h, emb, thumb = con.execute(
            "SELECT width, height, embedding, thumb FROM photos WHERE path LIKE '%circle.jpg'"
        ).fetchone()
    assert (w, h) == (320, 240) and len(emb) == 2 * M.EMB_DIM
    t = cv2.imdecode(np.frombuffer(thumb, np.uint8), cv2.IMREAD_COLOR)
    assert max(t.shape[:2]) == 128

    m = _index(photos, idx)  # nothing changed: nothing is read again
    assert (m["added"], m["updated"], m["removed"], m["unchanged"]) == (0, 0, 0, 4)

    write_image(photos / "bar.png", _shape_photo("circle"))  # changed content
    (photos / "triangle.webp").unlink()
    m = _index(photos, idx)
    assert (m["added"], m["updated"], m["removed"], m["unchanged"]) == (0, 1, 1, 2)
    assert _rows(idx) == ["bar.png", "circle.jpg", "tower.png"]


def test_interrupted_indexing_leaves_a_usable_index_and_resumes(
    photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = tmp_path / "i.sqlite"
    monkeypatch.setattr(library, "BATCH", 2)
    calls = {"n": 0}

    def cancel_after_first_batch() -> bool:
        calls["n"] += 1
        return calls["n"] > 3  # 2 per-file checks + 1 before committing batch one

    with pytest.raises(Cancelled):
        _index(photos, idx, cancelled=cancel_after_first_batch)
    # The first batch (bar.png and the corrupt broken.jpg) was committed whole.
    assert _rows(idx) == ["bar.png"]
    res = registry.run("sketch.search", [_sketch("circle")], {"index": str(idx), "k": 5,
                                                              "return_images": False})
    assert len(res.meta["matches"]) == 1  # usable while half built
    m = _index(photos, idx)
    assert (m["added"], m["unchanged"], m["skipped"]) == (3, 1, 1)
    assert len(_rows(idx)) == 4


def test_search_returns_ranked_photos_as_layers(photos: Path, tmp_path: Path) -> None:
    idx = tmp_path / "i.sqlite"
    _index(photos, idx)
    res = registry.run("sketch.search", [_sketch("circle")], {"index": str(idx), "k": 3, "size": 200})
    assert len(res.images) == 3 and len(res.meta["matches"]) == 3
    scores = [m["score"] for m in res.meta["matches"]]
    assert scores == sorted(scores, reverse=True)
    im = res.images[0]
    assert im.role == "match" and im.pixels.dtype == np.uint8 and im.pixels.shape[2] == 3
    assert max(im.pixels.shape[:2]) == 200
    assert im.meta["path"] == res.meta["matches"][0]["path"] and im.name == Path(im.meta["path"]).name
    # A round sketch finds the round object among bars, towers and triangles.
    assert res.meta["matches"][0]["path"].endswith("circle.jpg")


def test_search_sees_photos_added_after_the_cache_was_filled(photos: Path, tmp_path: Path) -> None:
    idx = tmp_path / "i.sqlite"
    _index(photos, idx)
    p = {"index": str(idx), "k": 50, "return_images": False}
    assert len(registry.run("sketch.search", [_sketch("bar")], p).meta["matches"]) == 4
    write_image(photos / "sub" / "circle2.png", _shape_photo("circle", (200, 200)))
    _index(photos, idx)
    assert len(registry.run("sketch.search", [_sketch("bar")], p).meta["matches"]) == 5


def test_bad_input_gets_sentences(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no-such-folder"):
        registry.run("sketch.index", [], {"folders": [str(photos), str(tmp_path / "no-such-folder")],
                                          "index": str(tmp_path / "i.sqlite")})
    with pytest.raises(NotFound, match="no sketch index"):
        registry.run("sketch.search", [_sketch("circle")], {"index": str(tmp_path / "none.sqlite")})
    blank = Image(np.full((100, 100, 3), 250, np.uint8), role="sketch", name="Layer 2")
    with pytest.raises(InvalidInput, match="'Layer 2' is blank"):
        registry.run("sketch.search", [blank], {"index": str(tmp_path / "none.sqlite")})
    with pytest.raises(InvalidParameter, match="'k'"):
        registry.run("sketch.search", [_sketch("circle")], {"k": 0})
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(InvalidInput, match="junk.sqlite"):
        registry.run("sketch.search", [_sketch("circle")], {"index": str(junk)})


def test_cli_index_then_search_json(photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    idx = tmp_path / "i.sqlite"
    sk = tmp_path / "drawn.png"
    write_image(sk, _sketch("circle").pixels)
    assert main(["sketch", "index", str(photos), "--index", str(idx), "--device", "cpu"]) == 0
    out = capsys.readouterr()
    assert "4 added" in out.out and "broken.jpg" in out.err
    assert main(["sketch", "search", str(sk), "-k", "2", "--json", "--index", str(idx)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res[0]["sketch"] == str(sk) and len(res[0]["matches"]) == 2
    assert main(["sketch", "index", str(tmp_path / "gone"), "--index", str(idx)]) == 1
    assert "does not exist" in capsys.readouterr().err


def _models(idx: Path) -> list[str]:
    with sqlite3.connect(idx) as con:
        return [m for (m,) in con.execute("SELECT model FROM photos ORDER BY path")]


def test_an_index_of_an_older_model_is_re_embedded_before_search(photos: Path, tmp_path: Path) -> None:
    idx = tmp_path / "i.sqlite"
    _index(photos, idx)
    current = library.model_version()
    assert _models(idx) == [current] * 4
    p = {"index": str(idx), "k": 4, "return_images": False}
    fresh = registry.run("sketch.search", [_sketch("circle")], p).meta["matches"]
    # Pretend an older model wrote the rows: another version, another embedding size.
    with sqlite3.connect(idx) as con:
        con.execute("UPDATE photos SET model = 'sketch-v1:0123', embedding = zeroblob(256)")
        con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    stages: list[str] = []
    res = registry.run("sketch.search", [_sketch("circle")], p,
                       progress=lambda f, s, *a: stages.append(s))
    assert any("re-embedding 4 photos" in s for s in stages)
    assert any("re-embedded 4/4" in s for s in stages)
    assert _models(idx) == [current] * 4
    assert res.meta["matches"] == fresh  # same ranking as a freshly built index
    # The index op reports such rows as re-embedded, not as added.
    with sqlite3.connect(idx) as con:
        con.execute("UPDATE photos SET model = 'old'")
    m = _index(photos, idx)
    assert (m["reembedded"], m["added"], m["unchanged"]) == (4, 0, 0)


def test_new_sketch_side_or_ranking_weights_re_embed_no_photo(
        photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user who updates to weights whose photo side is the same keeps the index as it is:
    retraining the sketch tail or the ranking settings costs no re-index; a retrained photo
    side does re-embed."""
    import torch

    idx = tmp_path / "i.sqlite"
    _index(photos, idx)
    sd = torch.load(embed.WEIGHTS, weights_only=True)
    same = {k: v.clone() for k, v in sd.items()}
    same["fz_w"] = torch.tensor(3.0)
    tail = next(k for k in same if k.startswith("tail.") and same[k].is_floating_point())
    same[tail] = same[tail] + 0.01
    changed = {k: v.clone() for k, v in sd.items()}
    changed["sem_pca_mean"] = changed["sem_pca_mean"] + 0.01
    assert M.photo_side_digest(same) == M.photo_side_digest(sd)
    assert M.photo_side_digest(changed) != M.photo_side_digest(sd)
    for name, state, stale in (("same.pt", same, 0), ("changed.pt", changed, 4)):
        w = tmp_path / name
        torch.save(state, w)
        monkeypatch.setattr(library, "WEIGHTS", w)
        with library.ix.connect(idx) as con:
            assert len(library.ix.stale(con, library.model_version())) == stale, name


def test_an_index_labelled_by_an_earlier_version_of_the_same_photo_side_is_kept(
        photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    idx = tmp_path / "i.sqlite"
    _index(photos, idx)
    current = library.model_version()
    p = {"index": str(idx), "k": 4, "return_images": False}
    fresh = registry.run("sketch.search", [_sketch("circle")], p).meta["matches"]
    aliases = ("sketch-v2.3:61ba06a9f27d58ed",)  # a whole-file label, as v2.3 wrote them
    monkeypatch.setitem(library.SAME_PHOTOS, current, aliases)
    with sqlite3.connect(idx) as con:
        con.execute("UPDATE photos SET model = ?", (aliases[0],))
    stages: list[str] = []
    res = registry.run("sketch.search", [_sketch("circle")], p,
                       progress=lambda f, s, *a: stages.append(s))
    assert not any("re-embedding" in s for s in stages)
    assert res.meta["matches"] == fresh
    assert _models(idx) == [current] * 4
    with sqlite3.connect(idx) as con:
        con.execute("UPDATE photos SET model = ?", (aliases[0],))
    m = _index(photos, idx)
    assert (m["reembedded"], m["added"], m["unchanged"]) == (0, 0, 4)


def test_an_index_from_before_per_row_versions_gets_the_column_and_is_re_embedded(
        photos: Path, tmp_path: Path) -> None:
    idx = tmp_path / "old.sqlite"
    with sqlite3.connect(idx) as con:  # the version-1 schema, 128-d embeddings
        con.executescript("""
            CREATE TABLE photos (path TEXT PRIMARY KEY, size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL, width INTEGER NOT NULL,
                height INTEGER NOT NULL, embedding BLOB NOT NULL, thumb BLOB NOT NULL);
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('model', 'abcdef'), ('generation', '3');""")
        for f in sorted(photos.rglob("*")):
            if f.suffix in (".png", ".webp") or f.name == "circle.jpg":
                st = f.stat()
                con.execute("INSERT INTO photos VALUES (?, ?, ?, 'x', 1, 1, zeroblob(256), x'')",
                            (str(f.resolve()), st.st_size, st.st_mtime_ns))
    (photos / "triangle.webp").unlink()  # gone since: dropped, with a reason
    res = registry.run("sketch.search", [_sketch("circle")], {"index": str(idx), "k": 5,
                                                              "return_images": False})
    assert len(res.meta["matches"]) == 3
    assert res.meta["matches"][0]["path"].endswith("circle.jpg")
    assert _models(idx) == [library.model_version()] * 3


def test_batch_search_embeds_all_sketches_in_one_backbone_pass(
        photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    idx = tmp_path / "i.sqlite"
    _index(photos, idx)
    calls: list[int] = []
    real = embed.sketch_features  # the sketches' backbone pass (to block14, then their tail)

    def counting(images, emb, device="cpu"):  # type: ignore[no-untyped-def]
        calls.append(len(images))
        return real(images, emb, device)

    monkeypatch.setattr(embed, "sketch_features", counting)
    sketches = [_sketch("circle"), _sketch("bar"), _sketch("circle")]
    res = registry.run("sketch.search", sketches, {"index": str(idx), "k": 3, "return_images": False})
    assert calls == [3]  # one call, one backbone batch, for all three
    per = res.meta["results"]
    assert [r["sketch"] for r in per] == ["circle.png", "bar.png", "circle.png"]
    assert res.meta["matches"] == per[0]["matches"] and per[0] == per[2]
    for sk, r in zip(sketches, per, strict=True):
        one = registry.run("sketch.search", [sk], {"index": str(idx), "k": 3, "return_images": False})
        assert [m["path"] for m in one.meta["matches"]] == [m["path"] for m in r["matches"]]
    with_images = registry.run("sketch.search", sketches[:2], {"index": str(idx), "k": 2, "size": 64})
    assert [im.meta["sketch"] for im in with_images.images] == [0, 0, 1, 1]


def test_cli_searches_many_sketches_in_one_request(photos: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    idx = tmp_path / "i.sqlite"
    _index(photos, idx)
    files = []
    for kind in ("circle", "bar"):
        files.append(tmp_path / f"{kind}.png")
        write_image(files[-1], _sketch(kind).pixels)
    assert main(["sketch", "search", *map(str, files), "-k", "1", "--json", "--index", str(idx)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [r["sketch"] for r in res] == [str(f) for f in files]
    assert all(len(r["matches"]) == 1 for r in res)
