"""The GIMP 3 plug-in against a fake ``gi``: it imports without GIMP, declares its procedures,
reads drawables through the right Babl format at their offsets and writes results back."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from darkroom_plugin.pixels import Pixels
from fake_editors import load_gimp_plugin

from darkroom.errors import InvalidInput

PLUGIN = Path(__file__).resolve().parents[2] / "plugin/gimp/neural_darkroom/neural_darkroom.py"


class Buffer:
    def __init__(self, data=b""):
        self.data, self.calls = data, []

    def get(self, rect, scale, fmt, policy):
        self.calls.append(("get", rect, fmt))
        return self.data

    def set(self, rect, fmt, data):
        self.calls.append(("set", rect, fmt, bytes(data)))

    def flush(self):
        pass


class Drawable:
    def __init__(self, name, w, h, off=(0, 0), data=b"", group=False, children=(), parent=None):
        self.name, self.w, self.h, self.off, self.group = name, w, h, off, group
        self.buffer, self.children, self.parent = Buffer(data), list(children), parent
        for c in self.children:
            c.parent = self

    def get_name(self):
        return self.name

    def get_width(self):
        return self.w

    def get_height(self):
        return self.h

    def get_offsets(self):
        return True, *self.off

    def get_buffer(self):
        return self.buffer

    def is_group_layer(self):
        return self.group

    def get_parent(self):
        return self.parent

    def get_children(self):
        return self.children


@pytest.fixture
def gimp(monkeypatch, tmp_path, described):
    """The plug-in as installed: its file with the ops' descriptions beside it."""
    from darkroom_plugin import opdesc

    shutil.copy(PLUGIN, tmp_path / PLUGIN.name)
    opdesc.save(tmp_path, described, "test")
    return load_gimp_plugin(monkeypatch, tmp_path / PLUGIN.name)


