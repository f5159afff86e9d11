"""Colour ops: ``colour.match`` (:mod:`.op`), a global colour match of a layer to a reference
— the minimal-displacement affine colour map of Pitié & Kokaram 2007 that the photo style
methods start from, on its own, instant on a CPU."""
