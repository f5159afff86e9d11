"""Light-stack folders (:mod:`darkroom.ops.relight.folder`): .lp files, photos with a sphere,
photos without anything (estimated layout), ``darkroom relight lights`` and the
``relight.find_lights`` op."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from darkroom import images as imgs
from darkroom import lightnames
from darkroom.cli import main
from darkroom.errors import InvalidInput, InvalidParameter
from darkroom.ops import registry
from darkroom.ops.relight import folder, layout, sphere, synth

CIRCLE = (40.3, 35.6, 18.2)
SIZE = (72, 90)


def _dirs(n: int) -> np.ndarray:
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    el = np.radians(np.where(np.arange(n) % 2, 30, 55))
    return np.stack([np.sin(el) * np.cos(ang), np.sin(el) * np.sin(ang), np.cos(el)], 1)


def _write_sphere_photos(d: Path, n: int = 8, extra_dark: bool = False) -> np.ndarray:
    """n 8-bit sRGB photos of a glossy sphere (files p00.png …); returns their directions."""
    dirs = _dirs(n)
    for i, v in enumerate(dirs):
        lum = synth.sphere_photo(SIZE, CIRCLE, tuple(v), seed=2)
        rgb = np.repeat(np.clip(lum, 0, 1)[..., None], 3, 2) * np.array([1.0, 0.9, 0.8])
        imgs.write_image(d / f"p{i:02d}.png", imgs.from_float(imgs.linear_to_srgb(rgb),
                                                              np.uint8))
    if extra_dark:  # the flash did not fire: no highlight
        imgs.write_image(d / "p99.png", np.full((*SIZE, 3), 3, np.uint8))
    return dirs


def test_lp_folder_is_a_stack(tmp_path: Path) -> None:
    dirs = _write_sphere_photos(tmp_path, 6)
    rows = [(f"D:\\shoot\\p{i:02d}.png", tuple(v)) for i, v in enumerate(dirs)]
    (tmp_path / "capture.lp").write_text(lightnames.format_lp(rows))
    found = folder.find_lights(tmp_path)
    assert found.source == "lp" and found.encoding == "srgb" and not found.estimated
    assert [lt.file.name for lt in found.lights] == [f"p{i:02d}.png" for i in range(6)]
    np.testing.assert_allclose([lt.coords for lt in found.lights], dirs, atol=1e-5)
    (tmp_path / "capture.lp").write_text(lightnames.format_lp(rows + [("gone.png", (0, 0, 1))]))
    with pytest.raises(InvalidInput, match="'gone.png'"):
        folder.find_lights(tmp_path)


def test_sphere_folder_names_the_photo_without_highlight(tmp_path: Path) -> None:
    dirs = _write_sphere_photos(tmp_path, 8, extra_dark=True)
    found = folder.find_lights(tmp_path)
    assert found.source == "sphere" and not found.estimated and found.encoding == "srgb"
    assert [lt.file.name for lt in found.lights] == [f"p{i:02d}.png" for i in range(8)]
    assert any("'p99.png'" in w for w in found.warnings)
    err = sphere.angular_error_deg(np.array([lt.coords for lt in found.lights]), dirs)
    assert err.max() < 2.5, err


def test_relight_lights_command_writes_json_and_lp(tmp_path: Path, capsys) -> None:
    dirs = _write_sphere_photos(tmp_path, 8)
    out, lp = tmp_path / "out.json", tmp_path / "o" / "x.lp"
    lp.parent.mkdir()
    assert main(["relight", "lights", str(tmp_path), "-o", str(out), "--lp", str(lp)]) == 0
    data = json.loads(out.read_text())
    assert data["source"] == "sphere" and data["estimated"] is False
    assert len(data["sphere"]) == 3 and abs(data["sphere"][2] - CIRCLE[2]) < 1
    got = np.array([r["direction"] for r in data["lights"]])
    assert sphere.angular_error_deg(got, dirs).max() < 2.5
    assert [n for n, _ in lightnames.parse_lp(lp.read_text())] == [f"p{i:02d}.png"
                                                                   for i in range(8)]
    # a circle given by hand is used as given
    assert main(["relight", "lights", str(tmp_path), "--sphere", "40.3,35.6,18.2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["sphere"] == [40.3, 35.6, 18.2]
    assert main(["relight", "lights", str(tmp_path), "--sphere", "1,2"]) == 1
    assert "CX,CY,R" in capsys.readouterr().err


def test_estimated_layout_is_consistent(make_layers) -> None:
    """No sphere, no light file: the layout from a synthetic stack lit from a 5×5 grid keeps
    neighbourhoods, is a smooth map of the true one (affine fit close), is deterministic and
    independent of the photos' order."""
    layers = make_layers(size=32, n=5)
    true = np.array([lightnames.parse_name(im.name).coords for im in layers])
    lum = np.stack([sphere.luminance(im.pixels) for im in layers])
    est = layout.estimate_layout(lum)
    np.testing.assert_allclose(np.linalg.norm(est, axis=1), 1, atol=1e-9)
    assert (est[:, 2] > 0).all() and np.linalg.norm(est[:, :2], axis=1).max() <= 0.9 + 1e-9
    assert layout.neighbour_agreement(true, est[:, :2], k=4) >= 0.6
    a = np.c_[est[:, :2], np.ones(len(est))]
    fit, *_ = np.linalg.lstsq(a, true, rcond=None)
    assert np.sqrt(((a @ fit - true) ** 2).sum(1).mean()) < 0.15  # measured 0.12
    np.testing.assert_allclose(layout.estimate_layout(lum), est)
    perm = np.random.default_rng(0).permutation(len(lum))
    np.testing.assert_allclose(layout.estimate_layout(lum[perm]), est[perm], atol=1e-6)
    # mapping the true coordinates of the photos into the layout gives their layout points
    np.testing.assert_allclose(layout.map_into_layout(true, est[:, :2], true), est[:, :2],
                               atol=1e-9)


