"""Layering (STYLE.md): the protocol side is torch-free, ops know nothing of ZeroMQ or
editors, and only the editor adapters import gimp/krita."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "backend" / "darkroom"


def _module_level(tree: ast.Module) -> list[ast.AST]:
    """Statements run at import (inside module-level try/if too), not in function bodies."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.Try | ast.If):
            todo += [*node.body, *node.orelse, *getattr(node, "finalbody", []),
                     *(h for h in getattr(node, "handlers", []) for h in h.body)]
    return out


def _imports(path: Path, at_import: bool = False) -> set[str]:
    """Every module ``path`` imports, by full dotted name (``darkroom.server``, ``zmq``); with
    ``at_import`` only those imported when the module loads (a function may import lazily)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in (_module_level(tree) if at_import else ast.walk(tree)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def _hits(imported: set[str], banned: set[str]) -> set[str]:
    """The imports that are a banned module or inside one (``gi.repository`` is ``gi``)."""
    return {m for m in imported for b in banned if m == b or m.startswith(b + ".")}


def test_client_side_imports_without_torch_or_numpy() -> None:
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None\n"
        "import darkroom.client, darkroom.wire, darkroom.errors, darkroom.config, darkroom.remote\n"
        "print('ok')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_ops_do_not_touch_sockets_or_editors() -> None:
    banned = {"zmq", "gimp", "krita", "gi", "PyQt5", "darkroom.server", "darkroom.client",
              "darkroom.jobs", "darkroom.daemon_cli"}
    for path in (PKG / "ops").rglob("*.py"):
        if path.name == "cli.py":  # the families' CLI adapters may use the runner
            continue
        bad = _hits(_imports(path), banned)
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_only_adapters_import_the_editors() -> None:
    editors = {"gimp", "krita", "gi", "PyQt5"}
    for path in [*PKG.rglob("*.py"), *(REPO / "bench").rglob("*.py"),
                 *(REPO / "plugin/common").rglob("*.py")]:
        assert not _hits(_imports(path), editors), path


def test_plugin_common_stays_torch_free() -> None:
    """plugin/common is vendored into the editors' Pythons: stdlib, pyzmq through the client,
    numpy only where present, never torch or the daemon's side."""
    banned = {"torch", "torchvision", "cv2", "PIL", "darkroom.server", "darkroom.jobs",
              "darkroom.ops", "darkroom.images", "darkroom.models"}
    for path in (REPO / "plugin/common").rglob("*.py"):
        bad = _hits(_imports(path), banned)
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_the_protocol_side_stays_torch_free() -> None:
    """At import: torch, numpy and the daemon's side stay out (a function may import them
    lazily where present, as ``config.pick_device`` does)."""
    for name in ("wire", "client", "errors", "config", "remote", "lightnames", "connection"):
        path = PKG / f"{name}.py"
        if path.exists():
            bad = _hits(_imports(path, at_import=True),
                        {"torch", "numpy", "darkroom.ops", "darkroom.server", "darkroom.jobs"})
            assert not bad, f"{path.relative_to(REPO)} imports {bad}"
