"""Special care (S7): find the angry influencer before it costs millions.

Influence (who can be heard) × risk (how badly it is going for them, now) × value (what is at
stake), ranked and explained, with alerts pushed to webhooks when someone enters the list or
gets worse. Every weight is in ``[stages.care]`` (`empatia config show`); nothing is hidden.

>>> from empatia.workspace import Workspace
>>> with Workspace(db=":memory:") as ws:
...     run_care(ws.store.con)["listed"], care_list(ws.store.con)
(0, [])
"""

from empatia.care.alerts import acknowledge, history, resolve
from empatia.care.config import CareWeights, load_weights
from empatia.care.delivery import (
    add_webhook, deliver_pending, list_webhooks, register_sink, remove_webhook, verify_signature,
)  # fmt: skip
from empatia.care.views import alerts, care_list, entry
from empatia.plugins import lazy_exports

__getattr__ = lazy_exports(__name__, {"run_care": "build"})  # pandas: loaded when it runs

__all__ = [
    "CareWeights", "acknowledge", "add_webhook", "alerts", "care_list", "deliver_pending",
    "entry", "history", "list_webhooks", "load_weights", "register_sink", "remove_webhook",
    "resolve", "run_care", "verify_signature",
]  # fmt: skip
