"""Errors of the read side; all derive from :class:`~empatia.errors.EmpatiaError`."""

from __future__ import annotations

from empatia.errors import EmpatiaError


class NotProducedError(EmpatiaError):
    """A table a view reads has not been produced (or holds no rows) yet: run the pipeline.

    Raised by :meth:`empatia.views.sections.Tables.need`; the HTTP API answers 409, a page
    section shows the message instead of made-up numbers (:func:`~empatia.views.sections.guarded`).
    """

    code = "not_produced"
    http_status = 409

    def __init__(self, stage: str, table: str, *, empty: bool = False) -> None:
        if empty:
            message = (f"The {stage} stage has produced no rows in {table} yet: "
                       "run `empatia run` after importing events.")  # fmt: skip
        else:
            message = f"The {stage} stage has not produced {table} yet: run `empatia run`."
        super().__init__(message, stage=stage, table=table)
