"""The op registry: schema validation with named fields, image checks, in-process runs."""

from __future__ import annotations

import numpy as np
import pytest

from darkroom.errors import InvalidInput, InvalidParameter, UnknownOp
from darkroom.ops import registry
from darkroom.ops.registry import Image, Param


def test_every_op_family_registers_and_describes_itself() -> None:
    ops = registry.load_all()
    assert "debug.echo" in ops
    for spec in ops.values():
        d = spec.describe()
        assert d["name"] == spec.name and isinstance(d["params"], list)
        for p in spec.params:  # defaults must satisfy their own schema
            if not p.required:
                assert p.validate(p.default) == p.default or p.kind in ("list", "float")


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        (Param("n", "int", 1, minimum=0, maximum=5), 9, "at most 5"),
        (Param("n", "int", 1), 1.5, "must be int"),
        (Param("n", "int", 1), True, "not a boolean"),
        (Param("x", "float", 0.5), float("nan"), "finite"),
        (Param("x", "float", 0.5, minimum=0.0), -1, "at least"),
        (Param("m", "str", "a", choices=("a", "b")), "c", "one of a, b"),
        (Param("l", "list", []), "abc", "must be list"),
    ],
)
def test_bad_parameters_name_the_field(param: Param, value: object, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message) as e:
        param.validate(value)
    assert e.value.field == param.name


def test_defaults_are_filled_and_unknown_names_refused() -> None:
    spec = registry.get("debug.echo")
    assert spec.validate_params({}) == {"delay": 0.0, "tag": ""}
    assert spec.validate_params({"delay": 1})["delay"] == 1.0  # int widened to float
    with pytest.raises(InvalidParameter, match="no parameter 'colour'"):
        spec.validate_params({"colour": 1})
    with pytest.raises(InvalidParameter, match="JSON object"):
        spec.validate_params([1, 2])


def test_unknown_op_lists_the_known_ones() -> None:
    with pytest.raises(UnknownOp, match="debug.echo"):
        registry.get("style.nope")


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.zeros((4, 4), np.uint8), "height × width × channels"),
        (np.zeros((4, 4, 5), np.uint8), "height × width × channels"),
        (np.zeros((4, 4, 3), np.float64), "dtype float64"),
        (np.full((4, 4, 3), np.inf, np.float32), "NaN or infinite"),
    ],
)
def test_unusable_images_get_a_sentence(pixels: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        registry.run("debug.echo", [Image(pixels, name="Background")])


def test_run_in_process_reports_progress() -> None:
    seen: list[float] = []
    out = registry.run("debug.echo", [Image(np.ones((2, 2, 3), np.uint8))], {"delay": 0.05},
                       progress=lambda f, stage="", preview=None: seen.append(f))
    assert seen[-1] == 1.0 and out.images[0].pixels.shape == (2, 2, 3)


def test_path_parameters_are_checked_before_the_op_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from darkroom.errors import NotFound

    weights = tmp_path / "vgg.pth"
    weights.write_bytes(b"x")
    os.mkfifo(tmp_path / "pipe")
    f = Param("weights", "str", "", path="file")
    d = Param("folders", "list", [], path="dir")
    n = Param("index", "str", "", path="new_file")
    assert f.validate("") == ""  # "" is "the default", not a path
    assert f.validate(str(weights)) == str(weights)
    assert f.validate("vgg.pth", cwd=tmp_path) == str(weights)  # in-process: relative is fine
    with pytest.raises(InvalidParameter, match="absolute"):
        f.validate("vgg.pth")  # from a client: the daemon's folder is not the client's
    with pytest.raises(InvalidParameter, match="regular file"):
        f.validate(str(tmp_path / "pipe"))  # a FIFO would block the worker on open()
    with pytest.raises(NotFound, match="does not exist"):
        f.validate(str(tmp_path / "nope.pth"))
    with pytest.raises(InvalidParameter, match="control characters"):
        d.validate([str(tmp_path) + "\x00"])
    with pytest.raises(InvalidParameter, match="must be a folder"):
        d.validate([str(weights)])
    assert d.validate(["~"]) == [os.path.expanduser("~")]
    assert n.validate(str(tmp_path / "new.sqlite")) == str(tmp_path / "new.sqlite")
    with pytest.raises(NotFound, match="folder"):
        n.validate(str(tmp_path / "no" / "new.sqlite"))


def test_a_weights_parameter_is_a_file_path_by_name() -> None:
    """The style ops declare 'weights' as a plain str; the registry checks it as a file."""
    spec = registry.load_all()["style.transfer"]
    assert next(p for p in spec.params if p.name == "weights").path == "file"


def test_roles_are_checked_against_the_description() -> None:
    """An op that declares its images gets their roles checked before it runs: a sentence
    naming the image, never a KeyError inside the op."""
    import numpy as np
    import pytest

    from darkroom.errors import InvalidInput
    from darkroom.ops import registry
    from darkroom.ops.registry import Image, ImageInput, Result

    @registry.register("test.roles", images=(ImageInput("content", source="active"),
                                             ImageInput("stack", source="stack"),
                                             ImageInput("mask", optional=True)),
                       min_images=1, max_images=9)
    def _roles(images, params, progress, cancelled):  # type: ignore[no-untyped-def]
        return Result(meta={"roles": sorted(registry.by_role(images))})

    try:
        px = np.zeros((2, 2, 3), np.uint8)

        def run(*roles: str) -> object:
            return registry.run("test.roles", [Image(px, role=r, name=f"{r}{i}")
                                               for i, r in enumerate(roles)])
        assert run("content", "stack", "stack").meta["roles"] == ["content", "stack"]
        with pytest.raises(InvalidInput, match="'paint1' has role 'paint'"):
            run("content", "paint")
        with pytest.raises(InvalidInput, match="Two images have the role 'content'"):
            run("content", "content", "stack")
        with pytest.raises(InvalidInput, match="needs an image with the role 'stack'"):
            run("content", "mask")
    finally:
        registry._REGISTRY.pop("test.roles", None)
