"""A light layout estimated from the photos alone, for stacks with no sphere and no positions.

Under distant lights a Lambertian scene's pixel values are ``I[p, j] = ρ_p n_p · l_j``: the
(pixels × photos) matrix has rank 3 and its right factor is the lights up to an unknown 3×3
matrix (uncalibrated photometric stereo, Hayakawa 1994). Shadows, highlights and near lights
add small extra components but leave the three largest in place. So the top three right
singular vectors, scaled by their singular values, give each photo a 3-vector ``e_j ≈ A l_j``;
dividing by the first component (the one along the average lighting) gives a 2-D projective
chart ``(e₁/e₀, e₂/e₀)`` in which nearby points are photos lit alike — a smooth, one-to-one
map of the real light positions, though rotated, mirrored, sheared and bent by the unknown
``A``. Measured (bench/relight.py, tests): on the DiLiGenT ball an affine map takes the chart
to the calibrated (x, y) with RMS residual ≈ 0.02 (of the ±0.7 range); the 5 nearest
neighbours of each photo agree with the true ones 97 % of the time.

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
    e = vt[:3].T * s[:3]
    if e[:, 0].sum() < 0:
        e = -e
    e0 = np.where(np.abs(e[:, 0]) < 1e-9, 1e-9, e[:, 0])
    chart = e[:, 1:3] / e0[:, None]
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