def test_estimated_folder_says_so(tmp_path: Path, make_layers) -> None:
    for i, im in enumerate(make_layers(size=32, n=3)):
        imgs.write_image(tmp_path / f"shot{i}.tif", im.pixels.astype(np.float32))
    found = folder.find_lights(tmp_path)
    assert found.source == "estimated" and found.estimated and found.encoding == "linear"
    assert any("estimated" in w for w in found.warnings)
    folder.write_lp(found, tmp_path / "estimated.lp")
    again = folder.find_lights(tmp_path)  # the .lp written now describes the stack
    assert again.source == "lp" and len(again.lights) == 9


def test_find_lights_op(tmp_path: Path) -> None:
    _write_sphere_photos(tmp_path, 6, extra_dark=True)
    res = registry.run("relight.find_lights", [], {"folder": str(tmp_path)})
    assert res.images == []
    meta = res.meta
    assert meta["source"] == "sphere" and meta["encoding"] == "srgb" and not meta["estimated"]
    assert len(meta["lights"]) == 6 and meta["warnings"]
    row = meta["lights"][0]
    assert Path(row["file"]).is_absolute() and row["source"] == "sphere"
    assert lightnames.parse_name(row["name"]).coords == pytest.approx(row["direction"],
                                                                      abs=1e-6)
    res = registry.run("relight.find_lights", [], {"folder": str(tmp_path),
                                                  "sphere": list(CIRCLE)})
    assert res.meta["sphere"] == [40.3, 35.6, 18.2]
    with pytest.raises(InvalidParameter, match="sphere"):
        registry.run("relight.find_lights", [], {"folder": str(tmp_path), "sphere": [1, 2]})
    # as the daemon checks a request: the folder must be an absolute path
    with pytest.raises(InvalidParameter, match="absolute"):
        registry.get("relight.find_lights").validate_params({"folder": "relative/stack"})


def test_relight_cli_on_lp_and_sphere_folders(tiny: Path, tmp_path: Path, capsys) -> None:
    """`darkroom relight STACK` with an .lp file, and with photos only (sphere)."""
    d = tmp_path / "lp"
    d.mkdir()
    dirs = _write_sphere_photos(d, 6)
    (d / "c.lp").write_text(lightnames.format_lp([(f"p{i:02d}.png", tuple(v))
                                                  for i, v in enumerate(dirs)]))
    out = tmp_path / "relit.png"
    assert main(["relight", str(d), "--light", "0.1,0.2,0.97", "-o", str(out),
                 "--quality", "draft"]) == 0
    assert imgs.read_image(out).shape == (*SIZE, 3)
    (d / "c.lp").unlink()
    assert main(["relight", str(d), "--light", "0.1,0.2,0.97", "-o", str(out),
                 "--quality", "draft"]) == 0
    assert "taken as srgb" in capsys.readouterr().err


def test_large_photos_are_searched_smaller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """Photos larger than WORK_SIDE are searched at that size; circle and directions come
    back in the photos' own pixels."""
    dirs = _write_sphere_photos(tmp_path, 8)
    monkeypatch.setattr(folder, "WORK_SIDE", 60)  # 90 px wide photos → searched at 60 px
    found = folder.find_lights(tmp_path, keep_pixels=False)
    assert found.source == "sphere" and found.pixels == {}
    assert found.circle is not None and abs(found.circle.r - CIRCLE[2]) < 1.0
    assert abs(found.circle.cx - CIRCLE[0]) < 1.0 and abs(found.circle.cy - CIRCLE[1]) < 1.0
    err = sphere.angular_error_deg(np.array([lt.coords for lt in found.lights]), dirs)
    assert err.max() < 5, err
    given = folder.find_lights(tmp_path, sphere.Circle(*CIRCLE))
    assert given.circle == pytest.approx(sphere.Circle(*CIRCLE))


def test_diligent_folder_is_a_stack(shared_data: Path) -> None:
    """DiLiGenT's own files describe the stack: directions and intensities, linear."""
    ball = shared_data / "diligent_ball"
    found = folder.find_lights(ball)
    assert found.source == "diligent" and found.encoding == "linear" and len(found.lights) == 96
    first = found.lights[0]
    assert first.file == ball / "001.png" and first.kind == "direction"
    assert first.intensity != (1.0, 1.0, 1.0)
    assert lightnames.parse_name(first.name()).intensity == pytest.approx(first.intensity)
