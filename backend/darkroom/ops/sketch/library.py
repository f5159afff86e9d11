"""Indexing photo folders and searching them by sketch: the steps between files and the
embedding, shared by the daemon ops and the CLI.

* :func:`index_folders` — walk → plan (what changed) → for each batch of ``BATCH`` photos:
  decode at reduced size, edge map, embed, thumbnail → commit the batch. Corrupt files are
  listed with a reason and skipped; cancellation keeps every committed batch.
* :func:`search` — one sketch → the ``k`` best photos with their cosine scores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from darkroom.errors import DarkroomError, check_cancel
from darkroom.images import read_image, to_rgb_float
from darkroom.ops.sketch import index as ix
from darkroom.ops.sketch.embed import WEIGHTS, embed_drawings, embed_sketches, photo_drawing
from darkroom.ops.sketch.model import DIM

BATCH = 32  #: photos per committed batch (and per backbone pass)
DECODE = 512  #: photos are decoded at about this size (longest side); edges need no more


def model_digest() -> str:
    """Identifies the heads the index's embeddings came from."""
    return hashlib.blake2b(WEIGHTS.read_bytes(), digest_size=8).hexdigest() if WEIGHTS.is_file() else "none"


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
    with ix.connect(index_path, create=True) as con:
        todo = ix.plan(con, files, folders, model_digest(), stats)
        known = {p for (p,) in con.execute("SELECT path FROM photos")}
        for start in range(0, len(todo), BATCH):
            rows: list[ix.Row] = []
            drawings: list[np.ndarray] = []
            for f, st, old_hash in todo[start : start + BATCH]:
                check_cancel(cancelled)
                try:
                    digest = ix.file_hash(f)
                    if digest == old_hash:  # touched, same bytes: keep the embedding
                        ix.touch(con, str(f), st)
                        stats.unchanged += 1
                        continue
                    rgb, w, h = load_photo(f)
                    drawings.append(photo_drawing(rgb))
                    rows.append(ix.Row(str(f), st.st_size, st.st_mtime_ns, digest, w, h,
                                       np.zeros(DIM, np.float32), thumbnail(rgb)))
                except (OSError, ValueError, SyntaxError, DarkroomError, cv2.error) as e:
                    # PIL raises OSError/SyntaxError/ValueError for damaged files.
                    reason = e.message if isinstance(e, DarkroomError) else f"unreadable ({e})"
                    stats.skipped.append((str(f), reason))
            check_cancel(cancelled)
            if rows:
                for r, e in zip(rows, embed_drawings(drawings, "photo", device), strict=True):
                    r.embedding = e
                ix.store(con, rows)
            for r in rows:
                if r.path in known:
                    stats.updated += 1
                else:
                    stats.added += 1
            done = min(start + BATCH, len(todo))
            progress(done / max(1, len(todo)), f"indexed {done}/{len(todo)} photos")
    progress(1.0, "index up to date")
    return stats


def search(index_path: str | Path, sketch_gray: np.ndarray, k: int, device: str
           ) -> list[tuple[str, float, bytes]]:
    """The ``k`` best photos for one gray sketch (H×W float32 [0, 1]):
    ``[(path, cosine score, thumbnail JPEG bytes)]``, best first."""
    with ix.connect(index_path) as con:
        paths, emb = ix.matrix(con, str(Path(index_path).resolve()), DIM)
        q = embed_sketches([sketch_gray], device)[0]
        idx, scores = ix.top_k(emb, q, k)
        hits = [paths[i] for i in idx]
        thumbs = ix.thumbnails(con, hits)
    return [(p, float(s), thumbs.get(p, b"")) for p, s in zip(hits, scores, strict=True)]
