"""The lake: the event log and the stage outputs as Delta Lake tables that a cluster shares.

``[store] kind = "lake"`` (with ``uri``, a folder every machine of the cluster sees) keeps the
batch data in Delta Lake tables — plain Parquet files plus a transaction log — that each
engine reads and writes without passing the rows through one process:

* **Spark** reads a table's files on its executors (the driver only lists them) and writes a
  stage's rows as Parquet from the executors into a staging folder of the table; the driver
  then commits that list of files as one Delta version (:meth:`Lake.commit`), atomically:
  readers see the old version or the new, never half of it.
* **DuckDB** (the store, the web UI, the API, the DuckDB engine) reads the files of the version
  the store last committed, through a view per table (:mod:`empatia.store.store`), and writes
  Arrow batches straight into a new version (:meth:`Lake.write`).

The store (one DuckDB file) keeps the rest: what people write through the API, the runner's
state, the views of the lake tables, and the event log as ingest nodes receive it, shipped to
the lake's ``events`` table by :func:`ship_events`.

**Several stores, one lake.** The first store to send events to a lake (or run, or make a key there) owns its event log
(:meth:`Lake.claim`, by creating a Delta table, which only one writer can do): it
runs the pipeline, answers erasures, and ships its log to ``events``. Every other store
opening the lake is an *ingest node*: it lands what it receives as before, sends it to an inbox
table of its own (``inbox/<node>``, :func:`ship_inbox`) and then drops it from its file; the
primary gathers the inboxes into its log (:mod:`empatia.ingest.nodes`) and removes the files
it took, exactly those (:meth:`Lake.take`). No node writes another's table, and the only
coordination is Delta's own commit protocol.

Delta is read and written by delta-rs (the ``deltalake`` package, the ``lake`` extra), with
no JVM jar: Delta's own Spark connector comes from Maven only, and no release of it supports
Spark 4.3. Files are plain Parquet, so Spark reads them with its own reader.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from empatia.errors import ConfigError, IngestNodeError, MissingExtraError, StoreError
from empatia.store import state

log = logging.getLogger(__name__)


#: Rows per Arrow batch streamed from DuckDB into the lake's files.
BATCH = 100_000
#: Bytes (in memory, before compression) written to one Parquet file of the lake.
FILE_BYTES = 512 * 2**20
#: No column statistics in the transaction log: its minimum and maximum of a text column
#: would be somebody's email, kept in the log's history after an erasure deleted the files.
PRIVATE = {"delta.dataSkippingNumIndexedCols": "0"}
#: The table whose creation names the store that owns the lake's event log.
PRIMARY = "primary"
#: The folder of the ingest nodes' inbox tables, one per node: ``inbox/<node>``.
INBOX = "inbox"
#: Where a fit on Spark leaves its model for the executors (``Engine.fit``), while a stage runs.
MODELS = "_models"
#: Seconds after which a file no version of an inbox references is a killed send's leftover.
DAY = 24 * 3600.0


def _deltalake() -> Any:
    try:
        import deltalake
    except ImportError as e:
        raise MissingExtraError("deltalake", "lake") from e
    return deltalake


class Lake:
    """A folder of Delta Lake tables, one per store table: ``<uri>/<table>/``.

    Only local (or network-mounted) paths: DuckDB reads object stores through its httpfs
    extension, which is downloaded at run time, and Spark through Hadoop's S3 jars from Maven.
    """

    def __init__(self, uri: str | Path) -> None:
        text = str(uri)
        if "://" in text and not text.startswith("file://"):
            raise ConfigError(f"store.uri {text!r}: the lake must be a folder (local or a network "
                              "mount every machine sees); object stores are not supported yet")  # fmt: skip
        self.root = Path(text.removeprefix("file://")).expanduser().resolve()
        self._dl = _deltalake()
        self._primary: tuple[str, str] | None = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot use the lake folder {self.root}: {e.strerror}") from e

    def path(self, table: str) -> str:
        return str(self.root / table)

    def _table(self, table: str) -> Any:
        return self._dl.DeltaTable(self.path(table))

    def exists(self, table: str) -> bool:
        return bool(self._dl.DeltaTable.is_deltatable(self.path(table)))

    def create(self, table: str, schema: pa.Schema) -> None:
        """An empty table of ``schema`` (nothing if the table exists)."""
        self._dl.DeltaTable.create(self.path(table), _plain(schema), mode="ignore",
                                   configuration=PRIVATE)  # fmt: skip

    def version(self, table: str) -> int:
        return int(self._table(table).version())

    def files(self, table: str, version: int | None = None) -> list[str]:
        """The Parquet files of the table's current version (or ``version``), as paths."""
        dt = self._dl.DeltaTable(self.path(table), version=version)
        return [u.removeprefix("file://") for u in dt.file_uris()]

    def schema(self, table: str) -> pa.Schema:
        return pa.schema(self._table(table).schema().to_arrow())

    def write(self, table: str, data: pa.Table | pa.RecordBatchReader, *, append: bool = False,
              app: tuple[str, int] | None = None) -> int:  # fmt: skip
        """Replace the table's rows with ``data`` (or add them, ``append``) in one version;
        returns how many rows went.

        The batches are written to Parquet files as they come (a new file every
        :data:`FILE_BYTES`) and then committed together (:meth:`commit`): this process never
        holds more than a batch, however many rows go — delta-rs's own writer keeps what it
        writes in memory (1.8 GB for the 100k demo's event log).

        ``app`` = (writer id, sequence number): the version also records that this writer got
        this far (:meth:`progress`), so a writer that restarts sends nothing twice.
        """
        reader = data.to_reader() if isinstance(data, pa.Table) else data
        schema = _plain(reader.schema)  # Delta's types
        if not self.exists(table):
            self.create(table, schema)
        folder = Path(self.staging(table))
        folder.mkdir(parents=True)
        out: pq.ParquetWriter | None = None
        size, part = 0, 0
        try:
            for batch in reader:
                if out is None or size >= FILE_BYTES:
                    if out is not None:
                        out.close()
                    out = pq.ParquetWriter(folder / f"part-{part:05d}.parquet", schema)
                    size, part = 0, part + 1
                out.write_batch(pa.RecordBatch.from_arrays(
                    [c.cast(f.type) for c, f in zip(batch.columns, schema, strict=True)],
                    schema=schema))  # fmt: skip
                size += batch.nbytes
            if out is None:  # no rows: one empty file carries the schema of the new version
                out = pq.ParquetWriter(folder / "part-00000.parquet", schema)
        finally:
            if out is not None:
                out.close()
        return self.commit(table, str(folder), append=append, app=app)

    def progress(self, table: str, app: str) -> int:
        """How far the writer ``app`` got (:meth:`write`'s ``app``); -1 before its first."""
        if not self.exists(table):
            return -1
        found = self._table(table).transaction_version(app)
        return -1 if found is None else int(found)

    def staging(self, table: str) -> str:
        """A new folder inside the table where a job writes Parquet files to :meth:`commit`."""
        # not "_…": Delta's vacuum passes over such folders, and must reach these files
        return str(Path(self.path(table)) / "jobs" / uuid.uuid4().hex)

    def commit(self, table: str, folder: str, *, append: bool = False,
               app: tuple[str, int] | None = None) -> int:  # fmt: skip
        """Commit the Parquet files a job wrote in ``folder`` (:meth:`staging`) as one version
        replacing the table's rows (or adding to them); returns how many rows they hold. Only
        the files' footers are read here. ``app``: as :meth:`write`'s."""
        tx = self._dl.transaction
        props = None
        if app is not None:  # several writers append at once: retried, as Delta resolves it
            props = tx.CommitProperties(app_transactions=[tx.Transaction(*app)],
                                        max_commit_retries=50)  # fmt: skip
        files = sorted(Path(folder).rglob("*.parquet"))
        if not files:  # no rows: an overwrite empties the table
            if append:
                return 0
            schema: Any = self._table(table).schema()
        else:
            schema = self._dl.Schema.from_arrow(_plain(pq.read_schema(files[0])))
        root, adds, rows = Path(self.path(table)), [], 0
        for f in files:
            n = pq.read_metadata(f).num_rows
            st = f.stat()
            adds.append(tx.AddAction(path=str(f.relative_to(root)), size=st.st_size,
                                     partition_values={}, modification_time=int(st.st_mtime * 1000),
                                     data_change=True, stats=json.dumps({"numRecords": n})))  # fmt: skip
            rows += n
        for attempt in range(20):  # an append meets the primary taking an inbox's files: again
            try:
                self._table(table).create_write_transaction(
                    adds, mode="append" if append else "overwrite", schema=schema,
                    commit_properties=props)  # fmt: skip
                return rows
            except self._dl.exceptions.CommitFailedError as e:
                if not append or attempt == 19:
                    shutil.rmtree(folder, ignore_errors=True)
                    raise StoreError(f"cannot commit to the lake's {table}: {e}") from e
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def owner(self) -> tuple[str, str] | None:
        """The (node, store path) that owns the lake's event log; ``None`` before a store
        claimed it (:meth:`claim`). It never changes."""
        if self._primary is None and self.exists(PRIMARY):
            try:
                first = self._table(PRIMARY).history()[-1]
                self._primary = (str(first["empatia.node"]), str(first["empatia.store"]))
            except Exception as e:  # noqa: BLE001 - a damaged log: one line, not a traceback
                raise StoreError(f"cannot read who owns the lake {self.root}: {e}") from e
        return self._primary

    def claim(self, node: str, store: str) -> tuple[str, str]:
        """Make the store ``node`` (at ``store``) the owner unless one is recorded; returns
        the owner. Claimed by creating the table :data:`PRIMARY`, whose first commit names the
        claimer: Delta creates a version only where none is, so of two stores claiming at once
        one wins and both read the same answer. A lake whose event log was sent before owners
        were recorded is claimed only by the store that sent it."""
        found = self.owner()
        if found is not None:
            return found
        if self.exists("events") and self.progress("events", node) < 0:
            raise StoreError(f"the lake {self.root} holds an event log another store sent before"
                             " lakes recorded their owner: open the lake from that store first")  # fmt: skip
        props = self._dl.transaction.CommitProperties(
            custom_metadata={"empatia.node": node, "empatia.store": store})  # fmt: skip
        with contextlib.suppress(Exception):  # another store created it first
            self._dl.DeltaTable.create(self.path(PRIMARY), pa.schema([("node", pa.string())]),
                                       mode="error", commit_properties=props)  # fmt: skip
        found = self.owner()
        if found is None:
            raise StoreError(f"cannot write to the lake {self.root}: its owner is not recorded")
        return found

    def inboxes(self) -> Iterator[tuple[str, Any, list[str]]]:
        """Each ingest node's inbox table that holds files: (table, the snapshot read, the
        files' paths relative to the table)."""
        folder = self.root / INBOX
        for node in sorted(folder.iterdir()) if folder.is_dir() else []:
            table = f"{INBOX}/{node.name}"
            if not self.exists(table):
                continue
            dt = self._table(table)
            if files := _paths(dt):
                yield table, dt, files

    def clean(self, table: str, older_than: float = 0.0) -> int:
        """Delete the Parquet files inside the table that no version references and that were
        last written more than ``older_than`` seconds ago: a writer killed before its commit,
        or a commit that failed, left them. Only where no write of the table is in flight
        (the writer itself, before it writes), or with a grace time longer than any write."""
        if not self.exists(table):
            return 0
        root = Path(self.path(table))
        kept = set(_paths(self._table(table)))
        now, gone = time.time(), 0
        for f in root.glob("jobs/*/*.parquet"):
            if str(f.relative_to(root)) not in kept and now - f.stat().st_mtime > older_than:
                f.unlink(missing_ok=True)
                gone += 1
        return gone

    def take(self, table: str, snapshot: Any, files: list[str]) -> None:
        """Remove ``files`` (relative paths, of the version ``snapshot`` read) from the table
        and delete them: files a writer added since stay, and two takers of the same file
        conflict (Delta's own check), so no row is taken twice or lost."""
        tx = self._dl.transaction
        now = int(time.time() * 1000)
        snapshot.create_write_transaction(
            [tx.RemoveAction(path=f, data_change=True, deletion_timestamp=now) for f in files],
            mode="append", schema=snapshot.schema(),
            commit_properties=tx.CommitProperties(max_commit_retries=50))  # fmt: skip
        root = Path(self.path(table))
        for f in files:  # not vacuum: it would delete a node's files not committed yet
            (root / f).unlink(missing_ok=True)

    def vacuum(self, table: str, keep: int | None = None) -> int:
        """Delete the files that neither the current version nor version ``keep`` (the one the
        store reads) needs — after an erasure, the old versions held the person's rows;
        returns how many files went."""
        gone = self._table(table).vacuum(
            retention_hours=0, dry_run=False, enforce_retention_duration=False,
            keep_versions=None if keep is None else [keep],
        )  # fmt: skip
        return len(gone)


