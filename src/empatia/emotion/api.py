"""Reading and asking the emotion stage from a workspace: the Python API and HTTP both use it.

>>> from empatia.workspace import Workspace
>>> with Workspace(db=":memory:") as ws:
...     sorted(themes(ws))[:2]
['app_website', 'delivery']

Results hold scores, emotions and effort cues — never the customer's text (that stays in
``events``, for admin keys only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from empatia.emotion.exceptions import UnknownAnalyzerError
from empatia.emotion.incremental import analyzer_options, configured_analyzer
from empatia.emotion.registry import ANALYZERS, get_analyzer
from empatia.errors import NotFoundError
from empatia.profiles.api import find_person
from empatia.store import Store

if TYPE_CHECKING:
    import duckdb

#: ``text_analysis`` columns a person's summary lists (the text itself is not among them).
_TEXT_COLUMNS = ('seq', '"timestamp"', "event", "channel", "language", "sentiment", "score",
                 "dominant_emotion", "n_effort", "n_escalation", "themes", "analyzer")  # fmt: skip


def _store(ws: Any) -> Store:
    return getattr(ws, "store", ws)  # type: ignore[no-any-return]


def analyze_texts(ws: Any, texts: list[str], analyzer: str | None = None) -> list[dict[str, Any]]:
    """Analyse texts with the workspace's analyzer (or ``analyzer``); nothing is stored.

    ``auto`` (no choice made) means the encoder, as ``empatia emotion reanalyze`` does.
    """
    store = _store(ws)
    settings = ws.settings.stages.emotion if hasattr(ws, "settings") else None
    name = analyzer or configured_analyzer(store.con, settings)
    name = "encoder" if name == "auto" else name
    if name not in ANALYZERS:
        raise UnknownAnalyzerError(name, list(ANALYZERS))
    languages = tuple(ws.settings.languages) if hasattr(ws, "settings") else ()
    options = analyzer_options(store.con, name, languages) if languages else {}
    return [r.as_dict() for r in get_analyzer(name, **options).analyze(list(texts))]


def person_emotion(ws: Any, identifier: str, *, limit: int = 50) -> dict[str, Any]:
    """How one person feels: the summary over their analysed texts and the latest ``limit``."""
    store = _store(ws)
    pid = find_person(store, identifier)
    cur = store.cursor()
    try:
        res: duckdb.DuckDBPyConnection | None
        res = cur.execute("select * from person_emotion where person_id = ?", [pid])
        names = [d[0] for d in res.description]
        row = res.fetchone()
        summary = dict(zip(names, row, strict=True)) if row else None
        res = cur.execute(
            f"select {', '.join(_TEXT_COLUMNS)} from text_analysis a join event_persons p"
            ' using (seq) where p.person_id = ? order by a."timestamp" desc, seq desc limit ?',
            [pid, int(limit)],
        ) if store.table_exists("event_persons") else None  # fmt: skip
        texts = []
        if res is not None:
            names = [d[0] for d in res.description]
            texts = [dict(zip(names, r, strict=True)) for r in res.fetchall()]
    finally:
        cur.close()
    if summary is None and not texts:
        raise NotFoundError(
            f"no analysed texts for {identifier!r} yet; `empatia run` analyses new ones",
            identifier=identifier,
        )
    return {"person_id": pid, "summary": summary, "texts": texts}


def touchpoints(ws: Any) -> list[dict[str, Any]]:
    """Emotion per touchpoint (event and channel) of the latest run, most texts first."""
    store = _store(ws)
    cur = store.cursor()
    try:
        res = cur.execute("select * from touchpoint_emotion order by n_texts desc, event, channel")
        names = [d[0] for d in res.description]
        return [dict(zip(names, r, strict=True)) for r in res.fetchall()]
    finally:
        cur.close()


def themes(ws: Any) -> dict[str, list[str]]:
    """The workspace's theme anchors: theme → phrases (``empatia emotion themes-set``)."""
    from empatia.emotion.themes import load_anchors

    return load_anchors(_store(ws).con)
