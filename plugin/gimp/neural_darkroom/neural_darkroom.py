#!/usr/bin/env python3
"""Neural Darkroom for GIMP 3: ``Filters → Neural Darkroom`` procedures.

The only GIMP module of the project (``Gimp``, ``Gegl``, ``GimpUi`` through GObject
introspection). Layers are read and written through Babl formats, so any precision works: 8/16-bit
images travel as integers, others as float; relighting reads linear ``RGBA float`` because light
adds up in linear light. Each procedure runs one op through the daemon (started if needed),
reports progress with ``Gimp.progress_*``, adds its result as one undo group and never changes the
source layers. Cancelling the progress ends this plug-in process; the daemon then cancels the job
of the client that went away.

Every procedure has a menu entry under *Filters → Neural Darkroom* and also runs
non-interactively or with the last values (PDB arguments): the editor tests look the procedures
up by their menu path and run them with their last values, as *Filters → Repeat* does.

The op procedures are generated from the ops' descriptions (``ops.json`` beside this file,
written by ``install.py``, refreshed by *Backend status*): one procedure per op with a menu
title, its arguments from the op's parameters and image inputs, ``GimpUi.ProcedureDialog``
draws the dialog. Adding an op to the backend needs no edit here.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.join(HERE, "vendor", f"zmq-cp{sys.version_info[0]}{sys.version_info[1]}"),
           os.path.join(HERE, "vendor")):
    if os.path.isdir(_p) and _p not in sys.path:
        sys.path.insert(0, _p)

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from darkroom_plugin import MENU_TITLE, flows, jobs, opdesc, opflow  # noqa: E402
from darkroom_plugin import requests as rq  # noqa: E402
from darkroom_plugin import settings as st  # noqa: E402
from darkroom_plugin.pixels import Pixels, add_alpha, babl_format_of, gimp_format  # noqa: E402
from gi.repository import Gegl, Gimp, Gio, GLib, GObject  # noqa: E402

from darkroom.errors import InvalidInput  # noqa: E402

PROC_STATUS = "neural-darkroom-status"
PROC_FOLDERS = "neural-darkroom-sketch-folders"
PROC_OPEN_STACK = "neural-darkroom-open-stack"
MENU_PATH = f"<Image>/Filters/{MENU_TITLE}"
#: The ops with a menu entry, by procedure name, from the descriptions beside this file.
DESCRIPTIONS = opdesc.load(HERE)
OPS = {d.procedure: d for d in opdesc.editor_ops(DESCRIPTIONS)}
flows.note_descriptions(DESCRIPTIONS)
#: The procedures that are not one op on the selected layer: name -> (menu label, blurb, help,
#: needs a layer)
MENU = {
    PROC_OPEN_STACK: ("Open Light Stack…", "Open a folder of photos of one scene, each lit by one "
                      "light, as a light-stack layer group",
                      "Lights from the folder's lights.json or RTI .lp file, else from a shiny "
                      "sphere in the photos (CX,CY,R in pixels, or found), else estimated.",
                      False),
    PROC_FOLDERS: ("Sketch Photo Folders…",
                   "Choose the photo folders sketch search looks in, and index them",
                   "Adds the folder to the list (or replaces the list) and brings the "
                   "sketch-search index up to date.", False),
    PROC_STATUS: ("Backend status", "Is the Neural Darkroom backend running?", "", False),
}
PROCEDURES = [*OPS, *MENU]
RW = GObject.ParamFlags.READWRITE


def _choice(values):
    c = Gimp.Choice.new()
    for i, v in enumerate(values):
        c.add(str(v), i, str(v).replace("_", " ").capitalize(), "")
    return c


_BIG = 2 ** 31 - 1  # GIMP's int arguments need bounds; an op without one has none


def add_param_argument(proc, p):
    """One GIMP argument for an op parameter the dialogs show (kind, range, choices, default
    and label from its description)."""
    label, blurb = p.label or p.name, p.help or None
    if p.kind == "bool":
        proc.add_boolean_argument(p.arg, label, blurb, bool(p.default), RW)
    elif p.kind == "int":
        lo = int(p.minimum) if p.minimum is not None else -_BIG
        hi = int(p.maximum) if p.maximum is not None else _BIG
        proc.add_int_argument(p.arg, label, blurb, lo, hi, int(p.default or 0), RW)
    elif p.kind == "float":
        lo = float(p.minimum) if p.minimum is not None else -1e9
        hi = float(p.maximum) if p.maximum is not None else 1e9
        proc.add_double_argument(p.arg, label, blurb, lo, hi, float(p.default or 0.0), RW)
    elif p.choices:
        proc.add_choice_argument(p.arg, label, blurb, _choice(p.choices), str(p.default), RW)
    elif p.path is not None:
        action = (Gimp.FileChooserAction.SELECT_FOLDER if p.path == "dir" else
                  Gimp.FileChooserAction.SAVE if p.path == "new_file" else
                  Gimp.FileChooserAction.OPEN)
        proc.add_file_argument(p.arg, label, blurb, action, True, None, RW)
    elif p.kind == "str" or p.text:
        proc.add_string_argument(p.arg, label, blurb, str(p.initial() or ""), RW)


def add_op_arguments(proc, desc):
    """The procedure's arguments from the op's description: a layer and an image-file argument
    per picked image input, one argument per shown parameter."""
    for inp in desc.picked:
        proc.add_layer_argument(f"{inp.arg}-layer", f"{inp.label} layer", inp.help or None,
                                True, RW)
        proc.add_file_argument(f"{inp.arg}-file", f"…or {inp.label.lower()} image file", None,
                               Gimp.FileChooserAction.OPEN, True, None, RW)
    for p in desc.shown:
        add_param_argument(proc, p)
    if desc.result_group:  # results as a layer group here, or each as a new image
        proc.add_choice_argument("output", "Show as new", None, _choice(opflow.OUTPUTS),
                                 "layers", RW)


def op_values(desc, config):
    """A dialog's (or the last run's) values: picked inputs by role (a layer, a file path or
    None), parameters by name."""
    values = {}
    for inp in desc.picked:
        layer, file = (config.get_property(f"{inp.arg}-layer"),
                       config.get_property(f"{inp.arg}-file"))
        values[inp.role] = layer if layer is not None else (
            file.get_path() if file is not None else None)
    for p in desc.shown:
        v = config.get_property(p.arg)
        values[p.name] = v.get_path() if hasattr(v, "get_path") else v  # a Gio.File
    if desc.result_group:
        values["output"] = config.get_property("output")
    return values


# --- layers <-> Pixels -----------------------------------------------------------------------

def read_drawable(image, drawable, linear=False):
    """The drawable's pixels, R,G,B,A in the image's precision: sRGB-encoded, or with
    ``linear`` the values as stored, tagged with what they are (the relighting op decodes
    them): linear when the image's precision is linear, and also when a 16-bit or float image
    has no colour profile of its own — a light stack saved as 16-bit PNG holds linear camera
    values, which is how Krita and the CLI read such files (GIMP would call them sRGB), so
    the same photos give the same answer everywhere."""
    nick = Gimp.Precision(image.get_precision()).value_nick
    stored_linear = nick.endswith("-linear") and "non-linear" not in nick
    fmt, kind = gimp_format(nick, linear=linear and stored_linear)
    untagged_deep = kind != "u8" and getattr(image, "get_color_profile", lambda: None)() is None
    own_linear = linear and (stored_linear or untagged_deep)
    w, h = drawable.get_width(), drawable.get_height()
    _, x, y = drawable.get_offsets()
    data = drawable.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt,
                                     Gegl.AbyssPolicy.CLAMP)
    return Pixels(bytes(data), w, h, 4, kind, drawable.get_name(), (x, y),
                  "linear" if own_linear else "srgb")


def add_layer(image, px, name, parent, position):
    """A new layer holding ``px`` at its offset (GEGL converts to the image's precision)."""
    gray = image.get_base_type() == Gimp.ImageBaseType.GRAY
    kind = Gimp.ImageType.GRAYA_IMAGE if gray else Gimp.ImageType.RGBA_IMAGE
    layer = Gimp.Layer.new(image, name, px.width, px.height, kind, 100.0,
                           Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, parent, position)
    layer.set_offsets(px.offset[0], px.offset[1])
    rgba = Pixels(add_alpha(px.data, px.dtype, px.channels), px.width, px.height, 4, px.dtype,
                  px.name, px.offset, px.colorspace)
    buf = layer.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, px.width, px.height), babl_format_of(rgba), rgba.data)
    buf.flush()
    layer.update(0, 0, px.width, px.height)
    return layer


