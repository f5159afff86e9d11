"""Krita 5 for real, through the front door: ``install.py`` into a fresh HOME, no DARKROOM_HOME,
no daemon running, Krita's own system Python (no platformdirs), under Xvfb. A small driver plugin
(``krita_driver/``) triggers the plugin's QActions, fills in its dialogs and clicks the docker's
light pad as a user would; the plugin must start the backend by itself (``backend.json``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from editors_daemon import write_sphere_stack

REPO = Path(__file__).resolve().parents[2]
# A hang guard only (the driver's watchdog fails a stalled run); generous for a busy machine.
pytestmark = [pytest.mark.editor, pytest.mark.slow, pytest.mark.timeout(3600)]

if not (shutil.which("krita") and shutil.which("xvfb-run")):
    pytest.skip("Krita or xvfb-run is not installed (CI installs them with .ci/editors.sh)",
                allow_module_level=True)


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _user_env(home: Path) -> dict[str, str]:
    """A user's environment: HOME is the fresh profile; no DARKROOM_HOME, no XDG overrides."""
    env = {k: v for k, v in os.environ.items()
           if k != "DARKROOM_HOME" and not k.startswith(("XDG_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, "HOME": str(home)}


def _install(home: Path) -> Path:
    res = home / ".local/share/krita"
    subprocess.run([sys.executable, str(REPO / "install.py"), "--krita", "--offline"],
                   env=_user_env(home), check=True, capture_output=True)
    drv = REPO / "tests/editors/krita_driver"
    shutil.copytree(drv / "darkroom_test_driver", res / "pykrita/darkroom_test_driver")
    shutil.copy(drv / "darkroom_test_driver.desktop", res / "pykrita")
    rc = home / ".config/kritarc"
    text = rc.read_text().replace("[python]\n", "[python]\nenable_darkroom_test_driver=true\n")
    rc.write_text(text)
    return res


def test_krita_front_door(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    _install(home)
    stack = tmp_path / "rti capture"
    dirs = write_sphere_stack(stack)
    # Krita embeds the system Python; a pyenv/venv python3 first on PATH would take over its
    # prefix (no PyQt5 there), so Krita is started as from the desktop: the system PATH
    # (the README says so).
    env = {**_user_env(home), "PATH": SYSTEM_PATH, "DRIVER_OUT": str(tmp_path / "out.json"),
           "DRIVER_CONFIG": json.dumps({"stall_s": 300, "stack_folder": str(stack),
                                        "stack_n": len(dirs)})}
    try:
        # `timeout` only guards against a hung Krita; the driver's watchdog fails a run whose
        # progress stops, the checks decide the rest.
        proc = subprocess.run(["timeout", "3000", "xvfb-run", "-a", "krita", "--nosplash"],
                              env=env, capture_output=True, text=True)
    finally:
        subprocess.run([sys.executable, "-m", "darkroom", "stop"], env=_user_env(home),
                       capture_output=True)
    out = tmp_path / "out.json"
    assert out.exists(), f"the driver wrote nothing (rc {proc.returncode}): {proc.stderr[-2000:]}"
    report = json.loads(out.read_text())
    py_log = "\n".join(ln for ln in proc.stderr.splitlines() if "scripting" in ln or "Error" in ln)
    assert not report["errors"], f"{report['errors']}\nKrita's Python said:\n{py_log[-3000:]}"
    failed = {k: v for k, v in report["checks"].items() if not v["ok"]}
    assert not failed, f"{failed}\nlog: {report['log']}\nKrita's Python said:\n{py_log[-3000:]}"
    for name in ("plugin_loaded", "menu", "docker", "status_running", "status_device",
                 "status_queue", "docker_label", "style_ok", "preview_shown", "preview_removed", "style_name", "style_above_content",
                 "style_moves_toward_style", "style_source_untouched", "second_style_on_top",
                 "style_default_not_a_result", "colour_action", "colour_dialog_fields",
                 "colour_ok", "colour_name", "colour_takes_the_reference",
                 "colour_source_untouched", "pad_relight_ok", "pad_direction_light",
                 "pad_result_above_group", "open_stack_ok", "open_stack_layers",
                 "open_stack_note", "open_stack_relight_ok", "open_stack_relit"):
        assert name in report["checks"], f"check {name} did not run: {report}"
    # the daemon was started by the plugin, in the user's own folders
    assert (home / ".local/state/neural-darkroom/daemon.log").exists()
    assert "Traceback" not in py_log, py_log[-3000:]
