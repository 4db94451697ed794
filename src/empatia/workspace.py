"""The Workspace: the one object the Python API, the CLI and the HTTP server are built on."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from empatia.errors import NotFoundError
from empatia.settings import Settings, load_settings
from empatia.store import Store

if TYPE_CHECKING:
    import pyarrow as pa


class Workspace:
    """One Empatia workspace: its settings and its store — the Python API.

    Tables come back as Arrow tables (``pyarrow.Table``: ``.to_pandas()`` gives a pandas
    DataFrame, ``polars.from_arrow`` a polars one); single answers as plain dicts.

    >>> ws = Workspace(db=":memory:")
    >>> ws.store.table_exists("events")
    True
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = settings or load_settings(**overrides)

    @cached_property
    def store(self) -> Store:
        s = self.settings
        store = Store(s.db, memory_limit=s.duckdb_memory_limit, threads=s.duckdb_threads)
        from empatia.privacy.compact import finish_pending

        finish_pending(store)  # an erasure stopped before its file rewrite is finished first
        return store

    def profile(self, identifier: str) -> dict[str, Any]:
        """One person's unified profile, found by any identifier (``email:…``, a phone, a
        loyalty id, a person id …), with where each trait came from."""
        from empatia.profiles.api import get_profile

        return get_profile(self, identifier)

    # -- the pipeline and its results -------------------------------------------------------
    def run(self, only: list[str] | None = None, full: bool = False) -> list[dict[str, Any]]:
        """Run the pipeline (``empatia run``): every stage, or ``only`` these; ``full``
        rebuilds instead of working incrementally. Returns each stage's summary
        ``{"stage", "seconds", "figures"}``.

        >>> with Workspace(db=":memory:") as ws:
        ...     [r["stage"] for r in ws.run(only=["identity"])]
        ['identity']
        """
        from empatia.pipeline import RunContext, run_pipeline

        with self.store.lock:  # not interleaved with stitching, erasure or retention
            results = run_pipeline(RunContext(self, full=full), only)
        return [{"stage": r.name, "seconds": round(r.seconds, 3), "figures": r.figures}
                for r in results]  # fmt: skip

    def profiles(self) -> pa.Table:
        """Every unified profile, one row per person (``.to_pandas()`` for pandas)."""
        return self._table("profiles", "profiles")

    def decisions(self) -> pa.Table:
        """The next-best action of every person from the latest ``decide`` run."""
        return self._table("decisions", "decide")

    def journeys(self) -> pa.Table:
        """Every person's journeys (sessions through the stages of the journey map)."""
        return self._table("journeys", "journeys")

    def emotions(self) -> pa.Table:
        """How each person feels: one row per person over their analysed texts."""
        return self._table("person_emotion", "emotion")

    def care_list(self, limit: int = 50) -> pa.Table:
        """The ranked special-care list (explanations and evidence references, no quotes)."""
        import pyarrow as pa

        from empatia.care import care_list

        rows = care_list(self.store.con, limit, "read")
        if not rows:  # the columns all the same
            return self._arrow("select *, false as text_visible from care_list limit 0")
        return pa.Table.from_pylist(rows)

    def analyze(self, texts: list[str], analyzer: str | None = None) -> list[dict[str, Any]]:
        """Analyse texts with the workspace's emotion analyzer; nothing is stored.

        ``ws.analyze(["Dzwoniłem siedem razy!"])[0]["sentiment"]`` → ``'negative'``"""
        from empatia.emotion.api import analyze_texts

        return analyze_texts(self, texts, analyzer)

    # -- privacy ----------------------------------------------------------------------------
    def export_subject(self, identifier: str) -> dict[str, Any]:
        """Everything held about a person (right of access), found by any identifier;
        audited as read by ``python``."""
        from empatia.privacy.access import export_subject

        return export_subject(self.store, identifier, actor="python")

    def erase(self, identifier: str, dry_run: bool = False) -> dict[str, Any]:
        """Erase a person everywhere (right to erasure); ``dry_run`` only reports what would
        be deleted and blanked. Later events for them are dropped."""
        from empatia.privacy.erasure import erase

        return dict(erase(self.store, identifier, actor="python", dry_run=dry_run).as_dict())

    def _table(self, table: str, stage: str) -> pa.Table:
        if not self.store.table_exists(table):
            raise NotFoundError(f"no {table} yet: run the {stage} stage first, e.g. ws.run()",
                                table=table)  # fmt: skip
        return self._arrow(f"select * from {table}")

    def _arrow(self, query: str) -> pa.Table:
        cur = self.store.cursor()  # its own: the thread's cursor may hold an unfinished result
        try:
            return cur.sql(query).to_arrow_table()
        finally:
            cur.close()

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
            del self.__dict__["store"]

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
