"""Command-line options generated from an op's one description (:class:`OpSpec`).

An op registered in :mod:`darkroom.ops.registry` says its parameters (kind, default, range,
choices, help) and the images it takes; this module turns that into argparse options, so no
parameter is declared twice:

* :func:`add_params` — one ``--name-with-dashes`` option per parameter;
* :func:`add_images` — the op's images as files (required ones positional, optional ones
  ``--role FILE``);
* :func:`add_op_command` — a whole ``darkroom FAMILY VERB IMAGES… -o OUT [options]`` command
  for an op whose family has no hand-written CLI, run by :func:`run_generic`.

The families' own CLIs (``darkroom.ops.<family>.cli``) use the first two and keep only the
options that are not op parameters (``--save-regions``, ``--light``, folders…).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from darkroom.errors import InvalidInput
from darkroom.ops.registry import Image, ImageInput, OpSpec, Param, Result

#: Image sources a CLI takes as files (a light ``stack`` is a folder: its family's own CLI).
FILE_SOURCES = ("active", "layer")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: ``args`` attributes the generated commands (and ``darkroom`` itself) use for other things:
#: a parameter or image role of these names would be overwritten.
RESERVED = frozenset({"output", "device", "remote", "preview", "func", "command", "debug"})

_METAVAR_BY_PATH = {"file": "FILE", "new_file": "FILE", "dir": "DIR"}


def option_name(name: str) -> str:
    """``preserve_colors`` → ``--preserve-colors``."""
    return "--" + name.replace("_", "-")


def _num(v: Any) -> str:
    """A bound for help text: ``0.0`` → ``0``, ``4096`` → ``4096``, ``0.25`` → ``0.25``."""
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def param_help(p: Param) -> str:
    """The param's help plus its range and default: ``"… (0–1, default 1.0)"``. Escaped for
    argparse (which %-formats help strings)."""
    notes = []
    if p.minimum is not None and p.maximum is not None:
        notes.append(f"{_num(p.minimum)}–{_num(p.maximum)}")
    elif p.minimum is not None:
        notes.append(f"at least {_num(p.minimum)}")
    elif p.maximum is not None:
        notes.append(f"at most {_num(p.maximum)}")
    if p.required:
        notes.append("required")
    elif p.kind == "bool":
        notes.append(f"default {'on' if p.default else 'off'}")
    elif p.kind in ("list", "dict"):
        notes.append(f"default {json.dumps(p.default)}")
    elif p.default not in (None, ""):
        notes.append(f"default {p.default}")
    text = p.help
    if notes:
        text = f"{text} ({', '.join(notes)})" if text else f"({', '.join(notes)})"
    return text.replace("%", "%%")


def _number_type(p: Param) -> Callable[[str], int | float]:
    """argparse ``type`` for an int/float param: converts, then checks the range (an error
    there reads ``argument --strength: must be at most 1, got 2``)."""
    conv: Callable[[str], int | float] = int if p.kind == "int" else float

    def parse(text: str) -> int | float:
        value = conv(text)  # ValueError → argparse's "invalid int value: 'x'"
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if p.minimum is not None and value < p.minimum:
            raise argparse.ArgumentTypeError(f"must be at least {_num(p.minimum)}, got {text}")
        if p.maximum is not None and value > p.maximum:
            raise argparse.ArgumentTypeError(f"must be at most {_num(p.maximum)}, got {text}")
        return value

    parse.__name__ = p.kind  # named in argparse's "invalid float value" message
    return parse


def _json_type(p: Param) -> Callable[[str], Any]:
    """argparse ``type`` for a list/dict param given as JSON text."""
    want = list if p.kind == "list" else dict

    def parse(text: str) -> Any:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise argparse.ArgumentTypeError(f"is not JSON ({e.msg}): {text!r}") from None
        if not isinstance(value, want):
            raise argparse.ArgumentTypeError(
                f"must be a JSON {'list' if want is list else 'object'}, got {text!r}")
        return value

    parse.__name__ = "JSON"
    return parse


def add_params(
    parser: argparse.ArgumentParser,
    spec: OpSpec,
    skip: Collection[str] = (),
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> list[argparse.Action]:
    """One option per parameter of ``spec`` (but those in ``skip``), ``dest`` the param's name
    and its default the spec's: int/float typed and range-checked, str with its choices, bool
    as ``--x/--no-x``, list/dict as JSON text. ``aliases`` adds option strings
    (``{"k": ["-k"]}``). Returns the actions added."""
    aliases = aliases or {}
    added = []
    for p in spec.params:
        if p.name in skip:
            continue
        flags = [*aliases.get(p.name, ()), option_name(p.name)]
        kw: dict[str, Any] = {"dest": p.name}
        if p.required:
            kw["required"] = True
        else:
            kw["default"] = list(p.default) if isinstance(p.default, (list, tuple)) else p.default
        if p.kind == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif p.kind in ("int", "float"):
            kw["type"] = _number_type(p)
        elif p.kind in ("list", "dict"):
            kw.update(type=_json_type(p), metavar="JSON")
        elif p.kind == "str" and p.path is not None:
            kw["metavar"] = _METAVAR_BY_PATH.get(p.path, "PATH")
        if p.choices is not None:
            kw["choices"] = list(p.choices)
        action = parser.add_argument(*flags, **kw)
        # Set after: BooleanOptionalAction appends its own "(default: …)" to a given help.
        action.help = param_help(p)
        added.append(action)
    return added


def file_inputs(spec: OpSpec) -> tuple[ImageInput, ...]:
    """The op's images, all of which must come from files (source active or layer); raises
    ValueError naming the op for a light stack, which has no generic file form."""
    for i in spec.images:
        if i.source not in FILE_SOURCES:
            raise ValueError(f"op {spec.name}: image '{i.role}' comes from a {i.source}, which "
                             "the generated CLI cannot take (give the family its own cli module)")
    return spec.images


def add_images(parser: argparse.ArgumentParser, spec: OpSpec) -> tuple[ImageInput, ...]:
    """The op's images as files: required ones positional (in order, ``CONTENT``), optional
    ones ``--content-labels FILE``; ``dest`` the role. Raises ValueError for a ``stack``."""
    inputs = file_inputs(spec)
    for i in inputs:
        text = (i.help or i.describe()["label"]).replace("%", "%%")
        if i.optional:
            parser.add_argument(option_name(i.role), dest=i.role, metavar="FILE", default=None,
                                action="append" if i.many else "store",
                                help=f"{text} (optional image file{'s' if i.many else ''})")
        else:
            parser.add_argument(i.role, metavar=i.role.upper(), help=text,
                                nargs="+" if i.many else None)
    return inputs


def read_images(args: argparse.Namespace, spec: OpSpec) -> list[Image]:
    """The image files named on the command line (see :func:`add_images`), read with their
    role and named by their file's stem."""
    from darkroom.images import read_image

    out = []
    for i in spec.images:
        given = getattr(args, i.role, None)
        for f in given if isinstance(given, list) else [given] if given else []:
            out.append(Image(read_image(f), role=i.role, name=Path(f).stem))
    return out


