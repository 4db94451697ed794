"""Write N Segment-shaped events as JSONL (the bulk-import benchmark's input).

    python benchmarks/gen_segment_events.py 1000000 /tmp/events-1m.jsonl
"""

from __future__ import annotations

import random
import sys
import uuid
from datetime import UTC, datetime, timedelta

import orjson

EVENTS = ["Product Viewed", "Product Added", "Order Completed", "Support Contact", "Review Submitted"]


def generate(n: int, path: str, seed: int = 7) -> None:
    rnd = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with open(path, "wb") as f:
        for i in range(n):
            user = f"user-{rnd.randrange(n // 20 + 1)}"
            ts = (start + timedelta(seconds=rnd.randrange(60 * 60 * 24 * 600))).isoformat()
            kind = rnd.random()
            base = {"messageId": str(uuid.UUID(int=rnd.getrandbits(128))), "timestamp": ts,
                    "anonymousId": f"anon-{rnd.randrange(n // 5 + 1)}",
                    "context": {"library": {"name": "analytics-python", "version": "2.4.0"},
                                "channel": rnd.choice(["web", "app", "store"]),
                                "ip": "203.0.113.7", "locale": rnd.choice(["en-GB", "pl-PL", "de-DE"])}}  # fmt: skip
            if kind < 0.6:
                e = {"type": "track", "event": rnd.choice(EVENTS), "userId": user,
                     "properties": {"product_id": f"p{rnd.randrange(3000)}",
                                    "price": round(rnd.uniform(1, 300), 2), "quantity": rnd.randint(1, 4)}}  # fmt: skip
            elif kind < 0.85:
                e = {"type": "page", "name": rnd.choice(["Home", "Category", "Product", "Cart"]),
                     "properties": {"path": "/p/" + str(rnd.randrange(3000))}}
            else:
                e = {"type": "identify", "userId": user,
                     "traits": {"email": f"{user}@example.com", "plan": rnd.choice(["free", "gold"])}}  # fmt: skip
            f.write(orjson.dumps({**base, **e}) + b"\n")


if __name__ == "__main__":
    generate(int(sys.argv[1]), sys.argv[2])
