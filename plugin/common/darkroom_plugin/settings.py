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
    #: everything else, kept as it was read: the dialogs' last values per op
    #: (``last_values``), and keys of other plugin versions
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
