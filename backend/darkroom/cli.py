"""The ``darkroom`` command: daemon control (serve, stop, status, ping, doctor, keys), the op
commands and ``darkroom ops`` (every op's description).

The op families are the registry's (:func:`darkroom.ops.registry.family_modules`), not a list
kept here. A family with a ``darkroom.ops.<family>.cli`` module adds its commands from it
(``style``, ``relight``, ``sketch``); any other gets ``darkroom <family> <verb>`` commands
generated from its ops' descriptions (:mod:`darkroom.opcli`).

Every failure prints one sentence on stderr and exits non-zero; tracebacks only with
``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from darkroom import __version__
from darkroom.errors import Cancelled, DarkroomError

log = logging.getLogger(__name__)

#: Commands that control the daemon: they must start fast (the plugins run 'darkroom ping'),
#: so the op families (which pull in torch) are not imported for them.
DAEMON_COMMANDS = ("serve", "stop", "status", "ping", "doctor", "keys")
#: Commands that describe the ops but run none: no ``--preview``; they load the registry
#: themselves, so the op commands are not built for them either.
INFO_COMMANDS = ("ops",)


def build_parser(with_ops: bool = True) -> argparse.ArgumentParser:
    """The ``darkroom`` parser; ``with_ops``: with the op families' commands (which imports
    them, and torch)."""
    parser = argparse.ArgumentParser(
        prog="darkroom",
        description="Neural Darkroom: photo style transfer, relighting and sketch search, "
        "as a daemon for GIMP and Krita or on image files.",
    )
    parser.add_argument("--version", action="version", version=f"darkroom {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from darkroom import daemon_cli

    daemon_cli.add_commands(sub)
    p = sub.add_parser("ops", help="list every op with its parameters",
                       description="List every op: its images and parameters (kind, default, "
                       "range or choices, help).")
    p.add_argument("--json", action="store_true",
                   help='print {"version", "ops": [each op\'s description]} as JSON (what '
                   "install.py writes beside the plugins)")
    p.set_defaults(func=_ops)
    if with_ops:
        add_op_families(sub)
    for name, command in sub.choices.items():
        if name not in DAEMON_COMMANDS and name not in INFO_COMMANDS:
            for leaf in _leaves(command):
                if any("--preview" in a.option_strings for a in leaf._actions):
                    continue  # the family has its own
                leaf.add_argument("--preview", metavar="FILE", default=None,
                                  help="write the op's latest preview image to FILE (PNG, "
                                  "replaced as the op runs; for scripts)")
    return parser


def family_names() -> list[str]:
    """The op families, from the registry: ``darkroom.ops.style.op`` → ``style``,
    ``darkroom.ops.debug`` → ``debug``."""
    from darkroom.ops import registry

    out = []
    for module in registry.family_modules():
        name = module.removeprefix("darkroom.ops.")
        out.append(name.removesuffix(".op"))
    return out


def add_op_families(sub: argparse._SubParsersAction) -> None:
    """Add each op family's commands: from its ``cli`` module's ``add_commands(sub)`` where it
    has one, else generated (:func:`add_generated_family`). Each command sets ``func``
    (``args -> exit code``). A family that fails (to import, or to build its commands) is left
    out with a warning: one broken family must not take the CLI down."""
    from darkroom.ops import registry

    ops = registry.load_all()  # logs, and skips, a family that fails to import
    for fam in family_names():
        if fam in sub.choices:
            log.warning("op family '%s' is named like a darkroom command; left out", fam)
            continue
        before = set(sub.choices)
        try:
            cli = f"darkroom.ops.{fam}.cli"
            if _module_exists(cli):
                importlib.import_module(cli).add_commands(sub)
            else:
                add_generated_family(sub, fam, [s for n, s in sorted(ops.items())
                                                if n.startswith(fam + ".")])
        except Exception as e:
            _drop_commands(sub, set(sub.choices) - before)
            log.warning("'%s' commands unavailable: %s", fam, e)


def _module_exists(name: str) -> bool:
    """Whether ``name`` can be imported (False where its parent is a plain module, like
    ``darkroom.ops.debug.cli``)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _drop_commands(sub: argparse._SubParsersAction, names: set[str]) -> None:
    """Take half-built commands of a failed family out of ``sub`` (and its help)."""
    for name in names:
        sub.choices.pop(name, None)
    sub._choices_actions[:] = [a for a in sub._choices_actions if a.dest not in names]


