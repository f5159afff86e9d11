"""``python -m darkroom`` is the ``darkroom`` command (the plugins start the daemon this way)."""

import sys

from darkroom.cli import main

sys.exit(main())
