"""The Krita adapters against a fake ``krita``/``PyQt5``: they import without Krita, read
layers at their offsets in B,G,R,A, write results converted to the document's depth above the
source, and the controller turns a finished job into a layer (or a sentence) on the GUI side."""

from __future__ import annotations

import struct
import threading
import time
from types import SimpleNamespace

import pytest
from fake_editors import KritaDoc, KritaNode, Rect, install_krita

from darkroom.client import WireImage
from darkroom.errors import Cancelled, InvalidInput


@pytest.fixture
def krita(monkeypatch, descs):
    install_krita(monkeypatch)
    from neural_darkroom import document_adapter, extension_adapter

    monkeypatch.setattr(extension_adapter, "DESCRIPTIONS", descs)  # as install.py writes them
    return SimpleNamespace(da=document_adapter, ea=extension_adapter)


def style(ctl, doc, content, style_node, **values):
    """The style op as its menu entry runs it, with a dialog's values."""
    return ctl.run_op(doc, content, ctl.desc("style.transfer"), {"style": style_node, **values})


def test_read_layer_keeps_offset_and_swaps_to_rgba(krita):
    node = KritaNode("photo", "U8", Rect(10, 20, 2, 1), bytes([1, 2, 3, 4, 5, 6, 7, 8]))
    px = krita.da.read_layer(node)
    assert px.offset == (10, 20) and (px.width, px.height) == (2, 1)
    assert px.data == bytes([3, 2, 1, 4, 7, 6, 5, 8]) and px.colorspace == "srgb"


def test_float_layers_are_linear(krita):
    node = KritaNode("hdr", "F32", Rect(0, 0, 1, 1), struct.pack("<4f", 2.0, 1.0, 0.5, 1.0))
    px = krita.da.read_layer(node)
    assert px.colorspace == "linear" and px.dtype == "f32"


def test_empty_layer_is_named_in_the_error(krita):
    with pytest.raises(InvalidInput, match="'blank'"):
        krita.da.read_layer(KritaNode("blank", rect=Rect(0, 0, 0, 0)))


def test_light_stack_reads_the_group_or_the_active_layers_group(krita):
    kids = [KritaNode(f"light {i} 0", rect=Rect(0, 0, 1, 1), data=bytes(4)) for i in range(4)]
    group = KritaNode("stack", kind="grouplayer", rect=Rect(0, 0, 1, 1), children=kids)
    KritaNode("root", kind="grouplayer", children=[group])
    for active in (group, kids[2]):
        g, stack = krita.da.light_stack(None, active)
        assert g is group and [p.name for p in stack] == [k.name() for k in kids]
    lone = KritaNode("lonely", rect=Rect(0, 0, 1, 1), data=bytes(4))
    KritaNode("root", kind="grouplayer", children=[lone]).kind = "root"
    with pytest.raises(InvalidInput, match="'lonely' is not in a layer group"):
        krita.da.light_stack(None, lone)


def fake_client(images):
    ev = SimpleNamespace(type="result", images=images, meta={}, fraction=1.0, stage="")
    job = SimpleNamespace(events=lambda timeout=None: iter([ev]), cancel=lambda: None)
    return SimpleNamespace(submit=lambda op, ims, params: job, close=lambda: None)


def test_style_flow_adds_one_named_layer_above_content_in_doc_depth(krita):
    content = KritaNode("portrait", "U16", Rect(3, 4, 1, 1), struct.pack("<4H", 1, 2, 3, 65535))
    style_node = KritaNode("sunset", "U16", Rect(0, 0, 1, 1), struct.pack("<4H", 9, 9, 9, 65535))
    root = KritaNode("root", kind="grouplayer", children=[content, style_node])
    doc = KritaDoc(root, "U16")
    result = WireImage(struct.pack("<4H", 100, 200, 300, 65535), shape=(1, 1, 4), dtype="u16",
                       role="result", name="Style: sunset (photo)", offset=(3, 4))
    ctl = krita.ea.Controller(app=None, connect=lambda: fake_client([result]))
    ctl.interactive = False
    job = style(ctl, doc, content, style_node, mode="photo", quality="draft")
    job.wait(5)
    ctl._tick()  # what the Qt timer does on the GUI thread
    assert ctl.last.ok and not ctl.busy
    new = ctl.last_layers[0]
    assert new.name() == "Style: sunset (photo)"
    assert root.childNodes() == [content, new, style_node]  # right above the content
    data, x, y, w, h = new.set_calls[0]
    assert (x, y, w, h) == (3, 4, 1, 1)
    assert struct.unpack("<4H", data) == (300, 200, 100, 65535)  # back to B,G,R,A
    assert content.set_calls == [] and style_node.set_calls == []  # sources untouched


