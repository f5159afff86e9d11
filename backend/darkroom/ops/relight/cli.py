"""``darkroom relight``: relight a light-stack folder from the command line.

A STACK folder holds the photos and, best, a light file (:mod:`.folder` has the order):

* ``lights.json``: a list ``[{"file": "001.png", "position": [u, v]} …]`` (or
  ``"direction": [x, y, z]``; optional ``"intensity"``: a number or ``[r, g, b]``), or an
  object ``{"encoding": "linear" | "srgb", "lights": [ … the same list … ]}``;
* an RTI ``.lp`` file (count, then ``filename x y z`` per photo);
* DiLiGenT's ``filenames.txt`` + ``light_directions.txt`` (+ ``light_intensities.txt``);
* image files named ``light_U_V.png`` / ``light_X_Y_Z.png`` (other files are ignored);
* or just the photos: directions from a shiny sphere's highlights (found, or ``--sphere``),
  else an estimated layout (said in a warning).

``darkroom relight lights STACK -o lights.json [--lp lights.lp]`` writes what was found.

Files in ``lights.json`` are **linear** camera values (like DiLiGenT's 16-bit PNGs) unless it
says ``"encoding": "srgb"``; without it, 8-bit files are taken as sRGB. The output file has the
stack's bit depth and encoding: a linear stack gives linear values (a 16-bit PNG of linear
light, clipped at 1), an sRGB stack an sRGB file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from darkroom import images as imgs
from darkroom import lightnames, opcli
from darkroom.errors import InvalidInput, InvalidParameter, NotFound
from darkroom.ops import registry
from darkroom.ops.registry import Image
from darkroom.ops.relight import folder as folder_mod
from darkroom.ops.relight import sphere


def read_stack(folder: str | Path, circle: sphere.Circle | None = None,
               found: folder_mod.FolderLights | None = None) -> list[Image]:
    """The stack folder as layers named ``light …`` (role ``stack``), from the best light
    source the folder has (:func:`folder.find_lights`). Raises NotFound / InvalidInput with a
    sentence naming the folder or file."""
    found = found or folder_mod.find_lights(folder, circle)
    out = []
    for lt in found.lights:
        pix = found.pixels.get(lt.file)
        if pix is None:
            if not lt.file.is_file():
                raise NotFound(f"'{lt.file.name}' is listed for the stack '{found.folder}' but "
                               "is not there.")
            pix = imgs.read_image(lt.file)
        out.append(Image(pix, "stack", lt.name(), colorspace=found.encoding))
    return out


def parse_circle(spec: str) -> sphere.Circle:
    """``CX,CY,R`` (pixels) → a circle; InvalidParameter with a sentence otherwise."""
    nums = spec.replace(",", " ").split()
    try:
        cx, cy, r = (float(v) for v in nums)
    except ValueError:
        raise InvalidParameter(f"--sphere '{spec}': give the circle as CX,CY,R in pixels.",
                               field="sphere") from None
    if not r > 0:
        raise InvalidParameter(f"--sphere '{spec}': the radius must be positive.",
                               field="sphere")
    return sphere.Circle(cx, cy, r)


def _lights_command(args: argparse.Namespace) -> int:
    """``darkroom relight lights STACK [-o lights.json] [--lp FILE] [--sphere CX,CY,R]``."""
    circle = parse_circle(args.sphere) if args.sphere else None
    found = folder_mod.find_lights(args.extra, circle)
    for w in found.warnings:
        print(f"warning: {w}", file=sys.stderr)
    data = found.to_json()
    if found.circle is not None:
        c = found.circle
        print(f"sphere at ({c.cx:.1f}, {c.cy:.1f}), radius {c.r:.1f} px", file=sys.stderr)
    print(f"{len(found.lights)} lights from {found.source}"
          f"{' (estimated layout, not measured directions)' if found.estimated else ''}",
          file=sys.stderr)
    if args.lp:
        folder_mod.write_lp(found, args.lp)
        print(f"wrote {args.lp}", file=sys.stderr)
    if args.output:
        Path(args.output).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    elif not args.lp:
        print(json.dumps(data, indent=1))
    return 0


def _handler(args: argparse.Namespace) -> int:
    from darkroom.runner import run_op

    if args.stack == "lights" and args.extra:
        return _lights_command(args)
    if args.extra:
        raise InvalidInput(f"Unexpected '{args.extra}': give one STACK folder "
                           "(or 'darkroom relight lights STACK').")
    circle = parse_circle(args.sphere) if args.sphere else None
    found = folder_mod.find_lights(args.stack, circle)
    for w in found.warnings:
        print(f"warning: {w}", file=sys.stderr)
    layers = read_stack(args.stack, found=found)
    if args.train:
        res = run_op("relight.train", layers,
                     opcli.collect_params(args, registry.get("relight.train")),
                     remote=args.remote, device=args.device, label="relight: training")
        tr = res.meta.get("training", {})
        state = "already cached" if res.meta.get("cached") else "trained"
        print(f"{state}: model {res.meta.get('cache_key')} "
              f"({tr.get('train_seconds', 0):.0f} s of training)")
        return 0
    if not args.light or not args.output:
        raise InvalidInput("Give at least one --light and an -o output file, or --train.")
    targets = [lightnames.parse_target(s) for s in args.light]
    params = opcli.collect_params(args, registry.get("relight.render"))
    res = run_op("relight.render", layers, {**params, "lights": targets},
                 remote=args.remote, device=args.device, label="relight")
    for w in res.meta.get("warnings", []):
        print(f"warning: {w}")
    imgs.write_image(args.output, res.images[0].pixels)
    print(f"wrote {args.output}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "relight",
        help="relight a light stack under new lights (Ren et al. 2015)",
        description="Relight a folder of photos of one scene, each under one light. "
        "STACK holds images plus lights.json or an RTI .lp file, or images named "
        "light_U_V.png, or just photos with a shiny sphere in the frame (directions from its "
        "highlights) or without (an estimated light layout).",
    )
    p.add_argument("stack", help="the light-stack folder (or 'lights' then the folder: find "
                   "the stack's lights and write them with -o lights.json / --lp FILE)")
    p.add_argument("extra", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--sphere", metavar="CX,CY,R", help="the shiny sphere's circle in pixels "
                   "(default: found automatically when the folder has no light file)")
    p.add_argument("--lp", metavar="FILE", help="with 'lights': also write an RTI .lp file")
    p.add_argument("--light", action="append", metavar="U,V[,Z][:R,G,B][@I]",
                   help="a target light (repeat for several): position or direction, "
                   "optional colour and intensity, e.g. 0.3,0.6:1,0.8,0.6@2")
    p.add_argument("-o", "--output", help="the output image file")
    p.add_argument("--train", action="store_true", help="train and cache only; no image")
    # The op's scalar parameters (quality), from its description; lights come from --light.
    opcli.add_params(p, registry.get("relight.render"), skip={"lights"})
    p.add_argument("--device", default="auto", choices=opcli.DEVICES)
    p.add_argument("--remote", action="store_true", help="run in the daemon")
    p.set_defaults(func=_handler)
