"""A workspace with the small shop, identity and profiles run."""

from __future__ import annotations

from pathlib import Path

import pytest

from empatia.pipeline import RunContext, run_pipeline
from empatia.workspace import Workspace
from tests.identity.world import add_events, ev
from tests.profiles.world import shop_events

OPTIONS = {"identity": {"probabilistic": False, "default_region": "PL"}}


@pytest.fixture
def shop_ws(tmp_path: Path) -> Workspace:
    w = Workspace(db=tmp_path / "p.duckdb")
    add_events(w.store, shop_events(n_people=25))
    add_events(w.store, [ev("identify", user="x1", traits={"email": "shared@x.com"}),
                         ev("identify", user="shared@x.com")])  # fmt: skip
    run_pipeline(RunContext(w, settings=OPTIONS), only=["identity", "profiles"])
    return w
