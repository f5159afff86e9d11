"""Where things live, and which compute device to use.

If the environment variable ``DARKROOM_HOME`` is set, everything — config, runtime socket,
connection file, logs, caches and indexes — lives under it (tests and side-by-side instances
rely on this). Otherwise the platform's usual folders are used (XDG on Linux).

Stdlib only: the plugins import :func:`paths` through the vendored client, inside the editors'
own Pythons. :func:`pick_device` imports torch lazily.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

APP = "neural-darkroom"


@dataclass(frozen=True)
class Paths:
    config: Path  #: settings (config.json)
    runtime: Path  #: 0700 folder holding the ipc socket
    state: Path  #: logs, connection file, pid
    cache: Path  #: model weights, trained relighting models
    data: Path  #: sketch indexes

    @property
    def connection_file(self) -> Path:
        return self.state / "connection.json"

    @property
    def log_file(self) -> Path:
        return self.state / "daemon.log"

    @property
    def default_index(self) -> Path:
        return self.data / "sketch-index.sqlite"

    def ensure(self) -> Paths:
        """Create the folders, owner-only (0700) where the OS honours modes."""
        for d in (self.config, self.runtime, self.state, self.cache, self.data):
            d.mkdir(parents=True, exist_ok=True)
            if os.name == "posix":
                os.chmod(d, 0o700)
        return self


#: Beside the vendored copy of this module in an installed plugin, ``install.py`` records
#: what the editor cannot know by itself: DARKROOM_HOME if the user had set one, and how to
#: start the daemon (the Python that has torch). Absent in the backend itself.
INSTALLED_FILE = Path(__file__).with_name("installed.json")


def installed() -> dict:
    """What ``install.py`` recorded for this plugin copy (``{}`` in the backend itself)."""
    try:
        data = json.loads(INSTALLED_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _home_root() -> Path | None:
    home = os.environ.get("DARKROOM_HOME") or installed().get("darkroom_home")
    return Path(home).expanduser().resolve() if isinstance(home, str) and home else None


def _xdg(var: str, default: str) -> Path:
    """An XDG base folder: the variable when set to an absolute path, else the default."""
    v = os.environ.get(var, "")
    return Path(v) if v and os.path.isabs(v) else Path.home() / default


def paths() -> Paths:
    """The folders, computed the same way by the daemon and by every editor's Python.

    Stdlib only, on purpose: the editors' own Pythons (Krita's, GIMP's) do not have
    ``platformdirs``, and the plugin and the daemon must agree on where the connection file
    is. Linux/BSD follow the XDG base-directory rules (the folders ``platformdirs`` gives
    there too); macOS uses ``~/Library``; Windows ``%LOCALAPPDATA%``.
    """
    root = _home_root()
    if root is not None:
        return Paths(root / "config", root / "run", root / "state", root / "cache", root / "data")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    # Unix socket paths are short (104 bytes on macOS): keep them in the temp folder there.
    # The HOME's hash keeps two profiles of one account (a test's fresh HOME) apart.
    home_tag = hashlib.sha256(str(Path.home()).encode()).hexdigest()[:8]
    temp_runtime = Path(tempfile.gettempdir()) / f"{APP}-{uid}-{home_tag}"
    if sys.platform == "darwin":
        lib = Path.home() / "Library"
        support = lib / "Application Support" / APP
        return Paths(support, temp_runtime, support, lib / "Caches" / APP, support)
    if os.name == "nt":
        local = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData/Local") / APP
        return Paths(local, temp_runtime, local, local / "Cache", local)
    xdg_runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    runtime = (Path(xdg_runtime) / APP if xdg_runtime and os.path.isdir(xdg_runtime)
               else temp_runtime)
    return Paths(
        config=_xdg("XDG_CONFIG_HOME", ".config") / APP,
        runtime=runtime,
        state=_xdg("XDG_STATE_HOME", ".local/state") / APP,
        cache=_xdg("XDG_CACHE_HOME", ".cache") / APP,
        data=_xdg("XDG_DATA_HOME", ".local/share") / APP,
    )


def pick_device(pref: str = "auto") -> str:
    """Resolve ``auto|cpu|cuda|mps`` to a torch device string (auto: cuda > mps > cpu).

    Raises :class:`darkroom.errors.BadRequest` when the asked-for device is not present.
    """
    import torch

    from darkroom.errors import BadRequest

    pref = (pref or "auto").lower()
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if pref == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if has_mps else "cpu"
    if pref == "cpu":
        return "cpu"
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BadRequest("CUDA was asked for, but torch sees no CUDA GPU on this machine.")
        return pref
    if pref == "mps":
        if not has_mps:
            raise BadRequest("MPS was asked for, but this machine has no Apple GPU torch can use.")
        return "mps"
    raise BadRequest(f"Unknown device '{pref}': use auto, cpu, cuda or mps.")
