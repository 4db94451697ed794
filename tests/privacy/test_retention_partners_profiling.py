"""Retention, partner exports and progressive profiling."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from empatia.errors import ConfigError, NotFoundError
from empatia.ingest import import_files
from empatia.privacy import retention
from empatia.privacy.consent import record
from empatia.privacy.partner_export import Contract, export_partner
from empatia.privacy.profiling import Policy, answered_traits, next_question, record_answer, record_ask
from empatia.workspace import Workspace

from .conftest import ALA, BOB, write_jsonl


def pid(ws: Workspace, user_id: str) -> str:
    return str(ws.store.con.execute(
        "select person_id from identities where kind = 'user_id' and value = ?", [user_id]
    ).fetchone()[0])  # type: ignore[index]  # fmt: skip


# -- retention ------------------------------------------------------------------------------
def test_retention_dry_run_then_apply_takes_derived_rows_along(world: Workspace, tmp_path: Path) -> None:  # noqa: E501
    old = [{"type": "track", "userId": "u-old", "event": "Message Sent", "messageId": f"old{i}",
            "timestamp": "2023-01-0{}T00:00:00Z".format(i + 1),
            "properties": {"text": f"an old complaint number {i}"}} for i in range(3)]  # fmt: skip
    import_files(world.store, [write_jsonl(tmp_path / "old.jsonl", old)])
    world.store.con.execute(
        "insert into text_analysis (seq, text_hash, analyzer, timestamp) select seq, 'h' || seq,"
        " 't', timestamp from events where user_id = 'u-old'"
    )
    policies = retention.load_policies()
    dry = {r.table: r for r in retention.apply(world.store, policies, dry_run=True)}
    assert dry["events"].rows == 3 and dry["events"].derived == {"text_analysis": 3}
    assert world.store.con.execute("select count(*) from events").fetchone()[0] == 10  # type: ignore[index]
    done = {r.table: r for r in retention.apply(world.store, policies)}
    assert done["events"].rows == 3
    assert world.store.con.execute("select count(*) from events").fetchone()[0] == 7  # type: ignore[index]
    assert world.store.con.execute("select count(*) from text_analysis where seq > 7").fetchone()[0] == 0  # type: ignore[index]  # noqa: E501
    assert any(e[0] == "retention" for e in world.store.con.execute("select action from privacy_audit").fetchall())  # noqa: E501


def test_retention_policy_errors_say_what_to_write(tmp_path: Path, world: Workspace) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text('[events]\ncolumn = "timestamp"\nkeep = "forever-ish"\n')
    with pytest.raises(ConfigError, match="25 months"):
        retention.load_policies(bad)
    bad.write_text('[events]\ncolumn = "nope"\nkeep = "1 year"\n')
    with pytest.raises(ConfigError, match="no column"):
        retention.apply(world.store, retention.load_policies(bad), dry_run=True)


# -- partner exports ----------------------------------------------------------------------
def contract(tmp_path: Path, fields: list[str], fmt: str = "parquet", redact: bool = True) -> Contract:
    p = tmp_path / "c.toml"
    p.write_text(f'name = "acme"\nfields = {fields!r}\nformat = "{fmt}"\nredact = {str(redact).lower()}\n'.replace("'", '"'))  # noqa: E501
    return Contract.load(p)


def test_partner_export_only_consenting_people_and_contracted_fields(world: Workspace, tmp_path: Path) -> None:  # noqa: E501
    c = contract(tmp_path, ["person_id", "first_name", "email"])
    rep = export_partner(world.store, c, tmp_path / "out.parquet")
    t = pq.read_table(tmp_path / "out.parquet")
    assert t.column_names == ["person_id", "first_name", "email"]
    assert t.column("person_id").to_pylist() == [pid(world, ALA["user_id"])]  # Bob never agreed
    assert t.column("email").to_pylist() == ["[email]"]  # redaction is on by default
    assert rep.rows == 1 and rep.without_consent == 1
    # Ala withdraws: nobody is exported.
    record(world.store, pid(world, ALA["user_id"]), "partner_sharing", False)
    assert export_partner(world.store, c, tmp_path / "o2.csv", fmt="csv").rows == 0
    assert "partner_export" in {r[0] for r in world.store.con.execute("select action from privacy_audit").fetchall()}  # noqa: E501


def test_partner_contract_with_unknown_field_is_refused(world: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown field"):
        export_partner(world.store, contract(tmp_path, ["person_id", "ssn"]), tmp_path / "x.parquet")


def test_partner_example_contract_ships_and_loads() -> None:
    from importlib import resources

    c = Contract.load(Path(str(resources.files("empatia.privacy").joinpath("partners/example.toml"))))
    assert "person_id" in c.fields and c.redact


# -- progressive profiling ------------------------------------------------------------------
def test_no_question_without_profiling_consent(world: Workspace) -> None:
    d = next_question(world.store, pid(world, BOB["user_id"]))
    assert d.question is None and d.reasons == ["no consent for profiling"]


def test_no_question_after_a_bad_experience(world: Workspace) -> None:
    d = next_question(world.store, pid(world, ALA["user_id"]))  # her chat message was negative
    assert d.question is None and "negative experience" in d.reasons[0]


def test_one_question_at_a_time_never_repeated_never_what_is_known(world: Workspace) -> None:
    ala = pid(world, ALA["user_id"])
    calm = Policy(calm_days=0)
    d = next_question(world.store, ala, policy=calm)
    assert d.stage == "new" and d.question is not None, d.reasons
    assert d.question.id == "contact_channel"
    record_ask(world.store, ala, d.question.id)
    assert next_question(world.store, ala, policy=calm).question is None  # asked recently
    eager = Policy(calm_days=0, cooldown_days=0)
    record_answer(world.store, ala, "contact_channel", declined=True)
    nxt = next_question(world.store, ala, policy=eager).question
    assert nxt is not None and nxt.id == "language"  # the declined one is never asked again
    record_answer(world.store, ala, "language", "pl")
    assert answered_traits(world.store, ala) == {"language": "pl"}
    # Only "new"-stage questions for a customer of a few days: nothing left.
    left = next_question(world.store, ala, policy=eager)
    assert left.question is None and "nothing left" in left.reasons[0]
    with pytest.raises(NotFoundError):
        record_answer(world.store, ala, "shoe_size", "42")
