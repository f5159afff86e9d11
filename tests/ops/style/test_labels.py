"""Colour-coded label maps → paired regions."""

import numpy as np
import pytest

from darkroom.errors import InvalidInput
from darkroom.ops.style import labels


def _map(colours, h=20, w=30):
    out = np.zeros((h, w, 3), np.float32)
    for i, c in enumerate(colours):
        out[:, i * w // len(colours) : (i + 1) * w // len(colours)] = np.array(c) / 255
    return out


def test_pairs_regions_by_colour_regardless_of_order():
    cm, sm, cols = labels.paired_masks(_map([(255, 0, 0), (0, 0, 255)]),
                                       _map([(0, 0, 255), (255, 0, 0), (255, 255, 0)]), "c", "s")
    assert set(cols) == {(0, 0, 255), (255, 0, 0)}  # yellow is style-only: unused
    red = cols.index((255, 0, 0))
    assert cm[red][:, :15].all() and not cm[red][:, 15:].any()
    assert sm[red][:, 10:20].all() and not sm[red][:, :10].any()
    assert np.allclose(cm.sum(0), 1.0)


def test_antialiased_edges_join_the_nearest_region():
    m = _map([(255, 0, 0), (0, 0, 0)])
    m[:, 14:16] = np.array([250, 3, 2]) / 255  # edge noise
    m[0, 0] = np.array([100, 90, 80]) / 255  # a stray pixel
    index, palette = labels.quantise(m)
    assert sorted(palette) == [(0, 0, 0), (255, 0, 0)]


def test_unpaired_content_colour_is_named():
    with pytest.raises(InvalidInput, match=r"green \(0,255,0\).*'mine\.png'"):
        labels.paired_masks(_map([(255, 0, 0), (0, 255, 0)]), _map([(255, 0, 0)]),
                            "c", "mine.png")
