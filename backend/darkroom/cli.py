"""The ``darkroom`` command: daemon control (serve, stop, status, ping, doctor) and the op
commands (style, relight, sketch), which each op family adds from its own ``cli`` module.

Every failure prints one sentence on stderr and exits non-zero; tracebacks only with
``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from darkroom import __version__
from darkroom.errors import Cancelled, DarkroomError

#: Families whose ``darkroom.ops.<family>.cli`` module defines ``add_commands(subparsers)``.
#: Each command sets ``func`` (``args -> exit code``) on its parser.
OP_FAMILIES = ("style", "relight", "sketch")


DAEMON_COMMANDS = ("serve", "stop", "status", "ping", "doctor", "keys")


def build_parser(with_ops: bool = True) -> argparse.ArgumentParser:
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
    for fam in OP_FAMILIES if with_ops else ():
        name = f"darkroom.ops.{fam}.cli"
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and name.startswith(e.name):
                continue  # family not installed/built
            logging.getLogger(__name__).warning("'%s' commands unavailable: %s", fam, e)
            continue
        except Exception as e:  # one broken family must not take the daemon commands down
            logging.getLogger(__name__).warning("'%s' commands unavailable: %s", fam, e)
            continue
        mod.add_commands(sub)
    for name, command in sub.choices.items():
        if name not in DAEMON_COMMANDS:
            for leaf in _leaves(command):
                if any("--preview" in a.option_strings for a in leaf._actions):
                    continue  # the family has its own
                leaf.add_argument("--preview", metavar="FILE", default=None,
                                  help="write the op's latest preview image to FILE (PNG, "
                                  "replaced as the op runs; for scripts)")
    return parser


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run something: ``parser`` itself, or its sub-commands' leaves."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for a in subs for p in dict.fromkeys(a.choices.values()) for leaf in _leaves(p)]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Daemon commands must start fast (the plugins run 'darkroom ping'): skip importing the
    # op families, which pull in torch.
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(with_ops=first not in DAEMON_COMMANDS)
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
