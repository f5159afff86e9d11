"""The trained-model cache: one file per (stack content, quality) under
``darkroom.config.paths().cache / "relight"``, plus the last few models kept in memory.

Files hold plain tensors and state dicts only (``torch.save``), are loaded with
``weights_only=True`` (no pickled code runs), and are written to a temporary name and renamed,
so a crash never leaves half a model under the final name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from darkroom.errors import StorageError
from darkroom.ops.relight.network import VERSION

log = logging.getLogger(__name__)

#: Bump when the key's inputs change. A new network layout bumps ``network.VERSION`` instead,
#: which the key also includes: either way old cache files then stop matching.
FORMAT = 1
_MEMORY: OrderedDict[str, Any] = OrderedDict()
_MEMORY_ITEMS = 2


def stack_key(stack: np.ndarray, lights_2d: np.ndarray, quality: str) -> str:
    """SHA-256 (hex, 32 chars) of the unit-light linear stack (N, H, W, 3), its light
    coordinates (N, 2), the quality and the network layout (``network.VERSION``): the same
    captures give the same key."""
    h = hashlib.sha256()
    h.update(f"relight-v{FORMAT}:{quality}/v{VERSION}:{stack.shape}".encode())
    h.update(np.ascontiguousarray(lights_2d, np.float64).tobytes())
    h.update(np.ascontiguousarray(stack, np.float32).tobytes())
    return h.hexdigest()[:32]


def folder() -> Path:
    from darkroom.config import paths

    return paths().cache / "relight"


def load(key: str) -> dict[str, Any] | None:
    """The cached state for ``key`` (memory first, then disk), or None."""
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    p = folder() / f"{key}.pt"
    if not p.is_file():
        return None
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:  # a corrupt or foreign file: retrain rather than fail
        log.warning("ignoring unreadable relighting cache file %s", p, exc_info=True)
        return None
    remember(key, state)
    try:
        os.utime(p, None)  # last use, for the eviction in save()
    except OSError:
        pass
    return state


def remember(key: str, state: dict[str, Any]) -> None:
    _MEMORY[key] = state
    _MEMORY.move_to_end(key)
    while len(_MEMORY) > _MEMORY_ITEMS:
        _MEMORY.popitem(last=False)


#: The cache folder is kept under this many bytes: the least recently used models go first.
#: Old files whose key no longer matches (a new FORMAT) are never used again, so they go too.
MAX_BYTES = 2 * 1024**3

#: Temporary files older than this are leftovers of a killed process (a save takes seconds).
STALE_TEMP_S = 3600.0


def save(key: str, state: dict[str, Any]) -> Path:
    """Write atomically and keep in memory; returns the path.

    The bytes go to a temporary name, are flushed to disk (``fsync``), then renamed over the
    final name (``os.replace`` is atomic): a process killed at any moment leaves either the
    old file or the new one, never half of one. A full disk or an unwritable cache folder
    raises :class:`StorageError` (a sentence) and leaves no temporary file behind; the model
    stays in memory, so the next request in this process does not train again.
    """
    remember(key, state)
    d = folder()
    p = d / f"{key}.pt"
    tmp = d / f".{key}.pt.tmp{os.getpid()}"
    try:
        d.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except (OSError, RuntimeError) as e:  # torch reports a failed write as RuntimeError
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        log.warning("could not save relighting model %s: %s", p, e)
        reason = getattr(e, "strerror", None) or "the write failed"
        raise StorageError(
            f"The relighting model was trained but cannot be saved in '{d}' ({reason}): free "
            "some disk space or make DARKROOM_HOME writable. It is kept in memory until the "
            "backend stops.") from None
    _sweep_temp(d)
    _evict(d, keep=p)
    return p


def _evict(d: Path, keep: Path) -> None:
    """Delete the least recently used model files (by mtime, which :func:`load` refreshes)
    until the folder holds at most :data:`MAX_BYTES`; ``keep`` (the file just written) is
    never deleted."""
    files = []
    for f in d.glob("*.pt"):
        try:
            st = f.stat()
        except OSError:
            continue
        files.append((st.st_mtime, st.st_size, f))
    total = sum(size for _, size, _ in files)
    for _, size, f in sorted(files, key=lambda t: t[0]):
        if total <= MAX_BYTES:
            break
        if f == keep:
            continue
        try:
            f.unlink()
            total -= size
            log.info("relighting cache: removed the least recently used model %s", f.name)
        except OSError:
            pass


def _sweep_temp(d: Path) -> None:
    """Delete temporary files that killed processes left behind (they are never read)."""
    now = time.time()
    for t in d.glob(".*.pt.tmp*"):
        try:
            if now - t.stat().st_mtime > STALE_TEMP_S:
                t.unlink()
        except OSError:
            pass


def forget_memory() -> None:
    """Drop the in-memory models (tests use it to exercise the disk path)."""
    _MEMORY.clear()
