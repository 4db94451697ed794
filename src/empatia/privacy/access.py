"""Right of access (GDPR art. 15): everything held about one person, as JSON.

The same plan as erasure (:mod:`empatia.privacy.subjects`) finds the person's rows in every
table — raw events, merged identifiers, profile and scores, texts' analyses, decisions with
their explanations, consent — so what can be erased is exactly what is shown. Other people's
rows that name the person (their e-mail in someone else's message, their full name) are
shown as ``mentions``, the cells erasure blanks; ``unresolved`` says what might also be them
but is not linked (an open identity review pair).

>>> from empatia.store import Store
>>> s = Store(":memory:")
>>> _ = s.con.execute("insert into events (message_key, message_id, type, user_id, timestamp,"
...     " received_at, source, raw) values (1, 'm1', 'track', 'u1', now(), now(), 'x',"
...     " '{\\"event\\": \\"Hi\\"}')")
>>> sorted(export_subject(s, "user_id:u1")["tables"])
['events']
"""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson

from empatia.errors import StoreError
from empatia.privacy import audit
from empatia.privacy.consent import as_dict, current
from empatia.privacy.subjects import SKIP_TABLES, mentions, predicates, q, resolve, tables
from empatia.store import Store


def export_subject(store: Store, query: str, *, actor: str = "cli") -> dict[str, Any]:
    """Everything about the subject ``query``: ``{person_id, identifiers, consent, tables}``.
    Not on a lake's ingest node, which holds only the events it has not sent on yet."""
    from empatia.store.lake import require_primary

    require_primary(store.con, store.lake, "a subject's export")
    with store.lock:  # one consistent picture: no stitching commit between its reads
        from empatia.ingest.nodes import gather

        gather(store)  # what a lake's ingest nodes sent of them is theirs too
        return _export(store, query, actor)


def _export(store: Store, query: str, actor: str) -> dict[str, Any]:
    subject = resolve(store, query)
    out_tables: dict[str, list[dict[str, Any]]] = {}
    cur = store.cursor()
    try:
        for table, columns in tables(store).items():
            if table in SKIP_TABLES:
                continue
            preds = predicates(subject, table, columns)
            if not preds:
                continue
            order = " order by seq" if "seq" in columns else ""
            rel = cur.execute(f"select * from {q(table)} where {' or '.join(preds)}{order}")
            names = [d[0] for d in rel.description]
            rows = [dict(zip(names, r, strict=True)) for r in rel.fetchall()]
            if table == "events":
                for r in rows:
                    r["raw"] = orjson.loads(r["raw"])
                    r.pop("message_key", None)
            if rows:
                out_tables[table] = rows
    except duckdb.Error as e:
        # DuckDB's message quotes the SQL, which names the person: never pass it on.
        raise StoreError(f"the export failed ({type(e).__name__})") from None
    finally:
        cur.close()
    pid = subject.person_id
    consent_subject = pid or next(
        (f"{k}:{v}" for k, v in sorted(subject.identifiers) if k in ("user_id", "anonymous_id")),
        None,
    )
    from empatia.privacy.erasure import unresolved

    named = mentions(store, subject)
    audit.log(store, actor, "export", pid, f"{sum(len(v) for v in out_tables.values())} rows")
    return {
        "subject": query,
        "person_id": pid,
        "exported_at": datetime.now(UTC),
        "identifiers": [{"kind": k, "value": v} for k, v in sorted(subject.identifiers)],
        "consent": as_dict(current(store, consent_subject)) if consent_subject else {},
        "tables": out_tables,
        # Others' rows that name the person (excerpts): erasure blanks exactly these.
        "mentions": named,
        # What might also be this person but is not linked to them (for the operator).
        "unresolved": unresolved(store, subject),
    }


def to_json(data: Any) -> bytes:
    return orjson.dumps(
        data, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    )


def write_zip(data: dict[str, Any], path: Path) -> Path:
    """The export as a zip: ``subject.json`` (all of it) and one JSON file per table."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("subject.json", to_json(data))
        for table, rows in data["tables"].items():
            z.writestr(f"tables/{table}.json", to_json(rows))
    return path
