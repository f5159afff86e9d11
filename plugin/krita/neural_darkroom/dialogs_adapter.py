"""The dialogs behind the menu entries, made from the ops' descriptions (Qt widgets only;
values go back as plain dicts)."""

from __future__ import annotations

from typing import Any

from darkroom_plugin import MENU_TITLE, flows, opdesc, opflow
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
    QWidget,
)

_FILE = "Image file…"
_NONE = "(none)"
_BIG = 2 ** 31 - 1


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


def _field(p: opdesc.ParamDesc, value: Any) -> QWidget:
    """The widget for one parameter: a check box, a spin box with the op's range, a list of
    its choices, or a line of text."""
    w: QWidget
    if p.kind == "bool":
        w = QCheckBox(p.label)
        w.setChecked(bool(value))
    elif p.kind == "int":
        w = QSpinBox()
        w.setRange(int(p.minimum) if p.minimum is not None else -_BIG,
                   int(p.maximum) if p.maximum is not None else _BIG)
        w.setValue(int(value or 0))
    elif p.kind == "float":
        w = QDoubleSpinBox()
        lo = p.minimum if p.minimum is not None else -1e9
        hi = p.maximum if p.maximum is not None else 1e9
        w.setRange(lo, hi)
        w.setDecimals(2 if hi - lo <= 10 else 1)
        w.setSingleStep((hi - lo) / 20 if hi - lo <= 100 else 1.0)
        w.setValue(float(value or 0.0))
    elif p.choices:
        w = QComboBox()
        w.addItems([str(c) for c in p.choices])
        w.setCurrentText(str(value))
    else:
        w = QLineEdit(str(value if value is not None else ""))
    w.setObjectName(f"darkroom_{p.name}")  # names the editor tests find the fields by
    w.setToolTip(p.help)
    return w


def _value(p: opdesc.ParamDesc, w: Any) -> Any:
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, (QSpinBox, QDoubleSpinBox)):
        return w.value()
    if isinstance(w, QComboBox):
        return w.currentText()
    return w.text()


def _last(p: opdesc.ParamDesc, last: dict[str, Any]) -> Any:
    """The field's first value: the last one used, if it is still valid for the parameter (a
    newer backend may have changed its range or choices), else the op's default."""
    if p.name in last:
        try:
            return opdesc.check_value(p, last[p.name]) if not p.text else str(last[p.name])
        except Exception:  # noqa: BLE001 - a stale or damaged value: the default instead
            pass
    return p.initial()


def op_dialog(desc: opdesc.OpDesc, doc: Any, node: Any, last: dict[str, Any],
              s: st.Settings) -> dict[str, Any] | None:
    """The dialog for any described op, made from its description: a layer list (with "Image
    file…") per input to pick, a field per shown parameter, the last values first. Returns the
    values (parameters by name, picked inputs by role: a node, a file path or None), or None
    when cancelled."""
    every = [n for n in _paint_layers(doc.rootNode()) if n.uniqueId() != node.uniqueId()]
    every.reverse()  # top first, as the Layers docker lists them: a pasted-in picture leads
    # the user's own layers first: a previous result is rarely the one wanted
    layers = [every[i] for i in flows.style_choices([n.name() for n in every])]
    dlg, form = _form(desc.title.rstrip("…"))
    dlg.setObjectName(f"darkroom_{desc.name.replace('.', '_')}_dialog")
    if desc.source is not None:
        form.addRow(f"{desc.source.label}: {node.name()}", None)
    pickers: dict[str, tuple[opdesc.ImageDesc, QComboBox]] = {}
    for inp in desc.picked:
        combo = QComboBox()
        combo.addItems(([_NONE] if inp.optional else []) + [n.name() for n in layers] + [_FILE])
        combo.setObjectName(f"darkroom_{inp.role}")
        combo.setToolTip(inp.help)
        form.addRow(inp.label, combo)
        pickers[inp.role] = (inp, combo)
    fields: dict[str, tuple[opdesc.ParamDesc, QWidget]] = {}
    for p in desc.shown:
        w = _field(p, _last(p, last))
        form.addRow("" if p.kind == "bool" else p.label, w)
        fields[p.name] = (p, w)
    output = None
    if desc.result_group:  # results as a layer group here, or each as a new image
        output = QComboBox()
        output.addItems(list(opflow.OUTPUTS))
        output.setCurrentText(str(last.get("output", "layers")))
        output.setObjectName("darkroom_output")
        form.addRow("Show as new", output)
    if not _run(dlg, form):
        return None
    values: dict[str, Any] = {name: _value(p, w) for name, (p, w) in fields.items()}
    for role, (inp, combo) in pickers.items():
        text, at = combo.currentText(), combo.currentIndex() - (1 if inp.optional else 0)
        if text == _NONE and inp.optional and combo.currentIndex() == 0:
            values[role] = None
        elif text == _FILE and at == len(layers):
            path, _ = QFileDialog.getOpenFileName(
                None, f"{inp.label} image", "", "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp)")
            if not path:
                return None
            values[role] = path
        else:
            values[role] = layers[at]
    if output is not None:
        values["output"] = output.currentText()
    return values


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
