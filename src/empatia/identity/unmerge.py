"""Undoing a wrong merge, and reading the merge history.

A merge cannot simply be reversed in place: the next run would stitch the same identifiers
together again. :func:`unmerge` therefore *pins* the identifiers each side had (the absorbed
person's from ``merge_identifiers``, the survivor's from ``identities``), and stitching then
drops every edge between identifiers pinned to different people. Re-running the identity
stage moves events back (``event_persons``), and the later stages move traits, texts and
everything else that is keyed by person. Identifiers seen later with both people can still
link them — that is new evidence.

>>> from empatia.store import Store
>>> with Store(":memory:") as s:
...     history(s)
[]
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from empatia.errors import NotFoundError, ValidationError
from empatia.identity.config import IdentityConfig
from empatia.identity.incremental import fresh_person_id
from empatia.identity.resolve import resolve
from empatia.store import Store
from empatia.store.engine import connect


def history(store: Store, person_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Merges, splits and unmerges, newest first (of one person, or all)."""
    where = "where person_id = ? or other_person_id = ?" if person_id else ""
    params: list[Any] = [person_id, person_id] if person_id else []
    with store.read() as cur:
        res = cur.execute(
            f"select * from merge_history {where} order by merged_at desc, merge_id"
            f" limit {int(limit)}",
            params,
        )
        names = [d[0] for d in res.description]
        return [dict(zip(names, r, strict=True)) for r in res.fetchall()]


def _pin(store: Store, groups: dict[str, list[tuple[str, str]]]) -> None:
    with store.write() as cur:
        for pid, idents in groups.items():
            cur.executemany(
                "delete from identity_pins where kind = ? and value = ?", [list(i) for i in idents]
            )
            cur.executemany(
                "insert into identity_pins (kind, value, person_id) values (?, ?, ?)",
                [(k, v, pid) for k, v in idents],
            )


def _run(store: Store, config: IdentityConfig | None, engine: str, **kw: Any) -> dict[str, Any]:
    eng = connect(store, engine, **kw)
    try:
        return resolve(eng, config or IdentityConfig())
    finally:
        eng.close()


def _record(store: Store, merge_id: str, new: str, old: str, n: int, evidence: str) -> None:
    now = datetime.now(UTC)
    with store.write() as cur:
        cur.execute(
            "insert into merge_history values (?, ?, ?, 'unmerge', ?, ?, ?, 'unmerge', ?)",
            [merge_id, now, "unmerge_" + now.strftime("%Y%m%dT%H%M%S%f"), new, old, n, evidence],
        )


def unmerge(
    store: Store, merge_id: str, *, config: IdentityConfig | None = None, engine: str = "duckdb"
) -> dict[str, Any]:
    """Undo the merge ``merge_id``: the absorbed person gets its identifiers and id back."""
    with store.write_lock:  # what is read is what is pinned: no stitching in between
        survivor, absorbed, theirs, ours = _merge_sides(store, merge_id)
        _pin(store, {survivor: ours, absorbed: theirs})
        _record(store, merge_id, absorbed, survivor, len(theirs), f"undo {merge_id}")
        return _run(store, config, engine)


def _merge_sides(
    store: Store, merge_id: str
) -> tuple[str, str, list[tuple[str, str]], list[tuple[str, str]]]:
    """The survivor and absorbed person of a merge, and the identifiers each had."""
    with store.read() as cur:
        row = cur.execute(
            "select person_id, other_person_id, action from merge_history where merge_id = ?",
            [merge_id],
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no merge {merge_id!r}; see `empatia identity history`", merge_id=merge_id
            )
        survivor, absorbed, action = row
        if action != "merge":
            raise ValidationError(f"{merge_id} is a {action}, not a merge", merge_id=merge_id)
        theirs = [(k, v) for k, v in cur.execute(
            "select kind, value from merge_identifiers where merge_id = ?", [merge_id]
        ).fetchall()]  # fmt: skip
        ours = [(k, v) for k, v in cur.execute(
            "select kind, value from identities where person_id = ?"
            " except select kind, value from merge_identifiers where merge_id = ?",
            [survivor, merge_id],
        ).fetchall()]  # fmt: skip
    return survivor, absorbed, theirs, ours


def split(
    store: Store,
    identifiers: list[tuple[str, str]],
    *,
    config: IdentityConfig | None = None,
    engine: str = "duckdb",
) -> dict[str, Any]:
    """Take ``identifiers`` out of their person into a new one (a wrong merge no run recorded,
    e.g. two people stitched on their first day). Returns the stage figures and the new id."""
    if not identifiers:
        raise ValidationError("name at least one identifier to split off (kind:value)")
    with store.write_lock:  # what is read is what is pinned: no stitching in between
        old, rest = _split_sides(store, identifiers)
        new = fresh_person_id(min(identifiers))
        _pin(store, {old: rest, new: list(identifiers)})
        _record(store, f"s_{new}", new, old, len(identifiers), "split " + ", ".join(
            f"{k}:{v}" for k, v in identifiers))  # fmt: skip
        figures = _run(store, config, engine)
    figures["person_id"] = new
    return figures


def _split_sides(
    store: Store, identifiers: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]]]:
    """The one person holding ``identifiers``, and its other identifiers."""
    with store.read() as cur:
        found = cur.execute(
            "select distinct person_id from identities i join"
            " (select unnest(?) as k, unnest(?) as v) x on i.kind = x.k and i.value = x.v",
            [[k for k, _v in identifiers], [v for _k, v in identifiers]],
        ).fetchall()
        if len(found) != 1:
            raise ValidationError(
                "the identifiers to split off must all belong to one known person",
                persons=[r[0] for r in found],
            )
        old = found[0][0]
        rows = cur.execute("select kind, value from identities where person_id = ?", [old])
        rest = [(k, v) for k, v in rows.fetchall() if (k, v) not in set(identifiers)]
    return old, rest
