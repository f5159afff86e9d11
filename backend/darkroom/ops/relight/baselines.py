"""Light coordinates and the two interpolation baselines: nearest light and barycentric.

Both baselines answer a new light with a weighted sum of captured images, which is what
image-based relighting did before learned light transport (Ren et al. 2015, related work):
when a shadow or highlight moves between two captured lights, the weighted sum shows two faded
copies ("ghosts") instead of one moved one. The benchmark measures how much the network gains
over them.

The standard RTI fits are baselines too (:class:`BasisFit`): every pixel a smooth function of
the light direction, fitted by least squares over the captured lights — PTM's biquadratic
(Malzbender et al. 2001) and hemispherical harmonics of order 2 and 3 (Gautron et al. 2004),
what RTIBuilder/RTIViewer users relight with. Smooth in the light, they blur moving
shadows and highlights instead of doubling them.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import Delaunay


def plane_coords(coords: np.ndarray) -> np.ndarray:
    """(N, 2) positions pass through; (N, 3) unit directions → their (x, y) projection.

    Directions of a capture lie on the hemisphere facing the camera (z > 0), where (x, y)
    determines the direction, so the projection is a faithful 2-D chart to triangulate in.
    """
    coords = np.asarray(coords, np.float64)
    return coords[:, :2].copy()


class Interpolator:
    """Weights over the N captured lights for any target light (2-D plane coordinates)."""

    def __init__(self, lights_2d: np.ndarray) -> None:
        self.points = np.asarray(lights_2d, np.float64)
        # Qhull needs ≥ 3 non-collinear points; a degenerate stack falls back to nearest.
        try:
            self.tri: Delaunay | None = Delaunay(self.points)
        except Exception:
            self.tri = None

    def inside(self, target: np.ndarray) -> bool:
        """Is the target within the convex hull of the captured lights?"""
        if self.tri is None:
            return False
        return bool(self.tri.find_simplex(np.asarray(target, np.float64)[None])[0] >= 0)

    def nearest(self, target: np.ndarray) -> int:
        return int(np.argmin(np.linalg.norm(self.points - np.asarray(target), axis=1)))

    def barycentric(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indices (3,), weights (3,) summing to 1) of the Delaunay triangle holding the
        target; outside the hull, the nearest light with weight 1."""
        t = np.asarray(target, np.float64)
        if self.tri is not None:
            s = int(self.tri.find_simplex(t[None])[0])
            if s >= 0:
                trans = self.tri.transform[s]
                b = trans[:2] @ (t - trans[2])
                w = np.array([b[0], b[1], 1 - b.sum()])
                return self.tri.simplices[s].copy(), np.clip(w, 0, 1) / np.clip(w, 0, 1).sum()
        return np.array([self.nearest(t)]), np.ones(1)


def nearest_light(stack: np.ndarray, interp: Interpolator, target: np.ndarray) -> np.ndarray:
    """Baseline 1: the captured image (N, H, W, 3)[i] whose light is closest to the target."""
    return stack[interp.nearest(target)]


def barycentric_light(stack: np.ndarray, interp: Interpolator, target: np.ndarray) -> np.ndarray:
    """Baseline 2: barycentric blend of the three captured images around the target."""
    idx, w = interp.barycentric(target)
    return np.tensordot(w.astype(np.float32), stack[idx], axes=1)


# --- The standard RTI fits (what RTI viewers show): per-pixel functions of the light ---------


