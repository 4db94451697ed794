"""Audiences: people chosen by profile and experience, sized at once, exported with consent.

Filters are fixed, named and parameterised (no free SQL): :class:`AudienceFilters`. Choosing
people for targeting by what is predicted about them (``p_alive``, value, mood, …) is
profiling, so every function here fails closed on consent:

- an audience holds only people whose consent allows privacy's ``audience`` use (now);
- its export holds only those who also allow the chosen purpose (``audience_export``), and
  every export is written to the privacy audit log before it is handed back;
- without the consent view (``consent_current``) nobody is in any audience.

A filter whose stage has not run yet (mood needs ``experience_trajectories``, …) is left
out and named in :attr:`AudienceSize.ignored`.

>>> from empatia.store import Store
>>> with Store(":memory:") as s:
...     size(s, AudienceFilters(market="PL"))
Traceback (most recent call last):
...
empatia.views.exceptions.NotProducedError: The profiles stage has produced no rows in profiles yet: run `empatia run` after importing events.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, get_args

import duckdb
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from empatia.errors import ForbiddenError, ValidationError
from empatia.privacy.consent import use_sql
from empatia.store import Store
from empatia.views.sections import Tables, table_names

__all__ = [
    "CHOICES", "DIRECTIONS", "EXPORT_COLUMNS", "MEMBER_COLUMNS", "PURPOSES", "AudienceFilters",
    "AudienceSize", "as_csv", "export", "members", "options", "size",
]  # fmt: skip

Purpose = Literal[
    "marketing_email", "marketing_sms", "marketing_push", "personalisation", "partner_sharing"
]
Direction = Literal["improving", "worsening", "steady"]
#: The purposes an audience may be exported for (the destination's consent is checked too).
PURPOSES: tuple[str, ...] = get_args(Purpose)
DIRECTIONS: tuple[str, ...] = get_args(Direction)
#: Profile columns an audience is chosen by, value for value.
CHOICES = ("market", "language", "tier", "preferred_channel")
#: What a member listing shows: no contact details (those are the export's, admin only).
MEMBER_COLUMNS = ("person_id", "market", "language", "tier", "preferred_channel", "orders",
                  "revenue", "currency", "recency_days", "p_alive")  # fmt: skip
#: What an export holds: who may be contacted and how.
EXPORT_COLUMNS = ("person_id", "first_name", "last_name", "email", "phone", "market", "language",
                  "preferred_channel")  # fmt: skip
_NUMBERS = {"min_orders": "p.orders >= ?", "min_revenue": "p.revenue >= ?",
            "max_recency": "p.recency_days <= ?", "min_p_alive": "p.p_alive >= ?"}  # fmt: skip
_YES = ("vip", "hurt", "open_case", "care")


class AudienceFilters(BaseModel):
    """Who is in an audience (every filter given must hold) and the export's purpose.

    >>> AudienceFilters.from_query({"market": "PL", "min_orders": "2", "vip": "yes",
    ...                             "min_revenue": "", "direction": "sideways"})
    AudienceFilters(market='PL', language=None, tier=None, preferred_channel=None, min_orders=2.0, min_revenue=None, max_recency=None, min_p_alive=None, max_mood=None, direction=None, vip=True, hurt=False, open_case=False, care=False, action=None, purpose='marketing_email')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    market: str | None = None
    language: str | None = None
    tier: str | None = None
    preferred_channel: str | None = None
    min_orders: float | None = Field(None, description="At least this many orders")
    min_revenue: float | None = Field(None, description="Revenue at least (reporting currency)")
    max_recency: float | None = Field(None, description="Last order within this many days")
    min_p_alive: float | None = Field(None, description="Chance still active at least (0–1)")
    max_mood: float | None = Field(None, description="Recent mood at most (−1…1)")
    direction: Direction | None = Field(None, description="Mood trend")
    vip: bool = False
    hurt: bool = Field(False, description="Had a journey that succeeded but hurt")
    open_case: bool = Field(False, description="Has an open service case")
    care: bool = Field(False, description="Is on the special-care list")
    action: str | None = Field(None, description="Next best action")
    purpose: Purpose = Field("marketing_email", description="What the export is for")

    @classmethod
    def from_query(cls, q: Mapping[str, str]) -> AudienceFilters:
        """The web form's query string, read as a form needs: empty, unknown and unreadable
        filters are ignored (``yes`` switches a yes/no filter on); an unknown purpose is an
        error, never a silent default."""
        values: dict[str, Any] = {c: q[c] for c in (*CHOICES, "action") if q.get(c)}
        for name in (*_NUMBERS, "max_mood"):
            v = _num(q.get(name))
            if v is not None:
                values[name] = v
        values.update({name: True for name in _YES if q.get(name) == "yes"})
        if q.get("direction") in DIRECTIONS:
            values["direction"] = q["direction"]
        purpose = q.get("purpose") or "marketing_email"
        if purpose not in PURPOSES:
            raise ValidationError(f"unknown purpose {purpose!r}; use one of {', '.join(PURPOSES)}",
                                  purpose=purpose)  # fmt: skip
        return cls(**values, purpose=purpose)


