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
* Each plugin gets ``ops.json``: the ops' descriptions (``darkroom ops --json``), from which the
  GIMP procedures and Krita's menu entries and dialogs are made (GIMP registers procedures before
  any daemon runs); the plugins refresh it from a newer daemon.
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
from dataclasses import dataclass
from pathlib import Path

NAME = "neural_darkroom"
ROOT = Path(__file__).resolve().parent
MANIFEST = ".neural_darkroom_install.json"
CLIENT_MODULES = ["__init__.py", "errors.py", "config.py", "wire.py", "connection.py", "client.py",
                  "lightnames.py", "remote.py"]
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


@dataclass
class EditorPython:
    """The Python an editor runs plug-ins with: X.Y, and its path as the editor sees it (None
    when it cannot be named, e.g. inside a Flatpak sandbox)."""

    version: str
    exe: str | None = None
    how: str = ""


def _inside(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def _resolve_in(root: Path, path: str) -> str:
    """Follow symlinks of ``path`` as seen from inside ``root`` (a chroot's /usr/bin/python3
    -> python3.13), without leaving it."""
    for _ in range(16):
        host = _inside(root, path)
        if not host.is_symlink():
            return path
        target = os.readlink(host)
        path = target if target.startswith("/") else str(Path(path).parent / target)
    return path


def _version_of(root: Path, exe: str) -> str | None:
    exe = _resolve_in(root, exe)
    m = re.search(r"python(3\.\d+)$", exe)
    if m:
        return m.group(1)
    if root == Path("/") and Path(exe).exists():
        out = subprocess.run([exe, "-c", "import sys;print('%d.%d'%sys.version_info[:2])"],
                             capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.strip()
    return None


def gimp_python(root: Path = Path("/")) -> EditorPython | None:
    """GIMP 3's Python, found from GIMP's own files under ``root`` (``/``, a chroot, a
    Flatpak's files), never from PATH.

    * An interpreter file (``lib/gimp/3.0/interpreters/*.interp``, as the Windows and macOS
      builds ship) naming ``python=…``: that program.
    * Otherwise (Linux distributions) GIMP runs the plug-in's ``#!`` line, and the Python that
      can is the one holding PyGObject (``gi``) next to GIMP's typelib: its compiled module's
      ABI tag (``_gi.cpython-313-…``) gives X.Y, and the installer writes that Python's path
      into the plug-in's ``#!`` line, so a virtualenv first on PATH cannot take over.
    """
    libdirs = [_inside(root, d) for d in ("usr/lib", "usr/lib64", "usr/local/lib", "app/lib",
                                          "lib", "files/lib")]
    for d in libdirs:
        found = [*d.glob("gimp/3.0/interpreters/*.interp"),
                 *d.glob("*/gimp/3.0/interpreters/*.interp")] if d.is_dir() else []
        for interp in sorted(found):
            for line in interp.read_text(encoding="utf-8", errors="replace").splitlines():
                m = re.match(r"\s*(python3?)=(\S+)", line)
                if m:
                    ver = _version_of(root, m.group(2))
                    if ver:
                        return EditorPython(ver, m.group(2), f"from {interp}")
    typelib = [t for d in libdirs if d.is_dir()
               for t in d.glob("*/girepository-1.0/Gimp-3.0.typelib")] + \
              [t for d in libdirs if d.is_dir() for t in d.glob("girepository-1.0/Gimp-3.0.typelib")]
    if not typelib:
        return None
    for d in libdirs:
        for gi in sorted(d.glob("python3*/*-packages/gi/_gi.cpython-3*.so")) if d.is_dir() else []:
            m = re.search(r"cpython-3(\d+)", gi.name)
            if not m:
                continue
            ver = f"3.{m.group(1)}"
            for exe in (f"/usr/bin/python{ver}", "/usr/bin/python3", f"/app/bin/python{ver}"):
                if _inside(root, exe).exists() and _version_of(root, exe) == ver:
                    return EditorPython(ver, exe, f"PyGObject for Python {ver} beside {typelib[0]}")
            return EditorPython(ver, None, f"PyGObject for Python {ver}")
    return None


# --- vendoring -----------------------------------------------------------------------------------

class Installer:
    def __init__(self, dry_run: bool, offline: bool = False, wheels: Path | None = None) -> None:
        self.dry = dry_run
        self.offline = offline
        self.wheels = wheels  #: a folder of pyzmq wheels to take before asking an index
        self.made: list[str] = []
        self._ops: str | None = None

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
        self.record(vend / "darkroom" / "installed.json")
        self.vendor_zmq(vend / f"zmq-cp{pyver.replace('.', '')}", pyver)
        self.describe_ops(target / "ops.json")

    def describe_ops(self, path: Path) -> None:
        """The ops' descriptions beside the plugin, from this Python's backend (the one the
        plugins start), asked once per run."""
        self.made.append(str(path))
        if self.dry:
            self.say(f"  would write the ops' descriptions to {path}")
            return
        if self._ops is None:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                [str(ROOT / "backend"), *filter(None, [os.environ.get("PYTHONPATH")])])}
            res = subprocess.run([sys.executable, "-m", "darkroom", "ops", "--json"], env=env,
                                 capture_output=True, text=True)
            try:
                ops = json.loads(res.stdout)["ops"] if res.returncode == 0 else None
            except (ValueError, KeyError, TypeError):
                ops = None
            if ops is None:
                tail = (res.stderr.strip().splitlines() or ["no output"])[-1]
                self.say(f"  WARNING: could not list the backend's ops ({tail}); the editors "
                         "will show only Backend status until it runs (then restart them)")
                self._ops = ""
            else:
                self._ops = res.stdout
                names = ", ".join(o["name"] for o in ops)
                self.say(f"  described {len(ops)} ops for the editors: {names}")
        if self._ops:
            path.write_text(self._ops, encoding="utf-8")

    def record(self, path: Path) -> None:
        """What the editor's Python cannot find out by itself: DARKROOM_HOME (when the user has
        one) and how to start the daemon. Read by the vendored ``darkroom.config``."""
        self.made.append(str(path))
        if not self.dry:
            path.write_text(json.dumps(installed_record(), indent=1), encoding="utf-8")

    def vendor_zmq(self, dest: Path, pyver: str) -> None:
        if self.dry:
            self.say(f"  would vendor pyzmq for Python {pyver} into {dest}")
            self.made.append(str(dest))
            return
        local = [w for w in sorted(self.wheels.glob("pyzmq-*.whl")) if _wheel_fits(w.name, pyver)] \
            if self.wheels else []
        if local:
            dest.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(local[-1]) as z:
                z.extractall(dest)
            self.made.append(str(dest))
            self.say(f"  vendored {local[-1].name} (from {self.wheels}) into {dest}")
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


