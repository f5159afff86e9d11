"""GIMP 3 for real, through the front door: ``install.py`` into a fresh profile (GIMP's Python
found from GIMP's own files, not from PATH; pyzmq vendored for it — the chroot has no
python3-zmq), no DARKROOM_HOME anywhere, and the procedures found by their menu path and run as
the menu runs them, in ``gimp-console-3.0`` inside the Debian trixie chroot that
``.ci/editors.sh`` builds (Debian 12 only has GIMP 2.10).

The daemon needs torch, which lives outside the chroot, so this test starts it there (on TCP
127.0.0.1: the chroot shares loopback) with the same HOME as GIMP's: the scratch folder has the
same absolute path on both sides (a symlink on the host), as on one machine, so both compute
the same connection file from HOME alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from editors_daemon import start_daemon, write_sphere_stack

REPO = Path(__file__).resolve().parents[2]
CHROOT = Path(os.environ.get("DARKROOM_EDITORS_CACHE", "/var/cache/neural-darkroom-editors")) \
    / "gimp3-trixie"
# A hang guard only (the checks decide pass or fail); generous for a busy 2-core machine.
pytestmark = [pytest.mark.editor, pytest.mark.slow, pytest.mark.timeout(3600)]

if not (CHROOT / ".complete").exists() or not (CHROOT / "usr/bin/gimp-console-3.0").exists():
    pytest.skip(f"no GIMP 3 chroot at {CHROOT} (CI builds it with .ci/editors.sh)",
                allow_module_level=True)
WHEELS = CHROOT.parent / "wheels"
if not any(WHEELS.glob("pyzmq-*.whl")):
    pytest.skip(f"no pyzmq wheel for GIMP's Python in {WHEELS} (.ci/editors.sh fetches it)",
                allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("running GIMP 3 in its chroot needs root", allow_module_level=True)


@pytest.fixture
def inside():
    """A scratch folder inside the chroot, reachable at the same absolute path from the host
    (a symlink): yields that path."""
    name = f"darkroom-test-{uuid.uuid4().hex[:8]}"
    host = CHROOT / "tmp" / name
    host.mkdir(parents=True)
    same = Path("/tmp") / name
    same.symlink_to(host)
    try:
        yield same
    finally:
        same.unlink()
        shutil.rmtree(host, ignore_errors=True)


def _user_env(home: Path) -> dict[str, str]:
    """This process's environment as a user's shell would have it: no DARKROOM_HOME, no XDG
    overrides, HOME = the fresh profile."""
    env = {k: v for k, v in os.environ.items()
           if k != "DARKROOM_HOME" and not k.startswith("XDG_")}
    return {**env, "HOME": str(home)}


def _install(scratch: Path) -> str:
    out = subprocess.run([sys.executable, str(REPO / "install.py"), "--gimp",
                          "--gimp-root", str(CHROOT), "--wheels", str(WHEELS)],
                         env=_user_env(scratch / "home"), check=True, capture_output=True,
                         text=True)
    shutil.copy(REPO / "tests/editors/gimp_driver/driver.py", scratch / "driver.py")
    return out.stdout


def _gimp(scratch: Path, config: dict, timeout: int = 3000) -> tuple[dict, str]:
    out = scratch / "out.json"
    env = {"HOME": str(scratch / "home"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": "C.UTF-8", "DRIVER_OUT": str(out), "DRIVER_CONFIG": json.dumps(config)}
    code = f"exec(open('{scratch / 'driver.py'}').read())"
    # `timeout` only guards against a hung GIMP; the checks decide pass or fail
    cmd = ["timeout", str(timeout), "chroot", str(CHROOT), "/usr/bin/env", "-i",
           *[f"{k}={v}" for k, v in env.items()],
           "gimp-console-3.0", "-i", "--batch-interpreter=python-fu-eval", "-b", code, "--quit"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert out.exists(), f"GIMP's driver wrote nothing (rc {proc.returncode}): " \
                         f"{proc.stderr[-3000:]}"
    report = json.loads(out.read_text())
    out.unlink()
    return report, proc.stderr


def _photos(folder: Path) -> None:
    import numpy as np
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray((rng.random((64, 80, 3)) * 255).astype("uint8")).save(folder / f"{i}.jpg")


def test_gimp_front_door_menu_and_jobs(inside):
    scratch = inside
    home = scratch / "home"
    home.mkdir()
    said = _install(scratch)
    assert "GIMP's Python: 3.13" in said, said
    script = home / ".config/GIMP/3.0/plug-ins/neural_darkroom/neural_darkroom.py"
    assert script.read_text().startswith("#!/usr/bin/python3"), "GIMP's own Python, not PATH's"
    _photos(scratch / "photos")
    dirs = write_sphere_stack(scratch / "rti capture")
    daemon = start_daemon(scratch, "--bind", "tcp://127.0.0.1", env=_user_env(home))
    _, ops = next(daemon)
    try:
        report, stderr = _gimp(scratch, {"ops": ops, "photos": str(scratch / "photos"),
                                         "stack": str(scratch / "rti capture"),
                                         "stack_n": len(dirs)})
    finally:
        next(daemon, None)
    assert not report["errors"], report["errors"]
    failed = {k: v for k, v in report["checks"].items() if not v["ok"]}
    assert not failed, f"{failed}\nlog: {report['log']}\nGIMP said: {stderr[-2000:]}"
    for name in ("menu_neural-darkroom-style-transfer", "menu_neural-darkroom-sketch-folders",
                 "menu_neural-darkroom-colour-match", "args_neural-darkroom-colour-match",
                 "args_neural-darkroom-style-transfer", "colour_ok", "colour_name",
                 "colour_takes_the_reference", "colour_above_content", "colour_source_untouched",
                 "style_regions_layer",
                 "relight_ok", "relight_name", "relight_size", "relight_pixels", "style_ok",
                 "style_name", "style_size", "style_source_untouched", "bad_stack_message",
                 "no_preview_left", "style_moves_toward_style", "style_again_ok", "style_again_on_top",
                 "status_ok", "index_ok", "index_folder_saved", "sketch_ok", "sketch_group",
                 "open_stack_ok", "open_stack_layers", "open_stack_relight_ok",
                 "open_stack_relit"):
        assert name in report["checks"], f"check {name} did not run: {report}"
    assert "assertion" not in stderr or "menu_label" not in stderr, stderr[-2000:]
    # the style job's previews were put in the image while it ran (and removed: no_preview_left)
    shown = re.search(r"Neural Darkroom: (\d+) previews? shown over 'content', then removed",
                      stderr)
    assert shown and int(shown.group(1)) >= 1, stderr[-2000:]
    pluginrc = (home / ".config/GIMP/3.0/pluginrc").read_bytes().decode("utf-8", "replace")
    for proc in report["procedures"]:
        entry = pluginrc[pluginrc.index(f'"{proc}"'):]
        entry = entry[:entry.find("(proc-def", 10) if "(proc-def" in entry[10:] else None]
        assert '(menu-path "<Image>/Filters/Neural Darkroom")' in entry, proc


def test_gimp_says_what_to_do_when_the_backend_cannot_start(inside):
    """Nothing runs, and the backend cannot start from inside the chroot (the Python that has
    torch is outside it): the user reads a sentence naming what to do."""
    scratch = inside
    (scratch / "home").mkdir()
    _install(scratch)
    report, stderr = _gimp(scratch, {"mode": "stopped"}, timeout=300)
    assert not report["errors"], report["errors"]
    failed = {k: v for k, v in report["checks"].items() if not v["ok"]}
    assert not failed and "stopped_daemon_message" in report["checks"], (failed, stderr[-1500:])
