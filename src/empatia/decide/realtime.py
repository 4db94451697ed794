"""Real-time decisions within a latency budget.

A request does one indexed lookup (the person's precomputed candidates and state in
``decide_inputs``) and the policy in Python; nothing slow runs on the request path:

- **consent** is held in memory and re-read from privacy's ``consent_current`` whenever the
  consent ledger grows (a background thread in the server checks every ``refresh_s``;
  library calls check synchronously), so a withdrawal counts within about a second;
- **contact fatigue** adds the live decisions delivered since training, counted in memory;
- **the decision log** is appended by a background writer, one transaction every ``flush_s``
  (each commit fsyncs and briefly stalls readers, so they are batched; contact counts are
  kept in memory meanwhile).

>>> from empatia.store import Store
>>> rt = RealTime(Store(":memory:"), background=False)
>>> rt.decide("p_nobody", LiveContext(channel="web")).action
'do_nothing'
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from empatia.decide import signals
from empatia.decide.catalogue import Catalogue, load_catalogue
from empatia.decide.policy import Candidate, Decision, Hooks, LiveContext, PersonState, choose
from empatia.store import Store, transaction

log = logging.getLogger(__name__)


class RealTime:
    def __init__(self, store: Store, catalogue: Catalogue | None = None, *,
                 background: bool = True, refresh_s: float = 1.0, flush_s: float = 5.0,
                 checks: bool = False) -> None:
        self.store = store
        self.flush_s = flush_s  # each log commit stalls readers briefly: batch them
        #: Call privacy's ``next_question`` and experience's ``may_survey`` per person. They
        #: query the event log (0.3–0.9 s a call on a 100k-person store), so the hot path
        #: leaves them off and uses decide's own precomputed survey gap instead.
        self.checks = checks
        self.catalogue = catalogue or load_catalogue()
        self.background = background
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._consents: dict[str, dict[str, bool]] = {}
        self._consent_mark: tuple[Any, ...] | None = None
        self._consents_ok = False
        self._contacts: dict[str, list[tuple[float, str]]] = {}
        self._queue: queue.Queue[Decision] = queue.Queue()
        self._stop = threading.Event()
        try:
            self.refresh_consent()
        except Exception:  # noqa: BLE001 - consent stays unknown: the policy allows nothing
            log.warning("consent could not be read: deciding nothing until it can")
        self._load_contacts()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._loop, name="decide-realtime", daemon=True)
            self._thread.start()

    # -- consent --------------------------------------------------------------------------
    def _mark(self) -> tuple[Any, ...]:
        """What changes when consent may have changed: the ledger's size once privacy's stage
        fills it, else (adapter mode) the newest event."""
        with self.store.read() as cur:
            if signals._ledger_filled(self.store):
                return ("ledger", *cur.execute(
                    "select max(consent_id), count(*), (select count(*) from consent_events)"
                    " from consent_ledger").fetchone())  # type: ignore[misc]
            if self.store.table_exists("events"):
                return ("events", *cur.execute("select max(seq) from events").fetchone())  # type: ignore[misc]
            return ()

    def refresh_consent(self) -> None:
        """Re-read everyone's consent if the ledger (or the consent events) changed. Until a
        failed read succeeds again, :meth:`consents` answers None (fail closed)."""
        try:
            mark = self._mark()
            if mark == self._consent_mark and self._consents_ok:
                return
            consents = signals.consents(self.store)
        except Exception:
            self._consents_ok = False
            raise
        with self._lock:
            self._consents, self._consent_mark, self._consents_ok = consents, mark, True

    def consents(self, person_id: str) -> dict[str, bool] | None:
        """The person's consent now, or None when it could not be read."""
        if not self.background:
            try:
                self.refresh_consent()
            except Exception:  # noqa: BLE001 - the policy refuses everything on None
                log.warning("consent could not be read: deciding nothing")
        if not self._consents_ok:
            return None
        return self._consents.get(person_id, {})

    # -- contacts and the log -------------------------------------------------------------
    def _load_contacts(self) -> None:
        since = time.time() - self.catalogue.policy.fatigue_days * 86400
        with self.store.read() as cur:
            rows = cur.execute(
                "select person_id, channel, epoch(decided_at) from decision_log where delivered "
                "and source = 'live' and decided_at >= to_timestamp(?) and channel is not null",
                [since],
            ).fetchall()
        for pid, ch, at in rows:
            self._contacts.setdefault(pid, []).append((float(at), ch))

    def _live_contacts(self, person_id: str, now: float) -> dict[str, int]:
        since = now - self.catalogue.policy.fatigue_days * 86400
        out: dict[str, int] = {}
        for at, ch in self._contacts.get(person_id, ()):
            if at >= since:
                out[ch] = out.get(ch, 0) + 1
        return out

    def record(self, d: Decision) -> None:
        if d.kind != "nothing" and d.channel:
            self._contacts.setdefault(d.person_id, []).append((d.decided_at.timestamp(), d.channel))
        self._queue.put(d)
        if not self.background:
            self.flush()

    def flush(self) -> int:
        items: list[Decision] = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not items:
            return 0
        import pyarrow as pa

        table = pa.table({  # one vectorised insert: executemany would go row by row
            "person_id": [d.person_id for d in items], "action": [d.action for d in items],
            "channel": [d.channel for d in items], "source": ["live"] * len(items),
            "delivered": [d.kind != "nothing" for d in items],
            "decided_at": [d.decided_at for d in items],
            "decision": [orjson.dumps(d.as_dict()).decode() for d in items],
        })  # fmt: skip
        # An append to a log, in its own short transaction on its own cursor: it never waits
        # for the store's write lock, which a run holds for minutes.
        with self.store.read() as cur, transaction(cur):
            cur.register("_decision_log_batch", table)
            cur.execute("insert into decision_log select * from _decision_log_batch")
            cur.unregister("_decision_log_batch")
        return len(items)

    def _loop(self) -> None:
        last = flushed = 0.0
        while not self._stop.wait(0.2):
            try:
                if time.monotonic() - flushed >= self.flush_s:
                    flushed = time.monotonic()
                    self.flush()
                if time.monotonic() - last >= self.refresh_s:
                    last = time.monotonic()
                    self.refresh_consent()
            except duckdb.ConnectionException:  # the store was closed: the app is gone
                return
            except Exception:  # keep serving; the next round retries
                log.exception("decide real-time background work failed")

    def close(self) -> None:
        """Stop the background thread (waiting for it) and write what is still queued."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    # -- other stages' per-person checks --------------------------------------------------
    def hooks(self, now: datetime) -> Hooks:
        """privacy's ``next_question`` and experience's ``may_survey``, when installed."""
        store = self.store
        h = Hooks()
        try:
            from empatia.privacy.profiling import next_question
        except ImportError:  # pragma: no cover - optional stage
            next_question = None  # type: ignore[assignment]
        try:
            from empatia.experience.hygiene import may_survey
        except ImportError:  # pragma: no cover - optional stage
            may_survey = None  # type: ignore[assignment]
        if next_question is not None:
            def ask(pid: str) -> str | None:
                q = next_question(store, pid).question
                return q.text if q is not None else None

            h.next_question = ask
        if may_survey is not None:
            h.may_survey = lambda pid: may_survey(store, pid, now)
        return h

    # -- deciding -------------------------------------------------------------------------
    def _cursor(self) -> Any:
        return self.store.con  # this thread's own (made anew after a file swap)

    def inputs(self, person_id: str) -> tuple[list[Candidate], PersonState, datetime | None] | None:
        row = self._cursor().execute(
            "select candidates, state, computed_at from decide_inputs where person_id = ?",
            [person_id],
        ).fetchone()
        if row is None:
            return None
        cands = [Candidate(**c) for c in orjson.loads(row[0])]
        return cands, PersonState.from_dict(orjson.loads(row[1])), row[2]

    def decide(self, person_id: str, live: LiveContext | None = None, *, record: bool = True,
               now: datetime | None = None, checks: bool | None = None) -> Decision:
        now = now or (live.time if live and live.time else datetime.now(UTC))
        found = self.inputs(person_id)
        if found is None:
            cands: list[Candidate] = []
            state = PersonState(person_id, cold_start=True)
        else:
            cands, state, computed_at = found
            age = (now - computed_at).total_seconds() if computed_at else 0.0
            if age > 0:
                _age(state, cands, age)
        state.consents = self.consents(person_id)
        for ch, n in self._live_contacts(person_id, now.timestamp()).items():
            state.contacts[ch] = state.contacts.get(ch, 0) + n
        use = self.checks if checks is None else checks
        decision = choose(state, cands, self.catalogue, live, now, self.hooks(now) if use else None)
        if record:
            self.record(decision)
        return decision


def _age(state: PersonState, cands: list[Candidate], seconds: float) -> None:
    """Move a training-time snapshot to now: every purchase is that much older."""
    if state.hours_since_purchase is not None:
        state.hours_since_purchase += seconds / 3600
    state.recent_items = {k: v + seconds / 86400 for k, v in state.recent_items.items()}
    for c in cands:
        if c.last_days is not None:
            c.last_days = round(c.last_days + seconds / 86400, 1)
