"""Work-arounds for what the editors' own Pythons ship, applied before the client is imported.

Debian 12's system Python (the one its Krita embeds) has ``cryptography`` 38, whose AEAD
``encrypt`` refuses the memoryviews the wire codec passes (``associated_data must be bytes``);
hiding an old ``cryptography`` makes the codec use its documented fallback buffer digest
(BLAKE3/SHA-256 under the header's HMAC), which the daemon accepts.
"""

from __future__ import annotations

import sys


def hide_old_cryptography(minimum: int = 42) -> bool:
    """Hide ``cryptography`` older than ``minimum`` from later imports; True if hidden."""
    if "darkroom.wire" in sys.modules:
        return False  # too late to matter; leave things as they are
    try:
        import cryptography
    except ImportError:
        return False
    try:
        major = int(str(cryptography.__version__).split(".")[0])
    except ValueError:
        return False
    if major >= minimum:
        return False
    for name in [m for m in sys.modules if m == "cryptography" or m.startswith("cryptography.")]:
        del sys.modules[name]
    sys.modules["cryptography"] = None  # type: ignore[assignment]  # import now raises
    return True