def collect_params(args: argparse.Namespace, spec: OpSpec) -> dict[str, Any]:
    """The op's parameters found on ``args`` (skipped options are absent; None is left out, so
    the op's default applies)."""
    return {p.name: getattr(args, p.name) for p in spec.params
            if getattr(args, p.name, None) is not None}


def _first_sentence(text: str) -> str:
    head = text.split(". ", 1)[0].rstrip(".")
    return head[:1].lower() + head[1:] if head else ""


def add_op_command(
    where: argparse._SubParsersAction | argparse.ArgumentParser, spec: OpSpec
) -> argparse.ArgumentParser:
    """``FAMILY VERB IMAGES… -o OUT [options] [--device D] [--remote]`` for ``spec``: a new
    sub-command ``VERB`` of ``where`` (a sub-parsers action), or ``where`` itself (a parser).
    Its ``func`` runs :func:`run_generic`. Raises ValueError for an op the generated form
    cannot take (a light stack, a parameter named like an option of the command)."""
    inputs = file_inputs(spec)
    clash = sorted(({p.name for p in spec.params} & ({i.role for i in inputs} | RESERVED))
                   | ({i.role for i in inputs} & RESERVED))
    if clash:
        raise ValueError(f"op {spec.name}: {', '.join(clash)} would clash with the generated "
                         "command's options")
    if isinstance(where, argparse.ArgumentParser):
        parser = where
        parser.description = spec.help
    else:
        verb = spec.name.split(".", 1)[-1]
        parser = where.add_parser(verb, help=_first_sentence(spec.help) or spec.name,
                                  description=spec.help)
    add_images(parser, spec)
    parser.add_argument("-o", "--output", required=bool(inputs), metavar="OUT",
                        help="output image file (further images the op returns go beside it, "
                        "named OUT-ROLE)")
    add_params(parser, spec)
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="compute device (auto: cuda > mps > cpu)")
    parser.add_argument("--remote", action="store_true", help="run in the daemon")
    parser.set_defaults(func=functools.partial(run_generic, spec=spec))
    return parser