def generated_ok(spec: Any) -> bool:
    """Whether ``spec`` gets a generated command: it declares its images and all are files
    (source active or layer), or it takes no images at all. Ops that take images without
    declaring them (``debug.echo``: "any images") are left out, since a command line cannot
    tell which file is which role; a light stack needs its family's own CLI (a folder)."""
    from darkroom import opcli

    if spec.images:
        return all(i.source in opcli.FILE_SOURCES for i in spec.images)
    return spec.max_images == 0


def add_generated_family(sub: argparse._SubParsersAction, fam: str, specs: list[Any]) -> None:
    """``darkroom FAM VERB …`` for each of ``specs`` that :func:`generated_ok` takes (none: no
    ``FAM`` command). An op whose command cannot be generated is left out with a warning."""
    from darkroom import opcli

    usable = [s for s in specs if generated_ok(s)]
    if not usable:
        return
    verbs = [s.name.split(".", 1)[-1] for s in usable]
    fp = sub.add_parser(fam, help=f"{fam} ops: {', '.join(verbs)}",
                        description=f"The {fam} ops ({', '.join(verbs)}), their options "
                        f"generated from their descriptions: 'darkroom {fam} VERB --help'.")
    fsub = fp.add_subparsers(dest=f"{fam}_command", metavar="COMMAND")
    fp.set_defaults(func=lambda args: (fp.print_help(), 2)[1])
    for spec in usable:
        before = set(fsub.choices)
        try:
            opcli.add_op_command(fsub, spec)
        except Exception as e:
            _drop_commands(fsub, set(fsub.choices) - before)
            log.warning("'%s' command unavailable: %s", spec.name, e)


def _ops(args: argparse.Namespace) -> int:
    """``darkroom ops [--json]``: every op's description (only JSON on stdout with --json)."""
    from darkroom.ops import registry

    # Anything an op family prints while it loads must not spoil the JSON.
    with contextlib.redirect_stdout(sys.stderr):
        specs = [spec for _, spec in sorted(registry.load_all().items())]
    if args.json:
        print(json.dumps({"version": __version__, "ops": [s.describe() for s in specs]},
                         indent=1))
        return 0
    from darkroom import opcli

    print("\n".join(opcli.describe_lines(specs)).rstrip())
    return 0


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run something: ``parser`` itself, or its sub-commands' leaves."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for a in subs for p in dict.fromkeys(a.choices.values()) for leaf in _leaves(p)]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Daemon commands must start fast (the plugins run 'darkroom ping'): skip importing the
    # op families, which pull in torch. 'darkroom ops' loads the registry itself, needing no
    # op commands.
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(with_ops=first not in DAEMON_COMMANDS + INFO_COMMANDS)
    args = parser.parse_args(_allow_negative_values(argv))
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from darkroom import runner

    runner.PREVIEW_FILE = getattr(args, "preview", None)
    try:
        return int(args.func(args) or 0)
    except Cancelled as e:
        print(f"darkroom: {e}", file=sys.stderr)
        return 130
    except DarkroomError as e:
        if args.debug:
            raise
        print(f"darkroom: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("darkroom: interrupted.", file=sys.stderr)
        return 130


def _allow_negative_values(argv: list[str]) -> list[str]:
    """Let ``--light -0.2,0.1,0.97`` work: argparse takes a value starting with '-' for an
    option, so glue such values to their option (``--light=-0.2,0.1,0.97``) first."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if (
            a.startswith("--")
            and "=" not in a
            and i + 1 < len(argv)
            and len(argv[i + 1]) > 1
            and argv[i + 1][0] == "-"
            and (argv[i + 1][1].isdigit() or argv[i + 1][1] == ".")
        ):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


if __name__ == "__main__":
    sys.exit(main())
