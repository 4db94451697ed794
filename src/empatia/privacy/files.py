"""Files the product wrote that hold personal data, and taking an erased person out of them.

Partner exports and subject-access zips are recorded in ``privacy_files`` when written.
Erasure (:func:`scrub`) rewrites each partner export that still exists without the rows that
name the person, and deletes the person's own access exports — before the database commit,
so a crash leaves the person in the store and a second ``erase`` finishes the job.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from empatia.privacy.subjects import Subject, needles, pattern
from empatia.store import Store, state

_READERS = {".parquet": "read_parquet({p})", ".csv": "read_csv({p}, all_varchar = true)"}


def record(store: Store, path: str | Path, kind: str, person_id: str | None = None) -> None:
    """Remember a file the product wrote with personal data in it."""
    state.replace_row(store.con, "privacy_files", ("path",), {
        "path": str(Path(path).resolve()), "kind": kind, "person_id": person_id,
        "written_at": datetime.now(timezone.utc)})


def scrub(store: Store, subject: Subject, *, dry_run: bool = False) -> dict[str, str]:
    """Take the subject out of every recorded file; ``{path: what was done}``."""
    rows = store.con.execute("select path, kind, person_id from privacy_files").fetchall()
    words = needles(subject)
    done: dict[str, str] = {}
    for path, kind, person_id in rows:
        f = Path(path)
        if not f.is_file():
            continue
        if kind == "subject_export":
            if person_id in subject.person_ids or _holds(f, words):
                done[path] = "deleted (an access export of this person)"
                if not dry_run:
                    f.unlink()
            continue
        n = _rewrite_without(store, f, words, dry_run) if words else 0
        if n:
            done[path] = f"{n} row(s) removed"
    return done


def _holds(f: Path, words: list[str]) -> bool:
    data = f.read_bytes().lower()
    return any(w.lower().encode() in data for w in words)


def _rewrite_without(store: Store, f: Path, words: list[str], dry_run: bool) -> int:
    """Rewrite a CSV or Parquet export without the rows naming the subject; how many."""
    reader = _READERS.get(f.suffix.lower())
    if reader is None:
        return 0
    src = reader.format(p="$path")
    cur = store.cursor()
    try:
        hit = "regexp_matches(t::varchar, $p, 'i')"
        params = {"path": str(f), "p": pattern(words)}
        n = cur.execute(f"select count(*) from {src} t where {hit}", params).fetchone()[0]  # type: ignore[index]
        if not n or dry_run:
            return int(n or 0)
        tmp = f.with_name(f.name + ".scrub")
        fmt = "parquet" if f.suffix.lower() == ".parquet" else "csv, header true"
        cur.execute(
            f"copy (select * from {src} t where not {hit}) to '{_lit(str(tmp))}' (format {fmt})",
            params,
        )
        os.replace(tmp, f)
        return int(n)
    finally:
        cur.close()


def _lit(s: str) -> str:
    return s.replace("'", "''")
