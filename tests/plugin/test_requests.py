"""Requests built from layers: checks before sending, relighting targets, sketch requests."""

from __future__ import annotations

import pytest
from darkroom_plugin import requests as rq
from darkroom_plugin.pixels import Pixels

from darkroom.errors import InvalidInput, InvalidParameter


def layer(name: str, w: int = 4, h: int = 3) -> Pixels:
    return Pixels(bytes(w * h * 4), w, h, 4, "u8", name, (2, 1))


def test_wire_images_keep_shape_offset_and_role():
    req = rq.Request("style.transfer", [("content", layer("portrait")), ("style", layer("s"))], {})
    wire = req.wire_images()
    assert wire[0].shape == (3, 4, 4) and wire[0].offset == (2, 1) and wire[1].role == "style"


def test_a_light_stack_is_checked_by_names_and_sizes():
    stack = [layer(f"light {u} {v}") for u, v in [(0, 0), (1, 0), (0, 1), (1, 1)]]
    rq.check_stack(stack)
    bad = [*stack, layer("Background"), layer("copy of light")]
    with pytest.raises(InvalidInput) as e:
        rq.check_stack(bad)
    assert "'Background'" in str(e.value) and "'copy of light'" in str(e.value)
    odd = [layer(f"light {u} 0.5", w=4 if u < 3 else 5) for u in range(4)]
    with pytest.raises(InvalidInput, match="light 3 0.5"):
        rq.check_stack(odd)
    with pytest.raises(InvalidInput, match="no layers"):
        rq.check_stack([])


def test_parse_lights_several_with_colour_and_intensity():
    lights = rq.parse_lights("0.2,0.8:1,0.8,0.6@1.5; -0.2,0.1,0.97\n")
    assert lights[0] == {"position": [0.2, 0.8], "color": [1.0, 0.8, 0.6], "intensity": 1.5}
    assert lights[1]["direction"] == [-0.2, 0.1, 0.97]
    with pytest.raises(InvalidParameter):
        rq.parse_lights(" ; ")
    with pytest.raises(InvalidParameter, match="'nowhere'"):
        rq.parse_lights("nowhere")


def test_sketch_index_request_needs_a_folder():
    assert rq.sketch_index_request(["/photos"]).params == {"folders": ["/photos"]}
    with pytest.raises(InvalidParameter, match="folder"):
        rq.sketch_index_request([])
