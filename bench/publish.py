"""Writing a benchmark's figures: JSON and PNG to its output folder, and the copies that are
committed under ``bench/results/``.

Committed contact sheets of photographs are saved at most :data:`SHEET_WIDTH` px wide: the
repository keeps the latest figures of every benchmark, and full-size sheets of several MB
each would make every re-run a large commit. They stay full colour (a 256-colour palette
banded the skies and shifted hues, which is what a style sheet is read for). The full-size
sheet stays in the output folder.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SHEET_WIDTH = 1200  #: px, committed photo contact sheets


def write(out: Path, name: str, report: dict[str, Any], draw: Callable[[Path], None],
          commit: bool = True, photo: bool = False, indent: int = 1) -> None:
    """Write ``out/name.json`` and ``out/name.png`` (``draw(path)`` makes the PNG); with
    ``commit``, copy both to ``bench/results/`` (``photo``: the PNG at most :data:`SHEET_WIDTH` wide)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=indent))
    draw(out / f"{name}.png")
    if not commit:
        return
    RESULTS.mkdir(exist_ok=True)
    shutil.copy(out / f"{name}.json", RESULTS / f"{name}.json")
    if photo:
        small_png(out / f"{name}.png", RESULTS / f"{name}.png")
    else:
        shutil.copy(out / f"{name}.png", RESULTS / f"{name}.png")


def small_png(src: Path, dst: Path) -> None:
    """``src`` scaled down to at most :data:`SHEET_WIDTH` px wide, as an optimised PNG."""
    from PIL import Image

    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > SHEET_WIDTH:
            im = im.resize((SHEET_WIDTH, round(im.height * SHEET_WIDTH / im.width)),
                           Image.Resampling.LANCZOS)
        im.save(dst, "PNG", optimize=True)
