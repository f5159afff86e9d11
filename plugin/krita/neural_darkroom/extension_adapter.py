"""The Krita extension: ``Tools → Scripts → Neural Darkroom`` menu, the job controller and
the flows behind each action. Imports Krita; the logic it calls lives in ``darkroom_plugin``.

The menu has one action per op with a menu title in the ops' descriptions (``ops.json`` beside
this package, written by ``install.py``, refreshed by *Backend status*), each opening a dialog
generated from the op's description (:func:`dialogs_adapter.op_dialog`) and running the op
through :mod:`darkroom_plugin.opflow`: adding an op to the backend needs no edit here. Open
Light Stack… and Backend status are this plugin's own actions.

Every job runs on a worker thread (:class:`darkroom_plugin.jobs.BackgroundJob`); a Qt timer
polls it, drives a progress dialog with a Cancel button, and adds the result layers on the GUI
thread. Flows are plain methods (``run_op``, ``open_stack``, ``index``) so tests can run them
without clicking through dialogs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from darkroom_plugin import MENU_TITLE, PLUGIN_NAME, flows, jobs, opdesc, opflow
from darkroom_plugin import requests as rq
from darkroom_plugin import settings as st
from darkroom_plugin.jobs import BackgroundJob, Outcome
from krita import Extension
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QMenu, QMessageBox, QProgressDialog

from darkroom.errors import InvalidInput

from . import dialogs_adapter as dialogs
from . import document_adapter as da

HERE = Path(__file__).resolve().parent
#: The ops' descriptions installed beside this package.
DESCRIPTIONS = opdesc.load(HERE)
flows.note_descriptions(DESCRIPTIONS)
#: (action id, menu text, op name or the controller's method): one per described op with a
#: menu title, then this plugin's own.
ACTIONS = [(d.action, d.title, d.name) for d in opdesc.editor_ops(DESCRIPTIONS)] + [
    (f"{PLUGIN_NAME}_open_stack", "Open Light Stack…", "on_open_stack"),
    (f"{PLUGIN_NAME}_status", "Backend status", "on_status"),
]


class Controller:
    """Runs one job at a time for the whole application and reports what happened."""

    def __init__(self, app: Any, connect: jobs.ConnectFn = jobs.default_connect) -> None:
        self.app = app
        self.connect = connect
        self.job: BackgroundJob | None = None
        self.last: Outcome | None = None
        self.last_layers: list[Any] = []
        self.interactive = True  # tests switch off message boxes
        self.messages: list[str] = []  #: every sentence shown to the user, newest last
        self._timer = QTimer()
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._tick)
        self._dialog: QProgressDialog | None = None
        self._apply: Callable[[Outcome], list[Any]] | None = None
        self._report: Callable[[Outcome], str] | None = None
        self._preview: tuple[da.KritaDocument, Any] | None = None
        self._preview_seen = 0
        self.previews_shown = 0  #: preview layer updates during the last job
        self.status_call: jobs.BackgroundCall | None = None
        self.status_line = "Backend: not checked yet"  #: the docker's label
        self.last_status = ""  #: the last full status sentence
        self.status_listeners: list[Callable[[str], None]] = []
        self._status_timer = QTimer()
        self._status_timer.setInterval(100)
        self._status_timer.timeout.connect(self._status_tick)
        self._status_tell = False

    # -- running ------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.job is not None

    def desc(self, op: str) -> opdesc.OpDesc | None:
        return next((d for d in DESCRIPTIONS if d.name == op), None)

    def start(self, req: rq.Request, apply: Callable[[Outcome], list[Any]],
              report: Callable[[Outcome], str] | None = None,
              preview: tuple[da.KritaDocument, Any] | None = None) -> BackgroundJob:
        """Run ``req`` on a worker; ``apply`` adds its layers (GUI thread), ``report`` gives a
        sentence to show when it succeeds (e.g. how many photos were indexed), ``preview``
        = (document, layer) shows the op's previews over that layer in a temporary layer while
        it runs."""
        if self.job is not None:
            raise InvalidInput("A Neural Darkroom job is still running: wait or cancel it first.")
        self._preview, self._preview_seen = preview, 0
        self.previews_shown = 0
        self.job = BackgroundJob(req, self.connect).start()
        self._apply, self._report, self.last, self.last_layers = apply, report, None, []
        if self.interactive:
            self._dialog = QProgressDialog(f"{MENU_TITLE}: starting…", "Cancel", 0, 1000,
                                           self.app.activeWindow().qwindow())
            self._dialog.setWindowTitle(MENU_TITLE)
            self._dialog.setMinimumDuration(300)
            self._dialog.canceled.connect(self.job.cancel)
        self._timer.start()
        return self.job

    def _tick(self) -> None:
        job = self.job
        if job is None:
            self._timer.stop()
            return
        out = job.poll()
        if out is None and job.previews != self._preview_seen:
            self._show_preview(job)
        if self._dialog is not None:
            self._dialog.setValue(int(job.fraction * 1000))
            self._dialog.setLabelText(f"{job.request.op}: {job.stage}")
        if out is None:
            return
        self._timer.stop()
        if self._dialog is not None:
            self._dialog.reset()
            self._dialog = None
        self._drop_preview()  # done or cancelled: the document is as it was, plus the result
        # The controller stays busy until the result is on the canvas and recorded: adding a
        # layer and refreshing the projection can run Qt's event loop, and anything polling
        # ``busy`` from there (a second menu action, the test driver) must not see a finished
        # job without its outcome.
        try:
            if out.ok and self._apply is not None:
                try:
                    self.last_layers = self._apply(out)
                except Exception as e:  # noqa: BLE001 - a sentence, never a traceback
                    out.error = jobs.user_message(e)
            self.last = out
        finally:
            self.job = None
        note = out.warning_text() if out.ok else ""
        if out.ok and self._report is not None:
            note = "\n".join(t for t in (self._report(out), note) if t)
        if out.error and not out.cancelled:
            self.tell(out.error)
        elif note:
            self.tell(note, warning=bool(out.warnings))
        self.check_status(tell=False, start=False)  # the docker's label follows the backend

    def _show_preview(self, job: BackgroundJob) -> None:
        self._preview_seen = job.previews
        if self._preview is None or job.preview is None:
            return
        kdoc, anchor = self._preview
        try:
            kdoc.show_preview(anchor, job.preview)
            self.previews_shown += 1
        except Exception:  # noqa: BLE001 - a preview must never break the job
            jobs.log.warning("preview not shown", exc_info=True)
            self._drop_preview()

    def _drop_preview(self) -> None:
        preview, self._preview = self._preview, None
        if preview is not None:
            try:
                preview[0].show_preview(preview[1], None)
            except Exception:  # noqa: BLE001
                jobs.log.warning("preview layer not removed", exc_info=True)

    # -- backend status (never on the GUI thread: starting the daemon takes seconds) ----------
    def check_status(self, tell: bool = True, start: bool = True) -> None:
        """Ask the backend how it is on a worker thread (starting it when ``start``); the
        docker's label follows, and with ``tell`` the sentence is shown."""
        self._status_tell = self._status_tell or tell
        if self.status_call is not None and not self.status_call.done:
            return  # one question at a time; its answer serves both callers
        # either way the ops' descriptions beside the plugin follow the backend's
        connect = self.connect if start else _no_autostart
        self.status_call = jobs.BackgroundCall(
            lambda: jobs.fetch_status(connect, descriptions=str(HERE)))
        self._set_status_line("Backend: checking…" if not start else "Backend: starting…")
        self._status_timer.start()

    def _status_tick(self) -> None:
        call = self.status_call
        if call is None or not call.done:
            return
        self._status_timer.stop()
        text, line = call.value
        self.last_status = text
        self._set_status_line(line)
        if self._status_tell:
            self._status_tell = False
            self.tell(text, warning=not line.startswith("Backend: running"))

    def _set_status_line(self, line: str) -> None:
        self.status_line = line
        for listener in list(self.status_listeners):
            try:
                listener(line)
            except RuntimeError:  # the docker's widget was deleted
                self.status_listeners.remove(listener)

    def tell(self, message: str, warning: bool = True) -> None:
        self.messages.append(message)
        if self.interactive:
            (QMessageBox.warning if warning else QMessageBox.information)(None, MENU_TITLE, message)

    # -- flows ----------------------------------------------------------------------------------
    def run_op(self, doc: Any, node: Any, desc: opdesc.OpDesc,
               values: dict[str, Any]) -> BackgroundJob:
        """Any described op on the selected ``node``, with a dialog's ``values`` (parameters by
        name, picked inputs by role: a node, an image file's path or None); its result layers
        go above the node (or its light-stack group), its previews show there while it runs."""
        kdoc = da.KritaDocument(doc, self.tell)
        plan = opflow.build(desc, kdoc, node, values)
        return self.start(plan.request, lambda out: opflow.apply(plan, out, kdoc),
                          preview=None if desc.result_group else (kdoc, plan.anchor))

    def open_stack(self, folder: str, sphere: str = "") -> BackgroundJob:
        """Ask the backend for the folder's photos and lights; open them as a new document
        holding one light-stack group, selected, ready for the light pad."""
        def apply(out: Outcome) -> list[Any]:
            group_name, rows, _note = flows.stack_plan(out.meta, folder)
            if not rows:
                raise InvalidInput(f"No photos of a light stack were found in '{folder}'.")
            return list(da.open_stack_document(group_name, rows))
        return self.start(flows.open_stack_request(folder, sphere), apply,
                          lambda out: flows.stack_plan(out.meta, folder)[2])

    def index(self, folders: list[str]) -> BackgroundJob:
        return self.start(rq.sketch_index_request(folders), lambda out: [],
                          lambda out: flows.index_summary(out.meta))

    # -- menu handlers (dialogs) -------------------------------------------------------------
    def _doc_and_node(self) -> tuple[Any, Any] | None:
        doc = self.app.activeDocument()
        if doc is None or doc.activeNode() is None:
            self.tell("Open an image and select a layer first.")
            return None
        return doc, doc.activeNode()

    def _guard(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - the user reads a sentence
            self.tell(jobs.user_message(e))

    def on_op(self, op: str) -> None:
        """A menu entry of a described op: check the selected layer, ask with the op's dialog
        (last values first), run it."""
        desc = self.desc(op)
        got = self._doc_and_node()
        if got is None or desc is None:
            return
        doc, node = got
        try:
            if desc.source is not None and desc.source.source == "active":
                da.check_readable(node)  # before the dialog, not after it
            elif desc.source is not None:
                da.stack_group(node)
        except InvalidInput as e:
            self.tell(str(e))
            return
        s = st.load()
        last = s.extra.get("last_values")
        last = last if isinstance(last, dict) else {}  # a damaged file: the defaults
        mine = last.get(desc.name)
        values = dialogs.op_dialog(desc, doc, node, mine if isinstance(mine, dict) else {}, s)
        if values is None:
            return
        kept = {k: v for k, v in values.items()
                if (desc.param(k) is not None or k == "output")
                and isinstance(v, (str, int, float, bool))}
        s.extra["last_values"] = {**last, desc.name: kept}
        st.save(s)
        self._guard(lambda: self.run_op(doc, node, desc, values))

    def on_open_stack(self) -> None:
        folder = dialogs.folder_dialog("Open a light-stack folder", "darkroom_stack_folder")
        if folder:
            self._guard(lambda: self.open_stack(folder))

    def on_status(self) -> None:
        self.check_status(tell=True)


class NeuralDarkroomExtension(Extension):
    def __init__(self, parent: Any, controller: Controller) -> None:
        super().__init__(parent)
        self.controller = controller

    def setup(self) -> None:
        pass

    def createActions(self, window: Any) -> None:  # noqa: N802 - Krita's name
        menu_action = window.createAction(PLUGIN_NAME, MENU_TITLE, "tools/scripts")
        menu = QMenu(MENU_TITLE, window.qwindow())
        menu_action.setMenu(menu)
        for action_id, text, what in ACTIONS:
            action = window.createAction(action_id, text, f"tools/scripts/{PLUGIN_NAME}")
            if what.startswith("on_"):
                action.triggered.connect(getattr(self.controller, what))
            else:
                action.triggered.connect(lambda _checked=False, op=what: self.controller.on_op(op))


def _no_autostart() -> Any:
    """A client to a daemon that is already running (the docker's quiet first look)."""
    from darkroom.client import Client

    return Client.connect(autostart=False, timeout=3.0)


CONTROLLER: Controller | None = None


def register(app: Any) -> Controller:
    """Called once by the package's ``__init__`` inside Krita."""
    global CONTROLLER
    CONTROLLER = Controller(app)
    app.addExtension(NeuralDarkroomExtension(app, CONTROLLER))
    from .docker_adapter import register_docker

    register_docker(app, CONTROLLER)
    return CONTROLLER
