"""Small hand-made event sets for identity and profile tests (no demo generator needed)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from empatia.store import Store

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def ev(
    type: str = "track",
    *,
    user: str | None = None,
    anon: str | None = None,
    event: str | None = None,
    day: float = 0,
    traits: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    previous: str | None = None,
    source: str = "key:test",
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type, "messageId": uuid.uuid4().hex}
    if user:
        body["userId"] = user
    if anon:
        body["anonymousId"] = anon
    if event:
        body["event"] = event
    if previous:
        body["previousId"] = previous
    for key, value in (("traits", traits), ("properties", properties), ("context", context)):
        if value is not None:
            body[key] = value
    body["timestamp"] = (T0 + timedelta(days=day)).isoformat()
    body["_source"] = source
    return body


def add_events(store: Store, events: list[dict[str, Any]]) -> None:
    """Append events to the log the way ingestion stores them."""
    rows = []
    for e in events:
        e = dict(e)
        source = e.pop("_source", "key:test")
        rows.append(
            (
                e["messageId"], e["type"], e.get("event"), e.get("name"), e.get("userId"),
                e.get("anonymousId"), e.get("previousId"), e.get("groupId"),
                datetime.fromisoformat(e["timestamp"]), source, json.dumps(e),
            )
        )  # fmt: skip
    store.con.executemany(
        "insert into events (message_key, message_id, type, event, name, user_id, anonymous_id,"
        ' previous_id, group_id, "timestamp", received_at, source, raw)'
        " values (md5_number(?1), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)",
        rows,
    )


PLAIN = str.maketrans("ąćęłńóśźż", "acelnoszz")


def crm_records(n: int = 700, dupes: int = 200) -> list[dict[str, Any]]:
    """CRM people with Polish, Russian (Cyrillic) and Persian names, and loyalty-card copies of
    some of them with a letter swapped and their e-mail typed without Polish letters: more
    records than the model's u sample."""
    rng = random.Random(5)
    first = ["anna", "łucja", "małgorzata", "ivan", "иван", "ольга", "reza", "zofia", "aleksandr",
             "aleksey", "мария", "piotr", "jędrzej", "omid", "наталья", "sara"]  # fmt: skip
    last = ["kowalska", "wiśniewska", "nowak", "лебедев", "иванова", "ahmadi", "karimi", "wójcik",
            "smirnov", "смирнов", "rostami", "żak", "petrov", "петрова"]  # fmt: skip
    people = [{"firstName": rng.choice(first), "lastName": rng.choice(last),
               "birthDate": f"19{rng.randrange(40, 99)}-{rng.randrange(1, 13):02d}-"
                            f"{rng.randrange(1, 29):02d}",
               "address": {"city": rng.choice(["warszawa", "łódź", "москва", "tehran"]),
                           "postalCode": f"{rng.randrange(10000, 10400)}"}}
              for _ in range(n)]  # fmt: skip
    for i, p in enumerate(people):  # an e-mail the copy types without the Polish letters
        local = f"{p['firstName']}.{p['lastName']}.{i}"
        if local != local.translate(PLAIN):
            p["email"] = f"{local}@poczta.pl"
    events = [ev("identify", user=f"c{i}", traits={**p, "crmId": f"CRM{i}"}) for i, p in
              enumerate(people)]  # fmt: skip
    for i in range(dupes):
        p = dict(people[i])
        if "email" in p:  # one edit as a letter, two as UTF-8 bytes: a level apart on Spark
            p["email"] = p["email"].translate(PLAIN)
        name = p["lastName"]
        j = rng.randrange(1, len(name) - 1)
        p["lastName"] = name[:j] + name[j + 1] + name[j] + name[j + 2 :]
        events.append(ev("identify", anon=f"shop{i}", traits={**p, "loyaltyId": f"L{i}"}))
    return events
