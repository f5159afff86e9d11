"""Fixtures for the real-editor tests."""

from __future__ import annotations

import pytest
from editors_daemon import start_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    """A daemon on the default (ipc) endpoint in a fresh DARKROOM_HOME: (home, op names)."""
    yield from start_daemon(tmp_path_factory.mktemp("darkroom-home"))
