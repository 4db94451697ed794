"""The fresh path: attach newly ingested events to their people within seconds.

The batch stage rebuilds everything; this path only looks at events newer than the last one
processed, on the store's DuckDB connection, and is meant to run right after ingestion
commits (the HTTP server calls :func:`attach_new_events`). For each new event, in order:

- identifiers already known give the person; new identifiers join that person;
- identifiers of two or more people merge them on the spot (the person with the most
  identifiers survives) and the merge is written to ``merge_history`` — unless one of the
  linking identifiers is over the over-merge guard's limits, which blocks it as the batch
  would;
- an event with only unknown identifiers starts a new person, with the id the batch would
  give it (``p_`` + md5 of its smallest identifier).

The next batch run keeps these ids (a component keeps the id most of its identifiers had).
Large backlogs (a bulk import) are better served by the batch: ``max_events`` bounds the work.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import duckdb

from empatia.identity.config import KINDS, STRONG_KINDS, IdentityConfig
from empatia.identity.resolve import extract_new, read_state, write_state
from empatia.store import Store
from empatia.store.engine import DuckDBEngine

Ident = tuple[str, str]


def fresh_person_id(ident: Ident) -> str:
    """The id a new person gets from its smallest identifier (as the batch computes it)."""
    return "p_" + hashlib.md5(f"{ident[0]}:{ident[1]}".encode()).hexdigest()[:16]


def _rank(ident: Ident) -> tuple[int, str, str]:
    return (KINDS.index(ident[0]) if ident[0] in KINDS else len(KINDS), *ident)


def attach_new_events(
    store: Store, config: IdentityConfig | None = None, *, max_events: int = 100_000
) -> int:
    """Assign a person to every event newer than the last processed; return how many."""
    config = config or IdentityConfig()
    with store.write_lock:  # not while a batch resolution of this store rewrites identities
        return _attach_new(store, config, max_events)


def _attach_new(store: Store, config: IdentityConfig, max_events: int) -> int:
    t0 = time.perf_counter()
    eng = DuckDBEngine(store)
    try:
        state = read_state(eng)
        last = int(state.get("last_seq", 0))
        with store.read() as cur:
            row = cur.execute("select coalesce(max(seq), 0) from events").fetchone()
            top = min(int(row[0]) if row else 0, last + max_events)
            if top <= last:
                return 0
            # extract only up to `top` (extract_new reads everything newer than last_seq)
            write_state(eng, last_seq=last)
            got = _extract_until(eng, config, top)
            n = _attach(cur, config, last, got)
        write_state(eng, last_seq=got, last_attach_seconds=round(time.perf_counter() - t0, 4))
        return n
    finally:
        eng.close()


def _extract_until(eng: DuckDBEngine, config: IdentityConfig, top: int) -> int:
    figures = extract_new(eng, config, full=False, until=top)
    return int(figures["max_seq"])


def _attach(cur: Any, config: IdentityConfig, last: int, top: int) -> int:
    rows = cur.execute(
        "select seq, kind, value from identity_event_ids where seq > ? and seq <= ? order by seq",
        [last, top],
    ).fetchall()
    by_event: dict[int, list[Ident]] = defaultdict(list)
    for seq, kind, value in rows:
        by_event[seq].append((kind, value))
    if not by_event:
        return 0
    cur.execute("create or replace temp table _emp_new_ids as "
                "select distinct kind, value from identity_event_ids where seq > ? and seq <= ?",
                [last, top])  # fmt: skip
    people = _People(cur, *_known_and_blocked(cur, config))
    for seq in sorted(by_event):
        people.attach(seq, by_event[seq])
    _write(cur, people)
    return len(people.event_person)


def _known_and_blocked(cur: duckdb.DuckDBPyConnection, config: IdentityConfig
                       ) -> tuple[dict[Ident, str], set[Ident], dict[str, int]]:
    """For the identifiers in ``_emp_new_ids``: their persons, which are blocked (stored,
    configured, or over the guard's neighbour limit), and the sizes of the persons they name."""
    known: dict[Ident, str] = {
        (k, v): p
        for k, v, p in cur.execute(
            "select i.kind, i.value, i.person_id from identities i join _emp_new_ids n"
            " using (kind, value)"
        ).fetchall()
    }
    blocked: set[Ident] = {
        (k, v)
        for k, v in cur.execute(
            "select b.kind, b.value from identity_blocked b join _emp_new_ids n using (kind, value)"
        ).fetchall()
    }
    blocked |= {tuple(x.split(":", 1)) for x in config.blocked_values if ":" in x}  # type: ignore[misc]
    # the guard, for the identifiers these events carry
    strong = ", ".join(f"'{k}'" for k in STRONG_KINDS)
    for kind, value, _nkind, n in cur.execute(
        "select a.kind, a.value, b.kind, count(distinct b.value) from identity_event_ids a"
        " join _emp_new_ids n on a.kind = n.kind and a.value = n.value"
        " join identity_event_ids b on a.seq = b.seq"
        f" where b.kind in ({strong}) and b.kind <> a.kind group by all"
    ).fetchall():
        if n > config.max_neighbours.get(kind, 1 << 62):
            blocked.add((kind, value))
    # how many identifiers each person these events name has (one query, not one per person)
    sizes: dict[str, int] = {
        p: int(n)
        for p, n in cur.execute(
            "select person_id, count(*) from identities where person_id in (select i.person_id"
            " from identities i join _emp_new_ids n using (kind, value)) group by 1"
        ).fetchall()
    }
    return known, blocked, sizes


class _People:
    """Events attached in order: persons found, merged (the larger survives) or made."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, known: dict[Ident, str],
                 blocked: set[Ident], sizes: dict[str, int]) -> None:  # fmt: skip
        self.cur, self.known, self.blocked, self.sizes = cur, known, blocked, sizes
        self.alias: dict[str, str] = {}  # absorbed person → survivor
        self.merges: list[tuple[str, str, str]] = []  # survivor, absorbed, evidence
        self.new_ids: dict[Ident, str] = {}
        self.event_person: dict[int, str] = {}

    def size(self, pid: str) -> int:
        if pid not in self.sizes:
            r = self.cur.execute("select count(*) from identities where person_id = ?",
                                 [pid]).fetchone()  # fmt: skip
            self.sizes[pid] = int(r[0]) if r else 0
        return self.sizes[pid]

    def find(self, pid: str) -> str:
        while pid in self.alias:
            pid = self.alias[pid]
        return pid

    def attach(self, seq: int, ids: list[Ident]) -> None:
        known, find = self.known, self.find
        idents = sorted(ids, key=_rank)
        linking = [i for i in idents if i not in self.blocked]
        people = sorted({find(known[i]) for i in linking if i in known})
        if not people:
            base = linking or idents
            pid = find(known[base[0]]) if base[0] in known else fresh_person_id(min(base))
        else:
            pid = max(people, key=lambda p: (self.size(p), [-ord(c) for c in p]))
            for other in people:
                if other != pid:
                    self.alias[other] = pid
                    self.sizes[pid] = self.size(pid) + self.size(other)
                    ev = " ~ ".join(f"{k}:{v}" for k, v in linking[:2])
                    self.merges.append((pid, other, f"{ev} (event {seq})"))
        for i in linking:
            if i not in known:
                known[i] = self.new_ids[i] = pid
                self.sizes[pid] = self.size(pid) + 1
        for i in idents:  # blocked identifiers seen for the first time: a person of their own
            if i not in known:
                known[i] = self.new_ids[i] = fresh_person_id(i)
        self.event_person[seq] = pid if linking else find(known[idents[0]])


def _write(cur: duckdb.DuckDBPyConnection, p: _People) -> None:
    """New identifiers, the events' persons and the merges, in one transaction."""
    find, new_ids, event_person = p.find, p.new_ids, p.event_person
    now = datetime.now(UTC)
    run_id = "online_" + now.strftime("%Y%m%dT%H%M%S%f")
    cur.execute("begin transaction")
    try:
        # one statement each, lists unnested in SQL (executemany runs a statement per row)
        if new_ids:
            cur.execute(
                "insert into identities (kind, value, person_id) select unnest(?::varchar[]),"
                " unnest(?::varchar[]), unnest(?::varchar[])",
                [[k for k, _ in new_ids], [v for _, v in new_ids],
                 [find(x) for x in new_ids.values()]],
            )  # fmt: skip
        cur.execute(
            "insert into event_persons (seq, person_id) select unnest(?::bigint[]),"
            " unnest(?::varchar[])",
            [list(event_person), [find(x) for x in event_person.values()]],
        )
        for survivor, absorbed, evidence in p.merges:
            final = find(survivor)
            merge_id = f"m_{run_id}_" + hashlib.md5(f"{final}|{absorbed}".encode()).hexdigest()[:12]
            moved = cur.execute(
                "insert into merge_identifiers select ?, kind, value from identities"
                " where person_id = ? returning 1",
                [merge_id, absorbed],
            ).fetchall()
            cur.execute(
                "insert into merge_history values (?, ?, ?, 'merge', ?, ?, ?, 'shared identifier', ?)",
                [merge_id, now, run_id, final, absorbed, len(moved), evidence],
            )
            cur.execute(
                "update identities set person_id = ? where person_id = ?", [final, absorbed]
            )
            cur.execute(
                "update event_persons set person_id = ? where person_id = ?", [final, absorbed]
            )
        cur.execute("commit")
    except Exception:
        cur.execute("rollback")
        raise
