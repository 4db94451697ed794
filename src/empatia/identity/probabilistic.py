"""Probabilistic matching of CRM / loyalty records that share no identifier (Splink).

Records are ``identify`` calls with a CRM or loyalty id and personal data (name, birth
date, address, email, phone — see docs/tracking-plan.md). Splink (Fellegi–Sunter, trained
unsupervised with EM) scores candidate pairs; pairs at or above ``match_threshold`` become
edges for stitching (``identity_matches``), pairs between ``review_threshold`` and
``match_threshold`` go to ``identity_review`` for a person to decide, and so do pairs the
model is sure of but that only names support or that a birth date contradicts
(:func:`corroboration`).

Candidate pairs come from :func:`record_blocking`: pairs of fields, Soundex keys of the names,
swapped first and last names, and single fields while they stay cheap; a rule of two or more
fields only inside blocks of at most :data:`MAX_BLOCK` records (:func:`capped_blocks`), so the
pairs grow with the people, not with their square.

The records stay where the engine keeps its rows: they are prepared (emails and phones
normalised, Soundex keys) by a model step, Splink trains and predicts on the engine's own
backend (:meth:`~empatia.store.engine.Engine.splink_api`: Spark's executors, or DuckDB), the
blocking rules are chosen from aggregates, and each pair Splink proposes is corroborated by a
model step over the pair joined to its two records. On Spark nothing about the records comes
to the driver.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from empatia.identity.config import IdentityConfig
from empatia.store.engine import Engine, splink_duckdb_api, union

if TYPE_CHECKING:
    import ibis.expr.types as ir

log = logging.getLogger(__name__)

#: How each record column is compared: name (Jaro-Winkler), text, code, date, id.
RECORD_FIELDS: dict[str, str] = {
    "first_name": "name",
    "last_name": "name",
    "birth_date": "date",
    "city": "text",
    "street": "text",
    "postal_code": "code",
    "email": "id",
    "phone": "id",
    "national_id": "id",
}
#: Phonetic keys (Soundex, via jellyfish) added to the records for blocking: names spelt
#: differently (typos, transliterations) still meet.
PHONETIC: dict[str, str] = {"first_name_sx": "first_name", "last_name_sx": "last_name"}
#: Candidate pairs: two records are compared when they share one of these (any of them).
RECORD_BLOCKING: list[tuple[str, ...] | str] = [
    ("first_name", "last_name"),
    ("last_name", "birth_date"),
    ("first_name", "birth_date"),
    ("last_name", "postal_code"),
    ("first_name_sx", "last_name_sx"),
    ("birth_date", "postal_code"),
    ("birth_date", "city"),
    ("street", "postal_code"),
    ("street", "city"),
    ("email",),
    ("phone",),
    ("national_id",),
    # first and last name swapped (a form filled in the wrong order)
    "l.first_name = r.last_name and l.last_name = r.first_name",
]
#: Single fields as blocking rules, each only while it stays cheap (at most
#: :data:`SINGLE_MAX_PAIRS` per record): a pair that differs in every pair of fields above
#: (typos in both names, a new address) still meets on its birth date or its surname's sound.
SINGLE_BLOCKING: tuple[str, ...] = ("birth_date", "last_name_sx", "street", "postal_code")
SINGLE_MAX_PAIRS = 25  # comparisons per record a single-field rule may add (plus 50,000)
#: A rule of two or more fields compares the records of one of its blocks (one value of its
#: fields) only while the block holds at most this many: a key hundreds share (a common name in
#: a big country) is no evidence, and all its pairs grow as the square of the people — at 1M
#: demo customers the two name rules alone made ≈ 800M pairs (100k: 8M). Those records still
#: meet on the rules that add a date, a postal code or a street, or on an identifier.
MAX_BLOCK = 100
#: An EM session on one field (a birth date, a postal code) compares the pairs inside chunks of
#: at most this many of the records that share it (:func:`em_blocks`): at most 9.5 pairs per
#: record, however many share a date — EM needs an even sample of the pairs, not all of them.
EM_BLOCK = 20
MIN_RECORDS = 20  # fewer records than this cannot train a model
#: The model's u probabilities are trained on every pair of this many records (≈ 2·10⁵ pairs,
#: Splink's usual sample), chosen by :func:`u_sample`.
U_RECORDS = 632


#: A record as the model sees it (:func:`prepare_records`).
RECORD = pa.schema([("unique_id", pa.string()),
                    *((c, pa.string()) for c in RECORD_FIELDS),
                    *((k, pa.string()) for k in PHONETIC)])  # fmt: skip


def prepare_records(region: str, batch: pa.RecordBatch) -> pa.Table:
    """The engine's model step: records with emails and phones normalised (``region``: the
    phone numbers' default country) and their :data:`PHONETIC` keys."""
    from empatia.identity.normalize import normalize_email, normalize_phone

    recs = batch.to_pandas()
    for c in RECORD_FIELDS:
        if c not in recs:
            recs[c] = None
    recs["email"] = [normalize_email(e) if e else None for e in recs["email"]]
    recs["phone"] = [(normalize_phone(p, region) or p) if p else None for p in recs["phone"]]
    recs = phonetic_keys(recs)
    return pa.Table.from_pandas(recs[RECORD.names], schema=RECORD, preserve_index=False)