def _paths(dt: Any) -> list[str]:
    """The files of a Delta table's snapshot, as its log names them (relative to the table)."""
    return list(pa.table(dt.get_add_actions(flatten=True)).column("path").to_pylist())


def _plain(schema: pa.Schema) -> pa.Schema:
    """``schema`` as Delta takes it: no metadata, timestamps in UTC microseconds."""
    fields = []
    for f in schema.remove_metadata():
        t = f.type
        if pa.types.is_timestamp(t):
            t = pa.timestamp("us", tz="UTC" if t.tz else None)
        elif pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        fields.append(pa.field(f.name, t, nullable=True))
    return pa.schema(fields)


def lake_of(settings: Any) -> Lake | None:
    """The lake the ``[store]`` settings name, or ``None`` for the one-file store."""
    store = settings.store
    if store.kind != "lake":
        return None
    if not store.uri:
        raise ConfigError('store.kind = "lake" needs store.uri: the folder of the lake')
    return Lake(store.uri)


#: The tables that live in the lake (DuckDB sees each through a view of the version the store
#: last committed): the stage outputs that only their stage writes. A stage output people
#: also change through the API (care_list, care_alerts, merge_history), a ledger of what
#: people decided (consent_ledger, identity_decisions, keys, pins) or a stage's own state stays
#: in the store's file; ``events``
#: stays there too, as the ingest nodes' log, and is shipped to the lake (:func:`ship_events`).
LAKE_TABLES = (
    "identities", "event_persons", "identity_event_ids", "identity_records", "identity_matches",
    "identity_blocked", "identity_value_map", "merge_identifiers",
    "profiles", "profile_traits",
    "text_analysis", "text_sentences", "touchpoint_emotion", "person_emotion", "survey_responses",
    "experience_activity", "experience_activity_model", "experience_case_events",
    "experience_gap", "experience_journeys", "experience_trajectories",
    "journeys", "journey_steps", "journey_sessions",
    "care_traits", "decide_inputs", "decisions", "consent_events", "identity_review",
    "text_cache",  # a memo: added to as the model computes (Engine.memo), not at the commit
)  # fmt: skip

