"""Indexing photo folders and searching them by sketch: the steps between files and the
embedding, shared by the daemon ops and the CLI.

* :func:`index_folders` — walk → plan (what changed) → for each batch of ``BATCH`` photos:
  decode at reduced size, edge map, thumbnail (on a worker thread, one batch ahead) → embed
  (two batched backbone passes) → commit the batch. Corrupt files are listed with a reason
  and skipped; cancellation keeps every committed batch.
* :func:`refresh` — rows embedded by an older model (an index built before an update) are
  embedded again from their files, in committed batches with progress; search runs it first,
  so old and new embeddings are never compared.
* :func:`search_many` — many sketches → the ``k`` best photos each: the sketches go through
  the backbone in batches and are ranked by one matrix product (the model is loaded once).
  :func:`search` is the one-sketch case.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from darkroom.errors import DarkroomError, check_cancel
from darkroom.images import read_image, to_rgb_float
from darkroom.models.backbones import load_state_dict_file
from darkroom.ops.sketch import index as ix
from darkroom.ops.sketch import model as M
from darkroom.ops.sketch.embed import (
    WEIGHTS,
    embed_photo_inputs,
    embed_sketches,
    load_heads,
    photo_inputs,
)
from darkroom.ops.sketch.model import EMB_DIM

BATCH = 32  #: photos per committed batch (and per backbone pass)
DECODE = 256  #: JPEGs are decoded at the smallest DCT scale whose longest side is ≥ this
#: (the edge map works at 256 px, the photograph is seen at 192, the thumbnail is 128)
MAX_SIDE = 1024  #: other formats are reduced to this longest side after decoding


_versions: dict[tuple[str, int, int], str] = {}

#: Index rows written under these earlier labels hold exactly the photo embeddings of the
#: current version (key): the weights file changed for the sketch side only. They are
#: relabelled on open (:func:`_adopt`) instead of embedded again. (Empty since v2.4, whose
#: shape branch changed the photo side: v2.3's rows are embedded again.)
SAME_PHOTOS: dict[str, tuple[str, ...]] = {}


def model_version() -> str:
    """Identifies what a photo's embedding came from: :data:`~.model.PHOTO_VERSION` and a
    digest of the photo side of the shipped weights (:func:`~.model.photo_side_digest`), so a
    retrained photo side is a new version and a retrained sketch side (or new ranking
    settings) is not. Cached per file, size and mtime."""
    try:
        st = WEIGHTS.stat()
    except OSError:
        return f"{M.PHOTO_VERSION}:none"
    key = (str(WEIGHTS), st.st_size, st.st_mtime_ns)
    if key not in _versions:
        try:
            digest = M.photo_side_digest(load_state_dict_file(WEIGHTS))
        except Exception:  # unreadable weights: searching says so (load_heads); no row matches
            digest = "unreadable"
        _versions[key] = digest
    return f"{M.PHOTO_VERSION}:{_versions[key]}"


def _adopt(con: sqlite3.Connection, model: str) -> None:
    """Relabel the rows of ``con`` written under an earlier label of the same photo
    embeddings (:data:`SAME_PHOTOS`) as ``model``."""
    ix.relabel(con, SAME_PHOTOS.get(model, ()), model)


model_digest = model_version  # the name before per-row versions


def load_photo(path: Path) -> tuple[np.ndarray, int, int]:
    """A photo file → (H×W×3 float32 sRGB, reduced, original w, h).

    JPEGs are decoded at a reduced scale by libjpeg's DCT scaling (Pillow ``draft``: 1/2 to
    1/8, the smallest whose longest side is still ≥ ``DECODE``), which is what makes indexing
    fast on big camera files (a 2400 px JPEG decodes at 1/8, 300 px); EXIF rotation is
    applied. Other formats go through :func:`darkroom.images.read_image` (keeps 16-bit).
    Raises for unreadable files.
    """
    if path.suffix.lower() in (".jpg", ".jpeg"):
        from PIL import Image as PILImage
        from PIL import ImageOps

        with PILImage.open(path) as im:
            w, h = im.size
            m = max(w, h)  # draft keeps both sides ≥ the request: ask in proportion
            im.draft("RGB", (max(1, -(-w * DECODE // m)), max(1, -(-h * DECODE // m))))
            im = ImageOps.exif_transpose(im.convert("RGB"))
            if im.size[0] < im.size[1] and w > h:  # rotated by EXIF: report displayed size
                w, h = h, w
            rgb = np.asarray(im, dtype=np.float32) / 255.0
        return rgb, w, h
    pix = read_image(path)
    h, w = pix.shape[:2]
    rgb = to_rgb_float(pix)
    s = MAX_SIDE / max(h, w)
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


_ERRORS = (OSError, ValueError, SyntaxError, DarkroomError, cv2.error)  # PIL: OSError/SyntaxError/ValueError


def _reason(e: BaseException) -> str:
    return e.message if isinstance(e, DarkroomError) else f"unreadable ({e})"


@dataclass
class _Prepared:
    """A photo read and preprocessed off the main thread: its row (embedding still zero) and
    the two backbone inputs; or ``same`` (touched, same bytes); or ``error`` (a reason)."""

    row: ix.Row | None = None
    square: np.ndarray | None = None
    edges: np.ndarray | None = None
    same: bool = False
    error: str = ""


def _prepare(f: Path, size: int, mtime_ns: int, digest: str | None, old_hash: str | None,
             model: str) -> _Prepared:
    """Hash (unless ``digest`` is known), decode, edge map, squared photo and thumbnail of one
    file; never raises for a damaged file (``error``)."""
    try:
        if digest is None:
            digest = ix.file_hash(f)
            if digest == old_hash:
                return _Prepared(same=True)
        rgb, w, h = load_photo(f)
        square, edges = photo_inputs(rgb)
        row = ix.Row(str(f), size, mtime_ns, digest, w, h, np.zeros(EMB_DIM, np.float32),
                     thumbnail(rgb), model)
        return _Prepared(row, square, edges)
    except _ERRORS as e:
        return _Prepared(error=_reason(e))


def _pipelined(jobs: list[Callable[[], _Prepared]], cancelled: Callable[[], bool]
               ) -> Iterator[tuple[int, list[_Prepared]]]:
    """Run ``jobs`` in ``BATCH``-sized batches on one worker thread, the next batch's files
    read while the caller embeds the current one (decoding and edge maps release the GIL, so
    on two cores they overlap the backbone pass): yields ``(start, results)`` in order.
    Cancellation is checked per photo; pending reads are dropped."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sketch-read")
    try:
        submit = lambda a: [pool.submit(j) for j in jobs[a : a + BATCH]]  # noqa: E731
        nxt = submit(0)
        for start in range(0, len(jobs), BATCH):
            cur, nxt = nxt, submit(start + BATCH)
            out = []
            for fut in cur:
                check_cancel(cancelled)
                out.append(fut.result())
            check_cancel(cancelled)
            yield start, out
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _embed(prepared: list[_Prepared], device: str) -> list[ix.Row]:
    """Fill in the embeddings of the prepared rows (one batched pass); the rows."""
    ok = [p for p in prepared if p.row is not None]
    if ok:
        embs = embed_photo_inputs([p.square for p in ok], [p.edges for p in ok], device)  # type: ignore[misc]
        for p, e in zip(ok, embs, strict=True):
            p.row.embedding = e  # type: ignore[union-attr]
    return [p.row for p in ok]  # type: ignore[misc]


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
        _adopt(con, model)
        old = dict(con.execute("SELECT path, model FROM photos").fetchall())
        todo = ix.plan(con, files, folders, model, stats)
        n_stale = sum(1 for f, _, _ in todo if old.get(str(f), model) != model)
        if n_stale:
            progress(0.0, f"re-embedding {n_stale} photos indexed by an older sketch model")
        jobs = [partial(_prepare, f, st.st_size, st.st_mtime_ns, None, old_hash, model)
                for f, st, old_hash in todo]
        for start, prepared in _pipelined(jobs, cancelled):
            for (f, st, _), p in zip(todo[start : start + BATCH], prepared, strict=True):
                if p.same:  # touched, same bytes: keep the embedding
                    ix.touch(con, str(f), st)
                    stats.unchanged += 1
                elif p.error:
                    stats.skipped.append((str(f), p.error))
            rows = _embed(prepared, device)
            if rows:
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


