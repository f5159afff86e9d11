"""The op registry: names, parameter schemas and the functions that run them.

An op is registered with :func:`register` and called by the server and the CLI alike::

    @register(
        "relight.render",
        help="Render the scene of a light stack under new lights.",
        params=[
            Param("lights", "list", help="target lights", default=[]),
            Param("quality", "str", default="standard", choices=("draft", "standard", "best")),
        ],
        inputs="one layer per captured light, role 'stack', named 'light U V'",
    )
    def _render(images: list[Image], params: dict, progress: Progress, cancelled: Cancelled) -> Result:
        ...

The function receives :class:`Image` objects (numpy pixels, H×W×C, uint8/uint16/float32), the
parameters already validated and filled with defaults, a ``progress(fraction, stage, preview)``
callback and a ``cancelled()`` check; it returns a :class:`Result` (new images + JSON-able
metadata). It raises :class:`darkroom.errors.DarkroomError` subclasses for bad input and
:class:`darkroom.errors.Cancelled` (via :func:`darkroom.errors.check_cancel`) when cancelled.

Op families register themselves when their ``darkroom.ops.<family>.op`` module is imported;
:func:`load_all` finds and imports every family (lazily: no model is loaded at import time).

The registration is the op's **one description**: besides the parameters' types and ranges it
says how a person meets the op — each parameter's ``label`` (and whether the editors show it),
the ``images`` it takes (the selected layer, another layer or an image file, a light-stack
group), the menu ``title`` and the ``result_prefix`` its result layers' names start with. The
CLI's options (:mod:`darkroom.opcli`), GIMP's procedure arguments and Krita's dialogs are
generated from it (a result's ``meta`` may add ``layers``, ``layer_opacity`` and
``layer_names``: which returned images become layers, how opaque, named how); ``daemon.ops``
and ``darkroom ops --json`` serve it (``install.py`` writes it beside each plugin, since GIMP
registers procedures before any daemon runs).
"""

from __future__ import annotations

import contextvars
import dataclasses
import importlib
import importlib.util
import logging
import math
import os
import pkgutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from darkroom.errors import InvalidInput, InvalidParameter, NotFound, UnknownOp

log = logging.getLogger(__name__)



def family_modules() -> list[str]:
    """The modules that register ops on import, found, not listed: every package under
    ``darkroom.ops`` with an ``op`` module (``darkroom.ops.colour.op``) and every plain module
    beside this one (``darkroom.ops.debug``). Adding a family is adding its package."""
    import darkroom.ops as pkg

    out = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "registry":
            continue
        if not info.ispkg:
            out.append(f"darkroom.ops.{info.name}")
        elif importlib.util.find_spec(f"darkroom.ops.{info.name}.op") is not None:
            out.append(f"darkroom.ops.{info.name}.op")
    return out

_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "list": (list, tuple),
    "dict": (dict,),
}


@dataclass
class Image:
    """One layer or image file travelling to or from an op.

    ``pixels`` is H×W×C (C in 1–4; 2 and 4 carry alpha last), dtype uint8, uint16 or float32,
    values as stored (u8 0–255, u16 0–65535, float nominally 0–1). ``colorspace`` says how the
    values are encoded: ``"srgb"`` (gamma-encoded, the default for layers and files) or
    ``"linear"``. ``offset`` is the layer's (x, y) position in the document in pixels.
    """

    pixels: np.ndarray
    role: str = "input"
    name: str = ""
    offset: tuple[int, int] = (0, 0)
    colorspace: str = "srgb"
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """What an op returns: new images (results are never written over inputs) and metadata."""

    images: list[Image] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


class ProgressFn(Protocol):
    def __call__(
        self, fraction: float, stage: str = "", preview: np.ndarray | None = None
    ) -> None: ...


CancelledFn = Callable[[], bool]
OpFn = Callable[[list[Image], dict[str, Any], ProgressFn, CancelledFn], Result]


