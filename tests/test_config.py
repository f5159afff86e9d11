"""Folders: the daemon and the editors' Pythons compute the same ones, with the stdlib only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from darkroom import config


def test_xdg_folders_without_darkroom_home(monkeypatch, tmp_path):
    monkeypatch.delenv("DARKROOM_HOME", raising=False)
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    if sys.platform != "linux":
        pytest.skip("XDG folders are the Linux layout")
    p = config.paths()
    assert p.config == tmp_path / ".config/neural-darkroom"
    assert p.connection_file == tmp_path / ".local/state/neural-darkroom/connection.json"
    assert p.cache == tmp_path / ".cache/neural-darkroom"
    assert p.data == tmp_path / ".local/share/neural-darkroom"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "st"))
    assert config.paths().state == tmp_path / "st/neural-darkroom"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")  # the spec: absolute paths only
    assert config.paths().state == tmp_path / ".local/state/neural-darkroom"


def test_an_editor_python_without_platformdirs_agrees(tmp_path):
    """Krita's and GIMP's Pythons have no platformdirs: `python -S` (no site-packages) stands
    for them and must find the very connection file the daemon uses."""
    env = {k: v for k, v in os.environ.items() if k != "DARKROOM_HOME"
           and not k.startswith("XDG_")}
    env["HOME"] = str(tmp_path)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from darkroom.config import paths; print(paths().connection_file)")
    backend = str(Path(config.__file__).parents[1])
    bare = subprocess.run([sys.executable, "-S", "-c", code, backend], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()
    full = subprocess.run([sys.executable, "-c", code, backend], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()
    assert bare == full and bare.startswith(str(tmp_path))