_PINS = "_lake_pins"  # table_name → the Delta version the store's view reads
_COLUMNS = "_lake_columns"  # the declared columns (and DuckDB types) of each lake table
_STATE = "_lake_state"  # this store as the lake's writer: its name, what it shipped


def attach(con: Any, lake: Lake, store: str = ":memory:") -> None:
    """Make the store's lake tables views of the lake, once: a table still in the file (a new
    store, or one moving into the lake) keeps its column types for its view, and its rows go
    to the lake first — each table in a transaction of its own, so a stop half-way leaves the
    rest for the next open. A store joins a lake another store owns (:meth:`Lake.claim`;
    ``store`` is this one's path) as an ingest node, and only with no results of its own (they
    would replace the primary's); a copy of a node's file becomes a node of its own."""
    con.execute(f"create table if not exists {_PINS} (table_name varchar primary key,"
                " version bigint not null)")  # fmt: skip
    con.execute(f"create table if not exists {_COLUMNS} (table_name varchar, column_name varchar,"
                " data_type varchar, position integer, primary key (table_name, column_name))")  # fmt: skip
    con.execute(f"create table if not exists {_STATE} (key varchar primary key, value varchar)")
    kinds = dict(con.execute(
        "select table_name, table_type from information_schema.tables"
        " where table_schema = 'main' and table_name in (select unnest(?))", [list(LAKE_TABLES)]
    ).fetchall())  # fmt: skip
    owner = lake.owner()
    if owner is not None and owner[0] != _node(con):
        full = [t for t in LAKE_TABLES if kinds.get(t) == "BASE TABLE"
                and con.execute(f'select count(*) from "{t}"').fetchall()[0][0]]  # fmt: skip
        if full:
            raise IngestNodeError(
                f"the lake {lake.root} belongs to the store {owner[1]}; this store holds results"
                f" of its own ({', '.join(full[:3])}, …) that would replace its: open the lake from"
                " a new store to add an ingest node")  # fmt: skip
        if state.get(con, _STATE, "path") not in (None, store):  # a copy of a node's file:
            state.drop(con, _STATE, "node")  # a node of its own, or it would drop what the
            state.drop(con, _STATE, "events_sum")  # other copy sent, as sent by itself
    state.put(con, _STATE, path=store)
    if owner is not None and owner[0] == _node(con):
        if not lake.exists(KEYS):
            publish_keys(con, lake)
        take_back(con, lake)
    for table in LAKE_TABLES:
        if kinds.get(table) != "BASE TABLE":
            continue
        con.execute("begin transaction")
        try:
            con.execute(f"delete from {_COLUMNS} where table_name = ?", [table])
            con.execute(f"insert into {_COLUMNS} select table_name, column_name, data_type,"
                        " ordinal_position from information_schema.columns"
                        " where table_schema = 'main' and table_name = ?", [table])  # fmt: skip
            rows = con.sql(f"select * from {table}")
            lake.create(table, _plain(rows.limit(0).to_arrow_table().schema))
            if con.execute(f"select count(*) from {table}").fetchall()[0][0]:
                lake.write(table, rows.to_arrow_reader(BATCH))
            con.execute(f"drop table {table}")
            pin(con, lake, table, lake.version(table))
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise


