"""Running one op through the daemon: connect (starting it if needed), submit, stream progress,
cancel, and turn every failure into one sentence for the editor to show.

Two shapes, one per editor style:

* :func:`run_blocking` — GIMP: the plug-in is its own process, so it blocks and reports progress
  through callbacks (``Gimp.progress_update``); cancel is the editor killing the plug-in, after
  which the daemon cancels the job of the client that went away.
* :class:`BackgroundJob` — Krita: the GUI thread must stay responsive, so a worker thread talks
  to the daemon and queues events; a Qt timer calls :meth:`BackgroundJob.poll`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from darkroom.errors import BackendUnavailable, Cancelled, DarkroomError, Internal

from .pixels import Pixels
from .requests import Request

log = logging.getLogger("darkroom_plugin")

ConnectFn = Callable[[], Any]


def default_connect(timeout: float = 20.0) -> Any:
    """A client to the user's daemon, starting the daemon when none answers."""
    from darkroom.client import Client

    return Client.connect(autostart=True, timeout=timeout)


def user_message(exc: BaseException) -> str:
    """The sentence the editor shows; never a traceback (the log keeps that)."""
    if isinstance(exc, BackendUnavailable):
        return (f"{exc} Start it with 'darkroom serve' in a terminal (or check the log in the "
                "Neural Darkroom folder), then try again.")
    if isinstance(exc, DarkroomError):
        return str(exc)
    if isinstance(exc, ImportError):
        return (f"The plugin cannot load a module it needs ({exc.name or exc}); run "
                "'python install.py' again from the Neural Darkroom folder.")
    log.exception("unexpected error in the plugin", exc_info=exc)
    return f"Something went wrong in the plugin ({type(exc).__name__}: {exc}); the log has details."


@dataclass
class Outcome:
    """A finished job: result blocks, the daemon's meta, or the sentence explaining why not."""

    images: list[Pixels] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.error and not self.cancelled

    @property
    def warnings(self) -> list[str]:
        """Sentences the op attached to a result it still delivered (e.g. a target light outside
        the captured range, a label region without a partner): the user should read them."""
        raw = self.meta.get("warnings") or []
        return [str(w) for w in raw] if isinstance(raw, list) else [str(raw)]

    def warning_text(self) -> str:
        """One message for the editor: "" when there is nothing to say."""
        ws = self.warnings
        return "" if not ws else "The result was added, with a note:\n" + "\n".join(
            f"• {w}" for w in ws)


def run_blocking(req: Request, *, connect: ConnectFn = default_connect,
                 progress: Callable[[float, str], None] | None = None,
                 should_cancel: Callable[[], bool] | None = None,
                 preview: Callable[[Pixels], None] | None = None) -> Outcome:
    """Run ``req`` and wait; ``progress(fraction, stage)`` is called for each progress event,
    ``preview(pixels)`` for each preview image the op streams (small, sRGB u8), and
    ``should_cancel()`` between events (a true answer cancels the job)."""
    client = None
    try:
        client = connect()
        job = client.submit(req.op, req.wire_images(), req.params)
        for ev in job.events(timeout=None):
            if should_cancel is not None and should_cancel():
                job.cancel()
                return Outcome(cancelled=True, error="Cancelled.")
            if ev.type == "progress" and progress is not None:
                progress(float(ev.fraction or 0.0), ev.stage or "")
            shown = getattr(ev, "preview", None) if ev.type == "progress" else None
            if preview is not None and shown is not None:
                preview(Pixels.from_wire(shown))
            elif ev.type == "result":
                return Outcome([Pixels.from_wire(im) for im in ev.images], dict(ev.meta or {}))
            elif ev.type == "error":
                err = ev.error if isinstance(ev.error, BaseException) else Internal(str(ev.error))
                return Outcome(error=user_message(err), cancelled=isinstance(err, Cancelled))
        return Outcome(error="The backend stopped answering before the job finished.")
    except Cancelled as exc:
        return Outcome(error=str(exc), cancelled=True)
    except Exception as exc:  # noqa: BLE001 - the editor must get a sentence, not a traceback
        return Outcome(error=user_message(exc))
    finally:
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing must not hide the outcome
                log.debug("client close failed", exc_info=True)


class BackgroundJob:
    """One job on a worker thread. The GUI calls :meth:`poll` from a timer: it returns
    ``(fraction, stage)`` while running and the :class:`Outcome` once, when done."""

    def __init__(self, req: Request, connect: ConnectFn = default_connect) -> None:
        self.request = req
        self._connect = connect
        self._events: queue.Queue[tuple[float, str] | Pixels | Outcome] = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._work, name=f"darkroom {req.op}", daemon=True)
        self.outcome: Outcome | None = None
        self.fraction, self.stage = 0.0, "starting the backend"
        self.preview: Pixels | None = None  #: the latest preview image, if the op sends any
        self.previews = 0  #: how many have arrived (the GUI redraws when this changes)

    def start(self) -> BackgroundJob:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def _work(self) -> None:
        out = run_blocking(self.request, connect=self._connect,
                           progress=lambda f, s: self._events.put((f, s)),
                           should_cancel=self._cancel.is_set, preview=self._events.put)
        self._events.put(out)

    def poll(self) -> Outcome | None:
        """Drain queued events (GUI thread); returns the outcome once it has arrived."""
        while True:
            try:
                ev = self._events.get_nowait()
            except queue.Empty:
                return self.outcome
            if isinstance(ev, Outcome):
                self.outcome = ev
                return ev
            if isinstance(ev, Pixels):
                self.preview, self.previews = ev, self.previews + 1
                continue
            self.fraction, self.stage = ev

    def wait(self, timeout: float | None = None) -> Outcome | None:
        self._thread.join(timeout)
        return self.poll()


def fetch_status(connect: ConnectFn = default_connect,
                 descriptions: str | None = None) -> tuple[str, str]:
    """Ask the daemon (starting it if needed) how it is: (full sentence, one-line label).
    With ``descriptions`` (the plugin's folder) the ops' descriptions there are brought up to
    date with the daemon's, and the sentence says when the editor must restart to show them.
    Blocks while the daemon starts: call it from a worker (:class:`BackgroundCall`)."""
    from .flows import short_status, status_text
    from .opdesc import refresh

    changed = False
    try:
        client = connect()
        try:
            ping, status = client.ping(), client.status()
            if descriptions is not None:
                changed = refresh(descriptions, client, str(ping.get("version", "")))
        finally:
            client.close()
    except Exception as e:  # noqa: BLE001 - a sentence, never a traceback
        return user_message(e), "Backend: not running (see Backend status)"
    text, line = status_text(ping, status), short_status(ping, status)
    if changed:
        text += (" The backend's ops differ from the ones this editor has loaded (a newer "
                 "backend): restart the editor to see them in the menu.")
        line += " (restart the editor for its new ops)"
    return text, line


class BackgroundCall:
    """Any slow call (status, which starts the daemon) on a worker thread, so that the editor's
    window never waits on it; the GUI polls :attr:`done` from a timer and reads :attr:`value`."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.value: Any = None
        self._done = threading.Event()

        def work() -> None:
            try:
                self.value = fn()
            finally:
                self._done.set()
        threading.Thread(target=work, name="darkroom call", daemon=True).start()

    @property
    def done(self) -> bool:
        return self._done.is_set()
