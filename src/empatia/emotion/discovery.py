"""Theme discovery over the store: cluster analysed texts that matched no anchor theme.

Writes ``theme_clusters`` (cluster, size, terms, quote_seqs → events.seq, nearest anchor) and
returns the clusters with their representative quotes for display.
"""

from __future__ import annotations

from typing import Any

import duckdb
import orjson

from empatia.emotion.analyzers.encoder import Embedder
from empatia.emotion.themes import ThemeMatcher, discover_themes, load_anchors


def discover_in_store(
    con: duckdb.DuckDBPyConnection,
    k: int = 8,
    negative_only: bool = False,
    limit: int = 5000,
    embed: Embedder | None = None,
    unmatched_only: bool = True,
) -> list[dict[str, Any]]:
    where = ["1 = 1"]
    if negative_only:
        where.append("a.sentiment = 'negative'")
    if unmatched_only:
        where.append("coalesce(a.themes, '[]') = '[]'")
    rows = con.execute(
        f"""
        select a.seq,
               coalesce(case when json_type(e.raw, '$.properties.text') = 'VARCHAR'
                             then json_extract_string(e.raw, '$.properties.text') end,
                        json_extract_string(e.raw, '$.properties.comment')) as text
        from text_analysis a join events e using (seq)
        where {" and ".join(where)}
        order by a."timestamp" desc limit ?
    """,
        [limit],
    ).fetchall()
    embed = embed or Embedder()
    texts = [r[1] for r in rows]
    X = embed(texts) if texts else None
    matcher = ThemeMatcher(embed, load_anchors(con))
    found = discover_themes(texts, X, k=k, matcher=matcher) if X is not None else []
    con.execute("""
        create or replace table theme_clusters (
            cluster integer, size integer, terms json, quote_seqs json,
            nearest_anchor varchar, similarity double, discovered_at timestamptz default now())
    """)
    out = []
    for t in found:
        seqs = [rows[i][0] for i in t.quotes]
        con.execute(
            "insert into theme_clusters (cluster, size, terms, quote_seqs, nearest_anchor, similarity) "
            "values (?, ?, ?, ?, ?, ?)",
            [
                t.cluster,
                t.size,
                orjson.dumps(t.terms).decode(),
                orjson.dumps(seqs).decode(),
                t.nearest_anchor,
                t.nearest_similarity,
            ],
        )
        out.append(
            {
                "cluster": t.cluster,
                "size": t.size,
                "terms": t.terms,
                "quotes": [texts[i] for i in t.quotes],
                "quote_seqs": seqs,
                "nearest_anchor": t.nearest_anchor,
                "similarity": round(t.nearest_similarity, 3),
            }
        )
    return out