def pin(con: Any, lake: Lake, table: str, version: int) -> None:
    """Point the store's view of ``table`` at the lake's ``version`` (in ``con``'s transaction,
    so a stage's outputs appear together, with its state, or not at all)."""
    cols = declared(con, table)
    files = lake.files(table, version)
    if files:
        have = set(pq.read_schema(files[0]).names)
        select = ", ".join(f'"{c}"::{t} as "{c}"' if c in have else f'null::{t} as "{c}"'
                           for c, t in cols)  # fmt: skip
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        source = f"read_parquet([{listed}], union_by_name = true)"
    else:
        select = ", ".join(f'null::{t} as "{c}"' for c, t in cols)
        source = "(select 1) where false"
    con.execute(f'create or replace view "{table}" as select {select} from {source}')
    state.replace_row(con, _PINS, ("table_name",), {"table_name": table, "version": version})


def pinned_files(con: Any, lake: Lake, table: str) -> list[str]:
    """The files of the version of ``table`` the store's view reads."""
    row = con.execute(f"select version from {_PINS} where table_name = ?", [table]).fetchall()
    return lake.files(table, int(row[0][0]) if row else None)


def declared(con: Any, table: str) -> list[tuple[str, str]]:
    """A lake table's declared columns and their DuckDB types, in order."""
    return con.execute(f"select column_name, data_type from {_COLUMNS} where table_name = ?"
                       " order by position", [table]).fetchall()  # fmt: skip


