"""Test driver, installed beside the real plugin in a throw-away Krita profile.

It uses the plugin as a user does: triggers the plugin's own QActions (the *Tools → Scripts →
Neural Darkroom* menu entries), fills in the dialogs they open (found as the application's
modal widget), closes the message boxes after reading them, and clicks the docker's light pad.
No daemon is started for it: the plugin must start one itself. Results are written to
``DRIVER_OUT`` (JSON) in a ``finally``, then Krita is quit hard.

A watchdog ends the run when nothing has moved (no step done, no job progress) for
``stall_s`` seconds: a stalled run fails, a slow one does not.
"""

import json
import os
import time
import traceback

from krita import Krita
from PyQt5.QtCore import QByteArray, QTimer
from PyQt5.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox

CFG = json.loads(os.environ.get("DRIVER_CONFIG", "{}"))
OUT = os.environ.get("DRIVER_OUT", "/tmp/darkroom_driver.json")
report = {"checks": {}, "errors": [], "log": [], "messages": []}
STATE = {"moved": time.monotonic(), "step": "start", "fraction": -1.0, "dialogs": []}
# Big enough that the first (standard-quality) style job runs for a few seconds on a quiet
# machine and streams several previews; a job that ends within one poll shows none.
W, H = 320, 240


def check(name, ok, detail=""):
    report["checks"][name] = {"ok": bool(ok), "detail": str(detail)}


def moved(step=None):
    STATE["moved"] = time.monotonic()
    if step:
        STATE["step"] = step
        report["log"].append(f"{time.strftime('%H:%M:%S')} {step}")


def finish():
    try:
        with open(OUT, "w") as f:
            json.dump(report, f, indent=1)
    finally:
        os._exit(0)


def guarded(fn):
    """Qt swallows exceptions raised in timer callbacks: record them and stop instead."""
    def run_():
        try:
            fn()
        except Exception:
            report["errors"].append(traceback.format_exc())
            finish()
    return run_


def paint(doc, name, bgra, parent=None, above=None):
    node = doc.createNode(name, "paintlayer")
    (parent or doc.rootNode()).addChildNode(node, above)
    node.setPixelData(QByteArray(bytes(bgra) * (W * H)), 0, 0, W, H)
    return node


# --- what a user does with modal windows ----------------------------------------------------

def answer_modals():
    """Every 200 ms: read and close message boxes; fill a dialog with the next queued answer."""
    w = QApplication.activeModalWidget()
    if isinstance(w, QMessageBox):
        report["messages"].append(w.text())
        moved(f"message: {w.text()[:80]}")
        w.accept()
    elif isinstance(w, QFileDialog) and w.objectName() == "darkroom_stack_folder":
        folder = CFG["stack_folder"]
        moved(f"folder dialog: {folder}")
        w.setDirectory(folder)  # inside the folder, as a user double-clicks into it
        w.accept()
    elif isinstance(w, QDialog) and w.objectName().startswith("darkroom_") and STATE["dialogs"]:
        fill = STATE["dialogs"].pop(0)
        moved(f"dialog {w.objectName()}")
        fill(w)


def watch_previews():
    """While a job runs: is the plugin's temporary preview layer in the document?"""
    ctl = controller()
    doc = Krita.instance().activeDocument()
    if ctl is not None and ctl.busy and doc is not None:
        names = [n.name() for n in doc.rootNode().childNodes()]
        if "Neural Darkroom preview" in names:
            STATE["preview_seen"] = STATE.get("preview_seen", 0) + 1


def watchdog():
    ctl = controller()
    job = ctl.job if ctl is not None else None
    if job is not None and job.fraction != STATE["fraction"]:
        STATE["fraction"] = job.fraction
        moved()
    if time.monotonic() - STATE["moved"] > float(CFG.get("stall_s", 300)):
        report["errors"].append(f"no progress for {CFG.get('stall_s', 300)} s at step "
                                f"'{STATE['step']}' (log: {report['log'][-3:]})")
        finish()


def controller():
    from neural_darkroom import extension_adapter as ea

    return ea.CONTROLLER


def when(cond, then, every=200):
    """Call ``then`` once ``cond()`` is true (polled from the event loop)."""
    def tick():
        if cond():
            moved()
            guarded(then)()
        else:
            QTimer.singleShot(every, guarded(tick))
    QTimer.singleShot(every, guarded(tick))


def trigger(action_id):
    moved(f"trigger {action_id}")
    Krita.instance().action(action_id).trigger()


# --- the run ----------------------------------------------------------------------------------

