"""Requests built from layers: roles, parameters, checks before sending, result names."""

from __future__ import annotations

import pytest
from darkroom_plugin import requests as rq
from darkroom_plugin.pixels import Pixels

from darkroom.errors import InvalidInput, InvalidParameter


def layer(name: str, w: int = 4, h: int = 3) -> Pixels:
    return Pixels(bytes(w * h * 4), w, h, 4, "u8", name, (2, 1))


def test_style_request_roles_params_and_name():
    req = rq.style_request(layer("portrait"), layer("sunset"), mode="paint", strength=0.5,
                           quality="draft", preserve_colors=True)
    assert req.op == "style.transfer"
    assert [role for role, _ in req.images] == ["content", "style"]
    assert req.params == {"mode": "paint", "strength": 0.5, "quality": "draft",
                          "preserve_colors": True}
    assert req.result_name == "Style: sunset (paint)"
    wire = req.wire_images()
    assert wire[0].shape == (3, 4, 4) and wire[0].offset == (2, 1) and wire[1].role == "style"


def test_style_labels_come_in_pairs():
    req = rq.style_request(layer("c"), layer("s"), content_labels=layer("cl"),
                           style_labels=layer("sl"))
    assert [r for r, _ in req.images][2:] == ["content_labels", "style_labels"]
    with pytest.raises(InvalidInput, match="both"):
        rq.style_request(layer("c"), layer("s"), content_labels=layer("cl"))


@pytest.mark.parametrize("kw, field", [({"mode": "cubist"}, "mode"), ({"strength": 1.5}, "strength"),
                                       ({"quality": "ultra"}, "quality")])
def test_style_bad_parameters_name_the_field(kw, field):
    with pytest.raises(InvalidParameter) as e:
        rq.style_request(layer("c"), layer("s"), **kw)
    assert e.value.field == field


def test_relight_request_checks_names_before_sending():
    stack = [layer(f"light {u} {v}") for u, v in [(0, 0), (1, 0), (0, 1), (1, 1)]]
    req = rq.relight_request(stack, rq.parse_lights("0.5,0.5"), quality="draft")
    assert req.op == "relight.render" and {r for r, _ in req.images} == {"stack"}
    assert req.result_name == "Relit: light at (0.50, 0.50)"
    bad = [*stack, layer("Background"), layer("copy of light")]
    with pytest.raises(InvalidInput) as e:
        rq.relight_request(bad, rq.parse_lights("0.5,0.5"))
    assert "'Background'" in str(e.value) and "'copy of light'" in str(e.value)


def test_relight_stack_sizes_must_agree():
    stack = [layer(f"light {u} 0.5", w=4 if u < 3 else 5) for u in range(4)]
    with pytest.raises(InvalidInput, match="light 3 0.5"):
        rq.relight_request(stack, rq.parse_lights("0.5,0.5"))


def test_parse_lights_several_with_colour_and_intensity():
    lights = rq.parse_lights("0.2,0.8:1,0.8,0.6@1.5; -0.2,0.1,0.97\n")
    assert lights[0] == {"position": [0.2, 0.8], "color": [1.0, 0.8, 0.6], "intensity": 1.5}
    assert lights[1]["direction"] == [-0.2, 0.1, 0.97]
    assert rq.relight_result_name(lights).startswith("Relit: 2 lights")
    with pytest.raises(InvalidParameter):
        rq.parse_lights(" ; ")
    with pytest.raises(InvalidParameter, match="'nowhere'"):
        rq.parse_lights("nowhere")


def test_sketch_requests():
    req = rq.sketch_search_request(layer("doodle"), k=3)
    assert req.op == "sketch.search" and req.params["k"] == 3 and req.images[0][0] == "sketch"
    assert req.result_name == rq.SKETCH_GROUP
    with pytest.raises(InvalidParameter):
        rq.sketch_search_request(layer("doodle"), k=0)
    with pytest.raises(InvalidParameter, match="folder"):
        rq.sketch_index_request([])
    assert rq.match_layer_name("shoe.jpg", {"score": 0.873}) == "shoe.jpg (0.87)"
