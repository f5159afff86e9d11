"""Krita layers <-> :class:`darkroom_plugin.pixels.Pixels`. One of the only modules that
touches Krita's API (``Document``, ``Node``).

Krita's ``Node.pixelData(x, y, w, h)`` gives the layer's samples in its colour depth: U8/U16 as
B,G,R,A, F16/F32 as R,G,B,A (converted in :mod:`darkroom_plugin.pixels`). Float layers in Krita
default to a linear profile ("…g10…"), integer ones to sRGB, so the profile tells the colour space.
"""

from __future__ import annotations

import os
from typing import Any

from darkroom_plugin import flows, pixels
from darkroom_plugin.pixels import Pixels
from PyQt5.QtCore import QByteArray, Qt
from PyQt5.QtGui import QImage

from darkroom.errors import InvalidInput


def colorspace_of(node: Any) -> str:
    profile = (node.colorProfile() or "").lower()
    return "linear" if ("g10" in profile or "linear" in profile) else "srgb"


def check_readable(node: Any) -> None:
    """Raise InvalidInput, naming the layer, when it cannot be sent (checked before a dialog
    opens). RGB and greyscale layers can: grey is sent as R = G = B."""
    name = node.name()
    if node.colorModel() not in ("RGBA", "GRAYA"):
        raise InvalidInput(f"Layer '{name}' is {node.colorModel()}, which the plugin cannot send: "
                           "convert the image to RGB/Alpha (Image → Convert Image Color Space) "
                           "first.")
    if node.colorDepth() not in pixels.KRITA_DEPTHS:
        raise InvalidInput(f"Layer '{name}' has colour depth {node.colorDepth()}; use 8 or 16 "
                           "bit integer or 16/32 bit float.")


def read_layer(node: Any, rect: Any = None) -> Pixels:
    """The layer's pixels inside ``rect`` (default: its own bounds), as R,G,B,A Pixels whose
    offset is the rect's top-left in the document. Raises InvalidInput naming the layer."""
    name = node.name()
    check_readable(node)
    r = rect if rect is not None else node.bounds()
    if r.width() <= 0 or r.height() <= 0:
        raise InvalidInput(f"Layer '{name}' is empty: there are no pixels to send.")
    raw = node.pixelData(r.x(), r.y(), r.width(), r.height())
    try:
        return pixels.from_krita(bytes(raw), node.colorDepth(), r.width(), r.height(), name=name,
                                 offset=(r.x(), r.y()), colorspace=colorspace_of(node),
                                 model=node.colorModel())
    except ValueError as e:
        raise InvalidInput(f"Layer '{name}' cannot be read: {e}.") from None


def read_file(path: str) -> Pixels:
    """An image file (the style dialog's "image file" choice) as 8-bit R,G,B,A."""
    img = QImage(path)
    if img.isNull():
        raise InvalidInput(f"Cannot read the image file '{path}'.")
    img = img.convertToFormat(QImage.Format_RGBA8888)
    w, h = img.width(), img.height()
    ptr = img.constBits()
    ptr.setsize(img.bytesPerLine() * h)
    row = img.bytesPerLine()
    data = b"".join(bytes(ptr[y * row:y * row + w * 4]) for y in range(h))
    return Pixels(data, w, h, 4, "u8", os.path.basename(path))


def stack_group(node: Any) -> Any:
    """The active group, or the group holding the active layer (a light stack)."""
    if node.type() == "grouplayer":
        return node
    parent = node.parentNode()
    if parent is None or parent.type() != "grouplayer":
        raise InvalidInput(f"Layer '{node.name()}' is not in a layer group: put the light "
                           "stack in a group and select the group.")
    return parent


def stack_names(group: Any) -> list[str]:
    return [c.name() for c in group.childNodes() if c.type() == "paintlayer"]


