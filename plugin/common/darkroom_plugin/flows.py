"""What both editors say and decide, written once: status and indexing sentences, where a
result layer goes, which layer a dialog offers first, and the light a click on the light pad
asks for. Plain Python; the GIMP and Krita adapters only translate to and from their APIs.
"""

from __future__ import annotations

import math
from typing import Any

#: Result layers made by the plugin start with these: the ops' ``result_prefix``, added from
#: their descriptions by :func:`note_descriptions` when an adapter loads them.
RESULT_PREFIXES: list[str] = []
#: The temporary layer that shows a running job's latest preview (removed when it ends).
PREVIEW_LAYER = "Neural Darkroom preview"


def status_text(ping: dict[str, Any], status: dict[str, Any]) -> str:
    """One sentence from the daemon's ``ping`` and ``daemon.status`` replies (the server's
    keys: ``devices`` a list, ``queue`` a dict with ``queued``/``running``/``done``)."""
    devices = ping.get("devices") or status.get("devices") or []
    device = ", ".join(str(d) for d in devices) if isinstance(devices, list) else str(devices)
    queue = status.get("queue") if isinstance(status.get("queue"), dict) else {}
    queued, running = int(queue.get("queued", 0) or 0), int(queue.get("running", 0) or 0)
    done = int(queue.get("done", 0) or 0)
    jobs = ("no job running" if not running else f"{running} job running" if running == 1
            else f"{running} jobs running")
    waiting = "" if not queued else f", {queued} waiting"
    log = status.get("log")
    where = f" Log: {log}." if log else ""
    device = device or "an unknown device"
    return (f"Backend running (version {ping.get('version', '?')}) on {device}: "
            f"{jobs}{waiting}, {done} done.{where}")


def short_status(ping: dict[str, Any], status: dict[str, Any]) -> str:
    """The docker's one-line label."""
    devices = ping.get("devices") or []
    queue = status.get("queue") if isinstance(status.get("queue"), dict) else {}
    busy = int(queue.get("running", 0) or 0) + int(queue.get("queued", 0) or 0)
    return (f"Backend: running on {', '.join(map(str, devices)) or '?'}, "
            f"{busy} job{'s' if busy != 1 else ''} in the queue")


def index_summary(meta: dict[str, Any]) -> str:
    """What ``sketch.index`` did, as the sentence shown when "Index now" finishes."""
    n = {k: int(meta.get(k, 0) or 0) for k in ("added", "updated", "removed", "unchanged",
                                               "skipped")}
    total = n["added"] + n["updated"] + n["unchanged"]
    text = (f"Sketch search index ready: {total} photo{'s' if total != 1 else ''} "
            f"({n['added']} new, {n['updated']} updated, {n['unchanged']} unchanged"
            f"{', ' + str(n['removed']) + ' removed' if n['removed'] else ''}).")
    if n["skipped"]:
        files = meta.get("skipped_files") or []
        named = "; ".join(f"{f.get('path')}: {f.get('reason')}" for f in files[:3]
                          if isinstance(f, dict))
        more = f" and {n['skipped'] - 3} more" if n["skipped"] > 3 else ""
        text += f" {n['skipped']} could not be read ({named}{more})."
    return text


def note_descriptions(descs: list[Any]) -> None:
    """Know the result layers of every described op (a new op's results stack like ours)."""
    for d in descs:
        if d.result_prefix and d.result_prefix not in RESULT_PREFIXES:
            RESULT_PREFIXES.append(d.result_prefix)


def is_result(name: str) -> bool:
    return name.startswith(tuple(RESULT_PREFIXES))


def result_anchor(siblings_bottom_up: list[str], source: int) -> int:
    """Index (in ``siblings_bottom_up``) of the layer a new result goes directly above: the
    source, or the topmost of our results stacked right above it, so that each new result
    lands on top of the previous one and the canvas shows it."""
    i = source
    while i + 1 < len(siblings_bottom_up) and is_result(siblings_bottom_up[i + 1]):
        i += 1
    return i


