"""Backbone networks and their weights (see :mod:`darkroom.models.backbones`)."""

from darkroom.models.backbones import BACKBONES, available, load_backbone

__all__ = ["BACKBONES", "available", "load_backbone"]
