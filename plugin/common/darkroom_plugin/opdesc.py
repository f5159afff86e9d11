"""The ops' descriptions as the editors read them: what to put in a menu, which arguments a GIMP
procedure takes, which fields a Krita dialog shows, how to check the values a user typed.

The backend's registry holds one description per op (``darkroom.ops.registry``); the daemon
serves it (``daemon.ops``) and ``install.py`` writes it beside each plugin as ``ops.json``
(GIMP registers its procedures when it starts, before any daemon runs). The plugin refreshes
that file from the daemon when they differ (:func:`refresh`); the editor shows new ops after a
restart. Plain Python (stdlib only): the editors' own Pythons read it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darkroom.errors import InvalidParameter

#: The file ``install.py`` writes beside each plugin.
DESCRIPTIONS_FILE = "ops.json"
#: The ``text`` formats this plugin reads (:func:`parse_text`), and what each one's field holds
#: before the user types anything.
TEXT_FORMATS = {"lights": "0.5,0.5"}


@dataclass
class ParamDesc:
    """One parameter (see the registry's ``Param``): ``kind`` is int float bool str list dict."""

    name: str
    kind: str
    label: str = ""
    help: str = ""
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: list[Any] | None = None
    editor: bool = True
    text: str = ""
    path: str | None = None

    @property
    def arg(self) -> str:
        """GIMP's argument name (GObject properties take dashes)."""
        return self.name.replace("_", "-")

    @property
    def editable(self) -> bool:
        """Whether a dialog field can hold it: a number, a switch, a choice, a path, a line of
        text (a list or object only in a text format this plugin reads)."""
        if self.kind in ("bool", "int", "float") or self.choices or self.path is not None:
            return True
        return self.kind == "str" or self.text in TEXT_FORMATS

    def initial(self) -> Any:
        """What the dialog shows first: the default, or for a text parameter its example."""
        if self.text:
            return TEXT_FORMATS.get(self.text, "")
        return self.default


@dataclass
class ImageDesc:
    """One image input: ``source`` ``active`` (the selected layer), ``layer`` (another layer or
    an image file) or ``stack`` (the selected layer group's layers)."""

    role: str
    label: str = ""
    source: str = "layer"
    optional: bool = False
    help: str = ""
    many: bool = False

    @property
    def arg(self) -> str:
        return self.role.replace("_", "-")


@dataclass
class OpDesc:
    name: str
    title: str = ""
    help: str = ""
    images: list[ImageDesc] = field(default_factory=list)
    params: list[ParamDesc] = field(default_factory=list)
    result_prefix: str = ""
    result_group: str = ""  #: results in a layer group of this name (or as new images)

    @property
    def procedure(self) -> str:
        """GIMP's procedure name, e.g. ``neural-darkroom-colour-match``."""
        return "neural-darkroom-" + self.name.replace(".", "-").replace("_", "-")

    @property
    def action(self) -> str:
        """Krita's action id, e.g. ``neural_darkroom_colour_match``."""
        return "neural_darkroom_" + self.name.replace(".", "_")

    @property
    def shown(self) -> list[ParamDesc]:
        """The parameters the dialogs show: the ones meant for the editors that a dialog field
        can hold (others keep the op's default)."""
        return [p for p in self.params if p.editor and p.editable]

    @property
    def source(self) -> ImageDesc | None:
        """The input the result goes above (the selected layer or group), if any."""
        return next((i for i in self.images if i.source in ("active", "stack")), None)

    @property
    def picked(self) -> list[ImageDesc]:
        """The inputs the user picks in the dialog (other layers or image files)."""
        return [i for i in self.images if i.source == "layer"]

    def param(self, name: str) -> ParamDesc | None:
        return next((p for p in self.params if p.name == name), None)


def _param(raw: dict[str, Any]) -> ParamDesc:
    known = ParamDesc.__dataclass_fields__
    return ParamDesc(**{k: v for k, v in raw.items() if k in known})


def _image(raw: dict[str, Any]) -> ImageDesc:
    known = ImageDesc.__dataclass_fields__
    return ImageDesc(**{k: v for k, v in raw.items() if k in known})


def parse(ops: list[Any]) -> list[OpDesc]:
    """Descriptions from ``daemon.ops``' list; an entry that does not parse is left out (a newer
    daemon may send more than this plugin knows)."""
    out = []
    for raw in ops if isinstance(ops, list) else []:
        try:
            out.append(OpDesc(
                name=str(raw["name"]), title=str(raw.get("title") or ""),
                help=str(raw.get("help") or ""),
                images=[_image(i) for i in raw.get("images") or []],
                params=[_param(p) for p in raw.get("params") or []],
                result_prefix=str(raw.get("result_prefix") or ""),
                result_group=str(raw.get("result_group") or "")))
        except (KeyError, TypeError, AttributeError):
            continue
    return sorted(out, key=lambda d: d.name)


def load(folder: str | os.PathLike[str]) -> list[OpDesc]:
    """The descriptions written beside the plugin in ``folder``; [] when the file is missing or
    damaged (the plugin then offers only what needs no description, and its status says why)."""
    try:
        raw = json.loads((Path(folder) / DESCRIPTIONS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return parse(raw.get("ops") if isinstance(raw, dict) else [])


def save(folder: str | os.PathLike[str], ops: list[Any], version: str = "") -> bool:
    """Write the descriptions beside the plugin (atomically); True when they changed."""
    path = Path(folder) / DESCRIPTIONS_FILE
    data = {"version": version, "ops": sorted(ops, key=lambda o: str(o.get("name")))}
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if isinstance(old, dict) and old.get("ops") == data["ops"]:
        return False
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return True


def refresh(folder: str | os.PathLike[str], client: Any, version: str | None = None) -> bool:
    """Bring the file up to date with the running daemon (a newer backend may have new ops or
    parameters); True when it changed, so the editor should be restarted to show them.
    ``version``: the daemon's, when the caller has already pinged it."""
    try:
        ops = client.ops()
        if version is None:
            version = str(client.ping().get("version", ""))
    except Exception:  # noqa: BLE001 - a stale file is not worth an error
        return False
    try:
        return save(folder, ops, version)
    except OSError:
        return False


def editor_ops(descs: list[OpDesc]) -> list[OpDesc]:
    """The ops with a menu entry, in menu order (by title)."""
    return sorted((d for d in descs if d.title and d.source is not None), key=lambda d: d.title)


# --- values typed into a dialog → the op's parameters -------------------------------------------

def parse_text(fmt: str, text: Any) -> Any:
    """A ``text`` parameter's line → its value (``lights``: the relighting targets)."""
    if fmt == "lights":
        from .requests import parse_lights

        return parse_lights(str(text))
    raise InvalidParameter(f"This plugin cannot read '{fmt}' values; update it with install.py.")


def check_value(p: ParamDesc, value: Any) -> Any:
    """``value`` from an editor's widget as the op wants it, or :class:`InvalidParameter` with
    a sentence naming the field the user sees."""
    label = p.label or p.name
    if p.text and isinstance(value, str):
        return parse_text(p.text, value)
    if p.kind == "bool":
        return bool(value)
    if p.kind in ("int", "float"):
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise InvalidParameter(f"{label} must be a number, not '{value}'.",
                                   field=p.name) from None
        if not math.isfinite(num):
            raise InvalidParameter(f"{label} must be a finite number.", field=p.name)
        if p.minimum is not None and num < p.minimum or p.maximum is not None and num > p.maximum:
            raise InvalidParameter(f"{label} must be between {_num(p.minimum)} and "
                                   f"{_num(p.maximum)}, not {_num(num)}.", field=p.name)
        if p.kind == "int":
            if num != int(num):
                raise InvalidParameter(f"{label} must be a whole number, not {num}.", field=p.name)
            return int(num)
        return num
    if p.choices is not None and value not in p.choices:
        raise InvalidParameter(f"{label} must be one of {', '.join(map(str, p.choices))}, "
                               f"not '{value}'.", field=p.name)
    return value


def _num(v: float | None) -> str:
    if v is None:
        return "any"
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def params_from(desc: OpDesc, values: dict[str, Any]) -> dict[str, Any]:
    """The op's parameters from a dialog's values: shown parameters checked, the others left to
    the op's defaults."""
    out: dict[str, Any] = {}
    for p in desc.params:
        if p.name in values and values[p.name] is not None:
            out[p.name] = check_value(p, values[p.name])
        elif p.required:
            raise InvalidParameter(f"{p.label or p.name} is needed.", field=p.name)
    return out
