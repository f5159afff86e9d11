"""The Neural Darkroom docker: backend status, sketch-index folders with "Index now", and a
light pad that re-renders the active light stack at draft quality when clicked (a square for
plane positions, the hemisphere seen from above for directions; the captured lights are drawn
as dots)."""

from __future__ import annotations

from typing import Any

from darkroom_plugin import MENU_TITLE, PLUGIN_NAME, flows
from darkroom_plugin import settings as st
from krita import DockWidget, DockWidgetFactory, DockWidgetFactoryBase
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor, QPainter
from PyQt5.QtWidgets import QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget

_CONTROLLER: Any = None


class LightPad(QWidget):
    """The light plane [0, 1]² (position stacks) or the hemisphere seen from above (direction
    stacks); a click asks for the light there (:func:`darkroom_plugin.flows.pad_light`)."""

    def __init__(self, on_pick: Any) -> None:
        super().__init__()
        self.setMinimumSize(120, 120)
        self.on_pick = on_pick
        self.uv = (0.5, 0.5)
        self.kind = "position"
        self.captured: list[tuple[float, float]] = []

    def show_stack(self, kind: str, lights: list[dict[str, Any]]) -> None:
        self.kind = kind
        self.captured = [p for p in (flows.pad_point(lt) for lt in lights) if p is not None]
        self.update()

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(40, 40, 40))
        if self.kind == "direction":
            p.setPen(QColor(110, 110, 110))
            p.drawEllipse(0, 0, w - 1, h - 1)
        p.setPen(QColor(150, 150, 150))
        p.setBrush(QColor(150, 150, 150))
        for u, v in self.captured:
            p.drawEllipse(int(u * w) - 2, int(v * h) - 2, 4, 4)
        p.setBrush(QColor(255, 220, 120))
        p.drawEllipse(int(self.uv[0] * w) - 5, int(self.uv[1] * h) - 5, 10, 10)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self.uv = (min(1.0, max(0.0, event.x() / self.width())),
                   min(1.0, max(0.0, event.y() / self.height())))
        self.update()
        self.on_pick(*self.uv)


class DarkroomDocker(DockWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(MENU_TITLE)
        body = QWidget(self)
        lay = QVBoxLayout(body)
        self.status = QLabel(_CONTROLLER.status_line)
        self.status.setObjectName("darkroom_status_label")
        self.status.setWordWrap(True)
        _CONTROLLER.status_listeners.append(self.status.setText)
        check = QPushButton("Backend status")
        check.clicked.connect(lambda: _CONTROLLER.on_status())
        folders = QPushButton("Sketch photo folders…")
        folders.clicked.connect(self._pick_folders)
        index = QPushButton("Index now")
        index.clicked.connect(self._index)
        lay.addWidget(self.status)
        lay.addWidget(check)
        lay.addWidget(folders)
        lay.addWidget(index)
        lay.addWidget(QLabel("Light (click to relight the active stack):"))
        self.pad = LightPad(self._relight)
        self.pad.setObjectName("darkroom_light_pad")
        lay.addWidget(self.pad, 1, Qt.AlignHCenter)
        self.setWidget(body)
        # a quiet first look: is a backend already running? (never starts one, never blocks)
        _CONTROLLER.check_status(tell=False, start=False)

    def canvasChanged(self, canvas: Any) -> None:  # noqa: N802 - Krita's name
        pass

    def _pick_folders(self) -> None:
        s = st.load()
        folder = QFileDialog.getExistingDirectory(self, "Photo folder for sketch search")
        if folder and folder not in s.index_folders:
            s.index_folders.append(folder)
            st.save(s)
        self.status.setText("Photo folders: " + ("; ".join(s.index_folders) or "none"))

    def _index(self) -> None:
        s = st.load()
        if s.index_folders:
            self.status.setText(f"Indexing {len(s.index_folders)} folder(s)…")
        _CONTROLLER._guard(lambda: _CONTROLLER.index(s.index_folders))

    def _relight(self, u: float, v: float) -> None:
        if _CONTROLLER.busy:
            return  # one quick render at a time; the next click after it lands re-renders
        got = _CONTROLLER._doc_and_node()
        if got is not None:
            _CONTROLLER._guard(lambda: self._relight_at(*got, u, v))

    def _relight_at(self, doc: Any, node: Any, u: float, v: float) -> None:
        from . import document_adapter as da

        kind, lights = flows.stack_lights(da.stack_names(da.stack_group(node)))
        self.pad.show_stack(kind, lights)
        light = {**flows.pad_light(u, v, kind), "color": [1.0, 1.0, 1.0], "intensity": 1.0}
        desc = _CONTROLLER.desc("relight.render")
        if desc is None:
            _CONTROLLER.tell("The plugin has no description of the relighting op: run "
                             "'python install.py' again, then restart Krita.")
            return
        _CONTROLLER.run_op(doc, node, desc, {"lights": [light], "quality": "draft"})


def register_docker(app: Any, controller: Any) -> None:
    global _CONTROLLER
    _CONTROLLER = controller
    app.addDockWidgetFactory(DockWidgetFactory(f"{PLUGIN_NAME}_docker",
                                               DockWidgetFactoryBase.DockRight, DarkroomDocker))
