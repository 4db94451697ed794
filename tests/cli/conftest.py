"""The stages' worlds, for their commands (the fixtures live beside each stage's tests)."""

from tests.care.conftest import template  # noqa: F401
from tests.experience.conftest import ews  # noqa: F401
from tests.profiles.conftest import shop_ws  # noqa: F401