def _above(image, item):
    """(parent, position) that puts a new layer right above ``item``, or above the results of
    ours already stacked on it (each new result lands on top, so the canvas shows it)."""
    parent = item.get_parent()
    siblings = parent.get_children() if parent is not None else image.get_layers()
    top_down = [s.get_name() for s in siblings]  # GIMP lists the top layer first
    at = image.get_item_position(item)
    bottom_up = top_down[::-1]
    anchor = flows.result_anchor(bottom_up, len(top_down) - 1 - at)
    return parent, len(top_down) - 1 - anchor


# --- running ---------------------------------------------------------------------------------

class Preview:
    """A temporary layer above ``anchor`` showing a running job's latest preview, stretched over
    ``anchor``'s area; kept out of the undo history and removed when the job ends."""

    def __init__(self, image, anchor):
        self.image, self.anchor, self.layer = image, anchor, None
        _, self.x, self.y = anchor.get_offsets()
        self.w, self.h = anchor.get_width(), anchor.get_height()
        self.broken = False
        self.shown = 0  #: preview layers put in the image so far

    def show(self, px):
        if self.broken:
            return
        try:
            self._show(px)
        except Exception:  # noqa: BLE001 - a preview must never fail the job
            jobs.log.warning("preview not shown", exc_info=True)
            self.broken = True

    def _show(self, px):
        self.image.undo_freeze()
        try:
            self._remove()
            px.offset = (0, 0)
            self.layer = add_layer(self.image, px, flows.PREVIEW_LAYER, *_above(self.image,
                                                                                self.anchor))
            self.layer.scale(self.w, self.h, False)
            self.layer.set_offsets(self.x, self.y)
            Gimp.displays_flush()
            self.shown += 1
        finally:
            self.image.undo_thaw()

    def _remove(self):
        if self.layer is not None and self.layer.is_valid():
            self.image.remove_layer(self.layer)
        self.layer = None

    def close(self):
        self.image.undo_freeze()
        try:
            self._remove()
        finally:
            self.image.undo_thaw()
        if self.shown:  # on GIMP's terminal (gimp --verbose): the previews did show
            print(f"{MENU_TITLE}: {self.shown} preview{'s' if self.shown != 1 else ''} shown "
                  f"over '{self.anchor.get_name()}', then removed", file=sys.stderr, flush=True)


