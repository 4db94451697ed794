"""Pushing alerts to people: alert sinks (webhooks built in), signing, retries, delivery log.

Each alert goes to each active webhook (created before the alert, ``min_score`` met) until
one attempt succeeds (2xx). Failed attempts are retried with exponential backoff
(``backoff_seconds`` × 2ⁿ) up to ``max_attempts``, then given up; every attempt is a row of
``care_deliveries``. A delivered (alert, webhook) pair is never sent again; the body carries
the alert's idempotency key (also in the ``Idempotency-Key`` header) so a receiver can drop
the rare duplicate a crash between sending and logging could cause.

The body is JSON, signed like Stripe's webhooks::

    X-Empatia-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

>>> body = b'{"a":1}'
>>> header = sign(body, "s3cret", timestamp=1700000000)
>>> verify_signature(body, header, "s3cret", now=1700000100)
True
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import duckdb
import httpx
import orjson

from empatia.care.config import DeliverySettings
from empatia.care.exceptions import UnknownSinkError, WebhookNotFoundError, WebhookURLError
from empatia.plugins import Registry

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Empatia-Signature"


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(body: bytes, header: str, secret: str, tolerance_s: int = 300,
                     now: int | None = None) -> bool:  # fmt: skip
    """What a receiver does: recompute the HMAC and check the time is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((int(time.time()) if now is None else now) - t) > tolerance_s:
        return False
    expected = sign(body, secret, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass(frozen=True)
class Outcome:
    ok: bool
    http_status: int | None = None
    error: str | None = None


class Sink(Protocol):
    """Something that can carry an alert body somewhere (a webhook, a chat, a queue)."""

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome: ...


class WebhookSink:
    """HTTP POST of the JSON body; any 2xx answer is a delivery."""

    def __init__(self, timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        try:
            r = self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as e:
            return Outcome(False, None, f"{type(e).__name__}: {e}"[:300])
        if 200 <= r.status_code < 300:
            return Outcome(True, r.status_code)
        return Outcome(False, r.status_code, r.text[:300])


#: Alert sinks by kind: the ``empatia.sinks`` entry points, the built-in webhook included.
SINKS: Registry[Callable[[DeliverySettings], Sink]] = Registry("empatia.sinks")


def register_sink(kind: str, factory: Callable[[DeliverySettings], Sink]) -> None:
    """Make ``factory(settings)`` the sink for webhooks of ``kind`` in this process (a package
    registers one for good as an ``empatia.sinks`` entry point)."""
    SINKS.add(kind, factory)


def webhook_sink(settings: DeliverySettings) -> Sink:
    """The built-in sink: an HTTPS POST signed with the webhook's secret."""
    return WebhookSink(settings.timeout_seconds)


# -- webhooks ------------------------------------------------------------------------------
def add_webhook(con: duckdb.DuckDBPyConnection, url: str, secret: str | None = None,
                min_score: float = 0.0, kind: str = "webhook") -> dict[str, Any]:  # fmt: skip
    """Register a webhook; returns it with its signing secret (shown this once)."""
    if not url.startswith(("http://", "https://")):
        raise WebhookURLError(url)
    if kind not in SINKS:
        raise UnknownSinkError(kind, list(SINKS))
    webhook_id = "wh_" + secrets.token_hex(4)
    secret = secret or "whsec_" + secrets.token_urlsafe(24)
    con.execute(
        "insert into care_webhooks (webhook_id, kind, url, secret, min_score) values (?,?,?,?,?)",
        [webhook_id, kind, url, secret, min_score],
    )
    return {
        "webhook_id": webhook_id,
        "kind": kind,
        "url": url,
        "secret": secret,
        "min_score": min_score,
    }


def list_webhooks(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Webhooks with their delivery counts (never their secrets)."""
    cur = con.execute("""
        select w.webhook_id, w.kind, w.url, w.min_score, w.active, w.created_at,
               count(*) filter (where d.status = 'delivered') as delivered,
               count(*) filter (where d.status = 'failed') as failed_attempts,
               count(*) filter (where d.status = 'gave_up') as gave_up
        from care_webhooks w left join care_deliveries d using (webhook_id)
        group by all order by w.created_at""")  # fmt: skip
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def remove_webhook(con: duckdb.DuckDBPyConnection, webhook_id: str) -> None:
    """Deactivate a webhook (its delivery log is kept)."""
    n = con.execute("update care_webhooks set active = false where webhook_id = ? and active "
                    "returning webhook_id", [webhook_id]).fetchall()  # fmt: skip
    if not n:
        raise WebhookNotFoundError(webhook_id)


def deliveries(con: duckdb.DuckDBPyConnection, alert_id: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:  # fmt: skip
    where, args = ("where alert_id = ?", [alert_id]) if alert_id else ("", [])
    cur = con.execute(
        f"select * from care_deliveries {where} order by attempted_at desc limit {int(limit)}", args
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# -- delivering ------------------------------------------------------------------------------
_PENDING = """
select a.alert_id, a.idempotency_key, a.person_id, a.kind, a.score, a.previous_score,
       a.influence, a.risk, a.value, a.explanation, a.evidence::varchar, a.created_at,
       w.webhook_id, w.kind, w.url, w.secret,
       coalesce(d.attempts, 0) as attempts, d.next_attempt_at
from care_alerts a
join care_webhooks w on w.active and a.score >= w.min_score and a.created_at >= w.created_at
left join (select alert_id, webhook_id, count(*) as attempts, max(next_attempt_at) as next_attempt_at,
                  bool_or(status in ('delivered', 'gave_up')) as done
           from care_deliveries group by all) d
  on d.alert_id = a.alert_id and d.webhook_id = w.webhook_id
where coalesce(d.done, false) = false
order by a.created_at, a.alert_id, w.webhook_id
"""


def alert_body(row: tuple[Any, ...]) -> dict[str, Any]:
    ev = orjson.loads(row[10]) if row[10] else {}
    return {
        "type": "care.alert", "alert_id": row[0], "idempotency_key": row[1], "person_id": row[2],
        "kind": row[3], "score": round(row[4], 4),
        "previous_score": None if row[5] is None else round(row[5], 4),
        "influence": round(row[6], 4), "risk": round(row[7], 4), "value": round(row[8], 4),
        "explanation": row[9], "evidence": ev,
        "created_at": row[11].isoformat() if row[11] else None,
    }  # fmt: skip


def deliver_pending(con: duckdb.DuckDBPyConnection, settings: DeliverySettings,
                    sinks: dict[str, Sink] | None = None,
                    sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:  # fmt: skip
    """Deliver every pending (alert, webhook) pair, retrying with backoff; return counts.

    Retries happen here, with sleeps of ``backoff_seconds`` × 2ⁿ between attempts. A webhook
    that exhausts its attempts on one alert in this pass is skipped for the rest of the pass
    (its other alerts stay pending for the next run), so one dead receiver cannot stall the run.
    """
    rows = con.execute(_PENDING).fetchall()
    sinks = dict(sinks or {})
    broken: set[str] = set()
    counts = {"delivered": 0, "failed_attempts": 0, "gave_up": 0, "deferred": 0}
    now = datetime.now(UTC)
    for row in rows:
        webhook_id, kind, url, secret, attempts, next_at = (
            row[12],
            row[13],
            row[14],
            row[15],
            row[16],
            row[17],
        )
        if webhook_id in broken or (next_at is not None and next_at > now and attempts):
            counts["deferred"] += 1
            continue
        if kind not in sinks:
            if kind not in SINKS:
                raise UnknownSinkError(kind, list(SINKS))
            sinks[kind] = SINKS[kind](settings)
        body = orjson.dumps(alert_body(row))
        delivered = False
        while attempts < settings.max_attempts:
            attempts += 1
            headers = {
                "Content-Type": "application/json", "User-Agent": "empatia-care/1",
                SIGNATURE_HEADER: sign(body, secret), "Idempotency-Key": row[1],
                "X-Empatia-Alert": row[0], "X-Empatia-Attempt": str(attempts),
            }  # fmt: skip
            out = sinks[kind].send(url, body, headers)
            if out.ok:
                _log(con, row, attempts, "delivered", out, None)
                counts["delivered"] += 1
                delivered = True
                break
            delay = settings.backoff_seconds * 2 ** (attempts - 1)
            last = attempts >= settings.max_attempts
            _log(con, row, attempts, "gave_up" if last else "failed", out,
                 None if last else datetime.now(UTC) + timedelta(seconds=delay))  # fmt: skip
            counts["gave_up" if last else "failed_attempts"] += 1
            log.warning("care webhook %s: attempt %d for %s failed (%s)", webhook_id, attempts,
                        row[0], out.error or out.http_status)  # fmt: skip
            if not last:
                sleep(delay)
        if not delivered:
            broken.add(webhook_id)
    return counts


def _log(con: duckdb.DuckDBPyConnection, row: tuple[Any, ...], attempt: int, status: str,
         out: Outcome, next_at: datetime | None) -> None:  # fmt: skip
    con.execute(
        "insert into care_deliveries (alert_id, webhook_id, idempotency_key, attempt, status, "
        "http_status, error, next_attempt_at) values (?,?,?,?,?,?,?,?)",
        [row[0], row[12], row[1], attempt, status, out.http_status, out.error, next_at],
    )
