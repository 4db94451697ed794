"""The Workspace: the one object the Python API, the CLI and the HTTP server are built on.

While ``empatia serve`` owns the store (a DuckDB file has one process at a time), the methods
marked :func:`through_server` are run by that server instead (``POST /admin/workspace/{name}``
with the local admin secret it leaves in ``<db>.server.json``): the same code works with and
without a server.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from empatia.errors import ConfigError, NotFoundError, StoreLockedError, ValidationError
from empatia.settings import Settings, load_settings
from empatia.store import Store

if TYPE_CHECKING:
    import pyarrow as pa

    from empatia.remote import Remote

F = TypeVar("F", bound=Callable[..., Any])

#: The methods a running server runs for a workspace that cannot open its store, and how:
#: ``write`` ones on the server's writer thread, ``read`` ones beside it. Nothing else is
#: callable through ``POST /admin/workspace/{name}``.
THROUGH_SERVER: dict[str, Literal["read", "write"]] = {}


def through_server(
    kind: Literal["read", "write"], local_only: tuple[str, ...] = ()
) -> Callable[[F], F]:
    """Mark a :class:`Workspace` method that a running ``empatia serve`` may run instead.

    Its arguments travel as JSON (``local_only`` ones, such as a progress callback, stay
    behind); Arrow tables come back as Arrow tables, other answers as JSON values.
    """

    def mark(fn: F) -> F:
        THROUGH_SERVER[fn.__name__] = kind
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def method(self: Workspace, *args: Any, **kwargs: Any) -> Any:
            remote = self._server()
            if remote is None:
                return fn(self, *args, **kwargs)
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError as e:
                raise ValidationError(f"{fn.__name__}: {e}") from e
            sent = {k: v for k, v in list(bound.arguments.items())[1:] if k not in local_only}
            from empatia.remote import ServerGoneError

            try:
                return remote.workspace(fn.__name__, sent)
            except ServerGoneError:  # stopped since: the store may be free now
                self._remote = None
                if self._server() is not None:
                    raise
                return fn(self, *args, **kwargs)

        method.through_server = kind  # type: ignore[attr-defined]
        method.local_only = local_only  # type: ignore[attr-defined]
        return method  # type: ignore[return-value]

    return mark


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
        self._remote: Remote | None = None

    def _server(self) -> Remote | None:
        """The server to go through: None while this process holds (or can open) the store."""
        if "store" in self.__dict__:
            return None
        if self._remote is not None:
            return self._remote
        try:
            self.store  # noqa: B018 - opens it
            return None
        except StoreLockedError as e:
            from empatia.remote import Remote

            remote = Remote.for_store(self.settings.db) if e.details.get("url") else None
            if remote is None:
                raise
            self._remote = remote
            return remote

    @cached_property
    def store(self) -> Store:
        s = self.settings
        store = Store(s.db, memory_limit=s.duckdb_memory_limit, threads=s.duckdb_threads)
        from empatia.privacy.compact import finish_pending

        finish_pending(store)  # an erasure stopped before its file rewrite is finished first
        return store

    @through_server("read")
    def profile(self, identifier: str) -> dict[str, Any]:
        """One person's unified profile, found by any identifier (``email:…``, a phone, a
        loyalty id, a person id …), with where each trait came from."""
        from empatia.profiles.api import get_profile

        return get_profile(self, identifier)

    # -- the pipeline and its results -------------------------------------------------------
    @through_server("write")
    def run(self, only: list[str] | None = None, full: bool = False) -> list[dict[str, Any]]:
        """Run the pipeline (``empatia run``): every stage, or ``only`` these; ``full``
        rebuilds instead of working incrementally. Returns each stage's summary
        ``{"stage", "seconds", "figures"}``.

        >>> with Workspace(db=":memory:") as ws:
        ...     [r["stage"] for r in ws.run(only=["identity"])]
        ['identity']
        """
        from empatia.errors import ConfigError
        from empatia.pipeline import RunContext, ordered_stages, run_pipeline

        try:
            ordered_stages(only)
        except ConfigError as e:  # a stage that does not exist: the caller's mistake
            raise ValidationError(e.message, **e.details) from e
        with self.store.lock:  # not interleaved with stitching, erasure or retention
            results = run_pipeline(RunContext(self, full=full), only)
        return [{"stage": r.name, "seconds": round(r.seconds, 3), "figures": r.figures}
                for r in results]  # fmt: skip

    @through_server("read")
    def profiles(self) -> pa.Table:
        """Every unified profile, one row per person (``.to_pandas()`` for pandas)."""
        return self._table("profiles", "profiles")

    @through_server("read")
    def decisions(self) -> pa.Table:
        """The next-best action of every person from the latest ``decide`` run."""
        return self._table("decisions", "decide")

    @through_server("read")
    def journeys(self) -> pa.Table:
        """Every person's journeys (sessions through the stages of the journey map)."""
        return self._table("journeys", "journeys")

    @through_server("read")
    def emotions(self) -> pa.Table:
        """How each person feels: one row per person over their analysed texts."""
        return self._table("person_emotion", "emotion")

    @through_server("read")
    def care_list(self, limit: int = 50) -> pa.Table:
        """The ranked special-care list (explanations and evidence references, no quotes)."""
        import pyarrow as pa

        from empatia.care import care_list

        rows = care_list(self.store.con, limit, "read")
        if not rows:  # the columns all the same
            return self._arrow("select *, false as text_visible from care_list limit 0")
        return pa.Table.from_pylist(rows)

    @through_server("read")
    def analyze(self, texts: list[str], analyzer: str | None = None) -> list[dict[str, Any]]:
        """Analyse texts with the workspace's emotion analyzer; nothing is stored.

        ``ws.analyze(["Dzwoniłem siedem razy!"])[0]["sentiment"]`` → ``'negative'``"""
        from empatia.emotion.api import analyze_texts

        return analyze_texts(self, texts, analyzer)

    # -- privacy ----------------------------------------------------------------------------
    @through_server("write")  # it writes the audit log
    def export_subject(self, identifier: str) -> dict[str, Any]:
        """Everything held about a person (right of access), found by any identifier;
        audited as read by ``python``."""
        from empatia.privacy.access import export_subject

        return export_subject(self.store, identifier, actor="python")

    @through_server("write")
    def erase(self, identifier: str, dry_run: bool = False) -> dict[str, Any]:
        """Erase a person everywhere (right to erasure); ``dry_run`` only reports what would
        be deleted and blanked. Later events for them are dropped."""
        from empatia.privacy.erasure import erase

        return dict(erase(self.store, identifier, actor="python", dry_run=dry_run).as_dict())

    # -- identity ---------------------------------------------------------------------------
    @through_server("write")
    def decide_review(self, left: str, right: str, accept: bool) -> int:
        """Accept (link them) or reject (never link them) a borderline pair that
        ``empatia identity review`` lists, each named ``kind:value``; the next :meth:`run`
        applies it."""
        from empatia.identity.probabilistic import decide_review

        n = decide_review(self.store, *_identifier(left), *_identifier(right), accept=accept)
        if not n:
            raise ValidationError(f"no review pair {left} ~ {right}; see `empatia identity review`")
        return n

    @through_server("write")
    def unmerge(self, merge_id: str) -> dict[str, Any]:
        """Undo a wrong merge (``merge_id`` from the merge history): identifiers, events and
        id go back to the absorbed person; profiles are rebuilt, later stages by :meth:`run`."""
        from empatia.identity.unmerge import unmerge

        with self.store.lock:  # not interleaved with stitching new events
            figures = unmerge(self.store, merge_id, config=self.settings.stages.identity)
            self.run(only=["profiles"])
        return figures

    @through_server("write")
    def split(self, identifiers: list[str]) -> dict[str, Any]:
        """Split identifiers (``kind:value``) off their person into a new one (its id is
        ``person_id`` in the answer); profiles are rebuilt, later stages by :meth:`run`."""
        from empatia.identity.unmerge import split

        with self.store.lock:
            figures = split(self.store, [_identifier(i) for i in identifiers],
                            config=self.settings.stages.identity)
            self.run(only=["profiles"])
        return figures

    # -- configuration of the stages ----------------------------------------------------------
    @through_server("write")
    def set_journey_stage(self, event: str, stage: str) -> dict[str, str]:
        """Map an event (or a ``page:*`` prefix) to a journey stage, from the next :meth:`run`."""
        from empatia.journeys import StageMap

        StageMap.default().merged({event: stage})  # validates the stage name
        self.store.con.execute(
            "insert or replace into journey_stage_map values (?, ?)", [event, stage]
        )
        return {"event": event, "stage": stage}

    @through_server("write")
    def configure_emotion(self, analyzer: str | None = None, model_dir: str | None = None,
                          redact: bool | None = None) -> dict[str, Any]:  # fmt: skip
        """Choose the emotion analyzer (``encoder``, ``fast``, ``transformers`` or ``auto``)
        and its local ``model_dir``, and whether texts are redacted before analysis; what is
        left out stays as it is. Texts analysed already keep their results (see
        :meth:`reanalyze`)."""
        from empatia.emotion.exceptions import UnknownAnalyzerError
        from empatia.emotion.incremental import set_config
        from empatia.emotion.registry import ANALYZERS

        if analyzer is not None and analyzer not in ANALYZERS and analyzer != "auto":
            raise UnknownAnalyzerError(analyzer, list(ANALYZERS))
        changed = {"analyzer": analyzer, "model_dir": model_dir,
                   "redact": None if redact is None else ("on" if redact else "off")}  # fmt: skip
        for key, value in changed.items():
            if value is not None:
                set_config(self.store.con, key, value)
        return {k: v for k, v in changed.items() if v is not None}

    @through_server("write")
    def reanalyze(self, analyzer: str | None = None, stale_only: bool = False) -> dict[str, Any]:
        """Re-analyse stored texts with the workspace's analyzer (switching to ``analyzer``
        first); ``stale_only`` redoes only texts another analyzer or version analysed."""
        from empatia.emotion.incremental import (
            analyzer_options,
            configured_analyzer,
            forget_analyses,
            run_emotion,
            set_config,
        )
        from empatia.emotion.registry import get_analyzer

        languages = tuple(self.settings.languages)
        with self.store.lock:
            con = self.store.con
            if analyzer:
                set_config(con, "analyzer", analyzer)
            name = configured_analyzer(con, self.settings.stages.emotion)
            name = "encoder" if name == "auto" else name
            set_config(con, "analyzer", name)
            a = get_analyzer(name, **analyzer_options(con, name, languages))
            dropped = forget_analyses(con, a.key if stale_only else None)
            return {"dropped": dropped, **run_emotion(con, languages)}

    @through_server("read")
    def discover_themes(self, k: int = 8, negative_only: bool = False,
                        limit: int = 5000) -> list[dict[str, Any]]:  # fmt: skip
        """New themes: clusters of the latest ``limit`` analysed texts that match no theme
        anchor, with their terms and a few quotes."""
        from empatia.emotion.discovery import discover_in_store

        return discover_in_store(self.store.con, k=k, negative_only=negative_only, limit=limit)

    # -- decisions and money ------------------------------------------------------------------
    @through_server("write", local_only=("progress",))
    def decide_all(self, actions: str | None = None, source: str = "the action catalogue",
                   progress: Callable[[int], None] | None = None) -> dict[str, Any]:  # fmt: skip
        """Train and decide the next-best action of every person (:meth:`decisions` has them);
        ``actions`` is an action catalogue's TOML text (``source`` names it in messages)
        instead of the shipped one."""
        from empatia.decide.catalogue import load_catalogue, parse_catalogue_text
        from empatia.decide.engine import run

        try:
            catalogue = (parse_catalogue_text(actions, source) if actions
                         else load_catalogue(self.settings.stages.decide.actions_file))
        except ConfigError as e:
            if not actions:
                raise  # the shipped catalogue: the installation's fault, not the caller's
            raise ValidationError(e.message, **e.details) from e  # the caller's text: a 400
        return run(self.store, catalogue=catalogue, progress=progress)

    @through_server("write")
    def import_rates(self, csv_text: str, base: str | None = None,
                     name: str = "rates.csv") -> dict[str, Any]:  # fmt: skip
        """Add dated exchange rates from CSV text (``date,currency,rate``: ``rate`` units of
        ``currency`` per 1 ``base``, the reporting currency by default); ``name`` names it in
        messages. :meth:`run` then converts profiles with them."""
        from empatia.profiles.money import currency_code, import_rates_text

        base = currency_code(base or self.settings.reporting_currency)
        return import_rates_text(self.store, csv_text, base, name)

    @through_server("read")
    def rates(self) -> list[dict[str, Any]]:
        """The exchange rates held, per currency: days, first and latest date, latest rate."""
        from empatia.profiles.money import list_rates

        return list_rates(self.store)

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
        if self._remote is not None:
            self._remote.close()
            self._remote = None
        if "store" in self.__dict__:
            self.store.close()
            del self.__dict__["store"]

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _identifier(text: str) -> tuple[str, str]:
    kind, sep, value = text.partition(":")
    if not sep or not value:
        raise ValidationError(f"{text!r}: write an identifier as kind:value, e.g. email:a@b.c")
    return kind, value
