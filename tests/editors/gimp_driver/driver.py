"""Run inside ``gimp-console-3.0 --batch-interpreter=python-fu-eval`` (GIMP 3, in the trixie
chroot): finds the installed plug-in's procedures by their menu path (*Filters → Neural
Darkroom*), runs them on a test image as the menu would — with the values a dialog gives, and
again with the last values (*Filters → Repeat*) — and writes what it saw to ``$DRIVER_OUT``
(JSON) in a ``finally``."""

import json
import os
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

CFG = json.loads(os.environ.get("DRIVER_CONFIG", "{}"))
report = {"checks": {}, "errors": [], "log": []}
W, H = 48, 32


def check(name, ok, detail=""):
    report["checks"][name] = {"ok": bool(ok), "detail": str(detail)}


def pixels(layer, fmt="R'G'B'A u8"):
    w, h = layer.get_width(), layer.get_height()
    return bytes(layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt,
                                        Gegl.AbyssPolicy.CLAMP))


MENU = "<Image>/Filters/Neural Darkroom"


def main():
    pdb = Gimp.get_pdb()
    names = pdb.query_procedures("neural-darkroom.*", "", "", "", "", "", "", "")
    report["procedures"] = sorted(names)
    for p in ("neural-darkroom-style-transfer", "neural-darkroom-relight-render",
              "neural-darkroom-sketch-search", "neural-darkroom-colour-match",
              "neural-darkroom-sketch-folders", "neural-darkroom-status"):
        check(f"procedure_{p}", p in names, names)
    for n in names:
        proc = pdb.lookup_procedure(n)
        label, menus = proc.get_menu_label(), list(proc.get_menu_paths())
        check(f"menu_{n}", bool(label) and MENU in menus, (label, menus))
    # the op procedures' arguments come from the ops' descriptions (ops.json, install.py)
    for proc_name, wanted in (("neural-darkroom-colour-match",
                               {"reference-layer", "reference-file", "strength",
                                "preserve-luminance", "mask-layer"}),
                              ("neural-darkroom-style-transfer",
                               {"style-layer", "style-file", "mode", "strength", "quality",
                                "preserve-colors", "return-regions"})):
        proc = pdb.lookup_procedure(proc_name)
        got = {a.get_name() for a in proc.get_arguments()} if proc is not None else set()
        check(f"args_{proc_name}", wanted <= got, sorted(got))
    img = Gimp.Image.new(W, H, Gimp.ImageBaseType.RGB)

    def layer(name, rgba, parent=None):
        lay = Gimp.Layer.new(img, name, W, H, Gimp.ImageType.RGBA_IMAGE, 100.0,
                             Gimp.LayerMode.NORMAL)
        img.insert_layer(lay, parent, 0)
        buf = lay.get_buffer()
        buf.set(Gegl.Rectangle.new(0, 0, W, H), "R'G'B'A u8", bytes(rgba) * (W * H))
        buf.flush()
        return lay

    group = Gimp.GroupLayer.new(img, "stack")
    img.insert_layer(group, None, 0)
    for i, (u, v) in enumerate([(0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9)]):
        layer(f"light {u} {v}", (200 - 40 * i, 60, 40 * i, 255), group)
    content = layer("content", (200, 120, 30, 255))
    style = layer("style", (20, 80, 200, 255))

    def run(name, drawable, mode=Gimp.RunMode.NONINTERACTIVE, image=None, **props):
        proc = pdb.lookup_procedure(name)
        assert MENU in proc.get_menu_paths(), f"{name} is not in the menu"
        cfg = proc.create_config()
        cfg.set_property("run-mode", mode)
        if drawable is not None:
            cfg.set_property("image", image or img)
            cfg.set_core_object_array("drawables", [drawable])
        for k, v in props.items():
            cfg.set_property(k, v)
        res = proc.run(cfg)
        status = res.index(0)
        return status == Gimp.PDBStatusType.SUCCESS, pdb.get_last_error()

    def op_or_echo(op):
        if op not in CFG.get("ops", []):
            report["log"].append(f"{op} is not in the daemon")

    if CFG.get("mode") == "stopped":  # no daemon, and it cannot be started here
        ok, err = run("neural-darkroom-style-transfer", content, **{"style-layer": style})
        check("stopped_daemon_message", not ok and "backend" in (err or "")
              and "darkroom serve" in (err or ""), err)
        check("stopped_daemon_no_layer", len(img.get_layers()) == 3, len(img.get_layers()))
        return
    op_or_echo("relight.render")
    n0 = len(img.get_layers())
    ok, err = run("neural-darkroom-relight-render", group, lights="0.5,0.5", quality="draft")
    check("relight_ok", ok, err)
    if ok:
        top = img.get_layers()
        new = [lay for lay in top if lay.get_name().startswith("Relit")]
        check("relight_name", [lay.get_name() for lay in new] == ["Relit: light at (0.50, 0.50)"],
              [lay.get_name() for lay in top])
        if new:
            lay = new[0]
            check("relight_size", (lay.get_width(), lay.get_height()) == (W, H),
                  (lay.get_width(), lay.get_height()))
            px = pixels(lay)
            report["relight_first_pixel_rgba"] = list(px[:4])
            check("relight_pixels", px[3] == 255 and any(px[i] for i in range(0, len(px), 4)),
                  px[:8].hex())
            # position 0 is the top: the result sits right above the group
            check("relight_above_group", img.get_item_position(lay) + 1 ==
                  img.get_item_position(group))
    # standard quality: long enough for the op to stream previews into the image
    ok, err = run("neural-darkroom-style-transfer", content,
                  **{"style-layer": style, "quality": "standard"})
    check("style_ok", ok, err)
    if ok:
        new = [lay for lay in img.get_layers() if lay.get_name().startswith("Style:")]
        check("style_name", [lay.get_name() for lay in new] == ["Style: style (photo)"],
              [lay.get_name() for lay in img.get_layers()])
        if new:
            check("style_size", (new[0].get_width(), new[0].get_height()) == (W, H))
            got = pixels(new[0])[:4]
            report["style_first_pixel_rgba"] = list(got)
            src_, sty_ = (200, 120, 30), (20, 80, 200)

            def d(a, b):
                return sum((x - y) ** 2 for x, y in zip(a, b))
            check("style_moves_toward_style", d(got[:3], sty_) < d(src_, sty_), list(got))
        check("style_source_untouched", pixels(content)[:4] == bytes((200, 120, 30, 255)))
        check("no_preview_left", not [lay for lay in img.get_layers()
                                      if lay.get_name() == "Neural Darkroom preview"])
    # again: the new result goes on top of the first one, so the canvas shows it
    ok, err = run("neural-darkroom-style-transfer", content, **{"style-layer": style, "quality": "draft"})
    check("style_again_ok", ok, err)
    if ok:
        names_ = [lay.get_name() for lay in img.get_layers()]
        # GIMP numbers a repeated name ("… #1")
        styled = [i for i, n in enumerate(names_) if n.startswith("Style: style (photo)")]
        # position 0 is the top: the newest result sits above the first one
        check("style_again_on_top", len(styled) == 2 and styled[0] < styled[1]
              and names_.index("content") == styled[1] + 1, names_)
    check("layer_count", len(img.get_layers()) == n0 + 3, len(img.get_layers()))
    # an op added to the backend alone (colour.match): its menu entry, dialog arguments, result
    ok, err = run("neural-darkroom-colour-match", content, **{"reference-layer": style,
                                                              "strength": 1.0})
    check("colour_ok", ok, err)
    if ok:
        new = [lay for lay in img.get_layers() if lay.get_name().startswith("Colour match")]
        check("colour_name", [lay.get_name() for lay in new] == ["Colour match: style"],
              [lay.get_name() for lay in img.get_layers()])
        if new:
            got = pixels(new[0])[:4]
            report["colour_first_pixel_rgba"] = list(got)
            check("colour_takes_the_reference", all(abs(a - b) <= 12 for a, b in
                                                    zip(got[:3], (20, 80, 200))), list(got))
            names_ = [lay.get_name() for lay in img.get_layers()]
            check("colour_above_content", names_.index("Colour match: style") <
                  names_.index("content"), names_)
        check("colour_source_untouched", pixels(content)[:4] == bytes((200, 120, 30, 255)))
    # the style's paired regions as a see-through layer over the result (return-regions)
    ok, err = run("neural-darkroom-style-transfer", content,
                  **{"style-layer": style, "quality": "draft", "return-regions": True})
    check("style_regions_ok", ok, err)
    if ok:
        regions = [lay for lay in img.get_layers()
                   if lay.get_name().startswith("Style: regions of content")]
        check("style_regions_layer", len(regions) == 1 and
              abs(regions[0].get_opacity() - 60.0) < 1, [lay.get_name() for lay in
                                                         img.get_layers()])
    # as the menu runs it with the values it has (Filters → Repeat / Re-show)
    ok, err = run("neural-darkroom-status", None, mode=Gimp.RunMode.WITH_LAST_VALS)
    check("status_ok", ok, err)
    if CFG.get("stack"):  # Open Light Stack… on shiny-sphere photos with no light file
        before = set(i.get_id() for i in Gimp.get_images())
        ok, err = run("neural-darkroom-open-stack", None,
                      folder=Gio.File.new_for_path(CFG["stack"]))
        check("open_stack_ok", ok, err)
        new = [i for i in Gimp.get_images() if i.get_id() not in before]
        check("open_stack_image", len(new) == 1, len(new))
        if ok and len(new) == 1:
            simg = new[0]
            groups = [lay for lay in simg.get_layers() if lay.is_group_layer()]
            kids = [c.get_name() for c in groups[0].get_children()] if groups else []
            check("open_stack_layers", len(kids) == CFG["stack_n"] and all(
                k.startswith("light ") and len(k.split()) == 4 for k in kids), kids)
            ok, err = run("neural-darkroom-relight-render", groups[0], image=simg,
                          lights="0,0,1", quality="draft")
            check("open_stack_relight_ok", ok, err)
            names = [lay.get_name() for lay in simg.get_layers()]
            check("open_stack_relit", any(n.startswith("Relit: light at (") for n in names),
                  names)
    if CFG.get("photos"):
        ok, err = run("neural-darkroom-sketch-folders", None,
                      folder=Gio.File.new_for_path(CFG["photos"]))
        check("index_ok", ok, err)
        settings = os.path.join(os.environ["HOME"], ".config/neural-darkroom/plugin.json")
        with open(settings) as f:
            check("index_folder_saved", CFG["photos"] in json.load(f)["index_folders"])
        if ok:  # a drawing finds the photos: matches come back as a layer group on top
            drawing = layer("drawing", (255, 255, 255, 255))  # a box drawn in black on white
            box = bytearray(b"\xff" * (W * H * 4))
            for y in range(H):
                for x in range(W):
                    if (x in (8, W - 9) and 6 <= y < H - 6) or (y in (6, H - 7) and 8 <= x < W - 8):
                        box[(y * W + x) * 4:(y * W + x) * 4 + 3] = b"\x00\x00\x00"
            buf = drawing.get_buffer()
            buf.set(Gegl.Rectangle.new(0, 0, W, H), "R'G'B'A u8", bytes(box))
            buf.flush()
            ok, err = run("neural-darkroom-sketch-search", drawing, mode=Gimp.RunMode.WITH_LAST_VALS)
            check("sketch_ok", ok, err)
            groups = [lay for lay in img.get_layers() if lay.get_name() == "Sketch matches"]
            check("sketch_group", len(groups) == 1 and len(groups[0].get_children()) == 3,
                  [lay.get_name() for lay in img.get_layers()])
    layer("not a light", (1, 2, 3, 255), group)
    ok, err = run("neural-darkroom-relight-render", group, lights="0.5,0.5", quality="draft")
    check("bad_stack_message", not ok and "not a light" in (err or ""), err)


try:
    main()
except Exception:
    report["errors"].append(traceback.format_exc())
finally:
    for image in Gimp.get_images():
        image.delete()
    with open(os.environ["DRIVER_OUT"], "w") as f:
        json.dump(report, f, indent=1)
