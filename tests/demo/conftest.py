from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest

from empatia.demo import WorldFiles, build_world

CUSTOMERS = 1_500
SEED = 11


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldFiles:
    return build_world(tmp_path_factory.mktemp("world"), customers=CUSTOMERS, seed=SEED)


@pytest.fixture(scope="session")
def events(world: WorldFiles) -> list[dict]:
    out = []
    for path in world.events:
        with open(path, "rb") as f:
            out += [orjson.loads(line) for line in f]
    return out


@pytest.fixture(scope="session")
def truth(world: WorldFiles) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(path) for name, path in world.truth.items()}


def read_events(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]
