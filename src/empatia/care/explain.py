"""Plain-language explanations and evidence, shown only as far as the viewer's key allows.

What is stored (``care_list``, alerts, webhook bodies) never holds the customer's own words
or contact details: it names facts (profession, followers, contacts, emotions, threats) and
points at the evidence by event ``seq``. The words themselves are read from the event log at
view time, and only for a viewer allowed to see them (:func:`may_see_text`): an ``admin`` key
or the local CLI. A ``read`` key sees the explanation and the evidence references, no quotes.

>>> explain({"profession": "musician", "followers_total": 184000, "journeys": [
...     {"topic": "instrument", "contacts": 4, "days": 9.0, "resolved": False}],
...     "last_sentiment": "negative", "last_emotion": "anger", "threats": ["public"]})
'musician, 184k followers; 4 contacts in 9 days about instrument, still unresolved; last message angry; threatened to go public'
"""

from __future__ import annotations

import json
import math
from typing import Any

import duckdb

#: Viewers: what each may see. "local" is the owner of the store (CLI without a key).
VIEWERS = ("read", "admin", "local")
_EMOTION_WORDS = {"anger": "angry", "frustration": "frustrated", "disappointment": "disappointed",
                  "sadness": "sad", "fear": "worried"}  # fmt: skip
_THREAT_WORDS = {"public": "threatened to go public", "legal": "threatened legal action"}


def may_see_text(viewer: str) -> bool:
    """Whether a viewer may read customers' own words and contact details."""
    return viewer in ("admin", "local")


def _num(n: float) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n:.0f}"


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and v != ""


def influence_facts(r: dict[str, Any]) -> list[str]:
    facts = []
    if _present(r.get("profession")):
        facts.append(str(r["profession"]))
    f = r.get("followers_total") or 0
    if _present(f) and f >= 100:
        nets = r.get("networks") or {}
        top = ", ".join(f"{k} {_num(v)}" for k, v in list(nets.items())[:3])
        facts.append(f"{_num(f)} followers" + (f" ({top})" if top else ""))
    if r.get("press") is True:
        facts.append("press")
    if r.get("vip") is True:
        facts.append("VIP")
    if _present(r.get("tier")) and (r.get("tier_weight") or 0) > 0:
        facts.append(f"{r['tier']} tier")
    if (r.get("referrals_n") or 0) >= 3:
        facts.append(f"brought {int(r['referrals_n'])} customers")
    if (r.get("public_reviews") or 0) >= 3:
        facts.append(f"{int(r['public_reviews'])} public reviews")
    return facts


def risk_facts(r: dict[str, Any]) -> list[str]:
    facts = []
    for j in (r.get("journeys") or [])[:2]:
        about = f" about {j['topic']}" if _present(j.get("topic")) else ""
        days = j.get("days") or 0
        span = f" in {days:.0f} days" if days >= 1 else ""
        n = int(j.get("contacts") or 0)
        if not j.get("resolved") and n >= 1:
            facts.append(f"{n} contact{'s' * (n != 1)}{span}{about}, still unresolved")
        elif j.get("hurt"):
            why = f" ({j['hurt_reasons']})" if _present(j.get("hurt_reasons")) else ""
            facts.append(f"{n} contacts{span}{about}: closed as a success but it hurt{why}")
        elif n >= 3:
            facts.append(f"{n} contacts{span}{about}")
        if (j.get("wait_hours") or 0) >= 24:
            facts.append(f"waited {j['wait_hours'] / 24:.0f} days in all")
        elif (j.get("wait_hours") or 0) >= 2:
            facts.append(f"waited {j['wait_hours']:.0f} h in all")
    emo = r.get("last_emotion")
    if r.get("last_sentiment") == "negative" and emo in _EMOTION_WORDS:
        facts.append(f"last message {_EMOTION_WORDS[emo]}")
    elif r.get("last_sentiment") == "negative":
        facts.append("last message negative")
    if (r.get("trajectory") or 0) >= 0.2:
        facts.append("getting worse")
    for t in r.get("threats") or []:
        facts.append(_THREAT_WORDS.get(t, t))
    if (r.get("bad_review") or 0) > 0 and _present(r.get("worst_recent_rating")):
        facts.append(f"{int(r['worst_recent_rating'])}-star public review")
    return facts


