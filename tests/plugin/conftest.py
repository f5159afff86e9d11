"""The plugins' editor-independent package lives in plugin/common (vendored at install time):
put it on the path the way the installed plugins do."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for p in (REPO / "plugin/common", REPO / "plugin/krita", Path(__file__).parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
