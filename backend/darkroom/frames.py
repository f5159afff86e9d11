"""Job events ↔ wire frames on the daemon's side: a worker's progress, result or error becomes
one signed message for its client; a received buffer becomes an op's read-only input image.
Both directions in one place, so the server's loop only routes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from darkroom.errors import DarkroomError
from darkroom.jobs import Job
from darkroom.ops.registry import Image, Result
from darkroom.wire import Kind, Message, Session, WireImage


def job_frames(session: Session, job: Job, kind: str, payload: Any) -> list[Any]:
    """The frames telling ``job``'s client of ``kind`` (progress: (fraction, stage, preview
    H×W×3 u8 or None); result: the :class:`Result`; error: the :class:`DarkroomError`),
    signed with the digest the client asked with."""
    alg = job.digest_alg
    if kind == Kind.PROGRESS:
        fraction, stage, preview = payload
        images = []
        if preview is not None:
            images.append(WireImage.from_numpy(np.ascontiguousarray(preview), role="preview"))
        header = {"job": job.id, "fraction": fraction, "stage": stage}
        return session.serialize(Message(Kind.PROGRESS, header, images), alg)
    if kind == Kind.RESULT:
        res: Result = payload
        images = [
            WireImage.from_numpy(np.ascontiguousarray(im.pixels), role=im.role, name=im.name,
                                 offset=tuple(int(v) for v in im.offset),
                                 colorspace=im.colorspace)
            for im in res.images
        ]
        meta = jsonable(res.meta)
        meta["images"] = [jsonable(im.meta) for im in res.images]
        return session.serialize(Message(Kind.RESULT, {"job": job.id, "meta": meta}, images), alg)
    err: DarkroomError = payload
    return session.serialize(Message(Kind.ERROR, {"job": job.id, "error": err.to_wire()}), alg)


def to_image(w: WireImage) -> Image:
    arr = w.to_numpy()
    arr.setflags(write=False)  # sources are never modified; also guards digest reuse
    return Image(arr, role=w.role, name=w.name, offset=w.offset, colorspace=w.colorspace)


def jsonable(obj: Any) -> Any:
    """Metadata → plain JSON (numpy scalars to Python, NaN/inf to None, tuples to lists)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)
