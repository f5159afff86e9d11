"""install.py against throw-away profiles: what it installs, idempotence, the user's files left
alone, kritarc, and ``--uninstall`` leaving the profiles exactly as they were. Offline: pyzmq is
copied from this Python (``--offline``), nothing is downloaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYVER = f"{sys.version_info[0]}.{sys.version_info[1]}"


def run(home: Path, *args: str) -> str:
    env = {**os.environ, "HOME": str(home), "DARKROOM_HOME": str(home / "dh"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share")}
    out = subprocess.run([sys.executable, str(REPO / "install.py"), "--offline",
                          "--editor-python", PYVER, *args], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(root.rglob("*")) if "dh" not in p.relative_to(root).parts}


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    (h / ".config").mkdir(parents=True)
    (h / ".config/kritarc").write_text("[General]\ntheme=Krita dark\n\n[python]\nenable_other=true\n")
    (h / ".config/GIMP/3.0/plug-ins/someone_elses").mkdir(parents=True)
    (h / ".config/GIMP/3.0/plug-ins/someone_elses/someone_elses.py").write_text("# theirs\n")
    return h


def test_install_both_then_uninstall_restores_profiles(home):
    before = snapshot(home)
    out = run(home)
    gimp = home / ".config/GIMP/3.0/plug-ins/neural_darkroom"
    krita = home / ".local/share/krita"
    assert os.access(gimp / "neural_darkroom.py", os.X_OK)
    for vend in (gimp / "vendor", krita / "pykrita/neural_darkroom/vendor"):
        assert (vend / "darkroom/client.py").exists() and (vend / "darkroom/lightnames.py").exists()
        assert (vend / "darkroom/remote.py").exists()  # remote studio mode from the editors
        assert not (vend / "darkroom/images.py").exists()  # torch/numpy side stays out
        assert (vend / "darkroom_plugin/requests.py").exists()
        assert (vend / f"zmq-cp{PYVER.replace('.', '')}/zmq/__init__.py").exists()
    assert (krita / "pykrita/neural_darkroom.desktop").exists()
    assert (krita / "actions/neural_darkroom.action").exists()
    rc = (home / ".config/kritarc").read_text()
    assert "enable_neural_darkroom=true" in rc and "enable_other=true" in rc and "theme=" in rc
    backend = json.loads((home / "dh/config/backend.json").read_text())
    assert backend["command"][1:] == ["-m", "darkroom", "serve"]
    assert "GIMP 3: installing" in out and "Krita 5: installing" in out

    run(home)  # idempotent: same files again, kritarc entry not duplicated
    assert (home / ".config/kritarc").read_text().count("enable_neural_darkroom") == 1

    run(home, "--uninstall")
    assert snapshot(home) == before


def test_dry_run_changes_nothing(home):
    before = snapshot(home)
    out = run(home, "--dry-run")
    assert "[dry-run]" in out and snapshot(home) == before


def test_a_folder_the_user_made_is_left_alone(home):
    mine = home / ".config/GIMP/3.0/plug-ins/neural_darkroom"
    mine.mkdir(parents=True)
    (mine / "neural_darkroom.py").write_text("# my own experiment\n")
    out = run(home, "--gimp")
    assert "left alone" in out
    assert (mine / "neural_darkroom.py").read_text() == "# my own experiment\n"
    run(home, "--gimp", "--uninstall")
    assert (mine / "neural_darkroom.py").exists()


def test_installed_client_imports_without_torch(home):
    """The vendored package imports in a Python that has neither torch nor the repo on its path,
    and reads the ops' descriptions install.py wrote beside the plugin."""
    run(home, "--krita")
    pkg = home / ".local/share/krita/pykrita/neural_darkroom/vendor"
    code = ("import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None; "
            f"sys.path[:0] = [{str(pkg / ('zmq-cp' + PYVER.replace('.', ''))) !r}, {str(pkg)!r}]; "
            "import darkroom.client, darkroom_plugin.jobs, darkroom_plugin.requests as rq; "
            "import darkroom_plugin.opdesc as od; "
            "from darkroom_plugin.pixels import Pixels; "
            f"print([d.name for d in od.editor_ops(od.load({str(pkg.parent)!r}))]); "
            "print(rq.Request('style.transfer', [('content', Pixels(bytes(4), 1, 1, 4, 'u8', 'c'))],"
            " {}).wire_images()[0].shape, darkroom.__file__)")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         cwd=home)
    assert out.returncode == 0, out.stderr
    assert "(1, 1, 4)" in out.stdout and str(pkg) in out.stdout
    assert "'style.transfer'" in out.stdout and "'relight.render'" in out.stdout


