"""The one exception hierarchy of Empatia.

Every error a user can meet derives from :class:`EmpatiaError`, keeps its arguments and says
what to do about it. The HTTP layer maps ``http_status`` to the answer; the CLI prints the
message and exits with ``exit_code`` (the traceback only with ``--debug``).
"""

from __future__ import annotations


class EmpatiaError(Exception):
    """Root of every Empatia error."""

    http_status: int = 500
    exit_code: int = 1
    code: str = "error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, **self.details}


class ConfigError(EmpatiaError):
    """A setting or configuration file is wrong."""

    code = "config"
    exit_code = 2


class IngestNodeError(ConfigError):
    """Work that belongs to the store owning a lake's event log, asked of an ingest node."""

    code = "ingest_node"
    http_status = 409


class StoreError(EmpatiaError):
    """The store cannot be opened, upgraded or written."""

    code = "store"
    http_status = 503


class StoreLockedError(StoreError):
    """Another process (usually ``empatia serve``) holds the store's single write lock."""

    code = "store_locked"


class SchemaTooNewError(StoreError):
    """The store was written by a newer Empatia than this one."""

    code = "schema_too_new"


class NotFoundError(EmpatiaError):
    code = "not_found"
    http_status = 404


class AuthError(EmpatiaError):
    """Missing, unknown, revoked or under-scoped key."""

    code = "unauthorized"
    http_status = 401


class ForbiddenError(AuthError):
    code = "forbidden"
    http_status = 403


class ValidationError(EmpatiaError):
    """Input that does not follow the documented shape; the message says where."""

    code = "invalid"
    http_status = 400
    exit_code = 2


class PayloadTooLargeError(ValidationError):
    code = "too_large"
    http_status = 413


class ConsentError(EmpatiaError):
    """A purpose was asked for that the person has not consented to."""

    code = "no_consent"
    http_status = 403


class MissingExtraError(EmpatiaError):
    """An optional dependency is not installed; the message names the extra."""

    code = "missing_extra"
    exit_code = 3

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'empatia[{extra}]'",
            package=package,
            extra=extra,
        )