def hemisphere_dirs(coords: np.ndarray, box: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> np.ndarray:
    """Light coordinates → unit directions for the RTI fits: (N, 3) directions pass through
    (normalised); (N, 2) plane positions are centred on ``box`` ((low, high) corners, default
    their own bounding box), scaled to a disc of radius ≤ 0.6·√2 ≈ 0.85 (about 58° at the
    corners, v pointing down the image) and lifted to the hemisphere. Fits and targets of one
    stack must use the same ``box``."""
    c = np.asarray(coords, np.float64)
    if c.shape[1] == 3:
        return c / np.linalg.norm(c, axis=1, keepdims=True)
    lo, hi = box if box is not None else (c.min(0), c.max(0))
    half = np.maximum((np.asarray(hi) - np.asarray(lo)) / 2, 1e-9)
    xy = (c - (np.asarray(hi) + np.asarray(lo)) / 2) / half * 0.6 * np.array([1.0, -1.0])
    z = np.sqrt(np.clip(1 - (xy**2).sum(1), 0, 1))
    return np.concatenate([xy, z[:, None]], 1)


def ptm_basis(dirs: np.ndarray) -> np.ndarray:
    """Polynomial texture maps (Malzbender et al. 2001): the biquadratic
    (lu², lv², lu·lv, lu, lv, 1) in the light's projected direction (lu, lv). (K, 3) → (K, 6)."""
    lu, lv = dirs[:, 0], dirs[:, 1]
    return np.stack([lu * lu, lv * lv, lu * lv, lu, lv, np.ones_like(lu)], 1)


def hsh_basis(dirs: np.ndarray, order: int) -> np.ndarray:
    """Hemispherical harmonics (Gautron et al. 2004), as RTI uses them: all H_l^m with
    l < ``order`` (order 2: 4 functions, order 3: 9), H_l^m(θ, φ) = K_l^m ·
    P_l^|m|(2 cos θ − 1) · {√2 cos mφ, 1, √2 sin |m|φ} for m > 0, = 0, < 0. (K, 3) → (K, order²).
    """
    from math import factorial, pi

    from scipy.special import lpmv

    z = np.clip(dirs[:, 2], 0, 1)
    phi = np.arctan2(dirs[:, 1], dirs[:, 0])
    x = 2 * z - 1
    cols = []
    for ell in range(order):
        for m in range(-ell, ell + 1):
            am = abs(m)
            k = np.sqrt((2 * ell + 1) / (2 * pi) * factorial(ell - am) / factorial(ell + am))
            p = lpmv(am, ell, x)
            ang = (np.ones_like(phi) if m == 0 else
                   np.sqrt(2) * (np.cos(m * phi) if m > 0 else np.sin(am * phi)))
            cols.append(k * p * ang)
    return np.stack(cols, 1)


class BasisFit:
    """A per-pixel least-squares fit of every pixel's value over the captured lights in a
    small basis of the light direction (PTM, HSH): ``I_p(l) ≈ Σ_k c_pk b_k(l)``, solved for all
    pixels at once (one K×K system). ``stack`` (N, H, W, 3), ``coords`` (N, 2) or (N, 3)."""

    BASES = {"ptm": ptm_basis, "hsh2": lambda d: hsh_basis(d, 2),
             "hsh3": lambda d: hsh_basis(d, 3)}

    def __init__(self, stack: np.ndarray, coords: np.ndarray, kind: str,
                 ridge: float = 1e-6) -> None:
        self.kind = kind
        self.basis = self.BASES[kind]
        c = np.asarray(coords, np.float64)
        self.box = (c.min(0), c.max(0)) if c.shape[1] == 2 else None
        b = self.basis(hemisphere_dirs(c, self.box))
        gram = b.T @ b
        gram += ridge * np.trace(gram) / len(gram) * np.eye(len(gram))
        y = np.asarray(stack, np.float32).reshape(len(stack), -1)
        self.coef = np.linalg.solve(gram, b.T @ y.astype(np.float64)).astype(np.float32)
        self.shape = stack.shape[1:]

    def __call__(self, target: np.ndarray) -> np.ndarray:
        """One target light (2,) or (3,) in the stack's coordinates → (H, W, 3)."""
        b = self.basis(hemisphere_dirs(np.asarray(target, np.float64)[None], self.box))
        return (b.astype(np.float32) @ self.coef).reshape(self.shape)