def test_a_second_result_goes_on_top_and_regions_come_as_a_layer(krita):
    content = KritaNode("photo", "U8", Rect(0, 0, 1, 1), bytes(4))
    style_node = KritaNode("sunset", "U8", Rect(0, 0, 1, 1), bytes(4))
    root = KritaNode("root", kind="grouplayer", children=[content, style_node])
    doc = KritaDoc(root, "U8")

    def img(role, name):
        return WireImage(bytes([1, 2, 3, 255]), shape=(1, 1, 4), dtype="u8", role=role, name=name)
    sent = []

    def client():  # the op's answer: regions come back when asked, and which are layers
        show = sent[-1].get("return_regions", False) if sent else False
        images = [img("result", "Style: sunset (photo)")]
        if show:
            images += [img("content_regions", "Style: regions of photo"),
                       img("style_regions", "Style: regions of sunset")]
        ev = SimpleNamespace(type="result", images=images, fraction=1.0, stage="",
                             meta={"layers": [0, 1], "layer_opacity": [1.0, 0.6]} if show else {})
        job = SimpleNamespace(events=lambda timeout=None: iter([ev]), cancel=lambda: None)
        return SimpleNamespace(submit=lambda op, ims, params: job, close=lambda: None)
    ctl = krita.ea.Controller(app=None, connect=client)
    ctl.interactive = False
    for show in (False, True):
        sent.append({"return_regions": show})
        style(ctl, doc, content, style_node, quality="draft", return_regions=show).wait(5)
        ctl._tick()
        assert ctl.last.ok
    names = [n.name() for n in root.childNodes()]
    # the second result sits on the first, its regions over it; the style layer stays on top
    assert names == ["photo", "Style: sunset (photo)", "Style: sunset (photo)",
                     "Style: regions of photo", "sunset"]
    assert ctl.last_layers[0] is root.childNodes()[2]
    assert root.childNodes()[3].opacity == 153  # see-through, over the result


def _style_answered_by(krita, event):
    """Run the style flow against a daemon that answers ``event``; (controller, root node)."""
    content = KritaNode("c", rect=Rect(0, 0, 1, 1), data=bytes(4))
    style_node = KritaNode("s", rect=Rect(0, 0, 1, 1), data=bytes(4))
    root = KritaNode("root", kind="grouplayer", children=[content, style_node])
    job = SimpleNamespace(events=lambda timeout=None: iter([event]), cancel=lambda: None)
    client = SimpleNamespace(submit=lambda *a: job, close=lambda: None)
    ctl = krita.ea.Controller(app=None, connect=lambda: client)
    ctl.interactive = False
    style(ctl, KritaDoc(root), content, style_node).wait(5)
    ctl._tick()
    return ctl, root


def test_failed_job_is_a_message_and_no_layer(krita):
    err = SimpleNamespace(type="error", error=InvalidInput("Layer 's' is empty."), images=[],
                          meta={}, fraction=0.0, stage="")
    ctl, root = _style_answered_by(krita, err)
    assert ctl.messages == ["Layer 's' is empty."] and len(root.childNodes()) == 2