def light_stack(doc: Any, node: Any) -> tuple[Any, list[Pixels]]:
    """The active group (or the group holding the active layer) and its layers' pixels, all
    read over the group's bounds so that every light has the same size and place."""
    group = stack_group(node)
    children = [c for c in group.childNodes() if c.type() == "paintlayer"]
    rect = group.bounds()
    return group, [read_layer(c, rect) for c in children]


def add_layer(doc: Any, parent: Any, above: Any, px: Pixels, name: str) -> Any:
    """A new paint layer named ``name`` above ``above`` holding ``px`` at its offset, converted
    to the document's depth. Sources are not touched."""
    node = doc.createNode(name, "paintlayer")
    parent.addChildNode(node, above)
    data = pixels.to_krita(px, node.colorDepth())
    x, y = px.offset
    node.setPixelData(QByteArray(data), x, y, px.width, px.height)
    return node


def result_anchor(source: Any) -> Any:
    """The layer a new result goes right above: ``source``, or the topmost of our results
    stacked on it (so a second result lands on top of the first; see flows.result_anchor)."""
    parent = source.parentNode()
    siblings = list(parent.childNodes()) if parent is not None else [source]
    ids = [n.uniqueId() for n in siblings]
    at = ids.index(source.uniqueId()) if source.uniqueId() in ids else len(siblings) - 1
    return siblings[flows.result_anchor([n.name() for n in siblings], at)]


def rect_of(node: Any) -> tuple[int, int, int, int]:
    b = node.bounds()
    return b.x(), b.y(), b.width(), b.height()


def show_preview(doc: Any, parent: Any, above: Any, px: Pixels,
                 rect: tuple[int, int, int, int], node: Any = None) -> Any:
    """Show a job's preview (small sRGB u8) stretched over ``rect`` in a temporary layer above
    ``above``, made on the first call and updated in place after; returns the layer."""
    x, y, w, h = rect
    rgba = pixels.add_alpha(px.data, px.dtype, px.channels)
    small = QImage(rgba, px.width, px.height, px.width * 4, QImage.Format_RGBA8888)
    big = small.scaled(w, h, Qt.IgnoreAspectRatio, Qt.SmoothTransformation) \
        .convertToFormat(QImage.Format_RGBA8888)
    ptr = big.constBits()
    ptr.setsize(big.bytesPerLine() * h)
    row = big.bytesPerLine()
    data = b"".join(bytes(ptr[r * row:r * row + w * 4]) for r in range(h))
    if node is None:
        node = doc.createNode(flows.PREVIEW_LAYER, "paintlayer")
        parent.addChildNode(node, above)
    node.setPixelData(QByteArray(pixels.to_krita(Pixels(data, w, h, 4, "u8", flows.PREVIEW_LAYER),
                                                 node.colorDepth())), x, y, w, h)
    doc.refreshProjection()
    return node


def add_group(doc: Any, parent: Any, above: Any, name: str) -> Any:
    group = doc.createGroupLayer(name)
    parent.addChildNode(group, above)
    return group


def new_document(px: Pixels, name: str) -> Any:
    """Open ``px`` as a new image (sketch results, "open as new images")."""
    from krita import Krita

    app = Krita.instance()
    depth = {"u8": "U8", "u16": "U16", "f32": "F32"}[px.dtype]
    doc = app.createDocument(px.width, px.height, name, "RGBA", depth, "", 300.0)
    root = doc.rootNode()
    px = Pixels(px.data, px.width, px.height, px.channels, px.dtype, px.name, (0, 0), px.colorspace)
    layers = root.childNodes()
    if layers:  # createDocument made a blank layer: fill it rather than stack on it
        layers[0].setName(name)
        layers[0].setPixelData(QByteArray(pixels.to_krita(px, layers[0].colorDepth())),
                               0, 0, px.width, px.height)
    else:
        add_layer(doc, root, None, px, name)
    if app.activeWindow() is not None:
        app.activeWindow().addView(doc)
    doc.refreshProjection()
    return doc


