"""Finding everything held about one person, in every table of the store.

Right of access and right to erasure share this plan. A subject is named by any identifier
(``email:ala@x.com``, a phone, ``user_id:u1``, a bare value) or a person id (``p_…``). The
plan gathers the person's ids, identifiers and events (closing over the identity tables when
they exist, and over the ids seen on the person's events), then finds rows in *every* table
of the store by their columns — discovered from ``information_schema``, so tables added by
other stages are covered without registering anything:

====================================  ===========================================
column(s)                              matched against
====================================  ===========================================
``*person_id*``                        the person ids
``seq``                                the person's events
``kind`` + ``value`` (also ``_l``/``_r``)  the identifiers
``user_id``, ``anonymous_id``, ``previous_id``  the user and anonymous ids
``email`` / ``phone``                  the e-mails / phones
``text_hash``                          hashes of the person's analysed texts
====================================  ===========================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb
import orjson

from empatia.errors import NotFoundError, ValidationError
from empatia.identity.extract import ID_PATHS
from empatia.privacy.identifiers import KINDS as ID_KINDS
from empatia.privacy.identifiers import canonical, of_event
from empatia.store import Store

#: Tables the plan never touches: bookkeeping without personal data, or handled on purpose.
SKIP_TABLES = frozenset(
    {"schema_migrations", "api_keys", "privacy_state", "privacy_tombstones", "privacy_audit"}
)
_PAIRS = (("kind", "value"), ("kind_l", "value_l"), ("kind_r", "value_r"))


@dataclass
class Subject:
    """One person: person ids (one once stitched), identifiers (kind, value), event seqs."""

    query: str
    person_ids: set[str] = field(default_factory=set)
    identifiers: set[tuple[str, str]] = field(default_factory=set)
    seqs: set[int] = field(default_factory=set)
    text_hashes: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # "first last", found in others' words
    raw_forms: set[str] = field(default_factory=set)  # e-mails and phones as people wrote them

    @property
    def person_id(self) -> str | None:
        return min(self.person_ids) if self.person_ids else None

    def values(self, *kinds: str) -> set[str]:
        return {v for k, v in self.identifiers if not kinds or k in kinds}


def _candidates(query: str) -> list[tuple[str, str]]:
    """``(kind, canonical value)`` pairs a query can mean: ``kind:value`` names one kind; a
    bare value is tried under every kind it can be (only an address with @ is an e-mail)."""
    kind, sep, value = query.strip().partition(":")
    if sep and kind in ID_KINDS:
        v = canonical(kind, value)
        if v is None:
            raise ValidationError(f"{value.strip()!r} is not a valid {kind}", kind=kind)
        return [(kind, v)]
    out = []
    for k in ID_KINDS:
        v = canonical(k, query)
        if v and (k != "email" or "@" in v):
            out.append((k, v))
    return out


def _all(cur: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> list[tuple]:  # type: ignore[type-arg]
    return cur.execute(sql, params).fetchall()


def resolve(store: Store, query: str) -> Subject:
    """Everything that identifies the subject ``query``; NotFoundError when nothing does."""
    if not query or not query.strip():
        raise ValidationError("name a subject: a person id or an identifier like email:…")
    subject = Subject(query)
    cur = store.cursor()
    try:
        has_identity = store.table_exists("identities")
        text = query.strip()
        if has_identity:
            if text.startswith("p_"):
                subject.person_ids |= {
                    r[0]
                    for r in _all(cur, "select distinct person_id from identities where person_id = ?", [text])  # noqa: E501
                }
            for kind, value in _candidates(text):
                subject.person_ids |= {
                    r[0]
                    for r in _all(
                        cur,
                        "select distinct person_id from identities where kind = ? and value = ?",
                        [kind, value],
                    )
                }
            if len(subject.person_ids) > 1 and ":" not in text and not text.startswith("p_"):
                raise ValidationError(
                    f"{len(subject.person_ids)} people have that identifier; say which kind,"
                    " e.g. email:… or user_id:…",
                    persons=len(subject.person_ids),
                )
        if subject.person_ids:
            subject.identifiers |= {
                (k, v)
                for k, v in _all(
                    cur,
                    "select kind, value from identities where list_contains(?, person_id)",
                    [sorted(subject.person_ids)],
                )
            }
        else:
            # Not stitched (yet): the identifier itself, where the tracking plan puts it.
            for kind, value in _candidates(text):
                seqs = _carrying(store, cur, kind, value)
                if seqs:
                    subject.identifiers.add((kind, value))
                    subject.seqs |= seqs
            if text.startswith("p_") and has_identity and _all(
                cur, "select 1 from event_persons where person_id = ? limit 1", [text]
            ):
                subject.person_ids.add(text)
        if not subject.identifiers and not subject.person_ids:
            raise NotFoundError(
                "no person or identifier matches that subject; check the spelling, or run "
                "`empatia run` if the data is new"
            )
        _close_events(store, cur, subject)
        if store.table_exists("identity_value_map") and subject.identifiers:
            subject.raw_forms |= {
                r[0]
                for r in _all(
                    cur,
                    "select raw from identity_value_map where list_contains(?, value)",
                    [sorted(subject.values("email", "phone"))],
                )
            }
    finally:
        cur.close()
    return subject


def _identity_seen(store: Store, cur: duckdb.DuckDBPyConnection) -> int:
    """The last event identity has read (its identifiers are in ``identity_event_ids``)."""
    if not store.table_exists("identity_event_ids"):
        return 0
    row = cur.execute("select coalesce(max(seq), 0) from identity_event_ids").fetchone()
    return int(row[0]) if row else 0


def _carrying(store: Store, cur: duckdb.DuckDBPyConnection, kind: str, value: str,
              *, unread_only: bool = False) -> set[int]:  # fmt: skip
    """The events that carry identifier ``(kind, value)`` in its place (never a substring of
    some other text): from identity's extract, and by reading the events it has not read."""
    if kind in ("user_id", "anonymous_id"):
        sql = "select seq from events where user_id = $v or anonymous_id = $v"
        return {r[0] for r in cur.execute(sql, {"v": value}).fetchall()}
    seqs: set[int] = set()
    if not unread_only and store.table_exists("identity_event_ids"):
        seqs |= {r[0] for r in cur.execute(
            "select seq from identity_event_ids where kind = ? and value = ?", [kind, value]
        ).fetchall()}  # fmt: skip
    paths = ID_PATHS[kind]
    got = " or ".join(f"json_extract_string(raw, '{p}') is not null" for p in paths)
    vals = ", ".join(f"json_extract_string(raw, '{p}')" for p in paths)
    rows = cur.execute(
        f"select seq, [{vals}] from events where seq > ? and ({got})",
        [_identity_seen(store, cur)],
    ).fetchall()
    seqs |= {seq for seq, raws in rows if any(canonical(kind, r) == value for r in raws if r)}
    return seqs