def style_choices(names: list[str]) -> list[int]:
    """Indices of ``names`` (the candidate style layers) in the order a style dialog offers
    them: the user's own layers first, our result layers last (a restyle rarely wants a
    previous result as its style)."""
    idx = list(range(len(names)))
    return [i for i in idx if not is_result(names[i])] + [i for i in idx if is_result(names[i])]


def pad_light(u: float, v: float, kind: str) -> dict[str, Any]:
    """The light for a click at (u, v) in [0, 1]² on the light pad (v grows downwards).

    ``kind`` is the stack's: ``position`` stacks take (u, v) on the light plane; ``direction``
    stacks read the pad as the hemisphere seen from above (the camera looks along −z): the disc
    of radius 1 maps to (x, y) with z = √(1 − x² − y²), and a click outside the disc to its
    rim (a grazing light)."""
    u, v = min(1.0, max(0.0, float(u))), min(1.0, max(0.0, float(v)))
    if kind != "direction":
        return {"position": [u, v]}
    x, y = 2.0 * u - 1.0, 1.0 - 2.0 * v
    r = math.hypot(x, y)
    if r > 0.999:
        x, y = x / r * 0.999, y / r * 0.999
    z = math.sqrt(max(0.0, 1.0 - x * x - y * y))
    return {"direction": [round(x, 4), round(y, 4), round(z, 4)]}


def pad_point(light: dict[str, Any]) -> tuple[float, float] | None:
    """Where a captured light sits on the pad (the inverse of :func:`pad_light`)."""
    if "position" in light:
        u, v = light["position"][:2]
        return float(u), float(v)
    if "direction" in light:
        x, y = light["direction"][:2]
        return (float(x) + 1.0) / 2.0, (1.0 - float(y)) / 2.0
    return None


def stack_lights(names: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """The kind (``position`` or ``direction``) and lights of a light-stack group's layers;
    raises :class:`darkroom.errors.InvalidInput` naming the layers that are not lights."""
    from darkroom.lightnames import parse_stack

    lights = parse_stack(names)
    kind = lights[0].kind if lights else "position"
    return kind, [{lt.kind: list(lt.coords)} for lt in lights]


# --- Open light stack… -------------------------------------------------------------------------

def open_stack_request(folder: str, sphere: str = "") -> Any:
    """``relight.find_lights`` for a folder the user picked (``sphere``: "CX,CY,R" in pixels,
    or "" to use the folder's light file or find the sphere)."""
    from darkroom.errors import InvalidParameter

    from .requests import Request

    params: dict[str, Any] = {"folder": folder}
    if sphere.strip():
        try:
            circle = [float(v) for v in sphere.replace(" ", "").split(",")]
        except ValueError:
            circle = []
        if len(circle) != 3 or circle[2] <= 0:
            raise InvalidParameter(f"The sphere must be 'CX,CY,R' in pixels, not '{sphere}'.",
                                   field="sphere")
        params["sphere"] = circle
    return Request("relight.find_lights", [], params)


def stack_plan(meta: dict[str, Any], folder: str) -> tuple[str, list[tuple[str, str]], str]:
    """From ``relight.find_lights``' answer: the group's name, (file, layer name) per photo in
    stack order, and the note for the user (where the lights came from, photos left out)."""
    import os

    base = os.path.basename(os.path.normpath(folder)) or folder
    estimated = bool(meta.get("estimated"))
    group = f"{base} (estimated light layout)" if estimated else base
    rows = [(str(r["file"]), str(r["name"])) for r in meta.get("lights") or []
            if isinstance(r, dict) and r.get("file") and r.get("name")]
    source = {"lights.json": "its lights.json", "lp": "its .lp file",
              "sphere": "the shiny sphere's highlights", "estimated": "the photos themselves "
              "(an estimated layout: nearby lights look alike, not measured directions)"}.get(
        str(meta.get("source")), str(meta.get("source") or "its files"))
    note = f"Opened {len(rows)} photos of '{base}'; the lights come from {source}."
    warnings = [str(w) for w in meta.get("warnings") or []]
    if warnings:
        note += "\n" + "\n".join(f"• {w}" for w in warnings)
    return group, rows, note
