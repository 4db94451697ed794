"""Erasure cost on a large store: find, delete, blank, rewrite the file; and the HTTP filter.

    python benchmarks/privacy_erasure.py --events 1000000

Builds a store of N synthetic events (10 per person, each with an e-mail and a sentence in
``raw``), erases one person and reports the time of each step and the file size. Also times
the tombstone filter of the HTTP hot path with 1,000 erased people.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from empatia.ingest.event import to_row
from empatia.privacy import tombstones
from empatia.privacy.compact import rewrite
from empatia.privacy.erasure import erase
from empatia.store import Store


def build(db: Path, n: int) -> Store:
    s = Store(db)
    s.con.execute(
        """
        insert into events (message_key, message_id, type, event, user_id, anonymous_id,
                            "timestamp", received_at, source, raw)
        select md5_number('m' || i), 'm' || i, 'track', 'Message Sent', 'u' || (i // 10),
               'a' || (i // 10), now() - to_days((i % 700)::int), now(), 'bench',
               '{"properties": {"email": "person' || (i // 10) || '@example.com", '
               || '"text": "message number ' || i || ' about parcel ' || md5(i::varchar) || '"}}'
        from range(?) t(i)
        """,
        [n],
    )
    s.checkpoint()
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="empatia-erase-"))
    t0 = time.perf_counter()
    s = build(d / "b.duckdb", args.events)
    size = (d / "b.duckdb").stat().st_size
    print(f"store: {args.events:,} events, {size / 1e6:.0f} MB, built in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    rep = erase(s, "user_id:u4242", rewrite_file=False)
    t_erase = time.perf_counter() - t0
    t0 = time.perf_counter()
    rewrite(s)
    t_rewrite = time.perf_counter() - t0
    print(f"erase one person (resolve, delete, blank every text column): {t_erase:.2f} s, "
          f"{sum(rep.deleted.values())} rows")
    print(f"rewrite the file (COPY FROM DATABASE + swap): {t_rewrite:.2f} s")
    s.close()
    assert b"person4242@example.com" not in (d / "b.duckdb").read_bytes()
    s = Store(d / "b.duckdb")
    tombstones.add(s, [("user_id", f"x{i}") for i in range(1000)])
    ring = tombstones.TombstoneSet(s)
    now = datetime.now(UTC)
    rows = [to_row({"userId": f"u{i}", "event": "E"}, "{}", "track", f"m{i}", now, "k")
            for i in range(100_000)]  # fmt: skip
    t0 = time.perf_counter()
    kept = ring.filter(rows)
    dt = time.perf_counter() - t0
    print(f"tombstone filter: {len(rows) / dt / 1e6:.2f} M events/s ({len(kept):,} kept)")
    s.close()


if __name__ == "__main__":
    main()
