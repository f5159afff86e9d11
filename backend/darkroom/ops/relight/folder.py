"""A light-stack folder on disk → its photos with their lights, from the best source there is.

Sources, most trusted first (calibrated data always wins over what is found in the photos):

1. ``lights.json`` — ``[{"file", "position" | "direction", "intensity"?}, …]`` or
   ``{"encoding": "linear" | "srgb", "lights": [...]}`` (a file written by
   ``darkroom relight lights`` also says ``"estimated"`` and where it came from);
2. an RTI ``.lp`` file — a count line, then ``filename x y z`` per photo;
3. DiLiGenT's ``filenames.txt`` + ``light_directions.txt`` (+ ``light_intensities.txt``);
4. photos named ``light_U_V.png`` / ``light_X_Y_Z.png``;
5. nothing: every photo of the folder's common size, lit from the directions of the shiny
   sphere's highlights (:mod:`.sphere`) — photos without a usable highlight are left out and
   named in a warning;
6. no sphere either: an estimated layout (:mod:`.layout`), marked ``estimated``.

Encoding: ``lights.json`` says it (linear by default, as before); elsewhere 8-bit files are
taken as sRGB (camera JPEGs) and 16-bit or float files as linear (raw developments,
DiLiGenT), which the result reports.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from darkroom import images as imgs
from darkroom import lightnames
from darkroom.errors import InvalidInput, NotFound, check_cancel
from darkroom.ops.relight import layout, sphere

#: Photos are searched for the sphere and its highlights at most this many px on their long
#: side (a sphere of r ≈ 70 px there gives the ball's sub-degree directions).
WORK_SIDE = 3072
SOURCES = ("lights.json", "lp", "diligent", "names", "sphere", "estimated")


@dataclass
class FolderLight:
    """One photo: its file, light kind (``position``/``direction``), coordinates and RGB
    capture intensity."""

    file: Path
    kind: str
    coords: tuple[float, ...]
    intensity: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def name(self) -> str:
        """The layer name ``light …`` for this photo."""
        return lightnames.format_name(lightnames.Light(self.kind, self.coords, self.intensity),
                                      10)


@dataclass
class FolderLights:
    """A folder's photos and lights, where they came from, and what the user should know."""

    folder: Path
    lights: list[FolderLight]
    encoding: str
    source: str
    estimated: bool = False
    warnings: list[str] = field(default_factory=list)
    circle: sphere.Circle | None = None
    #: pixels already read while finding the lights, by file (read_stack reuses them)
    pixels: dict[Path, np.ndarray] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The ``lights.json`` that :func:`find_lights` reads back (files relative)."""
        rows = []
        for lt in self.lights:
            row: dict[str, Any] = {"file": lt.file.name,
                                   lt.kind: [round(v, 6) for v in lt.coords]}
            if lt.intensity != (1.0, 1.0, 1.0):
                row["intensity"] = list(lt.intensity)
            rows.append(row)
        out: dict[str, Any] = {"encoding": self.encoding, "source": self.source,
                               "estimated": self.estimated, "lights": rows}
        if self.circle is not None:
            out["sphere"] = self.circle.as_list()
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def _encoding_of(pixels: np.ndarray) -> str:
    return "srgb" if pixels.dtype == np.uint8 else "linear"


def _from_json(d: Path, spec: Path) -> FolderLights:
    try:
        data = json.loads(spec.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidInput(f"'{spec}' is not readable JSON ({e}).") from None
    encoding, estimated, source = "linear", False, "lights.json"
    if isinstance(data, dict):
        encoding = data.get("encoding", "linear")
        estimated = bool(data.get("estimated", False))
        data = data.get("lights")
    if encoding not in ("linear", "srgb") or not isinstance(data, list):
        raise InvalidInput(f"'{spec}' must be a list of lights, or an object with 'lights' "
                           "and 'encoding' (linear or srgb).")
    out = []
    for i, row in enumerate(data):
        if not isinstance(row, dict) or "file" not in row:
            raise InvalidInput(f"Entry {i + 1} of '{spec}' needs a 'file'.")
        coords = row.get("position", row.get("direction"))
        if not isinstance(coords, list):
            raise InvalidInput(f"Entry {i + 1} ('{row['file']}') of '{spec}' needs a "
                               "'position' or a 'direction' list.")
        inten = row.get("intensity", 1.0)
        inten = inten if isinstance(inten, list) else [inten]
        name = f"light {' '.join(map(str, coords))}"
        if inten != [1.0] and inten != [1]:
            name += " @" + ",".join(map(str, inten))
        # parse now, so the error names the file rather than a made-up layer name
        try:
            lt = lightnames.parse_name(name)
        except InvalidInput:
            raise InvalidInput(f"Entry for '{row['file']}' in '{spec}' has a bad light "
                               f"({coords}, intensity {inten}).") from None
        out.append(FolderLight(d / str(row["file"]), lt.kind, lt.coords, lt.intensity))
    return FolderLights(d, out, encoding, source, estimated)


def _from_lp(d: Path, spec: Path) -> FolderLights:
    try:
        rows = lightnames.parse_lp(spec.read_text(encoding="utf-8", errors="replace"),
                                   f"'{spec}'")
    except OSError as e:
        raise InvalidInput(f"'{spec}' cannot be read ({e.strerror}).") from None
    out, gone = [], []
    for name, coords in rows:
        # Only the file name counts: RTIBuilder writes the capture machine's absolute paths,
        # and a request may only reach files inside the folder it named.
        p = d / lightnames.lp_basename(name)
        (out if p.is_file() else gone).append(FolderLight(p, lightnames.DIRECTION, coords))
    if gone:
        shown = ", ".join(f"'{g.file.name}'" for g in gone[:6]) + (" …" if len(gone) > 6 else "")
        raise InvalidInput(f"'{spec}' lists {len(gone)} photo(s) that are not in '{d}': "
                           f"{shown}.")
    enc = _encoding_of(imgs.read_image(out[0].file)) if out else "linear"
    return FolderLights(d, out, enc, "lp")


def _from_diligent(d: Path) -> FolderLights:
    names = (d / "filenames.txt").read_text(encoding="utf-8").split()
    dirs = np.loadtxt(d / "light_directions.txt", ndmin=2)
    if len(dirs) != len(names) or dirs.shape[1] != 3:
        raise InvalidInput(f"'{d / 'light_directions.txt'}' must have one x y z row for each "
                           f"of the {len(names)} files of filenames.txt.")
    inten = (np.loadtxt(d / "light_intensities.txt", ndmin=2)
             if (d / "light_intensities.txt").is_file() else np.ones((len(names), 3)))
    out = []
    for n, v, i in zip(names, dirs, inten):
        lt = lightnames.parse_name("light {} {} {} @{},{},{}".format(*v, *i))
        out.append(FolderLight(d / n, lt.kind, lt.coords, lt.intensity))
    return FolderLights(d, out, "linear", "diligent")


def _from_names(d: Path, files: list[Path]) -> FolderLights:
    out = []
    for p in files:
        lt = lightnames.parse_name(p.stem)
        out.append(FolderLight(p, lt.kind, lt.coords, lt.intensity))
    return FolderLights(d, out, "linear", "names")


def _luminance(pixels: np.ndarray, encoding: str) -> np.ndarray:
    rgb = imgs.to_rgb_float(pixels)
    if encoding == "srgb":
        rgb = imgs.srgb_to_linear(rgb)
    return sphere.luminance(rgb)


def _found_in_photos(d: Path, files: list[Path], circle: sphere.Circle | None,
                     cancelled: Callable[[], bool], keep_pixels: bool) -> FolderLights:
    """Source 5 or 6: read the photos, then the sphere's highlights or an estimated layout."""
    pixels: dict[Path, np.ndarray] = {}
    shapes: dict[Path, tuple[int, int]] = {}
    dtypes: dict[Path, np.dtype] = {}
    lums: dict[Path, np.ndarray] = {}
    scale = 1.0
    for p in files:
        check_cancel(cancelled)
        try:
            a = imgs.read_image(p)
        except InvalidInput:
            continue
        shapes[p], dtypes[p] = a.shape[:2], a.dtype
        # Luminance at a working size of at most WORK_SIDE px (memory: 50 photos of 24 MP
        # would hold ~5 GB of float luminance); coordinates are scaled back below.
        scale = min(1.0, WORK_SIDE / max(a.shape[:2]))
        lum = _luminance(a, _encoding_of(a))
        if scale < 1:
            lum = cv2.resize(lum, (round(a.shape[1] * scale), round(a.shape[0] * scale)),
                             interpolation=cv2.INTER_AREA)
        lums[p] = lum
        if keep_pixels:
            pixels[p] = a
    warnings = []
    sizes = Counter(shapes.values())
    if not sizes:
        raise InvalidInput(f"'{d}' has no photos this program can read.")
    size = sizes.most_common(1)[0][0]
    scale = min(1.0, WORK_SIDE / max(size))
    odd = [p.name for p, a in shapes.items() if a != size]
    if odd:
        warnings.append(f"Left out {len(odd)} image(s) of another size than the photos "
                        f"({size[1]}×{size[0]}): {', '.join(odd[:6])}"
                        f"{' …' if len(odd) > 6 else ''}.")
    photos = [p for p in files if shapes.get(p) == size]
    if len(photos) < 4:
        raise InvalidInput(f"'{d}' has {len(photos)} photo(s) of one size; a light stack "
                           "needs at least 4.")
    encoding = _encoding_of(np.empty(0, Counter(dtypes[p] for p in photos).most_common(1)[0][0]))
    warnings.append(f"No light file: the photos are taken as {encoding} "
                    f"({'8-bit' if encoding == 'srgb' else '16-bit or float'} files).")
    lum = np.stack([lums.pop(p) for p in photos])
    given = circle is not None
    if circle is not None:
        circle = sphere.Circle(circle.cx * scale, circle.cy * scale, circle.r * scale)
    try:
        found = sphere.lights_from_sphere(lum, circle)
    except ValueError as e:
        found, why = None, str(e)
    if found is not None and len(found.missing) <= len(photos) // 2:
        keep = [i for i in range(len(photos)) if i not in found.missing]
        if found.missing:
            names = [f"'{photos[i].name}' ({found.found[i].why})" for i in found.missing]
            warnings.append(f"No usable highlight on the sphere in {len(names)} photo(s), left "
                            f"out of the stack: {', '.join(names[:8])}"
                            f"{' …' if len(names) > 8 else ''}.")
        lights, seen = [], {}
        for i in keep:
            lt = FolderLight(photos[i], lightnames.DIRECTION,
                             tuple(float(v) for v in found.directions[i]))
            key = tuple(round(v, 6) for v in lt.coords)
            if key in seen:  # a stack cannot hold one light twice (lightnames.parse_stack)
                warnings.append(f"'{photos[i].name}' has the same highlight as "
                                f"'{seen[key]}'; left out.")
                continue
            seen[key] = photos[i].name
            lights.append(lt)
        c = found.circle
        return FolderLights(d, lights, encoding, "sphere", False, warnings,
                            sphere.Circle(c.cx / scale, c.cy / scale, c.r / scale), pixels)
    if found is not None:
        why = (f"the circle at ({found.circle.cx / scale:.0f}, "
               f"{found.circle.cy / scale:.0f}), radius {found.circle.r / scale:.0f} px, "
               "shows a highlight in only "
               f"{len(photos) - len(found.missing)} of {len(photos)} photos")
    if given:
        raise InvalidInput(f"The sphere given for '{d}' is no use: {why}.")
    warnings.append(f"No light positions and no shiny sphere ({why}): the light layout is "
                    "estimated from the photos (nearby points are lit alike; not the real "
                    "directions).")
    dirs = layout.estimate_layout(lum)
    lights = [FolderLight(p, lightnames.DIRECTION, tuple(float(v) for v in dv))
              for p, dv in zip(photos, dirs)]
    return FolderLights(d, lights, encoding, "estimated", True, warnings, None, pixels)


