"""A light layout estimated from the photos alone, for stacks with no sphere and no positions.

Under distant lights a Lambertian scene's pixel values are ``I[p, j] = ρ_p n_p · l_j``: the
(pixels × photos) matrix has rank 3 and its right factor is the lights up to an unknown 3×3
matrix (uncalibrated photometric stereo, Hayakawa 1994). Shadows, highlights and near lights
add further components. So each photo gets the vector of its :data:`COMPONENTS` largest right
singular components ``e_j`` (scaled by the singular values), divided by the first (the one
along the average lighting) — a projective chart in which photos lit alike are close. For
distant lights its first two coordinates are already a smooth map of the lights; near point
lights (a bright pool that moves across a floor) bend it, so the 2-D layout is the chart's
Isomap (Tenenbaum et al. 2000): geodesic distances along the photos' :data:`NEIGHBOURS`-nearest
neighbour graph, unrolled by classical MDS. Measured (``bench/relight.py``, 8×8 light grids;
RMS residual of the best affine map to the truth, over the lights' range / share of each
photo's 5 nearest neighbours kept): the projective chart alone gave near point lights
0.099 / 0.72 and 0.144 / 0.66 (and relit 2.0 and 4.7 dB below the true lights), the Isomap
0.088 / 0.79 and 0.128 / 0.76 (1.6 and 1.3 dB below); distant lights 0.05–0.06 / 0.84–0.88,
the DiLiGenT ball 0.016 / 0.98 → 0.035 / 0.92 (relit 0.8 dB below the true lights).

The layout is rotated, mirrored and bent relative to the real lights, and knows nothing of
their spread: the light pad shows it, relighting works in it, an ``.lp`` file can hold it.

The chart is returned as pseudo-directions on the hemisphere (centred, scaled to radius
:data:`RADIUS`, z = √(1 − x² − y²)), so an estimated stack is an ordinary direction stack for
the relighting op, the light pad and an ``.lp`` file. **They are not the real directions**:
outputs say ``estimated``, and calibrated lights (lights.json, .lp, layer names, a sphere)
always win.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Largest radius of the estimated layout on the unit disc (about 64° from the view).
RADIUS = 0.9
#: Components of the factorisation kept for the chart, and the neighbours of the Isomap graph.
COMPONENTS = 7
NEIGHBOURS = 8
#: Photos are compared at this many pixels on their long side: the layout needs shading, not
#: detail, and the SVD stays a few milliseconds.
SIDE = 96


def estimate_layout(stack_lum: np.ndarray) -> np.ndarray:
    """(N, H, W) linear luminance of N photos (N ≥ 4) → (N, 3) unit pseudo-directions.

    The layout is centred on the photos' mean, rotated to its principal axes (larger spread
    along x) and scaled so the farthest photo sits at :data:`RADIUS`; signs are fixed so the
    result does not depend on the SVD's arbitrary signs (first photo in x ≤ 0 … see code).
    """
    st = np.asarray(stack_lum, np.float32)
    if st.ndim != 3 or len(st) < 4:
        raise ValueError("an estimated light layout needs at least 4 photos (N, H, W)")
    h, w = st.shape[1:]
    f = SIDE / max(h, w)
    size = (max(4, round(w * f)), max(4, round(h * f)))
    small = np.stack([cv2.resize(s, size, interpolation=cv2.INTER_AREA) for s in st])
    m = small.reshape(len(st), -1).T.astype(np.float64)  # (pixels, photos)
    m /= max(float(np.abs(m).max()), 1e-12)
    _, s, vt = np.linalg.svd(m, full_matrices=False)
    e = vt[:COMPONENTS].T * s[:COMPONENTS]
    if e[:, 0].sum() < 0:
        e = -e
    e0 = np.where(np.abs(e[:, 0]) < 1e-9, 1e-9, e[:, 0])
    feats = e[:, 1:] / e0[:, None]
    chart = _isomap(feats, min(NEIGHBOURS, len(st) - 1))
    if chart is None:  # a neighbour graph in pieces: the linear chart
        chart = feats[:, :2].copy()
    chart -= chart.mean(0)
    # principal axes, with signs fixed by the third moment (skew) so reruns agree
    _, _, axes = np.linalg.svd(chart, full_matrices=False)
    chart = chart @ axes.T
    for k in range(2):
        if (chart[:, k] ** 3).sum() < 0:
            chart[:, k] = -chart[:, k]
    chart *= RADIUS / max(float(np.linalg.norm(chart, axis=1).max()), 1e-12)
    z = np.sqrt(np.clip(1 - (chart**2).sum(1), 0, 1))
    return np.concatenate([chart, z[:, None]], 1)


def _isomap(feats: np.ndarray, k: int) -> np.ndarray | None:
    """2-D Isomap (Tenenbaum et al. 2000) of (N, D) features: geodesic distances along the
    symmetrised k-nearest-neighbour graph, then classical MDS. None if the graph is in pieces."""
    from scipy.sparse.csgraph import shortest_path

    d = np.linalg.norm(feats[:, None] - feats[None], axis=2)
    g = np.zeros_like(d)
    nn = np.argsort(d, 1)[:, 1:k + 1]
    rows = np.repeat(np.arange(len(d)), nn.shape[1])
    g[rows, nn.ravel()] = d[rows, nn.ravel()]
    g = np.maximum(g, g.T)
    geo = shortest_path(g, directed=False)
    if not np.isfinite(geo).all():
        return None
    n = len(geo)
    j = np.eye(n) - 1.0 / n
    w, v = np.linalg.eigh(-0.5 * j @ (geo**2) @ j)
    return v[:, -2:][:, ::-1] * np.sqrt(np.maximum(w[-2:][::-1], 0))


def map_into_layout(true_train: np.ndarray, layout_train: np.ndarray,
                    true_targets: np.ndarray) -> np.ndarray:
    """Where targets given in true light coordinates fall in an estimated layout: barycentric
    interpolation of the training photos' layout coordinates over the Delaunay triangles of
    their true coordinates (nearest photo outside them). (N, 2), (N, 2), (K, 2) → (K, 2).

    This is what a user does on the light pad of an estimated layout — "between these three
    photos' lights" — and what the benchmark uses to ask an estimated stack for a held-out
    light.
    """
    from darkroom.ops.relight.baselines import Interpolator

    interp = Interpolator(np.asarray(true_train, np.float64))
    out = []
    for t in np.asarray(true_targets, np.float64):
        idx, wts = interp.barycentric(t)
        out.append(wts @ np.asarray(layout_train, np.float64)[idx])
    return np.array(out)


def neighbour_agreement(a: np.ndarray, b: np.ndarray, k: int = 5) -> float:
    """Mean fraction of each point's ``k`` nearest neighbours in ``a`` that are also among
    its ``k`` nearest in ``b`` ((N, D) each): 1 = same neighbourhoods."""
    da = np.linalg.norm(a[:, None] - a[None], axis=2)
    db = np.linalg.norm(b[:, None] - b[None], axis=2)
    na = np.argsort(da, 1)[:, 1:k + 1]
    nb = np.argsort(db, 1)[:, 1:k + 1]
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb)]))
