"""Influence, risk and value per person, each from named signals in [0, 1] and their weights.

Each score is a "noisy or" of its signals (``1 - Π(1 - weight × signal)``): one strong signal
is enough to matter, several together matter more, and the result stays in [0, 1]. The
signals are kept as columns so the explanation can name what counted, and so the rules
"influence alone" and "emotion alone" can be measured against the combination.

>>> import numpy as np
>>> float(noisy_or([np.array([1.0]), np.array([0.5])], [0.5, 0.5])[0])
0.625
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from empatia.care.config import CareWeights
from empatia.care.inputs import Inputs

DAY = 86400.0
#: Escalation cues (emotion stage) that are threats to go public, to the press or to court.
THREATS = ("public", "legal")
INFLUENCE_SIGNALS = (
    "audience",
    "profession",
    "press",
    "vip",
    "tier",
    "referrals",
    "public_reviews",
)
RISK_SIGNALS = ("negative_words", "anger", "last_negative", "trajectory", "escalation",
                "unresolved", "effort", "hurt", "bad_review")  # fmt: skip
#: The risk signals that come from the customer's own words (the "emotion only" rule).
EMOTION_SIGNALS = ("negative_words", "anger", "last_negative", "trajectory", "escalation")


def noisy_or(
    signals: Sequence[np.ndarray], weights: Sequence[float], floor: float = 0.0
) -> np.ndarray:
    keep = np.full(len(signals[0]) if signals else 0, 1.0 - floor)
    for s, w in zip(signals, weights, strict=True):
        keep = keep * (1.0 - w * np.clip(np.nan_to_num(s.astype(float)), 0.0, 1.0))
    return 1.0 - keep


def _log_scale(x: pd.Series, full: float, lo: float = 0.0) -> np.ndarray:
    v = pd.to_numeric(x, errors="coerce").fillna(0.0).to_numpy(dtype=float)
    out = np.log1p(np.maximum(v - lo, 0.0)) / np.log1p(full - lo)
    return np.clip(out, 0.0, 1.0)


def _truthy(x: pd.Series) -> np.ndarray:
    return x.astype(str).str.lower().isin(["true", "1", "yes", "y"]).to_numpy()


def audience(traits: pd.DataFrame) -> pd.Series:
    """Followers: the larger of ``followers`` and the sum of ``followers_by_network``."""
    total = pd.to_numeric(traits["followers"], errors="coerce").fillna(0.0)

    def by_net(v: object) -> float:
        if not isinstance(v, str) or not v.startswith("{"):
            return 0.0
        try:
            return float(
                sum(float(n) for n in json.loads(v).values() if isinstance(n, int | float))
            )
        except ValueError:
            return 0.0

    nets = traits["followers_by_network"].map(by_net) if len(traits) else total
    return np.maximum(total, nets)


def influence_scores(traits: pd.DataFrame, reviews: pd.DataFrame, w: CareWeights) -> pd.DataFrame:
    """Per person with any influence trait or public review: the signals and ``influence``."""
    iw = w.influence
    df = traits.merge(reviews[["person_id", "public_reviews"]], on="person_id", how="outer")
    df["followers_total"] = audience(df.fillna({"followers_by_network": ""}))
    f = df["followers_total"].to_numpy(dtype=float)
    df["audience"] = np.where(
        f >= iw.audience_min,
        np.clip(np.log10(np.maximum(f, 1) / 100) / np.log10(iw.audience_full / 100), 0, 1),
        0.0,
    )
    prof = df["profession"].astype(str).str.strip().str.lower()
    df["profession_weight"] = prof.map(iw.profession).fillna(0.0)
    df["press"] = _truthy(df["press"].fillna(""))
    df["vip"] = _truthy(df["vip"].fillna(""))
    df["tier_weight"] = df["tier"].astype(str).str.lower().map(iw.tier).fillna(0.0)
    df["referrals_n"] = pd.to_numeric(df["referrals"], errors="coerce").fillna(0).astype(int)
    df["public_reviews"] = df["public_reviews"].fillna(0).astype(int)
    sig = {
        "audience": (df["audience"].to_numpy(), iw.audience),
        "profession": (df["profession_weight"].to_numpy(), 1.0),
        "press": (df["press"].astype(float).to_numpy(), iw.press),
        "vip": (df["vip"].astype(float).to_numpy(), iw.vip),
        "tier": (df["tier_weight"].to_numpy(), 1.0),
        "referrals": (_log_scale(df["referrals_n"], iw.referrals_full), iw.referrals),
        "public_reviews": (
            _log_scale(df["public_reviews"], iw.public_reviews_full),
            iw.public_reviews,
        ),
    }
    for name, (s, weight) in sig.items():
        df[f"i_{name}"] = np.clip(weight * np.nan_to_num(s.astype(float)), 0, 1)
    df["influence"] = noisy_or([df[f"i_{n}"].to_numpy() for n in sig], [1.0] * len(sig), iw.floor)
    return df


def _decay(at: pd.Series, now: pd.Timestamp, half_life_days: float) -> np.ndarray:
    age = (now - pd.to_datetime(at, utc=True)).dt.total_seconds().to_numpy() / DAY
    return np.power(0.5, np.maximum(np.nan_to_num(age, nan=1e9), 0.0) / half_life_days)


def _cues(js: object) -> list[str]:
    if not isinstance(js, str) or js in ("", "[]"):
        return []
    try:
        return [c.get("cue", "") for c in json.loads(js) if isinstance(c, dict)]
    except ValueError:
        return []


def text_signals(texts: pd.DataFrame, now: pd.Timestamp, w: CareWeights) -> pd.DataFrame:
    """Per person, the signals from their recent words."""
    cols = ["person_id", *EMOTION_SIGNALS, "n_texts", "last_seq", "last_text_at", "last_emotion",
            "last_sentiment", "threats", "threat_seqs", "text_seqs"]  # fmt: skip
    if texts.empty:
        return pd.DataFrame(columns=cols)
    t = texts.copy()
    t["w"] = _decay(t["at"], now, w.risk.half_life_days)
    t["neg"] = np.clip(-t["score"].astype(float).fillna(0.0), 0, 1)
    t["hot"] = np.maximum(
        t["anger"].astype(float).fillna(0), t["frustration"].astype(float).fillna(0)
    )
    t["threat_cues"] = t["escalation"].map(lambda j: [c for c in _cues(j) if c in THREATS])
    t["threat"] = t["threat_cues"].map(bool).astype(float)
    t = t.sort_values(["person_id", "at", "seq"])
    t["wneg"] = t["w"] * t["neg"]
    t["whot"] = t["w"] * t["hot"]
    t["wthreat"] = t["w"] * t["threat"]
    g = t.groupby("person_id", sort=False)
    out = g.agg(wsum=("w", "sum"), wneg=("wneg", "sum"), wmax=("w", "max"), anger=("whot", "max"),
                escalation=("wthreat", "max"), n_texts=("seq", "size"), last_seq=("seq", "max"),
                score_sum=("score", "sum"))  # fmt: skip
    last = g.tail(1).set_index("person_id").reindex(out.index)
    out["negative_words"] = (
        np.where(out["wsum"] > 0, out["wneg"] / out["wsum"].where(out["wsum"] > 0, 1), 0)
        * out["wmax"]
    )
    out["last_negative"] = np.where(last["sentiment"] == "negative", last["w"], 0.0)
    n = out["n_texts"].to_numpy()
    earlier = (out["score_sum"] - last["score"].fillna(0)) / np.maximum(n - 1, 1)
    out["trajectory"] = np.where(
        n > 1, np.clip(earlier - last["score"].fillna(0), 0, 1) * last["w"], 0.0
    )
    out["last_text_at"] = last["at"]
    out["last_emotion"] = last["dominant_emotion"]
    out["last_sentiment"] = last["sentiment"]
    th = t[t["threat"] > 0]
    out["threats"] = th.explode("threat_cues").groupby("person_id")["threat_cues"].agg(
        lambda c: sorted(set(c))).reindex(out.index)  # fmt: skip
    out["threat_seqs"] = (
        th.groupby("person_id")["seq"].agg(lambda x: [int(v) for v in x]).reindex(out.index)
    )
    top = (
        t.sort_values(["person_id", "w", "neg"], ascending=[True, False, False])
        .groupby("person_id")
        .head(5)
    )
    out["text_seqs"] = (
        top.groupby("person_id")["seq"].agg(lambda x: [int(v) for v in x]).reindex(out.index)
    )
    for c in ("threats", "threat_seqs", "text_seqs"):
        out[c] = out[c].map(lambda v: v if isinstance(v, list) else [])
    return out.reset_index()[cols]


def journey_signals(journeys: pd.DataFrame, texts: pd.DataFrame, now: pd.Timestamp,
                    w: CareWeights) -> pd.DataFrame:  # fmt: skip
    """Per person, the signals from their recent service journeys."""
    rw = w.risk
    cols = ["person_id", "unresolved", "effort", "hurt", "journeys", "last_journey_seq"]
    if journeys.empty:
        return pd.DataFrame(columns=cols)
    j = journeys.copy()
    j["w"] = _decay(j["last_at"], now, rw.half_life_days)
    contacts = j["contacts"].fillna(0).astype(float).to_numpy()
    j["c_sig"] = np.clip((contacts - 1) / max(rw.unresolved_contacts_full - 1, 1), 0, 1)
    wait_h = j["wait_seconds"].fillna(0).astype(float).to_numpy() / 3600
    switches = j["channel_switches"].fillna(0).astype(float).to_numpy()
    e = noisy_or([j["c_sig"].to_numpy(), np.clip(wait_h / rw.wait_hours_full, 0, 1),
                  np.clip(switches / 3, 0, 1)], [0.7, 0.6, 0.4])  # fmt: skip
    j["effort_sig"] = e * j["w"]
    resolved = j["resolved"].fillna(False).astype(bool).to_numpy()
    j["unresolved_sig"] = (
        np.where(~resolved, np.clip(contacts / rw.unresolved_contacts_full, 0, 1), 0) * j["w"]
    )
    hurt = j["succeeded_but_hurt"]
    if hurt.isna().any():  # no experience stage: resolved "successfully" but hard, and words hurt
        neg_after = _negative_last_word(j, texts)
        guess = (resolved & j["internal_success"].fillna(False).astype(bool).to_numpy()
                 & ((contacts >= 4) | (wait_h >= 1.5) | ((contacts >= 2) & neg_after)))  # fmt: skip
        hurt = hurt.where(hurt.notna(), pd.Series(guess, index=j.index))
    j["hurt_sig"] = hurt.astype(bool).astype(float) * j["w"]
    g = j.groupby("person_id", sort=False)
    out = g.agg(unresolved=("unresolved_sig", "max"), effort=("effort_sig", "max"),
                hurt=("hurt_sig", "max"), last_journey_seq=("last_seq", "max"))  # fmt: skip
    top = j.sort_values(["person_id", "w"], ascending=[True, False]).groupby("person_id").head(3)
    facts = pd.Series(
        [_journey_fact(r) for r in top.itertuples()], index=top["person_id"].to_numpy()
    )
    out["journeys"] = facts.groupby(level=0).agg(list).reindex(out.index)
    out["journeys"] = out["journeys"].map(lambda v: v if isinstance(v, list) else [])
    return out.reset_index()[cols]


def _negative_last_word(j: pd.DataFrame, texts: pd.DataFrame) -> np.ndarray:
    """Whether the person's latest text up to a day after the journey ended was negative."""
    if texts.empty:
        return np.zeros(len(j), bool)
    t = texts.sort_values("at")[["person_id", "at", "sentiment"]]
    t["at"] = pd.to_datetime(t["at"], utc=True).astype("datetime64[us, UTC]")
    k = j[["person_id", "last_at"]].copy()
    k["end"] = (pd.to_datetime(k["last_at"], utc=True) + pd.Timedelta(days=1)).astype(
        "datetime64[us, UTC]"
    )
    k["_i"] = np.arange(len(k))
    m = pd.merge_asof(k.sort_values("end"), t.rename(columns={"at": "end"}), on="end",
                      by="person_id", direction="backward")  # fmt: skip
    return m.sort_values("_i")["sentiment"].eq("negative").to_numpy()


