"""The error hierarchy, mapped to wire errors in one place.

Every failure a user can cause or meet is a :class:`DarkroomError` with a stable ``code``
(sent on the wire, tested) and a sentence a person can read (shown in the editor). Anything
else that escapes an op is an internal error: the log keeps the traceback, the reply keeps
only a sentence.

Torch-free and numpy-free: the editor plugins import this module through the client.
"""

from __future__ import annotations

from typing import Any


class DarkroomError(Exception):
    """Base class. ``code`` goes on the wire; ``str(err)`` is the user-facing sentence."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_wire(self) -> dict[str, Any]:
        """The ``error`` object carried in an error reply's header."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.details:
            out["details"] = self.details
        return out


class ProtocolError(DarkroomError):
    """A message that cannot be decoded: wrong frame count, bad JSON, bad descriptors."""

    code = "protocol"


class AuthError(ProtocolError):
    """A message whose signature is missing or wrong, or that replays an earlier id."""

    code = "auth"


class TooLarge(DarkroomError):
    """A message, buffer or image beyond the configured limits (checked before allocating)."""

    code = "too_large"


class BadRequest(DarkroomError):
    """A well-formed message asking for something invalid: unknown op, bad parameter."""

    code = "bad_request"


class UnknownOp(BadRequest):
    code = "unknown_op"


class InvalidParameter(BadRequest):
    """A parameter of the wrong type, outside its range, or not in the schema."""

    code = "invalid_parameter"


class InvalidInput(DarkroomError):
    """Images or files the op cannot use: wrong size, unreadable, missing light positions …"""

    code = "invalid_input"


class NotFound(DarkroomError):
    """A job id, file, folder or index that does not exist."""

    code = "not_found"


class StorageError(DarkroomError):
    """A file the backend must write (index, cache, log) cannot be written: disk full, quota,
    read-only or unwritable folder. What was there before is left intact."""

    code = "storage"


class Busy(DarkroomError):
    """The queue is full; try again later."""

    code = "busy"


class Cancelled(DarkroomError):
    """The job was cancelled by the user (or its client went away)."""

    code = "cancelled"


class ModelUnavailable(DarkroomError):
    """Weights that are not on this machine (and cannot be downloaded now)."""

    code = "model_unavailable"


class BackendUnavailable(DarkroomError):
    """Client side: no daemon answers at the endpoint in the connection file."""

    code = "backend_unavailable"


class Internal(DarkroomError):
    """A bug: the log has the traceback, the user gets this sentence."""

    code = "internal"


_BY_CODE: dict[str, type[DarkroomError]] = {}


def _collect(cls: type[DarkroomError]) -> None:
    _BY_CODE.setdefault(cls.code, cls)
    for sub in cls.__subclasses__():
        _collect(sub)


_collect(DarkroomError)


def from_wire(obj: Any) -> DarkroomError:
    """Rebuild an exception from an error reply's ``error`` object (client side)."""
    if not isinstance(obj, dict):
        return DarkroomError(f"The backend sent an unreadable error: {obj!r}")
    code = str(obj.get("code", "error"))
    cls = _BY_CODE.get(code, DarkroomError)
    err = cls(str(obj.get("message", "unknown error")), field=obj.get("field"))
    err.code = code  # keep unknown codes from newer daemons
    details = obj.get("details")
    if isinstance(details, dict):
        err.details = details
    return err


def check_cancel(cancelled: Any) -> None:
    """Raise :class:`Cancelled` if the ``cancelled()`` callable says so. Ops call this often."""
    if cancelled is not None and cancelled():
        raise Cancelled("The job was cancelled.")
