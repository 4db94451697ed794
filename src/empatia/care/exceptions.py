"""Errors of special care; all derive from :class:`~empatia.errors.EmpatiaError`."""

from __future__ import annotations

from empatia.errors import NotFoundError, ValidationError


class AlertNotFoundError(NotFoundError):
    """No alert with that id, and no person with an alert."""

    def __init__(self, ident: str) -> None:
        super().__init__(
            f"no care alert or person with alerts {ident!r}; see `empatia care list --alerts`",
            ident=ident,
        )


class AlertStateError(ValidationError):
    """An action that does not fit the alert's state (resolving a resolved alert …)."""

    code = "care_state"
    http_status = 409


class WebhookNotFoundError(NotFoundError):
    def __init__(self, webhook_id: str) -> None:
        super().__init__(
            f"no webhook {webhook_id!r}; see `empatia care webhooks list`", webhook_id=webhook_id
        )


class UnknownSinkError(ValidationError):
    def __init__(self, kind: str, known: list[str]) -> None:
        super().__init__(
            f"unknown alert sink {kind!r}; known: {', '.join(sorted(known))}",
            kind=kind,
            known=known,
        )


class WebhookURLError(ValidationError):
    def __init__(self, url: str) -> None:
        super().__init__(f"webhook URL must be http:// or https://, not {url!r}", url=url)
