"""``darkroom relight``: relight a light-stack folder from the command line.

A STACK folder is either

* image files plus ``lights.json``: a list ``[{"file": "001.png", "position": [u, v]} …]``
  (or ``"direction": [x, y, z]``; optional ``"intensity"``: a number or ``[r, g, b]``), or an
  object ``{"encoding": "linear" | "srgb", "lights": [ … the same list … ]}``;
* or image files named ``light_U_V.png`` / ``light_X_Y_Z.png`` (other files are ignored).

Files are **linear** camera values (like DiLiGenT's 16-bit PNGs) unless ``lights.json`` says
``"encoding": "srgb"``. The output file has the stack's bit depth and encoding: a linear stack
gives linear values (a 16-bit PNG of linear light, clipped at 1), an sRGB stack an sRGB file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from darkroom import images as imgs
from darkroom import lightnames
from darkroom.errors import InvalidInput, NotFound
from darkroom.ops.registry import Image


def read_stack(folder: str | Path) -> list[Image]:
    """The stack folder as layers named ``light …`` (role ``stack``). Raises NotFound /
    InvalidInput with a sentence naming the folder or file."""
    d = Path(folder)
    if not d.is_dir():
        raise NotFound(f"There is no light-stack folder at '{d}'.")
    spec = d / "lights.json"
    if spec.is_file():
        return _from_json(d, spec)
    files = [p for p in imgs.list_images(d) if p.stem.lower().startswith("light")]
    if not files:
        raise InvalidInput(f"'{d}' has no lights.json and no images named like light_U_V.png.")
    out = []
    for p in files:
        lt = lightnames.parse_name(p.stem)
        out.append(Image(imgs.read_image(p), "stack", lightnames.format_name(lt, 10),
                         colorspace="linear"))
    return out


def _from_json(d: Path, spec: Path) -> list[Image]:
    try:
        data = json.loads(spec.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidInput(f"'{spec}' is not readable JSON ({e}).") from None
    encoding = "linear"
    if isinstance(data, dict):
        encoding = data.get("encoding", "linear")
        data = data.get("lights")
    if encoding not in ("linear", "srgb") or not isinstance(data, list):
        raise InvalidInput(f"'{spec}' must be a list of lights, or an object with 'lights' "
                           "and 'encoding' (linear or srgb).")
    out = []
    for i, row in enumerate(data):
        if not isinstance(row, dict) or "file" not in row:
            raise InvalidInput(f"Entry {i + 1} of '{spec}' needs a 'file'.")
        coords = row.get("position", row.get("direction"))
        if not isinstance(coords, list):
            raise InvalidInput(f"Entry {i + 1} ('{row['file']}') of '{spec}' needs a "
                               "'position' or a 'direction' list.")
        inten = row.get("intensity", 1.0)
        inten = inten if isinstance(inten, list) else [inten]
        name = f"light {' '.join(map(str, coords))}"
        if inten != [1.0] and inten != [1]:
            name += " @" + ",".join(map(str, inten))
        # parse now, so the error names the file rather than a made-up layer name
        try:
            lightnames.parse_name(name)
        except InvalidInput:
            raise InvalidInput(f"Entry for '{row['file']}' in '{spec}' has a bad light "
                               f"({coords}, intensity {inten}).") from None
        out.append(Image(imgs.read_image(d / str(row["file"])), "stack", name,
                         colorspace=encoding))
    return out


def _handler(args: argparse.Namespace) -> int:
    from darkroom.runner import run_op

    layers = read_stack(args.stack)
    if args.train:
        res = run_op("relight.train", layers, {"quality": args.quality}, remote=args.remote,
                     device=args.device, label="relight: training")
        tr = res.meta.get("training", {})
        state = "already cached" if res.meta.get("cached") else "trained"
        print(f"{state}: model {res.meta.get('cache_key')} "
              f"({tr.get('train_seconds', 0):.0f} s of training)")
        return 0
    if not args.light or not args.output:
        raise InvalidInput("Give at least one --light and an -o output file, or --train.")
    targets = [lightnames.parse_target(s) for s in args.light]
    res = run_op("relight.render", layers, {"lights": targets, "quality": args.quality},
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
        "STACK holds images plus lights.json, or images named light_U_V.png.",
    )
    p.add_argument("stack", help="the light-stack folder")
    p.add_argument("--light", action="append", metavar="U,V[,Z][:R,G,B][@I]",
                   help="a target light (repeat for several): position or direction, "
                   "optional colour and intensity, e.g. 0.3,0.6:1,0.8,0.6@2")
    p.add_argument("-o", "--output", help="the output image file")
    p.add_argument("--train", action="store_true", help="train and cache only; no image")
    p.add_argument("--quality", default="standard", choices=("draft", "standard", "best"),
                   help="training budget, once per stack (then cached): on a 2-core CPU, 64 "
                   "images at 256² train in about ¾ (draft), 2 (standard, the default) or 3 "
                   "(best) minutes")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--remote", action="store_true", help="run in the daemon")
    p.set_defaults(func=_handler)