def _close_events(store: Store, cur: duckdb.DuckDBPyConnection, subject: Subject) -> None:
    """The person's events, and every identifier on them (as identity places and normalises
    them); a few rounds reach a fixed point in practice."""
    searched: set[tuple[str, str]] = set()
    for _ in range(4):
        before = (len(subject.seqs), len(subject.identifiers))
        ids = sorted(subject.values("user_id", "anonymous_id"))
        seqs: set[int] = set()
        if ids:
            seqs |= {
                r[0]
                for r in _all(
                    cur,
                    "select seq from events where list_contains($ids, user_id)"
                    " or list_contains($ids, anonymous_id) or list_contains($ids, previous_id)",
                    {"ids": ids},  # type: ignore[arg-type]
                )
            }
        if subject.person_ids and store.table_exists("event_persons"):
            seqs |= {
                r[0]
                for r in _all(
                    cur,
                    "select seq from event_persons where list_contains(?, person_id)",
                    [sorted(subject.person_ids)],
                )
            }
        if subject.identifiers and store.table_exists("identity_event_ids"):
            cur.execute("create or replace temp table _subject_ids (kind varchar, value varchar)")
            cur.executemany("insert into _subject_ids values (?, ?)", sorted(subject.identifiers))
            seqs |= {
                r[0]
                for r in _all(
                    cur,
                    "select seq from identity_event_ids join _subject_ids using (kind, value)",
                    [],
                )
            }
        # Events identity has not read yet carry e-mails, phones, … only in their JSON.
        for kind, value in sorted(subject.identifiers - searched):
            if kind in ID_PATHS:
                seqs |= _carrying(store, cur, kind, value, unread_only=True)
        searched |= subject.identifiers
        subject.seqs |= seqs
        if subject.seqs:
            _load_seqs(cur, subject)
            for raw, uid, aid, prev in _all(
                cur,
                "select raw, user_id, anonymous_id, previous_id from events"
                " join _subject_seqs using (seq)",
                [],
            ):
                subject.identifiers |= of_event(_json(raw), uid, aid, prev, every_form=False)
        if (len(subject.seqs), len(subject.identifiers)) == before:
            break
    if subject.seqs:
        _load_seqs(cur, subject)
        for first, last in _all(
            cur,
            "select distinct trim(json_extract_string(raw, '$.traits.firstName')),"
            " trim(json_extract_string(raw, '$.traits.lastName'))"
            " from events join _subject_seqs using (seq)",
            [],
        ):
            if first and last:
                subject.names.add(f"{first} {last}")
        if store.table_exists("text_analysis"):
            subject.text_hashes |= {
                r[0]
                for r in _all(
                    cur, "select text_hash from text_analysis join _subject_seqs using (seq)", []
                )
            }


