"""Op ``relight.find_lights``: a light-stack folder → its photos and their lights, for the
editors' *Open light stack…* (they load the files as layers named ``light X Y Z``).

The folder is read by :func:`.folder.find_lights` (a light file, else the shiny sphere's
highlights, else an estimated layout). No image travels: the editor reads the files itself, so
the folder is a path parameter (absolute, existing; remote clients only under their allowed
roots — the registry checks both before the op runs).
"""

from __future__ import annotations

import math
from typing import Any

from darkroom.errors import InvalidParameter
from darkroom.ops.registry import CancelledFn, Image, Param, ProgressFn, Result, register
from darkroom.ops.relight import folder as folder_mod
from darkroom.ops.relight.sphere import Circle


@register(
    "relight.find_lights",
    help="Find the lights of a light-stack folder: its lights.json or .lp file, else a shiny "
    "sphere's highlights, else an estimated layout (no image comes back).",
    params=[
        Param("folder", "str", required=True, help="the light-stack folder (absolute path)",
              path="dir"),
        Param("sphere", "list", default=[], help="[cx, cy, r]: the shiny sphere's circle in "
              "pixels (x right, y down from the top-left corner); empty: use the folder's "
              "light file, or find the sphere"),
    ],
    inputs="none",
    min_images=0,
    max_images=0,
)
def find_lights_op(images: list[Image], params: dict[str, Any], progress: ProgressFn,
                   cancelled: CancelledFn) -> Result:
    """Meta: ``lights`` — one ``{"file": absolute path, "direction": [x, y, z]`` (or
    ``"position": [u, v]``), ``"intensity": [r, g, b]`` (when not 1), ``"source"``, ``"name"``
    (the layer name ``light …``)} per photo of the stack, in stack order; ``encoding``
    (``linear`` / ``srgb``: how to load the files), ``estimated`` (true: the layout was
    guessed from the photos, not measured), ``source``, ``sphere`` ([cx, cy, r] or null) and
    ``warnings`` (sentences: photos left out, assumptions made)."""
    circle = None
    if params["sphere"]:
        c = params["sphere"]
        ok = (len(c) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                  and math.isfinite(v) for v in c) and c[2] > 0)
        if not ok:
            raise InvalidParameter("Parameter 'sphere' must be [cx, cy, r] in pixels with "
                                   "r > 0.", field="sphere")
        circle = Circle(float(c[0]), float(c[1]), float(c[2]))
    progress(0.0, "finding the lights")
    found = folder_mod.find_lights(params["folder"], circle, cancelled, keep_pixels=False)
    source = found.source
    rows = []
    for lt in found.lights:
        row: dict[str, Any] = {"file": str(lt.file.absolute()),
                               lt.kind: [round(v, 6) for v in lt.coords],
                               "source": source, "name": lt.name()}
        if lt.intensity != (1.0, 1.0, 1.0):
            row["intensity"] = list(lt.intensity)
        rows.append(row)
    progress(1.0, "done")
    return Result([], {"lights": rows, "encoding": found.encoding,
                       "estimated": found.estimated, "source": source,
                       "sphere": found.circle.as_list() if found.circle else None,
                       "warnings": list(found.warnings)})
