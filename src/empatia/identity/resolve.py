"""The batch identity resolution: identifiers → guarded edges → components → stable persons.

1. New events' identifiers are extracted once into ``identity_event_ids`` (incremental).
2. Over-merge guard: an identifier seen with more distinct people-naming identifiers
   (user_id, email, crm_id, loyalty_id) than its kind allows is *blocked*: it keeps a person
   of its own and links nobody (``identity_blocked`` says why).
3. Edges: within each event every identifier links to the event's first one (a star, so an
   event with k ids gives k−1 edges); probabilistic matches add edges; edges between
   identifiers pinned to different people (by an unmerge) are dropped.
4. Connected components (:mod:`empatia.identity.components`).
5. Stable ids: a component keeps the previous person id that most of its identifiers had
   (each previous id goes to the component holding most of it); pins win; new components get
   ``p_`` + 16 hex digits of the md5 of their smallest identifier.
6. ``merge_history`` records people absorbed or split since the previous run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis import _

from empatia.identity.components import components
from empatia.identity.config import KINDS, STRONG_KINDS, IdentityConfig
from empatia.identity.extract import crm_records, event_identifiers
from empatia.identity.merges import record_merges
from empatia.store.engine import Engine, union
from empatia.store import state

_NODE_SPACE = 1 << 55  # node ids stay below this; rank * _NODE_SPACE + node orders by rank
_BUCKET_ROWS = 1 << 36  # identifiers per bucket of :func:`number_nodes`


def kind_rank(kind: ir.StringValue) -> ir.IntegerValue:
    """The position of an identifier kind in :data:`KINDS` (which id names an event's person)."""
    return ibis.cases(*((kind == k, i) for i, k in enumerate(KINDS)), else_=len(KINDS))


def number_nodes(ids: ir.Table) -> ir.Table:
    """``ids`` (distinct ``kind``, ``value``) with ``node``: distinct integers in the order of
    ``(kind, value)`` (which identifier of a component names its person follows it).

    Numbered in buckets — the kind and the first two characters of the value, as far as
    they order the text: a character past ASCII counts as 128 and ends the prefix — with a
    window per bucket, so that a cluster numbers them in parallel (one window over every
    identifier moves them all to one machine). Order-preserving: an identifier that sorts
    before another never lands in a later bucket."""
    kind = ibis.cases(*((ids.kind == k, i + 1) for i, k in enumerate(sorted(KINDS))), else_=0)
    c1 = ibis.least(ids.value.ascii_str(), 128)
    c2 = ibis.cases(
        ((c1 < 128) & (ids.value.length() > 1), ibis.least(ids.value.substr(1, 1).ascii_str(), 128)),
        else_=0,
    )
    bucket = ((kind * 129 + c1) * 129 + c2).cast("int64")
    within = ibis.row_number().over(group_by=bucket, order_by=[ids.kind, ids.value])
    return ids.mutate(node=bucket * _BUCKET_ROWS + within)


def read_state(eng: Engine) -> dict[str, str]:
    with eng.store.read() as cur:
        return state.items(cur, "identity_state")


def write_state(eng: Engine, **values: object) -> None:
    with eng.store.write() as cur:
        state.put(cur, "identity_state", **{k: str(v) for k, v in values.items()})


def person_key(kind: ir.StringValue, value: ir.StringValue, salt: str = "") -> ir.StringValue:
    """``p_`` + 16 hex digits of md5(kind:value[salt]): a new person's id."""
    text = kind.concat(":", value)
    if salt:
        text = text.concat(salt)
    return ibis.literal("p_").concat(text.hexdigest("md5").substr(0, 16))


def extract_new(
    eng: Engine, config: IdentityConfig, *, full: bool, until: int | None = None
) -> dict[str, int]:
    """Append identifiers and CRM records of events not processed before (up to ``until``)."""
    state = read_state(eng)
    last_seq = 0 if full else int(state.get("last_seq", 0))
    events = eng.table("events")
    top = eng.to_arrow(events.aggregate(top=events.seq.max()))["top"][0].as_py()
    max_seq = min(int(top or 0), until if until is not None else int(top or 0))
    new = events.filter((events.seq > last_seq) & (events.seq <= max_seq))
    # a full run replaces what was extracted; otherwise the new events' rows are added
    n_ids = eng.write(event_identifiers(eng, new, config), "identity_event_ids", replace=full)
    n_rec = eng.write(crm_records(eng, new), "identity_records", replace=full)
    return {"last_seq": last_seq, "max_seq": max_seq, "new_ids": n_ids, "new_records": n_rec}


def guard(eng: Engine, base: ir.Table, nodes: ir.Table, config: IdentityConfig) -> ir.Table:
    """``identity_blocked`` rows (plus ``node``): identifiers seen with too many people.

    ``base`` is ``(seq, kind, node)``: every identifier of every event, as node numbers.
    """
    a, b = base, base.filter(base.kind.isin(STRONG_KINDS))
    pairs = (
        a.join(b, a.seq == b.seq)
        .filter(b.kind != a.kind)
        .select(node=a.node, kind=a.kind, neighbour_kind=b.kind, nnode=b.node)
        .distinct()
    )
    deg = pairs.group_by("node", "kind", "neighbour_kind").aggregate(neighbours=_.count())
    limits = ibis.memtable(
        {
            "lkind": list(config.max_neighbours),
            "max_allowed": [int(v) for v in config.max_neighbours.values()],
        }
    )
    limits = eng.from_arrow(limits.to_pyarrow(), "limits")
    over = deg.join(limits, deg.kind == limits.lkind).filter(_.neighbours > _.max_allowed)
    w = ibis.window(group_by="node", order_by=[over.neighbours.desc(), over.neighbour_kind])
    over = over.mutate(r=ibis.row_number().over(w)).filter(_.r == 0)
    over = over.select(
        "node", "neighbour_kind",
        neighbours=over.neighbours.cast("int64"), max_allowed=over.max_allowed.cast("int64"),
        reason=ibis.literal("seen with ").concat(
            over.neighbours.cast("string"), " different ", over.neighbour_kind, " (limit ",
            over.max_allowed.cast("string"), ")",
        ),
    )  # fmt: skip
    configured = [v.split(":", 1) for v in config.blocked_values if ":" in v]
    if configured:
        conf = eng.from_arrow(
            ibis.memtable(
                {"kind": [k for k, _v in configured], "value": [v for _k, v in configured]}
            ).to_pyarrow(),
            "blocked_conf",
        )
        conf = conf.join(nodes, ["kind", "value"]).select(
            "node", neighbour_kind=ibis.null("string"),
            neighbours=ibis.null("int64"), max_allowed=ibis.null("int64"),
            reason=ibis.literal("listed in blocked_values"),
        )  # fmt: skip
        over = union(over.anti_join(conf, "node"), conf, distinct=False)
    over = eng.materialize(over, "over")
    counts = (
        base.join(over.select("node"), "node")
        .group_by("node")
        .aggregate(events=_.seq.nunique().cast("int64"))
    )
    out = over.join(nodes, "node").join(counts, "node", how="left")
    return out.select(
        "node", "kind", "value", "neighbour_kind", "neighbours", "max_allowed",
        events=ibis.coalesce(out.events, 0), reason="reason",
    )  # fmt: skip


def resolve(
    eng: Engine,
    config: IdentityConfig,
    *,
    full: bool = False,
    run_id: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Run identity resolution; write identities, event_persons and the reports.

    Holds the store's write lock throughout: the fresh path (new events stitched by a
    server) never interleaves with the rebuild of the same store, and other stores never wait.
    """
    with eng.store.write_lock:
        return _resolve(eng, config, full=full, run_id=run_id, progress=progress)


def _resolve(
    eng: Engine, config: IdentityConfig, *, full: bool, run_id: str | None, progress: Any
) -> dict[str, Any]:
    now = datetime.now(UTC)
    run_id = run_id or now.strftime("%Y%m%dT%H%M%S%f")
    tick = progress.advance if progress is not None else (lambda n=1: None)
    if progress is not None:
        progress.total(6)

    figures = extract_new(eng, config, full=full)
    tick()
    if config.probabilistic:
        from empatia.identity.probabilistic import match_records

        with eng.store.read() as cur:
            row = cur.execute(
                "select (select md5(coalesce(string_agg(concat_ws('|', kind_l, value_l, kind_r,"
                " value_r, status), ',' order by kind_l, value_l, kind_r, value_r), ''))"
                " from identity_decisions)"
                " || '/' || (select count(*) from identity_records)"
            ).fetchone()
        inputs = f"{row[0] if row else ''}|{config.model_dump_json()}"
        if full or read_state(eng).get("matched_inputs") != inputs:
            # new records (from this run or the fresh path), decisions or settings
            figures.update(match_records(eng, config))
            write_state(eng, matched_inputs=inputs)
    tick()

    ids = eng.table("identity_event_ids")  # distinct per event already (see extract)
    matches = eng.table("identity_matches")
    node_src = union(
        ids.select("kind", "value"),
        matches.select(kind=matches.kind_l, value=matches.value_l),
        matches.select(kind=matches.kind_r, value=matches.value_r),
        distinct=True,
    )
    nodes = eng.materialize(number_nodes(node_src), "nodes")

    base = eng.materialize(
        ids.join(nodes, ["kind", "value"]).select(
            ids.seq, ids.kind, nodes.node, rank=kind_rank(ids.kind)
        ),
        "base",
    )
    blocked = eng.materialize(guard(eng, base, nodes, config), "blocked")
    eng.write(blocked.drop("node"), "identity_blocked")
    tick()

    # -- edges --------------------------------------------------------------------------
    bl = blocked.select("node", is_blocked=ibis.literal(True))
    keyed = base.left_join(bl, "node").select(
        "seq", "kind", "node", "rank", blocked=ibis.coalesce(_.is_blocked, False)
    )
    keyed = eng.materialize(
        keyed.mutate(
            key=(keyed.blocked.cast("int64") * 100 + keyed.rank) * _NODE_SPACE + keyed.node
        ),
        "keyed",
    )
    ok = keyed.filter(~keyed.blocked)
    anchors = ok.group_by("seq").aggregate(anchor=(ok.key.min() % _NODE_SPACE))
    star = ok.join(anchors, "seq").select(a=_.anchor, b=_.node, seq=_.seq).filter(_.a != _.b)
    ml, mr = nodes.view(), nodes.view()
    match_edges = (
        matches.join(ml, [matches.kind_l == ml.kind, matches.value_l == ml.value])
        .join(mr, [matches.kind_r == mr.kind, matches.value_r == mr.value])
        .select(a=ml.node, b=mr.node, seq=ibis.null("int64"))
    )
    edges = union(star, match_edges, distinct=False)
    pins = eng.table("identity_pins")
    has_pins = int(pins.count().to_pyarrow().as_py()) > 0
    pinned = nodes.join(pins, ["kind", "value"]).select(nodes.node, pin=pins.person_id)
    pa_, pb = pinned.view(), pinned.view()
    conflicting = (
        edges.join(pa_, edges.a == pa_.node)
        .join(pb, edges.b == pb.node)
        .filter(pa_.pin != pb.pin)
        .select(edges.a, edges.b)
    )
    if has_pins:
        edges = edges.anti_join(conflicting, ["a", "b"])
    edges = eng.materialize(edges.group_by("a", "b").aggregate(seq=_.seq.min()), "edges")
    tick()

    labels = components(eng, edges.select("a", "b"), nodes=nodes.select("node"))
    lab = eng.materialize(
        nodes.join(labels, "node").select("kind", "value", "node", "label"), "lab"
    )
    tick()

    # -- stable person ids --------------------------------------------------------------
    prev = eng.materialize(
        eng.table("identities").select("kind", "value", prev_pid="person_id"), "prev"
    )
    cand = (
        lab.join(prev, ["kind", "value"])
        .group_by("label", pid=_.prev_pid)
        .aggregate(n=_.count().cast("int64"))
    )
    pin_cand = (
        lab.join(pins, ["kind", "value"])
        .group_by("label", pid=_.person_id)
        .aggregate(n=(_.count() * 1_000_000).cast("int64"))
    )
    cand = union(cand, pin_cand, distinct=False).group_by("label", "pid").aggregate(n=_.n.sum())
    w = ibis.window(group_by="pid", order_by=[cand.n.desc(), cand.label])
    cand = cand.mutate(r=ibis.row_number().over(w)).filter(_.r == 0)
    w2 = ibis.window(group_by="label", order_by=[cand.n.desc(), cand.pid])
    chosen = cand.mutate(r2=ibis.row_number().over(w2)).filter(_.r2 == 0).select("label", "pid")
    roots = lab.filter(lab.node == lab.label)
    taken = union(prev.select(pid="prev_pid"), pins.select(pid="person_id"), distinct=True)
    salt = f"|{figures['max_seq']}"
    fresh = roots.select(
        "label", kind_=roots.kind, value_=roots.value, pid=person_key(roots.kind, roots.value)
    )
    tk = taken.select(t="pid")
    fj = fresh.left_join(tk, fresh.pid == tk.t)
    fresh = fj.select(
        "label",
        pid=ibis.cases(
            (fj.t.isnull(), fj.pid),
            else_=person_key(fj.kind_, fj.value_, salt),
        ),
    )
    person = fresh.left_join(chosen, "label").select(
        "label", person_id=ibis.coalesce(chosen.pid, fresh.pid)
    )
    identities = eng.materialize(
        lab.join(person, "label").select("kind", "value", "node", "label", "person_id"),
        "identities_new",
    )
    tick()

    # -- merge history ------------------------------------------------------------------
    figures.update(record_merges(eng, identities, prev, edges, run_id, now))

    # -- write ----------------------------------------------------------------------------
    figures["identities"] = eng.write(identities.select("kind", "value", "person_id"), "identities")
    first = keyed.group_by("seq").aggregate(node=keyed.node.argmin(keyed.key))
    ev = first.join(identities, "node").select(first.seq, identities.person_id)
    figures["event_persons"] = eng.write(ev, "event_persons")
    _review_persons(eng)
    figures["blocked"] = int(blocked.count().to_pyarrow().as_py())
    figures["persons"] = int(identities.person_id.nunique().to_pyarrow().as_py())
    write_state(eng, last_seq=figures["max_seq"], last_run=run_id)
    tick()
    return figures


def _review_persons(eng: Engine) -> None:
    """Name the people on both sides of each review pair."""
    r, ids = eng.table("identity_review"), eng.table("identities")
    for side in ("l", "r"):
        i = ids.select(**{f"_k{side}": ids.kind, f"_v{side}": ids.value, f"_p{side}": ids.person_id})
        r = r.left_join(i, [r[f"kind_{side}"] == i[f"_k{side}"], r[f"value_{side}"] == i[f"_v{side}"]])
    named = eng.materialize(r.mutate(  # the table is rewritten from itself: computed first
        person_id_l=r._pl, person_id_r=r._pr,  # noqa: SLF001
    ).drop("_kl", "_vl", "_pl", "_kr", "_vr", "_pr"))
    eng.write(named, "identity_review")
    eng.drop_temp(named)
