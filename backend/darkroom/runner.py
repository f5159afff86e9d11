"""Run an op for the CLI: in this process (default) or through the daemon (``--remote``),
with a progress bar on stderr and Ctrl-C as cancel.

Op families' CLI commands call :func:`run_op`; they never talk to the client or the registry
directly, so both paths behave the same.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

from darkroom.errors import Cancelled
from darkroom.ops import registry
from darkroom.ops.registry import Image, Result


class _Bar:
    """A tqdm bar (0–100 %) that also shows the stage text; silent when ``quiet``."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=100, desc=label, unit="%", file=sys.stderr,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}")
        self.lock = threading.Lock()
        self.stage = ""

    def __call__(self, fraction: float, stage: str = "", preview: np.ndarray | None = None) -> None:
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
) -> Result:
    """Run ``op`` on ``images`` with ``params``; raise :class:`darkroom.errors.DarkroomError`
    on failure (the CLI prints its sentence) and :class:`Cancelled` on Ctrl-C."""
    bar = _Bar(label or op, quiet)
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
                if ev.type == "progress" and progress is not None:
                    progress(ev.fraction, ev.stage)
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
