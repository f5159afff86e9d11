"""Light coordinates and the two interpolation baselines: nearest light and barycentric.

Both baselines answer a new light with a weighted sum of captured images, which is what
image-based relighting did before learned light transport (Ren et al. 2015, related work):
when a shadow or highlight moves between two captured lights, the weighted sum shows two faded
copies ("ghosts") instead of one moved one. The benchmark measures how much the network gains
over them.
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
