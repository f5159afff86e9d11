"""Op families. Each is pure (tensors in, tensors out, progress and cancel callbacks) and
registers a daemon/CLI adapter in its ``op`` module; see :mod:`darkroom.ops.registry`."""
