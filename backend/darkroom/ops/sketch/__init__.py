"""Sketch-to-photo lookup (Sangkloy et al. 2016; Yu et al. 2016): a triplet embedding of
sketches and photo edge maps, an SQLite index of the user's photo folders, and search.

Read in order: :mod:`.strokes` (drawings, edge maps, pseudo-sketches) → :mod:`.model`
(branches, triplet loss) → :mod:`.embed` (weights, devices) → :mod:`.index` (SQLite store) →
:mod:`.op` (the registered ops). :mod:`.hog` is the classic baseline of the benchmark.
"""
