"""Where things live, and which compute device to use.

If the environment variable ``DARKROOM_HOME`` is set, everything — config, runtime socket,
connection file, logs, caches and indexes — lives under it (tests and side-by-side instances
rely on this). Otherwise the platform's usual folders are used (platformdirs).

Torch-free: the plugins import :func:`paths` through the client. :func:`pick_device` imports
torch lazily.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
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


def paths() -> Paths:
    home = os.environ.get("DARKROOM_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(root / "config", root / "run", root / "state", root / "cache", root / "data")
    try:
        import platformdirs
    except ImportError:  # the plugins' vendored client may lack it
        root = Path.home() / ".neural-darkroom"
        return Paths(root / "config", root / "run", root / "state", root / "cache", root / "data")
    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR (ssh, containers): its fallback is fine
        warnings.simplefilter("ignore")
        runtime = Path(platformdirs.user_runtime_dir(APP, appauthor=False))
    if sys.platform == "darwin" or os.name != "posix":
        # Unix socket paths are short (104 bytes on macOS): keep them in the temp folder.
        runtime = Path(tempfile.gettempdir()) / f"{APP}-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    return Paths(
        config=Path(platformdirs.user_config_dir(APP, appauthor=False)),
        runtime=runtime,
        state=Path(platformdirs.user_state_dir(APP, appauthor=False)),
        cache=Path(platformdirs.user_cache_dir(APP, appauthor=False)),
        data=Path(platformdirs.user_data_dir(APP, appauthor=False)),
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