def test_a_warning_is_shown_and_the_layer_still_added(krita):
    result = WireImage(bytes(4), shape=(1, 1, 4), dtype="u8", role="result", name="r",
                       offset=(0, 0))
    warn = "Region (0, 0, 255) has no partner in the style; it takes the whole style's look."
    ev = SimpleNamespace(type="result", images=[result], meta={"warnings": [warn]},
                         fraction=1.0, stage="")
    ctl, root = _style_answered_by(krita, ev)
    assert len(root.childNodes()) == 3 and ctl.last.ok
    assert len(ctl.messages) == 1 and warn in ctl.messages[0]


def test_sketch_matches_come_as_a_group_best_on_top(krita):
    sketch = KritaNode("doodle", "U8", Rect(0, 0, 1, 1), bytes([0, 0, 0, 255]))
    photo = KritaNode("holiday", "U8", Rect(0, 0, 1, 1), bytes(4))
    root = KritaNode("root", kind="grouplayer", children=[photo, sketch])
    doc = KritaDoc(root, "U8")
    found = [WireImage(bytes([9, 9, 9, 255]), shape=(1, 1, 4), dtype="u8", role="match",
                       name=n) for n in ("shoe.jpg", "boot.jpg")]
    ev = SimpleNamespace(type="result", images=found, fraction=1.0, stage="",
                         meta={"layer_names": ["shoe.jpg (0.87)", "boot.jpg (0.61)"]})
    job = SimpleNamespace(events=lambda timeout=None: iter([ev]), cancel=lambda: None)
    ctl = krita.ea.Controller(app=None, connect=lambda: SimpleNamespace(
        submit=lambda *a: job, close=lambda: None))
    ctl.interactive = False
    ctl.run_op(doc, sketch, ctl.desc("sketch.search"), {"k": 2}).wait(5)
    ctl._tick()
    assert ctl.last.ok
    assert [n.name() for n in root.childNodes()] == ["holiday", "doodle", "Sketch matches"]
    group = root.childNodes()[2]
    # bottom first: the best match is the group's top layer
    assert [n.name() for n in group.childNodes()] == ["boot.jpg (0.61)", "shoe.jpg (0.87)"]
    assert sketch.set_calls == []


def test_cancel_leaves_the_document_as_it_was(krita, monkeypatch):
    """A job that streamed previews and was then cancelled: the preview layer is gone and no
    result was added."""
    def fake_preview(doc, parent, above, px, rect, node=None):  # Qt's scaling left out
        if node is None:
            node = doc.createNode("Neural Darkroom preview", "paintlayer")
            parent.addChildNode(node, above)
        return node
    monkeypatch.setattr(krita.da, "show_preview", fake_preview)
    content = KritaNode("photo", "U8", Rect(0, 0, 2, 2), bytes(16))
    style_node = KritaNode("sunset", "U8", Rect(0, 0, 2, 2), bytes(16))
    root = KritaNode("root", kind="grouplayer", children=[content, style_node])
    doc = KritaDoc(root, "U8")
    preview = WireImage(bytes([5, 6, 7]), shape=(1, 1, 3), dtype="u8", role="preview")
    cancel = threading.Event()

    def events(timeout=None):
        yield SimpleNamespace(type="progress", fraction=0.3, stage="solving", preview=preview)
        cancel.wait(10)  # the daemon answers the cancel
        yield SimpleNamespace(type="error", error=Cancelled("Cancelled."), images=[], meta={},
                              fraction=0.3, stage="")
    job = SimpleNamespace(events=events, cancel=cancel.set)
    ctl = krita.ea.Controller(app=None, connect=lambda: SimpleNamespace(
        submit=lambda *a: job, close=lambda: None))
    ctl.interactive = False
    before = [n.name() for n in root.childNodes()]
    running = style(ctl, doc, content, style_node)
    for _ in range(500):  # what the Qt timer does while it runs
        ctl._tick()
        if ctl.previews_shown:
            break
        time.sleep(0.01)
    assert "Neural Darkroom preview" in [n.name() for n in root.childNodes()]
    running.cancel()  # the progress dialog's Cancel
    while ctl.busy:
        ctl._tick()
        time.sleep(0.01)
    assert ctl.last.cancelled and ctl.messages == []  # a cancel is not an error to report
    assert [n.name() for n in root.childNodes()] == before
