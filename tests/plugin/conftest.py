"""The plugins' editor-independent package lives in plugin/common (vendored at install time):
put it on the path the way the installed plugins do."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for p in (REPO / "plugin/common", REPO / "plugin/krita", Path(__file__).parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


import json  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def described() -> list[dict]:
    """Every registered op's description, as ``daemon.ops`` and ``darkroom ops --json`` give
    it (what install.py writes beside the plugins)."""
    from darkroom.ops import registry

    return json.loads(json.dumps([s.describe() for s in registry.load_all().values()]))


@pytest.fixture
def descs(described):  # type: ignore[no-untyped-def]
    """The descriptions as an adapter loads them (their result prefixes noted)."""
    from darkroom_plugin import flows, opdesc

    parsed = opdesc.parse(described)
    flows.note_descriptions(parsed)
    return parsed