def find_lights(folder: str | Path, circle: sphere.Circle | None = None,
                cancelled: Callable[[], bool] = lambda: False,
                keep_pixels: bool = True) -> FolderLights:
    """The folder's photos and their lights from the best source (module docstring).

    ``circle`` (a sphere the user marked) skips the light files and the sphere search: the
    directions come from that sphere's highlights. ``keep_pixels``: keep the photos read
    for the sphere or the layout in ``pixels`` (the CLI relights them next). Raises
    :class:`NotFound` / :class:`InvalidInput` with a sentence naming the folder or file.
    """
    d = Path(folder)
    if not d.is_dir():
        raise NotFound(f"There is no light-stack folder at '{d}'.")
    files = imgs.list_images(d)
    if circle is None:
        if (d / "lights.json").is_file():
            return _from_json(d, d / "lights.json")
        lps = sorted(p for p in d.iterdir() if p.suffix.lower() == ".lp" and p.is_file())
        if lps:
            got = _from_lp(d, lps[0])
            if len(lps) > 1:
                got.warnings.append(f"Several .lp files in '{d}'; used '{lps[0].name}'.")
            return got
        if (d / "filenames.txt").is_file() and (d / "light_directions.txt").is_file():
            return _from_diligent(d)
        named = [p for p in files if p.stem.lower().startswith("light")]
        if named:
            return _from_names(d, named)
    if not files:
        raise InvalidInput(f"'{d}' has no photos (and no lights.json or .lp file).")
    return _found_in_photos(d, files, circle, cancelled, keep_pixels)


def write_lp(found: FolderLights, path: str | Path) -> None:
    """Write the folder's direction lights as an RTI ``.lp`` file (file names relative)."""
    if any(lt.kind != lightnames.DIRECTION for lt in found.lights):
        raise InvalidInput("An .lp file holds light directions; this stack has positions.")
    text = lightnames.format_lp([(lt.file.name, lt.coords) for lt in found.lights])
    Path(path).write_text(text, encoding="utf-8")
