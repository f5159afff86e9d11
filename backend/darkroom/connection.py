"""The connection file: where the daemon listens and the key that signs its messages.

Written by the daemon, owner-only (0600) and atomically, as Jupyter's kernels write theirs; read
by every client (the CLI, the editors' plugins through the vendored copy, ``--remote``). Stdlib
only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from darkroom.errors import ProtocolError


def daemon_info(endpoint: str, key: bytes, protocol: int, version: str,
                curve: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a daemon writes: its endpoint, key, signature scheme, protocol, pid, version and
    (remote studio mode) the CurveZMQ keys of its own user's client."""
    info: dict[str, Any] = {"endpoint": endpoint, "key": key.decode("ascii"),
                            "signature_scheme": "hmac-sha256", "protocol": protocol,
                            "pid": os.getpid(), "version": version}
    if curve is not None:
        info["curve"] = curve
    return info


def write_connection_file(path: Path, info: dict[str, Any]) -> None:
    """Write the connection file owner-only (0600), atomically: created 0600 under a temporary
    name, then renamed, so no other user can ever read the key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)
        if os.name == "posix":
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_connection_file(path: Path) -> dict[str, Any]:
    """Read and check a connection file; raise :class:`ProtocolError` with a sentence."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise ProtocolError(f"The connection file '{path}' is unreadable: {e}") from None
    if not isinstance(info, dict) or not isinstance(info.get("endpoint"), str) or not info.get("key"):
        raise ProtocolError(f"The connection file '{path}' lacks an endpoint or key.")
    return info


def remove_if_mine(path: Path) -> None:
    """Delete the connection file if this process wrote it (a successor's stays)."""
    try:
        if read_connection_file(path).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ProtocolError):
        pass
