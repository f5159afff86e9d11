"""One description per op drives the editors: the plugins read the registry's descriptions
(as install.py writes them), check a dialog's values against them, build requests from any
editor's document through one interface, and put the results where a user expects them."""

from __future__ import annotations

from typing import Any

import pytest
from darkroom_plugin import flows, opdesc, opflow
from darkroom_plugin.jobs import Outcome
from darkroom_plugin.pixels import Pixels

from darkroom.errors import InvalidInput, InvalidParameter


def px(name: str, w: int = 4, h: int = 3) -> Pixels:
    return Pixels(bytes(w * h * 4), w, h, 4, "u8", name)


class L:
    """A layer of the fake document (a picked file is a path ``str``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, L) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class Doc:
    """An editor's document reduced to :class:`opflow.Document`: layers are :class:`L`."""

    def __init__(self, groups: dict[str, list[str]] | None = None) -> None:
        self.groups = groups or {}
        self.added: list[tuple[str, list[tuple[str, float]]]] = []

    def read(self, layer: L) -> Pixels:
        return px(layer.name)

    def read_stack(self, layer: L) -> tuple[str, list[Pixels]]:
        group = layer.name if layer.name in self.groups else next(
            (g for g, kids in self.groups.items() if layer.name in kids), None)
        if group is None:
            raise InvalidInput(f"Layer '{layer.name}' is not in a layer group.")
        return group, [px(k) for k in self.groups[group]]

    def read_file(self, path: str) -> Pixels:
        return px(path.rsplit("/", 1)[-1])

    def name(self, layer: L) -> str:
        return layer.name

    def same(self, a: L, b: L) -> bool:
        return a == b

    def add_results(self, anchor: Any, layers: list[tuple[Pixels, str, float]]) -> list[Any]:
        self.added.append((getattr(anchor, "name", anchor), [(name, a) for _p, name, a in layers]))
        return [name for _p, name, _a in layers]

    def add_group(self, anchor: Any, name: str, layers: list[tuple[Pixels, str]]) -> list[Any]:
        self.added.append((getattr(anchor, "name", anchor), [(name, 1.0)]))
        self.grouped = [n for _p, n in layers]
        return [name, *self.grouped]

    def open_image(self, p: Pixels, name: str) -> str:
        self.opened = [*getattr(self, "opened", []), name]
        return name

    def message(self, text: str) -> None:
        pass

    def show_preview(self, anchor: str, p: Pixels | None) -> None:
        pass


def by_name(descs: list[opdesc.OpDesc], name: str) -> opdesc.OpDesc:
    return next(d for d in descs if d.name == name)


def test_the_menu_comes_from_the_descriptions(descs):
    menu = {d.name: d for d in opdesc.editor_ops(descs)}
    # ops for the selected layer have a menu title; tools for the plugin's own flows do not
    assert {"style.transfer", "relight.render", "sketch.search"} <= set(menu)
    assert not {"debug.echo", "sketch.index", "relight.find_lights", "relight.train"} & set(menu)
    style = menu["style.transfer"]
    assert style.procedure == "neural-darkroom-style-transfer"
    assert style.action == "neural_darkroom_style_transfer"
    assert [i.role for i in style.picked] == ["style", "content_labels", "style_labels", "mask"]
    shown = [p.name for p in style.shown]
    assert shown[:2] == ["mode", "strength"] and "seed" not in shown and "weights" not in shown
    assert style.param("preserve_colors").label == "Keep the content's colours"
    relight = menu["relight.render"]
    assert relight.source.source == "stack" and relight.param("lights").initial() == "0.5,0.5"


def test_a_dialogs_values_are_checked_with_sentences_naming_the_field(descs):
    style = by_name(descs, "style.transfer")
    assert opdesc.params_from(style, {"strength": 0.5, "mode": "paint"}) == {
        "strength": 0.5, "mode": "paint"}
    with pytest.raises(InvalidParameter, match="Strength must be between 0 and 1, not 2"):
        opdesc.params_from(style, {"strength": 2})
    with pytest.raises(InvalidParameter, match="Mode must be one of photo, paint, mrf"):
        opdesc.params_from(style, {"mode": "oil"})
    relight = by_name(descs, "relight.render")
    lights = opdesc.params_from(relight, {"lights": "0.2,0.8:1,0.8,0.6@1.5; 0.9,0.5"})["lights"]
    assert [lt["position"] for lt in lights] == [[0.2, 0.8], [0.9, 0.5]]
    with pytest.raises(InvalidParameter, match="Target lights is needed"):
        opdesc.params_from(relight, {})


def test_build_reads_the_layers_a_user_picked(descs):
    style = by_name(descs, "style.transfer")
    doc = Doc()
    plan = opflow.build(style, doc, L("portrait"), {"style": L("sunset"), "content_labels": None,
                                                "quality": "draft", "mode": "photo"})
    assert plan.anchor == L("portrait") and plan.request.op == "style.transfer"
    assert [(r, p.name) for r, p in plan.request.images] == [("content", "portrait"),
                                                            ("style", "sunset")]
    assert plan.request.params == {"quality": "draft", "mode": "photo"}
    by_file = opflow.build(style, doc, L("portrait"), {"style": "/photos/dusk.jpg"})
    assert by_file.request.images[1][1].name == "dusk.jpg"
    with pytest.raises(InvalidInput, match="Pick a style layer or image file"):
        opflow.build(style, doc, L("portrait"), {})
    with pytest.raises(InvalidInput, match="'portrait' is the layer being changed"):
        opflow.build(style, doc, L("portrait"), {"style": L("portrait")})


