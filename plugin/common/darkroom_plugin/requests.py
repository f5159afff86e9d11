"""Op requests built from layers, and the names of the layers the results become.

The adapters read layers into :class:`~darkroom_plugin.pixels.Pixels`; the functions here
choose roles and parameters for each op (see the op families' issues), check what can be checked
before any pixel travels (an unparsable light stack stops here, naming its layers), and name the
result layers the way the issue asks (``Style: <style layer> (photo)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from darkroom.errors import InvalidInput, InvalidParameter

from .pixels import Pixels

STYLE_MODES = ("photo", "paint", "mrf")
QUALITIES = ("draft", "standard", "best")
SKETCH_GROUP = "Sketch matches"


@dataclass
class Request:
    """One op call: ``op`` name, images as ``(role, Pixels)`` pairs, params, and how to name
    the result layer(s)."""

    op: str
    images: list[tuple[str, Pixels]]
    params: dict[str, Any]
    result_name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def wire_images(self) -> list[Any]:
        return [px.to_wire(role) for role, px in self.images]


def _check_choice(field_name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidParameter(f"{field_name} must be one of {', '.join(choices)}, not '{value}'.",
                               field=field_name)
    return value


# --- style transfer ----------------------------------------------------------------------------

def style_result_name(style_name: str, mode: str) -> str:
    return f"Style: {style_name or 'style'} ({mode})"


def style_request(content: Pixels, style: Pixels, *, mode: str = "photo", strength: float = 1.0,
                  quality: str = "standard", preserve_colors: bool = False,
                  content_labels: Pixels | None = None,
                  style_labels: Pixels | None = None, show_regions: bool = False) -> Request:
    """``style.transfer``: content = the active layer, style = the picked layer or file."""
    _check_choice("mode", mode, STYLE_MODES)
    _check_choice("quality", quality, QUALITIES)
    if not 0.0 <= float(strength) <= 1.0:
        raise InvalidParameter(f"Strength must be between 0 and 1, not {strength}.", field="strength")
    if (content_labels is None) != (style_labels is None):
        raise InvalidInput("Give both a content label layer and a style label layer, or neither.")
    if content is style:
        raise InvalidInput(f"The style layer '{style.name}' is the content layer: pick another one.")
    images = [("content", content), ("style", style)]
    if content_labels is not None and style_labels is not None:
        images += [("content_labels", content_labels), ("style_labels", style_labels)]
    params: dict[str, Any] = {"mode": mode, "strength": float(strength), "quality": quality,
                              "preserve_colors": bool(preserve_colors)}
    if show_regions:  # the regions it paired come back as a second image
        params["return_regions"] = True
    return Request("style.transfer", images, params, style_result_name(style.name, mode))


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


def relight_result_name(lights: list[dict[str, Any]]) -> str:
    def one(light: dict[str, Any]) -> str:
        xy = light.get("position") or light.get("direction") or []
        return "(" + ", ".join(f"{v:.2f}" for v in xy) + ")"
    if len(lights) == 1:
        return f"Relit: light at {one(lights[0])}"
    return f"Relit: {len(lights)} lights " + " ".join(one(light) for light in lights)


def relight_request(stack: list[Pixels], lights: list[dict[str, Any]], *,
                    quality: str = "standard", group_name: str = "") -> Request:
    """``relight.render``: the layers of the active group are the stack (role ``stack``, named
    ``light U V``); sizes must agree because the lights lit one fixed scene."""
    _check_choice("quality", quality, QUALITIES)
    check_light_stack([px.name for px in stack])
    sizes = {(px.width, px.height) for px in stack}
    if len(sizes) > 1:
        first = stack[0]
        odd = [px.name for px in stack if (px.width, px.height) != (first.width, first.height)]
        raise InvalidInput(f"The light-stack layers differ in size: {', '.join(odd)} "
                           f"differ from '{first.name}' ({first.width}×{first.height}).")
    params = {"lights": lights, "quality": quality}
    name = relight_result_name(lights)
    return Request("relight.render", [("stack", px) for px in stack], params, name,
                   {"group": group_name})


# --- sketch search -----------------------------------------------------------------------------

def sketch_search_request(sketch: Pixels, *, k: int = 5, size: int = 512,
                          index: str | None = None) -> Request:
    if not 1 <= int(k) <= 50:
        raise InvalidParameter(f"Number of matches must be between 1 and 50, not {k}.", field="k")
    params: dict[str, Any] = {"k": int(k), "size": int(size)}
    if index:
        params["index"] = index
    return Request("sketch.search", [("sketch", sketch)], params, SKETCH_GROUP)


def sketch_index_request(folders: list[str], index: str | None = None) -> Request:
    if not folders:
        raise InvalidParameter("Set at least one photo folder to index in the plugin settings.",
                               field="folders")
    params: dict[str, Any] = {"folders": list(folders)}
    if index:
        params["index"] = index
    return Request("sketch.index", [], params, "")


def match_layer_name(name: str, meta: dict[str, Any] | None = None) -> str:
    """``sketch.search`` results are named by file; add the score when the daemon sends it."""
    score = (meta or {}).get("score")
    return f"{name} ({float(score):.2f})" if isinstance(score, int | float) else name