def is_primary(con: Any, lake: Lake, *, claim: bool = False) -> bool:
    """Whether this store owns the lake's event log (:meth:`Lake.owner`); with ``claim``, it
    becomes the owner when none is recorded — what sending events, a run, an erasure or a new
    key does, and reading does not (a mistyped ``--db`` must not take a lake)."""
    node = _node(con)
    if claim:
        return lake.claim(node, state.get(con, _STATE, "path") or "")[0] == node
    owner = lake.owner()
    return owner is not None and owner[0] == node


def require_primary(con: Any, lake: Lake | None, doing: str) -> None:
    """Refuse ``doing`` on an ingest node: the pipeline and erasures run where the lake's
    event log is kept, or they would work on the node's few unsent events alone. A lake
    nobody owns yet becomes this store's."""
    if lake is not None and not is_primary(con, lake, claim=True):
        raise IngestNodeError(
            f"{doing} runs where the lake's event log is kept, in the store {lake.claim('', '')[1]};"
            " this store is an ingest node of that lake: it only sends on the events it receives")  # fmt: skip


#: The primary's write keys (hashes, and when revoked), which its ingest nodes accept too.
KEYS = "write_keys"


def publish_keys(con: Any, lake: Lake) -> None:
    """The primary's write keys to the lake (call it after they changed): a client sends the
    same write key to whichever node it reaches, and a key revoked here stops working there
    too. Only write keys, which are public anyway: browsers carry them."""
    if is_primary(con, lake, claim=True):
        lake.write(KEYS, con.sql("select secret_hash, key_id, name, scope, created_at, revoked_at"
                                 " from api_keys where scope = 'write'").to_arrow_reader(BATCH))  # fmt: skip


