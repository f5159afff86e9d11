"""Light-stack names: ``light U V`` / ``light X Y Z`` layer names and ``--light`` target specs.

Stdlib-only (plus :mod:`darkroom.errors`): the editor plugins import this module to name and
check light-stack layers without numpy or torch.

Layer names (see DESIGN.md, "Images and colour")::

    light 0.25 0.75            a light at (u, v) = (0.25, 0.75) on the light plane, [0, 1]²
    light -0.06 -0.43 0.90     a distant light from this direction (normalised to unit length)
    light 0.25 0.75 @1.2,1.5,2 the same light, captured with RGB intensity (1.2, 1.5, 2)

``light`` is case-insensitive; numbers may be separated by spaces, commas or underscores (so a
file stem ``light_0.25_0.75`` parses too). One stack uses one kind: all positions or all
directions.

Target specs on the command line: ``U,V[,Z][:R,G,B][@I]`` — e.g. ``0.3,0.6:1,0.8,0.6@2`` is a
warm light at (0.3, 0.6) with intensity 2.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from darkroom.errors import InvalidInput, InvalidParameter

POSITION = "position"
DIRECTION = "direction"

_NAME = re.compile(r"^\s*light[\s_,]+(?P<coords>[^@]*?)\s*(?:@\s*(?P<rgb>[^@]*?))?\s*$", re.I)
_SEP = re.compile(r"[\s_,]+")
_LP_ROW = re.compile(r"^(.*?)\s+(\S+)\s+(\S+)\s+(\S+)$")


@dataclass(frozen=True)
class Light:
    """One captured light: ``kind`` is ``"position"`` ((u, v), unitless, nominally [0, 1]²) or
    ``"direction"`` ((x, y, z) unit vector, camera looking along −z); ``intensity`` is the RGB
    intensity the image was captured with (divide the image by it to get a unit light)."""

    kind: str
    coords: tuple[float, ...]
    intensity: tuple[float, float, float] = (1.0, 1.0, 1.0)


def _numbers(text: str) -> list[float] | None:
    parts = [p for p in _SEP.split(text.strip()) if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        return None


def parse_name(name: str) -> Light:
    """Parse one layer name (or file stem) into a :class:`Light`.

    Raises :class:`InvalidInput` with a sentence naming the layer when it is not a light name,
    has the wrong count of numbers, non-finite values, a zero direction or a bad intensity.
    """
    m = _NAME.match(name or "")
    nums = _numbers(m.group("coords")) if m else None
    if nums is None:
        raise InvalidInput(
            f"Layer '{name}' is not named like a light: use 'light U V' or 'light X Y Z'."
        )
    if len(nums) not in (2, 3):
        raise InvalidInput(
            f"Layer '{name}' has {len(nums)} light coordinates; give 2 (U V) or 3 (X Y Z)."
        )
    if not all(math.isfinite(v) for v in nums):
        raise InvalidInput(f"Layer '{name}' has a light coordinate that is not a finite number.")
    intensity = (1.0, 1.0, 1.0)
    if m is not None and m.group("rgb") is not None:
        rgb = _numbers(m.group("rgb"))
        if rgb is None or len(rgb) not in (1, 3) or not all(math.isfinite(v) and v > 0 for v in rgb):
            raise InvalidInput(
                f"Layer '{name}' has a bad intensity after '@': give R,G,B positive numbers."
            )
        intensity = (rgb[0], rgb[0], rgb[0]) if len(rgb) == 1 else (rgb[0], rgb[1], rgb[2])
    if len(nums) == 2:
        return Light(POSITION, (nums[0], nums[1]), intensity)
    norm = math.sqrt(sum(v * v for v in nums))
    if norm < 1e-6:
        raise InvalidInput(f"Layer '{name}' has a zero light direction.")
    return Light(DIRECTION, tuple(v / norm for v in nums), intensity)


def parse_stack(names: Sequence[str], min_lights: int = 4) -> list[Light]:
    """Parse and check a whole stack's names, in order.

    Raises :class:`InvalidInput` naming *all* offending layers: unparsable names, a mix of
    positions and directions, two layers with the same light, or fewer than ``min_lights``.
    """
    lights: list[Light | None] = []
    bad: list[str] = []
    for n in names:
        try:
            lights.append(parse_name(n))
        except InvalidInput:
            lights.append(None)
            bad.append(n)
    if bad:
        shown = ", ".join(f"'{b}'" for b in bad[:6]) + (" …" if len(bad) > 6 else "")
        raise InvalidInput(
            f"{len(bad)} layer(s) of the light stack lack a light in their name ({shown}); "
            "name each 'light U V' or 'light X Y Z'."
        )
    good = [lt for lt in lights if lt is not None]
    kinds = {lt.kind for lt in good}
    if len(kinds) > 1:
        pos = [n for n, lt in zip(names, good) if lt.kind == POSITION]
        drn = [n for n, lt in zip(names, good) if lt.kind == DIRECTION]
        raise InvalidInput(
            f"The light stack mixes positions (e.g. '{pos[0]}') and directions "
            f"(e.g. '{drn[0]}'); use one kind for every layer."
        )
    seen: dict[tuple[float, ...], str] = {}
    for n, lt in zip(names, good):
        key = tuple(round(v, 6) for v in lt.coords)
        if key in seen:
            raise InvalidInput(f"Layers '{seen[key]}' and '{n}' have the same light; keep one.")
        seen[key] = n
    if len(good) < min_lights:
        raise InvalidInput(
            f"A light stack needs at least {min_lights} images, each under a different light; "
            f"this one has {len(good)}."
        )
    return good


def format_name(light: Light, digits: int = 4) -> str:
    """The layer name for ``light`` (inverse of :func:`parse_name`)."""
    coords = " ".join(f"{v:.{digits}g}" for v in light.coords)
    if light.intensity != (1.0, 1.0, 1.0):
        coords += " @" + ",".join(f"{v:.{digits}g}" for v in light.intensity)
    return f"light {coords}"


def parse_target(spec: str) -> dict[str, object]:
    """Parse a CLI target ``U,V[,Z][:R,G,B][@I]`` into the ``relight.render`` light dict
    ``{"position"|"direction": [...], "color": [r, g, b], "intensity": i}``.

    Raises :class:`InvalidParameter` (field ``light``) with a sentence quoting the spec.
    """

    def bad(why: str) -> InvalidParameter:
        return InvalidParameter(f"--light '{spec}': {why}.", field="light")

    rest, _, inten = spec.partition("@")
    coords_s, _, colour_s = rest.partition(":")
    coords = _numbers(coords_s.replace(",", " "))
    if coords is None or len(coords) not in (2, 3):
        raise bad("give 2 (U,V) or 3 (X,Y,Z) comma-separated numbers before ':' or '@'")
    colour = [1.0, 1.0, 1.0]
    if colour_s:
        c = _numbers(colour_s)
        if c is None or len(c) != 3:
            raise bad("the colour after ':' must be three numbers R,G,B")
        colour = c
    intensity = 1.0
    if inten:
        i = _numbers(inten)
        if i is None or len(i) != 1:
            raise bad("the intensity after '@' must be one number")
        intensity = i[0]
    if not all(math.isfinite(v) for v in [*coords, *colour, intensity]):
        raise bad("every number must be finite")
    if min(colour) < 0 or intensity < 0:
        raise bad("colour and intensity cannot be negative")
    kind = POSITION if len(coords) == 2 else DIRECTION
    return {kind: coords, "color": colour, "intensity": intensity}


def parse_lp(text: str, source: str = "the .lp file") -> list[tuple[str, tuple[float, float, float]]]:
    """Parse an RTI light-position (``.lp``) file: a count line, then ``filename x y z`` per
    photo (the filename may hold spaces or a path; the last three fields are the direction).

    Returns ``[(filename, (x, y, z)), …]`` with unit directions, in file order. Raises
    :class:`InvalidInput` with a sentence naming ``source`` and the line.
    """
    lines = [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines())]
    lines = [(i, ln) for i, ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise InvalidInput(f"{source} is empty; an .lp file starts with the number of photos.")
    try:
        count = int(lines[0][1].split()[0])
    except ValueError:
        raise InvalidInput(f"{source}: line {lines[0][0]} must be the number of photos, "
                           f"not '{lines[0][1][:60]}'.") from None
    rows: list[tuple[str, tuple[float, float, float]]] = []
    for no, ln in lines[1:]:
        m = _LP_ROW.match(ln)
        nums = _numbers(" ".join(m.group(2, 3, 4))) if m else None
        if nums is None or len(nums) != 3 or not all(math.isfinite(v) for v in nums):
            raise InvalidInput(f"{source}: line {no} must be 'filename x y z', not "
                               f"'{ln[:80]}'.")
        norm = math.sqrt(sum(v * v for v in nums))
        if norm < 1e-6:
            raise InvalidInput(f"{source}: line {no} has a zero light direction.")
        assert m is not None
        rows.append((m.group(1), (nums[0] / norm, nums[1] / norm, nums[2] / norm)))
    if len(rows) != count:
        raise InvalidInput(f"{source} announces {count} photos but lists {len(rows)}.")
    return rows


def lp_basename(name: str) -> str:
    """The file name of an ``.lp`` entry, whether it was written with ``/`` or ``\\`` paths
    (RTIBuilder writes the capture machine's absolute Windows paths)."""
    return name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def format_lp(rows: Sequence[tuple[str, Sequence[float]]], digits: int = 6) -> str:
    """An ``.lp`` file's text for ``[(filename, (x, y, z)), …]`` (inverse of
    :func:`parse_lp`)."""
    out = [str(len(rows))]
    for name, d in rows:
        if len(d) != 3:
            raise ValueError(f"an .lp entry needs a 3-D direction; '{name}' has {len(d)}")
        out.append(f"{name} " + " ".join(f"{v:.{digits}f}" for v in d))
    return "\n".join(out) + "\n"
