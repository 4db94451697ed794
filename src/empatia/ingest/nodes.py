"""Several ingest nodes, one lake: the primary store gathers what the others sent.

On a lake (:mod:`empatia.store.lake`) the first store to claim it owns the event log; every
other ``empatia serve`` or ``empatia import`` on the same lake is an ingest node that sends its
events to an inbox table of its own. :func:`ship` is the one call each of them makes (after an
import, every few seconds in a server, at the start of a run): a node sends; the primary first
gathers every inbox into its own log — a message id already there is skipped, an event of a
person erased here is dropped, consent in them is read at once — then sends its log to the
lake's ``events``, where a run on a cluster reads it.
"""

from __future__ import annotations

from typing import Any

from empatia.ingest.normalize import INSERT_COLUMNS
from empatia.privacy.tombstones import drop_erased_events
from empatia.store import lake as lk

#: The inbox files' columns in :data:`INSERT_COLUMNS`' order; the dedupe key is made again.
_COLUMNS = INSERT_COLUMNS.replace("message_key, ", "md5_number(message_id), ", 1)


def gather(store: Any) -> int:
    """Move the events in the ingest nodes' inboxes into this (the primary) store's log, each
    inbox in one transaction, then take their files out of the lake; returns how many events
    are new here. A stop between the two leaves the files, and the next gather skips what
    it already has (by message id)."""
    lake = store.lake
    if lake is None or not lk.is_primary(store.con, lake):
        return 0
    got = 0
    for table, snapshot, files in lake.inboxes():
        con = store.con
        listed = ", ".join("'" + f"{lake.path(table)}/{f}".replace("'", "''") + "'" for f in files)
        con.execute("begin transaction")
        try:
            last = int(con.execute("select coalesce(max(seq), 0) from events").fetchall()[0][0])
            new = con.execute(f"insert or ignore into events ({INSERT_COLUMNS}) select {_COLUMNS}"
                              f" from read_parquet([{listed}]) order by seq").fetchall()[0][0]  # fmt: skip
            got += int(new) - drop_erased_events(con, since_seq=last)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        lake.take(table, snapshot, files)
    if got:
        from empatia.privacy.stage import read_consent

        read_consent(store)
    return got


def ship(store: Any) -> int:
    """The store's part in the lake's event log (call it holding ``store.lock``): an ingest
    node sends what it received; the primary gathers the inboxes and sends its log. Returns
    the rows sent."""
    if store.lake is None:
        return 0
    gather(store)
    return lk.ship_events(store.con, store.lake)
