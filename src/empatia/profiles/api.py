"""Reading one unified profile: ``get_profile(workspace, "email:ala@x.com")``.

Any identifier finds its person: ``kind:value`` (``email:Ala@X.com`` — normalised like the
stage does), a bare value (looked up under every kind), or a person id (``p_…``).
"""

from __future__ import annotations

from typing import Any

from empatia.errors import NotFoundError, ValidationError
from empatia.identity.config import KINDS
from empatia.identity.normalize import normalize_email, normalize_id, normalize_phone
from empatia.store import Store


def _candidates(identifier: str, region: str | None) -> list[tuple[str, str]]:
    text = identifier.strip()
    kind, sep, value = text.partition(":")
    kinds = [kind] if sep and kind in KINDS else list(KINDS)
    value = value if sep and kind in KINDS else text
    out = []
    for k in kinds:
        if k == "email":
            v = normalize_email(value)
        elif k == "phone":
            v = normalize_phone(value, region)
        else:
            v = normalize_id(value)
        if v is not None:
            out.append((k, v))
    return out


def find_person(store: Store, identifier: str, *, region: str | None = None) -> str:
    """The person id of any identifier (or a person id itself)."""
    with store.read() as cur:
        text = identifier.strip()
        if text.startswith("p_"):
            row = cur.execute(
                "select person_id from identities where person_id = ? limit 1", [text]
            ).fetchone()
            if row:
                return str(row[0])
        found: set[str] = set()
        for kind, value in _candidates(text, region):
            found |= {
                r[0]
                for r in cur.execute(
                    "select person_id from identities where kind = ? and value = ?", [kind, value]
                ).fetchall()
            }
    if not found:
        raise NotFoundError(
            f"no person has the identifier {identifier!r}; run `empatia run` if it is new",
            identifier=identifier,
        )
    if len(found) > 1:
        raise ValidationError(
            f"{identifier!r} names {len(found)} people; say which kind, e.g. user_id:{identifier}",
            persons=sorted(found),
        )
    return found.pop()


def get_profile(
    workspace_or_store: Any, identifier: str, *, region: str | None = None
) -> dict[str, Any]:
    """One person's profile with its identifiers, traits (with sources) and merge history."""
    store: Store = getattr(workspace_or_store, "store", workspace_or_store)
    pid = find_person(store, identifier, region=region)
    with store.read() as cur:
        res = cur.execute("select * from profiles where person_id = ?", [pid])
        names = [d[0] for d in res.description]
        row = res.fetchone()
        profile = dict(zip(names, row, strict=True)) if row else {"person_id": pid}
        identifiers = [
            {"kind": k, "value": v}
            for k, v in cur.execute(
                "select kind, value from identities where person_id = ? order by kind, value", [pid]
            ).fetchall()
        ]
        traits = [
            {"trait": t, "value": v, "source": s, "seq": q, "timestamp": ts}
            for t, v, s, q, ts in cur.execute(
                'select trait, value, source, seq, "timestamp" from profile_traits'
                " where person_id = ? order by trait",
                [pid],
            ).fetchall()
        ]
        # "still active": the experience stage's, beside the purchase model's p_alive
        has = cur.execute(
            "select count(*) from information_schema.tables"
            " where table_name = 'experience_activity'"
        ).fetchone()
        active = (
            cur.execute(
                "select p_active, driver, drivers from experience_activity where person_id = ?",
                [pid],
            ).fetchone()
            if has and has[0]
            else None
        )
        if active is not None and row:
            profile.update(p_active=active[0], p_active_driver=active[1],
                           p_active_drivers=active[2].split(",") if active[2] else [])  # fmt: skip
        merges = [
            {"merge_id": m, "merged_at": at, "action": a, "person_id": p, "other_person_id": o,
             "reason": r, "evidence": e}
            for m, at, a, p, o, r, e in cur.execute(
                "select merge_id, merged_at, action, person_id, other_person_id, reason, evidence"
                " from merge_history where person_id = ? or other_person_id = ?"
                " order by merged_at desc",
                [pid, pid],
            ).fetchall()
        ]  # fmt: skip
    return {"person_id": pid, "profile": profile, "identifiers": identifiers, "traits": traits,
            "merges": merges}  # fmt: skip
