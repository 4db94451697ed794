"""Batch import of Segment-shaped events from JSONL, CSV and Parquet files.

DuckDB reads and parses the file in parallel and validates it with the rules of
:mod:`empatia.ingest.normalize` (the HTTP server applies their Python twin,
:mod:`empatia.ingest.event`). Each file is stored in one transaction: all its valid rows or
nothing. Events of people who were erased (GDPR) are dropped inside that transaction, so they
never reach the disk. Invalid rows go to a reject file beside the
input (``NAME.rejects.jsonl``: line, reason and messageId — no event payload) and are counted. Events
without a ``messageId`` get one derived from their content (``h-`` + MD5 of the line), so
importing a file twice stores nothing twice.

CSV and Parquet columns map onto the spec: ``type``, ``event``, ``name``, ``userId``,
``anonymousId``, ``messageId``, ``timestamp``, ``sentAt``, ``previousId``, ``groupId`` are
top-level fields; ``properties.X``, ``traits.X``, ``context.X`` columns are nested under
their object; any other column goes to ``traits`` for identify/group rows and to
``properties`` otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import orjson

from empatia.errors import ValidationError
from empatia.ingest.event import MAX_DEPTH, TOO_DEEP, too_deep
from empatia.ingest.normalize import KNOWN, insert_sql, parse_sql, reject_sql
from empatia.privacy import retention
from empatia.privacy.tombstones import drop_erased_events
from empatia.store import Store

TOP_LEVEL = (
    "type", "event", "name", "userId", "anonymousId", "messageId", "timestamp", "sentAt",
    "previousId", "groupId", "originalTimestamp",
)  # fmt: skip
OBJECTS = ("properties", "traits", "context", "integrations")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass
class FileReport:
    path: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    erased: int = 0  # events of people who asked to be erased: dropped (privacy tombstones)
    reject_file: str | None = None
    outside_retention: int = 0  # stored events the next `empatia run` deletes (retention)
    retention_keep: str | None = None  # the events policy they fall outside: "25 months"


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0
    shipped: int = 0  # events sent on to the lake (a lake workspace)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def erased(self) -> int:
        return sum(f.erased for f in self.files)

    @property
    def outside_retention(self) -> int:
        return sum(f.outside_retention for f in self.files)

    @property
    def retention_notice(self) -> str | None:
        """What the user must hear before the next run deletes some of these events."""
        return retention.import_notice(self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def file_format(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".gz", ".zst"):
        name = name.removesuffix(suffix)
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    raise ValidationError(
        f"{path}: unknown file type; use .jsonl/.ndjson, .csv or .parquet (optionally .gz)",
        path=str(path),
    )


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


_NUMERIC = {p for p, rule in KNOWN if rule in ("amount", "number", "rating")}


def _numeric(col: str, path: str, type_: str) -> str:
    """A known numeric property read as text (a CSV column with one odd cell is all text):
    numbers become numbers, anything else stays text and is refused with its row."""
    if path not in _NUMERIC or type_ != "VARCHAR":
        return _ident(col)
    return f"coalesce(try_cast({_ident(col)} as double)::json, to_json({_ident(col)}))"


def _tabular_json(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """SQL building one Segment JSON text per row of a CSV/Parquet relation."""
    columns = [r[0] for r in con.execute(f"describe select * from {source}").fetchall()]
    types = dict(con.execute(f"select column_name, column_type from (describe select * from {source})").fetchall())
    nested: dict[str, list[tuple[str, str]]]
    loose: list[tuple[str, str]]
    top, nested, loose = [], {o: [] for o in OBJECTS}, []
    for col in columns:
        head, _, rest = col.partition(".")
        if col in TOP_LEVEL:
            top.append(f"{_ident(col)} := {_ident(col)}")
        elif col in OBJECTS:
            expr = _ident(col)
            if types[col] == "VARCHAR":
                expr = f"try_cast({expr} as json)"
            nested[col].append(("*", expr))
        elif head in OBJECTS and rest:
            nested[head].append((rest, _numeric(col, f"{head}.{rest}", types[col])))
        else:
            loose.append((col, _numeric(col, f"properties.{col}", types[col])))

    def pack(items: list[tuple[str, str]]) -> str | None:
        whole = [e for k, e in items if k == "*"]
        if whole:
            return whole[0]
        if not items:
            return None
        return "struct_pack(" + ", ".join(f"{_ident(k)} := {e}" for k, e in items) + ")"

    type_col = _ident("type") if "type" in columns else "null"
    parts = list(top)
    for obj in OBJECTS:
        own = pack(nested[obj])
        if obj in ("properties", "traits") and loose:
            side = "in" if obj == "traits" else "not in"
            with_loose = pack(nested[obj] + loose)
            expr = (
                f"case when coalesce({type_col}, '') {side} ('identify', 'group') "
                f"then {with_loose} else {own or 'null'} end"
            )
            parts.append(f"{obj} := {expr}")
        elif own:
            parts.append(f"{obj} := {own}")
    return f"to_json(struct_pack({', '.join(parts)}))::varchar"


def _stage(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> None:
    src = _q(str(path))
    label = _q("file:" + path.name)
    if fmt == "jsonl":
        # Each line as one text column: \x01 never occurs unescaped in valid JSON.
        body = (
            f"select row_number() over () as idx, line as text from read_csv({src}, "
            "columns={'line': 'VARCHAR'}, delim='\\x01', quote='', escape='', header=false, "
            "auto_detect=false, null_padding=false)"
        )
        body = f"select * from ({body}) where text is not null and trim(text) <> ''"
    else:
        reader = (
            f"read_csv({src}, header=true)" if fmt == "csv" else f"read_parquet({src})"
        )
        con.execute(f"create or replace temp view _src as select * from {reader}")
        offset = 1 if fmt == "csv" else 0  # CSV line numbers count the header
        body = (
            f"select row_number() over () + {offset} as idx, {_tabular_json(con, '_src')} as text "
            "from _src"
        )
    con.execute(
        f"""create or replace temp view _staging as
        select 0 as batch, idx, text, {label} as source, now() as received_at,
               null::varchar as default_type, null::varchar as fallback_id
        from ({body})"""
    )


def _reject_unreadable(con: duckdb.DuckDBPyConnection, max_event_bytes: int) -> None:
    """Refuse what DuckDB parses but the HTTP path (and every page, through orjson) cannot:
    numbers too large for a double (``1e400``) and nesting deeper than ``MAX_DEPTH``.

    Only lines that might be either are checked, in Python; the reason replaces any later
    rule's, as :func:`empatia.ingest.event.reason` checks these first.
    """
    rows = con.execute(
        "select idx, text from _parsed where ok and json_type(text) = 'OBJECT' "
        f"and strlen(text) <= {max_event_bytes} and ("
        f"length(text) - length(replace(replace(text, '[', ''), '{{', '')) > {MAX_DEPTH} "
        "or regexp_matches(text, '[0-9][eE][+]?[0-9]{3}|[0-9]{300}'))"
    ).fetchall()
    found = {}
    for idx, text in rows:
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError as e:
            found[idx] = f"malformed JSON: {e.msg}"
            continue
        if too_deep(text):
            found[idx] = TOO_DEEP
    if found:
        con.execute("delete from _rejects where list_contains(?, idx)", [list(found)])
        con.executemany("insert into _rejects values (0, ?, ?)", list(found.items()))


def import_file(
    store: Store, path: Path, *, max_event_bytes: int = 32 * 1024, reject_dir: Path | None = None,
    policies: list[retention.Policy] | None = None,
) -> FileReport:
    """Import one file in one transaction; see the module docstring."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{path}: no such file", path=str(path))
    fmt = file_format(path)
    policies = retention.load_policies() if policies is None else policies  # errors before a write
    report = FileReport(str(path))
    con = store.cursor()
    try:
        try:
            _stage(con, path, fmt)
        except duckdb.Error as e:
            raise ValidationError(f"{path}: cannot read it as {fmt}: {e}", path=str(path)) from e
        con.execute(f"create or replace temp table _parsed as {parse_sql('_staging')}")
        con.execute(
            f"create or replace temp table _rejects as {reject_sql('_parsed', max_event_bytes)}"
        )
        _reject_unreadable(con, max_event_bytes)
        report.rows = con.execute("select count(*) from _parsed").fetchone()[0]  # type: ignore[index]
        report.rejected = con.execute("select count(*) from _rejects").fetchone()[0]  # type: ignore[index]
        where = "idx not in (select idx from _rejects)" if report.rejected else "true"
        con.execute("begin transaction")
        try:
            last = con.execute("select coalesce(max(seq), 0) from events").fetchone()
            inserted = con.execute(insert_sql("_parsed", where)).fetchone()
            report.erased = drop_erased_events(con, since_seq=int(last[0]) if last else 0)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        report.accepted = (int(inserted[0]) if inserted else 0) - report.erased
        report.outside_retention, report.retention_keep = retention.count_new_expired(
            con, policies, int(last[0]) if last else 0)  # fmt: skip
        report.duplicates = report.rows - report.rejected - report.accepted - report.erased
        if report.rejected:
            out = (reject_dir or path.parent) / (path.name + ".rejects.jsonl")
            con.execute(
                # Line, reason and messageId only: no personal data lands in a file that
                # erasure would have to find (the line is in the user's own file).
                f"copy (select r.idx as line, r.reason, case when json_valid(p.text) then"
                f" json_extract_string(p.text, '$.messageId') end as message_id from _rejects r "
                f"join _parsed p using (idx) order by r.idx) to {_q(str(out))} (format json)"
            )
            report.reject_file = str(out)
    finally:
        for t in ("_parsed", "_rejects"):
            con.execute(f"drop table if exists {t}")
        for v in ("_staging", "_src"):
            con.execute(f"drop view if exists {v}")
        con.close()
    return report


def import_files(
    store: Store,
    paths: Sequence[Path | str],
    *,
    progress: Callable[[FileReport], None] | None = None,
    max_event_bytes: int = 32 * 1024,
    reject_dir: Path | None = None,
    policies: list[retention.Policy] | None = None,
) -> ImportReport:
    """Import files one after the other; ``progress`` is called after each file.

    ``policies`` (the workspace's retention, :func:`empatia.privacy.retention.for_settings`;
    the packaged defaults when ``None``) decide which stored events the report counts as
    ``outside_retention``.

    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "e.jsonl").write_text(json.dumps({"type": "track", "event": "Hi", "userId": "u1"}))
    >>> with Store(":memory:") as s:
    ...     import_files(s, [d / "e.jsonl"]).accepted
    1
    """
    t0 = time.perf_counter()
    report = ImportReport()
    for p in paths:
        fr = import_file(store, Path(p), max_event_bytes=max_event_bytes, reject_dir=reject_dir,
                         policies=policies)  # fmt: skip
        report.files.append(fr)
        if progress:
            progress(fr)
    report.seconds = time.perf_counter() - t0
    return report
