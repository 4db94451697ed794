"""Money keeps its currency: exchange rates the user provides, and conversion by the day.

Rates are stored per reporting currency (``base``): ``rate`` is how many units of
``currency`` one unit of ``base`` buys on ``day`` — the way central banks quote them
(``EUR → PLN 4.30``). An amount in PLN is worth ``amount / 4.30`` EUR. An amount converts
with the rate of its day, or the latest rate before it; with none, it is not converted (and
is never added to amounts in other currencies).

>>> currency_code(" pln ")
'PLN'
>>> missing_rate_message("EUR", ["PLN", "USD"])
'no EUR rate for PLN, USD: convert with `empatia rates import`'
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from empatia.errors import NotFoundError, ValidationError
from empatia.store import Store

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from empatia.store.engine import Engine

#: An ISO 4217 code: three capital letters.
CODE = re.compile(r"^[A-Z]{3}$")
COLUMNS = ("date", "currency", "rate")
#: Profile columns that are amounts in the profile's ``currency`` (the reporting currency).
MONEY_COLUMNS = ("revenue", "avg_order_value", "clv_12m")
DAY = 86400


@dataclass(frozen=True)
class Reporting:
    """The workspace's reporting currency, and what an order without a currency is in.

    >>> Reporting.from_settings(None).currency
    'EUR'
    """

    currency: str = "EUR"
    #: Orders without a ``currency`` are in the reporting currency (else: unknown, left out).
    assume_missing: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> Reporting:
        return cls(
            getattr(settings, "reporting_currency", cls.currency),
            getattr(settings, "orders_without_currency_in_reporting", cls.assume_missing),
        )


def currency_code(value: Any) -> str:
    """An ISO 4217 code, upper-cased; anything else is a :class:`ValidationError`."""
    code = str(value or "").strip().upper()
    if not CODE.match(code):
        raise ValidationError(
            f"{value!r} is not a currency code; use ISO 4217's three letters, e.g. EUR",
            value=value,
        )
    return code


def missing_rate_message(base: str, currencies: list[str]) -> str:
    """What a profile says when amounts could not be converted."""
    return f"no {base} rate for {', '.join(currencies)}: convert with `empatia rates import`"


def _parse_row(n: int, row: dict[str, str | None], base: str) -> tuple[str, date, str, float]:
    where = f"line {n}"
    try:
        day = date.fromisoformat((row.get("date") or "").strip())
    except ValueError as e:
        raise ValidationError(f"{where}: date {row.get('date')!r} is not YYYY-MM-DD") from e
    try:
        cur = currency_code(row.get("currency"))
    except ValidationError as e:
        raise ValidationError(f"{where}: {e}") from e
    try:
        rate = float((row.get("rate") or "").strip())
    except ValueError as e:
        raise ValidationError(f"{where}: rate {row.get('rate')!r} is not a number") from e
    if not math.isfinite(rate) or rate <= 0:
        raise ValidationError(f"{where}: rate {rate} must be a positive number")
    if cur == base:
        raise ValidationError(f"{where}: {cur} is the reporting currency (its rate is always 1)")
    return base, day, cur, rate


def read_rates_csv(path: str | Path, base: str) -> pa.Table:
    """Rows of a ``date,currency,rate`` CSV file, checked; the whole file or nothing."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"no rates file at {str(p)!r}", path=str(p))
    with p.open(newline="", encoding="utf-8-sig") as f:
        return parse_rates_csv(f, base, p.name)


