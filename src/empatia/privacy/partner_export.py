"""Partner exports: only people whose consent allows the ``partner_export`` use (privacy's
table: ``partner_sharing``), only contracted fields.

A contract is a small TOML file (see ``empatia/privacy/partners/example.toml``): the partner's
name, the source table, the fields the contract lists, the format and whether free text is
redacted (on by default). Each export is written to the audit log.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from empatia.errors import ConfigError, ValidationError
from empatia.privacy import audit
from empatia.privacy.consent import purpose_key, use_sql
from empatia.privacy.redact import redact
from empatia.privacy.subjects import q, tables
from empatia.store import Store

FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class Contract:
    name: str
    fields: tuple[str, ...]
    source: str = "profiles"
    format: str = "parquet"
    redact: bool = True
    #: what the contract says the partner uses the data for; needed on top of partner_sharing
    purpose: str = "partner_sharing"

    @classmethod
    def load(cls, path: str | Path) -> Contract:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read the partner contract {path}: {e}", path=str(path)) from e
        try:
            c = cls(
                name=str(data["name"]), fields=tuple(data["fields"]),
                source=str(data.get("source", "profiles")),
                format=str(data.get("format", "parquet")), redact=bool(data.get("redact", True)),
                purpose=str(data.get("purpose", "partner_sharing")),
            )  # fmt: skip
        except KeyError as e:
            raise ConfigError(f"the partner contract {path} lacks {e.args[0]!r}") from e
        try:
            purpose_key(c.purpose)
        except ValidationError as e:
            raise ConfigError(f"the partner contract {path}: {e.message}", path=str(path)) from e
        if c.format not in FORMATS:
            raise ConfigError(f"format {c.format!r}; use one of {', '.join(FORMATS)}")
        if not c.fields:
            raise ConfigError("a partner contract lists at least one field")
        return c


@dataclass
class PartnerExport:
    partner: str
    path: str
    rows: int
    without_consent: int


def export_partner(
    store: Store,
    contract: Contract,
    out: str | Path,
    *,
    audience: list[str] | None = None,
    fmt: str | None = None,
    actor: str = "cli",
) -> PartnerExport:
    """Write the contract's fields for consenting people (of ``audience``, if given). On a
    lake, only its primary exports, after it read what its ingest nodes sent (a withdrawal)."""
    if store.lake is not None:
        from empatia.ingest.nodes import gather
        from empatia.store.lake import require_primary

        require_primary(store.con, store.lake, "a partner export")
        with store.lock:
            gather(store)
    cols = tables(store).get(contract.source)
    if cols is None or "person_id" not in cols:
        raise ConfigError(
            f"the contract's source {contract.source!r} is not a table with a person_id column;"
            " run `empatia run` first, or name another table",
            source=contract.source,
        )
    unknown = [f for f in contract.fields if f not in cols]
    if unknown:
        raise ConfigError(
            f"the contract lists unknown field(s) {', '.join(unknown)}; {contract.source} has "
            f"{', '.join(cols)}",
            fields=unknown,
        )
    fmt = fmt or contract.format
    if fmt not in FORMATS:
        raise ConfigError(f"format {fmt!r}; use one of {', '.join(FORMATS)}")
    scope = "true" if audience is None else "list_contains($audience, s.person_id)"
    params = {} if audience is None else {"audience": audience}
    ok = use_sql("partner_export", "s.person_id", destination=contract.purpose)
    select = ", ".join(f"s.{q(f)}" for f in contract.fields)
    cur = store.cursor()
    try:
        table = cur.sql(
            f"select {select} from {q(contract.source)} s where {scope} and {ok}"
            " order by s.person_id",
            params=params or None,
        ).to_arrow_table()
        total = cur.execute(
            f"select count(*) from {q(contract.source)} s where {scope}", params
        ).fetchone()[0]  # type: ignore[index]
    finally:
        cur.close()
    if contract.redact:
        for i, f in enumerate(table.schema):
            if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
                col = pa.array([redact(v) for v in table.column(i).to_pylist()], type=f.type)
                table = table.set_column(i, f, col)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, out)
    else:
        pacsv.write_csv(table, out)
    from empatia.privacy import files

    files.record(store, out, "partner_export")  # erasure takes people out of it later
    audit.log(store, actor, "partner_export", None,
              f"{contract.name}: {table.num_rows} people, fields {','.join(contract.fields)}")  # fmt: skip
    return PartnerExport(contract.name, str(out), table.num_rows, int(total) - table.num_rows)
