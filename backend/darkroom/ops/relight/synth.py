"""Synthetic light stacks: small ray-traced scenes with ground truth under any light.

A textured ground plane (z = 0) seen from straight above by an orthographic camera covering
[-1, 1]², with a few coloured spheres resting on it or floating above it. A point light moves on
the plane z = ``height`` above the scene — light-plane coordinate (u, v) ∈ [0, 1]² maps to
(x, y) = ((2u - 1)·span, (1 - 2v)·span) — or a distant light comes from a unit direction.
Shading: Lambert diffuse + Blinn-Phong specular, inverse-square falloff for point lights, and
hard shadows from a shadow ray per pixel. Values are linear radiance (float32, ≥ 0, highlights
can exceed 1).

These scenes contain exactly what makes interpolation between captured lights fail (Ren et al.
2015, introduction): hard shadows and highlights that *move* with the light.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scene:
    """Spheres as (N, 4) rows (cx, cy, cz, r) in scene units, their linear RGB albedo (N, 3),
    and the ground texture's random seed. ``span``/``height`` place the light plane."""

    spheres: np.ndarray
    colours: np.ndarray
    seed: int
    span: float = 1.6
    height: float = 1.8
    shininess: float = 60.0
    specular: float = 0.5


def make_scene(seed: int, n_spheres: int = 4) -> Scene:
    """A random scene: ``n_spheres`` spheres of radius 0.15–0.35, some floating."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for _ in range(n_spheres):
        r = rng.uniform(0.15, 0.35)
        lift = rng.choice([0.0, 0.0, rng.uniform(0.1, 0.4)])
        rows.append([rng.uniform(-0.7, 0.7), rng.uniform(-0.7, 0.7), r + lift, r])
        cols.append(rng.uniform(0.15, 0.9, 3))
    return Scene(np.array(rows, np.float64), np.array(cols, np.float64), seed)


def _ground_albedo(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Checkerboard × smooth colour noise: texture that the mean image carries."""
    rng = np.random.default_rng(seed + 1000)
    check = ((np.floor(x * 4) + np.floor(y * 4)) % 2)[..., None]
    base = 0.35 + 0.25 * check
    waves = sum(
        np.sin(x * f[0] + y * f[1] + f[2])[..., None] * rng.uniform(-0.08, 0.08, 3)
        for f in rng.uniform(2, 9, (4, 3))
    )
    return np.clip(base * rng.uniform(0.7, 1.0, 3) + waves, 0.02, 1.0)