def open_stack_document(group_name: str, rows: list[tuple[str, str]]) -> tuple[Any, Any]:
    """A new document holding a layer group ``group_name`` with one layer per (file, layer
    name), read by Krita's own importers, in the first photo's depth and profile; shown and
    with the group selected. Raises InvalidInput naming a photo that cannot be read or whose
    size differs. Returns (document, group)."""
    from krita import Krita

    app = Krita.instance()
    doc = group = None
    for i, (file, name) in enumerate(rows):
        src = app.openDocument(file)
        if src is None:
            raise InvalidInput(f"Krita cannot read the photo '{file}'.")
        try:
            w, h = src.width(), src.height()
            if doc is None:
                doc = app.createDocument(w, h, group_name, src.colorModel(), src.colorDepth(),
                                         src.colorProfile(), src.resolution())
                for node in doc.rootNode().childNodes():  # the blank layer a new document has
                    node.remove()
                group = doc.createGroupLayer(group_name)
                doc.rootNode().addChildNode(group, None)
            elif (w, h) != (doc.width(), doc.height()):
                raise InvalidInput(f"The photo '{file}' is {w}×{h}; the first was "
                                   f"{doc.width()}×{doc.height()}.")
            node = doc.createNode(name, "paintlayer")
            group.addChildNode(node, group.childNodes()[-1] if i else None)
            node.setPixelData(src.pixelData(0, 0, w, h), 0, 0, w, h)
        finally:
            src.close()
    if app.activeWindow() is not None:
        app.activeWindow().addView(doc)
    doc.setActiveNode(group)
    doc.refreshProjection()
    return doc, group


class KritaDocument:
    """:class:`darkroom_plugin.opflow.Document` for one Krita document. ``tell`` shows a
    sentence to the user (the controller's message box)."""

    def __init__(self, doc: Any, tell: Any = None) -> None:
        self.doc = doc
        self.tell = tell
        self._preview: Any = None
        self.previews = 0  #: preview layer updates so far

    def read(self, layer: Any) -> Pixels:
        return read_layer(layer)

    def read_stack(self, layer: Any) -> tuple[Any, list[Pixels]]:
        return light_stack(self.doc, layer)

    def read_file(self, path: str) -> Pixels:
        return read_file(path)

    def name(self, layer: Any) -> str:
        return str(layer.name())

    def same(self, a: Any, b: Any) -> bool:
        return bool(a.uniqueId() == b.uniqueId())

    def add_results(self, anchor: Any, layers: list[tuple[Pixels, str, float]]) -> list[Any]:
        made: list[Any] = []
        parent, above = anchor.parentNode(), result_anchor(anchor)
        for px, name, opacity in layers:
            made.append(add_layer(self.doc, parent, made[-1] if made else above, px, name))
            if opacity < 1.0:
                made[-1].setOpacity(int(round(opacity * 255)))
        self.doc.refreshProjection()
        return made

    def add_group(self, anchor: Any, name: str, layers: list[tuple[Pixels, str]]) -> list[Any]:
        group = add_group(self.doc, anchor.parentNode(), result_anchor(anchor), name)
        made: list[Any] = []
        for px, n in reversed(layers):  # the last at the bottom, each next one above it
            made.insert(0, add_layer(self.doc, group, made[0] if made else None, px, n))
        self.doc.refreshProjection()
        return [group, *made]

    def open_image(self, px: Pixels, name: str) -> Any:
        return new_document(px, name)

    def message(self, text: str) -> None:
        if self.tell is not None:
            self.tell(text)

    def show_preview(self, anchor: Any, px: Pixels | None) -> None:
        if px is None:
            node, self._preview = self._preview, None
            if node is not None:
                node.remove()
                self.doc.refreshProjection()
            return
        self._preview = show_preview(self.doc, anchor.parentNode(), result_anchor(anchor), px,
                                     rect_of(anchor), self._preview)
        self.previews += 1
