"""Layering (STYLE.md): the protocol side is torch-free, ops know nothing of ZeroMQ or
editors, and only the editor adapters import gimp/krita."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "backend" / "darkroom"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_client_side_imports_without_torch_or_numpy() -> None:
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None\n"
        "import darkroom.client, darkroom.wire, darkroom.errors, darkroom.config, darkroom.remote\n"
        "print('ok')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_ops_do_not_touch_sockets_or_editors() -> None:
    banned = {"zmq", "gimp", "krita", "gi", "PyQt5", "darkroom.server", "darkroom.client"}
    for path in (PKG / "ops").rglob("*.py"):
        if path.name == "cli.py":  # the families' CLI adapters may use the runner
            continue
        bad = _imports(path) & banned
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_only_adapters_import_the_editors() -> None:
    for path in [*PKG.rglob("*.py"), *(REPO / "bench").rglob("*.py")]:
        assert not _imports(path) & {"gimp", "krita", "gi"}, path