def _num(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


class AudienceSize(BaseModel):
    """How many people an audience holds and how many of them may be exported now."""

    people: int = Field(description="In the audience (their consent allows the audience use)")
    reachable: int = Field(description="Of them, allowing the export's purpose now")
    revenue: float | None = Field(description="Their revenue so far, in the reporting currency")
    unconverted: int = Field(description="Of them, buyers whose amounts have no rate")
    currency: str | None
    unconverted_all: int = Field(description="Buyers in the store whose amounts have no rate")
    everyone: int = Field(description="People in the store")
    purpose: str
    consent_known: bool = True
    ignored: tuple[str, ...] = Field((), description="Filters left out: their stage has not run")


class _Where:
    """An audience's filters as SQL over ``profiles p`` with its parameters."""

    def __init__(self, f: AudienceFilters, tables: frozenset[str]) -> None:
        self.parts, self.params, self.ignored = ["true"], list[Any](), list[str]()
        for col in CHOICES:
            if getattr(f, col):
                self.add(f"p.{col} = ?", getattr(f, col))
        for name, sql in _NUMBERS.items():
            if getattr(f, name) is not None:
                self.add(sql, getattr(f, name))
        if f.vip:
            self.add("lower(coalesce(p.vip, '')) in ('true', 'yes', '1')")
        subsets = (
            ("direction", f.direction, "experience_trajectories", "direction = ?"),
            ("max_mood", f.max_mood, "experience_trajectories", "recent <= ?"),
            ("hurt", f.hurt or None, "experience_journeys", "succeeded_but_hurt"),
            ("open_case", f.open_case or None, "experience_journeys",
             "not coalesce(resolved, false)"),
            ("care", f.care or None, "care_list", "true"),
            ("action", f.action, "decisions", "action = ?"),
        )  # fmt: skip
        for name, value, table, cond in subsets:
            if value is None:
                continue
            if table not in tables:
                self.ignored.append(name)
                continue
            sql = f"p.person_id in (select person_id from {table} where {cond})"
            self.add(sql, *([value] if "?" in cond else []))

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    def members(self) -> str:
        """The filters plus the consent the audience use needs."""
        return " and ".join([*self.parts, use_sql("audience", "p.person_id")])


@contextmanager
def _reading(source: Store | duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor to read with: the given one, or a new one on the store (closed after)."""
    if isinstance(source, Store):
        cur = source.cursor()
        try:
            yield cur
        finally:
            cur.close()
    else:
        yield source


def _audience(cur: duckdb.DuckDBPyConnection, f: AudienceFilters, *, empty_ok: bool = False
              ) -> _Where:  # fmt: skip
    """The audience's SQL, once profiles (with rows, unless ``empty_ok``) and the consent
    view are there (fail closed)."""
    t = Tables(cur)
    t.need("profiles", "profiles", rows=not empty_ok)
    t.need("privacy", "consent_current", rows=False)  # consent unknown: nobody is in any audience
    return _Where(f, t.names)


def size(source: Store | duckdb.DuckDBPyConnection, filters: AudienceFilters) -> AudienceSize:
    """The audience's size, its revenue and how many of it allow ``filters.purpose`` now.

    Raises :class:`~empatia.views.exceptions.NotProducedError` before profiles and the consent view exist."""
    with _reading(source) as cur:
        w = _audience(cur, filters)
        export_ok = use_sql("audience_export", "p.person_id", destination=filters.purpose)
        row = cur.execute(
            f"select count(*), count(*) filter (where {export_ok}), sum(p.revenue),"
            " count(*) filter (where p.revenue is null and p.orders > 0),"
            " (select any_value(currency) from profiles),"
            " (select count(*) from profiles where revenue is null and orders > 0),"
            f" (select count(*) from profiles) from profiles p where {w.members()}", w.params,
        ).fetchall()[0]  # fmt: skip
    people, reachable, revenue, unconverted, currency, unconverted_all, everyone = row
    return AudienceSize(people=people, reachable=reachable, revenue=revenue,
                        unconverted=unconverted, currency=currency,
                        unconverted_all=unconverted_all, everyone=everyone,
                        purpose=filters.purpose, ignored=tuple(w.ignored))  # fmt: skip


def members(source: Store | duckdb.DuckDBPyConnection, filters: AudienceFilters, *,
            limit: int = 1000, offset: int = 0) -> pa.Table:  # fmt: skip
    """The audience's people by ``person_id`` (:data:`MEMBER_COLUMNS`: no contact details),
    a page at a time."""
    with _reading(source) as cur:
        w = _audience(cur, filters)
        return cur.sql(
            f"select {', '.join('p.' + c for c in MEMBER_COLUMNS)} from profiles p"
            f" where {w.members()} order by p.person_id limit ? offset ?",
            params=[*w.params, limit, offset],
        ).to_arrow_table()


def export(store: Store, filters: AudienceFilters, *, actor: str, via: str = "") -> pa.Table:
    """The audience's people who allow ``filters.purpose`` now, with their contact details
    (:data:`EXPORT_COLUMNS`), ordered by ``person_id``.

    The export is written to the privacy audit log (as ``actor``: ``key:k_…``, ``cli``; ``via``
    names the door it went out by: ``web``, ``api``) before it is returned: an export that cannot be logged is not handed out. Raises
    :class:`~empatia.errors.ForbiddenError` while consent is unknown (no privacy stage yet).
    """
    from empatia.privacy import audit

    with _reading(store) as cur:
        tables = table_names(cur)
        if "consent_current" not in tables:
            raise ForbiddenError("no consent records yet (privacy stage): nothing may be exported")
        w = _audience(cur, filters, empty_ok=True)
        allowed = use_sql("audience_export", "p.person_id", destination=filters.purpose)
        table: pa.Table = cur.sql(
            f"select {', '.join('p.' + c for c in EXPORT_COLUMNS)} from profiles p"
            f" where {w.members()} and {allowed} order by p.person_id", params=w.params,
        ).to_arrow_table()  # fmt: skip
    audit.log(store, actor, "export", None,
              f"{via + ' ' if via else ''}audience: {table.num_rows} people for {filters.purpose}")  # fmt: skip
    return table


def options(source: Store | duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The values the choice filters can take (most common first), the reporting currency
    (the unit of ``min_revenue``) and the next best actions decided so far."""
    out: dict[str, list[str]] = {}
    with _reading(source) as cur:
        tables = table_names(cur)
        if "profiles" in tables:
            for col in CHOICES:
                out[col] = [r[0] for r in cur.execute(
                    f"select {col} from profiles where {col} is not null"
                    " group by 1 order by count(*) desc limit 40").fetchall()]  # fmt: skip
            out["currency"] = [r[0] for r in cur.execute(
                "select currency from profiles where currency is not null limit 1").fetchall()]  # fmt: skip
        if "decisions" in tables:
            out["action"] = [r[0] for r in cur.execute(
                "select action from decisions group by 1 order by count(*) desc").fetchall()]  # fmt: skip
    return out


def as_csv(table: pa.Table, columns: Sequence[str] | None = None) -> str:
    """``table`` (its ``columns``, all by default) as CSV with a header row; a missing value
    is an empty field."""
    names = list(columns or table.column_names)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(names)
    w.writerows(zip(*(table.column(c).to_pylist() for c in names), strict=True))
    return buf.getvalue()
