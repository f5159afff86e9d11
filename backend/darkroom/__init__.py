"""Neural Darkroom: a local PyTorch daemon behind GIMP 3 and Krita 5 plugins."""

__version__ = "0.1.0"
