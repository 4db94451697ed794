"""A small shop world for profile tests: buyers with regular rhythms, traits from two sources."""

from __future__ import annotations

import random
from typing import Any

from tests.identity.world import ev


def shop_events(n_people: int = 40, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n_people):
        user, anon = f"u{i}", f"a{i}"
        out.append(
            ev("identify", user=user, anon=anon, day=0, source="key:web",
               traits={"email": f"P{i}@Shop.com", "firstName": f"Web{i}", "market": "PL"},
               context={"channel": "web"})
        )  # fmt: skip
        out.append(
            ev("identify", user=user, day=1, source="file:crm.csv",
               traits={"firstName": f"Crm{i}", "phone": f"22 555 {i:02d} {i:02d}", "tier": "gold"},
               context={"channel": "crm"})
        )  # fmt: skip
        gap = 3 + i % 10
        day = rng.random() * 5
        n_orders = 1 + i % 6
        for k in range(n_orders):
            out.append(
                ev("track", anon=anon, event="Order Completed", day=day + k * gap,
                   properties={"order_id": f"o{i}_{k}", "total": 10 + (i * 7 + k * 3) % 50,
                               "currency": "PLN"},
                   context={"channel": "app" if k % 2 else "store"})
            )  # fmt: skip
        out.append(ev("page", anon=anon, day=day + 0.5))
    return out