def output_paths(output: str | Path, result: Result) -> list[Path]:
    """Where each returned image goes: the first to ``output``, each further one beside it as
    ``<stem>-<role><suffix>`` (``-<role>-2`` … where roles repeat)."""
    out = Path(output)
    suffix = out.suffix or ".png"
    paths = [out]
    taken = {out}
    for img in result.images[1:]:
        role = img.role or "image"
        path, n = out.with_name(f"{out.stem}-{role}{suffix}"), 2
        while path in taken:
            path, n = out.with_name(f"{out.stem}-{role}-{n}{suffix}"), n + 1
        taken.add(path)
        paths.append(path)
    return paths


def print_warnings(result: Result) -> None:
    for w in result.meta.get("warnings", []):
        print(f"warning: {w}")


def run_generic(args: argparse.Namespace, spec: OpSpec) -> int:
    """Run ``spec`` on the files and options of a command made by :func:`add_op_command`:
    write the returned images (see :func:`output_paths`), or print the result's metadata as
    JSON when the op returns none."""
    from darkroom.images import write_image
    from darkroom.runner import run_op

    images = read_images(args, spec)
    result = run_op(spec.name, images, collect_params(args, spec), remote=args.remote,
                    device=args.device, label=spec.name)
    print_warnings(result)
    if not result.images:
        meta = {k: v for k, v in result.meta.items() if k != "warnings"}
        if meta:
            print(json.dumps(meta, indent=1, default=str))
        return 0
    if not args.output:
        raise InvalidInput(f"'{spec.name}' returned {len(result.images)} image(s): give an "
                           "-o output file.")
    for img, path in zip(result.images, output_paths(args.output, result), strict=True):
        write_image(path, img.pixels)
        print(f"{img.name or img.role} → {path}")
    return 0


def describe_lines(specs: Iterable[OpSpec]) -> list[str]:
    """``darkroom ops``: each op, its images and its parameters, readably."""
    import textwrap

    lines: list[str] = []
    for spec in specs:
        lines.append(spec.name + (f"  ({spec.title.rstrip('…')})" if spec.title else ""))
        if spec.help:
            lines += textwrap.wrap(spec.help, 96, initial_indent="  ", subsequent_indent="  ")
        if spec.images:
            shown = [f"{i.role} ({i.source}{', optional' if i.optional else ''})"
                     for i in spec.images]
            lines.append("  images: " + ", ".join(shown))
        elif spec.inputs:
            lines.append(f"  images: {spec.inputs}")
        for p in spec.params:
            head = f"    {p.name}: {p.kind}"
            if p.required:
                head += ", required"
            else:
                head += f" = {json.dumps(p.default, ensure_ascii=False)}"
            if p.minimum is not None or p.maximum is not None:
                lo = "" if p.minimum is None else _num(p.minimum)
                hi = "" if p.maximum is None else _num(p.maximum)
                head += f"  [{lo}–{hi}]"
            if p.choices is not None:
                head += "  {" + ", ".join(map(str, p.choices)) + "}"
            lines.append(head)
            if p.help:
                lines += textwrap.wrap(p.help, 92, initial_indent="        ",
                                       subsequent_indent="        ")
        lines.append("")
    return lines
