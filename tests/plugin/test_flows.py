"""darkroom_plugin.flows: what both editors say and decide, against the daemon's real replies."""

from __future__ import annotations

import math

import pytest
from darkroom_plugin import flows

from darkroom.errors import InvalidInput


def test_status_text_reads_the_keys_the_daemon_sends(make_daemon) -> None:  # type: ignore[no-untyped-def]
    """The sentence is built from a real daemon's ping/status (a wrong key once showed '?')."""
    d = make_daemon()
    with d.client() as c:
        ping, status = c.ping(), c.status()
    text = flows.status_text(ping, status)
    assert f"on {ping['devices'][0]}" in text and "no job running" in text and "0 done" in text
    assert "?" not in text and str(status["log"]) in text
    assert flows.short_status(ping, status).startswith(f"Backend: running on {ping['devices'][0]}")


def test_index_summary_counts_and_names_failures() -> None:
    meta = {"added": 3, "updated": 1, "unchanged": 2, "removed": 0, "skipped": 1,
            "skipped_files": [{"path": "/p/bad.jpg", "reason": "not an image"}]}
    text = flows.index_summary(meta)
    assert "6 photos" in text and "3 new" in text and "/p/bad.jpg: not an image" in text


def test_results_stack_on_the_previous_result(descs) -> None:  # type: ignore[no-untyped-def]
    bottom_up = ["background", "content", "Style: a (photo)", "Style: b (paint)", "notes"]
    assert flows.result_anchor(bottom_up, 1) == 3  # above both earlier results
    assert flows.result_anchor(bottom_up, 4) == 4
    assert flows.result_anchor(["content"], 0) == 0


def test_style_choices_put_results_last(descs) -> None:  # type: ignore[no-untyped-def]
    names = ["Style: x (photo)", "sky", "Relit: light at (0.50, 0.50)", "paper"]
    assert flows.style_choices(names) == [1, 3, 0, 2]


@pytest.mark.parametrize("u,v", [(0.5, 0.5), (0.9, 0.2), (0.0, 0.0), (1.0, 0.5)])
def test_pad_lights_for_direction_stacks_are_unit_directions(u, v) -> None:
    d = flows.pad_light(u, v, "direction")["direction"]
    assert math.isclose(math.hypot(*d), 1.0, abs_tol=1e-3) and d[2] >= 0
    back = flows.pad_point({"direction": d})
    if math.hypot(2 * u - 1, 1 - 2 * v) < 0.99:  # inside the disc: the click is where it lands
        assert back == pytest.approx((u, v), abs=1e-3)


def test_pad_lights_for_position_stacks_are_positions() -> None:
    assert flows.pad_light(0.25, 0.75, "position") == {"position": [0.25, 0.75]}


def test_stack_lights_tell_the_kind_and_name_bad_layers() -> None:
    kind, lights = flows.stack_lights([f"light 0 0.{i} 1" for i in range(4)])
    assert kind == "direction" and len(lights) == 4
    with pytest.raises(InvalidInput, match="'notes'"):
        flows.stack_lights(["light 0 0", "light 1 0", "light 0 1", "notes"])


def test_open_stack_request_and_plan() -> None:
    from darkroom.errors import InvalidParameter

    req = flows.open_stack_request("/photos/rti", "120, 80, 40")
    assert req.op == "relight.find_lights" and req.params == {
        "folder": "/photos/rti", "sphere": [120.0, 80.0, 40.0]}
    assert "sphere" not in flows.open_stack_request("/photos/rti").params
    with pytest.raises(InvalidParameter, match="CX,CY,R"):
        flows.open_stack_request("/p", "12,3")
    meta = {"source": "estimated", "estimated": True, "encoding": "srgb",
            "warnings": ["'p9.png' has no highlight: left out."],
            "lights": [{"file": "/photos/rti/p0.png", "name": "light 0.1 0.2 0.97"},
                       {"file": "/photos/rti/p1.png", "name": "light -0.1 0.2 0.97"}]}
    group, rows, note = flows.stack_plan(meta, "/photos/rti/")
    assert group == "rti (estimated light layout)"
    assert rows == [("/photos/rti/p0.png", "light 0.1 0.2 0.97"),
                    ("/photos/rti/p1.png", "light -0.1 0.2 0.97")]
    assert "estimated layout" in note and "'p9.png'" in note