def _wheel_fits(name: str, pyver: str) -> bool:
    """Does the wheel file ``name`` run on CPython ``pyver`` on this platform? (``cp313``, or
    the stable ABI ``cp3X-abi3`` with 3.X ≤ the editor's.)"""
    parts = name[:-4].split("-")
    if len(parts) < 5:
        return False
    py, abi, plat = parts[-3], parts[-2], parts[-1]
    want = int(pyver.split(".")[1])
    minors = [int(t[3:]) for t in py.split(".") if t.startswith("cp3") and t[3:].isdigit()]
    ok_py = any(m == want or (abi == "abi3" and m <= want) for m in minors)
    system = "win" if os.name == "nt" else "macosx" if sys.platform == "darwin" else "linux"
    return ok_py and system in plat


def _ours_or_absent(path: Path) -> bool:
    return not path.exists() or (path / MANIFEST).exists()


def _previous(target: Path) -> dict[str, object]:
    """What an earlier install of ours recorded (kept across re-installs)."""
    try:
        return json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def install_gimp(profile: Path, inst: Installer, py: EditorPython | None) -> None:
    target = profile / "plug-ins" / NAME
    if not _ours_or_absent(target):
        inst.say(f"GIMP: {target} exists and was not made by this installer: left alone.")
        return
    inst.say(f"GIMP 3: installing into {target}")
    created = _previous(target).get("created_dirs") or inst.new_dirs(target / "x")
    if target.exists() and not inst.dry:
        shutil.rmtree(target)  # ours (manifest): a clean reinstall
    inst.made = []
    if py is None:
        here = f"{sys.version_info[0]}.{sys.version_info[1]}"
        py = EditorPython("3.12" if os.name == "nt" else here, None, "guessed")
        inst.say(f"  WARNING: GIMP 3 was not found on this machine; assuming its Python is {py.version}"
                 " (use --editor-python X.Y, or --gimp-root DIR for a GIMP under another root)")
    else:
        inst.say(f"  GIMP's Python: {py.version}" + (f" ({py.exe})" if py.exe else "")
                 + f", {py.how}")
    script = target / f"{NAME}.py"
    inst.copy(ROOT / "plugin/gimp" / NAME / f"{NAME}.py", script)
    if not inst.dry:
        if py.exe and os.name == "posix":
            # GIMP runs the #! line: name GIMP's own Python, not whatever python3 is on PATH
            # (a virtualenv's, without PyGObject) when the editor starts.
            text = script.read_text(encoding="utf-8").split("\n", 1)
            script.write_text(f"#!{py.exe}\n{text[1]}", encoding="utf-8")
        os.chmod(script, 0o755)
    inst.vendor(target, py.version)
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


