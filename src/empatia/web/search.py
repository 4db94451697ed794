"""Finding a customer by anything a person might type: an identifier or a (mistyped) name.

Identifiers go through the profiles resolver (emails and phones normalised as the identity
stage does); names are compared with Jaro–Winkler similarity over profile names, so
"Kasia Nowkowska" still finds "Katarzyna Nowakowska"'s namesakes and typos.
"""

from __future__ import annotations

import re
from typing import Any, cast

import duckdb

from empatia.errors import NotFoundError, ValidationError
from empatia.views.sections import Tables, records

#: Names at least this similar (Jaro–Winkler, 0..1) are shown.
NAME_SIMILARITY = 0.86


#: What a phone number typed by a person may look like: digits, spaces, ``+ ( ) - . /``.
PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]{6,}")


def phone_readings(query: str) -> list[str]:
    """More ways to read ``query`` as a phone number than the workspace's default region
    (which the identifier lookup tries first): international, typed without its ``+`` or
    with ``00`` for it.

    >>> phone_readings("48566191028"), phone_readings("0048 566 191 028")
    (['phone:+48566191028'], ['phone:+48566191028'])
    >>> phone_readings("+48566191028"), phone_readings("Anna")
    ([], [])
    """
    q = query.strip()
    if not PHONE_LIKE.fullmatch(q) or q.startswith("+"):
        return []
    digits = re.sub(r"\D", "", q)
    return ["phone:+" + (digits[2:] if digits.startswith("00") else digits)]


def default_region(workspace: Any) -> str:
    """The region identity reads phone numbers in (``[stages.identity] default_region``)."""
    from empatia.identity.config import IdentityConfig

    settings = getattr(workspace, "settings", None)
    return (settings.stages.identity if settings else IdentityConfig()).default_region


def find(con: duckdb.DuckDBPyConnection, store: Any, query: str, limit: int = 20,
         region: str | None = None) -> dict[str, Any]:  # fmt: skip
    """``{"person_id": …}`` when the query names one person, else ``{"matches": [...]}``."""
    q = query.strip()
    if not q:
        return {"matches": [], "message": None}
    cur = con.cursor()
    try:
        t = Tables(cur)
        if not t.filled("identities"):
            return {"matches": [], "message": "The identity stage has not run yet: nobody can be "
                    "found until `empatia run` has stitched identities."}  # fmt: skip
        from empatia.profiles.api import find_person

        for ask in [q, *phone_readings(q)]:
            try:
                return {"person_id": find_person(store, ask, region=region)}
            except NotFoundError:
                pass
            except ValidationError as e:  # the identifier names several people
                persons = list(cast("list[str]", e.details.get("persons") or []))
                return {"matches": _describe(cur, t, persons), "message": e.message}
        matches = by_name(cur, t, q, limit) if t.has("profiles") else []
        msg = None if matches else f"Nobody found for “{q}”."
        return {"matches": matches, "message": msg}
    finally:
        cur.close()


def by_name(cur: duckdb.DuckDBPyConnection, t: Tables, q: str, limit: int) -> list[dict[str, Any]]:
    """Profiles whose name is like ``q`` (full name, or either part alone), best first."""
    if any(c.isdigit() for c in q) or "@" in q:
        return []
    cur.execute(
        """
        with c as (
            select person_id, first_name, last_name, market, tier, last_seen, orders,
                   lower(strip_accents(concat_ws(' ', first_name, last_name))) as full_name
            from profiles where first_name is not null or last_name is not null
        ), s as (
            select *, greatest(jaro_winkler_similarity(full_name, $q),
                               jaro_winkler_similarity(lower(strip_accents(coalesce(last_name, ''))), $q),
                               jaro_winkler_similarity(lower(strip_accents(coalesce(first_name, ''))), $q) - 0.05
                   ) as similarity
            from c
        )
        select person_id, first_name, last_name, market, tier, last_seen, orders, similarity
        from s where similarity >= $min order by similarity desc, last_seen desc nulls last limit $limit
        """,
        {"q": " ".join(q.lower().split()), "min": NAME_SIMILARITY, "limit": limit},
    )  # fmt: skip
    return records(cur)


def _describe(
    cur: duckdb.DuckDBPyConnection, t: Tables, persons: list[str]
) -> list[dict[str, Any]]:
    if not persons or not t.has("profiles"):
        return [{"person_id": p} for p in persons]
    cur.execute(
        "select person_id, first_name, last_name, market, tier, last_seen, orders, null as similarity"
        " from profiles where person_id in (select unnest(?::varchar[]))", [persons])  # fmt: skip
    found = records(cur)
    seen = {r["person_id"] for r in found}
    return found + [{"person_id": p} for p in persons if p not in seen]
