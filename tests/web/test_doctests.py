"""The examples in the web modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "empatia.views.sections",
    "empatia.views.timeline",
    "empatia.web.customer",
    "empatia.web.charts",
    "empatia.web.render",
    "empatia.web.sessions",
    "empatia.web.auth",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
