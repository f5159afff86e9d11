"""Image files and pixel encodings, shared by the CLI, the ops' adapters and the benchmarks.

Arrays are H×W×C numpy arrays, RGB(A) order, dtype uint8 / uint16 / float32. Files are read
with OpenCV (``IMREAD_UNCHANGED``) because Pillow silently drops 16-bit RGB PNGs to 8 bits.

Conventions:

* :func:`to_float` maps any stored dtype to float32 in [0, 1] (floats are passed through);
  :func:`from_float` maps back to a given dtype, rounding and clipping.
* sRGB ↔ linear follow IEC 61966-2-1 (the piecewise curve, not a 2.2 power).
* :func:`split_alpha` / :func:`join_alpha` separate colour from alpha so that ops work on
  colour and results keep the source's alpha.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from darkroom.errors import InvalidInput, NotFound

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".exr")


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as H×W×C (C = 1, 2, 3 or 4), RGB order, keeping 8/16-bit/float depth.

    Raises :class:`NotFound` for a missing file and :class:`InvalidInput` for one that is not
    a readable image (both with a sentence naming the file).
    """
    import cv2

    p = Path(path)
    if not p.is_file():
        raise NotFound(f"No image file at '{p}'.")
    data = np.fromfile(str(p), dtype=np.uint8)  # works with non-ASCII paths on Windows too
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if arr is None:
        raise InvalidInput(f"'{p.name}' is not an image this program can read (or it is corrupt).")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] == 3:
        arr = arr[:, :, ::-1]
    elif arr.shape[2] == 4:
        arr = arr[:, :, [2, 1, 0, 3]]
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    elif arr.dtype not in (np.uint8, np.uint16, np.float32):
        raise InvalidInput(f"'{p.name}' has pixel type {arr.dtype}, which is not supported.")
    return np.ascontiguousarray(arr)


def write_image(path: str | os.PathLike[str], pixels: np.ndarray) -> None:
    """Write H×W×C pixels (RGB order). PNG/TIFF keep 16 bits; float goes to 16-bit for PNG
    and stays float for TIFF/EXR. Writes to a temporary name and renames, so an interrupted
    write never leaves half a file under the final name."""
    import cv2

    p = Path(path)
    arr = pixels
    if arr.ndim == 2:
        arr = arr[:, :, None]
    suffix = p.suffix.lower()
    if arr.dtype == np.float32 and suffix not in (".tif", ".tiff", ".exr"):
        arr = from_float(arr, np.uint16 if suffix == ".png" else np.uint8)
    if arr.dtype == np.uint16 and suffix in (".jpg", ".jpeg", ".webp", ".bmp"):
        arr = from_float(to_float(arr), np.uint8)
    c = arr.shape[2]
    if c == 3:
        arr = arr[:, :, ::-1]
    elif c == 4:
        arr = arr[:, :, [2, 1, 0, 3]]
    elif c == 2:  # gray + alpha: no common format has it; store as RGBA
        g, a = arr[:, :, :1], arr[:, :, 1:]
        arr = np.concatenate([g, g, g, a], axis=2)
    ok, buf = cv2.imencode(suffix or ".png", np.ascontiguousarray(arr))
    if not ok:
        raise InvalidInput(f"Could not encode '{p.name}' as {suffix or 'png'}.")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    buf.tofile(str(tmp))
    os.replace(tmp, p)


def to_float(pixels: np.ndarray) -> np.ndarray:
    """Any stored dtype → float32 in [0, 1] (float input is returned as float32, unclipped)."""
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / 65535.0
    return pixels.astype(np.float32, copy=False)


def from_float(values: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """float in [0, 1] → ``dtype`` (uint8/uint16 rounded and clipped; float32 clipped at 0)."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if dtype == np.uint16:
        return (np.clip(values, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    return np.maximum(values, 0.0).astype(np.float32)


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] → linear light (IEC 61966-2-1)."""
    v = np.asarray(v, dtype=np.float32)
    return np.where(v <= 0.04045, v / 12.92, ((np.maximum(v, 0.0) + 0.055) / 1.055) ** 2.4).astype(
        np.float32
    )


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    """Linear light (≥ 0; values above 1 are kept, for HDR sums) → sRGB encoding."""
    v = np.maximum(np.asarray(v, dtype=np.float32), 0.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055).astype(np.float32)


def split_alpha(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """H×W×C → (colour H×W×{1,3}, alpha H×W×1 or None). C = 2 or 4 carry alpha last."""
    c = pixels.shape[2]
    if c in (2, 4):
        return pixels[:, :, : c - 1], pixels[:, :, c - 1 :]
    return pixels, None


def join_alpha(colour: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Inverse of :func:`split_alpha`; ``alpha`` is converted to ``colour``'s dtype."""
    if alpha is None:
        return colour
    if alpha.dtype != colour.dtype:
        alpha = from_float(to_float(alpha), colour.dtype)
    return np.concatenate([colour, alpha], axis=2)


def to_rgb_float(pixels: np.ndarray) -> np.ndarray:
    """Colour as H×W×3 float32 in [0, 1]: gray is repeated, alpha dropped."""
    colour, _ = split_alpha(pixels)
    f = to_float(colour)
    if f.shape[2] == 1:
        f = np.repeat(f, 3, axis=2)
    return f


def restore_format(rgb: np.ndarray, like: np.ndarray) -> np.ndarray:
    """H×W×3 float [0, 1] result → the dtype, channel count and alpha of the source ``like``.

    A gray source gets a gray result (Rec. 709 luma); the source's alpha is kept unchanged
    (``rgb`` must have ``like``'s height and width).
    """
    _, alpha = split_alpha(like)
    colour = rgb
    if like.shape[2] in (1, 2):
        colour = (rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32))[:, :, None]
    return join_alpha(from_float(colour, like.dtype), alpha)


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(
        p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