def test_uninstall_on_a_fresh_profile_leaves_nothing(tmp_path):
    home = tmp_path / "fresh"
    home.mkdir()
    run(home, "--krita")
    assert (home / ".config/kritarc").exists()
    run(home, "--krita", "--uninstall")
    assert snapshot(home) == {}


def _fake_gimp_root(root: Path, minor: int = 13) -> Path:
    """A distribution's files as GIMP 3 has them: its typelib, PyGObject built for 3.<minor>,
    /usr/bin/python3 -> python3.<minor>."""
    (root / "usr/lib/x86_64-linux-gnu/girepository-1.0").mkdir(parents=True)
    (root / "usr/lib/x86_64-linux-gnu/girepository-1.0/Gimp-3.0.typelib").write_bytes(b"")
    gi = root / "usr/lib/python3/dist-packages/gi"
    gi.mkdir(parents=True)
    (gi / f"_gi.cpython-3{minor}-x86_64-linux-gnu.so").write_bytes(b"")
    (root / "usr/bin").mkdir(parents=True)
    (root / f"usr/bin/python3.{minor}").write_bytes(b"")
    (root / "usr/bin/python3").symlink_to(f"python3.{minor}")
    return root


def test_gimp_python_comes_from_gimp_not_from_path(tmp_path):
    """install.py reads GIMP's Python off GIMP's own files (a venv's python3 first on PATH
    is not GIMP's), and names it in the plug-in's #! line."""
    sys.path.insert(0, str(REPO))
    import install

    root = _fake_gimp_root(tmp_path / "root")
    py = install.gimp_python(root)
    assert py is not None and py.version == "3.13" and py.exe == "/usr/bin/python3.13"
    assert install.gimp_python(tmp_path / "empty") is None
    # an interpreter file (Windows/macOS builds) wins
    interp = root / "usr/lib/x86_64-linux-gnu/gimp/3.0/interpreters"
    interp.mkdir(parents=True)
    (root / "usr/bin/python3.12").write_bytes(b"")
    (interp / "pygimp.interp").write_text("python=/usr/bin/python3.12\n")
    assert install.gimp_python(root).version == "3.12"


def test_install_records_home_and_backend_beside_the_plugin(home, tmp_path):
    root = _fake_gimp_root(tmp_path / "root", int(PYVER.split(".")[1]))
    env = {**os.environ, "HOME": str(home), "DARKROOM_HOME": str(home / "dh"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share")}
    out = subprocess.run([sys.executable, str(REPO / "install.py"), "--offline", "--gimp",
                          "--gimp-root", str(root)], env=env, capture_output=True, text=True,
                         check=True).stdout
    plugin = home / ".config/GIMP/3.0/plug-ins/neural_darkroom"
    assert f"GIMP's Python: {PYVER}" in out
    assert (plugin / "neural_darkroom.py").read_text().startswith(f"#!/usr/bin/python{PYVER}\n")
    rec = json.loads((plugin / "vendor/darkroom/installed.json").read_text())
    assert rec["darkroom_home"] == str(home / "dh")
    assert rec["backend"]["command"][0] == sys.executable
    assert rec["backend"]["env"] == {"DARKROOM_HOME": str(home / "dh")}
    # the vendored config, in a Python without DARKROOM_HOME, finds the same folders
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from darkroom.config import paths; "
            "print(paths().connection_file)")
    clean = {k: v for k, v in env.items() if k != "DARKROOM_HOME"}
    got = subprocess.run([sys.executable, "-S", "-c", code, str(plugin / "vendor")], env=clean,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert got == str((home / "dh/state/connection.json").resolve())


def test_wheel_tags():
    sys.path.insert(0, str(REPO))
    import install

    abi3 = "pyzmq-27.3.0-cp312-abi3-manylinux_2_28_x86_64.whl"
    assert install._wheel_fits(abi3, "3.13") and not install._wheel_fits(abi3, "3.11")
    assert install._wheel_fits("pyzmq-26.0.0-cp311-cp311-manylinux_2_28_x86_64.whl", "3.11")
    assert not install._wheel_fits("pyzmq-26.0.0-cp311-cp311-win_amd64.whl", "3.11")
