"""The dialogs behind the menu entries (Qt widgets only; values go back as plain dicts)."""

from __future__ import annotations

from typing import Any

from darkroom_plugin import MENU_TITLE, flows
from darkroom_plugin import requests as rq
from darkroom_plugin import settings as st
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLineEdit,
    QSpinBox,
)

from . import document_adapter as da

_FILE = "Image file…"
_NONE = "(none)"


def _paint_layers(node: Any) -> list[Any]:
    out = []
    for child in node.childNodes():
        if child.type() == "paintlayer":
            out.append(child)
        out.extend(_paint_layers(child))
    return out


def _form(title: str) -> tuple[QDialog, QFormLayout]:
    dlg = QDialog()
    dlg.setWindowTitle(f"{MENU_TITLE}: {title}")
    return dlg, QFormLayout(dlg)


def _run(dlg: QDialog, form: QFormLayout) -> bool:
    box = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
    box.accepted.connect(dlg.accept)
    box.rejected.connect(dlg.reject)
    form.addRow(box)
    return dlg.exec_() == QDialog.Accepted


def style_dialog(doc: Any, content: Any, s: st.Settings) -> dict[str, Any] | None:
    every = [n for n in _paint_layers(doc.rootNode()) if n.uniqueId() != content.uniqueId()]
    # the user's own layers first: a previous result is rarely the style wanted
    layers = [every[i] for i in flows.style_choices([n.name() for n in every])]
    dlg, form = _form("Photo Style Transfer")
    style = QComboBox()
    style.addItems([n.name() for n in layers] + [_FILE])
    labels_c, labels_s = QComboBox(), QComboBox()
    for combo in (labels_c, labels_s):
        combo.addItems([_NONE] + [n.name() for n in layers])
    mode, quality = QComboBox(), QComboBox()
    mode.addItems(list(rq.STYLE_MODES))
    quality.addItems(list(rq.QUALITIES))
    quality.setCurrentText(s.quality)
    strength = QDoubleSpinBox()
    strength.setRange(0.0, 1.0)
    strength.setSingleStep(0.05)
    strength.setValue(1.0)
    keep = QCheckBox("Keep the content's colours")
    regions = QCheckBox("Also add the regions it paired (a layer)")
    for w, name in ((style, "style"), (labels_c, "content_labels"), (labels_s, "style_labels"),
                    (mode, "mode"), (quality, "quality"), (strength, "strength"),
                    (keep, "preserve_colors"), (regions, "show_regions")):
        w.setObjectName(f"darkroom_{name}")  # names the editor tests find the fields by
    dlg.setObjectName("darkroom_style_dialog")
    form.addRow(f"Content: {content.name()}", None)
    for label, w in (("Style", style), ("Content labels", labels_c), ("Style labels", labels_s),
                     ("Mode", mode), ("Strength", strength), ("Quality", quality), ("", keep),
                     ("", regions)):
        form.addRow(label, w)
    if not _run(dlg, form):
        return None
    if style.currentText() == _FILE:
        path, _ = QFileDialog.getOpenFileName(None, "Style image", "",
                                              "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp)")
        if not path:
            return None
        style_obj: Any = da.read_file(path)
    else:
        style_obj = layers[style.currentIndex()]

    def pick(combo: QComboBox) -> Any:
        return None if combo.currentIndex() == 0 else layers[combo.currentIndex() - 1]
    return {"style": style_obj, "mode": mode.currentText(), "strength": strength.value(),
            "quality": quality.currentText(), "preserve_colors": keep.isChecked(),
            "show_regions": regions.isChecked(),
            "content_labels": pick(labels_c), "style_labels": pick(labels_s)}


def relight_dialog(s: st.Settings) -> dict[str, Any] | None:
    dlg, form = _form("Relight")
    lights = QLineEdit("0.5,0.5")
    lights.setToolTip("One or more lights separated by ';': U,V (position on the light plane, "
                      "0..1) or X,Y,Z (direction), then optionally :R,G,B colour and @intensity, "
                      "e.g. 0.2,0.8:1,0.8,0.6@1.5; 0.9,0.5")
    quality = QComboBox()
    quality.addItems(list(rq.QUALITIES))
    quality.setCurrentText(s.quality)
    form.addRow("Target lights", lights)
    form.addRow("Quality", quality)
    if not _run(dlg, form):
        return None
    return {"lights": lights.text(), "quality": quality.currentText()}


def sketch_dialog(s: st.Settings) -> dict[str, Any] | None:
    dlg, form = _form("Sketch Search")
    k = QSpinBox()
    k.setRange(1, 50)
    k.setValue(s.sketch_k)
    output = QComboBox()
    output.addItems(["layers", "images"])
    output.setCurrentText(s.sketch_output)
    form.addRow("Photo folders", None)
    form.addRow("  " + ("; ".join(s.index_folders) or "none set: use the docker's settings"), None)
    form.addRow("Matches", k)
    form.addRow("Show as new", output)
    if not _run(dlg, form):
        return None
    s.sketch_k, s.sketch_output = k.value(), output.currentText()
    st.save(s)
    return {"k": k.value(), "output": output.currentText()}


def folder_dialog(title: str, name: str) -> str:
    """A folder chosen by the user ("" when cancelled). Qt's own dialog (not the desktop's), so
    it looks the same everywhere and the editor tests can answer it."""
    dlg = QFileDialog(None, f"{MENU_TITLE}: {title}")
    dlg.setObjectName(name)
    dlg.setFileMode(QFileDialog.Directory)
    dlg.setOption(QFileDialog.ShowDirsOnly, True)
    dlg.setOption(QFileDialog.DontUseNativeDialog, True)
    if dlg.exec_() != QDialog.Accepted or not dlg.selectedFiles():
        return ""
    return dlg.selectedFiles()[0]
