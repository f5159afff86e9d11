"""The plugin settings file: defaults when missing or damaged, round trip, unknown keys kept."""

from __future__ import annotations

import json

from darkroom_plugin import settings as st


def test_defaults_when_missing_or_damaged(tmp_path):
    assert st.load(tmp_path / "none.json") == st.Settings()
    bad = tmp_path / "plugin.json"
    bad.write_text("{not json")
    assert st.load(bad) == st.Settings()
    bad.write_text(json.dumps({"index_folders": "not a list", "last_values": {"x.y": {}}}))
    s = st.load(bad)
    assert s.index_folders == [] and s.extra == {"last_values": {"x.y": {}}}


def test_round_trip_keeps_unknown_keys(tmp_path):
    p = tmp_path / "cfg" / "plugin.json"
    s = st.Settings(index_folders=["/photos/2024"],
                    extra={"future": 1, "last_values": {"colour.match": {"strength": 0.7}}})
    st.save(s, p)
    back = st.load(p)
    assert back == s and json.loads(p.read_text())["future"] == 1


def test_default_path_follows_darkroom_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DARKROOM_HOME", str(tmp_path))
    assert st.settings_path() == tmp_path.resolve() / "config" / "plugin.json"