class GimpDocument:
    """:class:`darkroom_plugin.opflow.Document` for one GIMP image."""

    def __init__(self, image):
        self.image = image
        self._preview = None

    def read(self, layer):
        return read_drawable(self.image, layer)

    def read_stack(self, layer):
        group = layer if layer.is_group_layer() else layer.get_parent()
        if group is None:
            raise InvalidInput(f"Layer '{layer.get_name()}' is not in a layer group: put the "
                               "light stack in a group and select the group.")
        children = [c for c in group.get_children() if not c.is_group_layer()]
        return group, [read_drawable(self.image, c, linear=True) for c in children]

    def read_file(self, path):
        try:
            loaded = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))
        except Exception as e:  # noqa: BLE001 - GLib.Error: a sentence naming the file
            raise InvalidInput(f"GIMP cannot open the image file '{path}' "
                               f"({getattr(e, 'message', None) or e}).") from None
        try:
            px = read_drawable(loaded, loaded.flatten())
        finally:
            loaded.delete()
        px.name, px.offset = os.path.basename(path), (0, 0)
        return px

    def name(self, layer):
        return layer.get_name()

    def same(self, a, b):
        return a.get_id() == b.get_id()

    def add_results(self, anchor, layers):
        made = []
        self.image.undo_group_start()
        try:
            for px, name, opacity in layers:
                where = _above(self.image, anchor) if not made else (
                    made[-1].get_parent(), self.image.get_item_position(made[-1]))
                made.append(add_layer(self.image, px, name, *where))
                if opacity < 1.0:
                    made[-1].set_opacity(opacity * 100.0)
        finally:
            self.image.undo_group_end()
        return made

    def add_group(self, anchor, name, layers):
        self.image.undo_group_start()
        try:
            group = Gimp.GroupLayer.new(self.image, name)
            self.image.insert_layer(group, *_above(self.image, anchor))
            made = [add_layer(self.image, px, n, group, i) for i, (px, n) in enumerate(layers)]
        finally:
            self.image.undo_group_end()
        return [group, *made]

    def open_image(self, px, name):
        img = Gimp.Image.new(px.width, px.height, Gimp.ImageBaseType.RGB)
        px.offset = (0, 0)
        add_layer(img, px, name, None, 0)
        Gimp.Display.new(img)
        return img

    def message(self, text):
        Gimp.message(text)

    def show_preview(self, anchor, px):
        if px is None:
            if self._preview is not None:
                self._preview.close()
            self._preview = None
            return
        if self._preview is None:
            self._preview = Preview(self.image, anchor)
        self._preview.show(px)