def parse_rates_csv(lines: Iterable[str], base: str, name: str = "rates.csv") -> pa.Table:
    """Rows of ``date,currency,rate`` CSV text (``name`` names it in messages), checked."""
    base = currency_code(base)
    rows: dict[tuple[date, str], tuple[str, date, str, float]] = {}
    reader = csv.DictReader(lines)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if sorted(header) != sorted(COLUMNS):
        raise ValidationError(
            f"{name}: the header must be {','.join(COLUMNS)} (rate = units of the "
            f"currency per 1 {base}); found {','.join(header) or 'nothing'}",
            columns=header,
        )
    reader.fieldnames = header
    for n, row in enumerate(reader, start=2):
        parsed = _parse_row(n, row, base)
        rows[(parsed[1], parsed[2])] = parsed  # a later line for the same day wins
    if not rows:
        raise ValidationError(f"{name} has no rates")
    base_col, days, curs, rates = zip(*rows.values(), strict=True)
    return pa.table({"base": list(base_col), "day": list(days), "currency": list(curs),
                     "rate": list(rates)})  # fmt: skip


def import_rates(store: Store, path: str | Path, base: str) -> dict[str, Any]:
    """Add (or replace, same day and currency) the rates of a CSV file; returns what was stored."""
    return store_rates(store, read_rates_csv(path, base))


def import_rates_text(
    store: Store, text: str, base: str, name: str = "rates.csv"
) -> dict[str, Any]:
    """:func:`import_rates` for CSV text (a file the caller read, e.g. sent to the server)."""
    return store_rates(
        store, parse_rates_csv(io.StringIO(text.removeprefix("\ufeff"), newline=""), base, name)
    )


def store_rates(store: Store, data: pa.Table) -> dict[str, Any]:
    """Add (or replace, same day and currency) checked rates; returns what was stored."""
    with store.write() as cur:  # all or nothing
        cur.register("_emp_rates", data)
        cur.execute(
            "delete from exchange_rates r using _emp_rates n"
            " where r.base = n.base and r.currency = n.currency and r.day = n.day"
        )
        cur.execute("insert into exchange_rates by name select * from _emp_rates")
    days = data.column("day").to_pylist()
    return {"rates": data.num_rows, "base": data.column("base")[0].as_py(),
            "currencies": sorted(set(data.column("currency").to_pylist())),
            "from": min(days), "to": max(days)}  # fmt: skip


def list_rates(store: Store) -> list[dict[str, Any]]:
    """Per reporting currency and currency: how many days, the first and the latest rate."""
    with store.read() as cur:
        rows = cur.execute(
            "select base, currency, count(*), min(day), max(day), arg_max(rate, day)"
            " from exchange_rates group by all order by base, currency"
        ).fetchall()
    return [{"base": b, "currency": c, "days": n, "from": f, "to": t, "latest": r}
            for b, c, n, f, t, r in rows]  # fmt: skip


def daily_rates(eng: Engine, base: str, first_day: int, last_day: int) -> ir.Table:
    """``(currency, day, rate, rate_date)`` for every day (days since 1970) in the range.

    Each day carries the rate of that day or the latest one before it; days before a
    currency's first rate have no row, so amounts on them stay unconverted. Made on the engine
    (each rate spread over the days until the currency's next one): on Spark no row of it
    crosses the driver.
    """
    import ibis  # not at import: the CLI's start reads this module

    r = eng.table("exchange_rates")
    r = r.filter(r.base == base).mutate(start=r.day.epoch_days().cast("int64"))
    r = r.mutate(upto=r.start.lead().over(ibis.window(group_by="currency", order_by="day")))
    end = last_day + 1  # a rate holds until the currency's next one, or past the range
    r = r.mutate(lo=ibis.greatest(r.start, first_day), hi=ibis.least(r.upto.fill_null(end), end))
    r = r.filter(r.hi > r.lo)
    return r.select("currency", day=ibis.range(r.lo, r.hi).unnest().cast("int64"), rate=r.rate,
                    rate_date=r.day)  # fmt: skip


def rates_fingerprint(store: Store, base: str) -> str:
    """Changes whenever the rates for ``base`` change (profiles rebuild then)."""
    with store.read() as cur:
        row = cur.execute(
            "select count(*) || ':' || coalesce(bit_xor(hash(currency, day, rate)), 0)"
            " from exchange_rates where base = ?",
            [base],
        ).fetchone()
    return f"{base}:{row[0] if row else ''}"