def _journey_fact(r: object) -> dict[str, object]:
    first, last = getattr(r, "first_at"), getattr(r, "last_at")  # noqa: B009
    days = (
        (pd.Timestamp(last) - pd.Timestamp(first)).total_seconds() / DAY if pd.notna(first) else 0.0
    )
    hurt = getattr(r, "hurt_sig", 0.0)
    return {
        "case_id": getattr(r, "case_id"), "topic": getattr(r, "topic"),  # noqa: B009
        "contacts": int(getattr(r, "contacts") or 0), "days": round(float(days), 1),  # noqa: B009
        "resolved": bool(getattr(r, "resolved")), "wait_hours": round(float(getattr(r, "wait_seconds") or 0) / 3600, 1),  # noqa: B009
        "channel_switches": int(getattr(r, "channel_switches") or 0),  # noqa: B009
        "hurt": bool(hurt and hurt > 0),
        "hurt_reasons": getattr(r, "hurt_reasons", None) if hurt and hurt > 0 else None,
        "last_seq": int(getattr(r, "last_seq")) if pd.notna(getattr(r, "last_seq")) else None,  # noqa: B009
        "last_at": pd.Timestamp(last).isoformat(),
    }  # fmt: skip


def review_signal(reviews: pd.DataFrame, now: pd.Timestamp, w: CareWeights) -> pd.DataFrame:
    r = reviews[reviews["bad_public_reviews"].fillna(0) > 0].copy()
    r["bad_review"] = _decay(r["last_bad_review_at"], now, w.risk.half_life_days)
    return r[["person_id", "bad_review", "worst_recent_rating"]]