def _json(raw: str) -> dict[str, object]:
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}


def _load_seqs(cur: duckdb.DuckDBPyConnection, subject: Subject) -> None:
    cur.execute("create or replace temp table _subject_seqs (seq bigint)")
    cur.execute(
        "insert into _subject_seqs select unnest(?::bigint[])", [sorted(subject.seqs)]
    )


# -- where the subject is, table by table ----------------------------------------------------
def tables(store: Store) -> dict[str, dict[str, str]]:
    """Every base table of the store's main schema, and every table of its lake (a view in
    the file): {table: {column: type}}."""
    from empatia.store.lake import LAKE_TABLES

    lake = list(LAKE_TABLES) if getattr(store, "lake", None) is not None else []
    cur = store.cursor()
    try:
        rows = cur.execute(
            "select c.table_name, c.column_name, c.data_type from information_schema.columns c"
            " join information_schema.tables t on t.table_name = c.table_name"
            " and t.table_schema = c.table_schema"
            " where (t.table_type = 'BASE TABLE' or list_contains(?, t.table_name))"
            " and c.table_schema = 'main' and t.table_catalog = current_database()"
            " order by c.table_name, c.ordinal_position", [lake]
        ).fetchall()
    finally:
        cur.close()
    out: dict[str, dict[str, str]] = {}
    for t, c, ty in rows:
        out.setdefault(t, {})[c] = ty
    return out


