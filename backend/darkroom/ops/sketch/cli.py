"""``darkroom sketch index DIR… [--index PATH]`` and
``darkroom sketch search SKETCH… -k K [--json] [--index PATH]``.

Both run the registered ops through :func:`darkroom.runner.run_op` (in this process by
default, through the daemon with ``--remote``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from darkroom import opcli
from darkroom.images import read_image
from darkroom.ops import registry
from darkroom.ops.registry import Image
from darkroom.runner import run_op


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=opcli.DEVICES)
    p.add_argument("--remote", action="store_true", help="run through the running daemon")


def add_commands(sub: argparse._SubParsersAction) -> None:
    sk = sub.add_parser("sketch", help="find photos by drawing a sketch")
    ssub = sk.add_subparsers(dest="sketch_command", metavar="SUBCOMMAND")
    sk.set_defaults(func=lambda args: (sk.print_help(), 2)[1])

    pi = ssub.add_parser("index", help="index photo folders (incremental)")
    pi.add_argument("folders", nargs="+", metavar="DIR")
    opcli.add_params(pi, registry.get("sketch.index"), skip={"folders"})  # --index
    _common(pi)
    pi.set_defaults(func=_index)

    ps = ssub.add_parser("search", help="rank indexed photos by similarity to sketches")
    ps.add_argument("sketches", nargs="+", metavar="SKETCH")
    # -k and --index from the op's description; the CLI prints paths, so no images (or size)
    opcli.add_params(ps, registry.get("sketch.search"), skip={"return_images", "size"},
                     aliases={"k": ["-k"]})
    ps.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _common(ps)
    ps.set_defaults(func=_search)


def _index(args: argparse.Namespace) -> int:
    folders = [str(Path(f).expanduser().resolve()) for f in args.folders]
    params = opcli.collect_params(args, registry.get("sketch.index"))
    res = run_op("sketch.index", [], {**params, "folders": folders},
                 remote=args.remote, device=args.device, label="indexing")
    m = res.meta
    print(f"{m.get('index', '')}: {m['added']} added, {m['updated']} updated, "
          f"{m['removed']} removed, {m['unchanged']} unchanged, {m['skipped']} skipped")
    for s in m["skipped_files"]:
        print(f"  skipped {s['path']}: {s['reason']}", file=sys.stderr)
    return 0


def _search(args: argparse.Namespace) -> int:
    # One request for all sketches: the model is loaded once and the sketches share backbone
    # batches and one ranking product.
    images = [Image(read_image(s), role="sketch", name=s) for s in args.sketches]
    params = opcli.collect_params(args, registry.get("sketch.search"))
    res = run_op("sketch.search", images, {**params, "return_images": False},
                 remote=args.remote, device=args.device,
                 label=Path(args.sketches[0]).name if len(images) == 1
                 else f"{len(images)} sketches")
    per = res.meta.get("results") or [{"matches": res.meta["matches"]}]
    out = [{"sketch": s, "matches": r["matches"]} for s, r in zip(args.sketches, per, strict=True)]
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for o in out:
            print(o["sketch"])
            for i, m in enumerate(o["matches"], 1):
                print(f"  {i:2d}. {m['score']:.3f}  {m['path']}")
    return 0