def value_facts(r: dict[str, Any]) -> list[str]:
    m = r.get("money") or 0
    if _present(m) and m >= 1:
        return [
            ("CLV " if _present(r.get("clv_12m")) and r["clv_12m"] > 0 else "revenue ") + _num(m)
        ]
    return []


def explain(r: dict[str, Any]) -> str:
    """The one-line explanation: who they are; what happened; what is at stake."""
    parts = [", ".join(influence_facts(r)), "; ".join(risk_facts(r)), ", ".join(value_facts(r))]
    return "; ".join(p for p in parts if p) or "no single strong signal; several weak ones"


def evidence(r: dict[str, Any], factors: dict[str, float]) -> dict[str, Any]:
    """The stored evidence: references and facts, never the customer's words."""
    msgs = sorted(set((r.get("text_seqs") or []) + (r.get("threat_seqs") or [])))
    return {
        "traits": {k: r.get(k) for k in ("profession", "followers_total", "networks", "press",
                                         "vip", "tier", "referrals_n", "public_reviews")
                   if _present(r.get(k)) and r.get(k) is not False},
        "messages": [{"seq": s, "threat": s in (r.get("threat_seqs") or [])} for s in msgs],
        "journeys": r.get("journeys") or [],
        "value": {k: r.get(k) for k in ("clv_12m", "revenue") if _present(r.get(k))},
        "factors": {k: round(float(v), 3) for k, v in factors.items() if v and v > 0.0005},
    }  # fmt: skip


def view(con: duckdb.DuckDBPyConnection, entry: dict[str, Any], viewer: str) -> dict[str, Any]:
    """An entry (list row or alert) as ``viewer`` may see it; quotes only where allowed."""
    out = dict(entry)
    ev = out.get("evidence")
    ev = json.loads(ev) if isinstance(ev, str) else dict(ev or {})
    seqs = [m["seq"] for m in ev.get("messages", [])]
    if seqs:
        rows = con.execute(
            """select e.seq, e."timestamp", e.event,
                      coalesce(json_extract_string(e.raw, '$.context.channel'),
                               json_extract_string(e.raw, '$.properties.channel')) as channel,
                      coalesce(json_extract_string(e.raw, '$.properties.text'),
                               json_extract_string(e.raw, '$.properties.comment')) as text
               from events e where seq in (select unnest(?::bigint[]))""",
            [seqs],
        ).fetchall()
        found = {r[0]: r for r in rows}
        analysis: dict[int, tuple[Any, ...]] = {}
        try:
            analysis = {r[0]: r for r in con.execute(
                "select seq, sentiment, dominant_emotion, escalation::varchar from text_analysis "
                "where seq in (select unnest(?::bigint[]))", [seqs]).fetchall()}  # fmt: skip
        except duckdb.Error:
            pass
        msgs = []
        for m in ev.get("messages", []):
            r = found.get(m["seq"])
            if r is None:  # erased since
                continue
            a = analysis.get(m["seq"])
            item = {**m, "at": r[1].isoformat() if r[1] else None, "event": r[2], "channel": r[3]}
            if a:
                item.update(
                    sentiment=a[1],
                    emotion=a[2],
                    cues=[c.get("cue") for c in json.loads(a[3] or "[]")],
                )
            if may_see_text(viewer):
                item["text"] = r[4]
            msgs.append(item)
        ev["messages"] = msgs
    out["evidence"] = ev
    out["text_visible"] = may_see_text(viewer)
    return out
