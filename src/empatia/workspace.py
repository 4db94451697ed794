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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from empatia.errors import ConfigError, NotFoundError, StoreLockedError, ValidationError
from empatia.settings import Settings, load_settings
from empatia.store import Store, state

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
            remote = self.server()
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
                if self.server() is not None:
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

    def server(self) -> Remote | None:
        """The running ``empatia serve`` that runs the marked methods for this workspace; None
        while this process holds (or can open) the store."""
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
        from empatia.store.lake import lake_of

        store = Store(s.db, memory_limit=s.duckdb_memory_limit, threads=s.duckdb_threads,
                      lake=lake_of(s))  # fmt: skip
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
    def export_subject(self, identifier: str, actor: str = "python") -> dict[str, Any]:
        """Everything held about a person (right of access), found by any identifier;
        audited as read by ``actor``."""
        from empatia.privacy.access import export_subject

        return export_subject(self.store, identifier, actor=actor)

    @through_server("write")
    def erase(self, identifier: str, dry_run: bool = False, actor: str = "python") -> dict[str, Any]:
        """Erase a person everywhere (right to erasure); ``dry_run`` only reports what would
        be deleted and blanked. Later events for them are dropped."""
        from empatia.privacy.erasure import erase

        return dict(erase(self.store, identifier, actor=actor, dry_run=dry_run).as_dict())

    @through_server("write")
    def erase_many(self, identifiers: list[str], dry_run: bool = False,
                   actor: str = "python") -> list[dict[str, Any]]:  # fmt: skip
        """:meth:`erase` for several people at once: an identifier that names nobody is an
        error, and then nobody is erased."""
        from empatia.privacy.erasure import erase_many

        return [r.as_dict() for r in erase_many(self.store, identifiers, actor=actor,
                                                dry_run=dry_run)]  # fmt: skip

    @through_server("read")
    def consent(self, identifier: str) -> dict[str, Any]:
        """A person's current consent per purpose (a person id, or ``user_id:…``)."""
        from empatia.privacy.consent import as_dict, current

        return as_dict(current(self.store, identifier))

    @through_server("write")
    def set_consent(self, identifier: str, purpose: str, granted: bool = True,
                    legal_basis: str = "consent", source: str = "python") -> dict[str, Any]:  # fmt: skip
        """Record a consent decision (the ledger is append-only: a withdrawal is a new row)."""
        from empatia.privacy.consent import record

        given = record(self.store, identifier, purpose, granted, legal_basis=legal_basis,
                       source=source)  # fmt: skip
        return {"subject": identifier, "purpose": given.purpose, "granted": given.granted}

    def apply_retention(self, dry_run: bool = False, policies: str | Path | None = None,
                        actor: str = "python") -> list[dict[str, Any]]:  # fmt: skip
        """Delete rows older than their table's retention policy (``dry_run``: count them);
        ``policies`` is a retention TOML file instead of the workspace's own, which a running
        server (it applies its own) refuses."""
        remote = self.server()
        if remote is not None:
            if policies is not None:
                raise ConfigError("the server owns the store and applies the workspace's own "
                                  "policies: leave out --policies, or stop the server")  # fmt: skip
            return remote.retention(dry_run)
        from empatia.privacy import retention

        results = retention.apply(self.store, retention.for_settings(self.settings, policies),
                                  dry_run=dry_run, actor=actor)  # fmt: skip
        return [dict(r.__dict__) for r in results]

    def export_partner(self, contract: str | Path, out: str | Path, fmt: str | None = None,
                       actor: str = "python") -> dict[str, Any]:  # fmt: skip
        """Write consenting people's contracted fields for a partner (``contract``: its TOML
        file) to ``out`` (Parquet, or CSV). A running server reads and writes both paths
        itself, so they must then lie in the store's folder."""
        remote = self.server()
        if remote is not None:
            return remote.export_partner(Path(contract), Path(out), fmt)
        from empatia.privacy.partner_export import Contract, export_partner

        return dict(export_partner(self.store, Contract.load(contract), out, fmt=fmt,
                                   actor=actor).__dict__)  # fmt: skip

    @through_server("read")
    def audit_log(self, subject: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Who read, exported or erased whose data, newest first (of one person, or all)."""
        from empatia.privacy.audit import entries

        return entries(self.store, subject, limit)

    @through_server("read")
    def next_question(self, person_id: str) -> dict[str, Any]:
        """The one progressive-profiling question to ask a person now, if trust allows, and
        why (not): ``{"question", "stage", "reasons"}``."""
        from empatia.privacy.profiling import next_question

        d = next_question(self.store, person_id)
        return {"question": d.question.__dict__ if d.question else None, "stage": d.stage,
                "reasons": d.reasons}  # fmt: skip

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
        state.replace_row(self.store.con, "journey_stage_map", ("pattern",),
                          {"pattern": event, "stage": stage})  # fmt: skip
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
        from empatia.emotion.stage import STAGE
        from empatia.store.scoped import stage_transaction

        languages = tuple(self.settings.languages)
        with self.store.lock, stage_transaction(self.store, "emotion", STAGE.writes) as db:
            con = db.con
            if analyzer:
                set_config(con, "analyzer", analyzer)
            name = configured_analyzer(con, self.settings.stages.emotion)
            name = "encoder" if name == "auto" else name
            set_config(con, "analyzer", name)
            a = get_analyzer(name, **analyzer_options(con, name, languages))
            dropped = forget_analyses(con, a.key if stale_only else None)
            settings = self.settings.stages.emotion.model_copy(update={"analyzer": name})
            return {"dropped": dropped, **run_emotion(con, languages, settings)}

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

    # -- events and keys ------------------------------------------------------------------
    def import_files(self, paths: list[str | Path],
                     progress: Callable[[Any], None] | None = None) -> dict[str, Any]:  # fmt: skip
        """Import Segment-shaped events from JSONL, CSV or Parquet files (``.gz`` too); bad rows
        go to ``NAME.rejects.jsonl``. While a server owns the store, files in the store's
        folder are named to it and others are sent to it. ``progress`` is called per file."""
        import time

        from empatia.ingest.importer import FileReport, ImportReport

        files, started = [Path(p) for p in paths], time.monotonic()
        remote = self.server()
        if remote is not None:
            found = remote.import_files(self.settings.db, files, progress)
            report = ImportReport([FileReport(**f) for f in found], time.monotonic() - started)
        else:
            from empatia.ingest import import_files
            from empatia.privacy.retention import for_settings

            report = import_files(self.store, files, progress=progress,
                                  max_event_bytes=self.settings.max_event_bytes,
                                  policies=for_settings(self.settings))  # fmt: skip
            if self.store.lake is not None:  # in the lake now, where a cluster's run reads them
                from empatia.ingest.nodes import ship

                with self.store.lock:
                    report.shipped = ship(self.store)
        return {"files": [dict(f.__dict__) for f in report.files], "rows": report.rows,
                "accepted": report.accepted, "duplicates": report.duplicates,
                "rejected": report.rejected, "erased": report.erased, "seconds": report.seconds,
                "shipped": report.shipped,
                "retention_notice": report.retention_notice}  # fmt: skip

    @through_server("read")
    def event_stats(self) -> dict[str, Any]:
        """Stored events: the total, and counts by type, source and day."""
        from empatia.ingest.stats import event_stats

        return event_stats(self.store)

    @through_server("write")
    def create_key(self, scope: str = "write", name: str = "") -> dict[str, Any]:
        """A new API key (``write``, ``read``, ``care`` or ``admin``); its ``secret`` is in
        this answer only (it is stored hashed)."""
        from empatia.privacy.keys import create_key

        key, secret = create_key(self.store, scope, name)
        return {"key_id": key.key_id, "scope": key.scope, "name": key.name, "secret": secret}

    @through_server("read")
    def keys(self) -> list[dict[str, Any]]:
        """Every API key, revoked ones too (never their secrets)."""
        from empatia.privacy.keys import list_keys

        return [dict(k.__dict__) for k in list_keys(self.store)]

    @through_server("write")
    def revoke_key(self, key_id: str) -> dict[str, str]:
        """Revoke an API key at once."""
        from empatia.privacy.keys import revoke_key

        revoke_key(self.store, key_id)
        return {"revoked": key_id}

    @through_server("write")
    def rotate_key(self, key_id: str) -> dict[str, Any]:
        """A new secret for a key (a new id, the same name and scope); the old one stops
        working."""
        from empatia.privacy.keys import rotate_key

        new, secret = rotate_key(self.store, key_id)
        return {"key_id": new.key_id, "scope": new.scope, "name": new.name, "secret": secret,
                "revoked": key_id}  # fmt: skip

    # -- identity, emotion and journeys: reading ----------------------------------------------
    @through_server("read")
    def identity_review(self, limit: int = 50) -> list[dict[str, Any]]:
        """Borderline probabilistic pairs waiting for :meth:`decide_review`, likeliest first."""
        from empatia.identity import views

        return views.review(self.store, limit)

    @through_server("read")
    def merge_history(self, person_id: str | None = None) -> list[dict[str, Any]]:
        """Merges, splits and unmerges, newest first (of one person, or all)."""
        from empatia.identity import views

        return views.history(self.store, person_id)

    @through_server("read")
    def blocked_identifiers(self) -> list[dict[str, Any]]:
        """Identifiers the over-merge guard refused to link on, with their events and why."""
        from empatia.identity import views

        return views.blocked(self.store)

    @through_server("write")
    def set_themes(self, themes: dict[str, list[str]], replace: bool = False) -> dict[str, Any]:
        """Set the theme anchors (``{"theme": ["phrase", …]}``), added to the built-in ones or
        ``replace``-ing them; texts analysed from then on use them."""
        import orjson

        from empatia.emotion.incremental import set_config

        value = {**themes, **({"__replace__": True} if replace else {})}
        set_config(self.store.con, "themes", orjson.dumps(value).decode())
        return {"themes": len(themes), "replace": replace}

    @through_server("read")
    def funnel(self, steps: list[str], within_days: float = 30.0,
               breakdown: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Conversion and drop-off through ordered steps (optionally broken down by
        ``channel``, ``property:<name>``, ``market`` …)."""
        from empatia.journeys import funnel

        return funnel(self.store.con, steps, within_days=within_days,
                      breakdown=breakdown).as_dict()  # fmt: skip

    @through_server("read")
    def paths(self, anchor: str, direction: str = "next", depth: int = 3,
              top: int = 8) -> dict[str, Any]:  # fmt: skip
        """The most common ``next`` (or ``previous``) steps from ``anchor``: nodes and links
        for a Sankey."""
        from empatia.journeys import paths

        return paths(self.store.con, anchor, direction=direction, depth=depth, top=top)

    @through_server("read")
    def journey_map(self, person_id: str | None = None, market: str | None = None,
                    language: str | None = None) -> dict[str, Any]:  # fmt: skip
        """The journey map (stages × touchpoints, conversion, time, effort, emotion), of one
        person or of a market or language."""
        from empatia.journeys import journey_map, load_stage_map

        where = {k: v for k, v in {"market": market, "language": language}.items() if v}
        con = self.store.con
        return journey_map(con, load_stage_map(con), person_id=person_id, where=where)

    @through_server("read")
    def journey_stages(self) -> dict[str, Any]:
        """The stage order and the event → stage mapping in use (see :meth:`set_journey_stage`)."""
        from empatia.journeys import load_stage_map

        m = load_stage_map(self.store.con)
        return {"order": list(m.order), "map": m.mapping}

    # -- experience -------------------------------------------------------------------------
    @through_server("read")
    def survey_scores(self, survey: str | None = None, by: str | None = None,
                      period: str = "month", include_excluded: bool = False) -> list[dict[str, Any]]:  # fmt: skip
        """NPS, CSAT and CES with 95% confidence intervals, overall or ``by`` a dimension."""
        from empatia.experience import survey_scores

        return survey_scores(self.store.con, survey=survey, by=by, period=period,
                             include_excluded=include_excluded)  # fmt: skip

    @through_server("read")
    def excluded_answers(self, limit: int = 20) -> dict[str, Any]:
        """Survey answers left out of the scores, with why: ``{"summary", "responses"}``."""
        from empatia.experience import excluded_responses
        from empatia.experience.surveys import summary

        con = self.store.con
        return {"summary": summary(con), "responses": excluded_responses(con, limit, with_text=True)}

    @through_server("read")
    def hurt(self, limit: int = 20, person_id: str | None = None) -> dict[str, Any]:
        """Journeys the company calls a success that hurt the customer, and what happened
        after: ``{"journeys", "after"}``."""
        from empatia.experience import hurt_list, hurt_outcomes

        con = self.store.con
        return {"journeys": hurt_list(con, limit, person_id=person_id),
                "after": hurt_outcomes(con)}  # fmt: skip

    @through_server("read")
    def hurt_orders(self, limit: int = 20) -> list[dict[str, Any]]:
        """Delivered orders followed by bad words from their customer."""
        from empatia.experience.views import hurt_orders

        return hurt_orders(self.store.con, limit)

    @through_server("read")
    def effort(self, by: str = "topic") -> list[dict[str, Any]]:
        """Effort per service journey (contacts, switches, waits …) by ``topic``,
        ``resolution``, ``channel`` or ``all``."""
        from empatia.experience import effort_summary

        return effort_summary(self.store.con, by)

    @through_server("read")
    def perception_gap(self) -> list[dict[str, Any]]:
        """The company's own view beside what customers feel, per touchpoint."""
        from empatia.experience import perception_gap

        return perception_gap(self.store.con)

    @through_server("read")
    def touchpoints(self) -> list[dict[str, Any]]:
        """How people feel at each text touchpoint: sentiment, % negative, top emotion."""
        from empatia.experience import touchpoints

        return touchpoints(self.store.con)

    @through_server("read")
    def trajectory(self, person_id: str) -> dict[str, Any]:
        """One person's emotional trajectory: recent mood, trend, lowest point, every text."""
        from empatia.experience import trajectory

        return trajectory(self.store.con, person_id)

    @through_server("read")
    def may_survey(self, person_id: str) -> dict[str, Any]:
        """Whether this person may get a survey now (consent, fatigue caps, open cases)."""
        from empatia.experience import may_survey

        allowed, reason = may_survey(self.store, person_id)
        return {"person_id": person_id, "allowed": allowed, "reason": reason}

    # -- special care -----------------------------------------------------------------------
    @through_server("read")
    def care_entries(self, limit: int = 20, status: str | None = None,
                     redact: bool = False) -> list[dict[str, Any]]:  # fmt: skip
        """:meth:`care_list` as plain rows, of one ``status`` (``new`` or ``acknowledged``);
        ``redact`` shows what a read key sees (no customers' own words)."""
        from empatia.care import care_list

        return care_list(self.store.con, limit, "read" if redact else "local", status)

    @through_server("read")
    def care_case(self, person_id: str, redact: bool = False) -> dict[str, Any]:
        """One person's care case: explanation, factors, evidence and ``history``."""
        from empatia.care import entry, history

        con = self.store.con
        return {**entry(con, person_id, "read" if redact else "local"),
                "history": history(con, person_id)}  # fmt: skip

    @through_server("read")
    def care_alerts(self, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Care alerts, newest first (``open``, ``acknowledged``, ``resolved``, ``superseded``)."""
        from empatia.care import alerts

        return alerts(self.store.con, status, limit)

    @through_server("write")
    def care_action(self, alert: str, action: Literal["acknowledged", "resolved"],
                    note: str | None = None, actor: str = "python") -> dict[str, Any]:  # fmt: skip
        """Acknowledge (someone is on it) or resolve (off the list until something new) an
        alert, or a person's latest alert."""
        from empatia.care.alerts import act

        return act(self.store.con, alert, action, note, actor)

    @through_server("write")
    def add_webhook(self, url: str, secret: str | None = None,
                    min_score: float = 0.0) -> dict[str, Any]:  # fmt: skip
        """Send care alerts to ``url``, signed with ``secret`` (generated when left out; this
        answer shows it once)."""
        from empatia.care import add_webhook

        return add_webhook(self.store.con, url, secret, min_score)

    @through_server("read")
    def webhooks(self) -> list[dict[str, Any]]:
        """Webhooks and their delivery counts (never their secrets)."""
        from empatia.care import list_webhooks

        return list_webhooks(self.store.con)

    @through_server("write")
    def remove_webhook(self, webhook_id: str) -> dict[str, str]:
        """Stop sending to a webhook (its delivery log is kept)."""
        from empatia.care import remove_webhook

        remove_webhook(self.store.con, webhook_id)
        return {"removed": webhook_id}

    @through_server("write")
    def deliver_alerts(self) -> dict[str, int]:
        """Deliver pending care alerts now, with retries; counts by outcome."""
        from empatia.care import deliver_pending, load_weights

        weights = load_weights(settings=self.settings.stages.care)
        return deliver_pending(self.store.con, weights.delivery)

    @through_server("read")
    def deliveries(self, alert_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Webhook delivery attempts, newest first (of one alert, or all)."""
        from empatia.care.delivery import deliveries

        return deliveries(self.store.con, alert_id, limit)

    # -- next-best action -------------------------------------------------------------------
    @through_server("read")
    def next_action(self, identifier: str,
                    context: dict[str, str | None] | None = None) -> dict[str, Any]:  # fmt: skip
        """The next-best action for one person now, explained, with live ``context``
        (``channel``, ``category``, ``near_store``); nothing is recorded."""
        from empatia.decide.api import decide_now

        return decide_now(self, identifier, context, record=False)

    def _table(self, table: str, stage: str) -> pa.Table:
        if not self._produced(table, stage):
            raise NotFoundError(f"no {table} yet: run the {stage} stage first, e.g. ws.run()",
                                table=table)  # fmt: skip
        return self._arrow(f"select * from {table}")

    def _produced(self, table: str, stage: str) -> bool:
        """Whether ``stage`` has made ``table``: it holds rows, or the stage has run (its
        migrations create the table empty before that)."""
        if not self.store.table_exists(table):
            return False
        with self.store.read() as cur:
            if cur.execute(f"select exists (select 1 from {table})").fetchone() == (True,):
                return True
            if not self.store.table_exists("pipeline_state"):
                return False
            ran = cur.execute("select count(*) from pipeline_state where stage = ?", [stage])
            return ran.fetchone() != (0,)

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
