"""Reading identifiers (and CRM records) out of events, as the tracking plan places them.

Everything here is an Ibis expression except the normalisation of emails and phones, which
`phonenumbers` does in Python, as a model step where the rows are (in process on DuckDB, on
Spark's executors): the distinct raw values are normalised once and kept in
``identity_value_map``, so each later run only normalises what is new.
"""

from __future__ import annotations

from functools import partial

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis import _

from empatia.identity.config import IdentityConfig
from empatia.identity.normalize import normalize_email, normalize_phone
from empatia.store.engine import Engine, union

#: JSON paths of each identifier kind (docs/tracking-plan.md); user_id, anonymous_id and an
#: alias's previous_id come from the event's columns.
ID_PATHS: dict[str, tuple[str, ...]] = {
    "email": ("$.traits.email", "$.context.traits.email", "$.properties.email"),
    "phone": ("$.traits.phone", "$.context.traits.phone", "$.properties.phone"),
    "device_id": ("$.context.device.id",),
    "loyalty_id": ("$.traits.loyaltyId", "$.context.traits.loyaltyId", "$.properties.loyaltyId"),
    "crm_id": ("$.traits.crmId", "$.context.traits.crmId"),
}
MARKET_PATHS = ("$.traits.market", "$.context.traits.market")
MAPPED_KINDS = ("email", "phone")  # normalised in Python, through identity_value_map

RECORD_PATHS: dict[str, str] = {
    "first_name": "$.traits.firstName",
    "last_name": "$.traits.lastName",
    "birth_date": "$.traits.birthDate",
    "city": "$.traits.address.city",
    "street": "$.traits.address.street",
    "postal_code": "$.traits.address.postalCode",
    "email": "$.traits.email",
    "phone": "$.traits.phone",
    "crm_id": "$.traits.crmId",
    "loyalty_id": "$.traits.loyaltyId",
    "national_id": "$.traits.nationalId",
}
#: What a record needs besides a name to be matched: one of these (a name alone is no one).
RECORD_EVIDENCE = ("birth_date", "street", "postal_code", "email", "phone", "national_id")


def _clean(v: ir.StringValue) -> ir.StringValue:
    v = v.strip()
    return ibis.cases((v == "", ibis.null("string")), else_=v)


def raw_identifiers(eng: Engine, events: ir.Table, config: IdentityConfig) -> ir.Table:
    """``(seq, kind, raw, region)`` for every identifier in ``events``, not yet normalised."""
    names = [f"{kind}__{i}" for kind, paths in ID_PATHS.items() for i in range(len(paths))]
    paths = [p for ps in ID_PATHS.values() for p in ps]
    values = eng.json_strs(events.raw, [*paths, *MARKET_PATHS])  # each event's JSON read once
    cols: dict[str, ir.Value] = dict(zip(names, values[: len(paths)], strict=True))
    market = ibis.coalesce(*values[len(paths):])
    wide = events.select(
        "seq", "user_id", "anonymous_id", "previous_id",
        region=ibis.coalesce(_clean(market).upper(), ibis.literal(config.default_region.upper())),
        **cols,
    )  # fmt: skip
    wide = eng.materialize(wide, "ids_wide")
    parts = [
        wide.select("seq", kind=ibis.literal("user_id"), raw=wide.user_id, region="region"),
        wide.select(
            "seq", kind=ibis.literal("anonymous_id"), raw=wide.anonymous_id, region="region"
        ),
        # alias: previousId is an earlier anonymousId or userId
        wide.select(
            "seq", kind=ibis.literal("anonymous_id"), raw=wide.previous_id, region="region"
        ),
        wide.select("seq", kind=ibis.literal("user_id"), raw=wide.previous_id, region="region"),
    ]
    for name in cols:
        kind = name.split("__")[0]
        parts.append(wide.select("seq", kind=ibis.literal(kind), raw=wide[name], region="region"))
    long = union(*parts, distinct=False)
    return long.mutate(raw=_clean(long.raw)).filter(_.raw.notnull())


#: The rows of ``identity_value_map``: each e-mail or phone as written, its region, its
#: normalised value.
VALUE_MAP = pa.schema([("kind", pa.string()), ("raw", pa.string()), ("region", pa.string()),
                       ("value", pa.string())])  # fmt: skip


