"""Running any described op from an editor, written once for GIMP and Krita.

An editor adapter implements :class:`Document` (read a layer, read a light-stack group, read an
image file, add result layers above a layer as one undo step, add a layer group of results, open
a result as a new image, tell the user, show a preview); this module turns a dialog's values
into a :class:`~darkroom_plugin.requests.Request` (:func:`build`) and a finished job into result
layers (:func:`apply`). Every op with a description (``ops.json``) runs this way: adding an op
needs no plugin edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from darkroom.errors import InvalidInput, InvalidParameter

from .jobs import Outcome
from .opdesc import OpDesc, params_from
from .pixels import Pixels
from .requests import Request, check_stack

#: The extra dialog field of an op whose results come as a group: where they go.
OUTPUTS = ("layers", "images")


class Document(Protocol):
    """What the op flows need from an editor's document; ``layer`` is the editor's own object
    (a ``Gimp.Layer``, a Krita ``Node``)."""

    def read(self, layer: Any) -> Pixels:
        """The layer's pixels as stored (sRGB-encoded unless the image is linear)."""

    def read_stack(self, layer: Any) -> tuple[Any, list[Pixels]]:
        """The light-stack group that ``layer`` is or is in, and its layers in linear light;
        :class:`InvalidInput` naming the problem when it is not in a group."""

    def read_file(self, path: str) -> Pixels:
        """An image file the user picked instead of a layer."""

    def name(self, layer: Any) -> str:
        """The layer's name as the user sees it."""

    def same(self, a: Any, b: Any) -> bool:
        """Whether ``a`` and ``b`` are the same layer."""

    def add_results(self, anchor: Any, layers: list[tuple[Pixels, str, float]]) -> list[Any]:
        """Add (pixels, name, opacity 0–1) layers right above ``anchor`` (above our earlier
        results there), the first lowest, as one undo step; return the new layers."""

    def add_group(self, anchor: Any, name: str, layers: list[tuple[Pixels, str]]) -> list[Any]:
        """Add a layer group ``name`` right above ``anchor`` (above our earlier results) holding
        (pixels, name) layers, the first on top, as one undo step; return [group, *layers]."""

    def open_image(self, px: Pixels, name: str) -> Any:
        """Open ``px`` as a new image (document) named ``name``; return it."""

    def message(self, text: str) -> None:
        """Tell the user (a sentence, never a traceback)."""

    def show_preview(self, anchor: Any, px: Pixels | None) -> None:
        """Show a running job's latest preview over ``anchor``'s area in a temporary layer kept
        out of the undo history; ``None`` removes it."""


@dataclass
class Plan:
    """A request ready to send and where its results go."""

    request: Request
    anchor: Any
    desc: OpDesc
    output: str = "layers"  #: for a result group: "layers" (a group) or "images" (new images)


def build(desc: OpDesc, doc: Document, active: Any, values: dict[str, Any]) -> Plan:
    """The request for ``desc`` with ``active`` the selected layer and ``values`` a dialog's
    answers: parameters by name, picked inputs by role (a layer, an image file's path, or None).
    Raises :class:`InvalidInput` / :class:`InvalidParameter` with a sentence before any pixel
    travels."""
    images: list[tuple[str, Pixels]] = []
    anchor = active
    for inp in desc.images:
        if inp.source == "active":
            images.append((inp.role, doc.read(active)))
        elif inp.source == "stack":
            anchor, stack = doc.read_stack(active)
            check_stack(stack)
            images += [(inp.role, px) for px in stack]
        else:
            picked = values.get(inp.role)
            if picked is None or picked == "":
                if inp.optional:
                    continue
                raise InvalidInput(f"Pick a {inp.label.lower() or inp.role} layer or image file.")
            if isinstance(picked, str):
                images.append((inp.role, doc.read_file(picked)))
                continue
            if doc.same(picked, active):
                raise InvalidInput(f"The {inp.label.lower() or inp.role} layer "
                                   f"'{doc.name(picked)}' is the layer being changed: pick "
                                   "another one.")
            images.append((inp.role, doc.read(picked)))
    output = str(values.get("output") or "layers")
    if output not in OUTPUTS:
        raise InvalidParameter(f"Show as new must be one of {', '.join(OUTPUTS)}, not '{output}'.",
                               field="output")
    return Plan(Request(desc.name, images, params_from(desc, values)), anchor, desc, output)


def result_layers(out: Outcome) -> list[tuple[Pixels, str, float]]:
    """Which returned images become layers, named as the op named them (or as
    ``meta["layer_names"]`` says): all of them, or the ones the op lists in ``meta["layers"]``
    (with ``meta["layer_opacity"]``)."""
    picked = out.meta.get("layers")
    idx = [i for i in picked if isinstance(i, int) and 0 <= i < len(out.images)] \
        if isinstance(picked, list) else list(range(len(out.images)))
    opacity = out.meta.get("layer_opacity")
    opacity = opacity if isinstance(opacity, list) else []
    names = out.meta.get("layer_names")
    names = names if isinstance(names, list) else []
    rows = []
    for n, i in enumerate(idx):
        a = opacity[n] if n < len(opacity) and isinstance(opacity[n], int | float) else 1.0
        name = names[i] if i < len(names) and isinstance(names[i], str) and names[i] else \
            out.images[i].name or "Result"
        rows.append((out.images[i], name, min(1.0, max(0.0, float(a)))))
    return rows


def apply(plan: Plan, out: Outcome, doc: Document) -> list[Any]:
    """Put a finished job's results where the op's description says: layers above the plan's
    anchor (one undo step), or for an op with a result group, a group of them above it or each
    as a new image. Returns what was made. (The op's notes, ``out.warning_text()``, are the job
    runner's to show.)"""
    rows = result_layers(out)
    if not plan.desc.result_group:
        return doc.add_results(plan.anchor, rows)
    if plan.output == "images":
        return [doc.open_image(px, name) for px, name, _a in rows]
    return doc.add_group(plan.anchor, plan.desc.result_group, [(px, name) for px, name, _a in rows])
