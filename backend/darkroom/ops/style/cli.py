"""``darkroom style CONTENT STYLE -o OUT``: the style-transfer op on image files.

The images and the op's parameters come from its description (:mod:`darkroom.opcli`); only
``--save-regions`` (which sets ``return_regions`` and says where the maps go), ``-o``,
``--device`` and ``--remote`` are declared here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from darkroom import images as im
from darkroom import opcli
from darkroom.ops import registry

OP = "style.transfer"


def add_commands(sub: argparse._SubParsersAction) -> None:
    spec = registry.get(OP)
    p = sub.add_parser("style", help="photo style transfer (photo, paint or mrf)",
                       description="Transfer the look of STYLE onto CONTENT; writes OUT in "
                       "the content's bit depth, with its alpha.")
    opcli.add_images(p, spec)
    p.add_argument("-o", "--output", required=True, help="output image file")
    opcli.add_params(p, spec, skip={"return_regions"})
    p.add_argument("--save-regions", metavar="FILE", default="",
                   help="write the content's region map to FILE and the style's next to it "
                   "(FILE-style.EXT); paired regions share a colour, grey takes the whole "
                   "style; both can be edited and given back as label maps")
    p.add_argument("--device", choices=opcli.DEVICES, default="auto")
    p.add_argument("--remote", action="store_true", help="run in the daemon")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from darkroom.runner import run_op

    spec = registry.get(OP)
    images = opcli.read_images(args, spec)
    params = opcli.collect_params(args, spec)
    params["return_regions"] = bool(args.save_regions)
    result = run_op(OP, images, params, remote=args.remote, device=args.device,
                    label=f"style ({args.mode})")
    opcli.print_warnings(result)
    im.write_image(args.output, result.images[0].pixels)
    if args.save_regions:
        for img, path in zip(result.images[1:3], region_paths(args.save_regions)):
            im.write_image(path, img.pixels)
            print(f"{img.name} → {path}")
    return 0


def region_paths(path: str) -> tuple[Path, Path]:
    """``--save-regions FILE`` → (FILE, FILE-style.EXT): the content's and the style's map."""
    p = Path(path)
    return p, p.with_name(f"{p.stem}-style{p.suffix or '.png'}")