def test_a_light_stack_is_checked_before_any_pixel_travels(descs):
    relight = by_name(descs, "relight.render")
    doc = Doc({"stack": ["light 0 0", "light 1 0", "light 0 1", "light 1 1"],
               "holiday": ["light 0 0", "Background"]})
    plan = opflow.build(relight, doc, L("light 1 0"), {"lights": "0.5,0.5"})
    assert plan.anchor == "stack" and len(plan.request.images) == 4
    assert {r for r, _ in plan.request.images} == {"stack"}
    with pytest.raises(InvalidInput, match="'Background'"):
        opflow.build(relight, doc, L("holiday"), {"lights": "0.5,0.5"})
    with pytest.raises(InvalidInput, match="not in a layer group"):
        opflow.build(relight, doc, L("lonely"), {"lights": "0.5,0.5"})


def test_results_become_layers_named_by_the_op_above_the_anchor(descs):
    style = by_name(descs, "style.transfer")
    doc = Doc()
    plan = opflow.build(style, doc, L("photo"), {"style": L("sunset")})
    images = [px("Style: sunset (photo)"), px("Style: regions of photo"),
              px("Style: regions of sunset")]
    made = opflow.apply(plan, Outcome(images, {"layers": [0, 1], "layer_opacity": [1.0, 0.6]}),
                        doc)
    assert made == ["Style: sunset (photo)", "Style: regions of photo"]
    assert doc.added == [("photo", [("Style: sunset (photo)", 1.0),
                                    ("Style: regions of photo", 0.6)])]
    # without a list, every returned image is a layer
    assert len(opflow.result_layers(Outcome(images[:2], {}))) == 2


def test_a_new_ops_results_stack_like_ours(descs):
    flows.note_descriptions([opdesc.OpDesc("x.y", result_prefix="Frobbed: ")])
    assert flows.is_result("Frobbed: sky") and not flows.is_result("Frobnicate")


def test_descriptions_file_round_trip_and_refresh(tmp_path, described):
    assert opdesc.load(tmp_path) == []  # no file: nothing described, no traceback
    (tmp_path / opdesc.DESCRIPTIONS_FILE).write_text("{not json")
    assert opdesc.load(tmp_path) == []
    assert opdesc.save(tmp_path, described, "1.0") is True
    assert opdesc.save(tmp_path, described, "1.0") is False  # unchanged
    assert [d.name for d in opdesc.load(tmp_path)] == sorted(o["name"] for o in described)

    class Client:
        def ops(self) -> list[dict]:
            return [*described, {"name": "colour.new", "title": "New…",
                                 "images": [{"role": "content", "source": "active"}]}]

        def ping(self) -> dict:
            return {"version": "9"}
    assert opdesc.refresh(tmp_path, Client()) is True
    assert "colour.new" in [d.name for d in opdesc.editor_ops(opdesc.load(tmp_path))]


def test_sketch_matches_come_as_a_group_or_as_new_images(descs):
    search = by_name(descs, "sketch.search")
    assert search.result_group == "Sketch matches"  # from the op's description
    matches = [px("shoe.jpg"), px("boot.jpg")]
    meta = {"layer_names": ["shoe.jpg (0.87)", "boot.jpg (0.61)"]}
    doc = Doc()
    plan = opflow.build(search, doc, L("doodle"), {"k": 2})
    assert plan.request.params == {"k": 2} and plan.request.images[0][0] == "sketch"
    assert opflow.apply(plan, Outcome(matches, meta), doc) == [
        "Sketch matches", "shoe.jpg (0.87)", "boot.jpg (0.61)"]  # the best on top
    assert doc.added == [("doodle", [("Sketch matches", 1.0)])]
    as_images = opflow.build(search, doc, L("doodle"), {"k": 2, "output": "images"})
    assert opflow.apply(as_images, Outcome(matches, meta), doc) == ["shoe.jpg (0.87)",
                                                                     "boot.jpg (0.61)"]
    with pytest.raises(InvalidParameter, match="Show as new"):
        opflow.build(search, doc, L("doodle"), {"output": "printer"})


def test_a_parameter_no_dialog_can_hold_is_not_shown():
    """A newer backend's op with a parameter this plugin cannot edit (an object, a text format
    it does not know): the dialog leaves it to the op's default instead of failing."""
    desc = opdesc.parse([{"name": "x.y", "title": "X…",
                          "images": [{"role": "content", "source": "active"}],
                          "params": [{"name": "curve", "kind": "dict", "default": {}},
                                     {"name": "path", "kind": "list", "text": "bezier"},
                                     {"name": "amount", "kind": "float", "default": 0.5}]}])[0]
    assert [p.name for p in desc.shown] == ["amount"]
    with pytest.raises(InvalidParameter, match="cannot read 'bezier' values"):
        opdesc.check_value(desc.params[1], "0,0 1,1")