def phonetic_keys(recs: pd.DataFrame) -> pd.DataFrame:
    """``recs`` with the :data:`PHONETIC` columns (Soundex of each name; empty when absent).

    >>> phonetic_keys(pd.DataFrame({"first_name": ["micthell"], "last_name": ["bordeaux"]}))
      first_name last_name first_name_sx last_name_sx
    0   micthell  bordeaux          M234         B632
    """
    import jellyfish

    recs = recs.copy()
    for key, col in PHONETIC.items():
        if col in recs.columns:
            recs[key] = [
                (jellyfish.soundex(v) or None) if isinstance(v, str) and v.strip() else None
                for v in recs[col]
            ]
    return recs


def u_sample(recs: ir.Table, seed: int = 42) -> ir.Table:
    """The records the model's u probabilities are trained on: :data:`U_RECORDS` of ``recs``,
    those first by the MD5 of their id and ``seed`` — the same records on every engine.
    (Splink's own sample hashes ids with its backend's ``hash``, which differs between DuckDB
    and Spark, so the two engines trained different models from the same records.)"""
    key = (recs.unique_id.cast("string") + f"#{seed}").hexdigest("md5")
    return recs.order_by(key, "unique_id").limit(U_RECORDS)


def _block_pairs(col: pd.Series) -> int:
    """Comparisons blocking on one column makes (deduplication: n·(n−1)/2 per value)."""
    n = col.dropna().value_counts()
    return int((n * (n - 1) // 2).sum())


def record_blocking(
    recs: pd.DataFrame | Mapping[str, Any], rules: list[tuple[str, ...] | str] | None = None
) -> list[tuple[str, ...] | str]:
    """The blocking rules for ``recs``: :data:`RECORD_BLOCKING` on the columns it has, plus
    each of :data:`SINGLE_BLOCKING` that adds at most :data:`SINGLE_MAX_PAIRS` comparisons per
    record (a birth date shared by thousands is no evidence and would swamp Splink)."""
    if not isinstance(recs, pd.DataFrame):
        return blocking_rules(set(recs), rules=rules)
    present = {c for c in recs.columns if recs[c].notna().any()}
    pairs = {c: _block_pairs(recs[c]) for c in SINGLE_BLOCKING if c in present}
    return blocking_rules(present, pairs, len(recs), rules)


def blocking_rules(present: set[str], pairs: Mapping[str, int] | None = None, records: int = 0,
                   rules: list[tuple[str, ...] | str] | None = None
                   ) -> list[tuple[str, ...] | str]:  # fmt: skip
    """:func:`record_blocking` from what it needs of the records: the columns some record
    has (``present``), and the comparisons each single field would make (``pairs``, of
    ``records`` records)."""
    out: list[tuple[str, ...] | str] = []
    for rule in RECORD_BLOCKING if rules is None else rules:
        if isinstance(rule, str):
            if {"first_name", "last_name"} <= present:
                out.append(rule)
        elif set(rule) <= present:
            out.append(rule)
    cap = 50_000 + SINGLE_MAX_PAIRS * records
    for c in SINGLE_BLOCKING:
        if pairs is not None and c in pairs and pairs[c] <= cap:
            out.append((c,))
    return out


def capped_blocks(recs: ir.Table, rules: list[tuple[str, ...] | str]
                  ) -> tuple[ir.Table, list[tuple[str, ...] | str]]:  # fmt: skip
    """``recs`` with a key column per rule of two or more fields — its fields' values, empty
    where one is or where more than :data:`MAX_BLOCK` records share them — and the rules with
    each such rule blocking on its key instead."""
    import ibis

    keys: dict[str, ir.Value] = {}
    out: list[tuple[str, ...] | str] = []
    for rule in rules:
        if isinstance(rule, str) or len(rule) < 2:
            out.append(rule)
            continue
        name = "block_" + "_".join(rule)
        size = recs.unique_id.count().over(ibis.window(group_by=[recs[c] for c in rule]))
        value = recs[rule[0]]
        for c in rule[1:]:
            value = value + "\x1f" + recs[c]  # empty when a field is
        keys[name] = ibis.ifelse(size <= MAX_BLOCK, value, ibis.null("string"))
        out.append((name,))
    return recs.mutate(**keys), out


def em_columns(fields: Mapping[str, str]) -> list[str]:
    """The columns Splink's EM sessions block on, a session each: the first two dates or codes
    of ``fields`` (column → how it is compared), else the first name."""
    names = [c for c, how in fields.items() if how == "name"]
    return [c for c, how in fields.items() if how in ("date", "code")][:2] or names[:1]


def em_blocks(recs: ir.Table, cols: list[str]) -> ir.Table:
    """``recs`` with a key column ``em_<col>`` for each EM column: the record's value and its
    chunk of at most :data:`EM_BLOCK` among the records that share the value (in the order of
    their ids' MD5, as :func:`u_sample`: the same chunks on every engine). An EM session on a
    birth date compares the pairs inside each chunk — an even sample of a large block's pairs
    (a record's duplicate is in its chunk as often as a stranger is), at most 9.5 per record
    (on a birth date alone, 1M demo customers made 15.6M pairs, 6.6M in chunks; 10M ≈ 1.5G)."""
    import ibis

    order = (recs.unique_id.cast("string") + "#em").hexdigest("md5")
    keys = {}
    for c in cols:
        rank = ibis.row_number().over(group_by=recs[c], order_by=[order, recs.unique_id])
        keys[f"em_{c}"] = recs[c] + "\x1f" + (rank // EM_BLOCK).cast("string")  # empty when c is
    return recs.mutate(**keys)


def _comparison(col: str, how: str) -> Any:
    import splink.comparison_library as cl

    if how == "name":
        return cl.JaroWinklerAtThresholds(col, [0.92, 0.8])
    if how == "text":
        return cl.JaroWinklerAtThresholds(col, [0.9, 0.7])
    if how in ("code", "date"):
        return _levenshtein(col, [1, 2])
    if how == "id":
        return _levenshtein(col, [1])
    raise ValueError(f"unknown comparison {how!r} for {col}; use name, text, code, date or id")


def _levenshtein(col: str, thresholds: list[int]) -> Any:
    """Splink's Levenshtein comparison, counting edits over UTF-8 bytes on every engine, as
    DuckDB's ``levenshtein`` does: on Spark it calls :func:`empatia.store.engine.levenshtein`
    (registered as ``levenshtein_utf8``) where Splink would call Spark's own, which counts
    characters — ``Łódź``/``Lodz`` is 6 edits on DuckDB and was 3 on Spark, another level."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    class Level(cll.LevenshteinLevel):  # type: ignore[misc]  # splink: untyped
        def create_sql(self, sql_dialect: Any) -> str:
            if sql_dialect.sql_dialect_str != "spark":
                return str(super().create_sql(sql_dialect))
            self.col_expression.sql_dialect = sql_dialect
            c = self.col_expression
            return f"levenshtein_utf8({c.name_l}, {c.name_r}) <= {self.distance_threshold}"

    class Comparison(cl.LevenshteinAtThresholds):  # type: ignore[misc]
        def create_comparison_levels(self) -> list[Any]:
            return [Level(lv.col_expression, lv.distance_threshold)
                    if isinstance(lv, cll.LevenshteinLevel) else lv
                    for lv in super().create_comparison_levels()]  # fmt: skip

    return Comparison(col, thresholds)


@contextmanager
def _clamped_em() -> Iterator[None]:
    """Splink 5.0's EM stops a session when a level's new m or u probability is below 1e-300
    (a level that matches almost never fall into: its m shrinks toward 0 every iteration),
    after it has set some of the others — the model is left half-updated and the session
    missing (a CRM world of 380 records lost its postal-code session on every run, and so kept
    its untrained weight). Clamped at that floor instead, as Splink clamps such values when it
    scores, the session finishes."""
    from splink.internals import expectation_maximisation as em
    from splink.internals.comparison_level import M_U_CLAMP_MIN

    original = em.populate_m_u_from_lookup

    def clamped(training_fixed_probabilities: set[str], comparison_level: Any,
                output_column_name: str, m_u_records_lookup: dict[str, dict[int, Any]]) -> None:  # fmt: skip
        for rec in m_u_records_lookup.get(output_column_name, {}).values():
            for key in ("m_probability", "u_probability"):
                if isinstance(rec.get(key), float) and rec[key] < M_U_CLAMP_MIN:
                    rec[key] = M_U_CLAMP_MIN
        original(training_fixed_probabilities, comparison_level, output_column_name,
                 m_u_records_lookup)  # fmt: skip

    em.populate_m_u_from_lookup = clamped
    try:
        yield
    finally:
        em.populate_m_u_from_lookup = original


def _quiet_splink() -> None:
    """Splink reports training progress at INFO on its own loggers; keep the CLI quiet."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("splink"):
            logging.getLogger(name).setLevel(logging.WARNING)


def match_pairs(
    frames: pd.DataFrame | list[pd.DataFrame],
    fields: Mapping[str, str],
    *,
    threshold: float = 0.5,
    blocking: list[tuple[str, ...] | str] | None = None,
    seed: int = 42,
    db_api: Any = None,
) -> pd.DataFrame:
    """Score record pairs with Splink: ``(unique_id_l, unique_id_r, match_probability)``.

    One frame deduplicates it; two frames link them (each needs a ``unique_id`` column).
    ``blocking`` holds tuples of columns (equal in both records) or Splink SQL rules
    (``l.a = r.b``); columns it names besides ``fields`` are passed to Splink for blocking.
    ``db_api`` is the Splink backend (default: DuckDB in memory).
    """
    import ibis

    frames = frames if isinstance(frames, list) else [frames]
    samples = [u_sample(ibis.memtable(f), seed).to_pandas() for f in frames]
    pred = predict(frames, fields, sum(len(f) for f in frames), threshold=threshold,
                   blocking=blocking, u_frames=samples, db_api=db_api).as_pandas_dataframe()  # fmt: skip
    return pred[["unique_id_l", "unique_id_r", "match_probability"]]


def predict(
    frames: list[Any],
    fields: Mapping[str, str],
    records: int,
    *,
    threshold: float = 0.5,
    blocking: list[tuple[str, ...] | str] | None = None,
    u_frames: list[Any],
    db_api: Any = None,
    skipped: list[str] | None = None,
) -> Any:
    """:func:`match_pairs` on frames of Splink's backend (pandas, or Spark's DataFrames for
    its Spark backend) of ``records`` records in all, the u probabilities trained on every pair
    of ``u_frames`` (:func:`u_sample` of each frame): Splink's table of the pairs
    (``unique_id_l``, ``unique_id_r``, ``match_probability``, …), where the backend keeps it.
    An EM session Splink cannot finish (no pairs share its column) is left out of the model and
    its column added to ``skipped``."""
    from splink import Linker, SettingsCreator, block_on
    from splink.internals.exceptions import SplinkException

    cols = [c for c in fields if all(c in f.columns for f in frames)]
    blocking = blocking or [(c,) for c in cols if fields[c] in ("name", "date", "code", "id")]
    # Any: Splink takes SQL strings as rules too, though its annotation names creators and dicts
    rules: list[Any] = [block_on(*b) if isinstance(b, tuple) else b for b in blocking]
    # an EM session blocks on its column's chunks (:func:`em_blocks`) where the frames have them
    em_cols = em_columns({c: fields[c] for c in cols})
    chunked = [c for c in em_cols if all(f"em_{c}" in f.columns for f in frames)]
    keys = sorted(  # columns blocking needs besides the compared ones (phonetic keys, chunks)
        {c for b in blocking if isinstance(b, tuple) for c in b} - set(cols)
        | {f"em_{c}" for c in chunked}
    )
    prior = 1 / max(2, records)  # about one match per record
    settings = SettingsCreator(
        link_type="link_only" if len(frames) > 1 else "dedupe_only",
        comparisons=[_comparison(c, fields[c]) for c in cols],
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        probability_two_random_records_match=prior,
    )
    if db_api is None:
        db_api = splink_duckdb_api()
    _quiet_splink()

    def make(frames: list[Any], settings: Any) -> Linker:
        inputs = [db_api.register(f[["unique_id", *cols, *keys]] if isinstance(f, pd.DataFrame)
                                  else f.select("unique_id", *cols, *keys)) for f in frames]  # fmt: skip
        return Linker(inputs if len(inputs) > 1 else inputs[0], settings)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # u from every pair of the sample: no sample or chunks of Splink's own (it picks them
        # with its backend's hash, which differs between engines)
        sample = make(u_frames, settings)
        sample.training.estimate_u_using_random_sampling(max_pairs=float(U_RECORDS) ** 2,
                                                         num_chunks=1)  # fmt: skip
        linker = make(frames, sample.misc.save_model_to_json())
        names = [c for c in cols if fields[c] == "name"]
        dates = [c for c in cols if fields[c] == "date"]
        sure: list[Any] = [block_on(*names, *dates)] if names and dates else []
        sure += [block_on(c) for c in cols if fields[c] == "id"]
        try:
            linker.training.estimate_probability_two_random_records_match(
                sure or [block_on(*cols[:3])], recall=0.7
            )
        except (ValueError, ArithmeticError) as e:  # no sure pairs: keep the prior of settings
            log.info("Splink prior not estimated (%s); using one match per record", e)
        if not 0 < linker._settings_obj._probability_two_random_records_match < 1:
            linker._settings_obj._probability_two_random_records_match = prior
        with _clamped_em():
            for c in em_cols:
                # naming the column itself tells Splink the session cannot train its comparison
                rule = f"l.em_{c} = r.em_{c} and l.{c} = r.{c}" if c in chunked else block_on(c)
                try:
                    # on the counts of each agreement pattern, not every pair: the same EM
                    # (no comparison here adjusts for term frequencies); the counts are made
                    # once where the backend keeps them (DuckDB; Spark: _splink_spark_api)
                    linker.training.estimate_parameters_using_expectation_maximisation(
                        rule, estimate_without_term_frequencies=True)
                except (ValueError, SplinkException) as e:  # no pairs: skip it
                    log.warning("Splink EM session on %s skipped (%s)", c, type(e).__name__)
                    if skipped is not None:
                        skipped.append(c)
        return linker.inference.predict(threshold_match_probability=threshold)


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (short strings: dates, codes)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _has(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not pd.NA


def corroboration(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """``conflict``, ``names only`` or ``corroborated`` for two records the model paired.

    Names alone do not make a person (there are many Anna Kowalskas): a pair is linked
    automatically only when something personal agrees too — birth date (≤ 2 typos), email,
    phone, national id, postal code or street (same numbers, ≤ 2 typos) — and nothing
    personal disagrees (a different birth date: a father and son of one name at one address;
    or both a different phone and a different email) — unless both carry the same national
    id. Neither other verdict drops the pair: it goes to review.
    """
    keys = ("birth_date", "email", "phone", "national_id", "postal_code", "street")
    both = {k for k in keys if k in a and k in b and _has(a[k]) and _has(b[k])}
    if "national_id" in both and a["national_id"] == b["national_id"]:
        return "corroborated"  # one national id outweighs a birth date typed wrong
    if "birth_date" in both and _edits(str(a["birth_date"]), str(b["birth_date"])) > 2:
        return "conflict"
    if {"email", "phone"} <= both and a["email"] != b["email"] and a["phone"] != b["phone"]:
        return "conflict"
    for k in both:
        x, y = str(a[k]), str(b[k])
        if k == "street" and _digits(x) != _digits(y):
            continue  # the neighbours' house: typos in the name of a street, not its numbers
        if (_edits(x, y) <= 2) if k in ("birth_date", "street") else x == y:
            return "corroborated"
    return "names only"


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


_SCHEMA = pa.schema(
    [("kind_l", pa.string()), ("value_l", pa.string()), ("kind_r", pa.string()),
     ("value_r", pa.string()), ("match_probability", pa.float64())]
)  # fmt: skip


def match_records(eng: Engine, config: IdentityConfig) -> dict[str, Any]:
    """Score ``identity_records``; write ``identity_matches`` and ``identity_review``.

    Review decisions stand: accepted pairs are matches whatever the model says, rejected
    pairs are never linked nor proposed again.
    """
    t = eng.table("identity_records")  # per record, each field's latest known value
    latest = {c: t[c].argmax(t.seq, where=t[c].notnull()) for c in RECORD_FIELDS}
    by_record = t.group_by(unique_id=t.kind + ":" + t.value).aggregate(**latest)
    recs = eng.map_batches(by_record, partial(prepare_records, config.default_region), RECORD,
                           "records")  # fmt: skip
    keys = ["kind_l", "value_l", "kind_r", "value_r"]
    decided = eng.table("identity_decisions")
    n = eng.count(recs)
    scored, failed = None, ""
    skipped: list[str] = []  # EM sessions Splink could not run
    if n >= MIN_RECORDS:
        try:
            scored = eng.materialize(_scored(eng, recs, n, config, skipped), "scored")
        except duckdb.InterruptException:  # Ctrl+C inside a query: the run stops
            raise
        except Exception as e:  # noqa: BLE001 - matching is an extra; stitching goes on without
            log.warning("probabilistic matching failed, no records linked this run: %s", e)
            failed = type(e).__name__  # said in the run's figures, not only in a log
    if scored is None:
        scored = eng.from_arrow(_SCHEMA.empty_table(), "scored")
    new = scored.anti_join(decided, keys)
    sure = new.match_probability >= config.match_threshold
    accepted = union(new.filter(sure), decided.filter(decided.status == "accepted").select(
        *keys, match_probability=decided.match_probability.fill_null(1.0)))  # fmt: skip
    out: dict[str, Any] = {"matched_pairs": eng.write(accepted, "identity_matches"),
                           "review_pairs": eng.write(new.filter(~sure), "identity_review")}
    if failed:
        out["matching_failed"] = failed
    if skipped:  # the model learnt its weights from fewer sessions than it should
        out["em_sessions_skipped"] = len(skipped)
    eng.drop_temp(scored)
    return out


def _scored(eng: Engine, recs: ir.Table, n: int, config: IdentityConfig, skipped: list[str]
            ) -> ir.Table:  # fmt: skip
    """The pairs Splink proposes among ``recs`` (``n`` of them), corroborated (a pair only
    names support, or that something personal contradicts, stays under ``match_threshold``):
    :data:`_SCHEMA`, the smaller id on the left."""
    cols = [c for c in RECORD.names if c != "unique_id"]
    counts = eng.to_arrow(recs.aggregate(**{c: recs[c].count() for c in cols})).to_pylist()[0]
    present = {c for c in cols if counts[c]}
    pairs = {}
    for c in SINGLE_BLOCKING:
        if c in present:
            f = recs.filter(recs[c].notnull())
            g = f.group_by(c).aggregate(k=f.count())
            total = eng.to_arrow(g.aggregate(s=(g.k * (g.k - 1) / 2).sum())).column("s")[0]
            pairs[c] = int(total.as_py() or 0)
    fields = {c: how for c, how in RECORD_FIELDS.items() if c in present}
    keyed, rules = capped_blocks(recs, blocking_rules(present, pairs, n))
    keyed = em_blocks(keyed, em_columns(fields))
    keyed = eng.materialize(keyed, "keyed_records")
    found = predict([eng.splink_frame(keyed.order_by("unique_id"))], fields, n,
                    threshold=config.review_threshold, blocking=rules,
                    u_frames=[eng.splink_frame(u_sample(keyed))], db_api=eng.splink_api(),
                    skipped=skipped)  # fmt: skip
    p = eng.splink_table(found).select("unique_id_l", "unique_id_r", "match_probability")
    left = recs.rename(lambda c: f"{c}_l")
    right = recs.rename(lambda c: f"{c}_r")
    both = p.join(left, "unique_id_l").join(right, "unique_id_r")
    try:
        return eng.map_batches(both, partial(corroborate, config.match_threshold), _SCHEMA, "pairs")
    finally:  # the pairs are made: the keyed records are not needed for the rest of the stage
        eng.drop_temp(keyed)


def corroborate(match_threshold: float, batch: pa.RecordBatch) -> pa.Table:
    """The engine's model step over pairs joined to their records (``<field>_l`` and
    ``<field>_r``): :func:`corroboration` caps a pair that is not corroborated just under
    ``match_threshold`` (a person decides); ids split into kind and value, smaller first."""
    rows: list[tuple[str, str, str, str, float]] = []
    under = float(np.nextafter(match_threshold, 0))
    for row in batch.to_pylist():
        a = {c: row.get(f"{c}_l") for c in RECORD.names}
        b = {c: row.get(f"{c}_r") for c in RECORD.names}
        prob = float(row["match_probability"])
        if corroboration(a, b) != "corroborated":  # namesakes, or a conflict: a person decides
            prob = min(prob, under)
        (ka, va), (kb, vb) = (str(row["unique_id_l"]).split(":", 1),
                              str(row["unique_id_r"]).split(":", 1))  # fmt: skip
        if (ka, va) > (kb, vb):
            ka, va, kb, vb = kb, vb, ka, va
        rows.append((ka, va, kb, vb, prob))
    return pa.table(list(map(list, zip(*rows, strict=True))) if rows else
                    [[] for _ in _SCHEMA.names], schema=_SCHEMA)  # fmt: skip


def decide_review(
    eng_or_store: Any, kind_l: str, value_l: str, kind_r: str, value_r: str, accept: bool
) -> int:
    """Record a person's decision on a review pair (``identity_decisions``; a pair decided
    before gets the new answer); applied by the next identity run. Returns 0 when no such
    pair was proposed."""
    store = getattr(eng_or_store, "store", eng_or_store)
    (kl, vl), (kr, vr) = sorted([(kind_l, value_l), (kind_r, value_r)])
    status, pair = "accepted" if accept else "rejected", [kl, vl, kr, vr]
    same = "kind_l = ? and value_l = ? and kind_r = ? and value_r = ?"
    with store.write() as cur:
        row = cur.execute(f"update identity_decisions set status = ?, decided_at = now()"
                          f" where {same} returning 1", [status, *pair]).fetchall()  # fmt: skip
        if not row:
            row = cur.execute(
                "insert into identity_decisions (kind_l, value_l, kind_r, value_r,"
                " match_probability, status) select kind_l, value_l, kind_r, value_r,"
                f" max(match_probability), ? from identity_review where {same}"
                " group by all returning 1", [status, *pair],
            ).fetchall()  # fmt: skip
    return len(row)
