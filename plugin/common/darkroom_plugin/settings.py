"""The plugin settings, one JSON file beside the daemon's config (``DARKROOM_HOME`` rules).

Kept tiny and forgiving: a missing or damaged file gives the defaults (the user should never
see a traceback for a settings file), unknown keys are kept for newer plugin versions.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FILE_NAME = "plugin.json"


@dataclass
class Settings:
    index_folders: list[str] = field(default_factory=list)  #: photo folders for sketch search
    sketch_k: int = 5  #: how many matches to bring back
    sketch_output: str = "layers"  #: "layers" (a group in this image) or "images" (new images)
    quality: str = "standard"  #: default quality in the dialogs
    extra: dict[str, Any] = field(default_factory=dict)


def settings_path() -> Path:
    from darkroom.config import paths

    return paths().config / FILE_NAME


def load(path: Path | None = None) -> Settings:
    path = path or settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(raw, dict):
        return Settings()
    known = {k: raw.pop(k) for k in list(raw) if k in Settings.__dataclass_fields__ and k != "extra"}
    s = Settings(extra=raw)
    folders = known.get("index_folders", [])
    if isinstance(folders, list):
        s.index_folders = [str(f) for f in folders]
    if isinstance(known.get("sketch_k"), int) and 1 <= known["sketch_k"] <= 50:
        s.sketch_k = known["sketch_k"]
    if known.get("sketch_output") in ("layers", "images"):
        s.sketch_output = known["sketch_output"]
    if known.get("quality") in ("draft", "standard", "best"):
        s.quality = known["quality"]
    return s


def save(s: Settings, path: Path | None = None) -> Path:
    """Write atomically (a crash mid-write must not lose the folders the user set)."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(s)
    data.update(data.pop("extra"))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
