"""Errors of the journeys package."""

from __future__ import annotations

from empatia.errors import NotFoundError, ValidationError


class JourneysNotBuiltError(NotFoundError):
    """The journeys stage has not run yet on this store."""

    code = "journeys_not_built"

    def __init__(self) -> None:
        super().__init__("no journeys yet: run `empatia run` (or `empatia run --only journeys`)")


class FunnelError(ValidationError):
    """A funnel definition that cannot be computed."""

    code = "invalid_funnel"
