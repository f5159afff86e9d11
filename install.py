#!/usr/bin/env python3
"""Install the Neural Darkroom plugins into GIMP 3 and Krita 5 (or remove them).

    python install.py [--gimp] [--krita] [--uninstall] [--dry-run] [--profile DIR]
                      [--editor-python X.Y]

* GIMP 3: ``<profile>/plug-ins/neural_darkroom/neural_darkroom.py`` (executable).
* Krita 5: ``<profile>/pykrita/neural_darkroom.desktop`` + ``pykrita/neural_darkroom/`` +
  ``<profile>/actions/neural_darkroom.action``; enabled in ``kritarc``
  (``[python] enable_neural_darkroom=true``).
* Each plugin gets ``vendor/``: the torch-free client modules (``darkroom``: errors, config,
  wire, client, lightnames), the editor-independent ``darkroom_plugin`` package, and pyzmq for the
  editor's own Python in ``vendor/zmq-cpXY`` (a wheel fetched with pip, or a copy of this Python's
  pyzmq when the versions match and pip cannot reach an index).
* ``<darkroom config>/backend.json`` tells the plugins how to start the daemon (this Python, which
  has torch), following the ``DARKROOM_HOME`` rules.

Idempotent; prints what it does; a manifest in each plugin folder lists what was installed, and
``--uninstall`` removes exactly that. Nothing the user made is overwritten: an existing plugin
folder without our manifest is left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

NAME = "neural_darkroom"
ROOT = Path(__file__).resolve().parent
MANIFEST = ".neural_darkroom_install.json"
CLIENT_MODULES = ["__init__.py", "errors.py", "config.py", "wire.py", "client.py", "lightnames.py",
                  "remote.py"]
HOME = Path.home()


# --- where the editors keep their profiles ------------------------------------------------------

def gimp_profiles() -> list[Path]:
    """GIMP 3.0 profile folders that exist (or the native default when none does)."""
    if sys.platform == "darwin":
        cands = [HOME / "Library/Application Support/GIMP/3.0"]
    elif os.name == "nt":
        cands = [Path(os.environ.get("APPDATA", HOME / "AppData/Roaming")) / "GIMP/3.0"]
    else:
        xdg = Path(os.environ.get("XDG_CONFIG_HOME", HOME / ".config"))
        cands = [xdg / "GIMP/3.0",
                 HOME / ".var/app/org.gimp.GIMP/config/GIMP/3.0",  # Flatpak
                 HOME / "snap/gimp/current/.config/GIMP/3.0"]  # Snap
    found = [c for c in cands if c.is_dir()]
    return found or cands[:1]


def krita_profiles() -> list[tuple[Path, Path]]:
    """(resource folder, kritarc) pairs for Krita 5 installs that exist (or the default)."""
    if sys.platform == "darwin":
        cands = [(HOME / "Library/Application Support/krita", HOME / "Library/Preferences/kritarc")]
    elif os.name == "nt":
        app = Path(os.environ.get("APPDATA", HOME / "AppData/Roaming"))
        local = Path(os.environ.get("LOCALAPPDATA", HOME / "AppData/Local"))
        cands = [(app / "krita", local / "kritarc")]
    else:
        data = Path(os.environ.get("XDG_DATA_HOME", HOME / ".local/share"))
        conf = Path(os.environ.get("XDG_CONFIG_HOME", HOME / ".config"))
        fp = HOME / ".var/app/org.kde.krita"  # Flatpak; AppImages use the native folders
        cands = [(data / "krita", conf / "kritarc"),
                 (fp / "data/krita", fp / "config/kritarc")]
    found = [c for c in cands if c[0].is_dir()]
    return found or cands[:1]


# --- the editors' Python versions ----------------------------------------------------------------

def krita_python() -> str:
    """Krita's Python X.Y: read from the libkritalibkis/pykrita binary's libpython link on Linux;
    the official builds bundle 3.10 (5.1/5.2 AppImage, Windows, macOS)."""
    libs = [*Path("/usr/lib").glob("*/kritaplugins/kritapykrita.so"),
            *Path("/usr/lib").glob("*/krita-python-libs/PyKrita/krita.so")]
    for lib in libs:
        try:
            m = re.search(rb"libpython(3\.\d+)", lib.read_bytes())
        except OSError:
            continue
        if m:
            return m.group(1).decode()
    return "3.10"


def gimp_python() -> str:
    """GIMP 3 runs plug-ins with the system python3 on Linux/macOS; Windows bundles 3.12."""
    if os.name == "nt":
        return "3.12"
    exe = shutil.which("python3")
    if exe:
        out = subprocess.run([exe, "-c", "import sys;print('%d.%d'%sys.version_info[:2])"],
                             capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.strip()
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


# --- vendoring -----------------------------------------------------------------------------------

class Installer:
    def __init__(self, dry_run: bool, offline: bool = False) -> None:
        self.dry = dry_run
        self.offline = offline
        self.made: list[str] = []

    def say(self, msg: str) -> None:
        print(("[dry-run] " if self.dry else "") + msg)

    def copy(self, src: Path, dst: Path) -> None:
        self.made.append(str(dst))
        if self.dry:
            return
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dst)

    def vendor(self, target: Path, pyver: str) -> None:
        vend = target / "vendor"
        for mod in CLIENT_MODULES:
            self.copy(ROOT / "backend/darkroom" / mod, vend / "darkroom" / mod)
        self.copy(ROOT / "plugin/common/darkroom_plugin", vend / "darkroom_plugin")
        self.say(f"  vendored the client and darkroom_plugin into {vend}")
        self.vendor_zmq(vend / f"zmq-cp{pyver.replace('.', '')}", pyver)

    def vendor_zmq(self, dest: Path, pyver: str) -> None:
        if self.dry:
            self.say(f"  would vendor pyzmq for Python {pyver} into {dest}")
            self.made.append(str(dest))
            return
        with tempfile.TemporaryDirectory() as tmp:
            if self.offline:
                tmp = os.path.join(tmp, "offline")  # no wheel: fall through to the copy
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--only-binary=:all:", "--python-version", pyver, "-d", tmp, "pyzmq>=25"]
            ok = not self.offline and subprocess.run(cmd, capture_output=True,
                                                     text=True).returncode == 0
            wheels = list(Path(tmp).glob("pyzmq-*.whl")) if ok else []
            if wheels:
                dest.mkdir(parents=True, exist_ok=True)
                with zipfile.ZipFile(wheels[0]) as z:
                    z.extractall(dest)
                self.made.append(str(dest))
                self.say(f"  vendored {wheels[0].name} into {dest}")
                return
        here = f"{sys.version_info[0]}.{sys.version_info[1]}"
        if here == pyver:
            import zmq

            pkg = Path(zmq.__file__).parent
            self.copy(pkg, dest / "zmq")
            libs = pkg.parent / "pyzmq.libs"
            if libs.is_dir():
                self.copy(libs, dest / "pyzmq.libs")
            self.say(f"  copied this Python's pyzmq (no wheel fetched) into {dest}")
        else:
            self.say(f"  WARNING: no pyzmq wheel for Python {pyver} (no network?); the plugin "
                     f"needs the editor's Python to have pyzmq (e.g. apt install python3-zmq)")

    def new_dirs(self, *paths: Path) -> list[str]:
        """Folders above ``paths`` that do not exist yet (removed again on uninstall if empty)."""
        out: list[str] = []
        for p in paths:
            d = p.parent
            while not d.exists() and str(d) not in out:
                out.append(str(d))
                d = d.parent
        return out

    def write_manifest(self, target: Path, extra: dict[str, object]) -> None:
        if not self.dry:
            data = {"files": self.made, **extra}
            (target / MANIFEST).write_text(json.dumps(data, indent=1), encoding="utf-8")


def _ours_or_absent(path: Path) -> bool:
    return not path.exists() or (path / MANIFEST).exists()


def _previous(target: Path) -> dict[str, object]:
    """What an earlier install of ours recorded (kept across re-installs)."""
    try:
        return json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def install_gimp(profile: Path, inst: Installer) -> None:
    target = profile / "plug-ins" / NAME
    if not _ours_or_absent(target):
        inst.say(f"GIMP: {target} exists and was not made by this installer: left alone.")
        return
    inst.say(f"GIMP 3: installing into {target}")
    created = _previous(target).get("created_dirs") or inst.new_dirs(target / "x")
    if target.exists() and not inst.dry:
        shutil.rmtree(target)  # ours (manifest): a clean reinstall
    inst.made = []
    inst.copy(ROOT / "plugin/gimp" / NAME / f"{NAME}.py", target / f"{NAME}.py")
    if not inst.dry:
        os.chmod(target / f"{NAME}.py", 0o755)
    inst.vendor(target, gimp_python())
    inst.write_manifest(target, {"editor": "gimp", "created_dirs": created})


def _kritarc_enable(rc: Path, enable: bool, inst: Installer) -> None:
    """Set (or remove) ``enable_neural_darkroom`` in the ``[python]`` group, keeping the rest."""
    lines = rc.read_text(encoding="utf-8").splitlines() if rc.exists() else []
    key = f"enable_{NAME}="
    lines = [ln for ln in lines if not ln.startswith(key)]
    if enable:
        if "[python]" in lines:
            lines.insert(lines.index("[python]") + 1, key + "true")
        else:
            lines += (["", "[python]"] if lines else ["[python]"]) + [key + "true"]
    inst.say(f"  {'enabled' if enable else 'removed'} {key.rstrip('=')} in {rc}")
    if not inst.dry:
        rc.parent.mkdir(parents=True, exist_ok=True)
        rc.write_text("\n".join(lines) + "\n", encoding="utf-8")


def install_krita(resources: Path, rc: Path, inst: Installer) -> None:
    pkg = resources / "pykrita" / NAME
    if not _ours_or_absent(pkg):
        inst.say(f"Krita: {pkg} exists and was not made by this installer: left alone.")
        return
    inst.say(f"Krita 5: installing into {resources}")
    prev = _previous(pkg)
    created = prev.get("created_dirs") or inst.new_dirs(
        pkg / "x", resources / "actions/x", rc)
    rc_created = prev.get("kritarc_created", not rc.exists())
    if pkg.exists() and not inst.dry:
        shutil.rmtree(pkg)
    inst.made = []
    src = ROOT / "plugin/krita"
    inst.copy(src / NAME, pkg)
    inst.copy(src / f"{NAME}.desktop", resources / "pykrita" / f"{NAME}.desktop")
    inst.copy(src / f"{NAME}.action", resources / "actions" / f"{NAME}.action")
    inst.vendor(pkg, krita_python())
    _kritarc_enable(rc, True, inst)
    inst.write_manifest(pkg, {"editor": "krita", "kritarc": str(rc), "created_dirs": created,
                              "kritarc_created": rc_created})


def uninstall(folder: Path, inst: Installer) -> None:
    manifest = folder / MANIFEST
    if not manifest.exists():
        inst.say(f"nothing of ours in {folder}")
        return
    data = json.loads(manifest.read_text(encoding="utf-8"))
    for f in sorted(data.get("files", []), key=len, reverse=True):
        p = Path(f)
        inst.say(f"  removing {p}")
        if not inst.dry and p.exists():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    if data.get("kritarc"):
        rc = Path(data["kritarc"])
        _kritarc_enable(rc, False, inst)
        if data.get("kritarc_created") and not inst.dry and rc.exists() \
                and rc.read_text(encoding="utf-8").strip() in ("", "[python]"):
            rc.unlink()  # we made it; nothing of the user's is in it
    if not inst.dry:
        shutil.rmtree(folder, ignore_errors=True)
        for d in sorted(data.get("created_dirs", []), key=len, reverse=True):
            p = Path(d)
            if p.is_dir() and not any(p.iterdir()):
                p.rmdir()  # only folders we created, and only when left empty


def write_backend_json(inst: Installer) -> None:
    """Where the plugins find the daemon: start it with this Python (it has torch)."""
    sys.path.insert(0, str(ROOT / "backend"))
    from darkroom.config import paths

    cfg = paths().config / "backend.json"
    inst.say(f"backend: plugins start the daemon with {sys.executable} -m darkroom serve ({cfg})")
    if not inst.dry:
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(json.dumps({"command": [sys.executable, "-m", "darkroom", "serve"]}),
                       encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gimp", action="store_true", help="only GIMP 3")
    ap.add_argument("--krita", action="store_true", help="only Krita 5")
    ap.add_argument("--uninstall", action="store_true", help="remove what was installed")
    ap.add_argument("--dry-run", action="store_true", help="print, change nothing")
    ap.add_argument("--profile", type=Path, help="the editor's profile/resource folder "
                    "(with --gimp or --krita); Krita's kritarc is then PROFILE/../kritarc")
    ap.add_argument("--editor-python", help="the editor's Python X.Y, when detection is wrong")
    ap.add_argument("--offline", action="store_true", help="fetch nothing: copy this Python's "
                    "pyzmq when its version matches the editor's")
    a = ap.parse_args(argv)
    both = not (a.gimp or a.krita)
    if a.profile and both:
        ap.error("--profile needs --gimp or --krita")
    inst = Installer(a.dry_run, a.offline)
    if a.editor_python:
        global gimp_python, krita_python
        gimp_python = krita_python = lambda: a.editor_python  # noqa: E731
    if a.gimp or both:
        for prof in [a.profile] if a.profile else gimp_profiles():
            target = prof / "plug-ins" / NAME
            uninstall(target, inst) if a.uninstall else install_gimp(prof, inst)
    if a.krita or both:
        pairs = [(a.profile, a.profile.parent / "kritarc")] if a.profile else krita_profiles()
        for res, rc in pairs:
            pkg = res / "pykrita" / NAME
            uninstall(pkg, inst) if a.uninstall else install_krita(res, rc, inst)
    if not a.uninstall:
        write_backend_json(inst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