def _prepare_stale(p: str, meta: tuple[int, int, str], model: str) -> _Prepared:
    try:
        f = Path(p)
        st = f.stat()
        same = st.st_size == meta[0] and st.st_mtime_ns == meta[1]
    except _ERRORS as e:
        return _Prepared(error=_reason(e))
    return _prepare(f, st.st_size, st.st_mtime_ns, meta[2] if same else None, None, model)


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
    jobs = [partial(_prepare_stale, p, meta[p], model) for p in todo]
    for start, prepared in _pipelined(jobs, cancelled):
        gone = [p for p, r in zip(todo[start : start + BATCH], prepared, strict=True) if r.error]
        stats.skipped += [(p, r.error) for p, r in zip(todo[start : start + BATCH], prepared,
                                                       strict=True) if r.error]
        rows = _embed(prepared, device)
        if rows:
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
    products (:func:`darkroom.ops.sketch.model.rank_scores`: cross-domain score, query
    expansion, shape re-ranking of the short list)."""
    prog = progress or (lambda f, s: None)
    canc = cancelled or (lambda: False)
    model = model_version()
    with ix.connect(index_path) as con:
        _adopt(con, model)
        n_stale = len(ix.stale(con, model))
        if n_stale:
            prog(0.0, f"re-embedding {n_stale} photos indexed by an older sketch model")
            refresh(con, device, prog, canc)
        paths, emb = ix.matrix(con, str(Path(index_path).resolve()), EMB_DIM, model)
        q = embed_sketches(sketch_grays, device)
        idx, scores = top_k_scores(M.rank_scores(q, emb, **load_heads(device).rank_params()), k)
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
