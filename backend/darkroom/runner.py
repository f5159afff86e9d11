"""Run an op for the CLI: in this process (default) or through the daemon (``--remote``),
with a progress bar on stderr and Ctrl-C as cancel.

Op families' CLI commands call :func:`run_op`; they never talk to the client or the registry
directly, so both paths behave the same.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from darkroom.errors import Cancelled
from darkroom.ops import registry
from darkroom.ops.registry import Image, Result
from darkroom.wire import Kind

#: ``--preview FILE`` (set by :mod:`darkroom.cli` for every op command): where the latest
#: preview image goes while an op runs.
PREVIEW_FILE: str | None = None


def write_preview(path: str | os.PathLike[str], preview: np.ndarray) -> None:
    """Replace ``path`` with the H×W×3 u8 preview as a PNG, atomically (a script reading it
    never sees half a file)."""
    from PIL import Image as PILImage

    dest = Path(path)
    tmp = dest.with_name(f".{dest.name}.tmp")
    PILImage.fromarray(np.ascontiguousarray(preview)).save(tmp, format="PNG")
    os.replace(tmp, dest)


class _Bar:
    """A tqdm bar (0–100 %) that also shows the stage text; silent when ``quiet``. Previews go
    to ``preview_file`` when one is given."""

    def __init__(self, label: str, quiet: bool, preview_file: str | None = None) -> None:
        self.preview_file = preview_file
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=100, desc=label, unit="%", file=sys.stderr,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}")
        self.lock = threading.Lock()
        self.stage = ""

    def __call__(self, fraction: float, stage: str = "", preview: np.ndarray | None = None) -> None:
        if preview is not None and self.preview_file:
            try:
                write_preview(self.preview_file, preview)
            except OSError as e:  # a preview is a convenience: say so once, go on
                print(f"darkroom: cannot write the preview to {self.preview_file}: {e}",
                      file=sys.stderr)
                self.preview_file = None
        if self.bar is None:
            return
        with self.lock:
            target = int(round(max(0.0, min(1.0, float(fraction))) * 100))
            if target > self.bar.n:
                self.bar.update(target - self.bar.n)
            if stage and stage != self.stage:  # redraw only when the stage changes
                self.stage = stage
                self.bar.set_postfix_str(stage, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_op(
    op: str,
    images: list[Image],
    params: dict[str, Any] | None = None,
    *,
    remote: bool = False,
    device: str = "auto",
    label: str | None = None,
    quiet: bool = False,
    preview: str | None = None,
) -> Result:
    """Run ``op`` on ``images`` with ``params``; raise :class:`darkroom.errors.DarkroomError`
    on failure (the CLI prints its sentence) and :class:`Cancelled` on Ctrl-C. ``preview``
    (default: ``--preview FILE``) receives the op's latest preview image while it runs."""
    bar = _Bar(label or op, quiet, preview or PREVIEW_FILE)
    try:
        if remote:
            return run_remote(op, images, params or {}, progress=bar)
        from darkroom.config import pick_device

        registry.set_device(pick_device(device))
        stop = threading.Event()
        try:
            return registry.run(op, images, params or {}, progress=bar, cancelled=stop.is_set)
        except KeyboardInterrupt:
            stop.set()
            raise Cancelled("Cancelled by Ctrl-C.") from None
    finally:
        bar.close()


def run_remote(
    op: str, images: list[Image], params: dict[str, Any], progress: Any = None
) -> Result:
    """Run ``op`` through the daemon (started if needed); Ctrl-C cancels the job there."""
    from pathlib import Path

    from darkroom.client import Client, WireImage

    # The daemon's working folder is not ours: send path parameters absolute.
    params = registry.absolute_paths(registry.get(op), params, Path.cwd())
    wire = [
        WireImage.from_numpy(im.pixels, role=im.role, name=im.name,
                             offset=tuple(int(v) for v in im.offset), colorspace=im.colorspace)
        for im in images
    ]
    with Client.connect(autostart=True) as client:
        job = client.submit(op, wire, params)
        try:
            for ev in job.events():
                if ev.type == Kind.PROGRESS and progress is not None:
                    shown = None if ev.preview is None else np.array(ev.preview.to_numpy())
                    progress(ev.fraction, ev.stage, shown)
        except KeyboardInterrupt:
            job.cancel()
            raise Cancelled("Cancelled by Ctrl-C.") from None
        out, meta = job.wait()
    metas = meta.pop("images", None) or [{} for _ in out]
    return Result(
        [
            Image(np.array(w.to_numpy()), role=w.role, name=w.name, offset=w.offset,
                  colorspace=w.colorspace, meta=m if isinstance(m, dict) else {})
            for w, m in zip(out, metas)
        ],
        meta,
    )
