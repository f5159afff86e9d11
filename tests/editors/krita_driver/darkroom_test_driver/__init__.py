"""Test driver, installed beside the real plugin in a throw-away Krita profile.

Once the main window exists it opens a test document, runs the plugin's flows against the
daemon the test started (``DRIVER_CONFIG`` JSON: which ops the daemon has), checks the new
layers, writes ``DRIVER_OUT`` (JSON) in a ``finally`` and quits Krita hard.
"""

import json
import os
import traceback

from krita import Krita
from PyQt5.QtCore import QByteArray, QTimer

CFG = json.loads(os.environ.get("DRIVER_CONFIG", "{}"))
OUT = os.environ.get("DRIVER_OUT", "/tmp/darkroom_driver.json")
report = {"checks": {}, "errors": [], "log": []}


def check(name, ok, detail=""):
    report["checks"][name] = {"ok": bool(ok), "detail": str(detail)}


def paint(doc, name, w, h, bgra, parent=None, above=None):
    node = doc.createNode(name, "paintlayer")
    (parent or doc.rootNode()).addChildNode(node, above)
    node.setPixelData(QByteArray(bytes(bgra) * (w * h)), 0, 0, w, h)
    return node


def guarded(fn):
    """Qt swallows exceptions raised in timer callbacks: record them and stop instead."""
    def run_():
        try:
            fn()
        except Exception:
            report["errors"].append(traceback.format_exc())
            finish()
    return run_


def wait_job(ctl, then):
    def tick():
        if ctl.busy:
            QTimer.singleShot(100, tick)
        else:
            guarded(then)()
    QTimer.singleShot(100, tick)


def finish():
    try:
        with open(OUT, "w") as f:
            json.dump(report, f, indent=1)
    finally:
        os._exit(0)


def swap_ops(ctl):
    """Ops the daemon lacks (their families still being built) go through debug.echo, which
    returns the images it was sent: the plugin's flow and layer handling are still checked."""
    start = ctl.start

    def start_(req, apply):
        if req.op not in CFG.get("ops", []):
            report["log"].append(f"{req.op} not in the daemon: ran through debug.echo")
            req.op, req.params = "debug.echo", {}
            req.images = req.images[:1]
        return start(req, apply)
    ctl.start = start_


def run():
    try:
        app = Krita.instance()
        from darkroom_plugin import requests as rq
        from neural_darkroom import extension_adapter as ea

        ctl = ea.CONTROLLER
        ctl.interactive = False
        check("plugin_loaded", ctl is not None)
        for action_id, _text, _m in ea.ACTIONS:
            check(f"action_{action_id}", app.action(action_id) is not None)
        check("menu", app.action("neural_darkroom") is not None)
        swap_ops(ctl)
        w, h = 48, 32
        doc = app.createDocument(w, h, "darkroom-test", "RGBA", "U8", "", 72.0)
        app.activeWindow().addView(doc)
        doc.setBatchmode(True)
        root = doc.rootNode()
        group = doc.createGroupLayer("stack")
        root.addChildNode(group, None)
        lights = [(0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9)]
        for i, (u, v) in enumerate(lights):
            paint(doc, f"light {u} {v}", w, h, (40 * i, 60, 200 - 40 * i, 255), parent=group)
        content = paint(doc, "content", w, h, (30, 120, 200, 255))
        style = paint(doc, "style", w, h, (200, 80, 20, 255))
        doc.refreshProjection()
        n_before = len(root.childNodes())

        def after_relight():
            out = ctl.last
            check("relight_ok", out is not None and out.ok, out and out.error)
            if out is not None and out.ok:
                node = ctl.last_layers[0]
                want = rq.relight_result_name([{"position": [0.5, 0.5]}])
                check("relight_name", node.name() == want, node.name())
                b = node.bounds()
                check("relight_size", (b.width(), b.height()) == (w, h), (b.width(), b.height()))
                px = bytes(node.pixelData(0, 0, w, h))
                check("relight_pixels", len(px) == w * h * 4 and px[3] == 255 and
                      len(set(px[i:i + 4] for i in range(0, len(px), 4))) >= 1, px[:8].hex())
                report["relight_first_pixel_bgra"] = list(px[:4])
                check("relight_above_group", root.childNodes().index(node) ==
                      root.childNodes().index(group) + 1)
            ctl.style(doc, content, style, mode="photo", quality="draft")
            wait_job(ctl, after_style)

        def after_style():
            out = ctl.last
            check("style_ok", out is not None and out.ok, out and out.error)
            if out is not None and out.ok:
                node = ctl.last_layers[0]
                check("style_name", node.name() == "Style: style (photo)", node.name())
                b = node.bounds()
                check("style_size", (b.width(), b.height()) == (w, h), (b.width(), b.height()))
                px = bytes(node.pixelData(0, 0, w, h))
                report["style_first_pixel_bgra"] = list(px[:4])
                src_, sty_ = (30, 120, 200), (200, 80, 20)  # B, G, R of content and style
                d = lambda a, b: sum((x - y) ** 2 for x, y in zip(a, b))  # noqa: E731
                check("style_moves_toward_style", d(px[:3], sty_) < d(src_, sty_), list(px[:4]))
                src = bytes(content.pixelData(0, 0, w, h))
                check("style_source_untouched", src[:4] == bytes((30, 120, 200, 255)), src[:4])
            check("layer_count", len(root.childNodes()) == n_before + 2, len(root.childNodes()))
            # an unparsable light stack: the sentence names the offending layer
            bad = paint(doc, "not a light", w, h, (1, 2, 3, 255), parent=group)
            try:
                ctl.relight(doc, group, [{"position": [0.5, 0.5]}])
                check("bad_stack_message", False, "no error")
            except Exception as e:  # noqa: BLE001
                check("bad_stack_message", "not a light" in str(e), str(e))
            bad.remove()
            # a stopped daemon: the user reads what to do, not a traceback
            from darkroom.client import Client

            ctl.connect = lambda: Client.connect(os.path.join(OUT + ".none", "c.json"))
            ctl.style(doc, content, style, quality="draft")
            wait_job(ctl, after_stopped)

        def after_stopped():
            msg = ctl.last.error if ctl.last is not None else ""
            check("stopped_daemon_message", "not running" in msg and "darkroom serve" in msg, msg)
            check("stopped_daemon_no_layer", len(root.childNodes()) == n_before + 2)
            finish()

        ctl.relight(doc, group, [{"position": [0.5, 0.5], "color": [1, 1, 1], "intensity": 1.0}],
                    quality="draft")
        wait_job(ctl, after_relight)
    except Exception:
        report["errors"].append(traceback.format_exc())
        finish()


def on_window():
    QTimer.singleShot(500, run)


Krita.instance().notifier().windowCreated.connect(on_window)
QTimer.singleShot(int(CFG.get("deadline_s", 150)) * 1000, finish)  # never hang the test
