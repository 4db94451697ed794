from __future__ import annotations

import pytest

from empatia.emotion.registry import get_analyzer


@pytest.fixture(scope="session")
def encoder():
    return get_analyzer("encoder")


@pytest.fixture(scope="session")
def fast():
    return get_analyzer("fast")
