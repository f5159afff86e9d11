"""Diagnostic ops: ``debug.echo`` returns its inputs (wire benchmark, doctor, tests)."""

from __future__ import annotations

import time
from typing import Any

from darkroom.errors import check_cancel
from darkroom.ops.registry import CancelledFn, Image, Param, ProgressFn, Result, register


@register(
    "debug.echo",
    help="Return the images it was sent, unchanged (diagnostics).",
    params=[
        Param("delay", "float", 0.0, "seconds to spend before answering, in 20 steps "
              "(for progress and cancel tests)", minimum=0.0, maximum=600.0),
        Param("tag", "str", "", "a string echoed back in the result metadata"),
    ],
    inputs="any images",
    max_images=64,
)
def echo(images: list[Image], params: dict[str, Any], progress: ProgressFn,
         cancelled: CancelledFn) -> Result:
    steps = 20 if params["delay"] > 0 else 0
    start = time.monotonic()
    for i in range(steps):
        # Sleep in short slices: a cancel must be honoured within well under a second
        # whatever the delay (the hardening tests hold the daemon to 1 s).
        until = start + params["delay"] * (i + 1) / steps
        while (left := until - time.monotonic()) > 0:
            check_cancel(cancelled)
            time.sleep(min(left, 0.02))
        progress((i + 1) / steps, "waiting")
    check_cancel(cancelled)
    out = [Image(im.pixels, role="result", name=im.name, offset=im.offset,
                 colorspace=im.colorspace) for im in images]
    return Result(out, {"tag": params["tag"], "count": len(images)})
