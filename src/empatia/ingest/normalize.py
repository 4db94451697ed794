"""Validation and normalisation of Segment-shaped events, in SQL, shared by every path in.

HTTP requests and imported files both land in a *staging* relation with the columns
``(batch int, idx int, raw varchar, source varchar, received_at timestamptz,
default_type varchar, fallback_id varchar)`` — one row per event, ``raw`` the event's JSON
text exactly as received. :func:`reject_sql` lists what is wrong with each row (or nothing);
:func:`rows_sql` turns the good rows into rows of the ``events`` table. Keeping one SQL
definition means the bulk import (DuckDB parses in parallel) and the HTTP server can never
disagree about what a valid event is.

Rules, after the Segment tracking spec (https://segment.com/docs/connections/spec/):

- an event is a JSON object of at most ``max_event_bytes`` bytes;
- ``type`` is one of track, identify, page, screen, group, alias (the endpoint gives it when
  the body does not);
- ``userId`` or ``anonymousId`` is present (strings or numbers; numbers become strings);
- ``track`` needs a non-empty ``event`` name; ``alias`` needs ``userId`` and ``previousId``;
  ``group`` needs ``groupId``;
- ``properties``, ``traits``, ``context`` and ``integrations`` are objects when present;
- ``timestamp``, ``originalTimestamp`` and ``sentAt`` are ISO-8601 date-times when present.

Clock skew is corrected as Segment does: ``timestamp = receivedAt − (sentAt − timestamp)``
when the client sent ``sentAt``; the client's own value is kept as ``original_timestamp``.
"""

from __future__ import annotations

EVENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")

_ID_TYPES = "('VARCHAR','BIGINT','UBIGINT','DOUBLE')"


def _id(field: str) -> str:
    """A Segment id as text: strings as they are, numbers printed; '' counts as absent."""
    return (
        f"nullif(trim(case when json_type(raw, '$.{field}') = 'VARCHAR' "
        f"then raw ->> '$.{field}' "
        f"when json_type(raw, '$.{field}') in {_ID_TYPES} then json_extract(raw, '$.{field}')::varchar "
        f"end), '')"
    )


def _bad_time(field: str) -> str:
    return (
        f"(json_type(raw, '$.{field}') is not null and json_type(raw, '$.{field}') <> 'NULL' and "
        f"(json_type(raw, '$.{field}') <> 'VARCHAR' or "
        f"try_cast(raw ->> '$.{field}' as timestamptz) is null))"
    )


def _not_object(field: str) -> str:
    return (
        f"(json_type(raw, '$.{field}') is not null and "
        f"json_type(raw, '$.{field}') not in ('OBJECT', 'NULL'))"
    )


def _type_expr() -> str:
    return "coalesce(raw ->> '$.type', default_type)"


def reject_sql(staging: str, max_event_bytes: int) -> str:
    """SQL listing ``(batch, idx, reason)`` for every invalid row of ``staging``."""
    types = ", ".join(f"'{t}'" for t in EVENT_TYPES)
    t = _type_expr()
    checks = [
        ("not json_valid(raw)", "'malformed JSON'"),
        ("json_type(raw) <> 'OBJECT'", "'an event must be a JSON object'"),
        (
            f"octet_length(raw::blob) > {max_event_bytes}",
            f"'event is ' || octet_length(raw::blob) || ' bytes; the limit is {max_event_bytes}'",
        ),
        (
            f"{t} is null or {t} not in ({types})",
            f"'type ' || coalesce('\"' || {t} || '\"', 'is missing') || ' — must be one of {', '.join(EVENT_TYPES)}'",
        ),
        (
            "json_type(raw, '$.userId') not in ('VARCHAR','BIGINT','UBIGINT','DOUBLE','NULL')",
            "'userId must be a string'",
        ),
        (
            "json_type(raw, '$.anonymousId') not in ('VARCHAR','BIGINT','UBIGINT','DOUBLE','NULL')",
            "'anonymousId must be a string'",
        ),
        (
            f"{_id('userId')} is null and {_id('anonymousId')} is null",
            "'missing both userId and anonymousId'",
        ),
        (
            f"{t} = 'track' and (json_type(raw, '$.event') is distinct from 'VARCHAR' "
            "or trim(raw ->> '$.event') = '')",
            "'track needs an event name (a non-empty string in \"event\")'",
        ),
        (
            f"{t} = 'alias' and ({_id('userId')} is null or {_id('previousId')} is null)",
            "'alias needs both userId and previousId'",
        ),
        (f"{t} = 'group' and {_id('groupId')} is null", "'group needs a groupId'"),
    ]
    for field in ("properties", "traits", "context", "integrations"):
        checks.append((_not_object(field), f"'{field} must be an object'"))
    for field in ("timestamp", "originalTimestamp", "sentAt"):
        checks.append((_bad_time(field), f"'{field} must be an ISO-8601 date-time'"))
    checks.append(
        (
            "json_type(raw, '$.messageId') is not null and "
            "json_type(raw, '$.messageId') not in ('VARCHAR', 'NULL')",
            "'messageId must be a string'",
        )
    )
    # The first failing check is the reason.
    case = "case " + " ".join(f"when {cond} then {reason}" for cond, reason in checks) + " end"
    # Later checks read ``raw`` through a JSON-safe copy: DuckDB evaluates every branch of a
    # CASE, so a malformed row must not reach json_type().
    safe = (
        f"(select batch, idx, default_type, raw as text, "
        f"case when json_valid(raw) then raw else 'null' end as raw from {staging})"
    )
    case = case.replace("json_valid(raw)", "json_valid(text)").replace(
        "octet_length(raw::blob)", "octet_length(text::blob)"
    )
    return (
        f"select batch, idx, reason from (select batch, idx, {case} as reason from {safe}) "
        "where reason is not null"
    )


def rows_sql(staging: str) -> str:
    """SQL turning valid rows of ``staging`` into ``events`` rows, one per message id."""
    orig = "try_cast(coalesce(raw ->> '$.timestamp', raw ->> '$.originalTimestamp') as timestamptz)"
    sent = "try_cast(raw ->> '$.sentAt' as timestamptz)"
    return f"""
    select
        coalesce(raw ->> '$.messageId', fallback_id) as message_id,
        {_type_expr()} as type,
        raw ->> '$.event' as event,
        raw ->> '$.name' as name,
        {_id('userId')} as user_id,
        {_id('anonymousId')} as anonymous_id,
        {_id('previousId')} as previous_id,
        {_id('groupId')} as group_id,
        case
            when {orig} is null then received_at
            when {sent} is null then {orig}
            else received_at - ({sent} - {orig})
        end as "timestamp",
        {orig} as original_timestamp,
        {sent} as sent_at,
        received_at,
        source,
        raw::json as raw
    from {staging}
    qualify row_number() over (
        partition by coalesce(raw ->> '$.messageId', fallback_id) order by batch, idx) = 1
    """


INSERT_COLUMNS = (
    "message_id, type, event, name, user_id, anonymous_id, previous_id, group_id, "
    '"timestamp", original_timestamp, sent_at, received_at, source, raw'
)


def insert_sql(staging: str) -> str:
    """Insert the valid, new rows of ``staging`` into ``events``; retries insert nothing."""
    return (
        f"insert or ignore into events ({INSERT_COLUMNS}) "
        f"select * from ({rows_sql(staging)})"
    )
