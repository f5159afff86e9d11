"""Running any described op from an editor, written once for GIMP and Krita.

An editor adapter implements :class:`Document` (read a layer, read a light-stack group, read an
image file, add result layers above a layer as one undo step, tell the user, show a preview);
this module turns a dialog's values into a :class:`~darkroom_plugin.requests.Request`
(:func:`build`) and a finished job into result layers (:func:`apply`). An op with a description
(``ops.json``) and no flow of its own (``SPECIAL``) runs this way: adding such an op needs no
plugin edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from darkroom.errors import InvalidInput

from .jobs import Outcome
from .opdesc import OpDesc, params_from
from .pixels import Pixels
from .requests import Request, check_stack

#: Ops whose results are not "new layers above the source": their editor flows are their own.
SPECIAL = ("sketch.search",)


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
    return Plan(Request(desc.name, images, params_from(desc, values)), anchor)


def result_layers(out: Outcome) -> list[tuple[Pixels, str, float]]:
    """Which returned images become layers, named as the op named them: all of them, or the
    ones the op lists in ``meta["layers"]`` (with ``meta["layer_opacity"]``)."""
    picked = out.meta.get("layers")
    idx = [i for i in picked if isinstance(i, int) and 0 <= i < len(out.images)] \
        if isinstance(picked, list) else list(range(len(out.images)))
    opacity = out.meta.get("layer_opacity")
    opacity = opacity if isinstance(opacity, list) else []
    rows = []
    for n, i in enumerate(idx):
        a = opacity[n] if n < len(opacity) and isinstance(opacity[n], int | float) else 1.0
        rows.append((out.images[i], out.images[i].name or "Result", min(1.0, max(0.0, float(a)))))
    return rows


def apply(plan: Plan, out: Outcome, doc: Document) -> list[Any]:
    """Add a finished job's result layers above the plan's anchor (one undo step); the new
    layers. (The op's notes, ``out.warning_text()``, are the job runner's to show.)"""
    return doc.add_results(plan.anchor, result_layers(out))
