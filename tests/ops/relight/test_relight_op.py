"""relight.render / relight.train through the registry: linearity, reproduction at captured
lights, formats, the cache, and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from darkroom import images as imgs
from darkroom.errors import InvalidInput, InvalidParameter
from darkroom.ops import registry
from darkroom.ops.registry import Image
from darkroom.ops.relight import cache, network

DRAFT = {"quality": "draft"}


def render(layers: list[Image], *lights: dict) -> registry.Result:
    return registry.run("relight.render", layers, {"lights": list(lights), **DRAFT})


def test_render_shape_name_and_linear_encoding(tiny: Path, make_layers) -> None:
    layers = make_layers()
    res = render(layers, {"position": [0.4, 0.6]})
    (out,) = res.images
    assert out.pixels.shape == (24, 24, 3) and out.pixels.dtype == np.float32
    assert out.name == "Relit: light at (0.40, 0.60)" and out.role == "result" and out.colorspace == "linear"
    assert out.pixels.min() >= 0 and out.pixels.mean() > 0.01
    assert res.meta["warnings"] == [] and res.meta["training"]["members"] == 2


def test_captured_light_reproduces_captured_image(tiny: Path, make_layers) -> None:
    layers = make_layers()
    out = render(layers, {"position": [1 / 3, 2 / 3]}).images[0].pixels
    captured = next(im.pixels for im in layers if im.name == f"light {1 / 3!r} {2 / 3!r}")
    np.testing.assert_allclose(out, captured, atol=1e-5)


def test_two_coloured_lights_add_up(tiny: Path, make_layers) -> None:
    layers = make_layers()
    a = {"position": [0.45, 0.2], "color": [1.0, 0.5, 0.2], "intensity": 0.7}
    b = {"position": [0.8, 0.55], "color": [0.1, 0.4, 1.0], "intensity": 1.5}
    sa, sb = render(layers, a).images[0].pixels, render(layers, b).images[0].pixels
    both = render(layers, a, b)
    assert both.images[0].name == "Relit: 2 lights (0.45, 0.20) (0.80, 0.55)"
    np.testing.assert_allclose(both.images[0].pixels, sa + sb, atol=1e-5)
    assert not np.allclose(sa, sb, atol=1e-3)  # the two lights really differ


def test_srgb_8bit_with_alpha_round_trips(tiny: Path, make_layers) -> None:
    layers = []
    for im in make_layers():
        rgb = imgs.from_float(imgs.linear_to_srgb(np.clip(im.pixels, 0, 1)), np.uint8)
        alpha = np.full((24, 24, 1), 200, np.uint8)
        layers.append(Image(np.concatenate([rgb, alpha], 2), "stack", im.name))
    out = render(layers, {"position": [0.0, 1.0]}).images[0]
    assert out.pixels.dtype == np.uint8 and out.pixels.shape == (24, 24, 4)
    assert out.colorspace == "srgb"
    assert (out.pixels[..., 3] == 200).all()
    # light 0 1 was captured: the answer is that layer, up to one 8-bit level
    captured = next(im for im in layers if im.name == f"light {0.0!r} {1.0!r}").pixels
    assert np.abs(out.pixels.astype(int) - captured.astype(int)).max() <= 1


def test_outside_hull_is_answered_with_a_warning(tiny: Path, make_layers) -> None:
    res = render(make_layers(), {"position": [1.3, 0.5]})
    assert res.images and "outside" in res.meta["warnings"][0]


def test_second_request_uses_the_cache(tiny: Path, make_layers, monkeypatch) -> None:
    layers = make_layers()
    first = registry.run("relight.train", layers, DRAFT)
    assert first.images == [] and first.meta["cached"] is False
    files = list((tiny / "cache" / "relight").glob("*.pt"))
    assert [f.stem for f in files] == [first.meta["cache_key"]]

    def no_training(*a, **k):  # a cached stack must never train again
        raise AssertionError("retrained a cached stack")

    monkeypatch.setattr("darkroom.ops.relight.op.train", no_training)
    warm = render(layers, {"position": [0.5, 0.5]})
    cache.forget_memory()  # the disk path: torch.load(weights_only=True)
    cold = render(layers, {"position": [0.5, 0.5]})
    assert warm.meta["cached"] and cold.meta["cached"]
    assert warm.meta["cache_key"] == first.meta["cache_key"]
    np.testing.assert_array_equal(warm.images[0].pixels, cold.images[0].pixels)


def test_a_second_request_reuses_the_built_model(tiny: Path, make_layers) -> None:
    from darkroom.ops.relight import op

    stack = op.prepare_stack(make_layers())

    def get() -> network.RelightModel:
        return op.get_model(stack, "draft", lambda *a, **k: None, lambda: False)[0]

    first = get()
    assert get() is first  # the daemon's next request skips rebuilding and re-sorting pixels
    cache.forget_memory()
    cold = get()  # read back from disk (weights_only): built anew, same answer
    assert cold is not first
    light = np.array([[0.45, 0.55]])
    np.testing.assert_array_equal(cold.render(light), first.render(light))


def test_changed_pixels_change_the_key(tiny: Path, make_layers) -> None:
    layers = make_layers()
    k1 = registry.run("relight.train", layers, DRAFT).meta["cache_key"]
    layers[3] = Image(layers[3].pixels * 0.5, "stack", layers[3].name, colorspace="linear")
    assert registry.run("relight.train", layers, DRAFT).meta["cache_key"] != k1


def test_cancel_stops_training(tiny: Path, make_layers) -> None:
    from darkroom.errors import Cancelled

    with pytest.raises(Cancelled):
        registry.run("relight.train", make_layers(), DRAFT, cancelled=lambda: True)


def test_direction_stack(tiny: Path) -> None:
    rng = np.random.default_rng(0)
    dirs = [(-0.5, 0.0, 0.87), (0.5, 0.0, 0.87), (0.0, -0.5, 0.87), (0.0, 0.5, 0.87),
            (0.0, 0.0, 1.0)]
    layers = [Image(rng.uniform(0, 1, (8, 8, 3)).astype(np.float32), "stack",
                    "light {} {} {}".format(*d), colorspace="linear") for d in dirs]
    out = render(layers, {"direction": [0.1, 0.1, 0.99]}).images[0]
    assert out.pixels.shape == (8, 8, 3)
    with pytest.raises(InvalidParameter, match="directions, not positions"):
        render(layers, {"position": [0.1, 0.1]})


def _named(layers: list[Image], names: list[str]) -> list[Image]:
    return [Image(im.pixels, "stack", n, colorspace="linear") for im, n in zip(layers, names)]


def test_bad_stacks_get_a_sentence(tiny: Path, make_layers) -> None:
    layers = make_layers(n=2)
    with pytest.raises(InvalidInput, match="at least 4"):
        render(layers[:3], {"position": [0.5, 0.5]})
    odd = [*layers[:3], Image(np.zeros((10, 12, 3), np.float32), "stack", "light 0.5 0.5")]
    with pytest.raises(InvalidInput, match="'light 0.5 0.5' is 12×10"):
        render(odd, {"position": [0.5, 0.5]})
    with pytest.raises(InvalidInput, match="'Background'"):
        render(_named(layers, ["light 0 0", "Background", "light 1 0", "light 1 1"]),
               {"position": [0.5, 0.5]})
    with pytest.raises(InvalidInput, match="same light"):
        render(_named(layers, ["light 0 0", "light 0 1", "light 1 0", "light 0.0 1.0"]),
               {"position": [0.5, 0.5]})
    with pytest.raises(InvalidInput, match="mixes positions"):
        render(_named(layers, ["light 0 0", "light 0 1", "light 1 0", "light 0 0 1"]),
               {"position": [0.5, 0.5]})


@pytest.mark.parametrize("light", [{"position": [0.5]}, {"position": [0.5, float("nan")]},
                                   {"position": [0.5, 0.5], "color": [1, -1, 1]}, "0.5,0.5",
                                   {"direction": [0, 0, 1]}])
def test_bad_targets(tiny: Path, make_layers, light) -> None:
    with pytest.raises(InvalidParameter, match="Target light 1"):
        render(make_layers(n=2), light)


def test_no_targets(tiny: Path, make_layers) -> None:
    with pytest.raises(InvalidParameter, match="at least one"):
        registry.run("relight.render", make_layers(n=2), {"lights": [], **DRAFT})


def test_cache_files_hold_only_tensors(tiny: Path, make_layers) -> None:
    import torch

    key = registry.run("relight.train", make_layers(), DRAFT).meta["cache_key"]
    state = torch.load(tiny / "cache" / "relight" / f"{key}.pt", weights_only=True)
    assert state["version"] == network.VERSION
    assert len(state["labels"]) == network.QUALITY["draft"].members
    assert state["stats"]["steps"] == network.QUALITY["draft"].steps


def test_cancel_stops_rendering(tiny: Path, make_layers) -> None:
    from darkroom.errors import Cancelled

    layers = make_layers()
    registry.run("relight.train", layers, DRAFT)
    calls = []

    def cancel_after_first() -> bool:  # the op's entry check passes; the render loop's fails
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        registry.run("relight.render", layers, {"lights": [{"position": [0.5, 0.5]}], **DRAFT},
                     cancelled=cancel_after_first)
    assert len(calls) == 2


def test_cache_folder_stays_bounded_least_recently_used_first(tiny: Path, make_layers,
                                                              monkeypatch) -> None:
    """Users relight many stacks over months: the cache must not fill their disk. Old models
    (including ones from an earlier cache format, never read again) go first; the model just
    trained and the ones used recently stay."""
    folder = tiny / "cache" / "relight"
    folder.mkdir(parents=True)
    stale = folder / ("0" * 32 + ".pt")
    stale.write_bytes(b"x" * 1000)  # an earlier format's file: its key never matches again
    os.utime(stale, (1, 1))
    a = registry.run("relight.train", make_layers(seed=1), DRAFT).meta["cache_key"]
    b = registry.run("relight.train", make_layers(seed=2), DRAFT).meta["cache_key"]
    size = (folder / f"{a}.pt").stat().st_size
    monkeypatch.setattr(cache, "MAX_BYTES", 2 * size + 500)  # room for two models
    os.utime(folder / f"{a}.pt", (100, 100))  # a was trained first, b after it ...
    os.utime(folder / f"{b}.pt", (200, 200))
    cache.forget_memory()
    registry.run("relight.train", make_layers(seed=1), DRAFT)  # ... but a was used since
    c = registry.run("relight.train", make_layers(seed=3), DRAFT).meta["cache_key"]
    assert {f.stem for f in folder.glob("*.pt")} == {a, c}
def test_the_result_is_named_by_its_lights() -> None:
    from darkroom.ops.relight.op import result_name

    assert result_name([{"position": [0.5, 0.5]}]) == "Relit: light at (0.50, 0.50)"
    assert result_name([{"direction": [0.4, 0, 0.92]}, {"position": [1, 0]}]) == \
        "Relit: 2 lights (0.40, 0.00, 0.92) (1.00, 0.00)"
