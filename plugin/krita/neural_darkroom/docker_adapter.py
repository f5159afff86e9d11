"""The Neural Darkroom docker: backend status, sketch-index folders with "Index now", and a
light-position pad that re-renders the active light stack at draft quality when clicked."""

from __future__ import annotations

from typing import Any

from darkroom_plugin import MENU_TITLE, PLUGIN_NAME
from darkroom_plugin import settings as st
from krita import DockWidget, DockWidgetFactory, DockWidgetFactoryBase
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor, QPainter
from PyQt5.QtWidgets import QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget

_CONTROLLER: Any = None


class LightPad(QWidget):
    """A square standing for the light plane [0, 1]²; a click relights at that (u, v)."""

    def __init__(self, on_pick: Any) -> None:
        super().__init__()
        self.setMinimumSize(120, 120)
        self.on_pick = on_pick
        self.uv = (0.5, 0.5)

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 40))
        x, y = self.uv[0] * self.width(), self.uv[1] * self.height()
        p.setBrush(QColor(255, 220, 120))
        p.drawEllipse(int(x) - 5, int(y) - 5, 10, 10)

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
        self.status = QLabel("Backend: not checked")
        self.status.setWordWrap(True)
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
        lay.addWidget(QLabel("Light position (click to relight the active stack):"))
        lay.addWidget(LightPad(self._relight), 1, Qt.AlignHCenter)
        self.setWidget(body)

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
        _CONTROLLER._guard(lambda: _CONTROLLER.index(s.index_folders))

    def _relight(self, u: float, v: float) -> None:
        if _CONTROLLER.busy:
            return  # one quick render at a time; the next click after it lands re-renders
        got = _CONTROLLER._doc_and_node()
        if got is not None:
            light = {"position": [u, v], "color": [1.0, 1.0, 1.0], "intensity": 1.0}
            _CONTROLLER._guard(lambda: _CONTROLLER.relight(*got, [light], "draft"))


def register_docker(app: Any, controller: Any) -> None:
    global _CONTROLLER
    _CONTROLLER = controller
    app.addDockWidgetFactory(DockWidgetFactory(f"{PLUGIN_NAME}_docker",
                                               DockWidgetFactoryBase.DockRight, DarkroomDocker))
