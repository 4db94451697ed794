"""The Python API of profiles (the CLI: tests/cli/test_profiles.py)."""

from __future__ import annotations

import pytest

from empatia.errors import NotFoundError, ValidationError
from empatia.profiles.api import get_profile
from empatia.workspace import Workspace

def test_any_identifier_finds_the_profile(shop_ws: Workspace) -> None:
    by_email = get_profile(shop_ws, "email: P3@Shop.com ")
    assert get_profile(shop_ws, "u3")["person_id"] == by_email["person_id"]
    assert get_profile(shop_ws, "phone:+48 22 555 03 03")["person_id"] == by_email["person_id"]
    assert get_profile(shop_ws, by_email["person_id"])["profile"]["orders"] == 4
    assert {"kind": "user_id", "value": "u3"} in by_email["identifiers"]
    sources = {t["trait"]: t["source"] for t in by_email["traits"]}
    assert sources["first_name"] == "crm" and sources["email"] == "web"
    with pytest.raises(NotFoundError):
        get_profile(shop_ws, "nobody@x.com")
    with pytest.raises(ValidationError):
        get_profile(shop_ws, "shared@x.com")  # an email of one person, the user id of another
    shop_ws.close()
