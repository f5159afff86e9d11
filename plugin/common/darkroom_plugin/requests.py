"""Op requests built from layers, and the names of the layers the results become.

The adapters read layers into :class:`~darkroom_plugin.pixels.Pixels`. Most ops' requests are
built from their descriptions (:mod:`opflow`); here live the checks that can be made before any
pixel travels (an unparsable light stack stops here, naming its layers), the relighting targets'
text, and sketch indexing's request (the Sketch Photo Folders flow).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from darkroom.errors import InvalidInput, InvalidParameter

from .pixels import Pixels


@dataclass
class Request:
    """One op call: ``op`` name, images as ``(role, Pixels)`` pairs, params (the op names its
    results)."""

    op: str
    images: list[tuple[str, Pixels]]
    params: dict[str, Any]

    def wire_images(self) -> list[Any]:
        return [px.to_wire(role) for role, px in self.images]


# --- relighting --------------------------------------------------------------------------------

def check_light_stack(names: list[str]) -> None:
    """Raise :class:`InvalidInput` naming every layer of the group whose name is not a light
    (DESIGN.md: ``light U V`` or ``light X Y Z``, optional ``@R,G,B``; one kind per stack) —
    before any pixel is sent. The relighting family's parser is the authority."""
    from darkroom.lightnames import parse_stack

    parse_stack(names)


def parse_lights(text: str) -> list[dict[str, Any]]:
    """The dialog's target lights, separated by ``;`` or new lines, each in the CLI's form
    ``U,V[,Z][:R,G,B][@I]`` (a plane position or a direction, colour, intensity), e.g.
    ``0.2,0.8:1,0.8,0.6@1.5; 0.9,0.5``."""
    from darkroom.lightnames import parse_target

    chunks = [c.strip() for c in re.split(r"[;\n]", text) if c.strip()]
    if not chunks:
        raise InvalidParameter("Give at least one target light, e.g. '0.5,0.5'.", field="lights")
    return [dict(parse_target(c)) for c in chunks]


def check_stack(stack: list[Pixels]) -> None:
    """A light stack's layers before they travel: names that are lights (:func:`check_light_stack`)
    and one size (the lights lit one fixed scene); :class:`InvalidInput` naming the odd ones."""
    if not stack:
        raise InvalidInput("The light-stack group has no layers: put one photo per light in it.")
    check_light_stack([px.name for px in stack])
    sizes = {(px.width, px.height) for px in stack}
    if len(sizes) > 1:
        first = stack[0]
        odd = [px.name for px in stack if (px.width, px.height) != (first.width, first.height)]
        raise InvalidInput(f"The light-stack layers differ in size: {', '.join(odd)} "
                           f"differ from '{first.name}' ({first.width}×{first.height}).")


# --- sketch search's index ----------------------------------------------------------------------

def sketch_index_request(folders: list[str], index: str | None = None) -> Request:
    if not folders:
        raise InvalidParameter("Set at least one photo folder to index in the plugin settings.",
                               field="folders")
    params: dict[str, Any] = {"folders": list(folders)}
    if index:
        params["index"] = index
    return Request("sketch.index", [], params)