def value_scores(values: pd.DataFrame, w: CareWeights) -> pd.DataFrame:
    v = values.copy()
    money = pd.to_numeric(v["clv_12m"], errors="coerce")
    money = money.where(money.notna() & (money > 0), pd.to_numeric(v["revenue"], errors="coerce"))
    v["money"] = money.fillna(0.0)
    v["value"] = w.value.floor + (1 - w.value.floor) * _log_scale(v["money"], w.value.clv_full)
    return v[["person_id", "value", "money", "clv_12m", "revenue"]]


def score_people(inp: Inputs, w: CareWeights) -> pd.DataFrame:
    """One row per person with any risk signal: every signal, influence, risk, value, score."""
    now = (
        pd.Timestamp(inp.as_of).tz_convert("UTC")
        if pd.Timestamp(inp.as_of).tzinfo
        else pd.Timestamp(inp.as_of, tz="UTC")
    )
    ts = text_signals(inp.texts, now, w)
    js = journey_signals(inp.journeys, inp.texts, now, w)
    rs = review_signal(inp.reviews, now, w)
    risk = ts.merge(js, on="person_id", how="outer").merge(rs, on="person_id", how="outer")
    if risk.empty:
        return pd.DataFrame(columns=["person_id", "influence", "risk", "value", "score"])
    rw = w.risk
    weights = {n: getattr(rw, n) for n in RISK_SIGNALS}
    for n in RISK_SIGNALS:
        risk[n] = pd.to_numeric(risk[n], errors="coerce").fillna(0.0)
        risk[f"r_{n}"] = np.clip(weights[n] * risk[n].to_numpy(dtype=float), 0, 1)
    risk["risk"] = noisy_or(
        [risk[f"r_{n}"].to_numpy() for n in RISK_SIGNALS], [1.0] * len(RISK_SIGNALS)
    )
    risk["emotion_risk"] = noisy_or(
        [risk[f"r_{n}"].to_numpy() for n in EMOTION_SIGNALS], [1.0] * len(EMOTION_SIGNALS)
    )
    inf = influence_scores(inp.traits, inp.reviews, w)
    df = risk.merge(inf, on="person_id", how="left")
    df["influence"] = df["influence"].fillna(w.influence.floor)
    df = df.merge(value_scores(inp.values, w), on="person_id", how="left")
    df["value"] = df["value"].fillna(w.value.floor)
    df["score"] = df["influence"] * df["risk"] * df["value"]
    seqs = df[["last_seq", "last_journey_seq"]].apply(pd.to_numeric, errors="coerce")
    df["evidence_seq"] = seqs.max(axis=1)
    return df.sort_values(["score", "person_id"], ascending=[False, True]).reset_index(drop=True)
