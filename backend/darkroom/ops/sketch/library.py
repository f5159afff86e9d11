"""Indexing photo folders and searching them by sketch: the steps between files and the
embedding, shared by the daemon ops and the CLI.

* :func:`index_folders` — walk → plan (what changed) → for each batch of ``BATCH`` photos:
  decode at reduced size, edge map, embed, thumbnail → commit the batch. Corrupt files are
  listed with a reason and skipped; cancellation keeps every committed batch.
* :func:`refresh` — rows embedded by an older model (an index built before an update) are
  embedded again from their files, in committed batches with progress; search runs it first,
  so old and new embeddings are never compared.
* :func:`search_many` — many sketches → the ``k`` best photos each: the sketches go through
  the backbone in batches and are ranked by one matrix product (the model is loaded once).
  :func:`search` is the one-sketch case.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from darkroom.errors import DarkroomError, check_cancel
from darkroom.images import read_image, to_rgb_float
from darkroom.ops.sketch import index as ix
from darkroom.ops.sketch import model as M
from darkroom.ops.sketch.embed import WEIGHTS, embed_photos, embed_sketches, load_heads
from darkroom.ops.sketch.model import EMB_DIM, VERSION

BATCH = 32  #: photos per committed batch (and per backbone pass)
DECODE = 512  #: photos are decoded at about this size (longest side); edges need no more


_versions: dict[tuple[int, int], str] = {}


def model_version() -> str:
    """Identifies the model an embedding came from: the model version and a digest of the
    shipped weights (retrained weights are a new version too). The digest is cached per
    file size and mtime."""
    try:
        st = WEIGHTS.stat()
    except OSError:
        return f"{VERSION}:none"
    key = (st.st_size, st.st_mtime_ns)
    if key not in _versions:
        _versions[key] = hashlib.blake2b(WEIGHTS.read_bytes(), digest_size=8).hexdigest()
    return f"{VERSION}:{_versions[key]}"


model_digest = model_version  # the name before per-row versions


def load_photo(path: Path) -> tuple[np.ndarray, int, int]:
    """A photo file → (H×W×3 float32 sRGB, longest side ≤ about 2·DECODE, original w, h).

    JPEGs are decoded at a reduced scale by libjpeg's DCT scaling (Pillow ``draft``), which is
    what makes indexing fast on big camera files; EXIF rotation is applied. Other formats go
    through :func:`darkroom.images.read_image` (keeps 16-bit). Raises for unreadable files.
    """
    if path.suffix.lower() in (".jpg", ".jpeg"):
        from PIL import Image as PILImage
        from PIL import ImageOps

        with PILImage.open(path) as im:
            w, h = im.size
            im.draft("RGB", (DECODE, DECODE))
            im = ImageOps.exif_transpose(im.convert("RGB"))
            if im.size[0] < im.size[1] and w > h:  # rotated by EXIF: report displayed size
                w, h = h, w
            rgb = np.asarray(im, dtype=np.float32) / 255.0
        return rgb, w, h
    pix = read_image(path)
    h, w = pix.shape[:2]
    rgb = to_rgb_float(pix)
    s = 2 * DECODE / max(h, w)
    if s < 1:
        rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return rgb, w, h


def thumbnail(rgb: np.ndarray, side: int = ix.THUMB) -> bytes:
    """H×W×3 float sRGB → JPEG bytes, longest side ``side``."""
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", (np.clip(small[:, :, ::-1], 0, 1) * 255 + 0.5).astype(np.uint8),
                           [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes() if ok else b""


def index_folders(
    index_path: str | Path,
    folders: list[str],
    device: str,
    progress: Callable[[float, str], None],
    cancelled: Callable[[], bool],
) -> ix.Stats:
    """Bring the index at ``index_path`` up to date with ``folders`` (see :mod:`.index`)."""
    files = ix.walk_photos(folders)
    stats = ix.Stats()
    progress(0.0, f"found {len(files)} photos")
    model = model_version()
    with ix.connect(index_path, create=True) as con:
        old = dict(con.execute("SELECT path, model FROM photos").fetchall())
        todo = ix.plan(con, files, folders, model, stats)
        n_stale = sum(1 for f, _, _ in todo if old.get(str(f), model) != model)
        if n_stale:
            progress(0.0, f"re-embedding {n_stale} photos indexed by an older sketch model")
        for start in range(0, len(todo), BATCH):
            rows: list[ix.Row] = []
            pictures: list[np.ndarray] = []
            for f, st, old_hash in todo[start : start + BATCH]:
                check_cancel(cancelled)
                try:
                    digest = ix.file_hash(f)
                    if digest == old_hash:  # touched, same bytes: keep the embedding
                        ix.touch(con, str(f), st)
                        stats.unchanged += 1
                        continue
                    rgb, w, h = load_photo(f)
                    pictures.append(rgb)
                    rows.append(ix.Row(str(f), st.st_size, st.st_mtime_ns, digest, w, h,
                                       np.zeros(EMB_DIM, np.float32), thumbnail(rgb), model))
                except (OSError, ValueError, SyntaxError, DarkroomError, cv2.error) as e:
                    # PIL raises OSError/SyntaxError/ValueError for damaged files.
                    reason = e.message if isinstance(e, DarkroomError) else f"unreadable ({e})"
                    stats.skipped.append((str(f), reason))
            check_cancel(cancelled)
            if rows:
                for r, e in zip(rows, embed_photos(pictures, device), strict=True):
                    r.embedding = e
                ix.store(con, rows)
            for r in rows:
                if r.path not in old:
                    stats.added += 1
                elif old[r.path] != model:
                    stats.reembedded += 1
                else:
                    stats.updated += 1
            done = min(start + BATCH, len(todo))
            progress(done / max(1, len(todo)), f"indexed {done}/{len(todo)} photos")
    progress(1.0, "index up to date")
    return stats


def refresh(con: sqlite3.Connection, device: str, progress: Callable[[float, str], None],
            cancelled: Callable[[], bool]) -> ix.Stats:
    """Embed again, from their files, the rows of ``con`` that an older model embedded.

    Batches are committed as they finish (an interrupted refresh resumes where it stopped);
    files that have gone or cannot be read any more are dropped from the index and listed
    in ``skipped``."""
    model = model_version()
    stats = ix.Stats()
    todo = ix.stale(con, model)
    if not todo:
        return stats
    meta = {p: (s, m, h) for p, s, m, h in con.execute(
        "SELECT path, size, mtime_ns, hash FROM photos")}
    for start in range(0, len(todo), BATCH):
        rows: list[ix.Row] = []
        pictures: list[np.ndarray] = []
        gone: list[str] = []
        for p in todo[start : start + BATCH]:
            check_cancel(cancelled)
            try:
                f = Path(p)
                st = f.stat()
                digest = ix.file_hash(f) if st.st_size != meta[p][0] \
                    or st.st_mtime_ns != meta[p][1] else meta[p][2]
                rgb, w, h = load_photo(f)
                pictures.append(rgb)
                rows.append(ix.Row(p, st.st_size, st.st_mtime_ns, digest, w, h,
                                   np.zeros(EMB_DIM, np.float32), thumbnail(rgb), model))
            except (OSError, ValueError, SyntaxError, DarkroomError, cv2.error) as e:
                reason = e.message if isinstance(e, DarkroomError) else f"unreadable ({e})"
                stats.skipped.append((p, reason))
                gone.append(p)
        check_cancel(cancelled)
        if rows:
            for r, e in zip(rows, embed_photos(pictures, device), strict=True):
                r.embedding = e
            ix.store(con, rows)
            stats.reembedded += len(rows)
        if gone:
            ix.drop(con, gone)
            stats.removed += len(gone)
        done = min(start + BATCH, len(todo))
        progress(done / len(todo), f"re-embedded {done}/{len(todo)} photos for the new sketch model")
    return stats


def top_k_scores(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(Q, N) scores → (Q, k) indices and scores of the best rows, best first."""
    k = min(k, scores.shape[1])
    if k == 0:
        return np.zeros((len(scores), 0), np.int64), np.zeros((len(scores), 0), np.float32)
    idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part = np.take_along_axis(scores, idx, 1)
    order = np.argsort(-part, axis=1, kind="stable")
    return np.take_along_axis(idx, order, 1), np.take_along_axis(part, order, 1)


