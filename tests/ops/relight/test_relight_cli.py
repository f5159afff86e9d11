"""`darkroom relight` on stack folders: light_U_V.png names, lights.json, --train, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from darkroom import images as imgs
from darkroom.cli import main
from darkroom.ops.relight.cli import read_stack


def _write_named(folder: Path, layers) -> None:
    for im in layers:
        u, v = im.name.split()[1:]
        imgs.write_image(folder / f"light_{u}_{v}.png",
                         imgs.from_float(np.clip(im.pixels, 0, 1), np.uint16))


def test_named_files_relight_to_16bit(tiny: Path, make_layers, tmp_path: Path, capsys) -> None:
    _write_named(tmp_path, make_layers())
    (tmp_path / "notes.png").write_bytes(b"")  # not a light_ file: ignored
    out = tmp_path / "out" / "relit.png"
    assert main(["relight", str(tmp_path), "--train", "--quality", "draft"]) == 0
    assert "trained" in capsys.readouterr().out
    code = main(["relight", str(tmp_path), "--light", "0.4,0.5:1,0.5,0.5@2",
                 "--light", "0.6,0.2", "-o", str(out), "--quality", "draft",
                 "--device", "cpu"])
    assert code == 0
    pix = imgs.read_image(out)
    assert pix.dtype == np.uint16 and pix.shape == (24, 24, 3) and pix.max() > 1000
    assert main(["relight", str(tmp_path), "--train", "--quality", "draft"]) == 0
    assert "already cached" in capsys.readouterr().out


def test_lights_json_directions_srgb(tiny: Path, tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(3)
    rows = []
    for i, d in enumerate([(-0.5, 0, 0.87), (0.5, 0, 0.87), (0, -0.5, 0.87), (0, 0.5, 0.87)]):
        imgs.write_image(tmp_path / f"{i:03d}.png", rng.integers(0, 255, (8, 8, 3), np.uint8))
        rows.append({"file": f"{i:03d}.png", "direction": list(d), "intensity": [1, 1.2, 0.9]})
    (tmp_path / "lights.json").write_text(json.dumps({"encoding": "srgb", "lights": rows}))
    layers = read_stack(tmp_path)
    assert layers[0].colorspace == "srgb" and layers[0].name.endswith("@1,1.2,0.9")
    out = tmp_path / "o.png"
    # a negative first coordinate after a space must parse (not be taken for an option)
    assert main(["relight", str(tmp_path), "--light", "-0.2,0.1,0.97", "-o", str(out),
                 "--quality", "draft"]) == 0
    assert imgs.read_image(out).dtype == np.uint8


def test_errors_are_sentences(tiny: Path, tmp_path: Path, capsys) -> None:
    assert main(["relight", str(tmp_path / "nowhere"), "--train"]) == 1
    assert "no light-stack folder" in capsys.readouterr().err
    (tmp_path / "lights.json").write_text(json.dumps([{"file": "a.png"}]))
    assert main(["relight", str(tmp_path), "--train"]) == 1
    assert "'a.png'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--light", "0.5,0.5"], ["-o", "x.png"],
                                  ["--light", "x", "-o", "x.png"]])
def test_render_needs_light_and_output(tiny: Path, make_layers, tmp_path: Path, capsys,
                                       argv) -> None:
    _write_named(tmp_path, make_layers(n=2))
    assert main(["relight", str(tmp_path), *argv]) == 1
    assert "--light" in capsys.readouterr().err
