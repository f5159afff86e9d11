"""Running a job through a (fake) client: progress, results, errors as sentences, cancel,
and the background form Krita polls from a timer."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from darkroom_plugin import jobs
from darkroom_plugin import requests as rq
from darkroom_plugin.pixels import Pixels

from darkroom.client import WireImage
from darkroom.errors import BackendUnavailable, Cancelled, InvalidInput


def ev(type_, **kw):
    return SimpleNamespace(type=type_, fraction=kw.get("fraction", 0.0), stage=kw.get("stage", ""),
                           images=kw.get("images", []), meta=kw.get("meta", {}),
                           error=kw.get("error"))


class FakeJob:
    def __init__(self, events, gate=None):
        self._events, self.cancelled, self.gate = events, False, gate

    def events(self, timeout=None):
        for e in self._events:
            if self.gate is not None:
                self.gate.wait(5)
            yield e

    def cancel(self):
        self.cancelled = True


class FakeClient:
    def __init__(self, events, gate=None):
        self.job = FakeJob(events, gate)
        self.sent, self.closed = None, False

    def submit(self, op, images, params):
        self.sent = (op, images, params)
        return self.job

    def close(self):
        self.closed = True


def request():
    px = Pixels(bytes(range(24)), 2, 3, 4, "u8", "content")
    return rq.Request("style.transfer", [("content", px),
                                         ("style", Pixels(bytes(24), 2, 3, 4, "u8", "style"))], {})


def result_image():
    return WireImage(bytes(range(24)), shape=(3, 2, 4), dtype="u8", role="result", name="out",
                     offset=(4, 5))


def test_progress_then_result():
    client = FakeClient([ev("progress", fraction=0.5, stage="matching"),
                         ev("result", images=[result_image()], meta={"iters": 3})])
    seen = []
    out = jobs.run_blocking(request(), connect=lambda: client,
                            progress=lambda f, s: seen.append((f, s)))
    assert out.ok and seen == [(0.5, "matching")]
    assert out.images[0].offset == (4, 5) and out.images[0].data == bytes(range(24))
    assert out.meta == {"iters": 3} and client.closed
    op, images, params = client.sent
    assert op == "style.transfer" and [im.role for im in images] == ["content", "style"]


def test_daemon_error_becomes_its_sentence():
    err = InvalidInput("Layer 'style' is empty.")
    out = jobs.run_blocking(request(), connect=lambda: FakeClient([ev("error", error=err)]))
    assert not out.ok and out.error == "Layer 'style' is empty." and not out.cancelled


def test_no_backend_says_what_to_do():
    def connect():
        raise BackendUnavailable("The Neural Darkroom backend did not start within 120 s.")
    out = jobs.run_blocking(request(), connect=connect)
    assert "did not start" in out.error and "darkroom serve" in out.error


def test_a_bug_becomes_a_sentence_not_a_traceback():
    def connect():
        raise KeyError("oops")
    out = jobs.run_blocking(request(), connect=connect)
    assert out.error.startswith("Something went wrong in the plugin (KeyError")
    assert "Traceback" not in out.error


def test_cancel_between_events():
    client = FakeClient([ev("progress", fraction=0.1), ev("progress", fraction=0.2),
                         ev("result", images=[result_image()])])
    out = jobs.run_blocking(request(), connect=lambda: client, should_cancel=lambda: True)
    assert out.cancelled and client.job.cancelled and not out.images


def test_cancelled_error_from_daemon_is_not_a_failure_to_report():
    out = jobs.run_blocking(request(), connect=lambda: FakeClient(
        [ev("error", error=Cancelled("The job was cancelled."))]))
    assert out.cancelled


def test_background_job_polls_progress_then_outcome():
    gate = threading.Event()
    client = FakeClient([ev("progress", fraction=0.25, stage="a"),
                         ev("result", images=[result_image()])], gate)
    job = jobs.BackgroundJob(request(), connect=lambda: client).start()
    assert job.poll() is None and not job.done  # the GUI thread is never blocked
    gate.set()
    out = job.wait(5)
    assert out is not None and out.ok and job.done and job.fraction == 0.25 and job.stage == "a"


def test_result_warnings_become_one_note_for_the_user():
    warn = "Target light 1 lies outside the captured lights' range."
    client = FakeClient([ev("result", images=[result_image()], meta={"warnings": [warn]})])
    out = jobs.run_blocking(request(), connect=lambda: client)
    assert out.ok and out.warnings == [warn]
    assert warn in out.warning_text() and "added" in out.warning_text()
    quiet = jobs.run_blocking(request(), connect=lambda: FakeClient(
        [ev("result", images=[result_image()], meta={})]))
    assert quiet.warnings == [] and quiet.warning_text() == ""


def test_previews_reach_the_background_job() -> None:
    """The op's streamed previews come out of the job for the editor to show, in order."""
    from types import SimpleNamespace

    from darkroom.client import WireImage

    def ev(kind, fraction, preview=None):
        return SimpleNamespace(type=kind, fraction=fraction, stage="step", preview=preview,
                               images=[], meta={}, error=None)
    pv = [WireImage(bytes([i] * 12), (2, 2, 3), "u8", role="preview") for i in (10, 20)]
    events = [ev("progress", 0.1, pv[0]), ev("progress", 0.5), ev("progress", 0.9, pv[1]),
              ev("result", 1.0)]
    job = SimpleNamespace(events=lambda timeout=None: iter(events), cancel=lambda: None)
    client = SimpleNamespace(submit=lambda op, ims, params: job, close=lambda: None)
    from darkroom_plugin.jobs import BackgroundJob
    from darkroom_plugin.requests import Request

    bg = BackgroundJob(Request("debug.echo", [], {}), lambda: client).start()
    out = bg.wait(10)
    assert out is not None and out.ok
    assert bg.previews == 2 and bg.preview.data[:1] == bytes([20]) and bg.preview.width == 2


def test_status_brings_the_ops_descriptions_up_to_date(tmp_path, described):
    """A newer backend with an op this editor has not loaded: Backend status rewrites the
    descriptions beside the plugin and says to restart the editor; a second look says nothing
    more."""
    from darkroom_plugin import opdesc

    opdesc.save(tmp_path, described[:-1], "old")
    newer = SimpleNamespace(
        ping=lambda: {"version": "new", "devices": ["cpu"]},
        status=lambda: {"queue": {"queued": 0, "running": 0, "done": 3}},
        ops=lambda: described, close=lambda: None)
    text, line = jobs.fetch_status(lambda: newer, descriptions=str(tmp_path))
    assert text.startswith("Backend running (version new) on cpu") and "restart the editor" in text
    assert "restart the editor" in line
    assert [d.name for d in opdesc.load(tmp_path)] == sorted(o["name"] for o in described)
    text, line = jobs.fetch_status(lambda: newer, descriptions=str(tmp_path))
    assert "restart" not in text and "restart" not in line
