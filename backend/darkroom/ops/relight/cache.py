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
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)

#: Bump when the network or its features change: old cache files then stop matching.
FORMAT = 1
_MEMORY: OrderedDict[str, Any] = OrderedDict()
_MEMORY_ITEMS = 2


def stack_key(stack: np.ndarray, lights_2d: np.ndarray, quality: str) -> str:
    """SHA-256 (hex, 32 chars) of the unit-light linear stack (N, H, W, 3), its light
    coordinates (N, 2) and the quality: the same captures give the same key."""
    h = hashlib.sha256()
    h.update(f"relight-v{FORMAT}:{quality}:{stack.shape}".encode())
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
    return state


def remember(key: str, state: dict[str, Any]) -> None:
    _MEMORY[key] = state
    _MEMORY.move_to_end(key)
    while len(_MEMORY) > _MEMORY_ITEMS:
        _MEMORY.popitem(last=False)


def save(key: str, state: dict[str, Any]) -> Path:
    """Write atomically (temp file + ``os.replace``) and keep in memory; returns the path."""
    d = folder()
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{key}.pt"
    tmp = d / f".{key}.pt.tmp{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, p)
    remember(key, state)
    return p


def forget_memory() -> None:
    """Drop the in-memory models (tests use it to exercise the disk path)."""
    _MEMORY.clear()