def primary_keys(lake: Lake) -> list[tuple[Any, ...]]:
    """The rows :func:`publish_keys` last wrote (none before it first did)."""
    if not lake.exists(KEYS):
        return []
    files = lake.files(KEYS)
    t = pq.ParquetDataset(files).read() if files else None
    return list(zip(*(t.column(i).to_pylist() for i in range(t.num_columns)), strict=True)) if t else []


def ship_inbox(con: Any, lake: Lake) -> int:
    """An ingest node's send: every event of its log to its inbox table (``inbox/<node>``),
    appended in one version that records how far it got, then dropped from the log — the lake
    keeps them, and the primary gathers them. A node stopped between the two drops, on the
    next send, what the lake already got. Returns how many rows went."""
    node = _node(con)
    table = f"{INBOX}/{node}"
    lake.clean(table)  # files of a send killed before its commit (this store is its one writer)
    done = lake.progress(table, node)
    con.execute("begin transaction")
    try:
        if done > 0:
            con.execute("delete from events where seq <= ?", [done])
        top = int(con.execute("select coalesce(max(seq), 0) from events").fetchall()[0][0])
        sent = 0
        if top > done:
            reader = con.sql(f"select * from events where seq <= {top}").to_arrow_reader(BATCH)
            sent = lake.write(table, reader, append=True, app=(node, top))
            con.execute("delete from events where seq <= ?", [top])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return sent


def ship_events(con: Any, lake: Lake) -> int:
    """Send the rows of the store's event log the lake lacks to its ``events`` table, in one
    version that also records how far this store got (so a crash between the two sends
    nothing twice). When rows already shipped changed since — deleted (an erasure, a
    retention pass: fewer rows up to the mark) or changed in place (a text blanked, marked by
    :func:`events_changed`) — the lake's copy is rewritten whole and the old files deleted.
    Returns how many rows went.

    What it reads of the log is its ``seq`` column (every few seconds on a server): never
    the rows already shipped, whose bytes would otherwise pass through this process's
    memory on every ship. On an ingest node: :func:`ship_inbox`."""
    node = _node(con)
    if not is_primary(con, lake, claim=True):
        return ship_inbox(con, lake)
    top = con.execute("select coalesce(max(seq), 0) from events").fetchall()[0][0]
    done = lake.progress("events", node)
    if done >= 0 and _shipped(con, done) != state.get(con, _STATE, "events_sum"):
        done = -1  # changed under the lake: send everything again
    if top <= done:
        return 0
    reader = con.sql(f"select * from events where seq > {max(done, 0)} and seq <= {top}"
                     ).to_arrow_reader(BATCH)  # fmt: skip
    sent = lake.write("events", reader, append=done >= 0, app=(node, int(top)))
    state.put(con, _STATE, events_sum=_shipped(con, top), events_top=top)
    if done < 0:
        lake.vacuum("events")
    return sent


def take_back(con: Any, lake: Lake) -> int:
    """When the primary's file is older than the event log it sent (a backup of it put back),
    the lake's copy is the newer one: take back the events acknowledged since (the lake alone
    has them), and make the older rows what the lake holds — an erasure or a retention pass
    since the backup deleted or blanked some of them. Call it as the store opens, before it
    numbers a new event (a new event would take the number of one in the lake). Returns how
    many events came back."""
    node = _node(con)
    top = int(con.execute("select coalesce(max(seq), 0) from events").fetchall()[0][0])
    done = lake.progress("events", node)
    sent_to = int(state.get(con, _STATE, "events_top") or done)  # as this file remembers it
    # (a file whose rows changed since it last sent has its own erasure to send: not older)
    if top >= done or _shipped(con, sent_to) != state.get(con, _STATE, "events_sum"):
        return 0
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in lake.files("events"))
    con.execute("create or replace temp table _lake_events as select * replace"  # its key made again
                f" (md5_number(message_id) as message_key) from read_parquet([{listed}])")  # fmt: skip
    cols = [c for c, in con.execute("select column_name from information_schema.columns"
                                    " where table_name = 'events' and table_schema = 'main'"
                                    " order by ordinal_position").fetchall()]  # fmt: skip
    kept = ", ".join(f'"{c}" = l."{c}"' for c in cols if c not in ("seq", "message_key"))
    con.execute("begin transaction")
    try:
        gone = con.execute("delete from events where seq <= ? and seq not in"
                           " (select seq from _lake_events)", [done]).fetchall()[0][0]  # fmt: skip
        con.execute(f"update events set {kept} from _lake_events l where events.seq = l.seq")
        back = con.execute("insert into events by name select * from _lake_events where seq > ?",
                           [top]).fetchall()[0][0]  # fmt: skip
        last = con.execute("select coalesce(last_value, start_value - 1) from duckdb_sequences()"
                           " where sequence_name = 'events_seq'").fetchall()[0][0]  # fmt: skip
        if done > last:  # the next event is numbered after those taken back
            con.execute("select max(nextval('events_seq')) from range(?)", [done - last])
        state.put(con, _STATE, events_sum=_shipped(con, done), events_top=done)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists _lake_events")
    for table in LAKE_TABLES:  # a view of a version an erasure since then deleted: the newest
        if lake.exists(table) and not all(Path(f).exists() for f in pinned_files(con, lake, table)):
            pin(con, lake, table, lake.version(table))
    log.warning("this store's file is older than the event log it sent to the lake %s (a backup"
                " put back?): %d events taken back from the lake, %d deleted there since; run"
                " `empatia run --full` for results of them all", lake.root, back, gone)  # fmt: skip
    return int(back)