def run_request(req, doc=None, anchor=None):
    """Run ``req`` with GIMP's progress bar; with ``doc`` and ``anchor`` the op's previews
    show in a temporary layer above ``anchor`` while it runs."""
    Gimp.progress_init(f"{MENU_TITLE}: {req.op}")

    def progress(fraction, stage):
        if stage:
            Gimp.progress_set_text(f"{MENU_TITLE}: {stage}")
        Gimp.progress_update(max(0.0, min(1.0, fraction)))
    shows = doc is not None and anchor is not None
    try:
        out = jobs.run_blocking(req, progress=progress,
                                preview=(lambda px: doc.show_preview(anchor, px)) if shows
                                else None)
    finally:
        if shows:
            doc.show_preview(anchor, None)
        Gimp.progress_end()
    return out


def _fail(procedure, message):
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(message))


class NeuralDarkroom(Gimp.PlugIn):
    def do_query_procedures(self):
        return list(PROCEDURES)

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        proc = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, self.run, None)
        proc.set_image_types("*")
        proc.set_attribution("Neural Darkroom", "Neural Darkroom", "2026")
        desc = OPS.get(name)
        label, blurb, help_, needs_layer = MENU[name] if desc is None else (
            desc.title, desc.help, f"Op {desc.name}; the result is added as a new layer above "
            "the selected one.", True)
        # The label before the menu path: GIMP refuses a menu path for a procedure without one.
        proc.set_menu_label(label)
        proc.set_documentation(blurb, help_, name)
        proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE if needs_layer
                                  else Gimp.ProcedureSensitivityMask.ALWAYS)
        proc.add_menu_path(MENU_PATH)
        if desc is not None:
            add_op_arguments(proc, desc)
        elif name == PROC_OPEN_STACK:
            proc.add_file_argument("folder", "Light-stack folder", None,
                                   Gimp.FileChooserAction.SELECT_FOLDER, True, None, RW)
            proc.add_string_argument("sphere", "Sphere CX,CY,R (empty: find it)", None, "", RW)
        elif name == PROC_FOLDERS:
            proc.add_file_argument("folder", "Photo folder", None,
                                   Gimp.FileChooserAction.SELECT_FOLDER, True, None, RW)
            proc.add_boolean_argument("replace", "Forget the other folders", None, False, RW)
            proc.add_boolean_argument("index-now", "Index now", None, True, RW)
        return proc

    def run(self, procedure, run_mode, image, drawables, config, data):
        name = procedure.get_name()
        if run_mode == Gimp.RunMode.INTERACTIVE and name != PROC_STATUS:
            gi.require_version("GimpUi", "3.0")
            from gi.repository import GimpUi

            GimpUi.init("neural_darkroom")
            dlg = GimpUi.ProcedureDialog.new(procedure, config, MENU_TITLE)
            dlg.fill(None)
            if not dlg.run():
                dlg.destroy()
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
            dlg.destroy()
        try:
            if name == PROC_STATUS:
                text, _line = jobs.fetch_status(descriptions=HERE)
                if "restart the editor" in text:  # GIMP re-reads a plug-in whose file changed
                    os.utime(os.path.abspath(__file__))
                Gimp.message(text)
                return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
            if name in (PROC_FOLDERS, PROC_OPEN_STACK):
                flow = sketch_folders if name == PROC_FOLDERS else open_stack
                error = flow(config, run_mode == Gimp.RunMode.INTERACTIVE)
                return (_fail(procedure, error) if error else
                        procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None))
            if not drawables:
                return _fail(procedure, "Select a layer first.")
            desc = OPS[name]
            error = run_op(image, drawables[0], desc, op_values(desc, config))
        except Exception as e:  # noqa: BLE001 - the user reads a sentence, never a traceback
            error = jobs.user_message(e)
        if error:
            return _fail(procedure, error)
        Gimp.displays_flush()
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)


