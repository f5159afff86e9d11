"""Small stand-ins for the editors' modules (``krita``, ``PyQt5``, ``gi``) so the adapters
import and their layer code runs in tests. Only what the adapters touch is modelled; anything
else is an inert class (a widget, a painter) that accepts any call."""

from __future__ import annotations

import sys
import types
from typing import Any


class Inert:
    """Accepts any constructor arguments, attribute or call (widgets, timers, signals)."""

    def __init__(self, *a: Any, **k: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return Inert()

    def __call__(self, *a: Any, **k: Any) -> Any:
        return Inert()


def _module(name: str, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    mod.__getattr__ = lambda attr: type(attr, (Inert,), {})  # type: ignore[attr-defined]
    return mod


class QByteArray(bytes):
    pass


def install_krita(monkeypatch: Any) -> None:
    qtcore = _module("PyQt5.QtCore", QByteArray=QByteArray)
    mods = {
        "krita": _module("krita", Krita=type("Krita", (), {"instance": staticmethod(lambda: None)})),
        "PyQt5": _module("PyQt5"),
        "PyQt5.QtCore": qtcore,
        "PyQt5.QtGui": _module("PyQt5.QtGui"),
        "PyQt5.QtWidgets": _module("PyQt5.QtWidgets"),
    }
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    for name in [m for m in sys.modules if m.startswith("neural_darkroom")]:
        monkeypatch.delitem(sys.modules, name)


class Rect:
    def __init__(self, x: int, y: int, w: int, h: int) -> None:
        self._r = (x, y, w, h)

    def x(self) -> int:
        return self._r[0]

    def y(self) -> int:
        return self._r[1]

    def width(self) -> int:
        return self._r[2]

    def height(self) -> int:
        return self._r[3]


class KritaNode:
    """A Krita ``Node`` holding one rectangle of B,G,R,A samples."""

    def __init__(self, name: str, depth: str = "U8", rect: Rect | None = None, data: bytes = b"",
                 kind: str = "paintlayer", children: list[Any] | None = None,
                 model: str = "RGBA") -> None:
        self._name, self.depth, self.rect, self.data, self.kind = name, depth, rect, data, kind
        self.model = model
        self.children = children or []
        self.parent: Any = None
        for c in self.children:
            c.parent = self
        self.set_calls: list[tuple[bytes, int, int, int, int]] = []

    def name(self) -> str:
        return self._name

    def type(self) -> str:
        return self.kind

    def colorModel(self) -> str:  # noqa: N802 - Krita's names
        return self.model

    def uniqueId(self) -> int:  # noqa: N802
        return id(self)

    def setOpacity(self, value: int) -> None:  # noqa: N802
        self.opacity = value

    def colorDepth(self) -> str:  # noqa: N802
        return self.depth

    def colorProfile(self) -> str:  # noqa: N802
        return "sRGB-elle-V2-g10.icc" if self.depth.startswith("F") else "sRGB-elle-V2-srgbtrc.icc"

    def bounds(self) -> Rect:
        return self.rect or Rect(0, 0, 0, 0)

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:  # noqa: N802
        assert (x, y, w, h) == self.rect._r, "the adapter must read the layer's own rectangle"
        return self.data

    def setPixelData(self, data: bytes, x: int, y: int, w: int, h: int) -> None:  # noqa: N802
        self.set_calls.append((bytes(data), x, y, w, h))

    def childNodes(self) -> list[Any]:  # noqa: N802
        return list(self.children)

    def parentNode(self) -> Any:  # noqa: N802
        return self.parent

    def remove(self) -> bool:
        if self.parent is not None:
            self.parent.children.remove(self)
            self.parent = None
        return True

    def addChildNode(self, node: Any, above: Any) -> bool:  # noqa: N802
        node.parent = self
        at = self.children.index(above) + 1 if above in self.children else 0
        self.children.insert(at, node)
        return True


class KritaDoc:
    def __init__(self, root: KritaNode, depth: str = "U8") -> None:
        self.root, self.depth, self.refreshed = root, depth, 0

    def createNode(self, name: str, kind: str) -> KritaNode:  # noqa: N802
        return KritaNode(name, self.depth, kind=kind)

    def createGroupLayer(self, name: str) -> KritaNode:  # noqa: N802
        return KritaNode(name, self.depth, kind="grouplayer")

    def rootNode(self) -> KritaNode:  # noqa: N802
        return self.root

    def refreshProjection(self) -> None:  # noqa: N802
        self.refreshed += 1


class _InertMeta(type):
    def __getattr__(cls, name: str) -> Any:
        return Inert()


class GInert(Inert, metaclass=_InertMeta):
    """Like :class:`Inert`, and its class attributes are inert too (``GObject.ParamFlags.X``)."""


def _gi_module(name: str, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    mod.__getattr__ = lambda attr: type(attr, (GInert,), {})  # type: ignore[attr-defined]
    return mod


def load_gimp_plugin(monkeypatch: Any, path: Any) -> Any:
    """Import the GIMP plug-in file (by path: its name clashes with the Krita package) with a
    fake ``gi``; returns the module."""
    import importlib.util

    gimp = _gi_module("Gimp", Precision=lambda p: types.SimpleNamespace(value_nick=p))
    gegl = _gi_module("Gegl", Rectangle=types.SimpleNamespace(new=lambda *r: r))
    repo = _gi_module("gi.repository", Gimp=gimp, Gegl=gegl, GLib=_gi_module("GLib"),
                      GObject=_gi_module("GObject"))
    gi = _gi_module("gi", require_version=lambda *a: None, repository=repo)
    monkeypatch.setitem(sys.modules, "gi", gi)
    monkeypatch.setitem(sys.modules, "gi.repository", repo)
    spec = importlib.util.spec_from_file_location("gimp_neural_darkroom", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