def normalized(strip_plus: bool, batch: pa.RecordBatch) -> pa.Table:
    """The model step that normalises e-mails and phones (rows of ``kind``, ``raw``,
    ``region``) into :data:`VALUE_MAP` rows."""
    kinds, raws, regions = (batch[c].to_pylist() for c in ("kind", "raw", "region"))
    values = [normalize_email(r, strip_plus=strip_plus) if k == "email" else normalize_phone(r, g)
              for k, r, g in zip(kinds, raws, regions, strict=True)]  # fmt: skip
    return pa.table([kinds, raws, regions, values], schema=VALUE_MAP)


def update_value_map(eng: Engine, raw: ir.Table, config: IdentityConfig) -> ir.Table:
    """Normalise the emails and phones not normalised before (a model step: where the rows
    are); return the whole map."""
    known = eng.table("identity_value_map")
    todo = (
        raw.filter(raw.kind.isin(MAPPED_KINDS))
        .select("kind", "raw", "region")
        .distinct()
        .anti_join(known, ["kind", "raw", "region"])
    )
    new = eng.map_batches(todo, partial(normalized, config.email_strip_plus), VALUE_MAP,
                          "value_map_new")  # fmt: skip
    try:
        if not eng.count(new):
            return known
        eng.write(new, "identity_value_map", replace=False)
    finally:
        eng.drop_temp(new)
    return eng.table("identity_value_map")


def event_identifiers(eng: Engine, events: ir.Table, config: IdentityConfig) -> ir.Table:
    """``(seq, kind, value)``: every normalised identifier of ``events``, each once."""
    raw = eng.materialize(raw_identifiers(eng, events, config), "ids_raw")
    vmap = update_value_map(eng, raw, config)
    mapped = (
        raw.filter(raw.kind.isin(MAPPED_KINDS))
        .join(vmap, ["kind", "raw", "region"])
        .select("seq", "kind", value=vmap.value)
    )
    lower = set(config.lowercase_ids)
    plain = raw.filter(~raw.kind.isin(MAPPED_KINDS))
    if lower:
        plain = plain.mutate(
            raw=ibis.cases((plain.kind.isin(tuple(lower)), plain.raw.lower()), else_=plain.raw)
        )
    plain = plain.select("seq", "kind", value=plain.raw)
    return union(mapped, plain, distinct=False).filter(_.value.notnull()).distinct()


def crm_records(eng: Engine, events: ir.Table) -> ir.Table:
    """``identity_records``: identify calls with a CRM id, loyalty id or user id (keyed by the
    first of those), a first or a last name and one more personal field (birth date, street,
    postal code, email, phone, national id), for probabilistic matching.

    A record missing one of its names is still matched on the rest of its evidence; the
    matcher decides how much a lone surname is worth.
    """
    ident = events.filter(events.type == "identify")
    values = eng.json_strs(ident.raw, list(RECORD_PATHS.values()))
    cols = {k: _clean(v) for k, v in zip(RECORD_PATHS, values, strict=True)}
    wide = ident.select("seq", user_id=_clean(ident.user_id), **cols)
    evidence = ibis.or_(*(wide[c].notnull() for c in RECORD_EVIDENCE))
    wide = wide.filter((wide.first_name.notnull() | wide.last_name.notnull()) & evidence)
    wide = wide.filter(wide.crm_id.notnull() | wide.loyalty_id.notnull() | wide.user_id.notnull())
    return wide.select(
        "seq",
        kind=ibis.cases(
            (wide.crm_id.notnull(), "crm_id"),
            (wide.loyalty_id.notnull(), "loyalty_id"),
            else_="user_id",
        ),
        value=ibis.coalesce(wide.crm_id, wide.loyalty_id, wide.user_id),
        first_name=wide.first_name.lower(),
        last_name=wide.last_name.lower(),
        birth_date=wide.birth_date,
        city=wide.city.lower(),
        street=wide.street.lower(),
        postal_code=wide.postal_code,
        email=wide.email.lower(),
        phone=wide.phone,
        # compared as typed, less spaces, dots and dashes (123-45-6789 = 123 45 6789)
        national_id=_clean(wide.national_id.upper().re_replace(r"[\s.\-/]", "")),
    )