# --- flows -----------------------------------------------------------------------------------

def run_op(image, active, desc, values) -> str:
    """Any described op on the selected layer: its result layers above it as one undo step (or
    its result group). Returns the error sentence, or "" on success."""
    doc = GimpDocument(image)
    plan = opflow.build(desc, doc, active, values)
    shows = not desc.result_group  # a preview of the result over the source layer
    out = run_request(plan.request, doc if shows else None, plan.anchor)
    if not out.ok:
        return out.error
    opflow.apply(plan, out, doc)
    note = out.warning_text()
    if note:  # the layer is there; the note goes to GIMP's message area, not as a failure
        Gimp.message(note)
    return ""


def open_stack(config, interactive=False) -> str:
    """Open a light-stack folder as a new image holding one layer group (``light X Y Z``
    layers, the values as the files hold them), ready for Relight…."""
    folder = config.get_property("folder")
    path = folder.get_path() if folder is not None else None
    if not path:
        return "Choose the folder of the light stack."
    out = run_request(flows.open_stack_request(path, config.get_property("sphere") or ""))
    if not out.ok:
        return out.error
    group_name, rows, note = flows.stack_plan(out.meta, path)
    if not rows:
        return f"No photos of a light stack were found in '{path}'."
    encoding = "linear" if out.meta.get("encoding") == "linear" else "srgb"
    image = None
    for i, (file, name) in enumerate(rows):
        loaded = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(file))
        try:
            px = read_drawable(loaded, loaded.flatten(), linear=True)  # values as stored
        finally:
            loaded.delete()
        px.colorspace, px.offset = encoding, (0, 0)  # the light file says what they are
        if image is None:
            nick = px.dtype if px.dtype != "f32" else "float"
            which = "LINEAR" if encoding == "linear" else "NON_LINEAR"
            image = Gimp.Image.new_with_precision(px.width, px.height, Gimp.ImageBaseType.RGB,
                                                  getattr(Gimp.Precision, f"{nick.upper()}_{which}"))
            image.undo_disable()
            group = Gimp.GroupLayer.new(image, group_name)
            image.insert_layer(group, None, 0)
        add_layer(image, px, name, group, i)
    image.undo_enable()
    image.set_selected_layers([group])
    if interactive:
        Gimp.Display.new(image)
    Gimp.message(note)
    return ""


def sketch_folders(config, interactive=False) -> str:
    """Remember the chosen photo folder for sketch search and index the folders now."""
    s = st.load()
    folder = config.get_property("folder")
    path = folder.get_path() if folder is not None else None
    if path:
        s.index_folders = [path] if config.get_property("replace") else \
            [f for f in s.index_folders if f != path] + [path]
        st.save(s)
    if not s.index_folders:
        return "Choose a photo folder for sketch search first."
    if not config.get_property("index-now"):
        Gimp.message("Sketch search looks in: " + "; ".join(s.index_folders))
        return ""
    out = run_request(rq.sketch_index_request(s.index_folders))
    if not out.ok:
        return out.error
    Gimp.message(flows.index_summary(out.meta))
    return ""


if __name__ == "__main__":
    Gimp.main(NeuralDarkroom.__gtype__, sys.argv)
