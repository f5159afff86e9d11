"""GIMP 3 for real: the installed plug-in runs relight and style transfer through a daemon,
driven through the PDB by ``gimp-console-3.0`` inside the Debian trixie chroot that
``.ci/editors.sh`` builds (Debian 12 only has GIMP 2.10).

The daemon runs outside the chroot on TCP 127.0.0.1 (the chroot shares loopback); its
DARKROOM_HOME lives inside the chroot's /tmp so both sides read the same connection file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from editors_daemon import start_daemon

REPO = Path(__file__).resolve().parents[2]
CHROOT = Path(os.environ.get("DARKROOM_EDITORS_CACHE", "/var/cache/neural-darkroom-editors")) \
    / "gimp3-trixie"
pytestmark = [pytest.mark.editor, pytest.mark.slow]

if not (CHROOT / ".complete").exists() or not (CHROOT / "usr/bin/gimp-console-3.0").exists():
    pytest.skip(f"no GIMP 3 chroot at {CHROOT} (CI builds it with .ci/editors.sh)",
                allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("running GIMP 3 in its chroot needs root", allow_module_level=True)


@pytest.fixture
def inside():
    """A scratch folder inside the chroot: (host path, chroot path)."""
    name = f"darkroom-test-{uuid.uuid4().hex[:8]}"
    host = CHROOT / "tmp" / name
    host.mkdir(parents=True)
    try:
        yield host, Path("/tmp") / name
    finally:
        shutil.rmtree(host, ignore_errors=True)


def _install(host: Path, dh: Path) -> None:
    env = {**os.environ, "HOME": str(host / "home"), "DARKROOM_HOME": str(dh)}
    subprocess.run([sys.executable, str(REPO / "install.py"), "--gimp", "--offline",
                    "--editor-python", "3.13",
                    "--profile", str(host / "home/.config/GIMP/3.0")],
                   env=env, check=True, capture_output=True)
    shutil.copy(REPO / "tests/editors/gimp_driver/driver.py", host / "driver.py")


def _gimp(chroot_dir: Path, dh_inside: Path, config: dict, timeout: int = 240) -> tuple[dict, str]:
    out = chroot_dir / "out.json"
    env = {"HOME": str(chroot_dir / "home"), "DARKROOM_HOME": str(dh_inside),
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "DRIVER_OUT": str(out), "DRIVER_CONFIG": json.dumps(config)}
    code = f"exec(open('{chroot_dir / 'driver.py'}').read())"
    cmd = ["timeout", str(timeout), "chroot", str(CHROOT), "/usr/bin/env", "-i",
           *[f"{k}={v}" for k, v in env.items()],
           "gimp-console-3.0", "-i", "--batch-interpreter=python-fu-eval", "-b", code, "--quit"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    host_out = CHROOT / str(out).lstrip("/")
    assert host_out.exists(), f"GIMP's driver wrote nothing (rc {proc.returncode}): " \
                              f"{proc.stderr[-3000:]}"
    report = json.loads(host_out.read_text())
    host_out.unlink()
    return report, proc.stderr


def test_gimp_relight_and_style_end_to_end(inside):
    host, chrooted = inside
    dh = host / "dh"
    dh.mkdir()
    daemon = start_daemon(dh, "--bind", "tcp://127.0.0.1")
    _, ops = next(daemon)
    try:
        _install(host, dh)
        report, stderr = _gimp(chrooted, chrooted / "dh", {"ops": ops})
    finally:
        next(daemon, None)
    assert not report["errors"], report["errors"]
    failed = {k: v for k, v in report["checks"].items() if not v["ok"]}
    assert not failed, f"{failed}\nlog: {report['log']}\nGIMP said: {stderr[-2000:]}"
    for name in ("relight_ok", "relight_name", "relight_size", "relight_pixels", "style_ok",
                 "style_name", "style_size", "style_source_untouched", "bad_stack_message",
                 "style_moves_toward_style"):
        assert name in report["checks"], f"check {name} did not run: {report}"


def test_gimp_says_what_to_do_when_the_backend_cannot_start(inside):
    host, chrooted = inside
    dh = host / "dh"
    (dh / "config").mkdir(parents=True)
    # the plug-in would start the daemon with this command; it does not exist
    _install(host, dh)
    (dh / "config/backend.json").write_text(json.dumps({"command": ["/nonexistent/darkroom"]}))
    report, stderr = _gimp(chrooted, chrooted / "dh", {"mode": "stopped"}, timeout=120)
    assert not report["errors"], report["errors"]
    failed = {k: v for k, v in report["checks"].items() if not v["ok"]}
    assert not failed and "stopped_daemon_message" in report["checks"], (failed, stderr[-1500:])