def search_many(index_path: str | Path, sketch_grays: list[np.ndarray], k: int, device: str,
                progress: Callable[[float, str], None] | None = None,
                cancelled: Callable[[], bool] | None = None,
                ) -> list[list[tuple[str, float, bytes]]]:
    """The ``k`` best photos for each gray sketch (H×W float32 [0, 1]):
    ``[[(path, cosine score, thumbnail JPEG bytes)]]``, best first, one list per sketch.

    Rows embedded by an older model are first embedded again (:func:`refresh`, with
    ``progress``). The sketches are embedded in backbone batches and ranked with two matrix
    products (:func:`darkroom.ops.sketch.model.rank_scores`: cross-domain score, then query
    expansion)."""
    prog = progress or (lambda f, s: None)
    canc = cancelled or (lambda: False)
    with ix.connect(index_path) as con:
        n_stale = len(ix.stale(con, model_version()))
        if n_stale:
            prog(0.0, f"re-embedding {n_stale} photos indexed by an older sketch model")
            refresh(con, device, prog, canc)
        paths, emb = ix.matrix(con, str(Path(index_path).resolve()), EMB_DIM, model_version())
        q = embed_sketches(sketch_grays, device)
        m, beta = load_heads(device).qe()
        idx, scores = top_k_scores(M.rank_scores(q, emb, qe_m=m, qe_beta=beta), k)
        hits = sorted({paths[i] for row in idx for i in row})
        thumbs: dict[str, bytes] = {}
        for start in range(0, len(hits), 500):  # SQLite's limit on bound parameters
            thumbs.update(ix.thumbnails(con, hits[start : start + 500]))
    return [[(paths[i], float(s), thumbs.get(paths[i], b"")) for i, s in zip(r, sc, strict=True)]
            for r, sc in zip(idx, scores, strict=True)]


def search(index_path: str | Path, sketch_gray: np.ndarray, k: int, device: str,
           progress: Callable[[float, str], None] | None = None,
           cancelled: Callable[[], bool] | None = None) -> list[tuple[str, float, bytes]]:
    """The ``k`` best photos for one gray sketch (see :func:`search_many`)."""
    return search_many(index_path, [sketch_gray], k, device, progress, cancelled)[0]