def _hit_spheres(orig: np.ndarray, dirs: np.ndarray, spheres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest positive hit of rays (P, 3) with the spheres: (t (P,), sphere index (P,), -1 none)."""
    t_best = np.full(orig.shape[0], np.inf)
    idx = np.full(orig.shape[0], -1)
    for i, (cx, cy, cz, r) in enumerate(spheres):
        oc = orig - np.array([cx, cy, cz])
        b = np.einsum("ij,ij->i", oc, dirs)
        c = np.einsum("ij,ij->i", oc, oc) - r * r
        a = np.einsum("ij,ij->i", dirs, dirs)
        disc = b * b - a * c
        ok = disc > 0
        sq = np.sqrt(np.where(ok, disc, 0))
        t = np.where((-b - sq) > 1e-6, (-b - sq) / a, (-b + sq) / a)
        ok &= t > 1e-6
        better = ok & (t < t_best)
        t_best[better] = t[better]
        idx[better] = i
    return t_best, idx


@dataclass
class Geometry:
    """Per-pixel surface: points (P, 3), normals (P, 3), albedo (P, 3), spec mask (P,)."""

    points: np.ndarray
    normals: np.ndarray
    albedo: np.ndarray
    shiny: np.ndarray
    shape: tuple[int, int]


def trace_geometry(scene: Scene, size: int) -> Geometry:
    """Primary rays of a ``size``×``size`` orthographic view (done once per stack)."""
    lin = (np.arange(size) + 0.5) / size * 2 - 1
    x, y = np.meshgrid(lin, -lin)  # image row 0 is the top (+y)
    x, y = x.ravel(), y.ravel()
    orig = np.stack([x, y, np.full_like(x, 10.0)], 1)
    dirs = np.tile([0.0, 0.0, -1.0], (x.size, 1))
    t, idx = _hit_spheres(orig, dirs, scene.spheres)
    on_sphere = idx >= 0
    pts = orig + dirs * np.where(on_sphere, t, 10.0)[:, None]  # ground at z = 0
    normals = np.tile([0.0, 0.0, 1.0], (x.size, 1))
    centres = scene.spheres[np.maximum(idx, 0), :3]
    normals[on_sphere] = (pts[on_sphere] - centres[on_sphere]) / scene.spheres[idx[on_sphere], 3:4]
    albedo = _ground_albedo(x, y, scene.seed)
    albedo[on_sphere] = scene.colours[idx[on_sphere]]
    return Geometry(pts, normals, albedo, on_sphere.astype(np.float64), (size, size))


def light_point(scene: Scene, uv: tuple[float, float]) -> np.ndarray:
    """Light-plane coordinates (u, v) → the point light's position in the scene."""
    return np.array([(2 * uv[0] - 1) * scene.span, (1 - 2 * uv[1]) * scene.span, scene.height])


def shade(scene: Scene, geo: Geometry, light: tuple[float, ...]) -> np.ndarray:
    """The scene under one unit light: (u, v) position or (x, y, z) direction → H×W×3 linear."""
    if len(light) == 2:
        lp = light_point(scene, (light[0], light[1]))
        to_l = lp - geo.points
        dist = np.linalg.norm(to_l, axis=1, keepdims=True)
        ldir = to_l / dist
        falloff = (scene.height**2 / dist**2)[:, 0] * 1.2
        t_max = dist[:, 0]
    else:
        d = np.asarray(light, np.float64)
        ldir = np.tile(d / np.linalg.norm(d), (geo.points.shape[0], 1))
        falloff = np.ones(geo.points.shape[0])
        t_max = np.full(geo.points.shape[0], np.inf)
    ndotl = np.einsum("ij,ij->i", geo.normals, ldir)
    lit = ndotl > 0
    t, _ = _hit_spheres(geo.points + geo.normals * 1e-4, ldir, scene.spheres)
    lit &= t >= t_max
    half = ldir + np.array([0.0, 0.0, 1.0])
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    spec = np.maximum(np.einsum("ij,ij->i", geo.normals, half), 0) ** scene.shininess
    spec *= scene.specular * (0.3 + 0.7 * geo.shiny)
    rgb = geo.albedo * np.maximum(ndotl, 0)[:, None] + spec[:, None]
    rgb *= (falloff * lit)[:, None]
    return rgb.reshape(*geo.shape, 3).astype(np.float32)


def grid_lights(n: int = 8, margin: float = 0.0) -> list[tuple[float, float]]:
    """An n×n grid of light positions over [margin, 1 - margin]²."""
    g = np.linspace(margin, 1 - margin, n)
    return [(float(u), float(v)) for v in g for u in g]


def render_stack(scene: Scene, size: int, lights: list[tuple[float, ...]]) -> np.ndarray:
    """(N, size, size, 3) float32 linear images of ``scene`` under each light."""
    geo = trace_geometry(scene, size)
    return np.stack([shade(scene, geo, lt) for lt in lights])


def sphere_photo(size: tuple[int, int], circle: tuple[float, float, float],
                 light: tuple[float, float, float], shininess: float = 300.0,
                 specular: float = 2.0, albedo: float = 0.25, background: float = 0.05,
                 seed: int = 0) -> np.ndarray:
    """A glossy sphere (circle (cx, cy, r) in pixels, orthographic view along −z) on a
    textured matte floor, lit by a distant unit light: (H, W) float32 linear luminance.

    Lambert + Blinn-Phong; the specular peak is exactly where the normal halves the view and
    the light, so the mirror reflection recovers ``light``. The floor is lit too (with a
    texture, so blobs other than the sphere exist). Supersampled 2×2 so the outline and the
    highlight are antialiased. No shadows: the highlight tests need none.
    """
    h, w = size
    cx, cy, r = circle
    d = np.asarray(light, np.float64)
    d = d / np.linalg.norm(d)
    ss = 2
    ys, xs = np.mgrid[0:h * ss, 0:w * ss].astype(np.float64)
    xs, ys = (xs + 0.5) / ss, (ys + 0.5) / ss
    nx, ny = (xs - cx) / r, -(ys - cy) / r
    rr = nx * nx + ny * ny
    on = rr < 1
    nz = np.sqrt(np.clip(1 - rr, 0, 1))
    ndotl = np.clip(nx * d[0] + ny * d[1] + nz * d[2], 0, None)
    half = d + np.array([0.0, 0.0, 1.0])
    half /= np.linalg.norm(half)
    spec = np.clip(nx * half[0] + ny * half[1] + nz * half[2], 0, None) ** shininess
    rng = np.random.default_rng(seed)
    tex = background * (1 + 0.5 * np.sin(xs * rng.uniform(0.05, 0.2)) *
                        np.cos(ys * rng.uniform(0.05, 0.2)))
    img = np.where(on, albedo * ndotl + specular * spec, tex * max(d[2], 0.0))
    return img.reshape(h, ss, w, ss).mean((1, 3)).astype(np.float32)
