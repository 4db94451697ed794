"""Validation and normalisation of Segment-shaped events, in SQL, shared by every path in.

HTTP requests and imported files both become a *staging* relation with the columns
``(batch int, idx bigint, text varchar, source varchar, received_at timestamptz,
default_type varchar, fallback_id varchar)`` — one row per event, ``text`` the event's JSON
exactly as received, ``fallback_id`` the message id to use when the event has none (NULL:
``h-`` + MD5 of the text, so the same event imported twice is stored once). :func:`parse_sql` parses each row once; :func:`reject_sql` lists what is
wrong with each parsed row; :func:`insert_sql` appends the good, new rows to ``events``.
One SQL definition means the bulk import (DuckDB parses in parallel) and the HTTP server can
never disagree about what a valid event is.

Rules, after the Segment tracking spec (https://segment.com/docs/connections/spec/):

- an event is a JSON object of at most ``max_event_bytes`` bytes;
- ``type`` is one of track, identify, page, screen, group, alias (the endpoint gives it when
  the body does not);
- ``userId`` or ``anonymousId`` is present (strings or numbers; numbers become strings);
- ``track`` needs a non-empty ``event`` name; ``alias`` needs ``userId`` and ``previousId``;
  ``group`` needs ``groupId``;
- ``properties``, ``traits``, ``context`` and ``integrations`` are objects when present;
- ``timestamp``, ``originalTimestamp`` and ``sentAt`` are ISO-8601 date-times when present;
- ids (``userId``, ``anonymousId``, ``previousId``, ``groupId``) hold no control character and
  are not blank (``""`` counts as absent, as RudderStack sends it);
- the event's time, after clock-skew correction, lies between :data:`EARLIEST` and a day after
  it was received;
- the known properties of :data:`KNOWN` have their documented type (``docs/tracking-plan.md``).

Clock skew is corrected as Segment does: ``timestamp = receivedAt − (sentAt − timestamp)``
when the client sent ``sentAt``; the client's own value is kept as ``original_timestamp``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EVENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")
ID_FIELDS = ("userId", "anonymousId", "previousId", "groupId")
#: An event's time (after skew correction) is refused before this or a day after receipt.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
TOO_EARLY = f"the event's time is before {EARLIEST:%Y-%m-%d} (after clock-skew correction)"
TOO_LATE = "the event's time is more than a day ahead of the server (after clock-skew correction)"
#: Control characters (Unicode category Cc), refused in ids.
CONTROL = "[\\x00-\\x1f\\x7f-\\x9f]"
#: What a known property must look like (``docs/tracking-plan.md``); an event breaking a rule
#: is refused with ``PATH must be RULE``. ``products`` is checked item by item.
RULES = {
    "amount": "a number ≥ 0",
    "number": "a number",
    "rating": "a number from 1 to 5",
    "currency": "a 3-letter ISO 4217 code",
    "string": "a string",
    "products": "an array of objects",
}
KNOWN = (
    ("properties.total", "amount"), ("properties.revenue", "amount"),
    ("properties.price", "amount"), ("properties.quantity", "amount"),
    ("properties.wait_seconds", "amount"), ("properties.duration_seconds", "amount"),
    ("properties.currency", "currency"), ("properties.rating", "rating"),
    ("properties.score", "number"), ("properties.text", "string"),
    ("properties.comment", "string"), ("properties.email", "string"),
    ("traits.email", "string"), ("context.traits.email", "string"),
    ("properties.products", "products"),
)  # fmt: skip
#: Fields of each ``properties.products`` item and their rule.
PRODUCT_FIELDS = (("price", "amount"), ("quantity", "amount"))

# Fields read as text, parsed once per event (1-based positions in the list ``s``).
_TEXT = (
    "type", "event", "userId", "anonymousId", "messageId", "timestamp", "sentAt", "name",
    "previousId", "groupId", "originalTimestamp", *(p for p, _ in KNOWN),
)  # fmt: skip
# Fields whose JSON type is checked (positions in the list ``ty``).
_TYPED = (
    "", "type", "userId", "anonymousId", "properties", "traits", "context", "integrations",
    "messageId", "event", "timestamp", "sentAt", "originalTimestamp", "previousId", "groupId",
    *(p for p, _ in KNOWN),
)  # fmt: skip


def _s(field: str) -> str:
    return f"s[{_TEXT.index(field) + 1}]"


def _ty(field: str) -> str:
    return f"ty[{_TYPED.index(field) + 1}]"


def _paths(fields: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'$.{f}'" if f else "'$'" for f in fields) + "]"


def _id(field: str) -> str:
    """A Segment id as text ('' counts as absent); numbers are accepted and printed."""
    return f"nullif(trim({_s(field)}, ' '), '')"


def parse_sql(staging: str) -> str:
    """Parse each staged event once into lists of fields (``s``) and JSON types (``ty``)."""
    return f"""
    select batch, idx, source, received_at, default_type, fallback_id, text, ok,
        case when ok then json_extract_string(text, {_paths(_TEXT)}) end as s,
        case when ok then json_type(text, {_paths(_TYPED)}) end as ty
    from (select *, json_valid(text) as ok from {staging})
    """


_ID_TYPES = ("VARCHAR", "BIGINT", "UBIGINT")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(expr: str, values: tuple[str, ...]) -> str:
    """``expr IN (values)`` as a scalar function: DuckDB plans an IN list as a join, which
    costs milliseconds per small group commit."""
    return "list_contains([" + ", ".join(f"'{v}'" for v in values) + f"], {expr})"


def _type_expr() -> str:
    return f"coalesce({_s('type')}, default_type)"


def _bad_time(field: str) -> str:
    return (
        f"({_ty(field)} is not null and {_ty(field)} <> 'NULL' and "
        f"({_ty(field)} <> 'VARCHAR' or try_cast({_s(field)} as timestamptz) is null))"
    )


def _not(field: str, allowed: tuple[str, ...]) -> str:
    return f"({_ty(field)} is not null and not {_in(_ty(field), allowed)})"


_NUMBERS = ("BIGINT", "UBIGINT", "DOUBLE")


def _breaks(rule: str, ty: str, s: str) -> str:
    """SQL true when a JSON value (its type ``ty``, its text ``s``) breaks ``rule``."""
    num = f"try_cast({s} as double)"
    ok = {
        "number": f"{_in(ty, _NUMBERS)} and isfinite({num})",
        "string": f"{ty} = 'VARCHAR'",
        "currency": f"{ty} = 'VARCHAR' and regexp_full_match({s}, '[A-Za-z]{{3}}')",
        "products": f"{ty} = 'ARRAY'",
    }
    ok["amount"] = f"{ok['number']} and {num} >= 0"
    ok["rating"] = f"{ok['number']} and {num} between 1 and 5"
    return f"({ty} is not null and {ty} <> 'NULL' and not coalesce({ok[rule]}, false))"


def _property_checks() -> list[tuple[str, str]]:
    checks = []
    for path, rule in KNOWN:
        checks.append((_breaks(rule, _ty(path), _s(path)), f"'{path} must be {RULES[rule]}'"))
        if rule == "products":
            items = f"json_type(text, '$.{path}[*]')"
            checks.append((
                f"{_ty(path)} = 'ARRAY' and list_contains(list_transform({items}, "
                "lambda t: t = 'OBJECT'), false)",
                f"'{path} must be {RULES[rule]}'",
            ))  # fmt: skip
            for field, frule in PRODUCT_FIELDS:
                values = f"json_extract(text, '$.{path}[*].{field}')"
                bad = _breaks(frule, "json_type(v)", "json_extract_string(v, '$')")
                checks.append((
                    f"{_ty(path)} = 'ARRAY' and list_bool_or(list_transform({values}, "
                    f"lambda v: {bad}))",
                    f"'{path}[].{field} must be {RULES[frule]}'",
                ))  # fmt: skip
    return checks


def _us(expr: str) -> str:
    return f"epoch_us({expr})"


def _event_us() -> str:
    """The event's time in µs since 1970 after clock-skew correction, NULL without one.

    In integers: a far-off ``sentAt`` (a phone whose clock reset to 0001) cannot overflow.
    """
    orig = f"try_cast(coalesce({_s('timestamp')}, {_s('originalTimestamp')}) as timestamptz)"
    sent = f"try_cast({_s('sentAt')} as timestamptz)"
    return (
        f"case when {orig} is null then null when {sent} is null then {_us(orig)} "
        f"else {_us('received_at')} - ({_us(sent)} - {_us(orig)}) end"
    )


def reject_sql(parsed: str, max_event_bytes: int) -> str:
    """SQL listing ``(batch, idx, reason)`` for every invalid row of ``parsed``."""
    t = _type_expr()
    checks = [
        ("not ok", "'malformed JSON'"),
        (f"{_ty('')} <> 'OBJECT'", "'an event must be a JSON object'"),
        (
            f"strlen(text) > {max_event_bytes}",
            f"'event is ' || strlen(text) || ' bytes; the limit is {max_event_bytes}'",
        ),
        (
            f"{t} is null or not {_in(t, EVENT_TYPES)}",
            f"'type ' || case when {_ty('type')} = 'VARCHAR' or {_ty('type')} is null "
            f"or {_ty('type')} = 'NULL' then coalesce('\"' || {t} || '\"', 'is missing') "
            f"else 'must be a string' end || ' (one of {', '.join(EVENT_TYPES)})'",
        ),
        (_not("userId", (*_ID_TYPES, "NULL")), "'userId must be a string'"),
        (_not("anonymousId", (*_ID_TYPES, "NULL")), "'anonymousId must be a string'"),
        *[(f"regexp_matches({_s(f)}, '{CONTROL}')", f"'{f} holds a control character'")
          for f in ID_FIELDS],
        *[(f"{_s(f)} <> '' and trim({_s(f)}, ' ') = ''", f"'{f} is blank'") for f in ID_FIELDS],
        (
            f"{_id('userId')} is null and {_id('anonymousId')} is null",
            "'missing both userId and anonymousId'",
        ),
        (
            f"{t} = 'track' and ({_ty('event')} is distinct from 'VARCHAR' "
            f"or trim({_s('event')}, ' ') = '')",
            "'track needs an event name (a non-empty string in \"event\")'",
        ),
        (
            f"{t} = 'alias' and ({_id('userId')} is null or {_id('previousId')} is null)",
            "'alias needs both userId and previousId'",
        ),
        (f"{t} = 'group' and {_id('groupId')} is null", "'group needs a groupId'"),
    ]
    for field in ("properties", "traits", "context", "integrations"):
        checks.append((_not(field, ("OBJECT", "NULL")), f"'{field} must be an object'"))
    for field in ("timestamp", "originalTimestamp", "sentAt"):
        checks.append((_bad_time(field), f"'{field} must be an ISO-8601 date-time'"))
    earliest = int(EARLIEST.timestamp()) * 1_000_000
    slack = int(FUTURE_SLACK.total_seconds()) * 1_000_000
    checks.append((f"{_event_us()} < {earliest}", _lit(TOO_EARLY)))
    checks.append((f"{_event_us()} > {_us('received_at')} + {slack}", _lit(TOO_LATE)))
    checks.append((_not("messageId", ("VARCHAR", "NULL")), "'messageId must be a string'"))
    checks += _property_checks()
    case = "case " + " ".join(f"when {c} then {r}" for c, r in checks) + " end"
    return (
        f"select batch, idx, reason from (select batch, idx, {case} as reason from {parsed}) "
        "where reason is not null"
    )


INSERT_COLUMNS = (
    "message_key, message_id, type, event, name, user_id, anonymous_id, previous_id, "
    'group_id, "timestamp", original_timestamp, sent_at, received_at, source, raw'
)


def insert_sql(parsed: str, where: str = "true") -> str:
    """Append the rows of ``parsed`` matching ``where`` to ``events``, each message id once.

    A message id already stored (a client retry, a file imported twice) is skipped, and so is
    a repeat within the same statement (``insert or ignore`` keeps the first).
    """
    mid = f"coalesce(nullif({_s('messageId')}, ''), fallback_id, 'h-' || md5(text))"
    orig = f"try_cast(coalesce({_s('timestamp')}, {_s('originalTimestamp')}) as timestamptz)"
    sent = f"try_cast({_s('sentAt')} as timestamptz)"
    return f"""
    insert or ignore into events ({INSERT_COLUMNS})
    select md5_number(mid), mid, type, event, name, user_id, anonymous_id, previous_id,
        group_id,
        case when orig is null then received_at
             when sent is null then orig
             else received_at - (sent - orig) end,
        orig, sent, received_at, source, text
    from (
        select {mid} as mid, {_type_expr()} as type, {_s('event')} as event,
            {_s('name')} as name, {_id('userId')} as user_id,
            {_id('anonymousId')} as anonymous_id, {_id('previousId')} as previous_id,
            {_id('groupId')} as group_id, {orig} as orig, {sent} as sent,
            received_at, source, text, batch, idx
        from {parsed} where {where}
    )
    """