def run():
    app = Krita.instance()
    ctl = controller()
    check("plugin_loaded", ctl is not None)
    from neural_darkroom import extension_adapter as ea

    for action_id, _text, _m in ea.ACTIONS:
        check(f"action_{action_id}", app.action(action_id) is not None)
    check("menu", app.action("neural_darkroom") is not None)
    dockers = [d for d in app.dockers() if d.windowTitle() == "Neural Darkroom"]
    check("docker", bool(dockers), [d.windowTitle() for d in app.dockers()][:20])
    label = dockers[0].findChild(object, "darkroom_status_label") if dockers else None
    pad = dockers[0].findChild(object, "darkroom_light_pad") if dockers else None

    doc = app.createDocument(W, H, "darkroom-test", "RGBA", "U8", "", 72.0)
    app.activeWindow().addView(doc)
    root = doc.rootNode()
    group = doc.createGroupLayer("stack")
    root.addChildNode(group, None)
    lights = [(0.5, 0.0, 0.866), (-0.5, 0.0, 0.866), (0.0, 0.5, 0.866), (0.0, -0.5, 0.866)]
    for i, d in enumerate(lights):
        paint(doc, "light {} {} {}".format(*d), (40 * i, 60, 200 - 40 * i, 255), parent=group)
    content = paint(doc, "content", (30, 120, 200, 255))
    paint(doc, "style", (200, 80, 20, 255))
    doc.refreshProjection()

    def after_status():
        text = ctl.last_status
        check("status_running", text.startswith("Backend running"), text)
        check("status_device", " on cpu" in text or " on cuda" in text, text)
        check("status_queue", "no job running" in text and "0 done" in text, text)
        check("docker_label", label is not None and label.text().startswith("Backend: running on"),
              label.text() if label is not None else None)
        style_from_menu(first=True)

    def style_from_menu(first):
        doc.setActiveNode(content)

        def fill(dlg):
            combo = dlg.findChild(object, "darkroom_style")
            report["style_default_" + ("first" if first else "second")] = combo.currentText()
            combo.setCurrentIndex(combo.findText("style"))
            # standard first: long enough to watch its preview; then draft, the quick look
            dlg.findChild(object, "darkroom_quality").setCurrentText(
                "standard" if first else "draft")
            dlg.accept()
        STATE["dialogs"].append(fill)
        n = len(root.childNodes())
        trigger("neural_darkroom_style_transfer")
        when(lambda: not ctl.busy and ctl.last is not None and len(root.childNodes()) > n
             or (ctl.last is not None and not ctl.last.ok and not ctl.busy),
             after_first_style if first else after_second_style)

    def after_first_style():
        out = ctl.last
        check("style_ok", out is not None and out.ok, out and out.error)
        names = [c.name() for c in root.childNodes()]  # bottom first
        # a live preview showed while it ran, and is gone now
        check("preview_shown", ctl.previews_shown > 0 and STATE.get("preview_seen", 0) > 0,
              (ctl.previews_shown, STATE.get("preview_seen")))
        check("preview_removed", "Neural Darkroom preview" not in names, names)
        check("style_name", "Style: style (photo)" in names, names)
        if "Style: style (photo)" in names:
            check("style_above_content", names.index("Style: style (photo)")
                  == names.index("content") + 1, names)
            node = ctl.last_layers[0]
            px = bytes(node.pixelData(0, 0, W, H))
            src_, sty_ = (30, 120, 200), (200, 80, 20)  # B, G, R of content and style

            def d(a, b):
                return sum((x - y) ** 2 for x, y in zip(a, b))
            check("style_moves_toward_style", d(px[:3], sty_) < d(src_, sty_), list(px[:4]))
        src = bytes(content.pixelData(0, 0, W, H))
        check("style_source_untouched", src[:4] == bytes((30, 120, 200, 255)), src[:4])
        style_from_menu(first=False)

    def after_second_style():
        names = [c.name() for c in root.childNodes()]
        results = [i for i, n in enumerate(names) if n == "Style: style (photo)"]
        check("second_style_on_top", len(results) == 2 and results[1] == results[0] + 1
              and ctl.last_layers and root.childNodes()[results[1]].uniqueId()
              == ctl.last_layers[0].uniqueId(), names)
        default = report.get("style_default_second") or ""
        check("style_default_not_a_result", default and not default.startswith("Style: "),
              default)
        colour_from_menu()

    def colour_from_menu():
        """An op added to the backend alone (colour.match): its menu entry and its dialog,
        generated from its description, then its result."""
        doc.setActiveNode(content)

        def fill(dlg):
            fields = {name: dlg.findChild(object, f"darkroom_{name}") is not None
                      for name in ("reference", "mask", "strength", "preserve_luminance")}
            check("colour_dialog_fields", all(fields.values()), fields)
            combo = dlg.findChild(object, "darkroom_reference")
            combo.setCurrentIndex(combo.findText("style"))
            dlg.findChild(object, "darkroom_strength").setValue(1.0)
            dlg.accept()
        STATE["dialogs"].append(fill)
        n = len(root.childNodes())
        check("colour_action", app.action("neural_darkroom_colour_match") is not None)
        trigger("neural_darkroom_colour_match")
        when(lambda: not ctl.busy and ctl.last is not None and len(root.childNodes()) > n
             or (ctl.last is not None and not ctl.last.ok and not ctl.busy), after_colour)

    def after_colour():
        out = ctl.last
        check("colour_ok", out is not None and out.ok, out and out.error)
        names = [c.name() for c in root.childNodes()]
        check("colour_name", "Colour match: style" in names, names)
        if "Colour match: style" in names:
            node = root.childNodes()[names.index("Colour match: style")]
            px = bytes(node.pixelData(0, 0, W, H))
            # B, G, R of the reference (style) layer: a flat colour takes it whole
            check("colour_takes_the_reference", all(abs(a - b) <= 12 for a, b in
                                                    zip(px[:3], (200, 80, 20))), list(px[:4]))
            check("colour_above_results", names.index("Colour match: style")
                  > names.index("content"), names)
        src = bytes(content.pixelData(0, 0, W, H))
        check("colour_source_untouched", src[:4] == bytes((30, 120, 200, 255)), src[:4])
        pad_relight()

    def pad_relight():
        # 2. The docker's light pad on a stack of directions
        doc.setActiveNode(group)
        if pad is None:
            check("pad_relight_ok", False, "no light pad in the docker")
            return finish()
        n = len(root.childNodes())
        from PyQt5.QtCore import QPoint, Qt
        from PyQt5.QtTest import QTest

        moved("click the light pad")
        QTest.mouseClick(pad, Qt.LeftButton, Qt.NoModifier,
                         QPoint(int(pad.width() * 0.7), int(pad.height() * 0.5)))
        when(lambda: not ctl.busy and (len(root.childNodes()) > n
                                       or (ctl.last is not None and not ctl.last.ok)),
             after_pad)

    def after_pad():
        out = ctl.last
        check("pad_relight_ok", out is not None and out.ok, out and out.error)
        names = [c.name() for c in root.childNodes()]
        relit = [n for n in names if n.startswith("Relit: light at (")]
        xyz = relit[0][len("Relit: light at ("):-1].split(", ") if relit else []
        # a click right of centre on the hemisphere: a direction (x ≈ 0.4, y ≈ 0, z ≈ 0.92)
        check("pad_direction_light", len(xyz) == 3 and 0.35 < float(xyz[0]) < 0.45
              and abs(float(xyz[1])) < 0.05 and float(xyz[2]) > 0.85, names)
        if relit:
            check("pad_result_above_group", names.index(relit[0]) == names.index("stack") + 1,
                  names)
        if not CFG.get("stack_folder"):
            return finish()
        # 3. Open Light Stack… on a folder of shiny-sphere photos with no light file
        docs = len(app.documents())
        trigger("neural_darkroom_open_stack")
        when(lambda: not ctl.busy and ctl.last is not None
             and (len(app.documents()) > docs or not ctl.last.ok), after_open_stack)

    def after_open_stack():
        out = ctl.last
        check("open_stack_ok", out is not None and out.ok, out and out.error)
        if not (out is not None and out.ok):
            return finish()
        sdoc, sgroup = ctl.last_layers
        kids = [c.name() for c in sgroup.childNodes()]
        check("open_stack_layers", len(kids) == CFG["stack_n"]
              and all(k.startswith("light ") and len(k.split()) == 4 for k in kids), kids)
        # what the user is told (recorded before its message box shows)
        check("open_stack_note", any("shiny sphere" in m for m in ctl.messages),
              ctl.messages[-2:])
        check("open_stack_shown", app.activeDocument() is not None
              and app.activeDocument().fileName() == sdoc.fileName()
              and app.activeDocument().name() == sdoc.name(), app.activeDocument())
        n = len(sdoc.rootNode().childNodes())
        from PyQt5.QtCore import QPoint, Qt
        from PyQt5.QtTest import QTest

        moved("click the light pad on the opened stack")
        QTest.mouseClick(pad, Qt.LeftButton, Qt.NoModifier,
                         QPoint(int(pad.width() * 0.5), int(pad.height() * 0.5)))
        when(lambda: not ctl.busy and (len(sdoc.rootNode().childNodes()) > n
                                       or (ctl.last is not None and not ctl.last.ok)),
             lambda: after_stack_relight(sdoc))

    def after_stack_relight(sdoc):
        out = ctl.last
        check("open_stack_relight_ok", out is not None and out.ok, out and out.error)
        names = [c.name() for c in sdoc.rootNode().childNodes()]
        check("open_stack_relit", any(n.startswith("Relit: light at (") for n in names), names)
        finish()

    # 1. Backend status, from its menu action: the plugin starts the daemon by itself
    trigger("neural_darkroom_status")
    when(lambda: ctl.status_call is not None and ctl.status_call.done and ctl.last_status
         and any(m == ctl.last_status for m in report["messages"]), after_status)


def on_window():
    QTimer.singleShot(500, guarded(run))


moved("waiting for Krita's window")
Krita.instance().notifier().windowCreated.connect(on_window)
_modal = QTimer()
_modal.timeout.connect(guarded(answer_modals))
_modal.start(200)
_previews = QTimer()
_previews.timeout.connect(guarded(watch_previews))
_previews.start(100)
_watch = QTimer()
_watch.timeout.connect(guarded(watchdog))
_watch.start(1000)