class Recorder:
    """A procedure that records what the plug-in declares on it."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *a, **k: self.calls.append((name, a))


def test_declares_the_procedures(gimp, descs):
    from darkroom_plugin import opdesc

    ops = [d.procedure for d in opdesc.editor_ops(descs)]  # one per op with a menu title
    assert {"neural-darkroom-style-transfer", "neural-darkroom-relight-render",
            "neural-darkroom-sketch-search"} <= set(ops)
    assert gimp.NeuralDarkroom().do_query_procedures() == [
        *ops, "neural-darkroom-open-stack", "neural-darkroom-sketch-folders",
        "neural-darkroom-status"]


def test_procedure_arguments_come_from_the_op_description(gimp, monkeypatch):
    proc = Recorder()
    monkeypatch.setattr(gimp.Gimp, "ImageProcedure", SimpleNamespace(new=lambda *a: proc),
                        raising=False)
    gimp.NeuralDarkroom().do_create_procedure("neural-darkroom-style-transfer")
    args = {a[0]: (name, a) for name, a in proc.calls if name.startswith("add_")}
    assert args["style-layer"][0] == "add_layer_argument"
    assert args["style-file"][0] == "add_file_argument"
    assert args["mask-layer"][0] == "add_layer_argument"
    name, a = args["strength"]
    assert name == "add_double_argument" and a[1] == "Strength" and a[3:6] == (0.0, 1.0, 1.0)
    assert args["mode"][0] == "add_choice_argument" and args["mode"][1][4] == "photo"
    assert args["preserve-colors"][1][1] == "Keep the content's colours"
    assert "seed" not in args and "weights" not in args  # CLI-only parameters
    label = next(a[0] for n, a in proc.calls if n == "set_menu_label")
    assert label == "Photo Style Transfer…"
    proc.calls.clear()
    gimp.NeuralDarkroom().do_create_procedure("neural-darkroom-relight-render")
    args = {a[0]: (name, a) for name, a in proc.calls if name.startswith("add_")}
    assert args["lights"][0] == "add_string_argument" and args["lights"][1][3] == "0.5,0.5"
    proc.calls.clear()
    gimp.NeuralDarkroom().do_create_procedure("neural-darkroom-sketch-search")
    args = {a[0]: (name, a) for name, a in proc.calls if name.startswith("add_")}
    assert args["k"][0] == "add_int_argument" and args["k"][1][3:6] == (1, 50, 10)
    assert args["output"][0] == "add_choice_argument"  # its results come as a group
    assert "index" not in args and "size" not in args


def test_op_values_read_the_dialogs_arguments(gimp, descs):
    from darkroom_plugin import opdesc

    style = next(d for d in opdesc.editor_ops(descs) if d.name == "style.transfer")
    layer = Drawable("sunset", 1, 1)
    props = {"style-layer": layer, "style-file": None, "content-labels-layer": None,
             "content-labels-file": None, "style-labels-layer": None, "style-labels-file": None,
             "mask-layer": None, "mask-file": None, "mode": "paint", "strength": 0.5,
             "preserve-colors": False, "quality": "draft", "regions": "auto",
             "return-regions": True}
    values = gimp.op_values(style, SimpleNamespace(get_property=props.__getitem__))
    assert values["style"] is layer and values["mask"] is None
    assert values["mode"] == "paint" and values["return_regions"] is True


@pytest.mark.parametrize("precision, linear, fmt, dtype, size, space", [
    ("u16-non-linear", False, "R'G'B'A u16", "u16", 2, "srgb"),
    ("u8-non-linear", False, "R'G'B'A u8", "u8", 1, "srgb"),
    ("half-perceptual", False, "R'G'B'A float", "f32", 4, "srgb"),
    # light stacks: the values as stored, in the image's own curve, tagged for the op to decode
    ("u16-linear", True, "RGBA u16", "u16", 2, "linear"),
    ("float-linear", True, "RGBA float", "f32", 4, "linear"),
    ("u8-non-linear", True, "R'G'B'A u8", "u8", 1, "srgb"),
    # a 16-bit file without a profile: linear camera values, as Krita and the CLI read it
    ("u16-non-linear", True, "R'G'B'A u16", "u16", 2, "linear"),
])
def test_read_drawable_asks_babl_for_the_right_format(gimp, precision, linear, fmt, dtype, size,
                                                      space):
    image = SimpleNamespace(get_precision=lambda: precision, get_color_profile=lambda: None)
    d = Drawable("layer", 3, 2, off=(7, 9), data=bytes(3 * 2 * 4 * size))
    px = gimp.read_drawable(image, d, linear=linear)
    assert d.buffer.calls[0][2] == fmt
    assert (px.dtype, px.offset, px.width, px.height) == (dtype, (7, 9), 3, 2)
    assert px.colorspace == space


def test_a_profiled_16_bit_stack_stays_srgb(gimp):
    image = SimpleNamespace(get_precision=lambda: "u16-non-linear",
                            get_color_profile=lambda: object())
    px = gimp.read_drawable(image, Drawable("light 0 0", 1, 1, data=bytes(8)), linear=True)
    assert px.colorspace == "srgb" and px.dtype == "u16"


def test_add_layer_writes_rgba_at_the_offset(gimp):
    made = []

    class Layer(Drawable):
        def set_offsets(self, x, y):
            self.off = (x, y)

        def update(self, *a):
            pass

    gimp.Gimp.Layer = SimpleNamespace(new=lambda img, name, w, h, *a: made.append(
        Layer(name, w, h)) or made[-1])
    inserted = []
    image = SimpleNamespace(get_base_type=lambda: "rgb",
                            insert_layer=lambda lay, parent, pos: inserted.append((lay, parent, pos)))
    px = Pixels(bytes([10, 20, 30]), 1, 1, 3, "u8", "r", (4, 5))
    gimp.add_layer(image, px, "Style: s (photo)", "group", 2)
    lay = made[0]
    assert (lay.name, lay.off) == ("Style: s (photo)", (4, 5)) and inserted == [(lay, "group", 2)]
    assert lay.buffer.calls[0][2:] == ("R'G'B'A u8", bytes([10, 20, 30, 255]))


def _relight(descs):
    from darkroom_plugin import opdesc

    return next(d for d in opdesc.editor_ops(descs) if d.name == "relight.render")


def test_relight_outside_a_group_and_bad_names_are_sentences(gimp, descs):
    image = SimpleNamespace(get_precision=lambda: "u8-non-linear")
    values = {"lights": "0.5,0.5", "quality": "draft"}
    lone = Drawable("photo", 1, 1, data=bytes(4))
    with pytest.raises(InvalidInput, match="not in a layer group"):
        gimp.run_op(image, lone, _relight(descs), values)
    kids = [Drawable(n, 1, 1, data=bytes(4)) for n in
            ("light 0 0", "light 1 0", "light 0 1", "Background")]
    group = Drawable("stack", 1, 1, group=True, children=kids)
    with pytest.raises(InvalidInput, match="'Background'"):
        gimp.run_op(image, group, _relight(descs), values)


def test_a_warning_goes_to_gimps_messages_and_the_layer_is_still_added(gimp, monkeypatch, descs):
    from darkroom_plugin.jobs import Outcome

    warn = "Target light 1 lies outside the captured lights' range."
    added, said, undo = [], [], []
    result = Pixels(bytes(4), 1, 1, 4, "u8", "Relit: light at (0.50, 0.50)")
    monkeypatch.setattr(gimp, "run_request",
                        lambda req, *where: Outcome([result], {"warnings": [warn]}))
    monkeypatch.setattr(gimp, "add_layer", lambda *a: added.append(a) or Drawable(a[2], 1, 1))
    monkeypatch.setattr(gimp, "_above", lambda image, anchor: (None, 0))
    monkeypatch.setattr(gimp.Gimp, "message", lambda text: said.append(text), raising=False)
    image = SimpleNamespace(undo_group_start=lambda: undo.append("start"),
                            undo_group_end=lambda: undo.append("end"),
                            get_precision=lambda: "u8-non-linear")
    kids = [Drawable(f"light {u} {v}", 1, 1, data=bytes(4)) for u, v in
            ((0, 0), (1, 0), (0, 1), (1, 1))]
    group = Drawable("stack", 1, 1, group=True, children=kids)
    assert gimp.run_op(image, group, _relight(descs), {"lights": "0.5,0.5"}) == ""
    assert [a[2] for a in added] == ["Relit: light at (0.50, 0.50)"]  # named by the op
    assert undo == ["start", "end"]  # one undo step
    assert len(said) == 1 and warn in said[0]


def test_every_procedure_gets_its_label_before_its_menu_path(gimp):
    """GIMP 3 ignores a menu path added before the label (no menu at all): the order matters."""
    calls = []

    class Proc:
        def __getattr__(self, name):
            return lambda *a, **k: calls.append((name, a))

    gimp.Gimp.ImageProcedure = SimpleNamespace(new=lambda *a: Proc())
    for name in gimp.NeuralDarkroom().do_query_procedures():
        calls.clear()
        gimp.NeuralDarkroom().do_create_procedure(name)
        order = [c[0] for c in calls]
        assert "set_menu_label" in order and "add_menu_path" in order, name
        assert order.index("set_menu_label") < order.index("add_menu_path"), name
        label = calls[order.index("set_menu_label")][1][0]
        assert label and calls[order.index("add_menu_path")][1][0] == \
            "<Image>/Filters/Neural Darkroom", name


def test_preview_is_a_temporary_layer_over_the_source_outside_the_undo_history(gimp, monkeypatch):
    events, layers = [], []

    class Layer:
        def __init__(self, name):
            self.name, self.valid = name, True

        def scale(self, w, h, local):
            events.append(("scale", w, h))

        def set_offsets(self, x, y):
            events.append(("offsets", x, y))

        def is_valid(self):
            return self.valid

    def add(image, px, name, parent, position):
        layers.append(Layer(name))
        events.append(("add", name, (px.width, px.height)))
        return layers[-1]

    def remove(layer):
        layer.valid = False
        layers.remove(layer)
        events.append(("remove", layer.name))
    monkeypatch.setattr(gimp, "add_layer", add)
    monkeypatch.setattr(gimp, "_above", lambda image, anchor: (None, 0))
    monkeypatch.setattr(gimp.Gimp, "displays_flush", lambda: None, raising=False)
    image = SimpleNamespace(undo_freeze=lambda: events.append("freeze"),
                            undo_thaw=lambda: events.append("thaw"), remove_layer=remove)
    source = Drawable("photo", 640, 480, off=(10, 20))
    doc = gimp.GimpDocument(image)
    small = Pixels(bytes(64 * 48 * 3), 64, 48, 3, "u8", "preview")
    doc.show_preview(source, small)
    doc.show_preview(source, small)  # the next preview replaces the first
    assert [n.name for n in layers] == ["Neural Darkroom preview"]
    assert ("scale", 640, 480) in events and ("offsets", 10, 20) in events  # over the source
    doc.show_preview(source, None)  # the job ended or was cancelled
    assert layers == []
    # every change to the document happened with the undo history frozen
    assert events.count("freeze") == events.count("thaw") == 3
    depth = 0
    for e in events:
        depth += {"freeze": 1, "thaw": -1}.get(e, 0) if isinstance(e, str) else 0
        if not isinstance(e, str):
            assert depth == 1, e


def test_an_image_file_gimp_cannot_open_is_a_sentence(gimp, monkeypatch):
    def refuse(mode, file):
        raise RuntimeError("Unknown file type")
    monkeypatch.setattr(gimp.Gimp, "file_load", refuse, raising=False)
    with pytest.raises(InvalidInput, match="GIMP cannot open the image file '/x/notes.txt' "
                                           r"\(Unknown file type\)"):
        gimp.GimpDocument(SimpleNamespace()).read_file("/x/notes.txt")