@dataclass(frozen=True)
class Param:
    """One parameter of an op's schema.

    ``kind`` is one of ``int float bool str list dict``. ``minimum``/``maximum`` bound numbers
    (inclusive); ``choices`` restricts strings; ``required`` parameters have no default.

    ``path`` marks a ``str`` (or a ``list`` of strings) as file-system paths, checked before
    the op runs (see :data:`PATH_KINDS`): requests come from other processes, possibly other
    machines, so a path is never trusted just because it is a string.
    """

    name: str
    kind: str
    default: Any = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: Sequence[Any] | None = None
    required: bool = False
    path: str | None = None  #: one of PATH_KINDS, or None for plain values
    label: str = ""  #: what the editors' dialogs call it ("" → the name, capitalised)
    editor: bool = True  #: shown in the editors' dialogs (False: CLI and scripts only)
    #: a ``list``/``dict`` parameter the editors take as one line of text, in this format
    #: (``"lights"``: ``U,V[:R,G,B][@I]; …``, parsed by the plugins' ``darkroom_plugin.opdesc``)
    text: str = ""

    def validate(self, value: Any, cwd: Path | None = None) -> Any:
        """Return the value (ints widened to float for float params, paths made absolute) or
        raise :class:`InvalidParameter` naming this parameter (:class:`NotFound` for a path
        that does not exist). ``cwd`` resolves relative paths (in-process runs); without it
        they are refused, since the daemon's working folder is not the client's."""
        types = _TYPES[self.kind]
        # bool is an int in Python; refuse it where a number is meant, and vice versa.
        if isinstance(value, bool) and self.kind != "bool":
            raise self._bad(f"must be {self.kind}, not a boolean")
        if not isinstance(value, types):
            raise self._bad(f"must be {self.kind}, not {type(value).__name__}")
        if self.kind == "float":
            value = float(value)
            if not math.isfinite(value):
                raise self._bad("must be a finite number")
        if self.kind in ("int", "float"):
            if self.minimum is not None and value < self.minimum:
                raise self._bad(f"must be at least {self.minimum}, got {value}")
            if self.maximum is not None and value > self.maximum:
                raise self._bad(f"must be at most {self.maximum}, got {value}")
        if self.choices is not None and value not in self.choices:
            raise self._bad(f"must be one of {', '.join(map(str, self.choices))}; got {value!r}")
        if self.kind == "list":
            value = list(value)
        if self.path is not None:
            if self.kind == "list":
                if len(value) > MAX_PATHS:
                    raise self._bad(f"takes at most {MAX_PATHS} paths")
                value = [self._check_path(v, cwd) for v in value]
            elif value != "" or self.required:  # "" means "the default" for optional paths
                value = self._check_path(value, cwd)
        return value

    def _check_path(self, value: Any, cwd: Path | None) -> str:
        """One path: a string without NUL or control characters, absolute (or made absolute
        with ``cwd``), of the kind this parameter wants. Returns it absolute, ``~`` expanded."""
        if not isinstance(value, str) or not value:
            raise self._bad("must hold non-empty path strings")
        if len(value) > MAX_PATH_CHARS or any(ord(ch) < 32 for ch in value):
            raise self._bad("is not a usable path (too long, or it holds control characters)")
        p = Path(value).expanduser()
        if not p.is_absolute():
            if cwd is None:
                raise self._bad(f"must be an absolute path; got '{value}'")
            p = cwd / p
        shown = _shown(p)
        try:
            st = os.stat(p)
        except FileNotFoundError:
            if self.path == "new_file":
                if p.parent.is_dir():
                    return str(p)
                raise NotFound(f"The folder '{_shown(p.parent)}' for '{self.name}' does not "
                               "exist.", field=self.name) from None
            what = "folder" if self.path == "dir" else "file"
            raise NotFound(f"The {what} '{shown}' given for '{self.name}' does not exist.",
                           field=self.name) from None
        except OSError as e:
            raise self._bad(f"names '{shown}', which cannot be used ({e.strerror})") from None
        if self.path == "dir":
            if not stat.S_ISDIR(st.st_mode):
                raise self._bad(f"must be a folder; '{shown}' is not one")
            return str(p)
        # Regular files only: a FIFO or device would block a worker forever on open().
        if not stat.S_ISREG(st.st_mode):
            raise self._bad(f"must be a regular file; '{shown}' is not one")
        if not os.access(p, os.R_OK):
            raise self._bad(f"names '{shown}', which this user cannot read")
        return str(p)

    def _bad(self, why: str) -> InvalidParameter:
        return InvalidParameter(f"Parameter '{self.name}' {why}.", field=self.name)

    @property
    def shown_label(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "help": self.help,
                             "label": self.shown_label, "editor": self.editor,
                             "required": self.required}
        if self.text:
            d["text"] = self.text
        if not self.required:
            d["default"] = self.default
        for k in ("minimum", "maximum"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.choices is not None:
            d["choices"] = list(self.choices)
        if self.path is not None:
            d["path"] = self.path
        return d


#: Where an image input comes from in an editor (a CLI takes each as a file):
#: ``active`` the selected layer (results go above it), ``layer`` another layer or an image
#: file, ``stack`` the layers of the selected layer group (a light stack, read as linear light).
IMAGE_SOURCES = ("active", "layer", "stack")


@dataclass(frozen=True)
class ImageInput:
    """One image an op takes, by its wire ``role``: how the editors and the CLI ask for it."""

    role: str
    label: str = ""
    source: str = "layer"  #: one of IMAGE_SOURCES
    optional: bool = False
    help: str = ""
    many: bool = False  #: several images may come with this role (a ``stack`` always may)

    @property
    def several(self) -> bool:
        return self.many or self.source == "stack"

    def describe(self) -> dict[str, Any]:
        return {"role": self.role, "label": self.label or self.role.replace("_", " ").capitalize(),
                "source": self.source, "optional": self.optional, "help": self.help,
                "many": self.several}


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: OpFn
    params: tuple[Param, ...]
    help: str = ""
    inputs: str = ""
    min_images: int = 0
    max_images: int | None = None
    title: str = ""  #: the editors' menu entry ("" → not in the editors' menus)
    images: tuple[ImageInput, ...] = ()  #: the images, for the editors and the CLI
    result_prefix: str = ""  #: the result layers' names start with this
    #: "" → the results are layers above the source; else the name of a layer group above it
    #: holding them, first on top (or each opened as a new image, as the user chooses)
    result_group: str = ""

    def validate_params(self, params: Any, cwd: Path | None = None) -> dict[str, Any]:
        """Check ``params`` against the schema; fill defaults. Unknown names are errors.
        ``cwd``: resolve relative paths against it (in-process runs only)."""
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise InvalidParameter("The parameters must be a JSON object.", field="params")
        known = {p.name: p for p in self.params}
        for name in params:
            if name not in known:
                raise InvalidParameter(
                    f"Op '{self.name}' has no parameter '{str(name)[:80]}' "
                    f"(it takes: {', '.join(known) or 'none'}).",
                    field=str(name),
                )
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name in params:
                out[p.name] = p.validate(params[p.name], cwd)
            elif p.required:
                raise InvalidParameter(f"Parameter '{p.name}' is required.", field=p.name)
            else:
                out[p.name] = p.default
        return out

    def validate_images(self, images: Sequence[Image]) -> None:
        n = len(images)
        if n < self.min_images or (self.max_images is not None and n > self.max_images):
            want = (
                f"{self.min_images}"
                if self.max_images == self.min_images
                else f"{self.min_images} to {self.max_images if self.max_images is not None else 'any number of'}"
            )
            raise InvalidInput(f"Op '{self.name}' takes {want} images; it was sent {n}.")
        for im in images:
            check_pixels(im.pixels, im.name or im.role)
        if self.images:
            self._check_roles(images)

    def _check_roles(self, images: Sequence[Image]) -> None:
        """The roles the description declares: no stranger, no role twice (a ``stack`` role is
        many images), none missing that is not optional — sentences that name the image."""
        declared = {i.role: i for i in self.images}
        seen: dict[str, Image] = {}
        for im in images:
            inp = declared.get(im.role)
            if inp is None:
                raise InvalidInput(f"Image '{im.name or im.role}' has role '{im.role}'; op "
                                   f"'{self.name}' takes {', '.join(declared)}.")
            if im.role in seen and not inp.several:
                raise InvalidInput(f"Two images have the role '{im.role}' "
                                   f"('{seen[im.role].name}' and '{im.name}'); send one.")
            seen[im.role] = im
        for role, inp in declared.items():
            if role not in seen and not inp.optional:
                raise InvalidInput(f"Op '{self.name}' needs an image with the role '{role}' "
                                   f"({inp.label or role}).")

    def describe(self) -> dict[str, Any]:
        """The op's description as JSON (``daemon.ops``, ``darkroom ops --json``, the file
        ``install.py`` writes beside each plugin)."""
        return {
            "name": self.name,
            "help": self.help,
            "inputs": self.inputs,
            "title": self.title,
            "images": [i.describe() for i in self.images],
            "result_prefix": self.result_prefix,
            "result_group": self.result_group,
            "params": [p.describe() for p in self.params],
        }


_device: contextvars.ContextVar[str | None] = contextvars.ContextVar("darkroom_device", default=None)


def set_device(device: str) -> None:
    """Set the torch device for ops run in this thread/context (the server's workers, the CLI)."""
    _device.set(device)


def current_device() -> str:
    """The torch device ops should use: the one set for this context, else auto-picked."""
    dev = _device.get()
    if dev is None:
        from darkroom.config import pick_device

        dev = pick_device("auto")
        _device.set(dev)
    return dev


#: Path kinds: ``file`` an existing readable regular file; ``dir`` an existing folder;
#: ``new_file`` a regular file or a new name in an existing folder (an index to create).
PATH_KINDS = ("file", "dir", "new_file")
MAX_PATHS = 256  #: paths in one list parameter
MAX_PATH_CHARS = 4096
#: Parameters that are paths by name even where their op declares a plain ``str`` (the style
#: ops' backbone ``weights`` file): one rule here instead of a check in every op.
PATH_BY_NAME: dict[str, str] = {"weights": "file"}


def _shown(p: Path) -> str:
    """A path for an error sentence, cut short (errors echo what the client sent)."""
    s = str(p)
    return s if len(s) <= 200 else s[:100] + "…" + s[-60:]


def absolute_paths(spec: OpSpec, params: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Make an op's relative path parameters absolute against ``cwd`` (the CLI does this
    before sending a request to the daemon, whose working folder is elsewhere)."""
    out = dict(params)
    for p in spec.params:
        v = out.get(p.name)
        if p.path is None or v in (None, ""):
            continue
        if isinstance(v, str):
            out[p.name] = str(cwd / Path(v).expanduser())
        elif isinstance(v, (list, tuple)):
            out[p.name] = [str(cwd / Path(x).expanduser()) if isinstance(x, str) else x for x in v]
    return out


_REGISTRY: dict[str, OpSpec] = {}
_loaded = False


def register(
    name: str,
    *,
    params: Sequence[Param] = (),
    help: str = "",
    inputs: str = "",
    min_images: int | None = None,
    max_images: int | None = None,
    title: str = "",
    images: Sequence[ImageInput] = (),
    result_prefix: str = "",
    result_group: str = "",
) -> Callable[[OpFn], OpFn]:
    """Decorator: register ``fn`` as op ``name`` (``family.verb``, e.g. ``style.transfer``).
    ``title``, ``images`` and ``result_prefix``: see :class:`OpSpec`. With ``images`` declared,
    ``inputs``, ``min_images`` and ``max_images`` follow from them unless given."""
    for i in images:
        if i.source not in IMAGE_SOURCES:
            raise ValueError(f"op {name}: image {i.role} has a bad source {i.source!r}")
    many = any(i.several for i in images)
    if min_images is None:
        min_images = sum(not i.optional for i in images)
    if max_images is None and images and not many:
        max_images = len(images)
    if not inputs and images:
        inputs = "; ".join(f"{i.role}{' (optional)' if i.optional else ''}"
                           f"{' (several)' if i.several else ''}"
                           f"{': ' + i.help if i.help else ''}" for i in images)

    checked = []
    for p in params:
        if p.path is None and p.kind == "str" and p.name in PATH_BY_NAME:
            p = dataclasses.replace(p, path=PATH_BY_NAME[p.name])
        if p.path is not None and (p.path not in PATH_KINDS or p.kind not in ("str", "list")):
            raise ValueError(f"op {name}: parameter {p.name} has a bad path kind {p.path!r}")
        checked.append(p)

    def deco(fn: OpFn) -> OpFn:
        _REGISTRY[name] = OpSpec(name, fn, tuple(checked), help, inputs, min_images, max_images,
                                 title, tuple(images), result_prefix, result_group)
        return fn

    return deco


def load_all() -> dict[str, OpSpec]:
    """Import every op family once; return the registry."""
    global _loaded
    if not _loaded:
        for mod in family_modules():
            try:
                importlib.import_module(mod)
            except ModuleNotFoundError as e:
                # A family not built yet (its module missing) is not an error worth a traceback.
                if e.name is not None and mod.startswith(e.name):
                    log.info("op family %s not available", mod)
                else:
                    log.exception("op family %s failed to import", mod)
            except Exception:
                log.exception("op family %s failed to import", mod)
        _loaded = True
    return _REGISTRY


def get(name: Any) -> OpSpec:
    ops = load_all()
    if not isinstance(name, str) or name not in ops:
        shown = repr(name)
        shown = shown if len(shown) <= 80 else shown[:80] + "…"  # errors echo what was sent
        raise UnknownOp(
            f"There is no op named {shown}. Known ops: {', '.join(sorted(ops))}.", field="op"
        )
    return ops[name]


def by_role(images: Sequence[Image]) -> dict[str, Image]:
    """An op's images by role (the roles were checked against its description)."""
    return {im.role: im for im in images}


def check_pixels(pixels: Any, what: str) -> None:
    """Refuse arrays an op cannot use, with a sentence naming the image."""
    if not isinstance(pixels, np.ndarray):
        raise InvalidInput(f"Image '{what}' is not an array.")
    if pixels.ndim != 3 or not 1 <= pixels.shape[2] <= 4:
        raise InvalidInput(
            f"Image '{what}' must be height × width × channels (1–4); its shape is {pixels.shape}."
        )
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise InvalidInput(f"Image '{what}' is empty ({pixels.shape[1]}×{pixels.shape[0]} pixels).")
    if pixels.dtype not in (np.uint8, np.uint16, np.float32):
        raise InvalidInput(f"Image '{what}' has dtype {pixels.dtype}; use uint8, uint16 or float32.")
    if pixels.dtype == np.float32 and not np.isfinite(pixels).all():
        raise InvalidInput(f"Image '{what}' contains NaN or infinite values.")


def run(
    name: str,
    images: list[Image],
    params: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> Result:
    """Validate and run an op in this process (the CLI's local path, tests)."""
    spec = get(name)
    p = spec.validate_params(params or {}, cwd=Path.cwd())
    spec.validate_images(images)
    return spec.fn(
        images,
        p,
        progress or (lambda fraction, stage="", preview=None: None),
        cancelled or (lambda: False),
    )
