"""Error replies carry a sentence, never a traceback or the exception's text (the log keeps those)."""

from __future__ import annotations

import pytest

from darkroom.errors import Internal


def _crash(images, params, progress, cancelled):  # type: ignore[no-untyped-def]
    raise ValueError("secret detail /home/someone/private.txt")


def test_a_crashing_op_answers_a_sentence_without_traceback(make_daemon, test_op) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    test_op("test.crash", _crash)
    with d.client() as c:
        with pytest.raises(Internal) as e:
            c.run("test.crash", [], {}, timeout=30)
        text = str(e.value)
        assert "internal error in 'test.crash'" in text and "daemon's log" in text
        assert "Traceback" not in text and "secret" not in text and "/home" not in text
        assert c.ping()  # and it keeps serving