def row_id(store: Store, table: str, columns: dict[str, str]) -> str:
    """What names one row of ``table``: its ``seq``, else its rowid — or, for a lake table
    (a view, which has no rowid), the hash of the whole row."""
    if "seq" in columns:
        return "seq"
    return f"hash({q(table)})" if store.is_lake(table) else "rowid"


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _list(values: set[str] | set[int]) -> str:
    if not values:
        return "[]"
    items = []
    for v in sorted(values):  # type: ignore[type-var]
        items.append(str(int(v)) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'")
    return "[" + ", ".join(items) + "]"


def predicates(subject: Subject, table: str, columns: dict[str, str]) -> list[str]:
    """SQL conditions matching the subject's rows of ``table`` (empty: the table has none)."""
    preds: list[str] = []
    person_ids = _list(subject.person_ids)
    for col in columns:
        if re.search(r"person_id", col) and subject.person_ids:
            preds.append(f"list_contains({person_ids}, {q(col)}::varchar)")
    if "seq" in columns and subject.seqs and columns["seq"].upper() in ("BIGINT", "INTEGER"):
        preds.append(f"list_contains({_list(subject.seqs)}, seq)")
    idents = subject.identifiers
    for k, v in _PAIRS:
        if k in columns and v in columns and idents:
            pairs = ", ".join(
                "{" + f"'k': '{a.replace(chr(39), chr(39) * 2)}', 'v': '{b.replace(chr(39), chr(39) * 2)}'" + "}"  # noqa: E501
                for a, b in sorted(idents)
            )
            preds.append(f"list_contains([{pairs}], {{'k': {q(k)}::varchar, 'v': {q(v)}::varchar}})")
    ids = subject.values("user_id", "anonymous_id")
    for col in ("user_id", "anonymous_id", "previous_id"):
        if col in columns and ids:
            preds.append(f"list_contains({_list(ids)}, {q(col)}::varchar)")
    for col, kind in (("email", "email"), ("phone", "phone")):
        vals = subject.values(kind)
        if col in columns and vals:
            preds.append(f"list_contains({_list(vals)}, lower(trim({q(col)}::varchar)))")
    if "text_hash" in columns and subject.text_hashes:
        preds.append(f"list_contains({_list(subject.text_hashes)}, text_hash::varchar)")
    return preds


def needles(subject: Subject) -> list[str]:
    """Strings that must not survive anywhere once the subject is erased: identifiers (short
    ids only when they cannot be an ordinary word) and the full name."""
    out = set(subject.values("email", "phone")) | subject.raw_forms | subject.names
    out |= {v for v in subject.values() if len(v) >= 8}
    out |= {p for p in subject.person_ids if len(p) >= 6}
    # Not the person's own texts: their rows go with their events, and the same words written
    # by someone else ("Produkt zgodny z opisem.") are that person's, not this one's.
    return sorted(n for n in out if len(n.strip()) >= 4)


#: What may stand beside an erased word: anything but a letter, digit or an id's own signs.
_EDGE = {"re2": r"[^\pL\pN_@+\-]", "python": r"[^\w@+\-]"}
TEXT_TYPES = ("VARCHAR", "JSON")


def pattern(words: list[str], dialect: str = "re2") -> str:
    """A regular expression matching any of ``words`` as a whole — never inside a longer
    word, an e-mail or an id (``kot`` does not match in ``kotek``); group 2 is the word,
    groups 1 and 3 what stands either side. ``dialect``: ``re2`` (DuckDB) or ``python``.

    >>> import re
    >>> p = pattern(["ala@x.pl", "Ala Kot"], "python")
    >>> [m.group(2) for m in re.finditer(p, "to ala@x.pl, nie bala@x.pl; ala kot!", re.I)]
    ['ala@x.pl', 'ala kot']
    """
    alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    edge = _EDGE[dialect]
    return f"(^|{edge})({alts})($|{edge})"


def mentions(store: Store, subject: Subject, *, excerpt: int = 40) -> list[dict[str, object]]:
    """Cells of rows that are not the subject's (others' messages, events, profiles) which name
    the subject: ``{table, column, row, text}`` with ``text`` an excerpt around each match.
    Call it after the subject's own rows are gone (erasure) or skip them (export): erasure
    blanks exactly these cells, and the access export shows them."""
    words = needles(subject)
    if not words:
        return []
    pat, py = pattern(words), re.compile(pattern(words, "python"), re.IGNORECASE)
    out: list[dict[str, object]] = []
    cur = store.cursor()
    try:
        for table, columns in tables(store).items():
            if table in SKIP_TABLES:
                continue
            key = row_id(store, table, columns)
            own = predicates(subject, table, columns)
            skip = f" and not coalesce({' or '.join(own)}, false)" if own else ""
            for col, ty in columns.items():
                if ty.upper() not in TEXT_TYPES:
                    continue
                rows = cur.execute(
                    f"select {key}, {q(col)}::varchar from {q(table)}"
                    f" where regexp_matches({q(col)}::varchar, $p, 'i'){skip}",
                    {"p": pat},
                ).fetchall()
                for row_key, text in rows:
                    for m in py.finditer(text):
                        a, b = max(0, m.start(2) - excerpt), m.end(2) + excerpt
                        out.append({"table": table, "column": col, "row": row_key,
                                    "text": text[a:b]})  # fmt: skip
    finally:
        cur.close()
    return out