def backend_record() -> dict[str, object]:
    """How the plugins start the daemon: this Python (it has torch), with DARKROOM_HOME when the
    user installs with one (the editor, started from a desktop menu, will not have it)."""
    env = {"DARKROOM_HOME": os.environ["DARKROOM_HOME"]} if os.environ.get("DARKROOM_HOME") else {}
    return {"command": [sys.executable, "-m", "darkroom", "serve"], "env": env}


def installed_record() -> dict[str, object]:
    return {"darkroom_home": os.environ.get("DARKROOM_HOME") or None,
            "backend": backend_record()}


def write_backend_json(inst: Installer) -> None:
    """Where the plugins find the daemon: start it with this Python (it has torch). Also
    recorded beside each plugin's vendored client (``installed.json``)."""
    sys.path.insert(0, str(ROOT / "backend"))
    from darkroom.config import paths

    where = paths()
    cfg = where.config / "backend.json"
    inst.say(f"backend: plugins start the daemon with {sys.executable} -m darkroom serve ({cfg})")
    inst.say(f"backend: connection file {where.connection_file}, log {where.log_file}")
    if not inst.dry:
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(json.dumps(backend_record()), encoding="utf-8")


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
    ap.add_argument("--wheels", type=Path, metavar="DIR", help="a folder of pyzmq wheels to use "
                    "before asking the package index (offline machines)")
    ap.add_argument("--gimp-root", type=Path, default=Path("/"), metavar="DIR",
                    help="where GIMP is installed when not in / (a chroot or container root); "
                    "its Python is looked for there")
    a = ap.parse_args(argv)
    both = not (a.gimp or a.krita)
    if a.profile and both:
        ap.error("--profile needs --gimp or --krita")
    inst = Installer(a.dry_run, a.offline, a.wheels)
    if a.editor_python:
        global krita_python
        krita_python = lambda: a.editor_python  # noqa: E731
    if a.gimp or both:
        py = gimp_python(a.gimp_root) if not a.uninstall else None
        if a.editor_python:
            py = EditorPython(a.editor_python, py.exe if py and py.version == a.editor_python
                              else None, "given with --editor-python")
        for prof in [a.profile] if a.profile else gimp_profiles():
            target = prof / "plug-ins" / NAME
            uninstall(target, inst) if a.uninstall else install_gimp(prof, inst, py)
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
