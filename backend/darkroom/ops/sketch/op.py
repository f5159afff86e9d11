"""The registered sketch ops: ``sketch.index`` (photo folders → index) and ``sketch.search``
(a sketch layer → the best-matching photos as new layers).

Method: Sangkloy et al. 2016 and Yu et al. 2016 (see :mod:`darkroom.ops.sketch.model`).
Importing this module loads no model: weights are read on the first search or index run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from darkroom.config import paths
from darkroom.errors import InvalidInput, check_cancel
from darkroom.ops.registry import (
    CancelledFn,
    Image,
    ImageInput,
    Param,
    ProgressFn,
    Result,
    current_device,
    register,
)

MAX_SKETCHES = 10_000  #: sketches per search request


def _index_path(p: str) -> str:
    return str(Path(p).expanduser()) if p else str(paths().default_index)


@register(
    "sketch.index",
    help="Index photo folders for sketch search (incremental; re-run after adding photos).",
    params=[
        Param("folders", "list", required=True, help="photo folders to index (recursively)",
              path="dir"),
        Param("index", "str", default="", help="index file; empty = the default index",
              path="new_file"),
    ],
    inputs="none",
    min_images=0,
    max_images=0,
)
def index_op(images: list[Image], params: dict[str, Any], progress: ProgressFn,
             cancelled: CancelledFn) -> Result:
    """Walk ``folders`` and bring the index up to date. Meta: added, updated, removed,
    unchanged, reembedded (rows of an older sketch model embedded again), skipped (count)
    and skipped_files ``[{path, reason}]``."""
    from darkroom.ops.sketch.library import index_folders

    folders = params["folders"]
    if not folders or not all(isinstance(f, str) and f for f in folders):
        raise InvalidInput("Give at least one photo folder to index (as a list of paths).")
    stats = index_folders(_index_path(params["index"]), folders, current_device(),
                          lambda f, s: progress(f, s), cancelled)
    return Result(meta={
        "index": _index_path(params["index"]),
        "added": stats.added, "updated": stats.updated, "removed": stats.removed,
        "unchanged": stats.unchanged, "reembedded": stats.reembedded, "skipped": len(stats.skipped),
        "skipped_files": [{"path": p, "reason": r} for p, r in stats.skipped],
    })


def _fit(rgb8: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb8.shape[:2]
    s = size / max(h, w)
    if s >= 1:
        return rgb8
    return cv2.resize(rgb8, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _match_pixels(path: str, thumb: bytes, size: int) -> np.ndarray:
    """The photo at ``path`` scaled to fit ``size`` (sRGB u8 H×W×3); the stored thumbnail if
    the file has gone or cannot be read any more."""
    from darkroom.ops.sketch.library import load_photo

    if size > 128:
        try:
            rgb, _, _ = load_photo(Path(path))
            return _fit((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), size)
        except Exception:  # moved or damaged since indexing: fall back to the thumbnail
            pass
    arr = cv2.imdecode(np.frombuffer(thumb, np.uint8), cv2.IMREAD_COLOR) if thumb else None
    if arr is None:
        return np.full((size, size, 3), 128, np.uint8)
    return _fit(np.ascontiguousarray(arr[:, :, ::-1]), size)


@register(
    "sketch.search",
    help="Find the photos in the index that best match a sketch (or each of several sketches).",
    params=[
        Param("k", "int", default=10, minimum=1, maximum=50, help="how many photos to return",
              label="Matches"),
        Param("index", "str", default="", help="index file; empty = the default index",
              path="new_file", editor=False),
        Param("size", "int", default=512, minimum=32, maximum=4096,
              help="longest side of the returned photos, px", editor=False),
        Param("return_images", "bool", default=True, help="return the photos as images",
              editor=False),
    ],
    max_images=MAX_SKETCHES,
    title="Sketch Search…",
    images=(ImageInput("sketch", "Sketch", "active", many=True,
                       help="dark strokes on a light or transparent background (several "
                       "sketches: one ranking each)"),),
    result_prefix="Sketch matches",
    result_group="Sketch matches",
)
def search_op(images: list[Image], params: dict[str, Any], progress: ProgressFn,
              cancelled: CancelledFn) -> Result:
    """Sketches → top-k photos each. Result meta ``matches``: ``[{path, score}]`` of the first
    sketch (what a one-sketch caller reads); ``results``: ``[{sketch, matches}]``, one per
    sketch in input order. With ``return_images``, the photos (role ``match``, named by file
    name, sRGB u8, scaled to fit ``size``; ``meta``: path, score, rank, sketch) of every
    sketch follow each other in that order.

    All sketches are embedded in backbone batches and ranked by one matrix product. An index
    built by an older sketch model is first re-embedded (progress reported)."""
    from darkroom.ops.sketch.library import search_many
    from darkroom.ops.sketch.strokes import check_not_blank

    grays = [check_not_blank(im.pixels, im.name or im.role or f"sketch {i + 1}")
             for i, im in enumerate(images)]
    progress(0.05, "embedding the sketch" if len(grays) == 1 else f"embedding {len(grays)} sketches")

    def sub(f: float, s: str) -> None:  # re-embedding an old index: 5 %–60 % of the bar
        progress(0.05 + 0.55 * f, s)

    results = search_many(_index_path(params["index"]), grays, params["k"], current_device(),
                          sub, cancelled)
    out: list[Image] = []
    if params["return_images"]:
        total = sum(len(h) for h in results)
        done = 0
        for si, hits in enumerate(results):
            for rank, (path, score, thumb) in enumerate(hits):
                check_cancel(cancelled)
                progress(0.6 + 0.4 * done / max(1, total), f"loading {Path(path).name}")
                done += 1
                out.append(Image(_match_pixels(path, thumb, params["size"]), role="match",
                                 name=Path(path).name,
                                 meta={"path": path, "score": round(score, 4), "rank": rank + 1,
                                       "sketch": si}))
    progress(1.0, "done")
    listed = [[{"path": p, "score": round(s, 4)} for p, s, _ in hits] for hits in results]
    return Result(images=out, meta={
        "layer_names": [f"{im.name} ({im.meta['score']:.2f})" for im in out],
        "matches": listed[0],
        "results": [{"sketch": im.name or f"sketch {i + 1}", "matches": m}
                    for i, (im, m) in enumerate(zip(images, listed, strict=True))],
    })
