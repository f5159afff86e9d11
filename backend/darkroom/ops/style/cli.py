"""``darkroom style CONTENT STYLE -o OUT``: the style-transfer op on image files."""

from __future__ import annotations

import argparse
from pathlib import Path

from darkroom import images as im
from darkroom.models import BACKBONES
from darkroom.ops.registry import Image


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("style", help="photo style transfer (photo, paint or mrf)",
                       description="Transfer the look of STYLE onto CONTENT; writes OUT in "
                       "the content's bit depth, with its alpha.")
    p.add_argument("content", help="the photo to restyle")
    p.add_argument("style", help="the photo (or painting) whose look to take")
    p.add_argument("-o", "--output", required=True, help="output image file")
    p.add_argument("--mode", choices=("photo", "paint", "mrf"), default="photo")
    p.add_argument("--method", choices=("fast", "dpst"), default="fast",
                   help="photo mode: fast (default, full resolution) or dpst (pixel optimisation)")
    p.add_argument("--regions", choices=("auto", "none"), default="auto",
                   help="without label maps: auto (default; pair regions found in both "
                   "pictures) or none (the whole style everywhere)")
    p.add_argument("--save-regions", metavar="FILE", default="",
                   help="write the content's region map to FILE and the style's next to it "
                   "(FILE-style.EXT); paired regions share a colour, grey takes the whole "
                   "style; both can be edited and given back as label maps")
    p.add_argument("--content-labels", metavar="F", help="colour-coded regions of the content")
    p.add_argument("--style-labels", metavar="F", help="colour-coded regions of the style")
    p.add_argument("--mask", metavar="F", help="where to apply (white), content-sized")
    p.add_argument("--strength", type=float, default=1.0, help="0..1 (default 1)")
    p.add_argument("--preserve-colors", action="store_true", help="keep the content's colours")
    p.add_argument("--quality", choices=("draft", "standard", "best"), default="standard")
    p.add_argument("--size", type=int, default=0, help="working size, longest side (0: auto)")
    p.add_argument("--backbone", choices=BACKBONES, default="efficientnet_lite0")
    p.add_argument("--weights", metavar="FILE", default="", help="backbone weights file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--remote", action="store_true", help="run in the daemon")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from darkroom.runner import run_op

    files = [("content", args.content), ("style", args.style),
             ("content_labels", args.content_labels), ("style_labels", args.style_labels),
             ("mask", args.mask)]
    images = [Image(im.read_image(f), role=role, name=Path(f).stem)
              for role, f in files if f]
    params = {"mode": args.mode, "method": args.method, "strength": args.strength,
              "preserve_colors": args.preserve_colors, "quality": args.quality,
              "size": args.size, "backbone": args.backbone, "weights": args.weights,
              "seed": args.seed, "regions": args.regions,
              "return_regions": bool(args.save_regions)}
    result = run_op("style.transfer", images, params, remote=args.remote, device=args.device,
                    label=f"style ({args.mode})")
    for w in result.meta.get("warnings", []):
        print(f"warning: {w}")
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
