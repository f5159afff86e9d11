"""Editor-independent logic shared by the GIMP 3 and Krita 5 plugins.

Plain Python (stdlib only; numpy is used when the editor's Python has it). The editor adapters
(``plugin/gimp/neural_darkroom/neural_darkroom.py``, ``plugin/krita/neural_darkroom/*_adapter.py``)
are the only modules that import an editor; they turn layers into :class:`pixels.Pixels` and
back, and call into the modules here:

* :mod:`pixels` — Krita's B,G,R,A integer order, sample-type conversions, alpha;
* :mod:`requests` — op requests built from layers, light stacks, result-layer names;
* :mod:`jobs` — running a job through the daemon with progress and cancel, readable errors;
* :mod:`settings` — the plugin settings file (sketch index folders, output choices).

``install.py`` vendors this package, with the torch-free ``darkroom`` client modules and pyzmq,
into each installed plugin's ``vendor`` folder.
"""

from __future__ import annotations

PLUGIN_NAME = "neural_darkroom"
MENU_TITLE = "Neural Darkroom"
