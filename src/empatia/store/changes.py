"""Which people an incremental stage must recompute: those whose inputs changed since its last run.

A stage whose rows are per person (profiles, journeys, …) keeps, in ``person_marks``, a digest
of what it read for each person: the sequence numbers of their events (``event_persons``) and,
when it asks, their identifiers (``identities``). At the next run the persons whose digest
differs are the ones to recompute, and those without one any more are the ones to delete:

- new events of a person, a new person: their set of events changed;
- a merge (fresh path or batch), a split, an unmerge: the events of every person involved moved;
- new identifiers (profiles): their set of identifiers changed;
- an erased person: gone from ``event_persons`` (and from ``person_marks``, which erasure
  empties of them like every table).

Everyone else's rows stay as they are. A full rebuild is due instead when the stage's own
settings changed (``settings``: whatever else its rows depend on), when it never ran, when an
erasure ran since (it blanks mentions of the person inside *other* people's events, which no
digest sees), or when most people changed anyway (a batch identity run that renamed them).
Retention needs none: it deletes events with their ``event_persons`` rows, which the digests
see.

Usage, in one transaction with the stage's own writes::

    changes = changed_persons(con, "profiles", settings)
    if changes.full: ...rebuild everything...
    else: ...delete and recompute the rows of changes.persons...
    save_marks(con, changes)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from empatia.store import state

#: The temp table holding the changed persons of the current call (``person_id``).
CHANGED = "_emp_changed"
_NOW = "_emp_marks_now"
#: Beyond this many changed people (and half of everyone) a stage rebuilds in full.
MOST = 1000


@dataclass
class Changes:
    """The persons to recompute (``persons``), or ``full`` with the reason why."""

    stage: str
    settings: str
    erasures: int
    full: str | None = None  # why everything is rebuilt; None: only ``persons``
    persons: list[str] = field(default_factory=list)
    marked: bool = True  # False: the engine keeps no marks (it rebuilds whole tables)


def _scalar(con: Any, sql: str, args: list[Any] | None = None) -> Any:
    rows = con.execute(sql, args or []).fetchall()  # all: leaves no open result behind
    return rows[0][0] if rows else None


def _erasures(con: Any) -> int:
    n = _scalar(con, "select count(*) from privacy_audit where action = 'erase'")
    return int(n or 0)


#: Digests a stage may add to its people's events (``also``): their identifiers, and the
#: analyses of their texts (the emotion stage re-scores old texts when its model changes).
IDENTITIES = (
    "select person_id, hash(count(*), bit_xor(hash(kind, value))) as mark"
    " from identities group by all"
)
TEXTS = (
    "select p.person_id, hash(count(*), bit_xor(hash(a.seq, a.score, a.dominant_emotion)))"
    " as mark from text_analysis a join event_persons p using (seq) group by all"
)


def changed_persons(
    con: Any, stage: str, settings: str, *, also: tuple[str, ...] = (), full: bool = False,
    incremental: bool = True,
) -> Changes:
    """The persons whose events (and what the ``also`` digests cover: ``person_id, mark``
    queries such as :data:`IDENTITIES`) changed since the last :func:`save_marks` of
    ``stage``; also left in the temp table :data:`CHANGED`.

    ``settings``: a fingerprint of everything else the stage's rows depend on; when it differs
    from the last run's, ``full`` says so (as it does with ``full=True``).

    ``incremental=False``: the engine rebuilds whole tables (Spark; any engine on a lake), so
    the marks would be read and written for nothing — every person's events, in the process
    that runs the stages (a cluster's driver). Nothing is read, and :func:`save_marks` forgets
    the stage's marks: a later incremental run rebuilds in full first."""
    if not incremental:
        return Changes(stage, settings, 0, full="full", marked=False)
    digest = "select person_id, hash(count(*), bit_xor(hash(seq))) as mark from event_persons group by all"
    for extra in also:
        digest = (
            f"select person_id, hash(e.mark, x.mark) as mark from ({digest}) e full join"
            f" ({extra}) x using (person_id)"
        )
    con.execute(f"create or replace temp table {_NOW} as {digest}")
    changes = Changes(stage, settings, _erasures(con))
    found = con.execute(
        "select settings, erasures from stage_marks where stage = ?", [stage]
    ).fetchall()
    last = found[0] if found else None
    if full:
        changes.full = "full"
    elif last is None:
        changes.full = "first run"
    elif last[0] != settings:
        changes.full = "settings changed"
    elif int(last[1] or 0) != changes.erasures:
        changes.full = "erasure since"
    if changes.full:
        con.execute(f"create or replace temp table {CHANGED} as select person_id from {_NOW}")
        return changes
    con.execute(
        f"create or replace temp table {CHANGED} as select coalesce(n.person_id, o.person_id)"
        f" as person_id from {_NOW} n full join (select person_id, mark from person_marks"
        " where stage = ?) o using (person_id) where n.mark is distinct from o.mark",
        [stage],
    )
    changes.persons = [r[0] for r in con.execute(f"select person_id from {CHANGED}").fetchall()]
    everyone = int(_scalar(con, f"select count(*) from {_NOW}") or 0)
    if len(changes.persons) > max(MOST, everyone // 2):
        changes.full, changes.persons = "most people changed", []
    return changes


def save_marks(con: Any, changes: Changes) -> None:
    """Remember what the stage saw (call it inside the transaction that wrote its rows)."""
    if not changes.marked:
        con.execute("delete from person_marks where stage = ?", [changes.stage])
        con.execute("delete from stage_marks where stage = ?", [changes.stage])
        return
    if changes.full:
        con.execute("delete from person_marks where stage = ?", [changes.stage])
        con.execute(f"insert into person_marks select ?, person_id, mark from {_NOW}",
                    [changes.stage])  # fmt: skip
    else:
        con.execute(
            f"delete from person_marks where stage = ? and person_id in (select person_id"
            f" from {CHANGED})",
            [changes.stage],
        )
        con.execute(
            f"insert into person_marks select ?, person_id, mark from {_NOW}"
            f" where person_id in (select person_id from {CHANGED})",
            [changes.stage],
        )
    state.replace_row(con, "stage_marks", ("stage",), {
        "stage": changes.stage, "settings": changes.settings, "erasures": changes.erasures})