def _shipped(con: Any, upto: int) -> str:
    """The rows up to ``upto`` by their ``seq``: which are still there (the log only grows
    at its end, so a deletion is the only other change but one in place)."""
    row = con.execute("select count(*), coalesce(bit_xor(hash(seq)), 0) from events"
                      f" where seq <= {int(upto)}").fetchall()[0]  # fmt: skip
    return f"{row[0]}:{row[1]}"


def events_changed(con: Any) -> None:
    """Rows of the event log were changed in place (an erasure blanked a text): the next
    :func:`ship_events` sends the whole log again. Call it in the transaction that changes
    them, so the mark commits or rolls back with the change."""
    state.put(con, _STATE, events_sum="changed in place")


def _node(con: Any) -> str:
    """This store's name as a writer of the lake (made once, kept in the file)."""
    if (name := state.get(con, _STATE, "node")) is None:  # read first: asked on every send
        state.put_new(con, _STATE, "node", f"empatia-{uuid.uuid4().hex[:12]}")
        name = state.get(con, _STATE, "node")
    return str(name)


def erase_rows(con: Any, lake: Lake | None, table: str, where: str, params: Any = None, *,
               dry_run: bool = False) -> int:  # fmt: skip
    """Rewrite the lake table ``table`` without its rows matching ``where`` (DuckDB SQL over
    the store's view), pinned in ``con``'s transaction; returns how many rows matched. The
    files of the old version still hold them until :func:`forget`."""
    if lake is None:
        raise ConfigError(f"{table} is a lake table, and this store has no lake")
    n = int(con.execute(f'select count(*) from "{table}" where {where}', params).fetchall()[0][0])
    if n and not dry_run:
        kept = con.sql(f'select * from "{table}" where not coalesce(({where}), false)',
                       params=params)  # fmt: skip
        lake.write(table, kept.to_arrow_reader(BATCH))
        pin(con, lake, table, lake.version(table))
    return n


def forget(con: Any, lake: Lake) -> int:
    """After an erasure (or retention) committed: send the event log's copy again if rows of it
    went, and delete every lake file that neither a table's current version nor the one the
    store reads needs — the older versions still held the erased rows. Returns the files
    deleted."""
    ship_events(con, lake)
    gone = 0
    # a fit's model holds people's purchases: a run killed before it deleted it left it here
    # (a run fitting now fails and is run again: the erasure wins)
    for f in (lake.root / MODELS).glob("*") if (lake.root / MODELS).is_dir() else []:
        f.unlink(missing_ok=True)
        gone += 1
    for node in sorted((lake.root / INBOX).iterdir()) if (lake.root / INBOX).is_dir() else []:
        gone += lake.clean(f"{INBOX}/{node.name}", older_than=DAY)  # a node that never came back
    for table in LAKE_TABLES:
        if lake.exists(table):
            row = con.execute(f"select version from {_PINS} where table_name = ?",
                              [table]).fetchall()  # fmt: skip
            gone += lake.vacuum(table, keep=int(row[0][0]) if row else None)
    return gone
