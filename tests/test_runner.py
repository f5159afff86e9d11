"""The CLI's runner: ``--preview FILE`` on every op command, written while the op runs."""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

from darkroom import runner
from darkroom.cli import DAEMON_COMMANDS, INFO_COMMANDS, _leaves, build_parser
from darkroom.ops.registry import Result


def test_every_op_command_takes_preview() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    ops = [n for n in sub.choices if n not in DAEMON_COMMANDS + INFO_COMMANDS]
    assert {"style", "relight", "sketch"} <= set(ops)
    for name in ops:
        for leaf in _leaves(sub.choices[name]):
            assert any("--preview" in a.option_strings for a in leaf._actions), leaf.prog


def test_previews_are_written_while_the_op_runs(tmp_path, test_op) -> None:
    seen = []
    path = tmp_path / "preview.png"

    def op(images, params, progress, cancelled):  # type: ignore[no-untyped-def]
        for level in (40, 200):
            progress(level / 255, "working", np.full((6, 8, 3), level, np.uint8))
            seen.append(np.asarray(PILImage.open(path))[0, 0, 0])  # the file as it is now
        return Result([], {})
    test_op("test.previews", op)
    runner.run_op("test.previews", [], {}, device="cpu", quiet=True, preview=str(path))
    assert seen == [40, 200]
    assert not list(tmp_path.glob(".*.tmp"))  # replaced atomically, nothing left behind
