"""CLI commands that control the daemon: serve, stop, status, ping, doctor."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:  # filled in with the daemon
    pass
