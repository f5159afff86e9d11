"""The CLI generated from the ops' descriptions (:mod:`darkroom.opcli`) and ``darkroom ops``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import darkroom
from darkroom import cli, opcli
from darkroom import images as im
from darkroom.ops import registry
from darkroom.ops.registry import Image, ImageInput, OpSpec, Param, Result


def _parser(spec: OpSpec, **kw: Any) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="t")
    opcli.add_params(p, spec, **kw)
    return p


def _actions(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in p._actions if a.dest != "help"}


def test_generated_options_match_the_spec() -> None:
    spec = registry.get("style.transfer")
    p = _parser(spec)
    acts = _actions(p)
    assert set(acts) == {q.name for q in spec.params}
    for q in spec.params:
        a = acts[q.name]
        assert "--" + q.name.replace("_", "-") in a.option_strings
        assert a.default == q.default
        assert (list(a.choices) if a.choices is not None else None) == (
            list(q.choices) if q.choices is not None else None)
        assert q.help.split("(")[0].strip() in a.help
    assert "(0–1, default 1.0)" in acts["strength"].help
    assert vars(p.parse_args([])) == {q.name: q.default for q in spec.params}
    # bools are --x / --no-x
    assert p.parse_args(["--preserve-colors"]).preserve_colors is True
    assert p.parse_args(["--no-preserve-colors"]).preserve_colors is False
    got = p.parse_args(["--mode", "paint", "--strength", "0.25", "--size", "64"])
    assert (got.mode, got.strength, got.size) == ("paint", 0.25, 64)
    # skip and aliases
    p = _parser(spec, skip={"return_regions", "seed"}, aliases={"seed": ["-s"], "size": ["-S"]})
    assert "return_regions" not in _actions(p) and "seed" not in _actions(p)
    assert p.parse_args(["-S", "32"]).size == 32


@pytest.mark.parametrize("argv, says", [
    (["--strength", "2"], "argument --strength: must be at most 1, got 2"),
    (["--strength", "nan"], "argument --strength: must be a finite number"),
    (["--strength", "lots"], "argument --strength: invalid float value: 'lots'"),
    (["--seed", "1.5"], "argument --seed: invalid int value: '1.5'"),
    (["--seed", "-1"], "argument --seed: must be at least 0"),
    (["--mode", "oil"], "argument --mode: invalid choice: 'oil'"),
])
def test_bad_values_are_argparse_errors_naming_the_option(argv, says, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        _parser(registry.get("style.transfer")).parse_args(argv)
    assert e.value.code == 2 and says in capsys.readouterr().err


def test_list_and_dict_params_take_json(capsys) -> None:
    spec = OpSpec("t.json", lambda *a: Result(), (
        Param("lights", "list", required=True, help="lights"),
        Param("opts", "dict", default={}, help="options")))
    p = _parser(spec)
    got = p.parse_args(["--lights", '[{"position": [0.5, 0.5]}]', "--opts", '{"a": 1}'])
    assert got.lights == [{"position": [0.5, 0.5]}] and got.opts == {"a": 1}
    with pytest.raises(SystemExit):
        p.parse_args(["--lights", '{"a": 1}'])
    assert "argument --lights: must be a JSON list" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        p.parse_args([])  # required
    assert "--lights" in capsys.readouterr().err
    assert _actions(p)["opts"].metavar == "JSON"


def test_images_become_positionals_and_file_options() -> None:
    spec = registry.get("style.transfer")
    p = argparse.ArgumentParser(prog="t")
    opcli.add_images(p, spec)
    got = p.parse_args(["c.png", "s.png", "--mask", "m.png", "--style-labels", "sl.png"])
    assert (got.content, got.style, got.mask, got.style_labels, got.content_labels) == (
        "c.png", "s.png", "m.png", "sl.png", None)
    positionals = [a.metavar for a in p._actions if not a.option_strings]
    assert positionals == ["CONTENT", "STYLE"]
    with pytest.raises(ValueError, match="relight.render"):
        opcli.add_images(argparse.ArgumentParser(), registry.get("relight.render"))


def test_ops_json_lists_every_op(capsys) -> None:
    assert cli.main(["ops", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == darkroom.__version__
    names = [o["name"] for o in out["ops"]]
    assert names == sorted(names) and "style.transfer" in names
    st = out["ops"][names.index("style.transfer")]
    assert st == registry.get("style.transfer").describe()
    assert [i["role"] for i in st["images"]][:2] == ["content", "style"]
    assert st["images"][0]["source"] == "active" and st["images"][0]["label"] == "Content"
    labels = {q["name"]: q["label"] for q in st["params"]}
    assert labels["preserve_colors"] == "Keep the content's colours"


def test_ops_lists_readably(capsys) -> None:
    assert cli.main(["ops"]) == 0
    out = capsys.readouterr().out
    assert "style.transfer" in out and "strength: float = 1.0  [0–1]" in out
    assert "mode: str = \"photo\"  {photo, paint, mrf}" in out


def test_python_m_darkroom_ops_json_prints_only_json() -> None:
    """What install.py runs: stdout is one JSON document, exit 0."""
    env = os.environ.copy()
    backend = str(Path(darkroom.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [backend, env.get("PYTHONPATH")]))
    r = subprocess.run([sys.executable, "-m", "darkroom", "ops", "--json"], capture_output=True,
                       text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "style.transfer" in {o["name"] for o in json.loads(r.stdout)["ops"]}


def _invert(images: list[Image], params: dict[str, Any], progress: Any,
            cancelled: Any) -> Result:
    src = images[0].pixels
    out = src.copy()
    out[..., :3] = 255 - src[..., :3]  # (amount is there for its range check only)
    extra = [Image(np.full_like(src, 7), role="mask", name="the mask")] if params["with_mask"] \
        else []
    return Result([Image(out, role="result", name=f"Inverted {images[0].name}"), *extra],
                  {"warnings": ["just a test"]} if params["warn"] else {})


@pytest.fixture
def invert_op() -> Iterator[OpSpec]:
    """A throw-away ``test.invert`` op (content: the active layer; reference: optional)."""
    registry.load_all()
    registry.register(
        "test.invert", help="Invert the colours (tests only). Second sentence.",
        images=(ImageInput("content", source="active", help="the picture to invert"),
                ImageInput("reference", source="layer", optional=True, help="unused")),
        params=[Param("amount", "float", 1.0, "how much", minimum=0.0, maximum=1.0),
                Param("with_mask", "bool", False, "also return a mask"),
                Param("warn", "bool", False, "add a warning")],
        min_images=1, max_images=2)(_invert)
    yield registry.get("test.invert")
    registry._REGISTRY.pop("test.invert", None)


def _run(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    args = parser.parse_args(argv)
    return args.func(args)


def test_generated_command_runs_end_to_end(invert_op, tmp_path, capsys) -> None:
    parser = argparse.ArgumentParser(prog="darkroom test")
    sub = parser.add_subparsers()
    cmd = opcli.add_op_command(sub, invert_op)
    assert cmd.description == invert_op.help
    pix = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    im.write_image(tmp_path / "in.png", pix)
    out = tmp_path / "out.png"
    assert _run(parser, ["invert", str(tmp_path / "in.png"), "-o", str(out), "--device", "cpu",
                         "--with-mask", "--warn"]) == 0
    assert (im.read_image(out) == 255 - pix).all()
    assert (im.read_image(tmp_path / "out-mask.png") == 7).all()
    printed = capsys.readouterr().out
    assert "warning: just a test" in printed
    assert f"Inverted in → {out}" in printed and f"the mask → {tmp_path / 'out-mask.png'}" in printed
    # -o is required when the op takes images; a bad value names its option
    with pytest.raises(SystemExit):
        parser.parse_args(["invert", str(tmp_path / "in.png")])
    assert "-o/--output" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["invert", "x.png", "-o", "y.png", "--amount", "3"])
    assert "argument --amount: must be at most 1" in capsys.readouterr().err


def test_generated_command_on_a_parser(invert_op, tmp_path) -> None:
    parser = opcli.add_op_command(argparse.ArgumentParser(prog="x"), invert_op)
    im.write_image(tmp_path / "in.png", np.zeros((3, 3, 4), np.uint8))
    assert _run(parser, [str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"),
                         "--device", "cpu"]) == 0
    assert (im.read_image(tmp_path / "o.png")[..., :3] == 255).all()


def test_output_paths_beside_out() -> None:
    res = Result([Image(np.zeros((1, 1, 1), np.uint8), role=r) for r in ("result", "map", "map")])
    assert [p.name for p in opcli.output_paths("d/out.tif", res)] == [
        "out.tif", "out-map.tif", "out-map-2.tif"]


def test_generated_family_commands(invert_op, tmp_path) -> None:
    parser = argparse.ArgumentParser(prog="darkroom")
    sub = parser.add_subparsers(dest="command")
    cli.add_generated_family(sub, "test", [invert_op, registry.get("debug.echo")])
    fam = sub.choices["test"]
    verbs = next(a for a in fam._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(verbs) == {"invert"}  # debug.echo does not say which image is which: left out
    assert not cli.generated_ok(registry.get("debug.echo"))
    assert not cli.generated_ok(registry.get("relight.render"))  # a light stack


def test_a_broken_family_leaves_the_others(monkeypatch, caplog) -> None:
    class Broken:
        @staticmethod
        def add_commands(sub: argparse._SubParsersAction) -> None:
            sub.add_parser("broken", help="half built")
            raise RuntimeError("no weights")

    real_import = cli.importlib.import_module
    monkeypatch.setattr(cli, "family_names", lambda: ["broken", "style"])
    monkeypatch.setattr(cli, "_module_exists", lambda name: True)
    monkeypatch.setattr(cli.importlib, "import_module",
                        lambda name: Broken if name == "darkroom.ops.broken.cli"
                        else real_import(name))
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert "broken" not in sub.choices and "style" in sub.choices
    assert "broken" not in parser.format_help()
    assert "'broken' commands unavailable: no weights" in caplog.text
