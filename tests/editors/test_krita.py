"""Krita 5 for real: the installed plugin runs relight and style transfer through a daemon
started here, under Xvfb, driven by a small driver plugin (``krita_driver/``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.editor, pytest.mark.slow]

if not (shutil.which("krita") and shutil.which("xvfb-run")):
    pytest.skip("Krita or xvfb-run is not installed (CI installs them with .ci/editors.sh)",
                allow_module_level=True)


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _env(home: Path, dh: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "DARKROOM_HOME": str(dh),
            "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share")}


def _install(home: Path, dh: Path) -> Path:
    res = home / ".local/share/krita"
    subprocess.run([sys.executable, str(REPO / "install.py"), "--krita", "--offline"],
                   env=_env(home, dh), check=True, capture_output=True)
    drv = REPO / "tests/editors/krita_driver"
    shutil.copytree(drv / "darkroom_test_driver", res / "pykrita/darkroom_test_driver")
    shutil.copy(drv / "darkroom_test_driver.desktop", res / "pykrita")
    rc = home / ".config/kritarc"
    text = rc.read_text().replace("[python]\n", "[python]\nenable_darkroom_test_driver=true\n")
    rc.write_text(text)
    return res


def test_krita_relight_and_style_end_to_end(daemon, tmp_path):
    dh, ops = daemon
    home = tmp_path / "home"
    home.mkdir()
    _install(home, dh)
    # Krita embeds the system Python; a pyenv/venv python3 first on PATH would hijack its
    # prefix (no PyQt5 there), so the editor gets the system PATH.
    env = {**_env(home, dh), "PATH": SYSTEM_PATH, "DRIVER_OUT": str(tmp_path / "out.json"),
           "DRIVER_CONFIG": json.dumps({"ops": ops, "deadline_s": 240})}
    proc = subprocess.run(["timeout", "300", "xvfb-run", "-a", "krita", "--nosplash"],
                          env=env, capture_output=True, text=True)
    out = tmp_path / "out.json"
    assert out.exists(), f"the driver wrote nothing (rc {proc.returncode}): {proc.stderr[-2000:]}"
    report = json.loads(out.read_text())
    assert not report["errors"], report["errors"]
    failed = {k: v for k, v in report["checks"].items() if not v["ok"]}
    py_log = "\n".join(ln for ln in proc.stderr.splitlines() if "scripting" in ln or "Error" in ln)
    assert not failed, f"{failed}\nlog: {report['log']}\nKrita's Python said:\n{py_log[-3000:]}"
    for name in ("plugin_loaded", "menu", "relight_ok", "relight_name", "relight_size",
                 "style_ok", "style_name", "style_size", "style_source_untouched",
                 "bad_stack_message", "stopped_daemon_message",
                 "style_moves_toward_style"):
        assert name in report["checks"], f"check {name} did not run: {report}"
    # the docker, dialogs module and extension loaded without a Python error
    assert "Traceback" not in py_log, py_log[-3000:]
