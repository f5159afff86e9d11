"""Light-stack layer names and CLI target specs (darkroom.lightnames, stdlib-only)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from darkroom import lightnames
from darkroom.errors import InvalidInput, InvalidParameter


def test_position_and_intensity() -> None:
    lt = lightnames.parse_name("light 0.25 0.75 @1.2,1.5,2")
    assert lt.kind == "position"
    assert lt.coords == (0.25, 0.75)
    assert lt.intensity == (1.2, 1.5, 2.0)


def test_direction_is_normalised_and_negative_ok() -> None:
    lt = lightnames.parse_name("Light -0.2 0.1 0.97")
    assert lt.kind == "direction"
    assert math.isclose(sum(v * v for v in lt.coords), 1.0, rel_tol=1e-9)
    assert lt.coords[0] < 0


def test_file_stem_with_underscores() -> None:
    assert lightnames.parse_name("light_0.5_0.125").coords == (0.5, 0.125)


def test_format_round_trip() -> None:
    lt = lightnames.Light("position", (0.1, 0.9), (2.0, 2.0, 1.0))
    assert lightnames.parse_name(lightnames.format_name(lt)) == lt


@pytest.mark.parametrize("name", ["background", "light", "light 0.5", "light 1 2 3 4",
                                  "light a b", "light nan 0.5", "light 0 0 0",
                                  "light 0.5 0.5 @-1,1,1"])
def test_bad_names_raise(name: str) -> None:
    with pytest.raises(InvalidInput, match="Layer"):
        lightnames.parse_name(name)


def test_stack_names_every_bad_layer() -> None:
    names = ["light 0 0", "Layer 2", "light 1 0", "light 0 1", "sky"]
    with pytest.raises(InvalidInput) as e:
        lightnames.parse_stack(names)
    assert "'Layer 2'" in str(e.value) and "'sky'" in str(e.value)


def test_stack_mixed_kinds() -> None:
    with pytest.raises(InvalidInput, match="mixes positions"):
        lightnames.parse_stack(["light 0 0", "light 1 0", "light 0 1", "light 0 0 1"])


def test_stack_duplicates_named() -> None:
    with pytest.raises(InvalidInput, match="'light 1 0' and 'light 1.0 0.0'"):
        lightnames.parse_stack(["light 0 0", "light 1 0", "light 0 1", "light 1.0 0.0"])


def test_stack_too_few() -> None:
    with pytest.raises(InvalidInput, match="at least 4"):
        lightnames.parse_stack(["light 0 0", "light 1 0", "light 0 1"])


def test_stack_ok() -> None:
    lights = lightnames.parse_stack([f"light {u} {v}" for u in (0, 1) for v in (0, 1)])
    assert [lt.coords for lt in lights] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_targets() -> None:
    assert lightnames.parse_target("0.3,0.6") == {
        "position": [0.3, 0.6], "color": [1.0, 1.0, 1.0], "intensity": 1.0}
    t = lightnames.parse_target("-0.2,0.1,0.97:1,0.8,0.6@2")
    assert t == {"direction": [-0.2, 0.1, 0.97], "color": [1, 0.8, 0.6], "intensity": 2.0}


@pytest.mark.parametrize("spec", ["0.3", "0.3,x", "0.1,0.2:1,1", "0.1,0.2@1,2", "0.1,0.2@-1",
                                  "inf,0.2"])
def test_bad_targets(spec: str) -> None:
    with pytest.raises(InvalidParameter, match="--light"):
        lightnames.parse_target(spec)


def test_importable_without_numpy_or_torch() -> None:
    code = ("import sys; sys.modules['numpy'] = None; sys.modules['torch'] = None; "
            "import darkroom.lightnames")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_lp_round_trip_and_windows_paths() -> None:
    rows = [("img 01.jpg", (0.1, 0.2, 0.97)), ("b.png", (0.0, 0.0, 1.0))]
    back = lightnames.parse_lp(lightnames.format_lp(rows))
    assert [n for n, _ in back] == ["img 01.jpg", "b.png"]
    assert all(math.isclose(sum(v * v for v in d), 1.0) for _, d in back)
    assert back[1][1] == (0.0, 0.0, 1.0)
    text = "2\r\nC:\\capture\\IMG_1.JPG 0.5 0.5 0.7071\r\n\r\nC:\\capture\\IMG_2.JPG -1e-1 0 1\r\n"
    names = [lightnames.lp_basename(n) for n, _ in lightnames.parse_lp(text)]
    assert names == ["IMG_1.JPG", "IMG_2.JPG"]


@pytest.mark.parametrize("text, why", [("", "empty"), ("two\na 0 0 1\n", "number of photos"),
                                       ("2\na 0 0 1\n", "announces 2"),
                                       ("1\na 0 x 1\n", "line 2"), ("1\na 0 0 0\n", "zero")])
def test_lp_errors_are_sentences(text: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        lightnames.parse_lp(text, "'x.lp'")
