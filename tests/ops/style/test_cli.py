"""``darkroom style`` on files."""

import numpy as np

from darkroom import images as im
from darkroom.cli import main
from darkroom.ops.style import solve


def test_cli_writes_sixteen_bit_output_with_alpha(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(solve.ITERATIONS, "fast", {"draft": 5, "standard": 5, "best": 5})
    rng = np.random.default_rng(0)
    content = (rng.random((30, 40, 4)) * 65535).astype(np.uint16)
    content[..., 3] = 40000
    im.write_image(tmp_path / "c.png", content)
    im.write_image(tmp_path / "s.png", (rng.random((50, 20, 3)) * 255).astype(np.uint8))
    rc = main(["style", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o",
               str(tmp_path / "out.png"), "--quality", "draft", "--size", "32",
               "--strength", "0.5", "--device", "cpu"])
    assert rc == 0
    out = im.read_image(tmp_path / "out.png")
    assert out.dtype == np.uint16 and out.shape == content.shape
    assert (out[..., 3] == 40000).all()


def test_cli_unreadable_file_is_one_sentence(tmp_path, capsys):
    (tmp_path / "c.png").write_bytes(b"not a png")
    rc = main(["style", str(tmp_path / "c.png"), str(tmp_path / "c.png"), "-o",
               str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert rc == 1 and "'c.png' is not an image" in err and "Traceback" not in err
    rc = main(["style", str(tmp_path / "missing.png"), str(tmp_path / "c.png"), "-o",
               str(tmp_path / "out.png")])
    assert rc == 1 and "No image file" in capsys.readouterr().err
